/*
 * dkim_tags - tag=value lists (RFC 6376 3.2) and base64 with FWS (3.5 b=).
 *
 * Both the DKIM-Signature field and the key record are tag-lists:
 *   tag-list = tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 * Names are case-sensitive; a repeated name makes the list invalid.  We are
 * liberal in one way only: a value may hold bytes above 0x7e (key n= notes
 * in the wild do), never control bytes.  At most `max` tags are accepted
 * (DKIM_MAX_TAGS: the RFC defines 14), so the duplicate check stays cheap.
 * No allocation; the result points into the input.
 */
#include <string.h>

#include "mail/dkim.h"

/* FWS bytes, as they appear in a raw header value. */
static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ALPHA */
static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* tag-name = ALPHA *ALNUMPUNC, ALNUMPUNC = ALPHA / DIGIT / "_" */
static bool valid_name(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || !is_alpha(p[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!is_alpha(p[i]) && !(p[i] >= '0' && p[i] <= '9') &&
		    p[i] != '_')
			return false;
	return true;
}

/* Trim FWS from both ends of [*s, *e). */
static void trim(const char *p, size_t *s, size_t *e)
{
	while (*s < *e && is_fws(p[*s]))
		(*s)++;
	while (*e > *s && is_fws(p[*e - 1]))
		(*e)--;
}

/* Control bytes a tag value may not hold (FWS aside), as 1. */
static const unsigned char ctl[256] = {
	[0x00] = 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 0x00-0x08 */
	[0x0b] = 1, 1,					/* 0x0b-0x0c */
	[0x0e] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x0e-0x19 */
	[0x1a] = 1, 1, 1, 1, 1, 1,			/* 0x1a-0x1f */
	[0x7f] = 1,
};

int dkim_tags_parse(const char *p, size_t n, struct dkim_tag *tags,
		    size_t max, size_t *count)
{
	size_t pos = 0, cnt = 0, i;
	unsigned char bad;

	*count = 0;
	while (pos <= n) {
		const char *semi = memchr(p + pos, ';', n - pos);
		size_t end = semi ? (size_t)(semi - p) : n;
		size_t s = pos, e = end, ns, ne, vs, ve, eq;
		const char *eqp;

		trim(p, &s, &e);
		if (s == e) {
			/* Only the spec after the last ';' may be empty. */
			if (semi != NULL)
				return DKIM_W_SYNTAX;
			break;
		}
		eqp = memchr(p + s, '=', e - s);
		if (eqp == NULL)
			return DKIM_W_SYNTAX;
		eq = (size_t)(eqp - p);
		ns = s;
		ne = eq;
		trim(p, &ns, &ne);
		if (!valid_name(p + ns, ne - ns))
			return DKIM_W_SYNTAX;
		vs = eq + 1;
		ve = e;
		trim(p, &vs, &ve);
		bad = 0;
		for (i = vs; i < ve; i++)
			bad |= ctl[(unsigned char)p[i]];
		if (bad)
			return DKIM_W_SYNTAX;
		for (i = 0; i < cnt; i++)
			if (tags[i].name.n == ne - ns &&
			    memcmp(tags[i].name.p, p + ns, ne - ns) == 0)
				return DKIM_W_DUP_TAG;
		if (cnt == max)
			return DKIM_W_SYNTAX;
		tags[cnt].name.p = p + ns;
		tags[cnt].name.n = ne - ns;
		tags[cnt].value.p = p + vs;
		tags[cnt].value.n = ve - vs;
		tags[cnt].vstart = eq + 1;
		tags[cnt].vend = end;
		cnt++;
		if (semi == NULL)
			break;
		pos = end + 1;
	}
	*count = cnt;
	return 0;
}

bool dkim_list_has(struct span v, const char *item)
{
	size_t pos = 0;

	while (pos <= v.n) {
		const char *colon = memchr(v.p + pos, ':', v.n - pos);
		size_t s = pos, e = colon ? (size_t)(colon - v.p) : v.n;
		struct span one;

		while (s < e && is_fws(v.p[s]))
			s++;
		while (e > s && is_fws(v.p[e - 1]))
			e--;
		one.p = v.p + s;
		one.n = e - s;
		if (span_caseeq(one, item))
			return true;
		if (colon == NULL)
			break;
		pos = (size_t)(colon - v.p) + 1;
	}
	return false;
}

/*
 * Base64 digit values plus one, so that the bytes not named are 0, bad;
 * B64_FWS marks the bytes the loop skips, B64_PAD the padding it counts.
 */
enum { B64_BAD = 0, B64_FWS = 65, B64_PAD };

#define D4(c, v) [c] = v + 1, [c + 1] = v + 2, [c + 2] = v + 3, [c + 3] = v + 4
static const unsigned char b64tab[256] = {
	D4('A', 0), D4('E', 4), D4('I', 8), D4('M', 12), D4('Q', 16),
	D4('U', 20), ['Y'] = 25, ['Z'] = 26,
	D4('a', 26), D4('e', 30), D4('i', 34), D4('m', 38), D4('q', 42),
	D4('u', 46), ['y'] = 51, ['z'] = 52,
	D4('0', 52), D4('4', 56), ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['/'] = 64, ['='] = B64_PAD,
	[' '] = B64_FWS, ['\t'] = B64_FWS, ['\r'] = B64_FWS, ['\n'] = B64_FWS,
};
#undef D4

long dkim_base64_decode(const char *p, size_t n, unsigned char *out,
			size_t cap)
{
	size_t i, o = 0, pad = 0;
	unsigned acc = 0, nbits = 0, ndig = 0;

	for (i = 0; i < n; i++) {
		unsigned v;

		/* Four digits on a group boundary (no FWS inside, nothing
		 * carried): three bytes at once, as the loop below would
		 * write them.  Anything else takes the byte-wise path. */
		while (ndig % 4 == 0 && !pad && n - i >= 4 && cap - o >= 3) {
			unsigned v0 = b64tab[(unsigned char)p[i]] - 1u,
				 v1 = b64tab[(unsigned char)p[i + 1]] - 1u,
				 v2 = b64tab[(unsigned char)p[i + 2]] - 1u,
				 v3 = b64tab[(unsigned char)p[i + 3]] - 1u;
			unsigned g = v0 << 18 | v1 << 12 | v2 << 6 | v3;

			if ((v0 | v1 | v2 | v3) >= 64)
				break;
			out[o++] = (unsigned char)(g >> 16);
			out[o++] = (unsigned char)(g >> 8);
			out[o++] = (unsigned char)g;
			ndig += 4;
			i += 4;
		}
		if (i == n)
			break;
		v = b64tab[(unsigned char)p[i]];
		if (v - 1 < 64) {
			/* Nothing but padding and FWS may follow padding. */
			if (pad)
				return -1;
			ndig++;
			acc = (acc << 6) | (v - 1);
			nbits += 6;
			if (nbits >= 8) {
				nbits -= 8;
				if (o == cap)
					return -1;
				out[o++] = (unsigned char)(acc >> nbits);
				acc &= (1u << nbits) - 1;
			}
		} else if (v == B64_PAD) {
			pad++;
		} else if (v == B64_BAD) {
			return -1;
		}
	}
	/* A lone sixth of a byte, or padding that does not fit, is broken;
	 * missing padding is tolerated. */
	if (ndig % 4 == 1 || pad > 2 || (pad && (ndig + pad) % 4 != 0))
		return -1;
	return (long)o;
}
