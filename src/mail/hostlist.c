/*
 * hostlist - named lists of hosts for the content checks; see hostlist.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/hostlist.h"
#include "util/xalloc.h"

/* One entry: "host" or "host/path" in spec, the host its first hlen. */
struct entry {
	unsigned char kind;
	unsigned short hlen;
	char spec[HOSTLIST_HOST_MAX + HOSTLIST_PATH_MAX + 1];
};

struct hostlist {
	struct entry *e;
	size_t n, cap;
};

static const char *const kind_names[HOSTLIST_NKINDS] = {
	"shortener", "hosting", "freemail", "tld",
};

struct hostlist *hostlist_new(void)
{
	return xcalloc(1, sizeof(struct hostlist));
}

void hostlist_free(struct hostlist *hl)
{
	if (hl == NULL)
		return;
	free(hl->e);
	free(hl);
}

size_t hostlist_count(const struct hostlist *hl)
{
	return hl ? hl->n : 0;
}

const char *hostlist_kind_name(enum hostlist_kind k)
{
	return (unsigned)k < HOSTLIST_NKINDS ? kind_names[k] : "?";
}

/* Order: kind, then host bytes, then the shorter host first. */
static int cmp_key(unsigned kind, const char *h, size_t hn,
		   const struct entry *b)
{
	size_t m = hn < b->hlen ? hn : b->hlen;
	int c;

	if (kind != b->kind)
		return kind < b->kind ? -1 : 1;
	c = memcmp(h, b->spec, m);
	if (c != 0)
		return c;
	return hn == b->hlen ? 0 : hn < b->hlen ? -1 : 1;
}

/* qsort's comparison: by key, then by spec (stable across loads). */
static int cmp_entry(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	int c = cmp_key(a->kind, a->spec, a->hlen, b);

	return c != 0 ? c : strcmp(a->spec, b->spec);
}

/* True for a byte a host in the list may hold (A-labels, lowercased). */
static bool is_host_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_';
}

/* The kind named s[0..n), or -1. */
static int kind_of(const char *s, size_t n)
{
	int k;

	for (k = 0; k < HOSTLIST_NKINDS; k++)
		if (strlen(kind_names[k]) == n &&
		    strncasecmp(s, kind_names[k], n) == 0)
			return k;
	return -1;
}

/* Parse one line (no newline) into *e: 0, 1 for a blank or comment line,
 * -1 for a bad one. */
static int parse_line(const char *p, size_t n, struct entry *e)
{
	size_t i = 0, ks, kn, hs, hn, ps = 0, pn = 0;
	int kind;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	if (i == n || p[i] == '#')
		return 1;
	for (ks = i; i < n && p[i] != ' ' && p[i] != '\t'; i++)
		;
	kn = i - ks;
	if ((kind = kind_of(p + ks, kn)) < 0)
		return -1;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	for (hs = i; i < n && p[i] != '/' && p[i] != ' ' && p[i] != '\t' &&
		     p[i] != '\r' && p[i] != '#'; i++)
		;
	hn = i - hs;
	if (i < n && p[i] == '/') {
		for (ps = i; i < n && p[i] > ' ' && p[i] < 0x7f; i++)
			;
		pn = i - ps;
	}
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	if (i < n && p[i] != '#')
		return -1;		/* something after the entry */
	if (hn == 0 || hn >= HOSTLIST_HOST_MAX || pn >= HOSTLIST_PATH_MAX ||
	    p[hs] == '.' || p[hs + hn - 1] == '.')
		return -1;
	memset(e, 0, sizeof(*e));
	e->kind = (unsigned char)kind;
	e->hlen = (unsigned short)hn;
	for (i = 0; i < hn; i++) {
		char c = p[hs + i];

		c = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		if (!is_host_byte(c))
			return -1;
		e->spec[i] = c;
	}
	memcpy(e->spec + hn, p + ps, pn);
	return 0;
}

int hostlist_load(struct hostlist *hl, const char *text, size_t n,
		  size_t *bad_line)
{
	size_t off = 0, line = 0;
	int r = 0;

	while (off < n) {
		const char *nl = memchr(text + off, '\n', n - off);
		size_t len = nl ? (size_t)(nl - (text + off)) : n - off;
		struct entry e;
		int pr;

		line++;
		pr = parse_line(text + off, len, &e);
		off += len + (nl ? 1 : 0);
		if (pr == 1)
			continue;
		if (pr < 0 || hl->n == HOSTLIST_MAX) {
			r = pr < 0 ? HOSTLIST_E_SYNTAX : HOSTLIST_E_FULL;
			if (bad_line)
				*bad_line = line;
			break;
		}
		if (hl->n == hl->cap) {
			hl->cap = hl->cap ? hl->cap * 2 : 64;
			hl->e = xrealloc(hl->e, hl->cap * sizeof(*hl->e));
		}
		hl->e[hl->n++] = e;
	}
	if (hl->n > 1)
		qsort(hl->e, hl->n, sizeof(*hl->e), cmp_entry);
	return r;
}

/* The first entry whose key is not below (kind, h[0..hn)). */
static size_t lower_bound(const struct hostlist *hl, unsigned kind,
			  const char *h, size_t hn)
{
	size_t lo = 0, hi = hl->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_key(kind, h, hn, &hl->e[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* True if the entry's path (after its host) is a prefix of path. */
static bool path_ok(const struct entry *e, const char *path)
{
	const char *ep = e->spec + e->hlen;
	size_t en = strlen(ep);

	if (en == 0)
		return true;
	return path != NULL && strncasecmp(path, ep, en) == 0;
}

const char *hostlist_match(const struct hostlist *hl, enum hostlist_kind k,
			   const char *host, const char *path)
{
	const char *s = host;
	unsigned labels = 0;

	if (hl == NULL || hl->n == 0 || host == NULL || !host[0])
		return NULL;
	/* the host itself, then each parent domain */
	while (s != NULL && *s && labels++ < HOSTLIST_LABELS_MAX) {
		size_t sn = strlen(s), i;

		if (sn < HOSTLIST_HOST_MAX)
			for (i = lower_bound(hl, (unsigned)k, s, sn);
			     i < hl->n &&
			     cmp_key((unsigned)k, s, sn, &hl->e[i]) == 0; i++)
				if (path_ok(&hl->e[i], path))
					return hl->e[i].spec;
		s = strchr(s, '.');
		if (s != NULL)
			s++;
	}
	return NULL;
}
