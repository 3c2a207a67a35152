/*
 * dmarc - DMARC policy records, author domain, discovery and alignment.
 *
 * Written to RFC 9989 (DMARCbis, May 2026; it obsoletes RFC 7489 and
 * RFC 9091), with an RFC 7489 mode that finds the Organizational Domain
 * with the Public Suffix List instead of the DNS Tree Walk.  The
 * differences between the two and what mamori does at each are written
 * down in docs/design/dmarc.md.
 *
 * Four parts, all sans I/O:
 *   dmarc_record.c  the TXT record parser (RFC 9989 4.7, 4.8; RFC 7489 6.3)
 *   dmarc_from.c    the RFC5322.From field: one author domain or a verdict;
 *                   the addr-specs of any address-list field (one parser)
 *                   (RFC 5322 3.4, 3.6.2; the multiple-From bypass,
 *                   CVE-2019-16378)
 *   dmarc_psl.c     Organizational Domain from the Public Suffix List
 *                   (libpsl; RFC 7489 3.2)
 *   dmarc.c         policy discovery and evaluation as a resumable state
 *                   machine: it hands out struct dns_question and takes
 *                   struct dns_answer (RFC 9989 4.10, 4.10.1, 4.10.2, 5.3)
 *
 * Nothing here logs, allocates in proportion to input beyond the stated
 * limits, or keeps global state.  One struct dmarc_eval per message.
 */
#ifndef MAMORI_DMARC_H
#define MAMORI_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns.h"

/* RFC 1035 2.3.4: 253 octets of text for a name, plus NUL. */
#define DMARC_DOMAIN_MAX 254

/* ------------------------------------------------------------------ */
/* Records                                                              */

enum dmarc_policy {
	DMARC_P_UNSPEC = 0,	/* tag absent (sp, np) or no record */
	DMARC_P_NONE,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT,
};

enum dmarc_rec_status {
	DMARC_REC_OK = 0,
	DMARC_REC_NOT_DMARC = 1,  /* does not start with v=DMARC1: discard */
	DMARC_REC_INVALID = 2,	  /* v=DMARC1 but no usable p and no rua:
				   * treated as if no record was found */
};

/* Notes on a parsed record (bit mask): what we ignored or repaired. */
enum {
	DMARC_NOTE_UNKNOWN_TAG = 1 << 0,
	DMARC_NOTE_BAD_VALUE = 1 << 1,	/* known tag, bad value: default used */
	DMARC_NOTE_DUP_TAG = 1 << 2,	/* later copies ignored */
	DMARC_NOTE_BAD_SYNTAX = 1 << 3,	/* a tag-spec without '=' skipped */
	DMARC_NOTE_LEGACY_PCT = 1 << 4,	/* pct: removed by RFC 9989 */
	DMARC_NOTE_LEGACY_RF = 1 << 5,
	DMARC_NOTE_LEGACY_RI = 1 << 6,
	DMARC_NOTE_P_FROM_RUA = 1 << 7,	/* no valid p, valid rua: p=none */
	DMARC_NOTE_TOO_MANY_TAGS = 1 << 8,
	DMARC_NOTE_BAD_SP = 1 << 9,	/* sp with a bad value (with BAD_VALUE) */
};

/* Limits on one record; a TXT record larger than this is not parsed. */
#define DMARC_RECORD_MAX 4096
#define DMARC_RECORD_TAGS 32
#define DMARC_URI_MAX 512

struct dmarc_record {
	enum dmarc_policy p, sp, np;	/* sp/np: DMARC_P_UNSPEC if absent */
	char adkim, aspf;		/* 'r' (default) or 's' */
	char psd;			/* 'y', 'n' or 'u' (default) */
	bool testing;			/* t=y */
	int pct;			/* legacy pct=0..100; -1 if absent */
	char fo[16];			/* as written, default "0" */
	char rua[DMARC_URI_MAX];	/* as written, "" if absent */
	char ruf[DMARC_URI_MAX];
	unsigned notes;			/* DMARC_NOTE_* */
};

/*
 * Parse one TXT record (txt[0..n), may hold NUL bytes) into *out, which is
 * always fully initialised.  Returns DMARC_REC_OK, DMARC_REC_NOT_DMARC
 * (not a DMARC record at all: the caller discards it) or DMARC_REC_INVALID
 * (v=DMARC1 first but unusable: no valid p tag and no valid rua tag, or
 * over DMARC_RECORD_MAX).  Unknown tags, bad values of optional tags and
 * the legacy pct/rf/ri are noted in out->notes and do not invalidate.
 */
int dmarc_record_parse(const char *txt, size_t n, struct dmarc_record *out);

const char *dmarc_policy_name(enum dmarc_policy p);

/* ------------------------------------------------------------------ */
/* The RFC5322.From field                                              */

enum dmarc_from_verdict {
	DMARC_FROM_OK = 0,		/* one field, one author domain */
	DMARC_FROM_ABSENT,		/* no From field */
	DMARC_FROM_MULTIPLE_FIELDS,	/* more than one From field */
	DMARC_FROM_MULTIPLE_DOMAINS,	/* one field, authors in 2+ domains */
	DMARC_FROM_NO_DOMAIN,		/* no mailbox (empty group, "<>"),
					 * or a domain-literal */
	DMARC_FROM_UNPARSEABLE,		/* syntax error, bad domain, too long */
	DMARC_FROM__COUNT,
};

/* Limits: bytes of one From field value, mailboxes in it. */
#define DMARC_FROM_MAX 8192
#define DMARC_FROM_MAILBOXES 32

struct dmarc_from {
	enum dmarc_from_verdict verdict;
	size_t nmailbox;		/* mailboxes seen in the field */
	size_t ndomain;			/* distinct domains, at most 8 kept */
	char domain[8][DMARC_DOMAIN_MAX];	/* domain[0]: the author domain */
};

/*
 * Look at every From field of a message: values[i] (lens[i] bytes, as
 * found after "From:", folding included) for i < n.  Fills *out and
 * returns out->verdict.  Domains are lowercased in ASCII (A-labels) and
 * kept as UTF-8 (U-labels); a trailing dot is dropped.  A display name is
 * never looked at for the domain.
 */
enum dmarc_from_verdict dmarc_from_parse(const char *const *values,
					 const size_t *lens, size_t n,
					 struct dmarc_from *out);

const char *dmarc_from_verdict_name(enum dmarc_from_verdict v);

/*
 * The addr-specs of one address-list field value (To, Cc, From: RFC 5322
 * 3.4, groups of RFC 6854), by the same tokenizer and grammar as
 * dmarc_from_parse(): comments, display names and group names are
 * skipped, "<>" gives nothing.  Each address is its tokens joined
 * (folding and comments between them dropped), lowercased in ASCII, into
 * out[0..max), malloc'd.  Returns how many were found (may exceed max:
 * only max are stored).  Tolerant where dmarc_from_parse() is strict: a
 * syntax error, or more than the tokenizer's 512 tokens, ends the list
 * and the addresses before it are kept; there is no mailbox limit and
 * the domain is not converted (the correspondence log hashes what was
 * written).
 */
size_t dmarc_from_addresses(const char *value, size_t n, char **out,
			    size_t max);

/* ------------------------------------------------------------------ */
/* Public Suffix List                                                  */

struct dmarc_psl;

/*
 * Load a Public Suffix List file (public_suffix_list.dat format; NULL:
 * the system's /usr/share/publicsuffix/public_suffix_list.dat).  Returns
 * NULL if it cannot be read.
 */
struct dmarc_psl *dmarc_psl_load(const char *path);
void dmarc_psl_free(struct dmarc_psl *psl);

/*
 * The registrable domain (RFC 7489 Organizational Domain) of domain into
 * out (size outsz), lowercased.  Returns 0, or -1 when there is none (the
 * name is a public suffix, empty, has an empty label, or does not fit).
 */
int dmarc_psl_org_domain(const struct dmarc_psl *psl, const char *domain,
			 char *out, size_t outsz);

/*
 * True if suffix (lowercase, NUL-terminated) is a rule of the list itself
 * ("jp", "co.jp"), not only matched by the implicit "*" rule: tells a
 * domain written in text ("amazon.co.jp") from a dotted word ("Mr.Smith").
 */
bool dmarc_psl_is_listed_suffix(const struct dmarc_psl *psl,
				const char *suffix);

/* ------------------------------------------------------------------ */
/* Evaluation                                                           */

enum dmarc_mode {
	DMARC_MODE_RFC9989 = 0,	/* DNS Tree Walk, t, psd, np; pct ignored */
	DMARC_MODE_RFC7489,	/* PSL, pct; t, psd and np ignored */
};

enum dmarc_status {
	DMARC_NONE = 0,		/* no policy record: no opinion */
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,
	DMARC_PERMERROR,
};

/* Which tag the applied policy came from. */
enum dmarc_policy_src {
	DMARC_SRC_NONE = 0,
	DMARC_SRC_P,
	DMARC_SRC_SP,
	DMARC_SRC_NP,
	DMARC_SRC_FROM,		/* dmarc_config.from_policy (bad From) */
};

struct dmarc_config {
	enum dmarc_mode mode;
	const struct dmarc_psl *psl;	/* required in RFC 7489 mode */
	/* What a message whose From field is not DMARC_FROM_OK gets: a
	 * fail with this policy.  dmarc_config_init() sets reject for every
	 * verdict (see docs/design/dmarc.md). */
	enum dmarc_policy from_policy[DMARC_FROM__COUNT];
};

void dmarc_config_init(struct dmarc_config *cfg);

/* Authentication results the evaluation starts from; all borrowed. */
#define DMARC_DKIM_MAX 8
struct dmarc_input {
	const char *author_domain;	/* dmarc_from.domain[0] */
	const char *spf_domain;		/* RFC5321.MailFrom domain; NULL/"" */
	bool spf_pass;
	const char *dkim_domains[DMARC_DKIM_MAX];  /* d= of passing sigs */
	size_t ndkim;
	int pct_sample;			/* RFC 7489 pct: 0..99, uniform */
};

struct dmarc_result {
	enum dmarc_status status;
	enum dmarc_policy policy;	/* the policy the record asks for */
	enum dmarc_policy disposition;	/* what to do (after t / pct) */
	enum dmarc_policy_src src;
	bool testing;			/* t=y or pct sample lowered it */
	bool spf_aligned, dkim_aligned;
	bool nonexistent;		/* NXDOMAIN probe said so */
	int aligned_dkim;		/* index into dkim_domains, or -1 */
	unsigned queries;		/* DNS questions asked */
	char policy_domain[DMARC_DOMAIN_MAX];	/* where the record was */
	char org_domain[DMARC_DOMAIN_MAX];	/* of the author domain */
	struct dmarc_record rec;	/* valid if policy_domain[0] */
};

struct dmarc_eval;

enum {
	DMARC_E_DONE = 0,	/* dmarc_eval_result() is final */
	DMARC_E_NEED_DNS = 1,	/* answer *q and call dmarc_eval_step() */
};

/*
 * Start an evaluation.  in and cfg are copied (the strings in in are
 * borrowed until dmarc_eval_free()).  Never NULL.
 */
struct dmarc_eval *dmarc_eval_new(const struct dmarc_input *in,
				  const struct dmarc_config *cfg);
void dmarc_eval_free(struct dmarc_eval *e);

/*
 * Run until a DNS answer is needed or the result is known.  The first
 * call passes ans = NULL; each later one the answer to the question the
 * previous call put in *q (ans is read during the call only).  Returns
 * DMARC_E_NEED_DNS with *q filled, or DMARC_E_DONE.  At most
 * DMARC_MAX_QUERIES questions are asked per evaluation.
 */
#define DMARC_MAX_QUERIES 48
int dmarc_eval_step(struct dmarc_eval *e, const struct dns_answer *ans,
		    struct dns_question *q);

const struct dmarc_result *dmarc_eval_result(const struct dmarc_eval *e);

/*
 * The result for a message whose From verdict is not DMARC_FROM_OK:
 * status fail, policy and disposition cfg->from_policy[v], src
 * DMARC_SRC_FROM.  Never none or pass.
 */
void dmarc_result_from_verdict(const struct dmarc_config *cfg,
			       enum dmarc_from_verdict v,
			       struct dmarc_result *out);

/*
 * Relaxed/strict identifier alignment in RFC 7489 mode (PSL), for callers
 * and tests: true if a and b are aligned.  Case-insensitive.
 */
bool dmarc_psl_aligned(const struct dmarc_psl *psl, const char *a,
		       const char *b, bool strict);

const char *dmarc_status_name(enum dmarc_status s);

#endif
