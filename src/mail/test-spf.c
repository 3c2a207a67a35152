/*
 * test-spf - table-driven unit tests of the SPF module: record syntax,
 * macro expansion (RFC 7208 7.4 examples and errors), limits and reasons,
 * the step/answer protocol, and the header fields.  The conformance suite
 * is test-spf-suite.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_stub.h"
#include "mail/spf.h"
#include "tap.h"

static const struct {
	const char *label, *rec;
	int want;	/* 1 not SPF, 0 parses, -1 permerror */
} rec_rows[] = {
	{ "bare version", "v=spf1", 0 },
	{ "not spf", "v=spf10 -all", 1 },
	{ "other text", "hello", 1 },
	{ "version case", "V=SPF1 -ALL", 0 },
	{ "every mechanism", "v=spf1 +all -include:a.example ~a ?mx ptr "
	  "ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.x.example", 0 },
	{ "dual cidr", "v=spf1 a/24//64 mx:m.example/0//0", 0 },
	{ "cidr4 33", "v=spf1 a/33", -1 },
	{ "cidr6 129", "v=spf1 mx//129", -1 },
	{ "cidr leading zero", "v=spf1 ip4:192.0.2.0/024", -1 },
	{ "ip4 short", "v=spf1 ip4:192.0.2", -1 },
	{ "ip6 bad", "v=spf1 ip6:2001::db8::1", -1 },
	{ "ip4 missing", "v=spf1 ip4", -1 },
	{ "all with arg", "v=spf1 all:x.example", -1 },
	{ "include empty", "v=spf1 include:", -1 },
	{ "exists bare", "v=spf1 exists", -1 },
	{ "ptr cidr", "v=spf1 ptr/24", -1 },
	{ "unknown mechanism", "v=spf1 foo", -1 },
	{ "unknown modifier ok", "v=spf1 foo=bar -all", 0 },
	{ "unknown modifier bad macro", "v=spf1 foo=%q", -1 },
	{ "redirect twice", "v=spf1 redirect=a.example redirect=b.example", -1 },
	{ "exp twice", "v=spf1 exp=a.example exp=b.example", -1 },
	{ "redirect bad domain", "v=spf1 redirect=-all", -1 },
	{ "exp with c macro", "v=spf1 exp=%{c}.example", -1 },
	{ "numeric toplabel", "v=spf1 a:192.0.2.1", -1 },
	{ "dash toplabel", "v=spf1 a:x.xn--p1ai", 0 },
	{ "macro toplabel", "v=spf1 a:%{d}", 0 },
	{ "trailing dot", "v=spf1 a:x.example.", 0 },
	{ "tab", "v=spf1\t-all", 1 },
	{ "tab inside", "v=spf1 -all\tip4:192.0.2.1", -1 },
	{ "8-bit", "v=spf1 a:\xc3\xa9.example", -1 },
	{ "many spaces", "v=spf1   -all   ", 0 },
	{ "modifier name digit first", "v=spf1 1x=y", -1 },
	{ "empty modifier name", "v=spf1 =y", -1 },
	{ "colon domain", "v=spf1 a:foo:bar/baz.example", 0 },
	{ "d0 transformer", "v=spf1 a:%{d0}.example", -1 },
};

static const struct {
	const char *macro, *want;
	bool exp;
} macro_rows[] = {
	/* RFC 7208 7.4, sender strong-bad@email.example.com, 192.0.2.3 */
	{ "%{s}", "strong-bad@email.example.com", false },
	{ "%{o}", "email.example.com", false },
	{ "%{d}", "email.example.com", false },
	{ "%{d4}", "email.example.com", false },
	{ "%{d3}", "email.example.com", false },
	{ "%{d2}", "example.com", false },
	{ "%{d1}", "com", false },
	{ "%{dr}", "com.example.email", false },
	{ "%{d2r}", "example.email", false },
	{ "%{l}", "strong-bad", false },
	{ "%{l-}", "strong.bad", false },
	{ "%{lr}", "strong-bad", false },
	{ "%{lr-}", "bad.strong", false },
	{ "%{l1r-}", "strong", false },
	{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com",
	  false },
	{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com", false },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com", false },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	  "3.2.0.192.in-addr.strong.lp._spf.example.com", false },
	{ "%{d2}.trusted-domains.example.net",
	  "example.com.trusted-domains.example.net", false },
	{ "%{d999}", "email.example.com", false },
	{ "%%%_%-", "% %20", false },
	{ "%{S}", "strong-bad%40email.example.com", false },
	{ "%{p}", "unknown", false },
	{ "%{h}", "mx.example.org", false },
	{ "from %{c} at %{t} by %{r}", "from 192.0.2.3 at 1234 by "
	  "rcv.example.net", true },
	{ "%{c}", NULL, false },
	{ "%{x}", NULL, false },
	{ "%{d0}", NULL, false },
	{ "%", NULL, false },
	{ "%{d", NULL, false },
	{ "%{d2q}", NULL, false },
	{ "a b", NULL, false },
	{ "a b", "a b", true },
	{ "\x01", NULL, true },
};

/* Resolver callback: hand the answer to the evaluator. */
static void feed(void *arg, const struct dns_answer *a)
{
	spf_answer(arg, a);
}

/* Run a check over a stub synchronously with the step/answer protocol. */
static struct spf *run(struct dns_stub *st, const char *ip, const char *from,
		       const char *helo)
{
	struct spf *s = spf_new(ip, from, helo, "mx.example.net");
	struct dns_question q;

	while (spf_step(s, &q) == SPF_NEED_DNS)
		dns_query(dns_stub_resolver(st), &q, feed, s);
	return s;
}

/* Record syntax rows, and a NUL inside a record. */
static void test_records(void)
{
	char err[160];
	size_t i;

	for (i = 0; i < sizeof(rec_rows) / sizeof(rec_rows[0]); i++) {
		int r = spf_record_check(rec_rows[i].rec,
					 strlen(rec_rows[i].rec), err,
					 sizeof(err));

		is_int(r, rec_rows[i].want, "record: %s", rec_rows[i].label);
	}
	is_int(spf_record_check("v=spf1 a:x.example\0", 19, err, sizeof(err)),
	       -1, "record: NUL byte");
}

/* Macro rows (RFC 7208 7.4) and IPv6 forms. */
static void test_macros(void)
{
	struct spf *s = spf_new("192.0.2.3", "strong-bad@email.example.com",
				"mx.example.org", "rcv.example.net");
	struct buf b;
	size_t i;

	spf_set_time(s, 1234);
	buf_init(&b, 4096);
	for (i = 0; i < sizeof(macro_rows) / sizeof(macro_rows[0]); i++) {
		int r;

		buf_reset(&b);
		r = spf_expand(s, macro_rows[i].macro, "email.example.com",
			       macro_rows[i].exp, &b);
		if (macro_rows[i].want)
			is_str(r == 0 ? (b.p ? b.p : "") : "(error)",
			       macro_rows[i].want, "macro %s",
			       macro_rows[i].macro);
		else
			is_int(r, -1, "macro %s is an error",
			       macro_rows[i].macro);
	}
	spf_free(s);
	s = spf_new("2001:db8::cb01", "a@email.example.com", "h", NULL);
	buf_reset(&b);
	spf_expand(s, "%{ir}.%{v}._spf.%{d2}", "email.example.com", false, &b);
	is_str(b.p, "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0."
	       "1.0.0.2.ip6._spf.example.com", "macro: IPv6 %%{ir} (7.4)");
	buf_reset(&b);
	spf_expand(s, "%{c} %{r}", "email.example.com", true, &b);
	is_str(b.p, "2001:db8::cb01 unknown", "macro: IPv6 %%{c}, no %%{r}");
	spf_free(s);
	buf_deinit(&b);
}

/* Evaluation, limits, reasons, the step protocol, header fields. */
/* Envelopes a hostile client may send, and the header values they give. */
static const struct {
	const char *label, *mailfrom, *helo, *rspf, *ar;
} hostile[] = {
	{ "CR LF replaced", "a\r\nX-Evil: 1@example.com", "h\"x",
	  "pass (mx.example.net: domain of a??X-Evil: 1@example.com "
	  "designates 192.0.2.7 as permitted sender) client-ip=192.0.2.7;"
	  " envelope-from=\"a??X-Evil: 1@example.com\"; helo=\"h\\\"x\";"
	  " receiver=\"mx.example.net\"; identity=mailfrom",
	  "spf=pass smtp.mailfrom=\"a??X-Evil: 1@example.com\"" },
	{ "comment and quoted escapes", "(x)\\y\xc3\xa9@example.com", "h",
	  "pass (mx.example.net: domain of \\(x\\)\\\\y??@example.com"
	  " designates 192.0.2.7 as permitted sender) client-ip=192.0.2.7;"
	  " envelope-from=\"(x)\\\\y??@example.com\"; helo=\"h\";"
	  " receiver=\"mx.example.net\"; identity=mailfrom",
	  "spf=pass smtp.mailfrom=\"(x)\\\\y??@example.com\"" },
};

static void test_eval(void)
{
	struct dns_stub *st = dns_stub_new();
	struct dns_question q, q2;
	struct spf *s;
	struct buf b;
	char name[64];
	int i;

	dns_stub_add(st, "example.com", DNS_T_TXT,
		     "v=spf1 ip4:192.0.2.0/24 -all exp=why.example.com");
	dns_stub_add(st, "why.example.com", DNS_T_TXT, "%{i} is not ours");
	s = run(st, "192.0.2.7", "a@example.com", "h.example.com");
	is_int(spf_result(s), SPF_PASS, "eval: ip4 pass");
	is_str(spf_reason(s), "matched ip4:192.0.2.0/24 in example.com",
	       "eval: reason names the term");
	spf_free(s);
	s = run(st, "198.51.100.1", "a@example.com", "h.example.com");
	is_int(spf_result(s), SPF_FAIL, "eval: fail");
	is_str(spf_explanation(s), "198.51.100.1 is not ours",
	       "eval: explanation");
	spf_free(s);

	/* 11 terms causing look-ups */
	dns_stub_add(st, "many.example.com", DNS_T_TXT,
		     "v=spf1 a a a a a a a a a a a -all");
	dns_stub_add(st, "many.example.com", DNS_T_A, "198.51.100.9");
	s = run(st, "192.0.2.7", "a@many.example.com", "h");
	is_int(spf_result(s), SPF_PERMERROR, "limit: 11 lookups");
	is_str(spf_reason(s), "10 DNS lookups exceeded", "limit: reason");
	spf_free(s);

	/* 3 void look-ups */
	dns_stub_add(st, "void.example.com", DNS_T_TXT,
		     "v=spf1 a:n1.example.com a:n2.example.com "
		     "a:n3.example.com -all");
	s = run(st, "192.0.2.7", "a@void.example.com", "h");
	is_int(spf_result(s), SPF_PERMERROR, "limit: 3 void lookups");
	spf_free(s);

	/* 11 MX names */
	dns_stub_add(st, "mx.example.com", DNS_T_TXT, "v=spf1 mx -all");
	for (i = 0; i < 11; i++) {
		snprintf(name, sizeof(name), "%d m%d.example.com", i, i);
		dns_stub_add(st, "mx.example.com", DNS_T_MX, name);
	}
	s = run(st, "192.0.2.7", "a@mx.example.com", "h");
	is_int(spf_result(s), SPF_PERMERROR, "limit: 11 MX names");
	spf_free(s);

	/* HELO identity, no record */
	s = run(st, "192.0.2.7", "", "nothing.example.com");
	is_int(spf_result(s), SPF_NONE, "helo: none");
	ok(spf_is_helo(s), "helo: identity is HELO");
	is_str(spf_domain(s), "nothing.example.com", "helo: domain");
	spf_free(s);

	/* SMTPUTF8: a U-label MAIL FROM domain is asked as A-labels
	 * (RFC 8616 4); one IDNA2008 refuses is malformed, result none */
	dns_stub_add(st, "xn--r8jz45g.jp", DNS_T_TXT,
		     "v=spf1 ip4:192.0.2.7 -all");
	s = run(st, "192.0.2.7", "u@\xe4\xbe\x8b\xe3\x81\x88.JP", "h");
	is_int(spf_result(s), SPF_PASS, "idna: U-label domain passes");
	is_str(spf_domain(s), "xn--r8jz45g.jp", "idna: domain as A-labels");
	spf_free(s);
	s = run(st, "192.0.2.7", "u@\xe2\x98\x83.example", "h");
	is_int(spf_result(s), SPF_NONE, "idna: disallowed U-label is none");
	is_int(spf_queries(s), 0, "idna: and asks nothing");
	spf_free(s);
	s = run(st, "192.0.2.7", "u@\xe2\x80\x8b", "h");
	is_int(spf_result(s), SPF_NONE, "idna: U-label mapped to nothing is none");
	is_int(spf_queries(s), 0, "idna: mapped to nothing asks nothing");
	spf_free(s);

	/* the protocol: stepping without an answer repeats the question */
	s = spf_new("192.0.2.7", "a@example.com", "h", NULL);
	is_int(spf_step(s, &q), SPF_NEED_DNS, "step: needs DNS");
	is_int(spf_step(s, &q2), SPF_NEED_DNS, "step: still needs DNS");
	ok(strcmp(q.name, q2.name) == 0 && q.type == q2.type,
	   "step: same question");
	is_int(q.type, DNS_T_TXT, "step: TXT first");
	spf_answer(s, &(struct dns_answer){ .rcode = DNS_TEMPFAIL });
	is_int(spf_step(s, &q), SPF_DONE, "step: done after the answer");
	is_int(spf_result(s), SPF_TEMPERROR, "step: timeout is temperror");
	is_int(spf_queries(s), 1, "step: one query");
	spf_free(s);
	ok(spf_new("not-an-ip", "a@b.c", "h", NULL) == NULL, "bad ip");
	spf_free(NULL);

	/* header fields, with a hostile envelope: CR LF, quotes, parens
	 * (escaped in the comment only), backslash and 8-bit bytes */
	buf_init(&b, 2048);
	for (i = 0; i < (int)(sizeof(hostile) / sizeof(hostile[0])); i++) {
		s = run(st, "192.0.2.7", hostile[i].mailfrom, hostile[i].helo);
		buf_reset(&b);
		spf_received_spf_header(s, &b);
		is_str(b.p, hostile[i].rspf, "Received-SPF, %s",
		       hostile[i].label);
		buf_reset(&b);
		spf_auth_results(s, &b);
		is_str(b.p, hostile[i].ar, "Authentication-Results, %s",
		       hostile[i].label);
		spf_free(s);
	}
	buf_reset(&b);
	s = run(st, "192.0.2.7", "", "h.example.org");
	spf_auth_results(s, &b);
	is_str(b.p, "spf=none smtp.helo=h.example.org", "A-R for HELO");
	buf_reset(&b);
	spf_received_spf_header(s, &b);
	ok(strstr(b.p, "identity=helo") != NULL, "Received-SPF identity helo");
	spf_free(s);
	buf_deinit(&b);
	for (i = SPF_NONE; i <= SPF_PERMERROR; i++)
		ok(spf_result_name((enum spf_result)i)[0] != '\0',
		   "result name %d", i);
	dns_stub_free(st);
}

/* spf_check callback for the asynchronous driver test. */
static void done_cb(void *arg, struct spf *s)
{
	*(int *)arg = (int)spf_result(s);
}

/* spf_check() over a synchronous resolver. */
static void test_driver(void)
{
	struct dns_stub *st = dns_stub_new();
	int r = -1;

	dns_stub_add(st, "d.example", DNS_T_TXT, "v=spf1 include:e.example");
	dns_stub_add(st, "e.example", DNS_T_TXT, "v=spf1 mx");
	dns_stub_add(st, "e.example", DNS_T_MX, "5 m.e.example");
	dns_stub_add(st, "m.e.example", DNS_T_AAAA, "2001:db8::5");
	is_int(spf_check(dns_stub_resolver(st), "2001:db8::5", "x@d.example",
			 "h", NULL, done_cb, &r), 0, "driver: started");
	is_int(r, SPF_PASS, "driver: include + mx over IPv6");
	is_int(spf_check(dns_stub_resolver(st), "x", "x@d.example", "h", NULL,
			 done_cb, &r), -22, "driver: bad ip");
	dns_stub_free(st);
}

int main(void)
{
	test_records();
	test_macros();
	test_eval();
	test_driver();
	return tap_done();
}
