/*
 * http_api_routes - the admin API's routes (docs/api.md): the table
 * api_routes[] that http_api.c matches each request's path and method
 * against, and one handler per route.  A handler reads what its route takes
 * (path segments, query parameters through api_call_params(), a checked
 * body through api_call_body()), then either answers at once or hands the
 * call to the core with api_call_core_done() as the callback; the core's
 * results become JSON in http_api_json.c.  No decision is made here.
 *
 * Threading: the event loop's thread only; a scan and a domain check run
 * on their own threads (http_api_scan.c, http_api_domain.c) and answer
 * back on the loop.  Lifetime: every handler passes its call on to exactly
 * one answer, which frees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "core/core.h"
#include "core/dmarc_reports.h"
#include "core/domaincheck.h"
#include "core/history.h"
#include "core/inbound.h"
#include "front/http_api-internal.h"
#include "front/http_api_body.h"
#include "util/buf.h"
#include "util/server.h"
#include "util/xalloc.h"

/* GET /metrics is all the figures as text; this bounds the buffer. */
#define API_METRICS_MAX (16 * 1024 * 1024)

/* The route handlers, defined below the table. */
static api_route_fn h_health, h_stats, h_metrics, h_accounts, h_account_show,
	h_account_restrict, h_account_credchanged, h_account_release, h_held,
	h_held_action, h_dmarc_agg, h_dmarc_sources, h_ips, h_ip_block, h_ip_unblock,
	h_incidents, h_incident_show, h_incident_export, h_dkim_key, h_history,
	h_scan, h_domain_check, h_allows, h_allow_add, h_allow_del;

/* Matched in this order (http_api.c route_find()); docs/api.md. */
const struct api_route api_routes[] = {
	{{"metrics", NULL}, EVHTTP_REQ_GET, h_metrics},
	{{"v1", "health", NULL}, EVHTTP_REQ_GET, h_health},
	{{"v1", "stats", NULL}, EVHTTP_REQ_GET, h_stats},
	{{"v1", "stats", "history", NULL}, EVHTTP_REQ_GET, h_history},
	{{"v1", "accounts", NULL}, EVHTTP_REQ_GET, h_accounts},
	{{"v1", "accounts", "*", NULL}, EVHTTP_REQ_GET, h_account_show},
	{{"v1", "accounts", "*", "restrict", NULL}, EVHTTP_REQ_POST,
	 h_account_restrict},
	{{"v1", "accounts", "*", "credential-changed", NULL}, EVHTTP_REQ_POST,
	 h_account_credchanged},
	{{"v1", "accounts", "*", "release", NULL}, EVHTTP_REQ_POST,
	 h_account_release},
	{{"v1", "held", NULL}, EVHTTP_REQ_GET, h_held},
	{{"v1", "held", "*", "release", NULL}, EVHTTP_REQ_POST, h_held_action},
	{{"v1", "held", "*", "delete", NULL}, EVHTTP_REQ_POST, h_held_action},
	{{"v1", "dmarc", "aggregate", NULL}, EVHTTP_REQ_GET, h_dmarc_agg},
	{{"v1", "dmarc", "sources", NULL}, EVHTTP_REQ_GET, h_dmarc_sources},
	{{"v1", "scan", NULL}, EVHTTP_REQ_POST, h_scan},
	{{"v1", "domain", "check", NULL}, EVHTTP_REQ_GET, h_domain_check},
	{{"v1", "ips", NULL}, EVHTTP_REQ_GET, h_ips},
	{{"v1", "ips", "block", NULL}, EVHTTP_REQ_POST, h_ip_block},
	{{"v1", "ips", "unblock", NULL}, EVHTTP_REQ_POST, h_ip_unblock},
	{{"v1", "allowlist", NULL}, EVHTTP_REQ_GET, h_allows},
	{{"v1", "allowlist", NULL}, EVHTTP_REQ_POST, h_allow_add},
	{{"v1", "allowlist", "*", NULL}, EVHTTP_REQ_DELETE, h_allow_del},
	{{"v1", "allowlist", "*", "*", NULL}, EVHTTP_REQ_DELETE, h_allow_del},
	{{"v1", "incidents", NULL}, EVHTTP_REQ_GET, h_incidents},
	{{"v1", "incidents", "*", NULL}, EVHTTP_REQ_GET, h_incident_show},
	{{"v1", "incidents", "*", "export", NULL}, EVHTTP_REQ_GET,
	 h_incident_export},
	{{"v1", "dkim", "*", "*", NULL}, EVHTTP_REQ_GET, h_dkim_key},
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

/* GET /v1/health */
static void h_health(struct api_call *call, const struct api_route *r)
{
	api_call_reply_json(call, 200, json_pack("{s:s}", "status", "ok"));
}

/* GET /v1/stats, with the login engine's figures under "login". */
static void h_stats(struct api_call *call, const struct api_route *r)
{
	struct core_stats_view v;
	json_t *j;

	core_stats_get(call->core, &v);
	j = http_api_stats_json(&v);
	core_stats_view_deinit(&v);
	api_call_reply_json(call, j ? 200 : 500, j);
}

/* GET /v1/stats/history[?range=hour|day|week] */
static void h_history(struct api_call *call, const struct api_route *r)
{
	struct core_hist_view *v = xcalloc(1, sizeof(*v));

	if (api_call_query(call, "range") == 0) {
		if (core_history_get(call->core, call->query ?
				     call->query : "hour", 0, v) != 0)
			api_call_error(call, 400,
				   "\"range\" must be hour, day or week");
		else
			api_call_reply_json(call, 200, http_api_history_json(v));
	}
	free(v);
}

/* GET /metrics: Prometheus text exposition format 0.0.4. */
static void h_metrics(struct api_call *call, const struct api_route *r)
{
	struct core_metrics_view v;
	struct buf b;

	buf_init(&b, API_METRICS_MAX);
	core_metrics(call->core, &b);
	core_metrics_get(call->core, &v);
	http_api_metrics_render(&v, &b);
	server_metrics(&b);
	api_call_reply(call, 200, "text/plain; version=0.0.4; charset=utf-8",
		   b.p ? b.p : "", b.len);
	buf_deinit(&b);
}

/* GET /v1/accounts[?state=S] */
static void h_accounts(struct api_call *call, const struct api_route *r)
{
	if (api_call_query(call, "state"))
		return;
	core_accounts_list(call->core, call->query, api_call_core_done, call);
}

/* GET /v1/accounts/LOGIN */
static void h_account_show(struct api_call *call, const struct api_route *r)
{
	core_account_show(call->core, call->seg[2], api_call_core_done, call);
}

/* POST /v1/accounts/LOGIN/restrict {"reason": TEXT} */
static void h_account_restrict(struct api_call *call, const struct api_route *r)
{
	if (api_call_body(call, API_BODY_RESTRICT))
		return;
	core_account_restrict(call->core, call->seg[2],
			      call->body.reason, call->actor, api_call_core_done,
			      call);
}

/* POST /v1/accounts/LOGIN/credential-changed [{"source": TEXT}] */
static void h_account_credchanged(struct api_call *call, const struct api_route *r)
{
	if (api_call_body(call, API_BODY_CREDENTIAL))
		return;
	core_account_credential_changed(call->core, call->seg[2],
					call->body.source, call->actor,
					api_call_core_done, call);
}

/* POST /v1/accounts/LOGIN/release {"force", "reason", "held"} */
static void h_account_release(struct api_call *call, const struct api_route *r)
{
	if (api_call_body(call, API_BODY_RELEASE))
		return;
	core_account_release(call->core, call->seg[2], call->body.force,
			     call->body.reason, call->body.held, call->actor,
			     api_call_core_done, call);
}

/* GET /v1/held[?account=LOGIN] */
static void h_held(struct api_call *call, const struct api_route *r)
{
	if (api_call_query(call, "account"))
		return;
	core_held_list(call->core, call->query, api_call_core_done, call);
}

/* POST /v1/held/QUEUEID/release and /delete */
static void h_held_action(struct api_call *call, const struct api_route *r)
{
	/* A body is optional and has no members yet; still refuse junk. */
	if (api_call_body(call, API_BODY_NONE))
		return;
	core_held_action(call->core, call->seg[2], r->pat[3], call->actor,
			 api_call_core_done, call);
}

/* GET /v1/dmarc/aggregate[?day=D | from=D&to=D][&domain=DOMAIN] */
static void h_dmarc_agg(struct api_call *call, const struct api_route *r)
{
	static const char *const names[] = {"day", "from", "to", "domain"};
	struct core_dmarc_query q;

	if (api_call_params(call, names, 4))
		return;
	q.day = call->param[0];
	q.from = call->param[1];
	q.to = call->param[2];
	q.domain = call->param[3];
	core_dmarc_aggregate(call->core, &q, api_call_core_done, call);
}

/* core_dmarc_sources_cb: the answer of GET /v1/dmarc/sources. */
static void dmarc_sources_done(void *arg, enum core_status status,
			       const char *error,
			       const struct core_dmarc_sources *s)
{
	struct api_call *call = arg;

	if (status != CORE_OK)
		api_call_error(call, http_api_status(status), "%s", error);
	else
		api_call_reply_json(call, 200, http_api_dmarc_sources_json(s));
}

/* GET /v1/dmarc/sources?domain=DOMAIN[&days=N][&until=YYYY-MM-DD] */
static void h_dmarc_sources(struct api_call *call, const struct api_route *r)
{
	static const char *const names[] = {"domain", "days", "until"};
	const char *d = NULL;
	time_t until = time(NULL);
	long days = 30;
	char *end;

	if (api_call_params(call, names, 3))
		return;
	if (call->param[1]) {
		days = strtol(call->param[1], &end, 10);
		if (*end || end == call->param[1] || days < 1 || days > 366) {
			api_call_error(call, 400, "days: 1..366");
			return;
		}
	}
	if (call->param[2]) {
		struct tm tm = {0};

		d = strptime(call->param[2], "%Y-%m-%d", &tm);
		if (!d || *d) {
			api_call_error(call, 400, "until: YYYY-MM-DD");
			return;
		}
		until = timegm(&tm);
	}
	core_dmarc_sources_get(call->core, call->param[0], (int)days,
			       (int64_t)until, dmarc_sources_done, call);
}

/* GET /v1/dkim/DOMAIN/SELECTOR: does mamorid sign with that key? */
static void h_dkim_key(struct api_call *call, const struct api_route *r)
{
	static const char *const names[] = {
		[CORE_DKIM_LOADED] = "loaded",
		[CORE_DKIM_NOT_LOADED] = "not_loaded",
		[CORE_DKIM_NO_SIGNING] = "no_signing",
	};
	enum core_dkim_state st = core_dkim_key_state(call->core,
						      call->seg[2],
						      call->seg[3]);
	json_t *j = json_pack("{s:s, s:s, s:s}", "domain", call->seg[2],
			      "selector", call->seg[3], "state", names[st]);

	if (!j)
		api_call_error(call, 400, "domain and selector must be UTF-8");
	else
		api_call_reply_json(call, 200, j);
}

/* api_scan_cb: the scan's answer. */
static void scan_answer(void *arg, int status, const char *json)
{
	api_call_reply(arg, status, "application/json", json, strlen(json));
}

/* POST /v1/scan[?ip=A&helo=H&mail_from=M], the message as the body */
static void h_scan(struct api_call *call, const struct api_route *r)
{
	static const char *const names[] = {"ip", "helo", "mail_from"};
	struct evbuffer *in = evhttp_request_get_input_buffer(call->req);
	size_t len = evbuffer_get_length(in);
	char err[256];
	int st;

	if (api_call_params(call, names, 3))
		return;
	if (!len) {
		api_call_error(call, 400, "the body must be the message to scan");
		return;
	}
	st = api_scan_start(call->scan, call->cfg,
			    (const char *)evbuffer_pullup(in, -1), len,
			    call->param[0], call->param[1], call->param[2],
			    scan_answer, call, err, sizeof(err));
	if (st)
		api_call_error(call, st, "%s", err);
}

/* GET /v1/domain/check?domain=D: `mamori domain check --json` */
static void h_domain_check(struct api_call *call, const struct api_route *r)
{
	static const char *const names[] = {"domain"};
	char err[256];
	int st;

	if (api_call_params(call, names, 1))
		return;
	if (!domaincheck_name_ok(call->param[0])) {
		api_call_error(call, 400, "domain: a domain name (A-label, "
			   "like example.jp) is required");
		return;
	}
	st = api_domcheck_start(call->domcheck, call->cfg,
				call->param[0], scan_answer, call, err,
				sizeof(err));
	if (st)
		api_call_error(call, st, "%s", err);
}

/* GET /v1/ips */
static void h_ips(struct api_call *call, const struct api_route *r)
{
	core_ips_list(call->core, api_call_core_done, call);
}

/* POST /v1/ips/block {"ip", "reason", "seconds", "force"} */
static void h_ip_block(struct api_call *call, const struct api_route *r)
{
	if (api_call_body(call, API_BODY_IP_BLOCK))
		return;
	core_ip_block(call->core, call->body.ip, call->body.seconds,
		      call->body.reason, call->body.force, call->actor,
		      api_call_core_done, call);
}

/* POST /v1/ips/unblock {"ip"} */
static void h_ip_unblock(struct api_call *call, const struct api_route *r)
{
	if (api_call_body(call, API_BODY_IP_UNBLOCK))
		return;
	core_ip_unblock(call->core, call->body.ip, call->actor,
			api_call_core_done, call);
}

/* GET /v1/allowlist */
static void h_allows(struct api_call *call, const struct api_route *r)
{
	core_allow_list(call->core, api_call_core_done, call);
}

/* POST /v1/allowlist {"net", "reason", "expires"} */
static void h_allow_add(struct api_call *call, const struct api_route *r)
{
	if (api_call_body(call, API_BODY_ALLOW))
		return;
	core_allow_add(call->core, call->body.ip, call->body.seconds,
		       call->body.reason, call->actor, api_call_core_done, call);
}

/* DELETE /v1/allowlist/ADDRESS or /v1/allowlist/ADDRESS/PREFIX (a
 * segment may not hold '/', so a range is two segments) */
static void h_allow_del(struct api_call *call, const struct api_route *r)
{
	char net[API_BODY_IP + 8];

	if (call->nseg == 4)
		snprintf(net, sizeof(net), "%.64s/%.4s", call->seg[2],
			 call->seg[3]);
	else
		snprintf(net, sizeof(net), "%.64s", call->seg[2]);
	core_allow_del(call->core, net, call->actor, api_call_core_done,
		       call);
}

/* GET /v1/incidents */
static void h_incidents(struct api_call *call, const struct api_route *r)
{
	core_incidents_list(call->core, api_call_core_done, call);
}

/* GET /v1/incidents/ID */
static void h_incident_show(struct api_call *call, const struct api_route *r)
{
	core_incident_show(call->core, call->seg[2], api_call_core_done, call);
}

/* GET /v1/incidents/ID/export[?format=csv|json] */
static void h_incident_export(struct api_call *call, const struct api_route *r)
{
	const char *fmt;

	if (api_call_query(call, "format"))
		return;
	fmt = call->query ? call->query : "csv";
	if (strcmp(fmt, "json") == 0)
		core_incident_show(call->core, call->seg[2],
				   api_call_core_done, call);
	else if (strcmp(fmt, "csv") == 0)
		core_incident_csv(call->core, call->seg[2],
				  api_call_core_done, call);
	else
		api_call_error(call, 400, "\"format\" must be \"csv\" or \"json\"");
}
