/*
 * store_redis-internal - what the redis store's two files share; not for
 * callers (they use store.h).
 *
 * store_redis.c       the data model, its Lua scripts and the driver ops
 * store_redis_count.c store_count: bucketed counters and distinct counts
 *                     under hashed keys, one Lua script per call
 * store_redis_link.c  the links to the master: blocking and asynchronous
 *                     connections, AUTH, Sentinel discovery, timeouts,
 *                     backoff, pub/sub, the spec's syntax
 *
 * Event-loop thread only.
 */
#ifndef MAMORI_STORE_REDIS_INTERNAL_H
#define MAMORI_STORE_REDIS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "store/store.h"

#define RDS_PREFIX "mamori:"
#define RDS_TICK_MS 100
#define RDS_TIMEOUT_MS 1000
#define RDS_BACKOFF_MIN_MS 100
#define RDS_BACKOFF_MAX_MS 5000
#define RDS_SENTINEL_POLL_MS 1000
#define RDS_SENTINELS 8
#define RDS_SCAN_PAGE 1000
#define RDS_HOST_MAX 256

struct rds_addr {
	char host[RDS_HOST_MAX];
	int port;
};

struct rds_watch {
	const char *ns;			/* a string literal (store_watch) */
	char *chan;
	store_watch_cb *cb;
	void *arg;
};

struct rds_store {
	struct store st;		/* first: the driver is a struct store */
	struct event_base *base;
	char label[300];		/* the spec, for logs */
	bool is_unix;
	char path[256];
	struct rds_addr master;		/* tcp, or as the sentinels said */
	bool sentinel;
	char master_name[128];
	struct rds_addr sentinels[RDS_SENTINELS];
	size_t nsentinels;
	char *password;			/* AUTH on the master, or NULL */
	char *user;			/* its ACL user, or NULL */
	char *sen_password;		/* AUTH on the sentinels, or NULL */
	char *sen_user;			/* their ACL user, or NULL */
	long timeout_ms;
	redisContext *sc;		/* blocking link */
	redisAsyncContext *ac;		/* counters */
	redisAsyncContext *sub;		/* subscriber */
	struct event *tick;
	int64_t retry_at;		/* ms: no attempt before */
	long backoff_ms;
	bool down;			/* logged as down */
	int64_t down_since;
	long inflight;			/* async calls without an answer */
	int64_t progress_ms;		/* last answer, or first call */
	int64_t sentinel_at;		/* ms: next poll */
	struct rds_pend *pending;	/* async calls unanswered */
	char window_sha[48];		/* rds_window_lua as loaded, or "" */
	bool reset;			/* drop the links at the next tick */
	unsigned char hkey[64];		/* store_count's HMAC key */
	size_t hkeylen;
	struct rds_watch *watch;
	size_t nwatch;
	char origin[40];
	unsigned long long failures;
};

/* An asynchronous call waiting for its answer: first in rds_wreq and
 * rds_creq. */
struct rds_pend {
	struct rds_pend *next, *prev;	/* the store's pending calls */
	struct rds_store *rs;		/* NULL: the store closed */
};

/* An asynchronous store_window call. */
struct rds_wreq {
	struct rds_pend p;
	store_win_cb *cb;
	void *arg;
	uint32_t now;
	size_t n;
	struct store_win w[STORE_WIN_MAX];
};

/* An asynchronous store_count call. */
struct rds_creq {
	struct rds_pend p;
	store_cnt_cb *cb;
	void *arg;
	size_t n;
	struct store_cnt c[STORE_CNT_MAX];
};

/* Driver op store_count (store_redis_count.c). */
void rds_counts(struct store *st, const char *ns, uint32_t now,
	       const struct store_cnt *c, size_t n, store_cnt_cb *cb,
	       void *arg);
/* The key store_count hashes with (NULL or "": a fixed one). */
void rds_count_key(struct rds_store *rs, const char *key);
/* A call was sent: p joins the store's pending calls. */
void rds_pend_add(struct rds_store *rs, struct rds_pend *p);
/*
 * The answer r (want elements) to pending call p on ac: -1 when nobody
 * is left to tell (the store closed), 0 for a failure (logged as op; the
 * caller reports STORE_E_RETRY), 1 for an answer to read.  p leaves the
 * pending calls either way; the caller frees it.
 */
int rds_pend_answer(redisAsyncContext *ac, const redisReply *r,
		    struct rds_pend *p, size_t want, const char *op);

/* The counter script (store_redis.c), loaded by digest on every link. */
extern const char rds_window_lua[];

/* Milliseconds on the monotonic clock. */
int64_t rds_ms(void);
/* The spec, plus the master found, for logs (into buf). */
const char *rds_where(const struct rds_store *rs, char *buf, size_t n);
/* Free an async context we own (*pac = NULL); its calls report a retry. */
void rds_async_drop(redisAsyncContext **pac);
/* Drop every link. */
void rds_drop_links(struct rds_store *rs);
/* A call failed: down until the backoff has passed; logged once. */
void rds_mark_down(struct rds_store *rs, const char *why);
/* Is the blocking link up (connecting it if the backoff allows)? */
bool rds_up(struct rds_store *rs);
/* Open the async links (counters; subscriber when something is watched). */
void rds_async_up(struct rds_store *rs);
/* One command on the blocking link: the reply, or NULL (marked down). */
redisReply *rds_call(struct rds_store *rs, const char *op, int argc,
		     const char **argv, const size_t *argvlen);
/* The store's timer: answers overdue, links to reopen, sentinels to ask. */
void rds_tick(evutil_socket_t fd, short what, void *arg);
/* Parse the spec (after "redis:" or "redis-sentinel:"); false with err. */
bool rds_parse(struct rds_store *rs, const char *spec, bool sentinel,
	       char *err, size_t errsz);

#endif
