/*
 * test-policy-server - the policy front-end over real sockets: framing,
 * pipelining, split writes, bad input closing only the offending connection,
 * timeouts, connection limits and many concurrent clients.  The server runs
 * its event loop on a thread of its own; the test is a blocking client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/core.h"
#include "front/policy_server.h"
#include "store/store.h"
#include "tap.h"
#include "util/config.h"
#include "util/log.h"

static const char *const REQ =
	"request=smtpd_access_policy\nprotocol_state=RCPT\n"
	"protocol_name=ESMTP\nclient_address=192.0.2.1\n"
	"client_name=host.example\nhelo_name=host.example\n"
	"sender=a@example.org\nrecipient=b@example.net\n"
	"queue_id=\ninstance=1.2.3\nsasl_username=\nsize=0\n\n";

static int port;

static void *loop_thread(void *arg)
{
	event_base_dispatch(arg);
	return NULL;
}

static int connect_server(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read until "\n\n" or EOF, at most 5 s.  Returns bytes, 0 on EOF. */
static ssize_t read_reply(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got + 1 < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0)
			return -1;
		r = read(fd, buf + got, n - 1 - got);
		if (r <= 0)
			return r == 0 ? (ssize_t)got : -1;
		got += (size_t)r;
		buf[got] = '\0';
		if (got >= 2 && strstr(buf, "\n\n"))
			break;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Is the peer closed (EOF within 5 s, nothing received)? */
static bool closed_without_reply(int fd)
{
	char buf[256];

	return read_reply(fd, buf, sizeof(buf)) == 0;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void test_framing(void)
{
	char buf[512], two[2048];
	int fd = connect_server();
	size_t i;

	ok(fd >= 0, "connect");
	write_all(fd, REQ, strlen(REQ));
	read_reply(fd, buf, sizeof(buf));
	is_str(buf, "action=DUNNO\n\n", "one request, one reply");

	snprintf(two, sizeof(two), "%s%s", REQ, REQ);
	write_all(fd, two, strlen(two));
	read_reply(fd, buf, sizeof(buf));
	if (strcmp(buf, "action=DUNNO\n\n") == 0)
		read_reply(fd, buf + 14, sizeof(buf) - 14);
	is_str(buf, "action=DUNNO\n\naction=DUNNO\n\n",
	       "two pipelined requests, two replies in order");

	for (i = 0; i < strlen(REQ); i++) {
		write_all(fd, REQ + i, 1);
		if (i % 16 == 0)
			usleep(1000);
	}
	read_reply(fd, buf, sizeof(buf));
	is_str(buf, "action=DUNNO\n\n", "byte-at-a-time request");
	close(fd);
}

static void test_bad_input(void)
{
	static const struct { const char *label; size_t len; char fill; } rows[] = {
		{"over-long line", 5000, 'a'},
		{"NUL byte in a line", 0, '\0'},
		{"line without '='", 1, 'x'},
	};
	size_t i;
	int good = connect_server();
	char buf[256];

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int fd = connect_server();
		char junk[6000];

		if (rows[i].len == 5000) {
			memset(junk, rows[i].fill, 5000);
			memcpy(junk, "name=", 5);
			junk[5000] = '\n';
			write_all(fd, junk, 5001);
		} else if (rows[i].fill == '\0') {
			write_all(fd, "request=smtpd\0access_policy\n", 29);
		} else {
			write_all(fd, "garbage line\n", 13);
		}
		ok(closed_without_reply(fd), "bad input (%s): closed, no reply",
		   rows[i].label);
		close(fd);
	}
	write_all(good, REQ, strlen(REQ));
	read_reply(good, buf, sizeof(buf));
	is_str(buf, "action=DUNNO\n\n", "other client unaffected by bad input");
	close(good);
}

static void test_timeout(void)
{
	int fd = connect_server();

	write_all(fd, "request=smtpd_access_policy\n", 28);
	ok(closed_without_reply(fd),
	   "unfinished request closed after policy_request_timeout");
	close(fd);
}

struct client_arg {
	int requests;
	int answered;
};

static void *client_thread(void *p)
{
	struct client_arg *a = p;
	int fd = connect_server(), i;
	char buf[256];

	for (i = 0; i < a->requests && fd >= 0; i++) {
		write_all(fd, REQ, strlen(REQ));
		if (read_reply(fd, buf, sizeof(buf)) > 0 &&
		    strcmp(buf, "action=DUNNO\n\n") == 0)
			a->answered++;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void test_concurrency(void)
{
	enum { N = 40, R = 50 };
	pthread_t t[N];
	struct client_arg a[N];
	int i, total = 0;

	for (i = 0; i < N; i++) {
		a[i].requests = R;
		a[i].answered = 0;
		pthread_create(&t[i], NULL, client_thread, &a[i]);
	}
	for (i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		total += a[i].answered;
	}
	is_int(total, N * R, "40 concurrent persistent clients, all answered");
}

static void test_max_connections(void)
{
	int fds[8], i, extra;
	char buf[256];

	for (i = 0; i < 8; i++)
		fds[i] = connect_server();
	/* The config allows 50; these fit. */
	write_all(fds[7], REQ, strlen(REQ));
	read_reply(fds[7], buf, sizeof(buf));
	is_str(buf, "action=DUNNO\n\n", "connections within max_connections served");
	for (i = 0; i < 8; i++)
		close(fds[i]);
	{
		int many[60], n = 0;

		for (i = 0; i < 60; i++)
			if ((many[i] = connect_server()) >= 0)
				n++;
		usleep(200000);
		extra = many[59];
		ok(closed_without_reply(extra),
		   "connection over max_connections closed");
		for (i = 0; i < 60; i++)
			if (many[i] >= 0)
				close(many[i]);
		(void)n;
	}
}

int main(void)
{
	char path[] = "/tmp/mamori-test-ps-XXXXXX", err[512];
	struct event_base *base;
	struct config *cfg;
	struct store *st;
	struct core *core;
	struct policy_server *ps;
	pthread_t loop;
	FILE *f;

	log_setup("test", false, LOG_L_FATAL);
	evthread_use_pthreads();
	f = fdopen(mkstemp(path), "w");
	fprintf(f, "policy_listen = inet:127.0.0.1:0\napi_listen =\n"
		"policy_request_timeout = 1\nmax_connections = 50\n"
		"notify_smtp_url =\n");
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (!cfg || store_open("memory:", NULL, &st, err, sizeof(err)) != 0 ||
	    !(core = core_new(cfg, st, NULL, err, sizeof(err)))) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	base = event_base_new();
	ps = policy_server_new(base, cfg, err, sizeof(err));
	if (!ps) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	policy_server_attach(ps, core);
	port = policy_server_port(ps, 0);
	ok(port > 0, "listening on an ephemeral port (%d)", port);
	pthread_create(&loop, NULL, loop_thread, base);

	test_framing();
	test_bad_input();
	test_timeout();
	test_concurrency();
	test_max_connections();

	event_base_loopbreak(base);
	pthread_join(loop, NULL);
	policy_server_free(ps);
	event_base_free(base);
	core_free(core);
	store_close(st);
	config_free(cfg);
	return tap_done();
}
