/*
 * notify - the notice queue and its worker thread, which sends through
 * send.c (SMTP with libcurl, and the signed webhook).  See notify.h for the
 * contract; render.c builds the messages.
 *
 * Queue: one list of notices, bounded at NOTIFY_QUEUE_MAX (in flight
 * included), each with a due time on the monotonic clock.  notify_event()
 * adds one "expand" notice holding a copy of the event; the worker turns
 * it into one notice per recipient (reading contact_map there, off the
 * caller's thread) and one for the webhook.  The worker always runs the
 * earliest due notice, list order breaking ties, so retries never starve
 * fresh notices for long.
 *
 * Locking: n->lock guards the list, the counters, the recent-id ring and
 * the settings pointer with its reference count.  The worker takes a
 * reference to the settings for one attempt and runs it unlocked.  Event
 * copies (struct nevent) are shared by the notices of one event; their
 * reference counts are touched only by the worker thread, and by
 * notify_free() after the worker has been joined.
 *
 * Done news: the worker copies each report (event id, notice key) into a
 * small struct and posts it to the hook's loopq (util/loopq.h); the hook
 * runs on that loop, and notify_free() runs what is still queued after
 * joining the worker.
 *
 * One attempt (send.h): a fresh curl easy handle, CURLOPT_TIMEOUT =
 * notify_timeout, protocols limited to smtp/smtps (mail) or http/https
 * (webhook), no redirects, no signals; it is aborted when notify_free()
 * sets n->stop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "notify/notify.h"
#include "notify/send.h"
#include "util/log.h"
#include "util/loopq.h"
#include "util/xalloc.h"

/* Event ids remembered to ignore a resubmitted event. */
#define NOTIFY_RECENT 512
/* Longest backoff between two tries. */
#define RETRY_MAX_DELAY 86400L

/* The notice settings of one config, shared by attempts under way. */
struct nsettings {
	int refs;		/* under notify.lock */
	struct config cfg;	/* only the notice fields are set */
};

/* A copy of one event, shared by its notices. */
struct nevent {
	int refs;		/* worker thread only */
	char *kind, *login, *state, *reason, *evidence_json, *actor, *id;
	long strikes;
	long long time;
	char **done_keys;	/* notices not to send again */
	size_t ndone;
	size_t pending;		/* notices not ended yet (worker only) */
};

enum notice_type {
	NOTICE_EXPAND,		/* turn the event into the notices below */
	NOTICE_MAIL,
	NOTICE_WEBHOOK,
};

struct notice {
	struct notice *next;
	enum notice_type type;
	struct nevent *ev;
	const char *audience;	/* static: "customer", "abuse" */
	char *to;		/* mail recipient */
	char *key;		/* "mail:AUDIENCE:TO" or "webhook" */
	char *msg;		/* rendered message or webhook body, once made */
	int tries;
	long long due;		/* monotonic ms */
};

struct notify {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	atomic_bool stop;
	struct nsettings *set;
	struct notice *head, *tail;
	size_t count;		/* listed + in flight */
	struct notify_stats st;
	char *recent[NOTIFY_RECENT];
	size_t recent_pos;
	notify_done_fn *done_fn;
	void *done_arg;
	struct loopq *done_q;	/* to done_fn's loop; NULL: no hook */
};

/* One report of the worker on its way to the done hook's loop. */
struct done_news {
	notify_done_fn *fn;
	void *arg;
	char *id, *login, *key;	/* key NULL: the event had no notice */
	enum notify_outcome outcome;
	bool event_done;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* curl_global_init() once per process. */
static void curl_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		log_msg(LOG_L_ERR, "event=notify_init_failed error=curl_global_init");
}

/* Monotonic clock in milliseconds. */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xstrdup of s, or of "" for NULL. */
static char *dup0(const char *s)
{
	return xstrdup(s ? s : "");
}

/* Copy the notice settings of cfg. */
static struct nsettings *settings_new(const struct config *cfg)
{
	struct nsettings *s = xcalloc(1, sizeof(*s));

	s->refs = 1;
	s->cfg.notify_smtp_url = dup0(cfg->notify_smtp_url);
	s->cfg.notify_from = dup0(cfg->notify_from);
	s->cfg.abuse_desk = dup0(cfg->abuse_desk);
	s->cfg.notify_language = dup0(cfg->notify_language);
	s->cfg.template_dir = dup0(cfg->template_dir);
	s->cfg.contact_map = dup0(cfg->contact_map);
	s->cfg.webhook_url = dup0(cfg->webhook_url);
	s->cfg.webhook_secret = dup0(cfg->webhook_secret);
	s->cfg.notify_retry_interval = cfg->notify_retry_interval > 0 ?
				       cfg->notify_retry_interval : 1;
	s->cfg.notify_max_tries = cfg->notify_max_tries > 0 ?
				  cfg->notify_max_tries : 1;
	s->cfg.notify_timeout = cfg->notify_timeout > 0 ?
				cfg->notify_timeout : 30;
	return s;
}

/* Drop one reference; the caller holds n->lock (or is alone). */
static void settings_unref(struct nsettings *s)
{
	if (!s || --s->refs > 0)
		return;
	free(s->cfg.notify_smtp_url);
	free(s->cfg.notify_from);
	free(s->cfg.abuse_desk);
	free(s->cfg.notify_language);
	free(s->cfg.template_dir);
	free(s->cfg.contact_map);
	/* The secret is wiped, not just freed. */
	explicit_bzero(s->cfg.webhook_secret, strlen(s->cfg.webhook_secret));
	free(s->cfg.webhook_secret);
	free(s->cfg.webhook_url);
	free(s);
}

/* Drop one reference to an event copy. */
static void nevent_unref(struct nevent *e)
{
	if (!e || --e->refs > 0)
		return;
	free(e->kind);
	free(e->login);
	free(e->state);
	free(e->reason);
	free(e->evidence_json);
	free(e->actor);
	free(e->id);
	while (e->ndone > 0)
		free(e->done_keys[--e->ndone]);
	free(e->done_keys);
	free(e);
}

/* A borrowed struct notify_event view of an event copy. */
static void nevent_view(const struct nevent *e, struct notify_event *v)
{
	v->kind = e->kind;
	v->login = e->login;
	v->state = e->state;
	v->reason = e->reason;
	v->evidence_json = e->evidence_json[0] ? e->evidence_json : NULL;
	v->actor = e->actor;
	v->strikes = e->strikes;
	v->time = e->time;
	v->id = e->id;
}

/* Free a notice and its share of the event. */
static void notice_free(struct notice *no)
{
	if (!no)
		return;
	nevent_unref(no->ev);
	free(no->to);
	free(no->key);
	free(no->msg);
	free(no);
}

/* Append to the list; the caller holds the lock and has counted it. */
static void list_append(struct notify *n, struct notice *no)
{
	no->next = NULL;
	if (n->tail)
		n->tail->next = no;
	else
		n->head = no;
	n->tail = no;
}

/* Unlink and return the earliest due notice, or NULL; lock held. */
static struct notice *list_take_earliest(struct notify *n)
{
	struct notice *p, *prev = NULL, *best = NULL, *bestprev = NULL;

	for (p = n->head; p; prev = p, p = p->next) {
		if (!best || p->due < best->due) {
			best = p;
			bestprev = prev;
		}
	}
	if (!best)
		return NULL;
	if (bestprev)
		bestprev->next = best->next;
	else
		n->head = best->next;
	if (n->tail == best)
		n->tail = bestprev;
	best->next = NULL;
	return best;
}

/* The recipient as a log value. */
static const char *notice_to(const struct notice *no)
{
	return no->type == NOTICE_WEBHOOK ? "webhook" : no->to ? no->to : "-";
}

/* Log one outcome of a notice at lvl. */
static void log_notice(enum log_level lvl, const char *what,
		       const struct notice *no, const char *extra)
{
	char ql[LOG_QSZ], qt[LOG_QSZ], qi[LOG_QSZ], qk[64];

	log_msg(lvl, "event=%s kind=%s account=%s to=%s tries=%d id=%s%s",
		what, log_q(qk, sizeof(qk), no->ev->kind),
		log_q(ql, sizeof(ql), no->ev->login),
		log_q(qt, sizeof(qt), notice_to(no)), no->tries,
		log_q(qi, sizeof(qi), no->ev->id), extra ? extra : "");
}

/* A new notice of type for ev (taking a reference). */
static struct notice *notice_new(enum notice_type type, struct nevent *ev,
				 const char *audience, const char *to)
{
	struct notice *no = xcalloc(1, sizeof(*no));

	no->type = type;
	no->ev = ev;
	ev->refs++;
	no->audience = audience;
	no->to = to ? xstrdup(to) : NULL;
	no->key = to ? xasprintf("mail:%s:%s", audience, to) :
		  xstrdup("webhook");
	no->due = now_ms();
	return no;
}

/* Was this notice of its event ended before (done_keys)? */
static bool already_done(const struct notice *no)
{
	size_t i;

	for (i = 0; i < no->ev->ndone; i++)
		if (strcasecmp(no->ev->done_keys[i], no->key) == 0)
			return true;
	return false;
}

/* Add a mail notice to *list unless to is already there. */
static void add_mail(struct notice **list, struct nevent *ev,
		     const char *audience, const char *to)
{
	struct notice *p, **tailp = list;

	for (p = *list; p; tailp = &p->next, p = p->next)
		if (p->to && strcasecmp(p->to, to) == 0 &&
		    strcmp(p->audience, audience) == 0)
			return;
	*tailp = notice_new(NOTICE_MAIL, ev, audience, to);
}

/* Add a mail to each address of abuse_desk (comma or blank separated). */
static void add_abuse_desk(struct notice **list, struct nevent *ev,
			   const char *desk)
{
	char q[LOG_QSZ];

	while (*desk) {
		size_t len = strcspn(desk, ", \t");

		if (len > 0) {
			char *a = xstrndup(desk, len);

			if (notify_addr_is_valid(a))
				add_mail(list, ev, "abuse", a);
			else
				log_msg(LOG_L_WARN,
					"event=abuse_desk_invalid address=%s",
					log_q(q, sizeof(q), a));
			free(a);
		}
		desk += len;
		desk += strspn(desk, ", \t");
	}
}

/* Turn an event into its notices, in a list; runs on the worker. */
static struct notice *expand_event(struct nevent *ev,
				   const struct nsettings *s)
{
	const struct config *c = &s->cfg;
	struct notice *list = NULL, **tailp;
	char alt[NOTIFY_ADDR_MAX + 1], q[LOG_QSZ], qe[LOG_QSZ];

	if (c->notify_smtp_url[0]) {
		int r;

		if (notify_addr_is_valid(ev->login))
			add_mail(&list, ev, "customer", ev->login);
		r = notify_contact_lookup(c->contact_map, ev->login, alt,
					  sizeof(alt));
		if (r > 0)
			add_mail(&list, ev, "customer", alt);
		else if (r < 0)
			log_msg(LOG_L_WARN,
				"event=contact_map_error path=%s error=%s",
				log_q(q, sizeof(q), c->contact_map),
				log_q(qe, sizeof(qe), strerror(-r)));
		add_abuse_desk(&list, ev, c->abuse_desk);
	}
	if (c->notify_smtp_url[0] && (!list || strcmp(list->audience,
						       "customer") != 0))
		log_msg(LOG_L_INFO, "event=notice_skipped kind=%s account=%s "
			"id=%s reason=no_customer_address",
			log_q(qe, sizeof(qe), ev->kind),
			log_q(q, sizeof(q), ev->login),
			log_q(alt, sizeof(alt), ev->id));
	if (c->webhook_url[0]) {
		for (tailp = &list; *tailp; tailp = &(*tailp)->next)
			;
		*tailp = notice_new(NOTICE_WEBHOOK, ev, "webhook", NULL);
	}
	/* Submitted again after a restart: what ended before stays ended. */
	for (tailp = &list; *tailp;) {
		struct notice *no = *tailp;

		if (!already_done(no)) {
			tailp = &no->next;
			continue;
		}
		*tailp = no->next;
		log_notice(LOG_L_INFO, "notice_skipped", no,
			   " reason=done_before_restart");
		notice_free(no);
	}
	for (tailp = &list; *tailp; tailp = &(*tailp)->next)
		ev->pending++;
	return list;
}

/* One SMTP attempt for a mail notice, rendered first (kept for retries). */
static enum notify_attempt attempt_mail(struct notify *n, struct notice *no,
					const struct config *c, char *err,
					size_t errsz)
{
	if (!c->notify_smtp_url[0]) {
		snprintf(err, errsz, "notify_smtp_url is empty");
		return NOTIFY_ATTEMPT_SKIP;
	}
	if (!no->msg) {
		struct notify_event v;

		nevent_view(no->ev, &v);
		no->msg = notify_render(c, &v, no->audience, no->to, err, errsz);
		if (!no->msg) {
			if (err[0])
				return NOTIFY_ATTEMPT_GIVE_UP;
			snprintf(err, errsz, "no template");
			return NOTIFY_ATTEMPT_SKIP;
		}
	}
	return notify_send_mail(c, no->to, no->msg, &n->stop, err, errsz);
}

/* The webhook's JSON body for an event (malloc'd). */
static char *webhook_body(const struct nevent *e)
{
	struct notify_event v;
	json_t *o;
	char *s, *t;

	nevent_view(e, &v);
	o = notify_event_json(&v);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	t = xstrdup(s ? s : "{}");
	free(s);
	return t;
}

/* One POST for a webhook notice, its body made first (kept for retries). */
static enum notify_attempt attempt_webhook(struct notify *n,
					   struct notice *no,
					   const struct config *c, char *err,
					   size_t errsz)
{
	if (!c->webhook_url[0]) {
		snprintf(err, errsz, "webhook_url is empty");
		return NOTIFY_ATTEMPT_SKIP;
	}
	if (!no->msg)
		no->msg = webhook_body(no->ev);
	return notify_send_webhook(c, no->ev->kind, no->ev->id, no->msg,
				   &n->stop, err, errsz);
}

/* Queue the notices of an expanded event as far as there is room; lock
 * held.  Returns those refused, for the caller to log and free unlocked. */
static struct notice *enqueue_expanded(struct notify *n, struct notice *list)
{
	struct notice *next, *refused = NULL;

	for (; list; list = next) {
		next = list->next;
		if (n->count >= NOTIFY_QUEUE_MAX) {
			n->st.dropped++;
			list->next = refused;
			refused = list;
			continue;
		}
		n->count++;
		n->st.queued++;
		list_append(n, list);
	}
	return refused;
}

/* Delay before try number tries+1, in ms: interval doubling per try. */
static long long retry_delay_ms(const struct config *c, int tries)
{
	long d = c->notify_retry_interval;
	int i;

	for (i = 1; i < tries && d < RETRY_MAX_DELAY; i++)
		d *= 2;
	if (d > RETRY_MAX_DELAY)
		d = RETRY_MAX_DELAY;
	return (long long)d * 1000;
}

const char *notify_outcome_name(enum notify_outcome o)
{
	switch (o) {
	case NOTIFY_OUT_SENT:		return "sent";
	case NOTIFY_OUT_SKIPPED:	return "skipped";
	case NOTIFY_OUT_GAVE_UP:	return "gave_up";
	case NOTIFY_OUT_REFUSED:	return "refused";
	case NOTIFY_OUT_NONE:		break;
	}
	return "none";
}

/* Free one report. */
static void done_news_free(struct done_news *d)
{
	free(d->id);
	free(d->login);
	free(d->key);
	free(d);
}

/* Loop thread: hand one report to the done hook. */
static void done_run(void *arg)
{
	struct done_news *d = arg;

	d->fn(d->arg, d->id, d->login, d->key, d->outcome, d->event_done);
	done_news_free(d);
}

/* Worker thread: send a report on ev to the done hook's loop. */
static void report_done(struct notify *n, const struct nevent *ev,
			const char *key, enum notify_outcome outcome,
			bool event_done)
{
	struct done_news *d;

	if (!n->done_q)
		return;
	d = xcalloc(1, sizeof(*d));
	d->fn = n->done_fn;
	d->arg = n->done_arg;
	d->id = xstrdup(ev->id ? ev->id : "");
	d->login = xstrdup(ev->login ? ev->login : "");
	d->key = key ? xstrdup(key) : NULL;
	d->outcome = outcome;
	d->event_done = event_done;
	if (loopq_post(n->done_q, done_run, d) != 0)
		done_news_free(d); /* not reached: closed only after the join */
}

/* Tell the done hook that no has ended as outcome (worker, unlocked). */
static void notice_ended(struct notify *n, struct notice *no,
			 enum notify_outcome outcome)
{
	bool last = --no->ev->pending == 0;

	report_done(n, no->ev, no->key, outcome, last);
}

/*
 * Run one notice unlocked, account for it under the lock, then log
 * unlocked (syslog may block; notify_event() must not wait for it).  A
 * notice put back for a retry is safe to log after unlocking: only this
 * thread takes notices off the list.
 */
static void run_notice(struct notify *n, struct notice *no,
		       struct nsettings *s)
{
	enum notify_attempt res = NOTIFY_ATTEMPT_SKIP;
	struct notice *expanded = NULL, *refused = NULL, *next;
	char err[CURL_ERROR_SIZE + 64] = "", extra[LOG_QSZ + 64], q[LOG_QSZ];
	long long delay = 0;
	bool done = true;

	if (no->type == NOTICE_EXPAND)
		expanded = expand_event(no->ev, s);
	else if (no->type == NOTICE_MAIL)
		res = attempt_mail(n, no, &s->cfg, err, sizeof(err));
	else
		res = attempt_webhook(n, no, &s->cfg, err, sizeof(err));
	if (no->type != NOTICE_EXPAND && res != NOTIFY_ATTEMPT_SKIP &&
	    res != NOTIFY_ATTEMPT_ABORTED)
		no->tries++;
	log_q(q, sizeof(q), err);

	pthread_mutex_lock(&n->lock);
	if (no->type == NOTICE_EXPAND) {
		/* Free the expand notice's slot before filling the queue. */
		n->count--;
		done = false;
		refused = enqueue_expanded(n, expanded);
	} else if (res == NOTIFY_ATTEMPT_ABORTED) {
		/* Back on the list as it was, for notify_free() to count. */
		list_append(n, no);
		done = false;
	} else if (res == NOTIFY_ATTEMPT_SENT) {
		n->st.sent++;
	} else if (res != NOTIFY_ATTEMPT_SKIP) {
		n->st.failed_attempts++;
		if (res == NOTIFY_ATTEMPT_GIVE_UP ||
		    no->tries >= s->cfg.notify_max_tries) {
			n->st.gave_up++;
			res = NOTIFY_ATTEMPT_GIVE_UP;
		} else {
			delay = retry_delay_ms(&s->cfg, no->tries);
			no->due = now_ms() + delay;
			list_append(n, no);
			done = false;
		}
	}
	if (done)
		n->count--;
	settings_unref(s);
	pthread_mutex_unlock(&n->lock);

	for (; refused; refused = next) {
		next = refused->next;
		log_notice(LOG_L_ERR, "notice_dropped", refused,
			   " reason=queue_full");
		notice_ended(n, refused, NOTIFY_OUT_REFUSED);
		notice_free(refused);
	}
	if (no->type == NOTICE_EXPAND) {
		if (no->ev->pending == 0)
			report_done(n, no->ev, NULL, NOTIFY_OUT_NONE, true);
		notice_free(no);
		return;
	}
	if (res == NOTIFY_ATTEMPT_ABORTED)
		return;
	if (!done) {
		snprintf(extra, sizeof(extra), " retry_in=%llds error=%s",
			 delay / 1000, q);
		log_notice(LOG_L_WARN, "notice_failed", no, extra);
		return;
	}
	if (res == NOTIFY_ATTEMPT_SENT) {
		log_notice(LOG_L_INFO, "notice_sent", no, NULL);
	} else if (res == NOTIFY_ATTEMPT_SKIP) {
		snprintf(extra, sizeof(extra), " reason=%s", q);
		log_notice(LOG_L_INFO, "notice_skipped", no, extra);
	} else {
		snprintf(extra, sizeof(extra), " error=%s", q);
		log_notice(LOG_L_ERR, "notice_gave_up", no, extra);
	}
	notice_ended(n, no, res == NOTIFY_ATTEMPT_SENT ? NOTIFY_OUT_SENT :
		     res == NOTIFY_ATTEMPT_SKIP ? NOTIFY_OUT_SKIPPED :
		     NOTIFY_OUT_GAVE_UP);
	notice_free(no);
}

/* The worker: run due notices until told to stop. */
static void *worker(void *arg)
{
	struct notify *n = arg;

	pthread_mutex_lock(&n->lock);
	while (!atomic_load(&n->stop)) {
		struct notice *no;
		struct nsettings *s;
		long long now = now_ms(), due = -1;

		for (no = n->head; no; no = no->next)
			if (due < 0 || no->due < due)
				due = no->due;
		if (due < 0) {
			pthread_cond_wait(&n->cond, &n->lock);
			continue;
		}
		if (due > now) {
			struct timespec ts;

			ts.tv_sec = (time_t)(due / 1000);
			ts.tv_nsec = (long)(due % 1000) * 1000000;
			pthread_cond_timedwait(&n->cond, &n->lock, &ts);
			continue;
		}
		no = list_take_earliest(n);
		s = n->set;
		s->refs++;
		pthread_mutex_unlock(&n->lock);
		run_notice(n, no, s);
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

struct notify *notify_new(const struct config *cfg)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	pthread_condattr_t ca;
	int r;

	pthread_once(&curl_once, curl_init_once);
	pthread_mutex_init(&n->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&n->stop, false);
	n->set = settings_new(cfg);
	if ((r = pthread_create(&n->thread, NULL, worker, n)) != 0) {
		log_msg(LOG_L_FATAL, "event=notify_init_failed error=\"%s\"",
			strerror(r));
		abort();
	}
	return n;
}

void notify_reconfigure(struct notify *n, const struct config *cfg)
{
	struct nsettings *s = settings_new(cfg), *old;
	struct notice *no;
	long long now = now_ms();

	pthread_mutex_lock(&n->lock);
	old = n->set;
	n->set = s;
	settings_unref(old);
	/* A reload is often the fix for a failing relay or webhook: try
	 * what waits at once rather than after its backoff. */
	for (no = n->head; no; no = no->next)
		if (no->due > now)
			no->due = now;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/* Has id been seen lately?  Remembers it if not; lock held. */
static bool recent_seen(struct notify *n, const char *id)
{
	size_t i;

	if (!*id)
		return false;
	for (i = 0; i < NOTIFY_RECENT; i++)
		if (n->recent[i] && strcmp(n->recent[i], id) == 0)
			return true;
	free(n->recent[n->recent_pos]);
	n->recent[n->recent_pos] = xstrdup(id);
	n->recent_pos = (n->recent_pos + 1) % NOTIFY_RECENT;
	return false;
}

void notify_event(struct notify *n, const struct notify_event *ev)
{
	struct nevent *e = xcalloc(1, sizeof(*e));
	struct notice *no = xcalloc(1, sizeof(*no));
	char ql[LOG_QSZ], qi[LOG_QSZ], qk[64];

	e->kind = dup0(ev->kind);
	e->login = dup0(ev->login);
	e->state = dup0(ev->state);
	e->reason = dup0(ev->reason);
	e->evidence_json = dup0(ev->evidence_json);
	e->actor = dup0(ev->actor);
	e->id = dup0(ev->id);
	e->strikes = ev->strikes;
	e->time = ev->time;
	e->refs = 1;
	if (ev->ndone > 0) {
		size_t i;

		e->done_keys = xcalloc(ev->ndone, sizeof(*e->done_keys));
		for (i = 0; i < ev->ndone; i++)
			e->done_keys[e->ndone++] = dup0(ev->done_keys[i]);
	}
	no->type = NOTICE_EXPAND;
	no->ev = e;
	no->due = now_ms();

	pthread_mutex_lock(&n->lock);
	if (recent_seen(n, e->id)) {
		pthread_mutex_unlock(&n->lock);
		log_msg(LOG_L_INFO, "event=notice_duplicate kind=%s account=%s id=%s",
			log_q(qk, sizeof(qk), e->kind),
			log_q(ql, sizeof(ql), e->login),
			log_q(qi, sizeof(qi), e->id));
		notice_free(no);
		return;
	}
	if (n->count >= NOTIFY_QUEUE_MAX) {
		n->st.dropped++;
		pthread_mutex_unlock(&n->lock);
		log_msg(LOG_L_ERR, "event=notice_dropped kind=%s account=%s id=%s reason=queue_full",
			log_q(qk, sizeof(qk), e->kind),
			log_q(ql, sizeof(ql), e->login),
			log_q(qi, sizeof(qi), e->id));
		notice_free(no);
		return;
	}
	n->count++;
	list_append(n, no);
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

void notify_set_done_hook(struct notify *n, struct event_base *base,
			  notify_done_fn *fn, void *arg)
{
	struct loopq *q = fn ? loopq_new(base, "notify_done") : NULL, *old;

	pthread_mutex_lock(&n->lock);
	old = n->done_q;
	n->done_fn = fn;
	n->done_arg = arg;
	n->done_q = q;
	pthread_mutex_unlock(&n->lock);
	loopq_free(old);
}

void notify_get_stats(struct notify *n, struct notify_stats *out)
{
	pthread_mutex_lock(&n->lock);
	*out = n->st;
	out->pending = n->count;
	pthread_mutex_unlock(&n->lock);
}

void notify_free(struct notify *n)
{
	struct notice *no, *next;
	unsigned long left = 0;
	size_t i;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	atomic_store(&n->stop, true);
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	loopq_free(n->done_q);	/* the worker's last news, here */

	for (no = n->head; no; no = next) {
		next = no->next;
		left++;
		notice_free(no);
	}
	if (left)
		log_msg(LOG_L_WARN, "event=notice_discarded count=%lu reason=shutdown",
			left);
	for (i = 0; i < NOTIFY_RECENT; i++)
		free(n->recent[i]);
	settings_unref(n->set);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
