/*
 * test-dmarc-reports - ingest into a memory store (dedup, refusal kept
 * aside, store down = retry) and the sources classification on a report
 * built for it (dmarc_reports.c, dmarc_sources.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dmarc_reports.h"
#include "store/store.h"
#include "tap.h"

/* 2026-12-01 00:00 UTC, the report's begin; "now" is a day later. */
#define BEGIN "1796083200"
#define NOW (1796083200 + 86400)

#define REC(ip, cnt, disp, dkim, spf) "<record><row><source_ip>" ip \
	"</source_ip><count>" cnt "</count><policy_evaluated><disposition>" \
	disp "</disposition><dkim>" dkim "</dkim><spf>" spf "</spf>" \
	"</policy_evaluated></row><identifiers><header_from>shop.example" \
	"</header_from></identifiers></record>"

static const char report[] =
	"<?xml version=\"1.0\"?><feedback xmlns=\"urn:ietf:params:xml:ns:"
	"dmarc-2.0\"><report_metadata><org_name>rcv.example</org_name>"
	"<email>d@rcv.example</email><report_id>r-1</report_id><date_range>"
	"<begin>" BEGIN "</begin><end>1796169599</end></date_range>"
	"</report_metadata><policy_published><domain>Shop.Example</domain>"
	"<p>quarantine</p></policy_published>"
	REC("192.0.2.10", "40", "none", "pass", "pass")	/* ours */
	REC("198.51.100.7", "5", "none", "pass", "fail")	/* forwarder */
	REC("203.0.113.9", "7", "none", "fail", "pass")	/* authorised */
	REC("203.0.113.66", "100", "quarantine", "fail", "fail") /* forger */
	REC("203.0.113.66", "20", "reject", "fail", "fail")	/* forger */
	REC("2001:db8:5:6::1", "3", "none", "fail", "fail")	/* forger */
	"</feedback>";

/* What an ingest answered. */
struct got {
	int calls;
	enum core_status status;
	char outcome[16], reason[256];
	size_t records;
	unsigned long long messages;
};

/* Ingest callback: copy the answer. */
static void on_ingest(void *arg, enum core_status status,
		      const struct core_dmarc_ingest *r)
{
	struct got *g = arg;

	g->calls++;
	g->status = status;
	snprintf(g->outcome, sizeof(g->outcome), "%s", r->outcome);
	snprintf(g->reason, sizeof(g->reason), "%s", r->reason);
	g->records = r->records;
	g->messages = r->messages;
}

/* Count rows of a namespace. */
static void on_row(void *arg, int result, const char *key, const char *v,
		   int64_t ts)
{
	(void)result; (void)v; (void)ts;
	if (key)
		++*(int *)arg;
}

/* Rows in ns. */
static int rows(struct store *st, const char *ns)
{
	int n = 0;

	store_scan(st, ns, "", on_row, &n);
	return n;
}

/* Ingest bytes and return the answer. */
static struct got ingest(struct store *st, const char *bytes)
{
	struct got g = {0};

	core_dmarc_report_ingest(st, bytes, strlen(bytes), NOW, on_ingest, &g);
	return g;
}

/* The sources answer, copied for the checks. */
struct src_got {
	enum core_status status;
	size_t n, ndays;
	unsigned long long by_class[CORE_DMARC_NCLASSES], forged_disp[3];
	char cls_of_forger[16], net_of_v6[50], day0[11];
	unsigned long long forger_count;
};

/* Sources callback. */
static void on_sources(void *arg, enum core_status status, const char *err,
		       const struct core_dmarc_sources *s)
{
	struct src_got *g = arg;
	size_t i;
	int k;

	(void)err;
	g->status = status;
	if (status != CORE_OK)
		return;
	g->n = s->n;
	g->ndays = s->ndays;
	for (k = 0; k < CORE_DMARC_NCLASSES; k++)
		g->by_class[k] = s->by_class[k];
	for (k = 0; k < 3; k++)
		g->forged_disp[k] = s->forged_disp[k];
	if (s->ndays)
		memcpy(g->day0, s->day[0].day, 11);
	for (i = 0; i < s->n; i++) {
		if (!strcmp(s->v[i].ip, "203.0.113.66")) {
			snprintf(g->cls_of_forger, sizeof(g->cls_of_forger),
				 "%s", core_dmarc_class_names[s->v[i].cls]);
			g->forger_count = s->v[i].count;
		}
		if (strchr(s->v[i].ip, ':'))
			snprintf(g->net_of_v6, sizeof(g->net_of_v6), "%s",
				 s->v[i].net);
	}
}

int main(void)
{
	struct store *st;
	struct src_got sg = {0};
	struct got g;
	char err[256];

	if (!ok(store_open("memory:", NULL, &st, err, sizeof(err)) == 0,
		"memory store opens"))
		return tap_done();

	/* Store down: retry, nothing written. */
	st->fault = true;
	g = ingest(st, report);
	ok(g.calls == 1 && g.status == CORE_E_RETRY, "store down: retry");
	st->fault = false;
	is_int(rows(st, CORE_DMARC_REP_NS), 0, "store down: nothing written");

	g = ingest(st, report);
	ok(g.status == CORE_OK && !strcmp(g.outcome, "stored") &&
	   g.records == 6 && g.messages == 175, "stored: %s %zu records %llu",
	   g.outcome, g.records, g.messages);
	is_int(rows(st, CORE_DMARC_REP_NS), 6, "six record rows");
	g = ingest(st, report);
	is_str(g.outcome, "duplicate", "same report again: duplicate");
	is_int(rows(st, CORE_DMARC_REP_NS), 6, "still six rows");
	is_int(rows(st, CORE_DMARC_REP_SEEN_NS), 1, "one seen marker");

	g = ingest(st, "<feedback><report_metadata>");
	ok(g.status == CORE_E_INVALID && !strcmp(g.outcome, "refused") &&
	   strstr(g.reason, "XML"), "broken report refused: %s", g.reason);
	is_int(rows(st, CORE_DMARC_REP_BAD_NS), 1, "broken report kept aside");
	st->fault = true;
	g = ingest(st, "junk");
	ok(g.status == CORE_E_RETRY, "broken report, store down: retry");
	st->fault = false;

	core_dmarc_sources(st, "shop.example", 7, "192.0.2.0/24, 10.0.0.1",
			   NOW, on_sources, &sg);
	ok(sg.status == CORE_OK, "sources answer");
	ok(sg.by_class[CORE_DMARC_OURS] == 40, "ours 40 (%llu)",
	   sg.by_class[CORE_DMARC_OURS]);
	ok(sg.by_class[CORE_DMARC_AUTHORISED] == 7, "authorised 7 (%llu)",
	   sg.by_class[CORE_DMARC_AUTHORISED]);
	ok(sg.by_class[CORE_DMARC_FORWARDER] == 5, "forwarder 5 (%llu)",
	   sg.by_class[CORE_DMARC_FORWARDER]);
	ok(sg.by_class[CORE_DMARC_FORGER] == 123, "forger 123 (%llu)",
	   sg.by_class[CORE_DMARC_FORGER]);
	ok(sg.forged_disp[0] == 3 && sg.forged_disp[1] == 100 &&
	   sg.forged_disp[2] == 20, "forgeries: none 3, quarantine 100, "
	   "reject 20");
	is_str(sg.cls_of_forger, "forger", "203.0.113.66 is a forger");
	ok(sg.forger_count == 120, "its two records grouped: 120");
	is_str(sg.net_of_v6, "2001:db8:5::/48", "v6 source grouped by /48");
	ok(sg.n == 5 && sg.ndays == 1, "5 sources, 1 day");
	is_str(sg.day0, "2026-12-01", "the report's day");

	memset(&sg, 0, sizeof(sg));
	core_dmarc_sources(st, "shop.example", 7, "", NOW + 30 * 86400,
			   on_sources, &sg);
	ok(sg.status == CORE_OK && sg.n == 0, "outside the window: nothing");
	memset(&sg, 0, sizeof(sg));
	core_dmarc_sources(st, "shop.example", 7, "300.1.2.3/8", NOW,
			   on_sources, &sg);
	ok(sg.status == CORE_E_INVALID, "bad network list refused");
	memset(&sg, 0, sizeof(sg));
	core_dmarc_sources(st, "shop.example", 0, "", NOW, on_sources, &sg);
	ok(sg.status == CORE_E_INVALID, "days 0 refused");
	st->fault = true;
	memset(&sg, 0, sizeof(sg));
	core_dmarc_sources(st, "shop.example", 7, "", NOW, on_sources, &sg);
	ok(sg.status == CORE_E_RETRY, "store down: retry");
	st->fault = false;
	store_close(st);
	return tap_done();
}
