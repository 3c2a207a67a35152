/*
 * dns_blocking - a resolver that answers before dns_query() returns, for
 * threads that may block: the milter's per-connection workers and the
 * `mamori scan` command.
 *
 * It owns one dns_unbound resolver (one libunbound context, one cache) on
 * a private event_base run by a thread of its own.  A caller's question is
 * posted to that thread's loop (util/loopq.h), and the caller waits on
 * a condition variable of its own (an answer wakes its asker only),
 * bounded by twice timeout_ms plus a second (dns_unbound itself answers
 * DNS_TEMPFAIL at timeout_ms, so the bound only matters if the DNS thread
 * is stuck).  Any number of threads may ask at once; the callback runs in
 * the asking thread.
 *
 * Answers are kept in a dns_cache (dns_cache.h, its default limits: 8,192
 * answers, 8 MiB, positive TTLs honoured with a 1 s floor and a 1 h cap,
 * NXDOMAIN/NODATA by their RFC 2308 negative TTL, 15 min at most, 30 s
 * without one; never TEMPFAIL or PERMFAIL).  A question it holds is
 * answered in the asking thread with no hand-off at all; so in a DNS
 * outage, answers fetched before it still serve until their TTL runs out,
 * and every other question is DNS_TEMPFAIL, as without the cache.
 */
#ifndef MAMORI_DNS_BLOCKING_H
#define MAMORI_DNS_BLOCKING_H

#include <stddef.h>

#include "dns/dns.h"

struct dns_cache_stats;

/*
 * upstream and timeout_ms as for dns_unbound_new().  Returns NULL with a
 * message in err on failure.  dns_resolver_free() stops the thread; no
 * question may be in flight then (call dns_blocking_close() first and let
 * the callers return).
 */
struct dns_resolver *dns_blocking_new(const char *upstream, int timeout_ms,
				      char *err, size_t errsz);

/*
 * Shutting down: callers waiting now, and every later question, get
 * DNS_TEMPFAIL at once.
 */
void dns_blocking_close(struct dns_resolver *r);

/* The answer cache's counters (hits, misses, entries...), any thread. */
void dns_blocking_cache_stats(struct dns_resolver *r,
			      struct dns_cache_stats *st);

#endif
