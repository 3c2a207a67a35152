/*
 * http_ui - admin web UI sessions, CSRF tokens and Origin checks; see
 * http_ui.h.  No I/O: http_api.c reads the headers and writes the replies.
 *
 * Limits and why: UI_MAX_SESSIONS bounds memory and the time a cookie
 * lookup takes (a linear, constant-time compare over the table);
 * UI_SESSION_TTL bounds how long a stolen cookie is worth anything.
 * Random values come from OpenSSL's RAND_bytes (the CSPRNG).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "front/http_ui.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

struct http_ui {
	struct ui_session s[UI_MAX_SESSIONS];
};

struct http_ui *http_ui_new(void)
{
	return xcalloc(1, sizeof(struct http_ui));
}

void http_ui_free(struct http_ui *ui)
{
	if (!ui)
		return;
	OPENSSL_cleanse(ui, sizeof(*ui));
	free(ui);
}

void http_ui_forget(struct http_ui *ui)
{
	OPENSSL_cleanse(ui->s, sizeof(ui->s));
}

const struct http_ui_asset *http_ui_asset(const char *name)
{
	const struct http_ui_asset *a;

	if (!name[0])
		name = "index.html";
	for (a = http_ui_assets; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

/* Fill hex[UI_ID_HEX + 1] with 32 random bytes; false if RAND fails. */
static bool random_hex(char hex[UI_ID_HEX + 1])
{
	unsigned char b[UI_ID_HEX / 2];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return false;
	buf_hex(b, sizeof(b), hex);
	OPENSSL_cleanse(b, sizeof(b));
	return true;
}

const struct ui_session *http_ui_session_new(struct http_ui *ui,
					     const char *actor, int64_t now)
{
	struct ui_session *slot = NULL;
	size_t i;

	/* A free or expired slot, else the oldest session. */
	for (i = 0; i < UI_MAX_SESSIONS; i++) {
		struct ui_session *s = &ui->s[i];

		if (!s->used || s->expires <= now) {
			slot = s;
			break;
		}
		if (!slot || s->created < slot->created)
			slot = s;
	}
	OPENSSL_cleanse(slot, sizeof(*slot));
	if (!random_hex(slot->id) || !random_hex(slot->csrf)) {
		OPENSSL_cleanse(slot, sizeof(*slot));
		return NULL;
	}
	snprintf(slot->actor, sizeof(slot->actor), "ui:%s", actor);
	slot->created = now;
	slot->expires = now + UI_SESSION_TTL;
	slot->used = true;
	return slot;
}

/* The value of cookie name in a Cookie header (RFC 6265 5.4), copied into
 * out[UI_ID_HEX + 1]; false when absent or not UI_ID_HEX long. */
static bool cookie_value(const char *h, const char *name, char *out)
{
	size_t nl = strlen(name);

	while (h && *h) {
		const char *end;

		while (*h == ' ' || *h == ';')
			h++;
		end = strchr(h, ';');
		if (!end)
			end = h + strlen(h);
		if ((size_t)(end - h) == nl + 1 + UI_ID_HEX &&
		    strncmp(h, name, nl) == 0 && h[nl] == '=') {
			memcpy(out, h + nl + 1, UI_ID_HEX);
			out[UI_ID_HEX] = '\0';
			return true;
		}
		h = end;
	}
	return false;
}

const struct ui_session *http_ui_session_find(struct http_ui *ui,
					      const char *cookie,
					      int64_t now)
{
	const struct ui_session *hit = NULL;
	char id[UI_ID_HEX + 1];
	size_t i;

	if (!cookie_value(cookie, UI_COOKIE, id))
		return NULL;
	/* Every slot is compared, in constant time each. */
	for (i = 0; i < UI_MAX_SESSIONS; i++) {
		const struct ui_session *s = &ui->s[i];

		if (CRYPTO_memcmp(s->id, id, UI_ID_HEX) == 0 && s->used &&
		    s->expires > now)
			hit = s;
	}
	OPENSSL_cleanse(id, sizeof(id));
	return hit;
}

void http_ui_session_end(struct http_ui *ui, const struct ui_session *s)
{
	size_t i;

	for (i = 0; i < UI_MAX_SESSIONS; i++)
		if (&ui->s[i] == s)
			OPENSSL_cleanse(&ui->s[i], sizeof(ui->s[i]));
}

bool http_ui_csrf_ok(const struct ui_session *s, const char *hdr)
{
	if (!s || !hdr || strlen(hdr) != UI_ID_HEX)
		return false;
	return CRYPTO_memcmp(s->csrf, hdr, UI_ID_HEX) == 0;
}

bool http_ui_origin_ok(const char *origin, const char *host)
{
	const char *o;

	if (!origin || !host || !host[0])
		return false;
	if (strncmp(origin, "http://", 7) == 0)
		o = origin + 7;
	else if (strncmp(origin, "https://", 8) == 0)
		o = origin + 8;
	else
		return false;	/* "null", other schemes */
	/* Host names compare without regard to case (RFC 3986 3.2.2). */
	return strcasecmp(o, host) == 0;
}

void http_ui_cookie(const struct ui_session *s, bool secure, int64_t now,
		    char *out, size_t outsz)
{
	if (s)
		snprintf(out, outsz,
			 UI_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; "
			 "SameSite=Strict%s",
			 s->id, (long long)(s->expires - now),
			 secure ? "; Secure" : "");
	else
		snprintf(out, outsz,
			 UI_COOKIE "=; Path=/; Max-Age=0; HttpOnly; "
			 "SameSite=Strict%s", secure ? "; Secure" : "");
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */

void http_ui_security_headers(struct evkeyvalq *h)
{
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'self'; script-src 'self'; "
			  "object-src 'none'; frame-ancestors 'none'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
}

/* The request header name, or NULL. */
static const char *hdr(struct evhttp_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* The host the browser addressed: X-Forwarded-Host from the proxy in
 * front of the unix socket, else Host. */
static const char *site_host(struct evhttp_request *req, bool tcp)
{
	const char *fh = tcp ? NULL : hdr(req, "X-Forwarded-Host");

	return fh ? fh : hdr(req, "Host");
}

/* Answer status with ctype and len bytes of data, and one log line. */
static void ui_reply(struct evhttp_request *req, int status,
		     const char *reason, const char *ctype, const void *data,
		     size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	http_ui_security_headers(h);
	if (out)
		evbuffer_add(out, data, len);
	evhttp_send_reply(req, status, reason, out);
	if (out)
		evbuffer_free(out);
}

/* Answer a JSON object j (a reference we take over). */
static void ui_json(struct evhttp_request *req, int status,
		    const char *reason, json_t *j)
{
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	ui_reply(req, t ? status : 500, t ? reason : "Internal Server Error",
		 "application/json", t ? t : "{}", t ? strlen(t) : 2);
	free(t);
}

/* Log one UI request line. */
static void ui_log(enum log_level lvl, struct evhttp_request *req,
		   const char *what, int status, const char *actor,
		   const char *extra)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	char aq[LOG_QSZ];
	char *host = NULL;
	ev_uint16_t port = 0;

	if (c)
		evhttp_connection_get_peer(c, &host, &port);
	log_msg(lvl, "event=ui_request what=%s status=%d actor=%s peer=%s:%u%s",
		what, status, log_q(aq, sizeof(aq), actor),
		host && *host ? host : "unix", (unsigned)port, extra);
}

/* Is the request over TLS at the proxy in front of us? */
static bool behind_tls(struct evhttp_request *req)
{
	const char *p = hdr(req, "X-Forwarded-Proto");

	return p && strcasecmp(p, "https") == 0;
}

/* The session's answer: its CSRF token, actor and end. */
static json_t *session_json(const struct ui_session *s)
{
	return json_pack("{s:s, s:s, s:I}", "csrf", s->csrf, "actor",
			 s->actor, "expires", (json_int_t)s->expires);
}

/* POST /ui/login {"token": T}: a new session and its cookie. */
static void ui_login(struct http_ui *ui, struct evhttp_request *req,
		     bool tcp, const char *actor,
		     const unsigned char token_hash[32], bool have_token)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	int64_t now = (int64_t)time(NULL);
	const struct ui_session *s;
	char cookie[256], extra[64];
	json_t *doc = NULL;

	if (!http_ui_origin_ok(hdr(req, "Origin"), site_host(req, tcp))) {
		ui_log(LOG_L_WARN, req, "login", 403, actor,
		       " auth=failed error=origin");
		ui_json(req, 403, "Forbidden", json_pack("{s:s}", "error",
			"sign-in from another site refused (Origin)"));
		return;
	}
	if (tcp) {
		const char *tok = NULL;
		unsigned char got[32];
		unsigned int dl = sizeof(got);

		if (len)
			doc = json_loadb((const char *)evbuffer_pullup(in, -1),
					 len, 0, NULL);
		if (json_is_object(doc))
			tok = json_string_value(json_object_get(doc, "token"));
		if (!tok || !have_token ||
		    !EVP_Digest(tok, strlen(tok), got, &dl, EVP_sha256(),
				NULL) ||
		    CRYPTO_memcmp(got, token_hash, sizeof(got)) != 0) {
			json_decref(doc);
			ui_log(LOG_L_WARN, req, "login", 401, "-",
			       " auth=failed");
			ui_json(req, 401, "Unauthorized", json_pack("{s:s}",
				"error", "wrong token"));
			return;
		}
		json_decref(doc);
	}
	s = http_ui_session_new(ui, actor, now);
	if (!s) {
		ui_json(req, 500, "Internal Server Error",
			json_pack("{s:s}", "error", "no random bytes"));
		return;
	}
	http_ui_cookie(s, behind_tls(req), now, cookie, sizeof(cookie));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
			  cookie);
	/* The id's first 8 hex digits name the session in the log. */
	snprintf(extra, sizeof(extra), " session=%.8s", s->id);
	ui_log(LOG_L_INFO, req, "login", 200, s->actor, extra);
	ui_json(req, 200, "OK", session_json(s));
}

/* GET /ui/session and POST /ui/logout. */
static void ui_session_req(struct http_ui *ui, struct evhttp_request *req,
			   bool tcp, bool logout)
{
	const struct ui_session *s =
		http_ui_session_find(ui, hdr(req, "Cookie"),
				     (int64_t)time(NULL));
	char cookie[128], err[128];

	if (!s) {
		ui_json(req, 401, "Unauthorized", json_pack("{s:s, s:b}",
			"error", "not signed in", "token_required", tcp));
		return;
	}
	if (!logout) {
		ui_json(req, 200, "OK", session_json(s));
		return;
	}
	if (http_ui_gate(s, req, tcp, err, sizeof(err))) {
		ui_json(req, 403, "Forbidden", json_pack("{s:s}", "error", err));
		return;
	}
	ui_log(LOG_L_INFO, req, "logout", 200, s->actor, "");
	http_ui_session_end(ui, s);
	http_ui_cookie(NULL, behind_tls(req), 0, cookie, sizeof(cookie));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
			  cookie);
	ui_json(req, 200, "OK", json_object());
}

bool http_ui_request(struct http_ui *ui, struct evhttp_request *req,
		     const char *path, bool tcp, const char *actor,
		     const unsigned char token_hash[32], bool have_token)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	bool get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
	const struct http_ui_asset *a;

	/* "/" stays the API's (404): the UI lives under /ui/. */
	if (strcmp(path, "/ui") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Location", "/ui/");
		ui_reply(req, 302, "Found", "text/plain", "", 0);
		return true;
	}
	if (strncmp(path, "/ui/", 4) != 0)
		return false;
	path += 4;
	if (strcmp(path, "login") == 0 && m == EVHTTP_REQ_POST)
		ui_login(ui, req, tcp, actor, token_hash, have_token);
	else if (strcmp(path, "logout") == 0 && m == EVHTTP_REQ_POST)
		ui_session_req(ui, req, tcp, true);
	else if (strcmp(path, "session") == 0 && get)
		ui_session_req(ui, req, tcp, false);
	else if (get && (a = http_ui_asset(path)) != NULL)
		ui_reply(req, 200, "OK", a->ctype, a->data, a->len);
	else
		ui_json(req, get ? 404 : 405, get ? "Not Found" :
			"Method Not Allowed", json_pack("{s:s}", "error",
			get ? "no such resource" : "method not allowed here"));
	return true;
}

int http_ui_gate(const struct ui_session *s, struct evhttp_request *req,
		 bool tcp, char *err, size_t errsz)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	bool browser = s || hdr(req, "Origin") || hdr(req, "Cookie") ||
		       hdr(req, "Sec-Fetch-Site");

	if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD || !browser)
		return 0;
	if (!s)
		snprintf(err, errsz, "sign in to the web UI first (/ui/)");
	else if (!http_ui_csrf_ok(s, hdr(req, "X-Mamori-CSRF")))
		snprintf(err, errsz, "missing or wrong X-Mamori-CSRF token");
	else if (!http_ui_origin_ok(hdr(req, "Origin"), site_host(req, tcp)))
		snprintf(err, errsz, "cross-site request refused (Origin)");
	else
		return 0;
	return 403;
}
