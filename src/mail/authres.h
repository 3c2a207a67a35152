/*
 * authres - Authentication-Results header fields (RFC 8601), sans I/O.
 *
 * Two jobs.  Build the value of the field mamori adds for SPF, DKIM and
 * DMARC results, quoting property values and comments as RFC 8601 2.2
 * and RFC 2045 5.1 require.  And read the fields already in a message, far
 * enough to know whose they are: RFC 8601 5 says a border MTA MUST remove
 * (or rename) fields that carry its own authserv-id, or a sender could
 * forge "our" verdict.  ARC-Authentication-Results (RFC 8617 4.1.1) have
 * the same syntax behind an "i=N;" instance tag.
 *
 * The reader is lenient where the world is: comments anywhere, quoted
 * strings, a version after the authserv-id ("example.net 1;"), properties
 * without a ptype (Microsoft's "action=none"), empty values, and fields
 * without any authserv-id (Exchange Online writes "spf=pass ..." first:
 * has_id is false, which is never ours).  A value that is one or more RFC
 * 2047 encoded-words (seen when a gateway re-encodes headers) is decoded
 * (B and Q, bytes as they are) and read.  Limits: AUTHRES_MAX bytes per
 * value, AUTHRES_RESINFO_MAX resinfo parts, comment depth 16.
 */
#ifndef MAMORI_AUTHRES_H
#define MAMORI_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

enum {
	AUTHRES_E_SYNTAX = 1,	/* cannot be read */
	AUTHRES_E_TOO_LARGE = 2,
	AUTHRES_E_INVALID = 3,	/* builder: a method or result not a token */
};

#define AUTHRES_MAX 16384
#define AUTHRES_RESINFO_MAX 64
#define AUTHRES_ID_MAX 256

struct authres_info {
	bool has_id;
	char id[AUTHRES_ID_MAX];	/* authserv-id, unquoted, as written */
	int version;			/* -1 if absent */
	int arc_instance;		/* ARC: i=, else -1 */
	unsigned nresinfo;		/* 0 for "none" */
	bool encoded;			/* the value was RFC 2047-encoded */
};

/*
 * Read one field value v[0..n) (what follows the colon, folding
 * included).  arc: the field is ARC-Authentication-Results.  Returns 0
 * with *out filled, AUTHRES_E_SYNTAX or AUTHRES_E_TOO_LARGE.
 */
int authres_parse(const char *v, size_t n, bool arc, struct authres_info *out);

/*
 * Does the field carry authserv-id our_id (compared without case, RFC
 * 8601 2.5)?  An unreadable field is not ours: the caller decides whether
 * to keep such fields.
 */
bool authres_is_ours(const char *v, size_t n, bool arc, const char *our_id);

struct authres_prop {
	const char *ptype;	/* "smtp", "header", "body", "policy" */
	const char *property;	/* "mailfrom", "d", "s", "from" ... */
	const char *value;
};

struct authres_result {
	const char *method;	/* "spf", "dkim", "dmarc" */
	const char *result;	/* "pass", "fail" ... */
	const char *reason;	/* reason="..." or NULL */
	const char *comment;	/* "(...)" after the result, or NULL */
	const struct authres_prop *props;
	size_t nprops;
};

/*
 * Append to out "authserv_id; method=result (comment) reason=... ptype.
 * property=value; ..." or "authserv_id; none" when n == 0.  Values are
 * written bare when they are tokens or [local-part@]domain, quoted
 * otherwise; control bytes become '?'.  No folding: the milter folds.
 * Returns 0, AUTHRES_E_INVALID (a name is not a token; out unchanged in
 * length) or BUF_E_TOO_LARGE.
 */
int authres_format(struct buf *out, const char *authserv_id,
		   const struct authres_result *res, size_t n);

#endif
