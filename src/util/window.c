/*
 * window - two-bucket sliding-window counters.  See window.h.
 */
#include "util/window.h"

/* Move the buckets forward to the bucket of now. */
static void window_roll(struct window *w, uint32_t len, uint32_t now)
{
	uint32_t idx = now / len;

	if (idx == w->idx)
		return;
	w->prev = idx == w->idx + 1 ? w->cur : 0;
	w->cur = 0;
	w->idx = idx;
}

void window_add(struct window *w, uint32_t len, uint32_t now, uint32_t n)
{
	window_roll(w, len, now);
	w->cur = w->cur > UINT32_MAX - n ? UINT32_MAX : w->cur + n;
}

uint32_t window_count(const struct window *w, uint32_t len, uint32_t now)
{
	uint32_t idx = now / len, cur, prev;
	double frac;

	if (idx == w->idx) {
		cur = w->cur;
		prev = w->prev;
	} else if (idx == w->idx + 1) {
		cur = 0;
		prev = w->cur;
	} else {
		return 0;
	}
	frac = 1.0 - (double)(now % len) / len;
	return cur + (uint32_t)(prev * frac + 0.5);
}
