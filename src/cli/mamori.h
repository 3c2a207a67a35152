/*
 * mamori - what the CLI's files share: mamori.c (option parsing, requests,
 * printing, the account, held-mail, stats and config commands) and
 * mamori_login.c (the login-abuse commands, ips and incidents).
 *
 * Everything runs on the main thread; a reply lives until
 * cli_reply_deinit().  Exit codes are the CLI_EXIT_* values below, the same
 * for every command (docs/man/mamori.1.md).
 */
#ifndef MAMORI_CLI_H
#define MAMORI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util/buf.h"

/* The build's defaults (meson: confdir, version), else these. */
#if __has_include("mamori-build.h")
#include "mamori-build.h"
#endif
#ifndef MAMORI_SYSCONFDIR
#define MAMORI_SYSCONFDIR "/etc/mamori"
#endif
#ifndef MAMORI_VERSION
#define MAMORI_VERSION "unknown"
#endif

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,		/* HTTP 4xx/5xx or a bad reply */
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_UNREACHABLE = 3,
};

/* Where and how to reach mamorid, and how to print. */
struct cli {
	char *socket;			/* unix socket path, or NULL */
	char *url;			/* base URL for TCP, or NULL */
	char *token;			/* bearer token, or NULL */
	const char *config;		/* -c FILE, or NULL */
	bool json;			/* --json: print the raw reply */
	CURL *curl;
};

/* One API reply. */
struct cli_reply {
	long status;
	struct buf body;
	json_t *json;			/* the parsed body, or NULL */
};

#define CLI_TABLE_MAX_COLS 12

/* A text table printed with columns as wide as their widest cell. */
struct cli_table {
	int ncols, nrows;
	char **cells;			/* nrows * ncols, row-major */
	size_t width[CLI_TABLE_MAX_COLS];
};

/* Print "mamori: " and the message, a hint at -h, and exit 2. */
__attribute__((format(printf, 1, 2), noreturn))
void cli_usage_error(const char *fmt, ...);

/*
 * Match option name at argv[*i] as "--name VALUE" or "--name=VALUE".
 * Returns the value (advancing *i past it) or NULL when argv[*i] is another
 * option; a missing value is a usage error.
 */
const char *cli_opt_value(int argc, char **argv, int *i, const char *name);

/*
 * Send method path (percent-encoded, from "/v1/...") with body (a JSON
 * object, borrowed, or NULL) and fill rep.  Returns 0 when a reply arrived,
 * whatever its status and content type, else an exit code after printing
 * why.  The caller deinits rep after a 0.
 */
int cli_request(struct cli *c, const char *method, const char *path,
		json_t *body, struct cli_reply *rep);

/*
 * Judge a JSON reply: print it raw with --json; a 2xx that is not JSON, or
 * any other status, is printed as "mamori: VERB refused|failed: ERROR".
 * Returns the exit code.
 */
int cli_reply_check(const struct cli *c, const struct cli_reply *rep,
		    const char *verb);

/* cli_request() and cli_reply_check(): returns the exit code, and on 0
 * leaves the good reply in rep for the caller to deinit. */
int cli_call(struct cli *c, const char *method, const char *path,
	     json_t *body, const char *verb, struct cli_reply *rep);

/* Release what a reply holds. */
void cli_reply_deinit(struct cli_reply *r);

/* Percent-encode s for a path segment or query value; free() the result. */
char *cli_escape(struct cli *c, const char *s);

/*
 * What the CLI prints comes from mamorid, and much of it from attackers
 * (logins, senders, messages).  Every table, CSV and field goes through
 * utf8_escape(UTF8_ESC_SHOW): control bytes (ESC, CR, LF, BEL, DEL, C1) and
 * invalid UTF-8 print as \xNN, valid UTF-8 as it is.  Backslashes stay as
 * they are, so an account key (already escaped reversibly by the core)
 * prints unchanged and can be pasted back; the escaping is idempotent.
 */
/* s escaped for a terminal into out (truncated to outsz).  Returns out. */
const char *cli_show(const char *s, char *out, size_t outsz);
/* Write the n bytes at p (NUL-terminated after them) to f, escaped. */
void cli_write_shown(FILE *f, const char *p, size_t n);
/* Write an RFC 4180 body to f: record ends (CRLF or LF outside quotes)
 * kept, every other control byte escaped, so quoting stays correct. */
void cli_write_csv(FILE *f, const char *p, size_t n);

/* A JSON scalar as text into out; "-" for null or absent; strings
 * escaped as cli_show() does.  Returns out. */
const char *cli_json_text(const json_t *v, char *out, size_t outsz);

/* A unix time as ISO 8601 UTC into out; "-" for 0, null or absent; text
 * as is.  Returns out. */
const char *cli_json_time(const json_t *v, char *out, size_t outsz);

/* The first member of o among the NULL-terminated names, or NULL. */
json_t *cli_json_get_any(const json_t *o, const char *const *names);

/* Add one row of t->ncols cells (copied). */
void cli_table_add(struct cli_table *t, const char *const *row);

/* Print the table and free its cells; t can be filled again. */
void cli_table_print(struct cli_table *t);

/* The array of rows in a list reply: under key, or the reply itself;
 * NULL if neither is an array. */
json_t *cli_reply_rows(json_t *j, const char *key);

/* Print every top-level member of o as "key: value"; times as ISO 8601,
 * nested values as indented JSON. */
void cli_print_fields(const json_t *o);

/* mamori ips [list] | block IP --reason TEXT [--for DURATION] | unblock IP */
int cli_cmd_ips(struct cli *c, int argc, char **argv);

/* mamori incidents [list] | show ID | export ID [--format csv|json] */
int cli_cmd_incidents(struct cli *c, int argc, char **argv);
/* mamori dmarc [--day D | --from D --to D] [--domain D] (mamori_dmarc.c) */
int cli_cmd_dmarc(struct cli *c, int argc, char **argv);
/* "dmarc ingest" and "dmarc sources" (mamori_dmarc_rep.c, local store). */
int cli_cmd_dmarc_ingest(struct cli *c, int argc, char **argv);
int cli_cmd_dmarc_sources(struct cli *c, int argc, char **argv);
int cli_cmd_dmarc_report(struct cli *c, int argc, char **argv);
/* The configuration file to read: -c, else the default if it exists. */
const char *cli_config_path(const struct cli *c);
/* mamori dkim keygen ...: local, no daemon (mamori_dkim.c). */
int cli_cmd_dkim(struct cli *c, int argc, char **argv);
/* mamori_scan.c: the inbound verdict for a message file (local). */
int cli_cmd_scan(struct cli *c, int argc, char **argv);
/* mamori_learn.c: habits from Postfix/Dovecot logs into the store, and
 * what the core would have done on a log (local, no daemon). */
int cli_cmd_learn(struct cli *c, int argc, char **argv);
int cli_cmd_replay(struct cli *c, int argc, char **argv);
/* mamori_domain.c: mamori domain check DOMAIN (local). */
int cli_cmd_domain(struct cli *c, int argc, char **argv);
/* Find mamorid's API (-s, -u, else the configuration) and set up c->curl;
 * 0 or an exit code after printing why.  mamori.c's main does it for the
 * API commands; a local command that also asks mamorid calls it. */
int cli_connect(struct cli *c);
/* Undo cli_connect() (and -s, -u, -T): curl, socket, URL, token. */
void cli_disconnect(struct cli *c);
/* mamori_doc.c: "config --man" writes mamori.conf(5) (roff) to out;
 * returns an exit code. */
int cli_config_man(FILE *out);
/* "COMMAND --help": print cmd's entries of the usage text (its
 * "Commands:" section); CLI_EXIT_USAGE when it has none. */
int cli_help_command(const char *usage, const char *cmd, FILE *out);

#endif
