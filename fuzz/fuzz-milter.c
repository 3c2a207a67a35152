/*
 * fuzz-milter - libFuzzer target for the milter packet parser, the command
 * decoder and the reply builders (src/proto/milter_proto.c).
 *
 * Input layout: byte 0 seeds the chunk sizes, the rest is what the MTA
 * sends.  The input is parsed twice, at once and in seeded chunks, the way
 * the milter front-end does (each packet handled, *used honoured, stop at
 * the first error); both runs must give the same digest.  Every decoded
 * command is checked: strings end inside the packet, MAIL/RCPT/HEADER have
 * their arguments; a reply is built from its strings and must frame
 * correctly (its length prefix matches, no CR or LF in a reply text).  A
 * broken invariant aborts, which the fuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/milter_proto.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-milter: invariant broken: %s\n", what);
	abort();
}

/* FNV-1a over n bytes into *h. */
static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		*h ^= *s++;
		*h *= 0x100000001b3ULL;
	}
}

/* s must be a string inside pkt's data. */
static void check_str(const struct milter_packet *pkt, const char *s)
{
	if (s < pkt->data || s >= pkt->data + pkt->len ||
	    !memchr(s, '\0', (size_t)(pkt->data + pkt->len - s)))
		fail("string outside the packet");
}

/* Build replies from s and check their framing. */
static void check_replies(const char *s)
{
	struct buf b;
	size_t len, i;

	buf_init(&b, 1 << 20);
	if (milter_put_replycode(&b, "550", NULL, s) != 0)
		fail("replycode refused");
	len = ((size_t)(unsigned char)b.p[0] << 24) |
		((size_t)(unsigned char)b.p[1] << 16) |
		((size_t)(unsigned char)b.p[2] << 8) | (unsigned char)b.p[3];
	if (len + 4 != b.len || b.p[b.len - 1] != '\0')
		fail("replycode framing");
	for (i = 5; i < b.len; i++)
		if (b.p[i] == '\r' || b.p[i] == '\n')
			fail("CR or LF in a reply text");
	buf_reset(&b);
	if (milter_put_chgheader(&b, 1, s, s) != 0 ||
	    b.len != 4 + 1 + 4 + 2 * (strlen(s) + 1))
		fail("chgheader framing");
	buf_deinit(&b);
}

/* Check one decoded command; mix it into the digest. */
static void handle(const struct milter_packet *pkt,
		   const struct milter_cmd *c, uint64_t *h)
{
	size_t i, off = 0;
	const char *k, *v;

	mix(h, &pkt->cmd, 1);
	mix(h, pkt->data, pkt->len);
	switch (c->cmd) {
	case MILTER_C_CONNECT:
		check_str(pkt, c->host);
		if (c->family != 'U')
			check_str(pkt, c->addr);
		check_replies(c->host);
		break;
	case MILTER_C_HELO:
		check_str(pkt, c->host);
		break;
	case MILTER_C_MAIL:
	case MILTER_C_RCPT:
	case MILTER_C_HEADER:
		if (c->argc == 0 || c->argc > MILTER_MAX_ARGS ||
		    (c->cmd == MILTER_C_HEADER && c->argc != 2))
			fail("argument count");
		for (i = 0; i < c->argc; i++)
			check_str(pkt, c->argv[i]);
		check_replies(c->argv[c->argc - 1]);
		break;
	case MILTER_C_MACRO:
		while (milter_macro_next(c, &off, &k, &v)) {
			check_str(pkt, k);
			check_str(pkt, v);
		}
		if (off != c->body_len)
			fail("macro pairs not read to the end");
		break;
	default:
		break;
	}
}

/* Parse in[0..n) in chunks seeded with seed (0: at once); the digest. */
static uint64_t run(const uint8_t *in, size_t n, uint32_t seed)
{
	struct milter_parser p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t off = 0, len, used;
	uint32_t x = seed;

	milter_parser_init(&p);
	while (off < n) {
		int r;

		len = n - off;
		if (seed) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			len = 1 + x % 16;
			if (len > n - off)
				len = n - off;
		}
		r = milter_parser_feed(&p, in + off, len, &used);
		if (used > len)
			fail("used past the input");
		off += used;
		if (r == MILTER_READY) {
			struct milter_packet pkt;
			struct milter_cmd c;
			int d;

			if (!milter_parser_packet(&p, &pkt))
				fail("READY without a packet");
			if (pkt.len + 1 > MILTER_MAX_PACKET)
				fail("packet over the limit");
			d = milter_decode(&pkt, &c);
			mix(&h, &d, sizeof(d));
			if (d != 0)
				break;
			handle(&pkt, &c, &h);
		} else if (r != MILTER_NEED_MORE) {
			mix(&h, &r, sizeof(r));
			if (strlen(milter_parser_sample(&p)) >= 160)
				fail("sample too long");
			break;
		} else if (used != len) {
			fail("NEED_MORE without taking everything");
		}
	}
	mix(&h, (unsigned char[]){ milter_parser_busy(&p) }, 1);
	milter_parser_deinit(&p);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed;

	if (size < 1)
		return 0;
	seed = 0x9e3779b9u ^ data[0];
	if (run(data + 1, size - 1, 0) != run(data + 1, size - 1, seed))
		fail("the result depends on how the input was split");
	return 0;
}
