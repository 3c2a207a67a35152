/*
 * mailrec - what the core's mail path records in the store (see
 * inbound-internal.h; formats in docs/design/milter.md).
 *
 *   dmarc_agg  DAY|SOURCE_IP|HEADER_FROM|SPF|DKIM|DMARC|DISPOSITION|
 *              ALIGN|OVERRIDE|SPF_SCOPE|SPF_DOMAIN|SIGS -> COUNT
 *              (core_dmarc_agg_key in core.h, read back by dmarc_agg.c
 *              and dmarc_send.c; rows of the older 7-field form too), kept
 *              AGG_TTL.  Counts are summed in memory on the loop thread
 *              (AGG_MAX distinct rows) and added to the stored value
 *              every AGG_FLUSH_SECS and at mailrec_stop.
 *   corr       p:H(from):H(rcpt) -> {} and m:H(message-id) ->
 *              {"t":..,"from":H,"rcpt":[H..]}, kept correspondence_ttl;
 *              H(x) = hex(SHA-256(salt ":" x)), addresses lowercased.
 *              The salt (corr/salt) is made once per install.
 *   corr_keys  k:HEX16 -> {}: a known-correspondent key (core/corrindex.h)
 *              learned from an outbound message (names, domains),
 *              written when new to the index, kept correspondence_ttl.
 *              The corr p: rows and these load into the index at attach.
 *   sent       the sent Message-ID log (core/sentlog.h): its record is
 *              built beside the corr records and written in the same
 *              job; the salt is handed to it when known.
 *
 * Threading: mailrec_dmarc and mailrec_corr run on the message's thread
 * (a milter worker): they build the keys there and append ONE job per
 * message to a pending batch under r->lock; the loop thread, where every
 * store_* call runs, takes the batch every BATCH_SECS (a timer) or as soon
 * as BATCH_MAX jobs wait (one util/loopq post for the whole batch).  A
 * post per message woke the loop once per message: ~1.3 context switches
 * and ~10 us of loop CPU each, 4% of the milter's whole cost per message
 * (docs/benchmarks.md, Milter).  The records are write-behind either way:
 * nothing reads them on the mail path.  r->stopped is checked under the
 * same lock, so nothing is queued after mailrec_stop, which runs what is
 * pending.  The salt is written on the loop thread
 * before the milter starts serving (sqlite and memory answer at once; a
 * networked store answers later, and records hashed meanwhile use the
 * all-zero temporary salt).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/core.h"
#include "core/corrindex.h"
#include "core/inbound-internal.h"
#include "core/mailauth.h"
#include "core/sentlog.h"
#include "mail/dmarc.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/loopq.h"
#include "util/xalloc.h"

_Static_assert(CORE_DMARC_DKIM_MAX == MAILAUTH_DKIM_MAX,
	       "the key holds every signature of the verdict");

#define AGG_MAX 4096			/* distinct DMARC rows between flushes */
#define AGG_FLUSH_SECS 60
#define AGG_TTL (400 * 86400L)		/* aggregate rows kept ~13 months */
#define CORR_NS "corr"
#define KEYS_NS "corr_keys"		/* k: rows of core/corrindex.h */
#define CORR_RCPT_MAX 64		/* participants recorded per message */
#define BATCH_MAX 256			/* jobs that wake the loop at once */
#define BATCH_SECS 1			/* the longest a job waits */

/* One message's store work, waiting for the loop. */
struct pend {
	void (*fn)(void *job);
	void *job;
};

/* The jobs taken in one go. */
struct batch {
	struct pend *p;
	size_t n;
};

/* A pending DMARC aggregate count. */
struct agg {
	char *key;
	long n;
};

struct mailrec {
	struct store *st;		/* loop thread */
	struct loopq *q;
	pthread_mutex_t lock;		/* stopped, pend, npend */
	bool stopped;
	struct pend *pend;		/* BATCH_MAX slots */
	size_t npend;
	char salt[65];
	struct sentlog *sl;		/* the sent log, or NULL */
	struct event *ev_flush, *ev_batch;
	struct agg agg[AGG_MAX];	/* loop thread */
	size_t nagg;
	struct corrindex *ci;		/* NULL: no index */
};

/* Known-correspondent keys on their way to the index and the store. */
struct learn_job {
	struct mailrec *r;
	int64_t expires;
	size_t n, npairs;		/* keys[0..npairs): index only */
	uint64_t keys[];
};

/* The store writes of one outbound message's correspondence. */
struct corr_job {
	struct mailrec *r;
	int64_t expires;
	size_t n;
	char *key[CORR_RCPT_MAX + 1], *value[CORR_RCPT_MAX + 1];
	struct sentlog_rec *sent;	/* or NULL */
};

/* A DMARC count on its way to the loop. */
struct agg_job {
	struct mailrec *r;
	char *key;
};

/* Take the pending jobs (r->lock held). */
static struct batch *take_locked(struct mailrec *r)
{
	struct batch *b;

	if (r->npend == 0)
		return NULL;
	b = xmalloc(sizeof(*b));
	b->p = r->pend;
	b->n = r->npend;
	r->pend = xcalloc(BATCH_MAX, sizeof(*r->pend));
	r->npend = 0;
	return b;
}

/* Loop thread: run a taken batch in order and free it. */
static void run_batch(void *arg)
{
	struct batch *b = arg;
	size_t i;

	for (i = 0; i < b->n; i++)
		b->p[i].fn(b->p[i].job);
	free(b->p);
	free(b);
}

/*
 * Queue fn(job) for the loop unless stopped; false: the caller frees job.
 * The job that fills the batch hands it to the loop at once.
 */
static bool post(struct mailrec *r, void (*fn)(void *), void *job)
{
	struct batch *b = NULL;
	bool ok;

	pthread_mutex_lock(&r->lock);
	ok = !r->stopped;
	if (ok) {
		r->pend[r->npend].fn = fn;
		r->pend[r->npend++].job = job;
		if (r->npend == BATCH_MAX) {
			b = take_locked(r);
			/* Under the lock: mailrec_stop frees r->q after
			 * setting stopped under it. */
			if (loopq_post(r->q, run_batch, b) != 0)
				run_batch(b);	/* closed: cannot happen */
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

/* Loop timer: run what waited up to BATCH_SECS. */
static void on_batch(evutil_socket_t fd, short what, void *arg)
{
	struct mailrec *r = arg;
	struct batch *b;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&r->lock);
	b = take_locked(r);
	pthread_mutex_unlock(&r->lock);
	if (b)
		run_batch(b);
}

/* ------------------------------------------------------------------ */
/* DMARC aggregate counts (loop thread)                                 */

/* A read-modify-write of one aggregate row. */
struct aggput {
	struct mailrec *r;
	char *key;
	long n;
};

/* The write of a count ended; a failure loses it, and says so. */
static void agg_put_done(void *arg, int result)
{
	char *key = arg, q[256];

	if (result != STORE_OK)
		log_msg(LOG_L_WARN, "event=dmarc_agg_lost key=%s error=%s",
			log_q(q, sizeof(q), key), store_result_str(result));
	free(key);
}

/* The old count arrived: write old + n. */
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
		store_put(p->r->st, CORE_DMARC_AGG_NS, p->key, v,
			  (int64_t)time(NULL) + AGG_TTL, agg_put_done, p->key);
	}
	free(p);
}

/* Write the pending DMARC counts. */
static void agg_flush(struct mailrec *r)
{
	size_t i;

	for (i = 0; i < r->nagg; i++) {
		struct aggput *p = xcalloc(1, sizeof(*p));

		p->r = r;
		p->key = r->agg[i].key;
		p->n = r->agg[i].n;
		store_get(r->st, CORE_DMARC_AGG_NS, p->key, agg_got, p);
	}
	r->nagg = 0;
}

/* loopq job: count one aggregate row in memory. */
static void agg_add(void *arg)
{
	struct agg_job *j = arg;
	struct mailrec *r = j->r;
	char *key = j->key;
	size_t i;

	free(j);
	if (!r->st) {
		free(key);
		return;
	}
	for (i = 0; i < r->nagg; i++)
		if (strcmp(r->agg[i].key, key) == 0) {
			r->agg[i].n++;
			free(key);
			return;
		}
	if (r->nagg == AGG_MAX)
		agg_flush(r);
	r->agg[r->nagg].key = key;
	r->agg[r->nagg++].n = 1;
}

/* Event loop timer: flush the counts. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct mailrec *r = arg;

	(void)fd;
	(void)what;
	if (r->st)
		agg_flush(r);
}

void mailrec_dmarc(struct mailrec *r, int64_t now, const char *ip,
		   const struct mailauth_verdict *v)
{
	struct core_dmarc_agg_fields f = { 0 };
	struct agg_job *j;
	size_t i;

	/* Aggregate rows only for a From domain with an answer. */
	if (!v->from_domain[0] || v->action == MAILAUTH_TEMPFAIL)
		return;
	f.source_ip = ip;
	f.header_from = v->from_domain;
	f.spf = v->spf_result;
	f.dkim = v->dkim_result;
	f.dmarc = v->dmarc_result;
	f.disposition = v->disposition;
	f.auth.align = v->spf_aligned ? (v->dkim_aligned ? "both" : "spf") :
		(v->dkim_aligned ? "dkim" : "none");
	f.auth.override = v->override;
	f.auth.spf_scope = v->spf_scope;
	f.auth.spf_domain = v->spf_domain;
	for (i = 0; i < v->ndkim; i++) {
		f.auth.sig[i].d = v->dkim[i].d;
		f.auth.sig[i].s = v->dkim[i].s;
		f.auth.sig[i].result = v->dkim[i].result;
	}
	f.auth.nsig = v->ndkim;
	j = xmalloc(sizeof(*j));
	j->r = r;
	j->key = core_dmarc_agg_key((time_t)now, &f);
	if (!post(r, agg_add, j)) {
		free(j->key);
		free(j);
	}
}

/* ------------------------------------------------------------------ */
/* Correspondence log                                                   */

/* loopq job: write a message's correspondence records. */
static void corr_write(void *arg)
{
	struct corr_job *j = arg;
	size_t i;

	for (i = 0; i < j->n; i++) {
		if (j->r->st)
			store_put(j->r->st, CORR_NS, j->key[i], j->value[i],
				  j->expires, NULL, NULL);
		free(j->key[i]);
		free(j->value[i]);
	}
	if (j->sent)
		sentlog_rec_write(j->r->sl, j->sent);
	free(j);
}

/* The Message-ID value with surrounding blanks trimmed, as a span. */
static const char *trim(const char *v, size_t n, size_t *outn)
{
	while (n && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' ||
		     v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	*outn = n;
	return v;
}

void mailrec_corr(struct mailrec *r, int64_t now, int64_t ttl,
		  const char *account, const struct mailsign *s)
{
	char *addrs[CORR_RCPT_MAX], *from[1] = { NULL };
	char h[65], hf[65], hm[65];
	const char *msgid = NULL, *name, *fv;
	size_t idlen = 0, flen, na = 0, nf = 0, i, k;
	struct corr_job *j;
	struct buf v;

	/* The first From with an address, every To and Cc, the first
	 * Message-ID, in header order. */
	for (i = 0; (name = mailsign_field(s, i, &fv, &flen)) != NULL; i++) {
		if (strcasecmp(name, "Message-ID") == 0 && !msgid) {
			msgid = fv;
			idlen = flen;
		} else if (strcasecmp(name, "From") == 0 && !nf) {
			nf = dmarc_from_addresses(fv, flen, from, 1);
		} else if ((strcasecmp(name, "To") == 0 ||
			    strcasecmp(name, "Cc") == 0) && na < CORR_RCPT_MAX) {
			na += dmarc_from_addresses(fv, flen, addrs + na,
						   CORR_RCPT_MAX - na);
		}
	}
	if (na > CORR_RCPT_MAX)
		na = CORR_RCPT_MAX;
	if (!from[0])
		goto out;
	j = xcalloc(1, sizeof(*j));
	j->r = r;
	j->expires = now + ttl;
	sentlog_hash(r->salt, from[0], strlen(from[0]), hf);
	buf_init(&v, 16384);
	buf_printf(&v, "{\"t\":%lld,\"from\":\"%s\",\"rcpt\":[",
		   (long long)now, hf);
	for (k = 0; k < na; k++) {
		sentlog_hash(r->salt, addrs[k], strlen(addrs[k]), h);
		buf_printf(&v, "%s\"%s\"", k ? "," : "", h);
		j->key[j->n] = xasprintf("p:%s:%s", hf, h);
		j->value[j->n++] = xstrdup("{}");
	}
	buf_puts(&v, "]}");
	if (msgid) {
		msgid = trim(msgid, idlen, &idlen);
		sentlog_hash(r->salt, msgid, idlen, hm);
		j->key[j->n] = xasprintf("m:%s", hm);
		j->value[j->n++] = xstrdup(v.p);
	}
	buf_deinit(&v);
	if (r->sl && msgid) {
		char *raw = xstrndup(msgid, idlen);	/* a span: terminate */

		j->sent = sentlog_rec_new(r->sl, now, account, raw, from[0],
					  addrs, na);
		free(raw);
	}
	if (!post(r, corr_write, j)) {
		for (k = 0; k < j->n; k++) {
			free(j->key[k]);
			free(j->value[k]);
		}
		sentlog_rec_free(j->sent);
		free(j);
	}
out:
	for (k = 0; k < na; k++)
		free(addrs[k]);
	free(from[0]);
}

/* ------------------------------------------------------------------ */
/* Known-correspondent index (core/corrindex.h)                         */

/* loopq job: add the keys to the index; store the new ones. */
static void learn_write(void *arg)
{
	struct learn_job *j = arg;
	struct store_kv *kv = xcalloc(j->n ? j->n : 1, sizeof(*kv));
	char (*key)[24] = xcalloc(j->n ? j->n : 1, sizeof(*key));
	size_t i, nkv = 0;

	for (i = 0; i < j->n; i++) {
		if (j->r->ci && corrindex_has(j->r->ci, j->keys[i]))
			continue;	/* known: no write */
		if (j->r->ci)
			corrindex_add(j->r->ci, j->keys[i]);
		if (i < j->npairs)
			continue;	/* the p: row holds it */
		snprintf(key[nkv], sizeof(key[nkv]), "k:%016llx",
			 (unsigned long long)j->keys[i]);
		kv[nkv].key = key[nkv];
		kv[nkv].value = "{}";
		kv[nkv].expires = j->expires;
		nkv++;
	}
	if (nkv && j->r->st)
		store_put_many(j->r->st, KEYS_NS, kv, nkv, NULL, NULL);
	free(kv);
	free(key);
	free(j);
}

void mailrec_learn(struct mailrec *r, int64_t now, int64_t ttl,
		   const uint64_t *keys, size_t n, size_t npairs)
{
	struct learn_job *j;

	if (n == 0)
		return;
	j = xmalloc(sizeof(*j) + n * sizeof(j->keys[0]));
	j->r = r;
	j->expires = now + ttl;
	j->n = n;
	j->npairs = npairs;
	memcpy(j->keys, keys, n * sizeof(keys[0]));
	if (!post(r, learn_write, j))
		free(j);
}

/* One stored p: or k: row into the index (loop thread). */
static void load_row(void *arg, int result, const char *key,
		     const char *value, int64_t ts)
{
	struct mailrec *r = arg;
	uint64_t k;

	(void)value;
	(void)ts;
	if (!key) {
		if (result != STORE_OK)
			log_msg(LOG_L_WARN, "event=milter_warning msg=\"known "
				"correspondents not loaded\" error=%s",
				store_result_str(result));
		return;
	}
	if ((k = corrindex_row_key(key)) != 0)
		corrindex_add(r->ci, k);
}

void mailrec_set_index(struct mailrec *r, struct corrindex *ci)
{
	r->ci = ci;
}

/* ------------------------------------------------------------------ */
/* Lifecycle (loop thread)                                              */

struct mailrec *mailrec_new(struct event_base *base, struct sentlog *sl)
{
	struct mailrec *r = xcalloc(1, sizeof(*r));
	struct timeval flush = { .tv_sec = AGG_FLUSH_SECS };
	struct timeval batch = { .tv_sec = BATCH_SECS };

	pthread_mutex_init(&r->lock, NULL);
	r->sl = sl;
	r->q = loopq_new(base, "mail-records");
	r->pend = xcalloc(BATCH_MAX, sizeof(*r->pend));
	snprintf(r->salt, sizeof(r->salt), "%064d", 0);
	r->ev_flush = event_new(base, -1, EV_PERSIST, on_flush, r);
	event_add(r->ev_flush, &flush);
	r->ev_batch = event_new(base, -1, EV_PERSIST, on_batch, r);
	event_add(r->ev_batch, &batch);
	return r;
}

/* The salt arrived from the store (or not). */
static void salt_got(void *arg, int result, const char *value)
{
	struct mailrec *r = arg;
	unsigned char b[32];

	if (result == STORE_OK && value && strlen(value) == 64) {
		memcpy(r->salt, value, 65);
		if (r->ci)
			corrindex_set_salt(r->ci, r->salt);
		if (r->sl)
			sentlog_set_salt(r->sl, r->salt);
		return;
	}
	RAND_bytes(b, sizeof(b));
	buf_hex(b, sizeof(b), r->salt);
	if (r->ci)
		corrindex_set_salt(r->ci, r->salt);
	if (r->sl)
		sentlog_set_salt(r->sl, r->salt);
	if (result == STORE_NOTFOUND)
		store_put(r->st, CORR_NS, "salt", r->salt, 0, NULL, NULL);
	else
		log_msg(LOG_L_WARN, "event=milter_warning msg=\"store "
			"unavailable: correspondence salt is temporary\"");
}

void mailrec_attach(struct mailrec *r, struct store *st)
{
	r->st = st;
	store_get(st, CORR_NS, "salt", salt_got, r);
	if (r->ci) {
		store_scan(st, CORR_NS, "p:", load_row, r);
		store_scan(st, KEYS_NS, "k:", load_row, r);
	}
}

void mailrec_stop(struct mailrec *r)
{
	struct batch *b;

	pthread_mutex_lock(&r->lock);
	r->stopped = true;
	b = take_locked(r);
	pthread_mutex_unlock(&r->lock);
	loopq_free(r->q);	/* runs the full batches queued, in order */
	r->q = NULL;
	if (b)
		run_batch(b);	/* then the jobs that came after them */
	event_free(r->ev_batch);
	r->ev_batch = NULL;
	if (r->st)
		agg_flush(r);
	event_free(r->ev_flush);
	r->ev_flush = NULL;
}

void mailrec_free(struct mailrec *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->pend);
	free(r);
}
