/*
 * dns_stub - table-driven resolver for tests.  See dns_stub.h for the
 * behaviour; this is the table.
 *
 * Records are kept in one array in insertion order, because the order of
 * records and timeout markers of a name decides the answer.  Look-ups are
 * linear: test zones hold a few hundred rows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns_stub.h"
#include "util/xalloc.h"

/* CNAME chains longer than this are answered like a resolver's SERVFAIL. */
#define STUB_MAX_CHASE 8
/* Records of one answer (test zones never come close). */
#define STUB_MAX_RR 64

struct stub_ent {
	char *name;		/* lowercase, no trailing dot */
	int type;		/* enum dns_type; 0 with timeout = any */
	bool timeout;
	struct dns_rr rr;
};

struct dns_stub {
	struct dns_resolver base;	/* first: the resolver is the stub */
	struct stub_ent *e;
	size_t n, cap;
	unsigned long queries;
};

/* Copy a name lowercased and without its trailing dot. */
static char *stub_norm(const char *name)
{
	size_t n = strlen(name), i;
	char *p;

	if (n && name[n - 1] == '.')
		n--;
	p = xstrndup(name, n);
	for (i = 0; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] - 'A' + 'a');
	return p;
}

/* Compare a table name with a question name, ignoring case and a final dot. */
static bool stub_name_eq(const char *tab, const char *q)
{
	size_t n = strlen(q);

	if (n && q[n - 1] == '.')
		n--;
	return strlen(tab) == n && strncasecmp(tab, q, n) == 0;
}

/* True if the name has an empty inner label or a label over 63 octets. */
static bool stub_name_bad(const char *q)
{
	size_t lab = 0;
	const char *p;

	for (p = q; *p; p++) {
		if (*p == '.') {
			if (lab == 0 && p[1] != '\0')
				return true;
			lab = 0;
		} else if (++lab > 63) {
			return true;
		}
	}
	return false;
}

/* Append one table entry; takes ownership of rr.text. */
static void stub_push(struct dns_stub *s, const char *name, int type,
		      bool timeout, const struct dns_rr *rr)
{
	struct stub_ent *e;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->e = xrealloc(s->e, s->cap * sizeof(*s->e));
	}
	e = &s->e[s->n++];
	memset(e, 0, sizeof(*e));
	e->name = stub_norm(name);
	e->type = type;
	e->timeout = timeout;
	if (rr)
		e->rr = *rr;
}

int dns_stub_add_txt(struct dns_stub *s, const char *name,
		     enum dns_type type, const void *data, size_t len)
{
	struct dns_rr rr;

	if (type != DNS_T_TXT && type != DNS_T_SPF)
		return -EINVAL;
	memset(&rr, 0, sizeof(rr));
	rr.type = type;
	rr.text = xmalloc(len + 1);
	memcpy(rr.text, data, len);
	rr.text[len] = '\0';
	rr.text_len = len;
	stub_push(s, name, type, false, &rr);
	return 0;
}

int dns_stub_add(struct dns_stub *s, const char *name, enum dns_type type,
		 const char *rdata)
{
	struct dns_rr rr;
	char *end;
	unsigned long pref;

	memset(&rr, 0, sizeof(rr));
	rr.type = type;
	switch (type) {
	case DNS_T_A:
		if (inet_pton(AF_INET, rdata, rr.addr) != 1)
			return -EINVAL;
		break;
	case DNS_T_AAAA:
		if (inet_pton(AF_INET6, rdata, rr.addr) != 1)
			return -EINVAL;
		break;
	case DNS_T_MX:
		pref = strtoul(rdata, &end, 10);
		if (end == rdata || pref > 65535 || (*end && *end != ' '))
			return -EINVAL;
		while (*end == ' ')
			end++;
		rr.pref = (uint16_t)pref;
		rdata = end;
		/* the exchange is a name, like PTR and CNAME */
		__attribute__((fallthrough));
	case DNS_T_PTR:
	case DNS_T_CNAME:
		rr.text = stub_norm(rdata);
		rr.text_len = strlen(rr.text);
		break;
	case DNS_T_TXT:
	case DNS_T_SPF:
		return dns_stub_add_txt(s, name, type, rdata, strlen(rdata));
	default:
		return -EINVAL;
	}
	stub_push(s, name, type, false, &rr);
	return 0;
}

void dns_stub_timeout(struct dns_stub *s, const char *name, int type)
{
	stub_push(s, name, type, true, NULL);
}

unsigned long dns_stub_queries(const struct dns_stub *s)
{
	return s->queries;
}

/*
 * Fill ans (rr borrowed from the table, at most STUB_MAX_RR) for name and
 * type, chasing CNAMEs depth levels deep at most.
 */
static void stub_lookup(struct dns_stub *s, const char *name, int type,
			int depth, struct dns_answer *ans, struct dns_rr *rrs)
{
	const char *cname = NULL;
	bool found = false;
	size_t i;

	ans->n = 0;
	ans->nodata = false;
	for (i = 0; i < s->n; i++) {
		struct stub_ent *e = &s->e[i];

		if (!stub_name_eq(e->name, name))
			continue;
		found = true;
		if (e->timeout) {
			if (e->type != 0 && e->type != type)
				continue;
			if (ans->n == 0 && !cname) {
				ans->rcode = DNS_TEMPFAIL;
				return;
			}
			break;
		}
		if (e->type == type && ans->n < STUB_MAX_RR)
			rrs[ans->n++] = e->rr;
		else if (e->type == DNS_T_CNAME && !cname)
			cname = e->rr.text;
	}
	ans->rr = rrs;
	if (!found) {
		ans->rcode = DNS_NXDOMAIN;
		return;
	}
	if (ans->n == 0 && cname && type != DNS_T_CNAME) {
		if (depth >= STUB_MAX_CHASE) {
			ans->rcode = DNS_TEMPFAIL;
			return;
		}
		stub_lookup(s, cname, type, depth + 1, ans, rrs);
		return;
	}
	ans->rcode = DNS_OK;
	ans->nodata = ans->n == 0;
}

/* dns_resolver_ops.query: answer from the table, synchronously. */
static void stub_query(struct dns_resolver *r, const struct dns_question *q,
		       dns_cb *cb, void *arg)
{
	struct dns_stub *s = (struct dns_stub *)r;
	struct dns_rr rrs[STUB_MAX_RR];
	struct dns_answer ans;

	memset(&ans, 0, sizeof(ans));
	s->queries++;
	if (q->name[0] == '\0' || stub_name_bad(q->name))
		ans.rcode = DNS_PERMFAIL;
	else
		stub_lookup(s, q->name, (int)q->type, 0, &ans, rrs);
	if (ans.rcode != DNS_OK) {
		ans.n = 0;
		ans.rr = NULL;
	}
	if (ans.rcode == DNS_OK || ans.rcode == DNS_NXDOMAIN)
		ans.ttl = DNS_STUB_TTL;
	cb(arg, &ans);
}

void dns_stub_clear(struct dns_stub *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->e[i].name);
		free(s->e[i].rr.text);
	}
	s->n = 0;
	s->queries = 0;
}

void dns_stub_free(struct dns_stub *s)
{
	if (!s)
		return;
	dns_stub_clear(s);
	free(s->e);
	free(s);
}

/* dns_resolver_ops.free */
static void stub_free_op(struct dns_resolver *r)
{
	dns_stub_free((struct dns_stub *)r);
}

static const struct dns_resolver_ops stub_ops = {
	.query = stub_query,
	.free = stub_free_op,
};

struct dns_stub *dns_stub_new(void)
{
	struct dns_stub *s = xcalloc(1, sizeof(*s));

	s->base.ops = &stub_ops;
	return s;
}

struct dns_resolver *dns_stub_resolver(struct dns_stub *s)
{
	return &s->base;
}
