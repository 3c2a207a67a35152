/*
 * linefile - read a log file line by line, plain or gzip, bounded.
 *
 * mamori learn and replay read rotated logs (mail.log, mail.log.1,
 * mail.log.2.gz ...); zlib's gz* functions read gzip and plain files alike
 * (a file without the gzip magic is passed through), and concatenated gzip
 * members too.  Lines are at most max bytes: a longer one is reported once
 * as LINEFILE_TOO_LONG and skipped to its end, so a hostile or broken log
 * cannot make the reader allocate without bound.
 *
 * Threading: one reader per caller.  Blocking I/O: for the CLI, not for the
 * daemon's event loop.
 */
#ifndef MAMORI_LINEFILE_H
#define MAMORI_LINEFILE_H

#include <stddef.h>

enum {
	LINEFILE_EOF = 0,
	LINEFILE_LINE = 1,
	LINEFILE_TOO_LONG = 2,	/* a line over max bytes, skipped */
};

struct linefile;

/*
 * Open path ("-": standard input) for lines of at most max bytes
 * (newline excluded).  NULL with errno set on failure.
 */
struct linefile *linefile_open(const char *path, size_t max);
/*
 * The next line: LINEFILE_LINE with *line (NUL-terminated, without the
 * newline; borrowed until the next call) and *n set; LINEFILE_TOO_LONG;
 * LINEFILE_EOF at the end; or a negative errno (-EIO: a corrupt or
 * truncated gzip stream).  A last line without a newline is a line.
 */
int linefile_next(struct linefile *f, const char **line, size_t *n);
/* Close; NULL is a no-op. */
void linefile_close(struct linefile *f);

#endif
