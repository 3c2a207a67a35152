/*
 * milter - Postfix's milter connections on the shared listener skeleton
 * (see milter.h, docs/design/milter.md, docs/design/inbound-flow.md and
 * docs/design/listeners.md).
 *
 * Wire format: proto/milter_proto.h parses the packets and builds the
 * replies; this file only translates between them and core_msg_*.
 *
 * Threads:
 *   - the event loop (util/server.h, raw mode; util/rawconn.h) accepts,
 *     reads and writes every connection, answers OPTNEG, CONNECT, HELO,
 *     MAIL and feeds header fields and body chunks to
 *     core_msg_header/core_msg_body;
 *   - end of message may block on DNS (core_inbound, core_msg_sign) and on
 *     the loop (core_msg_outbound_check), so it runs on one of
 *     MILTER_WORKERS threads: the message goes over with a job, the worker
 *     turns the core's answer into reply packets and logs the message, and
 *     the job comes back through a util/loopq queue; the loop writes the
 *     packets.  Meanwhile the connection reads nothing and arms no timer
 *     (its bound is the core's: DNS timeouts, OUTCONTENT_WAIT_MS).
 *     MILTER_WORKERS (32) is how many messages may wait on DNS at once;
 *     more queue up in order.
 *
 * Milter protocol 6 negotiation asks for no CONNECT/HELO/MAIL/HEADER/BODY
 * replies, no RCPT/DATA/UNKNOWN/EOH steps, and header values with their
 * leading space (DKIM simple canonicalization needs the exact bytes).
 * Values we add get the space back, folding as "\n\t".
 *
 * Armour (the skeleton's): milter_max_connections counts from accept; a
 * connection over it is closed at once, before it sends a byte (Postfix
 * then applies milter_default_action).  milter_timeout is both the idle
 * timeout between packets and the deadline of a whole packet, from its
 * first byte, never re-armed by a read.  Accept errors (EMFILE...) pause
 * the listener.  A packet over MILTER_MAX_PACKET, an unknown command or a
 * malformed one closes the connection, logged with a bounded, escaped
 * sample.  Reply bytes the MTA does not read are bounded (OUT_MAX).
 *
 * Lifetime: a connection whose message is on a worker is freed when the
 * job comes back, even if it was closed meanwhile; milter_server_free()
 * closes every connection, joins the workers and runs what they posted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/inbound.h"
#include "front/milter.h"
#include "proto/milter_proto.h"
#include "util/config.h"
#include "util/listen.h"
#include "util/log.h"
#include "util/loopq.h"
#include "util/rawconn.h"
#include "util/server.h"
#include "util/xalloc.h"

#define MILTER_WORKERS 32
#define READ_CHUNK 65536
#define OUT_MAX (1024 * 1024)	/* replies the MTA has not read: close */
#define JOB_OUT_MAX (1024 * 1024) /* one message's edits and reply */

/* The steps and actions we negotiate (see the header comment). */
#define WANT_STEPS (MILTER_P_NOUNKNOWN | MILTER_P_NODATA | MILTER_P_NORCPT | \
		    MILTER_P_NOEOH | MILTER_P_HDR_LEADSPC | MILTER_P_NR_CONN | \
		    MILTER_P_NR_HELO | MILTER_P_NR_MAIL | MILTER_P_NR_HDR | \
		    MILTER_P_NR_BODY)
#define WANT_ACTIONS (MILTER_F_ADDHDRS | MILTER_F_CHGHDRS | MILTER_F_QUARANTINE)

/* Macro stages, in protocol order; the later ones die with a message. */
static const char STAGES[] = "CHMRTLNBE";
#define NSTAGES (sizeof(STAGES) - 1)
#define FIRST_MSG_STAGE 2	/* 'M' */

struct mjob;

struct mconn {
	struct rawconn rc;	/* first: a struct rawconn * is an mconn */
	struct milter_server *srv;
	struct milter_parser parser;
	bool negotiated;
	uint32_t actions;	/* negotiated MILTER_F_* */
	uint32_t pflags;	/* negotiated MILTER_P_* */
	char ip[INET6_ADDRSTRLEN];
	char *helo;
	char *auth;		/* SMTP AUTH login of the message, for logs */
	struct core_msg *msg;
	char *macros[NSTAGES];	/* the last MACRO data per stage */
	size_t maclen[NSTAGES];
	bool busy;		/* a message is on a worker */
	bool dead;		/* closed while busy: free when it comes back */
};

/* End of message, from the loop to a worker and back. */
struct mjob {
	struct mconn *c;
	struct core_msg *msg;	/* owned by the job */
	char *qid, *auth;	/* macro i, the SMTP AUTH login */
	char ip[INET6_ADDRSTRLEN];
	uint32_t actions;
	struct buf out;		/* the packets to send */
	struct mjob *next;
};

struct milter_server {
	struct event_base *base;
	struct core_mail *mail;
	struct server *srv;	/* listeners, caps, timeouts, accept errors */
	struct loopq *done;	/* jobs back from the workers */
	struct rawconn_list conns;
	char *listen;
	/* The worker pool. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mjob *head, *tail;
	bool stopping;
	pthread_t workers[MILTER_WORKERS];
	unsigned nworkers;
};

static int conn_process(struct rawconn *rc, const char *data, size_t n);

/* ------------------------------------------------------------------ */
/* Values and macros                                                    */

/* " " + v with CRLF turned into LF, for header edits. */
static char *milter_value(const char *v)
{
	char *o = xmalloc(strlen(v) + 2), *p = o;

	*p++ = ' ';
	for (; *v; v++)
		if (*v != '\r')
			*p++ = *v;
	*p = '\0';
	return o;
}

/* Is macro name a ("i", "{i}") the same as b (given without braces)? */
static bool macro_is(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);

	if (n >= 2 && a[0] == '{' && a[n - 1] == '}')
		return n - 2 == m && memcmp(a + 1, b, m) == 0;
	return strcmp(a, b) == 0;
}

/* The value of macro name (no braces), latest stage first; NULL if none. */
static const char *macro_get(const struct mconn *c, const char *name)
{
	size_t s;

	for (s = NSTAGES; s-- > 0;) {
		struct milter_cmd m;
		size_t off = 0;
		const char *k, *v, *found = NULL;

		if (!c->macros[s])
			continue;
		memset(&m, 0, sizeof(m));
		m.cmd = MILTER_C_MACRO;
		m.body = c->macros[s];
		m.body_len = c->maclen[s];
		while (milter_macro_next(&m, &off, &k, &v))
			if (macro_is(k, name))
				found = v;
		if (found)
			return found;
	}
	return NULL;
}

/* Keep a MACRO packet's pairs for its stage (replacing the last ones). */
static void macro_set(struct mconn *c, const struct milter_cmd *m)
{
	const char *st = m->macro_cmd ? strchr(STAGES, m->macro_cmd) : NULL;
	size_t s;

	if (!st)
		return;		/* a stage we never ask about */
	s = (size_t)(st - STAGES);
	free(c->macros[s]);
	c->macros[s] = xmalloc(m->body_len + 1);
	memcpy(c->macros[s], m->body, m->body_len);
	c->maclen[s] = m->body_len;
}

/* Forget the macros from stage first on. */
static void macros_clear(struct mconn *c, size_t first)
{
	size_t s;

	for (s = first; s < NSTAGES; s++) {
		free(c->macros[s]);
		c->macros[s] = NULL;
		c->maclen[s] = 0;
	}
}

/* Forget the connection's message and its macros. */
static void msg_end(struct mconn *c)
{
	core_msg_free(c->msg);
	c->msg = NULL;
	free(c->auth);
	c->auth = NULL;
	macros_clear(c, FIRST_MSG_STAGE);
}

/* ------------------------------------------------------------------ */
/* End of message, on a worker                                          */

/* The log's "-" for a missing value. */
static const char *or_dash(const char *s)
{
	return s && s[0] ? s : "-";
}

/*
 * The decision core on an authenticated message's content (O8): hold the
 * message that restricted its account, refuse it while restricted or
 * throttled.  Returns the final reply.
 */
static char out_content(struct mjob *j)
{
	struct verdict v;

	core_msg_outbound_check(j->msg, j->qid, &v);
	switch (v.action) {
	case VERDICT_HOLD:
		if (j->actions & MILTER_F_QUARANTINE)
			milter_put_quarantine(&j->out, v.reason[0] ? v.reason :
					      v.text);
		return MILTER_R_CONTINUE;
	case VERDICT_REJECT:
	case VERDICT_DEFER:
		milter_put_replycode(&j->out, v.action == VERDICT_REJECT ?
				     "550" : "450", NULL, v.text);
		return MILTER_R_REPLYCODE;
	default:
		return MILTER_R_CONTINUE;
	}
}

/* Outbound end of message: add the core's signatures. */
static char out_eom(struct mjob *j)
{
	const struct core_signed *o = core_msg_sign(j->msg);
	char q[LOG_QSZ];
	size_t i;
	bool signed_ = false;
	char rc = out_content(j);

	if (o->error)
		log_msg(LOG_L_WARN, "event=dkim_sign_failed queue_id=%s "
			"error=%s", or_dash(j->qid),
			log_q(q, sizeof(q), o->error));
	for (i = o->nsigs; i-- > 0 && (j->actions & MILTER_F_ADDHDRS);) {
		char *v = milter_value(o->sigs[i]);

		if (milter_put_insheader(&j->out, 0, "DKIM-Signature", v) == 0)
			signed_ = true;
		free(v);
	}
	log_msg(LOG_L_INFO, "event=milter_outbound queue_id=%s client=%s "
		"sasl=%s dkim_signed=%s", or_dash(j->qid), or_dash(j->ip),
		log_q(q, sizeof(q), or_dash(j->auth)), signed_ ? "yes" : "no");
	return rc;
}

/* Insert name: value at the top of the header. */
static void insert_top(struct mjob *j, const char *name, const char *value)
{
	char *t;

	if (!(j->actions & MILTER_F_ADDHDRS))
		return;
	t = milter_value(value);
	milter_put_insheader(&j->out, 0, name, t);
	free(t);
}

/* The header edits of the verdict: deletions, then our fields on top. */
static void edit_headers(struct mjob *j, const struct core_verdict *cv)
{
	const struct mailauth_verdict *v = cv->auth;
	size_t i;

	if (j->actions & MILTER_F_CHGHDRS) {
		for (i = 0; i < v->ndel; i++)
			milter_put_chgheader(&j->out, (uint32_t)v->del[i].index,
					     v->del[i].name, NULL);
		for (i = cv->ndel_verdict; i > 0; i--)	/* only we add it */
			milter_put_chgheader(&j->out, (uint32_t)i,
					     CORE_VERDICT_FIELD, NULL);
		if (cv->subject) {
			char *t = milter_value(cv->subject);

			milter_put_chgheader(&j->out, 1, "Subject", t);
			free(t);
		}
	}
	if (cv->verdict_header)
		insert_top(j, CORE_VERDICT_FIELD, cv->verdict_header);
	if (v->received_spf)
		insert_top(j, "Received-SPF", v->received_spf);
	insert_top(j, "Authentication-Results", v->ar);
	if (v->tag_name)
		insert_top(j, v->tag_name, v->tag_value);
}

/* Inbound end of message: the core's verdict as header edits and reply. */
static char in_eom(struct mjob *j)
{
	const struct core_verdict *cv = core_inbound(j->msg);
	const struct mailauth_verdict *v = cv->auth;
	const struct content_verdict *ct = cv->content;
	char q1[LOG_QSZ], q2[LOG_QSZ], labels[128];
	char reasons[1024], q3[2048];
	char rc = MILTER_R_CONTINUE;

	edit_headers(j, cv);
	switch (cv->action) {
	case CORE_REJECT:
	case CORE_TEMPFAIL:
		milter_put_replycode(&j->out, cv->rcode, cv->xcode,
				     cv->reply ? cv->reply : "refused");
		rc = MILTER_R_REPLYCODE;
		break;
	case CORE_HOLD:
		if (j->actions & MILTER_F_QUARANTINE)
			milter_put_quarantine(&j->out, cv->reason ? cv->reason :
					      "held");
		break;
	case CORE_TAG:
	case CORE_ACCEPT:
		break;
	}
	log_msg(LOG_L_INFO, "event=milter_inbound queue_id=%s client=%s "
		"from_domain=%s spf=%s dkim=%s dmarc=%s action=%s "
		"disposition=%s forged_ar=%zu reason=%s content_score=%d "
		"content_action=%s labels=%s reasons=%s", or_dash(j->qid),
		or_dash(j->ip), log_q(q1, sizeof(q1), or_dash(v->from_domain)),
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

/* Run job j: its packets into j->out, the message freed. */
static void job_run(struct mjob *j)
{
	char rc = core_msg_is_outbound(j->msg) ? out_eom(j) : in_eom(j);

	/* The reply code packet stands for REJECT or TEMPFAIL itself. */
	if (rc != MILTER_R_REPLYCODE && milter_put_simple(&j->out, rc) != 0) {
		buf_reset(&j->out);	/* too many edits: send none */
		milter_put_simple(&j->out, MILTER_R_CONTINUE);
	}
	core_msg_free(j->msg);
	j->msg = NULL;
}

/* Free j (its message, if it never ran). */
static void job_free(struct mjob *j)
{
	core_msg_free(j->msg);
	free(j->qid);
	free(j->auth);
	buf_deinit(&j->out);
	free(j);
}

static void job_done(void *arg);

/* A worker: run jobs until the pool stops. */
static void *worker(void *arg)
{
	struct milter_server *s = arg;

	for (;;) {
		struct mjob *j;

		pthread_mutex_lock(&s->lock);
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->cond, &s->lock);
		j = s->head;
		if (!j) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		s->head = j->next;
		if (!s->head)
			s->tail = NULL;
		pthread_mutex_unlock(&s->lock);
		job_run(j);
		if (loopq_post(s->done, job_done, j) != 0)
			job_done(j);	/* not reached: closed after the join */
	}
}

/* Hand c's message to the workers. */
static void job_start(struct mconn *c)
{
	struct milter_server *s = c->srv;
	struct mjob *j = xcalloc(1, sizeof(*j));
	const char *qid = macro_get(c, "i");

	j->c = c;
	j->msg = c->msg;
	c->msg = NULL;
	j->qid = qid ? xstrdup(qid) : NULL;
	j->auth = c->auth;
	c->auth = NULL;
	memcpy(j->ip, c->ip, sizeof(j->ip));
	j->actions = c->actions;
	buf_init(&j->out, JOB_OUT_MAX);
	macros_clear(c, FIRST_MSG_STAGE);
	c->busy = true;
	pthread_mutex_lock(&s->lock);
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------ */
/* Connections, on the loop                                             */

/* Close c's socket and unlink it; free it unless a job still holds it
 * (ops). */
static void conn_close(struct rawconn *rc)
{
	struct mconn *c = (struct mconn *)rc;
	size_t i;

	rawconn_close(rc);
	if (c->busy) {
		c->dead = true;
		return;
	}
	msg_end(c);
	for (i = 0; i < NSTAGES; i++)
		free(c->macros[i]);
	free(c->helo);
	milter_parser_deinit(&c->parser);
	rawconn_deinit(rc);
	free(c);
}

/* A packet has begun (ops). */
static bool conn_busy(struct rawconn *rc)
{
	return milter_parser_busy(&((struct mconn *)rc)->parser);
}

/* Log a timeout or a packet cut short by EOF (ops). */
static void conn_ended(struct rawconn *rc, bool timeout, bool busy)
{
	if (timeout)
		log_msg(busy ? LOG_L_WARN : LOG_L_DEBUG,
			"event=milter_timeout client=%s partial_packet=%s",
			rc->peer, busy ? "yes" : "no");
	else
		log_msg(LOG_L_WARN, "event=milter_truncated client=%s",
			rc->peer);
}

static const struct rawconn_ops conn_ops = {
	"milter", READ_CHUNK, conn_busy, conn_process, conn_ended, conn_close
};

/* A job came back (loop thread): send its packets, read on. */
static void job_done(void *arg)
{
	struct mjob *j = arg;
	struct mconn *c = j->c;
	int r;

	c->busy = false;
	if (c->dead) {
		conn_close(&c->rc);
		job_free(j);
		return;
	}
	r = buf_append(&c->rc.out, j->out.p ? j->out.p : "", j->out.len);
	job_free(j);
	if (r != 0) {
		log_msg(LOG_L_WARN, "event=milter_output_backlog client=%s "
			"bytes=%zu", c->rc.peer, c->rc.out.len);
		conn_close(&c->rc);
		return;
	}
	rawconn_resume(&c->rc);
}

/* Queue a reply with no data unless step's reply was negotiated away. */
static int reply_step(struct mconn *c, uint32_t no_reply_flag)
{
	if (no_reply_flag && (c->pflags & no_reply_flag))
		return 0;
	return milter_put_simple(&c->rc.out, MILTER_R_CONTINUE);
}

/* CONNECT: remember the client address (text, as inet_ntop gives it). */
static int on_connect(struct mconn *c, const struct milter_cmd *m)
{
	const char *a = m->addr;
	unsigned char bin[sizeof(struct in6_addr)];
	int af = m->family == '4' ? AF_INET : m->family == '6' ? AF_INET6 : 0;

	c->ip[0] = '\0';
	if (af == AF_INET6 && strncasecmp(a, "IPv6:", 5) == 0)
		a += 5;
	if (af && inet_pton(af, a, bin) == 1)
		inet_ntop(af, bin, c->ip, sizeof(c->ip));
	else if (af)
		return MILTER_E_SYNTAX;	/* Postfix sends a valid address */
	return reply_step(c, MILTER_P_NR_CONN);
}

/* MAIL FROM: a new message for the core. */
static int on_mail(struct mconn *c, const struct milter_cmd *m)
{
	const char *auth = macro_get(c, "auth_authen");
	char *from = xstrdup(m->argv[0]);
	size_t n = strlen(from);

	core_msg_free(c->msg);
	c->msg = NULL;
	free(c->auth);
	if (n >= 2 && from[0] == '<' && from[n - 1] == '>') {
		memmove(from, from + 1, n - 2);
		from[n - 2] = '\0';
	}
	c->auth = auth && auth[0] ? xstrdup(auth) : NULL;
	c->msg = core_msg_new(c->srv->mail, c->ip, c->helo, from, c->auth);
	free(from);
	return reply_step(c, MILTER_P_NR_MAIL);
}

/* One header field. */
static int on_header(struct mconn *c, const struct milter_cmd *m)
{
	const char *name = m->argv[0], *value = m->argv[1];

	if (c->msg && !(c->pflags & MILTER_P_HDR_LEADSPC) && value[0]) {
		/* Without the exact bytes simple canonicalization fails;
		 * the usual single space is the best guess. */
		char *v = xasprintf(" %s", value);

		core_msg_header(c->msg, name, v, strlen(v));
		free(v);
	} else if (c->msg) {
		core_msg_header(c->msg, name, value, strlen(value));
	}
	return reply_step(c, MILTER_P_NR_HDR);
}

/* OPTNEG: protocol 6, fewer steps, fewer round trips. */
static int on_optneg(struct mconn *c, const struct milter_cmd *m)
{
	uint32_t version, actions, protocol;

	milter_negotiate(m, WANT_ACTIONS, WANT_STEPS, &version, &actions,
			 &protocol);
	c->negotiated = true;
	c->actions = actions;
	c->pflags = protocol;
	return milter_put_optneg(&c->rc.out, version, actions, protocol);
}

/* QUIT_NC: the next connection follows on this socket. */
static void conn_reset(struct mconn *c)
{
	msg_end(c);
	macros_clear(c, 0);
	free(c->helo);
	c->helo = NULL;
	c->ip[0] = '\0';
}

/*
 * One decoded command.  Returns 0, 1 when the connection is to be closed
 * quietly (QUIT), or a MILTER_E_* code.
 */
static int handle(struct mconn *c, const struct milter_cmd *m)
{
	if (m->cmd != MILTER_C_OPTNEG && !c->negotiated)
		return MILTER_E_SYNTAX;	/* OPTNEG comes first */
	switch (m->cmd) {
	case MILTER_C_OPTNEG:
		return on_optneg(c, m);
	case MILTER_C_MACRO:
		macro_set(c, m);
		return 0;
	case MILTER_C_CONNECT:
		return on_connect(c, m);
	case MILTER_C_HELO:
		free(c->helo);
		c->helo = xstrdup(m->host);
		return reply_step(c, MILTER_P_NR_HELO);
	case MILTER_C_MAIL:
		return on_mail(c, m);
	case MILTER_C_RCPT:
		return reply_step(c, MILTER_P_NR_RCPT);
	case MILTER_C_DATA:
		return reply_step(c, MILTER_P_NR_DATA);
	case MILTER_C_UNKNOWN:
		return reply_step(c, MILTER_P_NR_UNKN);
	case MILTER_C_EOH:
		return reply_step(c, MILTER_P_NR_EOH);
	case MILTER_C_HEADER:
		return on_header(c, m);
	case MILTER_C_BODY:
		if (c->msg)
			core_msg_body(c->msg, m->body, m->body_len);
		return reply_step(c, MILTER_P_NR_BODY);
	case MILTER_C_BODYEOB:
		if (c->msg && m->body_len)
			core_msg_body(c->msg, m->body, m->body_len);
		if (!c->msg)
			return reply_step(c, 0);
		job_start(c);
		return 0;
	case MILTER_C_ABORT:
		msg_end(c);
		return 0;
	case MILTER_C_QUIT_NC:
		conn_reset(c);
		return 0;
	case MILTER_C_QUIT:
		return 1;
	default:
		return MILTER_E_UNKNOWN_CMD;
	}
}

/* Log a protocol error on c: code, command, a bounded escaped sample. */
static void log_proto_error(struct mconn *c, int code, char cmd,
			    const char *sample)
{
	char cs[8];

	buf_sample(cs, sizeof(cs), &cmd, cmd ? 1 : 0, 1);
	log_msg(LOG_L_WARN, "event=milter_protocol_error client=%s error=%s "
		"command=\"%s\" sample=\"%s\"", c->rc.peer,
		milter_error_str(code), cs, sample);
}

/*
 * Feed bytes to the parser and handle each packet in order.  When a
 * message goes to a worker, keep the rest and stop reading until it comes
 * back.  Returns -1 when the connection was closed (c is gone), else 0.
 */
static int conn_process(struct rawconn *rc, const char *data, size_t n)
{
	struct mconn *c = (struct mconn *)rc;

	while (n > 0) {
		struct milter_packet pkt;
		struct milter_cmd m;
		size_t used = 0;
		int r = milter_parser_feed(&c->parser, data, n, &used);

		data += used;
		n -= used;
		if (r == MILTER_NEED_MORE)
			continue;
		if (r != MILTER_READY) {
			log_proto_error(c, r, 0,
					milter_parser_sample(&c->parser));
			conn_close(rc);
			return -1;
		}
		milter_parser_packet(&c->parser, &pkt);
		r = milter_decode(&pkt, &m);
		if (r == 0)
			r = handle(c, &m);
		if (r == 1) {
			conn_close(rc);
			return -1;
		}
		if (r != 0) {
			char s[160];

			buf_sample(s, sizeof(s), pkt.data, pkt.len, 64);
			log_proto_error(c, r == BUF_E_TOO_LARGE ?
					MILTER_E_TOO_LARGE : r, pkt.cmd, s);
			conn_close(rc);
			return -1;
		}
		if (c->busy)
			return rawconn_pause(rc, data, n);
	}
	return 0;
}

/* A new MTA connection, admitted by the skeleton. */
static int on_accept(void *arg, struct server_conn *sc, int fd,
		     const struct sockaddr *sa, socklen_t salen)
{
	struct milter_server *s = arg;
	struct mconn *c = xcalloc(1, sizeof(*c));

	(void)salen;
	c->srv = s;
	milter_parser_init(&c->parser);
	rawconn_open(&c->rc, &conn_ops, &s->conns, s->base, sc, fd, sa,
		     OUT_MAX);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */

/*
 * milter_listen in libmilter's spelling ("unix:PATH", "local:PATH",
 * "inet:PORT@HOST", "inet:PORT", "inet6:PORT@HOST") as util/listen.h
 * spells it, into out.  -1 if it is none of those.
 */
static int listen_spec(const char *m, char *out, size_t outsz)
{
	size_t skip, at;
	bool v6 = false;

	if (strncmp(m, "unix:", 5) == 0 || strncmp(m, "local:", 6) == 0) {
		snprintf(out, outsz, "unix:%s", m + (m[0] == 'u' ? 5 : 6));
		return 0;
	}
	if (strncmp(m, "inet6:", 6) == 0) {
		v6 = true;
		skip = 6;
	} else if (strncmp(m, "inet:", 5) == 0) {
		skip = 5;
	} else {
		return -1;
	}
	m += skip;
	at = strcspn(m, "@");
	if (!m[at])	/* every address */
		snprintf(out, outsz, "inet:%s:%s", v6 ? "[::]" : "0.0.0.0", m);
	else
		snprintf(out, outsz, v6 ? "inet:[%s]:%.*s" : "inet:%s:%.*s",
			 m + at + 1, (int)at, m);
	return 0;
}

/*
 * Anyone who reaches the milter socket can have messages signed with our
 * DKIM keys: say so when it listens beyond loopback.
 */
static void warn_exposed(const char *listen, const char *spec)
{
	if (listen_list_is_loopback(spec))
		return;
	log_msg(LOG_L_WARN, "event=milter_listen_not_local listen=%s "
		"note=\"whoever reaches the milter gets mail signed with our "
		"DKIM keys: keep it reachable by Postfix only (loopback or a "
		"unix socket)\"", listen);
}

/* The skeleton's limits from the config. */
static void limits_of(const struct config *cfg, struct server_limits *lim)
{
	lim->max_connections = cfg->milter_max_connections;
	lim->max_per_client = 0;	/* Postfix is one client */
	lim->request_timeout = cfg->milter_timeout;
	lim->idle_timeout = cfg->milter_timeout;
}

struct milter_server *milter_server_new(struct event_base *base,
					const struct config *cfg,
					struct core_mail *mail, char *err,
					size_t errsz)
{
	struct milter_server *s = xcalloc(1, sizeof(*s));
	struct server_sockopts so = { 0666, -1, -1 };
	struct server_limits lim;
	char spec[512];

	s->base = base;
	s->mail = mail;
	s->listen = xstrdup(cfg->milter_listen);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->done = loopq_new(base, "milter");
	limits_of(cfg, &lim);
	s->srv = server_new(base, "milter", &lim);
	if (listen_spec(s->listen, spec, sizeof(spec)) != 0) {
		snprintf(err, errsz, "milter_listen %s: not unix:PATH or "
			 "inet:PORT@HOST", s->listen);
		milter_server_free(s);
		return NULL;
	}
	if (server_listen(s->srv, "milter_listen", spec, 0, &so, err,
			  errsz) != 0) {
		milter_server_free(s);
		return NULL;
	}
	warn_exposed(s->listen, spec);
	return s;
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

int milter_server_start(struct milter_server *s, char *err, size_t errsz)
{
	while (s->nworkers < MILTER_WORKERS) {
		int r = spawn(&s->workers[s->nworkers], worker, s);

		if (r != 0) {
			snprintf(err, errsz, "milter worker: %s", strerror(r));
			return -1;
		}
		s->nworkers++;
	}
	server_serve_raw(s->srv, on_accept, s);
	log_msg(LOG_L_INFO, "event=milter_listening listen=%s", s->listen);
	return 0;
}

void milter_server_free(struct milter_server *s)
{
	struct mjob *j;
	unsigned i;

	if (!s)
		return;
	rawconn_close_all(&s->conns);
	server_free(s->srv);
	/* Jobs not started never will be; running ones end (the core's DNS
	 * is closed by now) and post back. */
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	j = s->head;
	s->head = s->tail = NULL;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	while (j) {
		struct mjob *next = j->next;

		job_done(j);	/* its connection is dead: both freed */
		j = next;
	}
	for (i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	loopq_free(s->done);	/* runs the jobs that came back */
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->listen);
	free(s);
}
