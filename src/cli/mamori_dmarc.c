/*
 * mamori_dmarc - the CLI's "dmarc" command: the DMARC aggregate counts the
 * milter keeps for inbound mail (who sends mail claiming which From domain,
 * from where, with which SPF, DKIM and DMARC results, and what mamorid did
 * with it), from GET /v1/dmarc/aggregate (docs/api.md).
 *
 * One request through mamori.c's plumbing (mamori.h); exit codes are the
 * CLI's.  The table is sorted by count, largest first, then in the
 * server's order (day, source address, domain); the totals follow.  A
 * reply of another shape is printed as JSON rather than misread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/mamori.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* A row and its place in the reply, for a stable sort. */
struct dmarc_row {
	json_t *row;
	size_t idx;
	json_int_t count;
};

/* qsort: count descending, then the server's order. */
static int row_cmp(const void *x, const void *y)
{
	const struct dmarc_row *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Does s look like YYYY-MM-DD?  The server checks the calendar. */
static bool day_shape_ok(const char *s)
{
	int i;

	for (i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' :
		    s[i] < '0' || s[i] > '9')
			return false;
	return s[10] == '\0';
}

/* Append "?name=VALUE" or "&name=VALUE" (escaped) to the path in b when
 * value is set.  Returns 0, or BUF_E_TOO_LARGE. */
static int add_param(struct cli *c, struct buf *b, const char *name,
		     const char *value)
{
	char *e;
	int r;

	if (!value)
		return 0;
	e = cli_escape(c, value);
	r = buf_printf(b, "%c%s=%s", strchr(b->p, '?') ? '&' : '?', name, e);
	free(e);
	return r;
}

/* A member of the reply's totals as a number (0 when absent). */
static long long total(const json_t *totals, const char *key)
{
	return (long long)json_integer_value(json_object_get(totals, key));
}

/* The identifiers of a row ("-" for a row without them) into out:
 * "mfrom=DOMAIN" (or helo=), then each signature as "d/s=result". */
static const char *identifiers(const json_t *row, char *out, size_t outsz)
{
	const json_t *sigs = json_object_get(row, "dkim_signatures");
	const char *scope = json_string_value(json_object_get(row,
							      "spf_scope"));
	struct buf b;
	char d[256], s[256], r[64];
	size_t i;

	if (!json_is_array(sigs)) {
		snprintf(out, outsz, "-");
		return out;
	}
	buf_init(&b, outsz - 1);
	if (scope && *scope)
		buf_printf(&b, "%s=%s", scope, cli_json_text(json_object_get(
			   row, "spf_domain"), d, sizeof(d)));
	for (i = 0; i < json_array_size(sigs); i++) {
		const json_t *g = json_array_get(sigs, i);

		buf_printf(&b, "%s%s/%s=%s", b.len ? " " : "",
			   cli_json_text(json_object_get(g, "domain"), d,
					 sizeof(d)),
			   cli_json_text(json_object_get(g, "selector"), s,
					 sizeof(s)),
			   cli_json_text(json_object_get(g, "result"), r,
					 sizeof(r)));
	}
	snprintf(out, outsz, "%s", b.len ? b.p : "-");
	buf_deinit(&b);
	return out;
}

/* Print the rows sorted by count, then the totals. */
static void print_report(const json_t *j)
{
	static const char *const hdr[] = {
		"DAY", "SOURCE", "FROM DOMAIN", "SPF", "DKIM", "DMARC",
		"DISPOSITION", "ALIGNED", "IDENTIFIERS", "COUNT",
	};
	static const char *const keys[] = {
		"day", "source_ip", "header_from", "spf", "dkim", "dmarc",
		"disposition", "aligned", NULL, "count",
	};
	const json_t *rows = json_object_get(j, "rows");
	const json_t *totals = json_object_get(j, "totals");
	struct cli_table t = {.ncols = 10};
	size_t i, n = json_array_size(rows);
	struct dmarc_row *v = xcalloc(n ? n : 1, sizeof(*v));
	char cell[10][256], ids[2048];
	json_int_t skipped;
	int k;

	for (i = 0; i < n; i++) {
		v[i].row = json_array_get(rows, i);
		v[i].idx = i;
		v[i].count = json_integer_value(json_object_get(v[i].row,
								"count"));
	}
	qsort(v, n, sizeof(*v), row_cmp);
	cli_table_add(&t, hdr);
	for (i = 0; i < n; i++) {
		const char *cells[10];

		for (k = 0; k < 10; k++)
			cells[k] = keys[k] ? cli_json_text(json_object_get(
				v[i].row, keys[k]), cell[k], sizeof(cell[k])) :
				identifiers(v[i].row, ids, sizeof(ids));
		cli_table_add(&t, cells);
	}
	cli_table_print(&t);
	free(v);
	printf("\ntotal: %lld messages in %zu row%s\n",
	       total(totals, "messages"), n, n == 1 ? "" : "s");
	printf("dmarc: pass %lld, fail %lld, none %lld, temperror %lld, "
	       "permerror %lld\n", total(totals, "dmarc_pass"),
	       total(totals, "dmarc_fail"), total(totals, "dmarc_none"),
	       total(totals, "dmarc_temperror"),
	       total(totals, "dmarc_permerror"));
	printf("spf pass %lld, dkim pass %lld; quarantined %lld, rejected "
	       "%lld\n", total(totals, "spf_pass"), total(totals, "dkim_pass"),
	       total(totals, "quarantined"), total(totals, "rejected"));
	if (json_is_true(json_object_get(j, "truncated")))
		fprintf(stderr, "mamori: the list is truncated (the totals are "
			"not); narrow it with --day or --domain\n");
	skipped = json_integer_value(json_object_get(j, "skipped"));
	if (skipped > 0)
		fprintf(stderr, "mamori: %lld stored row%s could not be read "
			"and %s skipped\n", (long long)skipped,
			skipped == 1 ? "" : "s", skipped == 1 ? "was" : "were");
}

int cli_cmd_dmarc(struct cli *c, int argc, char **argv)
{
	const char *day = NULL, *from = NULL, *to = NULL, *domain = NULL, *v;
	struct cli_reply rep;
	struct buf path;
	int i, r;

	if (argc > 0 && !strcmp(argv[0], "ingest"))
		return cli_cmd_dmarc_ingest(c, argc - 1, argv + 1);
	if (argc > 0 && !strcmp(argv[0], "sources"))
		return cli_cmd_dmarc_sources(c, argc - 1, argv + 1);
	if (argc > 0 && !strcmp(argv[0], "report"))
		return cli_cmd_dmarc_report(c, argc - 1, argv + 1);
	for (i = 0; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--day")))
			day = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--from")))
			from = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--to")))
			to = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--domain")))
			domain = v;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("dmarc: unknown option %s", argv[i]);
		else
			cli_usage_error("dmarc: unexpected \"%s\"", argv[i]);
	}
	if ((day && !day_shape_ok(day)) || (from && !day_shape_ok(from)) ||
	    (to && !day_shape_ok(to)))
		cli_usage_error("dmarc: --day, --from and --to take a UTC date "
				"YYYY-MM-DD");
	if (day && (from || to))
		cli_usage_error("dmarc: --day excludes --from and --to");
	if (domain && !*domain)
		cli_usage_error("dmarc: --domain needs a domain");

	buf_init(&path, 4096);
	if (buf_puts(&path, "/v1/dmarc/aggregate") ||
	    add_param(c, &path, "day", day) ||
	    add_param(c, &path, "from", from) ||
	    add_param(c, &path, "to", to) ||
	    add_param(c, &path, "domain", domain))
		cli_usage_error("dmarc: --domain is too long");
	r = cli_call(c, "GET", path.p, NULL, "dmarc", &rep);
	buf_deinit(&path);
	if (r || c->json) {
		if (!r)
			cli_reply_deinit(&rep);
		return r;
	}
	if (!json_is_array(json_object_get(rep.json, "rows"))) {
		char *s = json_dumps(rep.json, JSON_INDENT(2));

		if (s) {
			cli_write_shown(stdout, s, strlen(s));
			putchar('\n');
		}
		free(s);
	} else {
		print_report(rep.json);
	}
	cli_reply_deinit(&rep);
	return CLI_EXIT_OK;
}
