/*
 * replycheck - hijacked reply threads and backscatter, judged against the
 * sent log (core/sentlog.h); docs/design/content.md has the rules and why.
 *
 * Thread hijacking (Emotet's way in: a real old thread, answered from an
 * address that never took part in it): an inbound message whose
 * In-Reply-To / References (RFC 5322 3.6.4) name messages our users sent
 * is judged by its From address against those messages:
 *   - the From was their sender or one of their recipients: a real reply
 *     (thread-reply, points in its favour when the From passed DMARC,
 *     none otherwise: a forged correspondent's address buys nothing);
 *   - the From's domain (or a parent of it) was a recipient's domain and
 *     the From passed DMARC: a colleague of the correspondent took the
 *     thread over (thread-colleague, no points either way);
 *   - it came through a mailing list our user wrote to (its List-Post
 *     address was a recipient): thread-list, no points;
 *   - a recipient list cut in the log (more than SENTLOG_RCPT_MAX): not
 *     judged;
 *   - anyone else: thread-hijack, label "malware" when the message
 *     carries an attachment, else "spoofing"; half the points when the
 *     From's domain was a recipient's domain without DMARC pass, or when
 *     the reply copies the thread's recipients (a reply-all from a list
 *     member, a colleague added on their side).
 * Bounces, receipts and auto-replies are not judged as replies.
 *
 * Backscatter: a bounce, read receipt or auto-reply (mail/dsn.h) naming
 * original Message-IDs none of which our users sent is labelled
 * "backscatter" (the caller applies backscatter_action); one naming a
 * message we sent is bounce-of-sent, in its favour (a bounce returns our
 * user's own attachments, which other checks would weigh).  Not judged:
 * no original Message-ID found, no sent log, or a log younger than
 * backscatter_warmup (mail sent before it began is not in it).
 *
 * The reasons go into the content verdict (core/content.h) through
 * replycheck_content; replycheck_run gives them alone (tests, and any
 * other caller).  Sans-I/O apart from the sent log's lock; any thread;
 * output owned by the caller.
 */
#ifndef MAMORI_CORE_REPLYCHECK_H
#define MAMORI_CORE_REPLYCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/content.h"

struct config;
struct mailauth_verdict;
struct mime_summary;
struct sentlog;

/* Points on the content score (docs/design/content.md). */
#define REPLYCHECK_HIJACK_POINTS 8	/* a thread answered by a stranger */
#define REPLYCHECK_REPLY_POINTS (-3)	/* a reply from the correspondent */
#define REPLYCHECK_OWN_POINTS (-3)	/* a bounce of a message we sent */
/* Backscatter: the default content_label_score, so the label attaches;
 * backscatter_action, not the score, decides what happens. */
#define REPLYCHECK_BACKSCATTER_POINTS 4

/* Reasons one message can get: a thread one, or a report one. */
#define REPLYCHECK_MAX 2

struct replycheck_reason {
	const char *name;	/* thread-hijack, thread-reply, ... */
	enum content_label label;	/* CONTENT_NLABELS: none */
	int points;
	char detail[192];	/* plain ASCII, no quotes or CR/LF */
};

struct replycheck {
	struct replycheck_reason r[REPLYCHECK_MAX];
	size_t n;
	bool hijack;		/* a thread-hijack reason */
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

/*
 * The check inside the content verdict (core/inbound.c, between
 * content_check and content_decide): judge ms (envelope sender mailfrom,
 * DMARC from auth, may be NULL) against sl at now with cfg's
 * backscatter_warmup, and append the reasons to v.  Backscatter gets
 * label_score points (the label attaches) and raises v->floor by
 * cfg->backscatter_action (reject, hold, tag: X-Mamori-Verdict names the
 * label, for a Sieve rule) or, with none, 0 points and no action.  sl
 * NULL (mamori scan): nothing.  Returns the reasons appended.
 */
size_t replycheck_content(const struct sentlog *sl,
			  const struct mime_summary *ms, const char *mailfrom,
			  const struct mailauth_verdict *auth,
			  const struct config *cfg, int label_score,
			  int64_t now, struct content_verdict *v);

#endif
