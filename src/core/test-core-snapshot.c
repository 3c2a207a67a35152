/*
 * test-core-snapshot - the outbound core's counters snapshot (written
 * periodically and at shutdown, read at start): counters that survive a
 * restart, every field through encode, decode and apply, records that do
 * not parse refused whole (the rest restored), and the per-tick bound (a
 * pass resumes where the last stopped; a store failure leaves accounts
 * dirty).  Drives core_outbound() on a memory: or sqlite: store; the
 * helpers are in test-core-env.h.
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

int main(void)
{
	log_setup("test-core-snapshot", false, LOG_L_ERR);
	test_snapshot_roundtrip();
	test_snapshot_malformed();
	test_snapshot_bound();
	test_snapshot_restart();
	return tap_done();
}
