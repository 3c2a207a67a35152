/*
 * test-notify-send - real delivery: an SMTP sink and an HTTP sink run as
 * threads in this process on 127.0.0.1 (port 0: ephemeral), speaking just
 * enough SMTP (RFC 5321) and HTTP/1.1 to take notices.  Covers the three
 * recipients of one event, the signed webhook, retries while the relay is
 * down, a permanent 5xx, a full queue behind a silent relay, a reload that
 * retries at once, and shutdown with a retry pending.
 *
 * No timed assertions: waits poll notify_get_stats() every 20 ms for at
 * most 10-15 s, and every loop is bounded in count.  TAP assertions run on
 * the main thread only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <jansson.h>
#include <openssl/hmac.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/outbox.h"
#include "notify/test-notify.h"

/* One transaction the SMTP sink accepted. */
struct txn {
	char from[300];
	char rcpt[4][300];
	int nrcpt;
	char *data;
};

/* A one-connection-at-a-time SMTP or HTTP server on 127.0.0.1. */
struct sink {
	int fd;
	int port;
	bool http;
	pthread_t th;
	atomic_bool stop;
	pthread_mutex_t lock;
	struct txn txn[16];	/* SMTP */
	int ntxn;
	bool reject_rcpt;	/* answer RCPT with 550 */
	bool mute;		/* never greet: the client waits */
	int accepted;		/* connections taken */
	char *req[8];		/* HTTP requests, headers and body */
	int nreq;
	int status[8];		/* HTTP status per request; 0 = 200 */
};

/* A buffered reader on one connection. */
struct conn {
	int fd;
	char buf[16384];
	size_t len;
};

/* Send a whole string. */
static void say(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
		printf("# sink send: %s\n", strerror(errno));
}

/* Read one line (LF-terminated, kept) into line; -1 at EOF/timeout. */
static int conn_line(struct conn *c, char *line, size_t max)
{
	int guard;

	for (guard = 0; guard < 1000; guard++) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t r;

		if (nl) {
			size_t n = (size_t)(nl - c->buf) + 1;

			if (n >= max)
				return -1;
			memcpy(line, c->buf, n);
			line[n] = '\0';
			memmove(c->buf, nl + 1, c->len - n);
			c->len -= n;
			return (int)n;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
	return -1;
}

/* Copy the <address> of an SMTP command argument into out. */
static void angle_addr(const char *line, char *out, size_t outsz)
{
	const char *lt = strchr(line, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	size_t n = lt && gt ? (size_t)(gt - lt - 1) : 0;

	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, lt ? lt + 1 : "", n);
	out[n] = '\0';
}

/* Speak just enough SMTP (RFC 5321) to take messages. */
static void smtp_session(struct sink *s, struct conn *c)
{
	char line[2048];
	struct txn t;
	int guard;

	memset(&t, 0, sizeof(t));
	say(c->fd, "220 sink ESMTP\r\n");
	for (guard = 0; guard < 200; guard++) {
		if (conn_line(c, line, sizeof(line)) < 0)
			break;
		if (!strncasecmp(line, "EHLO", 4) || !strncasecmp(line, "HELO", 4)) {
			say(c->fd, "250 sink\r\n");
		} else if (!strncasecmp(line, "MAIL FROM:", 10)) {
			memset(&t, 0, sizeof(t));
			angle_addr(line, t.from, sizeof(t.from));
			say(c->fd, "250 OK\r\n");
		} else if (!strncasecmp(line, "RCPT TO:", 8)) {
			bool reject;

			pthread_mutex_lock(&s->lock);
			reject = s->reject_rcpt || t.nrcpt == 4;
			pthread_mutex_unlock(&s->lock);
			if (reject) {
				say(c->fd, "550 5.1.1 no such user\r\n");
				continue;
			}
			angle_addr(line, t.rcpt[t.nrcpt], sizeof(t.rcpt[0]));
			t.nrcpt++;
			say(c->fd, "250 OK\r\n");
		} else if (!strncasecmp(line, "DATA", 4)) {
			struct buf data;
			int lines;

			buf_init(&data, 1 << 20);
			say(c->fd, "354 go ahead\r\n");
			for (lines = 0; lines < 100000; lines++) {
				if (conn_line(c, line, sizeof(line)) < 0)
					break;
				if (!strcmp(line, ".\r\n"))
					break;
				/* Undo dot-stuffing (RFC 5321 4.5.2). */
				buf_puts(&data, line[0] == '.' ? line + 1 : line);
			}
			pthread_mutex_lock(&s->lock);
			if (s->ntxn < 16) {
				t.data = buf_steal(&data);
				s->txn[s->ntxn++] = t;
			}
			pthread_mutex_unlock(&s->lock);
			buf_deinit(&data);
			memset(&t, 0, sizeof(t));
			say(c->fd, "250 2.0.0 queued\r\n");
		} else if (!strncasecmp(line, "QUIT", 4)) {
			say(c->fd, "221 bye\r\n");
			break;
		} else if (!strncasecmp(line, "RSET", 4) ||
			   !strncasecmp(line, "NOOP", 4)) {
			say(c->fd, "250 OK\r\n");
		} else {
			say(c->fd, "502 not implemented\r\n");
		}
	}
}

/* Take one HTTP/1.1 request and answer with the next status. */
static void http_session(struct sink *s, struct conn *c)
{
	char line[4096], resp[128];
	struct buf req;
	size_t clen = 0, have;
	int guard, status;

	buf_init(&req, 1 << 20);
	for (guard = 0; guard < 200; guard++) {
		if (conn_line(c, line, sizeof(line)) < 0) {
			buf_deinit(&req);
			return;
		}
		buf_puts(&req, line);
		if (!strncasecmp(line, "Content-Length:", 15))
			clen = strtoul(line + 15, NULL, 10);
		if (!strcmp(line, "\r\n"))
			break;
	}
	if (clen > 1 << 19)
		clen = 1 << 19;
	have = c->len < clen ? c->len : clen;
	buf_append(&req, c->buf, have);
	for (guard = 0; have < clen && guard < 1000; guard++) {
		char chunk[4096];
		size_t want = clen - have < sizeof(chunk) ? clen - have :
			      sizeof(chunk);
		ssize_t r = recv(c->fd, chunk, want, 0);

		if (r <= 0)
			break;
		buf_append(&req, chunk, (size_t)r);
		have += (size_t)r;
	}
	pthread_mutex_lock(&s->lock);
	status = s->nreq < 8 && s->status[s->nreq] ? s->status[s->nreq] : 200;
	if (s->nreq < 8)
		s->req[s->nreq++] = buf_steal(&req);
	pthread_mutex_unlock(&s->lock);
	buf_deinit(&req);
	snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n"
		 "Connection: close\r\n\r\n", status);
	say(c->fd, resp);
}

/* Say nothing until the client hangs up or the sink stops (<= 60 s). */
static void mute_session(struct sink *s, struct conn *c)
{
	int i;

	for (i = 0; i < 1200 && !atomic_load(&s->stop); i++) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};

		if (poll(&p, 1, 50) > 0 &&
		    recv(c->fd, c->buf, sizeof(c->buf), 0) <= 0)
			break;
	}
}

/* The sink thread: accept and serve until stopped. */
static void *sink_main(void *arg)
{
	struct sink *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		struct timeval tv = {.tv_sec = 5};
		struct conn *c;
		bool mute;
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((fd = accept(s->fd, NULL, NULL)) < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		pthread_mutex_lock(&s->lock);
		s->accepted++;
		mute = s->mute;
		pthread_mutex_unlock(&s->lock);
		if (mute)
			mute_session(s, c);
		else if (s->http)
			http_session(s, c);
		else
			smtp_session(s, c);
		free(c);
		close(fd);
	}
	return NULL;
}

/* Listen on 127.0.0.1:port (0: any free port) and start serving. */
static int sink_start(struct sink *s, int port, bool http)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->http = http;
	atomic_init(&s->stop, false);
	pthread_mutex_init(&s->lock, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((unsigned short)port);
	if ((s->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->fd, 16) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &len) < 0) {
		printf("# sink: %s\n", strerror(errno));
		close(s->fd);
		return -1;
	}
	s->port = ntohs(sa.sin_port);
	if (pthread_create(&s->th, NULL, sink_main, s) != 0) {
		close(s->fd);
		return -1;
	}
	return 0;
}

/* Stop the sink thread and free what it recorded. */
static void sink_stop(struct sink *s)
{
	int i;

	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
	close(s->fd);
	for (i = 0; i < s->ntxn; i++)
		free(s->txn[i].data);
	for (i = 0; i < s->nreq; i++)
		free(s->req[i]);
	pthread_mutex_destroy(&s->lock);
}

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Poll the counters every 20 ms until expr holds, at most max_ms. */
#define WAIT_UNTIL(n, st, expr, max_ms) do { \
	int w_; \
	for (w_ = 0; w_ < (max_ms) / 20; w_++) { \
		notify_get_stats((n), &(st)); \
		if (expr) \
			break; \
		usleep(20000); \
	} \
} while (0)

/* The transaction of the sink addressed to rcpt, or NULL. */
static struct txn *txn_for(struct sink *s, const char *rcpt)
{
	int i;

	for (i = 0; i < s->ntxn; i++)
		if (s->txn[i].nrcpt == 1 && !strcmp(s->txn[i].rcpt[0], rcpt))
			return &s->txn[i];
	return NULL;
}

/* A config aimed at the SMTP sink on port. */
static struct config *sink_config(int port)
{
	struct config *c = test_config();
	char url[64];

	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	set_str(&c->notify_smtp_url, url);
	c->notify_retry_interval = 1;
	c->notify_timeout = 5;
	return c;
}

static void test_delivery(void)
{
	struct config *off = test_config(), *on;
	struct notify_event ev = test_event("restricted", "ev-deliver");
	struct notify_stats st;
	struct notify *n;
	struct sink s;
	char path[256];
	struct txn *cust, *alt, *abuse;

	if (!ok(sink_start(&s, 0, false) == 0, "delivery: SMTP sink started")) {
		config_free(off);
		return;
	}
	n = notify_new(off);
	config_free(off);
	snprintf(path, sizeof(path), "%s/contacts2", tmpdir);
	write_file(path, "taro@example.jp taro.alt@example.net\n");
	on = sink_config(s.port);
	set_str(&on->abuse_desk, "abuse@example.jp");
	set_str(&on->contact_map, path);
	set_str(&on->notify_language, "ja+en");
	notify_reconfigure(n, on);
	/* notify copied what it needs: the config can go at once. */
	config_free(on);

	notify_event(n, &ev);
	notify_event(n, &ev);	/* same id: ignored */
	WAIT_UNTIL(n, st, st.sent >= 3 && st.pending == 0, 10000);
	is_int(st.sent, 3, "delivery: three notices sent");
	is_int(st.queued, 3, "delivery: resubmitted event id ignored");
	is_int(st.failed_attempts, 0, "delivery: no failed attempt");
	notify_free(n);

	pthread_mutex_lock(&s.lock);
	is_int(s.ntxn, 3, "delivery: sink took three messages");
	cust = txn_for(&s, "taro@example.jp");
	alt = txn_for(&s, "taro.alt@example.net");
	abuse = txn_for(&s, "abuse@example.jp");
	ok(cust && alt && abuse, "delivery: customer, alternate and abuse desk");
	if (cust && alt && abuse) {
		char *b1 = body_of(cust->data), *b2 = body_of(alt->data);
		char *b3 = body_of(abuse->data), *sj = subject_of(cust->data);

		is_str(cust->from, "mamori@example.jp", "delivery: envelope sender");
		ok(strstr(cust->data, "\r\nTo: taro@example.jp\r\n") &&
		   strstr(alt->data, "\r\nTo: taro.alt@example.net\r\n"),
		   "delivery: header To matches the recipient");
		ok(strstr(b1, "送信を制限いたしました") && strstr(b1, "Dear customer") &&
		   strstr(b2, "ウイルス対策ソフト"),
		   "delivery: customer text, ja+en");
		ok(strstr(sj, "メール送信の制限について（taro@example.jp）") != NULL,
		   "delivery: Japanese subject decodes");
		ok(strstr(b3, "mamori account release taro@example.jp") &&
		   strstr(b3, "\"queue_ids\""), "delivery: abuse desk text");
		free(b1);
		free(b2);
		free(b3);
		free(sj);
	}
	pthread_mutex_unlock(&s.lock);
	sink_stop(&s);
}

/* The value of header name in an HTTP request, copied into out. */
static void http_header(const char *req, const char *name, char *out,
			size_t outsz)
{
	const char *p = req;
	size_t n = strlen(name);

	out[0] = '\0';
	while ((p = strstr(p, "\r\n")) && strncmp(p, "\r\n\r\n", 4)) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			size_t len = strcspn(p + n + 1, "\r\n");
			const char *v = p + n + 1;

			while (*v == ' ' && len)
				v++, len--;
			if (len >= outsz)
				len = outsz - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return;
		}
	}
}

static void test_webhook(void)
{
	struct config *c = test_config();
	struct notify_event ev = test_event("suspended", "ev-hook");
	struct notify_stats st;
	struct notify *n;
	struct sink s;
	char url[64];
	int i;

	if (!ok(sink_start(&s, 0, true) == 0, "webhook: HTTP sink started")) {
		config_free(c);
		return;
	}
	pthread_mutex_lock(&s.lock);
	s.status[0] = 503;	/* the first POST fails, the retry succeeds */
	pthread_mutex_unlock(&s.lock);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", s.port);
	set_str(&c->webhook_url, url);
	set_str(&c->webhook_secret, "s3cret-key");
	c->notify_retry_interval = 1;
	c->notify_timeout = 5;
	n = notify_new(c);
	config_free(c);
	notify_event(n, &ev);
	WAIT_UNTIL(n, st, st.sent >= 1 && st.pending == 0, 15000);
	is_int(st.sent, 1, "webhook: delivered");
	is_int(st.failed_attempts, 1, "webhook: HTTP 503 retried");
	notify_free(n);

	pthread_mutex_lock(&s.lock);
	is_int(s.nreq, 2, "webhook: two POSTs");
	for (i = 0; i < s.nreq && i < 2; i++) {
		const char *body = strstr(s.req[i], "\r\n\r\n");
		unsigned char mac[32];
		unsigned int maclen = 0;
		char want[80], got[128], event[64];
		size_t k, o;

		body = body ? body + 4 : "";
		HMAC(EVP_sha256(), "s3cret-key", 10, (const unsigned char *)body,
		     strlen(body), mac, &maclen);
		o = (size_t)snprintf(want, sizeof(want), "sha256=");
		for (k = 0; k < maclen; k++)
			o += (size_t)snprintf(want + o, sizeof(want) - o, "%02x",
					      mac[k]);
		http_header(s.req[i], "X-Mamori-Signature", got, sizeof(got));
		is_str(got, want, "webhook %d: X-Mamori-Signature is the HMAC", i);
		http_header(s.req[i], "X-Mamori-Event", event, sizeof(event));
		is_str(event, "suspended", "webhook %d: X-Mamori-Event", i);
		ok(strncmp(s.req[i], "POST /hook HTTP/1.1\r\n", 21) == 0,
		   "webhook %d: POST to the path", i);
		ok(!strstr(s.req[i], "s3cret"), "webhook %d: secret not sent", i);
		if (i == 0) {
			json_error_t jerr;
			json_t *j = json_loads(body, 0, &jerr);

			ok(j && !strcmp(json_string_value(json_object_get(j, "kind")),
					"suspended") &&
			   !strcmp(json_string_value(json_object_get(j, "login")),
				   "taro@example.jp") &&
			   json_integer_value(json_object_get(j, "time")) == T_EVENT &&
			   json_integer_value(json_object_get(
				   json_object_get(j, "evidence"), "msgs_1h")) == 45,
			   "webhook: JSON body");
			json_decref(j);
		}
	}
	ok(s.nreq == 2 && !strcmp(strstr(s.req[0], "\r\n\r\n"),
				  strstr(s.req[1], "\r\n\r\n")),
	   "webhook: the retry sends the same body");
	pthread_mutex_unlock(&s.lock);
	sink_stop(&s);
}

static void test_retry(void)
{
	int port = closed_port();
	struct config *c = sink_config(port);
	struct notify_event ev = test_event("throttled", "ev-retry");
	struct notify_stats st;
	struct notify *n;
	struct sink s;

	set_str(&c->notify_language, "en");
	n = notify_new(c);
	config_free(c);
	notify_event(n, &ev);
	WAIT_UNTIL(n, st, st.failed_attempts >= 1, 10000);
	ok(st.failed_attempts >= 1, "retry: relay down, attempt failed");
	ok(st.sent == 0 && st.pending == 1 && st.gave_up == 0,
	   "retry: notice still queued while the relay is down");
	if (!ok(sink_start(&s, port, false) == 0, "retry: sink up on that port")) {
		notify_free(n);
		return;
	}
	WAIT_UNTIL(n, st, st.sent >= 1, 15000);
	is_int(st.sent, 1, "retry: delivered once the relay is up");
	is_int(st.pending, 0, "retry: queue empty");
	notify_free(n);
	pthread_mutex_lock(&s.lock);
	ok(s.ntxn == 1 && txn_for(&s, "taro@example.jp") &&
	   strstr(s.txn[0].data, "slowed down"),
	   "retry: sink got the notice");
	pthread_mutex_unlock(&s.lock);
	sink_stop(&s);
}

static void test_permanent_failure(void)
{
	struct notify_event ev = test_event("restricted", "ev-550");
	struct notify_stats st;
	struct config *c;
	struct notify *n;
	struct sink s;

	if (!ok(sink_start(&s, 0, false) == 0, "5xx: sink started"))
		return;
	pthread_mutex_lock(&s.lock);
	s.reject_rcpt = true;
	pthread_mutex_unlock(&s.lock);
	c = sink_config(s.port);
	n = notify_new(c);
	config_free(c);
	notify_event(n, &ev);
	WAIT_UNTIL(n, st, st.gave_up >= 1 && st.pending == 0, 10000);
	is_int(st.gave_up, 1, "5xx: gave up");
	is_int(st.failed_attempts, 1, "5xx: no retry after a permanent reply");
	is_int(st.sent, 0, "5xx: nothing sent");
	notify_free(n);
	sink_stop(&s);
}

static void test_queue_full(void)
{
	struct notify_event ev = test_event("restricted", "ev-full-0");
	struct notify_stats st;
	struct config *c;
	struct notify *n;
	struct sink s;
	char id[32];
	int i, accepted = 0;

	if (!ok(sink_start(&s, 0, false) == 0, "full: sink started"))
		return;
	pthread_mutex_lock(&s.lock);
	s.mute = true;
	pthread_mutex_unlock(&s.lock);
	c = sink_config(s.port);
	c->notify_timeout = 60;
	n = notify_new(c);
	config_free(c);
	notify_event(n, &ev);
	/* Wait until the worker hangs in the relay's silence. */
	for (i = 0; i < 500 && !accepted; i++) {
		pthread_mutex_lock(&s.lock);
		accepted = s.accepted;
		pthread_mutex_unlock(&s.lock);
		if (!accepted)
			usleep(20000);
	}
	ok(accepted == 1, "full: worker stuck on a silent relay");
	for (i = 1; i <= NOTIFY_QUEUE_MAX; i++) {
		snprintf(id, sizeof(id), "ev-full-%d", i);
		ev.id = id;
		notify_event(n, &ev);
	}
	notify_get_stats(n, &st);
	is_int(st.pending, NOTIFY_QUEUE_MAX, "full: queue holds its maximum");
	is_int(st.dropped, 1, "full: the event past the maximum is dropped");
	/* Aborts the stuck attempt through the progress callback. */
	notify_free(n);
	ok(1, "full: notify_free returns with an attempt in flight");
	sink_stop(&s);
}

/* A notifier with one notice of event id tried against a closed port,
 * to be retried in an hour; its figures once that try failed (10 s at
 * most) in *st, for the caller to check. */
static struct notify *notify_waiting(const char *id, struct notify_stats *st)
{
	struct config *c = sink_config(closed_port());
	struct notify_event ev = test_event("restricted", id);
	struct notify *n;

	c->notify_retry_interval = 3600;
	n = notify_new(c);
	config_free(c);
	notify_event(n, &ev);
	WAIT_UNTIL(n, *st, st->failed_attempts >= 1, 10000);
	return n;
}

static void test_reconfigure_retry(void)
{
	struct config *c;
	struct notify_stats st;
	struct notify *n = notify_waiting("ev-reload", &st);
	struct sink s;

	ok(st.failed_attempts == 1 && st.pending == 1,
	   "reload: a notice waits an hour for its retry");
	if (!ok(sink_start(&s, 0, false) == 0, "reload: sink started")) {
		notify_free(n);
		return;
	}
	c = sink_config(s.port);
	notify_reconfigure(n, c);
	config_free(c);
	WAIT_UNTIL(n, st, st.sent >= 1, 10000);
	is_int(st.sent, 1, "reload: the waiting notice goes out at once");
	notify_free(n);
	sink_stop(&s);
}

static void test_free_pending(void)
{
	struct notify_stats st;
	struct notify *n = notify_waiting("ev-pending", &st);

	ok(st.failed_attempts == 1 && st.pending == 1,
	   "free: a notice waits for its retry");
	notify_free(n);
	ok(1, "free: returns with a retry pending");
	notify_free(NULL);
	ok(1, "free: NULL is a no-op");
}

/* What the done hook heard. */
struct done_rec {
	pthread_t loop;
	int calls, off_loop, with_key, done_last, done_early, sent, gave_up;
	char id[32], login[64];
};

/* The done hook: count, and check it runs on the loop thread. */
static void done_hook(void *arg, const char *id, const char *login,
		      const char *key, enum notify_outcome outcome,
		      bool event_done)
{
	struct done_rec *r = arg;

	r->calls++;
	if (outcome == NOTIFY_OUT_SENT)
		r->sent++;
	if (outcome == NOTIFY_OUT_GAVE_UP)
		r->gave_up++;
	snprintf(r->login, sizeof(r->login), "%s", login);
	if (!pthread_equal(pthread_self(), r->loop))
		r->off_loop++;
	if (key)
		r->with_key++;
	if (event_done)
		r->done_last = r->calls;
	else if (r->done_last)
		r->done_early++;	/* a report after the event's last */
	snprintf(r->id, sizeof(r->id), "%s", id);
}

/*
 * The done hook runs on its loop (handed over by util/loopq), never on the
 * worker: nothing is heard until the loop runs; then each notice once, the
 * last one marked.  Reports the loop has not run yet come in notify_free().
 */
static void test_done_hook(void)
{
	struct notify_event ev = test_event("restricted", "ev-done");
	struct event_base *base = event_base_new();
	struct done_rec rec = { .loop = pthread_self() };
	struct notify_stats st;
	struct notify *n;
	struct config *c;
	struct sink s;
	int i;

	if (!ok(sink_start(&s, 0, false) == 0, "done hook: SMTP sink started")) {
		event_base_free(base);
		return;
	}
	c = sink_config(s.port);
	set_str(&c->abuse_desk, "abuse@example.jp");
	n = notify_new(c);
	notify_set_done_hook(n, base, done_hook, &rec);
	notify_event(n, &ev);
	WAIT_UNTIL(n, st, st.sent >= 2 && st.pending == 0, 10000);
	is_int(st.sent, 2, "done hook: customer and abuse desk notices sent");
	is_int(rec.calls, 0, "done hook: nothing heard before the loop runs");
	/* The worker posts just after counting: poll, at most 1 s. */
	for (i = 0; i < 50 && rec.calls < 2; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (rec.calls < 2)
			usleep(20000);
	}
	is_int(rec.calls, 2, "done hook: one report per notice");
	is_int(rec.off_loop, 0, "done hook: on the loop thread");
	is_int(rec.with_key, 2, "done hook: each names its notice");
	is_int(rec.done_last, 2, "done hook: the last report ends the event");
	is_int(rec.done_early, 0, "done hook: nothing after the event's end");
	is_str(rec.id, "ev-done", "done hook: the event id");
	is_int(rec.sent, 2, "done hook: each reported sent");
	is_str(rec.login, ev.login, "done hook: the event's account");

	ev.id = "ev-done-2";
	notify_event(n, &ev);
	WAIT_UNTIL(n, st, st.sent >= 4 && st.pending == 0, 10000);
	rec.done_last = 0;
	notify_free(n);		/* the loop never ran for these */
	is_int(rec.calls, 4, "done hook: notify_free delivers what is left");
	is_int(rec.done_last, 4, "done hook: in order, the end last");
	is_int(rec.off_loop, 0, "done hook: on notify_free's caller");

	/* Refused for good (5xx): reported given up, not sent. */
	memset(&rec, 0, sizeof(rec));
	rec.loop = pthread_self();
	pthread_mutex_lock(&s.lock);
	s.reject_rcpt = true;
	pthread_mutex_unlock(&s.lock);
	ev.id = "ev-done-550";
	n = notify_new(c);
	notify_set_done_hook(n, base, done_hook, &rec);
	notify_event(n, &ev);
	WAIT_UNTIL(n, st, st.gave_up >= 2 && st.pending == 0, 10000);
	notify_free(n);		/* delivers the reports */
	is_int(rec.gave_up, 2, "done hook: a 5xx is reported given up");
	is_int(rec.sent, 0, "done hook: and not sent");
	is_str(notify_outcome_name(NOTIFY_OUT_REFUSED), "refused",
	       "outcome name: refused");
	is_str(notify_outcome_name((enum notify_outcome)99), "none",
	       "outcome name: out of range is none");
	sink_stop(&s);
	config_free(c);
	event_base_free(base);
}

/* One row of an evidence log: count those naming want_notice with
 * want_outcome. */
struct notice_rows {
	const char *want_notice, *want_outcome;
	int n;
};

/* store_log callback: count matching notice rows. */
static void notice_row(void *arg, int result, const char *key,
		       const char *value, int64_t ts)
{
	struct notice_rows *r = arg;
	json_t *j;

	(void)result;
	(void)ts;
	if (!key || !(j = json_loads(value, 0, NULL)))
		return;
	if (json_string_value(json_object_get(j, "notice")) &&
	    strcmp(json_string_value(json_object_get(j, "notice")),
		   r->want_notice) == 0 &&
	    json_string_value(json_object_get(j, "outcome")) &&
	    strcmp(json_string_value(json_object_get(j, "outcome")),
		   r->want_outcome) == 0 &&
	    json_string_value(json_object_get(j, "id")) &&
	    strcmp(json_string_value(json_object_get(j, "id")),
		   "ev-outbox") == 0)
		r->n++;
	json_decref(j);
}

/* How many rows of login's evidence log name notice with outcome. */
static int count_notice_rows(struct store *st, const char *login,
			     const char *notice, const char *outcome)
{
	struct notice_rows r = { notice, outcome, 0 };

	store_log(st, "event", login, notice_row, &r);
	return r.n;
}

/* The stored outbox record of id (malloc'd JSON text), or NULL. */
static void got_value(void *arg, int result, const char *value)
{
	char **out = arg;

	*out = result == STORE_OK && value ? xstrdup(value) : NULL;
}

/*
 * core/outbox.c across a restart: the webhook goes out, the relay is down
 * for the mail; mamorid stops (notify freed with the mail pending); the
 * record in the store names the webhook as done.  After the restart the
 * relay is up: the replay sends the mail and not the webhook again, and
 * the record is deleted.
 */
static void test_outbox_restart(void)
{
	struct notify_event ev = test_event("restricted", "ev-outbox");
	struct event_base *base = event_base_new();
	struct config *c = sink_config(closed_port());
	struct notify_stats st;
	struct store *store = NULL;
	struct outbox *o;
	struct notify *n;
	struct sink smtp, http;
	char url[64], err[256] = "", *rec = NULL;
	json_t *j;
	int i;

	if (!ok(sink_start(&http, 0, true) == 0 && sink_start(&smtp, 0, false)
		== 0, "outbox: sinks started") ||
	    !ok(store_open("memory:", base, &store, err, sizeof(err)) == 0,
		"outbox: memory store (%s)", err)) {
		config_free(c);
		return;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", http.port);
	set_str(&c->webhook_url, url);
	c->notify_retry_interval = 3600;
	n = notify_new(c);
	o = outbox_new(base, store, n);
	outbox_submit(o, &ev);
	WAIT_UNTIL(n, st, st.sent >= 1 && st.failed_attempts >= 1, 10000);
	ok(st.sent == 1 && st.pending == 1,
	   "outbox: webhook sent, the mail waits for a dead relay");
	notify_free(n);		/* mamorid stops */
	outbox_free(o);
	store_get(store, OUTBOX_NS, "ev-outbox", got_value, &rec);
	j = rec ? json_loads(rec, 0, NULL) : NULL;
	ok(j != NULL, "outbox: the event is still in the store");
	is_str(json_string_value(json_array_get(json_object_get(j, "done"), 0)),
	       "webhook", "outbox: with the webhook recorded as done");
	is_int(json_array_size(json_object_get(j, "done")), 1,
	       "outbox: and only the webhook");
	is_int(count_notice_rows(store, ev.login, "webhook", "sent"), 1,
	       "outbox: the account's evidence logs the webhook sent");
	is_int(count_notice_rows(store, ev.login,
				 "mail:customer:taro@example.jp", "sent"), 0,
	       "outbox: and not the mail still waiting");
	json_decref(j);
	free(rec);
	rec = NULL;

	/* Restart with the relay up. */
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", smtp.port);
	set_str(&c->notify_smtp_url, url);
	n = notify_new(c);
	o = outbox_new(base, store, n);
	is_int(outbox_replay(o), 1, "outbox: one event replayed");
	WAIT_UNTIL(n, st, st.sent >= 1 && st.pending == 0, 10000);
	is_int(st.sent, 1, "outbox: the mail sent after the restart");
	/* The loop applies the worker's news: poll, at most 1 s. */
	for (i = 0; i < 50; i++) {
		free(rec);
		event_base_loop(base, EVLOOP_NONBLOCK);
		store_get(store, OUTBOX_NS, "ev-outbox", got_value, &rec);
		if (!rec)
			break;
		usleep(20000);
	}
	ok(rec == NULL, "outbox: the record is deleted once all is sent");
	is_int(count_notice_rows(store, ev.login,
				 "mail:customer:taro@example.jp", "sent"), 1,
	       "outbox: the account's evidence logs the mail sent");
	is_int(count_notice_rows(store, ev.login, "webhook", "sent"), 1,
	       "outbox: the webhook logged once");
	free(rec);
	notify_free(n);
	outbox_free(o);
	pthread_mutex_lock(&http.lock);
	is_int(http.nreq, 1, "outbox: the webhook was not sent twice");
	pthread_mutex_unlock(&http.lock);
	pthread_mutex_lock(&smtp.lock);
	ok(smtp.ntxn == 1 && txn_for(&smtp, "taro@example.jp"),
	   "outbox: the customer's mail arrived once");
	pthread_mutex_unlock(&smtp.lock);
	sink_stop(&http);
	sink_stop(&smtp);
	store_close(store);
	event_base_free(base);
	config_free(c);
}

int main(void)
{
	test_setup("test-notify-send");
	evthread_use_pthreads();	/* the outbox's loop hears the worker */
	test_outbox_restart();
	test_done_hook();
	test_delivery();
	test_webhook();
	test_retry();
	test_permanent_failure();
	test_queue_full();
	test_reconfigure_retry();
	test_free_pending();
	test_cleanup();
	return tap_done();
}
