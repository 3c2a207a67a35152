/*
 * test-outcontent - outbound content facts (O8): extraction from messages
 * built here (archives made at run time with Debian's zip, no malware: the
 * "executable" is a name), the password cue, and the core's content entry
 * point core_outbound_content() on a memory store, table-driven: Emotet's
 * shape (replies into new threads, each an encrypted zip with its
 * password) is restricted at the third message, which is held; PPAP (the
 * password in a second mail), zips with their passwords in one thread,
 * replies with archives into a few threads, and the same shape hours
 * apart are not.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/outcontent.h"
#include "store/store.h"
#include "tap.h"
#include "test_b64.h"
#include "test_core.h"
#include "test_sh.h"
#include "util/config.h"

#define T0 1790000000

static char tmp[] = "/tmp/mamori-test-outcontent-XXXXXX";

/* Run a shell command in the temporary directory (test_sh.h). */
#define sh(...) test_sh(tmp, __VA_ARGS__)

enum att { ATT_NONE, ATT_PLAIN_ZIP, ATT_ENC_ZIP, ATT_EXE, ATT_PDF };

/* A message: reply or not, subject, text, one attachment (g_free). */
static gchar *message(bool reply, const char *subject, const char *text,
		      enum att att)
{
	static const char *const file[] = { "", "plain.zip", "enc.zip",
					    "plain.zip", "plain.zip" };
	static const char *const name[] = { "", "docs.zip", "invoice.zip",
					    "invoice.pdf.exe", "a.pdf" };
	static const char *const type[] = { "", "application/zip",
					    "application/zip",
					    "application/octet-stream",
					    "application/pdf" };
	gchar *b64, *m;

	if (att == ATT_NONE)
		return g_strdup_printf(
			"From: a@isp.example\r\nTo: b@corp.example\r\n"
			"Subject: %s\r\n%sMIME-Version: 1.0\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
			subject, reply ? "In-Reply-To: <t1@corp.example>\r\n"
			"References: <t0@corp.example> <t1@corp.example>\r\n" :
			"", text);
	b64 = test_b64_file(tmp, file[att], 0);
	if (!b64)
		b64 = g_strdup("");
	m = g_strdup_printf(
		"From: a@isp.example\r\nTo: b@corp.example\r\n"
		"Subject: %s\r\n%sMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
		"--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
		"--BB\r\nContent-Type: %s; name=\"%s\"\r\n"
		"Content-Disposition: attachment; filename=\"%s\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--BB--\r\n",
		subject, reply ? "In-Reply-To: <t1@corp.example>\r\n"
		"References: <t0@corp.example> <t1@corp.example>\r\n" : "",
		text, type[att], name[att], name[att], b64);
	g_free(b64);
	return m;
}

/* Facts of messages, one row each. */
static void test_facts(void)
{
	static const struct {
		const char *label;
		bool reply;
		const char *subject, *text;
		enum att att;
		unsigned want;
	} rows[] = {
		{"plain note", false, "hello", "see you", ATT_NONE, 0},
		{"reply, no attachment", true, "Re: hello", "ok", ATT_NONE,
		 OC_REPLY},
		{"PPAP second mail: the password alone", false,
		 "パスワードのお知らせ", "先ほどのファイルのパスワード: x7Q2",
		 ATT_NONE, OC_PASSWORD},
		{"plain zip", false, "docs", "attached", ATT_PLAIN_ZIP, 0},
		{"PPAP first mail: encrypted zip, no password", false,
		 "見積書", "見積書を送付します。パスワードは別途お送りします",
		 ATT_ENC_ZIP, OC_ENC_ARCHIVE},
		{"encrypted zip, password elsewhere (English)", false,
		 "quote", "the key follows separately", ATT_ENC_ZIP,
		 OC_ENC_ARCHIVE},
		{"Emotet: reply, encrypted zip, password in the body", true,
		 "Re: 請求書", "ファイルを確認してください。\nパスワード: 1234",
		 ATT_ENC_ZIP, OC_REPLY | OC_ENC_ARCHIVE | OC_PASSWORD},
		{"English Emotet wording", true, "Re: invoice",
		 "Archive password: 5566", ATT_ENC_ZIP,
		 OC_REPLY | OC_ENC_ARCHIVE | OC_PASSWORD},
		{"disguised executable name", false, "invoice", "see",
		 ATT_EXE, OC_EXECUTABLE},
		{"a PDF", true, "Re: report", "here", ATT_PDF, OC_REPLY},
	};
	struct outbound_content oc;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		gchar *m = message(rows[i].reply, rows[i].subject,
				   rows[i].text, rows[i].att);

		outcontent_facts(m, strlen(m), &oc);
		is_int(oc.flags, rows[i].want, "%s", rows[i].label);
		if (rows[i].reply)
			ok(oc.thread != 0, "%s: thread hashed", rows[i].label);
		g_free(m);
	}
	outcontent_facts("", 0, &oc);
	is_int(oc.flags, OC_UNPARSED, "empty message: unparsed");
}

/* The password cue, table-driven. */
static void test_cue(void)
{
	static const struct {
		const char *text;
		bool want;
	} rows[] = {
		{"Password: 1234", true},
		{"password is 5581", true},
		{"解凍パスワードは 1234 です", true},
		{"パスワード：\t x7Q2", true},
		{"password:\r\n5581 (line break)", true},
		{"パスワード「Ab12cd」", true},
		{"ﾊﾟｽﾜｰﾄﾞ 1234", true},
		{"pw: abcd", true},
		{"Password = secret", true},
		{"PASSWORD is below", false},
		{"pw: abc", false},
		{"パスワードは別途お送りします", false},
		{"パスワードは別送いたします。", false},
		{"The password follows separately.", false},
		{"パスワードのお知らせ", false},
		{"passport renewal 2024", false},
		{"請求書を送付します", false},
		{"", false},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char label[128], *p;

		snprintf(label, sizeof(label), "%s", rows[i].text);
		for (p = label; *p; p++)
			if (*p == '\r' || *p == '\n' || *p == '\t')
				*p = ' ';
		is_int(outcontent_password_cue(rows[i].text,
					       strlen(rows[i].text)),
		       rows[i].want, "cue: %s", label);
	}
	ok(!outcontent_password_cue(NULL, 0), "cue: NULL");
}

/* ------------------------------------------------------------------ */
/* The core                                                             */

struct env {
	struct config *cfg;
	struct store *st;
	struct core *core;
};

/* A core over memory with local_domains isp.example. */
static void env_open(struct env *e)
{
	e->core = test_core_open("local_domains = isp.example\n"
				 "notify_smtp_url =\n", "memory:", &e->cfg,
				 &e->st);
}

/* Free what env_open made. */
static void env_close(struct env *e)
{
	test_core_close(e->core, e->st, e->cfg);
}

static void got(void *arg, const struct verdict *v)
{
	*(struct verdict *)arg = *v;
}

/* One message to rcpt: RCPT, END-OF-MESSAGE, then its content facts. */
static struct verdict send_to(struct env *e, const char *rcpt, int msgno,
			      unsigned flags, uint32_t thread, int64_t now)
{
	struct outbound_request r = { 0 };
	struct outbound_content oc = { .flags = flags, .thread = thread };
	struct verdict v = { 0 };
	char qid[32];

	snprintf(qid, sizeof(qid), "Q%d", msgno);
	r.login = "alice@isp.example";
	r.sender = "alice@isp.example";
	r.client_address = "198.18.0.5";
	r.instance = qid;
	r.queue_id = qid;
	r.now = now;
	r.stage = OUT_RCPT;
	r.recipient = rcpt;
	core_outbound(e->core, &r, got, &v);
	if (v.action != VERDICT_DUNNO)
		return v;
	r.stage = OUT_END_OF_MESSAGE;
	r.recipient_count = 1;
	core_outbound(e->core, &r, got, &v);
	if (v.action != VERDICT_DUNNO)
		return v;
	core_outbound_content(e->core, "alice@isp.example", qid, "198.18.0.5",
			      &oc, now, got, &v);
	return v;
}

/* One message to c(msgno % 3)@corp(msgno % 2).example. */
static struct verdict send_oc(struct env *e, int msgno, unsigned flags,
			      uint32_t thread, int64_t now)
{
	char rcpt[64];

	snprintf(rcpt, sizeof(rcpt), "c%d@corp%d.example", msgno % 3,
		 msgno % 2);
	return send_to(e, rcpt, msgno, flags, thread, now);
}

#define EMO (OC_REPLY | OC_ENC_ARCHIVE | OC_PASSWORD)
#define PPAP1 (OC_ENC_ARCHIVE)
#define PPAP2 (OC_PASSWORD)

/* Scenarios through the core: a sequence of messages a few minutes apart. */
static void test_core(void)
{
	static const struct {
		const char *label;
		unsigned flags[8];	/* 0 ends (a plain message is 1<<31) */
		uint32_t thread[8];
		int gap;		/* seconds between messages */
		const char *state;	/* after the last */
		enum verdict_action last;	/* the last content verdict */
		int tripped_at;		/* message held, 0 none */
	} rows[] = {
		{"Emotet: replies with encrypted zips and their passwords",
		 {EMO, EMO, EMO, EMO}, {11, 12, 13, 14}, 120, "restricted",
		 VERDICT_HOLD, 3},
		{"executables as replies into three threads",
		 {OC_EXECUTABLE | OC_REPLY, OC_EXECUTABLE | OC_REPLY,
		  OC_EXECUTABLE | OC_REPLY}, {71, 72, 73}, 300, "restricted",
		 VERDICT_HOLD, 3},
		{"executables twice, no other trait",
		 {OC_EXECUTABLE, OC_EXECUTABLE, 1u << 31}, {0, 0, 0}, 300,
		 "normal", VERDICT_DUNNO, 0},
		{"PPAP to three customers (zip, then password mail)",
		 {PPAP1, PPAP2, PPAP1 | OC_REPLY, PPAP2, PPAP1 | OC_REPLY,
		  PPAP2}, {0, 0, 21, 0, 22, 0}, 300, "normal", VERDICT_DUNNO,
		 0},
		{"zips with their passwords, twice in an hour, one thread",
		 {EMO, EMO, 1u << 31, EMO & ~OC_PASSWORD}, {31, 31, 0, 31},
		 300, "normal", VERDICT_DUNNO, 0},
		{"zip replies into four threads, passwords separate",
		 {PPAP1 | OC_REPLY, PPAP1 | OC_REPLY, PPAP1 | OC_REPLY,
		  PPAP1 | OC_REPLY}, {41, 42, 43, 44}, 300, "normal",
		 VERDICT_DUNNO, 0},
		{"Emotet's shape, but hours apart",
		 {EMO, EMO, EMO}, {51, 52, 53}, 7200, "normal", VERDICT_DUNNO,
		 0},
		{"Emotet's shape, three threads begun 25 minutes apart",
		 {EMO, EMO, EMO}, {91, 92, 93}, 1500, "restricted",
		 VERDICT_HOLD, 3},
		{"the same 35 minutes apart (70 minutes: not in an hour)",
		 {EMO, EMO, EMO}, {94, 95, 96}, 2100, "normal", VERDICT_DUNNO,
		 0},
		{"a macro workbook, replies", {OC_MACRO | OC_REPLY,
		  OC_MACRO | OC_REPLY}, {61, 61}, 300, "normal",
		 VERDICT_DUNNO, 0},
	};
	size_t i, k;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct env e;
		struct verdict v = { 0 };
		int tripped = 0;
		char reason[sizeof(v.reason)] = "";

		env_open(&e);
		/* A little clean history: the usual address is known. */
		send_oc(&e, 100, 0, 0, T0 - 7200);
		for (k = 0; k < 8 && rows[i].flags[k]; k++) {
			unsigned f = rows[i].flags[k] & ~(1u << 31);

			v = send_oc(&e, (int)k, f, rows[i].thread[k],
				    T0 + (int64_t)k * rows[i].gap);
			if (v.action == VERDICT_HOLD && !tripped) {
				tripped = (int)k + 1;
				snprintf(reason, sizeof(reason), "%s",
					 v.reason);
			}
		}
		is_int(tripped, rows[i].tripped_at, "%s: message held",
		       rows[i].label);
		is_int(v.action, rows[i].last, "%s: last verdict",
		       rows[i].label);
		is_str(v.state, rows[i].state, "%s: state", rows[i].label);
		if (rows[i].tripped_at)
			ok(strstr(reason, "malware_content") != NULL,
			   "%s: reason names malware_content: %s",
			   rows[i].label, reason);
		env_close(&e);
	}
}

/*
 * The content habit: an account that sent its zips with the password
 * inline to its correspondents on an earlier day, cleanly, may do so
 * again to them; the same mail today for the first time, to strangers,
 * or after the habit expired, is Emotet's shape as before.
 */
static void test_habit(void)
{
	static const struct {
		const char *label;
		int habit_age;		/* days before; 0: learnt today */
		bool strangers;		/* today's replies go to new people */
		unsigned today;		/* today's facts */
		int tripped_at;		/* message held, 0 none */
	} rows[] = {
		{"careless PPAP to correspondents, habit since yesterday", 1,
		 false, EMO, 0},
		{"the same, habit 30 days old", 30, false, EMO, 0},
		{"habit learnt today only (the malware's first message)", 0,
		 false, EMO, 3},
		{"habit, but the zips go to strangers", 1, true, EMO, 3},
		{"habit older than 90 days", 91, false, EMO, 3},
		{"habit, but executables to correspondents", 1, false,
		 OC_EXECUTABLE | OC_REPLY, 3},
	};
	static const char *const corr[] = {
		"k.tanaka@biz1.example", "m.sato@biz2.example",
		"y.ito@biz3.example",
	};
	size_t i;
	int k;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t day0 = T0 - (int64_t)rows[i].habit_age * 86400 - 3 * 3600;
		int tripped = 0;
		struct verdict v = { 0 };
		struct env e;
		char rcpt[64];

		env_open(&e);
		/* Habit: plain mail to three correspondents, then one zip
		 * with its password inline to the first of them. */
		for (k = 0; k < 3; k++)
			send_to(&e, corr[k], 200 + k, 0, 0, day0 + k * 600);
		v = send_to(&e, corr[0], 203, OC_ENC_ARCHIVE | OC_PASSWORD, 0,
			    day0 + 1800);
		is_str(v.state, "normal", "habit %s: the first one passes",
		       rows[i].label);
		/* Today: three such replies into three threads. */
		for (k = 0; k < 3; k++) {
			snprintf(rcpt, sizeof(rcpt), "x%d.%zu@biz%d.example", k,
				 i, k + 1);
			v = send_to(&e, rows[i].strangers ? rcpt : corr[k],
				    300 + k, rows[i].today, 81 + (uint32_t)k,
				    T0 + k * 600);
			if (v.action == VERDICT_HOLD && !tripped)
				tripped = k + 1;
		}
		is_int(tripped, rows[i].tripped_at, "habit %s: message held",
		       rows[i].label);
		is_str(v.state, rows[i].tripped_at ? "restricted" : "normal",
		       "habit %s: state", rows[i].label);
		env_close(&e);
	}
}

int main(void)
{
	if (!mkdtemp(tmp))
		return 1;
	if (sh("printf 'hello\\n' > a.txt && zip -q plain.zip a.txt && "
	       "zip -q -P secret enc.zip a.txt") != 0) {
		printf("1..0 # SKIP zip not installed\n");
		return 0;
	}
	test_facts();
	test_cue();
	test_core();
	test_habit();
	sh("rm -f a.txt plain.zip enc.zip");
	rmdir(tmp);
	return tap_done();
}
