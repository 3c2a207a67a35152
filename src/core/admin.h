/*
 * admin - the core's administrative interface: what the admin API (and so
 * the CLI) may ask of the core, answered as a status and typed results.
 *
 * No wire format here: the HTTP front-end (front/http_api.c) turns a
 * struct core_result into an HTTP status and JSON (docs/api.md).  The only
 * JSON the results carry is stored evidence that already is a JSON
 * document (an account's event trail, its counters as a transition stores
 * them, a login-abuse incident's records): those pass through as opaque
 * text for the front-end to embed.
 *
 * Ownership: a result and everything it points to belong to the core and
 * live until the callback returns.  A front-end copies what it keeps.
 *
 * Threading: the daemon's event-loop thread.  A callback may run before the
 * call returns (memory, sqlite) or later (a store write, a held-mail
 * command); it runs exactly once, unless the call says otherwise.
 *
 * Actors name who asked: "admin:uid=0" on the unix socket, "api-token".
 */
#ifndef MAMORI_CORE_ADMIN_H
#define MAMORI_CORE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct core;

/* How an admin call ended. */
enum core_status {
	CORE_OK = 0,
	CORE_E_INVALID,		/* a malformed or missing argument */
	CORE_E_NOTFOUND,	/* no such account, message, block, incident;
				 * or the login-abuse engine is off */
	CORE_E_CONFLICT,	/* refused in the current state (error says
				 * why and what to do) */
	CORE_E_RETRY,		/* the store is unavailable; nothing changed */
	CORE_E_FAIL,		/* an action failed (a held-mail command) */
};

/* Which member of struct core_result holds the answer. */
enum core_result_kind {
	CORE_R_NONE,		/* status and error only */
	CORE_R_ACCOUNTS,	/* accounts */
	CORE_R_ACCOUNT,		/* account (+ held_action when set) */
	CORE_R_ACCOUNT_DETAIL,	/* account + detail */
	CORE_R_HELD,		/* held */
	CORE_R_HELD_DONE,	/* held_done */
	CORE_R_DMARC,		/* dmarc */
	CORE_R_IPS,		/* ips */
	CORE_R_IP,		/* ips.v[0]: one address state */
	CORE_R_IP_UNBLOCKED,	/* ip_unblocked */
	CORE_R_INCIDENTS,	/* incidents */
	CORE_R_INCIDENT,	/* incident */
	CORE_R_TEXT,		/* text: a document of content type ctype */
	CORE_R_ALLOWS,		/* allows (one entry after an add) */
	CORE_R_ALLOW_DELETED,	/* allow_deleted */
};

/* An account's state record (GET /v1/accounts/LOGIN, top members). */
struct core_account {
	const char *login;
	const char *state;		/* acct_state_name() */
	int strikes;
	int64_t since, until, last_strike, credential_changed, first_seen;
	const char *reason;		/* NULL: none */
	bool throttle_suspicious;
	bool force_reset;
};

/* One row of an account listing. */
struct core_account_row {
	const char *login;
	const char *state;
	int strikes;
	int score;
	int64_t since;
	const char *class_name;
};

struct core_account_list {
	const struct core_account_row *v;
	size_t n;
	bool truncated;
};

/* The last held-mail command run for a message that is still held. */
struct core_held_attempt {
	const char *action;		/* "release" or "delete" */
	const char *result;		/* "failed", "timeout", "error" */
	int exit_status;		/* -1: killed or never started */
	int64_t time;
	int64_t duration_ms;
};

/* One message mamorid put on hold. */
struct core_held_row {
	const char *queue_id;
	const char *login;
	int64_t time;
	bool have_attempt;
	struct core_held_attempt attempt;
};

struct core_held_list {
	const struct core_held_row *v;
	size_t n;
};

/* A class's limits as the account show lists them. */
struct core_limits {
	int64_t msgs_per_minute, msgs_per_hour, ext_rcpts_per_hour,
		int_rcpts_per_hour, rcpts_per_day, score_throttle,
		score_restrict;
};

/* What GET /v1/accounts/LOGIN adds to the state record. */
struct core_account_detail {
	const char *class_name;
	bool observe;			/* mode observe, else enforce */
	int score;
	const char *counters_json;	/* the evidence document (a JSON
					 * object), as a transition stores it */
	struct core_limits limits;
	struct core_held_list held;
	const char *const *events_json;	/* stored event records, oldest
					 * first, each a JSON document */
	size_t nevents;
	const char *logins_json;	/* the login engine's view (a JSON
					 * object); NULL when it is off */
};

/* Held messages acted on (release, or one held message). */
struct core_held_done {
	const char *action;		/* "release", "delete" or "keep" */
	const char *const *ids;		/* the queue IDs done */
	size_t n;
};

#define CORE_DMARC_DKIM_MAX 4		/* = MAILAUTH_DKIM_MAX */

/*
 * The per-identifier details of a DMARC aggregate row (core.h, "One DMARC
 * aggregate row"): align "none", "spf", "dkim" or "both", override an RFC
 * 9990 PolicyOverrideType or "", spf_scope "mfrom", "helo" or "", the
 * SPF domain, up to CORE_DMARC_DKIM_MAX signatures.  A row of the old
 * format has align "" and the rest "" / 0.
 */
struct core_dmarc_auth {
	const char *align, *override, *spf_scope, *spf_domain;
	struct core_dmarc_sig {
		const char *d, *s, *result;
	} sig[CORE_DMARC_DKIM_MAX];
	size_t nsig;
};

/* One DMARC aggregate row (namespace "dmarc_agg", dmarc_agg.c). */
struct core_dmarc_row {
	const char *day;		/* YYYY-MM-DD */
	const char *source_ip, *header_from, *spf, *dkim, *dmarc,
		*disposition;
	int64_t count;
	struct core_dmarc_auth auth;
};

/* The DMARC results of the totals, in this order. */
#define CORE_DMARC_NRESULTS 5
extern const char *const core_dmarc_result_names[CORE_DMARC_NRESULTS];

struct core_dmarc_report {
	const struct core_dmarc_row *v;
	size_t n;
	int64_t messages, spf_pass, dkim_pass, quarantined, rejected;
	int64_t by_result[CORE_DMARC_NRESULTS];
	size_t skipped;
	bool truncated;
};

/* One address or network in a login-abuse state. */
struct core_ip_state {
	const char *ip;			/* address or CIDR */
	const char *state;		/* "delayed", "stuffing", "blocked" */
	int64_t since;
	bool have_until;		/* false for a delayed address */
	int64_t until;
	int level;
	const char *rule;
	const char *reason;
	const char *actor;		/* NULL for a delayed address */
	bool manual;
	const char *incident;
};

struct core_ip_list {
	const struct core_ip_state *v;
	size_t n;
};

/* An address or range whose state was lifted. */
struct core_ip_unblocked {
	const char *ip;
	const char *actor;
};

/* An entry of the stored login allowlist. */
struct core_allow {
	const char *net;		/* address or CIDR, normalised */
	int64_t since;
	int64_t until;			/* 0: no end */
	const char *reason;
	const char *actor;
};

struct core_allow_list {
	const struct core_allow *v;
	size_t n;
};

/* An allowlist entry that was removed. */
struct core_allow_deleted {
	const char *net;
	const char *actor;
};

/* Login-abuse incidents: the engine's stored records, as JSON objects. */
struct core_incident_list {
	const char *const *json;
	size_t n;
};

/* One result.  Only the member named by kind is set. */
struct core_result {
	enum core_status status;
	const char *error;		/* for a person; "" when CORE_OK */
	enum core_result_kind kind;
	struct core_account account;
	const struct core_held_done *held_action; /* with ACCOUNT: release */
	struct core_account_list accounts;
	struct core_account_detail detail;
	struct core_held_list held;
	struct core_held_done held_done;
	struct core_dmarc_report dmarc;
	struct core_ip_list ips;
	struct core_ip_unblocked ip_unblocked;
	struct core_allow_list allows;
	struct core_allow_deleted allow_deleted;
	struct core_incident_list incidents;
	const char *incident;		/* one incident, a JSON object */
	const char *text;		/* CORE_R_TEXT */
	const char *ctype;
};

typedef void core_admin_cb(void *arg, const struct core_result *r);

/*
 * Accounts in state (acct_state_name(), "all"; NULL or "": every account
 * that is not simply normal).  CORE_R_ACCOUNTS; INVALID for an unknown
 * state.
 */
void core_accounts_list(struct core *c, const char *state, core_admin_cb *cb,
			void *arg);
/* One account with its counters, limits, held mail and event trail.
 * CORE_R_ACCOUNT_DETAIL; NOTFOUND; RETRY. */
void core_account_show(struct core *c, const char *login, core_admin_cb *cb,
		       void *arg);
/* Restrict now (a strike).  CORE_R_ACCOUNT; INVALID without login or
 * reason; CONFLICT when restricted already or a write is under way. */
void core_account_restrict(struct core *c, const char *login,
			   const char *reason, const char *actor,
			   core_admin_cb *cb, void *arg);
/* Record that the account's password was changed (password portal,
 * Dovecot evidence); source describes the evidence.  CORE_R_ACCOUNT.
 * cb may be NULL. */
void core_account_credential_changed(struct core *c, const char *login,
				     const char *source, const char *actor,
				     core_admin_cb *cb, void *arg);
/*
 * Release a restricted (or, with force, suspended) account into probation.
 * CONFLICT unless a credential change was recorded after the restriction,
 * or force is set with a non-empty reason.  held is "release", "delete" or
 * "keep": what to do with the account's held messages first (the command
 * runs without blocking the loop; FAIL and the account stays restricted if
 * it fails).  CORE_R_ACCOUNT with held_action.
 */
void core_account_release(struct core *c, const char *login, bool force,
			  const char *reason, const char *held,
			  const char *actor, core_admin_cb *cb, void *arg);
/* Held messages, all or of one login (NULL or "").  CORE_R_HELD. */
void core_held_list(struct core *c, const char *login, core_admin_cb *cb,
		    void *arg);
/* Release or delete ("release", "delete") one held message by queue ID.
 * CORE_R_HELD_DONE; INVALID; NOTFOUND; FAIL with the command's error. */
void core_held_action(struct core *c, const char *queue_id,
		      const char *action, const char *actor,
		      core_admin_cb *cb, void *arg);

/* Filters of a DMARC aggregate listing; borrowed, NULL or "" = none. */
struct core_dmarc_query {
	const char *day;		/* YYYY-MM-DD (UTC), excludes from/to */
	const char *from, *to;		/* inclusive day range, either open */
	const char *domain;		/* header From domain, any case */
};
/* The DMARC aggregate rows the milter counted, in key order.
 * CORE_R_DMARC; INVALID for a malformed filter; RETRY.  Read-only. */
void core_dmarc_aggregate(struct core *c, const struct core_dmarc_query *q,
			  core_admin_cb *cb, void *arg);

/*
 * Login abuse, through the engine the core holds (core_set_login); every
 * call answers NOTFOUND "login-abuse detection is off" without one.
 * ips: CORE_R_IPS.  block: ip an address or CIDR, seconds 0 = the
 * engine's escalation; a range wider than api_block_min_prefix_v4/_v6
 * needs force (CONFLICT otherwise); CORE_R_IP.  unblock: NOTFOUND when
 * the address or range has no state; CORE_R_IP_UNBLOCKED.
 */
void core_ips_list(struct core *c, core_admin_cb *cb, void *arg);
void core_ip_block(struct core *c, const char *ip, long seconds,
		   const char *reason, bool force, const char *actor,
		   core_admin_cb *cb, void *arg);
void core_ip_unblock(struct core *c, const char *ip, const char *actor,
		     core_admin_cb *cb, void *arg);
/*
 * The engine's stored allowlist (next to auth_allowlist; at most 1024
 * entries).  list: CORE_R_ALLOWS.  add: net an address or CIDR, seconds
 * 0 = no end (at most ten years), reason required; replaces the entry of
 * the same range; CORE_R_ALLOWS with the entry; INVALID; CONFLICT when
 * the list is full.  del: CORE_R_ALLOW_DELETED; INVALID; NOTFOUND.
 */
void core_allow_list(struct core *c, core_admin_cb *cb, void *arg);
void core_allow_add(struct core *c, const char *net, long seconds,
		    const char *reason, const char *actor, core_admin_cb *cb,
		    void *arg);
void core_allow_del(struct core *c, const char *net, const char *actor,
		    core_admin_cb *cb, void *arg);
/* Incidents, newest first: CORE_R_INCIDENTS.  One: CORE_R_INCIDENT or
 * NOTFOUND.  Export as CSV (RFC 4180): CORE_R_TEXT or NOTFOUND. */
void core_incidents_list(struct core *c, core_admin_cb *cb, void *arg);
void core_incident_show(struct core *c, const char *id, core_admin_cb *cb,
			void *arg);
void core_incident_csv(struct core *c, const char *id, core_admin_cb *cb,
		       void *arg);

/* Counters and gauges (GET /v1/stats). */
struct core_stats_view {
	uint64_t accounts, decisions, dunno, defer, hold, reject, observed,
		 unauthenticated, messages, recipients, transitions,
		 store_failures, held_messages;
	uint64_t accounts_evicted;	/* idle accounts evicted at max_accounts */
	uint64_t accounts_refused;	/* table full, nothing to evict */
	uint64_t normal, throttled, restricted, probation, suspended;
	char *login_json;		/* the login engine's figures, a JSON
					 * object; NULL when it is off */
};
/* Fill v; free it with core_stats_view_deinit(). */
void core_stats_get(struct core *c, struct core_stats_view *v);
void core_stats_view_deinit(struct core_stats_view *v);

/*
 * The figures of the auth-policy, milter and notice front-ends and of the
 * store, for /metrics: the core keeps them (metrics.c), the HTTP
 * front-end renders them.  Names are static strings for labels.
 */
#define CORE_METRICS_MAX 12
struct core_metrics_view {
	/* Dovecot auth policy: answers by stage and outcome. */
	const char *login_stage[3], *login_outcome[3];
	uint64_t logins[3][3];		/* [stage][outcome] */
	uint64_t logins_compromised;	/* valid credentials, attacker */
	/* The milter: inbound verdicts by action, outbound signing. */
	const char *milter_action[5];	/* enum core_action (inbound.h) */
	uint64_t milter_inbound[5];
	uint64_t milter_signed, milter_unsigned, milter_sign_errors;
	/* Notices (customer, abuse desk, webhook): all zero without one. */
	uint64_t notices_sent, notices_failed_attempts, notices_gave_up,
		 notices_dropped, notices_pending;
	/* The store: per operation kind, and one latency histogram. */
	size_t nstore;
	struct {
		const char *op;
		uint64_t ops, failures;
	} store[CORE_METRICS_MAX];
	size_t nlat;			/* buckets, the last one +Inf */
	double lat_le[CORE_METRICS_MAX];
	uint64_t lat_cum[CORE_METRICS_MAX];	/* cumulative counts */
	double lat_sum;
	/* A networked store: times found down, master changes. */
	uint64_t store_down, store_failovers;
	/* The login engine's fleet counts (login_fleet_counts()): all zero
	 * without the engine or a shared store. */
	uint64_t login_fleet_sent, login_fleet_failures, login_fleet_judged,
		 login_fleet_skipped, login_fleet_pending;
};
/* Fill v (nothing to free). */
void core_metrics_get(struct core *c, struct core_metrics_view *v);

#endif
