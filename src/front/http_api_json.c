/*
 * http_api_json - the core's admin results (core/admin.h) as the JSON
 * bodies and HTTP statuses docs/api.md documents.  Sans I/O: http_api.c
 * sends what these build.
 *
 * Member names and order are the API's contract (the CLI and the tests
 * read them).  Stored JSON documents the core passes through (events,
 * counters, incidents) are parsed and embedded; one that does not parse is
 * left out, as the core always did with a damaged record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/admin.h"
#include "core/dmarc_reports.h"
#include "core/history.h"
#include "front/http_api-internal.h"

int http_api_status(enum core_status st)
{
	switch (st) {
	case CORE_OK: return 200;
	case CORE_E_INVALID: return 400;
	case CORE_E_NOTFOUND: return 404;
	case CORE_E_CONFLICT: return 409;
	case CORE_E_RETRY: return 503;
	case CORE_E_FAIL: return 500;
	}
	return 500;
}

/* A stored JSON document, or NULL when it does not parse. */
static json_t *doc(const char *text)
{
	return text ? json_loads(text, 0, NULL) : NULL;
}

/* The state record members of an account. */
static json_t *account_json(const struct core_account *a)
{
	return json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:s?, s:b, s:b}",
			 "login", a->login,
			 "state", a->state,
			 "strikes", a->strikes,
			 "since", (json_int_t)a->since,
			 "until", (json_int_t)a->until,
			 "last_strike", (json_int_t)a->last_strike,
			 "credential_changed", (json_int_t)a->credential_changed,
			 "first_seen", (json_int_t)a->first_seen,
			 "reason", a->reason,
			 "throttle_suspicious", a->throttle_suspicious,
			 "force_reset", a->force_reset);
}

/* An array of strings. */
static json_t *str_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The held list as an array. */
static json_t *held_json(const struct core_held_list *h)
{
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; i < h->n; i++) {
		const struct core_held_row *r = &h->v[i];

		o = json_pack("{s:s, s:s, s:I}", "queue_id", r->queue_id,
			      "login", r->login, "time", (json_int_t)r->time);
		if (r->have_attempt)
			json_object_set_new(o, "last_attempt", json_pack(
				"{s:s, s:s, s:i, s:I, s:I}",
				"action", r->attempt.action,
				"result", r->attempt.result,
				"exit", r->attempt.exit_status,
				"time", (json_int_t)r->attempt.time,
				"duration_ms",
				(json_int_t)r->attempt.duration_ms));
		json_array_append_new(a, o);
	}
	return a;
}

/* GET /v1/accounts/LOGIN. */
static json_t *detail_json(const struct core_result *r)
{
	const struct core_account_detail *d = &r->detail;
	const struct core_limits *l = &d->limits;
	json_t *o = account_json(&r->account), *ev = json_array(), *j;
	size_t i;

	json_object_set_new(o, "class", json_string(d->class_name));
	json_object_set_new(o, "mode", json_string(d->observe ? "observe" :
						   "enforce"));
	json_object_set_new(o, "score", json_integer(d->score));
	j = doc(d->counters_json);
	json_object_set_new(o, "counters", j ? j : json_object());
	json_object_set_new(o, "limits", json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"msgs_per_minute", (json_int_t)l->msgs_per_minute,
		"msgs_per_hour", (json_int_t)l->msgs_per_hour,
		"ext_rcpts_per_hour", (json_int_t)l->ext_rcpts_per_hour,
		"int_rcpts_per_hour", (json_int_t)l->int_rcpts_per_hour,
		"rcpts_per_day", (json_int_t)l->rcpts_per_day,
		"score_throttle", (json_int_t)l->score_throttle,
		"score_restrict", (json_int_t)l->score_restrict));
	json_object_set_new(o, "held", held_json(&d->held));
	for (i = 0; i < d->nevents; i++)
		if ((j = doc(d->events_json[i])))
			json_array_append_new(ev, j);
	json_object_set_new(o, "events", ev);
	if (d->logins_json && (j = doc(d->logins_json)))
		json_object_set_new(o, "logins", j);
	return o;
}

/* GET /v1/accounts. */
static json_t *accounts_json(const struct core_account_list *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < l->n; i++) {
		const struct core_account_row *r = &l->v[i];

		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:i, s:i, s:I, s:s}",
			"login", r->login, "state", r->state,
			"strikes", r->strikes, "score", r->score,
			"since", (json_int_t)r->since, "class", r->class_name));
	}
	return json_pack("{s:o, s:b}", "accounts", a, "truncated",
			 l->truncated);
}

/* GET /v1/dmarc/aggregate. */
static json_t *dmarc_json(const struct core_dmarc_report *d)
{
	json_t *rows = json_array(), *totals;
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct core_dmarc_row *r = &d->v[i];
		const struct core_dmarc_auth *a = &r->auth;
		json_t *row = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}",
			"day", r->day, "source_ip", r->source_ip,
			"header_from", r->header_from, "spf", r->spf,
			"dkim", r->dkim, "dmarc", r->dmarc,
			"disposition", r->disposition,
			"count", (json_int_t)r->count);

		/* Rows written before the milter kept identifiers have
		 * none of these. */
		if (a->align[0]) {
			json_t *sigs = json_array();
			size_t k;

			for (k = 0; k < a->nsig; k++)
				json_array_append_new(sigs, json_pack(
					"{s:s, s:s, s:s}", "domain",
					a->sig[k].d, "selector", a->sig[k].s,
					"result", a->sig[k].result));
			json_object_set_new(row, "aligned",
					    json_string(a->align));
			json_object_set_new(row, "override",
					    json_string(a->override));
			json_object_set_new(row, "spf_scope",
					    json_string(a->spf_scope));
			json_object_set_new(row, "spf_domain",
					    json_string(a->spf_domain));
			json_object_set_new(row, "dkim_signatures", sigs);
		}
		json_array_append_new(rows, row);
	}
	totals = json_pack("{s:I, s:I, s:I, s:I, s:I}",
			   "messages", (json_int_t)d->messages,
			   "spf_pass", (json_int_t)d->spf_pass,
			   "dkim_pass", (json_int_t)d->dkim_pass,
			   "quarantined", (json_int_t)d->quarantined,
			   "rejected", (json_int_t)d->rejected);
	for (i = 0; i < CORE_DMARC_NRESULTS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "dmarc_%s",
			 core_dmarc_result_names[i]);
		json_object_set_new(totals, name,
				    json_integer((json_int_t)d->by_result[i]));
	}
	return json_pack("{s:o, s:o, s:I, s:b}", "rows", rows, "totals",
			 totals, "skipped", (json_int_t)d->skipped,
			 "truncated", d->truncated);
}

/* One address state as GET /v1/ips lists it. */
static json_t *ip_json(const struct core_ip_state *s)
{
	/* A delayed address has no end, level or actor of its own. */
	if (!s->actor)
		return json_pack("{s:s, s:s, s:I, s:s, s:s}", "ip", s->ip,
				 "state", s->state, "since",
				 (json_int_t)s->since, "rule", s->rule,
				 "reason", s->reason);
	return json_pack("{s:s, s:s, s:I, s:I, s:i, s:s, s:s, s:s, s:b, s:s}",
			 "ip", s->ip, "state", s->state,
			 "since", (json_int_t)s->since,
			 "until", (json_int_t)s->until, "level", s->level,
			 "rule", s->rule, "reason", s->reason,
			 "actor", s->actor, "manual", s->manual,
			 "incident", s->incident);
}

/* GET /v1/ips. */
static json_t *ips_json(const struct core_ip_list *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_array_append_new(a, ip_json(&l->v[i]));
	return json_pack("{s:o}", "ips", a);
}

/* GET /v1/allowlist; one entry after an add. */
static json_t *allows_json(const struct core_allow_list *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_array_append_new(a, json_pack(
			"{s:s, s:I, s:I, s:s, s:s}", "net", l->v[i].net,
			"since", (json_int_t)l->v[i].since,
			"until", (json_int_t)l->v[i].until,
			"reason", l->v[i].reason, "actor", l->v[i].actor));
	return json_pack("{s:o}", "allowlist", a);
}

/* GET /v1/incidents. */
static json_t *incidents_json(const struct core_incident_list *l)
{
	json_t *a = json_array(), *j;
	size_t i;

	for (i = 0; i < l->n; i++)
		if ((j = doc(l->json[i])))
			json_array_append_new(a, j);
	return json_pack("{s:o}", "incidents", a);
}

json_t *http_api_result_json(const struct core_result *r)
{
	json_t *o;

	if (r->status != CORE_OK)
		return json_pack("{s:s}", "error", r->error && *r->error ?
				 r->error : "failed");
	switch (r->kind) {
	case CORE_R_ACCOUNT:
		o = account_json(&r->account);
		if (r->held_action) {
			json_object_set_new(o, "held_action",
					    json_string(r->held_action->action));
			json_object_set_new(o, "held_done",
				str_array(r->held_action->ids,
					  r->held_action->n));
		}
		return o;
	case CORE_R_ACCOUNTS:
		return accounts_json(&r->accounts);
	case CORE_R_ACCOUNT_DETAIL:
		return detail_json(r);
	case CORE_R_HELD:
		return json_pack("{s:o}", "held", held_json(&r->held));
	case CORE_R_HELD_DONE:
		return json_pack("{s:s, s:s}", "queue_id",
				 r->held_done.n ? r->held_done.ids[0] : "",
				 "action", r->held_done.action);
	case CORE_R_DMARC:
		return dmarc_json(&r->dmarc);
	case CORE_R_IPS:
		return ips_json(&r->ips);
	case CORE_R_IP:
		return r->ips.n ? ip_json(&r->ips.v[0]) : json_object();
	case CORE_R_IP_UNBLOCKED:
		return json_pack("{s:s, s:s, s:s}", "ip", r->ip_unblocked.ip,
				 "state", "unblocked", "actor",
				 r->ip_unblocked.actor);
	case CORE_R_ALLOWS:
		return allows_json(&r->allows);
	case CORE_R_ALLOW_DELETED:
		return json_pack("{s:s, s:s, s:s}", "net",
				 r->allow_deleted.net, "state", "deleted",
				 "actor", r->allow_deleted.actor);
	case CORE_R_INCIDENTS:
		return incidents_json(&r->incidents);
	case CORE_R_INCIDENT:
		o = doc(r->incident);
		return o ? o : json_object();
	case CORE_R_NONE:
	case CORE_R_TEXT:
		break;
	}
	return json_object();
}

json_t *http_api_stats_json(const struct core_stats_view *v)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			      " s:I, s:I, s:I, s:I, s:I, s:I,"
			      " s:{s:I, s:I, s:I, s:I, s:I}}",
		"accounts", (json_int_t)v->accounts,
		"decisions", (json_int_t)v->decisions,
		"dunno", (json_int_t)v->dunno,
		"defer", (json_int_t)v->defer,
		"hold", (json_int_t)v->hold,
		"reject", (json_int_t)v->reject,
		"observed", (json_int_t)v->observed,
		"unauthenticated", (json_int_t)v->unauthenticated,
		"messages", (json_int_t)v->messages,
		"recipients", (json_int_t)v->recipients,
		"transitions", (json_int_t)v->transitions,
		"store_failures", (json_int_t)v->store_failures,
		"held_messages", (json_int_t)v->held_messages,
		"accounts_evicted", (json_int_t)v->accounts_evicted,
		"accounts_refused", (json_int_t)v->accounts_refused,
		"states",
		"normal", (json_int_t)v->normal,
		"throttled", (json_int_t)v->throttled,
		"restricted", (json_int_t)v->restricted,
		"probation", (json_int_t)v->probation,
		"suspended", (json_int_t)v->suspended);
	json_t *login = doc(v->login_json);

	if (o && login)
		json_object_set_new(o, "login", login);
	else
		json_decref(login);
	return o;
}

/* A JSON string of s, or null when s is empty. */
static json_t *text_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

/* The groups g[0..n) of the sources view; key names the key member. */
static json_t *dmarc_groups_json(const struct core_dmarc_group *g, size_t n,
				 const char *key)
{
	json_t *a = json_array();
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		json_t *o = json_pack("{so sI sI sI}", key,
				      text_or_null(g[i].key), "sources",
				      (json_int_t)g[i].sources, "count",
				      (json_int_t)g[i].count, "aligned",
				      (json_int_t)g[i].aligned);

		if (!strcmp(key, "name"))
			json_object_set_new(o, "state", json_string(
				core_dmarc_name_states[g[i].state]));
		for (k = 0; k < CORE_DMARC_NCLASSES; k++)
			json_object_set_new(o, core_dmarc_class_names[k],
				json_integer((json_int_t)g[i].by_class[k]));
		json_array_append_new(a, o);
	}
	return a;
}

/* GET /v1/dmarc/sources. */
json_t *http_api_dmarc_sources_json(const struct core_dmarc_sources *s)
{
	json_t *j = json_pack("{ss si sI sb}", "domain", s->domain, "days",
			      s->days, "skipped", (json_int_t)s->skipped,
			      "truncated", s->truncated);
	json_t *src = json_array(), *days = json_array(), *tot = json_object();
	size_t i;
	int k;

	for (i = 0; i < s->n; i++) {
		const struct core_dmarc_source *o = &s->v[i];

		json_t *e = json_pack(
			"{ss ss so so ss so ss sI sI sI s{sI sI sI} ss ss ss}",
			"source_ip", o->ip, "network", o->net, "ptr",
			text_or_null(o->name_state == CORE_DMARC_NAME_CONFIRMED
				     ? o->name : ""), "ptr_claimed",
			text_or_null(o->name_state ==
				     CORE_DMARC_NAME_UNCONFIRMED ? o->name :
				     ""), "ptr_state",
			core_dmarc_name_states[o->name_state], "country",
			text_or_null(o->country), "class",
			core_dmarc_class_names[o->cls],
			"count", (json_int_t)o->count, "dkim_pass",
			(json_int_t)o->dkim_pass, "spf_pass",
			(json_int_t)o->spf_pass, "disposition", "none",
			(json_int_t)o->disp[0], "quarantine",
			(json_int_t)o->disp[1], "reject",
			(json_int_t)o->disp[2], "first_day", o->first_day,
			"last_day", o->last_day, "reporters", o->reporters);

		json_array_append_new(src, e);
	}
	for (i = 0; i < s->ndays; i++) {
		json_t *d = json_pack("{ss}", "day", s->day[i].day);

		for (k = 0; k < CORE_DMARC_NCLASSES; k++)
			json_object_set_new(d, core_dmarc_class_names[k],
				json_integer((json_int_t)s->day[i].by_class[k]));
		json_object_set_new(d, "forged_disposition", json_pack(
			"{sI sI sI}", "none",
			(json_int_t)s->day[i].forged_disp[0], "quarantine",
			(json_int_t)s->day[i].forged_disp[1], "reject",
			(json_int_t)s->day[i].forged_disp[2]));
		json_array_append_new(days, d);
	}
	for (k = 0; k < CORE_DMARC_NCLASSES; k++)
		json_object_set_new(tot, core_dmarc_class_names[k],
				    json_integer((json_int_t)s->by_class[k]));
	json_object_set_new(tot, "forged_disposition", json_pack(
		"{sI sI sI}", "none", (json_int_t)s->forged_disp[0],
		"quarantine", (json_int_t)s->forged_disp[1], "reject",
		(json_int_t)s->forged_disp[2]));
	json_object_set_new(j, "sources", src);
	json_object_set_new(j, "per_day", days);
	json_object_set_new(j, "totals", tot);
	json_object_set_new(j, "names_asked",
			    json_integer((json_int_t)s->names_asked));
	json_object_set_new(j, "by_reverse_name",
			    dmarc_groups_json(s->by_name, s->nby_name, "name"));
	json_object_set_new(j, "by_country",
			    dmarc_groups_json(s->by_country, s->nby_country,
					      "country"));
	return j;
}

json_t *http_api_history_json(const struct core_hist_view *v)
{
	json_t *j = json_pack("{s:s, s:I, s:i, s:i}", "range", v->range,
			      "start", (json_int_t)v->start, "step", v->step,
			      "buckets", v->n);
	json_t *series = json_object();
	int i, b;

	for (i = 0; i < CORE_HIST_NSERIES; i++) {
		json_t *a = json_array();

		for (b = 0; b < v->n; b++)
			json_array_append_new(a,
				json_integer((json_int_t)v->v[b][i]));
		json_object_set_new(series, core_hist_names[i], a);
	}
	json_object_set_new(j, "series", series);
	return j;
}
