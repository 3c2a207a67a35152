/*
 * login_allow - the stored allowlist: addresses and CIDR ranges trusted
 * like auth_allowlist (never counted, delayed, judged or blocked by the
 * automatic rules), added and removed at run time through the admin API.
 *
 * An entry has an optional end (until, 0 = none), a reason and the actor
 * who added it.  An entry past its end is ignored at once and purged by
 * the engine's tick (from memory; the store expires its row itself).
 * Manual blocks still apply inside the allowlist, as for auth_allowlist.
 *
 * Limit: LG_ALLOW_MAX entries (an allowlist is a short hand-kept list;
 * each login checks every entry, so the count bounds that cost).
 *
 * Store: namespace "allow", key = "192.0.2.0/24" (normalised), value
 * {"since","until","reason","actor"}, expiring at until.  Loaded at start;
 * with a shared store, other hosts' changes arrive through store_watch.
 * Single-threaded: the event loop's thread only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login-internal.h"
#include "store/store.h"
#include "util/log.h"
#include "util/xalloc.h"

/* The entry of exactly ip/len, or NULL. */
static struct lg_allow *allow_find(struct login_engine *e,
				   const struct lg_ip *ip, int len)
{
	size_t i;

	for (i = 0; i < e->nsallow; i++)
		if (e->sallow[i].c.len == len &&
		    memcmp(e->sallow[i].c.ip.b, ip->b, 16) == 0)
			return &e->sallow[i];
	return NULL;
}

/* Remove entry i (order is not kept). */
static void allow_remove(struct login_engine *e, size_t i)
{
	free(e->sallow[i].reason);
	free(e->sallow[i].actor);
	e->sallow[i] = e->sallow[--e->nsallow];
}

/* Set (add or replace) an entry in memory; false when full. */
static bool allow_set(struct login_engine *e, const struct lg_ip *ip,
		      int len, uint32_t since, uint32_t until,
		      const char *reason, const char *actor)
{
	struct lg_allow *a = allow_find(e, ip, len);

	if (!a) {
		if (e->nsallow >= LG_ALLOW_MAX)
			return false;
		if (!e->sallow)
			e->sallow = xcalloc(LG_ALLOW_MAX, sizeof(*e->sallow));
		a = &e->sallow[e->nsallow++];
		memset(a, 0, sizeof(*a));
		a->c.ip = *ip;
		a->c.len = (uint8_t)len;
	}
	a->since = since;
	a->until = until;
	free(a->reason);
	free(a->actor);
	a->reason = xstrdup(reason ? reason : "");
	a->actor = xstrdup(actor ? actor : "");
	return true;
}

bool lg_allow_stored(const struct login_engine *e, const struct lg_ip *ip,
		     uint32_t now)
{
	size_t i;

	for (i = 0; i < e->nsallow; i++)
		if ((!e->sallow[i].until || e->sallow[i].until > now) &&
		    lg_ip_in(ip, &e->sallow[i].c.ip, e->sallow[i].c.len))
			return true;
	return false;
}

void lg_allow_sweep(struct login_engine *e, uint32_t now)
{
	char key[64];
	size_t i = 0;

	while (i < e->nsallow) {
		if (!e->sallow[i].until || e->sallow[i].until > now) {
			i++;
			continue;
		}
		lg_cidr_format(&e->sallow[i].c.ip, e->sallow[i].c.len, key,
			       sizeof(key));
		log_msg(LOG_L_INFO, "event=login_allow_expired net=%s", key);
		allow_remove(e, i);
	}
}

void lg_allow_free(struct login_engine *e)
{
	while (e->nsallow)
		allow_remove(e, e->nsallow - 1);
	free(e->sallow);
	e->sallow = NULL;
}

/* Loading context. */
struct aload {
	struct login_engine *e;
	int result;		/* -1: no answer yet */
	int bad;
	bool own;		/* free at the end (a reload) */
};

/* Load one stored entry. */
static void allow_row(void *arg, int result, const char *key,
		      const char *value, int64_t ts)
{
	struct aload *l = arg;
	const char *reason = "", *actor = "";
	json_int_t since = 0, until = 0;
	struct lg_ip ip;
	json_t *o;
	int len;

	(void)ts;
	if (!key) {
		l->result = result;
		if (l->own)
			free(l);
		return;
	}
	o = value ? json_loads(value, 0, NULL) : NULL;
	if (!o || !lg_cidr_parse(key, &ip, &len) ||
	    json_unpack(o, "{s?I, s?I, s?s, s?s}", "since", &since, "until",
			&until, "reason", &reason, "actor", &actor) != 0 ||
	    since < 0 || until < 0 || until > UINT32_MAX || since > UINT32_MAX ||
	    !allow_set(l->e, &ip, len, (uint32_t)since, (uint32_t)until,
		       reason, actor))
		l->bad++;
	json_decref(o);
}

int lg_allow_load(struct login_engine *e, char *err, size_t errsz)
{
	struct aload l = { e, -1, 0, false };

	store_scan(e->st, "allow", "", allow_row, &l);
	if (l.result != STORE_OK) {
		snprintf(err, errsz, "loading the stored allowlist: %s",
			 l.result == -1 ? "no answer" :
			 store_result_str(l.result));
		return -1;
	}
	log_msg(LOG_L_INFO, "event=login_allow_loaded entries=%zu bad=%d",
		e->nsallow, l.bad);
	return 0;
}

/* Another host's change was read: apply it, or drop a deleted entry. */
static void allow_notice_got(void *arg, int result, const char *value)
{
	struct login_engine *e = ((void **)arg)[0];
	char *key = ((void **)arg)[1];
	struct aload l = { e, -1, 0, false };
	struct lg_allow *a;
	struct lg_ip ip;
	int len;

	if (result == STORE_OK) {
		allow_row(&l, STORE_OK, key, value, 0);
	} else if (result == STORE_NOTFOUND && lg_cidr_parse(key, &ip, &len) &&
		   (a = allow_find(e, &ip, len)) != NULL) {
		allow_remove(e, (size_t)(a - e->sallow));
		log_msg(LOG_L_NOTICE, "event=login_allow_del net=%s "
			"actor=another_host", key);
	}
	free(key);
	free(arg);
}

/* store_watch: another host changed an entry (key), or notices were lost
 * (key NULL: read them all again). */
static void allow_notice(void *arg, const char *ns, const char *key)
{
	struct login_engine *e = arg;
	void **ctx;

	if (!key) {
		struct aload *l = xcalloc(1, sizeof(*l));

		l->e = e;
		l->result = -1;
		l->own = true;
		store_scan(e->st, ns, "", allow_row, l);
		return;
	}
	ctx = xcalloc(2, sizeof(void *));
	ctx[0] = e;
	ctx[1] = xstrdup(key);
	store_get(e->st, ns, key, allow_notice_got, ctx);
}

void lg_allow_watch(struct login_engine *e)
{
	store_watch(e->st, "allow", allow_notice, e);
}

int login_allow_add(struct login_engine *e, const char *net, long seconds,
		    const char *reason, const char *actor, int64_t now,
		    char *err, size_t errsz)
{
	uint32_t t = lg_now(now), until;
	char key[64], q1[LOG_QSZ], q2[LOG_QSZ];
	struct lg_ip ip;
	json_t *o;
	char *txt;
	int len;

	if (!net || !lg_cidr_parse(net, &ip, &len)) {
		snprintf(err, errsz, "not an address or CIDR range");
		return -1;
	}
	if (seconds < 0 || seconds > 3650 * 86400L) {
		snprintf(err, errsz, "duration out of range");
		return -1;
	}
	lg_ip_mask(&ip, len);
	until = seconds ? t + (uint32_t)seconds : 0;
	if (!allow_set(e, &ip, len, t, until, reason, actor)) {
		snprintf(err, errsz, "the stored allowlist is full (%d "
			 "entries)", LG_ALLOW_MAX);
		return -1;
	}
	lg_cidr_format(&ip, len, key, sizeof(key));
	o = json_pack("{s:I, s:I, s:o, s:o}", "since", (json_int_t)t,
		      "until", (json_int_t)until, "reason", lg_jstr(reason),
		      "actor", lg_jstr(actor));
	txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (txt)
		lg_put(e, "allow", key, txt, (int64_t)until);
	free(txt);
	json_decref(o);
	log_msg(LOG_L_NOTICE, "event=login_allow_add net=%s until=%u "
		"actor=%s reason=%s", key, until,
		log_q(q1, sizeof(q1), actor && *actor ? actor : "admin"),
		log_q(q2, sizeof(q2), reason));
	return 0;
}

int login_allow_del(struct login_engine *e, const char *net,
		    const char *actor, char *err, size_t errsz)
{
	char key[64], q[LOG_QSZ];
	struct lg_allow *a;
	struct lg_ip ip;
	int len;

	if (!net || !lg_cidr_parse(net, &ip, &len)) {
		snprintf(err, errsz, "not an address or CIDR range");
		return -1;
	}
	lg_ip_mask(&ip, len);
	a = allow_find(e, &ip, len);
	if (!a) {
		snprintf(err, errsz, "not in the stored allowlist");
		return 1;
	}
	allow_remove(e, (size_t)(a - e->sallow));
	lg_cidr_format(&ip, len, key, sizeof(key));
	lg_del(e, "allow", key);
	log_msg(LOG_L_NOTICE, "event=login_allow_del net=%s actor=%s", key,
		log_q(q, sizeof(q), actor && *actor ? actor : "admin"));
	return 0;
}

json_t *login_allow_list(struct login_engine *e, int64_t now)
{
	uint32_t t = lg_now(now);
	json_t *arr = json_array();
	char key[64];
	size_t i;

	for (i = 0; i < e->nsallow; i++) {
		const struct lg_allow *a = &e->sallow[i];

		if (a->until && a->until <= t)
			continue;
		lg_cidr_format(&a->c.ip, a->c.len, key, sizeof(key));
		json_array_append_new(arr, json_pack(
			"{s:s, s:I, s:I, s:o, s:o}", "net", key,
			"since", (json_int_t)a->since,
			"until", (json_int_t)a->until,
			"reason", lg_jstr(a->reason),
			"actor", lg_jstr(a->actor)));
	}
	return arr;
}
