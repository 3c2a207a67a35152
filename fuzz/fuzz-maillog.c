/*
 * fuzz-maillog - libFuzzer target for the mail-log parser and the queue-ID
 * join (src/proto/maillog.c, maillog_join.c).
 *
 * The input is split into lines at LF; each is parsed (against a fixed
 * reference time) and every event is fed to a join table of 4 entries, so
 * eviction, idle expiry and the recipient bound are reached with short
 * inputs.  Invariants: the result is one of the enum; an event's strings
 * are NUL-terminated within their buffers; parsing is deterministic; every
 * joined message has a login, at most MAILLOG_RCPTS_KEEP recipients, and
 * the table empties on flush.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/maillog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-maillog: invariant broken: %s\n", what);
	abort();
}

/* Check a joined message. */
static void on_msg(void *arg, const struct maillog_msg *m)
{
	size_t i;

	(*(size_t *)arg)++;
	if (!m->login || !m->login[0] || !m->sender || !m->addr)
		fail("message without login");
	if (m->nrcpts > MAILLOG_RCPTS_KEEP)
		fail("recipient bound");
	for (i = 0; i < m->nrcpts; i++)
		if (strlen(m->rcpts[i]) >= MAILLOG_ADDR_MAX)
			fail("recipient length");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maillog_join *j = maillog_join_new(4);
	struct maillog_event e1, e2;
	size_t start = 0, i, msgs = 0;

	for (i = 0; i <= size; i++) {
		const char *line = (const char *)data + start;
		size_t n = i - start;
		int r;

		if (i < size && data[i] != '\n')
			continue;
		start = i + 1;
		r = maillog_parse(line, n, 1796558400, &e1);
		if (r != MAILLOG_OK && r != MAILLOG_IGNORED &&
		    r != MAILLOG_E_MALFORMED)
			fail("result");
		if (maillog_parse(line, n, 1796558400, &e2) != r ||
		    memcmp(&e1, &e2, sizeof(e1)) != 0)
			fail("not deterministic");
		if (r != MAILLOG_OK)
			continue;
		if (!memchr(e1.queue_id, 0, sizeof(e1.queue_id)) ||
		    !memchr(e1.login, 0, sizeof(e1.login)) ||
		    !memchr(e1.addr, 0, sizeof(e1.addr)) ||
		    !memchr(e1.sender, 0, sizeof(e1.sender)) ||
		    !memchr(e1.rcpt, 0, sizeof(e1.rcpt)) ||
		    !memchr(e1.status, 0, sizeof(e1.status)) ||
		    !memchr(e1.method, 0, sizeof(e1.method)))
			fail("unterminated field");
		maillog_join_feed(j, &e1, on_msg, &msgs);
	}
	maillog_join_flush(j, on_msg, &msgs);
	if (maillog_join_flush(j, on_msg, &msgs) != 0)
		fail("flush left entries");
	maillog_join_free(j);
	return 0;
}
