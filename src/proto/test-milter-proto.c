/*
 * test-milter-proto - the milter packet parser, the command decoder and
 * the reply builders.
 *
 * Parser rows: wire bytes in, a transcript out: one line per packet (the
 * decoded command, strings escaped as in log samples), "error=NAME" when
 * the parser or the decoder refuses (the daemon closes the connection:
 * nothing after it is read), "incomplete" when the input ends inside a
 * packet.  Each row is fed at once and a byte at a time; both must give
 * the row's transcript.  Reply rows: a builder call and the exact bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "proto/milter_proto.h"
#include "util/buf.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal and its length, NUL bytes included. */
#define S(lit) lit, sizeof(lit) - 1

/* Escaped s[0..n) appended to t. */
static void esc(struct buf *t, const char *s, size_t n)
{
	char tmp[512];

	buf_puts(t, buf_sample(tmp, sizeof(tmp), s, n, 200));
}

/* One decoded command as a transcript line. */
static void describe(struct buf *t, const struct milter_cmd *c)
{
	size_t i, off = 0;
	const char *k, *v;

	buf_printf(t, "%c", c->cmd);
	switch (c->cmd) {
	case MILTER_C_OPTNEG:
		buf_printf(t, " v=%u a=0x%x p=0x%x", (unsigned)c->version,
			   (unsigned)c->actions, (unsigned)c->protocol);
		break;
	case MILTER_C_CONNECT:
		buf_puts(t, " host=");
		esc(t, c->host, strlen(c->host));
		buf_printf(t, " family=%c port=%u addr=", c->family, c->port);
		esc(t, c->addr, strlen(c->addr));
		break;
	case MILTER_C_HELO:
		buf_puts(t, " ");
		esc(t, c->host, strlen(c->host));
		break;
	case MILTER_C_MAIL:
	case MILTER_C_RCPT:
	case MILTER_C_HEADER:
		for (i = 0; i < c->argc; i++) {
			buf_puts(t, i ? "|" : " ");
			esc(t, c->argv[i], strlen(c->argv[i]));
		}
		break;
	case MILTER_C_MACRO:
		buf_printf(t, " for=%c", c->macro_cmd);
		while (milter_macro_next(c, &off, &k, &v))
			buf_printf(t, " %s=%s", k, v);
		break;
	case MILTER_C_BODY:
	case MILTER_C_BODYEOB:
	case MILTER_C_UNKNOWN:
		buf_printf(t, " n=%zu ", c->body_len);
		esc(t, c->body, c->body_len);
		break;
	default:
		break;
	}
	buf_puts(t, "\n");
}

/* The transcript of in[0..n) fed in chunks of step bytes. */
static void transcript(struct buf *t, const char *in, size_t n, size_t step)
{
	struct milter_parser p;
	size_t pos = 0;

	milter_parser_init(&p);
	buf_reset(t);
	while (pos < n) {
		size_t k = n - pos < step ? n - pos : step, used = 0;
		int r = milter_parser_feed(&p, in + pos, k, &used);

		pos += used;
		if (r == MILTER_READY) {
			struct milter_packet pkt;
			struct milter_cmd c;
			int d;

			milter_parser_packet(&p, &pkt);
			d = milter_decode(&pkt, &c);
			if (d != 0) {
				buf_printf(t, "error=%s\n", milter_error_str(d));
				goto out;
			}
			describe(t, &c);
		} else if (r != MILTER_NEED_MORE) {
			buf_printf(t, "error=%s\n", milter_error_str(r));
			goto out;
		}
	}
	if (milter_parser_busy(&p))
		buf_puts(t, "incomplete\n");
out:
	milter_parser_deinit(&p);
}

struct prow {
	const char *label;
	const char *in;
	size_t n;
	const char *want;
};

static const struct prow prows[] = {
	{ "optneg as Postfix sends it",
	  S("\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\x1f\xff\xff"),
	  "O v=6 a=0x1ff p=0x1fffff\n" },
	{ "optneg with trailing bytes is read",
	  S("\0\0\0\x0eO\0\0\0\x02\0\0\0\x01\0\0\0\0x"),
	  "O v=2 a=0x1 p=0x0\n" },
	{ "optneg short", S("\0\0\0\x05O\0\0\0\x06"), "error=syntax\n" },
	{ "optneg version 1", S("\0\0\0\x0dO\0\0\0\x01\0\0\0\0\0\0\0\0"),
	  "error=version\n" },
	{ "connect inet",
	  S("\0\0\0\x19" "Cmx.example\0" "4\0\x19" "192.0.2.1\0"),
	  "C host=mx.example family=4 port=25 addr=192.0.2.1\n" },
	{ "connect unknown family", S("\0\0\0\x0c" "Clocalhost\0U"),
	  "C host=localhost family=U port=0 addr=\n" },
	{ "connect bad family", S("\0\0\0\x0c" "Clocalhost\0X"),
	  "error=syntax\n" },
	{ "connect port cut", S("\0\0\0\x0d" "Clocalhost\0" "4\0"),
	  "error=syntax\n" },
	{ "connect address without NUL",
	  S("\0\0\0\x0e" "Ch\0" "6\0\x19" "2001:db8"), "error=syntax\n" },
	{ "helo", S("\0\0\0\x0dHclient.test\0"), "H client.test\n" },
	{ "helo without NUL", S("\0\0\0\x0cHclient.test"), "error=syntax\n" },
	{ "mail with esmtp args",
	  S("\0\0\0\x15M<a@b.test>\0SIZE=100\0"), "M <a@b.test>|SIZE=100\n" },
	{ "mail empty", S("\0\0\0\x01M"), "error=syntax\n" },
	{ "rcpt", S("\0\0\0\x0cR<c@d.test>\0"), "R <c@d.test>\n" },
	{ "header with leading space",
	  S("\0\0\0\x10LSubject\0 hello\0"), "L Subject| hello\n" },
	{ "header value without NUL", S("\0\0\0\x0dLSubject\0 hel"),
	  "error=syntax\n" },
	{ "header three strings", S("\0\0\0\x07La\0b\0c\0"), "error=syntax\n" },
	{ "macros for MAIL",
	  S("\0\0\0\x1e" "DMi\0" "4AB12\0{auth_authen}\0alice\0"),
	  "D for=M i=4AB12 {auth_authen}=alice\n" },
	{ "macro name without value", S("\0\0\0\x05" "DMi\0x"),
	  "error=syntax\n" },
	{ "macro empty list", S("\0\0\0\x02" "DC"), "D for=C\n" },
	{ "body with NUL and CRLF", S("\0\0\0\x06" "Ba\0\r\nb"),
	  "B n=5 a\\x00\\r\\nb\n" },
	{ "eob, abort, eoh, data, quit",
	  S("\0\0\0\x01" "E\0\0\0\x01" "A\0\0\0\x01" "N\0\0\0\x01" "T"
	    "\0\0\0\x01" "Q"),
	  "E n=0 \nA\nN\nT\nQ\n" },
	{ "unknown smtp command", S("\0\0\0\x06UVRFY\0"), "U n=5 VRFY\\x00\n" },
	{ "unknown command byte", S("\0\0\0\x05Zjunk"),
	  "error=unknown_command\n" },
	{ "zero length", S("\0\0\0\0O"), "error=syntax\n" },
	{ "4 GB length", S("\xff\xff\xff\xffZgarbage"),
	  "error=packet_too_large\n" },
	{ "length one over the maximum", S("\0\x10\x04\x01" "B"),
	  "error=packet_too_large\n" },
	{ "stalled packet", S("\0\0\0\x64Oab"), "incomplete\n" },
	{ "length cut", S("\0\0"), "incomplete\n" },
	{ "empty input", S(""), "" },
};

/* Every parser row, at once and a byte at a time. */
static void test_parser(void)
{
	struct buf t;
	size_t i;

	buf_init(&t, 1 << 20);
	for (i = 0; i < NELEM(prows); i++) {
		const struct prow *r = &prows[i];

		transcript(&t, r->in, r->n, r->n ? r->n : 1);
		is_str(t.p ? t.p : "", r->want, "%s (at once)", r->label);
		transcript(&t, r->in, r->n, 1);
		is_str(t.p ? t.p : "", r->want, "%s (byte by byte)", r->label);
	}
	buf_deinit(&t);
}

/* A maximal packet is taken, and the parser reads on after it. */
static void test_max_packet(void)
{
	struct milter_parser p;
	struct milter_packet pkt;
	size_t n = MILTER_MAX_PACKET + 4 + 5, used = 0, pos = 0;
	unsigned char *in = calloc(1, n);
	int r;

	in[0] = (unsigned char)(MILTER_MAX_PACKET >> 24);
	in[1] = (unsigned char)(MILTER_MAX_PACKET >> 16);
	in[2] = (unsigned char)(MILTER_MAX_PACKET >> 8);
	in[3] = (unsigned char)MILTER_MAX_PACKET;
	in[4] = 'B';
	memcpy(in + 4 + MILTER_MAX_PACKET, "\0\0\0\x01Q", 5);
	milter_parser_init(&p);
	r = milter_parser_feed(&p, in, n, &used);
	pos += used;
	is_int(r, MILTER_READY, "a packet of MILTER_MAX_PACKET bytes is read");
	is_int(milter_parser_packet(&p, &pkt)->len, MILTER_MAX_PACKET - 1,
	       "its body is whole");
	ok(!milter_parser_busy(&p), "a complete packet is not busy");
	r = milter_parser_feed(&p, in + pos, n - pos, &used);
	is_int(r, MILTER_READY, "the next packet follows");
	is_int(milter_parser_packet(&p, &pkt)->cmd, 'Q', "it is QUIT");
	milter_parser_deinit(&p);
	free(in);
}

/* The sample of a refused length is bounded and escaped. */
static void test_sample(void)
{
	struct milter_parser p;
	char in[4096];
	size_t used;

	memset(in, '\n', sizeof(in));
	memcpy(in, "\x7f\xff\xff\xff", 4);
	milter_parser_init(&p);
	is_int(milter_parser_feed(&p, in, sizeof(in), &used),
	       MILTER_E_TOO_LARGE, "a 2 GB length is refused");
	ok(strlen(milter_parser_sample(&p)) < 160, "the sample is bounded");
	ok(!strchr(milter_parser_sample(&p), '\n'), "the sample has no LF");
	is_int(milter_parser_feed(&p, "x", 1, &used), MILTER_E_TOO_LARGE,
	       "the error sticks until reset");
	milter_parser_reset(&p);
	is_int(milter_parser_feed(&p, "\0\0\0\x01Q", 5, &used), MILTER_READY,
	       "after a reset a packet is read");
	milter_parser_deinit(&p);
}

/* Negotiation: what we want, of what is offered. */
static void test_negotiate(void)
{
	static const struct {
		const char *label;
		uint32_t version, actions, protocol;	/* offered */
		uint32_t want_v, want_a, want_p;
	} rows[] = {
		{ "Postfix 3 offers everything", 6, 0x1ff, 0x1fffff, 6, 0x31,
		  0x1873c8 },
		{ "an old MTA: version 2, no leading-space flag", 2, 0x3f, 0x7f,
		  2, 0x31, 0x48 },
		{ "no quarantine offered", 6, 0x11, 0x1fffff, 6, 0x11,
		  0x1873c8 },
		{ "a newer version is answered with ours", 9, 0x1ff, 0, 6, 0x31,
		  0 },
	};
	size_t i;

	for (i = 0; i < NELEM(rows); i++) {
		struct milter_cmd c;
		uint32_t v, a, p;
		uint32_t steps = MILTER_P_NOUNKNOWN | MILTER_P_NODATA |
			MILTER_P_NORCPT | MILTER_P_NOEOH |
			MILTER_P_HDR_LEADSPC | MILTER_P_NR_CONN |
			MILTER_P_NR_HELO | MILTER_P_NR_MAIL | MILTER_P_NR_HDR |
			MILTER_P_NR_BODY;

		memset(&c, 0, sizeof(c));
		c.version = rows[i].version;
		c.actions = rows[i].actions;
		c.protocol = rows[i].protocol;
		milter_negotiate(&c, MILTER_F_ADDHDRS | MILTER_F_CHGHDRS |
				 MILTER_F_QUARANTINE, steps, &v, &a, &p);
		ok(v == rows[i].want_v && a == rows[i].want_a &&
		   p == rows[i].want_p, "%s: v=%u a=0x%x p=0x%x",
		   rows[i].label, (unsigned)v, (unsigned)a, (unsigned)p);
	}
}

/* Reply rows: the builder's output, escaped. */
static void test_replies(void)
{
	struct buf b, t;
	char big[3000];

	buf_init(&b, 1 << 16);
	buf_init(&t, 1 << 16);
#define REPLY(call, want, label) do { \
		buf_reset(&b); \
		buf_reset(&t); \
		is_int(call, 0, "%s: built", label); \
		esc(&t, b.p, b.len); \
		is_str(t.p, want, "%s", label); \
	} while (0)
	REPLY(milter_put_optneg(&b, 6, 0x31, 0x1ff3c8),
	      "\\x00\\x00\\x00\\rO\\x00\\x00\\x00\\x06\\x00\\x00\\x001"
	      "\\x00\\x1f\\xf3\\xc8", "optneg");
	REPLY(milter_put_simple(&b, MILTER_R_CONTINUE),
	      "\\x00\\x00\\x00\\x01c", "continue");
	REPLY(milter_put_simple(&b, MILTER_R_TEMPFAIL),
	      "\\x00\\x00\\x00\\x01t", "tempfail");
	REPLY(milter_put_replycode(&b, "550", "5.7.1", "Rejected: DMARC"),
	      "\\x00\\x00\\x00\\x1by550 5.7.1 Rejected: DMARC\\x00",
	      "replycode");
	REPLY(milter_put_replycode(&b, "450", NULL, "try\r\nlater 100%"),
	      "\\x00\\x00\\x00\\x1by450 4.0.0 try  later 100 \\x00",
	      "replycode: default xcode, CR LF % made spaces");
	REPLY(milter_put_insheader(&b, 0, "X-A", " v"),
	      "\\x00\\x00\\x00\\x0ci\\x00\\x00\\x00\\x00X-A\\x00 v\\x00",
	      "insheader on top");
	REPLY(milter_put_chgheader(&b, 2, "X-Mamori-Verdict", NULL),
	      "\\x00\\x00\\x00\\x17m\\x00\\x00\\x00\\x02X-Mamori-Verdict"
	      "\\x00\\x00", "chgheader: delete the second");
	REPLY(milter_put_addheader(&b, "X-B", " w"),
	      "\\x00\\x00\\x00\\x08hX-B\\x00 w\\x00", "addheader");
	REPLY(milter_put_quarantine(&b, "held:\nrestricted"),
	      "\\x00\\x00\\x00\\x12qheld: restricted\\x00",
	      "quarantine: LF made a space");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_reset(&b);
	milter_put_replycode(&b, "550", NULL, big);
	is_int(b.len, 5 + 10 + 1023 + 1, "a long reply text is cut at 1,023");
	buf_deinit(&b);
	buf_init(&b, 8);
	is_int(milter_put_addheader(&b, "X-Long", "value"), BUF_E_TOO_LARGE,
	       "a full output buffer refuses the packet");
	is_int(b.len, 0, "and holds nothing of it");
	buf_deinit(&b);
	buf_deinit(&t);
}

int main(void)
{
	test_parser();
	test_max_packet();
	test_sample();
	test_negotiate();
	test_replies();
	return tap_done();
}
