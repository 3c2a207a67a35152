/*
 * test-dkim-perl - the Perl Mail::DKIM verifier corpus
 * ($MAMORI_SHARED/corpora/dkim/mail-dkim-perl: corpus/\*.txt, FAKE_DNS.dat,
 * EXPECTED.tsv).
 *
 * Mail::DKIM accepts pre-RFC drafts, rsa-sha1 and 512-bit keys; we follow
 * RFC 6376 and RFC 8301 strictly, so many of its "pass" cases are our
 * permerror.  docs/design/dkim-mail-dkim-corpus.md records, per case, what
 * Mail::DKIM expects, what we do and why.  The table below asserts OUR
 * result for every signature of every case (result and reason), so that a
 * change of behaviour shows up here and has to be argued in that document.
 * Mail::DKIM's own expectation is printed next to each line for reference,
 * and a case where both agree on the class (pass / fail / invalid) is
 * counted.  DomainKeys files (*dk*) are skipped: we do not do DomainKeys.
 *
 * The clock is the real one: ignore_7's x= lies in 2006.  The corpus keys
 * come from FAKE_DNS.dat, including its NXDOMAIN, timeout and SERVFAIL
 * entries.  MAMORI_DKIM_DUMP=1 prints the table for the current code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tap.h"
#include "mail/dkim_testlib.h"
#include "util/xalloc.h"

#define MAXSIG 16

struct row {
	const char *file;
	const char *ours;	/* per signature "result(why)", ", "-joined */
};

static const struct row rows[] = {
	{"bad_1.txt", "permerror(missing required tag)"},
	{"bad_1878954.txt", "permerror(rsa-sha1 not accepted)"},
	{"bad_ietf01_1.txt", "permerror(missing required tag)"},
	{"bad_ietf01_2.txt", "permerror(missing required tag)"},
	{"bad_ietf01_3.txt", "permerror(missing required tag)"},
	{"badkey1_ed25519.txt", "permerror(unusable key)"},
	{"badkey2_ed25519.txt", "fail(signature mismatch)"},
	{"badkey3_ed25519.txt", "fail(body hash mismatch)"},
	{"badkey4_ed25519.txt", "permerror(no key for signature)"},
	{"badkey5_ed25519.txt", "permerror(key syntax error)"},
	{"badkey_1.txt", "permerror(unsupported version)"},
	{"badkey_10.txt", "permerror(rsa-sha1 not accepted)"},
	{"badkey_11.txt", "permerror(hash not allowed by key)"},
	{"badkey_12.txt", "permerror(rsa-sha1 not accepted)"},
	{"badkey_13.txt", "permerror(rsa-sha1 not accepted)"},
	{"badkey_14.txt", "permerror(rsa-sha1 not accepted)"},
	{"badkey_15.txt", "permerror(rsa-sha1 not accepted)"},
	{"badkey_2.txt", "permerror(unsupported version)"},
	{"badkey_3.txt", "permerror(unsupported version)"},
	{"badkey_4.txt", "permerror(unsupported version)"},
	{"badkey_5.txt", "permerror(unsupported version)"},
	{"badkey_6.txt", "permerror(unsupported version)"},
	{"badkey_7.txt", "permerror(unsupported version)"},
	{"badkey_8.txt", "permerror(rsa-sha1 not accepted)"},
	{"badkey_9.txt", "permerror(rsa-sha1 not accepted)"},
	{"good_1878523.txt", "permerror(rsa-sha1 not accepted)"},
	{"good_83176.txt", "permerror(rsa-sha1 not accepted)"},
	{"good_ietf00_1.txt", "permerror(missing required tag)"},
	{"good_ietf00_2.txt", "permerror(missing required tag)"},
	{"good_ietf00_3.txt", "permerror(missing required tag)"},
	{"good_ietf00_4.txt", "permerror(missing required tag)"},
	{"good_ietf00_5.txt", "permerror(missing required tag)"},
	{"good_ietf01_1.txt", "permerror(missing required tag)"},
	{"good_ietf01_2.txt", "permerror(missing required tag)"},
	{"good_qp_1.txt", "permerror(rsa-sha1 not accepted)"},
	{"good_qp_2.txt", "permerror(rsa-sha1 not accepted)"},
	{"good_qp_3.txt", "permerror(rsa-sha1 not accepted)"},
	{"good_rfc4871_3.txt", "permerror(rsa-sha1 not accepted)"},
	{"good_rfc4871_4.txt", "permerror(rsa-sha1 not accepted)"},
	{"goodkey_1.txt", "permerror(rsa-sha1 not accepted)"},
	{"goodkey_2.txt", "permerror(rsa-sha1 not accepted)"},
	{"goodkey_3.txt", "permerror(rsa-sha1 not accepted)"},
	{"goodkey_4.txt", "permerror(rsa-sha1 not accepted)"},
	{"goodkey_ed25519.txt", "pass(ok)"},
	{"ignore_1.txt", "permerror(unsupported version)"},
	{"ignore_2.txt", "permerror(unsupported version)"},
	{"ignore_3.txt", "permerror(unsupported version)"},
	{"ignore_4.txt", "permerror(unsupported version)"},
	{"ignore_5.txt", "permerror(rsa-sha1 not accepted)"},
	{"ignore_6.txt", "permerror(rsa-sha1 not accepted)"},
	{"ignore_7.txt", "permerror(rsa-sha1 not accepted)"},
	{"ignore_8.txt", "permerror(rsa-sha1 not accepted)"},
	{"mine_ietf01_1.txt", "permerror(missing required tag)"},
	{"mine_ietf01_2.txt", "permerror(missing required tag)"},
	{"mine_ietf01_3.txt", "permerror(missing required tag)"},
	{"mine_ietf01_4.txt", "permerror(missing required tag)"},
	{"mine_ietf05_1.txt", "permerror(unsupported version)"},
	{"multiple_1.txt", "permerror(missing required tag), permerror(missing required tag), permerror(missing required tag), permerror(missing required tag)"},
	{"multiple_2.txt", "permerror(rsa-sha1 not accepted), permerror(rsa-sha1 not accepted), permerror(rsa-sha1 not accepted), permerror(signature syntax error)"},
	{"no_body_1.txt", "permerror(unsupported version)"},
	{"no_body_2.txt", "permerror(unsupported version)"},
	{"no_body_3.txt", "permerror(unsupported version)"},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

/*
 * The key records of FAKE_DNS.dat through dkim_key_parse() and
 * dkim_key_load(): most corpus signatures are permerror before their key
 * matters (pre-RFC v=, rsa-sha1), so the key edge cases the corpus was
 * built for (revoked, v=DKIM3, "t;" syntax, k=foobar, s=chat, h=bad, g=,
 * 512-bit keys, Ed25519 in SPKI form, an empty record) are asserted here.
 */
struct keyrow {
	const char *name;
	const char *ours;	/* parse result, flags; load result */
};

static const struct keyrow keyrows[] = {
	{"expirationtest._domainkey.example.org", "ok rsa; load ok"},
	{"selector1._domainkey.messiah.edu", "ok rsa; load ok"},
	{"test1._domainkey.messiah.edu", "ok rsa t=y; load key too small"},
	{"test2._domainkey.messiah.edu", "ok rsa t=y h=!sha256; load key too small"},
	{"test3._domainkey.messiah.edu", "ok rsa; load key too small"},
	{"test4._domainkey.messiah.edu", "ok rsa; load key too small"},
	{"test5._domainkey.messiah.edu", "ok rsa t=s; load key too small"},
	{"test6._domainkey.messiah.edu", "ok rsa t=s; load ok"},
	{"testbad1._domainkey.messiah.edu", "unsupported key version"},
	{"testbad2._domainkey.messiah.edu", "key syntax error"},
	{"testbad3._domainkey.messiah.edu", "unsupported key type"},
	{"testbad4._domainkey.messiah.edu", "key not for email"},
	{"testbad7._domainkey.messiah.edu", "ok rsa h=!sha256; load key too small"},
	{"testbad8._domainkey.messiah.edu", "ok rsa; load key too small"},
	{"testrevoked._domainkey.messiah.edu", "key revoked"},
	{"s1024._domainkey.yahoo.com", "ok rsa t=y; load ok"},
	{"beta._domainkey.gmail.com", "ok rsa t=y; load ok"},
	{"jakla2._domainkey.ijs.si", "ok rsa; load ok"},
	{"shan._domainkey.vmt2.cis.att.net", "ok rsa; load key too small"},
	{"foo._domainkey.vmt2.cis.att.net", "ok rsa; load key too small"},
	{"2023-05-ed25519._domainkey.wander.science", "ok ed25519; load ok"},
	{"2023-05-ed25519-empty._domainkey.wander.science", "key syntax error"},
	{"invalid._domainkey.wander.science", "ok ed25519; load unusable key"},
};

#define NKEYROWS (sizeof(keyrows) / sizeof(keyrows[0]))

/* Our verdict on one key record: the parse, its flags, then the load. */
static void key_verdict(struct buf *out, const char *txt)
{
	struct dkim_key key;
	void *pk = NULL;
	int r = dkim_key_parse(&key, txt, strlen(txt));

	buf_puts(out, dkim_why_name((enum dkim_why)r));
	if (r != 0)
		return;
	buf_puts(out, key.k == DKIM_K_RSA ? " rsa" : " ed25519");
	if (key.testing)
		buf_puts(out, " t=y");
	if (key.strict)
		buf_puts(out, " t=s");
	if (!key.hash_sha256)
		buf_puts(out, " h=!sha256");
	r = dkim_key_load(&key, &pk);
	buf_printf(out, "; load %s", dkim_why_name((enum dkim_why)r));
	EVP_PKEY_free(pk);
}

/* Load FAKE_DNS.dat into z. */
static bool load_dns(const char *path, struct dkimt_zone *z)
{
	size_t n;
	char *data = dkimt_read_file(path, &n), *line, *next;

	if (data == NULL)
		return false;
	for (line = data; line != NULL; line = next) {
		char *sp, *val, *end;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		sp = strpbrk(line, " \t");
		if (sp == NULL)
			continue;
		*sp = '\0';
		val = sp + 1;
		val += strspn(val, " \t");
		end = val + strlen(val);
		while (end > val && strchr(" \t\r", end[-1]))
			*--end = '\0';
		if (strcmp(val, "NXDOMAIN") == 0)
			dkimt_zone_add(z, line, DKIMT_NXDOMAIN, NULL);
		else if (strstr(val, "timed out"))
			dkimt_zone_add(z, line, DKIMT_TIMEOUT, NULL);
		else if (strstr(val, "SERVFAIL"))
			dkimt_zone_add(z, line, DKIMT_SERVFAIL, NULL);
		else if (strcmp(val, "\"\"") == 0)
			dkimt_zone_add(z, line, DKIMT_TXT, "");
		else
			dkimt_zone_add(z, line, DKIMT_TXT, val);
	}
	free(data);
	return true;
}

/* Mail::DKIM's expectation for file from EXPECTED.tsv, or "?". */
static char *expected(const char *tsv, const char *file)
{
	size_t fl = strlen(file);
	const char *p = tsv;

	while (p && *p) {
		if (strncmp(p, file, fl) == 0 && p[fl] == '\t') {
			const char *s = p + fl + 1, *e = strchr(s, '\t');

			return xstrndup(s, e ? (size_t)(e - s) : strcspn(s, "\n"));
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return xstrdup("?");
}

/* Our class in Mail::DKIM's words, from the best signature. */
static const char *klass(const struct dkim_result *r, size_t n)
{
	size_t i;
	bool fail = false;

	for (i = 0; i < n; i++) {
		if (r[i].res == DKIM_PASS)
			return "pass";
		if (r[i].res == DKIM_FAIL)
			fail = true;
	}
	return n == 0 ? "none" : fail ? "fail" : "invalid";
}

int main(void)
{
	const char *shared = getenv("MAMORI_SHARED");
	bool dump = getenv("MAMORI_DKIM_DUMP") != NULL;
	struct dkimt_zone z = {0};
	struct dkim_result res[MAXSIG];
	size_t i, j, n, cn, cnt, agree = 0, tsvn;
	char *dir, *path, *tsv;

	if (shared == NULL) {
		printf("1..0 # SKIP MAMORI_SHARED not set\n");
		return 0;
	}
	dir = xasprintf("%s/corpora/dkim/mail-dkim-perl", shared);
	path = xasprintf("%s/FAKE_DNS.dat", dir);
	ok(load_dns(path, &z), "FAKE_DNS.dat loads (%zu names)", z.n);
	free(path);
	path = xasprintf("%s/EXPECTED.tsv", dir);
	tsv = dkimt_read_file(path, &tsvn);
	free(path);
	ok(tsv != NULL, "EXPECTED.tsv loads");
	for (i = 0; i < NROWS; i++) {
		struct buf got;
		char *raw, *msg, *theirs;

		path = xasprintf("%s/corpus/%s", dir, rows[i].file);
		raw = dkimt_read_file(path, &n);
		free(path);
		if (!ok(raw != NULL, "%s: readable", rows[i].file))
			continue;
		msg = dkimt_crlf(raw, n, &cn);
		free(raw);
		cnt = dkimt_verify(msg, cn, &z, 0, 0, true, res, MAXSIG);
		buf_init(&got, 4096);
		for (j = 0; j < cnt && j < MAXSIG; j++)
			buf_printf(&got, "%s%s(%s)", j ? ", " : "",
				   dkim_res_name(res[j].res),
				   dkim_why_name(res[j].why));
		theirs = expected(tsv ? tsv : "", rows[i].file);
		if (dump)
			printf("\t{\"%s\", \"%s\"},\n", rows[i].file, got.p);
		if (strcmp(theirs, klass(res, cnt)) == 0)
			agree++;
		is_str(got.p, rows[i].ours, "%s: ours %s, Mail::DKIM %s",
		       rows[i].file, klass(res, cnt), theirs);
		free(theirs);
		buf_deinit(&got);
		free(msg);
	}
	for (i = 0; i < z.n; i++) {
		struct buf got;

		if (z.r[i].kind != DKIMT_TXT)
			continue;
		buf_init(&got, 256);
		key_verdict(&got, z.r[i].txt);
		if (dump)
			printf("\t{\"%s\", \"%s\"},\n", z.r[i].name, got.p);
		for (j = 0; j < NKEYROWS; j++)
			if (strcmp(keyrows[j].name, z.r[i].name) == 0)
				break;
		is_str(got.p, j < NKEYROWS ? keyrows[j].ours : "(no row)",
		       "key %s", z.r[i].name);
		buf_deinit(&got);
	}
	printf("# %zu of %zu cases agree with Mail::DKIM's class\n", agree,
	       NROWS);
	free(tsv);
	free(dir);
	dkimt_zone_free(&z);
	return tap_done();
}
