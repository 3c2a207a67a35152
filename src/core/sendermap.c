/*
 * sendermap - a login's extra senders.  See sendermap.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/sendermap.h"
#include "util/xalloc.h"

struct pair {
	char *key;		/* lowercased login or "@domain" */
	char *val;		/* lowercased address or "@domain" */
};

struct sendermap {
	struct pair *v;
	size_t n, cap;
};

/* Lowercased copy of n bytes. */
static char *lower_dup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	d[n] = '\0';
	return d;
}

/* Append one pair (takes both strings). */
static void add(struct sendermap *m, char *key, char *val)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	m->v[m->n].key = key;
	m->v[m->n].val = val;
	m->n++;
}

/* qsort/bsearch order: by key. */
static int cmp_pair(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->key,
		      ((const struct pair *)b)->key);
}

/* Is c a field separator? */
static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line (without its newline) into m; -1 with err on a bad line. */
static int parse_line(struct sendermap *m, const char *s, size_t len,
		      size_t lineno, char *err, size_t errsz)
{
	const char *p = s, *end = s + len, *tok[SENDERMAP_MAX_VALUES + 2];
	size_t tlen[SENDERMAP_MAX_VALUES + 2], nt = 0, i;

	while (p < end) {
		const char *t;

		while (p < end && is_sep(*p))
			p++;
		if (p == end || *p == '#')
			break;
		t = p;
		while (p < end && !is_sep(*p))
			p++;
		if (nt == SENDERMAP_MAX_VALUES + 1) {
			snprintf(err, errsz, "line %zu: more than %d senders",
				 lineno, SENDERMAP_MAX_VALUES);
			return -1;
		}
		tok[nt] = t;
		tlen[nt++] = (size_t)(p - t);
	}
	if (nt == 0)
		return 0;
	if (nt == 1) {
		snprintf(err, errsz, "line %zu: a login with no sender", lineno);
		return -1;
	}
	/* The login may be bare ("alice"); a sender needs one '@' and a
	 * domain after it. */
	for (i = 1; i < nt; i++) {
		const char *at = memchr(tok[i], '@', tlen[i]);
		size_t dlen = at ? (size_t)(tok[i] + tlen[i] - at - 1) : 0;

		if (!at || dlen == 0 || memchr(at + 1, '@', dlen)) {
			snprintf(err, errsz,
				 "line %zu: \"%.*s\" is not ADDRESS or @DOMAIN",
				 lineno, (int)(tlen[i] > 64 ? 64 : tlen[i]),
				 tok[i]);
			return -1;
		}
	}
	for (i = 1; i < nt; i++)
		add(m, lower_dup(tok[0], tlen[0]), lower_dup(tok[i], tlen[i]));
	return 0;
}

struct sendermap *sendermap_parse(const char *text, size_t len, char *err,
				  size_t errsz)
{
	struct sendermap *m = xcalloc(1, sizeof(*m));
	const char *p = text, *end = text + len;
	size_t lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		if (n > SENDERMAP_MAX_LINE) {
			snprintf(err, errsz, "line %zu: longer than %d bytes",
				 lineno, SENDERMAP_MAX_LINE);
			goto fail;
		}
		if (memchr(p, '\0', n)) {
			snprintf(err, errsz, "line %zu: a NUL byte", lineno);
			goto fail;
		}
		if (parse_line(m, p, n, lineno, err, errsz) != 0)
			goto fail;
		p += n + (nl != NULL);
	}
	if (m->n)
		qsort(m->v, m->n, sizeof(*m->v), cmp_pair);
	return m;
fail:
	sendermap_free(m);
	return NULL;
}

struct sendermap *sendermap_load(const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL, e[256];
	size_t len = 0, cap = 0, n;
	struct sendermap *m;

	if (!f) {
		snprintf(err, errsz, "sender_map %s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		snprintf(err, errsz, "sender_map %s: read error", path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	m = sendermap_parse(buf ? buf : "", len, e, sizeof(e));
	if (!m)
		snprintf(err, errsz, "sender_map %s: %s", path, e);
	free(buf);
	return m;
}

void sendermap_free(struct sendermap *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free(m->v[i].val);
	}
	free(m->v);
	free(m);
}

size_t sendermap_count(const struct sendermap *m)
{
	return m ? m->n : 0;
}

/* Does one of key's values own sender (lowercased) or its domain? */
static bool key_owns(const struct sendermap *m, const char *key,
		     const char *sender, const char *sdom)
{
	struct pair probe = { (char *)key, NULL }, *hit;
	size_t i, lo;

	hit = bsearch(&probe, m->v, m->n, sizeof(*m->v), cmp_pair);
	if (!hit)
		return false;
	lo = (size_t)(hit - m->v);
	while (lo > 0 && strcmp(m->v[lo - 1].key, key) == 0)
		lo--;
	for (i = lo; i < m->n && strcmp(m->v[i].key, key) == 0; i++) {
		const char *v = m->v[i].val;

		if (v[0] == '@' ? strcmp(v + 1, sdom) == 0 :
		    strcmp(v, sender) == 0)
			return true;
	}
	return false;
}

bool sendermap_owns(const struct sendermap *m, const char *login,
		    const char *sender)
{
	char l[320], s[320];
	const char *at, *sat;
	size_t i;

	if (!m || !m->n || !login || !sender)
		return false;
	if (strlen(login) >= sizeof(l) || strlen(sender) >= sizeof(s))
		return false;
	for (i = 0; login[i]; i++)
		l[i] = (char)((login[i] >= 'A' && login[i] <= 'Z') ?
			      login[i] + 32 : login[i]);
	l[i] = '\0';
	for (i = 0; sender[i]; i++)
		s[i] = (char)((sender[i] >= 'A' && sender[i] <= 'Z') ?
			      sender[i] + 32 : sender[i]);
	s[i] = '\0';
	sat = strrchr(s, '@');
	if (!sat)
		return false;
	if (key_owns(m, l, s, sat + 1))
		return true;
	at = strrchr(l, '@');
	return at && key_owns(m, at, s, sat + 1);
}
