/*
 * test_sqlite - remove a sqlite database file and its companions (-wal,
 * -shm, and -journal when the journal mode was not WAL), for unit tests
 * that make a store in a temporary directory.  Header-only, like
 * test_sh.h: a test links nothing extra.
 */
#ifndef MAMORI_TEST_SQLITE_H
#define MAMORI_TEST_SQLITE_H

#include <stdio.h>
#include <unistd.h>

/* Remove the database at path and its -wal, -shm and -journal files. */
__attribute__((unused)) static void test_sqlite_unlink(const char *path)
{
	static const char *const ext[] = { "-wal", "-shm", "-journal" };
	char p[4200];
	size_t i;

	unlink(path);
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, ext[i]);
		unlink(p);
	}
}

#endif
