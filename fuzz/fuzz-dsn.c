/*
 * fuzz-dsn - libFuzzer target for the bounce / auto-reply reader
 * (src/mail/dsn.c) over the MIME summary (src/mail/mime.c), the way the
 * backscatter check uses them.
 *
 * Input: one envelope byte (0: unknown envelope, 1: the null sender,
 * else a real sender), then a whole message.
 *
 * Invariants: a known kind; an ordinary message names no original and no
 * recipient; every count within its DSN_MAX_*; ids non-empty, terminated,
 * at most DSN_MAX_ID bytes and distinct; actions lower-case words and
 * statuses empty or class.subject.detail, both terminated; the same
 * answer twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dsn.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-dsn: invariant broken: %s\n", what);
	abort();
}

/* Is s terminated within cap bytes? */
static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* Check one report recipient. */
static void check_rcpt(const struct dsn_rcpt *r)
{
	if (!terminated(r->addr, sizeof(r->addr)) ||
	    !terminated(r->action, sizeof(r->action)) ||
	    !terminated(r->status, sizeof(r->status)))
		fail("recipient field not terminated");
	if (strspn(r->action, "abcdefghijklmnopqrstuvwxyz-") !=
	    strlen(r->action))
		fail("action not a lower-case word");
	if (r->status[0] && (strlen(r->status) < 5 ||
			     !strchr("245", r->status[0]) ||
			     r->status[1] != '.'))
		fail("status not class.subject.detail");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dsn_info a, b;
	static const char *const senders[] = { NULL, "", "x@example.net" };
	struct mime_summary *s = NULL;
	const char *from;
	size_t i, j;

	if (size < 2)
		return 0;
	from = senders[data[0] < 2 ? data[0] : 2];
	if (mime_parse(data + 1, size - 1, &s) != 0 || s == NULL)
		fail("no summary");
	dsn_read(s, from, &a);
	if (a.kind > DSN_AUTOREPLY || a.why > DSN_WHY_NULL_SENDER)
		fail("unknown kind");
	if (a.kind == DSN_NONE && (a.n_ids || a.n_rcpt || a.why))
		fail("an ordinary message with originals");
	if (a.n_ids > DSN_MAX_IDS || a.n_rcpt > DSN_MAX_RCPT)
		fail("a count past its limit");
	for (i = 0; i < a.n_ids; i++) {
		if (!terminated(a.ids[i], DSN_MAX_ID + 1) || !a.ids[i][0])
			fail("id empty or not terminated");
		for (j = 0; j < i; j++)
			if (strcmp(a.ids[i], a.ids[j]) == 0)
				fail("id twice");
	}
	for (i = 0; i < a.n_rcpt; i++)
		check_rcpt(&a.rcpt[i]);
	if (!terminated(a.action, sizeof(a.action)) ||
	    !terminated(a.status, sizeof(a.status)))
		fail("action or status not terminated");
	dsn_read(s, from, &b);
	if (memcmp(&a, &b, sizeof(a)) != 0)
		fail("not deterministic");
	mime_summary_free(s);
	return 0;
}
