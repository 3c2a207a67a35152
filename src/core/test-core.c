/*
 * test-core - the outbound decision core: signals, state machine, release
 * rules, observe mode, store failures and persistence.  Drives core_outbound()
 * with synthetic message streams on a memory: or sqlite: store; time is
 * injected through outbound_request.now so hours and days pass instantly.
 * The counters snapshot is tested in test-core-snapshot.c; the helpers both
 * use are in test-core-env.h.
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
#include "core/test-core-env.h"
#include "store/store.h"
#include "tap.h"
#include "test_core.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

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
	test_login_keys();
	test_max_accounts();
	return tap_done();
}
