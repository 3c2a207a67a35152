/*
 * sock - small socket helpers shared by the front-ends.
 */
#ifndef MAMORI_SOCK_H
#define MAMORI_SOCK_H

/* The local TCP port a bound socket got (tests bind port 0); -1 if the
 * socket is not an inet socket or getsockname fails. */
int sock_local_port(int fd);

#endif
