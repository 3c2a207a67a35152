/*
 * test-links - links from HTML and text (src/mail/links.c): one row per
 * URL trick, HTML extraction, text scanning and the limits.  Uses the
 * system Public Suffix List.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dmarc.h"
#include "mail/links.h"
#include "mail/lookalike.h"
#include "tap.h"

struct row {
	const char *label, *url, *text;
	unsigned want;		/* exact flags */
	const char *host;
	const char *extra;	/* target, text_host or matched; NULL: - */
};

static const struct row rows[] = {
	{"plain link", "https://www.example.com/a", "click here", 0,
	 "www.example.com", NULL},
	{"text names the same site", "https://www.amazon.co.jp/gp",
	 "amazon.co.jp", 0, "www.amazon.co.jp", NULL},
	{"text names another site", "https://amazon.co.jp.evil.example.net/",
	 "https://www.amazon.co.jp/", LINKS_F_TEXT_MISMATCH | LINKS_F_LOOKALIKE,
	 "amazon.co.jp.evil.example.net", "amazon.co.jp"},
	{"text is a bare domain", "http://login.evil.example.net/",
	 "www.smbc-card.com", LINKS_F_TEXT_MISMATCH,
	 "login.evil.example.net", "www.smbc-card.com"},
	{"text is a domain with a path", "http://login.evil.example.net/",
	 "smbc-card.com/login", LINKS_F_TEXT_MISMATCH,
	 "login.evil.example.net", "smbc-card.com"},
	{"a domain-like word in a sentence names no host",
	 "https://www.wrox.com/b", "ASP.NET 1.0 Reference with VB.NET", 0,
	 "www.wrox.com", NULL},
	{"a URL in a sentence does", "http://login.evil.example.net/",
	 "Go to https://www.smbc-card.com/ now", LINKS_F_TEXT_MISMATCH,
	 "login.evil.example.net", "www.smbc-card.com"},
	{"text is an address: no host", "https://evil.example.net/",
	 "support@paypal.com", 0, "evil.example.net", NULL},
	{"userinfo trick", "https://bank.co.jp@evil.example.net/login",
	 NULL, LINKS_F_USERINFO, "evil.example.net", NULL},
	{"dotted quad", "http://192.0.2.7/paypal/", NULL, LINKS_F_IP_HOST,
	 "192.0.2.7", NULL},
	{"decimal IPv4", "http://3221225991/", NULL, LINKS_F_IP_HOST,
	 "3221225991", NULL},
	{"hex IPv4", "http://0xC0000207/x", NULL, LINKS_F_IP_HOST,
	 "0xc0000207", NULL},
	{"IPv6 literal with port", "http://[2001:db8::1]:8080/", NULL,
	 LINKS_F_IP_HOST, "[2001:db8::1]", NULL},
	{"IP href, named text", "http://192.0.2.7/", "www.paypal.com",
	 LINKS_F_IP_HOST | LINKS_F_TEXT_MISMATCH, "192.0.2.7", NULL},
	{"google.com/url redirector",
	 "https://www.google.com/url?q=https://evil.example.net/&sa=D", NULL,
	 LINKS_F_REDIRECTOR, "www.google.com", "evil.example.net"},
	{"encoded url= redirector",
	 "https://r.example.com/redirect?url=https%3A%2F%2Fevil.example.net%2F",
	 NULL, LINKS_F_REDIRECTOR, "r.example.com", "evil.example.net"},
	{"URL in the path", "https://t.example.com/r/https://evil.example.net/x",
	 NULL, LINKS_F_REDIRECTOR, "t.example.com", "evil.example.net"},
	{"www. target", "https://t.example.com/?goto=www.evil.example.net/x",
	 NULL, LINKS_F_REDIRECTOR, "t.example.com", "www.evil.example.net"},
	{"redirect within the same site",
	 "https://www.example.com/login?next=https://shop.example.com/cart",
	 NULL, 0, "www.example.com", NULL},
	{"double slash in a path is no redirect",
	 "https://example.com/a//b", NULL, 0, "example.com", NULL},
	{"punycode look-alike of apple.com", "https://xn--pple-43d.com/id",
	 NULL, LINKS_F_PUNYCODE | LINKS_F_LOOKALIKE, "xn--pple-43d.com",
	 "apple.com"},
	{"ASCII look-alike", "https://paypa1.com/signin", NULL,
	 LINKS_F_LOOKALIKE, "paypa1.com", "paypal.com"},
	{"percent-encoded host", "http://%70aypal.com.evil.example.net/", NULL,
	 LINKS_F_LOOKALIKE, "paypal.com.evil.example.net", "paypal.com"},
	{"backslash as slash", "https:\\\\evil.example.net\\x", NULL, 0,
	 "evil.example.net", NULL},
	{"mailto is not a web link", "mailto:x@example.com", NULL, 0, "",
	 NULL},
	{"javascript is not a web link", "javascript:alert(1)", NULL, 0, "",
	 NULL},
};

static const char html[] =
	"<html><body><p>Dear customer,</p>"
	"<a href=\"https://amazon.co.jp.evil.example.net/\">"
	"<b>https://www.amazon.co.jp/</b> </a>"
	"<a href='https://www.example.com/'>  Our\n  site </a>"
	"<a name=x>no href</a>"
	"<div><div><a href=\"http://0x7f000001/\">www.bank.co.jp</a></div></div>"
	"<a href=\"mailto:help@example.com\">mail us</a>"
	"<a href=\"https://www.google.com/url?q=http://evil.example.net\">x</a>"
	"&amp; <a href=\"https://a.example.com/?a=1&amp;u=https%3A//b.example.net\">y</a>"
	"</body></html>";

static const char text[] =
	"See https://bank.co.jp@evil.example.net/x, or "
	"(www.example.com). Not:xhttp://no.example.com http://192.0.2.1.";

/* HTML rows: the SAX walk's cut, charset and document text. */
struct hrow {
	const char *label, *html;
	size_t n;		/* links kept */
	unsigned flags;		/* of the first link */
	const char *text;	/* the first link's text */
	const char *doc;	/* the document text, or NULL: not checked */
	unsigned forms;		/* lk->flags & (FORM | PASSWORD) */
};

static const struct hrow hrows[] = {
	{ "html: upper-case tags, the tail after the last link cut",
	  "<p><A HREF=\"http://a.example.com/\">www.b.example.org</A></p>"
	  "<table><tr><td>a</td></tr></table>", 1, LINKS_F_TEXT_MISMATCH,
	  "www.b.example.org", "www.b.example.org", 0 },
	{ "html: an unclosed last link keeps its text",
	  "<p><a href=\"http://c.example.com/\">see www.d.example.org", 1,
	  0, "see www.d.example.org", NULL, 0 },
	{ "html: a <meta charset> does not re-decode the UTF-8 body",
	  "<html><head><meta http-equiv=\"Content-Type\" content=\"text/"
	  "html; charset=big5\"></head><body><a href=\"http://e.example."
	  "com/\">\xe7\x83\x8f www.f.example.org</a></body></html>", 1,
	  0, "\xe7\x83\x8f www.f.example.org", NULL, 0 },
	{ "html: the visible text, blanks collapsed, no script or style",
	  "<html><head><style>p{x:1}</style><script>var a = 1;</script>"
	  "</head><body><p>Your  account\n<b>is</b> locked.</p><a href=\""
	  "http://g.example.com/\">here</a></body></html>", 1, 0, "here",
	  "Your account is locked.here", 0 },
	{ "html: no href, nothing to parse", "<p>no links at all</p>", 0, 0,
	  NULL, "", 0 },
	{ "html: a form posting away, after the last link, with a password",
	  "<a href=\"http://h.example.com/\">bank</a><form method=post "
	  "action=\"https://collect.example.net/p.php\"><input type=\"text\" "
	  "name=u><input TYPE=\"Password\" name=p></form>", 2, 0, "bank",
	  NULL, LINKS_F_FORM | LINKS_F_PASSWORD },
	{ "html: a form without links is parsed", "<form action=\"http://"
	  "i.example.com/x\"><input type=email></form>", 1, LINKS_F_FORM,
	  "", NULL, LINKS_F_FORM },
	/* fuzz-links, 2026-12-06: the target's own flag checks did not
	 * know FORM on a link nor PASSWORD on the set alone. */
	{ "html: a scheme-relative form action is a FORM link (fuzz-links)",
	  "<form action=//m.example.com/p>", 1, LINKS_F_FORM, "", NULL,
	  LINKS_F_FORM },
	{ "html: a password box is on the set, not a link (fuzz-links)",
	  "<form action=\"https://p.example.com/\"><input type=password>"
	  "</form>", 1, LINKS_F_FORM, "", NULL,
	  LINKS_F_FORM | LINKS_F_PASSWORD },
	{ "html: a search box without an action is no form link",
	  "<form><input type=search></form><a href=\"http://j.example.com/"
	  "\">j</a>", 1, 0, "j", NULL, 0 },
	{ "html: a word about forms is no form", "<p>fill in the form</p>"
	  "<a href=\"http://k.example.com/\">k</a>", 1, 0, "k", NULL, 0 },
	{ "html: the last link, after </body></html>, is kept",
	  "<html><body><a href=\"http://l.example.com/\">l</a></body></html>"
	  "<span>click <a href=\"http://m.example.net/u\">here</a> to "
	  "leave</span>", 2, 0, "l", "lclick here", 0 },
	{ "html: bytes not UTF-8 before </html>: no link read twice",
	  "<html><body>caf\xe9 \xff\xfe<a href=\"http://p.example.com/\">p"
	  "</a></body></html><a href=\"http://q.example.net/\">q</a>",
	  1, 0, "p", NULL, 0 },
	{ "html: a stray end tag first hides no link",
	  "</head><div><a href=\"http://n.example.com/\">www.o.example.org"
	  "</a></div>", 1, LINKS_F_TEXT_MISMATCH, "www.o.example.org",
	  NULL, 0 },
};

/* Rows with 20,000 bytes of words between head and tail: the document
 * text fills up, and whatever the tail adds must still be found. */
struct fullrow {
	const char *label, *head, *tail;
	size_t after;		/* words after the tail */
	size_t n;		/* links kept */
	const char *host;	/* of the last link */
	unsigned forms;		/* lk->flags & (FORM | PASSWORD) */
};

static const struct fullrow fullrows[] = {
	{ "full text: a link after it", "<p>", "<a href=\"http://late."
	  "example.com/\">late</a> words", 0, 1, "late.example.com", 0 },
	{ "full text: a form and a password after it", "<p>",
	  "<form action=\"https://f.example.net/p\"><input name=u>words "
	  "<input type=password></form>", 0, 1, "f.example.net",
	  LINKS_F_FORM | LINKS_F_PASSWORD },
	{ "full text: a password field after the last link (a form: all "
	  "of it is read)", "<form><input name=u></form><a href=\"http://p."
	  "example.com/\">p</a>", "</p> words <input type=password> words",
	  0, 1, "p.example.com", LINKS_F_PASSWORD },
	{ "full text: bytes that are not UTF-8 (libxml2 reads on as "
	  "Latin-1: its byte count is no position), a link left open",
	  "<p>\xff\xfe ", "<a href=\"http://u.example.com/\">u</b> ", 8000,
	  1, "u.example.com", 0 },
	{ "full text: inside an open link, then a second one",
	  "<a href=\"http://o.example.com/\">", "</a><a HREF=\"http://q."
	  "example.com/\">q</a>", 0, 2, "q.example.com", 0 },
};

int main(void)
{
	struct dmarc_psl *psl = dmarc_psl_load(NULL);
	struct lookalike *la;
	struct links_link l;
	struct links *lk;
	char names[128], *big;
	size_t i;

	if (!ok(psl != NULL, "system Public Suffix List loads"))
		return tap_done();
	links_init();
	la = lookalike_new(psl);
	lookalike_add(la, "paypal.com", "PayPal");
	lookalike_add(la, "apple.com", "Apple");
	lookalike_add(la, "amazon.co.jp", "Amazon");

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *t = &rows[i];
		unsigned f = links_url(t->url, strlen(t->url), t->text, psl,
				       la, &l);

		is_int(f, t->want, "%s: flags %s", t->label,
		       links_flag_names(f, names, sizeof(names)));
		is_str(l.host, t->host, "%s: host", t->label);
		if (t->extra == NULL)
			continue;
		if (t->want & LINKS_F_REDIRECTOR)
			is_str(l.target, t->extra, "%s: target", t->label);
		else if (t->want & LINKS_F_LOOKALIKE)
			is_str(l.matched, t->extra, "%s: matched", t->label);
		else
			is_str(l.text_host, t->extra, "%s: text host",
			       t->label);
	}

	lk = links_new();
	is_int(links_html(lk, html, sizeof(html) - 1, psl, la), 0,
	       "html: parses");
	is_int(lk->n, 5, "html: five web links (no mailto, no name-only a)");
	if (lk->n == 5) {
		is_str(lk->link[0].text, "https://www.amazon.co.jp/",
		       "html: visible text of nested <b>");
		is_int(lk->link[0].flags, LINKS_F_TEXT_MISMATCH | LINKS_F_LOOKALIKE,
		       "html: first link mismatched");
		is_str(lk->link[1].text, "Our site", "html: blanks collapsed");
		is_int(lk->link[1].flags, 0, "html: plain link clean");
		is_int(lk->link[2].flags,
		       LINKS_F_IP_HOST | LINKS_F_TEXT_MISMATCH,
		       "html: hex IP under a bank name");
		is_int(lk->link[3].flags, LINKS_F_REDIRECTOR,
		       "html: google redirector");
		is_str(lk->link[4].target, "b.example.net",
		       "html: entity-decoded query, encoded target");
		ok(lk->link[0].from_html, "html: from_html set");
	}
	ok(lk->flags & LINKS_F_IP_HOST, "html: union of flags");
	is_int(links_html(lk, "", 0, psl, la), LINKS_E_PARSE,
	       "html: empty input");
	for (i = 0; i < sizeof(hrows) / sizeof(hrows[0]); i++) {
		const struct hrow *h = &hrows[i];

		links_reset(lk);
		is_int(links_html(lk, h->html, strlen(h->html), psl, NULL), 0,
		       "%s: parses", h->label);
		is_int(lk->n, h->n, "%s: links", h->label);
		if (h->n > 0 && lk->n > 0) {
			is_int(lk->link[0].flags, h->flags, "%s: flags",
			       h->label);
			is_str(lk->link[0].text, h->text, "%s: link text",
			       h->label);
		}
		if (h->doc)
			is_str(lk->text, h->doc, "%s: document text", h->label);
		is_int(lk->flags & (LINKS_F_FORM | LINKS_F_PASSWORD), h->forms,
		       "%s: form flags", h->label);
	}
	links_reset(lk);
	links_text(lk, text, strlen(text), psl, la);
	is_int(lk->n, 3, "text: three URLs");
	if (lk->n == 3) {
		is_int(lk->link[0].flags, LINKS_F_USERINFO, "text: userinfo");
		is_str(lk->link[0].href, "https://bank.co.jp@evil.example.net/x",
		       "text: trailing comma cut");
		is_str(lk->link[1].host, "www.example.com",
		       "text: www. in parentheses");
		is_str(lk->link[2].host, "192.0.2.1", "text: final dot cut");
		ok(!lk->link[1].from_html, "text: not from html");
	}

	/* limits: more than LINKS_MAX links are counted, not kept */
	links_reset(lk);
	{
		static const char a[] = "<a href=\"http://x.example.com/\">a</a>";

		big = malloc((LINKS_MAX + 5) * (sizeof(a) - 1) + 1);
		for (i = 0; i < LINKS_MAX + 5; i++)
			memcpy(big + i * (sizeof(a) - 1), a, sizeof(a) - 1);
		big[i * (sizeof(a) - 1)] = '\0';
	}
	links_html(lk, big, strlen(big), psl, NULL);
	is_int(lk->n, LINKS_MAX, "limit: LINKS_MAX kept");
	is_int(lk->dropped, 5, "limit: the rest dropped");
	free(big);
	/* the document text full (LINKS_TEXT_MAX): the parse may stop only
	 * past the last href, <form and <input */
	for (i = 0; i < sizeof(fullrows) / sizeof(fullrows[0]); i++) {
		const struct fullrow *f = &fullrows[i];
		size_t k, hn = strlen(f->head), tn = strlen(f->tail);
		char *p;

		links_reset(lk);
		big = malloc(hn + (4000 + f->after) * 5 + tn + 1);
		memcpy(big, f->head, hn);
		for (k = 0, p = big + hn; k < 4000; k++, p += 5)
			memcpy(p, "word ", 5);
		memcpy(p, f->tail, tn);
		for (k = 0, p += tn; k < f->after; k++, p += 5)
			memcpy(p, "word ", 5);
		*p = '\0';
		is_int(links_html(lk, big, strlen(big), psl, NULL), 0,
		       "%s: parses", f->label);
		is_int(lk->n, f->n, "%s: links", f->label);
		if (f->n > 0 && lk->n > 0)
			is_str(lk->link[f->n - 1].host, f->host, "%s: host",
			       f->label);
		is_int(lk->flags & (LINKS_F_FORM | LINKS_F_PASSWORD), f->forms,
		       "%s: form flags", f->label);
		is_int(lk->text_len, LINKS_TEXT_MAX - 1, "%s: text full",
		       f->label);
		free(big);
	}
	/* deep nesting: no crash, no stack growth in the walk */
	links_reset(lk);
	big = malloc(100000 * 5 + 100);
	big[0] = '\0';
	for (i = 0; i < 100000; i++)
		memcpy(big + i * 5, "<div>", 5);
	snprintf(big + 500000, 100, "<a href=\"http://deep.example.com/\">d</a>");
	is_int(links_html(lk, big, strlen(big), psl, NULL), 0,
	       "deep nesting parses");
	free(big);
	is_str(links_flag_names(LINKS_F_REDIRECTOR | LINKS_F_USERINFO, names,
				sizeof(names)), "redirector,userinfo",
	       "flag names");
	links_free(lk);
	lookalike_free(la);
	dmarc_psl_free(psl);
	return tap_done();
}
