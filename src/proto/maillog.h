/*
 * maillog - Postfix mail logs and Dovecot login logs, line by line, sans I/O.
 *
 * mamori learn and mamori replay (src/cli/mamori_learn.c) read the logs a
 * provider already has; this module turns one line of them into an event
 * and joins Postfix's per-queue-ID lines into messages.  It reads no file
 * and logs nothing: bytes in, structs out, so it can be fuzzed alone
 * (fuzz/fuzz-maillog.c).
 *
 * Line format (what Debian's rsyslog writes, and journald exports):
 *
 *   Mon DD HH:MM:SS HOST TAG[PID]: MESSAGE          (RFC 3164 style)
 *   YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|+hhmm) HOST TAG[PID]: MESSAGE
 *                                                  (RFC 3339, RFC 5424 time)
 *
 * The traditional stamp has no year and no zone: the caller passes a
 * reference time (the file's mtime, or now) and the stamp is read as local
 * time in the reference's year, or the year before when that would put it
 * more than a day after the reference (a file rotated in January holds
 * December's lines).
 *
 * Postfix (any service name ending in the program: postfix/smtpd,
 * postfix/submission/smtpd, postfix-out/qmgr ...):
 *
 *   smtpd   QID: client=NAME[ADDR](:PORT)?, sasl_method=M, sasl_username=U
 *   smtpd   warning: NAME[ADDR]: SASL M authentication failed: ...
 *           (, sasl_username=U with Postfix >= 3.6)
 *   qmgr    QID: from=<S>, size=N, nrcpt=N (queue active)
 *   smtp, lmtp, local, virtual, pipe, error
 *           QID: to=<R>, (orig_to=<O>,)? ... status=sent|deferred|bounced|...
 *   qmgr    QID: removed
 *
 * Dovecot (any *-login process: imap-login, pop3-login, submission-login):
 *
 *   imap-login: Login: user=<U>, method=M, rip=ADDR, lip=ADDR, ...
 *   imap-login: Disconnected (auth failed, N attempts in S secs): user=<U>,
 *     method=M, rip=ADDR, ...    (also "Disconnected: REASON (auth failed,
 *     ...)" and "Aborted login (auth failed, ...)" of Dovecot 2.3)
 *   auth: DRIVER(U,ADDR(,<SESSION>)?): Password mismatch | unknown user
 *     (the passdb's view of the same failure: MAILLOG_PASSDB_FAIL, so a
 *     caller counting failures takes one of the two, not both)
 *
 * Limits: a line is read up to MAILLOG_LINE_MAX bytes (rsyslog's default
 * maxMessageSize is 8 KiB; a longer line is MAILLOG_E_MALFORMED); every
 * field is copied into a fixed buffer of the sizes below (a login or address
 * longer than SMTP's 256-octet path, RFC 5321 4.5.3.1.3, is malformed, not
 * truncated: a truncated login would be another account).  The join table
 * holds at most the given number of open queue IDs and each message at most
 * MAILLOG_RCPTS_KEEP distinct recipients (the count comes from nrcpt).
 *
 * Threading: none; a join table belongs to one caller.
 */
#ifndef MAMORI_MAILLOG_H
#define MAMORI_MAILLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAILLOG_LINE_MAX 8192
#define MAILLOG_QID_MAX 32		/* long queue IDs are 15-17 chars */
#define MAILLOG_ADDR_MAX 257		/* RFC 5321 path, 256 + NUL */
#define MAILLOG_IP_MAX 64		/* IPv6 with a zone */
#define MAILLOG_RCPTS_KEEP 100		/* distinct recipients kept per msg */

enum maillog_result {
	MAILLOG_OK = 0,
	MAILLOG_IGNORED = 1,		/* a well-formed line we have no use for */
	MAILLOG_E_MALFORMED = 2,	/* not a log line, or a field too long */
};

enum maillog_kind {
	MAILLOG_CLIENT,		/* smtpd: QID, addr, login (sasl_username) */
	MAILLOG_FROM,		/* qmgr: QID, sender, size, nrcpt */
	MAILLOG_TO,		/* delivery agent: QID, rcpt, status */
	MAILLOG_REMOVED,	/* qmgr: QID left the queue */
	MAILLOG_LOGIN_OK,	/* Dovecot login: login, addr, method */
	MAILLOG_LOGIN_FAIL,	/* Dovecot or smtpd: login (may be ""), addr,
				 * method, attempts */
	MAILLOG_PASSDB_FAIL,	/* Dovecot auth: login, addr */
};

/* One parsed line.  Strings are NUL-terminated copies. */
struct maillog_event {
	enum maillog_kind kind;
	int64_t time;			/* unix time */
	char queue_id[MAILLOG_QID_MAX];
	char login[MAILLOG_ADDR_MAX];
	char addr[MAILLOG_IP_MAX];	/* client address */
	char sender[MAILLOG_ADDR_MAX];
	char rcpt[MAILLOG_ADDR_MAX];
	char status[16];		/* sent, deferred, bounced ... */
	char method[32];		/* SASL mechanism */
	long size, nrcpt;
	unsigned attempts;		/* failed logins this line stands for */
};

/*
 * Parse one line (n bytes at line, no newline needed; a trailing CR or LF
 * is ignored) into ev.  ref is the reference time for stamps without a year
 * (unix time).  Returns MAILLOG_OK with ev filled, MAILLOG_IGNORED, or
 * MAILLOG_E_MALFORMED.
 */
int maillog_parse(const char *line, size_t n, int64_t ref,
		  struct maillog_event *ev);

/*
 * The unix time of a traditional stamp (month 0-11, day, h:m:s, local time)
 * in the year of ref, or the year before when it would fall more than a day
 * after ref.  -1 if the fields are out of range.
 */
int64_t maillog_stamp_time(int mon, int mday, int hour, int min, int sec,
			   int64_t ref);

/* One authenticated message, joined from its queue ID's lines. */
struct maillog_msg {
	int64_t time;			/* when smtpd accepted the client */
	const char *queue_id, *login, *addr, *sender;
	long size, nrcpt;		/* nrcpt from qmgr; 0 if not seen */
	const char *const *rcpts;	/* distinct recipients seen, bounded */
	size_t nrcpts;
};

/* Called with each joined message; everything it points to is borrowed
 * for the call only. */
typedef void maillog_msg_cb(void *arg, const struct maillog_msg *m);

struct maillog_join;

/*
 * A join table holding at most max open queue IDs.  Only queue IDs whose
 * smtpd line carries a sasl_username are tracked.
 */
struct maillog_join *maillog_join_new(size_t max);
/* Emits nothing; frees every open entry.  NULL is a no-op. */
void maillog_join_free(struct maillog_join *j);
/*
 * Feed one event (the kinds other than CLIENT/FROM/TO/REMOVED are ignored).
 * A message is handed to cb when every recipient of nrcpt had a first
 * delivery attempt, or at its "removed" line, whichever comes first; when
 * the table is full the oldest open entry goes to cb as it is, and entries
 * silent for an hour of log time likewise.  Returns the number of messages
 * emitted.
 */
size_t maillog_join_feed(struct maillog_join *j,
			 const struct maillog_event *ev, maillog_msg_cb *cb,
			 void *arg);
/* Hand every open entry to cb (end of input), oldest first. */
size_t maillog_join_flush(struct maillog_join *j, maillog_msg_cb *cb,
			  void *arg);
/* Entries dropped: evicted when full (counted, still emitted). */
size_t maillog_join_evicted(const struct maillog_join *j);

#endif
