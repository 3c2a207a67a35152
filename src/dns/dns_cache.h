/*
 * dns_cache - a bounded, thread-safe answer cache keyed by question, read
 * by the asking thread itself.
 *
 * Why: dns_blocking's callers (the milter's end-of-message workers) ask
 * about three questions per message, nearly always ones answered a moment
 * ago.  Going to the DNS thread and libunbound for each costs two thread
 * hand-offs and two sleeps; a hit here costs one uncontended mutex.
 *
 * What is kept (struct dns_answer's ttl, see dns.h):
 *   - DNS_OK with records: for the answer's TTL, raised to ttl_min and cut
 *     at ttl_max (RFC 1035 3.2.1 / RFC 2181 8: the TTL is an upper bound on
 *     reuse; the floor only spares a hand-off per question for records with
 *     TTL 0 or 1, the cap bounds how long a changed record can go unseen);
 *   - NXDOMAIN and NODATA (negative answers, RFC 2308 5): for the negative
 *     TTL the resolver derived from the SOA (min of its TTL and MINIMUM
 *     field), cut at neg_ttl_max, or neg_ttl_default when the answer
 *     carries none (ttl 0: an upstream that sent no SOA);
 *   - never DNS_TEMPFAIL (SERVFAIL, timeouts, network errors: RFC 2308 7
 *     allows a few minutes, but a DNS outage must stay a tempfail, not a
 *     stale verdict) nor DNS_PERMFAIL (malformed name, REFUSED).
 * Defaults (dns_cache_new(NULL, ...)): 8,192 entries, 8 MiB, ttl_min 1 s,
 * ttl_max 3,600 s, neg_ttl_max 900 s, neg_ttl_default 30 s.
 *
 * Bounds: entries and bytes (the entry's whole allocation) are divided
 * evenly over DNS_CACHE_SHARDS shards, each with its own lock, LRU list and
 * hash chains; inserting into a full shard evicts its least recently used
 * entries.  An answer larger than an eighth of a shard's bytes is not
 * kept (one huge TXT answer cannot flush a shard).  Expired entries are
 * dropped when met by a look-up or an insert into a full shard.
 *
 * Threads and lifetime: every function but dns_cache_free() may be called
 * from any thread at once.  An entry is immutable once made and
 * reference-counted (atomically): a look-up returns a reference the caller
 * gives back with dns_cache_release(); the answer stays valid until then,
 * even if the entry is evicted or the cache freed meanwhile.  Names are
 * compared ASCII case-insensitively, a trailing dot ignored.
 *
 * Time comes from a clock function (monotonic milliseconds), injectable
 * so tests can expire entries without sleeping.
 */
#ifndef MAMORI_DNS_CACHE_H
#define MAMORI_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

#define DNS_CACHE_SHARDS 16

struct dns_cache_limits {
	size_t max_entries;		/* whole cache; at least 1 per shard */
	size_t max_bytes;		/* whole cache */
	uint32_t ttl_min;		/* floor for every kept answer, s */
	uint32_t ttl_max;		/* cap for positive answers, s */
	uint32_t neg_ttl_max;		/* cap for NXDOMAIN/NODATA, s */
	uint32_t neg_ttl_default;	/* NXDOMAIN/NODATA without a TTL, s */
};

/* Monotonic milliseconds. */
typedef int64_t dns_cache_clock(void *arg);

struct dns_cache_stats {
	uint64_t hits, misses, inserts, evictions, expired;
	size_t entries, bytes;
};

struct dns_cache;
struct dns_cache_entry;

/* The limits dns_cache_new(NULL, ...) uses. */
extern const struct dns_cache_limits dns_cache_defaults;

/*
 * A cache with limits lim (NULL: dns_cache_defaults; copied) and clock
 * (NULL: CLOCK_MONOTONIC) called with clock_arg.  Aborts on memory
 * exhaustion like xmalloc().
 */
struct dns_cache *dns_cache_new(const struct dns_cache_limits *lim,
				dns_cache_clock *clock, void *clock_arg);

/*
 * Free the cache and drop its references.  No other thread may use it
 * then; entries still referenced by callers stay valid until released.
 * NULL is a no-op.
 */
void dns_cache_free(struct dns_cache *c);

/*
 * A new entry: a copy of question q's answer a in one allocation, with one
 * reference, the caller's.  Usable whether or not it is then inserted.
 */
struct dns_cache_entry *dns_cache_entry_new(const struct dns_question *q,
					    const struct dns_answer *a);

/* The entry's answer, valid while the caller holds its reference. */
const struct dns_answer *dns_cache_entry_answer(
	const struct dns_cache_entry *e);

/* Give back one reference (the last frees it).  NULL is a no-op. */
void dns_cache_release(struct dns_cache_entry *e);

/*
 * Keep e for its TTL if its answer may be kept (see above), replacing an
 * older entry for the same question.  The cache takes a reference of its
 * own: the caller's stays the caller's.  Insert an entry once only (into
 * one cache).  Returns 1 if kept, 0 if not.
 */
int dns_cache_insert(struct dns_cache *c, struct dns_cache_entry *e);

/*
 * The live entry for q, with a reference for the caller, or NULL (none,
 * or expired: then it is dropped).  Counts a hit or a miss.
 */
struct dns_cache_entry *dns_cache_lookup(struct dns_cache *c,
					 const struct dns_question *q);

/* Counters and sizes summed over the shards (a snapshot). */
void dns_cache_get_stats(struct dns_cache *c, struct dns_cache_stats *st);

#endif
