/*
 * test-replycheck - hijacked threads and backscatter (core/replycheck.h)
 * over a sent log on a memory: store: one row per inbound message (a
 * reply from the correspondent, a stranger with and without an
 * attachment, a colleague with and without DMARC pass, a mailing list, an
 * unknown thread, bounces, receipts and auto-replies for sent and unsent
 * mail, a log still warming up), each with the reason, label and points
 * it must get.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/replycheck.h"
#include "core/sentlog.h"
#include "mail/mime.h"
#include "store/store.h"
#include "tap.h"
#include "util/config.h"

#define DAY 86400
#define NONE CONTENT_NLABELS
static int64_t now;

/* Record one message our user sent. */
static void sent(struct sentlog *sl, int64_t t, const char *msgid,
		 char *const *rcpt, size_t n)
{
	sentlog_rec_write(sl, sentlog_rec_new(sl, t, "taro", msgid,
					      "taro@example.jp", rcpt, n));
}

/* A bounce of msgid (RFC 3464 with the returned header). */
#define BOUNCE(id) \
	"From: MAILER-DAEMON@mx.partner.example\r\n" \
	"To: taro@example.jp\r\nSubject: Undelivered Mail\r\n" \
	"Auto-Submitted: auto-replied\r\n" \
	"Content-Type: multipart/report; report-type=delivery-status; " \
	"boundary=r\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nsorry\r\n" \
	"--r\r\nContent-Type: message/delivery-status\r\n\r\n" \
	"Reporting-MTA: dns; mx.partner.example\r\n\r\n" \
	"Final-Recipient: rfc822; nobody@partner.example\r\n" \
	"Action: failed\r\nStatus: 5.1.1\r\n\r\n" \
	"--r\r\nContent-Type: text/rfc822-headers\r\n\r\n" \
	"From: taro@example.jp\r\nMessage-ID: <" id ">\r\n\r\n--r--\r\n"

/* A reply from `from` to In-Reply-To id, with or without a ZIP. */
#define REPLY(from, id) \
	"From: " from "\r\nTo: taro@example.jp\r\nSubject: Re: 見積\r\n" \
	"In-Reply-To: <" id ">\r\nReferences: <" id ">\r\n\r\nok\r\n"
#define REPLY_ZIP(from, id) \
	"From: " from "\r\nTo: taro@example.jp\r\nSubject: Re: 見積\r\n" \
	"In-Reply-To: <" id ">\r\nMIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=z\r\n\r\n" \
	"--z\r\nContent-Type: text/plain\r\n\r\npassword: 1234\r\n" \
	"--z\r\nContent-Type: application/zip; name=doc.zip\r\n" \
	"Content-Disposition: attachment; filename=doc.zip\r\n" \
	"Content-Transfer-Encoding: base64\r\n\r\nUEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\r\n" \
	"--z--\r\n"

static const struct row {
	const char *label, *msg, *mailfrom;
	bool aligned;
	const char *name;		/* NULL: no reason */
	enum content_label label_want;
	int points;
} rows[] = {
	{ "reply from the recipient", REPLY("hanako@partner.example",
					    "t1@example.jp"),
	  "hanako@partner.example", true, "thread-reply", NONE,
	  REPLYCHECK_REPLY_POINTS },
	{ "reply from the recipient, From not authenticated",
	  REPLY("hanako@partner.example", "t1@example.jp"),
	  "hanako@partner.example", false, "thread-reply", NONE, 0 },
	{ "reply from our user's own address",
	  REPLY("taro@example.jp", "t1@example.jp"), "taro@example.jp", true,
	  "thread-reply", NONE, REPLYCHECK_REPLY_POINTS },
	{ "stranger with an encrypted ZIP (Emotet)",
	  REPLY_ZIP("\"Hanako\" <hanako.x@evil.example>", "t1@example.jp"),
	  "x@evil.example", false, "thread-hijack", CONTENT_MALWARE,
	  REPLYCHECK_HIJACK_POINTS },
	{ "stranger without attachment",
	  REPLY("someone@evil.example", "t1@example.jp"), "a@evil.example",
	  true, "thread-hijack", CONTENT_SPOOFING, REPLYCHECK_HIJACK_POINTS },
	{ "colleague of the recipient, DMARC pass",
	  REPLY("boss@partner.example", "t1@example.jp"),
	  "boss@partner.example", true, "thread-colleague", NONE, 0 },
	{ "colleague from a subdomain, DMARC pass",
	  REPLY("x@mail.partner.example", "t1@example.jp"),
	  "x@mail.partner.example", true, "thread-colleague", NONE, 0 },
	{ "colleague without DMARC pass",
	  REPLY("boss@partner.example", "t1@example.jp"),
	  "boss@partner.example", false, "thread-hijack", CONTENT_SPOOFING,
	  REPLYCHECK_HIJACK_POINTS / 2 },
	{ "through a mailing list our user wrote to",
	  "From: member@elsewhere.example\r\n"
	  "List-Post: <mailto:dev@lists.example>\r\n"
	  "In-Reply-To: <t3@example.jp>\r\n\r\n+1\r\n",
	  "dev-bounces@lists.example", false, "thread-list", NONE, 0 },
	{ "List-Post of a list our user never wrote to",
	  "From: member@elsewhere.example\r\n"
	  "List-Post: <mailto:other@lists.example>\r\n"
	  "In-Reply-To: <t3@example.jp>\r\n\r\n+1\r\n",
	  "x@lists.example", false, "thread-hijack", CONTENT_SPOOFING,
	  REPLYCHECK_HIJACK_POINTS },
	{ "stranger's reply-all copying a thread recipient",
	  "From: member@lists-people.example\r\nTo: taro@example.jp\r\n"
	  "Cc: Jiro <JIRO@other.example>, taro@example.jp\r\n"
	  "In-Reply-To: <t1@example.jp>\r\n\r\n+1\r\n",
	  "member@lists-people.example", false, "thread-hijack",
	  CONTENT_SPOOFING, REPLYCHECK_HIJACK_POINTS / 2 },
	{ "stranger copying only our user",
	  "From: x@evil.example\r\nTo: taro@example.jp\r\n"
	  "Cc: taro@example.jp, x@evil.example\r\n"
	  "In-Reply-To: <t1@example.jp>\r\n\r\nhi\r\n",
	  "x@evil.example", false, "thread-hijack", CONTENT_SPOOFING,
	  REPLYCHECK_HIJACK_POINTS },
	{ "a thread never sent from here",
	  REPLY("someone@evil.example", "other@example.org"),
	  "a@evil.example", false, NULL, NONE, 0 },
	{ "ours deep in References",
	  "From: someone@evil.example\r\nIn-Reply-To: <x@evil.example>\r\n"
	  "References: <t1@example.jp> <y@evil.example>\r\n\r\nhi\r\n",
	  "a@evil.example", false, "thread-hijack", CONTENT_SPOOFING,
	  REPLYCHECK_HIJACK_POINTS },
	{ "a message with more recipients than kept",
	  REPLY("r30@big.example", "big@example.jp"), "r30@big.example",
	  false, NULL, NONE, 0 },
	{ "no reply at all", "From: a@b.example\r\nSubject: hi\r\n\r\nx\r\n",
	  "a@b.example", false, NULL, NONE, 0 },

	{ "bounce of a message sent", BOUNCE("t1@example.jp"), "", false,
	  "bounce-of-sent", NONE, REPLYCHECK_OWN_POINTS },
	{ "bounce of a message never sent", BOUNCE("forged@example.jp"), "",
	  false, "backscatter", CONTENT_BACKSCATTER,
	  REPLYCHECK_BACKSCATTER_POINTS },
	{ "qmail bounce of a message never sent",
	  "From: MAILER-DAEMON@mx.spam.example\r\nSubject: failure notice\r\n"
	  "\r\nI'm afraid I wasn't able to deliver your message.\r\n\r\n"
	  "--- Below this line is a copy of the message.\r\n\r\n"
	  "From: taro@example.jp\r\nMessage-ID: <spam-1@example.jp>\r\n",
	  "", false, "backscatter", CONTENT_BACKSCATTER,
	  REPLYCHECK_BACKSCATTER_POINTS },
	{ "vacation reply to a message sent",
	  "From: hanako@partner.example\r\nAuto-Submitted: auto-replied\r\n"
	  "In-Reply-To: <t1@example.jp>\r\n\r\nout of office\r\n",
	  "", false, "bounce-of-sent", NONE, REPLYCHECK_OWN_POINTS },
	{ "vacation reply to a forged message",
	  "From: x@victim.example\r\nAuto-Submitted: auto-replied\r\n"
	  "In-Reply-To: <forged-2@example.jp>\r\n\r\nout of office\r\n",
	  "", false, "backscatter", CONTENT_BACKSCATTER,
	  REPLYCHECK_BACKSCATTER_POINTS },
	{ "read receipt of a message sent",
	  "From: hanako@partner.example\r\n"
	  "Content-Type: multipart/report; "
	  "report-type=disposition-notification; boundary=m\r\n\r\n"
	  "--m\r\nContent-Type: message/disposition-notification\r\n\r\n"
	  "Original-Message-ID: <t1@example.jp>\r\n"
	  "Disposition: manual-action/MDN-sent-manually; displayed\r\n"
	  "\r\n--m--\r\n",
	  "hanako@partner.example", false, "bounce-of-sent", NONE,
	  REPLYCHECK_OWN_POINTS },
	{ "bounce naming no message", "From: MAILER-DAEMON@mx.example\r\n"
	  "Subject: failure\r\n\r\nno such user\r\n",
	  "", false, NULL, NONE, 0 },
};

/* Judge one message text. */
static size_t judge(const struct sentlog *sl, const char *msg,
		    const char *mailfrom, bool aligned, int64_t warmup,
		    struct replycheck *out)
{
	struct mime_summary *s = NULL;
	struct replycheck_in in;
	size_t n;

	mime_parse(msg, strlen(msg), &s);
	in = (struct replycheck_in){ s, mailfrom, aligned, now, warmup };
	n = replycheck_run(sl, &in, out);
	mime_summary_free(s);
	return n;
}

/* Into the content verdict: backscatter_action decides the action. */
static void test_content(const struct sentlog *sl)
{
	static const struct {
		const char *label;
		int action;		/* backscatter_action */
		enum content_action want;
		int points;
		bool labelled;
	} acts[] = {
		{ "reject", 0, CONTENT_REJECT, 4, true },
		{ "hold", 1, CONTENT_HOLD, 4, true },
		{ "tag", 2, CONTENT_TAG, 4, true },
		{ "none", 3, CONTENT_ACCEPT, 0, false },
	};
	struct content_config cc = { .enabled = true, .tag_score = 5,
				     .hold_score = 10, .reject_score = 20,
				     .label_score = 4, .authserv_id = "mx" };
	static struct content_verdict v;
	struct config cfg;
	struct mime_summary *s = NULL;
	size_t i;

	memset(&cfg, 0, sizeof(cfg));
	mime_parse(BOUNCE("forged@example.jp"),
		   strlen(BOUNCE("forged@example.jp")), &s);
	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		cfg.backscatter_action = acts[i].action;
		content_verdict_init(&v);
		is_int(replycheck_content(sl, s, "", NULL, &cfg, 4, now, &v), 1,
		       "content %s: one reason", acts[i].label);
		content_decide(&v, &cc);
		is_int(v.action, acts[i].want, "content %s: action %s",
		       acts[i].label, content_action_name(v.action));
		is_int(v.score, acts[i].points, "content %s: points",
		       acts[i].label);
		is_int(!!(v.labels & (1u << CONTENT_BACKSCATTER)),
		       acts[i].labelled, "content %s: label", acts[i].label);
		ok(!acts[i].labelled || strstr(v.header, "labels=backscatter"),
		   "content %s: the header a Sieve rule files on (%s)",
		   acts[i].label, v.header);
	}
	mime_summary_free(s);
	/* A hijacked thread with an encrypted ZIP: 8 points, malware. */
	mime_parse(REPLY_ZIP("x@evil.example", "t1@example.jp"),
		   strlen(REPLY_ZIP("x@evil.example", "t1@example.jp")), &s);
	content_verdict_init(&v);
	replycheck_content(sl, s, "x@evil.example", NULL, &cfg, 4, now, &v);
	content_decide(&v, &cc);
	ok(v.score == REPLYCHECK_HIJACK_POINTS &&
		   (v.labels & (1u << CONTENT_MALWARE)) &&
		   v.action == CONTENT_TAG,
	   "content hijack: tagged as malware by itself (%s)", v.header);
	mime_summary_free(s);
	content_verdict_init(&v);
	is_int(replycheck_content(NULL, NULL, "", NULL, &cfg, 4, now, &v), 0,
	       "content: no log (mamori scan), nothing");
}

int main(void)
{
	char *t1[] = { "hanako@partner.example", "jiro@other.example" };
	char *t3[] = { "dev@lists.example" };
	char *big[SENTLOG_RCPT_MAX + 8], names[SENTLOG_RCPT_MAX + 8][32];
	struct replycheck out;
	struct store *st;
	struct sentlog *sl;
	char err[256];
	size_t i;

	now = (int64_t)time(NULL);
	store_open("memory:", NULL, &st, err, sizeof(err));
	sl = sentlog_new(1000, 180 * DAY);
	sentlog_attach(sl, st, now - 30 * DAY);	/* began a month ago */
	sent(sl, now - 20 * DAY, "<t1@example.jp>", t1, 2);
	sent(sl, now - 2 * DAY, "<t3@example.jp>", t3, 1);
	for (i = 0; i < SENTLOG_RCPT_MAX + 8; i++) {
		snprintf(names[i], sizeof(names[i]), "r%zu@big.example", i);
		big[i] = names[i];
	}
	sent(sl, now - DAY, "<big@example.jp>", big, SENTLOG_RCPT_MAX + 8);

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];

		judge(sl, r->msg, r->mailfrom, r->aligned, 5 * DAY, &out);
		if (!r->name) {
			is_int(out.n, 0, "%s: no reason (got %s)", r->label,
			       out.n ? out.r[0].name : "none");
			continue;
		}
		if (!ok(out.n == 1, "%s: one reason", r->label))
			continue;
		is_str(out.r[0].name, r->name, "%s: reason", r->label);
		is_int(out.r[0].label, r->label_want, "%s: label (%s)",
		       r->label, content_label_name(out.r[0].label));
		is_int(out.r[0].points, r->points, "%s: points", r->label);
		is_int(out.hijack, strcmp(r->name, "thread-hijack") == 0,
		       "%s: hijack flag", r->label);
		is_int(out.backscatter, strcmp(r->name, "backscatter") == 0,
		       "%s: backscatter flag", r->label);
		ok(strlen(out.r[0].detail) > 10 &&
			   !strpbrk(out.r[0].detail, "\"\r\n"),
		   "%s: a plain detail (%s)", r->label, out.r[0].detail);
	}

	/* A log younger than the warmup does not say "never sent". */
	judge(sl, BOUNCE("forged@example.jp"), "", false, 40 * DAY, &out);
	is_int(out.n, 0, "warmup: a young log judges no bounce");
	judge(sl, BOUNCE("t1@example.jp"), "", false, 40 * DAY, &out);
	is_str(out.n ? out.r[0].name : "", "bounce-of-sent",
	       "warmup: a bounce of ours still counts in its favour");
	judge(sl, REPLY("x@evil.example", "t1@example.jp"), "a@evil.example",
	      false, 40 * DAY, &out);
	ok(out.hijack, "warmup: threads are judged from the first record");
	test_content(sl);
	/* No log: nothing judged. */
	is_int(judge(NULL, BOUNCE("forged@example.jp"), "", false, 0, &out), 0,
	       "no log: nothing judged");
	sentlog_free(sl);
	sl = sentlog_new(0, DAY);
	is_int(judge(sl, REPLY("x@evil.example", "t1@example.jp"), "", false,
		     0, &out),
	       0, "log off: nothing judged");
	sentlog_free(sl);
	store_close(st);
	return tap_done();
}
