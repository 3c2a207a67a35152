/*
 * zone_server - the zone server's life from a C test (zone_server.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zone_server.h"

#define PYTHON "/usr/bin/python3"	/* Debian's, with python3-dnslib */

/* A port on loopback that a UDP and a TCP socket could both bind, or -1. */
static int free_port(void)
{
	int tries;

	for (tries = 0; tries < 20; tries++) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = -1, port = -1;

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (u >= 0 && bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(u, (struct sockaddr *)&sa, &sl) == 0) {
			t = socket(AF_INET, SOCK_STREAM, 0);
			if (t >= 0 && bind(t, (struct sockaddr *)&sa,
					   sizeof(sa)) == 0)
				port = ntohs(sa.sin_port);
		}
		if (u >= 0)
			close(u);
		if (t >= 0)
			close(t);
		if (port > 0)
			return port;
	}
	return -1;
}

/* One try on port: the pid, 0 (no dnslib), -1 (failed, maybe the port). */
static pid_t start_once(const char *script, const char *zonefile, int port)
{
	char portstr[16], line[64];
	struct pollfd pfd;
	int fds[2], status;
	ssize_t n;
	size_t have = 0;
	pid_t pid;
	time_t end;

	snprintf(portstr, sizeof(portstr), "%d", port);
	if (pipe(fds) < 0)
		return -1;
	fflush(stdout);		/* the child must not repeat buffered TAP */
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(PYTHON, "python3", script, zonefile, portstr, "127.0.0.1",
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	end = time(NULL) + 10;
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (time(NULL) < end && poll(&pfd, 1, 500) >= 0) {
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(fds[0], line + have, sizeof(line) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		line[have] = '\0';
		if (strstr(line, "READY\n")) {
			close(fds[0]);
			return pid;
		}
		if (have == sizeof(line) - 1)
			break;
	}
	close(fds[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return 0;	/* no dnslib */
	return -1;
}

pid_t zone_server_start(const char *root, const char *zonefile, int *port)
{
	char script[1024];
	pid_t pid = -1;
	int tries;

	if (!root || access(PYTHON, X_OK) != 0)
		return 0;
	snprintf(script, sizeof(script), "%s/test/dns/zone-server.py", root);
	for (tries = 0; tries < 5 && pid < 0; tries++) {
		if ((*port = free_port()) < 0)
			return -1;
		pid = start_once(script, zonefile, *port);
	}
	return pid;
}

pid_t zone_server_start_text(const char *root, const char *zone,
			     char path[ZONE_SERVER_PATH], int *port)
{
	size_t n = strlen(zone);
	int fd;

	snprintf(path, ZONE_SERVER_PATH, "/tmp/mamori-zone-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0) {
		path[0] = '\0';
		return -1;
	}
	if (write(fd, zone, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	close(fd);
	return zone_server_start(root, path, port);
}

void zone_server_stop(pid_t pid)
{
	int status, i;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < 30; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}
