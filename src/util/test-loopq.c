/*
 * test-loopq - the thread -> loop hand-off: several producers, every item
 * runs exactly once on the loop thread and in order per producer; batching;
 * close and free.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "tap.h"
#include "util/loopq.h"

#define PRODUCERS_MAX 8
#define ITEMS_MAX 20000

/* What the loop saw. */
struct seen {
	struct event_base *base;
	pthread_t loop_thread;
	long next[PRODUCERS_MAX];	/* next sequence number expected */
	long total, want;
	long off_thread, out_of_order;
};

static struct seen S;

/* Producer p's item seq, packed into the argument pointer. */
static void *pack(int p, long seq)
{
	return (void *)(uintptr_t)(((uintptr_t)p << 24) | (uintptr_t)seq);
}

/* A posted function: check thread and order, count, stop when all ran. */
static void on_item(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	int p = (int)(v >> 24);
	long seq = (long)(v & 0xffffff);

	if (!pthread_equal(pthread_self(), S.loop_thread))
		S.off_thread++;
	if (seq != S.next[p])
		S.out_of_order++;
	S.next[p] = seq + 1;
	if (++S.total == S.want)
		event_base_loopbreak(S.base);
}

struct producer {
	struct loopq *q;
	int id;
	long n;
	long refused;
};

/* Producer thread: post n items in sequence. */
static void *produce(void *arg)
{
	struct producer *pr = arg;
	long i;

	for (i = 0; i < pr->n; i++)
		if (loopq_post(pr->q, on_item, pack(pr->id, i)) != 0)
			pr->refused++;
	return NULL;
}

/* The loop gave up: a bound, not a speed check (the asserts say why). */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Reset the record for a run of `want` items. */
static void seen_reset(struct event_base *base, long want)
{
	memset(&S, 0, sizeof(S));
	S.base = base;
	S.loop_thread = pthread_self();
	S.want = want;
}

/* Table: producers x items each, all through one queue while the loop
 * runs; then the same with the loop started only after they finished. */
static void test_producers(void)
{
	static const struct {
		const char *label;
		int producers;
		long items;
		int loop_late;	/* producers done before the loop runs */
	} rows[] = {
		{"one producer", 1, 5000, 0},
		{"four producers", 4, 5000, 0},
		{"eight producers", 8, 2000, 0},
		{"four producers, loop started late", 4, 1000, 1},
	};
	size_t r;

	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct event_base *base = event_base_new();
		struct loopq *q = loopq_new(base, "test");
		struct producer pr[PRODUCERS_MAX];
		pthread_t th[PRODUCERS_MAX];
		struct timeval tv = { .tv_sec = 60 };
		struct event *deadline;
		long refused = 0, p, ok_order = 1;
		int i, n = rows[r].producers;

		seen_reset(base, (long)n * rows[r].items);
		deadline = evtimer_new(base, on_deadline, base);
		evtimer_add(deadline, &tv);
		for (i = 0; i < n; i++) {
			pr[i] = (struct producer){ .q = q, .id = i,
						   .n = rows[r].items };
			pthread_create(&th[i], NULL, produce, &pr[i]);
		}
		if (rows[r].loop_late)
			for (i = 0; i < n; i++)
				pthread_join(th[i], NULL);
		event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
		if (!rows[r].loop_late)
			for (i = 0; i < n; i++)
				pthread_join(th[i], NULL);
		for (i = 0; i < n; i++)
			refused += pr[i].refused;
		for (p = 0; p < n; p++)
			if (S.next[p] != rows[r].items)
				ok_order = 0;
		is_int(refused, 0, "%s: no post refused", rows[r].label);
		is_int(S.total, S.want, "%s: every item ran once",
		       rows[r].label);
		is_int(S.off_thread, 0, "%s: all on the loop thread",
		       rows[r].label);
		is_int(S.out_of_order, 0, "%s: in order per producer",
		       rows[r].label);
		ok(ok_order, "%s: each producer's last item ran",
		   rows[r].label);
		loopq_free(q);
		is_int(S.total, S.want, "%s: free ran nothing twice",
		       rows[r].label);
		event_free(deadline);
		event_base_free(base);
	}
}

/* A posted function that posts again, up to `want` items in a chain. */
static struct loopq *chain_q;

static void on_chain(void *arg)
{
	on_item(arg);
	if (S.total < S.want &&
	    loopq_post(chain_q, on_chain, pack(0, S.total)) != 0)
		S.out_of_order++;
}

/* Batching: what is queued runs in one loop pass; a function may post to
 * its own queue. */
static void test_batch(void)
{
	struct event_base *base = event_base_new();
	struct loopq *q = loopq_new(base, "batch");
	long i;

	seen_reset(base, 1000000);	/* never reached: no loopbreak */
	for (i = 0; i < 100; i++)
		loopq_post(q, on_item, pack(1, i));
	is_int(S.total, 0, "batch: nothing runs before the loop");
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	is_int(S.total, 100, "batch: one loop pass runs all 100 queued");
	is_int(S.out_of_order, 0, "batch: in order");
	event_base_loop(base, EVLOOP_NONBLOCK);
	is_int(S.total, 100, "batch: an idle pass runs nothing");

	seen_reset(base, 50);
	chain_q = q;
	loopq_post(q, on_chain, pack(0, 0));
	for (i = 0; i < 100 && S.total < 50; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	is_int(S.total, 50, "batch: a function posting to its own queue");
	is_int(S.out_of_order, 0, "batch: chained posts in order");
	loopq_free(q);
	event_base_free(base);
}

/* Close and free: later posts refused, queued items still run once. */
static void test_close_free(void)
{
	struct event_base *base = event_base_new();
	struct loopq *q = loopq_new(base, "close");
	int refused;
	long i;

	seen_reset(base, 1000000);
	for (i = 0; i < 3; i++)
		loopq_post(q, on_item, pack(2, i));
	loopq_close(q);
	loopq_close(q);
	refused = loopq_post(q, on_item, pack(2, 3));
	is_int(refused, -1, "close: a post after close returns -1");
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	is_int(S.total, 3, "close: items queued before close still run");
	is_int(S.next[2], 3, "close: the refused item did not run");
	loopq_free(q);
	is_int(S.total, 3, "close: free runs nothing twice");

	q = loopq_new(base, "free");
	seen_reset(base, 1000000);
	for (i = 0; i < 5; i++)
		loopq_post(q, on_item, pack(3, i));
	loopq_free(q);
	is_int(S.total, 5, "free: runs what is still queued");
	is_int(S.out_of_order, 0, "free: in order");
	loopq_free(NULL);
	ok(1, "free: NULL is a no-op");
	event_base_free(base);
}

/* Close while producers post: what was accepted runs once, in order, and
 * what was refused never runs (a prefix per producer is accepted). */
static void test_close_racing(void)
{
	struct event_base *base = event_base_new();
	struct loopq *q = loopq_new(base, "race");
	struct producer pr[4];
	pthread_t th[4];
	long accepted = 0, prefix = 1;
	int i;

	seen_reset(base, 1000000);
	for (i = 0; i < 4; i++) {
		pr[i] = (struct producer){ .q = q, .id = i, .n = 5000 };
		pthread_create(&th[i], NULL, produce, &pr[i]);
	}
	for (i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	loopq_close(q);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		accepted += pr[i].n - pr[i].refused;
		if (S.next[i] > pr[i].n - pr[i].refused)
			prefix = 0;
	}
	loopq_free(q);
	is_int(S.total, accepted, "close racing: every accepted item ran once");
	is_int(S.out_of_order, 0, "close racing: in order per producer");
	for (i = 0; i < 4; i++)
		if (S.next[i] != pr[i].n - pr[i].refused)
			prefix = 0;
	ok(prefix, "close racing: refused posts never ran");
	event_base_free(base);
}

int main(void)
{
	evthread_use_pthreads();
	test_producers();
	test_batch();
	test_close_free();
	test_close_racing();
	return tap_done();
}
