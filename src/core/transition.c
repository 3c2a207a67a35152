/*
 * transition - durable account state changes, startup loading, and the
 * core's life cycle.
 *
 * The account record (namespace "account", key = login, JSON) is the truth;
 * the event log (namespace "event", key = login) is the evidence trail.  A
 * transition writes the record first and changes the in-memory state only
 * when the store confirms, so what the daemon enforces is always what a
 * restart will load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login.h"
#include "core/core-internal.h"
#include "core/history.h"
#include "core/outbox.h"
#include "notify/notify.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

struct transition {
	struct core *c;
	struct acct *a;
	enum acct_state from, to;
	uint8_t strikes;
	uint32_t now, until, last_strike;
	char cause[48];
	char actor[96];
	char reason[512];
	json_t *evidence;
	store_done_cb *cb;
	void *arg;
};

const char *core_reason_get(struct core *c, const struct acct *a)
{
	(void)c;
	return a->detail && a->detail->reason[0] ? a->detail->reason : NULL;
}

/* The account record as stored, with the fields given (maybe not yet
 * applied in memory). */
static char *record_text(const struct acct *a, enum acct_state state,
			 uint8_t strikes, uint32_t since, uint32_t until,
			 uint32_t last_strike, const char *reason)
{
	json_t *o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:s, s:f, s:b}",
			      "state", acct_state_name(state),
			      "strikes", strikes,
			      "since", (json_int_t)since,
			      "until", (json_int_t)until,
			      "last_strike", (json_int_t)last_strike,
			      "credential_changed", (json_int_t)a->cred_changed,
			      "first_seen", (json_int_t)a->first_seen,
			      "reason", reason ? reason : "",
			      "baseline", (double)a->baseline,
			      "force_reset", (a->flags & ACCT_F_FORCE_RESET) != 0);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

/* The record is durable (or not): apply, log, notify, answer. */
static void transition_written(void *arg, int result)
{
	struct transition *t = arg;
	struct core *c = t->c;
	struct acct *a = t->a;
	char q1[LOG_QSZ], q2[LOG_QSZ];
	json_t *evj;
	char *evs, id[64];

	a->pending = 0;
	if (result != STORE_OK) {
		c->stats.store_failures++;
		log_msg(LOG_L_ERR,
			"event=transition_failed account=%s from=%s to=%s store=%s",
			log_q(q1, sizeof(q1), a->login),
			acct_state_name(t->from), acct_state_name(t->to),
			store_result_str(result));
		json_decref(t->evidence);
		t->cb(t->arg, result);
		free(t);
		return;
	}
	a->state = (uint8_t)t->to;
	a->strikes = t->strikes;
	/* The login engine keeps the password evidence of the abuse; it
	 * knows the login as Dovecot sent it, not its account key. */
	if (c->login &&
	    (t->to == ACCT_RESTRICTED || t->to == ACCT_SUSPENDED)) {
		char *login = xstrdup(a->login);

		utf8_unescape(login);
		login_note_abused(c->login, login);
		free(login);
	}
	a->state_since = t->now;
	a->state_until = t->until;
	a->last_strike = t->last_strike;
	if (t->to == ACCT_THROTTLED || t->to == ACCT_NORMAL)
		a->throttled_msgs = 0;
	a->flags |= ACCT_F_DIRTY;	/* throttled_msgs, suspicious */
	if (t->to != ACCT_NORMAL || a->detail)
		snprintf(acct_detail_get(a)->reason,
			 sizeof(a->detail->reason), "%.255s", t->reason);
	c->stats.transitions++;
	snprintf(id, sizeof(id), "%u-%llu", t->now,
		 (unsigned long long)++c->event_seq);

	evj = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:I}",
			"id", id, "time", (json_int_t)t->now,
			"from", acct_state_name(t->from),
			"to", acct_state_name(t->to),
			"cause", t->cause, "actor", t->actor,
			"reason", t->reason, "strikes", t->strikes,
			"until", (json_int_t)t->until);
	if (t->evidence)
		json_object_set(evj, "evidence", t->evidence);
	evs = json_dumps(evj, JSON_COMPACT);
	store_append(c->st, "event", a->login, evs, t->now, NULL, NULL);

	log_msg(LOG_L_WARN,
		"event=transition account=%s from=%s to=%s cause=%s actor=%s "
		"strikes=%u until=%u reason=%s",
		log_q(q1, sizeof(q1), a->login), acct_state_name(t->from),
		acct_state_name(t->to), t->cause, t->actor, t->strikes,
		t->until, log_q(q2, sizeof(q2), t->reason));

	/* Notices on transitions that matter to people, never per message. */
	if (c->nt && (t->to == ACCT_THROTTLED || t->to == ACCT_RESTRICTED ||
		      t->to == ACCT_SUSPENDED || t->to == ACCT_PROBATION)) {
		struct notify_event ne = {
			.kind = t->to == ACCT_PROBATION ? "released" :
				acct_state_name(t->to),
			.login = a->login,
			.state = acct_state_name(t->to),
			.reason = t->reason,
			.actor = t->actor,
			.strikes = t->strikes,
			.time = t->now,
			.id = id,
		};
		char *evtext = t->evidence ?
			json_dumps(t->evidence, JSON_INDENT(2) | JSON_SORT_KEYS) :
			NULL;

		ne.evidence_json = evtext;
		if (c->outbox)
			outbox_submit(c->outbox, &ne);
		else
			notify_event(c->nt, &ne);
		free(evtext);
	}
	free(evs);
	json_decref(evj);
	json_decref(t->evidence);
	t->cb(t->arg, STORE_OK);
	free(t);
}

void core_transition(struct core *c, struct acct *a, enum acct_state to,
		     const char *cause, const char *actor, const char *reason,
		     json_t *evidence, uint32_t now, store_done_cb *cb,
		     void *arg)
{
	const struct class_config *cl = core_class_of(c, a->login);
	struct transition *t = xcalloc(1, sizeof(*t));
	char *rec;

	t->c = c;
	t->a = a;
	t->from = (enum acct_state)a->state;
	t->now = now;
	t->strikes = a->strikes;
	t->last_strike = a->last_strike;
	if (to == ACCT_RESTRICTED || to == ACCT_SUSPENDED) {
		/* Old strikes expire; the suspend_strikes-th suspends. */
		if (t->last_strike &&
		    now - t->last_strike > (uint32_t)c->cfg->strike_window)
			t->strikes = 0;
		if (t->strikes < 255)
			t->strikes++;
		t->last_strike = now;
		if (t->strikes >= c->cfg->suspend_strikes)
			to = ACCT_SUSPENDED;
	}
	t->to = to;
	if (to == ACCT_THROTTLED)
		t->until = now + (uint32_t)cl->throttle_time;
	else if (to == ACCT_PROBATION)
		t->until = now + (uint32_t)c->cfg->probation_time;
	snprintf(t->cause, sizeof(t->cause), "%s", cause);
	snprintf(t->actor, sizeof(t->actor), "%s", actor);
	snprintf(t->reason, sizeof(t->reason), "%s", reason ? reason : "");
	t->evidence = evidence;
	t->cb = cb;
	t->arg = arg;
	a->pending = 1;
	rec = record_text(a, to, t->strikes, now, t->until, t->last_strike,
			  t->reason);
	store_put(c->st, "account", a->login, rec, 0, transition_written, t);
	free(rec);
}

void core_account_save(struct core *c, struct acct *a, store_done_cb *cb,
		       void *arg)
{
	char *rec = record_text(a, (enum acct_state)a->state, a->strikes,
				a->state_since, a->state_until, a->last_strike,
				core_reason_get(c, a));

	store_put(c->st, "account", a->login, rec, 0, cb, arg);
	free(rec);
}

/* Log a failed held-record write; the message is held in Postfix anyway. */
static void held_written(void *arg, int result)
{
	char *qid = arg;

	if (result != STORE_OK)
		log_msg(LOG_L_ERR,
			"event=held_record_failed queue_id=%s store=%s "
			"note=\"message is in the hold queue; find it with postqueue -p\"",
			qid, store_result_str(result));
	free(qid);
}

void core_held_record(struct core *c, const char *queue_id, const char *login,
		      uint32_t now)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "queue_id", queue_id,
			      "login", login, "time", (json_int_t)now);
	char *s = json_dumps(o, JSON_COMPACT);

	c->stats.held++;
	store_put(c->st, "held", queue_id, s, 0, held_written,
		  xstrdup(queue_id));
	free(s);
	json_decref(o);
}

struct load_ctx {
	struct core *c;
	const char *only;	/* this key alone (a prefix scan finds more) */
	int result;
	size_t n, bad;
};

/*
 * Apply one persisted account record to memory, creating the account (past
 * max_accounts: stored state is never dropped).  An account whose own write
 * is in flight keeps its state (that write comes after).  false for a bad
 * record (logged).
 */
static bool record_apply(struct core *c, const char *key, const char *value)
{
	json_t *o;
	json_error_t jerr;
	struct acct *a;
	const char *state = "normal", *reason = "";
	json_int_t strikes = 0, since = 0, until = 0, last = 0, cred = 0,
		   first = 0;
	double baseline = 0;
	int st, force_reset = 0;

	o = json_loads(value, 0, &jerr);
	if (!o || json_unpack(o, "{s?s, s?I, s?I, s?I, s?I, s?I, s?I, s?s, s?F, s?b}",
			      "state", &state, "strikes", &strikes,
			      "since", &since, "until", &until,
			      "last_strike", &last,
			      "credential_changed", &cred,
			      "first_seen", &first, "reason", &reason,
			      "baseline", &baseline,
			      "force_reset", &force_reset) != 0 ||
	    (st = acct_state_parse(state)) < 0) {
		char q[LOG_QSZ];

		log_msg(LOG_L_ERR, "event=load_bad_record account=%s",
			log_q(q, sizeof(q), key));
		json_decref(o);
		return false;
	}
	a = acct_table_get(c->accounts, key, true, (uint32_t)first);
	if (a->pending) {
		json_decref(o);
		return true;
	}
	a->state = (uint8_t)st;
	a->strikes = (uint8_t)(strikes > 255 ? 255 : strikes);
	a->state_since = (uint32_t)since;
	a->state_until = (uint32_t)until;
	a->last_strike = (uint32_t)last;
	a->cred_changed = (uint32_t)cred;
	a->baseline = (float)baseline;
	if (force_reset)
		a->flags |= ACCT_F_FORCE_RESET;
	if (*reason)
		snprintf(acct_detail_get(a)->reason,
			 sizeof(a->detail->reason), "%.255s", reason);
	json_decref(o);
	return true;
}

/* One persisted account: recreate it in memory. */
static void load_row(void *arg, int result, const char *key,
		     const char *value, int64_t ts)
{
	struct load_ctx *l = arg;

	(void)ts;
	if (!key) {
		l->result = result;
		return;
	}
	if (l->only && strcmp(key, l->only) != 0)
		return;
	if (record_apply(l->c, key, value))
		l->n++;
	else
		l->bad++;
}

/* The record another host wrote: apply it (a deleted one is left). */
static void reload_got(void *arg, int result, const char *value)
{
	struct core *c = ((void **)arg)[0];
	char *key = ((void **)arg)[1];

	if (result == STORE_OK)
		record_apply(c, key, value);
	else if (result != STORE_NOTFOUND)
		c->stats.store_failures++;
	free(key);
	free(arg);
}

void core_account_reload(struct core *c, const char *key)
{
	void **ctx = xcalloc(2, sizeof(void *));

	ctx[0] = c;
	ctx[1] = xstrdup(key);
	store_get(c->st, "account", key, reload_got, ctx);
}

/* The end of a reload scan: log it. */
static void reload_row(void *arg, int result, const char *key,
		       const char *value, int64_t ts)
{
	struct load_ctx *l = arg;

	load_row(arg, result, key, value, ts);
	if (key)
		return;
	log_msg(result == STORE_OK ? LOG_L_INFO : LOG_L_ERR,
		"event=state_reloaded accounts=%zu bad_records=%zu store=%s",
		l->n, l->bad, store_result_str(result));
	if (result != STORE_OK)
		l->c->stats.store_failures++;
	free(l);
}

void core_accounts_reload(struct core *c)
{
	struct load_ctx *l = xcalloc(1, sizeof(*l));

	l->c = c;
	l->result = -1;
	store_scan(c->st, "account", "", reload_row, l);
}

int core_load(struct core *c, char *err, size_t errsz)
{
	struct load_ctx l = { .c = c, .result = -1 };

	/* sqlite and memory answer synchronously; a networked store will
	 * need the daemon to wait for the final row before serving. */
	store_scan(c->st, "account", "", load_row, &l);
	if (l.result != STORE_OK) {
		snprintf(err, errsz, "loading accounts from the store: %s",
			 l.result < 0 && l.result != -1 ?
			 store_result_str(l.result) :
			 l.result == -1 ? "no answer" : store_result_str(l.result));
		return -1;
	}
	log_msg(LOG_L_INFO, "event=state_loaded accounts=%zu bad_records=%zu",
		l.n, l.bad);
	/* Then the counters, onto the states just loaded. */
	core_snapshot_load(c);
	return 0;
}

struct acct *core_account_recall(struct core *c, const char *key,
				 int *result)
{
	struct load_ctx l = { .c = c, .only = key, .result = -1 };
	int r;

	store_scan(c->st, "account", key, load_row, &l);
	if (l.result != STORE_OK) {
		*result = l.result == -1 ? STORE_E_RETRY : l.result;
		return NULL;
	}
	r = core_snapshot_recall(c, key);
	if (r != STORE_OK && r != STORE_NOTFOUND) {
		*result = r;
		return NULL;
	}
	*result = l.n || r == STORE_OK ? STORE_OK : STORE_NOTFOUND;
	return acct_table_get(c->accounts, key, false, 0);
}

struct core *core_new(const struct config *cfg, struct store *st,
		      struct notify *nt, char *err, size_t errsz)
{
	struct core *c = xcalloc(1, sizeof(*c));

	c->cfg = cfg;
	c->st = st;
	c->nt = nt;
	c->accounts = acct_table_new();
	c->instances = xcalloc(CORE_INSTANCES, sizeof(*c->instances));
	c->map = acctmap_load(cfg, err, errsz);
	if (c->map && cfg->sender_map && *cfg->sender_map)
		c->senders = sendermap_load(cfg->sender_map, err, errsz);
	if (!c->map || (cfg->sender_map && *cfg->sender_map && !c->senders) ||
	    core_load(c, err, errsz) != 0) {
		core_free(c);
		return NULL;
	}
	core_fleet_watch(c);
	return c;
}

void core_free(struct core *c)
{
	if (!c)
		return;
	core_set_base(c, NULL);
	acct_table_free(c->accounts);
	acctmap_free(c->map);
	sendermap_free(c->senders);
	free(c->instances);
	core_hist_free(c->hist);
	free(c);
}

int core_reconfigure(struct core *c, const struct config *cfg, char *err,
		     size_t errsz)
{
	struct acctmap *m = acctmap_load(cfg, err, errsz);
	struct sendermap *sm = NULL;

	if (!m)
		return -1;
	if (cfg->sender_map && *cfg->sender_map &&
	    !(sm = sendermap_load(cfg->sender_map, err, errsz))) {
		acctmap_free(m);
		return -1;
	}
	acctmap_free(c->map);
	c->map = m;
	sendermap_free(c->senders);
	c->senders = sm;
	c->cfg = cfg;
	return 0;
}
