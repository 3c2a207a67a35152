/*
 * test-login-gate - core_login(): Dovecot's login events through the core
 * with a real login engine on a memory: store, and what they do to the
 * accounts: outbound risk after a new network, restriction and the
 * forced-reset flag for accounts an attacker entered (per
 * auth_compromised_action, including those found only after their
 * address was judged), a password change recognised after a restriction
 * (the core tells the engine of the restriction itself), and the verdict
 * the front-end gets.  Engine time is injected through the request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/login.h"
#include "core/acct.h"
#include "core/core-internal.h"
#include "core/core.h"
#include "core/login_gate.h"
#include "store/store.h"
#include "tap.h"
#include "util/config.h"
#include "util/log.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int64_t T0;

struct env {
	struct config *cfg;
	struct store *st;
	struct core *core;
	struct login_engine *login;
	char path[64];
};

/* Config (defaults plus conf), a memory store, the core and, unless
 * no_engine, the login engine handed to it. */
static void env_open(struct env *e, const char *conf, bool no_engine)
{
	char err[512];
	FILE *f;

	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "/tmp/mamori-test-lgate-XXXXXX");
	f = fdopen(mkstemp(e->path), "w");
	fprintf(f, "local_domains = example.jp\nnotify_smtp_url =\n%s",
		conf ? conf : "");
	fclose(f);
	if (!(e->cfg = config_load(e->path, err, sizeof(err))) ||
	    store_open("memory:", NULL, &e->st, err, sizeof(err)) != 0 ||
	    !(e->core = core_new(e->cfg, e->st, NULL, err, sizeof(err))) ||
	    (!no_engine && !(e->login = login_engine_new(e->cfg, e->st, err,
							 sizeof(err))))) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	core_set_login(e->core, e->login);
}

/* Close what env_open opened. */
static void env_close(struct env *e)
{
	core_free(e->core);
	login_engine_free(e->login);
	store_close(e->st);
	config_free(e->cfg);
	unlink(e->path);
}

/* Keep the verdict the callback got; count the calls. */
struct got {
	struct core_login_verdict v;
	int calls;
};

/* Verdicts seen by event(), [stage][action], for test_metrics(). */
static uint64_t tally[3][3];

static void got_verdict(void *arg, const struct core_login_verdict *v)
{
	struct got *g = arg;

	g->v = *v;
	g->calls++;
}

/* One event through core_login; the verdict in *v.  Fails the test if
 * the callback did not run exactly once. */
static void event(struct env *e, enum core_login_command cmd,
		  const char *login, const char *ip, const char *pwhash,
		  bool success, bool prej, int64_t now,
		  struct core_login_verdict *v)
{
	struct core_login_request r = {
		.command = cmd, .login = login, .remote = ip,
		.protocol = "imap", .pwhash = pwhash, .mech = "PLAIN",
		.pwversion = "", .session_id = "", .success = success,
		.policy_reject = prej, .now = now,
	};
	struct got g = { .calls = 0 };

	core_login(e->core, &r, got_verdict, &g);
	if (g.calls != 1)
		ok(0, "core_login called back %d times for %s", g.calls, login);
	else
		tally[g.v.stage][g.v.action]++;	/* test_metrics() */
	*v = g.v;
}

/* The verdicts of one whole login as Dovecot runs it. */
struct cyc {
	struct core_login_verdict b, a, r;
	bool after;
};

/* Allow; allow again if the password is right and not refused; report. */
static void cycle(struct env *e, const char *login, const char *ip,
		  bool correct, const char *pwhash, int64_t now, struct cyc *c)
{
	memset(c, 0, sizeof(*c));
	event(e, CORE_LOGIN_ALLOW, login, ip, pwhash, false, false, now,
	      &c->b);
	if (c->b.status < 0) {
		event(e, CORE_LOGIN_REPORT, login, ip, pwhash, false, true,
		      now, &c->r);
		return;
	}
	if (correct) {
		c->after = true;
		event(e, CORE_LOGIN_ALLOW, login, ip, pwhash, false, false,
		      now, &c->a);
		event(e, CORE_LOGIN_REPORT, login, ip, pwhash, c->a.status >= 0,
		      c->a.status < 0, now, &c->r);
		return;
	}
	event(e, CORE_LOGIN_REPORT, login, ip, pwhash, false, false, now,
	      &c->r);
}

/* An account's state after the consequences ("absent" if unknown); the
 * table is keyed by account key (core_account_key). */
struct acct_view {
	const char *state;
	bool force_reset;
	bool risk;			/* outbound login risk in the future */
	bool cred_changed;
};

static struct acct_view view(struct env *e, const char *login)
{
	struct acct *a = acct_table_get(e->core->accounts, login, false,
					core_now(0));
	struct acct_view v = { .state = "absent" };

	if (!a)
		return v;
	v.state = acct_state_name((enum acct_state)a->state);
	v.force_reset = (a->flags & ACCT_F_FORCE_RESET) != 0;
	v.risk = a->login_risk_until > core_now(0);
	v.cred_changed = a->cred_changed != 0;
	return v;
}

/* Scenarios: each drives logins and returns the verdict to check. */

/* A first login teaches the network; one from another /24 is new. */
static void drive_new_network(struct env *e, struct core_login_verdict *out)
{
	struct cyc c;

	cycle(e, "nn@example.jp", "198.51.100.5", true, "c0de", T0, &c);
	cycle(e, "nn@example.jp", "203.0.113.7", true, "c0de", T0 + 60, &c);
	*out = c.a;
}

/* Credential stuffing from one address: 40 accounts, every 20th pair
 * valid.  s000 succeeds before the address is judged, s020 after. */
static void drive_stuffing(struct env *e, struct core_login_verdict *out)
{
	struct cyc c;
	char login[32], pw[8];
	int i;

	for (i = 0; i < 40; i++) {
		bool correct = i % 20 == 0;

		snprintf(login, sizeof(login), "s%03d@example.jp", i);
		snprintf(pw, sizeof(pw), "%04x", correct ? 0xc0de : i * 97);
		cycle(e, login, "203.0.113.9", correct, pw, T0 + i * 5, &c);
		if (i == 20)
			*out = c.a;
	}
}

/* An honest account restricted by the admin, then a login with a new
 * password: recognised, as the core told the engine of the restriction. */
static void drive_password_change(struct env *e,
				  struct core_login_verdict *out)
{
	struct cyc c;

	cycle(e, "pc@example.jp", "198.51.100.5", true, "0a1b", T0, &c);
	core_account_restrict(e->core, "pc@example.jp", "test", "test", NULL,
			      NULL);
	cycle(e, "pc@example.jp", "198.51.100.5", true, "0a1b", T0 + 60, &c);
	cycle(e, "pc@example.jp", "198.51.100.5", true, "ffee", T0 + 120, &c);
	*out = c.a;
}

/* The same for a login with a control byte (Dovecot JSON-escapes it as
 * \u0001): the core holds its account under the key "pc\x01@...", the
 * engine under the login itself; the admin names the key. */
static void drive_password_change_ctl(struct env *e,
				      struct core_login_verdict *out)
{
	static const char login[] = "pc\001@example.jp";
	struct cyc c;

	cycle(e, login, "198.51.100.5", true, "0a1b", T0, &c);
	core_account_restrict(e->core, "pc\\x01@example.jp", "test", "test",
			      NULL, NULL);
	cycle(e, login, "198.51.100.5", true, "ffee", T0 + 60, &c);
	*out = c.a;
}

/* A new network for a login with a control byte: keyed the same way. */
static void drive_new_network_ctl(struct env *e,
				  struct core_login_verdict *out)
{
	struct cyc c;

	cycle(e, "nn\033@example.jp", "198.51.100.5", true, "c0de", T0, &c);
	cycle(e, "nn\033@example.jp", "203.0.113.7", true, "c0de", T0 + 60,
	      &c);
	*out = c.a;
}

/* A brute force: wrong passwords from one address until refused. */
static void drive_bruteforce(struct env *e, struct core_login_verdict *out)
{
	struct cyc c;
	char pw[8];
	int i;

	for (i = 0; i < 40; i++) {
		snprintf(pw, sizeof(pw), "%04x", i * 131);
		cycle(e, "bf@example.jp", "192.0.2.66", false, pw, T0 + i, &c);
	}
	*out = c.b;
}

/* One allow with no engine set. */
static void drive_one(struct env *e, struct core_login_verdict *out)
{
	event(e, CORE_LOGIN_ALLOW, "one@example.jp", "198.51.100.5", "0a1b",
	      false, false, T0, out);
}

struct want_acct {
	const char *login;
	struct acct_view v;
};

static const struct row {
	const char *label;
	const char *conf;
	bool no_engine;
	void (*drive)(struct env *e, struct core_login_verdict *out);
	/* the verdict drive returns */
	enum core_login_stage stage;
	enum core_login_action action;
	int status;			/* sign only: -1, 0, 1 */
	bool compromised;
	bool incident;			/* names an incident */
	const char *reason;		/* a substring */
	struct want_acct acct[3];
} rows[] = {
	{"new network", "", false, drive_new_network,
	 CORE_LOGIN_AFTER, CORE_LOGIN_ACCEPT, 0, false, false,
	 "rule=new_network",
	 {{"nn@example.jp", {"normal", false, true, false}}}},
	{"new network, auth_new_network_risk = 0",
	 "auth_new_network_risk = 0\n", false, drive_new_network,
	 CORE_LOGIN_AFTER, CORE_LOGIN_ACCEPT, 0, false, false,
	 "rule=new_network",
	 {{"nn@example.jp", {"absent", false, false, false}}}},
	{"stuffing, restrict", "", false, drive_stuffing,
	 CORE_LOGIN_AFTER, CORE_LOGIN_REJECT, -1, true, true,
	 "state=stuffing",
	 {{"s020@example.jp", {"restricted", true, false, false}},
	  {"s000@example.jp", {"restricted", true, false, false}},
	  {"s001@example.jp", {"absent", false, false, false}}}},
	{"stuffing, auth_compromised_action = flag",
	 "auth_compromised_action = flag\n", false, drive_stuffing,
	 CORE_LOGIN_AFTER, CORE_LOGIN_REJECT, -1, true, true,
	 "state=stuffing",
	 {{"s020@example.jp", {"normal", true, false, false}},
	  {"s000@example.jp", {"normal", true, false, false}}}},
	{"stuffing, auth_compromised_action = none",
	 "auth_compromised_action = none\n", false, drive_stuffing,
	 CORE_LOGIN_AFTER, CORE_LOGIN_REJECT, -1, true, true,
	 "state=stuffing",
	 {{"s020@example.jp", {"absent", false, false, false}},
	  {"s000@example.jp", {"absent", false, false, false}}}},
	{"password change after a restriction", "", false,
	 drive_password_change,
	 CORE_LOGIN_AFTER, CORE_LOGIN_ACCEPT, 0, false, false,
	 "evidence=pwhash_changed",
	 {{"pc@example.jp", {"restricted", false, false, true}}}},
	{"password change, login with a control byte", "", false,
	 drive_password_change_ctl,
	 CORE_LOGIN_AFTER, CORE_LOGIN_ACCEPT, 0, false, false,
	 "evidence=pwhash_changed",
	 {{"pc\\x01@example.jp", {"restricted", false, false, true}},
	  {"pc\001@example.jp", {"absent", false, false, false}}}},
	{"new network, login with a control byte", "", false,
	 drive_new_network_ctl,
	 CORE_LOGIN_AFTER, CORE_LOGIN_ACCEPT, 0, false, false,
	 "rule=new_network",
	 {{"nn\\x1b@example.jp", {"normal", false, true, false}},
	  {"nn\033@example.jp", {"absent", false, false, false}}}},
	{"brute force", "", false, drive_bruteforce,
	 CORE_LOGIN_BEFORE, CORE_LOGIN_REJECT, -1, false, true, "",
	 {{"bf@example.jp", {"absent", false, false, false}}}},
	{"no login engine", "", true, drive_one,
	 CORE_LOGIN_BEFORE, CORE_LOGIN_ACCEPT, 0, false, false,
	 "login_engine=off",
	 {{"one@example.jp", {"absent", false, false, false}}}},
};

/* The sign of x. */
static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void test_rows(void)
{
	size_t i, k;

	for (i = 0; i < NELEM(rows); i++) {
		const struct row *w = &rows[i];
		struct core_login_verdict v;
		struct env e;

		env_open(&e, w->conf, w->no_engine);
		memset(&v, 0, sizeof(v));
		w->drive(&e, &v);
		is_str(core_login_stage_name(v.stage),
		       core_login_stage_name(w->stage), "%s: stage", w->label);
		is_str(core_login_action_name(v.action),
		       core_login_action_name(w->action), "%s: action",
		       w->label);
		is_int(sign(v.status), w->status, "%s: status", w->label);
		is_int(v.compromised, w->compromised, "%s: compromised",
		       w->label);
		is_int(v.incident[0] != '\0', w->incident, "%s: incident \"%s\"",
		       w->label, v.incident);
		if (!ok(strstr(v.reason, w->reason) != NULL,
			"%s: reason has \"%s\"", w->label, w->reason))
			printf("#   reason: %s\n", v.reason);
		for (k = 0; k < NELEM(w->acct) && w->acct[k].login; k++) {
			const struct want_acct *a = &w->acct[k];
			struct acct_view got = view(&e, a->login);

			is_str(got.state, a->v.state, "%s: %s state",
			       w->label, a->login);
			is_int(got.force_reset, a->v.force_reset,
			       "%s: %s force_reset", w->label, a->login);
			is_int(got.risk, a->v.risk, "%s: %s outbound risk",
			       w->label, a->login);
			is_int(got.cred_changed, a->v.cred_changed,
			       "%s: %s credential change", w->label, a->login);
		}
		if (e.login) {
			char **left = NULL;

			is_int(login_take_compromised(e.login, &left), 0,
			       "%s: the engine's later-found list was taken",
			       w->label);
			free(left);
		}
		env_close(&e);
	}
}

/* Every stage and action has its log name. */
static void test_names(void)
{
	is_str(core_login_stage_name(CORE_LOGIN_BEFORE), "before", "stage before");
	is_str(core_login_stage_name(CORE_LOGIN_AFTER), "after", "stage after");
	is_str(core_login_stage_name(CORE_LOGIN_AT_REPORT), "report",
	       "stage report");
	is_str(core_login_action_name(CORE_LOGIN_ACCEPT), "allow",
	       "action allow");
	is_str(core_login_action_name(CORE_LOGIN_DELAY), "delay",
	       "action delay");
	is_str(core_login_action_name(CORE_LOGIN_REJECT), "reject",
	       "action reject");
}

/* /metrics counts every answer by stage and outcome, as event() saw them:
 * a brute force (rejects and delays), then logins that work. */
static void test_metrics(void)
{
	struct core_login_verdict v;
	struct core_metrics_view m;
	struct env e;
	struct cyc c;
	uint64_t total = 0;
	size_t s, a;

	memset(tally, 0, sizeof(tally));
	env_open(&e, "", false);
	drive_bruteforce(&e, &v);
	cycle(&e, "ok@example.jp", "203.0.113.8", true, "beef", T0 + 100, &c);
	core_metrics_get(e.core, &m);
	for (s = 0; s < 3; s++) {
		for (a = 0; a < 3; a++) {
			is_int((long)m.logins[s][a], (long)tally[s][a],
			       "metrics: logins at %s, %s", m.login_stage[s],
			       m.login_outcome[a]);
			is_str(m.login_outcome[a],
			       core_login_action_name((enum core_login_action)a),
			       "metrics: outcome label %zu", a);
			total += m.logins[s][a];
		}
		is_str(m.login_stage[s],
		       core_login_stage_name((enum core_login_stage)s),
		       "metrics: stage label %zu", s);
	}
	is_int((long)total, 40 * 2 + 3, "metrics: every answer counted once");
	ok(m.logins[CORE_LOGIN_BEFORE][CORE_LOGIN_REJECT] +
	   m.logins[CORE_LOGIN_BEFORE][CORE_LOGIN_DELAY] > 0,
	   "metrics: the brute force was refused or delayed");
	env_close(&e);
}

int main(void)
{
	log_setup("test-login-gate", false, LOG_L_FATAL);
	T0 = (int64_t)time(NULL);
	test_rows();
	test_names();
	test_metrics();
	return tap_done();
}
