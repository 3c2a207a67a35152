/*
 * login_geo - the client address's country for the login engine's
 * new-country signal and the outbound country signals (geoip_db), read
 * from a MaxMind DB (.mmdb) file with libmaxminddb, or from Tor's text
 * ranges (login_geotor.c) behind the same lookup.
 *
 * Which format: "tor:PATH" is Tor's text; otherwise a file whose first 512
 * bytes are all printable text is Tor's text, anything else a .mmdb (a
 * .mmdb starts with its binary search tree).  For Tor's text, PATH6 is
 * read too when it exists, Tor's own naming (geoip and geoip6), so
 * "geoip_db = /usr/share/tor/geoip" gives both families.
 *
 * Any country database will do: GeoLite2-Country and DB-IP's country lite
 * (country.iso_code, falling back to registered_country.iso_code when the
 * address has no located country, as for an anycast or satellite range)
 * and the ip-location-db builds (a flat country_code).  Only two ASCII
 * letters are taken (upper-cased); anything else, or an address the file
 * does not cover, is "unknown" (0), which neither teaches nor flags.
 *
 * The file is mapped (MMDB_MODE_MMAP), so a database replaced on disk (by
 * geoipupdate, which renames a new file into place) is seen only after the
 * engine reopens it: login_engine_reconfigure does so on every reload.
 *
 * Threading: the engine's thread only; a lookup does no allocation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <maxminddb.h>

#include "auth/login-internal.h"
#include "util/xalloc.h"

struct lg_geo {
	MMDB_s db;
	struct lg_geotor *tor;		/* Tor's text format, else db */
	char *path;
};

/* Load Tor's text at path and path6 (if it exists) into g; NULL or g freed. */
static struct lg_geo *open_tor(struct lg_geo *g, const char *path,
			       const char *shown, char *err, size_t errsz)
{
	size_t n = strlen(path);
	char *p6 = xmalloc(n + 2);
	int rc;

	memcpy(p6, path, n);
	memcpy(p6 + n, "6", 2);
	rc = lg_geotor_load(&g->tor, path, err, errsz);
	if (rc == 0 && access(p6, F_OK) == 0)
		rc = lg_geotor_load(&g->tor, p6, err, errsz);
	free(p6);
	if (rc != 0) {
		lg_geotor_free(g->tor);
		free(g);
		return NULL;
	}
	g->path = xstrdup(shown);
	return g;
}

struct lg_geo *lg_geo_open(const char *path, char *err, size_t errsz)
{
	struct lg_geo *g = xcalloc(1, sizeof(*g));
	int rc;

	if (strncmp(path, "tor:", 4) == 0)
		return open_tor(g, path + 4, path, err, errsz);
	if (lg_geotor_sniff(path))
		return open_tor(g, path, path, err, errsz);
	errno = 0;
	rc = MMDB_open(path, MMDB_MODE_MMAP, &g->db);
	if (rc != MMDB_SUCCESS) {
		int en = errno;

		if ((rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) && en)
			snprintf(err, errsz, "geoip_db %s: %s (%s)", path,
				 MMDB_strerror(rc), strerror(en));
		else
			snprintf(err, errsz, "geoip_db %s: %s", path,
				 MMDB_strerror(rc));
		free(g);
		return NULL;
	}
	g->path = xstrdup(path);
	return g;
}

void lg_geo_free(struct lg_geo *g)
{
	if (!g)
		return;
	if (g->tor)
		lg_geotor_free(g->tor);
	else
		MMDB_close(&g->db);
	free(g->path);
	free(g);
}

const char *lg_geo_path(const struct lg_geo *g)
{
	return g ? g->path : "";
}

/* A two-letter string value at path (NULL-terminated) as a code, or 0. */
static uint16_t code_at(MMDB_entry_s *entry, const char *const *path)
{
	MMDB_entry_data_s d;
	uint8_t c0, c1;

	if (MMDB_aget_value(entry, &d, path) != MMDB_SUCCESS ||
	    !d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING ||
	    d.data_size != 2)
		return 0;
	c0 = (uint8_t)d.utf8_string[0];
	c1 = (uint8_t)d.utf8_string[1];
	if (c0 >= 'a' && c0 <= 'z')
		c0 = (uint8_t)(c0 - 'a' + 'A');
	if (c1 >= 'a' && c1 <= 'z')
		c1 = (uint8_t)(c1 - 'a' + 'A');
	if (c0 < 'A' || c0 > 'Z' || c1 < 'A' || c1 > 'Z')
		return 0;
	return lg_cc_pack((const char[]){ (char)c0, (char)c1 });
}

uint16_t lg_geo_country(const struct lg_geo *g, const struct lg_ip *ip)
{
	static const char *const paths[][3] = {
		{ "country", "iso_code", NULL },
		{ "registered_country", "iso_code", NULL },
		{ "country_code", NULL, NULL },
	};
	struct sockaddr_storage ss;
	MMDB_lookup_result_s r;
	uint16_t cc = 0;
	size_t i;
	int rc = 0;

	if (!g)
		return 0;
	if (g->tor)
		return lg_geotor_country(g->tor, ip);
	memset(&ss, 0, sizeof(ss));
	if (lg_ip_is_v4(ip)) {
		/* As IPv4, so an IPv4-only database answers too. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, ip->b + 12, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, ip->b, 16);
	}
	r = MMDB_lookup_sockaddr(&g->db, (const struct sockaddr *)&ss, &rc);
	if (rc != MMDB_SUCCESS || !r.found_entry)
		return 0;
	for (i = 0; !cc && i < sizeof(paths) / sizeof(paths[0]); i++)
		cc = code_at(&r.entry, paths[i]);
	return cc;
}

uint16_t lg_cc_pack(const char *s)
{
	return (uint16_t)((uint8_t)s[0] << 8 | (uint8_t)s[1]);
}

void lg_cc_format(uint16_t cc, char out[3])
{
	out[0] = (char)(cc >> 8);
	out[1] = (char)(cc & 0xff);
	out[2] = '\0';
}
