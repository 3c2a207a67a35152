/*
 * dkim_sig - the DKIM-Signature header field (RFC 6376 3.5, 6.1.1).
 *
 * Everything checkable without the key is checked here, so that the
 * verifier asks DNS only for signatures that could pass:
 *   v=1 (required; any other value is not a signature we understand),
 *   a= rsa-sha256 or ed25519-sha256; rsa-sha1 is refused (RFC 8301 3.1),
 *   b=, bh= base64 with FWS, at most DKIM_MAX_B / DKIM_MAX_BH bytes,
 *   c= simple|relaxed[/simple|relaxed], default simple/simple,
 *   d=, s= domain-name syntax (ASCII LDH plus "_", labels <= 63),
 *   h= colon list, at most DKIM_MAX_HNAMES names, must hold From (5.4),
 *   i= dkim-quoted-printable, must be d= or a subdomain of it (3.5),
 *   l=, t=, x= 1*76DIGIT (saturating at 2^64-1), x >= t,
 *   q= must offer dns/txt, z= is ignored, unknown tags are ignored.
 * Duplicate tags are an error (3.2).  The clock checks (x= expired, t= in
 * the future) are separate, in dkim_sig_check_time(), because they need now.
 */
#include <string.h>
#include <strings.h>

#include "mail/dkim.h"

/* True if s is a dot-separated domain name we accept in d= or s=. */
static bool valid_domain(struct span s)
{
	size_t i, label = 0;

	if (s.n == 0 || s.n > 253)
		return false;
	for (i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* 1*76DIGIT into *out, saturating; false if not digits. */
static bool parse_num(struct span s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s.n == 0 || s.n > 76)
		return false;
	for (i = 0; i < s.n; i++) {
		unsigned d;

		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		d = (unsigned)(s.p[i] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*out = v;
	return true;
}

/* Hex digit value or -1. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode dkim-quoted-printable (FWS dropped) into out; false if broken. */
static bool qp_decode(struct span s, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			int hi, lo;

			if (i + 2 >= s.n)
				return false;
			hi = hexval(s.p[i + 1]);
			lo = hexval(s.p[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0' || o + 1 >= cap)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

/* True if dom (n bytes) is d or a subdomain of d, ignoring case. */
static bool within(const char *dom, size_t n, struct span d)
{
	if (n == d.n)
		return strncasecmp(dom, d.p, n) == 0;
	return n > d.n && dom[n - d.n - 1] == '.' &&
	       strncasecmp(dom + n - d.n, d.p, d.n) == 0;
}

/* Split h= into sig->hnames; DKIM_W_* on error. */
static int parse_h(struct dkim_sig *sig, struct span v)
{
	size_t pos = 0, i;
	bool from = false;

	sig->nh = 0;
	while (pos <= v.n) {
		const char *colon = memchr(v.p + pos, ':', v.n - pos);
		size_t s = pos, e = colon ? (size_t)(colon - v.p) : v.n;

		while (s < e && strchr(" \t\r\n", v.p[s]))
			s++;
		while (e > s && strchr(" \t\r\n", v.p[e - 1]))
			e--;
		if (s == e)
			return DKIM_W_SYNTAX;
		for (i = s; i < e; i++)
			if (v.p[i] < 0x21 || v.p[i] > 0x7e)
				return DKIM_W_SYNTAX;
		if (sig->nh == DKIM_MAX_HNAMES)
			return DKIM_W_SYNTAX;
		sig->hnames[sig->nh].p = v.p + s;
		sig->hnames[sig->nh].n = e - s;
		if (span_caseeq(sig->hnames[sig->nh], "from"))
			from = true;
		sig->nh++;
		if (colon == NULL)
			break;
		pos = (size_t)(colon - v.p) + 1;
	}
	return from ? 0 : DKIM_W_NO_FROM;
}

/* c= into sig; DKIM_W_CANON if unknown. */
static int parse_c(struct dkim_sig *sig, struct span v)
{
	const char *slash = memchr(v.p, '/', v.n);
	struct span h = v, b = {"simple", 6};

	if (slash) {
		h.n = (size_t)(slash - v.p);
		b.p = slash + 1;
		b.n = v.n - h.n - 1;
	}
	if (span_eq(h, "simple"))
		sig->hcanon = DKIM_C_SIMPLE;
	else if (span_eq(h, "relaxed"))
		sig->hcanon = DKIM_C_RELAXED;
	else
		return DKIM_W_CANON;
	if (span_eq(b, "simple"))
		sig->bcanon = DKIM_C_SIMPLE;
	else if (span_eq(b, "relaxed"))
		sig->bcanon = DKIM_C_RELAXED;
	else
		return DKIM_W_CANON;
	return 0;
}

/*
 * The tag for one-letter name c, or for "bh" when c is 0; NULL if absent.
 * One pass over the tags serves every name: dkim_tags_parse refused
 * duplicates, so the first match is the only one.
 */
static void find_all(const struct dkim_tag *tags, size_t n,
		     const struct dkim_tag *by[128], const struct dkim_tag **bh)
{
	size_t i;

	memset(by, 0, 128 * sizeof(by[0]));
	*bh = NULL;
	for (i = 0; i < n; i++) {
		const struct dkim_tag *g = &tags[i];
		unsigned char c = (unsigned char)g->name.p[0];

		if (g->name.n == 1 && c < 128)
			by[c] = g;
		else if (g->name.n == 2 && c == 'b' && g->name.p[1] == 'h')
			*bh = g;
	}
}

int dkim_sig_parse(struct dkim_sig *sig, const char *p, size_t n)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	const struct dkim_tag *by[128];
	const struct dkim_tag *v, *a, *b, *bh, *c, *d, *h, *i, *l, *q, *s, *t,
		*x;
	size_t count, at;
	long len;
	int r;

	memset(sig, 0, sizeof(*sig));
	if (n > DKIM_MAX_SIG_LEN)
		return DKIM_W_TOO_LONG;
	r = dkim_tags_parse(p, n, tags, DKIM_MAX_TAGS, &count);
	if (r != 0)
		return r;
	find_all(tags, count, by, &bh);
	v = by['v'];
	a = by['a'];
	b = by['b'];
	c = by['c'];
	d = by['d'];
	h = by['h'];
	i = by['i'];
	l = by['l'];
	q = by['q'];
	s = by['s'];
	t = by['t'];
	x = by['x'];
	if (!v || !a || !b || !bh || !d || !h || !s)
		return DKIM_W_MISSING_TAG;
	if (!span_eq(v->value, "1"))
		return DKIM_W_VERSION;
	sig->a = a->value;
	if (span_caseeq(a->value, "rsa-sha256"))
		sig->alg = DKIM_A_RSA_SHA256;
	else if (span_caseeq(a->value, "ed25519-sha256"))
		sig->alg = DKIM_A_ED25519_SHA256;
	else if (span_caseeq(a->value, "rsa-sha1"))
		return DKIM_W_ALG_SHA1;
	else
		return DKIM_W_ALG;
	sig->hcanon = sig->bcanon = DKIM_C_SIMPLE;
	if (c && (r = parse_c(sig, c->value)) != 0)
		return r;
	if (q && !dkim_list_has(q->value, "dns/txt"))
		return DKIM_W_QUERY;
	sig->d = d->value;
	sig->s = s->value;
	if (!valid_domain(sig->d) || !valid_domain(sig->s))
		return DKIM_W_DOMAIN;
	if ((r = parse_h(sig, h->value)) != 0)
		return r;
	len = dkim_base64_decode(b->value.p, b->value.n, sig->b, DKIM_MAX_B);
	if (len <= 0)
		return DKIM_W_BASE64;
	sig->blen = (size_t)len;
	sig->b_text = b->value;
	sig->b_start = b->vstart;
	sig->b_end = b->vend;
	len = dkim_base64_decode(bh->value.p, bh->value.n, sig->bh,
				 DKIM_MAX_BH);
	if (len <= 0)
		return DKIM_W_BASE64;
	sig->bhlen = (size_t)len;
	if (i) {
		const char *atp;

		if (!qp_decode(i->value, sig->auid, sizeof(sig->auid)))
			return DKIM_W_BAD_I;
		atp = strrchr(sig->auid, '@');
		if (atp == NULL)
			return DKIM_W_BAD_I;
		at = (size_t)(atp - sig->auid) + 1;
		if (!within(sig->auid + at, strlen(sig->auid + at), sig->d))
			return DKIM_W_BAD_I;
	} else {
		sig->auid[0] = '@';
		memcpy(sig->auid + 1, sig->d.p, sig->d.n);
		sig->auid[sig->d.n + 1] = '\0';
	}
	if (l) {
		if (!parse_num(l->value, &sig->l))
			return DKIM_W_BAD_L;
		sig->has_l = true;
	}
	if (t) {
		if (!parse_num(t->value, &sig->t))
			return DKIM_W_BAD_TIME;
		sig->has_t = true;
	}
	if (x) {
		if (!parse_num(x->value, &sig->x))
			return DKIM_W_BAD_TIME;
		sig->has_x = true;
		if (sig->has_t && sig->x < sig->t)
			return DKIM_W_BAD_TIME;
	}
	return 0;
}

int dkim_sig_check_time(const struct dkim_sig *sig, uint64_t now,
			uint64_t skew)
{
	if (sig->has_x && sig->x < now)
		return DKIM_W_EXPIRED;
	if (sig->has_t && sig->t > now && sig->t - now > skew)
		return DKIM_W_FUTURE;
	return 0;
}
