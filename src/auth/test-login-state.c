/*
 * test-login-state - what the login-abuse engine learns and keeps, driven
 * by synthetic Dovecot event streams: new networks, new countries
 * (geoip_db on the shared corpus's .mmdb), password-change evidence, the
 * stage helper, persistence on sqlite, manual blocks and escalation, CSV
 * quoting and bounded memory.  The rules on addresses and campaigns are in
 * test-login.c; the helpers both use in test-login-env.h.
 *
 * Time is injected through login_attempt.now from T0 = the clock (the
 * stores expire keys by the real clock, so persisted blocks must be in the
 * real future).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/login.h"
#include "auth/test-login-env.h"
#include "store/store.h"
#include "tap.h"
#include "test_sqlite.h"
#include "util/config.h"
#include "util/log.h"

static int64_t T0;

static void test_new_network(void)
{
	struct env v;
	struct cyc c;

	env_open(&v, NULL, "memory:");
	cycle(v.e, "nn@example.jp", "198.51.100.20", true, T0, &c);
	ok(!c.a.new_network && !c.r.new_network, "first login: not flagged");
	cycle(v.e, "nn@example.jp", "198.51.100.21", true, T0 + 60, &c);
	ok(!c.a.new_network && !c.r.new_network, "same /24: not flagged");
	cycle(v.e, "nn@example.jp", "203.0.113.30", true, T0 + 120, &c);
	ok(c.a.new_network && has(&c.a, "rule=new_network") &&
	   has(&c.a, "net=203.0.113.0/24"),
	   "new network flagged at the after-check (%s)", c.a.reason);
	ok(!c.r.new_network, "... once (not again in the report)");
	cycle(v.e, "nn@example.jp", "203.0.113.31", true, T0 + 180, &c);
	ok(!c.a.new_network, "then it is habitual");
	cycle(v.e, "nn@example.jp", "2001:db8:1:2::5", true, T0 + 240, &c);
	ok(c.a.new_network && has(&c.a, "net=2001:db8:1:2::/64"),
	   "IPv6 /64 (%s)", c.a.reason);
	cycle(v.e, "nn@example.jp", "2001:db8:1:2:ffff::9", true, T0 + 300, &c);
	ok(!c.a.new_network, "same /64: not flagged");
	/* A report alone (after-check off) flags it too. */
	ev(v.e, LOGIN_REPORT, "nn@example.jp", "192.0.2.200", NULL, true, false,
	   T0 + 360, &c.r);
	ok(c.r.new_network, "report success flags a new network");
	env_close(&v);
}

/*
 * The sample .mmdb of the shared corpus (ip-country/SOURCE.md): a format
 * sample whose data is known to be wrong in places.  The countries below
 * are what THIS file says (mmdblookup --file F --ip A country_code), not
 * where the addresses are: 2001:200::1 is really JP, the file says AU.
 */
#define GEO_JP1 "133.242.0.1"		/* JP in the file */
#define GEO_JP2 "133.242.99.7"		/* JP in the file, another /24 */
#define GEO_AU "2001:200::1"		/* AU in the file */
#define GEO_US "8.8.8.8"		/* US in the file */
#define GEO_NONE "192.0.2.1"		/* not in the file */

/* The path of the sample .mmdb. */
static void geo_path(char *out, size_t n)
{
	const char *shared = getenv("MAMORI_SHARED");

	snprintf(out, n, "%s/corpora/ip-country/"
		 "npm-geo-whois-asn-country.mmdb", shared ? shared :
		 "../shared");
}

/* A config holding conf, loaded from a temporary file. */
static struct config *conf_load(const char *conf)
{
	char path[64] = "/tmp/mamori-test-login-XXXXXX", err[512];
	struct config *cfg;
	FILE *f = fdopen(mkstemp(path), "w");

	fprintf(f, "%s", conf);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (!cfg) {
		printf("# config: %s\n", err);
		abort();
	}
	return cfg;
}

static void test_new_country(void)
{
	char db[1024], conf[1200], err[512];
	struct config *cfg, *cfg2, *cfg3;
	struct login_engine *e;
	struct env v;
	struct cyc c;
	int i, any = 0;

	geo_path(db, sizeof(db));
	if (!ok(access(db, R_OK) == 0, "geo: sample mmdb at %s", db))
		return;
	snprintf(conf, sizeof(conf), "geoip_db = %s\n", db);
	env_open(&v, conf, "memory:");
	cycle(v.e, "geo@example.jp", GEO_JP1, true, T0, &c);
	ok(!c.a.new_country && !c.r.new_country && !c.a.new_network &&
	   !c.r.new_network, "geo: first login learns JP, not flagged");
	cycle(v.e, "geo@example.jp", GEO_JP2, true, T0 + 60, &c);
	ok(c.a.new_network && !c.a.new_country && !c.r.new_country &&
	   !has(&c.a, "rule=new_country"),
	   "geo: same country from a new network: new network only (%s)",
	   c.a.reason);
	cycle(v.e, "geo@example.jp", GEO_AU, true, T0 + 120, &c);
	ok(c.a.new_country && c.a.new_network &&
	   has(&c.a, "rule=new_country account=geo@example.jp "
	       "ip=" GEO_AU " country=AU habitual=JP"),
	   "geo: another country sets new_country and new_network (%s)",
	   c.a.reason);
	ok(has(&c.a, "rule=new_network"),
	   "geo: ... with the new-network reason too");
	ok(!c.r.new_country && !c.r.new_network,
	   "geo: ... once (not again in the report)");
	cycle(v.e, "geo@example.jp", GEO_AU, true, T0 + 180, &c);
	ok(!c.a.new_country && !c.a.new_network, "geo: then AU is habitual");
	/* A report alone (after-check off): most recent first. */
	ev(v.e, LOGIN_REPORT, "geo@example.jp", GEO_US, NULL, true, false,
	   T0 + 240, &c.r);
	ok(c.r.new_country && has(&c.r, "country=US habitual=AU,JP"),
	   "geo: report success flags it, habitual most recent first (%s)",
	   c.r.reason);
	cycle(v.e, "geo@example.jp", GEO_NONE, true, T0 + 300, &c);
	ok(c.a.new_network && !c.a.new_country && !c.r.new_country,
	   "geo: an address the file does not place: no country signal");
	is_int(stat2(v.e, "new_country", NULL), 2, "geo: stats new_country");
	/* Reload: a missing file keeps the open one; empty turns it off. */
	cfg2 = conf_load("geoip_db = /nonexistent/mamori-test.mmdb\n");
	login_engine_reconfigure(v.e, cfg2);
	cycle(v.e, "geo2@example.jp", GEO_JP1, true, T0 + 360, &c);
	cycle(v.e, "geo2@example.jp", GEO_AU, true, T0 + 420, &c);
	ok(c.a.new_country, "geo: reload to a missing file keeps the old one");
	cfg3 = conf_load("");
	login_engine_reconfigure(v.e, cfg3);
	cycle(v.e, "geo2@example.jp", GEO_US, true, T0 + 480, &c);
	ok(c.a.new_network && !c.a.new_country,
	   "geo: reload with geoip_db empty: off");
	cfg = conf_load(conf);
	login_engine_reconfigure(v.e, cfg);
	cycle(v.e, "geo2@example.jp", GEO_US, true, T0 + 540, &c);
	ok(c.a.new_country && !has(&c.a, "rule=new_network") &&
	   has(&c.a, "country=US habitual=AU,JP"),
	   "geo: reopened on reload; off, it learnt no country (%s)",
	   c.a.reason);
	cycle(v.e, "geo2@example.jp", GEO_JP2, true, T0 + 600, &c);
	ok(!c.a.new_country, "geo: ... and JP still habitual");
	env_close(&v);
	config_free(cfg);
	config_free(cfg2);
	config_free(cfg3);

	/* geoip_db empty (the default): nothing about countries. */
	env_open(&v, NULL, "memory:");
	cycle(v.e, "geo@example.jp", GEO_JP1, true, T0, &c);
	any |= c.a.new_country || c.r.new_country;
	cycle(v.e, "geo@example.jp", GEO_AU, true, T0 + 60, &c);
	any |= c.a.new_country || c.r.new_country ||
	       has(&c.a, "country=") || has(&c.r, "country=");
	ok(c.a.new_network, "geo off: the new network is still flagged");
	for (i = 0; i < 3; i++) {
		cycle(v.e, "geo@example.jp", GEO_US, true, T0 + 120 + i, &c);
		any |= c.a.new_country || c.r.new_country;
	}
	ok(!any, "geo off: no new_country, no country in reasons");
	is_int(stat2(v.e, "new_country", NULL), 0, "geo off: stats");
	env_close(&v);

	/* A database that cannot be opened is a clear error. */
	cfg = conf_load("geoip_db = /nonexistent/mamori-test.mmdb\n");
	err[0] = '\0';
	e = login_engine_new(cfg, NULL, err, sizeof(err));
	ok(!e && strstr(err, "geoip_db /nonexistent/mamori-test.mmdb: ") &&
	   strstr(err, "No such file"), "geo: missing file: %s", err);
	login_engine_free(e);
	config_free(cfg);
	snprintf(conf, sizeof(conf), "geoip_db = %s/src/auth/login.h\n",
		 getenv("MAMORI_SOURCE_ROOT") ? getenv("MAMORI_SOURCE_ROOT")
		 : ".");
	cfg = conf_load(conf);
	err[0] = '\0';
	e = login_engine_new(cfg, NULL, err, sizeof(err));
	ok(!e && strstr(err, "geoip_db ") && strstr(err, "login.h: "),
	   "geo: not an mmdb: %s", err);
	login_engine_free(e);
	config_free(cfg);
}

static void test_credentials(void)
{
	struct env v;
	struct cyc c;
	struct test_login_opt o = { .pwhash = "0a1b", .mech = "PLAIN" };

	env_open(&v, NULL, "memory:");
	cycle_o(v.e, "pw@example.jp", "198.51.100.5", true, T0, &o, &c);
	login_note_abused(v.e, "pw@example.jp");
	cycle_o(v.e, "pw@example.jp", "198.51.100.5", true, T0 + 60, &o, &c);
	ok(!c.a.credential_changed && !c.r.credential_changed,
	   "same pwhash: no credential change");
	o.pwhash = "ffee";
	cycle_o(v.e, "pw@example.jp", "198.51.100.5", true, T0 + 120, &o, &c);
	ok(c.a.credential_changed && has(&c.a, "evidence=pwhash_changed"),
	   "new pwhash: credential changed (%s)", c.a.reason);
	ok(!c.r.credential_changed, "... said once");
	cycle_o(v.e, "pw@example.jp", "198.51.100.5", true, T0 + 180, &o, &c);
	ok(!c.a.credential_changed, "... and forgotten");

	o.pwhash = "1111";
	cycle_o(v.e, "cram@example.jp", "198.51.100.5", true, T0, &o, &c);
	login_note_abused(v.e, "cram@example.jp");
	o.pwhash = "2222";
	o.mech = "CRAM-MD5";
	cycle_o(v.e, "cram@example.jp", "198.51.100.5", true, T0 + 60, &o, &c);
	ok(!c.a.credential_changed && !c.r.credential_changed,
	   "CRAM-MD5: the hash is no evidence");
	o.mech = "LOGIN";
	cycle_o(v.e, "cram@example.jp", "198.51.100.5", true, T0 + 90, &o, &c);
	ok(c.a.credential_changed, "LOGIN with a new hash: changed");
	env_close(&v);

	env_open(&v, "auth_pwversion_attr = pwchanged\n", "memory:");
	o.mech = "PLAIN";
	o.pwhash = "aaaa";
	o.pwversion = "v1";
	cycle_o(v.e, "ver@example.jp", "198.51.100.5", true, T0, &o, &c);
	login_note_abused(v.e, "ver@example.jp");
	o.pwhash = "bbbb";
	cycle_o(v.e, "ver@example.jp", "198.51.100.5", true, T0 + 60, &o, &c);
	ok(!c.a.credential_changed, "same pwversion wins over a new pwhash");
	o.pwhash = "aaaa";
	o.pwversion = "v2";
	cycle_o(v.e, "ver@example.jp", "198.51.100.5", true, T0 + 120, &o, &c);
	ok(c.a.credential_changed && has(&c.a, "evidence=pwversion_changed"),
	   "new pwversion: changed (%s)", c.a.reason);
	env_close(&v);
}

/* The stage helper and the after-check-missing escalation. */
static void test_stages(void)
{
	struct env v;
	struct login_attempt a;
	struct login_verdict vd;
	struct cyc c;
	char login[64], err[128];
	int i;

	env_open(&v, NULL, "memory:");
	memset(&a, 0, sizeof(a));
	a.login = "st@example.jp";
	a.remote = "198.51.100.9";
	a.protocol = "imap";
	a.pwhash = "abcd";
	a.session_id = "s1";
	a.now = T0;
	is_int(login_allow_stage(v.e, &a), LOGIN_BEFORE, "stage: first allow");
	a.stage = LOGIN_BEFORE;
	login_decide(v.e, &a, &vd);
	is_int(login_allow_stage(v.e, &a), LOGIN_AFTER, "stage: second allow");
	a.stage = LOGIN_AFTER;
	login_decide(v.e, &a, &vd);
	a.stage = LOGIN_REPORT;
	a.success = true;
	login_decide(v.e, &a, &vd);
	is_int(login_allow_stage(v.e, &a), LOGIN_BEFORE,
	       "stage: after the report, a new login");

	/* Dovecot without the after-check: a success from a stuffing
	 * address gets in once, then the address is blocked. */
	for (i = 0; i < 20; i++) {
		snprintf(login, sizeof(login), "x%02d@example.jp", i);
		cycle(v.e, login, "192.0.2.66", false, T0 + i, &c);
	}
	ok(c.r.incident[0] != '\0', "stuffing judged");
	ev(v.e, LOGIN_BEFORE, "x50@example.jp", "192.0.2.66", NULL, false,
	   false, T0 + 30, &vd);
	is_int(vd.status, 0, "stuffing: before allows");
	ev(v.e, LOGIN_REPORT, "x50@example.jp", "192.0.2.66", NULL, true,
	   false, T0 + 30, &vd);
	ok(vd.compromised, "success reported from stuffing: compromised");
	ev(v.e, LOGIN_BEFORE, "x51@example.jp", "192.0.2.66", NULL, false,
	   false, T0 + 31, &vd);
	ok(vd.status == -1 && has(&vd, "state=blocked"),
	   "... and the address is blocked (%s)", vd.reason);
	is_int(stat2(v.e, "escalations", NULL), 1, "stats: one escalation");

	/* The store failing under us: decisions go on from memory. */
	v.st->fault = true;
	for (i = 0; i < 21; i++) {
		snprintf(login, sizeof(login), "y%02d@example.jp", i);
		cycle(v.e, login, "192.0.2.67", i == 20, T0 + 40 + i, &c);
	}
	ok(c.a.status == -1 && c.a.compromised && c.a.incident[0],
	   "store down: judged and enforced from memory");
	is_int(login_ip_block(v.e, "192.0.2.68", 600, "x", "admin", err,
			      sizeof(err)), 0, "store down: manual block");
	ev(v.e, LOGIN_BEFORE, "z@example.jp", "192.0.2.68", NULL, false, false,
	   T0 + 70, &vd);
	is_int(vd.status, -1, "store down: manual block enforced");
	v.st->fault = false;
	env_close(&v);
}

static void test_persistence(void)
{
	struct env v;
	struct cyc c;
	struct login_verdict vd;
	struct test_login_opt o = { .mech = "PLAIN" };
	char store[96], login[128], err[256], id[40] = "";
	json_t *list, *show, *ips;
	int i;
	int64_t until;

	snprintf(store, sizeof(store), "sqlite:/tmp/mamori-test-login-%d.db",
		 (int)getpid());
	unlink(store + 7);
	env_open(&v, NULL, store);
	is_int(login_ip_block(v.e, "203.0.113.0/24", 0, "abuse desk ticket",
			      "admin:uid=0", err, sizeof(err)), 0,
	       "manual CIDR block");
	is_int(login_ip_block(v.e, "not-an-ip", 0, NULL, NULL, err,
			      sizeof(err)), -1, "bad address refused");
	is_int(login_ip_block(v.e, "10.0.0.0/33", 0, NULL, NULL, err,
			      sizeof(err)), -1, "bad prefix refused");
	for (i = 0; i < 25; i++) {
		snprintf(login, sizeof(login), "p%02d@example.jp", i);
		cycle(v.e, login, "192.0.2.44", i == 21, T0 + i, &c);
		if (c.r.incident[0] && !id[0])
			snprintf(id, sizeof(id), "%s", c.r.incident);
	}
	ok(id[0] != '\0', "stuffing judged before the restart");
	o.pwhash = "0a1b";
	cycle_o(v.e, "rest@example.jp", "198.51.100.5", true, T0 + 30, &o, &c);
	login_note_abused(v.e, "rest@example.jp");
	ips = login_ips_list(v.e);
	is_int(json_array_size(ips), 2, "ips: the block and the stuffing "
	       "address");
	json_decref(ips);
	login_engine_free(v.e);

	v.e = login_engine_new(v.cfg, v.st, err, sizeof(err));
	ok(v.e != NULL, "engine reloads from sqlite");
	ev(v.e, LOGIN_BEFORE, "anyone@example.jp", "203.0.113.7", NULL, false,
	   false, T0 + 100, &vd);
	ok(vd.status == -1 && vd.msg[0] == '\0' && has(&vd, "state=blocked") &&
	   has(&vd, "net=203.0.113.0/24") &&
	   has(&vd, "actor=\"admin:uid=0\""),
	   "CIDR block survives a restart (%s)", vd.reason);
	o.pwhash = "ffee";
	cycle_o(v.e, "rest@example.jp", "198.51.100.5", true, T0 + 100, &o,
		&c);
	ok(c.a.credential_changed, "abuse-time evidence survives a restart");
	cycle(v.e, "p22@example.jp", "192.0.2.44", true, T0 + 101, &c);
	ok(c.b.status == 0 && c.a.status == -1 && c.a.compromised &&
	   strcmp(c.a.incident, id) == 0,
	   "stuffing survives a restart, same incident");
	list = login_incidents_list(v.e);
	ok(json_array_size(list) == 1 &&
	   jint(json_array_get(list, 0), "valid") == 2 &&
	   jint(json_array_get(list, 0), "tried") == 25,
	   "incident reloaded and continued (tried %lld, valid %lld)",
	   jint(json_array_get(list, 0), "tried"),
	   jint(json_array_get(list, 0), "valid"));
	json_decref(list);
	show = login_incident_show(v.e, id);
	is_int(json_array_size(json_object_get(show, "accounts")), 25,
	       "show after restart: accounts from the store");
	json_decref(show);

	is_int(login_ip_unblock(v.e, "203.0.113.0/24", "admin", err,
				sizeof(err)), 0, "unblock the range");
	ev(v.e, LOGIN_BEFORE, "anyone@example.jp", "203.0.113.7", NULL, false,
	   false, T0 + 200, &vd);
	is_int(vd.status, 0, "unblocked");
	is_int(login_ip_unblock(v.e, "203.0.113.0/24", "admin", err,
				sizeof(err)), -1, "unblock twice refused");

	/* Expiry: the stuffing state ends at auth_block_time. */
	until = T0 + 20 + v.cfg->auth_block_time;
	ev(v.e, LOGIN_BEFORE, "q@example.jp", "192.0.2.44", NULL, false, false,
	   until + 1, &vd);
	ok(vd.status == 0 && !has(&vd, "state="), "state expired (%s)",
	   vd.reason);
	list = login_incidents_list(v.e);
	is_str(json_string_value(json_object_get(json_array_get(list, 0),
						 "state")), "closed",
	       "incident closed with its last state");
	json_decref(list);


	/* A manual block of one address, then a restart: still blocked; a
	 * manual block also applies inside the allowlist. */
	is_int(login_ip_block(v.e, "2001:db8::66", 600, "test", "admin", err,
			      sizeof(err)), 0, "manual IPv6 block");
	login_engine_free(v.e);
	v.e = login_engine_new(v.cfg, v.st, err, sizeof(err));
	ev(v.e, LOGIN_BEFORE, "a@example.jp", "2001:db8::66", NULL, false,
	   false, T0 + 300, &vd);
	is_int(vd.status, -1, "IPv6 block survives a restart");
	ev(v.e, LOGIN_BEFORE, "a@example.jp", "2001:db8::66", NULL, false,
	   false, T0 + 300 + 601, &vd);
	is_int(vd.status, 0, "... and expires");

	/* The store down at start: an error, not a half-loaded engine. */
	login_engine_free(v.e);
	v.st->fault = true;
	v.e = login_engine_new(v.cfg, v.st, err, sizeof(err));
	ok(v.e == NULL && strstr(err, "loading"), "store down: %s", err);
	v.st->fault = false;
	v.e = login_engine_new(v.cfg, v.st, err, sizeof(err));
	env_close(&v);
	test_sqlite_unlink(store + 7);
}

static void test_escalation(void)
{
	struct env v;
	struct cyc c;
	char login[64];
	int round, i;
	int64_t t = T0, dur[3];
	json_t *ips;

	env_open(&v, "auth_block_time = 10m\nauth_block_max = 30m\n",
		 "memory:");
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 20; i++) {
			snprintf(login, sizeof(login), "r%d-%02d@example.jp",
				 round, i);
			cycle(v.e, login, "192.0.2.99", false, t + i, &c);
			if (c.b.status == 0 && has(&c.b, "state=stuffing"))
				break;
		}
		ips = login_ips_list(v.e);
		dur[round] = jint(json_array_get(ips, 0), "until") -
			     jint(json_array_get(ips, 0), "since");
		t = jint(json_array_get(ips, 0), "until") + 1;
		json_decref(ips);
	}
	ok(dur[0] == 600 && dur[1] == 1200 && dur[2] == 1800,
	   "recurrences double up to auth_block_max (%lld %lld %lld)",
	   (long long)dur[0], (long long)dur[1], (long long)dur[2]);
	env_close(&v);
}

static void test_csv_quoting(void)
{
	struct env v;
	struct cyc c;
	char login[64], *csv;
	int i;

	env_open(&v, NULL, "memory:");
	for (i = 0; i < 21; i++) {
		snprintf(login, sizeof(login), "q%02d@example.jp", i);
		cycle(v.e, i == 20 ? "=cmd|\"x\",y" : login, "192.0.2.5",
		      false, T0 + i, &c);
	}
	csv = login_incident_csv(v.e, c.r.incident[0] ? c.r.incident :
				 "none");
	if (!csv) {
		ev(v.e, LOGIN_BEFORE, "z", "192.0.2.5", NULL, false, false,
		   T0 + 30, &c.b);
		csv = login_incident_csv(v.e, c.b.incident);
	}
	ok(csv && strstr(csv, "\r\n\"'=cmd|\"\"x\"\",y\",no,1,"),
	   "csv: RFC 4180 quoting and formula guard");
	free(csv);
	env_close(&v);
}

static void test_bounded(void)
{
	struct env v;
	struct login_verdict vd;
	char ip[32], login[32];
	int i;

	env_open(&v, NULL, "memory:");
	login_engine_set_limits(v.e, 5000, 5000, 5000);
	for (i = 0; i < 200000; i++) {
		snprintf(ip, sizeof(ip), "%d.%d.%d.1", 1 + (i >> 16),
			 (i >> 8) & 255, i & 255);
		snprintf(login, sizeof(login), "m%d@example.jp", i);
		ev(v.e, LOGIN_BEFORE, login, ip, NULL, false, false,
		   T0 + i / 100, &vd);
		ev(v.e, LOGIN_REPORT, login, ip, NULL, false, false,
		   T0 + i / 100, &vd);
	}
	ok(stat2(v.e, "addresses_tracked", NULL) <= 5000,
	   "bounded: addresses tracked %lld <= 5000",
	   stat2(v.e, "addresses_tracked", NULL));
	ok(stat2(v.e, "networks_tracked", NULL) <= 5000,
	   "bounded: networks tracked %lld <= 5000",
	   stat2(v.e, "networks_tracked", NULL));
	ok(stat2(v.e, "accounts_tracked", NULL) <= 5000,
	   "bounded: accounts tracked %lld <= 5000",
	   stat2(v.e, "accounts_tracked", NULL));
	ok(stat2(v.e, "evicted", "addresses") == 195000 &&
	   stat2(v.e, "evicted", "networks") == 195000,
	   "bounded: the least recently seen were evicted (%lld)",
	   stat2(v.e, "evicted", "addresses"));
	is_int(stat2(v.e, "events", "report"), 200000, "stats: reports");
	env_close(&v);
}


/*
 * Brute force from a shared address (an office NAT where five colleagues
 * log in): the (address, account) pair is blocked, the colleagues and the
 * account from elsewhere are not.
 */

int main(void)
{
	log_setup("test-login-state", false,
		  getenv("TEST_LOG") ? LOG_L_WARN : LOG_L_ERR);
	T0 = (int64_t)time(NULL);
	test_new_network();
	test_new_country();
	test_credentials();
	test_stages();
	test_persistence();
	test_escalation();
	test_csv_quoting();
	test_bounded();
	return tap_done();
}
