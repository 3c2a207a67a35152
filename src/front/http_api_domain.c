/*
 * http_api_domain - GET /v1/domain/check?domain=D: the lint `mamori
 * domain check` runs (core/domaincheck.h: SPF, DKIM, DMARC, MX and the
 * staged p=quarantine/p=reject advice from the ingested aggregate
 * reports), answered with the same JSON as `mamori domain check --json`
 * (core/domaincheck_json.h), for the web UI's Domains page (docs/api.md).
 *
 * The check asks DNS through a blocking resolver (dns_upstream, each
 * question bounded by dns_timeout_ms, at most DOMAINCHECK_MAX_QUERIES
 * questions), so it runs on a thread of its own, never on the event loop,
 * as POST /v1/scan does (http_api_scan.c): the worker reads the report
 * store through its own connection, runs the check, turns the report into
 * JSON text and posts it back to the loop (util/loopq.h).  At most
 * API_DOMCHECK_MAX checks run at once; one more is refused (429), so a
 * client cannot pile up threads.  The domain is validated by the caller
 * (domaincheck_name_ok) before a thread starts.
 *
 * Lifetime: the config mamorid hands the API stays alive until it exits;
 * api_domcheck_free() joins every running worker before the queue's last
 * answers run, so no answer outlives the API.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/domaincheck_json.h"
#include "front/http_api-internal.h"
#include "util/loopq.h"
#include "util/xalloc.h"

#define API_DOMCHECK_MAX 2	/* checks at once: each may wait on DNS */

/* One check, from the loop to the worker and back. */
struct dc_job {
	struct api_domcheck *owner;
	const struct config *cfg;
	char domain[254];
	char *json;			/* the answer (worker), or NULL */
	char err[512];			/* why not, when json is NULL */
	api_scan_cb *cb;
	void *arg;
};

struct api_domcheck {
	struct loopq *q;
	pthread_t th[API_DOMCHECK_MAX];
	bool running[API_DOMCHECK_MAX];	/* th[i] is to be joined */
};

struct api_domcheck *api_domcheck_new(struct event_base *base)
{
	struct api_domcheck *a = xcalloc(1, sizeof(*a));

	a->q = loopq_new(base, "api-domcheck");
	return a;
}

/* Loop thread: hand the answer over and free the job. */
static void dc_done(void *arg)
{
	struct dc_job *j = arg;

	if (j->json) {
		j->cb(j->arg, 200, j->json);
	} else {
		json_t *e = json_pack("{s:s}", "error", j->err);
		char *s = e ? json_dumps(e, 0) : NULL;

		j->cb(j->arg, 500, s ? s : "{\"error\": \"the check failed\"}");
		free(s);
		json_decref(e);
	}
	free(j->json);
	free(j);
}

/* Worker thread: read the reports, check, post the answer to the loop. */
static void *dc_run(void *arg)
{
	struct dc_job *j = arg;
	struct domaincheck_sources src;
	struct domaincheck_report rep;
	char src_err[400];
	bool have_src;

	have_src = domaincheck_read_sources(j->cfg, NULL, j->domain, &src,
					    src_err, sizeof(src_err));
	if (domaincheck_run(j->cfg, NULL, j->domain, NULL, 0,
			    have_src ? &src : NULL, &rep, j->err,
			    sizeof(j->err)) == 0) {
		json_t *o;

		if (!have_src) {
			char line[DOMAINCHECK_TEXT_MAX];

			snprintf(line, sizeof(line), "the ingested reports "
				 "could not be read (%s): the staged advice "
				 "assumes none", src_err);
			domaincheck_note(&rep, "advice.no_store", line);
		}
		o = domaincheck_report_json(&rep);
		j->json = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
		json_decref(o);
		domaincheck_report_deinit(&rep);
	}
	/* The queue is closed only by api_domcheck_free, which joins us. */
	loopq_post(j->owner->q, dc_done, j);
	return NULL;
}

int api_domcheck_start(struct api_domcheck *a, const struct config *cfg,
		       const char *domain, api_scan_cb *cb, void *arg,
		       char *err, size_t errsz)
{
	struct dc_job *j;
	int i, slot = -1;

	/* Reap finished workers; take a free slot. */
	for (i = 0; i < API_DOMCHECK_MAX; i++) {
		if (a->running[i] && pthread_tryjoin_np(a->th[i], NULL) == 0)
			a->running[i] = false;
		if (!a->running[i] && slot < 0)
			slot = i;
	}
	if (slot < 0) {
		snprintf(err, errsz, "%d domain checks are running; try "
			 "again in a moment", API_DOMCHECK_MAX);
		return 429;
	}
	j = xcalloc(1, sizeof(*j));
	j->owner = a;
	j->cfg = cfg;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	j->cb = cb;
	j->arg = arg;
	if (pthread_create(&a->th[slot], NULL, dc_run, j) != 0) {
		free(j);
		snprintf(err, errsz, "cannot start the check thread");
		return 500;
	}
	a->running[slot] = true;
	return 0;
}

void api_domcheck_free(struct api_domcheck *a)
{
	int i;

	if (!a)
		return;
	for (i = 0; i < API_DOMCHECK_MAX; i++)
		if (a->running[i])
			pthread_join(a->th[i], NULL);
	loopq_free(a->q);	/* runs the last answers, if any */
	free(a);
}
