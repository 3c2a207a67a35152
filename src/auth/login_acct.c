/*
 * login_acct - what the login engine remembers per account: habitual
 * networks (LG_HABITUAL ids of /24 or /64 networks, learnt from correct
 * passwords, the least recently used replaced), habitual countries
 * (LG_COUNTRIES two-letter codes in 16 bits each, most recent first, when
 * geoip_db is set; a traveller's fourth country pushes out the one least
 * recently logged in from), the last correct pwhash
 * and pwversion (as 64-bit hashes), and the abuse-time evidence kept for
 * login_note_abused, with the password-change check built on it.  Also the
 * list of accounts found compromised for login_take_compromised.
 *
 * Abuse records are stored (namespace "login_abused", key = login, value
 * {"pwhash","pwversion","since"} as hex hashes, expiring after 90 days) so
 * a restart between a restriction and the customer's password change does
 * not lose the evidence; a record is forgotten once it has produced a
 * credential_changed verdict.  Without a known abuse-time hash (the
 * account's last correct password was never seen) there is no evidence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login-internal.h"
#include "store/store.h"
#include "util/xalloc.h"

/* Equality of accounts on the login. */
static bool acct_eq(const struct lg_node *n, const void *key)
{
	return strcmp(((const struct lg_acct *)(const void *)n)->login,
		      key) == 0;
}

void lg_acct_drop(struct lg_node *n, void *arg)
{
	struct lg_acct *a = (struct lg_acct *)(void *)n;

	(void)arg;
	lg_dset_free(&a->badips);
	free(a);
}

/* Equality of abuse records on the login. */
static bool abused_eq(const struct lg_node *n, const void *key)
{
	return strcmp(((const struct lg_abused *)(const void *)n)->login,
		      key) == 0;
}

struct lg_acct *lg_acct_get(struct login_engine *e, const char *login,
			    bool create)
{
	uint64_t h = lg_hash_str(login);
	struct lg_node *n = lg_tab_find(&e->accts, h, acct_eq, login);
	struct lg_acct *a;
	size_t len;

	if (n) {
		lg_tab_touch(&e->accts, n);
		return (struct lg_acct *)(void *)n;
	}
	if (!create)
		return NULL;
	len = strlen(login);
	a = xcalloc(1, sizeof(*a) + len + 1);
	memcpy(a->login, login, len + 1);
	a->node.h = h;
	lg_tab_insert(&e->accts, &a->node);
	return a;
}

bool lg_acct_habitual(const struct lg_acct *a, uint64_t net)
{
	int i;

	for (i = 0; a && net && i < LG_HABITUAL; i++)
		if (a->nets[i].id == net)
			return true;
	return false;
}

bool lg_acct_has_habitual(const struct lg_acct *a)
{
	int i;

	for (i = 0; a && i < LG_HABITUAL; i++)
		if (a->nets[i].id)
			return true;
	return false;
}

void lg_acct_forget(struct lg_acct *a, uint64_t net)
{
	int i;

	for (i = 0; a && i < LG_HABITUAL; i++)
		if (a->nets[i].id == net)
			a->nets[i].id = 0;
}

void lg_acct_learn(struct lg_acct *a, uint64_t net, uint32_t now)
{
	int i, slot = 0;

	for (i = 0; i < LG_HABITUAL; i++) {
		if (a->nets[i].id == net) {
			a->nets[i].last = now;
			return;
		}
		if (a->nets[slot].id && (!a->nets[i].id ||
					 a->nets[i].last < a->nets[slot].last))
			slot = i;
	}
	a->nets[slot].id = net;
	a->nets[slot].last = now;
}

bool lg_acct_has_country(const struct lg_acct *a, uint16_t cc)
{
	int i;

	for (i = 0; a && cc && i < LG_COUNTRIES; i++)
		if (a->cc[i] == cc)
			return true;
	return false;
}

bool lg_acct_learn_country(struct lg_acct *a, uint16_t cc)
{
	int i, at = LG_COUNTRIES - 1;

	if (!cc)
		return false;
	for (i = 0; i < LG_COUNTRIES; i++)
		if (a->cc[i] == cc) {
			at = i;
			break;
		}
	/* Move it (or the oldest, which it replaces) to the front. */
	memmove(&a->cc[1], &a->cc[0], (size_t)at * sizeof(a->cc[0]));
	a->cc[0] = cc;
	return i == LG_COUNTRIES;
}

void lg_acct_forget_country(struct lg_acct *a, uint16_t cc)
{
	int i;

	for (i = 0; a && cc && i < LG_COUNTRIES; i++)
		if (a->cc[i] == cc) {
			memmove(&a->cc[i], &a->cc[i + 1],
				(size_t)(LG_COUNTRIES - 1 - i) *
				sizeof(a->cc[0]));
			a->cc[LG_COUNTRIES - 1] = 0;
			return;
		}
}

void lg_acct_countries(const struct lg_acct *a, char *out, size_t n)
{
	size_t len = 0;
	char c[3];
	int i;

	snprintf(out, n, "-");
	for (i = 0; i < LG_COUNTRIES && a->cc[i] && len + 4 <= n; i++) {
		lg_cc_format(a->cc[i], c);
		len += (size_t)snprintf(out + len, n - len, "%s%s",
					i ? "," : "", c);
	}
}

/* Store an abuse record: {"pwhash":hex,"pwversion":hex,"since":t}. */
static void abused_save(struct login_engine *e, const struct lg_abused *r)
{
	char val[128];

	snprintf(val, sizeof(val),
		 "{\"pwhash\":\"%016llx\",\"pwversion\":\"%016llx\","
		 "\"since\":%u}", (unsigned long long)r->pwh,
		 (unsigned long long)r->pwv, r->since);
	lg_put(e, "login_abused", r->login, val,
	       (int64_t)r->since + LG_ABUSED_TTL);
}

/* The abuse record of login, or NULL. */
static struct lg_abused *abused_get(struct login_engine *e,
				    const char *login)
{
	return (struct lg_abused *)(void *)lg_tab_find(
		&e->abused, lg_hash_str(login), abused_eq, login);
}

/* Insert (or find) the abuse record of login. */
static struct lg_abused *abused_new(struct login_engine *e, const char *login)
{
	struct lg_abused *r = abused_get(e, login);
	size_t len;

	if (r)
		return r;
	len = strlen(login);
	r = xcalloc(1, sizeof(*r) + len + 1);
	memcpy(r->login, login, len + 1);
	r->node.h = lg_hash_str(login);
	lg_tab_insert(&e->abused, &r->node);
	return r;
}

void lg_abused_set(struct login_engine *e, const char *login, uint64_t pwh,
		   uint64_t pwv, uint32_t now)
{
	struct lg_abused *r = abused_new(e, login);

	if (pwh)
		r->pwh = pwh;
	if (pwv)
		r->pwv = pwv;
	r->since = now;
	abused_save(e, r);
}

void login_note_abused(struct login_engine *e, const char *login)
{
	struct lg_acct *a;

	if (!e || !login || !*login)
		return;
	a = lg_acct_get(e, login, false);
	lg_abused_set(e, login, a ? a->pwh : 0, a ? a->pwv : 0, lg_now(0));
}

/* Parse one stored abuse record while loading. */
static void abused_row(void *arg, int result, const char *key,
		       const char *value, int64_t ts)
{
	struct login_engine *e = arg;
	struct lg_abused *r;
	unsigned long long pwh = 0, pwv = 0;
	json_t *o;
	json_int_t since = 0;
	const char *h = "", *v = "";

	(void)ts;
	if (!key || result != STORE_OK)
		return;
	o = json_loads(value, 0, NULL);
	if (!o || json_unpack(o, "{s?s, s?s, s?I}", "pwhash", &h, "pwversion",
			      &v, "since", &since) != 0) {
		json_decref(o);
		return;
	}
	pwh = strtoull(h, NULL, 16);
	pwv = strtoull(v, NULL, 16);
	r = abused_new(e, key);
	r->pwh = pwh;
	r->pwv = pwv;
	r->since = (uint32_t)since;
	json_decref(o);
}

bool lg_credential_check(struct login_engine *e, const char *login,
			 uint64_t pwh, uint64_t pwv, struct login_verdict *v)
{
	struct lg_abused *r = abused_get(e, login);
	const char *ev = NULL;
	size_t n;

	if (!r)
		return false;
	if (pwv && r->pwv)
		ev = pwv != r->pwv ? "pwversion_changed" : NULL;
	else if (pwh && r->pwh && pwh != r->pwh)
		ev = "pwhash_changed";
	if (!ev)
		return false;
	v->credential_changed = true;
	e->stats.credential_changed++;
	n = strlen(v->reason);
	snprintf(v->reason + n, sizeof(v->reason) - n,
		 "%scredential_changed=yes evidence=%s abused_since=%u",
		 n ? " " : "", ev, r->since);
	lg_del(e, "login_abused", r->login);
	lg_tab_remove(&e->abused, &r->node);
	free(r);
	return true;
}

void lg_comp_add(struct login_engine *e, const char *login)
{
	size_t i;

	for (i = 0; i < e->ncomp; i++)
		if (strcmp(e->comp[i], login) == 0)
			return;
	if (e->ncomp == e->capcomp) {
		e->capcomp = e->capcomp ? e->capcomp * 2 : 16;
		e->comp = xrealloc(e->comp, e->capcomp * sizeof(*e->comp));
	}
	e->comp[e->ncomp++] = xstrdup(login);
}

size_t login_take_compromised(struct login_engine *e, char ***logins)
{
	size_t n = e->ncomp;

	*logins = n ? e->comp : NULL;
	if (!n)
		return 0;
	e->comp = NULL;
	e->ncomp = e->capcomp = 0;
	return n;
}


void lg_abused_load(struct login_engine *e)
{
	store_scan(e->st, "login_abused", "", abused_row, e);
}
