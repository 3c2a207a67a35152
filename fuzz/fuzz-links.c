/*
 * fuzz-links - libFuzzer target for the link extraction (src/mail/links.c).
 *
 * The whole input is parsed as HTML (links_html) and scanned as text
 * (links_text), and its first line is analysed as one URL (links_url)
 * with the second line as visible text.  Invariants: at most LINKS_MAX
 * links; every kept link has a host; every string is NUL-terminated in its
 * buffer; the set's flags are the union of its links' flags (and
 * PASSWORD, which no link carries) and only known bits; links_url is
 * deterministic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dmarc.h"
#include "mail/links.h"
#include "mail/lookalike.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A link's flags; the set adds PASSWORD, which belongs to no link. */
#define ALL_FLAGS (LINKS_F_TEXT_MISMATCH | LINKS_F_REDIRECTOR | \
		   LINKS_F_IP_HOST | LINKS_F_PUNYCODE | LINKS_F_LOOKALIKE | \
		   LINKS_F_USERINFO | LINKS_F_FORM)

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-links: invariant broken: %s\n", what);
	abort();
}

/* Checks the invariants of one link. */
static void check_link(const struct links_link *l)
{
	if (memchr(l->href, 0, sizeof(l->href)) == NULL ||
	    memchr(l->host, 0, sizeof(l->host)) == NULL ||
	    memchr(l->text, 0, sizeof(l->text)) == NULL ||
	    memchr(l->text_host, 0, sizeof(l->text_host)) == NULL ||
	    memchr(l->target, 0, sizeof(l->target)) == NULL ||
	    memchr(l->matched, 0, sizeof(l->matched)) == NULL)
		fail("unterminated string");
	if (l->flags & ~ALL_FLAGS)
		fail("unknown flag");
}

/* Checks the invariants of a whole set. */
static void check_set(const struct links *lk)
{
	unsigned all = 0;
	size_t i;

	if (lk->n > LINKS_MAX)
		fail("too many links");
	for (i = 0; i < lk->n; i++) {
		check_link(&lk->link[i]);
		if (lk->link[i].host[0] == '\0')
			fail("kept link without host");
		all |= lk->link[i].flags;
	}
	if (all != (lk->flags & ~LINKS_F_PASSWORD))
		fail("set flags are not the union");
	if (lk->text_len >= LINKS_TEXT_MAX ||
	    strlen(lk->text) != lk->text_len)
		fail("document text not bounded");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dmarc_psl *psl;
	static struct lookalike *la;
	static struct links *lk;
	struct links_link l1, l2;
	const char *nl, *nl2;
	char vis[LINKS_VISIBLE_MAX];
	size_t ulen;

	if (psl == NULL) {
		if ((psl = dmarc_psl_load(NULL)) == NULL)
			return 0;
		links_init();
		la = lookalike_new(psl);
		lookalike_add(la, "paypal.com", "PayPal");
		lookalike_add(la, "amazon.co.jp", "Amazon");
		lk = links_new();
	}
	links_reset(lk);
	links_html(lk, (const char *)data, size, psl, la);
	check_set(lk);
	links_reset(lk);
	links_text(lk, (const char *)data, size, psl, la);
	check_set(lk);

	nl = memchr(data, '\n', size);
	ulen = nl ? (size_t)(nl - (const char *)data) : size;
	vis[0] = '\0';
	if (nl != NULL) {
		size_t rest = size - ulen - 1, vn;

		nl2 = memchr(nl + 1, '\n', rest);
		vn = nl2 ? (size_t)(nl2 - nl - 1) : rest;
		if (vn >= sizeof(vis))
			vn = sizeof(vis) - 1;
		memcpy(vis, nl + 1, vn);
		vis[vn] = '\0';
	}
	links_url((const char *)data, ulen, nl ? vis : NULL, psl, la, &l1);
	links_url((const char *)data, ulen, nl ? vis : NULL, psl, la, &l2);
	check_link(&l1);
	if (memcmp(&l1, &l2, sizeof(l1)) != 0)
		fail("links_url not deterministic");
	return 0;
}
