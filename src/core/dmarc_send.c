/*
 * dmarc_send - one run of the DMARC aggregate reports mamori sends
 * (core/dmarc_send.h has the contract, dmarc_out.c builds the bytes).
 *
 * Per day: scan "dmarc_agg" DAY| (synchronously), discover the DMARC
 * record of every From domain (_dmarc.FROM, then _dmarc.ORG by the Public
 * Suffix List: RFC 7489 6.6.3, "psl" in the report), group the rows by the
 * domain the record was found at, and per domain build the report and
 * walk its rua=mailto: list in order (RFC 9990 "Report Delivery").  A DNS
 * timeout during discovery defers the whole day, so a report is never
 * sent with rows missing and then taken for a duplicate.
 *
 * A rua host outside the policy domain's organizational domain needs
 * DOMAIN._report._dmarc.HOST with a TXT record starting "v=DMARC1"; a
 * rua= in that record replaces the address when it names the same host,
 * and forbids sending when it names only others (RFC 9990 "Verifying
 * External Destinations", steps 1-9).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/core.h"
#include "core/dmarc_send.h"
#include "dns/dns_blocking.h"
#include "mail/dmarc.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#define AGG_NS "dmarc_agg"
#define SENT_TTL (400 * 86400L)
#define TXT_MAX 16
#define ADDR_MAX 320

/* A rua=mailto: destination. */
struct rua {
	char addr[ADDR_MAX];		/* local@host as written */
	char host[254];			/* lowercased */
	uint64_t limit;			/* "!size" in bytes; 0: none */
};

/* A From domain's discovered policy. */
struct policy {
	char from[254];
	int found;			/* 1 record, 0 none, -1 tempfail */
	char domain[254];		/* where the record was */
	struct dmarc_record rec;
};

/* Destination hosts and their reports sent in the last 24 h. */
struct hostcount {
	char host[254];
	long n;
};

/* One run's state. */
struct run {
	const struct core_dmarc_send_opts *o;
	struct core_dmarc_send_totals *tot;
	struct dns_resolver *dns;
	struct dmarc_psl *psl;
	CURL *curl;
	char org_name[256], from[ADDR_MAX], submitter[254];
	struct policy *pol;
	size_t npol, polcap;
	struct hostcount *hc;
	size_t nhc, hccap;
	/* the current store answer */
	int answered, result;
	char *value;
	/* the current day's rows (keys split in place) */
	struct core_dmarc_row *rows;
	char **keys;
	size_t nrows, rowcap;
	/* TXT answer */
	char *txt[TXT_MAX];
	size_t ntxt;
	int rcode;
};

/* Report an event to the caller and the log. */
static void event(struct run *R, const struct core_dmarc_send_event *ev)
{
	char q1[LOG_QSZ], q2[LOG_QSZ];

	log_msg(!strcmp(ev->result, "tempfail") ? LOG_L_WARN : LOG_L_INFO,
		"event=dmarc_report_out day=%s domain=%s report_id=%s rua=%s "
		"result=%s bytes=%zu", ev->day, ev->domain,
		log_q(q1, sizeof(q1), ev->report_id),
		log_q(q2, sizeof(q2), ev->rua), ev->result, ev->bytes);
	if (R->o->cb)
		R->o->cb(R->o->arg, ev);
}

/* ------------------------------------------------------------------ */
/* Synchronous store calls                                              */

/* store_get callback. */
static void got_value(void *arg, int result, const char *value)
{
	struct run *R = arg;

	R->answered = 1;
	R->result = result;
	R->value = value ? xstrdup(value) : NULL;
}

/* store_put callback. */
static void put_done(void *arg, int result)
{
	struct run *R = arg;

	R->answered = 1;
	R->result = result;
}

/* The value of ns/key in R->value (NULL: none); -1 on a store failure. */
static int sync_get(struct run *R, const char *ns, const char *key)
{
	free(R->value);
	R->value = NULL;
	R->answered = 0;
	store_get(R->o->st, ns, key, got_value, R);
	if (!R->answered || (R->result != STORE_OK &&
			     R->result != STORE_NOTFOUND))
		return -1;
	return 0;
}

/* Put ns/key = value; 0 or -1. */
static int sync_put(struct run *R, const char *ns, const char *key,
		    const char *value, int64_t expires)
{
	R->answered = 0;
	store_put(R->o->st, ns, key, value, expires, put_done, R);
	return R->answered && R->result == STORE_OK ? 0 : -1;
}

/* store_row_cb over dmarc_agg DAY|: keep the rows that parse. */
static void agg_row(void *arg, int result, const char *key,
		    const char *value, int64_t ts)
{
	struct run *R = arg;
	struct core_dmarc_agg_fields f;
	char *k, *end;
	long long n;

	(void)ts;
	if (!key) {
		R->answered = 1;
		R->result = result;
		return;
	}
	if (R->nrows >= CORE_DMARC_SEND_ROWS)
		return;
	errno = 0;
	n = strtoll(value, &end, 10);
	if (errno || end == value || *end || n <= 0)
		return;
	k = xstrdup(key);
	/* Either format; names decoded, never trusted into XML as is. */
	if (core_dmarc_agg_parse(k, &f) != 0) {
		free(k);
		return;
	}
	if (R->nrows == R->rowcap) {
		R->rowcap = R->rowcap ? 2 * R->rowcap : 64;
		R->rows = xrealloc(R->rows, R->rowcap * sizeof(*R->rows));
		R->keys = xrealloc(R->keys, R->rowcap * sizeof(*R->keys));
	}
	core_dmarc_row_set(&R->rows[R->nrows], &f, n);
	R->keys[R->nrows++] = k;
}

/* Free the day's rows. */
static void rows_free(struct run *R)
{
	for (size_t i = 0; i < R->nrows; i++)
		free(R->keys[i]);
	R->nrows = 0;
}

/* The reports sent to host in the last 24 h, as a pointer to bump. */
static long *host_count(struct run *R, const char *host)
{
	size_t i;

	for (i = 0; i < R->nhc; i++)
		if (!strcmp(R->hc[i].host, host))
			return &R->hc[i].n;
	if (R->nhc == R->hccap) {
		R->hccap = R->hccap ? 2 * R->hccap : 16;
		R->hc = xrealloc(R->hc, R->hccap * sizeof(*R->hc));
	}
	snprintf(R->hc[R->nhc].host, sizeof(R->hc[0].host), "%s", host);
	R->hc[R->nhc].n = 0;
	return &R->hc[R->nhc++].n;
}

/* store_row_cb over dmarc_sent: count the reports sent per host within
 * the last 24 h. */
static void sent_row(void *arg, int result, const char *key,
		     const char *value, int64_t ts)
{
	struct run *R = arg;
	json_t *j;
	const char *host, *res;
	json_int_t t;

	(void)ts;
	if (!key) {
		R->answered = 1;
		R->result = result;
		return;
	}
	j = json_loads(value, 0, NULL);
	host = json_string_value(json_object_get(j, "host"));
	res = json_string_value(json_object_get(j, "result"));
	t = json_integer_value(json_object_get(j, "time"));
	if (host && res && !strcmp(res, "sent") &&
	    t > R->o->now - 86400)
		(*host_count(R, host))++;
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* DNS                                                                  */

/* dns_query callback: keep the TXT strings. */
static void got_txt(void *arg, const struct dns_answer *a)
{
	struct run *R = arg;

	R->rcode = a->rcode;
	for (size_t i = 0; a->rcode == DNS_OK && i < a->n &&
	     R->ntxt < TXT_MAX; i++)
		if (a->rr[i].type == DNS_T_TXT)
			R->txt[R->ntxt++] = xstrndup(a->rr[i].text,
						     a->rr[i].text_len);
}

/* Ask name TXT: 0 with R->txt[0..ntxt), -1 on a temporary failure. */
static int ask_txt(struct run *R, const char *name)
{
	struct dns_question q;

	for (size_t i = 0; i < R->ntxt; i++)
		free(R->txt[i]);
	R->ntxt = 0;
	R->rcode = DNS_TEMPFAIL;
	if (strlen(name) > 253)
		return 0;	/* no such name (RFC 9990 step 4) */
	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	q.type = DNS_T_TXT;
	dns_query(R->dns, &q, got_txt, R);
	return R->rcode == DNS_TEMPFAIL ? -1 : 0;
}

/* Does t start with the tag v=DMARC1 (RFC 9990 step 6)? */
static bool starts_dmarc1(const char *t)
{
	while (*t == ' ' || *t == '\t')
		t++;
	if (*t++ != 'v' && t[-1] != 'V')
		return false;
	while (*t == ' ' || *t == '\t')
		t++;
	if (*t++ != '=')
		return false;
	while (*t == ' ' || *t == '\t')
		t++;
	if (strncmp(t, "DMARC1", 6) != 0)
		return false;
	t += 6;
	while (*t == ' ' || *t == '\t')
		t++;
	return *t == ';' || *t == '\0';
}

/* The single DMARC record at _dmarc.name: 1 found, 0 none, -1 tempfail. */
static int record_at(struct run *R, const char *name, struct dmarc_record *r)
{
	char q[300];
	int found = 0;

	snprintf(q, sizeof(q), "_dmarc.%s", name);
	if (ask_txt(R, q) < 0)
		return -1;
	for (size_t i = 0; i < R->ntxt; i++) {
		struct dmarc_record tmp;

		if (dmarc_record_parse(R->txt[i], strlen(R->txt[i]), &tmp) !=
		    DMARC_REC_OK)
			continue;
		*r = tmp;
		found++;
	}
	return found == 1;	/* several: all discarded (RFC 9989) */
}

/* The policy of From domain hf, looked up once per run. */
static const struct policy *policy_of(struct run *R, const char *hf)
{
	struct policy *p;
	char org[254] = "";
	size_t i;

	for (i = 0; i < R->npol; i++)
		if (!strcasecmp(R->pol[i].from, hf))
			return &R->pol[i];
	if (R->npol == R->polcap) {
		R->polcap = R->polcap ? 2 * R->polcap : 16;
		R->pol = xrealloc(R->pol, R->polcap * sizeof(*R->pol));
	}
	p = &R->pol[R->npol++];
	memset(p, 0, sizeof(*p));
	snprintf(p->from, sizeof(p->from), "%s", hf);
	for (char *c = p->from; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	snprintf(p->domain, sizeof(p->domain), "%s", p->from);
	p->found = record_at(R, p->from, &p->rec);
	if (p->found == 0 && R->psl &&
	    dmarc_psl_org_domain(R->psl, p->from, org, sizeof(org)) == 0 &&
	    strcmp(org, p->from) != 0) {
		snprintf(p->domain, sizeof(p->domain), "%s", org);
		p->found = record_at(R, org, &p->rec);
	}
	return p;
}

/* The organizational domain of d into out (d itself without one). */
static void org_of(struct run *R, const char *d, char *out, size_t outsz)
{
	if (!R->psl || dmarc_psl_org_domain(R->psl, d, out, outsz) != 0)
		snprintf(out, outsz, "%s", d);
}

/* Parse a rua list into v[0..max): mailto: only, "!size" read (k, m, g,
 * t units).  Returns how many. */
static size_t rua_parse(const char *list, struct rua *v, size_t max)
{
	size_t n = 0;
	const char *p = list;

	while (*p && n < max) {
		const char *e = strchr(p, ','), *at, *bang;
		size_t len;
		char u[ADDR_MAX + 64];

		if (!e)
			e = p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		len = (size_t)(e - p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 7 && len < sizeof(u) && !strncasecmp(p, "mailto:", 7)) {
			memcpy(u, p + 7, len - 7);
			u[len - 7] = '\0';
			bang = strchr(u, '!');
			memset(&v[n], 0, sizeof(v[n]));
			if (bang) {
				char *end;
				unsigned long long sz = strtoull(bang + 1, &end, 10);
				int c = *end | 0x20;	/* k and K alike */
				int sh = c == 'k' ? 10 : c == 'm' ? 20 :
					 c == 'g' ? 30 : c == 't' ? 40 : 0;

				v[n].limit = sz << sh;
				u[bang - u] = '\0';
			}
			at = strrchr(u, '@');
			if (at && at > u && at[1] && strlen(u) < ADDR_MAX &&
			    !strpbrk(u, " \t<>\"\r\n") && strlen(at + 1) < 254) {
				snprintf(v[n].addr, sizeof(v[n].addr), "%s", u);
				snprintf(v[n].host, sizeof(v[n].host), "%s",
					 at + 1);
				for (char *c = v[n].host; *c; c++)
					*c = (char)(*c >= 'A' && *c <= 'Z' ?
						    *c + 32 : *c);
				n++;
			}
		}
		p = *e ? e + 1 : e;
	}
	return n;
}

/* May reports for domain go to u?  1 yes (u maybe replaced by the
 * destination's own rua), 0 no, -1 tempfail. */
static int rua_authorised(struct run *R, const char *domain, struct rua *u)
{
	char o1[254], o2[254], name[600];
	size_t i;

	org_of(R, domain, o1, sizeof(o1));
	org_of(R, u->host, o2, sizeof(o2));
	if (!strcmp(o1, o2))
		return 1;
	snprintf(name, sizeof(name), "%s._report._dmarc.%s", domain, u->host);
	if (ask_txt(R, name) < 0)
		return -1;
	for (i = 0; i < R->ntxt; i++) {
		struct dmarc_record rec;
		struct rua over[CORE_DMARC_SEND_RUA];
		size_t n, k;

		if (!starts_dmarc1(R->txt[i]))
			continue;
		dmarc_record_parse(R->txt[i], strlen(R->txt[i]), &rec);
		n = rec.rua[0] ? rua_parse(rec.rua, over, CORE_DMARC_SEND_RUA) : 0;
		if (n == 0)
			return 1;
		for (k = 0; k < n; k++)
			if (!strcmp(over[k].host, u->host)) {
				*u = over[k];	/* step 9: same host only */
				return 1;
			}
		return 0;	/* only other hosts: neither (step 9) */
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* SMTP                                                                 */

/* The message being uploaded. */
struct upload {
	const char *p;
	size_t left;
};

/* CURLOPT_READFUNCTION. */
static size_t up_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nitems < u->left ? size * nitems : u->left;

	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/* Hand msg to the relay for to: 0 sent, 1 temporary failure, 2 refused;
 * detail says why. */
static int smtp_send(struct run *R, const char *to, const char *msg,
		     size_t len, char *detail, size_t dsz)
{
	struct curl_slist *rcpt = NULL;
	struct upload u = { msg, len };
	char from[ADDR_MAX + 2], rc[ADDR_MAX + 2], ebuf[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURLcode c;

	if (!R->curl && !(R->curl = curl_easy_init())) {
		snprintf(detail, dsz, "libcurl cannot start");
		return 1;
	}
	snprintf(from, sizeof(from), "<%s>", R->from);
	snprintf(rc, sizeof(rc), "<%s>", to);
	rcpt = curl_slist_append(rcpt, rc);
	curl_easy_setopt(R->curl, CURLOPT_URL, R->o->cfg->dmarc_report_relay);
	curl_easy_setopt(R->curl, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(R->curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(R->curl, CURLOPT_READFUNCTION, up_read);
	curl_easy_setopt(R->curl, CURLOPT_READDATA, &u);
	curl_easy_setopt(R->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(R->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(R->curl, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(R->curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(R->curl, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(R->curl, CURLOPT_NOSIGNAL, 1L);
	c = curl_easy_perform(R->curl);
	curl_easy_getinfo(R->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(R->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(rcpt);
	if (c == CURLE_OK) {
		snprintf(detail, dsz, "relay answered %ld", code);
		return 0;
	}
	snprintf(detail, dsz, "%s (SMTP %ld)", ebuf[0] ? ebuf :
		 curl_easy_strerror(c), code);
	return code >= 500 && code < 600 ? 2 : 1;
}

/* ------------------------------------------------------------------ */
/* Reports                                                              */

/* Record what happened to report rid for rua u; 0 or -1 (store down). */
static int record(struct run *R, const char *rid, const char *day,
		  const char *domain, const struct rua *u, size_t bytes,
		  const char *result, long attempts)
{
	char key[600];
	char *v;
	int r;
	json_t *j = json_pack("{ss ss ss ss sI ss sI sI}", "day", day,
			      "domain", domain, "rua", u->addr, "host",
			      u->host, "bytes", (json_int_t)bytes, "result",
			      result, "attempts", (json_int_t)attempts,
			      "time", (json_int_t)R->o->now);

	snprintf(key, sizeof(key), "%s|%s", rid, u->addr);
	v = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	r = sync_put(R, CORE_DMARC_SENT_NS, key, v, R->o->now + SENT_TTL);
	free(v);
	return r;
}

/* Bump the totals for result. */
static void count(struct core_dmarc_send_totals *t, const char *result)
{
	static const struct { const char *name; size_t off; } m[] = {
		{ "sent", offsetof(struct core_dmarc_send_totals, sent) },
		{ "duplicate", offsetof(struct core_dmarc_send_totals, duplicate) },
		{ "unauthorised", offsetof(struct core_dmarc_send_totals, unauthorised) },
		{ "too_large", offsetof(struct core_dmarc_send_totals, too_large) },
		{ "deferred", offsetof(struct core_dmarc_send_totals, deferred) },
		{ "tempfail", offsetof(struct core_dmarc_send_totals, tempfail) },
		{ "refused", offsetof(struct core_dmarc_send_totals, refused) },
		{ "written", offsetof(struct core_dmarc_send_totals, written) },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (!strcmp(m[i].name, result))
			(*(size_t *)((char *)t + m[i].off))++;
}

/* The previous attempts at key's report for u (0: none), and whether its
 * result is final (sent, refused, too_large). */
static long prior(struct run *R, const char *rid, const struct rua *u,
		  bool *final, int *err)
{
	char key[600];
	json_t *j;
	const char *res;
	long n;

	*final = false;
	snprintf(key, sizeof(key), "%s|%s", rid, u->addr);
	if (sync_get(R, CORE_DMARC_SENT_NS, key) < 0) {
		*err = 1;
		return 0;
	}
	if (!R->value)
		return 0;
	j = json_loads(R->value, 0, NULL);
	res = json_string_value(json_object_get(j, "result"));
	*final = res && (!strcmp(res, "sent") || !strcmp(res, "refused") ||
			 !strcmp(res, "too_large"));
	n = (long)json_integer_value(json_object_get(j, "attempts"));
	json_decref(j);
	return n;
}

/* Deliver one built report (message per rua); -1 when the store fails. */
static int deliver(struct run *R, struct core_dmarc_send_event *ev,
		   const struct core_dmarc_out_meta *m,
		   const struct policy *p, const char *gz, size_t gzlen)
{
	struct rua v[CORE_DMARC_SEND_RUA];
	size_t n = rua_parse(p->rec.rua, v, CORE_DMARC_SEND_RUA);
	char detail[CURL_ERROR_SIZE + 64];

	if (n == 0) {
		ev->result = "no_rua";
		ev->rua = "";
		ev->detail = "the DMARC record asks for no mailto: reports";
		event(R, ev);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct rua u = v[i];
		char *msg = NULL;
		size_t len = 0;
		bool final = false;
		int err = 0, a, s;
		long att = prior(R, m->report_id, &u, &final, &err);
		long *hc;

		if (err)
			return -1;
		detail[0] = '\0';
		ev->rua = v[i].addr;
		ev->detail = detail;
		ev->bytes = 0;
		if (final) {
			ev->result = "duplicate";
			snprintf(detail, sizeof(detail), "sent before");
			goto next;
		}
		a = rua_authorised(R, p->domain, &u);
		if (a <= 0) {
			ev->result = a < 0 ? "tempfail" : "unauthorised";
			snprintf(detail, sizeof(detail), a < 0 ?
				 "no answer for %s._report._dmarc.%s" :
				 "%s._report._dmarc.%s does not authorise it",
				 p->domain, v[i].host);
			if (R->o->send && record(R, m->report_id, ev->day,
						 p->domain, &v[i], 0, ev->result,
						 att) < 0)
				return -1;
			goto next;
		}
		if (core_dmarc_out_mail(m, p->domain, R->from, u.addr,
					R->o->now, gz, gzlen, &msg, &len) < 0) {
			ev->result = "tempfail";
			snprintf(detail, sizeof(detail), "the message could "
				 "not be built");
			goto next;
		}
		ev->bytes = len;
		if (len > (size_t)R->o->cfg->dmarc_report_max_bytes ||
		    (u.limit && len > u.limit)) {
			ev->result = "too_large";
			snprintf(detail, sizeof(detail), "%zu bytes, the limit "
				 "is %llu", len, (unsigned long long)(u.limit &&
				 u.limit < (uint64_t)R->o->cfg->dmarc_report_max_bytes ?
				 u.limit : (uint64_t)R->o->cfg->dmarc_report_max_bytes));
		} else if (!R->o->send) {
			ev->result = "would_send";
		} else if (*(hc = host_count(R, u.host)) >=
			   R->o->cfg->dmarc_report_dest_per_day) {
			ev->result = "deferred";
			snprintf(detail, sizeof(detail), "%ld reports to %s in "
				 "24 hours already", *hc, u.host);
		} else {
			s = smtp_send(R, u.addr, msg, len, detail,
				      sizeof(detail));
			ev->result = s == 0 ? "sent" : s == 1 ? "tempfail" :
				     "refused";
			if (s == 0)
				(*hc)++;
			att++;
		}
		free(msg);
		if (R->o->send && record(R, m->report_id, ev->day, p->domain,
					 &u, ev->bytes, ev->result, att) < 0)
			return -1;
next:
		count(R->tot, ev->result);
		event(R, ev);
	}
	return 0;
}

/* Write the XML of a dry run to out_dir; 0 or -1 with err. */
static int write_xml(struct run *R, struct core_dmarc_send_event *ev,
		     const char *domain, const char *xml, size_t len,
		     char *err, size_t errsz)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s!%s.xml", R->o->out_dir, domain,
		 ev->day);
	f = fopen(path, "w");
	if (!f || fwrite(xml, 1, len, f) != len || fclose(f) != 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	ev->result = "written";
	ev->detail = path;
	ev->rua = "";
	ev->bytes = len;
	count(R->tot, "written");
	event(R, ev);
	return 0;
}

/* Build and deliver the report of policy domain pol for the day. */
static int one_report(struct run *R, const char *day, int64_t begin,
		      const struct policy *pol, const size_t *canon,
		      const size_t *pidx, char *err, size_t errsz)
{
	struct core_dmarc_row *rows = xcalloc(R->nrows, sizeof(*rows));
	size_t k = (size_t)(pol - R->pol);
	struct core_dmarc_out_meta m;
	struct core_dmarc_out_policy op;
	struct core_dmarc_send_event ev;
	char rid[600];
	char *xml = NULL, *gz = NULL;
	size_t n = 0, xlen = 0, gzlen = 0, i;
	int rc = 0;

	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < R->nrows; i++)
		if (canon[pidx[i]] == k) {
			rows[n++] = R->rows[i];
			ev.messages += R->rows[i].count;
		}
	if (n == 0) {
		free(rows);
		return 0;
	}
	snprintf(rid, sizeof(rid), "%s_%s@%s", day, pol->domain, R->submitter);
	m = (struct core_dmarc_out_meta){ .org_name = R->org_name,
		.email = R->from, .submitter = R->submitter,
		.report_id = rid, .begin = begin, .end = begin + 86399 };
	op = (struct core_dmarc_out_policy){ .domain = pol->domain,
		.p = dmarc_policy_name(pol->rec.p),
		.sp = pol->rec.sp ? dmarc_policy_name(pol->rec.sp) : "",
		.np = pol->rec.np ? dmarc_policy_name(pol->rec.np) : "",
		.adkim = pol->rec.adkim, .aspf = pol->rec.aspf,
		.testing = pol->rec.testing, .discovery = "psl" };
	ev.day = day;
	ev.domain = pol->domain;
	ev.report_id = rid;
	ev.records = n;
	R->tot->reports++;
	if (core_dmarc_out_xml(&m, &op, rows, n, &xml, &xlen) < 0 ||
	    core_dmarc_out_gzip(xml, xlen, &gz, &gzlen) < 0) {
		snprintf(err, errsz, "%s: the report could not be built",
			 pol->domain);
		rc = -1;
	} else if (R->o->out_dir && write_xml(R, &ev, pol->domain, xml, xlen,
					       err, errsz) < 0) {
		rc = -1;
	} else if (deliver(R, &ev, &m, pol, gz, gzlen) < 0) {
		snprintf(err, errsz, "the store failed");
		rc = -1;
	}
	free(xml);
	free(gz);
	free(rows);
	return rc;
}

/* One day: rows, discovery, one report per policy domain. */
static int one_day(struct run *R, const char *day, char *err, size_t errsz)
{
	char prefix[16];
	struct tm tm;
	int64_t begin;
	size_t i, j, k, *pidx, *canon;
	bool tempfail = false;
	int rc = 0;

	memset(&tm, 0, sizeof(tm));
	if (strlen(day) != 10 || !strptime(day, "%Y-%m-%d", &tm) ||
	    tm.tm_mday < 1) {
		snprintf(err, errsz, "\"%s\" is not a day YYYY-MM-DD", day);
		return -1;
	}
	begin = (int64_t)timegm(&tm);
	snprintf(prefix, sizeof(prefix), "%.10s|", day);
	rows_free(R);
	R->answered = 0;
	store_scan(R->o->st, AGG_NS, prefix, agg_row, R);
	if (!R->answered || R->result != STORE_OK) {
		snprintf(err, errsz, "the store %s", R->answered ?
			 "failed" : "answers asynchronously (use sqlite:)");
		return -1;
	}
	pidx = xcalloc(R->nrows ? R->nrows : 1, sizeof(*pidx));
	for (i = 0; i < R->nrows; i++) {
		const struct policy *p = policy_of(R, R->rows[i].header_from);

		tempfail |= p->found < 0;
		pidx[i] = (size_t)(p - R->pol);	/* R->pol is final below */
	}
	if (tempfail) {
		struct core_dmarc_send_event ev = { .day = day, .domain = "",
			.report_id = "", .rua = "", .result = "tempfail",
			.detail = "a DMARC record could not be looked up: the "
				  "day waits for the next run" };

		count(R->tot, "tempfail");
		event(R, &ev);
		free(pidx);
		return 0;
	}
	/* canon[k]: the first policy entry with k's policy domain (a
	 * subdomain's From shares its organizational domain's report);
	 * one report per canonical entry that has rows today. */
	canon = xcalloc(R->npol ? R->npol : 1, sizeof(*canon));
	for (k = 0; k < R->npol; k++) {
		canon[k] = k;
		for (j = 0; j < k; j++)
			if (R->pol[j].found == 1 && R->pol[k].found == 1 &&
			    !strcmp(R->pol[j].domain, R->pol[k].domain)) {
				canon[k] = j;
				break;
			}
	}
	for (k = 0; k < R->npol && rc == 0; k++) {
		const struct policy *p = &R->pol[k];

		if (p->found != 1 || canon[k] != k || (R->o->domain &&
		    strcasecmp(R->o->domain, p->domain)))
			continue;
		rc = one_report(R, day, begin, p, canon, pidx, err, errsz);
	}
	free(canon);
	free(pidx);
	return rc;
}

/* Set the names: org_name, from, submitter; -1 with err without from. */
static int names(struct run *R, char *err, size_t errsz)
{
	const struct config *cfg = R->o->cfg;
	const char *at = strrchr(cfg->dmarc_report_from, '@');

	if (!at || at == cfg->dmarc_report_from || !at[1] ||
	    strlen(cfg->dmarc_report_from) >= sizeof(R->from) ||
	    strpbrk(cfg->dmarc_report_from, " \t<>\"\r\n")) {
		snprintf(err, errsz, "dmarc_report_from must be an address "
			 "(local@domain) whose domain passes DMARC");
		return -1;
	}
	snprintf(R->from, sizeof(R->from), "%s", cfg->dmarc_report_from);
	snprintf(R->submitter, sizeof(R->submitter), "%s", at + 1);
	if (cfg->dmarc_report_org_name[0])
		snprintf(R->org_name, sizeof(R->org_name), "%s",
			 cfg->dmarc_report_org_name);
	else if (gethostname(R->org_name, sizeof(R->org_name) - 1) != 0)
		snprintf(R->org_name, sizeof(R->org_name), "%s", R->submitter);
	return 0;
}

int core_dmarc_send_run(const struct core_dmarc_send_opts *o,
			struct core_dmarc_send_totals *tot, char *err,
			size_t errsz)
{
	struct run R;
	char day[16];
	int rc = 0, d;

	memset(&R, 0, sizeof(R));
	memset(tot, 0, sizeof(*tot));
	R.o = o;
	R.tot = tot;
	if (names(&R, err, errsz) < 0)
		return -1;
	if (o->out_dir) {
		struct stat sb;

		if (stat(o->out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			snprintf(err, errsz, "%s is not a directory",
				 o->out_dir);
			return -1;
		}
	}
	if (o->send) {
		R.answered = 0;
		store_scan(o->st, CORE_DMARC_SENT_NS, "", sent_row, &R);
		if (!R.answered || R.result != STORE_OK) {
			snprintf(err, errsz, "the store %s", R.answered ?
				 "failed" : "answers asynchronously (use sqlite:)");
			free(R.hc);
			return -1;
		}
	}
	R.dns = dns_blocking_new(o->dns ? o->dns : o->cfg->dns_upstream,
				 (int)o->cfg->dns_timeout_ms, err, errsz);
	if (!R.dns) {
		free(R.hc);
		return -1;
	}
	R.psl = dmarc_psl_load(NULL);
	for (d = o->day ? 0 : CORE_DMARC_SEND_DAYS; d >= 1 || (o->day && d == 0);
	     d--) {
		time_t t = (time_t)(o->now - 86400L * d);
		struct tm tm;

		if (o->day) {
			snprintf(day, sizeof(day), "%.10s", o->day);
		} else {
			gmtime_r(&t, &tm);
			strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		}
		if ((rc = one_day(&R, day, err, errsz)) < 0 || o->day)
			break;
	}
	rows_free(&R);
	free(R.rows);
	free(R.keys);
	free(R.pol);
	free(R.hc);
	free(R.value);
	for (size_t i = 0; i < R.ntxt; i++)
		free(R.txt[i]);
	if (R.curl)
		curl_easy_cleanup(R.curl);
	dmarc_psl_free(R.psl);
	dns_blocking_close(R.dns);
	dns_resolver_free(R.dns);
	return rc;
}
