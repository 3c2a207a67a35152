/*
 * mamori_dmarc_rep - "mamori dmarc ingest" and "mamori dmarc sources":
 * DMARC aggregate reports received for our domains (core/dmarc_reports.h).
 *
 * These two work on the store named by the configuration's "store" (or
 * --store SPEC), not through mamorid's API: the API caps every request
 * body at 64 KiB for all routes (evhttp has one cap per listener), and
 * reports are routinely larger (the corpus has a 909 KB one).  sqlite in
 * WAL mode takes this second writer beside mamorid.  A networked store
 * (redis) answers from an event loop the CLI does not run: refused.
 * docs/design/dmarc-reports.md has the reasoning and the later API route.
 *
 * ingest [FILE|DIR...]: no argument reads one message on stdin (a Postfix
 * pipe transport, contrib/postfix/dmarc-ingest.md).  A directory is read
 * as a Maildir (cur/ and new/) or, without those, as its regular files.
 * Exit: 0 when every input was stored, a duplicate or refused (refused
 * reports are kept in the store with their error and counted); 75
 * (EX_TEMPFAIL, Postfix retries) when the store is down for any input;
 * 1 when an input could not be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "cli/mamori.h"
#include "core/dmarc_reports.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/xalloc.h"

#define EXIT_TEMPFAIL 75	/* sysexits.h EX_TEMPFAIL: Postfix retries */
#define DIR_FILES_MAX 100000

/* Counts over a batch, and the JSON lines for --json. */
struct batch {
	struct cli *c;
	struct store *st;
	const char *name;	/* current input, for messages */
	int answered;
	size_t stored, dup, refused, retry, unreadable;
	json_t *out;
};

/* One ingest answered (synchronously for sqlite/memory). */
static void ingest_done(void *arg, enum core_status status,
			const struct core_dmarc_ingest *res)
{
	struct batch *b = arg;
	char n[512], d[300], o[300], id[300], why[300];

	b->answered = 1;
	if (status == CORE_E_RETRY)
		b->retry++;
	else if (status == CORE_E_INVALID)
		b->refused++;
	else if (!strcmp(res->outcome, "duplicate"))
		b->dup++;
	else
		b->stored++;
	if (b->c->json) {
		json_array_append_new(b->out, json_pack(
			"{ss ss ss ss ss ss sI sI}", "input", b->name,
			"outcome", status == CORE_E_RETRY ? "retry" :
			res->outcome, "error", res->reason, "domain",
			res->domain, "reporter", res->reporter, "report_id",
			res->report_id, "records", (json_int_t)res->records,
			"messages", (json_int_t)res->messages));
		return;
	}
	cli_show(b->name, n, sizeof(n));
	if (status == CORE_E_RETRY)
		printf("%s: store unavailable, retry later\n", n);
	else if (status == CORE_E_INVALID)
		printf("%s: refused: %s\n", n, cli_show(res->reason, why,
							 sizeof(why)));
	else
		printf("%s: %s domain=%s reporter=%s report_id=%s records=%zu "
		       "messages=%llu\n", n, res->outcome,
		       cli_show(res->domain, d, sizeof(d)),
		       cli_show(res->reporter, o, sizeof(o)),
		       cli_show(res->report_id, id, sizeof(id)), res->records,
		       (unsigned long long)res->messages);
}

/* Read all of f, at most CORE_DMARC_INPUT_MAX bytes; NULL when it cannot. */
static char *read_all(FILE *f, size_t *n, const char *name)
{
	struct buf b;
	char chunk[65536];
	size_t got;

	buf_init(&b, CORE_DMARC_INPUT_MAX);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, got)) {
			fprintf(stderr, "mamori: %s: larger than %u bytes\n",
				name, CORE_DMARC_INPUT_MAX);
			buf_deinit(&b);
			return NULL;
		}
	if (ferror(f)) {
		fprintf(stderr, "mamori: %s: %s\n", name, strerror(errno));
		buf_deinit(&b);
		return NULL;
	}
	*n = b.len;
	if (b.len == 0)
		return xstrndup("", 0);
	return buf_steal(&b);
}

/* Ingest one input from f. */
static void ingest_one(struct batch *b, FILE *f, const char *name)
{
	size_t n = 0;
	char *data = read_all(f, &n, name);

	if (!data) {
		b->unreadable++;
		return;
	}
	b->name = name;
	b->answered = 0;
	core_dmarc_report_ingest(b->st, data, n, (int64_t)time(NULL),
				 ingest_done, b);
	if (!b->answered) {
		fprintf(stderr, "mamori: %s: the store answers later; use "
			"sqlite: for dmarc ingest\n", name);
		b->retry++;
	}
	free(data);
}

/* Ingest the file at path. */
static void ingest_file(struct batch *b, const char *path)
{
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "mamori: %s: %s\n", path, strerror(errno));
		b->unreadable++;
		return;
	}
	ingest_one(b, f, path);
	fclose(f);
}

/* Ingest the regular files of dir (not recursive), in name order. */
static void ingest_dir(struct batch *b, const char *dir)
{
	struct dirent **ents;
	int n, i;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "mamori: %s: %s\n", dir, strerror(errno));
		b->unreadable++;
		return;
	}
	for (i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", dir, ents[i]->d_name);
		struct stat sb;

		if (ents[i]->d_name[0] != '.' && i < DIR_FILES_MAX &&
		    stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
			ingest_file(b, p);
		free(p);
		free(ents[i]);
	}
	free(ents);
}

/* Ingest path: a file, a Maildir, or a directory of files. */
static void ingest_path(struct batch *b, const char *path)
{
	struct stat sb;
	char *cur, *nw;

	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		ingest_file(b, path);
		return;
	}
	cur = xasprintf("%s/cur", path);
	nw = xasprintf("%s/new", path);
	if (stat(cur, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		ingest_dir(b, cur);
		if (stat(nw, &sb) == 0 && S_ISDIR(sb.st_mode))
			ingest_dir(b, nw);
	} else {
		ingest_dir(b, path);
	}
	free(cur);
	free(nw);
}

/* Open the store: --store SPEC, else the configuration's "store".
 * Returns NULL after printing why. */
static struct store *open_store(struct cli *c, const char *spec,
				char **ours)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	char err[512];

	*ours = xstrndup("", 0);
	cfg = config_load(cli_config_path(c), err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "mamori: %s\n", err);
		return NULL;
	}
	free(*ours);
	*ours = xstrndup(cfg->dmarc_our_networks ? cfg->dmarc_our_networks :
			 "", 4096);
	if (core_dmarc_store_open(spec ? spec : cfg->store, &st, err,
				  sizeof(err)) != 0) {
		fprintf(stderr, "mamori: store %s: %s\n",
			spec ? spec : cfg->store, err);
		st = NULL;
	}
	config_free(cfg);
	return st;
}

int cli_cmd_dmarc_ingest(struct cli *c, int argc, char **argv)
{
	struct batch b = { .c = c };
	const char *spec = NULL, *v;
	char *ours;
	int i, first = -1;

	for (i = 0; i < argc && first < 0; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--store")))
			spec = v;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("dmarc ingest: unknown option %s",
					argv[i]);
		else
			first = i;
	}
	b.st = open_store(c, spec, &ours);
	free(ours);
	if (!b.st)
		return EXIT_TEMPFAIL;
	b.out = json_array();
	if (first < 0)
		ingest_one(&b, stdin, "-");
	else
		for (i = first; i < argc; i++)
			ingest_path(&b, argv[i]);
	core_dmarc_store_close(b.st);
	if (c->json) {
		char *s = json_dumps(b.out, JSON_INDENT(2));

		if (s)
			puts(s);
		free(s);
	} else {
		fprintf(stderr, "mamori: dmarc ingest: %zu stored, %zu "
			"duplicate, %zu refused, %zu to retry, %zu "
			"unreadable\n", b.stored, b.dup, b.refused, b.retry,
			b.unreadable);
	}
	json_decref(b.out);
	if (b.retry)
		return EXIT_TEMPFAIL;
	return b.unreadable ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

/* --json: the whole answer as one object. */
static json_t *sources_json(const struct core_dmarc_sources *s)
{
	json_t *j = json_pack("{ss si sI sb}", "domain", s->domain, "days",
			      s->days, "skipped", (json_int_t)s->skipped,
			      "truncated", s->truncated);
	json_t *src = json_array(), *days = json_array(), *tot = json_object();
	size_t i;
	int k;

	for (i = 0; i < s->n; i++) {
		const struct core_dmarc_source *o = &s->v[i];

		json_array_append_new(src, json_pack(
			"{ss ss sn sn ss sI sI sI s{sI sI sI} ss ss ss}",
			"source_ip", o->ip, "network", o->net, "ptr",
			"country", "class", core_dmarc_class_names[o->cls],
			"count", (json_int_t)o->count, "dkim_pass",
			(json_int_t)o->dkim_pass, "spf_pass",
			(json_int_t)o->spf_pass, "disposition", "none",
			(json_int_t)o->disp[0], "quarantine",
			(json_int_t)o->disp[1], "reject",
			(json_int_t)o->disp[2], "first_day", o->first_day,
			"last_day", o->last_day, "reporters", o->reporters));
	}
	for (i = 0; i < s->ndays; i++) {
		json_t *d = json_pack("{ss}", "day", s->day[i].day);

		for (k = 0; k < CORE_DMARC_NCLASSES; k++)
			json_object_set_new(d, core_dmarc_class_names[k],
				json_integer((json_int_t)s->day[i].by_class[k]));
		json_object_set_new(d, "forged_disposition", json_pack(
			"{sI sI sI}", "none",
			(json_int_t)s->day[i].forged_disp[0], "quarantine",
			(json_int_t)s->day[i].forged_disp[1], "reject",
			(json_int_t)s->day[i].forged_disp[2]));
		json_array_append_new(days, d);
	}
	for (k = 0; k < CORE_DMARC_NCLASSES; k++)
		json_object_set_new(tot, core_dmarc_class_names[k],
				    json_integer((json_int_t)s->by_class[k]));
	json_object_set_new(tot, "forged_disposition", json_pack(
		"{sI sI sI}", "none", (json_int_t)s->forged_disp[0],
		"quarantine", (json_int_t)s->forged_disp[1], "reject",
		(json_int_t)s->forged_disp[2]));
	json_object_set_new(j, "sources", src);
	json_object_set_new(j, "per_day", days);
	json_object_set_new(j, "totals", tot);
	return j;
}

/* The tables for a person. */
static void sources_print(const struct core_dmarc_sources *s)
{
	static const char *const h1[] = { "SOURCE", "NETWORK", "CLASS",
		"COUNT", "DKIM PASS", "SPF PASS", "NONE/QUAR/REJ", "DAYS" };
	static const char *const h2[] = { "DAY", "OURS", "AUTHORISED",
		"FORWARDER", "FORGER", "FORGED NONE/QUAR/REJ" };
	struct cli_table t = {.ncols = 8}, d = {.ncols = 6};
	char c[4][24], disp[80], days[32];
	size_t i;

	cli_table_add(&t, h1);
	for (i = 0; i < s->n; i++) {
		const struct core_dmarc_source *o = &s->v[i];
		const char *row[8];

		snprintf(c[0], sizeof(c[0]), "%llu",
			 (unsigned long long)o->count);
		snprintf(c[1], sizeof(c[1]), "%llu",
			 (unsigned long long)o->dkim_pass);
		snprintf(c[2], sizeof(c[2]), "%llu",
			 (unsigned long long)o->spf_pass);
		snprintf(disp, sizeof(disp), "%llu/%llu/%llu",
			 (unsigned long long)o->disp[0],
			 (unsigned long long)o->disp[1],
			 (unsigned long long)o->disp[2]);
		snprintf(days, sizeof(days), "%s..%s", o->first_day,
			 o->last_day);
		row[0] = o->ip; row[1] = o->net;
		row[2] = core_dmarc_class_names[o->cls];
		row[3] = c[0]; row[4] = c[1]; row[5] = c[2];
		row[6] = disp; row[7] = days;
		cli_table_add(&t, row);
	}
	cli_table_print(&t);
	putchar('\n');
	cli_table_add(&d, h2);
	for (i = 0; i < s->ndays; i++) {
		const struct core_dmarc_day *y = &s->day[i];
		const char *row[6];
		int k;

		for (k = 0; k < 4; k++)
			snprintf(c[k], sizeof(c[k]), "%llu",
				 (unsigned long long)y->by_class[k]);
		snprintf(disp, sizeof(disp), "%llu/%llu/%llu",
			 (unsigned long long)y->forged_disp[0],
			 (unsigned long long)y->forged_disp[1],
			 (unsigned long long)y->forged_disp[2]);
		row[0] = y->day; row[1] = c[0]; row[2] = c[1];
		row[3] = c[2]; row[4] = c[3]; row[5] = disp;
		cli_table_add(&d, row);
	}
	cli_table_print(&d);
	printf("\ntotal: ours %llu, authorised %llu, forwarder %llu, "
	       "forger %llu; forgeries none %llu, quarantined %llu, "
	       "rejected %llu\n",
	       (unsigned long long)s->by_class[0],
	       (unsigned long long)s->by_class[1],
	       (unsigned long long)s->by_class[2],
	       (unsigned long long)s->by_class[3],
	       (unsigned long long)s->forged_disp[0],
	       (unsigned long long)s->forged_disp[1],
	       (unsigned long long)s->forged_disp[2]);
	if (s->truncated)
		fprintf(stderr, "mamori: the source list is truncated\n");
	if (s->skipped)
		fprintf(stderr, "mamori: %zu stored rows could not be read\n",
			s->skipped);
}

/* The answer of core_dmarc_sources. */
struct src_ans {
	struct cli *c;
	int rc, answered;
};

/* Print the answer. */
static void sources_done(void *arg, enum core_status status,
			 const char *error, const struct core_dmarc_sources *s)
{
	struct src_ans *a = arg;
	char e[300];

	a->answered = 1;
	if (status != CORE_OK) {
		fprintf(stderr, "mamori: dmarc sources: %s\n",
			cli_show(error, e, sizeof(e)));
		a->rc = status == CORE_E_INVALID ? CLI_EXIT_USAGE :
			CLI_EXIT_FAILED;
		return;
	}
	if (a->c->json) {
		json_t *j = sources_json(s);
		char *txt = json_dumps(j, JSON_INDENT(2));

		if (txt)
			puts(txt);
		free(txt);
		json_decref(j);
	} else {
		sources_print(s);
	}
}

int cli_cmd_dmarc_sources(struct cli *c, int argc, char **argv)
{
	const char *spec = NULL, *domain = NULL, *v;
	struct src_ans a = { .c = c, .rc = CLI_EXIT_OK };
	struct store *st;
	long days = 30;
	time_t until = time(NULL);
	char *ours, *end;
	int i;

	for (i = 0; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--store")))
			spec = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--days"))) {
			days = strtol(v, &end, 10);
			if (*end || days < 1 || days > 366)
				cli_usage_error("dmarc sources: --days "
						"takes 1..366");
		} else if ((v = cli_opt_value(argc, argv, &i, "--until"))) {
			struct tm tm = {0};

			end = strptime(v, "%Y-%m-%d", &tm);
			if (!end || *end)
				cli_usage_error("dmarc sources: --until "
						"takes YYYY-MM-DD");
			until = timegm(&tm);
		} else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("dmarc sources: unknown option %s",
					argv[i]);
		else if (!domain)
			domain = argv[i];
		else
			cli_usage_error("dmarc sources: unexpected \"%s\"",
					argv[i]);
	}
	if (!domain)
		cli_usage_error("dmarc sources: which DOMAIN?");
	st = open_store(c, spec, &ours);
	if (!st) {
		free(ours);
		return CLI_EXIT_FAILED;
	}
	core_dmarc_sources(st, domain, (int)days, ours, (int64_t)until,
			   sources_done, &a);
	if (!a.answered) {
		fprintf(stderr, "mamori: the store answers later; use "
			"sqlite: for dmarc sources\n");
		a.rc = CLI_EXIT_FAILED;
	}
	core_dmarc_store_close(st);
	free(ours);
	return a.rc;
}
