/*
 * links - the links of a message body and the tricks phishing plays with
 * them.
 *
 * links_html parses an HTML body (UTF-8, as the MIME parser hands it over)
 * with libxml2's HTML parser in SAX mode, no tree built (HTML_PARSE_NONET:
 * no network; the HTML parser loads no external entities; libxml2's own
 * depth limit of 256 applies) and keeps each <a href> with its visible
 * text.  links_text
 * scans a text/plain body for "http://", "https://" and "www." URLs.
 * links_url analyses one URL.  Each link gets flags:
 *
 *  TEXT_MISMATCH  the visible text names a host (a URL, or a domain with a
 *                 listed public suffix) whose registrable domain differs
 *                 from the href's ("www.amazon.co.jp" -> evil.example)
 *  REDIRECTOR     an open-redirect pattern: a query value or path segment
 *                 that is itself a URL ("?url=https://...", google.com/url?
 *                 q=..., "/redirect/https://..."), also percent-encoded,
 *                 to another registrable domain; the embedded target's
 *                 host is kept in target
 *  IP_HOST        the host is an IP literal: dotted quad, or the decimal,
 *                 hex or octal forms browsers accept (WHATWG URL "IPv4
 *                 parser": http://3232235777/, http://0xc0a80101/), or
 *                 [IPv6]
 *  PUNYCODE       a label of the host starts with "xn--" (RFC 5891)
 *  LOOKALIKE      the host is a look-alike of a protected domain
 *                 (lookalike_check; needs a struct lookalike)
 *  USERINFO       userinfo before the host ("https://bank.co.jp@evil/":
 *                 RFC 3986 3.2.1 deprecates it; the reader sees the bank)
 *  FORM           an HTML <form> whose action is an http(s) URL: the
 *                 mail itself collects what is typed and posts it away
 *                 (kept as a link with the action as its href)
 *  PASSWORD       (on struct links only) an <input type="password">: the
 *                 mail asks for a password in place
 *
 * A document with a <form> is parsed whole, not up to its last link.
 * Once the document text is full (LINKS_TEXT_MAX) the parse ends past
 * the last "href", "<form" and "<input": nothing after them can change
 * the result.
 *
 * Limits and why: at most LINKS_HTML_MAX bytes of HTML are parsed (the rest
 * is cut: a phishing page puts its links early, and a megabyte bounds the
 * parser's memory), LINKS_NODES_MAX elements read, LINKS_MAX links kept
 * (more are counted in dropped), hrefs and texts cut to their buffers.
 *
 * Threading: links_init() once (it initializes libxml2) before threads
 * use the module; a struct links belongs to one thread at a time.
 */
#ifndef MAMORI_LINKS_H
#define MAMORI_LINKS_H

#include <stdbool.h>
#include <stddef.h>

#define LINKS_MAX 128
#define LINKS_HTML_MAX (1024 * 1024)
#define LINKS_TEXT_SCAN_MAX (1024 * 1024)
#define LINKS_NODES_MAX 50000
#define LINKS_URL_MAX 512
#define LINKS_HOST_MAX 256
#define LINKS_VISIBLE_MAX 256
#define LINKS_TEXT_MAX (16 * 1024)

#define LINKS_F_TEXT_MISMATCH	0x01u
#define LINKS_F_REDIRECTOR	0x02u
#define LINKS_F_IP_HOST		0x04u
#define LINKS_F_PUNYCODE	0x08u
#define LINKS_F_LOOKALIKE	0x10u
#define LINKS_F_USERINFO	0x20u
#define LINKS_F_FORM		0x40u
#define LINKS_F_PASSWORD	0x80u

/* Outcome of links_html (positive module code). */
enum { LINKS_E_PARSE = 1 };

struct links_link {
	unsigned flags;
	bool from_html;			/* an <a href>, not a text URL */
	char href[LINKS_URL_MAX];	/* as written, cut */
	char host[LINKS_HOST_MAX];	/* lowercase, percent-decoded */
	char text[LINKS_VISIBLE_MAX];	/* visible text, blanks collapsed */
	char text_host[LINKS_HOST_MAX];	/* host named by the text */
	char target[LINKS_HOST_MAX];	/* redirect target's host */
	char matched[LINKS_HOST_MAX];	/* protected domain (LOOKALIKE) */
};

struct links {
	struct links_link link[LINKS_MAX];
	size_t n;
	size_t dropped;		/* links past LINKS_MAX */
	unsigned flags;		/* union of the links' flags */
	bool truncated;		/* input or node limit reached */
	/* links_html: the document's visible text up to its last link
	 * (not script or style), blanks collapsed, cut at LINKS_TEXT_MAX
	 * bytes on a character boundary: the cue words of HTML-only mail */
	char text[LINKS_TEXT_MAX];
	size_t text_len;
};

struct dmarc_psl;
struct lookalike;

/* Initializes libxml2's parser once per process (idempotent). */
void links_init(void);

/* A new, empty set (abort on no memory). */
struct links *links_new(void);

/* Frees lk; NULL is a no-op. */
void links_free(struct links *lk);

/* Empties lk for the next message. */
void links_reset(struct links *lk);

/*
 * Adds the links of the HTML html[0..n) to lk.  psl (borrowed, not NULL)
 * tells hosts apart by registrable domain; la (borrowed, may be NULL)
 * enables LOOKALIKE.  Returns 0, or LINKS_E_PARSE if libxml2 builds no
 * document (empty input).
 */
int links_html(struct links *lk, const char *html, size_t n,
	       const struct dmarc_psl *psl, const struct lookalike *la);

/* Adds the URLs written in the plain text text[0..n) to lk.  Returns 0. */
int links_text(struct links *lk, const char *text, size_t n,
	       const struct dmarc_psl *psl, const struct lookalike *la);

/*
 * Analyses one URL url[0..n) whose visible text is vis (NULL: none) into
 * *out (cleared first); returns out->flags.
 */
unsigned links_url(const char *url, size_t n, const char *vis,
		   const struct dmarc_psl *psl, const struct lookalike *la,
		   struct links_link *out);

/*
 * The flag names of flags, comma-separated ("text-mismatch,ip-host"),
 * into buf; returns buf.
 */
const char *links_flag_names(unsigned flags, char *buf, size_t bufsz);

#endif
