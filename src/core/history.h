/*
 * history - the core's figures over the last week, minute by minute, for
 * the web UI's charts (GET /v1/stats/history, docs/api.md): policy
 * decisions by action, logins by verdict and inbound verdicts by action,
 * scam label and DMARC result (counts per minute), accounts by state (the
 * value at the minute's last sample).
 *
 * Kept in memory only (a restart begins a new history), in a ring of
 * CORE_HIST_MINUTES one-minute slots: 7 days and one hour, ~2 MB,
 * allocated at the first sample.  The daemon samples from its periodic
 * tick (every 5 s); a minute with no sample (mamorid was stopped) reads
 * as zeros.  The counts come from the core's cumulative counters, so a
 * sample adds what changed since the one before; a counter that went
 * backwards (never, short of a restart) adds nothing.
 *
 * A view sums the slots into buckets: "hour" 60 of one minute, "day" 96
 * of 15 minutes, "week" 168 of an hour, the last bucket holding now.
 *
 * Threading: the event-loop thread.
 */
#ifndef MAMORI_CORE_HISTORY_H
#define MAMORI_CORE_HISTORY_H

#include <stdint.h>

struct core;

/* The series, counts first, then gauges (CORE_HIST_GAUGE0 on). */
enum core_hist_series {
	CORE_HIST_DUNNO, CORE_HIST_DEFER, CORE_HIST_HOLD, CORE_HIST_REJECT,
	CORE_HIST_LOGIN_ALLOW, CORE_HIST_LOGIN_DELAY, CORE_HIST_LOGIN_REJECT,
	/* inbound verdicts: the milter's action, each scam label attached,
	 * the DMARC result (core_mail_verdict_counts()) */
	CORE_HIST_IN_ACCEPT, CORE_HIST_IN_TAG, CORE_HIST_IN_HOLD,
	CORE_HIST_IN_TEMPFAIL, CORE_HIST_IN_REJECT,
	CORE_HIST_IN_PHISHING, CORE_HIST_IN_FAKE_BILLING, CORE_HIST_IN_MALWARE,
	CORE_HIST_IN_SOLICITATION, CORE_HIST_IN_SPOOFING,
	CORE_HIST_IN_BACKSCATTER,
	CORE_HIST_DMARC_PASS, CORE_HIST_DMARC_FAIL, CORE_HIST_DMARC_NONE,
	CORE_HIST_NORMAL, CORE_HIST_THROTTLED, CORE_HIST_RESTRICTED,
	CORE_HIST_PROBATION, CORE_HIST_SUSPENDED,
	CORE_HIST_NSERIES
};
#define CORE_HIST_GAUGE0 CORE_HIST_NORMAL
/* Their names in the API: "dunno" ... "login_allow" ... "in_hold" ...
 * "in_phishing" ... "dmarc_pass" ... "suspended". */
extern const char *const core_hist_names[CORE_HIST_NSERIES];

#define CORE_HIST_MINUTES (7 * 24 * 60 + 60)
#define CORE_HIST_MAX_BUCKETS 168

/* A view: n buckets of step seconds from start (unix time). */
struct core_hist_view {
	const char *range;
	int64_t start;
	int step, n;
	uint64_t v[CORE_HIST_MAX_BUCKETS][CORE_HIST_NSERIES];
};

struct core_hist;

/* An empty history; free with core_hist_free (NULL is a no-op). */
struct core_hist *core_hist_new(void);
void core_hist_free(struct core_hist *h);
/* Record at unix time now the cumulative counts and current gauges cum. */
void core_hist_sample(struct core_hist *h, int64_t now,
		      const uint64_t cum[CORE_HIST_NSERIES]);
/* Fill v for range ("hour", "day", "week") ending at now; 0, or -1 for
 * another range.  h may be NULL (no sample yet: zeros). */
int core_hist_view(const struct core_hist *h, const char *range,
		   int64_t now, struct core_hist_view *v);

/* Sample the core's figures (now 0: the clock); from the daemon's tick. */
void core_history_tick(struct core *c, int64_t now);
/* The core's history for range, sampled up to now first (now 0: the
 * clock).  0, or -1 for an unknown range. */
int core_history_get(struct core *c, const char *range, int64_t now,
		     struct core_hist_view *v);

#endif
