/*
 * test-http-api - the admin API over real sockets: a real core on a
 * memory: store, the API on a unix socket in a temporary directory and on a
 * loopback TCP port, the event loop on the main thread and libcurl requests
 * from a second thread.  Each phase is one client thread; between phases
 * the main thread inspects or reconfigures the server with the loop
 * stopped, so nothing is shared while both threads run.
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

/* Phase 1: routing, decoding, bodies and the account life cycle. */
static void *phase1(void *arg)
{
	static const struct status_case cases[] = {
		{"health", "GET", "/v1/health", NULL, 200},
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
	};
	struct resp r;
	size_t i;
	char *big;

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
	resp_free(&r);

	request(&r, "GET", "/v1/stats", NULL, false, NULL);
	ok(json_is_object(r.json), "stats: a JSON object");
	resp_free(&r);

	/* TCP: the token is required. */
	request(&r, "GET", "/v1/health", NULL, true, NULL);
	is_int(r.status, 401, "tcp without token -> 401");
	resp_free(&r);
	request(&r, "GET", "/v1/health", NULL, true, "wrong");
	is_int(r.status, 401, "tcp with a wrong token -> 401");
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

/* Run the loop while fn makes requests from a second thread. */
static void run_phase(void *(*fn)(void *))
{
	pthread_t t;

	pthread_create(&t, NULL, fn, NULL);
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
		 "held_delete_command = /bin/true\n", sock_path, port);
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
	api = http_api_new(base, core, cfg, -1, -1, err, sizeof(err));
	ok(api != NULL, "http_api_new (%s)", api ? "ok" : err);
	if (!api)
		return tap_done();
	ok(stat(sock_path, &sst) == 0 && S_ISSOCK(sst.st_mode),
	   "the socket file exists");
	is_int(sst.st_mode & 0777, cfg->api_socket_mode,
	       "socket mode is api_socket_mode (0600)");

	run_phase(phase1);

	snprintf(text + strlen(text), sizeof(text) - strlen(text),
		 "api_token = new-token\n");
	cfg2 = load_config(dir, "mamori2.conf", text);
	http_api_reconfigure(api, cfg2);
	config_free(cfg2);	/* the API keeps no pointer into it */
	run_phase(phase2);

	test_listeners(core, dir);

	http_api_free(api);
	ok(access(sock_path, F_OK) != 0, "socket removed at the end");
	core_free(core);
	store_close(st);
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
