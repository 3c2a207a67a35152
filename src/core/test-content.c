/*
 * test-content - the content scorer, table-driven: one message per row
 * (built here; the archives with Debian's zip at run time, no malware),
 * the context it is judged in (DMARC alignment, the recipient's known
 * correspondents through a real corrindex), and the score range, labels,
 * action and reasons expected.  Then the index alone (pairs, names,
 * look-alike domains, rotation at its bound), content_add_reason from
 * another module, and the limits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "core/content.h"
#include "core/corrindex.h"
#include "core/mailauth.h"
#include "mail/dmarc.h"
#include "mail/mime.h"
#include "tap.h"
#include "test_b64.h"
#include "test_core.h"
#include "test_sh.h"
#include "util/config.h"
#include "util/xalloc.h"

#define SALT "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static char tmp[] = "/tmp/mamori-test-content-XXXXXX";
static gchar *zip_enc_b64, *zip_plain_exe_b64;

/* A config from text, the defaults for the rest (test_core.h). */
#define conf(text) test_conf(text)

/* Run a shell command in the temporary directory (test_sh.h). */
#define sh(...) test_sh(tmp, __VA_ARGS__)

/* A message: header fields hdr (CRLF-terminated lines), then either a
 * text body (HTML if it starts with '<') or, with a zip, a multipart
 * with the zip attached. */
static char *message(const char *hdr, const char *body, const char *zip,
		     const char *zipname)
{
	if (!zip)
		return xasprintf("%sMIME-Version: 1.0\r\nContent-Type: "
				 "text/%s; charset=UTF-8\r\n\r\n%s\r\n",
				 hdr, body[0] == '<' ? "html" : "plain", body);
	return xasprintf("%sMIME-Version: 1.0\r\nContent-Type: multipart/"
			 "mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: "
			 "text/plain; charset=UTF-8\r\n\r\n%s\r\n--b1\r\n"
			 "Content-Type: application/zip\r\nContent-Disposition"
			 ": attachment; filename=\"%s\"\r\nContent-Transfer-"
			 "Encoding: base64\r\n\r\n%s--b1--\r\n", hdr, body,
			 zipname, zip);
}

/* What a known-correspondent log has seen: user wrote to these. */
static void learn(struct corrindex *ci, const struct content_config *cc,
		  const char *hdr)
{
	struct mime_summary *ms = NULL;
	uint64_t keys[CORRINDEX_LEARN_MAX];
	size_t n, np, i;

	if (mime_parse(hdr, strlen(hdr), &ms) != 0)
		return;
	n = corrindex_learn(ci, cc->la, cc->psl, ms, keys, CORRINDEX_LEARN_MAX,
			    &np);
	for (i = 0; i < n; i++)
		corrindex_add(ci, keys[i]);
	mime_summary_free(ms);
}

/* Is reason name in v? */
static const struct content_reason *find(const struct content_verdict *v,
					 const char *name)
{
	size_t i;

	for (i = 0; i < v->nreasons; i++)
		if (strcmp(v->reason[i].name, name) == 0)
			return &v->reason[i];
	return NULL;
}

/* Score msg with the settings and index given. */
static void score(const struct content_config *cc, const struct corrindex *ci,
		  const char *msg, bool aligned, struct content_verdict *v)
{
	struct mailauth_verdict auth;
	struct mime_summary *ms = NULL;
	struct content_input in;

	memset(&auth, 0, sizeof(auth));
	auth.dmarc_result = aligned ? "pass" : "none";
	content_verdict_init(v);
	if (mime_parse(msg, strlen(msg), &ms) != 0)
		return;
	in.ms = ms;
	in.auth = &auth;
	in.ci = ci;
	content_check(v, cc, &in);
	content_decide(v, cc);
	mime_summary_free(ms);
}

static const char *const FROM_PARTNER =
	"From: \"Tanaka Taro\" <tanaka@partner-corp.co.jp>\r\n"
	"To: user@example.test\r\nSubject: =?UTF-8?B?6KaL56mN5pu4?=\r\n"
	"Message-ID: <p1@partner-corp.co.jp>\r\n";

struct row {
	const char *label;
	const char *hdr, *body;
	int zip;		/* 0 none, 1 encrypted, 2 plain with an .exe */
	bool aligned;
	int min, max;		/* score range */
	const char *labels;	/* content_labels_str */
	const char *action;
	const char *reason;	/* a reason name expected, or NULL */
	const char *absent;	/* a reason name not expected, or NULL */
};

static const struct row rows[] = {
	{ "ham: plain text from a stranger",
	  "From: a@stranger.example\r\nTo: user@example.test\r\n"
	  "Subject: lunch\r\n", "See you at noon.", 0, true, 0, 0, "",
	  "accept", NULL, "archive-encrypted" },
	{ "phishing: look-alike From, lying link, cue",
	  "From: \"Mizuho\" <info@rnizuho-bank.co.jp>\r\n"
	  "To: user@example.test\r\nSubject: =?UTF-8?B?"
	  "44Ki44Kr44Km44Oz44OI44KS5YGc5q2i?=\r\n",
	  "Log in: https://www.mizuho-bank.co.jp.evil.example/", 0, false,
	  10, 40, "phishing", "hold", "lookalike-from", NULL },
	{ "fake billing: three cue phrases",
	  "From: a@billing.example\r\nTo: user@example.test\r\n"
	  "Subject: =?UTF-8?B?5pyA57WC6YCa5ZGK?=\r\n",
	  "未払いの料金があります。法的措置を取ります。", 0, false, 6, 6,
	  "fake-billing", "tag", "cue-fake-billing", NULL },
	{ "phishing cues in an HTML-only message (its visible text)",
	  "From: a@notice.example\r\nTo: user@example.test\r\n"
	  "Subject: notice\r\n", "<p>Please "
	  "verify your account: unusual sign-in activity.</p><a href=\""
	  "https://notice.example/\">notice.example</a>", 0, false, 4, 6,
	  "phishing", NULL, "cue-phishing", NULL },
	{ "solicitation: side-job cue phrases",
	  "From: a@job.example\r\nTo: user@example.test\r\nSubject: hi\r\n",
	  "在宅ワークで簡単に稼げます。副業を始めませんか。", 0, false, 4, 6,
	  "solicitation", NULL, "cue-solicitation", NULL },
	{ "spoofing: an address of another domain in the display name",
	  "From: \"ceo@example.co.jp\" <x@free-mail.example>\r\n"
	  "To: user@example.test\r\nSubject: hi\r\n", "Call me.", 0, false,
	  4, 4, "spoofing", "accept", "dispname-address", NULL },
	{ "malware: disguised executable in a plain ZIP",
	  "From: a@stranger.example\r\nTo: user@example.test\r\n"
	  "Subject: invoice\r\n", "See the attachment.", 2, false, 8, 40,
	  "malware", NULL, "archive-double-ext", NULL },
	{ "PPAP: encrypted ZIP from a known, aligned correspondent",
	  NULL, "パスワードは別途お送りします。", 1, true, 0, 3, "",
	  "accept", "archive-encrypted", "dispname-known-name" },
	{ "PPAP, not aligned: the same ZIP weighs more",
	  NULL, "パスワードは別途お送りします。", 1, false, 3, 4, NULL,
	  "accept", "archive-encrypted", NULL },
	{ "Emotet: encrypted ZIP, new address, reply, lying name",
	  "From: \"tanaka@partner-corp.co.jp\" <x@hacked.example>\r\n"
	  "To: user@example.test\r\nSubject: Re: =?UTF-8?B?6KaL56mN5pu4?=\r\n"
	  "In-Reply-To: <old@example.test>\r\n",
	  "添付ファイルをご確認ください。", 1, false, 14, 40,
	  "malware,spoofing", "hold", "archive-encrypted", NULL },
	{ "known name on a strange address",
	  "From: \"Tanaka Taro\" <tanaka.taro@free-mail.example>\r\n"
	  "To: user@example.test\r\nSubject: hi\r\n", "Urgent.", 0, false,
	  5, 5, "spoofing", "tag", "dispname-known-name", NULL },
	{ "look-alike of a correspondent's domain (skeleton)",
	  "From: tanaka@partner-c0rp.co.jp\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "Hello.", 0, false, 6, 6, "spoofing", "tag",
	  "lookalike-correspondent", NULL },
	{ "look-alike of a correspondent's domain (one letter)",
	  "From: tanaka@partner-carp.co.jp\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "Hello.", 0, false, 6, 6, "spoofing", "tag",
	  "lookalike-correspondent", NULL },
	{ "phishing: an HTML form posting elsewhere with a password field",
	  "From: a@notice.example\r\nTo: user@example.test\r\n"
	  "Subject: sign in\r\n", "<p>Sign in</p><form action=\"https://"
	  "collect.example.net/p.php\" method=post><input type=password "
	  "name=p></form>", 0, false, 6, 6, "phishing", "tag", "html-password",
	  NULL },
	{ "a form posting elsewhere alone is context (newsletter search box)",
	  "From: news@letter.example\r\nTo: user@example.test\r\n"
	  "Subject: news\r\n", "<form action=\"https://search.example.net/"
	  "q\"><input type=text name=q></form>", 0, false, 1, 1, "",
	  "accept", "html-form", NULL },
	{ "ham: a brand in the subject only gets no brand-links-elsewhere",
	  "From: news@letter.example\r\nTo: user@example.test\r\n"
	  "Subject: PayPal fees rise\r\n", "<a href=\"https://letter.example"
	  "/1\">more</a>", 0, false, 2, 2, "", "accept", "brand-subject",
	  "brand-links-elsewhere" },
	{ "ham: a search form to the sender's own site",
	  "From: news@shop.example\r\nTo: user@example.test\r\n"
	  "Subject: news\r\n", "<form action=\"https://www.shop.example/"
	  "search\"><input type=text name=q></form><a href=\"https://"
	  "www.shop.example/\">shop</a>", 0, false, 0, 0, "", "accept", NULL,
	  "html-form" },
	{ "phishing: the name claims a brand, no link goes to it",
	  "From: \"PayPal Service\" <a@notice.example>\r\n"
	  "To: user@example.test\r\nSubject: notice\r\n",
	  "<a href=\"https://collect.example.net/\">Log in</a>", 0, false,
	  5, 5, "phishing", "tag", "brand-links-elsewhere", NULL },
	{ "ham: a brand in the name, links to the brand",
	  "From: \"PayPal\" <service@mail.example>\r\n"
	  "To: user@example.test\r\nSubject: receipt\r\n",
	  "<a href=\"https://www.paypal.com/activity\">activity</a>", 0,
	  false, 3, 3, "", "accept", "dispname-brand",
	  "brand-links-elsewhere" },
	{ "the subject greets the recipient by address",
	  "From: a@dating.example\r\nTo: user@example.test\r\n"
	  "Subject: Hello USER@example.test, you have a message\r\n",
	  "Hi.", 0, false, 2, 2, "", "accept", "subject-rcpt-address", NULL },
	{ "ham: the subject names another address",
	  "From: a@lists.example\r\nTo: user@example.test\r\n"
	  "Subject: Re: mail to postmaster@example.test bounces\r\n",
	  "Hi.", 0, false, 0, 0, "", "accept", NULL, "subject-rcpt-address" },
	{ "the correspondent's own domain is no look-alike",
	  "From: suzuki@partner-corp.co.jp\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "Hello.", 0, false, 0, 0, "", "accept", NULL,
	  "lookalike-correspondent" },
	/* hosts and shapes (content_signals.c, the test's hosts file) */
	{ "a link through a URL shortener",
	  "From: a@shop.example\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "See https://bit.ly/3xYz now.", 0, false, 3, 3,
	  "", "accept", "link-shortener", "link-free-hosting" },
	{ "ham: one shortened link among many is no hiding",
	  "From: a@shop.example\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "https://shop.example/1 https://shop.example/2 "
	  "https://shop.example/3 https://bit.ly/3xYz", 0, false, 0, 0, "",
	  "accept", NULL, "link-shortener" },
	{ "a link to a form on a free form site (path entry)",
	  "From: a@shop.example\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "Fill in https://docs.google.com/forms/d/e/1/"
	  "viewform today.", 0, false, 3, 3, "", "accept",
	  "link-free-hosting", NULL },
	{ "ham: a shared document on the same site is no form",
	  "From: a@shop.example\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "The plan: https://docs.google.com/document/d/"
	  "1/edit", 0, false, 0, 0, "", "accept", NULL, "link-free-hosting" },
	{ "a login page on a free host, a cue, a shortener: tagged",
	  "From: a@notice.example\r\nTo: user@example.test\r\n"
	  "Subject: verify your account\r\n", "Sign in at https://"
	  "secure-login.web.app/ or https://t.co/x1", 0, false, 8, 8,
	  "phishing", "tag", "link-free-hosting", NULL },
	{ "Reply-To on a free mailbox, From a company",
	  "From: ceo@company.example\r\nReply-To: ceo.company@gmail.com\r\n"
	  "To: user@example.test\r\nSubject: urgent\r\n", "Reply now.", 0,
	  false, 3, 3, "", "accept", "replyto-freemail", NULL },
	{ "ham: Reply-To on a free mailbox from a free mailbox",
	  "From: a@yahoo.com\r\nReply-To: a@gmail.com\r\n"
	  "To: user@example.test\r\nSubject: hi\r\n", "Hi.", 0, false, 0,
	  0, "", "accept", NULL, "replyto-freemail" },
	{ "ham: Reply-To on the sender's own organisation",
	  "From: a@mail.company.example\r\nReply-To: b@company.example\r\n"
	  "To: user@example.test\r\nSubject: hi\r\n", "Hi.", 0, false, 0,
	  0, "", "accept", NULL, "replyto-freemail" },
	{ "a From domain under a throwaway TLD",
	  "From: offer@k3j9x.xyz\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "Hi.", 0, false, 2, 2, "", "accept",
	  "from-abused-tld", NULL },
	{ "ham: a TLD that only ends like a listed one",
	  "From: a@ex.abcxyz\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "Hi.", 0, false, 0, 0, "", "accept", NULL,
	  "from-abused-tld" },
	{ "several authors in From",
	  "From: Gift <a@friends.example>, Gift <b@friends.example>\r\n"
	  "To: user@example.test\r\nSubject: hi\r\n", "Hi.", 0, false, 2,
	  2, "", "accept", "from-shape", NULL },
	{ "a From with no address",
	  "From: \"Facebook\" <>\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "Hi.", 0, false, 2, 2, "", "accept",
	  "from-shape", NULL },
	{ "a display name ending in a comma (a broken list of names)",
	  "From: Deutsche Bahn, Deutsche Bahn, <noreply@rail.example>\r\n"
	  "To: user@example.test\r\nSubject: hi\r\n", "Hi.", 0, false, 2,
	  2, "", "accept", "from-shape", NULL },
	{ "ham: a quoted Last, First display name",
	  "From: \"Suzuki, Hanako\" <hanako@shop.example>\r\n"
	  "To: user@example.test\r\nSubject: hi\r\n", "Hi.", 0, false, 0,
	  0, "", "accept", NULL, "from-shape" },
	{ "a From domain that cannot exist (one label)",
	  "From: Correios <noreply@correios>\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "Hi.", 0, false, 4, 4, "spoofing", "accept",
	  "from-bad-domain", NULL },
	{ "a From domain with a byte no host name has",
	  "From: <Todays@Winner!>\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "Hi.", 0, false, 4, 4, "spoofing", "accept",
	  "from-bad-domain", NULL },
	{ "mathematical letters in the subject",
	  "From: a@shop.example\r\nTo: user@example.test\r\n"
	  "Subject: \xf0\x9d\x90\x85\xf0\x9d\x90\xab\xf0\x9d\x90\x9e"
	  " gift\r\n", "Hi.", 0, false, 3, 3, "", "accept",
	  "styled-letters", NULL },
	{ "ham: emoji and CJK in the subject are no styled letters",
	  "From: a@shop.example\r\nTo: user@example.test\r\n"
	  "Subject: \xf0\x9f\x8e\x81 \xe3\x81\x8a\xe7\xa5\x9d\xe3\x81\x84"
	  " \xf0\x9f\x87\xaf\xf0\x9f\x87\xb5\r\n", "Hi.", 0, false, 0,
	  0, "", "accept", NULL, "styled-letters" },
	{ "HTML only: a picture and a link, no words",
	  "From: a@shop.example\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "<html><style>p{color:red}</style><body><a "
	  "href=\"https://shop.example/c\"><img src=\"https://img.example/"
	  "1.png\"></a></body></html>", 0, false, 2, 2, "", "accept",
	  "html-little-text", NULL },
	{ "ham: HTML only with words",
	  "From: a@shop.example\r\nTo: user@example.test\r\n"
	  "Subject: hi\r\n", "<p>Dear customers, our shop is closed on "
	  "Monday for the holiday; we open again on Tuesday at nine. Thank "
	  "you for shopping with us.</p><a href=\"https://shop.example/\">"
	  "shop</a>", 0, false, 0, 0, "", "accept", NULL, "html-little-text" },
};

/* Every row of the table. */
static void test_rows(const struct content_config *cc,
		      const struct corrindex *ci)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		const char *zip = r->zip == 1 ? zip_enc_b64 :
				  r->zip == 2 ? zip_plain_exe_b64 : NULL;
		char *msg, labels[128];
		struct content_verdict v;

		if (r->zip && !zip) {
			ok(1, "# skip %s: zip missing", r->label);
			continue;
		}
		msg = message(r->hdr ? r->hdr : FROM_PARTNER, r->body, zip,
			      r->zip == 1 ? "mitsumori.zip" : "docs.zip");
		score(cc, ci, msg, r->aligned, &v);
		ok(v.checked, "%s: checked", r->label);
		ok(v.score >= r->min && v.score <= r->max,
		   "%s: score %d in [%d, %d]", r->label, v.score, r->min,
		   r->max);
		if (r->labels)
			is_str(content_labels_str(v.labels, labels,
						  sizeof(labels)), r->labels,
			       "%s: labels", r->label);
		if (r->action)
			is_str(content_action_name(v.action), r->action,
			       "%s: action", r->label);
		if (r->reason)
			ok(find(&v, r->reason) != NULL, "%s: reason %s",
			   r->label, r->reason);
		if (r->absent)
			ok(find(&v, r->absent) == NULL, "%s: no reason %s",
			   r->label, r->absent);
		free(msg);
	}
}

/* The index alone: pairs, names, domains, and its bound. */
static void test_index(const struct content_config *cc,
		       const struct corrindex *ci)
{
	struct corrindex *small = corrindex_new(16);
	size_t i;

	static const char *const user[] = { "User@Example.test" },
		*const other[] = { "other@example.test" };
	struct corrindex_users us, them;
	size_t who;

	corrindex_users(ci, user, 1, &us);
	corrindex_users(ci, other, 1, &them);
	is_int(corrindex_known_pair(ci, &us, "TANAKA@partner-corp.co.jp"), 0,
	       "index: a pair, case-insensitive");
	is_int(corrindex_known_pair(ci, &them, "tanaka@partner-corp.co.jp"),
	       -1, "index: pairs are per recipient");
	is_int(corrindex_name_elsewhere(ci, &us, "tanaka  taro",
					"t@evil.example"), 0,
	       "index: a known name (blanks, case folded) elsewhere");
	is_int(corrindex_name_elsewhere(ci, &us, "Tanaka Taro",
					"tanaka@partner-corp.co.jp"), -1,
	       "index: the known name on its own address");
	is_str(corrindex_dom_name(corrindex_domain(ci, cc->la, cc->psl, &us,
		"mail.partner-corp.co.jp", &who)), "known",
	       "index: a subdomain of a correspondent's domain is known");
	is_str(corrindex_dom_name(corrindex_domain(ci, cc->la, cc->psl, &us,
		"partner-corp.com", &who)), "skeleton",
	       "index: the same label under another suffix");
	is_str(corrindex_dom_name(corrindex_domain(ci, cc->la, cc->psl, &us,
		"partenr-corp.co.jp", &who)), "edit",
	       "index: two neighbours swapped");
	is_str(corrindex_dom_name(corrindex_domain(ci, cc->la, cc->psl, &us,
		"unrelated.co.jp", &who)), "none",
	       "index: an unrelated domain");
	is_str(corrindex_dom_name(corrindex_domain(ci, cc->la, cc->psl, &them,
		"partner-c0rp.co.jp", &who)), "none",
	       "index: look-alikes are per recipient");
	corrindex_users(small, user, 1, &them);
	is_int(them.n, 0, "index: an empty index asks nothing");
	is_int(corrindex_row_key("p:zz"), 0, "index: a malformed row is no key");
	ok(corrindex_row_key("k:00000000000000ff") == 0xff,
	   "index: a k: row's key");
	for (i = 1; i <= 40; i++)
		corrindex_add(small, i);
	ok(corrindex_count(small) <= 32, "index: bound 2 * max (%zu)",
	   corrindex_count(small));
	ok(corrindex_has(small, 40) && !corrindex_has(small, 1),
	   "index: the newest kept, the oldest generation dropped");
	corrindex_free(small);
	corrindex_free(NULL);
}

/* Another module's reasons, thresholds off, the reason limit. */
static void test_add_and_limits(const struct content_config *cc)
{
	struct content_config off = *cc;
	struct content_verdict v;
	char labels[128];
	int i;

	content_verdict_init(&v);
	content_add_reason(&v, "backscatter-unsent", CONTENT_BACKSCATTER, 6,
			   "dsn for message-id=%s never sent", "x@y");
	content_decide(&v, cc);
	is_str(content_labels_str(v.labels, labels, sizeof(labels)),
	       "backscatter", "add: another module's label is attached");
	is_str(content_action_name(v.action), "tag", "add: 6 points tag");
	ok(strstr(v.header, "backscatter-unsent(+6)") != NULL,
	   "add: the reason is in the header value");
	content_add_reason(&v, "reply-known-thread", CONTENT_SPOOFING, -3,
			   "a real reply");
	content_decide(&v, cc);
	is_int(v.score, 3, "add: negative points count in the message's "
	       "favour");
	is_str(content_action_name(v.action), "accept", "add: 3 points accept");

	off.tag_score = off.hold_score = off.reject_score = 0;
	content_verdict_init(&v);
	for (i = 0; i < CONTENT_MAX_REASONS + 5; i++)
		content_add_reason(&v, "r", CONTENT_MALWARE, 1, "%d", i);
	content_decide(&v, &off);
	is_int(v.nreasons, CONTENT_MAX_REASONS, "limit: reasons kept");
	is_int(v.dropped, 5, "limit: reasons dropped are counted");
	is_int(v.score, CONTENT_MAX_REASONS + 5, "limit: ...and scored");
	is_str(content_action_name(v.action), "accept",
	       "limit: every action off (0)");
	content_verdict_init(&v);
	content_add_reason(&v, "long", CONTENT_PHISHING, 1, "%0400d", 7);
	is_int(strlen(v.reason[0].detail), CONTENT_DETAIL_MAX - 1,
	       "limit: a detail is cut to its buffer");
	content_verdict_init(&v);
	content_add_reason(&v, "utf8", CONTENT_PHISHING, 1, "%0318d%s", 1,
			   "あい");
	ok(g_utf8_validate(v.reason[0].detail, -1, NULL),
	   "limit: a cut detail stays UTF-8 (%zu bytes)",
	   strlen(v.reason[0].detail));
	content_verdict_init(&v);
	content_add_reason(&v, "bytes", CONTENT_PHISHING, 1, "host=%s",
			   "partner\xc0r\xed\xa0\x80.example");
	is_str(v.reason[0].detail, "host=partner?r???.example",
	       "limit: bytes that are not UTF-8 (a percent-decoded host, a "
	       "surrogate) become '?'");
}

/* A hosts file that is missing or has a bad line: a warning naming it,
 * and the entries before the bad line still work. */
static void test_hosts_warn(const struct dmarc_psl *psl)
{
	struct content_config cc;
	struct content_verdict v;
	struct config *cfg;
	char path[4200], warn[512], *text;

	cfg = conf("content_hosts_file = /nonexistent/hosts\n");
	content_config_init(&cc, cfg, psl, "mx.test", warn, sizeof(warn));
	ok(strstr(warn, "content_hosts_file /nonexistent/hosts") != NULL,
	   "hosts: a missing file warns (%s)", warn);
	content_config_deinit(&cc);
	config_free(cfg);
	snprintf(path, sizeof(path), "%s/badhosts", tmp);
	g_file_set_contents(path, "shortener bit.ly\nredirect x.example\n",
			    -1, NULL);
	text = xasprintf("content_hosts_file = %s\n", path);
	cfg = conf(text);
	free(text);
	content_config_init(&cc, cfg, psl, "mx.test", warn, sizeof(warn));
	ok(strstr(warn, "line 2") != NULL, "hosts: a bad line is named (%s)",
	   warn);
	text = message("From: a@shop.example\r\nTo: user@example.test\r\n"
		       "Subject: hi\r\n", "https://bit.ly/x", NULL, NULL);
	score(&cc, NULL, text, false, &v);
	ok(find(&v, "link-shortener") != NULL,
	   "hosts: the entries before a bad line are used");
	free(text);
	content_config_deinit(&cc);
	config_free(cfg);
}

int main(void)
{
	struct config *cfg;
	struct dmarc_psl *psl = dmarc_psl_load(NULL);
	struct content_config cc;
	struct corrindex *ci;
	char prot[4200], hosts[4200], warn[512], *text;

	if (!psl || !mkdtemp(tmp)) {
		printf("1..0 # SKIP no Public Suffix List\n");
		return 0;
	}
	/* the archives, built here with Debian's zip */
	sh("printf 'estimate' > mitsumori.xlsx && "
	   "zip -q -e -P pw enc.zip mitsumori.xlsx");
	sh("printf 'MZ' > 'invoice.pdf.exe' && zip -q plain.zip "
	   "'invoice.pdf.exe'");
	zip_enc_b64 = test_b64_file(tmp, "enc.zip", 76);
	zip_plain_exe_b64 = test_b64_file(tmp, "plain.zip", 76);
	snprintf(prot, sizeof(prot), "%s/protected", tmp);
	g_file_set_contents(prot, "mizuho-bank.co.jp みずほ銀行\n"
			    "paypal.com PayPal\n", -1, NULL);
	snprintf(hosts, sizeof(hosts), "%s/hosts", tmp);
	g_file_set_contents(hosts, "shortener bit.ly\nshortener t.co\n"
			    "hosting web.app\nhosting docs.google.com/forms\n"
			    "freemail gmail.com\nfreemail yahoo.com\n"
			    "tld xyz\n", -1, NULL);
	text = xasprintf("authserv_id = mx.test\nlookalike_protected_file = "
			 "%s\ncontent_hosts_file = %s\n", prot, hosts);
	cfg = conf(text);
	free(text);
	content_config_init(&cc, cfg, psl, "mx.test", warn, sizeof(warn));
	is_str(warn, "", "config: the protected file loads");
	ci = corrindex_new(1024);
	corrindex_set_salt(ci, SALT);
	/* user@example.test has written to Tanaka Taro at partner-corp */
	learn(ci, &cc, "From: user@example.test\r\nTo: \"Tanaka Taro\" "
	      "<tanaka@partner-corp.co.jp>\r\n\r\n");

	test_rows(&cc, ci);
	test_index(&cc, ci);
	test_add_and_limits(&cc);
	test_hosts_warn(psl);

	corrindex_free(ci);
	content_config_deinit(&cc);
	config_free(cfg);
	dmarc_psl_free(psl);
	g_free(zip_enc_b64);
	g_free(zip_plain_exe_b64);
	sh("rm -rf '%s'", tmp);
	return tap_done();
}
