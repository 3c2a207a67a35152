/*
 * test-policy - the Postfix policy protocol parser and reply formatter.
 *
 * Every input is turned into a canonical transcript (transcript()): per
 * request, one "name=value" line per known non-empty attribute in enum
 * order (values escaped as in log samples), then "state=..." and
 * "lines=N" and an empty line; "error=E_..." when the parser refuses the
 * input (the daemon would close the connection, so nothing after it is
 * read); "incomplete" when the input ends inside a request.  Table rows
 * and the golden files test/data/policy/NAME.in / NAME.ref are compared
 * in that form, fed at once, a byte at a time and split at every point,
 * which must all give the same transcript.
 *
 * MAMORI_UPDATE_REF=1 rewrites the .ref files from the current parser;
 * review the diff before committing them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori-build.h"
#include "tap.h"
#include "proto/policy.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* The defaults of policy_max_line, _max_request and _max_attrs. */
#define DEF_LINE 4096
#define DEF_REQUEST 32768
#define DEF_ATTRS 128

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal and its length, NUL bytes included. */
#define S(lit) lit, sizeof(lit) - 1

struct limits {
	size_t line, request;
	unsigned attrs;
};

static const struct limits deflim = {DEF_LINE, DEF_REQUEST, DEF_ATTRS};

/* The test's name for a parser result. */
static const char *code_name(int code)
{
	switch (code) {
	case POLICY_NEED_MORE:
		return "NEED_MORE";
	case POLICY_READY:
		return "READY";
	case POLICY_E_LINE_TOO_LONG:
		return "E_LINE_TOO_LONG";
	case POLICY_E_TOO_LARGE:
		return "E_TOO_LARGE";
	case POLICY_E_TOO_MANY_ATTRS:
		return "E_TOO_MANY_ATTRS";
	case POLICY_E_SYNTAX:
		return "E_SYNTAX";
	case POLICY_E_BAD_NUMBER:
		return "E_BAD_NUMBER";
	}
	return "E_UNKNOWN";
}

/* Append the canonical form of one request to out. */
static void dump_request(struct buf *out, const struct policy_request *r)
{
	size_t a, n;
	char *esc;

	for (a = 0; a < PA__COUNT; a++) {
		if (r->attr[a][0] == '\0')
			continue;
		n = strlen(r->attr[a]);
		esc = xmalloc(4 * n + 1);
		buf_sample(esc, 4 * n + 1, r->attr[a], n, n);
		buf_printf(out, "%s=%s\n", policy_attr_name((enum policy_attr)a),
			   esc);
		free(esc);
	}
	buf_printf(out, "state=%s\nlines=%u\n\n", policy_state_name(r->state),
		   r->nattrs);
}

/*
 * Feed in[0..n) the way a connection would: a first chunk of first bytes,
 * then chunks of step bytes (0: the rest at once).  The transcript goes to
 * out (reset first).
 */
static void transcript(struct buf *out, const struct limits *lim,
		       const char *in, size_t n, size_t first, size_t step)
{
	struct policy_parser p;
	size_t off = 0, len, pos, used;
	int r = POLICY_NEED_MORE;

	buf_reset(out);
	policy_parser_init(&p, lim->line, lim->request, lim->attrs);
	while (off < n) {
		len = off == 0 ? first : step;
		if (len == 0 || len > n - off)
			len = n - off;
		for (pos = 0; pos < len; pos += used) {
			r = policy_parser_feed(&p, in + off + pos, len - pos, &used);
			if (used > len - pos) {
				buf_printf(out, "used-overflow\n");
				goto done;
			}
			if (r == POLICY_READY)
				dump_request(out, policy_parser_request(&p));
			else if (r != POLICY_NEED_MORE) {
				buf_printf(out, "error=%s\n", code_name(r));
				goto done;
			} else if (used != len - pos) {
				buf_printf(out, "need-more-but-unused\n");
				goto done;
			}
		}
		off += len;
	}
	if (policy_parser_busy(&p))
		buf_printf(out, "incomplete\n");
done:
	policy_parser_deinit(&p);
}

/*
 * Check one input against its expected transcript: at once, byte by byte,
 * and split in two at every point (at a stride for big inputs).
 */
static void check_input(const char *label, const struct limits *lim,
			const char *in, size_t n, const char *want)
{
	struct buf got;
	size_t k, stride, bad = 0;

	buf_init(&got, 1 << 22);
	transcript(&got, lim, in, n, n, 0);
	is_str(got.p ? got.p : "", want, "%s: at once", label);
	transcript(&got, lim, in, n, 1, 1);
	is_str(got.p ? got.p : "", want, "%s: byte by byte", label);
	stride = n > 4096 ? n / 509 + 1 : 1;
	for (k = 1; k < n; k += stride) {
		transcript(&got, lim, in, n, k, 0);
		if (strcmp(got.p ? got.p : "", want) != 0 && bad++ == 0)
			printf("# split at %zu:\n%s", k, got.p);
	}
	ok(bad == 0, "%s: split in two anywhere", label);
	buf_deinit(&got);
}

/* Postfix's attributes in SMTPD_POLICY_README order, all versions to 3.8. */
#define FULL_REQUEST \
	"request=smtpd_access_policy\n" \
	"protocol_state=RCPT\n" \
	"protocol_name=ESMTP\n" \
	"helo_name=mail.example.net\n" \
	"queue_id=8045F2AB23\n" \
	"sender=alice@example.net\n" \
	"recipient=bob@example.com\n" \
	"recipient_count=0\n" \
	"client_address=192.0.2.10\n" \
	"client_name=mail.example.net\n" \
	"reverse_client_name=mail.example.net\n" \
	"instance=123.456.7\n" \
	"sasl_method=plain\n" \
	"sasl_username=alice\n" \
	"sasl_sender=\n" \
	"size=12345\n" \
	"ccert_subject=solaris9.porcupine.org\n" \
	"ccert_issuer=Wietse+20Venema\n" \
	"ccert_fingerprint=C2:9D:F4:87:71:73:73:D9:18:E7:C2:F3:C1:DA:6E:04\n" \
	"ccert_pubkey_fingerprint=68:B3:29:DA:98:93:E3:40:99:C7:D8:AD:5C:B9:C9:40\n" \
	"encryption_protocol=TLSv1.3\n" \
	"encryption_cipher=TLS_AES_256_GCM_SHA384\n" \
	"encryption_keysize=256\n" \
	"etrn_domain=\n" \
	"stress=\n" \
	"client_port=49152\n" \
	"policy_context=submission\n" \
	"server_address=198.51.100.1\n" \
	"server_port=587\n" \
	"compatibility_level=3.6\n" \
	"mail_version=3.7.11\n" \
	"\n"

#define FULL_WANT \
	"request=smtpd_access_policy\n" \
	"protocol_state=RCPT\n" \
	"protocol_name=ESMTP\n" \
	"helo_name=mail.example.net\n" \
	"queue_id=8045F2AB23\n" \
	"sender=alice@example.net\n" \
	"recipient=bob@example.com\n" \
	"recipient_count=0\n" \
	"client_address=192.0.2.10\n" \
	"client_name=mail.example.net\n" \
	"reverse_client_name=mail.example.net\n" \
	"instance=123.456.7\n" \
	"sasl_method=plain\n" \
	"sasl_username=alice\n" \
	"size=12345\n" \
	"encryption_protocol=TLSv1.3\n" \
	"client_port=49152\n" \
	"server_address=198.51.100.1\n" \
	"server_port=587\n" \
	"policy_context=submission\n" \
	"state=RCPT\nlines=31\n\n"

#define MINI "request=smtpd_access_policy\nprotocol_state=MAIL\nsender=a@b\n\n"
#define MINI_WANT \
	"request=smtpd_access_policy\nprotocol_state=MAIL\nsender=a@b\n" \
	"state=MAIL\nlines=3\n\n"

static const struct row {
	const char *label;
	const char *in;
	size_t n;
	struct limits lim;	/* all zero: the defaults */
	const char *want;
} rows[] = {
	{"full request", S(FULL_REQUEST), {0}, FULL_WANT},
	{"minimal request", S(MINI), {0}, MINI_WANT},
	{"empty input", S(""), {0}, ""},
	{"unknown attributes ignored but counted",
	 S("x_future=1\nprotocol_state=DATA\ntls_sni=mx.example\n\n"), {0},
	 "protocol_state=DATA\nstate=DATA\nlines=3\n\n"},
	{"duplicate attribute keeps the last",
	 S("sender=first@x\nsender=\nsender=last@x\n\n"), {0},
	 "sender=last@x\nstate=UNKNOWN\nlines=3\n\n"},
	{"duplicate ending empty clears",
	 S("sender=first@x\nsender=\n\n"), {0},
	 "state=UNKNOWN\nlines=2\n\n"},
	{"names are case-sensitive",
	 S("Sender=x@y\nsender=a@b\n\n"), {0},
	 "sender=a@b\nstate=UNKNOWN\nlines=2\n\n"},
	{"value may hold '='",
	 S("sasl_username=a=b==\n\n"), {0},
	 "sasl_username=a=b==\nstate=UNKNOWN\nlines=1\n\n"},
	{"empty values are absent", S("sender=\nrecipient=\n\n"), {0},
	 "state=UNKNOWN\nlines=2\n\n"},
	{"state is case-insensitive", S("protocol_state=end-of-message\n\n"),
	 {0}, "protocol_state=end-of-message\nstate=END-OF-MESSAGE\nlines=1\n\n"},
	{"unknown state", S("protocol_state=BDAT\n\n"), {0},
	 "protocol_state=BDAT\nstate=UNKNOWN\nlines=1\n\n"},
	{"CRLF line ends",
	 S("request=smtpd_access_policy\r\nprotocol_state=RCPT\r\n"
	   "recipient=b@c\r\n\r\n"), {0},
	 "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=b@c\n"
	 "state=RCPT\nlines=3\n\n"},
	{"mixed LF and CRLF", S("sender=a@b\r\nrecipient=c@d\n\r\n"), {0},
	 "sender=a@b\nrecipient=c@d\nstate=UNKNOWN\nlines=2\n\n"},
	{"lone CR kept in value", S("sender=a\rb\nhelo_name=\r\r\n\n"), {0},
	 "helo_name=\\r\nsender=a\\rb\nstate=UNKNOWN\nlines=2\n\n"},
	{"8-bit and control bytes kept", S("sender=j\xc3\xb6rg@x\x01\n\n"),
	 {0}, "sender=j\\xc3\\xb6rg@x\\x01\nstate=UNKNOWN\nlines=1\n\n"},
	{"leading empty lines skipped", S("\n\r\n\n" MINI), {0}, MINI_WANT},
	{"empty lines between requests skipped", S(MINI "\n\r\n" MINI), {0},
	 MINI_WANT MINI_WANT},
	{"only empty lines", S("\n\n\r\n\n"), {0}, ""},
	/* Found by clang UBSan: NULL + 0 when the buffer was never used. */
	{"empty line as the very first byte", S("\n" MINI), {0}, MINI_WANT},
	{"two pipelined requests", S(FULL_REQUEST MINI), {0},
	 FULL_WANT MINI_WANT},
	{"three pipelined, last partial", S(MINI MINI "sender=x\n"), {0},
	 MINI_WANT MINI_WANT "incomplete\n"},
	{"no final empty line", S("sender=a@b\n"), {0}, "incomplete\n"},
	{"no final LF", S("sender=a@b"), {0}, "incomplete\n"},
	{"lone CR pending", S("\r"), {0}, "incomplete\n"},
	{"CR at end of request", S("sender=a@b\n\r"), {0}, "incomplete\n"},
	/* Syntax. */
	{"line without '='", S("sender=a@b\ngarbage\n\n"), {0},
	 "error=E_SYNTAX\n"},
	{"empty name", S("=value\n\n"), {0}, "error=E_SYNTAX\n"},
	{"only '='", S("=\n\n"), {0}, "error=E_SYNTAX\n"},
	{"CR then line without '='", S("\r\r\n\n"), {0}, "error=E_SYNTAX\n"},
	{"NUL in value", S("sender=a\0b\n\n"), {0}, "error=E_SYNTAX\n"},
	{"NUL in name", S("sen\0der=a\n\n"), {0}, "error=E_SYNTAX\n"},
	{"NUL first", S("\0"), {0}, "error=E_SYNTAX\n"},
	{"NUL after a request", S(MINI "\0" MINI), {0},
	 MINI_WANT "error=E_SYNTAX\n"},
	{"NUL on a later line", S("sender=a\nrecipient=\0\n\n"), {0},
	 "error=E_SYNTAX\n"},
	{"error stops pipelining", S(MINI "bad\n\n" MINI), {0},
	 MINI_WANT "error=E_SYNTAX\n"},
	/* Numbers: a bad one fails the request, wherever it stands. */
	{"recipient_count with garbage", S("recipient_count=12abc\n\n"), {0},
	 "error=E_BAD_NUMBER\n"},
	{"negative size", S("size=-1\n\n"), {0}, "error=E_BAD_NUMBER\n"},
	{"size past 64 bits", S("size=99999999999999999999\n\n"), {0},
	 "error=E_BAD_NUMBER\n"},
	{"bad number after a good request", S(MINI "client_port=x\n\n"), {0},
	 MINI_WANT "error=E_BAD_NUMBER\n"},
	/* max_line = 10: "sender=abc" is exactly 10 bytes. */
	{"line at max_line", S("sender=abc\n\n"), {10, 100, 10},
	 "sender=abc\nstate=UNKNOWN\nlines=1\n\n"},
	{"line one over max_line", S("sender=abcd\n\n"), {10, 100, 10},
	 "error=E_LINE_TOO_LONG\n"},
	{"CRLF line at max_line", S("sender=abc\r\n\r\n"), {10, 100, 10},
	 "sender=abc\nstate=UNKNOWN\nlines=1\n\n"},
	{"CRLF line one over max_line", S("sender=abcd\r\n\r\n"),
	 {10, 100, 10}, "error=E_LINE_TOO_LONG\n"},
	{"line at max_line, CR then no LF", S("sender=abc\rx\n\n"),
	 {10, 100, 10}, "error=E_LINE_TOO_LONG\n"},
	{"line at max_line, two CRs", S("sender=abc\r\r\n\n"), {10, 100, 10},
	 "error=E_LINE_TOO_LONG\n"},
	{"over-long line without LF", S("sender=abcdefghijklmn"),
	 {10, 100, 10}, "error=E_LINE_TOO_LONG\n"},
	{"over-long line, no '=' either", S("abcdefghijkl\n"), {10, 100, 10},
	 "error=E_LINE_TOO_LONG\n"},
	/* max_request = 9: "a=1\nb=2\n\n" is exactly 9 bytes. */
	{"request at max_request", S("a=1\nb=2\n\n"), {10, 9, 10},
	 "state=UNKNOWN\nlines=2\n\n"},
	{"request one over max_request", S("a=1\nb=2\n\n"), {10, 8, 10},
	 "error=E_TOO_LARGE\n"},
	{"request over max_request mid-line", S("a=1\nb=222\n\n"), {10, 8, 10},
	 "error=E_TOO_LARGE\n"},
	{"CRLF request at max_request", S("a=1\r\nb=2\r\n\r\n"), {10, 12, 10},
	 "state=UNKNOWN\nlines=2\n\n"},
	{"CRLF request one over max_request", S("a=1\r\nb=2\r\n\r\n"),
	 {10, 11, 10}, "error=E_TOO_LARGE\n"},
	{"max_request is per request", S("a=1\nb=2\n\na=1\nb=2\n\n"),
	 {10, 9, 10}, "state=UNKNOWN\nlines=2\n\nstate=UNKNOWN\nlines=2\n\n"},
	{"leading empty lines not counted", S("\n\r\n\na=1\nb=2\n\n"),
	 {10, 9, 10}, "state=UNKNOWN\nlines=2\n\n"},
	/* max_attrs = 3 */
	{"attributes at max_attrs", S("a=1\nb=2\nsender=3\n\n"), {10, 100, 3},
	 "sender=3\nstate=UNKNOWN\nlines=3\n\n"},
	{"attributes one over max_attrs", S("a=1\nb=2\nc=3\nsender=4\n\n"),
	 {10, 100, 3}, "error=E_TOO_MANY_ATTRS\n"},
	{"repeats count toward max_attrs", S("a=1\na=1\na=1\na=1\n\n"),
	 {10, 100, 3}, "error=E_TOO_MANY_ATTRS\n"},
	{"max_attrs is per request", S("a=1\nb=2\nc=3\n\na=1\nb=2\nc=3\n\n"),
	 {10, 100, 3}, "state=UNKNOWN\nlines=3\n\nstate=UNKNOWN\nlines=3\n\n"},
	/* Which error wins is fixed by byte order, not by the split. */
	{"line too long before syntax", S("abcdefghijklmnop\n"), {10, 100, 3},
	 "error=E_LINE_TOO_LONG\n"},
	{"too large before line too long", S("a=1\nb=2\nabcdefghijklmnop\n"),
	 {10, 12, 3}, "error=E_TOO_LARGE\n"},
	{"syntax before too many attrs", S("a=1\nb=2\nc=3\nbad\n\n"),
	 {10, 100, 3}, "error=E_SYNTAX\n"},
	{"NUL before line too long", S("sender=abc\0\n"), {10, 100, 3},
	 "error=E_SYNTAX\n"},
};

/* The full request with its attribute lines in reverse order. */
static char *reversed_full(void)
{
	static const char full[] = FULL_REQUEST;
	const char *lines[64];
	size_t n = 0, i;
	const char *s = full;
	struct buf b;

	while (*s != '\n') {
		lines[n++] = s;
		s = strchr(s, '\n') + 1;
	}
	buf_init(&b, sizeof(full));
	for (i = n; i-- > 0;)
		buf_append(&b, lines[i], (size_t)(strchr(lines[i], '\n') - lines[i]) + 1);
	buf_puts(&b, "\n");
	return buf_steal(&b);
}

/* A request of one line: name, fill bytes of x, then "\n\n"; *n its length. */
static char *one_line(const char *name, size_t fill, size_t *n)
{
	size_t k = strlen(name);
	char *s = xmalloc(k + fill + 3);

	memcpy(s, name, k);
	memset(s + k, 'x', fill);
	memcpy(s + k + fill, "\n\n", 3);
	*n = k + fill + 2;
	return s;
}

/* Table rows, then the rows that are easier built than written. */
static void test_rows(void)
{
	size_t i, n;
	char *s, *want;
	struct limits big = {DEF_REQUEST, DEF_REQUEST, DEF_ATTRS};
	struct buf b;

	for (i = 0; i < NELEM(rows); i++)
		check_input(rows[i].label,
			    rows[i].lim.line ? &rows[i].lim : &deflim,
			    rows[i].in, rows[i].n, rows[i].want);

	s = reversed_full();
	check_input("full request, reverse order", &deflim, s, strlen(s),
		    FULL_WANT);
	free(s);

	/* Default max_line: "helo_name=" + fill is exactly 4096. */
	s = one_line("helo_name=", DEF_LINE - 10, &n);
	want = xasprintf("helo_name=%.*s\nstate=UNKNOWN\nlines=1\n\n",
			 DEF_LINE - 10, s + 10);
	check_input("default max_line, at the limit", &deflim, s, n, want);
	free(s);
	free(want);
	s = one_line("helo_name=", DEF_LINE - 9, &n);
	check_input("default max_line, one over", &deflim, s, n,
		    "error=E_LINE_TOO_LONG\n");
	free(s);

	/* Default max_request: one line, the request exactly 32768 bytes. */
	s = one_line("x=", DEF_REQUEST - 4, &n);
	check_input("default max_request, at the limit", &big, s, n,
		    "state=UNKNOWN\nlines=1\n\n");
	free(s);
	s = one_line("x=", DEF_REQUEST - 3, &n);
	check_input("default max_request, one over", &big, s, n,
		    "error=E_TOO_LARGE\n");
	free(s);

	/* Default max_attrs: 128 lines, then 129. */
	buf_init(&b, 1 << 20);
	for (i = 0; i < DEF_ATTRS; i++)
		buf_printf(&b, "x%zu=%zu\n", i, i);
	buf_puts(&b, "\n");
	check_input("default max_attrs, at the limit", &deflim, b.p, b.len,
		    "state=UNKNOWN\nlines=128\n\n");
	b.len--;
	buf_puts(&b, "sender=one-too-many\n\n");
	check_input("default max_attrs, one over", &deflim, b.p, b.len,
		    "error=E_TOO_MANY_ATTRS\n");
	buf_deinit(&b);
}

/* *used, sticky errors, reset, busy and memory bounds. */
/* Numeric attributes: the parsed value, or a protocol error. */
static void test_numbers(void)
{
	static const struct {
		const char *label, *line;
		int code;
		long rc, size;
		unsigned cport, sport;
	} nums[] = {
		{"absent", "sender=a@b", POLICY_READY, 0, 0, 0, 0},
		{"empty", "recipient_count=", POLICY_READY, 0, 0, 0, 0},
		{"recipient_count", "recipient_count=3", POLICY_READY, 3, 0, 0, 0},
		{"recipient_count max", "recipient_count=1000000", POLICY_READY,
		 1000000, 0, 0, 0},
		{"recipient_count over max", "recipient_count=1000001",
		 POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"recipient_count past 32 bits", "recipient_count=4294967297",
		 POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"leading zeros", "recipient_count=007", POLICY_READY, 7, 0, 0, 0},
		{"trailing garbage", "recipient_count=12abc",
		 POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"minus", "size=-1", POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"plus", "size=+1", POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"leading space", "size= 1", POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"trailing space", "size=1 ", POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"hex", "size=0x10", POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"size 3 GB", "size=3000000000", POLICY_READY, 0, 3000000000L,
		 0, 0},
		{"size LONG_MAX", "size=9223372036854775807", POLICY_READY, 0,
		 9223372036854775807L, 0, 0},
		{"size past LONG_MAX", "size=9223372036854775808",
		 POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"size 20 digits", "size=99999999999999999999",
		 POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
		{"client_port", "client_port=49152", POLICY_READY, 0, 0, 49152, 0},
		{"client_port unknown", "client_port=unknown", POLICY_READY, 0, 0,
		 0, 0},
		{"client_port 65536", "client_port=65536", POLICY_E_BAD_NUMBER,
		 0, 0, 0, 0},
		{"server_port", "server_port=587", POLICY_READY, 0, 0, 0, 587},
		{"server_port garbage", "server_port=587x", POLICY_E_BAD_NUMBER,
		 0, 0, 0, 0},
		{"recipient_count unknown is no port", "recipient_count=unknown",
		 POLICY_E_BAD_NUMBER, 0, 0, 0, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		struct policy_parser p;
		const struct policy_request *r;
		char in[128];
		size_t used;
		int code;

		snprintf(in, sizeof(in), "%s\n\n", nums[i].line);
		policy_parser_init(&p, 1024, 8192, 64);
		code = policy_parser_feed(&p, in, strlen(in), &used);
		r = policy_parser_request(&p);
		if (nums[i].code == POLICY_READY)
			ok(code == POLICY_READY && r &&
			   r->recipient_count == nums[i].rc &&
			   r->size == nums[i].size &&
			   r->client_port == nums[i].cport &&
			   r->server_port == nums[i].sport,
			   "numbers: %s", nums[i].label);
		else
			ok(code == nums[i].code && !r &&
			   strstr(policy_parser_sample(&p), nums[i].line),
			   "numbers: %s fails, sample \"%s\"", nums[i].label,
			   policy_parser_sample(&p));
		policy_parser_deinit(&p);
	}
}

static void test_api(void)
{
	static const char two[] = "a=1\n\nsender=s@x\n\n";
	struct policy_parser p;
	const struct policy_request *r;
	size_t used;
	char *s;
	size_t n;

	policy_parser_init(&p, 10, 100, 3);
	ok(!policy_parser_busy(&p), "api: not busy at start");
	ok(policy_parser_request(&p) == NULL, "api: no request at start");
	is_int(policy_parser_feed(&p, two, strlen(two), &used), POLICY_READY,
	       "api: first of two pipelined");
	is_int(used, 5, "api: used stops after the empty line");
	r = policy_parser_request(&p);
	ok(r != NULL && r->nattrs == 1 && r->attr[PA_SENDER][0] == '\0',
	   "api: first request");
	ok(!policy_parser_busy(&p), "api: not busy when ready");
	is_int(policy_parser_feed(&p, two + used, strlen(two) - used, &used),
	       POLICY_READY, "api: second of two pipelined");
	is_int(used, 12, "api: second used");
	is_str(policy_parser_request(&p)->attr[PA_SENDER], "s@x",
	       "api: second request's sender");
	is_int(policy_parser_feed(&p, "sender=", 7, &used), POLICY_NEED_MORE,
	       "api: partial");
	is_int(used, 7, "api: partial consumed");
	ok(policy_parser_busy(&p), "api: busy inside a request");
	ok(policy_parser_request(&p) == NULL, "api: no request while partial");
	is_int(policy_parser_feed(&p, "abcd\n", 5, &used), POLICY_E_LINE_TOO_LONG,
	       "api: error");
	is_int(used, 4, "api: used counts up to the offending byte");
	is_str(policy_parser_sample(&p), "sender=abcd", "api: sample of long line");
	is_int(policy_parser_feed(&p, "\n", 1, &used), POLICY_E_LINE_TOO_LONG,
	       "api: error is sticky");
	is_int(used, 0, "api: nothing consumed after an error");
	policy_parser_reset(&p);
	is_str(policy_parser_sample(&p), "sender=abcd", "api: sample survives reset");
	is_int(policy_parser_feed(&p, "sender=ok\n\n", 11, &used), POLICY_READY,
	       "api: usable after reset");
	is_str(policy_parser_request(&p)->attr[PA_SENDER], "ok",
	       "api: value after reset");
	is_int(policy_parser_feed(&p, "sender=zz\n", 10, &used), POLICY_NEED_MORE,
	       "api: partial before reset");
	policy_parser_reset(&p);
	ok(!policy_parser_busy(&p), "api: reset forgets a partial request");
	is_int(policy_parser_feed(&p, "\n", 1, &used), POLICY_NEED_MORE,
	       "api: after reset an empty line is leading");
	is_int(policy_parser_feed(&p, "", 0, &used), POLICY_NEED_MORE,
	       "api: empty feed");
	is_int(used, 0, "api: empty feed consumes nothing");
	policy_parser_deinit(&p);

	policy_parser_init(&p, 100, 100, 3);
	policy_parser_feed(&p, S("sender=a\0b\n"), &used);
	is_str(policy_parser_sample(&p), "sender=a\\x00", "api: sample of NUL");
	policy_parser_reset(&p);
	policy_parser_feed(&p, S("sender=a\ngar\"bage\r\n"), &used);
	is_str(policy_parser_sample(&p), "gar\\\"bage",
	       "api: sample of line without '='");
	policy_parser_reset(&p);
	policy_parser_feed(&p, S("a=1\nb=2\nc=3\n\xff\x01=\n"), &used);
	is_str(policy_parser_sample(&p), "\\xff\\x01=",
	       "api: sample of one attribute too many");
	policy_parser_deinit(&p);

	/* A big request: the sample is bounded, memory stays under max. */
	policy_parser_init(&p, 2 * DEF_REQUEST, DEF_REQUEST, DEF_ATTRS);
	s = one_line("sender=", DEF_REQUEST, &n);
	is_int(policy_parser_feed(&p, s, n, &used), POLICY_E_TOO_LARGE,
	       "api: huge request refused");
	ok(strlen(policy_parser_sample(&p)) < sizeof(p.sample) &&
	   strncmp(policy_parser_sample(&p), "sender=xxx", 10) == 0,
	   "api: sample of huge line bounded");
	ok(p.req.cap <= DEF_REQUEST + 1, "api: buffer never beyond max_request");
	policy_parser_reset(&p);
	free(s);
	/* The buffer moves while it grows: values must still be right. */
	s = one_line("helo_name=", DEF_REQUEST - 12, &n);
	memcpy(s, "sender=a@b\nhelo_name=", 21);
	is_int(policy_parser_feed(&p, s, n, &used), POLICY_READY,
	       "api: request that grew the buffer");
	r = policy_parser_request(&p);
	ok(strcmp(r->attr[PA_SENDER], "a@b") == 0 &&
	   strlen(r->attr[PA_HELO_NAME]) == DEF_REQUEST - 23,
	   "api: values after the buffer moved");
	free(s);
	policy_parser_deinit(&p);
	policy_parser_deinit(&p);	/* twice is harmless */
}

/* Names of attributes, states and errors. */
static void test_names(void)
{
	static const struct {
		const char *in;
		enum policy_state want;
	} st[] = {
		{"CONNECT", PS_CONNECT}, {"EHLO", PS_EHLO}, {"HELO", PS_HELO},
		{"MAIL", PS_MAIL}, {"RCPT", PS_RCPT}, {"DATA", PS_DATA},
		{"END-OF-MESSAGE", PS_END_OF_MESSAGE}, {"VRFY", PS_VRFY},
		{"ETRN", PS_ETRN}, {"rcpt", PS_RCPT}, {"Ehlo", PS_EHLO},
		{"", PS_UNKNOWN}, {"RCPT ", PS_UNKNOWN}, {"END_OF_MESSAGE", PS_UNKNOWN},
		{"UNKNOWN", PS_UNKNOWN}, {"BDAT", PS_UNKNOWN},
	};
	size_t i, j;
	int dup = 0, missing = 0, roundtrip = 0;

	for (i = 0; i < NELEM(st); i++)
		is_int(policy_state_parse(st[i].in), st[i].want,
		       "state_parse: \"%s\"", st[i].in);
	is_int(policy_state_parse(NULL), PS_UNKNOWN, "state_parse: NULL");
	for (i = PS_UNKNOWN; i <= PS_ETRN; i++)
		if (policy_state_parse(policy_state_name((enum policy_state)i)) !=
		    (enum policy_state)i)
			roundtrip++;
	ok(roundtrip == 0, "state_name: round trip through state_parse");
	is_str(policy_state_name((enum policy_state)99), "UNKNOWN",
	       "state_name: out of range");

	for (i = 0; i < PA__COUNT; i++) {
		const char *a = policy_attr_name((enum policy_attr)i);

		if (a == NULL || *a == '\0')
			missing++;
		for (j = 0; a && j < i; j++)
			if (strcmp(a, policy_attr_name((enum policy_attr)j)) == 0)
				dup++;
	}
	ok(missing == 0 && dup == 0, "attr_name: every attribute, distinct");
	is_str(policy_attr_name(PA_REVERSE_CLIENT_NAME), "reverse_client_name",
	       "attr_name: reverse_client_name");
	ok(policy_attr_name(PA__COUNT) == NULL, "attr_name: out of range");

	for (i = POLICY_NEED_MORE; i <= POLICY_E_SYNTAX; i++)
		ok(strcmp(policy_error_str((int)i), "unknown error") != 0,
		   "error_str: %s", code_name((int)i));
	is_str(policy_error_str(42), "unknown error", "error_str: unknown code");
}

/* Reply formatting: framing can never be broken by the text. */
static void test_reply(void)
{
	static const struct {
		const char *label, *action, *text, *want;
	} rr[] = {
		{"action only", "DUNNO", NULL, "action=DUNNO\n\n"},
		{"empty text", "DUNNO", "", "action=DUNNO\n\n"},
		{"with text", "REJECT", "5.7.1 rate limit exceeded",
		 "action=REJECT 5.7.1 rate limit exceeded\n\n"},
		{"numeric", "450", "4.7.1 slow down",
		 "action=450 4.7.1 slow down\n\n"},
		{"CRLF injection in text", "DEFER", "later\r\n\r\naction=OK",
		 "action=DEFER later    action=OK\n\n"},
		{"LF injection in action", "OK\n\nx", NULL,
		 "action=OK  x\n\n"},
		{"tab and DEL", "HOLD", "a\tb\x7f", "action=HOLD a b \n\n"},
		{"8-bit text kept", "REJECT", "caf\xc3\xa9",
		 "action=REJECT caf\xc3\xa9\n\n"},
	};
	char out[128];
	size_t i;
	int n;

	for (i = 0; i < NELEM(rr); i++) {
		n = policy_format_reply(out, sizeof(out), rr[i].action, rr[i].text);
		is_str(n >= 0 ? out : "(-1)", rr[i].want, "reply: %s", rr[i].label);
		is_int(n, strlen(rr[i].want), "reply: %s, length", rr[i].label);
	}
	/* "action=OK x\n\n" is 13 bytes, plus the NUL. */
	is_int(policy_format_reply(out, 14, "OK", "x"), 13, "reply: exact fit");
	is_int(policy_format_reply(out, 13, "OK", "x"), -1, "reply: one short");
	is_str(out, "", "reply: emptied when too small");
	is_int(policy_format_reply(out, 12, "OK", "x"), -1, "reply: two short");
	is_int(policy_format_reply(out, 0, "OK", NULL), -1, "reply: no room");
	is_int(policy_format_reply(out, 1, "OK", NULL), -1, "reply: room for NUL");
}

/* Where the golden files are. */
static char *data_dir(void)
{
	const char *root = getenv("MAMORI_SOURCE_ROOT");

	if (root == NULL || *root == '\0')
		root = MAMORI_SOURCE_ROOT;
	return xasprintf("%s/test/data/policy", root);
}

/* Read a whole file (at most 1 MB) into a new string; NULL if missing. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char tmp[4096];
	size_t k;

	if (f == NULL)
		return NULL;
	buf_init(&b, 1 << 20);
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (buf_append(&b, tmp, k) != 0)
			break;
	fclose(f);
	*n = b.len;
	return buf_steal(&b);
}

/* Does the file name end in ".in"? */
static int is_in_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 3 && strcmp(d->d_name + n - 3, ".in") == 0;
}

/* Golden transcripts: every NAME.in against NAME.ref. */
static void test_golden(void)
{
	char *dir = data_dir();
	struct dirent **ents;
	int n, i;
	bool update = getenv("MAMORI_UPDATE_REF") != NULL;

	n = scandir(dir, &ents, is_in_file, alphasort);
	if (!ok(n >= 6, "golden: at least 6 transcripts in %s", dir))
		printf("#   scandir: %s\n", n < 0 ? strerror(errno) : "too few");
	for (i = 0; i < n; i++) {
		char *in_path = xasprintf("%s/%s", dir, ents[i]->d_name);
		char *ref_path = xasprintf("%.*s.ref", (int)strlen(in_path) - 3,
					   in_path);
		size_t in_n, ref_n;
		char *in = slurp(in_path, &in_n), *ref = slurp(ref_path, &ref_n);

		if (update && in) {
			struct buf got;
			FILE *f = fopen(ref_path, "wb");

			buf_init(&got, 1 << 22);
			transcript(&got, &deflim, in, in_n, in_n, 0);
			if (f) {
				fwrite(got.p ? got.p : "", 1, got.len, f);
				fclose(f);
			}
			buf_deinit(&got);
			free(ref);
			ref = slurp(ref_path, &ref_n);
		}
		if (ok(in && ref, "golden %s: files readable", ents[i]->d_name))
			check_input(ents[i]->d_name, &deflim, in, in_n, ref);
		free(in);
		free(ref);
		free(in_path);
		free(ref_path);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	free(dir);
}

int main(void)
{
	test_rows();
	test_numbers();
	test_api();
	test_names();
	test_reply();
	test_golden();
	return tap_done();
}
