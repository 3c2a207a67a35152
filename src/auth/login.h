/*
 * login - login-abuse detection over Dovecot's auth-policy events.
 *
 * Sees every login attempt twice or three times (before the password check,
 * after a correct password, and the report with the outcome) and keeps, in
 * memory, per client address, per network (/24, /64) and per account:
 * attempts, failures, successes and distinct logins in sliding windows, and
 * each account's habitual networks (and countries).  From those it judges,
 * with every verdict's reasons spelled out:
 *
 *   brute force   many failures from one address against one account
 *   stuffing      one address or network trying many distinct accounts,
 *                 with a high failure ratio, or with mostly first-time
 *                 networks and about one attempt per account (a good list:
 *                 mostly successes)
 *   spraying      many accounts with failures from one network
 *   distributed   one account failing from many addresses
 *   new network   a successful login from a network not among the
 *                 account's habitual ones (it has some: a first login
 *                 only teaches the network)
 *   new country   with geoip_db (a country .mmdb): a successful login
 *                 from a country not among the account's habitual ones
 *                 (learnt the same way; an address the database does not
 *                 place teaches and flags nothing)
 *
 * Shared addresses are not punished for being shared: ratios, not raw
 * counts, and allowlists (auth_allowlist) for office NAT and carrier-grade
 * NAT ranges.
 *
 * Address states: normal -> delayed (tarpit) -> stuffing (let the password
 * check run, then reject silently, so the attacker learns nothing and the
 * report tells us which credentials were valid) -> blocked (reject before
 * the password check), each expiring, escalating on recurrence.  "Delayed"
 * is read from the counters and lasts while they say so; stuffing and
 * blocked are stored.  A stuffing address becomes blocked only when the
 * playbook cannot work (a success was reported from it: Dovecot does not
 * ask after the password check) or when it also brute-forces an account;
 * otherwise it keeps showing us valid credentials until it expires.
 * Thresholds, windows and limits: login_judge.c, login_ip.c,
 * login-internal.h.
 *
 * Incidents group an attack: its addresses, time range, the accounts tried
 * and the accounts whose credentials were valid.  Blocks and incidents are
 * kept in the store; counters only in memory.
 *
 * Threading: the daemon's event-loop thread only.
 */
#ifndef MAMORI_LOGIN_H
#define MAMORI_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct config;
struct store;
struct login_engine;

enum login_stage {
	LOGIN_BEFORE,		/* command=allow, before the password check */
	LOGIN_AFTER,		/* command=allow again: the password was right */
	LOGIN_REPORT,		/* command=report: the outcome */
};

/* One auth-policy event.  Borrowed strings. */
struct login_attempt {
	enum login_stage stage;
	const char *login;
	const char *remote;
	const char *protocol;
	const char *pwhash;		/* may be "" */
	const char *mech;		/* may be "" (unknown) */
	const char *pwversion;		/* may be "" */
	const char *session_id;
	bool tls;
	bool success;			/* report only */
	bool policy_reject;		/* report only */
	int64_t now;			/* unix time; 0 = the clock */
};

enum login_action {
	LOGIN_ACTION_ALLOW,
	LOGIN_ACTION_DELAY,
	LOGIN_ACTION_REJECT,
};

struct login_verdict {
	enum login_action action;
	int status;			/* Dovecot: < 0 reject, 0 ok, > 0 delay s */
	char msg[128];			/* shown to the user; "" = silent */
	char reason[512];		/* key=value explanation for the log */
	/* Consequences the daemon passes on to the outbound core: */
	bool compromised;		/* valid credentials from an attacker */
	bool new_network;		/* success from an unseen network, or
					 * from an unseen country */
	bool new_country;		/* the latter (implies new_network):
					 * the account's habitual countries
					 * (geoip_db) lack the address's */
	bool credential_changed;	/* success with a new password */
	char incident[40];		/* incident id, "" if none */
};

/*
 * Create the engine; loads blocks and open incidents from st (borrowed)
 * and opens cfg->geoip_db when set.  NULL with err on failure (a store
 * error, or "geoip_db PATH: why" for a missing or unreadable database).
 */
struct login_engine *login_engine_new(const struct config *cfg,
				      struct store *st, char *err,
				      size_t errsz);
void login_engine_free(struct login_engine *e);
/*
 * Take a new configuration (borrowed, like the first).  geoip_db is
 * reopened, so a database replaced on disk is read; if it cannot be
 * opened the error is logged and the previous database stays in use.
 */
void login_engine_reconfigure(struct login_engine *e,
			      const struct config *cfg);

/*
 * The country of the address addr (text) in geoip_db, as two upper-case
 * ASCII letters, or 0 when geoip_db is off, addr does not parse or the
 * database does not place it.  The outbound core uses this so that one
 * reader (opened here, reopened by login_engine_reconfigure) serves both.
 */
uint16_t login_engine_country(const struct login_engine *e, const char *addr);

/* Judge one event.  Fills v (always). */
void login_decide(struct login_engine *e, const struct login_attempt *a,
		  struct login_verdict *v);

/*
 * Dovecot sends the same body to command=allow before and after the
 * password check.  Tell them apart for the front-end: LOGIN_AFTER when the
 * operator's auth_pwversion_attr is configured and a->pwversion is set
 * (passdb fields are empty before the check), or when an allow with the
 * same login, remote, session_id, protocol and pwhash was decided as
 * LOGIN_BEFORE within 60 s and has had neither its after-check nor its
 * report; else LOGIN_BEFORE.  Limit: two identical logins at once (SMTP
 * AUTH through Postfix has no session_id) can be mistaken for each other.
 */
enum login_stage login_allow_stage(struct login_engine *e,
				   const struct login_attempt *a);

/*
 * Accounts newly found compromised that no verdict has reported: successes
 * from an address before it was judged, found when it is.  Hands over the
 * array (*logins, NULL if none) and its strings, which the caller frees
 * with free(); returns how many.  Call after each login_decide.
 */
size_t login_take_compromised(struct login_engine *e, char ***logins);

/*
 * Periodic work, also done by login_decide: write batched incident rows,
 * expire states and close their incidents.  now 0 = the clock.  Call it
 * from a timer (every few seconds) so that an idle daemon still expires.
 */
void login_engine_tick(struct login_engine *e, int64_t now);

/*
 * Caps on tracked addresses, networks (/24, /64) and accounts (0 keeps the
 * default of 1,000,000 each; the least recently seen entry is evicted).
 */
void login_engine_set_limits(struct login_engine *e, size_t addrs,
			     size_t nets, size_t accounts);

/*
 * The outbound core restricted this account: remember the password hash
 * (and version) of its last successful login, so that a later success with
 * a different one counts as a password change.
 */
void login_note_abused(struct login_engine *e, const char *login);

/* Admin.  JSON results are new references. */
json_t *login_ips_list(struct login_engine *e);
/* Block ip (an address or CIDR) for seconds (0: the escalation default).
 * 0, or -1 with err. */
int login_ip_block(struct login_engine *e, const char *ip, long seconds,
		   const char *reason, const char *actor, char *err,
		   size_t errsz);
int login_ip_unblock(struct login_engine *e, const char *ip,
		     const char *actor, char *err, size_t errsz);
/*
 * The stored allowlist (namespace "allow", at most 1024 entries), checked
 * with auth_allowlist.  add: net an address or CIDR, seconds 0 = no end,
 * now 0 = the clock; replaces an entry for the same range; 0, or -1 with
 * err (malformed, out of range, full).  del: 0, 1 when there is no such
 * entry, -1 with err when malformed.  list: the live entries
 * [{"net","since","until" (0 = none),"reason","actor"}].
 */
int login_allow_add(struct login_engine *e, const char *net, long seconds,
		    const char *reason, const char *actor, int64_t now,
		    char *err, size_t errsz);
int login_allow_del(struct login_engine *e, const char *net,
		    const char *actor, char *err, size_t errsz);
json_t *login_allow_list(struct login_engine *e, int64_t now);
/* Incident headers, newest first: every host's from a shared store (this
 * host's from memory when it does not answer), else this host's. */
json_t *login_incidents_list(struct login_engine *e);
/* One incident with every account tried and every valid one; NULL if none. */
json_t *login_incident_show(struct login_engine *e, const char *id);
/*
 * The incident's accounts as CSV (RFC 4180, CRLF): header
 * "login,valid,tried,first_seen,last_seen,protocol", valid accounts first,
 * valid "yes"/"no", times RFC 3339 UTC; a login starting with = + - @ is
 * quoted with a leading ' (spreadsheet formula injection).  A new string
 * for free(), or NULL if there is no such incident.
 */
char *login_incident_csv(struct login_engine *e, const char *id);
json_t *login_stats(struct login_engine *e);
/* The verdicts given so far, allow, delay and reject, into out[3]: what
 * login_stats() lists under "verdicts", without walking the tables (the
 * core samples it every few seconds for its history). */
void login_verdict_counts(const struct login_engine *e, uint64_t out[3]);
/*
 * The fleet's login counts (a shared store; all zero with a store of one
 * host), what login_stats() lists under "fleet": calls sent (one store
 * round trip each), calls that got no answer (the store unavailable),
 * judgments made on an answer ahead of this host's counts, reports not
 * sent (too many calls waiting), and calls waiting now.
 */
struct login_fleet_counts {
	uint64_t sent, failures, judged, skipped, pending;
};
void login_fleet_counts(const struct login_engine *e,
			struct login_fleet_counts *out);
/*
 * What the engine knows of one account (the admin API's account show):
 * {"habitual_countries": "JP,US" or "-", "habitual_networks": N,
 *  "incidents": [{"id", "rule", "state", "valid", "tried", "first", "last",
 *  "protocol"}, ...]}, the incidents held in memory that list it, newest
 * first.  A new reference.
 */
json_t *login_account_show(struct login_engine *e, const char *login);

#endif
