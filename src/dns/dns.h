/*
 * dns - the resolver interface the mail-authentication modules use.
 *
 * SPF, DKIM and DMARC are written sans I/O: an evaluator says which
 * question it needs answered (struct dns_question) and is resumed with
 * the answer (struct dns_answer).  Who answers is a struct dns_resolver:
 * libunbound in the daemon (asynchronous, cached, upstream configurable so
 * tests can point it at a local authoritative server), or a table-driven
 * stub in tests and conformance suites (answers from data, including
 * timeouts).
 *
 * Results: DNS_OK with records (possibly none: NODATA is DNS_OK with n = 0
 * and nodata set), DNS_NXDOMAIN, DNS_TEMPFAIL (timeout, SERVFAIL, network:
 * maps to temperror, never to fail), DNS_PERMFAIL (malformed name, refused).
 */
#ifndef MAMORI_DNS_H
#define MAMORI_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dns_type {
	DNS_T_A = 1,
	DNS_T_CNAME = 5,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SPF = 99,
};

enum dns_rcode {
	DNS_OK = 0,
	DNS_NXDOMAIN = 1,
	DNS_TEMPFAIL = 2,
	DNS_PERMFAIL = 3,
};

struct dns_question {
	char name[256];		/* without the trailing dot */
	enum dns_type type;
};

struct dns_rr {
	enum dns_type type;
	uint8_t addr[16];	/* A: 4 bytes, AAAA: 16 */
	uint16_t pref;		/* MX */
	char *text;		/* TXT: strings joined as RFC 7208 3.3 says;
				 * MX, PTR, CNAME: the target name */
	size_t text_len;	/* TXT may hold NUL bytes */
};

struct dns_answer {
	enum dns_rcode rcode;
	bool nodata;		/* DNS_OK with no record of the type */
	uint32_t ttl;		/* seconds it may be reused: the records' TTL,
				 * for NXDOMAIN/NODATA the negative TTL
				 * (RFC 2308 5: from the SOA); 0 if unknown,
				 * and for TEMPFAIL/PERMFAIL */
	size_t n;
	struct dns_rr *rr;
};

struct dns_resolver;

typedef void dns_cb(void *arg, const struct dns_answer *ans);

struct dns_resolver_ops {
	/* Ask; cb runs exactly once, maybe before the call returns.  The
	 * answer is borrowed for the callback's duration. */
	void (*query)(struct dns_resolver *r, const struct dns_question *q,
		      dns_cb *cb, void *arg);
	void (*free)(struct dns_resolver *r);
};

struct dns_resolver {
	const struct dns_resolver_ops *ops;
};

void dns_query(struct dns_resolver *r, const struct dns_question *q,
	       dns_cb *cb, void *arg);
void dns_resolver_free(struct dns_resolver *r);

/*
 * The reverse-lookup name of address a (RFC 1035 3.5 in-addr.arpa for
 * AF_INET, a[0..4); RFC 3596 2.5 ip6.arpa nibbles otherwise, a[0..16))
 * into out (NUL-terminated, truncated to outsz).
 */
void dns_reverse_name(int af, const unsigned char *a, char *out,
		      size_t outsz);

/* Deep copy / free an answer (for evaluators that keep one). */
struct dns_answer *dns_answer_dup(const struct dns_answer *a);
void dns_answer_free(struct dns_answer *a);

#endif
