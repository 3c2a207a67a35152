/*
 * milter_proto - the milter protocol, sans I/O.  See milter_proto.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proto/milter_proto.h"

void milter_parser_init(struct milter_parser *p)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->pkt, MILTER_MAX_PACKET);
}

void milter_parser_deinit(struct milter_parser *p)
{
	buf_deinit(&p->pkt);
}

void milter_parser_reset(struct milter_parser *p)
{
	buf_reset(&p->pkt);
	p->nhead = 0;
	p->want = 0;
	p->ready = false;
	p->error = 0;
	p->sample[0] = '\0';
}

/* Record error code with a sample of the bytes behind it. */
static int fail(struct milter_parser *p, int code, const void *data,
		size_t n)
{
	p->error = code;
	buf_sample(p->sample, sizeof(p->sample), data, n, 64);
	return code;
}

int milter_parser_feed(struct milter_parser *p, const void *data, size_t n,
		       size_t *used)
{
	const unsigned char *d = data;
	size_t i = 0;

	*used = 0;
	if (p->error)
		return p->error;
	if (p->ready) {		/* the last packet was handled */
		buf_reset(&p->pkt);
		p->nhead = 0;
		p->want = 0;
		p->ready = false;
	}
	while (p->nhead < 4 && i < n)
		p->head[p->nhead++] = d[i++];
	if (p->nhead < 4) {
		*used = i;
		return MILTER_NEED_MORE;
	}
	if (p->want == 0) {
		uint32_t len = ((uint32_t)p->head[0] << 24) |
			((uint32_t)p->head[1] << 16) |
			((uint32_t)p->head[2] << 8) | p->head[3];

		*used = i;
		if (len == 0)
			return fail(p, MILTER_E_SYNTAX, p->head, 4);
		if (len > MILTER_MAX_PACKET) {
			/* The length and what follows it, never more. */
			unsigned char s[4 + 16];
			size_t k = n - i < 16 ? n - i : 16;

			memcpy(s, p->head, 4);
			memcpy(s + 4, d + i, k);
			return fail(p, MILTER_E_TOO_LARGE, s, 4 + k);
		}
		p->want = len;
	}
	if (i < n) {
		size_t k = p->want - p->pkt.len;

		if (k > n - i)
			k = n - i;
		/* Cannot fail: want <= the buffer's maximum. */
		buf_append(&p->pkt, d + i, k);
		i += k;
	}
	*used = i;
	if (p->pkt.len < p->want)
		return MILTER_NEED_MORE;
	p->ready = true;
	return MILTER_READY;
}

const struct milter_packet *milter_parser_packet(const struct milter_parser *p,
						 struct milter_packet *out)
{
	if (!p->ready)
		return NULL;
	out->cmd = p->pkt.p[0];
	out->data = p->pkt.p + 1;
	out->len = p->pkt.len - 1;
	return out;
}

bool milter_parser_busy(const struct milter_parser *p)
{
	return !p->ready && (p->nhead > 0 || p->pkt.len > 0);
}

const char *milter_parser_sample(const struct milter_parser *p)
{
	return p->sample;
}

const char *milter_error_str(int code)
{
	switch (code) {
	case MILTER_NEED_MORE:
		return "need_more";
	case MILTER_READY:
		return "ready";
	case MILTER_E_TOO_LARGE:
		return "packet_too_large";
	case MILTER_E_SYNTAX:
		return "syntax";
	case MILTER_E_UNKNOWN_CMD:
		return "unknown_command";
	case MILTER_E_VERSION:
		return "version";
	default:
		return "unknown";
	}
}

/* Big-endian 32 bits at p. */
static uint32_t get32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) |
		((uint32_t)u[2] << 8) | u[3];
}

/* The NUL-terminated string at *off in d[0..n): its start, *off moved
 * past its NUL; NULL if it has no NUL before n. */
static const char *get_str(const char *d, size_t n, size_t *off)
{
	const char *s = d + *off, *z;

	if (*off >= n)
		return NULL;
	z = memchr(s, '\0', n - *off);
	if (!z)
		return NULL;
	*off = (size_t)(z - d) + 1;
	return s;
}

/* Every string of d[0..n) into c->argv; the data must end in a NUL. */
static int get_args(const char *d, size_t n, struct milter_cmd *c)
{
	size_t off = 0;

	c->argc = 0;
	while (off < n) {
		const char *s = get_str(d, n, &off);

		if (!s || c->argc == MILTER_MAX_ARGS)
			return MILTER_E_SYNTAX;
		c->argv[c->argc++] = s;
	}
	return c->argc > 0 ? 0 : MILTER_E_SYNTAX;
}

/* CONNECT: host\0 family [port(2) address\0]. */
static int get_connect(const char *d, size_t n, struct milter_cmd *c)
{
	size_t off = 0;

	c->host = get_str(d, n, &off);
	if (!c->host || off >= n)
		return MILTER_E_SYNTAX;
	c->family = d[off++];
	c->addr = "";
	c->port = 0;
	switch (c->family) {
	case 'U':
		return 0;	/* nothing else, or ignored */
	case 'L':
	case '4':
	case '6':
		if (n - off < 2)
			return MILTER_E_SYNTAX;
		c->port = ((unsigned)(unsigned char)d[off] << 8) |
			(unsigned char)d[off + 1];
		off += 2;
		c->addr = get_str(d, n, &off);
		return c->addr ? 0 : MILTER_E_SYNTAX;
	default:
		return MILTER_E_SYNTAX;
	}
}

int milter_decode(const struct milter_packet *pkt, struct milter_cmd *c)
{
	const char *d = pkt->data;
	size_t n = pkt->len, off = 0;

	memset(c, 0, sizeof(*c));
	c->cmd = pkt->cmd;
	switch (pkt->cmd) {
	case MILTER_C_OPTNEG:
		if (n < 12)
			return MILTER_E_SYNTAX;
		c->version = get32(d);
		c->actions = get32(d + 4);
		c->protocol = get32(d + 8);
		return c->version < MILTER_VERSION_MIN ? MILTER_E_VERSION : 0;
	case MILTER_C_CONNECT:
		return get_connect(d, n, c);
	case MILTER_C_HELO:
		c->host = get_str(d, n, &off);
		return c->host ? 0 : MILTER_E_SYNTAX;
	case MILTER_C_MAIL:
	case MILTER_C_RCPT:
		return get_args(d, n, c);
	case MILTER_C_HEADER:
		if (get_args(d, n, c) != 0 || c->argc != 2)
			return MILTER_E_SYNTAX;
		return 0;
	case MILTER_C_MACRO:
		if (n < 1)
			return MILTER_E_SYNTAX;
		c->macro_cmd = d[0];
		c->body = d + 1;
		c->body_len = n - 1;
		/* Pairs: an even number of NUL-terminated strings. */
		while (off < c->body_len) {
			if (!get_str(c->body, c->body_len, &off) ||
			    !get_str(c->body, c->body_len, &off))
				return MILTER_E_SYNTAX;
		}
		return 0;
	case MILTER_C_BODY:
	case MILTER_C_BODYEOB:
	case MILTER_C_UNKNOWN:
		c->body = d;
		c->body_len = n;
		return 0;
	case MILTER_C_ABORT:
	case MILTER_C_QUIT:
	case MILTER_C_QUIT_NC:
	case MILTER_C_EOH:
	case MILTER_C_DATA:
		return 0;
	default:
		return MILTER_E_UNKNOWN_CMD;
	}
}

bool milter_macro_next(const struct milter_cmd *c, size_t *off,
		       const char **name, const char **value)
{
	size_t o = *off;
	const char *k, *v;

	if (c->cmd != MILTER_C_MACRO)
		return false;
	k = get_str(c->body, c->body_len, &o);
	if (!k)
		return false;
	v = get_str(c->body, c->body_len, &o);
	if (!v)
		return false;
	*off = o;
	*name = k;
	*value = v;
	return true;
}

void milter_negotiate(const struct milter_cmd *offer, uint32_t want_actions,
		      uint32_t want_steps, uint32_t *version,
		      uint32_t *actions, uint32_t *protocol)
{
	*version = offer->version < MILTER_VERSION ? offer->version :
		MILTER_VERSION;
	*actions = want_actions & offer->actions;
	*protocol = want_steps & offer->protocol;
}

/* Append a packet: length, reply byte, then the n parts of parts/lens. */
static int put(struct buf *out, char reply, const void *const *parts,
	       const size_t *lens, size_t nparts)
{
	size_t total = 1, i, mark = out->len;
	unsigned char head[5];

	for (i = 0; i < nparts; i++)
		total += lens[i];
	if (total > MILTER_MAX_PACKET)
		return BUF_E_TOO_LARGE;
	head[0] = (unsigned char)(total >> 24);
	head[1] = (unsigned char)(total >> 16);
	head[2] = (unsigned char)(total >> 8);
	head[3] = (unsigned char)total;
	head[4] = (unsigned char)reply;
	if (buf_append(out, head, 5) != 0)
		return BUF_E_TOO_LARGE;
	for (i = 0; i < nparts; i++) {
		if (buf_append(out, parts[i], lens[i]) != 0) {
			out->len = mark;	/* all or nothing */
			if (out->p)
				out->p[mark] = '\0';
			return BUF_E_TOO_LARGE;
		}
	}
	return 0;
}

/* Big-endian 32 bits into b. */
static void set32(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

int milter_put_optneg(struct buf *out, uint32_t version, uint32_t actions,
		      uint32_t protocol)
{
	unsigned char b[12];
	const void *parts[] = { b };
	size_t lens[] = { sizeof(b) };

	set32(b, version);
	set32(b + 4, actions);
	set32(b + 8, protocol);
	return put(out, MILTER_C_OPTNEG, parts, lens, 1);
}

int milter_put_simple(struct buf *out, char reply)
{
	return put(out, reply, NULL, NULL, 0);
}

/* Copy of s (at most n bytes) with CR, LF and '%' made spaces. */
static size_t clean_text(char *dst, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		dst[i] = (s[i] == '\r' || s[i] == '\n' || s[i] == '%') ?
			' ' : s[i];
	return i;
}

/* Append "cleaned text\0" as one reply packet after prefix. */
static int put_text(struct buf *out, char reply, const char *prefix,
		    const char *text)
{
	size_t plen = strlen(prefix), tlen = strlen(text), n;
	char buf[1024];
	const void *parts[3];
	size_t lens[3];

	/* Replies and reasons are a line of text: 1,000 bytes is plenty
	 * (RFC 5321 4.5.3.1.5 allows a reply line of 512). */
	if (tlen > sizeof(buf) - 1)
		tlen = sizeof(buf) - 1;
	n = clean_text(buf, text, tlen);
	buf[n] = '\0';
	parts[0] = prefix;
	lens[0] = plen;
	parts[1] = buf;
	lens[1] = n + 1;
	return put(out, reply, parts, lens, 2);
}

int milter_put_replycode(struct buf *out, const char *rcode,
			 const char *xcode, const char *text)
{
	char prefix[32];

	if (!xcode)
		xcode = rcode[0] == '4' ? "4.0.0" : "5.0.0";
	snprintf(prefix, sizeof(prefix), "%.3s %.15s ", rcode, xcode);
	return put_text(out, MILTER_R_REPLYCODE, prefix, text ? text : "");
}

/* INSHEADER or CHGHEADER: index, name\0, value\0. */
static int put_indexed(struct buf *out, char reply, uint32_t index,
		       const char *name, const char *value)
{
	unsigned char b[4];
	const void *parts[] = { b, name, value };
	size_t lens[] = { 4, strlen(name) + 1, strlen(value) + 1 };

	set32(b, index);
	return put(out, reply, parts, lens, 3);
}

int milter_put_insheader(struct buf *out, uint32_t index, const char *name,
			 const char *value)
{
	return put_indexed(out, MILTER_R_INSHEADER, index, name, value);
}

int milter_put_chgheader(struct buf *out, uint32_t index, const char *name,
			 const char *value)
{
	return put_indexed(out, MILTER_R_CHGHEADER, index, name,
			   value ? value : "");
}

int milter_put_addheader(struct buf *out, const char *name,
			 const char *value)
{
	const void *parts[] = { name, value };
	size_t lens[] = { strlen(name) + 1, strlen(value) + 1 };

	return put(out, MILTER_R_ADDHEADER, parts, lens, 2);
}

int milter_put_quarantine(struct buf *out, const char *reason)
{
	return put_text(out, MILTER_R_QUARANTINE, "", reason);
}
