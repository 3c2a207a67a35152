/*
 * detsim-wire - blocking policy and auth-policy clients for the
 * detection evaluation's real-time run (see detsim-wire.h).  Replies are
 * read into fixed buffers (8 KiB); anything longer is an error.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "detsim-wire.h"

#define REPLY_MAX 8192

struct conn {
	char host[256], port[16];
	int fd;
};

struct ds_wire {
	struct conn pol, auth;
	bool have_auth;
	char key[256];
	unsigned long errors;
};

/* Split HOST:PORT into c. */
static int conn_init(struct conn *c, const char *hp)
{
	const char *colon = strrchr(hp, ':');

	c->fd = -1;
	if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof(c->host) ||
	    strlen(colon + 1) >= sizeof(c->port))
		return -1;
	memcpy(c->host, hp, (size_t)(colon - hp));
	c->host[colon - hp] = '\0';
	snprintf(c->port, sizeof(c->port), "%s", colon + 1);
	return 0;
}

/* Connect c if it is not; 0 or -1. */
static int conn_open(struct conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int one = 1;

	if (c->fd >= 0)
		return 0;
	if (getaddrinfo(c->host, c->port, &hints, &ai) != 0)
		return -1;
	c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Write all of buf. */
static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t k = write(fd, buf, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		buf += k;
		n -= (size_t)k;
	}
	return 0;
}

struct ds_wire *ds_wire_new(const char *policy, const char *auth,
			    const char *api_key, char *err, size_t errsz)
{
	struct ds_wire *w = calloc(1, sizeof(*w));

	if (!w)
		abort();
	if (conn_init(&w->pol, policy) != 0 || conn_open(&w->pol) != 0) {
		snprintf(err, errsz, "policy %s: cannot connect", policy);
		free(w);
		return NULL;
	}
	w->auth.fd = -1;
	if (auth) {
		if (conn_init(&w->auth, auth) != 0 ||
		    conn_open(&w->auth) != 0) {
			snprintf(err, errsz, "auth policy %s: cannot connect",
				 auth);
			conn_close(&w->pol);
			free(w);
			return NULL;
		}
		w->have_auth = true;
	}
	snprintf(w->key, sizeof(w->key), "%s", api_key ? api_key : "");
	return w;
}

void ds_wire_free(struct ds_wire *w)
{
	if (!w)
		return;
	conn_close(&w->pol);
	conn_close(&w->auth);
	free(w);
}

unsigned long ds_wire_errors(const struct ds_wire *w)
{
	return w ? w->errors : 0;
}

/* Is a reply complete?  Returns the bytes it needs in all (0: unknown
 * yet, keep reading). */
typedef size_t reply_need_fn(const char *buf, size_t n);

/* Read into buf (NUL-terminated) until need says the reply is whole. */
static int read_reply(int fd, char *buf, size_t cap, reply_need_fn *need)
{
	size_t n = 0, want;

	while (n + 1 < cap) {
		ssize_t k = read(fd, buf + n, cap - 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		n += (size_t)k;
		buf[n] = '\0';
		if ((want = need(buf, n)) && n >= want)
			return 0;
	}
	return -1;
}

/* A policy reply ends with an empty line. */
static size_t policy_need(const char *buf, size_t n)
{
	const char *end = strstr(buf, "\n\n");

	(void)n;
	return end ? (size_t)(end + 2 - buf) : 0;
}

/* The verdict an access(5) action word means. */
static int action_of(const char *a)
{
	if (!strncasecmp(a, "DEFER", 5) || a[0] == '4')
		return VERDICT_DEFER;
	if (!strncasecmp(a, "HOLD", 4))
		return VERDICT_HOLD;
	if (!strncasecmp(a, "REJECT", 6) || a[0] == '5')
		return VERDICT_REJECT;
	return VERDICT_DUNNO;
}

int ds_wire_policy(struct ds_wire *w, const struct outbound_request *r)
{
	char req[4096], rep[REPLY_MAX], *act;
	int n, tries;

	n = snprintf(req, sizeof(req),
		     "request=smtpd_access_policy\nprotocol_state=%s\n"
		     "protocol_name=ESMTP\nclient_address=%s\n"
		     "client_name=unknown\nclient_port=50000\n"
		     "reverse_client_name=unknown\n"
		     "server_address=127.0.0.1\nserver_port=587\n"
		     "helo_name=client.example\nsender=%s\nrecipient=%s\n"
		     "recipient_count=%ld\nqueue_id=%s\ninstance=%s\n"
		     "size=%ld\netrn_domain=\nstress=\nsasl_method=PLAIN\n"
		     "sasl_username=%s\nsasl_sender=\nccert_subject=\n"
		     "ccert_issuer=\nccert_fingerprint=\n"
		     "ccert_pubkey_fingerprint=\n"
		     "encryption_protocol=TLSv1.3\n"
		     "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
		     "encryption_keysize=256\npolicy_context=\n\n",
		     r->stage == OUT_RCPT ? "RCPT" : "END-OF-MESSAGE",
		     r->client_address, r->sender,
		     r->recipient ? r->recipient : "",
		     r->stage == OUT_RCPT ? 0L : r->recipient_count,
		     r->queue_id ? r->queue_id : "", r->instance, r->size,
		     r->login);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		w->errors++;
		return VERDICT_DUNNO;
	}
	for (tries = 0; tries < 2; tries++) {
		if (conn_open(&w->pol) != 0 ||
		    write_all(w->pol.fd, req, (size_t)n) != 0 ||
		    read_reply(w->pol.fd, rep, sizeof(rep), policy_need) != 0) {
			conn_close(&w->pol);
			continue;
		}
		act = strstr(rep, "action=");
		if (!act)
			break;
		return action_of(act + 7);
	}
	w->errors++;
	return VERDICT_DUNNO;
}

/* An HTTP response ends after its headers and Content-Length bytes. */
static size_t http_need(const char *buf, size_t n)
{
	const char *hdr_end = strstr(buf, "\r\n\r\n"), *cl;

	(void)n;
	if (!hdr_end)
		return 0;
	cl = strcasestr(buf, "\r\nContent-Length:");
	return (size_t)(hdr_end + 4 - buf) +
	       (cl && cl < hdr_end ? strtoul(cl + 17, NULL, 10) : 0);
}

/* Read an HTTP response into buf; *body points at the body.  -1 unless
 * the status is 2xx. */
static int read_http(int fd, char *buf, size_t cap, char **body)
{
	if (read_reply(fd, buf, cap, http_need) != 0)
		return -1;
	*body = strstr(buf, "\r\n\r\n") + 4;
	return strncmp(buf, "HTTP/1.1 2", 10) &&
	       strncmp(buf, "HTTP/1.0 2", 10) ? -1 : 0;
}

int ds_wire_login(struct ds_wire *w, const struct core_login_request *r)
{
	char hdr[1024], rep[REPLY_MAX], *body, *txt;
	json_t *o, *reply;
	int n, tries, status = 0;
	bool report = r->command == CORE_LOGIN_REPORT;

	if (!w->have_auth)
		return 0;
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
		      "device_id", "", "login", r->login, "protocol",
		      r->protocol, "pwhash", r->pwhash, "remote", r->remote,
		      "session_id", r->session_id, "tls", r->tls);
	if (report) {
		json_object_set_new(o, "success", json_boolean(r->success));
		json_object_set_new(o, "policy_reject",
				    json_boolean(r->policy_reject));
	}
	txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	n = snprintf(hdr, sizeof(hdr),
		     "POST /?command=%s HTTP/1.1\r\nHost: %s\r\n"
		     "User-Agent: dovecot/auth-policy-client\r\n"
		     "Content-Type: application/json\r\n%s%s%s"
		     "Content-Length: %zu\r\n\r\n",
		     report ? "report" : "allow", w->auth.host,
		     w->key[0] ? "X-API-Key: " : "", w->key,
		     w->key[0] ? "\r\n" : "", strlen(txt));
	for (tries = 0; tries < 2; tries++) {
		if (conn_open(&w->auth) != 0 ||
		    write_all(w->auth.fd, hdr, (size_t)n) != 0 ||
		    write_all(w->auth.fd, txt, strlen(txt)) != 0 ||
		    read_http(w->auth.fd, rep, sizeof(rep), &body) != 0) {
			conn_close(&w->auth);
			continue;
		}
		reply = json_loads(body, 0, NULL);
		if (json_is_integer(json_object_get(reply, "status")))
			status = (int)json_integer_value(
				json_object_get(reply, "status"));
		json_decref(reply);
		free(txt);
		return status;
	}
	free(txt);
	w->errors++;
	return 0;
}

json_t *ds_wire_api_get(const char *sock, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t cap = 1 << 16, n = 0, max = 16u << 20;
	char req[512], *buf = NULL, *body;
	json_t *out = NULL;
	int fd, k;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return NULL;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return NULL;
	k = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || k < 0 ||
	    (size_t)k >= sizeof(req) || write_all(fd, req, (size_t)k) != 0)
		goto done;
	if (!(buf = malloc(cap)))
		abort();
	for (;;) {
		ssize_t r;

		if (n + 1 == cap) {
			if (cap >= max)
				goto done;
			cap *= 2;
			if (!(buf = realloc(buf, cap)))
				abort();
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto done;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 9, "200", 3) ||
	    !(body = strstr(buf, "\r\n\r\n")))
		goto done;
	out = json_loads(body + 4, 0, NULL);
done:
	free(buf);
	close(fd);
	return out;
}
