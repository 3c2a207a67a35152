/*
 * sock - small socket helpers shared by the front-ends.
 */
#ifndef MAMORI_SOCK_H
#define MAMORI_SOCK_H

struct buf;

/* The local TCP port a bound socket got (tests bind port 0); -1 if the
 * socket is not an inet socket or getsockname fails. */
int sock_local_port(int fd);

/*
 * Send what the non-blocking socket fd takes of out (MSG_NOSIGNAL),
 * keeping the rest at out's start.  Returns 0 when out is empty, 1 when
 * bytes remain (wait until fd is writable), -1 when the send failed or the
 * peer is gone (errno says why).  The raw-mode front-ends' write path.
 */
int sock_send_buf(int fd, struct buf *out);

#endif
