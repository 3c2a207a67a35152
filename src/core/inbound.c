/*
 * inbound - the core's mail path (see inbound.h, and
 * docs/design/inbound-flow.md for the threads a message crosses).
 *
 * struct core_mail holds what every message shares: the settings snapshot
 * (refcounted; a reload swaps the pointer under the lock), the blocking
 * resolver over one libunbound context (dns/dns_blocking.c), the records
 * (mailrec.c) and the count of messages in progress, so that shutdown can
 * wait for them.  A message takes the lock twice, at core_msg_new and
 * core_msg_free; everything in between is its own.
 *
 * An inbound message is also kept whole (header fields as they came,
 * then the body, at most content_max_size bytes) for the one MIME parse
 * of the content checks (core/content.h) at the end.  The known-
 * correspondent index (core/corrindex.h) is core_mail's; outbound
 * messages teach it through the records (mailrec_learn).
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/content.h"
#include "core/corrindex.h"
#include "core/inbound-internal.h"
#include "core/inbound.h"
#include "core/outcontent.h"
#include "core/replycheck.h"
#include "core/sentlog.h"
#include "dns/dns.h"
#include "dns/dns_blocking.h"
#include "mail/dkim_sign.h"
#include "mail/dmarc.h"
#include "mail/mime.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#define DRAIN_SECS 10		/* wait for messages at shutdown */

/* Settings one message uses; refcounted so a reload never pulls them. */
struct msettings {
	int refs;			/* under core_mail.lock */
	const struct config *cfg;
	struct mailauth_config ma;
	struct dmarc_config dmarc;
	struct dkim_keyring *kr;
	struct content_config content;
	char authserv[256];
};

struct core_mail {
	pthread_mutex_t lock;		/* set, refs, active */
	pthread_cond_t cond;
	struct msettings *set;
	unsigned active;		/* messages in progress */
	struct dmarc_psl *psl;
	struct dns_resolver *dns;	/* dns_blocking: workers wait on it */
	struct mailrec *rec;
	struct corrindex *ci;		/* known correspondents */
	/* /metrics, added to by the milter's threads (atomic, relaxed). */
	uint64_t n_inbound[CORE_NACTIONS];	/* by enum core_action */
	uint64_t n_signed, n_unsigned, n_sign_errors;
	uint64_t n_label[CONTENT_NLABELS];	/* messages with each label */
	uint64_t n_dmarc[3];			/* pass, fail, other */
	struct event_base *base;
	struct outcheck *chk;		/* outbound content to the core, or NULL */
	struct sentlog *sent;		/* the sent Message-ID log */
};

struct core_msg {
	struct core_mail *cm;
	struct msettings *set;
	char *ip;			/* NULL: none */
	char *acct;			/* SMTP AUTH login; NULL: none */
	char *mailfrom;			/* envelope sender ("": null) */
	struct mailauth *ma;		/* inbound */
	struct mailsign *sign;		/* outbound */
	struct outmsg *om;		/* outbound, for the content facts */
	struct outcheck *chk;
	struct core_signed out;
	/* inbound content */
	struct buf raw;			/* the message kept, capped */
	bool in_body;
	size_t nverdict;		/* incoming X-Mamori-Verdict fields */
	char *subject;			/* first Subject value, raw */
	struct content_verdict cv;
	struct core_verdict v;
	char *new_subject;
};

/* ------------------------------------------------------------------ */
/* Settings                                                             */

/* Build the settings snapshot for cfg. */
static struct msettings *settings_new(const struct config *cfg,
				      const struct dmarc_psl *psl)
{
	struct msettings *m = xcalloc(1, sizeof(*m));
	const char *warn;
	char err[512];

	m->refs = 1;
	m->cfg = cfg;
	mailauth_config_set(&m->ma, &m->dmarc, m->authserv,
			    sizeof(m->authserv), cfg, psl, &warn);
	if (warn)
		log_msg(LOG_L_WARN, "event=milter_warning msg=\"%s\"", warn);
	content_config_init(&m->content, cfg, psl, m->authserv, err,
			    sizeof(err));
	if (err[0])
		log_msg(LOG_L_WARN, "event=milter_warning msg=\"%s\"", err);
	m->kr = dkim_keyring_load(cfg->dkim_key_dir, err, sizeof(err));
	if (!m->kr)
		log_msg(LOG_L_WARN, "event=milter_warning msg=\"dkim keys not "
			"loaded, outbound signing off\" error=\"%s\"", err);
	return m;
}

/* Free m; its last reference is gone. */
static void settings_free(struct msettings *m)
{
	content_config_deinit(&m->content);
	dkim_keyring_free(m->kr);
	free(m);
}

/* ------------------------------------------------------------------ */
/* The context                                                          */

struct core_mail *core_mail_new(struct event_base *base,
				const struct config *cfg, char *err,
				size_t errsz)
{
	struct core_mail *cm = xcalloc(1, sizeof(*cm));

	pthread_mutex_init(&cm->lock, NULL);
	pthread_cond_init(&cm->cond, NULL);
	cm->psl = dmarc_psl_load(NULL);
	cm->set = settings_new(cfg, cm->psl);
	cm->dns = dns_blocking_new(cfg->dns_upstream, (int)cfg->dns_timeout_ms,
				   err, errsz);
	if (!cm->dns) {
		settings_free(cm->set);
		dmarc_psl_free(cm->psl);
		pthread_mutex_destroy(&cm->lock);
		pthread_cond_destroy(&cm->cond);
		free(cm);
		return NULL;
	}
	cm->sent = sentlog_new(cfg->sent_log_max, cfg->sent_log_ttl);
	cm->rec = mailrec_new(base, cm->sent);
	cm->ci = corrindex_new((size_t)cfg->content_index_max);
	mailrec_set_index(cm->rec, cm->ci);
	cm->base = base;
	return cm;
}

void core_mail_attach(struct core_mail *cm, struct store *st)
{
	mailrec_attach(cm->rec, st);	/* the salt first: sqlite answers now */
	sentlog_attach(cm->sent, st, (int64_t)time(NULL));
}

void core_mail_set_outbound(struct core_mail *cm, struct core *c)
{
	struct outcheck *k = outcheck_new(cm->base, c);

	pthread_mutex_lock(&cm->lock);
	if (!cm->chk) {
		cm->chk = k;
		k = NULL;
	}
	pthread_mutex_unlock(&cm->lock);
	outcheck_free(k);
}

void core_mail_reconfigure(struct core_mail *cm, const struct config *cfg)
{
	struct msettings *n, *old;
	bool last;

	if (!cm)
		return;
	n = settings_new(cfg, cm->psl);
	pthread_mutex_lock(&cm->lock);
	old = cm->set;
	cm->set = n;
	last = --old->refs == 0;
	pthread_mutex_unlock(&cm->lock);
	if (last)
		settings_free(old);
}

void core_mail_close(struct core_mail *cm)
{
	if (cm)
		dns_blocking_close(cm->dns);	/* waiting workers: TEMPFAIL */
}

void core_mail_free(struct core_mail *cm)
{
	struct timespec until;
	bool idle;

	if (!cm)
		return;
	dns_blocking_close(cm->dns);
	/* Messages may still be on other threads: wait for them. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DRAIN_SECS;
	pthread_mutex_lock(&cm->lock);
	while (cm->active > 0)
		if (pthread_cond_timedwait(&cm->cond, &cm->lock, &until) ==
		    ETIMEDOUT)
			break;
	idle = cm->active == 0;
	pthread_mutex_unlock(&cm->lock);
	mailrec_stop(cm->rec);
	if (!idle) {
		/* A straggler still holds cm: leave it (records are off). */
		log_msg(LOG_L_WARN, "event=milter_warning msg=\"messages still "
			"in progress at shutdown\"");
		return;
	}
	mailrec_free(cm->rec);
	outcheck_free(cm->chk);
	sentlog_free(cm->sent);
	if (--cm->set->refs == 0)
		settings_free(cm->set);
	dns_resolver_free(cm->dns);
	corrindex_free(cm->ci);
	dmarc_psl_free(cm->psl);
	pthread_mutex_destroy(&cm->lock);
	pthread_cond_destroy(&cm->cond);
	free(cm);
}

/* ------------------------------------------------------------------ */
/* Messages                                                             */

struct core_msg *core_msg_new(struct core_mail *cm, const char *client_ip,
			      const char *helo, const char *mailfrom,
			      const char *sasl_login)
{
	struct core_msg *m = xcalloc(1, sizeof(*m));
	bool out;

	m->cm = cm;
	pthread_mutex_lock(&cm->lock);
	cm->active++;
	m->set = cm->set;
	m->set->refs++;
	m->chk = cm->chk;
	pthread_mutex_unlock(&cm->lock);
	if (client_ip && client_ip[0])
		m->ip = xstrdup(client_ip);
	if (sasl_login && sasl_login[0])
		m->acct = xstrdup(sasl_login);
	m->mailfrom = xstrdup(mailfrom ? mailfrom : "");
	/* No client address: local submission (non_smtpd_milters). */
	out = (sasl_login && sasl_login[0]) || !m->ip ||
	      mailauth_ip_in_list(m->set->cfg->internal_networks, m->ip);
	if (out) {
		m->sign = mailsign_new(m->set->kr);
		if (m->chk && sasl_login && sasl_login[0])
			m->om = outmsg_new(sasl_login, m->ip);
	} else {
		m->ma = mailauth_new(&m->set->ma);
		mailauth_envelope(m->ma, m->ip, helo, mailfrom);
		buf_init(&m->raw, m->set->content.enabled ?
			 (size_t)m->set->cfg->content_max_size : 0);
	}
	return m;
}

void core_msg_free(struct core_msg *m)
{
	struct core_mail *cm;
	bool last;

	if (!m)
		return;
	cm = m->cm;
	mailauth_free(m->ma);
	mailsign_free(m->sign);
	buf_deinit(&m->raw);
	free(m->subject);
	free(m->new_subject);
	outmsg_free(m->om);
	free(m->ip);
	free(m->acct);
	free(m->mailfrom);
	pthread_mutex_lock(&cm->lock);
	last = --m->set->refs == 0;
	cm->active--;
	pthread_cond_broadcast(&cm->cond);
	pthread_mutex_unlock(&cm->lock);
	if (last)
		settings_free(m->set);
	free(m);
}

bool core_msg_is_outbound(const struct core_msg *m)
{
	return m->sign != NULL;
}

/* Keep n bytes of the inbound message for the content parse, as many
 * as fit under content_max_size (the parse reads what was kept). */
static void keep(struct core_msg *m, const void *p, size_t n)
{
	size_t room = m->raw.max - m->raw.len;

	if (m->raw.max == 0)
		return;
	buf_append(&m->raw, p, n < room ? n : room);
}

void core_msg_header(struct core_msg *m, const char *name,
		     const char *value, size_t vlen)
{
	if (!m->ma) {
		mailsign_header(m->sign, name, value, vlen);
		if (m->om)
			outmsg_header(m->om, name, value, vlen);
		return;
	}
	mailauth_header(m->ma, name, value, vlen);
	if (strcasecmp(name, CORE_VERDICT_FIELD) == 0)
		m->nverdict++;
	else if (strcasecmp(name, "Subject") == 0 && !m->subject)
		m->subject = xstrndup(value, vlen);
	keep(m, name, strlen(name));
	keep(m, ":", 1);
	keep(m, value, vlen);
	keep(m, "\r\n", 2);
}

void core_msg_body(struct core_msg *m, const void *p, size_t n)
{
	if (!m->ma) {
		mailsign_body(m->sign, p, n);
		if (m->om)
			outmsg_body(m->om, p, n);
		return;
	}
	mailauth_body(m->ma, p, n);
	if (!m->in_body) {
		keep(m, "\r\n", 2);
		m->in_body = true;
	}
	keep(m, p, n);
}

const char *core_action_name(enum core_action a)
{
	switch (a) {
	case CORE_TAG: return "tag";
	case CORE_HOLD: return "hold";
	case CORE_TEMPFAIL: return "tempfail";
	case CORE_REJECT: return "reject";
	default: return "accept";
	}
}

const char *core_verdict_reasons(const struct core_verdict *v, char *buf,
				 size_t bufsz)
{
	const struct content_verdict *c = v->content;
	size_t i, n = 0;

	snprintf(buf, bufsz, "-");
	for (i = 0; c && i < c->nreasons && n < bufsz; i++)
		n += (size_t)snprintf(buf + n, bufsz - n, "%s%s(%+d) %s",
				      i ? "; " : "", c->reason[i].name,
				      c->reason[i].points, c->reason[i].detail);
	return buf;
}

/* The DMARC action in core terms. */
static enum core_action auth_action(const struct mailauth_verdict *a)
{
	switch (a->action) {
	case MAILAUTH_REJECT: return CORE_REJECT;
	case MAILAUTH_TEMPFAIL: return CORE_TEMPFAIL;
	case MAILAUTH_QUARANTINE: return CORE_HOLD;
	default: return a->tag_name ? CORE_TAG : CORE_ACCEPT;
	}
}

/* What the sent-log check (core/replycheck.h) needs of a message. */
struct replyctx {
	const struct sentlog *sl;
	const char *mailfrom;
	const struct config *cfg;
};

/*
 * The content verdict of msg[0..len) into cv (parsed once, checked,
 * decided), then the stricter of it and auth into out.  *subj_out gets a
 * malloc'd new Subject value when the prefix applies (subject: the raw
 * old one, or NULL).
 */
static void evaluate(const struct content_config *cc,
		     const struct corrindex *ci, const char *msg, size_t len,
		     const struct mailauth_verdict *auth, const char *subject,
		     struct content_verdict *cv, struct core_verdict *out,
		     char **subj_out, const struct replyctx *rx)
{
	struct mime_summary *ms = NULL;
	struct content_input in = { .auth = auth, .ci = ci };
	enum core_action ca;

	content_verdict_init(cv);
	if (cc->enabled && len && mime_parse(msg, len, &ms) == 0) {
		in.ms = ms;
		content_check(cv, cc, &in);
		/* Other modules append their reasons here (content.h). */
		if (rx)
			replycheck_content(rx->sl, ms, rx->mailfrom, auth,
					   rx->cfg, cc->label_score,
					   (int64_t)time(NULL), cv);
	}
	content_decide(cv, cc);
	mime_summary_free(ms);
	memset(out, 0, sizeof(*out));
	out->auth = auth;
	out->content = cv;
	out->action = auth_action(auth);
	out->rcode = auth->rcode;
	out->xcode = auth->xcode;
	out->reply = auth->reply;
	out->reason = auth->reason;
	ca = cv->action == CONTENT_REJECT ? CORE_REJECT :
	     cv->action == CONTENT_HOLD ? CORE_HOLD :
	     cv->action == CONTENT_TAG ? CORE_TAG : CORE_ACCEPT;
	if (cv->action >= CONTENT_TAG)
		out->verdict_header = cv->header;
	if (cv->subject_prefix) {
		const char *o = subject ? subject : "";

		while (*o == ' ' || *o == '\t')
			o++;
		*subj_out = xasprintf("%s%s%s", cv->subject_prefix,
				      *o ? " " : "", o);
		out->subject = *subj_out;
	}
	if (ca <= out->action)
		return;			/* DMARC's is as strict */
	out->action = ca;
	out->reason = cv->header;
	if (ca == CORE_REJECT) {
		out->rcode = "550";
		out->xcode = "5.7.1";
		out->reply = cv->reply;
	}
}

_Static_assert(CORE_MAIL_NVERDICT_COUNTS ==
	       CORE_NACTIONS + CONTENT_NLABELS + 3, "labels counted");

/* Count a verdict's labels and DMARC result (atomic, as n_inbound). */
static void count_verdict(struct core_mail *cm, unsigned labels,
			  const char *dmarc)
{
	int i = !dmarc ? 2 : strcmp(dmarc, "pass") == 0 ? 0 :
		strcmp(dmarc, "fail") == 0 ? 1 : 2;
	unsigned l;

	for (l = 0; l < CONTENT_NLABELS; l++)
		if (labels & (1u << l))
			__atomic_fetch_add(&cm->n_label[l], 1,
					   __ATOMIC_RELAXED);
	__atomic_fetch_add(&cm->n_dmarc[i], 1, __ATOMIC_RELAXED);
}

const struct core_verdict *core_inbound(struct core_msg *m)
{
	const struct mailauth_verdict *v;
	struct replyctx rx = { m->cm->sent, m->mailfrom, m->set->cfg };

	assert(m->ma != NULL);		/* an inbound message */
	v = mailauth_end(m->ma, m->cm->dns);
	mailrec_dmarc(m->cm->rec, (int64_t)time(NULL), m->ip, v);

	evaluate(&m->set->content, m->cm->ci, m->raw.p, m->raw.len, v,
		 m->subject, &m->cv, &m->v, &m->new_subject, &rx);
	m->v.ndel_verdict = m->nverdict;
	if ((unsigned)m->v.action < CORE_NACTIONS)
		__atomic_fetch_add(&m->cm->n_inbound[m->v.action], 1,
				   __ATOMIC_RELAXED);
	count_verdict(m->cm, m->cv.labels, v->dmarc_result);
	return &m->v;
}

/* What an outbound message teaches the known-correspondent index. */
static void learn(struct core_msg *m)
{
	const struct content_config *cc = &m->set->content;
	struct mime_summary *ms = NULL;
	struct buf h;
	uint64_t keys[CORRINDEX_LEARN_MAX];
	const char *name, *fv;
	size_t flen, i, n, npairs;

	if (!cc->enabled)
		return;
	buf_init(&h, 256 * 1024);
	for (i = 0; (name = mailsign_field(m->sign, i, &fv, &flen)); i++)
		if (strcasecmp(name, "From") == 0 || strcasecmp(name, "To") == 0
		    || strcasecmp(name, "Cc") == 0)
			buf_printf(&h, "%s:%.*s\r\n", name, (int)flen, fv);
	buf_puts(&h, "\r\n");
	if (mime_parse(h.p, h.len, &ms) == 0) {
		n = corrindex_learn(m->cm->ci, cc->la, cc->psl, ms, keys,
				    CORRINDEX_LEARN_MAX, &npairs);
		mailrec_learn(m->cm->rec, (int64_t)time(NULL),
			      m->set->cfg->correspondence_ttl, keys, n, npairs);
	}
	mime_summary_free(ms);
	buf_deinit(&h);
}

const struct core_signed *core_msg_sign(struct core_msg *m)
{
	struct core_signed *o = &m->out;

	assert(m->sign != NULL);	/* an outbound message */
	mailsign_end(m->sign, &o->sigs, &o->nsigs, &o->error);
	__atomic_fetch_add(o->nsigs ? &m->cm->n_signed : &m->cm->n_unsigned, 1,
			   __ATOMIC_RELAXED);
	if (o->error)
		__atomic_fetch_add(&m->cm->n_sign_errors, 1, __ATOMIC_RELAXED);
	mailrec_corr(m->cm->rec, (int64_t)time(NULL),
		     m->set->cfg->correspondence_ttl, m->acct, m->sign);
	learn(m);
	return o;
}

void core_msg_outbound_check(struct core_msg *m, const char *queue_id,
			     struct verdict *v)
{
	outcheck_run(m->chk, m->om, queue_id, v);
}

/* ------------------------------------------------------------------ */
/* mamori scan                                                          */

struct core_scan {
	struct mailauth_config ma;
	struct dmarc_config dm;
	struct dmarc_psl *psl;
	struct dns_resolver *dns;
	struct mailauth *m;
	struct content_config content;
	struct content_verdict cv;
	struct core_verdict v;
	char *new_subject;
	char authserv[256];
};

struct core_scan *core_scan_new(const struct config *cfg, const char *dns,
				uint64_t now, const char **warn, char *err,
				size_t errsz)
{
	struct core_scan *s = xcalloc(1, sizeof(*s));

	static char cwarn[512];

	/* the content checks need the PSL in either DMARC mode */
	s->psl = dmarc_psl_load(NULL);
	mailauth_config_set(&s->ma, &s->dm, s->authserv, sizeof(s->authserv),
			    cfg, cfg->dmarc_mode ? s->psl : NULL, warn);
	content_config_init(&s->content, cfg, s->psl, s->authserv, cwarn,
			    sizeof(cwarn));
	if (cwarn[0] && warn && !*warn)
		*warn = cwarn;
	s->ma.now = now;
	s->dns = dns_blocking_new(dns ? dns : cfg->dns_upstream,
				  (int)cfg->dns_timeout_ms, err, errsz);
	if (!s->dns) {
		core_scan_free(s);
		return NULL;
	}
	return s;
}

void core_scan_free(struct core_scan *s)
{
	if (!s)
		return;
	mailauth_free(s->m);
	dns_resolver_free(s->dns);
	content_config_deinit(&s->content);
	free(s->new_subject);
	dmarc_psl_free(s->psl);
	free(s);
}

const struct core_verdict *core_scan(struct core_scan *s, const char *ip,
				     const char *helo, const char *mailfrom,
				     const char *msg, size_t len,
				     size_t *fields)
{
	const struct mailauth_verdict *v;

	mailauth_free(s->m);
	s->m = mailauth_new(&s->ma);	/* ma points into s: s never moves */
	mailauth_envelope(s->m, ip, helo, mailfrom);
	*fields = mailauth_message(s->m, msg, len);
	v = mailauth_end(s->m, s->dns);
	free(s->new_subject);
	s->new_subject = NULL;
	/* the Subject prefix is not shown: no raw Subject kept here */
	evaluate(&s->content, NULL, msg, len, v, NULL, &s->cv, &s->v,
		 &s->new_subject, NULL);
	return &s->v;
}

enum core_dkim_state core_mail_key_state(struct core_mail *cm,
					 const char *domain,
					 const char *selector)
{
	enum core_dkim_state r = CORE_DKIM_NOT_LOADED;
	const char *sel;
	const void *pk;
	size_t i;

	if (!cm)
		return CORE_DKIM_NO_SIGNING;
	/* The settings (and keyring) are swapped under the lock on reload. */
	pthread_mutex_lock(&cm->lock);
	for (i = 0; cm->set->kr &&
	     (sel = dkim_keyring_key(cm->set->kr, domain, i, &pk)); i++) {
		if (strcasecmp(sel, selector) == 0) {
			r = CORE_DKIM_LOADED;
			break;
		}
	}
	pthread_mutex_unlock(&cm->lock);
	return r;
}

void core_mail_counts(struct core_mail *cm, uint64_t inbound[CORE_NACTIONS],
		      uint64_t *signed_, uint64_t *unsigned_,
		      uint64_t *sign_errors)
{
	size_t i;

	for (i = 0; i < CORE_NACTIONS; i++)
		inbound[i] = cm ? __atomic_load_n(&cm->n_inbound[i],
						  __ATOMIC_RELAXED) : 0;
	*signed_ = cm ? __atomic_load_n(&cm->n_signed, __ATOMIC_RELAXED) : 0;
	*unsigned_ = cm ? __atomic_load_n(&cm->n_unsigned,
					  __ATOMIC_RELAXED) : 0;
	*sign_errors = cm ? __atomic_load_n(&cm->n_sign_errors,
					    __ATOMIC_RELAXED) : 0;
}

void core_mail_verdict_counts(struct core_mail *cm,
			      uint64_t n[CORE_MAIL_NVERDICT_COUNTS])
{
	uint64_t s, u, e;
	size_t i;

	core_mail_counts(cm, n, &s, &u, &e);
	for (i = 0; i < CONTENT_NLABELS; i++)
		n[CORE_NACTIONS + i] = cm ? __atomic_load_n(&cm->n_label[i],
						__ATOMIC_RELAXED) : 0;
	for (i = 0; i < 3; i++)
		n[CORE_NACTIONS + CONTENT_NLABELS + i] = cm ?
			__atomic_load_n(&cm->n_dmarc[i], __ATOMIC_RELAXED) : 0;
}
