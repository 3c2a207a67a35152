/*
 * store_redis - the "redis:" and "redis-sentinel:" stores: one Redis shared
 * by a fleet of mamorid.
 *
 *   redis:unix:/run/redis/redis.sock
 *   redis:tcp:HOST:PORT
 *   redis-sentinel:MASTER@HOST:PORT,HOST:PORT     (up to RDS_SENTINELS)
 *
 * Data model (every key starts with RDS_PREFIX; N is the namespace's length
 * in decimal, so "t" + "a:b" and "t:a" + "b" never meet):
 *   k:N:NS:KEY          a value (string), with EXPIREAT when it expires
 *   i:N:NS              the namespace's keys, a sorted set (score 0) read
 *                       with ZRANGEBYLEX: bytewise key order, as sqlite's
 *                       BINARY collation; members whose value expired are
 *                       dropped by the scan that meets them
 *   l:N:NS:KEY          a log, a list of "ID TS VALUE"; ID from logseq
 *   w:N:NS:KEY:I:LEN:IDX  bucket IDX of window I (its place in the
 *                       store_window call) of LEN seconds, INCRBY +
 *                       EXPIRE two lengths and a minute from its first add
 *   n:N:NS:H:K:LEN:IDX  bucket IDX of store_count's key hashed to H (HMAC,
 *                       store_redis_count.c), kind K: s counter, e set,
 *                       h HyperLogLog; expires nb lengths past its add
 *   channel c:NS        "ORIGIN KEY" on every put/del of NS (store_watch)
 * Writes that touch more than one key (value + index + notice) are one Lua
 * script each, so they are atomic and one round trip.
 *
 * Connections, all to the master:
 *   - a blocking one (hiredis sync, every call bounded by timeout_ms) for
 *     get, put, del, put_many, scan, append and log.  Those are startup,
 *     transition, admin and held-mail operations, rare next to decisions;
 *     answering them before the call returns keeps them in order with each
 *     other (a put is visible to the next get) and keeps callers that read
 *     into their stack frame correct (admin_held.c, admin.c's event log);
 *     sqlite blocks the same way.
 *   - an asynchronous one on the libevent loop (hiredis's libevent adapter)
 *     for store_window: the per-decision counters, pipelined, never
 *     blocking the loop.  One timer (RDS_TICK_MS) bounds each answer by
 *     timeout_ms: no answer in time drops the link, every pending call
 *     reports STORE_E_RETRY.
 *   - an asynchronous subscriber for the watched namespaces' channels; on
 *     every (re)subscription the watchers hear key NULL ("re-read"), since
 *     notices sent while it was down are gone (Redis pub/sub keeps none).
 *
 * Outages: a failed call marks the server down; until the backoff has
 * passed (RDS_BACKOFF_MIN_MS doubling to RDS_BACKOFF_MAX_MS) every call
 * reports STORE_E_RETRY at once, without touching the network, so an
 * outage costs the event loop one timeout per attempt, not one per call.
 * The caller's fail-open/fail-closed action answers meanwhile.  Down and up
 * are logged once each (event=store_down / store_up) and counted.
 *
 * Sentinel: hiredis has none, so the master is asked of the sentinels
 * (SENTINEL get-master-addr-by-name, each sentinel in turn) at start, after
 * every failure and every RDS_SENTINEL_POLL_MS; a new address (a failover)
 * drops every link and reconnects there.  A server that answers READONLY
 * (a demoted master) is treated as down, which asks again.  Sentinels are
 * asked with their own AUTH (sentinel_user, sentinel_password: Sentinel's
 * requirepass is apart from the master's) or without.
 *
 * Replication is asynchronous: a write the old master acknowledged just
 * before it died may be missing after a failover (a counter a few messages
 * low, an event missing); account records are re-read by every host on
 * resubscription, so the fleet agrees on what the new master holds.
 *
 * hiredis writes without MSG_NOSIGNAL: the process must ignore SIGPIPE
 * (mamorid does), or a server that went away kills it.
 *
 * The password (store_opts) is sent with AUTH (with the ACL user, if
 * any: AUTH USER PASSWORD) and never logged.  No TLS: hiredis 0.14 (Debian
 * 12) has none; across hosts use a tunnel (docs/design/fleet.md).  Callbacks
 * still pending when the store closes are not called: the daemon closes
 * the store after everything that could be called back.  Event-loop thread
 * only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "store/store.h"
#include "store/store_redis-internal.h"
#include "util/log.h"
#include "util/xalloc.h"

/* A growing array of copied rows (scan, log). */
struct rds_rows {
	char **key, **value;
	int64_t *ts;
	size_t n, cap;
};

/* Put: KEYS kv, index; ARGV key, value, expires, now, channel, notice. */
#define RDS_PUT_LUA \
	"local e = tonumber(ARGV[3]) " \
	"if e ~= 0 and e <= tonumber(ARGV[4]) then " \
	" redis.call('DEL', KEYS[1]) redis.call('ZREM', KEYS[2], ARGV[1]) " \
	"else " \
	" redis.call('SET', KEYS[1], ARGV[2]) " \
	" if e ~= 0 then redis.call('EXPIREAT', KEYS[1], e) end " \
	" redis.call('ZADD', KEYS[2], 0, ARGV[1]) " \
	"end " \
	"redis.call('PUBLISH', ARGV[5], ARGV[6]) return 1"
static const char rds_put_lua[] = RDS_PUT_LUA;
/* Put new: as put, unless the key holds a value: that value, unwritten. */
static const char rds_put_new_lua[] =
	"local v = redis.call('GET', KEYS[1]) if v then return v end "
	RDS_PUT_LUA;

/* Del: KEYS kv, index; ARGV key, channel, notice. */
static const char rds_del_lua[] =
	"redis.call('DEL', KEYS[1]) redis.call('ZREM', KEYS[2], ARGV[1]) "
	"redis.call('PUBLISH', ARGV[2], ARGV[3]) return 1";

/* Put many: KEYS index; ARGV kv prefix, now, channel, origin, then
 * (key, value, expires) triples. */
static const char rds_put_many_lua[] =
	"local now = tonumber(ARGV[2]) "
	"for i = 5, #ARGV, 3 do "
	" local k, v, e = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]) "
	" if e ~= 0 and e <= now then "
	"  redis.call('DEL', ARGV[1] .. k) redis.call('ZREM', KEYS[1], k) "
	" else "
	"  redis.call('SET', ARGV[1] .. k, v) "
	"  if e ~= 0 then redis.call('EXPIREAT', ARGV[1] .. k, e) end "
	"  redis.call('ZADD', KEYS[1], 0, k) "
	" end "
	" redis.call('PUBLISH', ARGV[3], ARGV[4] .. ' ' .. k) "
	"end return 1";

/* Scan one page: KEYS index; ARGV min, max, page size, kv prefix.
 * Answers {last member or '', {key, value, ...}}. */
static const char rds_scan_lua[] =
	"local ks = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], "
	" 'LIMIT', 0, tonumber(ARGV[3])) "
	"local out = {} "
	"for _, k in ipairs(ks) do "
	" local v = redis.call('GET', ARGV[4] .. k) "
	" if v then out[#out + 1] = k out[#out + 1] = v "
	" else redis.call('ZREM', KEYS[1], k) end "
	"end "
	"return {ks[#ks] or '', out}";

/* Append: KEYS log, sequence; ARGV ts, value.  Answers the id. */
static const char rds_append_lua[] =
	"local id = redis.call('INCR', KEYS[2]) "
	"redis.call('RPUSH', KEYS[1], id .. ' ' .. ARGV[1] .. ' ' .. ARGV[2]) "
	"return id";

/* Window: KEYS (current, previous bucket) pairs; ARGV (add, ttl) pairs.
 * Answers (current, previous) counts.  A bucket gets its TTL when the add
 * creates it (the count is the add): INCRBY keeps a TTL, and the bucket
 * is not counted into after its length, so the TTL from its first add
 * holds it two lengths and a minute past its start, past the end of the
 * next bucket that reads it as the previous one. */
const char rds_window_lua[] =
	"local out = {} "
	"for i = 1, #KEYS, 2 do "
	" local add = tonumber(ARGV[i]) local cur "
	" if add > 0 then "
	"  cur = redis.call('INCRBY', KEYS[i], add) "
	"  if cur == add then "
	"   redis.call('EXPIRE', KEYS[i], ARGV[i + 1]) end "
	" else cur = tonumber(redis.call('GET', KEYS[i]) or '0') end "
	" out[#out + 1] = cur "
	" out[#out + 1] = tonumber(redis.call('GET', KEYS[i + 1]) or '0') "
	"end return out";

/*
 * RDS_PREFIX "KIND:N:NS" and, with key, ":KEY" then suffix (may be "");
 * a new string.  Copied by hand: gcc 12 with -fsanitize takes a %s of
 * these for a possible null.
 */
static char *rds_name(char kind, const char *ns, const char *key,
		      const char *suffix)
{
	size_t nl = strlen(ns), kl = key ? strlen(key) : 0;
	size_t sl = suffix ? strlen(suffix) : 0, off;
	char head[48];
	int hl = snprintf(head, sizeof(head), RDS_PREFIX "%c:%zu:", kind, nl);
	char *s = xmalloc((size_t)hl + nl + 1 + kl + sl + 1);

	memcpy(s, head, (size_t)hl);
	off = (size_t)hl;
	memcpy(s + off, ns, nl);
	off += nl;
	if (key) {
		s[off++] = ':';
		memcpy(s + off, key, kl);
		off += kl;
		memcpy(s + off, suffix ? suffix : "", sl);
		off += sl;
	}
	s[off] = '\0';
	return s;
}

/* "k:N:NS:KEY" (a value) or "l:N:NS:KEY" (a log); a new string. */
static char *rds_key(char kind, const char *ns, const char *key)
{
	return rds_name(kind, ns, key, NULL);
}

/* "i:N:NS", the namespace's index; a new string. */
static char *rds_index(const char *ns)
{
	return rds_name('i', ns, NULL, NULL);
}

/* The notice channel of ns; a new string. */
static char *rds_chan(const char *ns)
{
	return xasprintf(RDS_PREFIX "c:%s", ns);
}

/* Run an EVAL with nkeys keys and nargs arguments (C strings). */
static redisReply *rds_eval(struct rds_store *rs, const char *op,
			    const char *script, size_t nkeys,
			    const char *const *keys, size_t nargs,
			    const char *const *args)
{
	const char **argv = xcalloc(3 + nkeys + nargs, sizeof(*argv));
	size_t *len = xcalloc(3 + nkeys + nargs, sizeof(*len));
	char nk[24];
	size_t i, n = 0;
	redisReply *r;

	snprintf(nk, sizeof(nk), "%zu", nkeys);
	argv[n++] = "EVAL";
	argv[n++] = script;
	argv[n++] = nk;
	for (i = 0; i < nkeys; i++)
		argv[n++] = keys[i];
	for (i = 0; i < nargs; i++)
		argv[n++] = args[i];
	for (i = 0; i < n; i++)
		len[i] = strlen(argv[i]);
	r = rds_call(rs, op, (int)n, argv, len);
	free(argv);
	free(len);
	return r;
}

/* The notice a write publishes: "ORIGIN KEY"; a new string. */
static char *rds_notice(const struct rds_store *rs, const char *key)
{
	return xasprintf("%s %s", rs->origin, key);
}

/* Driver op: read one key. */
static void rds_get(struct store *st, const char *ns, const char *key,
		    store_get_cb *cb, void *arg)
{
	struct rds_store *rs = (struct rds_store *)st;
	char *k = rds_key('k', ns, key);
	const char *argv[2] = { "GET", k };
	size_t len[2] = { 3, strlen(k) };
	redisReply *r = rds_call(rs, "get", 2, argv, len);
	char *value;

	free(k);
	if (r == NULL) {
		cb(arg, STORE_E_RETRY, NULL);
		return;
	}
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		cb(arg, STORE_NOTFOUND, NULL);
		return;
	}
	value = xstrndup(r->str, r->len);
	freeReplyObject(r);
	cb(arg, STORE_OK, value);
	free(value);
}

/*
 * Put (value set, with script: rds_put_lua or rds_put_new_lua) or delete
 * (value NULL) one key with its index entry and notice, in one script;
 * the reply (free it), or NULL.
 */
static redisReply *rds_write(struct rds_store *rs, const char *op,
			     const char *script, const char *ns,
			     const char *key, const char *value,
			     int64_t expires)
{
	char *keys[2] = { rds_key('k', ns, key), rds_index(ns) };
	char exp[24], now[24], *chan = rds_chan(ns), *note = rds_notice(rs, key);
	const char *put_args[6] = { key, value, exp, now, chan, note };
	const char *del_args[3] = { key, chan, note };
	redisReply *r;

	snprintf(exp, sizeof(exp), "%" PRId64, expires);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (value != NULL)
		r = rds_eval(rs, op, script, 2, (const char *const *)keys, 6,
			     put_args);
	else
		r = rds_eval(rs, "del", rds_del_lua, 2,
			     (const char *const *)keys, 3, del_args);
	free(keys[0]);
	free(keys[1]);
	free(chan);
	free(note);
	return r;
}

/* Put (value set) or delete (value NULL) one key; the result. */
static int rds_write_one(struct rds_store *rs, const char *ns,
			 const char *key, const char *value, int64_t expires)
{
	redisReply *r = rds_write(rs, "put", rds_put_lua, ns, key, value,
				  expires);

	freeReplyObject(r);
	return r ? STORE_OK : STORE_E_RETRY;
}

/* Driver op: claim one key (put unless it holds a value). */
static void rds_put_new(struct store *st, const char *ns, const char *key,
			const char *value, int64_t expires, store_get_cb *cb,
			void *arg)
{
	redisReply *r = rds_write((struct rds_store *)st, "put_new",
				  rds_put_new_lua, ns, key, value, expires);
	char *had = NULL;

	if (r != NULL && r->type == REDIS_REPLY_STRING)
		had = xstrndup(r->str, r->len);
	cb(arg, r ? STORE_OK : STORE_E_RETRY, had);
	free(had);
	freeReplyObject(r);
}

/* Driver op: insert or replace one key, with its index and notice. */
static void rds_put(struct store *st, const char *ns, const char *key,
		    const char *value, int64_t expires, store_done_cb *cb,
		    void *arg)
{
	cb(arg, rds_write_one((struct rds_store *)st, ns, key, value,
			      expires));
}

/* Driver op: write n keys in one script (atomic, one round trip). */
static void rds_put_many(struct store *st, const char *ns,
			 const struct store_kv *kv, size_t n,
			 store_done_cb *cb, void *arg)
{
	struct rds_store *rs = (struct rds_store *)st;
	char *idx = rds_index(ns), *prefix = rds_key('k', ns, "");
	char *chan = rds_chan(ns), now[24];
	const char **args = xcalloc(4 + 3 * n, sizeof(*args));
	char **exps = xcalloc(n, sizeof(*exps));
	redisReply *r;
	size_t i;

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	args[0] = prefix;
	args[1] = now;
	args[2] = chan;
	args[3] = rs->origin;
	for (i = 0; i < n; i++) {
		exps[i] = xasprintf("%" PRId64, kv[i].expires);
		args[4 + 3 * i] = kv[i].key;
		args[5 + 3 * i] = kv[i].value;
		args[6 + 3 * i] = exps[i];
	}
	r = rds_eval(rs, "put_many", rds_put_many_lua, 1,
		     (const char *const *)&idx, 4 + 3 * n, args);
	for (i = 0; i < n; i++)
		free(exps[i]);
	free(exps);
	free(args);
	free(idx);
	free(prefix);
	free(chan);
	freeReplyObject(r);
	cb(arg, r ? STORE_OK : STORE_E_RETRY);
}

/* Driver op: delete one key and its index entry. */
static void rds_del(struct store *st, const char *ns, const char *key,
		    store_done_cb *cb, void *arg)
{
	cb(arg, rds_write_one((struct rds_store *)st, ns, key, NULL, 0));
}

/* Add a copied row. */
static void rds_rows_add(struct rds_rows *rows, const char *key, size_t klen,
			 const char *value, size_t vlen, int64_t ts)
{
	if (rows->n == rows->cap) {
		rows->cap = rows->cap ? 2 * rows->cap : 64;
		rows->key = xrealloc(rows->key, rows->cap * sizeof(char *));
		rows->value = xrealloc(rows->value, rows->cap * sizeof(char *));
		rows->ts = xrealloc(rows->ts, rows->cap * sizeof(int64_t));
	}
	rows->key[rows->n] = xstrndup(key, klen);
	rows->value[rows->n] = xstrndup(value, vlen);
	rows->ts[rows->n] = ts;
	rows->n++;
}

/* Hand the rows to cb (or only the failure), then free them. */
static void rds_rows_emit(struct rds_rows *rows, int result, store_row_cb *cb,
			  void *arg)
{
	size_t i;

	if (result == STORE_OK)
		for (i = 0; i < rows->n; i++)
			cb(arg, STORE_OK, rows->key[i], rows->value[i],
			   rows->ts[i]);
	cb(arg, result, NULL, NULL, 0);
	for (i = 0; i < rows->n; i++) {
		free(rows->key[i]);
		free(rows->value[i]);
	}
	free(rows->key);
	free(rows->value);
	free(rows->ts);
}

/* The upper lex bound of a prefix scan: "(END" (store_prefix_end), or
 * "+" when the range is open-ended; a new string. */
static char *rds_prefix_end(const char *prefix)
{
	char *end = store_prefix_end(prefix), *bound;

	if (end == NULL)
		return xstrdup("+");
	bound = xasprintf("(%s", end);
	free(end);
	return bound;
}

/* Driver op: the unexpired keys of ns starting with prefix, in order. */
static void rds_scan(struct store *st, const char *ns, const char *prefix,
		     store_row_cb *cb, void *arg)
{
	struct rds_store *rs = (struct rds_store *)st;
	struct rds_rows rows = { 0 };
	char *idx = rds_index(ns), *kvp = rds_key('k', ns, "");
	char *min = prefix[0] ? xasprintf("[%s", prefix) : xstrdup("-");
	char *max = rds_prefix_end(prefix), page[16];
	int result = STORE_OK;

	snprintf(page, sizeof(page), "%d", RDS_SCAN_PAGE);
	for (;;) {
		const char *args[4] = { min, max, page, kvp };
		redisReply *r = rds_eval(rs, "scan", rds_scan_lua, 1,
					 (const char *const *)&idx, 4, args);
		const redisReply *kv;
		size_t i;

		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			result = STORE_E_RETRY;
			break;
		}
		kv = r->element[1];
		for (i = 0; i + 1 < kv->elements; i += 2)
			rds_rows_add(&rows, kv->element[i]->str,
				     kv->element[i]->len,
				     kv->element[i + 1]->str,
				     kv->element[i + 1]->len, 0);
		if (r->element[0]->len == 0) {
			freeReplyObject(r);
			break;		/* a short page: the end */
		}
		free(min);
		min = xasprintf("(%s", r->element[0]->str);
		freeReplyObject(r);
	}
	free(idx);
	free(kvp);
	free(min);
	free(max);
	rds_rows_emit(&rows, result, cb, arg);
}

/* Driver op: append an entry to the log of (ns, key). */
static void rds_append(struct store *st, const char *ns, const char *key,
		       const char *value, int64_t ts, store_done_cb *cb,
		       void *arg)
{
	struct rds_store *rs = (struct rds_store *)st;
	char *keys[2] = { rds_key('l', ns, key), xstrdup(RDS_PREFIX "logseq") };
	char tss[24];
	const char *args[2] = { tss, value };
	redisReply *r;

	snprintf(tss, sizeof(tss), "%" PRId64, ts);
	r = rds_eval(rs, "append", rds_append_lua, 2,
		     (const char *const *)keys, 2, args);
	free(keys[0]);
	free(keys[1]);
	freeReplyObject(r);
	cb(arg, r ? STORE_OK : STORE_E_RETRY);
}

/* Driver op: the log of (ns, key), oldest first. */
static void rds_log(struct store *st, const char *ns, const char *key,
		    store_row_cb *cb, void *arg)
{
	struct rds_store *rs = (struct rds_store *)st;
	struct rds_rows rows = { 0 };
	char *k = rds_key('l', ns, key);
	const char *argv[4] = { "LRANGE", k, "0", "-1" };
	size_t len[4] = { 6, strlen(k), 1, 2 }, i;
	redisReply *r = rds_call(rs, "log", 4, argv, len);
	int result = STORE_OK;

	free(k);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		rds_rows_emit(&rows, STORE_E_RETRY, cb, arg);
		return;
	}
	for (i = 0; i < r->elements; i++) {
		const char *e = r->element[i]->str, *sp1, *sp2;

		/* "ID TS VALUE": the value may hold spaces, ID and TS not. */
		sp1 = e ? memchr(e, ' ', r->element[i]->len) : NULL;
		sp2 = sp1 ? memchr(sp1 + 1, ' ', r->element[i]->len -
				   (size_t)(sp1 + 1 - e)) : NULL;
		if (sp2 == NULL) {
			result = STORE_E_RETRY;
			break;
		}
		rds_rows_add(&rows, e, (size_t)(sp1 - e), sp2 + 1,
			     r->element[i]->len - (size_t)(sp2 + 1 - e),
			     strtoll(sp1 + 1, NULL, 10));
	}
	freeReplyObject(r);
	rds_rows_emit(&rows, result, cb, arg);
}

/* Room for ":I:LEN:IDX" or one number, with its NUL, in rds_window. */
#define RDS_WSFX 40

/* v in decimal at p (no NUL); its length.  snprintf costs about as much
 * as the rest of rds_window together (callgrind), twenty times a call. */
static size_t rds_utoa(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* A bucket's count: an integer (the script) or a string or nil (MGET). */
static long long rds_count(const redisReply *e)
{
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type == REDIS_REPLY_STRING)
		return strtoll(e->str, NULL, 10);
	return 0;
}

void rds_pend_add(struct rds_store *rs, struct rds_pend *p)
{
	p->rs = rs;
	p->prev = NULL;
	p->next = rs->pending;
	if (p->next != NULL)
		p->next->prev = p;
	rs->pending = p;
	if (rs->inflight++ == 0)
		rs->progress_ms = rds_ms();
}

int rds_pend_answer(redisAsyncContext *ac, const redisReply *r,
		    struct rds_pend *p, size_t want, const char *op)
{
	struct rds_store *rs = ac->data;

	if (p->rs == NULL)
		return -1;	/* the store closed: nobody is left to call */
	if (p->next != NULL)
		p->next->prev = p->prev;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		p->rs->pending = p->next;
	if (rs == NULL)
		return 0;	/* the link was dropped (down, timeout, ...) */
	rs->inflight--;
	rs->progress_ms = rds_ms();
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == want)
		return 1;
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		char qe[LOG_QSZ];

		log_msg(LOG_L_ERR, "event=store_error store=redis op=%s err=%s",
			op, log_q(qe, sizeof(qe), r->str));
		/* A replica, or a script cache flushed: reconnect (which
		 * loads the script again). */
		if (strncmp(r->str, "READONLY", 8) == 0 ||
		    strncmp(r->str, "NOSCRIPT", 8) == 0)
			rs->reset = true;
	}
	return 0;
}

/* The answer to a store_window call. */
static void rds_window_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rds_wreq *q = priv;
	redisReply *r = reply;
	size_t i;
	int got = rds_pend_answer(ac, r, &q->p, 2 * q->n, "window");

	if (got <= 0) {
		if (got == 0)
			q->cb(q->arg, STORE_E_RETRY, NULL, 0);
		free(q);
		return;
	}
	for (i = 0; i < q->n; i++) {
		long long cur = rds_count(r->element[2 * i]);
		long long prev = rds_count(r->element[2 * i + 1]);

		q->w[i].w.idx = q->now / q->w[i].len;
		q->w[i].w.cur = cur < 0 ? 0 : cur > UINT32_MAX ? UINT32_MAX :
				(uint32_t)cur;
		q->w[i].w.prev = prev < 0 ? 0 : prev > UINT32_MAX ?
				 UINT32_MAX : (uint32_t)prev;
	}
	q->cb(q->arg, STORE_OK, q->w, q->n);
	free(q);
}

/* Driver op: count into the fleet's windows, asynchronously. */
static void rds_window(struct store *st, const char *ns, const char *key,
		       uint32_t now, const struct store_win *w, size_t n,
		       store_win_cb *cb, void *arg)
{
	struct rds_store *rs = (struct rds_store *)st;
	const char *argv[3 + 4 * STORE_WIN_MAX];
	size_t len[3 + 4 * STORE_WIN_MAX];
	char nk[24], *base, *arena;
	struct rds_wreq *q;
	size_t i, m = 0, bl, off = 0;
	bool reading;
	int rc;

	/* Back since the last tick: open it now (calls queue until it is). */
	if (rs->ac == NULL && rds_up(rs))
		rds_async_up(rs);
	if (rs->ac == NULL) {
		cb(arg, STORE_E_RETRY, NULL, 0);
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->cb = cb;
	q->arg = arg;
	q->now = now;
	q->n = n;
	memcpy(q->w, w, n * sizeof(*w));
	for (i = 0; i < n && w[i].add == 0; i++)
		;
	reading = i == n;
	snprintf(nk, sizeof(nk), "%zu", 2 * n);
	if (reading) {
		/* Only reading (RCPT): a plain MGET, no script to run. */
		argv[m++] = "MGET";
	} else if (rs->window_sha[0]) {
		argv[m++] = "EVALSHA";
		argv[m++] = rs->window_sha;
		argv[m++] = nk;
	} else {
		argv[m++] = "EVAL";
		argv[m++] = rds_window_lua;
		argv[m++] = nk;
	}
	/* Every name and number of the call in one buffer (a decision's
	 * hot path: one allocation, not one per key).  RDS_WSFX bounds a
	 * suffix or a number with its NUL. */
	base = rds_name('w', ns, key, "");
	bl = strlen(base);
	arena = xmalloc(4 * n * (bl + RDS_WSFX));
	for (i = 0; i < 2 * n; i++) {
		uint32_t idx = now / w[i / 2].len - (uint32_t)(i % 2);
		char *p = arena + off;

		/* The window's place in the call names it: two windows of
		 * one length (messages, recipients an hour) stay apart.
		 * Each window: its current bucket, then the previous. */
		memcpy(p, base, bl);
		off += bl;
		arena[off++] = ':';
		off += rds_utoa(arena + off, i / 2);
		arena[off++] = ':';
		off += rds_utoa(arena + off, w[i / 2].len);
		arena[off++] = ':';
		off += rds_utoa(arena + off, idx);
		arena[off++] = '\0';
		argv[m++] = p;
	}
	for (i = 0; i < 2 * n && !reading; i++) {
		/* add, then the TTL: kept until the bucket after next has
		 * begun. */
		char *p = arena + off;

		off += rds_utoa(p, i % 2 ? 2 * (uint64_t)w[i / 2].len + 60 :
				w[i / 2].add);
		arena[off++] = '\0';
		argv[m++] = p;
	}
	for (i = 0; i < m; i++)
		len[i] = strlen(argv[i]);
	rc = redisAsyncCommandArgv(rs->ac, rds_window_reply, q, (int)m, argv,
				   len);
	free(base);
	free(arena);
	if (rc != REDIS_OK) {
		free(q);
		rs->reset = true;
		cb(arg, STORE_E_RETRY, NULL, 0);
		return;
	}
	rds_pend_add(rs, &q->p);
	/* An add is written now, not at the loop's next turn: the caller
	 * may answer its client without waiting for the count (fleet.c),
	 * and another host's read that follows that answer must find it.
	 * Last: a failed write frees the link and calls q back at once. */
	if (!reading)
		redisAsyncHandleWrite(rs->ac);
}

/* Driver op: subscribe to ns's notices. */
static void rds_watch(struct store *st, const char *ns, store_watch_cb *cb,
		      void *arg)
{
	struct rds_store *rs = (struct rds_store *)st;
	struct rds_watch *w;

	rs->watch = xrealloc(rs->watch, (rs->nwatch + 1) * sizeof(*rs->watch));
	w = &rs->watch[rs->nwatch++];
	w->ns = ns;
	w->chan = rds_chan(ns);
	w->cb = cb;
	w->arg = arg;
	/* The array moved: resubscribe everything on a fresh link. */
	rds_async_drop(&rs->sub);
	if (rds_up(rs))
		rds_async_up(rs);
}

/* A copy of an option, or NULL when it is NULL or "". */
static char *rds_opt(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

/* Wipe and free a password copy (NULL: nothing). */
static void rds_secret_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Driver op: close every link; pending callbacks are not called. */
static void rds_close(struct store *st)
{
	struct rds_store *rs = (struct rds_store *)st;
	struct rds_pend *q;
	size_t i;

	if (rs->tick != NULL)
		event_free(rs->tick);
	for (q = rs->pending; q != NULL; q = q->next)
		q->rs = NULL;
	rds_drop_links(rs);
	for (i = 0; i < rs->nwatch; i++)
		free(rs->watch[i].chan);
	free(rs->watch);
	rds_secret_free(rs->password);
	rds_secret_free(rs->sen_password);
	free(rs->user);
	free(rs->sen_user);
	free(rs);
}

static const struct store_ops rds_ops = {
	.type = "redis",
	.close = rds_close,
	.get = rds_get,
	.put = rds_put,
	.del = rds_del,
	.put_many = rds_put_many,
	.put_new = rds_put_new,
	.scan = rds_scan,
	.append = rds_append,
	.log = rds_log,
	.window = rds_window,
	.watch = rds_watch,
	.count = rds_counts,
};

int store_redis_open(const char *spec, bool sentinel, struct event_base *base,
		     const struct store_opts *opts, struct store **out,
		     char *err, size_t errsz)
{
	struct rds_store *rs;
	struct timeval tv = { 0, RDS_TICK_MS * 1000 };
	struct timespec ts;

	*out = NULL;
	rs = xcalloc(1, sizeof(*rs));
	rs->st.ops = &rds_ops;
	snprintf(rs->label, sizeof(rs->label), "%s:%s",
		 sentinel ? "redis-sentinel" : "redis", spec);
	if (!rds_parse(rs, spec, sentinel, err, errsz)) {
		free(rs);
		return -EINVAL;
	}
	if (base == NULL) {
		snprintf(err, errsz, "store \"%s\": a redis store needs the "
			 "daemon's event loop", rs->label);
		free(rs);
		return -EINVAL;
	}
	rs->base = base;
	rs->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms :
			 RDS_TIMEOUT_MS;
	if (opts != NULL) {
		rs->password = rds_opt(opts->password);
		rs->user = rds_opt(opts->user);
		rs->sen_password = rds_opt(opts->sentinel_password);
		rs->sen_user = rds_opt(opts->sentinel_user);
	}
	rds_count_key(rs, opts ? opts->hash_key : NULL);
	/* Tells our own notices from other hosts'. */
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(rs->origin, sizeof(rs->origin), "%ld-%lld-%ld", (long)getpid(),
		 (long long)ts.tv_sec, (long)ts.tv_nsec);
	if (!rds_up(rs)) {
		char where[512];

		snprintf(err, errsz, "store \"%s\": cannot reach the %s",
			 rds_where(rs, where, sizeof(where)),
			 sentinel && rs->master.port == 0 ? "sentinels" :
			 "server (running? password?)");
		rds_close(&rs->st);
		return -EIO;
	}
	rds_async_up(rs);
	rs->tick = event_new(base, -1, EV_PERSIST, rds_tick, rs);
	event_add(rs->tick, &tv);
	*out = &rs->st;
	return 0;
}
