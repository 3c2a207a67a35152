/*
 * listen - the one parser for listener addresses and the one place that
 * opens listening sockets.
 *
 * Spellings (the settings policy_listen, auth_policy_listen, api_listen,
 * api_tcp_listen):
 *   inet:HOST:PORT      HOST a name or an IPv4 address (an unbracketed IPv6
 *                       address works too: the port follows the last ':')
 *   inet:[V6]:PORT      an IPv6 address in brackets
 *   unix:PATH           a unix stream socket (absolute or relative path)
 *   HOST:PORT, [V6]:PORT  only with LISTEN_BARE (api_tcp_listen's old form)
 * PORT is decimal 0..65535; 0 lets the kernel pick one (tests).
 *
 * A unix socket is never put over something else: a path holding anything
 * but a socket is an error, a socket somebody still accepts on is an error
 * ("in use"), and only a stale socket file (connect() refused) is removed.
 * The new socket is created owner-only and then given the configured mode,
 * so it is never reachable with looser bits in between.
 *
 * Limits: HOST up to 255 bytes (a DNS name), PATH up to sun_path (107).
 * No I/O in listen_parse(); listen_open() runs at start-up, single-threaded
 * (it changes the umask for a moment).
 */
#ifndef MAMORI_LISTEN_H
#define MAMORI_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

enum listen_kind {
	LISTEN_INET,
	LISTEN_UNIX,
};

/* listen_parse() flags: which spellings the setting accepts. */
#define LISTEN_NO_INET 0x1	/* unix:PATH only (api_listen) */
#define LISTEN_NO_UNIX 0x2	/* inet only (api_tcp_listen) */
#define LISTEN_BARE 0x4		/* HOST:PORT without "inet:" */

/* Outcomes (positive module codes). */
#define LISTEN_E_SYNTAX 1	/* not a spelling the setting accepts */
#define LISTEN_E_EXISTS 2	/* unix path holds a non-socket or a live one */

struct listen_addr {
	enum listen_kind kind;
	char host[256];		/* inet: without brackets */
	unsigned short port;
	char path[108];		/* unix */
};

/*
 * Parse one spec (no list) for the setting named name (used in err).
 * Returns 0, or LISTEN_E_SYNTAX with a message naming the spellings the
 * setting accepts in err.
 */
int listen_parse(const char *name, const char *spec, unsigned flags,
		 struct listen_addr *out, char *err, size_t errsz);

/*
 * Open a listening, non-blocking, close-on-exec socket for a into *fd.
 * inet: the host is resolved (numeric port), SO_REUSEADDR is set.  unix:
 * see the header comment; mode is the permission bits, uid/gid (-1: keep)
 * the owner.  Returns 0; LISTEN_E_EXISTS when the unix path is taken; a
 * negative errno for other failures.  err names the setting and the cause.
 */
int listen_open(const char *name, const struct listen_addr *a, int backlog,
		long mode, int uid, int gid, int *fd, char *err, size_t errsz);

/*
 * Call fn(arg, spec) for each item of a comma- or blank-separated list.
 * Stops at and returns fn's first non-zero
 * result; 0 when all went well.
 */
int listen_each(const char *list, int (*fn)(void *arg, const char *spec),
		void *arg);
/*
 * Is every listener of the list a unix socket or on a loopback address
 * (127.0.0.0/8 in dotted digits, ::1, localhost)?  An empty host (all
 * addresses), any other name and an item that does not parse are not.
 */
bool listen_list_is_loopback(const char *list);

#endif
