/*
 * dns_unbound - the daemon's resolver: libunbound, asynchronous, in the
 * libevent loop.
 *
 * Queries go out with ub_resolve_async(); the context runs its worker in a
 * thread and signals answers on ub_fd(), which is watched by the event
 * base, so callbacks run in the loop's thread.  Each query has a timer:
 * when it fires first the query is cancelled and answered DNS_TEMPFAIL.
 * SERVFAIL and libunbound errors are DNS_TEMPFAIL, NXDOMAIN is
 * DNS_NXDOMAIN, REFUSED and other codes DNS_PERMFAIL.  No DNSSEC
 * validation is asked for (no trust anchor is configured).
 *
 * Record data: A/AAAA addresses; MX preference and exchange; PTR and
 * CNAME targets without the final dot; TXT character-strings joined, with
 * the length kept (they may hold NULs).  Answers carry only records of the
 * asked type; a CNAME chain is followed by libunbound, so the records are
 * the target's.
 *
 * TTL: the answer's ttl is libunbound's (ub_result.ttl: the remaining TTL
 * of the answer records; for NXDOMAIN and NODATA the negative TTL it took
 * from the SOA in the authority section, RFC 2308 5, or 0 if there was
 * none).
 */
#ifndef MAMORI_DNS_UNBOUND_H
#define MAMORI_DNS_UNBOUND_H

#include <stddef.h>

#include "dns/dns.h"

struct event_base;

/*
 * A resolver on base.  upstream "" uses the system's resolv.conf;
 * "192.0.2.53" or "127.0.0.1@5353" forwards every query to that server
 * (tests point it at a local authoritative server).  timeout_ms bounds
 * each query (at least 1).  Returns NULL with a message in err on failure.
 * Free with dns_resolver_free(); queries still in flight are cancelled and
 * their callbacks are not called.
 */
struct dns_resolver *dns_unbound_new(struct event_base *base,
				     const char *upstream, int timeout_ms,
				     char *err, size_t errsz);

#endif
