/*
 * mamori - the administrator's command-line client of mamorid.
 *
 * Every command but "config" is one or a few HTTP requests to the admin API
 * (docs/api.md) made with libcurl: over the unix socket by default (its file
 * permission is the authorization), or over TCP with a bearer token.  The
 * command prints the JSON reply for people, or raw with --json.  "config"
 * works on the configuration file locally, like postconf, without a daemon.
 *
 * Exit status (docs/man/mamori.1.md): 0 success (HTTP 2xx), 1 refused or
 * failed (HTTP 4xx/5xx, the server's "error" text on stderr), 2 usage or
 * configuration error, 3 mamorid cannot be reached.
 *
 * The login-abuse commands (ips, incidents) are in mamori_login.c, the
 * escaped output (tables, fields, CSV) in mamori_out.c; what the files
 * share is declared in mamori.h.
 *
 * Limits: a reply is read into a buffer of at most CLI_MAX_REPLY bytes;
 * a larger one fails cleanly.  A request may take CLI_TIMEOUT seconds.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/mamori.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/listen.h"
#include "util/xalloc.h"

#define CLI_DEFAULT_CONFIG MAMORI_SYSCONFDIR "/mamori.conf"
#define CLI_DEFAULT_SOCKET "/run/mamori/api.sock"
#define CLI_MAX_REPLY (16 * 1024 * 1024)
#define CLI_TIMEOUT 60L

static const char usage_text[] =
"usage: mamori [-s SOCKET | -u URL [-T TOKEN]] [-c CONFIG] [--json] COMMAND ...\n"
"\n"
"Administer mamorid through its HTTP API.\n"
"\n"
"Commands:\n"
"  accounts [--state STATE]\n"
"        List accounts: LOGIN STATE CLASS STRIKES SCORE SINCE.\n"
"  account show LOGIN\n"
"        Everything known about one account.\n"
"  account restrict LOGIN --reason TEXT\n"
"        Restrict the account's sending now.\n"
"  account credential-changed LOGIN [--source TEXT]\n"
"        Record that the account's password was changed.\n"
"  account release LOGIN [--force --reason TEXT] [--held release|delete|keep]\n"
"        Lift a restriction into probation.  Refused unless a password\n"
"        change was recorded since the restriction, or --force is given\n"
"        with a --reason.  --held says what to do with held mail (keep).\n"
"  held list [LOGIN]\n"
"        Messages held in the Postfix hold queue: QUEUE_ID LOGIN SINCE.\n"
"  held release QUEUEID...\n"
"  held delete QUEUEID...\n"
"        Release held messages for delivery, or delete them.\n"
"  ips [list]\n"
"        Client addresses under login-abuse measures:\n"
"        ADDRESS STATE UNTIL LEVEL REASON.\n"
"  ips block IP|CIDR --reason TEXT [--for DURATION] [--force]\n"
"        Refuse logins from an address or network (DURATION: 30m, 2h,\n"
"        7d; default: mamorid's escalation).\n"
"  ips unblock IP|CIDR\n"
"        Lift the block or tarpit of exactly that address or range.\n"
"  ips allow [list]\n"
"  ips allow add IP|CIDR --reason TEXT [--for DURATION]\n"
"  ips allow del IP|CIDR\n"
"        The stored login allowlist (next to auth_allowlist): never\n"
"        delayed or blocked automatically; DURATION default: no end.\n"
"  incidents [list]\n"
"        Login attacks: ID RULE FIRST LAST ADDRESSES TRIED VALID.\n"
"  incidents show ID\n"
"        One attack, the accounts with valid credentials first.\n"
"  incidents export ID [--format csv|json]\n"
"        The accounts of an attack, raw, for forced password resets\n"
"        (csv: login,valid,tried,first_seen,last_seen,protocol).\n"
"  dmarc [--day YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD] [--domain D]\n"
"        DMARC aggregate counts of inbound mail, largest first: DAY SOURCE\n"
"        FROM-DOMAIN SPF DKIM DMARC DISPOSITION ALIGNED IDENTIFIERS COUNT\n"
"        (SPF scope=domain, DKIM d/s=result), then totals.\n"
"  dmarc ingest [--store SPEC] [FILE|MAILDIR...]\n"
"        Store received aggregate reports (a message on stdin without\n"
"        FILE); exit 75 when the store is down (Postfix retries).\n"
"  dmarc sources DOMAIN [--days N] [--until YYYY-MM-DD]\n"
"        Who sends mail as DOMAIN: ours, authorised, forwarder, forger.\n"
"  dmarc report [--dry-run|--send] [--date YYYY-MM-DD] [--domain D]\n"
"               [--out DIR] [--store SPEC] [--dns IP[@PORT]]\n"
"        Aggregate reports (RFC 9990) of our inbound mail to each rua:\n"
"        --dry-run says what would go where (--out DIR writes the XML),\n"
"        --send mails them through dmarc_report_relay, once each.\n"
"  stats\n"
"        Counters and gauges as \"key value\" lines.\n"
"  config -d               print every setting's default value\n"
"  config --man            print mamori.conf(5), made from the same table\n"
"  config -n [-c FILE] [--show-secrets]\n"
"                          print the settings FILE changes (tokens and\n"
"                          secrets only as their length without the flag)\n"
"  config -t [-c FILE]     check FILE and report the first error\n"
"  dkim keygen DOMAIN SELECTOR [--type rsa|ed25519] [--dir DIR] [--force]\n"
"        Make a DKIM signing key under dkim_key_dir (local, no daemon)\n"
"        and print the DNS TXT record to publish.\n"
"  scan FILE|- [--ip ADDR] [--mail-from ADDR] [--helo NAME]\n"
"       [--dns IP[@PORT]] [--time EPOCH]\n"
"        What the milter would decide for a message file (local, real\n"
"        DNS): SPF (needs --ip), DKIM, DMARC, Authentication-Results.\n"
"  learn [--config FILE] [--store TYPE:SPEC] [--since DAYS] [--shared-min N]\n"
"        LOG...\n"
"        Teach the store each account's habit from Postfix and Dovecot\n"
"        logs (plain or .gz; local, mamorid stopped); list shared addresses.\n"
"  replay [--config FILE] [--from TIME] [--to TIME] LOG...\n"
"        What mamori would have done on past logs, in the log's time, on a\n"
"        private memory store: accounts, when, after how many messages, why.\n"
"  domain check DOMAIN [--dns IP[@PORT]] [--selector S]... [--store SPEC]\n"
"        Lint SPF, DKIM (the keys mamori signs with), DMARC and MX of a\n"
"        domain before p=reject (local, real DNS), and when tightening p\n"
"        is safe from the ingested DMARC reports (the store); exit 1 on\n"
"        errors, 2 when DNS did not answer.\n"
"\n"
"Options:\n"
"  -s SOCKET   API unix socket (default: api_listen of the configuration,\n"
"              else " CLI_DEFAULT_SOCKET ")\n"
"  -c CONFIG   configuration file (default " CLI_DEFAULT_CONFIG ")\n"
"  -u URL      use the TCP API at URL (http://HOST:PORT) instead\n"
"  -T TOKEN    bearer token for -u (default: $MAMORI_API_TOKEN)\n"
"  --json      print the server's JSON reply unchanged\n"
"  -h, --help  this text\n"
"\n"
"Exit status: 0 done, 1 refused or failed, 2 usage error,\n"
"3 mamorid cannot be reached.\n";

/* Print a one-line usage error and exit 2. */
void cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mamori: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mamori -h' for help.\n");
	exit(CLI_EXIT_USAGE);
}

/*
 * Match option name at argv[*i] as "--name VALUE" or "--name=VALUE".
 * Returns the value (advancing *i past it) or NULL when argv[*i] is another
 * option; a missing value is a usage error.
 */
const char *cli_opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		cli_usage_error("%s needs a value", name);
	return argv[++*i];
}

/* libcurl write callback: append to the bounded reply buffer. */
static size_t reply_data(char *p, size_t size, size_t n, void *arg)
{
	struct cli_reply *r = arg;

	if (size != 1 || buf_append(&r->body, p, n) != 0)
		return 0;	/* CURLE_WRITE_ERROR */
	return n;
}

/* Release what a reply holds. */
void cli_reply_deinit(struct cli_reply *r)
{
	buf_deinit(&r->body);
	json_decref(r->json);
	r->json = NULL;
}

/* Where the requests go, for error messages. */
static const char *cli_where(const struct cli *c)
{
	return c->url ? c->url : c->socket;
}

/*
 * Send method path (already percent-encoded, from "/v1/...") with body (a
 * JSON object or NULL) and fill rep.  Returns 0 when a reply arrived
 * (whatever its status), else an exit code after printing why.
 */
int cli_request(struct cli *c, const char *method, const char *path,
		json_t *body, struct cli_reply *rep)
{
	char errbuf[CURL_ERROR_SIZE] = "", *url, *text = NULL, *auth = NULL;
	struct curl_slist *hdrs = NULL;
	CURLcode res;
	json_error_t jerr;

	memset(rep, 0, sizeof(*rep));
	buf_init(&rep->body, CLI_MAX_REPLY);
	curl_easy_reset(c->curl);
	url = xasprintf("%s%s", c->url ? c->url : "http://localhost", path);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	if (!c->url)
		curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, reply_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, rep);
	curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)CLI_MAX_REPLY);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, CLI_TIMEOUT);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (c->token && *c->token) {
		auth = xasprintf("Authorization: Bearer %s", c->token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			fprintf(stderr, "mamori: out of memory\n");
			exit(CLI_EXIT_FAILED);
		}
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);

	res = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &rep->status);
	curl_slist_free_all(hdrs);
	free(text);
	free(url);
	free(auth);
	if (res == CURLE_WRITE_ERROR || res == CURLE_FILESIZE_EXCEEDED) {
		fprintf(stderr, "mamori: the reply from mamorid exceeds %d MiB\n",
			CLI_MAX_REPLY / (1024 * 1024));
		cli_reply_deinit(rep);
		return CLI_EXIT_FAILED;
	}
	if (res != CURLE_OK) {
		long oserr = 0;

		/* The system's reason (ENOENT, EACCES: not in the socket's
		 * group) says more than curl's "localhost port 80". */
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
		if (oserr)
			fprintf(stderr, "mamori: cannot reach mamorid at %s: "
				"%s (%s)\n", cli_where(c), strerror((int)oserr),
				curl_easy_strerror(res));
		else
			fprintf(stderr, "mamori: cannot reach mamorid at %s: %s\n",
				cli_where(c), errbuf[0] ? errbuf :
				curl_easy_strerror(res));
		cli_reply_deinit(rep);
		return CLI_EXIT_UNREACHABLE;
	}
	if (rep->body.len)
		rep->json = json_loadb(rep->body.p, rep->body.len, 0, &jerr);
	return 0;
}

/*
 * Judge a reply: print it raw with --json, and for a status outside 2xx
 * print "mamori: VERB refused|failed: ERROR".  Returns the exit code.
 */
int cli_reply_check(const struct cli *c, const struct cli_reply *rep,
		    const char *verb)
{
	const char *err = NULL;

	if (c->json && rep->body.len) {
		fwrite(rep->body.p, 1, rep->body.len, stdout);
		if (rep->body.p[rep->body.len - 1] != '\n')
			putchar('\n');
	}
	if (rep->status >= 200 && rep->status < 300) {
		if (!rep->json) {
			fprintf(stderr, "mamori: %s: the reply is not JSON\n",
				verb);
			return CLI_EXIT_FAILED;
		}
		return CLI_EXIT_OK;
	}
	if (rep->json)
		err = json_string_value(json_object_get(rep->json, "error"));
	if (err) {
		fprintf(stderr, "mamori: ");
		cli_write_shown(stderr, verb, strlen(verb));
		fprintf(stderr, " %s: ",
			rep->status == 409 || rep->status == 403 ? "refused" :
			"failed");
		cli_write_shown(stderr, err, strlen(err));
		fputc('\n', stderr);
	}
	else
		fprintf(stderr, "mamori: %s failed: HTTP status %ld\n", verb,
			rep->status);
	return CLI_EXIT_FAILED;
}

/* One request; returns the exit code and leaves a good reply in rep. */
int cli_call(struct cli *c, const char *method, const char *path,
	     json_t *body, const char *verb, struct cli_reply *rep)
{
	int r = cli_request(c, method, path, body, rep);

	if (r)
		return r;
	r = cli_reply_check(c, rep, verb);
	if (r)
		cli_reply_deinit(rep);
	return r;
}

/* Percent-encode s for a path segment or query value; free() the result. */
char *cli_escape(struct cli *c, const char *s)
{
	char *e = curl_easy_escape(c->curl, s, 0), *r;

	if (!e) {
		fprintf(stderr, "mamori: out of memory\n");
		exit(CLI_EXIT_FAILED);
	}
	r = xstrdup(e);
	curl_free(e);
	return r;
}

/* The array of rows in a list reply: under key, or the reply itself. */
json_t *cli_reply_rows(json_t *j, const char *key)
{
	json_t *a = json_is_array(j) ? j : json_object_get(j, key);

	return json_is_array(a) ? a : NULL;
}

/* mamori accounts [--state STATE] */
static int cmd_accounts(struct cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {
		"LOGIN", "STATE", "CLASS", "STRIKES", "SCORE", "SINCE",
	};
	static const char *const keys[] = {
		"login", "state", "class", "strikes", "score", "since",
	};
	struct cli_table t = {.ncols = 6};
	const char *state = NULL, *v;
	struct cli_reply rep;
	char *path, cell[6][256];
	json_t *a, *row;
	size_t idx;
	int i, r;

	for (i = 0; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--state")))
			state = v;
		else
			cli_usage_error("accounts: unexpected \"%s\"", argv[i]);
	}
	if (state) {
		char *e = cli_escape(c, state);

		path = xasprintf("/v1/accounts?state=%s", e);
		free(e);
	} else {
		path = xstrdup("/v1/accounts");
	}
	r = cli_call(c, "GET", path, NULL, "accounts", &rep);
	free(path);
	if (r || c->json) {
		if (!r)
			cli_reply_deinit(&rep);
		return r;
	}
	a = cli_reply_rows(rep.json, "accounts");
	cli_table_add(&t, hdr);
	json_array_foreach(a, idx, row) {
		const char *cells[6];

		for (i = 0; i < 6; i++) {
			json_t *f = json_object_get(row, keys[i]);

			cells[i] = i == 5 ?
				   cli_json_time(f, cell[i], sizeof(cell[i])) :
				   cli_json_text(f, cell[i], sizeof(cell[i]));
		}
		cli_table_add(&t, cells);
	}
	cli_table_print(&t);
	if (json_is_true(json_object_get(rep.json, "truncated")))
		fprintf(stderr, "mamori: the list is truncated; narrow it "
			"with --state\n");
	cli_reply_deinit(&rep);
	return 0;
}

/* Is key one whose number is a unix time? */
static bool key_is_time(const char *key)
{
	static const char *const times[] = {
		"since", "until", "credential_changed", "first_seen",
		"last_seen", "last_strike", "time", "ts", NULL,
	};
	size_t n = strlen(key);
	int i;

	for (i = 0; times[i]; i++)
		if (strcmp(key, times[i]) == 0)
			return true;
	return n > 3 && strcmp(key + n - 3, "_at") == 0;
}

/* Print every top-level member of o as "key: value". */
void cli_print_fields(const json_t *o)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)o, key, v) {
		char tmp[256], k[256];

		if ((json_is_object(v) && json_object_size(v)) ||
		    (json_is_array(v) && json_array_size(v))) {
			char *s = json_dumps(v, JSON_INDENT(2)), *line, *nl;

			printf("%s:\n", cli_show(key, k, sizeof(k)));
			for (line = s; line && *line; line = nl + 1) {
				nl = strchr(line, '\n');
				fputs("  ", stdout);
				/* jansson escapes C0 controls, not DEL or C1. */
				cli_write_shown(stdout, line,
						nl ? (size_t)(nl - line) :
						strlen(line));
				putchar('\n');
				if (!nl)
					break;
			}
			free(s);
		} else if (json_is_object(v) || json_is_array(v)) {
			printf("%s: %s\n", cli_show(key, k, sizeof(k)),
			       json_is_object(v) ? "{}" : "[]");
		} else if (key_is_time(key) && json_is_number(v)) {
			printf("%s: %s\n", cli_show(key, k, sizeof(k)),
			       cli_json_time(v, tmp, sizeof(tmp)));
		} else {
			printf("%s: %s\n", cli_show(key, k, sizeof(k)),
			       cli_json_text(v, tmp, sizeof(tmp)));
		}
	}
}

/* Print what an action did: "LOGIN: STATE", or the reply's fields. */
static void print_outcome(const char *what, const json_t *j)
{
	const char *state = json_string_value(json_object_get(j, "state"));
	const char *msg = json_string_value(json_object_get(j, "message"));

	const char *held = json_string_value(json_object_get(j, "held_action"));
	json_t *done = json_object_get(j, "held_done");

	char w[256], t[256];

	cli_show(what, w, sizeof(w));
	if (state)
		printf("%s: %s\n", w, cli_show(state, t, sizeof(t)));
	else if (!msg)
		printf("%s: done\n", w);
	if (msg) {
		cli_write_shown(stdout, msg, strlen(msg));
		putchar('\n');
	}
	if (held && strcmp(held, "keep") && json_is_array(done))
		printf("held messages %s: %zu\n",
		       strcmp(held, "release") == 0 ? "released" : "deleted",
		       json_array_size(done));
}

/* mamori account show|restrict|credential-changed|release LOGIN ... */
static int cmd_account(struct cli *c, int argc, char **argv)
{
	const char *sub, *login = NULL, *reason = NULL, *source = NULL;
	const char *held = NULL, *v;
	bool force = false;
	struct cli_reply rep;
	json_t *body = NULL;
	char *e, *path;
	int i, r;

	if (argc < 1)
		cli_usage_error("account: show, restrict, credential-changed "
				"or release?");
	sub = argv[0];
	if (strcmp(sub, "show") && strcmp(sub, "restrict") &&
	    strcmp(sub, "credential-changed") && strcmp(sub, "release"))
		cli_usage_error("account: unknown command \"%s\"", sub);
	for (i = 1; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--reason")))
			reason = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--source")))
			source = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--held")))
			held = v;
		else if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("account %s: unknown option %s", sub,
					argv[i]);
		else if (!login)
			login = argv[i];
		else
			cli_usage_error("account %s: unexpected \"%s\"", sub,
					argv[i]);
	}
	if (!login || !*login)
		cli_usage_error("account %s: LOGIN is required", sub);
	/* Each option belongs to one command. */
	if ((reason && strcmp(sub, "restrict") && strcmp(sub, "release")) ||
	    (source && strcmp(sub, "credential-changed")) ||
	    ((held || force) && strcmp(sub, "release")))
		cli_usage_error("account %s: option not valid here", sub);

	if (strcmp(sub, "restrict") == 0) {
		if (!reason || !*reason)
			cli_usage_error("account restrict: --reason TEXT is "
					"required");
		body = json_pack("{s:s}", "reason", reason);
	} else if (strcmp(sub, "credential-changed") == 0) {
		body = source ? json_pack("{s:s}", "source", source) :
		       json_object();
	} else if (strcmp(sub, "release") == 0) {
		if (force && (!reason || !*reason))
			cli_usage_error("account release: --force requires "
					"--reason TEXT");
		if (held && strcmp(held, "release") && strcmp(held, "delete") &&
		    strcmp(held, "keep"))
			cli_usage_error("account release: --held must be "
					"release, delete or keep");
		body = json_pack("{s:b,s:s,s:s}", "force", force, "reason",
				 reason ? reason : "", "held",
				 held ? held : "keep");
	}

	e = cli_escape(c, login);
	if (strcmp(sub, "show") == 0)
		path = xasprintf("/v1/accounts/%s", e);
	else
		path = xasprintf("/v1/accounts/%s/%s", e, sub);
	free(e);
	r = cli_call(c, body ? "POST" : "GET", path, body, sub, &rep);
	free(path);
	json_decref(body);
	if (r)
		return r;
	if (!c->json) {
		if (strcmp(sub, "show") == 0)
			cli_print_fields(rep.json);
		else
			print_outcome(login, rep.json);
	}
	cli_reply_deinit(&rep);
	return 0;
}

/* mamori held list [LOGIN] */
static int cmd_held_list(struct cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {"QUEUE_ID", "LOGIN", "SINCE"};
	static const char *const qid_keys[] = {"queue_id", "id", NULL};
	static const char *const login_keys[] = {"login", "account", NULL};
	static const char *const since_keys[] = {"since", "time", "held_at",
						 NULL};
	struct cli_table t = {.ncols = 3};
	struct cli_reply rep;
	char *path, cell[3][256];
	json_t *a, *row;
	size_t idx;
	int r;

	if (argc > 1)
		cli_usage_error("held list: unexpected \"%s\"", argv[1]);
	if (argc == 1 && argv[0][0] == '-')
		cli_usage_error("held list: unknown option %s", argv[0]);
	if (argc == 1) {
		char *e = cli_escape(c, argv[0]);

		path = xasprintf("/v1/held?account=%s", e);
		free(e);
	} else {
		path = xstrdup("/v1/held");
	}
	r = cli_call(c, "GET", path, NULL, "held list", &rep);
	free(path);
	if (r || c->json) {
		if (!r)
			cli_reply_deinit(&rep);
		return r;
	}
	a = cli_reply_rows(rep.json, "held");
	cli_table_add(&t, hdr);
	json_array_foreach(a, idx, row) {
		const char *cells[3];

		cells[0] = cli_json_text(cli_json_get_any(row, qid_keys),
					 cell[0], sizeof(cell[0]));
		cells[1] = cli_json_text(cli_json_get_any(row, login_keys),
					 cell[1], sizeof(cell[1]));
		cells[2] = cli_json_time(cli_json_get_any(row, since_keys),
					 cell[2], sizeof(cell[2]));
		cli_table_add(&t, cells);
	}
	cli_table_print(&t);
	cli_reply_deinit(&rep);
	return 0;
}

/* mamori held list|release|delete ... */
static int cmd_held(struct cli *c, int argc, char **argv)
{
	const char *action;
	int i, worst = 0;

	if (argc < 1)
		cli_usage_error("held: list, release or delete?");
	if (strcmp(argv[0], "list") == 0)
		return cmd_held_list(c, argc - 1, argv + 1);
	action = argv[0];
	if (strcmp(action, "release") && strcmp(action, "delete"))
		cli_usage_error("held: unknown command \"%s\"", action);
	if (argc < 2)
		cli_usage_error("held %s: QUEUEID is required", action);
	for (i = 1; i < argc; i++)
		if (argv[i][0] == '-' || !argv[i][0])
			cli_usage_error("held %s: bad queue ID \"%s\"",
					action, argv[i]);
	for (i = 1; i < argc; i++) {
		struct cli_reply rep;
		char *e = cli_escape(c, argv[i]), *verb, tmp[256];
		char *path = xasprintf("/v1/held/%s/%s", e, action);
		json_t *body = json_object();
		int r;

		verb = xasprintf("%s %s", action, argv[i]);
		r = cli_call(c, "POST", path, body, verb, &rep);
		free(verb);
		free(path);
		free(e);
		json_decref(body);
		if (r == CLI_EXIT_UNREACHABLE)
			return r;
		if (r) {
			worst = r;
			continue;
		}
		if (!c->json)
			printf("%s: %s\n", cli_show(argv[i], tmp, sizeof(tmp)),
			       strcmp(action, "release") == 0 ? "released" :
			       "deleted");
		cli_reply_deinit(&rep);
	}
	return worst;
}

/* Print j flattened: "a.b.c value" per scalar, arrays indexed from 0. */
static void print_flat(const char *prefix, const json_t *j)
{
	char tmp[256];

	if (json_is_object(j)) {
		const char *key;
		json_t *v;

		json_object_foreach((json_t *)j, key, v) {
			char *p = *prefix ? xasprintf("%s.%s", prefix, key) :
				  xstrdup(key);

			print_flat(p, v);
			free(p);
		}
	} else if (json_is_array(j)) {
		size_t i;
		json_t *v;

		json_array_foreach(j, i, v) {
			char *p = xasprintf("%s%s%zu", prefix, *prefix ? "." : "",
					    i);

			print_flat(p, v);
			free(p);
		}
	} else {
		cli_write_shown(stdout, prefix, strlen(prefix));
		printf(" %s\n", cli_json_text(j, tmp, sizeof(tmp)));
	}
}

/* mamori stats */
static int cmd_stats(struct cli *c, int argc, char **argv)
{
	struct cli_reply rep;
	int r;

	if (argc > 0)
		cli_usage_error("stats: unexpected \"%s\"", argv[0]);
	r = cli_call(c, "GET", "/v1/stats", NULL, "stats", &rep);
	if (r)
		return r;
	if (!c->json)
		print_flat("", rep.json);
	cli_reply_deinit(&rep);
	return 0;
}

/* The configuration file to read: -c, else the default if it exists. */
static const char *config_path(const struct cli *c)
{
	if (c->config)
		return c->config;
	return access(CLI_DEFAULT_CONFIG, F_OK) == 0 ? CLI_DEFAULT_CONFIG :
	       NULL;
}

const char *cli_config_path(const struct cli *c)
{
	return config_path(c);
}

/* mamori config -d | -n [-c FILE] | -t [-c FILE] (local, no daemon) */
static int cmd_config(struct cli *c, int argc, char **argv)
{
	struct config *cfg;
	const char *path;
	char err[512];
	int i, mode = 0;
	bool secrets = false;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--show-secrets")) {
			secrets = true;
		} else if (!strcmp(argv[i], "-d") || !strcmp(argv[i], "-n") ||
		    !strcmp(argv[i], "-t") || !strcmp(argv[i], "--man")) {
			int m = argv[i][1] == '-' ? 'm' : argv[i][1];

			if (mode && mode != m)
				cli_usage_error("config: -d, -n, -t and --man "
						"exclude each other");
			mode = m;
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			c->config = argv[++i];
		} else {
			cli_usage_error("config: unexpected \"%s\"", argv[i]);
		}
	}
	if (!mode)
		cli_usage_error("config: -d, -n, -t or --man?");
	if (secrets && mode != 'n')
		cli_usage_error("config: --show-secrets goes with -n");
	if (mode == 'm')
		return cli_config_man(stdout);
	if (mode == 'd') {
		config_print_defaults(stdout);
		return 0;
	}
	path = config_path(c);
	if (mode == 't' && !path)
		cli_usage_error("config -t: no file to check (use -c FILE)");
	cfg = config_load(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "mamori: %s\n", err);
		return CLI_EXIT_FAILED;
	}
	if (mode == 'n')
		config_print_nondefaults(cfg, stdout, secrets);
	else
		printf("%s: OK\n", path);
	config_free(cfg);
	return 0;
}

/*
 * Without -s or -u, take the API address from the configuration: the unix
 * socket of api_listen, else the TCP api_tcp_listen with its api_token.
 * No configuration file at all means the default socket.
 */
static int cli_locate(struct cli *c)
{
	const char *path;
	struct config *cfg;
	char err[512];

	if (c->socket || c->url)
		return 0;
	if (!(path = config_path(c))) {
		c->socket = xstrdup(CLI_DEFAULT_SOCKET);
		return 0;
	}
	if (!(cfg = config_load(path, err, sizeof(err)))) {
		fprintf(stderr, "mamori: %s\n(use -s SOCKET to bypass it)\n", err);
		return CLI_EXIT_USAGE;
	}
	if (strncmp(cfg->api_listen, "unix:", 5) == 0 && cfg->api_listen[5]) {
		c->socket = xstrdup(cfg->api_listen + 5);
	} else if (cfg->api_tcp_listen[0]) {
		struct listen_addr a;

		/* inet:HOST:PORT, inet:[V6]:PORT or the bare forms. */
		if (listen_parse("api_tcp_listen", cfg->api_tcp_listen,
				 LISTEN_NO_UNIX | LISTEN_BARE, &a, err,
				 sizeof(err)) != 0) {
			fprintf(stderr, "mamori: %s\n", err);
			config_free(cfg);
			return CLI_EXIT_USAGE;
		}
		c->url = xasprintf(strchr(a.host, ':') ? "http://[%s]:%u" :
				   "http://%s:%u", a.host, a.port);
		if (!c->token && cfg->api_token[0])
			c->token = xstrdup(cfg->api_token);
	} else {
		c->socket = xstrdup(CLI_DEFAULT_SOCKET);
	}
	config_free(cfg);
	return 0;
}

int cli_connect(struct cli *c)
{
	const char *env;
	int r;

	if (!c->token && (env = getenv("MAMORI_API_TOKEN")) && *env)
		c->token = xstrdup(env);
	if (c->url) {
		size_t n = strlen(c->url);

		while (n > 0 && c->url[n - 1] == '/')
			c->url[--n] = '\0';
	}
	if ((r = cli_locate(c)) != 0)
		return r;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    !(c->curl = curl_easy_init())) {
		fprintf(stderr, "mamori: cannot initialise libcurl\n");
		return CLI_EXIT_FAILED;
	}
	return 0;
}

void cli_disconnect(struct cli *c)
{
	if (c->curl) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
		c->curl = NULL;
	}
	free(c->socket);
	free(c->url);
	free(c->token);
	c->socket = c->url = c->token = NULL;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	const char *cmd;
	int i, r;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("mamori %s\n", MAMORI_VERSION);
			return 0;
		} else if (!strcmp(a, "--json")) {
			c.json = true;
		} else if ((!strcmp(a, "-s") || !strcmp(a, "-c") ||
			    !strcmp(a, "-u") || !strcmp(a, "-T"))) {
			if (i + 1 >= argc)
				cli_usage_error("%s needs a value", a);
			i++;
			if (a[1] == 's') {
				free(c.socket);
				c.socket = xstrdup(argv[i]);
			} else if (a[1] == 'c') {
				c.config = argv[i];
			} else if (a[1] == 'u') {
				free(c.url);
				c.url = xstrdup(argv[i]);
			} else {
				free(c.token);
				c.token = xstrdup(argv[i]);
			}
		} else {
			cli_usage_error("unknown option %s", a);
		}
	}
	if (i >= argc)
		cli_usage_error("a command is required");
	if (c.socket && c.url)
		cli_usage_error("-s and -u exclude each other");
	cmd = argv[i++];
	/* Accept --json after the command too ("mamori accounts --json"). */
	{
		int k, o = i;

		for (k = i; k < argc; k++) {
			if (!strcmp(argv[k], "--json"))
				c.json = true;
			else
				argv[o++] = argv[k];
		}
		argc = o;
	}
	/* "mamori COMMAND ... --help": that command's part of the usage. */
	for (r = i; r < argc; r++)
		if (!strcmp(argv[r], "-h") || !strcmp(argv[r], "--help")) {
			if (cli_help_command(usage_text, cmd, stdout) == 0)
				return 0;
			cli_usage_error("unknown command \"%s\"", cmd);
		}
	if (!strcmp(cmd, "config"))
		return cmd_config(&c, argc - i, argv + i);
	if (!strcmp(cmd, "dkim")) {	/* local too: mamori_dkim.c */
		c.config = config_path(&c);
		return cli_cmd_dkim(&c, argc - i, argv + i);
	}
	if (!strcmp(cmd, "scan")) {	/* local too: mamori_scan.c */
		c.config = config_path(&c);
		return cli_cmd_scan(&c, argc - i, argv + i);
	}
	if (!strcmp(cmd, "learn") || !strcmp(cmd, "replay")) {	/* local */
		c.config = config_path(&c);
		return (cmd[0] == 'l' ? cli_cmd_learn : cli_cmd_replay)(&c,
			argc - i + 1, argv + i - 1);
	}
	if (!strcmp(cmd, "domain")) {	/* local too: mamori_domain.c */
		c.config = config_path(&c);
		return cli_cmd_domain(&c, argc - i, argv + i);
	}
	if (strcmp(cmd, "accounts") && strcmp(cmd, "account") &&
	    strcmp(cmd, "held") && strcmp(cmd, "stats") &&
	    strcmp(cmd, "ips") && strcmp(cmd, "incidents") &&
	    strcmp(cmd, "dmarc"))
		cli_usage_error("unknown command \"%s\"", cmd);

	if ((r = cli_connect(&c)) != 0)
		return r;
	if (!strcmp(cmd, "accounts"))
		r = cmd_accounts(&c, argc - i, argv + i);
	else if (!strcmp(cmd, "account"))
		r = cmd_account(&c, argc - i, argv + i);
	else if (!strcmp(cmd, "held"))
		r = cmd_held(&c, argc - i, argv + i);
	else if (!strcmp(cmd, "ips"))
		r = cli_cmd_ips(&c, argc - i, argv + i);
	else if (!strcmp(cmd, "incidents"))
		r = cli_cmd_incidents(&c, argc - i, argv + i);
	else if (!strcmp(cmd, "dmarc"))
		r = cli_cmd_dmarc(&c, argc - i, argv + i);
	else
		r = cmd_stats(&c, argc - i, argv + i);
	cli_disconnect(&c);
	return r;
}
