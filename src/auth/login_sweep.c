/*
 * login_sweep - the sweeps: valid pairs that were let in, listed after the
 * fact (issue 9: "every valid pair the attackers held listed in an
 * incident"); the rules and their reasons are in docs/design/logins.md.
 *
 * The campaign sweep: in a rotating-address campaign (login_judge.c), an
 * address whose pairs were all or mostly valid is never list-like and is
 * let in.  Every LG_SWEEP_EVERY seconds while a campaign is live (and two
 * windows after), the last LG_SWEEP_RING first-seen addresses with two
 * accounts or more are looked at again: one that tried them each once,
 * one at least successfully, none returning, in one session, and then fell
 * silent for LG_SWEEP_QUIET is listed in the campaign's incident.  With
 * geoip_db and home_countries set, one outside home_countries is listed at
 * once (lg_campaign_early), one inside is never swept (a carrier NAT hands
 * one address to two customers minutes apart).
 *
 * The distributed sweep: many addresses guessing one account (the
 * distributed rule, login_decide.c) refuse the right guess of an address
 * that guessed wrong before; a right guess that is the address's first
 * attempt looks like the owner on a new network and is let in, and so is a
 * right guess after wrong ones from an address that came before the attack
 * was recognised.  The owner's client comes back (mail clients poll within
 * LG_SWEEP_QUIET); an address of the attack gets in once.  So a correct
 * login for an account that other addresses were failing on, from a
 * first-seen address not habitual for it, is remembered; LG_SWEEP_QUIET
 * later, if the account was by then under distributed guessing
 * (auth_distributed_ips failing addresses in the window) and the address
 * tried no other account, had no other success and has been silent since,
 * the account goes into an incident (rule "distributed") as entered.
 *
 * Neither sweep blocks: a wrong listing costs a password reset, never a
 * refused login.  Limits: the rings (LG_SWEEP_RING addresses, 64 KB;
 * LG_DSWEEP_RING right guesses, 32 KB); when more arrive the oldest are
 * dropped unswept (a missed listing, never a wrong one).  Single-threaded,
 * as the engine.
 */
#include <string.h>

#include "util/config.h"
#include "util/log.h"

#include "auth/login-internal.h"

/* ---- the campaign sweep ---- */

/* Was every account in c's exact set within the window tried once? */
static bool tried_once(const struct lg_ctr *c, uint32_t now, uint32_t win)
{
	uint16_t i;

	for (i = 0; i < c->logins.n; i++)
		if (now - c->logins.e[i].last < win &&
		    (c->logins.e[i].n > 1 ||
		     (c->logins.e[i].flags & LG_DENT_RET)))
			return false;
	return true;
}

/* Were c's accounts within the window tried in one session: no silence of
 * LG_SWEEP_QUIET or more between one account's attempts and the next's?
 * The sweep reads such a silence as "the list is done", so accounts before
 * and after one are different people behind a shared address (two phones
 * given one carrier address half an hour apart). */
static bool one_session(const struct lg_ctr *c, uint32_t now, uint32_t win)
{
	uint32_t t[LG_EXACT_MAX], x;
	uint16_t i, n = 0, k;

	for (i = 0; i < c->logins.n && n < LG_EXACT_MAX; i++) {
		if (now - c->logins.e[i].last >= win)
			continue;
		x = c->logins.e[i].first;
		for (k = n++; k > 0 && t[k - 1] > x; k--)
			t[k] = t[k - 1];
		t[k] = x;
	}
	for (i = 1; i < n; i++)
		if (t[i] - t[i - 1] >= LG_SWEEP_QUIET)
			return false;
	return true;
}

/* Does address ad, born within the campaign's live period (give or take a
 * window), look like the campaign's all-valid part?  Fills m. */
static bool sweep_like(struct login_engine *e, const struct lg_addr *ad,
		       uint32_t now, struct lg_metrics *m)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;

	if (ad->camp & (LG_CAMP_JUDGED | LG_CAMP_SWEPT))
		return false;
	if (ad->born + win < e->camp_first || ad->born > e->camp_last + win)
		return false;
	if (now - ad->c.last < LG_SWEEP_QUIET || now - ad->born >= 2 * win)
		return false;
	/* Where the customers are (home_countries), a carrier NAT hands one
	 * address to two customers minutes apart, each logging in once:
	 * exactly this shape.  Only a list-like address is judged there. */
	if (lg_addr_where(e, ad) < 0)
		return false;
	lg_metrics_of(e, &ad->c, now, m);
	/* Worked through once: two accounts or more, each tried exactly
	 * once, one of them at least entered, none coming back, all in one
	 * session.  Clients poll (a household's, a NAT's), a typo is
	 * retried, a stale password is retried for days. */
	return m->distinct >= 2 && m->sample == m->distinct &&
	       m->ok_accts >= 1 && m->returning == 0 &&
	       tried_once(&ad->c, now, win) && one_session(&ad->c, now, win);
}

void lg_campaign_sweep(struct login_engine *e, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window, k;
	char a[64], why[400];
	struct lg_metrics m;

	if (!e->camp_last || now - e->camp_last >= 2 * win ||
	    now - e->sweep_last < LG_SWEEP_EVERY)
		return;
	e->sweep_last = now;
	for (k = 0; k < e->sweep_n; k++) {
		struct lg_incident *inc;
		struct lg_addr *ad;

		ad = lg_addr_get(e, &e->sweep_ring[k], false, now);
		if (!ad || lg_state_lookup(e, &ad->ip, now, 0))
			continue;
		if (!(ad->camp & LG_CAMP_EARLY) && lg_campaign_active(e, now) &&
		    lg_early_like(e, ad, now, &m)) {
			/* Abroad: no need to wait for the silence. */
			lg_campaign_early(e, ad, "", now);
			continue;
		}
		if (!sweep_like(e, ad, now, &m))
			continue;
		lg_cidr_format(&ad->ip, 128, a, sizeof(a));
		snprintf(why, sizeof(why), "rule=campaign_sweep scope=address "
			 "ip=%s distinct_logins=%u ok=%u attempts=%u "
			 "returning=%u first_seen=%us quiet=%us "
			 "campaign_addrs=%u window=%ld", a, m.distinct,
			 m.ok_accts, m.attempts, m.returning, now - ad->born,
			 now - ad->c.last, window_count(&e->camp, win, now),
			 e->cfg->auth_window);
		inc = lg_inc_for(e, &ad->ip, 128, "campaign", why, now);
		log_msg(LOG_L_WARN, "event=login_swept incident=%s %s",
			inc->id, why);
		e->stats.judged++;
		lg_addr_migrate(e, ad, inc, NULL, "", now);
		ad->camp |= LG_CAMP_SWEPT;
	}
}

/* ---- abroad, at once ---- */

int lg_addr_where(struct login_engine *e, const struct lg_addr *ad)
{
	const char *home = e->cfg->home_countries;
	uint16_t code;
	char cc[3];

	if (!e->geo || !home || !home[0])
		return 0;
	code = lg_geo_country(e->geo, &ad->ip);
	if (!code)
		return 0;
	lg_cc_format(code, cc);
	return config_list_has(home, cc) ? -1 : 1;
}

bool lg_early_like(struct login_engine *e, const struct lg_addr *ad,
		   uint32_t now, struct lg_metrics *m)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;

	if (now - ad->born >= win || (ad->camp & LG_CAMP_JUDGED &&
				      !(ad->camp & LG_CAMP_EARLY)) ||
	    lg_addr_where(e, ad) <= 0)
		return false;
	lg_metrics_of(e, &ad->c, now, m);
	return m->distinct >= 2 && m->sample == m->distinct &&
	       m->ok_accts >= 1 && !m->returning &&
	       tried_once(&ad->c, now, win) &&
	       one_session(&ad->c, now, win);
}

void lg_campaign_early(struct login_engine *e, struct lg_addr *ad,
		       const char *protocol, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	struct lg_incident *inc;
	struct lg_metrics m;
	char ip[64], why[400];

	/* Once listed, it stays the campaign's while the counts dip. */
	if ((!(ad->camp & LG_CAMP_EARLY) && !lg_campaign_active(e, now)) ||
	    !lg_early_like(e, ad, now, &m))
		return;
	lg_cidr_format(&ad->ip, 128, ip, sizeof(ip));
	snprintf(why, sizeof(why), "rule=campaign_sweep scope=address ip=%s "
		 "abroad=1 distinct_logins=%u ok=%u attempts=%u returning=0 "
		 "first_seen=%us campaign_addrs=%u window=%u", ip, m.distinct,
		 m.ok_accts, m.attempts, now - ad->born,
		 window_count(&e->camp, win, now), win);
	inc = lg_inc_for(e, &ad->ip, 128, "campaign", why, now);
	if (!(ad->camp & LG_CAMP_EARLY)) {
		e->stats.judged++;
		log_msg(LOG_L_WARN, "event=login_swept incident=%s %s",
			inc->id, why);
	}
	/* The first time the accounts so far, then each new one. */
	lg_addr_migrate(e, ad, inc, NULL, protocol, now);
	ad->camp |= LG_CAMP_EARLY | LG_CAMP_SWEPT;
}

/* ---- the distributed sweep ---- */

void lg_dsweep_note(struct login_engine *e, const struct lg_ip *ip,
		    const struct lg_acct *a, uint32_t now)
{
	struct lg_dsw *x = &e->dsweep[e->dsweep_next];

	x->ip = *ip;
	x->acct = a->node.h;
	x->t = now ? now : 1;
	e->dsweep_next = (e->dsweep_next + 1) % LG_DSWEEP_RING;
}

/* Is candidate x still the attack's silent right guess?  Fills *a, *n;
 * *wait when it may still become one (not silent long enough). */
static bool dsweep_like(struct login_engine *e, const struct lg_dsw *x,
			struct lg_addr *ad, uint32_t now, struct lg_acct **a,
			uint32_t *n, bool *wait)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	const struct lg_dent *d;
	struct lg_metrics m;

	if (!ad || (ad->camp & (LG_CAMP_JUDGED | LG_CAMP_SWEPT)) ||
	    lg_state_lookup(e, &ad->ip, now, 0) || x->t - ad->born >= win)
		return false;
	lg_metrics_of(e, &ad->c, now, &m);
	/* This account only, one success, then silence: a polling client
	 * would have come back and got in again. */
	d = lg_dset_find(&ad->c.logins, x->acct, now, win);
	if (m.distinct != 1 || m.oks != 1 || !d)
		return false;
	if (now - d->last < LG_SWEEP_QUIET) {
		*wait = true;	/* failures since: look again later */
		return false;
	}
	*a = (struct lg_acct *)(void *)lg_tab_find(&e->accts, x->acct, NULL,
						   NULL);
	if (!*a)
		return false;
	lg_dset_count(&(*a)->badips, now, win, n, NULL);
	return *n >= (uint32_t)e->cfg->auth_distributed_ips;
}

void lg_dsweep(struct login_engine *e, uint32_t now)
{
	uint32_t k, n;
	char ip[64], why[400], qa[LOG_QSZ];

	if (now - e->dsweep_last < LG_SWEEP_EVERY && now >= e->dsweep_last)
		return;
	e->dsweep_last = now;
	for (k = 0; k < LG_DSWEEP_RING; k++) {
		struct lg_dsw *x = &e->dsweep[k];
		struct lg_incident *inc;
		struct lg_addr *ad;
		struct lg_acct *a;
		bool wait = false;

		if (!x->t || now - x->t < LG_SWEEP_QUIET)
			continue;
		ad = lg_addr_get(e, &x->ip, false, now);
		if (!dsweep_like(e, x, ad, now, &a, &n, &wait)) {
			if (!wait)
				x->t = 0;
			continue;
		}
		lg_cidr_format(&ad->ip, 128, ip, sizeof(ip));
		snprintf(why, sizeof(why), "rule=distributed_sweep "
			 "scope=address ip=%s account=%s failing_ips=%u "
			 "ok=1 first_seen=%us quiet=%us window=%ld", ip,
			 log_q(qa, sizeof(qa), a->login), n, x->t - ad->born,
			 now - ad->c.last, e->cfg->auth_window);
		inc = lg_inc_for(e, &ad->ip, 128, "distributed", why, now);
		log_msg(LOG_L_WARN, "event=login_swept incident=%s %s",
			inc->id, why);
		lg_inc_note(e, inc, a->login, "", 1, true, x->t, x->t);
		/* The network was learnt from the attacker's login. */
		lg_acct_forget(a, lg_net_id(&ad->ip));
		lg_abused_set(e, a->login, a->pwh, a->pwv, now);
		lg_comp_add(e, a->login);
		e->stats.compromised++;
		e->stats.judged++;
		ad->camp |= LG_CAMP_SWEPT;
		x->t = 0;
	}
}
