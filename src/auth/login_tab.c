/*
 * login_tab - the login engine's compact data structures.
 *
 * Bounded LRU hash tables (chained, doubling at load 1, dropping the least
 * recently touched entry when full), two-bucket sliding windows, sets of
 * distinct items and address/CIDR helpers.  See login-internal.h.
 *
 * Distinct sets are exact for the first LG_EXACT_MAX items (each with its
 * own counters and flags, expiring one window after it was last seen) and
 * then count further items in a linear-counting sketch of 1,024 bits per
 * window bucket, which estimates up to several thousand items within a few
 * percent and saturates near 7,000.  Per-item counters use a period of one
 * window that halves (or, after two idle windows, resets) when it ends: an
 * approximation of a sliding window that never forgets a slow attacker
 * completely.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login-internal.h"
#include "util/log.h"
#include "util/xalloc.h"

uint64_t lg_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	/* Finalizer (MurmurHash3 fmix64): tables index by the low bits. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h ? h : 1;
}

uint64_t lg_hash_str(const char *s)
{
	return lg_hash(s, strlen(s));
}

void lg_tab_init(struct lg_tab *t, size_t max, lg_drop_fn *drop, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->nb = 64;
	t->b = xcalloc(t->nb, sizeof(*t->b));
	t->max = max < 16 ? 16 : max;
	t->lru.next = t->lru.prev = &t->lru;
	t->drop = drop;
	t->arg = arg;
}

void lg_tab_deinit(struct lg_tab *t)
{
	struct lg_node *n, *next;

	if (!t->b)
		return;
	for (n = t->lru.next; n != &t->lru; n = next) {
		next = n->next;
		t->drop(n, t->arg);
	}
	free(t->b);
	t->b = NULL;
	t->n = 0;
}

struct lg_node *lg_tab_find(struct lg_tab *t, uint64_t h, lg_eq_fn *eq,
			    const void *key)
{
	struct lg_node *n;

	for (n = t->b[h & (t->nb - 1)]; n; n = n->hnext)
		if (n->h == h && (!eq || eq(n, key)))
			return n;
	return NULL;
}

/* Unlink n from the LRU list. */
static void lru_unlink(struct lg_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

/* Put n at the head (most recent) of the LRU list. */
static void lru_push(struct lg_tab *t, struct lg_node *n)
{
	n->next = t->lru.next;
	n->prev = &t->lru;
	t->lru.next->prev = n;
	t->lru.next = n;
}

/* Double the bucket array. */
static void tab_grow(struct lg_tab *t)
{
	size_t nnb = t->nb * 2, i;
	struct lg_node **nb = xcalloc(nnb, sizeof(*nb));

	for (i = 0; i < t->nb; i++) {
		struct lg_node *n = t->b[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			n->hnext = nb[n->h & (nnb - 1)];
			nb[n->h & (nnb - 1)] = n;
		}
	}
	free(t->b);
	t->b = nb;
	t->nb = nnb;
}

void lg_tab_remove(struct lg_tab *t, struct lg_node *n)
{
	struct lg_node **pp = &t->b[n->h & (t->nb - 1)];

	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	lru_unlink(n);
	t->n--;
}

void lg_tab_insert(struct lg_tab *t, struct lg_node *n)
{
	size_t i;

	while (t->n >= t->max) {
		struct lg_node *old = t->lru.prev;

		lg_tab_remove(t, old);
		t->evicted++;
		t->drop(old, t->arg);
	}
	if (t->n >= t->nb)
		tab_grow(t);
	i = n->h & (t->nb - 1);
	n->hnext = t->b[i];
	t->b[i] = n;
	lru_push(t, n);
	t->n++;
}

void lg_tab_touch(struct lg_tab *t, struct lg_node *n)
{
	if (t->lru.next == n)
		return;
	lru_unlink(n);
	lru_push(t, n);
}

void lg_tab_foreach(struct lg_tab *t,
		    void (*fn)(struct lg_node *n, void *arg), void *arg)
{
	struct lg_node *n, *next;

	for (n = t->lru.next; n != &t->lru; n = next) {
		next = n->next;
		fn(n, arg);
	}
}

/* Is entry d still within the window at now? */
static bool dent_live(const struct lg_dent *d, uint32_t now, uint32_t window)
{
	return now - d->last < window;
}

/* Start a new counting period for d if its current one is over. */
static void dent_period(struct lg_dent *d, uint32_t now, uint32_t window)
{
	if (now - d->first < window)
		return;
	if (now - d->first < 2 * window) {
		d->n /= 2;
		d->fails /= 2;
	} else {
		d->n = 0;
		d->fails = 0;
		d->aux = 0;
	}
	d->first = now;
}

/* Move the sketch's buckets forward to the bucket of now. */
static void sketch_roll(struct lg_sketch *sk, uint32_t idx)
{
	if (sk->idx == idx)
		return;
	if (sk->idx + 1 == idx)
		memcpy(sk->bits[1], sk->bits[0], sizeof(sk->bits[0]));
	else
		memset(sk->bits[1], 0, sizeof(sk->bits[1]));
	memset(sk->bits[0], 0, sizeof(sk->bits[0]));
	sk->idx = idx;
}

/* Count h in the sketch; true if its bit was not yet set. */
static bool sketch_add(struct lg_dset *s, uint64_t h, uint32_t now,
		       uint32_t window, bool is_new)
{
	struct lg_sketch *sk = s->sk;
	unsigned bit = (unsigned)((h >> 20) % (LG_SKETCH_WORDS * 64));
	uint64_t m = 1ull << (bit % 64);
	unsigned w = bit / 64;
	bool fresh;

	if (!sk) {
		sk = s->sk = xcalloc(1, sizeof(*sk));
		sk->idx = now / window;
	}
	sketch_roll(sk, now / window);
	fresh = !(sk->bits[0][0][w] & m) && !(sk->bits[1][0][w] & m);
	sk->bits[0][0][w] |= m;
	if (is_new && fresh)
		sk->bits[0][1][w] |= m;
	return fresh;
}

struct lg_dent *lg_dset_touch(struct lg_dset *s, uint64_t h, uint32_t now,
			      uint32_t window, uint8_t fresh_flags,
			      bool *fresh)
{
	struct lg_dent *d = NULL;
	uint16_t i;

	for (i = 0; i < s->n; i++) {
		if (s->e[i].h == h) {
			d = &s->e[i];
			break;
		}
	}
	if (d && dent_live(d, now, window)) {
		dent_period(d, now, window);
		d->last = now;
		*fresh = false;
		return d;
	}
	if (!d) {
		for (i = 0; i < s->n; i++)
			if (!dent_live(&s->e[i], now, window))
				break;
		if (i < s->n) {
			d = &s->e[i];
		} else if (s->n < LG_EXACT_MAX) {
			if (s->n == s->cap) {
				s->cap = s->cap ? (uint16_t)(s->cap * 2) : 2;
				if (s->cap > LG_EXACT_MAX)
					s->cap = LG_EXACT_MAX;
				s->e = xrealloc(s->e, s->cap * sizeof(*s->e));
			}
			d = &s->e[s->n++];
		} else {
			*fresh = sketch_add(s, h, now, window,
					    fresh_flags & LG_DENT_NEW);
			return NULL;
		}
	}
	memset(d, 0, sizeof(*d));
	d->h = h;
	d->first = d->last = now;
	d->flags = fresh_flags;
	*fresh = true;
	return d;
}

struct lg_dent *lg_dset_find(const struct lg_dset *s, uint64_t h,
			     uint32_t now, uint32_t window)
{
	uint16_t i;

	for (i = 0; i < s->n; i++)
		if (s->e[i].h == h && dent_live(&s->e[i], now, window))
			return &s->e[i];
	return NULL;
}

/* Linear-counting estimate of the items set in the union of a and b. */
static uint32_t sketch_est(const uint64_t *a, const uint64_t *b)
{
	const double m = LG_SKETCH_WORDS * 64;
	int set = 0, i;

	for (i = 0; i < LG_SKETCH_WORDS; i++)
		set += __builtin_popcountll(a[i] | (b ? b[i] : 0));
	if (set == 0)
		return 0;
	if (set >= (int)m)
		set = (int)m - 1;	/* saturated: about m ln m */
	return (uint32_t)(-m * log((m - set) / m) + 0.5);
}

void lg_dset_count(const struct lg_dset *s, uint32_t now, uint32_t window,
		   uint32_t *all, uint32_t *fresh_new)
{
	uint32_t a = 0, nw = 0, idx = now / window;
	uint16_t i;

	for (i = 0; i < s->n; i++) {
		if (!dent_live(&s->e[i], now, window))
			continue;
		a++;
		if (s->e[i].flags & LG_DENT_NEW)
			nw++;
	}
	if (s->sk && s->sk->idx == idx) {
		a += sketch_est(s->sk->bits[0][0], s->sk->bits[1][0]);
		nw += sketch_est(s->sk->bits[0][1], s->sk->bits[1][1]);
	} else if (s->sk && s->sk->idx + 1 == idx) {
		a += sketch_est(s->sk->bits[0][0], NULL);
		nw += sketch_est(s->sk->bits[0][1], NULL);
	}
	*all = a;
	if (fresh_new)
		*fresh_new = nw;
}

void lg_dset_free(struct lg_dset *s)
{
	free(s->e);
	free(s->sk);
	memset(s, 0, sizeof(*s));
}

bool lg_ip_parse(const char *s, struct lg_ip *out)
{
	struct in_addr v4;

	if (!s || !*s)
		return false;
	if (inet_pton(AF_INET, s, &v4) == 1) {
		memset(out->b, 0, 10);
		out->b[10] = out->b[11] = 0xff;
		memcpy(out->b + 12, &v4, 4);
		return true;
	}
	return inet_pton(AF_INET6, s, out->b) == 1;
}

void lg_ip_mask(struct lg_ip *ip, int len)
{
	int i;

	for (i = 0; i < 16; i++) {
		int keep = len - i * 8;

		if (keep >= 8)
			continue;
		ip->b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
}

bool lg_cidr_parse(const char *s, struct lg_ip *out, int *len)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	long bits;
	char *end;

	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (!lg_ip_parse(addr, out))
		return false;
	if (!slash) {
		*len = 128;
		return true;
	}
	if (!slash[1])
		return false;
	bits = strtol(slash + 1, &end, 10);
	if (*end || bits < 0)
		return false;
	if (strchr(addr, ':') == NULL) {
		if (bits > 32)
			return false;
		bits += 96;
	} else if (bits > 128) {
		return false;
	}
	*len = (int)bits;
	lg_ip_mask(out, *len);
	return true;
}

bool lg_ip_in(const struct lg_ip *ip, const struct lg_ip *net, int len)
{
	struct lg_ip m = *ip;

	lg_ip_mask(&m, len);
	return memcmp(m.b, net->b, 16) == 0;
}

bool lg_ip_is_v4(const struct lg_ip *ip)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };

	return memcmp(ip->b, mapped, 12) == 0;
}

void lg_cidr_format(const struct lg_ip *ip, int len, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (lg_ip_is_v4(ip) && len >= 96) {
		inet_ntop(AF_INET, ip->b + 12, a, sizeof(a));
		if (len == 128)
			snprintf(out, n, "%s", a);
		else
			snprintf(out, n, "%s/%d", a, len - 96);
		return;
	}
	inet_ntop(AF_INET6, ip->b, a, sizeof(a));
	if (len == 128)
		snprintf(out, n, "%s", a);
	else
		snprintf(out, n, "%s/%d", a, len);
}

uint64_t lg_net_id(const struct lg_ip *ip)
{
	uint64_t id = 0;
	int i;

	if (lg_ip_is_v4(ip))
		/* 0:1:a.b.c.0::/64 is in reserved ::/8: no /64 clashes. */
		return (1ull << 32) | ((uint64_t)ip->b[12] << 24) |
		       ((uint64_t)ip->b[13] << 16) | ((uint64_t)ip->b[14] << 8);
	for (i = 0; i < 8; i++)
		id = (id << 8) | ip->b[i];
	return id ? id : 2;	/* 0 means "no network" */
}

int lg_net_len(const struct lg_ip *ip)
{
	return lg_ip_is_v4(ip) ? 120 : 64;
}

size_t lg_cidr_list_parse(const char *list, struct lg_cidr **out)
{
	struct lg_cidr *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = list ? list : "";

	while (*p) {
		char item[80], q[LOG_QSZ];
		size_t k = strcspn(p, ", \t\r\n");
		int len;

		if (k == 0) {
			p++;
			continue;
		}
		if (k >= sizeof(item)) {
			log_msg(LOG_L_WARN, "event=config_bad_cidr "
				"setting=auth_allowlist item=%s",
				log_q(q, sizeof(q), "(too long)"));
			p += k;
			continue;
		}
		memcpy(item, p, k);
		item[k] = '\0';
		p += k;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		if (!lg_cidr_parse(item, &v[n].ip, &len)) {
			log_msg(LOG_L_WARN, "event=config_bad_cidr "
				"setting=auth_allowlist item=%s",
				log_q(q, sizeof(q), item));
			continue;
		}
		v[n++].len = (uint8_t)len;
	}
	*out = v;
	return n;
}
