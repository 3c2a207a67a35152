/*
 * dmarc_sources - "who sends mail as DOMAIN, from where": one store_scan of
 * dmarc_rep narrowed to "DOMAIN|", the rows of the last N days grouped by
 * (source address, class) with their /24 or /48, per-day volume per class,
 * and the dispositions receivers applied to forgeries.  Classification
 * rules: dmarc_reports.h.  A row whose key or value does not parse is
 * skipped and counted, never trusted.
 *
 * Reverse names and countries, and the groups by them, come after the
 * scan from dmarc_names.c when a look-up is asked for.  Not here yet
 * (docs/design/dmarc-reports.md): networks from the account map.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "auth/login.h"
#include "core/admin-internal.h"
#include "core/core-internal.h"
#include "core/dmarc_names.h"
#include "core/dmarc_reports.h"
#include "core/domaincheck.h"
#include "util/config.h"
#include "store/store.h"
#include "util/xalloc.h"

#define SRC_MAX 5000
#define NETS_MAX 64

/* A network: family, address, prefix length. */
struct net {
	int af;
	unsigned char a[16];
	int bits;
};

/* One listing in progress. */
struct scan {
	struct core_dmarc_sources s;
	char *domain, *prefix;
	char from[11], to[11];	/* first and last day included */
	struct net nets[NETS_MAX];
	size_t nnets;
	struct core_dmarc_source *src;
	struct core_dmarc_day *day;
	size_t cap_day;
	core_dmarc_sources_cb *done;
	void *arg;
	/* look-ups after the scan (core_dmarc_sources_lookup / _get) */
	bool lookup;
	struct core_dmarc_lookup lk;
	struct dmarc_names *names;	/* NULL: in the calling thread */
	const struct config *cfg;
	struct dmarc_names_out out;
};

/* Parse "a.b.c.d/n" or "v6/n" (no /n: a host) into *n. */
static bool net_parse(const char *s, size_t len, struct net *n)
{
	char buf[64], *slash;
	long bits;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	n->af = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(n->af, buf, n->a) != 1)
		return false;
	bits = n->af == AF_INET ? 32 : 128;
	if (slash) {
		char *end;

		bits = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1 || bits < 0 ||
		    bits > (n->af == AF_INET ? 32 : 128))
			return false;
	}
	n->bits = (int)bits;
	return true;
}

/* Is address ip (text) inside n? */
static bool net_has(const struct net *n, int af, const unsigned char *a)
{
	int full = n->bits / 8, rest = n->bits % 8;

	if (af != n->af || memcmp(a, n->a, (size_t)full) != 0)
		return false;
	return rest == 0 ||
	       ((a[full] ^ n->a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* The /24 or /48 of ip into out. */
static void net_of(const char *ip, char *out, size_t outsz, int *af,
		   unsigned char *a)
{
	char t[INET6_ADDRSTRLEN];

	*af = strchr(ip, ':') ? AF_INET6 : AF_INET;
	memset(a, 0, 16);
	if (inet_pton(*af, ip, a) != 1) {
		snprintf(out, outsz, "?");
		return;
	}
	if (*af == AF_INET) {
		snprintf(out, outsz, "%u.%u.%u.0/24", a[0], a[1], a[2]);
	} else {
		unsigned char m[16] = {0};

		memcpy(m, a, 6);
		inet_ntop(AF_INET6, m, t, sizeof(t));
		snprintf(out, outsz, "%s/48", t);
	}
}

/* The disposition index (none 0, quarantine 1, reject 2), -1 otherwise;
 * RFC 9990's "pass" (no policy applied because DMARC passed) counts as
 * none. */
static int disp_idx(const char *d)
{
	return !strcmp(d, "none") || !strcmp(d, "pass") ? 0 : !strcmp(d, "quarantine") ? 1 :
	       !strcmp(d, "reject") ? 2 : -1;
}

/* The day entry for d (created in order), or NULL when over the cap. */
static struct core_dmarc_day *day_get(struct scan *sc, const char *d)
{
	size_t i;

	for (i = 0; i < sc->s.ndays; i++)
		if (!strcmp(sc->day[i].day, d))
			return &sc->day[i];
	if (sc->s.ndays == 367)
		return NULL;
	if (sc->s.ndays == sc->cap_day) {
		sc->cap_day = sc->cap_day ? sc->cap_day * 2 : 8;
		sc->day = xrealloc(sc->day, sc->cap_day * sizeof(*sc->day));
	}
	memset(&sc->day[sc->s.ndays], 0, sizeof(*sc->day));
	snprintf(sc->day[sc->s.ndays].day, 11, "%s", d);
	return &sc->day[sc->s.ndays++];
}

/* The source entry for (ip, cls), or NULL when over SRC_MAX. */
static struct core_dmarc_source *src_get(struct scan *sc, const char *ip,
					 enum core_dmarc_class cls)
{
	size_t i;

	for (i = 0; i < sc->s.n; i++)
		if (sc->src[i].cls == cls && !strcmp(sc->src[i].ip, ip))
			return &sc->src[i];
	if (sc->s.n == SRC_MAX) {
		sc->s.truncated = 1;
		return NULL;
	}
	if (sc->s.n % 64 == 0)
		sc->src = xrealloc(sc->src, (sc->s.n + 64) * sizeof(*sc->src));
	memset(&sc->src[sc->s.n], 0, sizeof(*sc->src));
	snprintf(sc->src[sc->s.n].ip, sizeof(sc->src[0].ip), "%s", ip);
	sc->src[sc->s.n].cls = cls;
	return &sc->src[sc->s.n++];
}

/* Add reporter to the comma list of s when it is new and fits. */
static void add_reporter(struct core_dmarc_source *s, const char *rep)
{
	size_t have = strlen(s->reporters), n = strlen(rep);
	const char *p = strstr(s->reporters, rep);

	if (p && (p[n] == '\0' || p[n] == ','))
		return;
	if (have + n + 2 < sizeof(s->reporters))
		snprintf(s->reporters + have, sizeof(s->reporters) - have,
			 "%s%s", have ? "," : "", rep);
}

/* Classify one record (see dmarc_reports.h). */
static enum core_dmarc_class classify(const struct scan *sc, int af,
				      const unsigned char *a,
				      const char *dkim, const char *spf)
{
	size_t i;

	for (i = 0; i < sc->nnets; i++)
		if (net_has(&sc->nets[i], af, a))
			return CORE_DMARC_OURS;
	if (!strcmp(dkim, "pass") && strcmp(spf, "pass"))
		return CORE_DMARC_FORWARDER;
	if (!strcmp(dkim, "pass") || !strcmp(spf, "pass"))
		return CORE_DMARC_AUTHORISED;
	return CORE_DMARC_FORGER;
}

/* One row: DOMAIN|DAY|IP|REPORTER|REPORT_ID|N -> JSON. */
static void row(struct scan *sc, const char *key, const char *value)
{
	const char *d = key + strlen(sc->prefix), *ip, *e;
	char day[11], ipb[46], net[50];
	const char *disp, *dkim, *spf, *rep;
	struct core_dmarc_source *s;
	struct core_dmarc_day *dy;
	enum core_dmarc_class cls;
	unsigned char a[16];
	json_int_t cnt;
	json_t *j;
	int af, di;

	if (strlen(d) < 12 || d[10] != '|')
		goto skip;
	memcpy(day, d, 10);
	day[10] = '\0';
	if (strcmp(day, sc->from) < 0 || strcmp(day, sc->to) > 0)
		return;
	ip = d + 11;
	e = strchr(ip, '|');
	if (!e || (size_t)(e - ip) >= sizeof(ipb))
		goto skip;
	memcpy(ipb, ip, (size_t)(e - ip));
	ipb[e - ip] = '\0';
	j = json_loads(value, 0, NULL);
	if (json_unpack(j, "{sI ss ss ss ss}", "count", &cnt, "disp", &disp,
			"dkim", &dkim, "spf", &spf, "reporter", &rep) != 0 ||
	    cnt < 0) {
		json_decref(j);
		goto skip;
	}
	net_of(ipb, net, sizeof(net), &af, a);
	cls = classify(sc, af, a, dkim, spf);
	di = disp_idx(disp);
	s = src_get(sc, ipb, cls);
	dy = day_get(sc, day);
	if (s) {
		snprintf(s->net, sizeof(s->net), "%s", net);
		s->count += (uint64_t)cnt;
		if (!strcmp(dkim, "pass"))
			s->dkim_pass += (uint64_t)cnt;
		if (!strcmp(spf, "pass"))
			s->spf_pass += (uint64_t)cnt;
		if (!strcmp(dkim, "pass") || !strcmp(spf, "pass"))
			s->aligned += (uint64_t)cnt;
		if (di >= 0)
			s->disp[di] += (uint64_t)cnt;
		if (!s->first_day[0] || strcmp(day, s->first_day) < 0)
			memcpy(s->first_day, day, 11);
		if (strcmp(day, s->last_day) > 0)
			memcpy(s->last_day, day, 11);
		add_reporter(s, *rep ? rep : "?");
	}
	if (dy) {
		dy->by_class[cls] += (uint64_t)cnt;
		if (cls == CORE_DMARC_FORGER && di >= 0)
			dy->forged_disp[di] += (uint64_t)cnt;
	}
	sc->s.by_class[cls] += (uint64_t)cnt;
	if (cls == CORE_DMARC_FORGER && di >= 0)
		sc->s.forged_disp[di] += (uint64_t)cnt;
	json_decref(j);
	return;
skip:
	sc->s.skipped++;
}

/* qsort: count descending, then address. */
static int src_cmp(const void *x, const void *y)
{
	const struct core_dmarc_source *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return strcmp(a->ip, b->ip);
}

/* qsort: day ascending. */
static int day_cmp(const void *x, const void *y)
{
	return strcmp(((const struct core_dmarc_day *)x)->day,
		      ((const struct core_dmarc_day *)y)->day);
}

/* Free a scan. */
static void scan_free(struct scan *sc)
{
	free(sc->out.by_name);
	free(sc->out.by_country);
	free(sc->src);
	free(sc->day);
	free(sc->domain);
	free(sc->prefix);
	free(sc);
}

/* Answer a complete listing and free it. */
static void scan_answer(void *arg)
{
	struct scan *sc = arg;

	sc->done(sc->arg, CORE_OK, "", &sc->s);
	scan_free(sc);
}

/* store_scan row callback; the final call answers. */
static void scan_row(void *arg, int result, const char *key,
		     const char *value, int64_t ts)
{
	struct scan *sc = arg;

	(void)ts;
	if (key) {
		row(sc, key, value);
		return;
	}
	if (result != STORE_OK) {
		sc->done(sc->arg, CORE_E_RETRY, "store unavailable", NULL);
		scan_free(sc);
		return;
	}
	/* qsort's array may not be NULL even for no rows (UBSan). */
	if (sc->s.n)
		qsort(sc->src, sc->s.n, sizeof(*sc->src), src_cmp);
	if (sc->s.ndays)
		qsort(sc->day, sc->s.ndays, sizeof(*sc->day), day_cmp);
	sc->s.v = sc->src;
	sc->s.day = sc->day;
	if (sc->lookup) {
		dmarc_names_run(sc->names, sc->cfg, &sc->lk, &sc->s, sc->src,
				&sc->out, scan_answer, sc);
		return;
	}
	scan_answer(sc);
}

/* Start a listing; lk NULL: no look-ups; names: see dmarc_names_run. */
static void sources_start(struct store *st, const char *domain, int days,
			  const char *our_networks, int64_t now,
			  const struct core_dmarc_lookup *lk,
			  struct dmarc_names *names, const struct config *cfg,
			  core_dmarc_sources_cb *done, void *arg)
{
	struct scan *sc;
	const char *p = our_networks ? our_networks : "";
	time_t from;
	struct tm tm;
	size_t i;

	if (!domain || !*domain || strlen(domain) > 253 ||
	    strchr(domain, '|') || days < 1 || days > 366) {
		done(arg, CORE_E_INVALID,
		     "need a domain and days in 1..366", NULL);
		return;
	}
	sc = xcalloc(1, sizeof(*sc));
	sc->domain = xstrndup(domain, strlen(domain));	/* <= 253 */
	for (i = 0; sc->domain[i]; i++)
		if (sc->domain[i] >= 'A' && sc->domain[i] <= 'Z')
			sc->domain[i] = (char)(sc->domain[i] - 'A' + 'a');
	while (*p) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (!n)
			break;
		if (sc->nnets == NETS_MAX ||
		    !net_parse(p, n, &sc->nets[sc->nnets++])) {
			done(arg, CORE_E_INVALID,
			     "dmarc_our_networks: not a list of CIDRs", NULL);
			scan_free(sc);
			return;
		}
		p += n;
	}
	sc->prefix = xasprintf("%s|", sc->domain);
	from = (time_t)(now - (int64_t)(days - 1) * 86400);
	gmtime_r(&from, &tm);
	strftime(sc->from, sizeof(sc->from), "%Y-%m-%d", &tm);
	from = (time_t)now;
	gmtime_r(&from, &tm);
	strftime(sc->to, sizeof(sc->to), "%Y-%m-%d", &tm);
	sc->s.domain = sc->domain;
	sc->s.days = days;
	sc->done = done;
	sc->arg = arg;
	if (lk) {
		sc->lookup = true;
		sc->lk = *lk;
		sc->names = names;
		sc->cfg = cfg;
	}
	store_scan(st, CORE_DMARC_REP_NS, sc->prefix, scan_row, sc);
}

void core_dmarc_sources(struct store *st, const char *domain, int days,
			const char *our_networks, int64_t now,
			core_dmarc_sources_cb *done, void *arg)
{
	sources_start(st, domain, days, our_networks, now, NULL, NULL, NULL,
		      done, arg);
}

void core_dmarc_sources_lookup(struct store *st, const char *domain,
			       int days, const char *our_networks,
			       int64_t now, const struct core_dmarc_lookup *lk,
			       core_dmarc_sources_cb *done, void *arg)
{
	static const struct core_dmarc_lookup none;

	sources_start(st, domain, days, our_networks, now, lk ? lk : &none,
		      NULL, NULL, done, arg);
}

/* core_dmarc_lookup.country over the login engine's geoip_db reader. */
static uint16_t engine_country(void *arg, const char *ip)
{
	return login_engine_country(arg, ip);
}

void core_dmarc_sources_get(struct core *c, const char *domain, int days,
			    int64_t now, core_dmarc_sources_cb *done,
			    void *arg)
{
	struct core_dmarc_lookup lk = {
		.country = c->login ? engine_country : NULL,
		.country_arg = c->login,
	};

	sources_start(c->st, domain, days, c->cfg->dmarc_our_networks, now,
		      &lk, c->names, c->cfg, done, arg);
}

/* The answer core_dmarc_advice_sources() waits for. */
struct advice_wait {
	struct domaincheck_sources *out;
	int answered, status;
	char *err;
	size_t errsz;
};

/* Insert source v into the failing list of o, most failing first. */
static void failing_add(struct domaincheck_sources *o,
			const struct core_dmarc_source *v)
{
	uint64_t bad = v->count - v->aligned;
	size_t i = o->nfailing;

	while (i > 0 && o->failing[i - 1].messages - o->failing[i - 1].aligned
			< bad)
		i--;
	if (i == DOMAINCHECK_FAILING_MAX)
		return;
	if (o->nfailing < DOMAINCHECK_FAILING_MAX)
		o->nfailing++;
	memmove(&o->failing[i + 1], &o->failing[i],
		(o->nfailing - 1 - i) * sizeof(o->failing[0]));
	snprintf(o->failing[i].source, sizeof(o->failing[i].source), "%s",
		 v->ip);
	o->failing[i].cls = DOMAINCHECK_SRC_OURS;
	o->failing[i].messages = v->count;
	o->failing[i].aligned = v->aligned;
}

/* core_dmarc_sources callback: map the view onto the advice's classes. */
static void advice_got(void *arg, enum core_status status, const char *error,
		       const struct core_dmarc_sources *s)
{
	static const int map[CORE_DMARC_NCLASSES] = {
		[CORE_DMARC_OURS] = DOMAINCHECK_SRC_OURS,
		[CORE_DMARC_AUTHORISED] = DOMAINCHECK_SRC_OURS,
		[CORE_DMARC_FORWARDER] = DOMAINCHECK_SRC_FORWARDERS,
		[CORE_DMARC_FORGER] = DOMAINCHECK_SRC_FORGERS,
	};
	struct advice_wait *w = arg;
	struct domaincheck_sources *o = w->out;
	size_t i;

	w->answered = 1;
	w->status = (int)status;
	if (status != CORE_OK) {
		snprintf(w->err, w->errsz, "%s", error ? error : "");
		return;
	}
	o->window_days = (unsigned)s->days;
	for (i = 0; i < s->ndays; i++)
		if (s->day[i].by_class[0] + s->day[i].by_class[1] +
		    s->day[i].by_class[2] + s->day[i].by_class[3] > 0)
			o->report_days++;
	for (i = 0; i < s->n; i++) {
		const struct core_dmarc_source *v = &s->v[i];
		int c = map[v->cls];

		o->cls[c].messages += v->count;
		o->cls[c].aligned += v->aligned;
		if (v->cls == CORE_DMARC_OURS && v->aligned < v->count)
			failing_add(o, v);
	}
}

int core_dmarc_advice_sources(struct store *st, const char *domain,
			      const char *our_networks, int64_t now,
			      struct domaincheck_sources *out, char *err,
			      size_t errsz)
{
	struct advice_wait w = { .out = out, .err = err, .errsz = errsz };

	memset(out, 0, sizeof(*out));
	core_dmarc_sources(st, domain, CORE_DMARC_ADVICE_DAYS, our_networks,
			   now, advice_got, &w);
	if (!w.answered) {
		snprintf(err, errsz, "the store answers asynchronously");
		return -EINPROGRESS;
	}
	return w.status;
}
