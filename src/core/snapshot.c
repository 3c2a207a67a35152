/*
 * snapshot - the outbound counters survive a restart.
 *
 * The account record (transition.c, namespace "account") holds an account's
 * state; the counters the detectors read live in memory (acct.h).  So that a
 * restart (an upgrade, a crash) does not hand a hijacker half-way through a
 * burst a fresh budget, the counters of every account that changed since its
 * last snapshot are written to namespace "counters" (key = login).
 * core_load() reads them back after the account records.
 *
 * Lifetime.  The record holds two kinds of thing: the windows (minute, hour,
 * day) and hourly sketches, which nothing needs after a day, and the habit
 * (habitual and recent networks, habitual peak, first seen, the correspondent
 * filter and the learnt share of new recipients), which a weekly, monthly or
 * quarterly sender needs across restarts and which `mamori learn` writes for
 * a mamorid started later.  One record, expiring SNAP_TTL (90 days) after it
 * was written, serves both: a record is rewritten whenever the account
 * sends, so 90 days after the last write is 90 days after the last
 * message, long enough to span a quarterly sender, bounded so a departed
 * customer's habit (client networks: personal data) goes.  The windows need
 * no separate expiry: every window and sketch carries its bucket index
 * (time / length), so one restored from a record older than its length
 * reads as empty, exactly as if mamorid had stayed up while the account was
 * idle (and the habitual peak decays over the idle hours the same way).  Two
 * records per account (windows a day, habit 90 days) would cost a second
 * write and a second load per account for about 200 bytes of windows;
 * records written before this change keep their one-day expiry.
 *
 * Dirty marking costs one bit of struct acct's flags byte (ACCT_F_DIRTY),
 * set where a request changes counters; writing a record clears it, a failed
 * write sets it again.
 *
 * Cadence and bound: the daemon calls core_snapshot_tick() from its 5 s
 * tick.  A pass over the account table starts every CORE_SNAP_PERIOD (60 s);
 * each tick walks at most CORE_SNAP_SLOTS (262,144) slots of the table and
 * writes at most CORE_SNAP_WRITES (1,000) records, as one store_put_many
 * (one SQLite transaction), and the pass resumes at the next tick.  Measured
 * on the 2-core test machine: walking 262,144 slots of a million-account
 * table takes ~6-13 ms, a batch of 1,000 records ~20-35 ms (JSON encoding
 * is about half of it); a commit per record cost ~0.1 ms each.  So a pass
 * over a million accounts takes 8 ticks when few changed, and one that meets
 * more than 200 changed accounts a second stretches instead of stalling the
 * event loop.  core_snapshot_flush() writes every changed account at once,
 * in batches, for a clean shutdown.
 *
 * Record (JSON text, like every store value; version 1):
 *   {"v":1, "at":T, "first_seen":T,
 *    "win":{"msg_min":[IDX,CUR,PREV], "msg_hour":[...], "ext_hour":[...],
 *           "int_hour":[...], "rcpt_day":[...]},
 *    "nets":[[NET,LAST] x4], "known":[NET x4],
 *    "dom_hour":IDX, "domains":"16 hex digits", "mismatch":N,
 *    "baseline":F, "throttled_msgs":N, "risk_until":T, "newnet_until":T,
 *    "score":N, "suspicious":B,
 *    "rcpts0":"16 hex", "rcpts1":"16 hex", "rcpt_min":[IDX,CUR,PREV],
 *    "hourly":[NEW_RCPTS, RCPTS, UNHOSTED, NOVELTY, NOVELTY_LEARNT (0|1),
 *              NEWNET_WEIGHT], "cc":[KNOWN0, KNOWN1]}
 * The last five (issue 9's signals; "cc" the two habitual client countries
 * as acct.h packs them, 0 = none) are optional: a record written before
 * them loads with those counters at zero, which silences their signals.
 * State, strikes and times stay in the account record.  The baseline is in
 * both: the record's copy is refreshed only at transitions and most accounts
 * have no record, so the later of the two wins on load.  A record that does
 * not parse, or holds a number out of its field's range, is skipped whole:
 * counters restored half-way would be worse than none.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core-internal.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SNAP_NS "counters"
#define SNAP_VERSION 1
#define SNAP_TTL (90 * 86400)	/* the habit's life after the last write */
#define SNAP_BAD_LOGGED 5	/* bad records logged by name at load */

static const char *const win_names[W__COUNT] = {
	"msg_min", "msg_hour", "ext_hour", "int_hour", "rcpt_day",
};

char *core_snapshot_encode(const struct acct *a, uint32_t now)
{
	json_t *o, *win = json_object(), *nets = json_array(),
	       *known = json_array();
	char dom[17];
	char *s;
	int i;

	for (i = 0; i < W__COUNT; i++)
		json_object_set_new(win, win_names[i],
			json_pack("[III]", (json_int_t)a->win[i].idx,
				  (json_int_t)a->win[i].cur,
				  (json_int_t)a->win[i].prev));
	for (i = 0; i < ACCT_RECENT_NETS; i++)
		json_array_append_new(nets,
			json_pack("[II]", (json_int_t)a->recent[i].id,
				  (json_int_t)a->recent[i].last));
	for (i = 0; i < ACCT_KNOWN_NETS; i++)
		json_array_append_new(known, json_integer(a->known[i]));
	snprintf(dom, sizeof(dom), "%016" PRIx64, a->domains);
	o = json_pack("{s:i, s:I, s:I, s:o, s:o, s:o, s:I, s:s, s:i, s:f, "
		      "s:I, s:I, s:I, s:i, s:b}",
		      "v", SNAP_VERSION,
		      "at", (json_int_t)now,
		      "first_seen", (json_int_t)a->first_seen,
		      "win", win, "nets", nets, "known", known,
		      "dom_hour", (json_int_t)a->domains_idx,
		      "domains", dom,
		      "mismatch", (int)a->mismatch_hour,
		      "baseline", (double)a->baseline,
		      "throttled_msgs", (json_int_t)a->throttled_msgs,
		      "risk_until", (json_int_t)a->login_risk_until,
		      "newnet_until", (json_int_t)a->newnet_until,
		      "score", (int)a->score,
		      "suspicious", (a->flags & ACCT_F_SUSPICIOUS) != 0);
	/* issue 9's counters: optional on reading, so records written
	 * before them still load (they start at zero: silence). */
	snprintf(dom, sizeof(dom), "%016" PRIx64, a->rcpts[0]);
	json_object_set_new(o, "rcpts0", json_string(dom));
	snprintf(dom, sizeof(dom), "%016" PRIx64, a->rcpts[1]);
	json_object_set_new(o, "rcpts1", json_string(dom));
	json_object_set_new(o, "rcpt_min",
		json_pack("[III]", (json_int_t)a->rcpt_min.idx,
			  (json_int_t)a->rcpt_min.cur,
			  (json_int_t)a->rcpt_min.prev));
	json_object_set_new(o, "hourly", json_pack("[iiiiii]",
		(int)a->newrcpt_hour, (int)a->rcpt_hour, (int)a->unowned_hour,
		(int)a->novelty, (a->flags & ACCT_F_RCPT_HABIT) ? 1 : 0,
		(int)a->newnet_weight));
	json_object_set_new(o, "cc", json_pack("[ii]", (int)a->cc_known[0],
					       (int)a->cc_known[1]));
	if (a->ppap_day)
		json_object_set_new(o, "ppap", json_integer(a->ppap_day));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* An integer in [0, max] into *out; false otherwise. */
static bool get_uint(const json_t *j, uint64_t max, uint64_t *out)
{
	json_int_t v;

	if (!json_is_integer(j))
		return false;
	v = json_integer_value(j);
	if (v < 0 || (uint64_t)v > max)
		return false;
	*out = (uint64_t)v;
	return true;
}

/* A uint32 member of object o (required). */
static bool get_u32(const json_t *o, const char *name, uint32_t *out)
{
	uint64_t v;

	if (!get_uint(json_object_get(o, name), UINT32_MAX, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* A JSON array of exactly n uint32 into out[]. */
static bool get_u32s(const json_t *arr, size_t n, uint32_t *out)
{
	uint64_t v;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) != n)
		return false;
	for (i = 0; i < n; i++) {
		if (!get_uint(json_array_get(arr, i), UINT32_MAX, &v))
			return false;
		out[i] = (uint32_t)v;
	}
	return true;
}

/* Exactly 16 hex digits into a 64-bit bitmap. */
static bool get_hex64(const json_t *j, uint64_t *out)
{
	const char *s = json_string_value(j);
	uint64_t v = 0;
	int i;

	if (!s || strlen(s) != 16)
		return false;
	for (i = 0; i < 16; i++) {
		int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
			s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;

		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

/* The optional issue-9 fields: absent is fine, malformed is not. */
static bool optional_v2(const json_t *o, struct core_snap_rec *r)
{
	const json_t *j;
	uint32_t tmp[6];
	int i;

	if ((j = json_object_get(o, "rcpts0")) && !get_hex64(j, &r->rcpts[0]))
		return false;
	if ((j = json_object_get(o, "rcpts1")) && !get_hex64(j, &r->rcpts[1]))
		return false;
	if ((j = json_object_get(o, "rcpt_min"))) {
		if (!get_u32s(j, 3, tmp))
			return false;
		if (tmp[1] > UINT16_MAX || tmp[2] > UINT16_MAX)
			return false;
		r->rcpt_min.idx = tmp[0];
		r->rcpt_min.cur = (uint16_t)tmp[1];
		r->rcpt_min.prev = (uint16_t)tmp[2];
	}
	if ((j = json_object_get(o, "hourly"))) {
		if (!get_u32s(j, 6, tmp))
			return false;
		for (i = 0; i < 6; i++)
			if (tmp[i] > (i < 3 ? UINT16_MAX : UINT8_MAX))
				return false;
		r->newrcpt_hour = (uint16_t)tmp[0];
		r->rcpt_hour = (uint16_t)tmp[1];
		r->unowned_hour = (uint16_t)tmp[2];
		r->novelty = (uint8_t)tmp[3];
		r->novelty_hours = (uint8_t)tmp[4];
		r->newnet_weight = (uint8_t)tmp[5];
	}
	if ((j = json_object_get(o, "cc"))) {
		if (!get_u32s(j, ACCT_KNOWN_CC, tmp))
			return false;
		for (i = 0; i < ACCT_KNOWN_CC; i++) {
			if (tmp[i] > UINT16_MAX)
				return false;
			r->cc_known[i] = (uint16_t)tmp[i];
		}
	}
	if ((j = json_object_get(o, "ppap"))) {
		uint64_t day;

		if (!get_uint(j, UINT16_MAX, &day))
			return false;
		r->ppap_day = (uint16_t)day;
	}
	return true;
}

int core_snapshot_decode(const char *text, struct core_snap_rec *r,
			 const char **why)
{
	json_t *o, *win, *nets, *j;
	json_error_t jerr;
	uint64_t v;
	uint32_t tmp[3];
	int i;

	memset(r, 0, sizeof(*r));
	o = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		*why = "not_json_object";
		json_decref(o);
		return -1;
	}
	*why = "version";
	if (!get_uint(json_object_get(o, "v"), 1000, &v) ||
	    v != SNAP_VERSION)
		goto bad;
	*why = "field";
	if (!get_u32(o, "at", &r->at) ||
	    !get_u32(o, "first_seen", &r->first_seen))
		goto bad;
	win = json_object_get(o, "win");
	if (!json_is_object(win))
		goto bad;
	for (i = 0; i < W__COUNT; i++) {
		if (!get_u32s(json_object_get(win, win_names[i]), 3, tmp))
			goto bad;
		r->win[i].idx = tmp[0];
		r->win[i].cur = tmp[1];
		r->win[i].prev = tmp[2];
	}
	nets = json_object_get(o, "nets");
	if (!json_is_array(nets) || json_array_size(nets) != ACCT_RECENT_NETS)
		goto bad;
	for (i = 0; i < ACCT_RECENT_NETS; i++) {
		if (!get_u32s(json_array_get(nets, (size_t)i), 2, tmp))
			goto bad;
		r->recent[i].id = tmp[0];
		r->recent[i].last = tmp[1];
	}
	if (!get_u32s(json_object_get(o, "known"), ACCT_KNOWN_NETS, r->known))
		goto bad;
	if (!get_u32(o, "dom_hour", &r->domains_idx) ||
	    !get_hex64(json_object_get(o, "domains"), &r->domains))
		goto bad;
	if (!get_uint(json_object_get(o, "mismatch"), UINT16_MAX, &v))
		goto bad;
	r->mismatch_hour = (uint16_t)v;
	j = json_object_get(o, "baseline");
	if (!json_is_number(j) || !isfinite(json_number_value(j)) ||
	    json_number_value(j) < 0 || json_number_value(j) > 1e9)
		goto bad;
	r->baseline = (float)json_number_value(j);
	if (!get_u32(o, "throttled_msgs", &r->throttled_msgs) ||
	    !get_u32(o, "risk_until", &r->login_risk_until) ||
	    !get_u32(o, "newnet_until", &r->newnet_until))
		goto bad;
	if (!get_uint(json_object_get(o, "score"), UINT16_MAX, &v))
		goto bad;
	r->score = (uint16_t)v;
	j = json_object_get(o, "suspicious");
	if (!json_is_boolean(j))
		goto bad;
	r->suspicious = json_is_true(j);
	*why = "field";
	if (!optional_v2(o, r))
		goto bad;
	json_decref(o);
	*why = NULL;
	return 0;
bad:
	json_decref(o);
	return -1;
}

void core_snapshot_apply(struct acct *a, const struct core_snap_rec *r)
{
	memcpy(a->win, r->win, sizeof(a->win));
	memcpy(a->recent, r->recent, sizeof(a->recent));
	memcpy(a->known, r->known, sizeof(a->known));
	a->domains_idx = r->domains_idx;
	a->domains = r->domains;
	a->mismatch_hour = r->mismatch_hour;
	/* The account record's baseline is as of its last transition. */
	if (r->at >= a->state_since)
		a->baseline = r->baseline;
	a->throttled_msgs = r->throttled_msgs;
	a->login_risk_until = r->login_risk_until;
	a->newnet_until = r->newnet_until;
	a->score = r->score;
	a->rcpt_min = r->rcpt_min;
	a->rcpts[0] = r->rcpts[0];
	a->rcpts[1] = r->rcpts[1];
	a->newrcpt_hour = r->newrcpt_hour;
	a->rcpt_hour = r->rcpt_hour;
	a->unowned_hour = r->unowned_hour;
	a->novelty = r->novelty;
	if (r->novelty_hours)
		a->flags |= ACCT_F_RCPT_HABIT;
	else
		a->flags &= (uint8_t)~ACCT_F_RCPT_HABIT;
	a->newnet_weight = r->newnet_weight;
	memcpy(a->cc_known, r->cc_known, sizeof(a->cc_known));
	a->ppap_day = r->ppap_day;
	if (r->first_seen && (!a->first_seen || r->first_seen < a->first_seen))
		a->first_seen = r->first_seen;
	if (r->suspicious)
		a->flags |= ACCT_F_SUSPICIOUS;
	else
		a->flags &= (uint8_t)~ACCT_F_SUSPICIOUS;
	a->flags &= (uint8_t)~ACCT_F_DIRTY;
	if (r->at > a->last_seen)
		a->last_seen = r->at;
}

/* One batch of records in flight: the accounts it holds. */
struct snap_batch {
	struct core *c;
	size_t n, cap;
	struct acct **a;
};

static void snap_batch_free(struct snap_batch *b)
{
	free(b->a);
	free(b);
}

/* A batch was written (or not): a failure leaves its accounts dirty. */
static void snap_written(void *arg, int result)
{
	struct snap_batch *b = arg;
	size_t i;

	b->c->snap.inflight--;
	if (result != STORE_OK) {
		for (i = 0; i < b->n; i++)
			b->a[i]->flags |= ACCT_F_DIRTY;
		b->c->snap.failed += b->n;
		b->c->stats.store_failures++;
	} else {
		b->c->snap.written += b->n;
	}
	snap_batch_free(b);
}

/*
 * Write the accounts of b in one store_put_many (one SQLite transaction:
 * a commit per record would cost ~0.1 ms each), clearing their dirty bits
 * first.  Takes b.  Returns false if the store failed at once.
 */
static bool snap_write(struct snap_batch *b, uint32_t now)
{
	struct core *c = b->c;
	struct store_kv *kv = xcalloc(b->n, sizeof(*kv));
	size_t i, n = b->n, failed0 = c->snap.failed;

	for (i = 0; i < n; i++) {
		kv[i].key = b->a[i]->login;
		kv[i].value = core_snapshot_encode(b->a[i], now);
		kv[i].expires = (int64_t)now + SNAP_TTL;
		b->a[i]->flags &= (uint8_t)~ACCT_F_DIRTY;
	}
	c->snap.inflight++;	/* evict.c leaves b's accounts alone */
	store_put_many(c->st, SNAP_NS, kv, n, snap_written, b);
	for (i = 0; i < n; i++)
		free((char *)kv[i].value);
	free(kv);
	return c->snap.failed == failed0;
}

/* A new, empty batch for up to cap accounts; snap_batch_free frees. */
static struct snap_batch *snap_batch_new(struct core *c, size_t cap)
{
	struct snap_batch *b = xcalloc(1, sizeof(*b));

	b->c = c;
	b->cap = cap;
	b->a = xcalloc(cap, sizeof(*b->a));
	return b;
}

/* Walk callback: collect a dirty account; false once the batch is full. */
static bool snap_collect(struct acct *a, void *arg)
{
	struct snap_batch *b = arg;

	if (a->flags & ACCT_F_DIRTY)
		b->a[b->n++] = a;
	return b->n < b->cap;
}

/* Log a finished pass when it did or missed something worth saying. */
static void snap_pass_done(struct core *c, uint32_t now)
{
	if (c->snap.failed)
		log_msg(LOG_L_WARN,
			"event=counters_snapshot written=%zu failed=%zu "
			"seconds=%u note=\"failed accounts are retried next pass\"",
			c->snap.written, c->snap.failed, now - c->snap.pass_start);
	else if (c->snap.written)
		log_msg(LOG_L_DEBUG,
			"event=counters_snapshot written=%zu failed=0 seconds=%u",
			c->snap.written, now - c->snap.pass_start);
	c->snap.active = false;
}

size_t core_snapshot_step(struct core *c, int64_t now_, size_t max_slots,
			  size_t max_writes)
{
	uint32_t now = core_now(now_);
	struct snap_batch *b;
	size_t cursor, n;

	if (!c->snap.active) {
		if (c->snap.pass_start &&
		    now - c->snap.pass_start < CORE_SNAP_PERIOD)
			return 0;
		c->snap.active = true;
		c->snap.pass_start = now;
		c->snap.cursor = 0;
		c->snap.written = c->snap.failed = 0;
	}
	if (max_writes == 0)
		return 0;
	b = snap_batch_new(c, max_writes);
	cursor = acct_table_walk(c->accounts, c->snap.cursor, max_slots,
				 snap_collect, b);
	n = b->n;
	/* A store that fails at once is tried again from here next tick. */
	if (n && !snap_write(b, now))
		return n;
	if (!n)
		snap_batch_free(b);
	c->snap.cursor = cursor;
	if (cursor == 0)
		snap_pass_done(c, now);
	return n;
}

void core_snapshot_tick(struct core *c, int64_t now)
{
	core_snapshot_step(c, now, CORE_SNAP_SLOTS, CORE_SNAP_WRITES);
}

int core_snapshot_flush(struct core *c, int64_t now_)
{
	uint32_t now = core_now(now_);
	size_t cursor = 0, written = c->snap.written, failed = c->snap.failed;

	do {
		struct snap_batch *b = snap_batch_new(c, CORE_SNAP_WRITES);

		cursor = acct_table_walk(c->accounts, cursor, SIZE_MAX,
					 snap_collect, b);
		if (b->n)
			snap_write(b, now);
		else
			snap_batch_free(b);
	} while (cursor != 0);
	written = c->snap.written - written;
	failed = c->snap.failed - failed;
	log_msg(failed ? LOG_L_ERR : LOG_L_INFO,
		"event=counters_saved accounts=%zu failed=%zu", written, failed);
	return failed ? -1 : 0;
}

struct snap_load {
	struct core *c;
	int result;
	size_t n, bad;
};

/* One stored counters record: restore it, or count and skip it. */
static void snap_load_row(void *arg, int result, const char *key,
			  const char *value, int64_t ts)
{
	struct snap_load *l = arg;
	struct core_snap_rec r;
	const char *why;
	struct acct *a;

	(void)ts;
	if (!key) {
		l->result = result;
		return;
	}
	if (core_snapshot_decode(value, &r, &why) != 0) {
		char q1[LOG_QSZ], q2[LOG_QSZ];
		char sample[129];

		/* A bounded, escaped sample of the first few bad records. */
		if (l->bad++ < SNAP_BAD_LOGGED) {
			snprintf(sample, sizeof(sample), "%s", value);
			log_msg(LOG_L_WARN,
				"event=counters_bad_record account=%s why=%s "
				"value=%s", log_q(q1, sizeof(q1), key), why,
				log_q(q2, sizeof(q2), sample));
		}
		return;
	}
	a = acct_table_get(l->c->accounts, key, true,
			   r.first_seen ? r.first_seen : core_now(0));
	core_snapshot_apply(a, &r);
	l->n++;
}

void core_snapshot_load(struct core *c)
{
	struct snap_load l = { .c = c, .result = -1 };

	store_scan(c->st, SNAP_NS, "", snap_load_row, &l);
	if (l.result != STORE_OK)
		log_msg(LOG_L_ERR,
			"event=counters_load_failed store=%s restored=%zu "
			"note=\"windows of the other accounts start empty\"",
			l.result == -1 ? "no_answer" :
			store_result_str(l.result), l.n);
	c->snap.loaded = l.n;
	c->snap.load_bad = l.bad;
	log_msg(l.bad ? LOG_L_WARN : LOG_L_INFO,
		"event=counters_loaded accounts=%zu bad_records=%zu",
		l.n, l.bad);
}

/* The answer to one core_snapshot_recall(). */
struct snap_recall {
	struct core *c;
	const char *key;
	int result;
};

/* store_get callback: restore the one record, if it decodes. */
static void snap_recall_got(void *arg, int result, const char *value)
{
	struct snap_recall *r = arg;
	struct core_snap_rec rec;
	const char *why;
	struct acct *a;

	r->result = result;
	if (result != STORE_OK || !value)
		return;
	if (core_snapshot_decode(value, &rec, &why) != 0) {
		char q[LOG_QSZ];

		log_msg(LOG_L_WARN, "event=counters_bad_record account=%s "
			"why=%s", log_q(q, sizeof(q), r->key), why);
		r->result = STORE_NOTFOUND;
		return;
	}
	a = acct_table_get(r->c->accounts, r->key, true,
			   rec.first_seen ? rec.first_seen : core_now(0));
	core_snapshot_apply(a, &rec);
}

int core_snapshot_recall(struct core *c, const char *key)
{
	struct snap_recall r = { .c = c, .key = key, .result = -1 };

	store_get(c->st, SNAP_NS, key, snap_recall_got, &r);
	/* A store that answers later (none yet) counts as "not found". */
	return r.result == -1 ? STORE_NOTFOUND : r.result;
}
