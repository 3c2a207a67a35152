/*
 * idna - U-labels to A-labels for the lookups of SPF and DMARC (idna.h).
 */
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "mail/idna.h"

bool idna_has_utf8(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/*
 * UTS 46 4.2 VerifyDnsLength on the converted name a[0..len): 1..253
 * octets, every label 1..63.  Code points that UTS 46 maps to nothing
 * (U+200B, U+00AD, ...) can leave an empty name or label that libidn2
 * returns as is: "x@\u200b" must not yield the domain "".
 */
static bool dns_length_ok(const char *a, size_t len)
{
	size_t i, lab = 0;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || a[i] == '.') {
			if (lab == 0 || lab > 63)
				return false;
			lab = 0;
		} else {
			lab++;
		}
	}
	return true;
}

int idna_to_ascii(const char *d, size_t n, char *out, size_t outsz)
{
	char in[1024], *a = NULL;
	size_t i, len;

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(in))
		return -1;
	if (!idna_has_utf8(d, n)) {
		if (n >= outsz)
			return -1;
		for (i = 0; i < n; i++)
			out[i] = (char)(d[i] >= 'A' && d[i] <= 'Z' ?
					d[i] + 32 : d[i]);
		out[n] = '\0';
		return 0;
	}
	memcpy(in, d, n);
	in[n] = '\0';
	if (idn2_to_ascii_8z(in, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) !=
	    IDN2_OK)
		return -1;
	len = strlen(a);
	/* A mapped full stop (U+3002 ...) can end the name: the root label. */
	if (len > 0 && a[len - 1] == '.')
		a[--len] = '\0';
	if (len >= outsz || !dns_length_ok(a, len)) {
		idn2_free(a);
		return -1;
	}
	for (i = 0; i <= len; i++)
		out[i] = (char)(a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
	idn2_free(a);
	return 0;
}
