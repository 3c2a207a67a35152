/*
 * authpolicy_server - Dovecot auth-policy endpoint over evhttp.  See
 * authpolicy_server.h.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/crypto.h>

#include "auth/login.h"
#include "core/core.h"
#include "front/authpolicy_server.h"
#include "proto/authpolicy.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/server.h"
#include "util/xalloc.h"

struct authpolicy_server {
	struct event_base *base;
	struct evhttp *http;
	struct server *srv;	/* listener, caps, deadlines */
	const struct config *cfg;
	struct login_engine *login;
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

/* Done with the request; nobody waits for the admin result. */
static void ignore_json(void *arg, const struct core_result *r)
{
	(void)arg;
	(void)r;
}

/* Hand the engine's consequences to the outbound core. */
static void apply_consequences(struct authpolicy_server *s,
			       const struct login_attempt *a,
			       const struct login_verdict *v)
{
	const struct config *cfg = s->cfg;
	bool restrict_sending = cfg->auth_compromised_action == 0;
	char reason[256], **logins = NULL;
	size_t n, i;

	if (!s->core)
		return;
	if (v->new_network && cfg->auth_new_network_risk > 0)
		core_login_risk(s->core, a->login,
				(a->now ? a->now : time(NULL)) +
				cfg->auth_new_network_risk);
	if (v->credential_changed)
		core_account_credential_changed(s->core, a->login,
			"dovecot: successful login with a new password",
			"mamorid:login", ignore_json, NULL);
	if (cfg->auth_compromised_action == 2)
		return;
	if (v->compromised) {
		snprintf(reason, sizeof(reason),
			 "valid credentials used by an attacker (incident %s, "
			 "address %s)", v->incident[0] ? v->incident : "-",
			 a->remote);
		core_account_compromised(s->core, a->login, restrict_sending,
					 reason, ignore_json, NULL);
	}
	/* Accounts found entered before their attacker was recognised. */
	n = login_take_compromised(s->login, &logins);
	for (i = 0; i < n; i++) {
		snprintf(reason, sizeof(reason),
			 "entered by an attacker before detection (address "
			 "judged later)");
		core_account_compromised(s->core, logins[i], restrict_sending,
					 reason, ignore_json, NULL);
		free(logins[i]);
	}
	free(logins);
}

static const char *stage_name(enum login_stage st)
{
	return st == LOGIN_BEFORE ? "before" : st == LOGIN_AFTER ? "after" :
	       "report";
}

/* One Dovecot request. */
static void on_request(struct evhttp_request *req, void *arg)
{
	struct authpolicy_server *s = arg;
	const struct config *cfg = s->cfg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct authpolicy_request r;
	struct login_attempt a;
	struct login_verdict v;
	enum authpolicy_command cmd;
	size_t len = evbuffer_get_length(in);
	char q1[LOG_QSZ], q2[LOG_QSZ];
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
		char sample[300], q3[LOG_QSZ];
		/* evhttp already bounds the body (AUTHPOLICY_MAX_BODY). */
		const char *body = (const char *)evbuffer_pullup(in, -1);

		s->bad++;
		log_msg(LOG_L_WARN,
			"event=auth_policy_bad_request error=%s detail=%s "
			"bytes=%zu sample=\"%s\" answer=%s",
			log_q(q3, sizeof(q3), authpolicy_error_str(rc)),
			log_q(q1, sizeof(q1), r.error),
			len, buf_sample(sample, sizeof(sample), body ? body : "",
					len, 128),
			cfg->auth_policy_fail_action ? "reject" : "allow");
		reply(req, cfg->auth_policy_fail_action ? -1 : 0, "");
		return;
	}
	memset(&a, 0, sizeof(a));
	a.login = r.login;
	a.remote = r.remote;
	a.protocol = r.protocol;
	a.pwhash = r.pwhash;
	a.mech = r.mech;
	a.pwversion = r.pwversion;
	a.session_id = r.session_id;
	a.tls = r.tls;
	a.success = r.success;
	a.policy_reject = r.policy_reject;
	/* Dovecot sends the same allow body before the password check and,
	 * if it was right, after it; the engine tells them apart. */
	a.stage = r.command == AUTHPOLICY_REPORT ? LOGIN_REPORT :
		  login_allow_stage(s->login, &a);
	login_decide(s->login, &a, &v);
	log_msg(v.action == LOGIN_ACTION_ALLOW && !v.compromised ?
		LOG_L_DEBUG : LOG_L_NOTICE,
		"event=auth_policy stage=%s account=%s ip=%s protocol=%s "
		"action=%s status=%d compromised=%s reason=%s",
		stage_name(a.stage), log_q(q1, sizeof(q1), a.login), a.remote,
		a.protocol, v.action == LOGIN_ACTION_ALLOW ? "allow" :
		v.action == LOGIN_ACTION_DELAY ? "delay" : "reject", v.status,
		v.compromised ? "yes" : "no", log_q(q2, sizeof(q2), v.reason));
	apply_consequences(s, &a, &v);
	reply(req, v.status, v.msg);
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
						struct login_engine *login,
						struct core *core, char *err,
						size_t errsz)
{
	struct authpolicy_server *s = xcalloc(1, sizeof(*s));
	struct server_sockopts so = { cfg->auth_policy_socket_mode, -1, -1 };
	struct server_limits lim;

	s->base = base;
	s->cfg = cfg;
	s->login = login;
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
