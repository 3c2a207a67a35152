/*
 * test-login-records - the login engine reading back incidents from its
 * store (login_incident.c): a record that cannot be shown is as if absent,
 * and costs no memory (the fuzz-records findings; the ASan run checks the
 * leak).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login.h"
#include "store/store.h"
#include "tap.h"
#include "util/config.h"
#include "util/log.h"

struct row {
	const char *label;
	const char *key, *value;	/* the stored incident */
	bool shown;			/* show and csv answer */
	const char *akey, *avalue;	/* an incident_acct record, or NULL */
	const char *csv_line;		/* a line the CSV must hold */
};

#define INC1 "{\"id\":\"inc-20261206-0001\",\"rule\":\"stuffing\"," \
	"\"reason\":\"r\",\"first_seen\":1796500000," \
	"\"last_seen\":1796500000,\"addresses\":[\"192.0.2.7\"]," \
	"\"networks\":[\"192.0.2.0/24\"],\"more_addresses\":0," \
	"\"tried\":1,\"valid\":0,\"listed\":1,\"state\":\"open\"}"

static const struct row rows[] = {
	{"incident in the writer's shape", "inc-20261206-0001", INC1, true,
	 "inc-20261206-0001/a@example.com",
	 "{\"login\":\"a@example.com\",\"tried\":3,\"valid\":true,"
	 "\"first\":1796500000,\"last\":1796500060,\"protocol\":\"imap\"}",
	 "a@example.com,yes,3,2026-12-05T19:46:40Z,2026-12-05T19:47:40Z,imap\r\n"},
	/* fuzz-records: a time gmtime_r cannot convert left strftime's
	 * buffer unwritten, and the CSV read the stack past it. */
	{"account time out of range (fuzz-records)", "inc-20261206-0001", INC1,
	 true, "inc-20261206-0001/a@example.com",
	 "{\"login\":\"a@example.com\",\"last\":179600000796500000}",
	 "a@example.com,no,0,,,\r\n"},
	/* fuzz-records: an id that is not UTF-8 has no JSON header; the
	 * accounts were collected and then leaked. */
	{"incident id not UTF-8 (fuzz-records)", "\xcf", "{}", false, NULL,
	 NULL, NULL},
	{"incident record not an object", "inc-20261206-0002", "[1]", false,
	 NULL, NULL, NULL},
};

int main(void)
{
	char err[256];
	size_t i;

	log_set_level(LOG_L_FATAL);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct config *cfg = config_load(NULL, err, sizeof(err));
		struct store *st = NULL;
		struct login_engine *e;
		json_t *show;
		char *csv;

		if (!ok(cfg && store_open("memory:", NULL, &st, err,
					  sizeof(err)) == 0,
			"%s: setup (%s)", r->label, err))
			continue;
		store_put(st, "incident", r->key, r->value, 0, NULL, NULL);
		if (r->akey)
			store_put(st, "incident_acct", r->akey, r->avalue, 0,
				  NULL, NULL);
		e = login_engine_new(cfg, st, err, sizeof(err));
		if (ok(e != NULL, "%s: engine loads (%s)", r->label,
		       e ? "" : err)) {
			show = login_incident_show(e, r->key);
			csv = login_incident_csv(e, r->key);
			is_int(show != NULL, r->shown, "%s: show", r->label);
			is_int(csv != NULL, r->shown, "%s: csv", r->label);
			if (r->csv_line)
				ok(csv && strstr(csv, r->csv_line) != NULL,
				   "%s: csv line", r->label);
			json_decref(show);
			free(csv);
			login_engine_free(e);
		}
		store_close(st);
		config_free(cfg);
	}
	return tap_done();
}
