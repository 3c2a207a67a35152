/*
 * outcontent - content facts of outbound mail and their hand-off to the
 * decision core.  See outcontent.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/acct.h"
#include "core/outcontent.h"
#include "mail/archive.h"
#include "mail/mime.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/loopq.h"
#include "util/xalloc.h"

/* ------------------------------------------------------------------ */
/* Facts                                                                */

/*
 * Password cues.  Malware mail that carries an encrypted archive must give
 * the recipient its password, so it writes it in the same message
 * (JPCERT/CC's Emotet alerts quote "パスワード: 1234"); PPAP announces it
 * ("パスワードは別途お送りします", "the password follows separately") and
 * sends it in a second mail.  So a cue is a password word followed by a
 * password: after optional blanks and a separator (":", "：", "=", "は",
 * "is") and an opening quote, a run of 4-64 printable ASCII characters
 * that holds a digit, or any such run after ":", "：" or "=".  ASCII words
 * are matched without case.
 */
static const char *const pw_words[] = {
	"password", "passwort", "passcode", "pass:", "pw:", "pwd:",
	"mot de passe", "contraseña", "senha",
	"パスワード", "ﾊﾟｽﾜｰﾄﾞ", "暗証番号", "解凍キー", "密码", "密碼",
	"ＰＡＳＳＷＯＲＤ",
};

/* Skip ASCII blanks and line ends. */
static size_t skip_blank(const char *t, size_t i, size_t len)
{
	while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' ||
			   t[i] == '\n'))
		i++;
	return i;
}

/* Does t[i..len) start with lit?  Its length, or 0. */
static size_t starts(const char *t, size_t i, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return i + n <= len && memcmp(t + i, lit, n) == 0 ? n : 0;
}

/* After a password word at t[i]: is a password given? */
static bool password_follows(const char *t, size_t i, size_t len,
			     bool colon)
{
	static const char *const sep[] = { ":", "：", "=", "は", "is ",
					   "IS ", "Is " };
	static const char *const quote[] = { "\"", "'", "「", "【", "(",
					     "（", "[" };
	size_t k, n, run = 0;
	bool digit = false;

	i = skip_blank(t, i, len);
	for (k = 0; k < sizeof(sep) / sizeof(sep[0]); k++)
		if ((n = starts(t, i, len, sep[k])) != 0) {
			colon = colon || k < 3;
			i = skip_blank(t, i + n, len);
			break;
		}
	for (k = 0; k < sizeof(quote) / sizeof(quote[0]); k++)
		if ((n = starts(t, i, len, quote[k])) != 0) {
			i += n;
			break;
		}
	for (; i < len && t[i] > ' ' && t[i] < 0x7f && run <= 64; i++, run++)
		digit = digit || (t[i] >= '0' && t[i] <= '9');
	return run >= 4 && run <= 64 && (digit || colon);
}

/* Is an ASCII word at t[i..i+n) (case-insensitive) or UTF-8 (exact)? */
static bool word_at(const char *t, size_t i, const char *w, size_t n)
{
	return (unsigned char)w[0] < 0x80 ? strncasecmp(t + i, w, n) == 0 :
	       memcmp(t + i, w, n) == 0;
}

bool outcontent_password_cue(const char *text, size_t len)
{
	size_t i, k;

	if (!text)
		return false;
	if (len > OUTCONTENT_CUE_MAX)
		len = OUTCONTENT_CUE_MAX;
	for (k = 0; k < sizeof(pw_words) / sizeof(pw_words[0]); k++) {
		const char *w = pw_words[k];
		size_t n = strlen(w);

		for (i = 0; i + n <= len; i++)
			if (word_at(text, i, w, n) &&
			    password_follows(text, i + n, len,
					     w[n - 1] == ':'))
				return true;
	}
	return false;
}

/* OC_* of one attachment, from its bytes and name (mail/archive.h). */
static unsigned attachment_flags(const struct mime_attachment *at,
				 struct arc_report *r)
{
	unsigned f = 0;

	arc_scan(at->data, at->data_len, at->filename, r);
	if (r->flags & (ARC_F_ENCRYPTED | ARC_F_UNKNOWN))
		f |= OC_ENC_ARCHIVE;
	if (r->flags & ARC_F_MACRO)
		f |= OC_MACRO;
	if (r->flags & (ARC_F_EXECUTABLE | ARC_F_DOUBLE_EXT))
		f |= OC_EXECUTABLE;
	return f;
}

void outcontent_from_summary(const struct mime_summary *s,
			     struct outbound_content *oc)
{
	const char *root = NULL;
	struct arc_report *r;
	size_t i;

	memset(oc, 0, sizeof(*oc));
	if (s->n_references > 0 && s->references[0][0])
		root = s->references[0];
	else if (s->in_reply_to && s->in_reply_to[0])
		root = s->in_reply_to;
	if (root) {
		oc->flags |= OC_REPLY;
		oc->thread = acct_hash(root);
		if (oc->thread == 0)
			oc->thread = 1;
	}
	if (s->n_attachments > 0) {
		r = xmalloc(sizeof(*r));
		for (i = 0; i < s->n_attachments; i++)
			oc->flags |= attachment_flags(&s->attachments[i], r);
		free(r);
	}
	if (outcontent_password_cue(s->subject, s->subject ?
				    strlen(s->subject) : 0) ||
	    outcontent_password_cue(s->text, s->text_len) ||
	    outcontent_password_cue(s->html, s->html_len))
		oc->flags |= OC_PASSWORD;
}

void outcontent_facts(const void *msg, size_t len,
		      struct outbound_content *oc)
{
	struct mime_summary *s = NULL;

	memset(oc, 0, sizeof(*oc));
	if (len == 0 || len > OUTCONTENT_MAX ||
	    mime_parse(msg, len, &s) != 0 || !s) {
		oc->flags = OC_UNPARSED;
		return;
	}
	outcontent_from_summary(s, oc);
	mime_summary_free(s);
}

/* ------------------------------------------------------------------ */
/* One message, buffered on its worker                                  */

struct outmsg {
	char *login;			/* NULL: not authenticated */
	char *ip;
	struct buf b;
	bool body;			/* the header's end was written */
	bool over;			/* past OUTCONTENT_MAX */
};

struct outmsg *outmsg_new(const char *login, const char *ip)
{
	struct outmsg *m = xcalloc(1, sizeof(*m));

	m->login = login && login[0] ? xstrdup(login) : NULL;
	m->ip = xstrdup(ip ? ip : "");
	buf_init(&m->b, OUTCONTENT_MAX);
	return m;
}

void outmsg_free(struct outmsg *m)
{
	if (!m)
		return;
	buf_deinit(&m->b);
	free(m->login);
	free(m->ip);
	free(m);
}

/* Append n bytes unless the message is already too large. */
static void put(struct outmsg *m, const void *p, size_t n)
{
	if (!m->over && buf_append(&m->b, p, n) != 0)
		m->over = true;
}

void outmsg_header(struct outmsg *m, const char *name, const char *value,
		   size_t vlen)
{
	if (!m->login || m->body)
		return;
	put(m, name, strlen(name));
	put(m, ":", 1);
	put(m, value, vlen);
	put(m, "\r\n", 2);
}

void outmsg_body(struct outmsg *m, const void *p, size_t n)
{
	if (!m->login)
		return;
	if (!m->body) {
		put(m, "\r\n", 2);
		m->body = true;
	}
	put(m, p, n);
}

/* ------------------------------------------------------------------ */
/* The hand-off                                                         */

struct outcheck {
	struct loopq *q;
	struct core *core;
};

/* One question to the loop; refs: the worker and the loop. */
struct job {
	struct core *core;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool done;
	struct outbound_content oc;
	char *login, *qid, *ip;
	struct verdict v;
};

/* Drop one reference; the last frees. */
static void job_unref(struct job *j)
{
	bool last;

	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (!last)
		return;
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j->login);
	free(j->qid);
	free(j->ip);
	free(j);
}

/* The core's verdict (loop thread): hand it to the waiting worker. */
static void job_answer(void *arg, const struct verdict *v)
{
	struct job *j = arg;

	pthread_mutex_lock(&j->lock);
	j->v = *v;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	job_unref(j);
}

/* Loop thread: ask the core. */
static void job_run(void *arg)
{
	struct job *j = arg;

	core_outbound_content(j->core, j->login, j->qid, j->ip, &j->oc, 0,
			      job_answer, j);
}

struct outcheck *outcheck_new(struct event_base *base, struct core *c)
{
	struct outcheck *k = xcalloc(1, sizeof(*k));

	k->q = loopq_new(base, "outcontent");
	k->core = c;
	return k;
}

void outcheck_free(struct outcheck *k)
{
	if (!k)
		return;
	loopq_free(k->q);
	free(k);
}

/* Wait for the job's answer until OUTCONTENT_WAIT_MS; true if it came. */
static bool job_wait(struct job *j)
{
	struct timespec until;
	bool done;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += OUTCONTENT_WAIT_MS / 1000;
	until.tv_nsec += (long)(OUTCONTENT_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cond, &j->lock, &until) ==
		    ETIMEDOUT)
			break;
	done = j->done;
	pthread_mutex_unlock(&j->lock);
	return done;
}

void outcheck_run(struct outcheck *k, struct outmsg *m, const char *queue_id,
		  struct verdict *v)
{
	struct job *j;
	char q[LOG_QSZ];

	memset(v, 0, sizeof(*v));
	v->action = VERDICT_DUNNO;
	v->state = "-";
	if (!k || !m || !m->login || m->over)
		return;
	j = xcalloc(1, sizeof(*j));
	outcontent_facts(m->b.p, m->b.len, &j->oc);
	if (!(j->oc.flags & (OC_ENC_ARCHIVE | OC_MACRO | OC_EXECUTABLE))) {
		free(j);		/* nothing risky: nothing to add */
		return;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->core = k->core;
	j->refs = 2;
	j->login = xstrdup(m->login);
	j->qid = xstrdup(queue_id ? queue_id : "");
	j->ip = xstrdup(m->ip);
	if (loopq_post(k->q, job_run, j) != 0) {
		j->refs = 1;		/* stopping: no verdict */
		job_unref(j);
		return;
	}
	if (job_wait(j)) {
		*v = j->v;
	} else {
		log_msg(LOG_L_WARN, "event=outbound_content_timeout queue_id=%s "
			"account=%s", queue_id && queue_id[0] ? queue_id : "-",
			log_q(q, sizeof(q), m->login));
	}
	job_unref(j);
}
