/*
 * milter - the libmilter adapter (see milter.h, docs/design/milter.md and
 * docs/design/inbound-flow.md).
 *
 * Threads: smfi_main() on the "milter" thread we start; libmilter's worker
 * thread per SMTP connection runs the callbacks below, which translate
 * libmilter's calls into core_msg_* and the core's answers into smfi_*
 * calls; libmilter's signal thread.  The core blocks a worker on DNS at
 * end of message and posts its store work to the event loop itself.
 *
 * Milter protocol 6 negotiation asks for no CONNECT/HELO/MAIL/HEADER/BODY
 * replies, no RCPT/DATA/UNKNOWN/EOH steps, and header values with their
 * leading space (DKIM simple canonicalization needs the exact bytes).
 * Values we add get the space back, folding as "\n\t".
 *
 * libmilter's callbacks carry no user pointer besides the per-connection
 * private data, so the server and its connection count are the file's
 * globals (libmilter allows one milter per process anyway).
 *
 * Armour (libmilter owns the socket, so server.c's skeleton cannot): a
 * connection counts from its negotiation to its close; past
 * milter_max_connections the negotiation fails, libmilter closes the
 * connection and Postfix applies milter_default_action.  milter_timeout is
 * libmilter's per-read/write and idle timeout (smfi_settimeout).  libmilter
 * itself has no whole-request deadline and retries accept() at once on
 * EMFILE: docs/design/listeners.md says why the socket must be reachable
 * by Postfix only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "core/inbound.h"
#include "front/milter.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

struct milter_server {
	struct core_mail *mail;
	pthread_mutex_t lock;	/* closing */
	bool closing;
	pthread_t mthread;
	bool mthread_up;
	char *listen;
};

/* Per connection (smfi_setpriv). */
struct mconn {
	bool counted;		/* in caps.open */
	unsigned long pflags;	/* negotiated SMFIP_* */
	char ip[INET6_ADDRSTRLEN];
	char *helo;
	char *auth;		/* SMTP AUTH login of the message, for logs */
	struct core_msg *msg;
};

static struct milter_server *srv;

/* The connection cap.  Apart from srv: libmilter's workers may close
 * their connections after milter_server_free(). */
static struct {
	pthread_mutex_t lock;
	long max;		/* milter_max_connections; 0: not serving */
	long open;		/* negotiated, not closed */
	unsigned long unlogged;	/* refused since the last log line */
	time_t logged;
} caps = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0 };

/* ------------------------------------------------------------------ */
/* Helpers for the callbacks                                            */

/* " " + v with CRLF turned into LF and '%' made harmless, for smfi_*. */
static char *milter_value(const char *v, bool lead)
{
	char *o = xmalloc(strlen(v) + 2), *p = o;

	if (lead)
		*p++ = ' ';
	for (; *v; v++)
		if (*v != '\r')
			*p++ = *v;
	*p = '\0';
	return o;
}

/* Reply text safe for smfi_setreply: no '%', no CR/LF. */
static char *reply_text(const char *v)
{
	char *o = xstrdup(v), *p;

	for (p = o; *p; p++)
		if (*p == '%' || *p == '\r' || *p == '\n')
			*p = ' ';
	return o;
}

/* Insert name: value at the top of the header. */
static void insert_top(SMFICTX *ctx, const char *name, const char *value)
{
	char *t = milter_value(value, true);

	smfi_insheader(ctx, 0, (char *)name, t);
	free(t);
}

/* Forget the connection's message. */
static void msg_end(struct mconn *c)
{
	core_msg_free(c->msg);
	c->msg = NULL;
	free(c->auth);
	c->auth = NULL;
}

/* The connection state, created on first use. */
static struct mconn *conn_of(SMFICTX *ctx)
{
	struct mconn *c = smfi_getpriv(ctx);

	if (!c) {
		c = xcalloc(1, sizeof(*c));
		smfi_setpriv(ctx, c);
	}
	return c;
}

/* The reply code for a step whose reply we negotiated away. */
static sfsistat no_reply(const struct mconn *c, unsigned long flag)
{
	return (c->pflags & flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                            */

/*
 * Count c in, or refuse it over milter_max_connections (logged at most once
 * per 10 s with the number refused meanwhile).  True if admitted.
 */
static bool conn_admit(struct mconn *c)
{
	bool ok;
	time_t now = time(NULL);

	pthread_mutex_lock(&caps.lock);
	ok = caps.open < caps.max;
	if (ok) {
		caps.open++;
		c->counted = true;
	} else if (now - caps.logged >= 10) {
		log_msg(LOG_L_WARN, "event=connection_refused service=milter "
			"reason=max_connections open=%ld refused_unlogged=%lu",
			caps.open, caps.unlogged);
		caps.logged = now;
		caps.unlogged = 0;
	} else {
		caps.unlogged++;
	}
	pthread_mutex_unlock(&caps.lock);
	return ok;
}

/* c closes: one connection fewer. */
static void conn_release(struct mconn *c)
{
	if (!c->counted)
		return;
	pthread_mutex_lock(&caps.lock);
	caps.open--;
	pthread_mutex_unlock(&caps.lock);
	c->counted = false;
}

/* Protocol 6 negotiation: fewer steps, fewer round trips. */
static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0,
			     unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0,
			     unsigned long *pf1, unsigned long *pf2,
			     unsigned long *pf3)
{
	struct mconn *c = conn_of(ctx);
	unsigned long want = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NORCPT |
		SMFIP_NOEOH | SMFIP_HDR_LEADSPC | SMFIP_NR_CONN |
		SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_BODY;
	unsigned long act = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;

	(void)f2;
	(void)f3;
	/* Anything but CONTINUE makes libmilter close the connection. */
	if (!c->counted && !conn_admit(c))
		return SMFIS_TEMPFAIL;
	*pf0 = act & f0;
	*pf1 = want & f1;
	*pf2 = 0;
	*pf3 = 0;
	c->pflags = *pf1;
	return SMFIS_CONTINUE;
}

/* Connection: remember the client address. */
static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct mconn *c = conn_of(ctx);

	(void)host;
	c->ip[0] = '\0';
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
			  c->ip, sizeof(c->ip));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
			  c->ip, sizeof(c->ip));
	return no_reply(c, SMFIP_NR_CONN);
}

/* HELO/EHLO name. */
static sfsistat cb_helo(SMFICTX *ctx, char *name)
{
	struct mconn *c = conn_of(ctx);

	free(c->helo);
	c->helo = xstrdup(name ? name : "");
	return no_reply(c, SMFIP_NR_HELO);
}

/* MAIL FROM: a new message for the core. */
static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct mconn *c = conn_of(ctx);
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	char *from = xstrdup(argv && argv[0] ? argv[0] : "");
	size_t n = strlen(from);

	msg_end(c);
	if (!srv) {		/* stopping */
		free(from);
		return SMFIS_TEMPFAIL;
	}
	if (n >= 2 && from[0] == '<' && from[n - 1] == '>') {
		memmove(from, from + 1, n - 2);
		from[n - 2] = '\0';
	}
	c->auth = auth && auth[0] ? xstrdup(auth) : NULL;
	c->msg = core_msg_new(srv->mail, c->ip, c->helo, from, c->auth);
	free(from);
	return no_reply(c, SMFIP_NR_MAIL);
}

/* One header field. */
static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct mconn *c = conn_of(ctx);

	if (!c->msg)
		return no_reply(c, SMFIP_NR_HDR);
	if (!(c->pflags & SMFIP_HDR_LEADSPC) && value[0]) {
		/* Without the exact bytes simple canonicalization fails;
		 * the usual single space is the best guess. */
		char *v = xasprintf(" %s", value);

		core_msg_header(c->msg, name, v, strlen(v));
		free(v);
	} else {
		core_msg_header(c->msg, name, value, strlen(value));
	}
	return no_reply(c, SMFIP_NR_HDR);
}

/* A body chunk. */
static sfsistat cb_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
	struct mconn *c = conn_of(ctx);

	if (c->msg)
		core_msg_body(c->msg, p, n);
	return no_reply(c, SMFIP_NR_BODY);
}

/*
 * The decision core on an authenticated message's content (O8): hold the
 * message that restricted its account, refuse it while restricted or
 * throttled.
 */
static sfsistat out_content(SMFICTX *ctx, struct mconn *c, const char *qid)
{
	struct verdict v;
	char *t;

	core_msg_outbound_check(c->msg, qid, &v);
	switch (v.action) {
	case VERDICT_HOLD:
		t = reply_text(v.reason[0] ? v.reason : v.text);
		smfi_quarantine(ctx, t);
		free(t);
		return SMFIS_CONTINUE;
	case VERDICT_REJECT:
	case VERDICT_DEFER:
		t = reply_text(v.text);
		smfi_setreply(ctx, v.action == VERDICT_REJECT ? "550" : "450",
			      NULL, t);
		free(t);
		return v.action == VERDICT_REJECT ? SMFIS_REJECT :
			SMFIS_TEMPFAIL;
	default:
		return SMFIS_CONTINUE;
	}
}

/* Outbound end of message: add the core's signatures. */
static sfsistat out_eom(SMFICTX *ctx, struct mconn *c)
{
	const struct core_signed *o = core_msg_sign(c->msg);
	const char *qid = smfi_getsymval(ctx, "i");
	char q[LOG_QSZ];
	size_t i;
	bool signed_ = false;
	sfsistat rc = out_content(ctx, c, qid);

	if (o->error)
		log_msg(LOG_L_WARN, "event=dkim_sign_failed queue_id=%s "
			"error=%s", qid ? qid : "-",
			log_q(q, sizeof(q), o->error));
	for (i = o->nsigs; i-- > 0;) {
		char *v = milter_value(o->sigs[i], true);

		if (smfi_insheader(ctx, 0, "DKIM-Signature", v) == MI_SUCCESS)
			signed_ = true;
		free(v);
	}
	log_msg(LOG_L_INFO, "event=milter_outbound queue_id=%s client=%s "
		"sasl=%s dkim_signed=%s", qid ? qid : "-",
		c->ip[0] ? c->ip : "-", log_q(q, sizeof(q), c->auth ? c->auth :
					      "-"),
		signed_ ? "yes" : "no");
	return rc;
}

/* The header edits of the verdict: deletions, then our fields on top. */
static void edit_headers(SMFICTX *ctx, const struct core_verdict *cv)
{
	const struct mailauth_verdict *v = cv->auth;
	size_t i;

	for (i = 0; i < v->ndel; i++)
		smfi_chgheader(ctx, (char *)v->del[i].name, v->del[i].index,
			       NULL);
	for (i = cv->ndel_verdict; i > 0; i--)	/* forged: only we add it */
		smfi_chgheader(ctx, CORE_VERDICT_FIELD, (int)i, NULL);
	if (cv->subject) {
		char *t = milter_value(cv->subject, true);

		smfi_chgheader(ctx, "Subject", 1, t);
		free(t);
	}
	if (cv->verdict_header)
		insert_top(ctx, CORE_VERDICT_FIELD, cv->verdict_header);
	if (v->received_spf)
		insert_top(ctx, "Received-SPF", v->received_spf);
	insert_top(ctx, "Authentication-Results", v->ar);
	if (v->tag_name)
		insert_top(ctx, v->tag_name, v->tag_value);
}

/* Inbound end of message: the core's verdict as header edits and reply. */
static sfsistat in_eom(SMFICTX *ctx, struct mconn *c)
{
	const struct core_verdict *cv = core_inbound(c->msg);
	const struct mailauth_verdict *v = cv->auth;
	const struct content_verdict *ct = cv->content;
	const char *qid = smfi_getsymval(ctx, "i");
	char q1[LOG_QSZ], q2[LOG_QSZ], labels[128], *t;
	char reasons[1024], q3[2048];
	sfsistat rc = SMFIS_CONTINUE;

	edit_headers(ctx, cv);
	switch (cv->action) {
	case CORE_REJECT:
	case CORE_TEMPFAIL:
		t = reply_text(cv->reply ? cv->reply : "refused");
		smfi_setreply(ctx, (char *)cv->rcode, (char *)cv->xcode, t);
		free(t);
		rc = cv->action == CORE_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
		break;
	case CORE_HOLD:
		t = reply_text(cv->reason ? cv->reason : "held");
		smfi_quarantine(ctx, t);
		free(t);
		break;
	case CORE_TAG:
	case CORE_ACCEPT:
		break;
	}
	log_msg(LOG_L_INFO, "event=milter_inbound queue_id=%s client=%s "
		"from_domain=%s spf=%s dkim=%s dmarc=%s action=%s "
		"disposition=%s forged_ar=%zu reason=%s content_score=%d "
		"content_action=%s labels=%s reasons=%s", qid ? qid : "-",
		c->ip[0] ? c->ip : "-",
		log_q(q1, sizeof(q1), v->from_domain[0] ? v->from_domain : "-"),
		v->spf_result, v->dkim_result, v->dmarc_result,
		core_action_name(cv->action), v->disposition, v->ndel,
		log_q(q2, sizeof(q2), v->reason ? v->reason : "-"), ct->score,
		content_action_name(ct->action),
		ct->labels ? content_labels_str(ct->labels, labels,
						sizeof(labels)) : "-",
		log_q(q3, sizeof(q3), core_verdict_reasons(cv, reasons,
							   sizeof(reasons))));
	return rc;
}

/* End of message. */
static sfsistat cb_eom(SMFICTX *ctx)
{
	struct mconn *c = conn_of(ctx);
	sfsistat rc;

	if (!c->msg)
		return SMFIS_CONTINUE;
	rc = core_msg_is_outbound(c->msg) ? out_eom(ctx, c) : in_eom(ctx, c);
	msg_end(c);
	return rc;
}

/* The message was aborted (RSET, error): forget it. */
static sfsistat cb_abort(SMFICTX *ctx)
{
	struct mconn *c = smfi_getpriv(ctx);

	if (c)
		msg_end(c);
	return SMFIS_CONTINUE;
}

/* The connection closed. */
static sfsistat cb_close(SMFICTX *ctx)
{
	struct mconn *c = smfi_getpriv(ctx);

	if (c) {
		msg_end(c);
		conn_release(c);
		free(c->helo);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "mamori",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = cb_connect,
	.xxfi_helo = cb_helo,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_header = cb_header,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */

/* The milter thread: libmilter's accept loop. */
static void *milter_thread(void *arg)
{
	struct milter_server *s = arg;
	int r = smfi_main();

	pthread_mutex_lock(&s->lock);
	if (!s->closing)
		log_msg(LOG_L_ERR, "event=milter_stopped_unexpectedly rc=%d",
			r);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/*
 * libmilter's socket has neither a whole-request deadline nor a cap before
 * negotiation: say so when it listens beyond loopback ("inet:PORT" or
 * "inet:PORT@HOST", "inet6:...").
 */
static void warn_exposed(const char *listen)
{
	const char *at = strchr(listen, '@');

	if (strncmp(listen, "inet", 4) != 0)
		return;
	if (at && (strncmp(at + 1, "127.", 4) == 0 ||
		   strcmp(at + 1, "localhost") == 0 ||
		   strcmp(at + 1, "::1") == 0 || strcmp(at + 1, "[::1]") == 0))
		return;
	log_msg(LOG_L_WARN, "event=milter_listen_not_local listen=%s "
		"note=\"libmilter has no request deadline and sees a "
		"connection only at negotiation: keep the milter reachable by "
		"Postfix only (loopback or a unix socket)\"", listen);
}

/* Start a thread with every signal blocked (the loop thread takes them). */
static int spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

struct milter_server *milter_server_new(const struct config *cfg,
					struct core_mail *mail, char *err,
					size_t errsz)
{
	struct milter_server *s;

	if (srv) {
		snprintf(err, errsz, "only one milter per process");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->mail = mail;
	pthread_mutex_init(&s->lock, NULL);
	s->listen = xstrdup(cfg->milter_listen);
	pthread_mutex_lock(&caps.lock);
	caps.max = cfg->milter_max_connections;
	pthread_mutex_unlock(&caps.lock);
	srv = s;
	if (smfi_setconn(s->listen) != MI_SUCCESS ||
	    smfi_settimeout((int)cfg->milter_timeout) != MI_SUCCESS ||
	    smfi_register(desc) != MI_SUCCESS ||
	    smfi_opensocket(true) != MI_SUCCESS) {
		snprintf(err, errsz, "milter_listen %s: cannot listen",
			 s->listen);
		milter_server_free(s);
		return NULL;
	}
	warn_exposed(s->listen);
	if (strncmp(s->listen, "unix:", 5) == 0)
		chmod(s->listen + 5, 0666);
	else if (strncmp(s->listen, "local:", 6) == 0)
		chmod(s->listen + 6, 0666);
	return s;
}

int milter_server_start(struct milter_server *s, char *err, size_t errsz)
{
	if (spawn(&s->mthread, milter_thread, s) != 0) {
		snprintf(err, errsz, "milter thread: %s", strerror(errno));
		return -1;
	}
	s->mthread_up = true;
	log_msg(LOG_L_INFO, "event=milter_listening listen=%s", s->listen);
	return 0;
}

void milter_server_free(struct milter_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->closing = true;
	pthread_mutex_unlock(&s->lock);
	if (s->mthread_up) {
		smfi_stop();
		pthread_join(s->mthread, NULL);
	}
	if (strncmp(s->listen, "unix:", 5) == 0)
		unlink(s->listen + 5);
	free(s->listen);
	pthread_mutex_destroy(&s->lock);
	/* Messages in progress hold the core's context, not s. */
	srv = NULL;
	pthread_mutex_lock(&caps.lock);
	caps.max = 0;		/* a late negotiation is refused */
	pthread_mutex_unlock(&caps.lock);
	free(s);
}
