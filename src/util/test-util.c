/*
 * test-util - buf, log_q and config tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "tap.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/listen.h"
#include "util/window.h"

static void test_buf(void)
{
	struct buf b;
	char s[64];

	buf_init(&b, 8);
	is_int(buf_puts(&b, "abcd"), 0, "buf: append within max");
	is_int(buf_puts(&b, "efgh"), 0, "buf: append up to max");
	is_int(buf_puts(&b, "i"), BUF_E_TOO_LARGE, "buf: append past max fails");
	is_str(b.p, "abcdefgh", "buf: content kept after refused append");
	buf_reset(&b);
	is_int(buf_printf(&b, "%d-%s", 42, "x"), 0, "buf: printf");
	is_str(b.p, "42-x", "buf: printf content");
	is_int(buf_printf(&b, "%s", "123456789"), BUF_E_TOO_LARGE,
	       "buf: printf past max fails");
	buf_deinit(&b);

	is_str(buf_sample(s, sizeof(s), "a\"b\\c\n\x01\xff", 8, 128),
	       "a\\\"b\\\\c\\n\\x01\\xff", "sample: escapes");
	is_str(buf_sample(s, sizeof(s), "abcdefgh", 8, 3), "abc",
	       "sample: input bound");
	buf_sample(s, 6, "abcdefgh", 8, 128);
	ok(strlen(s) == 5, "sample: output bound");

	buf_hex((const unsigned char *)"\x00\x0f\xa5\xff", 4, s);
	is_str(s, "000fa5ff", "hex: lower case, two digits a byte");
	s[0] = 'x';
	buf_hex(NULL, 0, s);
	is_str(s, "", "hex: nothing is the empty string");
}

static void test_utf8(void)
{
	static const struct { const char *label, *in, *want; size_t bad; } rows[] = {
		{"ascii", "alice@example.com", "alice@example.com", 0},
		{"japanese", "\xe5\xae\x88\xe3\x82\x8a", "\xe5\xae\x88\xe3\x82\x8a", 0},
		{"lone continuation", "a\x80" "b", "a?b", 1},
		{"overlong slash", "\xc0\xaf", "??", 2},
		{"surrogate", "\xed\xa0\x80", "???", 3},
		{"truncated", "ab\xe3\x81", "ab??", 2},
		{"past U+10FFFF", "\xf4\x90\x80\x80", "????", 4},
		{"latin-1", "caf\xe9", "caf?", 1},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char s[32];
		size_t bad;

		snprintf(s, sizeof(s), "%s", rows[i].in);
		bad = utf8_sanitize(s);
		ok(strcmp(s, rows[i].want) == 0 && bad == rows[i].bad,
		   "utf8_sanitize: %s", rows[i].label);
	}
}

static void test_escape(void)
{
	static const struct {
		const char *label, *in, *key, *show;
	} rows[] = {
		{"ascii", "alice@example.com", "alice@example.com",
		 "alice@example.com"},
		{"japanese", "\xe5\xae\x88\xe3\x82\x8a@\xe4\xbe\x8b.jp",
		 "\xe5\xae\x88\xe3\x82\x8a@\xe4\xbe\x8b.jp",
		 "\xe5\xae\x88\xe3\x82\x8a@\xe4\xbe\x8b.jp"},
		{"ESC", "a\x1b[31mb", "a\\x1b[31mb", "a\\x1b[31mb"},
		{"CR LF", "a\r\nb", "a\\x0d\\x0ab", "a\\x0d\\x0ab"},
		{"BEL DEL TAB", "\a\x7f\t", "\\x07\\x7f\\x09",
		 "\\x07\\x7f\\x09"},
		{"C1 CSI as UTF-8", "a\xc2\x9b" "b", "a\\xc2\\x9bb",
		 "a\\xc2\\x9bb"},
		{"U+00A0 kept", "a\xc2\xa0" "b", "a\xc2\xa0" "b", "a\xc2\xa0" "b"},
		{"lone C1 byte", "a\x9b", "a\\x9b", "a\\x9b"},
		{"latin-1", "caf\xe9", "caf\\xe9", "caf\\xe9"},
		{"truncated", "ab\xe3\x81", "ab\\xe3\\x81", "ab\\xe3\\x81"},
		{"overlong", "\xc0\xaf", "\\xc0\\xaf", "\\xc0\\xaf"},
		{"backslash alone", "DOM\\user", "DOM\\user", "DOM\\user"},
		{"backslash before x", "a\\x1b", "a\\\\x1b", "a\\x1b"},
		{"two backslashes", "a\\\\b", "a\\\\\\b", "a\\\\b"},
		{"backslash at end", "a\\", "a\\", "a\\"},
		{"backslash before ESC", "\\\x1b", "\\\\\\x1b", "\\\\x1b"},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf k, v;
		size_t n = strlen(rows[i].in);

		buf_init(&k, 4 * n + 1);
		buf_init(&v, 4 * n + 1);
		ok(utf8_escape(&k, rows[i].in, n, UTF8_ESC_KEY) == 0 &&
		   strcmp(k.p ? k.p : "", rows[i].key) == 0,
		   "utf8_escape key: %s", rows[i].label);
		ok(utf8_escape(&v, rows[i].in, n, UTF8_ESC_SHOW) == 0 &&
		   strcmp(v.p ? v.p : "", rows[i].show) == 0,
		   "utf8_escape show: %s", rows[i].label);
		/* Reversible: the key decodes to the input. */
		ok(k.p && utf8_unescape(k.p) == n &&
		   memcmp(k.p, rows[i].in, n) == 0,
		   "utf8_unescape: %s", rows[i].label);
		buf_deinit(&k);
		buf_deinit(&v);
	}
	/* Two logins that differ only in an invalid byte stay apart. */
	{
		struct buf a, b;

		buf_init(&a, 64);
		buf_init(&b, 64);
		utf8_escape(&a, "u\xfe@x", 5, UTF8_ESC_KEY);
		utf8_escape(&b, "u\xff@x", 5, UTF8_ESC_KEY);
		ok(strcmp(a.p, b.p) != 0, "utf8_escape: invalid bytes differ");
		buf_deinit(&a);
		buf_deinit(&b);
	}
	{
		struct buf t;

		buf_init(&t, 7);
		ok(utf8_escape(&t, "\x01\x02", 2, UTF8_ESC_SHOW) ==
		   BUF_E_TOO_LARGE, "utf8_escape: output bound");
		buf_deinit(&t);
	}
}

static void test_listen_loopback(void)
{
	static const struct { const char *label, *list; bool local; } rows[] = {
		{"default", "inet:127.0.0.1:10042", true},
		{"other 127/8", "inet:127.9.0.1:10042", true},
		{"v6 loopback", "inet:[::1]:10042", true},
		{"localhost", "localhost:10042", true},
		{"unix", "unix:/run/mamori/auth.sock", true},
		{"all addresses", "inet:0.0.0.0:10042", false},
		{"empty host", "inet::10042", false},
		{"public", "inet:192.0.2.1:10042", false},
		{"v6 any", "inet:[::]:10042", false},
		{"one of two public", "inet:127.0.0.1:1, inet:192.0.2.1:2", false},
		{"two local", "inet:127.0.0.1:1,unix:/x", true},
		{"127 prefix trick", "inet:127example.net:1", false},
		{"127. name trick", "inet:127.0.0.1.example.net:1", false},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ok(listen_list_is_loopback(rows[i].list) == rows[i].local,
		   "listen_list_is_loopback: %s", rows[i].label);
}

static void test_window(void)
{
	static const struct { const char *label; uint32_t at; uint32_t want; } rows[] = {
		{"same bucket counts all", 30, 10},
		{"start of next bucket: all of previous", 60, 10},
		{"mid next bucket: half of previous", 90, 5},
		{"two buckets later: empty", 200, 0},
	};
	struct window w = { 0 };
	size_t i;

	window_add(&w, 60, 6000, 10);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_int(window_count(&w, 60, 6000 + rows[i].at), rows[i].want,
		       "window: %s", rows[i].label);
	window_add(&w, 60, 6000, UINT32_MAX);
	is_int(window_count(&w, 60, 6000), UINT32_MAX, "window: saturates");
	window_add(&w, 60, 6120, 3);
	is_int(window_count(&w, 60, 6120), 3, "window: a gap clears the past");
}

static void test_log_q(void)
{
	static const struct { const char *label, *in, *want; } rows[] = {
		{"plain", "alice@example.com", "alice@example.com"},
		{"empty", "", "\"\""},
		{"space", "a b", "\"a b\""},
		{"equals", "k=v", "\"k=v\""},
		{"newline", "a\nb", "\"a\\nb\""},
	};
	char tmp[LOG_QSZ];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_str(log_q(tmp, sizeof(tmp), rows[i].in), rows[i].want,
		       "log_q: %s", rows[i].label);
	{
		char big[2000];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = ' ';
		big[sizeof(big) - 2] = '\0';
		log_q(tmp, sizeof(tmp), big);
		ok(strlen(tmp) < sizeof(tmp), "log_q: long value bounded");
	}
}

static void test_time(void)
{
	static const struct { const char *in; long want; } rows[] = {
		{"10", 10}, {"10s", 10}, {"5m", 300}, {"2h", 7200},
		{"7d", 604800}, {"1w", 604800}, {"x", -1}, {"5mm", -1},
		{"-1", -1}, {"", -1},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_int(config_parse_time(rows[i].in), rows[i].want,
		       "time: \"%s\"", rows[i].in);
}

static char *write_tmp(const char *text)
{
	static char path[] = "/tmp/mamori-test-config-XXXXXX";
	char *p = strdup(path);
	int fd = mkstemp(p);
	FILE *f = fdopen(fd, "w");

	fputs(text, f);
	fclose(f);
	return p;
}

static void test_config(void)
{
	static const struct { const char *label, *text, *err; } bad[] = {
		{"unknown global", "nosuch = 1\n", "unknown parameter"},
		{"class param at top", "msgs_per_minute = 5\n", "class parameter"},
		{"bad number", "[class default]\nmsgs_per_minute = lots\n",
		 "expected a number"},
		{"below min", "[class default]\nmsgs_per_minute = 0\n", "outside"},
		{"bad enum", "[class default]\nrestrict_action = drop\n",
		 "expected one of"},
		{"bad time", "probation_time = soon\n", "expected a time"},
		{"no equals", "store\n", "expected name = value"},
		{"bad section", "[klass x]\n", "expected [class NAME]"},
		{"tcp api needs token", "api_tcp_listen = 127.0.0.1:1\n",
		 "requires api_token"},
		{"bad store", "store = mysql:x\n", "unknown type"},
		{"throttle above restrict",
		 "[class default]\nscore_throttle = 500\n", "exceeds"},
	};
	char err[512];
	struct config *c;
	const struct class_config *cl;
	size_t i;
	char *path;

	c = config_load(NULL, err, sizeof(err));
	ok(c != NULL, "config: defaults load");
	cl = config_class(c, "default");
	ok(cl != NULL, "config: default class exists");
	is_int(cl->msgs_per_minute, 30, "config: default msgs_per_minute");
	is_int(cl->ext_rcpts_per_hour, 500, "config: default ext_rcpts_per_hour");
	is_int(cl->int_rcpts_per_hour, 1000, "config: default int_rcpts_per_hour");
	is_int(cl->rcpts_per_day, 1000, "config: default rcpts_per_day");
	config_free(c);

	path = write_tmp("# comment\nlocal_domains = example.com, example.net\n"
			 "probation_time = 2d\n"
			 "[class bulk]\nmsgs_per_minute = 200\n"
			 "[class default]\nmsgs_per_minute = 20\nmode = observe\n");
	c = config_load(path, err, sizeof(err));
	ok(c != NULL, "config: file loads (%s)", c ? "" : err);
	if (c) {
		is_int(c->probation_time, 172800, "config: time suffix");
		ok(config_list_has(c->local_domains, "EXAMPLE.net"),
		   "config: list lookup case-insensitive");
		ok(!config_list_has(c->local_domains, "example.org"),
		   "config: list lookup miss");
		cl = config_class(c, "bulk");
		ok(cl && cl->msgs_per_minute == 200, "config: class override");
		ok(cl && cl->mode == MODE_OBSERVE,
		   "config: class inherits late [class default]");
		is_int(config_class(c, "default")->msgs_per_minute, 20,
		       "config: default class changed");
		config_free(c);
	}
	unlink(path);
	free(path);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		path = write_tmp(bad[i].text);
		err[0] = '\0';
		c = config_load(path, err, sizeof(err));
		ok(c == NULL && strstr(err, bad[i].err) != NULL,
		   "config rejects: %s (%s)", bad[i].label, err);
		config_free(c);
		unlink(path);
		free(path);
	}
}

/* config -n of c as a malloc'd string (secrets: --show-secrets). */
static char *nondefaults(const struct config *c, bool secrets)
{
	char *s = NULL;
	size_t n;
	FILE *f = open_memstream(&s, &n);

	config_print_nondefaults(c, f, secrets);
	fclose(f);
	return s;
}

/* config_load_buffer(), the entry fuzz-config drives, and config -n. */
static void test_config_buffer(void)
{
	static const char text[] = "local_domains = example.com\n"
		"[class bulk]\nmsgs_per_minute = 200\n";
	static const struct { const char *label, *text, *err; } rows[] = {
		{"empty buffer: defaults", "", NULL},
		{"no final newline", "probation_time = 2d", NULL},
		{"bad line names the buffer", "\n\nstore\n",
		 "b.conf:3: expected"},
		{"line too long", NULL, "b.conf:1: line too long"},
	};
	char err[512], *p1, *p2, *big;
	struct config *c, *c2;
	size_t i;

	big = malloc(5000);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *t = rows[i].text ? rows[i].text : big;

		err[0] = '\0';
		c = config_load_buffer(t, strlen(t), "b.conf", err,
				       sizeof(err));
		if (rows[i].err)
			ok(c == NULL && strstr(err, rows[i].err) != NULL,
			   "config buffer: %s (%s)", rows[i].label, err);
		else
			ok(c != NULL && c->path == NULL,
			   "config buffer: %s (%s)", rows[i].label, err);
		config_free(c);
	}
	c = config_load_buffer(text, sizeof(text) - 1, "b.conf", err,
			       sizeof(err));
	ok(c && config_class(c, "bulk") &&
	   config_class(c, "bulk")->msgs_per_minute == 200,
	   "config buffer: loads like a file");
	config_free(c);

	/* A value of 3,000 bytes (a file line may hold 4,095) was cut at
	 * 2,047 by config -n; printed back it must load as the same. */
	memcpy(big, "local_domains = ", 16);
	big[3016] = '\0';
	c = config_load_buffer(big, strlen(big), "b.conf", err, sizeof(err));
	p1 = c ? nondefaults(c, true) : NULL;
	ok(p1 && strstr(p1, big) != NULL, "config -n: a long value whole");
	c2 = p1 ? config_load_buffer(p1, strlen(p1), "n.conf", err,
				     sizeof(err)) : NULL;
	p2 = c2 ? nondefaults(c2, true) : NULL;
	ok(p2 && strcmp(p1, p2) == 0, "config -n: output loads back the same");
	free(p1);
	free(p2);
	config_free(c);
	config_free(c2);
	free(big);
}

/* config -n never prints a credential unless asked. */
static void test_config_secrets(void)
{
	static const char text[] = "api_token = tok-0123456789abcdef\n"
		"webhook_secret = hook-secret-value\n"
		"local_domains = example.com\n";
	static const struct {
		const char *label, *want;
		bool secrets, present;
	} rows[] = {
		{"token hidden", "tok-0123456789abcdef", false, false},
		{"secret hidden", "hook-secret-value", false, false},
		{"token's length told", "# api_token = (set, 20 bytes;", false, true},
		{"other values shown", "local_domains = example.com", false, true},
		{"--show-secrets: token", "api_token = tok-0123456789abcdef", true, true},
		{"--show-secrets: secret", "webhook_secret = hook-secret-value", true, true},
	};
	char err[512];
	struct config *c = config_load_buffer(text, sizeof(text) - 1, "s.conf",
					      err, sizeof(err));
	size_t i;

	ok(c != NULL, "config secrets: loads (%s)", c ? "" : err);
	for (i = 0; c && i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *p = nondefaults(c, rows[i].secrets);

		ok(p && (strstr(p, rows[i].want) != NULL) == rows[i].present,
		   "config -n: %s", rows[i].label);
		free(p);
	}
	config_free(c);
}

int main(void)
{
	test_buf();
	test_utf8();
	test_escape();
	test_listen_loopback();
	test_window();
	test_log_q();
	test_time();
	test_config();
	test_config_buffer();
	test_config_secrets();
	return tap_done();
}
