/*
 * login_judge - the stuffing and spraying rules, and what is remembered
 * before a judgement so that nothing learnt is lost once it is made.
 *
 * With T = auth_stuffing_logins for an address (auth_stuffing_net_logins
 * for its /24 or /64), R = auth_stuffing_fail_ratio, N =
 * auth_stuffing_new_ratio and M = auth_stuffing_max_repeat, over the last
 * auth_window:
 *
 *   bad list    distinct logins >= T and failures >= R% of the outcomes
 *   good list   distinct logins >= T, >= N% of them accounts that have
 *               habitual networks and never used this one, attempts per
 *               distinct login <= M/100, and the address (network) has
 *               been active for a third of the window ("settle"), or has
 *               tried 10 x T logins at one or more a second.  The settle
 *               time is there because a crowd arriving at a new network
 *               (a conference, an ISP renumbering a pool) also starts with
 *               one login each; its mail clients come back within minutes,
 *               a list does not.  A crowd producing a thousand first
 *               logins an hour from one address is carrier-grade NAT:
 *               allowlist it.
 *               An account with no habitual network at all (never seen,
 *               or a fresh deployment) does not count as "new": nothing
 *               is known about it.
 *   spraying    the network-level rule when the address itself tried
 *               fewer than T logins (many addresses, few logins each).
 *
 * The campaign sweep (the all-valid addresses of a campaign, listed after
 * the fact) is in login_sweep.c; the campaign's rule and its counters are
 * here (lg_camp_active, the sweep ring filled by lg_judge).
 *
 * Half of T with the bad-list ratio, or a good list still settling, is
 * "suspect": Dovecot delays the address's logins by auth_delay while the
 * counters say so (at most a window; nothing is stored).
 *
 * Suspect lists: once a network has tried LG_SUSPECT_MIN distinct logins
 * within the window it keeps, for each (login, address), the attempts and
 * whether one succeeded, up to LG_SUSPECT_MAX entries per network and
 * LG_SUSPECT_BUDGET in all (further ones are counted as dropped).  The list
 * is seeded from the network's exact set, whose items are looked up in the
 * account table by their 64-bit hash (an account evicted meanwhile is
 * lost).  On a judgement the entries of the address (or all entries of the
 * network but its habitual users) move into the incident, and successes in
 * them become compromised accounts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login-internal.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SUS_OK 0x01
#define SUS_HABITUAL 0x02

/* One (login, address) in a suspect list. */
struct lg_sus_ent {
	uint64_t h, pwh, pwv;
	uint32_t addr, first, last;
	uint16_t tried;
	uint8_t flags;
	char proto[11];
	char *login;
};

/* Open addressing over entry pointers, keyed by (login hash, address). */
struct lg_sus {
	struct lg_sus_ent **slot;
	size_t cap, n;
};

static bool sus_has(const struct lg_net *nt, const char *login,
		    const struct lg_ip *ip);

/* Equality of address entries. */
static bool addr_eq(const struct lg_node *n, const void *key)
{
	return memcmp(((const struct lg_addr *)(const void *)n)->ip.b, key,
		      16) == 0;
}

/* Equality of network entries. */
static bool net_eq(const struct lg_node *n, const void *key)
{
	return ((const struct lg_net *)(const void *)n)->id ==
	       *(const uint64_t *)key;
}

/* Note activity at now: a new episode after a whole idle window. */
static void ctr_active(struct lg_ctr *c, uint32_t now, uint32_t window)
{
	if (!c->first || now - c->last >= window)
		c->first = now;
	c->last = now;
}

void lg_ctr_reset(struct lg_ctr *c)
{
	lg_dset_free(&c->logins);
	memset(c, 0, sizeof(*c));
}

struct lg_addr *lg_addr_get(struct login_engine *e, const struct lg_ip *ip,
			    bool create, uint32_t now)
{
	uint64_t h = lg_hash(ip->b, 16);
	struct lg_node *n = lg_tab_find(&e->addrs, h, addr_eq, ip->b);
	struct lg_addr *ad = (struct lg_addr *)(void *)n;

	if (!create)
		return ad;
	if (!ad) {
		ad = xcalloc(1, sizeof(*ad));
		ad->ip = *ip;
		ad->born = now;
		ad->node.h = h;
		lg_tab_insert(&e->addrs, &ad->node);
	} else {
		lg_tab_touch(&e->addrs, &ad->node);
	}
	ctr_active(&ad->c, now, (uint32_t)e->cfg->auth_window);
	return ad;
}

struct lg_net *lg_net_get(struct login_engine *e, const struct lg_ip *ip,
			  bool create, uint32_t now)
{
	uint64_t id = lg_net_id(ip);
	uint64_t h = lg_hash(&id, sizeof(id));
	struct lg_node *n = lg_tab_find(&e->nets, h, net_eq, &id);
	struct lg_net *nt = (struct lg_net *)(void *)n;

	if (!create)
		return nt;
	if (!nt) {
		nt = xcalloc(1, sizeof(*nt));
		nt->id = id;
		nt->len = (uint8_t)lg_net_len(ip);
		nt->prefix = *ip;
		lg_ip_mask(&nt->prefix, nt->len);
		nt->node.h = h;
		lg_tab_insert(&e->nets, &nt->node);
	} else {
		lg_tab_touch(&e->nets, &nt->node);
	}
	ctr_active(&nt->c, now, (uint32_t)e->cfg->auth_window);
	return nt;
}

void lg_metrics_of(const struct login_engine *e, const struct lg_ctr *c,
		   uint32_t now, struct lg_metrics *m)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	uint16_t i;

	lg_dset_count(&c->logins, now, win, &m->distinct, &m->distinct_new);
	m->attempts = window_count(&c->att, win, now);
	m->fails = window_count(&c->fail, win, now);
	m->oks = window_count(&c->ok, win, now);
	m->span = c->first && now - c->last < win ? now - c->first : 0;
	m->sample = m->ok_accts = m->returning = 0;
	for (i = 0; i < c->logins.n; i++) {
		const struct lg_dent *d = &c->logins.e[i];

		if (now - d->last >= win)
			continue;
		m->sample++;
		m->ok_accts += (d->flags & LG_DENT_OK) != 0;
		m->returning += (d->flags & LG_DENT_RET) != 0;
	}
	lg_fleet_merge(e, c, now, m);
}

void lg_ctr_note(struct login_engine *e, struct lg_ctr *c, uint64_t h,
		 uint8_t flags, uint64_t aux, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	struct lg_dent *d = lg_dset_find(&c->logins, h, now, win);
	uint32_t last = d ? d->last : now;
	bool fresh;

	d = lg_dset_touch(&c->logins, h, now, win, flags, &fresh);
	if (!d)
		return;
	if (aux)
		d->aux = aux;
	d->flags |= flags & LG_DENT_OK;
	if (!fresh && now - last >= LG_RETURN_GAP)
		d->flags |= LG_DENT_RET;
	if (d->n < UINT16_MAX)
		d->n++;
}

/* Failures as a fraction of outcomes. */
static double fail_ratio(const struct lg_metrics *m)
{
	uint32_t n = m->fails + m->oks;

	return n ? (double)m->fails / n : 0.0;
}

/* The bad-list rule at threshold t. */
static bool rule_bad(const struct login_engine *e, const struct lg_metrics *m,
		     uint32_t t)
{
	uint32_t n = m->fails + m->oks;

	return m->distinct >= t && n > 0 &&
	       (uint64_t)m->fails * 100 >=
	       (uint64_t)e->cfg->auth_stuffing_fail_ratio * n;
}

/* The good-list rule at threshold t, settled or not: at most one account
 * in 20 came back (a list is worked through once; a carrier NAT's users,
 * whose networks are all new, come back within minutes). */
static bool rule_good(const struct login_engine *e,
		      const struct lg_metrics *m, uint32_t t)
{
	return m->distinct >= t && m->returning * 20 <= m->sample &&
	       (uint64_t)m->distinct_new * 100 >=
	       (uint64_t)e->cfg->auth_stuffing_new_ratio * m->distinct &&
	       (uint64_t)m->attempts * 100 <=
	       (uint64_t)e->cfg->auth_stuffing_max_repeat * m->distinct;
}

/* Has the good-list pattern lasted long enough to be believed? */
static bool settled(const struct login_engine *e, const struct lg_metrics *m,
		    uint32_t t)
{
	return m->span >= (uint32_t)e->cfg->auth_window / 3 ||
	       (m->distinct >= 10 * t && m->span <= m->distinct);
}

/* The list rule at threshold t: at least t distinct logins, at least
 * auth_list_fail_accounts percent of the accounts tried never logging in
 * from here, and at most one account in 20 coming back (mail clients come
 * back; a list is worked through once, but names an account twice now and
 * then). */
static bool rule_list(const struct login_engine *e,
		      const struct lg_metrics *m, uint32_t t)
{
	return m->distinct >= t && m->sample &&
	       m->returning * 20 <= m->sample &&
	       (uint64_t)(m->sample - m->ok_accts) * 100 >=
	       (uint64_t)e->cfg->auth_list_fail_accounts * m->sample;
}

/* A first-seen address that is list-like at its smallest: two accounts
 * or more (the rule's ratio then needs one never logging in). */
static bool camp_like(const struct login_engine *e, const struct lg_addr *ad,
		      const struct lg_metrics *m, uint32_t now)
{
	return now - ad->born < (uint32_t)e->cfg->auth_window &&
	       rule_list(e, m, 2);
}

/*
 * A campaign: auth_campaign_addrs list-like first-seen addresses in the
 * window, or three of them whose accounts never logging in add up to
 * auth_stuffing_logins (together as much evidence as one address the list
 * rule judges; a few addresses working long lists are as clear as many
 * working short ones).
 */
static bool camp_active(struct login_engine *e, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	uint32_t n = window_count(&e->camp, win, now);

	/* "Many at once" against the background: at least half of the
	 * first-seen addresses that tried two accounts or more.  A fresh
	 * deployment sees every household as first-seen, and one member's
	 * uncorrected typo makes a few of them list-like for a moment. */
	if (n * 2 < window_count(&e->camp_multi, win, now))
		return false;
	return n >= (uint32_t)e->cfg->auth_campaign_addrs ||
	       (n >= 3 && window_count(&e->camp_fail, win, now) >=
		(uint32_t)e->cfg->auth_stuffing_logins);
}

/* Attempts per distinct login. */
static double repeat_of(const struct lg_metrics *m)
{
	return m->distinct ? (double)m->attempts / m->distinct : 0.0;
}

/* New-network logins as a fraction of the distinct ones. */
static double new_ratio(const struct lg_metrics *m)
{
	return m->distinct ? (double)m->distinct_new / m->distinct : 0.0;
}

/* Describe metrics m of a bad or good list into out. */
static void describe(const struct login_engine *e, char *out, size_t n,
		     const char *rule, const char *list, const char *scope,
		     const char *net, const char *ip,
		     const struct lg_metrics *m, const struct lg_metrics *ma)
{
	char extra[64] = "";

	if (ma)
		snprintf(extra, sizeof(extra), " addr_distinct_logins=%u",
			 ma->distinct);
	if (strcmp(list, "bad") == 0)
		snprintf(out, n, "rule=%s list=bad scope=%s%s%s ip=%s "
			 "distinct_logins=%u%s fail_ratio=%.2f attempts=%u "
			 "window=%ld", rule, scope, net ? " net=" : "",
			 net ? net : "", ip, m->distinct, extra,
			 fail_ratio(m), m->attempts, e->cfg->auth_window);
	else
		snprintf(out, n, "rule=%s list=good scope=%s%s%s ip=%s "
			 "distinct_logins=%u%s new_net_ratio=%.2f repeat=%.2f "
			 "span=%u window=%ld", rule, scope, net ? " net=" : "",
			 net ? net : "", ip, m->distinct, extra, new_ratio(m),
			 repeat_of(m), m->span, e->cfg->auth_window);
}

/* Describe a list or campaign judgement into out. */
static void describe_list(const struct login_engine *e, char *out, size_t n,
			  const char *rule, const char *ip,
			  const struct lg_metrics *m, uint32_t first_seen,
			  uint32_t camp)
{
	snprintf(out, n, "rule=%s list=%s scope=address ip=%s "
		 "distinct_logins=%u never_ok=%u of=%u returning=%u "
		 "first_seen=%us campaign_addrs=%u window=%ld", rule,
		 m->ok_accts * 2 > m->sample ? "good" : "bad", ip,
		 m->distinct, m->sample - m->ok_accts, m->sample,
		 m->returning, first_seen, camp, e->cfg->auth_window);
}

void lg_addr_migrate(struct login_engine *e, struct lg_addr *ad,
		     struct lg_incident *inc, const char *current,
		     const char *protocol, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	uint64_t net = lg_net_id(&ad->ip);
	char ql[LOG_QSZ];
	uint16_t i;

	ad->camp |= LG_CAMP_JUDGED;
	for (i = 0; i < ad->c.logins.n; i++) {
		struct lg_dent *d = &ad->c.logins.e[i];
		bool ok = (d->flags & LG_DENT_OK) != 0;
		struct lg_acct *a;

		if (now - d->last >= win || (d->flags & LG_DENT_LISTED))
			continue;
		d->flags |= LG_DENT_LISTED;
		a = (struct lg_acct *)(void *)lg_tab_find(&e->accts, d->h,
							  NULL, NULL);
		if (!a)
			continue;	/* evicted: counted as unlisted */
		lg_inc_note(e, inc, a->login, protocol, d->n ? d->n : 1, ok,
			    d->first, d->last);
		if (!ok)
			continue;
		/* A first-seen address: the network was learnt from the
		 * attacker's login, not the owner's. */
		lg_acct_forget(a, net);
		lg_abused_set(e, a->login, a->pwh, a->pwv, now);
		if (current && strcmp(a->login, current) == 0)
			continue;
		lg_comp_add(e, a->login);
		e->stats.compromised++;
		log_msg(LOG_L_WARN, "event=login_compromised account=%s "
			"incident=%s evidence=success_before_judgement",
			log_q(ql, sizeof(ql), a->login), inc->id);
	}
}

/* Put the list-like address ad into the campaign's stuffing state and its
 * incident; why is the reason. */
static struct lg_state *camp_judge(struct login_engine *e,
				   struct lg_addr *ad, const char *why,
				   const char *current, const char *protocol,
				   uint32_t now)
{
	struct lg_state *s;
	struct lg_incident *inc;

	s = lg_state_enter(e, &ad->ip, 128, LG_STUFFING, "campaign", why,
			   "mamori", false, 0, now);
	e->stats.judged++;
	inc = lg_inc_find(e, s->incident);
	if (inc)
		lg_addr_migrate(e, ad, inc, current, protocol, now);
	return s;
}

/* Count ad in the campaign window once, and never_ok accounts of report
 * (its id; 0: not a report) once: a report judged again when the fleet
 * answers adds nothing the first judgment added.  When the campaign
 * starts, judge the list-like addresses counted before it (their successes
 * were let in: they go into the incident as entered). */
static void camp_count(struct login_engine *e, struct lg_addr *ad,
		       uint32_t never_ok, uint32_t report, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	bool was = camp_active(e, now);

	if (report && ad->camp_report == report)
		never_ok = 0;		/* counted by its first judgment */
	else if (report)
		ad->camp_report = report;

	if (!(ad->camp & LG_CAMP_COUNTED)) {
		ad->camp |= LG_CAMP_COUNTED;
		window_add(&e->camp, win, now, 1);
		e->stats.campaign_addrs++;
		e->camp_ring[e->camp_next] = ad->ip;
		e->camp_next = (e->camp_next + 1) % LG_CAMP_RING;
		if (e->camp_n < LG_CAMP_RING)
			e->camp_n++;
	}
	window_add(&e->camp_fail, win, now, never_ok);
	lg_fleet_campaign(e, &ad->ip, never_ok, false, now);
	lg_campaign_raised(e, was, ad, now);
}

bool lg_campaign_active(struct login_engine *e, uint32_t now)
{
	return camp_active(e, now);
}

void lg_campaign_raised(struct login_engine *e, bool was,
			const struct lg_addr *ad, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window, i, k;
	char a[64], why[400];
	struct lg_metrics m;

	if (camp_active(e, now)) {
		if (!e->camp_last || now - e->camp_last >= win)
			e->camp_first = now;
		e->camp_last = now;
	}
	if (was || !camp_active(e, now))
		return;
	e->sweep_last = 0;	/* the sweep looks at once (next tick) */
	for (k = 0; k < e->camp_n; k++) {
		struct lg_addr *x;

		i = (e->camp_next + LG_CAMP_RING - 1 - k) % LG_CAMP_RING;
		x = lg_addr_get(e, &e->camp_ring[i], false, now);
		if (!x || x == ad || (x->camp & LG_CAMP_JUDGED) ||
		    lg_state_lookup(e, &x->ip, now, 0))
			continue;
		/* It was list-like when counted; it may have gone on with a
		 * run of valid pairs since, but its names that are not
		 * mailboxes still never log in.  A returning account (a
		 * client) or every failure corrected (typos) spares it. */
		lg_metrics_of(e, &x->c, now, &m);
		if (m.returning * 20 > m.sample ||
		    (uint64_t)(m.sample - m.ok_accts) * 200 <
		    (uint64_t)e->cfg->auth_list_fail_accounts * m.sample)
			continue;
		lg_cidr_format(&x->ip, 128, a, sizeof(a));
		describe_list(e, why, sizeof(why), "campaign", a, &m,
			      now - x->born,
			      window_count(&e->camp, win, now));
		camp_judge(e, x, why, NULL, "", now);
	}
}

struct lg_state *lg_campaign_after(struct login_engine *e,
				   const struct lg_ip *ip, const char *login,
				   const char *protocol, uint32_t now,
				   struct login_verdict *v)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	struct lg_addr *ad = lg_addr_get(e, ip, false, now);
	const struct lg_dent *d;
	struct lg_metrics m;
	char a[64], why[400];

	/* No campaign yet: the report counts this attempt (the common case
	 * costs no scan here). */
	if (!ad || !camp_active(e, now))
		return NULL;
	lg_metrics_of(e, &ad->c, now, &m);
	/* Count this success, not yet reported. */
	d = lg_dset_find(&ad->c.logins, lg_hash_str(login), now, win);
	if (!d) {
		m.distinct++;
		m.sample++;
		m.ok_accts++;
	} else {
		if (!(d->flags & LG_DENT_OK))
			m.ok_accts++;
		if (now - d->last >= LG_RETURN_GAP)
			m.returning++;
	}
	if (!camp_like(e, ad, &m, now))
		return NULL;
	camp_count(e, ad, (ad->camp & LG_CAMP_COUNTED) ? 0 :
		   m.sample - m.ok_accts, 0, now);
	if (!camp_active(e, now))
		return NULL;
	lg_cidr_format(ip, 128, a, sizeof(a));
	describe_list(e, why, sizeof(why), "campaign", a, &m, now - ad->born,
		      window_count(&e->camp, win, now));
	snprintf(v->reason, sizeof(v->reason), "%s", why);
	return camp_judge(e, ad, why, login, protocol, now);
}

/* Is the network of ip in a live automatic state of its own? */
static bool net_judged(struct login_engine *e, const struct lg_net *nt,
		       uint32_t now)
{
	struct lg_state *s = lg_state_get(e, &nt->prefix, nt->len, now);

	return s != NULL;
}

bool lg_suspect_delay(struct login_engine *e, const struct lg_ip *ip,
		      uint32_t now, char *reason, size_t n)
{
	uint32_t t = (uint32_t)e->cfg->auth_stuffing_logins;
	uint32_t tn = (uint32_t)e->cfg->auth_stuffing_net_logins;
	struct lg_addr *ad = lg_addr_get(e, ip, false, now);
	struct lg_net *nt = lg_net_get(e, ip, false, now);
	const char *list = NULL;
	struct lg_metrics m;
	char a[64], net[64];

	if (ad) {
		lg_metrics_of(e, &ad->c, now, &m);
		if (rule_bad(e, &m, (t + 1) / 2 < 2 ? 2 : (t + 1) / 2))
			list = "bad";
		else if (rule_good(e, &m, t) && !settled(e, &m, t))
			list = "good";
		if (list) {
			lg_cidr_format(ip, 128, a, sizeof(a));
			describe(e, reason, n, "suspect", list, "address",
				 NULL, a, &m, NULL);
			return true;
		}
	}
	if (!nt || net_judged(e, nt, now))
		return false;
	lg_metrics_of(e, &nt->c, now, &m);
	if (rule_bad(e, &m, (tn + 1) / 2 < 2 ? 2 : (tn + 1) / 2))
		list = "bad";
	else if (rule_good(e, &m, tn) && !settled(e, &m, tn))
		list = "good";
	if (!list)
		return false;
	lg_cidr_format(ip, 128, a, sizeof(a));
	lg_cidr_format(&nt->prefix, nt->len, net, sizeof(net));
	describe(e, reason, n, "suspect", list, "network", net, a, &m, NULL);
	return true;
}

bool lg_judge(struct login_engine *e, const struct lg_ip *ip,
	      struct lg_addr *ad, struct lg_net *nt, const char *login,
	      const char *protocol, bool ok, uint32_t report, uint32_t now,
	      struct login_verdict *v)
{
	uint32_t t = (uint32_t)e->cfg->auth_stuffing_logins;
	uint32_t tn = (uint32_t)e->cfg->auth_stuffing_net_logins;
	struct lg_metrics ma, mn;
	const char *rule = NULL;
	char a[64], net[64], why[400], ql[LOG_QSZ];
	struct lg_incident *inc;
	struct lg_state *s;
	bool at_net = false;

	lg_metrics_of(e, &ad->c, now, &ma);
	lg_cidr_format(ip, 128, a, sizeof(a));
	if (!(ad->camp & LG_CAMP_MULTI) && ma.distinct >= 2 &&
	    now - ad->born < (uint32_t)e->cfg->auth_window) {
		ad->camp |= LG_CAMP_MULTI;
		window_add(&e->camp_multi, (uint32_t)e->cfg->auth_window, now,
			   1);
		lg_fleet_campaign(e, &ad->ip, 0, true, now);
		e->sweep_ring[e->sweep_next] = ad->ip;
		e->sweep_next = (e->sweep_next + 1) % LG_SWEEP_RING;
		if (e->sweep_n < LG_SWEEP_RING)
			e->sweep_n++;
	}
	lg_cidr_format(&nt->prefix, nt->len, net, sizeof(net));
	if (rule_bad(e, &ma, t)) {
		rule = "stuffing";
		describe(e, why, sizeof(why), rule, "bad", "address", NULL, a,
			 &ma, NULL);
	} else if (rule_good(e, &ma, t) && settled(e, &ma, t)) {
		rule = "stuffing";
		describe(e, why, sizeof(why), rule, "good", "address", NULL, a,
			 &ma, NULL);
	} else if (rule_list(e, &ma, t) &&
		   ma.sample - ma.ok_accts >= (t + 1) / 2) {
		/* At least half of T accounts never logging in: at 20 users
		 * with 10 % uncorrected failures, 7 of 20 happens by chance
		 * on one address in 400; 10 of 20 on one in 100,000. */
		rule = "stuffing";
		if (camp_like(e, ad, &ma, now))
			camp_count(e, ad, (ad->camp & LG_CAMP_COUNTED) ? 0 :
				   ma.sample - ma.ok_accts, report, now);
		describe_list(e, why, sizeof(why), rule, a, &ma,
			      now - ad->born, window_count(&e->camp,
			      (uint32_t)e->cfg->auth_window, now));
	} else if (camp_like(e, ad, &ma, now) &&
		   (camp_count(e, ad, (ad->camp & LG_CAMP_COUNTED) ?
				       !ok : ma.sample - ma.ok_accts, report,
				       now),
		    camp_active(e, now))) {
		describe_list(e, why, sizeof(why), "campaign", a, &ma,
			      now - ad->born, window_count(&e->camp,
			      (uint32_t)e->cfg->auth_window, now));
		s = camp_judge(e, ad, why, login, protocol, now);
		log_msg(LOG_L_WARN, "event=login_judged incident=%s "
			"account=%s %s", s->incident,
			log_q(ql, sizeof(ql), login), why);
		snprintf(v->reason, sizeof(v->reason), "%s", why);
		snprintf(v->incident, sizeof(v->incident), "%s", s->incident);
		return true;
	} else if (!net_judged(e, nt, now)) {
		lg_metrics_of(e, &nt->c, now, &mn);
		at_net = true;
		if (rule_bad(e, &mn, tn)) {
			rule = ma.distinct < t ? "spraying" : "stuffing";
			describe(e, why, sizeof(why), rule, "bad", "network",
				 net, a, &mn, &ma);
		} else if (rule_good(e, &mn, tn) && settled(e, &mn, tn)) {
			rule = ma.distinct < t ? "spraying" : "stuffing";
			describe(e, why, sizeof(why), rule, "good", "network",
				 net, a, &mn, &ma);
		}
	}
	if (!rule) {
		if (ok)
			lg_campaign_early(e, ad, protocol, now);
		return false;
	}
	if (at_net)
		s = lg_state_enter(e, &nt->prefix, nt->len, LG_STUFFING, rule,
				   why, "mamori", false, 0, now);
	else
		s = lg_state_enter(e, ip, 128, LG_STUFFING, rule, why,
				   "mamori", false, 0, now);
	e->stats.judged++;
	inc = lg_inc_find(e, s->incident);
	if (inc) {
		bool listed = sus_has(nt, login, ip);

		lg_sus_migrate(e, nt, at_net ? NULL : ip, inc, login, now);
		if (!listed) {
			/* No suspect list yet: at least this attempt. */
			struct lg_acct *acc = lg_acct_get(e, login, false);

			lg_inc_note(e, inc, login, protocol, 1, ok, now, now);
			if (ok)
				lg_abused_set(e, login, acc ? acc->pwh : 0,
					      acc ? acc->pwv : 0, now);
		}
	}
	log_msg(LOG_L_WARN, "event=login_judged incident=%s account=%s %s",
		s->incident, log_q(ql, sizeof(ql), login), why);
	snprintf(v->reason, sizeof(v->reason), "%s", why);
	snprintf(v->incident, sizeof(v->incident), "%s", s->incident);
	return true;
}

/* Slot of (h, addr) in s: its entry, or the empty slot to fill. */
static size_t sus_slot(const struct lg_sus *s, uint64_t h, uint32_t addr)
{
	size_t i = (size_t)((h ^ (addr * 0x9e3779b97f4a7c15ull)) &
			    (s->cap - 1));

	while (s->slot[i] && (s->slot[i]->h != h || s->slot[i]->addr != addr))
		i = (i + 1) & (s->cap - 1);
	return i;
}

/* Does the suspect list of nt hold (login, ip)? */
static bool sus_has(const struct lg_net *nt, const char *login,
		    const struct lg_ip *ip)
{
	const struct lg_sus *s = nt->sus;

	return s && s->slot[sus_slot(s, lg_hash_str(login),
				     (uint32_t)lg_hash(ip->b, 16))] != NULL;
}

/* Free one entry. */
static void sus_ent_free(struct login_engine *e, struct lg_sus_ent *x)
{
	free(x->login);
	free(x);
	e->sus_total--;
}

/* Rebuild s at capacity cap, keeping the entries keep() accepts. */
static void sus_rebuild(struct login_engine *e, struct lg_sus *s, size_t cap,
			bool (*keep)(const struct lg_sus_ent *x, void *arg),
			void *arg)
{
	struct lg_sus old = *s;
	size_t i;

	s->cap = cap;
	s->n = 0;
	s->slot = xcalloc(cap, sizeof(*s->slot));
	for (i = 0; i < old.cap; i++) {
		struct lg_sus_ent *x = old.slot[i];

		if (!x)
			continue;
		if (keep && !keep(x, arg)) {
			sus_ent_free(e, x);
			continue;
		}
		s->slot[sus_slot(s, x->h, x->addr)] = x;
		s->n++;
	}
	free(old.slot);
}

/* Keep entries seen within the window (arg: the oldest time kept). */
static bool sus_live(const struct lg_sus_ent *x, void *arg)
{
	return x->last >= *(uint32_t *)arg;
}

void lg_sus_free(struct login_engine *e, struct lg_sus *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->cap; i++)
		if (s->slot[i])
			sus_ent_free(e, s->slot[i]);
	free(s->slot);
	free(s);
}

/* Find or add (login, addr); NULL when over the limits. */
static struct lg_sus_ent *sus_get(struct login_engine *e, struct lg_sus *s,
				  uint64_t h, uint32_t addr,
				  const char *login, uint32_t now)
{
	uint32_t oldest = now - (uint32_t)e->cfg->auth_window;
	struct lg_sus_ent *x;
	size_t i = sus_slot(s, h, addr);

	if (s->slot[i])
		return s->slot[i];
	if (s->n >= LG_SUSPECT_MAX || e->sus_total >= LG_SUSPECT_BUDGET) {
		e->stats.suspect_dropped++;
		return NULL;
	}
	if ((s->n + 1) * 4 > s->cap * 3) {
		sus_rebuild(e, s, s->cap, sus_live, &oldest);
		if ((s->n + 1) * 4 > s->cap * 3)
			sus_rebuild(e, s, s->cap * 2, NULL, NULL);
		i = sus_slot(s, h, addr);
	}
	x = xcalloc(1, sizeof(*x));
	x->h = h;
	x->addr = addr;
	x->first = now;
	x->login = xstrdup(login);
	s->slot[i] = x;
	s->n++;
	e->sus_total++;
	return x;
}

/* Start the network's suspect list from its exact set of logins. */
static void sus_seed(struct login_engine *e, struct lg_net *nt, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	struct lg_sus *s = xcalloc(1, sizeof(*s));
	uint16_t i;

	s->cap = 64;
	s->slot = xcalloc(s->cap, sizeof(*s->slot));
	nt->sus = s;
	for (i = 0; i < nt->c.logins.n; i++) {
		const struct lg_dent *d = &nt->c.logins.e[i];
		const struct lg_acct *a;
		struct lg_sus_ent *x;

		if (now - d->last >= win)
			continue;
		a = (const struct lg_acct *)(const void *)lg_tab_find(
			&e->accts, d->h, NULL, NULL);
		if (!a)
			continue;
		x = sus_get(e, s, d->h, (uint32_t)d->aux, a->login, now);
		if (!x)
			break;
		x->first = d->first;
		x->last = d->last;
		x->tried = d->n ? d->n : 1;
		if (d->flags & LG_DENT_OK)
			x->flags |= SUS_OK;
		if (!(d->flags & LG_DENT_NEW) && lg_acct_habitual(a, nt->id))
			x->flags |= SUS_HABITUAL;
	}
}

void lg_sus_note(struct login_engine *e, struct lg_net *nt,
		 const struct lg_ip *ip, const char *login,
		 const char *protocol, bool ok, bool habitual, uint64_t pwh,
		 uint64_t pwv, uint32_t now)
{
	uint32_t distinct;
	struct lg_sus_ent *x;

	if (!nt->sus) {
		lg_dset_count(&nt->c.logins, now,
			      (uint32_t)e->cfg->auth_window, &distinct, NULL);
		if (distinct + 1 < LG_SUSPECT_MIN)
			return;
		sus_seed(e, nt, now);
	}
	x = sus_get(e, nt->sus, lg_hash_str(login),
		    (uint32_t)lg_hash(ip->b, 16), login, now);
	if (!x)
		return;
	if (!x->tried && habitual)
		x->flags |= SUS_HABITUAL;
	if (x->tried < UINT16_MAX)
		x->tried++;
	x->last = now;
	snprintf(x->proto, sizeof(x->proto), "%s", protocol);
	if (ok) {
		x->flags |= SUS_OK;
		if (pwh)
			x->pwh = pwh;
		if (pwv)
			x->pwv = pwv;
	}
}

/* Which entries a migration takes. */
struct migrate {
	struct login_engine *e;
	struct lg_net *nt;
	struct lg_incident *inc;
	const char *current;
	uint32_t addr, now;
	bool all;
};

/* Move one matching entry into the incident; false = drop it here. */
static bool sus_take(const struct lg_sus_ent *x, void *arg)
{
	struct migrate *m = arg;
	struct lg_acct *a;
	char ql[LOG_QSZ];

	if (m->all ? (x->flags & SUS_HABITUAL) != 0 : x->addr != m->addr)
		return !m->all;
	lg_inc_note(m->e, m->inc, x->login, x->proto, x->tried,
		    (x->flags & SUS_OK) != 0, x->first, x->last);
	if (!(x->flags & SUS_OK))
		return false;
	a = lg_acct_get(m->e, x->login, false);
	if (a && !(x->flags & SUS_HABITUAL))
		lg_acct_forget(a, m->nt->id);	/* learnt from the attacker */
	lg_abused_set(m->e, x->login, x->pwh ? x->pwh : a ? a->pwh : 0,
		      x->pwv ? x->pwv : a ? a->pwv : 0, m->now);
	if (strcmp(x->login, m->current) != 0) {
		lg_comp_add(m->e, x->login);
		m->e->stats.compromised++;
		log_msg(LOG_L_WARN, "event=login_compromised account=%s "
			"incident=%s evidence=success_before_judgement",
			log_q(ql, sizeof(ql), x->login), m->inc->id);
	}
	return false;
}

void lg_sus_migrate(struct login_engine *e, struct lg_net *nt,
		    const struct lg_ip *ip, struct lg_incident *inc,
		    const char *current_login, uint32_t now)
{
	struct migrate m = {
		.e = e, .nt = nt, .inc = inc, .current = current_login,
		.addr = ip ? (uint32_t)lg_hash(ip->b, 16) : 0, .now = now,
		.all = ip == NULL,
	};

	if (!nt->sus)
		return;
	sus_rebuild(e, nt->sus, nt->sus->cap, sus_take, &m);
	if (m.all) {
		lg_sus_free(e, nt->sus);
		nt->sus = NULL;
	}
}
