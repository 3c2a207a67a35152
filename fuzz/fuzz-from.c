/*
 * fuzz-from - libFuzzer target for the RFC5322.From parser
 * (src/mail/dmarc_from.c).
 *
 * The input is split at each byte 0x1e
 * (ASCII record separator) into up to 4 From field values, so the
 * several-fields path is reached.  Invariants: the verdict is one of the
 * enum; DMARC_FROM_OK means exactly one field and one domain; every domain
 * kept is NUL-terminated, non-empty, without ASCII uppercase, without an
 * empty label; parsing is deterministic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-from: invariant broken: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *v[4];
	size_t lens[4], n = 0, start = 0, i, k;
	struct dmarc_from f1, f2;
	enum dmarc_from_verdict r;

	for (i = 0; i <= size && n < 4; i++) {
		if (i == size || data[i] == 0x1e) {
			v[n] = (const char *)data + start;
			lens[n++] = i - start;
			start = i + 1;
		}
	}
	r = dmarc_from_parse(v, lens, n, &f1);
	if ((unsigned)r >= DMARC_FROM__COUNT || r != f1.verdict)
		fail("verdict");
	if (dmarc_from_parse(v, lens, n, &f2) != r ||
	    memcmp(&f1, &f2, sizeof(f1)) != 0)
		fail("not deterministic");
	if (r == DMARC_FROM_OK && (n != 1 || f1.ndomain != 1))
		fail("ok with several");
	if (f1.ndomain > 8)
		fail("ndomain");
	for (k = 0; k < f1.ndomain; k++) {
		const char *d = f1.domain[k];
		size_t len = strnlen(d, DMARC_DOMAIN_MAX);

		if (len == 0 || len >= DMARC_DOMAIN_MAX)
			fail("domain length");
		if (d[0] == '.' || d[len - 1] == '.' || strstr(d, ".."))
			fail("empty label");
		for (i = 0; i < len; i++)
			if (d[i] >= 'A' && d[i] <= 'Z')
				fail("uppercase");
	}
	return 0;
}
