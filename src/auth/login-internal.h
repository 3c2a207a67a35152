/*
 * login-internal - what the login engine's files share; not for callers.
 *
 * login_tab.c      bounded LRU hash tables, sliding windows, distinct-item
 *                  sets, addresses and CIDR ranges
 * login.c          the engine: life cycle, the tick, statistics
 * login_decide.c   the three stages, brute force, distributed guessing
 * login_acct.c     accounts: habitual networks and countries, password
 *                  evidence
 * login_geo.c      the address's country from geoip_db (libmaxminddb)
 * login_judge.c    the rules: metrics, stuffing/spraying/brute force,
 *                  the suspect lists kept before a judgement
 * login_ip.c       address and network states, their persistence, blocks
 * login_incident.c incidents, their accounts, their store I/O
 * login_incident_view.c  the admin's list/show/CSV of them
 * login_fleet.c    the counters every host of a fleet shares (store_count)
 * login_sweep.c    the sweeps: valid pairs let in, listed after the fact
 *
 * Memory: every table is capped and evicts its least recently seen entry
 * (struct lg_tab).  Per entry, roughly: an address 150 bytes, a network 160,
 * an account 190, plus 32 bytes per distinct item each remembers (at most
 * LG_EXACT_MAX, then a 512-byte sketch).  At the default caps of one
 * million each the worst case is about 0.6 GB; a provider with 100,000
 * active accounts uses a few tens of megabytes.
 */
#ifndef MAMORI_LOGIN_INTERNAL_H
#define MAMORI_LOGIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "util/window.h"

#include "auth/login.h"

#define LG_DEFAULT_CAP 1000000	/* addresses, networks, accounts each */
#define LG_STATE_CAP 262144	/* address and network states */
#define LG_PEND_CAP 65536	/* logins between allow and report */
#define LG_EXACT_MAX 64		/* exact items per set, then a sketch */
#define LG_SKETCH_WORDS 16	/* 1,024 bits per sketch bucket */
#define LG_HABITUAL 4		/* habitual networks per account */
#define LG_COUNTRIES 3		/* habitual countries per account */
#define LG_SUSPECT_MIN 4	/* a network keeps a suspect list from here */
#define LG_SUSPECT_MAX 10000	/* per network, and listed per incident */
#define LG_SUSPECT_BUDGET 1000000	/* suspect entries, all networks */
#define LG_INCIDENTS_MAX 10000	/* incidents kept in memory */
#define LG_INC_ADDRS 256	/* addresses named per incident */
#define LG_INC_NETS 64		/* networks named per incident */
#define LG_TICK 5		/* seconds between flushes and sweeps */
#define LG_ABUSED_TTL (90 * 86400)	/* abuse-time password evidence */
#define LG_RETURN_GAP 60	/* an account back after this is returning */
#define LG_CAMP_RING 1024	/* campaign addresses kept for a late verdict */
#define LG_SWEEP_RING 4096	/* first-seen multi-account addresses kept for
				 * the campaign sweep (16 bytes each: 64 KB) */
#define LG_SWEEP_QUIET 900	/* silence before an all-success address is
				 * swept (mail clients poll within this) */
#define LG_SWEEP_EVERY 60	/* seconds between campaign sweeps */
#define LG_DSWEEP_RING 1024	/* right guesses kept for the distributed
				 * sweep (32 bytes each: 32 KB) */

/* ---- login_tab.c ---------------------------------------------------- */

/* An address in IPv6 form; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d). */
struct lg_ip {
	uint8_t b[16];
};

/* A hash-table node; embedded first in every table entry. */
struct lg_node {
	struct lg_node *hnext;
	struct lg_node *prev, *next;	/* LRU list, most recent first */
	uint64_t h;
};

typedef bool lg_eq_fn(const struct lg_node *n, const void *key);
typedef void lg_drop_fn(struct lg_node *n, void *arg);

/*
 * A chained hash table with an LRU list and a cap: inserting into a full
 * table drops the least recently touched entry through drop().
 */
struct lg_tab {
	struct lg_node **b;
	size_t nb, n, max;
	struct lg_node lru;		/* sentinel */
	lg_drop_fn *drop;
	void *arg;
	uint64_t evicted;
};


#define LG_DENT_NEW 0x01	/* the network was new for this login */
#define LG_DENT_OK 0x02		/* a successful login */
#define LG_DENT_OPAQUE 0x04	/* a wrong password without a usable hash */
#define LG_DENT_RET 0x08	/* came back after LG_RETURN_GAP: a client */
#define LG_DENT_PAIR 0x10	/* account sets: the (address, account) pair
				 * is blocked (brute force from a shared
				 * address) */
#define LG_DENT_LISTED 0x20	/* address sets: put into an incident by
				 * lg_addr_migrate */

/* One item of a distinct set. */
struct lg_dent {
	uint64_t h;
	uint64_t aux;		/* account sets: wrong-password bits;
				 * network sets: hash of the last address */
	uint32_t first;		/* start of this entry's counting period */
	uint32_t last;
	uint16_t n;		/* attempts in the period */
	uint16_t fails;
	uint8_t flags;
	uint8_t fl_fails, fl_wrong;	/* account sets: the pair's failures
					 * and wrong passwords as the fleet
					 * counted them (login_fleet.c),
					 * saturating */
};

/* Linear-counting bitmaps for items past LG_EXACT_MAX: [bucket][all, new]. */
struct lg_sketch {
	uint32_t idx;
	uint64_t bits[2][2][LG_SKETCH_WORDS];
};

/* Distinct items within a window: exact up to LG_EXACT_MAX, then sketch. */
struct lg_dset {
	struct lg_dent *e;
	uint16_t n, cap;
	struct lg_sketch *sk;
};

struct lg_cidr {
	struct lg_ip ip;
	uint8_t len;		/* 0..128 over the IPv6 form */
};

uint64_t lg_hash(const void *p, size_t n);
uint64_t lg_hash_str(const char *s);

void lg_tab_init(struct lg_tab *t, size_t max, lg_drop_fn *drop, void *arg);
void lg_tab_deinit(struct lg_tab *t);
struct lg_node *lg_tab_find(struct lg_tab *t, uint64_t h, lg_eq_fn *eq,
			    const void *key);
/* Insert n (h set); may evict the least recent entry first. */
void lg_tab_insert(struct lg_tab *t, struct lg_node *n);
void lg_tab_touch(struct lg_tab *t, struct lg_node *n);
/* Unlink n without dropping it. */
void lg_tab_remove(struct lg_tab *t, struct lg_node *n);
/* Visit every entry; fn may remove (and free) the entry it is given. */
void lg_tab_foreach(struct lg_tab *t,
		    void (*fn)(struct lg_node *n, void *arg), void *arg);


/*
 * Count item h at now.  Returns its exact entry, or NULL when it went to
 * the sketch.  *fresh tells whether it is the item's first sighting in
 * the window; a fresh item gets fresh_flags (LG_DENT_NEW goes to the
 * sketch's second bitmap too).
 */
struct lg_dent *lg_dset_touch(struct lg_dset *s, uint64_t h, uint32_t now,
			      uint32_t window, uint8_t fresh_flags,
			      bool *fresh);
/* The live exact entry of h, or NULL. */
struct lg_dent *lg_dset_find(const struct lg_dset *s, uint64_t h,
			     uint32_t now, uint32_t window);
void lg_dset_count(const struct lg_dset *s, uint32_t now, uint32_t window,
		   uint32_t *all, uint32_t *fresh_new);
void lg_dset_free(struct lg_dset *s);

bool lg_ip_parse(const char *s, struct lg_ip *out);
/* "addr" (len 128) or "addr/bits"; host bits are cleared. */
bool lg_cidr_parse(const char *s, struct lg_ip *out, int *len);
void lg_ip_mask(struct lg_ip *ip, int len);
bool lg_ip_in(const struct lg_ip *ip, const struct lg_ip *net, int len);
bool lg_ip_is_v4(const struct lg_ip *ip);
/* "192.0.2.1", "192.0.2.0/24", "2001:db8::/64". */
void lg_cidr_format(const struct lg_ip *ip, int len, char *out, size_t n);
/* The /24 (IPv4) or /64 (IPv6) of ip: its id, and its prefix length. */
uint64_t lg_net_id(const struct lg_ip *ip);
int lg_net_len(const struct lg_ip *ip);
/* Parse a comma/space separated CIDR list; bad items are logged, skipped. */
size_t lg_cidr_list_parse(const char *list, struct lg_cidr **out);

/* ---- login.c -------------------------------------------------------- */

/* An address's or network's counts as the fleet answered them at "at"
 * (login_fleet.c); 0 at: none. */
struct lg_fleet {
	uint32_t at, att, fails, distinct, distinct_new;
};

/* Counters kept per address and per network. */
struct lg_ctr {
	struct window att, fail, ok;
	struct lg_dset logins;
	uint32_t first, last;	/* this activity episode */
	struct lg_fleet fl;
};

struct lg_addr {
	struct lg_node node;
	struct lg_ip ip;
	struct lg_ctr c;
	uint32_t born;			/* first seen (since the engine ran) */
	uint32_t camp_report;		/* the last report counted in the
					 * campaign windows (lg_judge) */
	uint8_t camp;			/* LG_CAMP_* */
};

#define LG_CAMP_COUNTED 0x01	/* counted in the campaign window */
#define LG_CAMP_JUDGED 0x02	/* its tried accounts went to an incident */
#define LG_CAMP_MULTI 0x04	/* counted among first-seen addresses with
				 * two accounts or more */
#define LG_CAMP_SWEPT 0x08	/* listed by the campaign sweep */
#define LG_CAMP_EARLY 0x10	/* listed early, abroad (lg_campaign_early) */

struct lg_sus;

struct lg_net {
	struct lg_node node;
	uint64_t id;
	struct lg_ip prefix;
	uint8_t len;
	struct lg_ctr c;
	struct lg_sus *sus;		/* NULL until suspicious */
};

struct lg_hnet {
	uint64_t id;
	uint32_t last;
};

struct lg_acct {
	struct lg_node node;
	struct window fail;
	struct lg_dset badips;		/* failing addresses */
	struct lg_hnet nets[LG_HABITUAL];
	uint16_t cc[LG_COUNTRIES];	/* habitual countries (lg_cc_pack),
					 * most recent first; 0 = none */
	uint16_t fresh_cc;		/* country learnt at an after-check */
	uint64_t pwh, pwv;		/* last correct pwhash, pwversion */
	uint64_t fresh_net;		/* learnt at an after-check ... */
	uint32_t fresh_at;		/* ... so not habitual for its report */
	bool fresh_new;			/* ... and new: it had other networks */
	uint32_t fl_at;			/* the fleet's failures and failing */
	uint16_t fl_fails, fl_ips;	/* addresses at fl_at (login_fleet.c) */
	char login[];
};

/* Password evidence kept from the time of an abuse (login_note_abused). */
struct lg_abused {
	struct lg_node node;
	uint64_t pwh, pwv;		/* 0 = unknown */
	uint32_t since;
	char login[];
};

enum lg_kind {
	LG_NONE,		/* expired, kept to escalate recurrences */
	LG_STUFFING,
	LG_BLOCKED,
};

struct lg_state {
	struct lg_node node;
	struct lg_ip ip;
	uint8_t len;
	uint8_t kind;			/* enum lg_kind */
	uint8_t level;			/* recurrences: duration doubles */
	bool manual;
	uint32_t since, until;
	uint32_t wrong;			/* last wrong password from it while in
					 * force (0: none) */
	uint32_t forget;		/* LG_NONE: drop the history then */
	char rule[16];
	char incident[40];
	char *reason;
	char *actor;
};

struct lg_iacct {
	char *login;
	uint32_t tried, first, last;
	uint8_t valid, dirty;
	char proto[16];
};

struct lg_incident {
	char id[40];
	char rule[16];
	char *reason;
	uint32_t first, last;
	char **addrs;
	char **nets;
	uint16_t naddrs, nnets;
	uint32_t more_addrs;
	uint32_t tried, valid, listed;
	uint32_t nstates;		/* live states naming it */
	bool open, dirty;
	struct lg_iacct **tab;		/* open addressing by login */
	size_t cap, n;
};

struct lg_stats {
	uint64_t stage[3];
	uint64_t action[3];
	uint64_t unparsable;
	uint64_t allowlisted;
	uint64_t judged;
	uint64_t bruteforce_blocks;
	uint64_t escalations;
	uint64_t compromised;
	uint64_t new_network;
	uint64_t new_country;
	uint64_t credential_changed;
	uint64_t expired;
	uint64_t suspect_dropped;
	uint64_t incident_accts_unlisted;
	uint64_t pair_blocks;
	uint64_t campaign_addrs;
	uint64_t fleet_sent, fleet_failures, fleet_judged, fleet_skipped;
};

/* A stored allowlist entry (login_allow.c). */
struct lg_allow {
	struct lg_cidr c;
	uint32_t since, until;		/* until 0: no end */
	char *reason, *actor;
};

#define LG_ALLOW_MAX 1024	/* stored allowlist entries (login_allow.c) */

struct login_engine {
	const struct config *cfg;
	struct store *st;
	struct lg_cidr *allow;
	size_t nallow;
	struct lg_allow *sallow;	/* stored allowlist (login_allow.c) */
	size_t nsallow;
	struct lg_geo *geo;		/* geoip_db, NULL = off */
	struct lg_tab addrs, nets, accts, abused, states, pend;
	uint32_t nlen[129];		/* states per prefix length */
	struct lg_incident **inc;	/* oldest first */
	size_t ninc, capinc;
	uint32_t seq_day, seq;
	struct lg_iacct_ref {
		struct lg_incident *inc;
		struct lg_iacct *a;
	} *dirty;
	size_t ndirty, capdirty;
	char **comp;			/* newly compromised, not yet taken */
	size_t ncomp, capcomp;
	size_t sus_total;
	uint32_t last_tick;
	/* Rotating-address campaigns (login_judge.c): list-like first-seen
	 * addresses in the window, the last LG_CAMP_RING of them, and the
	 * campaign's open incident. */
	struct window camp, camp_fail;	/* addresses; their failing
					 * accounts */
	struct window camp_multi;	/* first-seen addresses with two
					 * accounts or more */
	struct lg_ip camp_ring[LG_CAMP_RING];
	uint32_t camp_next, camp_n;
	char camp_inc[40];
	/* The campaign sweep (login_sweep.c): when a campaign was live, and
	 * the last LG_SWEEP_RING first-seen addresses with two accounts or
	 * more, whatever their outcomes. */
	uint32_t camp_first, camp_last, sweep_last;
	struct lg_ip sweep_ring[LG_SWEEP_RING];
	uint32_t sweep_next, sweep_n;
	/* Fleet counts (login_fleet.c): calls waiting for their answer, and
	 * the last failure to get one (0: none since the last answer). */
	struct lg_fcall *fcalls;
	size_t nfcalls;
	uint32_t fleet_down_at, fleet_logged_at;
	uint32_t reports;		/* the last report's id (never 0) */
	/* The distributed sweep (login_sweep.c): correct first attempts on
	 * accounts other addresses were failing on. */
	struct lg_dsw {
		struct lg_ip ip;
		uint64_t acct;		/* the account's node hash */
		uint32_t t;		/* the login; 0 = free */
	} dsweep[LG_DSWEEP_RING];
	uint32_t dsweep_next, dsweep_last;
	struct lg_stats stats;
};

uint32_t lg_now(int64_t now);
/* Flush batched writes, expire states and sweep, every LG_TICK seconds
 * (login_decide and login_engine_tick call it). */
void lg_tick(struct login_engine *e, uint32_t now);
/* Does mech give a meaningful pwhash (PLAIN, LOGIN, unknown)? */
bool lg_mech_hashable(const char *mech);
/* Store writes; failures are logged.  ns must be a string literal (it
 * outlives a networked store's late callback). */
void lg_put(struct login_engine *e, const char *ns, const char *key,
	    const char *value, int64_t expires);
void lg_del(struct login_engine *e, const char *ns, const char *key);
/* json_string that survives invalid UTF-8. */
json_t *lg_jstr(const char *s);

/* ---- login_acct.c --------------------------------------------------- */

struct lg_acct *lg_acct_get(struct login_engine *e, const char *login,
			    bool create);
void lg_acct_drop(struct lg_node *n, void *arg);
bool lg_acct_habitual(const struct lg_acct *a, uint64_t net);
bool lg_acct_has_habitual(const struct lg_acct *a);
/* Make net habitual (replacing the least recently used one). */
void lg_acct_learn(struct lg_acct *a, uint64_t net, uint32_t now);
void lg_acct_forget(struct lg_acct *a, uint64_t net);
bool lg_acct_has_country(const struct lg_acct *a, uint16_t cc);
/* Make cc the most recent habitual country (dropping the oldest); true if
 * it was not habitual. */
bool lg_acct_learn_country(struct lg_acct *a, uint16_t cc);
void lg_acct_forget_country(struct lg_acct *a, uint16_t cc);
/* The habitual countries as "JP,US" ("-" if none). */
void lg_acct_countries(const struct lg_acct *a, char *out, size_t n);
/* Record abuse-time evidence; 0 hashes keep what is known. */
void lg_abused_set(struct login_engine *e, const char *login, uint64_t pwh,
		   uint64_t pwv, uint32_t now);
void lg_abused_load(struct login_engine *e);
/*
 * A correct password (hashes pwh, pwv; 0 unknown) for login: against the
 * abuse-time evidence, is it a changed one?  Sets v->credential_changed
 * and the reason, once, then forgets the evidence.
 */
bool lg_credential_check(struct login_engine *e, const char *login,
			 uint64_t pwh, uint64_t pwv, struct login_verdict *v);
/* Note login as newly compromised (for login_take_compromised). */
void lg_comp_add(struct login_engine *e, const char *login);

/* ---- login_geo.c ---------------------------------------------------- */

struct lg_geo;

/* Open geoip_db: a .mmdb, or Tor's text format ("tor:PATH", or a file
 * that is all text; PATH6 is read too if it exists); NULL with err
 * ("geoip_db PATH: why" or "geoip_db PATH: line N: why"). */
struct lg_geo *lg_geo_open(const char *path, char *err, size_t errsz);
void lg_geo_free(struct lg_geo *g);
const char *lg_geo_path(const struct lg_geo *g);
/* The country of ip (lg_cc_pack of its ISO 3166 code), 0 if unknown. */
uint16_t lg_geo_country(const struct lg_geo *g, const struct lg_ip *ip);
/* Two letters <-> a code; 0 is no country. */
uint16_t lg_cc_pack(const char *s);
void lg_cc_format(uint16_t cc, char out[3]);

/* ---- login_geotor.c ------------------------------------------------- */

struct lg_geotor;

/* Add the ranges of f (named name in errors) to *tp, made if NULL; 0, or
 * -EINVAL with err "geoip_db NAME: line N: why" (a made table freed). */
int lg_geotor_read(struct lg_geotor **tp, FILE *f, const char *name,
		   char *err, size_t errsz);
/* lg_geotor_read of the file at path; -errno if it cannot be opened. */
int lg_geotor_load(struct lg_geotor **tp, const char *path, char *err,
		   size_t errsz);
/* Is the file's start all text (so not a .mmdb)? */
bool lg_geotor_sniff(const char *path);
/* The country of ip, 0 if no range holds it. */
uint16_t lg_geotor_country(const struct lg_geotor *t, const struct lg_ip *ip);
/* Ranges stored (both families). */
size_t lg_geotor_count(const struct lg_geotor *t);
void lg_geotor_free(struct lg_geotor *t);

/* ---- login_judge.c -------------------------------------------------- */

/* Totals of one address or network within the window. */
struct lg_metrics {
	uint32_t distinct, distinct_new, attempts, fails, oks, span;
	/* From the exact entries (a sample once the set overflows into its
	 * sketch): how many, how many had a success, how many came back. */
	uint32_t sample, ok_accts, returning;
};

void lg_metrics_of(const struct login_engine *e, const struct lg_ctr *c,
		   uint32_t now, struct lg_metrics *m);
/*
 * A report from a normal address was counted: judge ip and its network.
 * report is the report's id: judged again (the fleet's answer), it adds
 * nothing of the report's to the campaign windows a second time.  Fills
 * v's reason/incident when a judgement is made.  Returns true when the
 * address (or its network) entered a state.
 */
bool lg_judge(struct login_engine *e, const struct lg_ip *ip,
	      struct lg_addr *ad, struct lg_net *nt, const char *login,
	      const char *protocol, bool ok, uint32_t report, uint32_t now,
	      struct login_verdict *v);
/*
 * Before the password check from a normal address: a soft delay from the
 * counters?  Writes the reason and returns true.
 */
bool lg_suspect_delay(struct login_engine *e, const struct lg_ip *ip,
		      uint32_t now, char *reason, size_t n);
/* Note one attempt in the network's suspect list (once suspicious). */
void lg_sus_note(struct login_engine *e, struct lg_net *nt,
		 const struct lg_ip *ip, const char *login,
		 const char *protocol, bool ok, bool habitual, uint64_t pwh,
		 uint64_t pwv, uint32_t now);
void lg_sus_free(struct login_engine *e, struct lg_sus *s);
/*
 * Move the suspect entries of address ip (all entries of the network when
 * ip is NULL, except its habitual users) into incident inc; earlier
 * successes become compromised (not current_login: its verdict says so).
 */
void lg_sus_migrate(struct login_engine *e, struct lg_net *nt,
		    const struct lg_ip *ip, struct lg_incident *inc,
		    const char *current_login, uint32_t now);
struct lg_net *lg_net_get(struct login_engine *e, const struct lg_ip *ip,
			  bool create, uint32_t now);
struct lg_addr *lg_addr_get(struct login_engine *e, const struct lg_ip *ip,
			    bool create, uint32_t now);
void lg_ctr_reset(struct lg_ctr *c);
/*
 * Count one reported attempt on account h in c's set of logins: flags
 * (LG_DENT_NEW, LG_DENT_OK), aux kept on the entry; marks an account that
 * comes back after LG_RETURN_GAP as returning.
 */
void lg_ctr_note(struct login_engine *e, struct lg_ctr *c, uint64_t h,
		 uint8_t flags, uint64_t aux, uint32_t now);
/* Move the accounts address ad tried, but those moved before, into
 * incident inc: its valid ones become compromised (but current, whose
 * verdict says so). */
void lg_addr_migrate(struct login_engine *e, struct lg_addr *ad,
		     struct lg_incident *inc, const char *current,
		     const char *protocol, uint32_t now);
/*
 * At the after-check (a correct password for login from ip, not yet
 * counted): does a rotating-address campaign's stuffing playbook apply
 * to ip?  Enters ip's stuffing state (rule "campaign") and returns it,
 * with the reason in v; NULL if not.
 */
struct lg_state *lg_campaign_after(struct login_engine *e,
				   const struct lg_ip *ip, const char *login,
				   const char *protocol, uint32_t now,
				   struct login_verdict *v);

/*
 * (login_decide.c) The fleet answered report (its id) from ip (login_fleet.c
 * merged it into the counts): judge the pair's brute force, and when the
 * fleet is ahead of this host's counts the address and network, as the
 * report would have, on the fleet's numbers without counting the report
 * again; nothing if a state or the allowlist already applies.
 */
void lg_fleet_judge(struct login_engine *e, const struct lg_ip *ip,
		    const char *login, const char *protocol, bool ok,
		    bool ahead, uint32_t report, uint32_t now);

/* Is a rotating-address campaign live (camp_active)? */
bool lg_campaign_active(struct login_engine *e, uint32_t now);
/*
 * The campaign windows grew (a count here, or the fleet's answer): keep
 * its live period, and if it became live (was: it was not) judge the
 * list-like addresses counted before, but ad (NULL: all).
 */
void lg_campaign_raised(struct login_engine *e, bool was,
			const struct lg_addr *ad, uint32_t now);

/* ---- login_fleet.c -------------------------------------------------- */

#define LG_FLEET_INFLIGHT 4096	/* fleet calls without an answer */

/*
 * Count report (its id; not one this engine refused) into the fleet's
 * counters: a failure always, a success only from an address or network
 * failing here or in the fleet's last answer (the fast path: clean logins
 * cost no round trip).  pwhash NULL: no usable one.  Nothing with a store
 * of one host.
 */
void lg_fleet_report(struct login_engine *e, const struct lg_ip *ip,
		     const char *login, const char *protocol,
		     const char *pwhash, bool ok, bool is_new,
		     uint32_t report, uint32_t now);
/*
 * A campaign count (login_judge.c): ip was counted among the list-like
 * first-seen addresses with never_ok accounts that never logged in, or
 * (multi) among the first-seen ones with two accounts or more.  The
 * fleet's answer raises the campaign windows and may start the campaign.
 */
void lg_fleet_campaign(struct login_engine *e, const struct lg_ip *ip,
		       uint32_t never_ok, bool multi, uint32_t now);
/* Raise m to the fleet's counts of c, if fresh. */
void lg_fleet_merge(const struct login_engine *e, const struct lg_ctr *c,
		    uint32_t now, struct lg_metrics *m);
/* The failing addresses of a: local, or the fleet's if more and fresh. */
uint32_t lg_fleet_failing_ips(const struct login_engine *e,
			      const struct lg_acct *a, uint32_t local,
			      uint32_t now);
/*
 * The fleet's counts cannot be had (the store is down) and
 * store_failure_action is defer: delay an address that failed here
 * within the window.  Writes the reason and returns true.
 */
bool lg_fleet_outage_delay(struct login_engine *e, const struct lg_ip *ip,
			   uint32_t now, char *reason, size_t n);
/* Forget the fleet's counts behind ip/len (an unblock). */
void lg_fleet_unblock(struct login_engine *e, const struct lg_ip *ip,
		      int len, uint32_t now);
/* Leave the unanswered calls to free themselves. */
void lg_fleet_free(struct login_engine *e);
/* ---- login_sweep.c -------------------------------------------------- */

/*
 * The campaign sweep, every LG_SWEEP_EVERY seconds from the engine's tick:
 * while or after a campaign was live, a first-seen address that tried two
 * accounts or more within its window, one at least successfully, each
 * once, none returning, in one session, and then fell silent for
 * LG_SWEEP_QUIET (not inside home_countries; abroad at once), is the part
 * of the campaign whose pairs were all valid: its accounts go into the
 * campaign's incident as entered (the address is not blocked).
 */
void lg_campaign_sweep(struct login_engine *e, uint32_t now);

/*
 * A correct login for account a from ip, a first-seen address not
 * habitual for a and with no failure of its own on it, while other
 * addresses were failing on a: remember it for lg_dsweep.
 */
void lg_dsweep_note(struct login_engine *e, const struct lg_ip *ip,
		    const struct lg_acct *a, uint32_t now);
/*
 * The distributed sweep, every LG_SWEEP_EVERY seconds from the engine's
 * tick: a remembered login whose address has since tried nothing else,
 * not come back and been silent LG_SWEEP_QUIET, on an account then under
 * distributed guessing (auth_distributed_ips failing addresses), is listed
 * as entered in an incident (rule "distributed"; the address is not
 * blocked).
 */
void lg_dsweep(struct login_engine *e, uint32_t now);
/*
 * A correct login from first-seen address ad, judged by no rule:
 * while a campaign is live, an address outside home_countries (geoip_db
 * and home_countries set) that logged into two accounts or more, each
 * once, none returning, in one session, is the campaign's all-valid part
 * at once: its accounts go into the campaign's incident as entered (not
 * refused), and so does each account it logs into after (protocol "": a
 * sweep's look at ad).
 */
void lg_campaign_early(struct login_engine *e, struct lg_addr *ad,
		       const char *protocol, uint32_t now);
/* Where ad is, with geoip_db and home_countries set: 1 outside
 * home_countries, -1 inside, 0 unknown or not configured.  (Not the
 * accounts' habitual countries: a success has just taught its account
 * this one.) */
int lg_addr_where(struct login_engine *e, const struct lg_addr *ad);
/* Is ad such an address (campaign aside)?  Fills m. */
bool lg_early_like(struct login_engine *e, const struct lg_addr *ad,
		   uint32_t now, struct lg_metrics *m);

/* ---- login_ip.c ----------------------------------------------------- */

#define LG_SKIP_AUTO_NETS 0x01	/* ignore automatic network states */
#define LG_SKIP_AUTO 0x02	/* ignore every automatic state */

/* The strongest live state covering ip (blocked over stuffing), or NULL. */
struct lg_state *lg_state_lookup(struct login_engine *e,
				 const struct lg_ip *ip, uint32_t now,
				 int skip);
/* The live state of exactly ip/len, or NULL. */
struct lg_state *lg_state_get(struct login_engine *e, const struct lg_ip *ip,
			      int len, uint32_t now);
/*
 * Put ip/len into state kind for rule, starting or joining an incident
 * (none for manual blocks).  seconds 0: the escalation default.  Returns
 * the state.
 */
struct lg_state *lg_state_enter(struct login_engine *e,
				const struct lg_ip *ip, int len,
				enum lg_kind kind, const char *rule,
				const char *reason, const char *actor,
				bool manual, long seconds, uint32_t now);
/* Escalate a stuffing state to blocked (same incident, same until). */
void lg_state_escalate(struct login_engine *e, struct lg_state *s,
		       const char *why, uint32_t now);
void lg_state_sweep(struct login_engine *e, uint32_t now);
int lg_states_load(struct login_engine *e, char *err, size_t errsz);
/* Follow the states other hosts sharing the store write (store_watch). */
void lg_states_watch(struct login_engine *e);
void lg_state_drop(struct lg_node *n, void *arg);
const char *lg_kind_name(int kind);
/* In auth_allowlist or the stored allowlist (live at now)? */
bool lg_allowlisted(const struct login_engine *e, const struct lg_ip *ip,
		    uint32_t now);

/* ---- login_allow.c -------------------------------------------------- */

/* Is ip in a stored allowlist entry live at now? */
bool lg_allow_stored(const struct login_engine *e, const struct lg_ip *ip,
		     uint32_t now);
/* Forget entries past their end. */
void lg_allow_sweep(struct login_engine *e, uint32_t now);
/* Load the "allow" namespace at start: 0, or -1 with err. */
int lg_allow_load(struct login_engine *e, char *err, size_t errsz);
/* Follow other hosts' changes (store_watch). */
void lg_allow_watch(struct login_engine *e);
void lg_allow_free(struct login_engine *e);

/* ---- login_incident.c ----------------------------------------------- */

/* The open incident of the network of ip, or a new one. */
struct lg_incident *lg_inc_for(struct login_engine *e, const struct lg_ip *ip,
			       int len, const char *rule, const char *reason,
			       uint32_t now);
struct lg_incident *lg_inc_find(struct login_engine *e, const char *id);
/* lg_inc_find, or with a shared store the incident another host opened,
 * fetched from the store (a blocking read: not for the hot path). */
struct lg_incident *lg_inc_join(struct login_engine *e, const char *id);
/* One attempt on login within the incident (valid: the password was
 * right).  Valid accounts are written at once, the rest batched. */
void lg_inc_note(struct login_engine *e, struct lg_incident *inc,
		 const char *login, const char *protocol, uint32_t tries,
		 bool valid, uint32_t first, uint32_t now);
void lg_inc_close(struct login_engine *e, struct lg_incident *inc,
		  uint32_t now);
void lg_inc_save(struct login_engine *e, struct lg_incident *inc);
void lg_inc_flush(struct login_engine *e);
int lg_incidents_load(struct login_engine *e, char *err, size_t errsz);
void lg_incidents_free(struct login_engine *e);

#endif
