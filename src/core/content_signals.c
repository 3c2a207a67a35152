/*
 * content_signals - checks on link hosts and message shapes; see
 * content-signals.h (the points and why: docs/design/content.md, "Hosts
 * and shapes").
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/content-signals.h"
#include "core/content.h"
#include "mail/dmarc.h"
#include "mail/hostlist.h"
#include "mail/links.h"
#include "mail/mime.h"

#define SIGNALS_HTML_SCAN (256u * 1024)	/* HTML read for visible text */
#define SIGNALS_TEXT_FEW 100		/* fewer visible characters: none */

/* Points.  Why each weighs what it does: docs/design/content.md. */
enum {
	P_SHORTENER = 3,	/* most links go through a URL shortener */
	P_FREE_HOSTING = 3,	/* most links go to free hosts or forms */
	P_REPLYTO_FREEMAIL = 3,	/* replies go to a free mailbox elsewhere */
	P_ABUSED_TLD = 2,	/* From under a throwaway-domain TLD */
	P_FROM_SHAPE = 2,	/* several From authors, or no address */
	P_FROM_BAD_DOMAIN = 4,	/* a From domain that cannot exist */
	P_STYLED = 3,		/* mathematical letters in subject or name */
	P_LITTLE_TEXT = 2,	/* HTML only, links, almost no words */
	P_ATTACH_HTML = 4,	/* an HTML or SVG file attached */
	P_ATTACH_ONENOTE = 6,	/* a OneNote file attached */
};

void content_signals_load(struct content_config *c, const char *path,
			  const char *text, size_t n, char *warn,
			  size_t warnsz)
{
	size_t bad = 0;
	int r;

	warn[0] = '\0';
	c->hl = hostlist_new();
	if (!text) {
		snprintf(warn, warnsz, "content_hosts_file %s: cannot read, "
			 "no host lists", path);
		return;
	}
	r = hostlist_load(c->hl, text, n, &bad);
	if (r != 0)
		snprintf(warn, warnsz, "content_hosts_file %s line %zu: %s; "
			 "entries before it are used", path, bad,
			 r == HOSTLIST_E_FULL ? "too many entries" :
			 "not KIND HOST[/PATH]");
}

/* The path of URL u ("/..." up to '?' or '#'; "" if none) into out. */
static void url_path(const char *u, char *out, size_t outsz)
{
	const char *p = strstr(u, "://"), *e;
	size_t n;

	p = p ? p + 3 : u;
	p += strcspn(p, "/?#");
	out[0] = '\0';
	if (*p != '/')
		return;
	e = p + strcspn(p, "?#");
	n = (size_t)(e - p) < outsz - 1 ? (size_t)(e - p) : outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Links to hosts of the shortener and hosting lists: one reason each
 * when they are at least half of the links (a newsletter's one tinyurl
 * among forty links is not hiding where it goes), with how many links and
 * the first entry matched. */
static void check_link_hosts(struct content_verdict *v,
			     const struct content_config *c,
			     const struct links *lk)
{
	static const struct {
		enum hostlist_kind kind;
		const char *name;
		int points;
	} kinds[] = {
		{ HOSTLIST_SHORTENER, "link-shortener", P_SHORTENER },
		{ HOSTLIST_HOSTING, "link-free-hosting", P_FREE_HOSTING },
	};
	const char *first[2] = { NULL, NULL };
	size_t cnt[2] = { 0, 0 }, i, k;
	char path[HOSTLIST_PATH_MAX];

	for (i = 0; i < lk->n; i++) {
		const struct links_link *l = &lk->link[i];

		if (l->flags & LINKS_F_FORM)
			continue;	/* html-form weighs forms */
		url_path(l->href, path, sizeof(path));
		for (k = 0; k < 2; k++) {
			const char *m = hostlist_match(c->hl, kinds[k].kind,
						       l->host, path);

			if (m) {
				if (!first[k])
					first[k] = m;
				cnt[k]++;
			}
		}
	}
	for (k = 0; k < 2; k++)
		if (cnt[k] && 2 * cnt[k] >= lk->n)
			content_add_reason(v, kinds[k].name, CONTENT_PHISHING,
					   kinds[k].points, "links=%zu of %zu "
					   "listed=%s (%s)", cnt[k], lk->n,
					   first[k],
					   hostlist_kind_name(kinds[k].kind));
}

/* The domain of addr ("" if none), not copied. */
static const char *addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

/* Reply-To sends the answers to a free mailbox of another organisation
 * than a From that is no free mailbox. */
static void check_replyto(struct content_verdict *v,
			  const struct content_config *c,
			  const struct mime_summary *ms,
			  const char *from_domain)
{
	char rd[DMARC_DOMAIN_MAX], of[DMARC_DOMAIN_MAX], orr[DMARC_DOMAIN_MAX];
	const char *m, *d;
	size_t i;

	if (!from_domain[0] || ms->reply_to.n == 0 ||
	    hostlist_match(c->hl, HOSTLIST_FREEMAIL, from_domain, NULL))
		return;
	d = addr_domain(ms->reply_to.v[0].addr);
	for (i = 0; d[i] && i + 1 < sizeof(rd); i++)
		rd[i] = (char)(d[i] >= 'A' && d[i] <= 'Z' ? d[i] + 32 : d[i]);
	rd[i] = '\0';
	if (!rd[0] || !(m = hostlist_match(c->hl, HOSTLIST_FREEMAIL, rd, NULL)))
		return;
	if (dmarc_psl_org_domain(c->psl, rd, orr, sizeof(orr)) == 0 &&
	    dmarc_psl_org_domain(c->psl, from_domain, of, sizeof(of)) == 0 &&
	    strcmp(orr, of) == 0)
		return;
	content_add_reason(v, "replyto-freemail", CONTENT_SPOOFING,
			   P_REPLYTO_FREEMAIL, "reply_to=%s from_domain=%s "
			   "listed=%s (answers go to a free mailbox)",
			   ms->reply_to.v[0].addr, from_domain, m);
}

/* True if d cannot be a domain on the Internet: a single label, an
 * empty label, a byte no host name has (RFC 1123 2.1). */
static bool bad_domain(const char *d)
{
	size_t i;

	if (!strchr(d, '.') || d[0] == '.' || strstr(d, ".."))
		return true;
	for (i = 0; d[i]; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') ||
		      (d[i] >= '0' && d[i] <= '9') || d[i] == '-' ||
		      d[i] == '.' || d[i] == '_' || (unsigned char)d[i] >= 0x80))
			return true;
	return false;
}

/* True if the display name ends in a comma (blanks and '_' aside): names
 * listed without their addresses, "Deutsche Bahn, Deutsche Bahn,". */
static bool name_ends_in_comma(const char *name)
{
	size_t n = strlen(name);

	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '_'))
		n--;
	return n > 0 && name[n - 1] == ',';
}

/* The From domain under a TLD of the throwaway list or impossible; several
 * authors in From (RFC 5322 3.6.2 then needs a Sender), a From with no
 * address, a display name that is a broken list. */
static void check_from_shape(struct content_verdict *v,
			     const struct content_config *c,
			     const struct mime_summary *ms,
			     const char *from_domain)
{
	const char *m;

	if (from_domain[0] &&
	    (m = hostlist_match(c->hl, HOSTLIST_TLD, from_domain, NULL)))
		content_add_reason(v, "from-abused-tld", CONTENT_NO_LABEL,
				   P_ABUSED_TLD, "from_domain=%s tld=%s",
				   from_domain, m);
	if (from_domain[0] && bad_domain(from_domain))
		content_add_reason(v, "from-bad-domain", CONTENT_SPOOFING,
				   P_FROM_BAD_DOMAIN, "from_domain=%s (no "
				   "domain on the Internet is written so)",
				   from_domain);
	if (ms->from.n > 1)
		content_add_reason(v, "from-shape", CONTENT_NO_LABEL,
				   P_FROM_SHAPE, "authors=%zu (a From "
				   "with several mailboxes)", ms->from.n);
	else if (ms->from.n == 0 || !strchr(ms->from.v[0].addr, '@'))
		content_add_reason(v, "from-shape", CONTENT_NO_LABEL,
				   P_FROM_SHAPE, "a From with no address");
	else if (name_ends_in_comma(ms->from.v[0].name))
		content_add_reason(v, "from-shape", CONTENT_NO_LABEL,
				   P_FROM_SHAPE, "name=\"%s\" (a display name "
				   "ending in a comma: a broken list of names)",
				   ms->from.v[0].name);
}

/* True if s holds a styled Latin letter: the Mathematical Alphanumeric
 * Symbols (U+1D400-U+1D7FF: "𝐅𝐫𝐞𝐞"), or the squared and negative
 * squared Latin letters (U+1F130-U+1F189: "🅵🆁🅴🅴"). */
static bool has_styled(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; (p = (const unsigned char *)strchr((const char *)p, 0xf0));
	     p++) {
		if (p[1] == 0x9d && p[2] >= 0x90 && p[2] <= 0x9f)
			return true;
		/* U+1F130-U+1F189: F0 9F 84 B0 .. F0 9F 86 89 */
		if (p[1] == 0x9f &&
		    ((p[2] == 0x84 && p[3] >= 0xb0) || p[2] == 0x85 ||
		     (p[2] == 0x86 && p[3] <= 0x89)))
			return true;
	}
	return false;
}

/* Mathematical or squared letters in the subject or the display name:
 * text dressed up so that word filters do not read it. */
static void check_styled(struct content_verdict *v,
			 const struct mime_summary *ms)
{
	const char *where = has_styled(ms->subject) ? "subject" :
			    ms->from.n && has_styled(ms->from.v[0].name) ?
			    "display-name" : NULL;

	if (where)
		content_add_reason(v, "styled-letters", CONTENT_NO_LABEL,
				   P_STYLED, "where=%s (mathematical or squared"
				   " letters in place of plain ones)", where);
}

/* True if html[i..n) starts with the lowercase ASCII word w, any case. */
static bool at_word(const char *html, size_t i, size_t n, const char *w)
{
	size_t k = strlen(w);

	return i + k <= n && strncasecmp(html + i, w, k) == 0;
}

/* Where the end marker e (lowercase) is found in html[i..n), past it; n
 * if never. */
static size_t skip_to(const char *html, size_t i, size_t n, const char *e)
{
	for (; i < n; i++)
		if (at_word(html, i, n, e))
			return i + strlen(e);
	return n;
}

/* Visible characters of html[0..n), counted up to cap: bytes outside
 * tags, comments, <style> and <script>, not blanks, UTF-8 lead bytes;
 * *imgs gets the <img> elements seen on the way. */
static size_t visible_chars(const char *html, size_t n, size_t cap,
			    size_t *imgs)
{
	size_t i = 0, cnt = 0;

	*imgs = 0;
	while (i < n && cnt < cap) {
		unsigned char ch = (unsigned char)html[i];

		if (ch == '<') {
			if (at_word(html, i, n, "<!--"))
				i = skip_to(html, i + 4, n, "-->");
			else if (at_word(html, i, n, "<style"))
				i = skip_to(html, i + 6, n, "</style");
			else if (at_word(html, i, n, "<script"))
				i = skip_to(html, i + 7, n, "</script");
			else if (at_word(html, i, n, "<img")) {
				(*imgs)++;
				i++;
			} else
				i++;
			while (i < n && html[i] != '>')
				i++;
			i++;
			continue;
		}
		if (ch > ' ' && (ch < 0x80 || ch >= 0xc0))
			cnt++;
		i++;
	}
	return cnt;
}

/* HTML only, with links and pictures, and almost nothing to read: the
 * words are in the pictures, where neither filters nor the reader's
 * caution reach. */
static void check_little_text(struct content_verdict *v,
			      const struct mime_summary *ms,
			      const struct links *lk)
{
	size_t n, vis, imgs;

	if (ms->text_len || !ms->html_len || !lk || lk->n == 0)
		return;
	n = ms->html_len < SIGNALS_HTML_SCAN ? ms->html_len :
	    SIGNALS_HTML_SCAN;
	vis = visible_chars(ms->html, n, SIGNALS_TEXT_FEW, &imgs);
	if (vis < SIGNALS_TEXT_FEW && imgs > 0)
		content_add_reason(v, "html-little-text", CONTENT_NO_LABEL,
				   P_LITTLE_TEXT, "visible_chars=%zu images=%zu "
				   "links=%zu (HTML only: pictures and links, "
				   "almost no words)", vis, imgs, lk->n);
}

/* True if name ends in "." and one of exts (lowercase, NULL-ended). */
static bool has_ext(const char *name, const char *const *exts)
{
	const char *dot = strrchr(name, '.');
	size_t i;

	if (!dot)
		return false;
	for (i = 0; exts[i]; i++)
		if (strcasecmp(dot + 1, exts[i]) == 0)
			return true;
	return false;
}

/* Attached HTML or SVG (a local login page, HTML smuggling) and OneNote
 * files (scripts behind a "double-click to view" picture). */
static void check_attachment_types(struct content_verdict *v,
				   const struct mime_summary *ms)
{
	static const char *const html[] = {
		"html", "htm", "shtml", "xhtml", "svg", "mht", "mhtml", NULL,
	};
	static const char *const onenote[] = { "one", "onepkg", NULL };
	const char *fh = NULL, *fo = NULL;
	size_t i;

	for (i = 0; i < ms->n_attachments; i++) {
		const char *fn = ms->attachments[i].filename;

		if (!fh && has_ext(fn, html))
			fh = fn;
		if (!fo && has_ext(fn, onenote))
			fo = fn;
	}
	if (fh)
		content_add_reason(v, "attachment-html", CONTENT_PHISHING,
				   P_ATTACH_HTML, "name=\"%s\" (opens a page "
				   "from the disk, out of the browser's "
				   "phishing filter's sight)", fh);
	if (fo)
		content_add_reason(v, "attachment-onenote", CONTENT_MALWARE,
				   P_ATTACH_ONENOTE, "name=\"%s\"", fo);
}

void content_signals_check(struct content_verdict *v,
			   const struct content_config *c,
			   const struct mime_summary *ms,
			   const struct links *lk, const char *from_domain)
{
	if (lk && hostlist_count(c->hl))
		check_link_hosts(v, c, lk);
	if (hostlist_count(c->hl))
		check_replyto(v, c, ms, from_domain);
	check_from_shape(v, c, ms, from_domain);
	check_styled(v, ms);
	check_little_text(v, ms, lk);
	check_attachment_types(v, ms);
}
