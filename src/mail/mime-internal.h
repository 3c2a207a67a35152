/*
 * mime-internal - what mime.c takes from mime_charset.c: text of any
 * charset made UTF-8 (see mime_charset.c for how, and mime.h for the
 * fallback list).  Not for use outside src/mail/mime*.c.
 */
#ifndef MAMORI_MAIL_MIME_INTERNAL_H
#define MAMORI_MAIL_MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <gmime/gmime.h>

/* Pin the converter modules and build the charset tables; once per
 * process, after g_mime_init (mime_init calls it). */
void mime_charset_init(void);

/*
 * n bytes (no NUL) of undeclared 8-bit text as UTF-8, g_free the result:
 * valid UTF-8 as it is, else the first of EUC-JP and CP932 that converts
 * it whole without C1 controls, else GMime's guess over the fallback list
 * of opts (MIME_FALLBACK_CHARSETS), found without its full conversions.
 */
char *mime_charset_8bit(GMimeParserOptions *opts, const char *p, size_t n);

/* Can p[0..n) in charset cs (NULL or "": none) be taken as UTF-8 as it
 * is (ASCII in an ASCII charset, or valid UTF-8 declared so or not)? */
bool mime_charset_is_utf8(const char *p, size_t n, const char *cs);

/*
 * n bytes (no NULs) in charset cs (NULL or "": none) as valid UTF-8,
 * g_free the result; *unknown is set when iconv does not know cs (the
 * text then goes through mime_charset_8bit).
 */
char *mime_charset_to_utf8(GMimeParserOptions *opts, const char *p, size_t n,
			   const char *cs, bool *unknown);

#endif
