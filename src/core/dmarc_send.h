/*
 * dmarc_send - DMARC aggregate reports mamori sends as a receiver (RFC
 * 9990), built from the inbound counts the milter keeps (namespace
 * "dmarc_agg", core/dmarc_agg.c); docs/design/dmarc-reports.md, "Reports
 * we send".
 *
 * dmarc_out.c builds (sans I/O): the XML with libxml2's xmlwriter in the
 * namespace urn:ietf:params:xml:ns:dmarc-2.0, gzip (RFC 1952, zlib), and
 * the message with GMime (Subject "Report Domain: D Submitter: S
 * Report-ID: <ID>", the attachment named SUBMITTER!DOMAIN!BEGIN!END.xml.gz,
 * RFC 9990 "Email").  dmarc_send.c runs a day: reads the counts, discovers
 * each From domain's DMARC record (PSL discovery, at most 2 questions),
 * groups the rows by policy domain, checks every rua=mailto: (external
 * destinations need DOMAIN._report._dmarc.HOST "v=DMARC1", RFC 9990
 * "Verifying External Destinations"), and hands each report to the relay
 * with libcurl SMTP, one connection for the whole run.
 *
 * What was sent is recorded in namespace "dmarc_sent" under
 * REPORT_ID|RUA (JSON: day, domain, rua, host, bytes, result, attempts,
 * time).  The report ID is DAY_DOMAIN@SUBMITTER, the same on every run,
 * so a report is sent once per rua: "sent", "refused" (5xx from the
 * relay) and "too_large" are final; "tempfail" (relay down, 4xx, DNS
 * timeout) and "deferred" (the per-host cap) are tried again on the next
 * run, which looks back CORE_DMARC_SEND_DAYS days.
 *
 * Limits: CORE_DMARC_SEND_ROWS rows per day, CORE_DMARC_SEND_RUA rua
 * addresses per domain, the message at most dmarc_report_max_bytes and the
 * rua's own "!size"; dmarc_report_dest_per_day reports per rua host per
 * 24 h (a receiver of reports for many domains is not flooded).
 *
 * Threading: blocking (DNS through core's dns_blocking, SMTP through
 * libcurl); run it from the CLI or a thread of its own.  The store must
 * answer synchronously (sqlite, memory); a networked one is refused.
 */
#ifndef MAMORI_CORE_DMARC_SEND_H
#define MAMORI_CORE_DMARC_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/admin.h"

struct config;
struct store;

#define CORE_DMARC_SENT_NS "dmarc_sent"
#define CORE_DMARC_SEND_DAYS 3		/* days looked back by default */
#define CORE_DMARC_SEND_ROWS 100000	/* counted rows per day */
#define CORE_DMARC_SEND_RUA 8		/* rua addresses per domain */

/* A report's rows are struct core_dmarc_row (core/admin.h): the fields
 * of a "dmarc_agg" key and its count; day is not used here. */

/* The report's metadata. */
struct core_dmarc_out_meta {
	const char *org_name, *email;	/* the reporting organization */
	const char *submitter;		/* a domain: file name, Subject */
	const char *report_id;
	int64_t begin, end;		/* unix times, inclusive */
};

/* The policy published, as discovered ("" / 0 for absent tags). */
struct core_dmarc_out_policy {
	const char *domain;		/* the DMARC policy domain */
	const char *p, *sp, *np;	/* "none", "quarantine", "reject" */
	char adkim, aspf;		/* 'r' or 's' */
	bool testing;			/* t=y */
	const char *discovery;		/* "psl" or "treewalk" */
};

/*
 * The report XML (UTF-8, NUL-terminated) in *out (free it), rows[0..n)
 * written one record each, sorted by source address (then From domain).
 * Returns 0, or -1 when libxml2 fails (no memory).
 */
int core_dmarc_out_xml(const struct core_dmarc_out_meta *m,
		       const struct core_dmarc_out_policy *pol,
		       const struct core_dmarc_row *rows, size_t n,
		       char **out, size_t *outlen);

/* gzip (RFC 1952) of in[0..n) in *out (free it).  0 or -1. */
int core_dmarc_out_gzip(const char *in, size_t n, char **out,
			size_t *outlen);

/* The attachment's name SUBMITTER!DOMAIN!BEGIN!END.xml.gz into out. */
void core_dmarc_out_filename(const struct core_dmarc_out_meta *m,
			     const char *domain, char *out, size_t outsz);

/*
 * The report message (CRLF line ends) from from to to, date now, with
 * gz[0..gzlen) as the application/gzip attachment, in *out (free it).
 * Returns 0 or -1.
 */
int core_dmarc_out_mail(const struct core_dmarc_out_meta *m,
			const char *domain, const char *from, const char *to,
			int64_t now, const void *gz, size_t gzlen, char **out,
			size_t *outlen);

/* What happened to one report for one rua (or to the report, rua ""). */
struct core_dmarc_send_event {
	const char *day, *domain, *report_id, *rua;
	const char *result;	/* sent, would_send, duplicate, unauthorised,
				 * too_large, deferred, tempfail, refused,
				 * written, no_rua */
	const char *detail;	/* a sentence, or "" */
	size_t records;
	int64_t messages;
	size_t bytes;		/* the message (the XML for written) */
};

typedef void core_dmarc_send_cb(void *arg,
				const struct core_dmarc_send_event *ev);

/* One run. */
struct core_dmarc_send_opts {
	const struct config *cfg;	/* dmarc_report_*, dns_* */
	struct store *st;
	const char *dns;		/* IP[@PORT]: overrides dns_upstream */
	const char *day;		/* YYYY-MM-DD; NULL: the last
					 * CORE_DMARC_SEND_DAYS full days */
	const char *domain;		/* only this policy domain; NULL: all */
	bool send;			/* false: dry run, nothing recorded */
	const char *out_dir;		/* dry run: write DOMAIN!DAY XML here
					 * (NULL: do not write) */
	int64_t now;
	core_dmarc_send_cb *cb;		/* may be NULL */
	void *arg;
};

/* The run's totals. */
struct core_dmarc_send_totals {
	size_t reports, sent, duplicate, unauthorised, too_large, deferred,
	       tempfail, refused, written;
};

/*
 * Build and (opts->send) mail the reports of the day(s).  Returns 0 (look
 * at the totals: tempfail and deferred are retried on the next run), or
 * -1 with err when the run cannot start (bad day, no from address, the
 * store answers asynchronously or fails, the resolver cannot start, the
 * output directory cannot be written).
 */
int core_dmarc_send_run(const struct core_dmarc_send_opts *opts,
			struct core_dmarc_send_totals *tot, char *err,
			size_t errsz);

/*
 * mamorid's daily run (dmarc_daily.c): call tick from the loop's periodic
 * timer; in the UTC hour dmarc_report_hour, once a day, with
 * dmarc_report_send on, it starts core_dmarc_send_run (send, the last
 * CORE_DMARC_SEND_DAYS days) on a thread with its own store handle and
 * logs the totals.  cfg must outlive the run.  free waits for a run in
 * progress.
 */
struct core_dmarc_daily;
struct core_dmarc_daily *core_dmarc_daily_new(void);
void core_dmarc_daily_tick(struct core_dmarc_daily *d,
			   const struct config *cfg, int64_t now);
void core_dmarc_daily_free(struct core_dmarc_daily *d);

#endif
