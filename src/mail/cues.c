/*
 * cues - scam-type cue words and brand claims; see cues.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "mail/cues.h"
#include "mail/lookalike.h"
#include "util/xalloc.h"

struct cue {
	enum cues_label label;
	const char *text;	/* NFKC-casefolded already */
};

/*
 * The cue list.  Phrases, not single words, so that ham quoting one word
 * ("invoice", "password") does not count; each written as it appears after
 * NFKC casefolding (lowercase ASCII, full-width forms folded).
 */
static const struct cue cues[] = {
	/* phishing: account threats and credential requests */
	{CUES_PHISHING, "アカウントを停止"},
	{CUES_PHISHING, "アカウントが停止"},
	{CUES_PHISHING, "アカウントがロック"},
	{CUES_PHISHING, "本人確認"},
	{CUES_PHISHING, "ご利用確認"},
	{CUES_PHISHING, "不正アクセス"},
	{CUES_PHISHING, "不正なログイン"},
	{CUES_PHISHING, "セキュリティ上の理由"},
	{CUES_PHISHING, "お支払い方法を更新"},
	{CUES_PHISHING, "お支払い情報"},
	{CUES_PHISHING, "カード情報"},
	{CUES_PHISHING, "パスワードの有効期限"},
	{CUES_PHISHING, "verify your account"},
	{CUES_PHISHING, "account has been suspended"},
	{CUES_PHISHING, "account will be suspended"},
	{CUES_PHISHING, "confirm your identity"},
	{CUES_PHISHING, "unusual sign-in"},
	{CUES_PHISHING, "unusual activity"},
	{CUES_PHISHING, "update your payment"},
	{CUES_PHISHING, "your password expires"},
	{CUES_PHISHING, "restore your account"},
	/* fake billing (架空請求): unpaid fees, legal threats */
	{CUES_FAKE_BILLING, "未払い"},
	{CUES_FAKE_BILLING, "未納"},
	{CUES_FAKE_BILLING, "料金が発生"},
	{CUES_FAKE_BILLING, "法的措置"},
	{CUES_FAKE_BILLING, "法的手続き"},
	{CUES_FAKE_BILLING, "最終通告"},
	{CUES_FAKE_BILLING, "延滞"},
	{CUES_FAKE_BILLING, "有料サイト"},
	{CUES_FAKE_BILLING, "退会手続き"},
	{CUES_FAKE_BILLING, "outstanding balance"},
	{CUES_FAKE_BILLING, "final notice"},
	{CUES_FAKE_BILLING, "legal action"},
	{CUES_FAKE_BILLING, "overdue invoice"},
	{CUES_FAKE_BILLING, "overdue payment"},
	/* malware: getting the attachment opened */
	{CUES_MALWARE, "添付ファイルを開"},
	{CUES_MALWARE, "添付ファイルをご確認"},
	{CUES_MALWARE, "マクロを有効"},
	{CUES_MALWARE, "コンテンツの有効化"},
	{CUES_MALWARE, "編集を有効"},
	{CUES_MALWARE, "解凍パスワード"},
	{CUES_MALWARE, "zipパスワード"},
	{CUES_MALWARE, "enable macros"},
	{CUES_MALWARE, "enable content"},
	{CUES_MALWARE, "enable editing"},
	{CUES_MALWARE, "open the attached"},
	{CUES_MALWARE, "password for the attachment"},
	{CUES_MALWARE, "archive password"},
	/* solicitation (副業): easy money */
	{CUES_SOLICITATION, "副業"},
	{CUES_SOLICITATION, "在宅ワーク"},
	{CUES_SOLICITATION, "簡単に稼"},
	{CUES_SOLICITATION, "確実に稼"},
	{CUES_SOLICITATION, "確実に儲"},
	{CUES_SOLICITATION, "高収入"},
	{CUES_SOLICITATION, "不労所得"},
	{CUES_SOLICITATION, "work from home"},
	{CUES_SOLICITATION, "make money fast"},
	{CUES_SOLICITATION, "passive income"},
	{CUES_SOLICITATION, "guaranteed returns"},
	{CUES_SOLICITATION, "guaranteed profit"},
};

/*
 * NFKC_Casefold of s[0..n) (cut to max bytes on a character boundary,
 * invalid UTF-8 replaced by U+FFFD) into a new string; NULL if ICU fails.
 */
static char *fold(const char *s, size_t n, size_t max)
{
	UErrorCode err = U_ZERO_ERROR;
	const UNormalizer2 *nfkc = unorm2_getNFKCCasefoldInstance(&err);
	UChar *in, *nf;
	char *out;
	int32_t nin, nnf, no;
	size_t cap;

	if (U_FAILURE(err))
		return NULL;
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	in = xmalloc((n + 1) * sizeof(UChar));
	/* mail text is often not quite UTF-8: substitute, do not refuse */
	u_strFromUTF8WithSub(in, (int32_t)(n + 1), &nin, s, (int32_t)n,
			     0xfffd, NULL, &err);
	/* NFKC can expand a code unit up to 18 times (U+FDFA); 4 covers
	 * text and a retry below handles the rest */
	cap = (size_t)nin * 4 + 16;
	nf = xmalloc(cap * sizeof(UChar));
	nnf = U_FAILURE(err) ? 0 : unorm2_normalize(nfkc, in, nin, nf,
						     (int32_t)cap, &err);
	if (err == U_BUFFER_OVERFLOW_ERROR) {
		err = U_ZERO_ERROR;
		cap = (size_t)nnf + 1;
		nf = xrealloc(nf, cap * sizeof(UChar));
		nnf = unorm2_normalize(nfkc, in, nin, nf, (int32_t)cap, &err);
	}
	free(in);
	if (U_FAILURE(err)) {
		free(nf);
		return NULL;
	}
	out = xmalloc((size_t)nnf * 3 + 1);
	u_strToUTF8(out, (int32_t)nnf * 3 + 1, &no, nf, nnf, &err);
	free(nf);
	if (U_FAILURE(err)) {
		free(out);
		return NULL;
	}
	out[no] = '\0';
	return out;
}

/* True if the folded subject or text holds the folded string s. */
static bool found(const char *subj, const char *text, const char *s)
{
	return strstr(subj, s) != NULL || strstr(text, s) != NULL;
}

/* Code points in the UTF-8 string s. */
static size_t count_cps(const char *s)
{
	size_t c = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			c++;
	return c;
}

/* Looks for a protected brand named in subj/text but not the sender's. */
static void brand_claims(const struct lookalike *la, const char *from_domain,
			 const char *subj, const char *text,
			 struct cues_result *res)
{
	struct lookalike_result lr;
	size_t i, n = lookalike_count(la);
	bool own;

	own = from_domain != NULL &&
	      lookalike_check(la, from_domain, NULL, 0, &lr) == LOOKALIKE_SAME;
	for (i = 0; i < n; i++) {
		const char *dom, *b = lookalike_brand(la, i, &dom);
		char *fb;

		if (count_cps(b) < 3)
			continue;
		fb = fold(b, strlen(b), 256);
		if (fb == NULL)
			continue;
		/* the sender is that brand (any of its listed domains) */
		if (found(subj, text, fb) &&
		    !(own && strcmp(lr.brand, b) == 0)) {
			res->brand_claim = true;
			snprintf(res->brand, sizeof(res->brand), "%s", b);
			snprintf(res->brand_domain, sizeof(res->brand_domain),
				 "%s", dom);
			free(fb);
			return;
		}
		free(fb);
	}
}

int cues_scan(const char *subject, size_t sn, const char *text, size_t tn,
	      const struct lookalike *la, const char *from_domain,
	      struct cues_result *res)
{
	char *subj, *body;
	size_t i;

	memset(res, 0, sizeof(*res));
	subj = fold(subject ? subject : "", subject ? sn : 0,
		    CUES_SUBJECT_MAX);
	body = fold(text ? text : "", text ? tn : 0, CUES_TEXT_MAX);
	if (subj == NULL || body == NULL) {
		free(subj);
		free(body);
		return -1;
	}
	for (i = 0; i < sizeof(cues) / sizeof(cues[0]); i++)
		if (found(subj, body, cues[i].text)) {
			if (res->hits[cues[i].label]++ == 0)
				res->first[cues[i].label] = cues[i].text;
		}
	if (la != NULL)
		brand_claims(la, from_domain, subj, body, res);
	free(subj);
	free(body);
	return 0;
}

const char *cues_label_name(enum cues_label l)
{
	switch (l) {
	case CUES_PHISHING:
		return "phishing";
	case CUES_FAKE_BILLING:
		return "fake-billing";
	case CUES_MALWARE:
		return "malware";
	case CUES_SOLICITATION:
		return "solicitation";
	default:
		return "unknown";
	}
}
