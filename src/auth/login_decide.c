/*
 * login_decide - the login-abuse engine's decisions (login_decide): the
 * three auth-policy stages, brute force and distributed guessing.  See
 * login.h for the model and login-internal.h for how the work is split;
 * the engine's life cycle and statistics are in login.c.
 *
 * Stages (Dovecot asks before and after the password check, then reports):
 *
 *   LOGIN_BEFORE  answer from what is already known: a blocked address or
 *                 network is rejected silently; a stuffing one is allowed
 *                 (so the password check runs); brute force on one account,
 *                 suspicious counters and distributed guessing delay.
 *   LOGIN_AFTER   the password was right: from a stuffing (or automatically
 *                 blocked) address that means the attacker holds valid
 *                 credentials: reject silently and say compromised.
 *                 Otherwise a success: habitual networks and evidence.
 *   LOGIN_REPORT  the outcome: every counter moves here (so each attempt
 *                 counts once), then the rules judge (login_judge.c).
 *
 * Brute force: auth_bruteforce_failures wrong passwords from one address
 * for one account within auth_window delay that pair; twice as many block
 * the pair when other accounts log in from the address (an office or
 * carrier NAT: the others keep working), else the address (login_ip.c).
 * Wrong passwords count as distinct pwhash values, so a phone retrying one
 * stale password is one wrong password, when mech is PLAIN or LOGIN or not
 * sent at all (Dovecot's default attributes have no mech); only when mech
 * names another mechanism (CRAM-MD5, SCRAM, OAUTHBEARER: pwhash constant
 * or different each time) does each failure count.  The price of not
 * sending mech: a guesser using CRAM-MD5 or SCRAM looks like one wrong
 * password per account; the stuffing, campaign and distributed rules still
 * see it (docs/design/logins.md).  A correct password from the address
 * clears its count.
 *
 * Distributed guessing: auth_distributed_ips distinct addresses failing
 * for one account within auth_window (an address that then logs in
 * correctly drops out) delay that account's logins from every network
 * that is not habitual for it.  Never a block: the owner keeps logging in
 * from home.
 *
 * Requires Dovecot's defaults auth_policy_check_before_auth,
 * auth_policy_check_after_auth and auth_policy_report_after_auth = yes.  A
 * success reported from a stuffing address proves the after-check is off;
 * the address is then blocked outright, so the attacker gets in once.
 *
 * Allowlisted addresses (auth_allowlist) are trusted: they are neither
 * counted nor judged nor flagged as new networks.  Accounts still learn
 * habitual networks and password evidence from them, and manual blocks
 * still apply to them.
 *
 * New country (geoip_db): each successful login looks its address up in
 * the .mmdb (login_geo.c) and teaches the account its country, as for
 * networks; a country the account has not used while it has habitual
 * ones sets new_country and new_network, so the outbound core raises the
 * account's risk as for a new network.  A lookup per successful login
 * (after-check and report): microseconds on a mapped file.
 *
 * Password evidence: Dovecot's pwhash is a truncated (default 12-bit) hash
 * of nonce, login and password, so one password change in 4,096 leaves it
 * unchanged and goes unnoticed; it means something only for PLAIN and
 * LOGIN (constant for CRAM-MD5/SCRAM, different each time for OAUTHBEARER/
 * XOAUTH2), so other mechanisms give no evidence.  A password version
 * attribute (auth_pwversion_attr) from the passdb is exact and wins.
 *
 * Event-loop thread, like the engine.  A verdict lives in the caller's
 * struct; nothing of an attempt is kept but what the tables count.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login-internal.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

/* An allow seen and not yet answered by its after-check or report. */
struct lg_pend {
	struct lg_node node;
	uint32_t t;
	uint16_t waiting;
};

/* One event, parsed once. */
struct ctx {
	const struct login_attempt *a;
	const char *login, *remote, *protocol;
	uint32_t now;
	bool has_ip, allowed;
	struct lg_ip ip;
	uint64_t net, iph;
	uint64_t pwh, pwv;		/* 0 unless meaningful */
	uint32_t report;		/* the report's id (stage 3) */
	struct lg_state *st;		/* the state that applies, or NULL */
	uint16_t cc_learnt;		/* a country this attempt taught */
};

/* Append key=value text to the verdict's reason. */
__attribute__((format(printf, 2, 3)))
static void reason_add(struct login_verdict *v, const char *fmt, ...)
{
	size_t n = strlen(v->reason);
	va_list ap;

	if (n && n + 1 < sizeof(v->reason))
		v->reason[n++] = ' ';
	va_start(ap, fmt);
	vsnprintf(v->reason + n, sizeof(v->reason) - n, fmt, ap);
	va_end(ap);
}

/* The state of c->ip as it applies to this login (see login.h). */
static struct lg_state *state_for(struct login_engine *e, struct ctx *c)
{
	struct lg_state *s;
	struct lg_acct *a;

	if (!c->has_ip)
		return NULL;
	if (c->allowed)
		return lg_state_lookup(e, &c->ip, c->now, LG_SKIP_AUTO);
	s = lg_state_lookup(e, &c->ip, c->now, 0);
	/* A judged network spares the logins that habitually use it. */
	if (s && !s->manual && s->len < 128) {
		a = lg_acct_get(e, c->login, false);
		if (a && lg_acct_habitual(a, c->net))
			s = lg_state_lookup(e, &c->ip, c->now,
					    LG_SKIP_AUTO_NETS);
	}
	return s;
}

/* Describe the state in the verdict. */
static void state_reason(struct ctx *c, struct login_verdict *v)
{
	char key[64], ql[LOG_QSZ];

	lg_cidr_format(&c->st->ip, c->st->len, key, sizeof(key));
	reason_add(v, "state=%s ip=%s %s=%s rule=%s until=%u%s%s",
		   lg_kind_name(c->st->kind), c->remote,
		   c->st->len == 128 ? "key" : "net", key, c->st->rule,
		   c->st->until, c->st->manual ? " actor=" : "",
		   c->st->manual ? log_q(ql, sizeof(ql), c->st->actor) : "");
	snprintf(v->incident, sizeof(v->incident), "%s", c->st->incident);
}

/* Reject silently: Dovecot says only "Authentication failed". */
static void reject(struct login_verdict *v)
{
	v->action = LOGIN_ACTION_REJECT;
	v->status = -1;
	v->msg[0] = '\0';
}

/* Dovecot delays the login by auth_delay seconds. */
static void delay(struct login_engine *e, struct login_verdict *v)
{
	v->action = LOGIN_ACTION_DELAY;
	v->status = (int)e->cfg->auth_delay;
}

/* Wrong passwords from one address on one account, as brute-force
 * evidence: distinct wrong passwords when the mechanism says so, so a
 * phone retrying one stale password is not a brute force. */
static uint32_t bf_count(const struct lg_dent *d)
{
	/* The fleet's counts (login_fleet.c) include this host's. */
	uint32_t est, fails = d->fl_fails > d->fails ? d->fl_fails : d->fails;
	int zeros;

	if ((d->flags & LG_DENT_OPAQUE) || !d->aux)
		return fails;
	zeros = 64 - __builtin_popcountll(d->aux);
	if (zeros == 0)
		return fails;
	/* Linear counting over 64 bits; never more than the failures. */
	est = (uint32_t)(-64.0 * log((double)zeros / 64.0) + 0.5);
	if (d->fl_wrong > est)
		est = d->fl_wrong;
	return est < fails ? est : fails;
}

/* The key of the pending-allow table. */
static uint64_t pend_key(const struct login_attempt *a)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s%c%s%c%s%c%s%c%s",
			 a->login ? a->login : "", 0,
			 a->remote ? a->remote : "", 0,
			 a->session_id ? a->session_id : "", 0,
			 a->protocol ? a->protocol : "", 0,
			 a->pwhash ? a->pwhash : "");

	if (n < 0)
		n = 0;
	return lg_hash(buf, (size_t)n < sizeof(buf) ? (size_t)n :
		       sizeof(buf) - 1);
}

/* The pending entry of a, or NULL. */
static struct lg_pend *pend_find(struct login_engine *e,
				 const struct login_attempt *a)
{
	return (struct lg_pend *)(void *)lg_tab_find(&e->pend, pend_key(a),
						     NULL, NULL);
}

/* Count an allow (+1) or its after-check or report (-1). */
static void pend_move(struct login_engine *e, const struct login_attempt *a,
		      int delta, uint32_t now)
{
	struct lg_pend *p = pend_find(e, a);

	if (delta > 0) {
		if (!p) {
			p = xcalloc(1, sizeof(*p));
			p->node.h = pend_key(a);
			lg_tab_insert(&e->pend, &p->node);
		}
		if (now - p->t > 60)
			p->waiting = 0;
		if (p->waiting < UINT16_MAX)
			p->waiting++;
		p->t = now;
		return;
	}
	if (!p)
		return;
	if (p->waiting)
		p->waiting--;
	if (!p->waiting) {
		lg_tab_remove(&e->pend, &p->node);
		free(p);
	}
}

enum login_stage login_allow_stage(struct login_engine *e,
				   const struct login_attempt *a)
{
	struct lg_pend *p;

	if (e->cfg->auth_pwversion_attr[0] && a->pwversion && *a->pwversion)
		return LOGIN_AFTER;
	p = pend_find(e, a);
	if (p && p->waiting && lg_now(a->now) - p->t <= 60)
		return LOGIN_AFTER;
	return LOGIN_BEFORE;
}

/* The country half of success_effects: learn it, flag it if new. */
static void country_effects(struct login_engine *e, struct ctx *c,
			    struct lg_acct *a, struct login_verdict *v)
{
	char qa[LOG_QSZ], hab[LG_COUNTRIES * 3 + 1], cc[3];
	uint16_t code;

	if (c->a->stage == LOGIN_AFTER)
		a->fresh_cc = 0;
	if (!e->geo || !c->has_ip)
		return;
	code = lg_geo_country(e->geo, &c->ip);
	if (!code)
		return;		/* not placed: neither teaches nor flags */
	if (!lg_acct_has_country(a, code) && a->cc[0] && !c->allowed) {
		lg_acct_countries(a, hab, sizeof(hab));
		lg_cc_format(code, cc);
		v->new_country = true;
		e->stats.new_country++;
		if (!v->new_network)
			e->stats.new_network++;
		v->new_network = true;
		reason_add(v, "rule=new_country account=%s ip=%s country=%s "
			   "habitual=%s", log_q(qa, sizeof(qa), c->login),
			   c->remote, cc, hab);
	}
	if (lg_acct_learn_country(a, code))
		c->cc_learnt = code;
	if (c->a->stage == LOGIN_AFTER)
		a->fresh_cc = c->cc_learnt;
}

/* A correct password from a login that is let in: habitual networks and
 * countries, the new-network and new-country signals, password evidence. */
static void success_effects(struct login_engine *e, struct ctx *c,
			    struct lg_acct *a, struct login_verdict *v)
{
	char qa[LOG_QSZ], net[64];
	struct lg_ip p;

	if (c->pwh)
		a->pwh = c->pwh;
	if (c->pwv)
		a->pwv = c->pwv;
	if (c->has_ip && !lg_acct_habitual(a, c->net)) {
		bool had = lg_acct_has_habitual(a);

		if (had && !c->allowed) {
			p = c->ip;
			lg_ip_mask(&p, lg_net_len(&c->ip));
			lg_cidr_format(&p, lg_net_len(&c->ip), net,
				       sizeof(net));
			v->new_network = true;
			e->stats.new_network++;
			reason_add(v, "rule=new_network account=%s ip=%s "
				   "net=%s", log_q(qa, sizeof(qa), c->login),
				   c->remote, net);
		}
		lg_acct_learn(a, c->net, c->now);
		if (c->a->stage == LOGIN_AFTER) {
			a->fresh_net = c->net;
			a->fresh_at = c->now;
			a->fresh_new = had;
		}
	} else if (c->has_ip) {
		lg_acct_learn(a, c->net, c->now);
	}
	country_effects(e, c, a, v);
	lg_credential_check(e, c->login, c->pwh, c->pwv, v);
}

/* Valid credentials from an attacker: record them in the incident. */
static void compromised(struct login_engine *e, struct ctx *c,
			struct login_verdict *v)
{
	struct lg_incident *inc = lg_inc_find(e, c->st->incident);
	char qa[LOG_QSZ];

	v->compromised = true;
	e->stats.compromised++;
	if (inc)
		lg_inc_note(e, inc, c->login, c->protocol, 0, true, c->now,
			    c->now);
	lg_abused_set(e, c->login, c->pwh, c->pwv, c->now);
	log_msg(LOG_L_WARN, "event=login_compromised account=%s ip=%s "
		"incident=%s state=%s", log_q(qa, sizeof(qa), c->login),
		c->remote, c->st->incident[0] ? c->st->incident : "-",
		lg_kind_name(c->st->kind));
}

/* Stage 1: before the password check. */
static void stage_before(struct login_engine *e, struct ctx *c,
			 struct login_verdict *v)
{
	char qa[LOG_QSZ], why[400];
	struct lg_acct *a;
	struct lg_dent *d = NULL;
	uint32_t n, win = (uint32_t)e->cfg->auth_window;

	pend_move(e, c->a, +1, c->now);
	if (c->st) {
		state_reason(c, v);
		if (c->st->kind == LG_BLOCKED)
			reject(v);
		return;
	}
	if (c->allowed)
		return;
	a = lg_acct_get(e, c->login, false);
	if (a && c->has_ip &&
	    (d = lg_dset_find(&a->badips, c->iph, c->now, win)) &&
	    (d->flags & LG_DENT_PAIR)) {
		reject(v);
		reason_add(v, "rule=bruteforce scope=pair ip=%s account=%s "
			   "failures=%u wrong_passwords=%u window=%u",
			   c->remote, log_q(qa, sizeof(qa), c->login),
			   d->fails, bf_count(d), win);
		return;
	}
	if (a && c->has_ip && d &&
	    bf_count(d) >= (uint32_t)e->cfg->auth_bruteforce_failures) {
		delay(e, v);
		reason_add(v, "rule=bruteforce ip=%s account=%s failures=%u "
			   "wrong_passwords=%u window=%u", c->remote,
			   log_q(qa, sizeof(qa), c->login), d->fails,
			   bf_count(d), win);
		return;
	}
	if (c->has_ip && (lg_suspect_delay(e, &c->ip, c->now, why,
					   sizeof(why)) ||
			  lg_fleet_outage_delay(e, &c->ip, c->now, why,
						sizeof(why)))) {
		delay(e, v);
		reason_add(v, "%s", why);
		return;
	}
	if (!a)
		return;
	lg_dset_count(&a->badips, c->now, win, &n, NULL);
	n = lg_fleet_failing_ips(e, a, n, c->now);
	if (n >= (uint32_t)e->cfg->auth_distributed_ips &&
	    !lg_acct_habitual(a, c->net)) {
		delay(e, v);
		reason_add(v, "rule=distributed account=%s ip=%s "
			   "failing_ips=%u failures=%u window=%u",
			   log_q(qa, sizeof(qa), c->login),
			   c->has_ip ? c->remote : "-", n,
			   window_count(&a->fail, win, c->now), win);
	}
}

/* The after-check of an account under distributed guessing, from an
 * address that guessed wrong on it before: the guess that came right.
 * Enters the address's stuffing state (so the playbook refuses it and
 * lists the pair) and returns it; NULL if the rule does not apply. */
static struct lg_state *distributed_after(struct login_engine *e,
					  struct ctx *c, struct lg_acct *a,
					  struct login_verdict *v)
{
	uint32_t n, win = (uint32_t)e->cfg->auth_window;
	struct lg_dent *d = lg_dset_find(&a->badips, c->iph, c->now, win);
	char why[300], qa[LOG_QSZ];

	if (!d || !d->fails || (d->flags & LG_DENT_OK))
		return NULL;
	lg_dset_count(&a->badips, c->now, win, &n, NULL);
	n = lg_fleet_failing_ips(e, a, n, c->now);
	if (n < (uint32_t)e->cfg->auth_distributed_ips)
		return NULL;
	snprintf(why, sizeof(why), "rule=distributed account=%s ip=%s "
		 "failing_ips=%u failures_from_ip=%u window=%u",
		 log_q(qa, sizeof(qa), c->login), c->remote, n, d->fails,
		 win);
	reason_add(v, "%s", why);
	e->stats.judged++;
	return lg_state_enter(e, &c->ip, 128, LG_STUFFING, "distributed", why,
			      "mamori", false, 0, c->now);
}

/* Stage 2: the password was right. */
static void stage_after(struct login_engine *e, struct ctx *c,
			struct login_verdict *v)
{
	struct lg_acct *a = lg_acct_get(e, c->login, true);

	pend_move(e, c->a, -1, c->now);
	if (!c->st && c->has_ip && !c->allowed &&
	    !lg_acct_habitual(a, c->net))
		c->st = lg_campaign_after(e, &c->ip, c->login, c->protocol,
					  c->now, v);
	if (!c->st && c->has_ip && !c->allowed &&
	    !lg_acct_habitual(a, c->net))
		c->st = distributed_after(e, c, a, v);
	if (c->st) {
		/* The password is right either way; remember it. */
		if (c->pwh)
			a->pwh = c->pwh;
		if (c->pwv)
			a->pwv = c->pwv;
		state_reason(c, v);
		reject(v);
		if (!c->st->manual)
			compromised(e, c, v);
		return;
	}
	success_effects(e, c, a, v);
}

/* Account counters for a failed attempt; true if the address now brute
 * forces the account past twice the threshold. */
static bool count_failure(struct login_engine *e, struct ctx *c,
			  struct lg_acct *a, const char *mech)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	struct lg_dent *d;
	bool fresh;

	window_add(&a->fail, win, c->now, 1);
	if (!c->has_ip)
		return false;
	d = lg_dset_touch(&a->badips, c->iph, c->now, win, 0, &fresh);
	if (!d)
		return false;
	if (d->fails < UINT16_MAX)
		d->fails++;
	if (lg_mech_hashable(mech) && c->a->pwhash && *c->a->pwhash)
		d->aux |= 1ull << (lg_hash_str(c->a->pwhash) % 64);
	else
		d->flags |= LG_DENT_OPAQUE;
	return bf_count(d) >= 2 * (uint32_t)e->cfg->auth_bruteforce_failures;
}

/* Other accounts that logged in from c's address within the window (its
 * exact entries: up to LG_EXACT_MAX, enough to tell shared). */
static uint32_t addr_others_ok(struct login_engine *e, struct ctx *c,
			       const struct lg_acct *a)
{
	uint32_t win = (uint32_t)e->cfg->auth_window, n = 0;
	struct lg_addr *ad = lg_addr_get(e, &c->ip, false, c->now);
	uint16_t i;

	for (i = 0; ad && i < ad->c.logins.n; i++) {
		const struct lg_dent *x = &ad->c.logins.e[i];

		if (x->h != a->node.h && (x->flags & LG_DENT_OK) &&
		    c->now - x->last < win)
			n++;
	}
	return n;
}

/* Block a brute-forcing address, or the pair on a shared one. */
static void bruteforce_block(struct login_engine *e, struct ctx *c,
			     struct lg_acct *a, struct login_verdict *v)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	struct lg_dent *d = lg_dset_find(&a->badips, c->iph, c->now, win);
	struct lg_incident *inc;
	struct lg_state *s;
	char why[300], qa[LOG_QSZ];
	uint32_t others;

	snprintf(why, sizeof(why), "rule=bruteforce ip=%s account=%s "
		 "failures=%u wrong_passwords=%u window=%u", c->remote,
		 log_q(qa, sizeof(qa), c->login), d ? d->fails : 0,
		 d ? bf_count(d) : 0, win);
	if (c->st) {
		if (c->st->kind == LG_STUFFING)
			lg_state_escalate(e, c->st, why, c->now);
		return;
	}
	if (d && (others = addr_others_ok(e, c, a)) > 0) {
		/* A shared address: block the pair, not the others. */
		d->flags |= LG_DENT_PAIR;
		e->stats.pair_blocks++;
		reason_add(v, "%s scope=pair others_ok=%u", why, others);
		log_msg(LOG_L_WARN, "event=login_pair_blocked %s scope=pair "
			"others_ok=%u", why, others);
		return;
	}
	s = lg_state_enter(e, &c->ip, 128, LG_BLOCKED, "bruteforce", why,
			   "mamori", false, 0, c->now);
	e->stats.bruteforce_blocks++;
	reason_add(v, "%s", why);
	snprintf(v->incident, sizeof(v->incident), "%s", s->incident);
	inc = lg_inc_find(e, s->incident);
	if (inc)
		lg_inc_note(e, inc, c->login, c->protocol, d ? d->fails : 1,
			    false, d ? d->first : c->now, c->now);
}

/* Stage 3 from an address that is already stuffing or blocked. */
static void report_in_state(struct login_engine *e, struct ctx *c,
			    struct lg_acct *a, struct login_verdict *v)
{
	struct lg_incident *inc = lg_inc_find(e, c->st->incident);
	bool ok = c->a->success;

	state_reason(c, v);
	if (inc && !c->st->manual)
		lg_inc_note(e, inc, c->login, c->protocol, 1, ok, c->now,
			    c->now);
	if (ok && !c->st->manual) {
		/* Let in: Dovecot did not ask after the password check. */
		compromised(e, c, v);
		if (c->st->kind == LG_STUFFING)
			lg_state_escalate(e, c->st, "rule=after_check_missing "
					  "evidence=success_reported", c->now);
		return;
	}
	if (!ok && !c->a->policy_reject)
		c->st->wrong = c->now;	/* the attack goes on */
	if (!ok && !c->a->policy_reject &&
	    count_failure(e, c, a, c->a->mech) && !c->st->manual)
		bruteforce_block(e, c, a, v);
}

/* Stage 3: the outcome.  Counters, then judgement. */
static void stage_report(struct login_engine *e, struct ctx *c,
			 struct login_verdict *v)
{
	uint32_t win = (uint32_t)e->cfg->auth_window, nfail;
	const struct login_attempt *at = c->a;
	struct lg_acct *a = lg_acct_get(e, c->login, true);
	bool ok = at->success, rej = !ok && at->policy_reject;
	bool habitual = lg_acct_habitual(a, c->net);
	bool had = lg_acct_has_habitual(a);
	uint8_t fresh_flags = 0;
	struct lg_addr *ad;
	struct lg_net *nt;
	struct lg_dent *d;

	pend_move(e, at, -1, c->now);
	if (++e->reports == 0)		/* 0 is no report */
		e->reports = 1;
	c->report = e->reports;
	if (habitual && a->fresh_net == c->net && c->now - a->fresh_at <= 60) {
		/* Learnt by this attempt's own after-check: it was not
		 * habitual before (and new if the account had others). */
		habitual = false;
		had = a->fresh_new;
		a->fresh_net = 0;
		c->cc_learnt = a->fresh_cc;
		a->fresh_cc = 0;
	}
	if (c->st) {
		report_in_state(e, c, a, v);
		return;
	}
	if (c->has_ip && !c->allowed && !habitual && had)
		fresh_flags |= LG_DENT_NEW;
	if (ok)
		success_effects(e, c, a, v);
	if (c->allowed)
		return;
	if (!c->has_ip) {
		if (!ok && !rej)
			count_failure(e, c, a, at->mech);
		return;
	}
	ad = lg_addr_get(e, &c->ip, true, c->now);
	nt = lg_net_get(e, &c->ip, true, c->now);
	if (ok)
		fresh_flags |= LG_DENT_OK;
	if (!rej) {
		window_add(&ad->c.att, win, c->now, 1);
		window_add(&nt->c.att, win, c->now, 1);
		window_add(ok ? &ad->c.ok : &ad->c.fail, win, c->now, 1);
		window_add(ok ? &nt->c.ok : &nt->c.fail, win, c->now, 1);
	}
	/* Before the network's set counts this attempt: a new suspect list
	 * is seeded from that set and then notes the attempt itself. */
	lg_sus_note(e, nt, &c->ip, c->login, c->protocol, ok, habitual,
		    ok ? c->pwh : 0, ok ? c->pwv : 0, c->now);
	lg_ctr_note(e, &ad->c, a->node.h, fresh_flags, 0, c->now);
	lg_ctr_note(e, &nt->c, a->node.h, fresh_flags, c->iph, c->now);
	if (!rej)
		lg_fleet_report(e, &c->ip, c->login, c->protocol,
				lg_mech_hashable(at->mech) ? at->pwhash : NULL,
				ok, (fresh_flags & LG_DENT_NEW) != 0,
				c->report, c->now);
	if (ok) {
		d = lg_dset_find(&a->badips, c->iph, c->now, win);
		if (d)		/* it was the owner: not a failing address */
			d->last = c->now - win;
		if (!habitual && ad->c.logins.n == 1 &&
		    c->now - ad->born < win) {
			/* Others fail on it; this first-seen address got it
			 * right: the owner, or the attack's guess. */
			lg_dset_count(&a->badips, c->now, win, &nfail, NULL);
			if (nfail > 0)
				lg_dsweep_note(e, &c->ip, a, c->now);
		}
	}
	if (!ok && !rej && count_failure(e, c, a, at->mech)) {
		bruteforce_block(e, c, a, v);
		return;
	}
	if (lg_judge(e, &c->ip, ad, nt, c->login, c->protocol, ok, c->report,
		     c->now, v) && ok) {
		v->compromised = true;
		e->stats.compromised++;
		if (!habitual) {	/* learnt from the attacker just now */
			lg_acct_forget(a, c->net);
			lg_acct_forget_country(a, c->cc_learnt);
		}
	}
}

void lg_fleet_judge(struct login_engine *e, const struct lg_ip *ip,
		    const char *login, const char *protocol, bool ok,
		    bool ahead, uint32_t report, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	struct login_verdict v;
	struct lg_addr *ad;
	struct lg_net *nt;
	struct lg_acct *a;
	struct lg_dent *d;
	char remote[64];
	struct ctx c;

	if (lg_allowlisted(e, ip, now) || lg_state_lookup(e, ip, now, 0))
		return;
	memset(&c, 0, sizeof(c));
	memset(&v, 0, sizeof(v));
	lg_cidr_format(ip, 128, remote, sizeof(remote));
	c.login = login;
	c.remote = remote;
	c.protocol = protocol;
	c.now = now;
	c.has_ip = true;
	c.ip = *ip;
	c.net = lg_net_id(ip);
	c.iph = lg_hash(ip->b, 16);
	a = lg_acct_get(e, login, false);
	d = a && !ok ? lg_dset_find(&a->badips, c.iph, now, win) : NULL;
	if (d && !(d->flags & LG_DENT_PAIR) &&
	    bf_count(d) >= 2 * (uint32_t)e->cfg->auth_bruteforce_failures) {
		bruteforce_block(e, &c, a, &v);
		e->stats.fleet_judged++;
		return;
	}
	ad = lg_addr_get(e, ip, false, now);
	nt = lg_net_get(e, ip, false, now);
	if (!ahead || !ad || !nt ||
	    !lg_judge(e, ip, ad, nt, login, protocol, ok, report, now, &v))
		return;
	e->stats.fleet_judged++;
	if (ok) {	/* let in before the fleet's count came back */
		lg_comp_add(e, login);
		e->stats.compromised++;
	}
}

void login_decide(struct login_engine *e, const struct login_attempt *a,
		  struct login_verdict *v)
{
	struct ctx c;
	int stage = (int)a->stage;

	memset(v, 0, sizeof(*v));
	v->action = LOGIN_ACTION_ALLOW;
	memset(&c, 0, sizeof(c));
	c.a = a;
	c.now = lg_now(a->now);
	c.login = a->login ? a->login : "";
	c.remote = a->remote ? a->remote : "";
	c.protocol = a->protocol ? a->protocol : "";
	lg_tick(e, c.now);
	if (stage < 0 || stage > 2)
		stage = LOGIN_BEFORE;
	e->stats.stage[stage]++;
	c.has_ip = lg_ip_parse(c.remote, &c.ip);
	if (c.has_ip) {
		c.net = lg_net_id(&c.ip);
		c.iph = lg_hash(c.ip.b, 16);
		c.allowed = lg_allowlisted(e, &c.ip, c.now);
		if (c.allowed)
			e->stats.allowlisted++;
	} else {
		e->stats.unparsable++;
		c.remote = "-";
	}
	if (lg_mech_hashable(a->mech) && a->pwhash && *a->pwhash)
		c.pwh = lg_hash_str(a->pwhash);
	if (e->cfg->auth_pwversion_attr[0] && a->pwversion && *a->pwversion)
		c.pwv = lg_hash_str(a->pwversion);
	if (!*c.login) {
		e->stats.action[v->action]++;
		return;		/* nothing to judge without a login */
	}
	c.st = state_for(e, &c);
	switch (stage) {
	case LOGIN_BEFORE:
		stage_before(e, &c, v);
		break;
	case LOGIN_AFTER:
		stage_after(e, &c, v);
		break;
	default:
		stage_report(e, &c, v);
		break;
	}
	e->stats.action[v->action]++;
}

