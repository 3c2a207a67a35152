/*
 * test-history - the minute ring behind GET /v1/stats/history: counts
 * become per-minute differences, gauges keep the last sample, views sum
 * minutes into buckets and forget minutes older than the ring.
 */
#include <string.h>

#include "core/history.h"
#include "tap.h"

#define T0 1796000400	/* a whole hour (divisible by 3600) */

/* One sample: at t, the cumulative decisions "dunno" and restricted gauge. */
struct sample {
	int64_t t;
	uint64_t dunno, restricted;
};

static const struct {
	const char *label;
	struct sample s[4];
	int ns;
	const char *range;
	int64_t now;
	int bucket;			/* bucket to check, -1: the last */
	uint64_t dunno, restricted;
} rows[] = {
	{"first sample sets the base, counts nothing",
	 {{T0 + 5, 100, 1}}, 1, "hour", T0 + 10, -1, 0, 1},
	{"differences within one minute add up",
	 {{T0, 10, 0}, {T0 + 20, 15, 0}, {T0 + 40, 22, 2}}, 3, "hour",
	 T0 + 50, -1, 12, 2},
	{"a counter going backwards adds nothing",
	 {{T0, 10, 0}, {T0 + 20, 5, 0}, {T0 + 30, 8, 0}}, 3, "hour",
	 T0 + 50, -1, 3, 0},
	{"minutes of one 15-minute bucket are summed (day)",
	 {{T0, 0, 0}, {T0 + 60, 4, 1}, {T0 + 600, 9, 3}}, 3, "day",
	 T0 + 700, -1, 9, 3},
	{"the previous minute is the bucket before (hour)",
	 {{T0, 0, 0}, {T0 + 30, 7, 1}, {T0 + 90, 9, 1}}, 3, "hour",
	 T0 + 90, 58, 7, 1},
	{"a week later the minute is forgotten",
	 {{T0, 0, 0}, {T0 + 30, 7, 1}}, 2, "week",
	 T0 + 8 * 24 * 3600 + 30, -1, 0, 0},
};

int main(void)
{
	struct core_hist_view v;
	size_t r;

	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct core_hist *h = core_hist_new();
		int i, b;

		for (i = 0; i < rows[r].ns; i++) {
			uint64_t cum[CORE_HIST_NSERIES] = { 0 };

			cum[CORE_HIST_DUNNO] = rows[r].s[i].dunno;
			cum[CORE_HIST_RESTRICTED] = rows[r].s[i].restricted;
			core_hist_sample(h, rows[r].s[i].t, cum);
		}
		ok(core_hist_view(h, rows[r].range, rows[r].now, &v) == 0,
		   "%s: view", rows[r].label);
		b = rows[r].bucket < 0 ? v.n - 1 : rows[r].bucket;
		is_int((long long)v.v[b][CORE_HIST_DUNNO],
		       (long long)rows[r].dunno, "%s: dunno", rows[r].label);
		is_int((long long)v.v[b][CORE_HIST_RESTRICTED],
		       (long long)rows[r].restricted, "%s: restricted",
		       rows[r].label);
		core_hist_free(h);
	}
	{
		struct core_hist *h = core_hist_new();
		uint64_t cum[CORE_HIST_NSERIES] = { 0 };

		core_hist_sample(h, 90, cum);
		cum[CORE_HIST_IN_PHISHING] = 5;
		cum[CORE_HIST_DMARC_FAIL] = 3;
		core_hist_sample(h, 95, cum);
		cum[CORE_HIST_IN_PHISHING] = 7;
		core_hist_sample(h, 99, cum);
		ok(core_hist_view(h, "hour", 100, &v) == 0 &&
		   v.v[v.n - 1][CORE_HIST_IN_PHISHING] == 7 &&
		   v.v[v.n - 1][CORE_HIST_DMARC_FAIL] == 3,
		   "inbound label and DMARC series are counts (differences)");
		ok(strcmp(core_hist_names[CORE_HIST_IN_PHISHING],
			  "in_phishing") == 0 &&
		   strcmp(core_hist_names[CORE_HIST_DMARC_NONE],
			  "dmarc_none") == 0 &&
		   strcmp(core_hist_names[CORE_HIST_NORMAL], "normal") == 0,
		   "series names line up with the enum");
		memset(cum, 0, sizeof(cum));
		ok(core_hist_view(h, "week", 100, &v) == 0 && v.start < 0 &&
		   v.v[v.n - 1][CORE_HIST_DUNNO] == 0,
		   "a week before 1970 + 100 s: buckets before 1970 are zeros");
		core_hist_free(h);
	}
	ok(core_hist_view(NULL, "month", T0, &v) == -1,
	   "unknown range refused");
	ok(core_hist_view(NULL, "week", T0, &v) == 0 && v.n == 168 &&
	   v.step == 3600 && v.start + 168 * 3600 > T0,
	   "week: 168 hours ending with now's");
	return tap_done();
}
