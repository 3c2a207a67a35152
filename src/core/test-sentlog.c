/*
 * test-sentlog - the sent Message-ID log (core/sentlog.h) on a memory:
 * store: who counts as part of a thread (table), what the store holds (no
 * plain value), the index rebuilt from the store at attach with bad rows
 * skipped, the count bound (oldest dropped from memory and store), the
 * time bound, a Message-ID sent twice, cut recipient lists, the log off,
 * and lookups from four threads while records are written.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sentlog.h"
#include "store/store.h"
#include "tap.h"

/* Now: the memory store expires rows by the real clock. */
static int64_t T0;
#define SALT "5a1t5a1t5a1t5a1t5a1t5a1t5a1t5a1t5a1t5a1t5a1t5a1t5a1t5a1t5a1t5a1t"

/* Record one message. */
static void send_msg(struct sentlog *sl, int64_t t, const char *acct,
		     const char *msgid, const char *from, const char *rcpts)
{
	char *v[64], *copy = strdup(rcpts), *p, *save = NULL;
	size_t n = 0;

	for (p = strtok_r(copy, " ", &save); p && n < 64;
	     p = strtok_r(NULL, " ", &save))
		v[n++] = p;
	sentlog_rec_write(sl, sentlog_rec_new(sl, t, acct, msgid, from, v, n));
	free(copy);
}

/* Ask about one id (and an address / account). */
static int ask(const struct sentlog *sl, int64_t now, const char *id,
	       const char *addr, const char *acct, struct sentlog_match *m)
{
	const char *ids[1] = { id };
	struct sentlog_query q = { .ids = ids, .n_ids = 1, .addr = addr,
				   .account = acct, .now = now };

	return sentlog_match(sl, &q, m);
}

/* Rows of a namespace. */
struct rows {
	int n, plain, since;
	char last[4096];
};

static void count_row(void *arg, int result, const char *key,
		      const char *value, int64_t ts)
{
	struct rows *r = arg;

	(void)result;
	(void)ts;
	if (!key)
		return;
	r->n++;
	r->since += strcmp(key, "since") == 0;
	r->plain += strchr(key, '@') || strchr(value, '@') ||
		    strstr(value, "example") || strstr(value, "taro");
	if (strcmp(key, "since") != 0)
		snprintf(r->last, sizeof(r->last), "%s", value);
}

static struct rows scan(struct store *st)
{
	struct rows r = { 0 };

	store_scan(st, SENTLOG_NS, "", count_row, &r);
	return r;
}

/* Who is part of a thread: one row per question. */
static void test_participants(struct store *st)
{
	static const struct {
		const char *label, *id, *addr, *acct;
		size_t matched;
		bool sent, rcpt, domain, acct_sent;
	} rows[] = {
		{ "the recipient", "t1@example.jp", "hanako@partner.example",
		  NULL, 1, false, true, true, false },
		{ "the recipient, other case", "t1@example.jp",
		  "Hanako@Partner.Example", NULL, 1, false, true, true, false },
		{ "a Cc recipient", "t1@example.jp", "jiro@other.example",
		  NULL, 1, false, true, true, false },
		{ "our user (the From)", "t1@example.jp", "taro@example.jp",
		  NULL, 1, true, false, false, false },
		{ "a colleague of the recipient", "t1@example.jp",
		  "boss@partner.example", NULL, 1, false, false, true, false },
		{ "a subdomain of the recipient's domain", "t1@example.jp",
		  "x@mail.partner.example", NULL, 1, false, false, true,
		  false },
		{ "a stranger", "t1@example.jp", "emotet@evil.example", NULL, 1,
		  false, false, false, false },
		{ "a one-label domain is no parent", "t1@example.jp",
		  "x@example", NULL, 1, false, false, false, false },
		{ "the account that sent it", "t1@example.jp", NULL, "taro",
		  1, false, false, false, true },
		{ "another account", "t1@example.jp", NULL, "jiro", 1, false,
		  false, false, false },
		{ "an id never sent", "never@example.jp",
		  "hanako@partner.example", "taro", 0, false, false, false,
		  false },
		{ "an id with brackets is another id", "<t1@example.jp>",
		  NULL, NULL, 0, false, false, false, false },
	};
	struct sentlog *sl = sentlog_new(100, 86400);
	struct sentlog_match m;
	size_t i;

	sentlog_set_salt(sl, SALT);
	sentlog_attach(sl, st, T0);
	ok(sentlog_since(sl) == T0, "participants: the log begins at attach");
	send_msg(sl, T0, "taro", " <t1@example.jp>\r\n", "Taro@Example.jp",
		 "hanako@partner.example jiro@other.example "
		 "HANAKO@partner.example");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		is_int(ask(sl, T0 + 60, rows[i].id, rows[i].addr, rows[i].acct,
			   &m), 0, "%s: answered", rows[i].label);
		is_int(m.matched, rows[i].matched, "%s: matched",
		       rows[i].label);
		is_int(m.addr_sent, rows[i].sent, "%s: sender", rows[i].label);
		is_int(m.addr_rcpt, rows[i].rcpt, "%s: recipient",
		       rows[i].label);
		is_int(m.domain_rcpt, rows[i].domain, "%s: domain",
		       rows[i].label);
		is_int(m.account_sent, rows[i].acct_sent, "%s: account",
		       rows[i].label);
	}
	/* References: the match is over every id of ours named. */
	send_msg(sl, T0 + 100, "taro", "<t2@example.jp>", "taro@example.jp",
		 "saburo@third.example");
	{
		const char *ids[] = { "", "x@y", "t2@example.jp",
				      "t1@example.jp" };
		struct sentlog_query q = { .ids = ids, .n_ids = 4,
					   .addr = "saburo@third.example",
					   .now = T0 + 200 };

		sentlog_match(sl, &q, &m);
		is_int(m.matched, 2, "references: both of ours found");
		is_int(m.first, 2, "references: the first found, by index");
		is_int(m.newest, T0 + 100, "references: the newest time");
		ok(m.addr_rcpt, "references: a recipient of the later one");
	}
	/* Whom a reply copies: a thread recipient, or only our user. */
	{
		const char *ids[] = { "t1@example.jp" };
		const char *cc1[] = { "x@y.example", "Jiro@Other.Example" };
		const char *cc2[] = { "taro@example.jp", "" };
		struct sentlog_query q = { .ids = ids, .n_ids = 1,
					   .now = T0 + 200, .cc = cc1,
					   .n_cc = 2 };

		sentlog_match(sl, &q, &m);
		ok(m.cc_rcpt, "cc: a thread recipient copied");
		q.cc = cc2;
		sentlog_match(sl, &q, &m);
		ok(!m.cc_rcpt, "cc: our user (the sender) is no recipient");
	}
	{
		struct rows r = scan(st);

		is_int(r.n, 3, "store: two records and since");
		is_int(r.since, 1, "store: since");
		is_int(r.plain, 0, "store: no plain address or id");
		ok(strstr(r.last, "\"rcpt\":[\"") && strstr(r.last, "\"t\":"),
		   "store: record shape");
	}
	sentlog_free(sl);

	/* A new process: the index comes back from the store. */
	store_put(st, SENTLOG_NS, "0123456789abcdef0123456789abcdef",
		  "{\"t\":\"soon\"}", 0, NULL, NULL);
	store_put(st, SENTLOG_NS, "not-a-hash", "{\"t\":1}", 0, NULL, NULL);
	store_put(st, SENTLOG_NS, "fedcba9876543210fedcba9876543210",
		  "{\"t\":1,\"rcpt\":[\"zz\"]}", 0, NULL, NULL);
	sl = sentlog_new(100, 86400);
	sentlog_set_salt(sl, SALT);
	sentlog_attach(sl, st, T0 + 300);
	is_int(sentlog_since(sl), T0, "reload: since kept");
	is_int(sentlog_count(sl), 2, "reload: records back, bad rows skipped");
	ask(sl, T0 + 300, "t1@example.jp", "jiro@other.example", "taro", &m);
	ok(m.matched == 1 && m.addr_rcpt && m.account_sent,
	   "reload: the thread answers as before");
	sentlog_set_salt(sl, "other");
	ask(sl, T0 + 300, "t1@example.jp", NULL, NULL, &m);
	is_int(m.matched, 0, "reload: another salt matches nothing");
	sentlog_free(sl);
}

/* The count bound, the time bound, an id sent twice, cut lists. */
static void test_bounds(void)
{
	struct store *st;
	struct sentlog *sl;
	struct sentlog_match m;
	char err[256], id[64], rc[2048];
	struct rows r;
	size_t len = 0;
	int i;

	store_open("memory:", NULL, &st, err, sizeof(err));
	sl = sentlog_new(3, 1000);
	sentlog_attach(sl, st, T0);
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "<b%d@example.jp>", i);
		send_msg(sl, T0 + i, "taro", id, "taro@example.jp",
			 "a@partner.example");
	}
	is_int(sentlog_count(sl), 3, "count: bounded");
	ask(sl, T0 + 10, "b0@example.jp", NULL, NULL, &m);
	is_int(m.matched, 0, "count: the oldest dropped");
	ask(sl, T0 + 10, "b4@example.jp", NULL, NULL, &m);
	is_int(m.matched, 1, "count: the newest kept");
	r = scan(st);
	is_int(r.n, 4, "count: the store holds as many (and since)");

	ask(sl, T0 + 1003, "b2@example.jp", NULL, NULL, &m);
	is_int(m.matched, 0, "time: expired is not matched");
	ask(sl, T0 + 1003, "b4@example.jp", NULL, NULL, &m);
	is_int(m.matched, 1, "time: within ttl still matched");
	send_msg(sl, T0 + 1003, "taro", "<b5@example.jp>", "taro@example.jp",
		 "a@partner.example");
	is_int(sentlog_count(sl), 2, "time: expired records leave on write");
	is_int(scan(st).n, 3, "time: ... and the store (two and since)");

	send_msg(sl, T0 + 1003, "jiro", "<b5@example.jp>", "jiro@example.jp",
		 "c@partner.example");
	is_int(sentlog_count(sl), 2, "twice: one record");
	ask(sl, T0 + 1005, "b5@example.jp", "c@partner.example", "jiro", &m);
	ok(m.matched == 1 && m.addr_rcpt && m.account_sent,
	   "twice: the later one answers");
	sentlog_free(sl);

	/* A bigger store than the bound: the newest kept at attach. */
	sl = sentlog_new(100, 100000);
	sentlog_attach(sl, st, T0 + 1006);
	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "<c%d@example.jp>", i);
		send_msg(sl, T0 + 1010 + i, NULL, id, "", "a@partner.example");
	}
	sentlog_free(sl);
	sl = sentlog_new(3, 100000);
	sentlog_attach(sl, st, T0 + 1020);
	is_int(sentlog_count(sl), 3, "attach: the bound holds");
	ask(sl, T0 + 1020, "c5@example.jp", NULL, NULL, &m);
	is_int(m.matched, 1, "attach: the newest kept");
	ask(sl, T0 + 1020, "c0@example.jp", NULL, NULL, &m);
	is_int(m.matched, 0, "attach: the oldest dropped");
	r = scan(st);
	is_int(r.n, 4, "attach: the store trimmed to the bound");

	/* More recipients than kept: cut. */
	rc[0] = '\0';
	for (i = 0; i < SENTLOG_RCPT_MAX + 2; i++)
		len += (size_t)snprintf(rc + len, sizeof(rc) - len,
					"r%d@d%d.example ", i, i % 4);
	send_msg(sl, T0 + 1030, "taro", "<cut@example.jp>", "taro@example.jp",
		 rc);
	ask(sl, T0 + 1030, "cut@example.jp", "r0@d0.example", NULL, &m);
	ok(m.addr_rcpt && m.cut, "cut: a kept recipient, the message cut");
	snprintf(id, sizeof(id), "r%d@d1.example", SENTLOG_RCPT_MAX + 1);
	ask(sl, T0 + 1030, "cut@example.jp", id, NULL, &m);
	ok(!m.addr_rcpt && m.domain_rcpt && m.cut,
	   "cut: one not kept is unknown, its domain is");
	sentlog_free(sl);
	store_close(st);

	/* Off. */
	sl = sentlog_new(0, 1000);
	ok(sentlog_rec_new(sl, T0, "taro", "<o@x>", "a@b", NULL, 0) == NULL,
	   "off: nothing recorded");
	is_int(ask(sl, T0, "o@x", NULL, NULL, &m), SENTLOG_E_OFF,
	       "off: said so");
	is_int(ask(NULL, T0, "o@x", NULL, NULL, &m), SENTLOG_E_OFF,
	       "off: no log at all");
	is_int(sentlog_since(sl), 0, "off: no beginning");
	sentlog_free(sl);
	sl = sentlog_new(5, 10);
	ok(sentlog_rec_new(sl, T0, NULL, "  ", "", NULL, 0) == NULL,
	   "no Message-ID: nothing recorded");
	sentlog_free(sl);
}

/* Lookups while the loop writes. */
struct reader {
	const struct sentlog *sl;
	int found;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	struct sentlog_match m;
	int i;

	for (i = 0; i < 2000; i++) {
		ask(r->sl, T0 + 10, "keep@example.jp", "a@partner.example",
		    NULL, &m);
		r->found += m.matched == 1 && m.addr_rcpt;
	}
	return NULL;
}

static void test_threads(void)
{
	struct sentlog *sl = sentlog_new(64, 100000);
	struct reader rd[4];
	pthread_t t[4];
	char id[64];
	int i;

	send_msg(sl, T0, "taro", "<keep@example.jp>", "taro@example.jp",
		 "a@partner.example");
	for (i = 0; i < 4; i++) {
		rd[i].sl = sl;
		rd[i].found = 0;
		pthread_create(&t[i], NULL, read_loop, &rd[i]);
	}
	for (i = 0; i < 60; i++) {	/* stays under the bound: kept */
		snprintf(id, sizeof(id), "<w%d@example.jp>", i);
		send_msg(sl, T0 + 1, "taro", id, "taro@example.jp",
			 "z@x.example");
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		is_int(rd[i].found, 2000, "threads: reader %d always found it",
		       i);
	}
	sentlog_free(sl);
}

int main(void)
{
	struct store *st;
	char err[256];

	T0 = (int64_t)time(NULL);
	if (store_open("memory:", NULL, &st, err, sizeof(err)) != 0) {
		printf("# %s\n", err);
		return 1;
	}
	test_participants(st);
	store_close(st);
	test_bounds();
	test_threads();
	return tap_done();
}
