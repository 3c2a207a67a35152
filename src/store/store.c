/*
 * store - open a store by "type:spec" name and route every operation to
 * its driver.  See store.h.
 *
 * This layer owns what every driver would otherwise repeat: parsing the
 * name, fault injection (st->fault makes every operation report
 * STORE_E_RETRY without reaching the driver, so tests can drive the
 * callers' fail-open/fail-closed paths), and substituting a no-op callback
 * where the caller passed NULL, so drivers may always call cb.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-internal.h"
#include "store/store.h"
#include "util/xalloc.h"

/* Callback used when the caller does not care about the outcome. */
static void done_ignore(void *arg, int result)
{
	(void)arg;
	(void)result;
}

int store_open(const char *spec, struct event_base *base, struct store **out,
	       char *err, size_t errsz)
{
	return store_open_opts(spec, base, NULL, out, err, errsz);
}

int store_open_opts(const char *spec, struct event_base *base,
		    const struct store_opts *opts, struct store **out,
		    char *err, size_t errsz)
{
	const char *colon;
	size_t tlen;

	assert(spec != NULL && out != NULL);
	*out = NULL;
	if (errsz > 0)
		err[0] = '\0';
	colon = strchr(spec, ':');
	if (colon == NULL) {
		snprintf(err, errsz, "store \"%s\": expected type:spec "
			 "(sqlite:/path/state.db or memory:)", spec);
		return -EINVAL;
	}
	tlen = (size_t)(colon - spec);
	if (tlen == 6 && strncmp(spec, "sqlite", tlen) == 0)
		return store_sqlite_open(colon + 1, out, err, errsz);
	if (tlen == 6 && strncmp(spec, "memory", tlen) == 0)
		return store_memory_open(colon + 1, out, err, errsz);
	if ((tlen == 5 && strncmp(spec, "redis", tlen) == 0) ||
	    (tlen == 14 && strncmp(spec, "redis-sentinel", tlen) == 0))
		return store_redis_open(colon + 1, tlen == 14, base, opts, out,
					err, errsz);
	snprintf(err, errsz, "store \"%s\": unknown type \"%.*s\" "
		 "(supported: sqlite, memory, redis, redis-sentinel)", spec,
		 (int)tlen, spec);
	return -EINVAL;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_count_local_free(st);
	st->ops->close(st);
}

void store_get(struct store *st, const char *ns, const char *key,
	       store_get_cb *cb, void *arg)
{
	struct timed *t;

	assert(ns != NULL && key != NULL && cb != NULL);
	if (st->fault) {
		store_stats_record(st, STORE_OP_GET, STORE_E_RETRY, 0);
		cb(arg, STORE_E_RETRY, NULL);
		return;
	}
	t = store_timed_new(st, STORE_OP_GET, arg);
	t->cb.get = cb;
	st->ops->get(st, ns, key, store_timed_get, t);
}

void store_put(struct store *st, const char *ns, const char *key,
	       const char *value, int64_t expires, store_done_cb *cb,
	       void *arg)
{
	struct timed *t;

	assert(ns != NULL && key != NULL && value != NULL);
	if (cb == NULL)
		cb = done_ignore;
	if (st->fault) {
		store_stats_record(st, STORE_OP_PUT, STORE_E_RETRY, 0);
		cb(arg, STORE_E_RETRY);
		return;
	}
	t = store_timed_new(st, STORE_OP_PUT, arg);
	t->cb.done = cb;
	st->ops->put(st, ns, key, value, expires, store_timed_done, t);
}

/* store_put_many without driver support: one put each, one report. */
struct put_many {
	size_t left;
	int result;
	store_done_cb *cb;
	void *arg;
};

/* One put of a put_many ended; report when the last one has. */
static void put_many_one(void *arg, int result)
{
	struct put_many *pm = arg;

	if (result != STORE_OK && pm->result == STORE_OK)
		pm->result = result;
	if (--pm->left == 0) {
		pm->cb(pm->arg, pm->result);
		free(pm);
	}
}

void store_put_many(struct store *st, const char *ns,
		    const struct store_kv *kv, size_t n, store_done_cb *cb,
		    void *arg)
{
	struct put_many *pm;
	struct timed *t;
	size_t i;

	assert(ns != NULL && (kv != NULL || n == 0));
	if (cb == NULL)
		cb = done_ignore;
	if (st->fault) {
		store_stats_record(st, STORE_OP_PUT_MANY, STORE_E_RETRY, 0);
		cb(arg, STORE_E_RETRY);
		return;
	}
	if (n == 0) {
		cb(arg, STORE_OK);
		return;
	}
	t = store_timed_new(st, STORE_OP_PUT_MANY, arg);
	t->cb.done = cb;
	if (st->ops->put_many) {
		st->ops->put_many(st, ns, kv, n, store_timed_done, t);
		return;
	}
	pm = xcalloc(1, sizeof(*pm));
	pm->left = n;
	pm->cb = store_timed_done;
	pm->arg = t;
	for (i = 0; i < n; i++)
		st->ops->put(st, ns, kv[i].key, kv[i].value, kv[i].expires,
			     put_many_one, pm);
}

/* store_put_new without driver support: what the get found. */
struct put_new {
	int result;
	char *value;
};

/* The get of a generic store_put_new. */
static void put_new_got(void *arg, int result, const char *value)
{
	struct put_new *pn = arg;

	pn->result = result;
	pn->value = value ? xstrdup(value) : NULL;
}

/* The put of a generic store_put_new. */
static void put_new_put(void *arg, int result)
{
	*(int *)arg = result;
}

void store_put_new(struct store *st, const char *ns, const char *key,
		   const char *value, int64_t expires, store_get_cb *cb,
		   void *arg)
{
	struct put_new pn = { -1, NULL };
	int result = -1;
	struct timed *t;

	assert(ns != NULL && key != NULL && value != NULL && cb != NULL);
	if (st->fault) {
		store_stats_record(st, STORE_OP_PUT, STORE_E_RETRY, 0);
		cb(arg, STORE_E_RETRY, NULL);
		return;
	}
	if (st->ops->put_new) {
		t = store_timed_new(st, STORE_OP_PUT, arg);
		t->cb.get = cb;
		st->ops->put_new(st, ns, key, value, expires, store_timed_get,
				 t);
		return;
	}
	/* In process: nothing runs between the get and the put. */
	store_get(st, ns, key, put_new_got, &pn);
	if (pn.result == STORE_OK) {
		cb(arg, STORE_OK, pn.value);
	} else if (pn.result != STORE_NOTFOUND) {
		cb(arg, pn.result == -1 ? STORE_E_RETRY : pn.result, NULL);
	} else {
		store_put(st, ns, key, value, expires, put_new_put, &result);
		cb(arg, result == -1 ? STORE_E_RETRY : result, NULL);
	}
	free(pn.value);
}

void store_del(struct store *st, const char *ns, const char *key,
	       store_done_cb *cb, void *arg)
{
	struct timed *t;

	assert(ns != NULL && key != NULL);
	if (cb == NULL)
		cb = done_ignore;
	if (st->fault) {
		store_stats_record(st, STORE_OP_DEL, STORE_E_RETRY, 0);
		cb(arg, STORE_E_RETRY);
		return;
	}
	t = store_timed_new(st, STORE_OP_DEL, arg);
	t->cb.done = cb;
	st->ops->del(st, ns, key, store_timed_done, t);
}

void store_scan(struct store *st, const char *ns, const char *prefix,
		store_row_cb *cb, void *arg)
{
	struct timed *t;

	assert(ns != NULL && cb != NULL);
	if (prefix == NULL)
		prefix = "";
	if (st->fault) {
		store_stats_record(st, STORE_OP_SCAN, STORE_E_RETRY, 0);
		cb(arg, STORE_E_RETRY, NULL, NULL, 0);
		return;
	}
	t = store_timed_new(st, STORE_OP_SCAN, arg);
	t->cb.row = cb;
	st->ops->scan(st, ns, prefix, store_timed_row, t);
}

void store_append(struct store *st, const char *ns, const char *key,
		  const char *value, int64_t ts, store_done_cb *cb, void *arg)
{
	struct timed *t;

	assert(ns != NULL && key != NULL && value != NULL);
	if (cb == NULL)
		cb = done_ignore;
	if (st->fault) {
		store_stats_record(st, STORE_OP_APPEND, STORE_E_RETRY, 0);
		cb(arg, STORE_E_RETRY);
		return;
	}
	t = store_timed_new(st, STORE_OP_APPEND, arg);
	t->cb.done = cb;
	st->ops->append(st, ns, key, value, ts, store_timed_done, t);
}

void store_log(struct store *st, const char *ns, const char *key,
	       store_row_cb *cb, void *arg)
{
	struct timed *t;

	assert(ns != NULL && key != NULL && cb != NULL);
	if (st->fault) {
		store_stats_record(st, STORE_OP_LOG, STORE_E_RETRY, 0);
		cb(arg, STORE_E_RETRY, NULL, NULL, 0);
		return;
	}
	t = store_timed_new(st, STORE_OP_LOG, arg);
	t->cb.row = cb;
	st->ops->log(st, ns, key, store_timed_row, t);
}

void store_window(struct store *st, const char *ns, const char *key,
		  uint32_t now, const struct store_win *w, size_t n,
		  store_win_cb *cb, void *arg)
{
	struct store_win out[STORE_WIN_MAX];
	size_t i;

	assert(ns != NULL && key != NULL && cb != NULL);
	assert(n > 0 && n <= STORE_WIN_MAX);
	if (st->fault) {
		cb(arg, STORE_E_RETRY, NULL, 0);
		return;
	}
	if (st->ops->window) {
		/* Timed: for a shared store, one round trip per call. */
		struct timed *t = store_timed_new(st, STORE_OP_WINDOW, arg);

		t->cb.win = cb;
		st->ops->window(st, ns, key, now, w, n, store_timed_win, t);
		return;
	}
	/* One host: its own windows are the fleet's. */
	for (i = 0; i < n; i++) {
		out[i] = w[i];
		window_add(&out[i].w, w[i].len, now, w[i].add);
	}
	cb(arg, STORE_OK, out, n);
}

void store_watch(struct store *st, const char *ns, store_watch_cb *cb,
		 void *arg)
{
	assert(ns != NULL && cb != NULL);
	if (st->ops->watch)
		st->ops->watch(st, ns, cb, arg);
}

bool store_is_shared(const struct store *st)
{
	return st->ops->window != NULL;
}

char *store_prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;

	while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (n == 0)
		return NULL;
	end = xstrndup(prefix, n);
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	return end;
}

const char *store_result_str(int result)
{
	switch (result) {
	case STORE_OK:
		return "ok";
	case STORE_NOTFOUND:
		return "notfound";
	case STORE_E_RETRY:
		return "retry";
	default:
		return result < 0 ? "error" : "unknown";
	}
}

const struct store_stats *store_stats(const struct store *st)
{
	return &st->stats;
}
