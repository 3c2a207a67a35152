/*
 * fuzz-records - libFuzzer target for the records mamori reads back from
 * its store at start: account states (core/transition.c, namespace
 * "account"), counter snapshots (core/snapshot.c, "counters"), pending
 * notices (core/outbox.c, "notice") and the login engine's IP blocks,
 * incidents and abused accounts (auth/login_ip.c, login_incident.c,
 * login_acct.c: "ipblock", "incident", "incident_acct", "login_abused").
 * A store is shared state: another version, a hand edit or a torn disk can
 * leave anything in it, and a bad record must cost that record, never the
 * daemon.
 *
 * Input: up to RECORDS_MAX lines "NS<TAB>KEY<TAB>VALUE" (VALUE is the JSON
 * text as stored; a line with an unknown NS is skipped).  The records are
 * written to a memory store, which is then loaded the way mamorid starts:
 * core_new(), login_engine_new(), outbox_new() + outbox_replay().
 * Invariants: every load succeeds (bad records are skipped, not fatal); a
 * counters value that core_snapshot_decode() accepts, applied to a fresh
 * account and encoded again, decodes to the same record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/login.h"
#include "core/core-internal.h"
#include "core/outbox.h"
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
	"incident_acct", "login_abused",
};

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

/* Store one "NS\tKEY\tVALUE" line of line[0..n), NUL-terminated at n. */
static void put_line(struct store *st, char *line)
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
	store_put(st, line, key, value, 0, NULL, NULL);
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
	char err[512], *text, *line, *save = NULL;
	int n = 0;

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
	     line = strtok_r(NULL, "\n", &save), n++)
		put_line(st, line);
	free(text);

	if (!(c = core_new(cfg, st, NULL, err, sizeof(err))))
		fail("core_new refused the store");
	core_free(c);
	if (!(le = login_engine_new(cfg, st, err, sizeof(err))))
		fail("login_engine_new refused the store");
	login_engine_free(le);
	nt = notify_new(cfg);
	ob = outbox_new(base, st, nt);
	outbox_replay(ob);
	notify_free(nt);
	outbox_free(ob);
	store_close(st);
	return 0;
}
