/*
 * dmarc_record - the DMARC policy record parser (RFC 9989 4.7, 4.8;
 * RFC 7489 6.3, 6.4).
 *
 * A record is a tag-list: tag=value pairs separated by ';', whitespace
 * (SP, HTAB, and CR/LF from sloppy publishers) allowed around names,
 * '=' and values.  Tag names and the keyword values are matched without
 * regard to case (ABNF quoted strings are case-insensitive, RFC 5234 2.3).
 *
 * What decides the outcome:
 *   - the first tag must be v=DMARC1, or the TXT record is not a DMARC
 *     record at all (DMARC_REC_NOT_DMARC; the caller discards it, RFC 9989
 *     4.10 step 2);
 *   - p absent or with a bad value: if rua holds at least one
 *     syntactically valid URI the record acts as p=none (RFC 9989 4.7 "p",
 *     RFC 7489 6.6.3 step 6), otherwise the record is DMARC_REC_INVALID,
 *     which policy discovery treats as "no record";
 *   - everything else is forgiving: unknown tags are ignored (RFC 9989
 *     4.7: MUST be ignored), a bad value of an optional tag gives its
 *     default (RFC 7489 6.3: syntax errors in the remainder SHOULD be
 *     discarded in favour of defaults), a repeated tag keeps its first
 *     value, a tag-spec without '=' is skipped; each leaves a note.
 *   - pct, rf and ri, removed by RFC 9989, are accepted with a note; pct
 *     is kept because RFC 7489 mode uses it.
 *
 * Limits: DMARC_RECORD_MAX bytes (a record is normally under 300; a TXT
 * RRset can be 64 KB), DMARC_RECORD_TAGS tag-specs (the rest is ignored
 * with a note), rua/ruf kept up to DMARC_URI_MAX - 1 bytes (longer is
 * cut: the reporting module re-validates them).  A NUL byte anywhere in
 * the record makes it DMARC_REC_INVALID.
 */
#include <string.h>
#include <strings.h>

#include "mail/dmarc.h"

/* Whitespace inside a record. */
static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trim whitespace from both ends of the span [*p, *p + *n). */
static void trim(const char **p, size_t *n)
{
	while (*n > 0 && is_ws(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_ws((*p)[*n - 1]))
		(*n)--;
}

/* Case-insensitive compare of span with a literal. */
static bool eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

/* A policy keyword; DMARC_P_UNSPEC if not one. */
static enum dmarc_policy parse_policy(const char *v, size_t n)
{
	if (eq(v, n, "none"))
		return DMARC_P_NONE;
	if (eq(v, n, "quarantine"))
		return DMARC_P_QUARANTINE;
	if (eq(v, n, "reject"))
		return DMARC_P_REJECT;
	return DMARC_P_UNSPEC;
}

/* RFC 3986 scheme ":" something: the test for a "valid" reporting URI. */
static bool uri_ok(const char *p, size_t n)
{
	size_t i;

	trim(&p, &n);
	/* RFC 7489 6.4 allowed a "!size" suffix; RFC 9989 dropped it.  It
	 * does not make the URI invalid either way. */
	if (n == 0 || !((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z'))
		return false;
	for (i = 1; i < n; i++) {
		char c = p[i];

		if (c == ':')
			return i + 1 < n;
		if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
		    !(c >= '0' && c <= '9') && c != '+' && c != '-' &&
		    c != '.')
			return false;
	}
	return false;
}

/* A comma-separated URI list with at least one valid URI. */
static bool urilist_ok(const char *p, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i <= n; i++) {
		if (i == n || p[i] == ',') {
			if (uri_ok(p + start, i - start))
				return true;
			start = i + 1;
		}
	}
	return false;
}

/* Copy a span into a fixed buffer, cut if it does not fit. */
static void copy_cut(char *dst, size_t dstsz, const char *p, size_t n)
{
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* fo: colon-separated 0, 1, d, s (RFC 9991 / RFC 7489 6.3). */
static bool fo_ok(const char *p, size_t n)
{
	size_t i;
	bool want_opt = true;

	for (i = 0; i < n; i++) {
		char c = (char)(p[i] | 0x20);

		if (is_ws(p[i]))
			continue;
		if (want_opt && (c == '0' || c == '1' || c == 'd' || c == 's'))
			want_opt = false;
		else if (!want_opt && p[i] == ':')
			want_opt = true;
		else
			return false;
	}
	return !want_opt;
}

/* pct: 1*3DIGIT 0..100; -1 if bad. */
static int parse_pct(const char *p, size_t n)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > 3)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v <= 100 ? v : -1;
}

/* Set defaults (RFC 9989 4.7). */
static void defaults(struct dmarc_record *r)
{
	memset(r, 0, sizeof(*r));
	r->adkim = 'r';
	r->aspf = 'r';
	r->psd = 'u';
	r->pct = -1;
	r->fo[0] = '0';
}

enum tag_id {
	T_P, T_SP, T_NP, T_ADKIM, T_ASPF, T_T, T_PSD, T_RUA, T_RUF, T_FO,
	T_PCT, T_RF, T_RI, T__COUNT,
};

static const char *const tag_names[T__COUNT] = {
	"p", "sp", "np", "adkim", "aspf", "t", "psd", "rua", "ruf", "fo",
	"pct", "rf", "ri",
};

/* Apply one known tag's value to r; records notes. */
static void apply(struct dmarc_record *r, enum tag_id id, const char *v,
		  size_t n, bool *p_ok, bool *rua_ok)
{
	enum dmarc_policy pol;

	switch (id) {
	case T_P:
		pol = parse_policy(v, n);
		if (pol != DMARC_P_UNSPEC) {
			r->p = pol;
			*p_ok = true;
		} else {
			r->notes |= DMARC_NOTE_BAD_VALUE;
		}
		break;
	case T_SP:
	case T_NP:
		pol = parse_policy(v, n);
		if (pol == DMARC_P_UNSPEC)
			r->notes |= DMARC_NOTE_BAD_VALUE |
				    (id == T_SP ? DMARC_NOTE_BAD_SP : 0);
		else if (id == T_SP)
			r->sp = pol;
		else
			r->np = pol;
		break;
	case T_ADKIM:
	case T_ASPF:
		if (n == 1 && ((v[0] | 0x20) == 'r' || (v[0] | 0x20) == 's'))
			*(id == T_ADKIM ? &r->adkim : &r->aspf) =
				(char)(v[0] | 0x20);
		else
			r->notes |= DMARC_NOTE_BAD_VALUE;
		break;
	case T_T:
		if (eq(v, n, "y"))
			r->testing = true;
		else if (!eq(v, n, "n"))
			r->notes |= DMARC_NOTE_BAD_VALUE;
		break;
	case T_PSD:
		if (n == 1 && ((v[0] | 0x20) == 'y' || (v[0] | 0x20) == 'n' ||
			       (v[0] | 0x20) == 'u'))
			r->psd = (char)(v[0] | 0x20);
		else
			r->notes |= DMARC_NOTE_BAD_VALUE;
		break;
	case T_RUA:
	case T_RUF:
		if (urilist_ok(v, n)) {
			if (id == T_RUA) {
				*rua_ok = true;
				copy_cut(r->rua, sizeof(r->rua), v, n);
			} else {
				copy_cut(r->ruf, sizeof(r->ruf), v, n);
			}
		} else {
			r->notes |= DMARC_NOTE_BAD_VALUE;
		}
		break;
	case T_FO:
		if (fo_ok(v, n) && n < sizeof(r->fo))
			copy_cut(r->fo, sizeof(r->fo), v, n);
		else
			r->notes |= DMARC_NOTE_BAD_VALUE;
		break;
	case T_PCT:
		r->notes |= DMARC_NOTE_LEGACY_PCT;
		r->pct = parse_pct(v, n);
		if (r->pct < 0)
			r->notes |= DMARC_NOTE_BAD_VALUE;
		break;
	case T_RF:
		r->notes |= DMARC_NOTE_LEGACY_RF;
		break;
	case T_RI:
		r->notes |= DMARC_NOTE_LEGACY_RI;
		break;
	case T__COUNT:
		break;
	}
}

int dmarc_record_parse(const char *txt, size_t n, struct dmarc_record *out)
{
	bool seen[T__COUNT] = { false };
	bool p_ok = false, rua_ok = false, first = true;
	size_t pos = 0, ntags = 0;

	defaults(out);
	if (txt == NULL || n > DMARC_RECORD_MAX)
		return n > DMARC_RECORD_MAX && txt &&
			n >= 8 && strncasecmp(txt, "v=DMARC1", 8) == 0 ?
			DMARC_REC_INVALID : DMARC_REC_NOT_DMARC;
	while (pos <= n) {
		const char *spec = txt + pos, *semi, *eqp, *name, *val;
		size_t len, nn, vn;
		int id;

		semi = memchr(spec, ';', n - pos);
		len = semi ? (size_t)(semi - spec) : n - pos;
		pos += len + 1;
		name = spec;
		nn = len;
		trim(&name, &nn);
		if (nn == 0) {
			/* Empty tag-spec: a trailing ';' is allowed. */
			if (first)
				return DMARC_REC_NOT_DMARC;
			continue;
		}
		eqp = memchr(name, '=', nn);
		if (eqp == NULL) {
			if (first)
				return DMARC_REC_NOT_DMARC;
			out->notes |= DMARC_NOTE_BAD_SYNTAX;
			continue;
		}
		val = eqp + 1;
		vn = nn - (size_t)(val - name);
		nn = (size_t)(eqp - name);
		trim(&name, &nn);
		trim(&val, &vn);
		if (first) {
			/* RFC 9989 4.7: v MUST be first, its value "DMARC1"
			 * matched precisely (RFC 7489 6.4: %x44 %x4d ...:
			 * case-sensitive; the tag name is not). */
			if (!eq(name, nn, "v") || vn != 6 ||
			    memcmp(val, "DMARC1", 6) != 0)
				return DMARC_REC_NOT_DMARC;
			if (memchr(txt, '\0', n) != NULL)
				return DMARC_REC_INVALID;
			first = false;
			continue;
		}
		if (++ntags > DMARC_RECORD_TAGS) {
			out->notes |= DMARC_NOTE_TOO_MANY_TAGS;
			break;
		}
		for (id = 0; id < T__COUNT; id++)
			if (eq(name, nn, tag_names[id]))
				break;
		if (id == T__COUNT) {
			out->notes |= DMARC_NOTE_UNKNOWN_TAG;
			continue;
		}
		if (seen[id]) {
			out->notes |= DMARC_NOTE_DUP_TAG;
			continue;
		}
		seen[id] = true;
		apply(out, (enum tag_id)id, val, vn, &p_ok, &rua_ok);
	}
	if (first)
		return DMARC_REC_NOT_DMARC;
	if (!p_ok) {
		if (!rua_ok)
			return DMARC_REC_INVALID;
		out->p = DMARC_P_NONE;
		out->notes |= DMARC_NOTE_P_FROM_RUA;
	}
	return DMARC_REC_OK;
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_NONE:
		return "none";
	case DMARC_P_QUARANTINE:
		return "quarantine";
	case DMARC_P_REJECT:
		return "reject";
	case DMARC_P_UNSPEC:
		break;
	}
	return "unspecified";
}
