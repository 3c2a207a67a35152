/*
 * admin - the core's administrative operations (HTTP API /v1, CLI):
 * list and show accounts, restrict, credential changes, release, held mail,
 * statistics.
 *
 * Held mail is released or deleted by running the configured command
 * (default postsuper -H / -d) without a shell, queue IDs as arguments, at
 * most HELD_BATCH a run.  It runs synchronously: postsuper takes
 * milliseconds and this is an admin path, not the mail path.
 */
#include <ctype.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/core-internal.h"
#include "util/log.h"
#include "util/xalloc.h"

extern char **environ;

#define HELD_BATCH 500
#define LIST_MAX 10000

/* Reply with {"error": msg} and status. */
static void reply_error(core_json_cb *cb, void *arg, int status,
			const char *msg)
{
	cb(arg, status, json_pack("{s:s}", "error", msg));
}

/* Does a queue ID look like one Postfix makes (hex or long base-52)? */
static bool queue_id_ok(const char *q)
{
	size_t i, n = strlen(q);

	if (n == 0 || n > 32)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)q[i]))
			return false;
	return true;
}

/*
 * Run cmd (split on blanks, no shell) with the queue IDs appended.  Returns
 * 0 on exit status 0, else -1 with a message.
 */
static int run_held_command(const char *cmd, const char *const *ids, size_t n,
			    char *err, size_t errsz)
{
	char *copy = xstrdup(cmd), *save = NULL, *tok;
	char **argv = xcalloc(2 * n + 64, sizeof(*argv));
	size_t argc = 0, argc0, i;
	pid_t pid;
	int status, r;

	for (tok = strtok_r(copy, " \t", &save); tok && argc < 60;
	     tok = strtok_r(NULL, " \t", &save))
		argv[argc++] = tok;
	if (argc == 0) {
		snprintf(err, errsz, "empty command");
		free(copy);
		free(argv);
		return -1;
	}
	argc0 = argc;
	/* postsuper takes one ID per option ("-H a -H b"; "-H a b" would
	 * read b as a queue directory): a command ending in an option gets
	 * it repeated before each further ID. */
	for (i = 0; i < n; i++) {
		if (i > 0 && argv[argc0 - 1][0] == '-')
			argv[argc++] = argv[argc0 - 1];
		argv[argc++] = (char *)ids[i];
	}
	argv[argc] = NULL;
	r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
	if (r != 0) {
		snprintf(err, errsz, "%s: %s", argv[0], strerror(r));
		free(copy);
		free(argv);
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
	if (r)
		snprintf(err, errsz, "%s exited with status %d", argv[0],
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	free(copy);
	free(argv);
	return r;
}

struct list_ctx {
	json_t *arr;
	int state;		/* -1 = non-normal, -2 = all */
	size_t n;
	bool truncated;
};

/* Add one account to a listing if it matches. */
static void list_one(struct acct *a, void *arg)
{
	struct list_ctx *l = arg;

	if (l->state == -1 && a->state == ACCT_NORMAL && a->score == 0)
		return;
	if (l->state >= 0 && a->state != l->state)
		return;
	if (l->n >= LIST_MAX) {
		l->truncated = true;
		return;
	}
	json_array_append_new(l->arr, json_pack("{s:s, s:s, s:i, s:i, s:I}",
		"login", a->login, "state", acct_state_name(a->state),
		"strikes", a->strikes, "score", a->score,
		"since", (json_int_t)a->state_since));
	l->n++;
}

void core_accounts_list(struct core *c, const char *state, core_json_cb *cb,
			void *arg)
{
	struct list_ctx l = { .arr = json_array(), .state = -1 };
	size_t i;

	if (state && *state && strcmp(state, "all") == 0)
		l.state = -2;
	else if (state && *state && (l.state = acct_state_parse(state)) < 0) {
		json_decref(l.arr);
		reply_error(cb, arg, 400, "unknown state (normal, throttled, "
			    "restricted, probation, suspended, all)");
		return;
	}
	acct_table_foreach(c->accounts, list_one, &l);
	for (i = 0; i < json_array_size(l.arr); i++) {
		json_t *o = json_array_get(l.arr, i);
		const struct class_config *cl =
			core_class_of(c, json_string_value(json_object_get(o, "login")));

		json_object_set_new(o, "class", json_string(cl->name));
	}
	cb(arg, 200, json_pack("{s:o, s:b}", "accounts", l.arr, "truncated",
			       l.truncated));
}

struct show_ctx {
	json_t *body;
	json_t *list;
	const char *login;
	int result;
};

/* Collect held rows of one login (or all when login is NULL). */
static void held_row(void *arg, int result, const char *key, const char *value,
		     int64_t ts)
{
	struct show_ctx *s = arg;
	json_t *o;

	(void)ts;
	if (!key) {
		s->result = result;
		return;
	}
	o = json_loads(value, 0, NULL);
	if (!o)
		return;
	if (s->login && (!json_is_string(json_object_get(o, "login")) ||
			 strcmp(json_string_value(json_object_get(o, "login")),
				s->login) != 0)) {
		json_decref(o);
		return;
	}
	json_array_append_new(s->list, o);
}

/* Collect event log rows. */
static void event_row(void *arg, int result, const char *key,
		      const char *value, int64_t ts)
{
	struct show_ctx *s = arg;
	json_t *o;

	(void)ts;
	if (!key) {
		s->result = result;
		return;
	}
	o = json_loads(value, 0, NULL);
	if (o)
		json_array_append_new(s->list, o);
}

/* The held messages of login (NULL: all), or NULL if the store failed. */
static json_t *held_of(struct core *c, const char *login)
{
	struct show_ctx s = { .list = json_array(), .login = login,
			      .result = -1 };

	/* sqlite/memory answer synchronously; see core_load(). */
	store_scan(c->st, "held", "", held_row, &s);
	if (s.result != STORE_OK) {
		json_decref(s.list);
		return NULL;
	}
	return s.list;
}

void core_account_show(struct core *c, const char *login, core_json_cb *cb,
		       void *arg)
{
	struct acct *a = acct_table_get(c->accounts, login, false, 0);
	struct show_ctx s = { .login = login, .result = -1 };
	uint32_t now = core_now(0);
	const struct class_config *cl;
	json_t *body, *held;

	if (!a) {
		reply_error(cb, arg, 404, "no such account (it has sent no "
			    "mail since mamorid started and has no record)");
		return;
	}
	cl = core_class_of(c, login);
	body = core_account_json(c, a);
	json_object_set_new(body, "class", json_string(cl->name));
	json_object_set_new(body, "mode", json_string(
		cl->mode == MODE_OBSERVE ? "observe" : "enforce"));
	json_object_set_new(body, "score", json_integer(a->score));
	json_object_set_new(body, "counters", core_evidence(c, a, now));
	json_object_set_new(body, "limits", json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"msgs_per_minute", (json_int_t)cl->msgs_per_minute,
		"msgs_per_hour", (json_int_t)cl->msgs_per_hour,
		"ext_rcpts_per_hour", (json_int_t)cl->ext_rcpts_per_hour,
		"int_rcpts_per_hour", (json_int_t)cl->int_rcpts_per_hour,
		"rcpts_per_day", (json_int_t)cl->rcpts_per_day,
		"score_throttle", (json_int_t)cl->score_throttle,
		"score_restrict", (json_int_t)cl->score_restrict));
	held = held_of(c, login);
	if (!held) {
		json_decref(body);
		reply_error(cb, arg, 503, "store unavailable");
		return;
	}
	json_object_set_new(body, "held", held);
	s.list = json_array();
	store_log(c->st, "event", login, event_row, &s);
	if (s.result != STORE_OK) {
		json_decref(s.list);
		json_decref(body);
		reply_error(cb, arg, 503, "store unavailable");
		return;
	}
	json_object_set_new(body, "events", s.list);
	cb(arg, 200, body);
}

/* An admin transition in flight. */
struct admin_op {
	struct core *c;
	struct acct *a;
	core_json_cb *cb;
	void *arg;
	json_t *extra;
};

/* Transition written: answer with the account. */
static void admin_done(void *arg, int result)
{
	struct admin_op *op = arg;

	if (result != STORE_OK) {
		reply_error(op->cb, op->arg, 503,
			    "store unavailable: nothing changed");
	} else {
		json_t *body = core_account_json(op->c, op->a);

		if (op->extra)
			json_object_update(body, op->extra);
		op->cb(op->arg, 200, body);
	}
	json_decref(op->extra);
	free(op);
}

static struct admin_op *admin_op_new(struct core *c, struct acct *a,
				     core_json_cb *cb, void *arg)
{
	struct admin_op *op = xcalloc(1, sizeof(*op));

	op->c = c;
	op->a = a;
	op->cb = cb;
	op->arg = arg;
	return op;
}

void core_account_restrict(struct core *c, const char *login,
			   const char *reason, const char *actor,
			   core_json_cb *cb, void *arg)
{
	uint32_t now = core_now(0);
	struct acct *a;

	if (!login || !*login || !reason || !*reason) {
		reply_error(cb, arg, 400, "login and reason are required");
		return;
	}
	a = acct_table_get(c->accounts, login, true, now);
	if (a->state == ACCT_RESTRICTED || a->state == ACCT_SUSPENDED) {
		reply_error(cb, arg, 409, "account is already restricted");
		return;
	}
	if (a->pending) {
		reply_error(cb, arg, 409, "a state change is in progress; retry");
		return;
	}
	core_transition(c, a, ACCT_RESTRICTED, "admin", actor, reason,
			core_evidence(c, a, now), now, admin_done,
			admin_op_new(c, a, cb, arg));
}

void core_account_credential_changed(struct core *c, const char *login,
				     const char *source, const char *actor,
				     core_json_cb *cb, void *arg)
{
	uint32_t now = core_now(0);
	struct acct *a;
	struct admin_op *op;
	json_t *ev;
	char *evs;
	char q1[LOG_QSZ], q2[LOG_QSZ];

	if (!login || !*login) {
		reply_error(cb, arg, 400, "login is required");
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
	op = admin_op_new(c, a, cb, arg);
	core_account_save(c, a, admin_done, op);
}

/* Release or delete held messages of login; -1 with err on failure. */
static int held_apply(struct core *c, const char *login, const char *action,
		      json_t **done, char *err, size_t errsz)
{
	json_t *held = held_of(c, login);
	const char *cmd = strcmp(action, "release") == 0 ?
		c->cfg->held_release_command : c->cfg->held_delete_command;
	const char *ids[HELD_BATCH];
	size_t i, n = 0, total;

	if (!held) {
		snprintf(err, errsz, "store unavailable");
		return -1;
	}
	total = json_array_size(held);
	*done = json_array();
	for (i = 0; i <= total; i++) {
		if (i < total) {
			const char *q = json_string_value(json_object_get(
				json_array_get(held, i), "queue_id"));

			if (!q || !queue_id_ok(q))
				continue;
			ids[n++] = q;
		}
		if (n == HELD_BATCH || (i == total && n > 0)) {
			size_t k;

			if (run_held_command(cmd, ids, n, err, errsz) != 0) {
				json_decref(held);
				return -1;
			}
			for (k = 0; k < n; k++) {
				store_del(c->st, "held", ids[k], NULL, NULL);
				json_array_append_new(*done, json_string(ids[k]));
			}
			n = 0;
		}
	}
	json_decref(held);
	return 0;
}

void core_account_release(struct core *c, const char *login, bool force,
			  const char *reason, const char *held,
			  const char *actor, core_json_cb *cb, void *arg)
{
	uint32_t now = core_now(0);
	struct acct *a = acct_table_get(c->accounts, login, false, 0);
	struct admin_op *op;
	json_t *done = NULL;
	char err[512], why[600];

	if (!held || !*held)
		held = "keep";
	if (strcmp(held, "release") && strcmp(held, "delete") &&
	    strcmp(held, "keep")) {
		reply_error(cb, arg, 400, "held must be release, delete or keep");
		return;
	}
	if (!a) {
		reply_error(cb, arg, 404, "no such account");
		return;
	}
	if (a->state != ACCT_RESTRICTED && a->state != ACCT_SUSPENDED &&
	    a->state != ACCT_THROTTLED) {
		reply_error(cb, arg, 409, "account is not restricted");
		return;
	}
	if (force && (!reason || !*reason)) {
		reply_error(cb, arg, 400, "--force needs --reason");
		return;
	}
	if (a->state == ACCT_SUSPENDED && !force) {
		reply_error(cb, arg, 409, "account is suspended: only a forced "
			    "release with a reason lifts it");
		return;
	}
	/* Same second counts: a portal confirming the change right away. */
	if (!force && a->state != ACCT_THROTTLED &&
	    a->cred_changed < a->state_since) {
		reply_error(cb, arg, 409, "no password change recorded since "
			    "the restriction; confirm one with "
			    "credential-changed, or use --force --reason TEXT");
		return;
	}
	if (a->pending) {
		reply_error(cb, arg, 409, "a state change is in progress; retry");
		return;
	}
	if (strcmp(held, "keep") != 0 &&
	    held_apply(c, login, held, &done, err, sizeof(err)) != 0) {
		json_decref(done);
		snprintf(why, sizeof(why), "held messages: %s; account not "
			 "released", err);
		reply_error(cb, arg, 500, why);
		return;
	}
	snprintf(why, sizeof(why), "%s%s", force ? "forced: " : "password "
		 "changed", force ? reason : "");
	op = admin_op_new(c, a, cb, arg);
	op->extra = json_pack("{s:s, s:o}", "held_action", held,
			      "held_done", done ? done : json_array());
	core_transition(c, a, ACCT_PROBATION, force ? "admin_force" :
			"admin_release", actor, why, NULL, now, admin_done, op);
}

void core_held_list(struct core *c, const char *login, core_json_cb *cb,
		    void *arg)
{
	json_t *held = held_of(c, login && *login ? login : NULL);

	if (!held) {
		reply_error(cb, arg, 503, "store unavailable");
		return;
	}
	cb(arg, 200, json_pack("{s:o}", "held", held));
}

/* Read one held record; the value is copied to out. */
static void held_get(void *arg, int result, const char *value)
{
	char **out = arg;

	*out = result == STORE_OK ? xstrdup(value) :
	       result == STORE_NOTFOUND ? xstrdup("") : NULL;
}

void core_held_action(struct core *c, const char *queue_id,
		      const char *action, const char *actor, core_json_cb *cb,
		      void *arg)
{
	char *rec = NULL, err[512];
	const char *cmd;
	const char *ids[1];

	if (!queue_id_ok(queue_id)) {
		reply_error(cb, arg, 400, "bad queue ID");
		return;
	}
	if (strcmp(action, "release") && strcmp(action, "delete")) {
		reply_error(cb, arg, 400, "action must be release or delete");
		return;
	}
	store_get(c->st, "held", queue_id, held_get, &rec);
	if (!rec) {
		reply_error(cb, arg, 503, "store unavailable");
		return;
	}
	if (!*rec) {
		free(rec);
		reply_error(cb, arg, 404, "no such held message");
		return;
	}
	free(rec);
	cmd = strcmp(action, "release") == 0 ? c->cfg->held_release_command :
		c->cfg->held_delete_command;
	ids[0] = queue_id;
	if (run_held_command(cmd, ids, 1, err, sizeof(err)) != 0) {
		reply_error(cb, arg, 500, err);
		return;
	}
	store_del(c->st, "held", queue_id, NULL, NULL);
	log_msg(LOG_L_NOTICE, "event=held_%s queue_id=%s actor=%s", action,
		queue_id, actor);
	cb(arg, 200, json_pack("{s:s, s:s}", "queue_id", queue_id, "action",
			       action));
}

/* Count accounts per state. */
static void count_state(struct acct *a, void *arg)
{
	size_t *n = arg;

	n[a->state]++;
}

json_t *core_stats(struct core *c)
{
	size_t n[5] = { 0 };

	acct_table_foreach(c->accounts, count_state, n);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}",
		"accounts", (json_int_t)acct_table_count(c->accounts),
		"decisions", (json_int_t)c->stats.decisions,
		"dunno", (json_int_t)c->stats.actions[VERDICT_DUNNO],
		"defer", (json_int_t)c->stats.actions[VERDICT_DEFER],
		"hold", (json_int_t)c->stats.actions[VERDICT_HOLD],
		"reject", (json_int_t)c->stats.actions[VERDICT_REJECT],
		"observed", (json_int_t)c->stats.observed,
		"unauthenticated", (json_int_t)c->stats.unauthenticated,
		"messages", (json_int_t)c->stats.messages,
		"recipients", (json_int_t)c->stats.recipients,
		"transitions", (json_int_t)c->stats.transitions,
		"store_failures", (json_int_t)c->stats.store_failures,
		"held_messages", (json_int_t)c->stats.held,
		"states",
		"normal", (json_int_t)n[ACCT_NORMAL],
		"throttled", (json_int_t)n[ACCT_THROTTLED],
		"restricted", (json_int_t)n[ACCT_RESTRICTED],
		"probation", (json_int_t)n[ACCT_PROBATION],
		"suspended", (json_int_t)n[ACCT_SUSPENDED]);
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
}

void core_login_risk(struct core *c, const char *login, int64_t until)
{
	struct acct *a;

	if (!login || !*login)
		return;
	a = acct_table_get(c->accounts, login, true, core_now(0));
	if ((uint32_t)until > a->login_risk_until) {
		a->login_risk_until = (uint32_t)until;
		a->flags |= ACCT_F_DIRTY;
	}
}

void core_set_abuse_hook(struct core *c, core_abuse_hook *fn, void *arg)
{
	c->abuse_hook = fn;
	c->abuse_arg = arg;
}

void core_set_outbox(struct core *c, struct outbox *o)
{
	c->outbox = o;
}

/* Ignore an admin result nobody waits for. */
static void json_ignore(void *arg, int status, json_t *body)
{
	(void)arg;
	(void)status;
	json_decref(body);
}

/* The force-reset flag is written; now restrict if asked. */
struct compromised_op {
	struct core *c;
	struct acct *a;
	bool restrict_it;
	char reason[512];
	core_json_cb *cb;
	void *arg;
};

static void compromised_saved(void *arg, int result)
{
	struct compromised_op *op = arg;
	struct acct *a = op->a;

	if (result != STORE_OK) {
		reply_error(op->cb, op->arg, 503, "store unavailable");
	} else if (op->restrict_it && a->state != ACCT_RESTRICTED &&
		   a->state != ACCT_SUSPENDED && !a->pending) {
		uint32_t now = core_now(0);

		core_transition(op->c, a, ACCT_RESTRICTED,
				"credentials_compromised", "mamorid:login-abuse",
				op->reason, core_evidence(op->c, a, now), now,
				admin_done, admin_op_new(op->c, a, op->cb,
							 op->arg));
	} else {
		op->cb(op->arg, 200, core_account_json(op->c, a));
	}
	free(op);
}

void core_account_compromised(struct core *c, const char *login,
			      bool restrict_it, const char *reason,
			      core_json_cb *cb, void *arg)
{
	struct compromised_op *op;
	struct acct *a;
	char q1[LOG_QSZ], q2[LOG_QSZ];

	if (!login || !*login)
		return;
	a = acct_table_get(c->accounts, login, true, core_now(0));
	a->flags |= ACCT_F_FORCE_RESET;
	log_msg(LOG_L_WARN, "event=account_compromised account=%s restrict=%s "
		"reason=%s", log_q(q1, sizeof(q1), login),
		restrict_it ? "yes" : "no", log_q(q2, sizeof(q2), reason));
	op = xcalloc(1, sizeof(*op));
	op->c = c;
	op->a = a;
	op->restrict_it = restrict_it;
	snprintf(op->reason, sizeof(op->reason), "%s", reason);
	op->cb = cb ? cb : json_ignore;
	op->arg = arg;
	core_account_save(c, a, compromised_saved, op);
}
