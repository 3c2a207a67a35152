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
	SIG__COUNT
};

struct outbound_eval {
	int score;
	unsigned fired;			/* bit per enum outbound_signal */
	char detail[SIG__COUNT][128];	/* "msgs_per_minute=31>30" ... */
};

/*
 * Evaluate the account at now.  extra_msgs is added to the message counts
 * before checking limits (1 at RCPT: "would this message exceed?", 0 at
 * END-OF-MESSAGE after counting).  new_network says whether the established
 * account used a client network it never used before, within the last hour.
 */
void outbound_evaluate(const struct acct *a, const struct class_config *cl,
		       uint32_t now, uint32_t extra_msgs, bool new_network,
		       struct outbound_eval *ev);

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

#endif
