/*
 * dkim - DKIM signature verification (RFC 6376, RFC 8301, RFC 8463), sans I/O.
 *
 * The verifier is fed a message the way a milter receives it: header fields
 * one by one (name and raw value), then the body in chunks of any size, then
 * the end.  It never does DNS itself: once the header is complete it asks its
 * key questions (struct dns_question, TXT "selector._domainkey.domain") and
 * is resumed with each struct dns_answer, in any order, before or after the
 * body.  Every DKIM-Signature is evaluated on its own (RFC 6376 6.1: one bad
 * signature never spoils another), up to a limit; signatures past the limit
 * are reported as "not checked".
 *
 * Modules:
 *   dkim_tags.c    tag=value lists (RFC 6376 3.2) and base64, for both parsers
 *   dkim_sig.c     the DKIM-Signature field (3.5)
 *   dkim_key.c     the key record (3.6.1) and public-key loading
 *   dkim_canon.c   header and body canonicalization (3.4), streaming; written
 *                  so that a signer can reuse it unchanged
 *   dkim_verify.c  the verifier (6.1) and Authentication-Results (RFC 8601)
 *
 * Algorithms: rsa-sha256 and ed25519-sha256 are verified.  rsa-sha1 is a
 * permerror (RFC 8301 3.1: verifiers MUST NOT consider it valid), and so is
 * an RSA key under 1024 bits (RFC 8301 3.2; 1024 itself is allowed).  Keys
 * above DKIM_RSA_MAX_BITS are refused too, so that a hostile key cannot make
 * a verification arbitrarily expensive.
 *
 * Header values are raw: everything after the colon up to, not including,
 * the CRLF that ends the field, with folding CRLFs kept as they were on the
 * wire (simple canonicalization needs the exact bytes).  A milter front-end
 * must ask for the leading space (SMFIP_HDR_LEADSPC) and turn bare LF into
 * CRLF.  The body is fed in CRLF form, as SMTP DATA carries it, dot-unstuffed.
 *
 * Threading: a struct dkim_verify belongs to one message; no global state.
 */
#ifndef MAMORI_DKIM_H
#define MAMORI_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "dns/dns.h"
#include "util/buf.h"

/* Limits; each is reached only by hostile or broken mail. */
#define DKIM_MAX_TAGS 64	/* tags in one tag-list (RFC 6376 defines 14) */
#define DKIM_MAX_HNAMES 128	/* names in h=, oversigning included */
#define DKIM_MAX_SIG_LEN 16384	/* bytes of one DKIM-Signature value */
#define DKIM_MAX_B 1024		/* decoded b=: an 8192-bit RSA signature */
#define DKIM_MAX_BH 64		/* decoded bh= */
#define DKIM_MAX_KEY 2048	/* decoded p= */
#define DKIM_RSA_MIN_BITS 1024	/* RFC 8301 3.2 */
#define DKIM_RSA_MAX_BITS 8192
#define DKIM_DEFAULT_MAX_SIGS 8
#define DKIM_MAX_HEADERS 1000	/* header fields kept for h= selection */
#define DKIM_MAX_HEADER_BYTES (1024 * 1024)

/* Final result of one signature (RFC 8601 2.7.1 names). */
enum dkim_res {
	DKIM_NONE,		/* not yet decided */
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,
	DKIM_POLICY,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
	DKIM_NOT_CHECKED,	/* past the signature limit */
};

/* Why a signature got its result; DKIM_W_OK for pass. */
enum dkim_why {
	DKIM_W_OK,
	/* permerror: the signature field */
	DKIM_W_SYNTAX,		/* tag-list syntax */
	DKIM_W_DUP_TAG,		/* a tag appears twice (3.2) */
	DKIM_W_MISSING_TAG,	/* v, a, b, bh, d, h or s missing */
	DKIM_W_VERSION,		/* v= is not 1 */
	DKIM_W_ALG,		/* a= unknown */
	DKIM_W_ALG_SHA1,	/* rsa-sha1: RFC 8301 3.1 */
	DKIM_W_CANON,		/* c= unknown */
	DKIM_W_QUERY,		/* q= has no dns/txt */
	DKIM_W_DOMAIN,		/* d= or s= not a domain name */
	DKIM_W_BASE64,		/* b= or bh= not base64, or too long */
	DKIM_W_BAD_I,		/* i= malformed or not within d= */
	DKIM_W_NO_FROM,		/* h= lacks From (5.4) */
	DKIM_W_BAD_L,		/* l= malformed */
	DKIM_W_BAD_TIME,	/* t= or x= malformed, or x < t */
	DKIM_W_EXPIRED,		/* x= in the past */
	DKIM_W_FUTURE,		/* t= in the future */
	DKIM_W_TOO_LONG,	/* field over DKIM_MAX_SIG_LEN */
	DKIM_W_HEADERS,		/* header over DKIM_MAX_HEADERS/_BYTES */
	/* permerror: the key */
	DKIM_W_NO_KEY,		/* NXDOMAIN or no TXT record */
	DKIM_W_KEY_SYNTAX,
	DKIM_W_KEY_VERSION,	/* v= not DKIM1, or not first */
	DKIM_W_KEY_REVOKED,	/* p= empty */
	DKIM_W_KEY_TYPE,	/* k= unknown, or does not match a= */
	DKIM_W_KEY_HASH,	/* key h= excludes the hash of a= */
	DKIM_W_KEY_SERVICE,	/* key s= excludes email */
	DKIM_W_KEY_STRICT,	/* t=s and i= is a subdomain of d= */
	DKIM_W_KEY_BAD,		/* p= does not hold a usable key */
	DKIM_W_KEY_TOO_SMALL,	/* RSA under 1024 bits */
	DKIM_W_KEY_TOO_LARGE,	/* RSA over DKIM_RSA_MAX_BITS */
	/* temperror */
	DKIM_W_DNS,		/* key lookup timed out or failed */
	/* fail */
	DKIM_W_BODY_HASH,	/* body hash did not verify */
	DKIM_W_SIGNATURE,	/* signature did not verify */
	DKIM_W_BODY_LENGTH,	/* l= longer than the body */
	/* not checked */
	DKIM_W_LIMIT,
	DKIM_W__COUNT
};

enum dkim_alg {
	DKIM_A_RSA_SHA256,
	DKIM_A_ED25519_SHA256,
	DKIM_A_RSA_SHA1,	/* parsed to say so, never verified */
};

enum dkim_canon {
	DKIM_C_SIMPLE,
	DKIM_C_RELAXED,
};

enum dkim_keytype {
	DKIM_K_RSA,
	DKIM_K_ED25519,
};

/* One tag of a tag-list: spans into the parsed text. */
struct dkim_tag {
	struct span name;
	struct span value;	/* FWS at both ends removed */
	size_t vstart, vend;	/* offsets of everything between '=' and ';' */
};

/*
 * Parse a tag-list (RFC 6376 3.2) of n bytes at p into tags[0..*count).
 * Whitespace around names and values is FWS; a trailing ';' is allowed; an
 * empty tag-spec elsewhere, a name that is not ALPHA *(ALNUM / "_"), a spec
 * without '=', or a control byte in a value is DKIM_W_SYNTAX; a repeated
 * name is DKIM_W_DUP_TAG; more than max tags is DKIM_W_SYNTAX.  Spans
 * point into p.  Returns 0 or the DKIM_W_* reason.
 */
int dkim_tags_parse(const char *p, size_t n, struct dkim_tag *tags,
		    size_t max, size_t *count);

/* True if the colon-separated list v holds item (case and FWS ignored). */
bool dkim_list_has(struct span v, const char *item);

/*
 * Decode base64 at p (n bytes, FWS anywhere ignored) into out (cap bytes).
 * Returns the decoded length, or -1 if it is not base64 or does not fit.
 */
long dkim_base64_decode(const char *p, size_t n, unsigned char *out,
			size_t cap);

/* A parsed DKIM-Signature.  Spans point into the value given to the parser. */
struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	struct span a, d, s, b_text;	/* b_text: b= as written, for header.b */
	struct span hnames[DKIM_MAX_HNAMES];
	size_t nh;
	char auid[256];		/* i=, QP-decoded; "@d" when absent */
	bool has_l;
	uint64_t l;
	bool has_t, has_x;
	uint64_t t, x;
	unsigned char b[DKIM_MAX_B];
	size_t blen;
	unsigned char bh[DKIM_MAX_BH];
	size_t bhlen;
	size_t b_start, b_end;	/* offsets of b='s value, removed for hashing */
};

/*
 * Parse the value of a DKIM-Signature field (v at p, n bytes, raw, folding
 * included) into sig, checking everything that can be checked without the
 * key or the clock (RFC 6376 3.5, 6.1.1; RFC 8301).  sig keeps pointers
 * into p.  Returns 0 or the DKIM_W_* reason (all are permerror).
 */
int dkim_sig_parse(struct dkim_sig *sig, const char *p, size_t n);

/*
 * Check the signature's times against now (seconds since the epoch),
 * allowing skew seconds for a t= in the future.  Returns 0, DKIM_W_EXPIRED
 * or DKIM_W_FUTURE.
 */
int dkim_sig_check_time(const struct dkim_sig *sig, uint64_t now,
			uint64_t skew);

/* A parsed key record (RFC 6376 3.6.1). */
struct dkim_key {
	enum dkim_keytype k;
	bool testing;		/* t=y */
	bool strict;		/* t=s: i= domain must equal d= */
	bool hash_sha256;	/* h= allows sha256 (true when h= absent) */
	bool hash_sha1;
	unsigned char p[DKIM_MAX_KEY];
	size_t plen;
};

/*
 * Parse a key record of n bytes at txt into key.  Returns 0 or a DKIM_W_KEY_*
 * reason: KEY_SYNTAX, KEY_VERSION (v= present but not "DKIM1" or not first),
 * KEY_TYPE (k= not rsa or ed25519), KEY_SERVICE (s= without email or *),
 * KEY_REVOKED (p= empty), KEY_BAD (p= not base64 or too long).  Unknown tags
 * and unknown t= flags are ignored, as 3.6.1 asks.
 */
int dkim_key_parse(struct dkim_key *key, const char *txt, size_t n);

/*
 * Load the public key of key: for RSA a DER SubjectPublicKeyInfo, or a bare
 * PKCS#1 RSAPublicKey (some publishers use that); for Ed25519 the raw 32-byte
 * key (RFC 8463 4.2).  On success *out holds a new EVP_PKEY (the caller frees
 * it with EVP_PKEY_free) and 0 is returned; otherwise KEY_BAD, KEY_TOO_SMALL
 * or KEY_TOO_LARGE.  The pointer is void * so this header needs no OpenSSL.
 */
int dkim_key_load(const struct dkim_key *key, void **out);

/*
 * The public key of pkey (an EVP_PKEY *, public or private) in one form for
 * comparing keys: a DER SubjectPublicKeyInfo for RSA (a record holding a
 * bare PKCS#1 key compares equal), the raw 32 bytes for Ed25519.  Written
 * to out (cap bytes), length in *n, size in *bits.  0, or -1 if it does
 * not fit or cannot be encoded.
 */
int dkim_key_public(const void *pkey, unsigned char *out, size_t cap,
		    size_t *n, int *bits);

/*
 * Canonicalization (RFC 6376 3.4).  Header: append the canonical form of one
 * field to out, followed by CRLF if crlf (the signature field itself is
 * hashed without it).  name is the field name as written (before the colon),
 * value the raw value.  Returns 0 or BUF_E_TOO_LARGE.
 */
int dkim_canon_header(struct buf *out, enum dkim_canon c, const char *name,
		      size_t nlen, const char *value, size_t vlen, bool crlf);

/* Streaming body canonicalizer; feed it chunks split anywhere. */
struct dkim_body {
	enum dkim_canon c;
	bool has_limit;
	uint64_t limit;		/* l=: bytes of canonical body to hash */
	uint64_t total;		/* canonical bytes produced, hashed or not */
	uint64_t hashed;
	uint64_t nl_pending;	/* held empty lines (CRLFs) */
	bool cr_pending, wsp_pending, at_bol;
	void *md;		/* EVP_MD_CTX *, or NULL */
	struct buf *copy;	/* canonical bytes also appended here, or NULL */
	int error;		/* sticky: copy overflowed */
};

/*
 * Start canonicalizing a body with c.  md (an initialized EVP_MD_CTX *) and
 * copy are where the canonical bytes go, either may be NULL; neither is
 * owned.  With has_limit only the first limit bytes reach md and copy.
 */
/*
 * SHA-256, fetched from OpenSSL once per process: EVP_sha256() makes
 * OpenSSL 3 look the algorithm up (under a lock) at every init, which
 * costs more than hashing a small message.
 */
const EVP_MD *dkim_sha256(void);

void dkim_body_init(struct dkim_body *b, enum dkim_canon c, bool has_limit,
		    uint64_t limit, void *md, struct buf *copy);
/* Feed n body bytes. */
void dkim_body_feed(struct dkim_body *b, const void *p, size_t n);
/* The body has ended: flush what the rules of c say. */
void dkim_body_end(struct dkim_body *b);

struct dkim_options {
	unsigned max_sigs;	/* 0: DKIM_DEFAULT_MAX_SIGS */
	uint64_t now;		/* seconds since the epoch; 0: time(NULL) */
	uint64_t skew;		/* allowed t= in the future, seconds */
};

/* One signature's outcome.  Strings are NUL-terminated copies. */
struct dkim_result {
	enum dkim_res res;
	enum dkim_why why;
	char d[256], s[256], a[32], auid[256];
	char b[9];		/* first 8 characters of b= (RFC 6008) */
	bool testing;		/* key t=y */
};

struct dkim_verify;

/* A new verifier for one message; opt may be NULL for the defaults. */
struct dkim_verify *dkim_verify_new(const struct dkim_options *opt);
/* Free v and everything it holds; NULL is a no-op. */
void dkim_verify_free(struct dkim_verify *v);

/*
 * Feed one header field: name (nlen bytes, as written before the colon) and
 * its raw value (see the module comment).  Fields must come in message
 * order.  Never fails: too many or too large fields make every signature
 * permerror (DKIM_W_HEADERS) when the header ends.
 */
void dkim_verify_header(struct dkim_verify *v, const char *name, size_t nlen,
			const char *value, size_t vlen);

/*
 * The header is complete: parse the signatures, hash their headers, and
 * make the key questions available.  Called at most once, before the body.
 */
void dkim_verify_eoh(struct dkim_verify *v);

/* Feed n bytes of body (CRLF line ends, any split).  Implies eoh. */
void dkim_verify_body(struct dkim_verify *v, const void *p, size_t n);

/* The message has ended.  Implies eoh. */
void dkim_verify_eom(struct dkim_verify *v);

/*
 * The next key question not yet handed out, or NULL.  *id identifies it for
 * dkim_verify_answer().  Signatures naming the same key share one question.
 * Valid after eoh; the pointer lives as long as v.
 */
const struct dns_question *dkim_verify_next_question(struct dkim_verify *v,
						     size_t *id);

/* The answer to question id; a borrowed answer, read during the call. */
void dkim_verify_answer(struct dkim_verify *v, size_t id,
			const struct dns_answer *ans);

/* True when eom was seen and every question has been answered. */
bool dkim_verify_done(const struct dkim_verify *v);

/* Signatures seen (including those not checked), in header order. */
size_t dkim_verify_count(const struct dkim_verify *v);

/* Result of signature i (< count); final once dkim_verify_done(). */
const struct dkim_result *dkim_verify_result(const struct dkim_verify *v,
					     size_t i);

/* "pass", "fail", ... as RFC 8601 spells them; not checked is "policy". */
const char *dkim_res_name(enum dkim_res r);
/* A short English phrase for why, e.g. "body hash mismatch". */
const char *dkim_why_name(enum dkim_why w);

/*
 * Append the Authentication-Results method for r to out, e.g.
 * "dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256
 * header.b=abcdefgh", with reason="..." after a result other than pass.
 * Returns 0 or BUF_E_TOO_LARGE.
 */
int dkim_format_result(struct buf *out, const struct dkim_result *r);

#endif
