/*
 * detsim-base - the two baselines of the detection evaluation, modelled in
 * the simulator so they see exactly the traffic mamori sees:
 *
 *   postfwd, EOP-like   per sasl_username at END-OF-MESSAGE: 30 messages
 *                       per minute (rate()) and 500 recipients per hour
 *                       (rcpt()), Exchange Online Protection's outbound
 *                       limits; postfwd's windows are fixed (a counter
 *                       starts at its first hit and restarts when its
 *                       period ends) and every request counts, refused or
 *                       not; over a limit: DEFER_IF_PERMIT.
 *                       bench/postfwd-eop.cf is the same for the real
 *                       postfwd in the real-time run.
 *   fail2ban-like       5 failed logins from one address within 600 s
 *                       (findtime) ban the address for 600 s (bantime):
 *                       fail2ban's defaults with the dovecot jail.
 *
 * Single-threaded; sized for one world.
 */
#include <stdlib.h>
#include <string.h>

#include "detsim.h"

struct fixed {
	uint32_t start, count;
};

struct ds_postfwd {
	struct fixed *minute, *hour;
	size_t n;
};

struct ds_postfwd *ds_postfwd_new(size_t naccts)
{
	struct ds_postfwd *p = calloc(1, sizeof(*p));

	if (!p || !(p->minute = calloc(naccts, sizeof(*p->minute))) ||
	    !(p->hour = calloc(naccts, sizeof(*p->hour))))
		abort();
	p->n = naccts;
	return p;
}

/* Count n into a fixed window of period s; over max? */
static bool fixed_add(struct fixed *f, uint32_t n, uint32_t max, uint32_t s,
		      uint32_t now)
{
	if (!f->start || now - f->start >= s) {
		f->start = now;
		f->count = 0;
	}
	f->count += n;
	return f->count > max;
}

bool ds_postfwd_eom(struct ds_postfwd *p, uint32_t acct, uint32_t nrcpt,
		    uint32_t now)
{
	bool a, b;

	if (acct >= p->n)
		return false;
	a = fixed_add(&p->minute[acct], 1, 30, 60, now);
	b = fixed_add(&p->hour[acct], nrcpt, 500, 3600, now);
	return a || b;
}

void ds_postfwd_free(struct ds_postfwd *p)
{
	if (!p)
		return;
	free(p->minute);
	free(p->hour);
	free(p);
}

#define F2B_SLOTS (1u << 18)
#define F2B_MAXRETRY 5
#define F2B_FINDTIME 600
#define F2B_BANTIME 600

struct f2b_ent {
	uint32_t ip;			/* 0 = empty */
	uint32_t banned_until;
	uint32_t fails[F2B_MAXRETRY];	/* ring of the last failures */
	uint8_t next;
};

struct ds_f2b {
	struct f2b_ent *tab;
};

struct ds_f2b *ds_f2b_new(void)
{
	struct ds_f2b *f = calloc(1, sizeof(*f));

	if (!f || !(f->tab = calloc(F2B_SLOTS, sizeof(*f->tab))))
		abort();
	return f;
}

/* The entry of ip (created); linear probing, the table never fills in
 * one world (well under 2^18 addresses). */
static struct f2b_ent *f2b_ent(struct ds_f2b *f, uint32_t ip)
{
	uint32_t i = (ip * 2654435761u) >> 14;

	for (;; i = (i + 1) & (F2B_SLOTS - 1)) {
		struct f2b_ent *e = &f->tab[i & (F2B_SLOTS - 1)];

		if (e->ip == ip)
			return e;
		if (!e->ip) {
			e->ip = ip;
			return e;
		}
	}
}

bool ds_f2b_banned(struct ds_f2b *f, uint32_t ip, uint32_t now)
{
	return now < f2b_ent(f, ip)->banned_until;
}

void ds_f2b_failure(struct ds_f2b *f, uint32_t ip, uint32_t now)
{
	struct f2b_ent *e = f2b_ent(f, ip);
	uint32_t oldest;

	e->fails[e->next] = now;
	e->next = (uint8_t)((e->next + 1) % F2B_MAXRETRY);
	oldest = e->fails[e->next];	/* the 5th most recent */
	if (oldest && now - oldest < F2B_FINDTIME) {
		e->banned_until = now + F2B_BANTIME;
		memset(e->fails, 0, sizeof(e->fails));
	}
}

void ds_f2b_free(struct ds_f2b *f)
{
	if (!f)
		return;
	free(f->tab);
	free(f);
}
