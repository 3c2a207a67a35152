/*
 * domaincheck - `mamori domain check DOMAIN`: the lint a postmaster runs
 * before moving a domain to p=reject (docs/design/domain-check.md).
 *
 * SPF (RFC 7208: syntax, the 10-lookup limit over the whole include and
 * redirect tree, the 2-void-lookup limit, all, ptr, multiple records,
 * record size), DKIM (the selectors mamori signs with, from dkim_key_dir,
 * and any given: published, parseable, the key on disk, RSA size, t=y,
 * revoked), DMARC (RFC 9989 / RFC 7489: the record or the organizational
 * domain's, p sp np pct t, alignment modes, rua/ruf and the external
 * destination authorisation of RFC 9990 / RFC 7489 7.1), MX (RFC 5321
 * 5.1, RFC 7505 null MX), and the staged advice from the aggregate
 * reports mamori has ingested (struct domaincheck_sources).
 *
 * Every finding has a severity, a stable code ("spf.too_many_lookups") and
 * a sentence with the numbers.  The record checks are sans-I/O
 * (core/domaincheck-internal.h, domaincheck_rec.c); domaincheck.c asks
 * the questions through a local blocking resolver, as `mamori scan` does,
 * bounded: DOMAINCHECK_MAX_QUERIES questions, SPF trees DOMAINCHECK_SPF_
 * RECORDS records deep.  Single-threaded; a report lives until
 * domaincheck_report_deinit().
 */
#ifndef MAMORI_CORE_DOMAINCHECK_H
#define MAMORI_CORE_DOMAINCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

enum domaincheck_sev {
	DOMAINCHECK_INFO = 0,
	DOMAINCHECK_WARNING,
	DOMAINCHECK_ERROR,
};

#define DOMAINCHECK_CODE_MAX 40
#define DOMAINCHECK_TEXT_MAX 512
#define DOMAINCHECK_MAX_FINDINGS 256	/* later ones are dropped */
#define DOMAINCHECK_MAX_QUERIES 200	/* DNS questions per check */
#define DOMAINCHECK_SPF_RECORDS 40	/* SPF records walked per tree */

struct domaincheck_finding {
	enum domaincheck_sev sev;
	char code[DOMAINCHECK_CODE_MAX];	/* "spf.too_many_lookups" */
	char text[DOMAINCHECK_TEXT_MAX];	/* one sentence, numbers in it;
						 * DNS text in it is raw: escape */
};

struct domaincheck_report {
	char domain[254];
	struct domaincheck_finding *f;
	size_t n;
	size_t count[3];		/* by severity */
	bool incomplete;		/* a question got no answer (DNS down,
					 * timeout, SERVFAIL) or the query cap
					 * was reached */
	unsigned queries;		/* DNS questions asked */
	unsigned spf_lookups;		/* over the whole tree */
	unsigned spf_voids;
};

/* What the aggregate reports say about the domain: the input of the staged
 * advice, filled by the reports module (dmarcrep, issue 11 item 2) from the
 * per-domain sources view.  Counts are messages over the window. */
enum {
	DOMAINCHECK_SRC_OURS = 0,	/* configured networks, our outbound
					 * addresses, authorised ESPs */
	DOMAINCHECK_SRC_FORWARDERS,	/* DKIM passes, SPF fails */
	DOMAINCHECK_SRC_FORGERS,	/* everything else */
	DOMAINCHECK_SRC__COUNT,
};

#define DOMAINCHECK_FAILING_MAX 8

struct domaincheck_sources {
	unsigned window_days;		/* the N days looked at */
	unsigned report_days;		/* days of it with at least one report */
	struct {
		uint64_t messages;
		uint64_t aligned;	/* DMARC pass: SPF or DKIM aligned */
	} cls[DOMAINCHECK_SRC__COUNT];
	/* Legitimate sources (ours, forwarders) still failing alignment,
	 * most failing messages first: an address, /24 or reverse name as
	 * the sources view shows it. */
	size_t nfailing;
	struct {
		char source[64];
		int cls;		/* DOMAINCHECK_SRC_OURS or _FORWARDERS */
		uint64_t messages, aligned;
	} failing[DOMAINCHECK_FAILING_MAX];
};

/* Is s a domain name to check: an A-label name of at least two labels of
 * 1..63 letters, digits, '-' (not first or last) and '_', at most 253
 * bytes, no trailing dot? */
bool domaincheck_name_ok(const char *s);

/* "error", "warning", "info". */
const char *domaincheck_sev_name(enum domaincheck_sev s);

/*
 * Check domain (an A-label name) with cfg's settings (dkim_key_dir for the
 * selectors, dns_upstream and dns_timeout_ms; dns, IP[@PORT], overrides
 * the upstream), the extra DKIM selectors sel[0..nsel), and the report
 * summary src (NULL: no reports ingested).  Fills *rep (deinit it after a
 * 0).  Returns 0 whatever was found, -1 with err when the resolver cannot
 * start or domain is not a domain name.
 */
int domaincheck_run(const struct config *cfg, const char *dns,
		    const char *domain, const char *const *sel, size_t nsel,
		    const struct domaincheck_sources *src,
		    struct domaincheck_report *rep, char *err, size_t errsz);

/* Add an info finding code/text (cut to the limits) to rep: what the
 * caller knows and the check cannot, e.g. that no report store could be
 * read. */
void domaincheck_note(struct domaincheck_report *rep, const char *code,
		      const char *text);

void domaincheck_report_deinit(struct domaincheck_report *rep);

#endif
