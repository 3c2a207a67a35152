/*
 * dkim-verify - DKIM verifications per second with the key answer cached.
 *
 * Generates a key (RSA-2048 or Ed25519, with dkim_keygen, in a temporary
 * directory), signs N real messages under a size limit with mamori's
 * signer (SpamAssassin public corpus, easy-ham-1 by default; mbox "From "
 * line dropped, line ends turned into CRLF; messages without From are
 * skipped), then verifies the whole corpus again and again for D seconds.
 *
 * Each verification is what the milter does for one message: a new
 * struct dkim_verify, every header field (name and raw value, split
 * beforehand, as the MTA hands them over), end of header, the body in one
 * chunk (under 64 KB, one milter body call), end of message, and the key
 * question answered from memory with the TXT record (DNS cost excluded,
 * as with a warm resolver cache; parsing the key record and loading the
 * public key happen per message, as in the daemon: dkim.h has no way to
 * hand the verifier an already loaded key).  Every result must be exactly
 * one signature with result pass, or the program aborts.
 *
 * Separately it times the key part alone (dkim_key_parse + dkim_key_load
 * + EVP_PKEY_free of the same TXT record) so the share of key handling in
 * the per-message cost is known.
 *
 * With -o DIR it also writes the signed messages (CRLF) as DIR/NNNNN.eml
 * and the key record as DIR/keys ("NAME TXT", one line), for a peer
 * verifier to run on the very same messages.
 *
 *   build/bench/dkim-verify [-t rsa|ed25519] [-n MESSAGES] [-d SECONDS]
 *                           [-s MAX_BYTES] [-c CORPUS_DIR] [-o OUT_DIR] [-q]
 *
 * Defaults: rsa, 200 messages, 3 s, 10240 bytes (the message as read,
 * before CRLF conversion and signing), corpus
 * $MAMORI_SHARED/corpora/spamassassin-public-corpus/easy-ham-1 with
 * MAMORI_SHARED defaulting to <source root>/../shared.
 *
 * Output: a human-readable block, and one line for scripts:
 *   result type=rsa messages=200 mean_bytes=... seconds=... verified=...
 *     msgs_per_s=... us_per_msg=... key_load_us=...
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mail/dkim.h"
#include "mail/dkim_sign.h"
#include "mamori-build.h"

#define DOMAIN "bench.example"
#define NOW 1790000000u

/* One header field of a prepared message: spans into msg.text. */
struct field {
	size_t name, nlen, value, vlen;
};

struct msg {
	char *text;		/* the signed message, CRLF */
	size_t len;
	struct field *f;
	size_t nf;
	size_t body;		/* offset of the body in text */
};

static void die(const char *what)
{
	fprintf(stderr, "dkim-verify: %s\n", what);
	exit(1);
}

static void *xmalloc_(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t max, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p;
	size_t got;

	if (f == NULL)
		return NULL;
	p = xmalloc_(max + 2);
	got = fread(p, 1, max + 1, f);
	fclose(f);
	if (got > max || got == 0) {
		free(p);
		return NULL;
	}
	p[got] = '\0';
	*n = got;
	return p;
}

/* Drop an mbox "From " line, turn bare LF into CRLF, end with CRLF. */
static char *to_crlf(const char *p, size_t n, size_t *outn)
{
	char *o = xmalloc_(2 * n + 3);
	size_t i = 0, k = 0;

	if (n >= 5 && memcmp(p, "From ", 5) == 0) {
		const char *nl = memchr(p, '\n', n);

		i = nl ? (size_t)(nl - p) + 1 : n;
	}
	for (; i < n; i++) {
		if (p[i] == '\n' && (k == 0 || o[k - 1] != '\r'))
			o[k++] = '\r';
		o[k++] = p[i];
	}
	if (k < 2 || o[k - 1] != '\n') {
		o[k++] = '\r';
		o[k++] = '\n';
	}
	o[k] = '\0';
	*outn = k;
	return o;
}

/*
 * Split the header of m->text into fields (name before the colon, raw
 * value after it, folding kept, final CRLF excluded).  false if the header
 * has no end, a line without a colon, or a field named empty.
 */
static bool split(struct msg *m)
{
	const char *t = m->text;
	size_t pos = 0, cap = 0;

	m->nf = 0;
	m->f = NULL;
	for (;;) {
		size_t e = pos, colon;

		if (pos + 1 >= m->len)
			return false;
		if (t[pos] == '\r' && t[pos + 1] == '\n') {
			m->body = pos + 2;
			return true;
		}
		if (t[pos] == ' ' || t[pos] == '\t')
			return false;
		for (;;) {
			const char *nl = memchr(t + e, '\n', m->len - e);

			if (nl == NULL)
				return false;
			e = (size_t)(nl - t) + 1;
			if (e >= m->len || (t[e] != ' ' && t[e] != '\t'))
				break;
		}
		colon = pos;
		while (colon < e && t[colon] != ':' && t[colon] != ' ' &&
		       t[colon] != '\t')
			colon++;
		if (colon == pos || colon >= e || t[colon] != ':')
			return false;
		if (m->nf == cap) {
			cap = cap ? 2 * cap : 32;
			m->f = realloc(m->f, cap * sizeof(*m->f));
			if (m->f == NULL)
				die("out of memory");
		}
		m->f[m->nf].name = pos;
		m->f[m->nf].nlen = colon - pos;
		m->f[m->nf].value = colon + 1;
		m->f[m->nf].vlen = e - 2 - (colon + 1);
		m->nf++;
		pos = e;
	}
}

static bool has_from(const struct msg *m)
{
	size_t i;

	for (i = 0; i < m->nf; i++)
		if (m->f[i].nlen == 4 &&
		    strncasecmp(m->text + m->f[i].name, "From", 4) == 0)
			return true;
	return false;
}

/* Sign m with kr; replaces m->text with the signed message, re-split. */
static bool sign(struct msg *m, const struct dkim_keyring *kr)
{
	struct dkim_signer *s = dkim_signer_new(kr, DOMAIN, NOW);
	const char *const *vals;
	size_t nv, i, extra = 0, k = 0;
	char err[256], *o;

	if (s == NULL)
		die("no signer for " DOMAIN);
	for (i = 0; i < m->nf; i++)
		dkim_signer_header(s, m->text + m->f[i].name, m->f[i].nlen,
				   m->text + m->f[i].value, m->f[i].vlen);
	dkim_signer_body(s, m->text + m->body, m->len - m->body);
	if (dkim_signer_end(s, &vals, &nv, err, sizeof(err)) != 0 || nv != 1) {
		dkim_signer_free(s);
		return false;
	}
	extra = strlen("DKIM-Signature: ") + strlen(vals[0]) + 2;
	o = xmalloc_(m->len + extra + 1);
	k = (size_t)snprintf(o, extra + 1, "DKIM-Signature: %s\r\n", vals[0]);
	memcpy(o + k, m->text, m->len);
	k += m->len;
	o[k] = '\0';
	dkim_signer_free(s);
	free(m->text);
	free(m->f);
	m->text = o;
	m->len = k;
	return split(m);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular file names in dir, sorted; *n set. */
static char **list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			v = realloc(v, cap * sizeof(*v));
			if (v == NULL)
				die("out of memory");
		}
		v[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

/* One verification, as the milter does it; true when it is one pass. */
static bool verify(const struct msg *m, const struct dns_answer *ans,
		   const char *qname)
{
	struct dkim_options opt = {.now = NOW + 60};
	struct dkim_verify *v = dkim_verify_new(&opt);
	const struct dns_question *q;
	const struct dkim_result *r;
	size_t i, id;
	bool ok;

	for (i = 0; i < m->nf; i++)
		dkim_verify_header(v, m->text + m->f[i].name, m->f[i].nlen,
				   m->text + m->f[i].value, m->f[i].vlen);
	dkim_verify_eoh(v);
	dkim_verify_body(v, m->text + m->body, m->len - m->body);
	dkim_verify_eom(v);
	while ((q = dkim_verify_next_question(v, &id)) != NULL) {
		if (strcasecmp(q->name, qname) != 0 || q->type != DNS_T_TXT) {
			fprintf(stderr, "dkim-verify: unexpected question %s\n",
				q->name);
			exit(1);
		}
		dkim_verify_answer(v, id, ans);
	}
	ok = dkim_verify_done(v) && dkim_verify_count(v) == 1;
	if (ok) {
		r = dkim_verify_result(v, 0);
		ok = r->res == DKIM_PASS;
		if (!ok)
			fprintf(stderr, "dkim-verify: %s (%s)\n",
				dkim_res_name(r->res), dkim_why_name(r->why));
	}
	dkim_verify_free(v);
	return ok;
}

static void usage(void)
{
	fprintf(stderr, "usage: dkim-verify [-t rsa|ed25519] [-n MESSAGES] "
		"[-d SECONDS] [-s MAX_BYTES] [-c CORPUS_DIR] [-o OUT_DIR] "
		"[-q]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *type = "rsa", *corpus = NULL, *outdir = NULL, *shared;
	size_t want = 200, maxsz = 10240, nfiles, i, nm = 0, total = 0;
	size_t verified = 0, keyloops = 0;
	double dur = 3, t0, t1, kt0, kt1;
	char tmpl[] = "/tmp/dkim-verify.XXXXXX", err[256], *txt = NULL;
	char path[4096], qname[300], **files;
	struct dkim_keyring *kr;
	struct msg *ms;
	bool quiet = false;
	int opt;

	while ((opt = getopt(argc, argv, "t:n:d:s:c:o:q")) != -1) {
		switch (opt) {
		case 't': type = optarg; break;
		case 'n': want = strtoul(optarg, NULL, 10); break;
		case 'd': dur = strtod(optarg, NULL); break;
		case 's': maxsz = strtoul(optarg, NULL, 10); break;
		case 'c': corpus = optarg; break;
		case 'o': outdir = optarg; break;
		case 'q': quiet = true; break;
		default: usage();
		}
	}
	if (optind != argc || want == 0 || !(dur > 0) ||
	    (strcmp(type, "rsa") != 0 && strcmp(type, "ed25519") != 0))
		usage();
	if (corpus == NULL) {
		shared = getenv("MAMORI_SHARED");
		snprintf(path, sizeof(path), "%s/corpora/spamassassin-public-"
			 "corpus/easy-ham-1", shared && *shared ? shared :
			 MAMORI_SOURCE_ROOT "/../shared");
		corpus = strdup(path);
	}

	/* The key: generated into a temporary directory, loaded back. */
	if (mkdtemp(tmpl) == NULL)
		die("mkdtemp failed");
	if (dkim_keygen(tmpl, DOMAIN, "bench", type, &txt, err,
			sizeof(err)) != 0)
		die(err);
	kr = dkim_keyring_load(tmpl, err, sizeof(err));
	if (kr == NULL)
		die(err);
	snprintf(path, sizeof(path), "%s/" DOMAIN "/bench.key", tmpl);
	unlink(path);
	snprintf(path, sizeof(path), "%s/" DOMAIN, tmpl);
	rmdir(path);
	rmdir(tmpl);
	snprintf(qname, sizeof(qname), "bench._domainkey." DOMAIN);

	/* The corpus, signed. */
	files = list_dir(corpus, &nfiles);
	if (files == NULL || nfiles == 0) {
		fprintf(stderr, "dkim-verify: no messages in %s\n", corpus);
		return 1;
	}
	ms = xmalloc_(want * sizeof(*ms));
	for (i = 0; i < nfiles && nm < want; i++) {
		struct msg *m = &ms[nm];
		size_t n;
		char *raw;

		snprintf(path, sizeof(path), "%s/%s", corpus, files[i]);
		raw = read_file(path, maxsz, &n);
		if (raw == NULL)
			continue;
		m->text = to_crlf(raw, n, &m->len);
		free(raw);
		if (!split(m) || !has_from(m) || !sign(m, kr)) {
			free(m->text);
			free(m->f);
			continue;
		}
		total += m->len;
		nm++;
	}
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	dkim_keyring_free(kr);
	if (nm < want)
		fprintf(stderr, "dkim-verify: only %zu messages under %zu bytes "
			"with From in %s\n", nm, maxsz, corpus);
	if (nm == 0)
		return 1;

	if (outdir) {
		FILE *f;

		if (mkdir(outdir, 0700) != 0 && errno != EEXIST)
			die("cannot create the output directory");
		for (i = 0; i < nm; i++) {
			snprintf(path, sizeof(path), "%s/%05zu.eml", outdir, i);
			f = fopen(path, "wb");
			if (f == NULL ||
			    fwrite(ms[i].text, 1, ms[i].len, f) != ms[i].len ||
			    fclose(f) != 0)
				die("cannot write a signed message");
		}
		snprintf(path, sizeof(path), "%s/keys", outdir);
		f = fopen(path, "w");
		if (f == NULL || fprintf(f, "%s %s\n", qname, txt) < 0 ||
		    fclose(f) != 0)
			die("cannot write the key file");
	}

	{
		struct dns_rr rr = {.type = DNS_T_TXT, .text = txt,
				    .text_len = strlen(txt)};
		struct dns_answer ans = {.rcode = DNS_OK, .n = 1, .rr = &rr};
		size_t pass;

		/* One pass first: warms the caches and checks every message. */
		for (i = 0; i < nm; i++)
			if (!verify(&ms[i], &ans, qname)) {
				fprintf(stderr, "dkim-verify: message %zu did "
					"not pass\n", i);
				abort();
			}
		t0 = now_s();
		t1 = t0;
		for (pass = 0; t1 - t0 < dur; pass++) {
			for (i = 0; i < nm; i++) {
				if (!verify(&ms[i], &ans, qname)) {
					fprintf(stderr, "dkim-verify: message "
						"%zu did not pass\n", i);
					abort();
				}
				verified++;
				/* Check the clock every 16 messages. */
				if ((verified & 15) == 0) {
					t1 = now_s();
					if (t1 - t0 >= dur)
						break;
				}
			}
			t1 = now_s();
		}
	}

	/* The key part alone, for 0.3 s: the same work per message. */
	kt0 = now_s();
	kt1 = kt0;
	while (kt1 - kt0 < 0.3) {
		struct dkim_key key;
		void *pk = NULL;

		if (dkim_key_parse(&key, txt, strlen(txt)) != 0 ||
		    dkim_key_load(&key, &pk) != 0)
			die("key record does not load");
		EVP_PKEY_free(pk);
		keyloops++;
		if ((keyloops & 15) == 0)
			kt1 = now_s();
	}

	if (!quiet) {
		printf("key:        %s, TXT record answered from memory\n",
		       strcmp(type, "rsa") == 0 ? "RSA-2048, rsa-sha256" :
		       "Ed25519, ed25519-sha256");
		printf("corpus:     %zu messages from %s, <= %zu bytes read, "
		       "mean %.0f bytes signed\n", nm, corpus, maxsz,
		       (double)total / (double)nm);
		printf("verified:   %zu messages in %.3f s, all pass\n",
		       verified, t1 - t0);
		printf("rate:       %.0f messages/s (%.1f us each)\n",
		       (double)verified / (t1 - t0),
		       1e6 * (t1 - t0) / (double)verified);
		printf("key load:   %.2f us of that per message (key record "
		       "parse + public key load)\n",
		       1e6 * (kt1 - kt0) / (double)keyloops);
	}
	printf("result type=%s messages=%zu mean_bytes=%.0f seconds=%.3f "
	       "verified=%zu msgs_per_s=%.0f us_per_msg=%.2f key_load_us=%.2f\n",
	       type, nm, (double)total / (double)nm, t1 - t0, verified,
	       (double)verified / (t1 - t0),
	       1e6 * (t1 - t0) / (double)verified,
	       1e6 * (kt1 - kt0) / (double)keyloops);
	for (i = 0; i < nm; i++) {
		free(ms[i].text);
		free(ms[i].f);
	}
	free(ms);
	free(txt);
	return 0;
}
