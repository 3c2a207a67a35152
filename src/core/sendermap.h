/*
 * sendermap - which envelope senders a login owns besides its own address.
 *
 * The idea of Postfix's smtpd_sender_login_maps (reject_sender_login_mismatch),
 * turned around: there it maps a sender to the logins allowed to use it;
 * here it maps a login to the senders it may use, because mamori keys on
 * the login.  File format (sender_map), one login a line, '#' comments:
 *
 *   alice@isp.example     alice@alice-family.example @alice-shop.example
 *   @shop.example         @shop-mail.example
 *
 * A value "@DOMAIN" owns every address in DOMAIN; any other value is one
 * address.  A key "@DOMAIN" applies to every login in DOMAIN.  Case is
 * ignored everywhere.  Limits: a line is at most SENDERMAP_MAX_LINE bytes
 * and names at most SENDERMAP_MAX_VALUES senders (a person's aliases, not
 * a customer database: that belongs in local_domains); a longer line or a
 * value without '@' is an error with its line number.
 *
 * Parsing is sans-I/O (sendermap_parse over a buffer), so it is unit-tested
 * and fuzzable alone; sendermap_load reads a file and calls it.  The map
 * is immutable once built; lookups are O(log n) (sorted array).
 */
#ifndef MAMORI_SENDERMAP_H
#define MAMORI_SENDERMAP_H

#include <stdbool.h>
#include <stddef.h>

#define SENDERMAP_MAX_LINE 4096
#define SENDERMAP_MAX_VALUES 64

struct sendermap;

/*
 * Parse text (len bytes, need not be NUL-terminated).  Returns the map, or
 * NULL with "line N: why" in err.  An empty text gives an empty map.
 */
struct sendermap *sendermap_parse(const char *text, size_t len, char *err,
				  size_t errsz);
/* Read path and parse it; NULL with the reason in err. */
struct sendermap *sendermap_load(const char *path, char *err, size_t errsz);
/* NULL is a no-op. */
void sendermap_free(struct sendermap *m);
/* Number of (login, sender) pairs. */
size_t sendermap_count(const struct sendermap *m);
/* Does the map let login use sender?  m may be NULL (no). */
bool sendermap_owns(const struct sendermap *m, const char *login,
		    const char *sender);

#endif
