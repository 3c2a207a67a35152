/*
 * test-outbound - the signals that work without history (issue 9), through
 * core_outbound() on a memory store, with small generated traffic: each row
 * of the scenario table is an ordinary trait that must not be deferred, or
 * an attack that must be stopped within a few messages.  Plus the Poisson
 * tail and the explanation's numbers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/login.h"
#include "core/core-internal.h"
#include "core/core.h"
#include "core/outbound.h"
#include "store/store.h"
#include "tap.h"
#include "test_core.h"
#include "util/config.h"
#include "util/xalloc.h"

#define T0 1790000000

struct env {
	struct config *cfg;
	struct store *st;
	struct core *core;
	char map[64];
	const char *country;		/* the request's test hook, or NULL */
};

/* A core over memory: with local_domains isp.example, conf appended. */
static void env_open(struct env *e, const char *conf, const char *map)
{
	char *text;
	FILE *f;

	memset(e, 0, sizeof(*e));
	if (map) {
		snprintf(e->map, sizeof(e->map), "/tmp/mamori-test-smap-XXXXXX");
		f = fdopen(mkstemp(e->map), "w");
		fputs(map, f);
		fclose(f);
	}
	text = xasprintf("local_domains = isp.example\nnotify_smtp_url =\n"
			 "%s%s\n%s", map ? "sender_map = " : "",
			 map ? e->map : "", conf);
	e->core = test_core_open(text, "memory:", &e->cfg, &e->st);
	free(text);
}

/* Free what env_open made, and the sender map. */
static void env_close(struct env *e)
{
	test_core_close(e->core, e->st, e->cfg);
	if (e->map[0])
		unlink(e->map);
}

static void got(void *arg, const struct verdict *v)
{
	*(struct verdict *)arg = *v;
}

/*
 * One message as Postfix asks: RCPT per recipient (stops at a refusal),
 * then END-OF-MESSAGE.  Recipients are "r<msg>.<i>@<dom_fmt with i>".
 */
static struct verdict send1(struct env *e, const char *login,
			    const char *ip, const char *sender, int n,
			    const char *dom_fmt, int msgno, int64_t now)
{
	struct outbound_request r = { 0 };
	struct verdict v = { 0 };
	char rcpt[128], dom[64], inst[64];
	int i;

	snprintf(inst, sizeof(inst), "%s.%d", login, msgno);
	r.login = login;
	r.sender = sender;
	r.client_address = ip;
	r.instance = inst;
	r.queue_id = "";
	r.now = now;
	r.country = e->country;
	for (i = 0; i < n; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(dom, sizeof(dom), dom_fmt, i + msgno * 1000);
#pragma GCC diagnostic pop
		snprintf(rcpt, sizeof(rcpt), "r%d.%d@%s", msgno, i, dom);
		r.stage = OUT_RCPT;
		r.recipient = rcpt;
		core_outbound(e->core, &r, got, &v);
		if (v.action == VERDICT_DEFER || v.action == VERDICT_REJECT)
			return v;
	}
	r.stage = OUT_END_OF_MESSAGE;
	r.recipient = n == 1 ? rcpt : "";
	r.recipient_count = n;
	r.queue_id = "Q1";
	core_outbound(e->core, &r, got, &v);
	return v;
}

/* A habit: days of 3 messages a day from HOME; returns the time after. */
static int64_t history(struct env *e, const char *login, int days,
		       int64_t now)
{
	int d, m;

	for (d = 0; d < days; d++) {
		for (m = 0; m < 3; m++)
			send1(e, login, "198.18.7.20", login, 2,
			      "friend%d.example", d * 10 + m,
			      now + 9 * 3600 + m * 3 * 3600);
		now += 86400;
	}
	return now;
}

/* Count a verdict: accepted, or hurt (the first one's reason in why). */
static void tally(const struct verdict *v, int *accepted, int *hurt,
		  char *why, size_t whysz)
{
	if (v->action == VERDICT_DUNNO)
		(*accepted)++;
	else if (!(*hurt)++)
		snprintf(why, whysz, "%s %s", verdict_action_name(v->action),
			 v->reason);
}

enum sender_kind { OWN, UNHOSTED };
enum ip_kind { HOME, CARRIER, FOREIGN_EACH, ONE_FOREIGN };

/* A client address for message i. */
static void ip_of(enum ip_kind k, int i, char out[32])
{
	switch (k) {
	case HOME:
		snprintf(out, 32, "198.18.7.20");
		break;
	case CARRIER:	/* one carrier pool (a /16), a new address each time */
		snprintf(out, 32, "100.64.%d.%d", (i * 37) % 256, 1 + i % 250);
		break;
	case FOREIGN_EACH:	/* a botnet: another /16 every message */
		snprintf(out, 32, "%d.%d.1.%d", 240 + i % 15, (i * 53) % 256,
			 1 + i);
		break;
	case ONE_FOREIGN:
		snprintf(out, 32, "241.77.3.9");
		break;
	}
}

static void test_scenarios(void)
{
	static const struct {
		const char *label;
		const char *conf, *map;
		int history_days;	/* habit first: 3 msgs a day from HOME */
		enum ip_kind ip;
		enum sender_kind sender;
		int msgs, rcpts, gap;
		const char *dom_fmt;	/* recipient domain, printf(int) */
		int max_accepted;	/* attack: at most; -1: benign */
	} rows[] = {
		{"newsletter, 200 Bcc at once, cold", "", NULL, 0, HOME, OWN,
		 1, 200, 60, "d%d.example", -1},
		{"phone on carrier NAT, new address each message, cold", "",
		 NULL, 0, CARRIER, OWN, 12, 2, 1200, "friend%d.example", -1},
		{"phone on carrier NAT, warm", "", NULL, 10, CARRIER, OWN,
		 12, 2, 1200, "friend%d.example", -1},
		{"shop: order mail to a new customer every 5 s, cold", "", NULL,
		 0, HOME, OWN, 100, 1, 5, "cust%d.example", -1},
		{"traveller abroad, warm", "", NULL, 10, ONE_FOREIGN, OWN, 6, 2,
		 900, "friend%d.example", -1},
		{"new customer, 5 messages", "", NULL, 0, HOME, OWN, 5, 3, 300,
		 "f%d.example", -1},
		{"own vanity domain in sender_map", "",
		 "u1@isp.example u1@family.example\n", 0, HOME, UNHOSTED, 10, 2,
		 120, "f%d.example", -1},
		{"botnet: another /16 each message, 20 rcpts, cold", "", NULL, 0,
		 FOREIGN_EACH, OWN, 40, 20, 10, "b%d.example", 3},
		{"botnet: one address, 20 rcpts every 10 s, cold", "", NULL, 0,
		 ONE_FOREIGN, OWN, 40, 20, 10, "b%d.example", 3},
		{"unowned sender, rotating addresses, cold", "", NULL, 0,
		 FOREIGN_EACH, UNHOSTED, 40, 3, 30, "v%d.example", 3},
		{"unowned sender, one address, cold", "", NULL, 0, ONE_FOREIGN,
		 UNHOSTED, 40, 3, 30, "v%d.example", 3},
		{"unowned sender refused (unowned_sender_action = reject)",
		 "[class default]\nunowned_sender_action = reject\n", NULL, 0, ONE_FOREIGN,
		 UNHOSTED, 10, 3, 30, "v%d.example", 0},
		{"low-and-slow from one new address, warm", "", NULL, 10,
		 ONE_FOREIGN, OWN, 120, 2, 30, "s%d.example", 12},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct env e;
		int64_t now = T0;
		int m, accepted = 0, hurt = 0;
		char ip[32], why[800] = "";
		const char *login = "u1@isp.example";
		const char *sender = rows[i].sender == OWN ? login :
			strstr(rows[i].label, "vanity") ?
			"u1@family.example" : "billing@bank-secure.example";

		env_open(&e, rows[i].conf, rows[i].map);
		now = history(&e, login, rows[i].history_days, now);
		for (m = 0; m < rows[i].msgs; m++) {
			struct verdict v;

			ip_of(rows[i].ip, m, ip);
			v = send1(&e, login, ip, sender, rows[i].rcpts,
				  rows[i].dom_fmt, 1000 + m, now);
			now += rows[i].gap;
			tally(&v, &accepted, &hurt, why, sizeof(why));
		}
		if (rows[i].max_accepted < 0)
			is_int(hurt, 0, "%s: no message deferred or held (%s)",
			       rows[i].label, why[0] ? why : "-");
		else
			ok(accepted <= rows[i].max_accepted,
			   "%s: %d accepted (<= %d; first refusal: %s)",
			   rows[i].label, accepted, rows[i].max_accepted, why);
		env_close(&e);
	}
}

/*
 * Client countries through the request's hook (no mmdb): a traveller
 * abroad at an ordinary pace is never deferred; foreign low-and-slow and
 * country breadth are stopped within a few messages, and the verdict
 * names the country signals with their numbers.
 */
static void test_countries(void)
{
	static const char *const rot[] = { "US", "DE", "FR", "BR" };
	static const struct {
		const char *label, *conf;
		int history_days;	/* 3 msgs a day from HOME, "JP" */
		enum ip_kind ip;
		const char *cc;		/* NULL: rotate through rot[] */
		int msgs, rcpts, gap;
		int max_accepted;	/* attack: at most; -1: benign */
		const char *why;	/* in the first refusal's reason */
	} rows[] = {
		{"traveller abroad, cold, home_countries = JP",
		 "home_countries = JP\n", 0, ONE_FOREIGN, "DE", 8, 2, 900,
		 -1, NULL},
		{"traveller abroad, warm, home_countries = JP",
		 "home_countries = JP\n", 10, ONE_FOREIGN, "DE", 8, 2, 900,
		 -1, NULL},
		{"traveller abroad, warm, no home_countries", "", 10,
		 ONE_FOREIGN, "DE", 8, 2, 900, -1, NULL},
		{"traveller answering 5 mails at once on arrival, cold",
		 "home_countries = JP\n", 0, ONE_FOREIGN, "DE", 5, 1, 60,
		 -1, NULL},
		{"domestic shop, 1 rcpt every 5 s, cold, home JP",
		 "home_countries = JP\n", 0, HOME, "JP", 100, 1, 5, -1, NULL},
		{"phone on carrier NAT, cold, home JP",
		 "home_countries = JP\n", 0, CARRIER, "JP", 12, 2, 1200, -1,
		 NULL},
		{"low-and-slow, one foreign address, cold, home JP",
		 "home_countries = JP\n", 0, ONE_FOREIGN, "DE", 120, 2, 30, 6,
		 "foreign_volume: msgs_from_DE~"},
		{"low-and-slow, 1 rcpt every 60 s, cold, home JP",
		 "home_countries = JP\n", 0, ONE_FOREIGN, "VN", 120, 1, 60, 6,
		 "country: client_country=VN outside home_countries"},
		{"low-and-slow, warm, no home_countries", "", 10, ONE_FOREIGN,
		 "DE", 120, 2, 30, 6, "country: client_country=DE never used"},
		/* 2 before the throttle, 2 after it ends until the
		 * recurrence restricts (the breadth is rebuilt in 3). */
		{"countries: another country each message in one /16, cold",
		 "home_countries = JP\n", 0, CARRIER, NULL, 40, 2, 60, 4,
		 "countries: client_countries=3>=3"},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct env e;
		int64_t now = T0;
		int m, accepted = 0, hurt = 0;
		char ip[32], why[800] = "";
		const char *login = "u1@isp.example";

		env_open(&e, rows[i].conf, NULL);
		e.country = "JP";
		now = history(&e, login, rows[i].history_days, now);
		for (m = 0; m < rows[i].msgs; m++) {
			struct verdict v;

			ip_of(rows[i].ip, m, ip);
			e.country = rows[i].cc ? rows[i].cc : rot[m % 4];
			v = send1(&e, login, ip, login, rows[i].rcpts,
				  "c%d.example", 1000 + m, now);
			now += rows[i].gap;
			tally(&v, &accepted, &hurt, why, sizeof(why));
		}
		if (rows[i].max_accepted < 0) {
			is_int(hurt, 0, "%s: no message deferred or held (%s)",
			       rows[i].label, why[0] ? why : "-");
		} else {
			ok(accepted <= rows[i].max_accepted,
			   "%s: %d accepted (<= %d; first refusal: %s)",
			   rows[i].label, accepted, rows[i].max_accepted, why);
			ok(strstr(why, rows[i].why) != NULL,
			   "%s: the verdict names \"%s\"", rows[i].label,
			   rows[i].why);
		}
		env_close(&e);
	}
}

/*
 * The real lookup: geoip_db (the shared corpus's sample .mmdb, whose
 * countries are what that file says, see src/auth/test-login-state.c) through
 * the login engine's reader, and the country signal on the outbound path.
 */
static void test_geoip(void)
{
	static const struct {
		const char *addr, *cc;	/* cc "" = unknown */
	} rows[] = {
		{"133.242.0.1", "JP"}, {"2001:200::1", "AU"},
		{"8.8.8.8", "US"}, {"192.0.2.1", ""}, {"not-an-ip", ""},
	};
	const char *shared = getenv("MAMORI_SHARED");
	char db[1024], conf[1200], err[512], why[800] = "", got_cc[3];
	struct login_engine *le;
	struct env e;
	size_t i;
	int m, accepted = 0, hurt = 0;

	snprintf(db, sizeof(db), "%s/corpora/ip-country/"
		 "npm-geo-whois-asn-country.mmdb", shared ? shared : "../shared");
	if (!ok(access(db, R_OK) == 0, "geoip: sample mmdb at %s", db))
		return;
	snprintf(conf, sizeof(conf), "home_countries = JP\ngeoip_db = %s\n",
		 db);
	env_open(&e, conf, NULL);
	le = login_engine_new(e.cfg, e.st, err, sizeof(err));
	if (!ok(le != NULL, "geoip: login engine (%s)", le ? "-" : err)) {
		env_close(&e);
		return;
	}
	core_set_login(e.core, le);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *want = rows[i].cc[0] ? rows[i].cc : "--";

		acct_cc_format(login_engine_country(le, rows[i].addr), got_cc);
		/* ok(), not is_str(): gcc 12 with -fsanitize misreads the
		 * macro's NULL guards here (-Werror=format-overflow). */
		if (!ok(strcmp(got_cc, want) == 0, "geoip: %s is %s",
			rows[i].addr, want))
			printf("#   got \"%.2s\"\n", got_cc);
	}
	for (m = 0; m < 40; m++) {
		struct verdict v = send1(&e, "shop@isp.example", "133.242.0.1",
					 "shop@isp.example", 1, "c%d.example",
					 m, T0 + m * 5);

		hurt += v.action != VERDICT_DUNNO;
	}
	is_int(hurt, 0, "geoip: domestic shop (JP by geoip_db) unhurt");
	for (m = 0; m < 40; m++) {
		struct verdict v = send1(&e, "u1@isp.example", "8.8.8.8",
					 "u1@isp.example", 2, "c%d.example",
					 100 + m, T0 + m * 30);

		if (v.action == VERDICT_DUNNO)
			accepted++;
		else if (!hurt++)
			snprintf(why, sizeof(why), "%s", v.reason);
	}
	ok(accepted <= 6 && strstr(why, "client_country=US outside") != NULL,
	   "geoip: low-and-slow from US stopped after %d (%s)", accepted, why);
	core_set_login(e.core, NULL);
	login_engine_free(le);
	env_close(&e);
}

/* Every verdict names its signals with their numbers and points. */
static void test_explain(void)
{
	struct env e;
	struct verdict v = { 0 };
	char ip[32];
	int m;

	env_open(&e, "", NULL);
	for (m = 0; m < 3 && v.action == VERDICT_DUNNO; m++) {
		ip_of(FOREIGN_EACH, m, ip);
		v = send1(&e, "u2@isp.example", ip,
			  "billing@bank-secure.example", 3, "v%d.example", m,
			  T0 + m * 30);
	}
	is_int(v.action, VERDICT_DEFER, "explain: throttled");
	ok(strstr(v.reason, "unowned_sender: unhosted_sender_msgs_hour=") &&
	   strstr(v.reason, "(+40)"), "explain: unowned_sender with count "
	   "and points (%s)", v.reason);
	ok(strstr(v.reason, "new_network: ") != NULL,
	   "explain: the second /16 is a new network (%s)", v.reason);
	env_close(&e);
}

static void test_poisson(void)
{
	static const struct {
		unsigned k;
		double lambda, want;
	} rows[] = {
		{0, 3.0, 1.0},
		{1, 2.0, 1.0 - 0.1353352832},
		{6, 1.0, 5.9418e-4},
		{12, 2.0, 1.3638e-6},
		{5, 0.0, 0.0},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		double p = outbound_poisson_tail(rows[i].k, rows[i].lambda);

		ok(fabs(p - rows[i].want) <= 1e-3 * rows[i].want + 1e-9,
		   "poisson: P(X >= %u | %.1f) = %.4g (want %.4g)", rows[i].k,
		   rows[i].lambda, p, rows[i].want);
	}
}

/*
 * new_rcpts against the hour's share: a bulk sender's filter saturates and
 * the few recipients it calls new are its errors, however many messages;
 * a hijacker's hour is mostly new.  outbound_evaluate on a bare account.
 */
static void test_new_rcpts_share(void)
{
	static const struct {
		const char *label;
		unsigned newr, rcpts, novelty;	/* novelty: habit, of 255 */
		bool fires;
	} rows[] = {
		{"hijacker: 9 of 10 recipients new, habit 10%", 9, 10, 25, true},
		{"Emotet: 8 of 16 new (colleagues), habit 20%", 8, 16, 51, true},
		{"shop, saturated filter: 8 of 600 'new', habit 40%", 8, 600, 102,
		 false},
		{"busy hour at the habit: 12 of 40 new, habit 30%", 12, 40, 77,
		 false},
		{"too few: 7 of 7 new", 7, 7, 25, false},
	};
	struct env e;
	size_t i;

	env_open(&e, "", NULL);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct acct *a = calloc(1, sizeof(*a) + 8);
		struct outbound_eval ev;
		char r[32];
		int k;

		for (k = 0; k < 12; k++) {
			snprintf(r, sizeof(r), "c%d@corp.example", k);
			acct_rcpt_learn(a, r);
		}
		a->flags |= ACCT_F_RCPT_HABIT;
		a->domains_idx = T0 / 3600;
		a->first_seen = T0 - 86400;
		a->newrcpt_hour = (uint16_t)rows[i].newr;
		a->rcpt_hour = (uint16_t)rows[i].rcpts;
		a->novelty = (uint8_t)rows[i].novelty;
		outbound_evaluate(a, &e.cfg->classes[0], T0, 0, false, false,
				  &ev);
		is_int((ev.fired >> SIG_NEW_RCPTS) & 1, rows[i].fires,
		       "new_rcpts share: %s", rows[i].label);
		free(a);
	}
	env_close(&e);
}

/* The content habit's day: learnt today, it holds from tomorrow for 90
 * days; used, it stays; expired, it starts again. */
static void test_content_habit_days(void)
{
	static const struct {
		const char *label;
		uint16_t day, learn_on;	/* learn_on 0: no learning */
		uint16_t asked;
		bool holds;
	} rows[] = {
		{"never learnt", 0, 0, 100, false},
		{"learnt today: not today", 0, 100, 100, false},
		{"learnt yesterday", 0, 99, 100, true},
		{"90 days on", 10, 0, 100, true},
		{"91 days on: expired", 9, 0, 100, false},
		{"used today keeps it another 90 days", 20, 100, 189, true},
		{"expired, learnt again today: not today", 5, 100, 100, false},
		{"expired, learnt again: from tomorrow", 5, 100, 101, true},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct acct *a = calloc(1, sizeof(*a) + 8);

		a->ppap_day = rows[i].day;
		if (rows[i].learn_on)
			outbound_content_learn(a, rows[i].learn_on);
		is_int(outbound_content_habit(a, rows[i].asked), rows[i].holds,
		       "content habit: %s", rows[i].label);
		free(a);
	}
}

/* A suspicious throttle that recurs soon after it ended restricts. */
static void test_throttle_recurrence(void)
{
	struct env e;
	struct verdict v;
	char ip[32];
	int m;
	int64_t now = T0;

	env_open(&e, "[class default]\nweight_unowned_sender = 50\n"
		 "throttle_escalate = 1000\n",
		 NULL);
	v = send1(&e, "u3@isp.example", "241.1.1.1",
		  "billing@bank-secure.example", 1, "v%d.example", 0, now);
	is_str(v.state, "throttled", "recurrence: first message throttles");
	now += e.cfg->classes[0].throttle_time + 1;
	for (m = 1; m < 3; m++) {
		ip_of(ONE_FOREIGN, m, ip);
		v = send1(&e, "u3@isp.example", ip,
			  "billing@bank-secure.example", 1, "v%d.example", m,
			  now);
		now += 30;
	}
	is_str(v.state, "restricted",
	       "recurrence: signals back after the throttle restrict");
	ok(strstr(core_reason_get(e.core, acct_table_get(e.core->accounts,
		"u3@isp.example", false, 0)) ?: "", "unowned_sender") != NULL,
	   "recurrence: the reason keeps the signals");
	env_close(&e);
}

/* The new counters survive a restart; records without them still load. */
static void test_snapshot_fields(void)
{
	struct acct *a = calloc(1, sizeof(*a) + 8), *b = calloc(1, sizeof(*a) + 8);
	struct core_snap_rec r;
	const char *why = NULL;
	char *text, *old;

	acct_rcpt_learn(a, "friend@example.org");
	a->rcpt_min.idx = 7;
	a->rcpt_min.cur = 42;
	a->newrcpt_hour = 9;
	a->rcpt_hour = 11;
	a->unowned_hour = 2;
	a->novelty = 200;
	a->flags |= ACCT_F_RCPT_HABIT;
	a->newnet_weight = 20;
	a->ppap_day = 20500;
	text = core_snapshot_encode(a, T0);
	is_int(core_snapshot_decode(text, &r, &why), 0, "snapshot: decodes");
	core_snapshot_apply(b, &r);
	ok(acct_rcpt_known(b, "friend@example.org"),
	   "snapshot: correspondents restored");
	ok(b->rcpt_min.cur == 42 && b->newrcpt_hour == 9 && b->rcpt_hour == 11 &&
	   b->unowned_hour == 2 && b->novelty == 200 && (b->flags & ACCT_F_RCPT_HABIT) &&
	   b->newnet_weight == 20, "snapshot: hourly counters restored");
	is_int(b->ppap_day, 20500, "snapshot: the content habit's day restored");
	/* A record as written before these fields existed. */
	old = strdup(text);
	memcpy(strstr(old, ",\"rcpts0\""), "}", 2);
	is_int(core_snapshot_decode(old, &r, &why), 0,
	       "snapshot: an older record without them loads (%s)", old);
	is_int(r.novelty_hours, 0, "snapshot: and they start at zero");
	is_int(r.ppap_day, 0, "snapshot: no content habit in an older record");
	free(old);
	old = strdup(text);
	memcpy(strstr(old, "\"hourly\":[") + 10, "[99999", 6);
	is_int(core_snapshot_decode(old, &r, &why), -1,
	       "snapshot: an out-of-range hourly counter is refused");
	free(old);
	/* The record with its "cc" member (last) holding 70000 > 2^16. */
	old = xasprintf("%.*s\"cc\":[70000,0]}",
			(int)(strstr(text, "\"cc\":[") - text), text);
	why = NULL;
	is_int(core_snapshot_decode(old, &r, &why), -1,
	       "snapshot: an out-of-range habitual country is refused (%s)",
	       old);
	is_str(why ? why : "", "field",
	       "snapshot: refused as a bad field, not as bad JSON");
	free(old);
	old = xasprintf("%.*s\"ppap\":70000}",
			(int)(strstr(text, "\"ppap\":") - text), text);
	is_int(core_snapshot_decode(old, &r, &why), -1,
	       "snapshot: an out-of-range content habit day is refused (%s)",
	       old);
	free(old);
	free(text);
	free(a);
	free(b);
}

int main(void)
{
	test_snapshot_fields();
	test_poisson();
	test_scenarios();
	test_countries();
	test_geoip();
	test_explain();
	test_throttle_recurrence();
	test_new_rcpts_share();
	test_content_habit_days();
	return tap_done();
}
