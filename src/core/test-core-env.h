/*
 * test-core-env - what the outbound core's tests share: a core over a
 * store with local_domains example.test (test_core.h does the setup),
 * messages sent through RCPT and END-OF-MESSAGE as Postfix would, and
 * readers of an account's state through the admin calls.  Included by
 * test-core.c (signals, state machine, release, observe, persistence,
 * accounting) and test-core-snapshot.c (the counters snapshot);
 * header-only, like test_core.h, so each test links nothing extra.
 * Single-threaded; an env lives from env_open to env_close.
 */
#ifndef MAMORI_TEST_CORE_ENV_H
#define MAMORI_TEST_CORE_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/core.h"
#include "core/outbound.h"
#include "store/store.h"
#include "test_core.h"
#include "util/config.h"
#include "util/xalloc.h"

#define T0 1790000000	/* a Monday in 2026, 00:53 UTC */

struct env {
	struct config *cfg;
	struct store *st;
	struct core *core;
};

struct last {
	struct verdict v;
	int calls;
};

__attribute__((unused)) static void got_verdict(void *arg, const struct verdict *v)
{
	struct last *l = arg;

	l->v = *v;
	l->calls++;
}

/*
 * An admin result, kept after the callback: the status, and the members
 * the tests read, copied into a JSON object (the result itself dies with
 * the callback).
 */
struct jres {
	enum core_status status;
	json_t *body;
};

__attribute__((unused)) static void got_json(void *arg, const struct core_result *res)
{
	struct jres *r = arg;
	json_t *b = json_object(), *a;
	size_t i;

	r->status = res->status;
	json_decref(r->body);
	r->body = b;
	if (res->status != CORE_OK)
		return;
	if (res->kind == CORE_R_ACCOUNT || res->kind == CORE_R_ACCOUNT_DETAIL) {
		json_object_set_new(b, "state", json_string(res->account.state));
		json_object_set_new(b, "login", json_string(res->account.login));
		json_object_set_new(b, "strikes",
				    json_integer(res->account.strikes));
	}
	if (res->kind == CORE_R_ACCOUNT_DETAIL) {
		a = json_array();
		for (i = 0; i < res->detail.nevents; i++)
			json_array_append_new(a, json_loads(
				res->detail.events_json[i], 0, NULL));
		json_object_set_new(b, "events", a);
		a = json_array();
		for (i = 0; i < res->detail.held.n; i++)
			json_array_append_new(a, json_string(
				res->detail.held.v[i].queue_id));
		json_object_set_new(b, "held", a);
		json_object_set_new(b, "counters", json_loads(
			res->detail.counters_json, 0, NULL));
	}
	if (res->kind == CORE_R_DMARC) {
		a = json_array();
		for (i = 0; i < res->dmarc.n; i++)
			json_array_append_new(a, json_pack(
				"{s:s, s:s, s:I}", "header_from",
				res->dmarc.v[i].header_from, "disposition",
				res->dmarc.v[i].disposition, "count",
				(json_int_t)res->dmarc.v[i].count));
		json_object_set_new(b, "rows", a);
		json_object_set_new(b, "skipped",
				    json_integer((json_int_t)res->dmarc.skipped));
	}
}

/* A core over store with local_domains example.test, conf appended. */
__attribute__((unused)) static void env_open(struct env *e, const char *conf, const char *store)
{
	char *text = xasprintf("local_domains = example.test\n"
			       "notify_smtp_url =\n%s", conf);

	memset(e, 0, sizeof(*e));
	e->core = test_core_open(text, store, &e->cfg, &e->st);
	free(text);
}

/* Free what env_open made. */
__attribute__((unused)) static void env_close(struct env *e)
{
	test_core_close(e->core, e->st, e->cfg);
}

struct msg {
	const char *login;
	const char *ip;
	const char *sender;
	int rcpts;
	const char *rcpt_fmt;	/* printf with (msgno, rcptno) */
	int64_t now;
	int msgno;
};

/*
 * One message through RCPT (each recipient) and END-OF-MESSAGE, as Postfix
 * would: stops at the first RCPT refusal (HOLD is not one).  Returns the final answer: the
 * refusing RCPT verdict or the EOM verdict.
 */
__attribute__((unused)) static struct verdict send_msg(struct env *e, const struct msg *m)
{
	struct outbound_request r = { 0 };
	char rcpt[256], inst[64], qid[32];
	struct last l = { 0 };
	int i;

	snprintf(inst, sizeof(inst), "%s.%d.%lld", m->login, m->msgno,
		 (long long)m->now);
	snprintf(qid, sizeof(qid), "Q%X%05X", (unsigned)(m->now % 4096),
		 (unsigned)m->msgno);
	r.login = m->login;
	r.sender = m->sender;
	r.client_address = m->ip;
	r.instance = inst;
	r.now = m->now;
	r.queue_id = "";
	for (i = 0; i < m->rcpts; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		/* rcpt_fmt takes exactly (message number, recipient number). */
		snprintf(rcpt, sizeof(rcpt), m->rcpt_fmt, m->msgno, i);
#pragma GCC diagnostic pop
		r.stage = OUT_RCPT;
		r.recipient = rcpt;
		core_outbound(e->core, &r, got_verdict, &l);
		/* HOLD accepts the message (into the hold queue). */
		if (l.v.action == VERDICT_DEFER || l.v.action == VERDICT_REJECT)
			return l.v;
	}
	r.stage = OUT_END_OF_MESSAGE;
	r.recipient = m->rcpts == 1 ? rcpt : "";
	r.recipient_count = m->rcpts;
	r.queue_id = qid;
	core_outbound(e->core, &r, got_verdict, &l);
	return l.v;
}

__attribute__((unused)) static const char *state_of(struct env *e, const char *login)
{
	static char state[32];
	struct jres r = { 0 };

	core_account_show(e->core, login, got_json, &r);
	snprintf(state, sizeof(state), "%s", r.status == CORE_OK ?
		 json_string_value(json_object_get(r.body, "state")) : "none");
	json_decref(r.body);
	return state;
}

__attribute__((unused)) static long strikes_of(struct env *e, const char *login)
{
	struct jres r = { 0 };
	long n;

	core_account_show(e->core, login, got_json, &r);
	n = r.status == CORE_OK ?
		(long)json_integer_value(json_object_get(r.body, "strikes")) : -1;
	json_decref(r.body);
	return n;
}

#endif
