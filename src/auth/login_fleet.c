/*
 * login_fleet - the login engine's counters summed over a fleet of mamorid
 * sharing one store (redis:), so a botnet spreading its logins over N IMAP
 * servers is judged on everything it did, not on each server's share.
 * See docs/design/fleet.md ("Logins").
 *
 * What is shared, per report, through store_count (namespace "login",
 * buckets of auth_window / 4, the last LG_FLEET_NB summed: the count covers
 * between three quarters of auth_window and all of it, never more):
 *   address   attempts, failures, distinct logins, distinct logins from a
 *             network new to the account (HyperLogLog)
 *   network   the same for its /24 or /64
 *   account   failures; distinct failing addresses (exact set)
 *   pair      (address, account): failures; distinct wrong passwords
 *             (exact set of pwhash values, only for PLAIN/LOGIN)
 *   campaign  list-like first-seen addresses (HyperLogLog), their accounts
 *             that never logged in, first-seen addresses with two accounts
 *             or more (HyperLogLog): the answer raises the engine's
 *             campaign windows and may start the campaign at once
 * Keys and items are hashed by the store under the deployment's key: Redis
 * holds no login, address or pwhash.
 *
 * login_decide answers at once, so the fleet's answer comes after the
 * report that asked: it raises the local counts (never lowers them: the
 * fleet's include this host's) and, when it is ahead of them, judges the
 * address, network and pair again at once (lg_fleet_judge), so a block is
 * decided at the same count as on one host and reaches the others through
 * the shared address states.  That second judgment reads the fleet's
 * numbers and adds nothing of the report's again (the call carries the
 * report's id).  A reader of the counts (the before-check's
 * delay, the next report's rules) sees the last answer while it is younger
 * than auth_window.
 *
 * Fast path: a success is sent only from an address or network that
 * failed here or in the fleet's last answer; clean logins cost no round
 * trip.  So the fleet's successes are those of failing addresses: the
 * fail ratio may count a success only one host saw as missing, which
 * errs towards judging an address with failures everywhere.
 *
 * Outage: an answer with STORE_E_RETRY (or any failure) is counted
 * (fleet_failures), logged at most every 10 s (event=login_fleet_
 * unavailable); the engine judges on this host's counts meanwhile, and
 * with store_failure_action = defer delays addresses that failed here
 * within the window (lg_fleet_outage_delay).  At most LG_FLEET_INFLIGHT
 * calls wait for answers; past that reports are not sent (fleet_skipped).
 * Event-loop thread, like the engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login-internal.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#define LG_FLEET_NB 4		/* buckets summed */
#define LG_FLEET_LOG_EVERY 10	/* seconds between outage logs */
#define LG_FLEET_OUTAGE 30	/* a failure this recent means "down" */

/* The counts of one call, in order. */
enum {
	F_ADDR_ATT, F_ADDR_FAIL, F_ADDR_LOGINS, F_ADDR_NEW,
	F_NET_ATT, F_NET_FAIL, F_NET_LOGINS, F_NET_NEW,
	F_OK_COUNTS,		/* a success stops here */
	F_ACCT_FAIL = F_OK_COUNTS, F_ACCT_IPS, F_PAIR_FAIL, F_PAIR_WRONG,
	F_COUNTS
};

/* One call waiting for its answer. */
struct lg_fcall {
	struct lg_fcall *next, *prev;
	struct login_engine *e;		/* NULL: the engine is gone */
	struct lg_ip ip;
	uint32_t now, report;
	bool ok, campaign;
	char protocol[16];
	char login[];
};

/* Buckets' length for the window. */
static uint32_t fleet_len(const struct login_engine *e)
{
	uint32_t w = (uint32_t)e->cfg->auth_window / LG_FLEET_NB;

	return w < 15 ? 15 : w;
}

/* Is an answer given at "at" still good at now? */
static bool fleet_fresh(const struct login_engine *e, uint32_t at,
			uint32_t now)
{
	return at && now - at < (uint32_t)e->cfg->auth_window;
}

/* Saturate to a byte. */
static uint8_t sat8(uint64_t v)
{
	return v > 255 ? 255 : (uint8_t)v;
}

/* Saturate to 16 bits. */
static uint16_t sat16(uint64_t v)
{
	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

/* Saturate to 32 bits. */
static uint32_t sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Unlink f from the engine's calls. */
static void fcall_unlink(struct login_engine *e, struct lg_fcall *f)
{
	if (f->next)
		f->next->prev = f->prev;
	if (f->prev)
		f->prev->next = f->next;
	else
		e->fcalls = f->next;
	e->nfcalls--;
}

/* A call made at now failed: counted, logged now and then. */
static void fleet_failed(struct login_engine *e, int result, uint32_t now)
{
	e->stats.fleet_failures++;
	e->fleet_down_at = now;
	if (e->fleet_logged_at &&
	    now - e->fleet_logged_at < LG_FLEET_LOG_EVERY)
		return;
	e->fleet_logged_at = now;
	log_msg(LOG_L_WARN, "event=login_fleet_unavailable result=%s "
		"failures=%llu note=\"judging on this host's counts%s\"",
		store_result_str(result),
		(unsigned long long)e->stats.fleet_failures,
		e->cfg->store_failure_action == 1 ? "; delaying addresses "
		"failing here (store_failure_action=defer)" : "");
}

/* Set an address's or network's fleet counts from c[0..4); true when the
 * fleet is ahead of this host's own counts. */
static bool fleet_set(const struct login_engine *e, struct lg_ctr *ctr,
		      const struct store_cnt *c, uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window, distinct;

	ctr->fl.at = now;
	ctr->fl.att = sat32(c[0].count);
	ctr->fl.fails = sat32(c[1].count);
	ctr->fl.distinct = sat32(c[2].count);
	ctr->fl.distinct_new = sat32(c[3].count);
	lg_dset_count(&ctr->logins, now, win, &distinct, NULL);
	return ctr->fl.fails > window_count(&ctr->fail, win, now) ||
	       ctr->fl.distinct > distinct;
}

/* Raise window w to the fleet's count. */
static void raise_window(struct window *w, uint32_t win, uint32_t now,
			 uint64_t fleet)
{
	uint32_t local = window_count(w, win, now);

	if (fleet > local)
		window_add(w, win, now, sat32(fleet - local));
}

/* The fleet answered a campaign count: addresses, their failing
 * accounts, first-seen addresses with two accounts or more. */
static void campaign_answer(struct login_engine *e, const struct store_cnt *c,
			    uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;
	bool was = lg_campaign_active(e, now);

	raise_window(&e->camp, win, now, c[0].count);
	raise_window(&e->camp_fail, win, now, c[1].count);
	raise_window(&e->camp_multi, win, now, c[2].count);
	lg_campaign_raised(e, was, NULL, now);
}

/* The fleet answered a report. */
static void fleet_answer(void *arg, int result, const struct store_cnt *c,
			 size_t n)
{
	struct lg_fcall *f = arg;
	struct login_engine *e = f->e;
	uint32_t win;
	struct lg_addr *ad;
	struct lg_net *nt;
	struct lg_acct *a;
	struct lg_dent *d;
	bool ahead = false;

	if (e == NULL) {
		free(f);
		return;
	}
	fcall_unlink(e, f);
	if (result != STORE_OK || n < (f->campaign ? 3 : F_OK_COUNTS)) {
		fleet_failed(e, result, f->now);
		free(f);
		return;
	}
	e->fleet_down_at = 0;
	win = (uint32_t)e->cfg->auth_window;
	if (f->campaign) {
		campaign_answer(e, c, f->now);
		free(f);
		return;
	}
	if ((ad = lg_addr_get(e, &f->ip, false, f->now)) != NULL)
		ahead |= fleet_set(e, &ad->c, c + F_ADDR_ATT, f->now);
	if ((nt = lg_net_get(e, &f->ip, false, f->now)) != NULL)
		ahead |= fleet_set(e, &nt->c, c + F_NET_ATT, f->now);
	if (n == F_COUNTS && (a = lg_acct_get(e, f->login, false)) != NULL) {
		a->fl_at = f->now;
		a->fl_fails = sat16(c[F_ACCT_FAIL].count);
		a->fl_ips = sat16(c[F_ACCT_IPS].count);
		d = lg_dset_find(&a->badips, lg_hash(f->ip.b, 16), f->now,
				 win);
		if (d) {
			d->fl_fails = sat8(c[F_PAIR_FAIL].count);
			d->fl_wrong = sat8(c[F_PAIR_WRONG].count);
		}
	}
	lg_fleet_judge(e, &f->ip, f->login, f->protocol, f->ok, ahead,
		       f->report, f->now);
	free(f);
}

/* One count. */
static struct store_cnt cnt(const char *key, int kind, uint32_t len,
			    uint32_t add, const char *item)
{
	struct store_cnt c = { key, (uint8_t)kind, LG_FLEET_NB, len, add,
			       item, false, 0 };

	return c;
}

/* Is ctr failing here, or in the fleet's last answer? */
static bool failing(const struct login_engine *e, const struct lg_ctr *ctr,
		    uint32_t now)
{
	uint32_t win = (uint32_t)e->cfg->auth_window;

	return window_count(&ctr->fail, win, now) > 0 ||
	       (fleet_fresh(e, ctr->fl.at, now) && ctr->fl.fails > 0);
}

/* Start a call: tracked until answered. */
static struct lg_fcall *fcall_new(struct login_engine *e,
				  const struct lg_ip *ip, const char *login,
				  const char *protocol, bool ok, uint32_t now)
{
	size_t ll = strlen(login);
	struct lg_fcall *f = xcalloc(1, sizeof(*f) + ll + 1);

	f->e = e;
	f->ip = *ip;
	f->now = now;
	f->ok = ok;
	snprintf(f->protocol, sizeof(f->protocol), "%s", protocol);
	memcpy(f->login, login, ll + 1);
	f->next = e->fcalls;
	if (f->next)
		f->next->prev = f;
	e->fcalls = f;
	e->nfcalls++;
	e->stats.fleet_sent++;
	return f;
}

void lg_fleet_campaign(struct login_engine *e, const struct lg_ip *ip,
		       uint32_t never_ok, bool multi, uint32_t now)
{
	uint32_t len = fleet_len(e);
	char addr[64];
	struct store_cnt c[3] = {
		cnt("cm|addresses", STORE_CNT_HLL, len, 0, NULL),
		cnt("cm|never_ok", STORE_CNT_SUM, len, never_ok, NULL),
		cnt("cm|multi", STORE_CNT_HLL, len, 0, NULL),
	};
	struct lg_fcall *f;

	if (!store_is_shared(e->st))
		return;
	if (e->nfcalls >= LG_FLEET_INFLIGHT) {
		e->stats.fleet_skipped++;
		return;
	}
	lg_cidr_format(ip, 128, addr, sizeof(addr));
	c[multi ? 2 : 0].item = addr;
	f = fcall_new(e, ip, "", "", false, now);
	f->campaign = true;
	store_count(e->st, "login", now, c, 3, fleet_answer, f);
}

/* Each count's tag, its key's first bytes (so two counts of one subject
 * never meet), and its kind. */
static const struct {
	char tag[4];
	uint8_t kind;
} fleet_counts[F_COUNTS] = {
	{ "aa|", STORE_CNT_SUM }, { "af|", STORE_CNT_SUM },
	{ "al|", STORE_CNT_HLL }, { "an|", STORE_CNT_HLL },
	{ "na|", STORE_CNT_SUM }, { "nf|", STORE_CNT_SUM },
	{ "nl|", STORE_CNT_HLL }, { "nn|", STORE_CNT_HLL },
	{ "uf|", STORE_CNT_SUM }, { "ui|", STORE_CNT_SET },
	{ "pf|", STORE_CNT_SUM }, { "pw|", STORE_CNT_SET },
};

/* Keys of counts [from, to) for subject s, into k; c gets key, kind,
 * buckets and nothing to add. */
static void fleet_keys(const struct login_engine *e, size_t from, size_t to,
		       const char *s, char k[][STORE_CNT_KEY_MAX],
		       struct store_cnt *c)
{
	size_t i;

	size_t sl = strlen(s);

	/* By hand: gcc's truncation warning cannot see the callers' bound
	 * (a subject is at most STORE_CNT_KEY_MAX - 80 bytes). */
	if (sl > STORE_CNT_KEY_MAX - 4)
		sl = STORE_CNT_KEY_MAX - 4;
	for (i = from; i < to; i++) {
		memcpy(k[i], fleet_counts[i].tag, 3);
		memcpy(k[i] + 3, s, sl);
		k[i][3 + sl] = '\0';
		c[i] = cnt(k[i], fleet_counts[i].kind, fleet_len(e), 0, NULL);
	}
}

void lg_fleet_report(struct login_engine *e, const struct lg_ip *ip,
		     const char *login, const char *protocol,
		     const char *pwhash, bool ok, bool is_new,
		     uint32_t report, uint32_t now)
{
	char k[F_COUNTS][STORE_CNT_KEY_MAX], addr[64], net[64];
	char pair[STORE_CNT_KEY_MAX], pw[STORE_CNT_KEY_MAX];
	struct store_cnt c[F_COUNTS];
	struct lg_addr *ad;
	struct lg_net *nt;
	struct lg_fcall *f;
	size_t n, ll = strlen(login);
	struct lg_ip p = *ip;

	if (!store_is_shared(e->st))
		return;
	if (ok) {
		ad = lg_addr_get(e, ip, false, now);
		nt = lg_net_get(e, ip, false, now);
		if (!(ad && failing(e, &ad->c, now)) &&
		    !(nt && failing(e, &nt->c, now)))
			return;		/* the fast path */
	}
	if (e->nfcalls >= LG_FLEET_INFLIGHT || ll > STORE_CNT_KEY_MAX - 80) {
		e->stats.fleet_skipped++;
		return;
	}
	lg_cidr_format(ip, 128, addr, sizeof(addr));
	lg_ip_mask(&p, lg_net_len(ip));
	lg_cidr_format(&p, lg_net_len(ip), net, sizeof(net));
	fleet_keys(e, F_ADDR_ATT, F_NET_ATT, addr, k, c);
	fleet_keys(e, F_NET_ATT, F_OK_COUNTS, net, k, c);
	c[F_ADDR_ATT].add = c[F_NET_ATT].add = 1;
	c[F_ADDR_FAIL].add = c[F_NET_FAIL].add = !ok;
	c[F_ADDR_LOGINS].item = c[F_NET_LOGINS].item = login;
	c[F_ADDR_NEW].item = c[F_NET_NEW].item = is_new ? login : NULL;
	n = F_OK_COUNTS;
	if (!ok) {
		snprintf(pair, sizeof(pair), "%s|%s", addr, login);
		fleet_keys(e, F_ACCT_FAIL, F_PAIR_FAIL, login, k, c);
		fleet_keys(e, F_PAIR_FAIL, F_COUNTS, pair, k, c);
		c[F_ACCT_FAIL].add = c[F_PAIR_FAIL].add = 1;
		c[F_ACCT_IPS].item = addr;
		pw[0] = '\0';
		if (pwhash && *pwhash && strlen(pwhash) < sizeof(pw) - 3)
			snprintf(pw, sizeof(pw), "w|%s", pwhash);
		c[F_PAIR_WRONG].item = pw[0] ? pw : NULL;
		n = F_COUNTS;
	}
	f = fcall_new(e, ip, login, protocol, ok, now);
	f->report = report;
	store_count(e->st, "login", now, c, n, fleet_answer, f);
}

void lg_fleet_merge(const struct login_engine *e, const struct lg_ctr *c,
		    uint32_t now, struct lg_metrics *m)
{
	uint32_t oks;

	if (!fleet_fresh(e, c->fl.at, now))
		return;
	if (c->fl.distinct > m->distinct)
		m->distinct = c->fl.distinct;
	if (c->fl.distinct_new > m->distinct_new)
		m->distinct_new = c->fl.distinct_new;
	if (c->fl.fails > m->fails)
		m->fails = c->fl.fails;
	if (c->fl.att > m->attempts)
		m->attempts = c->fl.att;
	oks = c->fl.att > c->fl.fails ? c->fl.att - c->fl.fails : 0;
	if (oks > m->oks)
		m->oks = oks;
}

uint32_t lg_fleet_failing_ips(const struct login_engine *e,
			      const struct lg_acct *a, uint32_t local,
			      uint32_t now)
{
	return fleet_fresh(e, a->fl_at, now) && a->fl_ips > local ?
	       a->fl_ips : local;
}

bool lg_fleet_outage_delay(struct login_engine *e, const struct lg_ip *ip,
			   uint32_t now, char *reason, size_t n)
{
	uint32_t win = (uint32_t)e->cfg->auth_window, fails;
	struct lg_addr *ad;
	char a[64];

	if (!e->fleet_down_at || now - e->fleet_down_at > LG_FLEET_OUTAGE ||
	    e->cfg->store_failure_action != 1 ||
	    (ad = lg_addr_get(e, ip, false, now)) == NULL ||
	    (fails = window_count(&ad->c.fail, win, now)) == 0)
		return false;
	lg_cidr_format(ip, 128, a, sizeof(a));
	snprintf(reason, n, "rule=fleet_unavailable ip=%s failures_here=%u "
		 "window=%u", a, fails, win);
	return true;
}

/* Unblock context: the address's pairs to reset. */
struct unblock {
	struct login_engine *e;
	uint64_t iph;
	const char *addr;
	uint32_t now;
};

/* Answer of a reset: only a failure matters. */
static void reset_done(void *arg, int result, const struct store_cnt *c,
		       size_t n)
{
	(void)c;
	(void)n;
	if (result != STORE_OK)
		fleet_failed(arg, result, lg_now(0));
}

/* Reset counts [from, to) of subject s. */
static void reset_counts(struct login_engine *e, size_t from, size_t to,
			 const char *s, uint32_t now)
{
	char k[F_COUNTS][STORE_CNT_KEY_MAX];
	struct store_cnt c[F_COUNTS];
	size_t i;

	fleet_keys(e, from, to, s, k, c);
	for (i = from; i < to; i++)
		c[i].reset = true;
	store_count(e->st, "login", now, c + from, to - from, reset_done, e);
}

/* Reset the pair of an account that failed from the address. */
static void unblock_acct(struct lg_node *n, void *arg)
{
	struct lg_acct *a = (struct lg_acct *)(void *)n;
	struct unblock *u = arg;
	char pair[STORE_CNT_KEY_MAX];
	struct lg_dent *d = lg_dset_find(&a->badips, u->iph, u->now,
					 (uint32_t)u->e->cfg->auth_window);

	if (!d || strlen(a->login) > STORE_CNT_KEY_MAX - 80)
		return;
	d->fl_fails = d->fl_wrong = 0;
	snprintf(pair, sizeof(pair), "%s|%s", u->addr, a->login);
	reset_counts(u->e, F_PAIR_FAIL, F_COUNTS, pair, u->now);
}

void lg_fleet_unblock(struct login_engine *e, const struct lg_ip *ip,
		      int len, uint32_t now)
{
	char addr[64];
	struct lg_ip p = *ip;
	int nl = lg_net_len(ip);
	struct unblock u = { e, lg_hash(ip->b, 16), addr, now };

	if (!store_is_shared(e->st) || len < nl)
		return;
	lg_ip_mask(&p, nl);
	lg_cidr_format(&p, nl, addr, sizeof(addr));
	reset_counts(e, F_NET_ATT, F_OK_COUNTS, addr, now);
	if (len != 128)
		return;
	lg_cidr_format(ip, 128, addr, sizeof(addr));
	reset_counts(e, F_ADDR_ATT, F_NET_ATT, addr, now);
	lg_tab_foreach(&e->accts, unblock_acct, &u);
}

void login_fleet_counts(const struct login_engine *e,
			struct login_fleet_counts *out)
{
	out->sent = e->stats.fleet_sent;
	out->failures = e->stats.fleet_failures;
	out->judged = e->stats.fleet_judged;
	out->skipped = e->stats.fleet_skipped;
	out->pending = e->nfcalls;
}

void lg_fleet_free(struct login_engine *e)
{
	struct lg_fcall *f;

	for (f = e->fcalls; f != NULL; f = f->next)
		f->e = NULL;
	e->fcalls = NULL;
	e->nfcalls = 0;
}
