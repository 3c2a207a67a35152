/*
 * spf_testlib - what the two RFC 7208 suite drivers (test-spf-suite.c,
 * table resolver; test-spf-resolver.c, libunbound) share: the outcome an
 * spf_check callback keeps, and the comparison with acceptable results.
 */
#ifndef MAMORI_SPF_TESTLIB_H
#define MAMORI_SPF_TESTLIB_H

#include <stdbool.h>

#include "mail/spf.h"

struct outcome {
	bool done;
	enum spf_result r;
	char *exp;		/* malloc'd explanation, or NULL */
	char reason[320];
};

/* spf_check callback (arg: struct outcome): keep what the tests compare. */
void spft_on_done(void *arg, struct spf *s);
/* Is result r one of the comma-separated names in list? */
bool spft_result_in(enum spf_result r, const char *list);

#endif
