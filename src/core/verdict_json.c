/*
 * verdict_json - an inbound verdict as JSON; see verdict_json.h.  Moved
 * here from the CLI's `mamori scan --json` so that the admin API's
 * POST /v1/scan answers the same document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/content.h"
#include "core/inbound.h"
#include "core/verdict_json.h"
#include "util/xalloc.h"

/* The SPF/DKIM/DMARC results of v into o (under "auth", and flat). */
static void auth_fields(json_t *o, const struct mailauth_verdict *v)
{
	json_object_set_new(o, "authentication_results", json_string(v->ar));
	json_object_set_new(o, "received_spf", v->received_spf ?
			    json_string(v->received_spf) : json_null());
	json_object_set_new(o, "from_domain", json_string(v->from_domain));
	json_object_set_new(o, "spf", json_string(v->spf_result));
	json_object_set_new(o, "dkim", json_string(v->dkim_result));
	json_object_set_new(o, "dmarc", json_string(v->dmarc_result));
	json_object_set_new(o, "disposition", json_string(v->disposition));
	json_object_set_new(o, "overridden", json_boolean(v->overridden));
}

/* The SPF/DKIM/DMARC part of the verdict as an object. */
static json_t *auth_json(const struct mailauth_verdict *v)
{
	json_t *o = json_object();

	auth_fields(o, v);
	json_object_set_new(o, "action",
			    json_string(mailauth_action_name(v->action)));
	json_object_set_new(o, "reason", v->reason ? json_string(v->reason) :
			    json_null());
	return o;
}

/* The content part: score, labels, reasons, into o. */
static void content_json(json_t *o, const struct content_verdict *ct)
{
	json_t *labels = json_array(), *reasons = json_array();
	int l;
	size_t i;

	for (l = 0; l < CONTENT_NLABELS; l++)
		if (ct->labels & (1u << l))
			json_array_append_new(labels,
					      json_string(content_label_name(l)));
	for (i = 0; i < ct->nreasons; i++) {
		const struct content_reason *r = &ct->reason[i];
		json_t *d = json_stringn(r->detail, strlen(r->detail));

		if (!d) {	/* not UTF-8 (message bytes): ASCII only */
			char t[CONTENT_DETAIL_MAX], *p;

			snprintf(t, sizeof(t), "%s", r->detail);
			for (p = t; *p; p++)
				if ((unsigned char)*p >= 0x80)
					*p = '?';
			d = json_string(t);
		}
		json_array_append_new(reasons, json_pack("{s:s, s:s, s:i, s:o}",
			"name", r->name, "label", content_label_name(r->label),
			"points", r->points, "detail", d));
	}
	json_object_set_new(o, "score", json_integer(ct->score));
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "reasons", reasons);
	json_object_set_new(o, "content_action",
			    json_string(content_action_name(ct->action)));
	json_object_set_new(o, "content_checked", json_boolean(ct->checked));
	json_object_set_new(o, "verdict_header", ct->checked ?
			    json_string(ct->header) : json_null());
}

json_t *core_verdict_json(const struct core_verdict *cv, size_t fields)
{
	const struct mailauth_verdict *v = cv->auth;
	json_t *o = json_object(), *del = json_array();
	char *reply = cv->rcode ? xasprintf("%s %s %s", cv->rcode,
						cv->xcode, cv->reply ?
						cv->reply : "") : NULL;
	size_t i;

	json_object_set_new(o, "action",
			    json_string(core_action_name(cv->action)));
	content_json(o, cv->content);
	json_object_set_new(o, "auth", auth_json(v));
	/* the flat fields of before stay for existing readers */
	auth_fields(o, v);
	json_object_set_new(o, "header_fields", json_integer((json_int_t)fields));
	json_object_set_new(o, "reply", reply ? json_string(reply) :
			    json_null());
	free(reply);
	json_object_set_new(o, "reason", cv->reason ? json_string(cv->reason) :
			    json_null());
	for (i = 0; i < v->ndel; i++)
		json_array_append_new(del, json_pack("{s:s, s:i}", "name",
			v->del[i].name, "index", v->del[i].index));
	json_object_set_new(o, "removed", del);
	return o;
}

