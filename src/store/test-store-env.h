/*
 * test-store-env - what the store's tests share: callbacks that record
 * what a get, put, delete, append, scan, log or window answered (and
 * whether it answered exactly once), calls that wait for the answer on
 * the loop asynchronous answers arrive on, opening a store or failing the
 * test, and removing a sqlite file with its WAL companions.  Included by
 * test-store.c (every backend's semantics, redis' fleet and AUTH) and
 * test-store-sqlite.c (what only a file can show); header-only, so each
 * test links nothing extra.  Single-threaded.
 */
#ifndef MAMORI_TEST_STORE_ENV_H
#define MAMORI_TEST_STORE_ENV_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "store/store.h"
#include "tap.h"
#include "test_sqlite.h"

#define FUTURE 4102444800LL	/* 2100-01-01 */
#define BAD (-99)		/* a callback ran other than exactly once */

/* What one get/put/del/append callback saw. */
struct done {
	int calls;
	int result;
	char value[256];
	bool value_null;
};

/* What a scan or log saw: rows joined as "k,k,..." plus the end marker. */
struct rows {
	int n;
	int ends;
	bool after_end;		/* a row arrived after the end marker */
	bool bad_value;		/* scan: a value was not "v-" + key */
	int result;
	char keys[1024];
	char values[1024];
	char ts[256];
};

/* Record a get result. */
__attribute__((unused)) static void get_cb(void *arg, int result, const char *value)
{
	struct done *d = arg;

	d->calls++;
	d->result = result;
	d->value_null = value == NULL;
	snprintf(d->value, sizeof(d->value), "%s", value ? value : "");
}

/* Record a put/del/append result. */
__attribute__((unused)) static void done_cb(void *arg, int result)
{
	struct done *d = arg;

	d->calls++;
	d->result = result;
}

/* Append s to a comma-separated list in out. */
__attribute__((unused)) static void join(char *out, size_t n, const char *s)
{
	size_t len = strlen(out);

	snprintf(out + len, n - len, "%s%s", len ? "," : "", s);
}

/* Record one scan/log row or the end marker. */
__attribute__((unused)) static void row_cb(void *arg, int result, const char *key, const char *value,
		   int64_t ts)
{
	struct rows *r = arg;
	char t[32];

	if (r->ends > 0)
		r->after_end = true;
	if (key == NULL) {
		r->ends++;
		r->result = result;
		return;
	}
	r->n++;
	join(r->keys, sizeof(r->keys), key);
	join(r->values, sizeof(r->values), value);
	snprintf(t, sizeof(t), "%" PRId64, ts);
	join(r->ts, sizeof(r->ts), t);
	if (strncmp(value, "v-", 2) != 0 || strcmp(value + 2, key) != 0)
		r->bad_value = true;
}

/* get; the result, or BAD.  The value lands in d. */
__attribute__((unused)) static int do_get(struct store *st, const char *ns, const char *key,
		  struct done *d)
{
	memset(d, 0, sizeof(*d));
	store_get(st, ns, key, get_cb, d);
	if (d->calls != 1)
		return BAD;
	/* A value comes exactly with STORE_OK. */
	if (d->value_null != (d->result != STORE_OK))
		return BAD;
	return d->result;
}

/* put; the result, or BAD. */
__attribute__((unused)) static int do_put(struct store *st, const char *ns, const char *key,
		  const char *value, int64_t expires)
{
	struct done d = { 0 };

	store_put(st, ns, key, value, expires, done_cb, &d);
	return d.calls == 1 ? d.result : BAD;
}

/* del; the result, or BAD. */
__attribute__((unused)) static int do_del(struct store *st, const char *ns, const char *key)
{
	struct done d = { 0 };

	store_del(st, ns, key, done_cb, &d);
	return d.calls == 1 ? d.result : BAD;
}

/* append; the result, or BAD. */
__attribute__((unused)) static int do_append(struct store *st, const char *ns, const char *key,
		     const char *value, int64_t ts)
{
	struct done d = { 0 };

	store_append(st, ns, key, value, ts, done_cb, &d);
	return d.calls == 1 ? d.result : BAD;
}

/* scan into r; the final result, or BAD. */
__attribute__((unused)) static int do_scan(struct store *st, const char *ns, const char *prefix,
		   struct rows *r)
{
	memset(r, 0, sizeof(*r));
	store_scan(st, ns, prefix, row_cb, r);
	return r->ends == 1 && !r->after_end ? r->result : BAD;
}

/* log into r; the final result, or BAD. */
__attribute__((unused)) static int do_log(struct store *st, const char *ns, const char *key,
		  struct rows *r)
{
	memset(r, 0, sizeof(*r));
	store_log(st, ns, key, row_cb, r);
	return r->ends == 1 && !r->after_end ? r->result : BAD;
}

/* The loop asynchronous answers arrive on (NULL: they come at once). */
__attribute__((unused)) static struct event_base *wait_base;

/* Run the loop until *calls is set; bounded (the store's timer ticks). */
__attribute__((unused)) static void wait_calls(const int *calls)
{
	int i;

	for (i = 0; *calls == 0 && wait_base != NULL && i < 300; i++)
		event_base_loop(wait_base, EVLOOP_ONCE);
}

/* What a store_window answer said. */
struct wins {
	int calls;
	int result;
	size_t n;
	struct store_win w[STORE_WIN_MAX];
};

/* Record a store_window answer. */
__attribute__((unused)) static void win_cb(void *arg, int result, const struct store_win *w, size_t n)
{
	struct wins *r = arg;

	r->calls++;
	r->result = result;
	r->n = w ? n : 0;
	if (w)
		memcpy(r->w, w, n * sizeof(*w));
}

/* store_window and wait; the result, or BAD.  The windows land in r. */
__attribute__((unused)) static int do_window(struct store *st, const char *key, uint32_t now,
		     const struct store_win *w, size_t n, struct wins *r)
{
	memset(r, 0, sizeof(*r));
	store_window(st, "win", key, now, w, n, win_cb, r);
	wait_calls(&r->calls);
	return r->calls == 1 ? r->result : BAD;
}

/* Open spec or report; NULL on failure. */
__attribute__((unused)) static struct store *open_or_fail(const char *spec, const char *label)
{
	struct store *st;
	char err[512];

	if (store_open(spec, wait_base, &st, err, sizeof(err)) != 0) {
		ok(0, "%s: open: %s", label, err);
		return NULL;
	}
	return st;
}

#endif
