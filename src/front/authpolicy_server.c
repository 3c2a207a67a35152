/*
 * authpolicy_server - Dovecot auth-policy endpoint over evhttp.  See
 * authpolicy_server.h.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/crypto.h>

#include "core/core.h"
#include "core/login_gate.h"
#include "front/authpolicy_server.h"
#include "proto/authpolicy.h"
#include "util/config.h"
#include "util/log.h"
#include "util/server.h"
#include "util/xalloc.h"

struct authpolicy_server {
	struct event_base *base;
	struct evhttp *http;
	struct server *srv;	/* listener, caps, deadlines */
	const struct config *cfg;
	struct core *core;
	unsigned long requests, bad;
};

/* Send {"status":N,"msg":"..."} with HTTP 200. */
static void reply(struct evhttp_request *req, int status, const char *msg)
{
	struct evbuffer *out = evbuffer_new();
	char body[512];
	int n = authpolicy_format_reply(body, sizeof(body), status, msg);

	if (n < 0)
		n = authpolicy_format_reply(body, sizeof(body), status, "");
	evbuffer_add(out, body, (size_t)n);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* Constant-time equality of two strings. */
static bool secret_eq(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* Dovecot sends auth_policy_server_api_header as given ("Authorization:
 * Bearer K", "X-API-Key: K"), or a bare value as X-API-Key. */
static bool authorized(const struct config *cfg, struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *key = cfg->auth_policy_api_key, *v;
	char bearer[512];

	if (!key[0])
		return true;
	if ((v = evhttp_find_header(h, "X-API-Key")) && secret_eq(v, key))
		return true;
	snprintf(bearer, sizeof(bearer), "Bearer %s", key);
	v = evhttp_find_header(h, "Authorization");
	return v && (secret_eq(v, bearer) || secret_eq(v, key));
}

/* Where the verdict goes: the HTTP request and what the log names. */
struct pending {
	struct evhttp_request *req;
	const struct core_login_request *lr;
};

/* Log the core's verdict with its reasons and answer Dovecot. */
static void on_verdict(void *arg, const struct core_login_verdict *v)
{
	struct pending *p = arg;
	char q1[LOG_QSZ], q2[LOG_QSZ], q3[LOG_QSZ], q4[LOG_QSZ];

	log_msg(v->action == CORE_LOGIN_ACCEPT && !v->compromised ?
		LOG_L_DEBUG : LOG_L_NOTICE,
		"event=auth_policy stage=%s account=%s ip=%s protocol=%s "
		"action=%s status=%d compromised=%s reason=%s",
		core_login_stage_name(v->stage),
		log_q(q1, sizeof(q1), p->lr->login),
		log_q(q2, sizeof(q2), p->lr->remote),
		log_q(q3, sizeof(q3), p->lr->protocol),
		core_login_action_name(v->action), v->status,
		v->compromised ? "yes" : "no", log_q(q4, sizeof(q4), v->reason));
	reply(p->req, v->status, v->msg);
}

/*
 * A body that did not parse: log its length and its key names, never a
 * byte of a value (it may hold a pwhash or, misconfigured, a password),
 * and answer per auth_policy_fail_action.
 */
static void refuse(struct authpolicy_server *s, struct evhttp_request *req,
		   int rc, const struct authpolicy_request *r)
{
	const struct config *cfg = s->cfg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	/* evhttp already bounds the body (AUTHPOLICY_MAX_BODY). */
	size_t len = evbuffer_get_length(in), keys;
	const char *body = (const char *)evbuffer_pullup(in, -1);
	char names[LOG_QSZ];	/* logged bare: only [A-Za-z0-9_.-,?] */
	char q1[LOG_QSZ], q2[LOG_QSZ], q3[LOG_QSZ];

	s->bad++;
	keys = authpolicy_field_names(body ? body : "", body ? len : 0, names,
				      sizeof(names));
	log_msg(LOG_L_WARN,
		"event=auth_policy_bad_request error=%s detail=%s bytes=%zu "
		"keys=%zu fields=%s answer=%s",
		log_q(q1, sizeof(q1), authpolicy_error_str(rc)),
		log_q(q2, sizeof(q2), r->error), len, keys,
		log_q(q3, sizeof(q3), names),
		cfg->auth_policy_fail_action ? "reject" : "allow");
	reply(req, cfg->auth_policy_fail_action ? -1 : 0, "");
}

/* One Dovecot request: JSON in, core_login(), JSON out. */
static void on_request(struct evhttp_request *req, void *arg)
{
	struct authpolicy_server *s = arg;
	const struct config *cfg = s->cfg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct authpolicy_request r;
	struct core_login_request lr;
	struct pending p = { .req = req, .lr = &lr };
	enum authpolicy_command cmd;
	size_t len = evbuffer_get_length(in);
	int rc;

	s->requests++;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_send_error(req, 405, "POST only");
		return;
	}
	if (!authorized(cfg, req)) {
		log_msg(LOG_L_WARN, "event=auth_policy_unauthorized");
		evhttp_send_error(req, 401, "Unauthorized");
		return;
	}
	memset(&r, 0, sizeof(r));
	rc = authpolicy_parse_command(query ? query : "", &cmd);
	if (rc == AUTHPOLICY_OK) {
		const char *body = (const char *)evbuffer_pullup(in, -1);

		r.command = cmd;
		rc = authpolicy_parse(body ? body : "", len,
				      cfg->auth_pwversion_attr, &r);
	}
	if (rc != AUTHPOLICY_OK) {
		refuse(s, req, rc, &r);
		return;
	}
	memset(&lr, 0, sizeof(lr));
	lr.command = r.command == AUTHPOLICY_REPORT ? CORE_LOGIN_REPORT :
		     CORE_LOGIN_ALLOW;
	lr.login = r.login;
	lr.remote = r.remote;
	lr.protocol = r.protocol;
	lr.pwhash = r.pwhash;
	lr.mech = r.mech;
	lr.pwversion = r.pwversion;
	lr.session_id = r.session_id;
	lr.tls = r.tls;
	lr.success = r.success;
	lr.policy_reject = r.policy_reject;
	core_login(s->core, &lr, on_verdict, &p);
}

/* The skeleton's limits from the config. */
static void limits_of(const struct config *cfg, struct server_limits *lim)
{
	lim->max_connections = cfg->auth_policy_max_connections;
	lim->max_per_client = cfg->auth_policy_max_per_client;
	lim->request_timeout = cfg->auth_policy_request_timeout;
	lim->idle_timeout = cfg->auth_policy_idle_timeout;
}

struct authpolicy_server *authpolicy_server_new(struct event_base *base,
						const struct config *cfg,
						struct core *core, char *err,
						size_t errsz)
{
	struct authpolicy_server *s = xcalloc(1, sizeof(*s));
	struct server_sockopts so = { cfg->auth_policy_socket_mode, -1, -1 };
	struct server_limits lim;

	s->base = base;
	s->cfg = cfg;
	s->core = core;
	limits_of(cfg, &lim);
	s->srv = server_new(base, "auth-policy", &lim);
	if (server_listen(s->srv, "auth_policy_listen", cfg->auth_policy_listen,
			  0, &so, err, errsz) != 0)
		goto fail;
	s->http = evhttp_new(base);
	if (!s->http) {
		snprintf(err, errsz, "auth_policy_listen: evhttp_new failed");
		goto fail;
	}
	evhttp_set_max_body_size(s->http, AUTHPOLICY_MAX_BODY);
	evhttp_set_max_headers_size(s->http, 16384);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
	if (server_serve_http(s->srv, s->http, on_request, s, err, errsz) != 0)
		goto fail;
	return s;
fail:
	authpolicy_server_free(s);
	return NULL;
}

void authpolicy_server_reconfigure(struct authpolicy_server *s,
				   const struct config *cfg)
{
	struct server_limits lim;

	s->cfg = cfg;
	limits_of(cfg, &lim);
	server_set_limits(s->srv, &lim);
}

int authpolicy_server_port(const struct authpolicy_server *s)
{
	return server_port(s->srv, 0);
}

void authpolicy_server_free(struct authpolicy_server *s)
{
	if (!s)
		return;
	/* evhttp first: it owns the listener and the connections. */
	if (s->http)
		evhttp_free(s->http);
	server_free(s->srv);
	free(s);
}
