/*
 * test-login-fleet - two login engines sharing one Redis (a private
 * redis-server on a unix socket) judge a brute force and a stuffing run
 * split over them at the same count as one engine alone on memory:, the
 * fleet's counts never leave this host's below its own, and a report
 * judged again on the fleet's answer is counted once.  Skipped
 * (TAP skip) when redis-server is not installed.
 *
 * Time is injected through login_attempt.now from the clock (Redis
 * expires buckets by the real clock).  Every wait is bounded.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/login-internal.h"
#include "redis_server.h"
#include "store/store.h"
#include "tap.h"
#include "test_login.h"
#include "util/config.h"

static int64_t T0;
static struct event_base *base;

/* One engine with its store. */
struct host {
	struct store *st;
	struct login_engine *e;
};

/* Open an engine on spec (NULL base for memory:). */
static bool host_open(struct host *h, const struct config *cfg,
		      const char *spec)
{
	struct store_opts o = { .timeout_ms = 500, .hash_key = "test-fleet-key" };
	char err[512];

	memset(h, 0, sizeof(*h));
	if (store_open_opts(spec, base, &o, &h->st, err, sizeof(err)) != 0) {
		printf("# store %s: %s\n", spec, err);
		return false;
	}
	h->e = login_engine_new(cfg, h->st, err, sizeof(err));
	if (h->e == NULL) {
		printf("# engine: %s\n", err);
		store_close(h->st);
		return false;
	}
	return true;
}

/* Close what host_open opened. */
static void host_close(struct host *h)
{
	login_engine_free(h->e);
	store_close(h->st);
}

/* Run the loop until every host's fleet calls are answered and, for
 * 30 ms more, notices travel (bounded). */
static void settle(struct host *hs, size_t n)
{
	struct timeval tv = { 0, 30000 };
	size_t i, busy = 1;
	int k;

	for (k = 0; busy && k < 500; k++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		for (busy = 0, i = 0; i < n; i++)
			busy += hs[i].e->nfcalls;
		if (busy)
			usleep(1000);
	}
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* A wrong password as Dovecot runs it: before, then the report; the
 * before's verdict in *b. */
static void fail_once(struct login_engine *e, const char *login,
		      const char *ip, const char *pwhash, int64_t now,
		      struct login_verdict *b)
{
	const struct test_login_opt o = { .pwhash = pwhash };
	struct login_verdict r;

	test_login_ev(e, LOGIN_BEFORE, login, ip, &o, false, false, now, b);
	test_login_ev(e, LOGIN_REPORT, login, ip, &o, false, b->status < 0,
		      now, &r);
}

/* Where a run was first delayed, blocked, and put into a state. */
struct marks {
	int delay, block, state;
};

/*
 * Attempt i (0..n) goes to host i % nh: a brute force (one account, a
 * new wrong password each time) or a stuffing run (a new account each
 * time); marks where the answers changed.
 */
static void run(struct host *hs, size_t nh, bool stuffing, const char *ip,
		int n, struct marks *m)
{
	struct login_verdict b;
	char login[64], pw[32];
	int i;

	m->delay = m->block = m->state = -1;
	for (i = 0; i < n; i++) {
		struct login_engine *e = hs[i % nh].e;

		snprintf(login, sizeof(login), stuffing ? "user%d@example.jp" :
			 "victim@example.jp", i);
		snprintf(pw, sizeof(pw), "%04x", i * 97 + 1);
		fail_once(e, login, ip, pw, T0 + i * 5, &b);
		if (m->delay < 0 && b.status > 0)
			m->delay = i;
		if (m->block < 0 && b.status < 0)
			m->block = i;
		if (m->state < 0 && strstr(b.reason, "state=") != NULL)
			m->state = i;
		if (nh > 1)
			settle(hs, nh);
	}
}

/* The ids of incidents listed by e, joined, into out; how many. */
static size_t incident_ids(struct login_engine *e, char *out, size_t n)
{
	json_t *arr = login_incidents_list(e), *x;
	size_t i, off = 0;

	out[0] = '\0';
	json_array_foreach(arr, i, x)
		off += (size_t)snprintf(out + off, off < n ? n - off : 0, "%s ",
			json_string_value(json_object_get(x, "id")));
	i = json_array_size(arr);
	json_decref(arr);
	return i;
}

/* Does incident id, as e shows it, list login among its accounts? */
static bool incident_has(struct login_engine *e, const char *id,
			 const char *login)
{
	json_t *o = login_incident_show(e, id), *x;
	bool found = false;
	size_t i;

	json_array_foreach(json_object_get(o, "accounts"), i, x)
		found |= strcmp(json_string_value(json_object_get(x, "login")),
				login) == 0;
	json_decref(o);
	return found;
}

/*
 * One attack, one incident: the brute force blocked through the fleet is
 * listed once by both hosts, and what each saw from the address after it
 * (accounts tried while blocked) is in that one incident.
 */
static void test_incident(struct host *two)
{
	struct login_verdict b;
	char ids[2][512], id[40] = "";
	size_t na, nb;

	fail_once(two[0].e, "later-a@example.jp", "203.0.113.50", "1111",
		  T0 + 200, &b);
	fail_once(two[1].e, "later-b@example.jp", "203.0.113.50", "2222",
		  T0 + 201, &b);
	settle(two, 2);
	lg_inc_flush(two[0].e);
	lg_inc_flush(two[1].e);
	na = incident_ids(two[0].e, ids[0], sizeof(ids[0]));
	nb = incident_ids(two[1].e, ids[1], sizeof(ids[1]));
	ok(na == 1 && nb == 1 && strcmp(ids[0], ids[1]) == 0,
	   "incident: one, listed by both hosts (%s| %s)", ids[0], ids[1]);
	sscanf(ids[0], "%39s", id);
	ok(incident_has(two[0].e, id, "victim@example.jp") &&
	   incident_has(two[0].e, id, "later-a@example.jp") &&
	   incident_has(two[0].e, id, "later-b@example.jp"),
	   "incident: both hosts' evidence in it");
}

/*
 * Two hosts each judge their own address of one network, before either
 * hears of the other's state: the second joins the first's incident
 * (incident_net), and the one header lists both addresses.
 */
static void test_one_network(struct host *two)
{
	struct login_verdict b;
	json_t *arr, *x;
	char pw[32];
	size_t i, n = 0, naddrs = 0;
	int k, j;

	for (j = 0; j < 2; j++)
		for (k = 0; k < 24; k++) {
			snprintf(pw, sizeof(pw), "n%d-%d", j, k);
			fail_once(two[j].e, "net-victim@example.jp",
				  j ? "198.51.100.2" : "198.51.100.1", pw,
				  T0 + 300 + k, &b);
		}
	settle(two, 2);
	lg_inc_flush(two[0].e);
	lg_inc_flush(two[1].e);
	arr = login_incidents_list(two[1].e);
	json_array_foreach(arr, i, x) {
		json_t *addrs = json_object_get(x, "addresses"), *a;
		size_t m;
		bool ours = false;

		json_array_foreach(addrs, m, a)
			ours |= strncmp(json_string_value(a), "198.51.100.",
					11) == 0;
		if (ours) {
			n++;
			naddrs = json_array_size(addrs);
		}
	}
	json_decref(arr);
	ok(n == 1 && naddrs == 2, "one network, two hosts: one incident "
	   "(%zu) naming both addresses (%zu)", n, naddrs);
}

/*
 * A rotating-address campaign: n first-seen addresses (each in its own
 * /24), two accounts each that never log in; address k on host k % nh.
 * How many of them end in a campaign state, as the hosts see it.
 */
static int run_campaign(struct host *hs, size_t nh, int base_net, int n)
{
	struct login_verdict b;
	char ip[32], login[64];
	struct lg_ip a;
	int k, j, judged = 0;
	size_t h;

	for (k = 0; k < n; k++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.1", base_net, k);
		for (j = 0; j < 2; j++) {
			snprintf(login, sizeof(login), "c%d-%d-%d@example.jp",
				 base_net, k, j);
			fail_once(hs[k % nh].e, login, ip, "beef",
				  T0 + 400 + 2 * k + j, &b);
		}
		if (nh > 1)
			settle(hs, nh);
	}
	for (k = 0; k < n; k++) {
		bool in = false;

		snprintf(ip, sizeof(ip), "10.%d.%d.1", base_net, k);
		lg_ip_parse(ip, &a);
		for (h = 0; h < nh; h++) {
			struct lg_state *st = lg_state_lookup(hs[h].e, &a,
							      T0 + 500, 0);

			in |= st && strcmp(st->rule, "campaign") == 0;
		}
		judged += in;
	}
	return judged;
}

/* The campaign counts are the fleet's: split over two hosts, each seeing
 * half the addresses, the campaign is still seen. */
static void test_campaign(const struct config *cfg, const char *spec)
{
	struct host one, two[2];
	int j1, j2;

	if (!host_open(&one, cfg, "memory:"))
		return;
	/* 10 addresses: their 20 never-ok accounts make a campaign
	 * (auth_stuffing_logins 12); 5 addresses, 10 accounts, do not. */
	j1 = run_campaign(&one, 1, 21, 10);
	host_close(&one);
	if (!host_open(&two[0], cfg, spec) || !host_open(&two[1], cfg, spec))
		return;
	settle(two, 2);
	j2 = run_campaign(two, 2, 22, 10);
	ok(j1 >= 5, "campaign: one host judges the addresses (%d of 10)", j1);
	ok(j2 > 0 && j2 >= j1 - 2, "campaign: split over two hosts (5 "
	   "addresses each) it is still seen (%d of 10, one host %d)", j2,
	   j1);
	host_close(&two[0]);
	host_close(&two[1]);
}

/*
 * A report is counted once in the campaign's failure window, whatever the
 * fleet answers: a first-seen address tries one account on host B, then
 * accounts on host A.  Each of A's reports is judged when it is made and
 * again when the fleet answers ahead of A (B's account too); the second
 * judgment reads the fleet's numbers and adds nothing of the report's.
 * Each row on its own address and in its own buckets (4 windows apart).
 */
static void test_campaign_once(const struct config *cfg, const char *spec)
{
	static const struct {
		const char *label, *ip;
		int on_a;		/* accounts A sees after B's one */
		uint32_t fails;		/* A's campaign failures: one each */
	} rows[] = {
		{"one report on A", "10.77.0.1", 1, 1},
		{"two reports on A", "10.77.1.1", 2, 2},
		{"three reports on A", "10.77.2.1", 3, 3},
	};
	uint32_t win = (uint32_t)cfg->auth_window;
	struct login_verdict b;
	struct host two[2];
	char login[64];
	int64_t t;
	size_t i;
	int k;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!host_open(&two[0], cfg, spec))
			return;
		if (!host_open(&two[1], cfg, spec)) {
			host_close(&two[0]);
			return;
		}
		t = T0 + (int64_t)(i + 1) * 4 * win;
		snprintf(login, sizeof(login), "once%zu-b@example.jp", i);
		fail_once(two[1].e, login, rows[i].ip, "c0fe", t, &b);
		settle(two, 2);
		for (k = 0; k < rows[i].on_a; k++) {
			snprintf(login, sizeof(login), "once%zu-a%d@example.jp",
				 i, k);
			fail_once(two[0].e, login, rows[i].ip, "c0fe",
				  t + 1 + k, &b);
			settle(two, 2);
		}
		is_int(window_count(&two[0].e->camp_fail, win,
				    (uint32_t)(t + rows[i].on_a)),
		       rows[i].fails, "campaign failures counted once: %s",
		       rows[i].label);
		host_close(&two[0]);
		host_close(&two[1]);
	}
}

/* Write conf into a temporary file and load it. */
static struct config *conf(const char *text)
{
	char path[] = "/tmp/mamori-test-fleet-XXXXXX", err[512];
	struct config *cfg;
	FILE *f = fdopen(mkstemp(path), "w");

	fprintf(f, "%s", text);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (cfg == NULL)
		printf("# config: %s\n", err);
	return cfg;
}

int main(void)
{
	static const struct {
		const char *label, *ip;
		bool stuffing;
		int n;
	} rows[] = {
		{"brute force", "203.0.113.50", false, 26},
		{"stuffing", "203.0.113.80", true, 26},
	};
	struct redis_server rsv = { 0 };
	struct config *cfg;
	struct host one, two[2];
	struct marks m1, m2;
	char spec[200];
	size_t i;

	T0 = (int64_t)time(NULL);
	if (!redis_server_available()) {
		ok(1, "# SKIP redis-server is not installed: untested");
		return tap_done();
	}
	signal(SIGPIPE, SIG_IGN);
	cfg = conf("auth_stuffing_logins = 12\n");
	if (!ok(cfg != NULL, "config") ||
	    !ok(redis_server_start(&rsv) == 0, "redis-server starts"))
		goto out;
	base = event_base_new();
	snprintf(spec, sizeof(spec), "redis:unix:%s", rsv.sock);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!host_open(&one, cfg, "memory:"))
			break;
		run(&one, 1, rows[i].stuffing, rows[i].ip, rows[i].n, &m1);
		host_close(&one);
		if (!host_open(&two[0], cfg, spec))
			break;
		if (!host_open(&two[1], cfg, spec)) {
			host_close(&two[0]);
			break;
		}
		settle(two, 2);
		run(two, 2, rows[i].stuffing, rows[i].ip, rows[i].n, &m2);
		ok(m1.state > 0, "%s: one host: judged (at %d)",
		   rows[i].label, m1.state);
		is_int(m2.state, m1.state, "%s: split over two hosts: "
		       "judged at the same count as one", rows[i].label);
		is_int(m2.block, m1.block, "%s: split over two hosts: "
		       "blocked at the same count as one", rows[i].label);
		ok(m2.delay >= m1.delay && m2.delay <= m1.delay + 1,
		   "%s: the delay at most one attempt later (%d, one host %d)",
		   rows[i].label, m2.delay, m1.delay);
		ok(two[0].e->stats.fleet_sent > 0 &&
		   two[0].e->stats.fleet_failures == 0,
		   "%s: counted through the fleet, no failure", rows[i].label);
		if (i == 0) {
			test_incident(two);
			test_one_network(two);
		}
		host_close(&two[0]);
		host_close(&two[1]);
	}
	test_campaign(cfg, spec);
	test_campaign_once(cfg, spec);
	/* The store gone: counted, judged on this host's counts. */
	if (host_open(&two[0], cfg, spec)) {
		struct login_fleet_counts fc;
		struct login_verdict b;

		redis_server_stop(&rsv);
		fail_once(two[0].e, "x@example.jp", "198.51.100.9", "ab12",
			  T0, &b);
		settle(two, 1);
		ok(two[0].e->stats.fleet_failures >= 1, "store down: counted");
		login_fleet_counts(two[0].e, &fc);
		ok(fc.failures == two[0].e->stats.fleet_failures &&
		   fc.sent == two[0].e->stats.fleet_sent && fc.pending == 0,
		   "store down: login_fleet_counts (for /metrics) says so "
		   "(failures %llu, sent %llu)", (unsigned long long)fc.failures,
		   (unsigned long long)fc.sent);
		fail_once(two[0].e, "x@example.jp", "198.51.100.9", "ab13",
			  T0 + 1, &b);
		ok(b.status > 0 && strstr(b.reason, "rule=fleet_unavailable"),
		   "store down, defer: an address failing here is delayed "
		   "(%s)", b.reason);
		fail_once(two[0].e, "y@example.jp", "198.51.100.10", "ab14",
			  T0 + 2, &b);
		is_int(b.status, 0, "store down: a clean address is not");
		host_close(&two[0]);
	}
	event_base_free(base);
out:
	redis_server_free(&rsv);
	config_free(cfg);
	return tap_done();
}
