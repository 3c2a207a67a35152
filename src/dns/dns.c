/*
 * dns - the resolver interface: dispatch and answer copies.  See dns.h.
 *
 * Nothing here does I/O; the backends (dns_unbound.c, dns_stub.c) fill in
 * struct dns_resolver_ops.  An answer copy is one allocation per record
 * text plus the record array, owned by the caller of dns_answer_dup().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "util/xalloc.h"

void dns_query(struct dns_resolver *r, const struct dns_question *q,
	       dns_cb *cb, void *arg)
{
	r->ops->query(r, q, cb, arg);
}

void dns_resolver_free(struct dns_resolver *r)
{
	if (r)
		r->ops->free(r);
}

struct dns_answer *dns_answer_dup(const struct dns_answer *a)
{
	struct dns_answer *c = xcalloc(1, sizeof(*c));
	size_t i;

	c->rcode = a->rcode;
	c->nodata = a->nodata;
	c->ttl = a->ttl;
	c->n = a->n;
	if (a->n) {
		c->rr = xcalloc(a->n, sizeof(*c->rr));
		for (i = 0; i < a->n; i++) {
			c->rr[i] = a->rr[i];
			if (a->rr[i].text) {
				/* keep a NUL after the bytes so names stay C strings */
				c->rr[i].text = xmalloc(a->rr[i].text_len + 1);
				memcpy(c->rr[i].text, a->rr[i].text,
				       a->rr[i].text_len);
				c->rr[i].text[a->rr[i].text_len] = '\0';
			}
		}
	}
	return c;
}

void dns_answer_free(struct dns_answer *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->n; i++)
		free(a->rr[i].text);
	free(a->rr);
	free(a);
}

void dns_reverse_name(int af, const unsigned char *a, char *out,
		      size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	int i;

	if (af == AF_INET) {
		snprintf(out, outsz, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
			 a[1], a[0]);
		return;
	}
	for (i = 15; i >= 0 && o + 4 < outsz; i--) {
		out[o++] = hex[a[i] & 15];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	snprintf(out + o, outsz - o, "ip6.arpa");
}
