/*
 * test-domaincheck - the sans-I/O record checks of `mamori domain check`
 * (domaincheck_rec.c): one table per record kind, a label per row with
 * the RFC section the row exercises.  Each row names the finding code it
 * expects (with its severity), or one it must not produce.  DKIM keys are
 * made here with OpenSSL; the DNS walk is tested by
 * test/integration/t-domain.sh against a local zone server.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/domaincheck-internal.h"
#include "mail/dkim.h"
#include "tap.h"
#include "util/xalloc.h"

#define NONE (-1)	/* the code must not be found */

/* Does rep hold code with severity sev (NONE: is code absent)? */
static void expect(const struct domaincheck_report *rep, const char *code,
		   int sev, const char *label)
{
	const struct domaincheck_finding *f = domaincheck_find(rep, code);

	if (sev == NONE) {
		ok(f == NULL, "%s: no %s", label, code);
		return;
	}
	if (!ok(f && (int)f->sev == sev, "%s: %s %s", label,
		domaincheck_sev_name(sev), code))
		printf("#   %s\n", f ? f->text : "(not found)");
}

static const struct {
	const char *label;
	const char *txt[3];
	bool top;
	int pick;		/* index, -1 none, -2 several */
	const char *code;
	int sev;
} spf_pick_rows[] = {
	{ "one record among other TXT (7208 4.5)",
	  { "google-site-verification=x", "v=spf1 -all" }, true, 1,
	  "spf.multiple", NONE },
	{ "two records: permerror (7208 4.5)",
	  { "v=spf1 -all", "v=spf1 ~all" }, true, -2, "spf.multiple",
	  DOMAINCHECK_ERROR },
	{ "no record (7208 4.5: none)", { "hello" }, true, -1, "spf.missing",
	  DOMAINCHECK_ERROR },
	{ "include target without record (7208 5.2)", { NULL }, false, -1,
	  "spf.include_none", DOMAINCHECK_ERROR },
	{ "v=spf10 is not a record (7208 4.5)", { "v=spf10 -all" }, true, -1,
	  "spf.missing", DOMAINCHECK_ERROR },
};

static void test_spf_pick(void)
{
	size_t i, k;

	for (i = 0; i < sizeof(spf_pick_rows) / sizeof(spf_pick_rows[0]);
	     i++) {
		struct domaincheck_report rep;
		size_t len[3], n = 0;

		for (k = 0; k < 3 && spf_pick_rows[i].txt[k]; k++, n++)
			len[k] = strlen(spf_pick_rows[i].txt[k]);
		domaincheck_report_init(&rep, "example.test");
		is_int(domaincheck_spf_pick(&rep, "example.test",
					    spf_pick_rows[i].txt, len, n,
					    spf_pick_rows[i].top),
		       spf_pick_rows[i].pick, "%s: index",
		       spf_pick_rows[i].label);
		expect(&rep, spf_pick_rows[i].code, spf_pick_rows[i].sev,
		       spf_pick_rows[i].label);
		domaincheck_report_deinit(&rep);
	}
}

static const struct {
	const char *label;
	const char *record;	/* NULL: a long one made in the test */
	int rc;
	unsigned terms;
	const char *code;
	int sev;
} spf_rows[] = {
	{ "-all, ip4 only: clean (7208 5.1)", "v=spf1 ip4:192.0.2.0/24 -all",
	  0, 0, "spf.pass_all", NONE },
	{ "+all passes everyone (7208 5.1)", "v=spf1 +all", 0, 0,
	  "spf.pass_all", DOMAINCHECK_ERROR },
	{ "bare all is +all (7208 4.6.2)", "v=spf1 mx all", 0, 1,
	  "spf.pass_all", DOMAINCHECK_ERROR },
	{ "?all is neutral (7208 8.2)", "v=spf1 a ?all", 0, 1,
	  "spf.neutral_all", DOMAINCHECK_WARNING },
	{ "no all, no redirect: neutral (7208 4.7)", "v=spf1 a mx", 0, 2,
	  "spf.no_all", DOMAINCHECK_WARNING },
	{ "redirect instead of all (7208 6.1)",
	  "v=spf1 redirect=_spf.example.test", 0, 1, "spf.no_all", NONE },
	{ "ptr is deprecated (7208 5.5)", "v=spf1 ptr -all", 0, 1,
	  "spf.ptr", DOMAINCHECK_WARNING },
	{ "unknown mechanism: permerror (7208 4.6.1)",
	  "v=spf1 ipv4:192.0.2.1 -all", -1, 0, "spf.syntax",
	  DOMAINCHECK_ERROR },
	{ "bad CIDR: permerror (7208 5.6)", "v=spf1 ip4:192.0.2.0/33 -all",
	  -1, 0, "spf.syntax", DOMAINCHECK_ERROR },
	{ "redirect twice: permerror (7208 6)",
	  "v=spf1 redirect=a.test redirect=b.test", -1, 0, "spf.syntax",
	  DOMAINCHECK_ERROR },
	{ "terms counted: include a mx ptr exists redirect (7208 4.6.4)",
	  "v=spf1 include:a.test a mx ptr exists:%{i}.x.test ip4:192.0.2.1 "
	  "redirect=b.test", 0, 6, "spf.ptr", DOMAINCHECK_WARNING },
	{ "redirect beside all is ignored (7208 6.1)",
	  "v=spf1 mx redirect=r.test -all", 0, 1, "spf.no_all", NONE },
	{ "over 512 octets: TCP (7208 3.4)", NULL, 0, 0, "spf.too_long",
	  DOMAINCHECK_WARNING },
	{ "over 255 octets: several strings (7208 3.3)",
	  "v=spf1 ip4:192.0.2.1 ip4:192.0.2.2 ip4:192.0.2.3 ip4:192.0.2.4 "
	  "ip4:192.0.2.5 ip4:192.0.2.6 ip4:192.0.2.7 ip4:192.0.2.8 "
	  "ip4:192.0.2.9 ip4:192.0.2.10 ip4:192.0.2.11 ip4:192.0.2.12 "
	  "ip4:192.0.2.13 ip4:192.0.2.14 ip4:192.0.2.15 ip4:192.0.2.16 "
	  "ip4:192.0.2.17 ip4:192.0.2.18 ip4:192.0.2.19 ip4:192.0.2.20 "
	  "-all", 0, 0, "spf.split", DOMAINCHECK_INFO },
};

static void test_spf_record(void)
{
	static struct spf_lint lint;
	char longrec[700];
	size_t i;

	snprintf(longrec, sizeof(longrec), "v=spf1");
	for (i = 0; strlen(longrec) < 600; i++)
		snprintf(longrec + strlen(longrec),
			 sizeof(longrec) - strlen(longrec),
			 " ip4:198.51.100.%zu", i);
	snprintf(longrec + strlen(longrec), sizeof(longrec) - strlen(longrec),
		 " -all");
	for (i = 0; i < sizeof(spf_rows) / sizeof(spf_rows[0]); i++) {
		struct domaincheck_report rep;
		const char *r = spf_rows[i].record ? spf_rows[i].record :
				longrec;

		domaincheck_report_init(&rep, "example.test");
		is_int(domaincheck_spf_record(&rep, "example.test", r,
					      strlen(r), true, &lint),
		       spf_rows[i].rc, "%s: rc", spf_rows[i].label);
		if (spf_rows[i].rc == 0)
			is_int(lint.dns_terms, spf_rows[i].terms,
			       "%s: DNS terms", spf_rows[i].label);
		expect(&rep, spf_rows[i].code, spf_rows[i].sev,
		       spf_rows[i].label);
		domaincheck_report_deinit(&rep);
	}
	/* what the walk follows: literal targets, macros counted apart */
	{
		struct domaincheck_report rep;
		const char *r = "v=spf1 include:a.test include:%{d}.b.test "
				"a:c.test. mx exists:e.test redirect=r.test";

		domaincheck_report_init(&rep, "example.test");
		domaincheck_spf_record(&rep, "example.test", r, strlen(r),
				       false, &lint);
		is_int(lint.ninclude, 1, "lint: one literal include (7208 5.2)");
		is_str(lint.include[0], "a.test", "lint: include target");
		is_int(lint.nskipped, 1, "lint: the macro include skipped (7208 7)");
		is_int(lint.nquery, 3, "lint: a, mx, exists names (7208 4.6.4 voids)");
		is_str(lint.query[0].name, "c.test", "lint: trailing dot dropped");
		is_str(lint.query[1].name, "", "lint: mx on the record's domain");
		is_str(lint.redirect, "r.test", "lint: redirect target (7208 6.1)");
		expect(&rep, "spf.no_all", NONE, "lint: not top, all not judged");
		domaincheck_report_deinit(&rep);
	}
}

static const struct {
	const char *label;
	unsigned lookups, voids;
	const char *code;
	int sev;
} spf_total_rows[] = {
	{ "10 lookups is the limit (7208 4.6.4)", 10, 0,
	  "spf.too_many_lookups", NONE },
	{ "10 lookups: near the limit", 10, 0, "spf.lookups_near_limit",
	  DOMAINCHECK_WARNING },
	{ "11 lookups: permerror (7208 4.6.4)", 11, 0,
	  "spf.too_many_lookups", DOMAINCHECK_ERROR },
	{ "4 lookups: a note", 4, 0, "spf.lookups", DOMAINCHECK_INFO },
	{ "2 void lookups allowed (7208 4.6.4)", 3, 2,
	  "spf.too_many_voids", NONE },
	{ "3 void lookups: permerror (7208 4.6.4)", 3, 3,
	  "spf.too_many_voids", DOMAINCHECK_ERROR },
	{ "1 void lookup: warned", 3, 1, "spf.void_lookup",
	  DOMAINCHECK_WARNING },
};

static void test_spf_totals(void)
{
	size_t i;

	for (i = 0; i < sizeof(spf_total_rows) / sizeof(spf_total_rows[0]);
	     i++) {
		struct domaincheck_report rep;

		domaincheck_report_init(&rep, "example.test");
		domaincheck_spf_totals(&rep, spf_total_rows[i].lookups,
				       spf_total_rows[i].voids, 0);
		expect(&rep, spf_total_rows[i].code, spf_total_rows[i].sev,
		       spf_total_rows[i].label);
		domaincheck_report_deinit(&rep);
	}
}

static const struct {
	const char *label;
	const char *txt[2];
	int rc;
	const char *code;
	int sev;
} dmarc_rows[] = {
	{ "reject with rua: clean (9989 4.7)",
	  { "v=DMARC1; p=reject; rua=mailto:d@example.test" }, 0,
	  "dmarc.p_none", NONE },
	{ "p=none only monitors (9989 4.7)",
	  { "v=DMARC1; p=none; rua=mailto:d@example.test" }, 0,
	  "dmarc.p_none", DOMAINCHECK_WARNING },
	{ "no rua: no reports (9989 4.7)", { "v=DMARC1; p=reject" }, 0,
	  "dmarc.no_rua", DOMAINCHECK_WARNING },
	{ "sp weaker than p (9989 4.7)",
	  { "v=DMARC1; p=reject; sp=none; rua=mailto:d@example.test" }, 0,
	  "dmarc.sp_weaker", DOMAINCHECK_WARNING },
	{ "np weaker than sp (9989 4.7)",
	  { "v=DMARC1; p=reject; np=none; rua=mailto:d@example.test" }, 0,
	  "dmarc.np_weaker", DOMAINCHECK_WARNING },
	{ "pct under 100 (7489 6.3)",
	  { "v=DMARC1; p=quarantine; pct=20; rua=mailto:d@example.test" }, 0,
	  "dmarc.pct", DOMAINCHECK_WARNING },
	{ "t=y lowers the policy (9989 4.7)",
	  { "v=DMARC1; p=reject; t=y; rua=mailto:d@example.test" }, 0,
	  "dmarc.testing", DOMAINCHECK_WARNING },
	{ "strict alignment (9989 4.7 adkim/aspf)",
	  { "v=DMARC1; p=reject; adkim=s; rua=mailto:d@example.test" }, 0,
	  "dmarc.strict", DOMAINCHECK_INFO },
	{ "unknown tag ignored (9989 4.7)",
	  { "v=DMARC1; p=reject; foo=bar; rua=mailto:d@example.test" }, 0,
	  "dmarc.unknown_tag", DOMAINCHECK_WARNING },
	{ "two records: no policy (7489 6.6.3)",
	  { "v=DMARC1; p=reject", "v=DMARC1; p=none" }, -1,
	  "dmarc.multiple", DOMAINCHECK_ERROR },
	{ "no p and no rua: invalid (9989 4.7)", { "v=DMARC1; sp=reject" },
	  -1, "dmarc.invalid", DOMAINCHECK_ERROR },
	{ "no DMARC record (9989 4.10)", { "v=spf1 -all" }, 1,
	  "dmarc.missing", DOMAINCHECK_ERROR },
	{ "no p, valid rua: acts as p=none (9989 4.7)",
	  { "v=DMARC1; rua=mailto:d@example.test" }, 0, "dmarc.no_p",
	  DOMAINCHECK_ERROR },
};

static void test_dmarc(void)
{
	size_t i, k;

	for (i = 0; i < sizeof(dmarc_rows) / sizeof(dmarc_rows[0]); i++) {
		struct domaincheck_report rep;
		struct dmarc_record r;
		size_t len[2], n = 0;

		for (k = 0; k < 2 && dmarc_rows[i].txt[k]; k++, n++)
			len[k] = strlen(dmarc_rows[i].txt[k]);
		domaincheck_report_init(&rep, "example.test");
		is_int(domaincheck_dmarc_pick(&rep, "_dmarc.example.test",
					      dmarc_rows[i].txt, len, n, true,
					      &r),
		       dmarc_rows[i].rc, "%s: rc", dmarc_rows[i].label);
		if (dmarc_rows[i].rc == 0)
			domaincheck_dmarc_policy(&rep, &r, false);
		expect(&rep, dmarc_rows[i].code, dmarc_rows[i].sev,
		       dmarc_rows[i].label);
		domaincheck_report_deinit(&rep);
	}
}

static void test_report_uris(void)
{
	char host[4][254];
	struct domaincheck_report rep;
	const char *auth[] = { "v=DMARC1" }, *junk[] = { "v=spf1 -all" };
	size_t len1[] = { 8 }, len2[] = { 11 };

	is_int(domaincheck_uri_hosts("mailto:a@Reports.Example.NET!10m, "
				     "https://x.test/r ,mailto:b@ex.test",
				     host, 4), 2,
	       "rua hosts: mailto only, size suffix cut (7489 6.4)");
	is_str(host[0], "reports.example.net", "rua host lowercased");
	is_str(host[1], "ex.test", "second rua host");
	is_int(domaincheck_uri_hosts("", host, 4), 0, "rua: empty list");

	domaincheck_report_init(&rep, "shop.test");
	domaincheck_dmarc_auth(&rep, "rua", "rep.test", auth, len1, 1);
	expect(&rep, "dmarc.report_authorized", DOMAINCHECK_INFO,
	       "external rua authorised (9990, 7489 7.1)");
	domaincheck_report_deinit(&rep);
	domaincheck_report_init(&rep, "shop.test");
	domaincheck_dmarc_auth(&rep, "rua", "rep.test", junk, len2, 1);
	expect(&rep, "dmarc.report_unauthorized", DOMAINCHECK_ERROR,
	       "external rua without v=DMARC1 (7489 7.1)");
	domaincheck_report_deinit(&rep);
	domaincheck_report_init(&rep, "shop.test");
	domaincheck_dmarc_auth(&rep, "rua", "rep.test", NULL, NULL, 0);
	expect(&rep, "dmarc.report_unauthorized", DOMAINCHECK_ERROR,
	       "external rua, NXDOMAIN (7489 7.1)");
	domaincheck_report_deinit(&rep);
}

/* A new key: "rsa" with bits, or "ed25519". */
static EVP_PKEY *make_key(const char *type, int bits)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pk = NULL;

	if (c && EVP_PKEY_keygen_init(c) == 1 &&
	    (bits == 0 || EVP_PKEY_CTX_set_rsa_keygen_bits(c, bits) == 1))
		EVP_PKEY_keygen(c, &pk);
	EVP_PKEY_CTX_free(c);
	return pk;
}

/* The key record of pk: "v=DKIM1; k=..; p=BASE64" + extra; malloc'd. */
static char *record(EVP_PKEY *pk, const char *extra)
{
	unsigned char der[4096], *p = der, raw[32];
	char b64[6000];
	size_t rl = sizeof(raw);
	int n;
	bool ed = EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519;

	if (ed) {
		EVP_PKEY_get_raw_public_key(pk, raw, &rl);
		n = EVP_EncodeBlock((unsigned char *)b64, raw, (int)rl);
	} else {
		n = i2d_PUBKEY(pk, &p);
		n = EVP_EncodeBlock((unsigned char *)b64, der, n);
	}
	b64[n] = '\0';
	return xasprintf("v=DKIM1; k=%s;%s p=%s", ed ? "ed25519" : "rsa",
			 extra, b64);
}

static void test_dkim(void)
{
	EVP_PKEY *k2048 = make_key("RSA", 2048), *k1024 = make_key("RSA", 1024),
		 *k512 = make_key("RSA", 512), *ked = make_key("ED25519", 0),
		 *other = make_key("RSA", 2048);
	unsigned char disk[DKIM_MAX_KEY], diskd[64];
	size_t dl = 0, edl = 0;
	int bits;

	if (!ok(k2048 && k1024 && ked && other, "test keys made"))
		return;
	dkim_key_public(k2048, disk, sizeof(disk), &dl, &bits);
	dkim_key_public(ked, diskd, sizeof(diskd), &edl, &bits);
	struct {
		const char *label;
		char *txt;
		const unsigned char *disk;
		size_t dl;
		int rc;
		const char *code;
		int sev;
	} rows[] = {
		{ "the key on disk is published (6376 3.6.1)",
		  record(k2048, ""), disk, dl, 0, "dkim.key_ok",
		  DOMAINCHECK_INFO },
		{ "Ed25519 key on disk (8463 4.2)", record(ked, ""), diskd,
		  edl, 0, "dkim.key_ok", DOMAINCHECK_INFO },
		{ "another key published: mismatch (6376 3.6.1)",
		  record(other, ""), disk, dl, -1, "dkim.key_mismatch",
		  DOMAINCHECK_ERROR },
		{ "t=y testing flag (6376 3.6.1)", record(k2048, " t=y;"),
		  disk, dl, 0, "dkim.testing", DOMAINCHECK_WARNING },
		{ "RSA 1024: under 2048 (8301 3.2)", record(k1024, ""), NULL,
		  0, 0, "dkim.key_small", DOMAINCHECK_WARNING },
		{ "RSA 512: refused (8301 3.2)",
		  k512 ? record(k512, "") : xstrdup("v=DKIM1; p=AAAA"), NULL,
		  0, -1, k512 ? "dkim.key_too_small" : "dkim.key_bad",
		  DOMAINCHECK_ERROR },
		{ "p= empty: revoked (6376 3.6.1)",
		  xstrdup("v=DKIM1; k=rsa; p="), disk, dl, -1,
		  "dkim.key_revoked", DOMAINCHECK_ERROR },
		{ "not base64: bad key (6376 3.6.1)",
		  xstrdup("v=DKIM1; k=rsa; p=!!!"), NULL, 0, -1,
		  "dkim.key_syntax", DOMAINCHECK_ERROR },
		{ "no record: every signature fails (6376 6.1.2)", NULL, disk,
		  dl, -1, "dkim.key_missing", DOMAINCHECK_ERROR },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct domaincheck_report rep;
		const char *t[1] = { rows[i].txt };
		size_t len[1] = { rows[i].txt ? strlen(rows[i].txt) : 0 };

		domaincheck_report_init(&rep, "example.test");
		is_int(domaincheck_dkim_key(&rep, "sel", t, len,
					    rows[i].txt ? 1 : 0, rows[i].disk,
					    rows[i].dl),
		       rows[i].rc, "%s: rc", rows[i].label);
		expect(&rep, rows[i].code, rows[i].sev, rows[i].label);
		domaincheck_report_deinit(&rep);
		free(rows[i].txt);
	}
	EVP_PKEY_free(k2048);
	EVP_PKEY_free(k1024);
	EVP_PKEY_free(k512);
	EVP_PKEY_free(ked);
	EVP_PKEY_free(other);
}

static void test_advice(void)
{
	struct domaincheck_sources good = { .window_days = 30,
					    .report_days = 30 };
	struct domaincheck_sources young, bad, nomail = { .window_days = 30,
							  .report_days = 20 };
	struct domaincheck_report rep;

	good.cls[DOMAINCHECK_SRC_OURS].messages = 10000;
	good.cls[DOMAINCHECK_SRC_OURS].aligned = 9900;
	good.cls[DOMAINCHECK_SRC_FORGERS].messages = 500;
	young = good;
	young.report_days = 5;
	bad = good;
	bad.cls[DOMAINCHECK_SRC_OURS].aligned = 9000;
	bad.nfailing = 1;
	snprintf(bad.failing[0].source, sizeof(bad.failing[0].source),
		 "203.0.113.0/24");
	bad.failing[0].cls = DOMAINCHECK_SRC_OURS;
	bad.failing[0].messages = 1000;
	nomail.cls[DOMAINCHECK_SRC_FORGERS].messages = 30;
	struct {
		const char *label;
		enum dmarc_policy p;
		const struct domaincheck_sources *src;
		const char *code;
		int sev;
	} rows[] = {
		{ "no reports: publish rua first", DMARC_P_NONE, NULL,
		  "advice.no_reports", DOMAINCHECK_WARNING },
		{ "99 % aligned over 30 days: quarantine is safe",
		  DMARC_P_NONE, &good, "advice.tighten", DOMAINCHECK_INFO },
		{ "99 % over 30 days at quarantine: reject is safe",
		  DMARC_P_QUARANTINE, &good, "advice.tighten",
		  DOMAINCHECK_INFO },
		{ "5 days of reports: wait", DMARC_P_NONE, &young,
		  "advice.wait", DOMAINCHECK_INFO },
		{ "90 % aligned: not yet", DMARC_P_NONE, &bad,
		  "advice.not_yet", DOMAINCHECK_WARNING },
		{ "a failing source of ours is named", DMARC_P_NONE, &bad,
		  "advice.failing_source", DOMAINCHECK_WARNING },
		{ "no own mail in the reports", DMARC_P_NONE, &nomail,
		  "advice.no_own_mail", DOMAINCHECK_WARNING },
		{ "already reject: no advice", DMARC_P_REJECT, &good,
		  "advice.tighten", NONE },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		domaincheck_report_init(&rep, "shop.test");
		domaincheck_advice(&rep, rows[i].p, rows[i].src);
		expect(&rep, rows[i].code, rows[i].sev, rows[i].label);
		domaincheck_report_deinit(&rep);
	}
}

int main(void)
{
	test_spf_pick();
	test_spf_record();
	test_spf_totals();
	test_dmarc();
	test_report_uris();
	test_dkim();
	test_advice();
	return tap_done();
}
