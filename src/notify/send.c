/*
 * send - one attempt to deliver a notice: SMTP or the signed webhook, with
 * libcurl (see send.h), and the event's JSON for the webhook
 * (notify_event_json(), notify.h).
 *
 * Limits: request header values are cut to 127 bytes of printable ASCII
 * (they carry the event's kind and id, which come from the core); the
 * message and body are the caller's, bounded there (NOTIFY_MSG_MAX).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "mamori-build.h"
#include "notify/notify.h"
#include "notify/send.h"
#include "util/config.h"
#include "util/xalloc.h"

/* Feeds a message to curl's SMTP upload. */
struct upload {
	const char *p;
	size_t left;
};

/* CURLOPT_READFUNCTION: copy the next piece of the message. */
static size_t upload_read(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nmemb;

	if (n > u->left)
		n = u->left;
	memcpy(dst, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/* CURLOPT_WRITEFUNCTION: ignore the response body. */
static size_t discard_write(char *p, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

/* CURLOPT_XFERINFOFUNCTION: abort the attempt when the worker must stop. */
static int xfer_abort(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		      curl_off_t un)
{
	return atomic_load((atomic_bool *)arg) ? 1 : 0;
}

/* Options shared by mail and webhook attempts. */
static void curl_common(CURL *h, atomic_bool *stop, const struct config *c,
			char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->notify_timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->notify_timeout);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xfer_abort);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, stop);
}

/* Copy curl's error text (or the result's name) into err. */
static void curl_error(char *err, size_t errsz, const char *errbuf,
		       CURLcode rc)
{
	snprintf(err, errsz, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* A JSON string of s; bytes of invalid UTF-8 become '?' (jansson takes
 * only valid UTF-8). */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *t;
	size_t i;

	if (j)
		return j;
	t = xstrdup(s);
	for (i = 0; t[i]; i++)
		if ((unsigned char)t[i] >= 0x80)
			t[i] = '?';
	j = json_string(t);
	free(t);
	return j;
}

json_t *notify_event_json(const struct notify_event *e)
{
	json_t *o = json_object(), *evid = NULL;

	if (e->evidence_json && *e->evidence_json) {
		evid = json_loads(e->evidence_json, JSON_DECODE_ANY, NULL);
		if (!evid)
			evid = jstr(e->evidence_json);
	}
	json_object_set_new(o, "id", jstr(e->id ? e->id : ""));
	json_object_set_new(o, "kind", jstr(e->kind ? e->kind : ""));
	json_object_set_new(o, "login", jstr(e->login ? e->login : ""));
	json_object_set_new(o, "state", jstr(e->state ? e->state : ""));
	json_object_set_new(o, "reason", jstr(e->reason ? e->reason : ""));
	json_object_set_new(o, "actor", jstr(e->actor ? e->actor : ""));
	json_object_set_new(o, "strikes", json_integer(e->strikes));
	json_object_set_new(o, "time", json_integer(e->time));
	json_object_set_new(o, "evidence", evid ? evid : json_null());
	return o;
}

/* "Name: value" for a request header, value cut to safe ASCII. */
static char *header_line(const char *name, const char *value)
{
	char clean[128];
	size_t i, o = 0;

	for (i = 0; value[i] && o < sizeof(clean) - 1; i++) {
		unsigned char ch = (unsigned char)value[i];

		if (ch > 0x20 && ch < 0x7f)
			clean[o++] = (char)ch;
	}
	clean[o] = '\0';
	return xasprintf("%s: %s", name, clean);
}

/* Append header line h (taking it) to list. */
static struct curl_slist *add_header(struct curl_slist *list, char *h)
{
	list = curl_slist_append(list, h);
	free(h);
	return list;
}

/* "sha256=<hex>" of HMAC-SHA256(secret, body) into out (>= 72 bytes). */
static int webhook_sign(const char *secret, const char *body, char *out,
			size_t outsz)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0, i, o;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret,
		       strlen(secret), (const unsigned char *)body,
		       strlen(body), mac, sizeof(mac), &maclen))
		return -1;
	o = (size_t)snprintf(out, outsz, "sha256=");
	for (i = 0; i < maclen && o + 3 <= outsz; i++)
		o += (size_t)snprintf(out + o, outsz - o, "%02x", mac[i]);
	explicit_bzero(mac, sizeof(mac));
	return 0;
}

enum notify_attempt notify_send_mail(const struct config *c, const char *to,
				     const char *msg, atomic_bool *stop,
				     char *err, size_t errsz)
{
	char errbuf[CURL_ERROR_SIZE] = "", *rcpt;
	struct curl_slist *rcpts = NULL;
	struct upload up;
	long code = 0;
	CURLcode rc;
	CURL *h;

	if (!notify_addr_is_valid(c->notify_from) ||
	    !notify_addr_is_valid(to)) {
		snprintf(err, errsz, "invalid envelope address");
		return NOTIFY_ATTEMPT_GIVE_UP;
	}
	if (!(h = curl_easy_init())) {
		snprintf(err, errsz, "curl_easy_init failed");
		return NOTIFY_ATTEMPT_RETRY;
	}
	rcpt = xasprintf("<%s>", to);
	rcpts = curl_slist_append(rcpts, rcpt);
	free(rcpt);
	up.p = msg;
	up.left = strlen(msg);
	curl_common(h, stop, c, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, c->notify_smtp_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, c->notify_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.left);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	curl_slist_free_all(rcpts);
	if (rc == CURLE_OK)
		return NOTIFY_ATTEMPT_SENT;
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return NOTIFY_ATTEMPT_ABORTED;
	curl_error(err, errsz, errbuf, rc);
	/* A 5xx reply is the relay's final word (RFC 5321 4.2.1). */
	return code >= 500 && code < 600 ? NOTIFY_ATTEMPT_GIVE_UP :
	       NOTIFY_ATTEMPT_RETRY;
}

enum notify_attempt notify_send_webhook(const struct config *c,
					const char *kind, const char *id,
					const char *body, atomic_bool *stop,
					char *err, size_t errsz)
{
	char errbuf[CURL_ERROR_SIZE] = "", sig[80];
	struct curl_slist *hdrs = NULL;
	long code = 0;
	CURLcode rc;
	CURL *h;

	if (!(h = curl_easy_init())) {
		snprintf(err, errsz, "curl_easy_init failed");
		return NOTIFY_ATTEMPT_RETRY;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for a small body. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	hdrs = add_header(hdrs, header_line("X-Mamori-Event", kind));
	hdrs = add_header(hdrs, header_line("X-Mamori-Id", id));
	if (c->webhook_secret[0]) {
		if (webhook_sign(c->webhook_secret, body, sig, sizeof(sig))) {
			curl_slist_free_all(hdrs);
			curl_easy_cleanup(h);
			snprintf(err, errsz, "HMAC failed");
			return NOTIFY_ATTEMPT_RETRY;
		}
		hdrs = add_header(hdrs, xasprintf("X-Mamori-Signature: %s",
						  sig));
		explicit_bzero(sig, sizeof(sig));
	}
	curl_common(h, stop, c, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, c->webhook_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mamori/" MAMORI_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_write);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return NOTIFY_ATTEMPT_ABORTED;
	if (rc != CURLE_OK) {
		curl_error(err, errsz, errbuf, rc);
		return NOTIFY_ATTEMPT_RETRY;
	}
	if (code >= 200 && code < 300)
		return NOTIFY_ATTEMPT_SENT;
	snprintf(err, errsz, "HTTP status %ld", code);
	/* 4xx means the request itself is wrong, but for timeouts and
	 * rate limits (RFC 9110 15.5.9, RFC 6585 4). */
	if (code >= 400 && code < 500 && code != 408 && code != 429)
		return NOTIFY_ATTEMPT_GIVE_UP;
	return NOTIFY_ATTEMPT_RETRY;
}

