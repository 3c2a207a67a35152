/*
 * fuzz-records - libFuzzer target for the records mamori reads back from
 * its store: at start, account states (core/transition.c, namespace
 * "account"), counter snapshots (core/snapshot.c, "counters"), pending
 * notices (core/outbox.c, "notice") and the login engine's IP blocks,
 * incidents and abused accounts (auth/login_ip.c, login_incident.c,
 * login_acct.c: "ipblock", "incident", "incident_acct", "login_abused");
 * on admin requests (core/admin*.c, dmarc_agg.c), held messages ("held"),
 * account event trails ("event", a log) and DMARC aggregate counts
 * ("dmarc_agg", the key is the row); the sent Message-ID log loaded into
 * its memory index (core/sentlog.c, "sent").  A store is shared state: another
 * version, a hand edit or a torn disk can leave anything in it, and a bad
 * record must cost that record, never the daemon.
 *
 * Input: up to RECORDS_MAX lines "NS<TAB>KEY<TAB>VALUE" (VALUE is the text
 * as stored; a line with an unknown NS is skipped).  The records are
 * written to a memory store, which is then loaded the way mamorid starts
 * (core_new(), login_engine_new(), outbox_new() + outbox_replay(),
 * sentlog_attach()) and read through every admin listing, and shown by
 * each KEY given (and asked of the sent log as a Message-ID).
 * Invariants: every load succeeds (bad records are skipped, not fatal);
 * each admin call answers once, with a known status, "" as the error when
 * it succeeded, the strings of its rows set and the incident JSON it
 * builds valid; the sent log within its bound, matching no more ids than
 * asked; a counters value that core_snapshot_decode() accepts,
 * applied to a fresh account and encoded again, decodes to the same record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "auth/login.h"
#include "core/admin.h"
#include "core/core-internal.h"
#include "core/outbox.h"
#include "core/sentlog.h"
#include "notify/notify.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RECORDS_MAX 16

/* Notices go nowhere: no relay, no webhook. */
static const char conf_text[] =
	"notify_smtp_url =\nwebhook_url =\n";

static const char *const namespaces[] = {
	"account", "counters", OUTBOX_NS, "ipblock", "incident",
	"incident_acct", "login_abused", "held", "event", CORE_DMARC_AGG_NS,
	SENTLOG_NS,
};

#define NS_EVENT 8		/* a log: appended, not put */

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-records: invariant broken: %s\n", what);
	abort();
}

/* A decoded counters record survives apply + encode + decode. */
static void check_counters(const char *value)
{
	struct core_snap_rec r1, r2;
	struct acct_table *t;
	struct acct *a;
	const char *why = NULL;
	char *again;

	if (core_snapshot_decode(value, &r1, &why) != 0) {
		if (why == NULL)
			fail("counters refused without a reason");
		return;
	}
	t = acct_table_new();
	a = acct_table_get(t, "fuzz@example.com", true, r1.first_seen);
	core_snapshot_apply(a, &r1);
	again = core_snapshot_encode(a, r1.at);
	if (core_snapshot_decode(again, &r2, &why) != 0)
		fail("encoded counters do not decode");
	if (memcmp(&r1, &r2, sizeof(r1)) != 0)
		fail("counters change over apply + encode");
	free(again);
	acct_table_free(t);
}

/* Is text a JSON document? */
static bool is_json(const char *text)
{
	json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;

	json_decref(j);
	return j != NULL;
}

/* Every held row has its queue ID and login. */
static void check_held(const struct core_held_list *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (!h->v[i].queue_id || !h->v[i].login)
			fail("held row");
}

/* Check one admin answer; arg counts the answers. */
static void check_result(void *arg, const struct core_result *r)
{
	size_t i;

	++*(int *)arg;
	if ((unsigned)r->status > CORE_E_FAIL || r->error == NULL)
		fail("admin status");
	if (r->status != CORE_OK)
		return;
	if (r->error[0] != '\0')
		fail("admin error text on success");
	switch (r->kind) {
	case CORE_R_ACCOUNTS:
		for (i = 0; i < r->accounts.n; i++)
			if (!r->accounts.v[i].login || !r->accounts.v[i].state)
				fail("account row");
		break;
	case CORE_R_ACCOUNT_DETAIL:
		if (!r->account.login || !r->account.state ||
		    !is_json(r->detail.counters_json))
			fail("account detail");
		for (i = 0; i < r->detail.nevents; i++)
			if (!r->detail.events_json[i])
				fail("event text");
		check_held(&r->detail.held);
		break;
	case CORE_R_HELD:
		check_held(&r->held);
		break;
	case CORE_R_DMARC:
		for (i = 0; i < r->dmarc.n; i++)
			if (!r->dmarc.v[i].day || !r->dmarc.v[i].disposition ||
			    r->dmarc.v[i].count < 0)
				fail("dmarc row");
		break;
	case CORE_R_IPS:
		for (i = 0; i < r->ips.n; i++)
			if (!r->ips.v[i].ip || !r->ips.v[i].state)
				fail("ip row");
		break;
	case CORE_R_INCIDENTS:
		for (i = 0; i < r->incidents.n; i++)
			if (!is_json(r->incidents.json[i]))
				fail("incident list JSON");
		break;
	case CORE_R_INCIDENT:
		if (!is_json(r->incident))
			fail("incident JSON");
		break;
	case CORE_R_TEXT:
		if (!r->text || !r->ctype)
			fail("text result");
		break;
	default:
		break;
	}
}

/* Every admin read over the loaded store; keys[0..n) are shown one by
 * one.  Each call must answer exactly once, before it returns (memory). */
static void admin_reads(struct core *c, char *const *keys, int n)
{
	static const struct core_dmarc_query q_all, q_domain = {
		.domain = "example.com" }, q_day = { .day = "2026-12-06" };
	int i, calls = 0, want = 0;

#define CALL(expr) do { expr; if (calls != ++want) fail("answers"); } \
	while (0)
	CALL(core_accounts_list(c, "all", check_result, &calls));
	CALL(core_accounts_list(c, NULL, check_result, &calls));
	CALL(core_held_list(c, NULL, check_result, &calls));
	CALL(core_dmarc_aggregate(c, &q_all, check_result, &calls));
	CALL(core_dmarc_aggregate(c, &q_domain, check_result, &calls));
	CALL(core_dmarc_aggregate(c, &q_day, check_result, &calls));
	CALL(core_ips_list(c, check_result, &calls));
	CALL(core_incidents_list(c, check_result, &calls));
	for (i = 0; i < n; i++) {
		CALL(core_account_show(c, keys[i], check_result, &calls));
		CALL(core_held_list(c, keys[i], check_result, &calls));
		CALL(core_incident_show(c, keys[i], check_result, &calls));
		CALL(core_incident_csv(c, keys[i], check_result, &calls));
	}
#undef CALL
}

/* Load the sent log from st (bound 4) and ask it about every key. */
static void sent_reads(struct store *st, char **keys, int n)
{
	struct sentlog *sl = sentlog_new(4, 180 * 86400L);
	struct sentlog_query q = { .ids = (const char *const *)keys,
				   .n_ids = (size_t)n, .addr = "a@example.jp",
				   .account = "taro",
				   .now = (int64_t)time(NULL) };
	struct sentlog_match m;

	sentlog_attach(sl, st, q.now);
	if (sentlog_count(sl) > 4)
		fail("sent log past its bound");
	if (sentlog_match(sl, &q, &m) != 0 || m.matched > (size_t)n ||
	    (m.matched && m.first >= (size_t)n))
		fail("sent log answer out of range");
	sentlog_free(sl);
}

/* Store one "NS\tKEY\tVALUE" line; its KEY goes to *key (in line). */
static void put_line(struct store *st, char *line, char **keyp)
{
	char *key, *value;
	size_t i;

	if (!(key = strchr(line, '\t')) || !(value = strchr(key + 1, '\t')))
		return;
	*key++ = '\0';
	*value++ = '\0';
	for (i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++)
		if (strcmp(line, namespaces[i]) == 0)
			break;
	if (i == sizeof(namespaces) / sizeof(namespaces[0]))
		return;
	if (i == 1)
		check_counters(value);
	if (i == NS_EVENT)
		store_append(st, line, key, value, 0, NULL, NULL);
	else
		store_put(st, line, key, value, 0, NULL, NULL);
	*keyp = key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config *cfg;
	static struct event_base *base;
	struct store *st = NULL;
	struct login_engine *le;
	struct notify *nt;
	struct outbox *ob;
	struct core *c;
	char err[512], *text, *line, *save = NULL, *keys[RECORDS_MAX];
	int n = 0, nkeys = 0;

	if (cfg == NULL) {
		log_set_level(LOG_L_FATAL);
		cfg = config_load_buffer(conf_text, sizeof(conf_text) - 1,
					 "fuzz.conf", err, sizeof(err));
		base = event_base_new();
		if (cfg == NULL || base == NULL)
			fail("setup");
	}
	if (store_open("memory:", base, &st, err, sizeof(err)) != 0)
		fail("memory store");
	/* Store values are C strings: the input ends at a NUL. */
	text = strndup((const char *)data, size);
	for (line = strtok_r(text, "\n", &save); line && n < RECORDS_MAX;
	     line = strtok_r(NULL, "\n", &save), n++) {
		keys[nkeys] = NULL;
		put_line(st, line, &keys[nkeys]);
		nkeys += keys[nkeys] != NULL;
	}

	if (!(c = core_new(cfg, st, NULL, err, sizeof(err))))
		fail("core_new refused the store");
	if (!(le = login_engine_new(cfg, st, err, sizeof(err))))
		fail("login_engine_new refused the store");
	core_set_login(c, le);
	admin_reads(c, keys, nkeys);
	core_free(c);
	login_engine_free(le);
	sent_reads(st, keys, nkeys);	/* keys point into text */
	free(text);
	nt = notify_new(cfg);
	ob = outbox_new(base, st, nt);
	outbox_replay(ob);
	notify_free(nt);
	outbox_free(ob);
	store_close(st);
	return 0;
}
