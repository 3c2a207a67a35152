/*
 * core-internal - what the core's files share; not for front-ends.
 */
#ifndef MAMORI_CORE_INTERNAL_H
#define MAMORI_CORE_INTERNAL_H

#include <jansson.h>

#include "core/acct.h"
#include "core/core.h"
#include "core/outbound.h"
#include "core/sendermap.h"
#include "store/store.h"
#include "util/config.h"

#define CORE_INSTANCES 65536

#define ACCT_F_SUSPICIOUS 0x01	/* throttled with a compromise signal */
#define ACCT_F_FORCE_RESET 0x02	/* an attacker held valid credentials */
#define ACCT_F_DIRTY 0x04	/* counters changed since the last snapshot */
/* 0x80 is acct.h's ACCT_F_RCPT_HABIT */

/* Counter snapshots (snapshot.c): a pass every period, bounded per tick. */
#define CORE_SNAP_PERIOD 60	/* seconds between the starts of two passes */
#define CORE_SNAP_SLOTS 262144	/* table slots walked per tick */
#define CORE_SNAP_WRITES 1000	/* records written per tick */

/* The account table's bound (evict.c). */
#define CORE_EVICT_IDLE 3600	/* seconds unseen before an account may go */
#define CORE_EVICT_PROBES 4096	/* table slots probed for one eviction */

/* Recipients seen at RCPT for one message (instance), direct-mapped;
 * END-OF-MESSAGE copies it under the queue ID for the milter's content
 * (core_outbound_content knows the message by its queue ID). */
struct instance {
	uint32_t hash;
	uint32_t time;
	uint16_t internal;
	uint16_t external;
	uint16_t unknown;	/* not in the account's correspondents */
	uint16_t spare;
};

/* One account_map line: class plus per-account overrides. */
struct account_override {
	char *login;
	char *contact;
	struct class_config cl;
};

struct acctmap;
struct dmarc_names;

/* Where the snapshot pass stands. */
struct core_snap {
	size_t cursor;			/* next table slot */
	bool active;			/* a pass is under way */
	uint32_t pass_start;
	size_t written, failed;		/* in this pass */
	size_t loaded, load_bad;	/* records restored, skipped at start */
	size_t inflight;		/* batches written, not yet answered */
};

/* The counters of one account as a snapshot record holds them. */
struct core_snap_rec {
	uint32_t at;			/* when the record was written */
	uint32_t first_seen;
	struct window win[W__COUNT];
	struct acct_net recent[ACCT_RECENT_NETS];
	uint32_t known[ACCT_KNOWN_NETS];
	uint32_t domains_idx;
	uint64_t domains;
	uint16_t mismatch_hour;
	uint16_t score;
	float baseline;
	uint32_t throttled_msgs;
	uint32_t login_risk_until;
	uint32_t newnet_until;
	bool suspicious;
	/* issue 9, optional in a record (absent: zero, as before them) */
	struct acct_win16 rcpt_min;
	uint64_t rcpts[2];
	uint16_t newrcpt_hour, rcpt_hour, unowned_hour;
	uint8_t novelty, novelty_hours, newnet_weight;
	uint16_t cc_known[ACCT_KNOWN_CC];	/* habitual client countries */
	uint16_t ppap_day;			/* the content habit's day */
};

struct core_stats {
	unsigned long long decisions;
	unsigned long long actions[4];
	unsigned long long observed;
	unsigned long long unauthenticated;
	unsigned long long messages;
	unsigned long long recipients;
	unsigned long long transitions;
	unsigned long long store_failures;
	unsigned long long held;
	unsigned long long evictions;	/* accounts evicted at max_accounts */
	unsigned long long accounts_refused; /* full, nothing to evict */
	uint64_t logins[3][3];		/* core_login(): [stage][action] */
	uint64_t logins_compromised;
	unsigned long long fleet_reads;	/* fleet.c: RCPT read the fleet */
	unsigned long long fleet_fast;	/* fleet.c: RCPT trusted its copy */
	unsigned long long fleet_failures; /* fleet.c: the store could not
					    * count */
	unsigned long long fleet_notices; /* fleet.c: other hosts' writes */
};

struct core {
	const struct config *cfg;
	struct store *st;
	struct notify *nt;
	struct outbox *outbox;		/* may be NULL: notices not kept */
	struct acct_table *accounts;
	struct acctmap *map;
	struct sendermap *senders;	/* sender_map; NULL: none */
	struct instance *instances;
	struct core_stats stats;
	uint64_t event_seq;
	struct core_snap snap;
	struct login_engine *login;	/* may be NULL (core_set_login) */
	struct core_mail *mail;		/* the milter's; NULL (core_set_mail) */
	struct proc_runner *procs;	/* held-mail commands (core_set_base) */
	struct dmarc_names *names;	/* dmarc sources' look-ups (idem) */
	size_t evict_hand;		/* evict.c: next slot to probe */
	uint32_t evict_log_at;		/* evict.c: next "full" log line */
	bool learning;			/* core_set_learning: no transitions */
	uint32_t fleet_log_at;		/* fleet.c: next "unavailable" log */
	struct core_hist *hist;		/* history.c; NULL until sampled */
};

/* An outbound decision in flight (may wait for a store write). */
struct decision {
	struct core *c;
	struct acct *a;
	const struct class_config *cl;
	struct outbound_request req;	/* strings point into strings */
	struct outbound_content content;	/* req.content points here */
	char *strings;
	uint16_t cc;			/* client country, 0 = unknown */
	struct verdict v;
	core_verdict_cb *cb;
	void *arg;
	uint32_t now;			/* the request's time */
	uint32_t add[W__COUNT];		/* END-OF-MESSAGE: what it counts */
};

void decision_free(struct decision *d);
/* Answer d per store_failure_action (its state unknown); why -> reason. */
void core_answer_stateless(struct core *c, struct decision *d,
			   const char *why);

/*
 * The fleet (fleet.c).  count: add d->add to the account's windows in the
 * store and take the fleet's view (its own count when the store cannot),
 * then cont(d).  read: at RCPT, refresh the account's windows from the
 * fleet unless the store is not shared, the state does not need them or
 * the fast path holds; true when it did (cont(d) follows, or the answer by
 * store_failure_action).  watch: apply other hosts' account records.
 */
void core_fleet_count(struct core *c, struct decision *d,
		      void (*cont)(struct decision *d));
bool core_fleet_read(struct core *c, struct decision *d,
		     void (*cont)(struct decision *d));
void core_fleet_watch(struct core *c);
/* Re-read one account record from the store (another host wrote it), or
 * every one (notices were lost); applied unless a write is in flight. */
void core_account_reload(struct core *c, const char *key);
void core_accounts_reload(struct core *c);
uint32_t core_now(int64_t now);
const struct class_config *core_class_of(struct core *c, const char *login);
/*
 * The account of key for a request from traffic: found, or created within
 * max_accounts (evicting an idle normal account when full, evict.c).  NULL
 * when the table is full and nothing can go (counted and logged): the
 * caller answers as for a store failure.
 */
struct acct *core_account_admit(struct core *c, const char *key,
				uint32_t now);
json_t *core_evidence(struct core *c, const struct acct *a, uint32_t now);
const char *core_reason_get(struct core *c, const struct acct *a);

/*
 * Move account a to state to: compute strikes/until, write the account
 * record durably, then (only on success) apply it in memory, append the
 * event with evidence (stolen, may be NULL), notify, log, and call cb with
 * the store result.  Restricting at the suspend_strikes-th strike suspends.
 */
void core_transition(struct core *c, struct acct *a, enum acct_state to,
		     const char *cause, const char *actor, const char *reason,
		     json_t *evidence, uint32_t now, store_done_cb *cb,
		     void *arg);
/* Write the account record without a state change (credential change). */
void core_account_save(struct core *c, struct acct *a, store_done_cb *cb,
		       void *arg);
/* Record a held message. */
void core_held_record(struct core *c, const char *queue_id, const char *login,
		      uint32_t now);
/* Load persisted accounts into memory (startup). */
int core_load(struct core *c, char *err, size_t errsz);

/*
 * Counter snapshots (snapshot.c).  encode returns a malloc'd record of a's
 * counters written at now.  decode parses one into r: 0, or -1 with why set
 * to a static word for the log (r is then undefined).  apply copies r into
 * a (restored accounts are clean).  load restores every stored record; bad
 * ones are counted and logged, a store failure is logged, neither is fatal.
 * step starts a pass if one is due, then walks at most max_slots slots and
 * writes at most max_writes dirty accounts; returns how many it wrote.
 */
char *core_snapshot_encode(const struct acct *a, uint32_t now);
int core_snapshot_decode(const char *text, struct core_snap_rec *r,
			 const char **why);
void core_snapshot_apply(struct acct *a, const struct core_snap_rec *r);
void core_snapshot_load(struct core *c);
/* Restore the one stored counters record of key (creating the account):
 * STORE_OK, STORE_NOTFOUND, or the store's error. */
int core_snapshot_recall(struct core *c, const char *key);
/*
 * An account the table does not hold (evicted at max_accounts, or written
 * by another mamorid on a shared store) recreated from its stored state
 * and counters as a restart would (transition.c); NULL when the store has
 * neither, *result then STORE_NOTFOUND or the store's error.  Created past
 * max_accounts, like every account an administrator names.
 */
struct acct *core_account_recall(struct core *c, const char *key,
				 int *result);
size_t core_snapshot_step(struct core *c, int64_t now, size_t max_slots,
			  size_t max_writes);

/* account_map: "LOGIN class=NAME [param=value ...] [contact=ADDR]". */
struct acctmap *acctmap_load(const struct config *cfg, char *err,
			     size_t errsz);
/*
 * The same from buf[0..n) (borrowed, not NUL-terminated) instead of the file
 * cfg->account_map names: the sans-I/O entry for fuzz-acctmap and tests.
 */
struct acctmap *acctmap_load_buffer(const struct config *cfg,
				    const char *buf, size_t n, char *err,
				    size_t errsz);
void acctmap_free(struct acctmap *m);
const struct account_override *acctmap_find(const struct acctmap *m,
					     const char *login);

/* Consequences of login events for an account (login_gate.c calls them;
 * admin.c defines them). */
/*
 * Login signals (src/auth) feeding the outbound score: a login (raw, as
 * Dovecot sent it: keyed here) from a new network raises the account's
 * risk until the given time.
 */
void core_login_risk(struct core *c, const char *login, int64_t until);
/*
 * An attacker holds valid credentials for login (raw, keyed here;
 * credential stuffing):
 * set the forced-reset flag and, when restrict_sending is set, restrict the
 * account's sending with reason.  cb may be NULL.
 */
void core_account_compromised(struct core *c, const char *login,
			      bool restrict_sending, const char *reason,
			      core_admin_cb *cb, void *arg);

#endif
