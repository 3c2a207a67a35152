/*
 * dkim_verify - the DKIM verifier (RFC 6376 6.1), sans I/O, and its
 * Authentication-Results form (RFC 8601 2.7.1, RFC 6376 3.10, RFC 6008).
 *
 * Life of a message: header fields are stored (bounded by DKIM_MAX_HEADERS
 * and DKIM_MAX_HEADER_BYTES) until the header ends.  Then every
 * DKIM-Signature up to the limit (max_sigs, top down, i.e. the most recent
 * first) is parsed and, if sound, its header hash is computed at once (h=
 * selects fields from the bottom up, each instance used once, a name with
 * no instance left contributes nothing: that is how oversigning works), its
 * body hasher is started and its key question queued (signatures naming the
 * same selector share one question).  Body chunks feed every live body
 * hasher.  A key answer settles key errors at once and checks the signature
 * over the header hash; end of message settles the body hash.  The result
 * of a signature is final when both are known, in the order 6.1 gives: key
 * errors, then the body hash, then the signature.
 *
 * Signatures over the limit get DKIM_NOT_CHECKED; they cost a parse for the
 * report, no hashing and no DNS.  Checked signatures with the same body
 * canonicalization and l= share one body hash (all use SHA-256: rsa-sha1 is
 * refused), so a message signed by both its author's domain and a mailing
 * list, or with RSA and Ed25519 together, hashes its body once per c=/l=
 * pair.  A body hash stops early when every signature using it has
 * settled (a key error, say).
 *
 * The clock is taken once, at creation (options.now), so a test is
 * repeatable.  t= up to options.skew seconds in the future is tolerated.
 */
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "mail/dkim.h"
#include "util/xalloc.h"

#define DEFAULT_SKEW 300

struct hdr {
	size_t name_off, nlen, val_off, vlen;
	size_t ntrim;		/* nlen without trailing WSP */
	uint32_t nhash;		/* name_hash() of the trimmed name */
};

/* One body hash, shared by the signatures with its c= and l=. */
struct bodyhash {
	EVP_MD_CTX *md;		/* NULL when stopped or finished */
	struct dkim_body body;
	unsigned users;		/* signatures still waiting for it */
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned dlen;
};

#define NO_BODY SIZE_MAX

struct vsig {
	struct dkim_result r;
	size_t hdr;		/* index into v->hdrs */
	struct dkim_sig *sig;	/* NULL once settled or when not checked */
	unsigned char hhash[EVP_MAX_MD_SIZE];
	size_t bh;		/* index into v->bhs, or NO_BODY */
	size_t q;		/* question index */
	bool key_done, sig_ok, body_done, body_ok;
	enum dkim_why body_why;
};

struct question {
	struct dns_question q;
	bool handed_out, answered;
};

struct dkim_verify {
	struct dkim_options opt;
	struct buf hbytes;	/* names and values of all header fields */
	struct hdr *hdrs;
	size_t nhdrs;
	bool overflow;		/* a header field did not fit */
	bool eoh, eom;
	struct vsig *sigs;
	size_t nsigs;
	struct bodyhash *bhs;	/* as many slots as sigs */
	size_t nbhs;
	struct question *qs;
	size_t nq;
	struct buf scratch;	/* one canonical header field at a time */
	struct buf strip;	/* the own DKIM-Signature value, b= emptied */
};

static const char *const res_names[] = {
	[DKIM_NONE] = "none",
	[DKIM_PASS] = "pass",
	[DKIM_FAIL] = "fail",
	[DKIM_NEUTRAL] = "neutral",
	[DKIM_POLICY] = "policy",
	[DKIM_TEMPERROR] = "temperror",
	[DKIM_PERMERROR] = "permerror",
	[DKIM_NOT_CHECKED] = "policy",
};

static const char *const why_names[DKIM_W__COUNT] = {
	[DKIM_W_OK] = "ok",
	[DKIM_W_SYNTAX] = "signature syntax error",
	[DKIM_W_DUP_TAG] = "duplicate tag",
	[DKIM_W_MISSING_TAG] = "missing required tag",
	[DKIM_W_VERSION] = "unsupported version",
	[DKIM_W_ALG] = "unsupported algorithm",
	[DKIM_W_ALG_SHA1] = "rsa-sha1 not accepted",
	[DKIM_W_CANON] = "unsupported canonicalization",
	[DKIM_W_QUERY] = "unsupported query method",
	[DKIM_W_DOMAIN] = "bad domain or selector",
	[DKIM_W_BASE64] = "bad base64",
	[DKIM_W_BAD_I] = "i= not within d=",
	[DKIM_W_NO_FROM] = "From not signed",
	[DKIM_W_BAD_L] = "bad l=",
	[DKIM_W_BAD_TIME] = "bad t= or x=",
	[DKIM_W_EXPIRED] = "signature expired",
	[DKIM_W_FUTURE] = "signature in the future",
	[DKIM_W_TOO_LONG] = "signature too long",
	[DKIM_W_HEADERS] = "header too large",
	[DKIM_W_NO_KEY] = "no key for signature",
	[DKIM_W_KEY_SYNTAX] = "key syntax error",
	[DKIM_W_KEY_VERSION] = "unsupported key version",
	[DKIM_W_KEY_REVOKED] = "key revoked",
	[DKIM_W_KEY_TYPE] = "unsupported key type",
	[DKIM_W_KEY_HASH] = "hash not allowed by key",
	[DKIM_W_KEY_SERVICE] = "key not for email",
	[DKIM_W_KEY_STRICT] = "i= domain differs from d= (key t=s)",
	[DKIM_W_KEY_BAD] = "unusable key",
	[DKIM_W_KEY_TOO_SMALL] = "key too small",
	[DKIM_W_KEY_TOO_LARGE] = "key too large",
	[DKIM_W_DNS] = "key query failed",
	[DKIM_W_BODY_HASH] = "body hash mismatch",
	[DKIM_W_SIGNATURE] = "signature mismatch",
	[DKIM_W_BODY_LENGTH] = "l= longer than body",
	[DKIM_W_LIMIT] = "not checked: signature limit",
};

const char *dkim_res_name(enum dkim_res r)
{
	if ((size_t)r >= sizeof(res_names) / sizeof(res_names[0]))
		return "none";
	return res_names[r];
}

const char *dkim_why_name(enum dkim_why w)
{
	if ((size_t)w >= DKIM_W__COUNT || why_names[w] == NULL)
		return "unknown";
	return why_names[w];
}

/* Copy span to dst keeping only token characters, for the report. */
static void copy_token(char *dst, size_t cap, struct span s, bool b64)
{
	size_t i, o = 0;

	for (i = 0; i < s.n && o + 1 < cap; i++) {
		char c = s.p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_' || (b64 && (c == '+' || c == '/' || c == '=')))
			dst[o++] = c;
		else if (!b64)
			break;	/* a broken value: keep the sound prefix */
	}
	dst[o] = '\0';
}

struct dkim_verify *dkim_verify_new(const struct dkim_options *opt)
{
	struct dkim_verify *v = xcalloc(1, sizeof(*v));

	if (opt != NULL)
		v->opt = *opt;
	if (v->opt.max_sigs == 0)
		v->opt.max_sigs = DKIM_DEFAULT_MAX_SIGS;
	if (v->opt.now == 0)
		v->opt.now = (uint64_t)time(NULL);
	if (v->opt.skew == 0)
		v->opt.skew = DEFAULT_SKEW;
	buf_init(&v->hbytes, DKIM_MAX_HEADER_BYTES);
	buf_init(&v->scratch, DKIM_MAX_HEADER_BYTES + 16);
	buf_init(&v->strip, DKIM_MAX_HEADER_BYTES + 16);
	return v;
}

/*
 * Digest contexts kept by this thread for reuse: EVP_MD_CTX_new and a first
 * EVP_DigestInit_ex cost OpenSSL 3 mallocs and an algorithm lookup, while
 * re-initialising a context already set up for SHA-256 does not.  hmd is
 * the header hash's; spare holds one body hash context given back.
 */
static _Thread_local EVP_MD_CTX *hmd_cache, *spare_bmd;
static void tls_register(void);

/* A SHA-256 context, started; aborts when OpenSSL is out of memory. */
static EVP_MD_CTX *sha256_ctx(EVP_MD_CTX **cached)
{
	EVP_MD_CTX *md = *cached;

	*cached = NULL;
	if (md == NULL)
		md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, dkim_sha256(), NULL) != 1)
		abort();	/* OpenSSL out of memory: as xmalloc does */
	return md;
}

/* Give md back to *cached for reuse, or free it if that is taken. */
static void sha256_ctx_put(EVP_MD_CTX **cached, EVP_MD_CTX *md)
{
	if (md != NULL && *cached == NULL) {
		*cached = md;
		tls_register();
	} else {
		EVP_MD_CTX_free(md);
	}
}

/* s no longer needs its body hash; the last user stops it. */
static void stop_body(struct dkim_verify *v, struct vsig *s)
{
	struct bodyhash *b;

	if (s->bh == NO_BODY)
		return;
	b = &v->bhs[s->bh];
	s->bh = NO_BODY;
	if (--b->users == 0) {
		sha256_ctx_put(&spare_bmd, b->md);
		b->md = NULL;
	}
}

/* Give s its final result and drop what it no longer needs. */
static void settle(struct dkim_verify *v, struct vsig *s, enum dkim_res res,
		   enum dkim_why why)
{
	s->r.res = res;
	s->r.why = why;
	stop_body(v, s);
	free(s->sig);
	s->sig = NULL;
}

void dkim_verify_free(struct dkim_verify *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nsigs; i++) {
		stop_body(v, &v->sigs[i]);
		free(v->sigs[i].sig);
	}
	free(v->sigs);
	free(v->bhs);
	free(v->hdrs);
	free(v->qs);
	buf_deinit(&v->hbytes);
	buf_deinit(&v->scratch);
	buf_deinit(&v->strip);
	free(v);
}

/* FNV-1a of name[0..n) in ASCII lower case. */
static uint32_t name_hash(const char *name, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		h ^= c >= 'A' && c <= 'Z' ? c + 32 : c;
		h *= 16777619u;
	}
	return h;
}

/*
 * True if header field h is named name (n bytes, hash nh = name_hash()),
 * ignoring case and trailing WSP.  Length and hash rule out nearly every
 * other field before any byte is compared: h= is matched against every
 * field for every name it lists.
 */
static bool hdr_named(const struct dkim_verify *v, const struct hdr *h,
		      const char *name, size_t n, uint32_t nh)
{
	return h->ntrim == n && h->nhash == nh &&
	       strncasecmp(v->hbytes.p + h->name_off, name, n) == 0;
}

void dkim_verify_header(struct dkim_verify *v, const char *name, size_t nlen,
			const char *value, size_t vlen)
{
	struct hdr h;
	size_t mark = v->hbytes.len;

	if (v->eoh || v->overflow)
		return;
	if (v->nhdrs == DKIM_MAX_HEADERS ||
	    buf_append(&v->hbytes, name, nlen) != 0 ||
	    buf_append(&v->hbytes, value, vlen) != 0) {
		v->hbytes.len = mark;
		v->overflow = true;
		return;
	}
	h.name_off = mark;
	h.nlen = nlen;
	h.ntrim = nlen;
	while (h.ntrim > 0 && (name[h.ntrim - 1] == ' ' ||
			       name[h.ntrim - 1] == '\t'))
		h.ntrim--;
	h.nhash = name_hash(name, h.ntrim);
	h.val_off = mark + nlen;
	h.vlen = vlen;
	/* Grow by doubling; bounded by DKIM_MAX_HEADERS. */
	if ((v->nhdrs & (v->nhdrs - 1)) == 0)
		v->hdrs = xrealloc(v->hdrs, (v->nhdrs ? 2 * v->nhdrs : 1) *
					    sizeof(*v->hdrs));
	v->hdrs[v->nhdrs++] = h;
}

/* Hash one canonical header field into md; false if it does not fit. */
static bool hash_field(struct dkim_verify *v, EVP_MD_CTX *md,
		       enum dkim_canon c, const char *name, size_t nlen,
		       const char *val, size_t vlen, bool crlf)
{
	buf_reset(&v->scratch);
	if (dkim_canon_header(&v->scratch, c, name, nlen, val, vlen, crlf))
		return false;
	EVP_DigestUpdate(md, v->scratch.p, v->scratch.len);
	return true;
}

/* Compute the header hash of s (RFC 6376 3.7); a DKIM_W_* on failure. */
static int header_hash(struct dkim_verify *v, struct vsig *s)
{
	const struct dkim_sig *sig = s->sig;
	const struct hdr *own = &v->hdrs[s->hdr];
	const char *sv = v->hbytes.p + own->val_off;
	bool *used = xcalloc(v->nhdrs + 1, sizeof(bool));
	EVP_MD_CTX *md = sha256_ctx(&hmd_cache);
	size_t i, j, len;
	bool okay = true;

	/* A signer cannot have signed the field it was creating. */
	used[s->hdr] = true;
	for (i = 0; okay && i < sig->nh; i++) {
		uint32_t nh = name_hash(sig->hnames[i].p, sig->hnames[i].n);

		for (j = v->nhdrs; j-- > 0;) {
			const struct hdr *h = &v->hdrs[j];

			if (used[j] || !hdr_named(v, h, sig->hnames[i].p,
						  sig->hnames[i].n, nh))
				continue;
			used[j] = true;
			okay = hash_field(v, md, sig->hcanon,
					  v->hbytes.p + h->name_off, h->nlen,
					  v->hbytes.p + h->val_off, h->vlen,
					  true);
			break;
		}
	}
	/* The signature itself, b= emptied, without its CRLF. */
	if (okay) {
		len = sig->b_start + (own->vlen - sig->b_end);
		buf_reset(&v->strip);
		okay = buf_append(&v->strip, sv, sig->b_start) == 0 &&
		       buf_append(&v->strip, sv + sig->b_end,
				  own->vlen - sig->b_end) == 0 &&
		       hash_field(v, md, sig->hcanon,
				  v->hbytes.p + own->name_off, own->nlen,
				  v->strip.p, len, false);
	}
	okay = okay && EVP_DigestFinal_ex(md, s->hhash, NULL) == 1;
	sha256_ctx_put(&hmd_cache, md);
	free(used);
	return okay ? 0 : DKIM_W_HEADERS;
}

/* Index of the question for s's key, adding it if new; SIZE_MAX if the
 * name does not fit a DNS name. */
static size_t question_for(struct dkim_verify *v, const struct dkim_sig *sig)
{
	char name[sizeof(v->qs[0].q.name)];
	size_t i, n = sig->s.n + sizeof("._domainkey.") - 1 + sig->d.n;

	if (n > 253)
		return SIZE_MAX;
	memcpy(name, sig->s.p, sig->s.n);
	memcpy(name + sig->s.n, "._domainkey.", 12);
	memcpy(name + sig->s.n + 12, sig->d.p, sig->d.n);
	name[n] = '\0';
	for (i = 0; i < v->nq; i++)
		if (strcasecmp(v->qs[i].q.name, name) == 0)
			return i;
	v->qs = xrealloc(v->qs, (v->nq + 1) * sizeof(*v->qs));
	memset(&v->qs[v->nq], 0, sizeof(v->qs[0]));
	memcpy(v->qs[v->nq].q.name, name, n + 1);
	v->qs[v->nq].q.type = DNS_T_TXT;
	return v->nq++;
}

/* The body hash for sig's c= and l=, started if it is the first. */
static size_t body_for(struct dkim_verify *v, const struct dkim_sig *sig)
{
	struct bodyhash *b;
	size_t i;

	for (i = 0; i < v->nbhs; i++) {
		b = &v->bhs[i];
		if (b->md != NULL && b->body.c == sig->bcanon &&
		    b->body.has_limit == sig->has_l &&
		    (!sig->has_l || b->body.limit == sig->l)) {
			b->users++;
			return i;
		}
	}
	b = &v->bhs[v->nbhs];
	b->md = sha256_ctx(&spare_bmd);
	b->users = 1;
	dkim_body_init(&b->body, sig->bcanon, sig->has_l, sig->l, b->md, NULL);
	return v->nbhs++;
}

/* Parse and prepare signature s (the idx-th); settles it on error. */
static void start_sig(struct dkim_verify *v, struct vsig *s, size_t idx)
{
	const struct hdr *h = &v->hdrs[s->hdr];
	struct dkim_sig *sig = xmalloc(sizeof(*sig));
	int r;

	s->sig = sig;
	r = dkim_sig_parse(sig, v->hbytes.p + h->val_off, h->vlen);
	copy_token(s->r.d, sizeof(s->r.d), sig->d, false);
	copy_token(s->r.s, sizeof(s->r.s), sig->s, false);
	copy_token(s->r.a, sizeof(s->r.a), sig->a, false);
	copy_token(s->r.b, sizeof(s->r.b), sig->b_text, true);
	if (r == 0)
		copy_token(s->r.auid, sizeof(s->r.auid),
			   (struct span){sig->auid, strlen(sig->auid)}, false);
	if (idx >= v->opt.max_sigs) {
		settle(v, s, DKIM_NOT_CHECKED, DKIM_W_LIMIT);
		return;
	}
	if (r == 0)
		r = dkim_sig_check_time(sig, v->opt.now, v->opt.skew);
	if (r == 0)
		r = header_hash(v, s);
	if (r == 0 && (s->q = question_for(v, sig)) == SIZE_MAX)
		r = DKIM_W_DOMAIN;
	if (r != 0) {
		settle(v, s, DKIM_PERMERROR, (enum dkim_why)r);
		return;
	}
	s->bh = body_for(v, sig);
}

void dkim_verify_eoh(struct dkim_verify *v)
{
	size_t i, n = 0;
	uint32_t dh;

	if (v->eoh)
		return;
	v->eoh = true;
	dh = name_hash("DKIM-Signature", 14);
	for (i = 0; i < v->nhdrs; i++)
		if (hdr_named(v, &v->hdrs[i], "DKIM-Signature", 14, dh))
			n++;
	v->sigs = xcalloc(n ? n : 1, sizeof(*v->sigs));
	v->bhs = xcalloc(n ? n : 1, sizeof(*v->bhs));
	for (i = 0; i < v->nhdrs; i++) {
		struct vsig *s;

		if (!hdr_named(v, &v->hdrs[i], "DKIM-Signature", 14, dh))
			continue;
		s = &v->sigs[v->nsigs];
		s->hdr = i;
		s->bh = NO_BODY;
		if (v->overflow)
			settle(v, s, DKIM_PERMERROR, DKIM_W_HEADERS);
		else
			start_sig(v, s, v->nsigs);
		v->nsigs++;
	}
}

void dkim_verify_body(struct dkim_verify *v, const void *p, size_t n)
{
	size_t i;

	dkim_verify_eoh(v);
	if (v->eom)
		return;
	for (i = 0; i < v->nbhs; i++)
		if (v->bhs[i].md != NULL)
			dkim_body_feed(&v->bhs[i].body, p, n);
}

/* Settle s if both its key and its body are known. */
static void try_settle(struct dkim_verify *v, struct vsig *s)
{
	if (s->r.res != DKIM_NONE || !s->key_done || !s->body_done)
		return;
	if (!s->body_ok)
		settle(v, s, DKIM_FAIL, s->body_why);
	else if (!s->sig_ok)
		settle(v, s, DKIM_FAIL, DKIM_W_SIGNATURE);
	else
		settle(v, s, DKIM_PASS, DKIM_W_OK);
}

void dkim_verify_eom(struct dkim_verify *v)
{
	size_t i;

	dkim_verify_eoh(v);
	if (v->eom)
		return;
	v->eom = true;
	for (i = 0; i < v->nbhs; i++) {
		struct bodyhash *b = &v->bhs[i];

		if (b->md == NULL)
			continue;
		dkim_body_end(&b->body);
		if (EVP_DigestFinal_ex(b->md, b->digest, &b->dlen) != 1)
			abort();
	}
	for (i = 0; i < v->nsigs; i++) {
		struct vsig *s = &v->sigs[i];
		const struct bodyhash *b;

		if (s->bh == NO_BODY)
			continue;
		b = &v->bhs[s->bh];
		s->body_done = true;
		s->body_ok = b->dlen == s->sig->bhlen &&
			     memcmp(b->digest, s->sig->bh, b->dlen) == 0;
		s->body_why = DKIM_W_BODY_HASH;
		if (s->sig->has_l && s->sig->l > b->body.total) {
			s->body_ok = false;
			s->body_why = DKIM_W_BODY_LENGTH;
		}
		stop_body(v, s);
		try_settle(v, s);
	}
}

/*
 * The RSA verification context of the last key this thread used.  Setting
 * one up (EVP_PKEY_CTX_new, verify_init, padding, md) costs OpenSSL 3
 * provider lookups, mallocs and locks each time; a busy domain's key is the
 * same EVP_PKEY from dkim_key_load's cache for every message, and a context
 * set up for verify can verify again.  The context holds a reference to its
 * key, so the pointer cannot be reused by another key while it is cached.
 */
static _Thread_local struct {
	EVP_PKEY *pk;
	EVP_PKEY_CTX *ctx;
} rsa_ctx_cache;

/*
 * The milter runs a thread per connection: free this thread's cached
 * contexts when it exits (a pthread key destructor runs in the exiting
 * thread, while its thread-local variables are still there).
 */
/*
 * The last few key records this thread parsed and loaded, by the exact TXT
 * answer bytes: a repeated answer skips dkim_key_parse (tag parsing and
 * base64) and goes straight to the loaded key.  Only records that parsed
 * and loaded cleanly are kept, with the parsed fields use_key checks
 * against each signature; the entry holds its own key reference.
 */
#define REC_CACHE_SLOTS 4
#define REC_CACHE_MAX_TXT 4096

struct rec_slot {
	char *txt;
	size_t n;
	EVP_PKEY *pk;
	enum dkim_keytype k;
	bool hash_sha256, strict, testing;
};

static _Thread_local struct rec_slot rec_cache[REC_CACHE_SLOTS];
static _Thread_local unsigned rec_cache_next;

static void rec_cache_free(void)
{
	size_t i;

	for (i = 0; i < REC_CACHE_SLOTS; i++) {
		free(rec_cache[i].txt);
		EVP_PKEY_free(rec_cache[i].pk);
		memset(&rec_cache[i], 0, sizeof(rec_cache[i]));
	}
	rec_cache_next = 0;
}

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

/* Free the exiting thread's cached contexts. */
static void tls_free(void *unused)
{
	(void)unused;
	EVP_MD_CTX_free(hmd_cache);
	hmd_cache = NULL;
	EVP_MD_CTX_free(spare_bmd);
	spare_bmd = NULL;
	EVP_PKEY_CTX_free(rsa_ctx_cache.ctx);
	rsa_ctx_cache.ctx = NULL;
	rsa_ctx_cache.pk = NULL;
	rec_cache_free();
}

static void tls_key_make(void)
{
	pthread_key_create(&tls_key, tls_free);
}

/* Make sure tls_free runs when this thread exits. */
static void tls_register(void)
{
	pthread_once(&tls_once, tls_key_make);
	if (pthread_getspecific(tls_key) == NULL)
		pthread_setspecific(tls_key, &tls_key);
}

/* A verify context for pk (PKCS#1 v1.5, SHA-256), or NULL on failure. */
static EVP_PKEY_CTX *rsa_verify_ctx(EVP_PKEY *pk)
{
	EVP_PKEY_CTX *c;

	if (rsa_ctx_cache.ctx != NULL && rsa_ctx_cache.pk == pk)
		return rsa_ctx_cache.ctx;
	c = EVP_PKEY_CTX_new(pk, NULL);
	if (c == NULL || EVP_PKEY_verify_init(c) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(c, dkim_sha256()) != 1) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	EVP_PKEY_CTX_free(rsa_ctx_cache.ctx);
	rsa_ctx_cache.ctx = c;
	rsa_ctx_cache.pk = pk;
	tls_register();
	return c;
}

/* Check the signature of s against pk over its header hash. */
static bool check_signature(const struct vsig *s, EVP_PKEY *pk)
{
	bool good = false;

	if (s->sig->alg == DKIM_A_ED25519_SHA256) {
		/* RFC 8463 3: Ed25519 signs the SHA-256 of the header data. */
		EVP_MD_CTX *m = EVP_MD_CTX_new();

		good = m && EVP_DigestVerifyInit(m, NULL, NULL, NULL, pk) == 1 &&
		       EVP_DigestVerify(m, s->sig->b, s->sig->blen, s->hhash,
					32) == 1;
		EVP_MD_CTX_free(m);
	} else {
		EVP_PKEY_CTX *c = rsa_verify_ctx(pk);

		good = c && EVP_PKEY_verify(c, s->sig->b, s->sig->blen,
					    s->hhash, 32) == 1;
	}
	return good;
}

/* The cached entry for the key record txt, or NULL. */
static struct rec_slot *rec_cache_find(const char *txt, size_t n)
{
	size_t i;

	for (i = 0; i < REC_CACHE_SLOTS; i++) {
		struct rec_slot *e = &rec_cache[i];

		if (e->pk && e->n == n && memcmp(e->txt, txt, n) == 0)
			return e;
	}
	return NULL;
}

/* Remember a record that parsed and loaded (takes its own reference). */
static void rec_cache_put(const char *txt, size_t n,
			  const struct dkim_key *key, EVP_PKEY *pk)
{
	struct rec_slot *e;
	char *copy;

	if (n > REC_CACHE_MAX_TXT || EVP_PKEY_up_ref(pk) != 1)
		return;
	copy = xmalloc(n + 1);
	memcpy(copy, txt, n);
	copy[n] = '\0';
	e = &rec_cache[rec_cache_next++ % REC_CACHE_SLOTS];
	free(e->txt);
	EVP_PKEY_free(e->pk);
	e->txt = copy;
	e->n = n;
	e->pk = pk;
	e->k = key->k;
	e->hash_sha256 = key->hash_sha256;
	e->strict = key->strict;
	e->testing = key->testing;
	tls_register();
}

/* The checks of a parsed key against the signature; 0 or the reason. */
static int key_fits(const struct dkim_sig *sig, enum dkim_keytype k,
		    bool hash_sha256, bool strict)
{
	const char *at;

	if ((k == DKIM_K_ED25519) != (sig->alg == DKIM_A_ED25519_SHA256))
		return DKIM_W_KEY_TYPE;
	if (!hash_sha256)
		return DKIM_W_KEY_HASH;
	/* t=s: the i= domain must be d= itself (3.6.1). */
	if (strict) {
		at = strrchr(sig->auid, '@');
		if (!(at && strlen(at + 1) == sig->d.n &&
		      strncasecmp(at + 1, sig->d.p, sig->d.n) == 0))
			return DKIM_W_KEY_STRICT;
	}
	return 0;
}

/* Apply the key record txt to s; returns 0 or the permerror reason. */
static int use_key(struct vsig *s, const char *txt, size_t n)
{
	const struct rec_slot *e = rec_cache_find(txt, n);
	struct dkim_key *key;
	void *pk = NULL;
	int r;

	if (e != NULL) {
		r = key_fits(s->sig, e->k, e->hash_sha256, e->strict);
		if (r == 0) {
			s->r.testing = e->testing;
			s->sig_ok = check_signature(s, e->pk);
		}
		return r;
	}
	key = xmalloc(sizeof(*key));
	r = dkim_key_parse(key, txt, n);
	if (r == 0)
		r = key_fits(s->sig, key->k, key->hash_sha256, key->strict);
	if (r == 0)
		r = dkim_key_load(key, &pk);
	if (r == 0) {
		rec_cache_put(txt, n, key, pk);
		s->r.testing = key->testing;
		s->sig_ok = check_signature(s, pk);
		EVP_PKEY_free(pk);
	}
	free(key);
	return r;
}

const struct dns_question *dkim_verify_next_question(struct dkim_verify *v,
						     size_t *id)
{
	size_t i;

	for (i = 0; i < v->nq; i++) {
		if (v->qs[i].handed_out)
			continue;
		v->qs[i].handed_out = true;
		*id = i;
		return &v->qs[i].q;
	}
	return NULL;
}

void dkim_verify_answer(struct dkim_verify *v, size_t id,
			const struct dns_answer *ans)
{
	const struct dns_rr *rr = NULL;
	size_t i;

	if (id >= v->nq || v->qs[id].answered)
		return;
	v->qs[id].answered = true;
	for (i = 0; ans->rcode == DNS_OK && i < ans->n; i++) {
		if (ans->rr[i].type == DNS_T_TXT) {
			/* More than one record: RFC 6376 3.6.2.2 leaves
			 * the choice to us; the first is used. */
			rr = &ans->rr[i];
			break;
		}
	}
	for (i = 0; i < v->nsigs; i++) {
		struct vsig *s = &v->sigs[i];
		int r;

		if (s->r.res != DKIM_NONE || s->q != id || s->key_done)
			continue;
		if (ans->rcode == DNS_TEMPFAIL) {
			settle(v, s, DKIM_TEMPERROR, DKIM_W_DNS);
			continue;
		}
		if (rr == NULL) {
			settle(v, s, DKIM_PERMERROR, DKIM_W_NO_KEY);
			continue;
		}
		r = use_key(s, rr->text ? rr->text : "", rr->text_len);
		if (r != 0) {
			settle(v, s, DKIM_PERMERROR, (enum dkim_why)r);
			continue;
		}
		s->key_done = true;
		try_settle(v, s);
	}
}

bool dkim_verify_done(const struct dkim_verify *v)
{
	size_t i;

	if (!v->eom)
		return false;
	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].r.res == DKIM_NONE)
			return false;
	return true;
}

size_t dkim_verify_count(const struct dkim_verify *v)
{
	return v->nsigs;
}

const struct dkim_result *dkim_verify_result(const struct dkim_verify *v,
					     size_t i)
{
	return i < v->nsigs ? &v->sigs[i].r : NULL;
}

int dkim_format_result(struct buf *out, const struct dkim_result *r)
{
	/* name=value pairs by buf_puts: the value comes out as the printf
	 * it replaced wrote it, at a tenth of the instructions */
	int e = buf_puts(out, "dkim=");

	if (e == 0)
		e = buf_puts(out, dkim_res_name(r->res));
	if (e == 0 && r->res != DKIM_PASS && r->res != DKIM_NONE) {
		e = buf_puts(out, " reason=\"");
		if (e == 0)
			e = buf_puts(out, dkim_why_name(r->why));
		if (e == 0)
			e = buf_puts(out, "\"");
	}
	if (e == 0 && r->d[0] && (e = buf_puts(out, " header.d=")) == 0)
		e = buf_puts(out, r->d);
	if (e == 0 && r->s[0] && (e = buf_puts(out, " header.s=")) == 0)
		e = buf_puts(out, r->s);
	if (e == 0 && r->a[0] && (e = buf_puts(out, " header.a=")) == 0)
		e = buf_puts(out, r->a);
	/* '/' and '=' are tspecials (RFC 2045): quote such a value. */
	if (e == 0 && r->b[0]) {
		bool q = strpbrk(r->b, "/=") != NULL;

		e = buf_puts(out, q ? " header.b=\"" : " header.b=");
		if (e == 0)
			e = buf_puts(out, r->b);
		if (e == 0 && q)
			e = buf_puts(out, "\"");
	}
	return e;
}
