/*
 * milter - the milter front-end: Postfix smtpd_milters and
 * non_smtpd_milters, translated into the core's mail path (core/inbound.h).
 *
 * The milter protocol is served on the shared listener skeleton
 * (util/server.h, raw mode) with the sans-I/O packet parser of
 * proto/milter_proto.h: the event loop reads the packets, envelope, header
 * fields and body chunks go to core_msg_*, and at the end of a message a
 * worker thread turns the core's answer (the inbound verdict, or the
 * outbound DKIM signatures) into header edits, a reply code or a
 * quarantine.  Inbound or outbound, DNS, the settings and every record are
 * the core's (docs/design/inbound-flow.md).
 */
#ifndef MAMORI_MILTER_H
#define MAMORI_MILTER_H

#include <stddef.h>

struct config;
struct core_mail;
struct event_base;
struct milter_server;

/*
 * Bind cfg->milter_listen ("unix:PATH" or "inet:PORT@HOST", libmilter's
 * spellings; a unix socket is made mode 0666, restrict it with its
 * directory) on base for the core's mail context mail (borrowed; it must
 * outlive the server).  Call before dropping privileges; nothing is served
 * until milter_server_start().  NULL with err on failure.  Loop thread.
 */
struct milter_server *milter_server_new(struct event_base *base,
					const struct config *cfg,
					struct core_mail *mail, char *err,
					size_t errsz);

/*
 * Start the end-of-message workers (every signal blocked there) and
 * accept.  Call after core_mail_attach().  Returns 0 or -1 with err.
 */
int milter_server_start(struct milter_server *s, char *err, size_t errsz);

/*
 * Close every connection and the listeners, wait for the workers (call
 * core_mail_close() before, so their DNS waits end), free s.  Messages
 * not yet on a worker are dropped.  NULL is a no-op.  Loop thread, after
 * the loop has stopped.
 */
void milter_server_free(struct milter_server *s);

#endif
