/*
 * evict - the account table's upper bound (max_accounts).
 *
 * Every login that sends mail costs an account in memory (~240 bytes, see
 * docs/benchmarks.md), and a login is attacker-chosen: a stream of new
 * sasl_usernames (a broken or hostile submission host, a botnet trying
 * logins that exist) would grow the table without end.  So traffic creates
 * accounts only up to max_accounts.  When the table is full, a new login
 * takes the place of an account that holds nothing worth keeping:
 *
 *   - state normal, no state write in flight, no strike on record (an
 *     account that was ever throttled, restricted, suspended or on
 *     probation keeps its place: its strikes decide the next escalation);
 *   - no flag: its counters are in the last snapshot (ACCT_F_DIRTY clear,
 *     so a restart would restore them), no forced reset, not suspicious;
 *   - no login risk or new-network risk still running;
 *   - idle: nothing seen for CORE_EVICT_IDLE (an hour: its minute and hour
 *     windows are empty, so eviction forgets only the day window and the
 *     baseline, which the snapshot in the store still holds for a restart;
 *     and an hour is far longer than any store call that could still hold
 *     a pointer to it), and no snapshot batch in flight.
 * Among the candidates met in a bounded probe (CORE_EVICT_PROBES slots from
 * a clock hand that moves on each time, twice that when it wraps), the one idle longest goes.  When
 * none is found the caller refuses the request by store_failure_action, as
 * for any state it cannot keep; the log says so at most once a minute.
 *
 * Accounts restored at start (snapshot, account records) and accounts an
 * administrator names are created past the bound: state must never be
 * dropped to make room.  Evictions and refusals are counted
 * (mamori_accounts_evicted_total, mamori_accounts_refused_total).
 *
 * Event-loop thread only, like the rest of the core.
 */
#include <stdio.h>

#include "core/core-internal.h"
#include "util/log.h"

/* The walk's search state: the best candidate met so far. */
struct evict_probe {
	uint32_t now;
	struct acct *best;
};

/* May a go to make room? */
static bool evictable(const struct acct *a, uint32_t now)
{
	return a->state == ACCT_NORMAL && !a->pending && a->strikes == 0 &&
	       a->flags == 0 && a->login_risk_until <= now &&
	       a->newnet_until <= now &&
	       (uint64_t)a->last_seen + CORE_EVICT_IDLE <= now;
}

/* Walk callback: remember the longest idle candidate; never stops early. */
static bool probe_one(struct acct *a, void *arg)
{
	struct evict_probe *p = arg;

	if (evictable(a, p->now) &&
	    (!p->best || a->last_seen < p->best->last_seen))
		p->best = a;
	return true;
}

/* Evict one account; false when the probe met no candidate. */
static bool evict_one(struct core *c, uint32_t now)
{
	struct evict_probe p = { now, NULL };
	size_t from = c->evict_hand;

	if (c->snap.inflight)
		return false;
	c->evict_hand = acct_table_walk(c->accounts, from, CORE_EVICT_PROBES,
					probe_one, &p);
	/* The walk stopped at the table's end: look at its start too. */
	if (!p.best && c->evict_hand == 0 && from != 0)
		c->evict_hand = acct_table_walk(c->accounts, 0,
						CORE_EVICT_PROBES, probe_one,
						&p);
	if (!p.best)
		return false;
	acct_table_remove(c->accounts, p.best);
	c->stats.evictions++;
	return true;
}

struct acct *core_account_admit(struct core *c, const char *key,
				uint32_t now)
{
	struct acct *a = acct_table_get(c->accounts, key, false, 0);

	if (a)
		return acct_table_get(c->accounts, key, true, now);
	if (acct_table_count(c->accounts) < (size_t)c->cfg->max_accounts ||
	    evict_one(c, now))
		return acct_table_get(c->accounts, key, true, now);
	c->stats.accounts_refused++;
	if (now >= c->evict_log_at) {
		char q[LOG_QSZ];

		log_msg(LOG_L_WARN, "event=accounts_full account=%s "
			"max_accounts=%ld refused=%llu note=\"no idle normal "
			"account to evict\"", log_q(q, sizeof(q), key),
			c->cfg->max_accounts, c->stats.accounts_refused);
		c->evict_log_at = now + 60;
	}
	return NULL;
}
