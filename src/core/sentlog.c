/*
 * sentlog - the sent Message-ID log and its memory index (see sentlog.h
 * for the record format, the bounds and the threads).
 *
 * The index: ring[] holds the records in the order they were written
 * (head the oldest, count slots in use, a replaced record leaves a dead
 * slot behind until the head passes it); tab[] is an open-addressing
 * table with linear probing on the Message-ID hash holding ring index + 1
 * (0: empty), deletions by backward shift so no tombstones build up.
 * Every change happens on the loop thread under the write lock; workers
 * hash outside the lock and probe under the read lock.
 */
#include "core/sentlog.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "mail/dkim.h"
#include "mail/mime.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define HEX 32			/* hex digits of a hash in the store */
#define HASHES (SENTLOG_RCPT_MAX + SENTLOG_DOM_MAX)
#define PARENTS 8		/* parent domains of a From tried */

/* One record in memory (56 bytes on LP64). */
struct entry {
	uint8_t id[16];		/* H(message-id), 128 bits */
	int64_t t;
	uint64_t acct, from;	/* 0: none */
	uint64_t *h;		/* nrcpt address hashes, then ndom domains */
	uint8_t nrcpt, ndom;
	bool cut, live;
};

/* The per-record cost sentlog.h states. */
_Static_assert(sizeof(struct entry) <= 56, "struct entry grew");

struct sentlog {
	pthread_rwlock_t lock;	/* everything below but max, ttl, st */
	long max;
	int64_t ttl;
	struct store *st;	/* loop thread */
	char salt[65];
	int64_t since;
	struct entry *ring;	/* max slots */
	size_t head, count;
	uint32_t *tab;		/* mask + 1 slots */
	size_t mask;
	size_t live;
};

struct sentlog_rec {
	struct entry e;
	uint64_t h[HASHES];
	char key[HEX + 1];
	char *value;
};

/* ------------------------------------------------------------------ */
/* Hashing                                                              */

void sentlog_hash(const char *salt, const char *item, size_t n,
		  char out[65])
{
	unsigned char md[32];
	unsigned len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	/* the digest fetched once: EVP_sha256() is fetched again at every
	 * init (a third of this function) */
	EVP_DigestInit_ex(c, dkim_sha256(), NULL);
	EVP_DigestUpdate(c, salt, strlen(salt));
	EVP_DigestUpdate(c, ":", 1);
	EVP_DigestUpdate(c, item, n);
	EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	/* not snprintf: 32 calls were a fifth of a message's thread check */
	buf_hex(md, 32, out);
}

/* Value of one hex digit, or -1. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The first n bytes of hex text into out; false if not hex. */
static bool unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int a = hexval(hex[2 * i]), b = a < 0 ? -1 : hexval(hex[2 * i + 1]);

		if (b < 0)
			return false;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return true;
}

/* The first 64 bits of hex text (0 if not hex: "none"). */
static uint64_t h64(const char *hex)
{
	uint8_t b[8];
	uint64_t v = 0;
	int i;

	if (!unhex(hex, b, 8))
		return 0;
	for (i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/* H(lower-cased s) of the salt given, as hex. */
static void hash_lower(const char *salt, const char *s, char out[65])
{
	char tmp[1024];
	size_t i, n = strlen(s);

	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	for (i = 0; i < n; i++)
		tmp[i] = (char)tolower((unsigned char)s[i]);
	sentlog_hash(salt, tmp, n, out);
}

/* A copy of the salt, taken under the lock. */
static void salt_copy(const struct sentlog *sl, char out[65])
{
	pthread_rwlock_rdlock((pthread_rwlock_t *)&sl->lock);
	memcpy(out, sl->salt, 65);
	pthread_rwlock_unlock((pthread_rwlock_t *)&sl->lock);
}

/* ------------------------------------------------------------------ */
/* The index (write lock held for every change)                         */

/* The table slot where id's probe starts. */
static size_t home(const struct sentlog *sl, const uint8_t *id)
{
	uint64_t v;

	memcpy(&v, id, sizeof(v));
	return (size_t)v & sl->mask;
}

/* The table slot holding id, or SIZE_MAX. */
static size_t tab_find(const struct sentlog *sl, const uint8_t *id)
{
	size_t j = home(sl, id);

	while (sl->tab[j]) {
		if (memcmp(sl->ring[sl->tab[j] - 1].id, id, 16) == 0)
			return j;
		j = (j + 1) & sl->mask;
	}
	return SIZE_MAX;
}

/* Empty table slot i, shifting back the entries probing past it. */
static void tab_del(struct sentlog *sl, size_t i)
{
	size_t j = i, k;

	sl->tab[i] = 0;
	for (;;) {
		j = (j + 1) & sl->mask;
		if (!sl->tab[j])
			return;
		k = home(sl, sl->ring[sl->tab[j] - 1].id);
		/* Move j back to i unless its home lies in (i, j]. */
		if ((i <= j) ? (k <= i || k > j) : (k <= i && k > j)) {
			sl->tab[i] = sl->tab[j];
			sl->tab[j] = 0;
			i = j;
		}
	}
}

/* Take a live entry out of the table and free its hashes. */
static void entry_kill(struct sentlog *sl, struct entry *e)
{
	size_t j = tab_find(sl, e->id);

	if (j != SIZE_MAX)
		tab_del(sl, j);
	free(e->h);
	e->h = NULL;
	e->live = false;
	sl->live--;
}

/* Drop the oldest slot; its record leaves the store too. */
static void evict_head(struct sentlog *sl)
{
	struct entry *e = &sl->ring[sl->head];
	char key[HEX + 1];

	if (e->live) {
		buf_hex(e->id, 16, key);
		entry_kill(sl, e);
		if (sl->st)
			store_del(sl->st, SENTLOG_NS, key, NULL, NULL);
	}
	sl->head = (sl->head + 1) % (size_t)sl->max;
	sl->count--;
}

/* Add e (its hashes now owned by the index) as the newest record. */
static void index_add(struct sentlog *sl, const struct entry *e,
		      int64_t now)
{
	size_t j = tab_find(sl, e->id), slot;

	if (j != SIZE_MAX)	/* the same Message-ID again: the new one */
		entry_kill(sl, &sl->ring[sl->tab[j] - 1]);
	/* Dead and expired slots at the head go first, then the oldest.
	 * Expired rows are deleted too: the store only hides them. */
	while (sl->count > 0 &&
	       (!sl->ring[sl->head].live ||
		sl->ring[sl->head].t + sl->ttl <= now))
		evict_head(sl);
	if (sl->count == (size_t)sl->max)
		evict_head(sl);
	slot = (sl->head + sl->count++) % (size_t)sl->max;
	sl->ring[slot] = *e;
	sl->ring[slot].live = true;
	j = home(sl, e->id);
	while (sl->tab[j])
		j = (j + 1) & sl->mask;
	sl->tab[j] = (uint32_t)(slot + 1);
	sl->live++;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */

struct sentlog *sentlog_new(long max, int64_t ttl)
{
	struct sentlog *sl = xcalloc(1, sizeof(*sl));
	size_t n = 4;

	pthread_rwlock_init(&sl->lock, NULL);
	sl->max = max > 0 ? max : 0;
	sl->ttl = ttl;
	snprintf(sl->salt, sizeof(sl->salt), "%064d", 0);
	if (sl->max) {
		/* calloc of a large block maps zero pages: a slot costs
		 * memory only once a record is written to it. */
		sl->ring = xcalloc((size_t)sl->max, sizeof(*sl->ring));
		while (n < 2 * (size_t)sl->max)
			n <<= 1;
		sl->tab = xcalloc(n, sizeof(*sl->tab));
		sl->mask = n - 1;
	}
	return sl;
}

void sentlog_free(struct sentlog *sl)
{
	size_t i;

	if (!sl)
		return;
	for (i = 0; i < (size_t)sl->max; i++)
		free(sl->ring[i].h);
	free(sl->ring);
	free(sl->tab);
	pthread_rwlock_destroy(&sl->lock);
	free(sl);
}

void sentlog_set_salt(struct sentlog *sl, const char *salt)
{
	pthread_rwlock_wrlock(&sl->lock);
	snprintf(sl->salt, sizeof(sl->salt), "%s", salt);
	pthread_rwlock_unlock(&sl->lock);
}

/* ------------------------------------------------------------------ */
/* Loading                                                              */

/* Records read at attach, before they go into the index. */
struct load {
	struct sentlog *sl;
	int64_t now;
	struct entry *v;
	size_t n, cap, bad;
	bool since;
};

/* The 32-hex string member name of o into *h (absent or "": 0). */
static bool get_hash(json_t *o, const char *name, uint64_t *h)
{
	json_t *v = json_object_get(o, name);
	const char *s;

	*h = 0;
	if (!v)
		return true;
	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	if (!s[0])
		return true;
	if (strlen(s) != HEX || !(*h = h64(s)))
		return false;
	return true;
}

/* The hashes of array member name into h[0..max); count in *n. */
static bool get_hashes(json_t *o, const char *name, uint64_t *h,
		       size_t max, uint8_t *n)
{
	json_t *a = json_object_get(o, name), *v;
	size_t i;

	*n = 0;
	if (!a)
		return true;
	if (!json_is_array(a) || json_array_size(a) > max)
		return false;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != HEX ||
		    !(h[i] = h64(json_string_value(v))))
			return false;
	}
	*n = (uint8_t)json_array_size(a);
	return true;
}

/* One stored record into e; false if it is not one. */
static bool parse_rec(const char *key, const char *value, struct entry *e)
{
	uint64_t h[HASHES];
	json_t *o, *t;
	bool good;

	memset(e, 0, sizeof(*e));
	if (strlen(key) != HEX || !unhex(key, e->id, 16))
		return false;
	if (!(o = json_loads(value, 0, NULL)))
		return false;
	t = json_object_get(o, "t");
	good = json_is_object(o) && json_is_integer(t) &&
	       json_integer_value(t) > 0 &&
	       get_hash(o, "acct", &e->acct) && get_hash(o, "from", &e->from) &&
	       get_hashes(o, "rcpt", h, SENTLOG_RCPT_MAX, &e->nrcpt) &&
	       get_hashes(o, "dom", h + SENTLOG_RCPT_MAX, SENTLOG_DOM_MAX,
			  &e->ndom);
	if (good) {
		e->t = json_integer_value(t);
		e->cut = json_is_true(json_object_get(o, "cut"));
		e->h = xcalloc((size_t)e->nrcpt + e->ndom + 1, sizeof(*e->h));
		memcpy(e->h, h, e->nrcpt * sizeof(*h));
		memcpy(e->h + e->nrcpt, h + SENTLOG_RCPT_MAX,
		       e->ndom * sizeof(*h));
	}
	json_decref(o);
	return good;
}

/* Order records oldest first. */
static int by_time(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return memcmp(x->id, y->id, 16);
}

/* All rows read: the newest max into the index, the rest deleted. */
static void load_end(struct load *l, int result)
{
	struct sentlog *sl = l->sl;
	size_t i, keep = l->n;
	char q[32];

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), by_time);
	pthread_rwlock_wrlock(&sl->lock);
	for (i = 0; i < l->n; i++) {
		if (l->n - i > (size_t)sl->max) {	/* over the bound */
			char key[HEX + 1];

			buf_hex(l->v[i].id, 16, key);
			store_del(sl->st, SENTLOG_NS, key, NULL, NULL);
			free(l->v[i].h);
			keep--;
			continue;
		}
		index_add(sl, &l->v[i], l->now);
	}
	if (!l->since)
		sl->since = l->now;
	pthread_rwlock_unlock(&sl->lock);
	if (!l->since && result == STORE_OK) {
		snprintf(q, sizeof(q), "%" PRId64, l->now);
		store_put(sl->st, SENTLOG_NS, "since", q, 0, NULL, NULL);
	}
	log_msg(result == STORE_OK ? LOG_L_INFO : LOG_L_WARN,
		"event=sent_log_loaded records=%zu dropped=%zu bad=%zu "
		"result=%s", keep, l->n - keep, l->bad,
		store_result_str(result));
	free(l->v);
	free(l);
}

/* store_scan row: one record (or "since"), then the end. */
static void load_row(void *arg, int result, const char *key,
		     const char *value, int64_t ts)
{
	struct load *l = arg;
	struct entry e;
	char *end;
	long long v;

	(void)ts;
	if (!key) {
		load_end(l, result);
		return;
	}
	if (strcmp(key, "since") == 0) {
		v = strtoll(value, &end, 10);
		if (end != value && !*end && v > 0) {
			pthread_rwlock_wrlock(&l->sl->lock);
			l->sl->since = v;
			pthread_rwlock_unlock(&l->sl->lock);
			l->since = true;
		}
		return;
	}
	if (!parse_rec(key, value, &e)) {
		l->bad++;	/* skipped, never trusted; it expires */
		return;
	}
	if (e.t + l->sl->ttl <= l->now) {
		free(e.h);
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = e;
}

void sentlog_attach(struct sentlog *sl, struct store *st, int64_t now)
{
	struct load *l;

	sl->st = st;
	if (!sl->max)
		return;
	l = xcalloc(1, sizeof(*l));
	l->sl = sl;
	l->now = now;
	store_scan(st, SENTLOG_NS, "", load_row, l);
}

/* ------------------------------------------------------------------ */
/* Records                                                              */

/* Is h among the first n of v? */
static bool has(const uint64_t *v, size_t n, uint64_t h)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == h)
			return true;
	return false;
}

/* Append ,"HEX" (or "HEX" first) to b. */
static void put_hex(struct buf *b, const char *hex, bool first)
{
	buf_printf(b, "%s\"%.*s\"", first ? "" : ",", HEX, hex);
}

struct sentlog_rec *sentlog_rec_new(struct sentlog *sl, int64_t now,
				    const char *account, const char *msgid,
				    const char *from, char *const *rcpt,
				    size_t n)
{
	char salt[65], hx[65], hacct[65] = "", hfrom[65] = "";
	char hr[SENTLOG_RCPT_MAX][65], hd[SENTLOG_DOM_MAX][65];
	struct sentlog_rec *r;
	struct buf v;
	char *id;
	size_t i, k;

	if (!sl->max || !msgid || !(id = mime_msgid(msgid)))
		return NULL;
	if (!id[0]) {
		free(id);
		return NULL;
	}
	salt_copy(sl, salt);
	r = xcalloc(1, sizeof(*r));
	r->e.t = now;
	sentlog_hash(salt, id, strlen(id), hx);
	free(id);
	memcpy(r->key, hx, HEX);
	unhex(hx, r->e.id, 16);
	if (account && account[0]) {
		sentlog_hash(salt, account, strlen(account), hacct);
		r->e.acct = h64(hacct);
	}
	if (from && from[0]) {
		hash_lower(salt, from, hfrom);
		r->e.from = h64(hfrom);
	}
	for (i = 0; i < n; i++) {
		const char *at = strrchr(rcpt[i], '@');
		uint64_t a;

		hash_lower(salt, rcpt[i], hx);
		if (has(r->h, r->e.nrcpt, a = h64(hx)))
			continue;	/* To and Cc may repeat */
		if (r->e.nrcpt == SENTLOG_RCPT_MAX) {
			r->e.cut = true;
			continue;
		}
		memcpy(hr[r->e.nrcpt], hx, 65);
		r->h[r->e.nrcpt++] = a;
		if (!at || !at[1])
			continue;
		hash_lower(salt, at + 1, hx);
		if (has(r->h + SENTLOG_RCPT_MAX, r->e.ndom, a = h64(hx)))
			continue;
		if (r->e.ndom == SENTLOG_DOM_MAX) {
			r->e.cut = true;
			continue;
		}
		memcpy(hd[r->e.ndom], hx, 65);
		r->h[SENTLOG_RCPT_MAX + r->e.ndom++] = a;
	}
	buf_init(&v, 4096);
	buf_printf(&v, "{\"t\":%" PRId64 ",\"acct\":\"%.*s\",\"from\":\"%.*s\","
		   "\"rcpt\":[", now, HEX, hacct, HEX, hfrom);
	for (k = 0; k < r->e.nrcpt; k++)
		put_hex(&v, hr[k], k == 0);
	buf_puts(&v, "],\"dom\":[");
	for (k = 0; k < r->e.ndom; k++)
		put_hex(&v, hd[k], k == 0);
	buf_printf(&v, "]%s}", r->e.cut ? ",\"cut\":true" : "");
	r->value = buf_steal(&v);
	return r;
}

void sentlog_rec_free(struct sentlog_rec *rec)
{
	if (!rec)
		return;
	free(rec->value);
	free(rec);
}

void sentlog_rec_write(struct sentlog *sl, struct sentlog_rec *rec)
{
	struct entry e = rec->e;

	if (sl->st)
		store_put(sl->st, SENTLOG_NS, rec->key, rec->value,
			  rec->e.t + sl->ttl, NULL, NULL);
	e.h = xcalloc((size_t)e.nrcpt + e.ndom + 1, sizeof(*e.h));
	memcpy(e.h, rec->h, e.nrcpt * sizeof(*e.h));
	memcpy(e.h + e.nrcpt, rec->h + SENTLOG_RCPT_MAX,
	       e.ndom * sizeof(*e.h));
	pthread_rwlock_wrlock(&sl->lock);
	index_add(sl, &e, rec->e.t);
	pthread_rwlock_unlock(&sl->lock);
	sentlog_rec_free(rec);
}

/* ------------------------------------------------------------------ */
/* Lookups                                                              */

/* The hashes a query needs, made outside the lock. */
struct qhash {
	uint8_t id[SENTLOG_QUERY_MAX][16];
	size_t n;
	uint64_t addr, acct;
	uint64_t dom[PARENTS];	/* addr's domain, then its parents */
	size_t ndom;
	uint64_t cc[SENTLOG_CC_MAX];
	size_t ncc;
};

/* Hash q's values with salt into *h. */
static void query_hash(const struct sentlog_query *q, const char *salt,
		       struct qhash *h)
{
	char hx[65];
	const char *at, *d;
	size_t i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < q->n_ids && h->n < SENTLOG_QUERY_MAX; i++) {
		if (!q->ids[i] || !q->ids[i][0])
			continue;
		sentlog_hash(salt, q->ids[i], strlen(q->ids[i]), hx);
		unhex(hx, h->id[h->n++], 16);
	}
	if (q->account && q->account[0]) {
		sentlog_hash(salt, q->account, strlen(q->account), hx);
		h->acct = h64(hx);
	}
	for (i = 0; q->cc && i < q->n_cc && h->ncc < SENTLOG_CC_MAX; i++) {
		if (!q->cc[i] || !q->cc[i][0])
			continue;
		hash_lower(salt, q->cc[i], hx);
		h->cc[h->ncc++] = h64(hx);
	}
	if (!q->addr || !q->addr[0])
		return;
	hash_lower(salt, q->addr, hx);
	h->addr = h64(hx);
	at = strrchr(q->addr, '@');
	/* The domain and its parents while two labels remain: a reply
	 * from mail.partner.example counts for partner.example. */
	for (d = at ? at + 1 : NULL; d && *d && strchr(d, '.') &&
				     h->ndom < PARENTS;
	     d = strchr(d, '.') + 1) {
		hash_lower(salt, d, hx);
		h->dom[h->ndom++] = h64(hx);
	}
}

int sentlog_match(const struct sentlog *sl, const struct sentlog_query *q,
		  struct sentlog_match *m)
{
	static const struct qhash zero;
	struct qhash *h;
	char salt[65];
	size_t i, j, k;

	memset(m, 0, sizeof(*m));
	if (!sl || !sl->max)
		return SENTLOG_E_OFF;
	h = xmalloc(sizeof(*h));	/* ~1.2 KB: keep worker stacks small */
	*h = zero;
	salt_copy(sl, salt);
	query_hash(q, salt, h);
	pthread_rwlock_rdlock((pthread_rwlock_t *)&sl->lock);
	for (i = 0; i < h->n; i++) {
		size_t t = tab_find(sl, h->id[i]);
		const struct entry *e;

		if (t == SIZE_MAX)
			continue;
		e = &sl->ring[sl->tab[t] - 1];
		if (e->t + sl->ttl <= q->now)
			continue;	/* expired, not yet evicted */
		if (m->matched++ == 0)
			m->first = i;
		if (e->t > m->newest)
			m->newest = e->t;
		m->cut |= e->cut;
		m->account_sent |= h->acct && e->acct == h->acct;
		for (k = 0; k < h->ncc; k++)
			m->cc_rcpt |= h->cc[k] != e->from &&
				      has(e->h, e->nrcpt, h->cc[k]);
		if (!h->addr)
			continue;
		m->addr_sent |= e->from == h->addr;
		m->addr_rcpt |= has(e->h, e->nrcpt, h->addr);
		for (k = 0; k < h->ndom; k++)
			m->domain_rcpt |= has(e->h + e->nrcpt, e->ndom,
					      h->dom[k]);
	}
	pthread_rwlock_unlock((pthread_rwlock_t *)&sl->lock);
	/* m->first indexes the hashed ids; map it back to q->ids. */
	for (i = 0, j = 0; m->matched && i < q->n_ids; i++) {
		if (!q->ids[i] || !q->ids[i][0])
			continue;
		if (j++ == m->first) {
			m->first = i;
			break;
		}
	}
	free(h);
	return 0;
}

int64_t sentlog_since(const struct sentlog *sl)
{
	int64_t v;

	if (!sl || !sl->max)
		return 0;
	pthread_rwlock_rdlock((pthread_rwlock_t *)&sl->lock);
	v = sl->since;
	pthread_rwlock_unlock((pthread_rwlock_t *)&sl->lock);
	return v;
}

size_t sentlog_count(const struct sentlog *sl)
{
	size_t v;

	if (!sl || !sl->max)
		return 0;
	pthread_rwlock_rdlock((pthread_rwlock_t *)&sl->lock);
	v = sl->live;
	pthread_rwlock_unlock((pthread_rwlock_t *)&sl->lock);
	return v;
}
