/*
 * inbound - the core's entry point for mail passing through the milter,
 * and for `mamori scan`.
 *
 * A front-end (front/milter.c) translates the milter commands into these
 * calls and the answers back into milter actions; it decides nothing.  Per
 * message: core_msg_new() with the envelope (the core decides inbound or
 * outbound: SMTP AUTH, a client in internal_networks, or no client address
 * means outbound), core_msg_header() per field, core_msg_body() per chunk,
 * then at the end core_inbound() (the mail-authentication verdict: SPF,
 * DKIM, DMARC and the policy action, core/mailauth.h; and the content
 * verdict: the message parsed once, scored with named reasons and
 * scam-type labels, core/content.h; the stricter action wins) or, for outbound
 * mail, core_msg_sign() (the DKIM-Signature fields to add).  The end calls
 * also record what the milter records: a DMARC aggregate count per inbound
 * message with an answer (namespace "dmarc_agg", core/dmarc_agg.c reads
 * it) and the hashed correspondence log of outbound mail (namespace
 * "corr", docs/design/milter.md).
 *
 * Threads (docs/design/inbound-flow.md):
 *   - core_mail_new/attach/reconfigure/close/free: the event-loop thread.
 *   - core_msg_*, core_inbound: any thread, one thread per message at a
 *     time (the milter: the loop, then a worker at the end).  core_inbound
 *     blocks its thread on DNS: the core's one libunbound context runs on
 *     a private DNS thread (dns/dns_blocking.c) shared by every worker.
 *   - Store work (the counts, the correspondence records) never runs on a
 *     worker: the end calls post it to the event-loop thread (util/loopq),
 *     one post per message; counts are summed there and written every
 *     60 s and at core_mail_free.
 * Settings (authserv_id, actions, lists, DKIM keys) are a reference-
 * counted snapshot: a reload swaps it, messages in progress keep theirs.
 *
 * core_scan_*: the same evaluation for one stored message, with a local
 * blocking resolver and no store, for `mamori scan`; single-threaded.
 */
#ifndef MAMORI_CORE_INBOUND_H
#define MAMORI_CORE_INBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/content.h"
#include "core/core.h"
#include "core/mailauth.h"

struct config;
struct event_base;
struct store;
struct core;
struct core_mail;
struct core_msg;

/*
 * The context: settings snapshot of cfg (DKIM keys from dkim_key_dir, the
 * Public Suffix List), the DNS thread (cfg->dns_upstream, dns_timeout_ms)
 * and the queue to base's loop.  Call before dropping privileges.  NULL
 * with err on failure.  Loop thread.
 */
struct core_mail *core_mail_new(struct event_base *base,
				const struct config *cfg, char *err,
				size_t errsz);

/*
 * Store records in st from now on (st must outlive cm): reads, or creates,
 * the per-install salt of the correspondence log (namespace "corr").
 * Before the first message; loop thread.
 */
void core_mail_attach(struct core_mail *cm, struct store *st);

/*
 * Weigh authenticated outbound messages' content in c (core/outcontent.h):
 * messages that start after the call are buffered and their facts handed
 * to core_outbound_content() at the end (core_msg_outbound_check).  c must
 * outlive cm.  Once; loop thread.
 */
void core_mail_set_outbound(struct core_mail *cm, struct core *c);

/* Messages that start after the call use cfg (kept alive by the caller
 * until core_mail_free).  Loop thread. */
void core_mail_reconfigure(struct core_mail *cm, const struct config *cfg);

/* Stop the DNS thread: questions waiting and later ones are DNS
 * timeouts.  Call before stopping the front-end.  Loop thread. */
void core_mail_close(struct core_mail *cm);

/*
 * Wait (at most 10 s) for messages in progress, run the queued store work
 * and write the pending counts, free cm.  If messages are still in
 * progress then, cm is left allocated for them and records nothing more.
 * NULL is a no-op.  Loop thread, before the store is closed.
 */
void core_mail_free(struct core_mail *cm);

/*
 * A new message: client_ip (text; "" or NULL: a local submission), HELO
 * name, MAIL FROM without angle brackets ("" for the null sender), the
 * SMTP AUTH login (NULL or "": none).  Copied.
 */
struct core_msg *core_msg_new(struct core_mail *cm, const char *client_ip,
			      const char *helo, const char *mailfrom,
			      const char *sasl_login);
/* Free m (a message aborted or ended); NULL is a no-op. */
void core_msg_free(struct core_msg *m);

/* Did core_msg_new decide the message is outbound? */
bool core_msg_is_outbound(const struct core_msg *m);

/*
 * One header field in message order: its name and raw value (after the
 * colon, leading space and folding included; bare LF is read as CRLF).
 */
void core_msg_header(struct core_msg *m, const char *name,
		     const char *value, size_t vlen);

/* A body chunk, split anywhere; CRLF or bare LF line ends. */
void core_msg_body(struct core_msg *m, const void *p, size_t n);

/* What the milter does with an inbound message, mild to strict. */
enum core_action {
	CORE_ACCEPT = 0,
	CORE_TAG,		/* X-Mamori-Verdict (+ Subject prefix) */
	CORE_HOLD,		/* smfi_quarantine: the hold queue */
	CORE_TEMPFAIL,		/* 451 4.7.0 */
	CORE_REJECT,		/* 550 5.7.1 */
};
#define CORE_NACTIONS 5		/* the values of enum core_action */

/* The whole inbound verdict: the stricter of DMARC's and the content's. */
struct core_verdict {
	const struct mailauth_verdict *auth;	/* SPF, DKIM, DMARC */
	const struct content_verdict *content;	/* score, labels, reasons */
	enum core_action action;
	const char *rcode, *xcode, *reply;	/* TEMPFAIL, REJECT; else NULL */
	const char *reason;		/* for HOLD (smfi_quarantine), logs */
	/* Header edits besides auth's (AR, Received-SPF, tag, deletions):
	 * delete the first ndel_verdict incoming X-Mamori-Verdict fields
	 * (forged: only we write it), add X-Mamori-Verdict: verdict_header
	 * when not NULL, replace (or add) the first Subject with subject
	 * when not NULL. */
	size_t ndel_verdict;
	const char *verdict_header;
	const char *subject;
};

/* The header field name of the content verdict. */
#define CORE_VERDICT_FIELD "X-Mamori-Verdict"

/*
 * End of an inbound message: evaluate (blocking on DNS; the content
 * checks on the message kept, at most content_max_size bytes), count the
 * DMARC aggregate row when the From domain got an answer, and return the
 * verdict (owned by m, valid until core_msg_free).  Once per message.
 */
const struct core_verdict *core_inbound(struct core_msg *m);

/* "accept", "tag", "hold", "tempfail", "reject". */
const char *core_action_name(enum core_action a);

/*
 * The content reasons of v for a log line: "name(+p) detail; ..." cut to
 * bufsz (escape it with log_q: details carry attacker text).  "-" if
 * none.  Returns buf.
 */
const char *core_verdict_reasons(const struct core_verdict *v, char *buf,
				 size_t bufsz);

/* What core_msg_sign gives back; owned by the message. */
struct core_signed {
	const char *const *sigs;	/* DKIM-Signature values, CRLF folded */
	size_t nsigs;			/* insert sigs[n-1] .. sigs[0] on top */
	const char *error;		/* signing failed: why; else NULL */
};

/*
 * End of an outbound message: the DKIM signatures for the From domain if
 * the keyring has a key for it (header fields over 256 KiB: unsigned),
 * and the hashed correspondence record.  Once per message.
 */
const struct core_signed *core_msg_sign(struct core_msg *m);

/*
 * After core_msg_sign, for an authenticated outbound message: the decision
 * core's verdict on its content (blocks the worker until the loop answers,
 * at most OUTCONTENT_WAIT_MS).  VERDICT_HOLD: quarantine the message;
 * VERDICT_REJECT / VERDICT_DEFER: refuse it (5xx / 4xx, v->text); DUNNO:
 * nothing to do (also without core_mail_set_outbound or a login).
 */
void core_msg_outbound_check(struct core_msg *m, const char *queue_id,
			     struct verdict *v);

/* ------------------------------------------------------------------ */
/* mamori scan                                                          */

struct core_scan;

/*
 * The evaluation of cfg for stored messages, with a blocking resolver
 * asking dns (IP[@PORT]; NULL: cfg->dns_upstream).  now is the DKIM clock
 * (0: the time).  *warn gets a note to print, or NULL.  NULL with err on
 * failure.
 */
struct core_scan *core_scan_new(const struct config *cfg, const char *dns,
				uint64_t now, const char **warn, char *err,
				size_t errsz);
/* Free s, its resolver and its last verdict; NULL is a no-op. */
void core_scan_free(struct core_scan *s);

/*
 * Evaluate one message file msg[0..len) (mailauth_message() reads it;
 * the content checks parse it whole) with the envelope given (ip NULL:
 * no SPF), as the milter would; no correspondence log, so no sender is
 * known.  *fields gets the number of header fields read.  The verdict is
 * owned by s, valid until the next call or core_scan_free.
 */
const struct core_verdict *core_scan(struct core_scan *s,
					 const char *ip, const char *helo,
					 const char *mailfrom, const char *msg,
					 size_t len, size_t *fields);

/* ------------------------------------------------------------------ */
/* DKIM keys                                                            */

#define CORE_DKIM_E_EXISTS 1	/* the key file exists (force replaces) */

/* Whether mamorid signs with a key (core_dkim_key_state()). */
enum core_dkim_state {
	CORE_DKIM_LOADED,	/* the key is loaded: mail is signed with it */
	CORE_DKIM_NOT_LOADED,	/* not loaded (made since the last reload) */
	CORE_DKIM_NO_SIGNING,	/* no milter: mamorid signs nothing */
};

/* The milter's context, for core_dkim_key_state(); NULL: none (default). */
void core_set_mail(struct core *c, struct core_mail *cm);
/* Is domain's key selector loaded for signing?  Event-loop thread. */
enum core_dkim_state core_dkim_key_state(struct core *c, const char *domain,
					 const char *selector);

/*
 * `mamori dkim keygen`: a new key of type ("rsa", "ed25519") for
 * domain/selector under dir; *path and *txt (the DNS record) malloc'd.
 * 0, CORE_DKIM_E_EXISTS, or -1 with err.
 */
int core_dkim_keygen(const char *dir, const char *domain,
		     const char *selector, const char *type, bool force,
		     char **path, char **txt, char *err, size_t errsz);

#endif
