/*
 * spf_record - SPF record syntax, RFC 7208 sections 4.5, 4.6, 5 and 6.
 *
 * The whole record is parsed before any term is evaluated, so a syntax
 * error anywhere is permerror even when an earlier term would match (the
 * suite's "detect-errors-anywhere").  Terms are separated by one or more
 * spaces; every other byte must be visible ASCII (3.1: records are ASCII;
 * control characters and 8-bit bytes are permerror).  A term is a modifier
 * if the text before its first '=' is a valid name (ALPHA *(ALPHA / DIGIT /
 * "-" / "_" / ".")), otherwise a mechanism; unknown mechanisms are errors,
 * unknown modifiers are ignored once their value parses as a macro-string.
 *
 * CIDR suffixes are taken from the end of the term like pyspf does, with
 * no leading zeros, so "a:foo:bar/baz.example.com" is a name and
 * "ip4:1.2.3.4/032" is an error.  Limits: the record is bounded by the
 * caller (one TXT answer); a term count cap keeps hostile records small.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/spf-internal.h"
#include "util/xalloc.h"

/* Terms kept per record (a 64 KiB TXT could hold thousands). */
#define SPF_MAX_TERMS 256

static const struct {
	const char *name;
	enum spf_mech mech;
} mech_names[] = {
	{ "all", SPF_M_ALL },
	{ "include", SPF_M_INCLUDE },
	{ "a", SPF_M_A },
	{ "mx", SPF_M_MX },
	{ "ptr", SPF_M_PTR },
	{ "ip4", SPF_M_IP4 },
	{ "ip6", SPF_M_IP6 },
	{ "exists", SPF_M_EXISTS },
};

bool spf_record_is_spf(const char *p, size_t n)
{
	return n >= 6 && strncasecmp(p, "v=spf1", 6) == 0 &&
	       (n == 6 || p[6] == ' ');
}

void spf_record_deinit(struct spf_record *rec)
{
	size_t i;

	for (i = 0; i < rec->n; i++) {
		free(rec->t[i].domain);
		free(rec->t[i].text);
	}
	free(rec->t);
	free(rec->redirect);
	free(rec->exp);
	memset(rec, 0, sizeof(*rec));
}

/* Is [p, p+n) a modifier name? */
static bool name_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || !((p[0] >= 'a' && p[0] <= 'z') ||
			(p[0] >= 'A' && p[0] <= 'Z')))
		return false;
	for (i = 1; i < n; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

/*
 * Take a trailing "/N" (or "//N" when dbl) off the term of *n bytes.
 * Returns N (capped at 999), or -1 if there is no such suffix.
 */
static int cidr_strip(const char *p, size_t *n, bool dbl)
{
	size_t i = *n, slashes = dbl ? 2 : 1;
	int v = 0;

	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
		i--;
	if (i == *n || i < slashes || (*n - i > 1 && p[i] == '0'))
		return -1;
	if (p[i - 1] != '/' || (dbl && p[i - 2] != '/'))
		return -1;
	if (*n - i > 3)
		v = 999;
	else
		for (size_t j = i; j < *n; j++)
			v = v * 10 + (p[j] - '0');
	*n = i - slashes;
	return v;
}

/* printf into err; returns -1 for the caller to return. */
__attribute__((format(printf, 3, 4)))
static int rec_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errsz)
		vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/* Parse a modifier term "name=value". */
static int parse_modifier(struct spf_record *rec, const char *p, size_t n,
			  size_t eq, char *err, size_t errsz)
{
	const char *v = p + eq + 1;
	size_t vn = n - eq - 1;
	char **slot = NULL;

	if (eq == 8 && strncasecmp(p, "redirect", 8) == 0)
		slot = &rec->redirect;
	else if (eq == 3 && strncasecmp(p, "exp", 3) == 0)
		slot = &rec->exp;
	if (!slot) {
		if (spf_macro_check(v, vn, false, true, NULL) < 0)
			return rec_err(err, errsz, "bad macro in %.*s",
				       (int)(n > 64 ? 64 : n), p);
		return 0;
	}
	if (*slot)
		return rec_err(err, errsz, "%.*s= given twice", (int)eq, p);
	if (!spf_domain_spec_ok(v, vn))
		return rec_err(err, errsz, "bad domain in %.*s",
			       (int)(n > 64 ? 64 : n), p);
	*slot = xstrndup(v, vn);
	return 0;
}

/* Parse the argument of ip4:/ip6: into t. */
static int parse_ip(struct spf_term *t, const char *arg, size_t an, int cidr)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	bool v4 = t->mech == SPF_M_IP4;

	if (an == 0 || an >= sizeof(tmp))
		return -1;
	memcpy(tmp, arg, an);
	tmp[an] = '\0';
	if (inet_pton(v4 ? AF_INET : AF_INET6, tmp, t->addr) != 1)
		return -1;
	if (cidr > (v4 ? 32 : 128))
		return -1;
	if (v4)
		t->cidr4 = cidr < 0 ? 32 : cidr;
	else
		t->cidr6 = cidr < 0 ? 128 : cidr;
	return 0;
}

/* Parse a mechanism term into t. */
static int parse_mech(struct spf_term *t, const char *p, size_t n,
		      char *err, size_t errsz)
{
	const char *term = p;
	size_t tn = n, nl = 0, i, rn;
	int c4 = -1, c6 = -1;
	const char *rest;

	t->qual = SPF_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (n && strchr("+-~?", p[0])) {
		t->qual = p[0] == '-' ? SPF_FAIL : p[0] == '~' ? SPF_SOFTFAIL :
			  p[0] == '?' ? SPF_NEUTRAL : SPF_PASS;
		p++;
		n--;
	}
	while (nl < n && p[nl] != ':' && p[nl] != '/')
		nl++;
	for (i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++)
		if (strlen(mech_names[i].name) == nl &&
		    strncasecmp(mech_names[i].name, p, nl) == 0)
			break;
	if (i == sizeof(mech_names) / sizeof(mech_names[0]))
		return rec_err(err, errsz, "unknown mechanism %.*s",
			       (int)(tn > 64 ? 64 : tn), term);
	t->mech = mech_names[i].mech;
	if (t->mech == SPF_M_A || t->mech == SPF_M_MX) {
		c6 = cidr_strip(p, &n, true);
		c4 = cidr_strip(p, &n, false);
		if (c4 > 32 || c6 > 128)
			return rec_err(err, errsz, "bad CIDR length in %.*s",
				       (int)(tn > 64 ? 64 : tn), term);
		if (c4 >= 0)
			t->cidr4 = c4;
		if (c6 >= 0)
			t->cidr6 = c6;
	} else if (t->mech == SPF_M_IP4 || t->mech == SPF_M_IP6) {
		c4 = cidr_strip(p, &n, false);
	}
	rest = p + nl;
	rn = n - nl;
	if (rn && rest[0] != ':')
		goto bad;
	if (rn) {
		rest++;
		rn--;
	}
	switch (t->mech) {
	case SPF_M_ALL:
		if (n != nl)
			goto bad;
		return 0;
	case SPF_M_IP4:
	case SPF_M_IP6:
		if (n == nl || parse_ip(t, rest, rn, c4) < 0)
			goto bad;
		return 0;
	case SPF_M_INCLUDE:
	case SPF_M_EXISTS:
		if (n == nl)
			goto bad;
		break;
	default:
		if (n == nl)
			return 0;	/* a, mx, ptr on <domain> */
		break;
	}
	if (!spf_domain_spec_ok(rest, rn))
		goto bad;
	t->domain = xstrndup(rest, rn);
	return 0;
bad:
	return rec_err(err, errsz, "bad mechanism %.*s",
		       (int)(tn > 64 ? 64 : tn), term);
}

int spf_record_parse(const char *p, size_t n, struct spf_record *rec,
		     char *err, size_t errsz)
{
	size_t i = 6, j, eq;

	memset(rec, 0, sizeof(*rec));
	if (!spf_record_is_spf(p, n))
		return rec_err(err, errsz, "not an SPF record");
	for (j = 0; j < n; j++)
		if ((unsigned char)p[j] < 0x20 || (unsigned char)p[j] > 0x7e)
			return rec_err(err, errsz,
				       "invalid byte 0x%02x in record",
				       (unsigned char)p[j]);
	while (i < n) {
		if (p[i] == ' ') {
			i++;
			continue;
		}
		for (j = i; j < n && p[j] != ' '; j++)
			;
		for (eq = i; eq < j && p[eq] != '='; eq++)
			;
		if (eq < j && name_ok(p + i, eq - i)) {
			if (parse_modifier(rec, p + i, j - i, eq - i, err,
					   errsz) < 0)
				goto fail;
		} else {
			struct spf_term t;

			if (rec->n == SPF_MAX_TERMS) {
				rec_err(err, errsz, "more than %d terms",
					SPF_MAX_TERMS);
				goto fail;
			}
			memset(&t, 0, sizeof(t));
			if (parse_mech(&t, p + i, j - i, err, errsz) < 0) {
				free(t.domain);
				goto fail;
			}
			t.text = xstrndup(p + i, j - i);
			rec->t = xrealloc(rec->t, (rec->n + 1) * sizeof(t));
			rec->t[rec->n++] = t;
		}
		i = j;
	}
	return 0;
fail:
	spf_record_deinit(rec);
	return -1;
}
