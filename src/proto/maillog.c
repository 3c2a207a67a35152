/*
 * maillog - Postfix and Dovecot log lines into events.  See maillog.h.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/maillog.h"

/* A borrowed span of the line. */
struct span {
	const char *p;
	size_t n;
};

/* Does s start with the NUL-terminated word w? */
static bool span_starts(struct span s, const char *w)
{
	size_t n = strlen(w);

	return s.n >= n && memcmp(s.p, w, n) == 0;
}

/* Drop n bytes from the front of s. */
static struct span span_skip(struct span s, size_t n)
{
	s.p += n;
	s.n -= n;
	return s;
}

/* First occurrence of w in s, or NULL. */
static const char *span_find(struct span s, const char *w)
{
	size_t n = strlen(w), i;

	for (i = 0; i + n <= s.n; i++)
		if (memcmp(s.p + i, w, n) == 0)
			return s.p + i;
	return NULL;
}

/* Last occurrence of w in s, or NULL. */
static const char *span_find_last(struct span s, const char *w)
{
	size_t n = strlen(w), i;

	for (i = s.n + 1; i-- > 0;)
		if (i + n <= s.n && memcmp(s.p + i, w, n) == 0)
			return s.p + i;
	return NULL;
}

/* Copy n bytes at p into out[sz] with a NUL; false if they do not fit or
 * hold a NUL (a field is never truncated: it would name another account). */
static bool copy_field(char *out, size_t sz, const char *p, size_t n)
{
	if (n >= sz || memchr(p, '\0', n))
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* Parse n decimal digits at p; -1 if any is not a digit. */
static int digits(const char *p, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* mktime of the fields in year (tm_year), local time; -1 if none. */
static time_t local_time(int year, int mon, int mday, int hour, int min,
			 int sec)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year;
	tm.tm_mon = mon;
	tm.tm_mday = mday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

int64_t maillog_stamp_time(int mon, int mday, int hour, int min, int sec,
			   int64_t ref)
{
	time_t r = (time_t)ref, t;
	struct tm now;

	if (mon < 0 || mon > 11 || mday < 1 || mday > 31 || hour < 0 ||
	    hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
		return -1;
	if (!localtime_r(&r, &now))
		return -1;
	t = local_time(now.tm_year, mon, mday, hour, min, sec);
	/* A December line in a file last written in January. */
	if (t != (time_t)-1 && (int64_t)t > ref + 86400)
		t = local_time(now.tm_year - 1, mon, mday, hour, min, sec);
	return t == (time_t)-1 ? -1 : (int64_t)t;
}

/* "Mon DD HH:MM:SS " (DD may be space-padded); consumes it. */
static bool stamp_traditional(struct span *s, int64_t ref, int64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = s->p;
	int mon, day, h, m, sec;

	if (s->n < 16 || p[3] != ' ' || p[6] != ' ' || p[9] != ':' ||
	    p[12] != ':' || p[15] != ' ')
		return false;
	for (mon = 0; mon < 12; mon++)
		if (memcmp(months + 3 * mon, p, 3) == 0)
			break;
	day = p[4] == ' ' ? digits(p + 5, 1) : digits(p + 4, 2);
	h = digits(p + 7, 2);
	m = digits(p + 10, 2);
	sec = digits(p + 13, 2);
	if (mon == 12 || day < 0 || h < 0 || m < 0 || sec < 0)
		return false;
	*out = maillog_stamp_time(mon, day, h, m, sec, ref);
	*s = span_skip(*s, 16);
	return *out >= 0;
}

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|+hhmm) "; consumes it. */
static bool stamp_rfc3339(struct span *s, int64_t *out)
{
	const char *p = s->p;
	struct tm tm;
	size_t i = 19;
	int off = 0, oh, om, sign;
	time_t t;

	if (s->n < 21 || p[4] != '-' || p[7] != '-' ||
	    (p[10] != 'T' && p[10] != ' ') || p[13] != ':' || p[16] != ':')
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = digits(p, 4) - 1900;
	tm.tm_mon = digits(p + 5, 2) - 1;
	tm.tm_mday = digits(p + 8, 2);
	tm.tm_hour = digits(p + 11, 2);
	tm.tm_min = digits(p + 14, 2);
	tm.tm_sec = digits(p + 17, 2);
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
	    tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 ||
	    tm.tm_sec < 0 || tm.tm_sec > 60)
		return false;
	if (i < s->n && p[i] == '.') {
		for (i++; i < s->n && p[i] >= '0' && p[i] <= '9'; i++)
			;
	}
	if (i < s->n && p[i] == 'Z') {
		i++;
	} else if (i + 5 <= s->n && (p[i] == '+' || p[i] == '-')) {
		sign = p[i] == '-' ? -1 : 1;
		oh = digits(p + i + 1, 2);
		if (i + 6 <= s->n && p[i + 3] == ':') {
			om = digits(p + i + 4, 2);
			i += 6;
		} else {
			om = digits(p + i + 3, 2);
			i += 5;
		}
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return false;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return false;
	}
	if (i >= s->n || p[i] != ' ')
		return false;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = (int64_t)t - off;
	*s = span_skip(*s, i + 1);
	return true;
}

/* The next space-delimited token; consumes it and the spaces after. */
static struct span token(struct span *s)
{
	struct span t = { s->p, 0 };

	while (t.n < s->n && s->p[t.n] != ' ')
		t.n++;
	*s = span_skip(*s, t.n);
	while (s->n && s->p[0] == ' ')
		*s = span_skip(*s, 1);
	return t;
}

/* A tag "PROG[PID]:" or "PROG:" into prog (without the pid). */
static bool tag_prog(struct span t, struct span *prog)
{
	const char *b;

	if (t.n < 2 || t.p[t.n - 1] != ':')
		return false;
	t.n--;
	b = memchr(t.p, '[', t.n);
	if (b) {
		if (t.p[t.n - 1] != ']')
			return false;
		t.n = (size_t)(b - t.p);
	}
	*prog = t;
	return t.n > 0;
}

/* Skip a Dovecot log level prefix ("Info: ", "Warning: "...). */
static struct span skip_level(struct span m)
{
	static const char *const levels[] = {
		"Info: ", "Warning: ", "Error: ", "Debug: ",
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (span_starts(m, levels[i]))
			return span_skip(m, strlen(levels[i]));
	return m;
}

/* "QID: " at the front of m into ev->queue_id; consumes it. */
static bool queue_id(struct span *m, struct maillog_event *ev)
{
	size_t i = 0;

	while (i < m->n && isalnum((unsigned char)m->p[i]))
		i++;
	if (i < 5 || i >= MAILLOG_QID_MAX || i + 2 > m->n ||
	    m->p[i] != ':' || m->p[i + 1] != ' ')
		return false;
	copy_field(ev->queue_id, sizeof(ev->queue_id), m->p, i);
	*m = span_skip(*m, i + 2);
	return true;
}

/*
 * The value after "key=" at p (inside m) into out: "<...>" as an address
 * (quotes honoured, the brackets dropped), else up to ", " or the end.
 * Returns where it ended, or NULL if malformed or too long.
 */
static const char *field_at(struct span m, const char *p, size_t keylen,
			    char *out, size_t outsz)
{
	const char *end = m.p + m.n, *v = p + keylen, *e;
	bool q = false;

	if (v < end && *v == '<') {
		for (e = v + 1; e < end; e++) {
			if (q && *e == '\\' && e + 1 < end)
				e++;
			else if (*e == '"')
				q = !q;
			else if (!q && *e == '>')
				break;
		}
		if (e >= end || !copy_field(out, outsz, v + 1,
					    (size_t)(e - v - 1)))
			return NULL;
		return e + 1;
	}
	for (e = v; e < end && !(*e == ',' && e + 1 < end && e[1] == ' ');
	     e++)
		;
	return copy_field(out, outsz, v, (size_t)(e - v)) ? e : NULL;
}

/* Find " key=" (or key= at the front) in m and parse it; 1 if absent,
 * 0 ok (m advanced past it), -1 malformed. */
static int field(struct span *m, const char *key, char *out, size_t outsz)
{
	char k[32];
	const char *p;
	size_t kl = strlen(key);

	if (kl + 2 > sizeof(k))
		return -1;
	if (span_starts(*m, key) && m->n > kl && m->p[kl] == '=') {
		p = m->p;
	} else {
		k[0] = ' ';
		memcpy(k + 1, key, kl);
		k[kl + 1] = '=';
		k[kl + 2] = '\0';
		p = span_find(*m, k);
		if (!p)
			return 1;
		p++;
	}
	p = field_at(*m, p, kl + 1, out, outsz);
	if (!p)
		return -1;
	*m = span_skip(*m, (size_t)(p - m->p));
	return 0;
}

/* A non-negative decimal number field; false when absent or malformed. */
static bool num_field(struct span *m, const char *key, long *out)
{
	char v[24], *e;

	if (field(m, key, v, sizeof(v)) != 0 || !v[0])
		return false;
	if (v[0] < '0' || v[0] > '9')
		return false;
	*out = strtol(v, &e, 10);
	/* "nrcpt=3 (queue active)" */
	return (*e == '\0' || *e == ' ') && *out >= 0;
}

/* "NAME[ADDR]" (then anything) into ev->addr. */
static bool bracket_addr(const char *p, size_t n, struct maillog_event *ev)
{
	const char *b = memchr(p, '[', n), *e;

	if (!b)
		return false;
	e = memchr(b, ']', n - (size_t)(b - p));
	return e && e > b + 1 &&
	       copy_field(ev->addr, sizeof(ev->addr), b + 1,
			  (size_t)(e - b - 1));
}

/* smtpd: "QID: client=..." or a SASL failure warning. */
static int postfix_smtpd(struct span m, struct maillog_event *ev)
{
	char client[MAILLOG_ADDR_MAX];
	const char *u;

	if (span_starts(m, "warning: ")) {
		struct span w = span_skip(m, 9);
		const char *sasl = span_find(w, ": SASL ");
		const char *failed = span_find(w, " authentication failed");

		if (!sasl || !failed || failed < sasl)
			return MAILLOG_IGNORED;
		if (!bracket_addr(w.p, (size_t)(sasl - w.p), ev))
			return MAILLOG_E_MALFORMED;
		copy_field(ev->method, sizeof(ev->method), sasl + 7,
			   (size_t)(failed - sasl - 7) < sizeof(ev->method) ?
			   (size_t)(failed - sasl - 7) : 0);
		/* Postfix >= 3.6 appends the login last. */
		u = span_find_last(w, ", sasl_username=");
		if (u && !copy_field(ev->login, sizeof(ev->login), u + 16,
				     (size_t)(w.p + w.n - u - 16)))
			return MAILLOG_E_MALFORMED;
		ev->kind = MAILLOG_LOGIN_FAIL;
		ev->attempts = 1;
		return MAILLOG_OK;
	}
	if (!queue_id(&m, ev))
		return MAILLOG_IGNORED;
	if (!span_starts(m, "client="))
		return MAILLOG_IGNORED;
	if (field(&m, "client", client, sizeof(client)) != 0 ||
	    !bracket_addr(client, strlen(client), ev))
		return MAILLOG_E_MALFORMED;
	field(&m, "sasl_method", ev->method, sizeof(ev->method));
	switch (field(&m, "sasl_username", ev->login, sizeof(ev->login))) {
	case -1:
		return MAILLOG_E_MALFORMED;
	case 1:
		ev->login[0] = '\0';
		break;
	}
	ev->kind = MAILLOG_CLIENT;
	return MAILLOG_OK;
}

/* qmgr: "QID: from=<S>, size=N, nrcpt=N" or "QID: removed". */
static int postfix_qmgr(struct span m, struct maillog_event *ev)
{
	if (!queue_id(&m, ev))
		return MAILLOG_IGNORED;
	if (m.n == 7 && span_starts(m, "removed")) {
		ev->kind = MAILLOG_REMOVED;
		return MAILLOG_OK;
	}
	if (!span_starts(m, "from="))
		return MAILLOG_IGNORED;
	if (field(&m, "from", ev->sender, sizeof(ev->sender)) != 0)
		return MAILLOG_E_MALFORMED;
	/* Searched after the sender, which the client chose. */
	if (!num_field(&m, "size", &ev->size) ||
	    !num_field(&m, "nrcpt", &ev->nrcpt))
		return MAILLOG_E_MALFORMED;
	ev->kind = MAILLOG_FROM;
	return MAILLOG_OK;
}

/* Delivery agents: "QID: to=<R>, ... status=WORD ...". */
static int postfix_delivery(struct span m, struct maillog_event *ev)
{
	char st[64];

	if (!queue_id(&m, ev))
		return MAILLOG_IGNORED;
	if (!span_starts(m, "to="))
		return MAILLOG_IGNORED;
	if (field(&m, "to", ev->rcpt, sizeof(ev->rcpt)) != 0)
		return MAILLOG_E_MALFORMED;
	if (field(&m, "status", st, sizeof(st)) != 0)
		return MAILLOG_E_MALFORMED;
	st[strcspn(st, " ")] = '\0';
	if (!copy_field(ev->status, sizeof(ev->status), st, strlen(st)))
		return MAILLOG_E_MALFORMED;
	ev->kind = MAILLOG_TO;
	return MAILLOG_OK;
}

/* A Postfix line; prog is the tag ("postfix/submission/smtpd"). */
static int postfix_line(struct span prog, struct span m,
			struct maillog_event *ev)
{
	const char *slash = NULL;
	struct span base;
	size_t i;

	for (i = 0; i < prog.n; i++)
		if (prog.p[i] == '/')
			slash = prog.p + i;
	if (!slash)
		return MAILLOG_IGNORED;
	base.p = slash + 1;
	base.n = prog.n - (size_t)(base.p - prog.p);
#define IS(w) (base.n == strlen(w) && memcmp(base.p, w, base.n) == 0)
	if (IS("smtpd"))
		return postfix_smtpd(m, ev);
	if (IS("qmgr"))
		return postfix_qmgr(m, ev);
	if (IS("smtp") || IS("lmtp") || IS("local") || IS("virtual") ||
	    IS("pipe") || IS("error") || IS("discard"))
		return postfix_delivery(m, ev);
#undef IS
	return MAILLOG_IGNORED;
}

/* Dovecot "*-login: Login: ..." and "...(auth failed, N attempts...". */
static int dovecot_login(struct span m, struct maillog_event *ev)
{
	const char *u, *e, *r, *af = NULL, *meth;
	struct span tail;

	if (span_starts(m, "Login: ")) {
		ev->kind = MAILLOG_LOGIN_OK;
		ev->attempts = 0;
	} else if ((af = span_find(m, "(auth failed, ")) != NULL &&
		   (span_starts(m, "Disconnected") ||
		    span_starts(m, "Aborted login"))) {
		const char *d = af + 14;

		ev->kind = MAILLOG_LOGIN_FAIL;
		ev->attempts = 0;
		while (d < m.p + m.n && *d >= '0' && *d <= '9' &&
		       ev->attempts < 100000)
			ev->attempts = ev->attempts * 10 + (unsigned)(*d++ - '0');
		if (ev->attempts == 0)
			ev->attempts = 1;
	} else {
		return MAILLOG_IGNORED;
	}
	/* rip= is Dovecot's, after the client-chosen user: the last one. */
	r = span_find_last(m, ", rip=");
	if (!r)
		return MAILLOG_E_MALFORMED;
	tail.p = r + 6;
	tail.n = (size_t)(m.p + m.n - tail.p);
	e = memchr(tail.p, ',', tail.n);
	if (!copy_field(ev->addr, sizeof(ev->addr), tail.p,
			e ? (size_t)(e - tail.p) : tail.n) || !ev->addr[0])
		return MAILLOG_E_MALFORMED;
	tail.p = m.p;
	tail.n = (size_t)(r - m.p);
	meth = span_find_last(tail, ", method=");
	if (meth) {
		const char *me = meth + 9;

		copy_field(ev->method, sizeof(ev->method), me,
			   (size_t)(r - me) < sizeof(ev->method) ?
			   (size_t)(r - me) : 0);
		tail.n = (size_t)(meth - m.p);
	}
	u = span_find(m, "user=<");
	if (u && u < tail.p + tail.n) {
		e = span_find_last(tail, ">");
		if (!e || e < u + 6 ||
		    !copy_field(ev->login, sizeof(ev->login), u + 6,
				(size_t)(e - u - 6)))
			return MAILLOG_E_MALFORMED;
	} else if (ev->kind == MAILLOG_LOGIN_OK) {
		return MAILLOG_E_MALFORMED;
	}
	return MAILLOG_OK;
}

/* Dovecot "auth: DRIVER(USER,ADDR[,<SESSION>]): Password mismatch". */
static int dovecot_auth(struct span m, struct maillog_event *ev)
{
	const char *o = memchr(m.p, '(', m.n), *c, *comma;
	struct span in, rest;

	if (!o)
		return MAILLOG_IGNORED;
	rest.p = o;
	rest.n = (size_t)(m.p + m.n - o);
	c = span_find(rest, "): ");
	if (!c)
		return MAILLOG_IGNORED;
	rest = span_skip(rest, (size_t)(c + 3 - o));
	rest = skip_level(rest);
	if (!span_starts(rest, "Password mismatch") &&
	    !span_starts(rest, "unknown user"))
		return MAILLOG_IGNORED;
	in.p = o + 1;
	in.n = (size_t)(c - in.p);
	if (in.n && in.p[in.n - 1] == '>') {
		comma = span_find_last(in, ",<");
		if (comma)
			in.n = (size_t)(comma - in.p);
	}
	comma = span_find_last(in, ",");
	if (!comma ||
	    !copy_field(ev->login, sizeof(ev->login), in.p,
			(size_t)(comma - in.p)) ||
	    !copy_field(ev->addr, sizeof(ev->addr), comma + 1,
			(size_t)(in.p + in.n - comma - 1)))
		return MAILLOG_E_MALFORMED;
	ev->kind = MAILLOG_PASSDB_FAIL;
	ev->attempts = 1;
	return MAILLOG_OK;
}

/* A Dovecot line: "PROCESS: [Level: ]MESSAGE" (prog may be the process
 * itself when Dovecot writes its own log file). */
static int dovecot_line(struct span prog, struct span m,
			struct maillog_event *ev)
{
	struct span proc = prog;

	if (prog.n == 7 && memcmp(prog.p, "dovecot", 7) == 0) {
		struct span t = token(&m);

		if (!tag_prog(t, &proc))
			return MAILLOG_IGNORED;
	}
	m = skip_level(m);
	if (proc.n > 6 && memcmp(proc.p + proc.n - 6, "-login", 6) == 0)
		return dovecot_login(m, ev);
	if ((proc.n == 4 && memcmp(proc.p, "auth", 4) == 0) ||
	    (proc.n == 11 && memcmp(proc.p, "auth-worker", 11) == 0))
		return dovecot_auth(m, ev);
	return MAILLOG_IGNORED;
}

int maillog_parse(const char *line, size_t n, int64_t ref,
		  struct maillog_event *ev)
{
	struct span s = { line, n }, t, prog;

	memset(ev, 0, sizeof(*ev));
	while (s.n && (s.p[s.n - 1] == '\n' || s.p[s.n - 1] == '\r'))
		s.n--;
	if (s.n > MAILLOG_LINE_MAX || memchr(s.p, '\0', s.n))
		return MAILLOG_E_MALFORMED;
	if (!(s.n && s.p[0] >= '0' && s.p[0] <= '9' ?
	      stamp_rfc3339(&s, &ev->time) :
	      stamp_traditional(&s, ref, &ev->time)))
		return MAILLOG_E_MALFORMED;
	while (s.n && s.p[0] == ' ')
		s = span_skip(s, 1);
	t = token(&s);
	/* Dovecot's own log file has no host: the tag comes first. */
	if (!tag_prog(t, &prog)) {
		t = token(&s);
		if (!tag_prog(t, &prog))
			return MAILLOG_E_MALFORMED;
	}
	if (prog.n >= 7 && memcmp(prog.p, "postfix", 7) == 0)
		return postfix_line(prog, s, ev);
	return dovecot_line(prog, s, ev);
}
