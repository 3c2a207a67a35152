/*
 * core - mamori's decision core for outbound mail.
 *
 * Front-ends translate their wire format into a struct outbound_request and
 * call core_outbound(); the admin API calls the functions of admin.h and
 * gets typed results.  The core never touches sockets or wire formats.
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

#include "core/admin.h"
#include "util/buf.h"

struct config;
struct store;
struct notify;
struct core;

enum outbound_stage {
	OUT_OTHER,		/* a stage we don't act on: DUNNO */
	OUT_RCPT,
	OUT_END_OF_MESSAGE,
	OUT_CONTENT,		/* the milter's content facts (O8) */
};

/*
 * Content facts of one authenticated outbound message, as the milter sees
 * it at end of data (core/outcontent.h extracts them with mail/mime.h and
 * mail/archive.h).  The policy delegation decides at RCPT without content;
 * these add to the same account's evidence (outbound.h: malware_content,
 * risky_replies).
 */
enum {
	OC_REPLY = 1u << 0,	  /* In-Reply-To or References present */
	OC_ENC_ARCHIVE = 1u << 1, /* an encrypted or uninspectable archive */
	OC_MACRO = 1u << 2,	  /* an Office document with VBA macros */
	OC_EXECUTABLE = 1u << 3,  /* an executable, script or disguised name */
	OC_PASSWORD = 1u << 4,	  /* a password cue in the subject or text */
	OC_UNPARSED = 1u << 5,	  /* too large or empty: nothing was read */
};
struct outbound_content {
	unsigned flags;		/* OC_* */
	uint32_t thread;	/* hash of the thread's first Message-ID (the
				 * oldest References, else In-Reply-To); 0 */
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
	/* Test hook: the client's country ("JP"), overriding the geoip_db
	 * lookup of client_address.  Front-ends never set it (NULL); the
	 * simulator (bench/detsim) and unit tests do. */
	const char *country;
	/* OUT_CONTENT: the message's content facts (copied). */
	const struct outbound_content *content;
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

/*
 * Decide one policy request.  cb runs exactly once.  Stage OUT_CONTENT
 * (core_outbound_content) adds a message's content facts to its account
 * after Postfix's END-OF-MESSAGE counted it; a verdict HOLD there means
 * "quarantine this message" (recorded as held with its queue ID).
 */
void core_outbound(struct core *c, const struct outbound_request *req,
		   core_verdict_cb *cb, void *arg);

/*
 * The content facts of one outbound message (the milter at end of data):
 * core_outbound() with stage OUT_CONTENT for login, the message's queue ID
 * and client address.  Loop thread; cb runs exactly once.
 */
void core_outbound_content(struct core *c, const char *login,
			   const char *queue_id, const char *client_address,
			   const struct outbound_content *oc, int64_t now,
			   core_verdict_cb *cb, void *arg);

const char *verdict_action_name(enum verdict_action a);

/*
 * One DMARC aggregate row (namespace "dmarc_agg"): the key is
 *
 *   DAY|SOURCE_IP|HEADER_FROM|SPF|DKIM|DMARC|DISPOSITION
 *      |ALIGN|OVERRIDE|SPF_SCOPE|SPF_DOMAIN|SIGS
 *
 * and the value the count.  The first seven fields are the old format
 * (still read: auth.align is "" for such a row, and the rest of auth ""
 * and 0).  ALIGN is which identifiers DMARC found aligned and passing
 * ("none", "spf", "dkim", "both"), OVERRIDE an RFC 9990
 * PolicyOverrideType or "", SPF_SCOPE "mfrom", "helo" or "" (no SPF
 * check), SIGS up to CORE_DMARC_DKIM_MAX "D:S:RESULT" joined by ",".
 * Attacker-chosen names (SPF_DOMAIN, D, S) are cut to
 * CORE_DMARC_NAME_MAX / CORE_DMARC_SEL_MAX bytes, domains lowercased,
 * and every byte outside [A-Za-z0-9._-] written as %XX: the key stays
 * unambiguous and printable.  The writer (core/mailrec.c) and the readers
 * (dmarc_agg.c, dmarc_send.c) share these definitions.
 */
#define CORE_DMARC_AGG_NS "dmarc_agg"
#define CORE_DMARC_NAME_MAX 253		/* RFC 1035 2.3.4 */
#define CORE_DMARC_SEL_MAX 63		/* one DNS label */

/* The fields of a row's key. */
struct core_dmarc_agg_fields {
	const char *day;		/* YYYY-MM-DD (ignored by the writer) */
	const char *source_ip, *header_from;
	const char *spf, *dkim;		/* raw results ("pass", "fail"...) */
	const char *dmarc, *disposition;
	struct core_dmarc_auth auth;	/* auth.align NULL or "": old format */
};

/*
 * The key of f for a message seen at when (DAY is its UTC date);
 * malloc'd.  With f->auth.align NULL or "" the old seven-field key.
 */
char *core_dmarc_agg_key(time_t when, const struct core_dmarc_agg_fields *f);

/*
 * Parse a stored key (either format) into f, splitting and decoding key
 * in place (f points into it).  Decoded names with bytes that are not
 * printable ASCII get '_' for them (they go into XML and JSON).  Returns
 * 0, or -1 when the key is not one of ours (a field that does not check
 * out: the day, the address, the results, the disposition, ALIGN...).
 */
int core_dmarc_agg_parse(char *key, struct core_dmarc_agg_fields *f);

/* *r = the fields of f (borrowed) and count n. */
void core_dmarc_row_set(struct core_dmarc_row *r,
			const struct core_dmarc_agg_fields *f, int64_t n);

/*
 * The account key of a login as it came off a wire (Postfix sasl_username,
 * Dovecot login): utf8_escape(UTF8_ESC_KEY), so control bytes and invalid
 * UTF-8 become \xNN, reversibly: two logins never share a key, and the key
 * is printable UTF-8 that JSON, logs and URLs carry.  An ordinary login is
 * its own key.  Every account the core holds, and every login the admin
 * API names, is a key.  free() the result.
 */
char *core_account_key(const char *login);
struct login_engine;
/*
 * The login engine (src/auth/login.h) that core_login() (login_gate.h)
 * asks and the admin calls (core_ips_*, core_incident_*) and /v1/stats
 * use; borrowed, it must outlive the core (NULL: none; core_login() then
 * allows everything).  The core also tells it of every account it
 * restricts or suspends, so the engine keeps the password evidence of the
 * abuse (login_note_abused) and can later recognise a password change.
 */
void core_set_login(struct core *c, struct login_engine *e);
struct event_base;
/*
 * Run held-mail commands as children watched from base (SIGCHLD through
 * libevent; only one base per process may handle signals).  Without it
 * they fail.  The DMARC sources' reverse names are looked up off base's
 * loop too (core_dmarc_sources_get).  base is borrowed; NULL stops both.
 */
void core_set_base(struct core *c, struct event_base *base);
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

/*
 * Learning (mamori learn): the core counts, scores and learns habits from
 * the requests as from live traffic, but makes no state transition, so it
 * writes nothing but the counter snapshot and sends no notice: history
 * teaches it without restricting anyone for what already happened.
 */
void core_set_learning(struct core *c, bool on);
/*
 * A core for a run over history (offline.c): opens the store named spec,
 * a login engine on it when login is set, and a core over them (no
 * notices).  NULL with err on failure.  core_offline_free frees the core,
 * the engine and the store together (NULL is a no-op).
 */
struct core *core_offline_new(const struct config *cfg, const char *spec,
			      bool login, char *err, size_t errsz);
void core_offline_free(struct core *c);

/* Counters and gauges in Prometheus text format (GET /metrics); as
 * figures: core_stats_get() (admin.h). */
void core_metrics(struct core *c, struct buf *out);

#endif
