/*
 * fuzz-hostlist - libFuzzer target for the host lists of
 * content_hosts_file (src/mail/hostlist.c).
 *
 * The input is split at the first byte 0x1e (ASCII record separator):
 * part 0 is a hosts file (hostlist_load), part 1 a host and path looked up
 * under every kind (the host up to the first '/', the rest the path).
 * Invariants: at most HOSTLIST_MAX entries; a failed load names a line
 * within the input; a match is the host itself or a parent domain of it
 * (the entry's host a suffix of the host at a label boundary); looking up
 * twice gives the same entry.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/hostlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-hostlist: invariant broken: %s\n", what);
	abort();
}

/* True if the entry m ("host" or "host/path") matches host by suffix. */
static int is_parent(const char *m, const char *host)
{
	size_t mn = strcspn(m, "/"), hn = strlen(host);

	if (mn > hn || memcmp(host + hn - mn, m, mn) != 0)
		return 0;
	return mn == hn || host[hn - mn - 1] == '.';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, 0x1e, size);
	size_t n0 = sep ? (size_t)(sep - data) : size, lines = 1, bad = 0, i;
	char host[HOSTLIST_HOST_MAX + 1], pathbuf[HOSTLIST_HOST_MAX + 1];
	char *slash, *path = NULL;
	struct hostlist *hl = hostlist_new();
	size_t hn = 0;
	int r, k;

	for (i = 0; i < n0; i++)
		lines += data[i] == '\n';
	r = hostlist_load(hl, (const char *)data, n0, &bad);
	if (hostlist_count(hl) > HOSTLIST_MAX)
		fail("more entries than the cap");
	if (r != 0 && (bad == 0 || bad > lines))
		fail("a bad line outside the input");
	if (sep) {
		hn = size - n0 - 1 < HOSTLIST_HOST_MAX ? size - n0 - 1 :
		     HOSTLIST_HOST_MAX;
		memcpy(host, sep + 1, hn);
	}
	host[hn] = '\0';		/* a NUL inside ends it earlier */
	if ((slash = strchr(host, '/')) != NULL) {
		snprintf(pathbuf, sizeof(pathbuf), "%s", slash);
		*slash = '\0';
		path = pathbuf;
	}
	for (k = 0; k < HOSTLIST_NKINDS; k++) {
		const char *m = hostlist_match(hl, (enum hostlist_kind)k, host,
					       path);

		if (m && !is_parent(m, host))
			fail("a match that is no parent domain");
		if (m != hostlist_match(hl, (enum hostlist_kind)k, host, path))
			fail("two lookups disagree");
	}
	hostlist_free(hl);
	return 0;
}
