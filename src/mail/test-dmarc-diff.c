/*
 * test-dmarc-diff - mamori's RFC 7489 mode against an independent DMARC
 * implementation, Debian python3-authheaders 0.15.2, on generated cases.
 *
 * NCASES cases come from a seeded generator (same seed, same cases): a
 * From domain at depth 0..3 below one of the Organizational Domains in
 * orgs[] (single- and multi-label public suffixes, a PSL wildcard with an
 * exception, a suffix from the PSL's private section); DMARC records at
 * the From domain, the Organizational Domain, the names between them and
 * the public suffix (valid ones with p/sp/adkim/aspf/pct/t/psd/rua/ruf/fo
 * variations, invalid ones, two at one name, non-DMARC TXT beside them);
 * an SPF result whose mail-from domain and a DKIM result whose d= are
 * strictly aligned, relaxed aligned or not aligned.  Both sides get the
 * same zone (served from the case, never the network) and the same Public
 * Suffix List file ($MAMORI_SHARED/corpora/public-suffix-list: Debian
 * publicsuffix 20230209, the file authheaders reads from
 * /usr/share/publicsuffix).  On every case they must agree on the result
 * (pass, fail, none), on the policy a failing message gets and on where
 * the record came from (From domain or Organizational Domain).
 *
 * The generator leaves out what authheaders knowingly does differently
 * from RFC 7489 (quirks[] below, each with its reason).  Each of those
 * gets NQUIRK cases of its own, reported as TAP diagnostics; the edges
 * where authheaders follows RFC 7489 (must_agree) are asserted.
 *
 * Last, the same cases run in mamori's default RFC 9989 mode and how its
 * answers differ from RFC 7489 mode is reported by category (diagnostics
 * only; docs/design/dmarc.md quotes the counts).
 *
 * The oracle is test/dmarc/authheaders-oracle.py (exit 77 without
 * authheaders: one SKIP line).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/dmarc.h"
#include "mamori-build.h"
#include "tap.h"
#include "util/xalloc.h"

#define NCASES 400	/* compared cases */
#define NQUIRK 6	/* cases per known-difference category */
#define SEED 7489
#define ZMAX 16		/* zone rows per case */
#define TXTMAX 200	/* one TXT string, under the 255 of RFC 1035 */
#define NAMEMAX (DMARC_DOMAIN_MAX + 8)

enum zkind {
	Z_TXT,		/* a TXT record */
	Z_ADDR,		/* an A record (the name exists) */
	Z_SERVFAIL,	/* every question about the name fails */
};

struct zrow {
	enum zkind kind;
	char name[NAMEMAX];
	char txt[TXTMAX];
};

struct dcase {
	int depth;		/* labels of from above its org */
	char from[DMARC_DOMAIN_MAX];
	const char *spf;	/* SPF result, NULL: none */
	char mfrom[DMARC_DOMAIN_MAX];
	const char *dkim;	/* DKIM result, NULL: no signature */
	char d[DMARC_DOMAIN_MAX];
	struct zrow z[ZMAX];
	size_t nz;
};

/* One answer, from either side: result, policy of a fail, where. */
struct verdict {
	char result[32];
	char policy[16];
	char where[8];		/* "from", "org" or "-" */
};

/*
 * Organizational Domains (PSL registrable domains) and their public
 * suffixes.  Each registrable domain is the same under publicsuffix2
 * (authheaders) and libpsl (mamori); ".example" is not here because
 * publicsuffix2 has no implicit "*" rule (quirk unlisted-tld).
 */
static const struct org {
	const char *org, *suffix;
	const char *sibling;	/* another registrable domain nearby */
} orgs[] = {
	{ "example.com", "com", "evil.com" },
	{ "shop.co.jp", "co.jp", "evil.co.jp" },
	{ "example.co.uk", "co.uk", "other.co.uk" },
	/* "*.kawasaki.jp" with the exception "!city.kawasaki.jp" */
	{ "city.kawasaki.jp", "kawasaki.jp", "www.evil.kawasaki.jp" },
	/* the PSL's private section */
	{ "foo.github.io", "github.io", "bar.github.io" },
	{ "example.org", "org", "evil.org" },
};
#define NORGS (sizeof(orgs) / sizeof(orgs[0]))

static const char *const lbl[] = { "mail", "news", "a", "b2", "smtp", "eu" };
static const char *const pol[] = { "none", "quarantine", "reject" };
static const char *const invalid_rec[] = {
	"v=DMARC1", "v=DMARC1; sp=reject", "v=DMARC1; adkim=s; aspf=s",
};
static const char *const not_dmarc[] = {
	"v=spf1 -all", "google-site-verification=abc123", "p=reject; v=DMARC1",
};

static struct dmarc_psl *psl;
static uint64_t rs = SEED;

/* Uniform-enough 0..n-1 (xorshift64). */
static unsigned rnd(unsigned n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (unsigned)(rs % n);
}

/* Add a row to c's zone. */
static void zadd(struct dcase *c, enum zkind k, const char *name,
		 const char *txt)
{
	struct zrow *z;

	assert(c->nz < ZMAX);
	z = &c->z[c->nz++];
	z->kind = k;
	snprintf(z->name, sizeof(z->name), "%s", name);
	snprintf(z->txt, sizeof(z->txt), "%s", txt ? txt : "");
}

/* A TXT record at _dmarc.<domain>. */
static void dmarc_at(struct dcase *c, const char *domain, const char *txt)
{
	char n[NAMEMAX];

	snprintf(n, sizeof(n), "_dmarc.%s", domain);
	zadd(c, Z_TXT, n, txt);
}

/*
 * A valid record.  At the From domain itself sp is absent or equal to p:
 * authheaders applies sp to the From domain too (quirk sp-at-author).
 */
static void gen_record(char *buf, size_t sz, const char *org, bool at_author)
{
	char tags[12][64];
	const char *sep = rnd(2) ? "; " : ";";
	unsigned n = 0, i, p = rnd(3), k;
	size_t len;

	if (at_author) {
		if (rnd(5) == 0)
			snprintf(tags[n++], 64, "sp=%s", pol[p]);
	} else if (rnd(10) < 4) {
		snprintf(tags[n++], 64, "sp=%s", pol[rnd(3)]);
	}
	if ((k = rnd(3)) != 0)
		snprintf(tags[n++], 64, "adkim=%s", k == 1 ? "r" : "s");
	if ((k = rnd(3)) != 0)
		snprintf(tags[n++], 64, "aspf=%s", k == 1 ? "r" : "s");
	if (rnd(10) < 3)
		snprintf(tags[n++], 64, "rua=mailto:dmarc@%s", org);
	if (rnd(100) < 8)
		snprintf(tags[n++], 64, "ruf=mailto:f@%s", org);
	if (rnd(10) == 0)
		snprintf(tags[n++], 64, "pct=%u", rnd(101));
	if (rnd(100) < 8)
		snprintf(tags[n++], 64, "fo=1");
	if (rnd(100) < 5)
		snprintf(tags[n++], 64, "ri=86400");
	if (rnd(10) == 0)
		snprintf(tags[n++], 64, "t=y");
	if (rnd(100) < 12)
		snprintf(tags[n++], 64, "psd=%s", rnd(3) ? "n" : "y");
	/* Shuffle, then put p first most of the time (RFC 7489 6.4 wants
	 * it there; neither side requires it). */
	for (i = n; i > 1; i--) {
		char t[64];

		k = rnd(i);
		memcpy(t, tags[k], 64);
		memcpy(tags[k], tags[i - 1], 64);
		memcpy(tags[i - 1], t, 64);
	}
	k = rnd(100) < 85 ? 0 : rnd(n + 1);
	memmove(tags[k + 1], tags[k], (n - k) * 64);
	snprintf(tags[k], 64, "p=%s", pol[p]);
	n++;
	len = (size_t)snprintf(buf, sz, "v=DMARC1");
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(buf + len, sz - len, "%s%s", sep,
					tags[i]);
		assert(len < sz - 1);	/* at most ~170 bytes */
	}
	if (rnd(5) == 0)
		snprintf(buf + len, sz - len, ";");
	/* Tag names and keywords are case-insensitive on both sides. */
	if (rnd(100) < 8)
		for (i = 8; buf[i]; i++)
			if (buf[i] >= 'a' && buf[i] <= 'z')
				buf[i] = (char)(buf[i] - 32);
}

/* "<label>.<base>" into out (DMARC_DOMAIN_MAX bytes). */
static void below(char *out, const char *base)
{
	int n = snprintf(out, DMARC_DOMAIN_MAX, "%s.%s", lbl[rnd(6)], base);

	if (n < 0 || n >= DMARC_DOMAIN_MAX)
		abort();	/* the generator's names are short */
}

/*
 * An identifier (mail-from domain, d=) for a From domain at depth below
 * org o: strictly aligned, relaxed aligned or not aligned.
 */
static void gen_ident(char *out, const char *from, size_t oi, int depth)
{
	const struct org *o = &orgs[oi];
	unsigned k = rnd(100);

	if (k < 20)
		snprintf(out, DMARC_DOMAIN_MAX, "%s", from);
	else if (k < 35)
		snprintf(out, DMARC_DOMAIN_MAX, "%s", o->org);
	else if (k < 50)
		below(out, o->org);
	else if (k < 60)
		snprintf(out, DMARC_DOMAIN_MAX, "%s",
			 depth ? strchr(from, '.') + 1 : from);
	else if (k < 70)
		below(out, from);
	else if (k < 80)
		snprintf(out, DMARC_DOMAIN_MAX, "%s", o->sibling);
	else if (k < 88)
		snprintf(out, DMARC_DOMAIN_MAX, "%s",
			 orgs[(oi + 1 + rnd(NORGS - 1)) % NORGS].org);
	else if (k < 94)
		below(out, o->sibling);
	else
		snprintf(out, DMARC_DOMAIN_MAX, "%s", o->suffix);
}

/* The From domain: depth labels above orgs[oi]. */
static void gen_from(struct dcase *c, size_t oi, int depth)
{
	int i;

	snprintf(c->from, sizeof(c->from), "%s", orgs[oi].org);
	c->depth = depth;
	for (i = 0; i < depth; i++) {
		char t[DMARC_DOMAIN_MAX];

		below(t, c->from);
		memcpy(c->from, t, sizeof(t));
	}
}

/* One compared case. */
static void gen_case(struct dcase *c)
{
	size_t oi = rnd(NORGS);
	const struct org *o = &orgs[oi];
	int depth = (int)rnd(4);
	char rec[TXTMAX];
	unsigned k;

	memset(c, 0, sizeof(*c));
	gen_from(c, oi, depth);
	k = rnd(100);
	if (k < 70) {
		gen_record(rec, sizeof(rec), o->org, depth == 0);
		dmarc_at(c, o->org, rec);
	} else if (k < 75) {
		/* Invalid at the Organizational Domain is "none" on both
		 * sides; at a From subdomain it is quirk invalid-at-author. */
		dmarc_at(c, o->org, invalid_rec[rnd(3)]);
	} else if (k < 80) {
		dmarc_at(c, o->org, "v=DMARC1; p=reject");
		dmarc_at(c, o->org, "v=DMARC1; p=none");
	}
	if (rnd(100) < 15)
		dmarc_at(c, o->org, not_dmarc[rnd(3)]);
	if (depth > 0) {
		const char *p;

		k = rnd(100);
		if (k < 30) {
			gen_record(rec, sizeof(rec), o->org, true);
			dmarc_at(c, c->from, rec);
		} else if (k < 43) {
			/* (Two records at a From subdomain: quirk
			 * two-at-author.) */
			dmarc_at(c, c->from, not_dmarc[rnd(3)]);
		}
		/* Names between: only the RFC 9989 tree walk sees them. */
		for (p = strchr(c->from, '.') + 1; strcmp(p, o->org) != 0;
		     p = strchr(p, '.') + 1) {
			if (rnd(4) == 0) {
				gen_record(rec, sizeof(rec), o->org, false);
				dmarc_at(c, p, rec);
			}
		}
	}
	/* A record at the public suffix: neither RFC 7489 side asks. */
	k = rnd(100);
	if (k < 8)
		dmarc_at(c, o->suffix, "v=DMARC1; p=reject; psd=y");
	else if (k < 16)
		dmarc_at(c, o->suffix, "v=DMARC1; p=none");
	if (rnd(2))
		zadd(c, Z_ADDR, c->from, NULL);
	if (depth && rnd(2))
		zadd(c, Z_ADDR, o->org, NULL);
	if (rnd(100) < 85) {
		c->spf = rnd(4) ? "pass" : rnd(2) ? "fail" : "softfail";
		gen_ident(c->mfrom, c->from, oi, depth);
	}
	if (rnd(100) < 75) {
		c->dkim = rnd(4) ? "pass" : "fail";
		gen_ident(c->d, c->from, oi, depth);
	}
}

/* ---------------------------------------------------------------- */
/* Known differences                                                    */

/* How a known-difference case's message authenticates. */
enum qshape {
	QS_FAIL,	/* SPF fails (mail-from = From), no DKIM */
	QS_RELAXED,	/* SPF and DKIM pass with the org domain itself */
	QS_UPPER_D,	/* DKIM passes, d= = the From domain in upper case */
	QS_HYPHEN,	/* SPF passes, mail-from mx-1.<org> */
};

/*
 * What authheaders 0.15.2 does differently from RFC 7489, with the
 * reason; and (must_agree) edges where both follow RFC 7489 and must
 * agree, asserted on their own cases.  None of it is in the compared
 * cases.  Not expressible at all, hence no cases: several DKIM results
 * (dmarc_per_from takes one), multi-string TXT records (authheaders
 * parses dnspython's '"a" "b"' text form without joining the strings),
 * DNS timeouts (dns.exception.Timeout is not caught: an exception).
 */
static const struct quirk {
	const char *name;
	bool must_agree;	/* authheaders follows RFC 7489: mamori must */
	const char *org;	/* NULL: one of orgs[] */
	int mindepth;		/* From at mindepth..3 labels below org */
	const char *at_from;	/* TXT at _dmarc.<From> ('\n' between two
				 * records); "SERVFAIL"; NULL */
	const char *at_org;	/* TXT at _dmarc.<org>, or NULL */
	enum qshape shape;
	const char *why;
} quirks[] = {
	{ "sp-at-author", false, NULL, 0, "v=DMARC1; p=reject; sp=none", NULL,
	  QS_FAIL, "authheaders applies sp to the From domain's own record; "
	  "RFC 7489 6.3: sp is for subdomains, the domain itself gets p" },
	{ "np", false, NULL, 1, NULL,
	  "v=DMARC1; p=reject; sp=quarantine; np=none", QS_FAIL,
	  "authheaders applies np (RFC 9091) in RFC 7489 mode; mamori's RFC "
	  "7489 mode ignores np (RFC 7489 has no np)" },
	{ "bad-p", false, NULL, 0, NULL, "v=DMARC1; p=bogus", QS_FAIL,
	  "authheaders uses any p value as the policy (\"bogus\"); RFC 7489 "
	  "6.6.3 step 6.2 and mamori: no DMARC (none)" },
	{ "bad-p-rua", false, NULL, 0, NULL,
	  "v=DMARC1; p=bogus; rua=mailto:d@example.net", QS_FAIL,
	  "authheaders uses any p value as the policy (\"bogus\"); RFC 7489 "
	  "6.6.3 step 6.1 and mamori: p=none when rua is valid" },
	{ "no-p-rua", false, NULL, 0, NULL,
	  "v=DMARC1; rua=mailto:d@example.net", QS_FAIL,
	  "p missing, rua valid: authheaders gives none; RFC 7489 6.6.3 "
	  "step 6.1 and mamori: act as p=none" },
	{ "bad-sp", false, NULL, 1, NULL, "v=DMARC1; p=reject; sp=bogus",
	  QS_FAIL, "authheaders uses any sp value as the policy; RFC 7489 "
	  "6.6.3 step 6.2 and mamori: the record is invalid, no DMARC" },
	{ "two-at-author", false, NULL, 1,
	  "v=DMARC1; p=quarantine\nv=DMARC1; p=none", "v=DMARC1; p=reject",
	  QS_FAIL, "two DMARC records at the From subdomain: authheaders goes "
	  "on to the Organizational Domain's record; RFC 7489 6.6.3 steps 3 "
	  "and 5 and mamori: policy discovery ends, no DMARC" },
	{ "bad-align-mode", false, NULL, 1, NULL,
	  "v=DMARC1; p=reject; adkim=x; aspf=x", QS_RELAXED,
	  "adkim/aspf neither r nor s: authheaders aligns nothing; RFC 7489 "
	  "6.3 and mamori: the default r" },
	{ "invalid-at-author", true, NULL, 1, "v=DMARC1; sp=none",
	  "v=DMARC1; p=reject", QS_FAIL,
	  "a v=DMARC1 record without a valid p (and no rua) at the From "
	  "subdomain: RFC 7489 6.6.3 steps 3 and 6.2: none, not the "
	  "Organizational Domain's record" },
	{ "upper-d", false, NULL, 0, NULL,
	  "v=DMARC1; p=reject; adkim=s; sp=reject", QS_UPPER_D,
	  "authheaders compares d= with the From domain case-sensitively "
	  "(strict alignment); domain names are case-insensitive" },
	{ "hyphen-mail-from", false, NULL, 0, NULL, "v=DMARC1; p=reject",
	  QS_HYPHEN, "authheaders takes the mail-from domain with "
	  "/@([a-z0-9.]+)/, which stops at a hyphen (mx-1.example.com -> mx)" },
	{ "space-in-version", false, NULL, 0, NULL, "v = DMARC1; p=reject",
	  QS_FAIL, "\"v = DMARC1\": RFC 7489 6.4 allows WSP around '=', "
	  "authheaders matches the prefix \"v=DMARC1\" only" },
	{ "lowercase-dmarc1", true, NULL, 0, NULL, "v=dmarc1; p=reject",
	  QS_FAIL, "\"v=dmarc1\": RFC 7489 6.4 spells DMARC1 as %x44 %x4d ... "
	  "(case-sensitive): not a DMARC record" },
	{ "version-prefix", false, NULL, 0, NULL, "v=DMARC10; p=reject",
	  QS_FAIL, "\"v=DMARC10\": authheaders matches a prefix and takes the "
	  "record; RFC 7489 6.3 and mamori: not a DMARC record" },
	{ "tag-without-equals", false, NULL, 0, NULL, "v=DMARC1; p=reject; x",
	  QS_FAIL, "a tag-spec without '=' makes authheaders raise "
	  "IndexError; RFC 7489 6.3 and mamori skip the bad part" },
	{ "unlisted-tld", false, "bank.example", 1, NULL, "v=DMARC1; p=reject",
	  QS_RELAXED, "publicsuffix2 has no implicit \"*\" rule: under a TLD "
	  "not in the list the Organizational Domain is the TLD "
	  "(mail.bank.example -> example), so authheaders asks _dmarc.example "
	  "and would align all of .example" },
	{ "servfail", false, NULL, 1, "SERVFAIL", "v=DMARC1; p=reject", QS_FAIL,
	  "authheaders treats SERVFAIL (NoNameservers) as no record and goes "
	  "on to the Organizational Domain; mamori gives temperror (RFC 7489 "
	  "6.6.3 leaves DNS errors to the receiver)" },
};
#define NQUIRKS (sizeof(quirks) / sizeof(quirks[0]))

/* A case of known difference qk. */
static void gen_quirk(struct dcase *c, const struct quirk *qk)
{
	size_t oi = rnd(NORGS), i;
	const char *org = qk->org ? qk->org : orgs[oi].org;
	int depth = qk->mindepth + (int)rnd((unsigned)(4 - qk->mindepth));
	char n[NAMEMAX];

	memset(c, 0, sizeof(*c));
	gen_from(c, oi, depth);
	if (qk->org) {
		snprintf(n, sizeof(n), "%s", c->from);
		snprintf(c->from, sizeof(c->from), "%.*s%s",
			 (int)(strlen(n) - strlen(orgs[oi].org)), n, org);
	}
	snprintf(n, sizeof(n), "_dmarc.%s", c->from);
	if (qk->at_from && strcmp(qk->at_from, "SERVFAIL") == 0) {
		zadd(c, Z_SERVFAIL, n, NULL);
	} else if (qk->at_from) {
		const char *nl = strchr(qk->at_from, '\n');
		char first[TXTMAX];

		snprintf(first, sizeof(first), "%.*s", nl ?
			 (int)(nl - qk->at_from) : (int)strlen(qk->at_from),
			 qk->at_from);
		zadd(c, Z_TXT, n, first);
		if (nl)
			zadd(c, Z_TXT, n, nl + 1);
	}
	if (qk->at_org)
		dmarc_at(c, org, qk->at_org);
	switch (qk->shape) {
	case QS_FAIL:
		c->spf = "fail";
		snprintf(c->mfrom, sizeof(c->mfrom), "%s", c->from);
		break;
	case QS_RELAXED:
		c->spf = c->dkim = "pass";
		snprintf(c->mfrom, sizeof(c->mfrom), "%s", org);
		snprintf(c->d, sizeof(c->d), "%s", org);
		break;
	case QS_UPPER_D:
		c->dkim = "pass";
		for (i = 0; c->from[i]; i++)
			c->d[i] = (char)(c->from[i] >= 'a' &&
					 c->from[i] <= 'z' ?
					 c->from[i] - 32 : c->from[i]);
		break;
	case QS_HYPHEN:
		c->spf = "pass";
		snprintf(c->mfrom, sizeof(c->mfrom), "mx-1.%s", org);
		break;
	}
}

/* ---------------------------------------------------------------- */
/* Running mamori                                                       */

/* Does name exist in c's zone (it or a name below it has a row)? */
static bool name_exists(const struct dcase *c, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < c->nz; i++) {
		const char *z = c->z[i].name;
		size_t k = strlen(z);

		if (strcasecmp(z, name) == 0 ||
		    (k > n + 1 && z[k - n - 1] == '.' &&
		     strcasecmp(z + k - n, name) == 0))
			return true;
	}
	return false;
}

/* Answer q from c's zone into a (rr: room for rrmax records). */
static void zone_answer(const struct dcase *c, const struct dns_question *q,
			struct dns_answer *a, struct dns_rr *rr, size_t rrmax)
{
	size_t i;

	memset(a, 0, sizeof(*a));
	a->rr = rr;
	for (i = 0; i < c->nz; i++) {
		if (c->z[i].kind == Z_SERVFAIL &&
		    strcasecmp(c->z[i].name, q->name) == 0) {
			a->rcode = DNS_TEMPFAIL;
			return;
		}
	}
	if (!name_exists(c, q->name)) {
		a->rcode = DNS_NXDOMAIN;
		return;
	}
	for (i = 0; i < c->nz && a->n < rrmax; i++) {
		const struct zrow *z = &c->z[i];
		struct dns_rr *r = &rr[a->n];

		if (strcasecmp(z->name, q->name) != 0)
			continue;
		memset(r, 0, sizeof(*r));
		if (q->type == DNS_T_TXT && z->kind == Z_TXT) {
			r->type = DNS_T_TXT;
			r->text = (char *)z->txt;
			r->text_len = strlen(z->txt);
			a->n++;
		} else if (q->type == DNS_T_A && z->kind == Z_ADDR) {
			static const uint8_t ip[4] = { 192, 0, 2, 1 };

			r->type = DNS_T_A;
			memcpy(r->addr, ip, 4);
			a->n++;
		}
	}
	a->nodata = a->n == 0;
}

/* Evaluate c in mode; *r gets the result. */
static void mamori(const struct dcase *c, enum dmarc_mode mode,
		   struct dmarc_result *r)
{
	struct dmarc_input in;
	struct dmarc_config cfg;
	struct dmarc_eval *e;
	struct dns_question q;
	struct dns_answer a;
	struct dns_rr rr[8];
	int rc, guard = 0;

	memset(&in, 0, sizeof(in));
	dmarc_config_init(&cfg);
	cfg.mode = mode;
	cfg.psl = psl;
	in.author_domain = c->from;
	if (c->spf) {
		in.spf_domain = c->mfrom;
		in.spf_pass = strcmp(c->spf, "pass") == 0;
	}
	if (c->dkim && strcmp(c->dkim, "pass") == 0)
		in.dkim_domains[in.ndkim++] = c->d;
	in.pct_sample = 0;	/* pct changes the disposition only */
	e = dmarc_eval_new(&in, &cfg);
	rc = dmarc_eval_step(e, NULL, &q);
	while (rc == DMARC_E_NEED_DNS && guard++ < 100) {
		zone_answer(c, &q, &a, rr, 8);
		rc = dmarc_eval_step(e, &a, &q);
	}
	*r = *dmarc_eval_result(e);
	dmarc_eval_free(e);
}

/* mamori's result as a verdict. */
static void to_verdict(const struct dcase *c, const struct dmarc_result *r,
		       struct verdict *v)
{
	snprintf(v->result, sizeof(v->result), "%s",
		 dmarc_status_name(r->status));
	snprintf(v->policy, sizeof(v->policy), "%s",
		 r->status == DMARC_FAIL ? dmarc_policy_name(r->policy) : "-");
	snprintf(v->where, sizeof(v->where), "%s",
		 r->status != DMARC_PASS && r->status != DMARC_FAIL ? "-" :
		 strcasecmp(r->policy_domain, c->from) == 0 ? "from" : "org");
}

/* Same answer?  The policy counts for fail only: mamori sets it then. */
static bool same(const struct verdict *a, const struct verdict *b)
{
	if (strcmp(a->result, b->result) != 0)
		return false;
	if (strcmp(a->result, "fail") == 0 &&
	    strcmp(a->policy, b->policy) != 0)
		return false;
	if (strcmp(a->result, "pass") == 0 || strcmp(a->result, "fail") == 0)
		return strcmp(a->where, b->where) == 0;
	return true;
}

/* One line describing c (for failures and examples). */
static void describe(const struct dcase *c, char *buf, size_t sz)
{
	size_t i, n;

	n = (size_t)snprintf(buf, sz, "From %s, SPF %s %s, DKIM %s d=%s; zone:",
			     c->from, c->spf ? c->spf : "-",
			     c->spf ? c->mfrom : "", c->dkim ? c->dkim : "-",
			     c->dkim ? c->d : "-");
	for (i = 0; i < c->nz && n < sz; i++) {
		const struct zrow *z = &c->z[i];

		n += (size_t)snprintf(buf + n, sz - n, z->kind == Z_TXT ?
				      " %s \"%s\"" : z->kind == Z_ADDR ?
				      " %s A%s" : " %s SERVFAIL%s", z->name,
				      z->kind == Z_TXT ? z->txt : "");
	}
}

/* ---------------------------------------------------------------- */
/* The oracle                                                           */

/* Write the cases file; false if it cannot be written. */
static bool write_cases(const char *path, const struct dcase *cs, size_t n)
{
	FILE *f = fopen(path, "w");
	size_t i, k;

	if (f == NULL)
		return false;
	fprintf(f, "# test-dmarc-diff cases: see test/dmarc/"
		"authheaders-oracle.py\n");
	for (i = 0; i < n; i++) {
		const struct dcase *c = &cs[i];

		fprintf(f, "C\t%zu\t%s\t%s\t%s\t%s\t%s\n", i, c->from,
			c->spf ? c->spf : "-", c->spf ? c->mfrom : "-",
			c->dkim ? c->dkim : "-", c->dkim ? c->d : "-");
		for (k = 0; k < c->nz; k++) {
			const struct zrow *z = &c->z[k];

			if (z->kind == Z_TXT)
				fprintf(f, "T\t%s\t%s\n", z->name, z->txt);
			else
				fprintf(f, "%c\t%s\n",
					z->kind == Z_ADDR ? 'X' : 'F', z->name);
		}
	}
	return fclose(f) == 0;
}

/*
 * Run the oracle on the n cases in path; fill out[0..n).  Returns the
 * number of answers read, or -1 if the oracle is not installed.
 */
static int run_oracle(const char *root, const char *pslpath,
		      const char *path, struct verdict *out, size_t n)
{
	char *cmd, line[256];
	FILE *p;
	int got = 0, st;

	cmd = xasprintf("/usr/bin/python3 '%s/test/dmarc/authheaders-oracle.py'"
			" '%s' '%s'", root, pslpath, path);
	p = popen(cmd, "r");
	free(cmd);
	if (p == NULL)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		char *f[4], *s = line;
		unsigned long id;
		int k;

		line[strcspn(line, "\n")] = '\0';
		for (k = 0; k < 4; k++)
			f[k] = strsep(&s, "\t");
		if (f[3] == NULL)
			continue;
		id = strtoul(f[0], NULL, 10);
		if (id >= n)
			continue;
		snprintf(out[id].result, sizeof(out[id].result), "%s", f[1]);
		snprintf(out[id].policy, sizeof(out[id].policy), "%s", f[2]);
		snprintf(out[id].where, sizeof(out[id].where), "%s", f[3]);
		got++;
	}
	st = pclose(p);
	if (got == 0 && (st == 77 << 8 || st == 127 << 8))
		return -1;
	return got;
}

/* ---------------------------------------------------------------- */
/* RFC 9989 mode on the same cases                                      */

enum {
	D_BETWEEN,	/* tree walk: record between author and PSL org */
	D_SUFFIX,	/* tree walk: record at or above the public suffix */
	D_ORG_BELOW,	/* same record, org domain below the PSL one */
	D_ORG_ABOVE,	/* same record, org domain above the PSL one */
	D_OTHER,
	D__COUNT,
};

static const char *const dnames[D__COUNT] = {
	"the tree walk finds a record between the From domain and the PSL "
	"Organizational Domain (RFC 7489 never asks there)",
	"the tree walk finds a record at the public suffix (RFC 7489 never "
	"asks there)",
	"same policy record, but the Organizational Domain is below the PSL "
	"one (psd=n or psd=y on the way), so relaxed alignment differs",
	"same policy record, but the Organizational Domain is above the PSL "
	"one (a record at the public suffix without psd=y), so relaxed "
	"alignment differs",
	"other",
};

/* Is a strictly below b (a name under b, not b)? */
static bool is_below(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	return na > nb + 1 && a[na - nb - 1] == '.' &&
		strcasecmp(a + na - nb, b) == 0;
}

/*
 * Category of a difference between r7 (RFC 7489 mode) and r9 (RFC 9989
 * mode) on c.  RFC 7489 mode leaves org_domain empty when it finds no
 * record, so the PSL answer is asked again here.
 */
static int dcategory(const struct dcase *c, const struct dmarc_result *r7,
		     const struct dmarc_result *r9)
{
	const char *pd9 = r9->policy_domain;
	char org7[DMARC_DOMAIN_MAX];

	if (dmarc_psl_org_domain(psl, c->from, org7, sizeof(org7)) != 0)
		return D_OTHER;
	if (strcmp(r7->policy_domain, pd9) != 0 && pd9[0]) {
		if (is_below(pd9, org7))
			return D_BETWEEN;
		if (is_below(org7, pd9))
			return D_SUFFIX;
		return D_OTHER;
	}
	if (strcmp(r7->policy_domain, pd9) == 0 &&
	    strcmp(org7, r9->org_domain) != 0) {
		if (is_below(r9->org_domain, org7))
			return D_ORG_BELOW;
		if (is_below(org7, r9->org_domain))
			return D_ORG_ABOVE;
	}
	return D_OTHER;
}

static void rfc9989_report(const struct dcase *cs, size_t n)
{
	int cnt[D__COUNT] = { 0 }, ex[D__COUNT], ndiff = 0, ntest = 0;
	size_t i;
	int k;

	for (k = 0; k < D__COUNT; k++)
		ex[k] = -1;
	for (i = 0; i < n; i++) {
		struct dmarc_result r7, r9;
		struct verdict v7, v9;

		mamori(&cs[i], DMARC_MODE_RFC7489, &r7);
		mamori(&cs[i], DMARC_MODE_RFC9989, &r9);
		if (r9.status == DMARC_FAIL && r9.testing)
			ntest++;
		to_verdict(&cs[i], &r7, &v7);
		to_verdict(&cs[i], &r9, &v9);
		if (same(&v7, &v9))
			continue;
		ndiff++;
		k = dcategory(&cs[i], &r7, &r9);
		cnt[k]++;
		if (ex[k] < 0)
			ex[k] = (int)i;
	}
	printf("# RFC 9989 mode answers differently from RFC 7489 mode on %d "
	       "of %zu cases:\n", ndiff, n);
	for (k = 0; k < D__COUNT; k++) {
		const struct dcase *c = &cs[ex[k]];
		struct dmarc_result r7, r9;
		struct verdict v7, v9;
		char buf[2048];

		if (cnt[k] == 0)
			continue;
		printf("#   %d: %s\n", cnt[k], dnames[k]);
		mamori(c, DMARC_MODE_RFC7489, &r7);
		mamori(c, DMARC_MODE_RFC9989, &r9);
		to_verdict(c, &r7, &v7);
		to_verdict(c, &r9, &v9);
		describe(c, buf, sizeof(buf));
		printf("#      e.g. case %d: %s\n#      7489: %s/%s (record "
		       "at %s); 9989: %s/%s (record at %s, org %s)\n", ex[k],
		       buf, v7.result, v7.policy, r7.policy_domain[0] ?
		       r7.policy_domain : "-", v9.result, v9.policy,
		       r9.policy_domain[0] ? r9.policy_domain : "-",
		       r9.org_domain[0] ? r9.org_domain : "-");
	}
	printf("# and on %d failing cases t=y makes the RFC 9989 disposition "
	       "one step milder (policy unchanged)\n", ntest);
}

/* ---------------------------------------------------------------- */

int main(void)
{
	const char *shared = getenv("MAMORI_SHARED");
	const char *root = getenv("MAMORI_SOURCE_ROOT");
	const char *tmp = getenv("TMPDIR");
	size_t ncase = NCASES + NQUIRKS * NQUIRK, i, q;
	char pslpath[1024], path[1024], buf[2048];
	struct dcase *cs;
	struct verdict *ov;
	int got, agree = 0, npass = 0, nfail = 0, nnone = 0, nfrom = 0;
	int depth[4] = { 0 }, fd;

	if (shared == NULL) {
		printf("1..0 # SKIP MAMORI_SHARED not set\n");
		return 0;
	}
	if (root == NULL)
		root = MAMORI_SOURCE_ROOT;
	snprintf(pslpath, sizeof(pslpath),
		 "%s/corpora/public-suffix-list/public_suffix_list.dat", shared);
	psl = dmarc_psl_load(pslpath);
	if (!ok(psl != NULL, "psl: load %s", pslpath))
		return tap_done();
	if (access("/usr/bin/python3", X_OK) != 0) {
		printf("ok %d # SKIP authheaders differential: no python3\n",
		       ++tap_n);
		dmarc_psl_free(psl);
		return tap_done();
	}

	cs = xcalloc(ncase, sizeof(*cs));
	ov = xcalloc(ncase, sizeof(*ov));
	for (i = 0; i < NCASES; i++)
		gen_case(&cs[i]);
	for (q = 0; q < NQUIRKS; q++) {
		for (i = 0; i < NQUIRK; i++) {
			struct dcase *c = &cs[NCASES + q * NQUIRK + i];

			gen_quirk(c, &quirks[q]);
		}
	}
	snprintf(path, sizeof(path), "%s/mamori-dmarc-cases-XXXXXX",
		 tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	if (!ok(fd >= 0 && close(fd) == 0 && write_cases(path, cs, ncase),
		"write %zu cases to %s", ncase, path))
		goto out;
	got = run_oracle(root, pslpath, path, ov, ncase);
	unlink(path);
	if (got < 0) {
		printf("ok %d # SKIP python3-authheaders not installed\n",
		       ++tap_n);
		goto out;
	}
	if (!ok(got == (int)ncase, "authheaders answered %d of %zu cases",
		got, ncase))
		goto out;

	/* The compared cases. */
	for (i = 0; i < NCASES; i++) {
		const struct dcase *c = &cs[i];
		struct dmarc_result r;
		struct verdict v;

		mamori(c, DMARC_MODE_RFC7489, &r);
		to_verdict(c, &r, &v);
		depth[c->depth]++;
		if (same(&v, &ov[i])) {
			agree++;
			npass += r.status == DMARC_PASS;
			nfail += r.status == DMARC_FAIL;
			nnone += r.status == DMARC_NONE;
			nfrom += !strcmp(v.where, "from");
			continue;
		}
		describe(c, buf, sizeof(buf));
		ok(0, "case %zu differs: %s: authheaders %s/%s/%s, mamori "
		   "%s/%s/%s", i, buf, ov[i].result, ov[i].policy,
		   ov[i].where, v.result, v.policy, v.where);
	}
	is_int(agree, NCASES, "authheaders and mamori (RFC 7489 mode) agree "
	       "on %d of %d cases", agree, NCASES);
	printf("# agreed: %d pass, %d fail, %d none; %d used the From "
	       "domain's own record; From depth 0..3: %d %d %d %d\n", npass,
	       nfail, nnone, nfrom, depth[0], depth[1], depth[2], depth[3]);
	/* A generator gone degenerate would agree trivially. */
	ok(npass >= NCASES / 8 && nfail >= NCASES / 8 && nnone >= NCASES / 10,
	   "the cases cover pass, fail and none");

	/* The known differences. */
	for (q = 0; q < NQUIRKS; q++) {
		int ndiff = 0, ex = -1;
		struct verdict vex;

		for (i = 0; i < NQUIRK; i++) {
			size_t id = NCASES + q * NQUIRK + i;
			struct dmarc_result r;
			struct verdict v;

			mamori(&cs[id], DMARC_MODE_RFC7489, &r);
			to_verdict(&cs[id], &r, &v);
			if (same(&v, &ov[id]))
				continue;
			ndiff++;
			if (ex < 0) {
				ex = (int)id;
				vex = v;
			}
		}
		if (quirks[q].must_agree)
			is_int(ndiff, 0, "%s: mamori agrees with authheaders "
			       "and RFC 7489 on %d cases: %s", quirks[q].name,
			       NQUIRK, quirks[q].why);
		else
			printf("# known difference %s: %d of %d cases differ: "
			       "%s\n", quirks[q].name, ndiff, NQUIRK,
			       quirks[q].why);
		if (ex >= 0) {
			describe(&cs[ex], buf, sizeof(buf));
			printf("#   e.g. %s: authheaders %s/%s/%s, mamori "
			       "%s/%s/%s\n", buf, ov[ex].result, ov[ex].policy,
			       ov[ex].where, vex.result, vex.policy, vex.where);
		}
	}

	rfc9989_report(cs, NCASES);
out:
	free(cs);
	free(ov);
	dmarc_psl_free(psl);
	return tap_done();
}
