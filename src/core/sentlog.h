/*
 * sentlog - the log of the Message-IDs our users sent, and to whom: the
 * memory behind the thread-hijacking and backscatter checks
 * (core/replycheck.h, docs/design/content.md) and behind "a reply to a
 * thread this account never took part in" for the outbound score.
 *
 * A record per outbound message that has a Message-ID (RFC 5322 3.6.4),
 * in store namespace "sent", every value salted-hashed like the
 * correspondence log (docs/design/milter.md: H(x) = SHA-256 of
 * salt ":" x, the install's salt; addresses and domains lower-cased; the
 * Message-ID as mime_msgid() reads it, so it matches the In-Reply-To and
 * References of a reply):
 *
 *   key   H(message-id), first 32 hex digits
 *   value {"t":UNIX,"acct":"H(login)","from":"H(from)",
 *          "rcpt":["H(to/cc)",...],"dom":["H(domain)",...],"cut":true}
 *   kept  sent_log_ttl; also "since" -> UNIX, when the log began.
 *
 * Hashes are kept to 128 bits in the store, 64 bits in memory (a false
 * match needs a 1 in 2^64 collision between two given values).
 *
 * Memory index: lookups run on the milter's worker threads, which must not
 * touch the store, so every unexpired record also lives in a bounded
 * index (a ring in the order records were written and an open-addressing
 * table on the Message-ID hash), loaded at sentlog_attach, updated on the
 * loop thread as records are written, read by any thread under a
 * read-write lock.  At most sent_log_max records: when full, the oldest is
 * dropped from memory and deleted from the store, so the store holds at
 * most that many too.  Per record:
 *   ring slot 56 bytes + table 2 to 4 slots of 4 bytes (a power of two
 *   at least twice sent_log_max) + 8 bytes per kept hash
 *   (SENTLOG_RCPT_MAX recipients + SENTLOG_DOM_MAX domains: at most 256)
 *   + ~16 bytes of malloc overhead:
 *   typical (1-2 recipients, one domain) ~100 bytes, at most 344 bytes;
 * so the default 200,000 records cost ~20 MB, at most ~69 MB, and
 * sent_log_max = N costs at most N x 344 bytes.  A message with more
 * recipients or domains than kept is marked "cut": a reply from one not
 * kept cannot be judged (neither hijack nor known correspondent).
 *
 * Threads: sentlog_new/attach/set_salt/rec_write/free on the loop thread
 * (the store's thread); sentlog_rec_new, sentlog_match and sentlog_since
 * on any thread.  Lifetime: sl outlives every message (inbound.c frees it
 * after the last one).
 */
#ifndef MAMORI_CORE_SENTLOG_H
#define MAMORI_CORE_SENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct sentlog;
struct sentlog_rec;

#define SENTLOG_NS "sent"
/* Recipient addresses kept per message: replies come from one of the few
 * a person writes to; a bigger message is kept cut. */
#define SENTLOG_RCPT_MAX 24
/* Distinct recipient domains kept per message. */
#define SENTLOG_DOM_MAX 8
/* Message-IDs one question may name (In-Reply-To and References). */
#define SENTLOG_QUERY_MAX 72
/* Other addresses one question may name (a reply's To and Cc). */
#define SENTLOG_CC_MAX 32

/* H(salt ":" item[0..n)) as 64 hex digits and a NUL: the install's
 * salted hash, shared with the correspondence log (mailrec.c). */
void sentlog_hash(const char *salt, const char *item, size_t n,
		  char out[65]);

/*
 * A log of at most max records (0: off, nothing kept or matched), each
 * kept ttl seconds.  Until sentlog_set_salt the salt is all zeros.  Loop.
 */
struct sentlog *sentlog_new(long max, int64_t ttl);
/* Free sl and its index; NULL is a no-op.  Loop thread, at the end. */
void sentlog_free(struct sentlog *sl);

/* The install's salt (64 hex digits) arrived: hash with it from now on.
 * Loop thread. */
void sentlog_set_salt(struct sentlog *sl, const char *salt);

/*
 * Write to st from now on and load the index from it (the newest max
 * unexpired records; records past max are deleted), noting when the log
 * began (key "since") if it is new.  Loop thread.
 */
void sentlog_attach(struct sentlog *sl, struct store *st, int64_t now);

/*
 * The record of one outbound message sent by account (SASL login; NULL
 * or "": none, a local submission) at now: msgid the raw Message-ID value
 * (NULL: none, nothing is recorded), from and rcpt[0..n) its From and
 * To/Cc addresses.  Hashed here, so the plain values may go after the
 * call.  NULL when there is nothing to record.  Any thread.
 */
struct sentlog_rec *sentlog_rec_new(struct sentlog *sl, int64_t now,
				    const char *account, const char *msgid,
				    const char *from, char *const *rcpt,
				    size_t n);
/* Write rec (store and index) and free it.  Loop thread. */
void sentlog_rec_write(struct sentlog *sl, struct sentlog_rec *rec);
/* Free rec unwritten; NULL is a no-op. */
void sentlog_rec_free(struct sentlog_rec *rec);

/* A question: which of these Message-IDs did we send, and was addr (or
 * account, or one of cc) part of them?  Use designated initializers:
 * fields may be added. */
struct sentlog_query {
	const char *const *ids;	/* msg-ids without brackets */
	size_t n_ids;		/* at most SENTLOG_QUERY_MAX are read */
	const char *addr;	/* an address to look for, or NULL */
	const char *account;	/* a login to look for, or NULL */
	int64_t now;
	const char *const *cc;	/* more addresses (To, Cc), or NULL */
	size_t n_cc;		/* at most SENTLOG_CC_MAX are read */
};

/* The answer, over every named Message-ID found. */
struct sentlog_match {
	size_t matched;		/* how many of the ids we sent */
	size_t first;		/* index in ids of the first found */
	int64_t newest;		/* when the newest of them was sent */
	bool addr_sent;		/* addr was their From (our user) */
	bool addr_rcpt;		/* addr was one of their recipients */
	bool domain_rcpt;	/* addr's domain (or a parent of it) was
				 * one of their recipients' domains */
	bool cut;		/* one of them had recipients not kept */
	bool cc_rcpt;		/* one of cc was a recipient of one of them
				 * (not its sender) */
	bool account_sent;	/* account sent one of them */
};

/*
 * Answer q into *m.  0, or SENTLOG_E_OFF when the log keeps nothing
 * (sent_log_max = 0, or sl NULL: m says nothing matched).  Any thread.
 */
#define SENTLOG_E_OFF 1
int sentlog_match(const struct sentlog *sl, const struct sentlog_query *q,
		  struct sentlog_match *m);

/* When the log began (0: not known yet, or off).  Any thread. */
int64_t sentlog_since(const struct sentlog *sl);

/* Records in memory now.  Any thread. */
size_t sentlog_count(const struct sentlog *sl);

#endif
