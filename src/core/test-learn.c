/*
 * test-learn - the core over history: learning (core_set_learning) makes
 * no transition but learns habits, the counter snapshot carries them into
 * a new core on the same store, and core_offline_new/free make and free a
 * core with its own store and login engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core-internal.h"
#include "core/core.h"
#include "tap.h"
#include "util/config.h"
#include "util/log.h"

#define T0 1790000000

/* Verdict callback: keep the state name. */
static void got(void *arg, const struct verdict *v)
{
	*(const char **)arg = v->state;
}

/*
 * Send n messages from login (RCPT per recipient, then EOM), one every
 * gap seconds from t, from nets distinct /24s in turn; returns the state
 * after the last one.
 */
static const char *burst(struct core *c, const char *login, int n, int nets,
			 int rcpts, int64_t t, int gap)
{
	const char *state = "-";
	char ip[32], rcpt[64], inst[32];
	int i, k;

	for (i = 0; i < n; i++) {
		struct outbound_request q = {0};

		snprintf(ip, sizeof(ip), "198.51.%d.7", i % nets);
		snprintf(inst, sizeof(inst), "i%d.%lld", i, (long long)t);
		q.login = login;
		q.sender = login;
		q.client_address = ip;
		q.queue_id = "";
		q.instance = inst;
		q.now = t + (int64_t)i * gap;
		for (k = 0; k < rcpts; k++) {
			snprintf(rcpt, sizeof(rcpt), "r%d@d%d-%d.example", k,
				 i, k);
			q.stage = OUT_RCPT;
			q.recipient = rcpt;
			core_outbound(c, &q, got, &state);
		}
		q.stage = OUT_END_OF_MESSAGE;
		q.recipient = "";
		q.recipient_count = rcpts;
		core_outbound(c, &q, got, &state);
	}
	return state;
}

static const struct row {
	const char *label;
	bool learning;
	int n, nets, rcpts, gap;
	const char *want;
} rows[] = {
	{"a burst from 6 networks, live: acted on", false, 40, 6, 10, 5,
	 "restricted"},
	{"the same burst, learning: normal", true, 40, 6, 10, 5, "normal"},
	{"ordinary mail, live: normal", false, 10, 1, 1, 1800, "normal"},
	{"ordinary mail, learning: normal", true, 10, 1, 1, 1800, "normal"},
};

/* Each row on a fresh memory core. */
static void test_rows(const struct config *cfg)
{
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct core *c = core_offline_new(cfg, "memory:", false, err,
						  sizeof(err));

		if (!ok(c != NULL, "%s: core", rows[i].label))
			continue;
		core_set_learning(c, rows[i].learning);
		is_str(burst(c, "u@example.test", rows[i].n, rows[i].nets,
			     rows[i].rcpts, T0, rows[i].gap), rows[i].want,
		       "%s", rows[i].label);
		core_offline_free(c);
	}
}

/* Learnt on one core, flushed, loaded by the next on the same store. */
static void test_carry(const struct config *cfg)
{
	char path[64], spec[80], err[256];
	struct core *c;
	struct acct *a;
	int fd;

	snprintf(path, sizeof(path), "/tmp/test-learn.XXXXXX");
	fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
	snprintf(spec, sizeof(spec), "sqlite:%s", path);
	c = core_offline_new(cfg, spec, true, err, sizeof(err));
	if (!ok(c != NULL, "sqlite core with a login engine: %s", err))
		return;
	core_set_learning(c, true);
	burst(c, "alice@example.test", 30, 1, 2, T0, 3600);
	is_int(core_snapshot_flush(c, 0), 0, "learnt counters written");
	core_offline_free(c);

	c = core_offline_new(cfg, spec, false, err, sizeof(err));
	if (!ok(c != NULL, "a new core on the learnt store"))
		return;
	a = acct_table_get(c->accounts, "alice@example.test", false, 0);
	ok(a != NULL, "alice is known after the restart");
	if (a) {
		uint32_t net;

		acct_net_of("198.51.0.7", &net);
		ok(acct_net_known(a, net), "her network is habitual");
		is_int(a->first_seen, T0, "first seen at her first message");
		ok(a->baseline >= 1, "her hourly peak was learnt (%.2f)",
		   (double)a->baseline);
		is_str(acct_state_name(a->state), "normal", "state normal");
	}
	core_offline_free(c);
	unlink(path);
}

int main(void)
{
	char err[256];
	struct config *cfg = config_load(NULL, err, sizeof(err));

	log_setup("test-learn", false, LOG_L_ERR);
	if (!ok(cfg != NULL, "default config"))
		return tap_done();
	test_rows(cfg);
	test_carry(cfg);
	ok(core_offline_new(cfg, "nosuch:x", false, err, sizeof(err)) == NULL &&
	   strstr(err, "nosuch") != NULL, "an unknown store: NULL, why in err");
	core_offline_free(NULL);
	config_free(cfg);
	return tap_done();
}
