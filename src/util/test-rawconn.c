/*
 * test-rawconn - the raw-mode connection plumbing with a real event loop
 * and the listener skeleton on loopback TCP, driving a toy line protocol:
 * "ECHO x" answers "x", "WAIT" leaves an answer outstanding (the
 * connection pauses and keeps what follows) until the test resumes it.
 * Assertions are on outcomes (bytes answered, callbacks run, the list),
 * never on how long something took.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "tap.h"
#include "util/rawconn.h"
#include "util/server.h"
#include "util/xalloc.h"

/* A connection of the toy protocol. */
struct tconn {
	struct rawconn rc;	/* first */
	char line[64];
	size_t len;
	bool waiting;
};

static struct event_base *base;
static struct rawconn_list conns;
static struct tconn *last;	/* the newest connection */
static unsigned closed, timeouts, truncated;

/* A partial line is buffered (ops). */
static bool t_busy(struct rawconn *rc)
{
	return ((struct tconn *)rc)->len > 0;
}

/* Lines in; answers to out; "WAIT" pauses (ops). */
static int t_process(struct rawconn *rc, const char *data, size_t n)
{
	struct tconn *c = (struct tconn *)rc;

	while (n > 0) {
		char ch = *data++;

		n--;
		if (ch != '\n') {
			if (c->len < sizeof(c->line) - 1)
				c->line[c->len++] = ch;
			continue;
		}
		c->line[c->len] = '\0';
		c->len = 0;
		if (strncmp(c->line, "ECHO ", 5) == 0) {
			buf_puts(&rc->out, c->line + 5);
			buf_puts(&rc->out, "\n");
		} else if (strcmp(c->line, "WAIT") == 0) {
			c->waiting = true;
			return rawconn_pause(rc, data, n);
		}
	}
	return 0;
}

/* Count the ends (ops). */
static void t_ended(struct rawconn *rc, bool timeout, bool busy)
{
	(void)rc;
	(void)busy;
	if (timeout)
		timeouts++;
	else
		truncated++;
}

/* Close and free (ops). */
static void t_close(struct rawconn *rc)
{
	rawconn_close(rc);
	rawconn_deinit(rc);
	if ((struct tconn *)rc == last)
		last = NULL;
	free(rc);
	closed++;
}

static const struct rawconn_ops t_ops = {
	"test", 16, t_busy, t_process, t_ended, t_close
};

/* The skeleton admitted a connection. */
static int t_accept(void *arg, struct server_conn *sc, int fd,
		    const struct sockaddr *sa, socklen_t salen)
{
	struct tconn *c = xcalloc(1, sizeof(*c));

	(void)arg;
	(void)salen;
	rawconn_open(&c->rc, &t_ops, &conns, base, sc, fd, sa, 1024);
	last = c;
	return 0;
}

/* Run the loop until fd has n bytes (or EOF) to read into out; the bytes
 * read, -1 on a 20 s safety net (not a measurement). */
static ssize_t read_reply(int fd, char *out, size_t n)
{
	size_t got = 0;
	int rounds;

	for (rounds = 0; rounds < 2000 && got < n; rounds++) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 10) <= 0)
			continue;
		r = recv(fd, out + got, n - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	out[got] = '\0';
	return (ssize_t)got;
}

/* Run the loop until closed reaches want (20 s safety net). */
static bool wait_closed(unsigned want)
{
	int rounds;

	for (rounds = 0; rounds < 2000 && closed < want; rounds++) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return closed >= want;
}

/* Connect to 127.0.0.1:port and let the skeleton accept. */
static int dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int rounds;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	last = NULL;
	for (rounds = 0; rounds < 2000 && !last; rounds++) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return fd;
}

/* Send s on fd (label: what for). */
static void say(int fd, const char *s, const char *label)
{
	ok(send(fd, s, strlen(s), 0) == (ssize_t)strlen(s), "sent %s", label);
}

/* Run the loop until c's read is handled and it paused (20 s safety
 * net). */
static bool wait_paused(const struct tconn *c)
{
	int rounds;

	for (rounds = 0; rounds < 2000 && c && !c->rc.paused; rounds++) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return c && c->rc.paused;
}

int main(void)
{
	struct server_limits lim = { 16, 0, 30, 30 };
	struct server *srv;
	char err[256], out[256];
	int port, fd, fd2;
	struct tconn *c;

	base = event_base_new();
	srv = server_new(base, "test", &lim);
	ok(server_listen(srv, "test_listen", "inet:127.0.0.1:0", 0, NULL,
			 err, sizeof(err)) == 0, "listen on 127.0.0.1:0 %s", err);
	server_serve_raw(srv, t_accept, NULL);
	port = server_port(srv, 0);

	/* Answers are written after each read; a batch in one read. */
	fd = dial(port);
	ok(last != NULL && conns.n == 1, "accepted and listed");
	ok(last && strcmp(last->rc.peer, "127.0.0.1") == 0, "peer %s",
	   last ? last->rc.peer : "-");
	say(fd, "ECHO a\nECHO b\n", "two lines");
	read_reply(fd, out, 4);
	ok(strcmp(out, "a\nb\n") == 0, "batch answered");

	/* An outstanding answer pauses: what follows it is kept until the
	 * front-end resumes, then answered in order. */
	say(fd, "WAIT\nECHO c\n", "WAIT and a line");
	c = last;
	ok(wait_paused(c), "paused");
	/* The read was handled: an answer would be on the socket by now. */
	ok(recv(fd, out, sizeof(out), MSG_DONTWAIT) < 0,
	   "nothing answered while waiting");
	ok(c && c->waiting && c->rc.in.len == 7, "7 bytes kept");
	if (c) {
		c->waiting = false;
		buf_puts(&c->rc.out, "done\n");
		rawconn_resume(&c->rc);
	}
	read_reply(fd, out, 7);
	ok(strcmp(out, "done\nc\n") == 0, "resumed, answered in order");
	ok(c && !c->rc.paused, "reading again");

	/* EOF inside a line: logged as truncated, closed, unlisted. */
	say(fd, "ECHO d", "half a line");
	close(fd);
	ok(wait_closed(1), "closed on EOF");
	ok(truncated == 1 && timeouts == 0, "EOF mid-line reported");
	ok(conns.n == 0 && conns.head == NULL, "list empty");

	/* Clean EOF: no report; close_all empties the list. */
	fd = dial(port);
	fd2 = dial(port);
	ok(conns.n == 2, "two listed");
	close(fd);
	ok(wait_closed(2), "closed on clean EOF");
	ok(truncated == 1, "clean EOF not reported");
	rawconn_close_all(&conns);
	ok(closed == 3 && conns.n == 0 && conns.head == NULL,
	   "close_all closed the rest");
	read_reply(fd2, out, 1);
	ok(out[0] == '\0', "peer saw the close");
	close(fd2);

	server_free(srv);
	event_base_free(base);
	return tap_done();
}
