/*
 * redis_server - a private redis-server for unit tests: started on a unix
 * socket in a fresh /tmp directory (no TCP port, nothing persisted), stopped
 * and restarted on the same socket to play an outage.
 */
#ifndef MAMORI_TEST_REDIS_SERVER_H
#define MAMORI_TEST_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

struct redis_server {
	pid_t pid;
	char dir[64];
	char sock[100];
	char password[64];	/* "" for none */
};

/* Is redis-server on PATH? */
bool redis_server_available(void);
/*
 * Start one (a directory is made on the first start; later starts reuse
 * it and its socket path).  0 once the socket accepts, -1 on failure.
 */
int redis_server_start(struct redis_server *rs);
/* Stop it (SIGTERM, wait); the directory stays until redis_server_free. */
void redis_server_stop(struct redis_server *rs);
/* Stop it and remove its directory. */
void redis_server_free(struct redis_server *rs);

#endif
