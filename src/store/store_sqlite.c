/*
 * store_sqlite - the "sqlite:/path/state.db" store, the embedded default.
 *
 * One SQLite 3 database file in WAL mode with synchronous=NORMAL: every
 * write is its own autocommit transaction, appended to the WAL before
 * STORE_OK is reported, so it survives kill -9 and any crash of mamorid;
 * only an operating-system crash or power loss can lose the last commits
 * (the WAL is synced at checkpoints).  FULL would fsync at every commit:
 * one restricted account pushing hundreds of held messages a minute would
 * then stall every decision of the single event loop on the disk.  WAL also lets the CLI read while the daemon writes; two
 * writers wait for each other up to SQL_BUSY_MS, then the operation reports
 * STORE_E_RETRY (the caller's fail-open/closed policy takes over rather than
 * stalling the event loop longer).
 *
 * Schema (PRAGMA user_version 1):
 *   kv  (ns, key, value, expires)  PRIMARY KEY (ns, key), WITHOUT ROWID
 *   log (id AUTOINCREMENT, ns, key, ts, value), index (ns, key, id)
 * Keys compare bytewise (BINARY collation).  Expired keys read as
 * STORE_NOTFOUND and are skipped by scan; a get that meets one deletes it.
 * Keys nobody reads again stay until overwritten (there is no sweep).
 *
 * Errors: SQLITE_BUSY, _LOCKED, _IOERR and _FULL are expected under load or
 * a full disk and log a warning; anything else logs an error.  Both report
 * STORE_E_RETRY: the data may be fine, the store just did not answer.
 *
 * Statements are prepared once at open and reset before any callback runs,
 * and scan/log buffer their rows first, so a callback may call the store
 * again.  Callbacks run before the call returns.  A handle is for one
 * thread; it must not be used across fork().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SQL_SCHEMA_VERSION 1
#define SQL_STR2(x) #x
#define SQL_STR(x) SQL_STR2(x)
/* Long enough to ride out another writer's commit, short enough that the
 * event loop is not frozen behind a stuck one. */
#define SQL_BUSY_MS 1000

enum sql_stmt {
	SQL_GET,
	SQL_PUT,
	SQL_DEL,
	SQL_PURGE,
	SQL_SCAN_FROM,
	SQL_SCAN_RANGE,
	SQL_APPEND,
	SQL_LOG,
	SQL_NSTMT,
};

/* Every statement binds ns as ?1 and key (or the scan's lower bound) as ?2. */
static const char *const sql_text[SQL_NSTMT] = {
	[SQL_GET] = "SELECT value, expires FROM kv WHERE ns = ?1 AND key = ?2",
	[SQL_PUT] = "INSERT OR REPLACE INTO kv (ns, key, value, expires) "
		    "VALUES (?1, ?2, ?3, ?4)",
	[SQL_DEL] = "DELETE FROM kv WHERE ns = ?1 AND key = ?2",
	/* Conditional, so a fresh value written meanwhile survives. */
	[SQL_PURGE] = "DELETE FROM kv WHERE ns = ?1 AND key = ?2 "
		      "AND expires != 0 AND expires <= ?3",
	[SQL_SCAN_FROM] = "SELECT key, value FROM kv WHERE ns = ?1 "
			  "AND key >= ?2 AND (expires = 0 OR expires > ?3) "
			  "ORDER BY key",
	[SQL_SCAN_RANGE] = "SELECT key, value FROM kv WHERE ns = ?1 "
			   "AND key >= ?2 AND key < ?4 "
			   "AND (expires = 0 OR expires > ?3) ORDER BY key",
	[SQL_APPEND] = "INSERT INTO log (ns, key, ts, value) "
		       "VALUES (?1, ?2, ?3, ?4)",
	[SQL_LOG] = "SELECT id, ts, value FROM log WHERE ns = ?1 AND key = ?2 "
		    "ORDER BY id",
};

static const char sql_schema[] =
	"BEGIN IMMEDIATE;"
	"CREATE TABLE IF NOT EXISTS kv ("
	" ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" expires INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (ns, key)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS log ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" ns TEXT NOT NULL, key TEXT NOT NULL, ts INTEGER NOT NULL,"
	" value TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS log_ns_key_id ON log (ns, key, id);"
	"PRAGMA user_version = " SQL_STR(SQL_SCHEMA_VERSION) ";"
	"COMMIT;";

struct sql_store {
	struct store st;	/* first: the driver is a struct store */
	sqlite3 *db;
	sqlite3_stmt *stmt[SQL_NSTMT];
};

/* One buffered row for a row callback. */
struct sql_row {
	char *key;
	char *value;
	int64_t ts;
};

/* A growing array of buffered rows. */
struct sql_rows {
	struct sql_row *v;
	size_t n, cap;
};

/* Log a failed SQLite call at the level its code deserves; STORE_E_RETRY. */
static int sql_fail(struct sql_store *ss, const char *op, const char *ns,
		    int rc)
{
	int prim = rc & 0xff;
	bool expected = prim == SQLITE_BUSY || prim == SQLITE_LOCKED ||
			prim == SQLITE_IOERR || prim == SQLITE_FULL;
	char qns[LOG_QSZ], qerr[LOG_QSZ];

	log_msg(expected ? LOG_L_WARN : LOG_L_ERR,
		"event=store_error store=sqlite op=%s ns=%s code=%d err=%s", op,
		log_q(qns, sizeof(qns), ns), rc,
		log_q(qerr, sizeof(qerr), sqlite3_errmsg(ss->db)));
	return STORE_E_RETRY;
}

/* Unbind and reset s so it is ready for the next use (and re-entry). */
static void sql_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Bind ?1 = ns and ?2 = key; SQLITE_OK or the bind error. */
static int sql_bind_ns_key(sqlite3_stmt *s, const char *ns, const char *key)
{
	int rc = sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	return rc;
}

/* Step a write statement whose binding gave rc; reset it; the result. */
static int sql_write(struct sql_store *ss, sqlite3_stmt *s, int rc,
		     const char *op, const char *ns)
{
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		int res = sql_fail(ss, op, ns, rc);

		sql_done(s);
		return res;
	}
	sql_done(s);
	return STORE_OK;
}

/* Add one row to rows; takes ownership of key, copies value. */
static void sql_rows_add(struct sql_rows *rows, char *key, const char *value,
			 int64_t ts)
{
	if (rows->n == rows->cap) {
		rows->cap = rows->cap ? 2 * rows->cap : 16;
		rows->v = xrealloc(rows->v, rows->cap * sizeof(rows->v[0]));
	}
	rows->v[rows->n].key = key;
	rows->v[rows->n].value = xstrdup(value);
	rows->v[rows->n].ts = ts;
	rows->n++;
}

/* Free the buffered rows. */
static void sql_rows_free(struct sql_rows *rows)
{
	size_t i;

	for (i = 0; i < rows->n; i++) {
		free(rows->v[i].key);
		free(rows->v[i].value);
	}
	free(rows->v);
}

/*
 * Step a bound row statement s to the end, buffering rows (column 0 is the
 * key, or an integer id for logs); reset s; then call back with every row
 * and the end marker, or only with the error: all rows or none.
 */
static void sql_read_rows(struct sql_store *ss, sqlite3_stmt *s, int rc,
			  bool is_log, const char *op, const char *ns,
			  store_row_cb *cb, void *arg)
{
	struct sql_rows rows = { NULL, 0, 0 };
	size_t i;

	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			const char *k, *value;
			char *key = NULL;
			int64_t ts = 0;

			if (is_log) {
				ts = sqlite3_column_int64(s, 1);
				value = (const char *)sqlite3_column_text(s, 2);
				if (value != NULL)
					key = xasprintf("%" PRId64, (int64_t)
						sqlite3_column_int64(s, 0));
			} else {
				value = (const char *)sqlite3_column_text(s, 1);
				k = (const char *)sqlite3_column_text(s, 0);
				if (k != NULL)
					key = xstrdup(k);
			}
			if (key == NULL || value == NULL) {
				/* The columns are NOT NULL: out of memory. */
				free(key);
				rc = SQLITE_NOMEM;
				break;
			}
			sql_rows_add(&rows, key, value, ts);
		}
	}
	if (rc != SQLITE_DONE) {
		int res = sql_fail(ss, op, ns, rc);

		sql_done(s);
		sql_rows_free(&rows);
		cb(arg, res, NULL, NULL, 0);
		return;
	}
	sql_done(s);
	for (i = 0; i < rows.n; i++)
		cb(arg, STORE_OK, rows.v[i].key, rows.v[i].value, rows.v[i].ts);
	cb(arg, STORE_OK, NULL, NULL, 0);
	sql_rows_free(&rows);
}

/* Driver op: finalize the statements and close the database. */
static void sql_close(struct store *st)
{
	struct sql_store *ss = (struct sql_store *)st;
	size_t i;
	int rc;

	for (i = 0; i < SQL_NSTMT; i++)
		sqlite3_finalize(ss->stmt[i]);
	rc = sqlite3_close(ss->db);
	if (rc != SQLITE_OK)
		log_msg(LOG_L_ERR, "event=store_error store=sqlite op=close "
			"code=%d err=%s", rc, sqlite3_errstr(rc));
	free(ss);
}

/* Driver op: read one key; an expired one is purged and reads as absent. */
static void sql_get(struct store *st, const char *ns, const char *key,
		    store_get_cb *cb, void *arg)
{
	struct sql_store *ss = (struct sql_store *)st;
	sqlite3_stmt *s = ss->stmt[SQL_GET];
	int64_t now = (int64_t)time(NULL);
	const char *v;
	char *value;
	int rc, res;

	rc = sql_bind_ns_key(s, ns, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sql_done(s);
		cb(arg, STORE_NOTFOUND, NULL);
		return;
	}
	if (rc != SQLITE_ROW) {
		res = sql_fail(ss, "get", ns, rc);
		sql_done(s);
		cb(arg, res, NULL);
		return;
	}
	if (sqlite3_column_int64(s, 1) != 0 &&
	    sqlite3_column_int64(s, 1) <= now) {
		sql_done(s);
		s = ss->stmt[SQL_PURGE];
		rc = sql_bind_ns_key(s, ns, key);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(s, 3, now);
		/* A failed purge changes nothing for the reader. */
		(void)sql_write(ss, s, rc, "purge", ns);
		cb(arg, STORE_NOTFOUND, NULL);
		return;
	}
	v = (const char *)sqlite3_column_text(s, 0);
	if (v == NULL) {
		res = sql_fail(ss, "get", ns, SQLITE_NOMEM);
		sql_done(s);
		cb(arg, res, NULL);
		return;
	}
	/* Copy and reset first, so the callback may use the store. */
	value = xstrdup(v);
	sql_done(s);
	cb(arg, STORE_OK, value);
	free(value);
}

/* Driver op: insert or replace one key, durably. */
static void sql_put(struct store *st, const char *ns, const char *key,
		    const char *value, int64_t expires, store_done_cb *cb,
		    void *arg)
{
	struct sql_store *ss = (struct sql_store *)st;
	sqlite3_stmt *s = ss->stmt[SQL_PUT];
	int rc;

	rc = sql_bind_ns_key(s, ns, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 3, value, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 4, expires);
	cb(arg, sql_write(ss, s, rc, "put", ns));
}

/* Driver op: insert or replace n keys in one transaction, all or none. */
static void sql_put_many(struct store *st, const char *ns,
			 const struct store_kv *kv, size_t n,
			 store_done_cb *cb, void *arg)
{
	struct sql_store *ss = (struct sql_store *)st;
	sqlite3_stmt *s = ss->stmt[SQL_PUT];
	int rc, res = STORE_OK;
	size_t i;

	rc = sqlite3_exec(ss->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		cb(arg, sql_fail(ss, "put_many", ns, rc));
		return;
	}
	for (i = 0; i < n && res == STORE_OK; i++) {
		rc = sql_bind_ns_key(s, ns, kv[i].key);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(s, 3, kv[i].value, -1,
					       SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(s, 4, kv[i].expires);
		res = sql_write(ss, s, rc, "put_many", ns);
	}
	if (res == STORE_OK) {
		rc = sqlite3_exec(ss->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			res = sql_fail(ss, "put_many", ns, rc);
	}
	/* After a failed statement or COMMIT: nothing of the batch stays. */
	if (res != STORE_OK && !sqlite3_get_autocommit(ss->db))
		sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
	cb(arg, res);
}

/* Driver op: delete one key; a missing key is not an error. */
static void sql_del(struct store *st, const char *ns, const char *key,
		    store_done_cb *cb, void *arg)
{
	struct sql_store *ss = (struct sql_store *)st;
	sqlite3_stmt *s = ss->stmt[SQL_DEL];

	cb(arg, sql_write(ss, s, sql_bind_ns_key(s, ns, key), "del", ns));
}

/*
 * Driver op: unexpired keys of ns starting with prefix, in key order.
 * A byte range rather than LIKE, so '%' and '_' in keys mean themselves
 * and the primary key index serves the query.
 */
static void sql_scan(struct store *st, const char *ns, const char *prefix,
		     store_row_cb *cb, void *arg)
{
	struct sql_store *ss = (struct sql_store *)st;
	char *end = store_prefix_end(prefix);
	sqlite3_stmt *s = ss->stmt[end ? SQL_SCAN_RANGE : SQL_SCAN_FROM];
	int rc;

	rc = sql_bind_ns_key(s, ns, prefix);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
	if (rc == SQLITE_OK && end != NULL)
		rc = sqlite3_bind_text(s, 4, end, -1, SQLITE_STATIC);
	sql_read_rows(ss, s, rc, false, "scan", ns, cb, arg);
	free(end);
}

/* Driver op: add an entry to the log of (ns, key), durably. */
static void sql_append(struct store *st, const char *ns, const char *key,
		       const char *value, int64_t ts, store_done_cb *cb,
		       void *arg)
{
	struct sql_store *ss = (struct sql_store *)st;
	sqlite3_stmt *s = ss->stmt[SQL_APPEND];
	int rc;

	rc = sql_bind_ns_key(s, ns, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, ts);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 4, value, -1, SQLITE_STATIC);
	cb(arg, sql_write(ss, s, rc, "append", ns));
}

/* Driver op: the log of (ns, key), oldest first; key is the id. */
static void sql_log(struct store *st, const char *ns, const char *key,
		    store_row_cb *cb, void *arg)
{
	struct sql_store *ss = (struct sql_store *)st;
	sqlite3_stmt *s = ss->stmt[SQL_LOG];

	sql_read_rows(ss, s, sql_bind_ns_key(s, ns, key), true, "log", ns,
		      cb, arg);
}

static const struct store_ops sql_ops = {
	.type = "sqlite",
	.close = sql_close,
	.get = sql_get,
	.put = sql_put,
	.del = sql_del,
	.put_many = sql_put_many,
	.scan = sql_scan,
	.append = sql_append,
	.log = sql_log,
};

/* Run a one-row pragma and copy its text result into out; SQLite rc. */
static int sql_pragma(sqlite3 *db, const char *sql, char *out, size_t outsz)
{
	sqlite3_stmt *s;
	int rc;

	out[0] = '\0';
	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);

		snprintf(out, outsz, "%s", t ? t : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Set up journal, durability and schema on a fresh connection; SQLite rc,
 * or -1 with err set for a schema from a newer mamori. */
static int sql_setup(sqlite3 *db, const char *path, char *err, size_t errsz)
{
	char mode[32], ver[32];
	long v;
	int rc;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, SQL_BUSY_MS);
	rc = sql_pragma(db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (rc != SQLITE_OK)
		return rc;
	if (strcmp(mode, "wal") != 0) {
		char q[LOG_QSZ];

		/* Still durable with FULL, only without concurrent readers. */
		log_msg(LOG_L_WARN, "event=store_no_wal store=sqlite path=%s "
			"journal_mode=%s", log_q(q, sizeof(q), path), mode);
	}
	rc = sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sql_pragma(db, "PRAGMA user_version", ver, sizeof(ver));
	if (rc != SQLITE_OK)
		return rc;
	v = strtol(ver, NULL, 10);
	if (v > SQL_SCHEMA_VERSION) {
		snprintf(err, errsz, "store \"sqlite:%s\": schema version %ld "
			 "is newer than this mamori supports (%d)", path, v,
			 SQL_SCHEMA_VERSION);
		return -1;
	}
	if (v < SQL_SCHEMA_VERSION) {
		rc = sqlite3_exec(db, sql_schema, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			/* Leave no half-open transaction behind. */
			if (!sqlite3_get_autocommit(db))
				sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	return SQLITE_OK;
}

int store_sqlite_open(const char *path, struct store **out, char *err,
		      size_t errsz)
{
	struct sql_store *ss;
	sqlite3 *db = NULL;
	size_t i;
	int rc, sys;

	*out = NULL;
	if (path[0] == '\0') {
		snprintf(err, errsz, "store \"sqlite:\": missing database path "
			 "(sqlite:/var/lib/mamori/state.db)");
		return -EINVAL;
	}
	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		sys = db ? sqlite3_system_errno(db) : 0;
		snprintf(err, errsz, "store \"sqlite:%s\": cannot open "
			 "database: %s%s%s%s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
			 sys ? " (" : "", sys ? strerror(sys) : "",
			 sys == ENOENT ? "; does the directory exist?)" :
			 sys ? ")" : "");
		sqlite3_close(db);
		return sys ? -sys : -EIO;
	}
	rc = sql_setup(db, path, err, errsz);
	if (rc == -1) {
		sqlite3_close(db);
		return -EINVAL;
	}
	if (rc != SQLITE_OK) {
		sys = sqlite3_system_errno(db);
		snprintf(err, errsz, "store \"sqlite:%s\": cannot set up "
			 "database: %s%s%s%s", path, sqlite3_errmsg(db),
			 sys ? " (" : "", sys ? strerror(sys) : "",
			 sys ? ")" : "");
		sqlite3_close(db);
		return sys ? -sys : -EIO;
	}
	ss = xcalloc(1, sizeof(*ss));
	ss->st.ops = &sql_ops;
	ss->db = db;
	for (i = 0; i < SQL_NSTMT; i++) {
		rc = sqlite3_prepare_v3(db, sql_text[i], -1,
					SQLITE_PREPARE_PERSISTENT,
					&ss->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			snprintf(err, errsz, "store \"sqlite:%s\": cannot "
				 "prepare statement %zu: %s", path, i,
				 sqlite3_errmsg(db));
			sql_close(&ss->st);
			return -EIO;
		}
	}
	*out = &ss->st;
	return 0;
}
