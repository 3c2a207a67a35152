/*
 * dkim_sign - DKIM signing of outbound mail (RFC 6376, RFC 8463), sans I/O.
 *
 * A domain may have several keys (RSA-2048 and Ed25519 together, RFC 8463
 * section 6 recommends signing with both); each produces one DKIM-Signature
 * field.  The signer is fed the message like the verifier: header fields one
 * by one (name, raw value), then body chunks (CRLF form), then the end; it
 * returns the DKIM-Signature field values to prepend, topmost first.
 *
 * Keys live in a directory (dkim_key_dir): DOMAIN/SELECTOR.key (PEM private
 * key, RSA or Ed25519), loaded at start and on reload.  `mamori dkim keygen
 * DOMAIN SELECTOR [--type rsa|ed25519]` writes one and prints the DNS TXT
 * record to publish.
 */
#ifndef MAMORI_DKIM_SIGN_H
#define MAMORI_DKIM_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dkim_keyring;
struct dkim_signer;

enum {
	DKIM_SIGN_E_EXISTS = 1,	/* dkim_keygen_file: the key file exists */
};

/* dkim_keygen_file() flags */
#define DKIM_KEYGEN_FORCE 0x1	/* replace an existing key file */

/*
 * Load every DOMAIN/SELECTOR.key under dir.  NULL with err on failure: an
 * unreadable directory or file, a file that is not a PEM private key, an
 * RSA key under 2048 bits, another key type, a name that is not a domain
 * or selector.  A dir that does not exist is an empty keyring (signing
 * off).  Key files readable by group or others are loaded with a warning
 * in the log.
 */
struct dkim_keyring *dkim_keyring_load(const char *dir, char *err,
				       size_t errsz);
/* Free k and its keys; NULL is a no-op.  No signer of k may remain. */
void dkim_keyring_free(struct dkim_keyring *k);
/* Number of keys loaded, all domains together (0 for NULL). */
size_t dkim_keyring_count(const struct dkim_keyring *k);
/*
 * The i-th key (from 0, by selector) the keyring has for domain: returns
 * its selector and sets *pkey to its EVP_PKEY (borrowed, for
 * dkim_key_public()), or NULL past the last one.
 */
const char *dkim_keyring_key(const struct dkim_keyring *k,
			     const char *domain, size_t i, const void **pkey);
/* Does the keyring hold a key for domain (exact match, case-insensitive)? */
bool dkim_keyring_has(const struct dkim_keyring *k, const char *domain);

/*
 * Start signing a message for domain with every key the keyring has for
 * it (NULL if none).  now: the t= value (0: the clock).  The keyring must
 * outlive the signer.
 */
struct dkim_signer *dkim_signer_new(const struct dkim_keyring *k,
				    const char *domain, int64_t now);
/* Free s and the values it returned; NULL is a no-op. */
void dkim_signer_free(struct dkim_signer *s);
/*
 * Feed one header field, in message order: name as written before the
 * colon, value raw (after the colon, folding CRLFs kept, no final CRLF),
 * as for dkim_verify_header().  Fields not signed are ignored; too many or
 * too large signed fields make dkim_signer_end() fail.
 */
void dkim_signer_header(struct dkim_signer *s, const char *name, size_t nlen,
			const char *value, size_t vlen);
/* Feed n body bytes (CRLF line ends, dot-unstuffed, split anywhere). */
void dkim_signer_body(struct dkim_signer *s, const void *p, size_t n);
/*
 * Finish: *n is set to the number of DKIM-Signature values produced; each
 * (a NUL-terminated, folded field value without the "DKIM-Signature:"
 * name) stays valid until dkim_signer_free.  Returns 0 or -1 with err.
 * Each value starts with "v=1" (write "DKIM-Signature: " before it) and
 * is folded with CRLF HTAB at 76 columns.  A message without From is
 * refused (RFC 6376 5.4).  Call once.
 */
int dkim_signer_end(struct dkim_signer *s, const char *const **values,
		    size_t *n, char *err, size_t errsz);

/*
 * Generate a key: type "rsa" (2048 bits) or "ed25519".  Writes the PEM
 * private key to DIR/DOMAIN/SELECTOR.key (mode 0600, creating DOMAIN/) and
 * the TXT record text (v=DKIM1; k=...; p=...) into txt (malloc'd).  0 or -1
 * with err.
 */
int dkim_keygen(const char *dir, const char *domain, const char *selector,
		const char *type, char **txt, char *err, size_t errsz);

/*
 * dkim_keygen(), with flags (DKIM_KEYGEN_FORCE) and the path written.
 * DIR is created (0700) if missing.  The key is written to a hidden
 * temporary file and then linked into place (renamed with FORCE), so a
 * reload never sees half a key.  On success *path (if path is not NULL)
 * and *txt are malloc'd.  Returns 0, DKIM_SIGN_E_EXISTS when the key file
 * exists and FORCE is not given, or -1; err says why.
 */
int dkim_keygen_file(const char *dir, const char *domain,
		     const char *selector, const char *type, unsigned flags,
		     char **path, char **txt, char *err, size_t errsz);

#endif
