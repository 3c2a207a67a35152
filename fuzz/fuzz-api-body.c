/*
 * fuzz-api-body - libFuzzer target for the admin API's request checks
 * (src/front/http_api_body.c): the JSON bodies of the POST routes and the
 * query strings of the GET routes.
 *
 * Input layout: byte 0 picks what the rest is: (b0 % 7) < 6 a body for
 * that enum api_body_kind, 6 a query string (NUL bytes end it, as in a
 * URL) read for the parameters day, from, to and domain.  An empty input
 * is the empty body of API_BODY_NONE.  In the seed corpus (corpus/
 * api-body/) the first byte is an ASCII digit: '1' none, '2' restrict,
 * '3' credential-changed, '4' release, '5' ips/block, '6' ips/unblock,
 * '7' a query string.
 *
 * Invariants: a body that passes is an object whose members obey the
 * route's rules (texts within their limits, required ones not empty, held
 * one of its three words, force with a reason on a release, seconds not
 * negative); one that fails has a message and leaves nothing to free.
 * Query values that pass are clean (UTF-8, no control byte) and
 * non-empty; a failure leaves no value.  Both are deterministic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front/http_api_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the fuzzer turns this into a reproducer. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz-api-body: invariant broken: %s\n", what);
	abort();
}

/* A text member that passed: present, at most max bytes, clean enough. */
static void check_text(const char *s, size_t max, bool required)
{
	if (!s)
		fail("a text member is NULL");
	if (strlen(s) > max)
		fail("a text member is over its limit");
	if (required && !*s)
		fail("a required text member is empty");
}

/* Check one body parse of kind. */
static void body(enum api_body_kind kind, const char *p, size_t n)
{
	struct api_body b, again;
	char err[256] = "", err2[256] = "";
	int r = api_body_parse(kind, p, n, &b, err, sizeof(err));
	int r2 = api_body_parse(kind, p, n, &again, err2, sizeof(err2));

	if (r != r2)
		fail("body parse is not deterministic");
	if (r != 0) {
		if (!err[0])
			fail("a refused body has no message");
		if (b.doc)
			fail("a refused body holds a document");
		if (strcmp(err, err2) != 0)
			fail("the message is not deterministic");
		return;
	}
	if (!b.doc)
		fail("an accepted body holds no document");
	check_text(b.reason, API_BODY_TEXT, kind == API_BODY_RESTRICT ||
		   kind == API_BODY_IP_BLOCK || kind == API_BODY_ALLOW);
	check_text(b.source, API_BODY_TEXT, false);
	check_text(b.held, API_BODY_TEXT, true);
	if (strcmp(b.held, "keep") && strcmp(b.held, "release") &&
	    strcmp(b.held, "delete"))
		fail("held is not keep, release or delete");
	if (kind == API_BODY_RELEASE && b.force && !*b.reason)
		fail("a forced release without a reason passed");
	if (kind == API_BODY_IP_BLOCK || kind == API_BODY_IP_UNBLOCK ||
	    kind == API_BODY_ALLOW)
		check_text(b.ip, API_BODY_IP, true);
	if (b.seconds < 0)
		fail("negative seconds passed");
	if (b.force != again.force || b.seconds != again.seconds ||
	    strcmp(b.reason, again.reason) != 0)
		fail("body members are not deterministic");
	api_body_free(&b);
	api_body_free(&again);
}

/* Check one query parse. */
static void query(const char *q)
{
	static const char *const names[] = {"day", "from", "to", "domain"};
	char *v[4], err[256] = "";
	int i;

	if (api_query_parse(q, names, 4, v, err, sizeof(err)) != 0) {
		if (!err[0])
			fail("a refused query has no message");
		for (i = 0; i < 4; i++)
			if (v[i])
				fail("a refused query left a value");
		return;
	}
	for (i = 0; i < 4; i++) {
		if (!v[i])
			continue;
		if (!*v[i])
			fail("an empty value passed");
		if (!api_text_is_clean(v[i], strlen(v[i])))
			fail("an unclean value passed");
		free(v[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned pick;
	char *copy;

	if (size == 0) {
		body(API_BODY_NONE, "", 0);
		return 0;
	}
	/* 0-5 a body kind, 6 a query; a first byte 0xff: ALLOW (kept out
	 * of the modulo so that the older seeds keep their kinds). */
	pick = data[0] == 0xff ? 7 : data[0] % 7;
	/* An exact-size copy: ASan sees a read past the end. */
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (pick < 6) {
		body((enum api_body_kind)pick, copy, size - 1);
	} else if (pick == 7) {
		body(API_BODY_ALLOW, copy, size - 1);
	} else {
		copy[size - 1] = '\0';
		query(copy);
	}
	free(copy);
	return 0;
}
