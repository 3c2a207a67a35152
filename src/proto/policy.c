/*
 * policy - Postfix SMTP access policy delegation protocol, sans I/O.
 * See policy.h for the protocol; this is how the parser keeps it.
 *
 * Storage.  All bytes of the current request live in one struct buf whose
 * hard maximum is max_request, so a connection never costs more than that.
 * When a line ends, its '=' and its LF are overwritten with NULs in place,
 * which turns every name and value into a C string without any further
 * allocation.  Known attributes are remembered as offsets, not pointers,
 * because the buffer may move while it grows; the pointers handed out in
 * struct policy_request are made only once the request is complete.
 *
 * Limits, all counted on the bytes as they came off the wire:
 *   max_line     bytes of one line, not counting its LF, nor a CR right
 *                before the LF (that CR is framing and is removed);
 *   max_request  bytes of one request, from its first byte through the LF
 *                of the terminating empty line, every CR and LF included;
 *   max_attrs    lines in one request, known attributes or not.
 * Each error is raised at the first byte that proves it, and the checks for
 * one byte always run in the same order (NUL, line length, request size,
 * then at the LF: syntax, attribute count), so the outcome never depends on
 * how the input was split into feeds.  SMTPD_POLICY_README sets no limits;
 * Postfix's own lines are short (a sender or recipient is at most ~1000
 * bytes per RFC 5321 4.5.3.1, a request ~30 lines), and the defaults in
 * config.c leave ample room for that.
 *
 * Liberal where it costs nothing (SMTPD_POLICY_README: any order, unknown
 * attributes ignored, repeats tolerated): a repeated attribute keeps the
 * last value; names are compared case-sensitively, as Postfix sends them
 * in lowercase, so "Sender" is merely an unknown attribute; empty lines
 * before the first attribute are skipped and count toward no limit (Postfix
 * never sends them, but hand-typed tests and some clients do); a CR that is
 * not right before the LF is an ordinary value byte.  Strict on framing: a
 * NUL, a line without '=' or with an empty name is a protocol error.
 *
 * One parser per connection; no locking, no global state.
 */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/policy.h"

/* Input bytes kept for the error sample (Redis logs 128 as well). */
#define SAMPLE_IN 128

static const char *const attr_names[PA__COUNT] = {
	[PA_REQUEST] = "request",
	[PA_PROTOCOL_STATE] = "protocol_state",
	[PA_PROTOCOL_NAME] = "protocol_name",
	[PA_HELO_NAME] = "helo_name",
	[PA_QUEUE_ID] = "queue_id",
	[PA_SENDER] = "sender",
	[PA_RECIPIENT] = "recipient",
	[PA_RECIPIENT_COUNT] = "recipient_count",
	[PA_CLIENT_ADDRESS] = "client_address",
	[PA_CLIENT_NAME] = "client_name",
	[PA_REVERSE_CLIENT_NAME] = "reverse_client_name",
	[PA_INSTANCE] = "instance",
	[PA_SASL_METHOD] = "sasl_method",
	[PA_SASL_USERNAME] = "sasl_username",
	[PA_SASL_SENDER] = "sasl_sender",
	[PA_SIZE] = "size",
	[PA_ENCRYPTION_PROTOCOL] = "encryption_protocol",
	[PA_CLIENT_PORT] = "client_port",
	[PA_SERVER_ADDRESS] = "server_address",
	[PA_SERVER_PORT] = "server_port",
	[PA_POLICY_CONTEXT] = "policy_context",
	[PA_STRESS] = "stress",
};

static const char *const state_names[] = {
	[PS_UNKNOWN] = "UNKNOWN",
	[PS_CONNECT] = "CONNECT",
	[PS_EHLO] = "EHLO",
	[PS_HELO] = "HELO",
	[PS_MAIL] = "MAIL",
	[PS_RCPT] = "RCPT",
	[PS_DATA] = "DATA",
	[PS_END_OF_MESSAGE] = "END-OF-MESSAGE",
	[PS_VRFY] = "VRFY",
	[PS_ETRN] = "ETRN",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Forget the current request; the buffer keeps its memory for the next. */
static void clear_request(struct policy_parser *p)
{
	size_t i;

	buf_reset(&p->req);
	p->line_start = 0;
	p->reqbytes = 0;
	p->nattrs = 0;
	p->ready = false;
	for (i = 0; i < PA__COUNT; i++) {
		p->off[i] = 0;
		p->r.attr[i] = "";
	}
	p->r.state = PS_UNKNOWN;
	p->r.nattrs = 0;
	p->r.recipient_count = p->r.size = 0;
	p->r.client_port = p->r.server_port = 0;
}

void policy_parser_init(struct policy_parser *p, size_t max_line,
			size_t max_request, unsigned max_attrs)
{
	p->max_line = max_line;
	p->max_request = max_request;
	p->max_attrs = max_attrs;
	buf_init(&p->req, max_request);
	p->error = 0;
	p->sample[0] = '\0';
	clear_request(p);
}

void policy_parser_deinit(struct policy_parser *p)
{
	buf_deinit(&p->req);
	clear_request(p);
}

void policy_parser_reset(struct policy_parser *p)
{
	/* The sample stays: the caller may log it after resetting. */
	p->error = 0;
	clear_request(p);
}

/*
 * Fail with code; the sample is the current line's start followed by the n
 * bytes at extra (the offending byte, not yet stored).  Returns code.
 */
static int fail(struct policy_parser *p, int code, const char *extra,
		size_t n)
{
	char tmp[SAMPLE_IN];
	size_t k = p->req.len - p->line_start;

	if (k > SAMPLE_IN)
		k = SAMPLE_IN;
	if (k)
		memcpy(tmp, p->req.p + p->line_start, k);
	if (n > SAMPLE_IN - k)
		n = SAMPLE_IN - k;
	if (n)
		memcpy(tmp + k, extra, n);
	buf_sample(p->sample, sizeof(p->sample), tmp, k + n, SAMPLE_IN);
	p->error = code;
	return code;
}

/* Which known attribute is this name of len bytes, or PA__COUNT.  Every
 * request line goes through here: compare length and first byte before
 * the bytes. */
static enum policy_attr attr_lookup(const char *name, size_t len)
{
	static size_t attr_len[PA__COUNT];
	size_t i;

	if (attr_len[0] == 0)
		for (i = 0; i < PA__COUNT; i++)
			attr_len[i] = strlen(attr_names[i]);
	for (i = 0; i < PA__COUNT; i++)
		if (attr_len[i] == len && attr_names[i][0] == name[0] &&
		    memcmp(name, attr_names[i], len) == 0)
			return (enum policy_attr)i;
	return PA__COUNT;
}

/*
 * Parse the decimal s into *out: digits only, at most max; "" is 0, and so
 * is "unknown" when unknown_ok.  strtol would take a sign, spaces and
 * trailing garbage, and saturate silently: this takes none of them.
 */
static bool parse_number(const char *s, long max, bool unknown_ok, long *out)
{
	long v = 0;

	if (unknown_ok && strcmp(s, "unknown") == 0)
		s = "";
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

/* Numeric attribute a must hold a number in [0, max]; else fail with its
 * line as the sample.  Returns 0 or POLICY_E_BAD_NUMBER. */
static int check_number(struct policy_parser *p, enum policy_attr a,
			long max, long *out)
{
	const char *v = p->r.attr[a];
	char line[SAMPLE_IN];

	if (parse_number(v, max, a == PA_CLIENT_PORT || a == PA_SERVER_PORT,
			 out))
		return 0;
	snprintf(line, sizeof(line), "%s=%s", attr_names[a], v);
	p->line_start = p->req.len;	/* the sample is only this line */
	return fail(p, POLICY_E_BAD_NUMBER, line, strlen(line));
}

/* The request is complete: the buffer no longer moves, hand out pointers
 * and check the numbers.  Returns POLICY_READY or an error. */
static int finish_request(struct policy_parser *p)
{
	long cport = 0, sport = 0;
	size_t i;
	int r;

	for (i = 0; i < PA__COUNT; i++)
		p->r.attr[i] = p->off[i] ? p->req.p + p->off[i] : "";
	if ((r = check_number(p, PA_RECIPIENT_COUNT, POLICY_MAX_RCPT_COUNT,
			      &p->r.recipient_count)) ||
	    (r = check_number(p, PA_SIZE, LONG_MAX, &p->r.size)) ||
	    (r = check_number(p, PA_CLIENT_PORT, POLICY_MAX_PORT, &cport)) ||
	    (r = check_number(p, PA_SERVER_PORT, POLICY_MAX_PORT, &sport)))
		return r;
	p->r.client_port = (unsigned)cport;
	p->r.server_port = (unsigned)sport;
	p->r.state = policy_state_parse(p->r.attr[PA_PROTOCOL_STATE]);
	p->r.nattrs = p->nattrs;
	p->ready = true;
	return POLICY_READY;
}

/*
 * A LF arrived for the line stored at line_start.  Returns 0 to go on,
 * POLICY_READY when the line was the terminating empty line, or an error.
 */
static int end_line(struct policy_parser *p)
{
	size_t len = p->req.len - p->line_start;
	/* req.p is NULL until a byte is stored: no arithmetic on it then. */
	char *line = len ? p->req.p + p->line_start : NULL;
	char *eq;
	size_t val;
	enum policy_attr a;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 && p->nattrs == 0) {
		/* A stray empty line before the request: skip it unseen. */
		clear_request(p);
		return 0;
	}
	if (++p->reqbytes > p->max_request)
		return fail(p, POLICY_E_TOO_LARGE, "\n", 1);
	/* Drop the CR; the buffer stays NUL-terminated. */
	p->req.len = p->line_start + len;
	p->req.p[p->req.len] = '\0';
	if (len == 0)
		return finish_request(p);
	eq = memchr(line, '=', len);
	if (eq == NULL || eq == line)
		return fail(p, POLICY_E_SYNTAX, NULL, 0);
	if (++p->nattrs > p->max_attrs)
		return fail(p, POLICY_E_TOO_MANY_ATTRS, NULL, 0);
	*eq = '\0';
	val = p->line_start + (size_t)(eq - line) + 1;
	/*
	 * The NUL that ends the value takes the place of the LF, so the
	 * stored bytes never outgrow the wire bytes already checked against
	 * max_request, which is also the buffer's maximum.  The append may
	 * move the buffer: use offsets from here on.
	 */
	if (buf_append(&p->req, "", 1) != 0)
		return fail(p, POLICY_E_TOO_LARGE, NULL, 0);
	if ((a = attr_lookup(p->req.p + p->line_start,
			     (size_t)(eq - line))) != PA__COUNT)
		p->off[a] = val;
	p->line_start = p->req.len;
	return 0;
}

int policy_parser_feed(struct policy_parser *p, const char *data, size_t n,
		       size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (p->error)
		return p->error;
	if (p->ready)
		clear_request(p);
	while (i < n) {
		size_t start = i;
		size_t linelen = p->req.len - p->line_start;
		size_t reqb = p->reqbytes;
		int err = 0, r;

		/* Take the bytes up to the next LF, checking each one. */
		for (; i < n && data[i] != '\n'; i++) {
			linelen++;
			if (data[i] == '\0')
				err = POLICY_E_SYNTAX;
			/* One byte over is fine if it is the CR of a CRLF. */
			else if (linelen > p->max_line &&
				 (linelen > p->max_line + 1 || data[i] != '\r'))
				err = POLICY_E_LINE_TOO_LONG;
			else if (++reqb > p->max_request)
				err = POLICY_E_TOO_LARGE;
			if (err)
				break;
		}
		if (i > start && buf_append(&p->req, data + start, i - start))
			err = POLICY_E_TOO_LARGE;	/* cannot happen */
		p->reqbytes = reqb;
		if (err) {
			*used = i + 1;	/* the loop stops only on a byte */
			return fail(p, err, data + i, 1);
		}
		if (i == n)
			break;
		i++;		/* the LF */
		if ((r = end_line(p)) != 0) {
			*used = i;
			return r;
		}
	}
	*used = n;
	return POLICY_NEED_MORE;
}

const struct policy_request *policy_parser_request(const struct policy_parser *p)
{
	return p->ready ? &p->r : NULL;
}

bool policy_parser_busy(const struct policy_parser *p)
{
	return !p->ready && p->reqbytes > 0;
}

const char *policy_parser_sample(const struct policy_parser *p)
{
	return p->sample;
}

const char *policy_error_str(int code)
{
	switch (code) {
	case POLICY_NEED_MORE:
		return "need more input";
	case POLICY_READY:
		return "request ready";
	case POLICY_E_LINE_TOO_LONG:
		return "line too long";
	case POLICY_E_TOO_LARGE:
		return "request too large";
	case POLICY_E_TOO_MANY_ATTRS:
		return "too many attributes";
	case POLICY_E_SYNTAX:
		return "syntax error";
	case POLICY_E_BAD_NUMBER:
		return "numeric attribute not a number in range";
	}
	return "unknown error";
}

const char *policy_attr_name(enum policy_attr a)
{
	if ((unsigned)a >= PA__COUNT)
		return NULL;
	return attr_names[a];
}

enum policy_state policy_state_parse(const char *s)
{
	size_t i;

	if (s == NULL)
		return PS_UNKNOWN;
	for (i = PS_UNKNOWN + 1; i < NELEM(state_names); i++)
		if (strcasecmp(s, state_names[i]) == 0)
			return (enum policy_state)i;
	return PS_UNKNOWN;
}

const char *policy_state_name(enum policy_state s)
{
	if ((unsigned)s >= NELEM(state_names))
		return state_names[PS_UNKNOWN];
	return state_names[s];
}

/*
 * Append s to out at *o, control bytes turned into spaces when clean is
 * set; false when it and the final NUL do not fit.
 */
static bool put(char *out, size_t outsz, size_t *o, const char *s, bool clean)
{
	size_t n = strlen(s), i;

	if (n >= outsz - *o)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		out[*o + i] = clean && (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	*o += n;
	out[*o] = '\0';
	return true;
}

int policy_format_reply(char *out, size_t outsz, const char *action,
			const char *text)
{
	size_t o = 0;
	bool fits;

	assert(action != NULL);
	if (outsz == 0)
		return -1;
	fits = put(out, outsz, &o, "action=", false) &&
	       put(out, outsz, &o, action, true);
	if (fits && text && *text)
		fits = put(out, outsz, &o, " ", false) &&
		       put(out, outsz, &o, text, true);
	if (fits)
		fits = put(out, outsz, &o, "\n\n", false);
	if (!fits || o > INT_MAX) {
		out[0] = '\0';
		return -1;
	}
	return (int)o;
}
