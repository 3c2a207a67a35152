/*
 * test-login-sweep - the sweeps that list valid pairs after the fact.
 *
 * The campaign sweep (login_judge.c): in a rotating-
 * address campaign, addresses whose pairs were all or mostly valid (so
 * never list-like, whether before or after the campaign is recognised),
 * each tried once, still have their accounts listed in the campaign's incident once they fall
 * silent; honest users on a first-seen carrier NAT or in a household,
 * whose clients come back, and two phones given one carrier address half
 * an hour apart, are never listed nor refused.
 *
 * The distributed sweep (login_sweep.c): many addresses guessing one
 * account; the address whose guess came right and that then fell silent
 * is listed, the owner whose client comes back is not (table drows).
 *
 * A stuffing state does not lapse while wrong passwords still arrive from
 * it (login_ip.c; table lrows).
 *
 * Each scenario row picks sources from one table; time is simulated from
 * T0 (the clock) and the engine's tick is driven every 60 s.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/login.h"
#include "store/store.h"
#include "tap.h"
#include "util/config.h"
#include "util/log.h"

static int64_t T0;

/* One source of logins: an address trying n accounts. */
struct src {
	const char *label;
	const char *ip;
	int start;		/* seconds after T0 */
	int naccts;
	const char *pattern;	/* per account: 'v' valid, 'w' wrong, 'x' no
				 * such account */
	int polls;		/* honest: each account comes back this often */
	int every;		/* seconds between polls */
	bool attack;
	int gap;		/* seconds between its accounts (0: 5) */
};

#define S_EARLY 0x01	/* all-valid addresses before the campaign */
#define S_LIST 0x02	/* list-like addresses: the campaign */
#define S_LATE 0x04	/* all-valid addresses after it is recognised */
#define S_HONEST 0x08	/* a first-seen carrier NAT and a household */
#define S_CGNAT 0x10	/* one carrier address, two customers minutes apart
			 * (at home: only with geoip_db and home_countries) */

static const struct src srcs[] = {
	{ "early all-valid 1", "203.0.113.11", 0, 2, "vv", 0, 0, true, 0 },
	{ "early all-valid 2", "203.0.113.12", 60, 3, "vvv", 0, 0, true, 0 },
	{ "early all-valid 3", "198.51.100.13", 150, 2, "vv", 0, 0, true, 0 },
	{ "early all-valid 4", "192.0.2.14", 240, 4, "vvvv", 0, 0, true, 0 },
	{ "early mostly-valid (under the list ratio)", "203.0.113.15", 270, 4,
	  "vvvw", 0, 0, true, 0 },
	{ "late all-valid 1", "203.0.113.21", 1300, 2, "vv", 0, 0, true, 0 },
	{ "late all-valid 2", "198.51.100.22", 1500, 3, "vvv", 0, 0, true, 0 },
	{ "carrier NAT, 40 users", "100.64.5.5", 200, 40,
	  "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", 20, 300, false, 0 },
	{ "household, 2 users", "198.18.7.7", 400, 2, "vv", 8, 600, false, 0 },
	{ "household, typo corrected", "198.18.7.8", 500, 2, "wv", 8, 600,
	  false, 0 },
	/* Phones on a carrier NAT get a new address for every session, so
	 * none comes back to this one; the pool hands it to a second phone
	 * half an hour later: two sessions, not one list. */
	{ "carrier address reused by a second phone", "100.64.9.9", 600, 2,
	  "vv", 0, 0, false, 1800 },
	{ "carrier address shared by two customers 2 min apart",
	  "100.64.9.10", 700, 2, "vv", 0, 0, false, 120 },
};

/* The list-like addresses: 12, a minute apart from t=320, each trying
 * two names that are not ours and two of ours (one valid). */
#define NLIST 12

struct scen {
	const char *label;
	unsigned sources;	/* S_* */
	bool campaign;		/* an incident is expected */
	bool geo;		/* geoip_db: 100.64.0.0/10 and 198.18.0.0/15
				 * JP, the rest US; home_countries = JP */
	int horizon;		/* seconds run (0: 3 hours) */
};

static const struct scen scens[] = {
	{ "campaign with all-valid addresses before and after it is seen",
	  S_EARLY | S_LIST | S_LATE, true, false, 0 },
	{ "campaign, a first-seen carrier NAT and households at the same "
	  "time", S_EARLY | S_LIST | S_LATE | S_HONEST, true, false, 0 },
	{ "no campaign: all-valid addresses and honest users only",
	  S_EARLY | S_LATE | S_HONEST, false, false, 0 },
	/* Abroad, the all-valid addresses are listed without the silence:
	 * the last one is only 5 minutes silent at the end.  At home, the
	 * carrier address two customers shared is not swept. */
	{ "home_countries JP, campaign abroad, 30 min run",
	  S_EARLY | S_LIST | S_LATE | S_HONEST | S_CGNAT, true, true, 1800 },
};

struct env {
	struct config *cfg;
	struct store *st;
	struct login_engine *e;
	char path[64], geo[64];
};

/* Open the engine with the default config (geo: plus scens' geoip_db and
 * home_countries) and a memory store. */
static void env_open(struct env *v, bool geo)
{
	char err[512];
	FILE *f;

	memset(v, 0, sizeof(*v));
	snprintf(v->path, sizeof(v->path), "/tmp/mamori-test-sweep-XXXXXX");
	snprintf(v->geo, sizeof(v->geo), "/tmp/mamori-test-geo-XXXXXX");
	f = fdopen(mkstemp(v->path), "w");
	if (geo) {
		FILE *g = fdopen(mkstemp(v->geo), "w");

		/* Tor's format: first,last,CC over IPv4 as integers. */
		fprintf(g, "0,1681915903,US\n1681915904,1686110207,JP\n"
			"1686110208,3323068415,US\n3323068416,3323199487,JP\n"
			"3323199488,4294967295,US\n");
		fclose(g);
		fprintf(f, "geoip_db = tor:%s\nhome_countries = JP\n",
			v->geo);
	} else {
		v->geo[0] = '\0';
	}
	fclose(f);
	v->cfg = config_load(v->path, err, sizeof(err));
	if (!v->cfg || store_open("memory:", NULL, &v->st, err,
				  sizeof(err)) != 0 ||
	    !(v->e = login_engine_new(v->cfg, v->st, err, sizeof(err)))) {
		printf("# open: %s\n", err);
		abort();
	}
}

/* Close what env_open opened. */
static void env_close(struct env *v)
{
	char **l = NULL;
	size_t n = login_take_compromised(v->e, &l), i;

	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
	login_engine_free(v->e);
	store_close(v->st);
	config_free(v->cfg);
	unlink(v->path);
	if (v->geo[0])
		unlink(v->geo);
}

/* One timed login. */
struct ev {
	int t;
	const char *ip;
	char login[48];
	bool right;
	int src;		/* index in srcs, -1 for the list-like ones */
};

/* One event of Dovecot's auth-policy protocol. */
static void post(struct login_engine *e, enum login_stage st,
		 const struct ev *x, bool success, bool prej,
		 struct login_verdict *v)
{
	struct login_attempt a;
	char pw[sizeof(x->login)];

	snprintf(pw, sizeof(pw), "%s", x->right ? "c0de" : x->login);
	memset(&a, 0, sizeof(a));
	a.stage = st;
	a.login = x->login;
	a.remote = x->ip;
	a.protocol = "imap";
	a.pwhash = pw;
	a.mech = "PLAIN";
	a.pwversion = "";
	a.session_id = "";
	a.success = success;
	a.policy_reject = prej;
	a.now = T0 + x->t;
	login_decide(e, &a, v);
}

/* A whole login (before, after when right, report); true if refused. */
static bool login(struct login_engine *e, const struct ev *x)
{
	struct login_verdict b, a, r;

	post(e, LOGIN_BEFORE, x, false, false, &b);
	if (b.status < 0) {
		post(e, LOGIN_REPORT, x, false, true, &r);
		return true;
	}
	if (!x->right) {
		post(e, LOGIN_REPORT, x, false, false, &r);
		return false;
	}
	post(e, LOGIN_AFTER, x, false, false, &a);
	post(e, LOGIN_REPORT, x, a.status == 0, a.status < 0, &r);
	return a.status < 0;
}

static int ev_cmp(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	return (x->t > y->t) - (x->t < y->t);
}

/* The events of scenario sc into *out; returns how many. */
static size_t build(const struct scen *sc, struct ev **out)
{
	size_t n = 0, cap = 4096, s;
	struct ev *v = calloc(cap, sizeof(*v));
	int i, j, p;

	for (s = 0; s < sizeof(srcs) / sizeof(srcs[0]); s++) {
		const struct src *x = &srcs[s];
		unsigned bit = !x->attack ? (x->gap == 120 ? S_CGNAT :
					     S_HONEST) :
			       x->start < 320 ? S_EARLY : S_LATE;

		if (!(sc->sources & bit))
			continue;
		for (j = 0; j < x->naccts; j++)
			for (p = 0; p <= x->polls; p++) {
				char c = x->pattern[j];
				/* A typo is corrected 5 s later. */
				int tries = c == 'w' && !x->attack && !p ? 2 : 1;

				for (i = 0; i < tries; i++) {
					struct ev *e = &v[n++];

					e->t = x->start +
					       (x->gap ? x->gap : 5) * j +
					       p * x->every + 5 * i;
					e->ip = x->ip;
					e->src = (int)s;
					e->right = c == 'v' || i == 1 ||
						   (c == 'w' && !x->attack &&
						    p > 0);
					snprintf(e->login, sizeof(e->login),
						 "%c%zu-%d@example.jp",
						 x->attack ? 'a' : 'h', s, j);
				}
			}
	}
	for (i = 0; (sc->sources & S_LIST) && i < NLIST; i++)
		for (j = 0; j < 4; j++) {
			struct ev *e = &v[n++];
			static char ips[NLIST][24];

			snprintf(ips[i], sizeof(ips[i]), "240.9.%d.1", i);
			e->t = 320 + 60 * i + 7 * j;
			e->ip = ips[i];
			e->src = -1;
			e->right = j == 1;
			snprintf(e->login, sizeof(e->login), "%s%d-%d@example.jp",
				 j % 2 ? "l" : "nobody", i, j);
		}
	qsort(v, n, sizeof(*v), ev_cmp);
	*out = v;
	return n;
}

/* Is login listed as valid in any incident? */
static bool listed(struct login_engine *e, const char *login)
{
	json_t *list = login_incidents_list(e), *inc, *show, *x;
	size_t i, k;
	bool found = false;

	json_array_foreach(list, i, inc) {
		show = login_incident_show(e, json_string_value(
			json_object_get(inc, "id")));
		json_array_foreach(json_object_get(show, "accounts"), k, x)
			if (json_is_true(json_object_get(x, "valid")) &&
			    strcmp(json_string_value(json_object_get(x,
				   "login")), login) == 0)
				found = true;
		json_decref(show);
	}
	json_decref(list);
	return found;
}

/* Did a correct login for v[i]'s account come before it? */
static bool seen_before(const struct ev *v, size_t i)
{
	size_t k;

	for (k = 0; k < i; k++)
		if (v[k].right && strcmp(v[k].login, v[i].login) == 0)
			return true;
	return false;
}

/* How many incidents are there? */
static size_t incidents(struct login_engine *e)
{
	json_t *list = login_incidents_list(e);
	size_t n = json_array_size(list);

	json_decref(list);
	return n;
}

/* ---- the distributed sweep (login_sweep.c) ---- */

/* One login of the watched address: 'v' the target's right password, 'w'
 * a wrong one, 'o' another account's right password. */
struct dstep {
	int t;
	char kind;
};

struct drow {
	const char *label;
	int failing;		/* other addresses guessing the target, one
				 * wrong password each, 30 s apart from t=0 */
	struct dstep steps[6];
	bool listed;		/* the target is expected in an incident */
};

static const struct drow drows[] = {
	{ "right guess as the address's first attempt, then silent", 12,
	  { { 400, 'v' } }, true },
	{ "wrong, right before the attack is recognised, wrong again, "
	  "silent", 15, { { 50, 'w' }, { 100, 'v' }, { 130, 'w' } }, true },
	{ "the owner on a new network: the client polls every 5 min", 12,
	  { { 400, 'v' }, { 700, 'v' }, { 1000, 'v' }, { 1300, 'v' } },
	  false },
	{ "the owner: a typo corrected, then polling", 12,
	  { { 200, 'w' }, { 205, 'v' }, { 505, 'v' }, { 805, 'v' } }, false },
	{ "no distributed guessing: 3 addresses failing", 3,
	  { { 400, 'v' } }, false },
	{ "the address logs into another account too", 12,
	  { { 400, 'v' }, { 410, 'o' } }, false },
};

/* One row: its target listed as expected, its right logins never
 * refused (the sweep lists, it does not block). */
static void test_dsweep(const struct drow *r)
{
	struct env env;
	struct ev x;
	int t, i, k, refused = 0;

	env_open(&env, false);
	memset(&x, 0, sizeof(x));
	for (t = 0, k = 0; t <= 3 * 3600; t += 60) {
		for (i = 0; i < r->failing; i++) {
			char ip[24];

			if (30 * i < t || 30 * i >= t + 60)
				continue;
			snprintf(ip, sizeof(ip), "240.1.%d.1", i);
			x.t = 30 * i;
			x.ip = ip;
			x.right = false;
			snprintf(x.login, sizeof(x.login), "target@example.jp");
			login(env.e, &x);
		}
		for (; k < 6 && r->steps[k].kind && r->steps[k].t < t + 60;
		     k++) {
			x.t = r->steps[k].t;
			x.ip = "245.0.0.1";
			x.right = r->steps[k].kind != 'w';
			snprintf(x.login, sizeof(x.login), "%s@example.jp",
				 r->steps[k].kind == 'o' ? "other" : "target");
			refused += login(env.e, &x) && x.right;
		}
		login_engine_tick(env.e, T0 + t + 60);
	}
	ok(listed(env.e, "target@example.jp") == r->listed,
	   "distributed sweep, %s: target %s", r->label,
	   r->listed ? "listed as entered" : "not listed");
	is_int(refused, 0, "distributed sweep, %s: no right login refused",
	       r->label);
	env_close(&env);
}

/* ---- a state in force while its attack goes on (login_ip.c) ---- */

struct lrow {
	const char *label;
	bool keep_failing;	/* wrong passwords every minute after the
				 * judgement, past auth_block_time */
	bool refused;		/* the right password at t=3900 */
};

static const struct lrow lrows[] = {
	{ "wrong passwords go on past auth_block_time", true, true },
	{ "the address fell silent", false, false },
};

/* One address works a bad list (judged at t=190, state until about
 * 3790), then, per row, keeps guessing or stops; at t=3900 it has a right
 * password: refused and listed only while its attack went on. */
static void test_lapse(const struct lrow *r)
{
	struct env env;
	struct ev x;
	int t, i = 0;
	bool refused = false;

	env_open(&env, false);
	memset(&x, 0, sizeof(x));
	x.ip = "198.51.100.99";
	for (t = 0; t <= 3900; t += 10) {
		if (t >= 250 && (!r->keep_failing || t % 60))
			continue;
		x.t = t;
		x.right = t == 3900;
		snprintf(x.login, sizeof(x.login), "%s%d@example.jp",
			 x.right ? "found" : "list", i++);
		refused = login(env.e, &x);
	}
	ok(refused == r->refused, "state lapse, %s: the right password at "
	   "t=3900 %s", r->label, r->refused ? "refused" : "let in");
	ok(listed(env.e, x.login) == r->refused, "state lapse, %s: the pair "
	   "%s", r->label, r->refused ? "listed" : "not listed");
	env_close(&env);
}

int main(void)
{
	size_t r, n, i;

	log_setup("test-login-sweep", false, getenv("SWEEP_LOG") ? LOG_L_WARN : LOG_L_FATAL);
	T0 = (int64_t)time(NULL);
	for (r = 0; r < sizeof(scens) / sizeof(scens[0]); r++) {
		const struct scen *sc = &scens[r];
		struct ev *v;
		struct env env;
		int t, unlisted = 0, valid = 0, honest_listed = 0;
		int honest_refused = 0, honest_ok = 0;

		env_open(&env, sc->geo);
		n = build(sc, &v);
		for (i = 0, t = 0; t < (sc->horizon ? sc->horizon : 3 * 3600);
		     t += 60) {
			for (; i < n && v[i].t < t + 60; i++) {
				bool refused = login(env.e, &v[i]);

				if (v[i].src >= 0 && !srcs[v[i].src].attack &&
				    v[i].right) {
					honest_ok++;
					honest_refused += refused;
				}
			}
			login_engine_tick(env.e, T0 + t + 60);
		}
		for (i = 0; i < n && v[i].t < t; i++) {
			bool attack = v[i].src < 0 || srcs[v[i].src].attack;

			/* Each account once: its first correct login. */
			if (!v[i].right || seen_before(v, i))
				continue;
			if (attack) {
				valid++;
				unlisted += !listed(env.e, v[i].login);
			} else {
				honest_listed += listed(env.e, v[i].login);
			}
		}
		if (sc->campaign)
			is_int(unlisted, 0, "%s: 0 of %d valid pairs not in an "
			       "incident", sc->label, valid);
		else
			is_int((int)incidents(env.e), 0, "%s: no incident",
			       sc->label);
		is_int(honest_listed, 0, "%s: no honest account listed",
		       sc->label);
		is_int(honest_refused, 0, "%s: 0 of %d honest correct logins "
		       "refused", sc->label, honest_ok);
		free(v);
		env_close(&env);
	}
	for (r = 0; r < sizeof(drows) / sizeof(drows[0]); r++)
		test_dsweep(&drows[r]);
	for (r = 0; r < sizeof(lrows) / sizeof(lrows[0]); r++)
		test_lapse(&lrows[r]);
	return tap_done();
}
