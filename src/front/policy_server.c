/*
 * policy_server - Postfix policy delegation over libevent.  See
 * policy_server.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "front/policy_server.h"
#include "proto/policy.h"
#include "util/config.h"
#include "util/log.h"
#include "util/rawconn.h"
#include "util/server.h"
#include "util/xalloc.h"

/*
 * Connections do their own socket I/O (util/rawconn.h) instead of using
 * bufferevents: a read event that stays registered, replies written
 * straight to the socket after each batch of requests, and a write event
 * only when the socket buffer is full.
 */
#define READ_CHUNK 16384
#define OUT_MAX (1024 * 1024)	/* replies a client has not read: close */

struct pconn {
	struct rawconn rc;	/* first: a struct rawconn * is a pconn */
	struct policy_server *srv;
	struct policy_parser parser;
	unsigned long requests;
	bool waiting;		/* a verdict is pending in the core */
	bool in_call;		/* inside core_outbound() */
	bool dead;		/* closed while waiting: free on verdict */
	bool broken;		/* reply backlog overflowed inside a call */
};

struct policy_server {
	struct event_base *base;
	const struct config *cfg;
	struct core *core;
	struct server *srv;	/* listeners, caps, accept errors */
	struct rawconn_list conns;
};

/* Close the socket and free, unless a verdict is still coming (ops). */
static void conn_close(struct rawconn *rc)
{
	struct pconn *c = (struct pconn *)rc;

	rawconn_close(rc);
	if (c->waiting) {
		c->dead = true;
		return;
	}
	policy_parser_deinit(&c->parser);
	rawconn_deinit(rc);
	free(c);
}

/* A request has begun (ops). */
static bool conn_busy(struct rawconn *rc)
{
	return policy_parser_busy(&((struct pconn *)rc)->parser);
}

/* Log a timeout or a request cut short by EOF (ops). */
static void conn_ended(struct rawconn *rc, bool timeout, bool busy)
{
	struct pconn *c = (struct pconn *)rc;

	if (timeout)
		log_msg(busy ? LOG_L_WARN : LOG_L_DEBUG,
			"event=policy_timeout client=%s partial_request=%s "
			"requests=%lu", rc->peer, busy ? "yes" : "no",
			c->requests);
	else
		log_msg(LOG_L_WARN,
			"event=policy_truncated client=%s requests=%lu",
			rc->peer, c->requests);
}

static int conn_process(struct rawconn *rc, const char *data, size_t n);

static const struct rawconn_ops conn_ops = {
	"policy", READ_CHUNK, conn_busy, conn_process, conn_ended, conn_close
};

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
		conn_close(&c->rc);
		return;
	}
	n = policy_format_reply(reply, sizeof(reply),
				verdict_action_name(v->action),
				v->action == VERDICT_DUNNO ? NULL : v->text);
	if (n < 0)
		n = policy_format_reply(reply, sizeof(reply), "DUNNO", NULL);
	c->requests++;
	if (buf_append(&c->rc.out, reply, (size_t)n) != 0) {
		log_msg(LOG_L_WARN, "event=policy_output_backlog client=%s "
			"bytes=%zu", c->rc.peer, c->rc.out.len);
		c->broken = true;
	}
	if (c->in_call)
		return;		/* conn_process goes on and flushes */
	if (c->broken) {
		conn_close(&c->rc);
		return;
	}
	rawconn_resume(&c->rc);
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
			c->rc.peer, log_q(q, sizeof(q), r->attr[PA_REQUEST]));
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
 * (and c is gone), else 0 (ops).
 */
static int conn_process(struct rawconn *rc, const char *data, size_t n)
{
	struct pconn *c = (struct pconn *)rc;

	while (n > 0) {
		size_t used = 0;
		int r = policy_parser_feed(&c->parser, data, n, &used);

		data += used;
		n -= used;
		if (r == POLICY_READY) {
			handle_request(c, policy_parser_request(&c->parser));
			if (c->broken) {
				conn_close(rc);
				return -1;
			}
			if (c->waiting)
				return rawconn_pause(rc, data, n);
			continue;
		}
		if (r != POLICY_NEED_MORE) {
			log_msg(LOG_L_WARN,
				"event=policy_protocol_error client=%s error=%s "
				"requests=%lu sample=\"%s\"",
				rc->peer, policy_error_str(r), c->requests,
				policy_parser_sample(&c->parser));
			conn_close(rc);
			return -1;
		}
	}
	return 0;
}

/* A new smtpd connection, admitted by the skeleton; non-zero refuses it
 * (before the core is attached). */
static int on_accept(void *arg, struct server_conn *sc, int fd,
		     const struct sockaddr *sa, socklen_t salen)
{
	struct policy_server *s = arg;
	const struct config *cfg = s->cfg;
	struct pconn *c;

	(void)salen;
	if (!s->core)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	policy_parser_init(&c->parser, (size_t)cfg->policy_max_line,
			   (size_t)cfg->policy_max_request,
			   (unsigned)cfg->policy_max_attrs);
	rawconn_open(&c->rc, &conn_ops, &s->conns, s->base, sc, fd, sa,
		     OUT_MAX);
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
	return s->conns.n;
}

void policy_server_free(struct policy_server *s)
{
	if (!s)
		return;
	rawconn_close_all(&s->conns);
	server_free(s->srv);
	free(s);
}
