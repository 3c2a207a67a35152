/*
 * test-dkim - table-driven unit tests for the DKIM modules: tag-lists,
 * base64, DKIM-Signature fields, key records, canonicalization (RFC 6376
 * 3.4.5 and edge rows) with every split of the body giving the same
 * result, time checks, the verifier's limits and DNS outcomes on a corpus
 * message, and the Authentication-Results form.  Each row has a label.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tap.h"
#include "mail/dkim.h"
#include "mail/dkim_testlib.h"
#include "util/xalloc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct tagrow {
	const char *label, *in;
	int want;		/* 0 or DKIM_W_* */
	size_t count;
	const char *last;	/* "name=value" of the last tag */
};

static const struct tagrow tagrows[] = {
	{"simple", "a=b; c=d", 0, 2, "c=d"},
	{"trailing semicolon", "a=b; c=d;", 0, 2, "c=d"},
	{"trailing semicolon and FWS", "a=b; c=d; \r\n ", 0, 2, "c=d"},
	{"FWS around", " a = b \r\n\t; c\t=\r\n d  ", 0, 2, "c=d"},
	{"empty value", "a=", 0, 1, "a="},
	{"inner spaces kept", "n=two words", 0, 1, "n=two words"},
	{"empty list", "", 0, 0, NULL},
	{"only FWS", " \r\n ", 0, 0, NULL},
	{"empty spec in middle", "a=b;;c=d", DKIM_W_SYNTAX, 0, NULL},
	{"lone semicolon", ";", DKIM_W_SYNTAX, 0, NULL},
	{"no equals", "a=b; t; p=x", DKIM_W_SYNTAX, 0, NULL},
	{"name starts with digit", "1a=b", DKIM_W_SYNTAX, 0, NULL},
	{"name with dash", "a-b=c", DKIM_W_SYNTAX, 0, NULL},
	{"name with underscore", "a_b=c", 0, 1, "a_b=c"},
	{"empty name", "=c", DKIM_W_SYNTAX, 0, NULL},
	{"duplicate", "a=b; a=c", DKIM_W_DUP_TAG, 0, NULL},
	{"case differs: no dup", "a=b; A=c", 0, 2, "A=c"},
	{"control byte", "a=b\001c", DKIM_W_SYNTAX, 0, NULL},
	{"DEL byte", "a=\177", DKIM_W_SYNTAX, 0, NULL},
	{"8-bit kept", "n=\303\251", 0, 1, "n=\303\251"},
	{"equals in value", "b=abc==", 0, 1, "b=abc=="},
};

/* Tag-list parser rows. */
static void test_tags(void)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	size_t i, count;
	char many[DKIM_MAX_TAGS * 8 + 16];
	size_t o = 0;

	for (i = 0; i < NELEM(tagrows); i++) {
		const struct tagrow *r = &tagrows[i];
		int got = dkim_tags_parse(r->in, strlen(r->in), tags,
					  DKIM_MAX_TAGS, &count);
		char last[64] = "";

		is_int(got, r->want, "tags: %s", r->label);
		if (got != 0)
			continue;
		is_int(count, r->count, "tags: %s: count", r->label);
		if (r->last && count > 0) {
			const struct dkim_tag *t = &tags[count - 1];

			snprintf(last, sizeof(last), "%.*s=%.*s",
				 (int)t->name.n, t->name.p, (int)t->value.n,
				 t->value.p);
			is_str(last, r->last, "tags: %s: last", r->label);
		}
	}
	/* Every byte inside a value: only controls other than FWS and DEL
	 * break the list (the tables behind the parser are checked whole). */
	for (i = 0; i < 256; i++) {
		char in[8] = {'a', '=', 'x', (char)i, 'y'};
		bool bad = (i < 0x20 && i != ' ' && i != '\t' && i != '\r' &&
			    i != '\n') || i == 0x7f;
		int want = bad ? DKIM_W_SYNTAX : 0;

		if (i == ';' || i == '=')
			continue;	/* structure, not value bytes */
		is_int(dkim_tags_parse(in, 5, tags, DKIM_MAX_TAGS, &count),
		       want, "tags: byte 0x%02zx in a value", i);
	}
	for (i = 0; i <= DKIM_MAX_TAGS; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "t%zu=x;", i);
	is_int(dkim_tags_parse(many, o, tags, DKIM_MAX_TAGS, &count),
	       DKIM_W_SYNTAX, "tags: one over DKIM_MAX_TAGS");
}

/* The whole alphabet against OpenSSL's encoder, and every other byte. */
static void test_base64_alphabet(void)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char raw[192], dec[192];
	char enc[260];
	size_t i, bad = 0, wrong = 0;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 11);
	for (i = 1; i <= sizeof(raw); i++) {
		int n = EVP_EncodeBlock((unsigned char *)enc, raw, (int)i);

		if (dkim_base64_decode(enc, (size_t)n, dec, sizeof(dec)) !=
			    (long)i || memcmp(dec, raw, i) != 0)
			wrong++;
	}
	is_int(wrong, 0, "base64: OpenSSL-encoded lengths 1..192 decode");
	for (i = 0; i < 256; i++) {
		char in[4] = {'Q', 'U', (char)i, 'J'};
		bool digit = i != 0 && strchr(alpha, (int)i) != NULL;
		bool fws = i == ' ' || i == '\t' || i == '\r' || i == '\n';

		if (i == '=')
			continue;
		if ((dkim_base64_decode(in, 4, dec, sizeof(dec)) < 0) !=
		    !(digit || fws))
			bad++;
	}
	is_int(bad, 0, "base64: only the 64 digits and FWS are accepted");
}

/* base64 rows. */
static void test_base64(void)
{
	static const struct {
		const char *label, *in;
		long want;
		const char *out;
	} rows[] = {
		{"plain", "aGVsbG8=", 5, "hello"},
		{"FWS inside", "aG V\r\n\tsbG8=", 5, "hello"},
		{"no padding", "aGVsbG8", 5, "hello"},
		{"two pads", "aGk=", 2, "hi"},
		{"empty", "", 0, ""},
		{"bad char", "aG!s", -1, NULL},
		{"data after pad", "aG=k", -1, NULL},
		{"lone sixth", "aGVsb", -1, NULL},
		{"three pads", "aG===", -1, NULL},
		{"FWS between groups", "aGVs\r\n bG8=", 5, "hello"},
		{"FWS in a later group", "aGVsbG8h aGVs bG8h", 12,
		 "hello!hello!"},
		{"a group after padding", "aGk=aGk=", -1, NULL},
		{"bad char in a later group", "aGVsbG8!", -1, NULL},
	};
	unsigned char out[16];
	size_t i;

	for (i = 0; i < NELEM(rows); i++) {
		long got = dkim_base64_decode(rows[i].in, strlen(rows[i].in),
					      out, sizeof(out));

		is_int(got, rows[i].want, "base64: %s", rows[i].label);
		if (got > 0 && rows[i].out)
			ok(memcmp(out, rows[i].out, (size_t)got) == 0,
			   "base64: %s: bytes", rows[i].label);
	}
	is_int(dkim_base64_decode("aGVsbG8=", 8, out, 4), -1,
	       "base64: does not fit");
	is_int(dkim_base64_decode("aGVsbG8h", 8, out, 6), 6,
	       "base64: fits exactly");
	is_int(dkim_base64_decode("aGVsbG8h", 8, out, 5), -1,
	       "base64: one byte short");
	test_base64_alphabet();
}

#define B "b=dGVzdA==; bh=dGVzdA==;"
struct sigrow {
	const char *label, *in;
	int want;
};

static const struct sigrow sigrows[] = {
	{"minimal rsa", "v=1; a=rsa-sha256; d=ex.com; s=s; h=from; " B, 0},
	{"ed25519", "v=1; a=ed25519-sha256; d=ex.com; s=s; h=From; " B, 0},
	{"rsa-sha1 refused", "v=1; a=rsa-sha1; d=ex.com; s=s; h=from; " B,
	 DKIM_W_ALG_SHA1},
	{"unknown a=", "v=1; a=rsa-md5; d=ex.com; s=s; h=from; " B,
	 DKIM_W_ALG},
	{"no v=", "a=rsa-sha256; d=ex.com; s=s; h=from; " B,
	 DKIM_W_MISSING_TAG},
	{"v=0.5", "v=0.5; a=rsa-sha256; d=ex.com; s=s; h=from; " B,
	 DKIM_W_VERSION},
	{"no bh", "v=1; a=rsa-sha256; d=ex.com; s=s; h=from; b=dGVzdA==",
	 DKIM_W_MISSING_TAG},
	{"no d", "v=1; a=rsa-sha256; s=s; h=from; " B, DKIM_W_MISSING_TAG},
	{"no s", "v=1; a=rsa-sha256; d=ex.com; h=from; " B,
	 DKIM_W_MISSING_TAG},
	{"no h", "v=1; a=rsa-sha256; d=ex.com; s=s; " B, DKIM_W_MISSING_TAG},
	{"dup d", "v=1; a=rsa-sha256; d=ex.com; d=ex.com; s=s; h=from; " B,
	 DKIM_W_DUP_TAG},
	{"h without From", "v=1; a=rsa-sha256; d=ex.com; s=s; h=to:subject; "
	 B, DKIM_W_NO_FROM},
	{"h empty element", "v=1; a=rsa-sha256; d=ex.com; s=s; h=from::to; "
	 B, DKIM_W_SYNTAX},
	{"h folded", "v=1; a=rsa-sha256; d=ex.com; s=s; h=to\r\n\t:from ; "
	 B, 0},
	{"c=relaxed", "v=1; a=rsa-sha256; c=relaxed; d=ex.com; s=s; h=from; "
	 B, 0},
	{"c=future", "v=1; a=rsa-sha256; c=future; d=ex.com; s=s; h=from; "
	 B, DKIM_W_CANON},
	{"c=relaxed/bad", "v=1; a=rsa-sha256; c=relaxed/x; d=ex.com; s=s; "
	 "h=from; " B, DKIM_W_CANON},
	{"q=dns/txt", "v=1; a=rsa-sha256; q=dns/txt; d=ex.com; s=s; h=from; "
	 B, 0},
	{"q=http", "v=1; a=rsa-sha256; q=http; d=ex.com; s=s; h=from; " B,
	 DKIM_W_QUERY},
	{"d= bad", "v=1; a=rsa-sha256; d=ex..com; s=s; h=from; " B,
	 DKIM_W_DOMAIN},
	{"s= bad", "v=1; a=rsa-sha256; d=ex.com; s=a b; h=from; " B,
	 DKIM_W_DOMAIN},
	{"i= subdomain", "v=1; a=rsa-sha256; d=ex.com; i=u@sub.EX.com; s=s; "
	 "h=from; " B, 0},
	{"i= other domain", "v=1; a=rsa-sha256; d=ex.com; i=u@notex.com; "
	 "s=s; h=from; " B, DKIM_W_BAD_I},
	{"i= QP", "v=1; a=rsa-sha256; d=ex.com; i==6Au@ex.com; s=s; h=from; "
	 B, 0},
	{"i= no @", "v=1; a=rsa-sha256; d=ex.com; i=ex.com; s=s; h=from; " B,
	 DKIM_W_BAD_I},
	{"i= bad QP", "v=1; a=rsa-sha256; d=ex.com; i==4@ex.com; s=s; "
	 "h=from; " B, DKIM_W_BAD_I},
	{"l=", "v=1; a=rsa-sha256; d=ex.com; l=12; s=s; h=from; " B, 0},
	{"l= not digits", "v=1; a=rsa-sha256; d=ex.com; l=-1; s=s; h=from; "
	 B, DKIM_W_BAD_L},
	{"x < t", "v=1; a=rsa-sha256; d=ex.com; t=10; x=9; s=s; h=from; " B,
	 DKIM_W_BAD_TIME},
	{"t= junk", "v=1; a=rsa-sha256; d=ex.com; t=1a; s=s; h=from; " B,
	 DKIM_W_BAD_TIME},
	{"b= not base64", "v=1; a=rsa-sha256; d=ex.com; s=s; h=from; "
	 "b=!!; bh=dGVzdA==", DKIM_W_BASE64},
	{"b= empty", "v=1; a=rsa-sha256; d=ex.com; s=s; h=from; "
	 "b=; bh=dGVzdA==", DKIM_W_BASE64},
	{"unknown tag ignored", "v=1; a=rsa-sha256; d=ex.com; s=s; h=from; "
	 "zz=top; " B, 0},
	{"syntax", "v=1; a=rsa-sha256; synerr", DKIM_W_SYNTAX},
};

/* DKIM-Signature parser rows, and what a good parse holds. */
static void test_sig(void)
{
	struct dkim_sig *sig = xmalloc(sizeof(*sig));
	static const char folded[] = "v=1; a=rsa-sha256; c=relaxed/simple; "
		"d=Ex.com; s=sel; h=to\r\n\t:from; i==6Au@ex.com; l=5; "
		"b=dGVz\r\n dA==  ; bh=dGVzdA==";
	size_t i;

	for (i = 0; i < NELEM(sigrows); i++)
		is_int(dkim_sig_parse(sig, sigrows[i].in, strlen(sigrows[i].in)),
		       sigrows[i].want, "sig: %s", sigrows[i].label);
	is_int(dkim_sig_parse(sig, folded, strlen(folded)), 0, "sig: folded");
	is_int(sig->hcanon, DKIM_C_RELAXED, "sig: folded: header relaxed");
	is_int(sig->bcanon, DKIM_C_SIMPLE, "sig: folded: body simple");
	is_int(sig->nh, 2, "sig: folded: two names");
	ok(span_eq(sig->hnames[1], "from"), "sig: folded: second is from");
	is_str(sig->auid, "ju@ex.com", "sig: folded: i= decoded");
	ok(sig->has_l && sig->l == 5, "sig: folded: l=5");
	is_int(sig->blen, 4, "sig: folded: b= decoded");
	is_str(folded + sig->b_end, "; bh=dGVzdA==", "sig: b= end offset");
	ok(memcmp(folded + sig->b_start - 2, "b=", 2) == 0,
	   "sig: b= start offset");
	is_int(dkim_sig_parse(sig, folded, DKIM_MAX_SIG_LEN + 1),
	       DKIM_W_TOO_LONG, "sig: over DKIM_MAX_SIG_LEN");

	/* Times: x= expiry and t= in the future. */
	sig->has_t = sig->has_x = true;
	sig->t = 1000;
	sig->x = 2000;
	is_int(dkim_sig_check_time(sig, 1500, 0), 0, "time: inside");
	is_int(dkim_sig_check_time(sig, 2000, 0), 0, "time: at x=");
	is_int(dkim_sig_check_time(sig, 2001, 0), DKIM_W_EXPIRED,
	       "time: after x=");
	is_int(dkim_sig_check_time(sig, 900, 100), 0, "time: t= within skew");
	is_int(dkim_sig_check_time(sig, 899, 100), DKIM_W_FUTURE,
	       "time: t= in the future");
	free(sig);
}

#define RSA1024 "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB"
#define RSA512 "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALgSoqXVSEmfcIsOzw7oRuCCOwsmtX/SJnTWxYyj2leFxfS/AVJ+dYfY+hXqMsT7l+MZvvh/R1WzN4MO/kI/7XsCAwEAAQ=="
#define PKCS1 "MIGJAoGBALVI635dLK4cJJAH3Lx6upo3X/Lm1tQz3mezcWTA3BUBnyIsdnRf57aD5BtNmhPrYYDlWlzw3UgnKisIxktkk5+iMQMlFtAS10JB8L3YadXNJY+JBcbeSi5TgJe4WFzNgW95FWDAuSTRXSWZfA/8xjflbTLDx0euFZOM7C4T0GwLAgMBAAE="
#define ED "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

static const struct {
	const char *label, *in;
	int parse, load;
} keyrows[] = {
	{"rsa spki 1024", "v=DKIM1; k=rsa; p=" RSA1024, 0, 0},
	{"no v, no k", "p=" RSA1024, 0, 0},
	{"pkcs1", "v=DKIM1; p=" PKCS1, 0, 0},
	{"rsa 512 too small", "p=" RSA512, 0, DKIM_W_KEY_TOO_SMALL},
	{"ed25519", "v=DKIM1; k=ed25519; p=" ED, 0, 0},
	{"ed25519 wrong length", "k=ed25519; p=" RSA512, 0, DKIM_W_KEY_BAD},
	{"rsa garbage", "p=dGVzdA==", 0, DKIM_W_KEY_BAD},
	{"revoked", "v=DKIM1; p=", DKIM_W_KEY_REVOKED, 0},
	{"revoked FWS", "v=DKIM1; p= ; ", DKIM_W_KEY_REVOKED, 0},
	{"no p", "v=DKIM1; k=rsa", DKIM_W_KEY_SYNTAX, 0},
	{"empty record", "", DKIM_W_KEY_SYNTAX, 0},
	{"v=DKIM2", "v=DKIM2; p=" RSA1024, DKIM_W_KEY_VERSION, 0},
	{"v not first", "k=rsa; v=DKIM1; p=" RSA1024, DKIM_W_KEY_VERSION, 0},
	{"k=dsa", "k=dsa; p=" RSA1024, DKIM_W_KEY_TYPE, 0},
	{"s=chat", "s=chat; p=" RSA1024, DKIM_W_KEY_SERVICE, 0},
	{"s=email:web", "s=web:email; p=" RSA1024, 0, 0},
	{"s=*", "s=*; p=" RSA1024, 0, 0},
	{"syntax", "k=rsa; t; p=" RSA1024, DKIM_W_KEY_SYNTAX, 0},
	{"dup p", "p=" RSA1024 "; p=" RSA1024, DKIM_W_KEY_SYNTAX, 0},
	{"p not base64", "p=!!!", DKIM_W_KEY_BAD, 0},
	{"unknown tags, g=", "g=*; x1 = extra; p=" RSA1024, 0, 0},
};

/* Key record rows; flags in separate checks. */
static void test_key(void)
{
	struct dkim_key *key = xmalloc(sizeof(*key));
	size_t i;
	void *pk;

	for (i = 0; i < NELEM(keyrows); i++) {
		int r = dkim_key_parse(key, keyrows[i].in,
				       strlen(keyrows[i].in));

		is_int(r, keyrows[i].parse, "key: %s: parse", keyrows[i].label);
		if (r != 0)
			continue;
		pk = NULL;
		is_int(dkim_key_load(key, &pk), keyrows[i].load,
		       "key: %s: load", keyrows[i].label);
		ok((pk != NULL) == (keyrows[i].load == 0),
		   "key: %s: EVP_PKEY iff loaded", keyrows[i].label);
		EVP_PKEY_free(pk);
	}
	dkim_key_parse(key, "t=y:s:x; h=sha1; p=" RSA1024,
		       strlen("t=y:s:x; h=sha1; p=" RSA1024));
	ok(key->testing && key->strict, "key: t=y:s:x flags");
	ok(!key->hash_sha256 && key->hash_sha1, "key: h=sha1 only");
	dkim_key_parse(key, "h=bad; p=" RSA1024, strlen("h=bad; p=" RSA1024));
	ok(!key->hash_sha256 && !key->hash_sha1, "key: h=bad allows nothing");
	free(key);
}

struct canonrow {
	const char *label;
	enum dkim_canon c;
	const char *in, *out;
};

/* RFC 6376 3.4.5 and edge rows for bodies. */
static const struct canonrow bodyrows[] = {
	{"3.4.5 relaxed", DKIM_C_RELAXED, " C \r\nD \t E\r\n\r\n\r\n",
	 " C\r\nD E\r\n"},
	{"3.4.5 simple", DKIM_C_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n",
	 " C \r\nD \t E\r\n"},
	{"empty simple", DKIM_C_SIMPLE, "", "\r\n"},
	{"empty relaxed", DKIM_C_RELAXED, "", ""},
	{"only CRLFs simple", DKIM_C_SIMPLE, "\r\n\r\n", "\r\n"},
	{"only CRLFs relaxed", DKIM_C_RELAXED, "\r\n\r\n", ""},
	{"WSP line relaxed", DKIM_C_RELAXED, "a\r\n \t \r\n", "a\r\n"},
	{"WSP line inside relaxed", DKIM_C_RELAXED, "a\r\n \r\nb\r\n",
	 "a\r\n\r\nb\r\n"},
	{"no final CRLF simple", DKIM_C_SIMPLE, "a\r\nb", "a\r\nb\r\n"},
	{"no final CRLF relaxed", DKIM_C_RELAXED, "a \r\nb  ", "a\r\nb\r\n"},
	{"inner empty lines kept", DKIM_C_SIMPLE, "a\r\n\r\n\r\nb\r\n",
	 "a\r\n\r\n\r\nb\r\n"},
	{"bare LF is content", DKIM_C_SIMPLE, "a\nb\r\n", "a\nb\r\n"},
	{"bare CR is content", DKIM_C_RELAXED, "a\r b\r\n", "a\r b\r\n"},
	{"trailing CR", DKIM_C_SIMPLE, "a\r", "a\r\r\n"},
	{"CR CR LF", DKIM_C_SIMPLE, "a\r\r\n", "a\r\r\n"},
	{"leading WSP relaxed", DKIM_C_RELAXED, "\t\ta\r\n", " a\r\n"},
};

/* Run one body through the canonicalizer in pieces cut at cuts. */
static char *canon_body(enum dkim_canon c, const char *in, size_t n,
			size_t cut1, size_t cut2, bool has_l, uint64_t l)
{
	struct buf out;
	struct dkim_body b;

	buf_init(&out, 1 << 16);
	dkim_body_init(&b, c, has_l, l, NULL, &out);
	dkim_body_feed(&b, in, cut1);
	dkim_body_feed(&b, in + cut1, cut2 - cut1);
	dkim_body_feed(&b, in + cut2, n - cut2);
	dkim_body_end(&b);
	return buf_steal(&out);
}

/* Body rows fed whole and cut at every pair of points. */
static void test_body(void)
{
	size_t i, c1, c2;

	for (i = 0; i < NELEM(bodyrows); i++) {
		const struct canonrow *r = &bodyrows[i];
		size_t n = strlen(r->in);
		bool same = true;
		char *got = canon_body(r->c, r->in, n, 0, 0, false, 0);

		is_str(got, r->out, "body: %s", r->label);
		free(got);
		for (c1 = 0; c1 <= n; c1++)
			for (c2 = c1; c2 <= n; c2++) {
				got = canon_body(r->c, r->in, n, c1, c2, false,
						 0);
				same = same && strcmp(got, r->out) == 0;
				free(got);
			}
		ok(same, "body: %s: every split", r->label);
	}
	{
		char *got = canon_body(DKIM_C_SIMPLE, "abc\r\ndef\r\n", 10, 3,
				       6, true, 4);

		is_str(got, "abc\r", "body: l=4 cuts the hash input");
		free(got);
	}
}

/* A long body hashed in chunks of every size 1..64 gives one hash. */
static void test_body_hash_chunks(void)
{
	static const enum dkim_canon cs[] = {DKIM_C_SIMPLE, DKIM_C_RELAXED};
	char body[3000];
	size_t i, k, ch;
	unsigned x = 12345;

	/* Text with runs of WSP, empty lines, lone CR/LF and a tail. */
	for (i = 0; i < sizeof(body); i++) {
		static const char alpha[] = "ab  \t\r\n\r\n\r\nxy\rz\n";

		x = x * 1103515245 + 12345;
		body[i] = alpha[(x >> 16) % (sizeof(alpha) - 1)];
	}
	for (k = 0; k < NELEM(cs); k++) {
		unsigned char ref[32], got[32];
		bool same = true;

		for (ch = 0; ch <= 64; ch++) {
			EVP_MD_CTX *md = EVP_MD_CTX_new();
			struct dkim_body b;
			size_t off = 0;

			EVP_DigestInit_ex(md, EVP_sha256(), NULL);
			dkim_body_init(&b, cs[k], false, 0, md, NULL);
			while (off < sizeof(body)) {
				size_t len = ch ? ch : sizeof(body);

				if (len > sizeof(body) - off)
					len = sizeof(body) - off;
				dkim_body_feed(&b, body + off, len);
				off += len;
			}
			dkim_body_end(&b);
			EVP_DigestFinal_ex(md, ch ? got : ref, NULL);
			EVP_MD_CTX_free(md);
			if (ch && memcmp(got, ref, 32) != 0)
				same = false;
		}
		ok(same, "body hash: %s: chunks 1..64 agree",
		   k ? "relaxed" : "simple");
	}
}

/*
 * The body rules of RFC 6376 3.4.3 and 3.4.4 written the plain way, a whole
 * line at a time, as the reference the streaming canonicalizer must match.
 */
static size_t ref_canon_body(enum dkim_canon c, const char *in, size_t n,
			     char *out)
{
	size_t pos = 0, o = 0, keep = 0;

	while (pos < n) {
		const char *e = NULL;
		size_t end, i, start = o;

		for (i = pos; i + 1 < n; i++)
			if (in[i] == '\r' && in[i + 1] == '\n') {
				e = in + i;
				break;
			}
		end = e ? (size_t)(e - in) : n;
		for (i = pos; i < end; i++) {
			bool wsp = in[i] == ' ' || in[i] == '\t';

			if (c == DKIM_C_RELAXED && wsp) {
				/* a run of WSP: one SP, none at line end */
				while (i + 1 < end &&
				       (in[i + 1] == ' ' || in[i + 1] == '\t'))
					i++;
				if (i + 1 < end)
					out[o++] = ' ';
			} else {
				out[o++] = in[i];
			}
		}
		out[o++] = '\r';
		out[o++] = '\n';
		if (o - start > 2)
			keep = o;	/* the body ends after a line with content */
		pos = e ? end + 2 : n;
	}
	if (keep == 0 && c == DKIM_C_SIMPLE) {
		out[0] = '\r';
		out[1] = '\n';
		return 2;
	}
	return keep;
}

/* Random bodies, long runs included, against the line-at-a-time rules. */
static void test_body_reference(void)
{
	static const enum dkim_canon cs[] = {DKIM_C_SIMPLE, DKIM_C_RELAXED};
	static const char alpha[] = "abcdefgh  \t\r\n\r\n\r\n\rz\n";
	enum { N = 9000, ROUNDS = 300 };
	char *body = xmalloc(N), *ref = xmalloc(2 * N + 4);
	unsigned x = 777;
	size_t round, k, bad = 0, badl = 0;

	for (round = 0; round < ROUNDS; round++) {
		size_t n, i, run;

		x = x * 1103515245 + 12345;
		n = (x >> 8) % N;
		for (i = 0; i < n && round % 2 == 0; i += run) {
			x = x * 1103515245 + 12345;
			/* now and then a long plain run (past the 4 KB stage) */
			run = (x >> 20) % 50 == 0 ? (x >> 8) % 5000 : 1;
			if (run > n - i)
				run = n - i;
			x = x * 1103515245 + 12345;
			memset(body + i, run > 1 ? 'q' :
			       alpha[(x >> 16) % (sizeof(alpha) - 1)], run);
		}
		/* Odd rounds: text, words between single spaces, lines of
		 * 40-90 bytes, now and then two spaces, a tab, a space before
		 * CRLF or an empty line (the 16-byte blocks and their edges). */
		for (i = 0; i < n && round % 2 == 1; i++) {
			unsigned r;

			x = x * 1103515245 + 12345;
			r = (x >> 16) % 100;
			if (r < 14)
				body[i] = ' ';
			else if (r == 14)
				body[i] = '\t';
			else if (r == 15 && i + 1 < n)
				body[i++] = ' ', body[i] = ' ';
			else if ((r == 16 || r == 17) && i + 1 < n)
				body[i++] = '\r', body[i] = '\n';
			else
				body[i] = (char)('a' + r % 26);
		}
		for (k = 0; k < NELEM(cs); k++) {
			size_t rn = ref_canon_body(cs[k], body, n, ref);
			size_t c1 = n ? (x >> 4) % (n + 1) : 0;
			size_t c2 = c1 + (n - c1) / 2;
			uint64_t l = rn / 3;
			char *got = canon_body(cs[k], body, n, c1, c2, false, 0);

			if (strlen(got) != rn || memcmp(got, ref, rn) != 0)
				bad++;
			free(got);
			got = canon_body(cs[k], body, n, c2, c2, true, l);
			if (strlen(got) != l || memcmp(got, ref, l) != 0)
				badl++;
			free(got);
		}
	}
	is_int(bad, 0, "body: %d random bodies match the line-at-a-time "
	       "rules", 2 * ROUNDS);
	is_int(badl, 0, "body: and with l= a third of the canonical body");
	free(body);
	free(ref);
}

/* Header rows from RFC 6376 3.4.5 and edges. */
static void test_header(void)
{
	static const struct {
		const char *label;
		enum dkim_canon c;
		const char *name, *value, *out;
	} rows[] = {
		{"3.4.5 A relaxed", DKIM_C_RELAXED, "A", " X", "a:X\r\n"},
		{"3.4.5 B relaxed", DKIM_C_RELAXED, "B ", " Y\t\r\n\tZ  ",
		 "b:Y Z\r\n"},
		{"3.4.5 A simple", DKIM_C_SIMPLE, "A", " X", "A: X\r\n"},
		{"3.4.5 B simple", DKIM_C_SIMPLE, "B ", " Y\t\r\n\tZ  ",
		 "B : Y\t\r\n\tZ  \r\n"},
		{"empty value relaxed", DKIM_C_RELAXED, "X-E", "", "x-e:\r\n"},
		{"WSP only relaxed", DKIM_C_RELAXED, "X-E", " \t ", "x-e:\r\n"},
		{"inner runs relaxed", DKIM_C_RELAXED, "Subject",
		 "  a \t b\r\n c ", "subject:a b c\r\n"},
	};
	struct buf out;
	size_t i;

	buf_init(&out, 4096);
	for (i = 0; i < NELEM(rows); i++) {
		buf_reset(&out);
		dkim_canon_header(&out, rows[i].c, rows[i].name,
				  strlen(rows[i].name), rows[i].value,
				  strlen(rows[i].value), true);
		is_str(out.p, rows[i].out, "header: %s", rows[i].label);
	}
	buf_reset(&out);
	dkim_canon_header(&out, DKIM_C_RELAXED, "A", 1, " X", 2, false);
	is_str(out.p, "a:X", "header: without CRLF");
	buf_deinit(&out);
}

/* The verifier on a corpus message: limits and DNS outcomes. */
static void test_verify(void)
{
	const char *shared = getenv("MAMORI_SHARED");
	struct dkim_result res[8];
	struct dkimt_zone z = {0};
	char *path, *raw, *msg;
	size_t n, cn, cnt;
	struct dkim_options opt = {.max_sigs = 2};
	struct dkim_verify *v;

	if (shared == NULL) {
		ok(1, "# SKIP verifier rows: MAMORI_SHARED not set");
		return;
	}
	path = xasprintf("%s/corpora/dkim/go-msgauth/three-identical-"
			 "signatures.eml", shared);
	raw = dkimt_read_file(path, &n);
	free(path);
	if (!ok(raw != NULL, "verify: corpus message readable"))
		return;
	msg = dkimt_crlf(raw, n, &cn);
	free(raw);

	cnt = dkimt_verify(msg, cn, &z, 0, 0, true, res, 8);
	ok(cnt == 3 && res[0].res == DKIM_PERMERROR &&
	   res[0].why == DKIM_W_NO_KEY, "verify: NXDOMAIN is permerror");
	dkimt_zone_add(&z, "brisbane._domainkey.example.com", DKIMT_TIMEOUT,
		       NULL);
	cnt = dkimt_verify(msg, cn, &z, 0, 0, true, res, 8);
	ok(cnt == 3 && res[2].res == DKIM_TEMPERROR, "verify: timeout is "
	   "temperror");
	dkimt_zone_free(&z);
	dkimt_zone_add(&z, "brisbane._domainkey.example.com", DKIMT_TXT,
		       "v=DKIM1; p=");
	cnt = dkimt_verify(msg, cn, &z, 0, 0, false, res, 8);
	ok(cnt == 3 && res[1].why == DKIM_W_KEY_REVOKED, "verify: revoked");
	dkimt_zone_free(&z);
	dkimt_zone_add(&z, "brisbane._domainkey.example.com", DKIMT_TXT,
		       "v=DKIM1; k=ed25519; p=" ED);
	cnt = dkimt_verify(msg, cn, &z, 0, 0, false, res, 8);
	ok(cnt == 3 && res[1].why == DKIM_W_KEY_TYPE,
	   "verify: ed25519 key for rsa-sha256");
	dkimt_zone_free(&z);
	dkimt_zone_add(&z, "brisbane._domainkey.example.com", DKIMT_TXT,
		       "v=DKIM1; h=sha1; p=" RSA1024);
	cnt = dkimt_verify(msg, cn, &z, 0, 0, false, res, 8);
	ok(cnt == 3 && res[0].why == DKIM_W_KEY_HASH, "verify: key h=sha1");
	dkimt_zone_free(&z);
	dkimt_zone_add(&z, "brisbane._domainkey.example.com", DKIMT_TXT,
		       "v=DKIM1; p=" RSA1024);

	/* The limit: two checked, one question for three signatures. */
	v = dkim_verify_new(&opt);
	{
		size_t body = dkimt_body_offset(msg, cn), pos = 0, id, nq = 0;

		while (pos < body - 2) {
			size_t e = pos, c;

			for (;;) {
				e = (size_t)((char *)memchr(msg + e, '\n',
							   body - e) - msg) + 1;
				if (e >= body - 2 || (msg[e] != ' ' &&
						      msg[e] != '\t'))
					break;
			}
			c = (size_t)((char *)memchr(msg + pos, ':', e - pos) -
				     msg);
			dkim_verify_header(v, msg + pos, c - pos, msg + c + 1,
					   e - 2 - c - 1);
			pos = e;
		}
		dkim_verify_body(v, msg + body, cn - body);
		dkim_verify_eom(v);
		ok(!dkim_verify_done(v), "limit: not done before the key");
		while (dkim_verify_next_question(v, &id) != NULL)
			nq++;
		is_int(nq, 1, "limit: one question for one key");
		{
			struct dns_rr rr = {.type = DNS_T_TXT,
					    .text = z.r[0].txt,
					    .text_len = strlen(z.r[0].txt)};
			struct dns_answer a = {.rcode = DNS_OK, .n = 1,
					       .rr = &rr};

			dkim_verify_answer(v, 0, &a);
		}
		ok(dkim_verify_done(v), "limit: done after the answer");
		is_int(dkim_verify_count(v), 3, "limit: three reported");
		is_int(dkim_verify_result(v, 0)->res, DKIM_PASS, "limit: 1st");
		is_int(dkim_verify_result(v, 1)->res, DKIM_PASS, "limit: 2nd");
		is_int(dkim_verify_result(v, 2)->res, DKIM_NOT_CHECKED,
		       "limit: 3rd not checked");
		ok(dkim_verify_result(v, 3) == NULL, "limit: no 4th");
	}
	dkim_verify_free(v);
	dkim_verify_free(NULL);

	free(msg);
	dkimt_zone_free(&z);

	/* Clock: the RFC 8463 example's t= is 1528637909 (2018). */
	path = xasprintf("%s/corpora/dkim/go-msgauth/rfc8463-relaxed.eml",
			 shared);
	raw = dkimt_read_file(path, &n);
	free(path);
	if (!ok(raw != NULL, "verify: RFC 8463 example readable"))
		return;
	msg = dkimt_crlf(raw, n, &cn);
	free(raw);
	dkimt_zone_add(&z, "brisbane._domainkey.football.example.com",
		       DKIMT_TXT, "v=DKIM1; k=ed25519; p=" ED);
	cnt = dkimt_verify(msg, cn, &z, 1000000000, 0, true, res, 8);
	ok(cnt == 2 && res[0].why == DKIM_W_FUTURE, "verify: t= in the "
	   "future in 2001");
	cnt = dkimt_verify(msg, cn, &z, 1528637909, 0, true, res, 8);
	ok(cnt == 2 && res[0].res == DKIM_PASS, "verify: ed25519 passes at t=");
	ok(res[1].res == DKIM_PERMERROR && res[1].why == DKIM_W_NO_KEY,
	   "verify: the other key missing is permerror");
	free(msg);
	dkimt_zone_free(&z);
}

/* Authentication-Results forms. */
static void test_format(void)
{
	struct dkim_result r = {.res = DKIM_PASS, .d = "example.com",
				.s = "sel", .a = "rsa-sha256",
				.b = "abcdefgh"};
	struct buf out;

	buf_init(&out, 1024);
	dkim_format_result(&out, &r);
	is_str(out.p, "dkim=pass header.d=example.com header.s=sel "
	       "header.a=rsa-sha256 header.b=abcdefgh", "format: pass");
	buf_reset(&out);
	r.res = DKIM_FAIL;
	r.why = DKIM_W_BODY_HASH;
	memcpy(r.b, "ab/d=fgh", 9);
	dkim_format_result(&out, &r);
	is_str(out.p, "dkim=fail reason=\"body hash mismatch\" "
	       "header.d=example.com header.s=sel header.a=rsa-sha256 "
	       "header.b=\"ab/d=fgh\"", "format: fail, quoted b");
	buf_reset(&out);
	r.res = DKIM_NOT_CHECKED;
	r.why = DKIM_W_LIMIT;
	r.s[0] = r.a[0] = r.b[0] = '\0';
	dkim_format_result(&out, &r);
	is_str(out.p, "dkim=policy reason=\"not checked: signature limit\" "
	       "header.d=example.com", "format: not checked");
	buf_deinit(&out);
	is_str(dkim_why_name(DKIM_W__COUNT), "unknown", "why: out of range");
	is_str(dkim_res_name((enum dkim_res)99), "none", "res: out of range");
}

int main(void)
{
	test_tags();
	test_base64();
	test_sig();
	test_key();
	test_header();
	test_body();
	test_body_hash_chunks();
	test_body_reference();
	test_verify();
	test_format();
	return tap_done();
}
