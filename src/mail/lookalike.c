/*
 * lookalike - look-alike domains against protected and known domains.
 * The rules, limits and threading are in lookalike.h; the reasons for the
 * thresholds in docs/design/lookalike.md.
 */
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "mail/dmarc.h"
#include "mail/idna.h"
#include "mail/lookalike.h"
#include "util/xalloc.h"

#define LABEL_CPS 63	/* RFC 1035 2.3.4: a label is at most 63 octets */

/* One domain prepared for comparison. */
struct prep {
	char uni[LOOKALIKE_DOMAIN_MAX];	/* whole domain, U-labels */
	char reg[LOOKALIKE_DOMAIN_MAX];	/* registrable domain, U-labels */
	char skreg[LOOKALIKE_DOMAIN_MAX * 2];	/* skeleton of reg */
	char sklabel[LOOKALIKE_DOMAIN_MAX * 2];	/* skeleton of reg's label */
	char skprefix[LOOKALIKE_DOMAIN_MAX * 2];	/* skeleton left of reg */
	const char *suffix;		/* into reg: the public suffix */
	size_t label_cps;		/* code points in reg's label */
	unsigned flags;
};

struct entry {
	char *reg;
	char *dom;
	char *skreg;
	char *sklabel;
	char *skdash;		/* skreg with '-' for '.' */
	char *suffix;
	char *brand;
	size_t label_cps;
};

/* The folded skeleton of one ASCII character (UTF-8 and UTF-16 lengths). */
struct ascii_sk {
	char s[8];
	unsigned char n, n16;
};

struct lookalike {
	const struct dmarc_psl *psl;
	USpoofChecker *sc;
	struct entry *e;
	size_t n, cap;
	unsigned long serial;		/* tells checkers apart in the memo */
	bool ascii_ok;			/* ascii[] filled */
	struct ascii_sk ascii[128];
};

/*
 * The last lookalike_check results of this thread (issue 10's CPU goal):
 * one message asks about the same hosts several times (the From domain by
 * the brand, display-name and From checks, each link host by links and
 * the brand-link check), and the next message often about the same ones.
 * A result depends only on the checker's state and the domain: the key is
 * (serial, entries, domain).  Fixed size, no heap: nothing to free when a
 * thread ends.
 */
#define MEMO_N 16
struct memo_ent {
	unsigned long serial;		/* 0: empty */
	size_t n;			/* la->n when it was computed */
	char domain[LOOKALIKE_DOMAIN_MAX];
	struct lookalike_result res;
};
static __thread struct {
	struct memo_ent e[MEMO_N];
	unsigned next;
} memo;

static unsigned long serial_next;	/* atomic */

static int skeleton_icu(const struct lookalike *la, const char *s,
			char *out, size_t outsz);

/*
 * The skeleton of every ASCII character through ICU, once: the skeleton
 * of an ASCII string is then the concatenation of its characters' (UTS
 * #39 4: NFD is the identity on ASCII, the mapping is per character, and
 * no ASCII prototype starts with a combining mark to reorder; checked for
 * every pair in test-lookalike.c).  Left unused if a character fails.
 */
static void ascii_table(struct lookalike *la)
{
	char one[2], sk[32];
	UChar u[32];
	UErrorCode err;
	int32_t n16;
	int c;

	for (c = 1; c < 128; c++) {
		one[0] = (char)c;
		one[1] = '\0';
		err = U_ZERO_ERROR;
		if (skeleton_icu(la, one, sk, sizeof(sk)) != 0 ||
		    strlen(sk) >= sizeof(la->ascii[c].s))
			return;
		u_strFromUTF8(u, 32, &n16, sk, -1, &err);
		if (U_FAILURE(err))
			return;
		memcpy(la->ascii[c].s, sk, strlen(sk));
		la->ascii[c].n = (unsigned char)strlen(sk);
		la->ascii[c].n16 = (unsigned char)n16;
	}
	la->ascii_ok = true;
}

struct lookalike *lookalike_new(const struct dmarc_psl *psl)
{
	UErrorCode err = U_ZERO_ERROR;
	struct lookalike *la;
	USpoofChecker *sc = uspoof_open(&err);

	if (U_FAILURE(err))
		return NULL;
	uspoof_setChecks(sc, USPOOF_RESTRICTION_LEVEL, &err);
	uspoof_setRestrictionLevel(sc, USPOOF_MODERATELY_RESTRICTIVE);
	if (U_FAILURE(err)) {
		uspoof_close(sc);
		return NULL;
	}
	la = xcalloc(1, sizeof(*la));
	la->psl = psl;
	la->sc = sc;
	la->serial = __atomic_add_fetch(&serial_next, 1, __ATOMIC_RELAXED);
	ascii_table(la);
	return la;
}

void lookalike_free(struct lookalike *la)
{
	size_t i;

	if (la == NULL)
		return;
	for (i = 0; i < la->n; i++) {
		free(la->e[i].reg);
		free(la->e[i].dom);
		free(la->e[i].skreg);
		free(la->e[i].sklabel);
		free(la->e[i].skdash);
		free(la->e[i].suffix);
		free(la->e[i].brand);
	}
	free(la->e);
	uspoof_close(la->sc);
	free(la);
}

/* The number of UTF-8 code points in s[0..n) (continuation bytes skipped). */
static size_t cps(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* True if s has only ASCII bytes. */
static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s > 0x7f)
			return false;
	return true;
}

/* The skeleton through ICU (lookalike_skeleton without the ASCII table). */
static int skeleton_icu(const struct lookalike *la, const char *s,
			char *out, size_t outsz)
{
	UChar u[LOOKALIKE_DOMAIN_MAX * 2], sk[LOOKALIKE_DOMAIN_MAX * 4];
	UChar f[LOOKALIKE_DOMAIN_MAX * 4];
	UErrorCode err = U_ZERO_ERROR;
	int32_t nu, nsk, nf, no;

	u_strFromUTF8(u, (int32_t)(sizeof(u) / sizeof(u[0])), &nu, s, -1,
		      &err);
	if (U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING)
		return -1;
	nsk = uspoof_getSkeleton(la->sc, 0, u, nu, sk,
				 (int32_t)(sizeof(sk) / sizeof(sk[0])), &err);
	if (U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING)
		return -1;
	/* the skeleton keeps case ("0" -> "O"): fold it */
	nf = u_strFoldCase(f, (int32_t)(sizeof(f) / sizeof(f[0])), sk, nsk,
			   U_FOLD_CASE_DEFAULT, &err);
	if (U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING)
		return -1;
	u_strToUTF8(out, (int32_t)outsz, &no, f, nf, &err);
	if (U_FAILURE(err) || (size_t)no >= outsz)
		return -1;
	out[no] = '\0';
	return 0;
}

int lookalike_skeleton(const struct lookalike *la, const char *s,
		       char *out, size_t outsz)
{
	size_t i, o = 0, o16 = 0;

	if (!la->ascii_ok || !is_ascii(s))
		return skeleton_icu(la, s, out, outsz);
	/* ICU's path fails on LOOKALIKE_DOMAIN_MAX * 2 UTF-16 units of
	 * input and * 4 of skeleton: the same limits here */
	for (i = 0; s[i]; i++) {
		const struct ascii_sk *a = &la->ascii[(unsigned char)s[i]];

		o16 += a->n16;
		if (i + 1 >= LOOKALIKE_DOMAIN_MAX * 2 ||
		    o16 >= LOOKALIKE_DOMAIN_MAX * 4 || o + a->n >= outsz)
			return -1;
		memcpy(out + o, a->s, a->n);
		o += a->n;
	}
	out[o] = '\0';
	return 0;
}

/* A-labels of s (lowercase, UTS #46 mapped) and then U-labels of those. */
static int normalize(const char *s, char *ascii, char *uni)
{
	char *u = NULL;
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || idna_to_ascii(s, n, ascii, LOOKALIKE_DOMAIN_MAX) != 0)
		return -1;
	/* letters, digits, '-', '_' (SRV, DKIM) and dots only (RFC 1123 2.1) */
	for (u = ascii; *u; u++)
		if (!((*u >= 'a' && *u <= 'z') || (*u >= '0' && *u <= '9') ||
		      *u == '-' || *u == '_' || *u == '.'))
			return -1;
	u = NULL;
	if (idn2_to_unicode_8z8z(ascii, &u, 0) != IDN2_OK || u == NULL)
		return -1;
	if (strlen(u) >= LOOKALIKE_DOMAIN_MAX) {
		idn2_free(u);
		return -1;
	}
	memcpy(uni, u, strlen(u) + 1);
	idn2_free(u);
	return 0;
}

unsigned lookalike_script_flags(const struct lookalike *la, const char *l,
				size_t n)
{
	char buf[LOOKALIKE_DOMAIN_MAX], sk[LOOKALIKE_DOMAIN_MAX * 2];
	UErrorCode err = U_ZERO_ERROR;
	USpoofCheckResult *r;
	URestrictionLevel lvl;
	unsigned fl = 0;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, l, n);
	buf[n] = '\0';
	if (is_ascii(buf))
		return 0;
	fl |= LOOKALIKE_F_IDN;
	r = uspoof_openCheckResult(&err);
	if (U_FAILURE(err))
		return fl;
	uspoof_check2UTF8(la->sc, buf, (int32_t)n, r, &err);
	lvl = uspoof_getCheckResultRestrictionLevel(r, &err);
	uspoof_closeCheckResult(r);
	if (U_FAILURE(err))
		return fl;
	/* moderately restrictive still allows Latin + Han + Kana etc. */
	if (lvl > USPOOF_MODERATELY_RESTRICTIVE)
		fl |= LOOKALIKE_F_MIXED_SCRIPT;
	else if (lvl == USPOOF_SINGLE_SCRIPT_RESTRICTIVE &&
		 lookalike_skeleton(la, buf, sk, sizeof(sk)) == 0 &&
		 is_ascii(sk))
		fl |= LOOKALIKE_F_WHOLE_SCRIPT;
	return fl;
}

/* Fills *p from the domain d; -1 if d has no registrable domain. */
static int prepare(const struct lookalike *la, const char *d, struct prep *p)
{
	char ascii[LOOKALIKE_DOMAIN_MAX], areg[LOOKALIKE_DOMAIN_MAX];
	char ureg[LOOKALIKE_DOMAIN_MAX], pre[LOOKALIKE_DOMAIN_MAX];
	const char *dot, *l;
	size_t nu, nr;

	memset(p, 0, sizeof(*p));
	if (normalize(d, ascii, p->uni) != 0 ||
	    dmarc_psl_org_domain(la->psl, ascii, areg, sizeof(areg)) != 0 ||
	    normalize(areg, ascii, ureg) != 0)
		return -1;
	memcpy(p->reg, ureg, strlen(ureg) + 1);
	dot = strchr(p->reg, '.');
	if (dot == NULL)
		return -1;
	p->suffix = dot + 1;
	p->label_cps = cps(p->reg, (size_t)(dot - p->reg));
	nu = strlen(p->uni);
	nr = strlen(p->reg);
	if (nu < nr || strcmp(p->uni + nu - nr, p->reg) != 0)
		return -1;
	pre[0] = '\0';
	if (nu > nr + 1) {
		memcpy(pre, p->uni, nu - nr - 1);
		pre[nu - nr - 1] = '\0';
	}
	memcpy(ureg, p->reg, (size_t)(dot - p->reg));
	ureg[dot - p->reg] = '\0';
	if (lookalike_skeleton(la, p->reg, p->skreg, sizeof(p->skreg)) != 0 ||
	    lookalike_skeleton(la, ureg, p->sklabel, sizeof(p->sklabel)) != 0 ||
	    lookalike_skeleton(la, pre, p->skprefix, sizeof(p->skprefix)) != 0)
		return -1;
	for (l = p->uni; *l; l = dot + 1) {
		dot = strchr(l, '.');
		if (dot == NULL)
			dot = l + strlen(l);
		p->flags |= lookalike_script_flags(la, l, (size_t)(dot - l));
		if (*dot == '\0')
			break;
	}
	return 0;
}

/* Bytes of brand kept: at most LOOKALIKE_BRAND_MAX - 1, whole characters. */
static size_t brand_len(const char *brand)
{
	size_t n = strnlen(brand, LOOKALIKE_BRAND_MAX);

	if (n < LOOKALIKE_BRAND_MAX)
		return n;
	n = LOOKALIKE_BRAND_MAX - 1;
	while (n > 0 && ((unsigned char)brand[n] & 0xc0) == 0x80)
		n--;
	return n;
}

int lookalike_add(struct lookalike *la, const char *domain, const char *brand)
{
	struct prep p;
	struct entry *e;
	char *c;

	if (la->n >= LOOKALIKE_MAX_PROTECTED)
		return LOOKALIKE_E_FULL;
	if (domain == NULL || prepare(la, domain, &p) != 0)
		return LOOKALIKE_E_SYNTAX;
	if (la->n == la->cap) {
		la->cap = la->cap ? la->cap * 2 : 16;
		la->e = xrealloc(la->e, la->cap * sizeof(*la->e));
	}
	e = &la->e[la->n++];
	e->dom = xstrdup(p.uni);
	e->reg = xstrdup(p.reg);
	e->skreg = xstrdup(p.skreg);
	e->sklabel = xstrdup(p.sklabel);
	e->skdash = xstrdup(p.skreg);
	for (c = e->skdash; *c; c++)
		if (*c == '.')
			*c = '-';
	e->suffix = xstrdup(p.suffix);
	e->brand = xstrndup(brand ? brand : "",
			    brand_len(brand ? brand : ""));
	e->label_cps = p.label_cps;
	return 0;
}

/* True for the blanks that separate fields in the protected file. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Adds the entry on one line text[a..b) (comment already cut off). */
static int load_line(struct lookalike *la, const char *text, size_t a,
		     size_t b)
{
	char dom[LOOKALIKE_DOMAIN_MAX], brand[LOOKALIKE_BRAND_MAX];
	size_t k, len;

	while (a < b && is_blank(text[a]))
		a++;
	while (b > a && is_blank(text[b - 1]))
		b--;
	if (a == b)
		return 0;
	for (k = a; k < b && !is_blank(text[k]); k++)
		;
	len = k - a;
	if (len >= sizeof(dom))
		return LOOKALIKE_E_SYNTAX;
	memcpy(dom, text + a, len);
	dom[len] = '\0';
	while (k < b && is_blank(text[k]))
		k++;
	len = b - k < sizeof(brand) - 1 ? b - k : sizeof(brand) - 1;
	/* a cut brand ends on a whole character */
	while (len > 0 && len < b - k &&
	       ((unsigned char)text[k + len] & 0xc0) == 0x80)
		len--;
	memcpy(brand, text + k, len);
	brand[len] = '\0';
	return lookalike_add(la, dom, brand);
}

int lookalike_load(struct lookalike *la, const char *text, size_t n,
		   size_t *bad_line)
{
	size_t pos = 0, line = 0;

	while (pos < n) {
		size_t end = pos, b;
		int r;

		while (end < n && text[end] != '\n')
			end++;
		line++;
		for (b = pos; b < end && text[b] != '#' && text[b] != '\0'; b++)
			;
		r = load_line(la, text, pos, b);
		if (r != 0) {
			if (bad_line != NULL)
				*bad_line = line;
			return r;
		}
		pos = end + 1;
	}
	return 0;
}

size_t lookalike_count(const struct lookalike *la)
{
	return la->n;
}

const char *lookalike_brand(const struct lookalike *la, size_t i,
			    const char **dom)
{
	if (dom != NULL)
		*dom = la->e[i].dom;
	return la->e[i].brand;
}

int lookalike_threshold(size_t len)
{
	if (len <= 4)
		return 0;
	if (len <= 8)
		return 1;
	return 2;
}

/* Decodes up to LABEL_CPS code points of UTF-8 s into cp; returns count. */
static size_t decode(const char *s, unsigned *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	while (*p && n < LABEL_CPS) {
		unsigned c = *p++;

		if (c >= 0xc0) {
			int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;

			c &= 0x3fu >> more;
			while (more-- > 0 && (*p & 0xc0) == 0x80)
				c = (c << 6) | (*p++ & 0x3fu);
		}
		cp[n++] = c;
	}
	return n;
}

int lookalike_distance(const char *a, const char *b, int max)
{
	unsigned ca[LABEL_CPS], cb[LABEL_CPS];
	int d[3][LABEL_CPS + 1];
	size_t na = decode(a, ca), nb = decode(b, cb), i, j;
	int *prev2 = d[0], *prev = d[1], *cur = d[2], *t;

	if ((na > nb ? na - nb : nb - na) > (size_t)max)
		return max + 1;
	for (j = 0; j <= nb; j++)
		prev[j] = (int)j;
	for (i = 1; i <= na; i++) {
		int rowmin;

		cur[0] = (int)i;
		rowmin = cur[0];
		for (j = 1; j <= nb; j++) {
			int cost = ca[i - 1] == cb[j - 1] ? 0 : 1;
			int v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			/* a transposition of two neighbours costs one */
			if (i > 1 && j > 1 && ca[i - 1] == cb[j - 2] &&
			    ca[i - 2] == cb[j - 1] && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < rowmin)
				rowmin = v;
		}
		if (rowmin > max)
			return max + 1;
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[nb] > max ? max + 1 : prev[nb];
}

const char *lookalike_reason_name(enum lookalike_reason r)
{
	switch (r) {
	case LOOKALIKE_R_CONFUSABLE:
		return "confusable";
	case LOOKALIKE_R_SUFFIX:
		return "suffix";
	case LOOKALIKE_R_EMBEDDED:
		return "embedded";
	case LOOKALIKE_R_EDIT:
		return "edit";
	default:
		return "none";
	}
}

/* True if tok[0..n) is one of the '-'-separated tokens of s. */
static bool has_token(const char *s, const char *tok, size_t n)
{
	const char *p = s;

	while ((p = strstr(p, tok)) != NULL) {
		if ((p == s || p[-1] == '-') && (p[n] == '\0' || p[n] == '-'))
			return true;
		p++;
	}
	return false;
}

/* True if the prefix skeleton pre holds the labels skreg, label-aligned. */
static bool prefix_has(const char *pre, const char *skreg)
{
	size_t nr = strlen(skreg);
	const char *p = pre;

	while ((p = strstr(p, skreg)) != NULL) {
		if ((p == pre || p[-1] == '.') &&
		    (p[nr] == '\0' || p[nr] == '.'))
			return true;
		p++;
	}
	return false;
}

/* The rule (2..5 of lookalike.h) by which d resembles e, or R_NONE. */
static enum lookalike_reason compare(const struct prep *d,
				     const struct entry *e, int *dist,
				     int *thr)
{
	size_t nl = strlen(e->sklabel);

	*thr = lookalike_threshold(e->label_cps);
	*dist = -1;
	if (strcmp(d->skreg, e->skreg) == 0)
		return LOOKALIKE_R_CONFUSABLE;
	if (strcmp(d->sklabel, e->sklabel) == 0)
		return LOOKALIKE_R_SUFFIX;
	if (e->label_cps >= LOOKALIKE_EMBED_MIN &&
	    (has_token(d->sklabel, e->sklabel, nl) ||
	     strstr(d->sklabel, e->skdash) != NULL ||
	     prefix_has(d->skprefix, e->skreg)))
		return LOOKALIKE_R_EMBEDDED;
	if (*thr > 0) {
		*dist = lookalike_distance(d->sklabel, e->sklabel, *thr);
		if (*dist <= *thr)
			return LOOKALIKE_R_EDIT;
	}
	return LOOKALIKE_R_NONE;
}

/* Keeps the candidate if it is better than what res holds. */
static void consider(struct lookalike_result *res, enum lookalike_reason r,
		     int dist, int thr, const char *dom, const char *brand,
		     bool known)
{
	if (r == LOOKALIKE_R_NONE)
		return;
	if (res->verdict == LOOKALIKE_MATCH &&
	    (res->reason < r || (res->reason == r && res->distance <= dist)))
		return;
	res->verdict = LOOKALIKE_MATCH;
	res->reason = r;
	res->distance = dist;
	res->threshold = thr;
	res->correspondent = known;
	snprintf(res->matched, sizeof(res->matched), "%s", dom);
	snprintf(res->brand, sizeof(res->brand), "%s", brand);
}

/* lookalike_check without the memo. */
static enum lookalike_verdict check(const struct lookalike *la,
				    const char *domain,
				    const char *const *known, size_t nknown,
				    struct lookalike_result *res)
{
	struct prep d, *kp;
	struct entry ke;
	size_t i, nk = 0;
	char dash[LOOKALIKE_DOMAIN_MAX * 2], *c;

	memset(res, 0, sizeof(*res));
	res->distance = -1;
	if (domain == NULL || prepare(la, domain, &d) != 0) {
		res->verdict = LOOKALIKE_INVALID;
		if (domain != NULL)
			snprintf(res->domain, sizeof(res->domain), "%s",
				 domain);
		return res->verdict;
	}
	snprintf(res->domain, sizeof(res->domain), "%s", d.uni);
	res->flags = d.flags;
	if (nknown > LOOKALIKE_MAX_KNOWN)
		nknown = LOOKALIKE_MAX_KNOWN;
	kp = xcalloc(nknown ? nknown : 1, sizeof(*kp));
	/* rule 1: the recipient's own correspondents and the protected
	 * domains themselves are never look-alikes */
	for (i = 0; i < nknown; i++) {
		if (known[i] == NULL || prepare(la, known[i], &kp[nk]) != 0)
			continue;
		if (strcmp(kp[nk].reg, d.reg) == 0) {
			res->verdict = LOOKALIKE_KNOWN;
			snprintf(res->matched, sizeof(res->matched), "%s",
				 kp[nk].reg);
			res->correspondent = true;
			free(kp);
			return res->verdict;
		}
		nk++;
	}
	for (i = 0; i < la->n; i++)
		if (strcmp(la->e[i].reg, d.reg) == 0) {
			res->verdict = LOOKALIKE_SAME;
			snprintf(res->matched, sizeof(res->matched), "%s",
				 la->e[i].dom);
			snprintf(res->brand, sizeof(res->brand), "%s",
				 la->e[i].brand);
			free(kp);
			return res->verdict;
		}
	for (i = 0; i < la->n; i++) {
		int dist, thr;
		enum lookalike_reason r = compare(&d, &la->e[i], &dist, &thr);

		consider(res, r, dist, thr, la->e[i].dom, la->e[i].brand,
			 false);
	}
	for (i = 0; i < nk; i++) {
		int dist, thr;
		enum lookalike_reason r;

		snprintf(dash, sizeof(dash), "%s", kp[i].skreg);
		for (c = dash; *c; c++)
			if (*c == '.')
				*c = '-';
		ke.reg = kp[i].reg;
		ke.dom = kp[i].reg;
		ke.skreg = kp[i].skreg;
		ke.sklabel = kp[i].sklabel;
		ke.skdash = dash;
		ke.label_cps = kp[i].label_cps;
		r = compare(&d, &ke, &dist, &thr);
		consider(res, r, dist, thr, kp[i].reg, "", true);
	}
	free(kp);
	if (res->verdict != LOOKALIKE_MATCH)
		res->verdict = LOOKALIKE_NONE;
	return res->verdict;
}

enum lookalike_verdict lookalike_check(const struct lookalike *la,
				       const char *domain,
				       const char *const *known, size_t nknown,
				       struct lookalike_result *res)
{
	struct memo_ent *m;
	size_t i;

	/* the memo holds checks against the protected list only */
	if (nknown > 0 || domain == NULL ||
	    strlen(domain) >= LOOKALIKE_DOMAIN_MAX)
		return check(la, domain, known, nknown, res);
	for (i = 0; i < MEMO_N; i++) {
		m = &memo.e[i];
		if (m->serial == la->serial && m->n == la->n &&
		    strcmp(m->domain, domain) == 0) {
			*res = m->res;
			return res->verdict;
		}
	}
	check(la, domain, NULL, 0, res);
	m = &memo.e[memo.next++ % MEMO_N];
	m->serial = la->serial;
	m->n = la->n;
	memcpy(m->domain, domain, strlen(domain) + 1);
	m->res = *res;
	return res->verdict;
}
