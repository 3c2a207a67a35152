/*
 * fuzz-archive - libFuzzer target for the attachment inspection
 * (src/mail/archive.c): the input is an attachment's decoded bytes, its
 * name taken from the first byte (a length, mod 64) and the bytes after
 * it, so names and contents are both explored.
 *
 * Invariants: every limit of archive.h holds; findings and archive rows
 * carry NUL-terminated names within ARC_MAX_NAME; flags are known bits;
 * the same input gives the same report twice (no hidden state).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* All ARC_F_* bits. */
#define ARC_F_ALL                                                           \
	(ARC_F_ENCRYPTED | ARC_F_UNKNOWN | ARC_F_EXECUTABLE | ARC_F_MACRO | \
	 ARC_F_DOUBLE_EXT | ARC_F_NESTED | ARC_F_LIMIT_DEPTH |              \
	 ARC_F_LIMIT_ENTRIES | ARC_F_LIMIT_BYTES)

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-archive: invariant broken: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arc_report r, r2;
	char name[64];
	size_t nlen = 0, i;

	if (size > 0) {
		nlen = data[0] % sizeof(name);
		if (nlen > size - 1)
			nlen = size - 1;
		memcpy(name, data + 1, nlen);
		data += 1 + nlen;
		size -= 1 + nlen;
	}
	name[nlen < sizeof(name) ? nlen : sizeof(name) - 1] = '\0';
	arc_scan(data, size, name, &r);
	if (r.n_entries > ARC_MAX_ENTRIES || r.bytes_read > ARC_MAX_BYTES ||
	    r.depth > ARC_MAX_DEPTH || r.n_archives > ARC_MAX_ARCHIVES ||
	    r.n_findings > ARC_MAX_FINDINGS || r.n_encrypted > r.n_entries)
		fail("a count past its limit");
	if (r.flags & ~(unsigned)ARC_F_ALL)
		fail("unknown flag");
	for (i = 0; i < r.n_findings; i++)
		if (memchr(r.findings[i].name, '\0', ARC_MAX_NAME + 1) ==
			    NULL ||
		    r.findings[i].flags == 0)
			fail("finding");
	for (i = 0; i < r.n_archives; i++)
		if (memchr(r.archives[i].name, '\0', ARC_MAX_NAME + 1) ==
			    NULL ||
		    r.archives[i].depth > ARC_MAX_DEPTH)
			fail("archive row");
	arc_scan(data, size, name, &r2);
	if (r2.flags != r.flags || r2.n_entries != r.n_entries ||
	    r2.n_findings != r.n_findings || r2.bytes_read != r.bytes_read)
		fail("not deterministic");
	return 0;
}
