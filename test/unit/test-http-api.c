/*
 * test-http-api - the admin API over real sockets: a real core on a
 * memory: store, the API on a unix socket in a temporary directory and on a
 * loopback TCP port, the event loop on the main thread and libcurl requests
 * from a second thread.  Each phase is one client thread; between phases
 * the main thread inspects or reconfigures the server with the loop
 * stopped, so nothing is shared while both threads run.  The login-abuse
 * routes run against a real login engine on the same store; the main
 * thread drives its attack through login_decide() between two phases.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "auth/login.h"
#include "core/core.h"
#include "front/http_api.h"
#include "store/store.h"
#include "tap.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

static struct event_base *base;
static char sock_path[256];
static char tcp_url[64];
static CURL *curl;

/* The member of a GET /v1/ips entry that names the address or network. */
#define IPS_KEY "ip"
/* The first line of an incident's CSV export (RFC 4180: CRLF). */
#define CSV_HEADER "login,valid,tried,first_seen,last_seen,protocol\r\n"

/* One reply as the client saw it. */
struct resp {
	long status;
	struct buf body;
	char ctype[128];
	json_t *json;
};

/* libcurl write callback into a bounded buffer. */
static size_t resp_data(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;

	return buf_append(&r->body, p, size * n) ? 0 : size * n;
}

/* Free a reply. */
static void resp_free(struct resp *r)
{
	buf_deinit(&r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/*
 * Make one request: over the unix socket when tcp is false, else over TCP
 * with the bearer token (NULL: no Authorization header).  body NULL: none.
 */
static void request(struct resp *r, const char *method, const char *path,
		    const char *body, bool tcp, const char *token)
{
	struct curl_slist *h = NULL;
	char url[4096], auth[256];
	char *ct = NULL;
	CURLcode res;

	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 1 << 20);
	curl_easy_reset(curl);
	snprintf(url, sizeof(url), "%s%s", tcp ? tcp_url : "http://localhost",
		 path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (!tcp)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock_path);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, resp_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
	h = curl_slist_append(h, "Expect:");
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	res = curl_easy_perform(curl);
	if (res != CURLE_OK)
		printf("# %s %s: %s\n", method, path, curl_easy_strerror(res));
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
	curl_slist_free_all(h);
	if (r->body.len)
		r->json = json_loadb(r->body.p, r->body.len, 0, NULL);
}

/*
 * request() with the server's log (stderr; the server logs on the loop
 * thread before it replies) captured into log.
 */
static void request_logged(struct resp *r, const char *method,
			   const char *path, bool tcp, const char *token,
			   char *log, size_t logsz)
{
	char name[] = "/tmp/mamori-api-log-XXXXXX";
	int fd = mkstemp(name), saved = dup(2);
	ssize_t n;

	fflush(stderr);
	dup2(fd, 2);
	request(r, method, path, NULL, tcp, token);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, log, logsz - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(name);
}

/* A string member of the reply, or "" when absent. */
static const char *member(const struct resp *r, const char *key)
{
	const char *s = json_string_value(json_object_get(r->json, key));

	return s ? s : "";
}

/* One table row: a request and the status it must get. */
struct status_case {
	const char *label;
	const char *method;
	const char *path;
	const char *body;
	int want;
};

/* Requests that must fail: the status, and an "error" member to say why. */
static void error_cases(const struct status_case *cs, size_t n)
{
	struct resp r;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct status_case *c = &cs[i];

		request(&r, c->method, c->path, c->body, false, NULL);
		is_int(r.status, c->want, "%s: %s %s -> %d", c->label,
		       c->method, c->path, c->want);
		ok(json_is_string(json_object_get(r.json, "error")),
		   "%s: JSON error body (%s)", c->label, member(&r, "error"));
		resp_free(&r);
	}
}

/* Phase 1: routing, decoding, bodies and the account life cycle. */
static void *phase1(void *arg)
{
	static const struct status_case cases[] = {
		{"health", "GET", "/v1/health", NULL, 200},
		{"dkim key state", "GET", "/v1/dkim/example.com/s1", NULL, 200},
		{"dkim key state needs a selector", "GET",
		 "/v1/dkim/example.com", NULL, 404},
		{"dkim key state, POST", "POST", "/v1/dkim/example.com/s1",
		 "{}", 405},
		{"unknown account", "GET", "/v1/accounts/nobody%40example.com",
		 NULL, 404},
		{"unknown path", "GET", "/v1/nothing", NULL, 404},
		{"unknown top", "GET", "/", NULL, 404},
		{"trailing slash", "GET", "/v1/accounts/", NULL, 404},
		{"too deep", "GET", "/v1/accounts/a/b/c", NULL, 404},
		{"GET on a POST route", "GET",
		 "/v1/accounts/a%40example.com/restrict", NULL, 405},
		{"DELETE accounts", "DELETE", "/v1/accounts", NULL, 405},
		{"POST health", "POST", "/v1/health", "{}", 405},
		{"bad JSON", "POST", "/v1/accounts/a%40example.com/restrict",
		 "{\"reason\": ", 400},
		{"body not an object", "POST",
		 "/v1/accounts/a%40example.com/restrict", "[1]", 400},
		{"restrict without reason", "POST",
		 "/v1/accounts/a%40example.com/restrict", "{}", 400},
		{"reason not a string", "POST",
		 "/v1/accounts/a%40example.com/restrict", "{\"reason\": 5}", 400},
		{"encoded slash", "GET", "/v1/accounts/a%2Fb", NULL, 400},
		{"encoded NUL", "GET", "/v1/accounts/a%00b", NULL, 400},
		{"encoded newline", "GET", "/v1/accounts/a%0Ab", NULL, 400},
		{"invalid UTF-8", "POST", "/v1/accounts/a%FF/restrict",
		 "{\"reason\": \"x\"}", 400},
		{"UTF-8 login", "GET", "/v1/accounts/%E5%AE%88%40example.jp",
		 NULL, 404},
		{"query invalid UTF-8", "GET", "/v1/held?account=%C3", NULL, 400},
		{"force without reason", "POST",
		 "/v1/accounts/a%40example.com/release", "{\"force\": true}", 400},
		{"force not boolean", "POST",
		 "/v1/accounts/a%40example.com/release", "{\"force\": 1}", 400},
		{"held bogus", "POST", "/v1/accounts/a%40example.com/release",
		 "{\"held\": \"burn\"}", 400},
		{"unknown state", "GET", "/v1/accounts?state=bogus", NULL, 400},
		{"query control byte", "GET", "/v1/held?account=a%01", NULL, 400},
		{"held message unknown", "POST", "/v1/held/ABC123DEF/release",
		 NULL, 404},
		{"held bad action", "POST", "/v1/held/ABC123DEF/burn", NULL, 404},
		{"unix socket needs no token", "GET", "/v1/stats", NULL, 200},
		{"ips, detection off", "GET", "/v1/ips", NULL, 404},
		{"block, detection off", "POST", "/v1/ips/block",
		 "{\"ip\": \"192.0.2.1\", \"reason\": \"x\"}", 404},
		{"unblock, detection off", "POST", "/v1/ips/unblock",
		 "{\"ip\": \"192.0.2.1\"}", 404},
		{"incidents, detection off", "GET", "/v1/incidents", NULL, 404},
		{"incident, detection off", "GET", "/v1/incidents/x", NULL, 404},
		{"export, detection off", "GET", "/v1/incidents/x/export", NULL,
		 404},
		{"GET on block, detection off", "GET", "/v1/ips/block", NULL,
		 405},
	};
	struct resp r;
	size_t i;
	char *big, log[4096];

	(void)arg;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct status_case *c = &cases[i];

		request(&r, c->method, c->path, c->body, false, NULL);
		is_int(r.status, c->want, "%s: %s %s -> %d", c->label,
		       c->method, c->path, c->want);
		if (c->want != 200) {
			ok(json_is_string(json_object_get(r.json, "error")),
			   "%s: JSON error body", c->label);
		}
		ok(strncmp(r.ctype, "application/json", 16) == 0,
		   "%s: content type %s", c->label, r.ctype);
		resp_free(&r);
	}

	request(&r, "POST", "/v1/accounts/a%40example.com/restrict",
		"{\"reason\": ", false, NULL);
	ok(strncmp(member(&r, "error"), "invalid JSON: ", 14) == 0,
	   "bad JSON: error says so (%s)", member(&r, "error"));
	resp_free(&r);

	request(&r, "PUT", "/v1/accounts", NULL, false, NULL);
	ok(strstr(member(&r, "error"), "GET") != NULL,
	   "405 names the allowed method");
	resp_free(&r);

	/* Far over the limit: the server must read it all (lingering close)
	 * or the client, still sending, would see EPIPE instead of 413. */
	big = xmalloc(1024 * 1024);
	memset(big, ' ', 1024 * 1024 - 1);
	big[1024 * 1024 - 1] = '\0';
	request(&r, "POST", "/v1/accounts/a%40example.com/restrict", big,
		false, NULL);
	is_int(r.status, 413, "body of 1 MiB -> 413");
	resp_free(&r);
	free(big);

	request(&r, "GET", "/v1/health", NULL, false, NULL);
	is_str(member(&r, "status"), "ok", "health says ok");
	resp_free(&r);

	request(&r, "GET", "/v1/dkim/example.com/s1", NULL, false, NULL);
	is_str(member(&r, "state"), "no_signing",
	       "no milter: a DKIM key is never signed with");
	resp_free(&r);

	request(&r, "GET", "/v1/incidents", NULL, false, NULL);
	is_str(member(&r, "error"), "login-abuse detection is off",
	       "no engine: the 404 says why");
	resp_free(&r);
	request(&r, "GET", "/v1/stats", NULL, false, NULL);
	ok(json_object_get(r.json, "login") == NULL,
	   "no engine: no \"login\" in stats");
	resp_free(&r);

	/* The account life cycle, with the login percent-encoded. */
	request(&r, "POST", "/v1/accounts/alice%40example.com/restrict",
		"{\"reason\": \"spam run seen by the abuse desk\"}", false, NULL);
	is_int(r.status, 200, "restrict -> 200");
	is_str(member(&r, "state"), "restricted", "restrict: state");
	resp_free(&r);

	request(&r, "POST", "/v1/accounts/alice%40example.com/restrict",
		"{\"reason\": \"again\"}", false, NULL);
	is_int(r.status, 409, "restrict twice -> 409");
	resp_free(&r);

	request(&r, "GET", "/v1/accounts/alice%40example.com", NULL, false,
		NULL);
	is_int(r.status, 200, "show -> 200");
	is_str(member(&r, "state"), "restricted", "show: state restricted");
	is_str(member(&r, "login"), "alice@example.com", "show: login decoded");
	resp_free(&r);

	request(&r, "POST", "/v1/accounts/bob+tag@example.com/credential-changed",
		NULL, false, NULL);
	is_str(member(&r, "login"), "bob+tag@example.com",
	       "'+' in a path segment stands for itself");
	resp_free(&r);

	request(&r, "GET", "/v1/accounts/alice@example.com", NULL, false, NULL);
	is_int(r.status, 200, "show with a raw '@' -> 200");
	resp_free(&r);

	request(&r, "GET", "/v1/accounts?state=restricted", NULL, false, NULL);
	is_int(r.status, 200, "list restricted -> 200");
	is_int(json_array_size(json_object_get(r.json, "accounts")), 1,
	       "list restricted: one account");
	resp_free(&r);

	request(&r, "POST", "/v1/accounts/alice%40example.com/release", "{}",
		false, NULL);
	is_int(r.status, 409, "release without credential change -> 409");
	ok(strstr(member(&r, "error"), "password") != NULL,
	   "409 says why (%s)", member(&r, "error"));
	resp_free(&r);

	/* The core compares whole seconds: the change must come after the
	 * second of the restriction. */
	sleep(1);
	request(&r, "POST",
		"/v1/accounts/alice%40example.com/credential-changed",
		"{\"source\": \"portal\"}", false, NULL);
	is_int(r.status, 200, "credential-changed -> 200");
	resp_free(&r);

	request(&r, "POST", "/v1/accounts/alice%40example.com/release",
		"{\"held\": \"keep\"}", false, NULL);
	is_int(r.status, 200, "release after credential change -> 200");
	is_str(member(&r, "state"), "probation", "release: state probation");
	resp_free(&r);

	/* An empty body is an empty object; -d without a content type too. */
	request(&r, "POST", "/v1/accounts/bob%40example.com/credential-changed",
		NULL, false, NULL);
	is_int(r.status, 200, "credential-changed without a body -> 200");
	resp_free(&r);

	request(&r, "POST", "/v1/accounts/carol%40example.com/restrict",
		"{\"reason\": \"test\"}", false, NULL);
	resp_free(&r);
	request(&r, "POST", "/v1/accounts/carol%40example.com/release",
		"{\"force\": true, \"reason\": \"customer called\"}", false,
		NULL);
	is_int(r.status, 200, "forced release with reason -> 200");
	resp_free(&r);

	request(&r, "GET", "/v1/held?account=alice%40example.com", NULL, false,
		NULL);
	is_int(r.status, 200, "held list -> 200");
	ok(json_is_array(json_object_get(r.json, "held")), "held list: array");
	resp_free(&r);

	request(&r, "GET", "/metrics", NULL, false, NULL);
	is_int(r.status, 200, "metrics -> 200");
	ok(strncmp(r.ctype, "text/plain; version=0.0.4", 25) == 0,
	   "metrics: content type %s", r.ctype);
	{
		/* Beside outbound: logins (and their fleet counts, 0 with
		 * a store of one host), the milter, notices, the store.
		 * The account life cycle above went through the store. */
		static const char *const want[] = {
			"mamori_login_decisions_total{stage=\"before\","
			"outcome=\"allow\"} 0\n",
			"# TYPE mamori_login_fleet_calls_total counter\n",
			"mamori_login_fleet_failures_total 0\n",
			"# HELP mamori_login_fleet_judged_total ",
			"mamori_login_fleet_skipped_total 0\n",
			"# TYPE mamori_login_fleet_pending gauge\n",
			"mamori_milter_messages_total{direction=\"inbound\","
			"verdict=\"reject\"} 0\n",
			"mamori_milter_errors_total{kind=\"dkim_sign\"} 0\n",
			"mamori_notices_total{result=\"sent\"} 0\n",
			"mamori_store_operations_total{op=\"put\"} ",
			"mamori_store_operation_failures_total{op=\"get\"} 0\n",
			"mamori_store_operation_seconds_bucket{le=\"+Inf\"} ",
			"# TYPE mamori_store_operation_seconds histogram\n",
		};
		const char *p;
		size_t k;

		buf_append(&r.body, "", 1);
		for (k = 0; k < sizeof(want) / sizeof(want[0]); k++)
			ok(strstr(r.body.p, want[k]) != NULL, "metrics: %.*s",
			   (int)strcspn(want[k], "\n"), want[k]);
		p = strstr(r.body.p, want[9]);
		ok(p && strtol(p + strlen(want[9]), NULL, 10) > 0,
		   "metrics: the store's puts are counted");
	}
	resp_free(&r);

	request(&r, "GET", "/v1/stats", NULL, false, NULL);
	ok(json_is_object(r.json), "stats: a JSON object");
	resp_free(&r);

	/* TCP: the token is required. */
	request(&r, "GET", "/v1/health", NULL, true, NULL);
	is_int(r.status, 401, "tcp without token -> 401");
	resp_free(&r);
	request_logged(&r, "GET", "/v1/health", true, "wrong-Tok3n", log,
		       sizeof(log));
	is_int(r.status, 401, "tcp with a wrong token -> 401");
	ok(strstr(log, "status=401") && strstr(log, "auth=failed"),
	   "failed auth: logged as auth=failed (%.*s)", (int)strcspn(log, "\n"),
	   log);
	ok(strstr(log, "actor=-") != NULL, "failed auth: actor=-");
	ok(strstr(log, "peer=127.0.0.1:") != NULL, "failed auth: the peer");
	ok(strstr(log, "wrong-Tok3n") == NULL, "failed auth: never the token");
	resp_free(&r);
	request_logged(&r, "GET", "/v1/health", true, "s3cret-token", log,
		       sizeof(log));
	ok(!strstr(log, "auth=failed"), "good token: no auth=failed");
	resp_free(&r);
	request(&r, "GET", "/v1/health", NULL, true, "s3cret-token-x");
	is_int(r.status, 401, "tcp with a longer token -> 401");
	resp_free(&r);
	request(&r, "GET", "/v1/nothing", NULL, true, NULL);
	is_int(r.status, 401, "tcp: 401 before 404");
	resp_free(&r);
	request(&r, "GET", "/v1/health", NULL, true, "s3cret-token");
	is_int(r.status, 200, "tcp with the token -> 200");
	resp_free(&r);
	request(&r, "GET", "/v1/accounts/alice%40example.com", NULL, true,
		"s3cret-token");
	is_str(member(&r, "state"), "probation", "tcp: show works");
	resp_free(&r);

	event_base_loopexit(base, NULL);
	return NULL;
}

/* Phase 2, after http_api_reconfigure(): only the new token works. */
static void *phase2(void *arg)
{
	struct resp r;

	(void)arg;
	request(&r, "GET", "/v1/health", NULL, true, "s3cret-token");
	is_int(r.status, 401, "after reload: old token -> 401");
	resp_free(&r);
	request(&r, "GET", "/v1/health", NULL, true, "new-token");
	is_int(r.status, 200, "after reload: new token -> 200");
	resp_free(&r);
	event_base_loopexit(base, NULL);
	return NULL;
}

/* DMARC aggregate rows put straight into the store, as front/milter.c
 * writes them, and rows no reader may trust. */
static const struct agg_row {
	const char *key, *value;
	bool good;
} agg_rows[] = {
	{"2026-05-01|192.0.2.1|shop.example|fail|none|fail|reject", "3", true},
	{"2026-05-01|192.0.2.1|legit.example|pass|pass|pass|none", "10", true},
	{"2026-05-02|2001:db8::25|legit.example|softfail|pass|pass|none", "5",
	 true},
	{"2026-05-02|198.51.100.7|shop.example|fail|fail|fail|quarantine",
	 "2", true},
	{"2026-05-03|203.0.113.5|other.example|none|none|none|none", "7",
	 true},
	{"2026-06-01|192.0.2.1|legit.example|pass|pass|pass|none", "1", true},
	/* The format with identifiers (core.h): DKIM aligned, SPF passed
	 * for another domain. */
	{"2026-05-15|192.0.2.1|ids.example|pass|pass|pass|none|dkim||mfrom|"
	 "esp.example|ids.example:s2026:pass", "4", true},
	{"2026-05-15|192.0.2.1|ids.example|pass|pass|pass|none|maybe||"
	 "mfrom|esp.example|", "1", false},
	/* Malformed: each must be skipped and counted, never listed. */
	{"2026-05-02|192.0.2.1|x.example|pass|pass", "1", false},
	{"2026-05-02|192.0.2.1|x.example|pass|pass|pass|none|extra", "1",
	 false},
	{"2026-05-02|not-an-ip|x.example|pass|pass|pass|none", "1", false},
	{"2026-05-02|192.0.2.1|x.example|pass|pass|maybe|none", "1", false},
	{"2026-05-02|192.0.2.1|x.example|pass|pass|pass|discard", "1", false},
	{"2026-05-02|192.0.2.1|x.example|PASS|pass|pass|none", "1", false},
	{"2026-05-02|192.0.2.1||pass|pass|pass|none", "1", false},
	{"2026-05-02|192.0.2.1|x.example|pass|pass|pass|none", "abc", false},
	{"2026-05-02|192.0.2.2|x.example|pass|pass|pass|none", "-4", false},
	{"2026-05-02|192.0.2.3|x.example|pass|pass|pass|none", "", false},
	{"2026-05-02|192.0.2.4|x.example|pass|pass|pass|none",
	 "1234567890123456", false},
	{"2026-02-30|192.0.2.1|x.example|pass|pass|pass|none", "1", false},
	{"2026-5-02|192.0.2.1|x.example|pass|pass|pass|none", "1", false},
	{"garbage", "{\"json\": true}", false},
};

/* Put agg_rows into st (a memory: store answers at once). */
static void agg_put_rows(struct store *st)
{
	size_t i;

	for (i = 0; i < sizeof(agg_rows) / sizeof(agg_rows[0]); i++)
		store_put(st, "dmarc_agg", agg_rows[i].key, agg_rows[i].value,
			  0, NULL, NULL);
	/* Two received-report records for GET /v1/dmarc/sources, and one
	 * that does not parse. */
	store_put(st, "dmarc_rep", "shop.example|2026-12-01|203.0.113.66|r|1|0",
		  "{\"count\":20,\"disp\":\"reject\",\"dkim\":\"fail\","
		  "\"spf\":\"fail\",\"reporter\":\"r\"}", 0, NULL, NULL);
	store_put(st, "dmarc_rep", "shop.example|2026-12-01|192.0.2.1|r|1|1",
		  "{\"count\":5,\"disp\":\"none\",\"dkim\":\"pass\","
		  "\"spf\":\"fail\",\"reporter\":\"r\"}", 0, NULL, NULL);
	store_put(st, "dmarc_rep", "shop.example|2026-12-01|192.0.2.9|r|1|2",
		  "not json", 0, NULL, NULL);
}

/* A member of the reply's "totals", or -1. */
static long long agg_total(const struct resp *r, const char *key)
{
	json_t *v = json_object_get(json_object_get(r->json, "totals"), key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* How many listed rows have member key equal to want. */
static size_t agg_rows_with(const struct resp *r, const char *key,
			    const char *want)
{
	json_t *rows = json_object_get(r->json, "rows"), *v;
	size_t i, n = 0;

	json_array_foreach(rows, i, v) {
		const char *s = json_string_value(json_object_get(v, key));

		n += s && strcmp(s, want) == 0;
	}
	return n;
}

/* Phase DMARC: GET /v1/dmarc/aggregate over agg_rows. */
static void *phase_dmarc(void *arg)
{
	static const struct status_case bad[] = {
		{"dmarc: day junk", "GET", "/v1/dmarc/aggregate?day=junk", NULL,
		 400},
		{"dmarc: day without zero padding", "GET",
		 "/v1/dmarc/aggregate?day=2026-5-1", NULL, 400},
		{"dmarc: day 30 February", "GET",
		 "/v1/dmarc/aggregate?day=2026-02-30", NULL, 400},
		{"dmarc: 29 February of a common year", "GET",
		 "/v1/dmarc/aggregate?day=2025-02-29", NULL, 400},
		{"dmarc: month 13", "GET", "/v1/dmarc/aggregate?day=2026-13-01",
		 NULL, 400},
		{"dmarc: day with a tail", "GET",
		 "/v1/dmarc/aggregate?day=2026-05-01x", NULL, 400},
		{"dmarc: day as a prefix", "GET",
		 "/v1/dmarc/aggregate?day=2026-05", NULL, 400},
		{"dmarc: from junk", "GET",
		 "/v1/dmarc/aggregate?from=yesterday", NULL, 400},
		{"dmarc: to junk", "GET", "/v1/dmarc/aggregate?to=2026-05-32",
		 NULL, 400},
		{"dmarc: day and from", "GET",
		 "/v1/dmarc/aggregate?day=2026-05-01&from=2026-05-01", NULL, 400},
		{"dmarc: from after to", "GET",
		 "/v1/dmarc/aggregate?from=2026-05-03&to=2026-05-01", NULL, 400},
		{"dmarc: domain with a blank", "GET",
		 "/v1/dmarc/aggregate?domain=a%20b.example", NULL, 400},
		{"dmarc: domain with a bar", "GET",
		 "/v1/dmarc/aggregate?domain=a%7Cb.example", NULL, 400},
		{"dmarc: domain with a control byte", "GET",
		 "/v1/dmarc/aggregate?domain=a%01b", NULL, 400},
		{"dmarc: POST", "POST", "/v1/dmarc/aggregate", "{}", 405},
		{"sources: no domain", "GET", "/v1/dmarc/sources", NULL, 400},
		{"sources: days 0", "GET",
		 "/v1/dmarc/sources?domain=shop.example&days=0", NULL, 400},
		{"sources: days junk", "GET",
		 "/v1/dmarc/sources?domain=shop.example&days=7x", NULL, 400},
		{"sources: until junk", "GET",
		 "/v1/dmarc/sources?domain=shop.example&until=2026-12", NULL,
		 400},
		{"dmarc: no such sub-route", "GET", "/v1/dmarc", NULL, 404},
		{"check: no domain", "GET", "/v1/domain/check", NULL, 400},
		{"check: empty domain", "GET", "/v1/domain/check?domain=",
		 NULL, 400},
		{"check: one label", "GET", "/v1/domain/check?domain=localhost",
		 NULL, 400},
		{"check: a blank", "GET", "/v1/domain/check?domain=a%20b.jp",
		 NULL, 400},
		{"check: a control byte", "GET",
		 "/v1/domain/check?domain=a%01b.jp", NULL, 400},
		{"check: script", "GET",
		 "/v1/domain/check?domain=%3Cscript%3E.jp", NULL, 400},
		{"check: empty label", "GET",
		 "/v1/domain/check?domain=a..example", NULL, 400},
		{"check: leading hyphen", "GET",
		 "/v1/domain/check?domain=-a.example", NULL, 400},
		{"check: trailing dot", "GET",
		 "/v1/domain/check?domain=a.example.", NULL, 400},
		{"check: U-label", "GET",
		 "/v1/domain/check?domain=%E6%97%A5%E6%9C%AC.jp", NULL, 400},
		{"check: POST", "POST", "/v1/domain/check?domain=a.example",
		 "{}", 405},
	};
	struct resp r;
	json_t *row;
	size_t i, bad_rows = 0, bad_0502 = 0;

	(void)arg;
	for (i = 0; i < sizeof(agg_rows) / sizeof(agg_rows[0]); i++) {
		bad_rows += !agg_rows[i].good;
		bad_0502 += !agg_rows[i].good &&
			    strncmp(agg_rows[i].key, "2026-05-02|", 11) == 0;
	}
	error_cases(bad, sizeof(bad) / sizeof(bad[0]));

	request(&r, "GET", "/v1/dmarc/aggregate", NULL, false, NULL);
	is_int(r.status, 200, "dmarc: all rows -> 200");
	is_int(json_array_size(json_object_get(r.json, "rows")), 7,
	       "dmarc: the seven good rows are listed");
	is_int(json_integer_value(json_object_get(r.json, "skipped")),
	       bad_rows, "dmarc: every malformed row is skipped and counted");
	is_int(agg_total(&r, "messages"), 32, "dmarc: totals.messages");
	is_int(agg_total(&r, "dmarc_pass"), 20, "dmarc: totals.dmarc_pass");
	is_int(agg_total(&r, "dmarc_fail"), 5, "dmarc: totals.dmarc_fail");
	is_int(agg_total(&r, "dmarc_none"), 7, "dmarc: totals.dmarc_none");
	is_int(agg_total(&r, "dmarc_temperror"), 0,
	       "dmarc: totals.dmarc_temperror");
	is_int(agg_total(&r, "spf_pass"), 15, "dmarc: totals.spf_pass");
	is_int(agg_total(&r, "dkim_pass"), 20, "dmarc: totals.dkim_pass");
	is_int(agg_total(&r, "quarantined"), 2, "dmarc: totals.quarantined");
	is_int(agg_total(&r, "rejected"), 3, "dmarc: totals.rejected");
	ok(json_is_false(json_object_get(r.json, "truncated")),
	   "dmarc: not truncated");
	row = json_array_get(json_object_get(r.json, "rows"), 0);
	is_str(json_string_value(json_object_get(row, "day")), "2026-05-01",
	       "dmarc: a row's day");
	is_str(json_string_value(json_object_get(row, "source_ip")),
	       "192.0.2.1", "dmarc: a row's source_ip");
	is_str(json_string_value(json_object_get(row, "header_from")),
	       "legit.example", "dmarc: a row's header_from (key order)");
	is_str(json_string_value(json_object_get(row, "spf")), "pass",
	       "dmarc: a row's spf");
	is_str(json_string_value(json_object_get(row, "disposition")), "none",
	       "dmarc: a row's disposition");
	is_int(json_integer_value(json_object_get(row, "count")), 10,
	       "dmarc: a row's count is a number");
	is_int(agg_rows_with(&r, "source_ip", "2001:db8::25"), 1,
	       "dmarc: an IPv6 source is listed");
	ok(json_object_get(row, "aligned") == NULL,
	   "dmarc: an old-format row has no identifiers");
	row = json_array_get(json_object_get(r.json, "rows"), 5);
	is_str(json_string_value(json_object_get(row, "header_from")),
	       "ids.example", "dmarc: a row with identifiers (key order)");
	is_str(json_string_value(json_object_get(row, "aligned")), "dkim",
	       "dmarc: a row with identifiers: aligned");
	is_str(json_string_value(json_object_get(row, "spf_domain")),
	       "esp.example", "dmarc: a row with identifiers: spf_domain");
	is_str(json_string_value(json_object_get(row, "spf_scope")), "mfrom",
	       "dmarc: a row with identifiers: spf_scope");
	is_str(json_string_value(json_object_get(json_array_get(
	       json_object_get(row, "dkim_signatures"), 0), "selector")),
	       "s2026", "dmarc: a row with identifiers: the DKIM selector");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/sources?domain=Shop.Example&days=2&"
		"until=2026-12-02", NULL, false, NULL);
	is_int(r.status, 200, "sources: 200");
	is_int(json_array_size(json_object_get(r.json, "sources")), 2,
	       "sources: two sources");
	row = json_array_get(json_object_get(r.json, "sources"), 0);
	is_str(json_string_value(json_object_get(row, "class")), "forger",
	       "sources: the largest is the forger");
	is_str(json_string_value(json_object_get(row, "network")),
	       "203.0.113.0/24", "sources: its /24");
	is_int(json_integer_value(json_object_get(json_object_get(
	       json_object_get(r.json, "totals"), "forged_disposition"),
	       "reject")), 20, "sources: forgeries rejected");
	is_int(json_integer_value(json_object_get(r.json, "skipped")), 1,
	       "sources: the bad row is skipped and counted");
	resp_free(&r);
	request(&r, "GET", "/v1/dmarc/sources?domain=shop.example&days=2&"
		"until=2026-11-01", NULL, false, NULL);
	is_int(json_array_size(json_object_get(r.json, "sources")), 0,
	       "sources: outside the window: none");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?day=2026-05-02", NULL, false,
		NULL);
	is_int(r.status, 200, "dmarc: day -> 200");
	is_int(json_array_size(json_object_get(r.json, "rows")), 2,
	       "dmarc: day: that day's two rows");
	is_int(agg_rows_with(&r, "day", "2026-05-02"), 2,
	       "dmarc: day: no other day");
	is_int(agg_total(&r, "messages"), 7, "dmarc: day: totals.messages");
	is_int(json_integer_value(json_object_get(r.json, "skipped")),
	       bad_0502, "dmarc: day: only that day's bad rows are skipped");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?domain=LEGIT.Example", NULL,
		false, NULL);
	is_int(r.status, 200, "dmarc: domain -> 200");
	is_int(json_array_size(json_object_get(r.json, "rows")), 3,
	       "dmarc: domain, any case: its three rows");
	is_int(agg_rows_with(&r, "header_from", "legit.example"), 3,
	       "dmarc: domain: no other domain");
	is_int(agg_total(&r, "messages"), 16, "dmarc: domain: totals");
	is_int(agg_total(&r, "dmarc_fail"), 0, "dmarc: domain: no failure");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?domain=legit.example.", NULL,
		false, NULL);
	is_int(json_array_size(json_object_get(r.json, "rows")), 3,
	       "dmarc: domain with a trailing dot: the same rows");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?domain=legit", NULL, false,
		NULL);
	is_int(json_array_size(json_object_get(r.json, "rows")), 0,
	       "dmarc: domain is exact, not a substring");
	resp_free(&r);

	request(&r, "GET",
		"/v1/dmarc/aggregate?day=2026-05-01&domain=shop.example", NULL,
		false, NULL);
	is_int(json_array_size(json_object_get(r.json, "rows")), 1,
	       "dmarc: day and domain together");
	is_int(agg_total(&r, "rejected"), 3, "dmarc: day and domain: totals");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?from=2026-05-02&to=2026-05-03",
		NULL, false, NULL);
	is_int(r.status, 200, "dmarc: from/to -> 200");
	is_int(json_array_size(json_object_get(r.json, "rows")), 3,
	       "dmarc: from/to: inclusive at both ends");
	is_int(agg_total(&r, "messages"), 14, "dmarc: from/to: totals");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?from=2026-05-02", NULL, false,
		NULL);
	is_int(json_array_size(json_object_get(r.json, "rows")), 5,
	       "dmarc: from alone: open end");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?to=2026-05-01", NULL, false,
		NULL);
	is_int(json_array_size(json_object_get(r.json, "rows")), 2,
	       "dmarc: to alone: open start");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?from=2026-05-31&to=2026-06-01",
		NULL, false, NULL);
	is_int(json_array_size(json_object_get(r.json, "rows")), 1,
	       "dmarc: a range across months");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?day=2027-01-01", NULL, false,
		NULL);
	is_int(r.status, 200, "dmarc: a day without rows -> 200");
	is_int(json_array_size(json_object_get(r.json, "rows")), 0,
	       "dmarc: a day without rows: empty list");
	is_int(agg_total(&r, "messages"), 0,
	       "dmarc: a day without rows: zero totals");
	resp_free(&r);

	request(&r, "GET", "/v1/dmarc/aggregate?domain=legit.example", NULL,
		true, "new-token");
	is_int(r.status, 200, "dmarc: over TCP with the token -> 200");
	resp_free(&r);
	request(&r, "GET", "/v1/dmarc/aggregate", NULL, true, NULL);
	is_int(r.status, 401, "dmarc: over TCP without a token -> 401");
	resp_free(&r);

	/* GET /v1/domain/check: DNS does not answer, so an incomplete
	 * report, in the shape of `mamori domain check --json`. */
	request(&r, "GET", "/v1/domain/check?domain=shop.example", NULL,
		false, NULL);
	is_int(r.status, 200, "check: a domain -> 200");
	is_str(member(&r, "domain"), "shop.example", "check: the domain");
	ok(json_is_false(json_object_get(r.json, "complete")),
	   "check: DNS down -> complete false");
	ok(json_is_integer(json_object_get(r.json, "errors")) &&
	   json_is_integer(json_object_get(r.json, "warnings")) &&
	   json_is_integer(json_object_get(r.json, "dns_queries")),
	   "check: the counts");
	row = json_array_get(json_object_get(r.json, "findings"), 0);
	ok(json_is_string(json_object_get(row, "severity")) &&
	   json_is_string(json_object_get(row, "code")) &&
	   json_is_string(json_object_get(row, "text")),
	   "check: findings of severity, code and text");
	resp_free(&r);
	request(&r, "GET", "/v1/domain/check?domain=shop.example", NULL, true,
		NULL);
	is_int(r.status, 401, "check: over TCP without a token -> 401");
	resp_free(&r);

	event_base_loopexit(base, NULL);
	return NULL;
}

/* Phase DMARC, store failing: 503, not an empty list. */
static void *phase_dmarc_fault(void *arg)
{
	struct resp r;

	(void)arg;
	request(&r, "GET", "/v1/dmarc/aggregate", NULL, false, NULL);
	is_int(r.status, 503, "dmarc: store unavailable -> 503");
	is_str(member(&r, "error"), "store unavailable",
	       "dmarc: store unavailable: says so");
	resp_free(&r);
	event_base_loopexit(base, NULL);
	return NULL;
}

/* The entry of list (an array of objects) with a string member key equal
 * to want, or NULL. */
static json_t *find_entry(const json_t *list, const char *key,
			  const char *want)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) {
		const char *s = json_string_value(json_object_get(v, key));

		if (s && strcmp(s, want) == 0)
			return v;
	}
	return NULL;
}

/* Phase 3, with a login engine attached: blocks, and no incident yet. */
static void *phase3(void *arg)
{
	static const struct status_case cases[] = {
		{"block without ip", "POST", "/v1/ips/block",
		 "{\"reason\": \"x\"}", 400},
		{"block without reason", "POST", "/v1/ips/block",
		 "{\"ip\": \"192.0.2.1\"}", 400},
		{"block, empty reason", "POST", "/v1/ips/block",
		 "{\"ip\": \"192.0.2.1\", \"reason\": \"\"}", 400},
		{"block, bad address", "POST", "/v1/ips/block",
		 "{\"ip\": \"192.0.2.300\", \"reason\": \"x\"}", 400},
		{"block, not an address", "POST", "/v1/ips/block",
		 "{\"ip\": \"mail.example.com\", \"reason\": \"x\"}", 400},
		{"block, prefix too long", "POST", "/v1/ips/block",
		 "{\"ip\": \"192.0.2.0/33\", \"reason\": \"x\"}", 400},
		{"block, ip not a string", "POST", "/v1/ips/block",
		 "{\"ip\": 3221225985, \"reason\": \"x\"}", 400},
		{"block, negative seconds", "POST", "/v1/ips/block",
		 "{\"ip\": \"192.0.2.1\", \"reason\": \"x\", "
		 "\"seconds\": -1}", 400},
		{"block, seconds a string", "POST", "/v1/ips/block",
		 "{\"ip\": \"192.0.2.1\", \"reason\": \"x\", "
		 "\"seconds\": \"1h\"}", 400},
		{"block, seconds over ten years", "POST", "/v1/ips/block",
		 "{\"ip\": \"192.0.2.1\", \"reason\": \"x\", "
		 "\"seconds\": 315360001}", 400},
		{"block, seconds not whole", "POST", "/v1/ips/block",
		 "{\"ip\": \"192.0.2.1\", \"reason\": \"x\", "
		 "\"seconds\": 60.5}", 400},
		{"block, bad JSON", "POST", "/v1/ips/block", "{\"ip\": ", 400},
		{"block, force not a boolean", "POST", "/v1/ips/block",
		 "{\"ip\": \"10.0.0.0/8\", \"reason\": \"x\", "
		 "\"force\": \"yes\"}", 400},
		{"block a /8 without force", "POST", "/v1/ips/block",
		 "{\"ip\": \"10.0.0.0/8\", \"reason\": \"x\"}", 409},
		{"block a /15 with force false", "POST", "/v1/ips/block",
		 "{\"ip\": \"10.0.0.0/15\", \"reason\": \"x\", "
		 "\"force\": false}", 409},
		{"block an IPv6 /31 without force", "POST", "/v1/ips/block",
		 "{\"ip\": \"2001:db8::/31\", \"reason\": \"x\"}", 409},
		{"unblock without ip", "POST", "/v1/ips/unblock", "{}", 400},
		{"unblock, bad address", "POST", "/v1/ips/unblock",
		 "{\"ip\": \"nowhere\"}", 400},
		{"unblock, not blocked", "POST", "/v1/ips/unblock",
		 "{\"ip\": \"192.0.2.99\"}", 404},
		{"GET on block", "GET", "/v1/ips/block", NULL, 405},
		{"POST on ips", "POST", "/v1/ips", "{}", 405},
		{"allow without net", "POST", "/v1/allowlist",
		 "{\"reason\": \"x\"}", 400},
		{"allow without reason", "POST", "/v1/allowlist",
		 "{\"net\": \"192.0.2.1\"}", 400},
		{"allow, bad CIDR", "POST", "/v1/allowlist",
		 "{\"net\": \"192.0.2.0/33\", \"reason\": \"x\"}", 400},
		{"allow, not an address", "POST", "/v1/allowlist",
		 "{\"net\": \"office.example.jp\", \"reason\": \"x\"}",
		 400},
		{"allow, negative expires", "POST", "/v1/allowlist",
		 "{\"net\": \"192.0.2.1\", \"reason\": \"x\", "
		 "\"expires\": -1}", 400},
		{"allow, expires over ten years", "POST", "/v1/allowlist",
		 "{\"net\": \"192.0.2.1\", \"reason\": \"x\", "
		 "\"expires\": 315360001}", 400},
		{"allow del, not listed", "DELETE", "/v1/allowlist/192.0.2.98",
		 NULL, 404},
		{"allow del, bad CIDR", "DELETE", "/v1/allowlist/192.0.2.0/40",
		 NULL, 400},
		{"allow del, encoded slash", "DELETE",
		 "/v1/allowlist/192.0.2.0%2F24", NULL, 400},
		{"PUT on allowlist", "PUT", "/v1/allowlist", "{}", 405},
		{"unknown incident", "GET", "/v1/incidents/20260101-999", NULL,
		 404},
		{"unknown incident export", "GET",
		 "/v1/incidents/20260101-999/export?format=csv", NULL, 404},
		{"unknown incident export json", "GET",
		 "/v1/incidents/20260101-999/export?format=json", NULL, 404},
		{"export, bad format", "GET",
		 "/v1/incidents/20260101-999/export?format=xml", NULL, 400},
		{"incident id too long", "GET",
		 "/v1/incidents/"
		 "0123456789012345678901234567890123456789"
		 "0123456789012345678901234567890123456789", NULL, 404},
	};
	struct resp r;
	char actor[48];

	(void)arg;
	error_cases(cases, sizeof(cases) / sizeof(cases[0]));

	request(&r, "POST", "/v1/allowlist",
		"{\"net\": \"192.0.2.77/24\", \"reason\": \"office NAT\", "
		"\"expires\": 3600}", false, NULL);
	is_int(r.status, 200, "allow a range -> 200");
	{
		json_t *e = json_array_get(json_object_get(r.json,
							   "allowlist"), 0);

		is_str(json_string_value(json_object_get(e, "net")),
		       "192.0.2.0/24", "allow: the range without host bits");
		is_int(json_integer_value(json_object_get(e, "until")) -
		       json_integer_value(json_object_get(e, "since")), 3600,
		       "allow: until the seconds asked");
	}
	resp_free(&r);
	request(&r, "GET", "/v1/allowlist", NULL, false, NULL);
	is_int(r.status, 200, "allowlist -> 200");
	ok(find_entry(json_object_get(r.json, "allowlist"), "net",
		      "192.0.2.0/24") != NULL, "allowlist: lists the range");
	resp_free(&r);
	request(&r, "DELETE", "/v1/allowlist/192.0.2.0/24", NULL, false,
		NULL);
	is_int(r.status, 200, "allow del -> 200");
	is_str(member(&r, "state"), "deleted", "allow del: deleted");
	resp_free(&r);
	request(&r, "GET", "/v1/allowlist", NULL, false, NULL);
	is_int((int)json_array_size(json_object_get(r.json, "allowlist")), 0,
	       "allowlist: empty after the delete");
	resp_free(&r);

	request(&r, "GET", "/v1/ips", NULL, false, NULL);
	is_int(r.status, 200, "ips -> 200");
	ok(json_is_array(json_object_get(r.json, "ips")), "ips: an array");
	resp_free(&r);

	request(&r, "POST", "/v1/ips/block",
		"{\"ip\": \"203.0.113.9\", "
		"\"reason\": \"abuse desk ticket 77\", \"seconds\": 7200}",
		false, NULL);
	is_int(r.status, 200, "block an address -> 200");
	is_str(member(&r, "ip"), "203.0.113.9", "block: the address");
	is_str(member(&r, "state"), "blocked", "block: state blocked");
	is_int(json_integer_value(json_object_get(r.json, "until")) -
	       json_integer_value(json_object_get(r.json, "since")), 7200,
	       "block: for the seconds asked");
	resp_free(&r);

	request(&r, "POST", "/v1/ips/block",
		"{\"ip\": \"198.51.100.7/24\", \"reason\": \"hosting range\"}",
		false, NULL);
	is_int(r.status, 200, "block a /24 -> 200");
	is_str(member(&r, "ip"), "198.51.100.0/24",
	       "block: the range without its host bits");
	ok(json_integer_value(json_object_get(r.json, "until")) >
	   json_integer_value(json_object_get(r.json, "since")),
	   "block without seconds: the default duration");
	resp_free(&r);

	request(&r, "POST", "/v1/ips/block",
		"{\"ip\": \"2001:db8:77::/48\", \"reason\": \"v6 range\", "
		"\"seconds\": 0}", true, "new-token");
	is_int(r.status, 200, "block an IPv6 /48 over TCP -> 200");
	resp_free(&r);

	/* Wider than api_block_min_prefix_v4 (16) needs force; /16 not. */
	request(&r, "POST", "/v1/ips/block",
		"{\"ip\": \"10.0.0.0/8\", \"reason\": \"x\"}", false, NULL);
	ok(strstr(member(&r, "error"), "force") != NULL,
	   "block a /8: the error names force (%s)", member(&r, "error"));
	resp_free(&r);
	request(&r, "POST", "/v1/ips/block",
		"{\"ip\": \"10.0.0.0/8\", \"reason\": \"x\", \"force\": true}",
		false, NULL);
	is_int(r.status, 200, "block a /8 with force -> 200");
	is_str(member(&r, "ip"), "10.0.0.0/8", "forced block: the range");
	resp_free(&r);
	request(&r, "POST", "/v1/ips/block",
		"{\"ip\": \"172.16.0.0/16\", \"reason\": \"x\"}", false, NULL);
	is_int(r.status, 200, "block a /16 (the minimum) without force -> 200");
	resp_free(&r);
	request(&r, "POST", "/v1/ips/block",
		"{\"ip\": \"2001:db8::/32\", \"reason\": \"x\"}", false, NULL);
	is_int(r.status, 200, "block an IPv6 /32 without force -> 200");
	resp_free(&r);
	request(&r, "POST", "/v1/ips/unblock", "{\"ip\": \"10.0.0.0/8\"}",
		false, NULL);
	is_int(r.status, 200, "unblock the forced /8 -> 200");
	resp_free(&r);
	request(&r, "POST", "/v1/ips/unblock", "{\"ip\": \"172.16.0.0/16\"}",
		false, NULL);
	resp_free(&r);
	request(&r, "POST", "/v1/ips/unblock", "{\"ip\": \"2001:db8::/32\"}",
		false, NULL);
	resp_free(&r);

	request(&r, "GET", "/v1/ips", NULL, false, NULL);
	{
		json_t *a = json_object_get(r.json, "ips");
		json_t *one = find_entry(a, IPS_KEY, "203.0.113.9");
		json_t *net = find_entry(a, IPS_KEY, "198.51.100.0/24");
		json_t *v6 = find_entry(a, IPS_KEY, "2001:db8:77::/48");

		ok(one != NULL, "block: the address is listed");
		ok(net != NULL, "block: the /24 is listed");
		ok(v6 != NULL, "block: the IPv6 /48 is listed");
		is_str(json_string_value(json_object_get(one, "reason")),
		       "abuse desk ticket 77", "block: the reason is kept");
		snprintf(actor, sizeof(actor), "admin:uid=%u",
			 (unsigned)getuid());
		is_str(json_string_value(json_object_get(one, "actor")), actor,
		       "block: the actor is the unix peer's uid");
		ok(strncmp(json_string_value(json_object_get(v6, "actor")) ?
			   json_string_value(json_object_get(v6, "actor")) : "",
			   "api-token", 9) == 0,
		   "block over TCP: the actor is api-token");
	}
	resp_free(&r);

	request(&r, "POST", "/v1/ips/unblock", "{\"ip\": \"203.0.113.9\"}",
		false, NULL);
	is_int(r.status, 200, "unblock -> 200");
	resp_free(&r);
	request(&r, "GET", "/v1/ips", NULL, false, NULL);
	ok(!find_entry(json_object_get(r.json, "ips"), IPS_KEY, "203.0.113.9"),
	   "unblock: the address is gone");
	ok(find_entry(json_object_get(r.json, "ips"), IPS_KEY,
		      "198.51.100.0/24") != NULL,
	   "unblock: the /24 stays");
	resp_free(&r);
	request(&r, "POST", "/v1/ips/unblock", "{\"ip\": \"203.0.113.9\"}",
		false, NULL);
	is_int(r.status, 404, "unblock twice -> 404");
	resp_free(&r);

	request(&r, "GET", "/v1/incidents", NULL, false, NULL);
	is_int(r.status, 200, "incidents -> 200");
	ok(json_is_array(json_object_get(r.json, "incidents")),
	   "incidents: an array");
	is_int(json_array_size(json_object_get(r.json, "incidents")), 0,
	       "incidents: none on a fresh engine");
	resp_free(&r);

	event_base_loopexit(base, NULL);
	return NULL;
}

/* Phase 4, after a stuffing run: the incident, shown and exported. */
static void *phase4(void *arg)
{
	const char *valid_login = arg;
	struct resp r;
	char path[256], *id = NULL;
	json_t *a;

	request(&r, "GET", "/v1/incidents", NULL, false, NULL);
	is_int(r.status, 200, "after the attack: incidents -> 200");
	a = json_object_get(r.json, "incidents");
	is_int(json_array_size(a), 1, "after the attack: one incident");
	if (json_string_value(json_object_get(json_array_get(a, 0), "id")))
		id = xstrdup(json_string_value(
			json_object_get(json_array_get(a, 0), "id")));
	resp_free(&r);
	if (!id) {
		ok(0, "the incident has an id");
		event_base_loopexit(base, NULL);
		return NULL;
	}

	snprintf(path, sizeof(path), "/v1/incidents/%s", id);
	request(&r, "GET", path, NULL, false, NULL);
	is_int(r.status, 200, "show the incident -> 200");
	is_str(member(&r, "id"), id, "show: its id");
	resp_free(&r);

	snprintf(path, sizeof(path), "/v1/incidents/%s/export?format=csv", id);
	request(&r, "GET", path, NULL, false, NULL);
	is_int(r.status, 200, "export csv -> 200");
	is_str(r.ctype, "text/csv; charset=utf-8", "export csv: content type");
	ok(r.body.len >= strlen(CSV_HEADER) &&
	   memcmp(r.body.p, CSV_HEADER, strlen(CSV_HEADER)) == 0,
	   "export csv: the header line");
	ok(r.body.len > 0 && buf_append(&r.body, "", 1) == 0 &&
	   strstr(r.body.p, valid_login) != NULL,
	   "export csv: lists the account whose password was right (%s)",
	   valid_login);
	resp_free(&r);

	snprintf(path, sizeof(path), "/v1/incidents/%s/export", id);
	request(&r, "GET", path, NULL, false, NULL);
	is_int(r.status, 200, "export without format -> 200");
	is_str(r.ctype, "text/csv; charset=utf-8", "export: CSV by default");
	resp_free(&r);

	snprintf(path, sizeof(path), "/v1/incidents/%s/export?format=json",
		 id);
	request(&r, "GET", path, NULL, false, NULL);
	is_int(r.status, 200, "export json -> 200");
	ok(strncmp(r.ctype, "application/json", 16) == 0,
	   "export json: content type %s", r.ctype);
	is_str(member(&r, "id"), id, "export json: the incident");
	resp_free(&r);

	request(&r, "GET", "/v1/ips", NULL, false, NULL);
	is_str(json_string_value(json_object_get(
		find_entry(json_object_get(r.json, "ips"), IPS_KEY,
			   "192.0.2.77"), "incident")), id,
	       "after the attack: the address is listed with its incident");
	resp_free(&r);

	request(&r, "GET", "/v1/stats", NULL, false, NULL);
	ok(json_is_object(json_object_get(r.json, "login")),
	   "stats: the engine's figures under \"login\"");
	ok(json_object_get(r.json, "accounts") != NULL,
	   "stats: the core's figures stay");
	resp_free(&r);

	free(id);
	event_base_loopexit(base, NULL);
	return NULL;
}

/* One login as Dovecot makes it: allow, allow again if the password is
 * right, then the report; the engine's rejections are obeyed. */
static void dovecot_login(struct login_engine *e, const char *login,
			  const char *remote, bool right, int n)
{
	struct login_attempt a = {
		.login = login, .remote = remote, .protocol = "imap",
		.pwhash = "0f88", .mech = "PLAIN", .pwversion = "",
	};
	struct login_verdict v;
	char sid[32];

	snprintf(sid, sizeof(sid), "sess%d", n);
	a.session_id = sid;
	a.stage = LOGIN_BEFORE;
	login_decide(e, &a, &v);
	if (v.action == LOGIN_ACTION_REJECT) {
		a.policy_reject = true;
	} else if (right) {
		a.stage = LOGIN_AFTER;
		login_decide(e, &a, &v);
		a.success = v.action != LOGIN_ACTION_REJECT;
		a.policy_reject = !a.success;
	}
	a.stage = LOGIN_REPORT;
	login_decide(e, &a, &v);
}

/* Run the loop while fn makes requests from a second thread. */
static void run_phase(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	pthread_create(&t, NULL, fn, arg);
	event_base_dispatch(base);
	pthread_join(t, NULL);
}

/* A free loopback TCP port (racy, good enough for a test). */
static int free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* Load a config from text written to dir/name. */
static struct config *load_config(const char *dir, const char *name,
				  const char *text)
{
	char path[512], err[512];
	struct config *cfg;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	if (!cfg)
		printf("# config: %s\n", err);
	return cfg;
}

/* Leave a socket file behind with nobody listening: what a crash leaves. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (strlen(path) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
}

/*
 * The login-abuse routes on a real engine: blocks; then a stuffing run, 60
 * accounts from one address with the default settings, three of them with
 * the right password; then the incident it made.
 */
static void test_login(struct core *core, const struct config *cfg,
		       struct store *st)
{
	struct login_engine *e;
	char err[512], login[64];
	int i;

	e = login_engine_new(cfg, st, err, sizeof(err));
	ok(e != NULL, "login_engine_new (%s)", e ? "ok" : err);
	if (!e)
		return;
	core_set_login(core, e);
	run_phase(phase3, NULL);

	for (i = 0; i < 60; i++) {
		snprintf(login, sizeof(login), "user%02d@example.com", i);
		dovecot_login(e, login, "192.0.2.77", i % 20 == 19, i);
	}
	run_phase(phase4, "user59@example.com");

	core_set_login(core, NULL);
	login_engine_free(e);
}

/* Listener set-up: stale sockets, live sockets, non-sockets, bad syntax. */
static void test_listeners(struct core *core, const char *dir)
{
	char text[1024], path[512], err[512] = "";
	struct http_api *a, *b;
	struct config *cfg;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/other.sock", dir);
	snprintf(text, sizeof(text), "api_listen = unix:%s\n", path);
	cfg = load_config(dir, "other.conf", text);

	make_stale_socket(path);
	a = http_api_new(base, core, cfg, -1, -1, err, sizeof(err));
	ok(a != NULL, "a stale socket file is replaced (%s)", a ? "" : err);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0660,
	   "default socket mode 0660");
	b = http_api_new(base, core, cfg, -1, -1, err, sizeof(err));
	ok(b == NULL && strstr(err, "in use"), "a live socket is refused (%s)",
	   err);
	http_api_free(b);
	http_api_free(a);
	ok(access(path, F_OK) != 0, "http_api_free() removes the socket file");

	f = fopen(path, "w");
	fclose(f);
	a = http_api_new(base, core, cfg, -1, -1, err, sizeof(err));
	ok(a == NULL && strstr(err, "not a socket"),
	   "a regular file is not removed (%s)", err);
	ok(access(path, F_OK) == 0, "the regular file is still there");
	http_api_free(a);
	unlink(path);
	config_free(cfg);

	cfg = load_config(dir, "bad.conf", "api_listen = tcp:1.2.3.4\n");
	a = cfg ? http_api_new(base, core, cfg, -1, -1, err, sizeof(err)) : NULL;
	ok(a == NULL && strstr(err, "unix:PATH"), "api_listen syntax (%s)", err);
	http_api_free(a);
	config_free(cfg);

	cfg = load_config(dir, "bad2.conf",
			  "api_listen =\napi_tcp_listen = nowhere\n"
			  "api_token = x\n");
	a = cfg ? http_api_new(base, core, cfg, -1, -1, err, sizeof(err)) : NULL;
	ok(a == NULL && strstr(err, "HOST:PORT"), "api_tcp_listen syntax (%s)",
	   err);
	http_api_free(a);
	config_free(cfg);
}

int main(void)
{
	char dir[] = "/tmp/mamori-api-XXXXXX", text[1024], err[512];
	struct config *cfg, *cfg2;
	struct http_api *api;
	struct store *st;
	struct core *core;
	struct stat sst;
	int port;

	log_setup("test-http-api", false, LOG_L_WARN);
	evthread_use_pthreads();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	curl = curl_easy_init();
	base = event_base_new();
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
	port = free_port();
	snprintf(tcp_url, sizeof(tcp_url), "http://127.0.0.1:%d", port);
	snprintf(text, sizeof(text),
		 "api_listen = unix:%s\napi_socket_mode = 384\n"
		 "api_tcp_listen = 127.0.0.1:%d\napi_token = s3cret-token\n"
		 "store = memory:\n"
		 "held_release_command = /bin/true\n"
		 "held_delete_command = /bin/true\n"
		 /* the domain check asks a port nobody answers on */
		 "dns_upstream = 127.0.0.1@%d\ndns_timeout_ms = 100\n",
		 sock_path, port, free_port());
	cfg = load_config(dir, "mamori.conf", text);
	ok(cfg != NULL, "config loads");
	if (!cfg)
		return tap_done();
	if (store_open("memory:", base, &st, err, sizeof(err)) != 0) {
		printf("# store: %s\n", err);
		return 1;
	}
	core = core_new(cfg, st, NULL, err, sizeof(err));
	ok(core != NULL, "core_new (%s)", core ? "ok" : err);
	if (!core)
		return tap_done();
	core_set_base(core, base);
	api = http_api_new(base, core, cfg, -1, -1, err, sizeof(err));
	ok(api != NULL, "http_api_new (%s)", api ? "ok" : err);
	if (!api)
		return tap_done();
	ok(stat(sock_path, &sst) == 0 && S_ISSOCK(sst.st_mode),
	   "the socket file exists");
	is_int(sst.st_mode & 0777, cfg->api_socket_mode,
	       "socket mode is api_socket_mode (0600)");

	run_phase(phase1, NULL);

	snprintf(text + strlen(text), sizeof(text) - strlen(text),
		 "api_token = new-token\n");
	cfg2 = load_config(dir, "mamori2.conf", text);
	/* mamorid keeps every config alive until it exits: the API reads
	 * the current one (POST /v1/scan, GET /v1/domain/check) */
	http_api_reconfigure(api, cfg2);
	run_phase(phase2, NULL);

	agg_put_rows(st);
	run_phase(phase_dmarc, NULL);
	st->fault = true;
	run_phase(phase_dmarc_fault, NULL);
	st->fault = false;

	test_login(core, cfg, st);

	test_listeners(core, dir);

	http_api_free(api);
	ok(access(sock_path, F_OK) != 0, "socket removed at the end");
	core_free(core);
	store_close(st);
	config_free(cfg2);
	config_free(cfg);
	event_base_free(base);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	snprintf(text, sizeof(text), "%s/mamori.conf", dir);
	unlink(text);
	snprintf(text, sizeof(text), "%s/mamori2.conf", dir);
	unlink(text);
	snprintf(text, sizeof(text), "%s/other.conf", dir);
	unlink(text);
	snprintf(text, sizeof(text), "%s/bad.conf", dir);
	unlink(text);
	snprintf(text, sizeof(text), "%s/bad2.conf", dir);
	unlink(text);
	rmdir(dir);
	return tap_done();
}
