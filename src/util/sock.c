/*
 * sock - small socket helpers.  See sock.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "util/buf.h"
#include "util/sock.h"

int sock_send_buf(int fd, struct buf *out)
{
	size_t done = 0;

	while (done < out->len) {
		ssize_t w = send(fd, out->p + done, out->len - done,
				 MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			if (w == 0)
				errno = EPIPE;
			return -1;
		}
		done += (size_t)w;
	}
	if (done == out->len) {
		buf_reset(out);
		return 0;
	}
	memmove(out->p, out->p + done, out->len - done);
	out->len -= done;
	return 1;
}

int sock_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}
