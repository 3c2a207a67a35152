/*
 * fuzz-policy - libFuzzer target for the Postfix policy parser.
 *
 * Input layout: byte 0 picks the limits (small ones, so every limit error
 * is reachable with short inputs, or the daemon's defaults), bytes 1-2 seed
 * the chunk sizes, the rest is what the peer sends.  Inputs under 3 bytes
 * are fed whole with the defaults, so the empty input is covered too.
 *
 * The input is parsed twice, at once and in the seeded chunks, the way a
 * connection handler would (every request handled, *used honoured, reset
 * after an error and go on with the next byte).  Both runs must give the
 * same digest of events: the parser's result may not depend on how the
 * bytes were split.  Every request is checked against the limits, and a
 * reply is formatted from its values and checked for intact framing.
 * A broken invariant aborts, which the fuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct limits {
	size_t line, request;
	unsigned attrs;
};

/* Small limits first; the last row is the daemon's defaults. */
static const struct limits limit_sets[] = {
	{8, 32, 2},
	{16, 64, 4},
	{64, 256, 8},
	{256, 2048, 16},
	{4096, 32768, 128},
};

#define NLIMITS (sizeof(limit_sets) / sizeof(limit_sets[0]))

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-policy: invariant broken: %s\n", what);
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

/* Check a reply built from two request values; framing must hold. */
static void check_reply(const char *action, const char *text, size_t outsz)
{
	char out[512];	/* outsz <= sizeof(out) */
	int n;
	size_t i;

	n = policy_format_reply(out, outsz, action, text);
	if (n < 0) {
		if (outsz && out[0] != '\0')
			fail("reply: not emptied on overflow");
		if (strlen(action) + (text ? strlen(text) : 0) + 11 < outsz)
			fail("reply: refused although it fits");
		return;
	}
	if ((size_t)n != strlen(out) || (size_t)n >= outsz)
		fail("reply: length");
	if (n < 9 || memcmp(out, "action=", 7) != 0 ||
	    memcmp(out + n - 2, "\n\n", 2) != 0)
		fail("reply: framing");
	for (i = 0; i < (size_t)n - 2; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			fail("reply: control byte in line");
}

/* Check one request against the limits; mix it into the digest. */
static void handle(const struct policy_parser *p, const struct limits *lim,
		   uint64_t *h, size_t outsz)
{
	const struct policy_request *r = policy_parser_request(p);
	size_t a, total = 0, n;

	if (r == NULL)
		fail("READY without a request");
	if (r->nattrs == 0 || r->nattrs > lim->attrs)
		fail("attribute count");
	for (a = 0; a < PA__COUNT; a++) {
		n = strlen(r->attr[a]);
		if (n > lim->line || memchr(r->attr[a], '\n', n))
			fail("attribute value");
		total += n;
		mix(h, r->attr[a], n + 1);
	}
	if (total > lim->request || p->req.len > lim->request)
		fail("request size");
	if (policy_state_name(r->state) == NULL)
		fail("state name");
	mix(h, &r->state, sizeof(r->state));
	mix(h, &r->nattrs, sizeof(r->nattrs));
	check_reply(r->attr[PA_PROTOCOL_STATE], r->attr[PA_SENDER], outsz);
	check_reply(r->attr[PA_RECIPIENT], r->attr[PA_HELO_NAME], 512);
}

/*
 * Parse in[0..n) in chunks: the first of size first, then sizes from a
 * xorshift generator seeded with seed (seed 0: the rest at once).
 * Returns the digest of everything that happened.
 */
static uint64_t run(const struct limits *lim, const char *in, size_t n,
		    uint32_t seed, size_t outsz)
{
	struct policy_parser p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t off = 0, len, used;
	uint32_t x = seed;
	int r;

	policy_parser_init(&p, lim->line, lim->request, lim->attrs);
	while (off < n) {
		if (seed == 0) {
			len = n - off;
		} else {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			/* Mostly tiny chunks, sometimes up to 4 KB. */
			len = 1 + x % ((x >> 24) < 200 ? 8 : 4096);
			if (len > n - off)
				len = n - off;
		}
		while (len > 0) {
			r = policy_parser_feed(&p, in + off, len, &used);
			if (used > len)
				fail("used beyond input");
			/* NEED_MORE is how often we fed: not part of the digest. */
			if (r != POLICY_NEED_MORE)
				mix(&h, &r, sizeof(r));
			off += used;
			len -= used;
			if (r == POLICY_READY) {
				if (policy_parser_busy(&p))
					fail("busy while ready");
				handle(&p, lim, &h, outsz);
			} else if (r == POLICY_NEED_MORE) {
				if (len != 0)
					fail("NEED_MORE with bytes left");
			} else {
				if (used == 0 || strlen(policy_parser_sample(&p)) >=
				    sizeof(p.sample))
					fail("error report");
				if (policy_parser_feed(&p, "", 0, &used) != r)
					fail("error not sticky");
				mix(&h, &off, sizeof(off));
				policy_parser_reset(&p);
			}
		}
	}
	r = policy_parser_busy(&p);
	mix(&h, &r, sizeof(r));
	policy_parser_deinit(&p);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct limits *lim = &limit_sets[NLIMITS - 1];
	const char *in = (const char *)data;
	uint32_t seed = 0x9e3779b9u;
	size_t outsz = 512;

	if (size >= 3) {
		lim = &limit_sets[data[0] % NLIMITS];
		/* Reply buffers from tiny to roomy, to reach the -1 path. */
		outsz = 1 + (size_t)(data[0] >> 3) * 16;
		seed ^= (uint32_t)data[1] | (uint32_t)data[2] << 8;
		in += 3;
		size -= 3;
	}
	if (run(lim, in, size, 0, outsz) != run(lim, in, size, seed, outsz))
		fail("result depends on how the input was split");
	return 0;
}
