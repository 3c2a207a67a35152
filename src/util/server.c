/*
 * server - listener and connection skeleton.  See server.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "util/buf.h"
#include "util/listen.h"
#include "util/log.h"
#include "util/server.h"
#include "util/sock.h"
#include "util/xalloc.h"

#define LOG_INTERVAL 10		/* s between two lines of one kind */
#define PAUSE_MIN_MS 100	/* first pause after an accept error */
#define PAUSE_MAX_MS 1000
#define CLIENT_BUCKETS 1024
#define MAX_HTTP 4		/* evhttp objects one service serves */
#define BACKLOG 1024

/* At most one log line per LOG_INTERVAL; the rest are counted. */
struct ratelog {
	time_t last;
	unsigned long held;	/* events not logged since the last line */
};

/* Connections from one client address. */
struct client {
	struct client *next;
	unsigned char key[17];	/* family tag + address */
	unsigned n;
};

struct listener {
	struct server *srv;
	struct evconnlistener *lev;
	char *unix_path;	/* to unlink at the end */
	bool serving;
	bool by_http;		/* evhttp owns lev */
};

/* One evhttp object served by a server. */
struct http_bind {
	struct server *srv;
	struct evhttp *http;
	void (*cb)(struct evhttp_request *, void *);
	void *arg;
};

/* A bufferevent evhttp was given, waiting for its connection's admission. */
struct pending {
	struct bufferevent *bev;
	struct http_bind *bind;
};

enum hstate {
	HS_IDLE,	/* between requests */
	HS_REQUEST,	/* bytes of a request arrived: deadline runs */
	HS_HANDLING,	/* the service has the request */
};

struct server_conn {
	struct server *srv;
	struct client *client;	/* NULL: not capped (unix peer) */
	int fd;
	char peer[64];
	/* raw mode */
	struct timeval start;	/* first byte of the current request */
	bool in_request;
	/* http mode */
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	struct evbuffer_cb_entry *input_cb;
	struct evhttp_request *req;	/* with the service */
	struct event *timer;
	enum hstate state;
	void (*user_closecb)(struct evhttp_connection *, void *);
	void *user_arg;
};

struct server {
	struct server *next;	/* registry */
	struct event_base *base;
	char name[32];
	struct server_limits lim;
	struct server_stats st;
	struct listener ls[SERVER_MAX_LISTENERS];
	int nls;
	server_accept_fn *accept_fn;
	void *accept_arg;
	/* accept errors */
	struct event *resume_ev;
	long pause_ms;
	struct ratelog errlog, refuselog, deadlinelog, unfinishedlog;
	unsigned long refused_logged;
	/* per-client counts */
	struct client *clients[CLIENT_BUCKETS];
	/* http mode */
	struct http_bind binds[MAX_HTTP];
	int nbinds;
	struct pending *pending;
	size_t npending, pending_cap;
	struct event *adopt_ev;
	struct server_conn **byfd;	/* http connections by fd */
	size_t nbyfd;
};

static struct server *registry;

/* True when a line is due now; *held gets the events not logged since. */
static bool ratelog_due(struct ratelog *r, unsigned long *held)
{
	time_t now = time(NULL);

	if (r->last && now - r->last < LOG_INTERVAL) {
		r->held++;
		return false;
	}
	*held = r->held;
	r->held = 0;
	r->last = now;
	return true;
}

/* The per-client key of an address; false for a peer we do not cap. */
static bool client_key(const struct sockaddr *sa, unsigned char key[17])
{
	memset(key, 0, 17);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		       16);
		return true;
	}
	return false;
}

/* FNV-1a over the key, folded to a bucket. */
static unsigned client_bucket(const unsigned char key[17])
{
	unsigned h = 2166136261u;
	int i;

	for (i = 0; i < 17; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % CLIENT_BUCKETS;
}

/* The entry for key, created with n = 0 if missing. */
static struct client *client_get(struct server *s, const unsigned char key[17])
{
	unsigned b = client_bucket(key);
	struct client *c;

	for (c = s->clients[b]; c; c = c->next)
		if (memcmp(c->key, key, 17) == 0)
			return c;
	c = xcalloc(1, sizeof(*c));
	memcpy(c->key, key, 17);
	c->next = s->clients[b];
	s->clients[b] = c;
	return c;
}

/* One connection fewer from c; the entry goes at zero. */
static void client_put(struct server *s, struct client *c)
{
	struct client **pp;

	if (--c->n > 0)
		return;
	for (pp = &s->clients[client_bucket(c->key)]; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			free(c);
			return;
		}
}

/* Text form of a peer address. */
static void peer_text(const struct sockaddr *sa, char *out, size_t n)
{
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)n);
	else
		snprintf(out, n, "unix");
}

/* Count and log (rate-limited) a refused connection. */
static void refused(struct server *s, const char *reason, const char *peer)
{
	unsigned long held;

	if (ratelog_due(&s->refuselog, &held))
		log_msg(LOG_L_WARN, "event=connection_refused service=%s "
			"reason=%s client=%s open=%u refused_unlogged=%lu",
			s->name, reason, peer, s->st.open, held);
}

/*
 * Admit a new connection from sa on fd, or refuse it: NULL with *reason
 * when a cap is reached (counted and logged), else a new server_conn.
 */
static struct server_conn *admit(struct server *s, int fd,
				 const struct sockaddr *sa, const char **reason)
{
	unsigned char key[17];
	struct client *cl = NULL;
	struct server_conn *c;
	char peer[64];

	peer_text(sa, peer, sizeof(peer));
	*reason = NULL;
	if (s->st.open >= (unsigned long)s->lim.max_connections) {
		s->st.refused_max++;
		*reason = "max_connections";
	} else if (s->lim.max_per_client > 0 && client_key(sa, key)) {
		cl = client_get(s, key);
		if (cl->n >= (unsigned long)s->lim.max_per_client) {
			s->st.refused_client++;
			*reason = "max_per_client";
		}
	}
	if (*reason) {
		refused(s, *reason, peer);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	c->fd = fd;
	c->client = cl;
	if (cl)
		cl->n++;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	s->st.open++;
	s->pause_ms = 0;
	return c;
}

/* Forget a connection (the fd is the caller's). */
static void conn_release(struct server_conn *c)
{
	struct server *s = c->srv;

	if (c->client)
		client_put(s, c->client);
	s->st.open--;
	free(c);
}

/* The listener entry of lev, searched in every live server. */
static struct listener *listener_of(struct evconnlistener *lev)
{
	struct server *s;
	int i;

	for (s = registry; s; s = s->next)
		for (i = 0; i < s->nls; i++)
			if (s->ls[i].lev == lev)
				return &s->ls[i];
	return NULL;
}

/* Turn accepting on or off on every serving listener of s. */
static void accepting(struct server *s, bool on)
{
	int i;

	for (i = 0; i < s->nls; i++)
		if (s->ls[i].serving) {
			if (on)
				evconnlistener_enable(s->ls[i].lev);
			else
				evconnlistener_disable(s->ls[i].lev);
		}
}

/* The pause after an accept error is over. */
static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	accepting(arg, true);
}

/*
 * accept() failed with something else than EAGAIN/EINTR/ECONNABORTED:
 * out of descriptors or memory, typically.  The listening socket stays
 * readable, so accepting again at once would spin: pause instead.
 */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();
	struct listener *l = listener_of(lev);
	struct server *s;
	struct timeval tv;
	unsigned long held;

	(void)arg;	/* our listener, or evhttp's object: not used */
	if (!l)
		return;
	s = l->srv;
	s->st.accept_errors++;
	s->pause_ms = s->pause_ms ? s->pause_ms * 2 : PAUSE_MIN_MS;
	if (s->pause_ms > PAUSE_MAX_MS)
		s->pause_ms = PAUSE_MAX_MS;
	accepting(s, false);
	tv.tv_sec = s->pause_ms / 1000;
	tv.tv_usec = (s->pause_ms % 1000) * 1000;
	evtimer_add(s->resume_ev, &tv);
	if (ratelog_due(&s->errlog, &held))
		log_msg(LOG_L_WARN, "event=accept_paused service=%s "
			"error=\"%s\" pause_ms=%ld open=%u errors=%lu "
			"errors_unlogged=%lu", s->name, strerror(e),
			s->pause_ms, s->st.open, s->st.accept_errors, held);
}

/* Raw mode: a new connection. */
static void on_accept(struct evconnlistener *lev, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct server *s = l->srv;
	struct server_conn *c;
	const char *reason;

	(void)lev;
	c = admit(s, fd, sa, &reason);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	if (s->accept_fn(s->accept_arg, c, fd, sa, (socklen_t)salen) != 0) {
		s->st.refused_other++;
		refused(s, "not_ready", c->peer);
		conn_release(c);
		evutil_closesocket(fd);
		return;
	}
	s->st.accepted++;
}

struct listen_ctx {
	struct server *s;
	const char *setting;
	unsigned flags;
	const struct server_sockopts *so;
	char *err;
	size_t errsz;
};

/* Open one listener of a list (listen_each callback). */
static int listen_one(void *arg, const char *spec)
{
	struct listen_ctx *x = arg;
	struct server *s = x->s;
	struct listen_addr a;
	struct listener *l;
	int fd, r;

	if (listen_parse(x->setting, spec, x->flags, &a, x->err, x->errsz))
		return -1;
	if (s->nls == SERVER_MAX_LISTENERS) {
		snprintf(x->err, x->errsz, "%s: more than %d listeners",
			 x->setting, SERVER_MAX_LISTENERS);
		return -1;
	}
	r = listen_open(x->setting, &a, BACKLOG, x->so ? x->so->mode : 0600,
			x->so ? x->so->uid : -1, x->so ? x->so->gid : -1, &fd,
			x->err, x->errsz);
	if (r != 0)
		return -1;
	l = &s->ls[s->nls];
	memset(l, 0, sizeof(*l));
	l->srv = s;
	/* No callback yet: inert until served.  Backlog 0: listen_open()
	 * has listened with BACKLOG (-1 would listen again with 128, and a
	 * burst of unix connections would meet EAGAIN). */
	l->lev = evconnlistener_new(s->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE,
				    0, fd);
	if (!l->lev) {
		snprintf(x->err, x->errsz, "%s: %s: cannot make a listener",
			 x->setting, spec);
		close(fd);
		if (a.kind == LISTEN_UNIX)
			unlink(a.path);
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, on_accept_error);
	if (a.kind == LISTEN_UNIX)
		l->unix_path = xstrdup(a.path);
	s->nls++;
	log_msg(LOG_L_INFO, "event=listening service=%s address=%s", s->name,
		spec);
	return 0;
}

/* Close listener l (unless evhttp owns it) and unlink its file. */
static void listener_close(struct listener *l)
{
	if (!l->by_http)
		evconnlistener_free(l->lev);
	if (l->unix_path) {
		unlink(l->unix_path);
		free(l->unix_path);
	}
}

int server_listen(struct server *s, const char *setting, const char *specs,
		  unsigned flags, const struct server_sockopts *so, char *err,
		  size_t errsz)
{
	struct listen_ctx x = { s, setting, flags, so, err, errsz };
	int first = s->nls;

	if (listen_each(specs, listen_one, &x) == 0)
		return 0;
	while (s->nls > first)
		listener_close(&s->ls[--s->nls]);
	return -1;
}

void server_serve_raw(struct server *s, server_accept_fn *fn, void *arg)
{
	int i;

	s->accept_fn = fn;
	s->accept_arg = arg;
	for (i = 0; i < s->nls; i++)
		if (!s->ls[i].serving) {
			s->ls[i].serving = true;
			evconnlistener_set_cb(s->ls[i].lev, on_accept, &s->ls[i]);
		}
}

/* ------------------------------------------------------------ http mode */

/* The http connection on fd, or NULL. */
static struct server_conn *byfd_get(struct server *s, int fd)
{
	return fd >= 0 && (size_t)fd < s->nbyfd ? s->byfd[fd] : NULL;
}

static void byfd_set(struct server *s, int fd, struct server_conn *c)
{
	if ((size_t)fd >= s->nbyfd) {
		size_t n = (size_t)fd + 64;

		s->byfd = xrealloc(s->byfd, n * sizeof(*s->byfd));
		memset(s->byfd + s->nbyfd, 0, (n - s->nbyfd) * sizeof(*s->byfd));
		s->nbyfd = n;
	}
	s->byfd[fd] = c;
}

/* Arm c's timer for its state: deadline, idle, or none while handled. */
static void http_arm(struct server_conn *c, enum hstate st)
{
	struct timeval tv = { 0, 0 };

	c->state = st;
	if (st == HS_HANDLING) {
		evtimer_del(c->timer);
		return;
	}
	tv.tv_sec = st == HS_REQUEST ? c->srv->lim.request_timeout :
		    c->srv->lim.idle_timeout;
	evtimer_add(c->timer, &tv);
}

/* Bytes came into the connection's input buffer. */
static void http_input(struct evbuffer *b, const struct evbuffer_cb_info *info,
		       void *arg)
{
	struct server_conn *c = arg;

	(void)b;
	if (info->n_added > 0 && c->state == HS_IDLE)
		http_arm(c, HS_REQUEST);
}

/* The deadline or the idle timeout passed: close the connection. */
static void http_timer(evutil_socket_t fd, short what, void *arg)
{
	struct server_conn *c = arg;
	struct server *s = c->srv;
	unsigned long held;

	(void)fd;
	(void)what;
	if (c->state == HS_REQUEST) {
		s->st.request_timeouts++;
		if (ratelog_due(&s->deadlinelog, &held))
			log_msg(LOG_L_WARN, "event=request_deadline service=%s "
				"client=%s seconds=%ld unlogged=%lu", s->name,
				c->peer, s->lim.request_timeout, held);
	} else {
		s->st.idle_timeouts++;
		log_msg(LOG_L_DEBUG, "event=idle_timeout service=%s client=%s",
			s->name, c->peer);
	}
	c->state = HS_IDLE;	/* counted: http_closed() must not again */
	/* Nobody but evhttp holds the connection in these states. */
	evhttp_connection_free(c->evcon);	/* runs http_closed() */
}

/* evhttp is freeing the connection. */
static void http_closed(struct evhttp_connection *evcon, void *arg)
{
	struct server_conn *c = arg;
	struct server *s = c->srv;

	/* Closed in the middle of a request the service never saw: evhttp
	 * refused it (over a size limit, malformed: it answered 400 or 413
	 * itself) or the client left.  No byte of it is logged: its headers
	 * may carry a token or a cookie. */
	if (c->state == HS_REQUEST) {
		unsigned long held;

		s->st.request_unfinished++;
		if (ratelog_due(&s->unfinishedlog, &held))
			log_msg(LOG_L_WARN, "event=request_unfinished "
				"service=%s client=%s detail=\"over a limit, "
				"malformed, or the client left\" unlogged=%lu",
				s->name, c->peer, held);
	}
	if (c->user_closecb)
		c->user_closecb(evcon, c->user_arg);
	if (c->req)	/* the service never answered: no completion call */
		evhttp_request_set_on_complete_cb(c->req, NULL, NULL);
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
	event_free(c->timer);
	if (byfd_get(s, c->fd) == c)
		s->byfd[c->fd] = NULL;
	conn_release(c);
}

/* The reply to c's request is written: idle, or the next request. */
static void http_done(struct evhttp_request *req, void *arg)
{
	struct server_conn *c = arg;

	(void)req;
	c->req = NULL;
	http_arm(c, evbuffer_get_length(bufferevent_get_input(c->bev)) ?
		 HS_REQUEST : HS_IDLE);
}

/* evhttp parsed a whole request: stop its deadline, pass it on. */
static void http_request(struct evhttp_request *req, void *arg)
{
	struct http_bind *b = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct server_conn *c = NULL;

	if (evcon)
		c = byfd_get(b->srv, bufferevent_getfd(
			evhttp_connection_get_bufferevent(evcon)));
	if (c && c->evcon == evcon) {
		http_arm(c, HS_HANDLING);
		c->req = req;
		evhttp_request_set_on_complete_cb(req, http_done, c);
	}
	b->cb(req, b->arg);
}

/* Admit the connection evhttp built around bev (fd known by now). */
static void http_adopt_one(struct server *s, struct bufferevent *bev,
			   struct evhttp_connection *evcon)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = bufferevent_getfd(bev);
	struct server_conn *c;
	const char *reason;

	memset(&ss, 0, sizeof(ss));
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		ss.ss_family = AF_UNIX;	/* a vanished peer: closes soon */
	c = admit(s, fd, (struct sockaddr *)&ss, &reason);
	if (!c) {
		evhttp_connection_free(evcon);
		return;
	}
	s->st.accepted++;
	c->evcon = evcon;
	c->bev = bev;
	c->timer = evtimer_new(s->base, http_timer, c);
	c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), http_input,
				      c);
	byfd_set(s, fd, c);
	evhttp_connection_set_closecb(evcon, http_closed, c);
	http_arm(c, evbuffer_get_length(bufferevent_get_input(bev)) ?
		 HS_REQUEST : HS_IDLE);
}

/* Right after the accepts: admit or close every new connection. */
static void http_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < s->npending; i++) {
		struct bufferevent *bev = s->pending[i].bev;
		bufferevent_data_cb rcb = NULL;
		void *cbarg = NULL;

		/* evhttp sets its callbacks with the connection as argument;
		 * freed meanwhile, the bufferevent has none. */
		bufferevent_getcb(bev, &rcb, NULL, NULL, &cbarg);
		if (rcb && cbarg &&
		    evhttp_connection_get_bufferevent(cbarg) == bev)
			http_adopt_one(s, bev, cbarg);
		bufferevent_decref(bev);
	}
	s->npending = 0;
}

/* evhttp accepted a connection and wants its bufferevent. */
static struct bufferevent *http_newbev(struct event_base *base, void *arg)
{
	struct http_bind *b = arg;
	struct server *s = b->srv;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);

	if (!bev)
		return NULL;
	if (s->npending == s->pending_cap) {
		s->pending_cap = s->pending_cap ? s->pending_cap * 2 : 16;
		s->pending = xrealloc(s->pending,
				      s->pending_cap * sizeof(*s->pending));
	}
	/* Our reference keeps bev valid should evhttp drop it first. */
	bufferevent_incref(bev);
	s->pending[s->npending].bev = bev;
	s->pending[s->npending].bind = b;
	s->npending++;
	event_active(s->adopt_ev, EV_TIMEOUT, 0);
	return bev;
}

int server_serve_http(struct server *s, struct evhttp *http,
		      void (*cb)(struct evhttp_request *, void *), void *arg,
		      char *err, size_t errsz)
{
	struct http_bind *b;
	long backstop = s->lim.request_timeout > s->lim.idle_timeout ?
			s->lim.request_timeout : s->lim.idle_timeout;
	int i;

	if (s->nbinds == MAX_HTTP) {
		snprintf(err, errsz, "%s: too many HTTP servers", s->name);
		return -1;
	}
	b = &s->binds[s->nbinds++];
	b->srv = s;
	b->http = http;
	b->cb = cb;
	b->arg = arg;
	evhttp_set_gencb(http, http_request, b);
	evhttp_set_bevcb(http, http_newbev, b);
	/* evhttp's own timer is re-armed by every read: only a backstop
	 * behind ours, for a client that does not read its reply. */
	evhttp_set_timeout(http, (int)backstop + 1);
	for (i = 0; i < s->nls; i++) {
		struct listener *l = &s->ls[i];

		if (l->serving)
			continue;
		if (!evhttp_bind_listener(http, l->lev)) {
			snprintf(err, errsz, "%s: evhttp cannot take a listener",
				 s->name);
			return -1;
		}
		l->serving = true;
		l->by_http = true;
		/* evhttp_bind_listener() made evhttp the callback's arg;
		 * our error callback finds the server by listener. */
		evconnlistener_set_error_cb(l->lev, on_accept_error);
	}
	return 0;
}

void server_http_set_closecb(struct evhttp_connection *evcon,
			     void (*cb)(struct evhttp_connection *, void *),
			     void *arg)
{
	struct evhttp *http = evhttp_connection_get_server(evcon);
	int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	struct server *s;
	int i;

	for (s = registry; s; s = s->next)
		for (i = 0; i < s->nbinds; i++) {
			struct server_conn *c;

			if (s->binds[i].http != http)
				continue;
			c = byfd_get(s, fd);
			if (c && c->evcon == evcon) {
				c->user_closecb = cb;
				c->user_arg = arg;
				return;
			}
		}
	evhttp_connection_set_closecb(evcon, cb, arg);
}

/* ------------------------------------------------------------ raw mode */

const char *server_conn_peer(const struct server_conn *c)
{
	return c->peer;
}

void server_conn_timeout(struct server_conn *c, bool busy, struct timeval *tv)
{
	const struct server_limits *lim = &c->srv->lim;
	struct timeval now, end;

	if (!busy) {
		c->in_request = false;
		tv->tv_sec = lim->idle_timeout;
		tv->tv_usec = 0;
		return;
	}
	event_base_gettimeofday_cached(c->srv->base, &now);
	if (!c->in_request) {
		c->in_request = true;
		c->start = now;
	}
	end = c->start;
	end.tv_sec += lim->request_timeout;
	if (evutil_timercmp(&end, &now, <))
		evutil_timerclear(tv);
	else
		evutil_timersub(&end, &now, tv);
}

void server_conn_expired(struct server_conn *c, bool busy)
{
	if (busy)
		c->srv->st.request_timeouts++;
	else
		c->srv->st.idle_timeouts++;
}

void server_conn_close(struct server_conn *c)
{
	if (c)
		conn_release(c);
}

/* ------------------------------------------------------------ the rest */

struct server *server_new(struct event_base *base, const char *service,
			  const struct server_limits *lim)
{
	struct server *s = xcalloc(1, sizeof(*s));

	s->base = base;
	snprintf(s->name, sizeof(s->name), "%s", service);
	s->lim = *lim;
	s->resume_ev = evtimer_new(base, on_resume, s);
	s->adopt_ev = event_new(base, -1, 0, http_adopt, s);
	s->next = registry;
	registry = s;
	return s;
}

void server_set_limits(struct server *s, const struct server_limits *lim)
{
	s->lim.request_timeout = lim->request_timeout;
	s->lim.idle_timeout = lim->idle_timeout;
}

void server_free(struct server *s)
{
	struct server **pp;
	size_t i;
	int k;

	if (!s)
		return;
	for (pp = &registry; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	for (k = 0; k < s->nls; k++)
		listener_close(&s->ls[k]);
	for (i = 0; i < s->npending; i++)
		bufferevent_decref(s->pending[i].bev);
	for (i = 0; i < CLIENT_BUCKETS; i++)
		while (s->clients[i]) {
			struct client *c = s->clients[i];

			s->clients[i] = c->next;
			free(c);
		}
	event_free(s->resume_ev);
	event_free(s->adopt_ev);
	free(s->pending);
	free(s->byfd);
	free(s);
}

int server_port(const struct server *s, int i)
{
	if (i < 0 || i >= s->nls)
		return -1;
	return sock_local_port(evconnlistener_get_fd(s->ls[i].lev));
}

void server_get_stats(const struct server *s, struct server_stats *st)
{
	*st = s->st;
}

void server_metrics(struct buf *b)
{
	const struct server *s;

	buf_puts(b, "# HELP mamori_listener_connections Connections open "
		 "now, by service.\n# TYPE mamori_listener_connections gauge\n");
	for (s = registry; s; s = s->next)
		buf_printf(b, "mamori_listener_connections{service=\"%s\"} %u\n",
			   s->name, s->st.open);
	buf_puts(b, "# HELP mamori_listener_accepted_total Connections "
		 "admitted.\n# TYPE mamori_listener_accepted_total counter\n");
	for (s = registry; s; s = s->next)
		buf_printf(b, "mamori_listener_accepted_total{service=\"%s\"} "
			   "%lu\n", s->name, s->st.accepted);
	buf_puts(b, "# HELP mamori_listener_refused_total Connections closed "
		 "at once, by reason.\n"
		 "# TYPE mamori_listener_refused_total counter\n");
	for (s = registry; s; s = s->next)
		buf_printf(b, "mamori_listener_refused_total{service=\"%s\","
			   "reason=\"max_connections\"} %lu\n"
			   "mamori_listener_refused_total{service=\"%s\","
			   "reason=\"max_per_client\"} %lu\n"
			   "mamori_listener_refused_total{service=\"%s\","
			   "reason=\"not_ready\"} %lu\n",
			   s->name, s->st.refused_max, s->name,
			   s->st.refused_client, s->name, s->st.refused_other);
	buf_puts(b, "# HELP mamori_listener_accept_errors_total accept() "
		 "failures (each pauses accepting).\n"
		 "# TYPE mamori_listener_accept_errors_total counter\n");
	for (s = registry; s; s = s->next)
		buf_printf(b, "mamori_listener_accept_errors_total{service=\"%s\"}"
			   " %lu\n", s->name, s->st.accept_errors);
	buf_puts(b, "# HELP mamori_listener_unfinished_total HTTP requests "
		 "closed before the service had them (refused by evhttp: over a "
		 "limit or malformed; or the client left).\n"
		 "# TYPE mamori_listener_unfinished_total counter\n");
	for (s = registry; s; s = s->next)
		buf_printf(b, "mamori_listener_unfinished_total{service=\"%s\"}"
			   " %lu\n", s->name, s->st.request_unfinished);
	buf_puts(b, "# HELP mamori_listener_timeouts_total Connections closed "
		 "by a timeout.\n# TYPE mamori_listener_timeouts_total counter\n");
	for (s = registry; s; s = s->next)
		buf_printf(b, "mamori_listener_timeouts_total{service=\"%s\","
			   "kind=\"request\"} %lu\n"
			   "mamori_listener_timeouts_total{service=\"%s\","
			   "kind=\"idle\"} %lu\n", s->name,
			   s->st.request_timeouts, s->name, s->st.idle_timeouts);
}

int server_nofile_reserve(unsigned long need, const char *why, char *err,
			  size_t errsz)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		snprintf(err, errsz, "getrlimit(RLIMIT_NOFILE): %s",
			 strerror(errno));
		return -1;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit want = rl;

		want.rlim_cur = need;
		if (want.rlim_max != RLIM_INFINITY && want.rlim_max < need)
			want.rlim_max = need;	/* works when privileged */
		if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
			snprintf(err, errsz, "open files limit (RLIMIT_NOFILE) "
				 "is %llu, hard %llu, and cannot be raised to "
				 "%lu, which %s need; lower those settings or "
				 "raise the limit (systemd: LimitNOFILE=)",
				 (unsigned long long)rl.rlim_cur,
				 (unsigned long long)rl.rlim_max, need, why);
			return -1;
		}
		log_msg(LOG_L_INFO, "event=nofile_raised from=%llu to=%lu",
			(unsigned long long)rl.rlim_cur, need);
	}
	return 0;
}
