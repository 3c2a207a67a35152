/*
 * lookalike - is a sender or link domain a look-alike of a domain the
 * recipient trusts?
 *
 * Two lists are compared with a candidate domain D:
 *  - the protected domains (banks, EC sites, carriers, the provider's own
 *    domains), loaded once from a file (format below), and
 *  - the recipient's known correspondent domains, passed in per check.
 *
 * D is first brought to U-labels (libidn2, RFC 5891 5; "xn--" labels are
 * decoded so that an IDN homograph is compared as the reader sees it),
 * lowercased, and cut to its registrable domain by the Public Suffix List
 * (src/mail/dmarc_psl.c).  The registrable label (the label left of the
 * public suffix: "paypal" in paypal.co.uk) is then compared through its
 * UTS #39 confusable skeleton (ICU uspoof, section 4), case-folded after
 * the skeleton because the skeleton maps digits to capitals ("0" -> "O").
 * Rules, in order (docs/design/lookalike.md gives the reasons):
 *
 *  1. D's registrable domain equals a known correspondent's or a
 *     protected one's: LOOKALIKE_SAME / LOOKALIKE_KNOWN, no opinion.
 *  2. Skeleton of D's registrable domain equals P's (paypa1.com,
 *     rnicrosoft.com, аpple.com with a Cyrillic а): LOOKALIKE_R_CONFUSABLE.
 *  3. Same skeleton label, other public suffix (smbc-card.xyz for
 *     smbc-card.com): LOOKALIKE_R_SUFFIX.
 *  4. P's registrable domain written into D's label with '-' for '.'
 *     (amaz0n-co-jp.com), P's label as a '-'-separated token of D's label
 *     (paypal-secure.com), or P's registrable domain as whole labels left of
 *     D's registrable domain (paypal.com.evil.example): LOOKALIKE_R_EMBEDDED.
 *     Only for P labels of LOOKALIKE_EMBED_MIN or more characters.
 *  5. Damerau-Levenshtein (optimal string alignment) distance between the
 *     skeleton labels at most lookalike_threshold(len(P label)):
 *     0 up to 4 characters, 1 for 5..8, 2 from 9 on
 *     (LOOKALIKE_R_EDIT).
 * Independently of any match, D's U-labels are checked for mixed scripts
 * (UTS #39 5.2 restriction level above "highly restrictive") and for a
 * whole-script confusable (a single non-Latin script whose skeleton is all
 * ASCII: "аррӏе"); these set flags in the result.
 *
 * Protected file format (lookalike_load): UTF-8 text, one entry a line,
 * "#" starts a comment, fields separated by blanks:
 *      DOMAIN [BRAND ...]
 * e.g. "amazon.co.jp  Amazon" or "smbc-card.com  三井住友カード".  DOMAIN may
 * be U-labels or A-labels; BRAND (the rest of the line, optional, at most
 * LOOKALIKE_BRAND_MAX bytes) names the brand for reasons and for cue-word
 * checks.  At most LOOKALIKE_MAX_PROTECTED entries.
 *
 * Limits: domains of at most 253 bytes (RFC 1035 2.3.4), labels compared
 * up to 63 code points, at most LOOKALIKE_MAX_KNOWN known domains looked
 * at per check; the work per check is O(entries * 63 * 63) in the worst
 * case and a length filter skips most entries.
 *
 * Threading and lifetime: a struct lookalike is built once (new, add or
 * load), then read-only; lookalike_check may run from several threads
 * (ICU's spoof checker is thread-safe for checks once configured).  The
 * PSL context is borrowed and must outlive it.
 *
 * Cost: each thread keeps its last 16 results of lookalike_check without
 * known domains (keyed by the checker, its entry count and the domain; a
 * fixed thread-local array, nothing to free), because one message asks
 * about the same hosts from several checks and the next message often
 * about the same ones.  Skeletons of ASCII text come from a per-character
 * table built through ICU in lookalike_new (UTS #39 maps ASCII character
 * by character); ICU runs only on non-ASCII text.
 */
#ifndef MAMORI_LOOKALIKE_H
#define MAMORI_LOOKALIKE_H

#include <stdbool.h>
#include <stddef.h>

#define LOOKALIKE_DOMAIN_MAX 256
#define LOOKALIKE_BRAND_MAX 64
#define LOOKALIKE_MAX_PROTECTED 4096
#define LOOKALIKE_MAX_KNOWN 256
#define LOOKALIKE_EMBED_MIN 4

/* Outcomes of lookalike_add / lookalike_load (positive module codes). */
enum {
	LOOKALIKE_E_SYNTAX = 1,	/* not a domain, or no registrable domain */
	LOOKALIKE_E_FULL,	/* LOOKALIKE_MAX_PROTECTED reached */
};

enum lookalike_verdict {
	LOOKALIKE_NONE = 0,	/* resembles nothing on either list */
	LOOKALIKE_SAME,		/* is (a subdomain of) a protected domain */
	LOOKALIKE_KNOWN,	/* is a known correspondent's domain */
	LOOKALIKE_MATCH,	/* a look-alike: see reason and matched */
	LOOKALIKE_INVALID,	/* D is not a domain name */
};

enum lookalike_reason {
	LOOKALIKE_R_NONE = 0,
	LOOKALIKE_R_CONFUSABLE,	/* same UTS #39 skeleton */
	LOOKALIKE_R_SUFFIX,	/* same label, other public suffix */
	LOOKALIKE_R_EMBEDDED,	/* the protected name inside D */
	LOOKALIKE_R_EDIT,	/* small edit distance */
};

/* Flags on D itself, set whatever the verdict. */
#define LOOKALIKE_F_IDN		0x1u	/* has a non-ASCII label */
#define LOOKALIKE_F_MIXED_SCRIPT 0x2u	/* scripts mixed within a label */
#define LOOKALIKE_F_WHOLE_SCRIPT 0x4u	/* non-Latin, skeleton all ASCII */

struct lookalike_result {
	enum lookalike_verdict verdict;
	enum lookalike_reason reason;
	unsigned flags;
	bool correspondent;	/* matched is a known domain, not protected */
	int distance;		/* edit distance of the labels (-1: n/a) */
	int threshold;		/* the distance allowed for that length */
	char domain[LOOKALIKE_DOMAIN_MAX];	/* D, U-labels, lowercase */
	char matched[LOOKALIKE_DOMAIN_MAX];	/* P or the known domain */
	char brand[LOOKALIKE_BRAND_MAX];	/* P's brand, "" if none */
};

struct lookalike;
struct dmarc_psl;

/*
 * A checker with no protected domains.  psl is borrowed (not NULL).
 * Returns NULL if ICU cannot open its spoof checker.
 */
struct lookalike *lookalike_new(const struct dmarc_psl *psl);

/* Frees la; NULL is a no-op. */
void lookalike_free(struct lookalike *la);

/*
 * Adds the protected domain domain (NUL-terminated, U- or A-labels) with
 * an optional brand name (NULL or "": none).  Returns 0,
 * LOOKALIKE_E_SYNTAX or LOOKALIKE_E_FULL.
 */
int lookalike_add(struct lookalike *la, const char *domain,
		  const char *brand);

/*
 * Parses a protected file's text[0..n) (format in the header comment) and
 * adds each entry.  Stops at the first bad line: returns its code and sets
 * *bad_line (1-based) if bad_line is not NULL; 0 when all lines were added.
 */
int lookalike_load(struct lookalike *la, const char *text, size_t n,
		   size_t *bad_line);

/* The number of protected domains. */
size_t lookalike_count(const struct lookalike *la);

/* The brand of protected entry i (< count), "" if none; its domain in *dom. */
const char *lookalike_brand(const struct lookalike *la, size_t i,
			    const char **dom);

/*
 * Checks domain (NUL-terminated) against the protected domains and
 * against known[0..nknown) (the recipient's correspondent domains, NULL
 * entries skipped, only the first LOOKALIKE_MAX_KNOWN used).  Fills *res
 * and returns res->verdict.
 */
enum lookalike_verdict lookalike_check(const struct lookalike *la,
				       const char *domain,
				       const char *const *known, size_t nknown,
				       struct lookalike_result *res);

/* The edit distance a label of len code points may differ by. */
int lookalike_threshold(size_t len);

/*
 * Damerau-Levenshtein distance (optimal string alignment) of the UTF-8
 * strings a and b, computed over at most 63 code points each; returns
 * max + 1 as soon as the distance is known to exceed max.
 */
int lookalike_distance(const char *a, const char *b, int max);

/*
 * The LOOKALIKE_F_* script flags of one label or word l[0..n) (UTF-8, at
 * most LOOKALIKE_DOMAIN_MAX - 1 bytes looked at; 0 for longer or ASCII
 * input): IDN, MIXED_SCRIPT, WHOLE_SCRIPT as for a domain's labels.
 */
unsigned lookalike_script_flags(const struct lookalike *la, const char *l,
				size_t n);

/* "confusable", "suffix", "embedded", "edit" or "none". */
const char *lookalike_reason_name(enum lookalike_reason r);

/*
 * The UTS #39 skeleton of the UTF-8 string s, case-folded, into out
 * (outsz bytes, NUL-terminated).  Returns 0, or -1 if s is not UTF-8 or
 * the skeleton does not fit.
 */
int lookalike_skeleton(const struct lookalike *la, const char *s,
		       char *out, size_t outsz);

#endif
