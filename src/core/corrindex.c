/*
 * corrindex - known correspondents, hashed, in memory (see corrindex.h).
 *
 * The table is open addressing with linear probing over 64-bit keys (0
 * marks an empty slot; a key that mixes to 0 is stored as 1).  Keys are
 * already uniform (truncated salted SHA-256), so the slot is the key's
 * low bits.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/corrindex.h"
#include "mail/dispname.h"
#include "mail/dmarc.h"
#include "mail/lookalike.h"
#include "mail/mime.h"
#include "util/xalloc.h"

#define ADDR_MAX 320			/* RFC 5321 4.5.3.1: 64 + 1 + 255 */
#define KEY_MAX (DISPNAME_MAX * 3 + 1)

/* One generation: 2 * max slots. */
struct gen {
	uint64_t *slot;
	size_t n;
};

struct corrindex {
	pthread_rwlock_t lock;		/* cur, old, the tables */
	struct gen cur, old;
	size_t max, cap;		/* cap: power of 2, >= 2 * max */
	char salt[65];
	uint64_t seed;			/* of item hashes, from the salt */
};

/* ------------------------------------------------------------------ */
/* Keys                                                                 */

/* splitmix64's finalizer: spreads every input bit over the output. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The key of user hash u and item hash c. */
static uint64_t key2(uint64_t u, uint64_t c)
{
	uint64_t k = mix(u ^ mix(c ^ 0x6d616d6f7269ULL));

	return k ? k : 1;
}

/* The first 8 bytes of SHA-256(salt ":" a b) as a number (big-endian,
 * so it equals the first 16 hex digits of mailrec's H()). */
static uint64_t h(const char *salt, const char *a, const char *b, size_t bn)
{
	unsigned char md[32];
	unsigned len = 0, i;
	uint64_t v = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, salt, strlen(salt));
	EVP_DigestUpdate(c, ":", 1);
	EVP_DigestUpdate(c, a, strlen(a));
	EVP_DigestUpdate(c, b, bn);
	EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	for (i = 0; i < 8; i++)
		v = v << 8 | md[i];
	return v;
}

/* Lowercase address a into out; false if it does not fit or is empty. */
static bool lower_addr(const char *a, char *out, size_t outsz)
{
	size_t i, n = a ? strlen(a) : 0;

	if (n == 0 || n >= outsz)
		return false;
	for (i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)a[i]);
	return true;
}

/* The hash of a (lowercased) address. */
static uint64_t h_addr(const struct corrindex *ci, const char *addr)
{
	return h(ci->salt, "", addr, strlen(addr));
}

/*
 * The hash of a kind ("name:", "dom:" ...) and its item: a multiply-mix
 * over the bytes keyed with the salt's seed.  Only a user's address goes
 * through SHA-256 (the p: rows of mailrec.c need it); items are mixed
 * with that, so a key still needs the salt and the user's address, and
 * a message's items are hashed in nanoseconds, not microseconds.
 */
static uint64_t h_item(const struct corrindex *ci, const char *kind,
		       const char *item, size_t n)
{
	uint64_t x = ci->seed;
	size_t i;

	for (; *kind; kind++)
		x = (x ^ (unsigned char)*kind) * 0x100000001b3ULL;
	x = mix(x);
	for (i = 0; i < n; i++)
		x = (x ^ (unsigned char)item[i]) * 0x100000001b3ULL;
	return mix(x ^ n);
}

uint64_t corrindex_row_key(const char *row)
{
	char a[17], b[17], *end;
	uint64_t u, c;

	if (strncmp(row, "k:", 2) == 0 && strlen(row) == 18) {
		u = strtoull(row + 2, &end, 16);
		return *end ? 0 : u;
	}
	/* p:HU:HC, each 64 hex digits: the first 16 of each are h(). */
	if (strncmp(row, "p:", 2) != 0 || strlen(row) != 2 + 64 + 1 + 64 ||
	    row[66] != ':')
		return 0;
	memcpy(a, row + 2, 16);
	a[16] = '\0';
	memcpy(b, row + 67, 16);
	b[16] = '\0';
	u = strtoull(a, &end, 16);
	if (*end)
		return 0;
	c = strtoull(b, &end, 16);
	return *end ? 0 : key2(u, c);
}

/* ------------------------------------------------------------------ */
/* The table                                                            */

struct corrindex *corrindex_new(size_t max)
{
	struct corrindex *ci = xcalloc(1, sizeof(*ci));

	if (max < 16)
		max = 16;
	ci->max = max;
	for (ci->cap = 32; ci->cap < 2 * max; ci->cap *= 2)
		;
	ci->cur.slot = xcalloc(ci->cap, sizeof(uint64_t));
	pthread_rwlock_init(&ci->lock, NULL);
	snprintf(ci->salt, sizeof(ci->salt), "%064d", 0);
	ci->seed = h(ci->salt, "corrindex-seed", "", 0);
	return ci;
}

void corrindex_free(struct corrindex *ci)
{
	if (!ci)
		return;
	pthread_rwlock_destroy(&ci->lock);
	free(ci->cur.slot);
	free(ci->old.slot);
	free(ci);
}

void corrindex_set_salt(struct corrindex *ci, const char *salt)
{
	pthread_rwlock_wrlock(&ci->lock);
	snprintf(ci->salt, sizeof(ci->salt), "%s", salt);
	ci->seed = h(ci->salt, "corrindex-seed", "", 0);
	pthread_rwlock_unlock(&ci->lock);
}

/* Is k in g?  (Lock held.) */
static bool gen_has(const struct gen *g, size_t cap, uint64_t k)
{
	size_t i;

	if (!g->slot)
		return false;
	for (i = k & (cap - 1); g->slot[i]; i = (i + 1) & (cap - 1))
		if (g->slot[i] == k)
			return true;
	return false;
}

void corrindex_add(struct corrindex *ci, uint64_t k)
{
	size_t i;

	if (k == 0)
		k = 1;
	pthread_rwlock_wrlock(&ci->lock);
	if (gen_has(&ci->cur, ci->cap, k)) {
		pthread_rwlock_unlock(&ci->lock);
		return;
	}
	if (ci->cur.n >= ci->max) {
		/* rotate: the older generation goes, at most 2 * max kept */
		free(ci->old.slot);
		ci->old = ci->cur;
		ci->cur.slot = xcalloc(ci->cap, sizeof(uint64_t));
		ci->cur.n = 0;
	}
	for (i = k & (ci->cap - 1); ci->cur.slot[i];
	     i = (i + 1) & (ci->cap - 1))
		;
	ci->cur.slot[i] = k;
	ci->cur.n++;
	pthread_rwlock_unlock(&ci->lock);
}

bool corrindex_has(const struct corrindex *ci, uint64_t k)
{
	struct corrindex *w = (struct corrindex *)ci;	/* the lock only */
	bool r;

	if (k == 0)
		k = 1;
	pthread_rwlock_rdlock(&w->lock);
	r = gen_has(&ci->cur, ci->cap, k) || gen_has(&ci->old, ci->cap, k);
	pthread_rwlock_unlock(&w->lock);
	return r;
}

size_t corrindex_count(const struct corrindex *ci)
{
	struct corrindex *w = (struct corrindex *)ci;
	size_t n;

	pthread_rwlock_rdlock(&w->lock);
	n = ci->cur.n + ci->old.n;
	pthread_rwlock_unlock(&w->lock);
	return n;
}

/* ------------------------------------------------------------------ */
/* What a domain teaches, what it is asked                              */

/* The registrable domain of domain into org, its skeleton label into
 * skel; false if there is none. */
static bool dom_parts(const struct lookalike *la, const struct dmarc_psl *psl,
		      const char *domain, char *org, size_t orgsz,
		      char *skel, size_t skelsz)
{
	char label[LOOKALIKE_DOMAIN_MAX];
	const char *dot;

	if (!domain || !*domain ||
	    dmarc_psl_org_domain(psl, domain, org, orgsz) != 0)
		return false;
	dot = strchr(org, '.');
	if (!dot || (size_t)(dot - org) >= sizeof(label))
		return false;
	memcpy(label, org, (size_t)(dot - org));
	label[dot - org] = '\0';
	if (!la || lookalike_skeleton(la, label, skel, skelsz) != 0)
		snprintf(skel, skelsz, "%s", label);
	return true;
}

/* Is skel an ASCII label whose deletions are indexed? */
static bool sub_ok(const char *skel)
{
	size_t i, n = strlen(skel);

	if (n < CORRINDEX_SUB_MIN || n > CORRINDEX_SUB_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)skel[i] >= 0x80)
			return false;
	return true;
}

/* The item hash of skel with position i deleted, at position pos. */
static uint64_t sub_hash(const struct corrindex *ci, const char *skel,
			 size_t i, size_t pos)
{
	char t[CORRINDEX_SUB_MAX + 8];
	size_t n = strlen(skel);
	int w = snprintf(t, sizeof(t), "%zu:", pos);

	memcpy(t + w, skel, i);
	memcpy(t + w + i, skel + i + 1, n - i - 1);
	return h_item(ci, "sub:", t, (size_t)w + n - 1);
}

/* Append k to keys[*n] if there is room. */
static void push(uint64_t *keys, size_t max, size_t *n, uint64_t k)
{
	if (*n < max)
		keys[(*n)++] = k;
}

size_t corrindex_learn(const struct corrindex *ci,
		       const struct lookalike *la, const struct dmarc_psl *psl,
		       const struct mime_summary *hdr, uint64_t *keys,
		       size_t max, size_t *npairs)
{
	const struct mime_addr_list *lists[2] = { &hdr->to, &hdr->cc };
	char user[ADDR_MAX], addr[ADDR_MAX], org[LOOKALIKE_DOMAIN_MAX];
	char skel[LOOKALIKE_DOMAIN_MAX], nk[KEY_MAX];
	uint64_t u;
	size_t n = 0, l, i, j, len;

	*npairs = 0;
	if (hdr->from.n == 0 || !lower_addr(hdr->from.v[0].addr, user,
					    sizeof(user)))
		return 0;
	u = h_addr(ci, user);
	for (l = 0; l < 2; l++)		/* pairs first: not stored as k: */
		for (i = 0; i < lists[l]->n; i++)
			if (lower_addr(lists[l]->v[i].addr, addr, sizeof(addr)))
				push(keys, max, &n, key2(u, h_addr(ci, addr)));
	*npairs = n;
	for (l = 0; l < 2; l++)
		for (i = 0; i < lists[l]->n; i++) {
			const struct mime_addr *a = &lists[l]->v[i];
			const char *at;

			if (!lower_addr(a->addr, addr, sizeof(addr)))
				continue;
			if (a->name[0] &&
			    dispname_key(a->name, strlen(a->name), nk,
					 sizeof(nk)) == 0 && strlen(nk) >= 2) {
				len = strlen(nk);
				push(keys, max, &n,
				     key2(u, h_item(ci, "name:", nk, len)));
				nk[len] = '\n';
				snprintf(nk + len + 1, sizeof(nk) - len - 1,
					 "%s", addr);
				push(keys, max, &n, key2(u, h_item(ci,
					"name:", nk, strlen(nk))));
			}
			at = strrchr(addr, '@');
			if (!at || !dom_parts(la, psl, at + 1, org, sizeof(org),
					      skel, sizeof(skel)))
				continue;
			push(keys, max, &n,
			     key2(u, h_item(ci, "dom:", org, strlen(org))));
			push(keys, max, &n,
			     key2(u, h_item(ci, "skel:", skel, strlen(skel))));
			if (!sub_ok(skel))
				continue;
			for (j = 0; j < strlen(skel); j++)
				push(keys, max, &n,
				     key2(u, sub_hash(ci, skel, j, j)));
		}
	return n;
}

void corrindex_users(const struct corrindex *ci, const char *const *addrs,
		     size_t n, struct corrindex_users *out)
{
	char a[ADDR_MAX];
	size_t i;

	out->n = 0;
	if (corrindex_count(ci) == 0)
		return;			/* nothing known: ask nothing */
	for (i = 0; i < n && out->n < CORRINDEX_USERS_MAX; i++)
		if (lower_addr(addrs[i], a, sizeof(a))) {
			out->u[out->n] = h_addr(ci, a);
			out->addr[out->n++] = addrs[i];
		}
}

int corrindex_known_pair(const struct corrindex *ci,
			 const struct corrindex_users *us, const char *addr)
{
	char b[ADDR_MAX];
	uint64_t c;
	size_t i;

	if (us->n == 0 || !lower_addr(addr, b, sizeof(b)))
		return -1;
	c = h_addr(ci, b);
	for (i = 0; i < us->n; i++)
		if (corrindex_has(ci, key2(us->u[i], c)))
			return (int)i;
	return -1;
}

int corrindex_name_elsewhere(const struct corrindex *ci,
			     const struct corrindex_users *us,
			     const char *name, const char *addr)
{
	char b[ADDR_MAX], nk[KEY_MAX];
	uint64_t hn, hna;
	size_t len, i;

	if (us->n == 0 || !lower_addr(addr, b, sizeof(b)) || !name ||
	    dispname_key(name, strlen(name), nk, sizeof(nk)) != 0 ||
	    (len = strlen(nk)) < 2)
		return -1;
	hn = h_item(ci, "name:", nk, len);
	nk[len] = '\n';
	snprintf(nk + len + 1, sizeof(nk) - len - 1, "%s", b);
	hna = h_item(ci, "name:", nk, strlen(nk));
	for (i = 0; i < us->n; i++)
		if (corrindex_has(ci, key2(us->u[i], hn)) &&
		    !corrindex_has(ci, key2(us->u[i], hna)))
			return (int)i;
	return -1;
}

enum corrindex_dom corrindex_domain(const struct corrindex *ci,
				    const struct lookalike *la,
				    const struct dmarc_psl *psl,
				    const struct corrindex_users *us,
				    const char *domain, size_t *who)
{
	char org[LOOKALIKE_DOMAIN_MAX], skel[LOOKALIKE_DOMAIN_MAX];
	uint64_t hd, hs, sub[3 * CORRINDEX_SUB_MAX];
	size_t i, j, n, ns = 0;

	*who = 0;
	if (us->n == 0)
		return CORRINDEX_DOM_NONE;
	if (!dom_parts(la, psl, domain, org, sizeof(org), skel, sizeof(skel)))
		return CORRINDEX_DOM_INVALID;
	hd = h_item(ci, "dom:", org, strlen(org));
	hs = h_item(ci, "skel:", skel, strlen(skel));
	if (sub_ok(skel)) {
		/* same position: one substitution; a neighbour: a swap */
		n = strlen(skel);
		for (i = 0; i < n; i++) {
			sub[ns++] = sub_hash(ci, skel, i, i);
			if (i + 1 < n)
				sub[ns++] = sub_hash(ci, skel, i, i + 1);
			if (i > 0)
				sub[ns++] = sub_hash(ci, skel, i, i - 1);
		}
	}
	for (i = 0; i < us->n; i++)
		if (corrindex_has(ci, key2(us->u[i], hd))) {
			*who = i;
			return CORRINDEX_DOM_KNOWN;
		}
	for (i = 0; i < us->n; i++) {
		*who = i;
		if (corrindex_has(ci, key2(us->u[i], hs)))
			return CORRINDEX_DOM_SKELETON;
		for (j = 0; j < ns; j++)
			if (corrindex_has(ci, key2(us->u[i], sub[j])))
				return CORRINDEX_DOM_EDIT;
	}
	*who = 0;
	return CORRINDEX_DOM_NONE;
}

const char *corrindex_dom_name(enum corrindex_dom d)
{
	switch (d) {
	case CORRINDEX_DOM_KNOWN: return "known";
	case CORRINDEX_DOM_SKELETON: return "skeleton";
	case CORRINDEX_DOM_EDIT: return "edit";
	case CORRINDEX_DOM_INVALID: return "invalid";
	default: return "none";
	}
}
