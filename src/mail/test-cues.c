/*
 * test-cues - scam-type cue words and brand claims (src/mail/cues.c), one
 * row a case.  Uses the system Public Suffix List.
 */
#include <string.h>

#include "mail/cues.h"
#include "mail/dmarc.h"
#include "mail/lookalike.h"
#include "tap.h"

struct row {
	const char *label, *subject, *text, *from;
	unsigned want[CUES_N];	/* hits per label */
	const char *brand;	/* brand claimed, "" if none */
};

static const struct row rows[] = {
	{"Japanese phishing", "【重要】アカウントを停止しました",
	 "本人確認のため、こちらからログインしてください。",
	 "x@evil.example.com", {2, 0, 0, 0}, ""},
	{"half-width katakana folds", "ｱｶｳﾝﾄを停止", "", "x@evil.example.com",
	 {1, 0, 0, 0}, ""},
	{"English phishing, case folded", "Unusual Sign-In Activity",
	 "Please VERIFY YOUR ACCOUNT today.", "x@evil.example.com",
	 {2, 0, 0, 0}, ""},
	{"fake billing", "最終通告", "有料サイトの未払い料金について法的措置を取ります",
	 "x@evil.example.com", {0, 4, 0, 0}, ""},
	{"Emotet-style malware", "請求書",
	 "添付ファイルを開いて、コンテンツの有効化をクリックしてください。"
	 "解凍パスワードは別途お送りします。", "x@evil.example.com",
	 {0, 0, 3, 0}, ""},
	{"solicitation", "副業で月収100万円",
	 "在宅ワークで簡単に稼げます", "x@evil.example.com", {0, 0, 0, 3},
	 ""},
	{"full-width English", "\xef\xbc\xa6\xef\xbc\xa9\xef\xbc\xae\xef\xbc\xa1"
	 "\xef\xbc\xac notice", "", "x@evil.example.com", {0, 1, 0, 0}, ""},
	{"Portuguese phishing, case folded", "Sua conta foi BLOQUEADA",
	 "Atualize seus dados hoje.", "x@evil.example.com", {2, 0, 0, 0},
	 ""},
	{"German phishing", "Ihr Konto wurde gesperrt",
	 "Ungewöhnliche Aktivität festgestellt.", "x@evil.example.com",
	 {2, 0, 0, 0}, ""},
	{"ham: German account words without the threat", "Ihr Konto",
	 "Ihre Aktivität im Forum: 3 neue Beiträge.", "x@forum.example.com",
	 {0, 0, 0, 0}, ""},
	{"ham: one word is no cue", "Invoice 1234",
	 "Your password was changed. The invoice is attached.",
	 "billing@example.com", {0, 0, 0, 0}, ""},
	{"brand claimed by another domain", "Amazon.co.jpからのお知らせ",
	 "Amazonプライムの会費のお支払い方法を更新してください",
	 "info@amaz0n-support.example.com", {1, 0, 0, 0}, "Amazon"},
	{"brand from its own domain", "Amazonからのお知らせ", "",
	 "info@mail.amazon.co.jp", {0, 0, 0, 0}, ""},
	{"brand from its other listed domain", "Your Amazon order", "",
	 "ship-confirm@amazon.com", {0, 0, 0, 0}, ""},
	{"Japanese brand name", "三井住友カードご利用確認", "",
	 "x@smbc-card.xyz", {1, 0, 0, 0}, "三井住友カード"},
	{"short brands are not looked for", "au PAY", "", "x@evil.example.com",
	 {0, 0, 0, 0}, ""},
	{"brand inside a longer word is no claim", "Your group purchase",
	 "", "x@evil.example.com", {0, 0, 0, 0}, ""},
	{"brand as a word is a claim", "UPS: delivery attempt failed", "",
	 "x@evil.example.com", {0, 0, 0, 0}, "UPS"},
	{"brand before punctuation is a claim", "Chase: alert", "",
	 "x@evil.example.com", {0, 0, 0, 0}, "Chase"},
	{"invalid UTF-8 is tolerated", "\xff\xfe final notice", "",
	 "x@evil.example.com", {0, 1, 0, 0}, ""},
	{"Japanese prize and account lures", "【当選のお知らせ】",
	 "アカウントの確認が必要です。", "x@evil.example.com", {2, 0, 0, 0},
	 ""},
	{"prize lures, English and German", "You have WON",
	 "Sie haben gewonnen: ein Gutschein im Wert von 500 Euro",
	 "x@evil.example.com", {3, 0, 0, 0}, ""},
	{"Portuguese and French lures", "Acesso indevido",
	 "Le livreur n'a pas pu livrer votre colis.", "x@evil.example.com",
	 {2, 0, 0, 0}, ""},
	{"ham: a prize word without the lure", "Prize draw results",
	 "Our team won the league; the gift shop opens Monday.",
	 "x@club.example.com", {0, 0, 0, 0}, ""},
	{"empty message", "", "", NULL, {0, 0, 0, 0}, ""},
};

int main(void)
{
	struct dmarc_psl *psl = dmarc_psl_load(NULL);
	struct lookalike *la;
	struct cues_result res;
	size_t i, k;
	char big[CUES_TEXT_MAX + 64];

	if (!ok(psl != NULL, "system Public Suffix List loads"))
		return tap_done();
	la = lookalike_new(psl);
	lookalike_add(la, "amazon.co.jp", "Amazon");
	lookalike_add(la, "amazon.com", "Amazon");
	lookalike_add(la, "smbc-card.com", "三井住友カード");
	lookalike_add(la, "au.com", "au");
	lookalike_add(la, "ups.com", "UPS");
	lookalike_add(la, "chase.com", "Chase");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *t = &rows[i];
		const char *fd = t->from ? strrchr(t->from, '@') + 1 : NULL;

		is_int(cues_scan(t->subject, strlen(t->subject), t->text,
				 strlen(t->text), la, fd, &res), 0,
		       "%s: scans", t->label);
		for (k = 0; k < CUES_N; k++)
			is_int(res.hits[k], t->want[k], "%s: %s", t->label,
			       cues_label_name((enum cues_label)k));
		is_str(res.brand, t->brand, "%s: brand", t->label);
		is_int(res.brand_claim, t->brand[0] != '\0',
		       "%s: brand claim", t->label);
		if (res.brand_claim)
			ok(res.brand_in_subject, "%s: brand in the subject",
			   t->label);
	}
	cues_scan("Hello", 5, "Your Amazon order", 17, la, "x@evil.example",
		  &res);
	ok(res.brand_claim && !res.brand_in_subject,
	   "brand in the text only");
	ok(cues_brand_claim(la, "Amazon.co.jp カスタマーサービス", 40,
			    "evil.example", &res) &&
	   strcmp(res.brand, "Amazon") == 0, "display name claims Amazon");
	ok(!cues_brand_claim(la, "Amazon.co.jp", 12, "amazon.co.jp", &res),
	   "display name of Amazon from Amazon");
	ok(!cues_brand_claim(la, "Taro Yamada", 11, "evil.example", &res) &&
	   res.brand[0] == '\0', "plain display name claims nothing");
	{
		static const char mixed[] = "R\xd0\xb5vi\xd0\xb5w Y\xd0\xbeur "
					    "M\xd0\xb0tches";
		static const char jp[] = "Amazon\xe3\x81\x8b\xe3\x82\x89 "
					 "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2"
					 "\xd0\xb5\xd1\x82 Review";

		cues_scan(mixed, sizeof(mixed) - 1, "", 0, la, NULL, &res);
		ok(res.mixed_script_subject,
		   "subject words with Cyrillic e and o");
		cues_scan(jp, sizeof(jp) - 1, "", 0, la, NULL, &res);
		ok(!res.mixed_script_subject,
		   "Latin+kana, a Russian word, an English word: not mixed");
	}
	cues_scan("", 0, "final notice", 12, NULL, NULL, &res);
	is_str(res.first[CUES_FAKE_BILLING], "final notice",
	       "first cue reported");
	/* the text past CUES_TEXT_MAX is not read */
	memset(big, 'a', sizeof(big));
	memcpy(big + CUES_TEXT_MAX + 10, "副業", 6);
	cues_scan("", 0, big, sizeof(big), NULL, NULL, &res);
	is_int(res.hits[CUES_SOLICITATION], 0, "text past the limit unread");
	lookalike_free(la);
	dmarc_psl_free(psl);
	return tap_done();
}
