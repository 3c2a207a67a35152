/*
 * content - the inbound content verdict (see content.h; the points and
 * why in docs/design/content.md "Scoring").
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/content.h"
#include "core/content-signals.h"
#include "core/corrindex.h"
#include "core/mailauth.h"
#include "mail/archive.h"
#include "mail/cues.h"
#include "mail/dispname.h"
#include "mail/dmarc.h"
#include "mail/hostlist.h"
#include "mail/links.h"
#include "mail/lookalike.h"
#include "mail/mime.h"
#include "util/config.h"
#include "util/xalloc.h"

#define PROTECTED_MAX_BYTES (1u << 20)	/* 4096 lines fit easily */
#define RCPT_MAX 16		/* To/Cc addresses asked about per message */
#define BRAND_LINKS_MAX 16	/* links looked up for a claimed brand */

/* ------------------------------------------------------------------ */
/* Points.  Why each weighs what it does: docs/design/content.md.       */

enum {
	P_DISPNAME_ADDR = 4,	/* an address of another domain in the name */
	P_DISPNAME_DOMAIN = 2,	/* a bare domain: ESP newsletters do it */
	P_KNOWN_NAME = 5,	/* a correspondent's name, strange address */
	P_DISPNAME_BRAND = 3,	/* a protected brand in the name */
	P_LOOKALIKE = 6,	/* From domain resembles a protected one */
	P_LOOKALIKE_CORR = 6,	/* ... or a correspondent's */
	P_MIXED_SCRIPT = 4,	/* Latin mixed with Cyrillic in the From domain */
	P_LINK_MISMATCH = 3,	/* link text names another site */
	P_LINK_MISMATCH_BRAND = 5, /* ... and that site is protected */
	P_LINK_LOOKALIKE = 5,
	P_LINK_USERINFO = 4,
	P_LINK_IP = 2,
	P_LINK_REDIRECTOR = 1,
	P_LINK_PUNYCODE = 1,
	P_FORM = 1,		/* an HTML form posting to another site */
	P_PASSWORD = 5,		/* a password field in the mail itself */
	P_BRAND_LINKS = 2,	/* a brand claimed, no link to the brand */
	P_SUBJECT_RCPT = 2,	/* the subject holds the recipient's address */
	P_CUE = 2,		/* per distinct cue phrase, up to CUE_MAX */
	CUE_MAX = 3,
	P_BRAND_SUBJECT = 2,
	P_SUBJECT_MIXED = 3,
	P_EXECUTABLE = 8,	/* an executable, bare or in an archive */
	P_DOUBLE_EXT = 8,
	P_MACRO = 6,
	P_NESTED = 2,
	/* Encrypted or uninspectable archives (PPAP vs Emotet): */
	P_ARC_PPAP = 1,		/* aligned known correspondent, no mismatch */
	P_ARC_KNOWN = 3,	/* known, not aligned */
	P_ARC_NEW = 4,		/* a new address */
	P_ARC_REPLY = 3,	/* ... replying to a thread */
	P_ARC_MISMATCH = 3,	/* ... under a display name that lies */
};

/* ------------------------------------------------------------------ */
/* Names                                                                */

const char *content_label_name(enum content_label l)
{
	static const char *const n[CONTENT_NLABELS] = {
		"phishing", "fake-billing", "malware", "solicitation",
		"spoofing", "backscatter",
	};

	return (unsigned)l < CONTENT_NLABELS ? n[l] : "none";
}

const char *content_action_name(enum content_action a)
{
	switch (a) {
	case CONTENT_TAG: return "tag";
	case CONTENT_HOLD: return "hold";
	case CONTENT_REJECT: return "reject";
	default: return "accept";
	}
}

const char *content_labels_str(unsigned mask, char *buf, size_t bufsz)
{
	size_t n = 0;
	int l;

	buf[0] = '\0';
	for (l = 0; l < CONTENT_NLABELS; l++)
		if (mask & (1u << l) && n < bufsz)
			n += (size_t)snprintf(buf + n, bufsz - n, "%s%s",
					      n ? "," : "",
					      content_label_name(l));
	return buf;
}

/* ------------------------------------------------------------------ */
/* Settings                                                             */

/* The first PROTECTED_MAX_BYTES of the list file path (malloc'd, its
 * length in *n), or NULL if it cannot be opened. */
static char *read_list(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *text;

	if (!f)
		return NULL;
	text = xmalloc(PROTECTED_MAX_BYTES);
	*n = fread(text, 1, PROTECTED_MAX_BYTES, f);
	fclose(f);
	return text;
}

/* Read the protected file into c->la; a message in warn on trouble. */
static void load_protected(struct content_config *c, const char *path,
			   char *warn, size_t warnsz)
{
	char *text;
	size_t n = 0, bad = 0;
	int r;

	if (!(text = read_list(path, &n))) {
		snprintf(warn, warnsz, "lookalike_protected_file %s: cannot "
			 "read, no protected domains", path);
		return;
	}
	r = lookalike_load(c->la, text, n, &bad);
	free(text);
	if (r != 0)
		snprintf(warn, warnsz, "lookalike_protected_file %s line %zu: "
			 "%s; entries before it are used", path, bad,
			 r == LOOKALIKE_E_FULL ? "too many entries" :
			 "not a domain");
}

void content_config_init(struct content_config *c, const struct config *cfg,
			 const struct dmarc_psl *psl, const char *authserv,
			 char *warn, size_t warnsz)
{
	memset(c, 0, sizeof(*c));
	warn[0] = '\0';
	c->enabled = cfg->content_checks && psl != NULL;
	c->tag_score = (int)cfg->content_tag_score;
	c->hold_score = (int)cfg->content_hold_score;
	c->reject_score = (int)cfg->content_reject_score;
	c->label_score = (int)cfg->content_label_score;
	c->subject_prefix = cfg->content_subject_prefix;
	c->authserv_id = authserv;
	c->psl = psl;
	if (!c->enabled) {
		if (cfg->content_checks)
			snprintf(warn, warnsz, "no Public Suffix List: "
				 "content checks off");
		return;
	}
	mime_init();
	links_init();
	c->la = lookalike_new(psl);
	if (c->la && cfg->lookalike_protected_file[0])
		load_protected(c, cfg->lookalike_protected_file, warn, warnsz);
	if (cfg->content_hosts_file && cfg->content_hosts_file[0]) {
		char w2[256];	/* the first warning is the one kept */
		size_t n = 0;
		char *text = read_list(cfg->content_hosts_file, &n);

		content_signals_load(c, cfg->content_hosts_file, text, n, w2,
				     sizeof(w2));
		free(text);
		if (!warn[0])
			snprintf(warn, warnsz, "%s", w2);
	}
}

void content_config_deinit(struct content_config *c)
{
	lookalike_free(c->la);
	c->la = NULL;
	hostlist_free(c->hl);
	c->hl = NULL;
}

/* ------------------------------------------------------------------ */
/* Reasons                                                              */

void content_verdict_init(struct content_verdict *v)
{
	memset(v, 0, sizeof(*v));
}

/* The length of the valid UTF-8 sequence at s (Unicode 3.9 table D-7:
 * no overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Make s valid UTF-8 in place: a byte that starts no valid sequence
 * (attacker bytes, a sequence cut by a limit) becomes '?'. */
static void utf8_mend(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n;

	while (*p) {
		n = utf8_seq(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

void content_add_reason(struct content_verdict *v, const char *name,
			enum content_label label, int points,
			const char *fmt, ...)
{
	struct content_reason *r;
	va_list ap;

	v->score += points;
	if (v->nreasons == CONTENT_MAX_REASONS) {
		v->dropped++;
		if ((unsigned)label < CONTENT_NLABELS)
			v->label_points[label] += points;
		return;
	}
	r = &v->reason[v->nreasons++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->label = label;
	r->points = points;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	utf8_mend(r->detail);	/* details go into JSON and headers */
}

void content_decide(struct content_verdict *v, const struct content_config *c)
{
	char labels[128];
	size_t i, n;
	int l, best = -1, score = 0;

	memset(v->label_points, 0, sizeof(v->label_points));
	for (i = 0; i < v->nreasons; i++) {
		score += v->reason[i].points;
		if ((unsigned)v->reason[i].label < CONTENT_NLABELS)
			v->label_points[v->reason[i].label] +=
				v->reason[i].points;
	}
	/* dropped reasons counted in v->score only: keep that sum */
	if (v->dropped == 0)
		v->score = score;
	v->labels = 0;
	for (l = 0; l < CONTENT_NLABELS; l++)
		if (v->label_points[l] >= c->label_score &&
		    v->label_points[l] > 0) {
			v->labels |= 1u << l;
			if (best < 0 || v->label_points[l] > v->label_points[best])
				best = l;
		}
	v->action = CONTENT_ACCEPT;
	if (c->reject_score > 0 && v->score >= c->reject_score)
		v->action = CONTENT_REJECT;
	else if (c->hold_score > 0 && v->score >= c->hold_score)
		v->action = CONTENT_HOLD;
	else if (c->tag_score > 0 && v->score >= c->tag_score)
		v->action = CONTENT_TAG;
	if (v->action < v->floor)
		v->action = v->floor;
	content_labels_str(v->labels, labels, sizeof(labels));
	n = (size_t)snprintf(v->header, sizeof(v->header),
			     "%s; score=%d; action=%s; labels=%s",
			     c->authserv_id ? c->authserv_id : "mamori",
			     v->score, content_action_name(v->action),
			     labels[0] ? labels : "none");
	for (i = 0; i < v->nreasons && n < sizeof(v->header); i++)
		n += (size_t)snprintf(v->header + n, sizeof(v->header) - n,
				      "%s%s(%+d)", i ? " " : "; reasons=",
				      v->reason[i].name, v->reason[i].points);
	snprintf(v->reply, sizeof(v->reply), "message refused as %s "
		 "(content score %d)", best >= 0 ? content_label_name(best) :
		 "suspicious", v->score);
	v->subject_prefix = v->action >= CONTENT_TAG && c->subject_prefix &&
		c->subject_prefix[0] ? c->subject_prefix : NULL;
}

/* ------------------------------------------------------------------ */
/* The checks                                                           */

/* What the checks share about one message. */
struct ctx {
	struct content_verdict *v;
	const struct content_config *c;
	const struct content_input *in;
	const struct mime_summary *ms;
	const char *from_addr, *from_name;	/* "" if none */
	char from_domain[LOOKALIKE_DOMAIN_MAX];	/* lowercase, "" if none */
	const char *rcpt[RCPT_MAX];
	size_t nrcpt;
	struct corrindex_users us;	/* rcpt hashed; n 0 without index */
	bool aligned;		/* DMARC pass for the From domain */
	bool known;		/* a recipient corresponds with From */
	bool reply;		/* In-Reply-To or References */
	bool mismatch;		/* the display name or domain lies */
	struct links *lk;	/* check_links's, or NULL */
	char brand[64];		/* a brand claimed in the display name */
};

/* The recipients asked about: To then Cc, at most RCPT_MAX. */
static void collect_rcpts(struct ctx *x)
{
	const struct mime_addr_list *lists[2] = { &x->ms->to, &x->ms->cc };
	size_t l, i;

	for (l = 0; l < 2; l++)
		for (i = 0; i < lists[l]->n && x->nrcpt < RCPT_MAX; i++)
			if (lists[l]->v[i].addr[0])
				x->rcpt[x->nrcpt++] = lists[l]->v[i].addr;
}

/* The display name: another address or domain in it, a known person's
 * name on a strange address, a brand. */
static void check_dispname(struct ctx *x)
{
	struct dispname_result dr;
	struct cues_result cr;
	size_t n = strlen(x->from_name);
	int w;

	if (!n)
		return;
	switch (dispname_check(x->c->psl, x->from_name, n, x->from_addr,
			       &dr)) {
	case DISPNAME_OTHER_ADDR:
		x->mismatch = true;
		content_add_reason(x->v, "dispname-address", CONTENT_SPOOFING,
				   P_DISPNAME_ADDR, "name_addr=%s from=%s",
				   dr.found, x->from_addr);
		break;
	case DISPNAME_OTHER_DOMAIN:
		content_add_reason(x->v, "dispname-domain", CONTENT_SPOOFING,
				   P_DISPNAME_DOMAIN, "name_domain=%s from=%s",
				   dr.found, x->from_addr);
		break;
	default:
		break;
	}
	if (x->us.n && (w = corrindex_name_elsewhere(x->in->ci, &x->us,
						     x->from_name,
						     x->from_addr)) >= 0) {
		x->mismatch = true;
		content_add_reason(x->v, "dispname-known-name",
				   CONTENT_SPOOFING, P_KNOWN_NAME,
				   "name=\"%s\" known_to=%s from=%s (the name "
				   "was never seen with this address)",
				   x->from_name, x->us.addr[w], x->from_addr);
	}
	memset(&cr, 0, sizeof(cr));
	if (x->c->la && cues_brand_claim(x->c->la, x->from_name, n,
					 x->from_domain, &cr)) {
		snprintf(x->brand, sizeof(x->brand), "%s", cr.brand);
		content_add_reason(x->v, "dispname-brand", CONTENT_PHISHING,
				   P_DISPNAME_BRAND, "brand=\"%s\" brand_domain=%s "
				   "from_domain=%s", cr.brand, cr.brand_domain,
				   x->from_domain);
	}
}

/* The From domain against the protected list and the correspondents. */
static void check_from_domain(struct ctx *x)
{
	struct lookalike_result lr;
	enum corrindex_dom d;
	size_t w;

	if (!x->from_domain[0] || !x->c->la)
		return;
	d = corrindex_domain(x->in->ci, x->c->la, x->c->psl, &x->us,
			     x->from_domain, &w);
	if (d == CORRINDEX_DOM_KNOWN)
		return;			/* a domain the recipient writes to */
	if (d == CORRINDEX_DOM_SKELETON || d == CORRINDEX_DOM_EDIT) {
		x->mismatch = true;
		content_add_reason(x->v, "lookalike-correspondent",
				   CONTENT_SPOOFING, P_LOOKALIKE_CORR,
				   "from=%s recipient=%s rule=%s (resembles a "
				   "domain the recipient writes to)",
				   x->from_domain, x->us.addr[w],
				   corrindex_dom_name(d));
	}
	if (lookalike_check(x->c->la, x->from_domain, NULL, 0, &lr) ==
	    LOOKALIKE_MATCH) {
		x->mismatch = true;
		content_add_reason(x->v, "lookalike-from", CONTENT_PHISHING,
				   P_LOOKALIKE, "from=%s protected=%s rule=%s "
				   "distance=%d threshold=%d%s%s", lr.domain,
				   lr.matched, lookalike_reason_name(lr.reason),
				   lr.distance, lr.threshold,
				   lr.brand[0] ? " brand=" : "", lr.brand);
	}
	if (lr.flags & (LOOKALIKE_F_MIXED_SCRIPT | LOOKALIKE_F_WHOLE_SCRIPT))
		content_add_reason(x->v, "from-mixed-script", CONTENT_SPOOFING,
				   P_MIXED_SCRIPT, "from=%s script=%s",
				   lr.domain, lr.flags & LOOKALIKE_F_MIXED_SCRIPT
				   ? "mixed" : "whole-script-confusable");
}

/* True if hosts a and b have the same registrable domain (both known). */
static bool same_org(const struct dmarc_psl *psl, const char *a,
		     const char *b)
{
	char oa[LOOKALIKE_DOMAIN_MAX], ob[LOOKALIKE_DOMAIN_MAX];

	return a[0] && b[0] &&
	       dmarc_psl_org_domain(psl, a, oa, sizeof(oa)) == 0 &&
	       dmarc_psl_org_domain(psl, b, ob, sizeof(ob)) == 0 &&
	       strcmp(oa, ob) == 0;
}

/* One reason per link trick: how many links, the first one's hosts.
 * The set stays in x->lk (its text feeds the cue words). */
static void check_links(struct ctx *x)
{
	static const struct {
		unsigned flag;
		const char *name;
		int points;
	} kinds[] = {
		{ LINKS_F_TEXT_MISMATCH, "link-text-mismatch", P_LINK_MISMATCH },
		{ LINKS_F_LOOKALIKE, "link-lookalike", P_LINK_LOOKALIKE },
		{ LINKS_F_USERINFO, "link-userinfo", P_LINK_USERINFO },
		{ LINKS_F_IP_HOST, "link-ip-host", P_LINK_IP },
		{ LINKS_F_REDIRECTOR, "link-redirector", P_LINK_REDIRECTOR },
		{ LINKS_F_PUNYCODE, "link-punycode", P_LINK_PUNYCODE },
		{ LINKS_F_FORM, "html-form", P_FORM },
	};
	const struct mime_summary *ms = x->ms;
	struct links *lk;
	size_t k, i, cnt;

	if (!ms->html_len && !ms->text_len)
		return;
	lk = x->lk = links_new();
	/* the HTML parse only when there is HTML; its text part then
	 * repeats the same links, so it is read only without HTML */
	if (ms->html_len)
		links_html(lk, ms->html, ms->html_len, x->c->psl, x->c->la);
	else
		links_text(lk, ms->text, ms->text_len, x->c->psl, x->c->la);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct links_link *first = NULL;
		int pts = kinds[k].points;

		if (!(lk->flags & kinds[k].flag))
			continue;
		for (i = cnt = 0; i < lk->n; i++)
			if (lk->link[i].flags & kinds[k].flag) {
				if (!first)
					first = &lk->link[i];
				cnt++;
			}
		if (!first)
			continue;
		if (kinds[k].flag == LINKS_F_FORM &&
		    same_org(x->c->psl, first->host, x->from_domain))
			continue;	/* a form to the sender's own site */
		if (kinds[k].flag == LINKS_F_TEXT_MISMATCH && x->c->la) {
			struct lookalike_result lr;

			if (lookalike_check(x->c->la, first->text_host, NULL, 0,
					    &lr) == LOOKALIKE_SAME)
				pts = P_LINK_MISMATCH_BRAND;
		}
		content_add_reason(x->v, kinds[k].name, CONTENT_PHISHING, pts,
				   "links=%zu host=%s text_host=%s target=%s%s%s",
				   cnt, first->host, first->text_host[0] ?
				   first->text_host : "-", first->target[0] ?
				   first->target : "-", first->matched[0] ?
				   " protected=" : "", first->matched);
	}
}

/* A password field in the mail itself. */
static void check_password(struct ctx *x)
{
	if (x->lk && (x->lk->flags & LINKS_F_PASSWORD))
		content_add_reason(x->v, "html-password", CONTENT_PHISHING,
				   P_PASSWORD, "an <input type=password> in "
				   "the mail");
}

/* The display name speaks as brand, the message links out, and no link
 * goes to any domain listed for that brand. */
static void check_brand_links(struct ctx *x, const char *brand)
{
	struct lookalike_result lr;
	size_t i, n;

	if (!x->lk || x->lk->n == 0 || !brand[0] || !x->c->la)
		return;
	n = x->lk->n < BRAND_LINKS_MAX ? x->lk->n : BRAND_LINKS_MAX;
	for (i = 0; i < n; i++)
		if (lookalike_check(x->c->la, x->lk->link[i].host, NULL, 0,
				    &lr) == LOOKALIKE_SAME &&
		    strcmp(lr.brand, brand) == 0)
			return;
	content_add_reason(x->v, "brand-links-elsewhere", CONTENT_PHISHING,
			   P_BRAND_LINKS, "brand=\"%s\" links=%zu first=%s "
			   "(no link goes to the brand)", brand, x->lk->n,
			   x->lk->link[0].host);
}

/* Cue words, brands and mixed scripts in the subject and text. */
static void check_cues(struct ctx *x)
{
	static const enum content_label map[CUES_N] = {
		[CUES_PHISHING] = CONTENT_PHISHING,
		[CUES_FAKE_BILLING] = CONTENT_FAKE_BILLING,
		[CUES_MALWARE] = CONTENT_MALWARE,
		[CUES_SOLICITATION] = CONTENT_SOLICITATION,
	};
	const struct mime_summary *ms = x->ms;
	struct cues_result cr, sr;
	char name[CONTENT_NAME_MAX];
	const char *text = ms->text;
	size_t tn = ms->text_len;
	int l;

	if (tn == 0 && x->lk) {		/* HTML-only mail: its visible text */
		text = x->lk->text;
		tn = x->lk->text_len;
	}
	/* cue words in subject and text; brands and mixed scripts in the
	 * subject only (a brand in the text is in 9% of ham, and looking
	 * for each brand in 16 KiB of text was most of the cost) */
	if (cues_scan(ms->subject, strlen(ms->subject), text, tn, NULL,
		      x->from_domain, &cr) != 0 ||
	    cues_scan(ms->subject, strlen(ms->subject), "", 0, x->c->la,
		      x->from_domain, &sr) != 0)
		return;
	for (l = 0; l < CUES_N; l++) {
		unsigned hits = cr.hits[l] > CUE_MAX ? CUE_MAX : cr.hits[l];

		if (!hits)
			continue;
		snprintf(name, sizeof(name), "cue-%s", cues_label_name(l));
		content_add_reason(x->v, name, map[l], P_CUE * (int)hits,
				   "cues=%u first=\"%s\"", cr.hits[l],
				   cr.first[l] ? cr.first[l] : "");
	}
	if (sr.brand_claim && sr.brand_in_subject)
		content_add_reason(x->v, "brand-subject", CONTENT_PHISHING,
				   P_BRAND_SUBJECT, "brand=\"%s\" brand_domain=%s "
				   "from_domain=%s", sr.brand, sr.brand_domain,
				   x->from_domain[0] ? x->from_domain : "-");
	if (sr.mixed_script_subject)
		content_add_reason(x->v, "subject-mixed-script",
				   CONTENT_PHISHING, P_SUBJECT_MIXED,
				   "a subject word mixes Latin with Cyrillic "
				   "or Greek");
}

/* The subject greets the recipient by their address ("Hello
 * user@example.com"), as mass mailers do; a person writes a name. */
static void check_subject_rcpt(struct ctx *x)
{
	size_t i;

	for (i = 0; i < x->nrcpt; i++)
		if (strchr(x->rcpt[i], '@') &&
		    strcasestr(x->ms->subject, x->rcpt[i])) {
			content_add_reason(x->v, "subject-rcpt-address",
					   CONTENT_NO_LABEL, P_SUBJECT_RCPT,
					   "rcpt=%s (the subject names the "
					   "recipient's address)", x->rcpt[i]);
			return;
		}
}

/* Points of an encrypted or uninspectable archive, by its context, and
 * the context in words. */
static int archive_points(const struct ctx *x, bool unknown, char *why,
			  size_t whysz)
{
	int p;

	if (x->known && x->aligned && !x->mismatch) {
		snprintf(why, whysz, "sender=known aligned=yes (PPAP)");
		return P_ARC_PPAP;
	}
	p = x->known ? P_ARC_KNOWN : P_ARC_NEW;
	if (unknown && p > 1)
		p--;
	if (x->reply && !x->known)
		p += P_ARC_REPLY;
	if (x->mismatch)
		p += P_ARC_MISMATCH;
	snprintf(why, whysz, "sender=%s aligned=%s reply=%s name_mismatch=%s",
		 x->known ? "known" : "new", x->aligned ? "yes" : "no",
		 x->reply ? "yes" : "no", x->mismatch ? "yes" : "no");
	return p;
}

/* The attachments: archives and what they hold, bare executables. */
static void check_attachments(struct ctx *x)
{
	const struct mime_summary *ms = x->ms;
	/* a large report: only allocated for a message with attachments */
	struct arc_report *r = ms->n_attachments ? xmalloc(sizeof(*r)) : NULL;
	unsigned all = 0, bare = 0;
	size_t i, enc = 0, entries = 0;
	const char *first_enc = NULL, *first_bad = NULL;
	char why[160];

	for (i = 0; i < ms->n_attachments; i++) {
		const struct mime_attachment *a = &ms->attachments[i];
		unsigned f;

		arc_scan(a->data, a->data_len, a->filename, r);
		f = r->flags;
		if (a->truncated && r->format != ARC_FMT_NONE)
			f |= ARC_F_UNKNOWN;	/* the directory was cut off */
		if (r->format == ARC_FMT_NONE) {
			unsigned b = f & (ARC_F_EXECUTABLE | ARC_F_DOUBLE_EXT |
					  ARC_F_MACRO);

			if (b && !first_bad)
				first_bad = a->filename;
			bare |= b;
		} else {
			all |= f;
			entries += r->n_entries;
			enc += r->n_encrypted;
			if ((f & (ARC_F_ENCRYPTED | ARC_F_UNKNOWN)) && !first_enc)
				first_enc = a->filename;
		}
	}
	free(r);
	if (all & ARC_F_ENCRYPTED) {
		int p = archive_points(x, false, why, sizeof(why));

		content_add_reason(x->v, "archive-encrypted", CONTENT_MALWARE,
				   p, "name=\"%s\" entries=%zu encrypted=%zu %s",
				   first_enc ? first_enc : "", entries, enc, why);
	} else if (all & ARC_F_UNKNOWN) {
		int p = archive_points(x, true, why, sizeof(why));

		content_add_reason(x->v, "archive-unknown", CONTENT_MALWARE,
				   p, "name=\"%s\" entries=%zu (could not be "
				   "inspected: not clean) %s",
				   first_enc ? first_enc : "", entries, why);
	}
	if (all & ARC_F_EXECUTABLE)
		content_add_reason(x->v, "archive-executable", CONTENT_MALWARE,
				   P_EXECUTABLE, "an executable inside an "
				   "archive, entries=%zu", entries);
	if (all & ARC_F_DOUBLE_EXT)
		content_add_reason(x->v, "archive-double-ext", CONTENT_MALWARE,
				   P_DOUBLE_EXT, "a disguised name inside an "
				   "archive");
	if (all & ARC_F_MACRO)
		content_add_reason(x->v, "archive-macro", CONTENT_MALWARE,
				   P_MACRO, "an Office macro inside an archive");
	if (all & ARC_F_NESTED)
		content_add_reason(x->v, "archive-nested", CONTENT_MALWARE,
				   P_NESTED, "an archive inside an archive");
	if (bare & ARC_F_EXECUTABLE)
		content_add_reason(x->v, "attachment-executable",
				   CONTENT_MALWARE, P_EXECUTABLE,
				   "name=\"%s\"", first_bad ? first_bad : "");
	if (bare & ARC_F_DOUBLE_EXT)
		content_add_reason(x->v, "attachment-double-ext",
				   CONTENT_MALWARE, P_DOUBLE_EXT, "name=\"%s\"",
				   first_bad ? first_bad : "");
	if (bare & ARC_F_MACRO)
		content_add_reason(x->v, "attachment-macro", CONTENT_MALWARE,
				   P_MACRO, "name=\"%s\"",
				   first_bad ? first_bad : "");
}

/* The From domain of addr, lowercase, into out ("" if none). */
static void domain_of(const char *addr, char *out, size_t outsz)
{
	const char *at = strrchr(addr, '@');
	size_t i;

	out[0] = '\0';
	if (!at || strlen(at + 1) >= outsz)
		return;
	for (i = 0; at[1 + i]; i++)
		out[i] = (char)tolower((unsigned char)at[1 + i]);
	out[i] = '\0';
}

void content_check(struct content_verdict *v, const struct content_config *c,
		   const struct content_input *in)
{
	struct ctx x;

	if (!c->enabled || !in->ms)
		return;
	memset(&x, 0, sizeof(x));
	x.v = v;
	x.c = c;
	x.in = in;
	x.ms = in->ms;
	x.from_addr = x.ms->from.n ? x.ms->from.v[0].addr : "";
	x.from_name = x.ms->from.n ? x.ms->from.v[0].name : "";
	domain_of(x.from_addr, x.from_domain, sizeof(x.from_domain));
	x.aligned = in->auth && strcmp(in->auth->dmarc_result, "pass") == 0;
	x.reply = x.ms->in_reply_to[0] || x.ms->n_references;
	collect_rcpts(&x);
	if (in->ci)
		corrindex_users(in->ci, x.rcpt, x.nrcpt, &x.us);
	x.known = x.us.n && corrindex_known_pair(in->ci, &x.us,
						 x.from_addr) >= 0;
	v->checked = true;
	v->mime_flags = x.ms->flags;
	/* display name and From domain first: they set x.mismatch, which
	 * the archives weigh */
	check_dispname(&x);
	check_from_domain(&x);
	check_attachments(&x);
	check_links(&x);
	check_password(&x);
	check_cues(&x);
	check_brand_links(&x, x.brand);
	check_subject_rcpt(&x);
	content_signals_check(v, c, x.ms, x.lk, x.from_domain);
	links_free(x.lk);
}
