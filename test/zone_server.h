/*
 * zone_server - start and stop test/dns/zone-server.py (python3-dnslib,
 * an authoritative server for a zone file) from a C test, on 127.0.0.1.
 * Test builds only: test-dns.c, test-spf-resolver.c, test-inbound.c and
 * test-dmarc-send.c.
 */
#ifndef MAMORI_ZONE_SERVER_H
#define MAMORI_ZONE_SERVER_H

#include <sys/types.h>

#define ZONE_SERVER_PATH 32	/* "/tmp/mamori-zone-XXXXXX" and its NUL */

/*
 * Start the server for zonefile on 127.0.0.1, on a free port written to
 * *port, the script found under root (the source tree); wait at most 10 s
 * for its READY line.  A port is free when both a UDP and a TCP socket
 * could bind it a moment ago; other tests run in parallel and may take it
 * in between, so a server that fails to bind is tried again on another
 * port, 5 times at most.  Returns its pid, 0 when Debian's python3 or its
 * dnslib is missing (skip), -1 on failure.
 */
pid_t zone_server_start(const char *root, const char *zonefile, int *port);

/*
 * Write zone (records in zone-server.py's format) to a new file under
 * /tmp, its name in path (the caller unlinks it when path[0] is set), and
 * start the server for it as zone_server_start() does: its pid, 0 (skip),
 * or -1, also when the file cannot be written.
 */
pid_t zone_server_start_text(const char *root, const char *zone,
			     char path[ZONE_SERVER_PATH], int *port);

/* Stop it: SIGTERM, SIGKILL after 3 s.  pid <= 0 is a no-op. */
void zone_server_stop(pid_t pid);

#endif
