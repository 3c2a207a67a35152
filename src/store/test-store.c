/*
 * test-store - the store interface, run against every backend.
 *
 * test_backend() holds the semantics every driver must share and runs once
 * for "memory:", once for "sqlite:" on a file in a fresh /tmp directory and
 * once for "redis:" against a redis-server this test starts on a unix
 * socket in that directory (skipped, saying so, when redis-server is not
 * installed).  The redis-only tests: windows shared by two stores, notices
 * between them, a password, and the server going away and coming back.
 * The sqlite-only tests (what only a file can show) are in
 * test-store-sqlite.c; the helpers both use in test-store-env.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "redis_server.h"
#include "tap.h"
#include "store/store.h"
#include "store/test-store-env.h"

enum { GET, PUT, DEL };

/* get/put/del in sequence; each row sees the effect of the ones before. */
static void test_kv(const char *name, struct store *st)
{
	static const struct {
		const char *label;
		int op;
		const char *ns, *key, *value;
		int64_t expires;
		int want;
		const char *want_value;
	} steps[] = {
		{"get missing", GET, "account", "alice", NULL, 0,
		 STORE_NOTFOUND, NULL},
		{"put", PUT, "account", "alice", "{\"n\":1}", 0, STORE_OK,
		 NULL},
		{"get after put", GET, "account", "alice", NULL, 0, STORE_OK,
		 "{\"n\":1}"},
		{"overwrite", PUT, "account", "alice", "{\"n\":2}", 0, STORE_OK,
		 NULL},
		{"get after overwrite", GET, "account", "alice", NULL, 0,
		 STORE_OK, "{\"n\":2}"},
		{"same key, other ns", GET, "held", "alice", NULL, 0,
		 STORE_NOTFOUND, NULL},
		{"del", DEL, "account", "alice", NULL, 0, STORE_OK, NULL},
		{"get after del", GET, "account", "alice", NULL, 0,
		 STORE_NOTFOUND, NULL},
		{"del missing", DEL, "account", "nobody", NULL, 0, STORE_OK,
		 NULL},
		{"put expired", PUT, "account", "old", "x", 1, STORE_OK, NULL},
		{"get expired", GET, "account", "old", NULL, 0, STORE_NOTFOUND,
		 NULL},
		{"get expired again", GET, "account", "old", NULL, 0,
		 STORE_NOTFOUND, NULL},
		{"put over expired", PUT, "account", "old", "y", 0, STORE_OK,
		 NULL},
		{"get revived", GET, "account", "old", NULL, 0, STORE_OK, "y"},
		{"put future expiry", PUT, "account", "soon", "z", FUTURE,
		 STORE_OK, NULL},
		{"get before expiry", GET, "account", "soon", NULL, 0, STORE_OK,
		 "z"},
		{"expire by overwrite", PUT, "account", "soon", "z", -5,
		 STORE_OK, NULL},
		{"get negative expiry", GET, "account", "soon", NULL, 0,
		 STORE_NOTFOUND, NULL},
		{"empty value", PUT, "account", "empty", "", 0, STORE_OK, NULL},
		{"get empty value", GET, "account", "empty", NULL, 0, STORE_OK,
		 ""},
		{"empty key", PUT, "account", "", "e", 0, STORE_OK, NULL},
		{"get empty key", GET, "account", "", NULL, 0, STORE_OK, "e"},
		{"utf-8 key", PUT, "account",
		 "\xe5\xa4\xaa\xe9\x83\x8e@example.jp",
		 "{\"name\":\"\xe5\xa4\xaa\xe9\x83\x8e\"}", 0, STORE_OK, NULL},
		{"get utf-8 key", GET, "account",
		 "\xe5\xa4\xaa\xe9\x83\x8e@example.jp", NULL, 0, STORE_OK,
		 "{\"name\":\"\xe5\xa4\xaa\xe9\x83\x8e\"}"},
		{"quote in key", PUT, "account", "o'brien\"; --", "q", 0,
		 STORE_OK, NULL},
		{"get quote in key", GET, "account", "o'brien\"; --", NULL, 0,
		 STORE_OK, "q"},
	};
	struct done d;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		switch (steps[i].op) {
		case GET:
			is_int(do_get(st, steps[i].ns, steps[i].key, &d),
			       steps[i].want, "%s: kv: %s", name,
			       steps[i].label);
			if (steps[i].want_value != NULL)
				is_str(d.value, steps[i].want_value,
				       "%s: kv: %s: value", name,
				       steps[i].label);
			break;
		case PUT:
			is_int(do_put(st, steps[i].ns, steps[i].key,
				      steps[i].value, steps[i].expires),
			       steps[i].want, "%s: kv: %s", name,
			       steps[i].label);
			break;
		case DEL:
			is_int(do_del(st, steps[i].ns, steps[i].key),
			       steps[i].want, "%s: kv: %s", name,
			       steps[i].label);
			break;
		}
	}

	/* A NULL callback is allowed for writes. */
	store_put(st, "nocb", "k", "v", 0, NULL, NULL);
	is_int(do_get(st, "nocb", "k", &d), STORE_OK, "%s: put without cb",
	       name);
	store_append(st, "nocb", "k", "v", 1, NULL, NULL);
	store_del(st, "nocb", "k", NULL, NULL);
	is_int(do_get(st, "nocb", "k", &d), STORE_NOTFOUND,
	       "%s: del without cb", name);
}

/* Keys for the scan table: value is "v-" + key; ns "s" unless noted. */
static const struct {
	const char *ns, *key;
	int64_t expires;
} scan_data[] = {
	{"s", "50%off", 0}, {"s", "50_off", 0}, {"s", "50xoff", FUTURE},
	{"s", "5", 0}, {"s", "a", 0}, {"s", "a%b", 0}, {"s", "a_b", 0},
	{"s", "ab", 0}, {"s", "b", 0}, {"s", "z\xff", 0},
	{"s", "z\xff\x01", 0}, {"s", "{", 0}, {"s", "\xff\xff", 0},
	{"s", "50%old", 1}, {"s", "a_expired", 2},
	/* Other namespaces whose keys start like ns "s"'s keys. */
	{"s2", "50%zz", 0}, {"s2", "ab2", 0}, {"sx", "a1", 0},
	{"S", "a", 0},
	/* Would collide if a backend joined ns and key with ':'. */
	{"t", "a:b", 0}, {"t:a", "b", 0},
};

/* Scan by prefix: literal % and _, byte ranges, no namespace leaks. */
static void test_scan(const char *name, struct store *st)
{
	static const struct {
		const char *label, *ns, *prefix, *want;
	} cases[] = {
		{"all keys in order", "s", "",
		 "5,50%off,50_off,50xoff,a,a%b,a_b,ab,b,z\xff,z\xff\x01,{,"
		 "\xff\xff"},
		{"percent is literal", "s", "50%", "50%off"},
		{"underscore is literal", "s", "50_", "50_off"},
		{"a_ is literal", "s", "a_", "a_b"},
		{"a% is literal", "s", "a%", "a%b"},
		{"one letter", "s", "a", "a,a%b,a_b,ab"},
		{"whole key as prefix", "s", "ab", "ab"},
		{"prefix longer than keys", "s", "abc", ""},
		{"no match", "s", "c", ""},
		{"prefix ending in 0xff", "s", "z\xff", "z\xff,z\xff\x01"},
		{"prefix of only 0xff", "s", "\xff", "\xff\xff"},
		{"other ns", "s2", "", "50%zz,ab2"},
		{"ns that extends another", "sx", "", "a1"},
		{"ns is case-sensitive", "S", "", "a"},
		{"ns with colon, left", "t", "", "a:b"},
		{"ns with colon, right", "t:a", "", "b"},
		{"empty ns", "nothing", "", ""},
	};
	struct rows r;
	size_t i;

	for (i = 0; i < sizeof(scan_data) / sizeof(scan_data[0]); i++) {
		char v[64];

		snprintf(v, sizeof(v), "v-%s", scan_data[i].key);
		if (do_put(st, scan_data[i].ns, scan_data[i].key, v,
			   scan_data[i].expires) != STORE_OK)
			ok(0, "%s: scan: load %s", name, scan_data[i].key);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(do_scan(st, cases[i].ns, cases[i].prefix, &r), STORE_OK,
		       "%s: scan: %s: result", name, cases[i].label);
		is_str(r.keys, cases[i].want, "%s: scan: %s: keys", name,
		       cases[i].label);
		ok(!r.bad_value, "%s: scan: %s: values", name, cases[i].label);
	}
}

/* Deleting inside a scan callback must not upset the scan. */
static void del_row_cb(void *arg, int result, const char *key,
		       const char *value, int64_t ts)
{
	struct store *st = arg;

	if (key != NULL)
		store_del(st, "re", key, NULL, NULL);
	(void)result;
	(void)value;
	(void)ts;
}

/* A callback may call the store again. */
static void test_reentry(const char *name, struct store *st)
{
	struct rows r;

	do_put(st, "re", "a", "v-a", 0);
	do_put(st, "re", "b", "v-b", 0);
	do_put(st, "re", "c", "v-c", 0);
	store_scan(st, "re", "", del_row_cb, st);
	is_int(do_scan(st, "re", "", &r), STORE_OK, "%s: reentry: result",
	       name);
	is_str(r.keys, "", "%s: reentry: deleted from inside scan", name);
}

/* Logs: append order, not ts order; ids increase; separate per key. */
static void test_log(const char *name, struct store *st)
{
	struct rows r;
	char *end;
	long long a, b;

	is_int(do_append(st, "ev", "alice", "first", 100), STORE_OK,
	       "%s: log: append 1", name);
	is_int(do_append(st, "ev", "bob", "other", 300), STORE_OK,
	       "%s: log: append other key", name);
	is_int(do_append(st, "ev", "alice", "second", 50), STORE_OK,
	       "%s: log: append 2 (older ts)", name);
	is_int(do_append(st, "ev2", "alice", "elsewhere", 7), STORE_OK,
	       "%s: log: append other ns", name);

	is_int(do_log(st, "ev", "alice", &r), STORE_OK, "%s: log: read", name);
	is_str(r.values, "first,second", "%s: log: append order", name);
	is_str(r.ts, "100,50", "%s: log: ts kept", name);
	a = strtoll(r.keys, &end, 10);
	b = *end == ',' ? strtoll(end + 1, &end, 10) : 0;
	ok(a > 0 && b > a && *end == '\0', "%s: log: ids decimal, increasing "
	   "(%s)", name, r.keys);

	is_int(do_log(st, "ev", "bob", &r), STORE_OK, "%s: log: other key",
	       name);
	is_str(r.values, "other", "%s: log: other key values", name);
	is_int(do_log(st, "ev2", "alice", &r), STORE_OK, "%s: log: other ns",
	       name);
	is_str(r.values, "elsewhere", "%s: log: other ns values", name);
	is_int(do_log(st, "ev", "nobody", &r), STORE_OK, "%s: log: empty",
	       name);
	is_int(r.n, 0, "%s: log: empty has no rows", name);
	is_int(do_scan(st, "ev", "", &r), STORE_OK, "%s: log: not in kv",
	       name);
	is_int(r.n, 0, "%s: log: kv scan of log ns is empty", name);
}

/* With st->fault set every op reports STORE_E_RETRY and changes nothing. */
static void test_fault(const char *name, struct store *st)
{
	struct done d;
	struct rows r;

	do_put(st, "f", "k", "v-k", 0);
	do_append(st, "f", "k", "entry", 1);

	st->fault = true;
	is_int(do_get(st, "f", "k", &d), STORE_E_RETRY, "%s: fault: get",
	       name);
	is_int(do_put(st, "f", "k", "changed", 0), STORE_E_RETRY,
	       "%s: fault: put", name);
	is_int(do_put(st, "f", "new", "v-new", 0), STORE_E_RETRY,
	       "%s: fault: put new", name);
	is_int(do_del(st, "f", "k"), STORE_E_RETRY, "%s: fault: del", name);
	is_int(do_scan(st, "f", "", &r), STORE_E_RETRY, "%s: fault: scan",
	       name);
	is_int(r.n, 0, "%s: fault: scan has no rows", name);
	is_int(do_append(st, "f", "k", "more", 2), STORE_E_RETRY,
	       "%s: fault: append", name);
	is_int(do_log(st, "f", "k", &r), STORE_E_RETRY, "%s: fault: log",
	       name);
	is_int(r.n, 0, "%s: fault: log has no rows", name);
	store_put(st, "f", "k", "changed", 0, NULL, NULL);

	st->fault = false;
	is_int(do_get(st, "f", "k", &d), STORE_OK, "%s: fault cleared: get",
	       name);
	is_str(d.value, "v-k", "%s: fault cleared: value untouched", name);
	is_int(do_get(st, "f", "new", &d), STORE_NOTFOUND,
	       "%s: fault cleared: nothing added", name);
	is_int(do_scan(st, "f", "", &r), STORE_OK, "%s: fault cleared: scan",
	       name);
	is_str(r.keys, "k", "%s: fault cleared: scan rows", name);
	is_int(do_log(st, "f", "k", &r), STORE_OK, "%s: fault cleared: log",
	       name);
	is_str(r.values, "entry", "%s: fault cleared: log untouched", name);
}

/* put_many: one report for the batch; values as if put one by one. */
static void test_put_many(const char *name, struct store *st)
{
	const struct store_kv kv[] = {
		{"pm1", "v-pm1", 0}, {"pm2", "v-pm2", FUTURE}, {"pm3", "x", 1},
	};
	const struct store_kv again[] = {
		{"pm1", "v-pm1b", 0}, {"pm4", "v-pm4", 0},
	};
	struct done d = { 0 };
	struct rows r;

	store_put_many(st, "pm", kv, 0, done_cb, &d);
	ok(d.calls == 1 && d.result == STORE_OK, "%s: put_many of none", name);
	memset(&d, 0, sizeof(d));
	store_put_many(st, "pm", kv, 3, done_cb, &d);
	ok(d.calls == 1 && d.result == STORE_OK, "%s: put_many reports once",
	   name);
	is_int(do_scan(st, "pm", "", &r), STORE_OK, "%s: put_many: scan", name);
	is_str(r.keys, "pm1,pm2", "%s: put_many: the unexpired values", name);
	memset(&d, 0, sizeof(d));
	store_put_many(st, "pm", again, 2, done_cb, &d);
	is_int(do_get(st, "pm", "pm1", &d), STORE_OK,
	       "%s: put_many overwrites", name);
	is_str(d.value, "v-pm1b", "%s: put_many: the new value", name);
	st->fault = true;
	memset(&d, 0, sizeof(d));
	store_put_many(st, "pm", kv, 3, done_cb, &d);
	ok(d.calls == 1 && d.result == STORE_E_RETRY, "%s: fault: put_many",
	   name);
	st->fault = false;
	is_int(do_get(st, "pm", "pm1", &d), STORE_OK, "%s: fault: get", name);
	is_str(d.value, "v-pm1b", "%s: fault: put_many changed nothing", name);
	store_put_many(st, "pm", kv, 3, NULL, NULL);	/* cb may be NULL */
}

/*
 * Windows: each row adds to a minute and an hour window of one key at a
 * time, feeding the last answer back in as the caller's view (as the core
 * does); the answers are the two buckets of each.
 */
static void test_window(const char *name, struct store *st)
{
	static const struct {
		const char *label, *key;
		uint32_t now, add;
		uint32_t cur, prev, hcur;	/* minute cur/prev, hour cur */
	} rows[] = {
		{"first add", "a", 7200, 3, 3, 0, 3},
		{"same minute", "a", 7210, 2, 5, 0, 5},
		{"other key apart", "b", 7210, 1, 1, 0, 1},
		{"next minute", "a", 7260, 1, 1, 5, 6},
		{"read only", "a", 7265, 0, 1, 5, 6},
		{"minutes later", "a", 7400, 0, 0, 0, 6},
		{"next hour", "a", 10800, 4, 4, 0, 4},
	};
	struct store_win w[2] = { { 60, 0, { 0, 0, 0 } },
				  { 3600, 0, { 0, 0, 0 } } };
	struct store_win wb[2] = { { 60, 0, { 0, 0, 0 } },
				   { 3600, 0, { 0, 0, 0 } } };
	struct wins r;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct store_win *in = strcmp(rows[i].key, "a") ? wb : w;

		in[0].add = in[1].add = rows[i].add;
		is_int(do_window(st, rows[i].key, rows[i].now, in, 2, &r),
		       STORE_OK, "%s: window: %s", name, rows[i].label);
		if (r.n != 2) {
			ok(0, "%s: window: %s: two windows", name,
			   rows[i].label);
			continue;
		}
		ok(r.w[0].w.idx == rows[i].now / 60 &&
		   r.w[0].w.cur == rows[i].cur && r.w[0].w.prev == rows[i].prev
		   && r.w[1].w.idx == rows[i].now / 3600 &&
		   r.w[1].w.cur == rows[i].hcur,
		   "%s: window: %s: minute %u/%u (want %u/%u), hour %u "
		   "(want %u)", name, rows[i].label, r.w[0].w.cur,
		   r.w[0].w.prev, rows[i].cur, rows[i].prev, r.w[1].w.cur,
		   rows[i].hcur);
		memcpy(in, r.w, sizeof(w));
	}
	/* Two windows of one length are two counters. */
	{
		struct store_win same[2] = { { 3600, 2, { 0, 0, 0 } },
					     { 3600, 5, { 0, 0, 0 } } };

		is_int(do_window(st, "same", 10800, same, 2, &r), STORE_OK,
		       "%s: window: two of one length", name);
		ok(r.n == 2 && r.w[0].w.cur == 2 && r.w[1].w.cur == 5,
		   "%s: window: two of one length count apart (%u, %u)", name,
		   r.n == 2 ? r.w[0].w.cur : 0, r.n == 2 ? r.w[1].w.cur : 0);
	}
	st->fault = true;
	is_int(do_window(st, "a", 10800, w, 1, &r), STORE_E_RETRY,
	       "%s: window: fault", name);
	st->fault = false;
}

/* Everything every backend must agree on. */
static void test_backend(const char *spec, struct event_base *base)
{
	struct store *st;
	char err[512];
	int rc;

	rc = store_open(spec, base, &st, err, sizeof(err));
	is_int(rc, 0, "%s: open (%s)", spec, err);
	if (rc != 0)
		return;
	test_kv(spec, st);
	test_scan(spec, st);
	test_reentry(spec, st);
	test_log(spec, st);
	test_fault(spec, st);
	test_put_many(spec, st);
	test_window(spec, st);
	store_close(st);
}

/* Bad names fail with -EINVAL and a message, leaving *out NULL. */
static void test_bad_spec(void)
{
	static const char *const specs[] = {
		"", "nocolon", "bogus:x", "memory:foo", "sqlite:",
		"redis:unix:/run/redis.sock", "SQLITE:/tmp/x.db",
		"redis:", "redis:unix:relative.sock", "redis:tcp:host",
		"redis:tcp:host:0", "redis:tcp::6379", "redis:tcp:h:99999",
		"redis-sentinel:", "redis-sentinel:master",
		"redis-sentinel:@h:1", "redis-sentinel:m@h", "redis-sentinel:m@",
	};
	struct store *st;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		st = (struct store *)&err;	/* must be overwritten */
		err[0] = '\0';
		is_int(store_open(specs[i], NULL, &st, err, sizeof(err)),
		       -EINVAL, "bad spec \"%s\": -EINVAL", specs[i]);
		ok(st == NULL, "bad spec \"%s\": no store", specs[i]);
		ok(err[0] != '\0', "bad spec \"%s\": message: %s", specs[i],
		   err);
	}
	store_close(NULL);
	ok(1, "close NULL is a no-op");
	is_str(store_result_str(STORE_OK), "ok", "result_str ok");
	is_str(store_result_str(STORE_NOTFOUND), "notfound",
	       "result_str notfound");
	is_str(store_result_str(STORE_E_RETRY), "retry", "result_str retry");
	is_str(store_result_str(-EIO), "error", "result_str errno");
}

/* store_stats(): each operation counted once, by kind; failures (the fault
 * switch) apart from "not found"; every one in a latency bucket. */
static void test_stats(void)
{
	static const struct store_kv kv[2] = {{"a", "v-a", 0}, {"b", "v-b", 0}};
	static const struct {
		const char *label;
		enum store_op op;
		uint64_t ops, failures;
	} rows[] = {
		{"get: one found, one not found, one faulted", STORE_OP_GET, 3, 1},
		{"put: one", STORE_OP_PUT, 1, 0},
		{"put_many: one call for two values", STORE_OP_PUT_MANY, 1, 0},
		{"del: one faulted", STORE_OP_DEL, 1, 1},
		{"scan: one, timed to its end", STORE_OP_SCAN, 1, 0},
		{"append: one", STORE_OP_APPEND, 1, 0},
		{"log: one", STORE_OP_LOG, 1, 0},
	};
	const struct store_stats *ss;
	struct store *st = NULL;
	struct done d = { 0 };
	struct rows r = { 0 };
	char err[256];
	uint64_t total = 0, inb = 0;
	size_t i;

	if (!ok(store_open("memory:", NULL, &st, err, sizeof(err)) == 0,
		"stats: memory store"))
		return;
	ss = store_stats(st);
	store_put(st, "ns", "k", "v-k", 0, done_cb, &d);
	store_put_many(st, "ns", kv, 2, done_cb, &d);
	store_get(st, "ns", "k", get_cb, &d);
	store_get(st, "ns", "missing", get_cb, &d);
	store_scan(st, "ns", "", row_cb, &r);
	store_append(st, "log", "k", "v-1", 1, done_cb, &d);
	memset(&r, 0, sizeof(r));
	store_log(st, "log", "k", row_cb, &r);
	st->fault = true;
	store_get(st, "ns", "k", get_cb, &d);
	store_del(st, "ns", "k", done_cb, &d);
	st->fault = false;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		is_int((long)ss->ops[rows[i].op], (long)rows[i].ops,
		       "stats: %s (%s)", rows[i].label,
		       store_op_name(rows[i].op));
		is_int((long)ss->failures[rows[i].op], (long)rows[i].failures,
		       "stats: %s: failures", rows[i].label);
		total += ss->ops[rows[i].op];
	}
	for (i = 0; i < STORE_LAT_BUCKETS; i++)
		inb += ss->le[i];
	is_int((long)inb, (long)total, "stats: every operation has a latency "
	       "bucket");
	ok(ss->seconds >= 0 && ss->seconds < 60, "stats: the latency sum is "
	   "plausible (%f s)", ss->seconds);
	store_close(st);
}

/* What store_watch reported. */
struct seen {
	int resync;
	char keys[512];
};

/* Record a notice: a key, or a resync (key NULL). */
static void watch_cb(void *arg, const char *ns, const char *key)
{
	struct seen *w = arg;

	(void)ns;
	if (key == NULL)
		w->resync++;
	else
		join(w->keys, sizeof(w->keys), key);
}

/* Run the loop for ms milliseconds. */
static void run_ms(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(wait_base, &tv);
	event_base_dispatch(wait_base);
}

/*
 * Two stores on one server (two hosts): shared windows, notices of each
 * other's writes (not of their own), and the server going away: every
 * call reports STORE_E_RETRY, then works again, with a resync notice.
 */
static void test_redis_fleet(struct redis_server *rsv, const char *spec)
{
	struct store *a = open_or_fail(spec, "fleet a"), *b;
	struct store_win w = { 60, 2, { 0, 0, 0 } };
	struct seen seen = { 0 };
	struct wins r;
	struct done d;
	int i;

	b = open_or_fail(spec, "fleet b");
	if (a == NULL || b == NULL) {
		store_close(a);
		store_close(b);
		return;
	}
	do_window(a, "shared", 600, &w, 1, &r);
	w.add = 3;
	is_int(do_window(b, "shared", 600, &w, 1, &r), STORE_OK,
	       "redis: fleet: window from b");
	is_int(r.n == 1 ? r.w[0].w.cur : 0, 5, "redis: fleet: b sees a's 2 "
	       "and its own 3");

	store_watch(a, "account", watch_cb, &seen);
	for (i = 0; i < 50 && seen.resync == 0; i++)
		run_ms(20);
	ok(seen.resync >= 1, "redis: fleet: subscribed (resync notice)");
	do_put(a, "account", "own", "x", 0);
	do_put(b, "account", "other", "y", 0);
	do_del(b, "account", "gone");
	do_put(b, "held", "not-watched", "z", 0);
	for (i = 0; i < 50 && strstr(seen.keys, "gone") == NULL; i++)
		run_ms(20);
	is_str(seen.keys, "other,gone", "redis: fleet: a hears b's put and "
	       "del of its namespace, not its own put nor other namespaces");

	redis_server_stop(rsv);
	is_int(do_get(a, "account", "other", &d), STORE_E_RETRY,
	       "redis: down: get retries");
	is_int(do_put(a, "account", "k", "v", 0), STORE_E_RETRY,
	       "redis: down: put retries");
	is_int(do_window(a, "shared", 600, &w, 1, &r), STORE_E_RETRY,
	       "redis: down: window retries");
	is_int(do_get(b, "account", "other", &d), STORE_E_RETRY,
	       "redis: down: the other store too");
	seen.resync = 0;
	if (!ok(redis_server_start(rsv) == 0, "redis: restarted"))
		goto out;
	/* Bounded: the backoff is at most 5 s. */
	for (i = 0; i < 80 && do_get(a, "account", "x", &d) != STORE_NOTFOUND;
	     i++)
		run_ms(100);
	is_int(do_get(a, "account", "x", &d), STORE_NOTFOUND,
	       "redis: back: get answers again");
	is_int(do_window(a, "shared", 600, &w, 1, &r), STORE_OK,
	       "redis: back: window answers again");
	for (i = 0; i < 50 && seen.resync == 0; i++)
		run_ms(20);
	ok(seen.resync >= 1, "redis: back: the watcher is told to re-read");
out:
	store_close(a);
	store_close(b);
}

/* AUTH: no password and a wrong one are refused at open; the right works. */
static void test_redis_auth(void)
{
	static const struct {
		const char *label, *user, *password;
		int want;
	} rows[] = {
		{"no password", NULL, NULL, -EIO},
		{"wrong password", NULL, "wrong", -EIO},
		{"right password", NULL, "s3cret-test", 0},
		/* AUTH USER PASSWORD: requirepass is the default user's. */
		{"ACL user default", "default", "s3cret-test", 0},
		{"unknown ACL user", "nobody", "s3cret-test", -EIO},
	};
	struct redis_server rsv = { .password = "s3cret-test" };
	struct store *st;
	char spec[200], err[512];
	size_t i;

	if (!ok(redis_server_start(&rsv) == 0, "redis: auth: server starts")) {
		redis_server_free(&rsv);
		return;
	}
	snprintf(spec, sizeof(spec), "redis:unix:%s", rsv.sock);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct store_opts o = { .password = rows[i].password,
					.timeout_ms = 300,
					.user = rows[i].user };

		err[0] = '\0';
		is_int(store_open_opts(spec, wait_base, &o, &st, err,
				       sizeof(err)), rows[i].want,
		       "redis: auth: %s (%s)", rows[i].label, err);
		ok(strstr(err, "s3cret") == NULL && strstr(err, "wrong") ==
		   NULL, "redis: auth: %s: no password in the message",
		   rows[i].label);
		if (rows[i].want == 0) {
			struct done d;

			is_int(do_put(st, "a", "k", "v", 0), STORE_OK,
			       "redis: auth: put");
			is_int(do_get(st, "a", "k", &d), STORE_OK,
			       "redis: auth: get");
			store_close(st);
		}
	}
	redis_server_free(&rsv);
	err[0] = '\0';
	is_int(store_open("redis-sentinel:m@127.0.0.1:1", wait_base, &st, err,
			  sizeof(err)), -EIO, "redis: no sentinel answers");
	ok(strstr(err, "sentinels") != NULL, "redis: ... says so: %s", err);
}

/* The same semantics on a private redis-server (unix socket). */
static void test_redis(void)
{
	struct redis_server rsv = { 0 };
	char spec[300];

	if (!redis_server_available()) {
		ok(1, "# SKIP redis-server is not installed: redis: untested");
		return;
	}
	/* As mamorid does: a write to a server that went away is an error,
	 * not a signal (hiredis does not ask for MSG_NOSIGNAL). */
	signal(SIGPIPE, SIG_IGN);
	if (!ok(redis_server_start(&rsv) == 0, "redis-server starts")) {
		redis_server_free(&rsv);
		return;
	}
	wait_base = event_base_new();
	snprintf(spec, sizeof(spec), "redis:unix:%s", rsv.sock);
	test_backend(spec, wait_base);
	test_redis_fleet(&rsv, spec);
	test_redis_auth();
	event_base_free(wait_base);
	wait_base = NULL;
	redis_server_free(&rsv);
}

int main(void)
{
	char dir[] = "/tmp/mamori-test-store-XXXXXX";
	char path[256], spec[300];

	test_bad_spec();
	test_stats();
	test_backend("memory:", NULL);

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	snprintf(path, sizeof(path), "%s/state.db", dir);
	snprintf(spec, sizeof(spec), "sqlite:%s", path);
	test_backend(spec, NULL);
	test_sqlite_unlink(path);
	ok(rmdir(dir) == 0, "temp directory removed (%s)", dir);
	test_redis();
	return tap_done();
}
