/*
 * inbound-internal - the two helpers of core/inbound.c, for it alone.
 *
 *   mailsign.c  one outbound message: header fields kept (at most 256 KiB)
 *               until the body starts, then the DKIM signer for the From
 *               domain (mail/dkim_sign.h).  Per message, one thread.
 *   mailrec.c   what the mail path records in the store: DMARC aggregate
 *               counts and the hashed correspondence log.  The record
 *               calls run on any thread and post to the event loop; the
 *               rest runs on the loop thread.
 */
#ifndef MAMORI_CORE_INBOUND_INTERNAL_H
#define MAMORI_CORE_INBOUND_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/inbound.h"

struct corrindex;
struct dkim_keyring;
struct event_base;
struct mailauth_verdict;
struct sentlog;
struct store;

/* ------------------------------------------------------------------ */
/* mailsign.c                                                           */

struct mailsign;

/* A new outbound message; kr (NULL: signing off) must outlive it. */
struct mailsign *mailsign_new(const struct dkim_keyring *kr);
/* The milter's counters for /metrics (all zero for cm NULL): inbound
 * verdicts by enum core_action, outbound messages signed or not, and
 * signing errors.  Any thread. */
void core_mail_counts(struct core_mail *cm, uint64_t inbound[CORE_NACTIONS],
		      uint64_t *signed_, uint64_t *unsigned_,
		      uint64_t *sign_errors);
/* The inbound verdicts for the history (core/history.h), cumulative:
 * n[0..CORE_NACTIONS) by enum core_action, then one per enum
 * content_label attached, then DMARC pass, fail and anything else ("none":
 * no policy, no single From domain, an error).  All zero for cm NULL.
 * Any thread. */
#define CORE_MAIL_NVERDICT_COUNTS (CORE_NACTIONS + 6 + 3)
void core_mail_verdict_counts(struct core_mail *cm,
			      uint64_t n[CORE_MAIL_NVERDICT_COUNTS]);
/* core_dkim_key_state() of the milter's current keyring (inbound.c). */
enum core_dkim_state core_mail_key_state(struct core_mail *cm,
					 const char *domain,
					 const char *selector);
/* Free s and its signatures; NULL is a no-op. */
void mailsign_free(struct mailsign *s);
/* One header field (raw value; bare LF read as CRLF). */
void mailsign_header(struct mailsign *s, const char *name,
		     const char *value, size_t vlen);
/* A body chunk. */
void mailsign_body(struct mailsign *s, const void *p, size_t n);
/*
 * The end: *sigs and *n the DKIM-Signature values (none without a key
 * for the From domain), *error why signing failed or NULL.  Owned by s.
 */
void mailsign_end(struct mailsign *s, const char *const **sigs, size_t *n,
		  const char **error);
/*
 * The i-th kept header field: its name, *value and *vlen (bare LF made
 * CRLF); NULL past the last.
 */
const char *mailsign_field(const struct mailsign *s, size_t i,
			   const char **value, size_t *vlen);

/* ------------------------------------------------------------------ */
/* mailrec.c                                                            */

struct mailrec;

/* Records posted to base's loop; nothing is written until attached.
 * Outbound messages also go to the sent log sl (NULL: none), which must
 * outlive r. */
struct mailrec *mailrec_new(struct event_base *base, struct sentlog *sl);
/* Write to st; reads or creates the salt.  Loop thread. */
void mailrec_attach(struct mailrec *r, struct store *st);
/*
 * Count the DMARC aggregate row of an inbound verdict from client ip at
 * time now.  Any thread.
 */
void mailrec_dmarc(struct mailrec *r, int64_t now, const char *ip,
		   const struct mailauth_verdict *v);
/*
 * Record the hashed correspondence of an outbound message (its From, To,
 * Cc and Message-ID fields) for ttl seconds, and its sent-log record
 * (sent by account, NULL or "": none).  Any thread.
 */
void mailrec_corr(struct mailrec *r, int64_t now, int64_t ttl,
		  const char *account, const struct mailsign *s);
/*
 * Known-correspondent keys of one outbound message (core/corrindex.h):
 * the loop adds keys[0..n) to the index set with mailrec_set_index and
 * stores the new ones past npairs as k: rows for ttl seconds.  Any thread.
 */
void mailrec_learn(struct mailrec *r, int64_t now, int64_t ttl,
		   const uint64_t *keys, size_t n, size_t npairs);
/*
 * The index the salt, the stored rows (at mailrec_attach) and learned
 * keys go to; ci must outlive r.  Before mailrec_attach; loop thread.
 */
void mailrec_set_index(struct mailrec *r, struct corrindex *ci);
/* No more records: run what is queued and write the counts.  Loop. */
void mailrec_stop(struct mailrec *r);
/* Free r after mailrec_stop; NULL is a no-op. */
void mailrec_free(struct mailrec *r);

#endif
