/*
 * mamori_dmarc_out - "mamori dmarc report": the DMARC aggregate reports
 * mamori sends as a receiver (core/dmarc_send.h), on demand.
 *
 *   dmarc report [--dry-run|--send] [--date YYYY-MM-DD] [--domain D]
 *                [--out DIR] [--store SPEC] [--dns IP[@PORT]]
 *
 * --dry-run (the default) builds the reports and says, per rua, what a
 * send would do, recording nothing; with --out it writes each report's
 * XML as DIR/DOMAIN!DAY.xml for inspection.  --send mails them through
 * dmarc_report_relay and records them in the store ("dmarc_sent").
 * Without --date: the last CORE_DMARC_SEND_DAYS full UTC days (what was
 * sent already is skipped).  The store is opened here, as "dmarc ingest"
 * does (sqlite in WAL mode takes a second writer beside mamorid).
 * Exit: 0 when the run completed (even with reports waiting for a retry:
 * the summary says how many), 1 when it could not run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/mamori.h"
#include "core/dmarc_reports.h"
#include "core/dmarc_send.h"
#include "util/config.h"

/* Events as lines, or collected for --json. */
struct out {
	struct cli *c;
	json_t *ev;
};

/* core_dmarc_send_cb: print or collect one event. */
static void on_event(void *arg, const struct core_dmarc_send_event *ev)
{
	struct out *o = arg;
	char d[300], r[400], why[600];

	if (o->c->json) {
		json_array_append_new(o->ev, json_pack(
			"{ss ss ss ss ss ss sI sI sI}", "day", ev->day,
			"domain", ev->domain, "report_id", ev->report_id,
			"rua", ev->rua, "result", ev->result, "detail",
			ev->detail ? ev->detail : "", "records",
			(json_int_t)ev->records, "messages",
			(json_int_t)ev->messages, "bytes",
			(json_int_t)ev->bytes));
		return;
	}
	printf("%s %s%s%s %s", ev->day, cli_show(ev->domain, d, sizeof(d)),
	       ev->rua[0] ? " -> " : "", cli_show(ev->rua, r, sizeof(r)),
	       ev->result);
	if (ev->records && strcmp(ev->result, "written")) {
		printf(" (%zu records, %lld messages", ev->records,
		       (long long)ev->messages);
		if (ev->bytes)
			printf(", %zu bytes", ev->bytes);
		putchar(')');
	}
	if (ev->detail && ev->detail[0])
		printf(": %s", cli_show(ev->detail, why, sizeof(why)));
	putchar('\n');
}

int cli_cmd_dmarc_report(struct cli *c, int argc, char **argv)
{
	struct core_dmarc_send_opts o = { 0 };
	struct core_dmarc_send_totals t;
	struct out out = { .c = c };
	const char *spec = NULL, *v;
	struct config *cfg;
	char err[512];
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run"))
			o.send = false;
		else if (!strcmp(argv[i], "--send"))
			o.send = true;
		else if ((v = cli_opt_value(argc, argv, &i, "--date")))
			o.day = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--domain")))
			o.domain = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--out")))
			o.out_dir = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--store")))
			spec = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--dns")))
			o.dns = v;
		else
			cli_usage_error("dmarc report: unexpected \"%s\"",
					argv[i]);
	}
	if (o.send && o.out_dir)
		cli_usage_error("dmarc report: --out goes with --dry-run");
	cfg = config_load(cli_config_path(c), err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "mamori: %s\n", err);
		return CLI_EXIT_FAILED;
	}
	if (core_dmarc_store_open(spec ? spec : cfg->store, &o.st, err,
				  sizeof(err)) != 0) {
		fprintf(stderr, "mamori: store %s: %s\n",
			spec ? spec : cfg->store, err);
		config_free(cfg);
		return CLI_EXIT_FAILED;
	}
	o.cfg = cfg;
	o.now = (int64_t)time(NULL);
	o.cb = on_event;
	o.arg = &out;
	if (c->json)
		out.ev = json_array();
	rc = core_dmarc_send_run(&o, &t, err, sizeof(err));
	core_dmarc_store_close(o.st);
	config_free(cfg);
	if (rc < 0) {
		json_decref(out.ev);
		fprintf(stderr, "mamori: dmarc report: %s\n", err);
		return CLI_EXIT_FAILED;
	}
	if (c->json) {
		json_t *j = json_pack("{so s{sI sI sI sI sI sI sI sI sI}}",
			"events", out.ev, "totals",
			"reports", (json_int_t)t.reports,
			"sent", (json_int_t)t.sent,
			"duplicate", (json_int_t)t.duplicate,
			"unauthorised", (json_int_t)t.unauthorised,
			"too_large", (json_int_t)t.too_large,
			"deferred", (json_int_t)t.deferred,
			"tempfail", (json_int_t)t.tempfail,
			"refused", (json_int_t)t.refused,
			"written", (json_int_t)t.written);
		char *s = json_dumps(j, JSON_INDENT(2));

		puts(s ? s : "{}");
		free(s);
		json_decref(j);
		return CLI_EXIT_OK;
	}
	printf("%zu report%s; sent %zu, already sent %zu, unauthorised %zu, "
	       "too large %zu, waiting %zu (deferred %zu, temporary failure "
	       "%zu), refused %zu%s\n", t.reports, t.reports == 1 ? "" : "s",
	       t.sent, t.duplicate, t.unauthorised, t.too_large,
	       t.deferred + t.tempfail, t.deferred, t.tempfail, t.refused,
	       o.send ? "" : " (dry run: nothing sent or recorded)");
	return CLI_EXIT_OK;
}
