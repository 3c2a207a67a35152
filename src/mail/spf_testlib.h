/*
 * spf_testlib - what the two RFC 7208 suite drivers (test-spf-suite.c,
 * table resolver; test-spf-resolver.c, libunbound) share: the outcome an
 * spf_check callback keeps, and the comparison with acceptable results.
 */
#ifndef MAMORI_SPF_TESTLIB_H
#define MAMORI_SPF_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>

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

/*
 * The suite's TSV files (test/spf/): fields split on tabs in place;
 * escapes \t \n \r \xHH and \C (C itself) decoded in place, the new
 * length returned (a value may hold NUL).
 */
int spft_split(char *line, char **f, int max);
size_t spft_unescape(char *s);
/* The decimal number a field starts with (strtol, clamped to int; 0 if
 * none): atoi without its undefined overflow (scripts/check-banned). */
int spft_num(const char *s);

#endif
