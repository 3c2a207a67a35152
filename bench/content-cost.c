/*
 * content-cost - the inbound content path alone (one MIME parse,
 * content_check, content_decide: core/inbound.c's evaluate() without DMARC
 * and the correspondence index) over a set of messages, in one process, so
 * that `valgrind --tool=callgrind` counts its instructions per message
 * without the milter, SPF/DKIM or process start around it.
 *
 *   content-cost [-p PROTECTED_FILE] [-r ROUNDS] [-q] FILE|DIR ...
 *
 * Messages (files, or every regular file of a directory, in name order)
 * are read into memory first (at most MAX_MSG bytes each, as
 * content_max_size would keep).  Each round runs every message once.
 * Prints one line per message of the first round: the file, score,
 * action and every reason (name, points, detail), so that two builds'
 * verdicts can be diffed; -q prints only the totals.  Under callgrind the
 * cost of the checks is the inclusive count of run_one() divided by the
 * messages it ran (printed at the end).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/content.h"
#include "mail/dmarc.h"
#include "mail/mime.h"
#include "util/config.h"
#include "util/xalloc.h"

#define MAX_MSG (256u * 1024u)	/* content_max_size's default order */
#define MAX_FILES 20000

struct msg {
	char *name;
	char *data;
	size_t len;
};

static struct msg msgs[MAX_FILES];
static size_t nmsgs;

/* Reads path (at most MAX_MSG bytes) into the next slot. */
static void add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct msg *m;

	if (!f || nmsgs >= MAX_FILES) {
		if (f)
			fclose(f);
		return;
	}
	m = &msgs[nmsgs++];
	m->name = xstrdup(path);
	m->data = xmalloc(MAX_MSG);
	m->len = fread(m->data, 1, MAX_MSG, f);
	fclose(f);
}

/* qsort order of names. */
static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path: a file, or every regular file of a directory in name order. */
static void add_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL, buf[4096];
	size_t n = 0, cap = 0, i;

	if (stat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "%s/%s", path, names[i]);
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
			add_file(buf);
		free(names[i]);
	}
	free(names);
}

/* One message through the content path (evaluate() without DMARC). */
static __attribute__((noinline)) void run_one(const struct content_config *c,
					      const struct msg *m,
					      struct content_verdict *v)
{
	struct mime_summary *ms = NULL;
	struct content_input in = { 0 };

	content_verdict_init(v);
	if (mime_parse(m->data, m->len, &ms) == 0) {
		in.ms = ms;
		content_check(v, c, &in);
	}
	content_decide(v, c);
	mime_summary_free(ms);
}

/* The verdict as one line: file, score, action, reasons. */
static void print_verdict(const struct msg *m, const struct content_verdict *v)
{
	size_t i;

	printf("%s\tscore=%d\taction=%s\tlabels=%u", m->name, v->score,
	       content_action_name(v->action), v->labels);
	for (i = 0; i < v->nreasons; i++)
		printf("\t%s:%d:%s", v->reason[i].name, v->reason[i].points,
		       v->reason[i].detail);
	printf("\n");
}

int main(int argc, char **argv)
{
	const char *prot = NULL;
	struct config *cfg;
	struct dmarc_psl *psl;
	struct content_config cc;
	struct content_verdict *v = xmalloc(sizeof(*v));
	char err[512], warn[512], conf[1024];
	int opt, rounds = 1, quiet = 0, r;
	size_t i, runs = 0;

	while ((opt = getopt(argc, argv, "p:r:q")) != -1) {
		switch (opt) {
		case 'p': prot = optarg; break;
		case 'r': rounds = (int)strtol(optarg, NULL, 10); break;
		case 'q': quiet = 1; break;
		default:
			fprintf(stderr, "usage: content-cost [-p PROTECTED] "
				"[-r ROUNDS] [-q] FILE|DIR ...\n");
			return 2;
		}
	}
	for (; optind < argc; optind++)
		add_path(argv[optind]);
	snprintf(conf, sizeof(conf), "lookalike_protected_file = %s\n",
		 prot ? prot : "");
	cfg = config_load_buffer(conf, strlen(conf), "content-cost", err,
				 sizeof(err));
	psl = dmarc_psl_load(NULL);
	if (!cfg || !psl) {
		fprintf(stderr, "content-cost: %s\n", cfg ? "no PSL" : err);
		return 1;
	}
	content_config_init(&cc, cfg, psl, "content-cost", warn, sizeof(warn));
	if (warn[0])
		fprintf(stderr, "content-cost: %s\n", warn);
	for (r = 0; r < rounds; r++)
		for (i = 0; i < nmsgs; i++, runs++) {
			run_one(&cc, &msgs[i], v);
			if (r == 0 && !quiet)
				print_verdict(&msgs[i], v);
		}
	fprintf(stderr, "content-cost: %zu messages, %zu runs\n", nmsgs, runs);
	content_config_deinit(&cc);
	dmarc_psl_free(psl);
	config_free(cfg);
	for (i = 0; i < nmsgs; i++) {
		free(msgs[i].name);
		free(msgs[i].data);
	}
	free(v);
	return 0;
}
