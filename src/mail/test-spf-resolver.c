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
#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns_unbound.h"
#include "mail/spf.h"
#include "mail/spf_testlib.h"
#include "tap.h"
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

/* Decode the README-flat escapes in place. */
static void unescape(char *s)
{
	size_t i = 0, o = 0;

	while (s[i]) {
		if (s[i] != '\\' || !s[i + 1]) {
			s[o++] = s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 't': s[o++] = '\t'; i += 2; break;
		case 'n': s[o++] = '\n'; i += 2; break;
		case 'r': s[o++] = '\r'; i += 2; break;
		case 'x': {
			char h[3] = { s[i + 2], s[i + 2] ? s[i + 3] : 0, 0 };

			s[o++] = (char)strtoul(h, NULL, 16);
			i += 2 + strlen(h);
			break;
		}
		default: s[o++] = s[i + 1]; i += 2; break;
		}
	}
	s[o] = '\0';
}

/* Split a line on tabs (in place, not decoded); returns the field count. */
static int split(char *line, char **f)
{
	int n = 0;
	char *p = line, *tab;

	line[strcspn(line, "\n")] = '\0';
	while (n < MAX_FIELDS) {
		tab = strchr(p, '\t');
		if (tab)
			*tab = '\0';
		f[n++] = p;
		if (!tab)
			break;
		p = tab + 1;
	}
	return n;
}

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
			if (split(line + 3, f) >= 2 &&
			    (sc = scenario_get(atoi(f[0]))) && !sc->name) {
				unescape(f[1]);
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

		if (!t2 || !(sc = scenario_get(atoi(line))))
			continue;
		sc->z = xrealloc(sc->z, (sc->nz + 1) * sizeof(*sc->z));
		sc->z[sc->nz].order = atoi(t1 + 1);
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
		nf = split(line, f);
		if (nf < 8 || !(sc = scenario_get(atoi(f[0]))))
			continue;
		sc->t = xrealloc(sc->t, (sc->nt + 1) * sizeof(*sc->t));
		t = &sc->t[sc->nt++];
		memset(t, 0, sizeof(*t));
		for (i = 0; i < nf; i++) {
			unescape(f[i]);
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

/* A free UDP port on loopback (the server binds TCP on it too). */
static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		port = -1;
	else
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Start the zone server; returns its pid, 0 if dnslib is missing, -1. */
static pid_t server_start(const char *root, const char *zonefile, int port)
{
	char script[1024], portstr[16], line[64];
	struct pollfd pfd;
	int fds[2], status;
	ssize_t n;
	size_t have = 0;
	pid_t pid;
	time_t end;

	snprintf(script, sizeof(script), "%s/test/dns/zone-server.py", root);
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (pipe(fds) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(PYTHON, "python3", script, zonefile, portstr,
		      "127.0.0.1", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	end = time(NULL) + 10;
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (time(NULL) < end && poll(&pfd, 1, 500) >= 0) {
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(fds[0], line + have, sizeof(line) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		line[have] = '\0';
		if (strstr(line, "READY\n")) {
			close(fds[0]);
			return pid;
		}
		if (have == sizeof(line) - 1)
			break;
	}
	close(fds[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return 0;	/* no dnslib */
	return -1;
}

/* Stop the server, waiting at most 3 s before SIGKILL. */
static void server_stop(pid_t pid)
{
	int status, i;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < 30; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* atexit: never leave a server behind. */
static void cleanup(void)
{
	server_stop(server_pid);
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
	port = free_port();
	if (write_zone(sc, path) < 0 || port < 0) {
		ok(0, "scenario %d: zone file and port", sc->id);
		unlink(path);
		return;
	}
	server_pid = server_start(root, path, port);
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
	server_stop(server_pid);
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
