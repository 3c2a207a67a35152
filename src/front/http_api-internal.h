/*
 * http_api-internal - between the parts of the admin API; not for other
 * modules.  http_api.c takes requests (listeners, token, path, the route
 * match) and answers them; http_api_routes.c holds the route table and
 * its handlers; http_api_json.c turns the core's results into JSON;
 * http_api_scan.c and http_api_domain.c run scans and domain checks on
 * threads.
 */
#ifndef MAMORI_HTTP_API_INTERNAL_H
#define MAMORI_HTTP_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>
#include <jansson.h>

#include "core/admin.h"
#include "front/http_api_body.h"
#include "util/log.h"

#define API_MAX_SEGS 4
#define API_MAX_PARAMS API_QUERY_MAX_PARAMS /* one route reads */

struct api_domcheck;
struct api_scan;
struct config;
struct core;

/*
 * One request from arrival to reply; owns what the core may still read.
 * Made by http_api.c, handed to one route's handler, freed by the answer
 * (api_call_reply() and the functions that end in it).
 */
struct api_call {
	struct evhttp_request *req;	/* NULL once the client is gone */
	struct evhttp_connection *evcon;
	struct core *core;
	struct api_scan *scan;		/* POST /v1/scan, one at a time */
	struct api_domcheck *domcheck;	/* GET /v1/domain/check */
	const struct config *cfg;	/* the API's config at arrival */
	const char *method;
	char path[LOG_QSZ];		/* log_q() form of the raw path */
	char actor[48];
	const char *auth;		/* "failed" after a bad token, else "" */
	int nseg;
	char *seg[API_MAX_SEGS];	/* decoded path segments */
	char *query;			/* decoded query value, or NULL */
	char *param[API_MAX_PARAMS];	/* api_call_params() values, or NULL */
	struct api_body body;		/* checked request body */
};

struct api_route;
/* A route's handler: answers call, at once or through the core. */
typedef void api_route_fn(struct api_call *call, const struct api_route *r);

/* A path pattern ("*" matches one segment), the method it takes and its
 * handler. */
struct api_route {
	const char *pat[API_MAX_SEGS + 1];
	enum evhttp_cmd_type method;
	api_route_fn *fn;
};

/* The routes (http_api_routes.c), matched in order; the first path and
 * method that fit win. */
extern const struct api_route api_routes[];
extern const size_t api_nroutes;

/* Answer status with len bytes of data of content type ctype; logs one
 * line and frees call (the answer is dropped when the client is gone). */
void api_call_reply(struct api_call *call, int status, const char *ctype,
		    const char *data, size_t len);
/* Answer body as JSON (a reference taken over; NULL: a generic body for
 * status); frees call. */
void api_call_reply_json(struct api_call *call, int status, json_t *body);
/* Answer {"error": the printf-formatted message}; frees call. */
__attribute__((format(printf, 3, 4)))
void api_call_error(struct api_call *call, int status, const char *fmt, ...);
/* core_admin_cb for arg = the call: answers with the core's result. */
void api_call_core_done(void *arg, const struct core_result *r);
/* Check the body for kind into call->body.  0, or -1 after answering 400
 * (call freed). */
int api_call_body(struct api_call *call, enum api_body_kind kind);
/* Read the query parameters names[0..n) into call->param[0..n) (see
 * api_query_parse()).  0, or -1 after answering 400 (call freed). */
int api_call_params(struct api_call *call, const char *const *names, int n);
/* Read query parameter name into call->query (NULL when absent).  0, or
 * -1 after answering 400 for a malformed query or an unclean value. */
int api_call_query(struct api_call *call, const char *name);

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
