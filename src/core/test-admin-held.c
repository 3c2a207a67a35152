/*
 * test-admin-held - held-mail commands off the event loop (admin_held.c,
 * util/proc.c): the answer comes when the command has ended, the loop
 * serves other events meanwhile, a failed or hung command leaves the
 * message held with the attempt in its record, a hung one is killed after
 * held_command_timeout, and a release of an account runs the command over
 * all its held messages before the state change.
 *
 * The command is a small script (written to a temporary directory) that
 * acts on the queue ID it gets after "-H": HANG... sleeps, FAIL... exits
 * 3, anything else succeeds and is appended to a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "core/admin.h"
#include "core/core.h"
#include "store/store.h"
#include "tap.h"
#include "util/config.h"
#include "util/log.h"

static struct event_base *base;
static char dir[] = "/tmp/mamori-held-XXXXXX";
static char script[128], done_file[128], conf_path[128];

/* An admin result kept after its callback. */
struct got {
	int calls;
	enum core_status status;
	char error[512];
	char first_id[64];
	size_t n;
	bool attempt;
	char attempt_result[16];
	char attempt_action[16];
	int attempt_exit;
	char state[16];
};

static void got_result(void *arg, const struct core_result *r)
{
	struct got *g = arg;

	g->calls++;
	g->status = r->status;
	snprintf(g->error, sizeof(g->error), "%s", r->error);
	if (r->status != CORE_OK)
		return;
	if (r->kind == CORE_R_HELD_DONE && r->held_done.n) {
		g->n = r->held_done.n;
		snprintf(g->first_id, sizeof(g->first_id), "%s",
			 r->held_done.ids[0]);
	}
	if (r->kind == CORE_R_ACCOUNT || r->kind == CORE_R_ACCOUNT_DETAIL)
		snprintf(g->state, sizeof(g->state), "%s", r->account.state);
	if (r->kind == CORE_R_ACCOUNT)
		g->n = r->held_action ? r->held_action->n : 0;
	if (r->kind == CORE_R_HELD) {
		g->n = r->held.n;
		if (r->held.n && r->held.v[0].have_attempt) {
			g->attempt = true;
			snprintf(g->attempt_result, sizeof(g->attempt_result),
				 "%s", r->held.v[0].attempt.result);
			snprintf(g->attempt_action, sizeof(g->attempt_action),
				 "%s", r->held.v[0].attempt.action);
			g->attempt_exit = r->held.v[0].attempt.exit_status;
		}
	}
}

/* Run the loop until g has its answer (bounded: 20 s of 50 ms turns). */
static void wait_for(struct got *g)
{
	struct timeval tv = { 0, 50000 };
	int i;

	for (i = 0; i < 400 && !g->calls; i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* A timer that notes whether it fired before a command's answer. */
struct tick {
	struct got *g;
	bool fired;
	bool before_answer;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tick *t = arg;

	(void)fd;
	(void)what;
	t->fired = true;
	t->before_answer = t->g->calls == 0;
}

/* Write a held record for queue ID qid of login. */
static void put_held(struct store *st, const char *qid, const char *login)
{
	char v[256];

	snprintf(v, sizeof(v),
		 "{\"queue_id\":\"%s\",\"login\":\"%s\",\"time\":%ld}", qid,
		 login, (long)time(NULL));
	store_put(st, "held", qid, v, 0, NULL, NULL);
}

/* The first held record of one queue ID as the list shows it. */
static void held_of(struct core *c, const char *qid, struct got *g)
{
	memset(g, 0, sizeof(*g));
	/* Each test uses a login per queue ID: list by that login. */
	core_held_list(c, qid, got_result, g);
}

/* Did the script see queue ID qid succeed? */
static bool script_did(const char *qid)
{
	char line[128];
	bool found = false;
	FILE *f = fopen(done_file, "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, qid, strlen(qid)) == 0 &&
		    line[strlen(qid)] == '\n')
			found = true;
	if (f)
		fclose(f);
	return found;
}

static void write_files(void)
{
	FILE *f;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(script, sizeof(script), "%s/postsuper", dir);
	snprintf(done_file, sizeof(done_file), "%s/done", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/mamori.conf", dir);
	f = fopen(script, "w");
	fprintf(f, "#!/bin/sh\n"
		"# test stand-in for postsuper: -H ID [-H ID ...]\n"
		"while [ $# -gt 1 ]; do\n"
		"  case \"$2\" in\n"
		"    HANG*) sleep 30; exit 0 ;;\n"
		"    FAIL*) exit 3 ;;\n"
		"  esac\n"
		"  echo \"$2\" >> %s\n"
		"  shift 2\n"
		"done\n", done_file);
	fclose(f);
	chmod(script, 0700);
	f = fopen(conf_path, "w");
	fprintf(f, "local_domains = example.test\nnotify_smtp_url =\n"
		"held_release_command = %s -H\n"
		"held_delete_command = %s -d\n"
		"held_command_timeout = 1\n", script, script);
	fclose(f);
}

/* One held action and what must follow. */
static const struct held_case {
	const char *label;
	const char *qid;
	const char *action;
	enum core_status want;
	const char *error_has;		/* NULL: no error */
	const char *attempt;		/* NULL: record gone */
	int attempt_exit;
} cases[] = {
	{"release ok", "OK1", "release", CORE_OK, NULL, NULL, 0},
	{"delete ok", "OK2", "delete", CORE_OK, NULL, NULL, 0},
	{"release fails", "FAIL1", "release", CORE_E_FAIL,
	 "exited with status 3", "failed", 3},
	{"delete hangs", "HANG1", "delete", CORE_E_FAIL, "killed after 1 s",
	 "timeout", -1},
};

static void test_held_cases(struct core *c, struct store *st)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct held_case *k = &cases[i];
		struct got g = { 0 }, h;
		struct tick t = { .g = &g };
		struct event *ev = evtimer_new(base, on_tick, &t);
		struct timeval tv = { 0, 100000 };

		put_held(st, k->qid, k->qid);
		evtimer_add(ev, &tv);
		core_held_action(c, k->qid, k->action, "test", got_result, &g);
		is_int(g.calls, 0, "%s: no answer before the command ends",
		       k->label);
		wait_for(&g);
		is_int(g.calls, 1, "%s: answered once", k->label);
		is_int(g.status, k->want, "%s: status", k->label);
		if (k->error_has)
			ok(strstr(g.error, k->error_has) != NULL,
			   "%s: error says \"%s\" (%s)", k->label,
			   k->error_has, g.error);
		else
			is_str(g.first_id, k->qid, "%s: the ID done", k->label);
		if (strncmp(k->qid, "HANG", 4) == 0)
			ok(t.fired && t.before_answer,
			   "%s: the loop ran a timer while it hung", k->label);
		held_of(c, k->qid, &h);
		if (!k->attempt) {
			is_int(h.n, 0, "%s: held record removed", k->label);
			ok(script_did(k->qid), "%s: the command got the ID",
			   k->label);
		} else {
			is_int(h.n, 1, "%s: still held", k->label);
			ok(h.attempt, "%s: the attempt is recorded", k->label);
			is_str(h.attempt_result, k->attempt,
			       "%s: attempt result", k->label);
			is_str(h.attempt_action, k->action,
			       "%s: attempt action", k->label);
			is_int(h.attempt_exit, k->attempt_exit,
			       "%s: attempt exit status", k->label);
		}
		event_free(ev);
	}
}

/* A release with held=release: every held message of the account first. */
static void test_release_account(struct core *c, struct store *st)
{
	const char *who = "rin@example.test";
	struct got g = { 0 }, h;
	char qid[16];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(qid, sizeof(qid), "RIN%d", i);
		put_held(st, qid, who);
	}
	core_account_restrict(c, who, "test", "test", got_result, &g);
	is_int(g.status, CORE_OK, "release: restricted first");
	memset(&g, 0, sizeof(g));
	core_account_release(c, who, true, "customer called", "release", "test",
			     got_result, &g);
	wait_for(&g);
	is_int(g.status, CORE_OK, "release: done (%s)", g.error);
	is_str(g.state, "probation", "release: into probation");
	is_int(g.n, 3, "release: three held messages released");
	ok(script_did("RIN0") && script_did("RIN2"),
	   "release: the command got every ID");
	held_of(c, who, &h);
	is_int(h.n, 0, "release: no held record left");

	/* A failed command: the account stays restricted. */
	memset(&g, 0, sizeof(g));
	core_account_restrict(c, "sora@example.test", "test", "test",
			      got_result, &g);
	put_held(st, "FAIL2", "sora@example.test");
	memset(&g, 0, sizeof(g));
	core_account_release(c, "sora@example.test", true, "x", "delete",
			     "test", got_result, &g);
	wait_for(&g);
	is_int(g.status, CORE_E_FAIL, "release, command fails: FAIL");
	ok(strstr(g.error, "account not released") != NULL,
	   "release, command fails: says so (%s)", g.error);
	memset(&g, 0, sizeof(g));
	core_account_show(c, "sora@example.test", got_result, &g);
	is_str(g.state, "restricted", "release, command fails: still restricted");
}

/* Without an event base the commands cannot run: FAIL, nothing blocks. */
static void test_no_base(struct core *c, struct store *st)
{
	struct got g = { 0 };

	core_set_base(c, NULL);
	put_held(st, "NOBASE1", "x@example.test");
	core_held_action(c, "NOBASE1", "release", "test", got_result, &g);
	is_int(g.status, CORE_E_FAIL, "no event base: FAIL at once");
	ok(strstr(g.error, "event loop") != NULL, "no event base: says why");
	core_set_base(c, base);
}

int main(void)
{
	struct config *cfg;
	struct store *st;
	struct core *c;
	char err[512], path[256];

	log_setup("test-admin-held", false, LOG_L_ERR);
	write_files();
	base = event_base_new();
	cfg = config_load(conf_path, err, sizeof(err));
	ok(cfg != NULL, "config loads (%s)", cfg ? "ok" : err);
	if (!cfg || store_open("memory:", base, &st, err, sizeof(err)) != 0)
		return tap_done();
	c = core_new(cfg, st, NULL, err, sizeof(err));
	ok(c != NULL, "core_new (%s)", c ? "ok" : err);
	if (!c)
		return tap_done();
	core_set_base(c, base);
	test_held_cases(c, st);
	test_release_account(c, st);
	test_no_base(c, st);
	core_free(c);
	store_close(st);
	config_free(cfg);
	event_base_free(base);
	unlink(script);
	unlink(done_file);
	unlink(conf_path);
	snprintf(path, sizeof(path), "%s", dir);
	rmdir(path);
	return tap_done();
}
