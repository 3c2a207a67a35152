/*
 * fuzz-config - libFuzzer target for the config file parser
 * (src/util/config.c, through config_load_buffer()).
 *
 * The input is a whole mamori.conf.  Invariants: a load either gives a
 * config or a NUL-terminated error message, never both and never neither;
 * loading is deterministic; what "mamori config -n" prints for a loaded
 * config (config_print_nondefaults) loads again and prints the same, so
 * the non-defaults listing can be pasted back as a config file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-config: invariant broken: %s\n", what);
	abort();
}

/* Load buf[0..n) and check the error contract; NULL if it was refused. */
static struct config *load(const char *buf, size_t n)
{
	char err[512];
	struct config *c;

	memset(err, 0x55, sizeof(err));
	err[0] = '\0';
	c = config_load_buffer(buf, n, "fuzz.conf", err, sizeof(err));
	if (memchr(err, '\0', sizeof(err)) == NULL)
		fail("error message not terminated");
	if (c == NULL && err[0] == '\0')
		fail("refused without a message");
	if (c != NULL && err[0] != '\0')
		fail("loaded with a message");
	return c;
}

/* config_print_nondefaults(c), secrets shown (it must load back), as a
 * malloc'd string of *n bytes. */
static char *nondefaults(const struct config *c, size_t *n)
{
	char *s = NULL;
	FILE *f = open_memstream(&s, n);

	if (f == NULL)
		abort();
	config_print_nondefaults(c, f, true);
	fclose(f);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c1, *c2, *c3;
	char *p1, *p2, *p3;
	size_t n1, n2, n3;

	c1 = load((const char *)data, size);
	c2 = load((const char *)data, size);
	if ((c1 == NULL) != (c2 == NULL))
		fail("not deterministic");
	if (c1 == NULL)
		return 0;
	p1 = nondefaults(c1, &n1);
	p2 = nondefaults(c2, &n2);
	if (n1 != n2 || memcmp(p1, p2, n1) != 0)
		fail("not deterministic");
	c3 = load(p1, n1);
	if (c3 == NULL)
		fail("config -n output does not load");
	p3 = nondefaults(c3, &n3);
	if (n1 != n3 || memcmp(p1, p3, n1) != 0)
		fail("config -n output loads as something else");
	free(p1);
	free(p2);
	free(p3);
	config_free(c1);
	config_free(c2);
	config_free(c3);
	return 0;
}
