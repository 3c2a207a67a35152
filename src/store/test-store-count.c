/*
 * test-store-count - store_count and store_put_new (store.h) on every
 * backend.  store_count: counters,
 * exact sets and distinct-count sketches in buckets, for "memory:",
 * "sqlite:" (both in process) and "redis:" on a private redis-server
 * (skipped, saying so, when it is not installed).  Redis only: two stores
 * count into one bucket, the server holds no key or item as given (only
 * keyed hashes), a store with another hash key counts apart, and a server
 * gone reports STORE_E_RETRY.  store_put_new: a claim writes once, then
 * answers what is there; on redis two stores claim one key.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "redis_server.h"
#include "tap.h"
#include "test_sqlite.h"
#include "store/store.h"

#define BAD (-99)		/* a callback ran other than exactly once */

/* The loop asynchronous answers arrive on (NULL: they come at once). */
static struct event_base *wait_base;

/* What a store_count answer said. */
struct cnts {
	int calls;
	int result;
	size_t n;
	uint64_t count[STORE_CNT_MAX];
};

/* Record a store_count answer. */
static void cnt_cb(void *arg, int result, const struct store_cnt *c, size_t n)
{
	struct cnts *r = arg;
	size_t i;

	r->calls++;
	r->result = result;
	r->n = c ? n : 0;
	for (i = 0; c && i < n; i++)
		r->count[i] = c[i].count;
}

/* store_count and wait (bounded); the result, or BAD. */
static int do_count(struct store *st, uint32_t now, const struct store_cnt *c,
		    size_t n, struct cnts *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	store_count(st, "t", now, c, n, cnt_cb, r);
	for (i = 0; r->calls == 0 && wait_base != NULL && i < 300; i++)
		event_base_loop(wait_base, EVLOOP_ONCE);
	return r->calls == 1 ? r->result : BAD;
}

/* One count of one key. */
static struct store_cnt one(const char *key, int kind, uint32_t len,
			    uint8_t nb, uint32_t add, const char *item)
{
	struct store_cnt c = { key, (uint8_t)kind, nb, len, add, item, false,
			       0 };

	return c;
}

/*
 * Each row is one call in order on one store; buckets of 60 s, two of
 * them summed (so a count covers 60 to 120 s).
 */
static void test_rows(const char *name, struct store *st)
{
	static const struct {
		const char *label, *key;
		int kind;
		uint32_t now, add;
		const char *item;
		uint64_t want;
	} rows[] = {
		{"sum: first add", "a", STORE_CNT_SUM, 600, 3, NULL, 3},
		{"sum: same bucket", "a", STORE_CNT_SUM, 610, 2, NULL, 5},
		{"sum: other key apart", "b", STORE_CNT_SUM, 610, 1, NULL, 1},
		{"sum: next bucket adds the last", "a", STORE_CNT_SUM, 660, 1,
		 NULL, 6},
		{"sum: read only", "a", STORE_CNT_SUM, 700, 0, NULL, 6},
		{"sum: two buckets on, gone", "a", STORE_CNT_SUM, 780, 0, NULL,
		 0},
		{"set: first item", "s", STORE_CNT_SET, 600, 0, "x", 1},
		{"set: second item", "s", STORE_CNT_SET, 605, 0, "y", 2},
		{"set: an item again", "s", STORE_CNT_SET, 606, 0, "x", 2},
		{"set: next bucket, old item", "s", STORE_CNT_SET, 660, 0, "x",
		 2},
		{"set: next bucket, new item", "s", STORE_CNT_SET, 661, 0, "z",
		 3},
		{"set: read only", "s", STORE_CNT_SET, 700, 0, NULL, 3},
		{"set: a sum of one key apart", "s", STORE_CNT_SUM, 700, 0,
		 NULL, 0},
		{"set: two buckets on, gone", "s", STORE_CNT_SET, 780, 0, NULL,
		 0},
		{"hll: first item", "h", STORE_CNT_HLL, 600, 0, "x", 1},
		{"hll: second item", "h", STORE_CNT_HLL, 605, 0, "y", 2},
		{"hll: an item again", "h", STORE_CNT_HLL, 606, 0, "x", 2},
		{"hll: next bucket, new item", "h", STORE_CNT_HLL, 661, 0, "z",
		 3},
		{"hll: read only", "h", STORE_CNT_HLL, 700, 0, NULL, 3},
	};
	struct cnts r;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct store_cnt c = one(rows[i].key, rows[i].kind, 60, 2,
					 rows[i].add, rows[i].item);

		is_int(do_count(st, rows[i].now, &c, 1, &r), STORE_OK,
		       "%s: count: %s: answers", name, rows[i].label);
		ok(r.n == 1 && r.count[0] == rows[i].want,
		   "%s: count: %s: %llu (want %llu)", name, rows[i].label,
		   r.n ? (unsigned long long)r.count[0] : 0ULL,
		   (unsigned long long)rows[i].want);
	}
}

/* Several counts in one call; a set past its cap; faults and limits. */
static void test_misc(const char *name, struct store *st)
{
	struct store_cnt c[3] = {
		one("m", STORE_CNT_SUM, 3600, 1, 2, NULL),
		one("m", STORE_CNT_SET, 3600, 1, 0, "i"),
		one("m", STORE_CNT_HLL, 900, 4, 0, "i"),
	};
	char big[STORE_CNT_KEY_MAX + 2], item[32];
	struct cnts r;
	int i;

	is_int(do_count(st, 7200, c, 3, &r), STORE_OK, "%s: count: three in "
	       "one call", name);
	ok(r.n == 3 && r.count[0] == 2 && r.count[1] == 1 && r.count[2] == 1,
	   "%s: count: three in one call: each its own", name);
	for (i = 0; i < STORE_CNT_SET_CAP + 5; i++) {
		snprintf(item, sizeof(item), "it%d", i);
		c[1] = one("cap", STORE_CNT_SET, 3600, 1, 0, item);
		if (do_count(st, 7200, &c[1], 1, &r) != STORE_OK)
			break;
	}
	ok(r.n == 1 && r.count[0] == STORE_CNT_SET_CAP,
	   "%s: count: a set stops at its cap (%llu)", name,
	   (unsigned long long)r.count[0]);
	c[1] = one("cap", STORE_CNT_SET, 3600, 1, 0, "after");
	c[1].reset = true;
	is_int(do_count(st, 7201, &c[1], 1, &r), STORE_OK,
	       "%s: count: reset", name);
	ok(r.n == 1 && r.count[0] == 1, "%s: count: reset empties, then adds "
	   "(%llu)", name, (unsigned long long)r.count[0]);
	c[0] = one("m", STORE_CNT_SUM, 3600, 1, 0, NULL);
	c[0].reset = true;
	is_int(do_count(st, 7202, c, 1, &r), STORE_OK,
	       "%s: count: reset a sum", name);
	ok(r.n == 1 && r.count[0] == 0, "%s: count: reset a sum to 0 (%llu)",
	   name, (unsigned long long)r.count[0]);
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	c[0] = one(big, STORE_CNT_SUM, 60, 1, 1, NULL);
	is_int(do_count(st, 7200, c, 1, &r), -EINVAL,
	       "%s: count: a key too long is refused", name);
	st->fault = true;
	c[0] = one("m", STORE_CNT_SUM, 60, 1, 1, NULL);
	is_int(do_count(st, 7200, c, 1, &r), STORE_E_RETRY,
	       "%s: count: fault", name);
	st->fault = false;
}

/* What a store_put_new answer said. */
struct claim {
	int calls;
	int result;
	char had[64];		/* "" when written */
};

/* Record a store_put_new answer. */
static void claim_cb(void *arg, int result, const char *value)
{
	struct claim *c = arg;

	c->calls++;
	c->result = result;
	snprintf(c->had, sizeof(c->had), "%s", value ? value : "");
}

/* store_put_new (answered before it returns); the result, or BAD. */
static int do_claim(struct store *st, const char *key, const char *value,
		    struct claim *c)
{
	memset(c, 0, sizeof(*c));
	store_put_new(st, "claims", key, value, 0, claim_cb, c);
	return c->calls == 1 ? c->result : BAD;
}

/* Claims in order on one store: the first writes, later ones read it. */
static void test_claims(const char *name, struct store *st)
{
	static const struct {
		const char *label, *key, *value, *had;
	} rows[] = {
		{"a free key is written", "net1", "inc-1", ""},
		{"a taken key answers its value", "net1", "inc-2", "inc-1"},
		{"the same value again", "net1", "inc-1", "inc-1"},
		{"another key is free", "net2", "inc-3", ""},
	};
	struct claim c;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		is_int(do_claim(st, rows[i].key, rows[i].value, &c), STORE_OK,
		       "%s: claim: %s: answers", name, rows[i].label);
		is_str(c.had, rows[i].had, "%s: claim: %s", name,
		       rows[i].label);
	}
	st->fault = true;
	is_int(do_claim(st, "net3", "x", &c), STORE_E_RETRY,
	       "%s: claim: fault", name);
	st->fault = false;
}

/* Open spec (opts may be NULL) or fail the test; NULL then. */
static struct store *open_or_fail(const char *spec,
				  const struct store_opts *o,
				  const char *label)
{
	struct store *st;
	char err[512];

	if (store_open_opts(spec, wait_base, o, &st, err, sizeof(err)) != 0) {
		ok(0, "%s: open %s: %s", label, spec, err);
		return NULL;
	}
	return st;
}

/* Every key and member Redis holds, joined, into out. */
static void redis_dump(const char *sock, char *out, size_t n)
{
	redisContext *c = redisConnectUnix(sock);
	redisReply *k, *m;
	size_t i, j, off = 0;

	out[0] = '\0';
	if (c == NULL || c->err) {
		redisFree(c);
		return;
	}
	k = redisCommand(c, "KEYS *");
	for (i = 0; k && k->type == REDIS_REPLY_ARRAY && i < k->elements;
	     i++) {
		off += (size_t)snprintf(out + off, off < n ? n - off : 0,
					"%s ", k->element[i]->str);
		m = redisCommand(c, "SMEMBERS %s", k->element[i]->str);
		for (j = 0; m && m->type == REDIS_REPLY_ARRAY &&
		     j < m->elements; j++)
			off += (size_t)snprintf(out + off, off < n ? n - off :
						0, "%s ", m->element[j]->str);
		freeReplyObject(m);
	}
	freeReplyObject(k);
	redisFree(c);
}

/* Two stores on one server: one count; only hashes stored; outage. */
static void test_redis_fleet(struct redis_server *rsv, const char *spec)
{
	struct store_opts ko = { .timeout_ms = 300, .hash_key = "deployment-key" };
	struct store_opts other = { .timeout_ms = 300, .hash_key = "another-key" };
	struct store *a = open_or_fail(spec, &ko, "fleet a");
	struct store *b = open_or_fail(spec, &ko, "fleet b");
	struct store *x = open_or_fail(spec, &other, "fleet x");
	struct store_cnt c = one("alice@example.test 192.0.2.7", STORE_CNT_SET,
				 600, 2, 0, "pwhash-0a1b");
	char dump[8192];
	struct cnts r;

	if (a == NULL || b == NULL || x == NULL)
		goto out;
	{
		struct claim ca, cb;

		do_claim(a, "fleet-net", "inc-from-a", &ca);
		do_claim(b, "fleet-net", "inc-from-b", &cb);
		ok(ca.had[0] == '\0' && strcmp(cb.had, "inc-from-a") == 0,
		   "redis: fleet: a claims first, b reads a's claim (%s)",
		   cb.had);
	}
	do_count(a, 6000, &c, 1, &r);
	c.item = "pwhash-ffee";
	is_int(do_count(b, 6001, &c, 1, &r), STORE_OK, "redis: fleet: count "
	       "from b");
	is_int(r.n ? (int)r.count[0] : -1, 2, "redis: fleet: b counts a's "
	       "item and its own");
	c.item = NULL;
	is_int(do_count(x, 6002, &c, 1, &r), STORE_OK, "redis: fleet: count "
	       "under another key");
	is_int(r.n ? (int)r.count[0] : -1, 0, "redis: fleet: another hash "
	       "key counts apart");
	redis_dump(rsv->sock, dump, sizeof(dump));
	ok(strstr(dump, "mamori:n:1:t:") != NULL && !strstr(dump, "alice") &&
	   !strstr(dump, "192.0.2.7") && !strstr(dump, "pwhash"),
	   "redis: fleet: only keyed hashes are stored");
	redis_server_stop(rsv);
	is_int(do_count(a, 6003, &c, 1, &r), STORE_E_RETRY,
	       "redis: down: count retries");
	ok(redis_server_start(rsv) == 0, "redis: restarted");
out:
	store_close(a);
	store_close(b);
	store_close(x);
}

/* One backend: the rows, then the rest. */
static void test_backend(const char *spec)
{
	struct store *st = open_or_fail(spec, NULL, spec);

	if (st == NULL)
		return;
	test_rows(spec, st);
	test_misc(spec, st);
	test_claims(spec, st);
	/* Rows, misc (three calls, the cap's, the resets, the fault). */
	ok(store_stats(st)->ops[STORE_OP_COUNT] >= 19 &&
	   store_stats(st)->failures[STORE_OP_COUNT] == 1,
	   "%s: count: in the store's statistics (%llu calls, %llu failed)",
	   spec, (unsigned long long)store_stats(st)->ops[STORE_OP_COUNT],
	   (unsigned long long)store_stats(st)->failures[STORE_OP_COUNT]);
	is_str(store_op_name(STORE_OP_COUNT), "count", "%s: count: named",
	       spec);
	store_close(st);
}

int main(void)
{
	char dir[] = "/tmp/mamori-test-count-XXXXXX", spec[300];
	struct redis_server rsv = { 0 };

	test_backend("memory:");
	if (mkdtemp(dir) != NULL) {
		snprintf(spec, sizeof(spec), "sqlite:%s/state.db", dir);
		test_backend(spec);
		snprintf(spec, sizeof(spec), "%s/state.db", dir);
		test_sqlite_unlink(spec);
		rmdir(dir);
	}
	if (!redis_server_available()) {
		ok(1, "# SKIP redis-server is not installed: redis: untested");
		return tap_done();
	}
	signal(SIGPIPE, SIG_IGN);
	if (!ok(redis_server_start(&rsv) == 0, "redis-server starts")) {
		redis_server_free(&rsv);
		return tap_done();
	}
	wait_base = event_base_new();
	snprintf(spec, sizeof(spec), "redis:unix:%s", rsv.sock);
	test_backend(spec);
	test_redis_fleet(&rsv, spec);
	event_base_free(wait_base);
	redis_server_free(&rsv);
	return tap_done();
}
