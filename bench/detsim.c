/*
 * detsim - the detection evaluation (docs/design/detection-eval.md).
 *
 *   detsim [--seeds A-B] [--mode cold|warm|both] [--profile full|short]
 *          [--real POLICY,AUTH,POSTFWD] [--per-seed] [--print-config]
 *          [--print-geoip]
 *
 * For each seed, generates a world (detsim-scen.c) and drives its events,
 * in time order, through three systems at once:
 *
 *   mamori          the core on a memory: store in simulated time
 *                   (core_outbound with req.now, core_login with its now);
 *                   with --real, mamorid over the policy protocol and the
 *                   Dovecot auth-policy HTTP protocol in real time
 *                   (detsim-wire.c)
 *   postfwd-EOP     the postfwd model of detsim-base.c (with --real, a
 *                   real postfwd over the policy protocol)
 *   fail2ban-like   the fail2ban model of detsim-base.c
 *
 * A message is an SMTP session: an SMTP AUTH login (Dovecot's sequence:
 * allow before the password check, allow after it if the password is
 * right, report), one RCPT request per recipient, then END-OF-MESSAGE with
 * recipient_count = the recipients accepted.  It is accepted when the
 * login passed, some recipient was accepted and END-OF-MESSAGE was neither
 * deferred, held nor refused.  A login is entered when both allows passed
 * with the right password.
 *
 * "warm" feeds the month of benign history first (not counted); "cold"
 * starts at the evaluation window with no history.  Prints one markdown
 * table per mode: per class the median and the maximum over the seeds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/login.h"
#include "core/core.h"
#include "core/login_gate.h"
#include "detsim-wire.h"
#include "detsim.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"

#define NSYS 3
#define MAXUNITS 8
/* A bit per login attack class in uint8_t masks. */
_Static_assert(DS_SPRAY - DS_STUFF_BAD + 1 <= 8, "login attack bits");

static const char *const sys_names[NSYS] = {
	"mamori", "postfwd-EOP", "fail2ban-like",
};

/* Counts of one system over one world. */
struct tally {
	uint32_t acc[DS__NCLASS][MAXUNITS];	/* attack msgs accepted */
	uint32_t att[DS__NCLASS][MAXUNITS];	/* attack msgs attempted */
	uint8_t *entered, *valid;	/* per account, bit per login attack */
	uint8_t *honest;		/* per account, 1 + benign class of its
					 * correct logins (0: none) */
	uint32_t msgs[DS__NCLASS], deferred[DS__NCLASS], held[DS__NCLASS];
	uint32_t logins[DS__NCLASS], lrefused[DS__NCLASS];
	uint32_t unlisted[DS__NCLASS];
	uint32_t hlisted[DS__NCLASS];	/* honest accounts listed entered */
	bool listing;			/* unlisted[] is known */
};

/* One system under test. */
struct sys {
	int id;
	struct core *core;		/* mamori, simulated */
	struct login_engine *login;
	struct store *st;
	struct ds_wire *wire;		/* mamori or postfwd, real */
	struct ds_postfwd *pf;		/* postfwd model */
	struct ds_f2b *f2b;		/* fail2ban model */
	struct tally t;
};

/* What a policy request got. */
static void got_verdict(void *arg, const struct verdict *v)
{
	int *out = arg;

	*out = v->observed ? VERDICT_DUNNO : (int)v->action;
}

static void got_login(void *arg, const struct core_login_verdict *v)
{
	int *out = arg;

	*out = v->status;
}

/* One policy request to a system: enum verdict_action. */
static int sys_policy(struct sys *s, const struct outbound_request *r,
		      uint32_t acct)
{
	int a = -1;

	if (s->core) {
		core_outbound(s->core, r, got_verdict, &a);
		if (a < 0) {
			fprintf(stderr, "detsim: core_outbound did not answer "
				"synchronously\n");
			exit(1);
		}
		return a;
	}
	if (s->wire)
		return ds_wire_policy(s->wire, r);
	if (s->pf && r->stage == OUT_END_OF_MESSAGE &&
	    ds_postfwd_eom(s->pf, acct, (uint32_t)r->recipient_count,
			   (uint32_t)r->now))
		return VERDICT_DEFER;
	return VERDICT_DUNNO;
}

/* One auth-policy request: Dovecot's status (< 0 refuses). */
static int sys_login_req(struct sys *s, const struct core_login_request *r,
			 uint32_t ip)
{
	int st = -1000;

	if (s->core) {
		core_login(s->core, r, got_login, &st);
		return st;
	}
	if (s->wire)
		return ds_wire_login(s->wire, r);
	if (s->f2b) {
		if (r->command == CORE_LOGIN_REPORT) {
			if (!r->success && !r->policy_reject)
				ds_f2b_failure(s->f2b, ip, (uint32_t)r->now);
			return 0;
		}
		return ds_f2b_banned(s->f2b, ip, (uint32_t)r->now) ? -1 : 0;
	}
	return 0;
}

enum login_outcome { L_REFUSED, L_FAILED, L_REFUSED_AFTER, L_ENTERED };

/* A whole login as Dovecot runs it. */
static enum login_outcome sys_login(struct sys *s, const struct ds_world *w,
				    const struct ds_event *e, bool smtp,
				    int64_t now)
{
	const char *login = ds_str(w, w->acct[e->acct].login);
	/* SMTP AUTH before a message: the sender holds the password. */
	bool right = (smtp || (e->flags & DS_F_CORRECT)) &&
		     w->acct[e->acct].exists;
	char ip[16], hash[5], sid[16];
	struct core_login_request r = {
		.login = login, .remote = ip,
		.protocol = smtp ? "smtp" : "imap", .pwhash = hash,
		.mech = "", .pwversion = "", .session_id = smtp ? "" : sid,
		.now = now,
	};

	ds_ip_str(e->ip, ip);
	ds_pwhash(w, login, right ? 0 : e->pw, hash);
	snprintf(sid, sizeof(sid), "S%08x", e->seq);
	r.command = CORE_LOGIN_ALLOW;
	if (sys_login_req(s, &r, e->ip) < 0) {
		r.command = CORE_LOGIN_REPORT;
		r.policy_reject = true;
		sys_login_req(s, &r, e->ip);
		return L_REFUSED;
	}
	if (!right) {
		r.command = CORE_LOGIN_REPORT;
		sys_login_req(s, &r, e->ip);
		return L_FAILED;
	}
	if (sys_login_req(s, &r, e->ip) < 0) {
		r.command = CORE_LOGIN_REPORT;
		r.policy_reject = true;
		sys_login_req(s, &r, e->ip);
		return L_REFUSED_AFTER;
	}
	r.command = CORE_LOGIN_REPORT;
	r.success = true;
	sys_login_req(s, &r, e->ip);
	return L_ENTERED;
}

enum msg_outcome { M_ACCEPTED, M_PARTIAL, M_DEFERRED, M_HELD, M_REFUSED };

/*
 * The milter's content facts of an accepted message (in-process mamori
 * only: --real drives the policy protocol, not a milter).  A reply's thread
 * is its conversation with the first recipient, or one of its own.
 */
static int sys_content(struct sys *s, const struct ds_world *w,
		       const struct ds_event *e, const char *qid,
		       const char *ip, int64_t now)
{
	struct outbound_content oc = { 0 };
	char key[160];
	int a = -1;

	if (!s->core || !e->content)
		return VERDICT_DUNNO;
	oc.flags = ((e->content & DS_C_REPLY) ? OC_REPLY : 0) |
		   ((e->content & DS_C_ENC) ? OC_ENC_ARCHIVE : 0) |
		   ((e->content & DS_C_PW) ? OC_PASSWORD : 0) |
		   ((e->content & DS_C_MACRO) ? OC_MACRO : 0);
	if (e->content & DS_C_REPLY) {
		if (e->content & DS_C_NEWTHREAD)
			snprintf(key, sizeof(key), "t%u", e->seq);
		else
			snprintf(key, sizeof(key), "%u/%s", e->acct,
				 ds_rcpt(w, e, 0));
		/* FNV-1a, as the core hashes a Message-ID. */
		oc.thread = 2166136261u;
		for (const char *p = key; *p; p++)
			oc.thread = (oc.thread ^ (unsigned char)*p) * 16777619u;
		oc.thread |= 1;
	}
	core_outbound_content(s->core, ds_str(w, w->acct[e->acct].login), qid,
			      ip, &oc, now, got_verdict, &a);
	if (a < 0) {
		fprintf(stderr, "detsim: core_outbound_content did not answer "
			"synchronously\n");
		exit(1);
	}
	return a;
}

/* One message: login, RCPTs, END-OF-MESSAGE. */
static enum msg_outcome sys_message(struct sys *s, const struct ds_world *w,
				    const struct ds_event *e, int64_t now)
{
	char ip[16], inst[16], qid[16];
	struct outbound_request r = {
		.login = ds_str(w, w->acct[e->acct].login),
		.sender = ds_str(w, e->sender), .client_address = ip,
		.instance = inst, .now = now, .size = 4000,
		/* The test hook: the simulator has no mmdb (in-process only;
		 * --real sends no country, as a real front-end). */
		.country = ds_country(e->ip),
	};
	unsigned i, ok = 0, ok_i = 0;
	bool held = false, deferred = false;
	int a;

	if (sys_login(s, w, e, true, now) != L_ENTERED)
		return M_REFUSED;
	ds_ip_str(e->ip, ip);
	snprintf(inst, sizeof(inst), "i%08x", e->seq);
	snprintf(qid, sizeof(qid), "Q%08X", e->seq);
	r.stage = OUT_RCPT;
	for (i = 0; i < e->nrcpt; i++) {
		r.recipient = ds_rcpt(w, e, i);
		r.queue_id = ok ? qid : "";
		a = sys_policy(s, &r, e->acct);
		if (a == VERDICT_DUNNO || a == VERDICT_HOLD) {
			ok++;
			ok_i = i;
			held |= a == VERDICT_HOLD;
		} else {
			deferred |= a == VERDICT_DEFER;
		}
	}
	if (!ok)
		return deferred ? M_DEFERRED : M_REFUSED;
	r.stage = OUT_END_OF_MESSAGE;
	r.recipient = ok == 1 ? ds_rcpt(w, e, ok_i) : "";
	r.recipient_count = ok;
	r.queue_id = qid;
	a = sys_policy(s, &r, e->acct);
	if (a == VERDICT_DUNNO && !held)
		a = sys_content(s, w, e, qid, ip, now);
	if (held || a == VERDICT_HOLD)
		return M_HELD;
	if (a == VERDICT_REJECT)
		return M_REFUSED;
	if (a == VERDICT_DEFER)
		return M_DEFERRED;
	return ok < e->nrcpt ? M_PARTIAL : M_ACCEPTED;
}

/* Run one event through one system and count it. */
static void sys_event(struct sys *s, const struct ds_world *w,
		      const struct ds_event *e, const uint8_t *victim,
		      int64_t now)
{
	struct tally *t = &s->t;
	enum ds_kind kind = ds_classes[e->cls].kind;
	bool count = !(e->flags & DS_F_HISTORY);
	unsigned bit = kind == DS_K_LOGIN_ATTACK ?
		       1u << (e->cls - DS_STUFF_BAD) : 0;

	if (e->type == DS_MSG) {
		enum msg_outcome o = sys_message(s, w, e, now);

		if (!count)
			return;
		if (e->flags & DS_F_ATTACK) {
			if (e->unit < MAXUNITS) {
				t->att[e->cls][e->unit]++;
				t->acc[e->cls][e->unit] +=
					o == M_ACCEPTED || o == M_PARTIAL;
			}
		} else if (!victim[e->acct]) {
			t->msgs[e->cls]++;
			t->deferred[e->cls] += o == M_DEFERRED ||
					       o == M_PARTIAL;
			t->held[e->cls] += o == M_HELD || o == M_REFUSED;
			if ((o == M_HELD || o == M_REFUSED) && s->core &&
			    getenv("DETSIM_LOG"))
				fprintf(stderr, "detsim: benign %s held: %s "
					"t=%u content=%u\n",
					ds_classes[e->cls].name,
					ds_str(w, w->acct[e->acct].login),
					e->t, e->content);
		}
		return;
	}
	{
		enum login_outcome o = sys_login(s, w, e, false, now);

		if (!count)
			return;
		if (kind == DS_K_LOGIN_ATTACK) {
			if (o == L_ENTERED)
				t->entered[e->acct] |= (uint8_t)bit;
			if (o == L_ENTERED || o == L_REFUSED_AFTER)
				t->valid[e->acct] |= (uint8_t)bit;
		} else if (kind == DS_K_BENIGN && !victim[e->acct] &&
			   (e->flags & DS_F_CORRECT)) {
			t->logins[e->cls]++;
			t->honest[e->acct] = (uint8_t)(e->cls + 1);
			t->lrefused[e->cls] += o == L_REFUSED ||
					       o == L_REFUSED_AFTER;
		}
	}
}

/* ---- mamori in-process ---- */

static char conf_path[64];

/* The config both the simulated core and the real mamorid use (apart
 * from listeners and store): defaults plus the provider's domains. */
static void print_config(FILE *f)
{
	/* home_countries is the provider's configuration (its customers
	 * are domestic: the simulator's "JP" ranges), not a fitted value. */
	fprintf(f, "# detsim: defaults, plus what any install sets\n"
		"local_domains = %s\nnotify_smtp_url =\n"
		"home_countries = JP\n", ds_local_domains);
}

/* The simulated address plan's countries (ds_country) as a geoip_db in
 * Tor's text format, for the real mamorid: below 240.0.0.0 is JP, each /16
 * of 240.0.0.0/4 its own country, so mamorid's geoip_db gives every client
 * the country the simulation's test hook gives it. */
static void print_geoip(FILE *f)
{
	uint32_t n;

	fprintf(f, "# detsim --print-geoip: the simulated address plan\n"
		"0,%u,JP\n", 0xf0000000u - 1);
	for (n = 0xf000; n <= 0xffff; n++)
		fprintf(f, "%u,%u,%s\n", n << 16, n << 16 | 0xffff,
			ds_country(n << 16));
}

static char geo_path[64];

/* The simulated core's config; its login engine gets the address plan as
 * a geoip_db, as the real run's mamorid does (run-detection-eval.sh). */
static void write_config(void)
{
	FILE *f, *g;
	int fd, gd;

	snprintf(conf_path, sizeof(conf_path), "/tmp/detsim-XXXXXX");
	snprintf(geo_path, sizeof(geo_path), "/tmp/detsim-geo-XXXXXX");
	if ((fd = mkstemp(conf_path)) < 0 || !(f = fdopen(fd, "w")) ||
	    (gd = mkstemp(geo_path)) < 0 || !(g = fdopen(gd, "w"))) {
		perror("detsim: config");
		exit(1);
	}
	print_geoip(g);
	fclose(g);
	print_config(f);
	fprintf(f, "geoip_db = tor:%s\n", geo_path);
	fclose(f);
}

/* Collect the valid accounts of every incident. */
struct listed {
	char **v;
	size_t n, cap;
};

static void listed_add(struct listed *l, const char *login);

/* One incident_acct row: keep its login if valid. */
static void listed_row(void *arg, int result, const char *key,
		       const char *value, int64_t ts)
{
	struct listed *l = arg;
	json_t *o;

	(void)result;
	(void)key;
	(void)ts;
	if (!value || !(o = json_loads(value, 0, NULL)))
		return;
	if (json_is_true(json_object_get(o, "valid")) &&
	    json_is_string(json_object_get(o, "login")))
		listed_add(l, json_string_value(json_object_get(o, "login")));
	json_decref(o);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add login to the set. */
static void listed_add(struct listed *l, const char *login)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	l->v[l->n++] = strdup(login);
}

/* The valid accounts of every incident, from mamorid's admin API. */
static bool listed_from_api(const char *sock, struct listed *l)
{
	json_t *list = ds_wire_api_get(sock, "/v1/incidents"), *inc, *one;
	json_t *acct;
	size_t i, j;
	char path[128];

	if (!list)
		return false;
	json_array_foreach(json_object_get(list, "incidents"), i, inc) {
		const char *id = json_string_value(json_object_get(inc, "id"));

		if (!id)
			continue;
		snprintf(path, sizeof(path), "/v1/incidents/%s", id);
		if (!(one = ds_wire_api_get(sock, path)))
			continue;
		json_array_foreach(json_object_get(one, "accounts"), j, acct)
			if (json_is_true(json_object_get(acct, "valid")) &&
			    json_is_string(json_object_get(acct, "login")))
				listed_add(l, json_string_value(
					json_object_get(acct, "login")));
		json_decref(one);
	}
	json_decref(list);
	return true;
}

/* Which valid pairs that reached the password check are in no incident:
 * from the store (namespace incident_acct, src/auth/login_incident.c) or,
 * with --real, from the admin API socket api. */
static void count_unlisted(struct sys *s, const struct ds_world *w,
			   const char *api)
{
	struct listed l = { 0 };
	size_t i;
	unsigned c;

	if (api) {
		if (!listed_from_api(api, &l)) {
			fprintf(stderr, "detsim: %s: no incident list\n", api);
			return;
		}
	} else {
		login_engine_tick(s->login, w->t_end + 1);
		store_scan(s->st, "incident_acct", "", listed_row, &l);
	}
	qsort(l.v, l.n, sizeof(*l.v), str_cmp);
	for (i = 0; i < w->nacct; i++) {
		const char *login = ds_str(w, w->acct[i].login);
		bool in = bsearch(&login, l.v, l.n, sizeof(*l.v),
				  str_cmp) != NULL;

		/* Listed as entered, never entered by an attack. */
		if (in && !s->t.valid[i] && s->t.honest[i]) {
			s->t.hlisted[s->t.honest[i] - 1]++;
			if (getenv("DETSIM_LOG"))
				fprintf(stderr, "detsim: honest %s listed as "
					"entered: %s\n",
					ds_classes[s->t.honest[i] - 1].name,
					login);
		}
		if (!s->t.valid[i] || in)
			continue;
		if (getenv("DETSIM_LOG"))
			fprintf(stderr, "detsim: valid pair not in an "
				"incident: %s (attack bits 0x%x)\n", login,
				s->t.valid[i]);
		for (c = DS_STUFF_BAD; c <= DS_SPRAY; c++)
			if (s->t.valid[i] & (1u << (c - DS_STUFF_BAD)))
				s->t.unlisted[c]++;
	}
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	s->t.listing = true;
}

/* ---- results ---- */

enum metric { MX_ACCEPTED, MX_ATTEMPTED, MX_ENTERED, MX_HELD_PAIRS,
	      MX_VALID, MX_UNLISTED,
	      MX_MSGS, MX_DEFERRED, MX_HELD, MX_LOGINS, MX_LREFUSED,
	      MX_HLISTED, MX__N };

static const char *const metric_names[MX__N] = {
	"attack msgs accepted, worst hijacked account",
	"attack msgs attempted, worst account",
	"accounts entered", "valid pairs in the attackers' lists",
	"valid pairs that reached the password check",
	"of those, not in an incident",
	"benign msgs", "benign msgs deferred", "benign msgs held or refused",
	"honest correct logins", "honest correct logins refused",
	"honest accounts listed as entered",
};

/* results[mode][sys][class][metric][seed]; -1 = not applicable. */
static double *res;
static size_t nseeds;

static double *cell(int mode, int sys, int cls, int m)
{
	return res + ((((size_t)mode * NSYS + sys) * DS__NCLASS + cls) * MX__N
		      + m) * nseeds;
}

/* The metrics of one system's tally. */
static void record(int mode, int sysid, const struct sys *s,
		   const struct ds_world *w, const uint8_t *held, size_t si)
{
	const struct tally *t = &s->t;
	unsigned c, u;
	size_t i;

	for (c = 0; c < DS__NCLASS; c++) {
		double m[MX__N];

		for (i = 0; i < MX__N; i++)
			m[i] = -1;
		switch (ds_classes[c].kind) {
		case DS_K_OUT_ATTACK:
			if (!w->units[c])
				break;
			m[MX_ACCEPTED] = m[MX_ATTEMPTED] = 0;
			for (u = 0; u < w->units[c] && u < MAXUNITS; u++) {
				if (t->acc[c][u] > m[MX_ACCEPTED])
					m[MX_ACCEPTED] = t->acc[c][u];
				if (t->att[c][u] > m[MX_ATTEMPTED])
					m[MX_ATTEMPTED] = t->att[c][u];
			}
			break;
		case DS_K_LOGIN_ATTACK:
			if (!w->units[c])
				break;
			m[MX_ENTERED] = m[MX_VALID] = m[MX_HELD_PAIRS] = 0;
			for (i = 0; i < w->nacct; i++) {
				unsigned bit = 1u << (c - DS_STUFF_BAD);

				m[MX_ENTERED] += (t->entered[i] & bit) != 0;
				m[MX_VALID] += (t->valid[i] & bit) != 0;
				m[MX_HELD_PAIRS] += (held[i] & bit) != 0;
			}
			if (t->listing)
				m[MX_UNLISTED] = t->unlisted[c];
			break;
		case DS_K_BENIGN:
			if (t->msgs[c]) {
				m[MX_MSGS] = t->msgs[c];
				m[MX_DEFERRED] = t->deferred[c];
				m[MX_HELD] = t->held[c];
			}
			if (t->logins[c]) {
				m[MX_LOGINS] = t->logins[c];
				m[MX_LREFUSED] = t->lrefused[c];
				if (t->listing)
					m[MX_HLISTED] = t->hlisted[c];
			}
			break;
		}
		for (i = 0; i < MX__N; i++)
			cell(mode, sysid, (int)c, (int)i)[si] = m[i];
	}
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median and maximum of the applicable seeds; false if none. */
static bool stats(const double *v, double *med, double *max)
{
	double *tmp = malloc(nseeds * sizeof(*tmp));
	size_t n = 0, i;

	if (!tmp)
		abort();
	for (i = 0; i < nseeds; i++)
		if (v[i] >= 0)
			tmp[n++] = v[i];
	if (n) {
		qsort(tmp, n, sizeof(*tmp), dbl_cmp);
		*med = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
		*max = tmp[n - 1];
	}
	free(tmp);
	return n > 0;
}

/* The target of a metric row, "" for an informative row. */
static const char *target_of(int cls, int m)
{
	switch (m) {
	case MX_ACCEPTED:
	case MX_ENTERED:
		return ds_classes[cls].target;
	case MX_UNLISTED:
	case MX_HELD:
	case MX_LREFUSED:
	case MX_HLISTED:
		return "0";
	default:
		return "";
	}
}

/* Does mamori meet the target on every seed? "yes", "no" or "". */
static const char *meets(int mode, int cls, int m)
{
	const char *tg = target_of(cls, m);
	const double *v = cell(mode, 0, cls, m), *valid;
	long lim;
	size_t i;

	if (!*tg || !strcmp(tg, "-"))
		return "";
	if (strstr(tg, "25%")) {
		valid = cell(mode, 0, cls, MX_HELD_PAIRS);
		for (i = 0; i < nseeds; i++)
			if (v[i] >= 0 && v[i] > 0.25 * valid[i])
				return "no";
		return "yes";
	}
	lim = strtol(tg[0] == '<' ? tg + 3 : tg, NULL, 10);
	for (i = 0; i < nseeds; i++)
		if (v[i] > lim)
			return "no";
	return "yes";
}

static void print_table(int mode, const char *mode_name)
{
	unsigned c, m, s;

	printf("\n### %s\n\n", mode_name);
	printf("| class | measure | target |");
	for (s = 0; s < NSYS; s++) {
		printf(" %s med | %s max |", sys_names[s], sys_names[s]);
		if (s == 0)
			printf(" %s meets |", sys_names[s]);
	}
	printf("\n");
	printf("|---|---|---|---:|---:|---|---:|---:|---:|---:|\n");
	for (c = 0; c < DS__NCLASS; c++) {
		for (m = 0; m < MX__N; m++) {
			double med, max;

			if (!stats(cell(mode, 0, (int)c, (int)m), &med, &max) &&
			    !stats(cell(mode, 1, (int)c, (int)m), &med, &max))
				continue;
			printf("| %s | %s | %s |", ds_classes[c].name,
			       metric_names[m], target_of((int)c, (int)m));
			for (s = 0; s < NSYS; s++) {
				if (stats(cell(mode, (int)s, (int)c, (int)m),
					  &med, &max))
					printf(" %g | %g |", med, max);
				else
					printf(" — | — |");
				if (s == 0)
					printf(" %s |", meets(mode, (int)c,
							      (int)m));
			}
			printf("\n");
		}
	}
}

/* ---- running ---- */

static const char *const mode_names[3] = { "cold", "warm", "learned" };

struct opts {
	unsigned long first, last;
	bool cold, warm, learned, per_seed;
	const char *mamori;		/* the CLI, for --mode learned */
	enum ds_profile profile;
	char *real[3];			/* policy, auth, postfwd */
	const char *api_key;
	const char *api;		/* --real: admin API unix socket */
};

/* Open the three systems for one run. */
static void sys_open(struct sys *s, const struct opts *o,
		     const struct ds_world *w, struct config *cfg,
		     const char *spec)
{
	char err[512];
	int i;

	for (i = 0; i < NSYS; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].id = i;
		s[i].t.entered = calloc(w->nacct, 1);
		s[i].t.valid = calloc(w->nacct, 1);
		s[i].t.honest = calloc(w->nacct, 1);
		if (!s[i].t.entered || !s[i].t.valid || !s[i].t.honest)
			abort();
	}
	if (o->real[0]) {
		if (!(s[0].wire = ds_wire_new(o->real[0], o->real[1],
					      o->api_key, err, sizeof(err))) ||
		    (o->real[2] && !(s[1].wire = ds_wire_new(o->real[2], NULL,
							     NULL, err,
							     sizeof(err))))) {
			fprintf(stderr, "detsim: %s\n", err);
			exit(1);
		}
	} else if (store_open(spec ? spec : "memory:", NULL, &s[0].st, err,
			      sizeof(err)) != 0 ||
		   !(s[0].core = core_new(cfg, s[0].st, NULL, err,
					  sizeof(err))) ||
		   !(s[0].login = login_engine_new(cfg, s[0].st, err,
						   sizeof(err)))) {
		fprintf(stderr, "detsim: %s\n", err);
		exit(1);
	} else {
		core_set_login(s[0].core, s[0].login);
	}
	if (!s[1].wire)
		s[1].pf = ds_postfwd_new(w->nacct);
	s[2].f2b = ds_f2b_new();
}

static unsigned long wire_errors;

static void sys_close(struct sys *s)
{
	int i;

	for (i = 0; i < NSYS; i++) {
		wire_errors += ds_wire_errors(s[i].wire);
		if (s[i].core)
			core_free(s[i].core);
		login_engine_free(s[i].login);
		if (s[i].st)
			store_close(s[i].st);
		ds_wire_free(s[i].wire);
		ds_postfwd_free(s[i].pf);
		ds_f2b_free(s[i].f2b);
		free(s[i].t.entered);
		free(s[i].t.valid);
		free(s[i].t.honest);
	}
}

/* Sleep until the wall clock reaches event time t (real-time runs). */
static void pace(const struct ds_world *w, uint32_t t, double wall0)
{
	struct timespec ts;
	double now, due = wall0 + (t - w->t0);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec + ts.tv_nsec / 1e9;
	if (due > now) {
		ts.tv_sec = (time_t)(due - now);
		ts.tv_nsec = (long)((due - now - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* One seed in one mode. */
static void run_seed(const struct opts *o, struct config *cfg,
		     unsigned long seed, int mode, size_t si)
{
	struct ds_world *w = ds_world_new(seed, o->profile);
	struct sys s[NSYS];
	uint8_t *victim = calloc(w->nacct ? w->nacct : 1, 1);
	uint8_t *held = calloc(w->nacct ? w->nacct : 1, 1);
	struct timespec ts;
	double wall0;
	size_t i;
	int k;
	clock_t c0 = clock();
	char dir[64] = "", spec[128] = "";

	if (!victim || !held)
		abort();
	for (i = 0; i < w->nev; i++) {
		const struct ds_event *e = &w->ev[i];

		if (e->type == DS_MSG && (e->flags & DS_F_ATTACK))
			victim[e->acct] = 1;
		if (e->type == DS_LOGIN && (e->flags & DS_F_ATTACK) &&
		    (e->flags & DS_F_CORRECT) && w->acct[e->acct].exists)
			held[e->acct] |= (uint8_t)(1u << (e->cls -
							  DS_STUFF_BAD));
	}
	/* After mamori learn: the history as a mail log, learnt by the CLI
	 * into a store the core then loads (its counter snapshot). */
	if (mode == 2 && ds_learn(w, o->mamori, conf_path, dir, sizeof(dir),
				  spec, sizeof(spec)) != 0) {
		fprintf(stderr, "detsim: seed %lu: mamori learn failed (%s; "
			"see %s/learn.out)\n", seed, o->mamori, dir);
		exit(1);
	}
	sys_open(s, o, w, cfg, mode == 2 ? spec : NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	wall0 = ts.tv_sec + ts.tv_nsec / 1e9;
	for (i = 0; i < w->nev; i++) {
		const struct ds_event *e = &w->ev[i];

		if ((e->flags & DS_F_HISTORY) && mode != 1)
			continue;
		if (o->real[0])
			pace(w, e->t, wall0);
		for (k = 0; k < NSYS; k++)
			sys_event(&s[k], w, e, victim,
				  o->real[0] && s[k].wire ? 0 : e->t);
	}
	if (s[0].core)
		count_unlisted(&s[0], w, NULL);
	else if (o->api)
		count_unlisted(&s[0], w, o->api);
	for (k = 0; k < NSYS; k++)
		record(mode, k, &s[k], w, held, si);
	if (o->per_seed)
		fprintf(stderr, "seed %lu %s: %zu events, %zu accounts, "
			"%.1f s CPU\n", seed, mode_names[mode], w->nev,
			w->nacct, (double)(clock() - c0) / CLOCKS_PER_SEC);
	sys_close(s);
	ds_learn_cleanup(dir);
	free(victim);
	free(held);
	ds_world_free(w);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: detsim [--seeds A-B] [--mode cold|warm|both|learned|all] "
		"[--profile full|short]\n"
		"              [--mamori PATH_OF_THE_CLI]\n"
		"              [--real POLICY_HOST:PORT,AUTH_HOST:PORT"
		"[,POSTFWD_HOST:PORT]] [--api-key K]\n"
		"              [--api ADMIN_API_UNIX_SOCKET]\n"
		"              [--per-seed] [--print-config] [--print-geoip]\n"
		"default: --seeds 1000-1049 --mode both --profile full "
		"(tune on 1-20, report 1000-1049)\n");
	exit(2);
}

/* Parse the options; exits on error. */
static void parse(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->first = 1000;
	o->last = 1049;
	o->cold = o->warm = true;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--seeds") && v) {
			char *end;

			o->first = strtoul(v, &end, 10);
			o->last = *end == '-' ? strtoul(end + 1, &end, 10) :
				  o->first;
			if (*end || o->last < o->first ||
			    o->last - o->first > 100000)
				usage();
			i++;
		} else if (!strcmp(a, "--mode") && v) {
			bool all = !strcmp(v, "all");

			o->cold = all || !strcmp(v, "cold") ||
				  !strcmp(v, "both");
			o->warm = all || !strcmp(v, "warm") ||
				  !strcmp(v, "both");
			o->learned = all || !strcmp(v, "learned");
			if (!o->cold && !o->warm && !o->learned)
				usage();
			i++;
		} else if (!strcmp(a, "--mamori") && v) {
			o->mamori = v;
			i++;
		} else if (!strcmp(a, "--profile") && v) {
			if (!strcmp(v, "short"))
				o->profile = DS_PROFILE_SHORT;
			else if (strcmp(v, "full"))
				usage();
			i++;
		} else if (!strcmp(a, "--real") && v) {
			char *dup = strdup(v), *p = dup;
			int k;

			for (k = 0; k < 3 && p; k++) {
				char *comma = strchr(p, ',');

				if (comma)
					*comma = '\0';
				o->real[k] = *p ? strdup(p) : NULL;
				p = comma ? comma + 1 : NULL;
			}
			free(dup);
			if (!o->real[0] || !o->real[1])
				usage();
			i++;
		} else if (!strcmp(a, "--api") && v) {
			o->api = v;
			i++;
		} else if (!strcmp(a, "--api-key") && v) {
			o->api_key = v;
			i++;
		} else if (!strcmp(a, "--per-seed")) {
			o->per_seed = true;
		} else if (!strcmp(a, "--print-config")) {
			print_config(stdout);
			exit(0);
		} else if (!strcmp(a, "--print-geoip")) {
			print_geoip(stdout);
			exit(0);
		} else {
			usage();
		}
	}
	if (!o->mamori) {
		/* build/bench/detsim -> build/src/cli/mamori */
		static char path[4096];
		const char *slash = strrchr(argv[0], '/');

		snprintf(path, sizeof(path), "%.*s../src/cli/mamori",
			 slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
		o->mamori = path;
	}
	if (o->real[0]) {
		o->profile = DS_PROFILE_SHORT;
		o->learned = false;
		o->warm = false;	/* a fresh mamorid: cold start */
		o->cold = true;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct config *cfg = NULL;
	char err[512];
	unsigned long seed;
	int mode;
	time_t start = time(NULL);

	parse(argc, argv, &o);
	/* DETSIM_LOG=1: the core's transitions (warn) on stderr, to see why. */
	log_setup("detsim", false, getenv("DETSIM_LOG") ? LOG_L_WARN : LOG_L_FATAL);
	nseeds = o.last - o.first + 1;
	res = malloc(3 * NSYS * DS__NCLASS * MX__N * nseeds * sizeof(*res));
	if (!res)
		abort();
	for (size_t i = 0; i < 3 * NSYS * DS__NCLASS * MX__N * nseeds; i++)
		res[i] = -1;
	if (!o.real[0]) {
		write_config();
		if (!(cfg = config_load(conf_path, err, sizeof(err)))) {
			fprintf(stderr, "detsim: %s\n", err);
			return 1;
		}
	}
	for (mode = 0; mode < 3; mode++) {
		if ((mode == 0 && !o.cold) || (mode == 1 && !o.warm) ||
		    (mode == 2 && !o.learned))
			continue;
		for (seed = o.first; seed <= o.last; seed++)
			run_seed(&o, cfg, seed, mode, seed - o.first);
	}
	printf("## Detection evaluation: seeds %lu-%lu, profile %s%s\n",
	       o.first, o.last,
	       o.profile == DS_PROFILE_SHORT ? "short" : "full",
	       o.real[0] ? ", real protocols in real time" :
	       ", simulated time");
	printf("\nmed / max: median and maximum over the seeds.  \"mamori "
	       "meets\": the target held on every seed.\n");
	if (o.cold)
		print_table(0, o.real[0] ? "real-time run (cold start: a "
			    "fresh mamorid)" : "cold start (no history)");
	if (o.warm)
		print_table(1, "warm (a month of benign history first)");
	if (o.learned)
		print_table(2, "after mamori learn (the month's Postfix log "
			    "learnt into the store; no logins, no content)");
	if (o.real[0])
		printf("\nRequests without a usable answer (real protocols): "
		       "%lu\n", wire_errors);
	fprintf(stderr, "detsim: %ld s\n", (long)(time(NULL) - start));
	if (cfg)
		config_free(cfg);
	if (conf_path[0])
		unlink(conf_path);
	if (geo_path[0])
		unlink(geo_path);
	free(res);
	return 0;
}
