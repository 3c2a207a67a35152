/*
 * policy_server - Postfix policy delegation over libevent.  See
 * policy_server.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/event.h>
#include <event2/util.h>

#include "core/core.h"
#include "front/policy_server.h"
#include "proto/policy.h"
#include "util/config.h"
#include "util/log.h"
#include "util/server.h"
#include "util/sock.h"
#include "util/xalloc.h"

/*
 * Connections do their own socket I/O instead of using bufferevents: a
 * read event that stays registered, replies written straight to the socket
 * after each batch of requests, and a write event only when the socket
 * buffer is full.  Bufferevents cost an epoll_ctl pair per reply, which on
 * this path is a quarter of the work.
 */
#define READ_CHUNK 16384
#define OUT_MAX (1024 * 1024)	/* replies a client has not read: close */

struct pconn {
	struct policy_server *srv;
	struct server_conn *sc;	/* the skeleton's record, while fd is open */
	evutil_socket_t fd;
	struct event *rev, *wev;
	struct policy_parser parser;
	struct buf in;		/* bytes read while a verdict was pending */
	struct buf out;		/* replies not yet written */
	struct pconn *prev, *next;
	char peer[64];
	unsigned long requests;
	bool waiting;		/* a verdict is pending in the core */
	bool in_call;		/* inside core_outbound() */
	bool paused;		/* reading stopped until the verdict */
	bool dead;		/* closed while waiting: free on verdict */
	bool broken;		/* reply backlog overflowed inside a call */
};

struct policy_server {
	struct event_base *base;
	const struct config *cfg;
	struct core *core;
	struct server *srv;	/* listeners, caps, accept errors */
	struct pconn *conns;
	unsigned nconns;
};

static int conn_process(struct pconn *c, const char *data, size_t n);

/* Unlink from the list and free, unless a verdict is still coming. */
static void conn_close(struct pconn *c)
{
	struct policy_server *s = c->srv;

	if (c->fd >= 0) {
		event_free(c->rev);
		event_free(c->wev);
		evutil_closesocket(c->fd);
		c->fd = -1;
		server_conn_close(c->sc);
		c->sc = NULL;
		if (c->prev)
			c->prev->next = c->next;
		else
			s->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		s->nconns--;
	}
	if (c->waiting) {
		c->dead = true;
		return;
	}
	policy_parser_deinit(&c->parser);
	buf_deinit(&c->in);
	buf_deinit(&c->out);
	free(c);
}

/* (Re)arm the read event: idle timeout between requests, what is left of
 * the request's deadline inside one (never extended by a read).  On a
 * registered event this only moves its timer. */
static void conn_arm(struct pconn *c)
{
	struct timeval tv;

	server_conn_timeout(c->sc, policy_parser_busy(&c->parser), &tv);
	event_add(c->rev, &tv);
}

/* Write what we can; keep the rest for the write event.  -1: closed. */
static int conn_flush(struct pconn *c)
{
	int r = sock_send_buf(c->fd, &c->out);

	if (r < 0) {
		log_msg(LOG_L_DEBUG, "event=policy_write_failed client=%s "
			"error=\"%s\"", c->peer, strerror(errno));
		conn_close(c);
		return -1;
	}
	if (r > 0)
		event_add(c->wev, NULL);
	return 0;
}

static enum outbound_stage stage_of(enum policy_state st)
{
	switch (st) {
	case PS_RCPT:
		return OUT_RCPT;
	case PS_END_OF_MESSAGE:
		return OUT_END_OF_MESSAGE;
	default:
		return OUT_OTHER;
	}
}

/* The core decided: queue "action=...", and if the verdict came late,
 * write it and go on with what was read meanwhile. */
static void on_verdict(void *arg, const struct verdict *v)
{
	struct pconn *c = arg;
	char reply[1024];
	int n;

	c->waiting = false;
	if (c->dead) {
		conn_close(c);
		return;
	}
	n = policy_format_reply(reply, sizeof(reply),
				verdict_action_name(v->action),
				v->action == VERDICT_DUNNO ? NULL : v->text);
	if (n < 0)
		n = policy_format_reply(reply, sizeof(reply), "DUNNO", NULL);
	c->requests++;
	if (buf_append(&c->out, reply, (size_t)n) != 0) {
		log_msg(LOG_L_WARN, "event=policy_output_backlog client=%s "
			"bytes=%zu", c->peer, c->out.len);
		c->broken = true;
	}
	if (c->in_call)
		return;		/* conn_process goes on and flushes */
	if (c->broken) {
		conn_close(c);
		return;
	}
	if (conn_flush(c) != 0)
		return;
	if (c->paused) {
		struct buf rest = c->in;
		int r;

		c->paused = false;
		buf_init(&c->in, rest.max);
		r = conn_process(c, rest.p ? rest.p : "", rest.len);
		buf_deinit(&rest);
		if (r != 0 || c->waiting)
			return;
		if (conn_flush(c) != 0)
			return;
	}
	conn_arm(c);
}

/* Translate a parsed request for the core. */
static void handle_request(struct pconn *c, const struct policy_request *r)
{
	struct outbound_request req;
	char q[LOG_QSZ];
	bool policy = strcmp(r->attr[PA_REQUEST], "smtpd_access_policy") == 0;

	if (!policy)
		log_msg(LOG_L_WARN,
			"event=policy_unknown_request client=%s request=%s",
			c->peer, log_q(q, sizeof(q), r->attr[PA_REQUEST]));
	memset(&req, 0, sizeof(req));
	req.stage = policy ? stage_of(r->state) : OUT_OTHER;
	req.login = r->attr[PA_SASL_USERNAME];
	req.sender = r->attr[PA_SENDER];
	req.recipient = r->attr[PA_RECIPIENT];
	req.client_address = r->attr[PA_CLIENT_ADDRESS];
	req.queue_id = r->attr[PA_QUEUE_ID];
	req.instance = r->attr[PA_INSTANCE];
	req.recipient_count = r->recipient_count;
	req.size = r->size;
	c->waiting = true;
	c->in_call = true;
	core_outbound(c->srv->core, &req, on_verdict, c);
	c->in_call = false;
}

/*
 * Feed bytes to the parser and decide each complete request in order.  If
 * a verdict stays pending (a networked store), keep the unparsed rest and
 * stop reading until it comes.  Returns -1 when the connection was closed
 * (and c is gone), else 0.
 */
static int conn_process(struct pconn *c, const char *data, size_t n)
{
	while (n > 0) {
		size_t used = 0;
		int r = policy_parser_feed(&c->parser, data, n, &used);

		data += used;
		n -= used;
		if (r == POLICY_READY) {
			handle_request(c, policy_parser_request(&c->parser));
			if (c->broken) {
				conn_close(c);
				return -1;
			}
			if (c->waiting) {
				if (buf_append(&c->in, data, n) != 0) {
					conn_close(c);
					return -1;
				}
				c->paused = true;
				event_del(c->rev);
				return 0;
			}
			continue;
		}
		if (r != POLICY_NEED_MORE) {
			log_msg(LOG_L_WARN,
				"event=policy_protocol_error client=%s error=%s "
				"requests=%lu sample=\"%s\"",
				c->peer, policy_error_str(r), c->requests,
				policy_parser_sample(&c->parser));
			conn_close(c);
			return -1;
		}
	}
	return 0;
}

/* Readable, or the read timer fired. */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;
	char chunk[READ_CHUNK];
	ssize_t n;

	if (what & EV_TIMEOUT) {
		bool busy = policy_parser_busy(&c->parser);

		server_conn_expired(c->sc, busy);
		log_msg(busy ? LOG_L_WARN : LOG_L_DEBUG,
			"event=policy_timeout client=%s partial_request=%s "
			"requests=%lu", c->peer, busy ? "yes" : "no",
			c->requests);
		conn_close(c);
		return;
	}
	n = recv(fd, chunk, sizeof(chunk), 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		return;
	if (n <= 0) {
		if (n == 0 && policy_parser_busy(&c->parser))
			log_msg(LOG_L_WARN,
				"event=policy_truncated client=%s requests=%lu",
				c->peer, c->requests);
		conn_close(c);
		return;
	}
	if (conn_process(c, chunk, (size_t)n) != 0 || c->waiting)
		return;
	if (conn_flush(c) != 0)
		return;
	conn_arm(c);
}

/* The socket drained: write the rest of the replies. */
static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;

	(void)fd;
	(void)what;
	conn_flush(c);
}

/* A new smtpd connection, admitted by the skeleton; non-zero refuses it
 * (before the core is attached). */
static int on_accept(void *arg, struct server_conn *sc, int fd,
		     const struct sockaddr *sa, socklen_t salen)
{
	struct policy_server *s = arg;
	const struct config *cfg = s->cfg;
	struct pconn *c;
	int one = 1;

	(void)salen;
	if (!s->core)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	c->sc = sc;
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "%s", server_conn_peer(sc));
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	policy_parser_init(&c->parser, (size_t)cfg->policy_max_line,
			   (size_t)cfg->policy_max_request,
			   (unsigned)cfg->policy_max_attrs);
	/* Bytes read past a pending request: at most one read's worth. */
	buf_init(&c->in, READ_CHUNK);
	buf_init(&c->out, OUT_MAX);
	c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(s->base, fd, EV_WRITE, on_write, c);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	conn_arm(c);
	return 0;
}

/* The skeleton's limits from the config. */
static void limits_of(const struct config *cfg, struct server_limits *lim)
{
	lim->max_connections = cfg->policy_max_connections;
	lim->max_per_client = cfg->policy_max_per_client;
	lim->request_timeout = cfg->policy_request_timeout;
	lim->idle_timeout = cfg->policy_idle_timeout;
}

struct policy_server *policy_server_new(struct event_base *base,
					const struct config *cfg,
					char *err, size_t errsz)
{
	struct policy_server *s = xcalloc(1, sizeof(*s));
	struct server_sockopts so = { cfg->policy_socket_mode, -1, -1 };
	struct server_limits lim;

	s->base = base;
	s->cfg = cfg;
	limits_of(cfg, &lim);
	s->srv = server_new(base, "policy", &lim);
	if (!cfg->policy_listen[0]) {
		snprintf(err, errsz, "policy_listen is empty");
		policy_server_free(s);
		return NULL;
	}
	if (server_listen(s->srv, "policy_listen", cfg->policy_listen, 0, &so,
			  err, errsz) != 0) {
		policy_server_free(s);
		return NULL;
	}
	server_serve_raw(s->srv, on_accept, s);
	return s;
}

void policy_server_attach(struct policy_server *s, struct core *core)
{
	s->core = core;
}

void policy_server_reconfigure(struct policy_server *s,
			       const struct config *cfg)
{
	struct server_limits lim;

	s->cfg = cfg;
	limits_of(cfg, &lim);
	server_set_limits(s->srv, &lim);
}

int policy_server_port(const struct policy_server *s, int i)
{
	return server_port(s->srv, i);
}

unsigned policy_server_connections(const struct policy_server *s)
{
	return s->nconns;
}

void policy_server_free(struct policy_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	server_free(s->srv);
	free(s);
}
