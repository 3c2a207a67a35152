/*
 * fuzz-replay - run a fuzz target over corpus files as an ordinary test.
 *
 *   fuzz-policy DIR|FILE...
 *
 * Linked with a target's LLVMFuzzerTestOneInput() instead of libFuzzer,
 * this replays every file named (directories are read one level deep, in
 * name order, dot files skipped) and prints one TAP line per file, so the
 * seed corpus and every crash reproducer run under "meson test" and the
 * sanitizers without clang.  A crashing input kills the process; the last
 * "# running" line names it.  Each input is copied into a buffer of exactly
 * its size so that AddressSanitizer catches a read one byte past the end.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are refused rather than replayed. */
#define REPLAY_MAX (16u << 20)

static int tests, failed;

/* Print one TAP line. */
static void report(int good, const char *prog, const char *name,
		   const char *why)
{
	tests++;
	if (!good)
		failed++;
	printf("%sok %d - %s %s%s%s\n", good ? "" : "not ", tests, prog, name,
	       why ? ": " : "", why ? why : "");
	fflush(stdout);
}

/* The part of path worth showing: from "corpus/" on, if present. */
static const char *display_name(const char *path)
{
	const char *s = strstr(path, "corpus/");

	return s ? s : path;
}

/* Read path into a buffer of exactly its size; NULL and errno on error. */
static uint8_t *read_input(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *p;

	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0 ||
	    (uintmax_t)st.st_size > REPLAY_MAX) {
		fclose(f);
		errno = EFBIG;
		return NULL;
	}
	*n = (size_t)st.st_size;
	p = malloc(*n ? *n : 1);
	if (p == NULL || fread(p, 1, *n, f) != *n) {
		free(p);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	return p;
}

/* Replay one file. */
static void replay_file(const char *prog, const char *path)
{
	uint8_t *data;
	size_t n = 0;

	printf("# running %s\n", path);
	fflush(stdout);
	if ((data = read_input(path, &n)) == NULL) {
		report(0, prog, display_name(path), strerror(errno));
		return;
	}
	/* Empty input: hand over a pointer that is never dereferenced. */
	LLVMFuzzerTestOneInput(n ? data : (const uint8_t *)"", n);
	free(data);
	report(1, prog, display_name(path), NULL);
}

/* Skip dot files (editor droppings, .gitkeep) in corpus directories. */
static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Replay every regular file in dir, in name order. */
static void replay_dir(const char *prog, const char *dir)
{
	struct dirent **ents;
	struct stat st;
	char path[4096];
	int n, i;

	if ((n = scandir(dir, &ents, visible, alphasort)) < 0) {
		report(0, prog, dir, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			replay_file(prog, path);
		free(ents[i]);
	}
	free(ents);
}

int main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/');
	struct stat st;
	int i;

	prog = prog ? prog + 1 : argv[0];
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0)
			report(0, prog, argv[i], strerror(errno));
		else if (S_ISDIR(st.st_mode))
			replay_dir(prog, argv[i]);
		else
			replay_file(prog, argv[i]);
	}
	if (tests == 0)
		report(0, prog, "(no inputs)", "give corpus files or directories");
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
