/*
 * fuzz-ui-headers - libFuzzer target for the web UI's header checks
 * (src/front/http_ui.c), which read attacker bytes before anyone signs in:
 * the Cookie header that names a session, the X-Mamori-CSRF header, and
 * the Origin and Host headers of the same-site check.
 *
 * Input layout: up to four parts separated by NUL bytes: Cookie, CSRF,
 * Origin, Host (a missing part is an absent header, NULL).
 *
 * Invariants: one live session exists (its id and CSRF token are random),
 * so a Cookie finds it only if it holds "mamori_session=" and that id, and
 * a CSRF header passes only if it is that token; an Origin passes only if
 * it is http:// or https:// and the Host, ignoring case; all are
 * deterministic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "front/http_ui.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-ui-headers: invariant broken: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *part[4] = { NULL, NULL, NULL, NULL };
	const struct ui_session *s, *hit;
	struct http_ui *ui = http_ui_new();
	size_t i, n = 0;
	bool ok;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	part[n++] = buf;
	for (i = 0; i < size && n < 4; i++)
		if (buf[i] == '\0')
			part[n++] = buf + i + 1;
	s = http_ui_session_new(ui, "fuzz", 1000);
	if (!s)
		fail("no session");
	hit = http_ui_session_find(ui, part[0], 1000);
	if (hit && (hit != s || !strstr(part[0], s->id)))
		fail("a cookie without the id found a session");
	if (hit != http_ui_session_find(ui, part[0], 1000))
		fail("cookie check not deterministic");
	if (http_ui_session_find(ui, part[0], 1000 + 86400 * 365))
		fail("an expired session was found");
	ok = http_ui_csrf_ok(s, part[1]);
	if (ok && strcmp(part[1], s->csrf) != 0)
		fail("a wrong CSRF token passed");
	if (http_ui_csrf_ok(NULL, part[1]))
		fail("a CSRF token passed without a session");
	ok = http_ui_origin_ok(part[2], part[3]);
	if (ok != http_ui_origin_ok(part[2], part[3]))
		fail("origin check not deterministic");
	if (ok && (!part[3] || !part[3][0] ||
		   (strncasecmp(part[2], "http://", 7) != 0 &&
		    strncasecmp(part[2], "https://", 8) != 0) ||
		   strcasecmp(strstr(part[2], "://") + 3, part[3]) != 0))
		fail("a foreign Origin passed");
	http_ui_free(ui);
	free(buf);
	return 0;
}
