/*
 * store_count - store_count(): counters and distinct counts in buckets,
 * for the login engine's fleet-wide rules (docs/design/fleet.md).  This
 * file routes the call (fault injection, limits) to a shared store's
 * driver, and counts in process for a store of one host (sqlite:,
 * memory:), exactly.
 *
 * In process: one open-addressing table of buckets, keyed by a 64-bit hash
 * of (ns, key, kind, len, bucket index); a bucket holds a sum or a sorted
 * array of 64-bit item hashes (at most STORE_CNT_SET_CAP: an HLL count is
 * exact here up to that many per bucket).  At most STORE_CNT_LOCAL_MAX
 * buckets: a full table first drops the buckets past their time, then
 * reports STORE_E_RETRY.  Callbacks run before the call returns.
 * Event-loop thread, like every store call.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-internal.h"
#include "store/store.h"
#include "util/xalloc.h"

/* One bucket. */
struct cnt_bucket {
	uint64_t h;		/* 0: empty slot */
	uint32_t until;		/* dropped after this (unix time) */
	uint32_t sum;
	uint64_t *items;	/* sorted */
	uint32_t n, cap;
};

struct store_cnt_local {
	struct cnt_bucket *b;
	size_t cap, n;
};

/* FNV-1a over n bytes, continuing from h. */
static uint64_t cnt_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* The bucket's hash: never 0 (the empty slot). */
static uint64_t cnt_hash(const char *ns, const struct store_cnt *c,
			 uint32_t idx)
{
	uint64_t h = 14695981039346656037ull;
	uint32_t tail[3] = { c->kind, c->len, idx };

	h = cnt_fnv(h, ns, strlen(ns) + 1);
	h = cnt_fnv(h, c->key, strlen(c->key) + 1);
	h = cnt_fnv(h, tail, sizeof(tail));
	return h ? h : 1;
}

/* The slot of h: its bucket, or the empty slot to fill. */
static struct cnt_bucket *cnt_slot(struct store_cnt_local *t, uint64_t h)
{
	size_t i = (size_t)h & (t->cap - 1);

	while (t->b[i].h != 0 && t->b[i].h != h)
		i = (i + 1) & (t->cap - 1);
	return &t->b[i];
}

/* Rebuild the table at cap slots, without the buckets past now. */
static void cnt_rebuild(struct store_cnt_local *t, size_t cap, uint32_t now)
{
	struct cnt_bucket *old = t->b;
	size_t ocap = t->cap, i;

	t->b = xcalloc(cap, sizeof(*t->b));
	t->cap = cap;
	t->n = 0;
	for (i = 0; i < ocap; i++) {
		if (old[i].h == 0)
			continue;
		if (old[i].until < now) {
			free(old[i].items);
			continue;
		}
		*cnt_slot(t, old[i].h) = old[i];
		t->n++;
	}
	free(old);
}

/* The live bucket of h, made (or emptied, if past its time) when make is
 * set; NULL when absent, or full. */
static struct cnt_bucket *cnt_get(struct store_cnt_local *t, uint64_t h,
				  bool make, uint32_t now)
{
	struct cnt_bucket *b = cnt_slot(t, h);

	if (b->h != 0 && b->until < now && make) {
		b->sum = 0;
		b->n = 0;
		return b;
	}
	if (b->h != 0 || !make)
		return b->h != 0 && b->until >= now ? b : NULL;
	if ((t->n + 1) * 4 > t->cap * 3 || t->n >= STORE_CNT_LOCAL_MAX) {
		cnt_rebuild(t, t->cap, now);
		if (t->n >= STORE_CNT_LOCAL_MAX)
			return NULL;
		if ((t->n + 1) * 4 > t->cap * 3)
			cnt_rebuild(t, t->cap * 2, now);
		b = cnt_slot(t, h);
	}
	b->h = h;
	t->n++;
	return b;
}

/* Add item hash x to b's sorted set (up to STORE_CNT_SET_CAP). */
static void cnt_item_add(struct cnt_bucket *b, uint64_t x)
{
	uint32_t lo = 0, hi = b->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (b->items[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	if ((lo < b->n && b->items[lo] == x) || b->n >= STORE_CNT_SET_CAP)
		return;
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 8;
		b->items = xrealloc(b->items, b->cap * sizeof(*b->items));
	}
	memmove(b->items + lo + 1, b->items + lo,
		(b->n - lo) * sizeof(*b->items));
	b->items[lo] = x;
	b->n++;
}

/* Is x in b's set? */
static bool cnt_item_has(const struct cnt_bucket *b, uint64_t x)
{
	uint32_t lo = 0, hi = b->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (b->items[mid] == x)
			return true;
		if (b->items[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The union's size over buckets bs[0..nb) (NULL ones skipped). */
static uint64_t cnt_union(struct cnt_bucket *const *bs, size_t nb)
{
	uint64_t total = 0;
	size_t i, j;
	uint32_t k;

	for (i = 0; i < nb; i++) {
		if (bs[i] == NULL)
			continue;
		for (k = 0; k < bs[i]->n; k++) {
			bool seen = false;

			/* Counted already by a newer bucket? */
			for (j = 0; j < i && !seen; j++)
				seen = bs[j] && cnt_item_has(bs[j],
							     bs[i]->items[k]);
			total += !seen;
		}
	}
	return total;
}

void store_count_local(struct store *st, const char *ns, uint32_t now,
		       const struct store_cnt *c, size_t n, store_cnt_cb *cb,
		       void *arg)
{
	struct store_cnt out[STORE_CNT_MAX];
	struct store_cnt_local *t = st->cnt;
	size_t i, j;

	if (t == NULL) {
		t = st->cnt = xcalloc(1, sizeof(*t));
		t->cap = 64;
		t->b = xcalloc(t->cap, sizeof(*t->b));
	}
	for (i = 0; i < n; i++) {
		struct cnt_bucket *bs[STORE_CNT_BUCKETS];
		uint32_t idx = now / c[i].len;
		bool adds = c[i].kind == STORE_CNT_SUM ? c[i].add > 0 :
			    c[i].item != NULL;

		for (j = 0; c[i].reset && j < c[i].nb && j <= idx; j++) {
			struct cnt_bucket *x = cnt_get(t, cnt_hash(ns, &c[i],
						idx - (uint32_t)j), false, now);

			if (x != NULL)
				x->sum = x->n = 0;
		}
		bs[0] = cnt_get(t, cnt_hash(ns, &c[i], idx), adds, now);
		if (adds && bs[0] == NULL) {
			cb(arg, STORE_E_RETRY, NULL, 0);
			return;
		}
		if (adds) {
			/* Kept while a later answer may still sum it. */
			bs[0]->until = (idx + c[i].nb) * c[i].len + 60;
			if (c[i].kind == STORE_CNT_SUM)
				bs[0]->sum = bs[0]->sum > UINT32_MAX - c[i].add
					     ? UINT32_MAX : bs[0]->sum + c[i].add;
			else
				cnt_item_add(bs[0], cnt_fnv(
					14695981039346656037ull, c[i].item,
					strlen(c[i].item)));
		}
		for (j = 1; j < c[i].nb && j <= idx; j++)
			bs[j] = cnt_get(t, cnt_hash(ns, &c[i], idx - (uint32_t)j),
					false, now);
		for (; j < c[i].nb; j++)
			bs[j] = NULL;
		out[i] = c[i];
		out[i].key = out[i].item = NULL;
		out[i].count = 0;
		if (c[i].kind == STORE_CNT_SUM) {
			for (j = 0; j < c[i].nb; j++)
				out[i].count += bs[j] ? bs[j]->sum : 0;
		} else {
			out[i].count = cnt_union(bs, c[i].nb);
		}
	}
	cb(arg, STORE_OK, out, n);
}

void store_count_local_free(struct store *st)
{
	struct store_cnt_local *t = st->cnt;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->cap; i++)
		free(t->b[i].items);
	free(t->b);
	free(t);
	st->cnt = NULL;
}

void store_count(struct store *st, const char *ns, uint32_t now,
		 const struct store_cnt *c, size_t n, store_cnt_cb *cb,
		 void *arg)
{
	struct timed *t;
	size_t i;

	assert(ns != NULL && cb != NULL);
	assert(n > 0 && n <= STORE_CNT_MAX);
	for (i = 0; i < n; i++) {
		assert(c[i].key != NULL && c[i].len > 0);
		assert(c[i].nb >= 1 && c[i].nb <= STORE_CNT_BUCKETS);
		assert(c[i].kind <= STORE_CNT_HLL);
		if (strlen(c[i].key) > STORE_CNT_KEY_MAX ||
		    (c[i].item && strlen(c[i].item) > STORE_CNT_KEY_MAX)) {
			cb(arg, -EINVAL, NULL, 0);
			return;
		}
	}
	if (st->fault) {
		store_stats_record(st, STORE_OP_COUNT, STORE_E_RETRY, 0);
		cb(arg, STORE_E_RETRY, NULL, 0);
		return;
	}
	t = store_timed_new(st, STORE_OP_COUNT, arg);
	t->cb.cnt = cb;
	if (st->ops->count)
		st->ops->count(st, ns, now, c, n, store_timed_cnt, t);
	else
		store_count_local(st, ns, now, c, n, store_timed_cnt, t);
}
