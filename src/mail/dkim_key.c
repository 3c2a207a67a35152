/*
 * dkim_key - the DKIM key record (RFC 6376 3.6.1) and loading its key.
 *
 * Tags: v= (optional; if present it must be the first tag and be "DKIM1",
 * else the record is discarded), h= (acceptable hashes; unknown names are
 * ignored, so "h=bad" just allows nothing we use), k= (rsa, the default, or
 * ed25519 per RFC 8463; anything else is unusable), n= (notes, ignored),
 * p= (required; empty means revoked, 3.6.1), s= (service types; must hold
 * "email" or "*"), t= (flags y and s; unknown flags ignored).  Unknown tags
 * are ignored, so the RFC 4871 g= is ignored as RFC 6376 dropped it.
 *
 * Key material: RSA keys are DER SubjectPublicKeyInfo as the RFC says; a
 * bare PKCS#1 RSAPublicKey is accepted too because real publishers use it
 * and other verifiers (dkimpy, OpenDKIM) accept it.  RSA sizes are held to
 * [DKIM_RSA_MIN_BITS, DKIM_RSA_MAX_BITS] (RFC 8301 3.2 and our CPU budget).
 * Ed25519 keys are the raw 32 bytes (RFC 8463 4.2); an SPKI-wrapped Ed25519
 * key is refused, as the RFC's format is raw.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "mail/dkim.h"

int dkim_key_parse(struct dkim_key *key, const char *txt, size_t n)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	const struct dkim_tag *p = NULL;
	size_t count, i;
	long len;

	memset(key, 0, sizeof(*key));
	key->k = DKIM_K_RSA;
	key->hash_sha256 = key->hash_sha1 = true;
	if (dkim_tags_parse(txt, n, tags, DKIM_MAX_TAGS, &count) != 0)
		return DKIM_W_KEY_SYNTAX;
	for (i = 0; i < count; i++) {
		const struct dkim_tag *t = &tags[i];

		if (span_eq(t->name, "v")) {
			if (i != 0 || !span_eq(t->value, "DKIM1"))
				return DKIM_W_KEY_VERSION;
		} else if (span_eq(t->name, "k")) {
			if (span_caseeq(t->value, "rsa"))
				key->k = DKIM_K_RSA;
			else if (span_caseeq(t->value, "ed25519"))
				key->k = DKIM_K_ED25519;
			else
				return DKIM_W_KEY_TYPE;
		} else if (span_eq(t->name, "h")) {
			key->hash_sha256 = dkim_list_has(t->value, "sha256");
			key->hash_sha1 = dkim_list_has(t->value, "sha1");
		} else if (span_eq(t->name, "s")) {
			if (!dkim_list_has(t->value, "email") &&
			    !dkim_list_has(t->value, "*"))
				return DKIM_W_KEY_SERVICE;
		} else if (span_eq(t->name, "t")) {
			key->testing = dkim_list_has(t->value, "y");
			key->strict = dkim_list_has(t->value, "s");
		} else if (span_eq(t->name, "p")) {
			p = t;
		}
	}
	if (p == NULL)
		return DKIM_W_KEY_SYNTAX;
	len = dkim_base64_decode(p->value.p, p->value.n, key->p, DKIM_MAX_KEY);
	if (len < 0)
		return DKIM_W_KEY_BAD;
	if (len == 0)
		return DKIM_W_KEY_REVOKED;
	key->plen = (size_t)len;
	return 0;
}

/* Decode an RSA public key, SPKI first, then PKCS#1; NULL if neither. */
static EVP_PKEY *load_rsa(const unsigned char *der, size_t n)
{
	const unsigned char *q = der;
	EVP_PKEY *pk;

	pk = d2i_PUBKEY(NULL, &q, (long)n);
	if (pk != NULL && q == der + n)
		return pk;
	EVP_PKEY_free(pk);
	q = der;
	pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)n);
	if (pk != NULL && q == der + n)
		return pk;
	EVP_PKEY_free(pk);
	return NULL;
}

/*
 * Loaded RSA keys, by their p= bytes.  OpenSSL 3's d2i_PUBKEY costs ~190 us
 * for a 2048-bit key, nine times the verification itself, and a busy
 * domain's key is the same for every message.  Direct-mapped, 256 slots,
 * shared by the milter threads (EVP_PKEY is reference-counted and read-only
 * once loaded); entries stay for the process lifetime, replaced on
 * collision.  Only keys that passed the size checks are kept.
 */
#define KEY_CACHE_SLOTS 256

struct key_slot {
	unsigned char p[DKIM_MAX_KEY];
	size_t plen;
	EVP_PKEY *pk;
};

static struct key_slot key_cache[KEY_CACHE_SLOTS];
static pthread_mutex_t key_cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* FNV-1a of the key bytes. */
static size_t key_slot_of(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h % KEY_CACHE_SLOTS;
}

/* A new reference to the cached key for these bytes, or NULL. */
static EVP_PKEY *key_cache_get(const unsigned char *p, size_t n)
{
	struct key_slot *s = &key_cache[key_slot_of(p, n)];
	EVP_PKEY *pk = NULL;

	pthread_mutex_lock(&key_cache_lock);
	if (s->pk && s->plen == n && memcmp(s->p, p, n) == 0 &&
	    EVP_PKEY_up_ref(s->pk) == 1)
		pk = s->pk;
	pthread_mutex_unlock(&key_cache_lock);
	return pk;
}

/* Remember pk (the cache takes its own reference). */
static void key_cache_put(const unsigned char *p, size_t n, EVP_PKEY *pk)
{
	struct key_slot *s = &key_cache[key_slot_of(p, n)];

	if (n > sizeof(s->p) || EVP_PKEY_up_ref(pk) != 1)
		return;
	pthread_mutex_lock(&key_cache_lock);
	EVP_PKEY_free(s->pk);
	memcpy(s->p, p, n);
	s->plen = n;
	s->pk = pk;
	pthread_mutex_unlock(&key_cache_lock);
}

int dkim_key_load(const struct dkim_key *key, void **out)
{
	EVP_PKEY *pk;
	int bits;

	*out = NULL;
	if (key->k == DKIM_K_ED25519) {
		if (key->plen != 32)
			return DKIM_W_KEY_BAD;
		pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						 key->p, key->plen);
		if (pk == NULL)
			return DKIM_W_KEY_BAD;
		*out = pk;
		return 0;
	}
	if ((pk = key_cache_get(key->p, key->plen)) != NULL) {
		*out = pk;
		return 0;
	}
	pk = load_rsa(key->p, key->plen);
	if (pk == NULL)
		return DKIM_W_KEY_BAD;
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		return DKIM_W_KEY_BAD;
	}
	bits = EVP_PKEY_get_bits(pk);
	if (bits < DKIM_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS) {
		EVP_PKEY_free(pk);
		return bits < DKIM_RSA_MIN_BITS ? DKIM_W_KEY_TOO_SMALL :
						  DKIM_W_KEY_TOO_LARGE;
	}
	key_cache_put(key->p, key->plen, pk);
	*out = pk;
	return 0;
}

int dkim_key_public(const void *pkey, unsigned char *out, size_t cap,
		    size_t *n, int *bits)
{
	EVP_PKEY *pk = (EVP_PKEY *)pkey;
	unsigned char *der = NULL;
	int len;

	*n = 0;
	*bits = EVP_PKEY_get_bits(pk);
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519) {
		*n = cap;
		return EVP_PKEY_get_raw_public_key(pk, out, n) == 1 ? 0 : -1;
	}
	/* RSA: SubjectPublicKeyInfo, whatever form was published */
	if ((len = i2d_PUBKEY(pk, &der)) <= 0)
		return -1;
	if ((size_t)len > cap) {
		OPENSSL_free(der);
		return -1;
	}
	memcpy(out, der, (size_t)len);
	*n = (size_t)len;
	OPENSSL_free(der);
	return 0;
}
