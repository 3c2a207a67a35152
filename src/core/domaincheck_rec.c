/*
 * domaincheck_rec - the record checks of `mamori domain check`, without
 * I/O: SPF (RFC 7208), DMARC (RFC 9989, RFC 7489, RFC 9990 report
 * authorisation), DKIM key records (RFC 6376 3.6.1, RFC 8301, RFC 8463)
 * and the staged advice.  Each adds findings to a report; the DNS walk is
 * domaincheck.c.  Parsing is the evaluators' own (spf_lint, dmarc_record,
 * dkim_key), so a finding means what a receiver running mamori would see.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/domaincheck-internal.h"
#include "mail/dkim.h"
#include "util/xalloc.h"

#include <openssl/evp.h>

/* RFC 7208 3.4: keep the answer within a 512-octet UDP message. */
#define SPF_UDP_MAX 512
/* RFC 1035 3.3.14: one character-string is at most 255 octets. */
#define TXT_STRING_MAX 255

const char *domaincheck_sev_name(enum domaincheck_sev s)
{
	return s == DOMAINCHECK_ERROR ? "error" :
	       s == DOMAINCHECK_WARNING ? "warning" : "info";
}

void domaincheck_report_init(struct domaincheck_report *rep,
			     const char *domain)
{
	memset(rep, 0, sizeof(*rep));
	snprintf(rep->domain, sizeof(rep->domain), "%s", domain);
}

void domaincheck_report_deinit(struct domaincheck_report *rep)
{
	free(rep->f);
	rep->f = NULL;
	rep->n = 0;
}

void domaincheck_add(struct domaincheck_report *rep, enum domaincheck_sev sev,
		     const char *code, const char *fmt, ...)
{
	struct domaincheck_finding *f;
	va_list ap;

	if (rep->n >= DOMAINCHECK_MAX_FINDINGS)
		return;
	rep->f = xrealloc(rep->f, (rep->n + 1) * sizeof(*rep->f));
	f = &rep->f[rep->n++];
	f->sev = sev;
	snprintf(f->code, sizeof(f->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	rep->count[sev]++;
}

const struct domaincheck_finding *
domaincheck_find(const struct domaincheck_report *rep, const char *code)
{
	size_t i;

	for (i = 0; i < rep->n; i++)
		if (strcmp(rep->f[i].code, code) == 0)
			return &rep->f[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* SPF                                                                  */

int domaincheck_spf_pick(struct domaincheck_report *rep, const char *name,
			 const char *const *txt, const size_t *len, size_t n,
			 bool top)
{
	size_t i, found = 0;
	int idx = -1;

	for (i = 0; i < n; i++)
		if (len[i] >= 6 && strncasecmp(txt[i], "v=spf1", 6) == 0 &&
		    (len[i] == 6 || txt[i][6] == ' ')) {
			if (!found++)
				idx = (int)i;
		}
	if (found > 1) {
		domaincheck_add(rep, DOMAINCHECK_ERROR, "spf.multiple",
				"%s publishes %zu SPF records; receivers "
				"return permerror (RFC 7208 4.5)", name, found);
		return -2;
	}
	if (found == 0) {
		if (top)
			domaincheck_add(rep, DOMAINCHECK_ERROR, "spf.missing",
					"%s publishes no SPF record: "
					"receivers get SPF none and DMARC "
					"can align only through DKIM", name);
		else
			domaincheck_add(rep, DOMAINCHECK_ERROR,
					"spf.include_none",
					"%s, named by include or redirect, "
					"has no SPF record: permerror "
					"(RFC 7208 5.2, 6.1)", name);
		return -1;
	}
	return idx;
}

int domaincheck_spf_record(struct domaincheck_report *rep, const char *name,
			   const char *text, size_t len, bool top,
			   struct spf_lint *lint)
{
	char err[128];

	if (spf_lint(text, len, lint, err, sizeof(err)) != 0) {
		domaincheck_add(rep, DOMAINCHECK_ERROR, "spf.syntax",
				"the SPF record of %s does not parse (%s): "
				"permerror at every receiver (RFC 7208 4.6)",
				name, err);
		return -1;
	}
	if (len > SPF_UDP_MAX)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "spf.too_long",
				"the SPF record of %s is %zu octets, over %d: "
				"answers may need TCP (RFC 7208 3.4)", name,
				len, SPF_UDP_MAX);
	else if (len > TXT_STRING_MAX)
		domaincheck_add(rep, DOMAINCHECK_INFO, "spf.split",
				"the SPF record of %s is %zu octets: it must "
				"be published as several strings of at most "
				"%d, joined without spaces (RFC 7208 3.3)",
				name, len, TXT_STRING_MAX);
	if (lint->ptr)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "spf.ptr",
				"the SPF record of %s uses ptr %u time(s): "
				"slow, unreliable, and not to be used (RFC "
				"7208 5.5)", name, lint->ptr);
	if (!top)
		return 0;
	if (lint->all == '+')
		domaincheck_add(rep, DOMAINCHECK_ERROR, "spf.pass_all",
				"the SPF record of %s ends in +all: every "
				"host on the Internet passes SPF for it", name);
	else if (lint->all == '?')
		domaincheck_add(rep, DOMAINCHECK_WARNING, "spf.neutral_all",
				"the SPF record of %s ends in ?all: unlisted "
				"hosts are neutral, not failed", name);
	else if (!lint->all && !lint->has_redirect)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "spf.no_all",
				"the SPF record of %s has no all and no "
				"redirect: unlisted hosts get neutral (RFC "
				"7208 4.7); end it in -all or ~all", name);
	return 0;
}

void domaincheck_spf_totals(struct domaincheck_report *rep,
			    unsigned lookups, unsigned voids,
			    unsigned unwalked)
{
	rep->spf_lookups = lookups;
	rep->spf_voids = voids;
	if (lookups > 10)
		domaincheck_add(rep, DOMAINCHECK_ERROR,
				"spf.too_many_lookups",
				"%u DNS-querying terms over the include and "
				"redirect tree of %s; receivers stop at 10 "
				"and return permerror (RFC 7208 4.6.4)",
				lookups, rep->domain);
	else if (lookups >= 9)
		domaincheck_add(rep, DOMAINCHECK_WARNING,
				"spf.lookups_near_limit",
				"%u of the 10 DNS-querying terms allowed "
				"(RFC 7208 4.6.4) are used: one more include "
				"at a provider breaks SPF", lookups);
	else
		domaincheck_add(rep, DOMAINCHECK_INFO, "spf.lookups",
				"%u of the 10 DNS-querying terms allowed "
				"(RFC 7208 4.6.4)", lookups);
	if (voids > 2)
		domaincheck_add(rep, DOMAINCHECK_ERROR, "spf.too_many_voids",
				"%u look-ups of the SPF tree find no records; "
				"receivers stop at 2 and return permerror "
				"(RFC 7208 4.6.4)", voids);
	else if (voids > 0)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "spf.void_lookup",
				"%u look-up(s) of the SPF tree find no records "
				"(2 allowed, RFC 7208 4.6.4)", voids);
	if (unwalked)
		domaincheck_add(rep, DOMAINCHECK_INFO, "spf.macros",
				"%u target(s) hold macros or pass the caps and "
				"were counted but not followed", unwalked);
}

/* ------------------------------------------------------------------ */
/* DMARC                                                                */

int domaincheck_dmarc_pick(struct domaincheck_report *rep, const char *name,
			   const char *const *txt, const size_t *len, size_t n,
			   bool report, struct dmarc_record *out)
{
	struct dmarc_record r;
	size_t i, found = 0;
	int st = DMARC_REC_NOT_DMARC, s;

	for (i = 0; i < n; i++) {
		s = dmarc_record_parse(txt[i], len[i], &r);
		if (s == DMARC_REC_NOT_DMARC)
			continue;
		if (!found++) {
			st = s;
			*out = r;
		}
	}
	if (found > 1) {
		domaincheck_add(rep, DOMAINCHECK_ERROR, "dmarc.multiple",
				"%s holds %zu DMARC records: receivers apply "
				"none of them (RFC 7489 6.6.3)", name, found);
		return -1;
	}
	if (found == 0) {
		if (report)
			domaincheck_add(rep, DOMAINCHECK_ERROR,
					"dmarc.missing",
					"no DMARC record at %s (nor at the "
					"organizational domain): receivers "
					"apply no policy and send no reports",
					name);
		return 1;
	}
	if (st == DMARC_REC_INVALID) {
		domaincheck_add(rep, DOMAINCHECK_ERROR, "dmarc.invalid",
				"the DMARC record at %s has neither a valid p "
				"nor a valid rua: receivers treat it as absent "
				"(RFC 9989 4.7)", name);
		return -1;
	}
	return 0;
}

/* The notes of a parsed record as findings. */
static void dmarc_notes(struct domaincheck_report *rep, unsigned notes)
{
	static const struct {
		unsigned bit;
		enum domaincheck_sev sev;
		const char *code, *text;
	} tab[] = {
		{ DMARC_NOTE_UNKNOWN_TAG, DOMAINCHECK_WARNING,
		  "dmarc.unknown_tag", "the DMARC record has a tag receivers "
		  "ignore (RFC 9989 4.7)" },
		{ DMARC_NOTE_BAD_VALUE, DOMAINCHECK_WARNING, "dmarc.bad_value",
		  "a DMARC tag has a bad value: receivers use its default" },
		{ DMARC_NOTE_DUP_TAG, DOMAINCHECK_WARNING, "dmarc.dup_tag",
		  "a DMARC tag is given twice: the later copies are ignored" },
		{ DMARC_NOTE_BAD_SYNTAX, DOMAINCHECK_WARNING, "dmarc.syntax",
		  "a DMARC tag-spec has no '=' and is skipped" },
		{ DMARC_NOTE_P_FROM_RUA, DOMAINCHECK_ERROR, "dmarc.no_p",
		  "the DMARC record has no valid p: it acts as p=none" },
		{ DMARC_NOTE_LEGACY_RF, DOMAINCHECK_INFO, "dmarc.legacy_rf",
		  "rf= was removed by RFC 9989 and is ignored" },
		{ DMARC_NOTE_LEGACY_RI, DOMAINCHECK_INFO, "dmarc.legacy_ri",
		  "ri= was removed by RFC 9989 and is ignored" },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (notes & tab[i].bit)
			domaincheck_add(rep, tab[i].sev, tab[i].code, "%s",
					tab[i].text);
}

void domaincheck_dmarc_policy(struct domaincheck_report *rep,
			      const struct dmarc_record *r, bool from_org)
{
	enum dmarc_policy sub = r->sp ? r->sp : r->p;

	dmarc_notes(rep, r->notes);
	if (from_org)
		domaincheck_add(rep, DOMAINCHECK_INFO, "dmarc.inherited",
				"%s has no DMARC record of its own: the "
				"organizational domain's sp=%s applies",
				rep->domain, dmarc_policy_name(sub));
	if (r->p == DMARC_P_NONE)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dmarc.p_none",
				"p=none: receivers only report; forged mail "
				"from %s is still delivered", rep->domain);
	else
		domaincheck_add(rep, DOMAINCHECK_INFO, "dmarc.policy",
				"p=%s", dmarc_policy_name(r->p));
	if (r->sp && r->sp < r->p)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dmarc.sp_weaker",
				"sp=%s is weaker than p=%s: forgers can use "
				"any subdomain", dmarc_policy_name(r->sp),
				dmarc_policy_name(r->p));
	if (r->np && r->np < sub)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dmarc.np_weaker",
				"np=%s is weaker than the subdomain policy "
				"%s: forgers can invent subdomains that do "
				"not exist (RFC 9989 4.7)",
				dmarc_policy_name(r->np),
				dmarc_policy_name(sub));
	if (r->pct >= 0 && r->pct < 100)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dmarc.pct",
				"pct=%d: RFC 7489 receivers apply the policy "
				"to %d %% of failing mail; RFC 9989 removed "
				"pct (use t=y for testing)", r->pct, r->pct);
	else if (r->pct == 100)
		domaincheck_add(rep, DOMAINCHECK_INFO, "dmarc.legacy_pct",
				"pct=100 is the default and was removed by "
				"RFC 9989: it can go");
	if (r->testing)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dmarc.testing",
				"t=y: RFC 9989 receivers apply one step less "
				"than p=%s (RFC 9989 4.7)",
				dmarc_policy_name(r->p));
	if (r->adkim == 's' || r->aspf == 's')
		domaincheck_add(rep, DOMAINCHECK_INFO, "dmarc.strict",
				"strict alignment (adkim=%c aspf=%c): mail "
				"signed or sent from a subdomain of %s fails "
				"DMARC", r->adkim, r->aspf, rep->domain);
	if (!r->rua[0])
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dmarc.no_rua",
				"no rua: no receiver sends aggregate reports, "
				"so nobody sees who sends as %s", rep->domain);
	if (r->ruf[0])
		domaincheck_add(rep, DOMAINCHECK_INFO, "dmarc.ruf",
				"ruf is set: few receivers send failure "
				"reports, and those carry personal data");
}

size_t domaincheck_uri_hosts(const char *list, char (*host)[254], size_t max)
{
	const char *p = list;
	size_t n = 0;

	while (*p && n < max) {
		const char *end = p + strcspn(p, ","), *at, *h;
		size_t hl;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) > 7 && strncasecmp(p, "mailto:", 7) == 0 &&
		    (at = memchr(p, '@', (size_t)(end - p))) != NULL) {
			h = at + 1;
			hl = strcspn(h, ",!? \t>");
			if (h + hl > end)
				hl = (size_t)(end - h);
			if (hl && hl < 254) {
				for (size_t i = 0; i < hl; i++)
					host[n][i] = (char)((h[i] >= 'A' &&
							    h[i] <= 'Z') ?
							    h[i] | 0x20 : h[i]);
				host[n][hl] = '\0';
				n++;
			}
		}
		p = *end ? end + 1 : end;
	}
	return n;
}

void domaincheck_dmarc_auth(struct domaincheck_report *rep, const char *tag,
			    const char *host, const char *const *txt,
			    const size_t *len, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (len[i] >= 8 && strncasecmp(txt[i], "v=DMARC1", 8) == 0 &&
		    (len[i] == 8 || strchr(" \t;", txt[i][8]))) {
			domaincheck_add(rep, DOMAINCHECK_INFO,
					"dmarc.report_authorized",
					"%s reports to %s are authorised by "
					"%s._report._dmarc.%s", tag, host,
					rep->domain, host);
			return;
		}
	domaincheck_add(rep, DOMAINCHECK_ERROR, "dmarc.report_unauthorized",
			"%s goes to %s, another organization, which does not "
			"publish %s._report._dmarc.%s TXT \"v=DMARC1\": "
			"receivers send it no reports (RFC 9990, RFC 7489 7.1)",
			tag, host, rep->domain, host);
}

/* ------------------------------------------------------------------ */
/* DKIM                                                                 */

int domaincheck_dkim_key(struct domaincheck_report *rep, const char *selector,
			 const char *const *txt, const size_t *len, size_t n,
			 const unsigned char *disk, size_t disklen)
{
	struct dkim_key key;
	unsigned char pub[DKIM_MAX_KEY];
	size_t publen;
	void *pk = NULL;
	int r, bits = 0;

	if (n == 0) {
		domaincheck_add(rep, DOMAINCHECK_ERROR, "dkim.key_missing",
				"no key record at %s._domainkey.%s%s", selector,
				rep->domain, disk ? ": mamori signs with this "
				"selector and every signature fails" : "");
		return -1;
	}
	if (n > 1) {
		domaincheck_add(rep, DOMAINCHECK_ERROR, "dkim.key_multiple",
				"%s._domainkey.%s holds %zu TXT records: "
				"verifiers may take any (RFC 6376 3.6.2.2)",
				selector, rep->domain, n);
		return -1;
	}
	if ((r = dkim_key_parse(&key, txt[0], len[0])) != 0) {
		domaincheck_add(rep, DOMAINCHECK_ERROR,
				r == DKIM_W_KEY_REVOKED ? "dkim.key_revoked" :
				"dkim.key_syntax",
				"the key record of selector %s: %s%s", selector,
				dkim_why_name(r), r == DKIM_W_KEY_REVOKED ?
				" (p= is empty, RFC 6376 3.6.1)" : "");
		return -1;
	}
	if (key.testing)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dkim.testing",
				"the key of selector %s has t=y: verifiers "
				"may treat its signatures as unsigned (RFC "
				"6376 3.6.1)", selector);
	if ((r = dkim_key_load(&key, &pk)) != 0) {
		domaincheck_add(rep, DOMAINCHECK_ERROR,
				r == DKIM_W_KEY_TOO_SMALL ? "dkim.key_too_small"
				: "dkim.key_bad",
				"the key of selector %s: %s%s", selector,
				dkim_why_name(r), r == DKIM_W_KEY_TOO_SMALL ?
				" (under 1024 bits: RFC 8301 3.2 verifiers "
				"refuse it)" : "");
		return -1;
	}
	r = dkim_key_public(pk, pub, sizeof(pub), &publen, &bits);
	EVP_PKEY_free(pk);
	if (r != 0) {
		domaincheck_add(rep, DOMAINCHECK_ERROR, "dkim.key_bad",
				"the key of selector %s cannot be encoded",
				selector);
		return -1;
	}
	if (key.k == DKIM_K_RSA && bits < 2048)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "dkim.key_small",
				"the key of selector %s is RSA %d bits: use "
				"2048 (RFC 8301 3.2)", selector, bits);
	if (disk && (disklen != publen || memcmp(disk, pub, publen) != 0)) {
		domaincheck_add(rep, DOMAINCHECK_ERROR, "dkim.key_mismatch",
				"the key published for selector %s is not the "
				"one mamori signs with: every signature fails",
				selector);
		return -1;
	}
	domaincheck_add(rep, DOMAINCHECK_INFO, "dkim.key_ok",
			"selector %s: %s %d bits%s", selector,
			key.k == DKIM_K_RSA ? "RSA" : "Ed25519", bits,
			disk ? ", the key on disk" : "");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Staged advice                                                        */

/* aligned/messages in per mille (0 for no messages). */
static unsigned permille(uint64_t aligned, uint64_t messages)
{
	return messages ? (unsigned)(aligned * 1000 / messages) : 0;
}

void domaincheck_advice(struct domaincheck_report *rep, enum dmarc_policy p,
			const struct domaincheck_sources *src)
{
	unsigned ours, need_days;
	const char *next;
	size_t i;

	if (p == DMARC_P_REJECT)
		return;
	if (!src || src->report_days == 0 ||
	    src->cls[DOMAINCHECK_SRC_OURS].messages +
	    src->cls[DOMAINCHECK_SRC_FORWARDERS].messages +
	    src->cls[DOMAINCHECK_SRC_FORGERS].messages == 0) {
		domaincheck_add(rep, DOMAINCHECK_WARNING, "advice.no_reports",
				"no aggregate reports for %s have been "
				"ingested: publish rua=mailto: to an address "
				"delivered to `mamori dmarc ingest` and wait "
				"%d days before tightening p", rep->domain,
				DOMAINCHECK_MIN_DAYS_QUARANTINE);
		return;
	}
	for (i = 0; i < src->nfailing && i < DOMAINCHECK_FAILING_MAX; i++)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "advice.failing_source",
				"%s source %.64s: %llu of %llu messages fail "
				"alignment over %u days",
				src->failing[i].cls == DOMAINCHECK_SRC_OURS ?
				"our" : "forwarding", src->failing[i].source,
				(unsigned long long)(src->failing[i].messages -
						     src->failing[i].aligned),
				(unsigned long long)src->failing[i].messages,
				src->window_days);
	ours = permille(src->cls[DOMAINCHECK_SRC_OURS].aligned,
			src->cls[DOMAINCHECK_SRC_OURS].messages);
	next = p == DMARC_P_QUARANTINE ? "reject" : "quarantine";
	need_days = p == DMARC_P_QUARANTINE ? DOMAINCHECK_MIN_DAYS_REJECT :
					      DOMAINCHECK_MIN_DAYS_QUARANTINE;
	if (src->cls[DOMAINCHECK_SRC_OURS].messages == 0)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "advice.no_own_mail",
				"the reports show no mail from our own "
				"sources in %u days: check sending_networks "
				"before tightening p", src->window_days);
	else if (src->report_days < need_days)
		domaincheck_add(rep, DOMAINCHECK_INFO, "advice.wait",
				"%u days of reports, %u needed before p=%s; "
				"%u.%u %% of our own mail aligned so far",
				src->report_days, need_days, next, ours / 10,
				ours % 10);
	else if (ours < DOMAINCHECK_ALIGNED_PERMILLE)
		domaincheck_add(rep, DOMAINCHECK_WARNING, "advice.not_yet",
				"only %u.%u %% of our own mail aligned over %u "
				"days (%d %% needed before p=%s): fix the "
				"failing sources first", ours / 10, ours % 10,
				src->report_days,
				DOMAINCHECK_ALIGNED_PERMILLE / 10, next);
	else
		domaincheck_add(rep, DOMAINCHECK_INFO, "advice.tighten",
				"%u.%u %% of our own mail aligned over %u days "
				"of reports: p=%s is safe; %llu forged "
				"messages would be affected", ours / 10,
				ours % 10, src->report_days, next,
				(unsigned long long)(
				src->cls[DOMAINCHECK_SRC_FORGERS].messages -
				src->cls[DOMAINCHECK_SRC_FORGERS].aligned));
}
