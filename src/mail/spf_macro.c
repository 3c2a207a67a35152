/*
 * spf_macro - SPF macro expansion, RFC 7208 section 7.
 *
 *   %{ letter [digits] [r] [delimiters] }, %% %_ %-
 *
 * letters s l o d i p h v everywhere, c r t only in explanation text
 * (7.2); an upper-case letter URL-escapes the result (7.3, RFC 3986
 * unreserved characters kept).  The digit transformer must be non-zero;
 * values above 128 act as 128 (a name has at most 127 labels).  Literal
 * characters are the visible ASCII range, plus space in explanations:
 * anything else (control bytes, 8-bit) is a syntax error.  Output goes to a
 * bounded struct buf; the caller caps its size.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/spf-internal.h"

/* Split points the RFC allows as delimiters (7.1). */
static const char spf_delims[] = ".-+,/_=";

/* Largest useful digit transformer (labels in a name, rounded up). */
#define MACRO_MAX_PARTS 128

/* Parsed %{...}: letter, digits (0 none), reverse flag, delimiter set. */
struct macro_tok {
	char letter;
	unsigned digits;
	bool reverse;
	char delims[sizeof(spf_delims)];
};

/* Is c a macro letter, given whether c/r/t are allowed? */
static bool macro_letter_ok(char c, bool crt)
{
	switch (c | 0x20) {
	case 's': case 'l': case 'o': case 'd': case 'i': case 'p':
	case 'h': case 'v':
		return true;
	case 'c': case 'r': case 't':
		return crt;
	default:
		return false;
	}
}

/*
 * Parse the "{...}" after a '%' at p[*i] (pointing at '{').  Returns 0 and
 * advances *i past '}', or -1.
 */
static int macro_parse(const char *p, size_t n, size_t *i, bool crt,
		       struct macro_tok *t)
{
	size_t j = *i + 1, nd = 0;
	unsigned v = 0;

	memset(t, 0, sizeof(*t));
	if (j >= n || !macro_letter_ok(p[j], crt))
		return -1;
	t->letter = p[j++];
	while (j < n && p[j] >= '0' && p[j] <= '9') {
		if (v < 1000)
			v = v * 10 + (unsigned)(p[j] - '0');
		j++;
		nd++;
	}
	if (nd && v == 0)
		return -1;	/* 7.1: the digit must be non-zero */
	t->digits = v > MACRO_MAX_PARTS ? MACRO_MAX_PARTS : v;
	if (j < n && (p[j] == 'r' || p[j] == 'R')) {
		t->reverse = true;
		j++;
	}
	while (j < n && p[j] != '}') {
		if (!strchr(spf_delims, p[j]))
			return -1;
		if (!strchr(t->delims, p[j]))
			t->delims[strlen(t->delims)] = p[j];
		j++;
	}
	if (j >= n)
		return -1;
	*i = j + 1;
	return 0;
}

int spf_macro_check(const char *p, size_t n, bool exp, bool crt,
		    bool *end_macro)
{
	struct macro_tok t;
	bool last = false;
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)p[i];

		if (c != '%') {
			if (c < 0x20 || c > 0x7e || (c == ' ' && !exp))
				return -1;
			last = false;
			i++;
			continue;
		}
		if (i + 1 >= n)
			return -1;
		if (p[i + 1] == '%' || p[i + 1] == '_' || p[i + 1] == '-') {
			i += 2;
		} else if (p[i + 1] == '{') {
			i++;
			if (macro_parse(p, n, &i, crt, &t) < 0)
				return -1;
		} else {
			return -1;
		}
		last = true;
	}
	if (end_macro)
		*end_macro = last;
	return 0;
}

bool spf_macro_uses_p(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 2 < n; i++) {
		if (p[i] != '%')
			continue;
		if (p[i + 1] == '{' && (p[i + 2] == 'p' || p[i + 2] == 'P'))
			return true;
		i++;	/* skip the escaped character of %% %_ %- */
	}
	return false;
}

/* toplabel (RFC 7208 7.1): alphanumerics with a letter, or with inner '-'. */
static bool toplabel_ok(const char *p, size_t n)
{
	bool alpha = false, dash = false;
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			alpha = true;
		else if (c == '-')
			dash = true;
		else if (!(c >= '0' && c <= '9'))
			return false;
	}
	if (dash)
		return p[0] != '-' && p[n - 1] != '-';
	return alpha;
}

bool spf_domain_spec_ok(const char *p, size_t n)
{
	bool end_macro;
	size_t i;

	if (n == 0 || spf_macro_check(p, n, false, false, &end_macro) < 0)
		return false;
	if (end_macro)
		return true;
	/* domain-end = "." toplabel [ "." ] */
	if (p[n - 1] == '.')
		n--;
	for (i = n; i > 0 && p[i - 1] != '.'; i--)
		;
	if (i == 0)
		return false;
	return toplabel_ok(p + i, n - i);
}

/* Append v URL-escaped (RFC 3986 2.3 unreserved characters kept). */
static int macro_url_escape(struct buf *out, const char *v, size_t n)
{
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			r = buf_append(out, &v[i], 1);
		else
			r = buf_printf(out, "%%%02X", c);
	}
	return r;
}

/* The raw value of a macro letter into tmp (size at least 80). */
static const char *macro_value(const struct spf_macro_ctx *c, char letter,
			       char *tmp, size_t tmpsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	switch (letter | 0x20) {
	case 's': return c->sender;
	case 'l': return c->local;
	case 'o': return c->odomain;
	case 'd': return c->domain;
	case 'h': return c->helo;
	case 'r': return c->recv ? c->recv : "unknown";
	case 'p': return c->ptr ? c->ptr : "unknown";
	case 'v': return c->v4 ? "in-addr" : "ip6";
	case 't':
		snprintf(tmp, tmpsz, "%lld", c->now);
		return tmp;
	case 'c':
		inet_ntop(c->v4 ? AF_INET : AF_INET6, c->ip, tmp,
			  (socklen_t)tmpsz);
		return tmp;
	case 'i':
		if (c->v4) {
			snprintf(tmp, tmpsz, "%u.%u.%u.%u", c->ip[0],
				 c->ip[1], c->ip[2], c->ip[3]);
			return tmp;
		}
		/* 7.3: IPv6 as dot-separated nibbles */
		for (i = 0; i < 16; i++) {
			tmp[o++] = hex[c->ip[i] >> 4];
			tmp[o++] = '.';
			tmp[o++] = hex[c->ip[i] & 15];
			tmp[o++] = i == 15 ? '\0' : '.';
		}
		return tmp;
	}
	return "";
}

/* Expand one parsed %{...} token. */
static int macro_one(const struct spf_macro_ctx *c, const struct macro_tok *t,
		     struct buf *out)
{
	const char *parts[MACRO_MAX_PARTS * 2];
	size_t lens[MACRO_MAX_PARTS * 2];
	const char *delims = t->delims[0] ? t->delims : ".";
	char tmp[96];
	const char *v = macro_value(c, t->letter, tmp, sizeof(tmp));
	size_t np = 0, i, first, start = 0, vn = strlen(v);
	struct buf joined;
	int r = 0;

	if (!t->digits && !t->reverse && !t->delims[0]) {
		if (t->letter >= 'A' && t->letter <= 'Z')
			return macro_url_escape(out, v, vn);
		return buf_append(out, v, vn);
	}
	/*
	 * Split.  With more parts than we keep, only those the transformer
	 * can select matter: the leftmost when reversing, else the rightmost.
	 */
	for (i = 0; i <= vn; i++) {
		if (i < vn && !strchr(delims, v[i]))
			continue;
		if (np == MACRO_MAX_PARTS * 2 && t->reverse)
			break;
		if (np == MACRO_MAX_PARTS * 2) {
			memmove(parts, parts + 1, (np - 1) * sizeof(*parts));
			memmove(lens, lens + 1, (np - 1) * sizeof(*lens));
			np--;
		}
		parts[np] = v + start;
		lens[np++] = i - start;
		start = i + 1;
	}
	if (t->reverse) {
		for (i = 0; i < np / 2; i++) {
			const char *tp = parts[i];
			size_t tl = lens[i];

			parts[i] = parts[np - 1 - i];
			lens[i] = lens[np - 1 - i];
			parts[np - 1 - i] = tp;
			lens[np - 1 - i] = tl;
		}
	}
	first = t->digits && t->digits < np ? np - t->digits : 0;
	buf_init(&joined, out->max);
	for (i = first; i < np && r == 0; i++) {
		if (i > first)
			r = buf_append(&joined, ".", 1);
		if (r == 0)
			r = buf_append(&joined, parts[i], lens[i]);
	}
	if (r == 0) {
		if (t->letter >= 'A' && t->letter <= 'Z')
			r = macro_url_escape(out, joined.p ? joined.p : "",
					     joined.len);
		else
			r = buf_append(out, joined.p ? joined.p : "",
				       joined.len);
	}
	buf_deinit(&joined);
	return r;
}

int spf_macro_expand(const struct spf_macro_ctx *c, const char *p, size_t n,
		     bool exp, struct buf *out)
{
	struct macro_tok t;
	size_t i = 0;
	int r;

	if (spf_macro_check(p, n, exp, exp, NULL) < 0)
		return -1;
	while (i < n) {
		if (p[i] != '%') {
			size_t j = i;

			while (j < n && p[j] != '%')
				j++;
			if ((r = buf_append(out, p + i, j - i)) != 0)
				return r;
			i = j;
			continue;
		}
		switch (p[i + 1]) {
		case '%':
			r = buf_append(out, "%", 1);
			i += 2;
			break;
		case '_':
			r = buf_append(out, " ", 1);
			i += 2;
			break;
		case '-':
			r = buf_append(out, "%20", 3);
			i += 2;
			break;
		default:
			i++;
			if (macro_parse(p, n, &i, exp, &t) < 0)
				return -1;
			r = macro_one(c, &t, out);
			break;
		}
		if (r != 0)
			return r;
	}
	return 0;
}
