/*
 * fuzz-authpolicy - libFuzzer target for the Dovecot auth-policy parsers.
 *
 * Input layout: byte 0 picks the variant (bits 0-2 the pwversion_key,
 * bits 3-5 a fixed query for authpolicy_parse_command, bits 6-7 the size
 * of the reply buffer); the rest is the request body.  The empty input is
 * parsed as an empty body with variant 0.
 *
 * Checked on every input, aborting (a crash to the fuzzer) if broken:
 *   - the result is a known code; out->error is empty on success and
 *     non-empty printable ASCII on failure; on failure nothing is kept;
 *   - every kept field is NUL-terminated within its array, pwhash is
 *     lowercase hex, and the command is left alone;
 *   - parsing the same body again gives the same request, byte for byte;
 *   - the body as a query (NUL-terminated copy) and the variant's query
 *     parse to a command or AUTHPOLICY_E_COMMAND, leaving *out alone then;
 *   - a reply formatted from the login either fails on a small buffer
 *     (then out is "") or is valid JSON whose msg reads back as the login,
 *     which jansson already checked to be valid UTF-8;
 *   - the key names for the log (authpolicy_field_names) fit the buffer,
 *     hold only [A-Za-z0-9_.-], '?', ',' and a final "...", name no more
 *     keys than were counted, each appears quoted in the body, and, when
 *     the body is a valid JSON object, each is one of its keys at some
 *     depth: never only a value.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/authpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const keys[] = {
	"", "attrs/pwchanged", "pwversion", "a/b/c", "login", "/", "attrs/",
	"x/x/x/x/x/x/x/x",
};

static const char *const queries[] = {
	"command=allow", "command=report", "x=1&command=allow", "?command=%72eport",
	"command=deny", "", "command=allow&command=report", "command=allow%00",
};

/*
 * Room for the largest reply: {"status":-2147483648,"msg":""} is 31 bytes,
 * and each of the login's at most 255 bytes takes at most 6 ("\u001f").
 */
#define REPLY_MAX (31 + 6 * 255 + 1)

/* Reply buffer sizes: tiny, short, roomy, the largest reply possible. */
static const size_t outsizes[] = {1, 24, 128, REPLY_MAX};

/* Key-name buffer sizes: nothing fits, the cut mark only, short, all. */
static const size_t namesizes[] = {
	1, 5, 24, AUTHPOLICY_NAMES_MAX * (AUTHPOLICY_NAME_MAX + 1) + 8,
};

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-authpolicy: invariant broken: %s\n", what);
	abort();
}

/* Is the NUL-terminated s within an array of size bytes? */
static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* Check the request fields after a parse that returned rc. */
static void check_request(const struct authpolicy_request *r, int rc)
{
	const char *p;

	if (rc != AUTHPOLICY_OK && rc != AUTHPOLICY_E_TOO_LARGE &&
	    rc != AUTHPOLICY_E_JSON && rc != AUTHPOLICY_E_FIELD)
		fail("unknown result");
	if (r->command != AUTHPOLICY_REPORT)
		fail("command touched");
	if (!terminated(r->error, sizeof(r->error)))
		fail("error not terminated");
	for (p = r->error; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			fail("error not printable");
	if ((rc == AUTHPOLICY_OK) != (r->error[0] == '\0'))
		fail("error text and result disagree");
	if (!terminated(r->login, sizeof(r->login)) ||
	    !terminated(r->pwhash, sizeof(r->pwhash)) ||
	    !terminated(r->remote, sizeof(r->remote)) ||
	    !terminated(r->protocol, sizeof(r->protocol)) ||
	    !terminated(r->session_id, sizeof(r->session_id)) ||
	    !terminated(r->device_id, sizeof(r->device_id)) ||
	    !terminated(r->mech, sizeof(r->mech)) ||
	    !terminated(r->pwversion, sizeof(r->pwversion)))
		fail("field not terminated");
	for (p = r->pwhash; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			fail("pwhash not lowercase hex");
	if (rc != AUTHPOLICY_OK &&
	    (r->login[0] || r->pwhash[0] || r->remote[0] || r->protocol[0] ||
	     r->session_id[0] || r->device_id[0] || r->mech[0] ||
	     r->pwversion[0] || r->tls || r->has_success || r->success ||
	     r->policy_reject))
		fail("fields kept after an error");
	if (r->success && !r->has_success)
		fail("success without has_success");
}

/* Parse q as a query; the result must be sane. */
static void check_command(const char *q)
{
	enum authpolicy_command cmd = (enum authpolicy_command)77;
	int rc = authpolicy_parse_command(q, &cmd);

	if (rc == 0) {
		if (cmd != AUTHPOLICY_ALLOW && cmd != AUTHPOLICY_REPORT)
			fail("command: bad value");
	} else if (rc != AUTHPOLICY_E_COMMAND || (int)cmd != 77) {
		fail("command: error result");
	}
}

/* Format a reply with msg into outsz bytes and read it back. */
static void check_reply(const char *msg, int status, size_t outsz)
{
	char out[REPLY_MAX];
	json_error_t err;
	json_t *j;
	int n;

	n = authpolicy_format_reply(out, outsz, status, msg);
	if (n < 0) {
		if (out[0] != '\0')
			fail("reply: not emptied on overflow");
		if (outsz == sizeof(out))
			fail("reply: the largest one did not fit");
		return;
	}
	if ((size_t)n != strlen(out) || (size_t)n >= outsz)
		fail("reply: length");
	if ((j = json_loads(out, 0, &err)) == NULL)
		fail("reply: not JSON");
	if (json_integer_value(json_object_get(j, "status")) != status ||
	    !json_is_string(json_object_get(j, "msg")) ||
	    strcmp(json_string_value(json_object_get(j, "msg")), msg) != 0)
		fail("reply: does not read back");
	json_decref(j);
}

/* Is name a key of j or of an object nested in it? */
static int has_key(json_t *j, const char *name)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		if (json_object_get(j, name))
			return 1;
		json_object_foreach(j, k, v)
			if (has_key(v, name))
				return 1;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if (has_key(v, name))
				return 1;
	}
	return 0;
}

/* The key names of body into outsz bytes: see the header comment. */
static void check_names(const char *body, size_t size, size_t outsz)
{
	char out[AUTHPOLICY_NAMES_MAX * (AUTHPOLICY_NAME_MAX + 1) + 8];
	char quoted[AUTHPOLICY_NAME_MAX + 3];
	size_t counted, listed = 0, len;
	const char *p, *end;
	json_t *root;

	memset(out, 0x5a, sizeof(out));
	counted = authpolicy_field_names(body, size, out, outsz);
	if (!terminated(out, outsz))
		fail("names: not terminated within the buffer");
	root = json_loadb(size ? body : "", size, 0, NULL);
	for (p = out; *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		if (len == 3 && memcmp(p, "...", 3) == 0) {
			if (*end)
				fail("names: something after the cut mark");
			break;
		}
		listed++;
		if (len == 1 && *p == '?')
			continue;
		if (len == 0 || len > AUTHPOLICY_NAME_MAX)
			fail("names: empty or too long");
		if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789_.-") < len)
			fail("names: a byte outside the safe set");
		snprintf(quoted, sizeof(quoted), "\"%.*s\"", (int)len, p);
		if (!memmem(body, size, quoted, len + 2))
			fail("names: not quoted in the body");
		snprintf(quoted, sizeof(quoted), "%.*s", (int)len, p);
		if (json_is_object(root) && !has_key(root, quoted))
			fail("names: a value of a valid body named as a key");
	}
	json_decref(root);
	if (listed > counted || listed > AUTHPOLICY_NAMES_MAX)
		fail("names: more listed than counted");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authpolicy_request r, again;
	const char *body = (const char *)data;
	unsigned v = 0;
	char *q;
	int rc, rc2;

	if (size > 0) {
		v = data[0];
		body++;
		size--;
	}
	memset(&r, 0xa5, sizeof(r));
	r.command = AUTHPOLICY_REPORT;
	rc = authpolicy_parse(body, size, keys[v % NELEM(keys)], &r);
	check_request(&r, rc);

	memset(&again, 0x5a, sizeof(again));
	again.command = AUTHPOLICY_REPORT;
	rc2 = authpolicy_parse(body, size, keys[v % NELEM(keys)], &again);
	if (rc2 != rc || memcmp(&r, &again, sizeof(r)) != 0)
		fail("a second parse differs");

	check_command(queries[(v >> 3) % NELEM(queries)]);
	q = malloc(size + 1);
	if (q == NULL)
		abort();
	if (size)
		memcpy(q, body, size);
	q[size] = '\0';
	check_command(q);
	free(q);

	check_reply(r.login, rc == AUTHPOLICY_OK ? 0 : -1,
		    outsizes[(v >> 6) % NELEM(outsizes)]);
	check_reply(r.login, -2147483647 - 1, REPLY_MAX);
	check_names(body, size, namesizes[(v >> 6) % NELEM(namesizes)]);
	return 0;
}
