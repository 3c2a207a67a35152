/*
 * test-notify - notice rendering: every kind x audience x language, RFC
 * 2047 Subjects, header injection, template_dir overrides, the built-in
 * templates against etc/templates/, addresses and the contact_map.
 * Delivery is in test-notify-send.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify/templates.h"
#include "notify/test-notify.h"

/* Key phrases each built-in notice must carry, by kind/audience/lang. */
static const struct {
	const char *kind, *audience, *lang;
	const char *want[6];
} key_text[] = {
	{"throttled", "customer", "ja", {"一時的に抑制", "検知の内容: score 130",
	 "ウイルス対策ソフト", "パスワード", "送信を制限させていただく"}},
	{"restricted", "customer", "ja", {"メールの大量送信を",
	 "送信を制限いたしました", "ウイルス対策ソフト",
	 "パスワードのご変更を確認", "同様の制限を行います"}},
	{"released", "customer", "ja", {"制限を、2026-05-12T14:30:00+09:00 に",
	 "経過観察", "同様の制限を行います", "受付番号: ev-1"}},
	{"suspended", "customer", "ja", {"送信を停止いたしました", "2 回目",
	 "サポート窓口でのみ", "パスワード"}},
	{"throttled", "customer", "en", {"slowed down", "What we detected: score",
	 "antivirus", "Change the password", "we will restrict"}},
	{"restricted", "customer", "en", {"bulk mail", "restricted sending",
	 "antivirus", "password has been changed", "restrict the account in "
	 "the same way"}},
	{"released", "customer", "en", {"lifted the sending restriction",
	 "probation", "restrict it again", "Reference: ev-1"}},
	{"suspended", "customer", "en", {"suspended", "strike 2",
	 "only our support desk", "Change the password"}},
};

/* Facts every abuse-desk notice carries, whatever its kind and language. */
static const char *const abuse_facts[] = {
	"taro@example.jp", "restricted", "2026-05-12T14:30:00+09:00", "mamorid",
	"surge 45 msgs/h", "\"msgs_1h\": 45", "\"203.0.113.5\"", "ev-1",
	"mamori account show taro@example.jp",
};

/* Render kind/audience/lang and split it; *msg NULL on failure. */
static void render_parts(struct config *c, struct notify_event *ev,
			 const char *audience, const char *lang, char **msg,
			 char **h, char **body, char **subj)
{
	char err[256];

	set_str(&c->notify_language, lang);
	*msg = notify_render(c, ev, audience, "taro@example.jp", err,
			     sizeof(err));
	if (!*msg)
		printf("#   err: %s\n", err);
	*h = *msg ? headers_of(*msg) : xstrdup("");
	*body = *msg ? body_of(*msg) : xstrdup("");
	*subj = *msg ? subject_of(*msg) : xstrdup("");
}

/* Every kind x audience x language: headers, line ends, placeholders. */
static void test_render_all(void)
{
	struct config *c = test_config();
	size_t k, a, l, i;

	for (k = 0; k < 4; k++)
	for (a = 0; a < 2; a++)
	for (l = 0; l < 2; l++) {
		struct notify_event ev = test_event(kinds[k], "ev-1");
		const char *aud = audiences[a], *lang = langs[l];
		char *msg, *h, *body, *subj;
		bool left = false, facts = true;

		ev.state = "restricted";
		render_parts(c, &ev, aud, lang, &msg, &h, &body, &subj);
		if (!ok(msg != NULL, "render %s.%s.%s", kinds[k], aud, lang))
			goto next;
		ok(!strncmp(h, "From: mamori@example.jp\r\n"
			    "To: taro@example.jp\r\nSubject: ", 55) &&
		   strstr(h, "\r\nDate: ") && strstr(h, "\r\nMessage-ID: <ev-1.") &&
		   strstr(h, "\r\nMIME-Version: 1.0\r\n") &&
		   strstr(h, "\r\nContent-Type: text/plain; charset=UTF-8\r\n") &&
		   strstr(h, "\r\nContent-Transfer-Encoding: "),
		   "%s.%s.%s: headers", kinds[k], aud, lang);
		ok(all_crlf(msg), "%s.%s.%s: CRLF line ends", kinds[k], aud, lang);
		for (i = 0; i < sizeof(placeholders) / sizeof(*placeholders); i++)
			left |= strstr(body, placeholders[i]) != NULL ||
				strstr(subj, placeholders[i]) != NULL;
		ok(!left && !has_placeholder(body) && !has_placeholder(subj),
		   "%s.%s.%s: no placeholder left", kinds[k], aud, lang);
		ok(strstr(subj, "taro@example.jp") != NULL,
		   "%s.%s.%s: login in the subject", kinds[k], aud, lang);
		if (l == 0)
			ok(strstr(h, "\r\nSubject: =?UTF-8?B?") != NULL,
			   "%s.%s.ja: RFC 2047 Subject", kinds[k], aud);
		else
			ok(!strstr(h, "=?UTF-8?"),
			   "%s.%s.en: plain ASCII Subject", kinds[k], aud);
		if (a == 1) {
			for (i = 0; i < sizeof(abuse_facts) / sizeof(*abuse_facts); i++)
				if (!strstr(body, abuse_facts[i])) {
					printf("#   missing: %s\n", abuse_facts[i]);
					facts = false;
				}
			ok(facts, "%s.abuse.%s: login, state, time, actor, reason, "
			   "evidence, id, show command", kinds[k], lang);
			if (k != 2)
				ok(strstr(body, "mamori account release "
					  "taro@example.jp") != NULL,
				   "%s.abuse.%s: release command", kinds[k], lang);
		}
next:
		free(h);
		free(body);
		free(subj);
		free(msg);
	}
	config_free(c);
}

/* The customer texts say what the ISP letters say. */
static void test_render_text(void)
{
	struct config *c = test_config();
	size_t r, i;

	for (r = 0; r < sizeof(key_text) / sizeof(*key_text); r++) {
		struct notify_event ev = test_event(key_text[r].kind, "ev-1");
		char *msg, *h, *body, *subj;
		bool all = true;

		render_parts(c, &ev, key_text[r].audience, key_text[r].lang,
			     &msg, &h, &body, &subj);
		for (i = 0; i < 6 && key_text[r].want[i]; i++)
			if (!strstr(body, key_text[r].want[i])) {
				printf("#   missing: %s\n", key_text[r].want[i]);
				all = false;
			}
		ok(msg && all, "%s.%s.%s: key text", key_text[r].kind,
		   key_text[r].audience, key_text[r].lang);
		free(msg);
		free(h);
		free(body);
		free(subj);
	}
	config_free(c);
}

static void test_render_misc(void)
{
	struct config *c = test_config();
	struct notify_event ev = test_event("restricted", "ev-2");
	char err[256], *msg, *msg2, *body, *subj, *h;
	const char *ja, *en;

	msg = notify_render(c, &ev, "customer", "taro@example.jp", err,
			    sizeof(err));
	body = msg ? body_of(msg) : xstrdup("");
	subj = msg ? subject_of(msg) : xstrdup("");
	ja = strstr(body, "お客様");
	en = strstr(body, "Dear customer");
	ok(ja && en && ja < en, "ja+en: Japanese first, then English");
	ok(strstr(subj, "メール送信の制限") && strstr(subj, " / Important:"),
	   "ja+en: both subjects");
	h = msg ? headers_of(msg) : xstrdup("");
	{
		const char *p;
		bool short_lines = true;

		for (p = h; (p = strstr(p, "=?UTF-8?B?")); p++) {
			const char *eol = strstr(p, "\r\n"), *bol = p;

			while (bol > h && bol[-1] != '\n')
				bol--;
			if (eol && eol - bol > 76)
				short_lines = false;
		}
		ok(short_lines, "RFC 2047: encoded lines <= 76 characters");
	}
	msg2 = notify_render(c, &ev, "customer", "taro@example.jp", err,
			     sizeof(err));
	{
		const char *m1 = msg ? strstr(msg, "Message-ID:") : NULL;
		const char *m2 = msg2 ? strstr(msg2, "Message-ID:") : NULL;

		ok(m1 && m2 && strncmp(m1, m2, strcspn(m1, "\r")) == 0,
		   "Message-ID stable for the same notice");
	}
	free(msg);
	free(msg2);
	free(body);
	free(subj);
	free(h);

	ev.kind = "probation-ended";
	err[0] = 'x';
	msg = notify_render(c, &ev, "customer", "taro@example.jp", err,
			    sizeof(err));
	ok(msg == NULL && err[0] == '\0', "no template: NULL, no error");
	free(msg);

	ev.kind = "restricted";
	msg = notify_render(c, &ev, "customer", "bad address@x", err,
			    sizeof(err));
	ok(msg == NULL && err[0], "invalid To: error");
	free(msg);
	set_str(&c->notify_from, "nobody");
	msg = notify_render(c, &ev, "customer", NULL, err, sizeof(err));
	ok(msg == NULL && strstr(err, "notify_from"), "invalid notify_from: error");
	free(msg);
	set_str(&c->notify_from, "mamori@example.jp");

	/* One pass: a value holding "{id}" stays literal. */
	set_str(&c->notify_language, "en");
	ev.reason = "odd {id} text";
	msg = notify_render(c, &ev, "abuse", NULL, err, sizeof(err));
	body = msg ? body_of(msg) : xstrdup("");
	ok(strstr(body, "odd {id} text") != NULL, "placeholders: one pass");
	ok(msg && strstr(msg, "\r\nTo: undisclosed-recipients:;\r\n"),
	   "to NULL: empty group");
	free(body);
	free(msg);
	config_free(c);
}

static void test_injection(void)
{
	static const char *const bad[] = {
		"\r\nBcc:", "\r\nX-Injected:", "\r\nX-Kind:", "\r\nX-Id:",
		"\nBcc:", "\nX-Injected:",
	};
	struct config *c = test_config();
	struct notify_event ev = test_event("restricted", "id\r\nX-Id: 1");
	char err[256], *msg, *h;
	size_t l, i;

	ev.login = "evil@example.jp\r\nBcc: victim@example.com";
	ev.reason = "x\r\nX-Injected: 1\nBcc: b@example.com";
	ev.actor = "admin:a\r\nX-Injected: 2";
	for (l = 0; l < 2; l++) {
		bool clean = true;

		set_str(&c->notify_language, langs[l]);
		msg = notify_render(c, &ev, "abuse", "abuse@example.jp", err,
				    sizeof(err));
		h = msg ? headers_of(msg) : xstrdup("");
		for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
			if (strstr(h, bad[i]))
				clean = false;
		ok(msg && clean && all_crlf(h),
		   "injection (%s): CR/LF in login/reason/id stay inside headers",
		   langs[l]);
		free(h);
		free(msg);
	}
	ev.login = "taro@example.jp";
	ev.kind = "restricted\r\nX-Kind: 1";
	msg = notify_render(c, &ev, "abuse", NULL, err, sizeof(err));
	ok(msg == NULL, "kind with CR/LF: no template, nothing rendered");
	free(msg);
	config_free(c);
}

static void test_addr(void)
{
	static const struct { const char *label, *addr; bool want; } rows[] = {
		{"plain", "taro@example.jp", true},
		{"docomo dots", "taro..x.@docomo.ne.jp", true},
		{"plus", "a+b@example.com", true},
		{"no at", "example.jp", false},
		{"two at", "a@b@example.jp", false},
		{"space", "a b@example.jp", false},
		{"crlf", "a@example.jp\r\nBcc: x@y", false},
		{"angle", "<a@example.jp>", false},
		{"comma", "a@example.jp,b@example.jp", false},
		{"empty local", "@example.jp", false},
		{"empty domain", "a@", false},
		{"dot domain", "a@.example.jp", false},
		{"double dot domain", "a@example..jp", false},
		{"non-ASCII", "太郎@example.jp", false},
		{"empty", "", false},
	};
	char longaddr[300];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(*rows); i++)
		is_int(notify_addr_is_valid(rows[i].addr), rows[i].want,
		       "addr: %s", rows[i].label);
	memset(longaddr, 'a', sizeof(longaddr));
	memcpy(longaddr + 250, "@x.jp", 6);
	ok(!notify_addr_is_valid(longaddr), "addr: longer than 254 refused");
	ok(!notify_addr_is_valid(NULL), "addr: NULL refused");
}

static void test_template_dir(void)
{
	struct config *c = test_config();
	struct notify_event ev = test_event("restricted", "ev-3");
	char err[256], path[256], *msg, *body, *subj;

	set_str(&c->template_dir, tmpdir);
	set_str(&c->notify_language, "en");
	snprintf(path, sizeof(path), "%s/restricted.customer.en.txt", tmpdir);
	write_file(path, "Subject: Custom for {login}\n\nCUSTOM BODY {reason} "
		   "{unknown}\n");
	snprintf(path, sizeof(path), "%s/probation-ended.customer.en.txt",
		 tmpdir);
	write_file(path, "Subject: Probation over\n\nAll clear, {login}.\n");

	msg = notify_render(c, &ev, "customer", NULL, err, sizeof(err));
	body = msg ? body_of(msg) : xstrdup("");
	subj = msg ? subject_of(msg) : xstrdup("");
	is_str(subj, "Custom for taro@example.jp", "template_dir: subject used");
	ok(strstr(body, "CUSTOM BODY score 130") && strstr(body, "{unknown}"),
	   "template_dir: body used, unknown placeholder kept");
	free(msg);
	free(body);
	free(subj);

	ev.kind = "throttled";
	msg = notify_render(c, &ev, "customer", NULL, err, sizeof(err));
	body = msg ? body_of(msg) : xstrdup("");
	ok(strstr(body, "slowed down") != NULL,
	   "template_dir: missing file falls back to built-in");
	free(msg);
	free(body);

	ev.kind = "probation-ended";
	msg = notify_render(c, &ev, "customer", NULL, err, sizeof(err));
	body = msg ? body_of(msg) : xstrdup("");
	ok(strstr(body, "All clear, taro@example.jp.") != NULL,
	   "template_dir: an extra kind can be added");
	free(msg);
	free(body);

	snprintf(path, sizeof(path), "%s/suspended.abuse.en.txt", tmpdir);
	write_file(path, "\n");
	ev.kind = "suspended";
	err[0] = 'x';
	msg = notify_render(c, &ev, "abuse", NULL, err, sizeof(err));
	ok(msg == NULL && err[0] == '\0',
	   "template_dir: an empty file switches the notice off");
	free(msg);

	snprintf(path, sizeof(path), "%s/released.abuse.en.txt", tmpdir);
	ok(mkdir(path, 0700) == 0, "template_dir: a directory as template");
	ev.kind = "released";
	msg = notify_render(c, &ev, "abuse", NULL, err, sizeof(err));
	ok(msg == NULL && err[0] != '\0',
	   "template_dir: unreadable template is an error");
	free(msg);
	rmdir(path);

	ev.kind = "../../etc/passwd";
	msg = notify_render(c, &ev, "customer", NULL, err, sizeof(err));
	ok(msg == NULL, "template_dir: path characters in kind refused");
	free(msg);
	config_free(c);
}

/* Read a whole file into a malloc'd string, or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *p;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = xcalloc(1, (size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static void test_builtin_matches_files(void)
{
	const char *root = getenv("MAMORI_SOURCE_ROOT");
	size_t k, a, l;

	for (k = 0; k < 4; k++)
	for (a = 0; a < 2; a++)
	for (l = 0; l < 2; l++) {
		char path[512], *text;
		const char *b = notify_template_builtin(kinds[k], audiences[a],
							langs[l]);

		snprintf(path, sizeof(path), "%s/etc/templates/%s.%s.%s.txt",
			 root ? root : ".", kinds[k], audiences[a], langs[l]);
		text = slurp(path);
		ok(text && b && strcmp(text, b) == 0,
		   "built-in %s.%s.%s matches etc/templates", kinds[k],
		   audiences[a], langs[l]);
		free(text);
	}
}

static void test_contact_map(void)
{
	static const struct { const char *label, *login, *want; int r; } rows[] = {
		{"mapped", "taro@example.jp", "taro.alt@example.net", 1},
		{"case-insensitive", "TARO@Example.JP", "taro.alt@example.net", 1},
		{"tab separated", "hanako", "hanako@example.org", 1},
		{"absent", "jiro@example.jp", "", 0},
		{"commented out", "#saburo", "", 0},
		{"invalid mapped address", "shiro", "", 0},
		{"long line skipped", "goro", "", 0},
	};
	char path[256], out[NOTIFY_ADDR_MAX + 1], longline[3000];
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s/contacts", tmpdir);
	memset(longline, 'x', sizeof(longline));
	longline[sizeof(longline) - 1] = '\0';
	f = fopen(path, "w");
	fprintf(f, "# login alternate\n\n"
		"taro@example.jp   taro.alt@example.net\n"
		"hanako\thanako@example.org  # trailing words ignored\n"
		"# saburo saburo@example.org\n"
		"shiro not-an-address\n"
		"%s goro goro@example.org\n", longline);
	fclose(f);
	for (i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		int r;

		out[0] = '\0';
		r = notify_contact_lookup(path, rows[i].login, out, sizeof(out));
		ok(r == rows[i].r && strcmp(out, rows[i].want) == 0,
		   "contact_map: %s", rows[i].label);
	}
	snprintf(path, sizeof(path), "%s/no-such-file", tmpdir);
	is_int(notify_contact_lookup(path, "taro@example.jp", out, sizeof(out)),
	       -ENOENT, "contact_map: missing file is an error");
	is_int(notify_contact_lookup("", "taro@example.jp", out, sizeof(out)),
	       0, "contact_map: unset is not found");
}

/* The event as JSON (webhook body, outbox record): every member, even
 * with bytes that are not UTF-8, and evidence parsed. */
static void test_event_json(void)
{
	struct notify_event ev = test_event("restricted", "ev-json");
	json_t *o, *back;
	char *s;

	ev.login = "t\xffro@example.jp";
	o = notify_event_json(&ev);
	is_str(json_string_value(json_object_get(o, "login")), "t?ro@example.jp",
	       "event json: a byte that is not UTF-8 becomes '?'");
	ok(json_is_object(json_object_get(o, "evidence")),
	   "event json: evidence parsed into an object");
	is_int(json_integer_value(json_object_get(o, "strikes")), 2,
	       "event json: strikes");
	s = json_dumps(o, JSON_COMPACT);
	back = s ? json_loads(s, 0, NULL) : NULL;
	ok(back && json_object_size(back) == 9,
	   "event json: nine members, and it dumps and loads");
	json_decref(back);
	free(s);
	json_decref(o);
}

int main(void)
{
	test_setup("test-notify");
	test_event_json();
	test_render_all();
	test_render_text();
	test_render_misc();
	test_injection();
	test_addr();
	test_template_dir();
	test_builtin_matches_files();
	test_contact_map();
	test_cleanup();
	return tap_done();
}
