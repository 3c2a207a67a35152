/*
 * dkim_testlib - helpers the DKIM tests share (test builds only): read a
 * message, turn LF into CRLF, split it into header fields and body, and run
 * the verifier against a table of key records standing in for DNS.
 */
#ifndef MAMORI_DKIM_TESTLIB_H
#define MAMORI_DKIM_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "mail/dkim.h"

/* What a name in the key table answers. */
enum dkimt_kind {
	DKIMT_TXT,
	DKIMT_NXDOMAIN,
	DKIMT_TIMEOUT,
	DKIMT_SERVFAIL,
};

struct dkimt_rec {
	char *name;
	enum dkimt_kind kind;
	char *txt;
};

struct dkimt_zone {
	struct dkimt_rec *r;
	size_t n;
};

/* Add a record; name and txt are copied. */
void dkimt_zone_add(struct dkimt_zone *z, const char *name,
		    enum dkimt_kind kind, const char *txt);
void dkimt_zone_free(struct dkimt_zone *z);

/* Read a whole file; NULL on error.  *n gets its size. */
char *dkimt_read_file(const char *path, size_t *n);

/* A copy of p with every LF not preceded by CR turned into CRLF. */
char *dkimt_crlf(const char *p, size_t n, size_t *outn);

/* Offset of the body (after the empty line), or n if there is none. */
size_t dkimt_body_offset(const char *msg, size_t n);

/*
 * Verify msg (CRLF) with keys from z at time now (0: the clock), feeding
 * the body in chunks of chunk bytes (0: at once) and answering each key
 * question as soon as it is asked (before the body) if early, else after
 * the end.  Results are copied into res (at most max); returns the number
 * of signatures.
 */
size_t dkimt_verify(const char *msg, size_t n, const struct dkimt_zone *z,
		    uint64_t now, size_t chunk, bool early,
		    struct dkim_result *res, size_t max);

#endif
