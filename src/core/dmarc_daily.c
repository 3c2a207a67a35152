/*
 * dmarc_daily - mamorid's daily run of the DMARC aggregate reports it
 * sends (core/dmarc_send.h): once a day, in the UTC hour
 * dmarc_report_hour, when dmarc_report_send is on.
 *
 * The run blocks (DNS, SMTP) and wants a store that answers at once, so
 * it runs on a thread of its own with its own store handle (store_open of
 * the configured store: sqlite in WAL mode takes a second connection; a
 * networked store is refused by the run and logged).  The daemon's loop
 * only calls core_dmarc_daily_tick() from its periodic timer; a run that
 * is still going is never started twice.  What was sent is in the store
 * (dmarc_sent), so a restart within the hour runs again and sends nothing
 * twice.  core_dmarc_daily_free() waits for a run in progress (bounded by
 * libcurl's 300 s timeout per message and the DNS timeouts).
 *
 * Threading: tick and free on the loop thread; the config passed to tick
 * must outlive the run (mamorid keeps replaced configs until exit).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dmarc_send.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

struct core_dmarc_daily {
	pthread_t th;
	bool started;			/* th is joinable */
	atomic_bool done;		/* the thread has finished */
	char last_day[16];		/* UTC day of the last run */
	const struct config *cfg;
};

/* The run, on its own thread. */
static void *run(void *arg)
{
	struct core_dmarc_daily *d = arg;
	struct core_dmarc_send_opts o;
	struct core_dmarc_send_totals t;
	struct store *st = NULL;
	char err[512];

	if (store_open(d->cfg->store, NULL, &st, err, sizeof(err)) != 0) {
		log_msg(LOG_L_ERR, "event=dmarc_report_run error=\"store: "
			"%s\"", err);
		atomic_store(&d->done, true);
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	o.cfg = d->cfg;
	o.st = st;
	o.send = true;
	o.now = (int64_t)time(NULL);
	if (core_dmarc_send_run(&o, &t, err, sizeof(err)) != 0)
		log_msg(LOG_L_ERR, "event=dmarc_report_run error=\"%s\"", err);
	else
		log_msg(LOG_L_INFO, "event=dmarc_report_run reports=%zu "
			"sent=%zu duplicate=%zu unauthorised=%zu too_large=%zu "
			"deferred=%zu tempfail=%zu refused=%zu", t.reports,
			t.sent, t.duplicate, t.unauthorised, t.too_large,
			t.deferred, t.tempfail, t.refused);
	store_close(st);
	atomic_store(&d->done, true);
	return NULL;
}

struct core_dmarc_daily *core_dmarc_daily_new(void)
{
	return xcalloc(1, sizeof(struct core_dmarc_daily));
}

void core_dmarc_daily_tick(struct core_dmarc_daily *d,
			   const struct config *cfg, int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;
	char day[16];

	if (d->started && atomic_load(&d->done)) {
		pthread_join(d->th, NULL);
		d->started = false;
	}
	if (!cfg->dmarc_report_send || d->started)
		return;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	if (tm.tm_hour != cfg->dmarc_report_hour ||
	    !strcmp(day, d->last_day))
		return;
	snprintf(d->last_day, sizeof(d->last_day), "%s", day);
	d->cfg = cfg;
	atomic_store(&d->done, false);
	if (pthread_create(&d->th, NULL, run, d) != 0) {
		log_msg(LOG_L_ERR, "event=dmarc_report_run error=\"cannot "
			"start a thread\"");
		return;
	}
	d->started = true;
}

void core_dmarc_daily_free(struct core_dmarc_daily *d)
{
	if (!d)
		return;
	if (d->started)
		pthread_join(d->th, NULL);
	free(d);
}
