/*
 * fuzz-message - libFuzzer target for the whole-message reader of
 * `mamori scan` (mailauth_message in src/core/mailauth.c: header fields,
 * folding, the mbox line, the header/body boundary) and everything the
 * inbound verdict then parses from attacker bytes: From (dmarc_from),
 * DKIM-Signature tags, Authentication-Results, the body canonicalizer.
 *
 * DNS is a stub that knows no names (every question NXDOMAIN), so the
 * whole evaluation runs to its end.  Invariants: no more header fields
 * than lines; a verdict with an Authentication-Results value starting
 * with our authserv-id; a known action; a 5xx/4xx code exactly for reject
 * and tempfail; the same input gives the same verdict twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_stub.h"
#include "core/mailauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-message: invariant broken: %s\n", what);
	abort();
}

/* Evaluate data once; the AR value (malloc'd) and the action. */
static char *run(const uint8_t *data, size_t size, struct dns_stub *z,
		 enum mailauth_action *action)
{
	struct mailauth_config cfg = {
		.authserv_id = "mx.fuzz.example",
		.now = 1700000000,
	};
	struct mailauth *m = mailauth_new(&cfg);
	const struct mailauth_verdict *v;
	size_t fields, lines = 1, i;
	char *ar;

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	mailauth_envelope(m, "192.0.2.1", "helo.fuzz.example",
			  "sender@fuzz.example");
	fields = mailauth_message(m, (const char *)data, size);
	if (fields > lines)
		fail("more header fields than lines");
	v = mailauth_end(m, dns_stub_resolver(z));
	if (!v || !v->ar || strncmp(v->ar, "mx.fuzz.example;", 16) != 0)
		fail("Authentication-Results without our authserv-id");
	if (v->action != MAILAUTH_ACCEPT && v->action != MAILAUTH_REJECT &&
	    v->action != MAILAUTH_TEMPFAIL && v->action != MAILAUTH_QUARANTINE)
		fail("unknown action");
	if ((v->action == MAILAUTH_REJECT) != (v->rcode && v->rcode[0] == '5'))
		fail("reject without 5xx, or 5xx without reject");
	if ((v->action == MAILAUTH_TEMPFAIL) != (v->rcode && v->rcode[0] == '4'))
		fail("tempfail without 4xx, or 4xx without tempfail");
	*action = v->action;
	ar = strdup(v->ar);
	mailauth_free(m);
	return ar;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_stub *z;
	enum mailauth_action a1, a2;
	char *ar1, *ar2;

	if (!z)
		z = dns_stub_new();	/* knows no names: NXDOMAIN */
	ar1 = run(data, size, z, &a1);
	ar2 = run(data, size, z, &a2);
	if (!ar1 || !ar2 || strcmp(ar1, ar2) != 0 || a1 != a2)
		fail("not deterministic");
	free(ar1);
	free(ar2);
	return 0;
}
