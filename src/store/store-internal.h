/*
 * store-internal - what store.c and store_stats.c share: the timing of one
 * operation (a callback wrapper) and the recording of its end.  Not for
 * drivers or callers.
 */
#ifndef MAMORI_STORE_INTERNAL_H
#define MAMORI_STORE_INTERNAL_H

#include "store/store.h"

/* One operation in flight: the caller's callback and when it started. */
struct timed {
	struct store *st;
	enum store_op op;
	double t0;
	union {
		store_get_cb *get;
		store_done_cb *done;
		store_row_cb *row;
		store_win_cb *win;
		store_cnt_cb *cnt;
	} cb;
	void *arg;
};

/* Count one operation of st that ended with result after secs. */
void store_stats_record(struct store *st, enum store_op op, int result,
			double secs);
/* Start timing op; set t->cb, then pass the matching store_timed_* with t
 * as its arg.  The wrapper frees t after the final callback. */
struct timed *store_timed_new(struct store *st, enum store_op op, void *arg);
void store_timed_get(void *arg, int result, const char *value);
void store_timed_done(void *arg, int result);
void store_timed_row(void *arg, int result, const char *key,
		     const char *value, int64_t ts);
void store_timed_win(void *arg, int result, const struct store_win *w,
		     size_t n);
void store_timed_cnt(void *arg, int result, const struct store_cnt *c,
		     size_t n);

#endif
