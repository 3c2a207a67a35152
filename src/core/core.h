/*
 * core - mamori's decision core for outbound mail.
 *
 * Front-ends translate their wire format into a struct outbound_request and
 * call core_outbound(); the admin API calls the core_account_*,
 * core_held_* and core_dmarc_aggregate functions.  The core never touches
 * sockets or wire formats.
 *
 * It keeps every account's counters in memory (acct.h) and its state in the
 * store.  A state change (normal -> throttled -> restricted -> probation ->
 * normal, suspended at the third strike) is written to the store and only
 * when the store confirms it does the new state take effect and does the
 * verdict go out; so a restriction survives kill -9.  If the write fails the
 * configured store_failure_action answers instead.
 *
 * Threading: everything runs on the daemon's single event-loop thread.
 * Callbacks may run before the call returns (sqlite, memory) or later
 * (networked stores); callers must handle both.
 */
#ifndef MAMORI_CORE_H
#define MAMORI_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "util/buf.h"

struct config;
struct store;
struct notify;
struct core;

enum outbound_stage {
	OUT_OTHER,		/* a stage we don't act on: DUNNO */
	OUT_RCPT,
	OUT_END_OF_MESSAGE,
};

/* One policy question, independent of the wire format.  Borrowed strings. */
struct outbound_request {
	enum outbound_stage stage;
	const char *login;		/* sasl_username; "" = not authenticated */
	const char *sender;		/* envelope sender */
	const char *recipient;		/* at RCPT; at EOM only if exactly one */
	const char *client_address;
	const char *queue_id;
	const char *instance;		/* same for every request of one message */
	long recipient_count;		/* at END-OF-MESSAGE */
	long size;
	int64_t now;			/* unix time; 0 = take the clock */
};

enum verdict_action {
	VERDICT_DUNNO,
	VERDICT_DEFER,			/* DEFER_IF_PERMIT */
	VERDICT_HOLD,
	VERDICT_REJECT,
};

/* A decision with its explanation. */
struct verdict {
	enum verdict_action action;
	char text[512];			/* reply text after the action word */
	char reason[768];		/* key=value explanation for the log */
	const char *state;		/* account state after the decision */
	bool observed;			/* observe mode: would have acted */
	int score;
};

typedef void core_verdict_cb(void *arg, const struct verdict *v);

/*
 * Result of an admin operation.  status is HTTP-like: 200 done, 400 bad
 * request, 404 no such account or message, 409 refused in this state (body
 * says why), 503 store unavailable, 500 failure.  body is a new reference the
 * callback must json_decref().
 */
typedef void core_json_cb(void *arg, int status, json_t *body);

/*
 * Create the core.  cfg, st and nt are borrowed and must outlive the core
 * (nt may be NULL: no notices).  Loads the persisted account states from the
 * store.  Returns NULL with a message in err on failure.
 */
struct core *core_new(const struct config *cfg, struct store *st,
		      struct notify *nt, char *err, size_t errsz);
void core_free(struct core *c);
/* Swap to a new config (the old one must stay alive until this returns);
 * re-reads account_map.  Returns 0 or -1 with err set (old config kept). */
int core_reconfigure(struct core *c, const struct config *cfg, char *err,
		     size_t errsz);

/* Decide one policy request.  cb runs exactly once. */
void core_outbound(struct core *c, const struct outbound_request *req,
		   core_verdict_cb *cb, void *arg);

const char *verdict_action_name(enum verdict_action a);

/* Admin operations; actor names who asked ("admin:uid=0", "api-token"). */
void core_accounts_list(struct core *c, const char *state, core_json_cb *cb,
			void *arg);
void core_account_show(struct core *c, const char *login, core_json_cb *cb,
		       void *arg);
void core_account_restrict(struct core *c, const char *login,
			   const char *reason, const char *actor,
			   core_json_cb *cb, void *arg);
/* Record that the account's password was changed (password portal, Dovecot
 * evidence).  source describes the evidence. */
void core_account_credential_changed(struct core *c, const char *login,
				     const char *source, const char *actor,
				     core_json_cb *cb, void *arg);
/*
 * Release a restricted (or, with force, suspended) account into probation.
 * Refused (409) unless a credential change was recorded after the
 * restriction, or force is set with a non-empty reason.  held is "release",
 * "delete" or "keep": what to do with the messages held for the account.
 */
void core_account_release(struct core *c, const char *login, bool force,
			  const char *reason, const char *held,
			  const char *actor, core_json_cb *cb, void *arg);
/* Held messages, all or for one login (NULL). */
void core_held_list(struct core *c, const char *login, core_json_cb *cb,
		    void *arg);
/* action "release" or "delete" one held message by queue ID. */
void core_held_action(struct core *c, const char *queue_id,
		      const char *action, const char *actor, core_json_cb *cb,
		      void *arg);
/* Filters of a DMARC aggregate listing; borrowed, NULL or "" = none. */
struct core_dmarc_query {
	const char *day;		/* YYYY-MM-DD (UTC), excludes from/to */
	const char *from, *to;		/* inclusive day range, either open */
	const char *domain;		/* header From domain, any case */
};
/*
 * The DMARC aggregate rows the milter counted (namespace "dmarc_agg",
 * dmarc_agg.c): {"rows": [{"day", "source_ip", "header_from", "spf",
 * "dkim", "dmarc", "disposition", "count"}...], "totals": {...},
 * "skipped": N, "truncated": B}, rows in key order.  400 for a malformed
 * filter, 503 when the store fails.  Read-only.
 */
void core_dmarc_aggregate(struct core *c, const struct core_dmarc_query *q,
			  core_json_cb *cb, void *arg);
/*
 * The store key of one DMARC aggregate row, as core_dmarc_aggregate reads
 * it: "DAY|SOURCE_IP|HEADER_FROM|SPF|DKIM|DMARC|DISPOSITION", DAY the UTC
 * date of when; the value is the count.  Malloc'd.  The writer (the
 * milter) and the reader share this one definition.
 */
#define CORE_DMARC_AGG_NS "dmarc_agg"
char *core_dmarc_agg_key(time_t when, const char *source_ip,
			 const char *header_from, const char *spf,
			 const char *dkim, const char *dmarc,
			 const char *disposition);
/*
 * Login signals (src/auth) feeding the outbound score: a login from a new
 * network raises the account's risk until the given time.
 */
void core_login_risk(struct core *c, const char *login, int64_t until);
/*
 * An attacker holds valid credentials for login (credential stuffing):
 * set the forced-reset flag and, when restrict_sending is set, restrict the
 * account's sending with reason.  cb may be NULL.
 */
void core_account_compromised(struct core *c, const char *login,
			      bool restrict_sending, const char *reason,
			      core_json_cb *cb, void *arg);
/*
 * Called with each login the core restricts or suspends, so the login
 * engine can keep the password evidence of the abuse (login_note_abused).
 */
typedef void core_abuse_hook(void *arg, const char *login);
void core_set_abuse_hook(struct core *c, core_abuse_hook *fn, void *arg);
struct outbox;
/* Keep the notices of transitions in o until sent (core/outbox.h). */
void core_set_outbox(struct core *c, struct outbox *o);

/*
 * Counter snapshots (namespace "counters", snapshot.c): call tick from the
 * daemon's periodic timer; it writes the counters of changed accounts, a
 * pass every 60 s, a bounded slice per call.  flush writes every changed
 * account now (clean shutdown, before core_free); 0, or -1 if some write
 * failed (logged).  now is unix time, 0 = take the clock.  core_new loads
 * the snapshot back.
 */
void core_snapshot_tick(struct core *c, int64_t now);
int core_snapshot_flush(struct core *c, int64_t now);

/* Counters and gauges as JSON (GET /v1/stats). */
json_t *core_stats(struct core *c);
/* The same in Prometheus text format (GET /metrics). */
void core_metrics(struct core *c, struct buf *out);

#endif
