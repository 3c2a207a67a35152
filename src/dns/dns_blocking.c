/*
 * dns_blocking - synchronous questions over dns_unbound (see dns_blocking.h).
 *
 * The asking thread first looks in the answer cache (dns_cache.h): a hit
 * is answered there, without the DNS thread.  A miss becomes a question
 * (struct bq) shared by the asking thread and the DNS thread, so it is
 * reference-counted under the lock: the asker may give up (its wait
 * bounded, or the resolver closing) before the answer arrives, and the
 * DNS thread's callback must still find the question alive.  The question
 * goes to the DNS thread through a loopq (util/loopq.h); the DNS thread
 * makes the answer a cache entry, keeps it in the cache if it may be kept,
 * and hands the same entry to the asker under the lock with the question's
 * own condition variable (the asker is blocked, not running a loop): an
 * answer wakes its asker only, not every waiting thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "dns/dns_blocking.h"
#include "dns/dns_cache.h"
#include "dns/dns_unbound.h"
#include "util/loopq.h"
#include "util/xalloc.h"

/* One question in flight between an asking thread and the DNS thread. */
struct bq {
	struct dns_blocking *b;
	struct bq *prev, *next;		/* b->waiting, while its asker waits */
	struct bq *fprev, *fnext;	/* b->flight, while libunbound has it */
	struct dns_question q;
	struct dns_cache_entry *ent;	/* the answer, once done */
	pthread_cond_t cond;		/* wakes this question's asker */
	bool done;
	int refs;
};

struct dns_blocking {
	struct dns_resolver r;	/* first: the interface */
	pthread_mutex_t lock;	/* the questions' fields, waiting */
	atomic_bool closing;	/* set under lock; read on the hit path */
	struct bq *waiting;	/* askers waiting (to wake at close) */
	struct bq *flight;	/* sent, not answered; DNS thread only */
	struct dns_cache *cache;
	long wait_ms;
	struct event_base *base;
	struct dns_resolver *ub;
	struct loopq *q;	/* questions to the DNS thread */
	pthread_t thread;
	bool thread_up;
};

/* Drop one reference to q; lock held. */
static void bq_put(struct bq *q)
{
	if (--q->refs == 0) {
		dns_cache_release(q->ent);
		pthread_cond_destroy(&q->cond);
		free(q);
	}
}

/* DNS thread: q leaves the in-flight list. */
static void flight_remove(struct dns_blocking *b, struct bq *q)
{
	if (q->fprev)
		q->fprev->fnext = q->fnext;
	else
		b->flight = q->fnext;
	if (q->fnext)
		q->fnext->fprev = q->fprev;
	q->fprev = q->fnext = NULL;
}

/* DNS thread: an answer arrived (or dns_unbound timed out). */
static void bq_answered(void *arg, const struct dns_answer *ans)
{
	struct bq *q = arg;
	struct dns_blocking *b = q->b;
	struct dns_cache_entry *e = dns_cache_entry_new(&q->q, ans);

	flight_remove(b, q);

	dns_cache_insert(b->cache, e);
	pthread_mutex_lock(&b->lock);
	q->ent = e;
	q->done = true;
	pthread_cond_signal(&q->cond);
	bq_put(q);
	pthread_mutex_unlock(&b->lock);
}

/* DNS thread: send one question; when closing, drop it (its asker has
 * been answered DNS_TEMPFAIL). */
static void bq_send(void *arg)
{
	struct bq *q = arg;
	struct dns_blocking *b = q->b;
	bool closing;

	pthread_mutex_lock(&b->lock);
	closing = b->closing;
	if (closing)
		bq_put(q);
	pthread_mutex_unlock(&b->lock);
	if (closing)
		return;
	q->fnext = b->flight;
	if (b->flight)
		b->flight->fprev = q;
	b->flight = q;
	dns_query(b->ub, &q->q, bq_answered, q);
}

/*
 * DNS thread: leave the loop.  Posted, so the loop is ended from inside:
 * event_base_loopbreak() from another thread before the loop has started
 * is forgotten when it starts (free right after new hung once).
 */
static void loop_stop(void *arg)
{
	struct dns_blocking *b = arg;

	event_base_loopbreak(b->base);
}

/* Caller: ask and wait; the callback runs before returning. */
static void blocking_query(struct dns_resolver *r,
			   const struct dns_question *qq, dns_cb *cb,
			   void *arg)
{
	static const struct dns_answer tempfail = { .rcode = DNS_TEMPFAIL };
	struct dns_blocking *b = (struct dns_blocking *)r;
	struct dns_cache_entry *e = NULL;
	struct timespec until;
	struct bq *q;

	if (!atomic_load(&b->closing) &&
	    (e = dns_cache_lookup(b->cache, qq)) != NULL) {
		cb(arg, dns_cache_entry_answer(e));
		dns_cache_release(e);
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->b = b;
	q->q = *qq;
	q->refs = 2;
	pthread_cond_init(&q->cond, NULL);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += b->wait_ms / 1000;
	until.tv_nsec += (b->wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	/* Posted under the lock, so no question slips past closing; the
	 * queue is closed only in blocking_free(), when no one asks. */
	if (atomic_load(&b->closing) || loopq_post(b->q, bq_send, q) != 0) {
		q->refs = 1;
	} else {
		q->next = b->waiting;
		if (b->waiting)
			b->waiting->prev = q;
		b->waiting = q;
		while (!q->done && !atomic_load(&b->closing))
			if (pthread_cond_timedwait(&q->cond, &b->lock,
						   &until) == ETIMEDOUT)
				break;
		if (q->prev)
			q->prev->next = q->next;
		else
			b->waiting = q->next;
		if (q->next)
			q->next->prev = q->prev;
	}
	if (q->done) {
		e = q->ent;	/* the question's reference becomes ours */
		q->ent = NULL;
	}
	bq_put(q);
	pthread_mutex_unlock(&b->lock);
	cb(arg, e ? dns_cache_entry_answer(e) : &tempfail);
	dns_cache_release(e);
}

void dns_blocking_close(struct dns_resolver *r)
{
	struct dns_blocking *b = (struct dns_blocking *)r;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	atomic_store(&b->closing, true);
	for (struct bq *q = b->waiting; q; q = q->next)
		pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&b->lock);
}

void dns_blocking_cache_stats(struct dns_resolver *r,
			      struct dns_cache_stats *st)
{
	dns_cache_get_stats(((struct dns_blocking *)r)->cache, st);
}

static void blocking_free(struct dns_resolver *r)
{
	struct dns_blocking *b = (struct dns_blocking *)r;

	dns_blocking_close(r);
	if (b->thread_up) {
		loopq_post(b->q, loop_stop, b);
		pthread_join(b->thread, NULL);
	}
	/* Questions queued but never sent are dropped (closing). */
	loopq_free(b->q);
	dns_resolver_free(b->ub);	/* cancels what is in flight ... */
	pthread_mutex_lock(&b->lock);
	while (b->flight) {		/* ... without calling back */
		struct bq *q = b->flight;

		flight_remove(b, q);
		bq_put(q);
	}
	pthread_mutex_unlock(&b->lock);
	if (b->base)
		event_base_free(b->base);
	dns_cache_free(b->cache);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static const struct dns_resolver_ops blocking_ops = {
	.query = blocking_query,
	.free = blocking_free,
};

/* The DNS thread's body. */
static void *dns_thread(void *arg)
{
	struct dns_blocking *b = arg;

	event_base_loop(b->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct dns_resolver *dns_blocking_new(const char *upstream, int timeout_ms,
				      char *err, size_t errsz)
{
	struct dns_blocking *b;
	sigset_t all, old;
	int rc;

	evthread_use_pthreads();	/* loopq_post from other threads */
	b = xcalloc(1, sizeof(*b));
	b->r.ops = &blocking_ops;
	pthread_mutex_init(&b->lock, NULL);
	atomic_init(&b->closing, false);
	b->cache = dns_cache_new(NULL, NULL, NULL);
	b->wait_ms = 2L * (timeout_ms > 0 ? timeout_ms : 1) + 1000;
	b->base = event_base_new();
	if (!b->base) {
		snprintf(err, errsz, "dns: cannot create an event base");
		goto fail;
	}
	b->ub = dns_unbound_new(b->base, upstream, timeout_ms, err, errsz);
	if (!b->ub)
		goto fail;
	b->q = loopq_new(b->base, "dns_blocking");
	/* The thread takes no signals: the daemon's loop thread does. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&b->thread, NULL, dns_thread, b);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errsz, "dns thread: %s", strerror(rc));
		goto fail;
	}
	b->thread_up = true;
	return &b->r;
fail:
	blocking_free(&b->r);
	return NULL;
}
