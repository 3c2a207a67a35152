/*
 * domaincheck-internal - the sans-I/O record checks of `mamori domain
 * check` (domaincheck_rec.c), shared by the DNS walk (domaincheck.c) and
 * test-domaincheck.c.  Each adds findings to a report; TXT answers are
 * given as strings (txt[i], len[i] bytes, the character-strings joined).
 */
#ifndef MAMORI_CORE_DOMAINCHECK_INTERNAL_H
#define MAMORI_CORE_DOMAINCHECK_INTERNAL_H

#include "core/domaincheck.h"
#include "mail/dmarc.h"
#include "mail/spf.h"

void domaincheck_report_init(struct domaincheck_report *rep,
			     const char *domain);

/* Add a finding (text printf-formatted, cut to DOMAINCHECK_TEXT_MAX). */
__attribute__((format(printf, 4, 5)))
void domaincheck_add(struct domaincheck_report *rep, enum domaincheck_sev sev,
		     const char *code, const char *fmt, ...);

/* The finding with code, or NULL (tests). */
const struct domaincheck_finding *
domaincheck_find(const struct domaincheck_report *rep, const char *code);

/*
 * Pick the SPF record of name among its TXT strings (RFC 7208 4.5): the
 * index of the one record, -1 when there is none, -2 when there are
 * several (permerror).  top: name is the checked domain (else an include
 * or redirect target: the findings say so).
 */
int domaincheck_spf_pick(struct domaincheck_report *rep, const char *name,
			 const char *const *txt, const size_t *len, size_t n,
			 bool top);

/*
 * Check one SPF record of name: syntax (the evaluator's parser), size
 * (RFC 7208 3.3, 3.4), ptr (5.5), and for the top record its all (5.1,
 * 6.1).  Fills *lint.  0, or -1 on a syntax error.
 */
int domaincheck_spf_record(struct domaincheck_report *rep, const char *name,
			   const char *text, size_t len, bool top,
			   struct spf_lint *lint);

/* The totals over the tree: lookups and void lookups (4.6.4), records
 * not walked (macros). */
void domaincheck_spf_totals(struct domaincheck_report *rep,
			    unsigned lookups, unsigned voids,
			    unsigned unwalked);

/*
 * Pick and parse the DMARC record at name (_dmarc.D) among TXT strings:
 * 0 with *out filled, 1 when there is no DMARC record, -1 when there are
 * several or the one is unusable (findings added; RFC 9989 4.10, RFC 7489
 * 6.6.3).  report: add findings for "none" (false while the caller still
 * has the organizational domain to try).
 */
int domaincheck_dmarc_pick(struct domaincheck_report *rep, const char *name,
			   const char *const *txt, const size_t *len, size_t n,
			   bool report, struct dmarc_record *out);

/* The policy of a found record: p, sp, np, pct, t, alignment, rua, ruf;
 * from_org: the record is the organizational domain's. */
void domaincheck_dmarc_policy(struct domaincheck_report *rep,
			      const struct dmarc_record *r, bool from_org);

/*
 * The mailto: hosts of a rua/ruf list into host[0..max) (lowercased, at
 * most 253 octets each; other schemes skipped).  Returns how many.
 */
size_t domaincheck_uri_hosts(const char *list, char (*host)[254], size_t max);

/*
 * The answer to DOMAIN._report._dmarc.HOST (RFC 9990 / RFC 7489 7.1), as
 * TXT strings (n == 0 for NXDOMAIN or none): a record starting v=DMARC1
 * authorises.  tag: "rua" or "ruf".
 */
void domaincheck_dmarc_auth(struct domaincheck_report *rep, const char *tag,
			    const char *host, const char *const *txt,
			    const size_t *len, size_t n);

/*
 * One DKIM key record for selector (RFC 6376 3.6.1, RFC 8301 3.2): parse,
 * p= empty (revoked), t=y, RSA size, and, when disk is not NULL, the key
 * mamori signs with (public bytes as dkim_key_public() writes them).
 * n == 0: no record.  0 when usable and matching, -1 otherwise.
 */
int domaincheck_dkim_key(struct domaincheck_report *rep, const char *selector,
			 const char *const *txt, const size_t *len, size_t n,
			 const unsigned char *disk, size_t disklen);

/* The staged advice for policy p from the reports (src NULL: none). */
void domaincheck_advice(struct domaincheck_report *rep, enum dmarc_policy p,
			const struct domaincheck_sources *src);

/* Advice thresholds (docs/design/domain-check.md argues them). */
#define DOMAINCHECK_MIN_DAYS_QUARANTINE 14
#define DOMAINCHECK_MIN_DAYS_REJECT 30
#define DOMAINCHECK_ALIGNED_PERMILLE 980	/* 98 % of our own volume */

#endif
