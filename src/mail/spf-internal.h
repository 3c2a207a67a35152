/*
 * spf-internal - what spf.c, spf_record.c and spf_macro.c share: the
 * parsed record (RFC 7208 sections 4.6, 5, 6) and the macro expander
 * (section 7).  Not for other modules.
 */
#ifndef MAMORI_SPF_INTERNAL_H
#define MAMORI_SPF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "mail/spf.h"
#include "util/buf.h"

/* Longest expanded name we query (RFC 7208 7.3; RFC 1035 2.3.4). */
#define SPF_NAME_MAX 253

enum spf_mech {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	enum spf_result qual;	/* SPF_PASS, _FAIL, _SOFTFAIL, _NEUTRAL */
	char *domain;		/* unexpanded domain-spec, NULL: <domain> */
	int cidr4, cidr6;	/* prefix lengths, defaults 32 and 128 */
	uint8_t addr[16];	/* ip4 (4 bytes) / ip6 network */
	char *text;		/* the term as written, for reasons */
};

struct spf_record {
	struct spf_term *t;
	size_t n;
	char *redirect;		/* unexpanded domain-spec or NULL */
	char *exp;		/* unexpanded domain-spec or NULL */
};

/* Distinct DNS questions one check may ask (cache size). */
#define SPF_MAX_QUERIES 256

/* A question and its copied answer, kept for the whole check. */
struct spf_qa {
	struct dns_question q;
	struct dns_answer *a;
};

/* The evaluator (spf.c); spf_report.c reads it for the header fields. */
struct spf {
	uint8_t ip[16];		/* IPv4 in the first 4 bytes */
	bool v4;
	char ipstr[48];		/* as %{c} prints it */
	char *sender;		/* local@domain, postmaster@ for no local */
	char *local;
	char *odomain;		/* the domain checked first */
	char *mailfrom;		/* as given ("" for the HELO identity) */
	char *helo;
	char *recv;		/* NULL: "unknown" */
	bool helo_id;
	bool domain_ok;		/* 4.3: a valid multi-label name */
	long long now;

	struct spf_qa *qa;	/* answers so far, replayed on each run */
	size_t nqa;
	struct dns_question need;
	bool needing;

	/* state of the current run */
	unsigned lookups, voids;
	char *exp_spec;		/* exp= of the record that failed */
	char exp_domain[SPF_NAME_MAX + 1];

	bool done;
	enum spf_result result;
	char *exp;		/* expanded explanation or NULL */
	char reason[320];
};

/* True if text starts with "v=spf1" (any case) then a space or its end. */
bool spf_record_is_spf(const char *p, size_t n);

/*
 * Parse an SPF record (already known to start with v=spf1).  Returns 0, or
 * -1 with a reason in err (the record is then empty).  Free with
 * spf_record_deinit() in both cases.
 */
int spf_record_parse(const char *p, size_t n, struct spf_record *rec,
		     char *err, size_t errsz);
void spf_record_deinit(struct spf_record *rec);

/* The values the macros expand to. */
struct spf_macro_ctx {
	const char *sender;	/* s */
	const char *local;	/* l */
	const char *odomain;	/* o */
	const char *domain;	/* d */
	const char *helo;	/* h */
	const char *recv;	/* r */
	const char *ptr;	/* p, the validated name ("unknown") */
	const uint8_t *ip;	/* i, c, v */
	bool v4;
	long long now;		/* t */
};

/*
 * Check macro-string syntax.  exp: explanation text (spaces allowed);
 * crt: the letters c, r, t allowed.  *end_macro (may be NULL) says whether
 * the last token is a macro-expand.  Returns 0 or -1.
 */
int spf_macro_check(const char *p, size_t n, bool exp, bool crt,
		    bool *end_macro);

/* True if the macro-string uses %{p}. */
bool spf_macro_uses_p(const char *p, size_t n);

/*
 * Expand into out (appended).  Returns 0, -1 on a syntax error, or
 * BUF_E_TOO_LARGE.
 */
int spf_macro_expand(const struct spf_macro_ctx *c, const char *p, size_t n,
		     bool exp, struct buf *out);

/* Check a domain-spec: macro syntax (no c/r/t) and its domain-end. */
bool spf_domain_spec_ok(const char *p, size_t n);

#endif
