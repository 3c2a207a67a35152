/*
 * login - the login-abuse engine's life cycle: made from the config and a
 * store (loading incidents, address states and the stored allowlist, and
 * following other hosts' changes to them), reconfigured on reload,
 * capped, freed; the periodic tick (batched incident writes, expiries,
 * the sweeps); the store helpers its files share; statistics.  The
 * decisions (login_decide and its stages) are in login_decide.c; see
 * login.h for the model and login-internal.h for how the work is split.
 *
 * Event-loop thread: nothing here locks.  The engine owns every table and
 * incident until login_engine_free; the config it is given must outlive
 * it (or the next login_engine_reconfigure).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/login-internal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

uint32_t lg_now(int64_t now)
{
	return now > 0 ? (uint32_t)now : (uint32_t)time(NULL);
}

json_t *lg_jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *copy;

	if (j)
		return j;
	copy = xstrdup(s);
	utf8_sanitize(copy);
	j = json_string(copy);
	free(copy);
	return j ? j : json_string("");
}

/* A write or delete failed: the state in memory still holds; say so. */
static void store_done(void *arg, int result)
{
	if (result != STORE_OK)
		log_msg(LOG_L_WARN, "event=store_error module=login ns=%s "
			"result=%s", (const char *)arg,
			store_result_str(result));
}

void lg_put(struct login_engine *e, const char *ns, const char *key,
	    const char *value, int64_t expires)
{
	store_put(e->st, ns, key, value, expires, store_done, (void *)ns);
}

void lg_del(struct login_engine *e, const char *ns, const char *key)
{
	store_del(e->st, ns, key, store_done, (void *)ns);
}

bool lg_mech_hashable(const char *mech)
{
	return !mech || !*mech || strcasecmp(mech, "PLAIN") == 0 ||
	       strcasecmp(mech, "LOGIN") == 0;
}

/* Free a plain entry (abuse record, pending allow). */
static void plain_drop(struct lg_node *n, void *arg)
{
	(void)arg;
	free(n);
}

/* Free an address entry. */
static void addr_drop(struct lg_node *n, void *arg)
{
	struct lg_addr *ad = (struct lg_addr *)(void *)n;

	(void)arg;
	lg_dset_free(&ad->c.logins);
	free(ad);
}

/* Free a network entry with its suspect list. */
static void net_drop(struct lg_node *n, void *arg)
{
	struct lg_net *nt = (struct lg_net *)(void *)n;

	lg_sus_free(arg, nt->sus);
	lg_dset_free(&nt->c.logins);
	free(nt);
}

void lg_tick(struct login_engine *e, uint32_t now)
{
	if (now - e->last_tick < LG_TICK && now >= e->last_tick)
		return;
	e->last_tick = now;
	lg_campaign_sweep(e, now);
	lg_dsweep(e, now);
	lg_inc_flush(e);
	lg_state_sweep(e, now);
	lg_allow_sweep(e, now);
}

void login_engine_tick(struct login_engine *e, int64_t now)
{
	lg_tick(e, lg_now(now));
}

struct login_engine *login_engine_new(const struct config *cfg,
				      struct store *st, char *err,
				      size_t errsz)
{
	struct login_engine *e = xcalloc(1, sizeof(*e));

	e->cfg = cfg;
	e->st = st;
	e->nallow = lg_cidr_list_parse(cfg->auth_allowlist, &e->allow);
	lg_tab_init(&e->addrs, LG_DEFAULT_CAP, addr_drop, e);
	lg_tab_init(&e->nets, LG_DEFAULT_CAP, net_drop, e);
	lg_tab_init(&e->accts, LG_DEFAULT_CAP, lg_acct_drop, e);
	lg_tab_init(&e->abused, LG_DEFAULT_CAP, plain_drop, e);
	lg_tab_init(&e->states, LG_STATE_CAP, lg_state_drop, e);
	lg_tab_init(&e->pend, LG_PEND_CAP, plain_drop, e);
	if (cfg->geoip_db && cfg->geoip_db[0] &&
	    !(e->geo = lg_geo_open(cfg->geoip_db, err, errsz))) {
		login_engine_free(e);
		return NULL;
	}
	if (lg_incidents_load(e, err, errsz) != 0 ||
	    lg_states_load(e, err, errsz) != 0 ||
	    lg_allow_load(e, err, errsz) != 0) {
		login_engine_free(e);
		return NULL;
	}
	lg_abused_load(e);
	lg_states_watch(e);
	lg_allow_watch(e);
	return e;
}

void login_engine_set_limits(struct login_engine *e, size_t addrs,
			     size_t nets, size_t accounts)
{
	if (addrs)
		e->addrs.max = addrs < 16 ? 16 : addrs;
	if (nets)
		e->nets.max = nets < 16 ? 16 : nets;
	if (accounts)
		e->accts.max = accounts < 16 ? 16 : accounts;
}

void login_engine_free(struct login_engine *e)
{
	size_t i;

	if (!e)
		return;
	lg_fleet_free(e);
	lg_inc_flush(e);
	lg_tab_deinit(&e->pend);
	lg_tab_deinit(&e->states);
	lg_tab_deinit(&e->abused);
	lg_tab_deinit(&e->accts);
	lg_tab_deinit(&e->nets);
	lg_tab_deinit(&e->addrs);
	lg_incidents_free(e);
	for (i = 0; i < e->ncomp; i++)
		free(e->comp[i]);
	free(e->comp);
	free(e->allow);
	lg_allow_free(e);
	lg_geo_free(e->geo);
	free(e);
}

uint16_t login_engine_country(const struct login_engine *e, const char *addr)
{
	struct lg_ip ip;

	if (!e || !e->geo || !addr || !lg_ip_parse(addr, &ip))
		return 0;
	return lg_geo_country(e->geo, &ip);
}

void login_engine_reconfigure(struct login_engine *e,
			      const struct config *cfg)
{
	struct lg_geo *g;
	char err[512];

	free(e->allow);
	e->cfg = cfg;
	e->nallow = lg_cidr_list_parse(cfg->auth_allowlist, &e->allow);
	if (!cfg->geoip_db || !cfg->geoip_db[0]) {
		lg_geo_free(e->geo);
		e->geo = NULL;
		return;
	}
	/* Always reopen: the file may have been replaced under its name. */
	g = lg_geo_open(cfg->geoip_db, err, sizeof(err));
	if (!g) {
		char qe[LOG_QSZ], qp[LOG_QSZ];

		log_msg(LOG_L_ERR, "event=geoip_db_error module=login "
			"error=%s kept=%s", log_q(qe, sizeof(qe), err),
			e->geo ? log_q(qp, sizeof(qp), lg_geo_path(e->geo)) :
			"-");
		return;
	}
	lg_geo_free(e->geo);
	e->geo = g;
}

/* Count states by kind. */
struct state_count {
	uint64_t n[3];
	uint32_t now;
};

/* Count one state. */
static void count_state(struct lg_node *n, void *arg)
{
	struct lg_state *s = (struct lg_state *)(void *)n;
	struct state_count *sc = arg;

	if (s->kind != LG_NONE && s->until > sc->now)
		sc->n[s->kind]++;
}

/* Set an integer member. */
static void jset(json_t *o, const char *key, uint64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

void login_verdict_counts(const struct login_engine *e, uint64_t out[3])
{
	out[0] = e->stats.action[LOGIN_ACTION_ALLOW];
	out[1] = e->stats.action[LOGIN_ACTION_DELAY];
	out[2] = e->stats.action[LOGIN_ACTION_REJECT];
}

json_t *login_stats(struct login_engine *e)
{
	struct state_count sc = { .now = lg_now(0) };
	struct login_fleet_counts fc;
	json_t *o = json_object(), *x;
	size_t i, open = 0;

	lg_tab_foreach(&e->states, count_state, &sc);
	for (i = 0; i < e->ninc; i++)
		open += e->inc[i]->open;
	x = json_object();
	jset(x, "before", e->stats.stage[LOGIN_BEFORE]);
	jset(x, "after", e->stats.stage[LOGIN_AFTER]);
	jset(x, "report", e->stats.stage[LOGIN_REPORT]);
	json_object_set_new(o, "events", x);
	x = json_object();
	jset(x, "allow", e->stats.action[LOGIN_ACTION_ALLOW]);
	jset(x, "delay", e->stats.action[LOGIN_ACTION_DELAY]);
	jset(x, "reject", e->stats.action[LOGIN_ACTION_REJECT]);
	json_object_set_new(o, "verdicts", x);
	jset(o, "judgements", e->stats.judged);
	jset(o, "bruteforce_blocks", e->stats.bruteforce_blocks);
	jset(o, "pair_blocks", e->stats.pair_blocks);
	jset(o, "campaign_addrs", e->stats.campaign_addrs);
	jset(o, "escalations", e->stats.escalations);
	jset(o, "compromised", e->stats.compromised);
	jset(o, "new_network", e->stats.new_network);
	jset(o, "new_country", e->stats.new_country);
	jset(o, "credential_changed", e->stats.credential_changed);
	jset(o, "states_expired", e->stats.expired);
	jset(o, "addresses_tracked", e->addrs.n);
	jset(o, "networks_tracked", e->nets.n);
	jset(o, "accounts_tracked", e->accts.n);
	jset(o, "abuse_records", e->abused.n);
	x = json_object();
	jset(x, "addresses", e->addrs.evicted);
	jset(x, "networks", e->nets.evicted);
	jset(x, "accounts", e->accts.evicted);
	json_object_set_new(o, "evicted", x);
	x = json_object();
	jset(x, "stuffing", sc.n[LG_STUFFING]);
	jset(x, "blocked", sc.n[LG_BLOCKED]);
	json_object_set_new(o, "states", x);
	x = json_object();
	jset(x, "open", open);
	jset(x, "total", e->ninc);
	json_object_set_new(o, "incidents", x);
	jset(o, "suspect_entries", e->sus_total);
	jset(o, "suspect_dropped", e->stats.suspect_dropped);
	jset(o, "incident_accounts_unlisted",
	     e->stats.incident_accts_unlisted);
	jset(o, "unparsable_remote", e->stats.unparsable);
	jset(o, "allowlisted", e->stats.allowlisted);
	login_fleet_counts(e, &fc);
	x = json_object();
	jset(x, "sent", fc.sent);
	jset(x, "failures", fc.failures);
	jset(x, "judged", fc.judged);
	jset(x, "skipped", fc.skipped);
	jset(x, "pending", fc.pending);
	json_object_set_new(o, "fleet", x);
	return o;
}
