/*
 * send - one attempt to deliver a notice, for notify.c's worker: a mail
 * over SMTP or a JSON POST to the webhook, with libcurl.  No queue, no
 * retries, no rendering here: notify.c decides what to send and when, and
 * what an outcome means for the notice.
 *
 * Each attempt uses a fresh curl easy handle: CURLOPT_TIMEOUT and the
 * connect timeout = notify_timeout, protocols limited to smtp/smtps (mail)
 * or http/https (webhook), no redirects, no signals; a progress callback
 * aborts the attempt as soon as *stop is set (notify_free()).
 * curl_global_init() must have run (notify_new()).  Thread-safe: an
 * attempt shares nothing but *stop.
 */
#ifndef MAMORI_NOTIFY_SEND_H
#define MAMORI_NOTIFY_SEND_H

#include <stdatomic.h>
#include <stddef.h>

struct config;

/* The outcome of one attempt. */
enum notify_attempt {
	NOTIFY_ATTEMPT_SENT,
	NOTIFY_ATTEMPT_RETRY,		/* temporary failure */
	NOTIFY_ATTEMPT_GIVE_UP,		/* permanent failure */
	NOTIFY_ATTEMPT_SKIP,		/* nothing to send (no template, off) */
	NOTIFY_ATTEMPT_ABORTED,		/* cut short by notify_free(): not a try */
};

/*
 * Send the message msg (a whole RFC 5322 message, CRLF lines) from
 * c->notify_from to to through c->notify_smtp_url (not empty).  GIVE_UP for
 * an invalid envelope address or a 5xx reply (RFC 5321 4.2.1), RETRY for
 * any other failure; err says why.
 */
enum notify_attempt notify_send_mail(const struct config *c, const char *to,
				     const char *msg, atomic_bool *stop,
				     char *err, size_t errsz);

/*
 * POST the JSON body to c->webhook_url (not empty) with the headers
 * X-Mamori-Event: kind and X-Mamori-Id: id (cut to printable ASCII) and,
 * with c->webhook_secret, X-Mamori-Signature: sha256=HMAC-SHA256 of body.
 * SENT on 2xx; GIVE_UP on a 4xx but 408 and 429; else RETRY.
 */
enum notify_attempt notify_send_webhook(const struct config *c,
					const char *kind, const char *id,
					const char *body, atomic_bool *stop,
					char *err, size_t errsz);

#endif
