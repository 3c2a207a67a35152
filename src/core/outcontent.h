/*
 * outcontent - the content facts of authenticated outbound mail (issue 10
 * item 9, O8) and their hand-off from the milter to the decision core.
 *
 * Postfix's policy delegation decides at RCPT and END-OF-MESSAGE without
 * the content; the milter sees the whole message afterwards (Postfix runs
 * smtpd_end_of_data_restrictions before cleanup hands the message to the
 * milters).  This module reads one outbound message with the shared
 * modules (mail/mime.h for the MIME tree, mail/archive.h for attachments:
 * no second parser) into struct outbound_content (core.h): is it a reply,
 * does it carry an encrypted or uninspectable archive, an Office macro, an
 * executable or disguised name, does the subject or text carry a password
 * cue, which thread does it belong to.  The core weighs those facts
 * (outbound.h: malware_content, risky_replies).
 *
 * Two halves:
 *  - outcontent_facts / outcontent_from_summary / outcontent_password_cue:
 *    sans-I/O, no state, any thread.
 *  - outmsg (one message, buffered on its worker thread, at most
 *    OUTCONTENT_MAX bytes) and outcheck (the hand-off): outcheck_run()
 *    extracts the facts on the worker, posts core_outbound_content() to the
 *    event loop (util/loopq) and waits for the verdict at most
 *    OUTCONTENT_WAIT_MS; a verdict that does not come in time is "accept"
 *    (logged), so a stalled loop never holds mail.  The job is reference
 *    counted between the worker and the loop, so a late verdict finds it.
 *
 * Threads: outcheck_new/free on the loop thread (free after the milter's
 * workers are gone); outmsg_* and outcheck_run on one worker per message.
 */
#ifndef MAMORI_CORE_OUTCONTENT_H
#define MAMORI_CORE_OUTCONTENT_H

#include <stddef.h>

#include "core/core.h"

struct mime_summary;
struct event_base;

/*
 * Messages larger than 12 MiB are not read (OC_UNPARSED): above Postfix's
 * message_size_limit default (10 MB), and the buffer is per message in
 * flight on a worker.
 */
#define OUTCONTENT_MAX (12u << 20)
/* The longest a worker waits for the loop's verdict: 5 s (Postfix's
 * milter_content_timeout is 300 s; the loop answers in microseconds
 * unless the store stalls a transition). */
#define OUTCONTENT_WAIT_MS 5000
/* Bytes of subject, text and HTML searched for a password cue. */
#define OUTCONTENT_CUE_MAX (16u * 1024u)

/* The facts of a whole message (header and body, CRLF or LF). */
void outcontent_facts(const void *msg, size_t len,
		      struct outbound_content *oc);
/* The facts of an already parsed message (a shared parse). */
void outcontent_from_summary(const struct mime_summary *s,
			     struct outbound_content *oc);
/* Does text[0..len) hold a password cue (English, Japanese, ...)? */
bool outcontent_password_cue(const char *text, size_t len);

struct outmsg;

/* A new outbound message of login from client ip (either may be NULL). */
struct outmsg *outmsg_new(const char *login, const char *ip);
/* Free m; NULL is a no-op. */
void outmsg_free(struct outmsg *m);
/* One header field (raw value after the colon, folding included). */
void outmsg_header(struct outmsg *m, const char *name, const char *value,
		   size_t vlen);
/* A body chunk. */
void outmsg_body(struct outmsg *m, const void *p, size_t n);

struct outcheck;

/* The hand-off to core c on base's loop.  Loop thread. */
struct outcheck *outcheck_new(struct event_base *base, struct core *c);
/* Run what is queued and free k; NULL is a no-op.  Loop thread. */
void outcheck_free(struct outcheck *k);
/*
 * The end of message m: its facts, the core's verdict in *v (action
 * VERDICT_DUNNO when there is nothing to say, no login, or no answer in
 * time).  Blocks the calling worker until the loop answered.
 */
void outcheck_run(struct outcheck *k, struct outmsg *m, const char *queue_id,
		  struct verdict *v);

#endif
