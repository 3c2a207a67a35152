/*
 * store - mamori's state store interface.
 *
 * Stores are named "type:spec" like Postfix tables: "sqlite:/var/lib/mamori/
 * state.db" (embedded default, WAL), "memory:" (tests, throwaway),
 * "redis:unix:/run/redis/redis.sock", "redis:tcp:HOST:PORT" and
 * "redis-sentinel:MASTER@HOST:PORT,HOST:PORT" (a fleet of mamorid sharing
 * one Redis, docs/design/fleet.md).  The interface is asynchronous: every
 * operation reports through a callback that may run before the call returns
 * (sqlite, memory) or later from the event loop (redis).  Callers must not
 * assume either.
 *
 * Three operations exist for a fleet and have an in-process meaning for a
 * store of one host: store_window (sliding-window counters summed over every
 * host), store_count (bucketed counters and distinct counts by key, for the
 * login engine) and store_watch (hear of keys other hosts changed).
 *
 * Results (dbus-broker convention): STORE_OK; STORE_NOTFOUND ("no such key",
 * an answer); STORE_E_RETRY ("the store is unavailable", not an answer: the
 * caller applies its configured fail-open/closed action, like Postfix's
 * DICT_ERR_RETRY); a negative errno for unexpected failures.
 *
 * Data model: namespaces ("account", "held", "notice", ...) of key -> value
 * strings (values are JSON text by convention), with an optional expiry;
 * plus append-only logs per (namespace, key) for evidence trails.
 *
 * Strings passed to callbacks are borrowed: valid only during the callback.
 * Strings passed in are copied before the call returns.
 */
#ifndef MAMORI_STORE_H
#define MAMORI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/window.h"

struct event_base;

enum {
	STORE_OK = 0,
	STORE_NOTFOUND = 1,
	STORE_E_RETRY = 2,
};

struct store;

typedef void store_get_cb(void *arg, int result, const char *value);
typedef void store_done_cb(void *arg, int result);
/*
 * Called once per row (result STORE_OK, key and value set), then exactly once
 * more with key == NULL and the final result (STORE_OK at the end of rows, or
 * an error).  For logs, key is the entry id in decimal and ts its time.
 */
typedef void store_row_cb(void *arg, int result, const char *key,
			  const char *value, int64_t ts);

/* One value of store_put_many (borrowed strings). */
struct store_kv {
	const char *key;
	const char *value;
	int64_t expires;
};

/* The operations counted by struct store_stats. */
enum store_op {
	STORE_OP_GET,
	STORE_OP_PUT,
	STORE_OP_PUT_MANY,
	STORE_OP_DEL,
	STORE_OP_SCAN,
	STORE_OP_APPEND,
	STORE_OP_LOG,
	STORE_OP_WINDOW,	/* a networked store's round trip per decision */
	STORE_OP_COUNT,		/* store_count (store_put_new counts as put) */
	STORE_OP__COUNT,
};

/* Latency buckets of store_stats.le: upper bounds in seconds (the last
 * one counts everything, +Inf). */
#define STORE_LAT_BUCKETS 6
extern const double store_lat_bounds[STORE_LAT_BUCKETS - 1];

/*
 * What every store did since it was opened (store_stats.c), kept in the
 * base struct by store.c around each driver call: operations, failures
 * (any result but STORE_OK and STORE_NOTFOUND) and the time from the call
 * to its final callback.  Event-loop thread, like every store call.
 */
struct store_stats {
	uint64_t ops[STORE_OP__COUNT];
	uint64_t failures[STORE_OP__COUNT];
	uint64_t le[STORE_LAT_BUCKETS];	/* per bucket, not cumulative */
	double seconds;			/* sum of all latencies */
	/* Kept by a networked driver: times the server was found down
	 * (each then retried with backoff), and master changes (Sentinel). */
	uint64_t down;
	uint64_t failovers;
};

/*
 * One sliding window of store_window: util/window.h's two buckets of len
 * seconds.  add is what to count at now (0: only read); w is the caller's
 * own view going in and the fleet's view in the answer.
 */
struct store_win {
	uint32_t len;
	uint32_t add;
	struct window w;
};

/* The windows after the add (borrowed, n of them), or result != STORE_OK
 * and w NULL. */
typedef void store_win_cb(void *arg, int result, const struct store_win *w,
			  size_t n);
/*
 * One count of store_count.  A key (what is counted: any bytes, hashed by
 * a shared store, so neither a login nor an address reaches the server)
 * has buckets of len seconds; the answer sums (or unites) the last nb of
 * them, the current one included, so it covers between (nb - 1) * len and
 * nb * len seconds.
 *   STORE_CNT_SUM  add to a counter; count = the buckets' sum
 *   STORE_CNT_SET  item (or NULL: only read) into an exact set of at most
 *                  STORE_CNT_SET_CAP items per bucket (more are not
 *                  added); count = the size of the buckets' union
 *   STORE_CNT_HLL  item (or NULL) into a distinct-count sketch (Redis
 *                  HyperLogLog, 0.81 % standard error; exact in a store
 *                  of one host up to STORE_CNT_SET_CAP per bucket);
 *                  count = the estimate over the buckets' union
 * Items are hashed like keys.  reset empties the key's nb buckets of that
 * kind first (an unblock forgets what led to the block).  count is set in
 * the answer.
 */
enum store_cnt_kind {
	STORE_CNT_SUM,
	STORE_CNT_SET,
	STORE_CNT_HLL,
};
#define STORE_CNT_MAX 16	/* counts per call */
#define STORE_CNT_BUCKETS 8	/* nb at most */
#define STORE_CNT_SET_CAP 1024	/* items per exact set bucket */
#define STORE_CNT_SET_CAP_STR "1024"
#define STORE_CNT_KEY_MAX 512	/* bytes of a key or an item */
struct store_cnt {
	const char *key;
	uint8_t kind;		/* enum store_cnt_kind */
	uint8_t nb;		/* 1 .. STORE_CNT_BUCKETS */
	uint32_t len;		/* seconds, > 0 */
	uint32_t add;		/* STORE_CNT_SUM */
	const char *item;	/* STORE_CNT_SET, STORE_CNT_HLL; NULL: read */
	bool reset;		/* empty the buckets first */
	uint64_t count;		/* the answer */
};
/* The counts after the adds (borrowed, n of them; key and item are NULL
 * in them), or result != STORE_OK and c NULL. */
typedef void store_cnt_cb(void *arg, int result, const struct store_cnt *c,
			  size_t n);

/*
 * A watched key of ns was written or deleted by another process sharing the
 * store; key NULL: notices may have been lost (the link to the store was
 * down), so re-read whatever is kept from ns.
 */
typedef void store_watch_cb(void *arg, const char *ns, const char *key);

/* The driver vtable; each driver embeds struct store first. */
struct store_ops {
	const char *type;
	void (*close)(struct store *st);
	void (*get)(struct store *st, const char *ns, const char *key,
		    store_get_cb *cb, void *arg);
	void (*put)(struct store *st, const char *ns, const char *key,
		    const char *value, int64_t expires, store_done_cb *cb,
		    void *arg);
	void (*del)(struct store *st, const char *ns, const char *key,
		    store_done_cb *cb, void *arg);
	/* Optional (NULL: store.c writes one put at a time). */
	void (*put_many)(struct store *st, const char *ns,
			 const struct store_kv *kv, size_t n,
			 store_done_cb *cb, void *arg);
	void (*scan)(struct store *st, const char *ns, const char *prefix,
		     store_row_cb *cb, void *arg);
	void (*append)(struct store *st, const char *ns, const char *key,
		       const char *value, int64_t ts, store_done_cb *cb,
		       void *arg);
	void (*log)(struct store *st, const char *ns, const char *key,
		    store_row_cb *cb, void *arg);
	/* Optional, for stores shared between hosts (NULL: in-process, the
	 * caller's own windows are the whole truth and nobody else writes). */
	void (*window)(struct store *st, const char *ns, const char *key,
		       uint32_t now, const struct store_win *w, size_t n,
		       store_win_cb *cb, void *arg);
	void (*watch)(struct store *st, const char *ns, store_watch_cb *cb,
		      void *arg);
	/* Optional (NULL: store.c reads, then writes: atomic in process). */
	void (*put_new)(struct store *st, const char *ns, const char *key,
			const char *value, int64_t expires, store_get_cb *cb,
			void *arg);
	/* Optional (NULL: store_count.c counts in process, exactly). */
	void (*count)(struct store *st, const char *ns, uint32_t now,
		      const struct store_cnt *c, size_t n, store_cnt_cb *cb,
		      void *arg);
};

struct store_cnt_local;

struct store {
	const struct store_ops *ops;
	/* Fault injection for tests: when set, every operation reports
	 * STORE_E_RETRY without touching the data. */
	bool fault;
	struct store_stats stats;	/* store.c counts; drivers only down
					 * and failovers */
	struct store_cnt_local *cnt;	/* store_count.c, for in-process
					 * counts; freed by store_close */
};

/*
 * Open the store named by spec.  base is the event loop a networked backend
 * schedules on (may be NULL for sqlite/memory).  On failure returns a
 * negative errno or -EINVAL, with a message in err.
 */
int store_open(const char *spec, struct event_base *base, struct store **out,
	       char *err, size_t errsz);
void store_close(struct store *st);

/* Read one value. */
void store_get(struct store *st, const char *ns, const char *key,
	       store_get_cb *cb, void *arg);
/*
 * Write one value durably: when cb reports STORE_OK the value survives a
 * kill -9 of the process.  expires is a unix time, 0 for never; an expired
 * key reads as STORE_NOTFOUND.  cb may be NULL.
 */
void store_put(struct store *st, const char *ns, const char *key,
	       const char *value, int64_t expires, store_done_cb *cb,
	       void *arg);
/*
 * Write n values of ns durably, as one unit where the driver can (sqlite:
 * one transaction, all or none, and far cheaper than n commits); elsewhere
 * one put each.  cb (may be NULL) reports once: STORE_OK when every value
 * was written, else the first failure.  n == 0 reports STORE_OK.
 */
void store_put_many(struct store *st, const char *ns,
		    const struct store_kv *kv, size_t n, store_done_cb *cb,
		    void *arg);
/*
 * Claim ns/key: write value (as store_put) only if no live value is there.
 * cb gets STORE_OK and value NULL when it was written, STORE_OK and the
 * value already there when not, or a failure.  Atomic on a shared store
 * (one script: of two hosts claiming one key at once, one writes and the
 * other reads what it wrote).  Answered before the call returns, like
 * get.
 */
void store_put_new(struct store *st, const char *ns, const char *key,
		   const char *value, int64_t expires, store_get_cb *cb,
		   void *arg);
/* Delete one key; deleting a missing key is STORE_OK.  cb may be NULL. */
void store_del(struct store *st, const char *ns, const char *key,
	       store_done_cb *cb, void *arg);
/* Every unexpired key in ns starting with prefix ("" for all), key order. */
void store_scan(struct store *st, const char *ns, const char *prefix,
		store_row_cb *cb, void *arg);
/* Append an entry to the log of (ns, key), durably.  cb may be NULL. */
void store_append(struct store *st, const char *ns, const char *key,
		  const char *value, int64_t ts, store_done_cb *cb, void *arg);
/* Read the log of (ns, key), oldest first. */
void store_log(struct store *st, const char *ns, const char *key,
	       store_row_cb *cb, void *arg);

/*
 * Count into sliding windows shared by every process using the store:
 * add w[i].add to window w[i] of (ns, key) at now, atomically, and answer
 * with each window as the whole fleet counted it (w[i].w: bucket now /
 * w[i].len, its count and the previous bucket's).  A store of one host
 * answers with the caller's own windows after the add (window_add), at
 * once.  w (1 to STORE_WIN_MAX entries) is copied; a window is named by
 * its place in w, so a caller passes its windows in one order.  Windows of a shared
 * store expire on their own two lengths after their bucket.  A shared
 * store has sent an add to the server before the call returns, so a read
 * by any host that starts after the caller's next reply sees it.
 */
#define STORE_WIN_MAX 8
void store_window(struct store *st, const char *ns, const char *key,
		  uint32_t now, const struct store_win *w, size_t n,
		  store_win_cb *cb, void *arg);
/*
 * Count into shared buckets (struct store_cnt): for each of c[0..n), add
 * and answer the count over its last nb buckets at now, as every process
 * using the store counted them, atomically (one Lua script on Redis: two
 * hosts counting at once each see the other's add).  c (1 to
 * STORE_CNT_MAX entries, keys and items at most STORE_CNT_KEY_MAX bytes)
 * is copied or hashed before the call returns.  A shared store never
 * keeps a key or item as given: each is an HMAC-SHA256 under the
 * deployment's key (store_opts.hash_key), truncated.  A store of one host
 * counts in process, exactly (bounded: STORE_CNT_LOCAL_MAX buckets; when
 * full the call reports STORE_E_RETRY).  cb may run before the call
 * returns or later from the event loop.  Buckets expire on their own
 * nb lengths (and a minute) after their last add.
 */
void store_count(struct store *st, const char *ns, uint32_t now,
		 const struct store_cnt *c, size_t n, store_cnt_cb *cb,
		 void *arg);
/* For store_count.c: the in-process counts of a store of one host. */
void store_count_local(struct store *st, const char *ns, uint32_t now,
		       const struct store_cnt *c, size_t n, store_cnt_cb *cb,
		       void *arg);
void store_count_local_free(struct store *st);
#define STORE_CNT_LOCAL_MAX 65536

/*
 * Call cb (for the life of the store) when another process sharing the
 * store puts or deletes a key of ns (ns is a string literal, kept).  A
 * store of one host never calls it.
 */
void store_watch(struct store *st, const char *ns, store_watch_cb *cb,
		 void *arg);
/* Is the store shared with other hosts (window and watch reach them)? */
bool store_is_shared(const struct store *st);

/*
 * Options a networked store needs besides its name: a password (borrowed;
 * NULL or "" for none; never logged), and how long one operation may wait
 * for the server before it reports STORE_E_RETRY (0: 1,000 ms).  user: an
 * ACL user sent with the password (AUTH USER PASSWORD; NULL or "": AUTH
 * PASSWORD).  sentinel_user and sentinel_password: the same for the
 * sentinels of a redis-sentinel: store (NULL or "": no AUTH).  All
 * borrowed for the call only.
 */
struct store_opts {
	const char *password;
	long timeout_ms;
	const char *user;
	const char *sentinel_user;
	const char *sentinel_password;
	/* The key store_count hashes keys and items with (borrowed; NULL or
	 * "": a fixed key, so the hashes hide logins and addresses from a
	 * casual look but not from a guesser); every host of a fleet must
	 * use the same one.  Never logged. */
	const char *hash_key;
};
/* store_open with options (opts may be NULL). */
int store_open_opts(const char *spec, struct event_base *base,
		    const struct store_opts *opts, struct store **out,
		    char *err, size_t errsz);

const char *store_result_str(int result);
/* What st did since it was opened; borrowed, changes with every call. */
const struct store_stats *store_stats(const struct store *st);
/* The operation's name for metrics ("get", "put_many", ...). */
const char *store_op_name(enum store_op op);

/*
 * For drivers' prefix scans: the smallest string greater than every string
 * starting with prefix (drop trailing 0xff bytes, bump the last byte), a
 * new string; NULL when there is none (prefix empty or all 0xff): the range
 * is open-ended.
 */
char *store_prefix_end(const char *prefix);

/* Drivers. */
int store_sqlite_open(const char *path, struct store **out, char *err,
		      size_t errsz);
int store_memory_open(const char *spec, struct store **out, char *err,
		      size_t errsz);
/* spec after "redis:" or, with sentinel, after "redis-sentinel:". */
int store_redis_open(const char *spec, bool sentinel, struct event_base *base,
		     const struct store_opts *opts, struct store **out,
		     char *err, size_t errsz);

#endif
