/*
 * http_api-internal - between http_api.c (requests, routes, replies) and
 * http_api_json.c (the core's results as JSON); not for other modules.
 */
#ifndef MAMORI_HTTP_API_INTERNAL_H
#define MAMORI_HTTP_API_INTERNAL_H

#include <jansson.h>

#include "core/admin.h"

/* The HTTP status of a core status: 200, 400, 404, 409, 503, 500. */
int http_api_status(enum core_status st);
/* The reply body of r: {"error": ...} unless CORE_OK, else the route's
 * document (docs/api.md).  A new reference.  Not for CORE_R_TEXT. */
json_t *http_api_result_json(const struct core_result *r);
/* GET /v1/stats; a new reference. */
json_t *http_api_stats_json(const struct core_stats_view *v);
struct buf;
/* GET /metrics: the auth-policy, milter, notice and store figures
 * (http_api_metrics.c), appended to b. */
void http_api_metrics_render(const struct core_metrics_view *v,
			     struct buf *b);
struct core_dmarc_sources;
/* The answer of GET /v1/dmarc/sources (docs/api.md). */
json_t *http_api_dmarc_sources_json(const struct core_dmarc_sources *s);

#endif
