/*
 * login_incident_view - the admin's views of the incidents (the API's and
 * CLI's list, show and CSV export, and an account's incidents): JSON and
 * CSV built from memory and, for accounts and other hosts' incidents, from
 * the store.  The incidents themselves, their ids and their store I/O are
 * in login_incident.c.
 *
 * Reads: a shared store (redis:) lists every host's incidents (the newest
 * LG_INCIDENTS_MAX) from its "incident" namespace, this host's from memory
 * when it does not answer at once; show and CSV read the accounts from
 * "incident_acct" (from memory, marked "accounts_partial", when the store
 * does not answer).  A read that answers after the call returned frees its
 * own context (struct rd).  CSV: RFC 4180 with CRLF; a login that would
 * start a spreadsheet formula is quoted with a leading '.
 *
 * Event-loop thread, like the engine.  Results are new references (JSON)
 * or strings for free() (CSV), owned by the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/login-internal.h"
#include "auth/login_incident-internal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/xalloc.h"

/*
 * A read that may finish after the call returned (networked stores): the
 * context is freed by whoever finishes last.
 */
struct rd {
	json_t *arr;		/* rows, or NULL for a get */
	json_t *obj;		/* a get's value */
	int result;
	bool done, abandoned;
};

/* Collect rows (account rows, or incident headers). */
static void rd_row(void *arg, int result, const char *key, const char *value,
		   int64_t ts)
{
	struct rd *r = arg;
	json_t *o;

	(void)ts;
	if (key) {
		o = json_loads(value, 0, NULL);
		if (o && json_is_object(o))
			json_array_append_new(r->arr, o);
		else
			json_decref(o);
		return;
	}
	r->result = result;
	r->done = true;
	if (r->abandoned) {
		json_decref(r->arr);
		free(r);
	}
}

/* Collect one value. */
static void rd_get(void *arg, int result, const char *value)
{
	struct rd *r = arg;

	r->result = result;
	r->done = true;
	if (r->abandoned) {
		free(r);
		return;
	}
	if (result == STORE_OK)
		r->obj = json_loads(value, 0, NULL);
}

/*
 * Every host's incidents from a shared store, newest first (at most
 * LG_INCIDENTS_MAX); NULL if the store did not answer.
 */
static json_t *list_shared(struct login_engine *e)
{
	struct rd *r = xcalloc(1, sizeof(*r));
	json_t *arr;
	size_t n, i;

	lg_inc_flush(e);
	r->arr = json_array();
	store_scan(e->st, "incident", "", rd_row, r);
	if (!r->done) {
		r->abandoned = true;
		return NULL;
	}
	arr = NULL;
	if (r->result == STORE_OK) {
		arr = json_array();
		n = json_array_size(r->arr);
		for (i = n; i-- > 0 && n - i <= LG_INCIDENTS_MAX;)
			json_array_append(arr, json_array_get(r->arr, i));
	}
	json_decref(r->arr);
	free(r);
	return arr;
}

json_t *login_incidents_list(struct login_engine *e)
{
	json_t *arr;
	size_t i;

	if (store_is_shared(e->st) && (arr = list_shared(e)) != NULL)
		return arr;
	arr = json_array();
	for (i = e->ninc; i-- > 0;)
		json_array_append_new(arr, lg_inc_json(e->inc[i]));
	return arr;
}

/* Order: valid first, then by login. */
static int acct_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int vx = json_is_true(json_object_get(x, "valid"));
	int vy = json_is_true(json_object_get(y, "valid"));
	const char *lx = json_string_value(json_object_get(x, "login"));
	const char *ly = json_string_value(json_object_get(y, "login"));

	if (vx != vy)
		return vy - vx;
	return strcmp(lx ? lx : "", ly ? ly : "");
}

/* Sort an array of account rows in place. */
static void sort_accounts(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	json_t **v;

	if (n < 2)
		return;
	v = xcalloc(n, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), acct_cmp);
	json_array_clear(arr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

/*
 * The incident's header (from memory or the store) and its accounts (from
 * the store, or from memory with *partial set if the store did not answer
 * at once).  NULL if there is no such incident.
 */
static json_t *incident_full(struct login_engine *e, const char *id,
			     json_t **accounts, bool *partial)
{
	struct lg_incident *inc = lg_inc_find(e, id);
	json_t *hdr = NULL;
	struct rd *r;
	char *prefix;
	size_t i;

	*partial = false;
	*accounts = NULL;
	if (!id || !*id || strchr(id, '/'))
		return NULL;
	if (inc) {
		/* NULL for an id from the store that is not UTF-8: as if
		 * absent, before the accounts are collected (fuzz-records). */
		if (!(hdr = lg_inc_json(inc)))
			return NULL;
	} else {
		r = xcalloc(1, sizeof(*r));
		store_get(e->st, "incident", id, rd_get, r);
		if (!r->done) {
			r->abandoned = true;
			return NULL;
		}
		hdr = r->obj;
		free(r);
		if (!hdr || !json_is_object(hdr)) {
			json_decref(hdr);
			return NULL;
		}
	}
	lg_inc_flush(e);
	r = xcalloc(1, sizeof(*r));
	r->arr = json_array();
	prefix = xasprintf("%s/", id);
	store_scan(e->st, "incident_acct", prefix, rd_row, r);
	free(prefix);
	if (r->done && r->result == STORE_OK) {
		*accounts = r->arr;
		free(r);
	} else {
		if (r->done) {
			json_decref(r->arr);
			free(r);
		} else {
			r->abandoned = true;
		}
		*partial = true;
		*accounts = json_array();
		for (i = 0; inc && inc->tab && i < inc->cap; i++)
			if (inc->tab[i])
				json_array_append_new(*accounts,
						      lg_iacct_json(inc->tab[i]));
	}
	sort_accounts(*accounts);
	return hdr;
}

json_t *login_incident_show(struct login_engine *e, const char *id)
{
	json_t *accts, *hdr;
	bool partial;

	hdr = incident_full(e, id, &accts, &partial);
	if (!hdr)
		return NULL;
	json_object_set_new(hdr, "accounts", accts);
	if (partial)
		json_object_set_new(hdr, "accounts_partial", json_true());
	return hdr;
}

/* One CSV field, RFC 4180 quoted when needed; a leading = + - @ gets a
 * ' so spreadsheets do not run an attacker-chosen login as a formula. */
static void csv_field(struct buf *b, const char *s)
{
	bool formula = strchr("=+-@\t\r", s[0]) != NULL && s[0];
	bool quote = formula || strpbrk(s, ",\"\r\n") != NULL ||
		     s[0] == ' ' || (s[0] && s[strlen(s) - 1] == ' ');

	if (!quote) {
		buf_puts(b, s);
		return;
	}
	buf_puts(b, "\"");
	if (formula)
		buf_puts(b, "'");
	for (; *s; s++) {
		if (*s == '"')
			buf_puts(b, "\"\"");
		else
			buf_append(b, s, 1);
	}
	buf_puts(b, "\"");
}

/* A unix time as RFC 3339 UTC, or "" for 0 and for a time gmtime_r
 * cannot convert (a stored record's, read back: fuzz-records). */
static void csv_time(struct buf *b, json_int_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32];

	if (t <= 0 || !gmtime_r(&tt, &tm) ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return;
	buf_puts(b, s);
}

char *login_incident_csv(struct login_engine *e, const char *id)
{
	json_t *accts, *hdr, *x;
	struct buf b;
	bool partial;
	size_t i;

	hdr = incident_full(e, id, &accts, &partial);
	if (!hdr)
		return NULL;
	json_decref(hdr);
	buf_init(&b, (size_t)1 << 30);
	buf_puts(&b, "login,valid,tried,first_seen,last_seen,protocol\r\n");
	json_array_foreach(accts, i, x) {
		const char *login, *proto;
		bool valid = json_is_true(json_object_get(x, "valid"));
		json_int_t tried;

		login = json_string_value(json_object_get(x, "login"));
		proto = json_string_value(json_object_get(x, "protocol"));
		tried = json_integer_value(json_object_get(x, "tried"));
		csv_field(&b, login ? login : "");
		buf_printf(&b, ",%s,%lld,", valid ? "yes" : "no",
			   (long long)tried);
		csv_time(&b, json_integer_value(json_object_get(x, "first")));
		buf_puts(&b, ",");
		csv_time(&b, json_integer_value(json_object_get(x, "last")));
		buf_puts(&b, ",");
		csv_field(&b, proto ? proto : "");
		buf_puts(&b, "\r\n");
	}
	json_decref(accts);
	return buf_steal(&b);
}

json_t *login_account_show(struct login_engine *e, const char *login)
{
	const struct lg_acct *a = lg_acct_get(e, login, false);
	json_t *incs = json_array();
	char cc[LG_COUNTRIES * 3 + 2] = "-";
	int nets = 0, k;
	size_t i;

	if (a) {
		lg_acct_countries(a, cc, sizeof(cc));
		for (k = 0; k < LG_HABITUAL; k++)
			nets += a->nets[k].id != 0;
	}
	for (i = e->ninc; i-- > 0;) {	/* the newest first */
		const struct lg_incident *inc = e->inc[i];
		const struct lg_iacct *ia = lg_iacct_find(inc, login);

		if (ia)
			json_array_append_new(incs, json_pack(
				"{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:s}",
				"id", inc->id, "rule", inc->rule, "state",
				inc->open ? "open" : "closed", "valid",
				(int)ia->valid, "tried", (json_int_t)ia->tried,
				"first", (json_int_t)ia->first, "last",
				(json_int_t)ia->last, "protocol", ia->proto));
	}
	return json_pack("{s:s, s:i, s:o}", "habitual_countries", cc,
			 "habitual_networks", nets, "incidents", incs);
}
