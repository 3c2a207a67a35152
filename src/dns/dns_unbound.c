/*
 * dns_unbound - libunbound backend of struct dns_resolver.  See
 * dns_unbound.h for the behaviour.
 *
 * Lifetime: every query is a struct ubq on a list owned by the resolver,
 * freed when its answer, its timeout or the resolver's free comes first.
 * libunbound keeps the ubq pointer as its callback argument until the
 * answer or ub_cancel(), so a ubq is never freed while libunbound may
 * still call back with it.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "dns/dns_unbound.h"
#include "util/xalloc.h"

/* Records of one answer we keep (a TXT answer of 64 KiB has fewer). */
#define UB_MAX_RR 256

struct ubq {
	struct dns_unbound *u;
	struct ubq *prev, *next;
	struct event *timer;
	int async_id;
	enum dns_type type;
	dns_cb *cb;
	void *arg;
};

struct dns_unbound {
	struct dns_resolver base;	/* first */
	struct ub_ctx *ctx;
	struct event *ev;
	struct ubq *q;			/* queries in flight */
	struct timeval timeout;
};

/* Unlink and free a query. */
static void ubq_free(struct ubq *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		q->u->q = q->next;
	if (q->next)
		q->next->prev = q->prev;
	if (q->timer)
		event_free(q->timer);
	free(q);
}

/* Decode an uncompressed wire name into out (dotted, no final dot). */
static int wire_name(const unsigned char *p, size_t n, char *out,
		     size_t outsz)
{
	size_t i = 0, o = 0;

	while (i < n && p[i] != 0) {
		size_t l = p[i++];

		if (l > 63 || i + l > n || o + l + 2 > outsz)
			return -1;
		if (o)
			out[o++] = '.';
		memcpy(out + o, p + i, l);
		o += l;
		i += l;
	}
	if (i >= n)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Fill rr from one rdata of the asked type; -1 if it is malformed. */
static int parse_rdata(enum dns_type type, const unsigned char *p, size_t n,
		       struct dns_rr *rr)
{
	char name[256];
	size_t i, o = 0;

	memset(rr, 0, sizeof(*rr));
	rr->type = type;
	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		if (n != (type == DNS_T_A ? 4u : 16u))
			return -1;
		memcpy(rr->addr, p, n);
		return 0;
	case DNS_T_MX:
		if (n < 3)
			return -1;
		rr->pref = (uint16_t)(p[0] << 8 | p[1]);
		p += 2;
		n -= 2;
		/* the exchange is a name, like PTR and CNAME */
		__attribute__((fallthrough));
	case DNS_T_PTR:
	case DNS_T_CNAME:
		if (wire_name(p, n, name, sizeof(name)) < 0)
			return -1;
		rr->text = xstrdup(name);
		rr->text_len = strlen(name);
		return 0;
	case DNS_T_TXT:
	case DNS_T_SPF:
		/* RFC 7208 3.3: the strings joined without separators */
		rr->text = xmalloc(n + 1);
		for (i = 0; i < n; i += 1 + p[i]) {
			if (i + 1 + p[i] > n) {
				free(rr->text);
				rr->text = NULL;
				return -1;
			}
			memcpy(rr->text + o, p + i + 1, p[i]);
			o += p[i];
		}
		rr->text[o] = '\0';
		rr->text_len = o;
		return 0;
	}
	return -1;
}

/* Deliver the answer for a libunbound result (NULL: tempfail). */
static void ubq_deliver(struct ubq *q, int err, struct ub_result *res)
{
	struct dns_rr rrs[UB_MAX_RR];
	struct dns_answer ans;
	size_t i;

	memset(&ans, 0, sizeof(ans));
	ans.rr = rrs;
	if (err || !res) {
		ans.rcode = DNS_TEMPFAIL;
	} else if (res->rcode == 3) {
		ans.rcode = DNS_NXDOMAIN;
		ans.ttl = res->ttl > 0 ? (uint32_t)res->ttl : 0;
	} else if (res->rcode == 2) {
		ans.rcode = DNS_TEMPFAIL;
	} else if (res->rcode != 0) {
		ans.rcode = DNS_PERMFAIL;
	} else {
		ans.rcode = DNS_OK;
		for (i = 0; res->havedata && res->data[i] && ans.n < UB_MAX_RR;
		     i++) {
			if (parse_rdata(q->type, (unsigned char *)res->data[i],
					(size_t)res->len[i], &rrs[ans.n]) == 0)
				ans.n++;
		}
		ans.nodata = ans.n == 0;
		ans.ttl = res->ttl > 0 ? (uint32_t)res->ttl : 0;
	}
	q->cb(q->arg, &ans);
	for (i = 0; i < ans.n; i++)
		free(rrs[i].text);
}

/* libunbound callback (from ub_process, in the loop's thread). */
static void ubq_done(void *mydata, int err, struct ub_result *res)
{
	struct ubq *q = mydata;

	ubq_deliver(q, err, res);
	if (res)
		ub_resolve_free(res);
	ubq_free(q);
}

/* The per-query timer fired first: cancel and answer TEMPFAIL. */
static void ubq_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ubq *q = arg;

	ub_cancel(q->u->ctx, q->async_id);
	ubq_deliver(q, 1, NULL);
	ubq_free(q);
}

/* ub_fd() is readable: let libunbound run the callbacks. */
static void ub_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dns_unbound *u = arg;

	ub_process(u->ctx);
}

/* dns_resolver_ops.query */
static void ub_query(struct dns_resolver *r, const struct dns_question *qq,
		     dns_cb *cb, void *arg)
{
	struct dns_unbound *u = (struct dns_unbound *)r;
	struct ubq *q = xcalloc(1, sizeof(*q));
	struct dns_answer ans;

	q->u = u;
	q->type = qq->type;
	q->cb = cb;
	q->arg = arg;
	q->next = u->q;
	if (u->q)
		u->q->prev = q;
	u->q = q;
	if (ub_resolve_async(u->ctx, qq->name, (int)qq->type, 1, q, ubq_done,
			     &q->async_id) != 0) {
		memset(&ans, 0, sizeof(ans));
		ans.rcode = DNS_PERMFAIL;	/* a name it cannot send */
		ubq_free(q);
		cb(arg, &ans);
		return;
	}
	q->timer = evtimer_new(event_get_base(u->ev), ubq_timeout, q);
	evtimer_add(q->timer, &u->timeout);
}

/* dns_resolver_ops.free */
static void ub_free(struct dns_resolver *r)
{
	struct dns_unbound *u = (struct dns_unbound *)r;

	while (u->q) {
		ub_cancel(u->ctx, u->q->async_id);
		ubq_free(u->q);
	}
	if (u->ev)
		event_free(u->ev);
	ub_ctx_delete(u->ctx);
	free(u);
}

static const struct dns_resolver_ops ub_ops = {
	.query = ub_query,
	.free = ub_free,
};

/* Default local zones handed to the upstream when there is one. */
static const char *const ub_unblock[] = {
	"test. transparent",
	"invalid. transparent",
	"2.0.192.in-addr.arpa. transparent",
	"100.51.198.in-addr.arpa. transparent",
	"113.0.203.in-addr.arpa. transparent",
	"8.b.d.0.1.0.0.2.ip6.arpa. transparent",
};

/* Set an option or say which one failed. */
static int ub_opt(struct ub_ctx *ctx, const char *k, const char *v,
		  char *err, size_t errsz)
{
	int r = ub_ctx_set_option(ctx, k, v);

	if (r != 0)
		snprintf(err, errsz, "unbound option %s %s: %s", k, v,
			 ub_strerror(r));
	return r;
}

struct dns_resolver *dns_unbound_new(struct event_base *base,
				     const char *upstream, int timeout_ms,
				     char *err, size_t errsz)
{
	struct dns_unbound *u = xcalloc(1, sizeof(*u));
	int r;

	u->base.ops = &ub_ops;
	if (timeout_ms < 1)
		timeout_ms = 1;
	u->timeout.tv_sec = timeout_ms / 1000;
	u->timeout.tv_usec = (timeout_ms % 1000) * 1000;
	u->ctx = ub_ctx_create();
	if (!u->ctx) {
		snprintf(err, errsz, "ub_ctx_create failed");
		free(u);
		return NULL;
	}
	/* threads, not a forked worker: the daemon drops privileges later */
	if ((r = ub_ctx_async(u->ctx, 1)) != 0) {
		snprintf(err, errsz, "ub_ctx_async: %s", ub_strerror(r));
		goto fail;
	}
	if (upstream && *upstream) {
		/* a local test server or resolver must be reachable */
		if (ub_opt(u->ctx, "do-not-query-localhost:", "no", err,
			   errsz) != 0)
			goto fail;
		/*
		 * With an explicit upstream, it answers for the special-use
		 * names libunbound would otherwise answer itself (RFC 6761
		 * "test.", RFC 6303/5737 reverse zones): test zones use them.
		 */
		for (size_t i = 0; i < sizeof(ub_unblock) /
		     sizeof(ub_unblock[0]); i++)
			if (ub_opt(u->ctx, "local-zone:", ub_unblock[i], err,
				   errsz) != 0)
				goto fail;
		if ((r = ub_ctx_set_fwd(u->ctx, upstream)) != 0) {
			snprintf(err, errsz, "forwarder %s: %s", upstream,
				 ub_strerror(r));
			goto fail;
		}
	} else if ((r = ub_ctx_resolvconf(u->ctx, NULL)) != 0) {
		snprintf(err, errsz, "resolv.conf: %s", ub_strerror(r));
		goto fail;
	}
	u->ev = event_new(base, ub_fd(u->ctx), EV_READ | EV_PERSIST,
			  ub_readable, u);
	if (!u->ev || event_add(u->ev, NULL) != 0) {
		snprintf(err, errsz, "cannot watch the unbound descriptor");
		goto fail;
	}
	return &u->base;
fail:
	ub_free(&u->base);
	return NULL;
}
