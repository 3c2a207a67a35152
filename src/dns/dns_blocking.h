/*
 * dns_blocking - a resolver that answers before dns_query() returns, for
 * threads that may block: the milter's per-connection workers and the
 * `mamori scan` command.
 *
 * It owns one dns_unbound resolver (one libunbound context, one cache) on
 * a private event_base run by a thread of its own.  A caller's question is
 * posted to that thread's loop (util/loopq.h), and the caller waits on
 * a condition variable, bounded by twice timeout_ms plus a second
 * (dns_unbound itself answers DNS_TEMPFAIL at timeout_ms, so the bound only
 * matters if the DNS thread is stuck).  Any number of threads may ask at
 * once; the callback runs in the asking thread.
 */
#ifndef MAMORI_DNS_BLOCKING_H
#define MAMORI_DNS_BLOCKING_H

#include <stddef.h>

#include "dns/dns.h"

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

#endif
