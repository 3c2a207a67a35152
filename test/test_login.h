/*
 * test_login - one login attempt handed to the login engine, as the
 * auth-policy front-end would (stage, login, address, the optional
 * details Dovecot may send), for the unit tests of src/auth.
 * Header-only, like test_core.h: a test links nothing extra.
 */
#ifndef MAMORI_TEST_LOGIN_H
#define MAMORI_TEST_LOGIN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "auth/login.h"

/* Optional attempt details; NULL fields take Dovecot's usual values. */
struct test_login_opt {
	const char *pwhash;
	const char *mech;
	const char *pwversion;
	const char *protocol;
};

/* One event at time now; the verdict in *v. */
__attribute__((unused)) static void
test_login_ev(struct login_engine *e, enum login_stage st, const char *login,
	      const char *ip, const struct test_login_opt *o, bool success,
	      bool prej, int64_t now, struct login_verdict *v)
{
	struct login_attempt a;

	memset(&a, 0, sizeof(a));
	a.stage = st;
	a.login = login;
	a.remote = ip;
	a.protocol = o && o->protocol ? o->protocol : "imap";
	a.pwhash = o && o->pwhash ? o->pwhash : "";
	a.mech = o && o->mech ? o->mech : "PLAIN";
	a.pwversion = o && o->pwversion ? o->pwversion : "";
	a.session_id = "";
	a.success = success;
	a.policy_reject = prej;
	a.now = now;
	login_decide(e, &a, v);
}

#endif
