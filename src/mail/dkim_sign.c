/*
 * dkim_sign - DKIM signing of outbound mail (RFC 6376 5, RFC 8463), and the
 * key directory it signs with.
 *
 * Keyring (RFC 6376 3.6.1 for what is published): DIR/DOMAIN/SELECTOR.key,
 * one PEM private key each (PKCS#8 or traditional), RSA of at least
 * DKIM_SIGN_RSA_MIN_BITS (RFC 8301 3.2 asks signers for 2048) or Ed25519
 * (RFC 8463).  A missing DIR is an empty keyring (signing off, the default
 * configuration); anything else wrong (an unreadable file, a weak or
 * unknown key, a bad selector name) refuses the whole load with a message
 * naming the file, rather than sign for some domains and silently not for
 * the one whose key is broken.  A key file that group or others may read
 * is only warned about.
 * Hidden files and names not ending in ".key" are ignored (keygen writes
 * through ".SELECTOR.key.XXXXXX" and renames).
 *
 * Signer (RFC 6376 5.1-5.6): c=relaxed/relaxed for every signature, so the
 * body is canonicalized and hashed once, streaming (dkim_canon.c), whatever
 * the number of keys; no l= (5.5: it lets others append content), no i=
 * (the default "@d" is right), t= set, no x=.  h= (5.4.1) lists the fields
 * of dkim_sign_fields present in the message, each as many times as it
 * occurs (a verifier takes instances bottom-up, 5.4.2), and From once more:
 * the extra name hashes nothing, so a From added later breaks the signature
 * (oversigning, 8.15).  Only the fields named in the list are kept, as
 * canonical bytes, at most DKIM_MAX_HEADERS fields and DKIM_MAX_HEADER_BYTES.
 * rsa-sha256 signs the SHA-256 of the header data with PKCS#1 v1.5 (3.3.1);
 * ed25519-sha256 signs that same 32-byte hash with PureEdDSA (RFC 8463 3).
 *
 * Output: each DKIM-Signature value starts with "v=1" (no leading space;
 * the caller writes "DKIM-Signature: " before it) and is folded with CRLF
 * HTAB so that no line passes DKIM_SIGN_COLS columns, b= on lines of its
 * own.  Signatures come in selector order; the caller prepends them in
 * the order returned.
 *
 * Threading: a keyring is read-only once loaded and may be shared by
 * signers on any thread; a signer belongs to one message.
 */
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "mail/dkim.h"
#include "mail/dkim_sign.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define DKIM_SIGN_RSA_MIN_BITS 2048
#define DKIM_SIGN_RSA_GEN_BITS 2048
#define DKIM_SIGN_MAX_KEYS 8	/* keys per domain: one signature each */
#define DKIM_SIGN_COLS 76	/* fold DKIM-Signature lines at this width */

/* One signing key: DIR/domain/selector.key. */
struct skey {
	char *domain;		/* lowercase */
	char *selector;
	enum dkim_keytype type;
	EVP_PKEY *pk;
};

struct dkim_keyring {
	struct skey *keys;	/* sorted by domain, then selector */
	size_t n;
};

/*
 * The fields signed when present (RFC 6376 5.4.1 and common practice),
 * From first.  Trace and transport fields (Received, Return-Path,
 * DKIM-Signature, Authentication-Results) are left out: relays add them.
 */
static const char *const dkim_sign_fields[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "sender",
	"message-id", "in-reply-to", "references", "mime-version",
	"content-type", "content-transfer-encoding", "content-id",
	"content-description", "content-language", "resent-date",
	"resent-from", "resent-sender", "resent-to", "resent-cc",
	"resent-message-id", "list-id", "list-help", "list-unsubscribe",
	"list-unsubscribe-post", "list-subscribe", "list-post", "list-owner",
	"list-archive", "feedback-id", "autocrypt", "openpgp",
};
#define NFIELDS (sizeof(dkim_sign_fields) / sizeof(dkim_sign_fields[0]))

/* A kept header field: which name, and where its canonical bytes are. */
struct sfield {
	size_t name;		/* index in dkim_sign_fields */
	size_t off, len;	/* in dkim_signer.canon, CRLF included */
};

struct dkim_signer {
	const struct skey **keys;
	size_t nkeys;
	const char *domain;	/* the keyring's copy */
	int64_t t;
	struct sfield *fields;
	size_t nfields, fcap;
	size_t count[NFIELDS];	/* occurrences of each name */
	struct buf canon;	/* relaxed header fields kept */
	int error;		/* sticky: header over the limits */
	EVP_MD_CTX *bmd;
	struct dkim_body body;
	bool ended;
	char **values;
	size_t nvalues;
};

/* Write an error message into err. */
__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* True if s is a DNS name usable as d= or s= (RFC 6376 3.5, 3.1). */
static bool valid_dname(const char *s, size_t max)
{
	size_t i, n = strlen(s), label = 0;

	if (n == 0 || n > max || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* qsort order of keys: domain, then selector. */
static int skey_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;
	int r = strcmp(x->domain, y->domain);

	return r ? r : strcmp(x->selector, y->selector);
}

/* Read the private key at path into k->pk; 0 or -1 with err. */
static int load_key(struct skey *k, const char *path, char *err,
		    size_t errsz)
{
	struct stat st;
	FILE *f;
	int fd, id;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		set_err(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errsz, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		char q[512];

		log_msg(LOG_L_WARN, "event=dkim_key_mode path=%s mode=%04o "
			"msg=\"private key readable by group or others; "
			"chmod 600\"", log_q(q, sizeof(q), path),
			(unsigned)(st.st_mode & 07777));
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		set_err(err, errsz, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	k->pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k->pk == NULL) {
		set_err(err, errsz, "%s: not a PEM private key", path);
		return -1;
	}
	id = EVP_PKEY_get_base_id(k->pk);
	if (id == EVP_PKEY_ED25519) {
		k->type = DKIM_K_ED25519;
	} else if (id == EVP_PKEY_RSA) {
		int bits = EVP_PKEY_get_bits(k->pk);

		if (bits < DKIM_SIGN_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS) {
			set_err(err, errsz, "%s: RSA key of %d bits (%d to %d "
				"allowed)", path, bits, DKIM_SIGN_RSA_MIN_BITS,
				DKIM_RSA_MAX_BITS);
			return -1;
		}
		k->type = DKIM_K_RSA;
	} else {
		set_err(err, errsz, "%s: neither an RSA nor an Ed25519 key",
			path);
		return -1;
	}
	return 0;
}

/* Load the keys of one domain directory into kr; 0 or -1 with err. */
static int load_domain(struct dkim_keyring *kr, const char *dir,
		       const char *domain, char *err, size_t errsz)
{
	char *ddir = xasprintf("%s/%s", dir, domain);
	DIR *d = opendir(ddir);
	struct dirent *e;
	size_t nd = 0;
	int r = 0;

	if (d == NULL) {
		/* Not a directory: a stray file, ignored. */
		free(ddir);
		return 0;
	}
	while (r == 0 && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		struct skey k = {0};
		char *path;

		if (e->d_name[0] == '.' || n <= 4 ||
		    strcmp(e->d_name + n - 4, ".key") != 0)
			continue;
		k.selector = xstrndup(e->d_name, n - 4);
		path = xasprintf("%s/%s", ddir, e->d_name);
		if (!valid_dname(k.selector, 63 * 4)) {
			set_err(err, errsz, "%s: \"%s\" is not a selector "
				"name", path, k.selector);
			r = -1;
		} else if (++nd > DKIM_SIGN_MAX_KEYS) {
			set_err(err, errsz, "%s: more than %d keys", ddir,
				DKIM_SIGN_MAX_KEYS);
			r = -1;
		} else {
			r = load_key(&k, path, err, errsz);
		}
		free(path);
		if (r != 0) {
			EVP_PKEY_free(k.pk);	/* a refused key was read */
			free(k.selector);
			break;
		}
		k.domain = xstrdup(domain);
		for (char *p = k.domain; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		kr->keys = xrealloc(kr->keys, (kr->n + 1) * sizeof(*kr->keys));
		kr->keys[kr->n++] = k;
	}
	closedir(d);
	free(ddir);
	return r;
}

struct dkim_keyring *dkim_keyring_load(const char *dir, char *err,
				       size_t errsz)
{
	struct dkim_keyring *kr = xcalloc(1, sizeof(*kr));
	struct dirent *e;
	DIR *d;
	int r = 0;

	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return kr;	/* no keys: signing is off */
		set_err(err, errsz, "%s: %s", dir, strerror(errno));
		free(kr);
		return NULL;
	}
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (!valid_dname(e->d_name, 253)) {
			struct stat st;
			char *p = xasprintf("%s/%s", dir, e->d_name);
			bool isdir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);

			free(p);
			if (isdir) {
				set_err(err, errsz, "%s/%s: not a domain name",
					dir, e->d_name);
				r = -1;
			}
			continue;
		}
		r = load_domain(kr, dir, e->d_name, err, errsz);
	}
	closedir(d);
	if (r != 0) {
		dkim_keyring_free(kr);
		return NULL;
	}
	if (kr->n > 0)
		qsort(kr->keys, kr->n, sizeof(*kr->keys), skey_cmp);
	return kr;
}

void dkim_keyring_free(struct dkim_keyring *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->n; i++) {
		free(k->keys[i].domain);
		free(k->keys[i].selector);
		EVP_PKEY_free(k->keys[i].pk);
	}
	free(k->keys);
	free(k);
}

bool dkim_keyring_has(const struct dkim_keyring *k, const char *domain)
{
	size_t i;

	for (i = 0; k != NULL && i < k->n; i++)
		if (strcasecmp(k->keys[i].domain, domain) == 0)
			return true;
	return false;
}

const char *dkim_keyring_key(const struct dkim_keyring *k,
			     const char *domain, size_t i, const void **pkey)
{
	size_t j;

	for (j = 0; k != NULL && j < k->n; j++)
		if (strcasecmp(k->keys[j].domain, domain) == 0 && i-- == 0) {
			*pkey = k->keys[j].pk;
			return k->keys[j].selector;
		}
	return NULL;
}

size_t dkim_keyring_count(const struct dkim_keyring *k)
{
	return k ? k->n : 0;
}

struct dkim_signer *dkim_signer_new(const struct dkim_keyring *k,
				    const char *domain, int64_t now)
{
	struct dkim_signer *s;
	size_t i;

	if (!dkim_keyring_has(k, domain))
		return NULL;
	s = xcalloc(1, sizeof(*s));
	for (i = 0; i < k->n; i++) {
		if (strcasecmp(k->keys[i].domain, domain) != 0)
			continue;
		s->keys = xrealloc(s->keys, (s->nkeys + 1) * sizeof(*s->keys));
		s->keys[s->nkeys++] = &k->keys[i];
	}
	s->domain = s->keys[0]->domain;
	s->t = now ? now : (int64_t)time(NULL);
	buf_init(&s->canon, DKIM_MAX_HEADER_BYTES);
	s->bmd = EVP_MD_CTX_new();
	if (s->bmd == NULL || EVP_DigestInit_ex(s->bmd, dkim_sha256(), NULL) != 1)
		abort();	/* out of memory inside OpenSSL */
	dkim_body_init(&s->body, DKIM_C_RELAXED, false, 0, s->bmd, NULL);
	return s;
}

void dkim_signer_free(struct dkim_signer *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nvalues; i++)
		free(s->values[i]);
	free(s->values);
	free(s->fields);
	free(s->keys);
	buf_deinit(&s->canon);
	EVP_MD_CTX_free(s->bmd);
	free(s);
}

void dkim_signer_header(struct dkim_signer *s, const char *name, size_t nlen,
			const char *value, size_t vlen)
{
	size_t i, n = nlen, off;

	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	for (i = 0; i < NFIELDS; i++)
		if (strlen(dkim_sign_fields[i]) == n &&
		    strncasecmp(dkim_sign_fields[i], name, n) == 0)
			break;
	if (i == NFIELDS || s->error)
		return;
	if (s->nfields >= DKIM_MAX_HEADERS) {
		s->error = BUF_E_TOO_LARGE;
		return;
	}
	off = s->canon.len;
	if ((s->error = dkim_canon_header(&s->canon, DKIM_C_RELAXED, name,
					  nlen, value, vlen, true)) != 0)
		return;
	if (s->nfields == s->fcap) {
		s->fcap = s->fcap ? 2 * s->fcap : 16;
		s->fields = xrealloc(s->fields, s->fcap * sizeof(*s->fields));
	}
	s->fields[s->nfields].name = i;
	s->fields[s->nfields].off = off;
	s->fields[s->nfields].len = s->canon.len - off;
	s->nfields++;
	s->count[i]++;
}

void dkim_signer_body(struct dkim_signer *s, const void *p, size_t n)
{
	dkim_body_feed(&s->body, p, n);
}

/* Base64 of n bytes at p, NUL-terminated; free() it. */
static char *b64(const unsigned char *p, size_t n)
{
	char *o = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)o, p, (int)n);
	return o;
}

/* Append text to a folded value: a space, or CRLF HTAB past the width. */
static void fold_add(struct buf *v, size_t *col, const char *text,
		     bool space)
{
	size_t n = strlen(text);

	if (*col + (space ? 1 : 0) + n > DKIM_SIGN_COLS && *col > 8) {
		buf_puts(v, "\r\n\t");
		*col = 8;
	} else if (space) {
		buf_puts(v, " ");
		(*col)++;
	}
	buf_puts(v, text);
	*col += n;
}

/*
 * The DKIM-Signature value for key k, up to and including an empty "b="
 * (what is hashed, 3.7), into v.  The returned column is where b= ends.
 */
static size_t sig_template(const struct dkim_signer *s, const struct skey *k,
			   const char *bh, struct buf *v)
{
	size_t col = strlen("DKIM-Signature: "), i, j, left = 0;
	char tmp[320];

	snprintf(tmp, sizeof(tmp), "v=1; a=%s; c=relaxed/relaxed;",
		 k->type == DKIM_K_RSA ? "rsa-sha256" : "ed25519-sha256");
	fold_add(v, &col, tmp, false);
	snprintf(tmp, sizeof(tmp), "d=%s;", k->domain);
	fold_add(v, &col, tmp, true);
	snprintf(tmp, sizeof(tmp), "s=%s;", k->selector);
	fold_add(v, &col, tmp, true);
	snprintf(tmp, sizeof(tmp), "t=%lld;", (long long)s->t);
	fold_add(v, &col, tmp, true);
	/* h=: every instance of each name, and From once more (8.15). */
	for (i = 0; i < NFIELDS; i++)
		left += s->count[i] + (i == 0);
	for (i = 0; i < NFIELDS; i++) {
		size_t times = s->count[i] + (i == 0);

		for (j = 0; j < times; j++) {
			left--;
			snprintf(tmp, sizeof(tmp), "%s%s%s",
				 i == 0 && j == 0 ? "h=" : "",
				 dkim_sign_fields[i], left ? ":" : ";");
			fold_add(v, &col, tmp, i == 0 && j == 0);
		}
	}
	snprintf(tmp, sizeof(tmp), "bh=%s;", bh);
	fold_add(v, &col, tmp, true);
	buf_puts(v, "\r\n\tb=");
	return 8 + 2;
}

/* Sign the 32-byte header hash with k; the signature (malloc'd) or NULL. */
static unsigned char *sign_hash(const struct skey *k, const unsigned char *h,
				size_t *len)
{
	unsigned char *sig = NULL;
	bool good = false;

	if (k->type == DKIM_K_ED25519) {
		/* RFC 8463 3: PureEdDSA over the SHA-256 of the header data. */
		EVP_MD_CTX *m = EVP_MD_CTX_new();

		good = m && EVP_DigestSignInit(m, NULL, NULL, NULL, k->pk) == 1 &&
		       EVP_DigestSign(m, NULL, len, h, 32) == 1 &&
		       (sig = xmalloc(*len)) &&
		       EVP_DigestSign(m, sig, len, h, 32) == 1;
		EVP_MD_CTX_free(m);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k->pk, NULL);

		good = c && EVP_PKEY_sign_init(c) == 1 &&
		       EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		       EVP_PKEY_CTX_set_signature_md(c, dkim_sha256()) == 1 &&
		       EVP_PKEY_sign(c, NULL, len, h, 32) == 1 &&
		       (sig = xmalloc(*len)) &&
		       EVP_PKEY_sign(c, sig, len, h, 32) == 1;
		EVP_PKEY_CTX_free(c);
	}
	if (!good) {
		free(sig);
		return NULL;
	}
	return sig;
}

/* Hash the kept header fields in h= order (5.4.2: bottom-up) into md. */
static void hash_fields(const struct dkim_signer *s, EVP_MD_CTX *md)
{
	size_t i, j;

	for (i = 0; i < NFIELDS; i++) {
		if (s->count[i] == 0)
			continue;
		for (j = s->nfields; j-- > 0;) {
			const struct sfield *f = &s->fields[j];

			if (f->name == i)
				EVP_DigestUpdate(md, s->canon.p + f->off,
						 f->len);
		}
	}
}

/* Make the signature of key k into a new value; 0 or -1 with err. */
static int sign_one(struct dkim_signer *s, const struct skey *k,
		    const char *bh, char *err, size_t errsz)
{
	struct buf v, c;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char hh[EVP_MAX_MD_SIZE], *sig;
	size_t col, slen, i, n;
	char *b, chunk[DKIM_SIGN_COLS];
	int r = -1;

	buf_init(&v, DKIM_MAX_SIG_LEN);
	buf_init(&c, DKIM_MAX_SIG_LEN);
	col = sig_template(s, k, bh, &v);
	if (md == NULL || EVP_DigestInit_ex(md, dkim_sha256(), NULL) != 1)
		abort();
	hash_fields(s, md);
	/* The signature field itself, b= empty, without CRLF (3.7). */
	if (dkim_canon_header(&c, DKIM_C_RELAXED, "DKIM-Signature", 14, v.p,
			      v.len, false) != 0) {
		set_err(err, errsz, "DKIM-Signature too long");
		goto out;
	}
	EVP_DigestUpdate(md, c.p, c.len);
	EVP_DigestFinal_ex(md, hh, NULL);
	if ((sig = sign_hash(k, hh, &slen)) == NULL) {
		set_err(err, errsz, "signing with %s/%s failed", k->domain,
			k->selector);
		goto out;
	}
	b = b64(sig, slen);
	free(sig);
	/* b= folded: fill each line to the width, continue after CRLF HTAB. */
	for (i = 0, n = strlen(b); i < n;) {
		size_t take = DKIM_SIGN_COLS - col;

		if (take > n - i)
			take = n - i;
		memcpy(chunk, b + i, take);
		chunk[take] = '\0';
		buf_puts(&v, chunk);
		i += take;
		if (i < n) {
			buf_puts(&v, "\r\n\t");
			col = 8;
		}
	}
	free(b);
	s->values = xrealloc(s->values, (s->nvalues + 1) * sizeof(char *));
	s->values[s->nvalues++] = buf_steal(&v);
	r = 0;
out:
	EVP_MD_CTX_free(md);
	buf_deinit(&v);
	buf_deinit(&c);
	return r;
}

int dkim_signer_end(struct dkim_signer *s, const char *const **values,
		    size_t *n, char *err, size_t errsz)
{
	unsigned char bh[EVP_MAX_MD_SIZE];
	char *bh64;
	size_t i;
	int r = 0;

	*values = NULL;
	*n = 0;
	if (s->ended) {
		set_err(err, errsz, "signer already ended");
		return -1;
	}
	s->ended = true;
	if (s->error) {
		set_err(err, errsz, "header too large to sign");
		return -1;
	}
	if (s->count[0] == 0) {
		set_err(err, errsz, "no From field (RFC 6376 5.4)");
		return -1;
	}
	dkim_body_end(&s->body);
	EVP_DigestFinal_ex(s->bmd, bh, NULL);
	bh64 = b64(bh, 32);
	for (i = 0; r == 0 && i < s->nkeys; i++)
		r = sign_one(s, s->keys[i], bh64, err, errsz);
	free(bh64);
	if (r != 0)
		return -1;
	*values = (const char *const *)s->values;
	*n = s->nvalues;
	return 0;
}

/* Generate a new key of type ("rsa" or "ed25519"); NULL with err. */
static EVP_PKEY *generate(const char *type, char *err, size_t errsz)
{
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pk = NULL;
	bool rsa = strcmp(type, "rsa") == 0;

	if (!rsa && strcmp(type, "ed25519") != 0) {
		set_err(err, errsz, "key type \"%s\": rsa or ed25519", type);
		return NULL;
	}
	c = EVP_PKEY_CTX_new_id(rsa ? EVP_PKEY_RSA : EVP_PKEY_ED25519, NULL);
	if (c == NULL || EVP_PKEY_keygen_init(c) != 1 ||
	    (rsa && EVP_PKEY_CTX_set_rsa_keygen_bits(c,
				DKIM_SIGN_RSA_GEN_BITS) != 1) ||
	    EVP_PKEY_keygen(c, &pk) != 1) {
		set_err(err, errsz, "%s key generation failed", type);
		pk = NULL;
	}
	EVP_PKEY_CTX_free(c);
	return pk;
}

/* The key record for pk (RFC 6376 3.6.1, RFC 8463 4.2); malloc'd. */
static char *txt_record(EVP_PKEY *pk)
{
	unsigned char raw[32], *der = NULL;
	size_t rawlen = sizeof(raw);
	char *p, *txt;
	int n;

	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) != 1)
			return NULL;
		p = b64(raw, rawlen);
		txt = xasprintf("v=DKIM1; k=ed25519; p=%s", p);
	} else {
		if ((n = i2d_PUBKEY(pk, &der)) <= 0)
			return NULL;
		p = b64(der, (size_t)n);
		OPENSSL_free(der);
		txt = xasprintf("v=DKIM1; k=rsa; p=%s", p);
	}
	free(p);
	return txt;
}

/* Create directory p (mode 0700) unless it exists; 0 or -1 with err. */
static int make_dir(const char *p, char *err, size_t errsz)
{
	struct stat st;

	if (mkdir(p, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	set_err(err, errsz, "%s: %s", p, errno == EEXIST ?
		"exists and is not a directory" : strerror(errno));
	return -1;
}

/* Write pk as PEM to a new file beside final, then link or rename it. */
static int write_key(EVP_PKEY *pk, const char *ddir, const char *selector,
		     const char *final, bool force, char *err, size_t errsz)
{
	char *tmp = xasprintf("%s/.%s.key.XXXXXX", ddir, selector);
	FILE *f = NULL;
	int fd, r = -1;

	if ((fd = mkstemp(tmp)) < 0) {
		set_err(err, errsz, "%s: %s", ddir, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, 0600) != 0 || (f = fdopen(fd, "w")) == NULL) {
		set_err(err, errsz, "%s: %s", tmp, strerror(errno));
		close(fd);
		goto out;
	}
	if (PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0) {
		set_err(err, errsz, "%s: cannot write the key", tmp);
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0) {
		set_err(err, errsz, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	/* link() never replaces: the existence check cannot race. */
	if (force ? rename(tmp, final) != 0 : link(tmp, final) != 0) {
		r = errno == EEXIST ? DKIM_SIGN_E_EXISTS : -1;
		set_err(err, errsz, "%s: %s", final, errno == EEXIST ?
			"a key exists already" : strerror(errno));
		goto out;
	}
	r = 0;
out:
	unlink(tmp);		/* after rename: ENOENT, harmless */
	free(tmp);
	return r;
}

int dkim_keygen_file(const char *dir, const char *domain,
		     const char *selector, const char *type, unsigned flags,
		     char **path, char **txt, char *err, size_t errsz)
{
	char *ddir = NULL, *final = NULL, *rec = NULL;
	EVP_PKEY *pk = NULL;
	int r = -1;

	if (path)
		*path = NULL;
	*txt = NULL;
	if (!valid_dname(domain, 253)) {
		set_err(err, errsz, "\"%s\" is not a domain name", domain);
		return -1;
	}
	if (!valid_dname(selector, 63 * 4)) {
		set_err(err, errsz, "\"%s\" is not a selector", selector);
		return -1;
	}
	ddir = xasprintf("%s/%s", dir, domain);
	for (char *p = ddir + strlen(dir) + 1; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	final = xasprintf("%s/%s.key", ddir, selector);
	if (!(flags & DKIM_KEYGEN_FORCE) && access(final, F_OK) == 0) {
		set_err(err, errsz, "%s: a key exists already", final);
		r = DKIM_SIGN_E_EXISTS;
		goto out;
	}
	if ((pk = generate(type, err, errsz)) == NULL)
		goto out;
	if ((rec = txt_record(pk)) == NULL) {
		set_err(err, errsz, "cannot encode the public key");
		goto out;
	}
	if (make_dir(dir, err, errsz) != 0 || make_dir(ddir, err, errsz) != 0)
		goto out;
	r = write_key(pk, ddir, selector, final,
		      (flags & DKIM_KEYGEN_FORCE) != 0, err, errsz);
	if (r != 0)
		goto out;
	*txt = rec;
	rec = NULL;
	if (path) {
		*path = final;
		final = NULL;
	}
out:
	EVP_PKEY_free(pk);
	free(rec);
	free(final);
	free(ddir);
	return r;
}

int dkim_keygen(const char *dir, const char *domain, const char *selector,
		const char *type, char **txt, char *err, size_t errsz)
{
	return dkim_keygen_file(dir, domain, selector, type, 0, NULL, txt,
				err, errsz) == 0 ? 0 : -1;
}
