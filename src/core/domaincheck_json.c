/*
 * domaincheck_json - the JSON of a domain check and its report-store input;
 * see domaincheck_json.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dmarc_reports.h"
#include "core/domaincheck_json.h"
#include "util/buf.h"
#include "util/config.h"

/* s escaped for display (control bytes, invalid UTF-8 as \xNN). */
static json_t *shown_string(const char *s)
{
	struct buf b;
	json_t *j;

	buf_init(&b, 4 * strlen(s) + 1);
	/* Cannot fail: the output takes at most 4 * n bytes. */
	(void)utf8_escape(&b, s, strlen(s), UTF8_ESC_SHOW);
	j = json_stringn(b.p ? b.p : "", b.p ? b.len : 0);
	buf_deinit(&b);
	return j;
}

json_t *domaincheck_report_json(const struct domaincheck_report *rep)
{
	json_t *o = json_object(), *a = json_array();
	size_t i;

	if (!o || !a) {
		json_decref(o);
		json_decref(a);
		return NULL;
	}
	json_object_set_new(o, "domain", shown_string(rep->domain));
	json_object_set_new(o, "complete", json_boolean(!rep->incomplete));
	json_object_set_new(o, "errors", json_integer(
			    (json_int_t)rep->count[DOMAINCHECK_ERROR]));
	json_object_set_new(o, "warnings", json_integer(
			    (json_int_t)rep->count[DOMAINCHECK_WARNING]));
	json_object_set_new(o, "spf_lookups",
			    json_integer(rep->spf_lookups));
	json_object_set_new(o, "spf_void_lookups",
			    json_integer(rep->spf_voids));
	json_object_set_new(o, "dns_queries", json_integer(rep->queries));
	for (i = 0; i < rep->n; i++) {
		json_t *f = json_object();

		json_object_set_new(f, "severity", json_string(
				    domaincheck_sev_name(rep->f[i].sev)));
		json_object_set_new(f, "code", shown_string(rep->f[i].code));
		json_object_set_new(f, "text", shown_string(rep->f[i].text));
		json_array_append_new(a, f);
	}
	json_object_set_new(o, "findings", a);
	return o;
}

bool domaincheck_read_sources(const struct config *cfg, const char *spec,
			      const char *domain,
			      struct domaincheck_sources *src, char *err,
			      size_t errsz)
{
	struct store *st;
	char why[256];

	if (!spec)
		spec = cfg->store;
	/* a lint does not create a database (as root, in mamorid's
	 * directory): a sqlite file must exist already */
	if (!strncmp(spec, "sqlite:", 7) && access(spec + 7, R_OK) != 0) {
		snprintf(err, errsz, "store %s: %s", spec, strerror(errno));
		return false;
	}
	if (core_dmarc_store_open(spec, &st, why, sizeof(why)) != 0) {
		snprintf(err, errsz, "store %s: %s", spec, why);
		return false;
	}
	if (core_dmarc_advice_sources(st, domain, cfg->dmarc_our_networks,
				      (int64_t)time(NULL), src, why,
				      sizeof(why)) != 0) {
		snprintf(err, errsz, "store %s: %s", spec, why);
		core_dmarc_store_close(st);
		return false;
	}
	core_dmarc_store_close(st);
	return true;
}
