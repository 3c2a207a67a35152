/*
 * maillog_join - Postfix's lines of one queue ID joined into a message.
 * See maillog.h for the contract.
 *
 * A chained hash table on the queue ID plus a list in order of last
 * activity (oldest first), so both the bound (max open entries: the oldest
 * goes out when a new one comes) and the idle expiry (an hour of log time
 * without a line: Postfix logged the message's fate elsewhere, or the file
 * was cut) cost O(1) per line.  Only queue IDs whose smtpd line carries a
 * sasl_username are entered: the rest are not an account's traffic.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/maillog.h"
#include "util/xalloc.h"

#define JOIN_IDLE 3600		/* seconds of log time an entry may wait */

struct jentry {
	struct jentry *hnext;		/* bucket chain */
	struct jentry *older, *newer;	/* activity list */
	uint32_t h;
	int64_t time, last;
	char qid[MAILLOG_QID_MAX];
	char addr[MAILLOG_IP_MAX];
	char *login, *sender;
	long size, nrcpt;
	bool have_from;
	char *rcpts[MAILLOG_RCPTS_KEEP];
	size_t nrcpts;			/* kept */
	size_t tried;			/* distinct recipients attempted */
};

struct maillog_join {
	struct jentry **buckets;
	size_t nbuckets, n, max, evicted;
	struct jentry *oldest, *newest;
};

/* FNV-1a of a queue ID. */
static uint32_t qid_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct maillog_join *maillog_join_new(size_t max)
{
	struct maillog_join *j = xcalloc(1, sizeof(*j));

	j->max = max ? max : 1;
	j->nbuckets = 64;
	while (j->nbuckets < j->max)
		j->nbuckets *= 2;
	j->buckets = xcalloc(j->nbuckets, sizeof(*j->buckets));
	return j;
}

/* Free one entry's memory (already unlinked). */
static void entry_free(struct jentry *e)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i]);
	free(e->login);
	free(e->sender);
	free(e);
}

void maillog_join_free(struct maillog_join *j)
{
	struct jentry *e, *next;

	if (!j)
		return;
	for (e = j->oldest; e; e = next) {
		next = e->newer;
		entry_free(e);
	}
	free(j->buckets);
	free(j);
}

/* Take e out of the activity list. */
static void list_unlink(struct maillog_join *j, struct jentry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		j->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		j->newest = e->older;
	e->older = e->newer = NULL;
}

/* Put e at the newest end of the activity list. */
static void list_push(struct maillog_join *j, struct jentry *e)
{
	e->older = j->newest;
	e->newer = NULL;
	if (j->newest)
		j->newest->newer = e;
	else
		j->oldest = e;
	j->newest = e;
}

/* The open entry of qid, or NULL. */
static struct jentry *lookup(struct maillog_join *j, const char *qid)
{
	uint32_t h = qid_hash(qid);
	struct jentry *e;

	for (e = j->buckets[h & (j->nbuckets - 1)]; e; e = e->hnext)
		if (e->h == h && strcmp(e->qid, qid) == 0)
			return e;
	return NULL;
}

/* Unlink e from table and list, hand it to cb, free it. */
static void emit(struct maillog_join *j, struct jentry *e, maillog_msg_cb *cb,
		 void *arg)
{
	struct jentry **pp = &j->buckets[e->h & (j->nbuckets - 1)];
	struct maillog_msg m;

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	list_unlink(j, e);
	j->n--;
	m.time = e->time;
	m.queue_id = e->qid;
	m.login = e->login;
	m.addr = e->addr;
	m.sender = e->sender ? e->sender : "";
	m.size = e->size;
	m.nrcpt = e->nrcpt;
	m.rcpts = (const char *const *)e->rcpts;
	m.nrcpts = e->nrcpts;
	if (cb)
		cb(arg, &m);
	entry_free(e);
}

/* A new entry for a CLIENT event; evicts the oldest when full. */
static size_t enter(struct maillog_join *j, const struct maillog_event *ev,
		    maillog_msg_cb *cb, void *arg)
{
	struct jentry *e = lookup(j, ev->queue_id);
	size_t out = 0;

	if (e)			/* a queue ID reused: the old one is done */
		emit(j, e, cb, arg), out++;
	if (j->n >= j->max) {
		j->evicted++;
		emit(j, j->oldest, cb, arg);
		out++;
	}
	e = xcalloc(1, sizeof(*e));
	memcpy(e->qid, ev->queue_id, sizeof(e->qid));
	memcpy(e->addr, ev->addr, sizeof(e->addr));
	e->login = xstrdup(ev->login);
	e->time = e->last = ev->time;
	e->h = qid_hash(e->qid);
	e->hnext = j->buckets[e->h & (j->nbuckets - 1)];
	j->buckets[e->h & (j->nbuckets - 1)] = e;
	list_push(j, e);
	j->n++;
	return out;
}

/* A delivery attempt for rcpt: count it once per distinct recipient. */
static void add_rcpt(struct jentry *e, const char *rcpt)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		if (strcmp(e->rcpts[i], rcpt) == 0)
			return;
	if (e->nrcpts < MAILLOG_RCPTS_KEEP)
		e->rcpts[e->nrcpts++] = xstrdup(rcpt);
	e->tried++;
}

size_t maillog_join_feed(struct maillog_join *j,
			 const struct maillog_event *ev, maillog_msg_cb *cb,
			 void *arg)
{
	struct jentry *e;
	size_t out = 0;

	/* Entries silent for an hour of log time are as done as they get. */
	while (j->oldest && ev->time - j->oldest->last > JOIN_IDLE) {
		emit(j, j->oldest, cb, arg);
		out++;
	}
	if (ev->kind == MAILLOG_CLIENT) {
		if (ev->login[0])
			out += enter(j, ev, cb, arg);
		return out;
	}
	if (ev->kind != MAILLOG_FROM && ev->kind != MAILLOG_TO &&
	    ev->kind != MAILLOG_REMOVED)
		return out;
	if (!(e = lookup(j, ev->queue_id)))
		return out;
	if (ev->kind == MAILLOG_REMOVED) {
		emit(j, e, cb, arg);
		return out + 1;
	}
	e->last = ev->time > e->last ? ev->time : e->last;
	list_unlink(j, e);
	list_push(j, e);
	if (ev->kind == MAILLOG_FROM) {
		if (!e->have_from) {
			e->sender = xstrdup(ev->sender);
			e->size = ev->size;
			e->nrcpt = ev->nrcpt;
			e->have_from = true;
		}
	} else {
		add_rcpt(e, ev->rcpt);
	}
	if (e->have_from && e->nrcpt > 0 && e->tried >= (size_t)e->nrcpt) {
		emit(j, e, cb, arg);
		out++;
	}
	return out;
}

size_t maillog_join_flush(struct maillog_join *j, maillog_msg_cb *cb,
			  void *arg)
{
	size_t out = 0;

	while (j->oldest) {
		emit(j, j->oldest, cb, arg);
		out++;
	}
	return out;
}

size_t maillog_join_evicted(const struct maillog_join *j)
{
	return j->evicted;
}
