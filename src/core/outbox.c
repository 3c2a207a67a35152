/*
 * outbox - notices kept in the store until notify has ended them
 * (outbox.h).
 *
 * A record: notify_event_json() of the event (the webhook's body) plus
 * "expires" and "done": [KEY...].  Records that do not parse are skipped at
 * replay, logged, and deleted.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/outbox.h"
#include "util/log.h"
#include "util/xalloc.h"

/* A notice that ended, while its record is read back. */
struct news {
	struct outbox *o;
	char *id, *key;
};

struct outbox {
	struct store *st;
	struct notify *nt;
};

static void news_free(struct news *w)
{
	free(w->id);
	free(w->key);
	free(w);
}

/* A store write ended; a failure is logged (the notice may be sent again
 * after a restart, or not at all if the first write failed). */
static void write_done(void *arg, int result)
{
	char *id = arg, q[LOG_QSZ];

	if (result != STORE_OK)
		log_msg(LOG_L_WARN, "event=outbox_write_failed id=%s error=%s",
			log_q(q, sizeof(q), id), store_result_str(result));
	free(id);
}

/* The record of id was read: add the ended notice's key, write it back. */
static void add_done_key(void *arg, int result, const char *value)
{
	struct news *w = arg;
	struct outbox *o = w->o;
	json_t *rec, *done;
	json_int_t expires;
	char *text;
	size_t i;
	bool have = false;

	if (result != STORE_OK || !value ||
	    !(rec = json_loads(value, 0, NULL))) {
		news_free(w);
		return;		/* gone, expired, or unreadable: nothing */
	}
	done = json_object_get(rec, "done");
	if (!json_is_array(done)) {
		done = json_array();
		json_object_set_new(rec, "done", done);
	}
	for (i = 0; i < json_array_size(done); i++)
		if (json_is_string(json_array_get(done, i)) &&
		    strcmp(json_string_value(json_array_get(done, i)),
			   w->key) == 0)
			have = true;
	if (!have)
		json_array_append_new(done, json_string(w->key));
	expires = json_integer_value(json_object_get(rec, "expires"));
	text = json_dumps(rec, JSON_COMPACT);
	store_put(o->st, OUTBOX_NS, w->id, text,
		  expires > 0 ? (int64_t)expires :
		  (int64_t)time(NULL) + OUTBOX_TTL, write_done, xstrdup(w->id));
	free(text);
	json_decref(rec);
	news_free(w);
}

/* Append to login's evidence log (namespace "event", as transitions)
 * that notice key of event id ended as outcome: the account timeline's
 * "notices sent".  Keys hold no secret (a webhook is just "webhook"). */
static void log_notice_row(struct outbox *o, const char *id,
			   const char *login, const char *key,
			   enum notify_outcome outcome)
{
	int64_t now = (int64_t)time(NULL);
	json_t *row;
	char *text;

	if (!login || !*login || outcome == NOTIFY_OUT_NONE ||
	    outcome == NOTIFY_OUT_SKIPPED)
		return;		/* nothing was sent or tried */
	row = json_pack("{s:s, s:I, s:s, s:s}", "id", id, "time",
			(json_int_t)now, "notice", key, "outcome",
			notify_outcome_name(outcome));
	text = row ? json_dumps(row, JSON_COMPACT) : NULL;
	if (text)
		store_append(o->st, "event", login, text, now, NULL, NULL);
	free(text);
	json_decref(row);
}

/* Loop thread (notify's done hook): log one notice's end in the
 * account's evidence and apply it to the store; the event's last one
 * deletes the record. */
static void on_done(void *arg, const char *id, const char *login,
		    const char *key, enum notify_outcome outcome,
		    bool event_done)
{
	struct outbox *o = arg;
	struct news *w;

	if (key)
		log_notice_row(o, id, login, key, outcome);
	if (event_done || !key) {
		store_del(o->st, OUTBOX_NS, id, write_done, xstrdup(id));
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->o = o;
	w->id = xstrdup(id);
	w->key = xstrdup(key);
	store_get(o->st, OUTBOX_NS, w->id, add_done_key, w);
}

struct outbox *outbox_new(struct event_base *base, struct store *st,
			  struct notify *nt)
{
	struct outbox *o = xcalloc(1, sizeof(*o));

	o->st = st;
	o->nt = nt;
	notify_set_done_hook(nt, base, on_done, o);
	return o;
}

void outbox_submit(struct outbox *o, const struct notify_event *ev)
{
	int64_t expires = (int64_t)time(NULL) + OUTBOX_TTL;
	json_t *rec = notify_event_json(ev);
	char *text;

	json_object_set_new(rec, "expires", json_integer(expires));
	json_object_set_new(rec, "done", json_array());
	text = json_dumps(rec, JSON_COMPACT);
	/* Written before notify hears of it: its done news comes after. */
	if (text && ev->id && *ev->id)
		store_put(o->st, OUTBOX_NS, ev->id, text, expires, write_done,
			  xstrdup(ev->id));
	free(text);
	json_decref(rec);
	notify_event(o->nt, ev);
}

struct replay {
	struct outbox *o;
	size_t n, bad;
	char **badkeys;
};

/* One stored record: submit it again. */
static void replay_row(void *arg, int result, const char *key,
		       const char *value, int64_t ts)
{
	struct replay *r = arg;
	json_t *rec, *done, *evid;
	struct notify_event ev = { 0 };
	char *evtext;
	const char **keys = NULL;
	size_t i, nk = 0;
	char q[LOG_QSZ], qk[64];

	(void)ts;
	if (!key) {
		if (result != STORE_OK)
			log_msg(LOG_L_ERR, "event=outbox_replay_failed error=%s",
				store_result_str(result));
		return;
	}
	rec = json_loads(value, 0, NULL);
	if (!rec || !json_is_string(json_object_get(rec, "kind")) ||
	    !json_is_string(json_object_get(rec, "login"))) {
		log_msg(LOG_L_WARN, "event=outbox_bad_record id=%s",
			log_q(q, sizeof(q), key));
		r->badkeys = xrealloc(r->badkeys,
				      (r->bad + 1) * sizeof(*r->badkeys));
		r->badkeys[r->bad++] = xstrdup(key);
		json_decref(rec);
		return;
	}
	done = json_object_get(rec, "done");
	if (json_is_array(done) && json_array_size(done) > 0) {
		keys = xcalloc(json_array_size(done), sizeof(*keys));
		for (i = 0; i < json_array_size(done); i++)
			if (json_is_string(json_array_get(done, i)))
				keys[nk++] = json_string_value(
					json_array_get(done, i));
	}
	ev.id = key;
	ev.kind = json_string_value(json_object_get(rec, "kind"));
	ev.login = json_string_value(json_object_get(rec, "login"));
	ev.state = json_string_value(json_object_get(rec, "state"));
	ev.reason = json_string_value(json_object_get(rec, "reason"));
	evid = json_object_get(rec, "evidence");
	evtext = !evid || json_is_null(evid) ? NULL :
		 json_is_string(evid) ? xstrdup(json_string_value(evid)) :
		 json_dumps(evid, JSON_INDENT(2) | JSON_SORT_KEYS);
	ev.evidence_json = evtext;
	ev.actor = json_string_value(json_object_get(rec, "actor"));
	ev.strikes = (long)json_integer_value(json_object_get(rec, "strikes"));
	ev.time = (long long)json_integer_value(json_object_get(rec, "time"));
	ev.done_keys = keys;
	ev.ndone = nk;
	log_msg(LOG_L_INFO, "event=notice_replayed kind=%s account=%s id=%s "
		"done_before=%zu", log_q(qk, sizeof(qk), ev.kind),
		log_q(q, sizeof(q), ev.login), key, nk);
	notify_event(r->o->nt, &ev);
	free(evtext);
	free(keys);
	json_decref(rec);
	r->n++;
}

size_t outbox_replay(struct outbox *o)
{
	struct replay r = { .o = o };
	size_t i;

	/* sqlite and memory answer before store_scan returns. */
	store_scan(o->st, OUTBOX_NS, "", replay_row, &r);
	for (i = 0; i < r.bad; i++) {
		store_del(o->st, OUTBOX_NS, r.badkeys[i], NULL, NULL);
		free(r.badkeys[i]);
	}
	free(r.badkeys);
	return r.n;
}

void outbox_free(struct outbox *o)
{
	free(o);
}
