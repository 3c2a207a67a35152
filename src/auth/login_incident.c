/*
 * login_incident - incidents: one per attacking address or network
 * cluster (its /24 or /64) per episode, with the accounts it tried and the
 * ones whose credentials were valid.
 *
 * An automatic state (login_ip.c) joins the open incident of its network,
 * or starts one; the incident closes when its last state expires or is
 * lifted.  Ids are "inc-YYYYMMDD-NNNN" (UTC, a daily sequence), so the
 * store's key order is their time order.
 *
 * Store: namespace "incident", key = id, value {"id","rule","reason",
 * "first_seen","last_seen","addresses","networks","more_addresses","tried",
 * "valid","listed","state"}; namespace "incident_acct", key = "<id>/<login>",
 * value {"login","tried","valid","first","last","protocol"}.  A valid
 * account and the incident's header are written at once; other account
 * rows are batched and written every LG_TICK seconds or 512 rows.
 *
 * Limits: at most LG_SUSPECT_MAX accounts that were only tried are listed
 * per incident (valid ones always are); past that "tried" still counts but
 * may count a login twice.  LG_INC_ADDRS addresses and LG_INC_NETS networks
 * are named, more_addresses counts the rest.  The newest LG_INCIDENTS_MAX
 * incidents stay in memory (all are loaded at start, the oldest closed
 * ones are then dropped); accounts stay in memory only while an incident
 * is open, and show/CSV read them from the store (login_incident_view.c:
 * the admin's list, show, CSV and account views).
 *
 * Shared store (redis:): every host writes its incidents to the same
 * namespace, so the list is read from the store (every host's, newest
 * LG_INCIDENTS_MAX; from memory when the store does not answer) and a new
 * id skips ids another host stored (two hosts opening one between the
 * other's check and write may still pick one id: the later write wins).
 * One attack is one incident across the fleet: a host that meets another
 * host's incident (a state naming it, read from the store) fetches it and
 * notes its own evidence there (lg_inc_join), and a host opening an
 * incident for a network first asks the store which incident that network
 * (or the campaign) is in: namespace "incident_net", key = the network or
 * "campaign", value = the id, expiring after auth_block_max; a new one is
 * claimed there with store_put_new (atomic: of two hosts judging one
 * network at once, the second joins the first's).  A host writing a header
 * merges what the others wrote (addresses, higher counts).  Account rows are keyed by login: two
 * hosts noting one login write one row (the later count wins).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/login-internal.h"
#include "auth/login_incident-internal.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Slot of login in the incident's table: its entry or the empty one. */
static size_t iacct_slot(const struct lg_incident *inc, const char *login)
{
	size_t i = (size_t)lg_hash_str(login) & (inc->cap - 1);

	while (inc->tab[i] && strcmp(inc->tab[i]->login, login) != 0)
		i = (i + 1) & (inc->cap - 1);
	return i;
}

struct lg_iacct *lg_iacct_find(const struct lg_incident *inc,
			       const char *login)
{
	return inc->tab ? inc->tab[iacct_slot(inc, login)] : NULL;
}

/* Add an entry for login (not present). */
static struct lg_iacct *iacct_add(struct lg_incident *inc, const char *login)
{
	struct lg_iacct *a;
	size_t i;

	if (!inc->tab) {
		inc->cap = 64;
		inc->tab = xcalloc(inc->cap, sizeof(*inc->tab));
	}
	if ((inc->n + 1) * 4 > inc->cap * 3) {
		struct lg_iacct **old = inc->tab;
		size_t ocap = inc->cap;

		inc->cap *= 2;
		inc->tab = xcalloc(inc->cap, sizeof(*inc->tab));
		for (i = 0; i < ocap; i++)
			if (old[i])
				inc->tab[iacct_slot(inc, old[i]->login)] =
					old[i];
		free(old);
	}
	a = xcalloc(1, sizeof(*a));
	a->login = xstrdup(login);
	inc->tab[iacct_slot(inc, login)] = a;
	inc->n++;
	return a;
}

/* Free the in-memory account table. */
static void inc_free_accts(struct lg_incident *inc)
{
	size_t i;

	for (i = 0; inc->tab && i < inc->cap; i++) {
		if (inc->tab[i]) {
			free(inc->tab[i]->login);
			free(inc->tab[i]);
		}
	}
	free(inc->tab);
	inc->tab = NULL;
	inc->cap = inc->n = 0;
}

/* Free an incident. */
static void inc_free(struct lg_incident *inc)
{
	uint16_t i;

	inc_free_accts(inc);
	for (i = 0; i < inc->naddrs; i++)
		free(inc->addrs[i]);
	for (i = 0; i < inc->nnets; i++)
		free(inc->nets[i]);
	free(inc->addrs);
	free(inc->nets);
	free(inc->reason);
	free(inc);
}

/* A string list as a JSON array. */
static json_t *str_array(char **v, uint16_t n)
{
	json_t *a = json_array();
	uint16_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, lg_jstr(v[i]));
	return a;
}

json_t *lg_inc_json(const struct lg_incident *inc)
{
	return json_pack("{s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:I, s:I, s:I,"
			 " s:I, s:s}",
			 "id", inc->id, "rule", inc->rule,
			 "reason", lg_jstr(inc->reason),
			 "first_seen", (json_int_t)inc->first,
			 "last_seen", (json_int_t)inc->last,
			 "addresses", str_array(inc->addrs, inc->naddrs),
			 "networks", str_array(inc->nets, inc->nnets),
			 "more_addresses", (json_int_t)inc->more_addrs,
			 "tried", (json_int_t)inc->tried,
			 "valid", (json_int_t)inc->valid,
			 "listed", (json_int_t)inc->listed,
			 "state", inc->open ? "open" : "closed");
}

/* Write JSON o under ns/key (no expiry) and free it. */
static void put_json(struct login_engine *e, const char *ns, const char *key,
		     json_t *o)
{
	char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (txt)
		lg_put(e, ns, key, txt, 0);
	free(txt);
	json_decref(o);
}

static bool inc_read(struct lg_incident *inc, const char *value, bool merge);

/* The stored header, merged into the incident (arg) before it is
 * written over. */
static void merge_got(void *arg, int result, const char *value)
{
	if (result == STORE_OK)
		inc_read(arg, value, true);
}

void lg_inc_save(struct login_engine *e, struct lg_incident *inc)
{
	inc->dirty = false;
	/* Other hosts write the same incident (they joined it): keep their
	 * addresses and counts (a blocking read, answered before it
	 * returns; a store that does not answer leaves this host's view). */
	if (store_is_shared(e->st))
		store_get(e->st, "incident", inc->id, merge_got, inc);
	put_json(e, "incident", inc->id, lg_inc_json(inc));
}

json_t *lg_iacct_json(const struct lg_iacct *a)
{
	return json_pack("{s:o, s:I, s:b, s:I, s:I, s:s}",
			 "login", lg_jstr(a->login),
			 "tried", (json_int_t)a->tried, "valid", (int)a->valid,
			 "first", (json_int_t)a->first,
			 "last", (json_int_t)a->last, "protocol", a->proto);
}

/* Write one account row. */
static void iacct_save(struct login_engine *e, const struct lg_incident *inc,
		       struct lg_iacct *a)
{
	char *key = xasprintf("%s/%s", inc->id, a->login);

	a->dirty = 0;
	put_json(e, "incident_acct", key, lg_iacct_json(a));
	free(key);
}

void lg_inc_flush(struct login_engine *e)
{
	size_t i;

	for (i = 0; i < e->ndirty; i++)
		if (e->dirty[i].a->dirty)
			iacct_save(e, e->dirty[i].inc, e->dirty[i].a);
	e->ndirty = 0;
	for (i = 0; i < e->ninc; i++)
		if (e->inc[i]->dirty)
			lg_inc_save(e, e->inc[i]);
}

/* Queue an account row for the next flush. */
static void dirty_add(struct login_engine *e, struct lg_incident *inc,
		      struct lg_iacct *a)
{
	inc->dirty = true;
	if (a->dirty)
		return;
	a->dirty = 1;
	if (e->ndirty == e->capdirty) {
		e->capdirty = e->capdirty ? e->capdirty * 2 : 64;
		e->dirty = xrealloc(e->dirty, e->capdirty * sizeof(*e->dirty));
	}
	e->dirty[e->ndirty].inc = inc;
	e->dirty[e->ndirty++].a = a;
}

struct lg_incident *lg_inc_find(struct login_engine *e, const char *id)
{
	size_t i;

	if (!id || !*id)
		return NULL;
	for (i = e->ninc; i-- > 0;)	/* open ones are the newest */
		if (strcmp(e->inc[i]->id, id) == 0)
			return e->inc[i];
	return NULL;
}

/* The in-memory list's incident for id, else (shared store) a copy of
 * the one another host stored, with its accounts; NULL if none. */
static struct lg_incident *inc_fetch(struct login_engine *e, const char *id);

struct lg_incident *lg_inc_join(struct login_engine *e, const char *id)
{
	struct lg_incident *inc = lg_inc_find(e, id);

	if (inc || !id || !*id || !store_is_shared(e->st))
		return inc;
	return inc_fetch(e, id);
}

/* Add s to a bounded string list; false if present or full. */
static bool list_add(char ***v, uint16_t *n, uint16_t max, const char *s)
{
	uint16_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return true;
	if (*n >= max)
		return false;
	*v = xrealloc(*v, (*n + 1u) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
	return true;
}

/* Does the list hold s? */
static bool list_has(char **v, uint16_t n, const char *s)
{
	uint16_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Answer of net_incident's get: the id into ctx[0] (40 bytes). */
static void id_copy(void *arg, int result, const char *value)
{
	char *id = ((void **)arg)[0];

	if (result == STORE_OK && value && strlen(value) < 40)
		memcpy(id, value, strlen(value) + 1);
}

/* Answer of id_stored's get. */
static void id_got(void *arg, int result, const char *value)
{
	(void)value;
	*(int *)arg = result;
}

/*
 * Has another host sharing the store taken id?  Only asked of a shared
 * store (its gets answer before returning); an unavailable store says no.
 */
static bool id_stored(struct login_engine *e, const char *id)
{
	int result = STORE_NOTFOUND;

	if (!store_is_shared(e->st))
		return false;
	store_get(e->st, "incident", id, id_got, &result);
	return result == STORE_OK;
}

/* A new id "inc-YYYYMMDD-NNNN" for now, unused in memory and the store. */
static void new_id(struct login_engine *e, uint32_t now, char *out,
		   size_t n)
{
	time_t t = (time_t)now;
	struct tm tm;
	char day[16];
	size_t i, dl;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	dl = strlen(day);
	if (e->seq_day != now / 86400) {
		e->seq_day = now / 86400;
		e->seq = 0;
		for (i = 0; i < e->ninc; i++) {
			const char *id = e->inc[i]->id;

			unsigned long s;

			if (strncmp(id, "inc-", 4) != 0 ||
			    strncmp(id + 4, day, dl) != 0 || id[4 + dl] != '-')
				continue;
			s = strtoul(id + 5 + dl, NULL, 10);
			if (s > e->seq)
				e->seq = (uint32_t)s;
		}
	}
	do
		snprintf(out, n, "inc-%s-%04u", day, ++e->seq);
	while (lg_inc_find(e, out) || id_stored(e, out));
}

/* The open incident another host stored for key (a network, or
 * "campaign"), fetched; NULL if none. */
static struct lg_incident *net_incident(struct login_engine *e,
					const char *key)
{
	char id[40] = "";
	struct lg_incident *inc;
	void *ctx[2] = { id, NULL };

	if (!store_is_shared(e->st))
		return NULL;
	store_get(e->st, "incident_net", key, id_copy, ctx);
	inc = id[0] ? lg_inc_join(e, id) : NULL;
	return inc && inc->open ? inc : NULL;
}

/* A claim of incident_net: the id already there ("" if ours was
 * written). */
struct claim {
	const char *id;
	char had[40];
};

/* Answer of the claim (store_put_new). */
static void claim_got(void *arg, int result, const char *value)
{
	struct claim *c = arg;

	if (result == STORE_OK && value && strlen(value) < sizeof(c->had) &&
	    strcmp(value, c->id) != 0)
		memcpy(c->had, value, strlen(value) + 1);
}

/* Drop the oldest closed incidents from memory past LG_INCIDENTS_MAX. */
static void inc_trim(struct login_engine *e)
{
	size_t i = 0, j;

	while (e->ninc > LG_INCIDENTS_MAX && i < e->ninc) {
		if (e->inc[i]->open || e->inc[i]->dirty) {
			i++;
			continue;
		}
		inc_free(e->inc[i]);
		for (j = i + 1; j < e->ninc; j++)
			e->inc[j - 1] = e->inc[j];
		e->ninc--;
	}
}

/* Append an incident to the in-memory list. */
static void inc_append(struct login_engine *e, struct lg_incident *inc)
{
	if (e->ninc == e->capinc) {
		e->capinc = e->capinc ? e->capinc * 2 : 16;
		e->inc = xrealloc(e->inc, e->capinc * sizeof(*e->inc));
	}
	e->inc[e->ninc++] = inc;
}

struct lg_incident *lg_inc_for(struct login_engine *e, const struct lg_ip *ip,
			       int len, const char *rule, const char *reason,
			       uint32_t now)
{
	struct lg_incident *inc = NULL;
	struct lg_ip p = *ip;
	int nl = lg_net_len(ip);
	char net[64], addr[64], id[40] = "";
	struct claim claim = { NULL, "" };
	const char *nkey;
	size_t i;

	if (len < nl)
		nl = len;
	lg_ip_mask(&p, nl);
	lg_cidr_format(&p, nl, net, sizeof(net));
	nkey = strcmp(rule, "campaign") == 0 ? "campaign" : net;
	/* A rotating-address campaign is one incident, whatever the network. */
	if (strcmp(rule, "campaign") == 0 && e->camp_inc[0] &&
	    (inc = lg_inc_find(e, e->camp_inc)) && !inc->open)
		inc = NULL;
	for (i = e->ninc; !inc && i-- > 0;) {
		if (e->inc[i]->open &&
		    list_has(e->inc[i]->nets, e->inc[i]->nnets, net)) {
			inc = e->inc[i];
			break;
		}
	}
	if (!inc)	/* another host's open incident for the attacker */
		inc = net_incident(e, nkey);
	if (!inc && store_is_shared(e->st)) {
		/* Claim the attacker's key with a new id (atomic: of two
		 * hosts judging one network at once, one opens it). */
		new_id(e, now, id, sizeof(id));
		claim.id = id;
		store_put_new(e->st, "incident_net", nkey, id,
			      (int64_t)now + e->cfg->auth_block_max,
			      claim_got, &claim);
		if (claim.had[0] && (inc = lg_inc_join(e, claim.had)) &&
		    !inc->open)
			inc = NULL;
		if (!inc && claim.had[0])	/* a stale claim */
			lg_put(e, "incident_net", nkey, id,
			       (int64_t)now + e->cfg->auth_block_max);
	}
	if (inc && strcmp(rule, "campaign") == 0 &&
	    !list_has(inc->nets, inc->nnets, net))
		list_add(&inc->nets, &inc->nnets, LG_INC_NETS, net);
	if (!inc) {
		inc = xcalloc(1, sizeof(*inc));
		if (id[0])
			snprintf(inc->id, sizeof(inc->id), "%s", id);
		else
			new_id(e, now, inc->id, sizeof(inc->id));
		snprintf(inc->rule, sizeof(inc->rule), "%s", rule);
		inc->reason = xstrdup(reason);
		inc->first = now;
		inc->open = true;
		list_add(&inc->nets, &inc->nnets, LG_INC_NETS, net);
		inc_append(e, inc);
		inc_trim(e);
		log_msg(LOG_L_WARN, "event=incident_opened incident=%s rule=%s "
			"net=%s", inc->id, inc->rule, net);
	}
	if (strcmp(rule, "campaign") == 0)
		snprintf(e->camp_inc, sizeof(e->camp_inc), "%s", inc->id);
	if (len == 128) {
		lg_cidr_format(ip, 128, addr, sizeof(addr));
		if (!list_add(&inc->addrs, &inc->naddrs, LG_INC_ADDRS, addr))
			inc->more_addrs++;
	}
	if (now > inc->last)
		inc->last = now;
	lg_inc_save(e, inc);
	return inc;
}

void lg_inc_note(struct login_engine *e, struct lg_incident *inc,
		 const char *login, const char *protocol, uint32_t tries,
		 bool valid, uint32_t first, uint32_t now)
{
	struct lg_iacct *a = lg_iacct_find(inc, login);

	if (now > inc->last)
		inc->last = now;
	if (!a) {
		if (!valid && inc->listed >= LG_SUSPECT_MAX) {
			inc->tried++;
			inc->dirty = true;
			e->stats.incident_accts_unlisted++;
			return;
		}
		a = iacct_add(inc, login);
		a->first = first;
		inc->tried++;
		inc->listed++;
	}
	a->tried = a->tried > UINT32_MAX - tries ? UINT32_MAX :
		   a->tried + tries;
	if (first < a->first)
		a->first = first;
	if (now > a->last)
		a->last = now;
	if (protocol && *protocol)
		snprintf(a->proto, sizeof(a->proto), "%s", protocol);
	if (valid && !a->valid) {
		/* What the provider must act on goes out at once. */
		a->valid = 1;
		inc->valid++;
		iacct_save(e, inc, a);
		lg_inc_save(e, inc);
		return;
	}
	dirty_add(e, inc, a);
	if (e->ndirty >= 512)
		lg_inc_flush(e);
}

void lg_inc_close(struct login_engine *e, struct lg_incident *inc,
		  uint32_t now)
{
	lg_inc_flush(e);
	inc->open = false;
	lg_inc_save(e, inc);
	inc_free_accts(inc);
	log_msg(LOG_L_NOTICE, "event=incident_closed incident=%s tried=%u "
		"valid=%u time=%u", inc->id, inc->tried, inc->valid, now);
}

/* Loading context for incidents or their accounts. */
struct inc_load {
	struct login_engine *e;
	struct lg_incident *inc;	/* accounts: whose */
	int result;
	int bad;
};

/* Copy a JSON string array into a bounded list. */
static void load_list(json_t *arr, char ***v, uint16_t *n, uint16_t max)
{
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x)
		if (json_is_string(x))
			list_add(v, n, max, json_string_value(x));
}

/* Raise *dst to v. */
static void raise_u32(uint32_t *dst, json_int_t v)
{
	if (v > (json_int_t)*dst && v <= (json_int_t)UINT32_MAX)
		*dst = (uint32_t)v;
}

/*
 * Read a stored header into inc: all of it, or (merge: another host's
 * write of an incident inc already is) its addresses and networks added,
 * its counts where higher.  False if value is not a header.
 */
static bool inc_read(struct lg_incident *inc, const char *value, bool merge)
{
	const char *rule = "", *reason = "", *state = "closed";
	json_int_t first = 0, last = 0, tried = 0, valid = 0, listed = 0,
		   more = 0;
	json_t *o, *addrs = NULL, *nets = NULL;

	o = json_loads(value, 0, NULL);
	if (!o ||
	    json_unpack(o, "{s?s, s?s, s?I, s?I, s?o, s?o, s?I, s?I, s?I, s?I,"
			" s?s}", "rule", &rule, "reason", &reason,
			"first_seen", &first, "last_seen", &last,
			"addresses", &addrs, "networks", &nets,
			"more_addresses", &more, "tried", &tried,
			"valid", &valid, "listed", &listed,
			"state", &state) != 0) {
		json_decref(o);
		return false;
	}
	if (!merge) {
		snprintf(inc->rule, sizeof(inc->rule), "%s", rule);
		inc->reason = xstrdup(reason);
		inc->first = (uint32_t)first;
		inc->open = strcmp(state, "open") == 0;
	} else if (first > 0 && first < (json_int_t)inc->first) {
		inc->first = (uint32_t)first;
	}
	raise_u32(&inc->last, last);
	raise_u32(&inc->more_addrs, more);
	raise_u32(&inc->tried, tried);
	raise_u32(&inc->valid, valid);
	raise_u32(&inc->listed, listed);
	load_list(addrs, &inc->addrs, &inc->naddrs, LG_INC_ADDRS);
	load_list(nets, &inc->nets, &inc->nnets, LG_INC_NETS);
	json_decref(o);
	return true;
}

/* One stored incident. */
static void inc_row(void *arg, int result, const char *key,
		    const char *value, int64_t ts)
{
	struct inc_load *l = arg;
	struct lg_incident *inc;

	(void)ts;
	if (!key) {
		l->result = result;
		return;
	}
	inc = xcalloc(1, sizeof(*inc));
	if (strlen(key) >= sizeof(inc->id) || !inc_read(inc, value, false)) {
		l->bad++;
		free(inc);
		return;
	}
	snprintf(inc->id, sizeof(inc->id), "%s", key);
	inc_append(l->e, inc);
}

/* One stored account row of an open incident. */
static void acct_row(void *arg, int result, const char *key,
		     const char *value, int64_t ts)
{
	struct inc_load *l = arg;
	const char *login = NULL, *proto = "";
	json_int_t tried = 0, first = 0, last = 0;
	int valid = 0;
	struct lg_iacct *a;
	json_t *o;

	(void)ts;
	if (!key) {
		l->result = result;
		return;
	}
	o = json_loads(value, 0, NULL);
	if (!o || json_unpack(o, "{s:s, s?I, s?b, s?I, s?I, s?s}", "login",
			      &login, "tried", &tried, "valid", &valid,
			      "first", &first, "last", &last, "protocol",
			      &proto) != 0 ||
	    lg_iacct_find(l->inc, login)) {
		json_decref(o);
		return;
	}
	a = iacct_add(l->inc, login);
	a->tried = (uint32_t)tried;
	a->valid = valid != 0;
	a->first = (uint32_t)first;
	a->last = (uint32_t)last;
	snprintf(a->proto, sizeof(a->proto), "%s", proto);
	json_decref(o);
}

/* One stored incident (the get's answer), loaded into the list. */
static void fetch_got(void *arg, int result, const char *value)
{
	struct inc_load *l = ((void **)arg)[0];
	const char *id = ((void **)arg)[1];

	if (result == STORE_OK)
		inc_row(l, STORE_OK, id, value, 0);
}

static struct lg_incident *inc_fetch(struct login_engine *e, const char *id)
{
	struct inc_load l = { e, NULL, -1, 0 };
	void *ctx[2] = { &l, (void *)id };
	struct lg_incident *inc;
	char *prefix;

	/* A shared store answers gets and scans before returning. */
	store_get(e->st, "incident", id, fetch_got, ctx);
	inc = lg_inc_find(e, id);
	if (inc == NULL)
		return NULL;
	if (inc->open) {
		struct inc_load la = { e, inc, -1, 0 };

		prefix = xasprintf("%s/", id);
		store_scan(e->st, "incident_acct", prefix, acct_row, &la);
		free(prefix);
	}
	log_msg(LOG_L_INFO, "event=incident_joined incident=%s state=%s "
		"accounts=%zu", id, inc->open ? "open" : "closed", inc->n);
	return inc;
}

int lg_incidents_load(struct login_engine *e, char *err, size_t errsz)
{
	struct inc_load l = { e, NULL, -1, 0 };
	size_t i;

	store_scan(e->st, "incident", "", inc_row, &l);
	if (l.result != STORE_OK) {
		snprintf(err, errsz, "loading incidents: %s",
			 l.result == -1 ? "no answer" :
			 store_result_str(l.result));
		return -1;
	}
	inc_trim(e);
	for (i = 0; i < e->ninc; i++) {
		struct inc_load la = { e, e->inc[i], -1, 0 };
		char *prefix;

		if (!e->inc[i]->open)
			continue;
		prefix = xasprintf("%s/", e->inc[i]->id);
		store_scan(e->st, "incident_acct", prefix, acct_row, &la);
		free(prefix);
	}
	log_msg(LOG_L_INFO, "event=incidents_loaded incidents=%zu bad=%d",
		e->ninc, l.bad);
	return 0;
}

void lg_incidents_free(struct login_engine *e)
{
	size_t i;

	for (i = 0; i < e->ninc; i++)
		inc_free(e->inc[i]);
	free(e->inc);
	free(e->dirty);
	e->inc = NULL;
	e->dirty = NULL;
	e->ninc = e->capinc = e->ndirty = e->capdirty = 0;
}
