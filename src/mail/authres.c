/*
 * authres - build and read Authentication-Results values (RFC 8601 2.2,
 * 5; RFC 8617 4.1.1 for the ARC form).  See authres.h for the leniency and
 * the limits.
 *
 * The reader is a small scanner: skip CFWS (comments nest), read a
 * "value" (RFC 2045 token or quoted-string), expect '=' or ';'.  The
 * resinfo grammar is read as "name[/version]=value" items separated by
 * CFWS, in groups separated by ';', which covers methodspec, reasonspec
 * and propspec alike; a stray character is a syntax error.  The builder
 * never writes anything its own reader would reject.
 */
#include <string.h>
#include <strings.h>

#include "mail/authres.h"

#define COMMENT_DEPTH 16

struct scan {
	const char *p;
	size_t n, i;
	bool bad;		/* an unclosed comment was met: sticky */
};

/* RFC 2045 5.1 tspecials, space and controls end a token. */
static bool is_tchar(unsigned char c)
{
	return c > 0x20 && c != 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Lenient value character: token plus '@', '/', ':', '[', ']', '?'. */
static bool is_vchar(unsigned char c)
{
	return c > 0x20 && c != 0x7f && strchr("();\"=", c) == NULL;
}

/* Skip whitespace and comments; false on an unclosed comment. */
static bool cfws(struct scan *s)
{
	while (s->i < s->n) {
		char c = s->p[s->i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			s->i++;
		} else if (c == '(') {
			int depth = 0;

			do {
				if (s->p[s->i] == '\\' && s->i + 1 < s->n)
					s->i++;
				else if (s->p[s->i] == '(' &&
					 ++depth > COMMENT_DEPTH) {
					s->bad = true;
					return false;
				}
				else if (s->p[s->i] == ')')
					depth--;
				s->i++;
			} while (depth > 0 && s->i < s->n);
			if (depth > 0) {
				s->bad = true;
				return false;
			}
		} else {
			break;
		}
	}
	return true;
}

/* Is the next character c (after CFWS)?  Consumes it if so. */
static bool accept(struct scan *s, char c)
{
	if (!cfws(s) || s->i >= s->n || s->p[s->i] != c)
		return false;
	s->i++;
	return true;
}

/*
 * Read a value: quoted-string or a run of chars ok() accepts.  The
 * unquoted text goes to out (size outsz, cut) if out is not NULL.
 * Returns false if there is none (an empty run is allowed if empty_ok).
 */
static bool value(struct scan *s, bool (*ok)(unsigned char), bool empty_ok,
		  char *out, size_t outsz)
{
	size_t k = 0, start;

	if (!cfws(s))
		return false;
	if (s->i < s->n && s->p[s->i] == '"') {
		for (s->i++; s->i < s->n && s->p[s->i] != '"'; s->i++) {
			if (s->p[s->i] == '\\' && s->i + 1 < s->n)
				s->i++;
			if (out && k + 1 < outsz)
				out[k++] = s->p[s->i];
		}
		if (s->i >= s->n)
			return false;
		s->i++;
		if (out)
			out[k] = '\0';
		return true;
	}
	start = s->i;
	while (s->i < s->n && ok((unsigned char)s->p[s->i]))
		s->i++;
	if (out) {
		k = s->i - start < outsz ? s->i - start : outsz - 1;
		memcpy(out, s->p + start, k);
		out[k] = '\0';
	}
	return empty_ok || s->i > start;
}

/* One resinfo: items "name[/ver]=value" until ';' or the end. */
static bool resinfo(struct scan *s)
{
	bool first = true;

	for (;;) {
		if (!cfws(s))
			return false;
		if (s->i == s->n || s->p[s->i] == ';')
			return !first;
		if (!value(s, is_tchar, false, NULL, 0))
			return false;
		/* ptype.property: '.' is a tchar, so it is in the name. */
		if (accept(s, '/') && !value(s, is_tchar, false, NULL, 0))
			return false;
		if (!accept(s, '='))
			return false;
		if (!value(s, is_vchar, true, NULL, 0))
			return false;
		first = false;
	}
}

/* Hex digit value or -1. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Decode a value made of RFC 2047 encoded-words into out (size outsz).
 * Returns the length, or -1 if v is not entirely encoded-words.
 */
static long decode_2047(const char *v, size_t n, char *out, size_t outsz)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i = 0, k = 0;

	for (;;) {
		const char *q1, *q2, *end;
		char enc;

		while (i < n && strchr(" \t\r\n", v[i]) && v[i] != '\0')
			i++;
		if (i == n)
			return k > 0 ? (long)k : -1;
		if (n - i < 8 || v[i] != '=' || v[i + 1] != '?')
			return -1;
		q1 = memchr(v + i + 2, '?', n - i - 2);
		if (q1 == NULL || (size_t)(q1 - v) + 3 >= n || q1[2] != '?')
			return -1;
		enc = (char)(q1[1] | 0x20);
		q2 = q1 + 3;
		end = q2;
		while ((size_t)(end - v) + 1 < n && !(end[0] == '?' && end[1] == '='))
			end++;
		if ((size_t)(end - v) + 1 >= n)
			return -1;
		if (enc == 'b') {
			unsigned acc = 0, bits = 0;
			const char *c;

			for (c = q2; c < end && *c != '='; c++) {
				const char *pos = strchr(b64, *c);

				if (pos == NULL || *c == '\0')
					return -1;
				acc = acc << 6 | (unsigned)(pos - b64);
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					if (k + 1 >= outsz)
						return -1;
					out[k++] = (char)(acc >> bits & 0xff);
				}
			}
		} else if (enc == 'q') {
			const char *c;

			for (c = q2; c < end; c++) {
				char ch = *c == '_' ? ' ' : *c;

				if (*c == '=') {
					if (end - c < 3 || hexval(c[1]) < 0 ||
					    hexval(c[2]) < 0)
						return -1;
					ch = (char)(hexval(c[1]) * 16 +
						    hexval(c[2]));
					c += 2;
				}
				if (k + 1 >= outsz)
					return -1;
				out[k++] = ch;
			}
		} else {
			return -1;
		}
		i = (size_t)(end - v) + 2;
	}
}

/* The parser proper on a plain (not encoded) value. */
static int parse_plain(const char *v, size_t n, bool arc,
		       struct authres_info *out)
{
	struct scan s = { v, n, 0, false };
	size_t save;

	if (memchr(v, '\0', n))
		return AUTHRES_E_SYNTAX;
	if (arc) {
		char num[8];
		int inst = 0;
		size_t j;

		/* "i=N;" (RFC 8617 4.1.1), then the RFC 8601 syntax. */
		if (!cfws(&s) || s.i >= n || (v[s.i] | 0x20) != 'i')
			return AUTHRES_E_SYNTAX;
		s.i++;
		if (!accept(&s, '=') || !value(&s, is_tchar, false, num,
					       sizeof(num)) ||
		    !accept(&s, ';'))
			return AUTHRES_E_SYNTAX;
		for (j = 0; num[j]; j++) {
			if (num[j] < '0' || num[j] > '9' || j > 2)
				return AUTHRES_E_SYNTAX;
			inst = inst * 10 + num[j] - '0';
		}
		out->arc_instance = inst;
	}
	save = s.i;
	if (!value(&s, is_tchar, false, out->id, sizeof(out->id)))
		return AUTHRES_E_SYNTAX;
	if (accept(&s, '=') || accept(&s, '/')) {
		/* No authserv-id: the field starts with a resinfo. */
		out->id[0] = '\0';
		s.i = save;
		if (!resinfo(&s))
			return AUTHRES_E_SYNTAX;
		out->nresinfo = 1;
	} else {
		out->has_id = true;
		if (!cfws(&s))
			return AUTHRES_E_SYNTAX;
		if (s.i < n && v[s.i] >= '0' && v[s.i] <= '9') {
			int ver = 0;

			while (s.i < n && v[s.i] >= '0' && v[s.i] <= '9') {
				if (ver < 100000)
					ver = ver * 10 + v[s.i] - '0';
				s.i++;
			}
			out->version = ver;
		}
		if (!cfws(&s))
			return AUTHRES_E_SYNTAX;
		if (s.i == n)
			return s.bad ? AUTHRES_E_SYNTAX : 0;	/* "id" alone */
	}
	while (accept(&s, ';')) {
		char word[8];

		save = s.i;
		if (!cfws(&s))
			return AUTHRES_E_SYNTAX;
		if (s.i == n)
			break;		/* a trailing ';' */
		/* no-result: "; none" (RFC 8601 2.2). */
		if (out->nresinfo == 0 &&
		    value(&s, is_tchar, false, word, sizeof(word)) &&
		    strcasecmp(word, "none") == 0 && cfws(&s) &&
		    (s.i == n || v[s.i] == ';'))
			continue;
		s.i = save;
		if (++out->nresinfo > AUTHRES_RESINFO_MAX || !resinfo(&s))
			return AUTHRES_E_SYNTAX;
	}
	if (!cfws(&s) || s.i != n || s.bad)
		return AUTHRES_E_SYNTAX;
	return 0;
}

int authres_parse(const char *v, size_t n, bool arc, struct authres_info *out)
{
	char dec[AUTHRES_MAX];
	long dn;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	out->version = -1;
	out->arc_instance = -1;
	if (n > AUTHRES_MAX)
		return AUTHRES_E_TOO_LARGE;
	while (i < n && strchr(" \t\r\n", v[i]) && v[i] != '\0')
		i++;
	if (n - i > 2 && v[i] == '=' && v[i + 1] == '?') {
		dn = decode_2047(v, n, dec, sizeof(dec));
		if (dn < 0)
			return AUTHRES_E_SYNTAX;
		out->encoded = true;
		return parse_plain(dec, (size_t)dn, arc, out);
	}
	return parse_plain(v, n, arc, out);
}

bool authres_is_ours(const char *v, size_t n, bool arc, const char *our_id)
{
	struct authres_info info;

	if (authres_parse(v, n, arc, &info) != 0 || !info.has_id)
		return false;
	return strcasecmp(info.id, our_id) == 0;
}

/* Is s a non-empty RFC 2045 token? */
static bool is_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

/* [local-part "@"] domain with dot-atom parts: may be written bare. */
static bool is_bare_addr(const char *s)
{
	const char *at = strrchr(s, '@');
	const char *p;

	if (*s == '\0' || (at && (at == s || at[1] == '\0')))
		return false;
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (p == at)
			continue;
		if (c >= 0x80 || (c > 0x20 && c != 0x7f &&
				  strchr("()<>,;:\\\"[]=@ ", c) == NULL))
			continue;
		return false;
	}
	return true;
}

/* Append s as a quoted-string; controls become '?'. */
static int put_quoted(struct buf *b, const char *s)
{
	int rc = buf_puts(b, "\"");
	for (; *s && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			rc |= buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rc |= buf_puts(b, "?");
		else
			rc |= buf_append(b, s, 1);
	}
	return rc | buf_puts(b, "\"");
}

/* Append s bare if it may be, else quoted. */
static int put_value(struct buf *b, const char *s)
{
	if (s == NULL)
		s = "";
	if (is_token(s) || is_bare_addr(s))
		return buf_puts(b, s);
	return put_quoted(b, s);
}

/* Append " (comment)" with parens and backslashes escaped. */
static int put_comment(struct buf *b, const char *s)
{
	int rc = buf_puts(b, " (");

	for (; *s && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '(' || c == ')' || c == '\\')
			rc |= buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rc |= buf_puts(b, "?");
		else
			rc |= buf_append(b, s, 1);
	}
	return rc | buf_puts(b, ")");
}

int authres_format(struct buf *out, const char *authserv_id,
		   const struct authres_result *res, size_t n)
{
	size_t i, j, start = out->len;
	int rc;

	for (i = 0; i < n; i++) {
		if (!is_token(res[i].method) || !is_token(res[i].result))
			return AUTHRES_E_INVALID;
		for (j = 0; j < res[i].nprops; j++)
			if (!is_token(res[i].props[j].ptype) ||
			    !is_token(res[i].props[j].property))
				return AUTHRES_E_INVALID;
	}
	/* authserv-id is a value: a token or a quoted-string, never bare
	 * with '@' (RFC 8601 2.5). */
	if (is_token(authserv_id))
		rc = buf_puts(out, authserv_id);
	else
		rc = put_quoted(out, authserv_id ? authserv_id : "");
	if (n == 0)
		rc |= buf_puts(out, "; none");
	for (i = 0; i < n && rc == 0; i++) {
		const struct authres_result *r = &res[i];

		rc |= buf_printf(out, "; %s=%s", r->method, r->result);
		if (r->comment)
			rc |= put_comment(out, r->comment);
		if (r->reason) {
			rc |= buf_puts(out, " reason=");
			rc |= put_value(out, r->reason);
		}
		for (j = 0; j < r->nprops; j++) {
			rc |= buf_printf(out, " %s.%s=", r->props[j].ptype,
					 r->props[j].property);
			rc |= put_value(out, r->props[j].value);
		}
	}
	if (rc != 0) {
		out->len = start;
		out->p[start] = '\0';
		return BUF_E_TOO_LARGE;
	}
	return 0;
}
