/*
 * fuzz-lookalike - libFuzzer target for the look-alike and display-name
 * modules (src/mail/lookalike.c, dispname.c, cues.c).
 *
 * The input is split at each byte 0x1e (ASCII record separator): part 0
 * is a protected-domains file (lookalike_load, cut to 4 KiB), part 1 the
 * domain checked, parts 2..9 the known correspondent domains; part 1 is
 * also a display name for dispname_check and dispname_known (with parts 2..
 * as known names); parts 1 and 2 are a subject and a text for cues_scan
 * (with the loaded brands), part 1 also for cues_brand_claim.
 * Invariants: verdicts in their enums; a MATCH has a
 * reason and a matched domain, an EDIT match a distance within its
 * threshold; the distance is symmetric; checking twice gives the same
 * result; every string in the results is NUL-terminated in its buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/cues.h"
#include "mail/dispname.h"
#include "mail/dmarc.h"
#include "mail/lookalike.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PARTS 10

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-lookalike: invariant broken: %s\n", what);
	abort();
}

/* True if buf[0..sz) holds a NUL. */
static int terminated(const char *buf, size_t sz)
{
	return memchr(buf, '\0', sz) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dmarc_psl *psl;
	char *part[PARTS];
	size_t len[PARTS], n = 0, start = 0, i, bad = 0;
	struct lookalike_result r1, r2;
	struct dispname_result d1, d2;
	struct dispname_known known[PARTS];
	struct lookalike *la;
	struct cues_result c;

	if (psl == NULL && (psl = dmarc_psl_load(NULL)) == NULL)
		return 0;
	for (i = 0; i <= size && n < PARTS; i++)
		if (i == size || data[i] == 0x1e) {
			len[n] = i - start;
			part[n] = malloc(len[n] + 1);
			memcpy(part[n], data + start, len[n]);
			part[n][len[n]] = '\0';
			n++;
			start = i + 1;
		}
	la = lookalike_new(psl);
	if (la == NULL)
		fail("lookalike_new");
	lookalike_load(la, part[0], len[0] > 4096 ? 4096 : len[0], &bad);
	if (n > 1) {
		const char *const *kn = (const char *const *)(part + 2);
		size_t nk = n - 2;

		lookalike_check(la, part[1], kn, nk, &r1);
		lookalike_check(la, part[1], kn, nk, &r2);
		if (r1.verdict > LOOKALIKE_INVALID)
			fail("verdict out of range");
		if (memcmp(&r1, &r2, sizeof(r1)) != 0)
			fail("not deterministic");
		if (r1.verdict == LOOKALIKE_MATCH &&
		    (r1.reason == LOOKALIKE_R_NONE || r1.matched[0] == '\0'))
			fail("match without reason or domain");
		if (r1.reason == LOOKALIKE_R_EDIT &&
		    (r1.distance < 1 || r1.distance > r1.threshold))
			fail("edit distance outside its threshold");
		if (!terminated(r1.domain, sizeof(r1.domain)) ||
		    !terminated(r1.matched, sizeof(r1.matched)) ||
		    !terminated(r1.brand, sizeof(r1.brand)))
			fail("unterminated result string");
		if (n > 2 && lookalike_distance(part[1], part[2], 2) !=
			     lookalike_distance(part[2], part[1], 2))
			fail("distance not symmetric");

		dispname_check(psl, part[1], len[1],
			       n > 2 ? part[2] : "x@example.com", &d1);
		dispname_check(psl, part[1], len[1],
			       n > 2 ? part[2] : "x@example.com", &d2);
		if (d1.verdict > DISPNAME_OTHER_DOMAIN ||
		    memcmp(&d1, &d2, sizeof(d1)) != 0)
			fail("dispname_check verdict");
		if (d1.verdict != DISPNAME_OK && d1.found[0] == '\0')
			fail("dispname_check found nothing");
		for (i = 2; i < n; i++) {
			known[i - 2].name = part[i];
			known[i - 2].addr = i + 1 < n ? part[i + 1] : "a@b.c";
		}
		dispname_known(part[1], len[1], "x@example.com", known,
			       n - 2, &d1);
		if (d1.verdict != DISPNAME_OK && d1.verdict != DISPNAME_KNOWN_NAME)
			fail("dispname_known verdict");
		if (!terminated(d1.found, sizeof(d1.found)))
			fail("unterminated dispname string");
		if (cues_scan(part[1], len[1], n > 2 ? part[2] : "",
			      n > 2 ? len[2] : 0, la, part[1], &c) == 0) {
			for (i = 0; i < CUES_N; i++)
				if ((c.hits[i] == 0) != (c.first[i] == NULL))
					fail("cue hits without a first cue");
			if (c.brand_claim != (c.brand[0] != '\0') ||
			    !terminated(c.brand, sizeof(c.brand)))
				fail("brand claim without a brand");
		}
		if (cues_brand_claim(la, part[1], len[1], n > 2 ? part[2] : NULL,
				     &c) != (c.brand[0] != '\0'))
			fail("display-name brand claim without a brand");
	}
	lookalike_free(la);
	for (i = 0; i < n; i++)
		free(part[i]);
	return 0;
}
