/*
 * notify - notices on account state transitions: mail to the customer and
 * the abuse desk, and a signed JSON webhook.
 *
 * One transition (throttled, restricted, released, suspended,
 * probation-ended) becomes up to four kinds of notice:
 *   - a mail to the customer's login, when the login is a valid address;
 *   - a mail to the alternate contact from contact_map ("LOGIN ADDRESS"
 *     lines, '#' comments), when there is one;
 *   - a mail to each address in abuse_desk (comma or space separated);
 *   - a POST of the event as JSON to webhook_url, signed with
 *     "X-Mamori-Signature: sha256=<hex HMAC-SHA256(webhook_secret, body)>"
 *     (no signature when the secret is empty) and labelled
 *     "X-Mamori-Event: <kind>" and "X-Mamori-Id: <id>".  The body is
 *     {"id","kind","login","state","reason","actor","strikes","time",
 *     "evidence"}, evidence being the event's JSON (or null); any 2xx
 *     answer is success.
 * Each recipient is its own notice with its own retries, so a relay that
 * refuses one address never makes another receive a duplicate.
 *
 * Mail goes over SMTP with libcurl to notify_smtp_url (empty: mail off):
 * "smtp://host:port" in clear, meant for the local relay (no STARTTLS is
 * tried), or "smtps://" for implicit TLS; "user:pass@" in the URL turns on
 * SMTP AUTH.  The URL is never logged.
 * Messages are RFC 5322 with CRLF line ends, UTF-8, base64 bodies when not
 * ASCII, and RFC 2047 encoded-word Subjects; templates are per kind,
 * audience ("customer", "abuse") and language ("ja", "en"; "ja+en" puts
 * the Japanese text first), built in and overridable from template_dir
 * (<kind>.<audience>.<lang>.txt: "Subject: ..." line, blank line, body;
 * an empty file switches that notice off, a file for another kind such as
 * probation-ended switches one on).
 *
 * Threading: notify_event() only copies the event into a bounded in-memory
 * queue (NOTIFY_QUEUE_MAX notices) and signals one worker thread, so a slow
 * or dead relay never delays a mail decision.  The worker does all file
 * reading (templates, contact_map) and network I/O.  A failed attempt is
 * retried after notify_retry_interval seconds, doubling, at most
 * notify_max_tries tries; each attempt is bounded by notify_timeout.  An
 * SMTP 5xx or HTTP 4xx answer (but 408/429) is permanent: no retry.
 * Attempts run one at a time, earliest due first: a relay that swallows
 * connections delays the queue by notify_timeout per notice, never a
 * decision.
 *
 * Config: notify copies the notice settings it needs (strings included)
 * when given a config, so the caller's struct config is only read during
 * notify_new() and notify_reconfigure().  An attempt uses the settings
 * current when it starts; a rendered message is kept for its retries, so
 * every retry sends the same bytes with the same Message-ID.
 *
 * Persistence: notify itself keeps nothing on disk.  A done hook
 * (notify_set_done_hook) hears when each notice of an event has ended and
 * when the whole event has, so a caller can keep the event in a store
 * until then and submit it again after a restart with done_keys naming
 * the notices already delivered (core/outbox.c does).  Notices still
 * queued when notify_free() runs are logged (event=notice_discarded).
 */
#ifndef MAMORI_NOTIFY_H
#define MAMORI_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/config.h"

struct event_base;

/* Notices held at once (queued and in flight); more are dropped and logged. */
#define NOTIFY_QUEUE_MAX 10000
/* Longest address accepted as an envelope recipient (RFC 5321 4.5.3.1.3). */
#define NOTIFY_ADDR_MAX 254
/* Largest rendered message and largest template file. */
#define NOTIFY_MSG_MAX (256 * 1024)
#define NOTIFY_TEMPLATE_MAX (64 * 1024)

struct notify_event {
	const char *kind;	/* "throttled", "restricted", "released",
				 * "suspended", "probation-ended" */
	const char *login;	/* SASL login */
	const char *state;	/* new state name */
	const char *reason;	/* one-line human explanation */
	const char *evidence_json; /* JSON object text, or NULL */
	const char *actor;	/* "mamorid" or "admin:<name>" */
	long strikes;
	long long time;		/* unix time of the transition */
	const char *id;		/* unique event id: idempotency and logs */
	/* Notice keys (see notify_done_fn) already ended, not to send again:
	 * for an event submitted again after a restart.  May be NULL. */
	const char *const *done_keys;
	size_t ndone;
};

/* How a notice ended (notify_done_fn). */
enum notify_outcome {
	NOTIFY_OUT_NONE,	/* the event turned into no notices (key NULL) */
	NOTIFY_OUT_SENT,	/* delivered */
	NOTIFY_OUT_SKIPPED,	/* nothing to send: no template, feature off */
	NOTIFY_OUT_GAVE_UP,	/* tries used up or a permanent failure */
	NOTIFY_OUT_REFUSED,	/* dropped: the queue was full */
};

/*
 * A notice of event_id (about account login) has ended as outcome: key
 * names it, "mail:AUDIENCE:ADDRESS" or "webhook"; NULL when the event
 * turned into no notices at all (outcome NOTIFY_OUT_NONE).
 * event_done is true when it was the event's last.  Runs on the loop
 * thread of the event_base given to notify_set_done_hook() (the worker
 * hands each report over with util/loopq), in the order the worker made
 * them; reports still queued when notify_free() runs are delivered there,
 * on its caller's thread.  Not called for notices cut short by
 * notify_free().
 */
typedef void notify_done_fn(void *arg, const char *event_id,
			    const char *login, const char *key,
			    enum notify_outcome outcome, bool event_done);

/* "none", "sent", "skipped", "gave_up" or "refused". */
const char *notify_outcome_name(enum notify_outcome o);

struct notify;

/* Counters for /v1/stats.  All cumulative but pending. */
struct notify_stats {
	unsigned long queued;		/* notices (one per recipient) queued */
	unsigned long sent;		/* notices delivered */
	unsigned long failed_attempts;	/* attempts that failed */
	unsigned long gave_up;		/* notices abandoned */
	unsigned long dropped;		/* events/notices refused: queue full */
	unsigned long pending;		/* held now, in flight included */
};

/*
 * Start the worker thread with the notice settings of cfg.  cfg is read
 * during the call only: notify keeps copies of what it needs.  Also runs
 * curl_global_init() once per process.  Never returns NULL (aborts when
 * the thread cannot start).
 */
struct notify *notify_new(const struct config *cfg);

/*
 * Swap in the notice settings of cfg (after a reload).  cfg is read during
 * the call only.  Notices already rendered keep their text; everything else
 * (relay, timeouts, webhook secret) applies from the next attempt on, and
 * notices waiting for a retry are tried again at once (a reload is often
 * the fix for a failing relay).
 */
void notify_reconfigure(struct notify *n, const struct config *cfg);

/*
 * Queue the notices for one transition and return at once: no file or
 * network I/O happens on the caller's thread.  Every string of ev is
 * copied; NULL strings are treated as empty.  An event whose id equals one
 * of the last few hundred ids is ignored (idempotent resubmission).  When
 * the queue is full the event is dropped with an error log
 * (event=notice_dropped) and counted.
 */
void notify_event(struct notify *n, const struct notify_event *ev);

/*
 * Stop the worker and free everything.  An attempt in flight is aborted
 * (it takes at most notify_timeout in any case).  Done reports the loop has
 * not run yet are given to the hook here, so call it on the hook's loop
 * thread (or once that loop has stopped), while the hook's argument is
 * alive.  NULL is a no-op.
 */
void notify_free(struct notify *n);

/* Copy the counters. */
void notify_get_stats(struct notify *n, struct notify_stats *out);

/*
 * ev as the JSON object of the webhook body: {"id","kind","login","state",
 * "reason","actor","strikes","time","evidence"}, evidence parsed (or a
 * string if it is not JSON, or null); bytes that are not UTF-8 become '?'.
 * The caller owns the reference.
 */
json_t *notify_event_json(const struct notify_event *ev);

/*
 * Set the done hook, once, before the first notify_event() (fn NULL:
 * none).  fn runs on base's loop thread; base must be thread-aware
 * (evthread_use_pthreads() before it was made) and outlive n.  Call on that
 * loop thread, or before the loop runs.
 */
void notify_set_done_hook(struct notify *n, struct event_base *base,
			  notify_done_fn *fn, void *arg);

/*
 * Render the notice for ev to audience ("customer" or "abuse") in the
 * language(s) of cfg->notify_language, from template_dir or the built-in
 * templates.  to is the header To address (NULL: an empty group).
 * Returns a malloc'd RFC 5322 message (CRLF line ends, headers From, To,
 * Subject, Date, Message-ID, MIME-Version, Content-Type, Content-Transfer-
 * Encoding, Auto-Submitted), to be freed by the caller.  Returns NULL with
 * err empty when no template exists for kind/audience, and NULL with a
 * message in err on error (invalid notify_from or to, unreadable template,
 * message too large).  Every header value has CR, LF and other controls
 * removed.
 */
char *notify_render(const struct config *cfg, const struct notify_event *ev,
		    const char *audience, const char *to, char *err,
		    size_t errsz);

/*
 * Is s usable as an envelope address: 3..NOTIFY_ADDR_MAX bytes, exactly one
 * '@' with text on both sides, a dot-free-at-the-ends domain, and no
 * spaces, controls, quotes, brackets, commas or other specials?
 */
bool notify_addr_is_valid(const char *s);

/*
 * Look login up in the contact_map file at path (case-insensitive match of
 * the first field).  On a match copies the address into out and returns 1;
 * returns 0 when absent or when the mapped address is invalid, and
 * -errno when the file cannot be read.  Lines longer than 1 KiB are
 * skipped.
 */
int notify_contact_lookup(const char *path, const char *login, char *out,
			  size_t outsz);

#endif
