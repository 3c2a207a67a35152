/*
 * mamori_login - the CLI's login-abuse commands: "ips" (client addresses
 * and ranges the login engine delays, tarpits or blocks, manual blocks,
 * and the stored allowlist: "ips allow [list]|add|del")
 * and "incidents" (credential-stuffing and brute-force attacks with the
 * accounts they tried, and the export a provider uses to force password
 * resets).
 *
 * Each command is one request to /v1/ips or /v1/incidents (docs/api.md)
 * through mamori.c's plumbing (mamori.h); exit codes are the CLI's.  The
 * tables read the members the login engine writes (src/auth/login_ip.c,
 * login_incident.c); a reply of another shape is printed as JSON rather
 * than misread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/mamori.h"
#include "util/config.h"
#include "util/xalloc.h"

/* Print j as indented JSON: a reply whose shape we do not know. */
static void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	if (s) {
		/* jansson escapes C0 controls, not DEL or C1. */
		cli_write_shown(stdout, s, strlen(s));
		putchar('\n');
	}
	free(s);
}

/* Member key of o as text into out ("-" when absent or empty). */
static const char *m_text(const json_t *o, const char *key, char *out,
			  size_t outsz)
{
	cli_json_text(json_object_get(o, key), out, outsz);
	if (!out[0])
		snprintf(out, outsz, "-");
	return out;
}

/* Member key of o, a unix time, as ISO 8601 UTC into out. */
static const char *m_time(const json_t *o, const char *key, char *out,
			  size_t outsz)
{
	return cli_json_time(json_object_get(o, key), out, outsz);
}

/* An incident's addresses: "ADDR", "ADDR +N" for more, else its first
 * network; "-" for none. */
static const char *inc_addrs(const json_t *inc, char *out, size_t outsz)
{
	const json_t *a = json_object_get(inc, "addresses");
	json_int_t more = json_integer_value(json_object_get(inc,
							     "more_addresses"));
	char first[128];

	if (!json_array_size(a))
		a = json_object_get(inc, "networks");
	if (!json_array_size(a))
		return cli_json_text(NULL, out, outsz);
	cli_json_text(json_array_get(a, 0), first, sizeof(first));
	more += (json_int_t)json_array_size(a) - 1;
	if (more > 0)
		snprintf(out, outsz, "%s +%lld", first, (long long)more);
	else
		snprintf(out, outsz, "%s", first);
	return out;
}

/* mamori ips [list] */
static int ips_list(struct cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {
		"ADDRESS", "STATE", "UNTIL", "LEVEL", "REASON",
	};
	struct cli_table t = {.ncols = 5};
	struct cli_reply rep;
	char cell[5][256];
	json_t *a, *row;
	size_t idx;
	int r;

	if (argc > 0)
		cli_usage_error("ips list: unexpected \"%s\"", argv[0]);
	r = cli_call(c, "GET", "/v1/ips", NULL, "ips", &rep);
	if (r || c->json) {
		if (!r)
			cli_reply_deinit(&rep);
		return r;
	}
	if (!(a = cli_reply_rows(rep.json, "ips"))) {
		print_json(rep.json);
		cli_reply_deinit(&rep);
		return CLI_EXIT_OK;
	}
	cli_table_add(&t, hdr);
	json_array_foreach(a, idx, row) {
		const char *cells[5];

		cells[0] = m_text(row, "ip", cell[0], sizeof(cell[0]));
		cells[1] = m_text(row, "state", cell[1], sizeof(cell[1]));
		cells[2] = m_time(row, "until", cell[2], sizeof(cell[2]));
		cells[3] = m_text(row, "level", cell[3], sizeof(cell[3]));
		cells[4] = m_text(row, "reason", cell[4], sizeof(cell[4]));
		cli_table_add(&t, cells);
	}
	cli_table_print(&t);
	cli_reply_deinit(&rep);
	return CLI_EXIT_OK;
}

/* mamori ips block IP --reason TEXT [--for DURATION] [--force] | unblock IP */
static int ips_change(struct cli *c, const char *sub, int argc, char **argv)
{
	const char *ip = NULL, *reason = NULL, *dur = NULL, *v;
	bool block = strcmp(sub, "block") == 0, force = false;
	struct cli_reply rep;
	long seconds = 0;
	json_t *body;
	char tmp[64], key[128];
	int i, r;

	for (i = 0; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--reason")))
			reason = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--for")))
			dur = v;
		else if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("ips %s: unknown option %s", sub,
					argv[i]);
		else if (!ip)
			ip = argv[i];
		else
			cli_usage_error("ips %s: unexpected \"%s\"", sub,
					argv[i]);
	}
	if (!ip || !*ip)
		cli_usage_error("ips %s: IP is required", sub);
	if (!block && (reason || dur || force))
		cli_usage_error("ips unblock: option not valid here");
	if (block && (!reason || !*reason))
		cli_usage_error("ips block: --reason TEXT is required");
	if (dur && (seconds = config_parse_time(dur)) < 0)
		cli_usage_error("ips block: --for \"%s\" is not a duration "
				"like 30m, 2h or 7d", dur);
	/* --force: a range wider than api_block_min_prefix_v4/_v6. */
	body = block ? json_pack("{s:s,s:s,s:I,s:b}", "ip", ip, "reason",
				 reason, "seconds", (json_int_t)seconds,
				 "force", force) :
	       json_pack("{s:s}", "ip", ip);
	r = cli_call(c, "POST", block ? "/v1/ips/block" : "/v1/ips/unblock",
		     body, sub, &rep);
	json_decref(body);
	if (r)
		return r;
	if (!c->json) {
		/* The server's form of the range: host bits cleared. */
		m_text(rep.json, "ip", key, sizeof(key));
		if (!block)
			printf("%s: unblocked\n", key);
		else if (json_integer_value(json_object_get(rep.json,
							    "until")) > 0)
			printf("%s: blocked until %s\n", key,
			       m_time(rep.json, "until", tmp, sizeof(tmp)));
		else
			printf("%s: blocked\n", key);
	}
	cli_reply_deinit(&rep);
	return CLI_EXIT_OK;
}

/* mamori ips allow [list] */
static int allow_list(struct cli *c)
{
	static const char *const hdr[] = {
		"NET", "UNTIL", "ACTOR", "REASON",
	};
	struct cli_table t = {.ncols = 4};
	struct cli_reply rep;
	char cell[4][256];
	json_t *a, *row;
	size_t idx;
	int r;

	r = cli_call(c, "GET", "/v1/allowlist", NULL, "allowlist", &rep);
	if (r || c->json) {
		if (!r)
			cli_reply_deinit(&rep);
		return r;
	}
	if (!(a = cli_reply_rows(rep.json, "allowlist"))) {
		print_json(rep.json);
		cli_reply_deinit(&rep);
		return CLI_EXIT_OK;
	}
	cli_table_add(&t, hdr);
	json_array_foreach(a, idx, row) {
		const char *cells[4];

		cells[0] = m_text(row, "net", cell[0], sizeof(cell[0]));
		cells[1] = json_integer_value(json_object_get(row, "until")) ?
			   m_time(row, "until", cell[1], sizeof(cell[1])) :
			   "-";
		cells[2] = m_text(row, "actor", cell[2], sizeof(cell[2]));
		cells[3] = m_text(row, "reason", cell[3], sizeof(cell[3]));
		cli_table_add(&t, cells);
	}
	cli_table_print(&t);
	cli_reply_deinit(&rep);
	return CLI_EXIT_OK;
}

/* mamori ips allow add NET --reason TEXT [--for DURATION] | del NET */
static int allow_change(struct cli *c, bool add, int argc, char **argv)
{
	const char *net = NULL, *reason = NULL, *dur = NULL, *v;
	char *path = NULL, *p1, *p2 = NULL, *slash;
	struct cli_reply rep;
	long seconds = 0;
	json_t *body = NULL;
	char copy[128];
	int i, r;

	for (i = 0; i < argc; i++) {
		if (add && (v = cli_opt_value(argc, argv, &i, "--reason")))
			reason = v;
		else if (add && (v = cli_opt_value(argc, argv, &i, "--for")))
			dur = v;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("ips allow: unknown option %s",
					argv[i]);
		else if (!net)
			net = argv[i];
		else
			cli_usage_error("ips allow: unexpected \"%s\"",
					argv[i]);
	}
	if (!net || !*net || strlen(net) >= sizeof(copy))
		cli_usage_error("ips allow: IP|CIDR is required");
	if (add && (!reason || !*reason))
		cli_usage_error("ips allow add: --reason TEXT is required");
	if (dur && (seconds = config_parse_time(dur)) < 0)
		cli_usage_error("ips allow add: --for \"%s\" is not a "
				"duration like 30m, 2h or 7d", dur);
	if (add) {
		body = json_pack("{s:s,s:s,s:I}", "net", net, "reason", reason,
				 "expires", (json_int_t)seconds);
		r = cli_call(c, "POST", "/v1/allowlist", body, "allow", &rep);
	} else {
		/* A range is two path segments: ADDRESS/PREFIX. */
		snprintf(copy, sizeof(copy), "%s", net);
		if ((slash = strchr(copy, '/')))
			*slash = '\0';
		p1 = cli_escape(c, copy);
		if (slash)
			p2 = cli_escape(c, slash + 1);
		path = xasprintf("/v1/allowlist/%s%s%s", p1, p2 ? "/" : "",
				 p2 ? p2 : "");
		free(p1);
		free(p2);
		r = cli_call(c, "DELETE", path, NULL, "allow del", &rep);
		free(path);
	}
	json_decref(body);
	if (r)
		return r;
	if (!c->json)
		printf("%s: %s\n", net, add ? "allowlisted" :
		       "removed from the allowlist");
	cli_reply_deinit(&rep);
	return CLI_EXIT_OK;
}

int cli_cmd_ips(struct cli *c, int argc, char **argv)
{
	if (argc < 1)
		return ips_list(c, 0, argv);
	if (strcmp(argv[0], "allow") == 0) {
		if (argc < 2 || strcmp(argv[1], "list") == 0) {
			if (argc > 2)
				cli_usage_error("ips allow list: unexpected "
						"\"%s\"", argv[2]);
			return allow_list(c);
		}
		if (strcmp(argv[1], "add") && strcmp(argv[1], "del"))
			cli_usage_error("ips allow: unknown command \"%s\"",
					argv[1]);
		return allow_change(c, argv[1][0] == 'a', argc - 2, argv + 2);
	}
	if (strcmp(argv[0], "list") == 0)
		return ips_list(c, argc - 1, argv + 1);
	if (strcmp(argv[0], "block") && strcmp(argv[0], "unblock"))
		cli_usage_error("ips: unknown command \"%s\"", argv[0]);
	return ips_change(c, argv[0], argc - 1, argv + 1);
}

/* mamori incidents [list] */
static int incidents_list(struct cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {
		"ID", "RULE", "FIRST", "LAST", "ADDRESSES", "TRIED", "VALID",
	};
	struct cli_table t = {.ncols = 7};
	struct cli_reply rep;
	char cell[7][256];
	json_t *a, *row;
	size_t idx;
	int r;

	if (argc > 0)
		cli_usage_error("incidents list: unexpected \"%s\"", argv[0]);
	r = cli_call(c, "GET", "/v1/incidents", NULL, "incidents",
		     &rep);
	if (r || c->json) {
		if (!r)
			cli_reply_deinit(&rep);
		return r;
	}
	if (!(a = cli_reply_rows(rep.json, "incidents"))) {
		print_json(rep.json);
		cli_reply_deinit(&rep);
		return CLI_EXIT_OK;
	}
	cli_table_add(&t, hdr);
	json_array_foreach(a, idx, row) {
		const char *cells[7];

		cells[0] = m_text(row, "id", cell[0], sizeof(cell[0]));
		cells[1] = m_text(row, "rule", cell[1], sizeof(cell[1]));
		cells[2] = m_time(row, "first_seen", cell[2], sizeof(cell[2]));
		cells[3] = m_time(row, "last_seen", cell[3], sizeof(cell[3]));
		cells[4] = inc_addrs(row, cell[4], sizeof(cell[4]));
		cells[5] = m_text(row, "tried", cell[5], sizeof(cell[5]));
		cells[6] = m_text(row, "valid", cell[6], sizeof(cell[6]));
		cli_table_add(&t, cells);
	}
	cli_table_print(&t);
	cli_reply_deinit(&rep);
	return CLI_EXIT_OK;
}

/* Print a list member of o (an array of strings) on one line. */
static void print_list(const char *label, const json_t *o, const char *key)
{
	const json_t *a = json_object_get(o, key), *v;
	char tmp[128];
	size_t i;

	printf("%-12s", label);
	if (!json_array_size(a))
		printf(" -");
	json_array_foreach(a, i, v)
		printf(" %s", cli_json_text(v, tmp, sizeof(tmp)));
	printf("\n");
}

/* Print the accounts whose "valid" is valid as a table under "TITLE (N)
 * HINT:". */
static void print_accounts(const json_t *accts, bool valid,
			   const char *title, const char *hint)
{
	static const char *const hdr[] = {
		"LOGIN", "PROTOCOL", "TRIED", "FIRST", "LAST",
	};
	struct cli_table t = {.ncols = 5};
	char cell[5][256];
	size_t idx, n = 0;
	json_t *row;

	json_array_foreach(accts, idx, row)
		n += json_is_true(json_object_get(row, "valid")) == valid;
	printf("\n%s (%zu)%s%s\n", title, n, n ? hint : "", n ? ":" : "");
	if (!n)
		return;
	cli_table_add(&t, hdr);
	json_array_foreach(accts, idx, row) {
		const char *cells[5];

		if (json_is_true(json_object_get(row, "valid")) != valid)
			continue;
		cells[0] = m_text(row, "login", cell[0], sizeof(cell[0]));
		cells[1] = m_text(row, "protocol", cell[1], sizeof(cell[1]));
		cells[2] = m_text(row, "tried", cell[2], sizeof(cell[2]));
		cells[3] = m_time(row, "first", cell[3], sizeof(cell[3]));
		cells[4] = m_time(row, "last", cell[4], sizeof(cell[4]));
		cli_table_add(&t, cells);
	}
	cli_table_print(&t);
}

/* mamori incidents show ID: the summary, then the accounts whose
 * credentials were valid (the ones to reset), then the others tried. */
static int incident_show(struct cli *c, const char *id)
{
	struct cli_reply rep;
	char *e = cli_escape(c, id), *path, tmp[256];
	const json_t *j, *accts;
	int r;

	path = xasprintf("/v1/incidents/%s", e);
	free(e);
	r = cli_call(c, "GET", path, NULL, "show", &rep);
	free(path);
	if (r || c->json) {
		if (!r)
			cli_reply_deinit(&rep);
		return r;
	}
	j = rep.json;
	accts = json_object_get(j, "accounts");
	if (!json_is_object(j) || !json_is_array(accts)) {
		print_json(j);
		cli_reply_deinit(&rep);
		return CLI_EXIT_OK;
	}
	printf("incident:    %s\n", m_text(j, "id", tmp, sizeof(tmp)));
	printf("rule:        %s\n", m_text(j, "rule", tmp, sizeof(tmp)));
	printf("state:       %s\n", m_text(j, "state", tmp, sizeof(tmp)));
	printf("first seen:  %s\n", m_time(j, "first_seen", tmp, sizeof(tmp)));
	printf("last seen:   %s\n", m_time(j, "last_seen", tmp, sizeof(tmp)));
	print_list("addresses:", j, "addresses");
	if (json_integer_value(json_object_get(j, "more_addresses")) > 0)
		printf("             and %s more\n",
		       m_text(j, "more_addresses", tmp, sizeof(tmp)));
	print_list("networks:", j, "networks");
	printf("accounts:    %s tried, ", m_text(j, "tried", tmp, sizeof(tmp)));
	printf("%s with valid credentials\n",
	       m_text(j, "valid", tmp, sizeof(tmp)));
	printf("reason:      %s\n", m_text(j, "reason", tmp, sizeof(tmp)));

	print_accounts(accts, true, "VALID CREDENTIALS",
		       ", force a password reset");
	print_accounts(accts, false, "TRIED, NOT VALID", "");
	if (json_integer_value(json_object_get(j, "listed")) <
	    json_integer_value(json_object_get(j, "tried")))
		printf("\nonly %s accounts are listed; the others tried were "
		       "not kept\n", m_text(j, "listed", tmp, sizeof(tmp)));
	if (json_is_true(json_object_get(j, "accounts_partial")))
		fprintf(stderr, "mamori: the account list is partial: the "
			"store did not answer in time\n");
	cli_reply_deinit(&rep);
	return CLI_EXIT_OK;
}

/* mamori incidents export ID [--format csv|json]: the body, raw. */
static int incident_export(struct cli *c, int argc, char **argv)
{
	const char *id = NULL, *fmt = "csv", *v;
	struct cli_reply rep;
	char *e, *path;
	int i, r;

	for (i = 0; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--format")))
			fmt = v;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("incidents export: unknown option %s",
					argv[i]);
		else if (!id)
			id = argv[i];
		else
			cli_usage_error("incidents export: unexpected \"%s\"",
					argv[i]);
	}
	if (!id || !*id)
		cli_usage_error("incidents export: ID is required");
	if (strcmp(fmt, "csv") && strcmp(fmt, "json"))
		cli_usage_error("incidents export: --format must be csv or "
				"json");
	e = cli_escape(c, id);
	path = xasprintf("/v1/incidents/%s/export?format=%s", e, fmt);
	free(e);
	r = cli_request(c, "GET", path, NULL, &rep);
	free(path);
	if (r)
		return r;
	/* CSV is not JSON: only a failure goes through the usual check. */
	if (rep.status < 200 || rep.status >= 300) {
		r = cli_reply_check(c, &rep, "export");
		cli_reply_deinit(&rep);
		return r;
	}
	/* CSV: attacker-chosen logins must not reach the terminal raw; the
	 * JSON form is for programs and jansson escapes its controls. */
	if (rep.body.len && strcmp(fmt, "csv") == 0)
		cli_write_csv(stdout, rep.body.p, rep.body.len);
	else if (rep.body.len)
		fwrite(rep.body.p, 1, rep.body.len, stdout);
	cli_reply_deinit(&rep);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("mamori: export: standard output");
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

int cli_cmd_incidents(struct cli *c, int argc, char **argv)
{
	if (argc < 1)
		return incidents_list(c, 0, argv);
	if (strcmp(argv[0], "list") == 0)
		return incidents_list(c, argc - 1, argv + 1);
	if (strcmp(argv[0], "export") == 0)
		return incident_export(c, argc - 1, argv + 1);
	if (strcmp(argv[0], "show") != 0)
		cli_usage_error("incidents: unknown command \"%s\"", argv[0]);
	if (argc < 2 || !*argv[1] || argv[1][0] == '-')
		cli_usage_error("incidents show: ID is required");
	if (argc > 2)
		cli_usage_error("incidents show: unexpected \"%s\"", argv[2]);
	return incident_show(c, argv[1]);
}
