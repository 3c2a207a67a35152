/*
 * fleet - one set of limits and one account state across every mamorid
 * sharing a store (docs/design/fleet.md).
 *
 * Counters.  The five limit windows of an account (acct.h W_*) are counted
 * with store_window: at END-OF-MESSAGE the message's adds go to the store in
 * one atomic call, and its answer (the windows as the whole fleet counted
 * them) replaces the account's own copy, so every signal, limit, baseline
 * and snapshot downstream reads fleet-wide numbers without knowing it.  A
 * store of one host answers with the account's own windows after the add,
 * at once: nothing changes for sqlite and memory.  A shared store's answer
 * is not waited for: END-OF-MESSAGE adds to the copy (read from the fleet
 * at this message's RCPT) and goes on, and the answer replaces the copy
 * when it comes, so a message costs one awaited round trip (the RCPT read),
 * not two.  The count is on its way to the store before the answer to
 * END-OF-MESSAGE is (store_window's contract for shared stores), so the
 * next RCPT on any host reads it: the limits stay exact across hosts.
 *
 * At RCPT the limits decide "would one more message exceed?".  With a
 * shared store the copy may lag what other hosts counted since, so RCPT
 * reads the fleet's windows first, except on the fast path: the copy is
 * younger than fleet_fast_age and every limit window, with this message,
 * is at most half its limit.  Bound: a message the exact path would have
 * deferred passes the fast path only if the fleet counted more than half a
 * limit for this one account within fleet_fast_age (faster than a minute
 * limit of 30 allows in half a minute); and it is still counted exactly at
 * END-OF-MESSAGE, where the first count above a limit throttles the account
 * on every host (a transition, below).  fleet_fast_age = 0 reads at every
 * RCPT.
 *
 * When the store cannot count (down, timeout): END-OF-MESSAGE counts into
 * the account's own copy (this host still enforces what it saw) and RCPT
 * answers by store_failure_action, as for any state it cannot read; both
 * counted (store_failures, fleet_failures) and logged at most every 10 s.
 *
 * State.  A transition is written to namespace "account" (transition.c);
 * store_watch tells every other host, which re-reads the record and applies
 * it, so a restriction made on one host is refused on all at once.  When
 * notices may have been lost (the store's link was down), every account
 * record is read again.
 *
 * Event-loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core-internal.h"
#include "util/log.h"
#include "util/xalloc.h"

/* A store_window call in flight for decision d. */
struct fleet_req {
	struct decision *d;
	void (*cont)(struct decision *d);
};

/* An END-OF-MESSAGE count sent to a shared store, not waited for. */
struct fleet_late {
	struct core *c;
	uint32_t now;
	char login[];			/* the account's key */
};

/* Log an unavailable fleet count, at most every 10 s. */
static void fleet_failed(struct core *c, const char *stage, int result,
			 uint32_t now)
{
	c->stats.store_failures++;
	c->stats.fleet_failures++;
	if (now >= c->fleet_log_at) {
		log_msg(LOG_L_ERR, "event=fleet_counters_unavailable stage=%s "
			"store=%s failures=%llu note=\"this host counts alone; "
			"RCPT answers by store_failure_action\"", stage,
			store_result_str(result), c->stats.fleet_failures);
		c->fleet_log_at = now + 10;
	}
}

/* The request's window adds, in acct.h's order. */
static void fleet_wins(const uint32_t add[W__COUNT], struct acct *a,
		       struct store_win w[W__COUNT])
{
	int i;

	for (i = 0; i < W__COUNT; i++) {
		w[i].len = acct_win_len((enum acct_win)i);
		w[i].add = add ? add[i] : 0;
		w[i].w = a->win[i];
	}
}

/* The fleet's windows replace the account's copy. */
static void fleet_apply(struct acct *a, const struct store_win *w,
			uint32_t now)
{
	int i;

	for (i = 0; i < W__COUNT; i++)
		a->win[i] = w[i].w;
	a->fleet_at = now;
}

/* Answer of the END-OF-MESSAGE count. */
static void fleet_counted(void *arg, int result, const struct store_win *w,
			  size_t n)
{
	struct fleet_req *q = arg;
	struct decision *d = q->d;
	struct acct *a = d->a;
	int i;

	if (result == STORE_OK && n == W__COUNT) {
		fleet_apply(a, w, d->now);
	} else {
		/* Count alone; the limits still hold for this host. */
		for (i = 0; i < W__COUNT; i++)
			acct_win_add(a, (enum acct_win)i, d->add[i], d->now);
		fleet_failed(d->c, "END-OF-MESSAGE", result, d->now);
	}
	q->cont(d);
	free(q);
}

/* The fleet's answer to a count END-OF-MESSAGE did not wait for. */
static void fleet_late_counted(void *arg, int result,
			       const struct store_win *w, size_t n)
{
	struct fleet_late *q = arg;
	struct acct *a;

	if (result != STORE_OK || n != W__COUNT) {
		fleet_failed(q->c, "END-OF-MESSAGE", result, q->now);
	} else {
		/* Looked up again: the account may have been evicted. */
		a = acct_table_get(q->c->accounts, q->login, false, 0);
		if (a != NULL)
			fleet_apply(a, w, q->now);
	}
	free(q);
}

void core_fleet_count(struct core *c, struct decision *d,
		      void (*cont)(struct decision *d))
{
	struct fleet_req *q;
	struct store_win w[W__COUNT];
	int i;

	fleet_wins(d->add, d->a, w);
	if (store_is_shared(c->st)) {
		size_t n = strlen(d->a->login) + 1;
		struct fleet_late *l = xmalloc(sizeof(*l) + n);

		/* This host's count now; the fleet's replaces it when it
		 * comes (or it stays, if the store cannot count). */
		for (i = 0; i < W__COUNT; i++)
			acct_win_add(d->a, (enum acct_win)i, d->add[i], d->now);
		l->c = c;
		l->now = d->now;
		memcpy(l->login, d->a->login, n);
		store_window(c->st, "acct", d->a->login, d->now, w, W__COUNT,
			     fleet_late_counted, l);
		cont(d);
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->d = d;
	q->cont = cont;
	store_window(c->st, "acct", d->a->login, d->now, w, W__COUNT,
		     fleet_counted, q);
}

/* Is every limit window, with one more message, at most half used? */
static bool fleet_far(const struct acct *a, const struct class_config *cl,
		      uint32_t now)
{
	const long lim[W__COUNT] = {
		[W_MSG_MIN] = cl->msgs_per_minute,
		[W_MSG_HOUR] = cl->msgs_per_hour,
		[W_EXT_HOUR] = cl->ext_rcpts_per_hour,
		[W_INT_HOUR] = cl->int_rcpts_per_hour,
		[W_RCPT_DAY] = cl->rcpts_per_day,
	};
	int i;

	for (i = 0; i < W__COUNT; i++)
		if (2 * ((long)acct_win_count(a, (enum acct_win)i, now) + 1) >
		    lim[i])
			return false;
	return true;
}

/* Answer of the RCPT read. */
static void fleet_read_done(void *arg, int result, const struct store_win *w,
			    size_t n)
{
	struct fleet_req *q = arg;
	struct decision *d = q->d;

	if (result != STORE_OK || n != W__COUNT) {
		fleet_failed(d->c, "RCPT", result, d->now);
		d->v.state = acct_state_name(d->a->state);
		snprintf(d->v.reason, sizeof(d->v.reason),
			 "fleet counters unavailable");
		core_answer_stateless(d->c, d, store_result_str(result));
		free(q);
		return;
	}
	fleet_apply(d->a, w, d->now);
	q->cont(d);
	free(q);
}

bool core_fleet_read(struct core *c, struct decision *d,
		     void (*cont)(struct decision *d))
{
	struct acct *a = d->a;
	struct fleet_req *q;
	struct store_win w[W__COUNT];

	if (!store_is_shared(c->st) ||
	    (a->state != ACCT_NORMAL && a->state != ACCT_PROBATION))
		return false;
	if (c->cfg->fleet_fast_age > 0 && a->fleet_at &&
	    d->now - a->fleet_at < (uint32_t)c->cfg->fleet_fast_age &&
	    fleet_far(a, d->cl, d->now)) {
		c->stats.fleet_fast++;
		return false;
	}
	c->stats.fleet_reads++;
	q = xcalloc(1, sizeof(*q));
	q->d = d;
	q->cont = cont;
	fleet_wins(NULL, a, w);
	store_window(c->st, "acct", a->login, d->now, w, W__COUNT,
		     fleet_read_done, q);
	return true;
}

/* Another host wrote an account record (key), or notices were lost. */
static void fleet_notice(void *arg, const char *ns, const char *key)
{
	struct core *c = arg;

	(void)ns;
	c->stats.fleet_notices++;
	if (key == NULL)
		core_accounts_reload(c);
	else
		core_account_reload(c, key);
}

void core_fleet_watch(struct core *c)
{
	store_watch(c->st, "account", fleet_notice, c);
}
