/*
 * dsn - is this message a bounce, a read receipt or an auto-reply, and
 * which message of ours does it answer?  The backscatter check reads it:
 * a bounce or auto-reply whose original Message-ID our user never sent
 * is backscatter (docs/design/content.md).  Sans-I/O: a MIME summary
 * (mail/mime.h, one GMime parse shared by every check) and the envelope
 * sender in, a struct out; no logging, no allocation.
 *
 * What it reads:
 *  - RFC 3464 delivery status notifications: multipart/report;
 *    report-type=delivery-status (RFC 6522), the message/delivery-status
 *    fields (2.2 per message, 2.3 per recipient: Final-Recipient, Action,
 *    Status), the returned message's Message-ID from its message/rfc822
 *    or text/rfc822-headers part (mime.c finds it);
 *  - bounces that are not RFC 3464 (qmail, old Exchange, many Japanese
 *    providers' servers): the null reverse-path (RFC 5321 4.5.5) with a
 *    MAILER-DAEMON or postmaster From, the returned Message-ID found as a
 *    "Message-ID:" line in the text body, where these bounces quote the
 *    original header;
 *  - RFC 8098 disposition notifications (read receipts), by their
 *    Original-Message-ID;
 *  - RFC 3834 automatic responses: Auto-Submitted: auto-replied (5), the
 *    responders' own markers (X-Autoreply, X-Autorespond, Precedence:
 *    auto_reply), or any other message with a null reverse-path (3.3 asks
 *    responders for one), answering the message named by In-Reply-To or
 *    References (3.1.5).  Auto-Submitted: auto-generated is a notice, not
 *    a response (5.1), and is not classified.
 *
 * Limits: DSN_MAX_IDS original Message-IDs (the candidates are In-Reply-To,
 * the report's returned Message-ID, the last References, body lines) and
 * DSN_MAX_RCPT recipients of a report are kept; DSN_MAX_ID bytes per id
 * (a longer one is cut and cannot match a sent one: such an id is skipped);
 * the text body is scanned for Message-ID lines in its first
 * DSN_MAX_SCAN bytes only (a bounce quotes the header near its top).
 *
 * Threading: dsn_read() touches nothing shared; any thread.
 */
#ifndef MAMORI_MAIL_DSN_H
#define MAMORI_MAIL_DSN_H

#include <stdbool.h>
#include <stddef.h>

struct mime_summary;

/* Original Message-IDs kept: In-Reply-To, the report's, 6 more. */
#define DSN_MAX_IDS 8
/* Bytes of one msg-id: RFC 5322 2.1.1 lines stop at 998. */
#define DSN_MAX_ID 998
/* Recipients of a report kept: bounces name one to a few. */
#define DSN_MAX_RCPT 16
/* Text body bytes scanned for a quoted Message-ID line: 64 KiB. */
#define DSN_MAX_SCAN (64u << 10)

enum dsn_kind {
	DSN_NONE = 0,	   /* an ordinary message */
	DSN_BOUNCE,	   /* a delivery status notification (or a bounce) */
	DSN_RECEIPT,	   /* an RFC 8098 disposition notification */
	DSN_AUTOREPLY,	   /* an RFC 3834 automatic response */
};

/* Which marker decided the kind (for the reason text). */
enum dsn_why {
	DSN_WHY_NONE = 0,
	DSN_WHY_REPORT,		/* multipart/report, delivery-status */
	DSN_WHY_LEGACY,		/* null sender, MAILER-DAEMON/postmaster */
	DSN_WHY_MDN,		/* disposition-notification */
	DSN_WHY_AUTO_REPLIED,	/* Auto-Submitted: auto-replied */
	DSN_WHY_MARKER,		/* X-Autoreply, X-Autorespond, Precedence */
	DSN_WHY_NULL_SENDER,	/* another message with a null sender */
};

/* One recipient of a report (RFC 3464 2.3). */
struct dsn_rcpt {
	char addr[256];		/* Final-Recipient (or Original-), lower case */
	char action[12];	/* failed, delayed, delivered, relayed, ... */
	char status[12];	/* 5.1.1 ... ("" if absent or malformed) */
};

struct dsn_info {
	enum dsn_kind kind;
	enum dsn_why why;
	/* Original Message-IDs, without brackets, best candidate first. */
	char ids[DSN_MAX_IDS][DSN_MAX_ID + 1];
	size_t n_ids;
	/* Report recipients (kind DSN_BOUNCE with a delivery-status part). */
	struct dsn_rcpt rcpt[DSN_MAX_RCPT];
	size_t n_rcpt;
	bool rcpt_cut;		/* more recipients than DSN_MAX_RCPT */
	/* The most final action over the recipients ("" if none):
	 * failed > delayed > delivered > relayed > expanded. */
	char action[12];
	char status[12];	/* the status that went with it */
};

/*
 * Read s (a whole inbound message's summary) and mailfrom (the envelope
 * sender, "" for the null reverse-path; NULL: unknown, e.g. a stored file)
 * into *out.  Returns out->kind.
 */
enum dsn_kind dsn_read(const struct mime_summary *s, const char *mailfrom,
		       struct dsn_info *out);

/* "bounce", "receipt", "auto-reply" or "none". */
const char *dsn_kind_name(enum dsn_kind k);

/* A short name of why: "report", "legacy-bounce", "mdn", ... */
const char *dsn_why_name(enum dsn_why w);

#endif
