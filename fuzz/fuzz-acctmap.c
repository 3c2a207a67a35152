/*
 * fuzz-acctmap - libFuzzer target for the account map parser
 * (src/core/acctmap.c, through acctmap_load_buffer()).
 *
 * The input is a whole account_map file, read against a fixed config with
 * the classes default, bulk and strict.  Invariants: a load gives a map or
 * a NUL-terminated error, not both; on success the first word of every
 * line that is not blank or a comment finds an entry, whose class is one of
 * the config's and whose overrides stay within the parameters' limits
 * (checked on msgs_per_minute, at least 1; its maximum is LONG_MAX);
 * deterministic.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core-internal.h"
#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char conf_text[] =
	"[class bulk]\nmsgs_per_minute = 120\nmsgs_per_hour = 5000\n"
	"[class strict]\nmsgs_per_minute = 5\nmode = observe\n";

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-acctmap: invariant broken: %s\n", what);
	abort();
}

/* Every entry named by the input's lines is there and sane. */
static void check_lines(const struct config *cfg, const struct acctmap *m,
			const char *d, size_t size)
{
	size_t i = 0;

	while (i < size) {
		size_t e = i, end, s, n;
		char login[4096];
		const struct account_override *o;

		while (e < size && d[e] != '\n')
			e++;
		/* The parser ends a line's text at its first CR too. */
		for (end = i; end < e && d[end] != '\r'; end++)
			;
		s = i;
		while (s < end && isspace((unsigned char)d[s]))
			s++;
		n = 0;
		while (s + n < end && d[s + n] != ' ' && d[s + n] != '\t')
			n++;
		if (n > 0 && n < sizeof(login) && d[s] != '#' &&
		    memchr(d + i, '\0', e - i) == NULL) {
			memcpy(login, d + s, n);
			login[n] = '\0';
			o = acctmap_find(m, login);
			if (o == NULL)
				fail("a line's account is missing");
			if (config_class(cfg, o->cl.name) == NULL)
				fail("class not in the config");
			if (o->cl.msgs_per_minute < 1)
				fail("override below its minimum");
		}
		i = e + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config *cfg;
	struct acctmap *m1, *m2;
	char err[512];

	if (cfg == NULL) {
		cfg = config_load_buffer(conf_text, sizeof(conf_text) - 1,
					 "fuzz.conf", err, sizeof(err));
		if (cfg == NULL)
			fail(err);
	}
	memset(err, 0x55, sizeof(err));
	err[0] = '\0';
	m1 = acctmap_load_buffer(cfg, (const char *)data, size, err,
				 sizeof(err));
	if (memchr(err, '\0', sizeof(err)) == NULL)
		fail("error message not terminated");
	if ((m1 == NULL) != (err[0] != '\0'))
		fail("map and message");
	m2 = acctmap_load_buffer(cfg, (const char *)data, size, err,
				 sizeof(err));
	if ((m1 == NULL) != (m2 == NULL))
		fail("not deterministic");
	if (m1 != NULL)
		check_lines(cfg, m1, (const char *)data, size);
	acctmap_free(m1);
	acctmap_free(m2);
	return 0;
}
