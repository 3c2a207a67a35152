/*
 * spf - Sender Policy Framework, RFC 7208, without I/O.
 *
 * check_host() (RFC 7208 section 4) is a resumable evaluator: spf_step()
 * either finishes or says which DNS question it needs (SPF_NEED_DNS with
 * *q filled); the caller asks any resolver and hands the answer back with
 * spf_answer(), then steps again.  spf_check() is that loop over a struct
 * dns_resolver, for callers with an event loop (the milter).
 *
 * Implemented: record selection over TXT only (type SPF 99 is never asked:
 * RFC 7208 3.1 dropped it), every mechanism and qualifier, dual CIDR
 * lengths, redirect= and exp=, unknown modifiers ignored but syntax-checked,
 * macros (section 7) with transformers and delimiters, %{p} validation
 * (5.5), %{c} %{r} %{t} in explanations only, IPv4-mapped IPv6 clients
 * treated as IPv4 (section 5), the whole record checked for syntax before
 * evaluation (a syntax error anywhere is permerror).
 *
 * Limits (section 4.6.4): 10 terms that cause DNS queries (include, a, mx,
 * ptr, exists, redirect) per check, then permerror; 2 void look-ups
 * (NXDOMAIN or no answer), then permerror; more than 10 MX names is
 * permerror; only the first 10 PTR names are looked at.  Besides the RFC:
 * include/redirect loops are permerror, at most 256 distinct DNS questions
 * per check, expanded names truncated from the left to 253 octets (7.3),
 * explanation text capped at 1024 octets.
 *
 * One struct spf per check, not shared between threads.
 */
#ifndef MAMORI_SPF_H
#define MAMORI_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns.h"
#include "util/buf.h"

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_step_rc {
	SPF_DONE = 0,
	SPF_NEED_DNS = 1,
};

struct spf;

/*
 * Start check_host() for the client ip (IPv4 or IPv6 text), the MAIL FROM
 * address mailfrom (without angle brackets; NULL or "" checks the HELO
 * identity, postmaster@helo, RFC 7208 2.3), the HELO/EHLO name and the
 * receiving host's name (%{r}; NULL for "unknown").  Returns NULL only if
 * ip does not parse.  All strings are copied.
 */
struct spf *spf_new(const char *ip, const char *mailfrom, const char *helo,
		    const char *receiving_domain);

void spf_free(struct spf *s);

/* Fix the %{t} timestamp (seconds since the epoch); default: spf_new time. */
void spf_set_time(struct spf *s, long long t);

/*
 * Advance.  Returns SPF_DONE when the result is known, or SPF_NEED_DNS
 * with *q the question to answer through spf_answer() before stepping
 * again.  Stepping without answering asks the same question again.
 */
int spf_step(struct spf *s, struct dns_question *q);

/* Give the answer to the last question (copied; a is only borrowed). */
void spf_answer(struct spf *s, const struct dns_answer *a);

/* The result once spf_step() returned SPF_DONE (SPF_NONE before). */
enum spf_result spf_result(const struct spf *s);

/* The expanded exp= text for a fail with an explanation, else NULL. */
const char *spf_explanation(const struct spf *s);

/*
 * A human reason: "matched ip4:192.0.2.0/24 in example.com", "10 DNS
 * lookups exceeded", "no SPF record for example.com" ...  Never NULL.
 */
const char *spf_reason(const struct spf *s);

/* The domain whose policy was checked (mailfrom's, or the HELO name). */
const char *spf_domain(const struct spf *s);

/* True if the check was on the HELO identity (mailfrom empty). */
bool spf_is_helo(const struct spf *s);

/* DNS questions the last check needed (answers cached count once). */
unsigned spf_queries(const struct spf *s);

/* The result keyword: "pass", "fail" ... (RFC 7208 2.6, RFC 8601 2.7.2). */
const char *spf_result_name(enum spf_result r);

/*
 * Append a Received-SPF field body (RFC 7208 9.1) to out, e.g.
 * "pass (mx.example.org: domain of a@example.com designates 192.0.2.1 as
 * permitted sender) client-ip=192.0.2.1; envelope-from="a@example.com";
 * helo=mail.example.com; receiver=mx.example.org; identity=mailfrom".
 * Attacker-supplied values are quoted, CR/LF and non-ASCII bytes replaced.
 * Returns 0 or BUF_E_TOO_LARGE.
 */
int spf_received_spf_header(const struct spf *s, struct buf *out);

/*
 * Append the Authentication-Results method entry (RFC 8601 2.7.2), e.g.
 * "spf=pass smtp.mailfrom=a@example.com" or "spf=none smtp.helo=host".
 * Returns 0 or BUF_E_TOO_LARGE.
 */
int spf_auth_results(const struct spf *s, struct buf *out);

/*
 * Check whether text (len bytes, NULs allowed) is an SPF record and
 * whether it parses.  Returns 1 if it is not an SPF record (no "v=spf1"),
 * 0 if it parses, -1 on a syntax error (permerror) with a reason in err.
 */
int spf_record_check(const char *text, size_t len, char *err, size_t errsz);

/*
 * Expand a macro-string (section 7) for tests and tools, with the
 * identities of s and domain as %{d}; explanation selects the exp rules
 * (%{c} %{r} %{t} allowed, spaces kept).  %{p} is "unknown" here.
 * Returns 0 with the result in out, or -1 on a syntax error.
 */
int spf_expand(struct spf *s, const char *macro, const char *domain,
	       bool explanation, struct buf *out);

typedef void spf_done_cb(void *arg, struct spf *s);

/*
 * Run a check over resolver r: asks the questions one after the other and
 * calls done(arg, s) once with the finished evaluator, which done may read
 * and must not free; it is freed when done returns.  done may run before
 * spf_check() returns (a synchronous resolver).  Returns 0, or -EINVAL if
 * ip does not parse (done is not called).
 */
int spf_check(struct dns_resolver *r, const char *ip, const char *mailfrom,
	      const char *helo, const char *receiving_domain,
	      spf_done_cb *done, void *arg);

/* ------------------------------------------------------------------ */
/* Lint: one record as a domain owner's check sees it (spf_lint.c)     */

#define SPF_LINT_NAMES 16	/* targets kept of each kind */
#define SPF_LINT_NAME_MAX 254	/* 253 octets and NUL */

struct spf_lint {
	unsigned dns_terms;	/* include a mx ptr exists redirect (4.6.4) */
	unsigned ptr;		/* ptr mechanisms (5.5: do not use) */
	char all;		/* qualifier of the first all: + - ~ ?, 0 none */
	bool has_redirect;
	char redirect[SPF_LINT_NAME_MAX];	/* "" if it holds a macro */
	size_t ninclude;	/* literal include targets kept */
	char include[SPF_LINT_NAMES][SPF_LINT_NAME_MAX];
	size_t nquery;		/* a, mx, exists terms with literal names */
	struct {
		char kind;	/* 'a', 'm' (mx) or 'e' (exists) */
		char name[SPF_LINT_NAME_MAX];	/* "": the record's domain */
	} query[SPF_LINT_NAMES];
	size_t nskipped;	/* targets with macros, or past the cap */
};

/*
 * Parse text (len bytes) with the evaluator's parser and fill *out.
 * Returns 1 if it is not an SPF record, 0 if it parses, -1 on a syntax
 * error (a receiver's permerror) with a reason in err.  Trailing dots of
 * names are dropped.
 */
int spf_lint(const char *text, size_t len, struct spf_lint *out, char *err,
	     size_t errsz);

#endif
