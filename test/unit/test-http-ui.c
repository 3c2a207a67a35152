/*
 * test-http-ui - the web UI's sessions, CSRF tokens, Origin check, cookie
 * and the files built into the binary (front/http_ui.c).  The HTTP side
 * (403 without the token, the CSP header) is exercised in a real browser
 * by test/integration/t-webui.sh.
 */
#include <stdio.h>
#include <string.h>

#include "front/http_ui.h"
#include "tap.h"

static const struct {
	const char *label, *origin, *host;
	bool ok;
} origins[] = {
	{"same host and port", "http://127.0.0.1:8080", "127.0.0.1:8080", true},
	{"https behind a proxy", "https://mail.example", "mail.example", true},
	{"host case differs", "http://Admin.Example", "admin.example", true},
	{"another port", "http://127.0.0.1:8081", "127.0.0.1:8080", false},
	{"another host", "http://evil.example", "127.0.0.1:8080", false},
	{"suffix trick", "http://127.0.0.1:8080.evil.example", "127.0.0.1:8080", false},
	{"opaque origin", "null", "127.0.0.1:8080", false},
	{"no Origin", NULL, "127.0.0.1:8080", false},
	{"no Host", "http://127.0.0.1:8080", NULL, false},
	{"other scheme", "file://127.0.0.1:8080", "127.0.0.1:8080", false},
};

int main(void)
{
	struct http_ui *ui = http_ui_new();
	const struct ui_session *s, *first, *again;
	char cookie[256], hdr[300];
	size_t i;

	for (i = 0; i < sizeof(origins) / sizeof(origins[0]); i++)
		ok(http_ui_origin_ok(origins[i].origin, origins[i].host) ==
		   origins[i].ok, "origin: %s", origins[i].label);

	first = s = http_ui_session_new(ui, "api-token", 1000);
	ok(s && strlen(s->id) == UI_ID_HEX && strlen(s->csrf) == UI_ID_HEX &&
	   strcmp(s->id, s->csrf) != 0, "session: random id and CSRF token");
	is_str(s->actor, "ui:api-token", "session: actor says ui:");
	snprintf(hdr, sizeof(hdr), "a=b; " UI_COOKIE "=%s; c=d", s->id);
	ok(http_ui_session_find(ui, hdr, 1001) == s,
	   "cookie: found among other cookies");
	ok(http_ui_session_find(ui, hdr, 1000 + UI_SESSION_TTL) == NULL,
	   "cookie: expired after UI_SESSION_TTL");
	hdr[strlen(hdr) - 6] ^= 1;	/* one hex digit of the id changed */
	ok(http_ui_session_find(ui, hdr, 1001) == NULL,
	   "cookie: a wrong id finds nothing");
	ok(http_ui_session_find(ui, UI_COOKIE "=short", 1001) == NULL,
	   "cookie: a short value finds nothing");
	ok(http_ui_session_find(ui, NULL, 1001) == NULL,
	   "cookie: no Cookie header");
	ok(http_ui_csrf_ok(s, s->csrf), "csrf: the session's token passes");
	ok(!http_ui_csrf_ok(s, s->id), "csrf: the cookie value does not");
	ok(!http_ui_csrf_ok(s, NULL), "csrf: a missing header does not");
	ok(!http_ui_csrf_ok(NULL, "x"), "csrf: no session, no pass");

	http_ui_cookie(s, false, 1000, cookie, sizeof(cookie));
	ok(strstr(cookie, "HttpOnly") && strstr(cookie, "SameSite=Strict") &&
	   strstr(cookie, "Max-Age=28800") && !strstr(cookie, "Secure"),
	   "cookie: HttpOnly, SameSite=Strict, bounded, no Secure on http");
	http_ui_cookie(s, true, 1000, cookie, sizeof(cookie));
	ok(strstr(cookie, "; Secure") != NULL, "cookie: Secure behind TLS");
	http_ui_cookie(NULL, false, 0, cookie, sizeof(cookie));
	ok(strstr(cookie, "Max-Age=0") != NULL, "cookie: sign-out clears it");

	/* The table is bounded: one more sign-in replaces the oldest. */
	for (i = 1; i < UI_MAX_SESSIONS; i++)
		http_ui_session_new(ui, "api-token", 1000 + (int64_t)i);
	snprintf(hdr, sizeof(hdr), UI_COOKIE "=%s", first->id);
	ok(http_ui_session_find(ui, hdr, 2000) == first,
	   "sessions: the oldest still lives with the table full");
	again = http_ui_session_new(ui, "admin:uid=0", 2000);
	ok(again == first && http_ui_session_find(ui, hdr, 2000) == NULL,
	   "sessions: the next one replaces the oldest");
	snprintf(hdr, sizeof(hdr), UI_COOKIE "=%s", again->id);
	http_ui_forget(ui);
	ok(http_ui_session_find(ui, hdr, 2001) == NULL,
	   "sessions: a new token ends them all");

	ok(http_ui_asset("") && strcmp(http_ui_asset("")->name,
				       "index.html") == 0,
	   "assets: /ui/ is index.html");
	ok(http_ui_asset("app.js") && strstr(http_ui_asset("app.js")->ctype,
					     "javascript"),
	   "assets: app.js as JavaScript");
	ok(http_ui_asset("../meson.build") == NULL && !http_ui_asset("x"),
	   "assets: nothing else");
	ok(strstr((const char *)http_ui_asset("app.js")->data, "innerHTML =")
	   == NULL, "assets: app.js never assigns innerHTML");
	http_ui_free(ui);
	return tap_done();
}
