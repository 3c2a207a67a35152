/*
 * fuzz-dkim-key - libFuzzer target for the DKIM key record parser and key
 * loading (RFC 6376 3.6.1, RFC 8301, RFC 8463).
 *
 * The input is a TXT record as DNS returns it (strings joined).  A parse
 * that succeeds must give a key of a known type with 1..DKIM_MAX_KEY bytes;
 * loading it must either fail with a key reason or give an EVP_PKEY of the
 * right type and an allowed size.  A broken invariant aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "mail/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-dkim-key: invariant broken: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_key key;
	void *pk = NULL;
	int r;

	r = dkim_key_parse(&key, (const char *)data, size);
	if (r != 0) {
		if (r < DKIM_W_NO_KEY || r > DKIM_W_KEY_TOO_LARGE)
			fail("parse reason out of range");
		return 0;
	}
	if (key.plen == 0 || key.plen > DKIM_MAX_KEY)
		fail("key length");
	if (key.k != DKIM_K_RSA && key.k != DKIM_K_ED25519)
		fail("key type");
	r = dkim_key_load(&key, &pk);
	if (r != 0) {
		if (pk != NULL)
			fail("key returned with an error");
		if (r != DKIM_W_KEY_BAD && r != DKIM_W_KEY_TOO_SMALL &&
		    r != DKIM_W_KEY_TOO_LARGE)
			fail("load reason");
		return 0;
	}
	if (pk == NULL)
		fail("no key");
	if (key.k == DKIM_K_ED25519 ?
		    EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519 :
		    (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA ||
		     EVP_PKEY_get_bits(pk) < DKIM_RSA_MIN_BITS ||
		     EVP_PKEY_get_bits(pk) > DKIM_RSA_MAX_BITS))
		fail("loaded key");
	EVP_PKEY_free(pk);
	return 0;
}
