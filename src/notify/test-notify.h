/*
 * test-notify.h - helpers shared by test-notify.c (rendering) and
 * test-notify-send.c (delivery): a test config and event, a scratch
 * directory, and decoders for rendered messages (RFC 2047 Subject, base64
 * body).  Static, like tap.h: each test program includes it once.
 */
#ifndef MAMORI_TEST_NOTIFY_H
#define MAMORI_TEST_NOTIFY_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tap.h"
#include "notify/notify.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#define TN_UNUSED __attribute__((unused))

#define T_EVENT 1778563800LL	/* 2026-05-12T14:30:00+09:00 */
#define EVIDENCE "{\"msgs_1h\":45,\"baseline\":2," \
	"\"client_ips\":[\"203.0.113.5\",\"198.51.100.7\"]," \
	"\"queue_ids\":[\"4XyZ1\"]}"

TN_UNUSED static const char *const kinds[] = {
	"throttled", "restricted", "released", "suspended",
};
TN_UNUSED static const char *const audiences[] = {"customer", "abuse"};
TN_UNUSED static const char *const langs[] = {"ja", "en"};
TN_UNUSED static const char *const placeholders[] = {
	"{login}", "{state}", "{reason}", "{strikes}", "{time}",
	"{evidence}", "{actor}", "{id}",
};

/* Replace a config string. */
TN_UNUSED static void set_str(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

/* A default config with notices aimed at nothing. */
TN_UNUSED static struct config *test_config(void)
{
	char err[256];
	struct config *c = config_load(NULL, err, sizeof(err));

	if (!c) {
		printf("# config_load: %s\n", err);
		exit(1);
	}
	set_str(&c->notify_smtp_url, "");
	set_str(&c->notify_from, "mamori@example.jp");
	return c;
}

/* A typical restriction event. */
TN_UNUSED static struct notify_event test_event(const char *kind,
						const char *id)
{
	struct notify_event ev = {
		.kind = kind,
		.login = "taro@example.jp",
		.state = kind,
		.reason = "score 130 >= 100: surge 45 msgs/h vs baseline 2",
		.evidence_json = EVIDENCE,
		.actor = "mamorid",
		.strikes = 2,
		.time = T_EVENT,
		.id = id,
	};
	return ev;
}

/* The header block of msg (malloc'd, up to and including the blank line). */
TN_UNUSED static char *headers_of(const char *msg)
{
	const char *end = strstr(msg, "\r\n\r\n");

	return end ? xstrndup(msg, (size_t)(end - msg) + 4) : xstrdup(msg);
}

/* Decode base64 text, ignoring CR/LF; returns malloc'd NUL-terminated. */
TN_UNUSED static char *b64_decode(const char *s, size_t n)
{
	char *clean = xmalloc(n + 1), *out;
	size_t i, k = 0;
	int len, pad = 0;

	for (i = 0; i < n; i++)
		if (s[i] != '\r' && s[i] != '\n')
			clean[k++] = s[i];
	clean[k] = '\0';
	out = xmalloc(k + 4);
	len = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)clean,
			      (int)k);
	if (len < 0)
		len = 0;
	if (k >= 1 && clean[k - 1] == '=')
		pad++;
	if (k >= 2 && clean[k - 2] == '=')
		pad++;
	out[len - pad > 0 ? len - pad : 0] = '\0';
	free(clean);
	return out;
}

/* The body of msg, decoded when base64. */
TN_UNUSED static char *body_of(const char *msg)
{
	const char *end = strstr(msg, "\r\n\r\n");
	char *h;
	bool b64;

	if (!end)
		return xstrdup("");
	h = headers_of(msg);
	b64 = strstr(h, "Content-Transfer-Encoding: base64\r\n") != NULL;
	free(h);
	return b64 ? b64_decode(end + 4, strlen(end + 4)) : xstrdup(end + 4);
}

/* The Subject, with RFC 2047 B encoded-words decoded; malloc'd. */
TN_UNUSED static char *subject_of(const char *msg)
{
	char *h = headers_of(msg), *p;
	struct buf out;

	buf_init(&out, 1 << 20);
	p = strstr(h, "\r\nSubject:");
	if (p) {
		const char *q = p + 10, *stop = q;
		int guard;

		/* The field runs until a line that does not start with SP. */
		while ((stop = strstr(stop, "\r\n")) && stop[2] == ' ')
			stop += 2;
		for (guard = 0; q < stop && guard < 1000; guard++) {
			const char *ew = strstr(q, "=?UTF-8?B?"), *e;
			char *d;

			if (!ew || ew >= stop) {
				/* Plain text: unfold (RFC 5322 2.2.3). */
				while (*q == ' ')
					q++;
				for (; q < stop; q++)
					if (*q != '\r' && *q != '\n')
						buf_append(&out, q, 1);
				break;
			}
			e = strstr(ew + 10, "?=");
			if (!e)
				break;
			d = b64_decode(ew + 10, (size_t)(e - ew - 10));
			buf_puts(&out, d);
			free(d);
			q = e + 2;
		}
	}
	free(h);
	return buf_steal(&out);
}

/* Does s hold "{word}" for a lower-case word (a placeholder left)? */
TN_UNUSED static bool has_placeholder(const char *s)
{
	const char *p;

	for (p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
		size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz");

		if (n > 0 && p[1 + n] == '}')
			return true;
	}
	return false;
}

/* Is every line end of msg CRLF? */
TN_UNUSED static bool all_crlf(const char *msg)
{
	const char *p;

	for (p = msg; *p; p++)
		if (*p == '\n' && (p == msg || p[-1] != '\r'))
			return false;
	return true;
}

/* Write text to path. */
TN_UNUSED static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		printf("# cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static char tmpdir[64];

/* Make the scratch directory, set TZ for fixed times, log to stderr. */
TN_UNUSED static void test_setup(const char *name)
{
	setenv("TZ", "JST-9", 1);
	tzset();
	log_setup(name, false, LOG_L_INFO);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s-XXXXXX", name);
	if (!mkdtemp(tmpdir)) {
		printf("# mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
}

/* Remove the scratch directory and the files the tests put in it. */
TN_UNUSED static void test_cleanup(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	int guard;

	for (guard = 0; d && guard < 1000 && (de = readdir(d)); guard++) {
		char path[512];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	if (rmdir(tmpdir) != 0)
		printf("# could not remove %s: %s\n", tmpdir, strerror(errno));
}

#endif
