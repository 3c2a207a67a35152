/*
 * test-dkim-sign - the DKIM signer (dkim_sign.c): keygen of both key types,
 * keyring loading and its refusals, signatures checked by our verifier and
 * by dkimpy (test/dkim/dkimpy-oracle.py, skipped when Debian's python3-dkim
 * is missing), mutations that must break them, folding, chunk independence.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "mail/dkim.h"
#include "mail/dkim_sign.h"
#include "mail/dkim_testlib.h"
#include "tap.h"
#include "util/xalloc.h"

#define T_SIGN 1700000000	/* t= of every signature; past, for dkimpy */
#define DOMAIN "example.com"

static char tmpdir[] = "/tmp/test-dkim-sign.XXXXXX";
static char *txt_rsa, *txt_ed;	/* the generated key records */
static int dkimpy = -1;		/* -1 unknown, 0 missing, 1 present */

/* A message built by the tests: CRLF, header then body. */
struct msg {
	char *p;
	size_t n;
};

/* Feed the header fields of m (up to the empty line) to s. */
static void feed_headers(struct dkim_signer *s, const char *m, size_t end)
{
	size_t pos = 0;

	while (pos < end) {
		size_t e = pos, colon, vend;

		for (;;) {	/* a field ends at CRLF not followed by WSP */
			const char *nl = memchr(m + e, '\n', end - e);

			e = nl ? (size_t)(nl - m) + 1 : end;
			if (!nl || e >= end || (m[e] != ' ' && m[e] != '\t'))
				break;
		}
		for (colon = pos; colon < e && m[colon] != ':'; colon++)
			;
		vend = e;
		if (vend > colon + 1 && m[vend - 1] == '\n')
			vend--;
		if (vend > colon + 1 && m[vend - 1] == '\r')
			vend--;
		if (colon < e)
			dkim_signer_header(s, m + pos, colon - pos,
					   m + colon + 1, vend - colon - 1);
		pos = e;
	}
}

/*
 * Sign m with the keys of domain in kr, body in chunks of chunk bytes
 * (0: at once).  Returns the signed message (signatures prepended), or
 * NULL; *nsig gets the number of signatures, *vals (if not NULL) their
 * values joined by "\n--\n".
 */
static char *sign_msg(const struct dkim_keyring *kr, const char *domain,
		      const char *m, size_t n, size_t chunk, size_t *outn,
		      size_t *nsig, char **vals)
{
	struct dkim_signer *s = dkim_signer_new(kr, domain, T_SIGN);
	size_t body = dkimt_body_offset(m, n), hend, i, cnt;
	const char *const *v;
	struct buf out;
	char err[256];

	*nsig = 0;
	if (s == NULL)
		return NULL;
	hend = body == n ? n : body - 2;
	feed_headers(s, m, hend);
	for (i = body; i < n;) {
		size_t len = chunk && chunk < n - i ? chunk : n - i;

		dkim_signer_body(s, m + i, len);
		i += len;
	}
	if (dkim_signer_end(s, &v, &cnt, err, sizeof(err)) != 0) {
		printf("# sign: %s\n", err);
		dkim_signer_free(s);
		return NULL;
	}
	buf_init(&out, 64 * 1024 * 1024);
	for (i = 0; i < cnt; i++)
		buf_printf(&out, "DKIM-Signature: %s\r\n", v[i]);
	buf_append(&out, m, n);
	if (vals) {
		struct buf j;

		buf_init(&j, 1 << 20);
		for (i = 0; i < cnt; i++)
			buf_printf(&j, "%s%s", i ? "\n--\n" : "", v[i]);
		*vals = buf_steal(&j);
		buf_deinit(&j);
	}
	*nsig = cnt;
	*outn = out.len;
	dkim_signer_free(s);
	return buf_steal(&out);
}

/* The zone our verifier and dkimpy are answered from. */
static void make_zone(struct dkimt_zone *z)
{
	dkimt_zone_add(z, "rsa1._domainkey." DOMAIN, DKIMT_TXT, txt_rsa);
	dkimt_zone_add(z, "ed1._domainkey." DOMAIN, DKIMT_TXT, txt_ed);
}

/*
 * Verify m with our verifier, chunked; returns how many signatures pass,
 * or -1 if the count is not want.
 */
static int ours_pass(const char *m, size_t n, size_t want, size_t chunk)
{
	struct dkimt_zone z = {0};
	struct dkim_result res[8];
	size_t cnt, i;
	int pass = 0;

	make_zone(&z);
	cnt = dkimt_verify(m, n, &z, T_SIGN + 60, chunk, true, res, 8);
	dkimt_zone_free(&z);
	if (cnt != want)
		return -1;
	for (i = 0; i < cnt; i++) {
		if (res[i].res == DKIM_PASS)
			pass++;
		else
			printf("#   ours: sig %zu %s (%s)\n", i,
			       dkim_res_name(res[i].res),
			       dkim_why_name(res[i].why));
	}
	return pass;
}

/* Verify m with dkimpy; how many signatures pass, -1 on trouble, -2 if
 * dkimpy is missing. */
static int dkimpy_pass(const char *m, size_t n)
{
	const char *root = getenv("MAMORI_SOURCE_ROOT");
	char mpath[512], kpath[512], cmd[2048], line[64];
	FILE *f, *p;
	int pass = 0, st;

	snprintf(mpath, sizeof(mpath), "%s/msg.eml", tmpdir);
	snprintf(kpath, sizeof(kpath), "%s/keys.txt", tmpdir);
	if ((f = fopen(mpath, "wb")) == NULL)
		return -1;
	fwrite(m, 1, n, f);
	fclose(f);
	if ((f = fopen(kpath, "w")) == NULL)
		return -1;
	fprintf(f, "rsa1._domainkey.%s\t%s\ned1._domainkey.%s\t%s\n", DOMAIN,
		txt_rsa, DOMAIN, txt_ed);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/test/dkim/dkimpy-oracle.py",
		 root ? root : ".");
	if (access(cmd, R_OK) != 0)	/* python would exit 2: no false skip */
		return -1;
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/test/dkim/"
		 "dkimpy-oracle.py %s %s", root ? root : ".", mpath, kpath);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (strncmp(line, "pass", 4) == 0)
			pass++;
	st = pclose(p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
		return -2;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? pass : -1;
}

/* Check pass counts of both verifiers for m: want of nsig must pass. */
static void check_both(const char *m, size_t n, size_t nsig, int want,
		       const char *label)
{
	int d;

	is_int(ours_pass(m, n, nsig, 0), want, "%s: our verifier", label);
	if (dkimpy == 0) {
		ok(1, "# SKIP %s: dkimpy (python3-dkim) not installed", label);
		return;
	}
	d = dkimpy_pass(m, n);
	if (d == -2) {
		dkimpy = 0;
		ok(1, "# SKIP %s: dkimpy (python3-dkim) not installed", label);
		return;
	}
	dkimpy = 1;
	is_int(d, want, "%s: dkimpy", label);
}

/* keygen of both types, the records, file modes, refusal to overwrite. */
static void test_keygen(void)
{
	struct dkim_key key;
	void *pk = NULL;
	char err[256], *path = NULL, *txt = NULL, *p;
	struct stat st;
	int r;

	r = dkim_keygen_file(tmpdir, "Example.COM", "rsa1", "rsa", 0, &path,
			     &txt_rsa, err, sizeof(err));
	is_int(r, 0, "keygen rsa: %s", r ? err : "ok");
	p = xasprintf("%s/example.com/rsa1.key", tmpdir);
	is_str(path, p, "keygen rsa: path (domain lowercased)");
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600,
	   "keygen rsa: mode 0600");
	free(p);
	free(path);
	r = dkim_keygen(tmpdir, DOMAIN, "ed1", "ed25519", &txt_ed, err,
			sizeof(err));
	is_int(r, 0, "keygen ed25519: %s", r ? err : "ok");
	if (!txt_rsa || !txt_ed)
		exit(tap_done());
	ok(strncmp(txt_rsa, "v=DKIM1; k=rsa; p=MII", 21) == 0,
	   "rsa record: %.40s", txt_rsa);
	ok(strncmp(txt_ed, "v=DKIM1; k=ed25519; p=", 22) == 0 &&
	   strlen(txt_ed) == 22 + 44, "ed25519 record: raw 32 bytes: %s",
	   txt_ed);
	is_int(dkim_key_parse(&key, txt_rsa, strlen(txt_rsa)), 0,
	       "rsa record parses");
	is_int(dkim_key_load(&key, &pk), 0, "rsa record: SPKI loads");
	ok(pk && EVP_PKEY_get_bits(pk) == 2048, "rsa record: 2048 bits");
	EVP_PKEY_free(pk);
	pk = NULL;
	is_int(dkim_key_parse(&key, txt_ed, strlen(txt_ed)), 0,
	       "ed25519 record parses");
	is_int(key.plen, 32, "ed25519 record: 32 bytes");
	is_int(dkim_key_load(&key, &pk), 0, "ed25519 record loads");
	EVP_PKEY_free(pk);

	r = dkim_keygen_file(tmpdir, DOMAIN, "ed1", "ed25519", 0, NULL, &txt,
			     err, sizeof(err));
	is_int(r, DKIM_SIGN_E_EXISTS, "keygen refuses to overwrite: %s", err);
	ok(txt == NULL, "keygen refused: no record");
	r = dkim_keygen_file(tmpdir, "force.example", "s", "ed25519", 0, NULL,
			     &txt, err, sizeof(err));
	free(txt);
	txt = NULL;
	r = dkim_keygen_file(tmpdir, "force.example", "s", "ed25519",
			     DKIM_KEYGEN_FORCE, NULL, &txt, err, sizeof(err));
	is_int(r, 0, "keygen --force replaces");
	free(txt);
	txt = NULL;
	is_int(dkim_keygen(tmpdir, DOMAIN, "x", "dsa", &txt, err,
			   sizeof(err)), -1, "keygen: unknown type: %s", err);
	is_int(dkim_keygen(tmpdir, "../etc", "x", "rsa", &txt, err,
			   sizeof(err)), -1, "keygen: bad domain: %s", err);
	is_int(dkim_keygen(tmpdir, DOMAIN, "a/b", "rsa", &txt, err,
			   sizeof(err)), -1, "keygen: bad selector: %s", err);
}

/* Write a PEM key of type id (bits for RSA) to path with mode. */
static void write_pem(const char *path, int id, int bits, mode_t mode)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(id, NULL);
	EVP_PKEY *pk = NULL;
	FILE *f;

	EVP_PKEY_keygen_init(c);
	if (id == EVP_PKEY_RSA)
		EVP_PKEY_CTX_set_rsa_keygen_bits(c, bits);
	EVP_PKEY_keygen(c, &pk);
	f = fopen(path, "w");
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(path, mode);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(c);
}

/* Keyring: what loads, what is refused. */
static void test_keyring(void)
{
	struct dkim_keyring *kr;
	char err[512], *d, *p;

	kr = dkim_keyring_load(tmpdir, err, sizeof(err));
	ok(kr != NULL, "keyring loads: %s", kr ? "ok" : err);
	is_int(dkim_keyring_count(kr), 3, "keyring: 3 keys");
	ok(dkim_keyring_has(kr, "EXAMPLE.com"), "keyring has example.com");
	ok(!dkim_keyring_has(kr, "sub.example.com"), "no sub.example.com");
	ok(dkim_signer_new(kr, "example.org", 0) == NULL,
	   "no signer for a domain without keys");
	dkim_keyring_free(kr);

	p = xasprintf("%s/nonexistent", tmpdir);
	kr = dkim_keyring_load(p, err, sizeof(err));
	ok(kr && dkim_keyring_count(kr) == 0, "missing dir: empty keyring");
	dkim_keyring_free(kr);
	free(p);

	/* A world-readable key loads (a warning is logged). */
	d = xasprintf("%s/bad", tmpdir);
	mkdir(d, 0700);
	p = xasprintf("%s/open.example", d);
	mkdir(p, 0700);
	free(p);
	p = xasprintf("%s/open.example/s.key", d);
	write_pem(p, EVP_PKEY_ED25519, 0, 0644);
	free(p);
	p = xasprintf("%s/open.example/README", d);
	fclose(fopen(p, "w"));
	free(p);
	kr = dkim_keyring_load(d, err, sizeof(err));
	ok(kr && dkim_keyring_count(kr) == 1,
	   "mode 0644 key loads (warning only); README ignored");
	dkim_keyring_free(kr);

	p = xasprintf("%s/open.example/weak.key", d);
	write_pem(p, EVP_PKEY_RSA, 1024, 0600);
	kr = dkim_keyring_load(d, err, sizeof(err));
	ok(kr == NULL && strstr(err, "1024 bits"), "RSA-1024 refused: %s",
	   err);
	dkim_keyring_free(kr);
	unlink(p);
	free(p);

	p = xasprintf("%s/open.example/junk.key", d);
	fclose(fopen(p, "w"));
	kr = dkim_keyring_load(d, err, sizeof(err));
	ok(kr == NULL && strstr(err, "not a PEM"), "junk refused: %s", err);
	dkim_keyring_free(kr);
	unlink(p);
	free(p);
	free(d);
}

/* Own messages: headers with folding, repeats, odd spacing; bodies. */
static const char *const own_msgs[] = {
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.net\r\n"
	"Subject: hello\r\n"
	"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	"Message-ID: <1@example.com>\r\n"
	"\r\n"
	"Hi Bob.\r\n",

	"Received: from x by y; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	"From:   Alice\r\n  <alice@example.com>  \r\n"
	"To: a@example.net,\r\n\tb@example.net\r\n"
	"to: c@example.net\r\n"
	"Cc: d@example.net\r\n"
	"SUBJECT:\t folded\r\n   subject\t\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"List-Unsubscribe: <mailto:u@example.com>\r\n"
	"X-Unsigned: whatever\r\n"
	"\r\n"
	"line with trailing space   \r\n"
	"\ttabs\t and  spaces\r\n"
	"\r\n"
	"\r\n"
	"caf\xc3\xa9\r\n"
	"\r\n\r\n\r\n",

	"From: alice@example.com\r\n"
	"Subject: empty body\r\n"
	"\r\n",

	"From: alice@example.com\r\n"
	"Subject: no final CRLF\r\n"
	"\r\n"
	"last line",
};

/* Corpus messages (under $MAMORI_SHARED/corpora/mime-samples). */
static const char *const corpus_msgs[] = {
	"rspamd/messages/alternative-nested-rfc822.eml",
	"rspamd/messages/exe_attm.eml",
	"mailparser/fixtures/nodemailer.eml",
	"mailparser/fixtures/nested.eml",
	"mailparser/fixtures/delivery-status.eml",
	"gmime/messages/rfc2060.msg",
	"spamassassin-t-data/nice/001",
	"spamassassin-t-data/nice/010",
};

/* Sign m (LF or CRLF), check both verifiers and the mutations. */
static void sign_and_check(const struct dkim_keyring *kr, const char *raw,
			   size_t rawn, const char *label, bool mutate)
{
	size_t n, sn, ns, n1, ns1, i;
	char *m = dkimt_crlf(raw, rawn, &n), *s, *s1, *v = NULL, *v1 = NULL;
	char lbl[256];
	size_t e = 0, ntot;

	/* Signatures already there (another domain's) fail: no key. */
	for (i = 0; i + 16 < n && i < dkimt_body_offset(m, n); i++)
		if ((i == 0 || m[i - 1] == '\n') &&
		    strncasecmp(m + i, "DKIM-Signature:", 15) == 0)
			e++;
	ntot = 2 + e;
	s = sign_msg(kr, DOMAIN, m, n, 0, &sn, &ns, &v);
	if (!ok(s != NULL && ns == 2, "%s: signed twice", label)) {
		free(m);
		free(s);
		return;
	}
	ok(strstr(v, "a=rsa-sha256") && strstr(v, "a=ed25519-sha256"),
	   "%s: rsa-sha256 and ed25519-sha256", label);
	ok(strstr(v, "h=from:from:") || strstr(v, "h=from:from;"),
	   "%s: From oversigned", label);
	ok(!strstr(v, " i=") && !strstr(v, " l=") && strstr(v, "t=1700000000;"),
	   "%s: t=, no i= or l=", label);
	{	/* no line of the field longer than 76 columns (tab = 8) */
		size_t col = strlen("DKIM-Signature: "), maxc = 0;

		for (i = 0; v[i]; i++) {
			if (v[i] == '\n' && v[i + 1] == '-') {
				i += 3;
				col = strlen("DKIM-Signature: ");
				continue;
			}
			if (v[i] == '\r' || v[i] == '\n')
				col = 0;
			else
				col += v[i] == '\t' ? 8 : 1;
			if (col > maxc)
				maxc = col;
		}
		ok(maxc <= 76, "%s: folded at 76 columns (widest %zu)", label,
		   maxc);
	}
	check_both(s, sn, ntot, 2, label);

	/* Chunking: 1-byte and 7-byte bodies sign the same. */
	s1 = sign_msg(kr, DOMAIN, m, n, 7, &n1, &ns1, &v1);
	ok(s1 && strcmp(v, v1) == 0, "%s: 7-byte chunks, same signatures",
	   label);
	free(s1);
	free(v1);
	if (n < 20000) {
		s1 = sign_msg(kr, DOMAIN, m, n, 1, &n1, &ns1, &v1);
		ok(s1 && strcmp(v, v1) == 0,
		   "%s: 1-byte chunks, same signatures", label);
		free(s1);
		free(v1);
	}
	is_int(ours_pass(s, sn, ntot, 3), 2, "%s: verified in 3-byte chunks",
	       label);

	if (mutate) {
		size_t body = dkimt_body_offset(s, sn);
		char *t, *hit;

		/* A body byte. */
		t = xstrndup(s, sn);
		for (i = body; i < sn && (t[i] == '\r' || t[i] == '\n' ||
					  t[i] == ' ' || t[i] == '\t'); i++)
			;
		if (i < sn) {
			t[i] = t[i] == 'x' ? 'y' : 'x';
			snprintf(lbl, sizeof(lbl), "%s: body byte changed",
				 label);
			check_both(t, sn, ntot, 0, lbl);
		}
		free(t);
		/* The Subject. */
		t = xstrndup(s, sn);
		if ((hit = strstr(t, "\r\nSubject:")) ||
		    (hit = strstr(t, "\r\nSUBJECT")))
			hit[12] = hit[12] == 'Q' ? 'R' : 'Q';
		if (hit) {
			snprintf(lbl, sizeof(lbl), "%s: Subject changed",
				 label);
			check_both(t, sn, ntot, 0, lbl);
		}
		free(t);
		/* An added From, at the top and at the bottom. */
		t = xasprintf("From: mallory@example.org\r\n%s", s);
		snprintf(lbl, sizeof(lbl), "%s: From added on top", label);
		check_both(t, strlen(t), ntot, 0, lbl);
		free(t);
		t = xmalloc(sn + 64);
		memcpy(t, s, body - 2);
		i = body - 2;
		i += (size_t)snprintf(t + i, sn + 64 - i,
				      "From: mallory@example.org\r\n");
		memcpy(t + i, s + body - 2, sn - body + 2);
		snprintf(lbl, sizeof(lbl), "%s: From added at bottom", label);
		check_both(t, i + sn - body + 2, ntot, 0, lbl);
		free(t);
	}
	free(s);
	free(v);
	free(m);
}

/* Sign the own messages and the corpus samples. */
static void test_sign(void)
{
	const char *shared = getenv("MAMORI_SHARED");
	struct dkim_keyring *kr;
	char err[512], lbl[64];
	size_t i, n;

	kr = dkim_keyring_load(tmpdir, err, sizeof(err));
	if (!ok(kr != NULL, "keyring for signing: %s", kr ? "ok" : err))
		return;
	for (i = 0; i < sizeof(own_msgs) / sizeof(own_msgs[0]); i++) {
		snprintf(lbl, sizeof(lbl), "own message %zu", i);
		sign_and_check(kr, own_msgs[i], strlen(own_msgs[i]), lbl,
			       i < 2);
	}
	for (i = 0; i < sizeof(corpus_msgs) / sizeof(corpus_msgs[0]); i++) {
		char *path = xasprintf("%s/corpora/mime-samples/%s",
				       shared ? shared : "../shared",
				       corpus_msgs[i]);
		char *raw = dkimt_read_file(path, &n);

		if (raw == NULL) {
			ok(1, "# SKIP %s: %s", corpus_msgs[i],
			   strerror(errno));
		} else {
			sign_and_check(kr, raw, n, corpus_msgs[i], i < 2);
		}
		free(raw);
		free(path);
	}

	/* No From: refused. */
	{
		const char *m = "To: x@example.net\r\n\r\nbody\r\n";

		ok(sign_msg(kr, DOMAIN, m, strlen(m), 0, &n, &i, NULL) == NULL,
		   "no From: not signed");
	}
	dkim_keyring_free(kr);
}

/* Remove the temporary directory tree (depth 2 is all we create). */
static void cleanup(void)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);

	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	free(cmd);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_keygen();
	test_keyring();
	test_sign();
	free(txt_rsa);
	free(txt_ed);
	cleanup();
	return tap_done();
}
