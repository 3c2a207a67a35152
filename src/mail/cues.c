/*
 * cues - scam-type cue words and brand claims; see cues.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/cues.h"
#include "mail/dispname.h"
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
	{CUES_PHISHING, "unusual signin"},
	{CUES_PHISHING, "unusual sign in"},
	{CUES_PHISHING, "verify your wallet"},
	{CUES_PHISHING, "unlock your wallet"},
	{CUES_PHISHING, "avoid suspension"},
	{CUES_PHISHING, "confirm your account"},
	{CUES_PHISHING, "account has been locked"},
	{CUES_PHISHING, "payment failed"},
	{CUES_PHISHING, "mailbox is full"},
	{CUES_PHISHING, "storage is full"},
	{CUES_PHISHING, "unusual activity"},
	{CUES_PHISHING, "update your payment"},
	{CUES_PHISHING, "your password expires"},
	{CUES_PHISHING, "restore your account"},
	{CUES_PHISHING, "claim your reward"},
	{CUES_PHISHING, "claim your prize"},
	{CUES_PHISHING, "your package is on hold"},
	{CUES_PHISHING, "your parcel is on hold"},
	/* the same in the languages of the big phishing waves (German,
	 * Portuguese, Spanish, French): account threats, data requests */
	{CUES_PHISHING, "konto wurde gesperrt"},
	{CUES_PHISHING, "konto wird gesperrt"},
	{CUES_PHISHING, "bestätigen sie ihre identität"},
	{CUES_PHISHING, "verifizieren sie ihr konto"},
	{CUES_PHISHING, "ungewöhnliche aktivität"},
	{CUES_PHISHING, "sua conta foi bloqueada"},
	{CUES_PHISHING, "sua conta será bloqueada"},
	{CUES_PHISHING, "confirme seus dados"},
	{CUES_PHISHING, "atualize seus dados"},
	{CUES_PHISHING, "atividade suspeita"},
	{CUES_PHISHING, "verifique sua conta"},
	{CUES_PHISHING, "su cuenta ha sido suspendida"},
	{CUES_PHISHING, "su cuenta será suspendida"},
	{CUES_PHISHING, "verifique su cuenta"},
	{CUES_PHISHING, "actividad inusual"},
	{CUES_PHISHING, "actividad sospechosa"},
	{CUES_PHISHING, "confirme sus datos"},
	{CUES_PHISHING, "actualice sus datos"},
	{CUES_PHISHING, "votre compte a été suspendu"},
	{CUES_PHISHING, "votre compte sera suspendu"},
	{CUES_PHISHING, "vérifiez votre compte"},
	{CUES_PHISHING, "activité inhabituelle"},
	{CUES_PHISHING, "activité suspecte"},
	/* more Japanese account threats and prize lures (当選) */
	{CUES_PHISHING, "アカウントを確認"},
	{CUES_PHISHING, "アカウントの確認"},
	{CUES_PHISHING, "アカウントの停止"},
	{CUES_PHISHING, "アカウントを一時停止"},
	{CUES_PHISHING, "ご利用を停止"},
	{CUES_PHISHING, "利用制限"},
	{CUES_PHISHING, "お支払いが確認できません"},
	{CUES_PHISHING, "支払い方法を確認"},
	{CUES_PHISHING, "ログイン情報を確認"},
	{CUES_PHISHING, "当選しました"},
	{CUES_PHISHING, "ご当選"},
	{CUES_PHISHING, "当選のお知らせ"},
	{CUES_PHISHING, "お荷物をお届けできません"},
	{CUES_PHISHING, "不在のため持ち帰り"},
	/* prize, survey and parcel lures, English */
	{CUES_PHISHING, "you have won"},
	{CUES_PHISHING, "you've won"},
	{CUES_PHISHING, "you are our winner"},
	{CUES_PHISHING, "exclusive rewards for you"},
	{CUES_PHISHING, "claim your gift"},
	{CUES_PHISHING, "your reward is waiting"},
	{CUES_PHISHING, "pending package"},
	{CUES_PHISHING, "unable to deliver your package"},
	{CUES_PHISHING, "reschedule your delivery"},
	{CUES_PHISHING, "someone tried to log in"},
	{CUES_PHISHING, "new sign-in to your account"},
	/* ... German, French, Portuguese, Spanish, Dutch, Italian */
	{CUES_PHISHING, "sie haben gewonnen"},
	{CUES_PHISHING, "gutschein im wert von"},
	{CUES_PHISHING, "ihr paket konnte nicht"},
	{CUES_PHISHING, "vous avez gagné"},
	{CUES_PHISHING, "n'a pas pu livrer votre colis"},
	{CUES_PHISHING, "votre bon d'achat"},
	{CUES_PHISHING, "você ganhou"},
	{CUES_PHISHING, "resgate agora"},
	{CUES_PHISHING, "disponível para resgate"},
	{CUES_PHISHING, "disponivel para resgate"},
	{CUES_PHISHING, "acesso indevido"},
	{CUES_PHISHING, "novo acesso a sua conta"},
	{CUES_PHISHING, "entrega pendente"},
	{CUES_PHISHING, "has ganado"},
	{CUES_PHISHING, "ha ganado un"},
	{CUES_PHISHING, "su paquete no pudo"},
	{CUES_PHISHING, "je hebt gewonnen"},
	{CUES_PHISHING, "uw account is geblokkeerd"},
	{CUES_PHISHING, "verifieer uw account"},
	{CUES_PHISHING, "hai vinto"},
	{CUES_PHISHING, "il tuo account è stato sospeso"},
	{CUES_PHISHING, "verifica il tuo account"},
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
 * The byte triples that occur in the folded subject and text, hashed to
 * one of TRIPLE_BITS bits (a Bloom filter with one hash: a set bit may be
 * another triple's, a clear one is certain).  A cue with a triple whose
 * bit is clear cannot occur in either text, so the strstr of found() runs
 * only for the few cues that may: one pass over the text instead of one
 * per cue.  Triples, not pairs: every pair of "work from home" is in most
 * English text, "k f" and " fr" are not.
 */
#define TRIPLE_BITS 16384
struct triples {
	uint64_t bit[TRIPLE_BITS / 64];
};

/* The bit of the byte triple p[0..2]. */
static unsigned triple_bit(const unsigned char *p)
{
	return ((unsigned)p[0] << 10 ^ (unsigned)p[1] << 5 ^ p[2]) &
	       (TRIPLE_BITS - 1);
}

/* Sets the bit of every triple of adjacent bytes of s. */
static void triples_add(struct triples *t, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned k;

	if (!p[0] || !p[1])
		return;
	/* triple_bit rolled along: shifting by 5 and masking drops the
	 * byte before the triple, so k is triple_bit(p - 2) after p[0] */
	k = ((unsigned)p[0] << 5 ^ p[1]) & (TRIPLE_BITS - 1);
	for (p += 2; *p; p++) {
		k = (k << 5 ^ *p) & (TRIPLE_BITS - 1);
		t->bit[k >> 6] |= 1ull << (k & 63);
	}
}

/* False if some triple of adjacent bytes of s is in no text of t. */
static bool triples_may_hold(const struct triples *t, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; p[0] && p[1] && p[2]; p++) {
		unsigned k = triple_bit(p);

		if (!(t->bit[k >> 6] & (1ull << (k & 63))))
			return false;
	}
	return true;
}

/* True if the folded subject or text holds the folded string s. */
static bool found(const struct triples *t, const char *subj,
		  const char *text, const char *s)
{
	return triples_may_hold(t, s) &&
	       (strstr(subj, s) != NULL || strstr(text, s) != NULL);
}

/* True for an ASCII letter or digit. */
static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* The first occurrence of the folded brand b in h as a word: an ASCII
 * letter or digit at b's edge must not touch one in h ("ups" is not in
 * "groups", "chase" not in "purchase"); CJK brands match anywhere. */
static const char *find_word(const char *h, const char *b)
{
	size_t bn = strlen(b);
	const char *p;

	for (p = h; (p = strstr(p, b)) != NULL; p++)
		if (!(is_alnum(b[0]) && p > h && is_alnum(p[-1])) &&
		    !(is_alnum(b[bn - 1]) && is_alnum(p[bn])))
			return p;
	return NULL;
}

/* The brand b folded as the text is (malloc'd, or NULL): ASCII by
 * lowercasing (what NFKC casefolding does to it), the rest through ICU. */
static char *fold_brand(const char *b)
{
	size_t i, n = strlen(b);
	char *f;

	for (i = 0; i < n; i++)
		if ((unsigned char)b[i] >= 0x80)
			return dispname_fold(b, n, 256);
	f = xmalloc(n + 1);
	for (i = 0; i <= n; i++)
		f[i] = (char)(b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i]);
	return f;
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

		if (strlen(b) < 3)
			continue;	/* "au": found in every other word */
		fb = fold_brand(b);
		if (fb == NULL)
			continue;
		/* the sender is that brand (any of its listed domains) */
		if ((find_word(subj, fb) || find_word(text, fb)) &&
		    !(own && strcmp(lr.brand, b) == 0)) {
			res->brand_claim = true;
			res->brand_in_subject = find_word(subj, fb) != NULL;
			snprintf(res->brand, sizeof(res->brand), "%s", b);
			snprintf(res->brand_domain, sizeof(res->brand_domain),
				 "%s", dom);
			free(fb);
			return;
		}
		free(fb);
	}
}

/* True for the ASCII bytes that separate words in a subject. */
static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == '.' || c == ':' ||
	       c == ';' || c == '!' || c == '?' || c == '"' || c == '(' ||
	       c == ')' || c == '[' || c == ']';
}

/* True if a word of the folded subject mixes Latin with Cyrillic/Greek. */
static bool mixed_word(const struct lookalike *la, const char *subj)
{
	const char *p = subj;

	while (*p) {
		const char *w;

		while (*p && is_sep(*p))
			p++;
		for (w = p; *p && !is_sep(*p); p++)
			;
		if (p > w && (lookalike_script_flags(la, w, (size_t)(p - w)) &
			      LOOKALIKE_F_MIXED_SCRIPT))
			return true;
	}
	return false;
}

bool cues_brand_claim(const struct lookalike *la, const char *text,
		      size_t n, const char *from_domain,
		      struct cues_result *res)
{
	char *f = dispname_fold(text ? text : "", text ? n : 0,
				CUES_SUBJECT_MAX);

	res->brand_claim = false;
	res->brand[0] = res->brand_domain[0] = '\0';
	if (f == NULL)
		return false;
	brand_claims(la, from_domain, f, "", res);
	free(f);
	return res->brand_claim;
}

int cues_scan(const char *subject, size_t sn, const char *text, size_t tn,
	      const struct lookalike *la, const char *from_domain,
	      struct cues_result *res)
{
	char *subj, *body;
	struct triples tr;
	size_t i;

	memset(res, 0, sizeof(*res));
	subj = dispname_fold(subject ? subject : "", subject ? sn : 0,
		    CUES_SUBJECT_MAX);
	body = dispname_fold(text ? text : "", text ? tn : 0, CUES_TEXT_MAX);
	if (subj == NULL || body == NULL) {
		free(subj);
		free(body);
		return -1;
	}
	memset(&tr, 0, sizeof(tr));
	triples_add(&tr, subj);
	triples_add(&tr, body);
	for (i = 0; i < sizeof(cues) / sizeof(cues[0]); i++)
		if (found(&tr, subj, body, cues[i].text)) {
			if (res->hits[cues[i].label]++ == 0)
				res->first[cues[i].label] = cues[i].text;
		}
	if (la != NULL) {
		brand_claims(la, from_domain, subj, body, res);
		res->mixed_script_subject = mixed_word(la, subj);
	}
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
