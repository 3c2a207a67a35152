/*
 * milter - the libmilter front-end: Postfix smtpd_milters and
 * non_smtpd_milters, translated into the core's mail path (core/inbound.h).
 *
 * libmilter runs smfi_main() with a thread per SMTP connection; the
 * callbacks only translate: envelope, header fields and body chunks go to
 * core_msg_*, and at the end of a message the core's answer (the inbound
 * verdict, or the outbound DKIM signatures) becomes header edits, a reply
 * code or a quarantine.  Inbound or outbound, DNS, the settings and every
 * record are the core's (docs/design/inbound-flow.md).
 *
 * libmilter keeps process-wide state: one milter_server per process.
 */
#ifndef MAMORI_MILTER_H
#define MAMORI_MILTER_H

#include <stddef.h>

struct config;
struct core_mail;
struct milter_server;

/*
 * Bind cfg->milter_listen ("unix:PATH" or "inet:PORT@HOST"; a unix socket
 * is made mode 0666, restrict it with its directory) for the core's mail
 * context mail (borrowed; it must outlive the server).  Call before
 * dropping privileges; nothing is served until milter_server_start().
 * NULL with err on failure.
 */
struct milter_server *milter_server_new(const struct config *cfg,
					struct core_mail *mail, char *err,
					size_t errsz);

/*
 * Start serving: run smfi_main() on its own thread (every signal blocked
 * there).  Call after core_mail_attach().  Returns 0 or -1 with err.
 */
int milter_server_start(struct milter_server *s, char *err, size_t errsz);

/*
 * Stop smfi_main and wait for its thread; messages still in progress on
 * libmilter's workers are waited for by core_mail_free(), which comes
 * after (and core_mail_close() before, so their DNS waits end).  NULL is
 * a no-op.  Event-loop thread.
 */
void milter_server_free(struct milter_server *s);

#endif
