/*
 * null-policy - the ceiling: a Postfix policy responder that decides nothing.
 *
 * It reads bytes until it sees an empty line (the end of a Postfix policy
 * request, SMTPD_POLICY_README) and answers "action=DUNNO\n\n".  It parses no
 * attribute, keeps no state beyond "was the last byte a newline", and so
 * measures what the kernel, the loopback and the load generator cost on this
 * machine.  Any real policy server's throughput is best reported as a
 * fraction of this one's, measured in the same run (see bench/README.md).
 *
 * One thread, one epoll loop, level-triggered, one read() per readable event
 * (16 KiB).  Requests pipelined in one read get one reply each.  A reply that
 * cannot be written at once waits in a 4 KiB per-connection buffer; a client
 * that lets it overflow is disconnected.  Only loopback addresses and unix
 * sockets are accepted for listening: this is a benchmark tool, not a server.
 * The process exits on SIGINT/SIGTERM or after -T seconds (default 3600),
 * whichever comes first.
 *
 * Usage: null-policy [-T MAX_SECONDS] [-m MAX_CONNS] HOST:PORT | unix:PATH
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define NP_READ_SIZE	16384
#define NP_OUT_MAX	4096
#define NP_EVENTS	256

static const char np_dunno[] = "action=DUNNO\n\n";
#define NP_REPLY_LEN	(sizeof(np_dunno) - 1)

struct np_conn {
	int fd;
	bool bol;		/* next byte starts a line */
	bool want_out;		/* EPOLLOUT is registered */
	size_t out_len;		/* reply bytes not yet written */
	char out[NP_OUT_MAX];
};

static volatile sig_atomic_t np_stop;

/* Signal handler: ask the loop to end. */
static void np_on_signal(int sig)
{
	(void)sig;
	np_stop = 1;
}

/* Print usage and exit 2. */
static void np_usage(void)
{
	fprintf(stderr, "usage: null-policy [-T MAX_SECONDS] [-m MAX_CONNS] "
		"HOST:PORT | unix:PATH\n"
		"  listens on a loopback address only; answers action=DUNNO\n");
	exit(2);
}

/* Parse a decimal long within [min, max] or exit. */
static long np_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "null-policy: bad %s '%s' (%ld..%ld)\n",
			what, s, min, max);
		exit(2);
	}
	return v;
}

/* Seconds on the monotonic clock. */
static double np_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True if the socket address is 127.0.0.0/8, ::1 or v4-mapped loopback. */
static bool np_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	return false;
}

/* Open the listening socket for HOST:PORT ([v6]:PORT) or unix:PATH. */
static int np_listen(const char *spec)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *colon, *port;
	size_t hl;
	int fd, on = 1, rc;

	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(spec + 5) >= sizeof(sun.sun_path) || !spec[5]) {
			fprintf(stderr, "null-policy: bad unix path\n");
			exit(2);
		}
		memcpy(sun.sun_path, spec + 5, strlen(spec + 5) + 1);
		unlink(sun.sun_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
		    listen(fd, 1024) < 0) {
			perror("null-policy: unix listen");
			exit(1);
		}
		return fd;
	}
	colon = strrchr(spec, ':');
	if (!colon || colon == spec || !colon[1])
		np_usage();
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		np_usage();
	memcpy(host, spec, hl);
	host[hl] = '\0';
	port = colon + 1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "null-policy: %s: %s\n", spec, gai_strerror(rc));
		exit(2);
	}
	if (!np_is_loopback(res->ai_addr)) {
		fprintf(stderr, "null-policy: refusing to listen on non-loopback "
			"address %s\n", host);
		exit(2);
	}
	fd = socket(res->ai_family,
		    res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("null-policy: socket");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, 1024) < 0) {
		perror("null-policy: bind/listen");
		exit(1);
	}
	freeaddrinfo(res);
	return fd;
}

/* Close a connection and forget it. */
static void np_close(int ep, struct np_conn **conns, struct np_conn *c,
		     long *nconns)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conns[c->fd] = NULL;
	free(c);
	(*nconns)--;
}

/*
 * Queue n replies and write what the socket takes; watch for writability
 * only while something is left.  Returns -1 if the connection must be closed
 * (write error, or the output buffer would overflow).
 */
static int np_reply(int ep, struct np_conn *c, size_t n)
{
	struct epoll_event ev;
	ssize_t w;
	size_t i;

	for (i = 0; i < n; i++) {
		if (c->out_len + NP_REPLY_LEN > sizeof(c->out))
			return -1;
		memcpy(c->out + c->out_len, np_dunno, NP_REPLY_LEN);
		c->out_len += NP_REPLY_LEN;
	}
	if (c->out_len == 0)
		return 0;
	w = write(c->fd, c->out, c->out_len);
	if (w < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		w = 0;
	}
	memmove(c->out, c->out + w, c->out_len - (size_t)w);
	c->out_len -= (size_t)w;
	if ((c->out_len > 0) != c->want_out) {
		c->want_out = c->out_len > 0;
		ev.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0);
		ev.data.fd = c->fd;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	return 0;
}

/* Count the empty lines (request ends) in buf, carrying the line state. */
static size_t np_scan(struct np_conn *c, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl;
	size_t n = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			c->bol = false;
			break;
		}
		if (nl == p && c->bol)
			n++;
		c->bol = true;
		p = nl + 1;
	}
	return n;
}

int main(int argc, char **argv)
{
	static char rbuf[NP_READ_SIZE];
	struct epoll_event ev, evs[NP_EVENTS];
	struct np_conn **conns;
	struct sigaction sa;
	long max_seconds = 3600, max_conns = 1024, nconns = 0, fd_limit;
	double deadline;
	int lfd, ep, opt, i, n;

	while ((opt = getopt(argc, argv, "T:m:h")) != -1) {
		switch (opt) {
		case 'T':
			max_seconds = np_num(optarg, 1, 86400 * 7, "-T");
			break;
		case 'm':
			max_conns = np_num(optarg, 1, 100000, "-m");
			break;
		default:
			np_usage();
		}
	}
	if (optind != argc - 1)
		np_usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = np_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = np_listen(argv[optind]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("null-policy: epoll_create1");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	/* Index connections by fd; fds stay below max_conns + a small margin. */
	fd_limit = max_conns + 64;
	conns = calloc((size_t)fd_limit, sizeof(*conns));
	if (!conns) {
		perror("null-policy: calloc");
		return 1;
	}
	fprintf(stderr, "null-policy: listening on %s\n", argv[optind]);
	deadline = np_now() + (double)max_seconds;

	while (!np_stop) {
		if (np_now() >= deadline)
			break;
		n = epoll_wait(ep, evs, NP_EVENTS, 1000);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("null-policy: epoll_wait");
			break;
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			struct np_conn *c;
			ssize_t r;

			if (fd == lfd) {
				int cfd, one = 1;

				/* Accept a bounded batch per wakeup. */
				for (int k = 0; k < 64; k++) {
					cfd = accept4(lfd, NULL, NULL,
						      SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (cfd < 0)
						break;
					if (nconns >= max_conns || cfd >= fd_limit) {
						close(cfd);
						continue;
					}
					setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY,
						   &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(cfd);
						continue;
					}
					c->fd = cfd;
					c->bol = true;
					conns[cfd] = c;
					nconns++;
					ev.events = EPOLLIN;
					ev.data.fd = cfd;
					epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
				}
				continue;
			}
			if (fd < 0 || fd >= fd_limit || !(c = conns[fd]))
				continue;
			if (evs[i].events & EPOLLOUT) {
				if (np_reply(ep, c, 0) < 0) {
					np_close(ep, conns, c, &nconns);
					continue;
				}
			}
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			r = read(fd, rbuf, sizeof(rbuf));
			if (r == 0 || (r < 0 && errno != EAGAIN &&
				       errno != EWOULDBLOCK && errno != EINTR)) {
				np_close(ep, conns, c, &nconns);
				continue;
			}
			if (r < 0)
				continue;
			if (np_reply(ep, c, np_scan(c, rbuf, (size_t)r)) < 0)
				np_close(ep, conns, c, &nconns);
		}
	}
	for (long k = 0; k < fd_limit; k++) {
		if (conns[k]) {
			close(conns[k]->fd);
			free(conns[k]);
		}
	}
	free(conns);
	close(ep);
	close(lfd);
	return 0;
}
