/*
 * test-authpolicy-server - the Dovecot auth-policy front-end over a real
 * socket, with the core and a real login engine behind it: requests in,
 * replies and log lines out.  The log (stderr, at debug level) goes to a
 * file the test reads back after each reply, so it can assert what a line
 * says and, above all, what it never says: a request refused as malformed
 * is logged with its length and key names, never a value (a pwhash, a
 * password-like value, an unknown field's value).  The server runs its
 * event loop on a thread of its own; the test is a blocking client.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "auth/login.h"
#include "core/core.h"
#include "core/login_gate.h"
#include "front/authpolicy_server.h"
#include "store/store.h"
#include "tap.h"
#include "util/config.h"
#include "util/log.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int port;
static FILE *log_file;		/* where stderr goes */

static void *loop_thread(void *arg)
{
	event_base_dispatch(arg);
	return NULL;
}

/* POST body to /auth-policy?query; the whole HTTP response into buf. */
static void post(const char *query, const char *body, char *buf, size_t n)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char head[256];
	size_t got = 0;
	int k;

	buf[0] = '\0';
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return;
	}
	k = snprintf(head, sizeof(head),
		     "POST /auth-policy%s%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n", *query ? "?" : "", query,
		     strlen(body));
	if (write(fd, head, (size_t)k) != k ||
	    write(fd, body, strlen(body)) != (ssize_t)strlen(body)) {
		close(fd);
		return;
	}
	while (got + 1 < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0)
			break;
		r = read(fd, buf + got, n - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
}

/* What the log gained since *off (malloc'd); moves *off on. */
static char *log_since(long *off)
{
	long end;
	char *s;
	size_t n;

	fflush(stderr);
	fseek(log_file, 0, SEEK_END);
	end = ftell(log_file);
	n = end > *off ? (size_t)(end - *off) : 0;
	s = calloc(1, n + 1);
	fseek(log_file, *off, SEEK_SET);
	n = fread(s, 1, n, log_file);
	s[n] = '\0';
	*off = end;
	return s;
}

#define CAPTURED \
	"{\"device_id\":\"\",\"login\":\"alice@example.com\"," \
	"\"protocol\":\"imap\",\"pwhash\":\"0f88\",\"remote\":\"127.0.0.1\"," \
	"\"session_id\":\"/gRc5Nlgsu1/AAAB\",\"tls\":false}"

static const struct row {
	const char *label;
	const char *query;
	const char *body;
	const char *reply;		/* in the response */
	const char *has[4];		/* in the log lines it caused */
	const char *never[4];		/* nowhere in them */
} rows[] = {
	{"allow before the check", "command=allow", CAPTURED,
	 "{\"status\":0,\"msg\":\"\"}",
	 {"event=auth_policy stage=before account=alice@example.com "
	  "ip=127.0.0.1 protocol=imap action=allow status=0 compromised=no"},
	 {"0f88"}},
	{"the same allow again: after the check", "command=allow", CAPTURED,
	 "{\"status\":0,", {"event=auth_policy stage=after "}, {"0f88"}},
	{"report", "command=report",
	 "{\"login\":\"alice@example.com\",\"pwhash\":\"0f88\",\"remote\":"
	 "\"127.0.0.1\",\"protocol\":\"imap\",\"success\":true,"
	 "\"policy_reject\":false,\"tls\":false}",
	 "{\"status\":0,", {"event=auth_policy stage=report "}, {"0f88"}},
	{"bad body with a password-like value", "command=allow",
	 "{\"login\":\"alice@example.com\",\"password\":\"Tr0ub4dor&3\","
	 "\"pwhash\":\"9e1c\",\"realm\":\"CORP\\mail\",\"remote\":\"127.0.0.1\"}",
	 "{\"status\":0,",
	 {"event=auth_policy_bad_request ", " bytes=111 keys=5 ",
	  " fields=login,password,pwhash,realm,remote answer=allow"},
	 {"Tr0ub4dor", "9e1c", "CORP", "alice"}},
	{"invalid escape inside the password", "command=allow",
	 "{\"password\":\"hunt\\er2x\",\"tls\":false}", "{\"status\":0,",
	 {"error=\"body is not a JSON object\"", "invalid escape",
	  "fields=password,tls"},
	 {"hunt", "er2x"}},
	{"a literal quote in an unknown field", "command=report",
	 "{\"login\":\"bob\",\"x-token\":\"s3cr\"et\",\"zz\":\"p4ss\"}",
	 "{\"status\":0,", {"fields=login,x-token "}, {"s3cr", "p4ss", "bob"}},
	{"no command in the query", "",
	 "{\"login\":\"carol\",\"password\":\"Zebra-Staple\"}", "{\"status\":0,",
	 {"detail=\"\"", "fields=login,password "}, {"Zebra", "carol"}},
	{"a long list of fields is cut", "command=allow",
	 "{\"f01\":\"v1\",\"f02\":\"v2\",\"f03\":\"v3\",\"f04\":\"v4\","
	 "\"f05\":\"v5\",\"f06\":\"v6\",\"f07\":\"v7\",\"f08\":\"v8\","
	 "\"f09\":\"v9\",\"f10\":\"v10\",\"f11\":\"v11\",\"f12\":\"v12\","
	 "\"f13\":\"v13\",\"f14\":\"v14\",\"f15\":\"v15\",\"f16\":\"v16\","
	 "\"f17\":\"v17\",\"f18\":\"secret\",\"bad\":\"\\q\"}", "{\"status\":0,",
	 {"keys=19 ", "f15,f16,... answer=allow"}, {"secret", "v17", "f17"}},
};

static void test_rows(void)
{
	char resp[4096];
	long off = 0;
	size_t i, k;
	char *log;

	for (i = 0; i < NELEM(rows); i++) {
		const struct row *r = &rows[i];

		free(log_since(&off));	/* what came before */
		post(r->query, r->body, resp, sizeof(resp));
		log = log_since(&off);
		ok(strncmp(resp, "HTTP/1.1 200", 12) == 0 &&
		   strstr(resp, r->reply) != NULL, "%s: reply %s", r->label,
		   r->reply);
		for (k = 0; k < NELEM(r->has) && r->has[k]; k++)
			if (!ok(strstr(log, r->has[k]) != NULL,
				"%s: the log says \"%s\"", r->label, r->has[k]))
				printf("#   log: %s\n", log);
		for (k = 0; k < NELEM(r->never) && r->never[k]; k++)
			if (!ok(strstr(log, r->never[k]) == NULL,
				"%s: the log never says \"%s\"", r->label,
				r->never[k]))
				printf("#   log: %s\n", log);
		free(log);
	}
}

int main(void)
{
	char path[] = "/tmp/mamori-test-aps-XXXXXX", err[512];
	struct event_base *base;
	struct config *cfg;
	struct store *st;
	struct core *core;
	struct login_engine *login;
	struct authpolicy_server *s;
	pthread_t loop;
	FILE *f;

	/* Every log line into a file this test reads. */
	log_file = tmpfile();
	if (!log_file || dup2(fileno(log_file), STDERR_FILENO) < 0) {
		printf("Bail out! cannot capture stderr\n");
		return 1;
	}
	log_setup("test", false, LOG_L_DEBUG);
	evthread_use_pthreads();
	f = fdopen(mkstemp(path), "w");
	fprintf(f, "auth_policy_listen = inet:127.0.0.1:0\napi_listen =\n"
		"notify_smtp_url =\n");
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (!cfg || store_open("memory:", NULL, &st, err, sizeof(err)) != 0 ||
	    !(core = core_new(cfg, st, NULL, err, sizeof(err))) ||
	    !(login = login_engine_new(cfg, st, err, sizeof(err)))) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	core_set_login(core, login);
	base = event_base_new();
	s = authpolicy_server_new(base, cfg, core, err, sizeof(err));
	if (!s) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	port = authpolicy_server_port(s);
	ok(port > 0, "listening on an ephemeral port (%d)", port);
	pthread_create(&loop, NULL, loop_thread, base);

	test_rows();

	event_base_loopbreak(base);
	pthread_join(loop, NULL);
	authpolicy_server_free(s);
	event_base_free(base);
	core_free(core);
	login_engine_free(login);
	store_close(st);
	config_free(cfg);
	fclose(log_file);
	return tap_done();
}
