/*
 * policy-load - closed-loop load generator for Postfix policy servers.
 *
 * Speaks the Postfix SMTP access policy delegation protocol
 * (SMTPD_POLICY_README) the way smtpd(8) does: each of CONNS persistent
 * connections sends one request, waits for the whole reply
 * ("action=...\n\n"), then sends the next.  That is a closed loop: the offered
 * load adapts to the server, and by Little's law the mean latency is
 * CONNS / throughput.  So throughput is measured with many connections
 * (queues full) and latency with few (queues short); see bench/README.md.
 *
 * Requests carry the 29 attributes Postfix 3.7 sends, in its order, with
 * realistic values for authenticated submission (port 587, SASL PLAIN/LOGIN,
 * TLS 1.3).  Each connection plays one smtpd process sending message after
 * message: RCPT once per recipient (recipient_count=0, queue_id empty at the
 * first RCPT as the queue file does not exist yet), then END-OF-MESSAGE with
 * recipient_count=N, the final size, and recipient= only when N is 1.
 * sasl_username is user%06u@example.test, drawn uniformly or Zipf from
 * ACCOUNTS distinct values per message.
 *
 * One thread, one edge-triggered epoll loop, so the generator takes at most
 * one core and leaves the other to the server.  Latency is time from just
 * before write() of a request to the read() that completes its reply, on
 * CLOCK_MONOTONIC, kept in a log-linear histogram (128 linear sub-buckets per
 * power of two: every value within 0.8%, memory fixed at 58 KiB whatever the
 * run length).  Percentiles report the bucket's upper edge, capped at the
 * exact maximum.
 *
 * Bounds: the run ends after -d seconds of measurement or -n measured
 * replies, whichever comes first (-n alone is capped at 600 s), after an
 * unmeasured -w warmup; a request unanswered for -t seconds is an error; the
 * connection of any error is closed and reopened (10 ms later at the
 * earliest) until -e errors, after which it stays closed; the run ends when
 * no connection is left.  Requests are at
 * most 2 KiB and replies 4 KiB.
 *
 * Output: a human-readable block, then one line "result key=value ..." for
 * scripts (bench/run-policy-bench.sh).  Exit status 0 if at least one reply
 * was measured, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PL_REQ_MAX	2048
#define PL_REP_MAX	4096
#define PL_EVENTS	256
#define PL_MAX_CONNS	10000
#define PL_MAX_ACCOUNTS	100000000L
#define PL_NONLY_CAP_S	600.0	/* run length cap when only -n is given */
#define PL_REOPEN_NS	10000000ULL	/* 10 ms between reconnect passes */

/* ---- histogram --------------------------------------------------------- */

#define PL_SUB_BITS	7
#define PL_SUB		(1u << PL_SUB_BITS)
/* Values below 2*PL_SUB ns are exact; then one row of PL_SUB per octave. */
#define PL_HIST_N	(2 * PL_SUB + (64 - PL_SUB_BITS - 1) * PL_SUB)

struct pl_hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum;
	uint64_t b[PL_HIST_N];
};

/* Bucket index of a value in nanoseconds. */
static unsigned pl_hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < 2 * PL_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - PL_SUB_BITS;	/* >= 1 */
	return 2 * PL_SUB + (shift - 1) * PL_SUB +
	       (unsigned)((v >> shift) - PL_SUB);
}

/* Highest value that falls into bucket i. */
static uint64_t pl_hist_upper(unsigned i)
{
	unsigned shift, sub;

	if (i < 2 * PL_SUB)
		return i;
	shift = (i - 2 * PL_SUB) / PL_SUB + 1;
	sub = (i - 2 * PL_SUB) % PL_SUB;
	/* The bucket spans [(PL_SUB + sub) << shift, next bucket). */
	return ((uint64_t)(PL_SUB + sub + 1) << shift) - 1;
}

/* Record one latency in nanoseconds. */
static void pl_hist_add(struct pl_hist *h, uint64_t v)
{
	h->b[pl_hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

/* Value at quantile q (0..1]: upper edge of its bucket, capped at max. */
static uint64_t pl_hist_quantile(const struct pl_hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned i;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < PL_HIST_N; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			v = pl_hist_upper(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* ---- options, randomness, clock --------------------------------------- */

struct pl_opts {
	long conns;
	long total;		/* measured replies; 0 = no bound */
	double duration;	/* measured seconds; 0 = no bound */
	double warmup;
	long accounts;
	double zipf;		/* exponent; 0 = uniform */
	long max_rcpts;
	double timeout;
	long max_errors;
	uint64_t seed;
	bool quiet;
	const char *target;
};

static uint64_t pl_rng_state;

/* splitmix64: small, fast, good enough to pick accounts and values. */
static uint64_t pl_rand(void)
{
	uint64_t z = (pl_rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A fixed hash, so per-account attributes are the same on every message. */
static uint64_t pl_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Nanoseconds on the monotonic clock. */
static uint64_t pl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Zipf cumulative distribution over account ranks, or NULL for uniform. */
static double *pl_zipf_cdf;

/* Build the CDF of P(rank k) ~ 1/k^s over n accounts (8 bytes each). */
static void pl_zipf_init(long n, double s)
{
	double sum = 0;
	long k;

	pl_zipf_cdf = malloc((size_t)n * sizeof(double));
	if (!pl_zipf_cdf) {
		perror("policy-load: zipf table");
		exit(1);
	}
	for (k = 0; k < n; k++) {
		sum += 1.0 / pow((double)(k + 1), s);
		pl_zipf_cdf[k] = sum;
	}
	for (k = 0; k < n; k++)
		pl_zipf_cdf[k] /= sum;
}

/* An account number in [0, n): uniform, or Zipf by binary search. */
static uint32_t pl_pick_account(long n)
{
	double u;
	long lo = 0, hi = n - 1, mid;

	if (!pl_zipf_cdf)
		return (uint32_t)(pl_rand() % (uint64_t)n);
	u = (double)(pl_rand() >> 11) / 9007199254740992.0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (pl_zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

/* ---- request text ------------------------------------------------------ */

struct pl_w {
	char *p;
	size_t len;
	size_t cap;
};

/* Append n bytes to the request being built. */
static void pl_put(struct pl_w *w, const char *s, size_t n)
{
	if (w->len + n > w->cap) {
		/* Our own values are bounded; this is a programming error. */
		fprintf(stderr, "policy-load: request over %zu bytes\n", w->cap);
		abort();
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

#define PL_PUTS(w, lit) pl_put((w), (lit), sizeof(lit) - 1)

/* Append a C string. */
static void pl_put_str(struct pl_w *w, const char *s)
{
	pl_put(w, s, strlen(s));
}

/* Decimal, at least width digits (zero-padded). */
static void pl_put_dec(struct pl_w *w, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < 20);
	while (n < width && n < 20)
		tmp[sizeof(tmp) - 1 - n++] = '0';
	pl_put(w, tmp + sizeof(tmp) - n, (size_t)n);
}

/* Hexadecimal, exactly ndigits (upper or lower case). */
static void pl_put_hex(struct pl_w *w, uint64_t v, int ndigits, bool upper)
{
	static const char lc[] = "0123456789abcdef", uc[] = "0123456789ABCDEF";
	const char *d = upper ? uc : lc;
	char tmp[16];
	int i;

	if (ndigits > 16)
		ndigits = 16;
	for (i = ndigits - 1; i >= 0; i--) {
		tmp[i] = d[v & 15];
		v >>= 4;
	}
	pl_put(w, tmp, (size_t)ndigits);
}

/* Hexadecimal without leading zeros (Postfix's %x). */
static void pl_put_xval(struct pl_w *w, uint64_t v)
{
	int n = 1;

	while (n < 16 && (v >> (4 * n)))
		n++;
	pl_put_hex(w, v, n, false);
}

/* The account's login, also its envelope sender. */
static void pl_put_account(struct pl_w *w, uint32_t acct)
{
	PL_PUTS(w, "user");
	pl_put_dec(w, acct, 6);
	PL_PUTS(w, "@example.test");
}

/*
 * Carrier-grade NAT space (100.64.0.0/10), fixed per account; sep is '.'
 * for the address and '-' inside its PTR name.
 */
static void pl_put_client_ip(struct pl_w *w, uint64_t h, char sep)
{
	PL_PUTS(w, "100");
	pl_put(w, &sep, 1);
	pl_put_dec(w, 64 + ((h >> 16) & 63), 0);
	pl_put(w, &sep, 1);
	pl_put_dec(w, (h >> 8) & 255, 0);
	pl_put(w, &sep, 1);
	pl_put_dec(w, (h & 254) | 1, 0);
}

/* The client's DNS name, or "unknown" for a share of accounts. */
static void pl_put_client_name(struct pl_w *w, uint64_t h, unsigned pct)
{
	if (h % 100 < pct) {
		PL_PUTS(w, "ip-");
		pl_put_client_ip(w, h, '-');
		PL_PUTS(w, ".dyn.isp.example");
	} else {
		PL_PUTS(w, "unknown");
	}
}

static const char *const pl_rcpt_domains[] = {
	"example.test", "example.test", "example.test", "example.com",
	"example.net", "example.org", "mail.example", "shop.example",
	"docomo.example", "ezweb.example", "softbank.example", "gmail.example",
	"yahoo.example", "outlook.example", "icloud.example", "corp.example",
};
#define PL_NDOMAINS (sizeof(pl_rcpt_domains) / sizeof(pl_rcpt_domains[0]))

/* One message in progress on a connection. */
struct pl_msg {
	uint32_t account;
	uint32_t nrcpt;		/* recipients in this message; 0 = none yet */
	uint32_t sent;		/* RCPT requests sent so far */
	uint32_t size;
	uint32_t rcpt_local;	/* current recipient */
	uint32_t rcpt_domain;
	uint32_t client_port;
	uint64_t queue_id;
	uint64_t inst_sec;
	uint32_t inst_usec;
	uint32_t seqno;
};

enum pl_state {
	PL_DEAD,		/* closed for good */
	PL_REOPEN,		/* closed after an error, to be reopened */
	PL_CONNECTING,
	PL_IDLE,		/* connected, nothing outstanding */
	PL_SENDING,		/* request partly written */
	PL_WAITING,		/* request written, reply not complete */
};

struct pl_conn {
	int fd;
	enum pl_state state;
	uint32_t id;
	uint32_t gen;		/* bumped on reconnect; tags epoll events */
	uint64_t t_sent;	/* ns: request write or connect start */
	uint64_t msgs;		/* messages started on this connection */
	size_t req_len;
	size_t req_off;
	size_t rep_len;
	struct pl_msg m;
	char req[PL_REQ_MAX];
	char rep[PL_REP_MAX];
};

/* Start a new message: account, recipients, size, ids. */
static void pl_msg_new(const struct pl_opts *o, struct pl_conn *c)
{
	struct pl_msg *m = &c->m;
	struct timespec ts;
	uint64_t r = pl_rand();

	clock_gettime(CLOCK_REALTIME, &ts);
	m->account = pl_pick_account(o->accounts);
	m->nrcpt = 1 + (uint32_t)(r % (uint64_t)o->max_rcpts);
	m->sent = 0;
	r = pl_rand();
	/* Mostly short mail, an attachment now and then. */
	if ((r & 7) == 0)
		m->size = 20000 + (uint32_t)((r >> 8) % 3000000);
	else
		m->size = 1200 + (uint32_t)((r >> 8) % 40000);
	m->client_port = 49152 + (uint32_t)((r >> 40) % 16384);
	/* Postfix short queue IDs: 10 to 12 upper-case hex digits. */
	m->queue_id = pl_rand();
	m->inst_sec = (uint64_t)ts.tv_sec;
	m->inst_usec = (uint32_t)(ts.tv_nsec / 1000);
	m->seqno = (uint32_t)(c->msgs & 0xff);
	c->msgs++;
}

/*
 * Format the next request of the connection's current message into c->req,
 * advancing the message (RCPT..., END-OF-MESSAGE, next message).
 */
static void pl_build(const struct pl_opts *o, struct pl_conn *c)
{
	struct pl_msg *m = &c->m;
	struct pl_w w = { c->req, 0, sizeof(c->req) };
	uint64_t h, r;
	bool eom;

	if (m->nrcpt == 0)
		pl_msg_new(o, c);
	eom = m->sent == m->nrcpt;
	if (!eom) {
		r = pl_rand();
		m->rcpt_local = (uint32_t)(r % 1000000);
		m->rcpt_domain = (uint32_t)((r >> 32) % PL_NDOMAINS);
	}
	h = pl_mix(m->account);

	PL_PUTS(&w, "request=smtpd_access_policy\nprotocol_state=");
	if (eom)
		PL_PUTS(&w, "END-OF-MESSAGE");
	else
		PL_PUTS(&w, "RCPT");
	PL_PUTS(&w, "\nprotocol_name=ESMTP\nclient_address=");
	pl_put_client_ip(&w, h, '.');
	/* Verified name for 70% of accounts, PTR only for 80%. */
	PL_PUTS(&w, "\nclient_name=");
	pl_put_client_name(&w, h, 70);
	PL_PUTS(&w, "\nclient_port=");
	pl_put_dec(&w, m->client_port, 0);
	PL_PUTS(&w, "\nreverse_client_name=");
	pl_put_client_name(&w, h, 80);
	PL_PUTS(&w, "\nserver_address=192.0.2.25\nserver_port=587\nhelo_name=");
	if ((h >> 20) % 4 == 0) {
		PL_PUTS(&w, "[192.168.");
		pl_put_dec(&w, (h >> 24) % 3, 0);
		PL_PUTS(&w, ".");
		pl_put_dec(&w, 2 + (h >> 28) % 250, 0);
		PL_PUTS(&w, "]");
	} else {
		PL_PUTS(&w, "DESKTOP-");
		pl_put_hex(&w, h >> 36, 7, true);
	}
	PL_PUTS(&w, "\nsender=");
	pl_put_account(&w, m->account);
	PL_PUTS(&w, "\nrecipient=");
	/* At END-OF-MESSAGE only when exactly one recipient was accepted. */
	if (!eom || m->nrcpt == 1) {
		PL_PUTS(&w, "r");
		pl_put_dec(&w, m->rcpt_local, 6);
		PL_PUTS(&w, "@");
		pl_put_str(&w, pl_rcpt_domains[m->rcpt_domain]);
	}
	PL_PUTS(&w, "\nrecipient_count=");
	pl_put_dec(&w, eom ? m->nrcpt : 0, 0);
	PL_PUTS(&w, "\nqueue_id=");
	/* The queue file exists from the first accepted recipient on. */
	if (eom || m->sent > 0)
		pl_put_hex(&w, m->queue_id, 10 + (int)(m->queue_id >> 62) % 3,
			   true);
	PL_PUTS(&w, "\ninstance=");
	pl_put_xval(&w, 1000 + 37u * c->id);
	PL_PUTS(&w, ".");
	pl_put_xval(&w, m->inst_sec);
	PL_PUTS(&w, ".");
	pl_put_xval(&w, m->inst_usec);
	PL_PUTS(&w, ".");
	pl_put_xval(&w, m->seqno);
	PL_PUTS(&w, "\nsize=");
	/* MAIL FROM SIZE= at RCPT (MUAs declare it), the real size at EOM. */
	pl_put_dec(&w, eom ? m->size : m->size + m->size / 50, 0);
	PL_PUTS(&w, "\netrn_domain=\nstress=\nsasl_method=");
	if (h % 16 == 0)
		PL_PUTS(&w, "LOGIN");
	else
		PL_PUTS(&w, "PLAIN");
	PL_PUTS(&w, "\nsasl_username=");
	pl_put_account(&w, m->account);
	PL_PUTS(&w, "\nsasl_sender=\n"
		"ccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
		"ccert_pubkey_fingerprint=\n"
		"encryption_protocol=TLSv1.3\n"
		"encryption_cipher=TLS_AES_256_GCM_SHA384\n"
		"encryption_keysize=256\n"
		"policy_context=\n"
		"\n");
	c->req_len = w.len;
	c->req_off = 0;
	if (eom)
		m->nrcpt = 0;	/* the next call starts a new message */
	else
		m->sent++;
}

/* ---- run state --------------------------------------------------------- */

enum pl_action { PA_DUNNO, PA_DEFER_IF_PERMIT, PA_HOLD, PA_REJECT, PA_OTHER,
		 PA_N };
static const char *const pl_action_names[PA_N] = {
	"DUNNO", "DEFER_IF_PERMIT", "HOLD", "REJECT", "other",
};

enum pl_err { PE_CONNECT, PE_EOF, PE_IO, PE_TIMEOUT, PE_REPLY, PE_N };
static const char *const pl_err_names[PE_N] = {
	"connect", "eof", "io", "timeout", "bad_reply",
};

struct pl_run {
	const struct pl_opts *o;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int ep;
	struct pl_conn *conns;
	long live;		/* connections not PL_DEAD */
	long reopen;		/* connections in PL_REOPEN */
	long inflight;		/* requests written or being written */
	bool measuring;
	uint64_t done;		/* measured replies */
	uint64_t warm_done;
	uint64_t actions[PA_N];
	uint64_t errors[PE_N];	/* whole run, warmup included */
	uint64_t nerrors;
	char other_sample[48];
	struct pl_hist hist;
};

static volatile sig_atomic_t pl_interrupted;

/* SIGINT/SIGTERM: end the run and report what was measured. */
static void pl_on_signal(int sig)
{
	(void)sig;
	pl_interrupted = 1;
}

/*
 * Count an error and close the connection.  The main loop reopens it while
 * the error budget lasts (never from here: no recursion, no tight retry).
 */
static void pl_fail(struct pl_run *run, struct pl_conn *c, enum pl_err e)
{
	run->errors[e]++;
	run->nerrors++;
	if (c->state == PL_SENDING || c->state == PL_WAITING)
		run->inflight--;
	if (c->fd >= 0) {
		epoll_ctl(run->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (run->nerrors < (uint64_t)run->o->max_errors) {
		c->state = PL_REOPEN;
		run->reopen++;
	} else {
		c->state = PL_DEAD;
		run->live--;
	}
}

/* Open a non-blocking connection; completion arrives as EPOLLOUT. */
static void pl_open(struct pl_run *run, struct pl_conn *c)
{
	struct epoll_event ev;
	int one = 1;

	c->gen++;
	c->fd = socket(run->addr.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->rep_len = 0;
	c->t_sent = pl_now_ns();
	c->state = PL_CONNECTING;
	if (c->fd < 0) {
		pl_fail(run, c, PE_CONNECT);
		return;
	}
	if (run->addr.ss_family != AF_UNIX)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.u64 = ((uint64_t)c->gen << 32) | c->id;
	if (epoll_ctl(run->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ||
	    (connect(c->fd, (struct sockaddr *)&run->addr, run->addrlen) < 0 &&
	     errno != EINPROGRESS)) {
		pl_fail(run, c, PE_CONNECT);
		return;
	}
}

/* False once the -n bound is covered by replies plus requests in flight. */
static bool pl_may_send(const struct pl_run *run)
{
	const struct pl_opts *o = run->o;

	if (run->measuring && o->total &&
	    run->done + (uint64_t)run->inflight >= (uint64_t)o->total)
		return false;
	return true;
}

/* Write what remains of the request; on completion wait for the reply. */
static void pl_write(struct pl_run *run, struct pl_conn *c)
{
	ssize_t w;

	w = write(c->fd, c->req + c->req_off, c->req_len - c->req_off);
	if (w < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		pl_fail(run, c, PE_IO);
		return;
	}
	c->req_off += (size_t)w;
	if (c->req_off == c->req_len)
		c->state = PL_WAITING;
}

/* Build and send the next request, if the run still wants one. */
static void pl_send_next(struct pl_run *run, struct pl_conn *c)
{
	if (!pl_may_send(run)) {
		c->state = PL_IDLE;
		return;
	}
	pl_build(run->o, c);
	c->rep_len = 0;
	c->state = PL_SENDING;
	run->inflight++;
	c->t_sent = pl_now_ns();
	pl_write(run, c);
}

/* Classify a complete reply (without its final "\n\n"). */
static enum pl_action pl_classify(struct pl_run *run, const char *r, size_t n)
{
	static const struct {
		const char *verb;
		size_t len;
		enum pl_action a;
	} verbs[] = {
		{ "DUNNO", 5, PA_DUNNO },
		{ "DEFER_IF_PERMIT", 15, PA_DEFER_IF_PERMIT },
		{ "HOLD", 4, PA_HOLD },
		{ "REJECT", 6, PA_REJECT },
	};
	const char *v = r + 7;
	size_t vl = 0, i;

	while (7 + vl < n && v[vl] != ' ' && v[vl] != '\t' && v[vl] != '\n')
		vl++;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (vl == verbs[i].len && strncasecmp(v, verbs[i].verb, vl) == 0)
			return verbs[i].a;
	if (!run->other_sample[0]) {
		size_t k = n - 7 < sizeof(run->other_sample) - 1 ?
			n - 7 : sizeof(run->other_sample) - 1;

		for (i = 0; i < k; i++)
			run->other_sample[i] = (v[i] >= 0x20 && v[i] < 0x7f) ?
					       v[i] : '?';
		run->other_sample[k] = '\0';
	}
	return PA_OTHER;
}

/* Read reply bytes; on a complete reply record it and send the next. */
static void pl_read(struct pl_run *run, struct pl_conn *c)
{
	const char *end = NULL;
	size_t from, n;
	ssize_t r;
	uint64_t t;

	for (int k = 0; k < 64; k++) {
		if (c->rep_len >= sizeof(c->rep)) {
			pl_fail(run, c, PE_REPLY);
			return;
		}
		r = read(c->fd, c->rep + c->rep_len, sizeof(c->rep) - c->rep_len);
		if (r == 0) {
			pl_fail(run, c, PE_EOF);
			return;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			pl_fail(run, c, PE_IO);
			return;
		}
		from = c->rep_len ? c->rep_len - 1 : 0;
		c->rep_len += (size_t)r;
		end = memmem(c->rep + from, c->rep_len - from, "\n\n", 2);
		if (end)
			break;
	}
	if (!end)
		return;
	t = pl_now_ns();
	n = (size_t)(end - c->rep);
	/* One reply per request: more bytes, or no action=, is a protocol error. */
	if (n + 2 != c->rep_len || n < 7 || memcmp(c->rep, "action=", 7) != 0) {
		pl_fail(run, c, PE_REPLY);
		return;
	}
	run->inflight--;
	if (run->measuring) {
		pl_hist_add(&run->hist, t - c->t_sent);
		run->actions[pl_classify(run, c->rep, n)]++;
		run->done++;
	} else {
		run->warm_done++;
	}
	pl_send_next(run, c);
}

/* Handle one epoll event for a connection. */
static void pl_event(struct pl_run *run, struct pl_conn *c, uint32_t events)
{
	if (c->state == PL_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
		    err) {
			pl_fail(run, c, PE_CONNECT);
			return;
		}
		pl_send_next(run, c);
		return;
	}
	if (c->state == PL_SENDING && (events & (EPOLLOUT | EPOLLERR))) {
		pl_write(run, c);
		/* The reply may have come with this wakeup (edge-triggered). */
		if (c->state == PL_WAITING)
			pl_read(run, c);
		return;
	}
	if (c->state == PL_WAITING &&
	    (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
		pl_read(run, c);
		return;
	}
	if (c->state == PL_IDLE && (events & (EPOLLERR | EPOLLHUP)))
		pl_fail(run, c, PE_EOF);
}

/* Resolve HOST:PORT, [V6]:PORT, unix:PATH or a path containing '/'. */
static int pl_resolve(const char *spec, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct addrinfo hints, *res;
	const char *colon;
	char host[256];
	size_t hl;
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (strncmp(spec, "unix:", 5) == 0 || strchr(spec, '/')) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		const char *path = strncmp(spec, "unix:", 5) == 0 ?
				   spec + 5 : spec;

		if (!*path || strlen(path) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, strlen(path) + 1);
		*len = sizeof(*sun);
		return 0;
	}
	colon = strrchr(spec, ':');
	if (!colon || colon == spec || !colon[1])
		return -1;
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc) {
		fprintf(stderr, "policy-load: %s: %s\n", spec, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* CPU seconds (user + system) this process has used. */
static double pl_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Print usage and exit 2. */
static void pl_usage(void)
{
	fprintf(stderr,
		"usage: policy-load [options] HOST:PORT | unix:PATH\n"
		"  -c CONNS     concurrent connections (default 10, max %d)\n"
		"  -d SECONDS   measure this long (default 10 unless -n)\n"
		"  -n REQUESTS  measure this many replies (with -d: first bound wins)\n"
		"  -w SECONDS   unmeasured warmup first (default 0)\n"
		"  -a ACCOUNTS  distinct sasl_username values (default 100000)\n"
		"  -z S         Zipf exponent for accounts (default 0 = uniform)\n"
		"  -r N         recipients per message, uniform 1..N (default 1)\n"
		"  -t SECONDS   per-request timeout (default 10)\n"
		"  -e ERRORS    stop reconnecting after this many errors (default 100)\n"
		"  -s SEED      random seed (default 1)\n"
		"  -q           print only the result line\n",
		PL_MAX_CONNS);
	exit(2);
}

/* Parse a number within [min, max] or exit 2. */
static double pl_dnum(const char *s, double min, double max, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "policy-load: bad %s '%s' (%g..%g)\n",
			what, s, min, max);
		exit(2);
	}
	return v;
}

/* Parse an integer within [min, max] or exit 2. */
static long pl_lnum(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "policy-load: bad %s '%s' (%ld..%ld)\n",
			what, s, min, max);
		exit(2);
	}
	return v;
}

/* Parse options into o; exits on a bad one. */
static void pl_options(int argc, char **argv, struct pl_opts *o)
{
	bool have_d = false;
	int opt;

	memset(o, 0, sizeof(*o));
	o->conns = 10;
	o->accounts = 100000;
	o->max_rcpts = 1;
	o->timeout = 10;
	o->max_errors = 100;
	o->seed = 1;
	while ((opt = getopt(argc, argv, "c:n:d:w:a:z:r:t:e:s:qh")) != -1) {
		switch (opt) {
		case 'c':
			o->conns = pl_lnum(optarg, 1, PL_MAX_CONNS, "-c");
			break;
		case 'n':
			o->total = pl_lnum(optarg, 1, 1000000000000L, "-n");
			break;
		case 'd':
			o->duration = pl_dnum(optarg, 0.01, 86400, "-d");
			have_d = true;
			break;
		case 'w':
			o->warmup = pl_dnum(optarg, 0, 3600, "-w");
			break;
		case 'a':
			o->accounts = pl_lnum(optarg, 1, PL_MAX_ACCOUNTS, "-a");
			break;
		case 'z':
			o->zipf = pl_dnum(optarg, 0, 10, "-z");
			break;
		case 'r':
			o->max_rcpts = pl_lnum(optarg, 1, 1000, "-r");
			break;
		case 't':
			o->timeout = pl_dnum(optarg, 0.01, 3600, "-t");
			break;
		case 'e':
			o->max_errors = pl_lnum(optarg, 1, 1000000000L, "-e");
			break;
		case 's':
			o->seed = (uint64_t)pl_lnum(optarg, 0, 0x7fffffffffffffffL,
						    "-s");
			break;
		case 'q':
			o->quiet = true;
			break;
		default:
			pl_usage();
		}
	}
	if (optind != argc - 1)
		pl_usage();
	o->target = argv[optind];
	if (!have_d)
		o->duration = o->total ? PL_NONLY_CAP_S : 10;
	if (o->zipf > 0 && o->accounts > 10000000L) {
		fprintf(stderr, "policy-load: -z needs -a <= 10000000\n");
		exit(2);
	}
}

/* Print the human-readable block and the result line. */
static void pl_report(const struct pl_run *run, double secs, double cpu)
{
	const struct pl_opts *o = run->o;
	const struct pl_hist *h = &run->hist;
	double rps = secs > 0 ? (double)run->done / secs : 0;
	double q[5] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
	double us[5], mean;
	char dist[32];
	int i;

	for (i = 0; i < 5; i++)
		us[i] = (double)pl_hist_quantile(h, q[i]) / 1000.0;
	us[4] = (double)h->max / 1000.0;
	mean = h->count ? (double)h->sum / (double)h->count / 1000.0 : 0;
	if (o->zipf > 0)
		snprintf(dist, sizeof(dist), "zipf%.2f", o->zipf);
	else
		snprintf(dist, sizeof(dist), "uniform");
	if (!o->quiet) {
		printf("policy-load %s: %ld connections, %ld accounts (%s), "
		       "1..%ld recipients/message\n",
		       o->target, o->conns, o->accounts, dist, o->max_rcpts);
		printf("  measured     %llu replies in %.3f s "
		       "(after %.1f s warmup, %llu replies)\n",
		       (unsigned long long)run->done, secs, o->warmup,
		       (unsigned long long)run->warm_done);
		printf("  decisions/s  %.0f\n", rps);
		printf("  latency us   p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  "
		       "max %.0f  mean %.1f\n",
		       us[0], us[1], us[2], us[3], us[4], mean);
		printf("  actions      ");
		for (i = 0; i < PA_N; i++)
			printf("%s %llu%s", pl_action_names[i],
			       (unsigned long long)run->actions[i],
			       i + 1 < PA_N ? "  " : "");
		if (run->other_sample[0])
			printf(" (first other: %s)", run->other_sample);
		printf("\n  errors       %llu (", (unsigned long long)run->nerrors);
		for (i = 0; i < PE_N; i++)
			printf("%s %llu%s", pl_err_names[i],
			       (unsigned long long)run->errors[i],
			       i + 1 < PE_N ? ", " : "");
		printf("), warmup included\n");
		printf("  client cpu   %.0f%% of one core\n",
		       secs > 0 ? 100.0 * cpu / secs : 0);
	}
	printf("result target=%s conns=%ld accounts=%ld dist=%s rcpts=%ld "
	       "warmup_s=%.1f seconds=%.3f requests=%llu rps=%.0f "
	       "p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f "
	       "mean_us=%.1f dunno=%llu defer_if_permit=%llu hold=%llu "
	       "reject=%llu other=%llu errors=%llu client_cpu_pct=%.0f\n",
	       o->target, o->conns, o->accounts, dist, o->max_rcpts, o->warmup,
	       secs, (unsigned long long)run->done, rps, us[0], us[1], us[2],
	       us[3], us[4], mean,
	       (unsigned long long)run->actions[PA_DUNNO],
	       (unsigned long long)run->actions[PA_DEFER_IF_PERMIT],
	       (unsigned long long)run->actions[PA_HOLD],
	       (unsigned long long)run->actions[PA_REJECT],
	       (unsigned long long)run->actions[PA_OTHER],
	       (unsigned long long)run->nerrors,
	       secs > 0 ? 100.0 * cpu / secs : 0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static struct pl_run run;
	struct epoll_event evs[PL_EVENTS];
	struct pl_opts o;
	struct sigaction sa;
	uint64_t start, t0 = 0, t_end = 0, now, last_scan, warm_end, meas_ns;
	uint64_t hard_end, timeout_ns, last_reopen = 0;
	double cpu0 = 0;
	long i;
	int n;

	pl_options(argc, argv, &o);
	run.o = &o;
	pl_rng_state = o.seed;
	if (o.zipf > 0)
		pl_zipf_init(o.accounts, o.zipf);
	if (pl_resolve(o.target, &run.addr, &run.addrlen) < 0) {
		fprintf(stderr, "policy-load: bad target '%s'\n", o.target);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pl_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	run.ep = epoll_create1(EPOLL_CLOEXEC);
	run.conns = calloc((size_t)o.conns, sizeof(*run.conns));
	if (run.ep < 0 || !run.conns) {
		perror("policy-load: setup");
		return 1;
	}
	timeout_ns = (uint64_t)(o.timeout * 1e9);
	meas_ns = (uint64_t)(o.duration * 1e9);
	start = pl_now_ns();
	warm_end = start + (uint64_t)(o.warmup * 1e9);
	/* Safety net over everything: warmup + measurement + one timeout. */
	hard_end = warm_end + meas_ns + timeout_ns + 1000000000ULL;
	last_scan = start;
	run.measuring = o.warmup <= 0;
	if (run.measuring) {
		t0 = start;
		cpu0 = pl_cpu_seconds();
	}
	run.live = o.conns;
	for (i = 0; i < o.conns; i++) {
		run.conns[i].id = (uint32_t)i;
		run.conns[i].fd = -1;
		pl_open(&run, &run.conns[i]);
	}

	while (!pl_interrupted) {
		int wait_ms = 100;

		now = pl_now_ns();
		if (!run.measuring && now >= warm_end) {
			/* Warmup over: forget its replies, start the clock. */
			run.measuring = true;
			t0 = now;
			cpu0 = pl_cpu_seconds();
		}
		if (run.measuring && now - t0 >= meas_ns) {
			t_end = now;
			break;
		}
		if (run.measuring && o.total && run.done >= (uint64_t)o.total)
			break;	/* t_end set at the last reply below */
		if (run.live == 0 || now >= hard_end) {
			t_end = now;
			break;
		}
		if (run.reopen > 0 && now - last_reopen >= PL_REOPEN_NS) {
			/*
			 * Each pass reopens each closed connection at most once,
			 * and passes are 10 ms apart: a refused connect costs the
			 * error budget at a bounded pace, not in a spin.
			 */
			last_reopen = now;
			for (i = 0; i < o.conns && run.reopen > 0; i++) {
				if (run.conns[i].state != PL_REOPEN)
					continue;
				run.reopen--;
				pl_open(&run, &run.conns[i]);
			}
		}
		if (now - last_scan >= 100000000ULL) {
			last_scan = now;
			for (i = 0; i < o.conns; i++) {
				struct pl_conn *c = &run.conns[i];

				if (c->state >= PL_CONNECTING &&
				    c->state != PL_IDLE &&
				    now - c->t_sent > timeout_ns)
					pl_fail(&run, c, PE_TIMEOUT);
			}
		}
		if (!run.measuring && warm_end - now < 100000000ULL)
			wait_ms = (int)((warm_end - now) / 1000000ULL) + 1;
		if (run.reopen > 0 && wait_ms > 10)
			wait_ms = 10;
		n = epoll_wait(run.ep, evs, PL_EVENTS, wait_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("policy-load: epoll_wait");
			break;
		}
		for (int k = 0; k < n; k++) {
			uint32_t id = (uint32_t)evs[k].data.u64;
			uint32_t gen = (uint32_t)(evs[k].data.u64 >> 32);
			struct pl_conn *c;
			uint64_t before = run.done;

			if (id >= (uint32_t)o.conns)
				continue;
			c = &run.conns[id];
			if (c->gen != gen || c->state <= PL_REOPEN)
				continue;	/* stale: connection reopened */
			pl_event(&run, c, evs[k].events);
			if (o.total && run.done != before &&
			    run.done >= (uint64_t)o.total)
				t_end = pl_now_ns();
		}
	}
	if (pl_interrupted || t_end == 0)
		t_end = pl_now_ns();
	if (!run.measuring)
		t0 = t_end;
	pl_report(&run, (double)(t_end - t0) / 1e9,
		  run.measuring ? pl_cpu_seconds() - cpu0 : 0);
	for (i = 0; i < o.conns; i++)
		if (run.conns[i].fd >= 0)
			close(run.conns[i].fd);
	free(run.conns);
	free(pl_zipf_cdf);
	close(run.ep);
	return run.done > 0 ? 0 : 1;
}
