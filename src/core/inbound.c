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
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/inbound-internal.h"
#include "core/inbound.h"
#include "dns/dns.h"
#include "dns/dns_blocking.h"
#include "mail/dkim_sign.h"
#include "mail/dmarc.h"
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
};

struct core_msg {
	struct core_mail *cm;
	struct msettings *set;
	char *ip;			/* NULL: none */
	struct mailauth *ma;		/* inbound */
	struct mailsign *sign;		/* outbound */
	struct core_signed out;
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
	m->kr = dkim_keyring_load(cfg->dkim_key_dir, err, sizeof(err));
	if (!m->kr)
		log_msg(LOG_L_WARN, "event=milter_warning msg=\"dkim keys not "
			"loaded, outbound signing off\" error=\"%s\"", err);
	return m;
}

/* Free m; its last reference is gone. */
static void settings_free(struct msettings *m)
{
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
	cm->rec = mailrec_new(base);
	return cm;
}

void core_mail_attach(struct core_mail *cm, struct store *st)
{
	mailrec_attach(cm->rec, st);
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
	/* libmilter's workers are detached: wait for their messages. */
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
	if (--cm->set->refs == 0)
		settings_free(cm->set);
	dns_resolver_free(cm->dns);
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
	pthread_mutex_unlock(&cm->lock);
	if (client_ip && client_ip[0])
		m->ip = xstrdup(client_ip);
	/* No client address: local submission (non_smtpd_milters). */
	out = (sasl_login && sasl_login[0]) || !m->ip ||
	      mailauth_ip_in_list(m->set->cfg->internal_networks, m->ip);
	if (out) {
		m->sign = mailsign_new(m->set->kr);
	} else {
		m->ma = mailauth_new(&m->set->ma);
		mailauth_envelope(m->ma, m->ip, helo, mailfrom);
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
	free(m->ip);
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

void core_msg_header(struct core_msg *m, const char *name,
		     const char *value, size_t vlen)
{
	if (m->ma)
		mailauth_header(m->ma, name, value, vlen);
	else
		mailsign_header(m->sign, name, value, vlen);
}

void core_msg_body(struct core_msg *m, const void *p, size_t n)
{
	if (m->ma)
		mailauth_body(m->ma, p, n);
	else
		mailsign_body(m->sign, p, n);
}

const struct mailauth_verdict *core_inbound(struct core_msg *m)
{
	const struct mailauth_verdict *v;

	assert(m->ma != NULL);		/* an inbound message */
	v = mailauth_end(m->ma, m->cm->dns);
	mailrec_dmarc(m->cm->rec, (int64_t)time(NULL), m->ip, v);
	return v;
}

const struct core_signed *core_msg_sign(struct core_msg *m)
{
	struct core_signed *o = &m->out;

	assert(m->sign != NULL);	/* an outbound message */
	mailsign_end(m->sign, &o->sigs, &o->nsigs, &o->error);
	mailrec_corr(m->cm->rec, (int64_t)time(NULL),
		     m->set->cfg->correspondence_ttl, m->sign);
	return o;
}

/* ------------------------------------------------------------------ */
/* mamori scan                                                          */

struct core_scan {
	struct mailauth_config ma;
	struct dmarc_config dm;
	struct dmarc_psl *psl;
	struct dns_resolver *dns;
	struct mailauth *m;
	char authserv[256];
};

struct core_scan *core_scan_new(const struct config *cfg, const char *dns,
				uint64_t now, const char **warn, char *err,
				size_t errsz)
{
	struct core_scan *s = xcalloc(1, sizeof(*s));

	if (cfg->dmarc_mode)
		s->psl = dmarc_psl_load(NULL);
	mailauth_config_set(&s->ma, &s->dm, s->authserv, sizeof(s->authserv),
			    cfg, s->psl, warn);
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
	dmarc_psl_free(s->psl);
	free(s);
}

const struct mailauth_verdict *core_scan(struct core_scan *s,
					 const char *ip, const char *helo,
					 const char *mailfrom, const char *msg,
					 size_t len, size_t *fields)
{
	mailauth_free(s->m);
	s->m = mailauth_new(&s->ma);	/* ma points into s: s never moves */
	mailauth_envelope(s->m, ip, helo, mailfrom);
	*fields = mailauth_message(s->m, msg, len);
	return mailauth_end(s->m, s->dns);
}
