/*
 * policy_server - the Postfix policy delegation front-end.
 *
 * Accepts persistent connections from many smtpd processes on TCP and
 * unix-socket listeners, feeds bytes to the sans-I/O parser (proto/policy.h),
 * turns each request into a struct outbound_request for the core and writes
 * the verdict back as "action=...".  Protocol trouble (over-long line, too
 * big a request, junk, a client that never finishes) is logged with a
 * bounded sample and the connection is closed without a reply, as
 * SMTPD_POLICY_README asks; other connections are unaffected.
 */
#ifndef MAMORI_POLICY_SERVER_H
#define MAMORI_POLICY_SERVER_H

#include <stddef.h>

struct event_base;
struct config;
struct core;
struct policy_server;

/*
 * Bind every listener in cfg->policy_listen ("inet:HOST:PORT",
 * "inet:[V6]:PORT" or "unix:PATH", comma-separated) with the skeleton of
 * util/server.h (caps, request deadline, idle timeout, accept errors).
 * Call before dropping privileges; the core may be attached later with
 * policy_server_attach().  NULL with err on failure.
 */
struct policy_server *policy_server_new(struct event_base *base,
					const struct config *cfg,
					char *err, size_t errsz);
/* Start serving with this core (connections accepted before wait). */
void policy_server_attach(struct policy_server *s, struct core *core);
/* New limits and timeouts apply to new requests. */
void policy_server_reconfigure(struct policy_server *s,
			       const struct config *cfg);
/* Close listeners and connections; unlink unix sockets.  NULL ok. */
void policy_server_free(struct policy_server *s);
/* The local port of listener i (tests bind port 0); -1 if none. */
int policy_server_port(const struct policy_server *s, int i);
/* Connections open now. */
unsigned policy_server_connections(const struct policy_server *s);

#endif
