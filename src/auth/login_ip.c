/*
 * login_ip - address and network states: stuffing and blocked, automatic
 * or manual, expiring and escalating, kept in the store.
 *
 * A state belongs to a key: one address (prefix 128 over the IPv6 form) or
 * a CIDR range (an automatic /24 or /64, or any manual range).  An address
 * is covered by every state whose range holds it; the strongest wins
 * (blocked over stuffing).  Lookups try each prefix length in use, longest
 * first, so they cost one hash probe per distinct length.
 *
 * Durations: auth_block_time << level, at most auth_block_max, where level
 * counts recurrences: an expired state is remembered (in memory only) for
 * auth_block_max more, and a new judgement of the same key within that
 * time starts one level higher.
 *
 * Transitions (automatic):
 *   normal   -> stuffing  a stuffing or spraying rule (login_judge.c)
 *   normal   -> blocked   brute force: 2 x auth_bruteforce_failures wrong
 *                         passwords from the address for one account
 *   stuffing -> blocked   only when the stuffing playbook cannot work: a
 *                         success was reported from the address (Dovecot is
 *                         not asking after the password check), or it also
 *                         brute forces one account.  Otherwise a stuffing
 *                         address stays stuffing until it expires: each of
 *                         its correct passwords is rejected after the check
 *                         and tells us an account the attacker holds.
 *   any      -> expired   at until; the incident closes with its last state
 * Manual blocks (login_ip_block) override, and login_ip_unblock removes a
 * state and resets the counters that led to it.
 *
 * Store: namespace "ipblock", key = "192.0.2.1" or "192.0.2.0/24", value
 * {"state","since","until","level","rule","reason","actor","manual",
 * "incident"}, expiring at until.  Loaded at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login-internal.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char *const kind_names[] = { "expired", "stuffing", "blocked" };

const char *lg_kind_name(int kind)
{
	return kind >= 0 && kind <= 2 ? kind_names[kind] : "unknown";
}

/* The key of a state in the table. */
struct skey {
	struct lg_ip ip;
	uint8_t len;
};

/* Hash of ip/len. */
static uint64_t skey_hash(const struct lg_ip *ip, int len)
{
	uint8_t k[17];

	memcpy(k, ip->b, 16);
	k[16] = (uint8_t)len;
	return lg_hash(k, sizeof(k));
}

/* Equality of states on ip/len. */
static bool state_eq(const struct lg_node *n, const void *key)
{
	const struct lg_state *s = (const struct lg_state *)(const void *)n;
	const struct skey *k = key;

	return s->len == k->len && memcmp(s->ip.b, k->ip.b, 16) == 0;
}

/* The state entry (live or remembered) of exactly ip/len. */
static struct lg_state *state_find(struct login_engine *e,
				   const struct lg_ip *ip, int len)
{
	struct skey k;

	k.ip = *ip;
	lg_ip_mask(&k.ip, len);
	k.len = (uint8_t)len;
	return (struct lg_state *)(void *)lg_tab_find(
		&e->states, skey_hash(&k.ip, len), state_eq, &k);
}

/* Is s in force at now? */
static bool state_live(const struct lg_state *s, uint32_t now)
{
	return s->kind != LG_NONE && s->until > now;
}

/* The incident of s, counting its live states down. */
static void state_unref(struct login_engine *e, struct lg_state *s,
			uint32_t now)
{
	struct lg_incident *inc;

	if (!s->incident[0])
		return;
	inc = lg_inc_find(e, s->incident);
	if (inc && inc->nstates && --inc->nstates == 0 && inc->open)
		lg_inc_close(e, inc, now);
}

void lg_state_drop(struct lg_node *n, void *arg)
{
	struct login_engine *e = arg;
	struct lg_state *s = (struct lg_state *)(void *)n;

	if (s->kind != LG_NONE && s->incident[0] && e->ninc) {
		struct lg_incident *inc = lg_inc_find(e, s->incident);

		if (inc && inc->nstates)
			inc->nstates--;
	}
	e->nlen[s->len]--;
	free(s->reason);
	free(s->actor);
	free(s);
}

struct lg_state *lg_state_get(struct login_engine *e, const struct lg_ip *ip,
			      int len, uint32_t now)
{
	struct lg_state *s;

	if (!e->nlen[len])
		return NULL;
	s = state_find(e, ip, len);
	return s && state_live(s, now) ? s : NULL;
}

struct lg_state *lg_state_lookup(struct login_engine *e,
				 const struct lg_ip *ip, uint32_t now,
				 int skip)
{
	struct lg_state *best = NULL, *s;
	int len;

	for (len = 128; len >= 0; len--) {
		if (!e->nlen[len])
			continue;
		s = state_find(e, ip, len);
		if (!s || !state_live(s, now))
			continue;
		if (!s->manual && ((skip & LG_SKIP_AUTO) ||
				   ((skip & LG_SKIP_AUTO_NETS) && len < 128)))
			continue;
		if (!best || s->kind > best->kind)
			best = s;
	}
	return best;
}

bool lg_allowlisted(const struct login_engine *e, const struct lg_ip *ip,
		    uint32_t now)
{
	size_t i;

	for (i = 0; i < e->nallow; i++)
		if (lg_ip_in(ip, &e->allow[i].ip, e->allow[i].len))
			return true;
	return lg_allow_stored(e, ip, now);
}

/* Write the state to the store, expiring with it. */
static void state_save(struct login_engine *e, const struct lg_state *s)
{
	char key[64];
	json_t *o;
	char *txt;

	lg_cidr_format(&s->ip, s->len, key, sizeof(key));
	o = json_pack("{s:s, s:I, s:I, s:i, s:s, s:o, s:o, s:b, s:s}",
		      "state", lg_kind_name(s->kind),
		      "since", (json_int_t)s->since,
		      "until", (json_int_t)s->until,
		      "level", (int)s->level, "rule", s->rule,
		      "reason", lg_jstr(s->reason), "actor", lg_jstr(s->actor),
		      "manual", s->manual, "incident", s->incident);
	txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (txt)
		lg_put(e, "ipblock", key, txt, (int64_t)s->until);
	free(txt);
	json_decref(o);
}

/* A new (or remembered) entry for ip/len. */
static struct lg_state *state_new(struct login_engine *e,
				  const struct lg_ip *ip, int len)
{
	struct lg_state *s = state_find(e, ip, len);

	if (s)
		return s;
	s = xcalloc(1, sizeof(*s));
	s->ip = *ip;
	lg_ip_mask(&s->ip, len);
	s->len = (uint8_t)len;
	s->node.h = skey_hash(&s->ip, len);
	lg_tab_insert(&e->states, &s->node);
	e->nlen[len]++;
	return s;
}

/* Replace a string field. */
static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = xstrdup(src ? src : "");
}

struct lg_state *lg_state_enter(struct login_engine *e,
				const struct lg_ip *ip, int len,
				enum lg_kind kind, const char *rule,
				const char *reason, const char *actor,
				bool manual, long seconds, uint32_t now)
{
	struct lg_state *s = state_find(e, ip, len);
	struct lg_incident *inc;
	unsigned level = 0;
	long dur;
	char key[64], q1[LOG_QSZ], q2[LOG_QSZ];

	/* A remembered (expired) state makes this a recurrence. */
	if (s && s->kind == LG_NONE)
		level = s->level + 1u;
	else if (s)
		level = s->level;
	if (level > 30)
		level = 30;
	if (s && state_live(s, now))
		state_unref(e, s, now);
	s = state_new(e, ip, len);
	dur = level < 20 ? e->cfg->auth_block_time << level :
	      e->cfg->auth_block_max;
	if (dur > e->cfg->auth_block_max || dur <= 0)
		dur = e->cfg->auth_block_max;
	if (seconds > 0)	/* at most ten years: until stays 32-bit */
		dur = seconds < 3650 * 86400L ? seconds : 3650 * 86400L;
	s->kind = (uint8_t)kind;
	s->level = (uint8_t)level;
	s->manual = manual;
	s->since = now;
	s->until = now + (uint32_t)dur;
	snprintf(s->rule, sizeof(s->rule), "%s", rule);
	set_str(&s->reason, reason);
	set_str(&s->actor, actor);
	s->incident[0] = '\0';
	if (!manual) {
		inc = lg_inc_for(e, &s->ip, len, rule, reason, now);
		snprintf(s->incident, sizeof(s->incident), "%s", inc->id);
		inc->nstates++;
	}
	state_save(e, s);
	lg_cidr_format(&s->ip, len, key, sizeof(key));
	log_msg(LOG_L_WARN, "event=login_state ip=%s state=%s level=%u "
		"until=%u incident=%s actor=%s reason=%s", key,
		lg_kind_name(kind), s->level, s->until,
		s->incident[0] ? s->incident : "-",
		log_q(q1, sizeof(q1), actor), log_q(q2, sizeof(q2), reason));
	return s;
}

void lg_state_escalate(struct login_engine *e, struct lg_state *s,
		       const char *why, uint32_t now)
{
	char key[64], q[LOG_QSZ];
	char *r;

	if (s->kind == LG_BLOCKED)
		return;
	s->kind = LG_BLOCKED;
	r = xasprintf("%s; escalated %s", s->reason ? s->reason : "", why);
	free(s->reason);
	s->reason = r;
	e->stats.escalations++;
	state_save(e, s);
	lg_cidr_format(&s->ip, s->len, key, sizeof(key));
	log_msg(LOG_L_WARN, "event=login_state ip=%s state=blocked level=%u "
		"until=%u incident=%s escalated=%s time=%u", key, s->level,
		s->until, s->incident[0] ? s->incident : "-",
		log_q(q, sizeof(q), why), now);
}

/* Sweep context. */
struct sweep {
	struct login_engine *e;
	uint32_t now;
};

/* Expire one state, or forget its history. */
static void sweep_one(struct lg_node *n, void *arg)
{
	struct sweep *sw = arg;
	struct login_engine *e = sw->e;
	struct lg_state *s = (struct lg_state *)(void *)n;
	char key[64];

	if (s->kind == LG_NONE) {
		if (s->forget <= sw->now) {
			lg_tab_remove(&e->states, n);
			lg_state_drop(n, e);
		}
		return;
	}
	if (s->until > sw->now)
		return;
	lg_cidr_format(&s->ip, s->len, key, sizeof(key));
	if (!s->manual && s->wrong && sw->now - s->wrong < LG_SWEEP_QUIET) {
		/* Wrong passwords still arrive: the attack it was put on goes
		 * on, so it lapses LG_SWEEP_QUIET after the last one, not in
		 * the middle (a spray outlasting auth_block_time entered the
		 * first valid pair after the lapse). */
		s->until = s->wrong + LG_SWEEP_QUIET;
		state_save(e, s);
		log_msg(LOG_L_INFO, "event=login_state_extended ip=%s state=%s "
			"incident=%s until=%u last_wrong=%u", key,
			lg_kind_name(s->kind),
			s->incident[0] ? s->incident : "-", s->until,
			s->wrong);
		return;
	}
	log_msg(LOG_L_INFO, "event=login_state_expired ip=%s state=%s "
		"incident=%s", key, lg_kind_name(s->kind),
		s->incident[0] ? s->incident : "-");
	e->stats.expired++;
	state_unref(e, s, sw->now);
	s->kind = LG_NONE;
	s->forget = s->until + (uint32_t)e->cfg->auth_block_max;
}

void lg_state_sweep(struct login_engine *e, uint32_t now)
{
	struct sweep sw = { e, now };

	lg_tab_foreach(&e->states, sweep_one, &sw);
}

/* Loading context. */
struct load {
	struct login_engine *e;
	int result;		/* -1: no answer yet */
	int bad;
};

/* Load one stored state. */
static void state_row(void *arg, int result, const char *key,
		      const char *value, int64_t ts)
{
	struct load *l = arg;
	struct login_engine *e = l->e;
	const char *state = "", *rule = "", *reason = "", *actor = "",
		   *incident = "";
	json_int_t since = 0, until = 0;
	int level = 0, manual = 0, len, kind = LG_NONE;
	struct lg_incident *inc;
	struct lg_state *s;
	struct lg_ip ip;
	bool counted;
	json_t *o;

	(void)ts;
	if (!key) {
		l->result = result;
		return;
	}
	o = json_loads(value, 0, NULL);
	if (o && lg_cidr_parse(key, &ip, &len) &&
	    json_unpack(o, "{s:s, s:I, s:I, s?i, s?s, s?s, s?s, s?b, s?s}",
			"state", &state, "since", &since, "until", &until,
			"level", &level, "rule", &rule, "reason", &reason,
			"actor", &actor, "manual", &manual, "incident",
			&incident) == 0)
		kind = strcmp(state, "stuffing") == 0 ? LG_STUFFING :
		       strcmp(state, "blocked") == 0 ? LG_BLOCKED : LG_NONE;
	if (kind == LG_NONE) {
		l->bad++;
		json_decref(o);
		return;
	}
	s = state_find(e, &ip, len);
	/* Re-read (another host's notice): its incident counts it once. */
	counted = s && s->kind != LG_NONE && strcmp(s->incident, incident) == 0;
	s = state_new(e, &ip, len);
	s->kind = (uint8_t)kind;
	s->since = (uint32_t)since;
	s->until = (uint32_t)until;
	s->level = (uint8_t)(level < 0 ? 0 : level > 30 ? 30 : level);
	s->manual = manual;
	snprintf(s->rule, sizeof(s->rule), "%s", rule);
	snprintf(s->incident, sizeof(s->incident), "%s", incident);
	set_str(&s->reason, reason);
	set_str(&s->actor, actor);
	/* Another host's incident: this host's evidence goes there too. */
	inc = s->incident[0] && !counted ? lg_inc_join(e, s->incident) : NULL;
	if (inc)
		inc->nstates++;
	json_decref(o);
}

int lg_states_load(struct login_engine *e, char *err, size_t errsz)
{
	struct load l = { e, -1, 0 };
	uint32_t now = lg_now(0);
	size_t i;

	/* sqlite and memory answer at once; a networked store must too
	 * before the daemon serves (as for the core's accounts). */
	store_scan(e->st, "ipblock", "", state_row, &l);
	if (l.result != STORE_OK) {
		snprintf(err, errsz, "loading address blocks: %s",
			 l.result == -1 ? "no answer" :
			 store_result_str(l.result));
		return -1;
	}
	/* Incidents whose states all ran out while we were down. */
	for (i = 0; i < e->ninc; i++)
		if (e->inc[i]->open && !e->inc[i]->nstates)
			lg_inc_close(e, e->inc[i], now);
	log_msg(LOG_L_INFO, "event=login_states_loaded states=%zu bad=%d",
		e->states.n, l.bad);
	return 0;
}

/* A state another host wrote was read: apply it, or drop a deleted one. */
static void state_notice_got(void *arg, int result, const char *value)
{
	struct login_engine *e = ((void **)arg)[0];
	char *key = ((void **)arg)[1];
	struct load l = { e, -1, 0 };
	struct lg_state *s;
	struct lg_ip ip;
	int len;

	if (result == STORE_OK) {
		state_row(&l, STORE_OK, key, value, 0);
	} else if (result == STORE_NOTFOUND && lg_cidr_parse(key, &ip, &len) &&
		   (s = state_find(e, &ip, len)) != NULL &&
		   s->kind != LG_NONE) {
		/* Unblocked there (or run out): not in force here either. */
		state_unref(e, s, lg_now(0));
		lg_tab_remove(&e->states, &s->node);
		s->kind = LG_NONE;
		lg_state_drop(&s->node, e);
		log_msg(LOG_L_NOTICE, "event=login_unblock ip=%s "
			"actor=another_host", key);
	}
	free(key);
	free(arg);
}

/* A reload's end: free its context. */
static void state_reload_row(void *arg, int result, const char *key,
			     const char *value, int64_t ts)
{
	state_row(arg, result, key, value, ts);
	if (!key)
		free(arg);
}

/* store_watch: another host changed an address state (key), or notices
 * were lost (key NULL: read them all again). */
static void state_notice(void *arg, const char *ns, const char *key)
{
	struct login_engine *e = arg;
	void **ctx;

	if (key == NULL) {
		struct load *l = xcalloc(1, sizeof(*l));

		l->e = e;
		l->result = -1;
		store_scan(e->st, ns, "", state_reload_row, l);
		return;
	}
	ctx = xcalloc(2, sizeof(void *));
	ctx[0] = e;
	ctx[1] = xstrdup(key);
	store_get(e->st, ns, key, state_notice_got, ctx);
}

void lg_states_watch(struct login_engine *e)
{
	store_watch(e->st, "ipblock", state_notice, e);
}

int login_ip_block(struct login_engine *e, const char *ip, long seconds,
		   const char *reason, const char *actor, char *err,
		   size_t errsz)
{
	struct lg_ip a;
	int len;

	if (!ip || !lg_cidr_parse(ip, &a, &len)) {
		snprintf(err, errsz, "not an address or CIDR range");
		return -1;
	}
	if (seconds < 0) {
		snprintf(err, errsz, "negative duration");
		return -1;
	}
	lg_state_enter(e, &a, len, LG_BLOCKED, "manual",
		       reason && *reason ? reason : "manual block",
		       actor && *actor ? actor : "admin", true, seconds,
		       lg_now(0));
	return 0;
}

/* Reset-by-range context. */
struct reset {
	struct lg_ip ip;
	int len;
	uint64_t iph;
	uint32_t now, window;
};

/* Reset the counters of an address inside the range. */
static void reset_addr(struct lg_node *n, void *arg)
{
	struct lg_addr *ad = (struct lg_addr *)(void *)n;
	struct reset *r = arg;

	if (lg_ip_in(&ad->ip, &r->ip, r->len))
		lg_ctr_reset(&ad->c);
}

/* Reset the counters of a network inside (or holding) the range. */
static void reset_net(struct lg_node *n, void *arg)
{
	struct lg_net *nt = (struct lg_net *)(void *)n;
	struct reset *r = arg;

	if (lg_ip_in(&nt->prefix, &r->ip, r->len) ||
	    (r->len > nt->len && lg_ip_in(&r->ip, &nt->prefix, nt->len)))
		lg_ctr_reset(&nt->c);
}

/* Forget the address's failures on every account. */
static void reset_acct(struct lg_node *n, void *arg)
{
	struct lg_acct *a = (struct lg_acct *)(void *)n;
	struct reset *r = arg;
	struct lg_dent *d = lg_dset_find(&a->badips, r->iph, r->now,
					 r->window);

	if (d)
		d->last = r->now - r->window;
}

int login_ip_unblock(struct login_engine *e, const char *ip,
		     const char *actor, char *err, size_t errsz)
{
	uint32_t now = lg_now(0);
	struct lg_state *s;
	struct reset r;
	char key[64], q[LOG_QSZ];

	if (!ip || !lg_cidr_parse(ip, &r.ip, &r.len)) {
		snprintf(err, errsz, "not an address or CIDR range");
		return -1;
	}
	s = state_find(e, &r.ip, r.len);
	if (!s || s->kind == LG_NONE) {
		snprintf(err, errsz, "no state for that address or range");
		return -1;
	}
	lg_cidr_format(&s->ip, s->len, key, sizeof(key));
	lg_fleet_unblock(e, &r.ip, r.len, now);
	state_unref(e, s, now);
	lg_del(e, "ipblock", key);
	lg_tab_remove(&e->states, &s->node);
	s->kind = LG_NONE;
	lg_state_drop(&s->node, e);
	r.now = now;
	r.window = (uint32_t)e->cfg->auth_window;
	r.iph = lg_hash(r.ip.b, 16);
	lg_tab_foreach(&e->addrs, reset_addr, &r);
	lg_tab_foreach(&e->nets, reset_net, &r);
	if (r.len == 128)
		lg_tab_foreach(&e->accts, reset_acct, &r);
	log_msg(LOG_L_NOTICE, "event=login_unblock ip=%s actor=%s", key,
		log_q(q, sizeof(q), actor && *actor ? actor : "admin"));
	return 0;
}

/* Listing context. */
struct list {
	struct login_engine *e;
	json_t *arr;
	uint32_t now;
};

/* One live state as JSON. */
static void list_state(struct lg_node *n, void *arg)
{
	struct lg_state *s = (struct lg_state *)(void *)n;
	struct list *l = arg;
	char key[64];

	if (!state_live(s, l->now))
		return;
	lg_cidr_format(&s->ip, s->len, key, sizeof(key));
	json_array_append_new(l->arr, json_pack(
		"{s:s, s:s, s:I, s:I, s:i, s:s, s:o, s:o, s:b, s:s}",
		"ip", key, "state", lg_kind_name(s->kind),
		"since", (json_int_t)s->since, "until", (json_int_t)s->until,
		"level", (int)s->level, "rule", s->rule,
		"reason", lg_jstr(s->reason), "actor", lg_jstr(s->actor),
		"manual", s->manual, "incident", s->incident));
}

/* One address delayed by its counters, as JSON. */
static void list_delayed(struct lg_node *n, void *arg)
{
	struct lg_addr *ad = (struct lg_addr *)(void *)n;
	struct list *l = arg;
	char key[64], why[400];

	if (l->now - ad->c.last >= (uint32_t)l->e->cfg->auth_window ||
	    lg_allowlisted(l->e, &ad->ip, l->now) ||
	    lg_state_lookup(l->e, &ad->ip, l->now, 0) ||
	    !lg_suspect_delay(l->e, &ad->ip, l->now, why, sizeof(why)))
		return;
	lg_cidr_format(&ad->ip, 128, key, sizeof(key));
	json_array_append_new(l->arr, json_pack(
		"{s:s, s:s, s:I, s:s, s:s}", "ip", key, "state", "delayed",
		"since", (json_int_t)ad->c.first, "rule", "suspect",
		"reason", why));
}

json_t *login_ips_list(struct login_engine *e)
{
	struct list l = { e, json_array(), lg_now(0) };

	lg_tab_foreach(&e->states, list_state, &l);
	lg_tab_foreach(&e->addrs, list_delayed, &l);
	return l.arr;
}
