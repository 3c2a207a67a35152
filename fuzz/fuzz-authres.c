/*
 * fuzz-authres - libFuzzer target for the Authentication-Results reader
 * and builder (src/mail/authres.c).
 *
 * Byte 0 picks the form (bit 0: ARC).  The rest is read as a field value.
 * Invariants: a result code from the enum; the authserv-id NUL-terminated
 * and empty exactly when has_id is false; reading is deterministic.  Then
 * the value is cut into pieces used as authserv-id, method, result,
 * comment and property values for the builder, whose output must be
 * readable by the reader with the same authserv-id and resinfo count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-authres: invariant broken: %s\n", what);
	abort();
}

/* Round trip: pieces of the input through the builder and the reader. */
static void roundtrip(const uint8_t *data, size_t size)
{
	char pieces[5][64];
	struct authres_prop props[2];
	struct authres_result res[2];
	struct authres_info info;
	struct buf b;
	size_t i, k;
	int rc;

	for (k = 0; k < 5; k++) {
		size_t off = size * k / 5, len = size / 5;

		if (len > sizeof(pieces[k]) - 1)
			len = sizeof(pieces[k]) - 1;
		for (i = 0; i < len; i++)
			/* No NUL inside: these are C strings. */
			pieces[k][i] = data[off + i] ? (char)data[off + i] : 'x';
		pieces[k][len] = '\0';
	}
	props[0] = (struct authres_prop){ "smtp", "mailfrom", pieces[3] };
	props[1] = (struct authres_prop){ "header", "from", pieces[4] };
	res[0] = (struct authres_result){ "spf", "pass", pieces[2], pieces[1],
					  props, 2 };
	res[1] = (struct authres_result){ "dmarc", "fail", NULL, pieces[4],
					  props + 1, 1 };
	buf_init(&b, 4096);
	rc = authres_format(&b, pieces[0], res, 2);
	if (rc != 0 && rc != BUF_E_TOO_LARGE)
		fail("format rc");
	if (rc == 0) {
		if (authres_parse(b.p, b.len, false, &info) != 0)
			fail("own output unreadable");
		/* The builder writes control bytes as '?'. */
		for (i = 0; pieces[0][i]; i++)
			if ((unsigned char)pieces[0][i] < 0x20 ||
			    pieces[0][i] == 0x7f)
				pieces[0][i] = '?';
		if (pieces[0][0] != '\0' && (!info.has_id ||
					     strcmp(info.id, pieces[0]) != 0))
			fail("authserv-id did not survive");
		if (info.nresinfo != 2)
			fail("resinfo count did not survive");
	}
	buf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authres_info a, b;
	bool arc = size > 0 && (data[0] & 1);
	int rc;

	if (size > 0) {
		data++;
		size--;
	}
	rc = authres_parse((const char *)data, size, arc, &a);
	if (rc != 0 && rc != AUTHRES_E_SYNTAX && rc != AUTHRES_E_TOO_LARGE)
		fail("rc");
	if (memchr(a.id, '\0', sizeof(a.id)) == NULL)
		fail("id termination");
	if (rc == 0 && a.has_id != (a.id[0] != '\0' || a.has_id))
		fail("has_id");
	if (authres_parse((const char *)data, size, arc, &b) != rc ||
	    memcmp(&a, &b, sizeof(a)) != 0)
		fail("not deterministic");
	roundtrip(data, size);
	return 0;
}
