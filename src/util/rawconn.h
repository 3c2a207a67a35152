/*
 * rawconn - the connection plumbing of the raw-mode front-ends (policy
 * delegation, milter) on the listener skeleton (util/server.h).
 *
 * A front-end embeds a struct rawconn in its connection and hands it a
 * table of operations (struct rawconn_ops): its parser's busy state, what
 * to do with bytes read, how to log a timeout or a truncated request, and
 * how to close (the front-end decides whether to free at once or later).
 * rawconn does the rest, once for both:
 *   - accept set-up: TCP_NODELAY on inet sockets (small replies must not
 *     wait for a delayed ACK), the peer's address for logs, the two
 *     buffers, a persistent read event and a one-shot write event, the
 *     front-end's list of open connections;
 *   - reads: one recv() of at most ops->read_chunk bytes per readable
 *     event into a stack buffer, handed to ops->process; EOF, a read error
 *     and the skeleton's timers (request deadline, idle timeout) close;
 *   - writes: replies go straight to the socket after each batch
 *     (sock_send_buf()); a write event is armed only when the socket buffer
 *     is full.  Bufferevents would cost an epoll_ctl pair per reply, which
 *     on the policy path is a quarter of the work;
 *   - pausing: while a verdict or job is outstanding the front-end keeps
 *     the unparsed rest of the read (at most one read's worth: in is capped
 *     at read_chunk) and reading stops; rawconn_resume() writes the answer
 *     and goes on with what was kept.
 *
 * Limits: out is capped by the front-end (replies a client does not read:
 * the connection is closed); in at read_chunk.  No allocation or syscall
 * per request beyond the recv()/send() the front-ends always made.
 *
 * Log lines: "event=SERVICE_write_failed client=PEER error=..." (debug)
 * here; every other line is the front-end's, through ops->ended.
 *
 * Threading: event loop thread only.  Lifetime: rawconn_open() to
 * rawconn_close() (the fd, events and list entry) and rawconn_deinit()
 * (the buffers); between the two the front-end may keep its connection
 * alive for an outstanding verdict.
 */
#ifndef MAMORI_RAWCONN_H
#define MAMORI_RAWCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "util/buf.h"

struct event;
struct event_base;
struct rawconn;
struct server_conn;

/* What differs between the front-ends.  All functions are required. */
struct rawconn_ops {
	const char *service;	/* log event prefix ("policy", "milter") */
	size_t read_chunk;	/* bytes per recv(), and in's cap */
	/* The parser holds part of a request (deadline, not idle timer). */
	bool (*busy)(struct rawconn *rc);
	/* Handle bytes read: 0, or -1 when the connection was closed (rc may
	 * be gone).  When an answer stays outstanding, it keeps the unparsed
	 * rest with rawconn_pause() and returns its result. */
	int (*process)(struct rawconn *rc, const char *data, size_t n);
	/* Log the end of a connection: the timer fired (busy: inside a
	 * request), or EOF inside a request (timeout false, busy true).
	 * Called before ops->close. */
	void (*ended)(struct rawconn *rc, bool timeout, bool busy);
	/* Close the connection: rawconn_close(), then free now or later. */
	void (*close)(struct rawconn *rc);
};

/* A front-end's open connections. */
struct rawconn_list {
	struct rawconn *head;
	unsigned n;
};

struct rawconn {
	const struct rawconn_ops *ops;
	struct rawconn_list *list;
	struct server_conn *sc;	/* the skeleton's record, while fd is open */
	int fd;			/* -1 once closed */
	struct event *rev, *wev;
	struct buf in;		/* bytes read while paused */
	struct buf out;		/* replies not yet written */
	struct rawconn *prev, *next;
	bool paused;		/* reading stopped until rawconn_resume() */
	char peer[64];		/* the client's address, for logs */
};

/*
 * Set up rc for the connection fd the skeleton admitted as sc (from
 * address sa), link it into list and arm its read timer (idle or request
 * deadline, from ops->busy: the front-end's parser must be initialised).
 * out is capped at out_max bytes.  rc takes over fd.
 */
void rawconn_open(struct rawconn *rc, const struct rawconn_ops *ops,
		  struct rawconn_list *list, struct event_base *base,
		  struct server_conn *sc, int fd, const struct sockaddr *sa,
		  size_t out_max);

/*
 * Free the events, close the socket, tell the skeleton and unlink rc from
 * its list.  A no-op once done (fd is -1); the buffers stay for
 * rawconn_deinit().
 */
void rawconn_close(struct rawconn *rc);

/* Free rc's buffers (after rawconn_close()); rc itself is the caller's. */
void rawconn_deinit(struct rawconn *rc);

/*
 * (Re)arm the read event: the idle timeout between requests, what is left
 * of the request's deadline inside one (never extended by a read).  On a
 * registered event this only moves its timer.
 */
void rawconn_arm(struct rawconn *rc);

/*
 * Write what the socket takes of rc->out; arm the write event for the
 * rest.  On a send error, log it and close (ops->close).  Returns 0, or -1
 * when closed (rc may be gone).
 */
int rawconn_flush(struct rawconn *rc);

/*
 * An answer is outstanding: keep the n unparsed bytes at rest and stop
 * reading until rawconn_resume().  Returns 0, or -1 when they do not fit
 * (the connection was closed through ops->close; rc may be gone).
 */
int rawconn_pause(struct rawconn *rc, const char *rest, size_t n);

/*
 * The outstanding answer is in rc->out: write it, process what was kept
 * while paused (which may pause again), write those answers and re-arm
 * the read event.  rc may be gone on return.
 */
void rawconn_resume(struct rawconn *rc);

/* Close every connection on list (through each one's ops->close). */
void rawconn_close_all(struct rawconn_list *list);

#endif
