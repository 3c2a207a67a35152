/*
 * test-authpolicy - the Dovecot auth-policy body and query parsers and
 * the reply formatter.
 *
 * A parsed request is compared in a canonical one-line form (dump()):
 * the non-empty string fields in struct order as name=value (escaped as in
 * log samples), then tls=, success= (only if present) and reject=.  A row
 * that expects an error names it as "E_NAME: text", where text must occur
 * in out->error.  Captured bodies come from a real Dovecot 2.3.19 (see
 * PROTOCOLS.md); the broken ones reproduce what its template builder in
 * src/auth/auth-policy.c makes of attribute lists it splits wrongly.
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "proto/authpolicy.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal and its length, NUL bytes included. */
#define S(lit) lit, sizeof(lit) - 1

#define CAPTURED \
	"{\"device_id\":\"\",\"login\":\"alice@example.com\"," \
	"\"protocol\":\"imap\",\"pwhash\":\"0f88\",\"remote\":\"127.0.0.1\"," \
	"\"session_id\":\"/gRc5Nlgsu1/AAAB\",\"tls\":false}"
#define CAPTURED_WANT \
	"login=alice@example.com pwhash=0f88 remote=127.0.0.1 " \
	"protocol=imap session_id=/gRc5Nlgsu1/AAAB tls=0 reject=0"

/* SHA-256 of nothing: a full-length pwhash (auth_policy_hash_truncate=0). */
#define SHA256_EMPTY \
	"e3b0c44298fc1c149afbf4c8996fb924" "27ae41e4649b934ca495991b7852b855"

/* The test's name for a result code. */
static const char *code_name(int code)
{
	switch (code) {
	case AUTHPOLICY_OK:
		return "OK";
	case AUTHPOLICY_E_COMMAND:
		return "E_COMMAND";
	case AUTHPOLICY_E_TOO_LARGE:
		return "E_TOO_LARGE";
	case AUTHPOLICY_E_JSON:
		return "E_JSON";
	case AUTHPOLICY_E_FIELD:
		return "E_FIELD";
	}
	return "E_UNKNOWN";
}

/* Append " name=value" to out when value is not empty. */
static void dump_field(struct buf *out, const char *name, const char *value)
{
	char esc[4 * 256 + 1];

	if (*value == '\0')
		return;
	buf_sample(esc, sizeof(esc), value, strlen(value), 256);
	buf_printf(out, "%s%s=%s", out->len ? " " : "", name, esc);
}

/* The canonical form of r; the caller frees it. */
static char *dump(const struct authpolicy_request *r)
{
	struct buf out;

	buf_init(&out, 8192);
	dump_field(&out, "login", r->login);
	dump_field(&out, "pwhash", r->pwhash);
	dump_field(&out, "remote", r->remote);
	dump_field(&out, "protocol", r->protocol);
	dump_field(&out, "session_id", r->session_id);
	dump_field(&out, "device_id", r->device_id);
	dump_field(&out, "mech", r->mech);
	dump_field(&out, "pwversion", r->pwversion);
	buf_printf(&out, "%stls=%d", out.len ? " " : "", r->tls);
	if (r->has_success)
		buf_printf(&out, " success=%d", r->success);
	buf_printf(&out, " reject=%d", r->policy_reject);
	if (out.p == NULL)
		return xstrdup("");
	return buf_steal(&out);
}

/*
 * Parse body with key and check the outcome against want: a dump, or
 * "E_NAME: text" for an error whose message holds text.
 */
static void check(const char *label, const char *body, size_t n,
		  const char *key, const char *want)
{
	struct authpolicy_request r;
	const char *colon, *text;
	char *got;
	int rc;

	memset(&r, 0x5a, sizeof(r));
	r.command = AUTHPOLICY_REPORT;
	rc = authpolicy_parse(body, n, key, &r);
	if (strncmp(want, "E_", 2) != 0) {
		is_str(code_name(rc), "OK", "%s: result", label);
		got = dump(&r);
		is_str(got, want, "%s: fields", label);
		free(got);
		ok(r.error[0] == '\0', "%s: no error text", label);
	} else {
		colon = strchr(want, ':');
		got = xstrndup(want, colon ? (size_t)(colon - want) : strlen(want));
		is_str(code_name(rc), got, "%s: result", label);
		free(got);
		text = colon ? colon + 1 + (colon[1] == ' ') : "";
		if (!ok(r.error[0] && strstr(r.error, text) != NULL,
			"%s: error mentions \"%s\"", label, text))
			printf("#   error is \"%s\"\n", r.error);
		ok(r.login[0] == '\0' && r.pwhash[0] == '\0' && !r.tls,
		   "%s: fields cleared", label);
	}
	is_int(r.command, AUTHPOLICY_REPORT, "%s: command untouched", label);
}

static const struct row {
	const char *label;
	const char *body;
	size_t n;
	const char *key;	/* pwversion_key */
	const char *want;
} rows[] = {
	/* Captured from Dovecot 2.3.19. */
	{"captured allow", S(CAPTURED), "", CAPTURED_WANT},
	{"captured allow, key unset (NULL)", S(CAPTURED), NULL, CAPTURED_WANT},
	{"report, login failed",
	 S("{\"device_id\":\"\",\"login\":\"alice@example.com\","
	   "\"protocol\":\"imap\",\"pwhash\":\"0f88\",\"remote\":\"127.0.0.1\","
	   "\"session_id\":\"/gRc5Nlgsu1/AAAB\",\"tls\":false,"
	   "\"success\":false,\"policy_reject\":false}"), "",
	 "login=alice@example.com pwhash=0f88 remote=127.0.0.1 protocol=imap "
	 "session_id=/gRc5Nlgsu1/AAAB tls=0 success=0 reject=0"},
	{"report, valid pair rejected by policy",
	 S("{\"login\":\"bob\",\"pwhash\":\"a1b\",\"remote\":\"192.0.2.7\","
	   "\"protocol\":\"pop3\",\"tls\":true,\"success\":false,"
	   "\"policy_reject\":true}"), "",
	 "login=bob pwhash=a1b remote=192.0.2.7 protocol=pop3 tls=1 success=0 "
	 "reject=1"},
	{"report, success",
	 S("{\"login\":\"bob\",\"success\":true,\"policy_reject\":false}"), "",
	 "login=bob tls=0 success=1 reject=0"},
	{"SMTP AUTH through Postfix",
	 S("{\"device_id\":\"\",\"login\":\"carol@example.org\","
	   "\"protocol\":\"smtp\",\"pwhash\":\"7c1\",\"remote\":\"2001:db8::25\","
	   "\"session_id\":\"\",\"tls\":false}"), "",
	 "login=carol@example.org pwhash=7c1 remote=2001:db8::25 protocol=smtp "
	 "tls=0 reject=0"},
	{"mech configured",
	 S("{\"login\":\"a\",\"mech\":\"PLAIN\",\"tls\":true}"), "",
	 "login=a mech=PLAIN tls=1 reject=0"},
	{"device_id kept", S("{\"device_id\":\"iPhone/17.1\"}"), "",
	 "device_id=iPhone/17.1 tls=0 reject=0"},
	/* Nested attributes ('/' in a configured key). */
	{"nested attrs, step 2",
	 S("{\"attrs\":{\"acct\":\"x\",\"pwchanged\":\"1700000000\"},"
	   "\"login\":\"alice\",\"pwhash\":\"0f88\",\"remote\":\"10.0.0.1\","
	   "\"tls\":true}"), "attrs/pwchanged",
	 "login=alice pwhash=0f88 remote=10.0.0.1 pwversion=1700000000 tls=1 "
	 "reject=0"},
	{"nested attrs, step 1: passdb fields empty",
	 S("{\"attrs\":{\"acct\":\"\",\"pwchanged\":\"\"},\"login\":\"alice\","
	   "\"tls\":false}"), "attrs/pwchanged", "login=alice tls=0 reject=0"},
	{"nested attrs, key missing", S("{\"attrs\":{},\"login\":\"a\"}"),
	 "attrs/pwchanged", "login=a tls=0 reject=0"},
	{"nested attrs, parent missing", S("{\"login\":\"a\"}"),
	 "attrs/pwchanged", "login=a tls=0 reject=0"},
	{"nested attrs, parent a string", S("{\"attrs\":\"x\",\"login\":\"a\"}"),
	 "attrs/pwchanged", "login=a tls=0 reject=0"},
	{"nested three deep",
	 S("{\"a\":{\"b\":{\"c\":\"v3\"}}}"), "a/b/c", "pwversion=v3 tls=0 reject=0"},
	{"flat pwversion key", S("{\"pwv\":\"7\"}"), "pwv",
	 "pwversion=7 tls=0 reject=0"},
	{"pwversion a number", S("{\"attrs\":{\"pwchanged\":1700000000}}"),
	 "attrs/pwchanged", "pwversion=1700000000 tls=0 reject=0"},
	{"pwversion an object",
	 S("{\"attrs\":{\"pwchanged\":{}}}"), "attrs/pwchanged",
	 "E_FIELD: field attrs/pwchanged: expected a string, got an object"},
	{"pwversion empty path step", S("{\"\":{\"x\":\"1\"}}"), "/x",
	 "pwversion=1 tls=0 reject=0"},
	{"pwversion key with trailing slash", S("{\"a\":{\"\":\"1\"}}"), "a/",
	 "pwversion=1 tls=0 reject=0"},
	/* What Dovecot 2.3 sends when its attribute splitting goes wrong. */
	{"broken: value with a space, truncated",
	 S("{\"login\":\"al ice\",\"remote\":\"1.2.3.4\""), "",
	 "E_JSON: line 1 column"},
	{"broken: '=' inside a value", S("{\"login\":\"x\"=\"y\"}"), "",
	 "E_JSON: line 1"},
	{"broken: unquoted values",
	 S("{\"login\":alice,\"remote\":1.2.3.4}"), "", "E_JSON: invalid token"},
	{"broken: quotes in the template value",
	 S("{\"login\":\"\"alice@example.com\"\",\"remote\":\"1.2.3.4\"}"), "",
	 "E_JSON: line 1"},
	{"broken: backslash in the template value",
	 S("{\"login\":\"EXAMPLE\\alice\",\"tls\":false}"), "",
	 "E_JSON: invalid escape"},
	{"broken: nesting a/c/d then a/e leaves a brace open",
	 S("{\"a\":{\"c\":{\"d\":\"x\",\"e\":\"y\"},\"login\":\"z\"}"), "",
	 "E_JSON: line 1"},
	{"broken: split value shifts the keys (still valid JSON)",
	 S("{\"b}\":\"remote\",\"login\":\"alice\",\"note\":\"%{passdb:note:a\","
	   "\"tls\":false}"), "", "login=alice tls=0 reject=0"},
	{"broken: empty value pair", S("{\"login\":\"\",\"\":\"\",\"tls\":false}"),
	 "", "tls=0 reject=0"},
	{"broken: over two lines", S("{\"login\":\"a\",\n\"remote\" 1}"), "",
	 "E_JSON: line 2"},
	/* Not JSON, or not an object. */
	{"empty body", S(""), "", "E_JSON: line 1"},
	{"only whitespace", S(" \r\n\t"), "", "E_JSON:"},
	{"array body", S("[\"login\",\"alice\"]"), "",
	 "E_JSON: body is an array, not an object"},
	{"string body", S("\"login\""), "", "E_JSON:"},
	{"number body", S("42"), "", "E_JSON:"},
	{"null body", S("null"), "", "E_JSON:"},
	{"form-encoded body", S("login=alice&remote=1.2.3.4"), "", "E_JSON:"},
	{"trailing garbage", S("{\"login\":\"a\"} x"), "",
	 "E_JSON: end of file expected"},
	{"two objects", S("{}{}"), "", "E_JSON:"},
	{"trailing newline is fine", S("{\"login\":\"a\"}\r\n"), "",
	 "login=a tls=0 reject=0"},
	{"empty object", S("{}"), "", "tls=0 reject=0"},
	{"NUL byte in body", S("{\"login\":\"a\0b\"}"), "", "E_JSON:"},
	{"NUL after the object", S("{\"login\":\"a\"}\0"), "", "E_JSON:"},
	{"escaped NUL refused", S("{\"login\":\"a\\u0000b\"}"), "", "E_JSON:"},
	{"lone surrogate refused", S("{\"login\":\"\\ud800\"}"), "", "E_JSON:"},
	/* Non-UTF-8 bytes. */
	{"invalid UTF-8 byte in value", S("{\"login\":\"\xff\"}"), "",
	 "E_JSON: unable to decode byte 0xff"},
	{"Latin-1 login", S("{\"login\":\"j\xf6rg\"}"), "", "E_JSON:"},
	{"overlong '/'", S("{\"login\":\"\xc0\xaf\"}"), "", "E_JSON:"},
	{"invalid UTF-8 in a key", S("{\"\xfe\":\"x\"}"), "", "E_JSON:"},
	{"UTF-8 surrogate bytes", S("{\"login\":\"\xed\xa0\x80\"}"), "",
	 "E_JSON:"},
	{"valid UTF-8 login", S("{\"login\":\"j\xc3\xb6rg@\xe4\xbe\x8b.jp\"}"),
	 "", "login=j\\xc3\\xb6rg@\\xe4\\xbe\\x8b.jp tls=0 reject=0"},
	{"escaped control bytes kept",
	 S("{\"login\":\"a\\nb\\u0001\"}"), "", "login=a\\nb\\x01 tls=0 reject=0"},
	/* Liberal: missing fields, null, numbers, unknown keys. */
	{"missing login", S("{\"remote\":\"::1\",\"tls\":false}"), "",
	 "remote=::1 tls=0 reject=0"},
	{"null fields", S("{\"login\":null,\"tls\":null,\"success\":null}"), "",
	 "tls=0 reject=0"},
	{"numbers as text",
	 S("{\"login\":12345,\"remote\":-7,\"session_id\":1.5,"
	   "\"device_id\":1e3}"), "",
	 "login=12345 remote=-7 session_id=1.5 device_id=1000 tls=0 reject=0"},
	{"huge integer", S("{\"login\":-9223372036854775808}"), "",
	 "login=-9223372036854775808 tls=0 reject=0"},
	{"integer out of range", S("{\"login\":99999999999999999999}"), "",
	 "E_JSON: too big integer"},
	{"tiny real", S("{\"login\":-1.7976931348623157e308}"), "",
	 "login=-1.7976931348623157e+308 tls=0 reject=0"},
	{"unknown keys of any type ignored",
	 S("{\"x\":[1,{\"y\":null}],\"z\":true,\"login\":\"a\",\"w\":{}}"), "",
	 "login=a tls=0 reject=0"},
	{"duplicate key keeps the last",
	 S("{\"login\":\"first\",\"login\":\"last\"}"), "",
	 "login=last tls=0 reject=0"},
	{"duplicate tls keeps the last", S("{\"tls\":true,\"tls\":false}"), "",
	 "tls=0 reject=0"},
	{"keys are case-sensitive", S("{\"Login\":\"A\",\"login\":\"a\"}"), "",
	 "login=a tls=0 reject=0"},
	{"any key order", S("{\"tls\":true,\"remote\":\"r\",\"login\":\"l\"}"),
	 "", "login=l remote=r tls=1 reject=0"},
	/* Wrong types for kept strings. */
	{"login a boolean", S("{\"login\":true}"), "",
	 "E_FIELD: field login: expected a string, got a boolean"},
	{"login an object", S("{\"login\":{\"a\":\"b\"}}"), "",
	 "E_FIELD: field login: expected a string, got an object"},
	{"remote an array", S("{\"remote\":[\"1.2.3.4\"]}"), "",
	 "E_FIELD: field remote: expected a string, got an array"},
	{"pwhash an array", S("{\"pwhash\":[]}"), "",
	 "E_FIELD: field pwhash: expected a string, got an array"},
	/* Booleans as strings and numbers. */
	{"booleans as strings true/yes/1",
	 S("{\"tls\":\"true\",\"success\":\"yes\",\"policy_reject\":\"1\"}"), "",
	 "tls=1 success=1 reject=1"},
	{"booleans as strings false/no/0",
	 S("{\"tls\":\"false\",\"success\":\"no\",\"policy_reject\":\"0\"}"), "",
	 "tls=0 success=0 reject=0"},
	{"booleans any case, on/off",
	 S("{\"tls\":\"TRUE\",\"success\":\"Off\",\"policy_reject\":\"On\"}"), "",
	 "tls=1 success=0 reject=1"},
	{"booleans as numbers",
	 S("{\"tls\":1,\"success\":0,\"policy_reject\":1}"), "",
	 "tls=1 success=0 reject=1"},
	{"empty string boolean is absent", S("{\"success\":\"\",\"tls\":\"\"}"),
	 "", "tls=0 reject=0"},
	{"tls a strange word", S("{\"tls\":\"maybe\"}"), "",
	 "E_FIELD: field tls: not a boolean: \"maybe\""},
	{"success 2", S("{\"success\":2}"), "",
	 "E_FIELD: field success: expected a boolean, got a number"},
	{"policy_reject 1.0", S("{\"policy_reject\":1.0}"), "",
	 "E_FIELD: field policy_reject: expected a boolean"},
	{"tls an object", S("{\"tls\":{}}"), "",
	 "E_FIELD: field tls: expected a boolean, got an object"},
	{"boolean word with padding", S("{\"tls\":\" true\"}"), "",
	 "E_FIELD: field tls: not a boolean"},
	{"long non-boolean cut in the error",
	 S("{\"tls\":\"0123456789012345678901234567890123456789\"}"), "",
	 "E_FIELD: 01234567890123456789012345678901...\""},
	/* pwhash sanity. */
	{"pwhash uppercase normalized", S("{\"pwhash\":\"0F8A\"}"), "",
	 "pwhash=0f8a tls=0 reject=0"},
	{"pwhash full sha256",
	 S("{\"pwhash\":\"" SHA256_EMPTY "\"}"), "",
	 "pwhash=" SHA256_EMPTY " tls=0 reject=0"},
	{"pwhash cleartext dropped", S("{\"pwhash\":\"hunter2\"}"), "",
	 "tls=0 reject=0"},
	{"pwhash with 0x dropped", S("{\"pwhash\":\"0x0f88\"}"), "",
	 "tls=0 reject=0"},
	{"pwhash with space dropped", S("{\"pwhash\":\"0f 88\"}"), "",
	 "tls=0 reject=0"},
	{"pwhash a hex-looking number", S("{\"pwhash\":1234}"), "",
	 "pwhash=1234 tls=0 reject=0"},
	{"pwhash a negative number dropped", S("{\"pwhash\":-12}"), "",
	 "tls=0 reject=0"},
	{"pwhash long cleartext dropped, not an error",
	 S("{\"pwhash\":\"" "correct horse battery staple correct horse battery "
	   "staple correct horse battery staple correct horse battery staple "
	   "correct horse battery staple\"}"), "", "tls=0 reject=0"},
	/* Deep nesting: jansson stops at JSON_PARSER_MAX_DEPTH (2048). */
	{"key of a nested path deeper than the body",
	 S("{\"a\":{\"b\":\"1\"}}"), "a/b/c/d", "tls=0 reject=0"},
};

/* Run the table. */
static void test_rows(void)
{
	size_t i;

	for (i = 0; i < NELEM(rows); i++)
		check(rows[i].label, rows[i].body, rows[i].n, rows[i].key,
		      rows[i].want);
}

/* Build "{"key":"<n copies of c>"}", nested for a '/' in key. */
static char *field_body(const char *key, size_t n, char c)
{
	struct buf b;
	const char *p, *slash;
	size_t depth = 0;
	char *v;

	buf_init(&b, 1 << 20);
	buf_puts(&b, "{");
	for (p = key; (slash = strchr(p, '/')) != NULL; p = slash + 1, depth++)
		buf_printf(&b, "\"%.*s\":{", (int)(slash - p), p);
	v = xmalloc(n + 1);
	memset(v, c, n);
	v[n] = '\0';
	buf_printf(&b, "\"%s\":\"%s\"", p, v);
	free(v);
	while (depth--)
		buf_puts(&b, "}");
	buf_puts(&b, "}");
	return buf_steal(&b);
}

/* Each kept field at its maximum length, and one byte over. */
static void test_field_limits(void)
{
	static const struct {
		const char *key;	/* JSON key, or the pwversion path */
		size_t size;
		size_t off;
		bool pwversion;
	} f[] = {
		{"login", sizeof(((struct authpolicy_request *)0)->login),
		 offsetof(struct authpolicy_request, login), false},
		{"pwhash", sizeof(((struct authpolicy_request *)0)->pwhash),
		 offsetof(struct authpolicy_request, pwhash), false},
		{"remote", sizeof(((struct authpolicy_request *)0)->remote),
		 offsetof(struct authpolicy_request, remote), false},
		{"protocol", sizeof(((struct authpolicy_request *)0)->protocol),
		 offsetof(struct authpolicy_request, protocol), false},
		{"session_id",
		 sizeof(((struct authpolicy_request *)0)->session_id),
		 offsetof(struct authpolicy_request, session_id), false},
		{"device_id",
		 sizeof(((struct authpolicy_request *)0)->device_id),
		 offsetof(struct authpolicy_request, device_id), false},
		{"mech", sizeof(((struct authpolicy_request *)0)->mech),
		 offsetof(struct authpolicy_request, mech), false},
		{"attrs/pwchanged",
		 sizeof(((struct authpolicy_request *)0)->pwversion),
		 offsetof(struct authpolicy_request, pwversion), true},
		{"pwv", sizeof(((struct authpolicy_request *)0)->pwversion),
		 offsetof(struct authpolicy_request, pwversion), true},
	};
	struct authpolicy_request r;
	char want[64];
	size_t i;
	char *body;
	int rc;

	for (i = 0; i < NELEM(f); i++) {
		const char *key = f[i].pwversion ? f[i].key : "";

		/* 'a' is hex too, so pwhash keeps it. */
		body = field_body(f[i].key, f[i].size - 1, 'a');
		rc = authpolicy_parse(body, strlen(body), key, &r);
		is_str(code_name(rc), "OK", "%s at max (%zu): result", f[i].key,
		       f[i].size - 1);
		is_int(strlen((char *)&r + f[i].off), f[i].size - 1,
		       "%s at max: kept whole", f[i].key);
		free(body);

		body = field_body(f[i].key, f[i].size, 'a');
		rc = authpolicy_parse(body, strlen(body), key, &r);
		is_str(code_name(rc), "E_FIELD", "%s one over: result",
		       f[i].key);
		snprintf(want, sizeof(want), "field %s: %zu bytes", f[i].key,
			 f[i].size);
		if (!ok(strstr(r.error, want) != NULL, "%s one over: error",
			f[i].key))
			printf("#   error is \"%s\"\n", r.error);
		free(body);
	}
	/* Multi-byte characters count in bytes. */
	body = field_body("login", 255, 'a');
	memcpy(body + 10, "\xc3\xa9", 2);	/* still 255 bytes */
	rc = authpolicy_parse(body, strlen(body), "", &r);
	is_str(code_name(rc), "OK", "login of 255 bytes with UTF-8: result");
	free(body);
}

/* A body of exactly n bytes: an object with a padding member. */
static char *sized_body(size_t n)
{
	static const char head[] = "{\"login\":\"a\",\"pad\":\"";
	char *b = xmalloc(n + 1);

	memcpy(b, head, sizeof(head) - 1);
	memset(b + sizeof(head) - 1, 'x', n - (sizeof(head) - 1) - 2);
	memcpy(b + n - 2, "\"}", 3);
	return b;
}

/* Body size: at the limit and one over. */
static void test_body_limit(void)
{
	struct authpolicy_request r;
	char *b;
	int rc;

	b = sized_body(AUTHPOLICY_MAX_BODY);
	rc = authpolicy_parse(b, AUTHPOLICY_MAX_BODY, "", &r);
	is_str(code_name(rc), "OK", "body at the limit: result");
	is_str(r.login, "a", "body at the limit: login");
	free(b);

	b = sized_body(AUTHPOLICY_MAX_BODY + 1);
	rc = authpolicy_parse(b, AUTHPOLICY_MAX_BODY + 1, "", &r);
	is_str(code_name(rc), "E_TOO_LARGE", "body one over: result");
	is_str(r.error, "body of 65537 bytes, at most 65536",
	       "body one over: error");
	is_str(r.login, "", "body one over: nothing kept");
	free(b);

	/* The size is checked before jansson reads a byte. */
	rc = authpolicy_parse("{}", (size_t)-1, "", &r);
	is_str(code_name(rc), "E_TOO_LARGE", "absurd size: result");
}

/* n levels of nesting under key "x", of arrays or objects. */
static char *nested_body(size_t n, bool objects)
{
	struct buf b;
	size_t i;

	buf_init(&b, 1 << 20);
	buf_puts(&b, "{\"login\":\"deep\",\"x\":");
	for (i = 0; i < n; i++)
		buf_puts(&b, objects ? "{\"x\":" : "[");
	buf_puts(&b, "\"v\"");
	for (i = 0; i < n; i++)
		buf_puts(&b, objects ? "}" : "]");
	buf_puts(&b, "}");
	return buf_steal(&b);
}

/* Deep nesting parses up to jansson's depth limit and fails beyond. */
static void test_nesting(void)
{
	static const struct {
		const char *label;
		size_t depth;
		bool objects;
		const char *key;
		const char *want;
	} t[] = {
		{"1000 nested arrays", 1000, false, "", "OK"},
		{"1000 nested objects", 1000, true, "", "OK"},
		{"1000 nested objects, walked to an object", 1000, true,
		 "x/x/x", "E_FIELD"},
		{"2046 nested arrays (at jansson's limit)", 2046, false, "", "OK"},
		{"2047 nested arrays (one over)", 2047, false, "", "E_JSON"},
		{"5000 nested arrays", 5000, false, "", "E_JSON"},
		{"16000 nested objects", 16000, true, "", "E_TOO_LARGE"},
	};
	struct authpolicy_request r;
	size_t i;
	char *b, *path;
	int rc;

	for (i = 0; i < NELEM(t); i++) {
		b = nested_body(t[i].depth, t[i].objects);
		rc = authpolicy_parse(b, strlen(b), t[i].key, &r);
		is_str(code_name(rc), t[i].want, "%s: result", t[i].label);
		if (rc == AUTHPOLICY_OK)
			is_str(r.login, "deep", "%s: login", t[i].label);
		else if (rc == AUTHPOLICY_E_JSON &&
			 !ok(strstr(r.error, "maximum parsing depth") != NULL,
			     "%s: error names the depth", t[i].label))
			printf("#   error is \"%s\"\n", r.error);
		free(b);
	}
	/* The pwversion path walks all 1001 steps down to the leaf. */
	b = nested_body(1000, true);
	path = xmalloc(2 * 1001);
	for (i = 0; i < 1001; i++)
		memcpy(path + 2 * i, "x/", 2);
	path[2 * 1001 - 1] = '\0';
	rc = authpolicy_parse(b, strlen(b), path, &r);
	is_str(code_name(rc), "OK", "path of 1001 steps: result");
	is_str(r.pwversion, "v", "path of 1001 steps: pwversion");
	free(path);
	free(b);
	/* 1000 levels of "[" alone: cut off, never a crash. */
	b = xmalloc(1001);
	memset(b, '[', 1000);
	b[1000] = '\0';
	rc = authpolicy_parse(b, 1000, "", &r);
	is_str(code_name(rc), "E_JSON", "1000 unclosed '[': result");
	free(b);
}

/* The error text is printable ASCII however odd the input. */
static void test_error_text(void)
{
	struct authpolicy_request r;
	const char *p;
	int rc, clean = 1;

	rc = authpolicy_parse(S("{\"login\":\x01\x7f\xff\n}"), "", &r);
	is_str(code_name(rc), "E_JSON", "control bytes in a token: result");
	for (p = r.error; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			clean = 0;
	ok(clean && r.error[0], "control bytes in a token: error printable");
	is_str(authpolicy_error_str(AUTHPOLICY_E_JSON),
	       "body is not a JSON object", "error_str E_JSON");
	is_str(authpolicy_error_str(AUTHPOLICY_E_FIELD),
	       "field too long or of the wrong type", "error_str E_FIELD");
	is_str(authpolicy_error_str(AUTHPOLICY_E_COMMAND),
	       "no command=allow or command=report in the query",
	       "error_str E_COMMAND");
	is_str(authpolicy_error_str(AUTHPOLICY_E_TOO_LARGE), "body too large",
	       "error_str E_TOO_LARGE");
	is_str(authpolicy_error_str(AUTHPOLICY_OK), "ok", "error_str OK");
	is_str(authpolicy_error_str(99), "unknown error", "error_str 99");
	/* A request struct is reusable: the second parse forgets the first. */
	authpolicy_parse(S(CAPTURED), "", &r);
	rc = authpolicy_parse(S("{\"login\":\"b\"}"), "", &r);
	is_str(r.pwhash, "", "reuse: old pwhash gone");
	is_str(r.login, "b", "reuse: new login");
}

/* The query parser. */
static void test_command(void)
{
	static const struct {
		const char *label;
		const char *query;
		const char *want;	/* "allow", "report" or "E_COMMAND" */
	} t[] = {
		{"allow", "command=allow", "allow"},
		{"report", "command=report", "report"},
		{"after another parameter", "x=1&command=allow", "allow"},
		{"before another parameter", "command=report&x=1", "report"},
		{"leading '?'", "?command=allow", "allow"},
		{"URL-escaped value", "command=%61llow", "allow"},
		{"URL-escaped name", "comm%61nd=report", "report"},
		{"uppercase hex escape", "command=%52EPORT", "report"},
		{"case-insensitive value", "command=Allow", "allow"},
		{"last command wins", "command=allow&command=report", "report"},
		{"empty parameters skipped", "&&command=report&", "report"},
		{"parameter without '='", "debug&command=allow", "allow"},
		{"api key before", "key=a%3Db&command=allow", "allow"},
		{"empty query", "", "E_COMMAND"},
		{"NULL query", NULL, "E_COMMAND"},
		{"only '?'", "?", "E_COMMAND"},
		{"no command", "x=1&y=2", "E_COMMAND"},
		{"empty command", "command=", "E_COMMAND"},
		{"bare word", "command", "E_COMMAND"},
		{"unknown command", "command=deny", "E_COMMAND"},
		{"longer name", "commands=allow", "E_COMMAND"},
		{"prefixed name", "xcommand=allow", "E_COMMAND"},
		{"name case-sensitive", "Command=allow", "E_COMMAND"},
		{"trailing junk", "command=allowx", "E_COMMAND"},
		{"plus is a space", "command=allow+", "E_COMMAND"},
		{"escaped NUL", "command=allow%00", "E_COMMAND"},
		{"truncated escape", "command=allow%6", "E_COMMAND"},
		{"lone '%'", "command=%", "E_COMMAND"},
		{"bad escape", "command=%zzallow", "E_COMMAND"},
		{"fragment kept in value", "command=allow#top", "E_COMMAND"},
		{"valid then invalid", "command=allow&command=nope", "E_COMMAND"},
		{"very long value",
		 "command=allowallowallowallowallowallowallowallow", "E_COMMAND"},
		{"very long name then command",
		 "averyveryverylongparametername=1&command=allow", "allow"},
		{"';' is not a separator", "x=1;command=allow", "E_COMMAND"},
	};
	enum authpolicy_command cmd;
	const char *got;
	size_t i;
	int rc;

	for (i = 0; i < NELEM(t); i++) {
		cmd = (enum authpolicy_command)77;
		rc = authpolicy_parse_command(t[i].query, &cmd);
		if (rc == 0)
			got = cmd == AUTHPOLICY_ALLOW ? "allow" :
			      cmd == AUTHPOLICY_REPORT ? "report" : "?";
		else
			got = code_name(rc);
		is_str(got, t[i].want, "command: %s", t[i].label);
		if (rc != 0)
			is_int(cmd, 77, "command: %s: out untouched",
			       t[i].label);
	}
}

/* Check that a reply reads back as JSON with the given status and msg. */
static void reads_back(const char *out, int status, const char *msg,
		       const char *label)
{
	json_error_t err;
	json_t *j = json_loads(out, 0, &err);

	if (!ok(j != NULL, "reply %s: valid JSON", label)) {
		printf("#   %s\n", err.text);
		return;
	}
	is_int(json_integer_value(json_object_get(j, "status")), status,
	       "reply %s: status reads back", label);
	is_str(json_string_value(json_object_get(j, "msg")), msg,
	       "reply %s: msg reads back", label);
	json_decref(j);
}

/* The reply formatter. */
static void test_reply(void)
{
	static const struct {
		const char *label;
		int status;
		const char *msg;
		const char *want;
		const char *back;	/* msg as read back, NULL: as msg */
	} t[] = {
		{"accept", 0, "", "{\"status\":0,\"msg\":\"\"}", NULL},
		{"NULL msg", 0, NULL, "{\"status\":0,\"msg\":\"\"}", ""},
		{"reject", -1, "go away", "{\"status\":-1,\"msg\":\"go away\"}",
		 NULL},
		{"delay", 5, "", "{\"status\":5,\"msg\":\"\"}", NULL},
		{"INT_MIN", INT_MIN, "x",
		 "{\"status\":-2147483648,\"msg\":\"x\"}", NULL},
		{"quotes", -1, "say \"no\"",
		 "{\"status\":-1,\"msg\":\"say \\\"no\\\"\"}", NULL},
		{"backslashes", -1, "C:\\x\\",
		 "{\"status\":-1,\"msg\":\"C:\\\\x\\\\\"}", NULL},
		{"newline, CR, tab", -1, "a\nb\rc\td",
		 "{\"status\":-1,\"msg\":\"a\\nb\\rc\\td\"}", NULL},
		{"control bytes", -1, "\x01\x1f\x7f\b\f",
		 "{\"status\":-1,\"msg\":\"\\u0001\\u001f\\u007f\\u0008\\u000c\"}",
		 NULL},
		{"slash left alone", -1, "a/b", "{\"status\":-1,\"msg\":\"a/b\"}",
		 NULL},
		{"UTF-8 kept", -1, "\xe6\x8b\x92\xe5\x90\xa6",
		 "{\"status\":-1,\"msg\":\"\xe6\x8b\x92\xe5\x90\xa6\"}", NULL},
		{"invalid UTF-8 replaced", -1, "a\xff" "b\xc3",
		 "{\"status\":-1,\"msg\":\"a?b?\"}", "a?b?"},
	};
	char out[256];
	size_t i, len;
	int n;

	for (i = 0; i < NELEM(t); i++) {
		n = authpolicy_format_reply(out, sizeof(out), t[i].status,
					    t[i].msg);
		is_str(out, t[i].want, "reply %s: text", t[i].label);
		is_int(n, strlen(t[i].want), "reply %s: length", t[i].label);
		reads_back(out, t[i].status, t[i].back ? t[i].back : t[i].msg,
			   t[i].label);
	}
	/* Buffer sizes around the exact fit of {"status":-1,"msg":"a\"b"}. */
	len = strlen("{\"status\":-1,\"msg\":\"a\\\"b\"}");
	n = authpolicy_format_reply(out, len + 1, -1, "a\"b");
	is_int(n, len, "reply exact fit: length");
	memset(out, 'z', sizeof(out));
	n = authpolicy_format_reply(out, len, -1, "a\"b");
	is_int(n, -1, "reply one byte short: -1");
	is_str(out, "", "reply one byte short: emptied");
	n = authpolicy_format_reply(out, len - 3, -1, "a\"b");
	is_int(n, -1, "reply short inside an escape: -1");
	n = authpolicy_format_reply(out, 10, -1, "a");
	is_int(n, -1, "reply short inside the head: -1");
	n = authpolicy_format_reply(out, 1, 0, "");
	is_int(n, -1, "reply of size 1: -1");
	is_str(out, "", "reply of size 1: emptied");
	n = authpolicy_format_reply(NULL, 0, 0, "");
	is_int(n, -1, "reply of size 0: -1");
	n = authpolicy_format_reply(out, 28, 0, "\x01");
	is_int(n, 27, "reply with \\u escape fits in 28: length");
	n = authpolicy_format_reply(out, 27, 0, "\x01");
	is_int(n, -1, "reply with \\u escape in 27: -1");
}

/* The key names of bodies, as a refused request's log line shows them. */
static void test_field_names(void)
{
	static const struct {
		const char *label;
		const char *body;
		size_t n;
		size_t outsz;
		const char *want;
		size_t keys;
		const char *never;	/* a value that must not show */
	} r[] = {
		{"captured allow", S(CAPTURED), 256,
		 "device_id,login,protocol,pwhash,remote,session_id,tls", 7,
		 "0f88"},
		{"backslash in a template value (what Dovecot sends)",
		 S("{\"login\":\"alice\",\"pwhash\":\"0f88\",\"realm\":"
		   "\"CORP\\mail\",\"remote\":\"1.2.3.4\",\"tls\":false}"), 256,
		 "login,pwhash,realm,remote,tls", 5, "0f88"},
		{"a literal quote shifts the strings: values stay out",
		 S("{\"login\":\"alice\",\"password\":\"hunter2\",\"realm\":"
		   "\"CO\"RP\",\"remote\":\"1.2.3.4\",\"x\":\"s3cret\"}"), 256,
		 "login,password,realm", 3, "hunter2"},
		{"a value shaped like a key (escaped quotes)",
		 S("{\"login\":\"a,\\\"s3cret\\\":\",\"tls\":false}"), 256,
		 "login,tls", 2, "s3cret"},
		{"a value shaped like a key after a shift",
		 S("{\"a\":\"q\"\",\"login\":\",\\\"s3cret\\\":\",\"tls\":1}"),
		 256, "a,tls", 2, "s3cret"},
		{"nested attributes", S("{\"attrs\":{\"acct\":\"x\"},"
					"\"login\":\"a\"}"), 256,
		 "attrs,acct,login", 3, NULL},
		{"blanks around the colon",
		 S("{ \"login\" : \"a\" ,\n\t\"tls\" :true}"), 256,
		 "login,tls", 2, NULL},
		{"odd keys are '?'",
		 S("{\"p\\u00e4ss\":\"x\",\"a b\":\"y\",\"\":\"z\",\"\xff\":1}"),
		 256, "?,?,?,?", 4, NULL},
		/* fuzz-authpolicy, 2026-12-06 */
		{"a key named \"...\" is '?', not the cut mark",
		 S("{\"...\":1,\"..\":2,\"tls\":3}"), 256, "?,..,tls", 3,
		 NULL},
		{"a key of 64 bytes is named",
		 S("{\"" "0123456789abcdef0123456789abcdef"
		   "0123456789abcdef0123456789abcdef" "\":1}"), 256,
		 "0123456789abcdef0123456789abcdef"
		 "0123456789abcdef0123456789abcdef", 1, NULL},
		{"a key of 65 bytes is '?'",
		 S("{\"" "0123456789abcdef0123456789abcdef"
		   "0123456789abcdef0123456789abcdef" "X\":1}"), 256, "?", 1,
		 NULL},
		{"more than 16 keys are cut",
		 S("{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,"
		   "\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,"
		   "\"o\":1,\"p\":1,\"q\":1,\"r\":1}"), 256,
		 "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,...", 18, NULL},
		{"a small buffer is cut", S(CAPTURED), 16, "device_id,...", 7,
		 NULL},
		{"a buffer too small for anything", S(CAPTURED), 4, "", 7,
		 NULL},
		{"room for the cut mark only", S(CAPTURED), 5, "...", 7,
		 NULL},
		{"unterminated value", S("{\"login\":\"al"), 256, "login", 1,
		 NULL},
		{"unterminated key", S("{\"login"), 256, "", 0, NULL},
		{"backslash as the last byte", S("{\"login\":\"a\\"), 256,
		 "login", 1, NULL},
		{"form-encoded body", S("login=alice&password=hunter2"), 256, "",
		 0, "hunter2"},
		{"array of strings", S("[\"login\",\"hunter2\"]"), 256, "", 0,
		 "hunter2"},
		{"empty body", S(""), 256, "", 0, NULL},
		{"NUL bytes", S("{\"lo\0gin\":\"a\0b\",\"tls\":1}"), 256, "?,tls",
		 2, NULL},
	};
	char out[256];
	size_t i, keys;

	for (i = 0; i < NELEM(r); i++) {
		memset(out, 'Z', sizeof(out));
		keys = authpolicy_field_names(r[i].body, r[i].n, out,
					      r[i].outsz);
		is_str(out, r[i].want, "names: %s", r[i].label);
		is_int(keys, r[i].keys, "names: %s: key count", r[i].label);
		if (r[i].never)
			ok(strstr(out, r[i].never) == NULL,
			   "names: %s: no \"%s\"", r[i].label, r[i].never);
	}
	keys = authpolicy_field_names(S(CAPTURED), out, 0);
	is_int(keys, 7, "names: out of size 0 still counts");
}

/* jansson quotes the token near a syntax error: it is cut from the error
 * text, as it may be part of a value. */
static void test_error_no_value(void)
{
	static const struct {
		const char *label;
		const char *body;
		size_t n;
		const char *want;
		const char *never;
	} r[] = {
		{"invalid escape in a password",
		 S("{\"password\":\"hunt\\er2\"}"), "invalid escape", "hunt"},
		{"unquoted pwhash", S("{\"pwhash\":0f88}"), "expected",
		 "0f88"},
		{"bad byte in an unknown field", S("{\"x\":\"s3cr\xff\"}"),
		 "unable to decode byte 0xff", "s3cr"},
		{"end of file", S("{\"login\":\"a\""), "expected near end of file",
		 NULL},
	};
	struct authpolicy_request q;
	size_t i;

	for (i = 0; i < NELEM(r); i++) {
		authpolicy_parse(r[i].body, r[i].n, "", &q);
		if (!ok(strstr(q.error, r[i].want) != NULL,
			"error text: %s: says \"%s\"", r[i].label, r[i].want))
			printf("#   error is \"%s\"\n", q.error);
		if (r[i].never)
			ok(strstr(q.error, r[i].never) == NULL,
			   "error text: %s: no \"%s\" (%s)", r[i].label,
			   r[i].never, q.error);
	}
}

int main(void)
{
	test_field_names();
	test_error_no_value();
	test_rows();
	test_field_limits();
	test_body_limit();
	test_nesting();
	test_error_text();
	test_command();
	test_reply();
	return tap_done();
}
