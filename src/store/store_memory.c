/*
 * store_memory - the "memory:" store: process-local, gone at exit.
 *
 * For tests and throwaway runs.  Same semantics as the sqlite driver:
 * keys are ordered bytewise (strcmp, like SQLite's BINARY collation) within
 * a namespace, expired keys read as STORE_NOTFOUND, are skipped by scan and
 * are dropped when a get meets them; log ids count up from 1 for the life of
 * the store.  Key/value pairs live in one array sorted by (ns, key), so
 * lookups are binary searches and a scan is a contiguous run; inserts shift
 * the tail, which is fine at test sizes.
 *
 * Scan and log copy the matching rows before calling back, so a callback may
 * call the store again (even write to it) without upsetting the walk.
 * Callbacks run before the call returns.  Not thread-safe.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "util/xalloc.h"

struct mem_kv {
	char *ns;
	char *key;
	char *value;
	int64_t expires;	/* unix time, 0 = never */
};

struct mem_log {
	int64_t id;
	int64_t ts;
	char *ns;
	char *key;
	char *value;
};

struct mem_store {
	struct store st;	/* first: the driver is a struct store */
	struct mem_kv *kv;	/* sorted by (ns, key) */
	size_t nkv, capkv;
	struct mem_log *log;	/* in id order */
	size_t nlog, caplog;
	int64_t next_id;
};

/* One copied row handed to a row callback. */
struct mem_row {
	char *key;
	char *value;
	int64_t ts;
};

/* True if a key with this expiry is no longer visible at now. */
static bool mem_expired(int64_t expires, int64_t now)
{
	return expires != 0 && expires <= now;
}

/* Order of (ns, key) pairs: namespace first, then key, both bytewise. */
static int mem_cmp(const char *ns1, const char *key1, const char *ns2,
		   const char *key2)
{
	int c = strcmp(ns1, ns2);

	return c != 0 ? c : strcmp(key1, key2);
}

/* Index of the first entry not ordered before (ns, key). */
static size_t mem_lower_bound(const struct mem_store *ms, const char *ns,
			      const char *key)
{
	size_t lo = 0, hi = ms->nkv;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mem_cmp(ms->kv[mid].ns, ms->kv[mid].key, ns, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of (ns, key), or SIZE_MAX if absent. */
static size_t mem_find(const struct mem_store *ms, const char *ns,
		       const char *key)
{
	size_t i = mem_lower_bound(ms, ns, key);

	if (i < ms->nkv && mem_cmp(ms->kv[i].ns, ms->kv[i].key, ns, key) == 0)
		return i;
	return SIZE_MAX;
}

/* Free entry i's strings and close the gap. */
static void mem_remove(struct mem_store *ms, size_t i)
{
	free(ms->kv[i].ns);
	free(ms->kv[i].key);
	free(ms->kv[i].value);
	memmove(&ms->kv[i], &ms->kv[i + 1],
		(ms->nkv - i - 1) * sizeof(ms->kv[0]));
	ms->nkv--;
}

/* Hand the copied rows to cb, then the end marker; frees the rows. */
static void mem_emit(struct mem_row *rows, size_t n, store_row_cb *cb,
		     void *arg)
{
	size_t i;

	for (i = 0; i < n; i++)
		cb(arg, STORE_OK, rows[i].key, rows[i].value, rows[i].ts);
	cb(arg, STORE_OK, NULL, NULL, 0);
	for (i = 0; i < n; i++) {
		free(rows[i].key);
		free(rows[i].value);
	}
	free(rows);
}

/* Driver op: free everything. */
static void mem_close(struct store *st)
{
	struct mem_store *ms = (struct mem_store *)st;
	size_t i;

	for (i = 0; i < ms->nkv; i++) {
		free(ms->kv[i].ns);
		free(ms->kv[i].key);
		free(ms->kv[i].value);
	}
	for (i = 0; i < ms->nlog; i++) {
		free(ms->log[i].ns);
		free(ms->log[i].key);
		free(ms->log[i].value);
	}
	free(ms->kv);
	free(ms->log);
	free(ms);
}

/* Driver op: look one key up; an expired entry is dropped on sight. */
static void mem_get(struct store *st, const char *ns, const char *key,
		    store_get_cb *cb, void *arg)
{
	struct mem_store *ms = (struct mem_store *)st;
	size_t i = mem_find(ms, ns, key);
	char *value;

	if (i == SIZE_MAX) {
		cb(arg, STORE_NOTFOUND, NULL);
		return;
	}
	if (mem_expired(ms->kv[i].expires, (int64_t)time(NULL))) {
		mem_remove(ms, i);
		cb(arg, STORE_NOTFOUND, NULL);
		return;
	}
	/* A copy, so the callback may overwrite or delete this very key. */
	value = xstrdup(ms->kv[i].value);
	cb(arg, STORE_OK, value);
	free(value);
}

/* Driver op: insert or replace one key. */
static void mem_put(struct store *st, const char *ns, const char *key,
		    const char *value, int64_t expires, store_done_cb *cb,
		    void *arg)
{
	struct mem_store *ms = (struct mem_store *)st;
	size_t i = mem_lower_bound(ms, ns, key);

	if (i < ms->nkv && mem_cmp(ms->kv[i].ns, ms->kv[i].key, ns, key) == 0) {
		char *v = xstrdup(value);

		free(ms->kv[i].value);
		ms->kv[i].value = v;
		ms->kv[i].expires = expires;
	} else {
		if (ms->nkv == ms->capkv) {
			ms->capkv = ms->capkv ? 2 * ms->capkv : 16;
			ms->kv = xrealloc(ms->kv,
					  ms->capkv * sizeof(ms->kv[0]));
		}
		memmove(&ms->kv[i + 1], &ms->kv[i],
			(ms->nkv - i) * sizeof(ms->kv[0]));
		ms->kv[i].ns = xstrdup(ns);
		ms->kv[i].key = xstrdup(key);
		ms->kv[i].value = xstrdup(value);
		ms->kv[i].expires = expires;
		ms->nkv++;
	}
	cb(arg, STORE_OK);
}

/* Driver op: delete one key; a missing key is not an error. */
static void mem_del(struct store *st, const char *ns, const char *key,
		    store_done_cb *cb, void *arg)
{
	struct mem_store *ms = (struct mem_store *)st;
	size_t i = mem_find(ms, ns, key);

	if (i != SIZE_MAX)
		mem_remove(ms, i);
	cb(arg, STORE_OK);
}

/* Driver op: the unexpired keys of ns that start with prefix, in order. */
static void mem_scan(struct store *st, const char *ns, const char *prefix,
		     store_row_cb *cb, void *arg)
{
	struct mem_store *ms = (struct mem_store *)st;
	int64_t now = (int64_t)time(NULL);
	size_t plen = strlen(prefix), i, n = 0, cap = 0;
	struct mem_row *rows = NULL;

	/* Keys with the prefix sort at or after it and form one run. */
	for (i = mem_lower_bound(ms, ns, prefix); i < ms->nkv; i++) {
		const struct mem_kv *e = &ms->kv[i];

		if (strcmp(e->ns, ns) != 0 ||
		    strncmp(e->key, prefix, plen) != 0)
			break;
		if (mem_expired(e->expires, now))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			rows = xrealloc(rows, cap * sizeof(rows[0]));
		}
		rows[n].key = xstrdup(e->key);
		rows[n].value = xstrdup(e->value);
		rows[n].ts = 0;
		n++;
	}
	mem_emit(rows, n, cb, arg);
}

/* Driver op: add an entry to the log of (ns, key). */
static void mem_append(struct store *st, const char *ns, const char *key,
		       const char *value, int64_t ts, store_done_cb *cb,
		       void *arg)
{
	struct mem_store *ms = (struct mem_store *)st;
	struct mem_log *e;

	if (ms->nlog == ms->caplog) {
		ms->caplog = ms->caplog ? 2 * ms->caplog : 16;
		ms->log = xrealloc(ms->log, ms->caplog * sizeof(ms->log[0]));
	}
	e = &ms->log[ms->nlog++];
	e->id = ms->next_id++;
	e->ts = ts;
	e->ns = xstrdup(ns);
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	cb(arg, STORE_OK);
}

/* Driver op: the log of (ns, key), oldest first; key is the id. */
static void mem_log(struct store *st, const char *ns, const char *key,
		    store_row_cb *cb, void *arg)
{
	struct mem_store *ms = (struct mem_store *)st;
	size_t i, n = 0, cap = 0;
	struct mem_row *rows = NULL;

	for (i = 0; i < ms->nlog; i++) {
		const struct mem_log *e = &ms->log[i];

		if (strcmp(e->ns, ns) != 0 || strcmp(e->key, key) != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			rows = xrealloc(rows, cap * sizeof(rows[0]));
		}
		rows[n].key = xasprintf("%" PRId64, e->id);
		rows[n].value = xstrdup(e->value);
		rows[n].ts = e->ts;
		n++;
	}
	mem_emit(rows, n, cb, arg);
}

static const struct store_ops mem_ops = {
	.type = "memory",
	.close = mem_close,
	.get = mem_get,
	.put = mem_put,
	.del = mem_del,
	.scan = mem_scan,
	.append = mem_append,
	.log = mem_log,
};

int store_memory_open(const char *spec, struct store **out, char *err,
		      size_t errsz)
{
	struct mem_store *ms;

	*out = NULL;
	if (spec[0] != '\0') {
		snprintf(err, errsz, "store \"memory:%s\": the memory store "
			 "takes no spec (use \"memory:\")", spec);
		return -EINVAL;
	}
	ms = xcalloc(1, sizeof(*ms));
	ms->st.ops = &mem_ops;
	ms->next_id = 1;
	*out = &ms->st;
	return 0;
}
