/*
 * idna - domain names from mail in the form DNS is asked with.
 *
 * With SMTPUTF8 (RFC 6531) and internationalized headers (RFC 6532) a
 * MAIL FROM, HELO or From domain may arrive as U-labels (UTF-8).  DNS
 * holds A-labels ("xn--..."), DKIM d= must be A-labels (RFC 6376 3.5), and
 * DMARC compares the author domain with DKIM and SPF identifiers, so every
 * domain is converted before it is looked up or compared (RFC 8616 4, 5).
 * The conversion is libidn2's IDNA2008 with the UTS #46 non-transitional
 * mapping, as mail clients and browsers resolve names.
 */
#ifndef MAMORI_IDNA_H
#define MAMORI_IDNA_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..n) has a byte over 0x7f. */
bool idna_has_utf8(const char *s, size_t n);

/*
 * The A-label form of the UTF-8 domain d[0..n) (a trailing dot is kept
 * out), lowercase, into out (outsz bytes, NUL-terminated).  ASCII input is
 * copied lowercased.  Returns 0, or -1 if d is not a valid
 * internationalized domain name (one that UTS 46 maps to an empty name or
 * an empty label, such as a lone U+200B, included) or does not fit.
 */
int idna_to_ascii(const char *d, size_t n, char *out, size_t outsz);

#endif
