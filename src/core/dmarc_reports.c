/*
 * dmarc_reports - ingest received DMARC aggregate reports into the store
 * and read back who sends mail as a domain.  Layout, dedup and the
 * classification rules are in dmarc_reports.h; the report reader is
 * mail/dmarc_report.c.
 *
 * Ingest: parse (sans-I/O) -> get dmarc_rep_seen -> put_many the records
 * (one transaction on sqlite) -> put the seen marker -> answer.  A store
 * failure at any step answers CORE_E_RETRY; a retry rewrites the same
 * keys, so nothing is counted twice.  A refused report is written to
 * dmarc_rep_bad first, so "refused" is only answered once it is recorded.
 *
 * Limits: the report's own (mail/dmarc_report.h); sources lists at most
 * SRC_MAX (address, class) pairs ("truncated") and DAYS_MAX days.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/dmarc_reports.h"
#include "mail/dmarc_report.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SAMPLE_MAX 128

_Static_assert(CORE_DMARC_INPUT_MAX == DMARC_REPORT_INPUT_MAX,
	       "the CLI's input cap is the reader's");

const char *const core_dmarc_class_names[CORE_DMARC_NCLASSES] = {
	"ours", "authorised", "forwarder", "forger",
};

/* One ingest in progress. */
struct ingest {
	struct store *st;
	struct dmarc_report r;
	char reporter[DMARC_REPORT_STR_MAX + 1], rid[DMARC_REPORT_STR_MAX + 1];
	char seen_key[2 * DMARC_REPORT_STR_MAX + 2];
	char *seen_val;
	char **keys, **vals;
	size_t nkv;
	char err[256];
	core_dmarc_ingest_cb *done;
	void *arg;
};

/* Copy s into out (size outsz) with '|' made '_' (a key component). */
static void keypart(char *out, size_t outsz, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < outsz; i++)
		out[i] = s[i] == '|' ? '_' : s[i];
	out[i] = '\0';
}

/* Finish an ingest: answer and free. */
static void ingest_end(struct ingest *in, enum core_status st,
		       const char *outcome)
{
	struct core_dmarc_ingest res = {
		.outcome = outcome,
		.reason = st == CORE_E_INVALID ? in->err : "",
		.domain = in->r.domain ? in->r.domain : "",
		.reporter = in->reporter, .report_id = in->rid,
		.records = in->r.n_rec, .messages = in->r.count_sum,
	};
	char q1[LOG_QSZ], q2[LOG_QSZ], q3[LOG_QSZ], q4[LOG_QSZ];
	size_t i;

	log_msg(st == CORE_OK ? LOG_L_INFO : LOG_L_WARN,
		"event=dmarc_report outcome=%s domain=%s reporter=%s "
		"report_id=%s records=%zu messages=%llu%s%s",
		st == CORE_E_RETRY ? "retry" : outcome,
		log_q(q1, sizeof(q1), res.domain),
		log_q(q2, sizeof(q2), in->reporter),
		log_q(q3, sizeof(q3), in->rid), res.records,
		(unsigned long long)res.messages,
		st == CORE_E_INVALID ? " error=" : "",
		st == CORE_E_INVALID ? log_q(q4, sizeof(q4), in->err) : "");
	in->done(in->arg, st, &res);
	for (i = 0; i < in->nkv; i++) {
		free(in->keys[i]);
		free(in->vals[i]);
	}
	free(in->keys);
	free(in->vals);
	free(in->seen_val);
	dmarc_report_deinit(&in->r);
	free(in);
}

/* The seen marker is written: done. */
static void seen_done(void *arg, int result)
{
	struct ingest *in = arg;

	ingest_end(in, result == STORE_OK ? CORE_OK : CORE_E_RETRY,
		   result == STORE_OK ? "stored" : "retry");
}

/* The records are written: now the seen marker. */
static void rows_done(void *arg, int result)
{
	struct ingest *in = arg;

	if (result != STORE_OK) {
		ingest_end(in, CORE_E_RETRY, "retry");
		return;
	}
	store_put(in->st, CORE_DMARC_REP_SEEN_NS, in->seen_key, in->seen_val,
		  0, seen_done, in);
}

/* The first DKIM/SPF auth result's field, "" when none. */
static const char *first(const struct dmarc_report_auth *v, size_t n,
			 int which)
{
	if (!n)
		return "";
	return which == 0 ? v[0].domain : which == 1 ? v[0].selector :
	       v[0].result;
}

/* Build the record rows and the seen marker. */
static void build(struct ingest *in, int64_t now)
{
	const struct dmarc_report *r = &in->r;
	char day[11], dom[DMARC_REPORT_STR_MAX + 1];
	time_t t = (time_t)r->begin;
	struct tm tm;
	size_t i;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	keypart(dom, sizeof(dom), r->domain);
	in->keys = xcalloc(r->n_rec ? r->n_rec : 1, sizeof(char *));
	in->vals = xcalloc(r->n_rec ? r->n_rec : 1, sizeof(char *));
	for (i = 0; i < r->n_rec; i++) {
		const struct dmarc_report_record *o = &r->rec[i];
		json_t *j = json_pack("{sI ss ss ss ss ss ss ss ss ss ss}",
			"count", (json_int_t)o->count,
			"disp", o->disposition, "dkim", o->dkim,
			"spf", o->spf, "hf", o->header_from,
			"ef", o->envelope_from,
			"dkim_d", first(o->dkim_auth, o->n_dkim_auth, 0),
			"dkim_s", first(o->dkim_auth, o->n_dkim_auth, 1),
			"spf_d", first(o->spf_auth, o->n_spf_auth, 0),
			"reporter", r->org_name, "email", r->email);

		in->keys[i] = xasprintf("%s|%s|%s|%s|%s|%zu", dom, day,
					o->source_ip, in->reporter, in->rid,
					i);
		in->vals[i] = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		in->nkv++;
	}
	{
		json_t *j = json_pack("{ss sI sI sI sI sI}", "domain",
				      r->domain, "begin", (json_int_t)r->begin,
				      "end", (json_int_t)r->end, "records",
				      (json_int_t)r->n_rec, "messages",
				      (json_int_t)r->count_sum, "at",
				      (json_int_t)now);

		in->seen_val = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
}

/* The dedup lookup answered. */
static void seen_got(void *arg, int result, const char *value)
{
	struct ingest *in = arg;
	struct store_kv *kv;
	size_t i;

	(void)value;
	if (result == STORE_OK) {
		ingest_end(in, CORE_OK, "duplicate");
		return;
	}
	if (result != STORE_NOTFOUND) {
		ingest_end(in, CORE_E_RETRY, "retry");
		return;
	}
	kv = xcalloc(in->nkv ? in->nkv : 1, sizeof(*kv));
	for (i = 0; i < in->nkv; i++) {
		kv[i].key = in->keys[i];
		kv[i].value = in->vals[i];
	}
	/* store_put_many copies the strings before it returns. */
	store_put_many(in->st, CORE_DMARC_REP_NS, kv, in->nkv, rows_done, in);
	free(kv);
}

/* The refused report is recorded (or not). */
static void bad_done(void *arg, int result)
{
	struct ingest *in = arg;

	ingest_end(in, result == STORE_OK ? CORE_E_INVALID : CORE_E_RETRY,
		   "refused");
}

void core_dmarc_report_ingest(struct store *st, const void *bytes, size_t n,
			      int64_t now, core_dmarc_ingest_cb *done,
			      void *arg)
{
	struct ingest *in = xcalloc(1, sizeof(*in));
	char sample[SAMPLE_MAX * 4 + 1], key[64];
	static unsigned seq;
	int rc;

	in->st = st;
	in->done = done;
	in->arg = arg;
	rc = dmarc_report_load(bytes, n, &in->r, in->err, sizeof(in->err));
	if (rc != DMARC_REPORT_OK) {
		json_t *j;
		char *v;

		if (rc < 0)
			snprintf(in->err, sizeof(in->err), "internal error %d",
				 rc);
		buf_sample(sample, sizeof(sample), bytes, n, SAMPLE_MAX);
		j = json_pack("{ss sI ss}", "error", in->err, "bytes",
			      (json_int_t)n, "sample", sample);
		v = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		/* Time, process and sequence: unique across CLI runs. */
		snprintf(key, sizeof(key), "%lld|%d|%u", (long long)now,
			 (int)getpid(), seq++);
		store_put(st, CORE_DMARC_REP_BAD_NS, key, v, 0, bad_done, in);
		free(v);
		return;
	}
	keypart(in->reporter, sizeof(in->reporter),
		*in->r.org_name ? in->r.org_name : in->r.email);
	keypart(in->rid, sizeof(in->rid), in->r.report_id);
	snprintf(in->seen_key, sizeof(in->seen_key), "%s|%s", in->reporter,
		 in->rid);
	build(in, now);
	store_get(st, CORE_DMARC_REP_SEEN_NS, in->seen_key, seen_got, in);
}

int core_dmarc_store_open(const char *spec, struct store **out, char *err,
			  size_t errsz)
{
	return store_open(spec, NULL, out, err, errsz);
}

void core_dmarc_store_close(struct store *st)
{
	store_close(st);
}
