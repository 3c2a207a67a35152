/*
 * null-authpolicy - the ceiling for the Dovecot auth-policy benchmark: an
 * HTTP/1.1 keep-alive responder that decides nothing.
 *
 * Every request (any method, any path) gets
 *
 *   HTTP/1.1 200 OK
 *   Content-Type: application/json
 *   Content-Length: 21
 *
 *   {"status":0,"msg":""}
 *
 * It finds the end of the header block, reads Content-Length (no chunked
 * bodies: Dovecot and wrk send a length), skips that many body bytes and
 * answers; it parses no JSON and keeps no state.  So it measures what the
 * kernel, the loopback, HTTP framing and the load generator cost on this
 * machine; a real server is reported as a fraction of it (see
 * bench/run-authpolicy-bench.sh).
 *
 * One thread, one epoll loop, level-triggered, TCP_NODELAY.  Requests
 * pipelined in one read get one reply each, in order.  The header block
 * may be at most NA_HDR_MAX bytes and a body at most NA_BODY_MAX (a larger
 * one, a malformed Content-Length or chunked encoding closes the
 * connection).  "Connection: close" or HTTP/1.0 without keep-alive closes
 * after the reply.  A reply that cannot be written at once waits in a
 * per-connection buffer of NA_OUT_MAX bytes; a client that lets it overflow
 * is disconnected.  Only loopback addresses are accepted for listening:
 * this is a benchmark tool, not a server.  The process exits on
 * SIGINT/SIGTERM or after -T seconds (default 3600), whichever comes first.
 *
 * Usage: null-authpolicy [-T MAX_SECONDS] [-m MAX_CONNS] HOST:PORT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memmem, accept4 (meson passes it too) */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NA_IN_MAX	(64 * 1024)	/* unparsed input per connection */
#define NA_HDR_MAX	(16 * 1024)
#define NA_BODY_MAX	(1024 * 1024)
#define NA_OUT_MAX	(16 * 1024)
#define NA_EVENTS	256

static const char na_reply[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 21\r\n"
	"\r\n"
	"{\"status\":0,\"msg\":\"\"}";
#define NA_REPLY_LEN	(sizeof(na_reply) - 1)

struct na_conn {
	int fd;
	bool want_out;		/* EPOLLOUT is registered */
	bool close_after;	/* close once the output is written */
	size_t skip;		/* body bytes still to discard */
	size_t in_len;
	size_t out_len;
	char in[NA_IN_MAX];
	char out[NA_OUT_MAX];
};

static volatile sig_atomic_t na_stop;

/* Signal handler: ask the loop to end. */
static void na_on_signal(int sig)
{
	(void)sig;
	na_stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: null-authpolicy [-T MAX_SECONDS] [-m MAX_CONNS] HOST:PORT\n"
		"  answers every HTTP request with {\"status\":0,\"msg\":\"\"}; "
		"loopback only\n");
	exit(2);
}

/* Is the address a loopback one (127.0.0.0/8 or ::1)? */
static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	}
	return false;
}

/* Bind and listen on HOST:PORT (loopback only); the fd or -1. */
static int listen_on(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1, rc;

	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(host)) {
		fprintf(stderr, "null-authpolicy: expected HOST:PORT, got %s\n",
			spec);
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "null-authpolicy: %s: %s\n", spec,
			gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (!is_loopback(ai->ai_addr)) {
			fprintf(stderr, "null-authpolicy: %s is not a loopback "
				"address\n", host);
			break;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		perror("null-authpolicy: bind/listen");
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Case-insensitive search for needle in [p, p+n). */
static const char *memcasemem(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	if (n < k)
		return NULL;
	for (i = 0; i + k <= n; i++)
		if (strncasecmp(p + i, needle, k) == 0)
			return p + i;
	return NULL;
}

/* The value of header name (with ':') in the block [h, h+n), or NULL;
 * *len gets its length (up to the CR). */
static const char *header(const char *h, size_t n, const char *name,
			  size_t *len)
{
	size_t k = strlen(name);
	const char *p = h, *end = h + n, *eol;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > k && strncasecmp(p, name, k) == 0) {
			const char *v = p + k;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(eol - v);
			if (*len && v[*len - 1] == '\r')
				(*len)--;
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

/* Queue one reply; false if the output buffer would overflow. */
static bool queue_reply(struct na_conn *c)
{
	if (c->out_len + NA_REPLY_LEN > sizeof(c->out))
		return false;
	memcpy(c->out + c->out_len, na_reply, NA_REPLY_LEN);
	c->out_len += NA_REPLY_LEN;
	return true;
}

/*
 * Consume complete requests from c->in and queue their replies.  Returns
 * false when the connection must be closed (malformed or too large).
 */
static bool consume(struct na_conn *c)
{
	size_t off = 0;

	for (;;) {
		const char *p = c->in + off, *end, *v;
		size_t avail = c->in_len - off, hlen, vlen;
		unsigned long long clen = 0;

		if (c->skip) {
			size_t k = avail < c->skip ? avail : c->skip;

			off += k;
			c->skip -= k;
			if (c->skip)
				break;
			continue;
		}
		if (!avail)
			break;
		end = avail >= 4 ? memmem(p, avail, "\r\n\r\n", 4) : NULL;
		if (!end) {
			if (avail > NA_HDR_MAX)
				return false;
			break;
		}
		hlen = (size_t)(end - p) + 4;
		if (hlen > NA_HDR_MAX)
			return false;
		if ((v = header(p, hlen, "Transfer-Encoding:", &vlen)) &&
		    memcasemem(v, vlen, "chunked"))
			return false;
		if ((v = header(p, hlen, "Content-Length:", &vlen))) {
			size_t i;

			if (!vlen || vlen > 9)
				return false;
			for (i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9')
					return false;
				clen = clen * 10 + (unsigned)(v[i] - '0');
			}
			if (clen > NA_BODY_MAX)
				return false;
		}
		if ((v = header(p, hlen, "Connection:", &vlen)) &&
		    memcasemem(v, vlen, "close"))
			c->close_after = true;
		else if (hlen > 8 && memmem(p, hlen, " HTTP/1.0\r\n", 11) &&
			 !(v && memcasemem(v, vlen, "keep-alive")))
			c->close_after = true;
		if (!queue_reply(c))
			return false;
		off += hlen;
		c->skip = (size_t)clen;
		if (c->close_after) {
			c->skip = 0;
			off = c->in_len;
			break;
		}
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return true;
}

static void conn_close(int ep, struct na_conn *c, size_t *nconns)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	(*nconns)--;
}

/* Write what is pending; false on a fatal error. */
static bool flush_out(int ep, struct na_conn *c)
{
	while (c->out_len) {
		ssize_t n = write(c->fd, c->out, c->out_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return false;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	if (c->out_len && !c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT,
					  .data.ptr = c };

		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = true;
	} else if (!c->out_len && c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = false;
	}
	return true;
}

int main(int argc, char **argv)
{
	long max_secs = 3600, max_conns = 10000;
	struct epoll_event evs[NA_EVENTS], ev;
	struct sigaction sa;
	size_t nconns = 0;
	time_t deadline;
	int opt, lfd, ep, one = 1;

	while ((opt = getopt(argc, argv, "T:m:h")) != -1) {
		switch (opt) {
		case 'T':
			max_secs = strtol(optarg, NULL, 10);
			if (max_secs < 1)
				usage();
			break;
		case 'm':
			max_conns = strtol(optarg, NULL, 10);
			if (max_conns < 1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = na_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(argv[optind]);
	if (lfd < 0)
		return 1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("epoll_create1");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;	/* NULL: the listener */
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	deadline = time(NULL) + max_secs;
	while (!na_stop && time(NULL) < deadline) {
		int n = epoll_wait(ep, evs, NA_EVENTS, 1000), i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			break;
		}
		for (i = 0; i < n; i++) {
			struct na_conn *c = evs[i].data.ptr;

			if (!c) {
				/* Accept what is waiting, bounded per wake-up. */
				int k;

				for (k = 0; k < 256; k++) {
					int fd = accept4(lfd, NULL, NULL,
							 SOCK_NONBLOCK |
							 SOCK_CLOEXEC);

					if (fd < 0)
						break;
					if (nconns >= (size_t)max_conns) {
						close(fd);
						continue;
					}
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
						   &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd,
						      &ev) != 0) {
						close(fd);
						free(c);
						continue;
					}
					nconns++;
				}
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				ssize_t r = read(c->fd, c->in + c->in_len,
						 sizeof(c->in) - c->in_len);

				if (r == 0 || (r < 0 && errno != EAGAIN &&
					       errno != EINTR)) {
					conn_close(ep, c, &nconns);
					continue;
				}
				if (r > 0) {
					c->in_len += (size_t)r;
					if (!consume(c)) {
						conn_close(ep, c, &nconns);
						continue;
					}
				}
			}
			if (!flush_out(ep, c) ||
			    (c->close_after && !c->out_len)) {
				conn_close(ep, c, &nconns);
				continue;
			}
		}
	}
	close(lfd);
	close(ep);
	return 0;
}
