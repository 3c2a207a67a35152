/*
 * test-authres - build and parse rows for Authentication-Results, and a
 * sweep over the receiving MX's fields in the phishing-pot corpus
 * ($MAMORI_SHARED/corpora/phishing-pot-subset/email/\*.eml).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/authres.h"
#include "tap.h"

struct parse_row {
	const char *label, *v;
	int arc;
	int rc;
	int has_id;
	const char *id;
	int version;
	unsigned nresinfo;
};

static const struct parse_row parse_rows[] = {
	/* RFC 8601 appendix B examples. */
	{"B.2 none", "example.org 1; none", 0, 0, 1, "example.org", 1, 0},
	{"B.3 spf", "example.com; spf=pass smtp.mailfrom=example.net", 0, 0, 1, "example.com", -1, 1},
	{"B.4 several", "example.com; auth=pass (cram-md5) smtp.auth=sender@example.net; spf=pass smtp.mailfrom=example.net",
	 0, 0, 1, "example.com", -1, 2},
	{"B.5 version and comments", "example.com 1 (comment); dkim=pass (good signature) header.d=example.com reason=\"x y\"",
	 0, 0, 1, "example.com", 1, 1},
	{"B.6 comment before id", "(here) example.com; sender-id=fail header.from=example.com; dkim=pass (good signature) header.d=sub.example.com",
	 0, 0, 1, "example.com", -1, 2},
	{"quoted authserv-id", "\"mx.example.com\"; dmarc=pass header.from=example.com", 0, 0, 1, "mx.example.com", -1, 1},
	{"method version", "mx.example; dkim/1=pass header.d=a.example", 0, 0, 1, "mx.example", -1, 1},
	{"trailing semicolon", "mx.example; spf=pass;", 0, 0, 1, "mx.example", -1, 1},
	{"id alone", "mx.example", 0, 0, 1, "mx.example", -1, 0},
	{"folded", "mx.example;\r\n\tspf=pass\r\n smtp.mailfrom=a@b.example", 0, 0, 1, "mx.example", -1, 1},
	{"microsoft: no id", "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com; dkim=none (message not signed) header.d=none;dmarc=bestguesspass action=none header.from=example.com;compauth=pass reason=109",
	 0, 0, 0, "", -1, 4},
	{"microsoft: empty from", "spf=none (x) smtp.helo=h.example; dkim=none header.d=none;dmarc=none action=none header.from=;", 0, 0, 0, "", -1, 3},
	{"arc", "i=1; mx.google.com; dkim=pass header.i=@example.com; spf=pass smtp.mailfrom=example.com", 1, 0, 1, "mx.google.com", -1, 2},
	{"arc without i", "mx.google.com; dkim=pass", 1, AUTHRES_E_SYNTAX, 0, "", -1, 0},
	{"encoded word", "=?utf-8?B?bXguZXhhbXBsZTsgc3BmPXBhc3M=?=", 0, 0, 1, "mx.example", -1, 1},
	{"encoded word Q", "=?us-ascii?Q?mx.example=3B_spf=3Dpass?=", 0, 0, 1, "mx.example", -1, 1},
	{"bad encoded word", "=?utf-8?X?abc?=", 0, AUTHRES_E_SYNTAX, 0, "", -1, 0},
	{"empty", "", 0, AUTHRES_E_SYNTAX, 0, "", -1, 0},
	{"unclosed comment", "mx.example (oops; spf=pass", 0, AUTHRES_E_SYNTAX, 0, "", -1, 0},
	{"unclosed quote", "\"mx.example; spf=pass", 0, AUTHRES_E_SYNTAX, 0, "", -1, 0},
	{"method without result", "mx.example; spf", 0, AUTHRES_E_SYNTAX, 0, "", -1, 0},
	{"garbage after id", "mx.example ]; spf=pass", 0, AUTHRES_E_SYNTAX, 0, "", -1, 0},
};

static void test_parse(void)
{
	size_t i;
	struct authres_info info;

	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		const struct parse_row *w = &parse_rows[i];
		int rc = authres_parse(w->v, strlen(w->v), w->arc, &info);

		is_int(rc, w->rc, "parse %s: rc", w->label);
		if (rc != 0)
			continue;
		ok(info.has_id == (w->has_id != 0), "parse %s: has_id",
		   w->label);
		is_str(info.id, w->id, "parse %s: id", w->label);
		is_int(info.version, w->version, "parse %s: version", w->label);
		is_int(info.nresinfo, w->nresinfo, "parse %s: resinfo",
		       w->label);
	}
	ok(authres_is_ours("MX.Example.COM; spf=pass", 24, false,
			   "mx.example.com"), "is_ours: case-insensitive");
	ok(!authres_is_ours("mx.example.com.evil; spf=pass", 29, false,
			    "mx.example.com"), "is_ours: suffix is not ours");
	ok(!authres_is_ours("spf=pass", 8, false, "spf"),
	   "is_ours: Microsoft form is never ours");
	ok(authres_is_ours("i=2; mx.example.com; none", 25, true,
			   "mx.example.com"), "is_ours: ARC");
	ok(authres_is_ours("(forged) mx.example.com 1; dmarc=pass", 37, false,
			   "mx.example.com"), "is_ours: comment and version");
}

static void test_build(void)
{
	static const struct authres_prop spf_p[] = {
		{"smtp", "mailfrom", "example.com"},
	};
	static const struct authres_prop dkim_p[] = {
		{"header", "d", "example.com"}, {"header", "s", "sel1"},
	};
	static const struct authres_prop dmarc_p[] = {
		{"header", "from", "example.com"},
	};
	static const struct authres_prop odd_p[] = {
		{"smtp", "mailfrom", "\"odd local\"@example.com"},
		{"header", "from", ""},
		{"header", "b", "a=b;c"},
		{"smtp", "helo", "ctl\r\nbytes"},
	};
	const struct authres_result res[] = {
		{"spf", "pass", NULL, NULL, spf_p, 1},
		{"dkim", "pass", NULL, NULL, dkim_p, 2},
		{"dmarc", "pass", NULL, "p=reject dis=none", dmarc_p, 1},
	};
	const struct authres_result odd[] = {
		{"spf", "fail", "not (permitted) \\ here", "a (nested) comment",
		 odd_p, 4},
	};
	const struct authres_result bad[] = {
		{"sp f", "pass", NULL, NULL, NULL, 0},
	};
	struct authres_info info;
	struct buf b;

	buf_init(&b, 4096);
	is_int(authres_format(&b, "mx.example.net", res, 3), 0, "build: rc");
	is_str(b.p, "mx.example.net; spf=pass smtp.mailfrom=example.com; "
	       "dkim=pass header.d=example.com header.s=sel1; dmarc=pass "
	       "(p=reject dis=none) header.from=example.com", "build: value");
	is_int(authres_parse(b.p, b.len, false, &info), 0, "build: reparse");
	is_int(info.nresinfo, 3, "build: reparse count");
	buf_reset(&b);
	is_int(authres_format(&b, "mx.example.net", NULL, 0), 0, "build none");
	is_str(b.p, "mx.example.net; none", "build none: value");
	buf_reset(&b);
	is_int(authres_format(&b, "user@odd id", odd, 1), 0, "build odd: rc");
	is_str(b.p, "\"user@odd id\"; spf=fail (a \\(nested\\) comment) "
	       "reason=\"not (permitted) \\\\ here\" "
	       "smtp.mailfrom=\"\\\"odd local\\\"@example.com\" "
	       "header.from=\"\" header.b=\"a=b;c\" smtp.helo=\"ctl??bytes\"",
	       "build odd: quoting");
	is_int(authres_parse(b.p, b.len, false, &info), 0, "build odd: reparse");
	is_str(info.id, "user@odd id", "build odd: id");
	is_int(info.nresinfo, 1, "build odd: count");
	/* Fuzzer finding: a '?' in the authserv-id must be quoted. */
	buf_reset(&b);
	is_int(authres_format(&b, "mx?x", NULL, 0), 0, "build: id with ?");
	is_str(b.p, "\"mx?x\"; none", "build: id with ? quoted");
	buf_reset(&b);
	is_int(authres_format(&b, "mx", bad, 1), AUTHRES_E_INVALID,
	       "build: bad method");
	is_int(b.len, 0, "build: nothing written on error");
	buf_deinit(&b);
	buf_init(&b, 20);
	is_int(authres_format(&b, "mx.example.net", res, 3), BUF_E_TOO_LARGE,
	       "build: too large");
	is_int(b.len, 0, "build: emptied when too large");
	buf_deinit(&b);
}

/*
 * Parse every (ARC-)Authentication-Results field in the header of
 * message m[0..n).  Returns the number of Authentication-Results fields;
 * ARC ones are counted in *narc.
 */
static int each_ar(const char *m, size_t n, int *bad, int *withid,
		   int *narc)
{
	size_t i = 0;
	int count = 0;

	while (i < n) {
		size_t start = i, end, colon;
		bool arc;
		const char *name;

		if (m[i] == '\n' || (m[i] == '\r' && i + 1 < n && m[i + 1] == '\n'))
			break;		/* end of header */
		/* A field: this line and its continuation lines. */
		end = i;
		for (;;) {
			const char *nl = memchr(m + end, '\n', n - end);

			end = nl ? (size_t)(nl - m) + 1 : n;
			if (end >= n || (m[end] != ' ' && m[end] != '\t'))
				break;
		}
		i = end;
		name = m + start;
		colon = start;
		while (colon < end && m[colon] != ':')
			colon++;
		if (colon == end)
			continue;
		arc = colon - start == 26 &&
			strncasecmp(name, "ARC-Authentication-Results", 26) == 0;
		if (!arc && !(colon - start == 22 &&
			      strncasecmp(name, "Authentication-Results", 22) == 0))
			continue;
		{
			struct authres_info info;
			size_t vlen = end - colon - 1;

			while (vlen > 0 && (m[colon + vlen] == '\n' ||
					    m[colon + vlen] == '\r'))
				vlen--;
			if (arc)
				(*narc)++;
			else
				count++;
			if (authres_parse(m + colon + 1, vlen, arc, &info) != 0) {
				(*bad)++;
				printf("# unparsed: %.120s\n", m + colon + 1);
			} else if (info.has_id) {
				(*withid)++;
			}
		}
	}
	return count;
}

static void test_corpus(void)
{
	const char *shared = getenv("MAMORI_SHARED");
	char dir[1024], path[2048];
	DIR *d;
	struct dirent *de;
	int nmsg = 0, nmsg_ar = 0, nfield = 0, bad = 0, withid = 0, narc = 0;

	if (shared == NULL)
		shared = "../shared";
	snprintf(dir, sizeof(dir), "%s/corpora/phishing-pot-subset/email",
		 shared);
	d = opendir(dir);
	if (!ok(d != NULL, "corpus: open %s", dir))
		return;
	while ((de = readdir(d)) != NULL) {
		FILE *f;
		char *m;
		long sz;
		int c;

		if (strstr(de->d_name, ".eml") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (f == NULL)
			continue;
		fseek(f, 0, SEEK_END);
		sz = ftell(f);
		rewind(f);
		m = malloc((size_t)sz + 1);
		if (m && fread(m, 1, (size_t)sz, f) == (size_t)sz) {
			nmsg++;
			c = each_ar(m, (size_t)sz, &bad, &withid, &narc);
			nfield += c;
			nmsg_ar += c > 0;
		}
		free(m);
		fclose(f);
	}
	closedir(d);
	is_int(nmsg, 639, "corpus: messages");
	is_int(nmsg_ar, 638, "corpus: messages with Authentication-Results");
	is_int(nfield, 650, "corpus: Authentication-Results fields");
	is_int(narc, 288, "corpus: ARC-Authentication-Results fields");
	is_int(bad, 0, "corpus: every field parsed");
	printf("# %d fields carry an authserv-id\n", withid);
	ok(withid >= 20, "corpus: authserv-ids found (%d)", withid);
}

int main(void)
{
	test_parse();
	test_build();
	test_corpus();
	return tap_done();
}
