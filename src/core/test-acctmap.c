/*
 * test-acctmap - the account map parser (acctmap.c) through
 * acctmap_load_buffer(), the entry fuzz-acctmap drives, and acctmap_load()
 * from a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "core/core-internal.h"
#include "util/config.h"

static const char conf_text[] =
	"[class bulk]\nmsgs_per_minute = 120\n[class strict]\n"
	"msgs_per_minute = 5\n";

struct row {
	const char *label;
	const char *map;	/* NULL: a line of 5,000 bytes */
	const char *err;	/* NULL: loads */
	const char *login;	/* looked up when it loads */
	const char *cls;	/* its class */
	long per_minute;	/* its msgs_per_minute */
	const char *contact;	/* its contact, NULL for none */
};

static const struct row rows[] = {
	{"empty", "", NULL, "a@example.com", NULL, 0, NULL},
	{"class and override", "a@example.com class=bulk msgs_per_minute=99\n",
	 NULL, "a@example.com", "bulk", 99, NULL},
	{"override before class still on top of it",
	 "a@example.com msgs_per_minute=99 class=strict\n", NULL,
	 "a@example.com", "strict", 99, NULL},
	{"contact, CRLF, tabs, comment",
	 "# c\r\n\r\n  a@example.com\tcontact=b@example.net\r\n", NULL,
	 "A@EXAMPLE.COM", "default", 30, "b@example.net"},
	/* fuzz-acctmap's first run: its own check had assumed a maximum. */
	{"override over 100,000", "e msgs_per_minute=146695", NULL, "e",
	 "default", 146695, NULL},
	{"no final newline", "a@example.com class=bulk", NULL,
	 "a@example.com", "bulk", 120, NULL},
	{"unknown class", "a@example.com class=nosuch\n",
	 "(buffer):1: no [class nosuch]", NULL, NULL, 0, NULL},
	{"bad number", "\na@example.com msgs_per_minute=lots\n",
	 "(buffer):2: msgs_per_minute: expected a number", NULL, NULL, 0, NULL},
	{"no equals", "a@example.com bulk\n", "expected name=value", NULL, NULL,
	 0, NULL},
	/* Found while writing fuzz-acctmap: a line over the 4,095-byte
	 * buffer went on as a second line (its tail read as an account). */
	{"line too long", NULL, "(buffer):1: line too long", NULL, NULL, 0,
	 NULL},
};

int main(void)
{
	char err[512], path[] = "/tmp/test-acctmap-XXXXXX", *big;
	const struct account_override *o;
	struct config *cfg;
	struct acctmap *m;
	size_t i;
	FILE *f;

	cfg = config_load_buffer(conf_text, sizeof(conf_text) - 1, "t.conf",
				 err, sizeof(err));
	if (!ok(cfg != NULL, "acctmap: config (%s)", cfg ? "" : err))
		return tap_done();
	big = malloc(5002);
	memset(big, 'x', 5000);
	memcpy(big, "a@example.com contact=", 22);
	big[5000] = '\n';
	big[5001] = '\0';
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		const char *t = r->map ? r->map : big;

		err[0] = '\0';
		m = acctmap_load_buffer(cfg, t, strlen(t), err, sizeof(err));
		if (r->err) {
			ok(m == NULL && strstr(err, r->err) != NULL,
			   "acctmap %s: refused (%s)", r->label, err);
			acctmap_free(m);
			continue;
		}
		if (!ok(m != NULL, "acctmap %s: loads (%s)", r->label, err))
			continue;
		o = acctmap_find(m, r->login);
		if (!r->cls) {
			ok(o == NULL, "acctmap %s: no entry", r->label);
		} else if (ok(o != NULL, "acctmap %s: entry", r->label)) {
			is_str(o->cl.name, r->cls, "acctmap %s: class",
			       r->label);
			is_int(o->cl.msgs_per_minute, r->per_minute,
			       "acctmap %s: override", r->label);
			is_str(o->contact ? o->contact : "(none)",
			       r->contact ? r->contact : "(none)",
			       "acctmap %s: contact", r->label);
		}
		acctmap_free(m);
	}
	free(big);

	/* The file path reads the same way. */
	f = fdopen(mkstemp(path), "w");
	fputs("a@example.com class=bulk\n", f);
	fclose(f);
	free(cfg->account_map);
	cfg->account_map = strdup(path);
	m = acctmap_load(cfg, err, sizeof(err));
	o = m ? acctmap_find(m, "a@example.com") : NULL;
	ok(o && strcmp(o->cl.name, "bulk") == 0, "acctmap: file loads");
	acctmap_free(m);
	unlink(path);
	m = acctmap_load(cfg, err, sizeof(err));
	ok(m == NULL && strstr(err, path) != NULL,
	   "acctmap: missing file refused (%s)", err);
	config_free(cfg);
	return tap_done();
}
