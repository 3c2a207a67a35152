/*
 * test-dmarc-advice - core_dmarc_advice_sources(): the staged advice of
 * `mamori domain check` read from ingested report rows (a memory store
 * holding dmarc_rep rows as ingest writes them), through
 * domaincheck_advice().  Table-driven: each row builds its own store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dmarc_reports.h"
#include "core/domaincheck-internal.h"
#include "store/store.h"
#include "tap.h"

#define NOW (1796083200 + 86400)

/* One kind of record written every day of a row's history. */
struct rec {
	const char *ip, *dkim, *spf;
	int count;
};

/* Write days days of records (today back) for shop.example into st. */
static void fill(struct store *st, int days, const struct rec *r, size_t n)
{
	char key[200], val[200], day[11];
	struct tm tm;
	time_t t;
	size_t k;
	int d;

	for (d = 0; d < days; d++) {
		t = (time_t)(NOW - (int64_t)d * 86400);
		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		for (k = 0; k < n; k++) {
			snprintf(key, sizeof(key), "shop.example|%s|%s|"
				 "google.com|r%d|%zu", day, r[k].ip, d, k);
			snprintf(val, sizeof(val), "{\"count\":%d,\"disp\":"
				 "\"none\",\"dkim\":\"%s\",\"spf\":\"%s\","
				 "\"reporter\":\"google.com\"}", r[k].count,
				 r[k].dkim, r[k].spf);
			store_put(st, CORE_DMARC_REP_NS, key, val, 0, NULL,
				  NULL);
		}
	}
}

int main(void)
{
	static const struct rec clean[] = {
		{ "192.0.2.10", "pass", "pass", 500 },	/* our relay */
		{ "198.51.100.7", "pass", "fail", 10 },	/* a mailing list */
		{ "198.51.100.8", "fail", "pass", 300 },	/* ESP, SPF */
		{ "203.0.113.66", "fail", "fail", 40 },	/* forger */
		{ "192.0.2.99", "fail", "fail", 2 },	/* 0.25 % fails */
	};
	static const struct rec failing[] = {
		{ "192.0.2.10", "pass", "pass", 500 },
		{ "192.0.2.99", "fail", "fail", 100 },	/* a broken host */
		{ "192.0.2.98", "fail", "fail", 10 },
		{ "203.0.113.66", "fail", "fail", 40 },
	};
	struct {
		const char *label;
		const struct rec *r;
		size_t n;
		int days;
		enum dmarc_policy p;
		const char *code, *text;	/* expected finding */
		unsigned report_days;
		unsigned long long ours;	/* DOMAINCHECK_SRC_OURS */
	} rows[] = {
		{ "nothing ingested: publish rua", NULL, 0, 0, DMARC_P_NONE,
		  "advice.no_reports", "publish rua", 0, 0 },
		{ "10 days at 99.7 %: wait for 14", clean, 5, 10,
		  DMARC_P_NONE, "advice.wait", "10 days of reports, 14 needed",
		  10, 8020 },
		{ "14 days at 99.7 %: quarantine is safe", clean, 5, 14,
		  DMARC_P_NONE, "advice.tighten", "p=quarantine is safe", 14,
		  14 * 802 },
		{ "20 days at quarantine: wait for 30", clean, 5, 20,
		  DMARC_P_QUARANTINE, "advice.wait", "30 needed before "
		  "p=reject", 20, 20 * 802 },
		{ "40 days stored, 30 looked at: reject is safe", clean, 5, 40,
		  DMARC_P_QUARANTINE, "advice.tighten", "p=reject is safe",
		  30, 30 * 802 },
		{ "the ESP's volume counts as ours (authorised)", clean, 5,
		  14, DMARC_P_NONE, "advice.tighten", "over 14 days", 14,
		  14 * 802 },
		{ "a failing host of ours is named first", failing, 4, 30,
		  DMARC_P_NONE, "advice.failing_source", "192.0.2.99: 3000 of "
		  "3000", 30, 30 * 610 },
		{ "81.9 % aligned: not yet", failing, 4, 30, DMARC_P_NONE,
		  "advice.not_yet", "only 81.9 %", 30, 30 * 610 },
	};
	struct domaincheck_sources src;
	struct domaincheck_report rep;
	const struct domaincheck_finding *f;
	struct store *st;
	char err[256];
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!ok(store_open("memory:", NULL, &st, err, sizeof(err)) ==
			0, "%s: store opens", rows[i].label))
			continue;
		fill(st, rows[i].days, rows[i].r, rows[i].n);
		r = core_dmarc_advice_sources(st, "Shop.Example",
					      "192.0.2.0/24", NOW, &src, err,
					      sizeof(err));
		is_int(r, 0, "%s: read", rows[i].label);
		ok(src.window_days == 30 &&
		   src.report_days == rows[i].report_days,
		   "%s: %u of %u days", rows[i].label, src.report_days,
		   src.window_days);
		ok(src.cls[DOMAINCHECK_SRC_OURS].messages == rows[i].ours,
		   "%s: ours %llu", rows[i].label,
		   (unsigned long long)src.cls[DOMAINCHECK_SRC_OURS].messages);
		domaincheck_report_init(&rep, "shop.example");
		domaincheck_advice(&rep, rows[i].p, &src);
		f = domaincheck_find(&rep, rows[i].code);
		ok(f && strstr(f->text, rows[i].text), "%s: %s \"%s\"",
		   rows[i].label, rows[i].code, f ? f->text : "(none)");
		domaincheck_report_deinit(&rep);
		store_close(st);
	}

	/* The failing list: most failing first, ours only, classes. */
	store_open("memory:", NULL, &st, err, sizeof(err));
	fill(st, 3, failing, 4);
	core_dmarc_advice_sources(st, "shop.example", "192.0.2.0/24", NOW,
				  &src, err, sizeof(err));
	ok(src.nfailing == 2 && !strcmp(src.failing[0].source, "192.0.2.99")
	   && !strcmp(src.failing[1].source, "192.0.2.98") &&
	   src.failing[0].cls == DOMAINCHECK_SRC_OURS,
	   "failing: 192.0.2.99 then 192.0.2.98 (%zu)", src.nfailing);
	ok(src.cls[DOMAINCHECK_SRC_FORGERS].messages == 120 &&
	   src.cls[DOMAINCHECK_SRC_FORGERS].aligned == 0,
	   "forgers 120, none aligned");
	ok(src.cls[DOMAINCHECK_SRC_OURS].aligned == 1500,
	   "ours aligned 1500 (%llu)",
	   (unsigned long long)src.cls[DOMAINCHECK_SRC_OURS].aligned);

	/* Store down: no sources, the caller says so. */
	st->fault = true;
	r = core_dmarc_advice_sources(st, "shop.example", "", NOW, &src, err,
				      sizeof(err));
	ok(r == CORE_E_RETRY && *err, "store down: retry (%s)", err);
	st->fault = false;
	r = core_dmarc_advice_sources(st, "shop.example", "10.0.0.0/40", NOW,
				      &src, err, sizeof(err));
	ok(r == CORE_E_INVALID, "bad dmarc_our_networks: invalid");
	store_close(st);
	return tap_done();
}
