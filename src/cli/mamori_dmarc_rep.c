/*
 * mamori_dmarc_rep - "mamori dmarc ingest" and "mamori dmarc sources":
 * DMARC aggregate reports received for our domains (core/dmarc_reports.h).
 *
 * "sources" asks mamorid (GET /v1/dmarc/sources).  "ingest" works on the
 * store named by the configuration's "store" (or --store SPEC) itself:
 * the API caps every request body at 64 KiB for all routes (evhttp has
 * one cap per listener), and reports are routinely larger (the corpus has
 * a 909 KB one).  sqlite in WAL mode takes this second writer beside
 * mamorid.  A networked store (redis) answers from an event loop the CLI
 * does not run: refused.  docs/design/dmarc-reports.md has the reasoning
 * and the later POST route.
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
static struct store *open_store(struct cli *c, const char *spec)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	char err[512];

	cfg = config_load(cli_config_path(c), err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "mamori: %s\n", err);
		return NULL;
	}
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
	b.st = open_store(c, spec);
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

/* A JSON member as unsigned decimal text into out. */
static const char *num(const json_t *o, const char *k, char *out, size_t n)
{
	snprintf(out, n, "%lld",
		 (long long)json_integer_value(json_object_get(o, k)));
	return out;
}

/* "none/quarantine/reject" of the disposition object d into out. */
static const char *disp3(const json_t *d, char *out, size_t n)
{
	char a[24], b[24], c[24];

	snprintf(out, n, "%s/%s/%s", num(d, "none", a, sizeof(a)),
		 num(d, "quarantine", b, sizeof(b)),
		 num(d, "reject", c, sizeof(c)));
	return out;
}

/* The reverse name of source v for the table: the confirmed name, the
 * claimed one marked "?", or the state in parentheses. */
static const char *src_name(const json_t *v, char *out, size_t n)
{
	const char *st = json_string_value(json_object_get(v, "ptr_state"));
	char t[300];

	if (json_is_string(json_object_get(v, "ptr")))
		return cli_json_text(json_object_get(v, "ptr"), out, n);
	if (json_is_string(json_object_get(v, "ptr_claimed"))) {
		snprintf(out, n, "%s?", cli_json_text(json_object_get(v,
			 "ptr_claimed"), t, sizeof(t)));
		return out;
	}
	snprintf(out, n, "(%s)", st && strcmp(st, "unchecked") ? st : "-");
	return out;
}

/* One group table (by_reverse_name or by_country) of the reply. */
static void groups_print(const json_t *j, const char *member,
			 const char *key, const char *head)
{
	const char *h[] = { head, "SOURCES", "COUNT", "ALIGNED", "FORGER" };
	struct cli_table t = {.ncols = 5};
	const json_t *v;
	char c[4][24], k[300];
	size_t i;

	if (!json_array_size(json_object_get(j, member)))
		return;
	cli_table_add(&t, h);
	json_array_foreach(json_object_get(j, member), i, v) {
		const char *st = json_string_value(json_object_get(v, "state"));
		const char *row[5];

		if (json_is_string(json_object_get(v, key)))
			row[0] = cli_json_text(json_object_get(v, key), k,
					       sizeof(k));
		else
			row[0] = st ? (snprintf(k, sizeof(k), "(%s)", st), k) :
				 "(unknown)";
		row[1] = num(v, "sources", c[0], sizeof(c[0]));
		row[2] = num(v, "count", c[1], sizeof(c[1]));
		row[3] = num(v, "aligned", c[2], sizeof(c[2]));
		row[4] = num(v, "forger", c[3], sizeof(c[3]));
		cli_table_add(&t, row);
	}
	putchar('\n');
	cli_table_print(&t);
}

/* The tables for a person, from the reply of GET /v1/dmarc/sources. */
static void sources_print(const json_t *j)
{
	static const char *const h1[] = { "SOURCE", "NETWORK", "REVERSE NAME",
		"CC", "CLASS", "COUNT", "DKIM PASS", "SPF PASS",
		"NONE/QUAR/REJ", "DAYS" };
	static const char *const h2[] = { "DAY", "OURS", "AUTHORISED",
		"FORWARDER", "FORGER", "FORGED NONE/QUAR/REJ" };
	struct cli_table t = {.ncols = 10}, d = {.ncols = 6};
	const json_t *v, *tot = json_object_get(j, "totals");
	char c[4][24], disp[80], days[32], t0[8][64], nm[300];
	size_t i;

	cli_table_add(&t, h1);
	json_array_foreach(json_object_get(j, "sources"), i, v) {
		const char *row[10];

		snprintf(days, sizeof(days), "%.10s..%.10s",
			 cli_json_text(json_object_get(v, "first_day"), t0[0],
				       sizeof(t0[0])),
			 cli_json_text(json_object_get(v, "last_day"), t0[1],
				       sizeof(t0[1])));
		row[0] = cli_json_text(json_object_get(v, "source_ip"), t0[2],
				       sizeof(t0[2]));
		row[1] = cli_json_text(json_object_get(v, "network"), t0[3],
				       sizeof(t0[3]));
		row[2] = src_name(v, nm, sizeof(nm));
		row[3] = cli_json_text(json_object_get(v, "country"), t0[5],
				       sizeof(t0[5]));
		row[4] = cli_json_text(json_object_get(v, "class"), t0[4],
				       sizeof(t0[4]));
		row[5] = num(v, "count", c[0], sizeof(c[0]));
		row[6] = num(v, "dkim_pass", c[1], sizeof(c[1]));
		row[7] = num(v, "spf_pass", c[2], sizeof(c[2]));
		row[8] = disp3(json_object_get(v, "disposition"), disp,
			       sizeof(disp));
		row[9] = days;
		cli_table_add(&t, row);
	}
	cli_table_print(&t);
	groups_print(j, "by_reverse_name", "name", "REVERSE NAME (DOMAIN)");
	groups_print(j, "by_country", "country", "COUNTRY");
	putchar('\n');
	cli_table_add(&d, h2);
	json_array_foreach(json_object_get(j, "per_day"), i, v) {
		const char *row[6];

		row[0] = cli_json_text(json_object_get(v, "day"), t0[0],
				       sizeof(t0[0]));
		row[1] = num(v, "ours", c[0], sizeof(c[0]));
		row[2] = num(v, "authorised", c[1], sizeof(c[1]));
		row[3] = num(v, "forwarder", c[2], sizeof(c[2]));
		row[4] = num(v, "forger", c[3], sizeof(c[3]));
		row[5] = disp3(json_object_get(v, "forged_disposition"), disp,
			       sizeof(disp));
		cli_table_add(&d, row);
	}
	cli_table_print(&d);
	printf("\ntotal: ours %s, authorised %s, forwarder %s, forger %s; "
	       "forgeries none/quarantined/rejected %s\n",
	       num(tot, "ours", c[0], sizeof(c[0])),
	       num(tot, "authorised", c[1], sizeof(c[1])),
	       num(tot, "forwarder", c[2], sizeof(c[2])),
	       num(tot, "forger", c[3], sizeof(c[3])),
	       disp3(json_object_get(tot, "forged_disposition"), disp,
		     sizeof(disp)));
	if (json_is_true(json_object_get(j, "truncated")))
		fprintf(stderr, "mamori: the source list is truncated\n");
	if (json_integer_value(json_object_get(j, "skipped")) > 0)
		fprintf(stderr, "mamori: some stored rows could not be read\n");
}

int cli_cmd_dmarc_sources(struct cli *c, int argc, char **argv)
{
	const char *domain = NULL, *days = NULL, *until = NULL, *v;
	struct cli_reply rep;
	struct buf path;
	char *e;
	int i, r;

	for (i = 0; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--days")))
			days = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--until")))
			until = v;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("dmarc sources: unknown option %s",
					argv[i]);
		else if (!domain)
			domain = argv[i];
		else
			cli_usage_error("dmarc sources: unexpected \"%s\"",
					argv[i]);
	}
	if (!domain || !*domain)
		cli_usage_error("dmarc sources: which DOMAIN?");
	buf_init(&path, 4096);
	e = cli_escape(c, domain);
	r = buf_printf(&path, "/v1/dmarc/sources?domain=%s", e);
	free(e);
	if (!r && days) {
		e = cli_escape(c, days);
		r = buf_printf(&path, "&days=%s", e);
		free(e);
	}
	if (!r && until) {
		e = cli_escape(c, until);
		r = buf_printf(&path, "&until=%s", e);
		free(e);
	}
	if (r)
		cli_usage_error("dmarc sources: DOMAIN is too long");
	r = cli_call(c, "GET", path.p, NULL, "dmarc sources", &rep);
	buf_deinit(&path);
	if (r || c->json) {
		if (!r)
			cli_reply_deinit(&rep);
		return r;
	}
	sources_print(rep.json);
	cli_reply_deinit(&rep);
	return CLI_EXIT_OK;
}
