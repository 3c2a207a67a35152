/*
 * test-login-geo - geoip_db in Tor's text format (login_geotor.c) behind
 * the lg_geo lookup: range edges of both families, bad lines refused with
 * their line number, a missing file, the format told by content or by
 * "tor:", the PATH6 sibling, and Debian's tor-geoipdb files from
 * $MAMORI_SHARED/corpora/ip-country (expected countries read from them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/login-internal.h"
#include "tap.h"

#define V4 "# tor v4\n" \
	"16777216,16777471,AU\n" \
	"16777472,16778239,cn\n" \
	"16778240,16778495,??\n" \
	"\n" \
	"3232235520,3232235775,JP\r\n"
#define V6 "# tor v6\n" \
	"2001::,2001:0:ffff:ffff:ffff:ffff:ffff:ffff,??\n" \
	"2001:2::,2001:2:0:ffff:ffff:ffff:ffff:ffff,JP\n" \
	"2001:4:112::,2001:4:112:ffff:ffff:ffff:ffff:ffff,US\n"

struct row {
	const char *label;
	const char *text;	/* the file */
	const char *addr;	/* looked up when the file loads */
	const char *cc;		/* expected, "" = unknown */
	const char *err;	/* NULL: loads; else a substring of the error */
};

static const struct row rows[] = {
	{"v4 first address of a range", V4, "1.0.0.0", "AU", NULL},
	{"v4 last address of a range", V4, "1.0.0.255", "AU", NULL},
	{"v4 next range, lowercase cc", V4, "1.0.1.0", "CN", NULL},
	{"v4 ?? range is unknown", V4, "1.0.4.0", "", NULL},
	{"v4 below every range", V4, "0.255.255.255", "", NULL},
	{"v4 gap after the last range", V4, "192.168.1.0", "", NULL},
	{"v4 CRLF line", V4, "192.168.0.255", "JP", NULL},
	{"v4 lookup in a v6-only file", V6, "1.0.0.1", "", NULL},
	{"v6 first address", V6, "2001:2::", "JP", NULL},
	{"v6 last address", V6, "2001:2:0:ffff:ffff:ffff:ffff:ffff", "JP",
	 NULL},
	{"v6 just past a range", V6, "2001:2:1::", "", NULL},
	{"v6 ?? range", V6, "2001::5", "", NULL},
	{"v6 later range", V6, "2001:4:112:1::1", "US", NULL},
	{"mixed families", V4 V6, "2001:2::1", "JP", NULL},
	{"comments only", "# nothing\n", "1.0.0.1", "", NULL},
	{"two fields", "# c\n1,2\n", NULL, NULL,
	 ": line 2: expected FROM,TO,CC"},
	{"bad country", "1,2,J1\n", NULL, NULL, ": line 1: country"},
	{"long country", "1,2,JPN\n", NULL, NULL, ": line 1: country"},
	{"v4 over 32 bits", "1,4294967296,JP\n", NULL, NULL,
	 ": line 1: not a 32-bit"},
	{"v4 not a number", "1,x2,JP\n", NULL, NULL, ": line 1: not a 32-bit"},
	{"v4 empty field", ",2,JP\n", NULL, NULL, ": line 1: not a 32-bit"},
	{"v4 FROM above TO", "9,2,JP\n", NULL, NULL, ": line 1: FROM above TO"},
	{"v4 overlap", "1,5,JP\n5,9,US\n", NULL, NULL, ": line 2: ranges not"},
	{"v4 descending", "10,20,JP\n1,5,US\n", NULL, NULL, ": line 2: ranges not"},
	{"v6 bad address", "2001::,2001:zz::,JP\n", NULL, NULL,
	 ": line 1: not an IPv6"},
	{"v6 FROM above TO", "2001:3::,2001:2::,JP\n", NULL, NULL,
	 ": line 1: FROM above TO"},
	{"v6 overlap", V6 "2001:4:112::5,2001:5::,JP\n", NULL, NULL,
	 ": line 5: ranges not"},
	{"line too long", "1,2,JP" "                                        "
	 "                                                                  "
	 "                                                                  "
	 "                                                                  "
	 "                                                                  "
	 "\n", NULL, NULL, ": line 1: line too long"},
};

/* Write text to path. */
static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

/* The country of addr in g as two letters, "" if unknown. */
static const char *cc_of(const struct lg_geo *g, const char *addr, char b[3])
{
	struct lg_ip ip;
	uint16_t cc;

	if (!lg_ip_parse(addr, &ip))
		return "(bad address)";
	cc = lg_geo_country(g, &ip);
	if (!cc)
		return "";
	lg_cc_format(cc, b);
	return b;
}

/* The table rows, each as a file read by content. */
static void table(const char *dir)
{
	char path[512], err[512], b[3];
	size_t i;

	snprintf(path, sizeof(path), "%s/t", dir);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct lg_geo *g;

		put(path, r->text);
		err[0] = '\0';
		g = lg_geo_open(path, err, sizeof(err));
		if (r->err) {
			ok(!g && strstr(err, r->err) != NULL,
			   "%s: refused (%s)", r->label, err);
		} else {
			if (!ok(g != NULL, "%s: loads", r->label))
				printf("#   %s\n", err);
			is_str(cc_of(g, r->addr, b), r->cc, "%s: %s", r->label,
			       r->addr);
		}
		lg_geo_free(g);
	}
}

/* Missing file, "tor:" prefix, the PATH6 sibling. */
static void files(const char *dir)
{
	char path[512], p6[520], tp[520], err[512], b[3];
	struct lg_geo *g;

	snprintf(path, sizeof(path), "%s/missing", dir);
	g = lg_geo_open(path, err, sizeof(err));
	ok(!g && strstr(err, path), "missing file: error names it (%s)", err);
	snprintf(tp, sizeof(tp), "tor:%s", path);
	g = lg_geo_open(tp, err, sizeof(err));
	ok(!g && strstr(err, "No such file"), "missing tor: file (%s)", err);

	snprintf(path, sizeof(path), "%s/geoip", dir);
	snprintf(p6, sizeof(p6), "%s/geoip6", dir);
	put(path, V4);
	put(p6, V6);
	snprintf(tp, sizeof(tp), "tor:%s", path);
	g = lg_geo_open(tp, err, sizeof(err));
	is_str(cc_of(g, "1.0.0.7", b), "AU", "tor: prefix, v4 file");
	is_str(cc_of(g, "2001:2::7", b), "JP", "tor: prefix, PATH6 read too");
	is_str(lg_geo_path(g), tp, "path shown as configured");
	lg_geo_free(g);
	put(p6, "2001:2::,2001:1::,JP\n");
	g = lg_geo_open(path, err, sizeof(err));
	ok(!g && strstr(err, "geoip6: line 1: FROM above TO"),
	   "bad PATH6 refuses the whole database (%s)", err);
	unlink(p6);
	unlink(path);
}

/* Debian's tor-geoipdb files from the shared corpus. */
static void debian(const char *dir)
{
	static const struct {
		const char *addr, *cc;
	} known[] = {
		/* from the corpus files: the range holding each address */
		{"133.242.0.1", "JP"},	/* 2231369728,2248146943,JP */
		{"8.8.8.8", "US"},	/* 100663296,135630591,US */
		{"1.1.1.1", "AU"},	/* 16843008,16843263,AU */
		{"193.0.0.1", "NL"},	/* 3238002688,3238008831,NL */
		{"10.0.0.1", ""},	/* in no range */
		{"2001:200::1", "JP"},	/* 2001:200::,2001:200:134:..,JP */
		{"2a00:1450:4001::1", "IE"},	/* 2a00:1450::,..,IE */
		{"2001:db8::1", ""},	/* in no range */
	};
	const char *shared = getenv("MAMORI_SHARED");
	char cmd[2048], path[512], err[512], b[3];
	struct lg_geo *g;
	size_t i;

	if (!shared) {
		ok(1, "# SKIP no MAMORI_SHARED");
		return;
	}
	snprintf(path, sizeof(path), "%s/geoip", dir);
	snprintf(cmd, sizeof(cmd),
		 "gzip -dc %s/corpora/ip-country/tor-geoip-ipv4.txt.gz > %s && "
		 "gzip -dc %s/corpora/ip-country/tor-geoip-ipv6.txt.gz > %s6",
		 shared, path, shared, path);
	if (!ok(system(cmd) == 0, "corpus files unpacked")) {
		ok(0, "# SKIP");
		return;
	}
	g = lg_geo_open(path, err, sizeof(err));
	if (!ok(g != NULL, "Debian tor-geoipdb loads by content"))
		printf("#   %s\n", err);
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		is_str(cc_of(g, known[i].addr, b), known[i].cc, "Debian %s",
		       known[i].addr);
	lg_geo_free(g);
	unlink(path);
	snprintf(cmd, sizeof(cmd), "%s6", path);
	unlink(cmd);
}

int main(void)
{
	char dir[] = "/tmp/test-login-geo.XXXXXX";

	if (!mkdtemp(dir))
		return 2;
	table(dir);
	files(dir);
	debian(dir);
	rmdir(dir);
	return tap_done();
}
