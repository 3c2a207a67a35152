/*
 * fuzz-content - libFuzzer target for the inbound content verdict
 * (src/core/content.c) on one MIME parse, with a protected domain, host
 * lists (src/core/content_signals.c) and a known-correspondent index (src/core/corrindex.c) holding one
 * correspondent, the way core_inbound runs it; and corrindex_row_key on
 * the input's first line (the store rows the index loads).
 *
 * Invariants: at most CONTENT_MAX_REASONS reasons; the score is the sum
 * of the points; a label is attached exactly when its points reach the
 * label threshold; the action follows the thresholds; every name, detail
 * and the header value are NUL-terminated, bounded and valid UTF-8.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/content.h"
#include "core/corrindex.h"
#include "mail/dmarc.h"
#include "mail/hostlist.h"
#include "mail/lookalike.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct content_config cc;
static struct corrindex *ci;

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-content: invariant broken: %s\n", what);
	abort();
}

/* The settings and the index, once. */
static void setup(void)
{
	static const char hdr[] = "From: user@example.test\r\nTo: \"Tanaka "
		"Taro\" <tanaka@partner-corp.co.jp>\r\n\r\n";
	static const char hosts[] = "shortener bit.ly\nhosting web.app\n"
		"hosting docs.google.com/forms\nfreemail gmail.com\ntld xyz\n";
	struct mime_summary *ms = NULL;
	uint64_t keys[CORRINDEX_LEARN_MAX];
	size_t n, np, i;

	cc.enabled = true;
	cc.tag_score = 5;
	cc.hold_score = 10;
	cc.reject_score = 20;
	cc.label_score = 4;
	cc.subject_prefix = "[SPAM?]";
	cc.authserv_id = "mx.fuzz";
	cc.psl = dmarc_psl_load(NULL);
	if (!cc.psl)
		fail("no Public Suffix List");
	cc.la = lookalike_new(cc.psl);
	lookalike_add(cc.la, "mizuho-bank.co.jp", "Mizuho");
	cc.hl = hostlist_new();
	hostlist_load(cc.hl, hosts, sizeof(hosts) - 1, NULL);
	mime_init();
	ci = corrindex_new(4096);
	corrindex_set_salt(ci, "0123456789abcdef0123456789abcdef"
			   "0123456789abcdef0123456789abcdef");
	if (mime_parse(hdr, sizeof(hdr) - 1, &ms) == 0) {
		n = corrindex_learn(ci, cc.la, cc.psl, ms, keys,
				    CORRINDEX_LEARN_MAX, &np);
		for (i = 0; i < n; i++)
			corrindex_add(ci, keys[i]);
	}
	mime_summary_free(ms);
}

/* The invariants of a decided verdict. */
static void check(const struct content_verdict *v)
{
	/* one more slot: CONTENT_NO_LABEL reasons only score */
	int sum = 0, lp[CONTENT_NLABELS + 1] = { 0 }, l;
	size_t i;

	if (v->nreasons > CONTENT_MAX_REASONS || v->dropped)
		fail("reason count");
	for (i = 0; i < v->nreasons; i++) {
		const struct content_reason *r = &v->reason[i];

		if (strnlen(r->name, CONTENT_NAME_MAX) == CONTENT_NAME_MAX ||
		    strnlen(r->detail, CONTENT_DETAIL_MAX) ==
		    CONTENT_DETAIL_MAX || !g_utf8_validate(r->detail, -1, NULL)
		    || (unsigned)r->label > CONTENT_NO_LABEL)
			fail("reason not bounded UTF-8");
		sum += r->points;
		lp[r->label] += r->points;
	}
	if (sum != v->score)
		fail("score is not the sum of the points");
	for (l = 0; l < CONTENT_NLABELS; l++)
		if (!!(v->labels & (1u << l)) !=
		    (lp[l] >= cc.label_score && lp[l] > 0))
			fail("label threshold");
	if ((v->score >= cc.reject_score) != (v->action == CONTENT_REJECT) ||
	    (v->score >= cc.tag_score) != (v->action >= CONTENT_TAG))
		fail("action threshold");
	if (strnlen(v->header, CONTENT_HEADER_MAX) == CONTENT_HEADER_MAX ||
	    !g_utf8_validate(v->header, -1, NULL))
		fail("header value");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_summary *ms = NULL;
	struct content_input in = { 0 };
	struct content_verdict *v;
	char line[200];
	const uint8_t *nl;
	size_t n;

	if (!ci)
		setup();
	nl = memchr(data, '\n', size < sizeof(line) ? size : sizeof(line));
	n = nl ? (size_t)(nl - data) : (size < sizeof(line) ? size : 0);
	memcpy(line, data, n);
	line[n] = '\0';
	(void)corrindex_row_key(line);
	if (mime_parse(data, size, &ms) != 0)
		return 0;
	v = malloc(sizeof(*v));
	content_verdict_init(v);
	in.ms = ms;
	in.ci = ci;
	content_check(v, &cc, &in);
	content_decide(v, &cc);
	check(v);
	free(v);
	mime_summary_free(ms);
	return 0;
}
