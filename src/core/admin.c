/*
 * admin - the core's administrative operations on accounts (admin.h): list
 * and show accounts, restrict, credential changes, release, statistics.
 * Held mail is in admin_held.c, the login-abuse engine's routes in
 * admin_login.c.
 *
 * Results are built on the stack or in a short-lived owner and handed to
 * the callback; the strings point into the account table, the class
 * config or parsed store records, all alive until the callback returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/admin-internal.h"
#include "core/dmarc_names.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/xalloc.h"

#define LIST_MAX 10000

void core_reply(core_admin_cb *cb, void *arg, enum core_status st,
		const char *msg)
{
	struct core_result r = { .status = st, .error = msg ? msg : "",
				 .kind = CORE_R_NONE };

	if (cb)
		cb(arg, &r);
}

/* Fill the state record of a. */
static void account_fill(struct core *c, const struct acct *a,
			 struct core_account *out)
{
	out->login = a->login;
	out->state = acct_state_name(a->state);
	out->strikes = a->strikes;
	out->since = a->state_since;
	out->until = a->state_until;
	out->last_strike = a->last_strike;
	out->credential_changed = a->cred_changed;
	out->first_seen = a->first_seen;
	out->reason = core_reason_get(c, a);
	out->throttle_suspicious = (a->flags & ACCT_F_SUSPICIOUS) != 0;
	out->force_reset = (a->flags & ACCT_F_FORCE_RESET) != 0;
}

/* Answer CORE_OK with a's state record (and held, when not NULL). */
static void reply_account(struct core *c, const struct acct *a,
			  const struct core_held_done *held,
			  core_admin_cb *cb, void *arg)
{
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_ACCOUNT, .held_action = held };

	account_fill(c, a, &r.account);
	if (cb)
		cb(arg, &r);
}

struct list_ctx {
	struct core *c;
	struct core_account_row *v;
	int state;		/* -1 = non-normal, -2 = all */
	size_t n;
	bool truncated;
};

/* Add one account to a listing if it matches. */
static void list_one(struct acct *a, void *arg)
{
	struct list_ctx *l = arg;
	struct core_account_row *r;

	if (l->state == -1 && a->state == ACCT_NORMAL && a->score == 0)
		return;
	if (l->state >= 0 && a->state != l->state)
		return;
	if (l->n >= LIST_MAX) {
		l->truncated = true;
		return;
	}
	r = &l->v[l->n++];
	r->login = a->login;
	r->state = acct_state_name(a->state);
	r->strikes = a->strikes;
	r->score = a->score;
	r->since = a->state_since;
	r->class_name = core_class_of(l->c, a->login)->name;
}

void core_accounts_list(struct core *c, const char *state, core_admin_cb *cb,
			void *arg)
{
	struct list_ctx l = { .c = c, .state = -1 };
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_ACCOUNTS };
	size_t cap = acct_table_count(c->accounts);

	if (state && *state && strcmp(state, "all") == 0)
		l.state = -2;
	else if (state && *state && (l.state = acct_state_parse(state)) < 0) {
		core_reply(cb, arg, CORE_E_INVALID, "unknown state (normal, "
			   "throttled, restricted, probation, suspended, all)");
		return;
	}
	l.v = xcalloc(cap < LIST_MAX ? cap + 1 : LIST_MAX, sizeof(*l.v));
	acct_table_foreach(c->accounts, list_one, &l);
	r.accounts.v = l.v;
	r.accounts.n = l.n;
	r.accounts.truncated = l.truncated;
	cb(arg, &r);
	free(l.v);
}

/* The stored events of one account, each a JSON document. */
struct event_set {
	char **v;
	size_t n, cap;
	int result;
};

/* Collect one event log row. */
static void event_row(void *arg, int result, const char *key,
		      const char *value, int64_t ts)
{
	struct event_set *s = arg;

	(void)ts;
	if (!key) {
		s->result = result;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = xstrdup(value);
}

/* Free an event set. */
static void event_set_free(struct event_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

void core_account_show(struct core *c, const char *login, core_admin_cb *cb,
		       void *arg)
{
	struct acct *a = acct_table_get(c->accounts, login, false, 0);
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_ACCOUNT_DETAIL };
	struct core_account_detail *d = &r.detail;
	struct event_set ev = { .result = -1 };
	struct core_held_set held;
	const struct class_config *cl;
	json_t *counters;
	char *ctext, *ltext;
	int sr = STORE_OK;

	/* Not in memory: evicted, or known to another mamorid sharing the
	 * store.  Its stored state and counters are as good as a restart's. */
	if (!a)
		a = core_account_recall(c, login, &sr);
	if (!a && sr != STORE_NOTFOUND) {
		core_reply(cb, arg, CORE_E_RETRY, "store unavailable");
		return;
	}
	if (!a) {
		core_reply(cb, arg, CORE_E_NOTFOUND, "no such account (no "
			   "mail from it and no record in the store)");
		return;
	}
	core_held_set_load(c, login, &held);
	if (held.result == STORE_OK)
		store_log(c->st, "event", login, event_row, &ev);
	if (held.result != STORE_OK || ev.result != STORE_OK) {
		core_held_set_free(&held);
		event_set_free(&ev);
		core_reply(cb, arg, CORE_E_RETRY, "store unavailable");
		return;
	}
	cl = core_class_of(c, login);
	account_fill(c, a, &r.account);
	d->class_name = cl->name;
	d->observe = cl->mode == MODE_OBSERVE;
	d->score = a->score;
	counters = core_evidence(c, a, core_now(0));
	ctext = json_dumps(counters, JSON_COMPACT);
	json_decref(counters);
	d->counters_json = ctext ? ctext : "{}";
	d->limits.msgs_per_minute = cl->msgs_per_minute;
	d->limits.msgs_per_hour = cl->msgs_per_hour;
	d->limits.ext_rcpts_per_hour = cl->ext_rcpts_per_hour;
	d->limits.int_rcpts_per_hour = cl->int_rcpts_per_hour;
	d->limits.rcpts_per_day = cl->rcpts_per_day;
	d->limits.score_throttle = cl->score_throttle;
	d->limits.score_restrict = cl->score_restrict;
	d->held.v = held.v;
	d->held.n = held.n;
	d->events_json = (const char *const *)ev.v;
	d->nevents = ev.n;
	ltext = core_login_account_json(c, login);
	d->logins_json = ltext;
	cb(arg, &r);
	free(ltext);
	free(ctext);
	core_held_set_free(&held);
	event_set_free(&ev);
}

/* An admin transition in flight. */
struct admin_op {
	struct core *c;
	char *login;
	core_admin_cb *cb;
	void *arg;
	/* release: what to do with held mail, and what was done */
	bool force;
	char *reason;
	char *actor;
	struct core_held_done held;
	char held_action[8];
	char **held_ids;
};

static struct admin_op *admin_op_new(struct core *c, const char *login,
				     core_admin_cb *cb, void *arg)
{
	struct admin_op *op = xcalloc(1, sizeof(*op));

	op->c = c;
	op->login = xstrdup(login);
	op->cb = cb;
	op->arg = arg;
	return op;
}

/* Free an op. */
static void admin_op_free(struct admin_op *op)
{
	size_t i;

	for (i = 0; i < op->held.n; i++)
		free(op->held_ids[i]);
	free(op->held_ids);
	free(op->login);
	free(op->reason);
	free(op->actor);
	free(op);
}

/* Transition or record written: answer with the account. */
static void admin_done(void *arg, int result)
{
	struct admin_op *op = arg;
	struct acct *a = acct_table_get(op->c->accounts, op->login, false, 0);

	if (result != STORE_OK)
		core_reply(op->cb, op->arg, CORE_E_RETRY,
			   "store unavailable: nothing changed");
	else if (!a)
		core_reply(op->cb, op->arg, CORE_E_FAIL, "account vanished");
	else
		reply_account(op->c, a, op->held_action[0] ? &op->held : NULL,
			      op->cb, op->arg);
	admin_op_free(op);
}

void core_account_restrict(struct core *c, const char *login,
			   const char *reason, const char *actor,
			   core_admin_cb *cb, void *arg)
{
	uint32_t now = core_now(0);
	struct acct *a;

	if (!login || !*login || !reason || !*reason) {
		core_reply(cb, arg, CORE_E_INVALID,
			   "login and reason are required");
		return;
	}
	a = acct_table_get(c->accounts, login, true, now);
	if (a->state == ACCT_RESTRICTED || a->state == ACCT_SUSPENDED) {
		core_reply(cb, arg, CORE_E_CONFLICT,
			   "account is already restricted");
		return;
	}
	if (a->pending) {
		core_reply(cb, arg, CORE_E_CONFLICT,
			   "a state change is in progress; retry");
		return;
	}
	core_transition(c, a, ACCT_RESTRICTED, "admin", actor, reason,
			core_evidence(c, a, now), now, admin_done,
			admin_op_new(c, login, cb, arg));
}

void core_account_credential_changed(struct core *c, const char *login,
				     const char *source, const char *actor,
				     core_admin_cb *cb, void *arg)
{
	uint32_t now = core_now(0);
	struct acct *a;
	json_t *ev;
	char *evs;
	char q1[LOG_QSZ], q2[LOG_QSZ];

	if (!login || !*login) {
		core_reply(cb, arg, CORE_E_INVALID, "login is required");
		return;
	}
	a = acct_table_get(c->accounts, login, true, now);
	a->cred_changed = now;
	a->flags &= (uint8_t)~ACCT_F_FORCE_RESET;
	ev = json_pack("{s:I, s:s, s:s, s:s, s:s}", "time", (json_int_t)now,
		       "from", acct_state_name(a->state), "to",
		       acct_state_name(a->state), "cause", "credential_changed",
		       "actor", actor);
	json_object_set_new(ev, "reason", json_string(source && *source ?
						      source : "unspecified"));
	evs = json_dumps(ev, JSON_COMPACT);
	store_append(c->st, "event", login, evs, now, NULL, NULL);
	free(evs);
	json_decref(ev);
	log_msg(LOG_L_NOTICE,
		"event=credential_changed account=%s source=%s actor=%s",
		log_q(q1, sizeof(q1), login),
		log_q(q2, sizeof(q2), source ? source : ""), actor);
	core_account_save(c, a, admin_done, admin_op_new(c, login, cb, arg));
}

/* Held mail handled (or kept): move the account into probation. */
static void release_transition(struct admin_op *op)
{
	struct acct *a = acct_table_get(op->c->accounts, op->login, false, 0);
	char why[600];

	if (!a || a->pending || (a->state != ACCT_RESTRICTED &&
				 a->state != ACCT_SUSPENDED &&
				 a->state != ACCT_THROTTLED)) {
		/* Changed while the held-mail command ran. */
		core_reply(op->cb, op->arg, CORE_E_CONFLICT,
			   "the account's state changed meanwhile; retry");
		admin_op_free(op);
		return;
	}
	snprintf(why, sizeof(why), "%s%s", op->force ? "forced: " :
		 "password changed", op->force ? op->reason : "");
	core_transition(op->c, a, ACCT_PROBATION, op->force ? "admin_force" :
			"admin_release", op->actor, why, NULL, core_now(0),
			admin_done, op);
}

/* The held-mail command of a release ended. */
static void release_held_ran(void *arg, enum core_status st, const char *err,
			     const char *const *ids, size_t n)
{
	struct admin_op *op = arg;
	char why[600];
	size_t i;

	if (st != CORE_OK) {
		snprintf(why, sizeof(why), "held messages: %s; account not "
			 "released", err);
		core_reply(op->cb, op->arg, st, why);
		admin_op_free(op);
		return;
	}
	op->held_ids = xcalloc(n ? n : 1, sizeof(*op->held_ids));
	for (i = 0; i < n; i++)
		op->held_ids[i] = xstrdup(ids[i]);
	op->held.ids = (const char *const *)op->held_ids;
	op->held.n = n;
	release_transition(op);
}

void core_account_release(struct core *c, const char *login, bool force,
			  const char *reason, const char *held,
			  const char *actor, core_admin_cb *cb, void *arg)
{
	struct acct *a = acct_table_get(c->accounts, login, false, 0);
	struct core_held_set set;
	struct admin_op *op;

	if (!held || !*held)
		held = "keep";
	if (strcmp(held, "release") && strcmp(held, "delete") &&
	    strcmp(held, "keep")) {
		core_reply(cb, arg, CORE_E_INVALID,
			   "held must be release, delete or keep");
		return;
	}
	if (!a) {
		core_reply(cb, arg, CORE_E_NOTFOUND, "no such account");
		return;
	}
	if (a->state != ACCT_RESTRICTED && a->state != ACCT_SUSPENDED &&
	    a->state != ACCT_THROTTLED) {
		core_reply(cb, arg, CORE_E_CONFLICT, "account is not restricted");
		return;
	}
	if (force && (!reason || !*reason)) {
		core_reply(cb, arg, CORE_E_INVALID, "--force needs --reason");
		return;
	}
	if (a->state == ACCT_SUSPENDED && !force) {
		core_reply(cb, arg, CORE_E_CONFLICT, "account is suspended: "
			   "only a forced release with a reason lifts it");
		return;
	}
	/* Same second counts: a portal confirming the change right away. */
	if (!force && a->state != ACCT_THROTTLED &&
	    a->cred_changed < a->state_since) {
		core_reply(cb, arg, CORE_E_CONFLICT, "no password change "
			   "recorded since the restriction; confirm one with "
			   "credential-changed, or use --force --reason TEXT");
		return;
	}
	if (a->pending) {
		core_reply(cb, arg, CORE_E_CONFLICT,
			   "a state change is in progress; retry");
		return;
	}
	op = admin_op_new(c, login, cb, arg);
	op->force = force;
	op->reason = xstrdup(reason ? reason : "");
	op->actor = xstrdup(actor ? actor : "-");
	snprintf(op->held_action, sizeof(op->held_action), "%s", held);
	op->held.action = op->held_action;
	if (strcmp(held, "keep") == 0) {
		release_transition(op);
		return;
	}
	core_held_set_load(c, login, &set);
	if (set.result != STORE_OK) {
		core_held_set_free(&set);
		core_reply(cb, arg, CORE_E_FAIL, "held messages: store "
			   "unavailable; account not released");
		admin_op_free(op);
		return;
	}
	core_held_run(c, set.v, set.n, held, actor, release_held_ran, op);
	core_held_set_free(&set);
}

/* Count accounts per state. */
static void count_state(struct acct *a, void *arg)
{
	size_t *n = arg;

	n[a->state]++;
}

void core_stats_get(struct core *c, struct core_stats_view *v)
{
	size_t n[5] = { 0 };

	memset(v, 0, sizeof(*v));
	acct_table_foreach(c->accounts, count_state, n);
	v->accounts = acct_table_count(c->accounts);
	v->decisions = c->stats.decisions;
	v->dunno = c->stats.actions[VERDICT_DUNNO];
	v->defer = c->stats.actions[VERDICT_DEFER];
	v->hold = c->stats.actions[VERDICT_HOLD];
	v->reject = c->stats.actions[VERDICT_REJECT];
	v->observed = c->stats.observed;
	v->unauthenticated = c->stats.unauthenticated;
	v->messages = c->stats.messages;
	v->recipients = c->stats.recipients;
	v->transitions = c->stats.transitions;
	v->store_failures = c->stats.store_failures;
	v->held_messages = c->stats.held;
	v->accounts_evicted = c->stats.evictions;
	v->accounts_refused = c->stats.accounts_refused;
	v->normal = n[ACCT_NORMAL];
	v->throttled = n[ACCT_THROTTLED];
	v->restricted = n[ACCT_RESTRICTED];
	v->probation = n[ACCT_PROBATION];
	v->suspended = n[ACCT_SUSPENDED];
	v->login_json = core_login_stats_json(c);
}

void core_stats_view_deinit(struct core_stats_view *v)
{
	free(v->login_json);
	v->login_json = NULL;
}

void core_metrics(struct core *c, struct buf *out)
{
	size_t n[5] = { 0 };
	int i;

	acct_table_foreach(c->accounts, count_state, n);
	buf_printf(out, "# HELP mamori_decisions_total Policy decisions by action.\n"
		   "# TYPE mamori_decisions_total counter\n");
	for (i = 0; i < 4; i++)
		buf_printf(out, "mamori_decisions_total{action=\"%s\"} %llu\n",
			   verdict_action_name((enum verdict_action)i),
			   c->stats.actions[i]);
	buf_printf(out, "# HELP mamori_accounts Tracked accounts by state.\n"
		   "# TYPE mamori_accounts gauge\n");
	for (i = 0; i < 5; i++)
		buf_printf(out, "mamori_accounts{state=\"%s\"} %zu\n",
			   acct_state_name((enum acct_state)i), n[i]);
	buf_printf(out, "# TYPE mamori_messages_total counter\n"
		   "mamori_messages_total %llu\n"
		   "# TYPE mamori_recipients_total counter\n"
		   "mamori_recipients_total %llu\n"
		   "# TYPE mamori_transitions_total counter\n"
		   "mamori_transitions_total %llu\n"
		   "# TYPE mamori_store_failures_total counter\n"
		   "mamori_store_failures_total %llu\n"
		   "# TYPE mamori_observed_total counter\n"
		   "mamori_observed_total %llu\n",
		   c->stats.messages, c->stats.recipients,
		   c->stats.transitions, c->stats.store_failures,
		   c->stats.observed);
	buf_printf(out, "# HELP mamori_accounts_evicted_total Idle normal "
		   "accounts evicted at max_accounts.\n"
		   "# TYPE mamori_accounts_evicted_total counter\n"
		   "mamori_accounts_evicted_total %llu\n"
		   "# HELP mamori_accounts_refused_total Requests answered by "
		   "store_failure_action: max_accounts reached, none evictable.\n"
		   "# TYPE mamori_accounts_refused_total counter\n"
		   "mamori_accounts_refused_total %llu\n",
		   c->stats.evictions, c->stats.accounts_refused);
	/* A fleet sharing a store (fleet.c); zero on a store of one host. */
	buf_printf(out, "# HELP mamori_fleet_reads_total RCPT reads of the "
		   "fleet's counters.\n"
		   "# TYPE mamori_fleet_reads_total counter\n"
		   "mamori_fleet_reads_total %llu\n"
		   "# HELP mamori_fleet_fast_total RCPT decided on this host's "
		   "fresh copy (fleet_fast_age).\n"
		   "# TYPE mamori_fleet_fast_total counter\n"
		   "mamori_fleet_fast_total %llu\n"
		   "# HELP mamori_fleet_failures_total Counts the store could "
		   "not take or give.\n"
		   "# TYPE mamori_fleet_failures_total counter\n"
		   "mamori_fleet_failures_total %llu\n"
		   "# HELP mamori_fleet_notices_total Account records other "
		   "hosts wrote.\n"
		   "# TYPE mamori_fleet_notices_total counter\n"
		   "mamori_fleet_notices_total %llu\n",
		   c->stats.fleet_reads, c->stats.fleet_fast,
		   c->stats.fleet_failures, c->stats.fleet_notices);
}

void core_set_base(struct core *c, struct event_base *base)
{
	proc_runner_free(c->procs);
	c->procs = base ? proc_runner_new(base) : NULL;
	dmarc_names_free(c->names);
	c->names = base ? dmarc_names_new(base) : NULL;
	if (base && !c->procs)
		log_msg(LOG_L_ERR, "event=core_set_base error=\"cannot handle "
			"SIGCHLD: held-mail commands will fail\"");
}

void core_login_risk(struct core *c, const char *login, int64_t until)
{
	struct acct *a;
	char *key;

	if (!login || !*login)
		return;
	key = core_account_key(login);
	a = core_account_admit(c, key, core_now(0));
	free(key);
	if (a && (uint32_t)until > a->login_risk_until) {
		a->login_risk_until = (uint32_t)until;
		a->flags |= ACCT_F_DIRTY;
	}
}

void core_set_outbox(struct core *c, struct outbox *o)
{
	c->outbox = o;
}

/* The force-reset flag is written; now restrict if asked. */
struct compromised_op {
	struct core *c;
	struct acct *a;
	bool restrict_it;
	char reason[512];
	core_admin_cb *cb;
	void *arg;
};

static void compromised_saved(void *arg, int result)
{
	struct compromised_op *op = arg;
	struct acct *a = op->a;

	if (result != STORE_OK) {
		core_reply(op->cb, op->arg, CORE_E_RETRY, "store unavailable");
	} else if (op->restrict_it && a->state != ACCT_RESTRICTED &&
		   a->state != ACCT_SUSPENDED && !a->pending) {
		uint32_t now = core_now(0);

		core_transition(op->c, a, ACCT_RESTRICTED,
				"credentials_compromised", "mamorid:login-abuse",
				op->reason, core_evidence(op->c, a, now), now,
				admin_done, admin_op_new(op->c, a->login,
							 op->cb, op->arg));
	} else {
		reply_account(op->c, a, NULL, op->cb, op->arg);
	}
	free(op);
}

void core_account_compromised(struct core *c, const char *login,
			      bool restrict_it, const char *reason,
			      core_admin_cb *cb, void *arg)
{
	struct compromised_op *op;
	struct acct *a;
	char q1[LOG_QSZ], q2[LOG_QSZ];

	char *key;

	if (!login || !*login)
		return;
	key = core_account_key(login);
	a = acct_table_get(c->accounts, key, true, core_now(0));
	free(key);
	a->flags |= ACCT_F_FORCE_RESET;
	log_msg(LOG_L_WARN, "event=account_compromised account=%s restrict=%s "
		"reason=%s", log_q(q1, sizeof(q1), a->login),
		restrict_it ? "yes" : "no", log_q(q2, sizeof(q2), reason));
	op = xcalloc(1, sizeof(*op));
	op->c = c;
	op->a = a;
	op->restrict_it = restrict_it;
	snprintf(op->reason, sizeof(op->reason), "%s", reason);
	op->cb = cb;
	op->arg = arg;
	core_account_save(c, a, compromised_saved, op);
}
