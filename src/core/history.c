/*
 * history - a week of the core's figures per minute; see history.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/login.h"
#include "core/core-internal.h"
#include "core/history.h"
#include "core/inbound-internal.h"
#include "util/xalloc.h"

const char *const core_hist_names[CORE_HIST_NSERIES] = {
	"dunno", "defer", "hold", "reject",
	"login_allow", "login_delay", "login_reject",
	"in_accept", "in_tag", "in_hold", "in_tempfail", "in_reject",
	"in_phishing", "in_fake_billing", "in_malware", "in_solicitation",
	"in_spoofing", "in_backscatter",
	"dmarc_pass", "dmarc_fail", "dmarc_none",
	"normal", "throttled", "restricted", "probation", "suspended",
};

_Static_assert(CORE_HIST_DMARC_NONE + 1 - CORE_HIST_IN_ACCEPT ==
	       CORE_MAIL_NVERDICT_COUNTS,
	       "the inbound series are core_mail_verdict_counts()'s");

/* One minute: its number (unix time / 60) and its figures. */
struct hist_slot {
	int64_t minute;
	uint64_t v[CORE_HIST_NSERIES];
};

struct core_hist {
	struct hist_slot s[CORE_HIST_MINUTES];
	uint64_t prev[CORE_HIST_NSERIES];	/* cumulative at last sample */
	int have_prev;
};

struct core_hist *core_hist_new(void)
{
	return xcalloc(1, sizeof(struct core_hist));
}

void core_hist_free(struct core_hist *h)
{
	free(h);
}

/* The slot of minute m, emptied when it held an older minute. */
static struct hist_slot *slot_of(struct core_hist *h, int64_t m)
{
	struct hist_slot *s = &h->s[m % CORE_HIST_MINUTES];

	if (s->minute != m) {
		memset(s, 0, sizeof(*s));
		s->minute = m;
	}
	return s;
}

void core_hist_sample(struct core_hist *h, int64_t now,
		      const uint64_t cum[CORE_HIST_NSERIES])
{
	struct hist_slot *s;
	int i;

	if (now < 0)
		return;
	s = slot_of(h, now / 60);
	for (i = 0; i < CORE_HIST_NSERIES; i++) {
		if (i >= CORE_HIST_GAUGE0)
			s->v[i] = cum[i];
		else if (h->have_prev && cum[i] >= h->prev[i])
			s->v[i] += cum[i] - h->prev[i];
		h->prev[i] = cum[i];
	}
	h->have_prev = 1;
}

int core_hist_view(const struct core_hist *h, const char *range,
		   int64_t now, struct core_hist_view *v)
{
	int64_t end, m0;
	int b, k, i, per;

	memset(v, 0, sizeof(*v));
	if (!range)
		return -1;
	if (strcmp(range, "hour") == 0)
		v->step = 60, v->n = 60;
	else if (strcmp(range, "day") == 0)
		v->step = 900, v->n = 96;
	else if (strcmp(range, "week") == 0)
		v->step = 3600, v->n = 168;
	else
		return -1;
	v->range = range;
	end = (now / v->step + 1) * v->step;
	v->start = end - (int64_t)v->n * v->step;
	per = v->step / 60;
	for (b = 0; b < v->n && h; b++) {
		m0 = (v->start + (int64_t)b * v->step) / 60;
		for (k = 0; k < per; k++) {
			const struct hist_slot *s;

			if (m0 + k < 0)	/* before 1970: nothing */
				continue;
			s = &h->s[(m0 + k) % CORE_HIST_MINUTES];
			if (s->minute != m0 + k)
				continue;
			for (i = 0; i < CORE_HIST_NSERIES; i++) {
				if (i < CORE_HIST_GAUGE0)
					v->v[b][i] += s->v[i];
				else
					v->v[b][i] = s->v[i];
			}
		}
	}
	return 0;
}

/* Count accounts per state into n[5]. */
static void count_state(struct acct *a, void *arg)
{
	uint64_t *n = arg;

	n[a->state]++;
}

void core_history_tick(struct core *c, int64_t now)
{
	uint64_t cum[CORE_HIST_NSERIES] = { 0 };
	int i;

	if (!now)
		now = (int64_t)time(NULL);
	if (!c->hist)
		c->hist = core_hist_new();
	for (i = 0; i < 4; i++)
		cum[CORE_HIST_DUNNO + i] = c->stats.actions[i];
	if (c->login)
		login_verdict_counts(c->login, &cum[CORE_HIST_LOGIN_ALLOW]);
	core_mail_verdict_counts(c->mail, &cum[CORE_HIST_IN_ACCEPT]);
	acct_table_foreach(c->accounts, count_state, &cum[CORE_HIST_NORMAL]);
	core_hist_sample(c->hist, now, cum);
}

int core_history_get(struct core *c, const char *range, int64_t now,
		     struct core_hist_view *v)
{
	if (!now)
		now = (int64_t)time(NULL);
	core_history_tick(c, now);
	return core_hist_view(c->hist, range, now, v);
}
