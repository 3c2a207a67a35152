/*
 * login_geotor - geoip_db in Tor's text format (Debian's tor-geoipdb:
 * /usr/share/tor/geoip and geoip6), the country source a Debian system
 * has without a MaxMind download.
 *
 * Format, one range a line, '#' starts a comment line, blank lines skipped:
 *   IPv4  FROM,TO,CC   FROM and TO decimal integers (the address as a
 *                      32-bit number), e.g. 16777216,16777471,AU
 *   IPv6  FROM,TO,CC   FROM and TO IPv6 addresses, e.g.
 *                      2001:2::,2001:2:0:ffff:ffff:ffff:ffff:ffff,JP
 * CC is two ASCII letters (upper-cased); "??" is a range of unknown
 * country: checked, then not stored (a lookup there is 0, as outside any
 * range).  A file may mix both families.  Ranges of one family must be
 * ascending and disjoint, as Tor's files are; anything else refuses the
 * whole file with "PATH: line N: why" (no half-loaded database).
 *
 * Limits: a line up to LINE_MAX_LEN bytes; at most GT_MAX ranges per family
 * (1,048,576: 12 MB of IPv4 and 36 MB of IPv6 at most, 12 and 36 bytes a
 * range; Debian 12's files hold 385,372 and 276,389 placed ranges, 4.6 MB
 * and 10 MB loaded).
 * Lookup is a binary search, no allocation.
 *
 * Lifetime: loaded whole by lg_geo_open, so a reload (SIGHUP) reads the file
 * afresh; the old table is freed only after the new one loaded.
 * Threading: the engine's thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login-internal.h"
#include "util/xalloc.h"

#define LINE_MAX_LEN 256
#define GT_MAX (1u << 20)

struct gt_v4 {
	uint32_t lo, hi;
	uint16_t cc;
};

struct gt_v6 {
	uint8_t lo[16], hi[16];
	uint16_t cc;
};

struct lg_geotor {
	struct gt_v4 *v4;
	struct gt_v6 *v6;
	size_t n4, cap4, n6, cap6;
	bool any4, any6;		/* a range seen (for the order check) */
	uint32_t last4;
	uint8_t last6[16];
};

/* A decimal 32-bit number filling s exactly; false otherwise. */
static bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > 0xffffffffu)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* Two letters (or "??", giving 0) as a code; false if neither. */
static bool parse_cc(const char *s, uint16_t *cc)
{
	char c[2];
	int i;

	if (strlen(s) != 2)
		return false;
	if (s[0] == '?' && s[1] == '?') {
		*cc = 0;
		return true;
	}
	for (i = 0; i < 2; i++) {
		c[i] = s[i];
		if (c[i] >= 'a' && c[i] <= 'z')
			c[i] = (char)(c[i] - 'a' + 'A');
		if (c[i] < 'A' || c[i] > 'Z')
			return false;
	}
	*cc = lg_cc_pack(c);
	return true;
}

/* Add one IPv4 range; NULL or why not. */
static const char *add_v4(struct lg_geotor *t, const char *a, const char *b,
			  uint16_t cc)
{
	uint32_t lo, hi;

	if (!parse_u32(a, &lo) || !parse_u32(b, &hi))
		return "not a 32-bit decimal address";
	if (lo > hi)
		return "FROM above TO";
	if (t->any4 && lo <= t->last4)
		return "ranges not ascending and disjoint";
	t->any4 = true;
	t->last4 = hi;
	if (!cc)
		return NULL;
	if (t->n4 == GT_MAX)
		return "too many IPv4 ranges";
	if (t->n4 == t->cap4) {
		t->cap4 = t->cap4 ? t->cap4 * 2 : 1024;
		t->v4 = xrealloc(t->v4, t->cap4 * sizeof(*t->v4));
	}
	t->v4[t->n4++] = (struct gt_v4){ lo, hi, cc };
	return NULL;
}

/* Add one IPv6 range; NULL or why not. */
static const char *add_v6(struct lg_geotor *t, const char *a, const char *b,
			  uint16_t cc)
{
	struct gt_v6 r;

	if (inet_pton(AF_INET6, a, r.lo) != 1 ||
	    inet_pton(AF_INET6, b, r.hi) != 1)
		return "not an IPv6 address";
	if (memcmp(r.lo, r.hi, 16) > 0)
		return "FROM above TO";
	if (t->any6 && memcmp(r.lo, t->last6, 16) <= 0)
		return "ranges not ascending and disjoint";
	t->any6 = true;
	memcpy(t->last6, r.hi, 16);
	if (!cc)
		return NULL;
	if (t->n6 == GT_MAX)
		return "too many IPv6 ranges";
	if (t->n6 == t->cap6) {
		t->cap6 = t->cap6 ? t->cap6 * 2 : 1024;
		t->v6 = xrealloc(t->v6, t->cap6 * sizeof(*t->v6));
	}
	r.cc = cc;
	t->v6[t->n6++] = r;
	return NULL;
}

/* Parse one line (no newline); NULL or why not. */
static const char *parse_line(struct lg_geotor *t, char *s)
{
	char *a, *b, *c;
	uint16_t cc;

	a = s;
	if (!(b = strchr(a, ',')))
		return "expected FROM,TO,CC";
	*b++ = '\0';
	if (!(c = strchr(b, ',')))
		return "expected FROM,TO,CC";
	*c++ = '\0';
	if (!parse_cc(c, &cc))
		return "country not two letters or ??";
	if (strchr(a, ':') || strchr(b, ':'))
		return add_v6(t, a, b, cc);
	return add_v4(t, a, b, cc);
}

int lg_geotor_read(struct lg_geotor **tp, FILE *f, const char *name,
		   char *err, size_t errsz)
{
	struct lg_geotor *t = *tp ? *tp : xcalloc(1, sizeof(*t));
	char line[LINE_MAX_LEN + 2];
	unsigned long lineno = 0;
	const char *why = NULL;

	/* Each file starts its own ascending order. */
	t->any4 = t->any6 = false;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		lineno++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(f)) {
			why = "line too long";
			break;
		}
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		if ((why = parse_line(t, line)))
			break;
	}
	if (!why && ferror(f))
		snprintf(err, errsz, "geoip_db %s: read error", name);
	else if (why)
		snprintf(err, errsz, "geoip_db %s: line %lu: %s (Tor text format)",
			 name, lineno, why);
	if (why || ferror(f)) {
		if (!*tp)
			lg_geotor_free(t);
		return -EINVAL;
	}
	/* Give back the doubling's slack: the table lives until reload. */
	if (t->n4 && t->n4 < t->cap4)
		t->v4 = xrealloc(t->v4, (t->cap4 = t->n4) * sizeof(*t->v4));
	if (t->n6 && t->n6 < t->cap6)
		t->v6 = xrealloc(t->v6, (t->cap6 = t->n6) * sizeof(*t->v6));
	*tp = t;
	return 0;
}

int lg_geotor_load(struct lg_geotor **tp, const char *path, char *err,
		   size_t errsz)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errsz, "geoip_db %s: %s", path, strerror(errno));
		return rc;
	}
	rc = lg_geotor_read(tp, f, path, err, errsz);
	fclose(f);
	return rc;
}

bool lg_geotor_sniff(const char *path)
{
	unsigned char buf[512];
	FILE *f = fopen(path, "rb");
	size_t n, i;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (!n)
		return false;
	for (i = 0; i < n; i++)
		if ((buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\r' &&
		     buf[i] != '\t') || buf[i] >= 0x7f)
			return false;
	return true;
}

uint16_t lg_geotor_country(const struct lg_geotor *t, const struct lg_ip *ip)
{
	size_t lo = 0, hi;

	if (!t)
		return 0;
	if (lg_ip_is_v4(ip)) {
		uint32_t a = (uint32_t)ip->b[12] << 24 |
			     (uint32_t)ip->b[13] << 16 |
			     (uint32_t)ip->b[14] << 8 | ip->b[15];

		hi = t->n4;
		while (lo < hi) {	/* first range with hi >= a */
			size_t mid = lo + (hi - lo) / 2;

			if (t->v4[mid].hi < a)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo < t->n4 && t->v4[lo].lo <= a ? t->v4[lo].cc : 0;
	}
	hi = t->n6;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(t->v6[mid].hi, ip->b, 16) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n6 && memcmp(t->v6[lo].lo, ip->b, 16) <= 0 ?
	       t->v6[lo].cc : 0;
}

size_t lg_geotor_count(const struct lg_geotor *t)
{
	return t ? t->n4 + t->n6 : 0;
}

void lg_geotor_free(struct lg_geotor *t)
{
	if (!t)
		return;
	free(t->v4);
	free(t->v6);
	free(t);
}
