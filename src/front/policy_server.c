/*
 * policy_server - Postfix policy delegation over libevent.  See
 * policy_server.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "core/core.h"
#include "front/policy_server.h"
#include "proto/policy.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#define MAX_LISTENERS 16

struct pconn {
	struct policy_server *srv;
	struct bufferevent *bev;
	struct policy_parser parser;
	struct pconn *prev, *next;
	char peer[64];
	unsigned long requests;
	bool waiting;		/* a verdict is pending in the core */
	bool in_call;		/* inside core_outbound() */
	bool paused;		/* reading disabled until the verdict */
	bool dead;		/* closed while waiting: free on verdict */
};

struct policy_server {
	struct event_base *base;
	const struct config *cfg;
	struct core *core;
	struct evconnlistener *ls[MAX_LISTENERS];
	char *unix_paths[MAX_LISTENERS];
	int nls;
	struct pconn *conns;
	unsigned nconns;
	unsigned long refused;
};

static void conn_read(struct bufferevent *bev, void *arg);

/* Unlink from the list and free, unless a verdict is still coming. */
static void conn_close(struct pconn *c)
{
	struct policy_server *s = c->srv;

	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
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
	free(c);
}

/* Idle timeout between requests, request timeout inside one. */
static void conn_timeouts(struct pconn *c)
{
	const struct config *cfg = c->srv->cfg;
	struct timeval tv = {
		.tv_sec = policy_parser_busy(&c->parser) ?
			cfg->policy_request_timeout : cfg->policy_idle_timeout,
	};

	bufferevent_set_timeouts(c->bev, &tv, NULL);
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

/* The core decided: write "action=..." and resume reading. */
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
	bufferevent_write(c->bev, reply, (size_t)n);
	c->requests++;
	if (c->in_call)
		return;		/* conn_read's loop goes on with the rest */
	if (c->paused) {
		c->paused = false;
		bufferevent_enable(c->bev, EV_READ);
	}
	/* Pipelined bytes may already be buffered. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		conn_read(c->bev, c);
	else
		conn_timeouts(c);
}

/* Translate a parsed request for the core. */
static void handle_request(struct pconn *c, const struct policy_request *r)
{
	struct outbound_request req;
	char q[LOG_QSZ];

	if (strcmp(r->attr[PA_REQUEST], "smtpd_access_policy") != 0) {
		log_msg(LOG_L_WARN,
			"event=policy_unknown_request client=%s request=%s",
			c->peer, log_q(q, sizeof(q), r->attr[PA_REQUEST]));
	}
	memset(&req, 0, sizeof(req));
	req.stage = strcmp(r->attr[PA_REQUEST], "smtpd_access_policy") ?
		OUT_OTHER : stage_of(r->state);
	req.login = r->attr[PA_SASL_USERNAME];
	req.sender = r->attr[PA_SENDER];
	req.recipient = r->attr[PA_RECIPIENT];
	req.client_address = r->attr[PA_CLIENT_ADDRESS];
	req.queue_id = r->attr[PA_QUEUE_ID];
	req.instance = r->attr[PA_INSTANCE];
	req.recipient_count = strtol(r->attr[PA_RECIPIENT_COUNT], NULL, 10);
	req.size = strtol(r->attr[PA_SIZE], NULL, 10);
	c->waiting = true;
	c->in_call = true;
	core_outbound(c->srv->core, &req, on_verdict, c);
	c->in_call = false;
	/* Stop reading only while a verdict is really pending (a networked
	 * store): two epoll_ctl calls per request otherwise. */
	if (c->waiting && !c->dead) {
		c->paused = true;
		bufferevent_disable(c->bev, EV_READ);
	}
}

/* Feed what arrived; handle each complete request in order. */
static void conn_read(struct bufferevent *bev, void *arg)
{
	struct pconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!c->waiting && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t used = 0;
		int r;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		r = policy_parser_feed(&c->parser, v.iov_base, v.iov_len,
				       &used);
		evbuffer_drain(in, used);
		if (r == POLICY_READY) {
			handle_request(c, policy_parser_request(&c->parser));
			if (c->dead)
				return;
			continue;
		}
		if (r != POLICY_NEED_MORE) {
			log_msg(LOG_L_WARN,
				"event=policy_protocol_error client=%s error=%s "
				"requests=%lu sample=\"%s\"",
				c->peer, policy_error_str(r), c->requests,
				policy_parser_sample(&c->parser));
			conn_close(c);
			return;
		}
	}
	if (c->bev && !c->waiting)
		conn_timeouts(c);
}

/* EOF, error or timeout. */
static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct pconn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		bool busy = policy_parser_busy(&c->parser);

		log_msg(busy ? LOG_L_WARN : LOG_L_DEBUG,
			"event=policy_timeout client=%s partial_request=%s "
			"requests=%lu", c->peer, busy ? "yes" : "no",
			c->requests);
	} else if ((what & BEV_EVENT_EOF) &&
		   policy_parser_busy(&c->parser)) {
		log_msg(LOG_L_WARN,
			"event=policy_truncated client=%s requests=%lu",
			c->peer, c->requests);
	}
	conn_close(c);
}

/* A new smtpd connection. */
static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct policy_server *s = arg;
	const struct config *cfg = s->cfg;
	struct pconn *c;
	int one = 1;

	(void)l;
	(void)salen;
	if (!s->core || s->nconns >= (unsigned)cfg->max_connections) {
		s->refused++;
		log_msg(LOG_L_WARN, "event=policy_refused reason=%s open=%u",
			s->core ? "max_connections" : "starting", s->nconns);
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, c->peer, sizeof(c->peer));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, c->peer, sizeof(c->peer));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else {
		snprintf(c->peer, sizeof(c->peer), "unix");
	}
	policy_parser_init(&c->parser, (size_t)cfg->policy_max_line,
			   (size_t)cfg->policy_max_request,
			   (unsigned)cfg->policy_max_attrs);
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	/* Never buffer more than one request's worth before parsing. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
				 (size_t)cfg->policy_max_request + 4096);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	conn_timeouts(c);
}

/* Bind "inet:HOST:PORT" or "unix:PATH". */
static int bind_one(struct policy_server *s, const char *spec, char *err,
		    size_t errsz)
{
	struct evconnlistener *l;
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
			 LEV_OPT_CLOSE_ON_EXEC;

	if (s->nls == MAX_LISTENERS) {
		snprintf(err, errsz, "too many policy listeners");
		return -1;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC,
			.ai_socktype = SOCK_STREAM,
			.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV };
		struct evutil_addrinfo *ai = NULL;
		char host[256];
		const char *hp = spec + 5, *colon = strrchr(hp, ':');
		size_t hl;

		/* HOST:PORT or [V6]:PORT; port 0 picks one (tests). */
		if (!colon || colon == hp || (hl = (size_t)(colon - hp)) >=
		    sizeof(host)) {
			snprintf(err, errsz, "policy_listen: bad address \"%s\"",
				 spec);
			return -1;
		}
		if (hp[0] == '[' && colon[-1] == ']')
			snprintf(host, sizeof(host), "%.*s", (int)hl - 2, hp + 1);
		else
			snprintf(host, sizeof(host), "%.*s", (int)hl, hp);
		if (evutil_getaddrinfo(host, colon + 1, &hints, &ai) != 0 ||
		    !ai) {
			snprintf(err, errsz, "policy_listen: bad address \"%s\"",
				 spec);
			return -1;
		}
		l = evconnlistener_new_bind(s->base, on_accept, s, flags, 1024,
					    ai->ai_addr, (int)ai->ai_addrlen);
		evutil_freeaddrinfo(ai);
		if (!l) {
			snprintf(err, errsz, "policy_listen %s: %s", spec,
				 strerror(errno));
			return -1;
		}
	} else if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		const char *path = spec + 5;
		int fd;

		if (strlen(path) >= sizeof(sun.sun_path) || !*path) {
			snprintf(err, errsz, "policy_listen: bad path \"%s\"",
				 spec);
			return -1;
		}
		memcpy(sun.sun_path, path, strlen(path) + 1);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun,
				   sizeof(sun)) != 0 ||
		    chmod(path, 0666) != 0 || listen(fd, 1024) != 0) {
			snprintf(err, errsz, "policy_listen %s: %s", spec,
				 strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		l = evconnlistener_new(s->base, on_accept, s,
				       LEV_OPT_CLOSE_ON_FREE, -1, fd);
		s->unix_paths[s->nls] = xstrdup(path);
	} else {
		snprintf(err, errsz,
			 "policy_listen: \"%s\" is not inet:HOST:PORT or unix:PATH",
			 spec);
		return -1;
	}
	s->ls[s->nls++] = l;
	log_msg(LOG_L_INFO, "event=listening service=policy address=%s", spec);
	return 0;
}

struct policy_server *policy_server_new(struct event_base *base,
					const struct config *cfg,
					char *err, size_t errsz)
{
	struct policy_server *s = xcalloc(1, sizeof(*s));
	char *list = xstrdup(cfg->policy_listen), *p = list;

	s->base = base;
	s->cfg = cfg;
	while (*p) {
		size_t n;
		bool last;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		last = p[n] == '\0';
		p[n] = '\0';
		if (bind_one(s, p, err, errsz) != 0) {
			free(list);
			policy_server_free(s);
			return NULL;
		}
		p += last ? n : n + 1;
	}
	free(list);
	if (s->nls == 0) {
		snprintf(err, errsz, "policy_listen is empty");
		policy_server_free(s);
		return NULL;
	}
	return s;
}

void policy_server_attach(struct policy_server *s, struct core *core)
{
	s->core = core;
}

void policy_server_reconfigure(struct policy_server *s,
			       const struct config *cfg)
{
	s->cfg = cfg;
}

int policy_server_port(const struct policy_server *s, int i)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	evutil_socket_t fd;

	if (i < 0 || i >= s->nls)
		return -1;
	fd = evconnlistener_get_fd(s->ls[i]);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

unsigned policy_server_connections(const struct policy_server *s)
{
	return s->nconns;
}

void policy_server_free(struct policy_server *s)
{
	int i;

	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	for (i = 0; i < s->nls; i++) {
		evconnlistener_free(s->ls[i]);
		if (s->unix_paths[i]) {
			unlink(s->unix_paths[i]);
			free(s->unix_paths[i]);
		}
	}
	free(s);
}
