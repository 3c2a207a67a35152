/*
 * http_api_body - request body and query checks of the admin API.  See
 * http_api_body.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "front/http_api_body.h"
#include "util/xalloc.h"

bool api_text_is_clean(const char *s, size_t n)
{
	json_t *j;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	/* jansson refuses to make a string of invalid UTF-8. */
	if (!(j = json_stringn(s, n)))
		return false;
	json_decref(j);
	return true;
}

/*
 * Read the optional string member key into *out (def when absent or null),
 * at most max bytes.  A required one (def NULL) must be present and not
 * empty.  -1 with err otherwise.
 */
static int text(json_t *o, const char *key, const char *def, size_t max,
		const char **out, char *err, size_t errsz)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		if (!def) {
			snprintf(err, errsz, "\"%s\" is required", key);
			return -1;
		}
		*out = def;
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(err, errsz, "\"%s\" must be a string", key);
		return -1;
	}
	if (json_string_length(v) > max) {
		snprintf(err, errsz, "\"%s\" is longer than %zu bytes", key, max);
		return -1;
	}
	*out = json_string_value(v);
	if (!def && !**out) {
		snprintf(err, errsz, "\"%s\" must not be empty", key);
		return -1;
	}
	return 0;
}

/* Read the optional boolean member key (null: false).  -1 with err. */
static int flag(json_t *o, const char *key, bool *out, char *err,
		size_t errsz)
{
	json_t *v = json_object_get(o, key);

	if (v && !json_is_boolean(v) && !json_is_null(v)) {
		snprintf(err, errsz, "\"%s\" must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* The members of a release. */
static int release(json_t *o, struct api_body *b, char *err, size_t errsz)
{
	if (text(o, "reason", "", API_BODY_TEXT, &b->reason, err, errsz) ||
	    text(o, "held", "keep", API_BODY_TEXT, &b->held, err, errsz) ||
	    flag(o, "force", &b->force, err, errsz))
		return -1;
	if (strcmp(b->held, "release") && strcmp(b->held, "delete") &&
	    strcmp(b->held, "keep")) {
		snprintf(err, errsz,
			 "\"held\" must be \"release\", \"delete\" or \"keep\"");
		return -1;
	}
	if (b->force && !*b->reason) {
		snprintf(err, errsz, "\"force\" requires a \"reason\"");
		return -1;
	}
	return 0;
}

/* An optional duration member (name) into b->seconds. */
static int seconds(json_t *o, const char *name, struct api_body *b,
		   char *err, size_t errsz)
{
	json_t *sec = json_object_get(o, name);

	if (sec && !json_is_null(sec)) {
		/* The range is the core's; here only what a long holds. */
		if (!json_is_integer(sec) || json_integer_value(sec) < 0 ||
		    json_integer_value(sec) > 0x7fffffffL) {
			snprintf(err, errsz, "\"%s\" must be a whole "
				 "number from 0 (the default) up", name);
			return -1;
		}
		b->seconds = (long)json_integer_value(sec);
	}
	return 0;
}

/* The members of an address block. */
static int ip_block(json_t *o, struct api_body *b, char *err, size_t errsz)
{
	if (text(o, "ip", NULL, API_BODY_IP, &b->ip, err, errsz) ||
	    text(o, "reason", NULL, API_BODY_TEXT, &b->reason, err, errsz) ||
	    flag(o, "force", &b->force, err, errsz))
		return -1;
	return seconds(o, "seconds", b, err, errsz);
}

/* The members of an allowlist entry: net into b->ip, expires into
 * b->seconds. */
static int allow(json_t *o, struct api_body *b, char *err, size_t errsz)
{
	if (text(o, "net", NULL, API_BODY_IP, &b->ip, err, errsz) ||
	    text(o, "reason", NULL, API_BODY_TEXT, &b->reason, err, errsz))
		return -1;
	return seconds(o, "expires", b, err, errsz);
}

int api_body_parse(enum api_body_kind kind, const char *p, size_t n,
		   struct api_body *out, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *o;
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->reason = out->source = "";
	out->held = "keep";
	if (n > API_BODY_MAX) {
		snprintf(err, errsz, "body longer than %d bytes", API_BODY_MAX);
		return -1;
	}
	if (n == 0) {
		o = json_object();
	} else {
		o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
		if (!o) {
			snprintf(err, errsz, "invalid JSON: %s", jerr.text);
			return -1;
		}
	}
	if (!json_is_object(o)) {
		json_decref(o);
		snprintf(err, errsz, "the body must be a JSON object");
		return -1;
	}
	switch (kind) {
	case API_BODY_NONE:
		break;
	case API_BODY_RESTRICT:
		r = text(o, "reason", NULL, API_BODY_TEXT, &out->reason, err,
			 errsz);
		break;
	case API_BODY_CREDENTIAL:
		r = text(o, "source", "", API_BODY_TEXT, &out->source, err,
			 errsz);
		break;
	case API_BODY_RELEASE:
		r = release(o, out, err, errsz);
		break;
	case API_BODY_IP_BLOCK:
		r = ip_block(o, out, err, errsz);
		break;
	case API_BODY_IP_UNBLOCK:
		r = text(o, "ip", NULL, API_BODY_IP, &out->ip, err, errsz);
		break;
	case API_BODY_ALLOW:
		r = allow(o, out, err, errsz);
		break;
	}
	if (r) {
		json_decref(o);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->doc = o;
	return 0;
}

void api_body_free(struct api_body *b)
{
	json_decref(b->doc);
	memset(b, 0, sizeof(*b));
}

int api_query_parse(const char *query, const char *const *names, int n,
		    char **out, char *err, size_t errsz)
{
	struct evkeyvalq kv;
	const char *v;
	int i, r = 0;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	if (!query || !*query)
		return 0;
	/* evhttp_parse_query_str() initializes kv itself. */
	if (evhttp_parse_query_str(query, &kv) != 0) {
		evhttp_clear_headers(&kv);
		snprintf(err, errsz, "malformed query string");
		return -1;
	}
	for (i = 0; i < n && r == 0; i++) {
		v = evhttp_find_header(&kv, names[i]);
		if (!v || !*v)
			continue;
		if (!api_text_is_clean(v, strlen(v))) {
			snprintf(err, errsz, "query parameter %s holds a "
				 "control byte or invalid UTF-8", names[i]);
			r = -1;
		} else {
			out[i] = xstrdup(v);
		}
	}
	evhttp_clear_headers(&kv);
	if (r)
		for (i = 0; i < n; i++) {
			free(out[i]);
			out[i] = NULL;
		}
	return r;
}
