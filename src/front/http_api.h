/*
 * http_api - the admin HTTP/JSON API (/v1) and Prometheus /metrics, on
 * libevent's evhttp.
 *
 * A thin front-end: it turns a request into one call of the core's admin
 * interface (core.h), or of the login-abuse engine's (auth/login.h), and
 * the JSON answer into a reply.  It decides nothing itself beyond syntax:
 * routing, URL decoding, JSON body checks.
 *
 * Listeners: api_listen ("unix:PATH"), where the file's permission bits are
 * the authorization, and optionally api_tcp_listen ("HOST:PORT"), where
 * every request must carry "Authorization: Bearer <api_token>".  Routes,
 * bodies and status codes are documented in docs/api.md.
 *
 * Threading and lifetime: everything runs on the event loop thread given to
 * http_api_new().  The core may answer before its call returns or later;
 * a request stays open until it answers, and a client that went away in
 * between gets no reply.
 */
#ifndef MAMORI_HTTP_API_H
#define MAMORI_HTTP_API_H

#include <stddef.h>

#include <jansson.h>

struct event_base;
struct core;
struct config;
struct http_api;
struct login_engine;

/*
 * Bind the listeners named in cfg and start serving them on base: the unix
 * socket of api_listen (a stale socket file is removed first, a live one is
 * an error; the new one gets mode api_socket_mode and, when sock_uid or
 * sock_gid is not -1, that owner or group), and the TCP listener of
 * api_tcp_listen when set.  Call before dropping privileges.  core is
 * borrowed and must outlive the API; cfg is read during the call and the
 * token copied (see http_api_reconfigure()).  Returns NULL with a message in
 * err on failure.
 */
struct http_api *http_api_new(struct event_base *base, struct core *core,
			      const struct config *cfg, int sock_uid,
			      int sock_gid, char *err, size_t errsz);

/*
 * Take the reloadable settings from a new cfg (the bearer token).  The
 * listeners stay as they are: changing them needs a restart.
 */
void http_api_reconfigure(struct http_api *a, const struct config *cfg);

/*
 * Close the listeners and every client connection and remove the unix
 * socket file.  A core call still under way answers into the void.  NULL is
 * a no-op.
 */
void http_api_free(struct http_api *a);

/*
 * Serve the login-abuse routes (/v1/ips, /v1/incidents; http_api_login.c)
 * from e, and add its figures to /v1/stats under "login".  e is borrowed:
 * it must outlive the API, or be detached first with NULL.  NULL (the
 * initial state) turns the routes off: they answer 404
 * {"error": "login-abuse detection is off"}.
 */
void http_api_set_login(struct http_api *a, struct login_engine *e);

/*
 * Between http_api.c and http_api_login.c only.  http_api.c routes a
 * login-abuse request, checks the engine is on, parses the body (POST) and
 * the "format" query value (GET); one http_api_login_*() function then
 * checks the members, asks the engine and fills the answer.
 */
struct http_api_login_req {
	char *const *seg;		/* decoded path segments, "v1" first */
	int nseg;
	const json_t *body;		/* POST: the body object; GET: NULL */
	const char *format;		/* ?format= value, or NULL */
	const char *actor;		/* who asked, for the engine's trail */
};

/* An answer: JSON, or a text body of another content type. */
struct http_api_answer {
	int status;
	json_t *json;			/* a new reference; NULL: text */
	char *text;			/* malloc'd, when json is NULL */
	const char *ctype;		/* static, for text */
};

/* GET /v1/ips */
void http_api_login_ips(struct login_engine *e,
			const struct http_api_login_req *q,
			struct http_api_answer *ans);
/* POST /v1/ips/block {"ip", "seconds", "reason"} */
void http_api_login_ip_block(struct login_engine *e,
			     const struct http_api_login_req *q,
			     struct http_api_answer *ans);
/* POST /v1/ips/unblock {"ip"} */
void http_api_login_ip_unblock(struct login_engine *e,
			       const struct http_api_login_req *q,
			       struct http_api_answer *ans);
/* GET /v1/incidents */
void http_api_login_incidents(struct login_engine *e,
			      const struct http_api_login_req *q,
			      struct http_api_answer *ans);
/* GET /v1/incidents/ID */
void http_api_login_incident_show(struct login_engine *e,
				  const struct http_api_login_req *q,
				  struct http_api_answer *ans);
/* GET /v1/incidents/ID/export[?format=csv|json] */
void http_api_login_incident_export(struct login_engine *e,
				    const struct http_api_login_req *q,
				    struct http_api_answer *ans);

#endif
