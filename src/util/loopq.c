/*
 * loopq - thread -> event-loop hand-off (see loopq.h).
 *
 * A singly linked list with a tail pointer under one mutex, and one
 * non-persistent event with no fd that the first post of a batch
 * activates.  `armed` says a wake-up is owed: set by the post that links
 * into an empty list (which then calls event_active), cleared by the drain
 * that takes the list.  Both happen under the lock, so an item linked while
 * armed is always taken by a drain that has yet to take the lock.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "util/log.h"
#include "util/loopq.h"
#include "util/xalloc.h"

/* One posted call. */
struct loopq_item {
	void (*fn)(void *arg);
	void *arg;
	struct loopq_item *next;
};

struct loopq {
	pthread_mutex_t lock;	/* head, tail, armed, closed */
	struct loopq_item *head, **tail;
	bool armed;		/* an event_active() is owed or pending */
	bool closed;
	struct event *ev;	/* loop thread only */
	char name[32];
};

/* Unlink the whole list (the caller runs it); clears armed. */
static struct loopq_item *take_all(struct loopq *q)
{
	struct loopq_item *it;

	pthread_mutex_lock(&q->lock);
	it = q->head;
	q->head = NULL;
	q->tail = &q->head;
	q->armed = false;
	pthread_mutex_unlock(&q->lock);
	return it;
}

/* Run and free a taken list, in order; returns how many ran. */
static size_t run_all(struct loopq_item *it)
{
	struct loopq_item *next;
	size_t n = 0;

	for (; it; it = next) {
		void (*fn)(void *) = it->fn;
		void *arg = it->arg;

		next = it->next;
		free(it);
		fn(arg);
		n++;
	}
	return n;
}

/* Loop thread: the wake-up; run the batch queued so far. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_all(take_all(arg));
}

struct loopq *loopq_new(struct event_base *base, const char *name)
{
	struct loopq *q = xcalloc(1, sizeof(*q));

	pthread_mutex_init(&q->lock, NULL);
	q->tail = &q->head;
	snprintf(q->name, sizeof(q->name), "%s", name ? name : "");
	q->ev = event_new(base, -1, 0, on_wake, q);
	if (!q->ev) {
		log_msg(LOG_L_FATAL, "event=loopq_new_failed name=%s", q->name);
		abort();
	}
	return q;
}

int loopq_post(struct loopq *q, void (*fn)(void *arg), void *arg)
{
	struct loopq_item *it = xmalloc(sizeof(*it));
	bool wake;

	it->fn = fn;
	it->arg = arg;
	it->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		free(it);
		return -1;
	}
	*q->tail = it;
	q->tail = &it->next;
	wake = !q->armed;
	q->armed = true;
	pthread_mutex_unlock(&q->lock);
	/* Outside our lock: event_active takes the base's. */
	if (wake)
		event_active(q->ev, EV_READ, 0);
	return 0;
}

void loopq_close(struct loopq *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_mutex_unlock(&q->lock);
}

void loopq_free(struct loopq *q)
{
	size_t n;

	if (!q)
		return;
	loopq_close(q);
	/* Closed: nothing can be linked after this take. */
	n = run_all(take_all(q));
	if (n > 0)
		log_msg(LOG_L_DEBUG, "event=loopq_drained name=%s count=%zu",
			q->name, n);
	event_free(q->ev);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
