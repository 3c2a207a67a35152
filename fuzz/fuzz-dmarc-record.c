/*
 * fuzz-dmarc-record - libFuzzer target for the DMARC record parser
 * (src/mail/dmarc_record.c).
 *
 * The input is one TXT record.  Invariants checked: the output is fully
 * initialised whatever the outcome; an OK record has a real p, r/s
 * alignment, a psd of y/n/u, pct in -1..100, NUL-terminated rua/ruf/fo
 * within their limits; parsing is deterministic.  It also drives a whole
 * evaluation with the record as the only DNS data, so the state machine
 * sees arbitrary records (the answer is the record for every TXT
 * question and NXDOMAIN for the rest).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-dmarc-record: invariant broken: %s\n", what);
	abort();
}

/* Check one parsed record. */
static void check(int rc, const struct dmarc_record *r)
{
	if (rc != DMARC_REC_OK && rc != DMARC_REC_NOT_DMARC &&
	    rc != DMARC_REC_INVALID)
		fail("return code");
	if (r->adkim != 'r' && r->adkim != 's')
		fail("adkim");
	if (r->aspf != 'r' && r->aspf != 's')
		fail("aspf");
	if (r->psd != 'y' && r->psd != 'n' && r->psd != 'u')
		fail("psd");
	if (r->pct < -1 || r->pct > 100)
		fail("pct");
	if (memchr(r->rua, '\0', sizeof(r->rua)) == NULL ||
	    memchr(r->ruf, '\0', sizeof(r->ruf)) == NULL ||
	    memchr(r->fo, '\0', sizeof(r->fo)) == NULL)
		fail("string termination");
	if (rc == DMARC_REC_OK && (r->p < DMARC_P_NONE || r->p > DMARC_P_REJECT))
		fail("p of an OK record");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record r1, r2;
	struct dmarc_input in;
	struct dmarc_config cfg;
	struct dmarc_eval *e;
	struct dns_question q;
	struct dns_answer a;
	struct dns_rr rr;
	int rc, steps = 0;

	rc = dmarc_record_parse((const char *)data, size, &r1);
	check(rc, &r1);
	if (dmarc_record_parse((const char *)data, size, &r2) != rc ||
	    memcmp(&r1, &r2, sizeof(r1)) != 0)
		fail("not deterministic");

	memset(&in, 0, sizeof(in));
	dmarc_config_init(&cfg);
	in.author_domain = "a.b.c.d.e.f.g.h.example.com";
	in.spf_domain = "x.example.com";
	in.spf_pass = true;
	in.dkim_domains[0] = "c.d.e.f.g.h.example.com";
	in.ndkim = 1;
	e = dmarc_eval_new(&in, &cfg);
	rc = dmarc_eval_step(e, NULL, &q);
	while (rc == DMARC_E_NEED_DNS) {
		if (++steps > DMARC_MAX_QUERIES)
			fail("too many questions");
		memset(&a, 0, sizeof(a));
		memset(&rr, 0, sizeof(rr));
		if (q.type == DNS_T_TXT) {
			rr.type = DNS_T_TXT;
			rr.text = (char *)data;
			rr.text_len = size;
			a.rr = &rr;
			a.n = 1;
		} else {
			a.rcode = DNS_NXDOMAIN;
		}
		rc = dmarc_eval_step(e, &a, &q);
	}
	if (dmarc_eval_result(e)->queries > DMARC_MAX_QUERIES)
		fail("query count");
	dmarc_eval_free(e);
	return 0;
}
