/*
 * test-store-sqlite - what only a sqlite file can show: data and the WAL
 * journal mode survive close and reopen, a writer holding the lock makes
 * writes retry (STORE_E_RETRY) while reads still answer, a missing
 * directory and a newer schema are refused with a message, and a put that
 * reported STORE_OK survives a kill -9 right after.  Each on a file in a
 * fresh /tmp directory; the semantics every backend shares are in
 * test-store.c, the helpers in test-store-env.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/test-store-env.h"
#include "tap.h"

/* Data and file settings survive close and reopen. */
static void test_sqlite_reopen(const char *spec, const char *path)
{
	struct store *st;
	struct done d;
	struct rows r;
	sqlite3 *db;
	sqlite3_stmt *s;

	if ((st = open_or_fail(spec, "reopen")) == NULL)
		return;
	do_put(st, "keep", "k", "kept", 0);
	do_append(st, "keep", "k", "logged", 42);
	store_close(st);
	if ((st = open_or_fail(spec, "reopen")) == NULL)
		return;
	is_int(do_get(st, "keep", "k", &d), STORE_OK, "sqlite: reopen: get");
	is_str(d.value, "kept", "sqlite: reopen: value");
	is_int(do_log(st, "keep", "k", &r), STORE_OK, "sqlite: reopen: log");
	is_str(r.values, "logged", "sqlite: reopen: log value");
	is_str(r.ts, "42", "sqlite: reopen: log ts");
	store_close(st);

	/* The journal mode is persistent in the file: check it is WAL. */
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL) ==
	    SQLITE_OK) {
		ok(sqlite3_step(s) == SQLITE_ROW &&
		   strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0,
		   "sqlite: file is in WAL mode");
		sqlite3_finalize(s);
	} else {
		ok(0, "sqlite: file is in WAL mode: %s", sqlite3_errmsg(db));
	}
	sqlite3_close(db);
}

/* Another writer holding the lock: writes retry, reads still answer. */
static void test_sqlite_busy(const char *spec, const char *path)
{
	struct store *st;
	struct done d;
	sqlite3 *db;

	if ((st = open_or_fail(spec, "busy")) == NULL)
		return;
	do_put(st, "busy", "k", "v1", 0);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		ok(0, "busy: lock: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		store_close(st);
		return;
	}
	is_int(do_put(st, "busy", "k", "v2", 0), STORE_E_RETRY,
	       "sqlite: busy: put retries");
	is_int(do_append(st, "busy", "k", "x", 1), STORE_E_RETRY,
	       "sqlite: busy: append retries");
	{
		const struct store_kv kv[] = { {"k", "v3", 0}, {"k2", "v", 0} };

		memset(&d, 0, sizeof(d));
		store_put_many(st, "busy", kv, 2, done_cb, &d);
		ok(d.calls == 1 && d.result == STORE_E_RETRY,
		   "sqlite: busy: put_many retries");
	}
	is_int(do_get(st, "busy", "k", &d), STORE_OK,
	       "sqlite: busy: get still answers (WAL)");
	is_str(d.value, "v1", "sqlite: busy: old value");
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	is_int(do_put(st, "busy", "k", "v2", 0), STORE_OK,
	       "sqlite: busy: put after unlock");
	store_close(st);
}

/* Error paths of opening: missing directory, newer schema. */
static void test_sqlite_open_errors(const char *dir, const char *path)
{
	char spec[512], err[512];
	struct store *st;
	sqlite3 *db;
	int rc;

	snprintf(spec, sizeof(spec), "sqlite:%s/no/such/dir/state.db", dir);
	rc = store_open(spec, NULL, &st, err, sizeof(err));
	ok(rc < 0, "sqlite: missing directory fails (%d)", rc);
	ok(st == NULL, "sqlite: missing directory: no store");
	ok(strstr(err, "/no/such/dir/state.db") != NULL &&
	   strstr(err, "cannot open") != NULL &&
	   strstr(err, "directory exist") != NULL,
	   "sqlite: missing directory: message: %s", err);

	snprintf(spec, sizeof(spec), "sqlite:%s", path);
	if (sqlite3_open(path, &db) == SQLITE_OK)
		sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(db);
	rc = store_open(spec, NULL, &st, err, sizeof(err));
	is_int(rc, -EINVAL, "sqlite: newer schema refused");
	ok(strstr(err, "schema version 99") != NULL,
	   "sqlite: newer schema: message: %s", err);
}

/* Child: die by SIGKILL the moment the put reports STORE_OK. */
static void kill_on_ok(void *arg, int result)
{
	(void)arg;
	if (result == STORE_OK)
		raise(SIGKILL);
	_exit(3);
}

/* A put that reported STORE_OK survives kill -9 right after. */
static void test_sqlite_crash(const char *spec)
{
	struct store *st;
	struct done d;
	struct rows r;
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		ok(0, "sqlite: crash: fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		char err[512];

		if (store_open(spec, NULL, &st, err, sizeof(err)) != 0)
			_exit(2);
		store_append(st, "crash", "k", "evidence", 9, NULL, NULL);
		store_put(st, "crash", "k", "durable", 0, kill_on_ok, NULL);
		_exit(4);
	}
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	   "sqlite: crash: child killed by SIGKILL after STORE_OK (status %d)",
	   status);
	if ((st = open_or_fail(spec, "crash")) == NULL)
		return;
	is_int(do_get(st, "crash", "k", &d), STORE_OK,
	       "sqlite: crash: put survived kill -9");
	is_str(d.value, "durable", "sqlite: crash: value");
	is_int(do_log(st, "crash", "k", &r), STORE_OK, "sqlite: crash: log");
	is_str(r.values, "evidence", "sqlite: crash: append survived");
	store_close(st);
}

int main(void)
{
	char dir[] = "/tmp/mamori-test-store-XXXXXX";
	char path[256], spec[300];

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	snprintf(path, sizeof(path), "%s/state.db", dir);
	snprintf(spec, sizeof(spec), "sqlite:%s", path);
	test_sqlite_reopen(spec, path);
	test_sqlite_busy(spec, path);
	test_sqlite_unlink(path);
	test_sqlite_crash(spec);
	test_sqlite_unlink(path);
	test_sqlite_open_errors(dir, path);
	test_sqlite_unlink(path);
	ok(rmdir(dir) == 0, "temp directory removed (%s)", dir);
	return tap_done();
}
