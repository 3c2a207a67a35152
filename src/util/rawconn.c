/*
 * rawconn - connection plumbing of the raw-mode front-ends.  See
 * rawconn.h.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/event.h>
#include <event2/util.h>

#include "util/log.h"
#include "util/rawconn.h"
#include "util/server.h"
#include "util/sock.h"

/* The largest ops->read_chunk: the stack buffer of on_read(). */
#define READ_MAX 65536

/* Readable, or the read timer fired. */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct rawconn *rc = arg;
	const struct rawconn_ops *ops = rc->ops;
	char chunk[READ_MAX];
	ssize_t n;

	if (what & EV_TIMEOUT) {
		bool busy = ops->busy(rc);

		server_conn_expired(rc->sc, busy);
		ops->ended(rc, true, busy);
		ops->close(rc);
		return;
	}
	n = recv(fd, chunk, ops->read_chunk, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		return;
	if (n <= 0) {
		if (n == 0 && ops->busy(rc))
			ops->ended(rc, false, true);
		ops->close(rc);
		return;
	}
	if (ops->process(rc, chunk, (size_t)n) != 0 || rc->paused)
		return;
	if (rawconn_flush(rc) != 0)
		return;
	rawconn_arm(rc);
}

/* The socket drained: write the rest of the replies. */
static void on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rawconn_flush(arg);
}

void rawconn_open(struct rawconn *rc, const struct rawconn_ops *ops,
		  struct rawconn_list *list, struct event_base *base,
		  struct server_conn *sc, int fd, const struct sockaddr *sa,
		  size_t out_max)
{
	int one = 1;

	assert(ops->read_chunk > 0 && ops->read_chunk <= READ_MAX);
	rc->ops = ops;
	rc->list = list;
	rc->sc = sc;
	rc->fd = fd;
	rc->paused = false;
	snprintf(rc->peer, sizeof(rc->peer), "%s", server_conn_peer(sc));
	/* Small replies must not wait for a delayed ACK. */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Bytes read past a pending request: at most one read's worth. */
	buf_init(&rc->in, ops->read_chunk);
	buf_init(&rc->out, out_max);
	rc->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, rc);
	rc->wev = event_new(base, fd, EV_WRITE, on_write, rc);
	rc->prev = NULL;
	rc->next = list->head;
	if (list->head)
		list->head->prev = rc;
	list->head = rc;
	list->n++;
	rawconn_arm(rc);
}

void rawconn_close(struct rawconn *rc)
{
	struct rawconn_list *list = rc->list;

	if (rc->fd < 0)
		return;
	event_free(rc->rev);
	event_free(rc->wev);
	evutil_closesocket(rc->fd);
	rc->fd = -1;
	server_conn_close(rc->sc);
	rc->sc = NULL;
	if (rc->prev)
		rc->prev->next = rc->next;
	else
		list->head = rc->next;
	if (rc->next)
		rc->next->prev = rc->prev;
	list->n--;
}

void rawconn_deinit(struct rawconn *rc)
{
	buf_deinit(&rc->in);
	buf_deinit(&rc->out);
}

void rawconn_arm(struct rawconn *rc)
{
	struct timeval tv;

	server_conn_timeout(rc->sc, rc->ops->busy(rc), &tv);
	event_add(rc->rev, &tv);
}

int rawconn_flush(struct rawconn *rc)
{
	int r = sock_send_buf(rc->fd, &rc->out);

	if (r < 0) {
		log_msg(LOG_L_DEBUG, "event=%s_write_failed client=%s "
			"error=\"%s\"", rc->ops->service, rc->peer,
			strerror(errno));
		rc->ops->close(rc);
		return -1;
	}
	if (r > 0)
		event_add(rc->wev, NULL);
	return 0;
}

int rawconn_pause(struct rawconn *rc, const char *rest, size_t n)
{
	if (buf_append(&rc->in, rest, n) != 0) {
		rc->ops->close(rc);
		return -1;
	}
	rc->paused = true;
	event_del(rc->rev);
	return 0;
}

void rawconn_resume(struct rawconn *rc)
{
	if (rawconn_flush(rc) != 0)
		return;
	if (rc->paused) {
		struct buf rest = rc->in;
		int r;

		rc->paused = false;
		buf_init(&rc->in, rest.max);
		r = rc->ops->process(rc, rest.p ? rest.p : "", rest.len);
		buf_deinit(&rest);
		if (r != 0 || rc->paused)
			return;
		if (rawconn_flush(rc) != 0)
			return;
	}
	rawconn_arm(rc);
}

void rawconn_close_all(struct rawconn_list *list)
{
	while (list->head)
		list->head->ops->close(list->head);
}
