/*
 * test-dkim-common - see dkim_testlib.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/dkim_testlib.h"
#include "util/xalloc.h"

void dkimt_zone_add(struct dkimt_zone *z, const char *name,
		    enum dkimt_kind kind, const char *txt)
{
	z->r = xrealloc(z->r, (z->n + 1) * sizeof(*z->r));
	z->r[z->n].name = xstrdup(name);
	z->r[z->n].kind = kind;
	z->r[z->n].txt = xstrdup(txt ? txt : "");
	z->n++;
}

void dkimt_zone_free(struct dkimt_zone *z)
{
	size_t i;

	for (i = 0; i < z->n; i++) {
		free(z->r[i].name);
		free(z->r[i].txt);
	}
	free(z->r);
	z->r = NULL;
	z->n = 0;
}

char *dkimt_read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0, len = 0, got;

	if (f == NULL)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			p = xrealloc(p, cap);
		}
		got = fread(p + len, 1, cap - len - 1, f);
		len += got;
	} while (got > 0);
	fclose(f);
	p[len] = '\0';
	*n = len;
	return p;
}

char *dkimt_crlf(const char *p, size_t n, size_t *outn)
{
	char *o = xmalloc(2 * n + 1);
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			o[k++] = '\r';
		o[k++] = p[i];
	}
	o[k] = '\0';
	*outn = k;
	return o;
}

size_t dkimt_body_offset(const char *msg, size_t n)
{
	size_t i;

	if (n >= 2 && msg[0] == '\r' && msg[1] == '\n')
		return 2;
	for (i = 0; i + 3 < n; i++)
		if (memcmp(msg + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return n;
}

/* Feed the header fields of msg[0..end) to v. */
static void feed_headers(struct dkim_verify *v, const char *msg, size_t end)
{
	size_t pos = 0;

	while (pos < end) {
		size_t e = pos, colon;

		/* A field ends at a CRLF not followed by WSP. */
		for (;;) {
			const char *nl = memchr(msg + e, '\n', end - e);

			if (nl == NULL) {
				e = end;
				break;
			}
			e = (size_t)(nl - msg) + 1;
			if (e >= end || (msg[e] != ' ' && msg[e] != '\t'))
				break;
		}
		colon = pos;
		while (colon < e && msg[colon] != ':')
			colon++;
		if (colon < e) {
			size_t vend = e;

			if (vend > colon + 1 && msg[vend - 1] == '\n')
				vend--;
			if (vend > colon + 1 && msg[vend - 1] == '\r')
				vend--;
			dkim_verify_header(v, msg + pos, colon - pos,
					   msg + colon + 1, vend - colon - 1);
		}
		pos = e;
	}
}

/* Answer every pending question of v from z. */
static void answer_all(struct dkim_verify *v, const struct dkimt_zone *z)
{
	const struct dns_question *q;
	size_t id, i;

	while ((q = dkim_verify_next_question(v, &id)) != NULL) {
		struct dns_answer a = {.rcode = DNS_NXDOMAIN};
		struct dns_rr rr = {.type = DNS_T_TXT};

		for (i = 0; i < z->n; i++) {
			if (strcasecmp(z->r[i].name, q->name) != 0)
				continue;
			switch (z->r[i].kind) {
			case DKIMT_TXT:
				a.rcode = DNS_OK;
				a.n = 1;
				a.rr = &rr;
				rr.text = z->r[i].txt;
				rr.text_len = strlen(rr.text);
				break;
			case DKIMT_NXDOMAIN:
				a.rcode = DNS_NXDOMAIN;
				break;
			case DKIMT_TIMEOUT:
			case DKIMT_SERVFAIL:
				a.rcode = DNS_TEMPFAIL;
				break;
			}
			break;
		}
		dkim_verify_answer(v, id, &a);
	}
}

size_t dkimt_verify(const char *msg, size_t n, const struct dkimt_zone *z,
		    uint64_t now, size_t chunk, bool early,
		    struct dkim_result *res, size_t max)
{
	struct dkim_options opt = {.now = now};
	struct dkim_verify *v = dkim_verify_new(&opt);
	size_t body = dkimt_body_offset(msg, n), hend, i, cnt;

	hend = body == n ? n : body - 2;
	feed_headers(v, msg, hend);
	dkim_verify_eoh(v);
	if (early)
		answer_all(v, z);
	for (i = body; i < n;) {
		size_t len = chunk ? chunk : n - i;

		if (len > n - i)
			len = n - i;
		dkim_verify_body(v, msg + i, len);
		i += len;
	}
	dkim_verify_eom(v);
	answer_all(v, z);
	cnt = dkim_verify_count(v);
	for (i = 0; i < cnt && i < max; i++)
		res[i] = *dkim_verify_result(v, i);
	if (!dkim_verify_done(v))
		cnt = (size_t)-1;
	dkim_verify_free(v);
	return cnt;
}
