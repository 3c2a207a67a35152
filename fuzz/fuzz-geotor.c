/*
 * fuzz-geotor - libFuzzer target for geoip_db in Tor's text format
 * (src/auth/login_geotor.c, through lg_geotor_read() on an fmemopen'd
 * buffer).
 *
 * The input is a whole file.  Invariants: a read gives a table or an error
 * "geoip_db fuzz: line N: why", never both; on success every lookup of a
 * fixed set of addresses (both families, range edges a fuzzer reaches
 * easily) is 0 or two letters A-Z; a second read gives the same answers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const addrs[] = {
	"0.0.0.0", "0.0.0.1", "0.0.0.2", "0.0.0.9", "1.0.0.0", "1.0.0.255",
	"255.255.255.255", "::", "::1", "2001::", "2001:2::1",
	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
};

#define NADDR (sizeof(addrs) / sizeof(addrs[0]))

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-geotor: invariant broken: %s\n", what);
	abort();
}

/* Read data once; the answers for addrs into cc; 0 or the read's code. */
static int read_once(const uint8_t *data, size_t size, uint16_t cc[NADDR])
{
	struct lg_geotor *t = NULL;
	char err[512] = "";
	FILE *f = size ? fmemopen((void *)(uintptr_t)data, size, "r") :
		  fopen("/dev/null", "r");
	size_t i;
	int rc;

	if (!f)
		fail("fmemopen");
	rc = lg_geotor_read(&t, f, "fuzz", err, sizeof(err));
	fclose(f);
	if (rc != 0) {
		if (t || strncmp(err, "geoip_db fuzz: line ", 20) != 0)
			fail("an error without its line, or with a table");
		return rc;
	}
	if (!t || err[0])
		fail("success without a table, or with an error");
	for (i = 0; i < NADDR; i++) {
		struct lg_ip ip;

		if (!lg_ip_parse(addrs[i], &ip))
			fail("test address");
		cc[i] = lg_geotor_country(t, &ip);
		if (cc[i] && ((cc[i] >> 8) < 'A' || (cc[i] >> 8) > 'Z' ||
			      (cc[i] & 0xff) < 'A' || (cc[i] & 0xff) > 'Z'))
			fail("country not two letters");
	}
	lg_geotor_free(t);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t a[NADDR] = { 0 }, b[NADDR] = { 0 };
	int ra = read_once(data, size, a), rb = read_once(data, size, b);

	if (ra != rb || memcmp(a, b, sizeof(a)) != 0)
		fail("not deterministic");
	return 0;
}
