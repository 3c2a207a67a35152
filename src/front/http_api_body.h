/*
 * http_api_body - the checks of the admin API's request bodies and query
 * parameters, sans I/O: bytes in, checked values or a 400 message out.
 * http_api.c calls them; fuzz/fuzz-api-body.c feeds them anything.
 *
 * Bodies (docs/api.md, "Requests and replies"): a JSON object of at most
 * API_BODY_MAX bytes, an empty body counting as {}; duplicate members
 * refused; unknown members ignored; texts (reason, source) at most
 * API_BODY_TEXT bytes, an ip at most API_BODY_IP (the longest IPv6 text
 * form, 45 bytes, and "/128").  Query values: valid UTF-8 without control
 * bytes, since they end up in JSON and logs.
 *
 * Lifetime: the strings of a struct api_body point into its parsed
 * document and live until api_body_free().
 */
#ifndef MAMORI_HTTP_API_BODY_H
#define MAMORI_HTTP_API_BODY_H

#include <stdbool.h>
#include <stddef.h>

#define API_BODY_MAX (64 * 1024)
#define API_BODY_TEXT 1024
#define API_BODY_IP 64
#define API_QUERY_MAX_PARAMS 4

/* Which route's body. */
enum api_body_kind {
	API_BODY_NONE,		/* any object; no members read */
	API_BODY_RESTRICT,	/* {"reason"} */
	API_BODY_CREDENTIAL,	/* {"source"?} */
	API_BODY_RELEASE,	/* {"force"?, "reason"?, "held"?} */
	API_BODY_IP_BLOCK,	/* {"ip", "reason", "seconds"?, "force"?} */
	API_BODY_IP_UNBLOCK,	/* {"ip"} */
	API_BODY_ALLOW,		/* {"net", "reason", "expires"?}: net in ip,
				 * expires (seconds from now) in seconds */
};

/* The checked members; absent optional ones hold their defaults. */
struct api_body {
	void *doc;			/* the parsed object (json_t) */
	const char *reason;		/* "" when absent (optional) */
	const char *source;		/* "" */
	const char *held;		/* "keep" */
	const char *ip;
	bool force;
	long seconds;			/* 0 */
};

/*
 * Parse and check n bytes of body p for kind.  0 with out filled (free it
 * with api_body_free()), or -1 with a message for a 400 in err (out then
 * needs no freeing).
 */
int api_body_parse(enum api_body_kind kind, const char *p, size_t n,
		   struct api_body *out, char *err, size_t errsz);
void api_body_free(struct api_body *b);

/*
 * Read the query parameters names[0..n) (n <= API_QUERY_MAX_PARAMS) of
 * query (the raw string after '?', may be NULL) into out[0..n): malloc'd
 * values, NULL when absent or empty; a repeated one counts once, its first
 * value.  0, or -1 with a message in err for a malformed query or an
 * unclean value (out[] then all NULL).
 */
int api_query_parse(const char *query, const char *const *names, int n,
		    char **out, char *err, size_t errsz);

/* Is s[0..n) valid UTF-8 free of control bytes (C0 and DEL)? */
bool api_text_is_clean(const char *s, size_t n);

#endif
