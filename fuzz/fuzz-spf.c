/*
 * fuzz-spf - libFuzzer target for the SPF record parser, macro expander
 * and check_host() evaluator.
 *
 * The input is the TXT record of fuzz.example.  It is parsed on its own
 * (spf_record_check), then evaluated over a small fixed stub zone (include
 * and redirect targets, A/AAAA/MX/PTR data, a timeout, a CNAME loop) for
 * an IPv4 and an IPv6 client, through the spf_check() driver, and the
 * header fields are formatted.  The input is also expanded as a macro
 * string, in domain and explanation mode.  Invariants: a result is always
 * one of the seven, a reason is always there, the DNS questions stay under
 * the cap, the Received-SPF text holds no CR or LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_stub.h"
#include "mail/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed zone around the fuzzed record. */
static void zone(struct dns_stub *st, const uint8_t *data, size_t size)
{
	dns_stub_add_txt(st, "fuzz.example", DNS_T_TXT, data, size);
	dns_stub_add(st, "fuzz.example", DNS_T_A, "192.0.2.1");
	dns_stub_add(st, "fuzz.example", DNS_T_AAAA, "2001:db8::1");
	dns_stub_add(st, "fuzz.example", DNS_T_MX, "10 mx.fuzz.example");
	dns_stub_add(st, "fuzz.example", DNS_T_MX, "20 .");
	dns_stub_add(st, "mx.fuzz.example", DNS_T_A, "192.0.2.2");
	dns_stub_add(st, "mx.fuzz.example", DNS_T_AAAA, "2001:db8::2");
	dns_stub_add(st, "inc.example", DNS_T_TXT,
		     "v=spf1 ip4:192.0.2.0/28 ptr include:fuzz.example ~all");
	dns_stub_add(st, "red.example", DNS_T_TXT,
		     "v=spf1 exists:%{ir}.%{l1r-}.x.example redirect=%{d}");
	dns_stub_add(st, "why.example", DNS_T_TXT, "%{c} %{p} %{r} %{t} %{S}");
	dns_stub_add(st, "1.2.0.192.in-addr.arpa", DNS_T_PTR, "fuzz.example");
	dns_stub_add(st, "1.2.0.192.in-addr.arpa", DNS_T_PTR,
		     "mx.fuzz.example");
	dns_stub_timeout(st, "slow.example", 0);
	dns_stub_add(st, "loop.example", DNS_T_CNAME, "loop.example");
}

struct seen {
	int calls;
};

/* spf_check callback: check the invariants on the finished evaluator. */
static void done(void *arg, struct spf *s)
{
	struct seen *seen = arg;
	struct buf b;

	seen->calls++;
	if ((unsigned)spf_result(s) > SPF_PERMERROR || !spf_reason(s) ||
	    spf_queries(s) > 256)
		abort();
	buf_init(&b, 1 << 16);
	if (spf_received_spf_header(s, &b) == 0 && b.p &&
	    strpbrk(b.p, "\r\n"))
		abort();
	buf_reset(&b);
	spf_auth_results(s, &b);
	buf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ips[] = { "192.0.2.1", "2001:db8::1" };
	struct dns_stub *st;
	struct seen seen = { 0 };
	char err[160], *text;
	struct spf *s;
	struct buf b;
	size_t i;

	if (size > 4096)
		return 0;
	spf_record_check((const char *)data, size, err, sizeof(err));
	st = dns_stub_new();
	zone(st, data, size);
	for (i = 0; i < 2; i++)
		spf_check(dns_stub_resolver(st), ips[i], "a-b+c@fuzz.example",
			  "helo.fuzz.example", "mx.example", done, &seen);
	if (seen.calls != 2)
		abort();
	dns_stub_free(st);

	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	s = spf_new("2001:db8::1", "x@fuzz.example", "h", NULL);
	buf_init(&b, 4096);
	spf_expand(s, text, "fuzz.example", false, &b);
	buf_reset(&b);
	spf_expand(s, text, "fuzz.example", true, &b);
	buf_deinit(&b);
	spf_free(s);
	free(text);
	return 0;
}
