/*
 * test-lookalike - look-alike domains (src/mail/lookalike.c): the rules of
 * lookalike.h one row each, the protected-file parser, the distance.
 * Uses the system Public Suffix List (Debian publicsuffix).
 */
#include <stdio.h>
#include <string.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "mail/dmarc.h"
#include "mail/lookalike.h"
#include "tap.h"

static const char protected_file[] =
	"# test list\n"
	"paypal.com      PayPal\n"
	"microsoft.com   Microsoft\n"
	"amazon.co.jp    Amazon\n"
	"apple.com       Apple\n"
	"smbc-card.com   三井住友カード\n"
	"  example.com\t\n"
	"\n"
	"ibm.com IBM   # short label: no edit distance\n"
	"rakuten.co.jp   楽天\n";

struct row {
	const char *label;
	const char *domain;
	const char *known;	/* one known correspondent or NULL */
	enum lookalike_verdict verdict;
	enum lookalike_reason reason;
	const char *matched;
	unsigned flags;		/* flags that must be set */
};

static const struct row rows[] = {
	{"digit one for l", "paypa1.com", NULL, LOOKALIKE_MATCH,
	 LOOKALIKE_R_CONFUSABLE, "paypal.com", 0},
	{"rn for m", "rnicrosoft.com", NULL, LOOKALIKE_MATCH,
	 LOOKALIKE_R_CONFUSABLE, "microsoft.com", 0},
	{"amazon.co.jp dashed in a label", "amaz0n-co-jp.com", NULL,
	 LOOKALIKE_MATCH, LOOKALIKE_R_EMBEDDED, "amazon.co.jp", 0},
	{"Cyrillic a in apple", "\xd0\xb0pple.com", NULL, LOOKALIKE_MATCH,
	 LOOKALIKE_R_CONFUSABLE, "apple.com", LOOKALIKE_F_MIXED_SCRIPT},
	{"Cyrillic a as A-label", "xn--pple-43d.com", NULL, LOOKALIKE_MATCH,
	 LOOKALIKE_R_CONFUSABLE, "apple.com", LOOKALIKE_F_MIXED_SCRIPT},
	{"whole-script Cyrillic apple", "\xd0\xb0\xd1\x80\xd1\x80\xd3\x8f\xd0\xb5.com",
	 NULL, LOOKALIKE_MATCH, LOOKALIKE_R_EDIT, "apple.com",
	 LOOKALIKE_F_WHOLE_SCRIPT},
	{"other public suffix", "smbc-card.xyz", NULL, LOOKALIKE_MATCH,
	 LOOKALIKE_R_SUFFIX, "smbc-card.com", 0},
	{"brand token", "paypal-secure-login.com", NULL, LOOKALIKE_MATCH,
	 LOOKALIKE_R_EMBEDDED, "paypal.com", 0},
	{"brand as subdomain", "paypal.com.verify.evil-host.net", NULL,
	 LOOKALIKE_MATCH, LOOKALIKE_R_EMBEDDED, "paypal.com", 0},
	{"one transposition", "micorsoft.com", NULL, LOOKALIKE_MATCH,
	 LOOKALIKE_R_EDIT, "microsoft.com", 0},
	{"two edits on a long label", "micrasofft.com", NULL, LOOKALIKE_MATCH,
	 LOOKALIKE_R_EDIT, "microsoft.com", 0},
	{"three edits: too far", "macrasofft.com", NULL, LOOKALIKE_NONE,
	 LOOKALIKE_R_NONE, "", 0},
	{"exemple.org unknown: like example.com", "exemple.org", NULL,
	 LOOKALIKE_MATCH, LOOKALIKE_R_EDIT, "example.com", 0},
	{"exemple.org known: the recipient's own", "exemple.org",
	 "mail.exemple.org", LOOKALIKE_KNOWN, LOOKALIKE_R_NONE, "exemple.org",
	 0},
	{"short label: edit not counted", "ibn.com", NULL, LOOKALIKE_NONE,
	 LOOKALIKE_R_NONE, "", 0},
	{"the protected domain", "www.paypal.com", NULL, LOOKALIKE_SAME,
	 LOOKALIKE_R_NONE, "paypal.com", 0},
	{"full-width protected domain", "\xef\xbd\x90\xef\xbd\x81\xef\xbd\x99"
	 "\xef\xbd\x90\xef\xbd\x81\xef\xbd\x8c.com", NULL, LOOKALIKE_SAME,
	 LOOKALIKE_R_NONE, "paypal.com", 0},
	{"unrelated domain", "debian.org", NULL, LOOKALIKE_NONE,
	 LOOKALIKE_R_NONE, "", 0},
	{"Japanese IDN unrelated", "\xe6\x97\xa5\xe6\x9c\xac.jp", NULL,
	 LOOKALIKE_NONE, LOOKALIKE_R_NONE, "", LOOKALIKE_F_IDN},
	{"look-alike of a correspondent", "examp1e-corp.co.jp",
	 "example-corp.co.jp", LOOKALIKE_MATCH, LOOKALIKE_R_CONFUSABLE,
	 "example-corp.co.jp", 0},
	{"edit of a correspondent", "exampel-corp.co.jp",
	 "example-corp.co.jp", LOOKALIKE_MATCH, LOOKALIKE_R_EDIT,
	 "example-corp.co.jp", 0},
	{"rakuten with a typo", "rakuteen.co.jp", NULL, LOOKALIKE_MATCH,
	 LOOKALIKE_R_EDIT, "rakuten.co.jp", 0},
	{"public suffix only", "co.jp", NULL, LOOKALIKE_INVALID,
	 LOOKALIKE_R_NONE, "", 0},
	{"empty label", "a..com", NULL, LOOKALIKE_INVALID, LOOKALIKE_R_NONE,
	 "", 0},
	{"not a domain", "exa mple.com", NULL, LOOKALIKE_INVALID,
	 LOOKALIKE_R_NONE, "", 0},
};

struct drow {
	const char *label, *a, *b;
	int max, want;
};

static const struct drow drows[] = {
	{"equal", "paypal", "paypal", 2, 0},
	{"substitution", "paypal", "paypak", 2, 1},
	{"transposition", "microsoft", "micorsoft", 2, 1},
	{"insertion and deletion", "amazon", "amazzo", 2, 2},
	{"past max stops", "abcdef", "uvwxyz", 2, 3},
	{"length gap past max", "ab", "abcdef", 2, 3},
	{"code points, not bytes", "\xe6\xa5\xbd\xe5\xa4\xa9",
	 "\xe6\xa5\xbd\xe5\xa4\xa7", 2, 1},
};

struct lrow {
	const char *label, *text;
	int want;
	size_t line;
};

static const struct lrow lrows[] = {
	{"good file", "a-bank.co.jp Bank\n# c\n\nb-bank.com\n", 0, 0},
	{"bad domain on line 2", "a-bank.co.jp\nnot a..domain\n",
	 LOOKALIKE_E_SYNTAX, 2},
	{"public suffix entry", "com\n", LOOKALIKE_E_SYNTAX, 1},
	{"no final newline", "x-bank.jp", 0, 0},
	{"NUL ends a line's content", "y-bank.jp\0garbage\n", 0, 0},
};

/* The folded skeleton of s straight through ICU, as lookalike.c computes
 * it for non-ASCII text: the reference for its ASCII table. */
static int icu_skeleton(USpoofChecker *sc, const char *s, char *out,
			size_t outsz)
{
	UChar u[1024], sk[2048], f[2048];
	UErrorCode err = U_ZERO_ERROR;
	int32_t nu, nsk, nf, no;

	u_strFromUTF8(u, 1024, &nu, s, -1, &err);
	nsk = uspoof_getSkeleton(sc, 0, u, nu, sk, 2048, &err);
	nf = u_strFoldCase(f, 2048, sk, nsk, U_FOLD_CASE_DEFAULT, &err);
	u_strToUTF8(out, (int32_t)outsz, &no, f, nf, &err);
	if (U_FAILURE(err) || (size_t)no >= outsz)
		return -1;
	out[no] = '\0';
	return 0;
}

/* The ASCII fast path of lookalike_skeleton against ICU: every character
 * alone, every pair of printable ones (a pair is where a mapping could
 * interact with its neighbour), and a few domains. */
static void ascii_skeletons(const struct lookalike *la)
{
	static const char *const doms[] = {
		"", "paypal.com", "rnicrosoft-co-jp.example", "amaz0n",
		"www.1ll1-0O0.example", "a_b.c-d", "MiXeD.CaSe.Org",
	};
	UErrorCode err = U_ZERO_ERROR;
	USpoofChecker *sc = uspoof_open(&err);
	char s[3] = "", a[64], b[64];
	size_t bad = 0, i;
	int c, d;

	uspoof_setChecks(sc, USPOOF_RESTRICTION_LEVEL, &err);
	for (c = 1; c < 128; c++)
		for (d = c < 0x21 || c > 0x7e ? 0 : 0x21; d <= 0x7e;
		     d = d ? d + 1 : 0x7f) {
			s[0] = (char)c;
			s[1] = (char)d;
			if (lookalike_skeleton(la, s, a, sizeof(a)) != 0 ||
			    icu_skeleton(sc, s, b, sizeof(b)) != 0 ||
			    strcmp(a, b) != 0) {
				if (bad++ == 0)
					printf("# ASCII skeleton of %02x %02x: "
					       "'%s' ICU '%s'\n", c, d, a, b);
			}
		}
	is_int(bad, 0, "ASCII skeletons (single and pairs) equal ICU's");
	for (i = 0; i < sizeof(doms) / sizeof(doms[0]); i++)
		ok(lookalike_skeleton(la, doms[i], a, sizeof(a)) == 0 &&
		   icu_skeleton(sc, doms[i], b, sizeof(b)) == 0 &&
		   strcmp(a, b) == 0, "ASCII skeleton of '%s': %s", doms[i], a);
	ok(lookalike_skeleton(la, "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm", a,
			      sizeof(a)) == -1, "ASCII skeleton too long: -1");
	uspoof_close(sc);
}

/* The per-thread memo of lookalike_check: keyed by checker and entries. */
static void memo(const struct dmarc_psl *psl, const struct lookalike *la)
{
	struct lookalike *l2 = lookalike_new(psl);
	struct lookalike_result r1, r2;

	lookalike_check(la, "paypa1.com", NULL, 0, &r1);
	lookalike_check(l2, "paypa1.com", NULL, 0, &r2);
	is_int(r1.verdict, LOOKALIKE_MATCH, "memo: match on the list");
	is_int(r2.verdict, LOOKALIKE_NONE, "memo: another checker, no list");
	lookalike_add(l2, "paypal.com", "PayPal");
	lookalike_check(l2, "paypa1.com", NULL, 0, &r2);
	is_int(r2.verdict, LOOKALIKE_MATCH, "memo: entry added, asked again");
	lookalike_check(la, "paypa1.com", NULL, 0, &r2);
	ok(memcmp(&r1, &r2, sizeof(r1)) == 0, "memo: the same result again");
	lookalike_free(l2);
}

int main(void)
{
	struct dmarc_psl *psl = dmarc_psl_load(NULL);
	struct lookalike *la;
	struct lookalike_result res;
	size_t i, bad = 0;
	const char *dom;
	char sk[64];
	int r;

	if (!ok(psl != NULL, "system Public Suffix List loads"))
		return tap_done();
	la = lookalike_new(psl);
	ok(la != NULL, "spoof checker opens");
	r = lookalike_load(la, protected_file, sizeof(protected_file) - 1, &bad);
	is_int(r, 0, "protected file loads");
	is_int(lookalike_count(la), 8, "eight entries");
	is_str(lookalike_brand(la, 4, &dom), "三井住友カード", "brand kept");
	is_str(dom, "smbc-card.com", "domain of the brand");
	is_str(lookalike_brand(la, 6, &dom), "IBM", "comment cut off");
	ok(lookalike_skeleton(la, "amaz0n", sk, sizeof(sk)) == 0 &&
	   strcmp(sk, "arnazon") == 0, "skeleton is case-folded: %s", sk);

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *t = &rows[i];
		const char *known[1] = {t->known};

		lookalike_check(la, t->domain, known, t->known ? 1 : 0, &res);
		is_int(res.verdict, t->verdict, "%s: verdict", t->label);
		is_int(res.reason, t->reason, "%s: reason %s", t->label,
		       lookalike_reason_name(res.reason));
		if (t->verdict == LOOKALIKE_MATCH || t->verdict ==
		    LOOKALIKE_SAME || t->verdict == LOOKALIKE_KNOWN)
			is_str(res.matched, t->matched, "%s: matched",
			       t->label);
		ok((res.flags & t->flags) == t->flags, "%s: flags %#x",
		   t->label, res.flags);
		if (t->reason == LOOKALIKE_R_EDIT)
			ok(res.distance >= 1 && res.distance <= res.threshold,
			   "%s: distance %d within %d", t->label,
			   res.distance, res.threshold);
	}
	lookalike_check(la, "paypa1.com", NULL, 0, &res);
	is_str(res.brand, "PayPal", "brand reported with the match");
	is_int(res.correspondent, 0, "a protected match is not a correspondent");
	lookalike_check(la, "debian.org", NULL, 0, &res);
	is_int(res.flags, 0, "ASCII domain: no flags");
	{
		/* 21 three-byte characters: the 64-byte cap falls inside the
		 * 22nd, which is dropped whole */
		char longb[80] = "";
		struct lookalike *l3 = lookalike_new(psl);

		for (i = 0; i < 22; i++)
			memcpy(longb + 3 * i, "\xe3\x81\x82", 3);
		is_int(lookalike_add(l3, "b-bank.jp", "Bank"), 0,
		       "add: short brand");
		is_str(lookalike_brand(l3, 0, NULL), "Bank", "add: short brand kept");
		lookalike_add(l3, "c-bank.jp", longb);
		is_int(strlen(lookalike_brand(l3, 1, NULL)), 63,
		       "add: long brand cut on a character boundary");
		lookalike_free(l3);
	}

	ascii_skeletons(la);
	memo(psl, la);

	for (i = 0; i < sizeof(drows) / sizeof(drows[0]); i++)
		is_int(lookalike_distance(drows[i].a, drows[i].b, drows[i].max),
		       drows[i].want, "distance: %s", drows[i].label);
	is_int(lookalike_threshold(4), 0, "threshold 4 chars");
	is_int(lookalike_threshold(5), 1, "threshold 5 chars");
	is_int(lookalike_threshold(8), 1, "threshold 8 chars");
	is_int(lookalike_threshold(9), 2, "threshold 9 chars");

	for (i = 0; i < sizeof(lrows) / sizeof(lrows[0]); i++) {
		struct lookalike *l2 = lookalike_new(psl);
		size_t n = strlen(lrows[i].text);

		if (strstr(lrows[i].label, "NUL"))
			n += 1 + strlen(lrows[i].text + n + 1);
		bad = 0;
		r = lookalike_load(l2, lrows[i].text, n, &bad);
		is_int(r, lrows[i].want, "load: %s", lrows[i].label);
		is_int(bad, lrows[i].line, "load: %s: line", lrows[i].label);
		lookalike_free(l2);
	}
	lookalike_free(la);
	lookalike_free(NULL);
	dmarc_psl_free(psl);
	return tap_done();
}
