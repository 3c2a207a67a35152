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
/* POST /v1/scan (http_api_scan.c): one scan at a time, on a thread. */
struct api_scan;
struct config;
struct event_base;
/* The answer: status 200 with the verdict, or an error; JSON text. */
typedef void api_scan_cb(void *arg, int status, const char *json);
struct api_scan *api_scan_new(struct event_base *base);
/* Join a running scan, run its answer, free; NULL is a no-op. */
void api_scan_free(struct api_scan *a);
/*
 * Scan msg[0..len) (copied) as received from ip with helo and MAIL FROM
 * from (each NULL or "": none), with cfg's settings; cb runs later on the
 * loop.  0, or 409 (a scan is running) or 500 with err, cb not called.
 */
int api_scan_start(struct api_scan *a, const struct config *cfg,
		   const char *msg, size_t len, const char *ip,
		   const char *helo, const char *from, api_scan_cb *cb,
		   void *arg, char *err, size_t errsz);
/* GET /v1/domain/check (http_api_domain.c): at most 2 checks at once,
 * each on a thread; the answer goes through an api_scan_cb. */
struct api_domcheck;
struct api_domcheck *api_domcheck_new(struct event_base *base);
/* Join the running checks, run their answers, free; NULL is a no-op. */
void api_domcheck_free(struct api_domcheck *a);
/*
 * Check domain (valid by domaincheck_name_ok) with cfg's settings; cb runs
 * later on the loop with the JSON of `mamori domain check --json`.  0, or
 * 429 (too many checks running) or 500 with err, cb not called.
 */
int api_domcheck_start(struct api_domcheck *a, const struct config *cfg,
		       const char *domain, api_scan_cb *cb, void *arg,
		       char *err, size_t errsz);
struct core_hist_view;
/* GET /v1/stats/history; a new reference. */
json_t *http_api_history_json(const struct core_hist_view *v);
struct core_dmarc_sources;
/* The answer of GET /v1/dmarc/sources (docs/api.md). */
json_t *http_api_dmarc_sources_json(const struct core_dmarc_sources *s);

#endif
