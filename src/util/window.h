/*
 * window - an approximate sliding-window counter in 12 bytes.
 *
 * Two buckets of the window's length: the current one and the one before.
 * The count over the last len seconds at time t is
 *   cur + prev * (1 - (t mod len) / len),
 * exact at bucket starts and otherwise off by at most the shape of one
 * bucket's traffic: plenty for limits in the tens to thousands, and small
 * enough to keep for every account and address in memory.  The caller owns
 * the length (one struct serves any window).
 */
#ifndef MAMORI_WINDOW_H
#define MAMORI_WINDOW_H

#include <stdint.h>

struct window {
	uint32_t idx;		/* bucket number: time / len */
	uint32_t cur;
	uint32_t prev;
};

/* Add n at time now (saturating). */
void window_add(struct window *w, uint32_t len, uint32_t now, uint32_t n);
/* Approximate count over the len seconds ending at now. */
uint32_t window_count(const struct window *w, uint32_t len, uint32_t now);

#endif
