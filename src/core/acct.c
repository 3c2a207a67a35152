/*
 * acct - compact per-account counters and the account table.  See acct.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/acct.h"
#include "util/xalloc.h"

/*
 * Open addressing with linear probing over an array of pointers: 8 bytes a
 * slot, grown at 3/4 load.  Removal (eviction at max_accounts, core's
 * evict.c) shifts the following entries of the run back, so no tombstones.
 */
struct acct_table {
	struct acct **slots;
	size_t cap;		/* power of two */
	size_t n;
};

static const uint32_t win_len[W__COUNT] = { 60, 3600, 3600, 3600, 86400 };

uint32_t acct_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

struct acct_table *acct_table_new(void)
{
	struct acct_table *t = xcalloc(1, sizeof(*t));

	t->cap = 1024;
	t->slots = xcalloc(t->cap, sizeof(*t->slots));
	return t;
}

void acct_table_free(struct acct_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->cap; i++) {
		if (t->slots[i]) {
			free(t->slots[i]->detail);
			free(t->slots[i]);
		}
	}
	free(t->slots);
	free(t);
}

/* Double the slot array and reinsert. */
static void table_grow(struct acct_table *t)
{
	size_t ncap = t->cap * 2, i;
	struct acct **ns = xcalloc(ncap, sizeof(*ns));

	for (i = 0; i < t->cap; i++) {
		struct acct *a = t->slots[i];
		size_t j;

		if (!a)
			continue;
		for (j = a->hash & (ncap - 1); ns[j]; j = (j + 1) & (ncap - 1))
			;
		ns[j] = a;
	}
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
}

struct acct *acct_table_get(struct acct_table *t, const char *login,
			    bool create, uint32_t now)
{
	uint32_t h = acct_hash(login);
	size_t j, len;
	struct acct *a;

	for (j = h & (t->cap - 1); (a = t->slots[j]); j = (j + 1) & (t->cap - 1))
		if (a->hash == h && strcmp(a->login, login) == 0) {
			if (create && now > a->last_seen)
				a->last_seen = now;
			return a;
		}
	if (!create)
		return NULL;
	if ((t->n + 1) * 4 > t->cap * 3) {
		table_grow(t);
		for (j = h & (t->cap - 1); t->slots[j]; j = (j + 1) & (t->cap - 1))
			;
	}
	len = strlen(login);
	a = xcalloc(1, sizeof(*a) + len + 1);
	memcpy(a->login, login, len + 1);
	a->hash = h;
	a->first_seen = now;
	a->last_seen = now;
	t->slots[j] = a;
	t->n++;
	return a;
}

void acct_table_remove(struct acct_table *t, struct acct *a)
{
	size_t mask = t->cap - 1, i, j, home;

	for (i = a->hash & mask; t->slots[i] != a; i = (i + 1) & mask)
		if (!t->slots[i])
			return;		/* not in the table */
	t->slots[i] = NULL;
	/* Backward shift: move up every later entry of the run whose home
	 * slot is not cyclically within (i, j]. */
	for (j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
		home = t->slots[j]->hash & mask;
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j] = NULL;
		i = j;
	}
	t->n--;
	free(a->detail);
	free(a);
}

size_t acct_table_count(const struct acct_table *t)
{
	return t->n;
}

size_t acct_table_slot_bytes(const struct acct_table *t)
{
	return t->cap * sizeof(*t->slots) + sizeof(*t);
}

void acct_table_foreach(struct acct_table *t,
			void (*fn)(struct acct *a, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		if (t->slots[i])
			fn(t->slots[i], arg);
}

size_t acct_table_walk(struct acct_table *t, size_t from, size_t nslots,
		       bool (*fn)(struct acct *a, void *arg), void *arg)
{
	size_t i, end = from < t->cap && nslots < t->cap - from ?
		from + nslots : t->cap;

	for (i = from; i < end; i++)
		if (t->slots[i] && !fn(t->slots[i], arg))
			return i + 1 < t->cap ? i + 1 : 0;
	return end < t->cap ? end : 0;
}

void acct_rcpt_min_add(struct acct *a, uint32_t n, uint32_t now)
{
	struct window w = { a->rcpt_min.idx, a->rcpt_min.cur,
			    a->rcpt_min.prev };

	window_add(&w, 60, now, n);
	a->rcpt_min.idx = w.idx;
	a->rcpt_min.cur = (uint16_t)(w.cur > UINT16_MAX ? UINT16_MAX : w.cur);
	a->rcpt_min.prev = (uint16_t)(w.prev > UINT16_MAX ? UINT16_MAX :
				      w.prev);
}

uint32_t acct_rcpt_min_count(const struct acct *a, uint32_t now)
{
	struct window w = { a->rcpt_min.idx, a->rcpt_min.cur,
			    a->rcpt_min.prev };

	return window_count(&w, 60, now);
}

uint32_t acct_win_len(enum acct_win w)
{
	return win_len[w];
}

void acct_win_add(struct acct *a, enum acct_win w, uint32_t n, uint32_t now)
{
	window_add(&a->win[w], win_len[w], now, n);
}

uint32_t acct_win_count(const struct acct *a, enum acct_win w, uint32_t now)
{
	return window_count(&a->win[w], win_len[w], now);
}

void acct_baseline_roll(struct acct *a, uint32_t now, long halflife)
{
	struct window *w = &a->win[W_MSG_HOUR];
	uint32_t idx = now / 3600, hours;

	/* w->cur counts hour w->idx, which has ended once idx moved on. */
	if (w->idx == 0 || idx <= w->idx)
		return;
	hours = idx - w->idx;
	a->baseline *= (float)pow(0.5, (double)hours * 3600.0 / (double)halflife);
	if (a->state == ACCT_NORMAL && w->cur > 0 && (float)w->cur > a->baseline)
		a->baseline = (float)w->cur;
}

bool acct_net_of(const char *addr, uint32_t *id)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, addr, &v4) == 1) {
		*id = ntohl(v4.s_addr) & 0xffffff00u;
		return true;
	}
	if (inet_pton(AF_INET6, addr, &v6) == 1) {
		uint32_t h = 2166136261u, h32 = 0;
		int i;

		/* IPv4-mapped addresses count as their IPv4 /24. */
		if (IN6_IS_ADDR_V4MAPPED(&v6)) {
			*id = ((uint32_t)v6.s6_addr[12] << 24) |
			      ((uint32_t)v6.s6_addr[13] << 16) |
			      ((uint32_t)v6.s6_addr[14] << 8);
			return true;
		}
		for (i = 0; i < 6; i++) {
			h ^= v6.s6_addr[i];
			h *= 16777619u;
			if (i == 3)
				h32 = h;
		}
		/* Upper half: the /32 (a provider's allocation), so /16
		 * breadth works for IPv6 too; odd: never an IPv4 /24. */
		*id = (h32 & 0xffff0000u) | (h & 0xfffeu) | 1;
		return true;
	}
	return false;
}

bool acct_net_seen(struct acct *a, uint32_t net, uint32_t now)
{
	int i, oldest = 0;

	for (i = 0; i < ACCT_RECENT_NETS; i++) {
		if (a->recent[i].last && a->recent[i].id == net) {
			a->recent[i].last = now;
			return false;
		}
		if (a->recent[i].last < a->recent[oldest].last)
			oldest = i;
	}
	a->recent[oldest].id = net;
	a->recent[oldest].last = now;
	return !acct_net_known(a, net);
}

unsigned acct_net_recent(const struct acct *a, uint32_t now, uint32_t window)
{
	unsigned n = 0;
	int i;

	for (i = 0; i < ACCT_RECENT_NETS; i++)
		if (a->recent[i].last && now - a->recent[i].last <= window)
			n++;
	return n;
}

unsigned acct_net16_recent(const struct acct *a, uint32_t now,
			   uint32_t window)
{
	uint32_t seen[ACCT_RECENT_NETS];
	unsigned n = 0, j;
	int i;

	for (i = 0; i < ACCT_RECENT_NETS; i++) {
		uint32_t g = a->recent[i].id >> 16;

		if (!a->recent[i].last || now - a->recent[i].last > window)
			continue;
		for (j = 0; j < n && seen[j] != g; j++)
			;
		if (j == n)
			seen[n++] = g;
	}
	return n;
}

bool acct_net16_known(const struct acct *a, uint32_t net)
{
	int i;

	for (i = 0; i < ACCT_KNOWN_NETS; i++)
		if (a->known[i] && a->known[i] >> 16 == net >> 16)
			return true;
	return false;
}

void acct_hour_roll(struct acct *a, uint32_t now)
{
	int i;

	if (a->domains_idx == now / 3600)
		return;
	if (a->rcpt_hour > 0 && a->state == ACCT_NORMAL && a->domains_idx) {
		unsigned share = (unsigned)a->newrcpt_hour * 255u /
				 a->rcpt_hour;

		share = share > 255 ? 255 : share;
		a->novelty = (a->flags & ACCT_F_RCPT_HABIT) ?
			(uint8_t)((3u * a->novelty + share) / 4) :
			(uint8_t)share;
		a->flags |= ACCT_F_RCPT_HABIT;
	}
	a->rcpt_hour = 0;
	a->domains = 0;
	a->mismatch_hour = 0;
	a->newrcpt_hour = 0;
	a->unowned_hour = 0;
	/* The content counters keep the hour before (if it was the last). */
	a->shaped_prev = a->domains_idx + 1 == now / 3600 ? a->shaped_hour : 0;
	a->threads_prev = a->domains_idx + 1 == now / 3600 ?
			  a->threads_hour : 0;
	a->shaped_hour = 0;
	a->threads_hour = 0;
	/* Minutes count from the start of the previous clock hour. */
	for (i = 0; i < ACCT_THREAD_TIMES; i++)
		a->thread_min[i] = a->domains_idx + 1 == now / 3600 &&
				   a->thread_min[i] > 60 ?
				   (uint8_t)(a->thread_min[i] - 60) : 0;
	a->domains_idx = now / 3600;
}

void acct_risky_thread(struct acct *a, uint32_t thread, uint32_t now)
{
	/* The hash's high bits after a multiply (FNV-1a's low bits barely
	 * differ for Message-IDs that differ in the middle). */
	uint32_t bit = 1u << ((thread * 2654435761u) >> 27);
	int i;

	if (!thread || ((a->threads_hour | a->threads_prev) & bit)) {
		a->threads_hour |= thread ? bit : 0;
		return;
	}
	a->threads_hour |= bit;
	for (i = ACCT_THREAD_TIMES - 1; i > 0; i--)
		a->thread_min[i] = a->thread_min[i - 1];
	a->thread_min[0] = (uint8_t)(61 + now % 3600 / 60);
}

int acct_threads_span(const struct acct *a, unsigned n)
{
	if (n == 0 || n > ACCT_THREAD_TIMES || !a->thread_min[n - 1] ||
	    !a->thread_min[0])
		return -1;
	return a->thread_min[0] - a->thread_min[n - 1];
}

/* The two Bloom bit positions of a lowercased address. */
static void rcpt_bits(const char *rcpt, unsigned *b1, unsigned *b2)
{
	uint32_t h = 2166136261u, h2;

	for (; *rcpt; rcpt++) {
		unsigned char ch = (unsigned char)*rcpt;

		h ^= (ch >= 'A' && ch <= 'Z') ? ch + 32u : ch;
		h *= 16777619u;
	}
	h2 = (h >> 16 | h << 16) * 2654435761u;
	*b1 = h & 127;
	*b2 = h2 & 127;
}

bool acct_rcpt_known(const struct acct *a, const char *rcpt)
{
	unsigned b1, b2;

	rcpt_bits(rcpt, &b1, &b2);
	return (a->rcpts[b1 >> 6] >> (b1 & 63) & 1) &&
	       (a->rcpts[b2 >> 6] >> (b2 & 63) & 1);
}

void acct_rcpt_learn(struct acct *a, const char *rcpt)
{
	unsigned b1, b2;

	rcpt_bits(rcpt, &b1, &b2);
	a->rcpts[b1 >> 6] |= (uint64_t)1 << (b1 & 63);
	a->rcpts[b2 >> 6] |= (uint64_t)1 << (b2 & 63);
}

unsigned acct_rcpt_bits(const struct acct *a)
{
	return (unsigned)(__builtin_popcountll(a->rcpts[0]) +
			  __builtin_popcountll(a->rcpts[1]));
}

bool acct_net_known(const struct acct *a, uint32_t net)
{
	int i;

	for (i = 0; i < ACCT_KNOWN_NETS; i++)
		if (a->known[i] == net && net != 0)
			return true;
	return false;
}

void acct_net_learn(struct acct *a, uint32_t net)
{
	int i;

	if (net == 0 || acct_net_known(a, net))
		return;
	/* Shift out the oldest habitual network. */
	for (i = ACCT_KNOWN_NETS - 1; i > 0; i--)
		a->known[i] = a->known[i - 1];
	a->known[0] = net;
}

void acct_domain_add(struct acct *a, const char *domain, uint32_t now)
{
	char low[256];
	size_t i;

	acct_hour_roll(a, now);
	for (i = 0; domain[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)((domain[i] >= 'A' && domain[i] <= 'Z') ?
				domain[i] + 32 : domain[i]);
	low[i] = '\0';
	a->domains |= (uint64_t)1 << (acct_hash(low) % 64);
}

unsigned acct_domain_count(const struct acct *a, uint32_t now)
{
	int zeros;

	if (a->domains_idx != now / 3600)
		return 0;
	zeros = 64 - __builtin_popcountll(a->domains);
	if (zeros == 0)
		return 300;	/* saturated: "hundreds" */
	/* Linear counting: n = -m ln(V/m). */
	return (unsigned)(-64.0 * log((double)zeros / 64.0) + 0.5);
}

/* Add s to a sample list unless present or full. */
static void sample_add(char list[][64], size_t width, uint8_t *n,
		       const char *s)
{
	char (*l)[64] = list;
	uint8_t i;

	(void)width;
	for (i = 0; i < *n; i++)
		if (strcasecmp(l[i], s) == 0)
			return;
	if (*n >= ACCT_DETAIL_N)
		return;
	snprintf(l[*n], 64, "%s", s);
	(*n)++;
}

struct acct_detail *acct_detail_get(struct acct *a)
{
	if (!a->detail)
		a->detail = xcalloc(1, sizeof(*a->detail));
	return a->detail;
}

void acct_detail_add_ip(struct acct *a, const char *ip)
{
	struct acct_detail *d = acct_detail_get(a);
	uint8_t i;

	for (i = 0; i < d->nips; i++)
		if (strcmp(d->ips[i], ip) == 0)
			return;
	if (d->nips < ACCT_DETAIL_N)
		snprintf(d->ips[d->nips++], sizeof(d->ips[0]), "%s", ip);
}

void acct_detail_add_domain(struct acct *a, const char *domain)
{
	struct acct_detail *d = acct_detail_get(a);

	sample_add(d->domains, sizeof(d->domains[0]), &d->ndomains, domain);
}

void acct_detail_add_sender(struct acct *a, const char *sender)
{
	struct acct_detail *d = acct_detail_get(a);
	uint8_t i;

	for (i = 0; i < d->nsenders; i++)
		if (strcasecmp(d->senders[i], sender) == 0)
			return;
	if (d->nsenders < ACCT_DETAIL_N)
		snprintf(d->senders[d->nsenders++], sizeof(d->senders[0]),
			 "%s", sender);
}

static const char *const state_names[] = {
	"normal", "throttled", "restricted", "probation", "suspended",
};

const char *acct_state_name(enum acct_state s)
{
	return (unsigned)s < 5 ? state_names[s] : "unknown";
}

int acct_state_parse(const char *s)
{
	int i;

	for (i = 0; i < 5; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

void acct_cc_seen(struct acct *a, uint16_t cc, uint32_t now)
{
	size_t i;

	if (!cc)
		return;
	for (i = 0; i < ACCT_RECENT_CC - 1 && a->cc_recent[i] != cc; i++)
		;
	/* Move (or push) cc to the front. */
	memmove(&a->cc_recent[1], &a->cc_recent[0], i * sizeof(uint16_t));
	memmove(&a->cc_min[1], &a->cc_min[0], i * sizeof(uint16_t));
	a->cc_recent[0] = cc;
	a->cc_min[0] = (uint16_t)(now / 60);
}

unsigned acct_cc_recent(const struct acct *a, uint32_t now, uint32_t window)
{
	uint16_t m = (uint16_t)(now / 60);
	unsigned n = 0;
	size_t i;

	for (i = 0; i < ACCT_RECENT_CC; i++)
		if (a->cc_recent[i] &&
		    (uint16_t)(m - a->cc_min[i]) <= (window + 59) / 60)
			n++;
	return n;
}

bool acct_cc_known(const struct acct *a, uint16_t cc)
{
	size_t i;

	for (i = 0; i < ACCT_KNOWN_CC; i++)
		if (cc && a->cc_known[i] == cc)
			return true;
	return false;
}

void acct_cc_learn(struct acct *a, uint16_t cc)
{
	if (!cc || acct_cc_known(a, cc))
		return;
	memmove(&a->cc_known[1], &a->cc_known[0],
		(ACCT_KNOWN_CC - 1) * sizeof(uint16_t));
	a->cc_known[0] = cc;
}

void acct_cc_format(uint16_t cc, char out[3])
{
	out[0] = cc ? (char)(cc >> 8) : '-';
	out[1] = cc ? (char)(cc & 0xff) : '-';
	out[2] = '\0';
}
