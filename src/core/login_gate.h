/*
 * login_gate - the core's entry point for Dovecot's auth policy:
 * core_login() takes one login event, independent of the wire format, asks
 * the login engine the core holds (core_set_login, core.h), applies the
 * consequences for the account and answers with a verdict.  The
 * auth-policy front-end translates HTTP/JSON to and from these structs.
 *
 * Threading: the daemon's event-loop thread only.
 */
#ifndef MAMORI_LOGIN_GATE_H
#define MAMORI_LOGIN_GATE_H

#include <stdbool.h>
#include <stdint.h>

struct core;

/* Which Dovecot auth-policy request a login event came in. */
enum core_login_command {
	CORE_LOGIN_ALLOW,	/* command=allow: before or after the check */
	CORE_LOGIN_REPORT,	/* command=report: the outcome */
};

/* One login event, independent of the wire format.  Borrowed strings. */
struct core_login_request {
	enum core_login_command command;
	const char *login;		/* the requested username */
	const char *remote;		/* client IP */
	const char *protocol;		/* imap, pop3, smtp, ... */
	const char *pwhash;		/* truncated password hash, "" = none;
					 * compared, never logged */
	const char *mech;		/* SASL mechanism, "" = unknown */
	const char *pwversion;		/* password-version attribute or "" */
	const char *session_id;
	bool tls;
	bool success;			/* report only */
	bool policy_reject;		/* report only */
	int64_t now;			/* unix time; 0 = take the clock */
};

/* Where in Dovecot's login the event was (the core tells the two allows
 * apart). */
enum core_login_stage {
	CORE_LOGIN_BEFORE,		/* before the password check */
	CORE_LOGIN_AFTER,		/* after a correct password */
	CORE_LOGIN_AT_REPORT,		/* the report */
};

enum core_login_action {
	CORE_LOGIN_ACCEPT,
	CORE_LOGIN_DELAY,
	CORE_LOGIN_REJECT,
};

/* The answer to one login event, with its explanation. */
struct core_login_verdict {
	enum core_login_stage stage;
	enum core_login_action action;
	int status;			/* Dovecot: < 0 reject, 0 accept,
					 * > 0 delay that many seconds */
	char msg[128];			/* shown to the user; "" = silent */
	char reason[512];		/* key=value explanation for the log */
	bool compromised;		/* valid credentials from an attacker */
	char incident[40];		/* incident id, "" if none */
};

typedef void core_login_cb(void *arg, const struct core_login_verdict *v);

/*
 * Decide one login event and apply its consequences for the account
 * (src/core/login_gate.c): a login from a new network raises the
 * account's outbound risk for auth_new_network_risk; a success with a new
 * password records a credential change; an account an attacker entered
 * (now, or found later when its address was judged) gets the forced-reset
 * flag and, per auth_compromised_action, its sending restricted.  Those
 * store writes finish later; the verdict does not wait for them.  cb runs
 * exactly once, before core_login returns.
 */
void core_login(struct core *c, const struct core_login_request *req,
		core_login_cb *cb, void *arg);
/* Static names for the log: "before", "after", "report"; "allow",
 * "delay", "reject". */
const char *core_login_stage_name(enum core_login_stage st);
const char *core_login_action_name(enum core_login_action a);

#endif
