/*
 * authpolicy_server - Dovecot's auth_policy_server_url endpoint.
 *
 * An HTTP/1.1 server (libevent evhttp, keep-alive; Dovecot opens up to 100
 * connections) on auth_policy_listen.  Each POST carries the command in
 * the query (?command=allow or report) and a JSON body; the answer is
 * {"status":N,"msg":"..."} with HTTP 200.  The front-end only translates:
 * the body into a struct core_login_request, core_login()'s verdict into
 * the reply; the core asks the login engine and applies the consequences
 * for the account.  Each decision is logged with its reasons.
 *
 * A body mamori cannot parse (Dovecot sends invalid JSON when the literal
 * text of an attribute template holds a backslash or a quote) gets
 * auth_policy_fail_action and a warning with its length and its key names
 * (authpolicy_field_names), never a value: the body holds the pwhash, and
 * a misconfigured template could send the password itself.  Never a crash.
 */
#ifndef MAMORI_AUTHPOLICY_SERVER_H
#define MAMORI_AUTHPOLICY_SERVER_H

#include <stddef.h>

struct event_base;
struct config;
struct core;
struct authpolicy_server;

/* Bind cfg->auth_policy_listen (inet:HOST:PORT, inet:[V6]:PORT or
 * unix:PATH; util/server.h owns the listener).  NULL with err. */
struct authpolicy_server *authpolicy_server_new(struct event_base *base,
						const struct config *cfg,
						struct core *core, char *err,
						size_t errsz);
void authpolicy_server_reconfigure(struct authpolicy_server *s,
				   const struct config *cfg);
void authpolicy_server_free(struct authpolicy_server *s);
/* The bound port (tests bind port 0); -1 if unknown. */
int authpolicy_server_port(const struct authpolicy_server *s);

#endif
