/*
 * fuzz-dmarc-report - libFuzzer target for the DMARC aggregate report
 * reader (src/mail/dmarc_report.c, dmarc_report_unwrap.c).
 *
 * The input is what a rua address receives: XML, gzip, zip or a message.
 * Invariants checked: an OK report has its required fields, NUL-terminated
 * strings within DMARC_REPORT_STR_MAX, lowercase result tokens, records
 * within the limit and a count sum that adds up; an error has a reason;
 * loading is deterministic (a second load gives the same outcome).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dmarc_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-dmarc-report: invariant broken: %s\n", what);
	abort();
}

/* A kept string: present, bounded, no control bytes. */
static void str_ok(const char *s, const char *what)
{
	size_t i;

	if (!s)
		fail(what);
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || i >= DMARC_REPORT_STR_MAX)
			fail(what);
}

/* A result token: str_ok and no uppercase ASCII. */
static void token_ok(const char *s, const char *what)
{
	str_ok(s, what);
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			fail(what);
}

/* Check an OK report. */
static void check(const struct dmarc_report *r)
{
	uint64_t sum = 0;
	size_t i, k;

	str_ok(r->org_name, "org_name");
	str_ok(r->email, "email");
	str_ok(r->report_id, "report_id");
	token_ok(r->domain, "domain");
	if (!*r->report_id || !*r->domain)
		fail("required field empty");
	token_ok(r->p, "p");
	token_ok(r->sp, "sp");
	if (r->pct < -1 || r->pct > 100)
		fail("pct");
	if (r->n_rec > DMARC_REPORT_RECORDS_MAX)
		fail("records");
	for (i = 0; i < r->n_rec; i++) {
		const struct dmarc_report_record *o = &r->rec[i];

		if (!memchr(o->source_ip, 0, sizeof(o->source_ip)) ||
		    !o->source_ip[0])
			fail("source_ip");
		if (o->count > DMARC_REPORT_COUNT_MAX)
			fail("count");
		token_ok(o->disposition, "disposition");
		token_ok(o->dkim, "dkim");
		token_ok(o->spf, "spf");
		str_ok(o->header_from, "header_from");
		if (o->n_dkim_auth > DMARC_REPORT_AUTH_MAX ||
		    o->n_spf_auth > DMARC_REPORT_AUTH_MAX)
			fail("auth results");
		for (k = 0; k < o->n_dkim_auth; k++) {
			token_ok(o->dkim_auth[k].result, "dkim result");
			str_ok(o->dkim_auth[k].selector, "selector");
		}
		for (k = 0; k < o->n_spf_auth; k++)
			token_ok(o->spf_auth[k].result, "spf result");
		sum += o->count;
	}
	if (sum != r->count_sum)
		fail("count sum");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_report r, r2;
	char err[256], err2[256];
	int rc, rc2;

	rc = dmarc_report_load(data, size, &r, err, sizeof(err));
	if (rc == DMARC_REPORT_OK)
		check(&r);
	else if (rc < 0 || !err[0] || !memchr(err, 0, sizeof(err)))
		fail("error without a reason");
	rc2 = dmarc_report_load(data, size, &r2, err2, sizeof(err2));
	if (rc != rc2 || (rc == 0 && (r.n_rec != r2.n_rec ||
				     r.count_sum != r2.count_sum)))
		fail("not deterministic");
	dmarc_report_deinit(&r);
	dmarc_report_deinit(&r2);
	return 0;
}
