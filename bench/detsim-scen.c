/*
 * detsim-scen - generate one world of the detection evaluation from a seed
 * (see detsim.h and docs/design/detection-eval.md for the classes and the
 * ranges).  Every number below that shapes traffic is drawn from a range
 * with rr()/ru(); the ranges come from issue 9 and from what the incidents
 * looked like, never from mamori's settings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detsim.h"

#define T0 1793577600u		/* 2026-11-02 00:00 UTC, 09:00 JST Monday */
#define WINDOW_FULL (6 * 3600u)
#define WINDOW_SHORT 150u
#define HISTORY_DAYS 30u
#define DAY 86400u
#define NCONSUMERS 50000u	/* u00000..u49999@isp.example */
#define EXISTING 40000u		/* of which these are mailboxes */
#define BENIGN_POOL 20000u	/* benign users from 0.., attack lists above */

const char ds_local_domains[] =
	"isp.example corp1.example corp2.example corp3.example "
	"bigcorp.example shop.example";

const struct ds_class_info ds_classes[DS__NCLASS] = {
	[DS_BOTNET] = { "botnet bulk", DS_K_OUT_ATTACK, "<= 3" },
	[DS_LOWSLOW] = { "low-and-slow", DS_K_OUT_ATTACK, "<= 8" },
	[DS_EMOTET] = { "Emotet-style", DS_K_OUT_ATTACK, "<= 10" },
	[DS_UNOWNED] = { "unowned sender", DS_K_OUT_ATTACK, "<= 3" },
	[DS_LOWMIX] = { "low-volume mix", DS_K_OUT_ATTACK, "-" },
	[DS_STUFF_BAD] = { "stuffing, 1 addr, bad list", DS_K_LOGIN_ATTACK,
			   "<= 20" },
	[DS_STUFF_GOOD] = { "stuffing, 1 addr, good list",
			    DS_K_LOGIN_ATTACK, "<= 20" },
	[DS_ROTATING] = { "rotating botnet", DS_K_LOGIN_ATTACK,
			  "<= 25% (40/160)" },
	[DS_DISTRIBUTED] = { "many addrs, 1 account", DS_K_LOGIN_ATTACK,
			     "-" },
	[DS_SPRAY] = { "spraying", DS_K_LOGIN_ATTACK, "-" },
	[DS_ORDINARY] = { "ordinary users", DS_K_BENIGN, "0" },
	[DS_SHOP] = { "shop order mail", DS_K_BENIGN, "0" },
	[DS_OFFICE] = { "office behind 1 addr", DS_K_BENIGN, "0" },
	[DS_NEWSLETTER] = { "newsletter 200 Bcc", DS_K_BENIGN, "0" },
	[DS_TRAVELLER] = { "traveller abroad", DS_K_BENIGN, "0" },
	[DS_PHONE] = { "phone on carrier NAT", DS_K_BENIGN, "0" },
	[DS_NEWCUST] = { "new customer", DS_K_BENIGN, "0" },
	[DS_OFFICE_NAT] = { "office NAT, 300 users", DS_K_BENIGN, "0" },
	[DS_CARRIER_NAT] = { "carrier NAT, many users", DS_K_BENIGN, "0" },
};

static const char *const freemail[] = {
	"gmail.example", "yahoo.example", "outlook.example", "icloud.example",
	"docomo.example", "ezweb.example", "softbank.example",
};
static const char *const lookalike[] = {
	"mufg-secure.example", "smbc-card-info.example",
	"amazon-co-jp.example", "rakuten-pay.example",
	"docomo-billing.example", "au-kddi-support.example",
	"jp-post-delivery.example", "mizuho-direct.example",
};
static const char *const countries[] = {
	"US", "BR", "VN", "IN", "RU", "CN", "DE", "FR", "ID", "TR", "UA",
	"NG", "KR", "TH", "MX", "PL",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Generator state beside the world. */
struct gen {
	struct ds_world *w;
	uint64_t s;
	enum ds_profile prof;
	uint32_t win;			/* evaluation window length */
	uint32_t hist_days;		/* 0 in the short profile */
	int32_t *umap;			/* consumer index -> account */
	uint32_t next_user;		/* next benign consumer index */
};

/* A sending account's habits, kept by the generator only. */
struct habit {
	uint32_t acct;
	uint32_t home_ip;
	uint32_t corr[16];		/* arena offsets of correspondents */
	unsigned ncorr;
	double per_day;			/* messages on an active day */
	bool phone;			/* a new carrier address per message */
	bool weekdays;			/* an office: no weekend mail */
};

/* splitmix64. */
static uint64_t rnd(struct gen *g)
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint32_t rr(struct gen *g, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd(g) % ((uint64_t)hi - lo + 1));
}

/* Uniform in [0, 1). */
static double ru(struct gen *g)
{
	return (double)(rnd(g) >> 11) / 9007199254740992.0;
}

/* Append a formatted string to the arena; its offset. */
static uint32_t str_add(struct ds_world *w, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;
	uint32_t off;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	if (w->arena_len + (size_t)n + 1 > w->arena_cap) {
		w->arena_cap = (w->arena_cap + (size_t)n + 1) * 2;
		w->arena = realloc(w->arena, w->arena_cap);
		if (!w->arena)
			abort();
	}
	off = (uint32_t)w->arena_len;
	memcpy(w->arena + off, tmp, (size_t)n + 1);
	w->arena_len += (size_t)n + 1;
	return off;
}

/* A new account; its index. */
static uint32_t acct_add(struct gen *g, enum ds_class cls, bool exists,
			 const char *fmt, ...)
{
	struct ds_world *w = g->w;
	char tmp[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (w->nacct == w->acct_cap) {
		w->acct_cap = w->acct_cap ? w->acct_cap * 2 : 1024;
		w->acct = realloc(w->acct, w->acct_cap * sizeof(*w->acct));
		if (!w->acct)
			abort();
	}
	w->acct[w->nacct].login = str_add(w, "%s", tmp);
	w->acct[w->nacct].cls = (uint8_t)cls;
	w->acct[w->nacct].exists = exists;
	return (uint32_t)w->nacct++;
}

/* The account of consumer index u (created on first use). */
static uint32_t consumer(struct gen *g, uint32_t u, enum ds_class cls)
{
	if (g->umap[u] < 0)
		g->umap[u] = (int32_t)acct_add(g, cls, u < EXISTING,
					       "u%05u@isp.example", u);
	return (uint32_t)g->umap[u];
}

/* A fresh benign consumer. */
static uint32_t new_user(struct gen *g, enum ds_class cls)
{
	return consumer(g, g->next_user++ % BENIGN_POOL, cls);
}

/* A new event at t; its index (the array may move). */
static size_t ev_add(struct gen *g, uint32_t t, enum ds_type type,
		     enum ds_class cls, unsigned flags, uint32_t acct,
		     uint32_t ip)
{
	struct ds_world *w = g->w;
	struct ds_event *e;

	if (w->nev == w->ev_cap) {
		w->ev_cap = w->ev_cap ? w->ev_cap * 2 : 65536;
		w->ev = realloc(w->ev, w->ev_cap * sizeof(*w->ev));
		if (!w->ev)
			abort();
	}
	e = &w->ev[w->nev];
	memset(e, 0, sizeof(*e));
	e->t = t;
	e->type = (uint8_t)type;
	e->cls = (uint8_t)cls;
	e->flags = (uint8_t)flags;
	e->acct = acct;
	e->ip = ip;
	e->seq = (uint32_t)w->nev;
	return w->nev++;
}

/* A login attempt; pw 0 = the right password. */
static void login_add(struct gen *g, uint32_t t, enum ds_class cls,
		      unsigned flags, uint32_t acct, uint32_t ip, uint32_t pw,
		      uint16_t unit)
{
	size_t i = ev_add(g, t, DS_LOGIN, cls, flags | (pw ? 0 : DS_F_CORRECT),
			  acct, ip);

	g->w->ev[i].pw = pw;
	g->w->ev[i].unit = unit;
}

/* A wrong password number. */
static uint32_t wrong_pw(struct gen *g)
{
	return rr(g, 1, 0x3fffffff);
}

/* ---- addresses ---- */

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
}

/* A carrier pool address: three /16s of 100.64.0.0/10. */
static uint32_t ip_carrier(struct gen *g)
{
	return ip4(100, 64 + rr(g, 0, 2), rr(g, 0, 255), rr(g, 1, 254));
}

/* A home broadband address in 198.18.0.0/15. */
static uint32_t ip_home(struct gen *g)
{
	return ip4(198, 18 + rr(g, 0, 1), rr(g, 0, 255), rr(g, 1, 254));
}

/* A foreign address in 240.0.0.0/4, any /16. */
static uint32_t ip_foreign(struct gen *g)
{
	return ip4(240 + rr(g, 0, 14), rr(g, 0, 255), rr(g, 0, 255),
		   rr(g, 1, 254));
}

const char *ds_country(uint32_t ip)
{
	uint32_t h;

	if ((ip >> 28) != 0xf)
		return "JP";
	h = (ip >> 16) * 2654435761u;
	return countries[(h >> 16) % NELEM(countries)];
}

void ds_ip_str(uint32_t ip, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255,
		 (ip >> 8) & 255, ip & 255);
}

/* ---- recipients ---- */

/* A random external address (freemail or business). */
static uint32_t ext_addr(struct gen *g)
{
	if (ru(g) < 0.5)
		return str_add(g->w, "p%06u@%s", rr(g, 0, 999999),
			       freemail[rr(g, 0, NELEM(freemail) - 1)]);
	return str_add(g->w, "%c.%05u@biz%04u.example", 'a' + rr(g, 0, 25),
		       rr(g, 0, 99999), rr(g, 0, 9999));
}

/* Start a recipient list: the arena offset the strings will start at. */
static uint32_t rcpts_begin(struct gen *g)
{
	return (uint32_t)g->w->arena_len;
}

/* A message event with recipients already appended since rcpts. */
static void msg_add(struct gen *g, uint32_t t, enum ds_class cls,
		    unsigned flags, uint32_t acct, uint32_t ip,
		    uint32_t sender, uint32_t rcpts, unsigned n, uint16_t unit)
{
	size_t i = ev_add(g, t, DS_MSG, cls, flags | DS_F_AUTH, acct, ip);
	struct ds_event *e = &g->w->ev[i];

	e->sender = sender;
	e->rcpts = rcpts;
	e->nrcpt = (uint16_t)n;
	e->unit = unit;
}

/* Copy an arena string (so it sits in a recipient run). */
static void rcpt_copy(struct gen *g, uint32_t off)
{
	char tmp[128];

	snprintf(tmp, sizeof(tmp), "%s", ds_str(g->w, off));
	str_add(g->w, "%s", tmp);
}

const char *ds_rcpt(const struct ds_world *w, const struct ds_event *e,
		    unsigned i)
{
	const char *p = w->arena + e->rcpts;

	while (i--)
		p += strlen(p) + 1;
	return p;
}

void ds_pwhash(const struct ds_world *w, const char *login, uint32_t pw,
	       char out[5])
{
	uint64_t h = 1469598103934665603ull ^ w->seed;
	const char *p;

	for (p = login; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ pw) * 1099511628211ull;
	h ^= h >> 29;
	snprintf(out, 5, "%04x", (unsigned)(h & 0xfff));
}

/* ---- habits and benign traffic ---- */

/* A sending account's habits: correspondents and pace. */
static void habit_init(struct gen *g, struct habit *h, uint32_t acct,
		       double lo, double hi)
{
	unsigned i;

	memset(h, 0, sizeof(*h));
	h->acct = acct;
	h->home_ip = ip_home(g);
	h->ncorr = rr(g, 3, 12);
	for (i = 0; i < h->ncorr; i++)
		h->corr[i] = ru(g) < 0.15 ?
			str_add(g->w, "u%05u@isp.example",
				rr(g, 0, BENIGN_POOL - 1)) : ext_addr(g);
	h->per_day = lo + (hi - lo) * ru(g);
}

/* One ordinary message of h at t from ip. */
static void habit_msg(struct gen *g, const struct habit *h, uint32_t t,
		      uint32_t ip, enum ds_class cls, unsigned flags)
{
	uint32_t r = rcpts_begin(g);
	unsigned n = rr(g, 1, 3), i;

	for (i = 0; i < n; i++) {
		if (ru(g) < 0.1)
			ext_addr(g);
		else
			rcpt_copy(g, h->corr[rr(g, 0, h->ncorr - 1)]);
	}
	msg_add(g, t, cls, flags, h->acct, ip,
		g->w->acct[h->acct].login, r, n, 0);
}

/* How many events a rate gives in one period (mean rate, some spread). */
static unsigned count_of(struct gen *g, double mean)
{
	double x = mean * 2 * ru(g);
	unsigned n = (unsigned)x;

	return n + (ru(g) < x - n);
}

/* A time in day d of the history (07:00-23:00 JST), or 0 on a weekend
 * when weekdays only. */
static uint32_t hist_time(struct gen *g, unsigned d, bool weekdays)
{
	uint32_t day0 = T0 - (g->hist_days - d) * DAY;	/* 09:00 JST */

	/* T0 is a Monday: day d is (d - hist_days) mod 7 days from it. */
	if (weekdays && ((d + 7 * 10 - g->hist_days) % 7) >= 5)
		return 0;
	return day0 - 2 * 3600 + rr(g, 0, 16 * 3600 - 1);
}

/* A time in the evaluation window. */
static uint32_t win_time(struct gen *g)
{
	return T0 + rr(g, 0, g->win - 1);
}

/* IMAP logins of an account: per_day over the history, n_win in the
 * window, from ip (0 = a new carrier address each), typos at typo. */
static void logins_of(struct gen *g, enum ds_class cls, uint32_t acct,
		      uint32_t ip, double per_day, unsigned n_win,
		      double typo, bool weekdays)
{
	unsigned d, i, n;
	uint32_t t;

	for (d = 0; d < g->hist_days; d++) {
		n = count_of(g, per_day);
		for (i = 0; i < n; i++) {
			if (!(t = hist_time(g, d, weekdays)))
				continue;
			login_add(g, t, cls, DS_F_HISTORY, acct,
				  ip ? ip : ip_carrier(g), 0, 0);
		}
	}
	for (i = 0; i < n_win; i++) {
		uint32_t a = ip ? ip : ip_carrier(g);

		t = win_time(g);
		if (ru(g) < typo) {
			login_add(g, t, cls, 0, acct, a, wrong_pw(g), 0);
			t += rr(g, 3, 20);
		}
		login_add(g, t, cls, 0, acct, a, 0, 0);
	}
}

/* Mail history of h over the month: per_day on active days. */
static void habit_history(struct gen *g, const struct habit *h,
			  enum ds_class cls)
{
	unsigned d, i, n;
	uint32_t t;

	for (d = 0; d < g->hist_days; d++) {
		if (ru(g) < 0.3)
			continue;		/* a quiet day */
		n = count_of(g, h->per_day);
		for (i = 0; i < n; i++) {
			if (!(t = hist_time(g, d, h->weekdays)))
				continue;
			habit_msg(g, h, t, h->phone ? ip_carrier(g) :
				  h->home_ip, cls, DS_F_HISTORY);
		}
	}
}

/* Mail of h in the window (window share of per_day, or n if set). */
static void habit_window(struct gen *g, const struct habit *h,
			 enum ds_class cls, uint32_t ip, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		habit_msg(g, h, win_time(g), ip ? ip :
			  h->phone ? ip_carrier(g) : h->home_ip, cls, 0);
}

/* Messages of a daily rate over the window. */
static unsigned window_share(struct gen *g, double per_day)
{
	/* 150 s would give almost nobody a message: 0-2 each instead. */
	if (g->prof == DS_PROFILE_SHORT)
		return rr(g, 0, 2);
	return count_of(g, per_day * g->win / (16.0 * 3600));
}

static void gen_ordinary(struct gen *g, unsigned n, enum ds_class cls,
			 bool history, bool phone)
{
	struct habit h;
	unsigned i;

	for (i = 0; i < n; i++) {
		habit_init(g, &h, new_user(g, cls), 0.5, 6);
		h.phone = phone || ru(g) < 0.2;
		if (history)
			habit_history(g, &h, cls);
		habit_window(g, &h, cls, 0, phone ? rr(g, 2, 10) :
			     window_share(g, h.per_day));
		logins_of(g, cls, h.acct, h.phone ? 0 : h.home_ip,
			  history ? rr(g, 2, 6) : 0,
			  g->prof == DS_PROFILE_SHORT ? rr(g, 0, 1) :
			  rr(g, 1, 8), 0.03, false);
	}
}

/* A shop: order mail to a new customer every few seconds, in bursts. */
static void gen_shop(struct gen *g, unsigned k)
{
	uint32_t acct = acct_add(g, DS_SHOP, true, "shop%u@shop.example", k);
	uint32_t sender = str_add(g->w, "orders%u@shop.example", k);
	uint32_t ip = ip4(198, 51, 100, 10 + k);
	unsigned d, b, nb;
	double gap = rr(g, 3, 20);
	uint32_t t, end;

	for (d = 0; d < g->hist_days; d++) {
		nb = rr(g, 1, 3);
		for (b = 0; b < nb; b++) {
			t = hist_time(g, d, false);
			end = t + rr(g, 10, 30) * 60;
			for (; t < end; t += (uint32_t)(gap * (0.5 + ru(g)))) {
				uint32_t r = rcpts_begin(g);

				ext_addr(g);
				msg_add(g, t, DS_SHOP, DS_F_HISTORY, acct, ip,
					sender, r, 1, 0);
			}
		}
	}
	t = g->prof == DS_PROFILE_SHORT ? T0 : win_time(g);
	end = g->prof == DS_PROFILE_SHORT ? T0 + g->win :
	      t + rr(g, 30, 120) * 60;
	if (end > T0 + g->win)
		end = T0 + g->win;
	for (; t < end; t += 1 + (uint32_t)(gap * (0.5 + ru(g)))) {
		uint32_t r = rcpts_begin(g);

		ext_addr(g);
		msg_add(g, t, DS_SHOP, 0, acct, ip, sender, r, 1, 0);
	}
}

/* An office of 10-50 staff behind one NAT address; returns the habits
 * (for the Emotet victims) in hs, its size in *n. */
static void gen_office(struct gen *g, unsigned k, struct habit *hs,
		       unsigned *n)
{
	uint32_t ip = ip4(203, 0, 113, 10 + k);
	uint32_t partners[8];
	unsigned np = rr(g, 3, 8), i, j;

	*n = g->prof == DS_PROFILE_SHORT ? rr(g, 10, 20) : rr(g, 10, 50);
	for (i = 0; i < np; i++)
		partners[i] = rr(g, 0, 9999);
	for (i = 0; i < *n; i++) {
		struct habit *h = &hs[i];

		memset(h, 0, sizeof(*h));
		h->acct = acct_add(g, DS_OFFICE, true, "s%02u@corp%u.example",
				   i, k);
		h->home_ip = ip;
		h->weekdays = true;
		h->per_day = 2 + 13 * ru(g);
		h->ncorr = rr(g, 4, 16);
		for (j = 0; j < h->ncorr; j++)
			h->corr[j] = ru(g) < 0.3 ?
				str_add(g->w, "s%02u@corp%u.example",
					rr(g, 0, *n - 1), k) :
				str_add(g->w, "%c.%05u@biz%04u.example",
					'a' + rr(g, 0, 25), rr(g, 0, 99),
					partners[rr(g, 0, np - 1)]);
	}
	for (i = 0; i < *n; i++) {
		habit_history(g, &hs[i], DS_OFFICE);
		habit_window(g, &hs[i], DS_OFFICE, 0,
			     window_share(g, hs[i].per_day * 16 / 9));
		logins_of(g, DS_OFFICE, hs[i].acct, ip, 3,
			  g->prof == DS_PROFILE_SHORT ? 1 : rr(g, 6, 24),
			  0.02, true);
	}
}

static void gen_newsletter(struct gen *g)
{
	struct habit h;
	unsigned d, i, n;
	uint32_t r;

	habit_init(g, &h, new_user(g, DS_NEWSLETTER), 0.5, 3);
	for (d = 0; d < g->hist_days; d++) {
		if (d % 7 == 3) {		/* weekly issue */
			r = rcpts_begin(g);
			n = rr(g, 150, 250);
			for (i = 0; i < n; i++)
				ext_addr(g);
			msg_add(g, hist_time(g, d, false), DS_NEWSLETTER,
				DS_F_HISTORY, h.acct, h.home_ip,
				g->w->acct[h.acct].login, r, n, 0);
		}
	}
	habit_history(g, &h, DS_NEWSLETTER);
	r = rcpts_begin(g);
	for (i = 0; i < 200; i++)
		ext_addr(g);
	msg_add(g, win_time(g), DS_NEWSLETTER, 0, h.acct, h.home_ip,
		g->w->acct[h.acct].login, r, 200, 0);
	logins_of(g, DS_NEWSLETTER, h.acct, h.home_ip, 2, 2, 0.03, false);
}

static void gen_traveller(struct gen *g)
{
	struct habit h;
	uint32_t hotel = ip_foreign(g);

	habit_init(g, &h, new_user(g, DS_TRAVELLER), 1, 6);
	habit_history(g, &h, DS_TRAVELLER);
	logins_of(g, DS_TRAVELLER, h.acct, h.home_ip, 3, 0, 0, false);
	habit_window(g, &h, DS_TRAVELLER, hotel, rr(g, 2, 10));
	logins_of(g, DS_TRAVELLER, h.acct, hotel, 0, rr(g, 2, 6), 0.05,
		  false);
}

static void gen_newcust(struct gen *g)
{
	struct habit h;

	habit_init(g, &h, new_user(g, DS_NEWCUST), 1, 5);
	habit_window(g, &h, DS_NEWCUST, 0, rr(g, 1, 5));
	logins_of(g, DS_NEWCUST, h.acct, h.home_ip, 0, rr(g, 1, 4), 0.1,
		  false);
}

/* Many users behind one or a few addresses, logging in; typos; one
 * client stuck on an old password. */
static void gen_nat(struct gen *g, enum ds_class cls, uint32_t *ips,
		    unsigned nips, unsigned users, unsigned k)
{
	unsigned i, j, n;
	uint32_t acct, stuck_pw = wrong_pw(g), t, gap;
	bool office = cls == DS_OFFICE_NAT;

	for (i = 0; i < users; i++) {
		uint32_t ip = ips[rr(g, 0, nips - 1)];

		acct = office ? acct_add(g, cls, true, "e%03u@bigcorp.example",
					 i + 400 * k) : new_user(g, cls);
		/* History: the office address daily; carrier users from
		 * whichever pool address they had. */
		logins_of(g, cls, acct, office ? ip : 0, office ? 2 : 1.5, 0,
			  0, office);
		n = g->prof == DS_PROFILE_SHORT ? rr(g, 1, 2) :
		    office ? rr(g, 9, 36) : rr(g, 4, 18);
		for (j = 0; j < n; j++) {
			t = win_time(g);
			if (ru(g) < (office ? 0.02 : 0.03)) {
				login_add(g, t, cls, 0, acct, ip, wrong_pw(g),
					  0);
				t += rr(g, 3, 20);
			}
			login_add(g, t, cls, 0, acct, ip, 0, 0);
		}
		if (i == 0) {
			/* The stuck client: same old password, retried. */
			gap = g->prof == DS_PROFILE_SHORT ? rr(g, 5, 20) :
			      rr(g, 60, 300);
			for (t = T0 + rr(g, 0, gap); t < T0 + g->win;
			     t += gap)
				login_add(g, t, cls, 0, acct, ip, stuck_pw, 0);
		}
	}
}

/* ---- outbound attacks ---- */

/* A hijacked account with an ordinary month behind it. */
static uint32_t victim(struct gen *g, enum ds_class cls, struct habit *h)
{
	habit_init(g, h, new_user(g, cls), 0.5, 6);
	habit_history(g, h, cls);
	logins_of(g, cls, h->acct, h->home_ip, g->hist_days ? 3 : 0, 0, 0,
		  false);
	return h->acct;
}

/* A run of spam recipients (n) at random external addresses. */
static uint32_t spam_rcpts(struct gen *g, unsigned n)
{
	uint32_t r = rcpts_begin(g);
	unsigned i;

	for (i = 0; i < n; i++)
		ext_addr(g);
	return r;
}

/* When an attack starts: early enough to run. */
static uint32_t attack_start(struct gen *g)
{
	return g->prof == DS_PROFILE_SHORT ? T0 + rr(g, 0, 10) :
	       T0 + rr(g, 0, g->win / 2);
}

static void gen_botnet(struct gen *g, uint16_t unit)
{
	struct habit h;
	uint32_t acct = victim(g, DS_BOTNET, &h), t = attack_start(g), ip = 0;
	unsigned n = rr(g, 100, 400), per_ip = rr(g, 1, 5), gap = rr(g, 1, 20);
	unsigned i, k;
	bool own = ru(g) < 0.5;

	if (g->prof == DS_PROFILE_SHORT)
		gap = rr(g, 1, 5);
	for (i = 0; i < n && t < T0 + g->win; i++) {
		if (i % per_ip == 0)
			ip = ip_foreign(g);
		k = rr(g, 5, 50);
		msg_add(g, t, DS_BOTNET, DS_F_ATTACK, acct, ip,
			own ? g->w->acct[acct].login :
			str_add(g->w, "x%05u@isp.example", rr(g, 0, 99999)),
			spam_rcpts(g, k), k, unit);
		t += rr(g, 1, 2 * gap);
	}
}

static void gen_lowslow(struct gen *g, uint16_t unit)
{
	struct habit h;
	uint32_t acct = victim(g, DS_LOWSLOW, &h), t = attack_start(g);
	uint32_t ip = ip_foreign(g), end = t + rr(g, 3600, 3 * 3600);
	unsigned gap = g->prof == DS_PROFILE_SHORT ? rr(g, 2, 10) :
		       rr(g, 2, 60), i, k;

	for (i = 0; i < 600 && t < end && t < T0 + g->win; i++) {
		k = rr(g, 1, 3);
		msg_add(g, t, DS_LOWSLOW, DS_F_ATTACK, acct, ip,
			g->w->acct[acct].login, spam_rcpts(g, k), k, unit);
		t += rr(g, gap / 2 + 1, gap + gap / 2);
	}
}

/* Emotet: the victim's own PC at its usual (office) address, replying to
 * its correspondents and their colleagues, several times its pace. */
static void gen_emotet(struct gen *g, const struct habit *h, uint16_t unit)
{
	double per_hour = rr(g, 3, 10) * (h->per_day / 9 + 1);
	uint32_t t = attack_start(g);
	unsigned i, j, k;

	for (i = 0; i < 300 && t < T0 + g->win; i++) {
		uint32_t r = rcpts_begin(g);

		k = rr(g, 1, 3);
		for (j = 0; j < k; j++) {
			const char *c = ds_str(g->w,
					       h->corr[rr(g, 0, h->ncorr - 1)]);
			const char *at = strchr(c, '@');

			if (ru(g) < 0.5 || !at)
				rcpt_copy(g, h->corr[rr(g, 0, h->ncorr - 1)]);
			else	/* a colleague at the same domain */
				str_add(g->w, "%c.%05u%s", 'a' + rr(g, 0, 25),
					rr(g, 0, 99999), at);
		}
		msg_add(g, t, DS_EMOTET, DS_F_ATTACK, h->acct, h->home_ip,
			g->w->acct[h->acct].login, r, k, unit);
		t += 1 + (uint32_t)(3600 / per_hour * (0.5 + ru(g)));
	}
}

static void gen_unowned(struct gen *g, uint16_t unit)
{
	struct habit h;
	uint32_t acct = victim(g, DS_UNOWNED, &h), t = attack_start(g), ip = 0;
	const char *dom = lookalike[rr(g, 0, NELEM(lookalike) - 1)];
	static const char *const local[] = { "billing", "info", "support",
					     "security", "no-reply" };
	uint32_t sender = str_add(g->w, "%s@%s",
				  local[rr(g, 0, NELEM(local) - 1)], dom);
	unsigned n = rr(g, 50, 300), per_ip = rr(g, 1, 10), gap = rr(g, 5, 60);
	unsigned i, k;

	if (g->prof == DS_PROFILE_SHORT)
		gap = rr(g, 2, 10);
	for (i = 0; i < n && t < T0 + g->win; i++) {
		if (i % per_ip == 0)
			ip = ip_foreign(g);
		k = rr(g, 1, 10);
		msg_add(g, t, DS_UNOWNED, DS_F_ATTACK, acct, ip, sender,
			spam_rcpts(g, k), k, unit);
		t += rr(g, gap / 2 + 1, gap + gap / 2);
	}
}

static void gen_lowmix(struct gen *g, uint16_t unit)
{
	struct habit h;
	uint32_t acct = victim(g, DS_LOWMIX, &h), t = T0 + rr(g, 0, 1800);
	uint32_t ips[4], look = str_add(g->w, "info@%s",
					lookalike[rr(g, 0, NELEM(lookalike) - 1)]);
	unsigned nips = rr(g, 2, 4), i, k;

	for (i = 0; i < nips; i++)
		ips[i] = ip_foreign(g);
	while (t < T0 + g->win) {
		k = rr(g, 1, 5);
		msg_add(g, t, DS_LOWMIX, DS_F_ATTACK, acct,
			ips[rr(g, 0, nips - 1)],
			ru(g) < 0.7 ? g->w->acct[acct].login : look,
			spam_rcpts(g, k), k, unit);
		t += rr(g, 120, 900);
	}
}

/* ---- login attacks ---- */

/* A leaked pair from the lists: an account of ours or not, the right
 * password with probability valid. */
static void pair(struct gen *g, enum ds_class cls, double valid,
		 uint32_t *acct, uint32_t *pw)
{
	uint32_t u = rr(g, BENIGN_POOL, NCONSUMERS - 1);

	*acct = consumer(g, u, cls);
	*pw = g->w->acct[*acct].exists && ru(g) < valid ? 0 : wrong_pw(g);
}

static void gen_stuff_one(struct gen *g, enum ds_class cls, uint16_t unit)
{
	bool good = cls == DS_STUFF_GOOD;
	uint32_t ip = ip_foreign(g), t = attack_start(g), acct, pw;
	unsigned n = good ? rr(g, 50, 300) : rr(g, 500, 3000), i;
	double valid = good ? 0.6 + 0.35 * ru(g) : 0.005 + 0.025 * ru(g);
	double gap = good ? 1 + 9 * ru(g) : 0.2 + 1.8 * ru(g);
	double tf = t;

	for (i = 0; i < n && tf < T0 + g->win; i++) {
		pair(g, cls, valid, &acct, &pw);
		login_add(g, (uint32_t)tf, cls, DS_F_ATTACK, acct, ip, pw, unit);
		tf += gap * (0.5 + ru(g));
	}
}

static void gen_rotating(struct gen *g, uint16_t unit)
{
	unsigned naddr = g->prof == DS_PROFILE_SHORT ? rr(g, 20, 60) :
			 rr(g, 20, 500), i, j, k;
	uint32_t start = attack_start(g), span, acct, pw, ip, t;
	unsigned *per = malloc(naddr * sizeof(*per)), pairs = 0;
	double valid;

	if (!per)
		abort();
	span = g->prof == DS_PROFILE_SHORT ? 120 : rr(g, 600, 3600);
	for (i = 0; i < naddr; i++)
		pairs += per[i] = rr(g, 2, g->prof == DS_PROFILE_SHORT ? 6 :
				     20);
	/* About 160 valid pairs when the list is long enough (issue 9). */
	valid = (double)rr(g, 120, 200) / (pairs * (double)(EXISTING -
		BENIGN_POOL) / (NCONSUMERS - BENIGN_POOL));
	if (valid > 0.9)
		valid = 0.9;
	for (i = 0; i < naddr; i++) {
		ip = ip_foreign(g);
		t = start + rr(g, 0, span);
		k = rr(g, 2, 30);
		for (j = 0; j < per[i]; j++) {
			pair(g, DS_ROTATING, valid, &acct, &pw);
			login_add(g, t, DS_ROTATING, DS_F_ATTACK, acct, ip, pw,
				  unit);
			t += rr(g, 1, k);
		}
	}
	free(per);
}

static void gen_distributed(struct gen *g, uint16_t unit)
{
	uint32_t acct = consumer(g, rr(g, BENIGN_POOL, EXISTING - 1),
				 DS_DISTRIBUTED), t = attack_start(g);
	unsigned naddr = rr(g, 50, 300), i, j, n;
	uint32_t span = rr(g, 600, 3600), ip;
	bool hit = ru(g) < 0.3;

	for (i = 0; i < naddr; i++) {
		ip = ip_foreign(g);
		n = rr(g, 1, 3);
		for (j = 0; j < n; j++)
			login_add(g, t + rr(g, 0, span), DS_DISTRIBUTED,
				  DS_F_ATTACK, acct, ip,
				  hit && i == naddr - 1 && j == n - 1 ? 0 :
				  wrong_pw(g), unit);
	}
}

static void gen_spray(struct gen *g, uint16_t unit)
{
	uint32_t net = ip_foreign(g) & 0xffffff00u, t = attack_start(g);
	unsigned naddr = rr(g, 2, 8), n = rr(g, 200, 1000), i;
	uint32_t spray = wrong_pw(g), acct;
	double have = 0.002 + 0.008 * ru(g), gap = 1 + 9 * ru(g), tf = t;

	for (i = 0; i < n && tf < T0 + g->win; i++) {
		acct = consumer(g, rr(g, BENIGN_POOL, NCONSUMERS - 1),
				DS_SPRAY);
		/* The sprayed password is the account's for a few. */
		login_add(g, (uint32_t)tf, DS_SPRAY, DS_F_ATTACK, acct,
			  net | (10 + rr(g, 0, naddr - 1)),
			  g->w->acct[acct].exists && ru(g) < have ? 0 : spray,
			  unit);
		tf += gap * (0.5 + ru(g));
	}
}

/* ---- the world ---- */

/* Order by time, then generation order. */
/* ---- content (the milter's facts) ---- */

/*
 * A uniform [0, 1) from the world's seed and two keys.  Content is drawn
 * from its own stream, so adding it left every other class's traffic as
 * it was generated before.
 */
static double hu(const struct gen *g, uint64_t a, uint64_t b)
{
	uint64_t z = g->w->seed * 0x9e3779b97f4a7c15ull ^
		     (a + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull ^
		     (b + 1) * 0x94d049bb133111ebull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

/* A value in [lo, hi] for the world (key k). */
static double hr(const struct gen *g, uint64_t k, double lo, double hi)
{
	return lo + (hi - lo) * hu(g, 0xC0FFEE, k);
}

/* PPAP's second mail: the password alone, some minutes after the zip. */
static void ppap_password(struct gen *g, size_t i)
{
	struct ds_event o = g->w->ev[i];
	uint32_t t = o.t + 60 + (uint32_t)(540 * hu(g, 'W', o.seq));
	size_t j;

	if (!(o.flags & DS_F_HISTORY) && t >= g->w->t_end)
		return;
	j = ev_add(g, t, DS_MSG, (enum ds_class)o.cls, o.flags, o.acct, o.ip);
	g->w->ev[j].sender = o.sender;
	g->w->ev[j].rcpts = o.rcpts;
	g->w->ev[j].nrcpt = o.nrcpt;
	g->w->ev[j].unit = o.unit;
	g->w->ev[j].content = DS_C_PW;
}

/*
 * What the messages carry.  Benign: replies (an office 40-70% of its mail,
 * consumers 20-50%); PPAP, the Japanese business habit of an encrypted ZIP
 * followed by a second mail with its password: 20-60% of office staff do
 * it, for 3-15% of their messages, and 5-15% of those write the password
 * into the same message; consumers send an encrypted ZIP with 0-2% of
 * their messages; Office documents with macros in 0.5-2% of office mail.
 * Emotet: replies (80-100%) into threads of their own, each carrying
 * either an encrypted ZIP with its password in the body or a macro
 * document (the share of ZIPs drawn per campaign, 30-100%).
 */
static void content_pass(struct gen *g)
{
	double o_reply = hr(g, 1, 0.4, 0.7), c_reply = hr(g, 2, 0.2, 0.5);
	double ppap_users = hr(g, 3, 0.2, 0.6), ppap_rate = hr(g, 4, 0.03, 0.15);
	double sloppy = hr(g, 5, 0.05, 0.15), macro = hr(g, 6, 0.005, 0.02);
	double c_zip = hr(g, 7, 0.0, 0.02);
	size_t i, n = g->w->nev;

	for (i = 0; i < n; i++) {
		struct ds_event *e = &g->w->ev[i];
		bool office = e->cls == DS_OFFICE;
		uint8_t c = 0;

		if (e->type != DS_MSG || e->cls == DS_SHOP ||
		    e->cls == DS_NEWSLETTER)
			continue;
		if (e->flags & DS_F_ATTACK) {
			if (e->cls != DS_EMOTET)
				continue;
			if (hu(g, 'R', e->seq) < hr(g, 100 + e->unit, 0.8, 1.0))
				c |= DS_C_REPLY | DS_C_NEWTHREAD;
			c |= hu(g, 'Z', e->seq) < hr(g, 200 + e->unit, 0.3, 1.0) ?
			     DS_C_ENC | DS_C_PW : DS_C_MACRO;
			e->content = c;
			continue;
		}
		if (hu(g, 'R', e->seq) < (office ? o_reply : c_reply))
			c |= DS_C_REPLY;
		if (office && hu(g, 'M', e->seq) < macro)
			c |= DS_C_MACRO;
		if (office ? hu(g, 'P', e->acct) < ppap_users &&
			     hu(g, 'Z', e->seq) < ppap_rate :
		    hu(g, 'Z', e->seq) < c_zip) {
			c |= DS_C_ENC;
			if (hu(g, 'S', e->acct) < sloppy)
				c |= DS_C_PW;
		}
		g->w->ev[i].content = c;
		if ((c & DS_C_ENC) && !(c & DS_C_PW))
			ppap_password(g, i);
	}
}

static int ev_cmp(const void *a, const void *b)
{
	const struct ds_event *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct ds_world *ds_world_new(uint64_t seed, enum ds_profile profile)
{
	struct ds_world *w = calloc(1, sizeof(*w));
	struct gen g = { .w = w, .s = seed * 0x2545f4914f6cdd1dull + 1,
			 .prof = profile };
	struct habit office[3][50];
	unsigned noffice = 1, nstaff[3], i, k;
	uint32_t ips[4];
	bool shortp = profile == DS_PROFILE_SHORT;

	if (!w)
		abort();
	w->seed = seed;
	g.win = shortp ? WINDOW_SHORT : WINDOW_FULL;
	g.hist_days = shortp ? 0 : HISTORY_DAYS;
	w->t0 = T0;
	w->t_end = T0 + g.win;
	g.umap = malloc(NCONSUMERS * sizeof(*g.umap));
	if (!g.umap)
		abort();
	memset(g.umap, 0xff, NCONSUMERS * sizeof(*g.umap));
	str_add(w, "%s", "");		/* offset 0 = "" */

	/* Benign. */
	gen_ordinary(&g, shortp ? rr(&g, 10, 20) : rr(&g, 60, 150),
		     DS_ORDINARY, true, false);
	for (k = rr(&g, 1, 2), i = 0; i < k; i++)
		gen_shop(&g, i);
	noffice = shortp ? 1 : rr(&g, 1, 3);
	for (i = 0; i < noffice; i++)
		gen_office(&g, i + 1, office[i], &nstaff[i]);
	if (!shortp) {
		gen_newsletter(&g);
		for (k = rr(&g, 1, 3), i = 0; i < k; i++)
			gen_traveller(&g);
		gen_ordinary(&g, rr(&g, 5, 20), DS_PHONE, true, true);
		for (k = rr(&g, 2, 5), i = 0; i < k; i++)
			gen_newcust(&g);
	}
	ips[0] = ip4(203, 0, 113, 200);
	gen_nat(&g, DS_OFFICE_NAT, ips, 1,
		shortp ? rr(&g, 100, 200) : rr(&g, 250, 350), 0);
	k = rr(&g, 1, 2);
	for (i = 0; i < k; i++)
		ips[i] = ip_carrier(&g);
	gen_nat(&g, DS_CARRIER_NAT, ips, k,
		shortp ? rr(&g, 100, 200) : rr(&g, 200, 600), 1);

	/* Outbound attacks. */
	for (k = shortp ? 1 : rr(&g, 2, 4), i = 0; i < k; i++)
		gen_botnet(&g, w->units[DS_BOTNET]++);
	for (k = shortp ? 1 : rr(&g, 2, 4), i = 0; i < k; i++)
		gen_lowslow(&g, w->units[DS_LOWSLOW]++);
	for (k = shortp ? 1 : rr(&g, 2, 4), i = 0; i < k; i++)
		gen_unowned(&g, w->units[DS_UNOWNED]++);
	if (!shortp) {
		for (k = rr(&g, 2, 4), i = 0; i < k; i++) {
			unsigned o = rr(&g, 0, noffice - 1);
			struct habit *h = &office[o][rr(&g, 0, nstaff[o] - 1)];

			gen_emotet(&g, h, w->units[DS_EMOTET]++);
		}
		for (k = rr(&g, 2, 4), i = 0; i < k; i++)
			gen_lowmix(&g, w->units[DS_LOWMIX]++);
	}

	/* Login attacks. */
	gen_stuff_one(&g, DS_STUFF_BAD, w->units[DS_STUFF_BAD]++);
	gen_stuff_one(&g, DS_STUFF_GOOD, w->units[DS_STUFF_GOOD]++);
	gen_rotating(&g, w->units[DS_ROTATING]++);
	if (!shortp) {
		gen_distributed(&g, w->units[DS_DISTRIBUTED]++);
		gen_spray(&g, w->units[DS_SPRAY]++);
	}

	content_pass(&g);
	qsort(w->ev, w->nev, sizeof(*w->ev), ev_cmp);
	free(g.umap);
	return w;
}

void ds_world_free(struct ds_world *w)
{
	if (!w)
		return;
	free(w->arena);
	free(w->acct);
	free(w->ev);
	free(w);
}
