/*
 * domaincheck - the DNS walk of `mamori domain check` (core/domaincheck.h):
 * asks the questions through a local blocking resolver (dns_blocking, as
 * `mamori scan` does) and hands the answers to the sans-I/O record checks
 * of domaincheck_rec.c.
 *
 * SPF: the tree of include and redirect targets is walked breadth-first
 * up to DOMAINCHECK_SPF_RECORDS records, each record's DNS-querying terms
 * summed (RFC 7208 4.6.4 counts them over the whole check), and the names
 * a, mx and exists would ask for (without macros) are asked once each to
 * count void look-ups.  Every question counts toward
 * DOMAINCHECK_MAX_QUERIES; an unanswered one (tempfail) marks the report
 * incomplete, which `mamori domain check` turns into exit status 2.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/domaincheck-internal.h"
#include "dns/dns_blocking.h"
#include "mail/dkim.h"
#include "mail/dkim_sign.h"
#include "util/config.h"
#include "util/xalloc.h"

#define MX_MAX 10		/* MX hosts looked at (RFC 7208 4.6.4 too) */
#define URI_MAX 8		/* rua/ruf hosts looked at */
#define TXT_MAX 16		/* TXT strings of one name looked at */

struct walk {
	struct dns_resolver *dns;
	struct domaincheck_report *rep;
	struct dns_answer *a;	/* the last answer */
	const char *txt[TXT_MAX];
	size_t len[TXT_MAX], ntxt;
};

/* dns_query callback: keep a copy of the answer. */
static void got(void *arg, const struct dns_answer *ans)
{
	struct walk *w = arg;

	w->a = dns_answer_dup(ans);
}

/* Ask name/type; the answer in w->a (NULL past the cap).  Tempfail and
 * the cap mark the report incomplete. */
static const struct dns_answer *ask(struct walk *w, const char *name,
				    enum dns_type type)
{
	struct dns_question q;

	dns_answer_free(w->a);
	w->a = NULL;
	w->ntxt = 0;
	if (strlen(name) > 253)
		return NULL;	/* no such name can exist (RFC 1035 2.3.4) */
	if (w->rep->queries >= DOMAINCHECK_MAX_QUERIES) {
		w->rep->incomplete = true;
		return NULL;
	}
	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "%s", name);
	q.type = type;
	w->rep->queries++;
	dns_query(w->dns, &q, got, w);
	if (!w->a || w->a->rcode == DNS_TEMPFAIL) {
		if (!w->rep->incomplete)
			domaincheck_add(w->rep, DOMAINCHECK_ERROR,
					"dns.tempfail", "no answer for %s "
					"(timeout or SERVFAIL): the check is "
					"incomplete", name);
		w->rep->incomplete = true;
		return NULL;
	}
	if (type == DNS_T_TXT && w->a->rcode == DNS_OK)
		for (size_t i = 0; i < w->a->n && w->ntxt < TXT_MAX; i++)
			if (w->a->rr[i].type == DNS_T_TXT) {
				w->txt[w->ntxt] = w->a->rr[i].text;
				w->len[w->ntxt++] = w->a->rr[i].text_len;
			}
	return w->a;
}

/* Records of the asked type in a (0 for NXDOMAIN or none). */
static size_t count_rr(const struct dns_answer *a, enum dns_type type)
{
	size_t i, n = 0;

	for (i = 0; a && a->rcode == DNS_OK && i < a->n; i++)
		n += a->rr[i].type == type;
	return n;
}

/* Is the answer void (RFC 7208 4.6.4: NXDOMAIN or no records)? */
static bool is_void(const struct dns_answer *a, enum dns_type type)
{
	return a && (a->rcode == DNS_NXDOMAIN || count_rr(a, type) == 0);
}

/* Count the void look-ups of one record's a/mx/exists names. */
static unsigned spf_voids(struct walk *w, const char *domain,
			  const struct spf_lint *l)
{
	unsigned voids = 0;
	size_t i;

	for (i = 0; i < l->nquery; i++) {
		const char *name = l->query[i].name[0] ? l->query[i].name :
				   domain;
		const struct dns_answer *a;

		if (l->query[i].kind == 'm') {
			a = ask(w, name, DNS_T_MX);
			voids += is_void(a, DNS_T_MX);
			continue;
		}
		a = ask(w, name, DNS_T_A);
		if (!is_void(a, DNS_T_A) || !a)
			continue;
		if (l->query[i].kind == 'e') {
			voids++;	/* exists asks for A only (5.7) */
			continue;
		}
		a = ask(w, name, DNS_T_AAAA);
		voids += is_void(a, DNS_T_AAAA);
	}
	return voids;
}

/* Walk the SPF tree of w->rep->domain. */
static void check_spf(struct walk *w)
{
	char (*queue)[SPF_LINT_NAME_MAX] =
		xcalloc(DOMAINCHECK_SPF_RECORDS, SPF_LINT_NAME_MAX);
	struct spf_lint *lint = xcalloc(1, sizeof(*lint));	/* 8 KiB */
	size_t head = 0, tail = 0, i;
	unsigned lookups = 0, voids = 0, unwalked = 0;
	bool top = true;

	snprintf(queue[tail++], SPF_LINT_NAME_MAX, "%s", w->rep->domain);
	while (head < tail) {
		const char *name = queue[head++];
		const struct dns_answer *a = ask(w, name, DNS_T_TXT);
		int idx;

		if (!a)
			break;
		if (!top && is_void(a, DNS_T_TXT))
			voids++;	/* an include target: 4.6.4 */
		idx = domaincheck_spf_pick(w->rep, name, w->txt, w->len,
					   w->ntxt, top);
		if (idx < 0 || domaincheck_spf_record(w->rep, name,
				w->txt[idx], w->len[idx], top, lint) < 0) {
			if (top)
				goto out;
			top = false;
			continue;
		}
		top = false;
		lookups += lint->dns_terms;
		unwalked += (unsigned)lint->nskipped;
		voids += spf_voids(w, name, lint);
		for (i = 0; i <= lint->ninclude; i++) {
			const char *t = i < lint->ninclude ? lint->include[i] :
					lint->redirect;
			size_t k;

			if (!t[0])
				continue;
			for (k = 0; k < tail; k++)
				if (strcasecmp(queue[k], t) == 0)
					break;
			if (k < tail)
				continue;	/* a loop, or asked already */
			if (tail == DOMAINCHECK_SPF_RECORDS) {
				unwalked++;
				continue;
			}
			snprintf(queue[tail++], SPF_LINT_NAME_MAX, "%s", t);
		}
	}
	domaincheck_spf_totals(w->rep, lookups, voids, unwalked);
out:
	free(lint);
	free(queue);
}

/* The DMARC record; returns its p (DMARC_P_UNSPEC: none found). */
static enum dmarc_policy check_dmarc(struct walk *w, struct dmarc_psl *psl)
{
	struct domaincheck_report *rep = w->rep;
	char name[600], org[DMARC_DOMAIN_MAX] = "", hosts[URI_MAX][254];
	struct dmarc_record r;
	bool from_org = false;
	size_t i, nh;
	int st;

	snprintf(name, sizeof(name), "_dmarc.%s", rep->domain);
	if (!ask(w, name, DNS_T_TXT))
		return DMARC_P_UNSPEC;
	if (psl)
		dmarc_psl_org_domain(psl, rep->domain, org, sizeof(org));
	st = domaincheck_dmarc_pick(rep, name, w->txt, w->len, w->ntxt,
				    !org[0] || !strcasecmp(org, rep->domain),
				    &r);
	if (st == 1 && org[0] && strcasecmp(org, rep->domain)) {
		snprintf(name, sizeof(name), "_dmarc.%s", org);
		if (!ask(w, name, DNS_T_TXT))
			return DMARC_P_UNSPEC;
		st = domaincheck_dmarc_pick(rep, name, w->txt, w->len,
					    w->ntxt, true, &r);
		from_org = true;
	}
	if (st != 0)
		return DMARC_P_UNSPEC;
	domaincheck_dmarc_policy(rep, &r, from_org);
	for (int k = 0; k < 2; k++) {
		const char *tag = k ? "ruf" : "rua";

		nh = domaincheck_uri_hosts(k ? r.ruf : r.rua, hosts, URI_MAX);
		for (i = 0; i < nh; i++) {
			char horg[DMARC_DOMAIN_MAX] = "";
			const char *mine = org[0] ? org : rep->domain;

			if (psl)
				dmarc_psl_org_domain(psl, hosts[i], horg,
						     sizeof(horg));
			if (!strcasecmp(horg[0] ? horg : hosts[i], mine))
				continue;	/* our own organization */
			snprintf(name, sizeof(name), "%s._report._dmarc.%.253s",
				 rep->domain, hosts[i]);
			if (!ask(w, name, DNS_T_TXT))
				continue;
			domaincheck_dmarc_auth(rep, tag, hosts[i], w->txt,
					       w->len, w->ntxt);
		}
	}
	return r.testing && r.p == DMARC_P_REJECT ? DMARC_P_QUARANTINE : r.p;
}

/* The selectors: the keyring's for the domain, then the extra ones. */
static void check_dkim(struct walk *w, const struct config *cfg,
		       const char *const *sel, size_t nsel)
{
	struct domaincheck_report *rep = w->rep;
	unsigned char pub[DKIM_MAX_KEY];
	struct dkim_keyring *kr;
	const void *pk;
	const char *s;
	char err[256], name[600];
	size_t i, n = 0, publen;
	int bits;

	snprintf(err, sizeof(err), "dkim_key_dir is not set");
	kr = cfg->dkim_key_dir && *cfg->dkim_key_dir ?
	     dkim_keyring_load(cfg->dkim_key_dir, err, sizeof(err)) : NULL;
	if (!kr)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dkim.keys_unreadable",
				"the signing keys cannot be read (%s): only "
				"the selectors given are checked", err);
	for (i = 0; kr && (s = dkim_keyring_key(kr, rep->domain, i, &pk));
	     i++, n++) {
		snprintf(name, sizeof(name), "%s._domainkey.%s", s,
			 rep->domain);
		if (!ask(w, name, DNS_T_TXT))
			continue;
		if (dkim_key_public(pk, pub, sizeof(pub), &publen, &bits) != 0)
			publen = 0;
		domaincheck_dkim_key(rep, s, w->txt, w->len, w->ntxt,
				     publen ? pub : NULL, publen);
	}
	if (n == 0 && nsel == 0)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dkim.not_signing",
				"mamori has no signing key for %s under %s: "
				"DMARC can align only through SPF, which "
				"forwarding breaks (`mamori dkim keygen`)",
				rep->domain, cfg->dkim_key_dir);
	for (i = 0; i < nsel; i++) {
		snprintf(name, sizeof(name), "%s._domainkey.%s", sel[i],
			 rep->domain);
		if (!ask(w, name, DNS_T_TXT))
			continue;
		domaincheck_dkim_key(rep, sel[i], w->txt, w->len, w->ntxt,
				     NULL, 0);
	}
	dkim_keyring_free(kr);
}

/* MX: present, hosts that are names, not CNAMEs, and resolve; null MX. */
static void check_mx(struct walk *w)
{
	struct domaincheck_report *rep = w->rep;
	char hosts[MX_MAX][256];
	const struct dns_answer *a = ask(w, rep->domain, DNS_T_MX);
	size_t i, n = 0, total;
	bool null_mx = false;
	unsigned char addr[16];

	if (!a)
		return;
	if (a->rcode == DNS_NXDOMAIN) {
		domaincheck_add(rep, DOMAINCHECK_ERROR, "mx.nxdomain",
				"%s does not exist (NXDOMAIN)", rep->domain);
		return;
	}
	total = count_rr(a, DNS_T_MX);
	for (i = 0; i < a->n; i++) {
		if (a->rr[i].type != DNS_T_MX)
			continue;
		if (!a->rr[i].text[0] || !strcmp(a->rr[i].text, "."))
			null_mx = true;
		else if (n < MX_MAX)
			snprintf(hosts[n++], sizeof(hosts[0]), "%s",
				 a->rr[i].text);
	}
	if (total == 0) {
		domaincheck_add(rep, DOMAINCHECK_WARNING, "mx.none",
				"%s has no MX record: senders fall back to its "
				"address (RFC 5321 5.1); publish an MX, or a "
				"null MX if it receives no mail", rep->domain);
		return;
	}
	if (null_mx) {
		if (total > 1)
			domaincheck_add(rep, DOMAINCHECK_ERROR,
					"mx.null_mixed",
					"%s has a null MX beside %zu other "
					"MX records (RFC 7505 3)", rep->domain,
					total - 1);
		else
			domaincheck_add(rep, DOMAINCHECK_INFO, "mx.null",
					"%s publishes a null MX: it receives "
					"no mail (RFC 7505), so rua must point "
					"elsewhere", rep->domain);
		return;
	}
	for (i = 0; i < n; i++) {
		const char *h = hosts[i];

		if (inet_pton(AF_INET, h, addr) == 1 ||
		    inet_pton(AF_INET6, h, addr) == 1 || h[0] == '[') {
			domaincheck_add(rep, DOMAINCHECK_ERROR,
					"mx.address_literal",
					"MX %s is an address, not a host name "
					"(RFC 5321 5.1)", h);
			continue;
		}
		if ((a = ask(w, h, DNS_T_CNAME)) && count_rr(a, DNS_T_CNAME)) {
			domaincheck_add(rep, DOMAINCHECK_ERROR, "mx.cname",
					"MX %s is a CNAME (RFC 2181 10.3, RFC "
					"5321 5.1)", h);
			continue;
		}
		if (!(a = ask(w, h, DNS_T_A)) || count_rr(a, DNS_T_A))
			continue;
		if (!(a = ask(w, h, DNS_T_AAAA)) || count_rr(a, DNS_T_AAAA))
			continue;
		domaincheck_add(rep, DOMAINCHECK_ERROR, "mx.unresolvable",
				"MX %s has no address (A or AAAA)", h);
	}
	domaincheck_add(rep, DOMAINCHECK_INFO, "mx.hosts",
			"%zu MX host(s)", total);
}

bool domaincheck_name_ok(const char *s)
{
	size_t len = s ? strlen(s) : 0, label = 0, i;

	if (len == 0 || len > 253 || !strchr(s, '.'))
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			/* no empty label, no hyphen at either end */
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if ((c == '-' && label == 0) || ++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

int domaincheck_run(const struct config *cfg, const char *dns,
		    const char *domain, const char *const *sel, size_t nsel,
		    const struct domaincheck_sources *src,
		    struct domaincheck_report *rep, char *err, size_t errsz)
{
	struct walk w = { .rep = rep };
	struct dmarc_psl *psl;
	enum dmarc_policy p;
	char d[254];
	size_t n;

	snprintf(d, sizeof(d), "%s", domain);
	n = strlen(d);
	if (n && d[n - 1] == '.')
		d[n - 1] = '\0';
	if (!domaincheck_name_ok(d)) {
		snprintf(err, errsz, "\"%.64s\" is not a domain name (use its "
			 "A-label form)", domain);
		return -1;
	}
	w.dns = dns_blocking_new(dns ? dns : cfg->dns_upstream,
				 (int)cfg->dns_timeout_ms, err, errsz);
	if (!w.dns)
		return -1;
	domaincheck_report_init(rep, d);
	psl = dmarc_psl_load(NULL);
	check_spf(&w);
	check_dkim(&w, cfg, sel, nsel);
	p = check_dmarc(&w, psl);
	check_mx(&w);
	if (p != DMARC_P_UNSPEC)
		domaincheck_advice(rep, p, src);
	dns_answer_free(w.a);
	dmarc_psl_free(psl);
	dns_resolver_free(w.dns);
	return 0;
}

void domaincheck_note(struct domaincheck_report *rep, const char *code,
		      const char *text)
{
	domaincheck_add(rep, DOMAINCHECK_INFO, code, "%s", text);
}
