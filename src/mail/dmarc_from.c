/*
 * dmarc_from - the author domain from the RFC5322.From field(s).
 *
 * RFC 5322 3.6.2 allows exactly one From field, holding a mailbox-list
 * (RFC 6854 also allows a group).  DMARC evaluates the domain of its
 * addresses (RFC 9989 4.4 and 4.10; RFC 7489 6.6.1).  OpenDMARC before
 * 1.4.0 evaluated only the first of several From fields or addresses,
 * so an attacker could put a domain without a DMARC record first and the
 * forged one second (CVE-2019-16378).  Here every field and every address
 * is parsed, and anything other than "one field, one domain" is a verdict
 * the caller must act on; the default action (dmarc.c) is fail/reject,
 * never none or pass.
 *
 * The parser is a tokenizer plus a small address-list grammar:
 *   - CFWS: whitespace, CRLF folding, nested comments (depth bounded by
 *     COMMENT_DEPTH), quoted-pairs in comments and quoted strings;
 *   - display names (phrases, quoted strings, obs-phrase dots), and an
 *     unquoted '@' in a display name before '<' (common in phishing,
 *     illegal per 3.4 but tolerated: the domain comes from the angle-addr);
 *   - angle-addr with an obsolete route (<@a,@b:user@dom>), groups
 *     (name: a@b, c@d;), empty list elements (obs-mbox-list), obs-local-part
 *     made of words and dots, CFWS between the parts of an addr-spec;
 *   - the domain: dot-atom of LDH/underscore labels or UTF-8 (U-labels,
 *     RFC 6532, converted to A-labels), lowercased, trailing dot dropped,
 *     labels 1..63 octets, the name at most 253; a domain-literal has no
 *     DMARC policy, so it gives DMARC_FROM_NO_DOMAIN.
 * RFC 2047 encoded-words can only appear in display names, which are never
 * decoded here.  Limits: DMARC_FROM_MAX bytes per field (RFC 5322 2.1.1
 * lines are 998 octets; a From with many authors folds onto a few),
 * DMARC_FROM_MAILBOXES mailboxes, TOKENS_MAX tokens.
 */
#include <string.h>

#include "mail/dmarc.h"
#include "mail/idna.h"
#include "util/xalloc.h"

#define TOKENS_MAX 512
#define COMMENT_DEPTH 16

enum tok_kind {
	TK_ATOM,	/* atext and '.', so dot-atoms are one token */
	TK_QSTR,
	TK_LITERAL,	/* [ ... ] */
	TK_SPECIAL,	/* one of < > : ; @ , */
};

struct tok {
	enum tok_kind kind;
	char c;			/* TK_SPECIAL */
	size_t off, len;	/* into the value */
};

/* RFC 5322 3.2.3 atext, plus '.', plus any byte >= 0x80 (RFC 6532). */
static bool is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL && c != '\0';
}

/* Split v into tokens; false on a lexical error or too many tokens. */
static bool lex(const char *v, size_t n, struct tok *t, size_t *nt)
{
	size_t i = 0, k = 0;

	*nt = 0;	/* on failure: the tokens before the error */
	while (i < n) {
		unsigned char c = (unsigned char)v[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
		} else if (c == '(') {
			int depth = 0;

			do {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				else if (v[i] == '(' && ++depth > COMMENT_DEPTH)
					return false;
				else if (v[i] == ')')
					depth--;
				i++;
			} while (depth > 0 && i < n);
			if (depth > 0)
				return false;
		} else {
			if (k == TOKENS_MAX)
				return false;
			t[k].off = i;
			if (c == '"') {
				for (i++; i < n && v[i] != '"'; i++)
					if (v[i] == '\\')
						i++;
				if (i >= n)
					return false;
				i++;
				t[k].kind = TK_QSTR;
			} else if (c == '[') {
				while (i < n && v[i] != ']') {
					if (v[i] == '[' && i != t[k].off)
						return false;
					i += v[i] == '\\' ? 2 : 1;
				}
				if (i >= n)
					return false;
				i++;
				t[k].kind = TK_LITERAL;
			} else if (strchr("<>:;@,", c) != NULL && c != '\0') {
				t[k].kind = TK_SPECIAL;
				t[k].c = (char)c;
				i++;
			} else if (is_atext(c)) {
				while (i < n && is_atext((unsigned char)v[i]))
					i++;
				t[k].kind = TK_ATOM;
			} else {
				return false;	/* ')', ']', '\\', control, NUL */
			}
			t[k].len = i - t[k].off;
			*nt = ++k;
		}
	}
	*nt = k;
	return true;
}

/* Check the UTF-8 of s[0..n): RFC 3629, no overlongs or surrogates. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len, j;
		unsigned cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		    || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += len;
	}
	return true;
}

/*
 * Normalise the domain d[0..n) into out (DMARC_DOMAIN_MAX bytes):
 * lowercase ASCII, drop one trailing dot, check labels; U-labels become
 * A-labels (idna.h), the form DNS, DKIM d= and SPF use.  False if it is
 * not a usable domain.
 */
static bool norm_domain(const char *d, size_t n, char *out)
{
	size_t i, lab = 0;

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || !utf8_ok((const unsigned char *)d, n))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (lab == 0)
				return false;
			lab = 0;
		} else {
			if (c < 0x80 && !((c >= 'a' && c <= 'z') ||
					  (c >= 'A' && c <= 'Z') ||
					  (c >= '0' && c <= '9') ||
					  c == '-' || c == '_'))
				return false;
			if (++lab > 63)
				return false;
		}
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	if (lab == 0)
		return false;
	out[n] = '\0';
	if (idna_has_utf8(d, n))
		return idna_to_ascii(d, n, out, DMARC_DOMAIN_MAX) == 0;
	return true;
}

struct fstate {
	const char *v;
	const struct tok *t;
	size_t nt;
	struct dmarc_from *out;
	bool literal;		/* saw a domain-literal */
	bool empty_addr;	/* saw "<>" */
	char **addrs;		/* dmarc_from_addresses: the addr-specs */
	size_t addr_max, naddr;
};

/* Record one mailbox's domain; false if it is unusable. */
static bool add_domain(struct fstate *s, const struct tok *dom)
{
	struct dmarc_from *o = s->out;
	char d[DMARC_DOMAIN_MAX];
	size_t i;

	if (++o->nmailbox > DMARC_FROM_MAILBOXES)
		return false;
	if (dom->kind == TK_LITERAL) {
		s->literal = true;
		return true;
	}
	if (dom->kind != TK_ATOM || !norm_domain(s->v + dom->off, dom->len, d))
		return false;
	for (i = 0; i < o->ndomain; i++)
		if (strcmp(o->domain[i], d) == 0)
			return true;
	/* Past 8 domains the rest are not kept; "several" is what counts. */
	if (o->ndomain < sizeof(o->domain) / sizeof(o->domain[0])) {
		memcpy(o->domain[o->ndomain], d, strlen(d) + 1);
		o->ndomain++;
	}
	return true;
}

/* dmarc_from_addresses: keep the addr-spec in tokens [a, b), its tokens
 * joined (CFWS between them dropped) and lowercased in ASCII. */
static bool add_addr(struct fstate *s, size_t a, size_t b)
{
	const struct tok *d = &s->t[b - 1];
	size_t i, len = 0, k = 0;
	char *o;

	if (d->kind != TK_ATOM && d->kind != TK_LITERAL)
		return false;
	if (s->naddr++ >= s->addr_max)
		return true;
	for (i = a; i < b; i++)
		len += s->t[i].len;
	o = s->addrs[s->naddr - 1] = xmalloc(len + 1);
	for (i = a; i < b; i++) {
		const char *p = s->v + s->t[i].off;
		size_t j;

		for (j = 0; j < s->t[i].len; j++)
			o[k++] = (char)(p[j] >= 'A' && p[j] <= 'Z' ?
					p[j] + 32 : p[j]);
	}
	o[k] = '\0';
	return true;
}

/* Is token i the special c? */
static bool is_sp(const struct fstate *s, size_t i, char c)
{
	return i < s->nt && s->t[i].kind == TK_SPECIAL && s->t[i].c == c;
}

/*
 * Parse an addr-spec in tokens [a, b): local-part words, '@', domain.
 * False on a syntax error.
 */
static bool addr_spec(struct fstate *s, size_t a, size_t b)
{
	size_t i;

	if (b - a < 3 || !is_sp(s, b - 2, '@'))
		return false;
	for (i = a; i < b - 2; i++)
		if (s->t[i].kind != TK_ATOM && s->t[i].kind != TK_QSTR)
			return false;
	if (s->addrs)
		return add_addr(s, a, b);
	return add_domain(s, &s->t[b - 1]);
}

/*
 * One mailbox in tokens [a, b): name-addr (phrase '<' [route ':'] addr
 * '>') or addr-spec.  An empty range is an obs-mbox-list null element.
 */
static bool mailbox(struct fstate *s, size_t a, size_t b)
{
	size_t i, lt = b, gt, st;

	if (a == b)
		return true;
	for (i = a; i < b; i++)
		if (is_sp(s, i, '<')) {
			lt = i;
			break;
		}
	if (lt == b)
		return addr_spec(s, a, b);
	/* Display name: words, dots; '@' tolerated (see header). */
	for (i = a; i < lt; i++)
		if (s->t[i].kind == TK_LITERAL ||
		    (s->t[i].kind == TK_SPECIAL && s->t[i].c != '@'))
			return false;
	gt = b - 1;
	if (!is_sp(s, gt, '>') || gt <= lt)
		return false;
	if (gt == lt + 1) {
		s->empty_addr = true;	/* "<>" */
		return true;
	}
	/* obs-route: "@a,@b:" before the addr-spec. */
	st = lt + 1;
	for (i = lt + 1; i < gt; i++)
		if (is_sp(s, i, ':'))
			st = i + 1;
	if (st != lt + 1 && !is_sp(s, lt + 1, '@'))
		return false;
	for (i = st; i < gt; i++)
		if (s->t[i].kind == TK_SPECIAL && s->t[i].c != '@')
			return false;
	return addr_spec(s, st, gt);
}

/* A comma-separated mailbox list in tokens [a, b). */
static bool mailbox_list(struct fstate *s, size_t a, size_t b)
{
	size_t i, start = a;
	bool in_angle = false;

	for (i = a; i <= b; i++) {
		if (i < b && is_sp(s, i, '<'))
			in_angle = true;
		else if (i < b && is_sp(s, i, '>'))
			in_angle = false;
		/* A ',' inside <...> belongs to an obs-route. */
		if (i == b || (is_sp(s, i, ',') && !in_angle)) {
			if (!mailbox(s, start, i))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* The whole field: address-list with groups (RFC 6854). */
static bool address_list(struct fstate *s)
{
	size_t i = 0, start = 0, j;
	bool in_angle = false;

	while (i <= s->nt) {
		if (i < s->nt && is_sp(s, i, '<'))
			in_angle = true;
		else if (i < s->nt && is_sp(s, i, '>'))
			in_angle = false;
		if (i < s->nt && !in_angle && is_sp(s, i, ':')) {
			/* A group: display-name ':' [mailbox-list] ';' */
			for (j = start; j < i; j++)
				if (s->t[j].kind == TK_SPECIAL ||
				    s->t[j].kind == TK_LITERAL)
					return false;
			if (j == start)
				return false;
			for (j = i + 1; j < s->nt && !is_sp(s, j, ';'); j++)
				if (is_sp(s, j, ':'))
					break;
			if (!is_sp(s, j, ';') || !mailbox_list(s, i + 1, j))
				return false;
			i = j + 1;
			if (i < s->nt && !is_sp(s, i, ','))
				return false;
			start = ++i;
			continue;
		}
		if (i == s->nt || (!in_angle && is_sp(s, i, ','))) {
			if (!mailbox(s, start, i))
				return false;
			start = i + 1;
		}
		i++;
	}
	return true;
}

enum dmarc_from_verdict dmarc_from_parse(const char *const *values,
					 const size_t *lens, size_t n,
					 struct dmarc_from *out)
{
	struct tok t[TOKENS_MAX];
	struct fstate s;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return out->verdict = DMARC_FROM_ABSENT;
	/* Parse every field even when there are several, so the domains
	 * are there for the log and for a per-domain policy. */
	for (size_t f = 0; f < n; f++) {
		memset(&s, 0, sizeof(s));
		s.v = values[f];
		s.t = t;
		s.out = out;
		if (lens[f] > DMARC_FROM_MAX || memchr(values[f], '\0', lens[f]) ||
		    !lex(values[f], lens[f], t, &s.nt) || !address_list(&s))
			return out->verdict = DMARC_FROM_UNPARSEABLE;
		if (n == 1 && out->ndomain == 0)
			return out->verdict = DMARC_FROM_NO_DOMAIN;
		if (n == 1 && (s.literal || s.empty_addr))
			/* A literal or "<>" next to a real domain. */
			return out->verdict = out->ndomain > 1 ?
				DMARC_FROM_MULTIPLE_DOMAINS :
				DMARC_FROM_NO_DOMAIN;
	}
	if (n > 1)
		return out->verdict = DMARC_FROM_MULTIPLE_FIELDS;
	if (out->ndomain > 1)
		return out->verdict = DMARC_FROM_MULTIPLE_DOMAINS;
	return out->verdict = DMARC_FROM_OK;
}

const char *dmarc_from_verdict_name(enum dmarc_from_verdict v)
{
	static const char *const names[DMARC_FROM__COUNT] = {
		"ok", "absent", "multiple_fields", "multiple_domains",
		"no_domain", "unparseable",
	};

	return (unsigned)v < DMARC_FROM__COUNT ? names[v] : "?";
}

size_t dmarc_from_addresses(const char *value, size_t n, char **out,
			    size_t max)
{
	struct tok t[TOKENS_MAX];
	struct dmarc_from f;
	struct fstate s = { .v = value, .t = t, .out = &f, .addrs = out,
			    .addr_max = max };

	memset(&f, 0, sizeof(f));
	if (!lex(value, n, t, &s.nt)) {
		/* Too many tokens or a lexical error: keep the whole list
		 * elements before it (up to the last ',' outside <>). */
		size_t i, cut = 0;
		bool in_angle = false;

		for (i = 0; i < s.nt; i++) {
			if (is_sp(&s, i, '<'))
				in_angle = true;
			else if (is_sp(&s, i, '>'))
				in_angle = false;
			else if (!in_angle && is_sp(&s, i, ','))
				cut = i;
		}
		s.nt = cut;
	}
	/* A syntax error ends the list; the addresses before it stay. */
	address_list(&s);
	return s.naddr;
}
