/*
 * test_core - the setup shared by the unit tests that drive the core: a
 * config from text, a core over a store, and (test_sqlite.h) the removal
 * of a sqlite store's files.  A setup that fails is a
 * broken test, not a finding: it prints a "# ..." line and aborts.
 * Header-only, like test_sh.h: a test links nothing extra.
 */
#ifndef MAMORI_TEST_CORE_H
#define MAMORI_TEST_CORE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "store/store.h"
#include "util/config.h"
#include "test_sqlite.h"

/* A config from text (the defaults for the rest); aborts on error. */
__attribute__((unused)) static struct config *test_conf(const char *text)
{
	char err[512];
	struct config *c = config_load_buffer(text, strlen(text), "test", err,
					      sizeof(err));

	if (!c) {
		printf("# config: %s\n", err);
		fflush(stdout);
		abort();
	}
	return c;
}

/*
 * A core with the config of text over the store spec ("memory:",
 * "sqlite:PATH"); its config and store in *cfg and *st, for
 * test_core_close().  Aborts on error.
 */
__attribute__((unused)) static struct core *
test_core_open(const char *text, const char *spec, struct config **cfg,
	       struct store **st)
{
	char err[512];
	struct core *core;

	*cfg = test_conf(text);
	if (store_open(spec, NULL, st, err, sizeof(err)) != 0) {
		printf("# store: %s\n", err);
		fflush(stdout);
		abort();
	}
	core = core_new(*cfg, *st, NULL, err, sizeof(err));
	if (!core) {
		printf("# core: %s\n", err);
		fflush(stdout);
		abort();
	}
	return core;
}

/* Free what test_core_open() made, the core first. */
__attribute__((unused)) static void
test_core_close(struct core *core, struct store *st, struct config *cfg)
{
	core_free(core);
	store_close(st);
	config_free(cfg);
}

#endif
