/*
 * outbound - compromise signals and scoring.  See outbound.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/outbound.h"
#include "core/sendermap.h"

static const char *const signal_names[SIG__COUNT] = {
	"limit", "surge", "multi_ip", "new_network", "rcpt_domains",
	"sender_mismatch", "login_risk", "unowned_sender", "rcpt_rate",
	"new_rcpts", "country", "foreign_volume", "countries",
	"malware_content", "risky_replies",
};

const char *outbound_signal_name(enum outbound_signal s)
{
	return (unsigned)s < SIG__COUNT ? signal_names[s] : "unknown";
}

/* Mark a signal fired with its weight and a printf detail. */
__attribute__((format(printf, 4, 5)))
static void fire(struct outbound_eval *ev, enum outbound_signal s, long weight,
		 const char *fmt, ...)
{
	va_list ap;

	if (ev->fired & (1u << s))
		return;
	ev->fired |= 1u << s;
	ev->score += (int)weight;
	ev->weight[s] = (int)weight;
	va_start(ap, fmt);
	vsnprintf(ev->detail[s], sizeof(ev->detail[s]), fmt, ap);
	va_end(ap);
}

/* The first class limit exceeded, as "name=count>limit", or false. */
static bool check_limits(const struct acct *a, const struct class_config *cl,
			 uint32_t now, uint32_t extra, struct outbound_eval *ev)
{
	const struct {
		const char *name;
		enum acct_win w;
		long limit;
		uint32_t extra;
	} lim[] = {
		{"msgs_per_minute", W_MSG_MIN, cl->msgs_per_minute, extra},
		{"msgs_per_hour", W_MSG_HOUR, cl->msgs_per_hour, extra},
		{"ext_rcpts_per_hour", W_EXT_HOUR, cl->ext_rcpts_per_hour, 0},
		{"int_rcpts_per_hour", W_INT_HOUR, cl->int_rcpts_per_hour, 0},
		{"rcpts_per_day", W_RCPT_DAY, cl->rcpts_per_day, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		uint32_t n = acct_win_count(a, lim[i].w, now) + lim[i].extra;

		/* At RCPT a recipient window already at its limit is full. */
		if ((long)n > lim[i].limit ||
		    (extra && !lim[i].extra && (long)n >= lim[i].limit)) {
			fire(ev, SIG_LIMIT, cl->weight_limit, "%s=%u>%ld",
			     lim[i].name, n + (!lim[i].extra && extra),
			     lim[i].limit);
			return true;
		}
	}
	return false;
}

double outbound_poisson_tail(unsigned k, double lambda)
{
	double term, sum = 0;
	unsigned i;

	if (k == 0)
		return 1.0;
	if (lambda <= 0)
		return 0.0;
	/* 1 - P(X < k), summed in the log domain against underflow. */
	for (i = 0; i < k; i++) {
		term = exp((double)i * log(lambda) - lambda - lgamma(i + 1.0));
		sum += term;
	}
	return sum >= 1.0 ? 0.0 : 1.0 - sum;
}

/*
 * Signals that describe one trait count once.  multi_ip, new_network and
 * login_risk all say "the client moved" (a phone on carrier NAT shows all
 * three): only the strongest counts.  rcpt_rate, rcpt_domains and
 * new_rcpts all say "many recipients" (a newsletter shows all three): in
 * an hour of one or two messages (one Bcc list) the strongest counts in
 * full and the others at half; spread over three or more messages they
 * are a list worked through in runs, and all count.  The explanation keeps every
 * signal with the points it added.
 */
static void family(struct outbound_eval *ev, const enum outbound_signal *fam,
		   size_t n, int rest_div)
{
	int sum = 0, max = -1;
	size_t i, best = 0;

	for (i = 0; i < n; i++) {
		if (ev->fired & (1u << fam[i])) {
			sum += ev->weight[fam[i]];
			if (ev->weight[fam[i]] > max) {
				max = ev->weight[fam[i]];
				best = i;
			}
		}
	}
	if (max < 0)
		return;
	ev->score -= sum;
	for (i = 0; i < n; i++) {
		if (!(ev->fired & (1u << fam[i])))
			continue;
		if (i != best)
			ev->weight[fam[i]] = rest_div ?
				ev->weight[fam[i]] / rest_div : 0;
		ev->score += ev->weight[fam[i]];
	}
}

/* Apply the two families above; several: the hour has 3+ messages. */
static void families(struct outbound_eval *ev, bool several)
{
	static const enum outbound_signal net[] = {
		SIG_MULTI_IP, SIG_NEW_NETWORK, SIG_LOGIN_RISK, SIG_COUNTRIES,
	};
	static const enum outbound_signal rcpt[] = {
		SIG_RCPT_RATE, SIG_RCPT_DOMAINS, SIG_NEW_RCPTS,
	};

	family(ev, net, 4, 0);
	family(ev, rcpt, 3, several ? 1 : 2);
}

/* The account's habit says this hour is very unlikely (Poisson). */
static bool poisson_surge(const struct acct *a, const struct class_config *cl,
			  uint32_t hour, double *p)
{
	/* A peak of less than one message an hour is still a person who
	 * sends: judge against at least one. */
	double lambda = a->baseline > 1.0f ? (double)a->baseline : 1.0;

	*p = 1.0;
	if (a->baseline <= 0 || hour < 3)
		return false;
	/* Bursty senders (a shop's campaigns) vary more than Poisson says,
	 * and the baseline is already a peak: a surge is at least double
	 * the peak as well as improbable at it. */
	if ((double)hour < 2.0 * lambda)
		return false;
	*p = outbound_poisson_tail(hour, lambda);
	return *p * (double)cl->surge_odds < 1.0;
}

/*
 * Where the client is.  A provider's customers send from its home
 * countries (and a traveller from one foreign country at a time, a handful
 * of messages); a hijacker's address is abroad and it sends at a machine's
 * pace; a proxy list or a botnet spans countries within minutes.
 */
static void country_signals(const struct acct *a,
			    const struct class_config *cl, uint32_t now,
			    struct outbound_eval *ev)
{
	bool fresh = a->cc_recent[0] &&
		     (uint16_t)((uint16_t)(now / 60) - a->cc_min[0]) < 60;
	unsigned ncc = acct_cc_recent(a, now, (uint32_t)cl->multi_ip_window);
	char cc[3], k0[3], k1[3];

	acct_cc_format(a->cc_recent[0], cc);
	acct_cc_format(a->cc_known[0], k0);
	acct_cc_format(a->cc_known[1], k1);
	if (fresh && a->cc_odd != ACCT_CC_OK)
		fire(ev, SIG_COUNTRY, cl->weight_foreign_country,
		     "client_country=%s %s habit=%s,%s", cc,
		     a->cc_odd == ACCT_CC_NOT_HOME ? "outside home_countries" :
		     "never used by the account", k0, k1);
	if (fresh && a->cc_odd != ACCT_CC_OK &&
	    (long)a->foreign_level >= 16 * cl->foreign_msgs_per_hour)
		fire(ev, SIG_FOREIGN_VOLUME, cl->weight_foreign_volume,
		     "msgs_from_%s~%.1f>=%ld (leaky, per hour)", cc,
		     a->foreign_level / 16.0, cl->foreign_msgs_per_hour);
	if ((long)ncc >= cl->country_breadth)
		fire(ev, SIG_COUNTRIES, cl->weight_country_breadth,
		     "client_countries=%u>=%ld window=%lds", ncc,
		     cl->country_breadth, cl->multi_ip_window);
}

/*
 * What the account's mail carried this hour (the milter's content facts).
 * A person sends an encrypted ZIP now and then (PPAP: the password follows
 * in a second mail); malware mail carries the payload and, so that the
 * recipient can open it, its password in the same message, or an
 * executable outright; Emotet sends it as replies into many threads.
 */
static void content_signals(const struct acct *a,
			    const struct class_config *cl, bool this_hour,
			    struct outbound_eval *ev)
{
	unsigned threads, newest, shaped = a->shaped_hour + a->shaped_prev;
	int span;

	if (!this_hour)
		return;
	if (shaped > 0) {
		unsigned n = shaped > 2 ? 2 : shaped;

		fire(ev, SIG_MALWARE_CONTENT,
		     cl->weight_malware_content * (long)n,
		     "malware_shaped_msgs_2h=%u (executable, or encrypted "
		     "archive with its password in the message)", shaped);
	}
	/* Twice as many threads, twice the weight: a person answers a
	 * handful of conversations with attachments in an hour, Emotet
	 * every thread it stole, at its steady pace.  The clock hours
	 * stretch "an hour" to up to two, so the newest threads (three, or
	 * risky_reply_threads if fewer) must also have begun within 60
	 * minutes of each other; at twice the threads, two hours will do. */
	threads = (unsigned)__builtin_popcount(a->threads_hour |
					       a->threads_prev);
	newest = cl->risky_reply_threads < ACCT_THREAD_TIMES ?
		 (unsigned)cl->risky_reply_threads : ACCT_THREAD_TIMES;
	span = acct_threads_span(a, newest);
	if ((long)threads >= 2 * cl->risky_reply_threads)
		fire(ev, SIG_RISKY_REPLIES, 2 * cl->weight_risky_replies,
		     "threads_2h=%u>=2x%ld (replies with encrypted archives, "
		     "macros or executables)", threads,
		     cl->risky_reply_threads);
	else if ((long)threads >= cl->risky_reply_threads && span >= 0 &&
		 span < 60)
		fire(ev, SIG_RISKY_REPLIES, cl->weight_risky_replies,
		     "threads_2h=%u>=%ld, newest %u within %d min (replies "
		     "with encrypted archives, macros or executables)",
		     threads, cl->risky_reply_threads, newest, span);
}

void outbound_evaluate(const struct acct *a, const struct class_config *cl,
		       uint32_t now, uint32_t extra_msgs, bool new_network,
		       bool content, struct outbound_eval *ev)
{
	uint32_t hour = acct_win_count(a, W_MSG_HOUR, now) + extra_msgs;
	bool this_hour = a->domains_idx == now / 3600;
	unsigned nets, nets16, domains;
	uint32_t rmin, ext;
	double p;

	memset(ev, 0, sizeof(*ev));
	check_limits(a, cl, now, extra_msgs, ev);

	/* A surge is against a habit: an account without one (day one of an
	 * install, a new customer, a shop's first campaign) has none to
	 * break, and its volume is the limits' business. */
	if (a->baseline > 0 && (long)hour >= cl->surge_min_msgs &&
	    hour > (double)cl->surge_factor * a->baseline)
		fire(ev, SIG_SURGE, cl->weight_surge,
		     "msgs_hour=%u baseline=%.1f factor=%ld", hour,
		     (double)a->baseline, cl->surge_factor);
	else if (poisson_surge(a, cl, hour, &p))
		fire(ev, SIG_SURGE, cl->weight_surge,
		     "msgs_hour=%u baseline=%.1f p=%.2g<1/%ld", hour,
		     (double)a->baseline, p, cl->surge_odds);

	/* Many /24s inside one /16 are one carrier's NAT pool or one ISP's
	 * dynamic range: a phone, not a botnet; far apart they weigh more. */
	nets = acct_net_recent(a, now, (uint32_t)cl->multi_ip_window);
	nets16 = acct_net16_recent(a, now, (uint32_t)cl->multi_ip_window);
	if ((long)nets >= cl->multi_ip_networks)
		fire(ev, SIG_MULTI_IP, nets16 < 2 ? cl->weight_new_network_near :
		     cl->weight_multi_ip + ((long)nets16 >= cl->multi_net16 ?
					    cl->weight_multi_net16 : 0),
		     "networks=%u net16=%u window=%lds", nets, nets16,
		     cl->multi_ip_window);

	if (new_network)
		fire(ev, SIG_NEW_NETWORK, a->newnet_weight ?
		     (long)a->newnet_weight : cl->weight_new_network,
		     "unseen client network %s in the last hour, account_age=%lud",
		     a->newnet_weight && (long)a->newnet_weight ==
		     cl->weight_new_network_near ? "(known /16)" : "(new /16)",
		     (unsigned long)(now - a->first_seen) / 86400);

	/*
	 * Spread over several messages (one Bcc list is a newsletter), with
	 * several recipients a message (order and notification mail goes one
	 * recipient a message; a spam run packs a list), and beyond the
	 * account's own habitual hourly peak (a shop writes to new customers
	 * at many domains every hour it works).
	 */
	domains = acct_domain_count(a, now);
	ext = acct_win_count(a, W_EXT_HOUR, now);
	if ((long)domains >= cl->rcpt_domains_per_hour && hour >= 2 &&
	    ext >= 2 * hour && (double)domains > a->baseline)
		fire(ev, SIG_RCPT_DOMAINS, cl->weight_rcpt_domains,
		     "domains_hour~%u>=%ld msgs_hour=%u", domains,
		     cl->rcpt_domains_per_hour, hour);

	/* Mostly foreign senders, not one forwarded bounce address. */
	if (this_hour && a->mismatch_hour >= 3 &&
	    (uint32_t)a->mismatch_hour * 2 > hour)
		fire(ev, SIG_SENDER_MISMATCH, cl->weight_sender_mismatch,
		     "foreign_senders=%u of msgs_hour=%u", a->mismatch_hour,
		     hour);

	if (a->login_risk_until > now)
		fire(ev, SIG_LOGIN_RISK, cl->weight_login_risk,
		     "risky_login_until=%u", a->login_risk_until);

	if (this_hour && a->unowned_hour > 0)
		fire(ev, SIG_UNOWNED_SENDER, cl->weight_unowned_sender,
		     "unhosted_sender_msgs_hour=%u", a->unowned_hour);

	rmin = acct_rcpt_min_count(a, now);
	if ((long)rmin >= cl->rcpt_rate_per_minute)
		fire(ev, SIG_RCPT_RATE, cl->weight_rcpt_rate,
		     "rcpts_minute=%u>=%ld", rmin, cl->rcpt_rate_per_minute);

	/* Against the account's habit: only one with correspondents (about
	 * four or more known) and an hour of history in which most of its
	 * recipients were known can write "to someone new"; a new customer
	 * has none, a shop writes to new customers as a rule.  And a larger
	 * share of this hour's recipients than its habit: a bulk sender's
	 * filter fills up, its few "new" ones are the filter's errors. */
	if (this_hour && acct_rcpt_bits(a) >= 8 && (a->flags & ACCT_F_RCPT_HABIT) &&
	    a->novelty < 128 &&
	    (long)a->newrcpt_hour >= cl->new_rcpts_per_hour &&
	    (uint32_t)a->newrcpt_hour * 255u >
	    (uint32_t)a->novelty * a->rcpt_hour)
		fire(ev, SIG_NEW_RCPTS, cl->weight_new_rcpts,
		     "never_written_rcpts_hour=%u>=%ld known_bits=%u habit=%u%%",
		     a->newrcpt_hour, cl->new_rcpts_per_hour,
		     acct_rcpt_bits(a), a->novelty * 100u / 255u);
	country_signals(a, cl, now, ev);
	if (content)
		content_signals(a, cl, this_hour, ev);
	families(ev, hour >= 3);
	/* Two malware-shaped messages and a trait of Emotet's way of sending
	 * (replies into many threads, a pace beyond the habit, recipients
	 * never written to): a throttle would only make the client retry
	 * the payload. */
	ev->content_decisive = content && this_hour &&
		a->shaped_hour + a->shaped_prev >= 2 &&
		(ev->fired & ((1u << SIG_RISKY_REPLIES) | (1u << SIG_SURGE) |
			      (1u << SIG_NEW_RCPTS))) != 0;
}

bool outbound_content_habit(const struct acct *a, uint16_t today)
{
	uint16_t age = (uint16_t)(today - a->ppap_day);

	return a->ppap_day != 0 && age >= 1 && age <= OUTBOUND_HABIT_DAYS;
}

void outbound_content_learn(struct acct *a, uint16_t today)
{
	if (!today || a->ppap_day == today)
		return;
	/* A habit that holds today held yesterday too: move it there, so
	 * using it keeps it 90 days more without making today's message
	 * its only evidence. */
	a->ppap_day = outbound_content_habit(a, today) ?
		      (uint16_t)(today - 1) : today;
	if (!a->ppap_day)
		a->ppap_day = today;
}

void outbound_explain(const struct outbound_eval *ev, struct buf *out)
{
	int s;
	bool first = true;

	for (s = 0; s < SIG__COUNT; s++) {
		if (!(ev->fired & (1u << s)))
			continue;
		buf_printf(out, "%s%s: %s (+%d)", first ? "" : "; ",
			   signal_names[s], ev->detail[s], ev->weight[s]);
		first = false;
	}
}

/* The part after the last '@', or NULL. */
static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : NULL;
}

bool outbound_sender_owned(const char *login, const char *sender,
			   const char *local_domains)
{
	const char *sd, *ld;
	size_t llen;

	if (!sender || !*sender)
		return true;
	if (strcasecmp(login, sender) == 0)
		return true;
	sd = domain_of(sender);
	if (!sd)
		return false;
	ld = domain_of(login);
	if (ld)
		return strcasecmp(ld, sd) == 0;
	llen = strlen(login);
	return (size_t)(sd - 1 - sender) == llen &&
	       strncasecmp(sender, login, llen) == 0 &&
	       config_list_has(local_domains, sd);
}

enum outbound_sender_kind outbound_sender_kind(const char *login,
					       const char *sender,
					       const char *local_domains,
					       const struct sendermap *map)
{
	const char *sd;

	if (outbound_sender_owned(login, sender, local_domains) ||
	    sendermap_owns(map, login, sender))
		return OUT_SENDER_OWNED;
	sd = domain_of(sender);
	return sd && config_list_has(local_domains, sd) ? OUT_SENDER_LOCAL :
	       OUT_SENDER_UNHOSTED;
}
