/*
 * linefile - plain or gzip log files line by line.  See linefile.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "util/linefile.h"
#include "util/xalloc.h"

struct linefile {
	gzFile z;
	size_t max;
	char *buf;			/* max + 2: the line, '\n', NUL */
};

struct linefile *linefile_open(const char *path, size_t max)
{
	struct linefile *f;
	gzFile z;

	if (strcmp(path, "-") == 0) {
		int fd = dup(STDIN_FILENO);

		z = fd < 0 ? NULL : gzdopen(fd, "rb");
		if (!z && fd >= 0)
			close(fd);
	} else {
		z = gzopen(path, "rb");
	}
	if (!z) {
		if (!errno)
			errno = ENOMEM;
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->z = z;
	f->max = max;
	f->buf = xmalloc(max + 2);
	return f;
}

/* A read error of the stream (not the end), as a negative errno. */
static int stream_error(struct linefile *f)
{
	int err;

	gzerror(f->z, &err);
	if (err == Z_OK || err == Z_STREAM_END)
		return 0;
	return err == Z_ERRNO && errno ? -errno : -EIO;
}

int linefile_next(struct linefile *f, const char **line, size_t *n)
{
	size_t len;
	int r;

	if (!gzgets(f->z, f->buf, (int)(f->max + 2)))
		return (r = stream_error(f)) ? r : LINEFILE_EOF;
	len = strlen(f->buf);
	if (len && f->buf[len - 1] == '\n') {
		f->buf[--len] = '\0';
	} else if (len > f->max) {
		/* Over max: skip to the end of the line, report it once. */
		do {
			len = strlen(f->buf);
			if (len && f->buf[len - 1] == '\n')
				break;
		} while (gzgets(f->z, f->buf, (int)(f->max + 2)));
		return (r = stream_error(f)) ? r : LINEFILE_TOO_LONG;
	} else if ((r = stream_error(f)) != 0) {
		return r;		/* a truncated stream's last piece */
	}
	*line = f->buf;
	*n = len;
	return LINEFILE_LINE;
}

void linefile_close(struct linefile *f)
{
	if (!f)
		return;
	gzclose(f->z);
	free(f->buf);
	free(f);
}
