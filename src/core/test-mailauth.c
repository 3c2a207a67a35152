/*
 * test-mailauth - the inbound decision (core/mailauth.c) against a
 * dns_stub zone: SPF, DKIM (messages signed here with a fresh RSA key),
 * DMARC alignment and policy, multiple From, forged Authentication-Results,
 * DNS timeouts and the override lists.  Table-driven, one label per row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dns/dns_stub.h"
#include "core/mailauth.h"
#include "mail/dkim.h"
#include "tap.h"
#include "util/buf.h"
#include "util/xalloc.h"

static EVP_PKEY *key;

/* base64 of n bytes, malloc'd. */
static char *b64(const unsigned char *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* The TXT key record for key. */
static char *key_record(void)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);
	char *p = b64(der, (size_t)n);
	char *rec = xasprintf("v=DKIM1; k=rsa; p=%s", p);

	OPENSSL_free(der);
	free(p);
	return rec;
}

/* Split "Name: value" at the colon; value keeps its leading space. */
static void split(const char *h, char *name, size_t nsz, const char **value)
{
	const char *c = strchr(h, ':');

	snprintf(name, nsz, "%.*s", (int)(c - h), h);
	*value = c + 1;
}

/*
 * A DKIM-Signature value (relaxed/relaxed, rsa-sha256, d=domain s=sel,
 * h=every header given) over headers and body; malloc'd.
 */
static char *sign(const char *domain, const char *const *hdrs,
		  const char *body)
{
	struct dkim_body cb;
	struct buf h, hl;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char bh[32], sig[1024];
	unsigned bhn = 0;
	size_t sn = sizeof(sig), i;
	char name[64], *bh64, *v, *b;
	const char *val;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	dkim_body_init(&cb, DKIM_C_RELAXED, false, 0, md, NULL);
	dkim_body_feed(&cb, body, strlen(body));
	dkim_body_end(&cb);
	EVP_DigestFinal_ex(md, bh, &bhn);
	bh64 = b64(bh, bhn);
	buf_init(&hl, 4096);
	buf_init(&h, 65536);
	for (i = 0; hdrs[i]; i++) {
		split(hdrs[i], name, sizeof(name), &val);
		buf_printf(&hl, "%s%s", i ? ":" : "", name);
		dkim_canon_header(&h, DKIM_C_RELAXED, name, strlen(name), val,
				  strlen(val), true);
	}
	v = xasprintf(" v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=sel;"
		      " t=%lld; h=%s; bh=%s; b=", domain,
		      (long long)time(NULL), hl.p, bh64);
	dkim_canon_header(&h, DKIM_C_RELAXED, "DKIM-Signature", 14, v,
			  strlen(v), false);
	EVP_MD_CTX_reset(md);
	EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key);
	EVP_DigestSign(md, sig, &sn, (unsigned char *)h.p, h.len);
	b = b64(sig, sn);
	val = v;
	v = xasprintf("%s%s", val, b);
	free((char *)val);
	free(b);
	free(bh64);
	buf_deinit(&h);
	buf_deinit(&hl);
	EVP_MD_CTX_free(md);
	return v;
}

/* The zone every case uses. */
static struct dns_stub *zone(void)
{
	struct dns_stub *z = dns_stub_new();
	char *rec = key_record();
	static const char *const txt[][2] = {
		{ "pass.example", "v=spf1 ip4:192.0.2.1 -all" },
		{ "_dmarc.pass.example", "v=DMARC1; p=reject" },
		{ "signed.example", "v=spf1 -all" },
		{ "_dmarc.signed.example", "v=DMARC1; p=reject" },
		{ "quar.example", "v=spf1 -all" },
		{ "_dmarc.quar.example", "v=DMARC1; p=quarantine" },
		{ "none.example", "v=spf1 -all" },
		{ "_dmarc.none.example", "v=DMARC1; p=none" },
		{ "soft.example", "v=spf1 ~all" },
		{ "override.example", "v=spf1 -all" },
		{ "_dmarc.override.example", "v=DMARC1; p=reject" },
		{ "relay.example", "v=spf1 ip4:192.0.2.0/24 -all" },
		{ "nospf.example", "just text" },
		{ "_dmarc.testing.example", "v=DMARC1; p=reject; t=y" },
	};
	size_t i;

	for (i = 0; i < sizeof(txt) / sizeof(txt[0]); i++)
		dns_stub_add(z, txt[i][0], DNS_T_TXT, txt[i][1]);
	dns_stub_add(z, "sel._domainkey.signed.example", DNS_T_TXT, rec);
	dns_stub_add(z, "slow.example", DNS_T_A, "192.0.2.99");
	dns_stub_timeout(z, "slow.example", 0);
	dns_stub_timeout(z, "_dmarc.slow.example", 0);
	free(rec);
	return z;
}

struct row {
	const char *label;
	const char *ip, *mailfrom;
	const char *from;		/* From value(s), '|' separates fields */
	const char *sign_domain;	/* NULL: unsigned */
	bool dns_accept;
	bool forged_ar;
	enum mailauth_action action;
	const char *spf, *dkim, *dmarc;
	const char *ar_has;		/* substring of the AR value */
	const char *reply_has;		/* substring of the reply, or NULL */
};

static const struct row rows[] = {
	{ "spf pass, dmarc pass via spf alignment", "192.0.2.1",
	  "a@pass.example", "A <a@pass.example>", NULL, false, false,
	  MAILAUTH_ACCEPT, "pass", "none", "pass",
	  "spf=pass smtp.mailfrom=a@pass.example", NULL },
	{ "spf fail, p=reject: refused 5.7.1", "198.51.100.7",
	  "a@pass.example", "a@pass.example", NULL, false, false,
	  MAILAUTH_REJECT, "fail", "none", "fail", "dmarc=fail (p=reject",
	  "DMARC policy of pass.example rejects mail that fails "
	  "authentication (SPF=fail, DKIM=none)" },
	{ "spf softfail, no dmarc record: accept", "198.51.100.7",
	  "a@soft.example", "a@soft.example", NULL, false, false,
	  MAILAUTH_ACCEPT, "softfail", "none", "none", "spf=softfail", NULL },
	{ "spf none (no record), no dmarc: accept", "198.51.100.7",
	  "a@nospf.example", "a@nospf.example", NULL, false, false,
	  MAILAUTH_ACCEPT, "none", "none", "none", "spf=none", NULL },
	{ "dkim pass, dmarc pass via dkim alignment", "198.51.100.7",
	  "bounce@relay.example", "<ceo@signed.example>", "signed.example",
	  false, false, MAILAUTH_ACCEPT, "fail", "pass", "pass",
	  "dkim=pass header.d=signed.example", NULL },
	{ "dkim signed by another domain: no alignment, reject",
	  "198.51.100.7", "x@relay.example", "pass@pass.example",
	  "signed.example", false, false, MAILAUTH_REJECT, "fail", "pass",
	  "fail", "dmarc=fail", "DKIM=pass" },
	{ "spf pass but unaligned relay: fail, reject", "192.0.2.9",
	  "x@relay.example", "a@pass.example", NULL, false, false,
	  MAILAUTH_REJECT, "pass", "none", "fail", "spf=pass", "SPF=pass" },
	{ "p=quarantine: hold", "198.51.100.7", "a@quar.example",
	  "a@quar.example", NULL, false, false, MAILAUTH_QUARANTINE, "fail",
	  "none", "fail", "dmarc=fail (p=quarantine", NULL },
	{ "p=none: accept", "198.51.100.7", "a@none.example",
	  "a@none.example", NULL, false, false, MAILAUTH_ACCEPT, "fail",
	  "none", "fail", "dmarc=fail (p=none", NULL },
	{ "two From fields: never pass", "192.0.2.1", "a@pass.example",
	  "a@pass.example|b@other.example", NULL, false, false,
	  MAILAUTH_REJECT, "pass", "none", "fail", "multiple", "From" },
	{ "two From fields, both aligned: still not pass", "192.0.2.1",
	  "a@pass.example", "a@pass.example|a@pass.example", NULL, false,
	  false, MAILAUTH_REJECT, "pass", "none", "fail", "dmarc=fail",
	  NULL },
	{ "forged AR with our id is removed", "192.0.2.1", "a@pass.example",
	  "a@pass.example", NULL, false, true, MAILAUTH_ACCEPT, "pass",
	  "none", "pass", "dmarc=pass", NULL },
	{ "dns timeout: tempfail 4.7.0", "198.51.100.7", "a@slow.example",
	  "a@slow.example", NULL, false, false, MAILAUTH_TEMPFAIL,
	  "temperror", "none", "temperror", "spf=temperror",
	  "Temporary DNS failure" },
	{ "dns timeout, dns_failure_action=accept", "198.51.100.7",
	  "a@slow.example", "a@slow.example", NULL, true, false,
	  MAILAUTH_ACCEPT, "temperror", "none", "temperror",
	  "dmarc=temperror", NULL },
	{ "override domain: quarantined, not rejected", "198.51.100.7",
	  "a@override.example", "a@override.example", NULL, false, false,
	  MAILAUTH_QUARANTINE, "fail", "none", "fail", "dmarc=fail", NULL },
	{ "trusted forwarder: quarantined, not rejected", "203.0.113.5",
	  "a@pass.example", "a@pass.example", NULL, false, false,
	  MAILAUTH_QUARANTINE, "fail", "none", "fail", "dmarc=fail", NULL },
	{ "null sender: spf on helo", "198.51.100.7", "",
	  "a@none.example", NULL, false, false, MAILAUTH_ACCEPT, "none",
	  "none", "fail", "smtp.helo=mx.sender.example", NULL },
};

/* Show a generated header as a TAP comment, one line per fold. */
static void diag_header(const char *name, const char *v)
{
	printf("# %s:", name);
	for (; v && *v; v++) {
		if (*v == '\n')
			printf("\n#   ");
		else if (*v != '\t')
			putchar(*v);
	}
	putchar('\n');
}

/* Run one row. */
static void run_row(const struct row *r, struct dns_stub *z)
{
	struct mailauth_config cfg = {
		.authserv_id = "mx.test",
		.receiver = "mx.test",
		.dns_fail_accept = r->dns_accept,
		.override_domains = "override.example, lists.example",
		.trusted_forwarders = "203.0.113.0/24",
	};
	const char *body = "Hello.\r\n\r\nThis is the body.\r\n";
	const char *hdrs[12];
	char *owned[12] = { 0 };
	size_t nh = 0, i;
	const struct mailauth_verdict *v;
	struct mailauth *m = mailauth_new(&cfg);
	char *fromcopy = xstrdup(r->from), *tok, *save = NULL;
	bool found_del = false;

	if (r->forged_ar) {
		hdrs[nh++] = "Authentication-Results: elsewhere.example; spf=fail";
		hdrs[nh++] = "Authentication-Results: mx.test; dkim=pass "
			     "header.d=pass.example; dmarc=pass";
	}
	for (tok = strtok_r(fromcopy, "|", &save); tok;
	     tok = strtok_r(NULL, "|", &save)) {
		owned[nh] = xasprintf("From: %s", tok);
		hdrs[nh] = owned[nh];
		nh++;
	}
	hdrs[nh++] = "To: bob@mx.test";
	hdrs[nh++] = "Subject: test\n\tfolded with a bare LF";
	hdrs[nh++] = "Message-ID: <1@x>";
	hdrs[nh] = NULL;
	mailauth_envelope(m, r->ip, "mx.sender.example", r->mailfrom);
	if (r->sign_domain) {
		char *sig;
		/* Sign what the verifier will see: bare LF becomes CRLF. */
		const char *sh[12];

		for (i = 0; i < nh; i++)
			sh[i] = strcmp(hdrs[i], hdrs[nh - 2]) == 0 ?
				"Subject: test\r\n\tfolded with a bare LF" :
				hdrs[i];
		sh[nh] = NULL;
		sig = sign(r->sign_domain, sh, body);
		mailauth_header(m, "DKIM-Signature", sig, strlen(sig));
		free(sig);
	}
	for (i = 0; i < nh; i++) {
		char name[64];
		const char *val;

		split(hdrs[i], name, sizeof(name), &val);
		mailauth_header(m, name, val, strlen(val));
	}
	/* Body in awkward pieces, CR and LF split apart. */
	mailauth_body(m, body, 7);
	mailauth_body(m, body + 7, 1);
	mailauth_body(m, body + 8, strlen(body) - 8);
	v = mailauth_end(m, dns_stub_resolver(z));
	diag_header("Authentication-Results", v->ar);
	diag_header("Received-SPF", v->received_spf);
	is_str(mailauth_action_name(v->action),
	       mailauth_action_name(r->action), "%s: action", r->label);
	is_str(v->spf_result, r->spf, "%s: spf", r->label);
	is_str(v->dkim_result, r->dkim, "%s: dkim", r->label);
	is_str(v->dmarc_result, r->dmarc, "%s: dmarc", r->label);
	if (!ok(v->ar && strncmp(v->ar, "mx.test;", 8) == 0 &&
		strstr(v->ar, r->ar_has), "%s: AR has %s", r->label, r->ar_has))
		printf("#   AR: %s\n", v->ar ? v->ar : "(null)");
	if (r->reply_has) {
		if (!ok(v->reply && strstr(v->reply, r->reply_has),
			"%s: reply has %s", r->label, r->reply_has))
			printf("#   reply: %s\n", v->reply ? v->reply : "(null)");
	}
	if (r->action == MAILAUTH_REJECT) {
		is_str(v->rcode, "550", "%s: 550", r->label);
		is_str(v->xcode, "5.7.1", "%s: 5.7.1", r->label);
	} else if (r->action == MAILAUTH_TEMPFAIL) {
		is_str(v->rcode, "451", "%s: 451", r->label);
		is_str(v->xcode, "4.7.0", "%s: 4.7.0", r->label);
	}
	for (i = 0; i < v->ndel; i++)
		if (strcmp(v->del[i].name, "Authentication-Results") == 0 &&
		    v->del[i].index == 2)
			found_del = true;
	is_int(v->ndel, r->forged_ar ? 1 : 0, "%s: forged AR count", r->label);
	if (r->forged_ar)
		ok(found_del, "%s: the 2nd AR field is deleted", r->label);
	is_int(v->received_spf != NULL, 1, "%s: Received-SPF", r->label);
	mailauth_free(m);
	for (i = 0; i < 12; i++)
		free(owned[i]);
	free(fromcopy);
}

/* Actions other than the defaults for reject and quarantine. */
static void test_actions(struct dns_stub *z)
{
	struct mailauth_config cfg = { .authserv_id = "mx.test" };
	const struct mailauth_verdict *v;
	struct mailauth *m;
	static const char f[] = " a@quar.example";
	static const char g[] = " a@pass.example";

	cfg.quarantine_action = MAILAUTH_QA_TAG;
	m = mailauth_new(&cfg);
	mailauth_envelope(m, "198.51.100.7", "h.example", "a@quar.example");
	mailauth_header(m, "From", f, strlen(f));
	v = mailauth_end(m, dns_stub_resolver(z));
	is_str(mailauth_action_name(v->action), "accept", "tag: accepted");
	is_str(v->tag_name, "X-Mamori-DMARC", "tag: header name");
	ok(v->tag_value && strstr(v->tag_value, "quarantine"),
	   "tag: header value");
	mailauth_free(m);

	cfg.quarantine_action = MAILAUTH_QA_HOLD;
	cfg.reject_action = MAILAUTH_RA_QUARANTINE;
	m = mailauth_new(&cfg);
	mailauth_envelope(m, "198.51.100.7", "h.example", "a@pass.example");
	mailauth_header(m, "From", g, strlen(g));
	v = mailauth_end(m, dns_stub_resolver(z));
	is_str(mailauth_action_name(v->action), "quarantine",
	       "dmarc_reject_action=quarantine");
	mailauth_free(m);

	cfg.reject_action = MAILAUTH_RA_NONE;
	m = mailauth_new(&cfg);
	mailauth_envelope(m, "198.51.100.7", "h.example", "a@pass.example");
	mailauth_header(m, "From", g, strlen(g));
	v = mailauth_end(m, dns_stub_resolver(z));
	is_str(mailauth_action_name(v->action), "accept",
	       "dmarc_reject_action=none");
	is_str(v->disposition, "none", "dmarc_reject_action=none: disposition");
	mailauth_free(m);

	/* No resolver answers at all: every question is a timeout. */
	cfg.reject_action = MAILAUTH_RA_REJECT;
	m = mailauth_new(&cfg);
	mailauth_envelope(m, "198.51.100.7", "h.example", "a@pass.example");
	mailauth_header(m, "From", g, strlen(g));
	v = mailauth_end(m, NULL);
	is_str(mailauth_action_name(v->action), "tempfail",
	       "no resolver: tempfail");
	mailauth_free(m);

	/* No From at all: never a pass. */
	m = mailauth_new(&cfg);
	mailauth_envelope(m, "192.0.2.1", "h.example", "a@pass.example");
	v = mailauth_end(m, dns_stub_resolver(z));
	is_str(v->dmarc_result, "fail", "no From: dmarc fail");
	mailauth_free(m);
}

static const struct {
	const char *list, *ip;
	bool want;
} iprows[] = {
	{ "127.0.0.0/8, ::1/128", "127.0.0.1", true },
	{ "127.0.0.0/8, ::1/128", "::1", true },
	{ "127.0.0.0/8, ::1/128", "128.0.0.1", false },
	{ "192.0.2.0/25", "192.0.2.127", true },
	{ "192.0.2.0/25", "192.0.2.128", false },
	{ "192.0.2.7", "192.0.2.7", true },
	{ "192.0.2.0/24", "::ffff:192.0.2.9", true },
	{ "2001:db8::/32", "2001:db8:1::5", true },
	{ "2001:db8::/32", "2001:db9::5", false },
	{ "junk, 10.0.0.0/33, 10.0.0.0/8", "10.1.2.3", true },
	{ "", "10.1.2.3", false },
	{ "10.0.0.0/8", "not-an-ip", false },
};

/* Whole messages as files hold them: CRLF, LF, an mbox line, junk. */
static void test_message(struct dns_stub *z)
{
	static const char *const hdrs[] = {
		"From: CEO <ceo@signed.example>",
		"To: bob@mx.test",
		"Subject: quarterly\r\n\tnumbers",
		NULL,
	};
	const char *body = "Hello.\r\n\r\nThe body.\r\n";
	struct mailauth_config cfg = { .authserv_id = "mx.test" };
	static const struct {
		const char *label, *prefix;
		bool lf, junk;
		size_t fields;
		const char *dkim;
	} v[] = {
		{ "CRLF file", "", false, false, 4, "pass" },
		{ "LF file", "", true, false, 4, "pass" },
		{ "mbox From line skipped", "From ceo@signed.example Mon Nov 23 "
		  "10:00:00 2026\n", true, false, 4, "pass" },
		{ "a non-field line ends the header", "", false, true, 2,
		  "fail" },
	};
	char *sig = sign("signed.example", hdrs, body);
	size_t i, k;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct buf msg, lf;
		struct mailauth *m = mailauth_new(&cfg);
		const struct mailauth_verdict *r;
		size_t got;

		buf_init(&msg, 1 << 16);
		buf_init(&lf, 1 << 16);
		buf_printf(&msg, "%sDKIM-Signature:%s\r\n%s\r\n", v[i].prefix,
			   sig, hdrs[0]);
		if (v[i].junk)
			buf_puts(&msg, "this line is no header field\r\n");
		buf_printf(&msg, "%s\r\n%s\r\n\r\n%s", hdrs[1], hdrs[2], body);
		for (k = 0; k < msg.len; k++)
			if (!(v[i].lf && msg.p[k] == '\r' &&
			      msg.p[k + 1] == '\n'))
				buf_append(&lf, msg.p + k, 1);
		mailauth_envelope(m, "198.51.100.7", "h.example",
				  "x@relay.example");
		got = mailauth_message(m, lf.p, lf.len);
		r = mailauth_end(m, dns_stub_resolver(z));
		is_int(got, v[i].fields, "message %s: header fields", v[i].label);
		is_str(r->dkim_result, v[i].dkim, "message %s: dkim", v[i].label);
		is_str(r->from_domain, "signed.example", "message %s: From",
		       v[i].label);
		mailauth_free(m);
		buf_deinit(&msg);
		buf_deinit(&lf);
	}
	{
		struct mailauth *m = mailauth_new(&cfg);
		const struct mailauth_verdict *r;

		is_int(mailauth_message(m, "", 0), 0, "message empty: no field");
		r = mailauth_end(m, dns_stub_resolver(z));
		is_str(r->dmarc_result, "fail", "message empty: no From, never "
		       "a pass");
		mailauth_free(m);
		m = mailauth_new(&cfg);
		is_int(mailauth_message(m, "From: a@pass.example\n", 21), 1,
		       "message header only: one field");
		r = mailauth_end(m, dns_stub_resolver(z));
		is_str(r->from_domain, "pass.example",
		       "message header only: From");
		mailauth_free(m);
	}
	free(sig);
}

/* The per-identifier verdict the aggregate reports use: a label, the
 * envelope and From, the signing domains (header order), and what the
 * verdict must say ("" for none; sigs as "d/s/result,..."). */
static const struct {
	const char *label, *ip, *mailfrom, *from;
	const char *signers[7];
	const char *spf_scope, *spf_domain;
	bool spf_aligned, dkim_aligned;
	const char *sigs, *disposition, *override;
} idrows[] = {
	{ "dkim aligned, spf pass unaligned", "192.0.2.9",
	  "bounce@relay.example", "ceo@signed.example", { "signed.example" },
	  "mfrom", "relay.example", false, true,
	  "signed.example/sel/pass", "none", "" },
	{ "spf aligned, no signature", "192.0.2.1", "a@pass.example",
	  "a@pass.example", { NULL }, "mfrom", "pass.example", true, false,
	  "", "none", "" },
	{ "null sender: the helo scope", "198.51.100.7", "",
	  "a@none.example", { NULL }, "helo", "mx.sender.example", false,
	  false, "", "none", "" },
	{ "no client address: no spf check", NULL, "a@none.example",
	  "a@none.example", { NULL }, "", "", false, false, "", "none", "" },
	{ "two signatures: the aligned one first", "192.0.2.9",
	  "bounce@relay.example", "ceo@signed.example",
	  { "other.example", "signed.example" }, "mfrom", "relay.example",
	  false, true, "signed.example/sel/pass,other.example/sel/permerror",
	  "none", "" },
	{ "six signatures: four kept, the aligned one first", "192.0.2.9",
	  "bounce@relay.example", "ceo@signed.example",
	  { "x1.example", "x2.example", "x3.example", "x4.example",
	    "x5.example", "signed.example" }, "mfrom", "relay.example",
	  false, true, "signed.example/sel/pass,x1.example/sel/permerror,"
	  "x2.example/sel/permerror,x3.example/sel/permerror", "none", "" },
	{ "unaligned signature, spf fail: reject", "198.51.100.7",
	  "a@pass.example", "a@pass.example", { "signed.example" }, "mfrom",
	  "pass.example", false, false, "signed.example/sel/pass", "reject",
	  "" },
	{ "trusted forwarder", "203.0.113.5", "a@pass.example",
	  "a@pass.example", { NULL }, "mfrom", "pass.example", false, false,
	  "", "quarantine", "trusted_forwarder" },
	{ "override domain", "198.51.100.7", "a@override.example",
	  "a@override.example", { NULL }, "mfrom", "override.example", false,
	  false, "", "quarantine", "local_policy" },
	{ "t=y: lowered to quarantine", "198.51.100.7", "a@testing.example",
	  "a@testing.example", { NULL }, "mfrom", "testing.example", false,
	  false, "", "quarantine", "policy_test_mode" },
	{ "p=none: no override", "198.51.100.7", "a@none.example",
	  "a@none.example", { NULL }, "mfrom", "none.example", false, false,
	  "", "none", "" },
};

/* The verdict's identifiers, table-driven. */
static void test_idents(struct dns_stub *z)
{
	struct mailauth_config cfg = {
		.authserv_id = "mx.test",
		.override_domains = "override.example",
		.trusted_forwarders = "203.0.113.0/24",
	};
	const char *body = "Hello.\r\n";
	size_t i, k;

	for (i = 0; i < sizeof(idrows) / sizeof(idrows[0]); i++) {
		struct mailauth *m = mailauth_new(&cfg);
		const struct mailauth_verdict *v;
		char *from = xasprintf("From: %s", idrows[i].from);
		const char *hdrs[] = { from, "To: bob@mx.test",
				       "Subject: ids", NULL };
		struct buf sigs;

		mailauth_envelope(m, idrows[i].ip, "mx.sender.example",
				  idrows[i].mailfrom);
		for (k = 0; idrows[i].signers[k]; k++) {
			char *sig = sign(idrows[i].signers[k], hdrs, body);

			mailauth_header(m, "DKIM-Signature", sig, strlen(sig));
			free(sig);
		}
		for (k = 0; hdrs[k]; k++) {
			char name[64];
			const char *val;

			split(hdrs[k], name, sizeof(name), &val);
			mailauth_header(m, name, val, strlen(val));
		}
		mailauth_body(m, body, strlen(body));
		v = mailauth_end(m, dns_stub_resolver(z));
		buf_init(&sigs, 4096);
		for (k = 0; k < v->ndkim; k++)
			buf_printf(&sigs, "%s%s/%s/%s", k ? "," : "",
				   v->dkim[k].d, v->dkim[k].s,
				   v->dkim[k].result);
		is_str(v->spf_scope, idrows[i].spf_scope, "ids %s: spf scope",
		       idrows[i].label);
		is_str(v->spf_domain, idrows[i].spf_domain,
		       "ids %s: spf domain", idrows[i].label);
		is_int(v->spf_aligned, idrows[i].spf_aligned,
		       "ids %s: spf aligned", idrows[i].label);
		is_int(v->dkim_aligned, idrows[i].dkim_aligned,
		       "ids %s: dkim aligned", idrows[i].label);
		is_str(sigs.len ? sigs.p : "", idrows[i].sigs,
		       "ids %s: signatures", idrows[i].label);
		is_str(v->disposition, idrows[i].disposition,
		       "ids %s: disposition", idrows[i].label);
		is_str(v->override, idrows[i].override, "ids %s: override",
		       idrows[i].label);
		buf_deinit(&sigs);
		free(from);
		mailauth_free(m);
	}
}

int main(void)
{
	struct dns_stub *z;
	size_t i;

	key = EVP_RSA_gen(2048);
	z = zone();
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i], z);
	test_actions(z);
	test_message(z);
	test_idents(z);
	for (i = 0; i < sizeof(iprows) / sizeof(iprows[0]); i++)
		is_int(mailauth_ip_in_list(iprows[i].list, iprows[i].ip),
		       iprows[i].want, "ip_in_list \"%s\" %s", iprows[i].list,
		       iprows[i].ip);
	dns_resolver_free(dns_stub_resolver(z));
	EVP_PKEY_free(key);
	return tap_done();
}
