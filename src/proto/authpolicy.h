/*
 * authpolicy - Dovecot 2.3 auth-policy requests, sans I/O.
 *
 * Dovecot POSTs a flat JSON object (keys sorted, every configured attribute
 * a JSON string, "tls" a boolean, "success" and "policy_reject" booleans in
 * the report; a '/' in a configured key makes a nested object) to
 * <url>?command=allow (before the password check, and again after a correct
 * password) and <url>?command=report (at the end).  See PROTOCOLS.md.
 *
 * Dovecot 2.3 JSON-escapes expanded values (%{...}) but not the literal
 * text of an attribute template: a backslash or a quote there
 * (realm=CORP\mail) gives invalid JSON (it refuses a literal space or '='
 * at start).  That is AUTHPOLICY_E_JSON here, and the front-end answers
 * per auth_policy_fail_action, logging authpolicy_field_names(), never the
 * body.
 *
 * Limits: the body at most AUTHPOLICY_MAX_BODY bytes; each kept field has a
 * fixed maximum (below) and a longer value is AUTHPOLICY_E_FIELD.  Unknown
 * keys are ignored.  Strings are checked to be valid UTF-8 by jansson.
 * Liberal otherwise (authpolicy.c has the details): a missing or null field
 * is "", a number is kept as text, a repeated key keeps its last value, and
 * the booleans may also come as 0/1 or "true"/"yes"/"1"/"false"/"no"/"0".
 */
#ifndef MAMORI_AUTHPOLICY_H
#define MAMORI_AUTHPOLICY_H

#include <stdbool.h>
#include <stddef.h>

#define AUTHPOLICY_MAX_BODY 65536

enum {
	AUTHPOLICY_OK = 0,
	AUTHPOLICY_E_COMMAND = 1,	/* query lacks command=allow|report */
	AUTHPOLICY_E_TOO_LARGE = 2,
	AUTHPOLICY_E_JSON = 3,		/* not JSON, or not an object */
	AUTHPOLICY_E_FIELD = 4,		/* a kept field too long or wrong type */
};

enum authpolicy_command {
	AUTHPOLICY_ALLOW,
	AUTHPOLICY_REPORT,
};

struct authpolicy_request {
	enum authpolicy_command command;
	char login[256];		/* "login" */
	char pwhash[132];		/* "pwhash": lowercase hex, may be "" */
	char remote[64];		/* "remote": client IP */
	char protocol[32];		/* "protocol": imap, pop3, smtp, ... */
	char session_id[128];		/* "session_id" */
	char device_id[128];		/* "device_id" */
	char mech[32];			/* "mech" if configured (PLAIN, LOGIN, ...) */
	char pwversion[128];		/* the operator-named password-version field */
	bool tls;
	bool has_success;		/* report only */
	bool success;
	bool policy_reject;
	char error[128];		/* on failure: what was wrong */
};

/*
 * Parse the command from the URL query ("command=allow", possibly among
 * other parameters, as Dovecot appends it with '?' or '&').  0 or
 * AUTHPOLICY_E_COMMAND.
 */
int authpolicy_parse_command(const char *query, enum authpolicy_command *out);

/*
 * Parse a request body of n bytes into out (command left as is).
 * pwversion_key names the password-version attribute ("" or NULL = none); a
 * '/' in it walks into nested objects ("attrs/pwchanged").  Returns
 * AUTHPOLICY_OK, or an AUTHPOLICY_E_* code with every field cleared and
 * out->error set to printable ASCII (jansson's line/column message for
 * AUTHPOLICY_E_JSON, without the text near the error, which may be part of
 * a value; the key for AUTHPOLICY_E_FIELD).  body is only read.
 */
int authpolicy_parse(const char *body, size_t n, const char *pwversion_key,
		     struct authpolicy_request *out);

/* Format the reply body {"status":N,"msg":"..."} into out; the message is
 * JSON-escaped (NULL is ""; invalid UTF-8 becomes '?').  Returns the
 * length, or -1 with out emptied if out (outsz bytes) is too small. */
int authpolicy_format_reply(char *out, size_t outsz, int status,
			    const char *msg);

/*
 * The key names of a body, for the log line of a request refused as
 * malformed, which must never carry a value (pwhash, a misconfigured
 * password attribute, or anything in an unknown field).  A JSON-aware scan
 * that needs no valid JSON: a string (with backslash escapes) is a key
 * when the byte before it is '{' or ',' and the one after it ':' (blanks
 * aside), which a value never is unless a literal quote shifted the
 * strings, and then values land outside strings, not in keys.  A key of 1
 * to AUTHPOLICY_NAME_MAX bytes of [A-Za-z0-9_.-] is written as it is, any
 * other as '?'; at most AUTHPOLICY_NAMES_MAX of them, comma-separated,
 * then "..." when more follow or out (outsz bytes) is full.  out is always
 * a string (if outsz > 0).  Returns how many keys were found.
 */
#define AUTHPOLICY_NAME_MAX 64
#define AUTHPOLICY_NAMES_MAX 16
size_t authpolicy_field_names(const char *body, size_t n, char *out,
			      size_t outsz);

/* A static, human-readable name for an AUTHPOLICY_* code. */
const char *authpolicy_error_str(int code);

#endif
