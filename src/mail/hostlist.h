/*
 * hostlist - named lists of hosts and domains that a content check weighs
 * (issue 10): URL shorteners, free hosting and form sites, free mailbox
 * providers, and top-level domains mostly used for throwaway domains.
 *
 * The lists are data, not code: an administrator's file
 * (content_hosts_file, etc/content-hosts.example) of lines
 *
 *     KIND  HOST[/PATH]     # comment
 *
 * where KIND is "shortener", "hosting", "freemail" or "tld".  A HOST
 * matches itself and every subdomain ("web.app" matches
 * "evil-login.web.app"; a "tld" entry "xyz" matches "a.b.xyz"); a /PATH
 * makes the entry match only URLs whose path starts with it, caselessly
 * ("docs.google.com/forms" is a form, "docs.google.com/document" is not).
 * Hosts are lowercased ASCII (A-labels for IDNs).
 *
 * Limits and why: HOSTLIST_MAX entries (public lists of shorteners and
 * free hosts run to a few hundred; the cap bounds memory at ~1.3 MiB),
 * HOSTLIST_HOST_MAX bytes a host (RFC 1035 2.3.4: 253 octets; longer is
 * rejected), HOSTLIST_PATH_MAX bytes a path prefix.  A lookup tries at most
 * HOSTLIST_LABELS_MAX suffixes of the host, each a binary search: no
 * allocation and O(labels * log n) per host.
 *
 * Sans-I/O: the caller reads the file and hands its bytes over.
 * Threading: build with hostlist_new/hostlist_load on one thread; after
 * that a list is read-only and any number of threads may look it up.
 */
#ifndef MAMORI_MAIL_HOSTLIST_H
#define MAMORI_MAIL_HOSTLIST_H

#include <stddef.h>

#define HOSTLIST_MAX 4096
#define HOSTLIST_HOST_MAX 254
#define HOSTLIST_PATH_MAX 64
#define HOSTLIST_LABELS_MAX 16

enum hostlist_kind {
	HOSTLIST_SHORTENER = 0,	/* bit.ly, t.co: hide where a link goes */
	HOSTLIST_HOSTING,	/* web.app, forms.gle: anyone's page */
	HOSTLIST_FREEMAIL,	/* gmail.com: anyone's mailbox */
	HOSTLIST_TLD,		/* xyz, top: mostly throwaway domains */
	HOSTLIST_NKINDS
};

/* Outcomes of hostlist_load beyond 0. */
enum {
	HOSTLIST_E_SYNTAX = 1,	/* a line that is not KIND HOST[/PATH] */
	HOSTLIST_E_FULL,	/* more than HOSTLIST_MAX entries */
};

struct hostlist;

/* A new, empty list (abort on no memory). */
struct hostlist *hostlist_new(void);

/* Free hl; NULL is a no-op. */
void hostlist_free(struct hostlist *hl);

/*
 * Add the entries of text[0..n) (the file format above) to hl.  Returns
 * 0, or HOSTLIST_E_SYNTAX / HOSTLIST_E_FULL with *bad_line (may be NULL)
 * the 1-based line that failed; the entries before it are kept.
 */
int hostlist_load(struct hostlist *hl, const char *text, size_t n,
		  size_t *bad_line);

/* Entries loaded. */
size_t hostlist_count(const struct hostlist *hl);

/*
 * The entry of kind k that host (NUL-terminated, lowercase) is or is a
 * subdomain of, with its path a prefix of path (NULL or "" : the empty
 * path, which only entries without a path match), as "host" or
 * "host/path"; NULL if none.  The string belongs to hl.  hl may be NULL.
 */
const char *hostlist_match(const struct hostlist *hl, enum hostlist_kind k,
			   const char *host, const char *path);

/* "shortener", "hosting", "freemail", "tld"; "?" for others. */
const char *hostlist_kind_name(enum hostlist_kind k);

#endif
