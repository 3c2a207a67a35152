/*
 * login_gate - core_login(): one Dovecot auth-policy event through the
 * login engine (src/auth/login.h), and what its verdict means for the
 * account.  See login_gate.h.
 *
 * The engine judges addresses, networks and accounts; this file turns its
 * findings into the account's outbound state, so the auth-policy
 * front-end only translates HTTP/JSON:
 *   new network      the account's outbound risk rises until now +
 *                    auth_new_network_risk (0 = off), raising its score;
 *   new password     a credential change is recorded (it lets a restricted
 *                    account be released without --force);
 *   compromised      the forced-reset flag, and with auth_compromised_action
 *                    = restrict the account's sending restricted; also for
 *                    the accounts the engine found entered before their
 *                    attacker was recognised (login_take_compromised);
 *                    auth_compromised_action = none skips both.
 * The store writes behind these finish later (transition.c); the verdict
 * goes out at once, as Dovecot waits for it.  The core holds an account
 * under its key (core_account_key: control bytes and invalid UTF-8 as
 * \xNN), the engine under the login as Dovecot sent it; transition.c turns
 * a key back into the login for login_note_abused.
 *
 * Threading: the daemon's event-loop thread only, like the engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/login.h"
#include "core/core-internal.h"
#include "core/login_gate.h"

/* auth_compromised_action (config.c: restrict|flag|none). */
#define COMPROMISED_RESTRICT 0
#define COMPROMISED_NONE 2

const char *core_login_stage_name(enum core_login_stage st)
{
	return st == CORE_LOGIN_BEFORE ? "before" :
	       st == CORE_LOGIN_AFTER ? "after" : "report";
}

const char *core_login_action_name(enum core_login_action a)
{
	return a == CORE_LOGIN_ACCEPT ? "allow" :
	       a == CORE_LOGIN_DELAY ? "delay" : "reject";
}

/* Apply the engine's findings to the account (see the header comment). */
static void apply_consequences(struct core *c, const struct login_attempt *a,
			       const struct login_verdict *v)
{
	const struct config *cfg = c->cfg;
	bool restrict_sending =
		cfg->auth_compromised_action == COMPROMISED_RESTRICT;
	bool act = cfg->auth_compromised_action != COMPROMISED_NONE;
	char reason[256], **logins = NULL;
	size_t n, i;

	if (v->new_network && cfg->auth_new_network_risk > 0)
		core_login_risk(c, a->login,
				(a->now ? a->now : time(NULL)) +
				cfg->auth_new_network_risk);
	if (v->credential_changed) {
		/* An admin call: it takes the account key, not the login. */
		char *key = core_account_key(a->login);

		core_account_credential_changed(c, key,
			"dovecot: successful login with a new password",
			"mamorid:login", NULL, NULL);
		free(key);
	}
	if (v->compromised && act) {
		snprintf(reason, sizeof(reason),
			 "valid credentials used by an attacker (incident %s, "
			 "address %s)", v->incident[0] ? v->incident : "-",
			 a->remote);
		core_account_compromised(c, a->login, restrict_sending, reason,
					 NULL, NULL);
	}
	/* Accounts found entered before their attacker was recognised.
	 * Taken even when nothing is done with them: the engine keeps the
	 * list until someone takes it. */
	n = login_take_compromised(c->login, &logins);
	for (i = 0; i < n; i++) {
		if (act)
			core_account_compromised(c, logins[i],
						 restrict_sending,
						 "entered by an attacker "
						 "before detection (address "
						 "judged later)", NULL, NULL);
		free(logins[i]);
	}
	free(logins);
}

/* The engine's event from the core's request; strings stay borrowed. */
static void attempt_of(const struct core_login_request *req,
		       struct login_attempt *a)
{
	memset(a, 0, sizeof(*a));
	a->login = req->login ? req->login : "";
	a->remote = req->remote ? req->remote : "";
	a->protocol = req->protocol ? req->protocol : "";
	a->pwhash = req->pwhash ? req->pwhash : "";
	a->mech = req->mech ? req->mech : "";
	a->pwversion = req->pwversion ? req->pwversion : "";
	a->session_id = req->session_id ? req->session_id : "";
	a->tls = req->tls;
	a->success = req->success;
	a->policy_reject = req->policy_reject;
	a->now = req->now;
}

void core_login(struct core *c, const struct core_login_request *req,
		core_login_cb *cb, void *arg)
{
	struct core_login_verdict out;
	struct login_attempt a;
	struct login_verdict v;

	memset(&out, 0, sizeof(out));
	if (!c->login) {
		out.stage = req->command == CORE_LOGIN_REPORT ?
			    CORE_LOGIN_AT_REPORT : CORE_LOGIN_BEFORE;
		out.action = CORE_LOGIN_ACCEPT;
		snprintf(out.reason, sizeof(out.reason), "login_engine=off");
		c->stats.logins[out.stage][out.action]++;
		cb(arg, &out);
		return;
	}
	attempt_of(req, &a);
	/* Dovecot sends the same allow body before the password check and,
	 * if it was right, after it; the engine tells them apart. */
	a.stage = req->command == CORE_LOGIN_REPORT ? LOGIN_REPORT :
		  login_allow_stage(c->login, &a);
	login_decide(c->login, &a, &v);
	apply_consequences(c, &a, &v);

	out.stage = a.stage == LOGIN_BEFORE ? CORE_LOGIN_BEFORE :
		    a.stage == LOGIN_AFTER ? CORE_LOGIN_AFTER :
		    CORE_LOGIN_AT_REPORT;
	out.action = v.action == LOGIN_ACTION_ALLOW ? CORE_LOGIN_ACCEPT :
		     v.action == LOGIN_ACTION_DELAY ? CORE_LOGIN_DELAY :
		     CORE_LOGIN_REJECT;
	out.status = v.status;
	out.compromised = v.compromised;
	snprintf(out.msg, sizeof(out.msg), "%s", v.msg);
	snprintf(out.reason, sizeof(out.reason), "%s", v.reason);
	snprintf(out.incident, sizeof(out.incident), "%s", v.incident);
	c->stats.logins[out.stage][out.action]++;	/* /metrics */
	if (out.compromised)
		c->stats.logins_compromised++;
	cb(arg, &out);
}
