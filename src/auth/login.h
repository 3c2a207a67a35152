/*
 * login - login-abuse detection over Dovecot's auth-policy events.
 *
 * Sees every login attempt twice or three times (before the password check,
 * after a correct password, and the report with the outcome) and keeps, in
 * memory, per client address, per network (/24, /64) and per account:
 * attempts, failures, successes and distinct logins in sliding windows, and
 * each account's habitual networks.  From those it judges, with every
 * verdict's reasons spelled out:
 *
 *   brute force   many failures from one address against one account
 *   stuffing      one address or network trying many distinct accounts,
 *                 with a high failure ratio, or with mostly first-time
 *                 networks and about one attempt per account (a good list:
 *                 mostly successes)
 *   spraying      many accounts with failures from one network
 *   distributed   one account failing from many addresses
 *   new network   a successful login from a network (or country) never
 *                 seen for the account
 *
 * Shared addresses are not punished for being shared: ratios, not raw
 * counts, and allowlists (auth_allowlist) for office NAT and carrier-grade
 * NAT ranges.
 *
 * Address states: normal -> delayed (tarpit) -> stuffing (let the password
 * check run, then reject silently, so the attacker learns nothing and the
 * report tells us which credentials were valid) -> blocked (reject before
 * the password check), each expiring, escalating on recurrence.
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
	bool new_network;		/* success from an unseen network */
	bool credential_changed;	/* success with a new password */
	char incident[40];		/* incident id, "" if none */
};

/*
 * Create the engine; loads blocks and open incidents from st (borrowed).
 * NULL with err on failure.
 */
struct login_engine *login_engine_new(const struct config *cfg,
				      struct store *st, char *err,
				      size_t errsz);
void login_engine_free(struct login_engine *e);
void login_engine_reconfigure(struct login_engine *e,
			      const struct config *cfg);

/* Judge one event.  Fills v (always). */
void login_decide(struct login_engine *e, const struct login_attempt *a,
		  struct login_verdict *v);

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
json_t *login_incidents_list(struct login_engine *e);
/* One incident with every account tried and every valid one; NULL if none. */
json_t *login_incident_show(struct login_engine *e, const char *id);
json_t *login_stats(struct login_engine *e);

#endif
