/*
 * replycheck - hijacked reply threads and backscatter, judged against the
 * sent log (core/sentlog.h); docs/design/content.md has the rules and why.
 *
 * Thread hijacking (Emotet's way in: a real old thread, answered from an
 * address that never took part in it): an inbound message whose
 * In-Reply-To / References (RFC 5322 3.6.4) name messages our users sent
 * is judged by its From address against those messages:
 *   - the From was their sender or one of their recipients: a real reply
 *     (thread_reply, points in its favour);
 *   - the From's domain (or a parent of it) was a recipient's domain and
 *     the From passed DMARC: a colleague of the correspondent took the
 *     thread over (thread_colleague, no points either way);
 *   - it came through a mailing list our user wrote to (its List-Post
 *     address was a recipient): thread_list, no points;
 *   - a recipient list cut in the log (more than SENTLOG_RCPT_MAX): not
 *     judged;
 *   - anyone else: thread_hijack, label "malware" when the message
 *     carries an attachment, else "spoofing"; half the points when the
 *     From's domain was a recipient's domain without DMARC pass.
 * Bounces, receipts and auto-replies are not judged as replies.
 *
 * Backscatter: a bounce, read receipt or auto-reply (mail/dsn.h) naming
 * original Message-IDs none of which our users sent is labelled
 * "backscatter" (the caller applies backscatter_action); one naming a
 * message we sent is bounce_of_sent, in its favour (a bounce returns our
 * user's own attachments, which other checks would weigh).  Not judged:
 * no original Message-ID found, no sent log, or a log younger than
 * backscatter_warmup (mail sent before it began is not in it).
 *
 * Sans-I/O apart from the sent log's lock; any thread; output owned by
 * the caller.
 */
#ifndef MAMORI_CORE_REPLYCHECK_H
#define MAMORI_CORE_REPLYCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mime_summary;
struct sentlog;

/* Points on the content score (docs/design/content.md). */
#define REPLYCHECK_HIJACK_POINTS 8	/* a thread answered by a stranger */
#define REPLYCHECK_REPLY_POINTS (-3)	/* a reply from the correspondent */
#define REPLYCHECK_OWN_POINTS (-3)	/* a bounce of a message we sent */
#define REPLYCHECK_BACKSCATTER_POINTS 0 /* backscatter_action decides */

/* Reasons one message can get: a thread one, or a report one. */
#define REPLYCHECK_MAX 2

struct replycheck_reason {
	const char *name;	/* thread_hijack, thread_reply, ... */
	const char *label;	/* "malware", "spoofing", "backscatter", NULL */
	int points;
	char detail[192];	/* plain ASCII, no quotes or CR/LF */
};

struct replycheck {
	struct replycheck_reason r[REPLYCHECK_MAX];
	size_t n;
	bool hijack;		/* a thread_hijack reason */
	bool backscatter;	/* a backscatter reason */
};

/* What one message offers the check. */
struct replycheck_in {
	const struct mime_summary *mime;
	const char *mailfrom;	/* envelope sender; "" null; NULL unknown */
	bool from_aligned;	/* the From domain passed DMARC */
	int64_t now;
	int64_t warmup;		/* backscatter_warmup, seconds */
};

/*
 * Judge in against sl (NULL or off: nothing is judged) into *out
 * (cleared first).  Returns out->n.
 */
size_t replycheck_run(const struct sentlog *sl, const struct replycheck_in *in,
		      struct replycheck *out);

#endif
