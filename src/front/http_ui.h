/*
 * http_ui - the admin web UI's sessions and request checks, for
 * http_api.c (which serves the UI's files from http_ui_assets.h on the
 * same listeners as the JSON API).  docs/webui.md describes the whole.
 *
 * A browser signs in with the API token (TCP) or, on the unix socket
 * behind a proxy that authenticates, without one, and gets a session: a
 * random 256-bit id in an HttpOnly, SameSite=Strict cookie, and a second
 * random value, the CSRF token, that the page reads from GET /ui/session
 * and sends back in the X-Mamori-CSRF header of every state-changing
 * request.  Sessions live UI_SESSION_TTL seconds from sign-in; at most
 * UI_MAX_SESSIONS exist, a new one replacing the oldest.  A new api_token
 * (SIGHUP) ends them all.
 *
 * Threading: the event-loop thread only.
 */
#ifndef MAMORI_HTTP_UI_H
#define MAMORI_HTTP_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "front/http_ui_assets.h"

#define UI_SESSION_TTL (8 * 3600)	/* one working day */
#define UI_MAX_SESSIONS 32		/* a desk's worth of browsers */
#define UI_ID_HEX 64			/* 32 random bytes as hex */
#define UI_COOKIE "mamori_session"

struct http_ui;

/* One signed-in browser. */
struct ui_session {
	char id[UI_ID_HEX + 1];		/* the cookie's value */
	char csrf[UI_ID_HEX + 1];	/* X-Mamori-CSRF */
	char actor[48];			/* who signed in: "ui:api-token" ... */
	int64_t created, expires;
	bool used;
};

/* An empty session table. */
struct http_ui *http_ui_new(void);
/* Free ui; NULL is a no-op.  Session secrets are wiped. */
void http_ui_free(struct http_ui *ui);
/* End every session (the token changed). */
void http_ui_forget(struct http_ui *ui);

/* The asset served at /ui/name ("" = index.html), or NULL. */
const struct http_ui_asset *http_ui_asset(const char *name);

/*
 * A new session for actor (the caller's actor: "api-token",
 * "admin:uid=N"; the session's actor is "ui:" and that), replacing the
 * oldest when the table is full.  Owned by ui.  NULL only if the random
 * source fails.
 */
const struct ui_session *http_ui_session_new(struct http_ui *ui,
					     const char *actor, int64_t now);
/* The live session whose id the Cookie header cookie names, or NULL.
 * cookie may be NULL.  Compares in constant time per session. */
const struct ui_session *http_ui_session_find(struct http_ui *ui,
					      const char *cookie,
					      int64_t now);
/* End the session s (sign-out). */
void http_ui_session_end(struct http_ui *ui, const struct ui_session *s);
/* Does the X-Mamori-CSRF header value hdr match s's token? */
bool http_ui_csrf_ok(const struct ui_session *s, const char *hdr);
/*
 * Is origin (an Origin header; NULL when absent) the site host (the Host
 * header, or X-Forwarded-Host behind a proxy) names?  "null", another
 * host or port, or a missing Host is refused.
 */
bool http_ui_origin_ok(const char *origin, const char *host);
/* The Set-Cookie value that installs s (secure: add Secure), or that
 * clears the cookie (s NULL), into out[outsz]. */
void http_ui_cookie(const struct ui_session *s, bool secure, int64_t now,
		    char *out, size_t outsz);

/* ------------------------------------------------------------------ */
/* Requests (evhttp)                                                    */

struct evhttp_request;
struct evkeyvalq;

/* Add the headers every answer carries: the Content-Security-Policy
 * (no inline script, no framing), nosniff, no referrer. */
void http_ui_security_headers(struct evkeyvalq *h);

/*
 * Serve the UI's own paths: GET /ui (a redirect), /ui/NAME (the files), GET
 * /ui/session, POST /ui/login and /ui/logout.  tcp: the request came on
 * the TCP listener, so signing in takes the API token, whose SHA-256
 * digest is token_hash (have_token: one is set).  actor is the caller as
 * the API names it.  Answers and returns true for these paths (path is
 * the raw URI path); false for any other path, untouched.
 */
bool http_ui_request(struct http_ui *ui, struct evhttp_request *req,
		     const char *path, bool tcp, const char *actor,
		     const unsigned char token_hash[32], bool have_token);

/*
 * The CSRF gate for an API request not authorized by a bearer token: a
 * request that changes state (not GET or HEAD) and comes from a browser
 * (a session s, or an Origin, Cookie or Sec-Fetch-Site header) must carry
 * s's token in X-Mamori-CSRF and an Origin of this site.  0 when it may
 * go on, else 403 with err set.  The CLI (no such headers) passes.
 */
int http_ui_gate(const struct ui_session *s, struct evhttp_request *req,
		 bool tcp, char *err, size_t errsz);

#endif
