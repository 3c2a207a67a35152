/*
 * listen - listener address parser and socket opener.  See listen.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/listen.h"
#include "util/xalloc.h"

/* The spellings a setting accepts, for error messages. */
static const char *spellings(unsigned flags)
{
	if (flags & LISTEN_NO_INET)
		return "unix:PATH";
	if (flags & LISTEN_NO_UNIX)
		return (flags & LISTEN_BARE) ?
		       "inet:HOST:PORT, inet:[V6]:PORT or HOST:PORT" :
		       "inet:HOST:PORT or inet:[V6]:PORT";
	return "inet:HOST:PORT, inet:[V6]:PORT or unix:PATH";
}

/* Parse "HOST:PORT" or "[V6]:PORT" into out; 0 or -1. */
static int parse_inet(const char *s, struct listen_addr *out)
{
	const char *h = s, *he, *colon, *p;
	unsigned long port = 0;

	if (*s == '[') {
		h = s + 1;
		he = strchr(h, ']');
		if (!he || he[1] != ':')
			return -1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		he = colon;
		/* A bracket outside "[...]" is a typo, not a host. */
		if (memchr(h, '[', (size_t)(he - h)) ||
		    memchr(h, ']', (size_t)(he - h)))
			return -1;
	}
	if (he == h || (size_t)(he - h) >= sizeof(out->host))
		return -1;
	p = colon + 1;
	if (*p == '\0' || strlen(p) > 5)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535)
		return -1;
	memcpy(out->host, h, (size_t)(he - h));
	out->host[he - h] = '\0';
	if (strspn(out->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789.-:%_*") != strlen(out->host))
		return -1;
	out->port = (unsigned short)port;
	return 0;
}

int listen_parse(const char *name, const char *spec, unsigned flags,
		 struct listen_addr *out, char *err, size_t errsz)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(spec, "unix:", 5) == 0 && !(flags & LISTEN_NO_UNIX)) {
		size_t n = strlen(spec + 5);

		if (n == 0 || n >= sizeof(out->path)) {
			snprintf(err, errsz, "%s: \"%s\": the path must have "
				 "1 to %zu bytes", name, spec,
				 sizeof(out->path) - 1);
			return LISTEN_E_SYNTAX;
		}
		out->kind = LISTEN_UNIX;
		memcpy(out->path, spec + 5, n + 1);
		return 0;
	}
	out->kind = LISTEN_INET;
	if (strncmp(spec, "inet:", 5) == 0 && !(flags & LISTEN_NO_INET) &&
	    parse_inet(spec + 5, out) == 0)
		return 0;
	if ((flags & LISTEN_BARE) && strncmp(spec, "inet:", 5) != 0 &&
	    strncmp(spec, "unix:", 5) != 0 && parse_inet(spec, out) == 0)
		return 0;
	snprintf(err, errsz, "%s: \"%s\" is not %s", name, spec,
		 spellings(flags));
	return LISTEN_E_SYNTAX;
}

/*
 * Make way for a unix socket at path: nothing there is fine, a stale socket
 * file is removed; a live socket or anything that is not a socket stays and
 * is an error (another daemon's socket, somebody's file).
 */
static int unix_make_way(const char *name, const char *path, char *err,
			 size_t errsz)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, errsz, "%s: %s: %s", name, path, strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errsz, "%s: %s exists and is not a socket; "
			 "refusing to replace it", name, path);
		return LISTEN_E_EXISTS;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errsz, "%s: socket: %s", name, strerror(errno));
		return r;
	}
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0) {
		snprintf(err, errsz, "%s: %s is in use (is another mamorid "
			 "running?)", name, path);
		return LISTEN_E_EXISTS;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errsz, "%s: cannot remove stale %s: %s", name,
			 path, strerror(errno));
		return r;
	}
	return 0;
}

/* Bind and listen on a unix socket; 0 with *fd, else as listen_open(). */
static int open_unix(const char *name, const struct listen_addr *a,
		     int backlog, long mode, int uid, int gid, int *fd,
		     char *err, size_t errsz)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int s, r;

	if ((r = unix_make_way(name, a->path, err, errsz)) != 0)
		return r;
	memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		r = -errno;
		snprintf(err, errsz, "%s: socket: %s", name, strerror(errno));
		return r;
	}
	/* Owner-only until chmod: never reachable with looser bits.  We run
	 * single-threaded at start-up, so changing the umask is safe. */
	old = umask(0177);
	r = bind(s, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r != 0) {
		r = -errno;
		snprintf(err, errsz, "%s: bind %s: %s", name, a->path,
			 strerror(-r));
		close(s);
		return r;
	}
	if (chmod(a->path, (mode_t)mode) != 0 ||
	    ((uid != -1 || gid != -1) &&
	     chown(a->path, (uid_t)uid, (gid_t)gid) != 0) ||
	    listen(s, backlog) != 0) {
		r = -errno;
		snprintf(err, errsz, "%s: chmod/chown/listen %s: %s", name,
			 a->path, strerror(-r));
		unlink(a->path);
		close(s);
		return r;
	}
	*fd = s;
	return 0;
}

/* Resolve, bind and listen on an inet address; as listen_open(). */
static int open_inet(const char *name, const struct listen_addr *a,
		     int backlog, int *fd, char *err, size_t errsz)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[8];
	int s, r, one = 1;

	snprintf(port, sizeof(port), "%u", a->port);
	r = getaddrinfo(strcmp(a->host, "*") ? a->host : NULL, port, &hints,
			&ai);
	if (r != 0 || !ai) {
		snprintf(err, errsz, "%s: cannot resolve \"%s\": %s", name,
			 a->host, gai_strerror(r));
		if (ai)
			freeaddrinfo(ai);
		return -EINVAL;
	}
	s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		   SOCK_CLOEXEC, ai->ai_protocol);
	if (s < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(s, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(s, backlog) != 0) {
		r = -errno;
		snprintf(err, errsz, "%s: cannot listen on %s:%u: %s", name,
			 a->host, a->port, strerror(-r));
		if (s >= 0)
			close(s);
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	*fd = s;
	return 0;
}

int listen_open(const char *name, const struct listen_addr *a, int backlog,
		long mode, int uid, int gid, int *fd, char *err, size_t errsz)
{
	if (a->kind == LISTEN_UNIX)
		return open_unix(name, a, backlog, mode, uid, gid, fd, err,
				 errsz);
	return open_inet(name, a, backlog, fd, err, errsz);
}

int listen_each(const char *list, int (*fn)(void *arg, const char *spec),
		void *arg)
{
	const char *p = list;

	while (*p) {
		char *item;
		size_t n;
		int r;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		item = xstrndup(p, n);
		r = fn(arg, item);
		free(item);
		if (r != 0)
			return r;
		p += n;
	}
	return 0;
}

/* listen_each callback: 0 while the item is local, 1 at the first not. */
static int item_not_loopback(void *arg, const char *spec)
{
	struct listen_addr a;
	char err[256];
	size_t n;

	(void)arg;
	if (listen_parse("listen", spec, LISTEN_BARE, &a, err, sizeof(err)))
		return 1;
	if (a.kind == LISTEN_UNIX)
		return 0;
	n = strlen(a.host);
	if (n >= 4 && strncmp(a.host, "127.", 4) == 0 &&
	    strspn(a.host, "0123456789.") == n)
		return 0;
	return strcmp(a.host, "::1") != 0 && strcmp(a.host, "localhost") != 0;
}

bool listen_list_is_loopback(const char *list)
{
	return listen_each(list, item_not_loopback, NULL) == 0;
}
