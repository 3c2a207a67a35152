/*
 * test-mime - the MIME summary: charset twins from GMime's samples
 * ($MAMORI_SHARED/corpora/mime-samples), Japanese header fields, nested
 * message/rfc822, DSN and MDN samples, each limit hit on purpose, and a
 * robustness sweep over every file of mime-samples/, of the SpamAssassin
 * public corpus (easy-ham-1, hard-ham-1, spam-1) and of phishing-pot-subset
 * with the limits asserted on each summary, and concurrent parses in four
 * threads against the serial answers (the threading rule of mime.h).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "mail/mime.h"
#include "tap.h"
#include "util/buf.h"
#include "util/xalloc.h"

static const char *shared;

/* Read a whole file; NULL if absent. */
static char *slurp(const char *path, size_t *n)
{
	gchar *p = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &p, &len, NULL))
		return NULL;
	*n = len;
	return p;
}

/* Parse a C string message. */
static struct mime_summary *parse_str(const char *msg)
{
	struct mime_summary *s = NULL;

	if (mime_parse(msg, strlen(msg), &s) != 0)
		return NULL;
	return s;
}

/* Charset twins: body bytes in a charset decode to the UTF-8 twin. */
static void test_twins(void)
{
	static const struct {
		const char *label, *file, *declared, *twin;
	} rows[] = {
		{ "iso-2022-jp declared", "japanese.iso-2022-jp.txt",
		  "ISO-2022-JP", "japanese.utf-8.txt" },
		{ "shift_jis declared", "japanese.shift-jis.txt", "Shift_JIS",
		  "japanese.utf-8.txt" },
		{ "shift_jis undeclared (fallback)", "japanese.shift-jis.txt",
		  NULL, "japanese.utf-8.txt" },
		{ "iso-2022-jp undeclared (fallback)",
		  "japanese.iso-2022-jp.txt", NULL, "japanese.utf-8.txt" },
		{ "shift_jis as x-sjis alias", "japanese.shift-jis.txt",
		  "x-sjis", "japanese.utf-8.txt" },
		{ "koi8-r", "cyrillic.koi8-r.txt", "koi8-r",
		  "cyrillic.utf-8.txt" },
		{ "cp1251", "cyrillic.cp1251.txt", "windows-1251",
		  "cyrillic.utf-8.txt" },
		{ "iso-8859-5", "cyrillic.iso-8859-5.txt", "iso-8859-5",
		  "cyrillic.utf-8.txt" },
		{ "utf-8", "japanese.utf-8.txt", "utf-8",
		  "japanese.utf-8.txt" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char path[4096], *body, *twin;
		size_t bn = 0, tn = 0;
		struct buf m;
		struct mime_summary *s = NULL;

		snprintf(
			path, sizeof(path),
			"%s/corpora/mime-samples/gmime/charsets-and-filters/%s",
			shared, rows[i].file);
		body = slurp(path, &bn);
		snprintf(
			path, sizeof(path),
			"%s/corpora/mime-samples/gmime/charsets-and-filters/%s",
			shared, rows[i].twin);
		twin = slurp(path, &tn);
		if (!ok(body && twin, "%s: sample files present",
			rows[i].label)) {
			g_free(body);
			g_free(twin);
			continue;
		}
		buf_init(&m, 1u << 24);
		buf_puts(
			&m,
			"From: a@example.jp\nSubject: twin\nMIME-Version: 1.0\n");
		if (rows[i].declared)
			buf_printf(&m, "Content-Type: text/plain; charset=%s\n",
				   rows[i].declared);
		else
			buf_puts(&m, "Content-Type: text/plain\n");
		buf_puts(&m, "Content-Transfer-Encoding: 8bit\n\n");
		buf_append(&m, body, bn);
		is_int(mime_parse(m.p, m.len, &s), 0, "%s: parses",
		       rows[i].label);
		if (s != NULL) {
			ok(s->text_len == tn && memcmp(s->text, twin, tn) == 0,
			   "%s: text equals the UTF-8 twin (%zu vs %zu bytes)",
			   rows[i].label, s->text_len, tn);
		}
		mime_summary_free(s);
		buf_deinit(&m);
		g_free(body);
		g_free(twin);
	}

	/* EUC-JP made from the twin with iconv here (GMime has no sample). */
	{
		char path[4096], *twin, *euc;
		size_t tn = 0;
		gsize en = 0;
		struct buf m;
		struct mime_summary *s = NULL;

		snprintf(
			path, sizeof(path),
			"%s/corpora/mime-samples/gmime/charsets-and-filters/japanese.utf-8.txt",
			shared);
		twin = slurp(path, &tn);
		euc = twin ? g_convert(twin, (gssize)tn, "EUC-JP", "UTF-8",
				       NULL, &en, NULL) :
			     NULL;
		if (ok(euc != NULL, "euc-jp: converted")) {
			buf_init(&m, 1u << 24);
			buf_puts(
				&m,
				"Subject: x\nContent-Type: text/plain; charset=euc-jp\n\n");
			buf_append(&m, euc, en);
			mime_parse(m.p, m.len, &s);
			ok(s && s->text_len == tn &&
				   memcmp(s->text, twin, tn) == 0,
			   "euc-jp: text equals the UTF-8 twin");
			mime_summary_free(s);
			buf_deinit(&m);
			buf_init(&m, 1u << 24);
			buf_puts(&m, "Subject: x\n\n");
			buf_append(&m, euc, en);
			mime_parse(m.p, m.len, &s);
			ok(s && s->text_len == tn &&
				   memcmp(s->text, twin, tn) == 0,
			   "euc-jp undeclared (fallback): text equals the UTF-8 twin");
			mime_summary_free(s);
			buf_deinit(&m);
		}
		g_free(euc);
		g_free(twin);
	}
}

/* Header fields: RFC 2047 in ISO-2022-JP, raw 8-bit, address lists. */
static void test_headers(void)
{
	struct mime_summary *s;
	char path[4096], *raw, *sjis;
	size_t n = 0;
	gsize sn = 0;
	struct buf m;

	s = parse_str(
		"From: =?ISO-2022-JP?B?GyRCOzNFRBsoQiAbJEJCQE86GyhC?= <taro@example.jp>\n"
		"Reply-To: \"Finance\" <pay@evil.example>\n"
		"To: a@example.com, \"B, Person\" <b@example.com>\n"
		"Cc: team: c@example.com, d@example.com;\n"
		"Subject: =?ISO-2022-JP?B?GyRCQEE1YT1xJE4kNDBGRmIbKEI=?=\n"
		"Message-ID: <m1@example.jp>\n"
		"In-Reply-To: <orig@example.com> (comment)\n"
		"References: <r1@example.com>\n <r2@example.com> <orig@example.com>\n"
		"Auto-Submitted: auto-replied; owner-email=x@example.jp\n"
		"\nbody\n");
	if (!ok(s != NULL, "headers: parses"))
		return;
	is_str(s->subject, "請求書のご案内", "headers: ISO-2022-JP subject");
	is_int(s->from.n, 1, "headers: one From");
	is_str(s->from.v[0].name, "山田 太郎",
	       "headers: ISO-2022-JP display name");
	is_str(s->from.v[0].addr, "taro@example.jp", "headers: From address");
	is_str(s->reply_to.v[0].addr, "pay@evil.example", "headers: Reply-To");
	is_int(s->to.n, 2, "headers: two To");
	is_str(s->to.v[1].name, "B, Person", "headers: quoted display name");
	is_int(s->cc.n, 2, "headers: group flattened");
	is_str(s->message_id, "m1@example.jp", "headers: Message-ID");
	is_str(s->in_reply_to, "orig@example.com", "headers: In-Reply-To");
	is_int(s->n_references, 3, "headers: References");
	is_str(s->references[0], "r1@example.com", "headers: first reference");
	ok(s->auto_submitted, "headers: Auto-Submitted auto-replied");
	is_str(s->auto_submitted_value, "auto-replied",
	       "headers: Auto-Submitted value");
	is_str(s->text, "body\n", "headers: body");
	mime_summary_free(s);

	s = parse_str(
		"Subject: x\nContent-Type: text/plain; charset=x-no-such\n"
		"\n\xe6\x97\xa5\xe6\x9c\xac\n");
	ok(s && (s->flags & MIME_F_CHARSET), "unknown charset: flagged");
	is_str(s ? s->text : NULL, "\xe6\x97\xa5\xe6\x9c\xac\n",
	       "unknown charset: UTF-8 bytes through the fallback");
	mime_summary_free(s);

	s = parse_str("Subject: hi\nAuto-Submitted: No\n\nx");
	ok(s && !s->auto_submitted, "headers: Auto-Submitted no is human");
	mime_summary_free(s);

	/* MimeKit's japanese.txt: a real Thunderbird message. */
	snprintf(path, sizeof(path),
		 "%s/corpora/mime-samples/mimekit/messages/japanese.txt",
		 shared);
	raw = slurp(path, &n);
	if (ok(raw != NULL, "japanese.txt present")) {
		mime_parse(raw, n, &s);
		is_str(s->subject,
		       "日本語メールテスト (testing Japanese emails)",
		       "japanese.txt: subject");
		ok(strstr(s->text, "日本語が\n正常に\n送れているか\nテスト.") !=
			   NULL,
		   "japanese.txt: body");
		mime_summary_free(s);
	}
	g_free(raw);

	/* A raw CP932 Subject (with a circled digit Shift_JIS lacks) and
	 * display name, no encoded words, no charset anywhere. */
	sjis = g_convert(
		"Subject: 至急ご確認ください①\nFrom: 経理部 <k@example.jp>\n\nx\n",
		-1, "CP932", "UTF-8", NULL, &sn, NULL);
	buf_init(&m, 4096);
	buf_append(&m, sjis, sn);
	mime_parse(m.p, m.len, &s);
	is_str(s->subject, "至急ご確認ください①",
	       "raw shift_jis subject: fallback");
	is_str(s->from.v[0].name, "経理部",
	       "raw shift_jis display name: fallback");
	mime_summary_free(s);
	buf_deinit(&m);
	g_free(sjis);
}

/* Nested message/rfc822, alternative bodies, attachments. */
static void test_nested(void)
{
	struct mime_summary *s = parse_str(
		"From: a@example.com\nSubject: fwd\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
		"--outer\nContent-Type: text/plain; charset=utf-8\n\nouter text\n"
		"--outer\nContent-Type: message/rfc822\n\n"
		"From: b@example.com\nSubject: inner\nMessage-ID: <inner@example.com>\n"
		"Content-Type: multipart/alternative; boundary=\"alt\"\n\n"
		"--alt\nContent-Type: text/plain; charset=iso-2022-jp\n\n"
		"\x1b$BF|K\\8l\x1b(B\n"
		"--alt\nContent-Type: text/html; charset=utf-8\n"
		"Content-Transfer-Encoding: quoted-printable\n\n"
		"<a href=3D\"http://x.example/\">link</a>\n"
		"--alt--\n"
		"--outer\nContent-Type: application/zip\n"
		"Content-Transfer-Encoding: base64\n"
		"Content-Disposition: attachment; filename*=UTF-8''%E8%AB%8B%E6%B1%82.zip\n\n"
		"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\n"
		"--outer\nContent-Type: text/plain; name=\"notes.txt\"\n\nattached text\n"
		"--outer--\n");

	if (!ok(s != NULL, "nested: parses"))
		return;
	ok(strstr(s->text, "outer text") && strstr(s->text, "日本"),
	   "nested: text of both levels, ISO-2022-JP decoded");
	ok(strstr(s->text, "attached text") == NULL,
	   "nested: a named text part is an attachment");
	is_str(s->html, "<a href=\"http://x.example/\">link</a>",
	       "nested: html QP-decoded");
	is_int(s->n_parts, 8, "nested: parts counted (containers too)");
	is_int(s->depth, 3, "nested: depth");
	is_int(s->n_attachments, 2, "nested: attachments");
	is_str(s->attachments[0].filename, "請求.zip",
	       "nested: RFC 2231 file name");
	is_str(s->attachments[0].content_type, "application/zip",
	       "nested: type");
	is_int(s->attachments[0].size, 22, "nested: decoded size");
	ok(s->attachments[0].data_len == 22 &&
		   memcmp(s->attachments[0].data, "PK\x05\x06", 4) == 0,
	   "nested: decoded bytes");
	is_str(s->attachments[1].filename, "notes.txt",
	       "nested: name= parameter");
	ok(!s->is_dsn && !s->is_mdn && s->report_message_id[0] == '\0',
	   "nested: a forward is no report");
	is_int(s->flags, 0, "nested: no limit hit");
	mime_summary_free(s);
}

/* DSN and MDN samples from MimeKit. */
static void test_reports(void)
{
	static const struct {
		const char *label, *file;
		bool dsn, mdn;
		const char *orig;
	} rows[] = {
		{ "dsn", "delivery-status.txt", true, false,
		  "31FC7EB4.41C6@netscape.com" },
		{ "mdn", "disposition-notification.txt", false, true,
		  "199509192301.23456@example.org" },
		{ "dsn no blank line", "delivery-status-no-blank-line.txt",
		  true, false, NULL },
		{ "dsn2", "delivery-status2.txt", true, false, NULL },
	};
	size_t i, n = 0;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char path[4096], *raw;
		struct mime_summary *s = NULL;

		snprintf(path, sizeof(path),
			 "%s/corpora/mime-samples/mimekit/messages/%s", shared,
			 rows[i].file);
		raw = slurp(path, &n);
		if (!ok(raw != NULL, "%s: sample present", rows[i].label))
			continue;
		mime_parse(raw, n, &s);
		is_int(s->is_dsn, rows[i].dsn, "%s: is_dsn", rows[i].label);
		is_int(s->is_mdn, rows[i].mdn, "%s: is_mdn", rows[i].label);
		if (rows[i].orig)
			is_str(s->report_message_id, rows[i].orig,
			       "%s: returned Message-ID", rows[i].label);
		mime_summary_free(s);
		g_free(raw);
	}
	/* A bounce forwarded inside a message is no bounce to us. */
	{
		struct mime_summary *s = parse_str(
			"From: user@example.jp\nSubject: Fwd: bounce\n"
			"Content-Type: multipart/mixed; boundary=o\n\n"
			"--o\nContent-Type: text/plain\n\nlook at this\n"
			"--o\nContent-Type: message/rfc822\n\n"
			"From: MAILER-DAEMON@mx.example\nMessage-ID: <bounce@mx.example>\n"
			"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
			"--b\nContent-Type: text/plain\n\nsorry\n"
			"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n"
			"--b\nContent-Type: message/rfc822\n\nMessage-ID: <x@example.jp>\n\nhi\n"
			"--b--\n--o--\n");
		ok(s && !s->is_dsn && !s->is_mdn,
		   "forwarded bounce: no report");
		is_str(s ? s->report_message_id : NULL, "",
		       "forwarded bounce: no returned Message-ID");
		ok(s && strstr(s->text, "sorry") != NULL,
		   "forwarded bounce: its text is read");
		mime_summary_free(s);
	}
	/* A bounce with only the returned headers (RFC 3462 text/rfc822-headers). */
	{
		struct mime_summary *s = parse_str(
			"From: MAILER-DAEMON@mx.example\nSubject: Undelivered\n"
			"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
			"--b\nContent-Type: text/plain\n\nsorry\n"
			"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
			"Final-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 5.1.1\n"
			"--b\nContent-Type: text/rfc822-headers\n\n"
			"From: user@example.jp\nMessage-ID: <sent-1@example.jp>\nSubject: hi\n"
			"--b--\n");
		ok(s && s->is_dsn, "rfc822-headers bounce: is_dsn");
		is_str(s ? s->report_message_id : NULL, "sent-1@example.jp",
		       "rfc822-headers bounce: returned Message-ID");
		is_int(s ? s->n_attachments : 9, 0,
		       "rfc822-headers bounce: report parts are no attachments");
		ok(s && strstr(s->report_fields, "Status: 5.1.1") != NULL,
		   "rfc822-headers bounce: delivery-status fields kept");
		is_str(s ? s->inner_message_id : NULL, "",
		       "rfc822-headers bounce: no message/rfc822 part");
		mime_summary_free(s);
	}
	/* Responder markers and the first attached message's Message-ID. */
	{
		struct mime_summary *s = parse_str(
			"From: a@example.org\nPrecedence:  Auto_Reply \n"
			"X-Autoreply: yes\n"
			"List-Post: <mailto:Dev@Lists.Example?subject=x>\n"
			"Content-Type: multipart/mixed; boundary=o\n\n"
			"--o\nContent-Type: message/rfc822\n\n"
			"Message-ID: <inner@example.jp>\n\nhi\n--o--\n");
		is_str(s ? s->precedence : NULL, "auto_reply",
		       "markers: Precedence lower-cased, trimmed");
		ok(s && s->x_autoreply, "markers: X-Autoreply");
		is_str(s ? s->list_post : NULL, "dev@lists.example",
		       "markers: List-Post address");
		is_str(s ? s->inner_message_id : NULL, "inner@example.jp",
		       "markers: attached message's Message-ID");
		ok(s && !s->is_dsn && s->report_fields[0] == '\0',
		   "markers: no report");
		mime_summary_free(s);
	}
}

/* mime_msgid: an outbound Message-ID read as the inbound side reads it. */
static void test_msgid(void)
{
	static const struct {
		const char *label, *raw, *want;
	} rows[] = {
		{ "plain", " <a.b@example.jp>\r\n", "a.b@example.jp" },
		{ "folded with a comment", "\r\n\t<x@y.example> (sent)",
		  "x@y.example" },
		{ "first of several", "<one@x> <two@x>", "one@x" },
		/* GMime's reference reader needs the brackets: a reply
		 * quoting a bare id is never matched, so none is kept. */
		{ "no brackets", "bare@example.jp", NULL },
		{ "empty", "  ", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *id = mime_msgid(rows[i].raw);

		if (rows[i].want)
			is_str(id, rows[i].want, "msgid: %s", rows[i].label);
		else
			ok(id == NULL || id[0] == '\0', "msgid: %s is none",
			   rows[i].label);
		free(id);
	}
}

/* Each limit, hit on purpose. */
static void test_limits(void)
{
	struct mime_summary *s = NULL;
	struct buf m;
	int i;

	/* Depth: 40 nested multiparts. */
	buf_init(&m, 1u << 24);
	buf_puts(&m, "Subject: deep\n");
	for (i = 0; i < 40; i++)
		buf_printf(
			&m,
			"Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n",
			i, i);
	buf_puts(&m, "Content-Type: text/plain\n\ndeep text\n");
	mime_parse(m.p, m.len, &s);
	ok(s && (s->flags & MIME_F_DEPTH), "depth: flagged");
	ok(s && s->depth <= MIME_MAX_DEPTH, "depth: within MIME_MAX_DEPTH (%u)",
	   s ? s->depth : 0);
	ok(s && strstr(s->text, "deep text") == NULL,
	   "depth: below the limit not read");
	mime_summary_free(s);
	buf_deinit(&m);

	/* Parts: 600 parts. */
	buf_init(&m, 1u << 24);
	buf_puts(
		&m,
		"Subject: many\nContent-Type: multipart/mixed; boundary=b\n\n");
	for (i = 0; i < 600; i++)
		buf_printf(&m, "--b\nContent-Type: text/plain\n\np%d\n", i);
	buf_puts(&m, "--b--\n");
	mime_parse(m.p, m.len, &s);
	ok(s && (s->flags & MIME_F_PARTS), "parts: flagged");
	is_int(s ? s->n_parts : 0, MIME_MAX_PARTS,
	       "parts: exactly MIME_MAX_PARTS walked");
	mime_summary_free(s);
	buf_deinit(&m);

	/* Text: 3 MiB of text/plain. */
	buf_init(&m, 1u << 24);
	buf_puts(&m, "Subject: long\n\n");
	for (i = 0; i < 3 * 1024 * 16; i++)
		buf_puts(
			&m,
			"日本語のテキスト日本語のテキスト日本語のテキスト日本語のテスト\n");
	mime_parse(m.p, m.len, &s);
	ok(s && (s->flags & MIME_F_TEXT), "text: flagged");
	ok(s && s->text_len <= MIME_MAX_TEXT && s->text_len > MIME_MAX_TEXT - 8,
	   "text: cut at MIME_MAX_TEXT (%zu)", s ? s->text_len : 0);
	ok(s && g_utf8_validate(s->text, (gssize)s->text_len, NULL),
	   "text: cut on a UTF-8 boundary");
	mime_summary_free(s);
	buf_deinit(&m);

	/* Attachment: 12 MiB decoded (base64), view cut, size counted. */
	{
		size_t raw = 12u << 20;
		gchar *b64;
		guchar *zeros = g_malloc0(raw);

		b64 = g_base64_encode(zeros, raw);
		g_free(zeros);
		buf_init(&m, 1u << 25);
		buf_puts(
			&m,
			"Subject: big\nContent-Type: multipart/mixed; boundary=b\n\n"
			"--b\nContent-Type: application/octet-stream; name=big.bin\n"
			"Content-Transfer-Encoding: base64\n\n");
		buf_puts(&m, b64);
		buf_puts(&m, "\n--b--\n");
		g_free(b64);
		mime_parse(m.p, m.len, &s);
		ok(s && s->n_attachments == 1 && s->attachments[0].truncated,
		   "attachment: view truncated");
		is_int(s ? s->attachments[0].data_len : 0, MIME_MAX_ATTACH_VIEW,
		       "attachment: view is MIME_MAX_ATTACH_VIEW");
		is_int(s ? s->attachments[0].size : 0, raw,
		       "attachment: real size counted");
		ok(s && s->bytes_decoded <= MIME_MAX_DECODED,
		   "attachment: decoded within budget");
		mime_summary_free(s);
		buf_deinit(&m);
	}

	is_int(mime_parse("", 0, &s), MIME_E_EMPTY,
	       "empty input: MIME_E_EMPTY");
	ok(s == NULL, "empty input: no summary");
	s = parse_str("no header at all, just words");
	ok(s != NULL && s->subject != NULL, "garbage: a summary all the same");
	mime_summary_free(s);
}

static size_t sweep_files, sweep_bad;

/* Parse one file and check the limits on its summary. */
static void sweep_one(const char *path)
{
	struct mime_summary *s = NULL;
	size_t n = 0, i;
	char *raw = slurp(path, &n);
	bool good;

	if (raw == NULL || n == 0) {
		g_free(raw);
		return;
	}
	sweep_files++;
	good = mime_parse(raw, n, &s) == 0 && s != NULL &&
	       s->n_parts <= MIME_MAX_PARTS && s->depth <= MIME_MAX_DEPTH &&
	       s->bytes_decoded <= MIME_MAX_DECODED &&
	       s->text_len <= MIME_MAX_TEXT && s->html_len <= MIME_MAX_HTML &&
	       s->n_attachments <= MIME_MAX_ATTACHMENTS &&
	       s->n_references <= MIME_MAX_REFS &&
	       strlen(s->text) == s->text_len &&
	       g_utf8_validate(s->text, (gssize)s->text_len, NULL) &&
	       g_utf8_validate(s->html, (gssize)s->html_len, NULL) &&
	       g_utf8_validate(s->subject, -1, NULL) &&
	       strlen(s->subject) <= MIME_MAX_FIELD;
	for (i = 0; good && i < s->n_attachments; i++)
		good = s->attachments[i].data_len <= MIME_MAX_ATTACH_VIEW &&
		       s->attachments[i].data_len <= s->attachments[i].size;
	if (!good) {
		sweep_bad++;
		printf("# limits broken: %s\n", path);
	}
	mime_summary_free(s);
	g_free(raw);
}

/* Sweep a directory tree (bounded depth). */
static void sweep_dir(const char *dir, int level)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL || level > 8) {
		if (d)
			closedir(d);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			sweep_dir(path, level + 1);
		else if (S_ISREG(st.st_mode))
			sweep_one(path);
	}
	closedir(d);
}

/* The robustness sweep over two corpora. */
static void test_sweep(void)
{
	static const struct {
		const char *label, *dir;
		size_t min_files;
	} rows[] = {
		{ "mime-samples", "corpora/mime-samples", 400 },
		{ "easy-ham-1", "corpora/spamassassin-public-corpus/easy-ham-1",
		  2500 },
		{ "hard-ham-1", "corpora/spamassassin-public-corpus/hard-ham-1",
		  250 },
		{ "spam-1", "corpora/spamassassin-public-corpus/spam-1", 500 },
		{ "phishing-pot-subset", "corpora/phishing-pot-subset", 600 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/%s", shared, rows[i].dir);
		sweep_files = sweep_bad = 0;
		sweep_dir(dir, 0);
		ok(sweep_files >= rows[i].min_files,
		   "sweep %s: %zu files parsed", rows[i].label, sweep_files);
		is_int(sweep_bad, 0,
		       "sweep %s: every summary within the limits",
		       rows[i].label);
	}
}

/* Up to this many easy-ham files for the threading test. */
#define THREAD_FILES 300
#define THREADS 4

static char *thread_msgs[THREAD_FILES];
static size_t thread_lens[THREAD_FILES], thread_n;

/* A digest of what a summary says (FNV-1a over its main fields). */
static unsigned long long digest(const struct mime_summary *s)
{
	const char *parts[] = { s->subject, s->text, s->html, s->message_id,
				s->from.n ? s->from.v[0].name : "" };
	unsigned long long h = 1469598103934665603ull;
	size_t i;
	const char *p;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (p = parts[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h ^ s->n_parts ^ ((unsigned long long)s->n_attachments << 32);
}

/* Parse every thread_msgs file; the digest of all of them. */
static void *parse_all(void *arg)
{
	unsigned long long *out = arg, h = 0;
	size_t i;

	for (i = 0; i < thread_n; i++) {
		struct mime_summary *s = NULL;

		mime_parse(thread_msgs[i], thread_lens[i], &s);
		h = h * 31 + digest(s);
		mime_summary_free(s);
	}
	*out = h;
	return NULL;
}

/* mime.h's threading rule: concurrent parses give the serial answers. */
static void test_threads(void)
{
	char dir[4096];
	GDir *d;
	const char *name;
	unsigned long long serial = 0, par[THREADS];
	pthread_t t[THREADS];
	int i, same = 1;

	snprintf(dir, sizeof(dir),
		 "%s/corpora/spamassassin-public-corpus/easy-ham-1", shared);
	d = g_dir_open(dir, 0, NULL);
	while (d && thread_n < THREAD_FILES && (name = g_dir_read_name(d))) {
		char *path = g_build_filename(dir, name, NULL);

		if (g_file_get_contents(path, &thread_msgs[thread_n],
					&thread_lens[thread_n], NULL) &&
		    thread_lens[thread_n] > 0)
			thread_n++;
		g_free(path);
	}
	if (d)
		g_dir_close(d);
	ok(thread_n == THREAD_FILES, "threads: %zu messages loaded", thread_n);
	parse_all(&serial);
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, parse_all, &par[i]);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		same &= par[i] == serial;
	}
	ok(same, "threads: %d concurrent parsers agree with the serial one",
	   THREADS);
	for (i = 0; i < (int)thread_n; i++)
		g_free(thread_msgs[i]);
}

/*
 * The old way to read undeclared 8-bit text, kept here as the oracle:
 * valid UTF-8 as it is, the first of EUC-JP and CP932 that g_convert
 * takes whole without C1 controls, else GMime's guess converting the whole
 * text once per fallback charset.
 */
static char *oracle_8bit(GMimeParserOptions *o, const char *p, size_t n)
{
	static const char *const strict[] = { "EUC-JP", "CP932" };
	size_t i;

	if (g_utf8_validate(p, (gssize)n, NULL))
		return g_strndup(p, n);
	for (i = 0; i < 2; i++) {
		char *u = g_convert(p, (gssize)n, "UTF-8", strict[i], NULL,
				    NULL, NULL);

		const unsigned char *q = (const unsigned char *)u;
		bool c1 = false;

		for (; q != NULL && *q; q++)
			c1 = c1 || (q[0] == 0xC2 && q[1] >= 0x80 &&
				    q[1] <= 0x9F);
		if (u != NULL && !c1)
			return u;
		g_free(u);
	}
	return g_mime_utils_decode_8bit(o, p, n);
}

/* The oracle for a text part in charset cs (NULL: none declared). */
static char *oracle_text(GMimeParserOptions *o, const char *cs,
			 const char *p, size_t n)
{
	char *u = NULL, *v;

	if (cs != NULL) {
		iconv_t cd = g_mime_iconv_open("UTF-8", cs);

		if (cd != (iconv_t)-1) {
			u = g_mime_iconv_strndup(cd, p, n);
			g_mime_iconv_close(cd);
		}
	}
	if (u == NULL)
		u = oracle_8bit(o, p, n);
	v = g_utf8_make_valid(u, -1);
	g_free(u);
	return v;
}

/* 8-bit text parts (declared or not) read as the oracle reads them: the
 * shortcuts (windows-1252 and ISO-8859-1 tables, the ASCII run copied,
 * GMime's answer found without its full conversions) change no byte. */
static void test_8bit(void)
{
	static const char *const fallback[] = { MIME_FALLBACK_CHARSETS,
						 NULL };
	static const struct {
		const char *label, *cs, *body;
	} rows[] = {
		{ "latin-1 undeclared", NULL, "caf\xe9 r\xe9sum\xe9 na\xefve\n" },
		{ "windows-1252 undeclared", NULL,
		  "\x80 5 \x93quoted\x94 \x85 \x99\n" },
		{ "a long ASCII run first", NULL,
		  "plain words, plain words, plain words. then caf\xe9\n" },
		{ "byte undefined in windows-1252", NULL, "x \x81 y \x9d z\n" },
		{ "undefined bytes and latin-1", NULL,
		  "\x8f\xe9t\xe9 \x90 \xe0 la plage\n" },
		{ "EUC-JP", NULL, "\xc6\xfc\xcb\xdc\xb8\xec test\n" },
		{ "CP932", NULL, "\x93\xfa\x96\x7b\x8c\xea test\n" },
		{ "EUC-JP with C1 bytes", NULL, "\x8e\xb1\x80\x81 a\n" },
		{ "glibc UTF-8 past U+10FFFF", NULL,
		  "ok \xf4\x90\x80\x80 ok\n" },
		{ "broken UTF-8", NULL, "caf\xc3 \xa9\n" },
		{ "iso-8859-1 declared", "iso-8859-1",
		  "\xa0\xa9\xc0\xe9\xf1\xff\x80\x9f end\n" },
		{ "ISO-8859-1 declared upper case", "ISO-8859-1",
		  "gr\xfc\xdf \xb5\n" },
		{ "windows-1252 declared", "windows-1252",
		  "\x80\x82\x8a\x9c\x9f \x93q\x94\n" },
		{ "windows-1252 declared, undefined byte", "windows-1252",
		  "a \x81 b \xe9\n" },
		{ "cp1252 declared", "cp1252", "\x80 \xe9\n" },
		{ "iso-8859-15 declared (iconv)", "iso-8859-15",
		  "\xa4 \xe9\n" },
		{ "us-ascii declared, 8-bit", "us-ascii", "caf\xe9\n" },
	};
	GMimeParserOptions *o = g_mime_parser_options_new();
	size_t i;

	g_mime_parser_options_set_fallback_charsets(o, (const char **)fallback);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct mime_summary *s = NULL;
		char *msg, *want;

		msg = g_strdup_printf(
			"From: a@example.com\nSubject: t\nMIME-Version: 1.0\n"
			"Content-Type: text/plain%s%s\n"
			"Content-Transfer-Encoding: 8bit\n\n%s",
			rows[i].cs ? "; charset=" : "",
			rows[i].cs ? rows[i].cs : "", rows[i].body);
		want = oracle_text(o, rows[i].cs, rows[i].body,
				   strlen(rows[i].body));
		mime_parse(msg, strlen(msg), &s);
		is_str(s ? s->text : NULL, want, "8-bit: %s", rows[i].label);
		mime_summary_free(s);
		g_free(want);
		g_free(msg);
	}
	g_mime_parser_options_free(o);
}

int main(void)
{
	shared = getenv("MAMORI_SHARED");
	if (shared == NULL)
		shared = "../shared";
	mime_init();
	mime_init(); /* idempotent */
	test_twins();
	test_headers();
	test_8bit();
	test_nested();
	test_reports();
	test_msgid();
	test_limits();
	test_sweep();
	test_threads();
	return tap_done();
}
