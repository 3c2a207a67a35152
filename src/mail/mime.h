/*
 * mime - one bounded parse of a whole message into the summary that every
 * content check shares (display-name spoofing, archives, thread hijacking,
 * links, backscatter, scam labels).  Sans-I/O: bytes in, a struct out; no
 * logging, no files, no sockets.  Built on GMime 3.
 *
 * What it reads:
 *  - header fields decoded to UTF-8: RFC 5322 3.6 (From, Reply-To, To, Cc,
 *    Subject, Message-ID, In-Reply-To, References), RFC 2047 encoded words,
 *    raw 8-bit fields in ISO-2022-JP / Shift_JIS / EUC-JP and others through
 *    an explicit fallback charset list (MIME_FALLBACK_CHARSETS below);
 *  - the MIME tree (RFC 2045/2046), walked to bounded depth and part count,
 *    message/rfc822 parts included (RFC 2046 5.2.1);
 *  - the text and HTML bodies, transfer-decoded and converted to UTF-8, once;
 *  - attachments: decoded file name (RFC 2231 / RFC 2047), declared type,
 *    decoded size and a bounded copy of the decoded bytes for the archive
 *    check (mail/archive.h);
 *  - report and auto-reply markers: multipart/report with
 *    message/delivery-status (RFC 3464) or message/disposition-notification
 *    (RFC 8098), the Message-ID of the returned message, Auto-Submitted
 *    (RFC 3834 5).
 *
 * Limits: each MIME_MAX_* below says why.  Hitting one sets a MIME_F_* flag
 * and the parse goes on with what fits (a check may treat the flag itself
 * as a signal); it never fails for hostile input.  Memory is bounded by the
 * input (capped by MIME_MAX_INPUT: GMime keeps parts as views into one
 * copy) plus the bounded outputs; time is linear in the input.
 *
 * Threading: call mime_init() once (it is idempotent and safe from any
 * thread: pthread_once); after that mime_parse() may run concurrently in
 * any number of threads.  Each call makes and drops its own GMime objects
 * and parser options, and no GMime object is shared between calls; GMime's
 * own shared state (charset maps, the iconv cache) is set up by g_mime_init
 * and locked inside GMime.  Nothing in here calls g_mime_shutdown.
 *
 * Lifetime: a summary owns all its strings and buffers, is independent of
 * the input bytes, and is released with mime_summary_free().
 */
#ifndef MAMORI_MAIL_MIME_H
#define MAMORI_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Input cap: 64 MiB.  Well above Postfix's message_size_limit default
 * (10 MB) and the usual 25-50 MB of mail providers; larger input is cut
 * here (MIME_F_INPUT) so GMime never holds more than this.
 */
#define MIME_MAX_INPUT (64u << 20)
/*
 * Nesting depth of multiparts and message/rfc822: 16.  Real mail rarely
 * goes past 5 (a forwarded bounce of a signed alternative message); deeper
 * trees are a parser attack (MimeKit's stack-overflow sample) and the walk
 * is recursive, so the depth also bounds our stack.
 */
#define MIME_MAX_DEPTH 16
/* Parts walked: 512.  Mailing-list digests reach ~100; past 512 is abuse. */
#define MIME_MAX_PARTS 512
/*
 * Decoded bytes over all parts: 32 MiB.  Base64 grows 3:4, so a message
 * under MIME_MAX_INPUT decodes to less; the cap still bounds the work when
 * the same content is reached many times and the memory of the views.
 */
#define MIME_MAX_DECODED (32u << 20)
/*
 * Text and HTML bodies: 1 MiB of UTF-8 each.  The checks read cue words,
 * links and names; a spammer's 10 MB of filler adds nothing but time.
 */
#define MIME_MAX_TEXT (1u << 20)
#define MIME_MAX_HTML (1u << 20)
/* Attachments listed: 64; a message with more is flagged. */
#define MIME_MAX_ATTACHMENTS 64
/*
 * Decoded bytes kept per attachment for the archive check: 10 MiB.  A ZIP's
 * central directory is at its end, so a cut view can only say "unknown";
 * 10 MiB covers the archives mail carries in practice.
 */
#define MIME_MAX_ATTACH_VIEW (10u << 20)
/* Addresses kept per field (From, Reply-To, To, Cc): 100, the number of
 * recipients RFC 5321 4.5.3.1.8 makes a server accept. */
#define MIME_MAX_ADDRS 100
/* References kept: 64 (RFC 5322 3.6.4 threads rarely exceed a few dozen). */
#define MIME_MAX_REFS 64
/* One decoded header value (Subject, a display name): 4 KiB of UTF-8. */
#define MIME_MAX_FIELD 4096

/*
 * Undeclared 8-bit text (raw header fields, bodies without a charset or
 * with one they do not convert from): valid UTF-8 is taken as it is; then
 * EUC-JP and CP932 are tried strictly (the whole text must convert, to
 * no C1 controls, which glibc makes of bytes EUC-JP does not have):
 * EUC-JP first because CP932 bytes fail it at once while EUC-JP bytes
 * often read as valid CP932; CP932 rather than Shift_JIS because Windows
 * mail labelled Shift_JIS carries CP932's extra characters (circled
 * digits, (株)).  Failing those, GMime's fallback list below decides
 * (g_mime_utils_decode_8bit: the fewest invalid bytes; windows-1252 last
 * always converts); the same list serves GMime for encoded words in
 * unknown charsets.  ISO-2022-JP is 7-bit, so no 8-bit guess finds it:
 * undeclared or "us-ascii" text holding its ESC $ B / ESC $ @ sequences
 * is read as ISO-2022-JP.
 */
#define MIME_FALLBACK_CHARSETS "UTF-8", "CP932", "EUC-JP", "windows-1252"

/* Summary flags: which limits were hit and what was odd. */
enum {
	MIME_F_INPUT = 1u << 0,	      /* input cut at MIME_MAX_INPUT */
	MIME_F_DEPTH = 1u << 1,	      /* a part nested past MIME_MAX_DEPTH */
	MIME_F_PARTS = 1u << 2,	      /* more than MIME_MAX_PARTS parts */
	MIME_F_DECODED = 1u << 3,     /* MIME_MAX_DECODED reached */
	MIME_F_TEXT = 1u << 4,	      /* text body cut at MIME_MAX_TEXT */
	MIME_F_HTML = 1u << 5,	      /* HTML body cut at MIME_MAX_HTML */
	MIME_F_ATTACHMENTS = 1u << 6, /* more than MIME_MAX_ATTACHMENTS */
	MIME_F_ADDRS = 1u << 7,	      /* an address field was cut */
	MIME_F_REFS = 1u << 8,	      /* References cut at MIME_MAX_REFS */
	MIME_F_NO_HEADER = 1u << 9,   /* GMime found no message at all */
	MIME_F_CHARSET = 1u << 10,    /* a declared charset was unknown */
};

/* Return codes of mime_parse beyond 0. */
enum {
	MIME_E_EMPTY = 1, /* no bytes */
};

/* One mailbox: display name ("" if none) and addr-spec, both UTF-8. */
struct mime_addr {
	char *name;
	char *addr;
};

struct mime_addr_list {
	struct mime_addr *v;
	size_t n;
};

struct mime_attachment {
	char *filename;	     /* decoded, UTF-8, "" if none */
	char *content_type;  /* "type/subtype", lower case */
	size_t size;	     /* decoded bytes seen (a lower bound if cut) */
	unsigned char *data; /* the first data_len decoded bytes */
	size_t data_len;
	bool truncated;		 /* data_len < the real decoded size */
	bool inline_disposition; /* Content-Disposition: inline */
};

struct mime_summary {
	unsigned flags; /* MIME_F_* */

	/* Top-level header fields, decoded to UTF-8 ("" if absent). */
	char *subject;
	char *message_id;  /* without angle brackets */
	char *in_reply_to; /* the first msg-id, no brackets */
	char **references; /* msg-ids, no brackets, oldest first */
	size_t n_references;
	struct mime_addr_list from, reply_to, to, cc;

	/* Bodies: inline text/plain and text/html parts, UTF-8, joined. */
	char *text;
	size_t text_len;
	char *html;
	size_t html_len;

	struct mime_attachment *attachments;
	size_t n_attachments;

	/* What the walk saw (each within its MIME_MAX_*). */
	size_t n_parts;
	unsigned depth; /* deepest level reached, 0 = top */
	size_t bytes_decoded;

	/* RFC 3464 / RFC 8098 / RFC 3834 markers.  A report counts only
	 * when it is the message itself, not inside a forwarded message. */
	bool is_dsn;	     /* report-type=delivery-status or such a part */
	bool is_mdn;	     /* disposition-notification */
	bool auto_submitted; /* Auto-Submitted present and not "no" */
	char *auto_submitted_value; /* its value, lower case, "" if absent */
	/* Message-ID of the returned message inside a report, "" if none. */
	char *report_message_id;
	/* The message/delivery-status part of a report as text (RFC 3464
	 * 2.2, 2.3: per-message and per-recipient fields), at most 64 KiB,
	 * "" if none; mail/dsn.h reads it. */
	char *report_fields;
	/* Message-ID of the first message/rfc822 part not inside another
	 * one, report or not ("" if none): a bounce that is no RFC 3464
	 * report may still attach the returned message. */
	char *inner_message_id;
	/* Non-standard auto-reply markers (RFC 3834 does not define them,
	 * responders send them): Precedence's value, lower case ("" if
	 * absent), and whether X-Autoreply or X-Autorespond is present. */
	char *precedence;
	bool x_autoreply;
	/* The mailto: address of List-Post (RFC 2369 3.4), lower case, ""
	 * if absent or "NO": a reply through a mailing list comes from a
	 * member the thread's author never wrote to. */
	char *list_post;
};

/*
 * Initialise GMime once for the whole process (pthread_once).  Safe to call
 * from every thread and more than once; mime_parse calls it too.
 */
void mime_init(void);

/*
 * Parse len bytes of a whole message (header and body, CRLF or LF) into
 * *out.  The bytes are only read and may be freed after the call.
 * Returns 0 with *out set (limits hit are flags in it, not errors), or
 * MIME_E_EMPTY for len 0 (*out NULL).  Memory exhaustion aborts (xmalloc,
 * and GLib's g_malloc inside GMime).
 */
int mime_parse(const void *data, size_t len, struct mime_summary **out);

/*
 * The first msg-id of a raw Message-ID, In-Reply-To or References value,
 * without angle brackets, as mime_parse gives them (GMime's reading, so an
 * outbound Message-ID recorded with this matches an inbound reference).
 * malloc'd, at most MIME_MAX_FIELD bytes; NULL if the value has none.
 */
char *mime_msgid(const char *raw);

/* Free a summary and everything in it; NULL is a no-op. */
void mime_summary_free(struct mime_summary *s);

#endif
