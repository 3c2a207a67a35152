/*
 * replycheck - hijacked reply threads and backscatter (see replycheck.h
 * for the rules; docs/design/content.md for why).
 */
#include "core/replycheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mailauth.h"
#include "core/sentlog.h"
#include "mail/dsn.h"
#include "mail/mime.h"
#include "util/config.h"
#include "util/xalloc.h"

#define DAY 86400

/* Add a reason; detail is printf-formatted. */
__attribute__((format(printf, 5, 6)))
static void add(struct replycheck *out, const char *name,
		enum content_label label, int points, const char *fmt, ...)
{
	struct replycheck_reason *r;
	va_list ap;

	if (out->n == REPLYCHECK_MAX)
		return;
	r = &out->r[out->n++];
	r->name = name;
	r->label = label;
	r->points = points;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* Whole days from then to now (0 if then is later). */
static long days(int64_t now, int64_t then)
{
	return now > then ? (long)((now - then) / DAY) : 0;
}

/* A bounce, receipt or auto-reply: ours, backscatter, or unknown. */
static void judge_report(const struct sentlog *sl,
			 const struct replycheck_in *in,
			 const struct dsn_info *d, struct replycheck *out)
{
	const char *ids[DSN_MAX_IDS];
	struct sentlog_query q = { .ids = ids, .n_ids = d->n_ids,
				   .now = in->now };
	struct sentlog_match m;
	int64_t since;
	size_t i;
	char what[48];

	if (d->n_ids == 0)
		return;		/* nothing to look up: not judged */
	for (i = 0; i < d->n_ids; i++)
		ids[i] = d->ids[i];
	if (sentlog_match(sl, &q, &m) != 0)
		return;
	if (d->action[0])
		snprintf(what, sizeof(what), "%s, %s%s%s", dsn_kind_name(d->kind),
			 d->action, d->status[0] ? " " : "", d->status);
	else
		snprintf(what, sizeof(what), "%s", dsn_kind_name(d->kind));
	if (m.matched) {
		add(out, "bounce-of-sent", CONTENT_NLABELS, REPLYCHECK_OWN_POINTS,
		    "%s for a message sent from here %ld days ago", what,
		    days(in->now, m.newest));
		return;
	}
	since = sentlog_since(sl);
	if (since == 0 || in->now - since < in->warmup)
		return;		/* the log is too young to say "never" */
	add(out, "backscatter", CONTENT_BACKSCATTER,
	    REPLYCHECK_BACKSCATTER_POINTS,
	    "%s (%s) for a message never sent from here", what,
	    dsn_why_name(d->why));
	out->backscatter = true;
}

/* Was the List-Post address of the message a recipient of the thread? */
static bool via_list(const struct sentlog *sl, const struct replycheck_in *in,
		     const struct sentlog_query *q)
{
	struct sentlog_query lq = *q;
	struct sentlog_match lm;

	if (!in->mime->list_post[0])
		return false;
	lq.addr = in->mime->list_post;
	return sentlog_match(sl, &lq, &lm) == 0 && lm.addr_rcpt;
}

/* A reply: was its From part of the thread it answers? */
static void judge_thread(const struct sentlog *sl,
			 const struct replycheck_in *in, struct replycheck *out)
{
	const struct mime_summary *s = in->mime;
	const char **ids, *cc[SENTLOG_CC_MAX];
	struct sentlog_query q = { .now = in->now, .cc = cc };
	struct sentlog_match m;
	enum content_label label;
	size_t i, n = 0;
	long age;

	if (s->from.n == 0 || !s->from.v[0].addr[0])
		return;
	ids = xcalloc(s->n_references + 1, sizeof(*ids));
	if (s->in_reply_to[0])
		ids[n++] = s->in_reply_to;
	for (i = s->n_references; i-- > 0;)	/* newest first */
		ids[n++] = s->references[i];
	q.ids = ids;
	q.n_ids = n;
	q.addr = s->from.v[0].addr;
	/* Whom the reply goes to: a reply-all copies the thread. */
	for (i = 0; i < s->to.n + s->cc.n && q.n_cc < SENTLOG_CC_MAX; i++) {
		const char *a = i < s->to.n ? s->to.v[i].addr :
					      s->cc.v[i - s->to.n].addr;

		if (strcasecmp(a, q.addr) != 0)
			cc[q.n_cc++] = a;
	}
	if (n == 0 || sentlog_match(sl, &q, &m) != 0 || m.matched == 0) {
		free(ids);
		return;
	}
	age = days(in->now, m.newest);
	label = s->n_attachments > 0 ? CONTENT_MALWARE : CONTENT_SPOOFING;
	if (m.addr_sent || m.addr_rcpt) {
		/* Only an authenticated From earns the credit: a forged
		 * correspondent's address must not buy points. */
		add(out, "thread-reply", CONTENT_NLABELS,
		    in->from_aligned ? REPLYCHECK_REPLY_POINTS : 0,
		    "reply from a correspondent of a message sent from here "
		    "%ld days ago%s", age,
		    in->from_aligned ? "" : " (no DMARC pass: no credit)");
	} else if (via_list(sl, in, &q)) {
		add(out, "thread-list", CONTENT_NLABELS, 0,
		    "reply through a mailing list a message sent from here "
		    "went to");
	} else if (m.domain_rcpt && in->from_aligned) {
		add(out, "thread-colleague", CONTENT_NLABELS, 0,
		    "reply from the correspondent's domain (DMARC pass), not "
		    "from a correspondent");
	} else if (m.cut) {
		/* The From may be a recipient the log did not keep. */
	} else if (m.domain_rcpt) {
		add(out, "thread-hijack", label, REPLYCHECK_HIJACK_POINTS / 2,
		    "reply to a thread from here (%ld days old) from an "
		    "address that was not in it, in the correspondent's "
		    "domain without DMARC pass", age);
		out->hijack = true;
	} else if (m.cc_rcpt) {
		add(out, "thread-hijack", label, REPLYCHECK_HIJACK_POINTS / 2,
		    "reply to a thread from here (%ld days old) from an "
		    "address that was not in it, copying its correspondents",
		    age);
		out->hijack = true;
	} else {
		add(out, "thread-hijack", label, REPLYCHECK_HIJACK_POINTS,
		    "reply to a thread from here (%ld days old) from an "
		    "address and domain that were not in it", age);
		out->hijack = true;
	}
	free(ids);
}

size_t replycheck_run(const struct sentlog *sl, const struct replycheck_in *in,
		      struct replycheck *out)
{
	struct dsn_info *d;

	memset(out, 0, sizeof(*out));
	if (!sl || !in->mime || sentlog_since(sl) == 0)
		return 0;	/* no log, off, or not loaded */
	d = xmalloc(sizeof(*d));	/* ~12 KB: off the worker's stack */
	if (dsn_read(in->mime, in->mailfrom, d) != DSN_NONE)
		judge_report(sl, in, d, out);
	else
		judge_thread(sl, in, out);
	free(d);
	return out->n;
}

size_t replycheck_content(const struct sentlog *sl,
			  const struct mime_summary *ms, const char *mailfrom,
			  const struct mailauth_verdict *auth,
			  const struct config *cfg, int label_score,
			  int64_t now, struct content_verdict *v)
{
	/* backscatter_action: reject, hold, tag, none */
	static const enum content_action floor[] = {
		CONTENT_REJECT, CONTENT_HOLD, CONTENT_TAG, CONTENT_ACCEPT
	};
	struct replycheck_in in = {
		ms, mailfrom,
		auth && strcmp(auth->dmarc_result, "pass") == 0, now,
		cfg->backscatter_warmup
	};
	struct replycheck rc;
	int act = cfg->backscatter_action;
	size_t i;

	if (!sl || replycheck_run(sl, &in, &rc) == 0)
		return 0;
	for (i = 0; i < rc.n; i++) {
		const struct replycheck_reason *r = &rc.r[i];
		int pts = r->points;

		if (r->label == CONTENT_BACKSCATTER) {
			pts = act == 3 ? 0 : label_score;
			if (act >= 0 && act < 4 && v->floor < floor[act])
				v->floor = floor[act];
		}
		content_add_reason(v, r->name, r->label, pts, "%s", r->detail);
	}
	return rc.n;
}
