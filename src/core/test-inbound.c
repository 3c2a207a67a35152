/*
 * test-inbound - the core's mail path (core/inbound.h) without the milter protocol:
 * inbound or outbound by envelope (table), core_inbound() against the zone
 * server (test/zone_server.c) with the DMARC counts it posts to the loop
 * and core_mail_free() writes, core_msg_sign() with a key made by
 * core_dkim_keygen() and the correspondence and sent-log rows, a reload that a message
 * in progress does not see, and core_scan() giving the same verdict.
 * A memory: store; the loop is run by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/inbound-internal.h"
#include "core/inbound.h"
#include "core/mailauth.h"
#include "store/store.h"
#include "tap.h"
#include "test_core.h"
#include "util/config.h"
#include "util/xalloc.h"
#include "zone_server.h"

static const char zone[] =
	"pass.example.test\tTXT\tv=spf1 ip4:192.0.2.0/24 -all\n"
	"_dmarc.pass.example.test\tTXT\tv=DMARC1; p=reject\n"
	"slow.example.test\tTIMEOUT\t*\n"
	"_dmarc.slow.example.test\tTIMEOUT\t*\n";

static char keydir[] = "/tmp/mamori-test-inbound-XXXXXX";

/* Rows of a namespace, counted; values with "1" counted apart. */
struct rows {
	int n, ones, plain;
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
	r->ones += strcmp(value, "1") == 0;
	r->plain += strstr(key, "@") != NULL || strstr(value, "@") != NULL ||
		    strstr(value, "example") != NULL;
}

static struct rows scan(struct store *st, const char *ns)
{
	struct rows r = { 0 };

	store_scan(st, ns, "", count_row, &r);
	return r;
}

/* Inbound or outbound, decided by the core from the envelope. */
static void test_direction(struct core_mail *cm)
{
	static const struct {
		const char *label, *ip, *login;
		bool out;
	} rows[] = {
		{ "external client", "198.51.100.7", NULL, false },
		{ "external client, empty login", "198.51.100.7", "", false },
		{ "SMTP AUTH", "198.51.100.7", "alice", true },
		{ "internal_networks", "10.1.2.3", NULL, true },
		{ "no client address (sendmail)", "", NULL, true },
		{ "IPv6 outside", "2001:db8::5", NULL, false },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct core_msg *m = core_msg_new(cm, rows[i].ip, "h.example",
						  "a@b.example", rows[i].login);

		is_int(core_msg_is_outbound(m), rows[i].out, "direction: %s",
		       rows[i].label);
		core_msg_free(m);
	}
	core_msg_free(NULL);
}

/* Feed a small message: From, To, Cc, Message-ID, body. */
static void feed(struct core_msg *m, const char *from)
{
	static const char body[] = "Hello.\r\n";
	char *f = xasprintf(" %s", from);

	core_msg_header(m, "From", f, strlen(f));
	core_msg_header(m, "To", " Bob <Bob@Elsewhere.example>", 28);
	core_msg_header(m, "Cc", " carol@third.example", 20);
	core_msg_header(m, "Message-ID", " <m1@example.test>", 18);
	core_msg_body(m, body, sizeof(body) - 1);
	free(f);
}

/* One inbound message through the core. */
static void inbound_row(struct core_mail *cm, const char *label,
			const char *ip, const char *from, const char *action,
			const char *dmarc)
{
	struct core_msg *m = core_msg_new(cm, ip, "h.example", from, NULL);
	const struct mailauth_verdict *v;

	feed(m, from);
	v = core_inbound(m)->auth;
	is_str(mailauth_action_name(v->action), action, "inbound %s: action",
	       label);
	is_str(v->dmarc_result, dmarc, "inbound %s: dmarc", label);
	core_msg_free(m);
}

/* The signed message's DKIM-Signature values, while m lives. */
static void outbound_row(struct core_msg *m, const char *label,
			 size_t nsigs)
{
	const struct core_signed *o;

	feed(m, "Alice <alice@example.test>");
	o = core_msg_sign(m);
	is_int(o->nsigs, nsigs, "outbound %s: signatures", label);
	ok(o->error == NULL, "outbound %s: no signing error", label);
	if (nsigs)
		ok(o->nsigs && strstr(o->sigs[0], "d=example.test") &&
		   strstr(o->sigs[0], "\r\n"), "outbound %s: d= the From "
		   "domain, folded with CRLF", label);
}

/* core_mail_key_state(): which keys the milter signs with (mamori dkim
 * keygen asks through GET /v1/dkim/DOMAIN/SELECTOR). */
static void test_key_state(struct core_mail *cm)
{
	static const struct {
		const char *label, *domain, *selector;
		bool no_milter;
		enum core_dkim_state want;
	} rows[] = {
		{"the loaded key", "example.test", "sel", false,
		 CORE_DKIM_LOADED},
		{"domain and selector in another case", "EXAMPLE.test", "SEL",
		 false, CORE_DKIM_LOADED},
		{"another selector of the domain", "example.test", "sel2", false,
		 CORE_DKIM_NOT_LOADED},
		{"a domain without keys", "new.example", "sel", false,
		 CORE_DKIM_NOT_LOADED},
		{"a parent of the domain", "test", "sel", false,
		 CORE_DKIM_NOT_LOADED},
		{"no milter", "example.test", "sel", true, CORE_DKIM_NO_SIGNING},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_int(core_mail_key_state(rows[i].no_milter ? NULL : cm,
					   rows[i].domain, rows[i].selector),
		       rows[i].want, "key state: %s", rows[i].label);
}

static void test_mail(int port)
{
	struct event_base *base = event_base_new();
	struct store *st;
	struct core_mail *cm;
	struct core_msg *m;
	struct config *cfg, *cfg2;
	char *text, err[512], *path = NULL, *txt = NULL;
	struct rows r;

	if (!ok(core_dkim_keygen(keydir, "example.test", "sel", "ed25519",
				 false, &path, &txt, err, sizeof(err)) == 0,
		"keygen: a key for example.test"))
		printf("#   %s\n", err);
	free(path);
	free(txt);
	txt = NULL;
	is_int(core_dkim_keygen(keydir, "example.test", "sel", "ed25519",
				false, NULL, &txt, err, sizeof(err)),
	       CORE_DKIM_E_EXISTS, "keygen: an existing key is refused");
	free(txt);
	text = xasprintf("authserv_id = mx.test\ndns_upstream = 127.0.0.1@%d\n"
			 "dns_timeout_ms = 300\ninternal_networks = "
			 "10.0.0.0/8\ndkim_key_dir = %s\n", port, keydir);
	cfg = test_conf(text);
	free(text);
	cfg2 = test_conf("internal_networks = 10.0.0.0/8\n"
		    "dkim_key_dir = /nonexistent/mamori-test\n");
	store_open("memory:", base, &st, err, sizeof(err));
	cm = core_mail_new(base, cfg, err, sizeof(err));
	if (!ok(cm != NULL, "core_mail_new (%s)", cm ? "ok" : err))
		return;
	core_mail_attach(cm, st);
	test_direction(cm);
	test_key_state(cm);

	inbound_row(cm, "spf pass, aligned", "192.0.2.5",
		    "a@pass.example.test", "accept", "pass");
	inbound_row(cm, "spf fail, p=reject", "198.51.100.7",
		    "a@pass.example.test", "reject", "fail");
	inbound_row(cm, "spf fail, p=reject, again", "198.51.100.7",
		    "a@pass.example.test", "reject", "fail");
	inbound_row(cm, "dns timeout", "198.51.100.7",
		    "a@slow.example.test", "tempfail", "temperror");
	event_base_loop(base, EVLOOP_NONBLOCK);
	is_int(scan(st, "dmarc_agg").n, 0,
	       "dmarc_agg: counts stay in memory until the flush");

	/* Outbound: signed with the key; a reload during a message. */
	m = core_msg_new(cm, "10.1.2.3", "h.example", "alice@example.test",
			 NULL);
	core_mail_reconfigure(cm, cfg2);
	outbound_row(m, "started before a reload", 1);
	core_msg_free(m);
	m = core_msg_new(cm, "10.1.2.3", "h.example", "alice@example.test",
			 NULL);
	outbound_row(m, "started after the reload: no keys", 0);
	{
		/* /metrics: the four inbound verdicts and two outbound
		 * messages above, from the start (test_direction signs
		 * nothing: it only asks). */
		uint64_t in[CORE_NACTIONS], sg, un, er;

		core_mail_counts(cm, in, &sg, &un, &er);
		is_int((long)in[CORE_ACCEPT], 1, "counts: inbound accepted");
		is_int((long)in[CORE_REJECT], 2, "counts: inbound rejected");
		is_int((long)in[CORE_TEMPFAIL], 1, "counts: inbound tempfailed");
		is_int((long)(in[CORE_HOLD] + in[CORE_TAG]), 0,
		       "counts: none held or tagged");
		is_int((long)sg, 1, "counts: outbound signed");
		is_int((long)un, 1, "counts: outbound unsigned (no keys)");
		is_int((long)er, 0, "counts: no signing error");
		{
			/* The history's inbound series: actions, labels,
			 * then DMARC pass, fail, other (temperror). */
			uint64_t n[CORE_MAIL_NVERDICT_COUNTS];
			const uint64_t *d = &n[CORE_NACTIONS + CONTENT_NLABELS];

			core_mail_verdict_counts(cm, n);
			is_int((long)n[CORE_REJECT], 2,
			       "verdict counts: actions first");
			is_int((long)d[0], 1, "verdict counts: dmarc pass");
			is_int((long)d[1], 2, "verdict counts: dmarc fail");
			is_int((long)d[2], 1,
			       "verdict counts: dmarc temperror as none");
			core_mail_verdict_counts(NULL, n);
			is_int((long)(n[0] + d[0]), 0,
			       "verdict counts: no milter, zeros");
		}
		core_mail_counts(NULL, in, &sg, &un, &er);
		is_int((long)(in[0] + in[1] + in[2] + in[3] + in[4] + sg + un +
			      er), 0,
		       "counts: no milter, all zero");
	}
	is_int(core_mail_key_state(cm, "example.test", "sel"),
	       CORE_DKIM_NOT_LOADED, "key state: gone after a reload without it");
	core_msg_free(m);
	event_base_loop(base, EVLOOP_NONBLOCK);
	is_int(scan(st, "corr").n, 1,
	       "corr: the records wait in the batch (only the salt is stored)");
	/* The batch timer (BATCH_SECS) hands them to the loop. */
	{
		struct timeval tv = { .tv_sec = 1, .tv_usec = 300000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	r = scan(st, "corr");
	/* salt, m: and p: per recipient, twice (same keys: 4 rows) */
	is_int(r.n, 4, "corr: salt, one m: row, a p: row per To/Cc address");
	is_int(r.plain, 0, "corr: no plain address in keys or values");
	r = scan(st, "sent");
	/* since, and one record: the two messages share their Message-ID */
	is_int(r.n, 2, "sent: the log's beginning and one record");
	is_int(r.plain, 0, "sent: no plain address in keys or values");

	/* A full batch (BATCH_MAX, 256 messages) goes to the loop at once,
	 * without the timer: 256 new m: rows after one nonblocking turn. */
	{
		int i;

		for (i = 0; i < 256; i++) {
			char mid[64];
			int n = snprintf(mid, sizeof(mid),
					 " <batch%d@example.test>", i);

			m = core_msg_new(cm, "10.1.2.3", "h.example",
					 "alice@example.test", NULL);
			core_msg_header(m, "From", " alice@example.test", 19);
			core_msg_header(m, "To", " Bob <Bob@Elsewhere.example>",
					28);
			core_msg_header(m, "Message-ID", mid, (size_t)n);
			core_msg_body(m, "Hi.\r\n", 5);
			(void)core_msg_sign(m);
			core_msg_free(m);
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		is_int(scan(st, "corr").n, 4 + 256,
		       "corr: a full batch is written without waiting for "
		       "the timer");
		is_int(scan(st, "sent").n, 2 + 256,
		       "sent: a record per Message-ID, in the same batch");
	}

	core_mail_close(cm);
	core_mail_free(cm);
	r = scan(st, "dmarc_agg");
	is_int(r.n, 2, "dmarc_agg: one row per result, none for a tempfail");
	is_int(r.ones, 1, "dmarc_agg: the pass row counts 1 (the fail row 2)");
	store_close(st);
	config_free(cfg);
	config_free(cfg2);
	event_base_free(base);
}

/* mamori scan: the same verdict from a whole message. */
static void test_scan(int port)
{
	static const char msg[] = "From: a@pass.example.test\r\n"
		"To: b@x.example\r\n\r\nHi.\r\n";
	struct config *cfg = test_conf("authserv_id = mx.test\n");
	struct core_scan *s;
	const struct mailauth_verdict *v;
	const char *warn = "x";
	char up[64], err[512];
	size_t fields = 0;

	snprintf(up, sizeof(up), "127.0.0.1@%d", port);
	s = core_scan_new(cfg, up, 0, &warn, err, sizeof(err));
	if (!ok(s != NULL, "scan: core_scan_new (%s)", s ? "ok" : err))
		return;
	ok(warn == NULL, "scan: no warning in rfc9989 mode");
	v = core_scan(s, "192.0.2.5", "h.example", "a@pass.example.test", msg,
		      sizeof(msg) - 1, &fields)->auth;
	is_int(fields, 2, "scan: header fields");
	is_str(v->dmarc_result, "pass", "scan: dmarc pass");
	ok(strncmp(v->ar, "mx.test;", 8) == 0, "scan: our authserv-id");
	v = core_scan(s, "198.51.100.7", "h.example", "a@pass.example.test",
		      msg, sizeof(msg) - 1, &fields)->auth;
	is_str(mailauth_action_name(v->action), "reject",
	       "scan: a second message on the same scanner");
	core_scan_free(s);
	core_scan_free(NULL);
	config_free(cfg);
}

int main(void)
{
	char path[ZONE_SERVER_PATH], *cmd;
	int port = 0;
	pid_t pid;

	evthread_use_pthreads();
	if (!mkdtemp(keydir))
		return 1;
	pid = zone_server_start_text(getenv("MAMORI_SOURCE_ROOT"), zone, path,
				     &port);
	if (pid == 0) {
		printf("1..0 # SKIP python3-dnslib not installed\n");
	} else if (!ok(pid > 0, "zone server starts")) {
		;
	} else {
		test_mail(port);
		test_scan(port);
		zone_server_stop(pid);
	}
	unlink(path);
	cmd = xasprintf("rm -rf '%s'", keydir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", keydir);
	free(cmd);
	return pid == 0 ? 0 : tap_done();
}
