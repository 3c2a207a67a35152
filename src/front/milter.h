/*
 * milter - the libmilter front-end: inbound mail authentication and
 * outbound DKIM signing for Postfix smtpd_milters.
 *
 * libmilter runs smfi_main() with a thread per SMTP connection, so this
 * front-end is the one place where mamori runs work off the event loop
 * (docs/design/milter.md says why).  Per message, inbound mail is
 * evaluated by front/mailauth.c inside the milter thread, with a blocking
 * resolver over ONE shared libunbound context that runs on a private DNS
 * thread; outbound mail ({auth_authen} set, or a client in
 * internal_networks) is DKIM-signed (mail/dkim_sign.h) and its
 * correspondence recorded hashed.  Anything that touches the store (the
 * correspondence log, DMARC aggregate counts) is queued under a mutex and
 * handed to the event-loop thread with event_active(): no store_* call
 * ever runs on a milter thread.
 *
 * Requires evthread_use_pthreads() before the daemon's event_base is
 * created.  libmilter keeps process-wide state: one milter_server per
 * process.
 */
#ifndef MAMORI_MILTER_H
#define MAMORI_MILTER_H

#include <stddef.h>

struct event_base;
struct config;
struct store;
struct milter_server;

/*
 * Bind cfg->milter_listen ("unix:PATH" or "inet:PORT@HOST"; a unix socket
 * is made mode 0666, restrict it with its directory) and start the DNS
 * thread (cfg->dns_upstream, cfg->dns_timeout_ms) and load the DKIM keys
 * (cfg->dkim_key_dir).  Call before dropping privileges; nothing is served
 * until milter_server_attach().  base is the daemon's loop (store work
 * runs there).  NULL with err on failure.
 */
struct milter_server *milter_server_new(struct event_base *base,
					const struct config *cfg,
					char *err, size_t errsz);

/*
 * Start serving: read (or create) the per-install salt from the store
 * namespace "corr", then run smfi_main() on its own thread.  st must
 * outlive the server.  Returns 0 or -1 with err.
 */
int milter_server_attach(struct milter_server *s, struct store *st,
			 char *err, size_t errsz);

/*
 * New settings (authserv_id, actions, override lists, internal_networks,
 * DKIM keys reloaded from dkim_key_dir) apply to messages that start
 * after the call.  cfg must stay alive until milter_server_free (mamorid
 * keeps old configs).  Event-loop thread only.
 */
void milter_server_reconfigure(struct milter_server *s,
			       const struct config *cfg);

/*
 * Stop smfi_main, wait (bounded) for messages in progress, flush queued
 * store work and the DMARC counts, stop the DNS thread.  NULL is a no-op.
 * Event-loop thread only, before the store is closed.
 */
void milter_server_free(struct milter_server *s);

#endif
