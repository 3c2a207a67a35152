/*
 * test-sendermap - the sender_map parser and lookups, table-driven.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sendermap.h"
#include "tap.h"

static void test_parse(void)
{
	static const struct {
		const char *label, *text;
		long pairs;		/* -1: parse error */
		const char *err;	/* substring of the error */
	} rows[] = {
		{"empty", "", 0, NULL},
		{"comments and blanks", "# x\n\n   \t\n# y", 0, NULL},
		{"one line two senders",
		 "alice@isp.example a@fam.example @shop.example\n", 2, NULL},
		{"CRLF and trailing comment",
		 "alice@isp.example a@fam.example # home\r\n", 1, NULL},
		{"bare login", "alice alice@fam.example", 1, NULL},
		{"domain key", "@shop.example @shop-mail.example", 1, NULL},
		{"no newline at end", "a@x.example b@y.example", 1, NULL},
		{"login only", "alice@isp.example\n", -1, "line 1: a login"},
		{"sender without @", "a@x.example c@y.example\nb@x.example bob\n", -1,
		 "line 2: \"bob\""},
		{"sender with empty domain", "a@x.example bob@", -1, "line 1"},
		{"sender with two @", "a@x.example b@c@d", -1, "line 1"},
		{"NUL byte", "a@x.example b@y.example\0", -1, "NUL"},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[256] = "";
		size_t len = strlen(rows[i].text) +
			     (strstr(rows[i].label, "NUL") ? 1 : 0);
		struct sendermap *m = sendermap_parse(rows[i].text, len, err,
						      sizeof(err));

		if (rows[i].pairs < 0) {
			ok(m == NULL, "parse %s: refused", rows[i].label);
			ok(strstr(err, rows[i].err) != NULL,
			   "parse %s: error names it (%s)", rows[i].label, err);
		} else {
			is_int(m ? (long)sendermap_count(m) : -1,
			       rows[i].pairs, "parse %s: pairs", rows[i].label);
		}
		sendermap_free(m);
	}
}

/* Room for a line of SENDERMAP_MAX_VALUES + 1 senders " sNN@x.example". */
#define MANY_SZ (16 * (SENDERMAP_MAX_VALUES + 2) + 32)

static void test_limits(void)
{
	char err[256] = "", *long_line, *many;
	struct sendermap *m;
	size_t i, off;

	long_line = malloc(SENDERMAP_MAX_LINE + 64);
	memset(long_line, 'a', SENDERMAP_MAX_LINE + 10);
	memcpy(long_line, "a@b.example c@", 14);
	long_line[SENDERMAP_MAX_LINE + 10] = '\0';
	m = sendermap_parse(long_line, strlen(long_line), err, sizeof(err));
	ok(!m && strstr(err, "longer than"), "limits: a line over %d bytes (%s)",
	   SENDERMAP_MAX_LINE, err);
	free(long_line);

	many = malloc(MANY_SZ);
	off = (size_t)snprintf(many, MANY_SZ, "a@b.example");
	for (i = 0; i < SENDERMAP_MAX_VALUES + 1; i++)
		off += (size_t)snprintf(many + off, MANY_SZ - off,
					" s%zu@x.example", i);
	m = sendermap_parse(many, off, err, sizeof(err));
	ok(!m && strstr(err, "more than"), "limits: %d senders on a line (%s)",
	   SENDERMAP_MAX_VALUES + 1, err);
	/* Exactly the maximum is fine. */
	off = (size_t)snprintf(many, MANY_SZ, "a@b.example");
	for (i = 0; i < SENDERMAP_MAX_VALUES; i++)
		off += (size_t)snprintf(many + off, MANY_SZ - off,
					" s%zu@x.example", i);
	m = sendermap_parse(many, off, err, sizeof(err));
	is_int(m ? (long)sendermap_count(m) : -1, SENDERMAP_MAX_VALUES,
	       "limits: %d senders on a line are accepted", SENDERMAP_MAX_VALUES);
	sendermap_free(m);
	free(many);
}

static void test_owns(void)
{
	static const char map[] =
		"alice@isp.example  alice@family.example @alice-shop.example\n"
		"Bob@ISP.example    bob.smith@Work.Example\n"
		"@shop.example      @shop-mail.example\n"
		"carol              carol@home.example\n";
	static const struct {
		const char *login, *sender;
		bool want;
	} rows[] = {
		{"alice@isp.example", "alice@family.example", true},
		{"alice@isp.example", "ALICE@FAMILY.EXAMPLE", true},
		{"alice@isp.example", "anyone@alice-shop.example", true},
		{"alice@isp.example", "bob@family.example", false},
		{"alice@isp.example", "alice@sub.alice-shop.example", false},
		{"bob@isp.example", "bob.smith@work.example", true},
		{"alice@isp.example", "bob.smith@work.example", false},
		{"orders@shop.example", "news@shop-mail.example", true},
		{"orders@shop.example", "news@shop-mail.example.evil", false},
		{"carol", "carol@home.example", true},
		{"dave@isp.example", "alice@family.example", false},
		{"alice@isp.example", "no-at-sign", false},
		{"alice@isp.example", "", false},
	};
	char err[256];
	struct sendermap *m = sendermap_parse(map, strlen(map), err,
					      sizeof(err));
	size_t i;

	ok(m != NULL, "owns: map parses (%s)", m ? "ok" : err);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_int(sendermap_owns(m, rows[i].login, rows[i].sender),
		       rows[i].want, "owns: %s as \"%s\"", rows[i].login,
		       rows[i].sender);
	is_int(sendermap_owns(NULL, "a@b", "a@b"), false, "owns: NULL map");
	sendermap_free(m);
}

int main(void)
{
	test_parse();
	test_limits();
	test_owns();
	return tap_done();
}
