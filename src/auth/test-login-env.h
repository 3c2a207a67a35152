/*
 * test-login-env - what the engine's rule tests share: an engine on a
 * config (the defaults plus a few lines) and a store, whole logins as
 * Dovecot runs them (before, after if the password is right, report), and
 * small readers of verdicts and statistics.  Included by test-login.c
 * (the rules on addresses, networks and campaigns) and test-login-state.c
 * (what the engine learns and keeps); header-only, like test_login.h, so
 * each test links nothing extra.  Single-threaded; an env lives from
 * env_open to env_close.
 */
#ifndef MAMORI_TEST_LOGIN_ENV_H
#define MAMORI_TEST_LOGIN_ENV_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/login.h"
#include "store/store.h"
#include "test_login.h"
#include "util/config.h"

struct env {
	struct config *cfg;
	struct store *st;
	struct login_engine *e;
	char path[64];
};

/* Open config (defaults plus conf) and a store, then the engine. */
__attribute__((unused)) static void env_open(struct env *v, const char *conf, const char *store)
{
	char err[512];
	FILE *f;

	memset(v, 0, sizeof(*v));
	snprintf(v->path, sizeof(v->path), "/tmp/mamori-test-login-XXXXXX");
	f = fdopen(mkstemp(v->path), "w");
	fprintf(f, "%s", conf ? conf : "");
	fclose(f);
	v->cfg = config_load(v->path, err, sizeof(err));
	if (!v->cfg) {
		printf("# config: %s\n", err);
		abort();
	}
	if (store_open(store, NULL, &v->st, err, sizeof(err)) != 0) {
		printf("# store: %s\n", err);
		abort();
	}
	v->e = login_engine_new(v->cfg, v->st, err, sizeof(err));
	if (!v->e) {
		printf("# engine: %s\n", err);
		abort();
	}
}

/* Close everything env_open opened. */
__attribute__((unused)) static void env_close(struct env *v)
{
	login_engine_free(v->e);
	store_close(v->st);
	config_free(v->cfg);
	unlink(v->path);
}

/* Free whatever login_take_compromised hands over; return how many. */
__attribute__((unused)) static size_t take_all(struct login_engine *e, char ***out)
{
	char **l = NULL;
	size_t n = login_take_compromised(e, &l), i;

	if (out) {
		*out = l;
		return n;
	}
	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
	return n;
}

/* The shared attempt helper (test_login.h) under these files' short name. */
#define ev test_login_ev

/* The verdicts of one whole login. */
struct cyc {
	struct login_verdict b, a, r;
	bool after;
};

/* A login as Dovecot runs it: before; after if the password is right and
 * not rejected; then the report. */
__attribute__((unused)) static void cycle_o(struct login_engine *e, const char *login, const char *ip,
		    bool correct, int64_t now, const struct test_login_opt *o,
		    struct cyc *c)
{
	memset(c, 0, sizeof(*c));
	ev(e, LOGIN_BEFORE, login, ip, o, false, false, now, &c->b);
	if (c->b.status < 0) {
		ev(e, LOGIN_REPORT, login, ip, o, false, true, now, &c->r);
		return;
	}
	if (correct) {
		c->after = true;
		ev(e, LOGIN_AFTER, login, ip, o, false, false, now, &c->a);
		if (c->a.status < 0)
			ev(e, LOGIN_REPORT, login, ip, o, false, true, now,
			   &c->r);
		else
			ev(e, LOGIN_REPORT, login, ip, o, true, false, now,
			   &c->r);
		return;
	}
	ev(e, LOGIN_REPORT, login, ip, o, false, false, now, &c->r);
}

/* Same with the default details (a fixed correct hash, a varying wrong
 * one, PLAIN). */
__attribute__((unused)) static void cycle(struct login_engine *e, const char *login, const char *ip,
		  bool correct, int64_t now, struct cyc *c)
{
	static unsigned wrong;
	char pw[8];
	struct test_login_opt o = { .pwhash = pw };

	if (correct)
		snprintf(pw, sizeof(pw), "c0de");
	else
		snprintf(pw, sizeof(pw), "%04x", (++wrong * 2654435761u) >> 20);
	cycle_o(e, login, ip, correct, now, &o, c);
}

/* The integer at key in o. */
__attribute__((unused)) static long long jint(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* A nested integer from login_stats. */
__attribute__((unused)) static long long stat2(struct login_engine *e, const char *a, const char *b)
{
	json_t *s = login_stats(e);
	json_t *x = json_object_get(s, a);
	long long v = (long long)json_integer_value(b ? json_object_get(x, b)
						      : x);

	json_decref(s);
	return v;
}

/* Does the verdict's reason contain s? */
__attribute__((unused)) static bool has(const struct login_verdict *v, const char *s)
{
	return strstr(v->reason, s) != NULL;
}

#endif
