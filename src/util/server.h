/*
 * server - the one listener and connection skeleton of every mamorid
 * service (policy delegation, Dovecot auth policy, admin API).
 *
 * What it owns, once for all services:
 *   - listeners: each setting's comma-separated list parsed and opened with
 *     util/listen.h (unix sockets are never put over another file);
 *   - accept errors: on EMFILE, ENFILE, ENOBUFS, ENOMEM (and any other
 *     non-retriable error) the service stops accepting for 100 ms, doubling
 *     up to 1 s while the errors go on, instead of spinning on a listening
 *     socket that stays readable; one log line per 10 s carries the count;
 *   - caps: max_connections open at once per service, max_per_client from
 *     one client address (unix peers are local and share no address, so
 *     only the global cap applies to them).  A connection over a cap is
 *     accepted and closed at once, counted, and logged at most once per
 *     10 s per service with the number refused meanwhile;
 *   - timeouts: a deadline for a whole request, from its first byte to its
 *     end (request line, headers and body for HTTP), never re-armed by a
 *     read; an idle timeout between requests; none while the service is
 *     answering;
 *   - http mode: a connection closed in the middle of a request the
 *     service never got (evhttp refused it: over a size limit, malformed;
 *     or the client left) is counted and logged, rate-limited, without a
 *     byte of it (headers carry tokens and cookies);
 *   - counters for /metrics (server_metrics()).
 *
 * Two ways to serve:
 *   raw   the front-end does its own socket I/O (policy delegation, whose
 *         fast path must not pay for a bufferevent): the skeleton hands it
 *         each admitted fd with a struct server_conn, computes the timer to
 *         arm (server_conn_timeout()) and is told of the close;
 *   http  libevent's evhttp parses; the skeleton binds its listeners to the
 *         evhttp and follows every connection: it learns of it from the
 *         bufferevent callback (evhttp_set_bevcb(): no address is known
 *         yet) and admits or closes it in a callback run right after the
 *         accept; the first byte of a request is seen through a callback on
 *         the connection's input buffer, the request's end when evhttp
 *         hands it to the service, the reply's end through the request's
 *         completion callback.  libevent 2.1 has no public way from a
 *         bufferevent to its evhttp connection; we rely on evhttp passing
 *         the connection as the bufferevent's callback argument (true for
 *         2.0 to 2.2; test-server checks it).  The service must set close
 *         callbacks with server_http_set_closecb(), which chains ours.
 *
 * Threading: everything runs on the event loop thread of the base; the
 * registry of live servers (for server_metrics()) is changed only by
 * server_new() and server_free().
 */
#ifndef MAMORI_SERVER_H
#define MAMORI_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>

struct buf;
struct event_base;
struct evhttp;
struct evhttp_connection;
struct evhttp_request;
struct server;
struct server_conn;

#define SERVER_MAX_LISTENERS 16

struct server_limits {
	long max_connections;	/* open at once; >= 1 */
	long max_per_client;	/* from one client address; 0: no cap */
	long request_timeout;	/* s, first byte of a request to its end */
	long idle_timeout;	/* s, between requests */
};

struct server_stats {
	unsigned open;			/* connections open now */
	unsigned long accepted;		/* admitted */
	unsigned long refused_max;	/* over max_connections */
	unsigned long refused_client;	/* over max_per_client */
	unsigned long refused_other;	/* the service was not ready */
	unsigned long accept_errors;	/* accept() failed (EMFILE, ...) */
	unsigned long request_timeouts;	/* cut off at the request deadline */
	unsigned long request_unfinished; /* http: closed mid-request */
	unsigned long idle_timeouts;	/* closed idle */
};

/* Where a unix listener's file goes: permission bits and owner. */
struct server_sockopts {
	long mode;
	int uid, gid;		/* -1: keep */
};

/* Raw mode: take an admitted connection; non-zero refuses it (the
 * skeleton counts it as refused_other and closes fd). */
typedef int server_accept_fn(void *arg, struct server_conn *c, int fd,
			     const struct sockaddr *sa, socklen_t salen);

/* A service named service ("policy", "auth-policy", "api") with limits. */
struct server *server_new(struct event_base *base, const char *service,
			  const struct server_limits *lim);

/*
 * Open the listeners of setting (its name, for messages) whose value is
 * specs, a list parsed with listen_parse() and flags.  Listeners are inert
 * until server_serve_raw() or server_serve_http().  Returns 0, or -1 with
 * err (nothing stays open from this call).
 */
int server_listen(struct server *s, const char *setting, const char *specs,
		  unsigned flags, const struct server_sockopts *so, char *err,
		  size_t errsz);

/* Raw mode: start accepting on every listener not serving yet. */
void server_serve_raw(struct server *s, server_accept_fn *fn, void *arg);

/*
 * HTTP mode: serve every listener not serving yet with http, whose requests
 * go to cb(req, arg).  Sets http's general callback, bufferevent callback
 * and (as a backstop for replies a client does not read) its timeout;
 * leave those alone afterwards.  Free http (evhttp_free()) before s.
 * Returns 0, or -1 with err.
 */
int server_serve_http(struct server *s, struct evhttp *http,
		      void (*cb)(struct evhttp_request *, void *), void *arg,
		      char *err, size_t errsz);

/* Take the timeouts of lim (they apply when a timer is next armed).  The
 * caps stay as server_new() got them: the process's descriptor limit was
 * sized for those (a reload does not change them). */
void server_set_limits(struct server *s, const struct server_limits *lim);

/* Close the listeners (and in raw mode nothing else: the front-end closes
 * its connections first), unlink unix socket files.  NULL is a no-op. */
void server_free(struct server *s);

/* Local port of listener i (tests bind port 0); -1 if none or not inet. */
int server_port(const struct server *s, int i);
/* Counters now. */
void server_get_stats(const struct server *s, struct server_stats *st);

/* Raw mode: the client's address as text ("unix" for a unix peer). */
const char *server_conn_peer(const struct server_conn *c);
/*
 * Raw mode: the timeout to arm on the connection's read event.  busy: a
 * request has begun (bytes of it read).  The first busy call starts the
 * request's deadline; later ones get what is left of it, never more; a
 * call with busy false ends the request and gets the idle timeout.
 */
void server_conn_timeout(struct server_conn *c, bool busy, struct timeval *tv);
/* Raw mode: the timer fired; count it as a request or idle timeout. */
void server_conn_expired(struct server_conn *c, bool busy);
/* Raw mode: the front-end closed (or is closing) the fd; c is freed. */
void server_conn_close(struct server_conn *c);

/* HTTP mode: evhttp_connection_set_closecb() for a served connection;
 * cb runs before the skeleton forgets the connection. */
void server_http_set_closecb(struct evhttp_connection *evcon,
			     void (*cb)(struct evhttp_connection *, void *),
			     void *arg);

/* Append every live server's counters to b, Prometheus text format. */
void server_metrics(struct buf *b);

/*
 * Make sure this process may open need descriptors: raise RLIMIT_NOFILE's
 * soft limit (and the hard one when privileged) if it is lower.  Returns 0,
 * or -1 with a message in err naming the limits and what needs them
 * (why: "policy_max_connections + ...").
 */
int server_nofile_reserve(unsigned long need, const char *why, char *err,
			  size_t errsz);

#endif
