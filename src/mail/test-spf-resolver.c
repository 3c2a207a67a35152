/*
 * test-spf-resolver - the RFC 7208 SPF conformance suite through the real
 * resolver path: spf_check() over the libunbound backend (dns_unbound),
 * which forwards to test/dns/zone-server.py (Debian python3-dnslib), an
 * authoritative server on 127.0.0.1 answering from the scenario's zone.
 *
 * test-spf-suite runs the same 203 tests through the table-driven stub;
 * this one checks that the wire path gives the same results: TXT
 * character-strings joined, type SPF served but never asked, CNAMEs,
 * NXDOMAIN versus NODATA, names that time out (the server never answers
 * them; dns_unbound turns its per-query timer into TEMPFAIL).
 *
 * One server per scenario (its zone differs), one fresh resolver per test
 * (libunbound caches answers and remembers unresponsive servers, so one
 * test must not colour the next).  A test passes if the result is one of
 * the acceptable ones and, for a fail with a specific explanation, the
 * exp= text is equal ("DEFAULT" accepts any), as in test-spf-suite.
 *
 * Skips (only when the test did not pass on the wire; each one is counted
 * and listed):
 *   - timeout-dependent: the acceptable results include temperror, i.e.
 *     the outcome rests on a DNS timeout (5 tests in RFC 7208);
 *   - the check asked a name the DNS wire cannot carry (a label over 63
 *     octets, an empty label, a byte outside printable ASCII): the suite's
 *     driver answers those itself, a real resolver may refuse to send them;
 *   - the check asked a name libunbound answers itself from its built-in
 *     local zones (RFC 1918 / RFC 6303 reverse zones such as
 *     168.192.in-addr.arpa, NXDOMAIN without asking the upstream; see
 *     unbound.conf(5) "unblock-lan-zones"), which dns_unbound does not
 *     unblock: the zone server never sees the question (2 tests: %{p} of
 *     192.168.218.41 and .42).
 * At least MIN_RUN of the 203 tests must run and every one that runs must
 * pass.  Every wait is bounded: server start 10 s, each test 10 s, server
 * exit 3 s; the whole run takes a few seconds plus ~1.5 s per test that
 * waits for a timeout.
 */
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns_unbound.h"
#include "mail/spf.h"
#include "mail/spf_testlib.h"
#include "tap.h"
#include "zone_server.h"
#include "util/xalloc.h"

#define MAX_FIELDS 16
#define MAX_SCEN 64
#define MIN_RUN 150
#define TOTAL_7208 203
#define QUERY_TIMEOUT_MS 1500
#define TEST_DEADLINE_S 10

#define PYTHON "/usr/bin/python3"

/* One zone line without its scenario and order columns (still escaped). */
struct zline {
	int order;
	char *text;
};

struct test {
	char *f[MAX_FIELDS];	/* scenario id helo host mailfrom results exp */
	int nf;
};

struct scenario {
	int id;
	char *name;
	struct zline *z;
	size_t nz;
	struct test *t;
	size_t nt;
};

static struct scenario scen[MAX_SCEN];
static int nscen;
static pid_t server_pid;	/* the running zone server, or 0 */

/* The scenario with id, created on first use (NULL if too many). */
static struct scenario *scenario_get(int id)
{
	int i;

	for (i = 0; i < nscen; i++)
		if (scen[i].id == id)
			return &scen[i];
	if (nscen == MAX_SCEN)
		return NULL;
	scen[nscen].id = id;
	return &scen[nscen++];
}

/* Load the zones file: each line kept escaped, for the zone server. */
static int load_zones(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[4096], *f[MAX_FIELDS];
	struct scenario *sc;

	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, "#S\t", 3) == 0) {
			if (spft_split(line + 3, f, MAX_FIELDS) >= 2 &&
			    (sc = scenario_get(spft_num(f[0]))) && !sc->name) {
				spft_unescape(f[1]);
				sc->name = xstrdup(f[1]);
			}
			continue;
		}
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		/* scenario TAB order TAB the rest */
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') :
			NULL;

		if (!t2 || !(sc = scenario_get(spft_num(line))))
			continue;
		sc->z = xrealloc(sc->z, (sc->nz + 1) * sizeof(*sc->z));
		sc->z[sc->nz].order = spft_num(t1 + 1);
		sc->z[sc->nz].text = xstrdup(t2 + 1);
		sc->nz++;
	}
	fclose(fp);
	return 0;
}

/* Load the tests file into the scenarios, in file order. */
static int load_tests(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[4096], *f[MAX_FIELDS];
	struct scenario *sc;
	struct test *t;
	int nf, i;

	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		nf = spft_split(line, f, MAX_FIELDS);
		if (nf < 8 || !(sc = scenario_get(spft_num(f[0]))))
			continue;
		sc->t = xrealloc(sc->t, (sc->nt + 1) * sizeof(*sc->t));
		t = &sc->t[sc->nt++];
		memset(t, 0, sizeof(*t));
		for (i = 0; i < nf; i++) {
			spft_unescape(f[i]);
			t->f[i] = xstrdup(f[i]);
		}
		t->nf = nf;
	}
	fclose(fp);
	return 0;
}

static void free_all(void)
{
	int i, k;
	size_t j;

	for (i = 0; i < nscen; i++) {
		for (j = 0; j < scen[i].nz; j++)
			free(scen[i].z[j].text);
		for (j = 0; j < scen[i].nt; j++)
			for (k = 0; k < scen[i].t[j].nf; k++)
				free(scen[i].t[j].f[k]);
		free(scen[i].z);
		free(scen[i].t);
		free(scen[i].name);
	}
	nscen = 0;
}

/* Write a scenario's zone (by order, stable) in zone-server's format. */
static int write_zone(struct scenario *sc, const char *path)
{
	FILE *fp = fopen(path, "w");
	size_t i, k;

	if (!fp)
		return -1;
	for (i = 1; i < sc->nz; i++) {
		struct zline t = sc->z[i];

		for (k = i; k > 0 && sc->z[k - 1].order > t.order; k--)
			sc->z[k] = sc->z[k - 1];
		sc->z[k] = t;
	}
	for (i = 0; i < sc->nz; i++)
		fprintf(fp, "%s\n", sc->z[i].text);
	return fclose(fp) == 0 ? 0 : -1;
}

/* atexit: never leave a server behind. */
static void cleanup(void)
{
	zone_server_stop(server_pid);
	server_pid = 0;
}

/* Can Debian's python3 import dnslib? */
static bool have_dnslib(void)
{
	int status;
	pid_t pid;

	if (access(PYTHON, X_OK) != 0)
		return false;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execl(PYTHON, "python3", "-c", "import dnslib.server",
		      (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * A pass-through resolver that notes names the DNS wire cannot carry
 * (RFC 1035 2.3.4 lengths, empty labels, octets outside printable ASCII)
 * and names libunbound answers itself.
 */
struct proxy {
	struct dns_resolver base;	/* first */
	struct dns_resolver *inner;
	unsigned queries;
	char bad[300];			/* first such name, "" if none */
	char local[300];		/* first locally served name */
};

/*
 * libunbound's built-in local zones (unbound.conf(5) "local-zone"
 * defaults: RFC 1918 / RFC 6303 reverse zones, answered NXDOMAIN without
 * asking the upstream) that dns_unbound does not unblock.
 */
static const char *unbound_local_zone(const char *name, char *zone,
				      size_t zsz)
{
	static const char *const fixed[] = {
		"10.in-addr.arpa", "127.in-addr.arpa", "0.in-addr.arpa",
		"254.169.in-addr.arpa", "168.192.in-addr.arpa",
		"255.255.255.255.in-addr.arpa", "d.f.ip6.arpa",
		"8.e.f.ip6.arpa", "9.e.f.ip6.arpa", "a.e.f.ip6.arpa",
		"b.e.f.ip6.arpa", "localhost", "onion", "home.arpa",
	};
	const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	size_t n = strlen(name), z, i;

	/* the fixed ones, 16-31.172.in-addr.arpa, 64-127.100.in-addr.arpa */
	for (i = 0; i < nfixed + 16 + 64; i++) {
		if (i < nfixed)
			snprintf(zone, zsz, "%s", fixed[i]);
		else if (i < nfixed + 16)
			snprintf(zone, zsz, "%zu.172.in-addr.arpa",
				 16 + i - nfixed);
		else
			snprintf(zone, zsz, "%zu.100.in-addr.arpa",
				 64 + i - nfixed - 16);
		z = strlen(zone);
		if (n >= z && strcasecmp(name + n - z, zone) == 0 &&
		    (n == z || name[n - z - 1] == '.'))
			return zone;
	}
	return NULL;
}

/* Why the wire cannot carry name, or NULL. */
static const char *uncarriable(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t label = 0, total = 0;

	if (!*p)
		return NULL;	/* the root */
	for (; *p; p++, total++) {
		if (*p < 0x20 || *p > 0x7e)
			return "octet outside printable ASCII";
		if (*p != '.') {
			if (++label > 63)
				return "label over 63 octets";
			continue;
		}
		if (label == 0)
			return "empty label";
		label = 0;
	}
	if (label == 0)
		return "empty label";
	if (total > 253)
		return "name over 253 octets";
	return NULL;
}

static void px_query(struct dns_resolver *r, const struct dns_question *q,
		     dns_cb *cb, void *arg)
{
	struct proxy *p = (struct proxy *)r;
	const char *why = uncarriable(q->name);

	char zone[64];

	p->queries++;
	if (why && !p->bad[0])
		snprintf(p->bad, sizeof(p->bad), "%s (%.200s)", why, q->name);
	if (!p->local[0] && unbound_local_zone(q->name, zone, sizeof(zone)))
		snprintf(p->local, sizeof(p->local), "%.200s (in %s)", q->name,
			 zone);
	dns_query(p->inner, q, cb, arg);
}

static void px_free(struct dns_resolver *r)
{
	(void)r;	/* on the stack; the inner one is freed by the test */
}

static const struct dns_resolver_ops px_ops = {
	.query = px_query,
	.free = px_free,
};

/* A persistent no-op timer: the loop wakes up to check the deadline. */
static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

struct counts {
	int ran, passed, skip_timeout, skip_name, skip_local, failed;
};

/* One test through a fresh unbound resolver on port. */
static void run_test(struct event_base *base, int port, struct scenario *sc,
		     struct test *t, struct counts *c)
{
	char up[64], err[256];
	struct proxy px;
	struct outcome o;
	struct dns_resolver *ub;
	time_t end;
	bool good;
	const char *label = sc->name ? sc->name : "?";

	snprintf(up, sizeof(up), "127.0.0.1@%d", port);
	ub = dns_unbound_new(base, up, QUERY_TIMEOUT_MS, err, sizeof(err));
	if (!ub) {
		c->failed++;
		ok(0, "rfc7208/%s/%s: unbound resolver: %s", label, t->f[1],
		   err);
		return;
	}
	memset(&px, 0, sizeof(px));
	px.base.ops = &px_ops;
	px.inner = ub;
	memset(&o, 0, sizeof(o));
	end = time(NULL) + TEST_DEADLINE_S;
	/* f: scenario id spec helo host mailfrom results exp flags */
	if (spf_check(&px.base, t->f[4], t->f[5], t->f[3], "mx.mamori.test",
		      spft_on_done, &o) != 0) {
		o.done = true;
		o.r = SPF_PERMERROR;
	}
	while (!o.done && time(NULL) <= end)
		event_base_loop(base, EVLOOP_ONCE);
	dns_resolver_free(ub);	/* cancels anything still in flight */

	good = o.done && spft_result_in(o.r, t->f[6]);
	if (good && o.r == SPF_FAIL && t->f[7][0] &&
	    strcmp(t->f[7], "DEFAULT") != 0)
		good = o.exp && strcmp(o.exp, t->f[7]) == 0;
	if (!good && strstr(t->f[6], "temperror")) {
		c->skip_timeout++;
		printf("ok %d - rfc7208/%s/%s # SKIP timeout-dependent\n",
		       ++tap_n, label, t->f[1]);
	} else if (!good && px.local[0]) {
		c->skip_local++;
		printf("ok %d - rfc7208/%s/%s # SKIP libunbound answers %s "
		       "itself (built-in local zone, not forwarded)\n", ++tap_n,
		       label, t->f[1], px.local);
	} else if (!good && px.bad[0]) {
		c->skip_name++;
		printf("ok %d - rfc7208/%s/%s # SKIP the DNS cannot carry the "
		       "name: %s\n", ++tap_n, label, t->f[1], px.bad);
	} else {
		c->ran++;
		c->passed += good;
		c->failed += !good;
		ok(good, "rfc7208/%s/%s (%u queries)", label, t->f[1],
		   px.queries);
	}
	if (!good)
		printf("#   got %s (%s) exp=\"%s\", want %s exp=\"%s\"%s\n",
		       o.done ? spf_result_name(o.r) : "no answer in time",
		       o.reason, o.exp ? o.exp : "", t->f[6], t->f[7],
		       o.done ? "" : " (deadline)");
	free(o.exp);
}

/* Serve one scenario and run its tests. */
static void run_scenario(const char *root, struct event_base *base,
			 struct scenario *sc, struct counts *c)
{
	char path[] = "/tmp/mamori-spfzone-XXXXXX";
	int fd, port;
	size_t i;

	fd = mkstemp(path);
	if (fd < 0) {
		ok(0, "scenario %d: temporary zone file", sc->id);
		return;
	}
	close(fd);
	port = 0;
	if (write_zone(sc, path) < 0) {
		ok(0, "scenario %d: zone file written", sc->id);
		unlink(path);
		return;
	}
	server_pid = zone_server_start(root, path, &port);
	if (server_pid <= 0) {
		server_pid = 0;
		c->failed += (int)sc->nt;
		ok(0, "scenario %d (%s): zone server on port %d starts",
		   sc->id, sc->name ? sc->name : "?", port);
		unlink(path);
		return;
	}
	for (i = 0; i < sc->nt; i++)
		run_test(base, port, sc, &sc->t[i], c);
	zone_server_stop(server_pid);
	server_pid = 0;
	unlink(path);
}

int main(void)
{
	const char *shared = getenv("MAMORI_SHARED");
	const char *root = getenv("MAMORI_SOURCE_ROOT");
	struct counts c = { 0, 0, 0, 0, 0, 0 };
	struct timeval tv = { 0, 200000 };
	struct event_base *base;
	struct event *ticker;
	char path[1024];
	size_t total = 0;
	int i;

	if (!shared || !root) {
		printf("1..0 # SKIP MAMORI_SHARED or MAMORI_SOURCE_ROOT not "
		       "set\n");
		return 0;
	}
	if (!have_dnslib()) {
		printf("1..0 # SKIP python3-dnslib not installed\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup);
	snprintf(path, sizeof(path),
		 "%s/corpora/spf-test-suite/flat/rfc7208-zones.tsv", shared);
	if (!ok(load_zones(path) == 0, "read %s", path))
		return tap_done();
	snprintf(path, sizeof(path),
		 "%s/corpora/spf-test-suite/flat/rfc7208-tests.tsv", shared);
	if (!ok(load_tests(path) == 0, "read %s", path))
		return tap_done();
	for (i = 0; i < nscen; i++)
		total += scen[i].nt;
	is_int(total, TOTAL_7208, "rfc7208 suite has %d tests", TOTAL_7208);
	is_int(nscen, 16, "in 16 scenarios");

	base = event_base_new();
	ticker = event_new(base, -1, EV_PERSIST, tick, NULL);
	event_add(ticker, &tv);
	for (i = 0; i < nscen; i++)
		if (scen[i].nt)
			run_scenario(root, base, &scen[i], &c);
	event_free(ticker);
	event_base_free(base);

	printf("# rfc7208 over libunbound + zone-server: %zu tests, %d ran, "
	       "%d passed, %d failed, %d skipped (%d timeout-dependent, "
	       "%d names the DNS cannot carry, %d names libunbound serves "
	       "itself)\n", total, c.ran, c.passed, c.failed,
	       c.skip_timeout + c.skip_name + c.skip_local, c.skip_timeout,
	       c.skip_name, c.skip_local);
	ok(c.ran >= MIN_RUN, "at least %d of %zu tests ran (%d)", MIN_RUN,
	   total, c.ran);
	is_int(c.passed, c.ran, "every test that ran passed");
	free_all();
	return tap_done();
}
