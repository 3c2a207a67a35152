/*
 * test-dkim-vectors - DKIM conformance on $MAMORI_SHARED/corpora/dkim/
 * VECTORS.json: 12 messages from MimeKit, mailauth, go-msgauth and dkimpy
 * with their key records and the per-signature result of Debian
 * python3-dkim (17 signatures, all pass).
 *
 * Each message is converted from LF to CRLF as INDEX.md says, verified
 * with the key records as the only DNS, and every listed signature must
 * get the listed result, with the listed d=, s= and a=.  The same must hold
 * whatever the body chunking (1, 7, 64 bytes, at once) and whether the
 * keys arrive before the body or after the end.  Then two mutations per
 * signed message: a body byte changed (every signature must fail with a
 * body hash mismatch) and a byte of the From field changed (every signature
 * must fail with a signature mismatch).
 *
 * Differential: the same messages and mutations go through Debian
 * python3-dkim (test/dkim/dkimpy-oracle.py, stub DNS from the same key
 * records), and every signature must be pass for both or pass for neither.
 * Skipped when /usr/bin/python3 cannot import dkim.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "tap.h"
#include "mail/dkim_testlib.h"
#include "util/xalloc.h"

#define MAXSIG 16

static int oracle_state;	/* 0 unknown, 1 usable, -1 not installed */

/*
 * Run dkimpy on msg with the keys of z; fill want[] with "is pass" per
 * signature.  Returns the number of signatures, or -1 if dkimpy is absent.
 */
static int oracle(const char *msg, size_t n, const struct dkimt_zone *z,
		  bool *want, size_t max)
{
	const char *root = getenv("MAMORI_SOURCE_ROOT");
	const char *tmp = getenv("TMPDIR");
	char mpath[512], kpath[512], line[64];
	char *cmd;
	FILE *f, *p;
	size_t i, cnt = 0;
	int fd, st;

	if (oracle_state < 0 || root == NULL)
		return -1;
	snprintf(mpath, sizeof(mpath), "%s/dkim-msg-XXXXXX", tmp ? tmp : "/tmp");
	snprintf(kpath, sizeof(kpath), "%s/dkim-keys-XXXXXX", tmp ? tmp : "/tmp");
	if ((fd = mkstemp(mpath)) < 0 || (f = fdopen(fd, "wb")) == NULL)
		return -1;
	fwrite(msg, 1, n, f);
	fclose(f);
	if ((fd = mkstemp(kpath)) < 0 || (f = fdopen(fd, "wb")) == NULL) {
		remove(mpath);
		return -1;
	}
	for (i = 0; i < z->n; i++)
		if (z->r[i].kind == DKIMT_TXT)
			fprintf(f, "%s\t%s\n", z->r[i].name, z->r[i].txt);
	fclose(f);
	cmd = xasprintf("/usr/bin/python3 '%s/test/dkim/dkimpy-oracle.py' "
			"'%s' '%s' 2>/dev/null", root, mpath, kpath);
	p = popen(cmd, "r");
	free(cmd);
	while (p && fgets(line, sizeof(line), p))
		if (cnt < max)
			want[cnt++] = strncmp(line, "pass", 4) == 0;
	st = p ? pclose(p) : -1;
	remove(mpath);
	remove(kpath);
	if (st != 0) {
		oracle_state = -1;
		return -1;
	}
	oracle_state = 1;
	return (int)cnt;
}

/* Compare our results with dkimpy's on one message. */
static void differ(const char *label, const char *msg, size_t n,
		   const struct dkimt_zone *z, const struct dkim_result *res,
		   size_t cnt)
{
	bool want[MAXSIG];
	int k = oracle(msg, n, z, want, MAXSIG);
	size_t i;

	if (k < 0)
		return;
	if (!ok((size_t)k == cnt, "dkimpy %s: %zu signatures", label, cnt))
		return;
	for (i = 0; i < cnt; i++)
		ok((res[i].res == DKIM_PASS) == want[i],
		   "dkimpy %s sig %zu: both %s", label, i,
		   want[i] ? "pass" : "not pass");
}

/* Change the case of the first letter at or after off in msg. */
static bool flip_letter(char *msg, size_t n, size_t off)
{
	for (; off < n; off++) {
		if (isalpha((unsigned char)msg[off])) {
			msg[off] ^= 0x20;
			return true;
		}
	}
	return false;
}

/* Offset of the first letter of the From field's value, or n. */
static size_t from_value(const char *msg, size_t n)
{
	size_t i, end = dkimt_body_offset(msg, n);

	for (i = 0; i + 5 < end; i++)
		if ((i == 0 || msg[i - 1] == '\n') &&
		    strncasecmp(msg + i, "from:", 5) == 0)
			return i + 5;
	return n;
}

/* Check every signature of one run got want_res (and want_why unless 0). */
static void check_all(const char *label, size_t cnt, size_t nwant,
		      const struct dkim_result *res, enum dkim_res want_res,
		      enum dkim_why want_why)
{
	size_t i;

	if (!ok(cnt == nwant, "%s: %zu signatures", label, nwant))
		return;
	for (i = 0; i < cnt; i++) {
		if (!ok(res[i].res == want_res &&
			(want_why == DKIM_W_OK || res[i].why == want_why),
			"%s: sig %zu is %s", label, i, dkim_res_name(want_res)))
			printf("#   got %s (%s)\n", dkim_res_name(res[i].res),
			       dkim_why_name(res[i].why));
	}
}

/* Run one vector; returns the number of signatures that passed. */
static size_t run_vector(const char *dir, json_t *vec)
{
	const char *rel = json_string_value(json_object_get(vec, "message"));
	json_t *dns = json_object_get(vec, "dns_txt");
	json_t *sigs = json_object_get(vec, "signatures");
	struct dkim_result res[MAXSIG], res2[MAXSIG];
	struct dkimt_zone z = {0};
	static const size_t chunks[] = {1, 7, 64, 0};
	size_t n, cn, cnt, cnt2, i, k, passed = 0, nsig = json_array_size(sigs);
	char *path, *raw, *msg, *mut;
	const char *name;
	json_t *val;

	path = xasprintf("%s/%s", dir, rel);
	raw = dkimt_read_file(path, &n);
	free(path);
	if (!ok(raw != NULL, "%s: readable", rel))
		return 0;
	msg = dkimt_crlf(raw, n, &cn);
	free(raw);
	json_object_foreach(dns, name, val)
		dkimt_zone_add(&z, name, DKIMT_TXT, json_string_value(val));

	cnt = dkimt_verify(msg, cn, &z, 0, 0, true, res, MAXSIG);
	differ(rel, msg, cn, &z, res, cnt);
	if (ok(cnt == nsig, "%s: %zu signatures, done", rel, nsig)) {
		for (i = 0; i < nsig; i++) {
			json_t *s = json_array_get(sigs, i);
			const char *want = json_string_value(
				json_object_get(s, "dkimpy_result"));
			struct buf ar;

			buf_init(&ar, 1024);
			dkim_format_result(&ar, &res[i]);
			is_str(dkim_res_name(res[i].res), want, "%s sig %zu: %s",
			       rel, i, ar.p);
			if (res[i].res == DKIM_PASS)
				passed++;
			is_str(res[i].d, json_string_value(json_object_get(s, "d")),
			       "%s sig %zu: d=", rel, i);
			is_str(res[i].s, json_string_value(json_object_get(s, "s")),
			       "%s sig %zu: s=", rel, i);
			is_str(res[i].a, json_string_value(json_object_get(s, "a")),
			       "%s sig %zu: a=", rel, i);
			buf_deinit(&ar);
		}
	} else {
		printf("#   got %zu\n", cnt);
	}
	/* Chunking and the order of keys and body must not matter. */
	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		bool same;

		cnt2 = dkimt_verify(msg, cn, &z, 0, chunks[k], false, res2,
				    MAXSIG);
		same = cnt2 == cnt;
		for (i = 0; same && i < cnt && i < MAXSIG; i++)
			same = res2[i].res == res[i].res &&
			       res2[i].why == res[i].why;
		ok(same, "%s: same results with chunks of %zu, keys late", rel,
		   chunks[k]);
	}
	if (nsig > 0) {
		size_t body = dkimt_body_offset(msg, cn);

		mut = xmalloc(cn + 1);
		memcpy(mut, msg, cn + 1);
		if (ok(flip_letter(mut, cn, body), "%s: body mutated", rel)) {
			cnt2 = dkimt_verify(mut, cn, &z, 0, 0, true, res2,
					    MAXSIG);
			check_all(rel, cnt2, nsig, res2, DKIM_FAIL,
				  DKIM_W_BODY_HASH);
			differ("body-mutated", mut, cn, &z, res2, cnt2);
		}
		memcpy(mut, msg, cn + 1);
		if (ok(flip_letter(mut, body, from_value(mut, cn)),
		       "%s: From mutated", rel)) {
			cnt2 = dkimt_verify(mut, cn, &z, 0, 0, true, res2,
					    MAXSIG);
			check_all(rel, cnt2, nsig, res2, DKIM_FAIL,
				  DKIM_W_SIGNATURE);
			differ("From-mutated", mut, cn, &z, res2, cnt2);
		}
		free(mut);
	}
	free(msg);
	dkimt_zone_free(&z);
	return passed;
}

struct thread_job {
	const char *msg;
	size_t n;
	const struct dkimt_zone *z;
	size_t pass;
};

/* Verify one message on a thread of its own, which then exits (as a milter
 * connection thread does), so the per-thread context caches start empty and
 * their destructor runs.  (LeakSanitizer cannot see a leak here: glibc keeps
 * exited threads' stacks, and their TLS, for reuse.) */
static void *verify_thread(void *arg)
{
	struct thread_job *j = arg;
	struct dkim_result res[MAXSIG];
	size_t i, cnt = dkimt_verify(j->msg, j->n, j->z, 0, 0, true, res,
				     MAXSIG);

	for (i = 0; i < cnt; i++)
		j->pass += res[i].res == DKIM_PASS;
	return NULL;
}

/* The same vector verified on 8 short-lived threads, one after another. */
static void test_threads(const char *dir, json_t *vec)
{
	const char *rel = json_string_value(json_object_get(vec, "message"));
	json_t *dns = json_object_get(vec, "dns_txt"), *val;
	struct dkimt_zone z = {0};
	struct thread_job j = {0};
	const char *name;
	char *path, *raw;
	size_t n, want = json_array_size(json_object_get(vec, "signatures"));
	int t;

	path = xasprintf("%s/%s", dir, rel);
	raw = dkimt_read_file(path, &n);
	free(path);
	if (!ok(raw != NULL, "threads: %s readable", rel))
		return;
	j.msg = dkimt_crlf(raw, n, &j.n);
	free(raw);
	json_object_foreach(dns, name, val)
		dkimt_zone_add(&z, name, DKIMT_TXT, json_string_value(val));
	j.z = &z;
	for (t = 0; t < 8; t++) {
		pthread_t th;

		pthread_create(&th, NULL, verify_thread, &j);
		pthread_join(th, NULL);
	}
	is_int(j.pass, 8 * want, "threads: %s passes on 8 exiting threads", rel);
	free((char *)j.msg);
	dkimt_zone_free(&z);
}

int main(void)
{
	const char *shared = getenv("MAMORI_SHARED");
	char *dir, *path;
	json_error_t err;
	json_t *root;
	size_t i, passed = 0;

	if (shared == NULL) {
		printf("1..0 # SKIP MAMORI_SHARED not set\n");
		return 0;
	}
	dir = xasprintf("%s/corpora/dkim", shared);
	path = xasprintf("%s/VECTORS.json", dir);
	root = json_load_file(path, 0, &err);
	if (!ok(root != NULL && json_is_array(root), "VECTORS.json loads")) {
		printf("#   %s\n", err.text);
		return tap_done();
	}
	for (i = 0; i < json_array_size(root); i++)
		passed += run_vector(dir, json_array_get(root, i));
	is_int(passed, 17, "17 signatures pass");
	test_threads(dir, json_array_get(root, 0));
	if (oracle_state < 0)
		ok(1, "# SKIP dkimpy differential: python3-dkim not usable");
	json_decref(root);
	free(path);
	free(dir);
	return tap_done();
}
