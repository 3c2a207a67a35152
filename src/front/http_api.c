/*
 * http_api - the admin HTTP/JSON API on evhttp: listeners, the token,
 * requests and their answers.  See http_api.h; the routes and their
 * handlers are in http_api_routes.c (the table api_routes[]) and
 * documented in docs/api.md.  Bodies and query values are checked by
 * http_api_body.c, the core's results turned into JSON by http_api_json.c.
 *
 * Request life: api_handle() makes a struct api_call that owns everything
 * the core may still read when it answers later (decoded path segments,
 * query value, parsed body), checks the token on TCP, matches the path
 * against api_routes[] and calls one handler.  The handler either answers
 * at once or hands the call to the core with api_call_core_done() as
 * callback.  Whoever answers goes through api_call_reply(), which logs one
 * line and frees the call.
 *
 * A pending request: evhttp stops reading a connection while its request
 * waits for our reply, so a vanished client is normally noticed only when
 * the reply is written, and evhttp copes with that.  The one case where the
 * connection dies first is evhttp_free() at shutdown; a close callback on
 * the connection then marks the call dead, and the core's late answer is
 * dropped instead of written to a freed request.
 *
 * Failed authentication on TCP is logged as such (actor=- auth=failed and
 * the peer's address; never the token sent).
 *
 * Limits and why:
 *   API_MAX_BODY     64 KiB of request body: the largest legitimate body is
 *                    a release with a reason text (evhttp answers 413);
 *   API_MAX_HEADERS  16 KiB of request line and headers (evhttp: 400);
 *   API_MAX_PATH     2 KiB of raw path (414); a login is at most ~320 bytes
 *                    (RFC 5321 4.5.3.1), percent-encoding triples that;
 *   API_BODY_TEXT    1 KiB for reason and source strings (400,
 *                    http_api_body.h).
 * Connection caps and timeouts are the skeleton's (util/server.h):
 * api_max_connections, api_max_per_client, api_request_timeout,
 * api_idle_timeout.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/core.h"
#include "front/http_api-internal.h"
#include "front/http_api.h"
#include "front/http_api_body.h"
#include "front/http_ui.h"
#include "util/config.h"
#include "util/listen.h"
#include "util/log.h"
#include "util/server.h"
#include "util/xalloc.h"

#define API_MAX_BODY API_BODY_MAX
#define API_MAX_HEADERS (16 * 1024)
#define API_MAX_PATH 2048
#define API_TOKEN_HASH 32	/* SHA-256 */

/* One evhttp server: the unix socket or the TCP port. */
struct api_listener {
	struct http_api *api;
	struct evhttp *http;
	bool tcp;		/* requires the bearer token */
};

struct http_api {
	struct event_base *base;
	struct core *core;
	struct api_listener unix_l;
	struct api_listener tcp_l;
	struct server *srv;	/* both listeners: caps, deadlines */
	/* Only a digest of the token is kept; comparing digests keeps the
	 * comparison's time independent of both length and content. */
	unsigned char token_hash[API_TOKEN_HASH];
	bool have_token;
	struct http_ui *ui;	/* the web UI's sessions (http_ui.h) */
	struct api_scan *scan;	/* POST /v1/scan (http_api_scan.c) */
	struct api_domcheck *domcheck;	/* GET /v1/domain/check */
	const struct config *cfg;	/* mamorid keeps every one alive */
};


/* The method's name for logs and Allow headers. */
static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "OTHER";
}

/* The reason phrase for the status codes we send. */
static const char *status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return status < 300 ? "OK" : status < 500 ? "Client Error" :
	       "Server Error";
}

/* Free a call and everything it owns. */
static void call_free(struct api_call *call)
{
	int i;

	for (i = 0; i < call->nseg; i++)
		free(call->seg[i]);
	free(call->query);
	for (i = 0; i < API_MAX_PARAMS; i++)
		free(call->param[i]);
	api_body_free(&call->body);
	free(call);
}

/* The client's connection is going away before we answered. */
static void call_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct api_call *call = arg;

	(void)evcon;
	/* A request evhttp detached from its connection is ours to free; an
	 * attached one is freed by evhttp right after this callback. */
	if (call->req && evhttp_request_get_connection(call->req) == NULL)
		evhttp_request_free(call->req);
	call->req = NULL;
}

/* Send status with a body of len bytes and content type ctype; frees call. */
void api_call_reply(struct api_call *call, int status, const char *ctype,
		    const char *data, size_t len)
{
	char aq[LOG_QSZ], peer[80] = "";

	if (call->auth[0]) {
		char *host = NULL;	/* evhttp's, not ours to free */
		ev_uint16_t port = 0;

		if (call->evcon)
			evhttp_connection_get_peer(call->evcon, &host, &port);
		snprintf(peer, sizeof(peer), " auth=%s peer=%s:%u", call->auth,
			 host && *host ? host : "?", (unsigned)port);
	}
	log_msg(status == 401 ? LOG_L_WARN : LOG_L_INFO,
		"event=api_request method=%s path=%s status=%d actor=%s%s%s",
		call->method, call->path, status,
		log_q(aq, sizeof(aq), call->actor), peer,
		call->req ? "" : " client=gone");
	if (call->req) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(call->req);
		struct evbuffer *out = evbuffer_new();

		/* The reply may fail and free the connection later: the close
		 * callback must not point at this call any more. */
		if (call->evcon)
			server_http_set_closecb(call->evcon, NULL, NULL);
		evhttp_add_header(h, "Content-Type", ctype);
		evhttp_add_header(h, "Cache-Control", "no-store");
		http_ui_security_headers(h);
		if (status == 401)
			evhttp_add_header(h, "WWW-Authenticate",
					  "Bearer realm=\"mamori\"");
		if (out)
			evbuffer_add(out, data, len);
		evhttp_send_reply(call->req, status, status_reason(status), out);
		if (out)
			evbuffer_free(out);
	}
	call_free(call);
}

/* Send body (a reference we take over; NULL: a generic one) as JSON. */
void api_call_reply_json(struct api_call *call, int status, json_t *body)
{
	static const char oom[] = "{\"error\": \"out of memory\"}\n";
	char *text, *line;

	if (!body)
		body = status >= 400 ?
		       json_pack("{s:s}", "error", status_reason(status)) :
		       json_object();
	text = json_dumps(body, JSON_INDENT(2));
	json_decref(body);
	if (!text) {
		api_call_reply(call, 500, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	line = xasprintf("%s\n", text);
	free(text);
	api_call_reply(call, status, "application/json", line, strlen(line));
	free(line);
}

/* Answer {"error": message}. */
void api_call_error(struct api_call *call, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_call_reply_json(call, status, json_pack("{s:s}", "error", msg));
}

/* core_admin_cb: the core's answer to an admin call. */
void api_call_core_done(void *arg, const struct core_result *r)
{
	struct api_call *call = arg;

	if (r->status == CORE_OK && r->kind == CORE_R_TEXT) {
		api_call_reply(call, 200, r->ctype, r->text, strlen(r->text));
		return;
	}
	api_call_reply_json(call, http_api_status(r->status),
			http_api_result_json(r));
}

/* Note who asked: the peer's uid on the unix socket, the token on TCP. */
static void call_set_actor(struct api_call *call, bool tcp)
{
	struct bufferevent *bev;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	if (tcp) {
		snprintf(call->actor, sizeof(call->actor), "api-token");
		return;
	}
	bev = call->evcon ? evhttp_connection_get_bufferevent(call->evcon) :
	      NULL;
	fd = bev ? bufferevent_getfd(bev) : -1;
	if (fd >= 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		snprintf(call->actor, sizeof(call->actor), "admin:uid=%u",
			 (unsigned)cred.uid);
	else
		snprintf(call->actor, sizeof(call->actor), "admin:uid=?");
}

/*
 * Split the raw path into decoded segments.  Returns 0, or the status to
 * answer with a message in err: 404 for a shape no route can have, 400 for
 * a segment that decodes to '/', NUL, a control byte or invalid UTF-8,
 * 414 when too long.
 */
static int call_split_path(struct api_call *call, const char *raw, char *err,
			   size_t errsz)
{
	const char *p, *end;

	if (!raw || raw[0] != '/') {
		snprintf(err, errsz, "bad request path");
		return 400;
	}
	if (strlen(raw) > API_MAX_PATH) {
		snprintf(err, errsz, "path longer than %d bytes", API_MAX_PATH);
		return 414;
	}
	for (p = raw + 1;; p = end + 1) {
		char tmp[API_MAX_PATH + 1];
		size_t n, dlen;
		char *dec;

		end = strchr(p, '/');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0 || call->nseg == API_MAX_SEGS) {
			snprintf(err, errsz, "no such resource");
			return 404;
		}
		memcpy(tmp, p, n);
		tmp[n] = '\0';
		dec = evhttp_uridecode(tmp, 0, &dlen);
		if (!dec) {
			snprintf(err, errsz, "bad request path");
			return 400;
		}
		call->seg[call->nseg++] = dec;
		if (dlen != strlen(dec) || !api_text_is_clean(dec, dlen) ||
		    memchr(dec, '/', dlen)) {
			snprintf(err, errsz,
				 "path segment %d holds '/', NUL, a control byte "
				 "or invalid UTF-8",
				 call->nseg);
			return 400;
		}
		if (!end)
			return 0;
	}
}

/* Match the segments against api_routes[]; sets *wrong_method for a path
 * that exists with other methods (their names appended to allow). */
static const struct api_route *route_find(const struct api_call *call,
					  enum evhttp_cmd_type m,
					  bool *wrong_method, char *allow,
					  size_t allowsz)
{
	size_t i;
	int k;

	*wrong_method = false;
	allow[0] = '\0';
	for (i = 0; i < api_nroutes; i++) {
		const struct api_route *r = &api_routes[i];

		for (k = 0; k < call->nseg && r->pat[k]; k++)
			if (strcmp(r->pat[k], "*") &&
			    strcmp(r->pat[k], call->seg[k]))
				break;
		if (k != call->nseg || r->pat[k])
			continue;
		if (r->method == m)
			return r;
		if (!*wrong_method || !strstr(allow, method_name(r->method))) {
			size_t o = strlen(allow);

			snprintf(allow + o, allowsz - o, "%s%s", o ? ", " : "",
				 method_name(r->method));
		}
		*wrong_method = true;
	}
	return NULL;
}

/* Compute the digest the token check compares. */
static void token_digest(const char *s, size_t n,
			 unsigned char out[API_TOKEN_HASH])
{
	unsigned int len = API_TOKEN_HASH;

	if (!EVP_Digest(s, n, out, &len, EVP_sha256(), NULL))
		memset(out, 0, API_TOKEN_HASH);
}

/* Does the request carry "Authorization: Bearer <api_token>"? */
static bool call_token_ok(const struct http_api *a, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
					   "Authorization");
	unsigned char got[API_TOKEN_HASH];

	if (!a->have_token || !h)
		return false;
	/* The scheme is case-insensitive (RFC 7235 2.1). */
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	token_digest(h, strlen(h), got);
	return CRYPTO_memcmp(got, a->token_hash, API_TOKEN_HASH) == 0;
}

/*
 * Check the body for kind (http_api_body.c) into call->body.  Answers 400
 * and returns -1 when it does not pass.
 */
int api_call_body(struct api_call *call, enum api_body_kind kind)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(call->req);
	size_t len = evbuffer_get_length(in);
	char err[256];

	/* evhttp has already refused anything over API_MAX_BODY. */
	if (api_body_parse(kind, len ? (const char *)evbuffer_pullup(in, -1) :
			   "", len, &call->body, err, sizeof(err)) != 0) {
		api_call_error(call, 400, "%s", err);
		return -1;
	}
	return 0;
}

/*
 * Read the query parameters names[0..n) into call->param[0..n) (see
 * api_query_parse()).  Answers 400 and returns -1 when they do not pass.
 */
int api_call_params(struct api_call *call, const char *const *names, int n)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(call->req);
	char err[256];

	if (api_query_parse(uri ? evhttp_uri_get_query(uri) : NULL, names, n,
			    call->param, err, sizeof(err)) != 0) {
		api_call_error(call, 400, "%s", err);
		return -1;
	}
	return 0;
}

/* Read query parameter name into call->query (NULL when absent).  Answers
 * 400 and returns -1 for a malformed query or an unclean value. */
int api_call_query(struct api_call *call, const char *name)
{
	if (api_call_params(call, &name, 1))
		return -1;
	call->query = call->param[0];
	call->param[0] = NULL;
	return 0;
}


/* evhttp's callback for every request on either listener. */
static void api_handle(struct evhttp_request *req, void *arg)
{
	struct api_listener *l = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct api_call *call = xcalloc(1, sizeof(*call));
	const struct api_route *r;
	const struct ui_session *sess;
	char err[128], allow[64];
	bool wrong_method, bearer;
	int st;

	call->req = req;
	call->core = l->api->core;
	call->scan = l->api->scan;
	call->domcheck = l->api->domcheck;
	call->cfg = l->api->cfg;
	call->evcon = evhttp_request_get_connection(req);
	call->method = method_name(m);
	call->auth = "";
	log_q(call->path, sizeof(call->path), raw ? raw : "");
	call_set_actor(call, l->tcp);
	/* The web UI's own paths (files, sign-in) need no token. */
	if (raw && http_ui_request(l->api->ui, req, raw, l->tcp, call->actor,
				   l->api->token_hash, l->api->have_token)) {
		call_free(call);
		return;
	}
	if (call->evcon)
		server_http_set_closecb(call->evcon, call_conn_closed, call);

	/* A web UI session stands for the token; its actor says "ui:". */
	sess = http_ui_session_find(l->api->ui, evhttp_find_header(
		evhttp_request_get_input_headers(req), "Cookie"),
		(int64_t)time(NULL));
	bearer = l->tcp && call_token_ok(l->api, req);
	if (sess)
		snprintf(call->actor, sizeof(call->actor), "%s", sess->actor);
	if (l->tcp && !bearer && !sess) {
		/* Nobody is known to have asked; the token is not logged. */
		snprintf(call->actor, sizeof(call->actor), "-");
		call->auth = "failed";
		api_call_error(call, 401,
			   "a valid \"Authorization: Bearer\" token is required");
		return;
	}
	if (!bearer && (st = http_ui_gate(sess, req, l->tcp, err,
					   sizeof(err))) != 0) {
		api_call_error(call, st, "%s", err);
		return;
	}
	if ((st = call_split_path(call, raw, err, sizeof(err))) != 0) {
		api_call_error(call, st, "%s", err);
		return;
	}
	r = route_find(call, m, &wrong_method, allow, sizeof(allow));
	if (!r && wrong_method) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
				  allow);
		api_call_error(call, 405, "method %s not allowed here; use %s",
			   call->method, allow);
		return;
	}
	if (!r) {
		api_call_error(call, 404, "no such resource");
		return;
	}
	r->fn(call, r);
}

/* Create one evhttp server with our limits, serving l through the
 * skeleton's listeners opened last. */
static int api_http_new(struct http_api *a, struct api_listener *l, bool tcp,
			char *err, size_t errsz)
{
	struct evhttp *http = evhttp_new(a->base);

	if (!http) {
		snprintf(err, errsz, "admin API: evhttp_new failed");
		return -1;
	}
	l->api = a;
	l->tcp = tcp;
	l->http = http;
	evhttp_set_max_body_size(http, API_MAX_BODY);
	evhttp_set_max_headers_size(http, API_MAX_HEADERS);
	/* On a body over the limit, read and discard it before answering
	 * 413: closing at once would make a client that is still sending see
	 * a broken pipe instead of the answer. */
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	/* Let every method evhttp knows reach us so that a wrong one is a
	 * JSON 405, not evhttp's HTML 501. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(http, "application/json");
	return server_serve_http(a->srv, http, api_handle, l, err, errsz);
}

/* The skeleton's limits from the config. */
static void limits_of(const struct config *cfg, struct server_limits *lim)
{
	lim->max_connections = cfg->api_max_connections;
	lim->max_per_client = cfg->api_max_per_client;
	lim->request_timeout = cfg->api_request_timeout;
	lim->idle_timeout = cfg->api_idle_timeout;
}

struct http_api *http_api_new(struct event_base *base, struct core *core,
			      const struct config *cfg, int sock_uid,
			      int sock_gid, char *err, size_t errsz)
{
	struct http_api *a = xcalloc(1, sizeof(*a));
	struct server_sockopts so = { cfg->api_socket_mode, sock_uid,
				      sock_gid };
	struct server_limits lim;

	a->base = base;
	a->core = core;
	a->ui = http_ui_new();
	a->scan = api_scan_new(base);
	a->domcheck = api_domcheck_new(base);
	http_api_reconfigure(a, cfg);
	limits_of(cfg, &lim);
	a->srv = server_new(base, "api", &lim);

	/* api_listen: unix only, its file mode is the authorization. */
	if (cfg->api_listen && cfg->api_listen[0]) {
		if (server_listen(a->srv, "api_listen", cfg->api_listen,
				  LISTEN_NO_INET, &so, err, errsz) != 0 ||
		    api_http_new(a, &a->unix_l, false, err, errsz) != 0)
			goto fail;
		log_msg(LOG_L_INFO,
			"event=api_listen transport=unix path=%s mode=%04lo",
			cfg->api_listen + 5, cfg->api_socket_mode);
	}
	if (cfg->api_tcp_listen && cfg->api_tcp_listen[0]) {
		if (!a->have_token) {
			snprintf(err, errsz, "api_tcp_listen requires api_token");
			goto fail;
		}
		if (server_listen(a->srv, "api_tcp_listen", cfg->api_tcp_listen,
				  LISTEN_NO_UNIX | LISTEN_BARE, NULL, err,
				  errsz) != 0 ||
		    api_http_new(a, &a->tcp_l, true, err, errsz) != 0)
			goto fail;
		log_msg(LOG_L_INFO,
			"event=api_listen transport=tcp addr=%s auth=bearer",
			cfg->api_tcp_listen);
	}
	if (!a->unix_l.http && !a->tcp_l.http) {
		snprintf(err, errsz, "no admin API listener configured");
		goto fail;
	}
	return a;
fail:
	http_api_free(a);
	return NULL;
}

void http_api_reconfigure(struct http_api *a, const struct config *cfg)
{
	const char *t = cfg->api_token ? cfg->api_token : "";
	struct server_limits lim;
	unsigned char h[API_TOKEN_HASH];

	a->cfg = cfg;
	if (a->srv) {
		limits_of(cfg, &lim);
		server_set_limits(a->srv, &lim);
	}

	/* A new token ends the web UI's sessions signed in with the old. */
	token_digest(t, strlen(t), h);
	if (CRYPTO_memcmp(h, a->token_hash, API_TOKEN_HASH) != 0)
		http_ui_forget(a->ui);
	a->have_token = t[0] != '\0';
	memcpy(a->token_hash, h, API_TOKEN_HASH);
}

void http_api_free(struct http_api *a)
{
	if (!a)
		return;
	/* evhttp_free() closes the listeners and the connections; a pending
	 * call learns of it through call_conn_closed(). */
	if (a->unix_l.http)
		evhttp_free(a->unix_l.http);
	if (a->tcp_l.http)
		evhttp_free(a->tcp_l.http);
	/* A scan still running answers into the void (client=gone). */
	api_scan_free(a->scan);
	api_domcheck_free(a->domcheck);
	/* After evhttp: it owned the listeners; this unlinks the socket. */
	server_free(a->srv);
	http_ui_free(a->ui);
	OPENSSL_cleanse(a->token_hash, sizeof(a->token_hash));
	free(a);
}
