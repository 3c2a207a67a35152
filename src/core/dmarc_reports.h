/*
 * dmarc_reports - DMARC aggregate reports *received* for our domains (the
 * rua address delivered to "mamori dmarc ingest"), and "who forges my
 * domain, from where" read back from them.  docs/design/dmarc-reports.md.
 *
 * Store layout (all values JSON text):
 *   dmarc_rep       DOMAIN|DAY|SOURCE_IP|REPORTER|REPORT_ID|N -> one record
 *                   {"count","disp","dkim","spf","hf","ef","dkim_d",
 *                    "dkim_s","spf_d","reporter","email"}
 *   dmarc_rep_seen  REPORTER|REPORT_ID -> {"domain","begin","end",
 *                   "records","messages","at"}  (the dedup key)
 *   dmarc_rep_bad   AT|N -> {"error","bytes","sample"}  (refused input:
 *                   the reason and an escaped 128-byte sample)
 * DAY is the UTC day of the report's begin; REPORTER is the org name, or
 * the email when the report has none; '|' in names becomes '_'.  A record
 * key is a function of the report alone, so writing one report twice
 * writes the same keys: dedup holds even if the "seen" write was lost.
 *
 * Classification of a record (per source address):
 *   ours        source inside dmarc_our_networks
 *   authorised  SPF or DKIM passed aligned (an ESP allowed by SPF include
 *               or signing with our d=)
 *   forwarder   DKIM passed (unaligned or aligned) and SPF failed: mail we
 *               sent, relayed by a mailing list or forwarder
 *   forger      neither passed
 * (authorised is checked before forwarder: an aligned DKIM pass with an
 * SPF fail is "forwarder", the more telling name for a postmaster.)
 *
 * Threading: event-loop thread only; state on the heap, answers from the
 * store callbacks, so a store that answers later works.
 */
#ifndef MAMORI_CORE_DMARC_REPORTS_H
#define MAMORI_CORE_DMARC_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/admin.h"

struct store;

#define CORE_DMARC_REP_NS "dmarc_rep"
#define CORE_DMARC_REP_SEEN_NS "dmarc_rep_seen"
#define CORE_DMARC_REP_BAD_NS "dmarc_rep_bad"
/* The largest input ingest reads (= DMARC_REPORT_INPUT_MAX, 32 MiB). */
#define CORE_DMARC_INPUT_MAX (32u << 20)

/* What one ingest did. */
struct core_dmarc_ingest {
	const char *outcome;	/* "stored", "duplicate", "refused" */
	const char *reason;	/* refused: why; else "" */
	const char *domain, *reporter, *report_id;	/* "" when refused */
	size_t records;
	uint64_t messages;
};

enum core_dmarc_class {
	CORE_DMARC_OURS,
	CORE_DMARC_AUTHORISED,
	CORE_DMARC_FORWARDER,
	CORE_DMARC_FORGER,
	CORE_DMARC_NCLASSES
};
extern const char *const core_dmarc_class_names[CORE_DMARC_NCLASSES];

/* What the reverse-name look-up of a source found (dmarc_names.c). */
enum core_dmarc_name_state {
	CORE_DMARC_NAME_UNCHECKED,	/* not asked: no resolver, or beyond
					 * the call's bound */
	CORE_DMARC_NAME_NONE,		/* no PTR record */
	CORE_DMARC_NAME_UNCONFIRMED,	/* PTR names, none of which resolves
					 * back to the address */
	CORE_DMARC_NAME_CONFIRMED,	/* forward-confirmed (FCrDNS) */
	CORE_DMARC_NAME_TEMPFAIL,	/* DNS failed, or the call's time ran
					 * out */
	CORE_DMARC_NAME_NSTATES
};
extern const char *const core_dmarc_name_states[CORE_DMARC_NAME_NSTATES];

/* One source address in one class. */
struct core_dmarc_source {
	char ip[46], net[50];	/* net: the /24 or /48 */
	char name[254];		/* CONFIRMED: the name; UNCONFIRMED: the
				 * first PTR name; else "" */
	enum core_dmarc_name_state name_state;
	char country[3];	/* "JP" from geoip_db, "" unknown or off */
	enum core_dmarc_class cls;
	uint64_t count, dkim_pass, spf_pass;
	uint64_t aligned;	/* DKIM or SPF passed (DMARC pass) */
	uint64_t disp[3];	/* none, quarantine, reject */
	char first_day[11], last_day[11];
	char reporters[128];	/* up to a few, comma-separated */
};

/* One day's volume per class, and what receivers did with forgeries. */
struct core_dmarc_day {
	char day[11];
	uint64_t by_class[CORE_DMARC_NCLASSES];
	uint64_t forged_disp[3];
};

/*
 * Sources grouped by reverse name or by country.  By name the key is the
 * registrable domain (Public Suffix List) of a confirmed name; sources
 * without one make one group per name state with key "".  By country the
 * key is the country code, "" for unknown.
 */
struct core_dmarc_group {
	char key[254];
	enum core_dmarc_name_state state;	/* by name only */
	size_t sources;
	uint64_t count, aligned;
	uint64_t by_class[CORE_DMARC_NCLASSES];
};

struct core_dmarc_sources {
	const char *domain;
	int days;
	const struct core_dmarc_source *v;	/* count descending */
	size_t n;
	const struct core_dmarc_day *day;	/* oldest first */
	size_t ndays;
	uint64_t by_class[CORE_DMARC_NCLASSES];
	uint64_t forged_disp[3];
	size_t skipped;		/* rows that did not parse */
	int truncated;
	/* With a look-up (core_dmarc_sources_lookup), count descending: */
	const struct core_dmarc_group *by_name, *by_country;
	size_t nby_name, nby_country;
	size_t names_asked;	/* distinct addresses looked up */
};

/*
 * Ingest one report (bytes as a rua address receives them: a message, or
 * .xml/.gz/.zip; see mail/dmarc_report.h), at time now.  bytes are
 * read before the call returns.  done(arg, status, &ingest), the struct
 * borrowed for the call: CORE_OK (stored or duplicate),
 *   CORE_E_INVALID (refused: kept in dmarc_rep_bad), CORE_E_RETRY (the
 *   store is down: nothing accepted, the caller must retry).
 */
typedef void core_dmarc_ingest_cb(void *arg, enum core_status status,
				  const struct core_dmarc_ingest *res);
void core_dmarc_report_ingest(struct store *st, const void *bytes, size_t n,
			      int64_t now, core_dmarc_ingest_cb *done,
			      void *arg);

/*
 * Sources of mail claiming domain over the last days days (1..366) up to
 * and including now's UTC day, classified with our_networks (comma/blank-separated CIDRs; NULL or
 * "" for none; a bad entry is CORE_E_INVALID).  done gets the answer or
 * CORE_E_RETRY; the struct is borrowed for the call.
 */
typedef void core_dmarc_sources_cb(void *arg, enum core_status status,
				   const char *error,
				   const struct core_dmarc_sources *s);
void core_dmarc_sources(struct store *st, const char *domain, int days,
			const char *our_networks, int64_t now,
			core_dmarc_sources_cb *done, void *arg);

/*
 * How to name the sources (dmarc_names.c).  Reverse names: the
 * CORE_DMARC_NAMES_MAX addresses with the most mail, each PTR (at most
 * CORE_DMARC_NAME_PTRS of its names) confirmed by an A or AAAA question,
 * within CORE_DMARC_NAMES_MS for the whole call; the rest stay UNCHECKED.
 * Countries: every source, from country(country_arg, ip) (two upper-case
 * letters as login_engine_country() gives, 0 unknown).
 */
#define CORE_DMARC_NAMES_MAX 32
#define CORE_DMARC_NAME_PTRS 3
#define CORE_DMARC_NAMES_MS 8000
struct dns_resolver;
struct dmarc_psl;
struct core_dmarc_lookup {
	struct dns_resolver *dns;	/* NULL: no reverse names */
	const struct dmarc_psl *psl;	/* NULL: group by the whole name */
	uint16_t (*country)(void *country_arg, const char *ip); /* NULL: off */
	void *country_arg;
};

/*
 * core_dmarc_sources() and then the look-ups of lk (NULL: none), in the
 * calling thread: dns must answer before dns_query() returns (dns_stub, or
 * dns_blocking off the event loop).  Fills the name, country and group
 * members.
 */
void core_dmarc_sources_lookup(struct store *st, const char *domain,
			       int days, const char *our_networks,
			       int64_t now, const struct core_dmarc_lookup *lk,
			       core_dmarc_sources_cb *done, void *arg);

/*
 * core_dmarc_sources() on the core's store with its dmarc_our_networks
 * (GET /v1/dmarc/sources), with countries from geoip_db (the login
 * engine's reader) and reverse names asked off the event loop, on a
 * thread of their own, through a resolver the core keeps for them
 * (dns_blocking on dns_upstream, with its answer cache, made on first
 * use); done runs on the loop thread.  Without core_set_base, or with
 * CORE_DMARC_NAMES_JOBS calls already looking up, the names stay
 * UNCHECKED.
 */
#define CORE_DMARC_NAMES_JOBS 2
void core_dmarc_sources_get(struct core *c, const char *domain, int days,
			    int64_t now, core_dmarc_sources_cb *done,
			    void *arg);

/*
 * The staged advice's input (core/domaincheck.h) for domain: the sources
 * view over the last CORE_DMARC_ADVICE_DAYS days up to now, mapped
 *   ours, authorised  -> DOMAINCHECK_SRC_OURS (legitimate volume: an ESP
 *                        passing SPF or DKIM aligned sends for us)
 *   forwarder         -> DOMAINCHECK_SRC_FORWARDERS
 *   forger            -> DOMAINCHECK_SRC_FORGERS
 * and the "ours" sources with unaligned messages as the failing list (an
 * ESP failing both is a forger here: list its network in
 * dmarc_our_networks to see it named).  Fills *out (zeroed first) and
 * returns 0; CORE_E_INVALID or CORE_E_RETRY (message in err), or
 * -EINPROGRESS when the store did not answer during the call (a
 * networked store: the CLI runs no event loop).
 */
#define CORE_DMARC_ADVICE_DAYS 30
struct domaincheck_sources;
int core_dmarc_advice_sources(struct store *st, const char *domain,
			      const char *our_networks, int64_t now,
			      struct domaincheck_sources *out, char *err,
			      size_t errsz);

/* Open the store named spec for the CLI (store_open()); 0 or an error. */
int core_dmarc_store_open(const char *spec, struct store **out, char *err,
			  size_t errsz);
void core_dmarc_store_close(struct store *st);

#endif
