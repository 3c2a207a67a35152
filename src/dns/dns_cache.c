/*
 * dns_cache - bounded answer cache (see dns_cache.h for what is kept).
 *
 * Layout: DNS_CACHE_SHARDS shards chosen by the key's hash; each has a
 * mutex, a fixed array of hash chains and an LRU list (head = most
 * recently used).  An entry is one allocation: the struct, its record
 * array, the record texts and the normalized name, so making, copying
 * and freeing an answer costs one malloc and one free.  Entries are
 * immutable after dns_cache_entry_new(); only the link fields change, and
 * only under their shard's lock.  The reference count is atomic so a
 * caller can release without the lock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/dns_cache.h"
#include "util/xalloc.h"

/* Hash chains per shard (a power of two). */
#define SHARD_BUCKETS 512

struct dns_cache_entry {
	struct dns_cache_entry *hnext;		/* hash chain */
	struct dns_cache_entry *lprev, *lnext;	/* LRU, head = newest */
	atomic_int refs;
	uint32_t hash;
	int64_t expires;			/* clock ms; set at insert */
	size_t bytes;				/* the whole allocation */
	size_t name_len;
	enum dns_type type;
	struct dns_answer ans;			/* rr points inside */
	char name[];				/* lowercased, no final dot */
};

struct shard {
	pthread_mutex_t lock;
	struct dns_cache_entry *bucket[SHARD_BUCKETS];
	struct dns_cache_entry *head, *tail;
	size_t entries, bytes;
	uint64_t hits, misses, inserts, evictions, expired;
};

struct dns_cache {
	struct dns_cache_limits lim;
	size_t shard_entries, shard_bytes, max_entry_bytes;
	dns_cache_clock *clock;
	void *clock_arg;
	struct shard shard[DNS_CACHE_SHARDS];
};

const struct dns_cache_limits dns_cache_defaults = {
	.max_entries = 8192,
	.max_bytes = 8u << 20,
	.ttl_min = 1,
	.ttl_max = 3600,
	.neg_ttl_max = 900,
	.neg_ttl_default = 30,
};

/* CLOCK_MONOTONIC in milliseconds: the default clock. */
static int64_t mono_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Length of name without a trailing dot. */
static size_t name_len(const char *name)
{
	size_t n = strnlen(name, sizeof(((struct dns_question *)0)->name) - 1);

	return n && name[n - 1] == '.' ? n - 1 : n;
}

/* ASCII lowercase of one byte (names are octets, RFC 4343). */
static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* FNV-1a over the lowercased name and the type. */
static uint32_t key_hash(const char *name, size_t n, enum dns_type type)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ lower((unsigned char)name[i])) * 16777619u;
	h = (h ^ (uint32_t)type) * 16777619u;
	return h ^ (h >> 15);
}

/* Does entry e hold the question (name n bytes, type)? */
static bool key_eq(const struct dns_cache_entry *e, uint32_t hash,
		   const char *name, size_t n, enum dns_type type)
{
	size_t i;

	if (e->hash != hash || e->type != type || e->name_len != n)
		return false;
	for (i = 0; i < n; i++)
		if (e->name[i] != (char)lower((unsigned char)name[i]))
			return false;
	return true;
}

struct dns_cache *dns_cache_new(const struct dns_cache_limits *lim,
				dns_cache_clock *clock, void *clock_arg)
{
	struct dns_cache *c = xcalloc(1, sizeof(*c));
	size_t i;

	c->lim = lim ? *lim : dns_cache_defaults;
	c->shard_entries = c->lim.max_entries / DNS_CACHE_SHARDS;
	if (c->shard_entries == 0)
		c->shard_entries = 1;
	c->shard_bytes = c->lim.max_bytes / DNS_CACHE_SHARDS;
	c->max_entry_bytes = c->shard_bytes / 8;
	c->clock = clock ? clock : mono_ms;
	c->clock_arg = clock_arg;
	for (i = 0; i < DNS_CACHE_SHARDS; i++)
		pthread_mutex_init(&c->shard[i].lock, NULL);
	return c;
}

struct dns_cache_entry *dns_cache_entry_new(const struct dns_question *q,
					    const struct dns_answer *a)
{
	size_t n = name_len(q->name), bytes, i, text = 0;
	struct dns_cache_entry *e;
	char *p;

	for (i = 0; i < a->n; i++)
		if (a->rr[i].text)
			text += a->rr[i].text_len + 1;
	bytes = sizeof(*e) + n + 1;
	/* the record array after the name, aligned for struct dns_rr */
	bytes = (bytes + _Alignof(struct dns_rr) - 1) &
		~(_Alignof(struct dns_rr) - 1);
	e = xmalloc(bytes + a->n * sizeof(struct dns_rr) + text);
	memset(e, 0, sizeof(*e));
	atomic_init(&e->refs, 1);
	e->type = q->type;
	e->hash = key_hash(q->name, n, q->type);
	for (i = 0; i < n; i++)
		e->name[i] = (char)lower((unsigned char)q->name[i]);
	e->name[n] = '\0';
	e->name_len = n;
	e->ans = *a;
	e->ans.rr = a->n ? (struct dns_rr *)((char *)e + bytes) : NULL;
	p = (char *)e + bytes + a->n * sizeof(struct dns_rr);
	for (i = 0; i < a->n; i++) {
		e->ans.rr[i] = a->rr[i];
		if (a->rr[i].text) {
			/* a NUL after the bytes keeps names C strings */
			memcpy(p, a->rr[i].text, a->rr[i].text_len);
			p[a->rr[i].text_len] = '\0';
			e->ans.rr[i].text = p;
			p += a->rr[i].text_len + 1;
		}
	}
	e->bytes = bytes + a->n * sizeof(struct dns_rr) + text;
	return e;
}

const struct dns_answer *dns_cache_entry_answer(
	const struct dns_cache_entry *e)
{
	return &e->ans;
}

void dns_cache_release(struct dns_cache_entry *e)
{
	if (e && atomic_fetch_sub_explicit(&e->refs, 1,
					   memory_order_acq_rel) == 1)
		free(e);
}

/* Unlink e from its shard (lock held) and drop the cache's reference. */
static void shard_drop(struct shard *s, struct dns_cache_entry *e)
{
	struct dns_cache_entry **pp = &s->bucket[e->hash % SHARD_BUCKETS];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		s->head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		s->tail = e->lprev;
	s->entries--;
	s->bytes -= e->bytes;
	dns_cache_release(e);
}

/* Move e to the head of the LRU list (lock held). */
static void shard_touch(struct shard *s, struct dns_cache_entry *e)
{
	if (s->head == e)
		return;
	e->lprev->lnext = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		s->tail = e->lprev;
	e->lprev = NULL;
	e->lnext = s->head;
	s->head->lprev = e;
	s->head = e;
}

/* Seconds answer a may be kept, 0 if never (see dns_cache.h). */
static uint32_t keep_ttl(const struct dns_cache_limits *l,
			 const struct dns_answer *a)
{
	uint32_t t = a->ttl;

	if (a->rcode == DNS_OK && a->n > 0) {
		if (t > l->ttl_max)
			t = l->ttl_max;
	} else if (a->rcode == DNS_NXDOMAIN ||
		   (a->rcode == DNS_OK && a->n == 0)) {
		if (t == 0)
			t = l->neg_ttl_default;
		if (t > l->neg_ttl_max)
			t = l->neg_ttl_max;
	} else {
		return 0;	/* TEMPFAIL, PERMFAIL */
	}
	return t < l->ttl_min ? l->ttl_min : t;
}

int dns_cache_insert(struct dns_cache *c, struct dns_cache_entry *e)
{
	uint32_t ttl = keep_ttl(&c->lim, &e->ans);
	struct shard *s = &c->shard[e->hash % DNS_CACHE_SHARDS];
	struct dns_cache_entry *old;
	int64_t now;

	if (ttl == 0 || e->bytes > c->max_entry_bytes)
		return 0;
	now = c->clock(c->clock_arg);
	pthread_mutex_lock(&s->lock);
	for (old = s->bucket[e->hash % SHARD_BUCKETS]; old; old = old->hnext)
		if (key_eq(old, e->hash, e->name, e->name_len, e->type))
			break;
	if (old)
		shard_drop(s, old);
	/* Make room from the LRU end (counted as expired if it was). */
	while (s->tail && (s->entries + 1 > c->shard_entries ||
			   s->bytes + e->bytes > c->shard_bytes)) {
		if (s->tail->expires <= now)
			s->expired++;
		else
			s->evictions++;
		shard_drop(s, s->tail);
	}
	e->expires = now + (int64_t)ttl * 1000;
	atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	e->hnext = s->bucket[e->hash % SHARD_BUCKETS];
	s->bucket[e->hash % SHARD_BUCKETS] = e;
	e->lprev = NULL;
	e->lnext = s->head;
	if (s->head)
		s->head->lprev = e;
	else
		s->tail = e;
	s->head = e;
	s->entries++;
	s->bytes += e->bytes;
	s->inserts++;
	pthread_mutex_unlock(&s->lock);
	return 1;
}

struct dns_cache_entry *dns_cache_lookup(struct dns_cache *c,
					 const struct dns_question *q)
{
	size_t n = name_len(q->name);
	uint32_t h = key_hash(q->name, n, q->type);
	struct shard *s = &c->shard[h % DNS_CACHE_SHARDS];
	struct dns_cache_entry *e;
	int64_t now = c->clock(c->clock_arg);

	pthread_mutex_lock(&s->lock);
	for (e = s->bucket[h % SHARD_BUCKETS]; e; e = e->hnext)
		if (key_eq(e, h, q->name, n, q->type))
			break;
	if (e && e->expires <= now) {
		shard_drop(s, e);
		s->expired++;
		e = NULL;
	}
	if (e) {
		shard_touch(s, e);
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
		s->hits++;
	} else {
		s->misses++;
	}
	pthread_mutex_unlock(&s->lock);
	return e;
}

void dns_cache_get_stats(struct dns_cache *c, struct dns_cache_stats *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < DNS_CACHE_SHARDS; i++) {
		struct shard *s = &c->shard[i];

		pthread_mutex_lock(&s->lock);
		st->hits += s->hits;
		st->misses += s->misses;
		st->inserts += s->inserts;
		st->evictions += s->evictions;
		st->expired += s->expired;
		st->entries += s->entries;
		st->bytes += s->bytes;
		pthread_mutex_unlock(&s->lock);
	}
}

void dns_cache_free(struct dns_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < DNS_CACHE_SHARDS; i++) {
		struct shard *s = &c->shard[i];

		while (s->head)
			shard_drop(s, s->head);
		pthread_mutex_destroy(&s->lock);
	}
	free(c);
}
