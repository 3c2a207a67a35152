/*
 * outbound - compromise signals and the score of one account.
 *
 * Pure functions over struct acct and a class: no I/O, no state change
 * beyond what the caller asks.  Each signal a postmaster would recognise is
 * computed with its numbers and weight, so the verdict can say exactly why:
 *
 *   limit           a class limit exceeded (messages/minute or /hour,
 *                   external or internal recipients/hour, recipients/day)
 *   surge           this hour's messages against the account's own habitual
 *                   peak (surge_factor x baseline, never below surge_min_msgs)
 *   multi_ip        many client networks (/24, /48) for one login within
 *                   minutes: a leaked password used from a botnet
 *   new_network     a client network never seen for an established account
 *   rcpt_domains    many distinct external recipient domains this hour
 *   sender_mismatch envelope senders the login does not own
 *   login_risk      a recent login from a new network (login module)
 *   unowned_sender  an envelope sender in a domain the provider does not
 *                   host and sender_map does not give the login (this hour)
 *   rcpt_rate       recipients within the last minute (a Bcc list or a run)
 *   new_rcpts       recipients the account never wrote to, this hour, for
 *                   an account that has correspondents
 *   country         the newest client country (geoip_db, or the request's
 *                   test hook) is outside home_countries and the account's
 *                   habit, or (no home_countries) one the account with a
 *                   country habit never used; for an hour
 *   foreign_volume  foreign_msgs_per_hour messages this hour from such a
 *                   country: a trip abroad is a handful of messages
 *   countries       country_breadth distinct client countries within
 *                   multi_ip_window (a proxy list or a botnet)
 *   malware_content messages this hour (the milter's content facts,
 *                   core_outbound_content) carrying an executable or a
 *                   disguised name, or an encrypted archive with its
 *                   password in the same message: the shape of Emotet's
 *                   and its successors' mail (weight per message, up to 2)
 *   risky_replies   replies carrying encrypted archives, macros or
 *                   executables into risky_reply_threads distinct threads
 *                   this hour
 *
 * multi_ip adds weight_multi_net16 when the networks span multi_net16
 * distinct /16s (far apart: not one carrier pool); new_network weighs an
 * unseen /24 inside a known /16 as weight_new_network_near; surge also
 * fires on a Poisson tail: this hour's messages, at the account's habitual
 * rate, have less than 1/surge_odds chance (needs a habit: baseline > 0).
 *
 * The weights sum into a score compared with the class thresholds.  One
 * signal alone (other than a hard limit) stays below the throttle threshold
 * by default, so a newsletter account (many domains) or a travelling user
 * (new network) is not punished for one unusual trait; a hijack shows
 * several at once.
 */
#ifndef MAMORI_OUTBOUND_H
#define MAMORI_OUTBOUND_H

#include <stdbool.h>
#include <stdint.h>

#include "core/acct.h"
#include "util/buf.h"
#include "util/config.h"

enum outbound_signal {
	SIG_LIMIT,
	SIG_SURGE,
	SIG_MULTI_IP,
	SIG_NEW_NETWORK,
	SIG_RCPT_DOMAINS,
	SIG_SENDER_MISMATCH,
	SIG_LOGIN_RISK,
	SIG_UNOWNED_SENDER,
	SIG_RCPT_RATE,
	SIG_NEW_RCPTS,
	SIG_COUNTRY,
	SIG_FOREIGN_VOLUME,
	SIG_COUNTRIES,
	SIG_MALWARE_CONTENT,
	SIG_RISKY_REPLIES,
	SIG__COUNT
};

struct outbound_eval {
	int score;
	unsigned fired;			/* bit per enum outbound_signal */
	int weight[SIG__COUNT];		/* points of each fired signal */
	char detail[SIG__COUNT][128];	/* "msgs_per_minute=31>30" ... */
	/* malware_content fired for two or more messages of the hour with
	 * risky_replies, surge or new_rcpts: a throttle would only make the
	 * client retry the payload, so the score at the throttle threshold
	 * restricts (core.c escalate). */
	bool content_decisive;
};

/*
 * Evaluate the account at now.  extra_msgs is added to the message counts
 * before checking limits (1 at RCPT: "would this message exceed?", 0 at
 * END-OF-MESSAGE after counting).  new_network says whether the established
 * account used a client network it never used before, within the last hour;
 * its weight is a->newnet_weight (0: weight_new_network).  content: the
 * milter's content facts just arrived (core_outbound_content): only then
 * do malware_content and risky_replies count, so a message's content is
 * judged once, when it is known, and never again at later RCPT and
 * END-OF-MESSAGE requests of the hour.
 */
void outbound_evaluate(const struct acct *a, const struct class_config *cl,
		       uint32_t now, uint32_t extra_msgs, bool new_network,
		       bool content, struct outbound_eval *ev);

/*
 * The content habit: the account sent an encrypted archive with its
 * password in the same message, to correspondents it had written to
 * before, and nothing went wrong, on an earlier day within
 * OUTBOUND_HABIT_DAYS (a->ppap_day; today in unix days).  Then such a
 * message to its correspondents is its PPAP written carelessly, and not
 * counted as malware_content; to anyone else it still is, and every
 * risky reply still counts for risky_replies.  Today's messages never
 * make the habit for today (the malware's first would).
 */
#define OUTBOUND_HABIT_DAYS 90
bool outbound_content_habit(const struct acct *a, uint16_t today);
/* Record a clean message of the habit on day today (the core). */
void outbound_content_learn(struct acct *a, uint16_t today);

/* Append "name(points): detail; ..." for the fired signals to out. */
void outbound_explain(const struct outbound_eval *ev, struct buf *out);

const char *outbound_signal_name(enum outbound_signal s);

/*
 * Does login own the envelope sender?  The null sender and the login's own
 * address or domain count as owned; a bare login owns LOGIN@D for every
 * local domain D.
 */
bool outbound_sender_owned(const char *login, const char *sender,
			   const char *local_domains);

enum outbound_sender_kind {
	OUT_SENDER_OWNED,	/* null, own address/domain, or sender_map */
	OUT_SENDER_LOCAL,	/* another mailbox in a hosted domain */
	OUT_SENDER_UNHOSTED,	/* a domain not in local_domains */
};
struct sendermap;
/*
 * Classify an envelope sender for login: owned (outbound_sender_owned or
 * the map), another address in a hosted domain, or a domain the provider
 * does not host.  map may be NULL.
 */
enum outbound_sender_kind outbound_sender_kind(const char *login,
					       const char *sender,
					       const char *local_domains,
					       const struct sendermap *map);

/*
 * Upper tail of the Poisson distribution, P(X >= k) for mean lambda;
 * exact summation (k is a message count of one hour).
 */
double outbound_poisson_tail(unsigned k, double lambda);

#endif
