/*
 * dispname - display-name spoofing in an RFC 5322 From (3.4 "display-name
 * <addr-spec>"), as Emotet and phishing use it.
 *
 * Two checks, both on an already decoded display name (RFC 2047 decoding
 * and charset conversion to UTF-8 are the MIME parser's job):
 *  - dispname_check: the name contains an address or a domain name whose
 *    registrable domain differs from the From address's
 *    ("support@amazon.co.jp" <x@evil.example>).  The name is first
 *    normalized (dispname_normalize: NFKC casefolding, which turns the
 *    full-width "＠" and "ａｍａｚｏｎ" into ASCII and drops zero-width
 *    characters, UAX #15 / Unicode 5.18 NFKC_Casefold), blanks around "@"
 *    are removed and an ideographic full stop between ASCII letters is read
 *    as a dot.  A dotted word counts as a domain only if its last labels
 *    are a listed public suffix (not the PSL "*" rule) and it has a
 *    registrable domain, so "Mr.Smith" or "ver.2" are not domains.
 *  - dispname_known: the normalized name (blanks and quotes also removed)
 *    equals the name of someone the recipient knows (a past correspondent
 *    or a colleague, passed in by the caller) while the address is not one
 *    that name was seen with.
 *
 * Limits: names of at most DISPNAME_MAX bytes are looked at (longer ones
 * are cut: RFC 5322 2.1.1 keeps a line to 998 bytes); at most
 * DISPNAME_MAX_KNOWN known names per call.  Sans-I/O, no state, thread-safe.
 */
#ifndef MAMORI_DISPNAME_H
#define MAMORI_DISPNAME_H

#include <stdbool.h>
#include <stddef.h>

#define DISPNAME_MAX 998
#define DISPNAME_MAX_KNOWN 1024
#define DISPNAME_ADDR_MAX 320

enum dispname_verdict {
	DISPNAME_OK = 0,	/* nothing found */
	DISPNAME_OTHER_ADDR,	/* an address of another domain in the name */
	DISPNAME_OTHER_DOMAIN,	/* a domain name of another domain */
	DISPNAME_KNOWN_NAME,	/* a known name on an unknown address */
};

struct dispname_result {
	enum dispname_verdict verdict;
	char found[DISPNAME_ADDR_MAX];	/* address/domain in the name, or
					 * the known address of that name */
	char from_org[DISPNAME_ADDR_MAX];	/* registrable From domain */
};

/* A name the recipient knows and the address it was seen with. */
struct dispname_known {
	const char *name;
	const char *addr;
};

struct dmarc_psl;

/*
 * NFKC_Casefold of the UTF-8 s[0..n) (cut to max bytes on a character
 * boundary; invalid UTF-8 read as U+FFFD), default-ignorable characters
 * (zero-width space, joiner, BOM, soft hyphen) removed, as a new string
 * the caller frees.  NULL only if ICU fails.  Shared with src/mail/cues.c.
 */
char *dispname_fold(const char *s, size_t n, size_t max);

/*
 * dispname_fold of s[0..n) (at most DISPNAME_MAX bytes read) into out
 * (outsz bytes, NUL-terminated).  Returns 0, or -1 if the result does not
 * fit.
 */
int dispname_normalize(const char *s, size_t n, char *out, size_t outsz);

/*
 * The comparison key of a name: dispname_normalize of s[0..n), then
 * blanks, quotes, dots and commas removed (what dispname_known compares),
 * into out (outsz bytes).  Returns 0, or -1 if it does not fit.  For
 * callers that keep names hashed (core/corrindex.c).
 */
int dispname_key(const char *s, size_t n, char *out, size_t outsz);

/*
 * Does the display name name[0..n) carry an address or domain other than
 * the one of from_addr ("local@domain", NUL-terminated)?  psl is
 * borrowed.  Fills *res; returns res->verdict (DISPNAME_OK,
 * DISPNAME_OTHER_ADDR or DISPNAME_OTHER_DOMAIN).  An address in the name
 * is reported before a bare domain.
 */
enum dispname_verdict dispname_check(const struct dmarc_psl *psl,
				     const char *name, size_t n,
				     const char *from_addr,
				     struct dispname_result *res);

/*
 * Is name[0..n) the name of a known person on an address that name was
 * never seen with?  known[0..nknown): the recipient's known names and
 * addresses (several rows may share a name).  Fills *res (found: the
 * first known address of that name); returns DISPNAME_KNOWN_NAME or
 * DISPNAME_OK.  Names shorter than 2 characters after normalization
 * never match.
 */
enum dispname_verdict dispname_known(const char *name, size_t n,
				     const char *from_addr,
				     const struct dispname_known *known,
				     size_t nknown,
				     struct dispname_result *res);

/* "ok", "other-address", "other-domain" or "known-name". */
const char *dispname_verdict_name(enum dispname_verdict v);

#endif
