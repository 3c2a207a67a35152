/*
 * http_api - the admin HTTP/JSON API (/v1) and Prometheus /metrics, on
 * libevent's evhttp.
 *
 * A thin front-end: it turns a request into one call of the core's admin
 * interface (core/admin.h, which also serves the login-abuse engine's
 * routes) and the typed result into an HTTP status and JSON.  It decides
 * nothing itself beyond syntax: routing, URL decoding, JSON body checks.
 *
 * Listeners: api_listen ("unix:PATH"), where the file's permission bits are
 * the authorization, and optionally api_tcp_listen ("inet:HOST:PORT", or
 * the old bare "HOST:PORT"; listeners are util/server.h's), where
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

struct event_base;
struct core;
struct config;
struct http_api;

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

#endif
