/*
 * policy - Postfix SMTP access policy delegation protocol, sans I/O.
 *
 * Protocol (Postfix SMTPD_POLICY_README): a request is "name=value" lines
 * ended by an empty line; the reply is "action=..." then an empty line.  The
 * client reuses the connection for many requests.  Attribute order does not
 * matter, unknown attributes are ignored, a repeated attribute keeps the
 * last value.  Lines end in LF (a CR before it is tolerated and removed).
 *
 * The parser takes bytes as they arrive (any split), and yields one request
 * at a time.  It never allocates in proportion to input beyond the limits
 * given at init: line length, request size and attribute count.  Bad input
 * (an over-long line, a request over the limit, too many attributes, a line
 * without '=', a NUL byte) is a protocol error: the caller logs a bounded
 * sample (policy_parser_sample()) and closes the connection without a reply,
 * as the README asks.
 */
#ifndef MAMORI_POLICY_H
#define MAMORI_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

enum {
	POLICY_NEED_MORE = 0,	/* consumed everything, no request yet */
	POLICY_READY = 1,	/* a request is complete; see policy_parser_request() */
	POLICY_E_LINE_TOO_LONG = 2,
	POLICY_E_TOO_LARGE = 3,
	POLICY_E_TOO_MANY_ATTRS = 4,
	POLICY_E_SYNTAX = 5,	/* a line without '=', an empty name, or a NUL */
	POLICY_E_BAD_NUMBER = 6, /* a numeric attribute not a number in range */
};

/*
 * Numeric attributes, checked when the request completes: decimal digits
 * only (no sign, no space, no "12abc"), at most the maximum below, else the
 * request is a protocol error (POLICY_E_BAD_NUMBER, sample "name=value").
 * Absent or empty is 0, and so is "unknown" for the ports (Postfix sends
 * CLIENT_PORT_UNKNOWN when the peer has none, e.g. a UNIX-domain client).
 * The maxima: recipient_count is an int in Postfix and bounded by
 * smtpd_recipient_limit (default 1000; RFC 5321 4.5.3.1.8 asks for at
 * least 100): 1,000,000 leaves room for any real setting and keeps the
 * core's 32-bit window sums far from overflow; size is a byte count
 * (message_size_limit) and fits a long on every platform or is refused,
 * never truncated; ports are 16 bits.
 */
#define POLICY_MAX_RCPT_COUNT 1000000L
#define POLICY_MAX_PORT 65535L

/* The attributes mamori uses; everything else is ignored. */
enum policy_attr {
	PA_REQUEST,
	PA_PROTOCOL_STATE,
	PA_PROTOCOL_NAME,
	PA_HELO_NAME,
	PA_QUEUE_ID,
	PA_SENDER,
	PA_RECIPIENT,
	PA_RECIPIENT_COUNT,
	PA_CLIENT_ADDRESS,
	PA_CLIENT_NAME,
	PA_REVERSE_CLIENT_NAME,
	PA_INSTANCE,
	PA_SASL_METHOD,
	PA_SASL_USERNAME,
	PA_SASL_SENDER,
	PA_SIZE,
	PA_ENCRYPTION_PROTOCOL,
	PA_CLIENT_PORT,
	PA_SERVER_ADDRESS,
	PA_SERVER_PORT,
	PA_POLICY_CONTEXT,
	PA_STRESS,
	PA__COUNT
};

enum policy_state {
	PS_UNKNOWN,
	PS_CONNECT,
	PS_EHLO,
	PS_HELO,
	PS_MAIL,
	PS_RCPT,
	PS_DATA,
	PS_END_OF_MESSAGE,
	PS_VRFY,
	PS_ETRN,
};

/*
 * A parsed request.  Every attribute is a NUL-terminated string ("" when
 * absent); the pointers point into the parser and stay valid until the next
 * policy_parser_feed() or policy_parser_reset().
 */
struct policy_request {
	const char *attr[PA__COUNT];
	enum policy_state state;
	unsigned nattrs;		/* lines in the request, known or not */
	/* The numeric attributes, parsed and range-checked (0 if absent). */
	long recipient_count;		/* 0..POLICY_MAX_RCPT_COUNT */
	long size;			/* 0..LONG_MAX */
	unsigned client_port;		/* 0..POLICY_MAX_PORT */
	unsigned server_port;
};

struct policy_parser {
	size_t max_line;
	size_t max_request;
	unsigned max_attrs;
	struct buf req;			/* the current request's bytes */
	size_t line_start;		/* offset in req of the line being read */
	unsigned nattrs;
	bool ready;			/* request complete, not yet consumed */
	struct policy_request r;
	/* Private: wire bytes of the current request (CR and LF included). */
	size_t reqbytes;
	/* Private: offset in req of each known value, 0 when absent. */
	size_t off[PA__COUNT];
	int error;			/* private: sticky until reset */
	/* Bounded copy of the bytes that caused the last error. */
	char sample[160];
};

void policy_parser_init(struct policy_parser *p, size_t max_line,
			size_t max_request, unsigned max_attrs);
void policy_parser_deinit(struct policy_parser *p);
/* Forget any partial request (the limits stay). */
void policy_parser_reset(struct policy_parser *p);

/*
 * Feed n bytes.  *used is set to how many were consumed: on POLICY_READY the
 * parser stops right after the request's empty line, so the caller must feed
 * the rest (pipelined requests) after handling this one.  On an error the
 * parser is unusable until reset.
 */
int policy_parser_feed(struct policy_parser *p, const char *data, size_t n,
		       size_t *used);
/* The completed request; valid after POLICY_READY until the next feed
 * (NULL when no request is complete). */
const struct policy_request *policy_parser_request(const struct policy_parser *p);
/* Is a request partly read (bytes received, no empty line yet)? */
bool policy_parser_busy(const struct policy_parser *p);
/* An escaped sample of the input around the last error, for the log. */
const char *policy_parser_sample(const struct policy_parser *p);
const char *policy_error_str(int code);

const char *policy_attr_name(enum policy_attr a);
enum policy_state policy_state_parse(const char *s);
const char *policy_state_name(enum policy_state s);

/*
 * Format a reply "action=ACTION[ TEXT]\n\n" into out.  The text is cleaned:
 * CR, LF and other control bytes become spaces, so a reply can never break
 * the framing.  Returns the length, or -1 when out is too small.
 */
int policy_format_reply(char *out, size_t outsz, const char *action,
			const char *text);

#endif
