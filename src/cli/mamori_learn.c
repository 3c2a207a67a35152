/*
 * mamori learn, mamori replay - the decision core over logs a provider
 * already has (feature O7; docs/design/learn.md).
 *
 *   mamori learn [--config FILE] [--store TYPE:SPEC] [--since DAYS]
 *                [--shared-min N] FILE...
 *   mamori replay [--config FILE] [--from TIME] [--to TIME] FILE...
 *
 * (--config FILE is -c FILE given after the command.)
 *
 * Both read Postfix mail logs and Dovecot logs (plain or gzip, rotated
 * files in any order: they are read oldest first by mtime, "-" is stdin),
 * parse them with proto/maillog.h, join each queue ID's lines into a
 * message and drive the core's public entry point with it, in simulated
 * time (req.now = the log's time, kept from going backwards): for every
 * authenticated message one RCPT request per recipient seen (at most
 * MAILLOG_RCPTS_KEEP) and an END-OF-MESSAGE with Postfix's nrcpt.  So
 * whatever the detectors learn from live traffic they learn from history,
 * exactly as they would have.
 *
 * learn opens the daemon's store (store in the config, or --store), sets
 * the core learning (core_set_learning: no transition, no notice) and, at
 * the end, writes the counter snapshot (core_snapshot_flush) that mamorid
 * loads at start: habitual networks, the habitual hourly peak, first seen.
 * Run it with mamorid stopped (a running mamorid would overwrite an
 * account's record with its own counters at its next snapshot and never
 * read the learnt one); start mamorid within 90 days (the snapshot
 * records expire 90 days after they were written; the windows in them
 * read empty by then anyway).  From Dovecot's successful
 * logins it lists the addresses many accounts log in from (office and
 * carrier NATs) as a suggested auth_allowlist.
 *
 * replay runs the same on a private memory store with every class in
 * observe mode and reports, per account, when the core would have
 * throttled or restricted it, after how many messages, and why (the
 * verdict's reasons, as the daemon logs them); Dovecot's logins go through
 * core_login() with a login engine of its own (an allow before the password
 * check, one after a correct one, the report, as Dovecot's auth policy
 * asks; logs hold no password hash, so every failed attempt counts as a
 * new password), and it reports per address the failures, the accounts
 * tried and entered, and how often and first why the engine would have
 * delayed or rejected.  Logins and messages are read from separate clocks,
 * each kept from going backwards, so a Dovecot log given after the mail
 * log still runs in its own time.  Attacker bytes are escaped on output
 * (cli_show).  The store, login engine and core come from
 * core_offline_new() (src/core/offline.c).
 *
 * Exit status 0 when the logs were read, 1 when a file or the store could
 * not be opened, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/mamori.h"
#include "core/core.h"
#include "core/login_gate.h"
#include "proto/maillog.h"
#include "util/config.h"
#include "util/linefile.h"
#include "util/log.h"
#include "util/xalloc.h"

#define LR_JOIN_MAX 200000	/* open queue IDs: an hour of a busy relay */
#define LR_ADDR_LOGINS 1000	/* distinct logins counted per address */
#define LR_SHARED_MIN 10	/* default --shared-min */
#define LR_ADDRS_MAX 200000	/* login client addresses tracked (~300 MB
				 * at most); later new ones are counted only */

/* One input file and its reference time (mtime). */
struct lr_file {
	const char *path;
	int64_t mtime;
};

/* The run: options, the core and what it saw. */
struct lr {
	bool replay;
	struct core *core;
	struct maillog_join *join;
	int64_t since, from, to;	/* 0: no bound */
	int64_t now;			/* simulated clock, never backwards */
	int64_t lnow;			/* the same for logins (another file) */
	unsigned long sessions;		/* replay: login session ids */
	int64_t first, last;		/* log times driven */
	unsigned long lines, malformed, ignored, messages, logins_ok,
		      logins_failed, read_errors, addrs_untracked;
	json_t *accounts;		/* replay: login -> per-account object */
	unsigned long naccounts;	/* learn: accounts in the core */
	json_t *addrs;			/* address -> {ok:{login:1}, fail:N} */
	json_t *spare;			/* stands in past LR_ADDRS_MAX */
	/* The request in flight. */
	const char *state;
	char reason[768];
	bool refused;
};

/* Verdict callback: keep the state, reason and whether it would act. */
static void on_verdict(void *arg, const struct verdict *v)
{
	struct lr *r = arg;

	r->state = v->state;
	snprintf(r->reason, sizeof(r->reason), "%s", v->reason);
	if (v->observed || v->action != VERDICT_DUNNO)
		r->refused = true;
}

/* The per-account object of login, created on first use. */
static json_t *account_of(struct lr *r, const char *login)
{
	json_t *a = json_object_get(r->accounts, login);

	if (!a) {
		a = json_pack("{s:s, s:i, s:i, s:s, s:[], s:[]}", "account",
			      login, "messages", 0, "would_refuse", 0,
			      "state", "normal", "events", "clients");
		json_object_set_new(r->accounts, login, a);
	}
	return a;
}

/* Add n to the integer member key of o. */
static void json_add(json_t *o, const char *key, json_int_t n)
{
	json_object_set_new(o, key, json_integer(
		json_integer_value(json_object_get(o, key)) + n));
}

/* After a request: a state change becomes an event of the account. */
static void note_state(struct lr *r, json_t *a, const struct maillog_msg *m)
{
	const char *was = json_string_value(json_object_get(a, "state"));

	if (!r->state || !strcmp(r->state, "-") || !strcmp(was, r->state))
		return;
	json_array_append_new(json_object_get(a, "events"),
		json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}",
			  "time", (json_int_t)r->now,
			  "message", json_integer_value(
				json_object_get(a, "messages")),
			  "state", r->state, "queue_id", m->queue_id,
			  "client", m->addr, "reason", r->reason));
	json_object_set_new(a, "state", json_string(r->state));
}

/* Remember up to 4 distinct client addresses of an account. */
static void note_client(json_t *a, const char *addr)
{
	json_t *c = json_object_get(a, "clients"), *v;
	size_t i;

	json_array_foreach(c, i, v)
		if (!strcmp(json_string_value(v), addr))
			return;
	if (json_array_size(c) < 4)
		json_array_append_new(c, json_string(addr));
}

/* One joined message through the core: RCPT per recipient, then EOM. */
static void on_msg(void *arg, const struct maillog_msg *m)
{
	struct lr *r = arg;
	char instance[MAILLOG_QID_MAX + 24];
	struct outbound_request q = {0};
	json_t *a;
	size_t i;

	if ((r->since && m->time < r->since) || (r->from && m->time < r->from) ||
	    (r->to && m->time > r->to))
		return;
	if (m->time > r->now)
		r->now = m->time;
	if (!r->first)
		r->first = r->now;
	r->last = r->now;
	r->messages++;
	snprintf(instance, sizeof(instance), "%s.%lld", m->queue_id,
		 (long long)m->time);
	q.login = m->login;
	q.sender = m->sender;
	q.client_address = m->addr;
	q.queue_id = m->queue_id;
	q.instance = instance;
	q.size = m->size;
	q.now = r->now;
	/* learn keeps nothing per account here: the core has it all. */
	a = r->replay ? account_of(r, m->login) : NULL;
	if (a) {
		json_add(a, "messages", 1);
		note_client(a, m->addr);
	}
	r->refused = false;
	for (i = 0; i < m->nrcpts; i++) {
		q.stage = OUT_RCPT;
		q.recipient = m->rcpts[i];
		r->state = NULL;
		core_outbound(r->core, &q, on_verdict, r);
		if (a)
			note_state(r, a, m);
	}
	q.stage = OUT_END_OF_MESSAGE;
	q.recipient = m->nrcpts == 1 ? m->rcpts[0] : "";
	q.recipient_count = m->nrcpt > 0 ? m->nrcpt :
			    m->nrcpts ? (long)m->nrcpts : 1;
	r->state = NULL;
	core_outbound(r->core, &q, on_verdict, r);
	if (a) {
		note_state(r, a, m);
		if (r->refused)
			json_add(a, "would_refuse", 1);
	}
}

/* A login address's record: logins in, failures, logins tried, verdicts. */
static json_t *addr_new(void)
{
	return json_pack("{s:{}, s:i, s:{}, s:i, s:i}", "ok", "failed", 0,
			 "tried", "delayed", 0, "rejected", 0);
}

/* Login verdict callback: count delays and rejects per address. */
static void on_login_verdict(void *arg, const struct core_login_verdict *v)
{
	json_t *o = arg;

	if (v->action == CORE_LOGIN_ACCEPT)
		return;
	json_add(o, v->action == CORE_LOGIN_DELAY ? "delayed" : "rejected", 1);
	if (!json_object_get(o, "first_action"))
		json_object_set_new(o, "first_action", json_pack(
			"{s:I, s:s, s:s}", "time",
			json_integer_value(json_object_get(o, "_now")),
			"action", core_login_action_name(v->action),
			"reason", v->reason));
	if (v->compromised)
		json_object_set_new(o, "compromised", json_true());
}

/*
 * Replay: the login through core_login() as Dovecot's auth policy would
 * have asked: an allow before the password check, a second allow after a
 * correct one, the report.  Logs hold no password hash, so each failed
 * attempt counts as a new password (the cautious side for the attacker).
 */
static void replay_login(struct lr *r, const struct maillog_event *ev,
			 json_t *o)
{
	struct core_login_request q = {0};
	char sid[32];
	unsigned i, n = ev->kind == MAILLOG_LOGIN_OK ? 1 :
		   ev->attempts > 100 ? 100 : ev->attempts;

	if (ev->time > r->lnow)
		r->lnow = ev->time;
	json_object_set_new(o, "_now", json_integer(r->lnow));
	q.login = ev->login;
	q.remote = ev->addr;
	q.protocol = "imap";
	q.pwhash = "";
	q.mech = ev->method;
	q.pwversion = "";
	q.session_id = sid;
	q.now = r->lnow;
	for (i = 0; i < n; i++) {
		snprintf(sid, sizeof(sid), "replay-%lu", ++r->sessions);
		q.command = CORE_LOGIN_ALLOW;
		q.success = false;
		core_login(r->core, &q, on_login_verdict, o);
		if (ev->kind == MAILLOG_LOGIN_OK)
			core_login(r->core, &q, on_login_verdict, o);
		q.command = CORE_LOGIN_REPORT;
		q.success = ev->kind == MAILLOG_LOGIN_OK;
		core_login(r->core, &q, on_login_verdict, o);
	}
	json_object_del(o, "_now");
}

/* A Dovecot (or smtpd SASL) login event: count it per address. */
static void on_login(struct lr *r, const struct maillog_event *ev)
{
	json_t *o = json_object_get(r->addrs, ev->addr), *ok;

	if ((r->since && ev->time < r->since) ||
	    (r->from && ev->time < r->from) || (r->to && ev->time > r->to))
		return;
	if (!o && json_object_size(r->addrs) >= LR_ADDRS_MAX) {
		r->addrs_untracked++;
		o = r->spare;		/* the engine still sees the login */
		json_object_clear(json_object_get(o, "ok"));
		json_object_clear(json_object_get(o, "tried"));
	}
	if (!o) {
		o = addr_new();
		json_object_set_new(r->addrs, ev->addr, o);
	}
	if (ev->kind == MAILLOG_LOGIN_OK) {
		r->logins_ok++;
		ok = json_object_get(o, "ok");
		if (json_object_size(ok) < LR_ADDR_LOGINS)
			json_object_set_new(ok, ev->login, json_true());
	} else {
		r->logins_failed += ev->attempts;
		json_add(o, "failed", ev->attempts);
		ok = json_object_get(o, "tried");
		if (ev->login[0] && json_object_size(ok) < LR_ADDR_LOGINS)
			json_object_set_new(ok, ev->login, json_true());
	}
	if (r->replay)
		replay_login(r, ev, o);
}

/* Feed one line. */
static void feed_line(struct lr *r, const char *line, size_t n, int64_t ref)
{
	struct maillog_event ev;
	int res = maillog_parse(line, n, ref, &ev);

	r->lines++;
	if (res == MAILLOG_E_MALFORMED) {
		r->malformed++;
		return;
	}
	if (res != MAILLOG_OK) {
		r->ignored++;
		return;
	}
	if (ev.kind == MAILLOG_LOGIN_OK || ev.kind == MAILLOG_LOGIN_FAIL)
		on_login(r, &ev);
	else
		maillog_join_feed(r->join, &ev, on_msg, r);
}

/* Read one file (gzip or plain) line by line; 0, or -1 with errno. */
static int read_file(struct lr *r, const struct lr_file *f)
{
	struct linefile *lf = linefile_open(f->path, MAILLOG_LINE_MAX);
	const char *line;
	size_t n;
	int res;

	if (!lf)
		return -1;
	while ((res = linefile_next(lf, &line, &n)) > 0) {
		if (res == LINEFILE_TOO_LONG) {
			r->lines++;
			r->malformed++;
			continue;
		}
		feed_line(r, line, n, f->mtime);
	}
	linefile_close(lf);
	/* A cut .gz (rotation under way): what was read counts. */
	if (res < 0) {
		fprintf(stderr, "mamori: %s: %s; the lines before are used\n",
			f->path, strerror(-res));
		r->read_errors++;
	}
	return 0;
}

/* qsort: oldest file first. */
static int by_mtime(const void *a, const void *b)
{
	const struct lr_file *x = a, *y = b;

	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

/* What a run holds besides the core; lr_deinit frees it. */
static void lr_init(struct lr *r)
{
	r->join = maillog_join_new(LR_JOIN_MAX);
	r->accounts = json_object();
	r->addrs = json_object();
	r->spare = addr_new();
}

/* Free what lr_init made. */
static void lr_deinit(struct lr *r)
{
	maillog_join_free(r->join);
	json_decref(r->accounts);
	json_decref(r->addrs);
	json_decref(r->spare);
}

/* Read every file, oldest first, and flush the join; 0 or exit code.
 * Sets up what the run holds (lr_init) first. */
static int read_all(struct lr *r, char **paths, int n)
{
	struct lr_file *f = xcalloc((size_t)n, sizeof(*f));
	struct stat st;
	int i;

	lr_init(r);
	for (i = 0; i < n; i++) {
		f[i].path = paths[i];
		f[i].mtime = strcmp(paths[i], "-") && stat(paths[i], &st) == 0 ?
			     (int64_t)st.st_mtime : (int64_t)time(NULL);
	}
	qsort(f, (size_t)n, sizeof(*f), by_mtime);
	/* Every file opens before any is read: a typo costs nothing. */
	for (i = 0; i < n; i++)
		if (strcmp(f[i].path, "-") && access(f[i].path, R_OK) != 0) {
			fprintf(stderr, "mamori: %s: %s\n", f[i].path,
				strerror(errno));
			free(f);
			return CLI_EXIT_FAILED;
		}
	for (i = 0; i < n; i++)
		if (read_file(r, &f[i]) != 0) {
			fprintf(stderr, "mamori: %s: %s\n", f[i].path,
				strerror(errno));
			free(f);
			return CLI_EXIT_FAILED;
		}
	free(f);
	maillog_join_flush(r->join, on_msg, r);
	return 0;
}

/* A time option: unix seconds, or YYYY-MM-DD[THH:MM[:SS]] in UTC. */
static int64_t parse_time(const char *opt, const char *s)
{
	struct tm tm = {0};
	char *e;
	long long v = strtoll(s, &e, 10);
	int n;

	if (*s && *e == '\0' && v > 0)
		return v;
	n = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
	if (n != 3 && n != 5 && n != 6)
		cli_usage_error("%s: not a time (YYYY-MM-DD[THH:MM[:SS]] UTC "
				"or unix seconds): %s", opt, s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* The core over store spec (and a login engine for replay); NULL after
 * printing why. */
static struct core *open_core(const struct config *cfg, const char *spec,
			      bool login)
{
	char err[256];
	struct core *core = core_offline_new(cfg, spec, login, err,
					     sizeof(err));

	if (!core)
		fprintf(stderr, "mamori: %s\n", err);
	return core;
}

/* The shared addresses: at least min distinct accounts logged in. */
static json_t *shared_addrs(struct lr *r, long min)
{
	json_t *out = json_array(), *o;
	const char *addr;

	json_object_foreach(r->addrs, addr, o) {
		size_t n = json_object_size(json_object_get(o, "ok"));

		if ((long)n >= min)
			json_array_append_new(out, json_pack("{s:s, s:I}",
				"address", addr, "accounts", (json_int_t)n));
	}
	return out;
}

/* The run's counts as a JSON object. */
static json_t *run_summary(const struct lr *r)
{
	char f[32], l[32];
	json_t *t;

	t = json_integer(r->first);
	cli_json_time(t, f, sizeof(f));
	json_decref(t);
	t = json_integer(r->last);
	cli_json_time(t, l, sizeof(l));
	json_decref(t);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, "
			 "s:s}",
		"lines", (json_int_t)r->lines,
		"login_addresses_untracked", (json_int_t)r->addrs_untracked,
		"read_errors", (json_int_t)r->read_errors,
		"malformed", (json_int_t)r->malformed,
		"ignored", (json_int_t)r->ignored,
		"messages", (json_int_t)r->messages,
		"accounts", (json_int_t)(r->replay ?
			json_object_size(r->accounts) : r->naccounts),
		"logins_ok", (json_int_t)r->logins_ok,
		"logins_failed", (json_int_t)r->logins_failed,
		"first", f, "last", l);
}

/* Print the summary object as "key: value" lines (times as ISO 8601). */
static void print_summary(json_t *s)
{
	cli_print_fields(s);
}

/* Print a JSON document and free it. */
static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(j);
}

/* Options both commands share; returns the index of the first file. */
static int parse_opts(struct lr *r, struct cli *c, int argc, char **argv,
		      const char **store, long *shared_min)
{
	const char *v;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if ((v = cli_opt_value(argc, argv, &i, "--config"))) {
			c->config = v;	/* as -c before the command */
		} else if (!r->replay &&
			   (v = cli_opt_value(argc, argv, &i, "--store"))) {
			*store = v;
		} else if (!r->replay &&
			   (v = cli_opt_value(argc, argv, &i, "--since"))) {
			char *e;
			long d = strtol(v, &e, 10);

			if (*e || d <= 0 || d > 3650)
				cli_usage_error("--since: days, 1-3650");
			r->since = (int64_t)time(NULL) - d * 86400L;
		} else if (!r->replay &&
			   (v = cli_opt_value(argc, argv, &i, "--shared-min"))) {
			char *e;

			*shared_min = strtol(v, &e, 10);
			if (*e || *shared_min < 2 || *shared_min > 100000)
				cli_usage_error("--shared-min: 2-100000");
		} else if (r->replay &&
			   (v = cli_opt_value(argc, argv, &i, "--from"))) {
			r->from = parse_time("--from", v);
		} else if (r->replay &&
			   (v = cli_opt_value(argc, argv, &i, "--to"))) {
			r->to = parse_time("--to", v);
		} else {
			cli_usage_error("unknown option %s", argv[i]);
		}
	}
	if (i >= argc)
		cli_usage_error("%s needs log files (\"-\": stdin)",
				r->replay ? "replay" : "learn");
	return i;
}

/* Load the config (-c, default file, or built-in defaults). */
static struct config *load_config(const struct cli *c)
{
	char err[512];
	struct config *cfg = config_load(c->config, err, sizeof(err));

	if (!cfg)
		fprintf(stderr, "mamori: %s\n", err);
	return cfg;
}

int cli_cmd_learn(struct cli *c, int argc, char **argv)
{
	struct lr r = {0};
	struct config *cfg;
	const char *spec = NULL;
	long shared_min = LR_SHARED_MIN;
	json_t *out, *shared;
	int first, rc;

	first = parse_opts(&r, c, argc, argv, &spec, &shared_min);
	if (!(cfg = load_config(c)))
		return CLI_EXIT_FAILED;
	log_setup("mamori", false, LOG_L_WARN);
	if (!(r.core = open_core(cfg, spec ? spec : cfg->store, false))) {
		config_free(cfg);
		return CLI_EXIT_FAILED;
	}
	core_set_learning(r.core, true);
	rc = read_all(&r, argv + first, argc - first);
	{
		struct core_stats_view sv;

		core_stats_get(r.core, &sv);
		r.naccounts = (unsigned long)sv.accounts;
	}
	/* At the wall clock: the records must outlive the log's age. */
	if (rc == 0 && core_snapshot_flush(r.core, 0) != 0) {
		fprintf(stderr, "mamori: learn: writing the counters failed\n");
		rc = CLI_EXIT_FAILED;
	}
	core_offline_free(r.core);
	if (rc == 0) {
		out = run_summary(&r);
		shared = shared_addrs(&r, shared_min);
		if (c->json) {
			json_object_set_new(out, "shared_addresses", shared);
			print_json(out);
		} else {
			json_t *v;
			size_t i;
			char line[64];

			print_summary(out);
			json_decref(out);
			printf("\nshared addresses (>= %ld accounts logged in):"
			       "%s\n", shared_min,
			       json_array_size(shared) ? "" : " none");
			json_array_foreach(shared, i, v)
				printf("  %s  %s accounts\n",
				       cli_show(json_string_value(
					json_object_get(v, "address")), line,
					sizeof(line)),
				       cli_json_text(json_object_get(v,
					"accounts"), line + 48, 16));
			if (json_array_size(shared)) {
				printf("suggested setting: auth_allowlist = ");
				json_array_foreach(shared, i, v)
					printf("%s%s", i ? ", " : "",
					       cli_show(json_string_value(
						json_object_get(v, "address")),
						line, sizeof(line)));
				printf("\n");
			}
			json_decref(shared);
		}
	}
	lr_deinit(&r);
	config_free(cfg);
	return rc;
}

/* The addresses the login engine would have delayed or rejected, and
 * those with five or more failures. */
static void print_logins(json_t *addrs)
{
	struct cli_table l = { .ncols = 7 };
	const char *const lh[] = { "ADDRESS", "FAILED", "TRIED", "OK",
				   "DELAYED", "REJECTED", "FIRST / REASON" };
	char cell[7][800], t[32];
	const char *k, *row[7];
	json_t *o, *fa;
	int x;

	json_object_foreach(addrs, k, o) {
		if (json_integer_value(json_object_get(o, "failed")) < 5 &&
		    !json_integer_value(json_object_get(o, "delayed")) &&
		    !json_integer_value(json_object_get(o, "rejected")))
			continue;
		cli_show(k, cell[0], sizeof(cell[0]));
		cli_json_text(json_object_get(o, "failed"), cell[1],
			      sizeof(cell[1]));
		snprintf(cell[2], sizeof(cell[2]), "%zu",
			 json_object_size(json_object_get(o, "tried")));
		snprintf(cell[3], sizeof(cell[3]), "%zu",
			 json_object_size(json_object_get(o, "ok")));
		cli_json_text(json_object_get(o, "delayed"), cell[4],
			      sizeof(cell[4]));
		cli_json_text(json_object_get(o, "rejected"), cell[5],
			      sizeof(cell[5]));
		fa = json_object_get(o, "first_action");
		snprintf(cell[6], sizeof(cell[6]), "-");
		if (fa) {
			cli_json_time(json_object_get(fa, "time"), t, sizeof(t));
			snprintf(cell[6], sizeof(cell[6]), "%s ", t);
			cli_json_text(json_object_get(fa, "reason"),
				      cell[6] + strlen(cell[6]),
				      sizeof(cell[6]) - strlen(cell[6]));
		}
		for (x = 0; x < 7; x++)
			row[x] = cell[x];
		if (!l.nrows) {
			printf("\nlogin addresses (delayed or rejected, or 5+ "
			       "failures):\n");
			cli_table_add(&l, lh);
		}
		cli_table_add(&l, row);
	}
	cli_table_print(&l);
}

/* The human replay report: accounts with a transition, then logins. */
static void print_replay(json_t *accts, json_t *addrs)
{
	struct cli_table t = { .ncols = 7 };
	const char *const head[] = { "ACCOUNT", "MESSAGES", "WOULD-REFUSE",
				     "TIME", "AT-MESSAGE", "STATE", "REASON" };
	char cell[7][800];
	json_t *a, *e;
	size_t i;

	cli_table_add(&t, head);
	json_array_foreach(accts, i, a) {
		json_t *ev = json_object_get(a, "events");
		size_t j;

		json_array_foreach(ev, j, e) {
			const char *row[7];
			int x;

			cli_json_text(json_object_get(a, "account"), cell[0],
				      sizeof(cell[0]));
			cli_json_text(json_object_get(a, "messages"), cell[1],
				      sizeof(cell[1]));
			cli_json_text(json_object_get(a, "would_refuse"),
				      cell[2], sizeof(cell[2]));
			cli_json_time(json_object_get(e, "time"), cell[3],
				      sizeof(cell[3]));
			cli_json_text(json_object_get(e, "message"), cell[4],
				      sizeof(cell[4]));
			cli_json_text(json_object_get(e, "state"), cell[5],
				      sizeof(cell[5]));
			cli_json_text(json_object_get(e, "reason"), cell[6],
				      sizeof(cell[6]));
			for (x = 0; x < 7; x++)
				row[x] = j && x < 3 ? "" : cell[x];
			cli_table_add(&t, row);
		}
	}
	if (t.nrows > 1)
		cli_table_print(&t);
	else
		printf("no account would have been throttled or restricted\n");
	print_logins(addrs);
}

int cli_cmd_replay(struct cli *c, int argc, char **argv)
{
	struct lr r = { .replay = true };
	struct config *cfg;
	json_t *acct, *list, *out, *addrs;
	const char *k;
	int first, rc, i;

	first = parse_opts(&r, c, argc, argv, NULL, NULL);
	if (!(cfg = load_config(c)))
		return CLI_EXIT_FAILED;
	/* Nothing real is decided: every class observes. */
	for (i = 0; i < cfg->nclasses; i++)
		cfg->classes[i].mode = MODE_OBSERVE;
	/* The report says what the transitions' log lines would. */
	log_setup("mamori", false, LOG_L_ERR);
	if (!(r.core = open_core(cfg, "memory:", true))) {
		config_free(cfg);
		return CLI_EXIT_FAILED;
	}
	rc = read_all(&r, argv + first, argc - first);
	core_offline_free(r.core);
	if (rc == 0) {
		list = json_array();
		json_object_foreach(r.accounts, k, acct) {
			json_object_del(acct, "state");
			if (json_array_size(json_object_get(acct, "events")))
				json_array_append(list, acct);
		}
		addrs = r.addrs;
		out = run_summary(&r);
		if (c->json) {
			json_object_set_new(out, "accounts_acted_on", list);
			json_object_set(out, "login_addresses", addrs);
			print_json(out);
		} else {
			print_summary(out);
			json_decref(out);
			printf("\n");
			print_replay(list, addrs);
			json_decref(list);
		}
	}
	lr_deinit(&r);
	config_free(cfg);
	return rc;
}
