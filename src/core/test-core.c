/*
 * test-core - the outbound decision core: signals, state machine, release
 * rules, observe mode, store failures and persistence.  Drives core_outbound()
 * with synthetic message streams on a memory: or sqlite: store; time is
 * injected through outbound_request.now so hours and days pass instantly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/acct.h"
#include "core/core-internal.h"
#include "core/core.h"
#include "core/outbound.h"
#include "store/store.h"
#include "tap.h"
#include "test_core.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#define T0 1790000000	/* a Monday in 2026, 00:53 UTC */

struct env {
	struct config *cfg;
	struct store *st;
	struct core *core;
};

struct last {
	struct verdict v;
	int calls;
};

static void got_verdict(void *arg, const struct verdict *v)
{
	struct last *l = arg;

	l->v = *v;
	l->calls++;
}

/*
 * An admin result, kept after the callback: the status, and the members
 * the tests read, copied into a JSON object (the result itself dies with
 * the callback).
 */
struct jres {
	enum core_status status;
	json_t *body;
};

static void got_json(void *arg, const struct core_result *res)
{
	struct jres *r = arg;
	json_t *b = json_object(), *a;
	size_t i;

	r->status = res->status;
	json_decref(r->body);
	r->body = b;
	if (res->status != CORE_OK)
		return;
	if (res->kind == CORE_R_ACCOUNT || res->kind == CORE_R_ACCOUNT_DETAIL) {
		json_object_set_new(b, "state", json_string(res->account.state));
		json_object_set_new(b, "login", json_string(res->account.login));
		json_object_set_new(b, "strikes",
				    json_integer(res->account.strikes));
	}
	if (res->kind == CORE_R_ACCOUNT_DETAIL) {
		a = json_array();
		for (i = 0; i < res->detail.nevents; i++)
			json_array_append_new(a, json_loads(
				res->detail.events_json[i], 0, NULL));
		json_object_set_new(b, "events", a);
		a = json_array();
		for (i = 0; i < res->detail.held.n; i++)
			json_array_append_new(a, json_string(
				res->detail.held.v[i].queue_id));
		json_object_set_new(b, "held", a);
		json_object_set_new(b, "counters", json_loads(
			res->detail.counters_json, 0, NULL));
	}
	if (res->kind == CORE_R_DMARC) {
		a = json_array();
		for (i = 0; i < res->dmarc.n; i++)
			json_array_append_new(a, json_pack(
				"{s:s, s:s, s:I}", "header_from",
				res->dmarc.v[i].header_from, "disposition",
				res->dmarc.v[i].disposition, "count",
				(json_int_t)res->dmarc.v[i].count));
		json_object_set_new(b, "rows", a);
		json_object_set_new(b, "skipped",
				    json_integer((json_int_t)res->dmarc.skipped));
	}
}

/* A core over store with local_domains example.test, conf appended. */
static void env_open(struct env *e, const char *conf, const char *store)
{
	char *text = xasprintf("local_domains = example.test\n"
			       "notify_smtp_url =\n%s", conf);

	memset(e, 0, sizeof(*e));
	e->core = test_core_open(text, store, &e->cfg, &e->st);
	free(text);
}

/* Free what env_open made. */
static void env_close(struct env *e)
{
	test_core_close(e->core, e->st, e->cfg);
}

struct msg {
	const char *login;
	const char *ip;
	const char *sender;
	int rcpts;
	const char *rcpt_fmt;	/* printf with (msgno, rcptno) */
	int64_t now;
	int msgno;
};

/*
 * One message through RCPT (each recipient) and END-OF-MESSAGE, as Postfix
 * would: stops at the first RCPT refusal (HOLD is not one).  Returns the final answer: the
 * refusing RCPT verdict or the EOM verdict.
 */
static struct verdict send_msg(struct env *e, const struct msg *m)
{
	struct outbound_request r = { 0 };
	char rcpt[256], inst[64], qid[32];
	struct last l = { 0 };
	int i;

	snprintf(inst, sizeof(inst), "%s.%d.%lld", m->login, m->msgno,
		 (long long)m->now);
	snprintf(qid, sizeof(qid), "Q%X%05X", (unsigned)(m->now % 4096),
		 (unsigned)m->msgno);
	r.login = m->login;
	r.sender = m->sender;
	r.client_address = m->ip;
	r.instance = inst;
	r.now = m->now;
	r.queue_id = "";
	for (i = 0; i < m->rcpts; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		/* rcpt_fmt takes exactly (message number, recipient number). */
		snprintf(rcpt, sizeof(rcpt), m->rcpt_fmt, m->msgno, i);
#pragma GCC diagnostic pop
		r.stage = OUT_RCPT;
		r.recipient = rcpt;
		core_outbound(e->core, &r, got_verdict, &l);
		/* HOLD accepts the message (into the hold queue). */
		if (l.v.action == VERDICT_DEFER || l.v.action == VERDICT_REJECT)
			return l.v;
	}
	r.stage = OUT_END_OF_MESSAGE;
	r.recipient = m->rcpts == 1 ? rcpt : "";
	r.recipient_count = m->rcpts;
	r.queue_id = qid;
	core_outbound(e->core, &r, got_verdict, &l);
	return l.v;
}

static const char *state_of(struct env *e, const char *login)
{
	static char state[32];
	struct jres r = { 0 };

	core_account_show(e->core, login, got_json, &r);
	snprintf(state, sizeof(state), "%s", r.status == CORE_OK ?
		 json_string_value(json_object_get(r.body, "state")) : "none");
	json_decref(r.body);
	return state;
}

static long strikes_of(struct env *e, const char *login)
{
	struct jres r = { 0 };
	long n;

	core_account_show(e->core, login, got_json, &r);
	n = r.status == CORE_OK ?
		(long)json_integer_value(json_object_get(r.body, "strikes")) : -1;
	json_decref(r.body);
	return n;
}

/* A leaked-password burst from a botnet: returns messages until restricted
 * (or max+1), counting throttled answers into *deferred. */
static int hijack_burst(struct env *e, const char *login, int64_t *now,
			int max, int *deferred)
{
	static const char *const ips[] = {
		"198.51.100.7", "203.0.113.9", "192.0.2.44", "100.64.12.1",
	};
	int i;

	for (i = 0; i < max; i++) {
		struct msg m = { login, ips[i % 4], "info@bank-secure.example", 8,
				 "victim@m%d-r%d.example", *now, i };
		struct verdict v;

		v = send_msg(e, &m);
		*now += 5;
		if (v.action == VERDICT_DEFER && deferred)
			(*deferred)++;
		if (strcmp(state_of(e, login), "restricted") == 0 ||
		    strcmp(state_of(e, login), "suspended") == 0)
			return i + 1;
	}
	return max + 1;
}

static void test_hijack_new_account(void)
{
	struct env e;
	int64_t now = T0;
	int deferred = 0, n;

	env_open(&e, "", "memory:");
	n = hijack_burst(&e, "mallory@example.test", &now, 60, &deferred);
	ok(n <= 40, "hijack: restricted after %d messages (<= 40)", n);
	ok(deferred > 0, "hijack: throttled (%d deferrals) before restriction",
	   deferred);
	is_str(state_of(&e, "mallory@example.test"), "restricted",
	       "hijack: state restricted");
	is_int(strikes_of(&e, "mallory@example.test"), 1, "hijack: one strike");
	{
		struct msg m = { "mallory@example.test", "198.51.100.7",
				 "mallory@example.test", 1, "a%d.%d@example.org",
				 now, 999 };
		struct verdict v = send_msg(&e, &m);

		is_int(v.action, VERDICT_HOLD, "hijack: restricted mail is held");
	}
	env_close(&e);
}

/* An established account, hijacked from one new address, own sender. */
static void test_hijack_established(void)
{
	struct env e;
	int64_t now = T0;
	int day, i, n = 0;
	struct verdict v;

	env_open(&e, "", "memory:");
	for (day = 0; day < 10; day++) {
		for (i = 0; i < 4; i++) {
			struct msg m = { "ken@example.test", "192.0.2.10",
					 "ken@example.test", 2,
					 "friend%d.%d@example.org", now + i * 1800,
					 day * 10 + i };
			v = send_msg(&e, &m);
			if (v.action != VERDICT_DUNNO)
				break;
		}
		now += 86400;
	}
	is_str(state_of(&e, "ken@example.test"), "normal",
	       "established: 10 days of habit stay normal");
	for (i = 0; i < 60; i++) {
		struct msg m = { "ken@example.test", "203.0.113.200",
				 "ken@example.test", 5, "u@t%d-%d.example",
				 now, 1000 + i };

		send_msg(&e, &m);
		now += 20;
		n = i + 1;
		if (strcmp(state_of(&e, "ken@example.test"), "restricted") == 0)
			break;
	}
	ok(n <= 40, "established hijack from a new network: restricted after %d", n);
	env_close(&e);
}

/* Legitimate heavy senders: a newsletter in class bulk, a busy office. */
static void test_legit_heavy(void)
{
	struct env e;
	int64_t now = T0;
	int week, i, refused = 0;
	FILE *f;
	char map[] = "/tmp/mamori-test-map-XXXXXX";
	char conf[256];

	f = fdopen(mkstemp(map), "w");
	fprintf(f, "# bulk senders\nnews@shop.example class=bulk\n");
	fclose(f);
	snprintf(conf, sizeof(conf), "account_map = %s\n[class bulk]\n"
		 "msgs_per_minute = 120\nmsgs_per_hour = 5000\n"
		 "ext_rcpts_per_hour = 20000\nrcpts_per_day = 50000\n"
		 "surge_min_msgs = 500\nrcpt_domains_per_hour = 5000\n", map);
	env_open(&e, conf, "memory:");
	/* Four weekly newsletters: 60 messages of 50 recipients each. */
	for (week = 0; week < 4; week++) {
		for (i = 0; i < 60; i++) {
			struct msg m = { "news@shop.example", "192.0.2.80",
					 "news@shop.example", 50,
					 "c%d@isp%d.example", now + i * 20,
					 week * 100 + i };
			struct verdict v = send_msg(&e, &m);

			refused += v.action != VERDICT_DUNNO;
		}
		now += 7 * 86400;
	}
	is_int(refused, 0, "newsletter in class bulk: nothing refused over 4 weeks");
	is_str(state_of(&e, "news@shop.example"), "normal",
	       "newsletter stays normal");

	/* A busy office behind one NAT: 25 messages an hour, 8 hours. */
	refused = 0;
	for (i = 0; i < 200; i++) {
		struct msg m = { "office@example.test", "192.0.2.200",
				 "office@example.test", 3,
				 "p%d@client%d.example", now + i * 144, i };
		struct verdict v;

		if (i % 3 == 0)
			m.rcpt_fmt = "staff%d.%d@example.test";
		v = send_msg(&e, &m);
		refused += v.action != VERDICT_DUNNO;
	}
	is_int(refused, 0, "busy office: 200 messages in 8 hours, nothing refused");
	env_close(&e);
	unlink(map);
}

/* A clean account over the per-minute limit is deferred and throttled; the
 * throttle ends by itself. */
static void test_limit_and_expiry(void)
{
	struct env e;
	int64_t now = T0;
	int i, first_defer = -1;
	struct verdict v;

	env_open(&e, "", "memory:");
	for (i = 0; i < 35; i++) {
		struct msg m = { "bob@example.test", "192.0.2.5",
				 "bob@example.test", 1, "staff%d.%d@example.test",
				 now + i, i };

		v = send_msg(&e, &m);
		if (v.action == VERDICT_DEFER && first_defer < 0)
			first_defer = i;
	}
	is_int(first_defer, 30, "limit: message 31 in a minute is deferred");
	is_str(state_of(&e, "bob@example.test"), "throttled",
	       "limit: account throttled");
	now += 16 * 60;
	{
		struct msg m = { "bob@example.test", "192.0.2.5",
				 "bob@example.test", 1, "staff%d.%d@example.test",
				 now, 100 };

		v = send_msg(&e, &m);
	}
	is_int(v.action, VERDICT_DUNNO, "limit: after throttle_time mail flows");
	is_str(state_of(&e, "bob@example.test"), "normal",
	       "limit: throttle expired to normal");
	env_close(&e);
}

/* Release rules, probation recurrence, strikes, suspension. */
static void test_release_and_recurrence(void)
{
	struct env e;
	struct jres r = { 0 };
	int64_t now;
	const char *who = "carol@example.test";
	int n;

	env_open(&e, "[class default]\nrestrict_action = reject\n", "memory:");
	/* Bursts happen in the past; admin calls use the real clock. */
	now = time(NULL) - 3000;
	n = hijack_burst(&e, who, &now, 60, NULL);
	ok(n <= 40, "strike 1 after %d messages", n);
	{
		struct msg m = { who, "198.51.100.7", who, 1, "a%d.%d@example.org",
				 now, 500 };
		struct verdict v = send_msg(&e, &m);

		is_int(v.action, VERDICT_REJECT, "reject mode: refused at RCPT");
		ok(strncmp(v.text, "5.7.1", 5) == 0, "reject text has 5.7.1");
	}
	core_account_release(e.core, who, false, NULL, "keep", "test",
			     got_json, &r);
	is_int(r.status, CORE_E_CONFLICT, "release without password change refused");
	core_account_release(e.core, who, true, "", "keep", "test", got_json, &r);
	is_int(r.status, CORE_E_INVALID, "forced release needs a reason");
	sleep(1);
	core_account_credential_changed(e.core, who, "portal", "test",
					got_json, &r);
	is_int(r.status, CORE_OK, "credential change recorded");
	core_account_release(e.core, who, false, NULL, "keep", "test",
			     got_json, &r);
	is_int(r.status, CORE_OK, "release after password change");
	is_str(state_of(&e, who), "probation", "released into probation");

	now = time(NULL) - 2000;
	n = hijack_burst(&e, who, &now, 60, NULL);
	ok(n <= 20, "recurrence during probation restricts fast (%d msgs)", n);
	is_int(strikes_of(&e, who), 2, "recurrence is strike 2");
	core_account_release(e.core, who, true, "customer called", "keep",
			     "test", got_json, &r);
	is_int(r.status, CORE_OK, "forced release with reason");
	now = time(NULL) - 1000;
	hijack_burst(&e, who, &now, 60, NULL);
	is_str(state_of(&e, who), "suspended", "third strike suspends");
	core_account_release(e.core, who, false, NULL, "keep", "test",
			     got_json, &r);
	is_int(r.status, CORE_E_CONFLICT, "suspended: only a forced release");
	json_decref(r.body);
	env_close(&e);
}

/* Observe mode decides and records but answers DUNNO. */
static void test_observe(void)
{
	struct env e;
	int64_t now = T0;
	int i, refused = 0;

	env_open(&e, "[class default]\nmode = observe\n", "memory:");
	for (i = 0; i < 40; i++) {
		struct msg m = { "eve@example.test", i % 2 ? "198.51.100.1" :
				 "203.0.113.1", "ceo@other.example", 8,
				 "t%d@x%d.example", now, i };
		struct verdict v = send_msg(&e, &m);

		refused += v.action != VERDICT_DUNNO;
		ok(v.action == VERDICT_DUNNO, "observe: message %d answered DUNNO", i);
		now += 3;
	}
	is_int(refused, 0, "observe: nothing refused");
	ok(strcmp(state_of(&e, "eve@example.test"), "normal") != 0,
	   "observe: the would-be state is recorded (%s)",
	   state_of(&e, "eve@example.test"));
	env_close(&e);
}

/* A transition the store cannot write: configured answer, state kept. */
static void test_store_failure(void)
{
	static const struct { const char *label, *conf; int want; } rows[] = {
		{"defer", "store_failure_action = defer\n", VERDICT_DEFER},
		{"dunno", "store_failure_action = dunno\n", VERDICT_DUNNO},
	};
	size_t k;

	for (k = 0; k < 2; k++) {
		struct env e;
		int64_t now = T0;
		int i;
		struct verdict v = { 0 };

		env_open(&e, rows[k].conf, "memory:");
		e.st->fault = true;
		for (i = 0; i < 3; i++) {
			struct msg m = { "frank@example.test",
					 i % 2 ? "198.51.100.1" : "203.0.113.1",
					 "x@other.example", 8,
					 "t%d@y%d.example", now, i };
			v = send_msg(&e, &m);
			now += 2;
		}
		{
			struct msg m = { "frank@example.test", "192.0.2.99",
					 "x@other.example", 8,
					 "t%d@y%d.example", now, 9 };
			v = send_msg(&e, &m);
		}
		is_int(v.action, rows[k].want,
		       "store down (%s): configured answer", rows[k].label);
		e.st->fault = false;
		is_str(state_of(&e, "frank@example.test"), "normal",
		       "store down (%s): state unchanged", rows[k].label);
		env_close(&e);
	}
}

/* A restriction survives a restart (sqlite). */
static void test_persistence(void)
{
	struct env e;
	char store[128], err[256];
	int64_t now = T0;
	struct jres r = { 0 };

	snprintf(store, sizeof(store), "sqlite:/tmp/mamori-test-core-%d.db",
		 (int)getpid());
	env_open(&e, "", store);
	hijack_burst(&e, "gina@example.test", &now, 60, NULL);
	is_str(state_of(&e, "gina@example.test"), "restricted",
	       "persist: restricted before restart");
	{
		struct msg m = { "gina@example.test", "198.51.100.7",
				 "gina@example.test", 1, "a%d.%d@example.org",
				 now, 777 };
		struct verdict v = send_msg(&e, &m);

		is_int(v.action, VERDICT_HOLD, "persist: next message held");
	}
	core_free(e.core);
	e.core = core_new(e.cfg, e.st, NULL, err, sizeof(err));
	ok(e.core != NULL, "persist: core reloads");
	is_str(state_of(&e, "gina@example.test"), "restricted",
	       "persist: restricted after restart");
	core_account_show(e.core, "gina@example.test", got_json, &r);
	ok(json_array_size(json_object_get(r.body, "events")) >= 2,
	   "persist: events kept (%zu)",
	   json_array_size(json_object_get(r.body, "events")));
	ok(json_array_size(json_object_get(r.body, "held")) >= 1,
	   "persist: held messages recorded (%zu)",
	   json_array_size(json_object_get(r.body, "held")));
	json_decref(r.body);
	env_close(&e);
	test_sqlite_unlink(store + 7);
}

/* Send n messages (one internal recipient each, 3 s apart) from login;
 * returns the index of the first deferred one, or -1. */
static int send_n(struct env *e, const char *login, int64_t *now, int first,
		  int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct msg m = { login, "192.0.2.20", login, 1,
				 "staff%d.%d@example.test", *now, first + i };
		struct verdict v = send_msg(e, &m);

		*now += 3;
		if (v.action == VERDICT_DEFER)
			return i;
	}
	return -1;
}

/* Messages counted in the hour window of login at now, -1 if unknown. */
static long hour_count(struct env *e, const char *login, int64_t now)
{
	struct acct *a = acct_table_get(e->core->accounts, login, false, 0);

	return a ? (long)acct_win_count(a, W_MSG_HOUR, (uint32_t)now) : -1;
}

/* Restart the core on the same store (kill -9 unless flushed before). */
static void core_restart(struct env *e)
{
	char err[256];

	core_free(e->core);
	e->core = core_new(e->cfg, e->st, NULL, err, sizeof(err));
	if (!e->core) {
		printf("# core: %s\n", err);
		abort();
	}
}

/*
 * An account at 80% of its hourly limit keeps its counters across a
 * restart: the periodic snapshot (a kill -9 loses what changed after it)
 * and the shutdown flush.  Real time, because the store expires records by
 * the clock; the hour starts a minute before the burst so no bucket turns.
 */
static void test_snapshot_restart(void)
{
	static const char conf[] =
		"[class default]\nmsgs_per_hour = 20\nmsgs_per_minute = 100\n";
	struct env e;
	char store[128];
	int64_t t = time(NULL), now = t - t % 3600 + 60, now0 = now, cnow;
	int control;

	/* Without a restart: 16 sent, the 5th after them is deferred. */
	env_open(&e, conf, "memory:");
	cnow = now;
	send_n(&e, "ctl@example.test", &cnow, 0, 16);
	control = send_n(&e, "ctl@example.test", &cnow, 16, 10);
	is_int(control, 4, "snapshot: control, 21st message in the hour deferred");
	env_close(&e);

	snprintf(store, sizeof(store), "sqlite:/tmp/mamori-test-snap-%d.db",
		 (int)getpid());
	env_open(&e, conf, store);
	send_n(&e, "kim@example.test", &now, 0, 16);
	is_int(core_snapshot_step(e.core, now, CORE_SNAP_SLOTS,
				  CORE_SNAP_WRITES), 1,
	       "snapshot: the periodic pass writes the changed account");
	ok(!(acct_table_get(e.core->accounts, "kim@example.test", false, 0)
	     ->flags & ACCT_F_DIRTY), "snapshot: written account is clean");
	send_n(&e, "kim@example.test", &now, 16, 2);
	is_int(core_snapshot_step(e.core, now, CORE_SNAP_SLOTS,
				  CORE_SNAP_WRITES), 0,
	       "snapshot: no pass before the period is over");
	core_restart(&e);	/* kill -9: the last two messages are lost */
	is_int(e.core->snap.loaded, 1, "snapshot: one record restored");
	is_int(hour_count(&e, "kim@example.test", now), 16,
	       "snapshot: kill -9 keeps the counters of the last pass");
	is_int(send_n(&e, "kim@example.test", &now, 18, 10), control,
	       "snapshot: after kill -9 the limit trips where it would have");

	now = now0 + 600;
	send_n(&e, "lee@example.test", &now, 0, 16);
	is_int(core_snapshot_flush(e.core, now), 0, "snapshot: flush at shutdown");
	core_restart(&e);
	is_int(hour_count(&e, "lee@example.test", now), 16,
	       "snapshot: a clean restart keeps every counter");
	is_str(state_of(&e, "kim@example.test"), "throttled",
	       "snapshot: the throttle (account record) survives too");
	is_int(send_n(&e, "lee@example.test", &now, 16, 10), control,
	       "snapshot: after a clean restart the limit trips where it would have");
	env_close(&e);
	test_sqlite_unlink(store + 7);
}

/* Every snapshot field survives encode -> decode -> apply. */
static void test_snapshot_roundtrip(void)
{
	struct acct_table *t = acct_table_new();
	struct acct *a = acct_table_get(t, "rt@example.test", true, T0 - 86400);
	struct acct *b = acct_table_get(t, "rt2@example.test", true, T0);
	struct core_snap_rec r;
	const char *why = "unset";
	char *s1, *s2;
	int i;

	for (i = 0; i < W__COUNT; i++) {
		a->win[i].idx = T0 / acct_win_len((enum acct_win)i) - (uint32_t)i;
		a->win[i].cur = 100u + (uint32_t)i;
		a->win[i].prev = UINT32_MAX - (uint32_t)i;
	}
	for (i = 0; i < ACCT_RECENT_NETS; i++) {
		a->recent[i].id = 0xc0000200u + (uint32_t)i * 256;
		a->recent[i].last = T0 - (uint32_t)i;
		a->known[i] = 0x0a000000u + (uint32_t)i;
	}
	a->domains_idx = T0 / 3600;
	a->domains = 0x8000000000000001ull;
	a->mismatch_hour = UINT16_MAX;
	a->baseline = 2.718281828f;
	a->throttled_msgs = 17;
	a->login_risk_until = T0 + 1;
	a->newnet_until = T0 + 2;
	a->score = 90;
	a->flags = ACCT_F_SUSPICIOUS | ACCT_F_DIRTY;
	a->cc_known[0] = UINT16_MAX;
	a->cc_known[1] = 0x4a50;	/* any packed country */
	s1 = core_snapshot_encode(a, T0);
	is_int(core_snapshot_decode(s1, &r, &why), 0, "roundtrip: decodes");
	ok(why == NULL, "roundtrip: no complaint");
	core_snapshot_apply(b, &r);
	ok(memcmp(a->win, b->win, sizeof(a->win)) == 0, "roundtrip: windows");
	ok(memcmp(a->recent, b->recent, sizeof(a->recent)) == 0,
	   "roundtrip: recent networks");
	ok(memcmp(a->known, b->known, sizeof(a->known)) == 0,
	   "roundtrip: habitual networks");
	ok(a->domains == b->domains && a->domains_idx == b->domains_idx,
	   "roundtrip: domain sketch and its hour");
	is_int(b->mismatch_hour, UINT16_MAX, "roundtrip: foreign senders");
	ok(a->baseline == b->baseline, "roundtrip: baseline (%g)",
	   (double)b->baseline);
	is_int(b->throttled_msgs, 17, "roundtrip: throttled messages");
	is_int(b->login_risk_until, T0 + 1, "roundtrip: login risk");
	is_int(b->newnet_until, T0 + 2, "roundtrip: new network risk");
	is_int(b->score, 90, "roundtrip: score");
	ok(memcmp(a->cc_known, b->cc_known, sizeof(a->cc_known)) == 0,
	   "roundtrip: habitual client countries");
	is_int(b->first_seen, T0 - 86400, "roundtrip: first seen (the earlier)");
	is_int(b->flags, ACCT_F_SUSPICIOUS,
	       "roundtrip: suspicious kept, restored account clean");
	is_int(r.at, T0, "roundtrip: written at");
	s2 = core_snapshot_encode(b, T0);
	is_str(s2, s1, "roundtrip: re-encoding gives the same record");
	free(s1);
	free(s2);
	acct_table_free(t);
}

/* Records that do not parse are refused whole; a load skips and counts
 * them and restores the rest. */
static void test_snapshot_malformed(void)
{
	static const struct { const char *label, *text, *why; } rows[] = {
		{"not JSON", "{\"v\":1,", "not_json_object"},
		{"empty", "", "not_json_object"},
		{"array", "[1,2]", "not_json_object"},
		{"no version", "{}", "version"},
		{"version 2", "{\"v\":2}", "version"},
		{"version text", "{\"v\":\"1\"}", "version"},
		{"fields missing", "{\"v\":1,\"at\":1}", "field"},
	};
	/* A good record, then one field at a time broken. */
	static const char good[] =
		"{\"v\":1,\"at\":AT,\"first_seen\":5,\"win\":{"
		"\"msg_min\":[1,2,3],\"msg_hour\":[1,2,3],\"ext_hour\":[1,2,3],"
		"\"int_hour\":[1,2,3],\"rcpt_day\":[1,2,3]},"
		"\"nets\":[[1,2],[3,4],[5,6],[7,8]],\"known\":[1,2,3,4],"
		"\"dom_hour\":9,\"domains\":\"00000000000000ff\",\"mismatch\":2,"
		"\"baseline\":1.5,\"throttled_msgs\":0,\"risk_until\":0,"
		"\"newnet_until\":0,\"score\":0,\"suspicious\":false}";
	static const struct { const char *label, *from, *to; } breaks[] = {
		{"negative count", "[1,2,3],\"msg_hour\"", "[1,-2,3],\"msg_hour\""},
		{"count over 32 bits", "\"msg_min\":[1,2,3]",
		 "\"msg_min\":[1,4294967296,3]"},
		{"short window", "\"rcpt_day\":[1,2,3]", "\"rcpt_day\":[1,2]"},
		{"window missing", "\"rcpt_day\":[1,2,3]", "\"rcpt_dax\":[1,2,3]"},
		{"three networks", "[[1,2],[3,4],[5,6],[7,8]]", "[[1,2],[3,4],[5,6]]"},
		{"sketch not hex", "00000000000000ff", "00000000000000fg"},
		{"sketch too long", "00000000000000ff", "000000000000000ff"},
		{"sketch upper case", "00000000000000ff", "00000000000000FF"},
		{"mismatch over 16 bits", "\"mismatch\":2", "\"mismatch\":65536"},
		{"negative baseline", "\"baseline\":1.5", "\"baseline\":-1.5"},
		{"baseline text", "\"baseline\":1.5", "\"baseline\":\"1.5\""},
		{"suspicious number", "\"suspicious\":false", "\"suspicious\":0"},
		{"duplicate key", "\"score\":0", "\"score\":0,\"score\":1"},
		{"real count", "\"known\":[1,2,3,4]", "\"known\":[1,2,3.5,4]"},
	};
	struct core_snap_rec r;
	const char *why;
	char text[1024], at[16], *p;
	struct env e;
	size_t i;
	int64_t t = time(NULL);

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc;

		why = NULL;
		rc = core_snapshot_decode(rows[i].text, &r, &why);
		ok(rc == -1 && why && strcmp(why, rows[i].why) == 0,
		   "malformed: %s refused (%s)", rows[i].label,
		   why ? why : "-");
	}
	/* The good record with the real time as "at". */
	snprintf(at, sizeof(at), "%lld", (long long)t);
	p = strstr(good, "AT");
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(p - good), good, at,
		 p + 2);
	ok(core_snapshot_decode(text, &r, &why) == 0, "malformed: the good "
	   "record decodes");
	env_open(&e, "", "memory:");
	store_put(e.st, "counters", "good@example.test", text, t + 86400,
		  NULL, NULL);
	for (i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		char bad[1100], key[64];
		const char *q = strstr(text, breaks[i].from);
		int rc;

		if (!ok(q != NULL, "malformed: %s (pattern found)",
			breaks[i].label))
			continue;
		snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(q - text), text,
			 breaks[i].to, q + strlen(breaks[i].from));
		why = NULL;
		rc = core_snapshot_decode(bad, &r, &why);
		ok(rc == -1 && why, "malformed: %s refused (%s)",
		   breaks[i].label, why ? why : "-");
		snprintf(key, sizeof(key), "bad%zu@example.test", i);
		store_put(e.st, "counters", key, bad, t + 86400, NULL, NULL);
	}
	store_put(e.st, "counters", "junk@example.test", "\x01\xff{", t + 86400,
		  NULL, NULL);
	core_restart(&e);
	is_int(e.core->snap.loaded, 1, "malformed: the good record restored");
	is_int(e.core->snap.load_bad,
	       sizeof(breaks) / sizeof(breaks[0]) + 1,
	       "malformed: every bad record skipped and counted");
	ok(acct_table_get(e.core->accounts, "bad0@example.test", false, 0) ==
	   NULL, "malformed: no account made from a bad record");
	ok(acct_table_get(e.core->accounts, "good@example.test", false, 0) !=
	   NULL, "malformed: the good account is there");
	env_close(&e);
}

/* Count the records of the counters namespace. */
static void count_row(void *arg, int result, const char *key,
		      const char *value, int64_t ts)
{
	(void)result;
	(void)value;
	(void)ts;
	if (key)
		(*(size_t *)arg)++;
}

/* The per-tick bound: a pass resumes where the last tick stopped; a store
 * failure leaves accounts dirty for the next pass. */
static void test_snapshot_bound(void)
{
	struct env e;
	int64_t now = time(NULL);
	size_t n = 0, steps = 0, wrote = 0, most = 0;
	int i;

	env_open(&e, "", "memory:");
	for (i = 0; i < 10; i++) {
		char login[32];
		int64_t t = now;

		snprintf(login, sizeof(login), "u%d@example.test", i);
		send_n(&e, login, &t, 0, 1);
	}
	e.st->fault = true;
	is_int(core_snapshot_step(e.core, now, CORE_SNAP_SLOTS, 3), 3,
	       "bound: a step tries a batch of at most 3");
	is_int(e.core->snap.failed, 3, "bound: the store failed them");
	is_int(e.core->snap.cursor, 0, "bound: the pass did not move on");
	e.st->fault = false;
	/* The pass resumes where it was: every account written. */
	while (e.core->snap.active && steps++ < 100) {
		size_t w = core_snapshot_step(e.core, now, CORE_SNAP_SLOTS, 3);

		wrote += w;
		most = w > most ? w : most;
	}
	is_int(wrote, 10, "bound: the pass wrote every account");
	is_int(most, 3, "bound: at most 3 writes a step");
	ok(steps >= 4, "bound: over %zu steps", steps);
	is_int(core_snapshot_step(e.core, now + 1, CORE_SNAP_SLOTS, 3), 0,
	       "bound: no new pass within the period");
	/* One account changes; the next pass walks 64 slots a step. */
	{
		int64_t t2 = now + CORE_SNAP_PERIOD;

		send_n(&e, "u3@example.test", &t2, 1, 1);
	}
	now += CORE_SNAP_PERIOD;
	steps = 0;
	wrote = 0;
	do
		wrote += core_snapshot_step(e.core, now, 64, 3);
	while (e.core->snap.active && ++steps < 100);
	is_int(wrote, 1, "bound: the next pass writes only the changed account");
	ok(steps >= 1024 / 64 - 1, "bound: 64 slots a step takes %zu steps",
	   steps);
	store_scan(e.st, "counters", "", count_row, &n);
	is_int(n, 10, "bound: every account has its record");
	env_close(&e);
}

/* Refused mail is not charged; recipients split internal/external. */
static void test_accounting(void)
{
	struct env e;
	struct outbound_request r = { 0 };
	struct last l = { 0 };
	struct jres j = { 0 };
	json_t *cnt;
	int i;

	env_open(&e, "", "memory:");
	r.login = "hana@example.test";
	r.sender = "hana@example.test";
	r.client_address = "192.0.2.1";
	r.queue_id = "";
	r.now = time(NULL);	/* show reads the counters at the real clock */
	r.instance = "i1";
	r.stage = OUT_RCPT;
	for (i = 0; i < 5; i++) {
		r.recipient = i < 3 ? "a@example.test" : "b@example.org";
		core_outbound(e.core, &r, got_verdict, &l);
	}
	/* Message i1 is never finished; i2 is, with 4 of 4 recipients. */
	r.instance = "i2";
	for (i = 0; i < 4; i++) {
		r.recipient = i < 1 ? "a@example.test" : "b@example.org";
		core_outbound(e.core, &r, got_verdict, &l);
	}
	r.stage = OUT_END_OF_MESSAGE;
	r.recipient = "";
	r.recipient_count = 4;
	r.queue_id = "ABC123";
	core_outbound(e.core, &r, got_verdict, &l);
	is_int(l.calls, 10, "accounting: every request answered once");
	core_account_show(e.core, "hana@example.test", got_json, &j);
	cnt = json_object_get(j.body, "counters");
	is_int(json_integer_value(json_object_get(cnt, "msgs_hour")), 1,
	       "accounting: only the finished message counts");
	is_int(json_integer_value(json_object_get(cnt, "int_rcpts_hour")), 1,
	       "accounting: internal recipients");
	is_int(json_integer_value(json_object_get(cnt, "ext_rcpts_hour")), 3,
	       "accounting: external recipients");
	json_decref(j.body);

	/* Unauthenticated mail is none of the outbound core's business. */
	r.login = "";
	core_outbound(e.core, &r, got_verdict, &l);
	is_int(l.v.action, VERDICT_DUNNO, "accounting: no login, DUNNO");
	env_close(&e);
}

static void test_sender_owned(void)
{
	static const struct {
		const char *login, *sender;
		bool want;
	} rows[] = {
		{"alice@example.test", "alice@example.test", true},
		{"alice@example.test", "ALICE@Example.Test", true},
		{"alice@example.test", "sales@example.test", true},
		{"alice@example.test", "", true},
		{"alice@example.test", "alice@evil.example", false},
		{"alice", "alice@example.test", true},
		{"alice", "alice@other.example", false},
		{"alice", "bob@example.test", false},
		{"alice", "nodomain", false},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_int(outbound_sender_owned(rows[i].login, rows[i].sender,
					     "example.test"), rows[i].want,
		       "sender owned: %s sends as \"%s\"", rows[i].login,
		       rows[i].sender);
}

static void test_acct_primitives(void)
{
	static const struct { const char *addr; bool valid; uint32_t net; } nets[] = {
		{"192.0.2.1", true, 0xc0000200},
		{"192.0.2.254", true, 0xc0000200},
		{"::ffff:192.0.2.9", true, 0xc0000200},
		{"not-an-ip", false, 0},
		{"", false, 0},
	};
	struct acct_table *t = acct_table_new();
	struct acct *a = acct_table_get(t, "x@example.test", true, T0);
	uint32_t id, id2;
	size_t i;
	char login[32];

	for (i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		bool v = acct_net_of(nets[i].addr, &id);

		ok(v == nets[i].valid && (!v || id == nets[i].net),
		   "net_of: %s", nets[i].addr);
	}
	ok(acct_net_of("2001:db8:1:2::1", &id) &&
	   acct_net_of("2001:db8:1:ffff::2", &id2) && id == id2,
	   "net_of: IPv6 /48 groups");
	ok(acct_net_of("2001:db8:2::1", &id2) && id != id2,
	   "net_of: other IPv6 /48 differs");

	acct_win_add(a, W_MSG_MIN, 10, T0 - T0 % 60);
	is_int(acct_win_count(a, W_MSG_MIN, T0 - T0 % 60 + 30), 10,
	       "window: same bucket counts all");
	is_int(acct_win_count(a, W_MSG_MIN, T0 - T0 % 60 + 90), 5,
	       "window: half the previous bucket at mid-minute");
	is_int(acct_win_count(a, W_MSG_MIN, T0 - T0 % 60 + 200), 0,
	       "window: two buckets later it is empty");
	for (i = 0; i < 30; i++) {
		char d[32];

		snprintf(d, sizeof(d), "d%zu.example", i);
		acct_domain_add(a, d, T0);
		acct_domain_add(a, d, T0);
	}
	id = acct_domain_count(a, T0);
	ok(id >= 20 && id <= 45, "domain sketch: ~30 distinct (%u)", id);
	for (i = 0; i < 5000; i++) {
		snprintf(login, sizeof(login), "user%zu@example.test", i);
		acct_table_get(t, login, true, T0);
	}
	is_int(acct_table_count(t), 5001, "table: grows to 5001 accounts");
	ok(acct_table_get(t, "user4999@example.test", false, 0) != NULL,
	   "table: finds an account after growth");
	ok(acct_table_get(t, "nobody@example.test", false, 0) == NULL,
	   "table: absent account not created");
	/* Removal keeps every other account findable (backward shift). */
	for (i = 0; i < 5000; i += 3) {
		snprintf(login, sizeof(login), "user%zu@example.test", i);
		acct_table_remove(t, acct_table_get(t, login, false, 0));
	}
	{
		size_t found = 0, gone = 0;

		for (i = 0; i < 5000; i++) {
			snprintf(login, sizeof(login), "user%zu@example.test",
				 i);
			if (acct_table_get(t, login, false, 0))
				found += i % 3 != 0;
			else
				gone += i % 3 == 0;
		}
		is_int(found, 3333, "table remove: the others all found");
		is_int(gone, 1667, "table remove: the removed all gone");
		is_int(acct_table_count(t), 5001 - 1667,
		       "table remove: count follows");
	}
	acct_table_free(t);
}

/* The eviction counters of core_stats_get(): evicted, or refused. */
static long stat_of(struct env *e, const char *name)
{
	struct core_stats_view v;
	long n;

	core_stats_get(e->core, &v);
	n = (long)(strcmp(name, "accounts_evicted") == 0 ? v.accounts_evicted :
		   v.accounts_refused);
	core_stats_view_deinit(&v);
	return n;
}

/*
 * max_accounts: a full table evicts idle normal accounts, never a restricted
 * one, nor one seen within the hour; with nothing to evict the request gets
 * store_failure_action and is counted.
 */
static void test_max_accounts(void)
{
	struct env e;
	struct jres r = { 0 };
	struct buf metrics;
	char login[64];
	struct verdict v;
	int i;

	env_open(&e, "max_accounts = 100\n", "memory:");
	for (i = 0; i < 100; i++) {
		struct msg m = { login, "192.0.2.1", "", 1, "r%d.%d@example.org",
				 T0 - 2 * 86400, i };

		snprintf(login, sizeof(login), "old%d@example.test", i);
		send_msg(&e, &m);
	}
	core_account_restrict(e.core, "old0@example.test", "test", "test",
			      got_json, &r);
	is_int(r.status, CORE_OK, "max_accounts: old0 restricted");
	core_snapshot_flush(e.core, T0 - 2 * 86400 + 10);
	{
		/* Counters changed after the snapshot: old2 must stay. */
		struct msg m = { "old2@example.test", "192.0.2.1", "", 1,
				 "r%d.%d@example.org", T0 - 2 * 86400 + 20, 0 };

		send_msg(&e, &m);
	}
	for (i = 0; i < 98; i++) {
		struct msg m = { login, "192.0.2.1", "", 1, "r%d.%d@example.org",
				 T0, i };

		snprintf(login, sizeof(login), "new%d@example.test", i);
		v = send_msg(&e, &m);
		if (v.action != VERDICT_DUNNO)
			break;
	}
	is_int(i, 98, "max_accounts: 98 new logins served by eviction");
	is_int((long)acct_table_count(e.core->accounts), 100,
	       "max_accounts: the table stays at its bound");
	is_int(stat_of(&e, "accounts_evicted"), 98,
	       "max_accounts: 98 evictions counted");
	is_str(state_of(&e, "old0@example.test"), "restricted",
	       "max_accounts: the restricted account is never evicted");
	ok(acct_table_get(e.core->accounts, "old2@example.test", false, 0) !=
	   NULL, "max_accounts: an account with unsaved counters stays");
	ok(acct_table_get(e.core->accounts, "old1@example.test", false, 0) ==
	   NULL, "max_accounts: an idle normal account was evicted");
	{
		struct msg m = { "extra@example.test", "192.0.2.1", "", 1,
				 "r%d.%d@example.org", T0 + 10, 0 };

		v = send_msg(&e, &m);
	}
	is_int(v.action, VERDICT_DEFER,
	       "max_accounts: nothing idle: store_failure_action (defer)");
	ok(strstr(v.reason, "accounts_full") != NULL,
	   "max_accounts: the reason says the table is full");
	ok(acct_table_get(e.core->accounts, "extra@example.test", false, 0) ==
	   NULL, "max_accounts: the refused login has no account");
	is_int(stat_of(&e, "accounts_refused"), 1,
	       "max_accounts: the refusal is counted");
	ok(acct_table_get(e.core->accounts, "new5@example.test", false, 0) !=
	   NULL, "max_accounts: a recently seen account stays");
	buf_init(&metrics, 1 << 20);
	core_metrics(e.core, &metrics);
	ok(strstr(metrics.p, "mamori_accounts_evicted_total 98\n") != NULL,
	   "max_accounts: /metrics counts evictions");
	buf_deinit(&metrics);
	json_decref(r.body);
	env_close(&e);
}

/* The aggregate key the milter writes is the one the listing reads. */
static void test_dmarc_agg_key(void)
{
	struct env e;
	struct jres r = { 0 };
	struct core_dmarc_query q = { .day = "2026-05-04" };
	struct core_dmarc_agg_fields f = {
		.source_ip = "192.0.2.9", .header_from = "shop.example",
		.spf = "fail", .dkim = "none", .dmarc = "fail",
		.disposition = "reject",
	};
	char *k = core_dmarc_agg_key(1777939199, &f);
	json_t *row;

	is_str(k, "2026-05-04|192.0.2.9|shop.example|fail|none|fail|reject",
	       "dmarc agg key: layout (the last second of 4 May, UTC)");
	env_open(&e, "", "memory:");
	store_put(e.st, CORE_DMARC_AGG_NS, k, "2", 0, NULL, NULL);
	core_dmarc_aggregate(e.core, &q, got_json, &r);
	is_int(r.status, CORE_OK, "dmarc agg key: listed");
	row = json_array_get(json_object_get(r.body, "rows"), 0);
	is_str(json_string_value(json_object_get(row, "header_from")),
	       "shop.example", "dmarc agg key: read back, header_from");
	is_str(json_string_value(json_object_get(row, "disposition")),
	       "reject", "dmarc agg key: read back, disposition");
	is_int(json_integer_value(json_object_get(row, "count")), 2,
	       "dmarc agg key: read back, count");
	is_int(json_integer_value(json_object_get(r.body, "skipped")), 0,
	       "dmarc agg key: nothing skipped");
	json_decref(r.body);
	free(k);
	env_close(&e);
}

/*
 * Logins that differ only in an invalid byte or a control byte stay apart:
 * each gets a reversible key, and the admin calls (the API) show, restrict
 * and release each by its key.
 */
static void test_login_keys(void)
{
	static const struct {
		const char *label, *login, *key;
	} rows[] = {
		{"invalid byte fe", "u\xfe@example.test", "u\\xfe@example.test"},
		{"invalid byte ff", "u\xff@example.test", "u\\xff@example.test"},
		{"ESC", "u\x1b[2J@example.test", "u\\x1b[2J@example.test"},
		{"was the old '?' form", "u?@example.test", "u?@example.test"},
		{"backslash before x", "u\\xfe@example.test",
		 "u\\\\xfe@example.test"},
		{"japanese", "\xe5\xae\x88@example.test",
		 "\xe5\xae\x88@example.test"},
	};
	struct env e;
	struct jres r = { 0 };
	size_t i;

	env_open(&e, "", "memory:");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct msg m = { rows[i].login, "192.0.2.1", "", 1,
				 "r%d.%d@example.org", time(NULL), (int)i };
		char *k = core_account_key(rows[i].login);

		is_str(k, rows[i].key, "login key: %s", rows[i].label);
		free(k);
		send_msg(&e, &m);
	}
	is_int((long)acct_table_count(e.core->accounts),
	       (long)(sizeof(rows) / sizeof(rows[0])),
	       "login keys: one account per login");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *login;

		core_account_show(e.core, rows[i].key, got_json, &r);
		login = json_string_value(json_object_get(r.body, "login"));
		ok(r.status == CORE_OK && login && strcmp(login, rows[i].key) == 0,
		   "login keys: show %s", rows[i].label);
		core_account_restrict(e.core, rows[i].key, "test", "test",
				      got_json, &r);
		ok(r.status == CORE_OK &&
		   strcmp(state_of(&e, rows[i].key), "restricted") == 0,
		   "login keys: restrict %s", rows[i].label);
		core_account_release(e.core, rows[i].key, true, "test", "keep",
				     "test", got_json, &r);
		ok(r.status == CORE_OK &&
		   strcmp(state_of(&e, rows[i].key), "normal") != 0 &&
		   strcmp(state_of(&e, rows[i].key), "restricted") != 0,
		   "login keys: release %s (%s)", rows[i].label,
		   state_of(&e, rows[i].key));
	}
	json_decref(r.body);
	env_close(&e);
}

int main(void)
{
	log_setup("test-core", false, LOG_L_ERR);
	test_dmarc_agg_key();
	test_acct_primitives();
	test_sender_owned();
	test_accounting();
	test_hijack_new_account();
	test_hijack_established();
	test_legit_heavy();
	test_limit_and_expiry();
	test_release_and_recurrence();
	test_observe();
	test_store_failure();
	test_persistence();
	test_snapshot_roundtrip();
	test_snapshot_malformed();
	test_snapshot_bound();
	test_snapshot_restart();
	test_login_keys();
	test_max_accounts();
	return tap_done();
}
