/*
 * http_api_login - the login-abuse routes of the admin API: blocked client
 * addresses (/v1/ips) and attack incidents (/v1/incidents).  See http_api.h
 * for the interface and docs/api.md for the routes.
 *
 * Sans I/O: http_api.c has routed the request, decoded the path, parsed the
 * body or the query and checked that an engine is attached; the functions
 * here check the members, make one call of the login engine (auth/login.h),
 * which answers at once on the loop thread, and fill a struct
 * http_api_answer.
 *
 * Limits and why:
 *   LOGIN_API_MAX_IP      64 bytes of address or CIDR: the longest IPv6
 *                         text form (45, RFC 4291 2.2 with an embedded IPv4
 *                         address) and "/128";
 *   LOGIN_API_MAX_TEXT    1 KiB of reason, as every text of the API;
 *   LOGIN_API_MAX_BLOCK   ten years, the engine's own cap (its times are
 *                         32-bit): refused here rather than cut silently;
 *   LOGIN_API_MAX_ID      64 bytes of incident ID (the engine's are < 40).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "auth/login.h"
#include "front/http_api.h"

#define LOGIN_API_MAX_IP 64
#define LOGIN_API_MAX_TEXT 1024
#define LOGIN_API_MAX_BLOCK (3650L * 86400)
#define LOGIN_API_MAX_ID 64

/* Answer status with {"error": message}. */
__attribute__((format(printf, 3, 4)))
static void ans_error(struct http_api_answer *ans, int status,
		      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ans->status = status;
	ans->json = json_pack("{s:s}", "error", msg);
}

/* Answer 200 with j (a new reference), or 500 when the engine gave none. */
static void ans_json(struct http_api_answer *ans, json_t *j)
{
	if (!j) {
		ans_error(ans, 500, "the login engine failed to answer");
		return;
	}
	ans->status = 200;
	ans->json = j;
}

/* A list as {"key": [...]}: an engine's bare array is wrapped, an object
 * passed on as it is. */
static void ans_list(struct http_api_answer *ans, const char *key, json_t *j)
{
	if (json_is_array(j))
		j = json_pack("{s:o}", key, j);
	ans_json(ans, j);
}

/*
 * Read the string member key of the body, at most max bytes, into *out.
 * Absent, null or empty is an error when required, else *out = NULL.
 * Answers 400 and returns -1 on error.
 */
static int body_str(const struct http_api_login_req *q, const char *key,
		    size_t max, bool required, const char **out,
		    struct http_api_answer *ans)
{
	json_t *v = json_object_get(q->body, key);

	*out = NULL;
	if (v && !json_is_null(v) && !json_is_string(v)) {
		ans_error(ans, 400, "\"%s\" must be a string", key);
		return -1;
	}
	if (json_is_string(v) && json_string_length(v) > max) {
		ans_error(ans, 400, "\"%s\" is longer than %zu bytes", key,
			  max);
		return -1;
	}
	if (json_is_string(v) && json_string_length(v) > 0)
		*out = json_string_value(v);
	if (!*out && required) {
		ans_error(ans, 400, "\"%s\" is required", key);
		return -1;
	}
	return 0;
}

/*
 * Check that s is an address or "address/bits" (bits at most 32 for IPv4,
 * 128 for IPv6) and write it to out as the engine lists it: host bits
 * cleared, no "/bits" for a single address.  The syntax is the engine's
 * (lg_cidr_parse); checking it here lets unblock tell a malformed address
 * (400) from one that is not blocked (404), which the engine reports alike.
 */
static bool cidr_norm(const char *s, char *out, size_t outsz)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned char b[16];
	char addr[LOGIN_API_MAX_IP + 1], txt[INET6_ADDRSTRLEN];
	int af, bits, max, i;

	if (n == 0 || n > LOGIN_API_MAX_IP)
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	max = af == AF_INET ? 32 : 128;
	if (inet_pton(af, addr, b) != 1)
		return false;
	bits = max;
	if (slash) {
		const char *p = slash + 1;

		if (!*p || strlen(p) > 3)
			return false;
		for (bits = 0; *p; p++) {
			if (*p < '0' || *p > '9')
				return false;
			bits = bits * 10 + (*p - '0');
		}
		if (bits > max)
			return false;
	}
	for (i = 0; i < max / 8; i++) {
		int keep = bits - i * 8;

		if (keep < 8)
			b[i] &= keep <= 0 ? 0 :
				(unsigned char)(0xff << (8 - keep));
	}
	if (!inet_ntop(af, b, txt, sizeof(txt)))
		return false;
	if (bits == max)
		snprintf(out, outsz, "%s", txt);
	else
		snprintf(out, outsz, "%s/%d", txt, bits);
	return true;
}

/* The entry for address or range key in the engine's list, or NULL; a new
 * reference. */
static json_t *ips_entry(struct login_engine *e, const char *key)
{
	json_t *list = login_ips_list(e), *v, *found = NULL;
	size_t i;

	json_array_foreach(list, i, v) {
		const char *ip = json_string_value(json_object_get(v, "ip"));

		if (ip && strcmp(ip, key) == 0) {
			found = json_incref(v);
			break;
		}
	}
	json_decref(list);
	return found;
}

void http_api_login_ips(struct login_engine *e,
			const struct http_api_login_req *q,
			struct http_api_answer *ans)
{
	ans_list(ans, "ips", login_ips_list(e));
}

void http_api_login_ip_block(struct login_engine *e,
			     const struct http_api_login_req *q,
			     struct http_api_answer *ans)
{
	const char *ip, *reason;
	json_t *sec = json_object_get(q->body, "seconds"), *j;
	json_int_t seconds = 0;
	char err[256] = "", key[LOGIN_API_MAX_IP + 8];

	if (body_str(q, "ip", LOGIN_API_MAX_IP, true, &ip, ans) ||
	    body_str(q, "reason", LOGIN_API_MAX_TEXT, true, &reason, ans))
		return;
	if (!cidr_norm(ip, key, sizeof(key))) {
		ans_error(ans, 400, "\"ip\" is not an address or CIDR range");
		return;
	}
	if (sec && !json_is_null(sec)) {
		if (!json_is_integer(sec) || json_integer_value(sec) < 0 ||
		    json_integer_value(sec) > LOGIN_API_MAX_BLOCK) {
			ans_error(ans, 400, "\"seconds\" must be a whole number "
				  "from 0 (the default) to %ld",
				  LOGIN_API_MAX_BLOCK);
			return;
		}
		seconds = json_integer_value(sec);
	}
	if (login_ip_block(e, ip, (long)seconds, reason, q->actor, err,
			   sizeof(err)) != 0) {
		ans_error(ans, 400, "%s", err[0] ? err : "cannot block that");
		return;
	}
	/* The block as the list shows it, with its end; or what we asked. */
	j = ips_entry(e, key);
	ans_json(ans, j ? j : json_pack("{s:s,s:s,s:s,s:s}", "ip", key,
					 "state", "blocked", "reason", reason,
					 "actor", q->actor));
}

void http_api_login_ip_unblock(struct login_engine *e,
			       const struct http_api_login_req *q,
			       struct http_api_answer *ans)
{
	const char *ip;
	char err[256] = "", key[LOGIN_API_MAX_IP + 8];

	if (body_str(q, "ip", LOGIN_API_MAX_IP, true, &ip, ans))
		return;
	if (!cidr_norm(ip, key, sizeof(key))) {
		ans_error(ans, 400, "\"ip\" is not an address or CIDR range");
		return;
	}
	/* The address is well-formed: the engine's only refusal left is
	 * that it holds no state for it, a missing resource. */
	if (login_ip_unblock(e, ip, q->actor, err, sizeof(err)) != 0) {
		ans_error(ans, 404, "%s", err[0] ? err : "not blocked");
		return;
	}
	ans_json(ans, json_pack("{s:s,s:s,s:s}", "ip", key, "state",
				"unblocked", "actor", q->actor));
}

void http_api_login_incidents(struct login_engine *e,
			      const struct http_api_login_req *q,
			      struct http_api_answer *ans)
{
	ans_list(ans, "incidents", login_incidents_list(e));
}

void http_api_login_incident_show(struct login_engine *e,
				  const struct http_api_login_req *q,
				  struct http_api_answer *ans)
{
	const char *id = q->seg[2];
	json_t *j = strlen(id) <= LOGIN_API_MAX_ID ?
		    login_incident_show(e, id) : NULL;

	if (!j) {
		ans_error(ans, 404, "no such incident");
		return;
	}
	ans_json(ans, j);
}

void http_api_login_incident_export(struct login_engine *e,
				    const struct http_api_login_req *q,
				    struct http_api_answer *ans)
{
	const char *fmt = q->format ? q->format : "csv";
	const char *id = q->seg[2];
	char *csv;

	if (strcmp(fmt, "json") == 0) {
		http_api_login_incident_show(e, q, ans);
		return;
	}
	if (strcmp(fmt, "csv") != 0) {
		ans_error(ans, 400, "\"format\" must be \"csv\" or \"json\"");
		return;
	}
	csv = strlen(id) <= LOGIN_API_MAX_ID ? login_incident_csv(e, id) : NULL;
	if (!csv) {
		ans_error(ans, 404, "no such incident");
		return;
	}
	ans->status = 200;
	ans->text = csv;
	ans->ctype = "text/csv; charset=utf-8";
}
