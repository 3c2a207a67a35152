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

/* Load every DOMAIN/SELECTOR.key under dir.  NULL with err on failure. */
struct dkim_keyring *dkim_keyring_load(const char *dir, char *err,
				       size_t errsz);
void dkim_keyring_free(struct dkim_keyring *k);
/* Does the keyring hold a key for domain (exact match, case-insensitive)? */
bool dkim_keyring_has(const struct dkim_keyring *k, const char *domain);

/*
 * Start signing a message for domain with every key the keyring has for
 * it (NULL if none).  now: the t= value (0: the clock).  The keyring must
 * outlive the signer.
 */
struct dkim_signer *dkim_signer_new(const struct dkim_keyring *k,
				    const char *domain, int64_t now);
void dkim_signer_free(struct dkim_signer *s);
void dkim_signer_header(struct dkim_signer *s, const char *name, size_t nlen,
			const char *value, size_t vlen);
void dkim_signer_body(struct dkim_signer *s, const void *p, size_t n);
/*
 * Finish: *n is set to the number of DKIM-Signature values produced; each
 * (a NUL-terminated, folded field value without the "DKIM-Signature:"
 * name) stays valid until dkim_signer_free.  Returns 0 or -1 with err.
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

#endif
