/*
 * spf_report - what SPF results become: result names, the Received-SPF
 * field (RFC 7208 9.1), the Authentication-Results method entry (RFC 8601
 * 2.7.2), a record checker for tools, and spf_check(), the loop that runs
 * the evaluator over a struct dns_resolver.
 *
 * Header values come from the SMTP peer (MAIL FROM, HELO), so they are
 * written quoted, with CR, LF, other control bytes and 8-bit bytes
 * replaced by '?': a hostile envelope cannot fold or inject a header.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/spf-internal.h"
#include "util/xalloc.h"

static const char *const result_names[] = {
	[SPF_NONE] = "none",
	[SPF_NEUTRAL] = "neutral",
	[SPF_PASS] = "pass",
	[SPF_FAIL] = "fail",
	[SPF_SOFTFAIL] = "softfail",
	[SPF_TEMPERROR] = "temperror",
	[SPF_PERMERROR] = "permerror",
};

const char *spf_result_name(enum spf_result r)
{
	if ((unsigned)r >= sizeof(result_names) / sizeof(result_names[0]))
		return "permerror";
	return result_names[r];
}

/* Append s with unsafe bytes replaced; in a comment also escape parens.
 * Runs of plain bytes go in one append. */
static int put_safe(struct buf *out, const char *s, bool comment)
{
	int r = 0;

	while (*s && r == 0) {
		const char *run = s;
		unsigned char c;

		for (c = (unsigned char)*s; c >= 0x20 && c <= 0x7e &&
					    c != '\\' && c != '"' &&
					    !(comment && (c == '(' || c == ')'));
		     c = (unsigned char)*++s)
			;
		if (s > run)
			r = buf_append(out, run, (size_t)(s - run));
		if (r != 0 || *s == '\0')
			break;
		if (c < 0x20 || c > 0x7e) {
			r = buf_append(out, "?", 1);
		} else {
			char esc[2] = { '\\', (char)c };

			r = buf_append(out, esc, 2);
		}
		s++;
	}
	return r;
}

/* Append s as a quoted-string. */
static int put_quoted(struct buf *out, const char *s)
{
	int r = buf_append(out, "\"", 1);

	if (r == 0)
		r = put_safe(out, s, false);
	return r ? r : buf_append(out, "\"", 1);
}

/* True if s can go unquoted as an RFC 8601 value (atext, '.', one '@'). */
static bool is_plain(const char *s)
{
	static const char atext_sp[] = "!#$%&'*+-/=?^_`{|}~.@";

	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(atext_sp, *s)))
			return false;
	return true;
}

int spf_received_spf_header(const struct spf *s, struct buf *out)
{
	const char *who = s->helo_id ? s->helo : s->mailfrom;
	const char *me = s->recv ? s->recv : "unknown";
	int r;

	r = buf_puts(out, spf_result_name(spf_result(s)));
	if (r == 0)
		r = buf_puts(out, " (");
	if (r == 0)
		r = put_safe(out, me, true);
	if (r == 0)
		r = buf_puts(out, ": ");
	switch (spf_result(s)) {
	case SPF_PASS:
	case SPF_FAIL:
	case SPF_SOFTFAIL:
		if (r == 0)
			r = buf_puts(out, spf_result(s) == SPF_SOFTFAIL ?
				     "domain of transitioning " : "domain of ");
		if (r == 0)
			r = put_safe(out, who, true);
		if (r == 0)
			r = buf_puts(out, spf_result(s) == SPF_PASS ?
				     " designates " : " does not designate ");
		if (r == 0)
			r = buf_puts(out, s->ipstr);
		if (r == 0)
			r = buf_puts(out, " as permitted sender");
		break;
	case SPF_NEUTRAL:
		if (r == 0)
			r = buf_printf(out, "%s is neither permitted nor "
				       "denied by domain of ", s->ipstr);
		if (r == 0)
			r = put_safe(out, who, true);
		break;
	case SPF_NONE:
		if (r == 0)
			r = buf_puts(out, "domain of ");
		if (r == 0)
			r = put_safe(out, who, true);
		if (r == 0)
			r = buf_puts(out, " does not provide an SPF record");
		break;
	default:
		if (r == 0)
			r = buf_puts(out, spf_result(s) == SPF_TEMPERROR ?
				     "temporary" : "permanent");
		if (r == 0)
			r = buf_puts(out, " error in processing: ");
		if (r == 0)
			r = put_safe(out, s->reason, true);
		break;
	}
	if (r == 0)
		r = buf_puts(out, ") client-ip=");
	if (r == 0)
		r = buf_puts(out, s->ipstr);
	if (r == 0)
		r = buf_puts(out, "; envelope-from=");
	if (r == 0)
		r = put_quoted(out, s->mailfrom);
	if (r == 0)
		r = buf_puts(out, "; helo=");
	if (r == 0)
		r = put_quoted(out, s->helo);
	if (r == 0)
		r = buf_puts(out, "; receiver=");
	if (r == 0)
		r = put_quoted(out, me);
	if (r == 0)
		r = buf_puts(out, s->helo_id ? "; identity=helo" :
			     "; identity=mailfrom");
	return r;
}

int spf_auth_results(const struct spf *s, struct buf *out)
{
	const char *v = s->helo_id ? s->helo : s->mailfrom;
	int r;

	r = buf_puts(out, "spf=");
	if (r == 0)
		r = buf_puts(out, spf_result_name(spf_result(s)));
	if (r == 0)
		r = buf_puts(out, s->helo_id ? " smtp.helo=" : " smtp.mailfrom=");
	if (r == 0)
		r = is_plain(v) ? buf_puts(out, v) : put_quoted(out, v);
	return r;
}

int spf_record_check(const char *text, size_t len, char *err, size_t errsz)
{
	struct spf_record rec;
	int r;

	if (!spf_record_is_spf(text, len))
		return 1;
	r = spf_record_parse(text, len, &rec, err, errsz);
	spf_record_deinit(&rec);
	return r < 0 ? -1 : 0;
}

/* One spf_check() in flight. */
struct spf_run {
	struct dns_resolver *r;
	struct spf *s;
	spf_done_cb *done;
	void *arg;
	bool stepping;		/* inside run_loop: do not re-enter */
	bool answered;
};

static void run_loop(struct spf_run *c);

/* Resolver callback: store the answer, resume unless the loop will. */
static void run_answer(void *arg, const struct dns_answer *a)
{
	struct spf_run *c = arg;

	spf_answer(c->s, a);
	c->answered = true;
	if (!c->stepping)
		run_loop(c);
}

/*
 * Step until done or until a question is in flight.  A synchronous
 * resolver answers inside dns_query(); looping here instead of recursing
 * from the callback keeps the stack flat.
 */
static void run_loop(struct spf_run *c)
{
	struct dns_question q;

	c->stepping = true;
	while (spf_step(c->s, &q) == SPF_NEED_DNS) {
		c->answered = false;
		dns_query(c->r, &q, run_answer, c);
		if (!c->answered) {
			c->stepping = false;
			return;
		}
	}
	c->done(c->arg, c->s);
	spf_free(c->s);
	free(c);
}

int spf_check(struct dns_resolver *r, const char *ip, const char *mailfrom,
	      const char *helo, const char *receiving_domain,
	      spf_done_cb *done, void *arg)
{
	struct spf_run *c;
	struct spf *s = spf_new(ip, mailfrom, helo, receiving_domain);

	if (!s)
		return -EINVAL;
	c = xcalloc(1, sizeof(*c));
	c->r = r;
	c->s = s;
	c->done = done;
	c->arg = arg;
	run_loop(c);
	return 0;
}
