/*
 * dmarc_names - reverse names and countries for the DMARC sources view
 * (dmarc_reports.h, "How to name the sources"); internal to the core:
 * dmarc_sources.c calls it once its scan is complete, admin.c keeps the
 * holder that runs look-ups off the event loop.
 *
 * Threads: dmarc_names_new/free and dmarc_names_run on the loop thread;
 * the look-ups of a run with a holder happen on a thread of their own
 * (joined before the answer), and the answer comes back through a loopq.
 */
#ifndef MAMORI_CORE_DMARC_NAMES_H
#define MAMORI_CORE_DMARC_NAMES_H

#include <stddef.h>

#include "core/dmarc_reports.h"

struct config;
struct event_base;
struct dmarc_names;

/* A holder for base's loop: resolver, PSL and queue made on first use. */
struct dmarc_names *dmarc_names_new(struct event_base *base);
/*
 * Stop: questions in flight fail at once (DNS_TEMPFAIL), their threads end,
 * the answers still queued run (their callers get TEMPFAIL names), then
 * free.  NULL is a no-op.  Loop thread.
 */
void dmarc_names_free(struct dmarc_names *n);

/* What a run fills: the groups, owned by the caller (free()). */
struct dmarc_names_out {
	struct core_dmarc_group *by_name, *by_country;
};

/*
 * Name the n sources v (count descending) of s and group them, then call
 * finish(arg).  With h (the daemon): the countries of lk now, the reverse
 * names on a thread through h's resolver (made from cfg's dns_upstream and
 * dns_timeout_ms; lk->dns is ignored), finish later on the loop thread;
 * with h NULL: everything through lk before the call returns.  s's group
 * members point into out's arrays.  v, s and out must live until finish.
 */
void dmarc_names_run(struct dmarc_names *h, const struct config *cfg,
		     const struct core_dmarc_lookup *lk,
		     struct core_dmarc_sources *s, struct core_dmarc_source *v,
		     struct dmarc_names_out *out, void (*finish)(void *arg),
		     void *arg);

#endif
