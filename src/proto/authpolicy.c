/*
 * authpolicy - Dovecot 2.3 auth-policy requests, sans I/O.
 * See authpolicy.h for the protocol; this is how the parser keeps it.
 *
 * The body is decoded with jansson once its size is known to be within
 * AUTHPOLICY_MAX_BODY (checked first, so jansson never sees more); the
 * known fields are then copied into the fixed arrays of struct
 * authpolicy_request and the JSON tree is freed before returning, so
 * nothing of the body outlives the call.  jansson's own limits apply:
 * nesting deeper than JSON_PARSER_MAX_DEPTH (2048) is an error, not a
 * stack overflow; strings must be valid UTF-8 (RFC 8259 8.1) and "\u0000"
 * is refused (no JSON_ALLOW_NUL), so every kept value is a C string with
 * no hidden NUL.  jansson seeds its hash function at random, so a body of
 * colliding keys cannot make the lookups quadratic.
 *
 * Liberal where Dovecot varies or a hand-made client might:
 *   - a missing field, or JSON null, is "" (Dovecot may send an empty
 *     login; passdb fields are empty in step 1);
 *   - a number where a string is expected is kept as text ("12", "1.5");
 *   - "tls", "success" and "policy_reject" may be booleans, the integers
 *     0 and 1, or the strings true/false/yes/no/on/off/1/0 in any case; ""
 *     counts as absent (has_success stays false);
 *   - unknown keys are ignored, whatever their type;
 *   - a repeated key keeps its last value.  That is what jansson does
 *     without JSON_REJECT_DUPLICATES, and the same rule as the Postfix
 *     policy parser.  Dovecot sorts the attributes and never repeats one on
 *     purpose; rejecting duplicates would only turn an operator's doubled
 *     attribute into a failed login (or a fail-open) for nothing.
 * Strict where it protects us: a kept value longer than its field, or of a
 * type that cannot be a string (boolean, object, array) is
 * AUTHPOLICY_E_FIELD naming the key; a boolean field holding anything else
 * is AUTHPOLICY_E_FIELD too.  Guessing would hide a broken configuration.
 *
 * pwhash is kept only if it is hex (normalized to lowercase), else "".  It
 * is used only to compare one login's password with the account's earlier
 * ones, never shown or reversed; a non-hex value means the attribute is
 * misconfigured (say "pwhash=%{password}"), and storing it could put
 * cleartext passwords into the state database.  A non-hex value is
 * dropped whatever its length; only a hex value can be too long.
 *
 * out->error is printable ASCII (other bytes become '?'), at most 127
 * bytes, so a caller can log it as it is.
 *
 * No global state; safe to call from any number of threads at once.
 */
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/authpolicy.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Query values longer than this cannot be "allow" or "report". */
#define CMD_MAX 16

/* A kept string field: its JSON key and where it lives in the request. */
struct field {
	const char *key;
	size_t off;
	size_t size;
};

#define FIELD(name) { #name, offsetof(struct authpolicy_request, name), \
		      sizeof(((struct authpolicy_request *)0)->name) }

/* Every kept string but pwhash and pwversion, which have their own rules. */
static const struct field plain_fields[] = {
	FIELD(login),
	FIELD(remote),
	FIELD(protocol),
	FIELD(session_id),
	FIELD(device_id),
	FIELD(mech),
};

/* Set out->error from a format; bytes that are not printable become '?'. */
__attribute__((format(printf, 2, 3)))
static void set_error(struct authpolicy_request *out, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
	for (p = out->error; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

/* The name of a JSON type, for error messages. */
static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* Room for any number as text: "%.17g" of a double, or a long long. */
#define NUM_MAX 32

/*
 * The text of v: a string as it is, a number printed into num (integers
 * exactly, reals as "%.17g", which reads back to the same double), "" for
 * a missing value or null.  0, or AUTHPOLICY_E_FIELD for any other type,
 * with the error set.
 */
static int value_text(const json_t *v, const char *key, struct span *s,
		      char num[NUM_MAX], struct authpolicy_request *out)
{
	char *p;

	s->p = "";
	s->n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		s->p = json_string_value(v);
		s->n = json_string_length(v);
		return 0;
	}
	if (json_is_number(v)) {
		if (json_is_integer(v))
			snprintf(num, NUM_MAX, "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
		else
			snprintf(num, NUM_MAX, "%.17g", json_real_value(v));
		/* A locale with a decimal comma would not read back. */
		if ((p = strchr(num, ',')) != NULL)
			*p = '.';
		s->p = num;
		s->n = strlen(num);
		return 0;
	}
	set_error(out, "field %.64s: expected a string, got %s", key,
		  type_name(v));
	return AUTHPOLICY_E_FIELD;
}

/* Copy s into dst of size bytes; AUTHPOLICY_E_FIELD if it does not fit. */
static int store(const struct span *s, const char *key, char *dst,
		 size_t size, struct authpolicy_request *out)
{
	if (s->n >= size) {
		set_error(out, "field %.64s: %zu bytes, at most %zu", key,
			  s->n, size - 1);
		return AUTHPOLICY_E_FIELD;
	}
	memcpy(dst, s->p, s->n);
	dst[s->n] = '\0';
	return 0;
}

/* Store the text of v (see value_text()) into dst of size bytes. */
static int take_string(const json_t *v, const char *key, char *dst,
		       size_t size, struct authpolicy_request *out)
{
	struct span s;
	char num[NUM_MAX];

	if (value_text(v, key, &s, num, out) != 0)
		return AUTHPOLICY_E_FIELD;
	return store(&s, key, dst, size, out);
}

/* Is s all hex digits (an empty s is)? */
static bool span_is_hex(const struct span *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (buf_hex_value(s->p[i]) < 0)
			return false;
	return true;
}

/* Take pwhash: kept lowercased if hex, else "" (see the header comment). */
static int take_pwhash(const json_t *v, struct authpolicy_request *out)
{
	struct span s;
	char num[NUM_MAX], *p;
	int r = 0;

	if (value_text(v, "pwhash", &s, num, out) != 0)
		return AUTHPOLICY_E_FIELD;
	if (span_is_hex(&s))
		r = store(&s, "pwhash", out->pwhash, sizeof(out->pwhash), out);
	else
		out->pwhash[0] = '\0';
	/* By hand: tolower() would depend on the locale. */
	for (p = out->pwhash; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

/* Does the string s of n bytes equal one of the words, ignoring case? */
static bool word_in(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && strncasecmp(s, *words, n) == 0)
			return true;
	return false;
}

/*
 * Take the boolean v for key: *present tells whether it was there at all
 * (null and "" count as absent).  0 or AUTHPOLICY_E_FIELD.
 */
static int take_bool(const json_t *v, const char *key, bool *val,
		     bool *present, struct authpolicy_request *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1", NULL};
	static const char *const no[] = {"false", "no", "off", "0", NULL};
	const char *s;
	size_t n;

	*val = false;
	*present = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		*val = json_is_true(v);
		*present = true;
		return 0;
	}
	if (json_is_integer(v) && (json_integer_value(v) == 0 ||
				   json_integer_value(v) == 1)) {
		*val = json_integer_value(v) == 1;
		*present = true;
		return 0;
	}
	if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
		if (n == 0)
			return 0;
		if (word_in(s, n, yes) || word_in(s, n, no)) {
			*val = word_in(s, n, yes);
			*present = true;
			return 0;
		}
		set_error(out, "field %s: not a boolean: \"%.32s%s\"", key, s,
			  n > 32 ? "..." : "");
		return AUTHPOLICY_E_FIELD;
	}
	set_error(out, "field %s: expected a boolean, got %s", key,
		  type_name(v));
	return AUTHPOLICY_E_FIELD;
}

/*
 * Walk the '/'-separated path in obj, as Dovecot nests "attrs/x" into
 * {"attrs":{"x":...}}.  NULL when a step is missing or not an object:
 * liberal, an unfilled attribute is as good as an empty one.  The copy
 * cuts the path into keys without json_object_getn(), which needs
 * jansson 2.14.
 */
static const json_t *walk(const json_t *obj, const char *path)
{
	char *copy = xstrdup(path), *key = copy, *slash;

	while (obj != NULL && (slash = strchr(key, '/')) != NULL) {
		*slash = '\0';
		obj = json_object_get(obj, key);
		if (!json_is_object(obj))
			obj = NULL;
		key = slash + 1;
	}
	if (obj != NULL)
		obj = json_object_get(obj, key);
	free(copy);
	return obj;
}

/* Clear everything out holds but the command. */
static void clear(struct authpolicy_request *out)
{
	enum authpolicy_command cmd = out->command;

	memset(out, 0, sizeof(*out));
	out->command = cmd;
}

/* Fill out from the decoded object root.  0 or AUTHPOLICY_E_FIELD. */
static int take_fields(const json_t *root, const char *pwversion_key,
		       struct authpolicy_request *out)
{
	const struct field *f;
	bool present;
	size_t i;
	int r;

	for (i = 0; i < NELEM(plain_fields); i++) {
		f = &plain_fields[i];
		r = take_string(json_object_get(root, f->key), f->key,
				(char *)out + f->off, f->size, out);
		if (r)
			return r;
	}
	if ((r = take_pwhash(json_object_get(root, "pwhash"), out)) != 0)
		return r;
	if (pwversion_key && *pwversion_key &&
	    (r = take_string(walk(root, pwversion_key), pwversion_key,
			     out->pwversion, sizeof(out->pwversion), out)) != 0)
		return r;
	if ((r = take_bool(json_object_get(root, "tls"), "tls", &out->tls,
			   &present, out)) != 0)
		return r;
	if ((r = take_bool(json_object_get(root, "success"), "success",
			   &out->success, &out->has_success, out)) != 0)
		return r;
	return take_bool(json_object_get(root, "policy_reject"),
			 "policy_reject", &out->policy_reject, &present, out);
}

int authpolicy_parse(const char *body, size_t n, const char *pwversion_key,
		     struct authpolicy_request *out)
{
	json_error_t jerr;
	json_t *root;
	int r;

	clear(out);
	if (n > AUTHPOLICY_MAX_BODY) {
		set_error(out, "body of %zu bytes, at most %d", n,
			  AUTHPOLICY_MAX_BODY);
		return AUTHPOLICY_E_TOO_LARGE;
	}
	/*
	 * No JSON_DECODE_ANY: only an object or an array gets through, and
	 * an array is refused below.  No JSON_REJECT_DUPLICATES: see above.
	 */
	root = json_loadb(n ? body : "", n, 0, &jerr);
	if (root == NULL) {
		/* jansson quotes the token at the error ("invalid escape near
		 * '"s3cr\e'"): a piece of a value, maybe a secret. */
		char *near = strstr(jerr.text, " near '");

		if (near)
			*near = '\0';
		set_error(out, "line %d column %d: %s", jerr.line, jerr.column,
			  jerr.text);
		return AUTHPOLICY_E_JSON;
	}
	if (!json_is_object(root)) {
		set_error(out, "body is %s, not an object", type_name(root));
		json_decref(root);
		return AUTHPOLICY_E_JSON;
	}
	r = take_fields(root, pwversion_key, out);
	json_decref(root);
	if (r != 0) {
		/* Half a request is no request: keep only the error. */
		char err[sizeof(out->error)];

		memcpy(err, out->error, sizeof(err));
		clear(out);
		memcpy(out->error, err, sizeof(err));
	}
	return r;
}

/*
 * URL-unescape s[0..n) ("%XX", '+' for space) into dst of size bytes.
 * False if it is malformed, decodes a NUL, or does not fit.
 */
static bool unescape(const char *s, size_t n, char *dst, size_t size)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (n - i < 3 || (hi = buf_hex_value(s[i + 1])) < 0 ||
			    (lo = buf_hex_value(s[i + 2])) < 0 || (hi | lo) == 0)
				return false;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= size)
			return false;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return true;
}

int authpolicy_parse_command(const char *query, enum authpolicy_command *out)
{
	char name[CMD_MAX], val[CMD_MAX];
	const char *p, *end, *eq;
	int found = -1;

	if (query == NULL)
		return AUTHPOLICY_E_COMMAND;
	if (*query == '?')
		query++;
	for (p = query; *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL ||
		    !unescape(p, (size_t)(eq - p), name, sizeof(name)) ||
		    strcmp(name, "command") != 0)
			continue;	/* someone else's parameter */
		/* The last command= decides, as the last JSON key does. */
		eq++;
		if (!unescape(eq, (size_t)(end - eq), val, sizeof(val)))
			found = -1;
		else if (strcasecmp(val, "allow") == 0)
			found = AUTHPOLICY_ALLOW;
		else if (strcasecmp(val, "report") == 0)
			found = AUTHPOLICY_REPORT;
		else
			found = -1;
	}
	if (found < 0)
		return AUTHPOLICY_E_COMMAND;
	*out = (enum authpolicy_command)found;
	return 0;
}

/* Append the n bytes at s to out at *o, keeping room for the NUL. */
static bool put(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
	if (n >= outsz - *o)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return true;
}

/* Append s JSON-escaped (RFC 8259 7); s must be valid UTF-8 already. */
static bool put_escaped(char *out, size_t outsz, size_t *o, const char *s)
{
	char tmp[8];
	bool fits = true;

	for (; *s && fits; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
			fits = put(out, outsz, o, "\\\"", 2);
			break;
		case '\\':
			fits = put(out, outsz, o, "\\\\", 2);
			break;
		case '\n':
			fits = put(out, outsz, o, "\\n", 2);
			break;
		case '\r':
			fits = put(out, outsz, o, "\\r", 2);
			break;
		case '\t':
			fits = put(out, outsz, o, "\\t", 2);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(tmp, sizeof(tmp), "\\u%04x", c);
				fits = put(out, outsz, o, tmp, 6);
			} else {
				fits = put(out, outsz, o, s, 1);
			}
		}
	}
	return fits;
}

int authpolicy_format_reply(char *out, size_t outsz, int status,
			    const char *msg)
{
	char head[48];
	char *clean;
	size_t o = 0;
	bool fits;

	if (outsz == 0)
		return -1;
	/* Dovecot parses the reply as JSON: invalid UTF-8 becomes '?'. */
	clean = xstrdup(msg ? msg : "");
	utf8_sanitize(clean);
	snprintf(head, sizeof(head), "{\"status\":%d,\"msg\":\"", status);
	fits = put(out, outsz, &o, head, strlen(head)) &&
	       put_escaped(out, outsz, &o, clean) &&
	       put(out, outsz, &o, "\"}", 2);
	free(clean);
	if (!fits || o > INT_MAX) {
		out[0] = '\0';
		return -1;
	}
	return (int)o;
}

/* May byte c appear in a key name written to the log? */
static bool name_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Is c JSON whitespace (RFC 8259 2)? */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Index of the first non-blank byte of body at or after i (n if none). */
static size_t skip_blank(const char *body, size_t n, size_t i)
{
	while (i < n && is_blank(body[i]))
		i++;
	return i;
}

/* Append one name (or "..." once it is cut) to the list in out. */
static void add_name(char *out, size_t outsz, size_t *o, bool *cut,
		     size_t named, const char *s, size_t len)
{
	size_t need = len + (*o ? 1 : 0);

	if (*cut)
		return;
	/* Keep room for ",..." and the NUL. */
	if (named >= AUTHPOLICY_NAMES_MAX || *o + need + 5 > outsz) {
		const char *mark = *o ? ",..." : "...";

		*cut = true;
		memcpy(out + *o, mark, strlen(mark) + 1);
		*o += strlen(mark);
		return;
	}
	if (*o)
		out[(*o)++] = ',';
	memcpy(out + *o, s, len);
	*o += len;
	out[*o] = '\0';
}

size_t authpolicy_field_names(const char *body, size_t n, char *out,
			      size_t outsz)
{
	size_t i = 0, start, o = 0, keys = 0, j;
	char prev = '\0';	/* last non-blank byte outside strings */
	bool plain, cut = outsz < 5;

	if (outsz)
		out[0] = '\0';
	while (i < n) {
		if (body[i] != '"') {
			if (!is_blank(body[i]))
				prev = body[i];
			i++;
			continue;
		}
		start = ++i;
		plain = true;
		while (i < n && body[i] != '"') {
			if (body[i] == '\\') {
				plain = false;
				i += 2;
				continue;
			}
			plain = plain && name_byte(body[i]);
			i++;
		}
		if (i >= n)
			break;		/* unterminated: no key */
		j = skip_blank(body, n, i + 1);
		if ((prev == '{' || prev == ',') && j < n && body[j] == ':') {
			/* A key named "..." would read as the cut mark
			 * (fuzz-authpolicy): it is '?' like any odd one. */
			plain = plain && i > start &&
				i - start <= AUTHPOLICY_NAME_MAX &&
				!(i - start == 3 &&
				  memcmp(body + start, "...", 3) == 0);
			add_name(out, outsz, &o, &cut, keys,
				 plain ? body + start : "?",
				 plain ? i - start : 1);
			keys++;
		}
		prev = '"';
		i++;
	}
	return keys;
}

const char *authpolicy_error_str(int code)
{
	switch (code) {
	case AUTHPOLICY_OK:
		return "ok";
	case AUTHPOLICY_E_COMMAND:
		return "no command=allow or command=report in the query";
	case AUTHPOLICY_E_TOO_LARGE:
		return "body too large";
	case AUTHPOLICY_E_JSON:
		return "body is not a JSON object";
	case AUTHPOLICY_E_FIELD:
		return "field too long or of the wrong type";
	}
	return "unknown error";
}
