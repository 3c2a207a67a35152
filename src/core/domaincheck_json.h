/*
 * domaincheck_json - a domain check (core/domaincheck.h) as the JSON
 * document `mamori domain check --json` prints and GET /v1/domain/check
 * answers (docs/api.md), and the staged-advice input read from the report
 * store, shared by both so they cannot drift apart.
 *
 * DNS text in a finding may hold any byte: valid UTF-8 stays, the rest and
 * control bytes are written \xNN (util/buf.h utf8_escape, UTF8_ESC_SHOW),
 * so every string is valid JSON and safe on a terminal.
 *
 * Threading: any thread; domaincheck_read_sources opens its own store
 * connection and closes it before returning.
 */
#ifndef MAMORI_CORE_DOMAINCHECK_JSON_H
#define MAMORI_CORE_DOMAINCHECK_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/domaincheck.h"

/* rep as a new JSON object: domain, complete, errors, warnings,
 * spf_lookups, spf_void_lookups, dns_queries, findings[] of {severity,
 * code, text}.  NULL only when out of memory. */
json_t *domaincheck_report_json(const struct domaincheck_report *rep);

/*
 * Fill *src for domain from the report store spec (NULL: cfg->store) and
 * cfg->dmarc_our_networks.  A sqlite store must exist already (a lint does
 * not create a database).  false with why in err when it cannot be read.
 */
bool domaincheck_read_sources(const struct config *cfg, const char *spec,
			      const char *domain,
			      struct domaincheck_sources *src, char *err,
			      size_t errsz);

#endif
