/*
 * mime - the bounded message summary on GMime 3 (see mime.h for the RFCs,
 * the limits and the threading rule).
 *
 * One parse: GMime builds the tree over the input bytes where they are
 * (a stream that does not own them; its parts are views into it), or over
 * the thinned copy drop_fields makes, then walk() visits it depth-first with
 * explicit depth and part limits, decoding each leaf through a bounded
 * read of a filter stream so no part is ever decoded whole.  GMime is
 * handed the top-level header fields the summary reads and no others
 * (drop_fields): it makes objects for every field it sees.  Text in any
 * charset becomes UTF-8 in mime_charset.c.
 */
#include "mail/mime.h"
#include "mail/mime-internal.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>

#include <gmime/gmime.h>

#include "util/buf.h"
#include "util/xalloc.h"

/* A text/rfc822-headers or notification part is read up to this: 64 KiB. */
#define MIME_MAX_REPORT_FIELDS (64u << 10)
/* Read granularity of the decoding stream. */
#define CHUNK 8192

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

/* The state of one parse. */
struct walk {
	struct mime_summary *s;
	GMimeParserOptions *opts;
	struct buf text, html;
	size_t att_cap;
	bool in_report;	    /* below a top-level multipart/report */
	unsigned msg_level; /* message/rfc822 parts we are inside */
};

/* g_mime_init and the charset tables (mime_charset.c), once per process. */
static void init_once(void)
{
	g_mime_init();
	mime_charset_init();
}

void mime_init(void)
{
	pthread_once(&mime_once, init_once);
}

/* Length of the longest prefix of s (n bytes) ending on a UTF-8 boundary
 * and at most max bytes. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	size_t k;

	if (n <= max)
		return n;
	k = max;
	/* Step back over continuation bytes so a sequence is never split. */
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return k;
}

/* A bounded, valid-UTF-8 copy of s ("" for NULL). */
static char *field_dup(const char *s)
{
	size_t n, k;
	char *v, *out;

	if (s == NULL)
		return xstrdup("");
	n = strlen(s);
	k = utf8_cut(s, n, MIME_MAX_FIELD);
	v = g_utf8_make_valid(s, (gssize)k);
	out = xstrdup(v);
	g_free(v);
	return out;
}

/* Lower-case s in place (ASCII). */
static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Copy an InternetAddressList into l, flattening groups, at most
 * MIME_MAX_ADDRS mailboxes. */
static void copy_addrs(struct walk *w, InternetAddressList *il,
		       struct mime_addr_list *l)
{
	int i, j, n, m;
	size_t want = 0;

	n = il ? internet_address_list_length(il) : 0;
	/* room for what will be copied (at least one zeroed entry): most
	 * lists hold one address, not MIME_MAX_ADDRS */
	for (i = 0; i < n && want < MIME_MAX_ADDRS; i++) {
		InternetAddress *ia = internet_address_list_get_address(il, i);
		InternetAddressList *members =
			INTERNET_ADDRESS_IS_GROUP(ia) ?
				internet_address_group_get_members(
					INTERNET_ADDRESS_GROUP(ia)) :
				NULL;

		want += members ?
				(size_t)internet_address_list_length(members) :
				1;
	}
	l->v = xcalloc(want == 0 ? 1 :
		       want < MIME_MAX_ADDRS ? want : MIME_MAX_ADDRS,
		       sizeof(*l->v));
	for (i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(il, i);
		InternetAddressList *members = NULL;

		if (INTERNET_ADDRESS_IS_GROUP(ia))
			members = internet_address_group_get_members(
				INTERNET_ADDRESS_GROUP(ia));
		m = members ? internet_address_list_length(members) : 1;
		for (j = 0; j < m; j++) {
			InternetAddress *mb =
				members ? internet_address_list_get_address(
						  members, j) :
					  ia;

			if (!INTERNET_ADDRESS_IS_MAILBOX(mb))
				continue; /* a group in a group: RFC says no */
			if (l->n == MIME_MAX_ADDRS) {
				w->s->flags |= MIME_F_ADDRS;
				return;
			}
			l->v[l->n].name =
				field_dup(internet_address_get_name(mb));
			l->v[l->n].addr =
				field_dup(internet_address_mailbox_get_addr(
					INTERNET_ADDRESS_MAILBOX(mb)));
			l->n++;
		}
	}
}

/* The raw value of top-level field fname if it holds 8-bit bytes. */
static const char *raw_8bit(GMimeMessage *msg, const char *fname)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	GMimeHeader *h = hl ? g_mime_header_list_get_header(hl, fname) : NULL;
	const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
	const unsigned char *q;

	for (q = (const unsigned char *)raw; q != NULL && *q; q++)
		if (*q >= 0x80)
			return raw;
	return NULL;
}

/* How many top-level fields are named fname. */
static int field_count(GMimeHeaderList *hl, const char *fname)
{
	int i, n = g_mime_header_list_get_count(hl), c = 0;

	for (i = 0; i < n; i++)
		if (g_ascii_strcasecmp(g_mime_header_get_name(
			g_mime_header_list_get_header_at(hl, i)), fname) == 0)
			c++;
	return c;
}

/*
 * The addresses of header field fname (its first occurrence), parsed from
 * the raw value, with raw 8-bit bytes made UTF-8 first: GMime's address
 * parser drops bytes it cannot place, and a CP932 trail byte can even
 * look like ASCII.  GMime parsed the field already while building the
 * message (from the raw value of its last occurrence, with a clone of
 * w->opts): where that is the same input (one occurrence, valid UTF-8)
 * its list is taken instead of parsing a second time.
 */
static void read_addrs(struct walk *w, GMimeMessage *msg, const char *fname,
		       GMimeAddressType type, struct mime_addr_list *l)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	GMimeHeader *h = hl ? g_mime_header_list_get_header(hl, fname) : NULL;
	const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
	InternetAddressList *il;
	size_t n;
	char *u;

	if (raw == NULL) {
		copy_addrs(w, NULL, l);
		return;
	}
	n = strlen(raw);
	if (g_utf8_validate(raw, (gssize)n, NULL) &&
	    field_count(hl, fname) == 1) {
		copy_addrs(w, g_mime_message_get_addresses(msg, type), l);
		return;
	}
	u = mime_charset_8bit(w->opts, raw, n);
	il = internet_address_list_parse(w->opts, u);
	copy_addrs(w, il, l);
	if (il != NULL)
		g_object_unref(il);
	g_free(u);
}

/* The first msg-id of a header value, without brackets (NULL if none). */
static char *first_msgid(GMimeParserOptions *opts, const char *v)
{
	GMimeReferences *r;
	char *out = NULL;

	if (v == NULL)
		return NULL;
	r = g_mime_references_parse(opts, v);
	if (r == NULL)
		return NULL;
	if (g_mime_references_length(r) > 0)
		out = field_dup(g_mime_references_get_message_id(r, 0));
	g_mime_references_free(r);
	return out;
}

/* The address of the first <mailto:ADDR> of a List-Post value ("" if
 * none), lower case, without ?query. */
static char *list_post(const char *v)
{
	const char *p = v ? strstr(v, "<") : NULL;
	size_t n;
	char *out;

	if (p == NULL || g_ascii_strncasecmp(p + 1, "mailto:", 7) != 0)
		return xstrdup("");
	p += 8;
	n = strcspn(p, ">?, \t\r\n");
	out = xstrndup(p, n < MIME_MAX_FIELD ? n : MIME_MAX_FIELD);
	lower(out);
	return out;
}

/* Fill the top-level header fields of the summary from msg. */
static void read_headers(struct walk *w, GMimeMessage *msg)
{
	struct mime_summary *s = w->s;
	GMimeObject *o = GMIME_OBJECT(msg);
	const char *v;
	GMimeReferences *r;
	int i, n;

	if ((v = raw_8bit(msg, "Subject")) != NULL) {
		/* Raw 8-bit text, perhaps with encoded words in it too. */
		char *u = mime_charset_8bit(w->opts, v, strlen(v));
		char *d = g_mime_utils_header_decode_text(w->opts, u);

		g_strstrip(d);
		s->subject = field_dup(d);
		g_free(d);
		g_free(u);
	} else {
		s->subject = field_dup(g_mime_message_get_subject(msg));
	}
	s->message_id = field_dup(g_mime_message_get_message_id(msg));
	s->in_reply_to =
		first_msgid(w->opts, g_mime_object_get_header(o, "In-Reply-To"));
	if (s->in_reply_to == NULL)
		s->in_reply_to = xstrdup("");
	s->references = xcalloc(MIME_MAX_REFS, sizeof(char *));
	v = g_mime_object_get_header(o, "References");
	if (v != NULL && (r = g_mime_references_parse(w->opts, v)) != NULL) {
		n = g_mime_references_length(r);
		for (i = 0; i < n; i++) {
			if (s->n_references == MIME_MAX_REFS) {
				s->flags |= MIME_F_REFS;
				break;
			}
			s->references[s->n_references++] = field_dup(
				g_mime_references_get_message_id(r, i));
		}
		g_mime_references_free(r);
	}
	read_addrs(w, msg, "From", GMIME_ADDRESS_TYPE_FROM,
		   &s->from);
	read_addrs(w, msg, "Reply-To", GMIME_ADDRESS_TYPE_REPLY_TO,
		   &s->reply_to);
	read_addrs(w, msg, "To", GMIME_ADDRESS_TYPE_TO,
		   &s->to);
	read_addrs(w, msg, "Cc", GMIME_ADDRESS_TYPE_CC,
		   &s->cc);

	/* RFC 3834 5: "no" (or absence) means a human sent it. */
	v = g_mime_object_get_header(o, "Auto-Submitted");
	s->auto_submitted_value = field_dup(v);
	g_strstrip(s->auto_submitted_value);
	lower(s->auto_submitted_value);
	s->auto_submitted_value[strcspn(s->auto_submitted_value, "; \t(")] =
		'\0';
	s->auto_submitted = s->auto_submitted_value[0] != '\0' &&
			    strcmp(s->auto_submitted_value, "no") != 0;

	/* Responders' own markers (vacation, Exchange, qmail). */
	s->precedence = field_dup(g_mime_object_get_header(o, "Precedence"));
	g_strstrip(s->precedence);
	lower(s->precedence);
	s->x_autoreply = g_mime_object_get_header(o, "X-Autoreply") != NULL ||
			 g_mime_object_get_header(o, "X-Autorespond") != NULL;
	s->list_post = list_post(g_mime_object_get_header(o, "List-Post"));
}

/*
 * Transfer-decode part's content into out (NULL: count only), keeping at
 * most keep bytes and reading within the MIME_MAX_DECODED budget; with
 * count_all it reads on past keep to learn the size.  Returns the decoded
 * bytes read; *more is set when content was left out of out.
 */
static size_t decode_part(struct walk *w, GMimePart *part, struct buf *out,
			  size_t keep, bool count_all, bool *more)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeContentEncoding enc;
	GMimeStream *raw, *fs;
	char chunk[CHUNK];
	size_t total = 0;
	ssize_t r;

	*more = false;
	if (dw == NULL || (raw = g_mime_data_wrapper_get_stream(dw)) == NULL)
		return 0;
	g_mime_stream_reset(raw);
	enc = g_mime_data_wrapper_get_encoding(dw);
	if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
	    enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		GMimeFilter *f = g_mime_filter_basic_new(enc, FALSE);

		fs = g_mime_stream_filter_new(raw);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
		g_object_unref(f);
	} else {
		/* nothing to decode: the part's own stream, read as it is
		 * (a filter stream without filters passes the same bytes) */
		fs = g_object_ref(raw);
	}
	for (;;) {
		size_t budget = MIME_MAX_DECODED - w->s->bytes_decoded;
		size_t want = budget < sizeof(chunk) ? budget : sizeof(chunk);
		size_t room, k;

		if (want == 0) {
			/* Anything left?  One byte tells (not counted). */
			if (g_mime_stream_read(fs, chunk, 1) > 0) {
				w->s->flags |= MIME_F_DECODED;
				*more = true;
			}
			break;
		}
		r = g_mime_stream_read(fs, chunk, want);
		if (r <= 0)
			break;
		w->s->bytes_decoded += (size_t)r;
		total += (size_t)r;
		room = out != NULL && out->len < keep ? keep - out->len : 0;
		k = (size_t)r < room ? (size_t)r : room;
		if (k > 0)
			buf_append(out, chunk, k);
		if (k < (size_t)r) {
			*more = true;
			if (!count_all)
				break;
		}
	}
	g_object_unref(fs);
	return total;
}

/* Append a text part's UTF-8 to body (bounded by max, flag on cut). */
static void add_body(struct walk *w, GMimePart *part, struct buf *body,
		     size_t max, unsigned flag)
{
	GMimeContentType *ct =
		g_mime_object_get_content_type(GMIME_OBJECT(part));
	const char *cs = g_mime_content_type_get_parameter(ct, "charset");
	struct buf raw;
	bool more;
	char *u = NULL, *nul;
	const char *t;
	size_t n, k;

	if (body->len >= max) {
		w->s->flags |= flag;
		return;
	}
	/* Raw bytes never shrink into UTF-8 except by invalid bytes, so
	 * the room left is all worth decoding. */
	buf_init(&raw, max - body->len);
	decode_part(w, part, &raw, max - body->len, false, &more);
	if (more)
		w->s->flags |= flag;
	/* A NUL would end the text early for every C-string reader after
	 * us and hide what follows it: make it a space. */
	for (nul = raw.len ? memchr(raw.p, '\0', raw.len) : NULL; nul != NULL;
	     nul = memchr(nul, '\0', raw.len - (size_t)(nul - raw.p)))
		*nul = ' ';
	/* text that is UTF-8 already (most) is appended without a copy */
	if (mime_charset_is_utf8(raw.p ? raw.p : "", raw.len, cs)) {
		t = raw.p ? raw.p : "";
		n = raw.len;
	} else {
		bool unknown = false;

		t = u = mime_charset_to_utf8(w->opts, raw.p ? raw.p : "",
					     raw.len, cs, &unknown);
		if (unknown)
			w->s->flags |= MIME_F_CHARSET;
		n = strlen(u);
	}
	if (body->len > 0 && n > 0 && body->len < max)
		buf_append(body, "\n", 1);
	k = utf8_cut(t, n, max - body->len);
	if (k < n)
		w->s->flags |= flag;
	buf_append(body, t, k);
	g_free(u);
	buf_deinit(&raw);
}

/* Decode a small report part (headers, notification fields) as text. */
static char *report_text(struct walk *w, GMimePart *part)
{
	struct buf raw;
	bool more;
	char *t;

	buf_init(&raw, MIME_MAX_REPORT_FIELDS);
	decode_part(w, part, &raw, MIME_MAX_REPORT_FIELDS, false, &more);
	t = xstrdup(raw.p ? raw.p : "");
	buf_deinit(&raw);
	return t;
}

/* The Message-ID of a header block given as text (text/rfc822-headers). */
static void report_headers(struct walk *w, GMimePart *part)
{
	char *t = report_text(w, part);
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(t, strlen(t));
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(p, w->opts);

	if (m != NULL) {
		const char *id = g_mime_message_get_message_id(m);

		if (id != NULL && w->s->report_message_id[0] == '\0') {
			free(w->s->report_message_id);
			w->s->report_message_id = field_dup(id);
		}
		g_object_unref(m);
	}
	g_object_unref(p);
	g_object_unref(st);
	free(t);
}

/* Original-Message-ID of a disposition notification (RFC 8098 3.2.5). */
static void report_mdn(struct walk *w, GMimePart *part)
{
	static const char key[] = "original-message-id:";
	char *t = report_text(w, part), *line = t, *nl;

	for (; line != NULL && *line != '\0'; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (g_ascii_strncasecmp(line, key, sizeof(key) - 1) == 0 &&
		    w->s->report_message_id[0] == '\0') {
			char *id = first_msgid(w->opts, line + sizeof(key) - 1);

			if (id != NULL) {
				free(w->s->report_message_id);
				w->s->report_message_id = id;
			}
		}
	}
	free(t);
}

/* List part as an attachment with a bounded view of its bytes. */
static void add_attachment(struct walk *w, GMimePart *part, const char *type)
{
	struct mime_summary *s = w->s;
	struct mime_attachment *a;
	GMimeContentDisposition *d;
	struct buf view;
	bool more;

	if (s->n_attachments == MIME_MAX_ATTACHMENTS) {
		s->flags |= MIME_F_ATTACHMENTS;
		return;
	}
	if (s->n_attachments == w->att_cap) {
		/* grown on demand: most messages have none */
		w->att_cap = w->att_cap ? 2 * w->att_cap : 4;
		if (w->att_cap > MIME_MAX_ATTACHMENTS)
			w->att_cap = MIME_MAX_ATTACHMENTS;
		s->attachments = xrealloc(s->attachments,
					  w->att_cap * sizeof(*s->attachments));
	}
	a = &s->attachments[s->n_attachments++];
	memset(a, 0, sizeof(*a));
	a->filename = field_dup(g_mime_part_get_filename(part));
	a->content_type = xstrdup(type);
	d = g_mime_object_get_content_disposition(GMIME_OBJECT(part));
	a->inline_disposition = d != NULL &&
				!g_mime_content_disposition_is_attachment(d);
	buf_init(&view, MIME_MAX_ATTACH_VIEW);
	a->size =
		decode_part(w, part, &view, MIME_MAX_ATTACH_VIEW, true, &more);
	a->truncated = more;
	a->data_len = view.len;
	a->data = (unsigned char *)buf_steal(&view);
}

/* Handle one leaf part. */
static void leaf(struct walk *w, GMimePart *part)
{
	GMimeObject *o = GMIME_OBJECT(part);
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(o);
	const char *fn = g_mime_part_get_filename(part);
	bool attach =
		(d != NULL && g_mime_content_disposition_is_attachment(d)) ||
		(fn != NULL && *fn != '\0');
	char *type = g_mime_content_type_get_mime_type(ct);

	lower(type);
	if (w->msg_level > 0 && strncmp(type, "message/", 8) == 0 &&
	    strcmp(type, "message/partial") != 0) {
		/* A report part inside a forwarded message: the forward is
		 * no report of ours, so it is only listed. */
		add_attachment(w, part, type);
	} else if (strcmp(type, "message/delivery-status") == 0 ||
		   strcmp(type, "message/global-delivery-status") == 0) {
		w->s->is_dsn = true;
		if (w->s->report_fields[0] == '\0') {
			free(w->s->report_fields);
			w->s->report_fields = report_text(w, part);
		}
	} else if (strcmp(type, "message/disposition-notification") == 0 ||
		   strcmp(type, "message/global-disposition-notification") ==
			   0) {
		w->s->is_mdn = true;
		report_mdn(w, part);
	} else if (strcmp(type, "text/rfc822-headers") == 0 ||
		   strcmp(type, "message/global-headers") == 0) {
		if (w->in_report)
			report_headers(w, part);
	} else if (!attach && strcmp(type, "text/plain") == 0) {
		add_body(w, part, &w->text, MIME_MAX_TEXT, MIME_F_TEXT);
	} else if (!attach && strcmp(type, "text/html") == 0) {
		add_body(w, part, &w->html, MIME_MAX_HTML, MIME_F_HTML);
	} else {
		add_attachment(w, part, type);
	}
	g_free(type);
}

/* Visit obj at depth (0 = the top-level body) and everything below it. */
static void walk(struct walk *w, GMimeObject *obj, unsigned depth)
{
	struct mime_summary *s = w->s;

	if (obj == NULL)
		return;
	if (depth > MIME_MAX_DEPTH) {
		s->flags |= MIME_F_DEPTH;
		return;
	}
	if (s->n_parts == MIME_MAX_PARTS) {
		s->flags |= MIME_F_PARTS;
		return;
	}
	s->n_parts++;
	if (depth > s->depth)
		s->depth = depth;

	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		GMimeContentType *ct = g_mime_object_get_content_type(obj);
		bool was = w->in_report;
		int i, n = g_mime_multipart_get_count(mp);

		if (g_mime_content_type_is_type(ct, "multipart", "report") &&
		    w->msg_level == 0) {
			const char *rt = g_mime_content_type_get_parameter(
				ct, "report-type");

			w->in_report = true;
			if (rt &&
			    g_ascii_strcasecmp(rt, "delivery-status") == 0)
				s->is_dsn = true;
			if (rt && g_ascii_strcasecmp(
					  rt, "disposition-notification") == 0)
				s->is_mdn = true;
		}
		for (i = 0; i < n; i++)
			walk(w, g_mime_multipart_get_part(mp, i), depth + 1);
		w->in_report = was;
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(
			GMIME_MESSAGE_PART(obj));
		bool was;

		if (m == NULL)
			return;
		if (w->msg_level == 0 && s->inner_message_id[0] == '\0') {
			free(s->inner_message_id);
			s->inner_message_id =
				field_dup(g_mime_message_get_message_id(m));
		}
		if (w->in_report && s->report_message_id[0] == '\0') {
			free(s->report_message_id);
			s->report_message_id =
				field_dup(g_mime_message_get_message_id(m));
		}
		was = w->in_report;
		w->in_report = false;
		w->msg_level++;
		walk(w, g_mime_message_get_mime_part(m), depth + 1);
		w->msg_level--;
		w->in_report = was;
	} else if (GMIME_IS_PART(obj)) {
		leaf(w, GMIME_PART(obj));
	}
	/* message/partial and anything else: counted, not opened. */
}

/*
 * Top-level header fields the summary reads (read_headers) and the MIME
 * fields (every "Content-*" and MIME-Version).  Any other field (Received,
 * DKIM-Signature, ARC-*, X-*: most of a real header block; Date, Sender
 * and Bcc, which GMime's message object would parse for nothing) is never
 * read, yet GMime makes a GObject and a hash entry for each: about half of
 * its parse.
 */
static const struct {
	const char *name;
	size_t len;
} kept_fields[] = {
#define KEPT(s) { s, sizeof(s) - 1 }
	KEPT("from"), KEPT("reply-to"), KEPT("to"), KEPT("cc"),
	KEPT("subject"), KEPT("message-id"), KEPT("in-reply-to"),
	KEPT("references"), KEPT("auto-submitted"), KEPT("precedence"),
	KEPT("x-autoreply"), KEPT("x-autorespond"), KEPT("list-post"),
	KEPT("mime-version"),
#undef KEPT
};

/* True if the field name p[0..n) is one the parse reads (lengths first:
 * this runs on every header line of every message). */
static bool field_kept(const char *p, size_t n)
{
	size_t i;

	if (n > 8 && g_ascii_strncasecmp(p, "content-", 8) == 0)
		return true;
	for (i = 0; i < sizeof(kept_fields) / sizeof(kept_fields[0]); i++)
		if (kept_fields[i].len == n &&
		    g_ascii_strncasecmp(p, kept_fields[i].name, n) == 0)
			return true;
	return false;
}

/*
 * The end of the line at p (after its LF), or NULL if the line has a byte
 * that could make a parser read it other than as one header line (NUL, a
 * CR not before the LF) or no LF.
 */
static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *cr;

	if (nl == NULL || memchr(p, '\0', (size_t)(nl - p)) != NULL)
		return NULL;
	cr = memchr(p, '\r', (size_t)(nl - p));
	return cr == NULL || cr + 1 == nl ? nl + 1 : NULL;
}

/*
 * A copy of the message without the top-level fields nobody reads
 * (kept_fields), or NULL to parse it as it is.  Only a plainly
 * well-formed header block is thinned: every line up to the blank line
 * that ends it is "NAME:" with NAME of printable ASCII, or a continuation
 * line with something on it, and at least one field is kept.  Anything
 * else (no blank line, a line without a colon, an mbox "From " line, a
 * blank-only continuation, a NUL or a lone CR) leaves the message whole:
 * GMime reads such lines by their position (a bad first line ends the
 * header), so dropping a field before one could change what it sees.
 */
static char *drop_fields(const char *data, size_t len, size_t *outlen)
{
	const char *p = data, *end = data + len, *e, *q;
	char *out = xmalloc(len);
	size_t o = 0, kept = 0, dropped = 0;

	for (;;) {
		if (p < end && (*p == '\n' ||
				(*p == '\r' && p + 1 < end && p[1] == '\n')))
			break;		/* the blank line: the body follows */
		for (q = p; q < end && *q > ' ' && *q < 0x7f && *q != ':'; q++)
			;
		if (q == p || q >= end || *q != ':' ||
		    (e = line_end(p, end)) == NULL)
			goto whole;
		/* its continuation lines, each with a non-blank byte */
		while (e < end && (*e == ' ' || *e == '\t')) {
			const char *c = e, *ce = line_end(e, end);

			while (c < end && (*c == ' ' || *c == '\t'))
				c++;
			if (ce == NULL || *c == '\r' || *c == '\n')
				goto whole;
			e = ce;
		}
		if (field_kept(p, (size_t)(q - p))) {
			memcpy(out + o, p, (size_t)(e - p));
			o += (size_t)(e - p);
			kept++;
		} else {
			dropped++;
		}
		p = e;
	}
	if (kept == 0 || dropped == 0)
		goto whole;
	memcpy(out + o, p, (size_t)(end - p));
	*outlen = o + (size_t)(end - p);
	return out;
whole:
	free(out);
	return NULL;
}

/* Move a bounded body buffer into the summary. */
static void take_body(struct buf *b, char **p, size_t *n)
{
	*n = b->len;
	*p = buf_steal(b);
}

int mime_parse(const void *data, size_t len, struct mime_summary **out)
{
	static const char *fallback[] = { MIME_FALLBACK_CHARSETS, NULL };
	struct mime_summary *s;
	struct walk w = { 0 };
	char *slim;
	size_t slen = 0;
	GByteArray *bytes;
	GMimeStream *st;
	GMimeParser *p;
	GMimeMessage *msg;

	*out = NULL;
	if (len == 0)
		return MIME_E_EMPTY;
	mime_init();
	s = xcalloc(1, sizeof(*s));
	if (len > MIME_MAX_INPUT) {
		len = MIME_MAX_INPUT;
		s->flags |= MIME_F_INPUT;
	}
	w.s = s;
	w.opts = g_mime_parser_options_new();
	g_mime_parser_options_set_fallback_charsets(w.opts, fallback);
	g_mime_parser_options_set_rfc2047_compliance_mode(
		w.opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(
		w.opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(
		w.opts, GMIME_RFC_COMPLIANCE_LOOSE);
	buf_init(&w.text, MIME_MAX_TEXT);
	buf_init(&w.html, MIME_MAX_HTML);
	s->report_message_id = xstrdup("");
	s->report_fields = xstrdup("");
	s->inner_message_id = xstrdup("");

	slim = drop_fields(data, len, &slen);
	/* The stream reads our bytes where they are (it does not own the
	 * array, so it neither copies nor frees them; GMime only reads). */
	bytes = slim ? g_byte_array_new_take((guint8 *)slim, slen) :
		       g_byte_array_new_take((guint8 *)data, len);
	st = g_mime_stream_mem_new();
	g_mime_stream_mem_set_byte_array(GMIME_STREAM_MEM(st), bytes);
	p = g_mime_parser_new_with_stream(st);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(p, w.opts);
	if (msg == NULL) {
		GMimeMessage *empty = g_mime_message_new(FALSE);

		s->flags |= MIME_F_NO_HEADER;
		read_headers(&w, empty);
		g_object_unref(empty);
	} else {
		read_headers(&w, msg);
		walk(&w, g_mime_message_get_mime_part(msg), 0);
		g_object_unref(msg);
	}
	g_object_unref(p);
	g_object_unref(st);
	g_byte_array_free(bytes, FALSE);	/* the bytes stay */
	free(slim);
	g_mime_parser_options_free(w.opts);
	take_body(&w.text, &s->text, &s->text_len);
	take_body(&w.html, &s->html, &s->html_len);
	*out = s;
	return 0;
}

/* Free the strings of an address list. */
static void free_addrs(struct mime_addr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].addr);
	}
	free(l->v);
}

void mime_summary_free(struct mime_summary *s)
{
	size_t i;

	if (s == NULL)
		return;
	free(s->subject);
	free(s->message_id);
	free(s->in_reply_to);
	for (i = 0; i < s->n_references; i++)
		free(s->references[i]);
	free(s->references);
	free_addrs(&s->from);
	free_addrs(&s->reply_to);
	free_addrs(&s->to);
	free_addrs(&s->cc);
	free(s->text);
	free(s->html);
	for (i = 0; i < s->n_attachments; i++) {
		free(s->attachments[i].filename);
		free(s->attachments[i].content_type);
		free(s->attachments[i].data);
	}
	free(s->attachments);
	free(s->auto_submitted_value);
	free(s->report_message_id);
	free(s->report_fields);
	free(s->inner_message_id);
	free(s->precedence);
	free(s->list_post);
	free(s);
}

char *mime_msgid(const char *raw)
{
	mime_init();
	return first_msgid(NULL, raw);
}
