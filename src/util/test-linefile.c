/*
 * test-linefile - plain and gzip log files line by line: what each row's
 * file yields, as "L:text" per line, "LONG" per over-long line, "EOF" or
 * "ERR" at the end.  Files are written in a temp dir (gzip through zlib).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "tap.h"
#include "util/linefile.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX 16

enum how { PLAIN, GZIP, GZIP_TWO_MEMBERS, GZIP_TRUNCATED };

static const struct row {
	const char *label;
	enum how how;
	const char *data;
	const char *want;
} rows[] = {
	{"plain, two lines", PLAIN, "one\ntwo\n", "L:one L:two EOF"},
	{"plain, no final newline", PLAIN, "one\ntwo", "L:one L:two EOF"},
	{"plain, empty file", PLAIN, "", "EOF"},
	{"plain, empty lines kept", PLAIN, "\n\nx\n", "L: L: L:x EOF"},
	{"plain, CR kept for the parser", PLAIN, "a\r\nb\r\n", "L:a\r L:b\r EOF"},
	{"exactly max bytes", PLAIN, "0123456789abcdef\nx\n",
	 "L:0123456789abcdef L:x EOF"},
	{"one over max, skipped once", PLAIN, "0123456789abcdefg\nx\n",
	 "LONG L:x EOF"},
	{"far over max, skipped once", PLAIN,
	 "0123456789abcdef0123456789abcdef0123456789abcdef\nx\n",
	 "LONG L:x EOF"},
	{"over max at the end", PLAIN, "x\n0123456789abcdef0123456789",
	 "L:x LONG EOF"},
	{"gzip", GZIP, "one\ntwo\n", "L:one L:two EOF"},
	{"gzip, over max", GZIP, "0123456789abcdef0123456789\nx\n",
	 "LONG L:x EOF"},
	{"gzip, two members (cat a.gz b.gz)", GZIP_TWO_MEMBERS, "one\n",
	 "L:one L:one EOF"},
	{"gzip, truncated", GZIP_TRUNCATED,
	 "line one is here\nline two\nline three\n",
	 "L:line one is here L:line two ERR"},
};

/* Write data to path as the row says. */
static int write_file(const char *path, enum how how, const char *data)
{
	size_t n = strlen(data);
	gzFile z;
	FILE *f;

	if (how == PLAIN) {
		if (!(f = fopen(path, "wb")))
			return -1;
		fwrite(data, 1, n, f);
		return fclose(f);
	}
	if (!(z = gzopen(path, "wb")))
		return -1;
	if (n)
		gzwrite(z, data, (unsigned)n);
	gzclose(z);
	if (how == GZIP_TWO_MEMBERS) {
		z = gzopen(path, "ab");
		gzwrite(z, data, (unsigned)n);
		gzclose(z);
	}
	if (how == GZIP_TRUNCATED) {
		long size;

		if (!(f = fopen(path, "rb+")) || fseek(f, 0, SEEK_END) != 0)
			return -1;
		size = ftell(f);
		fclose(f);
		return truncate(path, size - 12);
	}
	return 0;
}

/* Read path whole into the transcript. */
static void read_all(const char *path, char *out, size_t sz)
{
	struct linefile *f = linefile_open(path, MAX);
	const char *line;
	size_t n, used = 0;
	int r, guard = 0;

	out[0] = '\0';
	if (!f) {
		snprintf(out, sz, "OPEN-FAILED");
		return;
	}
	while ((r = linefile_next(f, &line, &n)) != LINEFILE_EOF &&
	       guard++ < 100) {
		if (r < 0) {
			used += (size_t)snprintf(out + used, sz - used, "ERR");
			break;
		}
		used += (size_t)snprintf(out + used, sz - used, "%s ",
					 r == LINEFILE_TOO_LONG ? "LONG" : "L:");
		if (r == LINEFILE_LINE) {
			used--;
			used += (size_t)snprintf(out + used, sz - used, "%.*s ",
						 (int)n, line);
		}
		if (used >= sz)
			break;
	}
	if (r == LINEFILE_EOF && used < sz)
		snprintf(out + used, sz - used, "EOF");
	linefile_close(f);
}

int main(void)
{
	char dir[] = "/tmp/test-linefile.XXXXXX", path[64], got[512];
	size_t i;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/log", dir);
	for (i = 0; i < NELEM(rows); i++) {
		ok(write_file(path, rows[i].how, rows[i].data) == 0,
		   "%s: written", rows[i].label);
		read_all(path, got, sizeof(got));
		is_str(got, rows[i].want, "%s", rows[i].label);
		unlink(path);
	}
	errno = 0;
	ok(linefile_open("/nonexistent/mail.log", MAX) == NULL && errno,
	   "a missing file: NULL with errno");
	linefile_close(NULL);
	rmdir(dir);
	return tap_done();
}
