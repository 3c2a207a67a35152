/*
 * dmarc_names - reverse names (forward-confirmed PTR) and countries of the
 * sources in the DMARC sources view, and the groups by name and country.
 * Interface and threads: dmarc_names.h; the bounds (addresses per call,
 * PTR names per address, time per call) and why: dmarc_reports.h.
 *
 * A reverse name is the claim of whoever runs the address's reverse zone
 * (often the forger himself), so it counts only when one of its names
 * resolves back to the address (FCrDNS, as SPF's "ptr" and RFC 8601
 * iprev do).  Names from DNS are attacker bytes: a name with a byte
 * outside letters, digits, '-', '_' and '.' is not kept.  Each distinct
 * address is asked once per call (a source may be listed in two classes);
 * the resolver's answer cache serves repeated calls.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dmarc_names.h"
#include "dns/dns.h"
#include "dns/dns_blocking.h"
#include "mail/dmarc.h"
#include "util/config.h"
#include "util/log.h"
#include "util/loopq.h"
#include "util/xalloc.h"

const char *const core_dmarc_name_states[CORE_DMARC_NAME_NSTATES] = {
	[CORE_DMARC_NAME_UNCHECKED] = "unchecked",
	[CORE_DMARC_NAME_NONE] = "none",
	[CORE_DMARC_NAME_UNCONFIRMED] = "unconfirmed",
	[CORE_DMARC_NAME_CONFIRMED] = "confirmed",
	[CORE_DMARC_NAME_TEMPFAIL] = "tempfail",
};

struct dmarc_names {
	struct event_base *base;
	struct loopq *q;		/* made on first use */
	struct dns_resolver *dns;	/* dns_blocking, made on first use */
	struct dmarc_psl *psl;		/* NULL: none on this system */
	bool psl_tried;
	unsigned jobs;			/* runs not yet finished (loop) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned running;		/* threads not yet ended (locked) */
};

/* One run handed to a thread. */
struct job {
	struct dmarc_names *h;
	struct core_dmarc_lookup lk;
	struct core_dmarc_sources *s;
	struct core_dmarc_source *v;
	struct dmarc_names_out *out;
	void (*finish)(void *arg);
	void *arg;
};

/* ------------------------------------------------------------------ */
/* Look-ups                                                             */

/* The answer a synchronous resolver gave, copied. */
struct got {
	struct dns_answer *a;
};

/* dns_query callback: keep a copy. */
static void got_cb(void *arg, const struct dns_answer *ans)
{
	((struct got *)arg)->a = dns_answer_dup(ans);
}

/* Ask name/type; the answer (free with dns_answer_free), NULL if the
 * resolver did not answer during the call. */
static struct dns_answer *ask(struct dns_resolver *r, const char *name,
			      enum dns_type type)
{
	struct dns_question q = { .type = type };
	struct got g = { NULL };

	if (strlen(name) >= sizeof(q.name))
		return NULL;
	snprintf(q.name, sizeof(q.name), "%s", name);
	dns_query(r, &q, got_cb, &g);
	return g.a;
}

/* Copy a PTR target into out (lowercase, no trailing dot) if it is a
 * plausible host name; false otherwise. */
static bool name_ok(const char *t, size_t len, char *out, size_t outsz)
{
	size_t i;

	if (len && t[len - 1] == '.')
		len--;
	if (len == 0 || len >= outsz)
		return false;
	for (i = 0; i < len; i++) {
		char c = t[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '_' || c == '.'))
			return false;
		out[i] = c;
	}
	out[len] = '\0';
	return true;
}

/* Does name have an A/AAAA record equal to a?  1 yes, 0 no, -1 DNS failed. */
static int confirms(struct dns_resolver *r, const char *name, int af,
		    const unsigned char *a)
{
	struct dns_answer *ans = ask(r, name, af == AF_INET ? DNS_T_A :
				     DNS_T_AAAA);
	size_t i, len = af == AF_INET ? 4 : 16;
	int hit = 0;

	if (!ans || ans->rcode == DNS_TEMPFAIL) {
		dns_answer_free(ans);
		return -1;
	}
	for (i = 0; ans->rcode == DNS_OK && i < ans->n; i++)
		if (ans->rr[i].type == (af == AF_INET ? DNS_T_A : DNS_T_AAAA) &&
		    !memcmp(ans->rr[i].addr, a, len))
			hit = 1;
	dns_answer_free(ans);
	return hit;
}

/* The reverse name of source v: fills v->name and v->name_state. */
static void name_one(struct dns_resolver *r, struct core_dmarc_source *v)
{
	unsigned char a[16] = {0};
	char rev[80], cand[254];
	struct dns_answer *ans;
	int af = strchr(v->ip, ':') ? AF_INET6 : AF_INET, tried = 0;
	bool failed = false;
	size_t i;

	v->name[0] = '\0';
	if (inet_pton(af, v->ip, a) != 1) {
		v->name_state = CORE_DMARC_NAME_NONE;
		return;
	}
	dns_reverse_name(af, a, rev, sizeof(rev));
	ans = ask(r, rev, DNS_T_PTR);
	if (!ans || ans->rcode == DNS_TEMPFAIL) {
		v->name_state = CORE_DMARC_NAME_TEMPFAIL;
		dns_answer_free(ans);
		return;
	}
	v->name_state = CORE_DMARC_NAME_NONE;
	for (i = 0; ans->rcode == DNS_OK && i < ans->n &&
	     tried < CORE_DMARC_NAME_PTRS; i++) {
		int c;

		if (ans->rr[i].type != DNS_T_PTR || !ans->rr[i].text ||
		    !name_ok(ans->rr[i].text, strlen(ans->rr[i].text), cand,
			     sizeof(cand)))
			continue;
		tried++;
		if (!v->name[0]) {
			memcpy(v->name, cand, strlen(cand) + 1);
			v->name_state = CORE_DMARC_NAME_UNCONFIRMED;
		}
		c = confirms(r, cand, af, a);
		if (c == 1) {
			memcpy(v->name, cand, strlen(cand) + 1);
			v->name_state = CORE_DMARC_NAME_CONFIRMED;
			break;
		}
		failed |= c < 0;
	}
	if (failed && v->name_state != CORE_DMARC_NAME_CONFIRMED)
		v->name_state = CORE_DMARC_NAME_TEMPFAIL;
	dns_answer_free(ans);
}

/* Milliseconds on the monotonic clock. */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reverse names of the first CORE_DMARC_NAMES_MAX distinct addresses of
 * v[0..n) within CORE_DMARC_NAMES_MS; the others stay UNCHECKED (a copy
 * of an address asked already takes its answer). */
static void names_resolve(struct dns_resolver *r, struct core_dmarc_source *v,
			  size_t n, size_t *asked)
{
	int64_t end = mono_ms() + CORE_DMARC_NAMES_MS;
	size_t i, j, slots = 0;

	*asked = 0;
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (!strcmp(v[j].ip, v[i].ip))
				break;
		if (j < i) {
			memcpy(v[i].name, v[j].name, sizeof(v[i].name));
			v[i].name_state = v[j].name_state;
			continue;
		}
		if (slots == CORE_DMARC_NAMES_MAX)
			continue;
		slots++;
		if (mono_ms() >= end) {
			v[i].name_state = CORE_DMARC_NAME_TEMPFAIL;
			continue;
		}
		(*asked)++;
		name_one(r, &v[i]);
	}
}

/* The countries of every source. */
static void countries(const struct core_dmarc_lookup *lk,
		      struct core_dmarc_source *v, size_t n)
{
	size_t i;

	for (i = 0; lk->country && i < n; i++) {
		uint16_t cc = lk->country(lk->country_arg, v[i].ip);

		v[i].country[0] = cc ? (char)(cc >> 8) : '\0';
		v[i].country[1] = cc ? (char)(cc & 0xff) : '\0';
		v[i].country[2] = '\0';
	}
}

/* ------------------------------------------------------------------ */
/* Groups                                                               */

/* Add v to the group (key, state) of g[0..*ng) (capacity n). */
static void group_add(struct core_dmarc_group *g, size_t *ng,
		      const char *key, enum core_dmarc_name_state state,
		      const struct core_dmarc_source *v)
{
	size_t i;

	for (i = 0; i < *ng; i++)
		if (g[i].state == state && !strcmp(g[i].key, key))
			break;
	if (i == *ng) {
		memset(&g[i], 0, sizeof(g[i]));
		snprintf(g[i].key, sizeof(g[i].key), "%s", key);
		g[i].state = state;
		(*ng)++;
	}
	g[i].sources++;
	g[i].count += v->count;
	g[i].aligned += v->aligned;
	g[i].by_class[v->cls] += v->count;
}

/* qsort: count descending, then key. */
static int group_cmp(const void *x, const void *y)
{
	const struct core_dmarc_group *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* Group s's sources v by name and by country into out. */
static void groups(const struct dmarc_psl *psl, struct core_dmarc_sources *s,
		   const struct core_dmarc_source *v,
		   struct dmarc_names_out *out)
{
	size_t i, cap = s->n ? s->n : 1;
	char org[254];

	out->by_name = xcalloc(cap, sizeof(*out->by_name));
	out->by_country = xcalloc(cap, sizeof(*out->by_country));
	for (i = 0; i < s->n; i++) {
		const char *key = "";

		if (v[i].name_state == CORE_DMARC_NAME_CONFIRMED) {
			key = v[i].name;
			if (psl && dmarc_psl_org_domain(psl, v[i].name, org,
							sizeof(org)) == 0)
				key = org;
		}
		group_add(out->by_name, &s->nby_name, key, v[i].name_state,
			  &v[i]);
		group_add(out->by_country, &s->nby_country, v[i].country,
			  CORE_DMARC_NAME_UNCHECKED, &v[i]);
	}
	if (s->nby_name)
		qsort(out->by_name, s->nby_name, sizeof(*out->by_name),
		      group_cmp);
	if (s->nby_country)
		qsort(out->by_country, s->nby_country,
		      sizeof(*out->by_country), group_cmp);
	s->by_name = out->by_name;
	s->by_country = out->by_country;
}

/* ------------------------------------------------------------------ */
/* Runs                                                                 */

/* Loop thread: a job's names are in; group and answer. */
static void job_done(void *arg)
{
	struct job *j = arg;

	groups(j->h->psl, j->s, j->v, j->out);
	j->h->jobs--;
	j->finish(j->arg);
	free(j);
}

/* The job's thread: ask, hand back to the loop. */
static void *job_thread(void *arg)
{
	struct job *j = arg;
	struct dmarc_names *h = j->h;

	names_resolve(j->lk.dns, j->v, j->s->n, &j->s->names_asked);
	pthread_mutex_lock(&h->lock);
	if (loopq_post(h->q, job_done, j) != 0)
		abort();	/* the queue closes only after every thread */
	h->running--;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* The holder's resolver, made on first use; NULL (logged) if it cannot. */
static struct dns_resolver *holder_dns(struct dmarc_names *h,
				       const struct config *cfg)
{
	char err[256];

	if (h->dns)
		return h->dns;
	h->dns = dns_blocking_new(cfg->dns_upstream, (int)cfg->dns_timeout_ms,
				  err, sizeof(err));
	if (!h->dns)
		log_msg(LOG_L_WARN, "event=dmarc_names error=\"%s\"", err);
	return h->dns;
}

void dmarc_names_run(struct dmarc_names *h, const struct config *cfg,
		     const struct core_dmarc_lookup *lk,
		     struct core_dmarc_sources *s, struct core_dmarc_source *v,
		     struct dmarc_names_out *out, void (*finish)(void *arg),
		     void *arg)
{
	struct job *j;
	pthread_t t;

	countries(lk, v, s->n);
	if (!h) {
		if (lk->dns)
			names_resolve(lk->dns, v, s->n, &s->names_asked);
		groups(lk->psl, s, v, out);
		finish(arg);
		return;
	}
	if (!h->psl_tried) {
		h->psl = dmarc_psl_load(NULL);
		h->psl_tried = true;
	}
	if (s->n == 0 || h->jobs >= CORE_DMARC_NAMES_JOBS ||
	    !holder_dns(h, cfg)) {
		groups(h->psl, s, v, out);
		finish(arg);
		return;
	}
	if (!h->q)
		h->q = loopq_new(h->base, "dmarc_names");
	j = xcalloc(1, sizeof(*j));
	*j = (struct job){ .h = h, .lk = *lk, .s = s, .v = v, .out = out,
			   .finish = finish, .arg = arg };
	j->lk.dns = h->dns;
	pthread_mutex_lock(&h->lock);
	h->running++;
	pthread_mutex_unlock(&h->lock);
	h->jobs++;
	if (pthread_create(&t, NULL, job_thread, j) != 0) {
		log_msg(LOG_L_WARN, "event=dmarc_names error=\"no thread\"");
		pthread_mutex_lock(&h->lock);
		h->running--;
		pthread_mutex_unlock(&h->lock);
		h->jobs--;
		free(j);
		groups(h->psl, s, v, out);
		finish(arg);
		return;
	}
	pthread_detach(t);
}

struct dmarc_names *dmarc_names_new(struct event_base *base)
{
	struct dmarc_names *h = xcalloc(1, sizeof(*h));

	h->base = base;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	return h;
}

void dmarc_names_free(struct dmarc_names *h)
{
	if (!h)
		return;
	if (h->dns)
		dns_blocking_close(h->dns);
	pthread_mutex_lock(&h->lock);
	while (h->running)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	if (h->q)
		loopq_free(h->q);	/* runs the answers still queued */
	dns_resolver_free(h->dns);
	dmarc_psl_free(h->psl);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
