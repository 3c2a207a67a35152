/*
 * redis_server - a private redis-server for unit tests.  See redis_server.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_server.h"

bool redis_server_available(void)
{
	const char *path = getenv("PATH");
	char dir[512], exe[600];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
		snprintf(exe, sizeof(exe), "%s/redis-server", dir);
		if (access(exe, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/* Does the socket accept a connection? */
static bool sock_accepts(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bool up;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", path);
	up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return up;
}

int redis_server_start(struct redis_server *rs)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char logf[160];
	int i;

	if (rs->dir[0] == '\0') {
		snprintf(rs->dir, sizeof(rs->dir), "/tmp/mamori-redis-XXXXXX");
		if (mkdtemp(rs->dir) == NULL)
			return -1;
		snprintf(rs->sock, sizeof(rs->sock), "%s/redis.sock", rs->dir);
	}
	snprintf(logf, sizeof(logf), "%s/redis.log", rs->dir);
	rs->pid = fork();
	if (rs->pid < 0)
		return -1;
	if (rs->pid == 0) {
		const char *argv[20];
		int n = 0;

		argv[n++] = "redis-server";
		argv[n++] = "--port";
		argv[n++] = "0";
		argv[n++] = "--unixsocket";
		argv[n++] = rs->sock;
		argv[n++] = "--save";
		argv[n++] = "";
		argv[n++] = "--appendonly";
		argv[n++] = "no";
		argv[n++] = "--dir";
		argv[n++] = rs->dir;
		argv[n++] = "--logfile";
		argv[n++] = logf;
		if (rs->password[0]) {
			argv[n++] = "--requirepass";
			argv[n++] = rs->password;
		}
		argv[n] = NULL;
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	/* Bounded: 5 s. */
	for (i = 0; i < 250; i++) {
		if (sock_accepts(rs->sock))
			return 0;
		if (waitpid(rs->pid, NULL, WNOHANG) == rs->pid) {
			rs->pid = 0;
			return -1;
		}
		nanosleep(&pause, NULL);
	}
	redis_server_stop(rs);
	return -1;
}

void redis_server_stop(struct redis_server *rs)
{
	if (rs->pid > 0) {
		kill(rs->pid, SIGTERM);
		waitpid(rs->pid, NULL, 0);
		rs->pid = 0;
	}
	unlink(rs->sock);
}

void redis_server_free(struct redis_server *rs)
{
	char p[160];

	redis_server_stop(rs);
	if (rs->dir[0] == '\0')
		return;
	snprintf(p, sizeof(p), "%s/redis.log", rs->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/dump.rdb", rs->dir);
	unlink(p);
	rmdir(rs->dir);
	rs->dir[0] = '\0';
}
