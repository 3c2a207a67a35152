/*
 * http_api_scan - POST /v1/scan: the inbound verdict for an uploaded
 * message, the evaluation `mamori scan` runs (core_scan() of
 * core/inbound.h: authentication and content), answered with the same
 * JSON as `mamori scan --json` (core/verdict_json.h), for the web UI's
 * Scan page (docs/api.md).
 *
 * The evaluation asks DNS through a blocking resolver, so it runs on a
 * thread of its own, never on the event loop: the loop thread prepares
 * the context (core_scan_new reads the config, which mamorid keeps alive
 * until it exits, old ones included), the worker runs core_scan() and
 * turns the verdict into JSON text, and posts the answer back to the loop
 * (util/loopq.h).  One scan at a time: a second one is refused (409)
 * while the first runs; an admin uploads one message and reads it.
 *
 * Limits: the message is the request body, so at most API_BODY_MAX
 * (64 KiB, evhttp answers 413 above); DNS time is bounded by
 * dns_timeout_ms per question as for the milter.
 * Lifetime: api_scan_free() joins a running worker before the queue's
 * last answers run, so no answer outlives the API.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/inbound.h"
#include "core/verdict_json.h"
#include "front/http_api-internal.h"
#include "util/loopq.h"
#include "util/xalloc.h"

/* One scan, from the loop to the worker and back. */
struct scan_job {
	struct api_scan *owner;
	struct core_scan *s;
	char *msg, *ip, *helo, *from;
	size_t len;
	char *json;			/* the answer (worker), or NULL */
	api_scan_cb *cb;
	void *arg;
};

struct api_scan {
	struct loopq *q;
	pthread_t th;
	bool running;			/* th is to be joined */
};

struct api_scan *api_scan_new(struct event_base *base)
{
	struct api_scan *a = xcalloc(1, sizeof(*a));

	a->q = loopq_new(base, "api-scan");
	return a;
}

/* The verdict as JSON text (core/verdict_json.h), or NULL. */
static char *verdict_text(const struct core_verdict *v, size_t fields)
{
	json_t *o = core_verdict_json(v, fields);
	char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;

	json_decref(o);
	return s;
}

/* Free j and what it owns. */
static void job_free(struct scan_job *j)
{
	core_scan_free(j->s);
	free(j->json);
	free(j->msg);
	free(j->ip);
	free(j->helo);
	free(j->from);
	free(j);
}

/* Loop thread: hand the answer over and free the job. */
static void scan_done(void *arg)
{
	struct scan_job *j = arg;

	if (j->json)
		j->cb(j->arg, 200, j->json);
	else
		j->cb(j->arg, 500, "{\"error\": \"the scan failed\"}");
	job_free(j);
}

/* Worker thread: evaluate, then post the answer to the loop. */
static void *scan_run(void *arg)
{
	struct scan_job *j = arg;
	const struct core_verdict *v;
	size_t fields = 0;

	v = core_scan(j->s, j->ip[0] ? j->ip : NULL, j->helo, j->from, j->msg,
		      j->len, &fields);
	j->json = v ? verdict_text(v, fields) : NULL;
	/* The queue is closed only by api_scan_free, which joins us first. */
	loopq_post(j->owner->q, scan_done, j);
	return NULL;
}

int api_scan_start(struct api_scan *a, const struct config *cfg,
		   const char *msg, size_t len, const char *ip,
		   const char *helo, const char *from, api_scan_cb *cb,
		   void *arg, char *err, size_t errsz)
{
	struct scan_job *j;
	const char *warn = NULL;

	if (a->running) {
		/* Reap a finished worker; refuse while one runs. */
		if (pthread_tryjoin_np(a->th, NULL) != 0) {
			snprintf(err, errsz, "another scan is running; try "
				 "again in a moment");
			return 409;
		}
		a->running = false;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = core_scan_new(cfg, NULL, 0, &warn, err, errsz);
	if (!j->s) {
		free(j);
		return 500;
	}
	j->owner = a;
	j->msg = xmalloc(len + 1);
	memcpy(j->msg, msg, len);
	j->msg[len] = '\0';
	j->len = len;
	j->ip = xstrdup(ip ? ip : "");
	j->helo = xstrdup(helo ? helo : "");
	j->from = xstrdup(from ? from : "");
	j->cb = cb;
	j->arg = arg;
	if (pthread_create(&a->th, NULL, scan_run, j) != 0) {
		job_free(j);
		snprintf(err, errsz, "cannot start the scan thread");
		return 500;
	}
	a->running = true;
	return 0;
}

void api_scan_free(struct api_scan *a)
{
	if (!a)
		return;
	if (a->running)
		pthread_join(a->th, NULL);
	loopq_free(a->q);	/* runs a last answer, if any */
	free(a);
}
