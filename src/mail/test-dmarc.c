/*
 * test-dmarc - record parser, From parser, PSL vectors, tree walk,
 * alignment, sp/np, t=y and pct rows.  DNS comes from a table in this
 * file (zone rows below), never the network.  The PSL rows need
 * $MAMORI_SHARED (corpora/public-suffix-list).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/dmarc.h"
#include "tap.h"
#include "util/buf.h"

/* ---------------------------------------------------------------- */
/* Record parser                                                       */

struct rec_row {
	const char *label, *txt;
	int rc;
	enum dmarc_policy p, sp, np;
	char adkim, aspf, psd;
	int testing, pct;
	unsigned notes;		/* these bits at least */
};

#define N_ DMARC_P_NONE
#define Q_ DMARC_P_QUARANTINE
#define R_ DMARC_P_REJECT
#define U_ DMARC_P_UNSPEC

static const struct rec_row rec_rows[] = {
	{"minimal", "v=DMARC1; p=none", 0, N_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"trailing semicolon", "v=DMARC1; p=reject;", 0, R_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"no spaces", "v=DMARC1;p=quarantine;sp=reject", 0, Q_, R_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"lots of whitespace", "  v = DMARC1 ;\tp = reject ; adkim = s ; ", 0, R_, U_, U_, 's', 'r', 'u', 0, -1, 0},
	{"case of tags and values", "V=DMARC1; P=Reject; ADKIM=S; ASPF=s", 0, R_, U_, U_, 's', 's', 'u', 0, -1, 0},
	{"version value is case-sensitive", "v=dmarc1; p=reject", DMARC_REC_NOT_DMARC, U_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"all bis tags", "v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=r; t=y; psd=n; fo=1:d; rua=mailto:a@example.com; ruf=mailto:f@example.com",
	 0, R_, Q_, R_, 's', 'r', 'n', 1, -1, 0},
	{"psd=y", "v=DMARC1; p=none; psd=y", 0, N_, U_, U_, 'r', 'r', 'y', 0, -1, 0},
	{"t=n", "v=DMARC1; p=reject; t=n", 0, R_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"legacy pct rf ri", "v=DMARC1; p=quarantine; pct=20; rf=afrf; ri=86400", 0, Q_, U_, U_, 'r', 'r', 'u', 0, 20,
	 DMARC_NOTE_LEGACY_PCT | DMARC_NOTE_LEGACY_RF | DMARC_NOTE_LEGACY_RI},
	{"bad pct", "v=DMARC1; p=reject; pct=101", 0, R_, U_, U_, 'r', 'r', 'u', 0, -1, DMARC_NOTE_BAD_VALUE},
	{"unknown tag ignored", "v=DMARC1; p=reject; foo=bar; x", 0, R_, U_, U_, 'r', 'r', 'u', 0, -1,
	 DMARC_NOTE_UNKNOWN_TAG | DMARC_NOTE_BAD_SYNTAX},
	{"bad adkim gives default", "v=DMARC1; p=reject; adkim=x", 0, R_, U_, U_, 'r', 'r', 'u', 0, -1, DMARC_NOTE_BAD_VALUE},
	{"bad sp ignored", "v=DMARC1; p=reject; sp=bogus", 0, R_, U_, U_, 'r', 'r', 'u', 0, -1, DMARC_NOTE_BAD_VALUE},
	{"duplicate p keeps first", "v=DMARC1; p=none; p=reject", 0, N_, U_, U_, 'r', 'r', 'u', 0, -1, DMARC_NOTE_DUP_TAG},
	{"missing p with rua -> none", "v=DMARC1; rua=mailto:dmarc@example.com", 0, N_, U_, U_, 'r', 'r', 'u', 0, -1,
	 DMARC_NOTE_P_FROM_RUA},
	{"bad p with rua -> none", "v=DMARC1; p=bogus; rua=mailto:d@example.com", 0, N_, U_, U_, 'r', 'r', 'u', 0, -1,
	 DMARC_NOTE_P_FROM_RUA},
	{"missing p, no rua: invalid", "v=DMARC1; sp=reject", DMARC_REC_INVALID, U_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"missing p, bad rua: invalid", "v=DMARC1; rua=notauri", DMARC_REC_INVALID, U_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"v not first", "p=reject; v=DMARC1", DMARC_REC_NOT_DMARC, U_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"wrong version", "v=DMARC2; p=reject", DMARC_REC_NOT_DMARC, U_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"spf record", "v=spf1 -all", DMARC_REC_NOT_DMARC, U_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"empty", "", DMARC_REC_NOT_DMARC, U_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"v=DMARC1 alone: invalid", "v=DMARC1", DMARC_REC_INVALID, U_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"leading semicolon", ";v=DMARC1; p=none", DMARC_REC_NOT_DMARC, U_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	/* RFC 7489 6.6.3 / RFC 9989 appendix B examples. */
	{"RFC example 1", "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com", 0, N_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"RFC example 2", "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@thirdparty.example.net",
	 0, N_, U_, U_, 'r', 'r', 'u', 0, -1, 0},
	{"RFC example 3", "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net!10m; pct=25",
	 0, Q_, U_, U_, 'r', 'r', 'u', 0, 25, DMARC_NOTE_LEGACY_PCT},
	{"RFC 9989 PSD example", "v=DMARC1; p=reject; psd=y; rua=mailto:dmarc@example", 0, R_, U_, U_, 'r', 'r', 'y', 0, -1, 0},
};

static void test_records(void)
{
	size_t i;
	struct dmarc_record r;

	for (i = 0; i < sizeof(rec_rows) / sizeof(rec_rows[0]); i++) {
		const struct rec_row *w = &rec_rows[i];
		int rc = dmarc_record_parse(w->txt, strlen(w->txt), &r);

		is_int(rc, w->rc, "record %s: rc", w->label);
		if (rc != DMARC_REC_OK)
			continue;
		ok(r.p == w->p && r.sp == w->sp && r.np == w->np,
		   "record %s: p=%s sp=%s np=%s", w->label,
		   dmarc_policy_name(r.p), dmarc_policy_name(r.sp),
		   dmarc_policy_name(r.np));
		ok(r.adkim == w->adkim && r.aspf == w->aspf && r.psd == w->psd &&
		   r.testing == (w->testing != 0) && r.pct == w->pct,
		   "record %s: adkim=%c aspf=%c psd=%c t=%d pct=%d", w->label,
		   r.adkim, r.aspf, r.psd, r.testing, r.pct);
		ok((r.notes & w->notes) == w->notes, "record %s: notes %#x",
		   w->label, r.notes);
	}
	/* NUL inside, oversized. */
	is_int(dmarc_record_parse("v=DMARC1; p=re\0ject", 19, &r),
	       DMARC_REC_INVALID, "record with NUL");
	{
		char big[DMARC_RECORD_MAX + 10];

		memset(big, 'a', sizeof(big));
		memcpy(big, "v=DMARC1; p=none; x=", 20);
		is_int(dmarc_record_parse(big, sizeof(big), &r),
		       DMARC_REC_INVALID, "record over the limit");
	}
	dmarc_record_parse("v=DMARC1; p=none; rua=mailto:x@example.com", 42, &r);
	is_str(r.rua, "mailto:x@example.com", "rua kept");
}

/* ---------------------------------------------------------------- */
/* From parser                                                          */

struct from_row {
	const char *label;
	const char *v[3];	/* NULL-terminated list of field values */
	enum dmarc_from_verdict verdict;
	const char *domain;	/* domain[0] if any */
};

static const struct from_row from_rows[] = {
	{"plain addr-spec", {"user@example.com"}, DMARC_FROM_OK, "example.com"},
	{"name-addr", {"Joe Q. Public <john.q.public@example.com>"}, DMARC_FROM_OK, "example.com"},
	{"quoted display name", {"\"Doe, John\" <jdoe@Example.COM>"}, DMARC_FROM_OK, "example.com"},
	{"comments", {" (c1) user (c2) @ (c3) example.org (c (nested) 4)"}, DMARC_FROM_OK, "example.org"},
	{"folded", {" Alice\r\n <alice@\r\n example.net>"}, DMARC_FROM_OK, "example.net"},
	{"quoted local part", {"\"a b\\\"c\"@example.com"}, DMARC_FROM_OK, "example.com"},
	{"obs local part", {"john.\"q\".public@example.com"}, DMARC_FROM_OK, "example.com"},
	{"obs route", {"<@relay.example,@r2.example:user@example.com>"}, DMARC_FROM_OK, "example.com"},
	{"trailing dot", {"a@example.com."}, DMARC_FROM_OK, "example.com"},
	{"two mailboxes same domain", {"a@example.com, B <b@EXAMPLE.com>"}, DMARC_FROM_OK, "example.com"},
	{"obs empty elements", {"a@example.com,, ,b@example.com"}, DMARC_FROM_OK, "example.com"},
	{"group one domain", {"Team: a@example.com, b@example.com;"}, DMARC_FROM_OK, "example.com"},
	{"U-label to A-label", {"u@\xe4\xbe\x8b\xe3\x81\x88.JP"}, DMARC_FROM_OK, "xn--r8jz45g.jp"},
	{"U-label, UTS 46 non-transitional sharp s", {"u@fa\xc3\x9f.de"}, DMARC_FROM_OK, "xn--fa-hia.de"},
	{"U-label, UTS 46 maps fullwidth and case", {"u@\xef\xbc\xa1\xe4\xbe\x8b.jp"}, DMARC_FROM_OK, "xn--a-lb7a.jp"},
	{"U-label IDNA2008 disallows", {"u@\xe2\x98\x83.example"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"U-label maps to nothing (fuzz-from)", {"\xb1@\xe2\x80\x8b"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"U-label maps to an empty label", {"u@a.\xe2\x80\x8b.example"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"U-label ideographic full stop at the end", {"u@\xe4\xbe\x8b\xe3\x80\x82"}, DMARC_FROM_OK, "xn--fsq"},
	{"A-label lowercased", {"u@XN--R8JZ45G.JP"}, DMARC_FROM_OK, "xn--r8jz45g.jp"},
	{"at in display name", {"paypal.com@service <evil@attacker.example>"}, DMARC_FROM_OK, "attacker.example"},
	{"encoded display name", {"=?UTF-8?B?5qW95aSp?= <shop@rakuten.example>"}, DMARC_FROM_OK, "rakuten.example"},
	{"zero From", {NULL}, DMARC_FROM_ABSENT, NULL},
	{"two From fields (CVE-2019-16378)", {"a@nodmarc.example", "b@paypal.com"}, DMARC_FROM_MULTIPLE_FIELDS, "nodmarc.example"},
	{"two From fields same domain", {"a@example.com", "a@example.com"}, DMARC_FROM_MULTIPLE_FIELDS, "example.com"},
	{"two domains in one field", {"a@nodmarc.example, b@paypal.com"}, DMARC_FROM_MULTIPLE_DOMAINS, "nodmarc.example"},
	{"group with two domains", {"g: a@x.example, b@y.example;"}, DMARC_FROM_MULTIPLE_DOMAINS, "x.example"},
	{"empty group", {"undisclosed-recipients:;"}, DMARC_FROM_NO_DOMAIN, NULL},
	{"null address", {"<>"}, DMARC_FROM_NO_DOMAIN, NULL},
	{"domain literal", {"u@[192.0.2.1]"}, DMARC_FROM_NO_DOMAIN, NULL},
	{"literal beside a domain", {"u@[192.0.2.1], v@example.com"}, DMARC_FROM_NO_DOMAIN, "example.com"},
	{"local part only", {"postmaster"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"empty value", {"   "}, DMARC_FROM_NO_DOMAIN, NULL},
	{"unclosed angle", {"Joe <joe@example.com"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"two angle addrs", {"x <a@one.example> <b@two.example>"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"unclosed quote", {"\"Joe <joe@example.com>"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"unclosed comment", {"joe@example.com (oops"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"bad domain char", {"joe@exa!mple.com"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"empty label", {"joe@example..com"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"bad utf-8 domain", {"joe@\xc0\xaf.example"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"two @", {"a@b@example.com"}, DMARC_FROM_UNPARSEABLE, NULL},
	{"control byte", {"a@exam\x01ple.com"}, DMARC_FROM_UNPARSEABLE, NULL},
};

static void test_from(void)
{
	size_t i, k;
	struct dmarc_from f;
	struct dmarc_config cfg;
	struct dmarc_result r;

	for (i = 0; i < sizeof(from_rows) / sizeof(from_rows[0]); i++) {
		const struct from_row *w = &from_rows[i];
		size_t lens[3];

		for (k = 0; k < 3 && w->v[k]; k++)
			lens[k] = strlen(w->v[k]);
		is_int(dmarc_from_parse(w->v, lens, k, &f), w->verdict,
		       "from %s: verdict %s", w->label,
		       dmarc_from_verdict_name(f.verdict));
		if (w->domain)
			is_str(f.ndomain ? f.domain[0] : "", w->domain,
			       "from %s: domain", w->label);
	}
	/* Too many mailboxes, too long. */
	{
		static char v[DMARC_FROM_MAX + 2];
		const char *vp = v;
		size_t n = 0, len;

		for (k = 0; k <= DMARC_FROM_MAILBOXES; k++)
			n += (size_t)snprintf(v + n, sizeof(v) - n,
					      "a%zu@example.com,", k);
		len = n;
		is_int(dmarc_from_parse(&vp, &len, 1, &f),
		       DMARC_FROM_UNPARSEABLE, "from: too many mailboxes");
		memset(v, 'a', sizeof(v) - 1);
		v[5] = '@';
		len = sizeof(v) - 1;
		is_int(dmarc_from_parse(&vp, &len, 1, &f),
		       DMARC_FROM_UNPARSEABLE, "from: too long");
	}
	/* A bad From never gives none or pass. */
	dmarc_config_init(&cfg);
	for (k = 1; k < DMARC_FROM__COUNT; k++) {
		dmarc_result_from_verdict(&cfg, (enum dmarc_from_verdict)k, &r);
		ok(r.status == DMARC_FAIL && r.disposition == DMARC_P_REJECT,
		   "from verdict %s -> fail/reject",
		   dmarc_from_verdict_name((enum dmarc_from_verdict)k));
	}
	cfg.from_policy[DMARC_FROM_ABSENT] = DMARC_P_QUARANTINE;
	dmarc_result_from_verdict(&cfg, DMARC_FROM_ABSENT, &r);
	ok(r.status == DMARC_FAIL && r.disposition == DMARC_P_QUARANTINE,
	   "from verdict absent configured to quarantine");
	cfg.from_policy[DMARC_FROM_ABSENT] = DMARC_P_UNSPEC;
	dmarc_result_from_verdict(&cfg, DMARC_FROM_ABSENT, &r);
	is_int(r.disposition, DMARC_P_REJECT, "from: unspec config means reject");
}

/* ---------------------------------------------------------------- */
/* PSL                                                                  */

static struct dmarc_psl *psl;

/* The quoted argument at *p ('x' or null) into out; advances *p. */
static int psl_arg(const char **p, char *out, size_t outsz)
{
	const char *s = *p, *e;

	while (*s == ' ' || *s == ',' || *s == '(')
		s++;
	if (strncmp(s, "null", 4) == 0) {
		*p = s + 4;
		return 0;
	}
	if (*s != '\'' || (e = strchr(s + 1, '\'')) == NULL ||
	    (size_t)(e - s - 1) >= outsz)
		return -1;
	memcpy(out, s + 1, (size_t)(e - s - 1));
	out[e - s - 1] = '\0';
	*p = e + 1;
	return 1;
}

static void test_psl(void)
{
	const char *shared = getenv("MAMORI_SHARED");
	char path[1024], line[512], in[256], want[256], got[256];
	FILE *f;
	int nvec = 0, nnull = 0;

	if (shared == NULL)
		shared = "../shared";
	snprintf(path, sizeof(path), "%s/corpora/public-suffix-list/public_suffix_list.dat", shared);
	psl = dmarc_psl_load(path);
	if (!ok(psl != NULL, "psl: load %s", path))
		return;
	snprintf(path, sizeof(path), "%s/corpora/public-suffix-list/test_psl.txt", shared);
	f = fopen(path, "r");
	if (!ok(f != NULL, "psl: open test_psl.txt"))
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *p = line;
		int a, b;

		if (strncmp(line, "checkPublicSuffix(", 18) != 0)
			continue;	/* comments, commented-out vectors */
		p += 17;
		a = psl_arg(&p, in, sizeof(in));
		b = psl_arg(&p, want, sizeof(want));
		if (a < 0 || b < 0) {
			ok(0, "psl: cannot read %s", line);
			continue;
		}
		nvec++;
		if (a == 0) {
			nnull++;
			ok(dmarc_psl_org_domain(psl, NULL, got, sizeof(got)) < 0,
			   "psl: null input");
			continue;
		}
		if (b == 0)
			ok(dmarc_psl_org_domain(psl, in, got, sizeof(got)) < 0,
			   "psl: %s -> null", in);
		else if (dmarc_psl_org_domain(psl, in, got, sizeof(got)) == 0)
			is_str(got, want, "psl: %s", in);
		else
			ok(0, "psl: %s -> %s, got none", in, want);
	}
	fclose(f);
	is_int(nvec, 78, "psl: all active checkPublicSuffix vectors run");
	(void)nnull;
}

/* Alignment through the PSL (RFC 7489 mode). */
static void test_psl_align(void)
{
	static const struct {
		const char *a, *b;
		int strict, want;
	} rows[] = {
		{"example.com", "example.com", 1, 1},
		{"mail.example.com", "example.com", 1, 0},
		{"mail.example.com", "example.com", 0, 1},
		{"a.b.example.com", "c.example.com", 0, 1},
		{"Example.COM", "example.com.", 1, 1},
		{"example.co.uk", "other.co.uk", 0, 0},
		{"mail.example.co.uk", "example.co.uk", 0, 1},
		{"co.uk", "example.co.uk", 0, 0},
		{"foo.github.io", "bar.github.io", 0, 0},
		{"www.foo.github.io", "foo.github.io", 0, 1},
		{"example.com", "example.net", 0, 0},
		{"evil-example.com", "example.com", 0, 0},
	};
	size_t i;

	if (psl == NULL)
		return;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_int(dmarc_psl_aligned(psl, rows[i].a, rows[i].b,
					 rows[i].strict), rows[i].want,
		       "psl align %s %s %s", rows[i].a, rows[i].b,
		       rows[i].strict ? "strict" : "relaxed");
}

/* ---------------------------------------------------------------- */
/* Evaluation with a table resolver                                     */

struct zrow {
	const char *name;
	enum dns_type type;
	enum dns_rcode rcode;	/* per name+type */
	const char *txt;	/* TXT text, or anything non-NULL for data */
};

/* Answer q from zone z (NULL-name terminated) into a and its rr. */
static void zone_answer(const struct zrow *z, const struct dns_question *q,
			struct dns_answer *a, struct dns_rr *rr, size_t rrmax)
{
	bool name_seen = false;

	memset(a, 0, sizeof(*a));
	a->rr = rr;
	for (; z->name; z++) {
		if (strcasecmp(z->name, q->name) != 0)
			continue;
		name_seen = true;
		if (z->type != q->type)
			continue;
		if (z->rcode != DNS_OK) {
			a->rcode = z->rcode;
			return;
		}
		if (a->n < rrmax) {
			memset(&rr[a->n], 0, sizeof(rr[a->n]));
			rr[a->n].type = q->type;
			rr[a->n].text = (char *)z->txt;
			rr[a->n].text_len = strlen(z->txt);
			a->n++;
		}
	}
	if (!name_seen) {
		a->rcode = DNS_NXDOMAIN;	/* no empty non-terminals here */
		return;
	}
	a->nodata = a->n == 0;
}

struct eval_row {
	const char *label;
	enum dmarc_mode mode;
	const char *author, *spf_domain, *dkim1, *dkim2;
	enum dmarc_status status;
	enum dmarc_policy disposition;
	enum dmarc_policy_src src;
	const char *org;	/* expected org domain or NULL to skip */
	int max_queries;	/* 0: skip */
};

static const struct zrow zone[] = {
	/* example.com: p=reject, sp=quarantine, np=reject */
	{"_dmarc.example.com", DNS_T_TXT, DNS_OK, "v=DMARC1; p=reject; sp=quarantine; np=reject"},
	{"_dmarc.example.com", DNS_T_TXT, DNS_OK, "v=spf1 -all"},	/* discarded */
	{"example.com", DNS_T_A, DNS_OK, "a"},
	{"mail.example.com", DNS_T_MX, DNS_OK, "mx"},
	{"nodata.example.com", DNS_T_TXT, DNS_OK, "not-a-host"},
	/* sub.example.com publishes psd=n: its own org domain. */
	{"_dmarc.sub.example.com", DNS_T_TXT, DNS_OK, "v=DMARC1; p=none; psd=n"},
	/* testing.example: t=y. */
	{"_dmarc.testing.example", DNS_T_TXT, DNS_OK, "v=DMARC1; p=reject; t=y; pct=0; aspf=s"},
	{"_dmarc.pct.example", DNS_T_TXT, DNS_OK, "v=DMARC1; p=reject; pct=50"},
	/* Two records: both discarded. */
	{"_dmarc.two.example", DNS_T_TXT, DNS_OK, "v=DMARC1; p=reject"},
	{"_dmarc.two.example", DNS_T_TXT, DNS_OK, "v=DMARC1; p=none"},
	/* A PSD: _dmarc.psd with psd=y. */
	{"_dmarc.psd", DNS_T_TXT, DNS_OK, "v=DMARC1; p=reject; psd=y"},
	{"_dmarc.bank.psd", DNS_T_TXT, DNS_OK, "v=DMARC1; p=none"},
	/* Tempfail. */
	{"_dmarc.flaky.example", DNS_T_TXT, DNS_TEMPFAIL, NULL},
	{"_dmarc.example.co.uk", DNS_T_TXT, DNS_OK, "v=DMARC1; p=quarantine"},
	{"_dmarc.foo.github.io", DNS_T_TXT, DNS_OK, "v=DMARC1; p=reject"},
	{"_dmarc.invalid.example", DNS_T_TXT, DNS_OK, "v=DMARC1; sp=reject"},
	/* Subdomains of example.com with records RFC 7489 6.6.3 stops at. */
	{"_dmarc.two.example.com", DNS_T_TXT, DNS_OK, "v=DMARC1; p=none"},
	{"_dmarc.two.example.com", DNS_T_TXT, DNS_OK, "v=DMARC1; p=none"},
	{"_dmarc.nop.example.com", DNS_T_TXT, DNS_OK, "v=DMARC1; sp=none"},
	{"_dmarc.badsp.example.com", DNS_T_TXT, DNS_OK, "v=DMARC1; p=reject; sp=bogus"},
	{"_dmarc.badsprua.example.com", DNS_T_TXT, DNS_OK, "v=DMARC1; p=reject; sp=bogus; rua=mailto:d@example.com"},
	{NULL, 0, 0, NULL},
};

#define B9 DMARC_MODE_RFC9989
#define B7 DMARC_MODE_RFC7489

static const struct eval_row eval_rows[] = {
	{"spf aligned exact: no org walk", B9, "example.com", "example.com", NULL, NULL, DMARC_PASS, N_, DMARC_SRC_NONE, NULL, 1},
	{"dkim aligned exact", B9, "example.com", NULL, "example.com", NULL, DMARC_PASS, N_, DMARC_SRC_NONE, NULL, 0},
	{"relaxed dkim subdomain", B9, "example.com", NULL, "mail.example.com", NULL, DMARC_PASS, N_, DMARC_SRC_NONE, NULL, 0},
	{"relaxed spf parent", B9, "mail.example.com", "example.com", NULL, NULL, DMARC_PASS, N_, DMARC_SRC_NONE, "example.com", 0},
	{"no alignment: p=reject", B9, "example.com", "evil.example", "evil.example", NULL, DMARC_FAIL, R_, DMARC_SRC_P, "example.com", 0},
	{"lookalike domain not aligned", B9, "example.com", "evil-example.com", NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_P, NULL, 0},
	{"existing subdomain: sp", B9, "mail.example.com", NULL, NULL, NULL, DMARC_FAIL, Q_, DMARC_SRC_SP, NULL, 0},
	{"unlisted subdomain: np", B9, "x.example.com", NULL, NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_NP, NULL, 0},
	{"nodata subdomain: np", B9, "nodata.example.com", NULL, NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_NP, NULL, 0},
	{"nxdomain subdomain: np", B9, "nope.example.com", NULL, NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_NP, NULL, 0},
	{"7489 mode ignores np", B7, "nope.example.com", NULL, NULL, NULL, DMARC_FAIL, Q_, DMARC_SRC_SP, "example.com", 2},
	{"psd=n subdomain is its own org", B9, "a.sub.example.com", NULL, "example.com", NULL, DMARC_FAIL, N_, DMARC_SRC_P, "sub.example.com", 0},
	{"psd=n: sibling not aligned", B9, "sub.example.com", "example.com", NULL, NULL, DMARC_FAIL, N_, DMARC_SRC_P, "sub.example.com", 0},
	{"7489 mode: sub aligned by PSL", B7, "sub.example.com", "example.com", NULL, NULL, DMARC_PASS, N_, DMARC_SRC_NONE, "example.com", 0},
	{"strict spf rejects subdomain", B9, "testing.example", "mail.testing.example", NULL, NULL, DMARC_FAIL, Q_, DMARC_SRC_P, NULL, 0},
	{"t=y lowers reject", B9, "testing.example", NULL, NULL, NULL, DMARC_FAIL, Q_, DMARC_SRC_P, NULL, 0},
	{"7489 mode: pct=0 lowers", B7, "testing.example", NULL, NULL, NULL, DMARC_FAIL, Q_, DMARC_SRC_P, NULL, 0},
	{"7489 pct=50 sample 10: applied", B7, "pct.example", NULL, NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_P, NULL, 0},
	{"bis ignores pct", B9, "pct.example", NULL, NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_P, NULL, 0},
	{"two records: none", B9, "two.example", NULL, NULL, NULL, DMARC_NONE, U_, DMARC_SRC_NONE, NULL, 0},
	{"invalid record: none", B9, "invalid.example", NULL, NULL, NULL, DMARC_NONE, U_, DMARC_SRC_NONE, NULL, 0},
	{"no record at all", B9, "nothing.example", "nothing.example", NULL, NULL, DMARC_NONE, U_, DMARC_SRC_NONE, NULL, 2},
	{"tempfail", B9, "flaky.example", NULL, NULL, NULL, DMARC_TEMPERROR, U_, DMARC_SRC_NONE, NULL, 1},
	{"psd policy reaches org", B9, "shop.psd", NULL, NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_P, "shop.psd", 2},
	{"psd: sibling orgs not aligned", B9, "bank.psd", "evil.psd", NULL, NULL, DMARC_FAIL, N_, DMARC_SRC_P, "bank.psd", 0},
	{"psd: subdomain of org aligned", B9, "bank.psd", "mail.bank.psd", NULL, NULL, DMARC_PASS, N_, DMARC_SRC_NONE, "bank.psd", 0},
	{"long name: 8 queries", B9, "a.b.c.d.e.f.g.h.i.nothing.example", NULL, NULL, NULL, DMARC_NONE, U_, DMARC_SRC_NONE, NULL, 8},
	{"co.uk neighbours (bis)", B9, "example.co.uk", "other.co.uk", NULL, NULL, DMARC_FAIL, Q_, DMARC_SRC_P, "example.co.uk", 0},
	{"co.uk subdomain (bis)", B9, "mail.example.co.uk", NULL, "example.co.uk", NULL, DMARC_PASS, N_, DMARC_SRC_NONE, "example.co.uk", 0},
	{"co.uk neighbours (7489)", B7, "example.co.uk", "other.co.uk", NULL, NULL, DMARC_FAIL, Q_, DMARC_SRC_P, "example.co.uk", 0},
	{"github.io neighbours (7489)", B7, "foo.github.io", "bar.github.io", NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_P, "foo.github.io", 0},
	{"github.io neighbours (bis)", B9, "foo.github.io", "bar.github.io", NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_P, "foo.github.io", 0},
	{"second dkim aligns", B9, "example.com", NULL, "evil.example", "example.com", DMARC_PASS, N_, DMARC_SRC_NONE, NULL, 0},
	{"7489: two records at the author domain end discovery", B7, "two.example.com", NULL, NULL, NULL, DMARC_NONE, U_, DMARC_SRC_NONE, NULL, 1},
	{"9989: two records discarded, the walk goes on", B9, "two.example.com", NULL, NULL, NULL, DMARC_FAIL, R_, DMARC_SRC_NP, NULL, 0},
	{"7489: no p, no rua at the author domain: none", B7, "nop.example.com", NULL, NULL, NULL, DMARC_NONE, U_, DMARC_SRC_NONE, NULL, 1},
	{"7489: bad sp, no rua: the record is invalid", B7, "badsp.example.com", NULL, NULL, NULL, DMARC_NONE, U_, DMARC_SRC_NONE, NULL, 1},
	{"7489: bad sp, valid rua: p=none", B7, "badsprua.example.com", NULL, NULL, NULL, DMARC_FAIL, N_, DMARC_SRC_P, NULL, 1},
	{"bad author domain", B9, "..", NULL, NULL, NULL, DMARC_PERMERROR, U_, DMARC_SRC_NONE, NULL, 0},
};

/* Run one evaluation against the zone. */
static const struct dmarc_result *run_eval(struct dmarc_eval **ep,
					   const struct dmarc_input *in,
					   const struct dmarc_config *cfg)
{
	struct dns_question q;
	struct dns_answer a;
	struct dns_rr rr[8];
	int rc, guard = 0;

	*ep = dmarc_eval_new(in, cfg);
	rc = dmarc_eval_step(*ep, NULL, &q);
	while (rc == DMARC_E_NEED_DNS && guard++ < 100) {
		zone_answer(zone, &q, &a, rr, 8);
		rc = dmarc_eval_step(*ep, &a, &q);
	}
	return dmarc_eval_result(*ep);
}

static void test_eval(void)
{
	size_t i;

	for (i = 0; i < sizeof(eval_rows) / sizeof(eval_rows[0]); i++) {
		const struct eval_row *w = &eval_rows[i];
		struct dmarc_input in;
		struct dmarc_config cfg;
		struct dmarc_eval *e;
		const struct dmarc_result *r;

		if (w->mode == B7 && psl == NULL)
			continue;
		memset(&in, 0, sizeof(in));
		dmarc_config_init(&cfg);
		cfg.mode = w->mode;
		cfg.psl = psl;
		in.author_domain = w->author;
		in.spf_domain = w->spf_domain;
		in.spf_pass = w->spf_domain != NULL;
		if (w->dkim1)
			in.dkim_domains[in.ndkim++] = w->dkim1;
		if (w->dkim2)
			in.dkim_domains[in.ndkim++] = w->dkim2;
		in.pct_sample = 10;
		r = run_eval(&e, &in, &cfg);
		ok(r->status == w->status && r->disposition == w->disposition &&
		   r->src == w->src,
		   "eval %s: %s disposition=%s src=%d (policy %s at %s, %u queries)",
		   w->label, dmarc_status_name(r->status),
		   dmarc_policy_name(r->disposition), r->src,
		   dmarc_policy_name(r->policy), r->policy_domain, r->queries);
		if (w->org)
			is_str(r->org_domain, w->org, "eval %s: org domain",
			       w->label);
		if (w->max_queries)
			ok(r->queries <= (unsigned)w->max_queries,
			   "eval %s: %u queries <= %d", w->label, r->queries,
			   w->max_queries);
		dmarc_eval_free(e);
	}
}

/* dmarc_from_addresses: the rows test-mailauth had for the milter's own
 * address reader (now one parser), then the tolerant edges. */
static const struct {
	const char *value;
	size_t n;
	const char *want[3];
} addrrows[] = {
	{ " Alice <Alice@Example.COM>", 1, { "alice@example.com" } },
	{ " a@x.example, \"Doe, John\" <j@y.example>", 2,
	  { "a@x.example", "j@y.example" } },
	{ " (comment, with@at) b@z.example", 1, { "b@z.example" } },
	{ " undisclosed-recipients:;", 0, { NULL } },
	{ " team: c@x.example, d@x.example;, e@x.example", 3,
	  { "c@x.example", "d@x.example", "e@x.example" } },
	{ " \"q@fake.example\" <real@x.example>", 1, { "real@x.example" } },
	{ " <>", 0, { NULL } },
	{ " a@x.example, b@, c@z.example", 1, { "a@x.example" } },
	{ " a@x.example, <b@y.example> (open", 1, { "a@x.example" } },
	{ " A (c) . B @ X.example", 1, { "a.b@x.example" } },
	{ " a@x.example, b@y.example, c@z.example, d@w.example", 4,
	  { "a@x.example", "b@y.example", "c@z.example" } },
};

static void test_addresses(void)
{
	size_t i, k, n;
	struct buf big;

	for (i = 0; i < sizeof(addrrows) / sizeof(addrrows[0]); i++) {
		char *out[3] = { 0 };
		const char *v = addrrows[i].value;

		n = dmarc_from_addresses(v, strlen(v), out, 3);
		is_int(n, addrrows[i].n, "addresses %s: count", v);
		for (k = 0; k < addrrows[i].n && k < n && k < 3; k++)
			is_str(out[k], addrrows[i].want[k], "addresses %s: %zu",
			       v, k);
		for (k = 0; k < 3; k++)
			free(out[k]);
	}
	/* More tokens than the tokenizer holds: the list before the cut. */
	buf_init(&big, 1 << 20);
	for (i = 0; i < 200; i++)
		buf_printf(&big, "%sU%zu <u%zu@x.example>", i ? ", " : "", i, i);
	{
		char *out[1] = { NULL };

		n = dmarc_from_addresses(big.p, big.len, out, 1);
		ok(n > 64 && n < 200, "addresses: 200 mailboxes past the "
		   "token limit give the first %zu", n);
		is_str(out[0], "u0@x.example", "addresses: past the token "
		       "limit, the first is kept");
		free(out[0]);
	}
	buf_deinit(&big);
}

int main(void)
{
	test_records();
	test_from();
	test_addresses();
	test_psl();
	test_psl_align();
	test_eval();
	dmarc_psl_free(psl);
	return tap_done();
}
