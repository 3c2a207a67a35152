/*
 * mamori scan - the inbound verdict for a message file, without mamorid.
 *
 *   mamori scan [--ip ADDR] [--helo NAME] [--mail-from ADDR]
 *               [--dns IP[@PORT]] [--time EPOCH] FILE.eml|-
 *
 * The same evaluation the milter runs at end of message (core_scan() of
 * core/inbound.h: SPF, DKIM, DMARC and the policy action of
 * core/mailauth.c; the content score, labels and reasons of
 * core/content.c, without the correspondence log: every sender is new),
 * with the settings of the configuration file (-c, else the default file
 * if it exists, else the built-in defaults) and real DNS through a local
 * blocking resolver (dns_upstream, or --dns).  The envelope is not in a stored message, so SPF needs --ip
 * (and --mail-from, else the null sender: the HELO identity); without
 * --ip SPF is not evaluated and says so.  Prints the header fields the
 * milter would add and what it would do; --json prints them as an object.
 * Exit status 0 when the evaluation ran (whatever the verdict), 1 when the
 * file cannot be read, 2 on a usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mamori.h"
#include "core/inbound.h"
#include "core/verdict_json.h"
#include "util/config.h"
#include "util/xalloc.h"

#define SCAN_MAX_BYTES (64u << 20)	/* larger than any MTA's size limit */

/* Read FILE ("-": stdin) whole into *out; 0, or -1 with errno. */
static int slurp(const char *path, struct buf *out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char chunk[65536];
	size_t n;
	int r = 0;

	if (!f)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(out, chunk, n) != 0) {
			errno = EFBIG;
			r = -1;
			break;
		}
	if (r == 0 && ferror(f))
		r = -1;
	if (f != stdin)
		fclose(f);
	return r;
}

/* One line for a person: printf-formatted, then every control byte and
 * invalid UTF-8 sequence shown as \xNN (the values come from the message,
 * i.e. from whoever sent it), then a newline. */
__attribute__((format(printf, 1, 2)))
static void show_line(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	cli_write_shown(stdout, s, (size_t)n);
	putchar('\n');
	free(s);
}

/* The verdict for a person. */
static void print_text(const struct core_verdict *cv, size_t fields,
		       const char *ip)
{
	const struct mailauth_verdict *v = cv->auth;
	const struct content_verdict *ct = cv->content;
	char labels[128];
	size_t i;

	show_line("Authentication-Results: %s", v->ar ? v->ar : "");
	if (v->received_spf)
		show_line("Received-SPF: %s", v->received_spf);
	if (v->tag_name)
		show_line("%s: %s", v->tag_name, v->tag_value);
	if (cv->verdict_header)
		show_line("%s: %s", CORE_VERDICT_FIELD, cv->verdict_header);
	show_line("%s", "");
	show_line("header fields: %zu", fields);
	show_line("from domain:   %s", v->from_domain[0] ? v->from_domain : "-");
	show_line("spf:           %s%s", v->spf_result,
		  ip ? "" : " (not evaluated: no --ip)");
	show_line("dkim:          %s", v->dkim_result);
	show_line("dmarc:         %s (disposition %s%s)", v->dmarc_result,
		  v->disposition, v->overridden ? ", overridden" : "");
	show_line("content score: %d (%s)%s", ct->score,
		  content_action_name(ct->action),
		  ct->checked ? "" : " (not checked)");
	show_line("labels:        %s", ct->labels ?
		  content_labels_str(ct->labels, labels, sizeof(labels)) : "-");
	for (i = 0; i < ct->nreasons; i++)
		show_line("  %+3d %-24s %-12s %s", ct->reason[i].points,
			  ct->reason[i].name,
			  content_label_name(ct->reason[i].label),
			  ct->reason[i].detail);
	if (cv->rcode)
		show_line("action:        %s %s %s %s",
			  core_action_name(cv->action), cv->rcode, cv->xcode,
			  cv->reply ? cv->reply : "");
	else
		show_line("action:        %s", core_action_name(cv->action));
	if (cv->reason)
		show_line("reason:        %s", cv->reason);
	for (i = 0; i < v->ndel; i++)
		show_line("removed:       %s #%d (carries our authserv-id)",
			  v->del[i].name, v->del[i].index);
}

/* The verdict as one JSON object (--json; core/verdict_json.h). */
static void print_json(const struct core_verdict *cv, size_t fields)
{
	json_t *o = core_verdict_json(cv, fields);
	char *s = json_dumps(o, JSON_INDENT(2));

	puts(s);
	free(s);
	json_decref(o);
}

int cli_cmd_scan(struct cli *c, int argc, char **argv)
{
	const char *ip = NULL, *helo = "", *mailfrom = "", *dns = NULL,
		   *file = NULL, *v, *warn;
	struct core_scan *sc;
	struct config *cfg;
	const struct core_verdict *verdict;
	struct buf msg;
	char err[512];
	unsigned long long now = 0;
	size_t fields;
	int i;

	for (i = 0; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--ip")))
			ip = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--helo")))
			helo = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--mail-from")))
			mailfrom = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--dns")))
			dns = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--time"))) {
			char *end;

			errno = 0;
			now = strtoull(v, &end, 10);
			if (errno || *end || !*v || now == 0)
				cli_usage_error("scan: --time wants seconds "
						"since 1970");
		} else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("scan: unknown option %s", argv[i]);
		else if (!file)
			file = argv[i];
		else
			cli_usage_error("scan: one FILE (or -) only");
	}
	if (!file)
		cli_usage_error("scan: FILE (or - for standard input) is "
				"required");
	if ((cfg = config_load(c->config, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mamori: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	buf_init(&msg, SCAN_MAX_BYTES);
	if (slurp(file, &msg) != 0) {
		fprintf(stderr, "mamori: scan: %s: %s\n", file,
			errno == EFBIG ? "larger than 64 MB" : strerror(errno));
		buf_deinit(&msg);
		config_free(cfg);
		return CLI_EXIT_FAILED;
	}
	sc = core_scan_new(cfg, dns, now, &warn, err, sizeof(err));
	if (warn)
		fprintf(stderr, "mamori: scan: %s\n", warn);
	if (!sc) {
		fprintf(stderr, "mamori: scan: %s\n", err);
		buf_deinit(&msg);
		config_free(cfg);
		return CLI_EXIT_USAGE;
	}
	verdict = core_scan(sc, ip, helo, mailfrom, msg.p, msg.len, &fields);
	if (c->json)
		print_json(verdict, fields);
	else
		print_text(verdict, fields, ip);
	core_scan_free(sc);
	buf_deinit(&msg);
	config_free(cfg);
	return CLI_EXIT_OK;
}
