/*
 * test-dns-cache - the answer cache: hits and keys, TTL floor/cap and
 * expiry on an injected clock (no sleeps), negative caching (RFC 2308),
 * what is never kept, the entry and byte bounds with LRU eviction,
 * references outliving eviction, and several threads at once (bounded
 * counts).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dns/dns_cache.h"
#include "tap.h"

static _Atomic int64_t now_ms;

/* The injected clock: whatever the test set. */
static int64_t fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&now_ms);
}

/* A question for name and type. */
static struct dns_question question(const char *name, enum dns_type t)
{
	struct dns_question q;

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	q.type = t;
	return q;
}

/* Insert an answer of rcode with one TXT record text (none if NULL). */
static int put(struct dns_cache *c, const char *name, enum dns_rcode rcode,
	       const char *text, uint32_t ttl)
{
	struct dns_question q = question(name, DNS_T_TXT);
	struct dns_rr rr = { .type = DNS_T_TXT };
	struct dns_answer a = { .rcode = rcode, .ttl = ttl };
	struct dns_cache_entry *e;
	int kept;

	if (text) {
		rr.text = (char *)text;
		rr.text_len = strlen(text);
		a.n = 1;
		a.rr = &rr;
	} else {
		a.nodata = rcode == DNS_OK;
	}
	e = dns_cache_entry_new(&q, &a);
	kept = dns_cache_insert(c, e);
	dns_cache_release(e);
	return kept;
}

/* Is there a live TXT entry for name (and, if want, with that text)? */
static bool has(struct dns_cache *c, const char *name, const char *want)
{
	struct dns_question q = question(name, DNS_T_TXT);
	struct dns_cache_entry *e = dns_cache_lookup(c, &q);
	const struct dns_answer *a;
	bool r;

	if (!e)
		return false;
	a = dns_cache_entry_answer(e);
	r = !want || (a->n == 1 && strcmp(a->rr[0].text, want) == 0);
	dns_cache_release(e);
	return r;
}

/* Keys: case, trailing dot, type; a newer answer replaces the older. */
static void keys(void)
{
	struct dns_cache *c = dns_cache_new(NULL, fake_clock, NULL);
	struct dns_question q = question("example.test", DNS_T_A);
	struct dns_cache_stats st;

	atomic_store(&now_ms, 1000);
	ok(put(c, "Example.TEST.", DNS_OK, "v=spf1 -all", 300),
	   "keys: a positive answer is kept");
	ok(has(c, "example.test", "v=spf1 -all"),
	   "keys: hit, case and final dot ignored");
	ok(dns_cache_lookup(c, &q) == NULL, "keys: another type misses");
	ok(!has(c, "other.example.test", NULL), "keys: another name misses");
	put(c, "example.test", DNS_OK, "v=spf1 +all", 300);
	ok(has(c, "EXAMPLE.test", "v=spf1 +all"),
	   "keys: the newer answer replaces the older");
	dns_cache_get_stats(c, &st);
	is_int(st.entries, 1, "keys: one entry after the replacement");
	is_int(st.hits, 2, "keys: hits counted");
	is_int(st.misses, 2, "keys: misses counted");
	dns_cache_free(c);
	dns_cache_free(NULL);
}

/* TTLs: how long each kind of answer is kept, to the millisecond. */
static void ttls(void)
{
	static const struct {
		const char *label;
		enum dns_rcode rcode;
		const char *text;	/* NULL: no record */
		uint32_t ttl;
		int64_t kept_ms;	/* 0: never kept */
	} rows[] = {
		{"positive, its own TTL", DNS_OK, "a", 60, 60000},
		{"positive TTL 0 raised to the floor", DNS_OK, "a", 0, 2000},
		{"positive TTL cut at the cap", DNS_OK, "a", 1u << 30, 600000},
		{"NXDOMAIN with its SOA's TTL", DNS_NXDOMAIN, NULL, 120, 120000},
		{"NXDOMAIN without one: the default", DNS_NXDOMAIN, NULL, 0,
		 45000},
		{"NODATA with its SOA's TTL", DNS_OK, NULL, 7, 7000},
		{"NODATA TTL cut at the negative cap", DNS_OK, NULL, 86400,
		 300000},
		{"TEMPFAIL never kept", DNS_TEMPFAIL, NULL, 60, 0},
		{"PERMFAIL never kept", DNS_PERMFAIL, NULL, 60, 0},
	};
	const struct dns_cache_limits lim = {
		.max_entries = 1024, .max_bytes = 1u << 20, .ttl_min = 2,
		.ttl_max = 600, .neg_ttl_max = 300, .neg_ttl_default = 45,
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dns_cache *c = dns_cache_new(&lim, fake_clock, NULL);
		struct dns_cache_stats st;
		int kept;

		atomic_store(&now_ms, 5000);
		kept = put(c, "ttl.test", rows[i].rcode, rows[i].text,
			   rows[i].ttl);
		is_int(kept, rows[i].kept_ms > 0, "ttl: %s: kept or not",
		       rows[i].label);
		if (rows[i].kept_ms == 0) {
			ok(!has(c, "ttl.test", NULL), "ttl: %s: a miss",
			   rows[i].label);
			dns_cache_free(c);
			continue;
		}
		atomic_store(&now_ms, 5000 + rows[i].kept_ms - 1);
		ok(has(c, "ttl.test", NULL), "ttl: %s: hit 1 ms before",
		   rows[i].label);
		atomic_store(&now_ms, 5000 + rows[i].kept_ms);
		ok(!has(c, "ttl.test", NULL), "ttl: %s: expired at the TTL",
		   rows[i].label);
		dns_cache_get_stats(c, &st);
		ok(st.entries == 0 && st.expired == 1,
		   "ttl: %s: the expired entry is dropped", rows[i].label);
		dns_cache_free(c);
	}
}

/* Bounds: entries and bytes stay under the limits; LRU order. */
static void bounds(void)
{
	const struct dns_cache_limits lim = {
		.max_entries = 4 * DNS_CACHE_SHARDS,
		.max_bytes = 64u << 10, .ttl_min = 1, .ttl_max = 3600,
		.neg_ttl_max = 900, .neg_ttl_default = 30,
	};
	struct dns_cache *c = dns_cache_new(&lim, fake_clock, NULL);
	struct dns_cache_stats st;
	char name[64], big[8192];
	bool kept_hot = true;
	int i;

	atomic_store(&now_ms, 0);
	put(c, "hot.test", DNS_OK, "hot", 3600);
	put(c, "cold.test", DNS_OK, "cold", 3600);
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		put(c, name, DNS_OK, name, 3600);
		kept_hot &= has(c, "hot.test", "hot");
		dns_cache_get_stats(c, &st);
		if (st.entries > lim.max_entries)
			break;
	}
	is_int(i, 2000, "bounds: never more than %zu entries",
	       lim.max_entries);
	ok(kept_hot, "bounds: an entry used after every insert stays");
	ok(!has(c, "cold.test", NULL), "bounds: an unused old entry goes");
	dns_cache_get_stats(c, &st);
	is_int(st.evictions, st.inserts - st.entries,
	       "bounds: every insert beyond the bound evicted one");
	dns_cache_free(c);

	/* bytes: 1 KiB answers, 64 KiB in all */
	c = dns_cache_new(&(struct dns_cache_limits){
		.max_entries = 100000, .max_bytes = 64u << 10, .ttl_min = 1,
		.ttl_max = 3600, .neg_ttl_max = 900, .neg_ttl_default = 30 },
		fake_clock, NULL);
	memset(big, 'x', sizeof(big));
	big[200] = '\0';
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "b%d.test", i);
		put(c, name, DNS_OK, big, 3600);
		dns_cache_get_stats(c, &st);
		if (st.bytes > lim.max_bytes)
			break;
	}
	is_int(i, 2000, "bounds: never more than 64 KiB");
	ok(st.entries > 20, "bounds: but the bytes are used (%zu entries)",
	   st.entries);
	big[200] = 'x';
	big[sizeof(big) - 1] = '\0';
	ok(!put(c, "huge.test", DNS_OK, big, 3600),
	   "bounds: an answer over an eighth of a shard is not kept");
	dns_cache_free(c);
}

/* A reference outlives the entry's eviction and the cache itself. */
static void references(void)
{
	struct dns_cache *c = dns_cache_new(NULL, fake_clock, NULL);
	struct dns_question q = question("ref.test", DNS_T_TXT);
	struct dns_cache_entry *e;

	atomic_store(&now_ms, 0);
	put(c, "ref.test", DNS_OK, "still here", 10);
	e = dns_cache_lookup(c, &q);
	put(c, "ref.test", DNS_OK, "replaced", 10);
	atomic_store(&now_ms, 60000);
	ok(!has(c, "ref.test", NULL), "references: expired in the cache");
	dns_cache_free(c);
	ok(e && strcmp(dns_cache_entry_answer(e)->rr[0].text,
		       "still here") == 0,
	   "references: the caller's answer survives replacement and free");
	dns_cache_release(e);
	dns_cache_release(NULL);
}

#define THREADS 4
#define OPS 20000
#define NAMES 100

struct worker {
	struct dns_cache *c;
	int id;
	long lookups, wrong;
};

/* A thread: look up names, insert on a miss, check every hit's text. */
static void *worker(void *arg)
{
	struct worker *w = arg;
	char name[32];
	int i;

	for (i = 0; i < OPS; i++) {
		struct dns_question q;
		struct dns_cache_entry *e;
		const struct dns_answer *a;

		snprintf(name, sizeof(name), "c%d.test",
			 (i * 7 + w->id * 13) % NAMES);
		q = question(name, DNS_T_TXT);
		e = dns_cache_lookup(w->c, &q);
		w->lookups++;
		if (!e) {
			put(w->c, name, DNS_OK, name, 60);
			continue;
		}
		a = dns_cache_entry_answer(e);
		if (a->n != 1 || strcmp(a->rr[0].text, name) != 0)
			w->wrong++;
		dns_cache_release(e);
		if (i % 1000 == 0)	/* time moves: some entries expire */
			atomic_fetch_add(&now_ms, 7000);
	}
	return NULL;
}

/* Several threads at once on a small cache. */
static void threads(void)
{
	const struct dns_cache_limits lim = {
		.max_entries = 8 * DNS_CACHE_SHARDS, .max_bytes = 1u << 20,
		.ttl_min = 1, .ttl_max = 3600, .neg_ttl_max = 900,
		.neg_ttl_default = 30,
	};
	struct dns_cache *c = dns_cache_new(&lim, fake_clock, NULL);
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct dns_cache_stats st;
	long lookups = 0, wrong = 0;
	int i;

	atomic_store(&now_ms, 0);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .c = c, .id = i };
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		lookups += w[i].lookups;
		wrong += w[i].wrong;
	}
	dns_cache_get_stats(c, &st);
	is_int(wrong, 0, "threads: %d threads, every hit the right answer",
	       THREADS);
	is_int(st.hits + st.misses, lookups,
	       "threads: every look-up counted once");
	ok(st.hits > 0 && st.misses > 0, "threads: hits and misses (%lu/%lu)",
	   (unsigned long)st.hits, (unsigned long)st.misses);
	ok(st.entries <= lim.max_entries, "threads: entries within the bound");
	dns_cache_free(c);
}

int main(void)
{
	keys();
	ttls();
	bounds();
	references();
	threads();
	return tap_done();
}
