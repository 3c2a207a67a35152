/*
 * mailauth - the inbound mail-authentication decision for one message.
 *
 * See mailauth.h for the contract and docs/design/milter.md for the
 * policy.  Order of work: headers and body stream into the DKIM verifier
 * as they arrive (nothing but the From and our-id bookkeeping is kept);
 * at the end SPF runs, then the DKIM key questions are answered, then
 * DMARC is evaluated from both, then the policy maps the DMARC result to
 * an action.  All DNS goes through ask(), which turns an unanswered
 * question into DNS_TEMPFAIL.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/mailauth.h"
#include "dns/dns.h"
#include "mail/authres.h"
#include "mail/dkim.h"
#include "mail/dmarc.h"
#include "mail/spf.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/xalloc.h"

#define AR_NAME "Authentication-Results"
#define OUT_MAX 65536		/* one generated header value */

struct mailauth {
	const struct mailauth_config *cfg;
	struct dmarc_config dcfg;
	char *ip, *helo, *mailfrom;
	struct dkim_verify *dkim;
	struct buf tmp;			/* LF -> CRLF of one header value */
	bool body_cr;			/* last body byte fed was CR */
	char *from[MAILAUTH_MAX_FROM];
	size_t from_len[MAILAUTH_MAX_FROM];
	size_t nfrom;			/* From fields seen (may exceed kept) */
	int nar;			/* Authentication-Results seen */
	int del_idx[MAILAUTH_MAX_DEL];
	size_t ndel;
	bool ended;
	struct buf ar, rspf, reply, reason, tag;
	char from_domain[DMARC_DOMAIN_MAX];
	struct mailauth_verdict v;
};

/* An answer being waited for by ask(). */
struct ask {
	bool done;
	struct dns_answer *a;
};

static const struct dns_answer tempfail_answer = { .rcode = DNS_TEMPFAIL };

/* Resolver callback for ask(): keep a copy. */
static void ask_cb(void *arg, const struct dns_answer *ans)
{
	struct ask *k = arg;

	if (k->done)
		return;
	k->a = dns_answer_dup(ans);
	k->done = true;
}

/* Ask q synchronously; a copy the caller frees.  Unanswered: TEMPFAIL. */
static struct dns_answer *ask(struct dns_resolver *r,
			      const struct dns_question *q)
{
	struct ask k = { 0 };

	if (r)
		dns_query(r, q, ask_cb, &k);
	if (!k.done)
		return dns_answer_dup(&tempfail_answer);
	return k.a;
}

const char *mailauth_action_name(enum mailauth_action a)
{
	switch (a) {
	case MAILAUTH_ACCEPT: return "accept";
	case MAILAUTH_REJECT: return "reject";
	case MAILAUTH_TEMPFAIL: return "tempfail";
	case MAILAUTH_QUARANTINE: return "quarantine";
	}
	return "?";
}

struct mailauth *mailauth_new(const struct mailauth_config *cfg)
{
	struct mailauth *m = xcalloc(1, sizeof(*m));
	struct dkim_options opt = { .now = cfg->now, .skew = 300 };

	m->cfg = cfg;
	if (cfg->dmarc)
		m->dcfg = *cfg->dmarc;
	else
		dmarc_config_init(&m->dcfg);
	m->dkim = dkim_verify_new(&opt);
	buf_init(&m->tmp, DKIM_MAX_SIG_LEN * 2);
	buf_init(&m->ar, OUT_MAX);
	buf_init(&m->rspf, OUT_MAX);
	buf_init(&m->reply, 1024);
	buf_init(&m->reason, 1024);
	buf_init(&m->tag, 1024);
	return m;
}

void mailauth_free(struct mailauth *m)
{
	size_t i;

	if (!m)
		return;
	free(m->ip);
	free(m->helo);
	free(m->mailfrom);
	dkim_verify_free(m->dkim);
	for (i = 0; i < MAILAUTH_MAX_FROM; i++)
		free(m->from[i]);
	buf_deinit(&m->tmp);
	buf_deinit(&m->ar);
	buf_deinit(&m->rspf);
	buf_deinit(&m->reply);
	buf_deinit(&m->reason);
	buf_deinit(&m->tag);
	free(m);
}

void mailauth_envelope(struct mailauth *m, const char *client_ip,
		       const char *helo, const char *mailfrom)
{
	free(m->ip);
	free(m->helo);
	free(m->mailfrom);
	m->ip = client_ip && client_ip[0] ? xstrdup(client_ip) : NULL;
	m->helo = xstrdup(helo ? helo : "");
	m->mailfrom = xstrdup(mailfrom ? mailfrom : "");
}

/* Put value into m->tmp with every bare LF turned into CRLF; 0 or -1. */
static int to_crlf(struct mailauth *m, const char *v, size_t n)
{
	size_t i, start = 0;
	const char *lf;

	buf_reset(&m->tmp);
	for (i = 0; i < n && (lf = memchr(v + i, '\n', n - i)) != NULL;
	     i++) {
		i = (size_t)(lf - v);
		if (i > 0 && v[i - 1] == '\r')
			continue;
		if (buf_append(&m->tmp, v + start, i - start) ||
		    buf_append(&m->tmp, "\r\n", 2))
			return -1;
		start = i + 1;
	}
	return buf_append(&m->tmp, v + start, n - start) ? -1 : 0;
}

void mailauth_header(struct mailauth *m, const char *name,
		     const char *value, size_t vlen)
{
	size_t nlen = strlen(name);

	if (m->ended)
		return;
	/* Oversized values go to the verifier as they are: it counts them
	 * against DKIM_MAX_HEADER_BYTES and fails the signatures. */
	if (to_crlf(m, value, vlen) == 0) {
		value = m->tmp.p;
		vlen = m->tmp.len;
	}
	dkim_verify_header(m->dkim, name, nlen, value, vlen);
	if (strcasecmp(name, "From") == 0) {
		if (m->nfrom < MAILAUTH_MAX_FROM) {
			m->from[m->nfrom] = xstrndup(value, vlen);
			m->from_len[m->nfrom] = vlen;
		}
		m->nfrom++;
	} else if (strcasecmp(name, AR_NAME) == 0) {
		m->nar++;
		/* RFC 8601 5: a field with our authserv-id that we did not
		 * write is forged; it goes. */
		if (m->ndel < MAILAUTH_MAX_DEL &&
		    authres_is_ours(value, vlen, false, m->cfg->authserv_id))
			m->del_idx[m->ndel++] = m->nar;
	}
}

void mailauth_body(struct mailauth *m, const void *p, size_t n)
{
	const char *s = p, *lf;
	size_t i, start = 0;

	if (m->ended || n == 0)
		return;
	/* Only a bare LF needs work: memchr jumps between the LFs (most
	 * bodies arrive in CRLF already). */
	for (i = 0; (lf = memchr(s + i, '\n', n - i)) != NULL; i++) {
		bool prev_cr;

		i = (size_t)(lf - s);
		prev_cr = i > 0 ? s[i - 1] == '\r' : m->body_cr;
		if (prev_cr)
			continue;
		dkim_verify_body(m->dkim, s + start, i - start);
		dkim_verify_body(m->dkim, "\r\n", 2);
		start = i + 1;
	}
	dkim_verify_body(m->dkim, s + start, n - start);
	m->body_cr = s[n - 1] == '\r';
}

/* End of the line starting at p[i]: the index after its LF (or n). */
static size_t line_end(const char *p, size_t n, size_t i)
{
	const char *lf = memchr(p + i, '\n', n - i);

	return lf ? (size_t)(lf - p) + 1 : n;
}

/* Length of a field name at p[0..n) followed by optional WSP and ':'
 * (RFC 5322 3.6.8 ftext; obs-optional WSP), or 0 if it is not one. */
static size_t field_name(const char *p, size_t n, size_t *colon)
{
	size_t i = 0, len;

	while (i < n && p[i] > ' ' && p[i] < 0x7f && p[i] != ':')
		i++;
	len = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (len == 0 || i == n || p[i] != ':')
		return 0;
	*colon = i;
	return len;
}

size_t mailauth_message(struct mailauth *m, const char *p, size_t n)
{
	size_t i = 0, fields = 0;

	if (n >= 5 && memcmp(p, "From ", 5) == 0)
		i = line_end(p, n, 0);
	while (i < n) {
		size_t e = line_end(p, n, i), colon, nlen, vend;
		char name[256];

		if (p[i] == '\n' || (p[i] == '\r' && i + 1 < n &&
				     p[i + 1] == '\n')) {
			i = e;		/* the empty line: the body follows */
			break;
		}
		nlen = field_name(p + i, e - i, &colon);
		if (nlen == 0 || nlen >= sizeof(name))
			break;		/* not a field: the body starts here */
		/* Continuation lines belong to the field. */
		while (e < n && (p[e] == ' ' || p[e] == '\t'))
			e = line_end(p, n, e);
		vend = e;
		if (vend > i && p[vend - 1] == '\n')
			vend--;
		if (vend > i && p[vend - 1] == '\r')
			vend--;
		memcpy(name, p + i, nlen);
		name[nlen] = '\0';
		mailauth_header(m, name, p + i + colon + 1,
				vend - (i + colon + 1));
		fields++;
		i = e;
	}
	if (i < n)
		mailauth_body(m, p + i, n - i);
	return fields;
}

/* Run SPF to the end; the evaluator, or NULL without a usable client. */
static struct spf *run_spf(struct mailauth *m, struct dns_resolver *r)
{
	struct spf *s;
	struct dns_question q;

	if (!m->ip)
		return NULL;
	s = spf_new(m->ip, m->mailfrom, m->helo, m->cfg->receiver);
	if (!s)
		return NULL;
	while (spf_step(s, &q) == SPF_NEED_DNS) {
		struct dns_answer *a = ask(r, &q);

		spf_answer(s, a);
		dns_answer_free(a);
	}
	return s;
}

/* Answer every DKIM key question. */
static void run_dkim(struct mailauth *m, struct dns_resolver *r)
{
	const struct dns_question *q;
	size_t id;

	dkim_verify_eom(m->dkim);
	while ((q = dkim_verify_next_question(m->dkim, &id)) != NULL) {
		struct dns_answer *a = ask(r, q);

		dkim_verify_answer(m->dkim, id, a);
		dns_answer_free(a);
	}
}

/* The domain of an address (after the last '@'), or "" . */
static const char *addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

/* Evaluate DMARC into *res; the From verdict is returned. */
static enum dmarc_from_verdict run_dmarc(struct mailauth *m,
					 struct dns_resolver *r,
					 const struct spf *s,
					 struct dmarc_result *res)
{
	struct dmarc_from from;
	struct dmarc_input in = { 0 };
	struct dmarc_eval *e;
	struct dns_question q;
	struct dns_answer *a = NULL;
	const char *vals[MAILAUTH_MAX_FROM];
	size_t i, n = dkim_verify_count(m->dkim);

	for (i = 0; i < m->nfrom && i < MAILAUTH_MAX_FROM; i++)
		vals[i] = m->from[i];
	if (m->nfrom > MAILAUTH_MAX_FROM) {
		from.verdict = DMARC_FROM_MULTIPLE_FIELDS;
	} else {
		dmarc_from_parse(vals, m->from_len, m->nfrom, &from);
	}
	if (from.verdict != DMARC_FROM_OK) {
		dmarc_result_from_verdict(&m->dcfg, from.verdict, res);
		return from.verdict;
	}
	snprintf(m->from_domain, sizeof(m->from_domain), "%s", from.domain[0]);
	in.author_domain = m->from_domain;
	if (s) {
		in.spf_domain = spf_is_helo(s) ? m->helo :
			addr_domain(m->mailfrom);
		in.spf_pass = spf_result(s) == SPF_PASS;
	}
	for (i = 0; i < n && in.ndkim < DMARC_DKIM_MAX; i++) {
		const struct dkim_result *dr = dkim_verify_result(m->dkim, i);

		if (dr->res == DKIM_PASS)
			in.dkim_domains[in.ndkim++] = dr->d;
	}
	in.pct_sample = rand() % 100;
	e = dmarc_eval_new(&in, &m->dcfg);
	while (dmarc_eval_step(e, a, &q) == DMARC_E_NEED_DNS) {
		dns_answer_free(a);
		a = ask(r, &q);
	}
	dns_answer_free(a);
	*res = *dmarc_eval_result(e);
	dmarc_eval_free(e);
	return from.verdict;
}

/* The best DKIM result name over all signatures: pass first. */
static const char *dkim_summary(struct dkim_verify *d, bool *temperror)
{
	size_t i, n = dkim_verify_count(d);
	const char *first = "none";

	*temperror = false;
	for (i = 0; i < n; i++) {
		const struct dkim_result *r = dkim_verify_result(d, i);

		if (r->res == DKIM_PASS)
			return "pass";
		if (r->res == DKIM_TEMPERROR)
			*temperror = true;
		if (i == 0)
			first = dkim_res_name(r->res);
	}
	return first;
}

/* Append the dmarc= method entry to m->ar. */
static void format_dmarc(struct mailauth *m, const struct dmarc_result *res,
			 enum dmarc_from_verdict fv)
{
	struct buf *b = &m->ar;

	/* buf_puts where printf only joined strings: the same bytes for a
	 * tenth of the instructions (this runs on every message) */
	buf_puts(b, ";\n\tdmarc=");
	buf_puts(b, dmarc_status_name(res->status));
	if (fv != DMARC_FROM_OK)
		buf_printf(b, " (dis=%s) reason=\"From: %s\"",
			   dmarc_policy_name(res->disposition),
			   dmarc_from_verdict_name(fv));
	else if (res->policy_domain[0] && buf_puts(b, " (p=") == 0 &&
		 buf_puts(b, dmarc_policy_name(res->rec.p)) == 0 &&
		 buf_puts(b, " dis=") == 0 &&
		 buf_puts(b, dmarc_policy_name(res->status == DMARC_FAIL ?
					       res->disposition :
					       DMARC_P_NONE)) == 0)
		buf_puts(b, ")");
	if (m->from_domain[0] && buf_puts(b, " header.from=") == 0)
		buf_puts(b, m->from_domain);
}

/* Build the Authentication-Results and Received-SPF values. */
static void format_headers(struct mailauth *m, const struct spf *s,
			   const struct dmarc_result *res,
			   enum dmarc_from_verdict fv)
{
	size_t i, n = dkim_verify_count(m->dkim);

	if (buf_puts(&m->ar, m->cfg->authserv_id) == 0)
		buf_puts(&m->ar, ";\n\t");
	if (s) {
		spf_auth_results(s, &m->ar);
		spf_received_spf_header(s, &m->rspf);
	} else {
		buf_puts(&m->ar, "spf=none (no client address)");
	}
	if (n == 0)
		buf_puts(&m->ar, ";\n\tdkim=none");
	for (i = 0; i < n; i++) {
		buf_puts(&m->ar, ";\n\t");
		dkim_format_result(&m->ar, dkim_verify_result(m->dkim, i));
	}
	format_dmarc(m, res, fv);
}

/* Is the DMARC result open to doubt because a DNS answer was missing? */
static bool dns_doubt(const struct dmarc_result *res, const struct spf *s,
		      bool dkim_temperror)
{
	if (res->status == DMARC_TEMPERROR)
		return true;
	if (res->status != DMARC_FAIL || res->src == DMARC_SRC_FROM)
		return false;
	return dkim_temperror || (s && spf_result(s) == SPF_TEMPERROR);
}

/* Apply quarantine per quarantine_action. */
static void quarantine(struct mailauth *m, const char *why)
{
	struct mailauth_verdict *v = &m->v;

	switch (m->cfg->quarantine_action) {
	case MAILAUTH_QA_HOLD:
		v->action = MAILAUTH_QUARANTINE;
		v->disposition = "quarantine";
		break;
	case MAILAUTH_QA_TAG:
		buf_printf(&m->tag, "quarantine (%s)", why);
		v->tag_name = "X-Mamori-DMARC";
		v->tag_value = m->tag.p;
		v->disposition = "quarantine";
		break;
	default:
		v->disposition = "none";
		break;
	}
}

/* Map the DMARC result to the action and reply. */
static void decide(struct mailauth *m, const struct spf *s,
		   const struct dmarc_result *res, enum dmarc_from_verdict fv,
		   bool dkim_temperror)
{
	struct mailauth_verdict *v = &m->v;
	const char *dom = m->from_domain[0] ? m->from_domain : "(none)";
	char why[512];
	bool exempt, forwarder;

	v->action = MAILAUTH_ACCEPT;
	v->disposition = "none";
	if (dns_doubt(res, s, dkim_temperror)) {
		buf_printf(&m->reason, "dmarc temperror for %s", dom);
		v->reason = m->reason.p;
		if (m->cfg->dns_fail_accept)
			return;
		v->action = MAILAUTH_TEMPFAIL;
		v->rcode = "451";
		v->xcode = "4.7.0";
		buf_printf(&m->reply, "Temporary DNS failure while checking "
			   "DMARC for %s, please try again later", dom);
		v->reply = m->reply.p;
		return;
	}
	if (res->status != DMARC_FAIL) {
		buf_printf(&m->reason, "dmarc %s for %s",
			   dmarc_status_name(res->status), dom);
		v->reason = m->reason.p;
		return;
	}
	if (fv != DMARC_FROM_OK)
		snprintf(why, sizeof(why), "From field: %s",
			 dmarc_from_verdict_name(fv));
	else
		snprintf(why, sizeof(why), "DMARC policy of %s, SPF=%s, DKIM=%s",
			 dom, v->spf_result, v->dkim_result);
	buf_printf(&m->reason, "dmarc fail (%s) disposition=%s", why,
		   dmarc_policy_name(res->disposition));
	v->reason = m->reason.p;
	forwarder = m->ip && mailauth_ip_in_list(m->cfg->trusted_forwarders,
						 m->ip);
	exempt = forwarder || (fv == DMARC_FROM_OK &&
			       config_list_has(m->cfg->override_domains ?
					       m->cfg->override_domains : "",
					       dom));
	if (res->disposition == DMARC_P_REJECT) {
		if (m->cfg->reject_action == MAILAUTH_RA_NONE)
			return;
		if (m->cfg->reject_action == MAILAUTH_RA_QUARANTINE || exempt) {
			v->overridden = exempt;
			quarantine(m, why);
			if (forwarder)
				v->override = "trusted_forwarder";
			return;
		}
		v->action = MAILAUTH_REJECT;
		v->disposition = "reject";
		v->rcode = "550";
		v->xcode = "5.7.1";
		if (fv != DMARC_FROM_OK)
			buf_printf(&m->reply, "Message rejected: DMARC needs "
				   "exactly one author domain in From (%s)",
				   dmarc_from_verdict_name(fv));
		else
			buf_printf(&m->reply, "Message rejected: the DMARC "
				   "policy of %s rejects mail that fails "
				   "authentication (SPF=%s, DKIM=%s)",
				   dom, v->spf_result, v->dkim_result);
		v->reply = m->reply.p;
	} else if (res->disposition == DMARC_P_QUARANTINE) {
		quarantine(m, why);
	}
}

/* The per-identifier part of the verdict (after decide()). */
static void idents(struct mailauth *m, const struct spf *s,
		   const struct dmarc_result *res)
{
	struct mailauth_verdict *v = &m->v;
	size_t i, n = dkim_verify_count(m->dkim), npass = 0;
	size_t first = n;		/* the aligned signature, if any */

	v->spf_domain = "";
	v->spf_scope = "";
	if (s) {
		v->spf_scope = spf_is_helo(s) ? "helo" : "mfrom";
		v->spf_domain = spf_is_helo(s) ? m->helo :
			addr_domain(m->mailfrom);
	}
	v->spf_aligned = res->spf_aligned;
	v->dkim_aligned = res->dkim_aligned;
	/* aligned_dkim counts passing signatures (run_dmarc's list). */
	for (i = 0; i < n && res->dkim_aligned && res->aligned_dkim >= 0;
	     i++) {
		if (dkim_verify_result(m->dkim, i)->res != DKIM_PASS)
			continue;
		if (npass++ == (size_t)res->aligned_dkim) {
			first = i;
			break;
		}
	}
	v->ndkim = 0;
	for (i = 0; i <= n && v->ndkim < MAILAUTH_DKIM_MAX; i++) {
		/* i == 0 stands for the aligned one, taken first. */
		size_t k = i == 0 ? first : i - 1;
		const struct dkim_result *dr;

		if (k >= n || (i > 0 && k == first))
			continue;
		dr = dkim_verify_result(m->dkim, k);
		v->dkim[v->ndkim].d = dr->d;
		v->dkim[v->ndkim].s = dr->s;
		v->dkim[v->ndkim++].result = dkim_res_name(dr->res);
	}
	/* RFC 9990 PolicyOverrideType: the disposition is not the one the
	 * policy asked for. */
	if (!v->override)
		v->override = "";
	if (res->status == DMARC_FAIL && !v->override[0] &&
	    strcmp(v->disposition, dmarc_policy_name(res->policy)) != 0)
		v->override = res->testing ? "policy_test_mode" :
			"local_policy";
}

const struct mailauth_verdict *mailauth_end(struct mailauth *m,
					    struct dns_resolver *r)
{
	struct mailauth_verdict *v = &m->v;
	struct dmarc_result res;
	enum dmarc_from_verdict fv;
	struct spf *s;
	bool dkim_temp;
	size_t i;

	if (m->ended)
		return v;
	m->ended = true;
	s = run_spf(m, r);
	run_dkim(m, r);
	fv = run_dmarc(m, r, s, &res);
	v->spf_result = spf_result_name(s ? spf_result(s) : SPF_NONE);
	v->dkim_result = dkim_summary(m->dkim, &dkim_temp);
	v->dmarc_result = dmarc_status_name(res.status);
	v->from_domain = m->from_domain;
	format_headers(m, s, &res, fv);
	v->ar = m->ar.p;
	v->received_spf = m->rspf.len ? m->rspf.p : NULL;
	decide(m, s, &res, fv, dkim_temp);
	idents(m, s, &res);
	/* Descending, so a deletion never renumbers one still to come. */
	for (i = 0; i < m->ndel; i++) {
		v->del[i].name = AR_NAME;
		v->del[i].index = m->del_idx[m->ndel - 1 - i];
	}
	v->ndel = m->ndel;
	spf_free(s);
	return v;
}

/* Parse "addr[/len]" into a 16-byte IPv6 form and prefix; 0 or -1. */
static int parse_net(const char *s, size_t n, unsigned char out[16],
		     int *plen)
{
	char tmp[64];
	const char *slash;
	struct in_addr a4;
	int max = 128;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	slash = strchr(tmp, '/');
	if (slash)
		tmp[slash - tmp] = '\0';
	if (inet_pton(AF_INET, tmp, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*plen = 128;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, out) == 1) {
		*plen = 128;
	} else {
		return -1;
	}
	if (slash) {
		char *end;
		long l = strtol(slash + 1, &end, 10);

		if (!slash[1] || *end || l < 0 || l > max)
			return -1;
		*plen = (int)l + (128 - max);
	}
	return 0;
}

bool mailauth_ip_in_list(const char *list, const char *ip)
{
	unsigned char a[16], net[16];
	const char *p = list;
	int alen, plen;

	if (!list || !ip || parse_net(ip, strlen(ip), a, &alen) != 0 ||
	    strchr(ip, '/'))
		return false;
	while (*p) {
		size_t len;
		int i;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len && parse_net(p, len, net, &plen) == 0) {
			for (i = 0; i < plen; i++) {
				int bit = 0x80 >> (i % 8);

				if ((a[i / 8] & bit) != (net[i / 8] & bit))
					break;
			}
			if (i == plen)
				return true;
		}
		p += len;
	}
	return false;
}

void mailauth_config_set(struct mailauth_config *ma, struct dmarc_config *dm,
			 char *authserv, size_t authsz,
			 const struct config *cfg,
			 const struct dmarc_psl *psl, const char **warn)
{
	if (warn)
		*warn = NULL;
	if (cfg->authserv_id[0])
		snprintf(authserv, authsz, "%s", cfg->authserv_id);
	else if (gethostname(authserv, authsz - 1) != 0)
		snprintf(authserv, authsz, "localhost");
	authserv[authsz - 1] = '\0';
	dmarc_config_init(dm);
	dm->mode = cfg->dmarc_mode ? DMARC_MODE_RFC7489 : DMARC_MODE_RFC9989;
	dm->psl = psl;
	if (dm->mode == DMARC_MODE_RFC7489 && !psl) {
		if (warn)
			*warn = "no Public Suffix List: dmarc_mode rfc9989 used";
		dm->mode = DMARC_MODE_RFC9989;
	}
	memset(ma, 0, sizeof(*ma));
	ma->authserv_id = authserv;
	ma->receiver = authserv;
	ma->dns_fail_accept = cfg->dns_failure_action == 1;
	ma->reject_action = cfg->dmarc_reject_action;
	ma->quarantine_action = cfg->dmarc_quarantine_action;
	ma->override_domains = cfg->dmarc_override_domains;
	ma->trusted_forwarders = cfg->dmarc_trusted_forwarders;
	ma->dmarc = dm;
}
