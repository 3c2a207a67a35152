/*
 * test-account-recall - core_account_show() for an account the core does
 * not hold in memory but the store knows: written by another core on the
 * same store (two mamorid sharing one store, or a restart that had not yet
 * seen it), restricted there, or only counted there.  Two cores share one
 * sqlite: store here; the second opens before the first writes anything.
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
#include "test_sqlite.h"
#include "util/config.h"
#include "util/log.h"


/* What account show answered: status, state and the hour's messages. */
struct shown {
	enum core_status status;
	char state[32];
	long strikes;
	char counters[512];
};

/* core_admin_cb: copy what the rows check. */
static void got_show(void *arg, const struct core_result *r)
{
	struct shown *s = arg;

	s->status = r->status;
	if (r->status != CORE_OK)
		return;
	snprintf(s->state, sizeof(s->state), "%s", r->account.state);
	s->strikes = (long)r->account.strikes;
	snprintf(s->counters, sizeof(s->counters), "%s",
		 r->detail.counters_json);
}

/* core_verdict_cb that ignores the verdict. */
static void got_verdict(void *arg, const struct verdict *v)
{
	(void)arg;
	(void)v;
}

/* n messages of one recipient each from login at now. */
static void send_n(struct core *c, const char *login, int n, int64_t now)
{
	struct outbound_request r = { 0 };
	char inst[64];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(inst, sizeof(inst), "%s.%d", login, i);
		r.login = login;
		r.sender = login;
		r.client_address = "192.0.2.10";
		r.instance = inst;
		r.now = now;
		r.stage = OUT_END_OF_MESSAGE;
		r.recipient = "friend@ext.example";
		r.recipient_count = 1;
		r.queue_id = "QA1";
		core_outbound(c, &r, got_verdict, NULL);
	}
}

/* core_admin_cb for restrict: keep the status. */
static void got_status(void *arg, const struct core_result *r)
{
	*(enum core_status *)arg = r->status;
}

int main(void)
{
	char path[64], db[80], err[512];
	struct config *cfg;
	struct store *st;
	struct core *a, *b;
	enum core_status rs = CORE_E_INVALID;
	struct shown s;
	FILE *f;
	static const struct {
		const char *label, *login;
		enum core_status status;
		const char *state;
		long strikes;
		const char *counters_has;	/* NULL: not checked */
	} rows[] = {
		{"counted by the other core (snapshot only)", "kim@example.test",
		 CORE_OK, "normal", 0, "\"msgs_hour\":3"},
		{"restricted by the other core (state record)",
		 "rita@example.test", CORE_OK, "restricted", 1, NULL},
		{"a prefix of a stored login is not that login", "ki",
		 CORE_E_NOTFOUND, NULL, 0, NULL},
		{"a longer login with a stored prefix", "kim@example.test.x",
		 CORE_E_NOTFOUND, NULL, 0, NULL},
		{"never seen anywhere", "nobody@example.test", CORE_E_NOTFOUND,
		 NULL, 0, NULL},
	};
	size_t i;

	log_setup("test-account-recall", false, LOG_L_FATAL);
	snprintf(path, sizeof(path), "/tmp/mamori-test-recall-XXXXXX");
	f = fdopen(mkstemp(path), "w");
	fprintf(f, "local_domains = example.test\nnotify_smtp_url =\n");
	fclose(f);
	snprintf(db, sizeof(db), "sqlite:%s.db", path);
	cfg = config_load(path, err, sizeof(err));
	if (!cfg || store_open(db, NULL, &st, err, sizeof(err)) != 0) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	b = core_new(cfg, st, NULL, err, sizeof(err));	/* opens first */
	a = core_new(cfg, st, NULL, err, sizeof(err));
	if (!a || !b) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	/* Now, not an injected time: account show counts at the clock. */
	send_n(a, "kim@example.test", 3, (int64_t)time(NULL));
	core_account_restrict(a, "rita@example.test", "complaint", "admin:test",
			      got_status, &rs);
	is_int(rs, CORE_OK, "setup: the other core restricts rita");
	is_int(core_snapshot_flush(a, (int64_t)time(NULL)), 0, "setup: the other core writes "
	       "its counters");
	ok(acct_table_get(b->accounts, "kim@example.test", false, 0) == NULL,
	   "setup: this core does not hold kim");

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&s, 0, sizeof(s));
		s.status = CORE_E_INVALID;
		core_account_show(b, rows[i].login, got_show, &s);
		is_int(s.status, rows[i].status, "%s: status", rows[i].label);
		if (rows[i].state)
			is_str(s.state, rows[i].state, "%s: state",
			       rows[i].label);
		if (rows[i].status == CORE_OK)
			is_int(s.strikes, rows[i].strikes, "%s: strikes",
			       rows[i].label);
		if (rows[i].counters_has)
			ok(strstr(s.counters, rows[i].counters_has) != NULL,
			   "%s: counters (%s)", rows[i].label, s.counters);
	}
	ok(acct_table_get(b->accounts, "kim@example.test", false, 0) != NULL,
	   "a recalled account stays in memory, as after a restart");
	ok(acct_table_get(b->accounts, "nobody@example.test", false, 0) == NULL,
	   "an unknown login is not created by looking");

	core_free(a);
	core_free(b);
	store_close(st);
	config_free(cfg);
	unlink(path);
	snprintf(db, sizeof(db), "%s.db", path);
	test_sqlite_unlink(db);
	return tap_done();
}
