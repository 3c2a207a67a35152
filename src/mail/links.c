/*
 * links - links from HTML and text bodies and their tricks; see links.h.
 */
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/dmarc.h"
#include "mail/idna.h"
#include "mail/links.h"
#include "mail/lookalike.h"
#include "util/xalloc.h"

void links_init(void)
{
	xmlInitParser();
}

struct links *links_new(void)
{
	/* not zeroed: 230 KiB, and links_url writes every entry it adds */
	struct links *lk = xmalloc(sizeof(struct links));

	links_reset(lk);
	return lk;
}

void links_free(struct links *lk)
{
	free(lk);
}

void links_reset(struct links *lk)
{
	/* the counts only: entries past n are never read */
	lk->n = 0;
	lk->dropped = 0;
	lk->flags = 0;
	lk->truncated = false;
	lk->text_len = 0;
	lk->text[0] = '\0';
}

/* ASCII lowercase of c. */
static char lower(char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* Value of hex digit c, or -1. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* True if s[0..n) starts with the lowercase ASCII prefix p, caselessly. */
static bool has_prefix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p), i;

	if (n < k)
		return false;
	for (i = 0; i < k; i++)
		if (lower(s[i]) != p[i])
			return false;
	return true;
}

/* Percent-decodes s[0..n) into out (bounded, NUL-terminated). */
static void pct_decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < outsz; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 +
					  hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

/* True if the part p[0..n) is a WHATWG IPv4 number (dec, 0x hex, octal). */
static bool is_ipv4_number(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	if (n >= 2 && p[0] == '0' && lower(p[1]) == 'x') {
		for (i = 2; i < n; i++)
			if (hexval(p[i]) < 0)
				return false;
		return true;
	}
	for (; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/*
 * True if host is an IP literal as a browser reads it: [IPv6], or a name
 * whose last label is an IPv4 number (then the WHATWG parser treats the
 * whole host as IPv4, in 1 to 4 parts).
 */
static bool is_ip_host(const char *host)
{
	const char *last, *end;
	size_t n = strlen(host);

	if (n == 0)
		return false;
	if (host[0] == '[')
		return true;
	end = host + n;
	if (end[-1] == '.')
		end--;
	last = end;
	while (last > host && last[-1] != '.')
		last--;
	return is_ipv4_number(last, (size_t)(end - last));
}

/*
 * Splits an http(s) URL u[0..n) into its host (lowercase,
 * percent-decoded) and whether it has userinfo; the rest (path and
 * query) starts at *rest.  Returns -1 if it is not an http(s) or
 * scheme-relative URL with a host.
 */
static int split_url(const char *u, size_t n, char *host, size_t hostsz,
		     bool *userinfo, size_t *rest)
{
	size_t i = 0, a, b, at = (size_t)-1, h;
	char raw[LINKS_HOST_MAX];

	while (i < n && (u[i] == ' ' || u[i] == '\t' || u[i] == '\r' ||
			 u[i] == '\n'))
		i++;
	if (has_prefix(u + i, n - i, "https:"))
		i += 6;
	else if (has_prefix(u + i, n - i, "http:"))
		i += 5;
	else if (!has_prefix(u + i, n - i, "//"))
		return -1;
	/* browsers read backslashes as slashes in http(s) URLs */
	while (i < n && (u[i] == '/' || u[i] == '\\'))
		i++;
	a = i;
	while (i < n && u[i] != '/' && u[i] != '\\' && u[i] != '?' &&
	       u[i] != '#' && u[i] != ' ')
		i++;
	b = i;
	for (h = a; h < b; h++)
		if (u[h] == '@')
			at = h;
	*userinfo = at != (size_t)-1;
	if (*userinfo)
		a = at + 1;
	if (a < b && u[a] == '[') {
		for (h = a; h < b && u[h] != ']'; h++)
			;
		b = h < b ? h + 1 : b;
	} else {
		for (h = a; h < b && u[h] != ':'; h++)
			;
		b = h;
	}
	if (b == a || b - a >= sizeof(raw))
		return -1;
	pct_decode(u + a, b - a, raw, sizeof(raw));
	for (h = 0; raw[h] && h + 1 < hostsz; h++)
		host[h] = lower(raw[h]);
	host[h] = '\0';
	*rest = i;
	return host[0] ? 0 : -1;
}

/* True if s[0..n) (already decoded) starts like a URL. */
static bool looks_like_url(const char *s, size_t n)
{
	return has_prefix(s, n, "http://") || has_prefix(s, n, "https://") ||
	       has_prefix(s, n, "//") || has_prefix(s, n, "www.");
}

/* The first bytes of a URL looks_like_url accepts. */
static const bool url_lead[256] = {
	['h'] = true, ['H'] = true, ['w'] = true, ['W'] = true, ['/'] = true,
};

/*
 * Looks for an embedded URL in the path and query u[0..n): a query value
 * or a path segment that decodes to a URL.  Puts its host in target and
 * returns true if found.
 */
static bool find_redirect(const char *u, size_t n, char *target,
			  size_t targetsz)
{
	char dec[LINKS_URL_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		size_t j, rest;
		bool ui;
		char c;

		if (u[i] != '=' && u[i] != '/')
			continue;
		/* a URL decodes to h..., w... or //...: most segments fail
		 * at their first byte, before the segment is decoded */
		c = i + 3 < n && u[i + 1] == '%' && hexval(u[i + 2]) >= 0 &&
		    hexval(u[i + 3]) >= 0 ?
		    (char)(hexval(u[i + 2]) * 16 + hexval(u[i + 3])) :
		    i + 1 < n ? u[i + 1] : '\0';
		if (!url_lead[(unsigned char)c])
			continue;
		for (j = i + 1; j < n && u[j] != '&' && u[j] != '#'; j++)
			;
		pct_decode(u + i + 1, j - i - 1, dec, sizeof(dec));
		if (!looks_like_url(dec, strlen(dec)))
			continue;
		if (has_prefix(dec, strlen(dec), "//") && u[i] == '/')
			continue;	/* "a//b" is an empty segment */
		if (has_prefix(dec, strlen(dec), "www.")) {
			size_t k;

			for (k = 0; dec[k] && dec[k] != '/' && k + 1 < targetsz;
			     k++)
				target[k] = lower(dec[k]);
			target[k] = '\0';
			return true;
		}
		if (split_url(dec, strlen(dec), target, targetsz, &ui,
			      &rest) == 0)
			return true;
	}
	return false;
}

/*
 * The registrable domain of host into out if it ends in a listed public
 * suffix; -1 otherwise (IP literals, single labels, made-up suffixes).
 */
static int host_org(const struct dmarc_psl *psl, const char *host,
		    char *out, size_t outsz)
{
	char a[DMARC_DOMAIN_MAX];
	const char *dot;
	size_t n = strlen(host);

	while (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 0 || idna_to_ascii(host, n, a, sizeof(a)) != 0 ||
	    dmarc_psl_org_domain(psl, a, out, outsz) != 0)
		return -1;
	dot = strchr(out, '.');
	return dot != NULL && dmarc_psl_is_listed_suffix(psl, dot + 1) ? 0
									 : -1;
}

/* True if hosts a and b have the same registrable domain. */
static bool same_org(const struct dmarc_psl *psl, const char *a,
		     const char *b)
{
	char oa[DMARC_DOMAIN_MAX], ob[DMARC_DOMAIN_MAX];

	return host_org(psl, a, oa, sizeof(oa)) == 0 &&
	       host_org(psl, b, ob, sizeof(ob)) == 0 && strcmp(oa, ob) == 0;
}

/* True for the bytes of a host name written in text. */
static bool is_host_byte(char c)
{
	c = lower(c);
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.';
}

/*
 * The host the visible text vis names, into host: the host of a URL
 * written in it, or the whole text if it is one host name (optionally
 * with a path) with a listed public suffix.  A domain-like word inside a
 * sentence ("ASP.NET Reference", "News.com headlines") names no host: in
 * the SpamAssassin ham those are product names, not claims about the link.
 * -1 if none.
 */
static int text_host(const struct dmarc_psl *psl, const char *vis,
		     char *host, size_t hostsz)
{
	char org[DMARC_DOMAIN_MAX];
	size_t n = strlen(vis), i, k, rest;
	bool ui;

	for (i = 0; i < n; i++)
		if (has_prefix(vis + i, n - i, "http://") ||
		    has_prefix(vis + i, n - i, "https://"))
			return split_url(vis + i, n - i, host, hostsz, &ui,
					 &rest);
	/* links_html trims and collapses blanks: one token has none */
	for (i = 0; i < n && is_host_byte(vis[i]); i++)
		;
	if (i == 0 || i >= hostsz || (i < n && vis[i] != '/') ||
	    memchr(vis, ' ', n) != NULL || memchr(vis, '.', i) == NULL)
		return -1;
	for (k = 0; k < i; k++)
		host[k] = lower(vis[k]);
	while (k > 0 && host[k - 1] == '.')
		k--;
	host[k] = '\0';
	return host_org(psl, host, org, sizeof(org));
}

unsigned links_url(const char *url, size_t n, const char *vis,
		   const struct dmarc_psl *psl, const struct lookalike *la,
		   struct links_link *out)
{
	struct lookalike_result lr;
	size_t rest, i, k;
	bool ui;

	memset(out, 0, sizeof(*out));
	/* cut copies (snprintf was a tenth of the link walk) */
	k = n < sizeof(out->href) - 1 ? n : sizeof(out->href) - 1;
	k = strnlen(url, k);
	memcpy(out->href, url, k);
	if (vis != NULL) {
		k = strnlen(vis, sizeof(out->text) - 1);
		memcpy(out->text, vis, k);
	}
	if (split_url(url, n, out->host, sizeof(out->host), &ui, &rest) != 0)
		return 0;
	if (ui)
		out->flags |= LINKS_F_USERINFO;
	if (is_ip_host(out->host))
		out->flags |= LINKS_F_IP_HOST;
	for (i = 0; out->host[i]; i++)
		if ((i == 0 || out->host[i - 1] == '.') &&
		    strncmp(out->host + i, "xn--", 4) == 0)
			out->flags |= LINKS_F_PUNYCODE;
	/* a redirect within one site sends the reader nowhere new */
	if (find_redirect(url + rest, n - rest, out->target,
			  sizeof(out->target)) &&
	    !same_org(psl, out->host, out->target))
		out->flags |= LINKS_F_REDIRECTOR;
	if (la != NULL && !(out->flags & LINKS_F_IP_HOST) &&
	    lookalike_check(la, out->host, NULL, 0, &lr) == LOOKALIKE_MATCH) {
		out->flags |= LINKS_F_LOOKALIKE;
		snprintf(out->matched, sizeof(out->matched), "%s", lr.matched);
	}
	if (vis != NULL &&
	    text_host(psl, vis, out->text_host, sizeof(out->text_host)) == 0 &&
	    strcmp(out->text_host, out->host) != 0) {
		/* same registrable domain is the same site; an IP href with
		 * a named text is always a mismatch */
		if ((out->flags & LINKS_F_IP_HOST) ||
		    !same_org(psl, out->text_host, out->host))
			out->flags |= LINKS_F_TEXT_MISMATCH;
	}
	return out->flags;
}

/* Appends one analysed URL to lk (or counts it as dropped). */
/* Analyses url and keeps it; the look-alike check runs once per host
 * (phishing repeats one host in every link) and not at all without
 * protected domains. */
static void add(struct links *lk, const char *url, size_t n, const char *vis,
		bool html, const struct dmarc_psl *psl,
		const struct lookalike *la)
{
	struct lookalike_result lr;
	struct links_link *l;
	size_t i;

	if (lk->n >= LINKS_MAX) {
		lk->dropped++;
		return;
	}
	l = &lk->link[lk->n];
	links_url(url, n, vis, psl, NULL, l);
	if (l->host[0] == '\0')
		return;		/* mailto:, javascript:, fragments: not kept */
	if (la != NULL && lookalike_count(la) > 0 &&
	    !(l->flags & LINKS_F_IP_HOST)) {
		for (i = 0; i < lk->n; i++)
			if (strcmp(lk->link[i].host, l->host) == 0)
				break;
		if (i < lk->n) {
			l->flags |= lk->link[i].flags & LINKS_F_LOOKALIKE;
			memcpy(l->matched, lk->link[i].matched,
			       sizeof(l->matched));
		} else if (lookalike_check(la, l->host, NULL, 0, &lr) ==
			   LOOKALIKE_MATCH) {
			l->flags |= LINKS_F_LOOKALIKE;
			snprintf(l->matched, sizeof(l->matched), "%s",
				 lr.matched);
		}
	}
	l->from_html = html;
	lk->flags |= l->flags;
	lk->n++;
}

/* The SAX walk's state: the <a> being read. */
struct sax {
	struct links *lk;
	htmlParserCtxtPtr ctxt;
	const struct dmarc_psl *psl;
	const struct lookalike *la;
	size_t budget;			/* elements left (LINKS_NODES_MAX) */
	unsigned hidden;		/* inside script/style */
	bool in_a;
	char *href;			/* of the open <a>, malloc'd */
	char vis[LINKS_VISIBLE_MAX];	/* its text, blanks collapsed */
	size_t vlen;
	const char *html;		/* the span parsed, html[0..n) */
	size_t n;
	size_t base;			/* where the parser's input starts */
	size_t quiet;			/* see quiet_from; -1 not yet known */
	bool stopped;			/* by stop_if_quiet */
};

/* Ends the open <a>: keeps its link. */
static void sax_close_a(struct sax *x)
{
	if (!x->in_a)
		return;
	x->in_a = false;
	while (x->vlen > 0 && x->vis[x->vlen - 1] == ' ')
		x->vis[--x->vlen] = '\0';
	if (x->href)
		add(x->lk, x->href, strlen(x->href), x->vis, true, x->psl,
		    x->la);
	free(x->href);
	x->href = NULL;
}

/* True if the name s equals the lowercase ASCII word w, any case: what
 * strcasecmp said, without a libc call per element (libxml2 hands over
 * element and attribute names already lowercased, so this is usually
 * decided at the first byte). */
static bool name_is(const xmlChar *s, const char *w)
{
	size_t i;

	for (i = 0; w[i]; i++)
		if (lower((char)s[i]) != w[i])
			return false;
	return s[i] == '\0';
}

/* The value of attribute a in atts, or NULL. */
static const char *attr(const xmlChar **atts, const char *a)
{
	size_t i;

	for (i = 0; atts && atts[i]; i += 2)
		if (name_is(atts[i], a))
			return (const char *)atts[i + 1];
	return NULL;
}

/* A <form>: an http(s) action is kept as a FORM link. */
static void sax_form(struct sax *x, const xmlChar **atts)
{
	const char *act = attr(atts, "action");
	size_t n = x->lk->n;

	if (act == NULL)
		return;
	add(x->lk, act, strlen(act), NULL, true, x->psl, x->la);
	if (x->lk->n > n) {
		x->lk->link[n].flags |= LINKS_F_FORM;
		x->lk->flags |= LINKS_F_FORM;
	}
}

/* An <input>: type="password" sets PASSWORD. */
static void sax_input(struct sax *x, const xmlChar **atts)
{
	const char *t = attr(atts, "type");

	if (t != NULL && name_is((const xmlChar *)t, "password"))
		x->lk->flags |= LINKS_F_PASSWORD;
}

/* An element opens: count it, and start an <a href>. */
static void sax_start(void *ctx, const xmlChar *name, const xmlChar **atts)
{
	struct sax *x = ctx;
	size_t i;

	if (x->budget == 0)
		return;
	if (--x->budget == 0) {
		x->lk->truncated = true;
		xmlStopParser(x->ctxt);
		return;
	}
	switch (lower((char)name[0])) {	/* most elements stop here */
	case 's':
		if (name_is(name, "script") || name_is(name, "style"))
			x->hidden++;
		return;
	case 'f':
		if (name_is(name, "form"))
			sax_form(x, atts);
		return;
	case 'i':
		if (name_is(name, "input"))
			sax_input(x, atts);
		return;
	case 'a':
		if (name[1] == '\0')
			break;
		return;
	default:
		return;
	}
	sax_close_a(x);		/* the parser closes it too; be sure */
	x->in_a = true;
	x->vlen = 0;
	x->vis[0] = '\0';
	for (i = 0; atts && atts[i]; i += 2)
		if (name_is(atts[i], "href") && atts[i + 1]) {
			x->href = xstrdup((const char *)atts[i + 1]);
			break;
		}
}

/* An element closes: an </a> keeps the link. */
static void sax_end(void *ctx, const xmlChar *name)
{
	struct sax *x = ctx;

	if (lower((char)name[0]) == 'a' && name[1] == '\0')
		sax_close_a(x);
	else if (lower((char)name[0]) == 's' && x->hidden &&
		 (name_is(name, "script") || name_is(name, "style")))
		x->hidden--;
}

/* The blanks the text walk collapses (ASCII only). */
static const bool text_blank[128] = {
	['\t'] = true, ['\n'] = true, ['\r'] = true, [' '] = true,
};

/* Append ch[0..len) to the document text, blanks collapsed; a cut
 * never splits a UTF-8 sequence.  A run of ASCII non-blanks is copied
 * as far as it fits; what does not fit ends this call (the next text
 * may still fit: a blank or a shorter sequence). */
static void doc_text(struct links *lk, const xmlChar *ch, int len)
{
	size_t o = lk->text_len, lim = sizeof(lk->text) - 1;
	int i = 0, k;

	while (i < len) {
		unsigned char c = ch[i];

		if (c < 0x80 && text_blank[c]) {
			i++;
			if (o == 0 || lk->text[o - 1] == ' ')
				continue;
			if (o >= lim)
				break;
			lk->text[o++] = ' ';
		} else if (c < 0x80) {
			do {
				if (o >= lim)
					goto cut;
				lk->text[o++] = (char)ch[i++];
			} while (i < len && ch[i] < 0x80 && !text_blank[ch[i]]);
		} else {
			/* a whole sequence fits, or nothing more is taken */
			k = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			    (c & 0xf8) == 0xf0 ? 4 : 1;
			if (o + (size_t)k + 1 > sizeof(lk->text) || i + k > len)
				break;
			memcpy(lk->text + o, ch + i, (size_t)k);
			o += (size_t)k;
			i += k;
		}
	}
cut:
	lk->text_len = o;
	lk->text[o] = '\0';
}

static const char *last_word(const char *h, size_t n, const char *w);

/* Where html[0..n) has no "href", "<form" or "<input" left (any case):
 * the end of the last of them, or 0. */
static size_t quiet_from(const char *html, size_t n)
{
	static const char *const words[] = { "href", "<form", "<input" };
	size_t i, q = 0;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		const char *p = last_word(html, n, words[i]);

		if (p != NULL && (size_t)(p - html) + strlen(words[i]) > q)
			q = (size_t)(p - html) + strlen(words[i]);
	}
	return q;
}

/* libxml2 met bytes that are not UTF-8 and reads the rest as Latin-1: its
 * byte counts are no longer positions in the input. */
static bool latin1(xmlParserCtxtPtr ctxt)
{
	xmlParserInputPtr in = ctxt->input;

	return in != NULL && in->buf != NULL && in->buf->encoder != NULL;
}

/*
 * The document text is full and no <a> is open: once the parser is past
 * the last "href", "<form" and "<input", nothing it reads can change lk
 * (a link, a form or a password field needs those bytes, as the parser
 * reads names byte by byte, and the text takes no more), so it stops.
 * Not after libxml2 met bytes that are not UTF-8: it then converts the
 * rest from Latin-1, and its byte count is no longer a position in html.
 */
static void stop_if_quiet(struct sax *x)
{
	xmlParserInputPtr in = x->ctxt->input;
	size_t pos;

	if (in == NULL || in->buf == NULL || latin1(x->ctxt))
		return;
	if (x->quiet == (size_t)-1)
		x->quiet = quiet_from(x->html, x->n);
	pos = in->consumed + (size_t)(in->cur - in->base);
	if (x->base + pos >= x->quiet) {
		x->stopped = true;
		xmlStopParser(x->ctxt);
	}
}

/* Text: to the document text (unless hidden); inside an <a>, to its
 * visible text, blanks collapsed. */
static void sax_text(void *ctx, const xmlChar *ch, int len)
{
	struct sax *x = ctx;
	int i;

	if (!x->hidden)
		doc_text(x->lk, ch, len);
	if (!x->in_a) {
		if (x->lk->text_len + 1 >= sizeof(x->lk->text))
			stop_if_quiet(x);
		return;
	}
	for (i = 0; i < len && x->vlen + 1 < sizeof(x->vis); i++) {
		char c = (char)ch[i];
		bool blank = c == ' ' || c == '\n' || c == '\t' || c == '\r';

		if (blank && (x->vlen == 0 || x->vis[x->vlen - 1] == ' '))
			continue;
		x->vis[x->vlen++] = blank ? ' ' : c;
	}
	x->vis[x->vlen] = '\0';
}

/* The last occurrence of the lower-case ASCII word w in h[0..n), any
 * case, or NULL.  Candidates are found with memrchr on w's first byte in
 * both cases (this runs over every HTML body, twice). */
static const char *last_word(const char *h, size_t n, const char *w)
{
	size_t wn = strlen(w), lim = n >= wn ? n - wn + 1 : 0, j;
	char c0 = w[0], c1 = (char)(c0 >= 'a' && c0 <= 'z' ? c0 - 32 : c0);
	const char *a, *b;

	if (h == NULL || lim == 0)
		return NULL;
	a = memrchr(h, c0, lim);
	b = c1 != c0 ? memrchr(h, c1, lim) : NULL;

	while (a != NULL || b != NULL) {
		const char *p = b == NULL || (a != NULL && a > b) ? a : b;

		for (j = 1; j < wn && lower(p[j]) == w[j]; j++)
			;
		if (j == wn)
			return p;
		/* the next candidate left of p, in p's case */
		if (p == a)
			a = p > h ? memrchr(h, c0, (size_t)(p - h)) : NULL;
		else
			b = p > h ? memrchr(h, c1, (size_t)(p - h)) : NULL;
	}
	return NULL;
}

/*
 * How much of html[0..n) the link walk needs: all of it with a "<form";
 * 0 without any "href";
 * else up to the first "</a" after the last "href" (what follows the
 * last link holds no link), or all of it if that link is never closed.
 */
static size_t link_span(const char *html, size_t n)
{
	const char *last = last_word(html, n, "href"), *p;
	size_t off;

	if (last_word(html, n, "<form") != NULL)
		return n;	/* forms are rare: the whole document */
	if (last == NULL)
		return 0;
	off = (size_t)(last - html);
	for (p = last; (p = memchr(p, '<', n - (size_t)(p - html))) != NULL;
	     p++)
		if ((size_t)(p - html) + 3 <= n && p[1] == '/' &&
		    lower(p[2]) == 'a' && (size_t)(p - html) >= off) {
			size_t e = (size_t)(p - html) + 3;

			/* keep "</a ...>" whole */
			while (e < n && html[e] != '>')
				e++;
			return e < n ? e + 1 : n;
		}
	return n;
}

/* The parse options: no network, no messages, the body is UTF-8. */
#define PARSE_OPTIONS (HTML_PARSE_NONET | HTML_PARSE_NOERROR | \
		       HTML_PARSE_NOWARNING | HTML_PARSE_COMPACT | \
		       HTML_PARSE_IGNORE_ENC)

/* Reads html[0..n) with the pull parser into x, as a new document. */
static void parse_rest(struct sax *x, const htmlSAXHandler *h,
		       const char *html, size_t n)
{
	x->base = (size_t)(html - x->html);
	x->ctxt = htmlCreateMemoryParserCtxt(html, (int)n);
	if (x->ctxt == NULL)
		return;
	/* the context owns a copy of the default handler: ours over it */
	if (x->ctxt->sax != NULL) {
		memcpy(x->ctxt->sax, h, sizeof(*h));
		x->ctxt->userData = x;
		/* else libxml2 2.9 reads a document without a charset
		 * as Latin-1 */
		xmlSwitchEncoding(x->ctxt, XML_CHAR_ENCODING_UTF8);
		htmlCtxtUseOptions(x->ctxt, PARSE_OPTIONS);
		htmlParseDocument(x->ctxt);
	}
	htmlFreeParserCtxt(x->ctxt);
	x->ctxt = NULL;
}

/*
 * libxml2's HTML parser in SAX mode: no tree is built (the DOM and its
 * free were most of the cost), the links are taken as the elements
 * stream by.  The parser still applies HTML's rules (implied and
 * auto-closed elements, entities in attributes and text).
 *
 * The push parser of libxml2 2.9 stops at the first element after the
 * document closes ("</html>", or a stray end tag before any element),
 * where mail often has a footer or everything; the pull parser reopens
 * the body, but costs ~8% more per body, so it reads only that rest.
 */
int links_html(struct links *lk, const char *html, size_t n,
	       const struct dmarc_psl *psl, const struct lookalike *la)
{
	htmlSAXHandler h;
	struct sax x;
	long done;
	bool latin;

	if (n > LINKS_HTML_MAX) {
		n = LINKS_HTML_MAX;
		/* not inside a UTF-8 sequence: a cut one is not UTF-8 */
		while (n > 0 && ((unsigned char)html[n] & 0xC0) == 0x80)
			n--;
		lk->truncated = true;
	}
	if (n == 0)
		return LINKS_E_PARSE;
	/* the parse is the cost: none without a link, nothing past the
	 * last one */
	if ((n = link_span(html, n)) == 0)
		return 0;
	memset(&h, 0, sizeof(h));
	h.startElement = sax_start;
	h.endElement = sax_end;
	h.characters = sax_text;
	h.cdataBlock = sax_text;
	memset(&x, 0, sizeof(x));
	x.lk = lk;
	x.psl = psl;
	x.la = la;
	x.budget = LINKS_NODES_MAX;
	x.html = html;
	x.n = n;
	x.quiet = (size_t)-1;
	x.ctxt = htmlCreatePushParserCtxt(&h, &x, NULL, 0, NULL,
					  XML_CHAR_ENCODING_UTF8);
	if (x.ctxt == NULL)
		return LINKS_E_PARSE;
	/* the MIME parse made the body UTF-8: a <meta charset> in it
	 * must not switch the decoder (IGNORE_ENC) */
	htmlCtxtUseOptions(x.ctxt, PARSE_OPTIONS);
	htmlParseChunk(x.ctxt, html, (int)n, 1);
	done = xmlByteConsumed(x.ctxt);
	/* bytes not UTF-8 (not from mime_parse) made libxml2 read the rest as
	 * Latin-1: done is then no position in html, and a second parse
	 * from it would read links again; what follows the document's end
	 * is left unread instead */
	latin = latin1(x.ctxt);
	htmlFreeParserCtxt(x.ctxt);
	sax_close_a(&x);	/* an <a> left open at the end */
	if (done >= 0 && (size_t)done < n && x.budget > 0 && !x.stopped &&
	    !latin) {
		x.hidden = 0;
		parse_rest(&x, &h, html + done, n - (size_t)done);
		sax_close_a(&x);
	}
	return 0;
}

static bool ends_url(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '<' ||
	       c == '>' || c == '"' || c == '\'' || c == '\0' ||
	       (unsigned char)c >= 0x80;
}

/* The bytes a URL of plain text starts with (h, w, either case). */
static const bool url_first[256] = {
	['h'] = true, ['H'] = true, ['w'] = true, ['W'] = true,
};

int links_text(struct links *lk, const char *text, size_t n,
	       const struct dmarc_psl *psl, const struct lookalike *la)
{
	char url[LINKS_URL_MAX];
	size_t i;

	if (n > LINKS_TEXT_SCAN_MAX) {
		n = LINKS_TEXT_SCAN_MAX;
		lk->truncated = true;
	}
	for (i = 0; i < n; i++) {
		size_t j, k = 0;
		bool www;

		/* cheapest test first: every URL starts with h or w */
		while (i < n && !url_first[(unsigned char)text[i]])
			i++;
		if (i == n)
			break;
		if (i > 0 && !ends_url(text[i - 1]) && text[i - 1] != '(')
			continue;
		www = has_prefix(text + i, n - i, "www.");
		if (!www && !has_prefix(text + i, n - i, "http://") &&
		    !has_prefix(text + i, n - i, "https://"))
			continue;
		for (j = i; j < n && !ends_url(text[j]); j++)
			;
		/* trailing punctuation belongs to the sentence */
		while (j > i && strchr(".,;:!?)]", text[j - 1]) != NULL)
			j--;
		if (www)
			k = (size_t)snprintf(url, sizeof(url), "http://");
		if (j - i >= sizeof(url) - k)
			j = i + sizeof(url) - k - 1;
		memcpy(url + k, text + i, j - i);
		url[k + j - i] = '\0';
		add(lk, url, strlen(url), NULL, false, psl, la);
		i = j;
	}
	return 0;
}

const char *links_flag_names(unsigned flags, char *buf, size_t bufsz)
{
	static const struct {
		unsigned f;
		const char *name;
	} names[] = {
		{LINKS_F_TEXT_MISMATCH, "text-mismatch"},
		{LINKS_F_REDIRECTOR, "redirector"},
		{LINKS_F_IP_HOST, "ip-host"},
		{LINKS_F_PUNYCODE, "punycode"},
		{LINKS_F_LOOKALIKE, "lookalike"},
		{LINKS_F_USERINFO, "userinfo"},
		{LINKS_F_FORM, "form"},
		{LINKS_F_PASSWORD, "password"},
	};
	size_t i, len = 0;

	if (bufsz == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int w;

		if (!(flags & names[i].f))
			continue;
		w = snprintf(buf + len, bufsz - len, "%s%s", len ? "," : "",
			     names[i].name);
		if (w < 0 || (size_t)w >= bufsz - len)
			break;
		len += (size_t)w;
	}
	return buf;
}
