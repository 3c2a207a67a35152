/*
 * mamori_domain - "mamori domain check DOMAIN": the lint a postmaster runs
 * before moving a domain to p=reject (core/domaincheck.h,
 * docs/design/domain-check.md).
 *
 *   mamori domain check DOMAIN [--dns IP[@PORT] | IPV4:PORT]
 *                              [--selector S]... [--store SPEC] [--json]
 *
 * Local like "scan": no daemon; the configuration (-c, else the default
 * file, else the built-in defaults) gives dkim_key_dir (the selectors
 * mamori signs with) and dns_upstream.  Prints a table SEVERITY CODE TEXT
 * (every cell escaped: the text quotes DNS data) and a summary line, or
 * with --json one object.  The staged advice reads the ingested aggregate
 * reports of the last 30 days (core_dmarc_advice_sources()) from the store
 * itself, as "dmarc ingest" does: --store SPEC, else the configuration's
 * "store" (sqlite takes a reader beside mamorid; a file that does not
 * exist is not created).  When it cannot be read the advice runs without
 * reports and an info finding "advice.no_store" says why.  Exit status:
 * 0 no errors, 1 errors found, 2 the check could not be completed (DNS
 * down) or a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/mamori.h"
#include "core/domaincheck_json.h"
#include "util/config.h"
#include "util/xalloc.h"

#define SELECTORS_MAX 16

/* The report for a person. */
static void print_text(const struct domaincheck_report *rep)
{
	struct cli_table t = {.ncols = 3};
	static const char *const head[] = { "SEVERITY", "CODE", "FINDING" };
	size_t i;
	char line[512];

	cli_table_add(&t, head);
	for (i = 0; i < rep->n; i++) {
		const char *row[3] = { domaincheck_sev_name(rep->f[i].sev),
				       rep->f[i].code, rep->f[i].text };

		cli_table_add(&t, row);
	}
	cli_table_print(&t);
	snprintf(line, sizeof(line), "%s: %zu error(s), %zu warning(s), %zu "
		 "note(s), %u DNS question(s)%s", rep->domain,
		 rep->count[DOMAINCHECK_ERROR], rep->count[DOMAINCHECK_WARNING],
		 rep->count[DOMAINCHECK_INFO], rep->queries,
		 rep->incomplete ? "; INCOMPLETE: DNS did not answer" : "");
	putchar('\n');
	cli_write_shown(stdout, line, strlen(line));
	putchar('\n');
}

/* The report as one JSON object (--json, core/domaincheck_json.h). */
static void print_json(const struct domaincheck_report *rep)
{
	json_t *o = domaincheck_report_json(rep);
	char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;

	if (s)
		puts(s);
	free(s);
	json_decref(o);
}

/* --dns as the resolver takes it: IP[@PORT]; "IPV4:PORT" is accepted too.
 * Returns dns, or a malloc'd copy in *own. */
static const char *dns_arg(const char *dns, char **own)
{
	const char *colon = dns ? strchr(dns, ':') : NULL;

	*own = NULL;
	if (!colon || strchr(colon + 1, ':') || strchr(dns, '@'))
		return dns;	/* none, IPv6, or already IP@PORT */
	*own = xstrdup(dns);
	(*own)[colon - dns] = '@';
	return *own;
}

int cli_cmd_domain(struct cli *c, int argc, char **argv)
{
	const char *dns = NULL, *domain = NULL, *spec = NULL, *v;
	const char *sel[SELECTORS_MAX];
	struct domaincheck_sources src;
	bool have_src;
	char src_err[400];
	struct domaincheck_report rep;
	struct config *cfg;
	char *dns_own;
	size_t nsel = 0;
	char err[512];
	int i, r;

	if (argc < 1 || strcmp(argv[0], "check"))
		cli_usage_error("domain: check DOMAIN [--dns IP[@PORT]] "
				"[--selector S] [--store SPEC] [--json]");
	for (i = 1; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--dns")))
			dns = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--store")))
			spec = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--selector"))) {
			if (nsel == SELECTORS_MAX)
				cli_usage_error("domain check: at most %d "
						"--selector", SELECTORS_MAX);
			sel[nsel++] = v;
		} else if (argv[i][0] == '-')
			cli_usage_error("domain check: unknown option %s",
					argv[i]);
		else if (!domain)
			domain = argv[i];
		else
			cli_usage_error("domain check: one DOMAIN only");
	}
	if (!domain)
		cli_usage_error("domain check: DOMAIN is required");
	if ((cfg = config_load(c->config, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mamori: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	have_src = domaincheck_read_sources(cfg, spec, domain, &src, src_err,
				sizeof(src_err));
	dns = dns_arg(dns, &dns_own);
	r = domaincheck_run(cfg, dns, domain, sel, nsel,
			    have_src ? &src : NULL, &rep, err, sizeof(err));
	free(dns_own);
	if (r != 0) {
		char shown[600];

		fprintf(stderr, "mamori: domain check: %s\n",
			cli_show(err, shown, sizeof(shown)));
		config_free(cfg);
		return CLI_EXIT_USAGE;
	}
	if (!have_src) {
		char line[DOMAINCHECK_TEXT_MAX];

		snprintf(line, sizeof(line), "the ingested reports could not "
			 "be read (%s): the staged advice assumes none",
			 src_err);
		domaincheck_note(&rep, "advice.no_store", line);
	}
	if (c->json)
		print_json(&rep);
	else
		print_text(&rep);
	r = rep.incomplete ? 2 : rep.count[DOMAINCHECK_ERROR] ? 1 : 0;
	domaincheck_report_deinit(&rep);
	config_free(cfg);
	return r;
}
