/*
 * test-dns - the table-driven stub in full, and the libunbound backend
 * against test/dns/zone-server.py (Debian python3-dnslib) on loopback,
 * directly and through dns_blocking (several asking threads at once).
 * The zone-server parts are skipped when python3 or dnslib is missing.  Every
 * wait is bounded: server start 10 s, each query 5 s, server exit 3 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns_blocking.h"
#include "dns/dns_cache.h"
#include "dns/dns_stub.h"
#include "dns/dns_unbound.h"
#include "tap.h"
#include "zone_server.h"

struct got {
	int done;
	struct dns_answer *a;
};

/* Callback: keep a copy of the answer. */
static void keep(void *arg, const struct dns_answer *a)
{
	struct got *g = arg;

	g->done++;
	g->a = dns_answer_dup(a);
}

/* Ask r synchronously (stub) or by running base (unbound), bounded. */
static struct dns_answer *ask(struct dns_resolver *r, struct event_base *b,
			      const char *name, enum dns_type t)
{
	struct dns_question q;
	struct got g = { 0, NULL };
	time_t end = time(NULL) + 5;

	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	q.type = t;
	dns_query(r, &q, keep, &g);
	while (!g.done && b && time(NULL) < end)
		event_base_loop(b, EVLOOP_ONCE);
	if (!g.done) {
		g.a = calloc(1, sizeof(*g.a));
		g.a->rcode = -1;	/* never answered: the test fails */
	}
	return g.a;
}

/* Text of record i or "" */
static const char *txt(const struct dns_answer *a, size_t i)
{
	return i < a->n && a->rr[i].text ? a->rr[i].text : "";
}

/* Address of record i as text. */
static const char *addr(const struct dns_answer *a, size_t i, char *buf)
{
	if (i >= a->n)
		return "";
	inet_ntop(a->rr[i].type == DNS_T_A ? AF_INET : AF_INET6,
		  a->rr[i].addr, buf, 64);
	return buf;
}

/* Does the answer hold the address text (order is the server's)? */
static bool has_addr(const struct dns_answer *a, const char *want)
{
	char buf[64];
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(addr(a, i, buf), want) == 0)
			return true;
	return false;
}

/* The checks both backends must pass over the same zone. */
static void common(const char *tag, struct dns_resolver *r,
		   struct event_base *b)
{
	struct dns_answer *a;
	char buf[64];

	a = ask(r, b, "host.example.test", DNS_T_A);
	is_int(a->rcode, DNS_OK, "%s: A rcode", tag);
	is_int(a->n, 2, "%s: two A records", tag);
	ok(a->ttl > 0 && a->ttl <= (b || strcmp(tag, "stub") ? 60 : 3600),
	   "%s: the answer's TTL (%u)", tag, (unsigned)a->ttl);
	ok(has_addr(a, "192.0.2.1") && has_addr(a, "192.0.2.2"),
	   "%s: both A addresses", tag);
	dns_answer_free(a);
	a = ask(r, b, "HOST.Example.test.", DNS_T_AAAA);
	is_int(a->n, 1, "%s: AAAA, name case and final dot ignored", tag);
	is_str(addr(a, 0, buf), "2001:db8::1", "%s: AAAA address", tag);
	dns_answer_free(a);
	a = ask(r, b, "example.test", DNS_T_MX);
	ok(a->n == 1 && a->rr[0].pref == 10, "%s: MX preference", tag);
	is_str(txt(a, 0), "host.example.test", "%s: MX exchange", tag);
	dns_answer_free(a);
	a = ask(r, b, "example.test", DNS_T_TXT);
	is_int(a->n, 1, "%s: one TXT record", tag);
	is_str(txt(a, 0), "v=spf1 ip4:192.0.2.0/24 -all",
	       "%s: TXT strings joined", tag);
	dns_answer_free(a);
	a = ask(r, b, "1.2.0.192.in-addr.arpa", DNS_T_PTR);
	is_str(txt(a, 0), "host.example.test", "%s: PTR", tag);
	dns_answer_free(a);
	a = ask(r, b, "alias.example.test", DNS_T_A);
	ok(a->rcode == DNS_OK && a->n == 2, "%s: CNAME chased", tag);
	ok(has_addr(a, "192.0.2.2"), "%s: target's records", tag);
	dns_answer_free(a);
	a = ask(r, b, "nx.example.test", DNS_T_A);
	is_int(a->rcode, DNS_NXDOMAIN, "%s: NXDOMAIN", tag);
	ok(a->ttl > 0 && a->ttl <= (b || strcmp(tag, "stub") ? 30 : 3600),
	   "%s: NXDOMAIN's negative TTL from the SOA (%u)", tag,
	   (unsigned)a->ttl);
	dns_answer_free(a);
	a = ask(r, b, "host.example.test", DNS_T_TXT);
	ok(a->rcode == DNS_OK && a->nodata && a->n == 0, "%s: NODATA", tag);
	ok(a->ttl > 0 && a->ttl <= (b || strcmp(tag, "stub") ? 30 : 3600),
	   "%s: NODATA's negative TTL (%u)", tag, (unsigned)a->ttl);
	dns_answer_free(a);
	a = ask(r, b, "slow.example.test", DNS_T_A);
	is_int(a->rcode, DNS_TEMPFAIL, "%s: timeout is TEMPFAIL", tag);
	is_int(a->ttl, 0, "%s: TEMPFAIL has no TTL", tag);
	dns_answer_free(a);
}

/* Records of the shared zone, in the zone-server file format. */
static const char zone[] =
	"host.example.test\tA\t192.0.2.1\n"
	"host.example.test\tA\t192.0.2.2\n"
	"host.example.test\tAAAA\t2001:db8::1\n"
	"example.test\tMX\t10\thost.example.test\n"
	"example.test\tTXT\tv=spf1 \tip4:192.0.2.0/24\t -all\n"
	"1.2.0.192.in-addr.arpa\tPTR\thost.example.test.\n"
	"alias.example.test\tCNAME\thost.example.test\n"
	"slow.example.test\tTIMEOUT\t*\n";

/* The same records through the stub API. */
static void stub_zone(struct dns_stub *s)
{
	dns_stub_add(s, "host.example.test", DNS_T_A, "192.0.2.1");
	dns_stub_add(s, "host.example.test", DNS_T_A, "192.0.2.2");
	dns_stub_add(s, "host.example.test", DNS_T_AAAA, "2001:db8::1");
	dns_stub_add(s, "example.test", DNS_T_MX, "10 host.example.test");
	dns_stub_add(s, "example.test", DNS_T_TXT,
		     "v=spf1 ip4:192.0.2.0/24 -all");
	dns_stub_add(s, "1.2.0.192.in-addr.arpa", DNS_T_PTR,
		     "host.example.test.");
	dns_stub_add(s, "alias.example.test", DNS_T_CNAME,
		     "host.example.test");
	dns_stub_timeout(s, "slow.example.test", 0);
}

/* Stub-only behaviour: errors, ordering with timeouts, loops, counter. */
static void stub_only(void)
{
	struct dns_stub *s = dns_stub_new();
	struct dns_resolver *r = dns_stub_resolver(s);
	struct dns_answer *a;

	stub_zone(s);
	common("stub", r, NULL);
	is_int(dns_stub_queries(s), 9, "stub: query counter");
	is_int(dns_stub_add(s, "x.test", DNS_T_A, "300.1.1.1"), -EINVAL,
	       "stub: bad A rejected");
	is_int(dns_stub_add(s, "x.test", DNS_T_MX, "x host"), -EINVAL,
	       "stub: bad MX rejected");
	is_int(dns_stub_add(s, "x.test", DNS_T_SPF + 1, "x"), -EINVAL,
	       "stub: unknown type rejected");
	dns_stub_add_txt(s, "nul.test", DNS_T_TXT, "a\0b", 3);
	a = ask(r, NULL, "nul.test", DNS_T_TXT);
	ok(a->n == 1 && a->rr[0].text_len == 3 && a->rr[0].text[1] == '\0',
	   "stub: TXT with NUL keeps its length");
	dns_answer_free(a);
	/* a record before the marker answers; other types time out */
	dns_stub_add(s, "half.test", DNS_T_TXT, "v=spf1 -all");
	dns_stub_timeout(s, "half.test", 0);
	dns_stub_add(s, "half.test", DNS_T_A, "192.0.2.9");
	a = ask(r, NULL, "half.test", DNS_T_TXT);
	is_int(a->n, 1, "stub: answered before TIMEOUT");
	dns_answer_free(a);
	a = ask(r, NULL, "half.test", DNS_T_A);
	is_int(a->rcode, DNS_TEMPFAIL, "stub: record after TIMEOUT");
	dns_answer_free(a);
	dns_stub_timeout(s, "typed.test", DNS_T_MX);
	a = ask(r, NULL, "typed.test", DNS_T_MX);
	is_int(a->rcode, DNS_TEMPFAIL, "stub: typed TIMEOUT");
	dns_answer_free(a);
	a = ask(r, NULL, "typed.test", DNS_T_A);
	ok(a->rcode == DNS_OK && a->nodata, "stub: other type NODATA");
	dns_answer_free(a);
	dns_stub_add(s, "loop1.test", DNS_T_CNAME, "loop2.test");
	dns_stub_add(s, "loop2.test", DNS_T_CNAME, "loop1.test.");
	a = ask(r, NULL, "loop1.test", DNS_T_A);
	is_int(a->rcode, DNS_TEMPFAIL, "stub: CNAME loop is TEMPFAIL");
	dns_answer_free(a);
	a = ask(r, NULL, "loop1.test", DNS_T_CNAME);
	is_str(txt(a, 0), "loop2.test", "stub: CNAME asked directly");
	dns_answer_free(a);
	a = ask(r, NULL, "a1234567890123456789012345678901234567890123456789"
		"01234567890123.test", DNS_T_A);
	is_int(a->rcode, DNS_PERMFAIL, "stub: 64-octet label");
	dns_answer_free(a);
	a = ask(r, NULL, "a..test", DNS_T_A);
	is_int(a->rcode, DNS_PERMFAIL, "stub: empty label");
	dns_answer_free(a);
	dns_stub_add(s, "null.test", DNS_T_MX, "0 .");
	a = ask(r, NULL, "null.test", DNS_T_MX);
	ok(a->n == 1 && strcmp(txt(a, 0), "") == 0, "stub: null MX");
	dns_answer_free(a);
	dns_stub_clear(s);
	is_int(dns_stub_queries(s), 0, "stub: clear resets the counter");
	a = ask(r, NULL, "host.example.test", DNS_T_A);
	is_int(a->rcode, DNS_NXDOMAIN, "stub: clear forgets records");
	dns_answer_free(a);
	dns_resolver_free(r);
	dns_resolver_free(NULL);
	a = dns_answer_dup(&(struct dns_answer){ .rcode = DNS_NXDOMAIN });
	is_int(a->rcode, DNS_NXDOMAIN, "dup of an empty answer");
	dns_answer_free(a);
	dns_answer_free(NULL);
}

#define ASKERS 4
#define ASKS 25

/* An asking thread: ASKS questions through the blocking resolver. */
static void *asker(void *arg)
{
	struct dns_resolver *r = arg;
	long good = 0;
	int i;

	for (i = 0; i < ASKS; i++) {
		struct dns_answer *a = ask(r, NULL, i % 2 ?
					   "host.example.test" :
					   "alias.example.test", DNS_T_A);

		if (a->rcode == DNS_OK && a->n == 2 &&
		    has_addr(a, "192.0.2.2"))
			good++;
		dns_answer_free(a);
	}
	return (void *)good;
}

/* dns_blocking's answer cache: which questions the DNS thread still sees. */
static void blocking_cache(struct dns_resolver *r)
{
	static const struct {
		const char *label, *name;
		enum dns_type type;
		int hit;	/* asked again: from the cache? */
	} rows[] = {
		{"A records", "host.example.test", DNS_T_A, 1},
		{"CNAME chased", "alias.example.test", DNS_T_A, 1},
		{"NXDOMAIN", "nx.example.test", DNS_T_A, 1},
		{"NODATA", "host.example.test", DNS_T_TXT, 1},
		{"name case", "HOST.example.TEST.", DNS_T_A, 1},
		{"timeout (TEMPFAIL)", "slow.example.test", DNS_T_A, 0},
	};
	struct dns_cache_stats before, after;
	struct dns_answer *a;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		dns_blocking_cache_stats(r, &before);
		a = ask(r, NULL, rows[i].name, rows[i].type);
		dns_blocking_cache_stats(r, &after);
		dns_answer_free(a);
		is_int(after.hits - before.hits, rows[i].hit,
		       "blocking cache: %s asked again: %s", rows[i].label,
		       rows[i].hit ? "a hit" : "not cached");
	}
}

/* dns_blocking over the zone server at upstream up: the common checks
 * from this thread, then several threads at once, then close. */
static void blocking_tests(const char *up)
{
	struct dns_resolver *r;
	struct dns_answer *a;
	pthread_t th[ASKERS];
	char err[256] = "";
	long good = 0;
	int i;

	r = dns_blocking_new(up, 1500, err, sizeof(err));
	if (!ok(r != NULL, "blocking resolver (%s)", r ? "ok" : err))
		return;
	common("blocking", r, NULL);
	blocking_cache(r);
	for (i = 0; i < ASKERS; i++)
		pthread_create(&th[i], NULL, asker, r);
	for (i = 0; i < ASKERS; i++) {
		void *g;

		pthread_join(th[i], &g);
		good += (long)g;
	}
	is_int(good, ASKERS * ASKS, "blocking: %d threads asking at once, "
	       "every answer right", ASKERS);
	dns_blocking_close(r);
	a = ask(r, NULL, "host.example.test", DNS_T_A);
	is_int(a->rcode, DNS_TEMPFAIL, "blocking: after close, TEMPFAIL");
	dns_answer_free(a);
	dns_resolver_free(r);
}

/* dns_blocking freed right after it was made, and closed first: the DNS
 * thread's loop must end even if it had not started yet (it once hung). */
static void blocking_lifetime(void)
{
	static const struct { const char *label; bool close; } rows[] = {
		{"free right after new", false},
		{"close, then free", true},
	};
	char err[256] = "";
	size_t i;
	int n, made;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (n = made = 0; n < 20; n++) {
			struct dns_resolver *r =
				dns_blocking_new("127.0.0.1@53", 100, err,
						 sizeof(err));

			if (r)
				made++;
			if (r && rows[i].close)
				dns_blocking_close(r);
			dns_resolver_free(r);
		}
		is_int(made, 20, "blocking: %s, 20 times (%s)",
		       rows[i].label, err);
	}
}

/* Asks r (arg) once; returns the answer. */
static void *ask_once(void *arg)
{
	return ask(arg, NULL, "silent.example.test", DNS_T_A);
}

/*
 * dns_blocking freed while libunbound still holds a question (its server
 * never answers): the asker is answered TEMPFAIL at close, and the free
 * drops the question libunbound cancels without calling back (it leaked:
 * LeakSanitizer in the ASan run of this test would say so).
 */
static void blocking_free_in_flight(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct dns_resolver *r;
	struct dns_answer *a = NULL;
	char up[64], err[256] = "";
	pthread_t th;
	void *got;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!ok(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		getsockname(fd, (struct sockaddr *)&sa, &sl) == 0,
		"blocking in flight: a silent server"))
		return;
	snprintf(up, sizeof(up), "127.0.0.1@%d", ntohs(sa.sin_port));
	r = dns_blocking_new(up, 5000, err, sizeof(err));
	if (ok(r != NULL, "blocking in flight: resolver (%s)", r ? "" : err)) {
		char b[512];
		int tries;

		pthread_create(&th, NULL, ask_once, r);
		/* wait until the question reached the silent server */
		for (tries = 0; tries < 50; tries++) {
			struct timeval tv = { 0, 100000 };

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			if (recv(fd, b, sizeof(b), 0) > 0)
				break;
		}
		ok(tries < 50, "blocking in flight: the question was sent");
		dns_blocking_close(r);
		pthread_join(th, &got);
		a = got;
		is_int(a ? (int)a->rcode : -1, DNS_TEMPFAIL,
		       "blocking in flight: the asker gets TEMPFAIL at close");
		dns_answer_free(a);
		dns_resolver_free(r);
	}
	close(fd);
}

/* The unbound backend against the zone server. */
static void unbound_tests(void)
{
	char path[ZONE_SERVER_PATH], up[64], err[256];
	struct event_base *base;
	struct dns_resolver *r;
	struct dns_answer *a;
	int port = 0;
	pid_t pid;

	pid = zone_server_start_text(getenv("MAMORI_SOURCE_ROOT"), zone, path,
				     &port);
	if (pid <= 0) {
		unlink(path);
		if (pid == 0)
			printf("ok %d # SKIP python3-dnslib not installed\n",
			       ++tap_n);
		else
			ok(0, "zone server starts");
		return;
	}
	base = event_base_new();
	snprintf(up, sizeof(up), "127.0.0.1@%d", port);
	r = dns_unbound_new(base, up, 1500, err, sizeof(err));
	if (ok(r != NULL, "unbound resolver (%s)", r ? "ok" : err)) {
		common("unbound", r, base);
		a = ask(r, base, "a..b.test", DNS_T_A);
		ok(a->rcode == DNS_PERMFAIL || a->rcode == DNS_TEMPFAIL,
		   "unbound: unsendable name is an error");
		dns_answer_free(a);
		dns_resolver_free(r);
	}
	r = dns_unbound_new(base, "not an address", 100, err, sizeof(err));
	ok(r == NULL && err[0], "unbound: bad upstream refused");
	blocking_tests(up);
	event_base_free(base);
	zone_server_stop(pid);
	unlink(path);
}

int main(void)
{
	stub_only();
	blocking_lifetime();
	blocking_free_in_flight();
	unbound_tests();
	return tap_done();
}
