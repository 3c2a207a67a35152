/*
 * corrindex - the recipient's known correspondents, in memory and hashed,
 * for the content checks of the milter's workers (docs/design/content.md
 * "Known correspondents").
 *
 * The correspondence log (namespace "corr", core/mailrec.c) records what
 * our users send: p:H(user):H(correspondent) rows, H(x) the hex SHA-256 of
 * the install salt, ":" and x.  Workers must not touch the store, so this
 * index keeps a set of 64-bit keys in memory, each the mix of a salted
 * hash of the user and a salted hash of one thing the user is known to
 * correspond with:
 *
 *   pair       the correspondent's address (from the p: rows)
 *   name       a display name the user wrote to (NFKC-casefolded, blanks,
 *              quotes and dots removed: dispname_key), and that name with
 *              the address it was written to
 *   dom        the correspondent's registrable domain
 *   skel       the UTS #39 skeleton of its registrable label (a
 *              confusable or other-suffix look-alike has the same one)
 *   sub        the skeleton with one character deleted, per position, for
 *              labels of CORRINDEX_SUB_MIN..CORRINDEX_SUB_MAX ASCII
 *              characters (a same-position deletion in both is one
 *              substitution; neighbouring positions are a swap, or two
 *              substitutions side by side)
 *
 * so the index holds no address, name or domain in clear, and the store
 * rows it adds (namespace corr_keys, k:HEX16 -> {}, kept
 * correspondence_ttl) neither.
 *
 * Memory bound: two generations of an open-addressing table of
 * 2 * max slots of 8 bytes; when the current one holds max keys it
 * becomes the old one (the older is dropped) and a new one starts, so at
 * most 2 * max keys and 32 * max bytes are held (content_index_max,
 * default 1,048,576: 32 MiB).  A key learned twice is kept once; a key
 * can be forgotten early only by that rotation.
 *
 * Threading: writers (corrindex_add, corrindex_set_salt, the load) run on
 * the event-loop thread only; readers (corrindex_has and the queries) on
 * any thread, under a read-write lock held for one probe.  The salt is
 * set once at attach, before the milter serves.
 */
#ifndef MAMORI_CORE_CORRINDEX_H
#define MAMORI_CORE_CORRINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CORRINDEX_SUB_MIN 5
#define CORRINDEX_SUB_MAX 24
/* Keys one outbound message may teach (the rest are skipped). */
#define CORRINDEX_LEARN_MAX 512

struct corrindex;
struct dmarc_psl;
struct lookalike;
struct mime_summary;

/* A new empty index of at most 2 * max keys (max >= 16). */
struct corrindex *corrindex_new(size_t max);
/* Free ci; NULL is a no-op. */
void corrindex_free(struct corrindex *ci);

/* The install salt (64 hex digits), copied.  Loop thread. */
void corrindex_set_salt(struct corrindex *ci, const char *salt);

/* Add key k.  Loop thread. */
void corrindex_add(struct corrindex *ci, uint64_t k);
/* Is k in either generation?  Any thread. */
bool corrindex_has(const struct corrindex *ci, uint64_t k);
/* Keys held (both generations). */
size_t corrindex_count(const struct corrindex *ci);

/*
 * The key of a stored row of namespace corr: "p:HU:HC" (a pair) or
 * "k:HEX16" (a key as corrindex_learn makes).  Returns 0 for any other
 * key.
 */
uint64_t corrindex_row_key(const char *row);

/*
 * What an outbound message from user (its first From address) teaches:
 * for each To/Cc mailbox of hdr, the pair, the name keys and the domain
 * keys.  Writes at most max keys into keys (pairs first: *npairs of them,
 * which the caller does not store as k: rows, the p: rows exist).
 * Returns the number of keys.  Any thread.
 */
size_t corrindex_learn(const struct corrindex *ci,
		       const struct lookalike *la, const struct dmarc_psl *psl,
		       const struct mime_summary *hdr, uint64_t *keys,
		       size_t max, size_t *npairs);

/* The recipients a message is checked for, hashed once. */
#define CORRINDEX_USERS_MAX 16
struct corrindex_users {
	uint64_t u[CORRINDEX_USERS_MAX];
	const char *addr[CORRINDEX_USERS_MAX];	/* borrowed */
	size_t n;
};

/*
 * Hash the first CORRINDEX_USERS_MAX addresses of addrs[0..n) (our
 * recipients) into *out for the queries below; none when the index is
 * empty (then every query answers "not known" at once).  Any thread.
 */
void corrindex_users(const struct corrindex *ci, const char *const *addrs,
		     size_t n, struct corrindex_users *out);

/* Which of us corresponds with addr: its position, or -1.  Any thread. */
int corrindex_known_pair(const struct corrindex *ci,
			 const struct corrindex_users *us, const char *addr);

/*
 * Which of us has written to someone called name, and never to that name
 * at addr (a known name on a strange address): its position, or -1.
 * Any thread.
 */
int corrindex_name_elsewhere(const struct corrindex *ci,
			     const struct corrindex_users *us,
			     const char *name, const char *addr);

enum corrindex_dom {
	CORRINDEX_DOM_NONE = 0,
	CORRINDEX_DOM_KNOWN,		/* a correspondent's domain */
	CORRINDEX_DOM_SKELETON,		/* same skeleton label, other domain */
	CORRINDEX_DOM_EDIT,		/* one substitution or swap away */
	CORRINDEX_DOM_INVALID,		/* no registrable domain */
};

/*
 * How does domain relate to the domains us correspond with?  *who gets
 * the position of the user it concerns.  A domain known to one user is
 * KNOWN even if it resembles another's.  Any thread.
 */
enum corrindex_dom corrindex_domain(const struct corrindex *ci,
				    const struct lookalike *la,
				    const struct dmarc_psl *psl,
				    const struct corrindex_users *us,
				    const char *domain, size_t *who);

/* "none", "known", "skeleton", "edit", "invalid". */
const char *corrindex_dom_name(enum corrindex_dom d);

#endif
