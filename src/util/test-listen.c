/*
 * test-listen - the listener address parser (a table of good and bad
 * spellings per setting) and the unix socket rules of listen_open():
 * a regular file or a live socket is never replaced, a stale socket is,
 * the mode is applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "util/listen.h"
#include "util/sock.h"

#define ANY 0
#define UNIXONLY LISTEN_NO_INET
#define TCP (LISTEN_NO_UNIX | LISTEN_BARE)

static void test_parse(void)
{
	static const struct {
		const char *label, *spec;
		unsigned flags;
		int rc;
		enum listen_kind kind;
		const char *host_or_path;
		unsigned port;
	} rows[] = {
		{"ipv4", "inet:127.0.0.1:10040", ANY, 0, LISTEN_INET,
		 "127.0.0.1", 10040},
		{"name", "inet:localhost:25", ANY, 0, LISTEN_INET, "localhost",
		 25},
		{"bracketed v6", "inet:[::1]:10040", ANY, 0, LISTEN_INET, "::1",
		 10040},
		{"bare v6, last colon is the port", "inet:::1:10040", ANY, 0,
		 LISTEN_INET, "::1", 10040},
		{"port 0 (tests)", "inet:127.0.0.1:0", ANY, 0, LISTEN_INET,
		 "127.0.0.1", 0},
		{"port 65535", "inet:0.0.0.0:65535", ANY, 0, LISTEN_INET,
		 "0.0.0.0", 65535},
		{"unix path", "unix:/run/mamori/policy.sock", ANY, 0,
		 LISTEN_UNIX, "/run/mamori/policy.sock", 0},
		{"relative unix path", "unix:p.sock", ANY, 0, LISTEN_UNIX,
		 "p.sock", 0},
		{"api_listen unix", "unix:/run/mamori/api.sock", UNIXONLY, 0,
		 LISTEN_UNIX, "/run/mamori/api.sock", 0},
		{"api_tcp_listen bare HOST:PORT", "127.0.0.1:10041", TCP, 0,
		 LISTEN_INET, "127.0.0.1", 10041},
		{"api_tcp_listen bare [V6]:PORT", "[::1]:10041", TCP, 0,
		 LISTEN_INET, "::1", 10041},
		{"api_tcp_listen inet:", "inet:127.0.0.1:10041", TCP, 0,
		 LISTEN_INET, "127.0.0.1", 10041},

		{"port over 65535", "inet:127.0.0.1:65536", ANY,
		 LISTEN_E_SYNTAX, 0, NULL, 0},
		{"port with letters", "inet:127.0.0.1:80a", ANY,
		 LISTEN_E_SYNTAX, 0, NULL, 0},
		{"negative port", "inet:127.0.0.1:-1", ANY, LISTEN_E_SYNTAX, 0,
		 NULL, 0},
		{"six-digit port", "inet:127.0.0.1:000080", ANY,
		 LISTEN_E_SYNTAX, 0, NULL, 0},
		{"no port", "inet:127.0.0.1", ANY, LISTEN_E_SYNTAX, 0, NULL, 0},
		{"empty port", "inet:127.0.0.1:", ANY, LISTEN_E_SYNTAX, 0, NULL,
		 0},
		{"empty host", "inet::10040", ANY, LISTEN_E_SYNTAX, 0, NULL, 0},
		{"unclosed bracket", "inet:[::1:10040", ANY, LISTEN_E_SYNTAX, 0,
		 NULL, 0},
		{"bracket without port", "inet:[::1]", ANY, LISTEN_E_SYNTAX, 0,
		 NULL, 0},
		{"empty brackets", "inet:[]:1", ANY, LISTEN_E_SYNTAX, 0, NULL,
		 0},
		{"stray bracket", "inet:a]b:1", ANY, LISTEN_E_SYNTAX, 0, NULL,
		 0},
		{"space in host", "inet:a b:1", ANY, LISTEN_E_SYNTAX, 0, NULL,
		 0},
		{"unknown scheme", "tcp:1.2.3.4:5", ANY, LISTEN_E_SYNTAX, 0,
		 NULL, 0},
		{"bare form needs LISTEN_BARE", "127.0.0.1:10040", ANY,
		 LISTEN_E_SYNTAX, 0, NULL, 0},
		{"empty unix path", "unix:", ANY, LISTEN_E_SYNTAX, 0, NULL, 0},
		{"unix path too long",
		 "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 ANY, LISTEN_E_SYNTAX, 0, NULL, 0},
		{"api_listen refuses inet", "inet:127.0.0.1:1", UNIXONLY,
		 LISTEN_E_SYNTAX, 0, NULL, 0},
		{"api_tcp_listen refuses unix", "unix:/tmp/x", TCP,
		 LISTEN_E_SYNTAX, 0, NULL, 0},
		{"api_tcp_listen bare name without port", "nowhere", TCP,
		 LISTEN_E_SYNTAX, 0, NULL, 0},
		{"empty", "", ANY, LISTEN_E_SYNTAX, 0, NULL, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct listen_addr a;
		char err[256] = "";
		int rc = listen_parse("x_listen", rows[i].spec, rows[i].flags,
				      &a, err, sizeof(err));

		if (rows[i].rc) {
			/* The message names the setting and the value. */
			ok(rc == rows[i].rc && strstr(err, "x_listen") &&
			   strstr(err, rows[i].spec),
			   "parse refuses: %s (%s)", rows[i].label, err);
			continue;
		}
		ok(rc == 0 && a.kind == rows[i].kind &&
		   strcmp(a.kind == LISTEN_UNIX ? a.path : a.host,
			  rows[i].host_or_path) == 0 &&
		   a.port == rows[i].port, "parse: %s%s%s", rows[i].label,
		   rc ? ": " : "", err);
	}
}

/* The size of test_each()'s buffer, which collect() appends to. */
#define COLLECT_MAX 256

/* listen_each() collects the items here. */
static int collect(void *arg, const char *spec)
{
	char *out = arg;
	size_t n = strlen(out);

	if (strcmp(spec, "stop") == 0)
		return 7;
	snprintf(out + n, COLLECT_MAX - n, "[%s]", spec);
	return 0;
}

static void test_each(void)
{
	char out[COLLECT_MAX] = "";

	is_int(listen_each(" inet:a:1, unix:/x\tinet:[::1]:2,,", collect,
			   out), 0, "each: a list of three");
	is_str(out, "[inet:a:1][unix:/x][inet:[::1]:2]",
	       "each: items split on commas and blanks");
	out[0] = '\0';
	is_int(listen_each("a,stop,b", collect, out), 7,
	       "each: stops at the first failure");
	is_str(out, "[a]", "each: nothing after the failure");
}

/* Leave a socket file at path that nobody listens on. */
static void make_stale(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		perror("bind");
	close(fd);
}

static void test_open_unix(const char *dir)
{
	struct listen_addr a;
	char spec[300], err[512] = "";
	struct stat st;
	int fd = -1, fd2 = -1, rc;
	FILE *f;

	snprintf(spec, sizeof(spec), "unix:%s/s.sock", dir);
	listen_parse("x_listen", spec, 0, &a, err, sizeof(err));

	f = fopen(a.path, "w");
	fputs("precious\n", f);
	fclose(f);
	rc = listen_open("x_listen", &a, 8, 0600, -1, -1, &fd, err,
			 sizeof(err));
	ok(rc == LISTEN_E_EXISTS && strstr(err, "not a socket"),
	   "a regular file at the path is refused (%s)", err);
	ok(stat(a.path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 9,
	   "the regular file is untouched");
	unlink(a.path);

	make_stale(a.path);
	rc = listen_open("x_listen", &a, 8, 0640, -1, -1, &fd, err,
			 sizeof(err));
	ok(rc == 0 && fd >= 0, "a stale socket file is replaced (%s)",
	   rc ? err : "ok");
	ok(stat(a.path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	   (st.st_mode & 0777) == 0640, "the new socket has mode 0640");

	rc = listen_open("x_listen", &a, 8, 0600, -1, -1, &fd2, err,
			 sizeof(err));
	ok(rc == LISTEN_E_EXISTS && strstr(err, "in use"),
	   "a live socket is refused (%s)", err);
	ok(stat(a.path, &st) == 0 && S_ISSOCK(st.st_mode),
	   "the live socket's file stays");
	if (fd >= 0)
		close(fd);
	unlink(a.path);

	snprintf(spec, sizeof(spec), "unix:%s/no/such/dir/s.sock", dir);
	listen_parse("x_listen", spec, 0, &a, err, sizeof(err));
	rc = listen_open("x_listen", &a, 8, 0600, -1, -1, &fd, err,
			 sizeof(err));
	ok(rc < 0 && strstr(err, "x_listen"),
	   "a missing directory is an errno failure (%s)", err);
}

static void test_open_inet(void)
{
	struct listen_addr a;
	char err[512] = "";
	int fd = -1, fd2 = -1, rc;

	listen_parse("x_listen", "inet:127.0.0.1:0", 0, &a, err, sizeof(err));
	rc = listen_open("x_listen", &a, 8, 0, -1, -1, &fd, err, sizeof(err));
	ok(rc == 0 && sock_local_port(fd) > 0, "inet port 0 gets a port");
	a.port = (unsigned short)sock_local_port(fd);
	rc = listen_open("x_listen", &a, 8, 0, -1, -1, &fd2, err, sizeof(err));
	ok(rc < 0 && strstr(err, "cannot listen"),
	   "a port in use is an error (%s)", err);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	char dir[] = "/tmp/mamori-listen-XXXXXX";

	test_parse();
	test_each();
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_open_unix(dir);
	test_open_inet();
	rmdir(dir);
	return tap_done();
}
