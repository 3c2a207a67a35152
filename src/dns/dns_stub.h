/*
 * dns_stub - a table-driven resolver for tests and conformance suites.
 *
 * Answers come from records added with dns_stub_add(), never from the
 * network.  It behaves like a recursive resolver seen from the outside:
 * names are case-insensitive and a trailing dot is ignored; a name with no
 * entry is NXDOMAIN; a present name without records of the asked type is
 * NODATA (DNS_OK, n = 0, nodata); a CNAME is chased (up to 8 levels, a loop
 * or a deeper chain is DNS_TEMPFAIL, as a real resolver's SERVFAIL) and the
 * answer holds the target's records; a name with a label over 63 octets or
 * an empty label is DNS_PERMFAIL (it cannot be put on the wire).
 *
 * Timeouts: dns_stub_timeout(name, type) adds a marker at the current end
 * of the table.  A query for that type (or any type when type is 0) ends in
 * DNS_TEMPFAIL unless records of the asked type were added for the name
 * before the marker: the rule of the openspf suite's driver ("TIMEOUT"
 * entries, see corpora/spf-test-suite/flat/README-flat.md).
 *
 * TTL: every DNS_OK, NODATA and NXDOMAIN answer carries ttl
 * DNS_STUB_TTL; TEMPFAIL and PERMFAIL carry 0, as from libunbound.
 *
 * Callbacks run before dns_query() returns.  Not thread-safe; one stub per
 * test.
 */
#ifndef MAMORI_DNS_STUB_H
#define MAMORI_DNS_STUB_H

#include <stddef.h>

#include "dns/dns.h"

/* The TTL of the stub's answers, seconds (a zone file's usual default). */
#define DNS_STUB_TTL 3600

struct dns_stub;

struct dns_stub *dns_stub_new(void);

/* The resolver to hand to evaluators; freeing it frees the stub. */
struct dns_resolver *dns_stub_resolver(struct dns_stub *s);

/* Free the stub and its records; NULL is a no-op. */
void dns_stub_free(struct dns_stub *s);

/*
 * Add one record.  rdata by type: A and AAAA the text address; MX
 * "pref host" (host may be empty or "." for a null MX); TXT and SPF the
 * joined character-strings (use dns_stub_add_txt for embedded NULs); PTR
 * and CNAME the target name.  Returns 0, or -EINVAL for rdata that does
 * not parse or an unsupported type.
 */
int dns_stub_add(struct dns_stub *s, const char *name, enum dns_type type,
		 const char *rdata);

/* Add a TXT (or SPF, type 99) record of len bytes, NULs allowed. */
int dns_stub_add_txt(struct dns_stub *s, const char *name,
		     enum dns_type type, const void *data, size_t len);

/* Make later queries for name time out: for type, or for all types if 0. */
void dns_stub_timeout(struct dns_stub *s, const char *name, int type);

/* Queries answered so far (each dns_query counts once). */
unsigned long dns_stub_queries(const struct dns_stub *s);

/* Forget all records and reset the counter (reuse between scenarios). */
void dns_stub_clear(struct dns_stub *s);

#endif
