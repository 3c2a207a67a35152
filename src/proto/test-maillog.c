/*
 * test-maillog - Postfix and Dovecot log lines, and the queue-ID join.
 *
 * Each row is one line as Debian's rsyslog (or journald, or Dovecot's own
 * log file) writes it, with the result and a canonical transcript of the
 * event's fields.  Times are read in UTC (TZ=UTC) against a reference of
 * 2026-12-06 12:00:00 UTC, except the rows about the year wrap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "proto/maillog.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define REF 1796558400		/* 2026-12-06T12:00:00Z */

static const char *const kinds[] = {
	"client", "from", "to", "removed", "login_ok", "login_fail",
	"passdb_fail",
};

/* The event as "kind t=... field=value ..." (empty fields left out). */
static void transcript(const struct maillog_event *ev, char *out, size_t sz)
{
	int n = snprintf(out, sz, "%s t=%lld", kinds[ev->kind],
			 (long long)ev->time);

#define F(name, v) if ((v)[0] && n >= 0 && (size_t)n < sz) \
		n += snprintf(out + n, sz - (size_t)n, " " name "=%s", v)
	F("qid", ev->queue_id);
	F("login", ev->login);
	F("addr", ev->addr);
	F("sender", ev->sender);
	F("rcpt", ev->rcpt);
	F("status", ev->status);
	F("method", ev->method);
#undef F
	if (ev->kind == MAILLOG_FROM && n >= 0 && (size_t)n < sz)
		n += snprintf(out + n, sz - (size_t)n, " size=%ld nrcpt=%ld",
			      ev->size, ev->nrcpt);
	if (ev->attempts && n >= 0 && (size_t)n < sz)
		snprintf(out + n, sz - (size_t)n, " attempts=%u",
			 ev->attempts);
}

static const struct row {
	const char *label, *line;
	int result;
	const char *want;		/* transcript when MAILLOG_OK */
} rows[] = {
	{"smtpd submission client with SASL",
	 "Dec  6 10:00:01 mx1 postfix/submission/smtpd[2211]: 4ABCD12345: "
	 "client=p123.example.jp[192.0.2.10], sasl_method=PLAIN, "
	 "sasl_username=alice@example.com",
	 MAILLOG_OK, "client t=1796551201 qid=4ABCD12345 "
	 "login=alice@example.com addr=192.0.2.10 method=PLAIN"},
	{"smtpd client with port logging, long queue ID",
	 "Dec 06 10:00:01 mx1 postfix/smtpd[1]: 4NbZxw1p2Qz9sWS: "
	 "client=unknown[2001:db8::5]:50123, sasl_method=LOGIN, "
	 "sasl_username=bob",
	 MAILLOG_OK, "client t=1796551201 qid=4NbZxw1p2Qz9sWS login=bob "
	 "addr=2001:db8::5 method=LOGIN"},
	{"smtpd client without SASL",
	 "Dec  6 10:00:01 mx1 postfix/smtpd[1]: 4ABCD12345: "
	 "client=mail.example.net[198.51.100.7]",
	 MAILLOG_OK, "client t=1796551201 qid=4ABCD12345 addr=198.51.100.7"},
	{"smtpd connect line ignored",
	 "Dec  6 10:00:01 mx1 postfix/smtpd[1]: connect from "
	 "unknown[192.0.2.10]", MAILLOG_IGNORED, NULL},
	{"smtpd NOQUEUE reject ignored",
	 "Dec  6 10:00:01 mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from "
	 "unknown[192.0.2.10]: 554 5.7.1 <x@y>: Relay access denied",
	 MAILLOG_IGNORED, NULL},
	{"smtpd SASL failure, Postfix 3.6 with login",
	 "Dec  6 10:00:02 mx1 postfix/submission/smtpd[9]: warning: "
	 "unknown[203.0.113.9]: SASL PLAIN authentication failed: "
	 "authentication failure, sasl_username=carol@example.com",
	 MAILLOG_OK, "login_fail t=1796551202 login=carol@example.com "
	 "addr=203.0.113.9 method=PLAIN attempts=1"},
	{"smtpd SASL failure, old Postfix without login",
	 "Dec  6 10:00:02 mx1 postfix/smtpd[9]: warning: "
	 "unknown[203.0.113.9]: SASL LOGIN authentication failed: "
	 "UGFzc3dvcmQ6",
	 MAILLOG_OK, "login_fail t=1796551202 addr=203.0.113.9 "
	 "method=LOGIN attempts=1"},
	{"qmgr from",
	 "Dec  6 10:00:03 mx1 postfix/qmgr[800]: 4ABCD12345: "
	 "from=<alice@example.com>, size=1834, nrcpt=3 (queue active)",
	 MAILLOG_OK, "from t=1796551203 qid=4ABCD12345 "
	 "sender=alice@example.com size=1834 nrcpt=3"},
	{"qmgr null sender",
	 "Dec  6 10:00:03 mx1 postfix/qmgr[800]: 4ABCD12345: from=<>, "
	 "size=10, nrcpt=1 (queue active)",
	 MAILLOG_OK, "from t=1796551203 qid=4ABCD12345 size=10 nrcpt=1"},
	{"qmgr sender with a quoted '>' and a fake nrcpt",
	 "Dec  6 10:00:03 mx1 postfix/qmgr[800]: 4ABCD12345: "
	 "from=<\"a>, size=1, nrcpt=999\"@example.com>, size=5, nrcpt=2 "
	 "(queue active)",
	 MAILLOG_OK, "from t=1796551203 qid=4ABCD12345 "
	 "sender=\"a>, size=1, nrcpt=999\"@example.com size=5 nrcpt=2"},
	{"qmgr removed",
	 "Dec  6 10:00:05 mx1 postfix/qmgr[800]: 4ABCD12345: removed",
	 MAILLOG_OK, "removed t=1796551205 qid=4ABCD12345"},
	{"qmgr from without nrcpt is malformed",
	 "Dec  6 10:00:03 mx1 postfix/qmgr[800]: 4ABCD12345: "
	 "from=<alice@example.com>, size=1834", MAILLOG_E_MALFORMED, NULL},
	{"smtp sent",
	 "Dec  6 10:00:04 mx1 postfix/smtp[901]: 4ABCD12345: "
	 "to=<bob@example.net>, relay=mx.example.net[198.51.100.2]:25, "
	 "delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent "
	 "(250 2.0.0 Ok: queued as 1234)",
	 MAILLOG_OK, "to t=1796551204 qid=4ABCD12345 rcpt=bob@example.net "
	 "status=sent"},
	{"lmtp with orig_to, deferred",
	 "Dec  6 10:00:04 mx1 postfix/lmtp[902]: 4ABCD12345: "
	 "to=<dave@example.com>, orig_to=<d@example.com>, "
	 "relay=mx1[private/dovecot-lmtp], delay=0.1, dsn=4.2.0, "
	 "status=deferred (host said: 451 4.2.0 try later)",
	 MAILLOG_OK, "to t=1796551204 qid=4ABCD12345 "
	 "rcpt=dave@example.com status=deferred"},
	{"virtual bounced",
	 "Dec  6 10:00:04 mx1 postfix/virtual[903]: 4ABCD12345: "
	 "to=<nobody@example.com>, relay=virtual, status=bounced (unknown "
	 "user)", MAILLOG_OK, "to t=1796551204 qid=4ABCD12345 "
	 "rcpt=nobody@example.com status=bounced"},
	{"recipient carrying a fake status",
	 "Dec  6 10:00:04 mx1 postfix/smtp[901]: 4ABCD12345: "
	 "to=<\"x, status=bounced\"@example.net>, relay=none, "
	 "status=deferred (connect timeout)",
	 MAILLOG_OK, "to t=1796551204 qid=4ABCD12345 "
	 "rcpt=\"x, status=bounced\"@example.net status=deferred"},
	{"delivery without status is malformed",
	 "Dec  6 10:00:04 mx1 postfix/smtp[901]: 4ABCD12345: "
	 "to=<bob@example.net>, relay=none", MAILLOG_E_MALFORMED, NULL},
	{"RFC 3339 stamp with offset",
	 "2026-12-06T19:00:01.123456+09:00 mx1 postfix/smtpd[1]: "
	 "4ABCD12345: client=x[192.0.2.10], sasl_method=PLAIN, "
	 "sasl_username=alice@example.com",
	 MAILLOG_OK, "client t=1796551201 qid=4ABCD12345 "
	 "login=alice@example.com addr=192.0.2.10 method=PLAIN"},
	{"RFC 3339 stamp in UTC, journald short-iso offset",
	 "2026-12-06T10:00:01+0000 mx1 postfix/qmgr[2]: 4ABCD12345: removed",
	 MAILLOG_OK, "removed t=1796551201 qid=4ABCD12345"},
	{"RFC 3339 Z",
	 "2026-12-06T10:00:01Z mx1 postfix/qmgr[2]: 4ABCD12345: removed",
	 MAILLOG_OK, "removed t=1796551201 qid=4ABCD12345"},
	{"dovecot imap login",
	 "Dec  6 10:00:06 mx1 dovecot: imap-login: Login: "
	 "user=<alice@example.com>, method=PLAIN, rip=192.0.2.10, "
	 "lip=192.0.2.1, mpid=3011, TLS, session=<abcDEF12>",
	 MAILLOG_OK, "login_ok t=1796551206 login=alice@example.com "
	 "addr=192.0.2.10 method=PLAIN"},
	{"dovecot with pid, pop3",
	 "Dec  6 10:00:06 mx1 dovecot[77]: pop3-login: Login: user=<bob>, "
	 "method=PLAIN, rip=198.51.100.4, lip=192.0.2.1, mpid=1, "
	 "session=<x>",
	 MAILLOG_OK, "login_ok t=1796551206 login=bob addr=198.51.100.4 "
	 "method=PLAIN"},
	{"dovecot auth failed, 2.2",
	 "Dec  6 10:00:07 mx1 dovecot: imap-login: Disconnected (auth "
	 "failed, 3 attempts in 12 secs): user=<carol@example.com>, "
	 "method=PLAIN, rip=203.0.113.9, lip=192.0.2.1, TLS, session=<y>",
	 MAILLOG_OK, "login_fail t=1796551207 login=carol@example.com "
	 "addr=203.0.113.9 method=PLAIN attempts=3"},
	{"dovecot auth failed, 2.3 wording",
	 "Dec  6 10:00:07 mx1 dovecot: pop3-login: Disconnected: Connection "
	 "closed (auth failed, 1 attempts in 2 secs): user=<carol>, "
	 "method=LOGIN, rip=203.0.113.9, lip=192.0.2.1, session=<y>",
	 MAILLOG_OK, "login_fail t=1796551207 login=carol "
	 "addr=203.0.113.9 method=LOGIN attempts=1"},
	{"dovecot aborted login, auth failed",
	 "Dec  6 10:00:07 mx1 dovecot: imap-login: Info: Aborted login "
	 "(auth failed, 2 attempts in 4 secs): user=<eve>, method=PLAIN, "
	 "rip=203.0.113.9, lip=192.0.2.1, session=<y>",
	 MAILLOG_OK, "login_fail t=1796551207 login=eve addr=203.0.113.9 "
	 "method=PLAIN attempts=2"},
	{"dovecot user trying to forge rip",
	 "Dec  6 10:00:07 mx1 dovecot: imap-login: Disconnected (auth "
	 "failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, "
	 "rip=1.1.1.1, y>, method=PLAIN, rip=203.0.113.9, lip=192.0.2.1",
	 MAILLOG_OK, "login_fail t=1796551207 login=x>, method=PLAIN, "
	 "rip=1.1.1.1, y addr=203.0.113.9 method=PLAIN attempts=1"},
	{"dovecot no auth attempts ignored",
	 "Dec  6 10:00:07 mx1 dovecot: imap-login: Disconnected (no auth "
	 "attempts in 0 secs): user=<>, rip=203.0.113.9, lip=192.0.2.1",
	 MAILLOG_IGNORED, NULL},
	{"dovecot login without rip is malformed",
	 "Dec  6 10:00:06 mx1 dovecot: imap-login: Login: user=<a>, "
	 "method=PLAIN", MAILLOG_E_MALFORMED, NULL},
	{"dovecot passdb mismatch",
	 "Dec  6 10:00:07 mx1 dovecot: auth: passwd-file(carol@example.com,"
	 "203.0.113.9,<sess1>): Password mismatch",
	 MAILLOG_OK, "passdb_fail t=1796551207 login=carol@example.com "
	 "addr=203.0.113.9 attempts=1"},
	{"dovecot 2.3 own log file, aborted login by logging out",
	 "Dec 06 10:00:07 imap-login: Info: Disconnected: Aborted login by "
	 "logging out (auth failed, 1 attempts in 2 secs): "
	 "user=<bob@example.test>, method=PLAIN, rip=127.0.0.1, "
	 "lip=127.0.0.1, secured, session=<9E4DtO1hxK1/AAAB>",
	 MAILLOG_OK, "login_fail t=1796551207 login=bob@example.test "
	 "addr=127.0.0.1 method=PLAIN attempts=1"},
	{"dovecot own log file, passdb with Info level",
	 "Dec 06 10:00:07 auth: Info: passwd-file(bob@example.test,127.0.0.1,"
	 "<9E4DtO1hxK1/AAAB>): Password mismatch",
	 MAILLOG_OK, "passdb_fail t=1796551207 login=bob@example.test "
	 "addr=127.0.0.1 attempts=1"},
	{"dovecot imap process logout ignored",
	 "Dec 06 10:00:07 imap(alice@example.test)<23324><LbEC>: Info: "
	 "Disconnected: Logged out in=12 out=477", MAILLOG_IGNORED, NULL},
	{"postfix under its own syslog_name",
	 "Dec 06 10:00:01 mx postfix-mamori-it/submission/smtpd[22530]: "
	 "B659AA7A1A2: client=unknown[127.15.0.1], sasl_method=PLAIN, "
	 "sasl_username=mallory@example.test",
	 MAILLOG_OK, "client t=1796551201 qid=B659AA7A1A2 "
	 "login=mallory@example.test addr=127.15.0.1 method=PLAIN"},
	{"dovecot own log file, no host",
	 "Dec 06 10:00:06 imap-login: Info: Login: user=<alice>, "
	 "method=PLAIN, rip=192.0.2.10, lip=192.0.2.1",
	 MAILLOG_OK, "login_ok t=1796551206 login=alice addr=192.0.2.10 "
	 "method=PLAIN"},
	{"other program ignored",
	 "Dec  6 10:00:06 mx1 sshd[5]: Accepted publickey for root",
	 MAILLOG_IGNORED, NULL},
	{"empty line", "", MAILLOG_E_MALFORMED, NULL},
	{"truncated stamp", "Dec  6 10:0", MAILLOG_E_MALFORMED, NULL},
	{"truncated after host", "Dec  6 10:00:06 mx1", MAILLOG_E_MALFORMED,
	 NULL},
	{"truncated inside the sender",
	 "Dec  6 10:00:03 mx1 postfix/qmgr[800]: 4ABCD12345: from=<alice@ex",
	 MAILLOG_E_MALFORMED, NULL},
	{"truncated queue ID line",
	 "Dec  6 10:00:03 mx1 postfix/qmgr[800]: 4ABC", MAILLOG_IGNORED, NULL},
	{"bad month", "Foo  6 10:00:06 mx1 postfix/qmgr[1]: 4ABCD12345: "
	 "removed", MAILLOG_E_MALFORMED, NULL},
	{"bad RFC 3339 month", "2026-13-06T10:00:01Z mx1 postfix/qmgr[2]: "
	 "4ABCD12345: removed", MAILLOG_E_MALFORMED, NULL},
	{"tag without colon", "Dec  6 10:00:06 mx1 postfix/qmgr[1] 4ABCD12345"
	 ": removed", MAILLOG_E_MALFORMED, NULL},
	{"CRLF ending",
	 "Dec  6 10:00:05 mx1 postfix/qmgr[800]: 4ABCD12345: removed\r\n",
	 MAILLOG_OK, "removed t=1796551205 qid=4ABCD12345"},
};

/* Every row: result and transcript. */
static void test_rows(void)
{
	struct maillog_event ev;
	char got[2048];
	size_t i;

	for (i = 0; i < NELEM(rows); i++) {
		int r = maillog_parse(rows[i].line, strlen(rows[i].line), REF,
				      &ev);

		is_int(r, rows[i].result, "%s: result", rows[i].label);
		if (r == MAILLOG_OK && rows[i].want) {
			transcript(&ev, got, sizeof(got));
			is_str(got, rows[i].want, "%s: fields", rows[i].label);
		}
	}
}

/* Too long a login is malformed, not truncated; too long a line too. */
static void test_bounds(void)
{
	struct maillog_event ev;
	char line[MAILLOG_LINE_MAX + 200], user[400];
	int n;

	memset(user, 'a', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	n = snprintf(line, sizeof(line), "Dec  6 10:00:01 mx1 postfix/smtpd"
		     "[1]: 4ABCD12345: client=x[192.0.2.1], sasl_method=PLAIN,"
		     " sasl_username=%s", user);
	is_int(maillog_parse(line, (size_t)n, REF, &ev), MAILLOG_E_MALFORMED,
	       "login of 399 bytes: malformed");
	n = snprintf(line, sizeof(line), "Dec  6 10:00:01 mx1 postfix/smtpd"
		     "[1]: 4ABCD12345: client=x[192.0.2.1]");
	memset(line + n, 'x', sizeof(line) - (size_t)n - 1);
	line[sizeof(line) - 1] = '\0';
	is_int(maillog_parse(line, strlen(line), REF, &ev),
	       MAILLOG_E_MALFORMED, "line over MAILLOG_LINE_MAX: malformed");
	is_int(maillog_parse("Dec  6 10:00:05 mx1 postfix/qmgr[8]: 4ABCD1234"
			     "5: removed\0x", 59, REF, &ev),
	       MAILLOG_E_MALFORMED, "NUL inside a line: malformed");
}

/* The year of a traditional stamp against the file's time. */
static void test_year(void)
{
	static const struct {
		const char *label;
		int mon, mday;
		int64_t ref, want;
	} y[] = {
		{"same year", 11, 6, REF, 1796551201 - 36001},
		{"December line, January file", 11, 31,
		 1798804800 /* 2027-01-01T12:00Z */, 1798675200},
		{"January line, January file", 0, 1, 1798804800, 1798761600},
		{"a day ahead of the file stays", 11, 7, REF, 1796601600},
	};
	size_t i;

	for (i = 0; i < NELEM(y); i++)
		is_int(maillog_stamp_time(y[i].mon, y[i].mday, 0, 0, 0,
					  y[i].ref), y[i].want, "%s",
		       y[i].label);
	is_int(maillog_stamp_time(12, 1, 0, 0, 0, REF), -1, "month 12: -1");
}

struct collect {
	char out[8][256];
	int n;
};

/* Join callback: "qid login addr sender nrcpt rcpts...". */
static void on_msg(void *arg, const struct maillog_msg *m)
{
	struct collect *c = arg;
	int n;
	size_t i;

	if (c->n >= 8)
		return;
	n = snprintf(c->out[c->n], sizeof(c->out[0]), "%s %s %s <%s> %ld",
		     m->queue_id, m->login, m->addr, m->sender, m->nrcpt);
	for (i = 0; i < m->nrcpts && n > 0 && (size_t)n < sizeof(c->out[0]);
	     i++)
		n += snprintf(c->out[c->n] + n, sizeof(c->out[0]) - (size_t)n,
			      " %s", m->rcpts[i]);
	c->n++;
}

/* Feed lines to a join table of max entries; then flush. */
static void join_lines(const char *const *lines, size_t n, size_t max,
		       struct collect *c)
{
	struct maillog_join *j = maillog_join_new(max);
	struct maillog_event ev;
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < n; i++)
		if (maillog_parse(lines[i], strlen(lines[i]), REF, &ev) ==
		    MAILLOG_OK)
			maillog_join_feed(j, &ev, on_msg, c);
	maillog_join_flush(j, on_msg, c);
	maillog_join_free(j);
}

static void test_join(void)
{
	static const char *const two[] = {
		"Dec  6 10:00:01 mx1 postfix/submission/smtpd[1]: AAAAA1: "
		"client=x[192.0.2.10], sasl_method=PLAIN, sasl_username=alice",
		"Dec  6 10:00:01 mx1 postfix/smtpd[1]: BBBBB2: "
		"client=y[198.51.100.1]",
		"Dec  6 10:00:02 mx1 postfix/qmgr[2]: AAAAA1: from=<alice@"
		"example.com>, size=100, nrcpt=2 (queue active)",
		"Dec  6 10:00:02 mx1 postfix/qmgr[2]: BBBBB2: from=<x@y>, "
		"size=100, nrcpt=1 (queue active)",
		"Dec  6 10:00:03 mx1 postfix/smtp[3]: AAAAA1: to=<b@example.net>"
		", relay=none, status=deferred (timeout)",
		"Dec  6 10:00:03 mx1 postfix/smtp[3]: AAAAA1: to=<b@example.net>"
		", relay=none, status=deferred (timeout)",
		"Dec  6 10:00:03 mx1 postfix/smtp[3]: AAAAA1: to=<c@example.org>"
		", relay=none, status=sent (ok)",
		"Dec  6 10:00:04 mx1 postfix/qmgr[2]: AAAAA1: removed",
	};
	static const char *const evict[] = {
		"Dec  6 10:00:01 mx1 postfix/smtpd[1]: AAAAA1: "
		"client=x[192.0.2.10], sasl_method=PLAIN, sasl_username=alice",
		"Dec  6 10:00:02 mx1 postfix/smtpd[1]: AAAAA2: "
		"client=x[192.0.2.11], sasl_method=PLAIN, sasl_username=bob",
		"Dec  6 10:00:03 mx1 postfix/qmgr[2]: AAAAA1: from=<alice@"
		"example.com>, size=100, nrcpt=1 (queue active)",
		"Dec  6 12:00:03 mx1 postfix/smtpd[1]: AAAAA3: "
		"client=x[192.0.2.12], sasl_method=PLAIN, sasl_username=carol",
	};
	struct collect c;

	join_lines(two, NELEM(two), 16, &c);
	is_int(c.n, 1, "join: only the authenticated message");
	is_str(c.out[0], "AAAAA1 alice 192.0.2.10 <alice@example.com> 2 "
	       "b@example.net c@example.org",
	       "join: one message, distinct recipients, retries once");
	join_lines(evict, NELEM(evict), 1, &c);
	is_int(c.n, 3, "join of 1 entry: every message still comes out");
	is_str(c.out[0], "AAAAA1 alice 192.0.2.10 <> 0",
	       "join full: the oldest goes out as it is");
	is_str(c.out[1], "AAAAA2 bob 192.0.2.11 <> 0",
	       "join: idle for an hour, out");
	is_str(c.out[2], "AAAAA3 carol 192.0.2.12 <> 0",
	       "join: flush at the end");
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	test_rows();
	test_bounds();
	test_year();
	test_join();
	return tap_done();
}
