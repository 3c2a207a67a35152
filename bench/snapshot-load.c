/*
 * snapshot-load - what a restart costs per counters record (snapshot.c).
 *
 * Creates N accounts (default 100,000) with a habit (a habitual network,
 * peak, correspondents) and full windows, writes them all to a fresh
 * sqlite store the way a clean stop does (core_snapshot_flush), then times
 * a new core loading them (core_new -> core_load -> core_snapshot_load).
 * With -i DAYS the records are written DAYS before now, so the load shows
 * what an idle population costs (all loaded while DAYS < 90).
 *
 *   build/bench/snapshot-load [-n ACCOUNTS] [-i IDLE_DAYS] [-s sqlite:PATH]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core-internal.h"
#include "util/config.h"
#include "util/log.h"

/* Seconds since an arbitrary start, monotonic. */
static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A core over st, or exit. */
static struct core *open_core(const struct config *cfg, struct store *st)
{
	char err[256];
	struct core *c = core_new(cfg, st, NULL, err, sizeof(err));

	if (!c) {
		fprintf(stderr, "core: %s\n", err);
		exit(1);
	}
	return c;
}

int main(int argc, char **argv)
{
	const char *spec = "sqlite:/tmp/mamori-bench-snapshot.db";
	long n = 100000, idle = 0, i;
	char err[256], login[64];
	struct config *cfg;
	struct store *st;
	struct core *c;
	uint32_t now;
	double t0, t1, t2, t3;
	int opt;

	while ((opt = getopt(argc, argv, "n:i:s:")) != -1) {
		char *end = "";

		if (opt == 'n')
			n = strtol(optarg, &end, 10);
		else if (opt == 'i')
			idle = strtol(optarg, &end, 10);
		else if (opt == 's')
			spec = optarg;
		if (opt == '?' || *end || n < 1 || n > 10000000 || idle < 0 ||
		    idle > 3650) {
			fprintf(stderr, "usage: %s [-n N] [-i DAYS] "
				"[-s sqlite:PATH]\n", argv[0]);
			return 2;
		}
	}
	if (strncmp(spec, "sqlite:", 7) == 0)
		unlink(spec + 7);
	log_setup("snapshot-load", false, LOG_L_ERR);
	cfg = config_load(NULL, err, sizeof(err));
	if (!cfg || store_open(spec, NULL, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	now = (uint32_t)time(NULL) - (uint32_t)(idle * 86400);
	c = open_core(cfg, st);
	for (i = 0; i < n; i++) {
		struct acct *a;
		int w;

		snprintf(login, sizeof(login), "user%ld@example.test", i);
		a = acct_table_get(c->accounts, login, true, now - 864000);
		for (w = 0; w < W__COUNT; w++)
			acct_win_add(a, (enum acct_win)w, 3, now);
		acct_net_seen(a, 0xc0000200u + (uint32_t)(i % 64) * 256, now);
		acct_net_learn(a, 0xc0000200u + (uint32_t)(i % 64) * 256);
		acct_rcpt_learn(a, "partner@example.org");
		acct_domain_add(a, "example.org", now);
		a->baseline = 3.0f;
		a->flags |= ACCT_F_DIRTY;
	}
	t0 = mono();
	core_snapshot_flush(c, now);
	t1 = mono();
	core_free(c);
	t2 = mono();
	c = open_core(cfg, st);
	t3 = mono();
	printf("accounts=%ld idle_days=%ld flush_s=%.2f load_s=%.2f "
	       "loaded=%zu us_per_record=%.1f\n", n, idle, t1 - t0,
	       t3 - t2, c->snap.loaded,
	       (t3 - t2) * 1e6 / (double)(n ? n : 1));
	core_free(c);
	store_close(st);
	config_free(cfg);
	if (strncmp(spec, "sqlite:", 7) == 0)
		unlink(spec + 7);
	return 0;
}
