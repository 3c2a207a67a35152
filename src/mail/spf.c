/*
 * spf - check_host() of RFC 7208 sections 4 and 5, as a resumable
 * evaluator.  See spf.h for the interface and the limits.
 *
 * How it resumes.  The evaluator is written as the RFC reads: a recursive
 * check_host() over records, terms, include and redirect.  Every DNS answer
 * it receives is copied into a per-check table (struct spf_qa).  A run
 * starts from the top; a look-up that finds its answer in the table goes
 * on, one that does not stops the run with E_NEED and the question.  The
 * next spf_step() runs again from the top with one more answer, so all
 * state lives in the table and nothing half-evaluated is ever kept.  A run
 * costs no DNS, the table holds at most SPF_MAX_QUERIES answers, and the
 * 10-lookup limit bounds the work of one run, so replaying is cheap next to
 * the network round trips it waits for; the order of questions and every
 * limit are exactly those of a straight evaluation, which keeps results
 * deterministic.  Counters (lookups, voids) restart with each run.
 *
 * DNS errors: a timeout or server failure is temperror where the RFC says
 * so (record look-up 4.4, a, mx, exists, include); the ptr mechanism and
 * %{p} skip names that fail (5.5); an exp= that cannot be fetched or
 * expanded is simply not used (6.2).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/idna.h"
#include "mail/spf-internal.h"
#include "util/xalloc.h"

/* 4.6.4: terms that cause DNS look-ups, void look-ups, MX and PTR names. */
#define SPF_MAX_LOOKUPS 10
#define SPF_MAX_VOIDS 2
#define SPF_MAX_MX 10
#define SPF_MAX_PTR 10
/* Nesting of include/redirect; the lookup limit stops loops before. */
#define SPF_MAX_DEPTH 12
/* Bytes of an expanded macro before truncation to a name; of exp text. */
#define SPF_EXPAND_MAX 4096
#define SPF_EXP_MAX 1024

/* Internal outcomes besides match (1) and no match (0). */
#define E_NEED (-1)
#define E_TEMP (-2)
#define E_PERM (-3)
#define E_BADNAME (-4)	/* expanded to a name that cannot be queried */

/* The include/redirect chain, for loop detection. */
struct frame {
	const char *domain;
	const struct frame *up;
	int depth;
};

static int check_host(struct spf *s, const char *domain,
		      const struct frame *up);

/* Replace the human reason. */
__attribute__((format(printf, 2, 3)))
static void reason_set(struct spf *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

/* Find the answer to (name, type), or record it as the question to ask. */
static int lookup(struct spf *s, const char *name, enum dns_type type,
		  const struct dns_answer **out)
{
	size_t i;

	for (i = 0; i < s->nqa; i++) {
		if (s->qa[i].q.type == type &&
		    strcasecmp(s->qa[i].q.name, name) == 0) {
			*out = s->qa[i].a;
			return 0;
		}
	}
	if (s->nqa >= SPF_MAX_QUERIES) {
		reason_set(s, "more than %d DNS queries", SPF_MAX_QUERIES);
		return E_PERM;
	}
	memset(&s->need, 0, sizeof(s->need));
	snprintf(s->need.name, sizeof(s->need.name), "%s", name);
	s->need.type = type;
	return E_NEED;
}

/* Count a void look-up (4.6.4); E_PERM once over the limit. */
static int void_hit(struct spf *s, const char *name)
{
	if (++s->voids > SPF_MAX_VOIDS) {
		reason_set(s, "more than %d void lookups (at %s)",
			   SPF_MAX_VOIDS, name);
		return E_PERM;
	}
	return 0;
}

/* Count a term that causes DNS look-ups; E_PERM once over the limit. */
static int lookup_hit(struct spf *s)
{
	if (++s->lookups > SPF_MAX_LOOKUPS) {
		reason_set(s, "%d DNS lookups exceeded", SPF_MAX_LOOKUPS);
		return E_PERM;
	}
	return 0;
}

/* Do the first bits of a and b agree? */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* The address record type for the client's family. */
static enum dns_type addr_type(const struct spf *s)
{
	return s->v4 ? DNS_T_A : DNS_T_AAAA;
}

/* Does an address answer hold the client within bits? */
static bool answer_has_ip(const struct spf *s, const struct dns_answer *a,
			  int bits)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->rr[i].type == addr_type(s) &&
		    prefix_eq(a->rr[i].addr, s->ip, bits))
			return true;
	return false;
}

/* Records of type t in an answer. */
static size_t answer_count(const struct dns_answer *a, enum dns_type t)
{
	size_t i, n = 0;

	for (i = 0; i < a->n; i++)
		n += a->rr[i].type == t;
	return n;
}

/* Is name equal to dom or below it (case-insensitive, final dots ignored)? */
static bool name_within(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);

	if (n && name[n - 1] == '.')
		n--;
	if (d && dom[d - 1] == '.')
		d--;
	if (n < d || strncasecmp(name + n - d, dom, d) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

/* Same name, ignoring case and final dots. */
static bool name_eq(const char *a, const char *b)
{
	return name_within(a, b) && name_within(b, a);
}

/* Does name resolve to the client's address (5.5)?  1, 0 or E_NEED. */
static int name_validates(struct spf *s, const char *name)
{
	const struct dns_answer *a;
	int rc;

	if (strlen(name) > SPF_NAME_MAX || !name[0])
		return 0;
	if ((rc = lookup(s, name, addr_type(s), &a)) != 0)
		return rc == E_NEED ? E_NEED : 0;
	return a->rcode == DNS_OK && answer_has_ip(s, a, s->v4 ? 32 : 128);
}

/* The validated name for %{p}, preferring domain, then its subdomains. */
static int macro_p(struct spf *s, const char *domain, char *out, size_t sz)
{
	const struct dns_answer *a;
	char rev[80];
	int rc, best = 0;
	size_t i, seen = 0;

	snprintf(out, sz, "unknown");
	dns_reverse_name(s->v4 ? AF_INET : AF_INET6, s->ip, rev, sizeof(rev));
	if ((rc = lookup(s, rev, DNS_T_PTR, &a)) != 0)
		return rc;
	if (a->rcode != DNS_OK)
		return 0;
	for (i = 0; i < a->n && seen < SPF_MAX_PTR; i++) {
		const char *name = a->rr[i].text;
		int rank;

		if (a->rr[i].type != DNS_T_PTR || !name)
			continue;
		seen++;
		rc = name_validates(s, name);
		if (rc == E_NEED)
			return rc;
		if (!rc)
			continue;
		rank = name_eq(name, domain) ? 3 :
		       name_within(name, domain) ? 2 : 1;
		if (rank > best) {
			best = rank;
			snprintf(out, sz, "%s", name);
			if (out[0] && out[strlen(out) - 1] == '.')
				out[strlen(out) - 1] = '\0';
		}
	}
	return 0;
}

/* Fill a macro context for the record of domain. */
static void macro_ctx(const struct spf *s, const char *domain,
		      struct spf_macro_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->sender = s->sender;
	c->local = s->local;
	c->odomain = s->odomain;
	c->domain = domain;
	c->helo = s->helo;
	c->recv = s->recv;
	c->ip = s->ip;
	c->v4 = s->v4;
	c->now = s->now;
}

/*
 * Expand a domain-spec into a name to query (out, SPF_NAME_MAX + 1):
 * trailing dot dropped, left labels cut to 253 octets (7.3), labels
 * checked.  0, E_NEED, E_PERM (bad macro) or E_BADNAME (empty label, a
 * label over 63 octets).
 */
static int expand_domain(struct spf *s, const char *spec, const char *domain,
			 char *out)
{
	struct spf_macro_ctx c;
	char pbuf[SPF_NAME_MAX + 1];
	struct buf b;
	const char *p;
	size_t n, lab = 0, i;
	int rc;

	macro_ctx(s, domain, &c);
	if (spf_macro_uses_p(spec, strlen(spec))) {
		if ((rc = macro_p(s, domain, pbuf, sizeof(pbuf))) != 0)
			return rc;
		c.ptr = pbuf;
	}
	buf_init(&b, SPF_EXPAND_MAX);
	if (spf_macro_expand(&c, spec, strlen(spec), false, &b) != 0) {
		buf_deinit(&b);
		reason_set(s, "cannot expand %.100s", spec);
		return E_PERM;
	}
	p = b.p ? b.p : "";
	n = b.len;
	if (n && p[n - 1] == '.')
		n--;
	while (n > SPF_NAME_MAX) {
		const char *dot = memchr(p, '.', n);

		if (!dot)
			break;
		n -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	rc = n == 0 || n > SPF_NAME_MAX ? E_BADNAME : 0;
	for (i = 0; i < n && rc == 0; i++) {
		if (p[i] != '.')
			rc = ++lab > 63 ? E_BADNAME : 0;
		else if (lab == 0)
			rc = E_BADNAME;
		else
			lab = 0;
	}
	if (rc == 0) {
		memcpy(out, p, n);
		out[n] = '\0';
	} else {
		reason_set(s, "invalid domain name %.100s from %.100s", p,
			   spec);
	}
	buf_deinit(&b);
	return rc;
}

/* a and mx: does host have the client's address within the CIDR length? */
static int match_host(struct spf *s, const char *host,
		      const struct spf_term *t, bool primary)
{
	const struct dns_answer *a;
	int rc;

	if ((rc = lookup(s, host, addr_type(s), &a)) != 0)
		return rc;
	if (a->rcode == DNS_TEMPFAIL || a->rcode == DNS_PERMFAIL) {
		reason_set(s, "DNS error looking up %s for %s", host, t->text);
		return E_TEMP;
	}
	if (answer_count(a, addr_type(s)) == 0)
		return primary ? void_hit(s, host) : 0;
	return answer_has_ip(s, a, s->v4 ? t->cidr4 : t->cidr6);
}

/* The mx mechanism (5.4). */
static int match_mx(struct spf *s, const char *target,
		    const struct spf_term *t)
{
	const struct dns_answer *a;
	size_t i;
	int rc;

	if ((rc = lookup(s, target, DNS_T_MX, &a)) != 0)
		return rc;
	if (a->rcode == DNS_TEMPFAIL || a->rcode == DNS_PERMFAIL) {
		reason_set(s, "DNS error looking up MX %s", target);
		return E_TEMP;
	}
	if (answer_count(a, DNS_T_MX) == 0)
		return void_hit(s, target);
	if (answer_count(a, DNS_T_MX) > SPF_MAX_MX) {
		reason_set(s, "more than %d MX names for %s", SPF_MAX_MX,
			   target);
		return E_PERM;
	}
	for (i = 0; i < a->n; i++) {
		const char *host = a->rr[i].text;

		if (a->rr[i].type != DNS_T_MX || !host || !host[0] ||
		    strcmp(host, ".") == 0)
			continue;	/* null MX (RFC 7505) */
		if ((rc = match_host(s, host, t, false)) != 0)
			return rc;
	}
	return 0;
}

/* The ptr mechanism (5.5): a validated name within target. */
static int match_ptr(struct spf *s, const char *target)
{
	const struct dns_answer *a;
	char rev[80];
	size_t i, seen = 0;
	int rc;

	dns_reverse_name(s->v4 ? AF_INET : AF_INET6, s->ip, rev, sizeof(rev));
	if ((rc = lookup(s, rev, DNS_T_PTR, &a)) != 0)
		return rc;
	if (a->rcode == DNS_NXDOMAIN ||
	    (a->rcode == DNS_OK && answer_count(a, DNS_T_PTR) == 0))
		return void_hit(s, rev);
	if (a->rcode != DNS_OK)
		return 0;	/* 5.5: an error fails to match */
	for (i = 0; i < a->n && seen < SPF_MAX_PTR; i++) {
		if (a->rr[i].type != DNS_T_PTR || !a->rr[i].text)
			continue;
		seen++;
		if (!name_within(a->rr[i].text, target))
			continue;
		if ((rc = name_validates(s, a->rr[i].text)) != 0)
			return rc;
	}
	return 0;
}

/* The include mechanism (5.2): only pass matches. */
static int match_include(struct spf *s, const char *target,
			 const struct frame *fr)
{
	int r = check_host(s, target, fr);

	free(s->exp_spec);	/* 6.2: an included exp= is not used */
	s->exp_spec = NULL;
	switch (r) {
	case E_NEED:
		return E_NEED;
	case SPF_PASS:
		return 1;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return 0;
	case SPF_TEMPERROR:
		return E_TEMP;
	case SPF_NONE:
		reason_set(s, "included domain %s has no SPF record", target);
		return E_PERM;
	default:
		return E_PERM;
	}
}

/* Evaluate one term of domain's record: 1 match, 0 not, or E_*. */
static int eval_term(struct spf *s, const struct spf_term *t,
		     const char *domain, const struct frame *fr)
{
	char target[SPF_NAME_MAX + 1];
	const struct dns_answer *a;
	int rc;

	switch (t->mech) {
	case SPF_M_ALL:
		return 1;
	case SPF_M_IP4:
		return s->v4 && prefix_eq(t->addr, s->ip, t->cidr4);
	case SPF_M_IP6:
		return !s->v4 && prefix_eq(t->addr, s->ip, t->cidr6);
	default:
		break;
	}
	if ((rc = lookup_hit(s)) != 0)
		return rc;
	if (!t->domain)
		snprintf(target, sizeof(target), "%s", domain);
	else if ((rc = expand_domain(s, t->domain, domain, target)) != 0)
		/*
		 * A name that cannot be asked matches nothing, as in pyspf;
		 * an include of it has no record, which is permerror (5.2).
		 */
		return rc != E_BADNAME ? rc :
		       t->mech == SPF_M_INCLUDE ? E_PERM : 0;
	switch (t->mech) {
	case SPF_M_A:
		return match_host(s, target, t, true);
	case SPF_M_MX:
		return match_mx(s, target, t);
	case SPF_M_PTR:
		return match_ptr(s, target);
	case SPF_M_INCLUDE:
		return match_include(s, target, fr);
	case SPF_M_EXISTS:
		if ((rc = lookup(s, target, DNS_T_A, &a)) != 0)
			return rc;
		if (a->rcode == DNS_TEMPFAIL || a->rcode == DNS_PERMFAIL) {
			reason_set(s, "DNS error looking up %s", target);
			return E_TEMP;
		}
		if (answer_count(a, DNS_T_A) == 0)
			return void_hit(s, target);
		return 1;
	default:
		return E_PERM;
	}
}

/* Map an internal error code to a result (E_BADNAME: a bad redirect). */
static int err_result(int rc)
{
	return rc == E_NEED ? E_NEED :
	       rc == E_TEMP ? (int)SPF_TEMPERROR : (int)SPF_PERMERROR;
}

/* Fetch domain's SPF record (4.4, 4.5); 0 with *rec, a result, or E_NEED. */
static int fetch_record(struct spf *s, const char *domain,
			struct spf_record *rec)
{
	const struct dns_answer *a;
	const struct dns_rr *found = NULL;
	char err[160];
	size_t i, n = 0;
	int rc;

	if ((rc = lookup(s, domain, DNS_T_TXT, &a)) != 0)
		return err_result(rc);
	if (a->rcode == DNS_NXDOMAIN) {
		reason_set(s, "no SPF record for %s (NXDOMAIN)", domain);
		return SPF_NONE;
	}
	if (a->rcode != DNS_OK) {
		reason_set(s, "DNS error looking up TXT %s", domain);
		return SPF_TEMPERROR;
	}
	for (i = 0; i < a->n; i++) {
		if (a->rr[i].type == DNS_T_TXT && a->rr[i].text &&
		    spf_record_is_spf(a->rr[i].text, a->rr[i].text_len)) {
			found = &a->rr[i];
			n++;
		}
	}
	if (n == 0) {
		reason_set(s, "no SPF record for %s", domain);
		return SPF_NONE;
	}
	if (n > 1) {
		reason_set(s, "multiple SPF records for %s", domain);
		return SPF_PERMERROR;
	}
	if (spf_record_parse(found->text, found->text_len, rec, err,
			     sizeof(err)) < 0) {
		reason_set(s, "SPF record of %s: %s", domain, err);
		return SPF_PERMERROR;
	}
	return -100;	/* parsed */
}

/* check_host() (section 4) for domain; a result or E_NEED. */
static int check_host(struct spf *s, const char *domain,
		      const struct frame *up)
{
	struct frame fr = { domain, up, up ? up->depth + 1 : 0 };
	char target[SPF_NAME_MAX + 1];
	struct spf_record rec;
	const struct frame *f;
	size_t i;
	int r, m;

	for (f = up; f; f = f->up) {
		if (name_eq(f->domain, domain)) {
			reason_set(s, "include/redirect loop at %s", domain);
			return SPF_PERMERROR;
		}
	}
	if (fr.depth > SPF_MAX_DEPTH) {
		reason_set(s, "include/redirect nested too deep at %s",
			   domain);
		return SPF_PERMERROR;
	}
	if ((r = fetch_record(s, domain, &rec)) != -100)
		return r;
	for (i = 0; i < rec.n; i++) {
		const struct spf_term *t = &rec.t[i];

		m = eval_term(s, t, domain, &fr);
		if (m == 0)
			continue;
		if (m < 0) {
			r = err_result(m);
			goto out;
		}
		r = (int)t->qual;
		reason_set(s, "matched %s in %s", t->text, domain);
		free(s->exp_spec);
		s->exp_spec = NULL;
		if (t->qual == SPF_FAIL && rec.exp) {
			s->exp_spec = xstrdup(rec.exp);
			snprintf(s->exp_domain, sizeof(s->exp_domain), "%s",
				 domain);
		}
		goto out;
	}
	if (rec.redirect) {
		/* 6.1: redirect only when no mechanism matched */
		if ((m = lookup_hit(s)) != 0 ||
		    (m = expand_domain(s, rec.redirect, domain, target)) != 0) {
			r = err_result(m);
			goto out;
		}
		r = check_host(s, target, &fr);
		if (r == SPF_NONE) {
			reason_set(s, "redirect target %s has no SPF record",
				   target);
			r = SPF_PERMERROR;
		}
		goto out;
	}
	reason_set(s, "no mechanism matched in %s", domain);
	r = SPF_NEUTRAL;	/* 4.7 */
out:
	spf_record_deinit(&rec);
	return r;
}

/* 6.2: fetch and expand the explanation; E_NEED or 0 (maybe none). */
static int explain(struct spf *s)
{
	char target[SPF_NAME_MAX + 1];
	char pbuf[SPF_NAME_MAX + 1];
	const struct dns_answer *a;
	const struct dns_rr *txt = NULL;
	struct spf_macro_ctx c;
	struct buf b;
	size_t i;
	int rc;

	rc = expand_domain(s, s->exp_spec, s->exp_domain, target);
	if (rc != 0)
		return rc == E_NEED ? E_NEED : 0;
	if ((rc = lookup(s, target, DNS_T_TXT, &a)) != 0)
		return rc == E_NEED ? E_NEED : 0;
	if (a->rcode != DNS_OK)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (a->rr[i].type != DNS_T_TXT)
			continue;
		if (txt)
			return 0;	/* more than one: none is used */
		txt = &a->rr[i];
	}
	if (!txt || !txt->text)
		return 0;
	macro_ctx(s, s->exp_domain, &c);
	if (spf_macro_uses_p(txt->text, txt->text_len)) {
		rc = macro_p(s, s->exp_domain, pbuf, sizeof(pbuf));
		if (rc != 0)
			return rc == E_NEED ? E_NEED : 0;
		c.ptr = pbuf;
	}
	buf_init(&b, SPF_EXP_MAX);
	if (spf_macro_expand(&c, txt->text, txt->text_len, true, &b) == 0)
		s->exp = b.p ? buf_steal(&b) : xstrdup("");
	buf_deinit(&b);
	return 0;
}

/* One run from the top; E_NEED or 0 with the result set. */
static int run(struct spf *s)
{
	int r;

	s->lookups = 0;
	s->voids = 0;
	s->reason[0] = '\0';
	free(s->exp_spec);
	s->exp_spec = NULL;
	free(s->exp);
	s->exp = NULL;
	if (!s->domain_ok) {
		reason_set(s, "%.200s is not a valid domain name", s->odomain);
		s->result = SPF_NONE;
		return 0;
	}
	r = check_host(s, s->odomain, NULL);
	if (r == E_NEED)
		return E_NEED;
	if (r == SPF_FAIL && s->exp_spec) {
		char keep[sizeof(s->reason)];

		/* the explanation's own trouble is not the reason */
		memcpy(keep, s->reason, sizeof(keep));
		if (explain(s) == E_NEED)
			return E_NEED;
		memcpy(s->reason, keep, sizeof(keep));
	}
	s->result = (enum spf_result)r;
	return 0;
}

int spf_step(struct spf *s, struct dns_question *q)
{
	if (s->done)
		return SPF_DONE;
	if (!s->needing && run(s) == 0) {
		s->done = true;
		free(s->exp_spec);
		s->exp_spec = NULL;
		return SPF_DONE;
	}
	s->needing = true;
	*q = s->need;
	return SPF_NEED_DNS;
}

void spf_answer(struct spf *s, const struct dns_answer *a)
{
	if (!s->needing)
		return;
	s->qa = xrealloc(s->qa, (s->nqa + 1) * sizeof(*s->qa));
	s->qa[s->nqa].q = s->need;
	s->qa[s->nqa].a = dns_answer_dup(a);
	s->nqa++;
	s->needing = false;
}

/* 4.3: a multi-label name with no empty label, labels of 1-63 octets. */
static bool domain_valid(const char *d)
{
	size_t n = strlen(d), lab = 0, labels = 1, i;

	if (n && d[n - 1] == '.')
		n--;
	if (n == 0 || n > SPF_NAME_MAX || d[0] == '[')
		return false;
	for (i = 0; i < n; i++) {
		if (d[i] != '.') {
			if (++lab > 63)
				return false;
		} else if (lab == 0) {
			return false;
		} else {
			lab = 0;
			labels++;
		}
	}
	return lab > 0 && labels >= 2;
}

struct spf *spf_new(const char *ip, const char *mailfrom, const char *helo,
		    const char *receiving_domain)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	struct spf *s = xcalloc(1, sizeof(*s));
	const char *at;
	bool idna_ok;

	if (inet_pton(AF_INET, ip, s->ip) == 1) {
		s->v4 = true;
	} else if (inet_pton(AF_INET6, ip, s->ip) == 1) {
		if (memcmp(s->ip, mapped, 12) == 0) {
			/* 5: IPv4-mapped clients are IPv4 clients */
			memmove(s->ip, s->ip + 12, 4);
			memset(s->ip + 4, 0, 12);
			s->v4 = true;
		}
	} else {
		free(s);
		return NULL;
	}
	inet_ntop(s->v4 ? AF_INET : AF_INET6, s->ip, s->ipstr,
		  sizeof(s->ipstr));
	s->helo = xstrdup(helo ? helo : "");
	s->recv = receiving_domain && *receiving_domain ?
		  xstrdup(receiving_domain) : NULL;
	s->mailfrom = xstrdup(mailfrom ? mailfrom : "");
	if (!mailfrom || !*mailfrom) {
		s->helo_id = true;
		s->local = xstrdup("postmaster");
		s->odomain = xstrdup(s->helo);
	} else if ((at = strrchr(mailfrom, '@')) != NULL) {
		s->local = at == mailfrom ? xstrdup("postmaster") :
			   xstrndup(mailfrom, (size_t)(at - mailfrom));
		s->odomain = xstrdup(at + 1);
	} else {
		s->local = xstrdup("postmaster");
		s->odomain = xstrdup(mailfrom);
	}
	/* A U-label domain (SMTPUTF8) is looked up as A-labels (RFC 8616 4);
	 * one that does not convert is malformed: result none (4.3). */
	idna_ok = true;
	if (idna_has_utf8(s->odomain, strlen(s->odomain))) {
		char a[SPF_NAME_MAX + 2];

		idna_ok = idna_to_ascii(s->odomain, strlen(s->odomain), a,
					sizeof(a)) == 0;
		if (idna_ok) {
			free(s->odomain);
			s->odomain = xstrdup(a);
		}
	}
	s->sender = xasprintf("%s@%s", s->local, s->odomain);
	s->domain_ok = idna_ok && domain_valid(s->odomain);
	s->now = (long long)time(NULL);
	return s;
}

void spf_free(struct spf *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nqa; i++)
		dns_answer_free(s->qa[i].a);
	free(s->qa);
	free(s->sender);
	free(s->local);
	free(s->odomain);
	free(s->mailfrom);
	free(s->helo);
	free(s->recv);
	free(s->exp_spec);
	free(s->exp);
	free(s);
}

void spf_set_time(struct spf *s, long long t)
{
	s->now = t;
}

enum spf_result spf_result(const struct spf *s)
{
	return s->done ? s->result : SPF_NONE;
}

const char *spf_explanation(const struct spf *s)
{
	return s->done && s->result == SPF_FAIL ? s->exp : NULL;
}

const char *spf_reason(const struct spf *s)
{
	return s->reason;
}

const char *spf_domain(const struct spf *s)
{
	return s->odomain;
}

bool spf_is_helo(const struct spf *s)
{
	return s->helo_id;
}

unsigned spf_queries(const struct spf *s)
{
	return (unsigned)s->nqa;
}

int spf_expand(struct spf *s, const char *macro, const char *domain,
	       bool explanation, struct buf *out)
{
	struct spf_macro_ctx c;

	macro_ctx(s, domain, &c);
	c.ptr = "unknown";
	return spf_macro_expand(&c, macro, strlen(macro), explanation, out) ?
	       -1 : 0;
}
