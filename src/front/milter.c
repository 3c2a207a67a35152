/*
 * milter - the libmilter adapter (see milter.h and docs/design/milter.md).
 *
 * Threads:
 *   - libmilter's: smfi_main() on the "milter" thread we start, one
 *     worker thread per SMTP connection, libmilter's signal thread.  The
 *     callbacks below run on the workers: they only translate, call
 *     front/mailauth.c or the DKIM signer, and queue store work.
 *   - the DNS thread of dns/dns_blocking.c: one libunbound context and
 *     cache for every worker; a worker's question blocks it until the
 *     answer or DNS_TEMPFAIL (dns_unbound's dns_timeout_ms).
 *   - the event-loop thread: drains the store queue (correspondence
 *     records, DMARC aggregate counts) and owns every store_* call.
 *
 * Milter protocol 6 negotiation asks for no CONNECT/HELO/MAIL/HEADER/BODY
 * replies, no RCPT/DATA/UNKNOWN/EOH steps, and header values with their
 * leading space (DKIM simple canonicalization needs the exact bytes).
 * Values we add get the space back, folding as "\n\t".
 *
 * libmilter's callbacks carry no user pointer besides the per-connection
 * private data, so the server is the file's one global (libmilter allows
 * one milter per process anyway).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <libmilter/mfapi.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/core.h"
#include "dns/dns_blocking.h"
#include "front/mailauth.h"
#include "front/milter.h"
#include "mail/dkim_sign.h"
#include "mail/dmarc.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/xalloc.h"

#define OUT_HDR_MAX (256 * 1024)	/* outbound header bytes kept to sign */
#define CORR_RCPT_MAX 64		/* participants recorded per message */
#define AGG_MAX 4096			/* distinct DMARC rows between flushes */
#define AGG_FLUSH_SECS 60
#define AGG_TTL (400 * 86400L)		/* aggregate rows kept ~13 months */
#define DRAIN_SECS 10			/* wait for messages at shutdown */

/* Settings one message uses; refcounted so a reload never pulls them. */
struct msettings {
	int refs;
	const struct config *cfg;
	struct mailauth_config ma;
	struct dmarc_config dmarc;
	struct dkim_keyring *kr;
	char authserv[256];
};

/* One unit of store work queued for the event loop. */
struct sitem {
	char *ns, *key, *value;	/* value NULL: a DMARC count (+1) */
	int64_t expires;
	struct sitem *next;
};

/* A pending DMARC aggregate count. */
struct agg {
	char *key;
	long n;
};

struct milter_server {
	struct event_base *base;
	struct store *st;
	pthread_mutex_t lock;	/* everything below that threads share */
	pthread_cond_t cond;
	struct msettings *set;
	struct dmarc_psl *psl;
	char salt[65];
	bool closing;
	unsigned active;	/* messages in progress */
	struct dns_resolver *dns;	/* dns_blocking: workers wait on it */
	/* store queue */
	struct event *ev_store, *ev_flush;
	struct sitem *sq, **sq_tail;
	struct agg agg[AGG_MAX];
	size_t nagg;
	/* smfi */
	pthread_t mthread;
	bool mthread_up;
	char *listen;
};

/* A header kept for signing outbound mail. */
struct ohdr {
	char *name, *value;
	size_t vlen;
};

/* Per message. */
struct mmsg {
	struct msettings *set;
	bool outbound;
	char *mailfrom;
	char *auth;
	struct mailauth *ma;
	struct ohdr *hdrs;
	size_t nhdrs, hbytes;
	bool overflow;
	struct dkim_signer *signer;
	bool signer_tried;
};

/* Per connection (smfi_setpriv). */
struct mconn {
	unsigned long pflags;	/* negotiated SMFIP_* */
	char ip[INET6_ADDRSTRLEN];
	char *helo;
	struct mmsg *msg;
};

static struct milter_server *srv;

/* ------------------------------------------------------------------ */
/* Settings                                                             */

/* Build the settings snapshot for cfg (event-loop thread). */
static struct msettings *settings_new(struct milter_server *s,
				      const struct config *cfg)
{
	struct msettings *m = xcalloc(1, sizeof(*m));
	const char *warn;
	char err[512];

	m->refs = 1;
	m->cfg = cfg;
	mailauth_config_set(&m->ma, &m->dmarc, m->authserv,
			    sizeof(m->authserv), cfg, s->psl, &warn);
	if (warn)
		log_msg(LOG_L_WARN, "event=milter_warning msg=\"%s\"", warn);
	m->kr = dkim_keyring_load(cfg->dkim_key_dir, err, sizeof(err));
	if (!m->kr)
		log_msg(LOG_L_WARN, "event=milter_warning msg=\"dkim keys not "
			"loaded, outbound signing off\" error=\"%s\"", err);
	return m;
}

/* Drop one reference (any thread; caller holds no lock). */
static void settings_put(struct milter_server *s, struct msettings *m)
{
	bool last;

	if (!m)
		return;
	pthread_mutex_lock(&s->lock);
	last = --m->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (last) {
		dkim_keyring_free(m->kr);
		free(m);
	}
}

/* Take a reference to the current settings. */
static struct msettings *settings_get(struct milter_server *s)
{
	struct msettings *m;

	pthread_mutex_lock(&s->lock);
	m = s->set;
	m->refs++;
	pthread_mutex_unlock(&s->lock);
	return m;
}

/* ------------------------------------------------------------------ */
/* Store work, on the event loop                                        */

/* Queue store work from a worker; value NULL counts key in dmarc_agg. */
static void queue_store(struct milter_server *s, const char *ns,
			const char *key, const char *value, int64_t expires)
{
	struct sitem *it = xcalloc(1, sizeof(*it));

	it->ns = xstrdup(ns);
	it->key = xstrdup(key);
	it->value = value ? xstrdup(value) : NULL;
	it->expires = expires;
	pthread_mutex_lock(&s->lock);
	*s->sq_tail = it;
	s->sq_tail = &it->next;
	pthread_mutex_unlock(&s->lock);
	event_active(s->ev_store, EV_READ, 0);
}

/* A read-modify-write of one aggregate row. */
struct aggput {
	struct milter_server *s;
	char *key;
	long n;
};

/* The old count arrived: write old + n. */
/* The write of a count ended; a failure loses it, and says so. */
static void agg_put_done(void *arg, int result)
{
	char *key = arg, q[256];

	if (result != STORE_OK)
		log_msg(LOG_L_WARN, "event=dmarc_agg_lost key=%s error=%s",
			log_q(q, sizeof(q), key), store_result_str(result));
	free(key);
}

static void agg_got(void *arg, int result, const char *value)
{
	struct aggput *p = arg;
	char v[32], q[256], *end = NULL;
	long old = 0;

	if (result == STORE_OK && value) {
		old = strtol(value, &end, 10);
		if (end == value || *end || old < 0) {
			/* Not ours to overwrite with a smaller number. */
			log_msg(LOG_L_WARN, "event=dmarc_agg_lost key=%s "
				"count=%ld error=\"stored value is not a "
				"count\"", log_q(q, sizeof(q), p->key), p->n);
			result = -1;
		}
	}
	if (result == STORE_E_RETRY || result < 0) {
		if (end == NULL)
			log_msg(LOG_L_WARN, "event=dmarc_agg_lost key=%s "
				"count=%ld error=%s",
				log_q(q, sizeof(q), p->key), p->n,
				store_result_str(result));
		free(p->key);
	} else {
		snprintf(v, sizeof(v), "%ld", old + p->n);
		/* The key goes to the callback, which frees it. */
		store_put(p->s->st, "dmarc_agg", p->key, v,
			  (int64_t)time(NULL) + AGG_TTL, agg_put_done, p->key);
	}
	free(p);
}

/* Write the pending DMARC counts. */
static void agg_flush(struct milter_server *s)
{
	size_t i;

	for (i = 0; i < s->nagg; i++) {
		struct aggput *p = xcalloc(1, sizeof(*p));

		p->s = s;
		p->key = s->agg[i].key;
		p->n = s->agg[i].n;
		store_get(s->st, "dmarc_agg", p->key, agg_got, p);
	}
	s->nagg = 0;
}

/* Count one aggregate row in memory. */
static void agg_add(struct milter_server *s, char *key)
{
	size_t i;

	for (i = 0; i < s->nagg; i++)
		if (strcmp(s->agg[i].key, key) == 0) {
			s->agg[i].n++;
			free(key);
			return;
		}
	if (s->nagg == AGG_MAX)
		agg_flush(s);
	s->agg[s->nagg].key = key;
	s->agg[s->nagg++].n = 1;
}

/* Event loop: run the queued store work. */
static void on_store_queue(evutil_socket_t fd, short what, void *arg)
{
	struct milter_server *s = arg;
	struct sitem *it, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&s->lock);
	it = s->sq;
	s->sq = NULL;
	s->sq_tail = &s->sq;
	pthread_mutex_unlock(&s->lock);
	for (; it; it = next) {
		next = it->next;
		if (!s->st) {
			free(it->key);
		} else if (it->value) {
			store_put(s->st, it->ns, it->key, it->value,
				  it->expires, NULL, NULL);
			free(it->key);
		} else {
			agg_add(s, it->key);	/* takes the key */
		}
		free(it->ns);
		free(it->value);
		free(it);
	}
}

/* Event loop timer: flush the counts. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (((struct milter_server *)arg)->st)
		agg_flush(arg);
}

/* ------------------------------------------------------------------ */
/* Helpers for the callbacks                                            */

/* A new string with every bare LF of v[0..n) turned into CRLF. */
static char *crlf_dup(const char *v, size_t n, size_t *outn)
{
	char *o = xmalloc(2 * n + 1);
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (v[i] == '\n' && (i == 0 || v[i - 1] != '\r'))
			o[k++] = '\r';
		o[k++] = v[i];
	}
	o[k] = '\0';
	*outn = k;
	return o;
}

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

/* SHA-256 of salt ":" item (lowercased by the caller) as hex into out. */
static void corr_hash(const char *salt, const char *item, char out[65])
{
	unsigned char md[32];
	unsigned n = 0, i;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, salt, strlen(salt));
	EVP_DigestUpdate(c, ":", 1);
	EVP_DigestUpdate(c, item, strlen(item));
	EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Free a message's state. */
static void msg_free(struct milter_server *s, struct mmsg *m)
{
	size_t i;

	if (!m)
		return;
	mailauth_free(m->ma);
	dkim_signer_free(m->signer);
	for (i = 0; i < m->nhdrs; i++) {
		free(m->hdrs[i].name);
		free(m->hdrs[i].value);
	}
	free(m->hdrs);
	free(m->mailfrom);
	free(m->auth);
	settings_put(s, m->set);
	free(m);
	pthread_mutex_lock(&s->lock);
	s->active--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
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

/* MAIL FROM: a new message; inbound or outbound is decided here. */
static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_server *s = srv;
	struct mconn *c = conn_of(ctx);
	struct mmsg *m;
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	char *from = xstrdup(argv && argv[0] ? argv[0] : "");
	size_t n = strlen(from);

	msg_free(s, c->msg);
	if (n >= 2 && from[0] == '<' && from[n - 1] == '>') {
		memmove(from, from + 1, n - 2);
		from[n - 2] = '\0';
	}
	m = xcalloc(1, sizeof(*m));
	pthread_mutex_lock(&s->lock);
	s->active++;
	pthread_mutex_unlock(&s->lock);
	m->set = settings_get(s);
	m->mailfrom = from;
	m->auth = auth && auth[0] ? xstrdup(auth) : NULL;
	/* No client address: local submission (non_smtpd_milters). */
	m->outbound = m->auth || !c->ip[0] ||
		mailauth_ip_in_list(m->set->cfg->internal_networks, c->ip);
	if (!m->outbound) {
		m->ma = mailauth_new(&m->set->ma);
		mailauth_envelope(m->ma, c->ip, c->helo, from);
	}
	c->msg = m;
	return no_reply(c, SMFIP_NR_MAIL);
}

/* One header field. */
static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct mconn *c = conn_of(ctx);
	struct mmsg *m = c->msg;
	size_t vlen = strlen(value);

	if (!m)
		return no_reply(c, SMFIP_NR_HDR);
	if (!(c->pflags & SMFIP_HDR_LEADSPC) && vlen) {
		/* Without the exact bytes simple canonicalization fails;
		 * the usual single space is the best guess. */
		char *v = xasprintf(" %s", value);

		cb_header(ctx, name, v);
		free(v);
		return no_reply(c, SMFIP_NR_HDR);
	}
	if (m->ma) {
		mailauth_header(m->ma, name, value, vlen);
	} else if (!m->overflow) {
		struct ohdr *h;

		m->hbytes += strlen(name) + vlen;
		if (m->hbytes > OUT_HDR_MAX) {
			m->overflow = true;
			return no_reply(c, SMFIP_NR_HDR);
		}
		m->hdrs = xrealloc(m->hdrs, (m->nhdrs + 1) * sizeof(*m->hdrs));
		h = &m->hdrs[m->nhdrs++];
		h->name = xstrdup(name);
		h->value = crlf_dup(value, vlen, &h->vlen);
	}
	return no_reply(c, SMFIP_NR_HDR);
}

/* The From domain of an outbound message, or NULL. */
static const char *out_from_domain(struct mmsg *m, struct dmarc_from *f)
{
	const char *vals[8];
	size_t lens[8], i, n = 0;

	for (i = 0; i < m->nhdrs && n < 8; i++)
		if (strcasecmp(m->hdrs[i].name, "From") == 0) {
			vals[n] = m->hdrs[i].value;
			lens[n++] = m->hdrs[i].vlen;
		}
	if (dmarc_from_parse(vals, lens, n, f) != DMARC_FROM_OK)
		return NULL;
	return f->domain[0];
}

/* Outbound: start the signer once the header is complete. */
static void out_start_signer(struct mmsg *m)
{
	struct dmarc_from f;
	const char *dom;
	size_t i;

	if (m->signer_tried)
		return;
	m->signer_tried = true;
	if (m->overflow || !m->set->kr)
		return;
	dom = out_from_domain(m, &f);
	if (!dom || !dkim_keyring_has(m->set->kr, dom))
		return;
	m->signer = dkim_signer_new(m->set->kr, dom, 0);
	for (i = 0; m->signer && i < m->nhdrs; i++)
		dkim_signer_header(m->signer, m->hdrs[i].name,
				   strlen(m->hdrs[i].name), m->hdrs[i].value,
				   m->hdrs[i].vlen);
}

/* A body chunk. */
static sfsistat cb_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
	struct mconn *c = conn_of(ctx);
	struct mmsg *m = c->msg;

	if (m && m->ma) {
		mailauth_body(m->ma, p, n);
	} else if (m) {
		out_start_signer(m);
		if (m->signer)
			dkim_signer_body(m->signer, p, n);
	}
	return no_reply(c, SMFIP_NR_BODY);
}

/* Outbound: queue the hashed correspondence record. */
static void out_record(struct milter_server *s, struct mmsg *m)
{
	char *addrs[CORR_RCPT_MAX], *from[1] = { NULL };
	char h[65], hf[65], hm[65];
	const char *msgid = NULL;
	struct buf v;
	size_t i, k, na = 0, nf = 0;
	int64_t now = time(NULL), exp = now + m->set->cfg->correspondence_ttl;

	for (i = 0; i < m->nhdrs; i++) {
		const struct ohdr *o = &m->hdrs[i];

		if (strcasecmp(o->name, "Message-ID") == 0 && !msgid)
			msgid = o->value;
		else if (strcasecmp(o->name, "From") == 0 && !nf)
			nf = mailauth_addresses(o->value, o->vlen, from, 1);
		else if ((strcasecmp(o->name, "To") == 0 ||
			  strcasecmp(o->name, "Cc") == 0) && na < CORR_RCPT_MAX)
			na += mailauth_addresses(o->value, o->vlen, addrs + na,
						 CORR_RCPT_MAX - na);
	}
	if (na > CORR_RCPT_MAX)
		na = CORR_RCPT_MAX;
	if (!from[0])
		goto out;
	corr_hash(s->salt, from[0], hf);
	buf_init(&v, 16384);
	buf_printf(&v, "{\"t\":%lld,\"from\":\"%s\",\"rcpt\":[", (long long)now,
		   hf);
	for (k = 0; k < na; k++) {
		char key[140];

		corr_hash(s->salt, addrs[k], h);
		buf_printf(&v, "%s\"%s\"", k ? "," : "", h);
		snprintf(key, sizeof(key), "p:%s:%s", hf, h);
		queue_store(s, "corr", key, "{}", exp);
	}
	buf_puts(&v, "]}");
	if (msgid) {
		char *id = xstrdup(msgid), *p = id, *e;
		char key[80];

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\r' ||
				 e[-1] == '\n' || e[-1] == '\t'))
			e--;
		*e = '\0';
		corr_hash(s->salt, p, hm);
		snprintf(key, sizeof(key), "m:%s", hm);
		queue_store(s, "corr", key, v.p, exp);
		free(id);
	}
	buf_deinit(&v);
out:
	for (k = 0; k < na; k++)
		free(addrs[k]);
	free(from[0]);
}

/* Outbound end of message: sign and record. */
static sfsistat out_eom(SMFICTX *ctx, struct mconn *c, struct mmsg *m)
{
	const char *const *vals;
	const char *qid = smfi_getsymval(ctx, "i");
	char err[256], q[LOG_QSZ];
	size_t n = 0, i;
	bool signed_ = false;

	out_start_signer(m);
	if (m->signer) {
		if (dkim_signer_end(m->signer, &vals, &n, err, sizeof(err)) != 0)
			log_msg(LOG_L_WARN, "event=dkim_sign_failed queue_id=%s "
				"error=%s", qid ? qid : "-",
				log_q(q, sizeof(q), err));
		for (i = n; i-- > 0;) {
			char *v = milter_value(vals[i], true);

			if (smfi_insheader(ctx, 0, "DKIM-Signature", v) ==
			    MI_SUCCESS)
				signed_ = true;
			free(v);
		}
	}
	out_record(srv, m);
	log_msg(LOG_L_INFO, "event=milter_outbound queue_id=%s client=%s "
		"sasl=%s dkim_signed=%s", qid ? qid : "-",
		c->ip[0] ? c->ip : "-", log_q(q, sizeof(q), m->auth ? m->auth :
					      "-"),
		signed_ ? "yes" : "no");
	return SMFIS_CONTINUE;
}

/* Inbound end of message: evaluate, edit the header, apply the action. */
static sfsistat in_eom(SMFICTX *ctx, struct mconn *c, struct mmsg *m)
{
	struct milter_server *s = srv;
	const struct mailauth_verdict *v = mailauth_end(m->ma, srv->dns);
	const char *qid = smfi_getsymval(ctx, "i");
	char q1[LOG_QSZ], q2[LOG_QSZ], *t;
	time_t now = time(NULL);
	size_t i;
	sfsistat rc = SMFIS_CONTINUE;

	for (i = 0; i < v->ndel; i++)
		smfi_chgheader(ctx, (char *)v->del[i].name, v->del[i].index,
			       NULL);
	if (v->received_spf) {
		t = milter_value(v->received_spf, true);
		smfi_insheader(ctx, 0, "Received-SPF", t);
		free(t);
	}
	t = milter_value(v->ar, true);
	smfi_insheader(ctx, 0, "Authentication-Results", t);
	free(t);
	if (v->tag_name) {
		t = milter_value(v->tag_value, true);
		smfi_insheader(ctx, 0, (char *)v->tag_name, t);
		free(t);
	}
	switch (v->action) {
	case MAILAUTH_REJECT:
	case MAILAUTH_TEMPFAIL:
		t = reply_text(v->reply);
		smfi_setreply(ctx, (char *)v->rcode, (char *)v->xcode, t);
		free(t);
		rc = v->action == MAILAUTH_REJECT ? SMFIS_REJECT :
			SMFIS_TEMPFAIL;
		break;
	case MAILAUTH_QUARANTINE:
		t = reply_text(v->reason);
		smfi_quarantine(ctx, t);
		free(t);
		break;
	case MAILAUTH_ACCEPT:
		break;
	}
	log_msg(LOG_L_INFO, "event=milter_inbound queue_id=%s client=%s "
		"from_domain=%s spf=%s dkim=%s dmarc=%s action=%s "
		"disposition=%s forged_ar=%zu reason=%s", qid ? qid : "-",
		c->ip[0] ? c->ip : "-",
		log_q(q1, sizeof(q1), v->from_domain[0] ? v->from_domain : "-"),
		v->spf_result, v->dkim_result, v->dmarc_result,
		mailauth_action_name(v->action), v->disposition, v->ndel,
		log_q(q2, sizeof(q2), v->reason ? v->reason : "-"));
	/* Aggregate rows only for a From domain with an answer. */
	if (v->from_domain[0] && v->action != MAILAUTH_TEMPFAIL) {
		char *key = core_dmarc_agg_key(now, c->ip, v->from_domain,
					       v->spf_result, v->dkim_result,
					       v->dmarc_result, v->disposition);

		queue_store(s, CORE_DMARC_AGG_NS, key, NULL, 0);
		free(key);
	}
	return rc;
}

/* End of message. */
static sfsistat cb_eom(SMFICTX *ctx)
{
	struct mconn *c = conn_of(ctx);
	struct mmsg *m = c->msg;
	sfsistat rc;

	if (!m)
		return SMFIS_CONTINUE;
	rc = m->ma ? in_eom(ctx, c, m) : out_eom(ctx, c, m);
	msg_free(srv, m);
	c->msg = NULL;
	return rc;
}

/* The message was aborted (RSET, error): forget it. */
static sfsistat cb_abort(SMFICTX *ctx)
{
	struct mconn *c = smfi_getpriv(ctx);

	if (c) {
		msg_free(srv, c->msg);
		c->msg = NULL;
	}
	return SMFIS_CONTINUE;
}

/* The connection closed. */
static sfsistat cb_close(SMFICTX *ctx)
{
	struct mconn *c = smfi_getpriv(ctx);

	if (c) {
		msg_free(srv, c->msg);
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

struct milter_server *milter_server_new(struct event_base *base,
					const struct config *cfg,
					char *err, size_t errsz)
{
	struct milter_server *s;
	struct timeval flush = { .tv_sec = AGG_FLUSH_SECS };

	if (srv) {
		snprintf(err, errsz, "only one milter per process");
		return NULL;
	}
	evthread_use_pthreads();
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->sq_tail = &s->sq;
	s->listen = xstrdup(cfg->milter_listen);
	s->psl = dmarc_psl_load(NULL);
	s->set = settings_new(s, cfg);
	srv = s;
	if (smfi_setconn(s->listen) != MI_SUCCESS ||
	    smfi_register(desc) != MI_SUCCESS ||
	    smfi_opensocket(true) != MI_SUCCESS) {
		snprintf(err, errsz, "milter_listen %s: cannot listen",
			 s->listen);
		goto fail;
	}
	if (strncmp(s->listen, "unix:", 5) == 0)
		chmod(s->listen + 5, 0666);
	else if (strncmp(s->listen, "local:", 6) == 0)
		chmod(s->listen + 6, 0666);
	s->dns = dns_blocking_new(cfg->dns_upstream, (int)cfg->dns_timeout_ms,
				  err, errsz);
	if (!s->dns)
		goto fail;
	s->ev_store = event_new(base, -1, 0, on_store_queue, s);
	s->ev_flush = event_new(base, -1, EV_PERSIST, on_flush, s);
	event_add(s->ev_flush, &flush);
	return s;
fail:
	milter_server_free(s);
	return NULL;
}

/* The salt arrived from the store (or not); start serving. */
static void salt_got(void *arg, int result, const char *value)
{
	struct milter_server *s = arg;
	unsigned char r[32];
	size_t i;

	if (result == STORE_OK && value && strlen(value) == 64) {
		memcpy(s->salt, value, 65);
		return;
	}
	RAND_bytes(r, sizeof(r));
	for (i = 0; i < sizeof(r); i++)
		snprintf(s->salt + 2 * i, 3, "%02x", r[i]);
	if (result == STORE_NOTFOUND)
		store_put(s->st, "corr", "salt", s->salt, 0, NULL, NULL);
	else
		log_msg(LOG_L_WARN, "event=milter_warning msg=\"store "
			"unavailable: correspondence salt is temporary\"");
}

int milter_server_attach(struct milter_server *s, struct store *st,
			 char *err, size_t errsz)
{
	s->st = st;
	/* sqlite and memory answer at once; a networked store may answer
	 * later, and records hashed meanwhile use the temporary salt. */
	snprintf(s->salt, sizeof(s->salt), "%064d", 0);
	store_get(st, "corr", "salt", salt_got, s);
	if (spawn(&s->mthread, milter_thread, s) != 0) {
		snprintf(err, errsz, "milter thread: %s", strerror(errno));
		return -1;
	}
	s->mthread_up = true;
	log_msg(LOG_L_INFO, "event=milter_listening listen=%s", s->listen);
	return 0;
}

void milter_server_reconfigure(struct milter_server *s,
			       const struct config *cfg)
{
	struct msettings *n, *old;

	if (!s)
		return;
	n = settings_new(s, cfg);
	pthread_mutex_lock(&s->lock);
	old = s->set;
	s->set = n;
	pthread_mutex_unlock(&s->lock);
	settings_put(s, old);
}

void milter_server_free(struct milter_server *s)
{
	struct timespec until;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->closing = true;
	pthread_mutex_unlock(&s->lock);
	dns_blocking_close(s->dns);	/* waiting workers: TEMPFAIL now */
	if (s->mthread_up) {
		smfi_stop();
		pthread_join(s->mthread, NULL);
	}
	/* Workers are detached by libmilter: wait for their messages. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DRAIN_SECS;
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	while (s->active > 0)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &until) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&s->lock);
	if (s->ev_store) {
		on_store_queue(-1, 0, s);
		if (s->st)
			agg_flush(s);
		event_free(s->ev_store);
		event_free(s->ev_flush);
	}
	settings_put(s, s->set);
	dmarc_psl_free(s->psl);
	if (strncmp(s->listen, "unix:", 5) == 0)
		unlink(s->listen + 5);
	free(s->listen);
	/* s stays reachable from srv: a straggling worker must not crash;
	 * srv->closing makes it answer TEMPFAIL. */
	if (s->active == 0) {
		dns_resolver_free(s->dns);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		srv = NULL;
		free(s);
	}
}
