/*
 * core-internal - what the core's files share; not for front-ends.
 */
#ifndef MAMORI_CORE_INTERNAL_H
#define MAMORI_CORE_INTERNAL_H

#include "core/acct.h"
#include "core/core.h"
#include "core/outbound.h"
#include "store/store.h"
#include "util/config.h"

#define CORE_INSTANCES 65536

#define ACCT_F_SUSPICIOUS 0x01	/* throttled with a compromise signal */
#define ACCT_F_FORCE_RESET 0x02	/* an attacker held valid credentials */

/* Recipients seen at RCPT for one message (instance), direct-mapped. */
struct instance {
	uint32_t hash;
	uint32_t time;
	uint16_t internal;
	uint16_t external;
};

/* One account_map line: class plus per-account overrides. */
struct account_override {
	char *login;
	char *contact;
	struct class_config cl;
};

struct acctmap;

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
};

struct core {
	const struct config *cfg;
	struct store *st;
	struct notify *nt;
	struct outbox *outbox;		/* may be NULL: notices not kept */
	struct acct_table *accounts;
	struct acctmap *map;
	struct instance *instances;
	struct core_stats stats;
	uint64_t event_seq;
	core_abuse_hook *abuse_hook;	/* may be NULL */
	void *abuse_arg;
};

/* An outbound decision in flight (may wait for a store write). */
struct decision {
	struct core *c;
	struct acct *a;
	const struct class_config *cl;
	struct outbound_request req;	/* strings point into strings */
	char *strings;
	struct verdict v;
	core_verdict_cb *cb;
	void *arg;
};

void decision_free(struct decision *d);
uint32_t core_now(int64_t now);
const struct class_config *core_class_of(struct core *c, const char *login);
json_t *core_account_json(struct core *c, const struct acct *a);
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

/* account_map: "LOGIN class=NAME [param=value ...] [contact=ADDR]". */
struct acctmap *acctmap_load(const struct config *cfg, char *err,
			     size_t errsz);
void acctmap_free(struct acctmap *m);
const struct account_override *acctmap_find(const struct acctmap *m,
					     const char *login);

#endif
