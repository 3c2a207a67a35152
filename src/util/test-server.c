/*
 * test-server - the listener skeleton on loopback TCP with a real event
 * loop: caps (global, per client address, a service not ready), the
 * whole-request deadline and the idle timeout for evhttp services, a
 * service still answering is not cut off, close callbacks are chained, the
 * accept-error pause under a lowered RLIMIT_NOFILE, and the counters in
 * server_metrics().  Assertions are on outcomes (closed or not, counters),
 * never on how long something took.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "tap.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/server.h"

static struct event_base *base;

/* Run the loop until cond(arg) holds; false if it never did (20 s cap, a
 * safety net against a hang, not a measurement). */
static bool run_until(bool (*cond)(void *), void *arg)
{
	struct timeval start, now;

	gettimeofday(&start, NULL);
	while (!cond(arg)) {
		gettimeofday(&now, NULL);
		if (now.tv_sec - start.tv_sec > 20)
			return false;
		event_base_loop(base, EVLOOP_ONCE);
	}
	return true;
}

/* A 10 ms tick keeps EVLOOP_ONCE returning so conditions are checked. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Connect to 127.0.0.1:port from source address src (127.0.0.x). */
static int connect_from(const char *src, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, me = sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, src, &me.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	sa.sin_port = htons((unsigned short)port);
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("connect_from");
		close(fd);
		return -1;
	}
	return fd;
}

/* The peer closed fd (EOF or reset), as seen now without waiting. */
static bool peer_closed(int fd)
{
	char b[4096];
	ssize_t n;

	while ((n = recv(fd, b, sizeof(b), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static struct server_stats stats_of(struct server *s)
{
	struct server_stats st;

	server_get_stats(s, &st);
	return st;
}

/* ------------------------------------------------------------ raw mode */

struct rawfe {
	struct server *srv;
	bool refuse;
	int n;
	struct server_conn *conn[16];
	int fd[16];
};

/* The test's raw front-end: keep every connection. */
static int raw_accept(void *arg, struct server_conn *c, int fd,
		      const struct sockaddr *sa, socklen_t salen)
{
	struct rawfe *fe = arg;

	(void)sa;
	(void)salen;
	if (fe->refuse || fe->n == 16)
		return -1;
	fe->conn[fe->n] = c;
	fe->fd[fe->n++] = fd;
	return 0;
}

struct want {
	struct server *srv;
	unsigned long decided;	/* accepted + refused, all reasons */
};

static bool decided(void *arg)
{
	struct want *w = arg;
	struct server_stats st = stats_of(w->srv);

	return st.accepted + st.refused_max + st.refused_client +
	       st.refused_other >= w->decided;
}

/* Connect from src and run the loop until the skeleton decided. */
static int dial(struct server *s, const char *src, unsigned long *n)
{
	struct want w = { s, ++*n };
	int fd = connect_from(src, server_port(s, 0));

	if (!run_until(decided, &w))
		printf("# no decision for a connection from %s\n", src);
	return fd;
}

static void test_raw_caps(void)
{
	struct server_limits lim = { 3, 2, 30, 30 };
	struct rawfe fe = { 0 };
	struct server_stats st;
	struct timeval tv1, tv2, tv3;
	struct buf b;
	unsigned long n = 0;
	char err[256];
	int c1, c2, c3, c4, c5, c6, c7, i;

	fe.srv = server_new(base, "test-raw", &lim);
	ok(server_listen(fe.srv, "raw_listen", "inet:127.0.0.1:0", 0, NULL,
			 err, sizeof(err)) == 0, "raw: listening");
	server_serve_raw(fe.srv, raw_accept, &fe);

	c1 = dial(fe.srv, "127.0.0.1", &n);
	c2 = dial(fe.srv, "127.0.0.1", &n);
	c3 = dial(fe.srv, "127.0.0.1", &n);
	ok(peer_closed(c3) && !peer_closed(c1) && !peer_closed(c2),
	   "raw: a third connection from one address is closed at once");
	c4 = dial(fe.srv, "127.0.0.2", &n);
	ok(!peer_closed(c4), "raw: another address is admitted");
	c5 = dial(fe.srv, "127.0.0.3", &n);
	ok(peer_closed(c5), "raw: over max_connections closed at once");
	st = stats_of(fe.srv);
	is_int(st.open, 3, "raw: 3 open");
	is_int(st.refused_client, 1, "raw: refused_client counted");
	is_int(st.refused_max, 1, "raw: refused_max counted");

	/* The front-end closes its first connection: room again. */
	server_conn_close(fe.conn[0]);
	close(fe.fd[0]);
	c6 = dial(fe.srv, "127.0.0.1", &n);
	ok(!peer_closed(c6), "raw: a slot freed by a close is reused");
	close(fe.fd[fe.n - 1]);
	server_conn_close(fe.conn[fe.n - 1]);
	fe.n--;
	fe.refuse = true;
	c7 = dial(fe.srv, "127.0.0.4", &n);
	ok(peer_closed(c7), "raw: the service not ready: closed");
	is_int(stats_of(fe.srv).refused_other, 1, "raw: refused_other counted");

	/* Deadline arithmetic: idle between requests, and a request's
	 * deadline runs from its first byte, not from the last read. */
	server_conn_timeout(fe.conn[1], false, &tv1);
	is_int(tv1.tv_sec, 30, "raw: idle timeout between requests");
	lim.request_timeout = 1;
	server_set_limits(fe.srv, &lim);
	server_conn_timeout(fe.conn[1], true, &tv2);
	ok(tv2.tv_sec <= 1 && (tv2.tv_sec > 0 || tv2.tv_usec > 0),
	   "raw: a request begins: its deadline is armed");
	usleep(1100 * 1000);
	server_conn_timeout(fe.conn[1], true, &tv3);
	ok(tv3.tv_sec == 0 && tv3.tv_usec == 0,
	   "raw: more bytes later do not extend the deadline");
	server_conn_timeout(fe.conn[1], false, &tv3);
	server_conn_timeout(fe.conn[1], true, &tv3);
	ok(tv3.tv_sec == 1 || tv3.tv_usec > 0,
	   "raw: the next request gets a fresh deadline");
	server_conn_expired(fe.conn[1], true);
	is_int(stats_of(fe.srv).request_timeouts, 1,
	       "raw: an expired request is counted");

	buf_init(&b, 65536);
	server_metrics(&b);
	ok(b.p && strstr(b.p, "mamori_listener_refused_total{service="
			 "\"test-raw\",reason=\"max_per_client\"} 1\n") &&
	   strstr(b.p, "mamori_listener_connections{service=\"test-raw\"} 2"),
	   "raw: counters in server_metrics()");
	buf_deinit(&b);

	for (i = 1; i < fe.n; i++) {
		server_conn_close(fe.conn[i]);
		close(fe.fd[i]);
	}
	close(c1), close(c2), close(c3), close(c4), close(c5), close(c6),
	close(c7);
	server_free(fe.srv);
}

/* ------------------------------------------------------------ http mode */

struct httpfe {
	struct server *srv;
	struct evhttp *http;
	int requests;
	int closed;		/* our chained close callback ran */
	long delay_ms;		/* answer this late */
};

/* Chained close callback. */
static void fe_closed(struct evhttp_connection *evcon, void *arg)
{
	struct httpfe *fe = arg;

	(void)evcon;
	fe->closed++;
}

/* The delayed answer. */
static void fe_answer(evutil_socket_t fd, short what, void *arg)
{
	struct evhttp_request *req = arg;

	(void)fd;
	(void)what;
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void fe_request(struct evhttp_request *req, void *arg)
{
	struct httpfe *fe = arg;
	struct timeval tv;

	fe->requests++;
	server_http_set_closecb(evhttp_request_get_connection(req), fe_closed,
				fe);
	if (!fe->delay_ms) {
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	tv.tv_sec = fe->delay_ms / 1000;
	tv.tv_usec = (fe->delay_ms % 1000) * 1000;
	event_base_once(base, -1, EV_TIMEOUT, fe_answer, req, &tv);
}

struct drip {
	int fd;
	size_t sent;
	struct event *ev;
};

static const char DRIP[] = "POST /x HTTP/1.1\r\nHost: a\r\n"
			   "Content-Length: 40\r\n\r\n"
			   "0123456789012345678901234567890123456789";

/* Write one more byte of the request. */
static void on_drip(evutil_socket_t fd, short what, void *arg)
{
	struct drip *d = arg;

	(void)fd;
	(void)what;
	if (d->sent < sizeof(DRIP) - 1 &&
	    send(d->fd, DRIP + d->sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
		d->sent++;
}

struct closed_want {
	int fd;
	struct server *srv;
	unsigned long request_timeouts, idle_timeouts;
};

static bool closed_and_counted(void *arg)
{
	struct closed_want *w = arg;
	struct server_stats st = stats_of(w->srv);

	return peer_closed(w->fd) && st.request_timeouts >= w->request_timeouts
	       && st.idle_timeouts >= w->idle_timeouts;
}

static bool open_is(void *arg)
{
	struct want *w = arg;

	return stats_of(w->srv).open == w->decided;
}

/* Read until the status line of a reply came; true if it did. */
struct reply_want {
	int fd;
	char got[512];
	size_t n;
};

static bool got_reply(void *arg)
{
	struct reply_want *w = arg;
	ssize_t r = recv(w->fd, w->got + w->n, sizeof(w->got) - 1 - w->n,
			 MSG_DONTWAIT);

	if (r > 0)
		w->n += (size_t)r;
	w->got[w->n] = '\0';
	return strstr(w->got, "\r\n\r\n") != NULL || r == 0;
}

static void test_http(void)
{
	struct server_limits lim = { 2, 1, 1, 1 };
	struct httpfe fe = { 0 };
	struct closed_want cw;
	struct reply_want rw;
	struct drip d = { 0 };
	struct timeval every = { 0, 150 * 1000 };
	struct want w;
	char err[256];
	const char *get = "GET /y HTTP/1.1\r\nHost: a\r\n\r\n";
	int port, a, b, c;
	bool cut;

	fe.srv = server_new(base, "test-http", &lim);
	fe.http = evhttp_new(base);
	evhttp_set_max_headers_size(fe.http, 256);
	ok(server_listen(fe.srv, "http_listen", "inet:127.0.0.1:0", 0, NULL,
			 err, sizeof(err)) == 0 &&
	   server_serve_http(fe.srv, fe.http, fe_request, &fe, err,
			     sizeof(err)) == 0, "http: serving");
	port = server_port(fe.srv, 0);

	/* A client dripping one byte every 150 ms is cut off at the 1 s
	 * deadline; evhttp's own timer, re-armed by each byte, never would. */
	d.fd = connect_from("127.0.0.1", port);
	w.srv = fe.srv;
	w.decided = 1;
	ok(run_until(open_is, &w), "http: a connection is admitted (the "
	   "skeleton found evhttp's connection)");
	d.ev = event_new(base, -1, EV_PERSIST, on_drip, &d);
	event_add(d.ev, &every);
	cw = (struct closed_want){ d.fd, fe.srv, 1, 0 };
	cut = run_until(closed_and_counted, &cw);
	ok(cut && d.sent > 0 && d.sent < sizeof(DRIP) - 1,
	   "http: a dripping client is closed at the request deadline "
	   "(%zu of %zu bytes sent)", d.sent, sizeof(DRIP) - 1);
	is_int(fe.requests, 0, "http: the unfinished request never reached "
	       "the service");
	is_int(stats_of(fe.srv).request_unfinished, 0,
	       "http: a request cut at the deadline is not also unfinished");
	event_free(d.ev);
	close(d.fd);

	/* A whole request is answered; then idle closes the connection and
	 * our chained close callback runs. */
	a = connect_from("127.0.0.1", port);
	send(a, get, strlen(get), MSG_NOSIGNAL);
	rw = (struct reply_want){ .fd = a };
	ok(run_until(got_reply, &rw) && strstr(rw.got, "HTTP/1.1 200"),
	   "http: a request is answered");
	cw = (struct closed_want){ a, fe.srv, 1, 1 };
	ok(run_until(closed_and_counted, &cw), "http: closed when idle");
	is_int(fe.closed, 1, "http: the service's close callback ran");
	close(a);

	/* A service answering later than the deadline is not cut off. */
	fe.delay_ms = 1500;
	a = connect_from("127.0.0.1", port);
	send(a, get, strlen(get), MSG_NOSIGNAL);
	rw = (struct reply_want){ .fd = a };
	ok(run_until(got_reply, &rw) && strstr(rw.got, "HTTP/1.1 200"),
	   "http: a slow answer still goes out");
	is_int(stats_of(fe.srv).request_timeouts, 1,
	       "http: no deadline while the service answers");
	close(a);
	fe.delay_ms = 0;
	w.decided = 0;
	run_until(open_is, &w);

	/* Headers over evhttp's limit: evhttp answers and closes by itself;
	 * the skeleton counts the request it never handed on. */
	{
		char big[600];
		int n = fe.requests;

		memset(big, 'a', sizeof(big));
		a = connect_from("127.0.0.1", port);
		send(a, "GET /y HTTP/1.1\r\nX: ", 20, MSG_NOSIGNAL);
		send(a, big, sizeof(big), MSG_NOSIGNAL);
		send(a, "\r\n\r\n", 4, MSG_NOSIGNAL);
		cw = (struct closed_want){ a, fe.srv, 1, 1 };
		ok(run_until(closed_and_counted, &cw) &&
		   stats_of(fe.srv).request_unfinished == 1 &&
		   fe.requests == n,
		   "http: headers over the limit: closed, counted as "
		   "unfinished, never handed to the service");
		close(a);
		run_until(open_is, &w);
	}

	/* Caps: one per client address, two in all (and no idle timeout
	 * in between). */
	lim.idle_timeout = 30;
	server_set_limits(fe.srv, &lim);
	a = connect_from("127.0.0.5", port);
	w.decided = 1;
	run_until(open_is, &w);
	b = connect_from("127.0.0.5", port);
	cw = (struct closed_want){ b, fe.srv, 0, 0 };
	ok(run_until(closed_and_counted, &cw) &&
	   stats_of(fe.srv).refused_client == 1,
	   "http: a second connection from one address is closed");
	close(b);
	b = connect_from("127.0.0.6", port);
	w.decided = 2;
	ok(run_until(open_is, &w), "http: another address is admitted");
	c = connect_from("127.0.0.7", port);
	cw = (struct closed_want){ c, fe.srv, 0, 0 };
	ok(run_until(closed_and_counted, &cw) &&
	   stats_of(fe.srv).refused_max == 1,
	   "http: over max_connections is closed");
	ok(!peer_closed(a) && !peer_closed(b),
	   "http: the admitted connections stay");
	close(a), close(b), close(c);

	evhttp_free(fe.http);
	is_int(stats_of(fe.srv).open, 0, "http: evhttp_free() closes all");
	server_free(fe.srv);
}

/* ------------------------------------------------------ accept errors */

static bool had_error(void *arg)
{
	return stats_of(arg).accept_errors > 0;
}

static bool accepted3(void *arg)
{
	return stats_of(arg).accepted >= 3;
}

static void test_accept_errors(void)
{
	struct server_limits lim = { 100, 0, 30, 30 };
	struct rawfe fe = { 0 };
	struct rlimit old, low;
	char err[256];
	int c[3], i, next;
	unsigned long errors;

	fe.srv = server_new(base, "test-emfile", &lim);
	server_listen(fe.srv, "emfile_listen", "inet:127.0.0.1:0", 0, NULL,
		      err, sizeof(err));
	for (i = 0; i < 3; i++)
		c[i] = connect_from("127.0.0.1", server_port(fe.srv, 0));
	/* No descriptor left for accept(): EMFILE. */
	getrlimit(RLIMIT_NOFILE, &old);
	next = socket(AF_INET, SOCK_STREAM, 0);
	close(next);
	low = old;
	low.rlim_cur = (rlim_t)next;
	setrlimit(RLIMIT_NOFILE, &low);
	server_serve_raw(fe.srv, raw_accept, &fe);
	ok(run_until(had_error, fe.srv), "emfile: accept fails");
	for (i = 0; i < 50; i++)
		event_base_loop(base, EVLOOP_ONCE);
	errors = stats_of(fe.srv).accept_errors;
	ok(errors <= 10, "emfile: 50 loop turns, %lu accept attempts (paused, "
	   "not spinning)", errors);
	setrlimit(RLIMIT_NOFILE, &old);
	ok(run_until(accepted3, fe.srv),
	   "emfile: with descriptors back, the waiting clients are served");
	for (i = 0; i < fe.n; i++) {
		server_conn_close(fe.conn[i]);
		close(fe.fd[i]);
	}
	for (i = 0; i < 3; i++)
		close(c[i]);
	server_free(fe.srv);
}

static void test_nofile(void)
{
	struct rlimit rl;
	char err[512] = "";

	getrlimit(RLIMIT_NOFILE, &rl);
	is_int(server_nofile_reserve(64, "x", err, sizeof(err)), 0,
	       "nofile: a need below the limit is fine");
	if (rl.rlim_max != RLIM_INFINITY && geteuid() != 0) {
		ok(server_nofile_reserve((unsigned long)rl.rlim_max + 1,
					 "x_max_connections", err,
					 sizeof(err)) == -1 &&
		   strstr(err, "x_max_connections"),
		   "nofile: over the hard limit is refused, naming the "
		   "settings (%s)", err);
	} else {
		ok(1, "nofile: (privileged: the hard limit can be raised)");
	}
}

int main(void)
{
	struct event *tick;
	struct timeval ten_ms = { 0, 10 * 1000 };

	log_setup("test-server", false, LOG_L_FATAL);
	base = event_base_new();
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(tick, &ten_ms);

	test_raw_caps();
	test_http();
	test_accept_errors();
	test_nofile();

	event_free(tick);
	event_base_free(base);
	return tap_done();
}
