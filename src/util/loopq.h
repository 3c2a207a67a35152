/*
 * loopq - the one hand-off from any thread to an event-loop thread.
 *
 * A worker thread (the milter's, notify's, the DNS thread's callers) that
 * has news for the loop posts a function and its argument; the loop thread
 * runs them.  Every thread -> loop queue in mamori is one of these.
 *
 * Threads: loopq_post() may be called from any thread, the loop thread
 * included.  Posted functions run on the thread that runs the event_base
 * (or in loopq_free(), on its caller).  The base must be thread-aware:
 * evthread_use_pthreads() before event_base_new() (mamorid does it first
 * thing; tests and private loops must too), because the wake-up is
 * event_active() from the posting thread.
 *
 * Ordering: FIFO per queue.  Posts are ordered by a mutex, so items from
 * one producer run in the order it posted them, and an item posted after
 * another one (by any thread) runs after it.
 *
 * Batching: the post that finds the queue empty wakes the loop (one
 * event_active(): from another thread, libevent writes to the base's
 * notification fd once per loop iteration at most; from the loop thread,
 * no syscall at all); posts that find it non-empty only link their item.
 * One wake-up runs every item queued when it starts, without taking the
 * lock again per item; items posted while those run wait for the next
 * wake-up, so a callback that posts again cannot starve the loop.
 *
 * Memory: one small allocation (fn, arg, link: three pointers) per post,
 * freed before the function runs.  The mutex is held only to link or
 * unlink the list, never while a function runs.
 *
 * Lifetime: loopq_close() (any thread) refuses later posts: they return -1
 * and the caller keeps its argument.  loopq_free() closes, runs what is
 * still queued, and frees; no thread may be inside or enter loopq_post()
 * on that queue once loopq_free() has begun (close it first and join or
 * quiesce the producers).  A posted function must not free its own queue.
 */
#ifndef MAMORI_LOOPQ_H
#define MAMORI_LOOPQ_H

struct event_base;
struct loopq;

/*
 * A queue whose functions run on base's loop.  name (copied, cut at 31
 * bytes) labels its log lines.  Call on the loop thread, or before the loop
 * runs.  Aborts if memory or the event cannot be had, like xmalloc().
 */
struct loopq *loopq_new(struct event_base *base, const char *name);

/*
 * Queue fn(arg) to run on the loop thread.  Any thread.  Returns 0, or -1
 * when the queue is closed: fn will not run and arg stays the caller's.
 */
int loopq_post(struct loopq *q, void (*fn)(void *arg), void *arg);

/*
 * Refuse every later post (-1).  What is queued still runs: at the next
 * wake-up, or in loopq_free().  Any thread; idempotent.
 */
void loopq_close(struct loopq *q);

/*
 * Close q, run what is still queued (on the calling thread, in order), and
 * free it.  Call on the loop thread, or once the loop has stopped for good.
 * NULL is a no-op.
 */
void loopq_free(struct loopq *q);

#endif
