/*
 * xalloc - allocation that aborts on failure.
 *
 * Internal allocations (config, account records, request state) are not driven
 * by attacker-controlled sizes; running out of memory there is not something a
 * mail filter can recover from, so we log and abort like Postfix's mymalloc().
 * Growth that attacker bytes drive goes through struct buf (buf.h) instead,
 * which has a hard maximum and returns an error.
 */
#ifndef MAMORI_XALLOC_H
#define MAMORI_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; aborts on failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
