/*
 * dispname - display-name spoofing checks; see dispname.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "mail/dispname.h"
#include "mail/dmarc.h"
#include "mail/idna.h"
#include "util/xalloc.h"

#define NORM_MAX (DISPNAME_MAX * 3 + 1)	/* NFKC may grow the text */

/* Appends n bytes to the malloc'd out (len, cap kept by the caller). */
static void put(char **out, size_t *len, size_t *cap, const char *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*out = xrealloc(*out, *cap);
	}
	memcpy(*out + *len, p, n);
	*len += n;
	(*out)[*len] = '\0';
}

/* NFKC_Casefold of s[0..n) through ICU (malloc'd; NULL on failure). */
static char *icu_fold(const UNormalizer2 *nfkc, const char *s, size_t n)
{
	UErrorCode err = U_ZERO_ERROR;
	UChar *in, *nf;
	char *out;
	int32_t nin, nnf, no;
	size_t cap;

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

/*
 * NFKC_Casefold maps ASCII to its lower case, and every ASCII character
 * starts a normalization segment (none combines with what precedes it),
 * so the text is folded run by run: ASCII runs lowered in place, ICU
 * only over each non-ASCII run with the ASCII character before it (a
 * combining mark composes with it: "e" U+0301 is "é").  The usual body
 * is ASCII; ICU's two conversions and normalization over all of it were
 * most of cues_scan's cost.  Same result as ICU over the whole text.
 */
/* Lower-case the ASCII run of s from i into out (out[0] for s[i]),
 * eight bytes at a time while all eight are ASCII; returns where it
 * stopped (the byte loop does the rest). */
static size_t ascii_lower8(const char *s, size_t i, size_t n, char *out)
{
	const uint64_t ones = 0x0101010101010101ull, hi = ones * 0x80;
	size_t j;

	for (j = i; j + 8 <= n; j += 8) {
		uint64_t w, ge_a, gt_z;

		memcpy(&w, s + j, 8);
		if (w & hi)
			break;
		/* per byte (< 0x80, so no carry): high bit set if >= 'A',
		 * and if > 'Z'; 'A'..'Z' are the bytes where they differ */
		ge_a = w + ones * (0x80 - 'A');
		gt_z = w + ones * (0x80 - 'Z' - 1);
		w |= ((ge_a ^ gt_z) & hi) >> 2;
		memcpy(out + (j - i), &w, 8);
	}
	return j;
}

char *dispname_fold(const char *s, size_t n, size_t max)
{
	UErrorCode err = U_ZERO_ERROR;
	const UNormalizer2 *nfkc = unorm2_getNFKCCasefoldInstance(&err);
	char *out, *seg;
	size_t len = 0, cap, i = 0, j, k;

	if (U_FAILURE(err))
		return NULL;
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	/* ICU's result ends at a NUL too (U+0000 is a segment start) */
	n = strnlen(s, n);
	cap = n + 1;
	out = xmalloc(cap);
	out[0] = '\0';
	while (i < n) {
		if (len + (n - i) + 1 > cap) {
			cap = len + (n - i) + 1;
			out = xrealloc(out, cap);
		}
		j = ascii_lower8(s, i, n, out + len);
		for (; j < n && (unsigned char)s[j] < 0x80; j++)
			if (s[j] >= 'A' && s[j] <= 'Z')
				out[len + j - i] = (char)(s[j] + 32);
			else
				out[len + j - i] = s[j];
		if (j == n) {
			len += j - i;
			break;
		}
		/* the ASCII character before the run goes with it */
		if (j > i)
			j--;
		len += j - i;
		for (k = j + 1; k < n && (unsigned char)s[k] >= 0x80; k++)
			;
		seg = icu_fold(nfkc, s + j, k - j);
		if (seg == NULL) {
			free(out);
			return NULL;
		}
		put(&out, &len, &cap, seg, strlen(seg));
		free(seg);
		i = k;
	}
	out[len] = '\0';
	return out;
}

int dispname_normalize(const char *s, size_t n, char *out, size_t outsz)
{
	char *f;
	size_t len;

	f = dispname_fold(s, n, DISPNAME_MAX);
	if (f == NULL)
		return -1;
	len = strlen(f);
	if (len >= outsz) {
		free(f);
		return -1;
	}
	memcpy(out, f, len + 1);
	free(f);
	return 0;
}

/* True for the bytes of an ASCII domain or local part. */
static bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '+';
}

/* True for an ASCII letter or digit. */
static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * Rewrites s in place for scanning: blanks next to '@' dropped, an
 * ideographic full stop (U+3002) between ASCII letters made a '.'.
 */
static void prepare_scan(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (*r == ' ' || *r == '\t') {
			const char *q = r;

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '@' || (w > s && w[-1] == '@')) {
				r = (char *)q;
				continue;
			}
		}
		if ((unsigned char)r[0] == 0xe3 && (unsigned char)r[1] == 0x80 &&
		    (unsigned char)r[2] == 0x82 && w > s && is_alnum(w[-1]) &&
		    is_alnum(r[3])) {
			*w++ = '.';
			r += 3;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

/*
 * The registrable domain of the ASCII or UTF-8 domain d[0..n) into out if
 * d ends in a listed public suffix; -1 otherwise.
 */
static int org_of(const struct dmarc_psl *psl, const char *d, size_t n,
		  char *out, size_t outsz)
{
	char a[DMARC_DOMAIN_MAX];
	const char *dot;

	while (n > 0 && (d[n - 1] == '.' || d[n - 1] == '-'))
		n--;
	while (n > 0 && (d[0] == '.' || d[0] == '-')) {
		d++;
		n--;
	}
	if (n == 0 || idna_to_ascii(d, n, a, sizeof(a)) != 0 ||
	    dmarc_psl_org_domain(psl, a, out, outsz) != 0)
		return -1;
	dot = strchr(out, '.');
	if (dot == NULL || !dmarc_psl_is_listed_suffix(psl, dot + 1))
		return -1;
	return 0;
}

/* Copies the run s[a..b) (trimmed of dots) into out. */
static void copy_run(const char *s, size_t a, size_t b, char *out,
		     size_t outsz)
{
	while (a < b && s[a] == '.')
		a++;
	while (b > a && s[b - 1] == '.')
		b--;
	snprintf(out, outsz, "%.*s", (int)(b - a), s + a);
}

enum dispname_verdict dispname_check(const struct dmarc_psl *psl,
				     const char *name, size_t n,
				     const char *from_addr,
				     struct dispname_result *res)
{
	char norm[NORM_MAX], org[DMARC_DOMAIN_MAX];
	const char *at, *fd;
	size_t i, len;
	enum dispname_verdict best = DISPNAME_OK;

	memset(res, 0, sizeof(*res));
	fd = from_addr ? strrchr(from_addr, '@') : NULL;
	fd = fd ? fd + 1 : "";
	if (org_of(psl, fd, strlen(fd), res->from_org,
		   sizeof(res->from_org)) != 0)
		res->from_org[0] = '\0';
	if (dispname_normalize(name, n, norm, sizeof(norm)) != 0)
		return DISPNAME_OK;
	prepare_scan(norm);
	len = strlen(norm);
	for (i = 0; i < len;) {
		size_t a = i, b;
		enum dispname_verdict v;

		if (!is_word(norm[i])) {
			i++;
			continue;
		}
		while (i < len && (is_word(norm[i]) || norm[i] == '@'))
			i++;
		b = i;
		/* the run norm[a..b): an address if it has an '@' */
		at = memrchr(norm + a, '@', b - a);
		if (at != NULL) {
			/* the domain is after the run's last '@' */
			size_t dn = b - (size_t)(at + 1 - norm);

			if (org_of(psl, at + 1, dn, org, sizeof(org)) != 0)
				continue;
			v = DISPNAME_OTHER_ADDR;
		} else {
			/* "r.hughes" is an initial and a surname even
			 * though .hughes is a TLD: a bare domain needs a
			 * registrable label of two characters or more */
			if (memchr(norm + a, '.', b - a) == NULL ||
			    org_of(psl, norm + a, b - a, org, sizeof(org)) != 0 ||
			    strchr(org, '.') - org < 2)
				continue;
			v = DISPNAME_OTHER_DOMAIN;
		}
		if (strcmp(org, res->from_org) == 0)
			continue;
		if (best == DISPNAME_OK || (v == DISPNAME_OTHER_ADDR &&
					    best == DISPNAME_OTHER_DOMAIN)) {
			best = v;
			copy_run(norm, a, b, res->found, sizeof(res->found));
		}
	}
	res->verdict = best;
	return best;
}

/* NFKC casefold of s[0..n) with blanks, quotes and dots removed. */
static int name_key(const char *s, size_t n, char *out, size_t outsz)
{
	char *r, *w;

	if (dispname_normalize(s, n, out, outsz) != 0)
		return -1;
	for (r = w = out; *r; r++) {
		/* U+3000 ideographic space is NFKC-mapped to ' ' already */
		if (*r == ' ' || *r == '\t' || *r == '"' || *r == '\'' ||
		    *r == '.' || *r == ',')
			continue;
		*w++ = *r;
	}
	*w = '\0';
	return 0;
}

int dispname_key(const char *s, size_t n, char *out, size_t outsz)
{
	return name_key(s, n, out, outsz);
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

enum dispname_verdict dispname_known(const char *name, size_t n,
				     const char *from_addr,
				     const struct dispname_known *known,
				     size_t nknown,
				     struct dispname_result *res)
{
	char key[NORM_MAX], k2[NORM_MAX];
	const char *first = NULL;
	size_t i;

	memset(res, 0, sizeof(*res));
	if (from_addr == NULL || name_key(name, n, key, sizeof(key)) != 0 ||
	    count_cps(key) < 2)
		return DISPNAME_OK;
	if (nknown > DISPNAME_MAX_KNOWN)
		nknown = DISPNAME_MAX_KNOWN;
	for (i = 0; i < nknown; i++) {
		if (known[i].name == NULL || known[i].addr == NULL ||
		    name_key(known[i].name, strlen(known[i].name), k2,
			     sizeof(k2)) != 0 || strcmp(key, k2) != 0)
			continue;
		/* RFC 5321 2.4: treat the local part as case-sensitive would
		 * be exact, but no mail system does: compare caselessly */
		if (strcasecmp(known[i].addr, from_addr) == 0)
			return DISPNAME_OK;
		if (first == NULL)
			first = known[i].addr;
	}
	if (first == NULL)
		return DISPNAME_OK;
	res->verdict = DISPNAME_KNOWN_NAME;
	snprintf(res->found, sizeof(res->found), "%s", first);
	return res->verdict;
}

const char *dispname_verdict_name(enum dispname_verdict v)
{
	switch (v) {
	case DISPNAME_OTHER_ADDR:
		return "other-address";
	case DISPNAME_OTHER_DOMAIN:
		return "other-domain";
	case DISPNAME_KNOWN_NAME:
		return "known-name";
	default:
		return "ok";
	}
}
