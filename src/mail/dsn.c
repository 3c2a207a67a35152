/*
 * dsn - bounces, read receipts and auto-replies, and the Message-IDs they
 * answer (see dsn.h for the RFC sections and the limits).
 *
 * Everything is read from the MIME summary: the report markers and the
 * returned Message-ID that mime.c found while walking the tree, the text
 * of the message/delivery-status part, the text body and text attachments
 * for the Message-ID lines of bounces that are not RFC 3464 reports.
 */
#include "mail/dsn.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mail/mime.h"

/* A borrowed span of a text. */
struct span {
	const char *p;
	size_t n;
};

/* Copy span v into out[0..cap), cut to fit, lower-cased if asked. */
static void span_copy(char *out, size_t cap, struct span v, bool low)
{
	size_t i, n = v.n < cap - 1 ? v.n : cap - 1;

	for (i = 0; i < n; i++)
		out[i] = low ? (char)tolower((unsigned char)v.p[i]) : v.p[i];
	out[n] = '\0';
}

/* v without leading and trailing blanks. */
static struct span trim(struct span v)
{
	while (v.n && isspace((unsigned char)v.p[0])) {
		v.p++;
		v.n--;
	}
	while (v.n && isspace((unsigned char)v.p[v.n - 1]))
		v.n--;
	return v;
}

/* Add id (no brackets) to out's candidates unless empty, too long or
 * there already. */
static void add_id(struct dsn_info *out, const char *id, size_t n)
{
	size_t i;

	if (n == 0 || n > DSN_MAX_ID || out->n_ids == DSN_MAX_IDS)
		return;
	for (i = 0; i < out->n_ids; i++)
		if (strlen(out->ids[i]) == n && memcmp(out->ids[i], id, n) == 0)
			return;
	memcpy(out->ids[out->n_ids], id, n);
	out->ids[out->n_ids++][n] = '\0';
}

/* ------------------------------------------------------------------ */
/* RFC 3464 fields                                                      */

/* The rank of an action: the most final wins (failed first). */
static int action_rank(const char *a)
{
	static const char *const order[] = { "expanded", "relayed",
					     "delivered", "delayed",
					     "failed" };
	int i;

	for (i = 0; i < 5; i++)
		if (strcmp(a, order[i]) == 0)
			return i + 1;
	return 0;
}

/* Is v a status code class.subject.detail (RFC 3463 2)? */
static bool status_ok(struct span v)
{
	size_t i, digits = 0, dots = 0;

	/* class is one digit: "40.4.1" is no status (fuzz-dsn). */
	if (v.n < 5 || (v.p[0] != '2' && v.p[0] != '4' && v.p[0] != '5') ||
	    v.p[1] != '.')
		return false;
	for (i = 0; i < v.n; i++) {
		if (v.p[i] == '.') {
			if (digits == 0 || ++dots > 2)
				return false;
			digits = 0;
		} else if (isdigit((unsigned char)v.p[i]) && digits < 3) {
			digits++;
		} else {
			return false;
		}
	}
	return dots == 2 && digits > 0;
}

/* Is v a word of letters and hyphens (RFC 3464 2.3.3 action-value)? */
static bool token_ok(struct span v)
{
	size_t i;

	for (i = 0; i < v.n; i++)
		if (!isalpha((unsigned char)v.p[i]) && v.p[i] != '-')
			return false;
	return v.n > 0;
}

/* The first word of v: up to a blank or a comment's "(". */
static struct span first_word(struct span v)
{
	struct span w = { v.p, 0 };

	while (w.n < v.n && !isspace((unsigned char)v.p[w.n]) &&
	       v.p[w.n] != '(')
		w.n++;
	return w;
}

/* One recipient's fields while they are read. */
struct rcpt_state {
	struct dsn_rcpt r;
	bool final, orig, action, status;	/* fields seen */
};

/* Keep the recipient read so far, if it had a field, and start anew. */
static void rcpt_commit(struct dsn_info *out, struct rcpt_state *st)
{
	if (st->final || st->orig || st->action || st->status) {
		if (out->n_rcpt < DSN_MAX_RCPT) {
			int a = action_rank(st->r.action),
			    b = action_rank(out->action);

			out->rcpt[out->n_rcpt++] = st->r;
			/* The most final action; at equal rank, a status
			 * where there was none. */
			if (a > b || (a == b && !out->status[0])) {
				memcpy(out->action, st->r.action,
				       sizeof(out->action));
				memcpy(out->status, st->r.status,
				       sizeof(out->status));
			}
		} else {
			out->rcpt_cut = true;
		}
	}
	memset(st, 0, sizeof(*st));
}

/* The address of "type ; address" (RFC 3464 2.3.1, 2.3.2). */
static struct span typed_addr(struct span v)
{
	const char *semi = memchr(v.p, ';', v.n);

	if (semi) {
		v.n -= (size_t)(semi + 1 - v.p);
		v.p = semi + 1;
	}
	v = trim(v);
	if (v.n >= 2 && v.p[0] == '<' && v.p[v.n - 1] == '>') {
		v.p++;
		v.n -= 2;
	}
	return v;
}

/* One unfolded field of the delivery-status text. */
static void status_field(struct dsn_info *out, struct rcpt_state *st,
			 struct span name, struct span v)
{
	struct span tok;

	v = trim(v);
	if (name.n == 15 && strncasecmp(name.p, "final-recipient", 15) == 0) {
		if (st->final)
			rcpt_commit(out, st);
		st->final = true;
		span_copy(st->r.addr, sizeof(st->r.addr), typed_addr(v), true);
	} else if (name.n == 18 &&
		   strncasecmp(name.p, "original-recipient", 18) == 0) {
		if (st->orig)
			rcpt_commit(out, st);
		st->orig = true;
		if (!st->final)	/* Final-Recipient is the one to report */
			span_copy(st->r.addr, sizeof(st->r.addr),
				  typed_addr(v), true);
	} else if (name.n == 6 && strncasecmp(name.p, "action", 6) == 0) {
		if (st->action)
			rcpt_commit(out, st);
		st->action = true;
		tok = first_word(v);
		if (token_ok(tok))	/* an action-value is a word */
			span_copy(st->r.action, sizeof(st->r.action), tok,
				  true);
	} else if (name.n == 6 && strncasecmp(name.p, "status", 6) == 0) {
		if (st->status)
			rcpt_commit(out, st);
		st->status = true;
		tok = first_word(v);
		if (status_ok(tok))
			span_copy(st->r.status, sizeof(st->r.status), tok,
				  false);
	}
}

/*
 * The per-recipient groups of a message/delivery-status text (RFC 3464
 * 2.1: groups separated by blank lines).  A field seen twice in a group
 * also starts a new one: reports without the blank lines exist.
 */
static void read_status(struct dsn_info *out, const char *t)
{
	struct rcpt_state st;
	struct span name = { NULL, 0 }, val = { NULL, 0 };
	const char *line = t, *nl, *colon;
	size_t n;

	memset(&st, 0, sizeof(st));
	/* The step is taken before a CR is cut from n: a last line of a
	 * lone "\r" would otherwise be n == 0 forever (fuzz-dsn). */
	for (; *line; line = nl ? nl + 1 : line + strlen(line)) {
		nl = strchr(line, '\n');
		n = nl ? (size_t)(nl - line) : strlen(line);
		if (n && line[n - 1] == '\r')
			n--;
		if (n && (line[0] == ' ' || line[0] == '\t')) {
			if (name.p)	/* folded: part of the field before */
				val.n = (size_t)(line + n - val.p);
			continue;
		}
		if (name.p)
			status_field(out, &st, name, val);
		name.p = NULL;
		if (n == 0) {
			rcpt_commit(out, &st);
			continue;
		}
		colon = memchr(line, ':', n);
		if (!colon)
			continue;
		name.p = line;
		name.n = (size_t)(colon - line);
		name = trim(name);
		val.p = colon + 1;
		val.n = (size_t)(line + n - val.p);
		if (!nl)
			break;
	}
	if (name.p)
		status_field(out, &st, name, val);
	rcpt_commit(out, &st);
}

/* ------------------------------------------------------------------ */
/* Message-ID lines quoted in a bounce's text                           */

/* The msg-id of a "Message-ID: <...>" line at line[0..n), quotes and
 * blanks before it allowed; false if the line is no such thing. */
static bool quoted_msgid(struct span l, struct span *id)
{
	const char *lt, *gt;

	while (l.n && (l.p[0] == ' ' || l.p[0] == '\t' || l.p[0] == '>')) {
		l.p++;
		l.n--;
	}
	if (l.n < 11 || strncasecmp(l.p, "message-id:", 11) != 0)
		return false;
	l.p += 11;
	l.n -= 11;
	lt = memchr(l.p, '<', l.n);
	if (!lt)
		return false;
	gt = memchr(lt, '>', l.n - (size_t)(lt - l.p));
	if (!gt || gt == lt + 1)
		return false;
	id->p = lt + 1;
	id->n = (size_t)(gt - lt - 1);
	/* No blank, control byte or NUL: the text may be an attachment's
	 * binary bytes, and a NUL would cut the kept id short (fuzz-dsn). */
	for (size_t i = 0; i < id->n; i++)
		if ((unsigned char)id->p[i] <= ' ' || id->p[i] == 0x7f ||
		    id->p[i] == '<')
			return false;
	return true;
}

/* Add the Message-ID lines of text[0..len) (first DSN_MAX_SCAN bytes). */
static void scan_text(struct dsn_info *out, const char *text, size_t len)
{
	const char *line = text, *end, *nl;
	struct span id;

	if (!text)
		return;
	end = text + (len < DSN_MAX_SCAN ? len : DSN_MAX_SCAN);
	for (; line < end && out->n_ids < DSN_MAX_IDS; line = nl + 1) {
		struct span l = { line, 0 };

		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		l.n = (size_t)(nl - line);
		if (quoted_msgid(l, &id))
			add_id(out, id.p, id.n);
	}
}

/* ------------------------------------------------------------------ */
/* Classification                                                       */

/* Is the first From's local part MAILER-DAEMON or postmaster? */
static bool from_daemon(const struct mime_summary *s)
{
	const char *a, *at;
	size_t n;

	if (s->from.n == 0)
		return false;
	a = s->from.v[0].addr;
	at = strrchr(a, '@');
	n = at ? (size_t)(at - a) : strlen(a);
	return (n == 13 && strncasecmp(a, "mailer-daemon", 13) == 0) ||
	       (n == 10 && strncasecmp(a, "postmaster", 10) == 0);
}

/* Decide the kind and why. */
static void classify(const struct mime_summary *s, const char *mailfrom,
		     struct dsn_info *out)
{
	/* NULL: the envelope is unknown (a stored file): not null. */
	bool null_sender = mailfrom && mailfrom[0] == '\0';

	if (s->is_dsn) {
		out->kind = DSN_BOUNCE;
		out->why = DSN_WHY_REPORT;
	} else if (s->is_mdn) {
		out->kind = DSN_RECEIPT;
		out->why = DSN_WHY_MDN;
	} else if ((null_sender || !mailfrom) && from_daemon(s)) {
		out->kind = DSN_BOUNCE;
		out->why = DSN_WHY_LEGACY;
	} else if (strcmp(s->auto_submitted_value, "auto-replied") == 0) {
		out->kind = DSN_AUTOREPLY;
		out->why = DSN_WHY_AUTO_REPLIED;
	} else if (s->x_autoreply ||
		   strcmp(s->precedence, "auto_reply") == 0) {
		out->kind = DSN_AUTOREPLY;
		out->why = DSN_WHY_MARKER;
	} else if (null_sender) {
		out->kind = DSN_AUTOREPLY;
		out->why = DSN_WHY_NULL_SENDER;
	}
}

enum dsn_kind dsn_read(const struct mime_summary *s, const char *mailfrom,
		       struct dsn_info *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	classify(s, mailfrom, out);
	if (out->kind == DSN_NONE)
		return DSN_NONE;
	/* Best first: what the report returns names the original exactly;
	 * In-Reply-To is what RFC 3834 3.1.5 asks a responder to set. */
	if (out->kind != DSN_AUTOREPLY)
		add_id(out, s->report_message_id,
		       strlen(s->report_message_id));
	add_id(out, s->in_reply_to, strlen(s->in_reply_to));
	for (i = s->n_references; i-- > 0;)
		add_id(out, s->references[i], strlen(s->references[i]));
	if (out->kind == DSN_BOUNCE) {
		add_id(out, s->inner_message_id, strlen(s->inner_message_id));
		if (out->n_ids == 0) {
			scan_text(out, s->text, s->text_len);
			for (i = 0; i < s->n_attachments; i++)
				if (strncmp(s->attachments[i].content_type,
					    "text/", 5) == 0)
					scan_text(out, (const char *)
						  s->attachments[i].data,
						  s->attachments[i].data_len);
		}
		read_status(out, s->report_fields);
	}
	return out->kind;
}

const char *dsn_kind_name(enum dsn_kind k)
{
	switch (k) {
	case DSN_BOUNCE:
		return "bounce";
	case DSN_RECEIPT:
		return "receipt";
	case DSN_AUTOREPLY:
		return "auto-reply";
	case DSN_NONE:
		break;
	}
	return "none";
}

const char *dsn_why_name(enum dsn_why w)
{
	switch (w) {
	case DSN_WHY_REPORT:
		return "report";
	case DSN_WHY_LEGACY:
		return "legacy-bounce";
	case DSN_WHY_MDN:
		return "mdn";
	case DSN_WHY_AUTO_REPLIED:
		return "auto-replied";
	case DSN_WHY_MARKER:
		return "autoreply-header";
	case DSN_WHY_NULL_SENDER:
		return "null-sender";
	case DSN_WHY_NONE:
		break;
	}
	return "none";
}
