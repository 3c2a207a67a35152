/*
 * detsim - the detection evaluation's scenario simulator (see
 * docs/design/detection-eval.md).
 *
 * detsim-scen.c generates, from a seed, one "world": a provider's accounts,
 * a month of benign history (warm mode) and a six-hour evaluation window in
 * which benign traffic and every attack class run at once, as a time-ordered
 * list of events.  Every parameter is drawn from a range (the ranges are in
 * detsim-scen.c and the design page); nothing here knows mamori's
 * thresholds or settings beyond local_domains.  detsim.c drives the events
 * through mamori's core in simulated time (or, with --real, through the
 * wire protocols in real time, detsim-wire.c) and through two baselines on
 * the same traffic: a postfwd with EOP-like limits and a fail2ban-like rule
 * (detsim-base.c).
 *
 * Addresses are IPv4 in ranges that are never routed: carrier pools in
 * 100.64.0.0/10 (RFC 6598), home broadband in 198.18.0.0/15 (RFC 2544),
 * offices and shops in 203.0.113.0/24 and 198.51.100.0/24 (RFC 5737), all
 * "JP"; foreign addresses (botnets, travellers) in 240.0.0.0/4 (RFC 1112
 * reserved), each /16 with its own country (ds_country).  The simulated
 * core gets each message's country through outbound_request.country (the
 * test hook standing in for geoip_db) and the provider configures
 * home_countries = JP; --real sends none (a real front-end has no such
 * field, and the test mamorid has no geoip_db).
 *
 * Single-threaded; a world is owned by its caller (ds_world_free).
 */
#ifndef MAMORI_DETSIM_H
#define MAMORI_DETSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The classes a world holds; the table in detsim-scen.c names them. */
enum ds_class {
	/* outbound attacks: unit = the hijacked account */
	DS_BOTNET,
	DS_LOWSLOW,
	DS_EMOTET,
	DS_UNOWNED,
	DS_LOWMIX,
	/* login attacks: unit = the attack */
	DS_STUFF_BAD,
	DS_STUFF_GOOD,
	DS_ROTATING,
	DS_DISTRIBUTED,
	DS_SPRAY,
	/* benign */
	DS_ORDINARY,
	DS_SHOP,
	DS_OFFICE,
	DS_NEWSLETTER,
	DS_TRAVELLER,
	DS_PHONE,
	DS_NEWCUST,
	DS_OFFICE_NAT,
	DS_CARRIER_NAT,
	DS__NCLASS
};

enum ds_kind { DS_K_OUT_ATTACK, DS_K_LOGIN_ATTACK, DS_K_BENIGN };

struct ds_class_info {
	const char *name;
	enum ds_kind kind;
	const char *target;	/* issue 9's target, for the table */
};

extern const struct ds_class_info ds_classes[DS__NCLASS];

enum ds_type { DS_MSG, DS_LOGIN };

#define DS_F_HISTORY 1u		/* before the evaluation window */
#define DS_F_CORRECT 2u		/* login: the password is right */
#define DS_F_AUTH 4u		/* message: an SMTP AUTH login first */
#define DS_F_ATTACK 8u		/* sent by an attacker */

/* What a message carries (ds_event.content; the milter's content facts,
 * core/core.h OC_*).  Thread: a reply continues the conversation with its
 * first recipient, or with DS_C_NEWTHREAD a thread of its own. */
#define DS_C_REPLY 1u		/* In-Reply-To/References */
#define DS_C_ENC 2u		/* an encrypted archive (zip -e) */
#define DS_C_PW 4u		/* its password in the message */
#define DS_C_MACRO 8u		/* an Office document with macros */
#define DS_C_NEWTHREAD 16u	/* a reply into a thread of its own */

/* One event.  Strings live in the world's arena (ds_str). */
struct ds_event {
	uint32_t t;		/* unix time */
	uint8_t type;		/* enum ds_type */
	uint8_t cls;		/* enum ds_class */
	uint8_t flags;
	uint8_t proto;		/* login: 0 imap, 1 pop3, 2 smtp */
	uint16_t nrcpt;
	uint16_t unit;		/* hijacked account or attack number */
	uint32_t acct;		/* index into accounts */
	uint32_t ip;		/* IPv4, host order */
	uint32_t pw;		/* login: 0 = the account's password, else
				 * a wrong one (same number = same password) */
	uint32_t sender;	/* arena offset */
	uint32_t rcpts;		/* arena offset, nrcpt strings back to back */
	uint32_t seq;		/* generation order, for a stable sort */
	uint8_t content;	/* message: DS_C_* */
};

struct ds_account {
	uint32_t login;		/* arena offset */
	uint8_t cls;		/* the class that uses it, if any */
	bool exists;		/* a mailbox of this provider */
};

struct ds_world {
	uint64_t seed;
	uint32_t t0, t_end;	/* the evaluation window */
	char *arena;
	size_t arena_len, arena_cap;
	struct ds_account *acct;
	size_t nacct, acct_cap;
	struct ds_event *ev;
	size_t nev, ev_cap;
	uint16_t units[DS__NCLASS];	/* hijacked accounts or attacks */
};

/* Profiles: "full" (month of history + 6 h window) or "short" (about
 * 150 s of the fastest classes, for the real-time run). */
enum ds_profile { DS_PROFILE_FULL, DS_PROFILE_SHORT };

/* The provider's domains (local_domains for mamori). */
extern const char ds_local_domains[];

/* Generate the world of seed; abort on allocation failure. */
struct ds_world *ds_world_new(uint64_t seed, enum ds_profile profile);
void ds_world_free(struct ds_world *w);

/* The string at arena offset off. */
static inline const char *ds_str(const struct ds_world *w, uint32_t off)
{
	return w->arena + off;
}

/* The i-th recipient of a message event. */
const char *ds_rcpt(const struct ds_world *w, const struct ds_event *e,
		    unsigned i);

/* The 12-bit truncated password hash Dovecot would send, as 4 hex digits
 * (PROTOCOLS.md), for account login and password number pw; seeded by the
 * world so it is stable within one run. */
void ds_pwhash(const struct ds_world *w, const char *login, uint32_t pw,
	       char out[5]);

/* Dotted quad of ip into out (16 bytes). */
void ds_ip_str(uint32_t ip, char out[16]);

/* The simulator's country of an address ("JP" for the domestic ranges). */
const char *ds_country(uint32_t ip);

/* ---- baselines (detsim-base.c) ---- */

struct ds_postfwd;
struct ds_f2b;

/* postfwd with EOP-like limits: rate(sasl_username/30/60) and
 * rcpt(sasl_username/500/3600) at END-OF-MESSAGE, fixed windows. */
struct ds_postfwd *ds_postfwd_new(size_t naccts);
/* Count one END-OF-MESSAGE; true when postfwd would answer
 * DEFER_IF_PERMIT. */
bool ds_postfwd_eom(struct ds_postfwd *p, uint32_t acct, uint32_t nrcpt,
		    uint32_t now);
void ds_postfwd_free(struct ds_postfwd *p);

/* fail2ban-like: 5 failures in 600 s from one address ban it 600 s. */
struct ds_f2b *ds_f2b_new(void);
bool ds_f2b_banned(struct ds_f2b *f, uint32_t ip, uint32_t now);
void ds_f2b_failure(struct ds_f2b *f, uint32_t ip, uint32_t now);
void ds_f2b_free(struct ds_f2b *f);

/* ---- after mamori learn (detsim-learn.c) ---- */

/*
 * Write w's benign history as a Postfix mail log in a new directory (dir)
 * and run `mamori learn --config conf --store spec` on it (mamori: the CLI
 * binary); spec gets the sqlite store to open.  0, or -1 (dir may exist:
 * call ds_learn_cleanup anyway).
 */
int ds_learn(const struct ds_world *w, const char *mamori, const char *conf,
	     char *dir, size_t dirsz, char *spec, size_t specsz);
/* Remove what ds_learn left in dir ("" : nothing). */
void ds_learn_cleanup(const char *dir);

#endif
