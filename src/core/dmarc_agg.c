/*
 * dmarc_agg - read back the DMARC aggregate rows the milter counts, for
 * GET /v1/dmarc/aggregate and "mamori dmarc" (docs/api.md).
 *
 * core/mailrec.c writes one row per (day, source, result) in namespace
 * "dmarc_agg" for the milter's inbound mail (docs/design/milter.md):
 *
 *   DAY|SOURCE_IP|HEADER_FROM|SPF|DKIM|DMARC|DISPOSITION  ->  COUNT
 *
 * followed, since the milter keeps them, by the identifiers
 * (|ALIGN|OVERRIDE|SPF_SCOPE|SPF_DOMAIN|SIGS; core.h has the format,
 * core_dmarc_agg_key() writes it and core_dmarc_agg_parse() reads either
 * form, here and for dmarc_send.c).  DAY is YYYY-MM-DD in UTC, COUNT a
 * decimal number.  Apart from the key functions this file only reads:
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
#include "core/core.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define DMARC_NS CORE_DMARC_AGG_NS
#define DMARC_LIST_MAX 10000
#define DMARC_FIELDS 7		/* the old format */
#define DMARC_FIELDS_NEW 12
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

/* One stored row: parse, filter, count, list. */
static void agg_row(struct agg_scan *a, const char *key, const char *value)
{
	struct core_dmarc_agg_fields f;
	char *k = xstrdup(key);
	int64_t n;
	int res;

	if (core_dmarc_agg_parse(k, &f) != 0 || (n = count_parse(value)) < 0) {
		a->skipped++;
		free(k);
		return;
	}
	res = dmarc_result_index(f.dmarc, strlen(f.dmarc));
	/* Fixed-width ISO days compare as strings. */
	if ((a->from[0] && memcmp(f.day, a->from, 10) < 0) ||
	    (a->to[0] && memcmp(f.day, a->to, 10) > 0) ||
	    (a->domain && strcasecmp(f.header_from, a->domain) != 0)) {
		free(k);
		return;
	}
	add_sat(&a->messages, n);
	add_sat(&a->by_result[res], n);
	if (!strcmp(f.spf, "pass"))
		add_sat(&a->spf_pass, n);
	if (!strcmp(f.dkim, "pass"))
		add_sat(&a->dkim_pass, n);
	if (!strcmp(f.disposition, "quarantine"))
		add_sat(&a->quarantined, n);
	else if (!strcmp(f.disposition, "reject"))
		add_sat(&a->rejected, n);
	if (a->listed == DMARC_LIST_MAX) {
		a->truncated = true;
		free(k);
		return;
	}
	if (a->listed == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		a->rows = xrealloc(a->rows, a->cap * sizeof(*a->rows));
		a->keys = xrealloc(a->keys, a->cap * sizeof(*a->keys));
	}
	/* The fields point into the row's own copy of the key. */
	a->keys[a->listed] = k;
	core_dmarc_row_set(&a->rows[a->listed++], &f, n);
}

void core_dmarc_row_set(struct core_dmarc_row *r,
			const struct core_dmarc_agg_fields *f, int64_t n)
{
	r->day = f->day;
	r->source_ip = f->source_ip;
	r->header_from = f->header_from;
	r->spf = f->spf;
	r->dkim = f->dkim;
	r->dmarc = f->dmarc;
	r->disposition = f->disposition;
	r->auth = f->auth;
	r->count = n;
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

/* Append s cut to max bytes (lowercased if lower), every byte outside
 * [A-Za-z0-9._-] as %XX. */
static void enc(struct buf *b, const char *s, size_t max, bool lower)
{
	static const char hex[] = "0123456789ABCDEF";
	char out[3 * CORE_DMARC_NAME_MAX];
	size_t i, n = 0;

	for (i = 0; s && s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (lower && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_') {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	buf_append(b, out, n);
}

/* s, or "" for NULL. */
static const char *nz(const char *s)
{
	return s ? s : "";
}

char *core_dmarc_agg_key(time_t when, const struct core_dmarc_agg_fields *f)
{
	const struct core_dmarc_auth *a = &f->auth;
	char day[16];
	struct tm tm;
	struct buf b;
	size_t i;

	gmtime_r(&when, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	buf_init(&b, 16384);	/* the longest key is under 5 KB */
	buf_printf(&b, "%s|%s|%s|%s|%s|%s|%s", day, f->source_ip,
		   f->header_from, f->spf, f->dkim, f->dmarc, f->disposition);
	if (a->align && a->align[0]) {
		buf_printf(&b, "|%s|%s|%s|", a->align, nz(a->override),
			   nz(a->spf_scope));
		enc(&b, a->spf_domain, CORE_DMARC_NAME_MAX, true);
		buf_puts(&b, "|");
		for (i = 0; i < a->nsig && i < CORE_DMARC_DKIM_MAX; i++) {
			if (i)
				buf_puts(&b, ",");
			enc(&b, a->sig[i].d, CORE_DMARC_NAME_MAX, true);
			buf_puts(&b, ":");
			enc(&b, a->sig[i].s, CORE_DMARC_SEL_MAX, false);
			buf_printf(&b, ":%s", nz(a->sig[i].result));
		}
	}
	return buf_steal(&b);
}

/* Decode %XX in s in place; bytes that are not printable ASCII become
 * '_'.  False for a broken escape or a name longer than max. */
static bool dec(char *s, size_t max)
{
	char *w = s;
	size_t n = 0;

	for (; *s; s++, n++) {
		int c = (unsigned char)*s;

		if (c == '%') {
			int h = buf_hex_value(s[1]), l;

			if (h < 0 || (l = buf_hex_value(s[2])) < 0)
				return false;
			c = h * 16 + l;
			s += 2;
		}
		*w++ = c <= ' ' || c > '~' ? '_' : (char)c;
	}
	*w = '\0';
	return n <= max;
}

/* Is s one of the NULL-terminated list? */
static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Parse SIGS ("D:S:RES,...") in place into a. */
static bool sigs_parse(char *p, struct core_dmarc_auth *a)
{
	while (*p) {
		char *comma = strchr(p, ','), *c1, *c2;
		struct core_dmarc_sig *g;

		if (a->nsig == CORE_DMARC_DKIM_MAX)
			return false;
		if (comma)
			*comma = '\0';
		if (!(c1 = strchr(p, ':')) || !(c2 = strchr(c1 + 1, ':')))
			return false;
		*c1 = *c2 = '\0';
		g = &a->sig[a->nsig++];
		g->d = p;
		g->s = c1 + 1;
		g->result = c2 + 1;
		if (!dec(p, CORE_DMARC_NAME_MAX) ||
		    !dec(c1 + 1, CORE_DMARC_SEL_MAX) ||
		    !token_ok(g->result, strlen(g->result)))
			return false;
		if (!comma)
			break;
		p = comma + 1;
	}
	return true;
}

int core_dmarc_agg_parse(char *key, struct core_dmarc_agg_fields *f)
{
	static const char *const aligns[] = { "none", "spf", "dkim", "both",
					      NULL };
	static const char *const overrides[] = { "", "local_policy",
		"mailing_list", "other", "policy_test_mode",
		"trusted_forwarder", NULL };
	static const char *const scopes[] = { "", "mfrom", "helo", NULL };
	static const char *const disps[] = { "none", "quarantine", "reject",
					     NULL };
	char *v[DMARC_FIELDS_NEW], *p = key;
	size_t n = 0;

	memset(f, 0, sizeof(*f));
	while (n < DMARC_FIELDS_NEW) {
		v[n++] = p;
		if (!(p = strchr(p, '|')))
			break;
		*p++ = '\0';
	}
	if (p || (n != DMARC_FIELDS && n != DMARC_FIELDS_NEW))
		return -1;
	if (!day_ok(v[0], strlen(v[0])) || !ip_ok(v[1], strlen(v[1])) ||
	    !domain_ok(v[2], strlen(v[2])) || !token_ok(v[3], strlen(v[3])) ||
	    !token_ok(v[4], strlen(v[4])) ||
	    dmarc_result_index(v[5], strlen(v[5])) < 0 ||
	    !one_of(v[6], disps))
		return -1;
	f->day = v[0];
	f->source_ip = v[1];
	f->header_from = v[2];
	f->spf = v[3];
	f->dkim = v[4];
	f->dmarc = v[5];
	f->disposition = v[6];
	f->auth.align = f->auth.override = f->auth.spf_scope =
		f->auth.spf_domain = "";
	if (n == DMARC_FIELDS)
		return 0;
	if (!one_of(v[7], aligns) || !one_of(v[8], overrides) ||
	    !one_of(v[9], scopes) || !dec(v[10], CORE_DMARC_NAME_MAX) ||
	    !sigs_parse(v[11], &f->auth))
		return -1;
	f->auth.align = v[7];
	f->auth.override = v[8];
	f->auth.spf_scope = v[9];
	f->auth.spf_domain = v[10];
	return 0;
}
