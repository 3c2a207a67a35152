/*
 * acct - per-account outbound counters, kept compact in memory.
 *
 * One struct acct per SASL login that has sent mail.  It holds approximate
 * sliding windows (minute, hour, day) for messages and internal/external
 * recipients, an hourly baseline, the client networks seen recently and
 * habitually, a distinct-recipient-domain sketch and the account's state.
 * It is small on purpose (see bench/account-memory.c: the goal is <= 256
 * bytes per tracked account including the table) so a provider with a
 * million accounts keeps them all in RAM and never reads the store on the
 * hot path.  Rarely needed detail (sample client IPs and recipient domains
 * for evidence) lives in struct acct_detail, allocated only for accounts
 * that raise a signal.
 *
 * Sliding windows are the two-bucket approximation of util/window.h.
 */
#ifndef MAMORI_ACCT_H
#define MAMORI_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/window.h"

enum acct_state {
	ACCT_NORMAL,
	ACCT_THROTTLED,
	ACCT_RESTRICTED,
	ACCT_PROBATION,
	ACCT_SUSPENDED,
};

enum acct_win {
	W_MSG_MIN,	/* messages, 60 s */
	W_MSG_HOUR,	/* messages, 3600 s */
	W_EXT_HOUR,	/* external recipients, 3600 s */
	W_INT_HOUR,	/* internal recipients, 3600 s */
	W_RCPT_DAY,	/* all recipients, 86400 s */
	W__COUNT
};

#define ACCT_RECENT_NETS 4
#define ACCT_KNOWN_NETS 4
#define ACCT_DETAIL_N 6
#define ACCT_RECENT_CC 3
#define ACCT_KNOWN_CC 2
#define ACCT_THREAD_TIMES 3

/* What the newest client country is to the account (outbound.h). */
enum acct_cc_odd {
	ACCT_CC_OK,		/* home, habitual, or nothing to compare */
	ACCT_CC_NOT_HOME,	/* outside home_countries and the habit */
	ACCT_CC_UNUSED,		/* no home_countries: the habit lacks it */
};


/*
 * flags bits this module sets (the core's own bits are the low ones, see
 * core-internal.h): the share of new recipients has been learnt.
 */
#define ACCT_F_RCPT_HABIT 0x80

/* A two-bucket window (util/window.h) with 16-bit counts: 8 bytes. */
struct acct_win16 {
	uint32_t idx;
	uint16_t cur, prev;
};

struct acct_net {
	uint32_t id;		/* IPv4 /24 network, or a hash of an IPv6 /48 */
	uint32_t last;		/* unix time last seen */
};

/* Evidence samples, allocated only once an account is interesting. */
struct acct_detail {
	char ips[ACCT_DETAIL_N][46];
	char domains[ACCT_DETAIL_N][64];
	char senders[ACCT_DETAIL_N][64];
	char reason[256];		/* why the last transition happened */
	uint8_t nips, ndomains, nsenders;
};

struct acct {
	uint32_t hash;
	uint8_t state;			/* enum acct_state */
	uint8_t strikes;
	uint8_t pending;		/* a state write is in flight */
	uint8_t flags;
	uint32_t first_seen;
	uint32_t state_since;
	uint32_t state_until;		/* throttle or probation end; 0 none */
	uint32_t last_strike;
	uint32_t cred_changed;		/* time of the last credential change */
	uint32_t throttled_msgs;	/* messages refused while throttled */
	uint32_t last_refused_instance;	/* hash, to count messages not rcpts */
	struct window win[W__COUNT];
	float baseline;			/* habitual peak messages per hour */
	uint16_t mismatch_hour;		/* messages with a foreign sender */
	uint16_t score;			/* last computed score */
	uint32_t domains_idx;		/* hour bucket of the domain sketch */
	uint32_t last_seen;		/* last created/found with a time (fills
					 * the padding before domains) */
	uint64_t domains;		/* linear-counting bitmap of rcpt domains */
	struct acct_net recent[ACCT_RECENT_NETS];
	uint32_t known[ACCT_KNOWN_NETS];
	uint32_t login_risk_until;	/* a risky login raised the score until */
	uint32_t newnet_until;		/* an unseen network was used; risk until */
	struct acct_win16 rcpt_min;	/* all recipients, 60 s */
	uint64_t rcpts[2];		/* Bloom filter of correspondents */
	uint16_t rcpt_hour;		/* recipients seen at RCPT this hour */
	uint16_t newrcpt_hour;		/* recipients not in rcpts, this hour */
	uint16_t unowned_hour;		/* messages as an unhosted domain */
	uint8_t newnet_weight;		/* how unusual the unseen network was */
	uint8_t novelty;		/* habitual share of new rcpts, /255;
					 * learnt once ACCT_F_RCPT_HABIT */
	/* Client countries (geoip_db or the request's test hook): */
	uint16_t cc_recent[ACCT_RECENT_CC];	/* newest first, 0 = none */
	uint16_t cc_min[ACCT_RECENT_CC];	/* last use, minutes mod 2^16 */
	uint16_t cc_known[ACCT_KNOWN_CC];	/* habitual (clean messages) */
	uint16_t foreign_level;		/* leaky count of messages from a
					 * foreign country, x16 */
	uint16_t foreign_min;		/* its last update, minutes mod 2^16 */
	uint8_t cc_odd;			/* newest country: enum acct_cc_odd */
	/* Content facts from the milter (O8), this hour and the one before
	 * (a slow sender's run spans a clock hour); laid out to fill the
	 * padding (struct acct stays 256 bytes): */
	uint8_t thread_min[ACCT_THREAD_TIMES];	/* the first risky reply
					 * into each of the newest distinct
					 * threads, newest first: minute + 1
					 * since the previous clock hour
					 * began (1-120); 0 none */
	uint32_t threads_hour;		/* bit per thread (hash mod 32) of
					 * replies carrying risky attachments */
	uint32_t threads_prev;
	uint8_t shaped_hour;		/* malware-shaped messages */
	uint8_t shaped_prev;
	uint16_t ppap_day;		/* content habit: a day (unix days)
					 * before today on which it held:
					 * an encrypted archive with its
					 * password inline to known
					 * correspondents, cleanly; 0 none */
	uint32_t fleet_at;		/* windows last read from the fleet
					 * (core fleet.c); 0 never */
	struct acct_detail *detail;
	char login[];
};

struct acct_table;

struct acct_table *acct_table_new(void);
/* Frees every account. NULL is a no-op. */
void acct_table_free(struct acct_table *t);
/*
 * Find an account; create it (first_seen = now) when create is set.  With
 * create, a now later than the account's last_seen becomes its last_seen.
 */
struct acct *acct_table_get(struct acct_table *t, const char *login,
			    bool create, uint32_t now);
/*
 * Take a out of the table and free it (and its detail).  Nothing may hold
 * a pointer to it any more; a walk in progress may visit an account twice
 * or miss one (slots move), as after a growth.
 */
void acct_table_remove(struct acct_table *t, struct acct *a);
size_t acct_table_count(const struct acct_table *t);
/* Call fn for every account, in no particular order. */
void acct_table_foreach(struct acct_table *t,
			void (*fn)(struct acct *a, void *arg), void *arg);
/*
 * Call fn for the accounts in slots [from, from + nslots), stopping after an
 * account for which fn returns false.  Returns the slot to resume at, or 0
 * once the walk has passed the end of the table.  Resuming after the table
 * grew may visit an account twice or miss one in that walk (slots move); a
 * caller that needs every account uses a flag it clears, and walks again.
 */
size_t acct_table_walk(struct acct_table *t, size_t from, size_t nslots,
		       bool (*fn)(struct acct *a, void *arg), void *arg);
/* Recipients within the last minute (saturating at 65,535). */
void acct_rcpt_min_add(struct acct *a, uint32_t n, uint32_t now);
uint32_t acct_rcpt_min_count(const struct acct *a, uint32_t now);

/* Bytes used by the table itself (slots), for the memory benchmark. */
size_t acct_table_slot_bytes(const struct acct_table *t);

/* Window length in seconds. */
uint32_t acct_win_len(enum acct_win w);
/* Add n to a window at time now. */
void acct_win_add(struct acct *a, enum acct_win w, uint32_t n, uint32_t now);
/* Approximate count over the last window length ending at now. */
uint32_t acct_win_count(const struct acct *a, enum acct_win w, uint32_t now);

/*
 * Roll the hourly baseline forward to now: the finished hour's message count
 * raises the habitual peak, which otherwise decays with the given half-life.
 * Hours spent throttled/restricted are not learned.  Call before counting.
 */
void acct_baseline_roll(struct acct *a, uint32_t now, long halflife);

/*
 * Network id of an address string (IPv4 /24; IPv6 /48, hashed, odd, with
 * a hash of its /32 in the upper 16 bits); false if invalid.
 */
bool acct_net_of(const char *addr, uint32_t *id);
/* Record the client network; returns true if it was never seen before. */
bool acct_net_seen(struct acct *a, uint32_t net, uint32_t now);
/* Distinct networks seen within window seconds before now. */
unsigned acct_net_recent(const struct acct *a, uint32_t now, uint32_t window);
/* Is net one of the account's habitual networks? */
bool acct_net_known(const struct acct *a, uint32_t net);
/* Make net habitual (called when a message from it goes out cleanly). */
void acct_net_learn(struct acct *a, uint32_t net);

/* Distinct /16s (IPv6: /32s) among the networks seen within window. */
unsigned acct_net16_recent(const struct acct *a, uint32_t now,
			   uint32_t window);

/* Record a message from country cc (two letters packed, 0 = unknown). */
void acct_cc_seen(struct acct *a, uint16_t cc, uint32_t now);
/* Distinct countries seen within window seconds of now. */
unsigned acct_cc_recent(const struct acct *a, uint32_t now, uint32_t window);
/* Is cc one of the account's habitual countries? */
bool acct_cc_known(const struct acct *a, uint16_t cc);
/* Make cc habitual (the oldest of ACCT_KNOWN_CC goes). */
void acct_cc_learn(struct acct *a, uint16_t cc);
/* "JP" from a packed code (out: 3 bytes). */
void acct_cc_format(uint16_t cc, char out[3]);
/* Does any habitual network share net's /16 (IPv6: /32)? */
bool acct_net16_known(const struct acct *a, uint32_t net);

/*
 * Start a new hour for the hourly sketches (recipient domains, foreign and
 * unhosted senders, never-written recipients) if now is in a later hour.
 * The finished hour, if the account was normal and wrote to anyone,
 * teaches the habitual share of never-written recipients (an average
 * over about four such hours): a shop writes to new people all the time,
 * a person mostly to the same ones.
 */
void acct_hour_roll(struct acct *a, uint32_t now);
/*
 * A reply carrying risky attachments into thread (a hash of its root
 * Message-ID, not 0) at now: its bit in threads_hour and, when the thread
 * is new within this hour and the one before, its minute in thread_min.
 * Call after acct_hour_roll.
 */
void acct_risky_thread(struct acct *a, uint32_t thread, uint32_t now);
/*
 * Minutes between the first risky replies into the newest and the n-th
 * newest distinct thread (n <= ACCT_THREAD_TIMES), or -1 if fewer than n
 * are known within this hour and the one before.
 */
int acct_threads_span(const struct acct *a, unsigned n);

/*
 * Correspondents: a 128-bit Bloom filter (two hashes) of the lowercased
 * recipient addresses the account wrote to while nothing was wrong.  At
 * 16 correspondents ~5% of new addresses look known, at 40 ~20%; a bulk
 * sender saturates it, and then nothing looks new: the signal is for
 * persons, and errs towards silence.
 */
bool acct_rcpt_known(const struct acct *a, const char *rcpt);
void acct_rcpt_learn(struct acct *a, const char *rcpt);
/* Bits set in the filter: 0 = no correspondents known (cold start). */
unsigned acct_rcpt_bits(const struct acct *a);

/* Add a recipient domain to the hourly distinct-domain sketch. */
void acct_domain_add(struct acct *a, const char *domain, uint32_t now);
/* Estimated distinct recipient domains this hour. */
unsigned acct_domain_count(const struct acct *a, uint32_t now);

/* The evidence detail, allocated on first use. */
struct acct_detail *acct_detail_get(struct acct *a);
/* Evidence samples (allocates detail on first use). */
void acct_detail_add_ip(struct acct *a, const char *ip);
void acct_detail_add_domain(struct acct *a, const char *domain);
void acct_detail_add_sender(struct acct *a, const char *sender);

const char *acct_state_name(enum acct_state s);
int acct_state_parse(const char *s);

/* FNV-1a, used for logins, instances and domains. */
uint32_t acct_hash(const char *s);

#endif
