/*
 * test-habit - an account's habit (habitual networks, peak, first seen,
 * correspondents) outlives its windows across a restart: a snapshot record
 * lives 90 days after its last write (snapshot.c), its windows read empty
 * once older than their length, and a record written before issue 9's
 * fields (version 1 without them) still loads.
 *
 * The store expires records by the wall clock, so the simulated "last
 * write" is the real time minus the idle period (sqlite in /tmp).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core-internal.h"
#include "core/core.h"
#include "tap.h"
#include "test_core.h"
#include "util/config.h"
#include "util/log.h"

#define DAY 86400

/* One account idle for a while before the restart. */
struct idle_row {
	const char *label;
	uint32_t idle;		/* seconds between the last write and now */
	bool keeps;		/* its habit is restored */
};

static const struct idle_row idle_rows[] = {
	{ "idle 1 hour", 3600, true },
	{ "idle 3 days", 3 * DAY, true },
	{ "idle 30 days", 30 * DAY, true },
	{ "idle 89 days", 89 * DAY, true },
	{ "idle 91 days", 91 * DAY, false },
};

#define NET 0xc0000200u		/* 192.0.2.0/24 */

/* A core over store spec; aborts on failure (the test cannot go on). */
static struct core *open_core(const struct config *cfg, struct store *st)
{
	char err[256];
	struct core *c = core_new(cfg, st, NULL, err, sizeof(err));

	if (!c) {
		printf("# core: %s\n", err);
		abort();
	}
	return c;
}

/* Give login a habit and full windows as of time t, marked changed. */
static void make_habit(struct core *c, const char *login, uint32_t t)
{
	struct acct *a = acct_table_get(c->accounts, login, true, t - 10 * DAY);
	int i;

	for (i = 0; i < W__COUNT; i++)
		acct_win_add(a, (enum acct_win)i, 7, t);
	acct_rcpt_min_add(a, 7, t);
	acct_domain_add(a, "example.org", t);
	acct_net_seen(a, NET, t);
	acct_net_learn(a, NET);
	acct_rcpt_learn(a, "partner@example.org");
	a->baseline = 6.5f;
	a->flags |= ACCT_F_DIRTY;
}

static void test_idle(const struct config *cfg, const char *spec)
{
	uint32_t now = (uint32_t)time(NULL);
	struct store *st;
	struct core *c;
	char err[256], login[64];
	size_t i, n = sizeof(idle_rows) / sizeof(idle_rows[0]), kept = 0;

	if (store_open(spec, NULL, &st, err, sizeof(err)) != 0) {
		printf("# store: %s\n", err);
		abort();
	}
	/* Each account last wrote (clean stop) at now - idle. */
	for (i = 0; i < n; i++) {
		c = open_core(cfg, st);
		snprintf(login, sizeof(login), "idle%zu@example.test", i);
		make_habit(c, login, now - idle_rows[i].idle);
		is_int(core_snapshot_flush(c, now - idle_rows[i].idle), 0,
		       "%s: flushed at the last write", idle_rows[i].label);
		core_free(c);
		kept += idle_rows[i].keeps;
	}
	c = open_core(cfg, st);
	is_int((long)c->snap.loaded, (long)kept,
	       "restart: the records younger than 90 days load");
	for (i = 0; i < n; i++) {
		const struct idle_row *r = &idle_rows[i];
		struct acct *a;
		int w, busy = 0;

		snprintf(login, sizeof(login), "idle%zu@example.test", i);
		a = acct_table_get(c->accounts, login, false, 0);
		if (!r->keeps) {
			ok(a == NULL, "%s: habit gone with the record",
			   r->label);
			continue;
		}
		if (!ok(a != NULL, "%s: account restored", r->label))
			continue;
		ok(acct_net_known(a, NET), "%s: habitual network kept",
		   r->label);
		ok(a->baseline == 6.5f, "%s: habitual peak kept (%g)",
		   r->label, (double)a->baseline);
		is_int(a->first_seen, now - r->idle - 10 * DAY,
		       "%s: first seen kept", r->label);
		ok(acct_rcpt_known(a, "partner@example.org"),
		   "%s: correspondent kept", r->label);
		for (w = 0; w < W__COUNT; w++)
			busy += acct_win_count(a, (enum acct_win)w, now) != 0;
		if (r->idle >= DAY)
			is_int(busy, 0, "%s: every window empty", r->label);
		else
			ok(acct_win_count(a, W_RCPT_DAY, now) > 0,
			   "%s: the day window still counts", r->label);
		is_int(acct_rcpt_min_count(a, now), 0,
		       "%s: recipient minute empty", r->label);
		is_int(acct_domain_count(a, now), 0,
		       "%s: domain sketch empty", r->label);
		is_int(acct_net_recent(a, now, 600), 0,
		       "%s: no recent network in the last 10 min", r->label);
	}
	core_free(c);
	store_close(st);
}

/*
 * A version-1 record written before issue 9's fields (no rcpts, rcpt_min,
 * hourly), as stored with the old one-day expiry: it loads, its new
 * counters at zero.
 */
static void test_old_record(const struct config *cfg, const char *spec)
{
	uint32_t now = (uint32_t)time(NULL), at = now - 3600;
	struct store *st;
	struct core *c;
	struct acct *a;
	char err[256], rec[512];

	if (store_open(spec, NULL, &st, err, sizeof(err)) != 0) {
		printf("# store: %s\n", err);
		abort();
	}
	snprintf(rec, sizeof(rec),
		 "{\"v\":1,\"at\":%u,\"first_seen\":%u,\"win\":{"
		 "\"msg_min\":[0,0,0],\"msg_hour\":[%u,3,0],"
		 "\"ext_hour\":[0,0,0],\"int_hour\":[0,0,0],"
		 "\"rcpt_day\":[%u,3,0]},"
		 "\"nets\":[[%u,%u],[0,0],[0,0],[0,0]],"
		 "\"known\":[%u,0,0,0],\"dom_hour\":0,"
		 "\"domains\":\"0000000000000000\",\"mismatch\":0,"
		 "\"baseline\":4.0,\"throttled_msgs\":0,\"risk_until\":0,"
		 "\"newnet_until\":0,\"score\":0,\"suspicious\":false}",
		 at, at - 5 * DAY, at / 3600, at / DAY, NET, at, NET);
	store_put(st, "counters", "old@example.test", rec,
		  (int64_t)at + DAY, NULL, NULL);
	c = open_core(cfg, st);
	is_int((long)c->snap.loaded, 1, "old record: loaded");
	is_int((long)c->snap.load_bad, 0, "old record: not counted bad");
	a = acct_table_get(c->accounts, "old@example.test", false, 0);
	if (ok(a != NULL, "old record: account restored")) {
		ok(acct_net_known(a, NET), "old record: habitual network");
		ok(a->baseline == 4.0f, "old record: habitual peak");
		is_int(acct_win_count(a, W_RCPT_DAY, now), 3,
		       "old record: day window");
		is_int(acct_rcpt_bits(a), 0,
		       "old record: no correspondents (new field absent)");
		ok(!(a->flags & ACCT_F_RCPT_HABIT),
		   "old record: new-recipient habit not learnt");
	}
	core_free(c);
	store_close(st);
}

int main(void)
{
	char err[256], path[96], spec[128];
	struct config *cfg = config_load(NULL, err, sizeof(err));

	log_setup("test-habit", false, LOG_L_ERR);
	if (!ok(cfg != NULL, "default config"))
		return tap_done();
	snprintf(path, sizeof(path), "/tmp/mamori-test-habit-%d.db",
		 (int)getpid());
	snprintf(spec, sizeof(spec), "sqlite:%s", path);
	test_idle(cfg, spec);
	test_sqlite_unlink(path);
	test_old_record(cfg, spec);
	test_sqlite_unlink(path);
	config_free(cfg);
	return tap_done();
}
