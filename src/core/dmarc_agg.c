/*
 * dmarc_agg - read back the DMARC aggregate rows the milter counts, for
 * GET /v1/dmarc/aggregate and "mamori dmarc" (docs/api.md).
 *
 * core/mailrec.c writes one row per (day, source, result) in namespace
 * "dmarc_agg" for the milter's inbound mail (docs/design/milter.md):
 *
 *   DAY|SOURCE_IP|HEADER_FROM|SPF|DKIM|DMARC|DISPOSITION  ->  COUNT
 *
 * DAY is YYYY-MM-DD in UTC, COUNT a decimal number.  This file only reads:
 * one store_scan(), narrowed to "DAY|" for one day and to the common prefix
 * of from and to for a range ("2026-05-" for two days of May), then the
 * filters.  A row whose key or value does not parse is skipped and counted
 * ("skipped"), never trusted: the store may hold what another version
 * wrote, or damage.
 *
 * Limits: at most DMARC_LIST_MAX rows are listed ("truncated": true); the
 * totals still count every matching row.  A count is at most 15 digits,
 * so it stays exact in any JSON reader (IEEE doubles hold 2^53).  Counts
 * the milter has not flushed yet (every 60 s and at shutdown) are not in
 * the store and so not here.
 *
 * The scan state lives on the heap and the answer goes out from the final
 * row callback, so a store that answers later works too.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/admin-internal.h"
#include "util/xalloc.h"

#define DMARC_NS CORE_DMARC_AGG_NS
#define DMARC_LIST_MAX 10000
#define DMARC_FIELDS 7
#define DMARC_COUNT_DIGITS 15
#define DMARC_DOMAIN_MAX 253	/* RFC 1035 2.3.4, without the dot */
#define DMARC_TOKEN_MAX 16	/* longest result name: "temperror" */

/* The DMARC results of RFC 8601 2.7.1 / RFC 9989, in totals order. */
const char *const core_dmarc_result_names[CORE_DMARC_NRESULTS] = {
	"pass", "fail", "none", "temperror", "permerror",
};
#define dmarc_results core_dmarc_result_names
#define DMARC_NRESULTS CORE_DMARC_NRESULTS

/* One listing in progress. */
struct agg_scan {
	core_admin_cb *cb;
	void *arg;
	char *domain;		/* filter, lowercased; NULL: any */
	char from[11], to[11];	/* inclusive day range; "" = open */
	struct core_dmarc_row *rows;
	char **keys;		/* per row: its key, split in place */
	size_t listed, cap, skipped;
	bool truncated;
	int64_t messages, spf_pass, dkim_pass, quarantined, rejected;
	int64_t by_result[DMARC_NRESULTS];
};

/* Add n to *sum, saturating instead of overflowing. */
static void add_sat(int64_t *sum, int64_t n)
{
	*sum = *sum > INT64_MAX - n ? INT64_MAX : *sum + n;
}

/* Is s[0..n) a calendar date YYYY-MM-DD (years 1970..9999)? */
static bool day_ok(const char *s, size_t n)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
				     30, 31 };
	int y = 0, m, d;
	size_t i;

	if (n != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	for (i = 0; i < 4; i++)
		y = y * 10 + (s[i] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	/* 29 February only in a leap year (Gregorian). */
	return !(m == 2 && d == 29 &&
		 !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
}

/* Is s[0..n) a domain as the milter writes it: printable ASCII without
 * blanks and '|'?  (Lowercased A-labels in practice; the check keeps what
 * goes into JSON clean without judging DNS syntax a second time.) */
static bool domain_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > DMARC_DOMAIN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '|')
			return false;
	return true;
}

/* Is s[0..n) a result name: 1..DMARC_TOKEN_MAX lowercase letters? */
static bool token_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > DMARC_TOKEN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return false;
	return true;
}

/* Is s[0..n) an IPv4 or IPv6 address? */
static bool ip_ok(const char *s, size_t n)
{
	unsigned char a[16];
	char tmp[64];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET, tmp, a) == 1 ||
	       inet_pton(AF_INET6, tmp, a) == 1;
}

/* The index of s[0..n) in dmarc_results, or -1. */
static int dmarc_result_index(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < DMARC_NRESULTS; i++)
		if (strlen(dmarc_results[i]) == n &&
		    memcmp(dmarc_results[i], s, n) == 0)
			return (int)i;
	return -1;
}

/* Parse a count: 1..DMARC_COUNT_DIGITS decimal digits.  -1 if not one. */
static int64_t count_parse(const char *v)
{
	int64_t n = 0;
	size_t i, len = v ? strlen(v) : 0;

	if (len == 0 || len > DMARC_COUNT_DIGITS)
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

/* Span of one key field. */
struct field {
	const char *p;
	size_t n;
};

/* Split key on '|' into exactly DMARC_FIELDS fields; false otherwise. */
static bool key_split(const char *key, struct field f[DMARC_FIELDS])
{
	const char *p = key, *bar;
	int i;

	for (i = 0; i < DMARC_FIELDS; i++) {
		bar = strchr(p, '|');
		if ((bar != NULL) != (i < DMARC_FIELDS - 1))
			return false;
		f[i].p = p;
		f[i].n = bar ? (size_t)(bar - p) : strlen(p);
		/* Not NULL + 1 after the last field: undefined (UBSan,
		 * fuzz-records). */
		if (bar)
			p = bar + 1;
	}
	return true;
}

/* Does the span equal the NUL-terminated s? */
static bool field_is(const struct field *f, const char *s)
{
	return strlen(s) == f->n && memcmp(f->p, s, f->n) == 0;
}

/* One stored row: parse, filter, count, list. */
static void agg_row(struct agg_scan *a, const char *key, const char *value)
{
	struct field f[DMARC_FIELDS];
	struct core_dmarc_row *r;
	const char **dst[DMARC_FIELDS];
	char *k;
	int64_t n;
	int res, i;

	if (!key_split(key, f) || !day_ok(f[0].p, f[0].n) ||
	    !ip_ok(f[1].p, f[1].n) || !domain_ok(f[2].p, f[2].n) ||
	    !token_ok(f[3].p, f[3].n) || !token_ok(f[4].p, f[4].n) ||
	    (res = dmarc_result_index(f[5].p, f[5].n)) < 0 ||
	    !(field_is(&f[6], "none") || field_is(&f[6], "quarantine") ||
	      field_is(&f[6], "reject")) ||
	    (n = count_parse(value)) < 0) {
		a->skipped++;
		return;
	}
	/* Fixed-width ISO days compare as strings. */
	if ((a->from[0] && memcmp(f[0].p, a->from, 10) < 0) ||
	    (a->to[0] && memcmp(f[0].p, a->to, 10) > 0))
		return;
	if (a->domain && (strlen(a->domain) != f[2].n ||
			  strncasecmp(f[2].p, a->domain, f[2].n) != 0))
		return;
	add_sat(&a->messages, n);
	add_sat(&a->by_result[res], n);
	if (field_is(&f[3], "pass"))
		add_sat(&a->spf_pass, n);
	if (field_is(&f[4], "pass"))
		add_sat(&a->dkim_pass, n);
	if (field_is(&f[6], "quarantine"))
		add_sat(&a->quarantined, n);
	else if (field_is(&f[6], "reject"))
		add_sat(&a->rejected, n);
	if (a->listed == DMARC_LIST_MAX) {
		a->truncated = true;
		return;
	}
	if (a->listed == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		a->rows = xrealloc(a->rows, a->cap * sizeof(*a->rows));
		a->keys = xrealloc(a->keys, a->cap * sizeof(*a->keys));
	}
	r = &a->rows[a->listed];
	k = a->keys[a->listed] = xstrdup(key);
	dst[0] = &r->day;
	dst[1] = &r->source_ip;
	dst[2] = &r->header_from;
	dst[3] = &r->spf;
	dst[4] = &r->dkim;
	dst[5] = &r->dmarc;
	dst[6] = &r->disposition;
	/* The fields, NUL-terminated in the row's own copy of the key. */
	for (i = 0; i < DMARC_FIELDS; i++) {
		char *p = k + (f[i].p - key);

		p[f[i].n] = '\0';
		*dst[i] = p;
	}
	r->count = n;
	a->listed++;
}

/* Free a listing's state. */
static void agg_scan_free(struct agg_scan *a)
{
	size_t i;

	for (i = 0; i < a->listed; i++)
		free(a->keys[i]);
	free(a->keys);
	free(a->rows);
	free(a->domain);
	free(a);
}

/* store_row_cb: rows, then the end; the answer goes out at the end. */
static void agg_scan_row(void *arg, int result, const char *key,
			 const char *value, int64_t ts)
{
	struct agg_scan *a = arg;
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_DMARC };
	struct core_dmarc_report *d = &r.dmarc;

	(void)ts;
	if (key) {
		agg_row(a, key, value);
		return;
	}
	if (result != STORE_OK) {
		core_reply(a->cb, a->arg, CORE_E_RETRY, "store unavailable");
		agg_scan_free(a);
		return;
	}
	d->v = a->rows;
	d->n = a->listed;
	d->messages = a->messages;
	d->spf_pass = a->spf_pass;
	d->dkim_pass = a->dkim_pass;
	d->quarantined = a->quarantined;
	d->rejected = a->rejected;
	memcpy(d->by_result, a->by_result, sizeof(d->by_result));
	d->skipped = a->skipped;
	d->truncated = a->truncated;
	a->cb(a->arg, &r);
	agg_scan_free(a);
}

/* Reply 400 with msg and free a. */
static void agg_refuse(struct agg_scan *a, const char *msg)
{
	core_reply(a->cb, a->arg, CORE_E_INVALID, msg);
	agg_scan_free(a);
}

void core_dmarc_aggregate(struct core *c, const struct core_dmarc_query *q,
			  core_admin_cb *cb, void *arg)
{
	struct agg_scan *a = xcalloc(1, sizeof(*a));
	char prefix[16] = "";
	const char *day = q->day && *q->day ? q->day : NULL;
	const char *from = q->from && *q->from ? q->from : NULL;
	const char *to = q->to && *q->to ? q->to : NULL;
	size_t i, n;

	a->cb = cb;
	a->arg = arg;
	if ((day && !day_ok(day, strlen(day))) ||
	    (from && !day_ok(from, strlen(from))) ||
	    (to && !day_ok(to, strlen(to)))) {
		agg_refuse(a, "day, from and to must be valid dates "
			   "YYYY-MM-DD");
		return;
	}
	if (day && (from || to)) {
		agg_refuse(a, "day excludes from and to");
		return;
	}
	if (from && to && strcmp(from, to) > 0) {
		agg_refuse(a, "from is after to");
		return;
	}
	if (q->domain && *q->domain) {
		n = strlen(q->domain);
		/* "example.com." names the same domain; the milter drops the
		 * dot too. */
		if (n > 1 && q->domain[n - 1] == '.')
			n--;
		if (!domain_ok(q->domain, n)) {
			agg_refuse(a, "domain is not a domain name");
			return;
		}
		a->domain = xmalloc(n + 1);
		memcpy(a->domain, q->domain, n);
		a->domain[n] = '\0';
	}
	if (day) {
		snprintf(prefix, sizeof(prefix), "%s|", day);
	} else {
		snprintf(a->from, sizeof(a->from), "%s", from ? from : "");
		snprintf(a->to, sizeof(a->to), "%s", to ? to : "");
		/* Every day in [from, to] starts with their common prefix. */
		for (i = 0; from && to && i < 10 && from[i] == to[i]; i++)
			prefix[i] = from[i];
		if (from && to && i == 10)
			prefix[i++] = '|';
		prefix[i] = '\0';
	}
	store_scan(c->st, DMARC_NS, prefix, agg_scan_row, a);
}

char *core_dmarc_agg_key(time_t when, const char *source_ip,
			 const char *header_from, const char *spf,
			 const char *dkim, const char *dmarc,
			 const char *disposition)
{
	char day[16];
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	return xasprintf("%s|%s|%s|%s|%s|%s|%s", day, source_ip, header_from,
			 spf, dkim, dmarc, disposition);
}
