/*
 * http_api_metrics - the core's auth-policy (with the login engine's
 * fleet counts), milter, notice and store figures (core_metrics_get()) as
 * Prometheus text exposition format 0.0.4, for GET /metrics beside the
 * outbound figures.  Names and labels: docs/api.md.  Pure formatting: no
 * I/O, no decision.
 */
#include <inttypes.h>

#include "core/admin.h"
#include "front/http_api-internal.h"
#include "util/buf.h"

/* "# HELP" and "# TYPE" of one family. */
static void family(struct buf *b, const char *name, const char *type,
		   const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample. */
static void single(struct buf *b, const char *name, const char *type,
		   const char *help, uint64_t value)
{
	family(b, name, type, help);
	buf_printf(b, "%s %" PRIu64 "\n", name, value);
}

/* Dovecot's auth-policy answers. */
static void render_logins(const struct core_metrics_view *v, struct buf *b)
{
	size_t s, o;

	family(b, "mamori_login_decisions_total", "counter",
	       "Dovecot auth-policy answers by stage and outcome.");
	for (s = 0; s < 3; s++)
		for (o = 0; o < 3; o++)
			buf_printf(b, "mamori_login_decisions_total{stage=\"%s\","
				   "outcome=\"%s\"} %" PRIu64 "\n",
				   v->login_stage[s], v->login_outcome[o],
				   v->logins[s][o]);
	single(b, "mamori_login_compromised_total", "counter",
	       "Logins with valid credentials judged to be an attacker's.",
	       v->logins_compromised);
}

/* The login engine's counts shared through the store (a fleet). */
static void render_login_fleet(const struct core_metrics_view *v,
			       struct buf *b)
{
	single(b, "mamori_login_fleet_calls_total", "counter",
	       "Login counts sent to the shared store, one round trip each.",
	       v->login_fleet_sent);
	single(b, "mamori_login_fleet_failures_total", "counter",
	       "Login fleet calls without an answer (store unavailable): "
	       "judged on this host's counts.", v->login_fleet_failures);
	single(b, "mamori_login_fleet_judged_total", "counter",
	       "Judgments made when the fleet's counts were ahead of this "
	       "host's.", v->login_fleet_judged);
	single(b, "mamori_login_fleet_skipped_total", "counter",
	       "Login reports not sent to the fleet (too many calls "
	       "waiting).", v->login_fleet_skipped);
	single(b, "mamori_login_fleet_pending", "gauge",
	       "Login fleet calls waiting for their answer now.",
	       v->login_fleet_pending);
}

/* The milter's verdicts and signing. */
static void render_milter(const struct core_metrics_view *v, struct buf *b)
{
	size_t i;

	family(b, "mamori_milter_messages_total", "counter",
	       "Milter messages: inbound by verdict, outbound signed or not.");
	for (i = 0; i < 5; i++)
		buf_printf(b, "mamori_milter_messages_total{direction="
			   "\"inbound\",verdict=\"%s\"} %" PRIu64 "\n",
			   v->milter_action[i], v->milter_inbound[i]);
	buf_printf(b, "mamori_milter_messages_total{direction=\"outbound\","
		   "verdict=\"signed\"} %" PRIu64 "\n"
		   "mamori_milter_messages_total{direction=\"outbound\","
		   "verdict=\"unsigned\"} %" PRIu64 "\n",
		   v->milter_signed, v->milter_unsigned);
	family(b, "mamori_milter_errors_total", "counter",
	       "Milter errors: DKIM signing failures.");
	buf_printf(b, "mamori_milter_errors_total{kind=\"dkim_sign\"} %"
		   PRIu64 "\n", v->milter_sign_errors);
}

/* Notices to customers, the abuse desk and the webhook. */
static void render_notices(const struct core_metrics_view *v, struct buf *b)
{
	family(b, "mamori_notices_total", "counter",
	       "Notices by end: sent, failed attempts, given up, dropped.");
	buf_printf(b, "mamori_notices_total{result=\"sent\"} %" PRIu64 "\n"
		   "mamori_notices_total{result=\"failed_attempt\"} %" PRIu64
		   "\nmamori_notices_total{result=\"gave_up\"} %" PRIu64 "\n"
		   "mamori_notices_total{result=\"dropped\"} %" PRIu64 "\n",
		   v->notices_sent, v->notices_failed_attempts,
		   v->notices_gave_up, v->notices_dropped);
	single(b, "mamori_notices_pending", "gauge",
	       "Notices queued or in flight now.", v->notices_pending);
}

/* The store's operations, failures and latency. */
static void render_store(const struct core_metrics_view *v, struct buf *b)
{
	size_t i;

	family(b, "mamori_store_operations_total", "counter",
	       "Store operations by kind.");
	for (i = 0; i < v->nstore; i++)
		buf_printf(b, "mamori_store_operations_total{op=\"%s\"} %"
			   PRIu64 "\n", v->store[i].op, v->store[i].ops);
	family(b, "mamori_store_operation_failures_total", "counter",
	       "Store operations that failed (not \"not found\").");
	for (i = 0; i < v->nstore; i++)
		buf_printf(b, "mamori_store_operation_failures_total{op=\"%s\"} %"
			   PRIu64 "\n", v->store[i].op, v->store[i].failures);
	family(b, "mamori_store_operation_seconds", "histogram",
	       "Time from a store call to its answer.");
	for (i = 0; i < v->nlat; i++) {
		if (i + 1 < v->nlat)
			buf_printf(b, "mamori_store_operation_seconds_bucket"
				   "{le=\"%g\"} %" PRIu64 "\n", v->lat_le[i],
				   v->lat_cum[i]);
		else
			buf_printf(b, "mamori_store_operation_seconds_bucket"
				   "{le=\"+Inf\"} %" PRIu64 "\n", v->lat_cum[i]);
	}
	buf_printf(b, "mamori_store_operation_seconds_sum %.6f\n"
		   "mamori_store_operation_seconds_count %" PRIu64 "\n",
		   v->lat_sum, v->nlat ? v->lat_cum[v->nlat - 1] : 0);
	single(b, "mamori_store_down_total", "counter",
	       "Times a networked store was found down (then retried with "
	       "backoff).", v->store_down);
	single(b, "mamori_store_failovers_total", "counter",
	       "Master changes Sentinel reported.", v->store_failovers);
}

void http_api_metrics_render(const struct core_metrics_view *v,
			     struct buf *b)
{
	render_logins(v, b);
	render_login_fleet(v, b);
	render_milter(v, b);
	render_notices(v, b);
	render_store(v, b);
}
