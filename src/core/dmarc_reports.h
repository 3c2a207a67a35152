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

/* One source address in one class. */
struct core_dmarc_source {
	char ip[46], net[50];	/* net: the /24 or /48 */
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

/* core_dmarc_sources() on the core's store with its dmarc_our_networks
 * (GET /v1/dmarc/sources). */
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
