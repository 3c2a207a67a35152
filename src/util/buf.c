/*
 * buf - bounded owning buffers and escaped samples.  See buf.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/xalloc.h"

void buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_deinit(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* Grow to hold need bytes plus the NUL, doubling but never past max + 1. */
static __attribute__((noinline)) int buf_reserve(struct buf *b, size_t need)
{
	size_t cap;

	if (need > b->max)
		return BUF_E_TOO_LARGE;
	if (need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need + 1)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	int r;

	if (n > b->max - b->len)
		return BUF_E_TOO_LARGE;
	/* Fast path: it fits already (b->len + n <= b->max, checked above). */
	if (b->len + n >= b->cap &&
	    (r = buf_reserve(b, b->len + n)) != 0)
		return r;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, r;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n > b->max - b->len)
		return BUF_E_TOO_LARGE;
	if ((r = buf_reserve(b, b->len + (size_t)n)) != 0)
		return r;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

char *buf_steal(struct buf *b)
{
	char *p = b->p ? b->p : xstrdup("");

	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && memcmp(s.p, lit, n) == 0;
}

bool span_caseeq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

char *buf_sample(char *out, size_t outsz, const void *data, size_t n,
		 size_t max_in)
{
	const unsigned char *s = data;
	size_t o = 0, i;

	if (outsz == 0)
		return out;
	if (n > max_in)
		n = max_in;
	for (i = 0; i < n; i++) {
		char tmp[5];
		size_t k;

		if (s[i] == '"' || s[i] == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)s[i];
			k = 2;
		} else if (s[i] == '\n') {
			memcpy(tmp, "\\n", 2);
			k = 2;
		} else if (s[i] == '\r') {
			memcpy(tmp, "\\r", 2);
			k = 2;
		} else if (s[i] < 0x20 || s[i] >= 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
			k = 4;
		} else {
			tmp[0] = (char)s[i];
			k = 1;
		}
		if (o + k >= outsz)
			break;
		memcpy(out + o, tmp, k);
		o += k;
	}
	out[o] = '\0';
	return out;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

size_t utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t bad = 0;

	while (*p) {
		size_t n = utf8_seq(p);

		if (n == 0) {
			*p++ = '?';
			bad++;
		} else {
			p += n;
		}
	}
	return bad;
}

/* Must byte s[i] (of n) be written as \xNN?  Sets *seq to the bytes that
 * make the character (1 for a byte escaped alone). */
static bool esc_needed(const unsigned char *s, size_t i, size_t n,
		       size_t *seq)
{
	size_t k = s[i] < 0x80 ? 1 : utf8_seq(s + i);

	/* utf8_seq reads up to a NUL or a bad byte: never past n when s has
	 * a NUL or any byte that is not a continuation after it. */
	if (k == 0 || k > n - i) {
		*seq = 1;
		return true;
	}
	*seq = k;
	if (k == 1)
		return s[i] < 0x20 || s[i] == 0x7f;
	/* U+0080..U+009F, the C1 controls: 0xc2 0x80..0x9f. */
	return k == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0;
}

int utf8_escape(struct buf *b, const char *str, size_t n,
		enum utf8_esc_mode mode)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, seq, j;

	while (i < n) {
		if (esc_needed(s, i, n, &seq)) {
			for (j = 0; j < seq; j++)
				if (buf_printf(b, "\\x%02x", s[i + j]) != 0)
					return BUF_E_TOO_LARGE;
			i += seq;
			continue;
		}
		if (s[i] == '\\' && mode == UTF8_ESC_KEY &&
		    (i + 1 < n) && (s[i + 1] == 'x' || s[i + 1] == '\\' ||
		     esc_needed(s, i + 1, n, &j))) {
			if (buf_append(b, "\\\\", 2) != 0)
				return BUF_E_TOO_LARGE;
			i++;
			continue;
		}
		if (buf_append(b, s + i, seq) != 0)
			return BUF_E_TOO_LARGE;
		i += seq;
	}
	return 0;
}

int buf_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void buf_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

size_t utf8_unescape(char *s)
{
	size_t i = 0, o = 0;

	while (s[i]) {
		if (s[i] == '\\' && s[i + 1] == '\\') {
			s[o++] = '\\';
			i += 2;
		} else if (s[i] == '\\' && s[i + 1] == 'x' &&
			   buf_hex_value(s[i + 2]) >= 0 && buf_hex_value(s[i + 3]) >= 0) {
			s[o++] = (char)(buf_hex_value(s[i + 2]) * 16 +
					buf_hex_value(s[i + 3]));
			i += 4;
		} else {
			s[o++] = s[i++];
		}
	}
	s[o] = '\0';
	return o;
}
