/*
 * dkim_canon - DKIM canonicalization (RFC 6376 3.4), shared by verifier
 * and (later) signer.
 *
 * Header fields (3.4.1, 3.4.2): simple hashes the field as written; relaxed
 * lowercases the name, unfolds (drops CRLF pairs), turns each run of SP/HTAB
 * into one SP, and drops WSP at both ends of the value and around the colon.
 *
 * Body (3.4.3, 3.4.4), streaming: the body arrives in chunks split anywhere,
 * even between CR and LF, and nothing is buffered but a count of empty lines
 * held back (they only count if content follows), a pending CR and a
 * pending run of WSP.  So memory is constant whatever the body.  simple
 * turns trailing empty lines into nothing and an empty body into one CRLF;
 * relaxed also drops WSP at line ends and folds WSP runs into one SP, and an
 * empty body stays empty (RFC 6376 erratum 1384 / 3.4.4).  A last line
 * without CRLF gets one in both.  Only CRLF ends a line; a lone CR or LF is
 * an ordinary byte.  With l= (3.5) only the first l canonical bytes reach
 * the hash, but the total is still counted so l > body can be detected.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "mail/dkim.h"

/* SP or HTAB */
static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

int dkim_canon_header(struct buf *out, enum dkim_canon c, const char *name,
		      size_t nlen, const char *value, size_t vlen, bool crlf)
{
	size_t i, s, e;
	bool wsp = false, any = false;
	int r;

	if (c == DKIM_C_SIMPLE) {
		if ((r = buf_append(out, name, nlen)) != 0 ||
		    (r = buf_append(out, ":", 1)) != 0 ||
		    (r = buf_append(out, value, vlen)) != 0)
			return r;
		return crlf ? buf_append(out, "\r\n", 2) : 0;
	}
	/* Relaxed: built in a stack chunk, appended a chunk at a time. */
	{
		char tmp[512];
		size_t t = 0;

#define PUT(c_) do { \
		if (t == sizeof(tmp)) { \
			if ((r = buf_append(out, tmp, t)) != 0) \
				return r; \
			t = 0; \
		} \
		tmp[t++] = (c_); \
	} while (0)
		e = nlen;
		while (e > 0 && is_wsp(name[e - 1]))
			e--;
		for (i = 0; i < e; i++) {
			char ch = name[i];

			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			PUT(ch);
		}
		PUT(':');
		s = 0;
		for (i = s; i < vlen; i++) {
			char ch = value[i];

			if (ch == '\r' && i + 1 < vlen && value[i + 1] == '\n') {
				i++;
				continue;
			}
			if (is_wsp(ch)) {
				wsp = true;
				continue;
			}
			/* WSP before the first byte of the value is dropped. */
			if (wsp && any)
				PUT(' ');
			wsp = false;
			any = true;
			PUT(ch);
		}
#undef PUT
		if (t > 0 && (r = buf_append(out, tmp, t)) != 0)
			return r;
	}
	return crlf ? buf_append(out, "\r\n", 2) : 0;
}

void dkim_body_init(struct dkim_body *b, enum dkim_canon c, bool has_limit,
		    uint64_t limit, void *md, struct buf *copy)
{
	memset(b, 0, sizeof(*b));
	b->c = c;
	b->has_limit = has_limit;
	b->limit = limit;
	b->at_bol = true;
	b->md = md;
	b->copy = copy;
}

/* Send n canonical bytes on, within l=. */
static void emit(struct dkim_body *b, const char *p, size_t n)
{
	b->total += n;
	if (b->has_limit) {
		if (b->hashed >= b->limit)
			return;
		if (n > b->limit - b->hashed)
			n = (size_t)(b->limit - b->hashed);
	}
	b->hashed += n;
	if (b->md != NULL)
		EVP_DigestUpdate(b->md, p, n);
	if (b->copy != NULL && b->error == 0)
		b->error = buf_append(b->copy, p, n);
}

/* A content byte: release the held empty lines and WSP first. */
static void content(struct dkim_body *b, char c)
{
	while (b->nl_pending > 0) {
		emit(b, "\r\n", 2);
		b->nl_pending--;
	}
	if (b->wsp_pending) {
		emit(b, " ", 1);
		b->wsp_pending = false;
	}
	emit(b, &c, 1);
	b->at_bol = false;
}

/* CRLF seen: end the line, holding it back if it is empty. */
static void line_end(struct dkim_body *b)
{
	b->wsp_pending = false;	/* relaxed: WSP at line end is dropped */
	if (b->at_bol)
		b->nl_pending++;	/* 64 bits: cannot wrap */
	else
		emit(b, "\r\n", 2);
	b->at_bol = true;
}

void dkim_body_feed(struct dkim_body *b, const void *data, size_t n)
{
	const char *p = data;
	size_t i, run;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (b->cr_pending) {
			b->cr_pending = false;
			if (c == '\n') {
				line_end(b);
				continue;
			}
			content(b, '\r');
		}
		if (c == '\r') {
			b->cr_pending = true;
		} else if (b->c == DKIM_C_RELAXED && is_wsp(c)) {
			b->wsp_pending = true;
		} else if (b->nl_pending == 0 && !b->wsp_pending) {
			/* Fast path: a run of plain content bytes. */
			run = 1;
			while (i + run < n && p[i + run] != '\r' &&
			       !(b->c == DKIM_C_RELAXED && is_wsp(p[i + run])))
				run++;
			emit(b, p + i, run);
			b->at_bol = false;
			i += run - 1;
		} else {
			content(b, c);
		}
	}
}

void dkim_body_end(struct dkim_body *b)
{
	if (b->cr_pending) {
		b->cr_pending = false;
		content(b, '\r');
	}
	if (!b->at_bol) {
		b->wsp_pending = false;
		emit(b, "\r\n", 2);
		b->at_bol = true;
	} else if (b->c == DKIM_C_SIMPLE && b->total == 0) {
		emit(b, "\r\n", 2);
	}
	b->nl_pending = 0;
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Fetch SHA-256 once; the implicit EVP_sha256() is the fallback. */
static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *dkim_sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md ? sha256_md : EVP_sha256();
}
