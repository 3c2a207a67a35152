/*
 * store_redis_link - the redis store's links to its master.  See
 * store_redis.c for the model and store_redis-internal.h for the parts.
 *
 * A blocking link (hiredis sync, every call bounded by timeout_ms) and two
 * asynchronous ones on the libevent loop (counters; pub/sub).  A failed
 * call marks the server down: until the backoff has passed
 * (RDS_BACKOFF_MIN_MS doubling to RDS_BACKOFF_MAX_MS) calls report
 * STORE_E_RETRY without touching the network.  With Sentinel the master is
 * asked of each sentinel in turn (SENTINEL get-master-addr-by-name) at
 * start, after a failure and every RDS_SENTINEL_POLL_MS (with AUTH when
 * the sentinels want one); a new address
 * drops the links, and a reachable server that is not the master (ROLE)
 * counts as down.  Event-loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libevent.h>

#include "store/store_redis-internal.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Milliseconds on the monotonic clock. */
int64_t rds_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where the store points, for logs: the spec, plus the master found. */
const char *rds_where(const struct rds_store *rs, char *buf, size_t n)
{
	if (rs->sentinel && rs->master.port != 0)
		snprintf(buf, n, "%.200s master=%.200s:%d", rs->label,
			 rs->master.host, rs->master.port);
	else
		snprintf(buf, n, "%s", rs->label);
	return buf;
}

/* Free an async context we own; its pending callbacks report a retry. */
void rds_async_drop(redisAsyncContext **pac)
{
	redisAsyncContext *ac = *pac;

	*pac = NULL;
	if (ac != NULL) {
		ac->data = NULL;	/* its callbacks no longer find us */
		redisAsyncFree(ac);
	}
}

/* Drop every link (the async ones' pending calls report a retry). */
void rds_drop_links(struct rds_store *rs)
{
	if (rs->sc != NULL) {
		redisFree(rs->sc);
		rs->sc = NULL;
	}
	rds_async_drop(&rs->ac);
	rds_async_drop(&rs->sub);
	rs->inflight = 0;
}

/* A call failed: the server is down until the backoff has passed. */
void rds_mark_down(struct rds_store *rs, const char *why)
{
	char where[512], q[LOG_QSZ];
	int64_t now = rds_ms();

	rs->failures++;
	if (!rs->down) {
		rs->down = true;
		rs->down_since = now;
		rs->backoff_ms = RDS_BACKOFF_MIN_MS;
		rs->st.stats.down++;
		log_msg(LOG_L_ERR, "event=store_down store=redis where=%s "
			"why=%s retry_ms=%d retry_max_ms=%d note=\"retried "
			"with backoff; store_failure_action answers until it "
			"is back\"", log_q(q, sizeof(q), rds_where(rs, where,
			sizeof(where))), why, RDS_BACKOFF_MIN_MS,
			RDS_BACKOFF_MAX_MS);
	} else if (rs->backoff_ms < RDS_BACKOFF_MAX_MS) {
		rs->backoff_ms = rs->backoff_ms * 2 > RDS_BACKOFF_MAX_MS ?
				 RDS_BACKOFF_MAX_MS : rs->backoff_ms * 2;
	}
	rs->retry_at = now + rs->backoff_ms;
	rs->sentinel_at = now;		/* ask where the master is now */
	rds_drop_links(rs);
}

/*
 * Send AUTH PASSWORD, or AUTH USER PASSWORD with an ACL user (Redis 6 and
 * later), on a blocking link; false (and why) when refused.
 */
static bool rds_sync_auth(redisContext *c, const char *user,
			  const char *password, const char **why)
{
	redisReply *r;
	bool ok;

	if (password == NULL)
		return true;
	if (user != NULL)
		r = redisCommand(c, "AUTH %s %s", user, password);
	else
		r = redisCommand(c, "AUTH %s", password);
	ok = r != NULL && r->type != REDIS_REPLY_ERROR;
	*why = r == NULL ? "auth: no answer" : "auth refused";
	freeReplyObject(r);
	return ok;
}

/* A blocking connection to addr (or the socket), bounded by timeout_ms. */
static redisContext *rds_sync_connect(const struct rds_store *rs,
				      const struct rds_addr *addr,
				      bool is_unix, const char **why)
{
	struct timeval tv = { rs->timeout_ms / 1000,
			      (rs->timeout_ms % 1000) * 1000 };
	redisContext *c;

	c = is_unix ? redisConnectUnixWithTimeout(rs->path, tv) :
		redisConnectWithTimeout(addr->host, addr->port, tv);
	if (c == NULL || c->err) {
		*why = c == NULL ? "out of memory" : "cannot connect";
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		*why = "cannot set timeout";
		redisFree(c);
		return NULL;
	}
	return c;
}

/*
 * Ask the sentinels, in turn, where the master is.  A new address drops
 * the links (they are reopened there).  False when none answered, with
 * why the last one did not.
 */
static bool rds_discover(struct rds_store *rs, const char **why)
{
	size_t i;

	rs->sentinel_at = rds_ms() + RDS_SENTINEL_POLL_MS;
	*why = "no sentinel answered";
	for (i = 0; i < rs->nsentinels; i++) {
		redisContext *c = rds_sync_connect(rs, &rs->sentinels[i],
						   false, why);
		redisReply *r;
		struct rds_addr a;

		if (c == NULL)
			continue;
		if (!rds_sync_auth(c, rs->sen_user, rs->sen_password, why)) {
			*why = "sentinel auth refused";
			redisFree(c);
			continue;
		}
		r = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
				 rs->master_name);
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			/* NOAUTH: a sentinel with requirepass, asked without
			 * store_sentinel_password_file; or an unknown name. */
			*why = strncmp(r->str, "NOAUTH", 6) == 0 ?
			       "sentinel wants a password" :
			       "sentinel refused the question";
		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			redisFree(c);
			continue;
		}
		snprintf(a.host, sizeof(a.host), "%s", r->element[0]->str);
		a.port = (int)strtol(r->element[1]->str, NULL, 10);
		freeReplyObject(r);
		redisFree(c);
		if (strcmp(a.host, rs->master.host) != 0 ||
		    a.port != rs->master.port) {
			char q[LOG_QSZ];

			if (rs->master.port != 0) {
				rs->st.stats.failovers++;
				log_msg(LOG_L_WARN, "event=store_failover "
					"store=redis master_name=%s "
					"old=%s:%d new=%s:%d",
					log_q(q, sizeof(q), rs->master_name),
					rs->master.host, rs->master.port,
					a.host, a.port);
			}
			rs->master = a;
			rds_drop_links(rs);
			rs->retry_at = 0;
		}
		return true;
	}
	return false;
}

/* Is the blocking link up (connecting it if the backoff allows)? */
bool rds_up(struct rds_store *rs)
{
	const char *why = "cannot connect";
	redisReply *r;
	int64_t now;

	if (rs->sc != NULL)
		return true;
	now = rds_ms();
	if (now < rs->retry_at)
		return false;
	if (rs->sentinel && (rs->master.port == 0 || now >= rs->sentinel_at)
	    && !rds_discover(rs, &why)) {
		rds_mark_down(rs, why);
		return false;
	}
	rs->sc = rds_sync_connect(rs, &rs->master, rs->is_unix, &why);
	if (rs->sc == NULL ||
	    !rds_sync_auth(rs->sc, rs->user, rs->password, &why)) {
		rds_mark_down(rs, why);
		return false;
	}
	/* A server that wants a password answers NOAUTH only when asked. */
	r = redisCommand(rs->sc, "PING");
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		freeReplyObject(r);
		rds_mark_down(rs, r ? "refused (password?)" : "no answer");
		return false;
	}
	freeReplyObject(r);
	if (rs->sentinel) {
		/* A demoted master may still be reachable: want the master. */
		r = redisCommand(rs->sc, "ROLE");
		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING
		    || strcmp(r->element[0]->str, "master") != 0) {
			freeReplyObject(r);
			rds_mark_down(rs, "not the master");
			return false;
		}
		freeReplyObject(r);
	}
	/* The counter script by its digest: EVALSHA spares Redis hashing
	 * the script's text at every decision.  Loaded on every new
	 * connection (a promoted replica may not have it). */
	r = redisCommand(rs->sc, "SCRIPT LOAD %s", rds_window_lua);
	if (r != NULL && r->type == REDIS_REPLY_STRING &&
	    r->len < sizeof(rs->window_sha))
		snprintf(rs->window_sha, sizeof(rs->window_sha), "%s", r->str);
	else
		rs->window_sha[0] = '\0';
	freeReplyObject(r);
	if (rs->down) {
		char where[512], q[LOG_QSZ];

		log_msg(LOG_L_NOTICE, "event=store_up store=redis where=%s "
			"down_ms=%lld", log_q(q, sizeof(q), rds_where(rs, where,
			sizeof(where))), (long long)(now - rs->down_since));
		rs->down = false;
	}
	rs->backoff_ms = RDS_BACKOFF_MIN_MS;
	return true;
}

/*
 * Run one command on the blocking link; the reply (free it), or NULL with
 * the server marked down (no answer, or an answer saying it cannot serve).
 */
redisReply *rds_call(struct rds_store *rs, const char *op, int argc,
			    const char **argv, const size_t *argvlen)
{
	redisReply *r;

	if (!rds_up(rs))
		return NULL;
	r = redisCommandArgv(rs->sc, argc, argv, argvlen);
	if (r == NULL) {
		rds_mark_down(rs, rs->sc && rs->sc->err == REDIS_ERR_IO ?
			      "no answer" : "connection lost");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		char q[LOG_QSZ];

		log_msg(LOG_L_ERR, "event=store_error store=redis op=%s err=%s",
			op, log_q(q, sizeof(q), r->str));
		/* A replica (after a failover) or a server still loading. */
		if (strncmp(r->str, "READONLY", 8) == 0 ||
		    strncmp(r->str, "LOADING", 7) == 0 ||
		    strncmp(r->str, "MASTERDOWN", 10) == 0)
			rds_mark_down(rs, "cannot serve");
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* An async link hiredis is about to free: forget it, reopen at the tick. */
static void rds_forget(const redisAsyncContext *ac)
{
	struct rds_store *rs = ac->data;

	if (rs == NULL)
		return;
	if (ac == rs->ac)
		rs->ac = NULL;
	if (ac == rs->sub)
		rs->sub = NULL;
	rs->reset = true;
}

/* The async link connected, or failed to (then hiredis frees it). */
static void rds_on_connect(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		rds_forget(ac);
}

/* The async link closed (hiredis frees it after this callback). */
static void rds_on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	rds_forget(ac);
}

/* A pub/sub message or subscription answer on a watched channel. */
static void rds_on_message(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rds_store *rs = ac->data;
	struct rds_watch *w = priv;
	redisReply *r = reply;
	const char *kind, *sp;

	if (rs == NULL || r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING)
		return;
	kind = r->element[0]->str;
	if (strcmp(kind, "subscribe") == 0) {
		/* Notices sent while unsubscribed are lost: re-read. */
		w->cb(w->arg, w->ns, NULL);
		return;
	}
	if (strcmp(kind, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	sp = strchr(r->element[2]->str, ' ');
	if (sp == NULL)
		return;
	if ((size_t)(sp - r->element[2]->str) == strlen(rs->origin) &&
	    strncmp(r->element[2]->str, rs->origin, strlen(rs->origin)) == 0)
		return;		/* our own write */
	w->cb(w->arg, w->ns, sp + 1);
}

/* Open an async link to the master, with AUTH queued first. */
static redisAsyncContext *rds_async_open(struct rds_store *rs)
{
	redisAsyncContext *ac = rs->is_unix ? redisAsyncConnectUnix(rs->path) :
		redisAsyncConnect(rs->master.host, rs->master.port);

	if (ac == NULL)
		return NULL;
	if (ac->err) {
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = rs;
	if (redisLibeventAttach(ac, rs->base) != REDIS_OK) {
		ac->data = NULL;
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, rds_on_connect);
	redisAsyncSetDisconnectCallback(ac, rds_on_disconnect);
	if (rs->password != NULL && rs->user != NULL)
		redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", rs->user,
				  rs->password);
	else if (rs->password != NULL)
		redisAsyncCommand(ac, NULL, NULL, "AUTH %s", rs->password);
	return ac;
}

/* Subscribe the subscriber link to every watched channel. */
static void rds_subscribe(struct rds_store *rs, struct rds_watch *w)
{
	if (rs->sub != NULL)
		redisAsyncCommand(rs->sub, rds_on_message, w, "SUBSCRIBE %s",
				  w->chan);
}

/* Bring the async links up where the blocking one is. */
void rds_async_up(struct rds_store *rs)
{
	size_t i;

	if (rs->ac == NULL)
		rs->ac = rds_async_open(rs);
	if (rs->sub == NULL && rs->nwatch > 0) {
		rs->sub = rds_async_open(rs);
		for (i = 0; i < rs->nwatch; i++)
			rds_subscribe(rs, &rs->watch[i]);
	}
}

/* Every RDS_TICK_MS: answers overdue, links to reopen, sentinels to ask. */
void rds_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rds_store *rs = arg;
	int64_t now = rds_ms();

	(void)fd;
	(void)what;
	if (rs->inflight > 0 && now - rs->progress_ms > rs->timeout_ms)
		rds_mark_down(rs, "no answer in time");
	else if (rs->reset)
		rds_mark_down(rs, "link lost");
	rs->reset = false;
	if (rs->sentinel && !rs->down && now >= rs->sentinel_at) {
		const char *why;

		rds_discover(rs, &why);
	}
	if (rds_up(rs))
		rds_async_up(rs);
}

/* "HOST:PORT" or "[V6]:PORT" into a; false if malformed. */
static bool rds_parse_addr(const char *s, size_t n, struct rds_addr *a)
{
	const char *colon = NULL, *host = s;
	size_t i, hlen;
	char *end, port[8];
	long p;

	for (i = 0; i < n; i++)
		if (s[i] == ':')
			colon = s + i;
	if (colon == NULL)
		return false;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		host = s + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(a->host) ||
	    (size_t)(n - (size_t)(colon + 1 - s)) >= sizeof(port) ||
	    colon + 1 == s + n)
		return false;
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	memcpy(port, colon + 1, n - (size_t)(colon + 1 - s));
	port[n - (size_t)(colon + 1 - s)] = '\0';
	p = strtol(port, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return false;
	a->port = (int)p;
	return true;
}

/* Parse the spec into rs; false with err set. */
bool rds_parse(struct rds_store *rs, const char *spec, bool sentinel,
		      char *err, size_t errsz)
{
	const char *at, *p;
	size_t slen;

	if (sentinel) {
		at = strchr(spec, '@');
		if (at == NULL || at == spec ||
		    (size_t)(at - spec) >= sizeof(rs->master_name)) {
			snprintf(err, errsz, "store \"redis-sentinel:%s\": "
				 "expected MASTER@HOST:PORT[,HOST:PORT...]",
				 spec);
			return false;
		}
		memcpy(rs->master_name, spec, (size_t)(at - spec));
		for (p = at + 1; *p; ) {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);

			if (rs->nsentinels == RDS_SENTINELS ||
			    !rds_parse_addr(p, n,
					    &rs->sentinels[rs->nsentinels])) {
				snprintf(err, errsz, "store \"redis-sentinel:"
					 "%s\": bad sentinel \"%.*s\" (HOST:PORT"
					 ", at most %d)", spec, (int)n, p,
					 RDS_SENTINELS);
				return false;
			}
			rs->nsentinels++;
			p += n + (comma != NULL);
		}
		if (rs->nsentinels == 0) {
			snprintf(err, errsz, "store \"redis-sentinel:%s\": no "
				 "sentinel given", spec);
			return false;
		}
		rs->sentinel = true;
		return true;
	}
	slen = strlen(spec);
	if (slen > 5 && slen - 5 < sizeof(rs->path) &&
	    strncmp(spec, "unix:/", 6) == 0) {
		snprintf(rs->path, sizeof(rs->path), "%s", spec + 5);
		rs->is_unix = true;
		return true;
	}
	if (strncmp(spec, "tcp:", 4) == 0 &&
	    rds_parse_addr(spec + 4, strlen(spec + 4), &rs->master))
		return true;
	snprintf(err, errsz, "store \"redis:%s\": expected redis:unix:/PATH or "
		 "redis:tcp:HOST:PORT", spec);
	return false;
}
