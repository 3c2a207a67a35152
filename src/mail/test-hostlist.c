/*
 * test-hostlist - the host lists of content_hosts_file (mail/hostlist.h):
 * loading, bad lines, subdomain and path matching, kinds kept apart.
 */
#include <stdio.h>
#include <string.h>

#include "mail/hostlist.h"
#include "tap.h"

static const char list[] =
	"# comment\n"
	"\n"
	"shortener bit.ly\n"
	"SHORTENER T.CO   # upper case folds\n"
	"hosting web.app\n"
	"hosting docs.google.com/forms\n"
	"hosting docs.google.com/spreadsheets/d/e\n"
	"freemail gmail.com\r\n"
	"tld xyz\n";

struct row {
	const char *label;
	enum hostlist_kind kind;
	const char *host, *path;
	const char *want;	/* the entry matched, or NULL */
};

static const struct row rows[] = {
	{ "the host itself", HOSTLIST_SHORTENER, "bit.ly", "/x", "bit.ly" },
	{ "a subdomain", HOSTLIST_HOSTING, "evil-login.web.app", "/",
	  "web.app" },
	{ "a label that only ends the same is no subdomain",
	  HOSTLIST_HOSTING, "myweb.app", "/", NULL },
	{ "upper case in the file is folded", HOSTLIST_SHORTENER, "t.co",
	  NULL, "t.co" },
	{ "another kind does not match", HOSTLIST_FREEMAIL, "bit.ly", NULL,
	  NULL },
	{ "a path entry matches its path", HOSTLIST_HOSTING,
	  "docs.google.com", "/forms/d/e/1FAIpQ/viewform",
	  "docs.google.com/forms" },
	{ "a path entry caselessly", HOSTLIST_HOSTING, "docs.google.com",
	  "/Forms/x", "docs.google.com/forms" },
	{ "a path entry: another path does not", HOSTLIST_HOSTING,
	  "docs.google.com", "/document/d/1", NULL },
	{ "a path entry: no path does not", HOSTLIST_HOSTING,
	  "docs.google.com", NULL, NULL },
	{ "the second entry of one host", HOSTLIST_HOSTING,
	  "docs.google.com", "/spreadsheets/d/e/2PACX",
	  "docs.google.com/spreadsheets/d/e" },
	{ "a CRLF line", HOSTLIST_FREEMAIL, "gmail.com", NULL, "gmail.com" },
	{ "a TLD", HOSTLIST_TLD, "a.b.xyz", NULL, "xyz" },
	{ "a TLD is no other TLD", HOSTLIST_TLD, "a.b.xyz.jp", NULL, NULL },
	{ "an empty host", HOSTLIST_TLD, "", NULL, NULL },
};

/* Loading: entries, bad lines and what stays of a bad file. */
static void test_load(void)
{
	static const struct {
		const char *label, *text;
		int r;
		size_t line, n;
	} bad[] = {
		{ "an unknown kind", "shortener bit.ly\nredirect x.example\n",
		  HOSTLIST_E_SYNTAX, 2, 1 },
		{ "no host", "hosting\n", HOSTLIST_E_SYNTAX, 1, 0 },
		{ "two hosts on a line", "hosting a.example b.example\n",
		  HOSTLIST_E_SYNTAX, 1, 0 },
		{ "a byte no host has", "hosting a!b.example\n",
		  HOSTLIST_E_SYNTAX, 1, 0 },
		{ "a leading dot", "hosting .web.app\n", HOSTLIST_E_SYNTAX,
		  1, 0 },
		{ "a trailing comment is fine", "tld top # cheap\n", 0, 0, 1 },
		{ "no final newline", "tld top", 0, 0, 1 },
	};
	struct hostlist *hl;
	size_t i, line;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hl = hostlist_new();
		line = 0;
		is_int(hostlist_load(hl, bad[i].text, strlen(bad[i].text),
				     &line), bad[i].r, "%s: result",
		       bad[i].label);
		is_int((int)line, (int)bad[i].line, "%s: line", bad[i].label);
		is_int((int)hostlist_count(hl), (int)bad[i].n, "%s: entries",
		       bad[i].label);
		hostlist_free(hl);
	}
	ok(hostlist_match(NULL, HOSTLIST_TLD, "a.xyz", NULL) == NULL,
	   "no list: no match");
	hostlist_free(NULL);
	is_str(hostlist_kind_name(HOSTLIST_HOSTING), "hosting", "kind name");
	is_str(hostlist_kind_name(HOSTLIST_NKINDS), "?", "kind name: bad");
}

/* The cap: HOSTLIST_MAX entries, the next line fails. */
static void test_full(void)
{
	struct hostlist *hl = hostlist_new();
	static char text[(HOSTLIST_MAX + 1) * 16];
	size_t i, n = 0, bad = 0;

	for (i = 0; i <= HOSTLIST_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "tld t%zu\n",
				      i);
	is_int(hostlist_load(hl, text, n, &bad), HOSTLIST_E_FULL,
	       "full: the entry past the cap fails");
	is_int((int)bad, HOSTLIST_MAX + 1, "full: its line");
	is_int((int)hostlist_count(hl), HOSTLIST_MAX, "full: the cap kept");
	ok(hostlist_match(hl, HOSTLIST_TLD, "x.t17", NULL) != NULL,
	   "full: the entries before it are used");
	hostlist_free(hl);
}

int main(void)
{
	struct hostlist *hl = hostlist_new();
	size_t i, bad = 0;
	const char *m;

	is_int(hostlist_load(hl, list, strlen(list), &bad), 0, "list loads");
	is_int((int)hostlist_count(hl), 7, "list: 7 entries");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		m = hostlist_match(hl, rows[i].kind, rows[i].host, rows[i].path);
		if (rows[i].want)
			is_str(m ? m : "(none)", rows[i].want, "%s",
			       rows[i].label);
		else
			ok(m == NULL, "%s: no match (got %s)", rows[i].label,
			   m ? m : "none");
	}
	hostlist_free(hl);
	test_load();
	test_full();
	return tap_done();
}
