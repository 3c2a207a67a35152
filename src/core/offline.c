/*
 * offline - a core of its own for a run over history (mamori learn and
 * mamori replay, src/cli/mamori_learn.c): the store, the login engine and
 * the core over them, made and freed together, so the CLI needs nothing
 * but core.h (it may include only core/, proto/ and util/ headers).
 *
 * No notices (nt NULL), no event base (held-mail commands fail, and
 * nothing is held offline: learn makes no transition, replay's classes
 * observe).  Threading: the caller's thread only.
 */
#include <stdio.h>

#include "auth/login.h"
#include "core/core-internal.h"
#include "store/store.h"

struct core *core_offline_new(const struct config *cfg, const char *spec,
			      bool login, char *err, size_t errsz)
{
	struct login_engine *e = NULL;
	struct store *st;
	struct core *c;
	char why[256];

	if (store_open(spec, NULL, &st, why, sizeof(why)) != 0) {
		snprintf(err, errsz, "store %s: %s", spec, why);
		return NULL;
	}
	if (login && !(e = login_engine_new(cfg, st, err, errsz))) {
		store_close(st);
		return NULL;
	}
	if (!(c = core_new(cfg, st, NULL, err, errsz))) {
		login_engine_free(e);
		store_close(st);
		return NULL;
	}
	core_set_login(c, e);
	return c;
}

void core_offline_free(struct core *c)
{
	struct login_engine *e;
	struct store *st;

	if (!c)
		return;
	e = c->login;
	st = c->st;
	core_free(c);
	login_engine_free(e);
	store_close(st);
}
