/*
 * fuzz-mime - libFuzzer target for the MIME summary (src/mail/mime.c) and,
 * through it, the archive inspection of every attachment view
 * (src/mail/archive.c), the way the inbound checks will use them.
 *
 * Invariants: a summary for every non-empty input; every limit of mime.h
 * holds (parts, depth, decoded bytes, body and view sizes, counts); bodies
 * and header fields are valid UTF-8 of the stated length; the archive
 * report stays within archive.h's limits.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/archive.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-mime: invariant broken: %s\n", what);
	abort();
}

/* Check one address list. */
static void check_addrs(const struct mime_addr_list *l)
{
	size_t i;

	if (l->n > MIME_MAX_ADDRS)
		fail("address count");
	for (i = 0; i < l->n; i++)
		if (!g_utf8_validate(l->v[i].name, -1, NULL) ||
		    !g_utf8_validate(l->v[i].addr, -1, NULL) ||
		    strlen(l->v[i].name) > MIME_MAX_FIELD)
			fail("address not bounded UTF-8");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_summary *s = NULL;
	struct arc_report r;
	size_t i;
	int rc = mime_parse(data, size, &s);

	if (size == 0) {
		if (rc != MIME_E_EMPTY || s != NULL)
			fail("empty input");
		return 0;
	}
	if (rc != 0 || s == NULL)
		fail("no summary");
	if (s->n_parts > MIME_MAX_PARTS || s->depth > MIME_MAX_DEPTH ||
	    s->bytes_decoded > MIME_MAX_DECODED ||
	    s->n_attachments > MIME_MAX_ATTACHMENTS ||
	    s->n_references > MIME_MAX_REFS)
		fail("a count past its limit");
	if (s->text_len > MIME_MAX_TEXT || strlen(s->text) != s->text_len ||
	    !g_utf8_validate(s->text, (gssize)s->text_len, NULL))
		fail("text body");
	if (s->html_len > MIME_MAX_HTML ||
	    !g_utf8_validate(s->html, (gssize)s->html_len, NULL))
		fail("html body");
	if (!g_utf8_validate(s->subject, -1, NULL) ||
	    strlen(s->subject) > MIME_MAX_FIELD ||
	    !g_utf8_validate(s->message_id, -1, NULL) ||
	    !g_utf8_validate(s->report_message_id, -1, NULL))
		fail("header field");
	if (strlen(s->report_fields) > (64u << 10) ||
	    strlen(s->list_post) > MIME_MAX_FIELD ||
	    strlen(s->precedence) > MIME_MAX_FIELD ||
	    !g_utf8_validate(s->inner_message_id, -1, NULL) ||
	    strlen(s->inner_message_id) > MIME_MAX_FIELD)
		fail("report or responder field");
	check_addrs(&s->from);
	check_addrs(&s->reply_to);
	check_addrs(&s->to);
	check_addrs(&s->cc);
	for (i = 0; i < s->n_attachments; i++) {
		const struct mime_attachment *a = &s->attachments[i];

		if (a->data_len > MIME_MAX_ATTACH_VIEW ||
		    a->data_len > a->size ||
		    !g_utf8_validate(a->filename, -1, NULL))
			fail("attachment");
		arc_scan(a->data, a->data_len, a->filename, &r);
		if (r.n_entries > ARC_MAX_ENTRIES ||
		    r.bytes_read > ARC_MAX_BYTES || r.depth > ARC_MAX_DEPTH ||
		    r.n_archives > ARC_MAX_ARCHIVES ||
		    r.n_findings > ARC_MAX_FINDINGS)
			fail("archive report past its limits");
	}
	mime_summary_free(s);
	return 0;
}
