/*
 * dmarc - policy discovery, Organizational Domain, alignment and result,
 * as a resumable state machine (RFC 9989 4.10, 5.3; RFC 7489 6.6).
 *
 * The machine asks one DNS question at a time and is resumed with its
 * answer; it never does I/O.  Phases:
 *
 *   1. Author walk.  RFC 9989 mode: the DNS Tree Walk (4.10): TXT at
 *      _dmarc.<author domain>, then at the parent names: a name of 8 or
 *      more labels jumps to its last 7, then one label is dropped at a
 *      time down to the single-label name, so at most 8 queries.  The
 *      first valid record found is the policy record (4.10.1).  The walk
 *      goes on only as far as the Organizational Domain needs (4.10.2):
 *      it stops at psd=n (that name is the Organizational Domain) or at
 *      psd=y on a name other than the start (the name one label below is);
 *      otherwise the Organizational Domain is the name with the fewest
 *      labels that has a record, or the author domain if none has.  A
 *      record at the start name with psd=y is not a stop (4.10.2 rule 2).
 *      RFC 7489 mode: _dmarc.<author>, then _dmarc.<PSL registrable
 *      domain> if different (6.6.3), nothing else.
 *      Records that do not start with v=DMARC1 are discarded; if more than
 *      one remains at a name, all are (4.10 step 2); a record that is
 *      DMARC_REC_INVALID counts as none.
 *   2. Alignment (4.4).  Strict: the identifier equals the author domain.
 *      Relaxed: the Organizational Domains are equal.  In RFC 9989 mode an
 *      identifier that is neither the author domain nor at or below its
 *      Organizational Domain cannot align, so it costs no query; one that
 *      is gets its own tree walk (a subdomain may publish psd=n and be its
 *      own Organizational Domain).  Walks share a cache of names asked.
 *   3. Non-existence probe, only when the message fails, the record came
 *      from a parent name and carries np (RFC 9989 4.7 "np", 5.3): A, AAAA,
 *      MX at the author domain; non-existent means NXDOMAIN, or NODATA for
 *      all three.  A temporary failure counts as "exists" (sp applies).
 *   4. Disposition.  t=y lowers reject to quarantine and quarantine to
 *      none (RFC 9989 4.7 "t"); in RFC 7489 mode pct does the same for the
 *      messages outside the sample (RFC 7489 6.6.4), pct_sample being the
 *      caller's random draw.
 *
 * Errors: a temporary DNS failure before a policy record is found gives
 * temperror; one in a walk that alignment needed gives temperror unless
 * the message passes anyway.  An author domain that cannot be a DNS name
 * gives permerror.  Limits: DMARC_MAX_QUERIES questions, CACHE_MAX names;
 * past them an identifier is treated as not aligned.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/dmarc.h"
#include "util/xalloc.h"

#define CACHE_MAX 40
#define WALK_JUMP 8		/* RFC 9989 4.10 step 5: 8+ labels -> 7 */

enum cstate {
	C_NONE,			/* no (usable) record */
	C_RECORD,
	C_TEMPFAIL,
	C_STOP,			/* RFC 7489: DMARC records, none usable */
};

struct centry {
	char name[DMARC_DOMAIN_MAX];
	enum cstate state;
	struct dmarc_record rec;
};

struct walk {
	char start[DMARC_DOMAIN_MAX];
	size_t pos;		/* offset of the current target in start */
	bool done, tempfail;
	bool pause;		/* stop (not end) once the policy is found */
	int policy_idx;		/* cache index of the first record, or -1 */
	int last_idx;		/* record with the fewest labels so far */
	char org[DMARC_DOMAIN_MAX];	/* "" if unknown (tempfail) */
};

enum phase {
	PH_AUTHOR,
	PH_ALIGN,
	PH_PROBE,
	PH_DONE,
};

struct dmarc_eval {
	struct dmarc_input in;
	struct dmarc_config cfg;
	char author[DMARC_DOMAIN_MAX];	/* normalised author domain */
	enum phase phase;
	struct centry *cache;		/* grown on demand, CACHE_MAX at most */
	size_t ncache, cache_cap;
	bool pending_txt;		/* waiting for TXT at pending name */
	char pending[DMARC_DOMAIN_MAX];
	struct walk w;
	int align_i;			/* -1: SPF, 0..: DKIM; next to check */
	bool align_walking, align_tempfail;
	int probe_i;			/* 0 A, 1 AAAA, 2 MX */
	struct dmarc_result r;
};

static const enum dns_type probe_types[3] = {
	DNS_T_A, DNS_T_AAAA, DNS_T_MX,
};

void dmarc_config_init(struct dmarc_config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = DMARC_MODE_RFC9989;
	for (i = 0; i < DMARC_FROM__COUNT; i++)
		cfg->from_policy[i] = DMARC_P_REJECT;
}

/* Number of labels of a name without empty labels. */
static size_t labels(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		if (*s == '.')
			n++;
	return n;
}

/* Offset in s of its suffix of k labels (k <= labels(s)). */
static size_t suffix_off(const char *s, size_t k)
{
	size_t n = labels(s), off = 0;

	while (n > k) {
		off = (size_t)(strchr(s + off, '.') - s) + 1;
		n--;
	}
	return off;
}

/* Equal as domain names: ASCII case-insensitive, trailing dot ignored. */
static bool name_eq(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na && a[na - 1] == '.')
		na--;
	if (nb && b[nb - 1] == '.')
		nb--;
	return na == nb && strncasecmp(a, b, na) == 0;
}

/* Is a equal to b or below it? */
static bool at_or_below(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (name_eq(a, b))
		return true;
	return na > nb + 1 && a[na - nb - 1] == '.' &&
		strncasecmp(a + na - nb, b, nb) == 0;
}

/* Copy a name lowercased, without a trailing dot; false if unusable. */
static bool norm(char *dst, const char *src)
{
	size_t n, i;

	if (src == NULL)
		return false;
	n = strlen(src);
	if (n && src[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || src[0] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (src[i] == '.' && src[i + 1] == '.')
			return false;
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ?
				src[i] + 32 : src[i]);
	}
	dst[n] = '\0';
	return true;
}

/* Cache index of name, or -1. */
static int cache_find(const struct dmarc_eval *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->ncache; i++)
		if (strcmp(e->cache[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Add an entry for name; -1 if the cache is full. */
static int cache_add(struct dmarc_eval *e, const char *name, enum cstate st)
{
	struct centry *c;

	if (e->ncache == CACHE_MAX)
		return -1;
	if (e->ncache == e->cache_cap) {
		/* Most messages ask one or two names: a full-size cache
		 * zeroed per message cost more than the DMARC check. */
		e->cache_cap = e->cache_cap ? 2 * e->cache_cap : 4;
		if (e->cache_cap > CACHE_MAX)
			e->cache_cap = CACHE_MAX;
		e->cache = xrealloc(e->cache,
				    e->cache_cap * sizeof(*e->cache));
	}
	c = &e->cache[e->ncache];
	memset(c, 0, sizeof(*c));
	memcpy(c->name, name, strlen(name) + 1);
	c->state = st;
	return (int)e->ncache++;
}

/* Store the answer to the pending TXT question (RFC 9989 4.10 step 2). */
static void store_txt(struct dmarc_eval *e, const struct dns_answer *a)
{
	struct dmarc_record rec;
	int idx, ndmarc = 0, good = 0;
	size_t i;

	e->pending_txt = false;
	idx = cache_add(e, e->pending, C_NONE);
	if (idx < 0)
		return;
	if (a == NULL || a->rcode == DNS_TEMPFAIL) {
		e->cache[idx].state = C_TEMPFAIL;
		return;
	}
	if (a->rcode != DNS_OK)
		return;		/* NXDOMAIN, PERMFAIL: no record */
	for (i = 0; i < a->n; i++) {
		int rc;

		if (a->rr[i].type != DNS_T_TXT || a->rr[i].text == NULL)
			continue;
		rc = dmarc_record_parse(a->rr[i].text, a->rr[i].text_len, &rec);
		if (rc == DMARC_REC_NOT_DMARC)
			continue;
		ndmarc++;
		if (rc == DMARC_REC_OK) {
			good++;
			e->cache[idx].rec = rec;
		}
	}
	if (ndmarc == 1 && good == 1)
		e->cache[idx].state = C_RECORD;
	if (e->cfg.mode != DMARC_MODE_RFC7489 || ndmarc == 0)
		return;
	/*
	 * RFC 7489 6.6.3: only records not starting with v=DMARC1 are
	 * discarded (step 2); a name left with several records (step 5), or
	 * with one whose p or sp is not valid and no valid rua (step 6.2),
	 * ends policy discovery: no DMARC processing, not a look at the
	 * Organizational Domain.  A bad sp with a valid rua reads as p=none
	 * (step 6.1).  RFC 9989 mode discards them all and walks on.
	 */
	if (e->cache[idx].state == C_RECORD &&
	    (e->cache[idx].rec.notes & DMARC_NOTE_BAD_SP)) {
		if (e->cache[idx].rec.rua[0]) {
			e->cache[idx].rec.p = DMARC_P_NONE;
			e->cache[idx].rec.sp = DMARC_P_UNSPEC;
		} else {
			e->cache[idx].state = C_STOP;
		}
	} else if (e->cache[idx].state != C_RECORD) {
		e->cache[idx].state = C_STOP;
	}
}

/* Start a walk at name (already normalised). */
static void walk_init(struct walk *w, const char *name)
{
	memset(w, 0, sizeof(*w));
	memcpy(w->start, name, strlen(name) + 1);
	w->policy_idx = -1;
	w->last_idx = -1;
}

/* End a walk: the Organizational Domain by rule 3, or the start. */
static void walk_end(const struct dmarc_eval *e, struct walk *w)
{
	const char *org = w->last_idx >= 0 ? e->cache[w->last_idx].name :
		w->start;

	memcpy(w->org, org, strlen(org) + 1);
	w->done = true;
}

/* Move a walk to the next target, or end it. */
static void walk_advance(const struct dmarc_eval *e, struct walk *w)
{
	const char *t = w->start + w->pos;
	size_t k = labels(t);
	char org[DMARC_DOMAIN_MAX];

	if (e->cfg.mode == DMARC_MODE_RFC7489) {
		/* One step: the PSL registrable domain, if it differs. */
		if (w->pos == 0 && e->cfg.psl &&
		    dmarc_psl_org_domain(e->cfg.psl, w->start, org,
					 sizeof(org)) == 0 &&
		    strcmp(org, w->start) != 0) {
			w->pos = strlen(w->start) - strlen(org);
			return;
		}
		if (e->cfg.psl && dmarc_psl_org_domain(e->cfg.psl, w->start,
						       org, sizeof(org)) == 0)
			memcpy(w->org, org, strlen(org) + 1);
		else
			memcpy(w->org, w->start, strlen(w->start) + 1);
		w->done = true;
		return;
	}
	if (k == 1) {
		walk_end(e, w);
		return;
	}
	if (w->pos == 0 && k >= WALK_JUMP)
		w->pos = suffix_off(w->start, WALK_JUMP - 1);
	else
		w->pos += (size_t)(strchr(t, '.') - t) + 1;
}

/*
 * Run a walk until it needs a question (returns true, *q filled) or ends.
 */
static bool walk_run(struct dmarc_eval *e, struct walk *w,
		     struct dns_question *q)
{
	while (!w->done) {
		const char *t = w->start + w->pos;
		int idx = cache_find(e, t);
		const struct centry *c;

		if (idx < 0) {
			if (strlen(t) + 7 >= sizeof(q->name)) {
				/* _dmarc.<t> cannot exist (RFC 1035 2.3.4). */
				idx = cache_add(e, t, C_NONE);
			} else if (e->r.queries < DMARC_MAX_QUERIES - 3 &&
				   e->ncache < CACHE_MAX) {
				memcpy(e->pending, t, strlen(t) + 1);
				e->pending_txt = true;
				memcpy(q->name, "_dmarc.", 7);
				memcpy(q->name + 7, t, strlen(t) + 1);
				q->type = DNS_T_TXT;
				e->r.queries++;
				return true;
			}
			if (idx < 0) {
				/* Out of budget: as if DNS failed. */
				w->tempfail = true;
				w->done = true;
				return false;
			}
		}
		c = &e->cache[idx];
		if (c->state == C_TEMPFAIL) {
			w->tempfail = true;
			w->done = true;
			return false;
		}
		if (c->state == C_STOP) {
			walk_end(e, w);	/* no policy: DMARC none */
			return false;
		}
		if (c->state == C_RECORD) {
			if (w->policy_idx < 0)
				w->policy_idx = idx;
			if (e->cfg.mode == DMARC_MODE_RFC9989) {
				if (c->rec.psd == 'n') {
					memcpy(w->org, t, strlen(t) + 1);
					w->done = true;
					return false;
				}
				if (c->rec.psd == 'y' && w->pos != 0) {
					size_t off = suffix_off(w->start,
								labels(t) + 1);
					const char *o = w->start + off;

					memcpy(w->org, o, strlen(o) + 1);
					w->done = true;
					return false;
				}
			}
			w->last_idx = idx;
		}
		walk_advance(e, w);
		if (w->pause && w->policy_idx == idx)
			return false;	/* paused: resume with pause cleared */
	}
	return false;
}

struct dmarc_eval *dmarc_eval_new(const struct dmarc_input *in,
				  const struct dmarc_config *cfg)
{
	struct dmarc_eval *e = xcalloc(1, sizeof(*e));
	e->in = *in;
	e->cfg = *cfg;
	if (e->in.ndkim > DMARC_DKIM_MAX)
		e->in.ndkim = DMARC_DKIM_MAX;
	e->r.aligned_dkim = -1;
	e->align_i = -1;
	if (!norm(e->author, in->author_domain) ||
	    (cfg->mode == DMARC_MODE_RFC7489 && cfg->psl == NULL)) {
		e->r.status = DMARC_PERMERROR;
		e->phase = PH_DONE;
		return e;
	}
	walk_init(&e->w, e->author);
	e->w.pause = true;
	e->phase = PH_AUTHOR;
	return e;
}

void dmarc_eval_free(struct dmarc_eval *e)
{
	if (e)
		free(e->cache);
	free(e);
}

const struct dmarc_result *dmarc_eval_result(const struct dmarc_eval *e)
{
	return &e->r;
}

/* Lower a policy one step (t=y, pct). */
static enum dmarc_policy lower(enum dmarc_policy p)
{
	if (p == DMARC_P_REJECT)
		return DMARC_P_QUARANTINE;
	if (p == DMARC_P_QUARANTINE)
		return DMARC_P_NONE;
	return p;
}

/* Identifier number i (-1: SPF): its domain and strictness, or NULL. */
static const char *ident(const struct dmarc_eval *e, int i, bool *strict)
{
	*strict = (i < 0 ? e->r.rec.aspf : e->r.rec.adkim) == 's';
	if (i < 0)
		return e->in.spf_pass && e->in.spf_domain &&
			e->in.spf_domain[0] ? e->in.spf_domain : NULL;
	return (size_t)i < e->in.ndkim ? e->in.dkim_domains[i] : NULL;
}

/* Note identifier i as aligned. */
static void set_aligned(struct dmarc_eval *e, int i)
{
	if (i < 0) {
		e->r.spf_aligned = true;
	} else {
		e->r.dkim_aligned = true;
		if (e->r.aligned_dkim < 0)
			e->r.aligned_dkim = i;
	}
}

/*
 * Does alignment need the author's Organizational Domain?  Only for a
 * relaxed identifier that is not the author domain itself.
 */
static bool need_org(const struct dmarc_eval *e)
{
	const struct dmarc_record *rec = &e->cache[e->w.policy_idx].rec;
	int i;

	if (e->cfg.mode == DMARC_MODE_RFC7489)
		return false;	/* the PSL answers without DNS */
	for (i = -1; i < (int)e->in.ndkim; i++) {
		const char *id = i < 0 ? (e->in.spf_pass ? e->in.spf_domain :
					  NULL) : e->in.dkim_domains[i];
		char d[DMARC_DOMAIN_MAX];

		if (id == NULL || !norm(d, id) || strcmp(d, e->author) == 0)
			continue;
		if ((i < 0 ? rec->aspf : rec->adkim) != 's')
			return true;
	}
	return false;
}

/* Phase 2; true if a question is out. */
static bool align(struct dmarc_eval *e, struct dns_question *q)
{
	for (; e->align_i < (int)e->in.ndkim; e->align_i++) {
		char d[DMARC_DOMAIN_MAX];
		bool strict;
		const char *id = ident(e, e->align_i, &strict);

		if (e->align_walking) {
			if (walk_run(e, &e->w, q))
				return true;
			e->align_walking = false;
			if (e->w.tempfail)
				e->align_tempfail = true;
			else if (strcmp(e->w.org, e->r.org_domain) == 0)
				set_aligned(e, e->align_i);
			continue;
		}
		if (id == NULL || !norm(d, id))
			continue;
		if (strcmp(d, e->author) == 0) {
			set_aligned(e, e->align_i);
			continue;
		}
		if (strict)
			continue;
		if (e->cfg.mode == DMARC_MODE_RFC7489) {
			if (dmarc_psl_aligned(e->cfg.psl, d, e->author, false))
				set_aligned(e, e->align_i);
			continue;
		}
		if (e->r.org_domain[0] == '\0') {
			e->align_tempfail = true;	/* author org unknown */
			continue;
		}
		if (!at_or_below(d, e->r.org_domain))
			continue;
		walk_init(&e->w, d);
		e->align_walking = true;
		e->align_i--;	/* come back to it when the walk ends */
	}
	return false;
}

/* Phase 4: choose policy and disposition for a failing message. */
static void decide(struct dmarc_eval *e)
{
	struct dmarc_result *r = &e->r;
	const struct dmarc_record *rec = &r->rec;

	if (r->spf_aligned || r->dkim_aligned) {
		r->status = DMARC_PASS;
		r->disposition = DMARC_P_NONE;
		return;
	}
	if (strcmp(r->policy_domain, e->author) == 0) {
		r->policy = rec->p;
		r->src = DMARC_SRC_P;
	} else if (e->cfg.mode == DMARC_MODE_RFC9989 && r->nonexistent &&
		   rec->np != DMARC_P_UNSPEC) {
		r->policy = rec->np;
		r->src = DMARC_SRC_NP;
	} else if (rec->sp != DMARC_P_UNSPEC) {
		r->policy = rec->sp;
		r->src = DMARC_SRC_SP;
	} else {
		r->policy = rec->p;
		r->src = DMARC_SRC_P;
	}
	r->disposition = r->policy;
	if (e->align_tempfail) {
		r->status = DMARC_TEMPERROR;
		r->disposition = DMARC_P_NONE;
		return;
	}
	r->status = DMARC_FAIL;
	if (e->cfg.mode == DMARC_MODE_RFC9989 ? rec->testing :
	    (rec->pct >= 0 && rec->pct < 100 &&
	     e->in.pct_sample >= rec->pct)) {
		r->testing = true;
		r->disposition = lower(r->policy);
	}
}

/* Does the failing message need the non-existence probe? */
static bool need_probe(const struct dmarc_eval *e)
{
	const struct dmarc_result *r = &e->r;

	return e->cfg.mode == DMARC_MODE_RFC9989 && !r->spf_aligned &&
		!r->dkim_aligned && !e->align_tempfail &&
		r->rec.np != DMARC_P_UNSPEC &&
		strcmp(r->policy_domain, e->author) != 0;
}

/* Take the answer to the probe question; true if the probe is over. */
static bool probe_answer(struct dmarc_eval *e, const struct dns_answer *a)
{
	if (a == NULL || a->rcode != DNS_OK)
		e->r.nonexistent = a != NULL && a->rcode == DNS_NXDOMAIN;
	if (a == NULL || a->rcode != DNS_OK || a->n > 0)
		return true;
	if (++e->probe_i < 3)
		return false;
	e->r.nonexistent = true;	/* NODATA for A, AAAA and MX */
	return true;
}

int dmarc_eval_step(struct dmarc_eval *e, const struct dns_answer *ans,
		    struct dns_question *q)
{
	struct dmarc_result *r = &e->r;

	if (e->phase == PH_DONE)
		return DMARC_E_DONE;
	if (e->pending_txt)
		store_txt(e, ans);
	if (e->phase == PH_AUTHOR) {
		if (walk_run(e, &e->w, q))
			return DMARC_E_NEED_DNS;
		if (!e->w.done && e->w.pause) {
			/* Policy found; go on only if alignment needs the
			 * Organizational Domain. */
			e->w.pause = false;
			if (!need_org(e))
				e->w.done = true;
			else if (walk_run(e, &e->w, q))
				return DMARC_E_NEED_DNS;
		}
		if (e->w.policy_idx < 0) {
			r->status = e->w.tempfail ? DMARC_TEMPERROR : DMARC_NONE;
			e->phase = PH_DONE;
			return DMARC_E_DONE;
		}
		memcpy(r->policy_domain, e->cache[e->w.policy_idx].name,
		       strlen(e->cache[e->w.policy_idx].name) + 1);
		r->rec = e->cache[e->w.policy_idx].rec;
		if (!e->w.tempfail && e->w.org[0] != '\0')
			memcpy(r->org_domain, e->w.org, strlen(e->w.org) + 1);
		else if (need_org(e))
			e->align_tempfail = true;
		if (e->cfg.mode == DMARC_MODE_RFC7489 &&
		    dmarc_psl_org_domain(e->cfg.psl, e->author, r->org_domain,
					 sizeof(r->org_domain)) != 0)
			memcpy(r->org_domain, e->author, strlen(e->author) + 1);
		e->phase = PH_ALIGN;
	}
	if (e->phase == PH_ALIGN) {
		if (e->align_walking || e->align_i < (int)e->in.ndkim) {
			if (align(e, q))
				return DMARC_E_NEED_DNS;
		}
		e->phase = PH_PROBE;
		e->probe_i = -1;
	}
	if (e->phase == PH_PROBE) {
		if (e->probe_i == -1) {
			if (!need_probe(e))
				goto done;
			e->probe_i = 0;
		} else if (probe_answer(e, ans)) {
			goto done;
		}
		memcpy(q->name, e->author, strlen(e->author) + 1);
		q->type = probe_types[e->probe_i];
		r->queries++;
		return DMARC_E_NEED_DNS;
	}
done:
	decide(e);
	e->phase = PH_DONE;
	return DMARC_E_DONE;
}

void dmarc_result_from_verdict(const struct dmarc_config *cfg,
			       enum dmarc_from_verdict v,
			       struct dmarc_result *out)
{
	memset(out, 0, sizeof(*out));
	out->status = DMARC_FAIL;
	out->aligned_dkim = -1;
	out->src = DMARC_SRC_FROM;
	out->policy = (unsigned)v < DMARC_FROM__COUNT ? cfg->from_policy[v] :
		DMARC_P_REJECT;
	if (out->policy == DMARC_P_UNSPEC)
		out->policy = DMARC_P_REJECT;
	out->disposition = out->policy;
}

const char *dmarc_status_name(enum dmarc_status s)
{
	switch (s) {
	case DMARC_NONE:
		return "none";
	case DMARC_PASS:
		return "pass";
	case DMARC_FAIL:
		return "fail";
	case DMARC_TEMPERROR:
		return "temperror";
	case DMARC_PERMERROR:
		return "permerror";
	}
	return "?";
}
