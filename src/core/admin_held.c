/*
 * admin_held - held mail: the records of messages the core put on hold
 * (namespace "held", written by core_held_record()), and the commands that
 * release or delete them (held_release_command, held_delete_command;
 * postsuper -H / -d by default).
 *
 * A command runs without a shell, queue IDs appended, at most HELD_BATCH
 * IDs a run, through util/proc: the event loop goes on serving while it
 * runs, and the answer goes out when it has ended.  One that runs longer
 * than held_command_timeout seconds is killed.  Every run is logged
 * (event=held_command: action, IDs, exit status, duration); a run that
 * fails leaves its messages held and writes the attempt into their held
 * records ("last_attempt"), a run that succeeds removes them.
 *
 * Limits: HELD_BATCH IDs a run keeps argv well under ARG_MAX; a queue ID
 * is 1-32 alphanumerics (Postfix makes hex or long base-52 IDs), so no ID
 * can be read as an option or a path.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/admin-internal.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/xalloc.h"

#define HELD_BATCH 500
#define HELD_ARGS 60		/* words of the configured command */
#define HELD_LOG_IDS 1024	/* bytes of IDs in one log line */

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

/* An integer member, or 0. */
static int64_t jint(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

/* A string member, or "". */
static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* Parse one held record into the set if it belongs to the set's login. */
static void held_scan_row(void *arg, int result, const char *key,
			  const char *value, int64_t ts)
{
	struct core_held_set *set = arg;
	struct core_held_row *r;
	json_t *o, *at;

	(void)ts;
	if (!key) {
		set->result = result;
		return;
	}
	o = json_loads(value, 0, NULL);
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "queue_id")) ||
	    (set->login && strcmp(jstr(o, "login"), set->login) != 0)) {
		json_decref(o);
		return;
	}
	if (set->n == set->cap) {
		set->cap = set->cap ? 2 * set->cap : 16;
		set->v = xrealloc(set->v, set->cap * sizeof(*set->v));
		set->docs = xrealloc(set->docs, set->cap * sizeof(*set->docs));
	}
	set->docs[set->n] = o;
	r = &set->v[set->n++];
	memset(r, 0, sizeof(*r));
	r->queue_id = jstr(o, "queue_id");
	r->login = jstr(o, "login");
	r->time = jint(o, "time");
	at = json_object_get(o, "last_attempt");
	if (json_is_object(at)) {
		r->have_attempt = true;
		r->attempt.action = jstr(at, "action");
		r->attempt.result = jstr(at, "result");
		r->attempt.exit_status = (int)jint(at, "exit");
		r->attempt.time = jint(at, "time");
		r->attempt.duration_ms = jint(at, "duration_ms");
	}
}

void core_held_set_load(struct core *c, const char *login,
			struct core_held_set *set)
{
	memset(set, 0, sizeof(*set));
	set->login = login;
	set->result = -1;
	/* sqlite/memory answer synchronously; see core_load(). */
	store_scan(c->st, "held", "", held_scan_row, set);
}

void core_held_set_free(struct core_held_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		json_decref(set->docs[i]);
	free(set->docs);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

void core_held_list(struct core *c, const char *login, core_admin_cb *cb,
		    void *arg)
{
	struct core_held_set set;
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_HELD };

	core_held_set_load(c, login && *login ? login : NULL, &set);
	if (set.result != STORE_OK) {
		core_held_set_free(&set);
		core_reply(cb, arg, CORE_E_RETRY, "store unavailable");
		return;
	}
	r.held.v = set.v;
	r.held.n = set.n;
	cb(arg, &r);
	core_held_set_free(&set);
}

/* One held message a run acts on. */
struct held_item {
	char *queue_id;
	char *login;
	int64_t time;
};

/* A sequence of command runs over items. */
struct held_job {
	struct core *c;
	char action[8];
	char *actor;
	struct held_item *items;
	size_t n, next, batch;
	const char **done;		/* queue IDs of the runs that succeeded */
	size_t ndone;
	core_held_run_cb *cb;
	void *arg;
};

/* Free a job. */
static void job_free(struct held_job *j)
{
	size_t i;

	for (i = 0; i < j->n; i++) {
		free(j->items[i].queue_id);
		free(j->items[i].login);
	}
	free(j->items);
	free(j->done);
	free(j->actor);
	free(j);
}

/* Report the end of the job and free it. */
static void job_finish(struct held_job *j, enum core_status st,
		       const char *err)
{
	j->cb(j->arg, st, err, j->done, j->ndone);
	job_free(j);
}

/*
 * Split cmd on blanks (no shell, no quoting) into words[0..max); returns
 * how many; the words point into *copy, which the caller frees.
 */
static size_t split_words(const char *cmd, char **copy, char **words,
			  size_t max)
{
	char *p;
	size_t n = 0;

	*copy = xstrdup(cmd);
	for (p = *copy; *p && n < max;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	return n;
}

/* The IDs of the running batch, comma-separated and bounded, for the log. */
static void batch_ids(const struct held_job *j, char *out, size_t outsz)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < j->batch; i++) {
		int w = snprintf(out + o, outsz - o, "%s%s", i ? "," : "",
				 j->items[j->next + i].queue_id);

		if (w < 0 || (size_t)w >= outsz - o) {
			snprintf(out + o, outsz - o, ",...");
			return;
		}
		o += (size_t)w;
	}
}

/* Rewrite an item's held record with the failed attempt r. */
static void record_attempt(struct held_job *j, const struct held_item *it,
			   const char *result, const struct proc_result *r)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:{s:s, s:s, s:i, s:I, s:I}}",
		"queue_id", it->queue_id, "login", it->login,
		"time", (json_int_t)it->time, "last_attempt",
		"action", j->action, "result", result,
		"exit", r ? r->exit_status : -1,
		"time", (json_int_t)time(NULL),
		"duration_ms", (json_int_t)(r ? r->duration_ms : 0));
	char *s = json_dumps(o, JSON_COMPACT);

	store_put(j->c->st, "held", it->queue_id, s, 0, NULL, NULL);
	free(s);
	json_decref(o);
}

static void job_next(struct held_job *j);

/* A run ended: log it, account for it, go on or stop. */
static void job_ran(void *arg, const struct proc_result *r)
{
	struct held_job *j = arg;
	const char *result = r->timed_out ? "timeout" :
			     r->exit_status == 0 ? "ok" : "failed";
	char ids[HELD_LOG_IDS], aq[LOG_QSZ], err[256];
	size_t i;

	batch_ids(j, ids, sizeof(ids));
	log_msg(*result == 'o' ? LOG_L_NOTICE : LOG_L_ERR,
		"event=held_command action=%s result=%s exit=%d signal=%d "
		"duration_ms=%lld count=%zu queue_ids=%s actor=%s",
		j->action, result, r->exit_status, r->signal,
		(long long)r->duration_ms, j->batch, ids,
		log_q(aq, sizeof(aq), j->actor));
	if (*result != 'o') {
		for (i = 0; i < j->batch; i++)
			record_attempt(j, &j->items[j->next + i], result, r);
		if (r->timed_out)
			snprintf(err, sizeof(err), "%s command killed after %ld s",
				 j->action, j->c->cfg->held_command_timeout);
		else if (r->exit_status < 0)
			snprintf(err, sizeof(err), "%s command killed by signal %d",
				 j->action, r->signal);
		else
			snprintf(err, sizeof(err), "%s command exited with status %d",
				 j->action, r->exit_status);
		job_finish(j, CORE_E_FAIL, err);
		return;
	}
	for (i = 0; i < j->batch; i++) {
		const char *q = j->items[j->next + i].queue_id;

		store_del(j->c->st, "held", q, NULL, NULL);
		j->done[j->ndone++] = q;
	}
	j->next += j->batch;
	job_next(j);
}

/* Start the next run, or finish. */
static void job_next(struct held_job *j)
{
	const char *cmd = strcmp(j->action, "release") == 0 ?
		j->c->cfg->held_release_command : j->c->cfg->held_delete_command;
	char *copy, **argv, err[512];
	size_t argc, argc0, i;
	int r;

	if (j->next == j->n) {
		job_finish(j, CORE_OK, "");
		return;
	}
	if (!j->c->procs) {
		job_finish(j, CORE_E_FAIL, "held-mail commands need the event "
			   "loop (core_set_base)");
		return;
	}
	j->batch = j->n - j->next < HELD_BATCH ? j->n - j->next : HELD_BATCH;
	argv = xcalloc(2 * j->batch + HELD_ARGS + 1, sizeof(*argv));
	argc = split_words(cmd, &copy, argv, HELD_ARGS);
	if (argc == 0) {
		free(copy);
		free(argv);
		job_finish(j, CORE_E_FAIL, "empty held-mail command");
		return;
	}
	argc0 = argc;
	/* postsuper takes one ID per option ("-H a -H b"; "-H a b" would
	 * read b as a queue directory): a command ending in an option gets
	 * it repeated before each further ID. */
	for (i = 0; i < j->batch; i++) {
		if (i > 0 && argv[argc0 - 1][0] == '-')
			argv[argc++] = argv[argc0 - 1];
		argv[argc++] = j->items[j->next + i].queue_id;
	}
	argv[argc] = NULL;
	r = proc_run(j->c->procs, argv, (unsigned)j->c->cfg->held_command_timeout,
		     job_ran, j);
	if (r != 0) {
		snprintf(err, sizeof(err), "%s: %s", argv[0], strerror(r));
		log_msg(LOG_L_ERR, "event=held_command action=%s result=error "
			"error=\"%s\"", j->action, strerror(r));
		for (i = 0; i < j->batch; i++)
			record_attempt(j, &j->items[j->next + i], "error", NULL);
		free(copy);
		free(argv);
		job_finish(j, CORE_E_FAIL, err);
		return;
	}
	free(copy);
	free(argv);
}

void core_held_run(struct core *c, const struct core_held_row *rows,
		   size_t n, const char *action, const char *actor,
		   core_held_run_cb *cb, void *arg)
{
	struct held_job *j = xcalloc(1, sizeof(*j));
	size_t i;

	j->c = c;
	snprintf(j->action, sizeof(j->action), "%s", action);
	j->actor = xstrdup(actor ? actor : "-");
	j->items = xcalloc(n ? n : 1, sizeof(*j->items));
	j->done = xcalloc(n ? n : 1, sizeof(*j->done));
	for (i = 0; i < n; i++) {
		/* A record whose ID could be taken for an option: skip it. */
		if (!queue_id_ok(rows[i].queue_id))
			continue;
		j->items[j->n].queue_id = xstrdup(rows[i].queue_id);
		j->items[j->n].login = xstrdup(rows[i].login);
		j->items[j->n].time = rows[i].time;
		j->n++;
	}
	j->cb = cb;
	j->arg = arg;
	job_next(j);
}

/* One held action waiting for its command. */
struct held_action_op {
	core_admin_cb *cb;
	void *arg;
	char action[8];
};

/* The command for one held message ended. */
static void held_action_ran(void *arg, enum core_status st, const char *err,
			    const char *const *ids, size_t n)
{
	struct held_action_op *op = arg;
	struct core_result r = { .status = st, .error = err,
				 .kind = CORE_R_HELD_DONE };

	r.held_done.action = op->action;
	r.held_done.ids = ids;
	r.held_done.n = n;
	if (st != CORE_OK)
		r.kind = CORE_R_NONE;
	op->cb(op->arg, &r);
	free(op);
}

/* Read one held record; the value is copied to out ("" if none). */
static void held_get(void *arg, int result, const char *value)
{
	char **out = arg;

	*out = result == STORE_OK ? xstrdup(value) :
	       result == STORE_NOTFOUND ? xstrdup("") : NULL;
}

void core_held_action(struct core *c, const char *queue_id,
		      const char *action, const char *actor,
		      core_admin_cb *cb, void *arg)
{
	struct held_action_op *op;
	struct core_held_row row = { .queue_id = queue_id, .login = "" };
	char *rec = NULL;
	json_t *o;

	if (!queue_id_ok(queue_id)) {
		core_reply(cb, arg, CORE_E_INVALID, "bad queue ID");
		return;
	}
	if (strcmp(action, "release") && strcmp(action, "delete")) {
		core_reply(cb, arg, CORE_E_INVALID,
			   "action must be release or delete");
		return;
	}
	store_get(c->st, "held", queue_id, held_get, &rec);
	if (!rec) {
		core_reply(cb, arg, CORE_E_RETRY, "store unavailable");
		return;
	}
	if (!*rec) {
		free(rec);
		core_reply(cb, arg, CORE_E_NOTFOUND, "no such held message");
		return;
	}
	o = json_loads(rec, 0, NULL);
	free(rec);
	row.login = jstr(o, "login");
	row.time = jint(o, "time");
	op = xcalloc(1, sizeof(*op));
	op->cb = cb;
	op->arg = arg;
	snprintf(op->action, sizeof(op->action), "%s", action);
	core_held_run(c, &row, 1, action, actor, held_action_ran, op);
	json_decref(o);
}
