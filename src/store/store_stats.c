/*
 * store_stats - operation counts, failures and latency of a store, for
 * /metrics: store.c wraps each call's callback in a struct timed that
 * notes the time at the call and records the result and the elapsed time
 * when the final callback comes (at once for sqlite and memory, later for
 * a networked store).  A scan or log is timed to its last row.
 *
 * One small allocation per operation; the store is used on the event-loop
 * thread only, so the counters need no lock.
 */
#include <stdlib.h>
#include <time.h>

#include "store/store-internal.h"
#include "util/xalloc.h"

const double store_lat_bounds[STORE_LAT_BUCKETS - 1] = {
	0.0001, 0.001, 0.01, 0.1, 1.0,
};

/* Monotonic seconds. */
static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void store_stats_record(struct store *st, enum store_op op, int result,
			double secs)
{
	struct store_stats *s = &st->stats;
	size_t b = 0;

	s->ops[op]++;
	if (result != STORE_OK && result != STORE_NOTFOUND)
		s->failures[op]++;
	while (b < STORE_LAT_BUCKETS - 1 && secs > store_lat_bounds[b])
		b++;
	s->le[b]++;
	s->seconds += secs;
}

struct timed *store_timed_new(struct store *st, enum store_op op, void *arg)
{
	struct timed *t = xcalloc(1, sizeof(*t));

	t->st = st;
	t->op = op;
	t->arg = arg;
	t->t0 = now_secs();
	return t;
}

/* Record t's end with result. */
static void timed_end(struct timed *t, int result)
{
	store_stats_record(t->st, t->op, result, now_secs() - t->t0);
}

void store_timed_get(void *arg, int result, const char *value)
{
	struct timed *t = arg;

	timed_end(t, result);
	t->cb.get(t->arg, result, value);
	free(t);
}

void store_timed_done(void *arg, int result)
{
	struct timed *t = arg;

	timed_end(t, result);
	t->cb.done(t->arg, result);
	free(t);
}

void store_timed_win(void *arg, int result, const struct store_win *w,
		     size_t n)
{
	struct timed *t = arg;

	timed_end(t, result);
	t->cb.win(t->arg, result, w, n);
	free(t);
}

void store_timed_row(void *arg, int result, const char *key,
		     const char *value, int64_t ts)
{
	struct timed *t = arg;

	if (key) {		/* a row; the end comes with key == NULL */
		t->cb.row(t->arg, result, key, value, ts);
		return;
	}
	timed_end(t, result);
	t->cb.row(t->arg, result, key, value, ts);
	free(t);
}

void store_timed_cnt(void *arg, int result, const struct store_cnt *c,
		     size_t n)
{
	struct timed *t = arg;

	timed_end(t, result);
	t->cb.cnt(t->arg, result, c, n);
	free(t);
}

const char *store_op_name(enum store_op op)
{
	static const char *const names[STORE_OP__COUNT] = {
		[STORE_OP_GET] = "get", [STORE_OP_PUT] = "put",
		[STORE_OP_PUT_MANY] = "put_many", [STORE_OP_DEL] = "del",
		[STORE_OP_SCAN] = "scan", [STORE_OP_APPEND] = "append",
		[STORE_OP_LOG] = "log", [STORE_OP_WINDOW] = "window",
		[STORE_OP_COUNT] = "count",
	};

	return op < STORE_OP__COUNT ? names[op] : "unknown";
}
