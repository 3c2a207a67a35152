/*
 * metrics - core_metrics_get(): the figures /metrics shows beside the
 * outbound ones (admin.c), gathered from where they are kept: login
 * answers in the core's stats (login_gate.c), the milter's counters in its
 * context (inbound.c, atomic), the notifier's (notify_get_stats()) and the
 * store's (store_stats()) and the login engine's fleet counts
 * (login_fleet_counts()).  The HTTP front-end renders them.
 *
 * Event-loop thread (the store and core stats are loop-only).
 */
#include <string.h>

#include "auth/login.h"
#include "core/admin.h"
#include "core/core-internal.h"
#include "core/inbound-internal.h"
#include "core/login_gate.h"
#include "notify/notify.h"
#include "store/store.h"

void core_metrics_get(struct core *c, struct core_metrics_view *v)
{
	const struct store_stats *ss = store_stats(c->st);
	struct notify_stats ns = { 0 };
	uint64_t cum = 0;
	size_t i;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < 3; i++) {
		v->login_stage[i] = core_login_stage_name((enum core_login_stage)i);
		v->login_outcome[i] =
			core_login_action_name((enum core_login_action)i);
	}
	memcpy(v->logins, c->stats.logins, sizeof(v->logins));
	v->logins_compromised = c->stats.logins_compromised;
	for (i = 0; i < CORE_NACTIONS; i++)
		v->milter_action[i] = core_action_name((enum core_action)i);
	core_mail_counts(c->mail, v->milter_inbound, &v->milter_signed,
			 &v->milter_unsigned, &v->milter_sign_errors);
	if (c->nt)
		notify_get_stats(c->nt, &ns);
	v->notices_sent = ns.sent;
	v->notices_failed_attempts = ns.failed_attempts;
	v->notices_gave_up = ns.gave_up;
	v->notices_dropped = ns.dropped;
	v->notices_pending = ns.pending;
	for (i = 0; i < STORE_OP__COUNT && i < CORE_METRICS_MAX; i++) {
		v->store[i].op = store_op_name((enum store_op)i);
		v->store[i].ops = ss->ops[i];
		v->store[i].failures = ss->failures[i];
	}
	v->nstore = i;
	for (i = 0; i < STORE_LAT_BUCKETS && i < CORE_METRICS_MAX; i++) {
		cum += ss->le[i];
		v->lat_cum[i] = cum;
		v->lat_le[i] = i < STORE_LAT_BUCKETS - 1 ?
			       store_lat_bounds[i] : 0;	/* last: +Inf */
	}
	v->nlat = i;
	v->lat_sum = ss->seconds;
	v->store_down = ss->down;
	v->store_failovers = ss->failovers;
	if (c->login) {
		struct login_fleet_counts fc;

		login_fleet_counts(c->login, &fc);
		v->login_fleet_sent = fc.sent;
		v->login_fleet_failures = fc.failures;
		v->login_fleet_judged = fc.judged;
		v->login_fleet_skipped = fc.skipped;
		v->login_fleet_pending = fc.pending;
	}
}
