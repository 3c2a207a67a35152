/*
 * milter-load - closed-loop load generator for milters, driving them as
 * Postfix's smtpd(8) does (milter protocol 6, Postfix's milter8.c side).
 *
 * Each of CONNS threads plays one smtpd process serving SMTP session after
 * SMTP session: per session it opens a milter connection and sends OPTNEG,
 * CONNECT, HELO, then up to -m messages (MAIL, RCPT, DATA, the header
 * fields one by one, EOH, the body in chunks of at most 65,535 bytes,
 * end of body), waiting for the final reply of each, an ABORT after each
 * (Postfix resets the milter's transaction after every message), then QUIT,
 * and closes the connection (Postfix opens a new one per SMTP client).  A
 * thread sends the next message only once the last one is answered: a
 * closed loop, so the offered load follows the filter's speed.
 *
 * As Postfix does, it offers every protocol step and no-reply flag
 * (SMFIP_NO* / SMFIP_NR_*, SMFIP_HDR_LEADSPC, SMFIP_SKIP) and then honours
 * what the filter asked for: a step the filter does not want is not sent
 * (nor its macros), a step with a no-reply flag is not waited for, header
 * values keep their leading space only with SMFIP_HDR_LEADSPC, folded
 * header lines are separated by "\n", body lines end in CRLF.  Commands
 * that need no reply are buffered and written together with the next one
 * that does (Postfix's VSTREAM flushes before it reads).  Macros are those
 * of Postfix 3.7's defaults that have a value (milter_*_macros): j,
 * {daemon_name}, {daemon_addr}, v, _ at CONNECT; i (at DATA, EOH, EOM: the
 * queue file exists from then on), {mail_addr}, {mail_host}, {mail_mailer}
 * and, with -A, {auth_type} and {auth_authen} at MAIL; {rcpt_*} at RCPT;
 * or, if the filter sends macro lists in its OPTNEG reply, those.
 *
 * Replies are checked to the byte: packet length, known codes, the
 * NUL-terminated strings of every modification request (add/insert/change
 * header, quarantine, recipients, sender), a 4xx/5xx code in a custom reply.
 * Anything else is a protocol error: it is printed with the message file
 * and the program exits with status 2 at once ("fails loudly").  A
 * connection refused, reset or silent for -t seconds is an error that ends
 * the run with status 1.
 *
 * Input: a directory of messages (one per file, an mbox "From " first line
 * skipped, LF or CRLF), loaded into memory before the clock starts.  Message
 * k of the run is file k modulo their number, in name order.
 *
 * Bounds: measures for -d seconds or -n messages, whichever comes first,
 * after -w seconds of warmup whose messages are not counted.
 *
 * Output: a human-readable block, then one line "result key=value ..." for
 * scripts (bench/run-milter-bench.sh): messages/s, latency percentiles (from
 * writing MAIL to reading the final end-of-message reply, CLOCK_MONOTONIC),
 * the actions (accept, reject, tempfail, discard, quarantine), how many
 * messages got an Authentication-Results field from the filter saying
 * spf=pass, dkim=pass and dmarc=pass, every final reply received
 * (warmup included: "answered", to divide a filter's CPU time by) and the
 * generator's own CPU.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Milter protocol 6 (sendmail's libmilter/mfdef.h, Postfix's milter8.c). */
#define MILTER_VERSION 6
#define CHUNK_MAX 65535			/* MILTER_CHUNK_SIZE */
#define PKT_MAX (1024 * 1024)		/* largest reply packet we accept */
#define MSG_MAX (16 * 1024 * 1024)	/* largest message file loaded */

#define P_NOCONNECT 0x1
#define P_NOHELO 0x2
#define P_NOMAIL 0x4
#define P_NORCPT 0x8
#define P_NOBODY 0x10
#define P_NOHDRS 0x20
#define P_NOEOH 0x40
#define P_NR_HDR 0x80
#define P_NOUNKNOWN 0x100
#define P_NODATA 0x200
#define P_SKIP 0x400
#define P_RCPT_REJ 0x800
#define P_NR_CONN 0x1000
#define P_NR_HELO 0x2000
#define P_NR_MAIL 0x4000
#define P_NR_RCPT 0x8000
#define P_NR_DATA 0x10000
#define P_NR_UNKN 0x20000
#define P_NR_EOH 0x40000
#define P_NR_BODY 0x80000
#define P_HDR_LEADSPC 0x100000
#define P_ALL 0x1fffff			/* what Postfix 3.x offers */

#define F_ADDHDRS 0x1
#define F_CHGBODY 0x2
#define F_ADDRCPT 0x4
#define F_DELRCPT 0x8
#define F_CHGHDRS 0x10
#define F_QUARANTINE 0x20
#define F_CHGFROM 0x40
#define F_ADDRCPT_PAR 0x80
#define F_SETSYMLIST 0x100
#define F_ALL 0x1ff

/* Macro stages of the OPTNEG reply's symbol lists (SMFIM_*). */
enum { ST_CONNECT, ST_HELO, ST_MAIL, ST_RCPT, ST_DATA, ST_EOM, ST_EOH,
       ST_N };

/* Outcome of a message. */
enum { A_ACCEPT, A_REJECT, A_TEMPFAIL, A_DISCARD, A_QUARANTINE, A_N };
static const char *const action_name[A_N] = {
	"accept", "reject", "tempfail", "discard", "quarantine" };

/* One header field: name and value as Postfix hands them to milter8. */
struct hdr {
	char *name;
	char *value;	/* after the colon, leading space kept, folds "\n" */
};

/* One input message, parsed once. */
struct msg {
	char *path;
	struct hdr *h;
	size_t nh;
	char *body;	/* lines ending in CRLF */
	size_t blen;
};

/* Settings from the command line. */
static struct {
	const char *target, *dir;
	int conns, per_conn;
	double warmup, duration, timeout;
	long nmax;
	const char *client_ip, *client_name, *helo, *sender, *rcpt, *auth;
	bool quiet;
} opt = {
	.conns = 16, .per_conn = 10, .warmup = 1, .duration = 10,
	.timeout = 10, .nmax = 0,
	.client_ip = "198.51.100.7", .client_name = "mail.bench.example",
	.helo = "mail.bench.example", .sender = "sender@bench.example",
	.rcpt = "rcpt@mx.example", .auth = NULL,
};

static struct msg *msgs;
static size_t nmsgs;

/* Shared run state. */
static atomic_long next_msg;		/* message tickets handed out */
static atomic_long measured;		/* messages counted */
static atomic_long answered;		/* every final reply, warmup too */
static atomic_bool stop;
static double t_start, t_warm_end, t_end_limit;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *lat_us;		/* latency of each measured message */
static long lat_cap;
static long counts[A_N], ar_spf, ar_dkim, ar_dmarc, conn_verdicts;
static long errors;
static double t_last;			/* end of the last measured message */

/* Wall-clock seconds on CLOCK_MONOTONIC. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Print and exit 2: the filter broke the protocol. */
static void __attribute__((noreturn, format(printf, 2, 3)))
proto_fail(const struct msg *m, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "milter-load: PROTOCOL ERROR%s%s: ",
		m ? " on " : "", m ? m->path : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* malloc that exits on failure. */
static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		perror("malloc");
		exit(1);
	}
	return p;
}

/* realloc that exits on failure. */
static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		perror("realloc");
		exit(1);
	}
	return p;
}

/* Copy of n bytes plus a NUL. */
static char *xmemdup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

/* ------------------------------------------------------------------ */
/* Input                                                                */

/* Length of the line at p (to end), without its LF or CRLF; *next after it. */
static size_t line_at(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', end - p);
	size_t n;

	if (!nl) {
		*next = end;
		n = end - p;
	} else {
		*next = nl + 1;
		n = nl - p;
	}
	if (n && p[n - 1] == '\r')
		n--;
	return n;
}

/* Split one message file into header fields and a CRLF body. */
static void parse_msg(struct msg *m, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *next;
	size_t n, cap = 0, bcap;

	if (len >= 5 && !memcmp(p, "From ", 5))
		line_at(p, end, &p);
	while (p < end) {
		n = line_at(p, end, &next);
		if (n == 0) {
			p = next;
			break;
		}
		if ((*p == ' ' || *p == '\t') && m->nh) {
			/* continuation: milter8 joins folded lines with "\n" */
			struct hdr *h = &m->h[m->nh - 1];
			size_t ol = strlen(h->value);

			h->value = xrealloc(h->value, ol + 1 + n + 1);
			h->value[ol] = '\n';
			memcpy(h->value + ol + 1, p, n);
			h->value[ol + 1 + n] = 0;
		} else {
			const char *colon = memchr(p, ':', n);
			size_t nl;

			if (!colon) {	/* not a header: the body starts here */
				break;
			}
			nl = colon - p;
			while (nl && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
				nl--;
			if (m->nh == cap) {
				cap = cap ? 2 * cap : 32;
				m->h = xrealloc(m->h, cap * sizeof(*m->h));
			}
			m->h[m->nh].name = xmemdup(p, nl);
			m->h[m->nh].value = xmemdup(colon + 1,
						    n - (colon - p) - 1);
			m->nh++;
		}
		p = next;
	}
	bcap = 2 * (size_t)(end - p) + 2;
	m->body = xmalloc(bcap);
	m->blen = 0;
	while (p < end) {
		n = line_at(p, end, &next);
		memcpy(m->body + m->blen, p, n);
		m->blen += n;
		m->body[m->blen++] = '\r';
		m->body[m->blen++] = '\n';
		p = next;
	}
}

/* qsort comparator for file names. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every regular file of dir. */
static void load_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t nn = 0, cap = 0, i;

	if (!d) {
		fprintf(stderr, "milter-load: %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (nn == cap) {
			cap = cap ? 2 * cap : 1024;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[nn++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof(*names), cmp_str);
	msgs = xmalloc(nn * sizeof(*msgs));
	for (i = 0; i < nn; i++) {
		char path[4096];
		struct stat st;
		FILE *f;
		char *buf;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		free(names[i]);
		if (stat(path, &st) || !S_ISREG(st.st_mode) ||
		    st.st_size > MSG_MAX)
			continue;
		f = fopen(path, "rb");
		if (!f)
			continue;
		buf = xmalloc(st.st_size + 1);
		if (fread(buf, 1, st.st_size, f) != (size_t)st.st_size) {
			fclose(f);
			free(buf);
			continue;
		}
		fclose(f);
		memset(&msgs[nmsgs], 0, sizeof(msgs[0]));
		msgs[nmsgs].path = strdup(path);
		parse_msg(&msgs[nmsgs], buf, st.st_size);
		free(buf);
		nmsgs++;
	}
	free(names);
	if (!nmsgs) {
		fprintf(stderr, "milter-load: no messages in %s\n", dir);
		exit(1);
	}
}

/* ------------------------------------------------------------------ */
/* Wire                                                                 */

/* One milter connection (one simulated SMTP session). */
struct conn {
	int fd;
	unsigned long prot, act;	/* negotiated */
	char *symlist[ST_N];		/* the filter's macro lists, or NULL */
	char *out;			/* buffered commands */
	size_t olen, ocap;
	char *in;			/* last reply packet */
	size_t icap;
	uint32_t ilen;
	char qid[16];
	const struct msg *cur;
};

/* Append bytes to the output buffer. */
static void out_put(struct conn *c, const void *p, size_t n)
{
	if (c->olen + n > c->ocap) {
		c->ocap = 2 * (c->olen + n);
		c->out = xrealloc(c->out, c->ocap);
	}
	memcpy(c->out + c->olen, p, n);
	c->olen += n;
}

/* Start a packet: the 4-byte length is patched by pkt_end. */
static size_t pkt_begin(struct conn *c, char cmd)
{
	size_t at = c->olen;
	char z[4] = { 0 };

	out_put(c, z, 4);
	out_put(c, &cmd, 1);
	return at;
}

/* Append a NUL-terminated string to the packet. */
static void pkt_str(struct conn *c, const char *s)
{
	out_put(c, s, strlen(s) + 1);
}

/* Patch the packet length. */
static void pkt_end(struct conn *c, size_t at)
{
	uint32_t n = htonl((uint32_t)(c->olen - at - 4));

	memcpy(c->out + at, &n, 4);
}

/* Write everything buffered; false on error. */
static bool flush(struct conn *c)
{
	size_t off = 0;

	while (off < c->olen) {
		ssize_t w = write(c->fd, c->out + off, c->olen - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		off += w;
	}
	c->olen = 0;
	return true;
}

/* Read exactly n bytes; false on EOF, error or timeout. */
static bool read_full(int fd, void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = read(fd, (char *)p + off, n - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		off += r;
	}
	return true;
}

/* Read one reply packet into c->in (code first); false on I/O failure. */
static bool read_pkt(struct conn *c)
{
	uint32_t n;

	if (!flush(c) || !read_full(c->fd, &n, 4))
		return false;
	n = ntohl(n);
	if (n < 1 || n > PKT_MAX)
		proto_fail(c->cur, "reply packet length %" PRIu32, n);
	if (n + 1 > c->icap) {
		c->icap = n + 1;
		c->in = xrealloc(c->in, c->icap);
	}
	if (!read_full(c->fd, c->in, n))
		return false;
	c->in[n] = 0;
	c->ilen = n;
	return true;
}

/* Value of macro name for this connection, or NULL (not sent). */
static const char *macro_value(struct conn *c, const char *name)
{
	static const struct { const char *n, *v; } fixed[] = {
		{ "j", "mx.bench.example" },
		{ "{daemon_name}", "mx.bench.example" },
		{ "{daemon_addr}", "127.0.0.1" },
		{ "v", "Postfix 3.7.11" },
		{ "{mail_host}", "bench.example" },
		{ "{mail_mailer}", "smtp" },
		{ "{rcpt_host}", "mx.example" },
		{ "{rcpt_mailer}", "smtp" },
	};
	size_t i;

	if (!strcmp(name, "i"))
		return c->qid;
	if (!strcmp(name, "_"))
		return opt.client_name;
	if (!strcmp(name, "{mail_addr}"))
		return opt.sender;
	if (!strcmp(name, "{rcpt_addr}"))
		return opt.rcpt;
	if (!strcmp(name, "{auth_authen}"))
		return opt.auth;
	if (!strcmp(name, "{auth_type}"))
		return opt.auth ? "PLAIN" : NULL;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcmp(name, fixed[i].n))
			return fixed[i].v;
	return NULL;
}

/* Postfix 3.7's default macro lists (milter_*_macros). */
static const char *const default_macros[ST_N] = {
	[ST_CONNECT] = "j {daemon_name} {daemon_addr} v _",
	[ST_HELO] = "{tls_version} {cipher} {cipher_bits} {cert_subject} "
		    "{cert_issuer}",
	[ST_MAIL] = "i {auth_type} {auth_authen} {auth_author} {mail_addr} "
		    "{mail_host} {mail_mailer}",
	[ST_RCPT] = "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
	[ST_DATA] = "i",
	[ST_EOM] = "i",
	[ST_EOH] = "i",
};

/*
 * Buffer the SMFIC_MACRO packet of a stage's macros for command cmd (as
 * milter8.c: header fields get the end-of-header macros, body chunks the
 * end-of-message ones), if any macro has a value.
 */
static void send_macros(struct conn *c, int stage, char cmd, bool with_qid)
{
	const char *list = c->symlist[stage] ? c->symlist[stage] :
		default_macros[stage];
	char name[64];
	size_t at = 0;
	bool any = false;

	while (*list) {
		size_t n = strcspn(list, " ,");
		const char *v;

		if (n && n < sizeof(name)) {
			memcpy(name, list, n);
			name[n] = 0;
			v = macro_value(c, name);
			if (v && !strcmp(name, "i") && !with_qid)
				v = NULL;	/* no queue file yet */
			if (v && *v) {
				if (!any) {
					at = pkt_begin(c, 'D');
					out_put(c, &cmd, 1);
					any = true;
				}
				pkt_str(c, name);
				pkt_str(c, v);
			}
		}
		list += n;
		list += strspn(list, " ,");
	}
	if (any)
		pkt_end(c, at);
}

/* Length of the NUL-terminated string at p within [p, end), or -1. */
static long str_in(const char *p, const char *end)
{
	const char *z = memchr(p, 0, end - p);

	return z ? z - p : -1;
}

/* Is this a custom reply "4xx ..." or "5xx ..."?  Returns the action. */
static int reply_code(struct conn *c)
{
	const char *p = c->in + 1, *end = c->in + c->ilen;
	long n = str_in(p, end);

	if (n < 3 || p[n] || (p[0] != '4' && p[0] != '5') ||
	    p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' ||
	    (n > 3 && p[3] != ' ' && p[3] != '-'))
		proto_fail(c->cur, "bad SMFIR_REPLYCODE \"%.80s\"", p);
	return p[0] == '4' ? A_TEMPFAIL : A_REJECT;
}

/*
 * Reply to a step that is not end of message: -1 continue, -2 skip the
 * rest of the body, else the message's action (the step ended it); false
 * from *ok on I/O failure.
 */
static int step_reply(struct conn *c, bool *ok, bool body)
{
	for (;;) {
		if (!read_pkt(c)) {
			*ok = false;
			return -1;
		}
		if (c->ilen != 1 && c->in[0] != 'y')
			proto_fail(c->cur, "reply '%c' with %u data bytes",
				   c->in[0], (unsigned)c->ilen - 1);
		switch (c->in[0]) {
		case 'c': return -1;
		case 'p': continue;
		case 'a': return A_ACCEPT;
		case 'r': return A_REJECT;
		case 't': return A_TEMPFAIL;
		case 'd': return A_DISCARD;
		case 'y': return reply_code(c);
		case 's':
			if (body && (c->prot & P_SKIP))
				return -2;
			/* fallthrough */
		default:
			proto_fail(c->cur, "unexpected reply code 0x%02x",
				   (unsigned char)c->in[0]);
		}
	}
}

/* Check a modification packet; note Authentication-Results it adds. */
static void check_mod(struct conn *c, bool *quar, unsigned *ar)
{
	const char *p = c->in + 1, *end = c->in + c->ilen, *name, *val;
	char code = c->in[0];
	long n1, n2;

	switch (code) {
	case 'i': case 'm':		/* index, name, value */
		if (end - p < 4)
			proto_fail(c->cur, "'%c' without index", code);
		p += 4;
		/* fallthrough */
	case 'h':			/* name, value */
		name = p;
		n1 = str_in(p, end);
		if (n1 < 1)
			proto_fail(c->cur, "'%c' without header name", code);
		val = p + n1 + 1;
		n2 = str_in(val, end);
		if (n2 < 0 || val + n2 + 1 != end)
			proto_fail(c->cur, "'%c' header %.40s: bad value",
				   code, name);
		if (code != 'm' && !strcasecmp(name, "Authentication-Results")) {
			if (strstr(val, "spf=pass"))
				*ar |= 1;
			if (strstr(val, "dkim=pass"))
				*ar |= 2;
			if (strstr(val, "dmarc=pass"))
				*ar |= 4;
		}
		return;
	case 'q':
		n1 = str_in(p, end);
		if (n1 < 0 || p + n1 + 1 != end)
			proto_fail(c->cur, "bad SMFIR_QUARANTINE");
		*quar = true;
		return;
	case '+': case '-':
		n1 = str_in(p, end);
		if (n1 < 1 || p + n1 + 1 != end)
			proto_fail(c->cur, "bad recipient in '%c'", code);
		return;
	case '2': case 'e':		/* address, then optional args */
		n1 = str_in(p, end);
		if (n1 < 1)
			proto_fail(c->cur, "bad address in '%c'", code);
		for (p += n1 + 1; p < end; p += n1 + 1)
			if ((n1 = str_in(p, end)) < 0)
				proto_fail(c->cur, "bad args in '%c'", code);
		return;
	case 'b':
		return;
	default:
		proto_fail(c->cur, "unexpected reply code 0x%02x at end of "
			   "message", (unsigned char)code);
	}
}

/* Wait for the end-of-message answer: modifications, then a verdict. */
static int eom_reply(struct conn *c, bool *ok, unsigned *ar)
{
	bool quar = false;

	for (;;) {
		int a = -1;

		if (!read_pkt(c)) {
			*ok = false;
			return -1;
		}
		switch (c->in[0]) {
		case 'p': continue;
		case 'a': case 'c': a = quar ? A_QUARANTINE : A_ACCEPT; break;
		case 'r': a = A_REJECT; break;
		case 't': a = A_TEMPFAIL; break;
		case 'd': a = A_DISCARD; break;
		case 'y': a = reply_code(c); break;
		default:
			check_mod(c, &quar, ar);
			continue;
		}
		if (c->in[0] != 'y' && c->ilen != 1)
			proto_fail(c->cur, "reply '%c' with %u data bytes",
				   c->in[0], (unsigned)c->ilen - 1);
		return a;
	}
}

/* Open the milter socket: unix:PATH, inet:PORT@HOST or HOST:PORT. */
static int open_target(void)
{
	const char *t = opt.target;
	int fd;

	if (!strncmp(t, "unix:", 5) || !strncmp(t, "local:", 6) || *t == '/') {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		const char *path = *t == '/' ? t : strchr(t, ':') + 1;

		if (strlen(path) >= sizeof(sun.sun_path))
			return -1;
		memcpy(sun.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun,
				      sizeof(sun))) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
	} else {
		char host[256], port[32];
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
		const char *at;

		/* '@' searched from t, not t + 5: after strncmp(t, "inet:")
		 * gcc 12 with -fsanitize takes t for the literal and calls
		 * t + 5 a zero-size region (-Wstringop-overread).  "inet:"
		 * holds no '@', so at > t + 5 when it matches. */
		at = strchr(t, '@');
		if (!strncmp(t, "inet:", 5) && at) {
			snprintf(port, sizeof(port), "%.*s",
				 (int)(at - t - 5), t + 5);
			snprintf(host, sizeof(host), "%s", at + 1);
		} else {
			const char *colon = strrchr(t, ':');

			if (!colon)
				return -1;
			snprintf(host, sizeof(host), "%.*s", (int)(colon - t), t);
			snprintf(port, sizeof(port), "%s", colon + 1);
		}
		if (getaddrinfo(host, port, &hints, &ai))
			return -1;
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
			if (fd >= 0)
				close(fd);
			freeaddrinfo(ai);
			return -1;
		}
		freeaddrinfo(ai);
	}
	{
		struct timeval tv = { .tv_sec = (time_t)opt.timeout,
			.tv_usec = (suseconds_t)((opt.timeout -
				(time_t)opt.timeout) * 1e6) };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

/* OPTNEG: offer everything Postfix offers, keep what the filter wants. */
static bool negotiate(struct conn *c)
{
	uint32_t v[3] = { htonl(MILTER_VERSION), htonl(F_ALL), htonl(P_ALL) };
	size_t at = pkt_begin(c, 'O');
	const char *p, *end;
	int i;

	out_put(c, v, sizeof(v));
	pkt_end(c, at);
	if (!read_pkt(c))
		return false;
	if (c->in[0] != 'O' || c->ilen < 13)
		proto_fail(NULL, "OPTNEG reply: code 0x%02x, %u bytes",
			   (unsigned char)c->in[0], (unsigned)c->ilen);
	memcpy(v, c->in + 1, 12);
	if (ntohl(v[0]) < 2 || ntohl(v[0]) > MILTER_VERSION)
		proto_fail(NULL, "OPTNEG reply: version %u", ntohl(v[0]));
	c->act = ntohl(v[1]);
	c->prot = ntohl(v[2]);
	if (c->act & ~(unsigned long)F_ALL)
		proto_fail(NULL, "OPTNEG reply: actions 0x%lx not offered",
			   c->act);
	if (c->prot & ~(unsigned long)P_ALL)
		proto_fail(NULL, "OPTNEG reply: protocol 0x%lx not offered",
			   c->prot);
	for (i = 0; i < ST_N; i++) {
		free(c->symlist[i]);
		c->symlist[i] = NULL;
	}
	p = c->in + 13;
	end = c->in + c->ilen;
	while (p < end) {	/* macro lists: stage, NUL-terminated names */
		uint32_t st;
		long n;

		if (end - p < 5)
			proto_fail(NULL, "OPTNEG reply: truncated macro list");
		memcpy(&st, p, 4);
		st = ntohl(st);
		n = str_in(p + 4, end);
		if (st >= ST_N || n < 0)
			proto_fail(NULL, "OPTNEG reply: bad macro list %u", st);
		c->symlist[st] = xmemdup(p + 4, n);
		p += 4 + n + 1;
	}
	return true;
}

/*
 * After buffering a step: wait for its reply unless the filter asked for
 * none (nr).  Returns -1 to go on, -2 to skip the rest of the body, an
 * action (the step ended the message), or -3 on I/O failure.
 */
static int step(struct conn *c, unsigned long nr, bool body)
{
	bool ok = true;
	int r;

	if (c->prot & nr)
		return -1;
	r = step_reply(c, &ok, body);
	return ok ? r : -3;
}

/*
 * Buffer one step whose data is zero to two strings (s1, s2 may be NULL),
 * after its macros, and wait for its reply unless the filter asked for
 * none: as step().
 */
static int send_step(struct conn *c, int stage, char cmd, bool with_qid,
		     unsigned long nr, const char *s1, const char *s2)
{
	size_t at;

	send_macros(c, stage, cmd, with_qid);
	at = pkt_begin(c, cmd);
	if (s1)
		pkt_str(c, s1);
	if (s2)
		pkt_str(c, s2);
	pkt_end(c, at);
	return step(c, nr, false);
}

/* Count a finished message; end_t is when its final reply came. */
static void record(double t0, double t1, int action, unsigned ar)
{
	long k;

	if (t1 < t_warm_end)
		return;
	if (t1 > t_end_limit) {
		atomic_store(&stop, true);
		return;
	}
	k = atomic_fetch_add(&measured, 1);
	if (opt.nmax && k >= opt.nmax) {
		atomic_store(&stop, true);
		return;
	}
	if (k == opt.nmax - 1)
		atomic_store(&stop, true);
	pthread_mutex_lock(&lock);
	if (k < lat_cap)
		lat_us[k] = (uint32_t)((t1 - t0) * 1e6 + 0.5);
	counts[action]++;
	if (ar & 1)
		ar_spf++;
	if (ar & 2)
		ar_dkim++;
	if (ar & 4)
		ar_dmarc++;
	if (t1 > t_last)
		t_last = t1;
	pthread_mutex_unlock(&lock);
}

/* One message: MAIL .. end of body, the verdict, then ABORT. */
static bool one_message(struct conn *c, const struct msg *m, unsigned tid)
{
	static atomic_ulong qseq;
	double t0;
	size_t at, i, off;
	int r = -1;
	unsigned ar = 0;
	bool ok = true;
	char addr[512];

	c->cur = m;
	snprintf(c->qid, sizeof(c->qid), "%02X%08lX", tid & 0xff,
		 atomic_fetch_add(&qseq, 1) & 0xffffffffUL);
	t0 = now();
	/* MAIL */
	if (!(c->prot & P_NOMAIL)) {
		snprintf(addr, sizeof(addr), "<%s>", opt.sender);
		r = send_step(c, ST_MAIL, 'M', false, P_NR_MAIL, addr,
			      "SIZE=1000");
	}
	/* RCPT */
	if (r == -1 && !(c->prot & P_NORCPT)) {
		snprintf(addr, sizeof(addr), "<%s>", opt.rcpt);
		r = send_step(c, ST_RCPT, 'R', false, P_NR_RCPT, addr, NULL);
	}
	/* DATA */
	if (r == -1 && !(c->prot & P_NODATA))
		r = send_step(c, ST_DATA, 'T', true, P_NR_DATA, NULL, NULL);
	/* header fields, one by one, with the end-of-header macros */
	for (i = 0; r == -1 && !(c->prot & P_NOHDRS) && i < m->nh; i++) {
		const char *v = m->h[i].value;

		if (!(c->prot & P_HDR_LEADSPC) && *v == ' ')
			v++;	/* Sendmail eats one space after the colon */
		r = send_step(c, ST_EOH, 'L', true, P_NR_HDR, m->h[i].name, v);
	}
	/* end of header */
	if (r == -1 && !(c->prot & P_NOEOH))
		r = send_step(c, ST_EOH, 'N', true, P_NR_EOH, NULL, NULL);
	if (r == -3)
		return false;
	/* body chunks */
	for (off = 0; r == -1 && !(c->prot & P_NOBODY) && off < m->blen;) {
		size_t n = m->blen - off > CHUNK_MAX ? CHUNK_MAX :
			m->blen - off;

		send_macros(c, ST_EOM, 'B', true);
		at = pkt_begin(c, 'B');
		out_put(c, m->body + off, n);
		pkt_end(c, at);
		off += n;
		if ((r = step(c, P_NR_BODY, true)) == -3)
			return false;
	}
	if (r == -2)
		r = -1;
	/* end of message */
	if (r == -1) {
		send_macros(c, ST_EOM, 'E', true);
		at = pkt_begin(c, 'E');
		pkt_end(c, at);
		r = eom_reply(c, &ok, &ar);
		if (!ok)
			return false;
	}
	atomic_fetch_add(&answered, 1);
	record(t0, now(), r, ar);
	/* Postfix resets the milter's transaction after every message. */
	at = pkt_begin(c, 'A');
	pkt_end(c, at);
	c->cur = NULL;
	return true;
}

/* Note an I/O error (fatal for the run). */
static void io_error(const char *what, const struct msg *m)
{
	pthread_mutex_lock(&lock);
	errors++;
	pthread_mutex_unlock(&lock);
	fprintf(stderr, "milter-load: %s%s%s: %s\n", what, m ? " on " : "",
		m ? m->path : "", errno ? strerror(errno) :
		"connection closed by the filter");
	atomic_store(&stop, true);
}

/* One thread: SMTP session after SMTP session, until told to stop. */
static void *worker(void *arg)
{
	unsigned tid = (unsigned)(uintptr_t)arg;
	struct conn c = { .fd = -1 };
	int i;

	while (!atomic_load(&stop)) {
		size_t at;
		bool up = true;
		uint16_t port = htons(40000 + tid);
		char fam = '4';
		int r = -1;

		errno = 0;
		c.fd = open_target();
		if (c.fd < 0) {
			io_error("connect", NULL);
			break;
		}
		if (!negotiate(&c)) {
			io_error("OPTNEG", NULL);
			break;
		}
		if (!(c.prot & P_NOCONNECT)) {
			send_macros(&c, ST_CONNECT, 'C', false);
			at = pkt_begin(&c, 'C');
			pkt_str(&c, opt.client_name);
			out_put(&c, &fam, 1);
			out_put(&c, &port, 2);
			pkt_str(&c, opt.client_ip);
			pkt_end(&c, at);
			r = step(&c, P_NR_CONN, false);
		}
		if (r == -1 && !(c.prot & P_NOHELO))
			r = send_step(&c, ST_HELO, 'H', false, P_NR_HELO,
				      opt.helo, NULL);
		if (r == -3) {
			io_error("CONNECT/HELO", NULL);
			break;
		}
		if (r >= 0) {	/* a verdict for the whole connection */
			pthread_mutex_lock(&lock);
			conn_verdicts++;
			pthread_mutex_unlock(&lock);
			close(c.fd);
			continue;
		}
		for (i = 0; i < opt.per_conn && !atomic_load(&stop); i++) {
			long k = atomic_fetch_add(&next_msg, 1);

			if (!one_message(&c, &msgs[k % nmsgs], tid)) {
				io_error("message", &msgs[k % nmsgs]);
				up = false;
				break;
			}
		}
		if (up) {
			at = pkt_begin(&c, 'Q');
			pkt_end(&c, at);
			flush(&c);
		}
		close(c.fd);
		c.fd = -1;
		if (!up)
			break;
	}
	for (i = 0; i < ST_N; i++)
		free(c.symlist[i]);
	free(c.out);
	free(c.in);
	return NULL;
}

/* Deadline watcher: stops the run at the time limit. */
static void *timer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop) && now() < t_end_limit)
		usleep(10000);
	atomic_store(&stop, true);
	return NULL;
}

/* qsort comparator for latencies. */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile q (0..1) of the sorted array. */
static uint32_t pct(const uint32_t *v, long n, double q)
{
	long i;

	if (n <= 0)
		return 0;
	i = (long)(q * n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

static void usage(void);

/* A number from the command line, or usage(). */
static double num(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end)
		usage();
	return v;
}

/* Usage message and exit. */
static void usage(void)
{
	fprintf(stderr,
		"usage: milter-load [-q] [-c CONNS] [-m MSGS_PER_CONN] "
		"[-n MESSAGES] [-d SECONDS]\n"
		"                   [-w WARMUP_S] [-t TIMEOUT_S] [-i CLIENT_IP] "
		"[-H HELO] [-f SENDER]\n"
		"                   [-r RCPT] [-A AUTH_USER] -D DIR TARGET\n"
		"TARGET: unix:PATH, inet:PORT@HOST or HOST:PORT\n");
	exit(64);
}

int main(int argc, char **argv)
{
	pthread_t *th, tt;
	struct rusage ru;
	double secs, cpu;
	long n, i;
	int ch;

	while ((ch = getopt(argc, argv, "qc:m:n:d:w:t:i:H:f:r:A:D:")) != -1) {
		switch (ch) {
		case 'q': opt.quiet = true; break;
		case 'c': opt.conns = (int)num(optarg); break;
		case 'm': opt.per_conn = (int)num(optarg); break;
		case 'n': opt.nmax = (long)num(optarg); break;
		case 'd': opt.duration = num(optarg); break;
		case 'w': opt.warmup = num(optarg); break;
		case 't': opt.timeout = num(optarg); break;
		case 'i': opt.client_ip = optarg; break;
		case 'H': opt.helo = optarg; break;
		case 'f': opt.sender = optarg; break;
		case 'r': opt.rcpt = optarg; break;
		case 'A': opt.auth = optarg; break;
		case 'D': opt.dir = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || !opt.dir || opt.conns < 1 ||
	    opt.conns > 1000 || opt.per_conn < 1 || opt.duration <= 0 ||
	    opt.duration > 3600 || opt.warmup < 0 || opt.nmax < 0 ||
	    opt.timeout <= 0)
		usage();
	opt.target = argv[optind];
	load_dir(opt.dir);
	lat_cap = opt.nmax ? opt.nmax : 2000000;
	lat_us = xmalloc(lat_cap * sizeof(*lat_us));

	t_start = now();
	t_warm_end = t_start + opt.warmup;
	t_end_limit = t_warm_end + opt.duration;
	th = xmalloc(opt.conns * sizeof(*th));
	for (i = 0; i < opt.conns; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	pthread_create(&tt, NULL, timer, NULL);
	for (i = 0; i < opt.conns; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop, true);
	pthread_join(tt, NULL);

	n = atomic_load(&measured);
	if (opt.nmax && n > opt.nmax)
		n = opt.nmax;
	if (n > lat_cap)
		n = lat_cap;
	secs = (t_last > t_warm_end ? t_last : now()) - t_warm_end;
	if (secs <= 0)
		secs = 1e-9;
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	qsort(lat_us, n, sizeof(*lat_us), cmp_u32);
	if (!opt.quiet) {
		printf("target      %s\n", opt.target);
		printf("messages    %ld in %.3f s (%zu distinct files), %d "
		       "connections, %d per connection\n", n, secs, nmsgs,
		       opt.conns, opt.per_conn);
		printf("rate        %.1f messages/s\n", n / secs);
		printf("latency us  p50 %u p90 %u p99 %u p99.9 %u max %u\n",
		       pct(lat_us, n, .5), pct(lat_us, n, .9),
		       pct(lat_us, n, .99), pct(lat_us, n, .999),
		       n ? lat_us[n - 1] : 0);
		printf("actions     accept %ld reject %ld tempfail %ld "
		       "discard %ld quarantine %ld\n", counts[A_ACCEPT],
		       counts[A_REJECT], counts[A_TEMPFAIL],
		       counts[A_DISCARD], counts[A_QUARANTINE]);
		printf("A-R added   spf=pass %ld dkim=pass %ld dmarc=pass %ld\n",
		       ar_spf, ar_dkim, ar_dmarc);
		printf("errors      %ld (connection verdicts %ld)\n", errors,
		       conn_verdicts);
	}
	printf("result target=%s conns=%d per_conn=%d files=%zu "
	       "messages=%ld seconds=%.3f msgs_per_s=%.1f p50_us=%u "
	       "p90_us=%u p99_us=%u p999_us=%u max_us=%u",
	       opt.target, opt.conns, opt.per_conn, nmsgs, n, secs, n / secs,
	       pct(lat_us, n, .5), pct(lat_us, n, .9), pct(lat_us, n, .99),
	       pct(lat_us, n, .999), n ? lat_us[n - 1] : 0);
	for (i = 0; i < A_N; i++)
		printf(" %s=%ld", action_name[i], counts[i]);
	printf(" ar_spf_pass=%ld ar_dkim_pass=%ld ar_dmarc_pass=%ld "
	       "conn_verdicts=%ld errors=%ld answered=%ld client_cpu_s=%.3f\n",
	       ar_spf, ar_dkim, ar_dmarc, conn_verdicts, errors,
	       atomic_load(&answered), cpu);
	return errors || n == 0 ? 1 : 0;
}
