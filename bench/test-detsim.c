/*
 * test-detsim - the evaluation's own parts: the two baseline models count
 * as postfwd and fail2ban do (table of request sequences), and the scenario
 * generator is deterministic per seed, time-ordered, holds every class and
 * keeps foreign and domestic addresses apart.  Nothing here runs mamori.
 */
#include <stdio.h>
#include <string.h>

#include "detsim.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* postfwd-EOP: messages at times t[] with n recipients each; which are
 * deferred (bitmask by index). */
static const struct {
	const char *label;
	unsigned count;
	uint32_t step, rcpts;
	unsigned first_deferred;	/* index, or count = none */
} pf_rows[] = {
	{ "30 a minute pass", 30, 1, 1, 30 },
	{ "the 31st within a minute is deferred", 31, 1, 1, 30 },
	{ "one every 2 s never trips the minute", 100, 2, 1, 100 },
	{ "500 recipients an hour pass", 10, 120, 50, 10 },
	{ "the 501st recipient in the hour is deferred", 11, 120, 50, 10 },
	{ "a new hour starts afresh", 11, 400, 50, 11 },
};

static void test_postfwd(void)
{
	size_t r;

	for (r = 0; r < NELEM(pf_rows); r++) {
		struct ds_postfwd *p = ds_postfwd_new(4);
		unsigned i, first = pf_rows[r].count;

		for (i = 0; i < pf_rows[r].count; i++)
			if (ds_postfwd_eom(p, 1, pf_rows[r].rcpts,
					   1000 + i * pf_rows[r].step) &&
			    first == pf_rows[r].count)
				first = i;
		is_int(first, pf_rows[r].first_deferred, "postfwd: %s",
		       pf_rows[r].label);
		ds_postfwd_free(p);
	}
}

/* fail2ban-like: failures at offsets, then is the address banned at
 * check? */
static const struct {
	const char *label;
	uint32_t fails[6];
	unsigned n;
	uint32_t check;
	bool banned;
} f2b_rows[] = {
	{ "4 failures: no ban", { 0, 10, 20, 30 }, 4, 31, false },
	{ "5 failures in 10 minutes: banned", { 0, 10, 20, 30, 40 }, 5, 41,
	  true },
	{ "the ban ends after 10 minutes", { 0, 10, 20, 30, 40 }, 5, 640,
	  false },
	{ "5 failures over 11 minutes: no ban", { 0, 160, 320, 480, 660 },
	  5, 661, false },
};

static void test_f2b(void)
{
	size_t r;

	for (r = 0; r < NELEM(f2b_rows); r++) {
		struct ds_f2b *f = ds_f2b_new();
		unsigned i;

		for (i = 0; i < f2b_rows[r].n; i++)
			ds_f2b_failure(f, 0xf0000001u,
				       5000 + f2b_rows[r].fails[i]);
		ok(ds_f2b_banned(f, 0xf0000001u, 5000 + f2b_rows[r].check) ==
		   f2b_rows[r].banned, "fail2ban: %s", f2b_rows[r].label);
		ok(!ds_f2b_banned(f, 0xf0000002u, 5000 + f2b_rows[r].check),
		   "fail2ban: %s: another address is not banned",
		   f2b_rows[r].label);
		ds_f2b_free(f);
	}
}

/* A digest of a world's events and strings. */
static uint64_t digest(const struct ds_world *w)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < w->nev; i++) {
		const struct ds_event *e = &w->ev[i];

		h = (h ^ e->t) * 1099511628211ull;
		h = (h ^ e->ip) * 1099511628211ull;
		h = (h ^ e->acct) * 1099511628211ull;
		h = (h ^ e->nrcpt) * 1099511628211ull;
	}
	for (i = 0; i < w->arena_len; i++)
		h = (h ^ (unsigned char)w->arena[i]) * 1099511628211ull;
	return h;
}

static void test_world(enum ds_profile prof, const char *name)
{
	struct ds_world *a = ds_world_new(7, prof), *b = ds_world_new(7, prof);
	struct ds_world *c = ds_world_new(8, prof);
	unsigned seen[DS__NCLASS] = { 0 }, k;
	bool sorted = true, countries = true;
	size_t i;

	ok(a->nev > 0 && digest(a) == digest(b),
	   "%s: the same seed gives the same world", name);
	ok(digest(a) != digest(c), "%s: another seed another world", name);
	for (i = 0; i < a->nev; i++) {
		const struct ds_event *e = &a->ev[i];
		bool foreign = (e->ip >> 28) == 0xf;

		if (i && e->t < a->ev[i - 1].t)
			sorted = false;
		if (foreign == !strcmp(ds_country(e->ip), "JP"))
			countries = false;
		if (!(e->flags & DS_F_HISTORY)) {
			seen[e->cls]++;
			if (e->t < a->t0 || e->t >= a->t_end + 60)
				sorted = false;
		}
	}
	ok(sorted, "%s: events in time order, counted ones in the window",
	   name);
	ok(countries, "%s: 240.0.0.0/4 is abroad, the rest JP", name);
	for (k = 0; k < DS__NCLASS; k++) {
		bool in_short = k != DS_EMOTET && k != DS_LOWMIX &&
				k != DS_DISTRIBUTED && k != DS_SPRAY &&
				k != DS_NEWSLETTER && k != DS_TRAVELLER &&
				k != DS_PHONE && k != DS_NEWCUST;

		if (prof == DS_PROFILE_FULL || in_short)
			ok(seen[k] > 0, "%s: class %s has events", name,
			   ds_classes[k].name);
	}
	ds_world_free(a);
	ds_world_free(b);
	ds_world_free(c);
}

int main(void)
{
	test_postfwd();
	test_f2b();
	test_world(DS_PROFILE_FULL, "full");
	test_world(DS_PROFILE_SHORT, "short");
	return tap_done();
}
