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
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <openssl/evp.h>

#include "mail/dkim.h"

/* SP or HTAB */
static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Bytes relaxed header canonicalization looks at; the rest are copied. */
enum { HC_PLAIN, HC_WSP, HC_CR };
static const unsigned char hclass[256] = {
	[' '] = HC_WSP, ['\t'] = HC_WSP, ['\r'] = HC_CR,
};

int dkim_canon_header(struct buf *out, enum dkim_canon c, const char *name,
		      size_t nlen, const char *value, size_t vlen, bool crlf)
{
	size_t i, e;
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
		char tmp[2048];
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
		i = 0;
		while (i < vlen) {
			unsigned k = hclass[(unsigned char)value[i]];
			size_t lim;

			if (k == HC_WSP) {
				wsp = true;
				i++;
				continue;
			}
			if (k == HC_CR && i + 1 < vlen && value[i + 1] == '\n') {
				i += 2;
				continue;
			}
			/* WSP before the first byte of the value is dropped. */
			if (wsp && any)
				PUT(' ');
			wsp = false;
			any = true;
			PUT(value[i]);	/* may be a lone CR */
			i++;
			/* The plain bytes after it, as many as tmp holds. */
			if (t == sizeof(tmp)) {
				if ((r = buf_append(out, tmp, t)) != 0)
					return r;
				t = 0;
			}
			lim = vlen - i < sizeof(tmp) - t ? vlen :
			      i + (sizeof(tmp) - t);
			while (i < lim && hclass[(unsigned char)value[i]] == 0)
				tmp[t++] = value[i++];
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

/*
 * Canonical bytes are gathered here and sent on a few KB at a time: relaxed
 * canonicalization ends a run at every space, and one EVP_DigestUpdate per
 * word cost more than the hashing itself.
 */
struct stage {
	struct dkim_body *b;
	size_t n;
	char buf[4096];
};

static void flush(struct stage *s)
{
	if (s->n > 0)
		emit(s->b, s->buf, s->n);
	s->n = 0;
}

static void put(struct stage *s, const char *p, size_t n)
{
	if (n > sizeof(s->buf) - s->n) {
		flush(s);
		if (n >= sizeof(s->buf)) {
			emit(s->b, p, n);
			return;
		}
	}
	memcpy(s->buf + s->n, p, n);
	s->n += n;
}

/* A content byte: release the held empty lines and WSP first. */
static void content(struct stage *s, char c)
{
	struct dkim_body *b = s->b;

	while (b->nl_pending > 0) {
		put(s, "\r\n", 2);
		b->nl_pending--;
	}
	if (b->wsp_pending) {
		put(s, " ", 1);
		b->wsp_pending = false;
	}
	put(s, &c, 1);
	b->at_bol = false;
}

/* CRLF seen: end the line, holding it back if it is empty. */
static void line_end(struct stage *s)
{
	struct dkim_body *b = s->b;

	b->wsp_pending = false;	/* relaxed: WSP at line end is dropped */
	if (b->at_bol)
		b->nl_pending++;	/* 64 bits: cannot wrap */
	else
		put(s, "\r\n", 2);
	b->at_bol = true;
}

/*
 * Bytes that end a run of plain content: CR always, SP and HTAB under
 * relaxed.  Indexed [relaxed][byte].
 */
static const bool run_stop[2][256] = {
	{['\r'] = true},
	{['\r'] = true, [' '] = true, ['\t'] = true},
};

/*
 * True if the 16 bytes at q canonicalize to themselves after a content
 * byte: no CR, and under relaxed no HTAB, no two SP in a row and no SP at
 * the end (what follows it decides).  Text bodies are mostly such blocks,
 * so they are copied 16 bytes at a time.  SSE2 is part of x86-64; other
 * machines take the byte loop.
 */
static inline bool plain16(const char *q, bool relaxed)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
	unsigned cr = (unsigned)_mm_movemask_epi8(
		_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
	unsigned tab, sp;

	if (!relaxed)
		return cr == 0;
	tab = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v,
						      _mm_set1_epi8('\t')));
	sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v,
						     _mm_set1_epi8(' ')));
	return (cr | tab | (sp & (sp >> 1)) | (sp & 0x8000u)) == 0;
#else
	(void)q;
	(void)relaxed;
	return false;
#endif
}

void dkim_body_feed(struct dkim_body *b, const void *data, size_t n)
{
	const char *p = data;
	bool relaxed = b->c == DKIM_C_RELAXED;
	const bool *stop = run_stop[relaxed];
	struct stage s;
	size_t i = 0;

	s.b = b;
	s.n = 0;
	while (i < n) {
		char c = p[i];

		if (b->cr_pending) {
			b->cr_pending = false;
			if (c == '\n') {
				line_end(&s);
				i++;
				continue;
			}
			content(&s, '\r');
		}
		if (c == '\r') {
			b->cr_pending = true;
			i++;
		} else if (stop[(unsigned char)c]) {
			b->wsp_pending = true;	/* relaxed WSP */
			i++;
		} else {
			/* A run of plain content bytes, copied straight into
			 * the stage once the held lines and WSP are out. */
			char *o;
			size_t lim;

			if (b->nl_pending > 0 || b->wsp_pending)
				content(&s, c), i++;
			if (s.n == sizeof(s.buf))
				flush(&s);
			o = s.buf + s.n;
			lim = n - i < sizeof(s.buf) - s.n ?
			      n : i + (sizeof(s.buf) - s.n);
			for (;;) {
				size_t end;
				bool more = true;

				if (lim - i >= 16 && plain16(p + i, relaxed)) {
					memcpy(o, p + i, 16);
					o += 16;
					i += 16;
					continue;
				}
				/* Byte by byte through the next 16 at most. */
				end = lim - i > 16 ? i + 16 : lim;
				while (i < end) {
					unsigned char ch = (unsigned char)p[i];

					if (!stop[ch]) {
						*o++ = (char)ch;
						i++;
					} else if (ch == ' ' && i + 1 < lim &&
						   !stop[(unsigned char)
							 p[i + 1]]) {
						/* relaxed: one SP between
						 * content bytes stays */
						*o++ = ' ';
						*o++ = p[i + 1];
						i += 2;
					} else {
						more = false;
						break;
					}
				}
				if (!more || i >= lim)
					break;
			}
			s.n = (size_t)(o - s.buf);
			b->at_bol = false;
		}
	}
	flush(&s);
}

void dkim_body_end(struct dkim_body *b)
{
	struct stage s;

	s.b = b;
	s.n = 0;
	if (b->cr_pending) {
		b->cr_pending = false;
		content(&s, '\r');
	}
	if (!b->at_bol) {
		b->wsp_pending = false;
		put(&s, "\r\n", 2);
		b->at_bol = true;
	} else if (b->c == DKIM_C_SIMPLE && b->total == 0 && s.n == 0) {
		put(&s, "\r\n", 2);
	}
	flush(&s);
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
