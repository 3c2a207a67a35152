/*
 * account-memory - bytes per tracked account in mamori's outbound table.
 *
 * Creates N accounts (default 1,000,000) the way the daemon does on first
 * mail, gives each a message with recipients and a client network, and
 * reports the heap growth (mallinfo2: bytes malloc handed out, including
 * its per-chunk overhead) and the RSS growth, divided by N.  Accounts that
 * raise a signal also get an evidence detail block (~1.4 KB); the run
 * reports that case separately with -d PERCENT.
 *
 *   build/bench/account-memory [-n ACCOUNTS] [-d PERCENT_WITH_DETAIL]
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/acct.h"

/* Resident set size in bytes, from /proc/self/statm. */
static size_t rss_bytes(void)
{
	unsigned long size, res;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%lu %lu", &size, &res) != 2) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	return res * (size_t)sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv)
{
	size_t n = 1000000, i, heap0, rss0, heap1, rss1, detail_every = 0;
	struct acct_table *t;
	uint32_t now = 1790000000;
	int opt;

	while ((opt = getopt(argc, argv, "n:d:")) != -1) {
		switch (opt) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'd': detail_every = strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: account-memory [-n N] [-d PCT]\n");
			return 2;
		}
	}
	heap0 = mallinfo2().uordblks;
	rss0 = rss_bytes();
	t = acct_table_new();
	for (i = 0; i < n; i++) {
		char login[64], ip[32];
		struct acct *a;
		uint32_t net;

		/* Realistic login lengths: "user1234567@example.ne.jp". */
		snprintf(login, sizeof(login), "user%zu@example.ne.jp", i);
		snprintf(ip, sizeof(ip), "10.%zu.%zu.7", (i >> 8) & 255, i & 255);
		a = acct_table_get(t, login, true, now);
		acct_win_add(a, W_MSG_MIN, 1, now);
		acct_win_add(a, W_MSG_HOUR, 1, now);
		acct_win_add(a, W_EXT_HOUR, 2, now);
		acct_win_add(a, W_RCPT_DAY, 2, now);
		acct_domain_add(a, "example.com", now);
		if (acct_net_of(ip, &net)) {
			acct_net_seen(a, net, now);
			acct_net_learn(a, net);
		}
		if (detail_every && i % 100 < detail_every)
			acct_detail_add_ip(a, ip);
	}
	heap1 = mallinfo2().uordblks;
	rss1 = rss_bytes();
	printf("| accounts | struct acct | table slots | heap bytes/account | RSS bytes/account | with detail |\n");
	printf("|---:|---:|---:|---:|---:|---:|\n");
	printf("| %zu | %zu | %zu | %.1f | %.1f | %zu%% |\n", n,
	       sizeof(struct acct), acct_table_slot_bytes(t),
	       (double)(heap1 - heap0) / (double)n,
	       (double)(rss1 - rss0) / (double)n, detail_every);
	acct_table_free(t);
	return 0;
}
