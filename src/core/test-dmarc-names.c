/*
 * test-dmarc-names - reverse names (forward-confirmed PTR) and countries
 * of the DMARC sources view, and the groups by them (dmarc_names.c):
 * a stored report named through the stub resolver, the per-call bound,
 * and the daemon's path (a thread, the answer on the loop) against a dead
 * upstream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/dmarc_names.h"
#include "core/dmarc_reports.h"
#include "dns/dns_stub.h"
#include "mail/dmarc.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"
#include "tap.h"

/* 2026-12-01 00:00 UTC, the report's begin; "now" is a day later. */
#define BEGIN "1796083200"
#define NOW (1796083200 + 86400)

/* One record: address, count, DKIM, SPF. */
static void rec(struct buf *b, const char *ip, int cnt, const char *dkim,
		const char *spf)
{
	buf_printf(b, "<record><row><source_ip>%s</source_ip><count>%d"
		   "</count><policy_evaluated><disposition>none</disposition>"
		   "<dkim>%s</dkim><spf>%s</spf></policy_evaluated></row>"
		   "<identifiers><header_from>shop.example</header_from>"
		   "</identifiers></record>", ip, cnt, dkim, spf);
}

/* Ingest callback: nothing to check here (test-dmarc-reports does). */
static void on_ingest(void *arg, enum core_status status,
		      const struct core_dmarc_ingest *r)
{
	(void)arg; (void)status; (void)r;
}

/* Ingest a report with id and the records written by recs(b). */
static void ingest(struct store *st, const char *id, void (*recs)(struct buf *))
{
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_printf(&b, "<?xml version=\"1.0\"?><feedback><report_metadata>"
		   "<org_name>rcv.example</org_name><email>d@rcv.example"
		   "</email><report_id>%s</report_id><date_range><begin>"
		   BEGIN "</begin><end>1796169599</end></date_range>"
		   "</report_metadata><policy_published><domain>shop.example"
		   "</domain><p>none</p></policy_published>", id);
	recs(&b);
	buf_printf(&b, "</feedback>");
	core_dmarc_report_ingest(st, b.p, b.len, NOW, on_ingest, NULL);
	buf_deinit(&b);
}

/* The report of the first rows. */
static void five(struct buf *b)
{
	rec(b, "192.0.2.10", 40, "pass", "pass");
	rec(b, "198.51.100.7", 5, "pass", "fail");
	rec(b, "203.0.113.9", 7, "fail", "pass");
	rec(b, "203.0.113.66", 120, "fail", "fail");
	rec(b, "2001:db8:5:6::1", 3, "fail", "fail");
}

/* 40 forgers, 10.0.0.1 .. 10.0.0.40, the first the largest. */
static void forty(struct buf *b)
{
	char ip[32];
	int i;

	for (i = 1; i <= 40; i++) {
		snprintf(ip, sizeof(ip), "10.0.0.%d", i);
		rec(b, ip, 100 - i, "fail", "fail");
	}
}

/* Countries: 203.0.113.* US, 192.0.2.* JP, else unknown. */
static uint16_t country(void *arg, const char *ip)
{
	++*(int *)arg;
	if (!strncmp(ip, "203.0.113.", 10))
		return 'U' << 8 | 'S';
	if (!strncmp(ip, "192.0.2.", 8))
		return 'J' << 8 | 'P';
	return 0;
}

/* What the sources answer said, copied. */
struct got {
	int calls;
	enum core_status status;
	size_t n, asked, unchecked;
	char name[8][254];
	char ip[8][46];
	char cc[8][3];
	enum core_dmarc_name_state state[8];
	size_t nby_name, nby_country;
	struct core_dmarc_group by_name[8], by_country[8];
};

/* Sources callback: copy what the checks need. */
static void on_sources(void *arg, enum core_status status, const char *err,
		       const struct core_dmarc_sources *s)
{
	struct got *g = arg;
	size_t i;

	(void)err;
	g->calls++;
	g->status = status;
	if (status != CORE_OK)
		return;
	g->n = s->n;
	g->asked = s->names_asked;
	for (i = 0; i < s->n; i++) {
		if (i < 8) {
			snprintf(g->name[i], sizeof(g->name[i]), "%s",
				 s->v[i].name);
			snprintf(g->ip[i], sizeof(g->ip[i]), "%s", s->v[i].ip);
			memcpy(g->cc[i], s->v[i].country, 3);
			g->state[i] = s->v[i].name_state;
		}
		g->unchecked += s->v[i].name_state ==
				CORE_DMARC_NAME_UNCHECKED;
	}
	g->nby_name = s->nby_name;
	g->nby_country = s->nby_country;
	for (i = 0; i < s->nby_name && i < 8; i++)
		g->by_name[i] = s->by_name[i];
	for (i = 0; i < s->nby_country && i < 8; i++)
		g->by_country[i] = s->by_country[i];
}

/* The index of source ip in g, or -1. */
static int src_of(const struct got *g, const char *ip)
{
	size_t i;

	for (i = 0; i < g->n && i < 8; i++)
		if (!strcmp(g->ip[i], ip))
			return (int)i;
	return -1;
}

/* The group with key and state in g[0..n), or NULL. */
static const struct core_dmarc_group *
group_of(const struct core_dmarc_group *g, size_t n, const char *key,
	 enum core_dmarc_name_state state)
{
	size_t i;

	for (i = 0; i < n && i < 8; i++)
		if (!strcmp(g[i].key, key) && g[i].state == state)
			return &g[i];
	return NULL;
}

/* The stored report named through the stub. */
static void test_names(struct store *st, const struct dmarc_psl *psl)
{
	static const struct {
		const char *label, *ip, *name, *cc;
		enum core_dmarc_name_state state;
	} want[] = {
		{ "PTR confirmed by A (the forger's own zone agrees)",
		  "203.0.113.66", "mail.forger.example", "US",
		  CORE_DMARC_NAME_CONFIRMED },
		{ "second PTR name confirms, first does not",
		  "192.0.2.10", "mx1.shop.example", "JP",
		  CORE_DMARC_NAME_CONFIRMED },
		{ "PTR whose A points elsewhere: claimed only",
		  "198.51.100.7", "www.bank.example", "",
		  CORE_DMARC_NAME_UNCONFIRMED },
		{ "no PTR", "203.0.113.9", "", "US", CORE_DMARC_NAME_NONE },
		{ "PTR times out", "2001:db8:5:6::1", "", "",
		  CORE_DMARC_NAME_TEMPFAIL },
	};
	struct dns_stub *stub = dns_stub_new();
	struct core_dmarc_lookup lk = { .dns = dns_stub_resolver(stub),
					.psl = psl, .country = country };
	const struct core_dmarc_group *g;
	struct got got = {0};
	int calls = 0;
	size_t i;

	lk.country_arg = &calls;
	dns_stub_add(stub, "66.113.0.203.in-addr.arpa", DNS_T_PTR,
		     "Mail.Forger.Example.");
	dns_stub_add(stub, "mail.forger.example", DNS_T_A, "203.0.113.66");
	dns_stub_add(stub, "10.2.0.192.in-addr.arpa", DNS_T_PTR,
		     "old.shop.example");
	dns_stub_add(stub, "10.2.0.192.in-addr.arpa", DNS_T_PTR,
		     "mx1.shop.example");
	dns_stub_add(stub, "old.shop.example", DNS_T_A, "192.0.2.99");
	dns_stub_add(stub, "mx1.shop.example", DNS_T_A, "192.0.2.10");
	dns_stub_add(stub, "7.100.51.198.in-addr.arpa", DNS_T_PTR,
		     "www.bank.example");
	dns_stub_add(stub, "www.bank.example", DNS_T_A, "198.51.100.99");
	dns_stub_timeout(stub, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.0.0.0.5.0."
			 "0.0.8.b.d.0.1.0.0.2.ip6.arpa", 0);
	ingest(st, "five", five);
	core_dmarc_sources_lookup(st, "shop.example", 7, "", NOW, &lk,
				  on_sources, &got);
	ok(got.calls == 1 && got.status == CORE_OK && got.n == 5,
	   "names: the answer came, 5 sources (%zu)", got.n);
	is_int((long long)got.asked, 5, "names: 5 addresses asked");
	is_int(calls, 5, "names: a country asked per source");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int k = src_of(&got, want[i].ip);

		if (!ok(k >= 0, "%s: source %s listed", want[i].label,
			want[i].ip))
			continue;
		ok(got.state[k] == want[i].state, "%s: state %s (%s)",
		   want[i].label, core_dmarc_name_states[want[i].state],
		   core_dmarc_name_states[got.state[k]]);
		ok(!strcmp(got.name[k], want[i].name), "%s: name \"%s\" (%s)",
		   want[i].label, want[i].name, got.name[k]);
		ok(!strcmp(got.cc[k], want[i].cc), "%s: country \"%s\" (%s)",
		   want[i].label, want[i].cc, got.cc[k]);
	}
	g = group_of(got.by_name, got.nby_name, psl ? "forger.example" :
		     "mail.forger.example", CORE_DMARC_NAME_CONFIRMED);
	ok(g && g->count == 120 && g->sources == 1 &&
	   g->by_class[CORE_DMARC_FORGER] == 120,
	   "by name: the forger's domain, 120 forged");
	ok(got.nby_name == 5 && got.by_name[0].count == 120,
	   "by name: 5 groups, largest first (%zu)", got.nby_name);
	g = group_of(got.by_name, got.nby_name, "",
		     CORE_DMARC_NAME_UNCONFIRMED);
	ok(g && g->count == 5, "by name: the unconfirmed claim is its own "
	   "group, not bank.example");
	g = group_of(got.by_country, got.nby_country, "US",
		     CORE_DMARC_NAME_UNCHECKED);
	ok(g && g->sources == 2 && g->count == 127 && g->aligned == 7,
	   "by country: US, 2 sources, 127 messages, 7 aligned");
	g = group_of(got.by_country, got.nby_country, "",
		     CORE_DMARC_NAME_UNCHECKED);
	ok(g && g->sources == 2 && g->count == 8, "by country: unknown 2 "
	   "sources, 8 messages");
	ok(got.nby_country == 3, "by country: US, JP, unknown (%zu)",
	   got.nby_country);

	/* Without a resolver and a country reader: every name unchecked. */
	memset(&got, 0, sizeof(got));
	core_dmarc_sources_lookup(st, "shop.example", 7, "", NOW, NULL,
				  on_sources, &got);
	ok(got.status == CORE_OK && got.unchecked == 5 && got.asked == 0 &&
	   got.nby_name == 1 && got.by_name[0].count == 175,
	   "no resolver: 5 unchecked in one group of 175");
	ok(got.nby_country == 1 && !got.by_country[0].key[0],
	   "no country reader: one unknown-country group");

	/* The per-call bound. */
	dns_stub_clear(stub);
	ingest(st, "forty", forty);
	memset(&got, 0, sizeof(got));
	core_dmarc_sources_lookup(st, "shop.example", 7, "", NOW, &lk,
				  on_sources, &got);
	is_int((long long)got.asked, CORE_DMARC_NAMES_MAX,
	       "bound: only the addresses with the most mail are asked");
	is_int((long long)got.unchecked, 45 - CORE_DMARC_NAMES_MAX,
	       "bound: the rest unchecked");
	ok(dns_stub_queries(stub) <= CORE_DMARC_NAMES_MAX *
	   (1 + CORE_DMARC_NAME_PTRS), "bound: %lu questions",
	   dns_stub_queries(stub));
	dns_resolver_free(lk.dns);
}

/* The daemon's path's answer. */
struct loop_got {
	struct event_base *base;
	int finished;
	struct core_dmarc_sources s;
	struct core_dmarc_source v[2];
	struct dmarc_names_out out;
};

static int finishes;	/* runs finished, all of test_thread's */

/* finish of a run: the third ends the loop. */
static void on_finish(void *arg)
{
	struct loop_got *g = arg;

	g->finished++;
	if (++finishes == 3)
		event_base_loopbreak(g->base);
}

/* Bound the loop. */
static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	event_base_loopbreak(arg);
}

/* A thread asks a dead upstream; the answer comes on the loop; a third
 * run beyond the job cap answers at once, unchecked. */
static void test_thread(void)
{
	static const char conf[] = "dns_upstream = 127.0.0.1@9\n"
				   "dns_timeout_ms = 200\n";
	struct core_dmarc_lookup lk = {0};
	struct loop_got g[3];
	struct timeval tv = { 10, 0 };
	struct dmarc_names *h;
	struct config *cfg;
	struct event *t;
	char err[256];
	int i;

	evthread_use_pthreads();
	cfg = config_load_buffer(conf, sizeof(conf) - 1, "t.conf", err,
				 sizeof(err));
	if (!ok(cfg != NULL, "thread: config (%s)", cfg ? "-" : err))
		return;
	memset(g, 0, sizeof(g));
	g[0].base = event_base_new();
	h = dmarc_names_new(g[0].base);
	for (i = 0; i < 3; i++) {
		g[i].base = g[0].base;
		snprintf(g[i].v[0].ip, sizeof(g[i].v[0].ip), "192.0.2.%d", i);
		snprintf(g[i].v[1].ip, sizeof(g[i].v[1].ip), "2001:db8::%d", i);
		g[i].s.n = 2;
		g[i].s.v = g[i].v;
		dmarc_names_run(h, cfg, &lk, &g[i].s, g[i].v, &g[i].out,
				on_finish, &g[i]);
	}
	ok(g[0].finished == 0 && g[1].finished == 0,
	   "thread: two runs answer later");
	ok(g[2].finished == 1 && g[2].v[0].name_state ==
	   CORE_DMARC_NAME_UNCHECKED && g[2].s.nby_name == 1,
	   "thread: the third (over the cap) at once, unchecked, grouped");
	t = evtimer_new(g[0].base, on_timeout, g[0].base);
	evtimer_add(t, &tv);
	event_base_dispatch(g[0].base);
	ok(g[0].finished == 1 && g[1].finished == 1,
	   "thread: both answered on the loop");
	ok(g[0].v[0].name_state == CORE_DMARC_NAME_TEMPFAIL &&
	   g[0].v[1].name_state == CORE_DMARC_NAME_TEMPFAIL &&
	   g[0].s.names_asked == 2, "thread: dead upstream: tempfail, 2 asked");
	ok(g[1].s.nby_name == 1 && g[1].s.by_name[0].count == 0 &&
	   g[1].s.by_name[0].sources == 2, "thread: grouped after the names");
	dmarc_names_free(h);
	for (i = 0; i < 3; i++) {
		free(g[i].out.by_name);
		free(g[i].out.by_country);
	}
	event_free(t);
	event_base_free(g[0].base);
	config_free(cfg);
}

int main(void)
{
	struct dmarc_psl *psl = dmarc_psl_load(NULL);
	struct store *st;
	char err[256];

	if (!ok(store_open("memory:", NULL, &st, err, sizeof(err)) == 0,
		"memory store opens"))
		return tap_done();
	test_names(st, psl);
	store_close(st);
	test_thread();
	dmarc_psl_free(psl);
	return tap_done();
}
