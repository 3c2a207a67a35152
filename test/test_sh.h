/*
 * test_sh - run a shell command in a test's temporary directory, for the
 * unit tests that build their inputs with Debian tools (zip -e, 7z -p).
 * Header-only: each test links nothing extra.  Output is discarded; the
 * answer is system()'s status.  Commands longer than 8 KiB are cut (tests
 * write short ones).
 */
#ifndef MAMORI_TEST_SH_H
#define MAMORI_TEST_SH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Run the printf-formatted command in dir; its exit status. */
__attribute__((format(printf, 2, 3), unused)) static int
test_sh(const char *dir, const char *fmt, ...)
{
	char cmd[8192], full[8400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && (%s) >/dev/null 2>&1", dir,
		 cmd);
	return system(full);
}

#endif
