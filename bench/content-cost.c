/*
 * content-cost - the inbound content path alone (one MIME parse,
 * content_check, content_decide: core/inbound.c's evaluate() without DMARC
 * and the correspondence index) over a set of messages, in one process, so
 * that `valgrind --tool=callgrind` counts its instructions per message
 * without the milter, SPF/DKIM or process start around it.
 *
 *   content-cost [-p PROTECTED_FILE] [-r ROUNDS] [-q] [-m|-l] [-f] FILE|DIR ...
 *
 * Messages (files, or every regular file of a directory, in name order)
 * are read into memory first (at most MAX_MSG bytes each, as
 * content_max_size would keep).  Each round runs every message once.
 * Prints one line per message of the first round: the file, score,
 * action and every reason (name, points, detail), so that two builds'
 * verdicts can be diffed; -q prints only the totals; -m prints the whole
 * MIME summary instead (every field, bodies and attachment bytes as FNV-1a
 * hashes), -l every link and the visible text links_html and links_text
 * take from the bodies, to diff parser changes; -f drops a leading mbox "From " line
 * as bench/milter-load does (Postfix hands the milter none).  Under callgrind the
 * cost of the checks is the inclusive count of run_one() divided by the
 * messages it ran (printed at the end).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/content.h"
#include "mail/dmarc.h"
#include "mail/links.h"
#include "mail/mime.h"
#include "util/config.h"
#include "util/xalloc.h"

#define MAX_MSG (256u * 1024u)	/* content_max_size's default order */
#define MAX_FILES 20000

struct msg {
	char *name;
	char *data;
	size_t len;
};

static struct msg msgs[MAX_FILES];
static size_t nmsgs;
static int skip_from;		/* -f */

/* Reads path (at most MAX_MSG bytes) into the next slot. */
static void add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct msg *m;

	if (!f || nmsgs >= MAX_FILES) {
		if (f)
			fclose(f);
		return;
	}
	m = &msgs[nmsgs++];
	m->name = xstrdup(path);
	m->data = xmalloc(MAX_MSG);
	m->len = fread(m->data, 1, MAX_MSG, f);
	fclose(f);
	if (skip_from && m->len > 5 && memcmp(m->data, "From ", 5) == 0) {
		char *nl = memchr(m->data, '\n', m->len);
		size_t k = nl ? (size_t)(nl + 1 - m->data) : m->len;

		memmove(m->data, m->data + k, m->len - k);
		m->len -= k;
	}
}

/* qsort order of names. */
static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path: a file, or every regular file of a directory in name order. */
static void add_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL, buf[4096];
	size_t n = 0, cap = 0, i;

	if (stat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "%s/%s", path, names[i]);
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
			add_file(buf);
		free(names[i]);
	}
	free(names);
}

/* One message through the content path (evaluate() without DMARC). */
static __attribute__((noinline)) void run_one(const struct content_config *c,
					      const struct msg *m,
					      struct content_verdict *v)
{
	struct mime_summary *ms = NULL;
	struct content_input in = { 0 };

	content_verdict_init(v);
	if (mime_parse(m->data, m->len, &ms) == 0) {
		in.ms = ms;
		content_check(v, c, &in);
	}
	content_decide(v, c);
	mime_summary_free(ms);
}

/* FNV-1a of p[0..n): a body's fingerprint. */
static unsigned long long fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned long long h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* An address list on one line. */
static void print_addrs(const char *name, const struct mime_addr_list *l)
{
	size_t i;

	printf("\t%s=", name);
	for (i = 0; i < l->n; i++)
		printf("%s[%s|%s]", i ? "," : "", l->v[i].name, l->v[i].addr);
}

/* Every field of the summary of m on one line. */
static void print_summary(const struct msg *m)
{
	struct mime_summary *s = NULL;
	size_t i;

	if (mime_parse(m->data, m->len, &s) != 0) {
		printf("%s\tno parse\n", m->name);
		return;
	}
	printf("%s\tflags=%#x\tsubject=%s\tmid=%s\tirt=%s\trefs=", m->name,
	       s->flags, s->subject, s->message_id, s->in_reply_to);
	for (i = 0; i < s->n_references; i++)
		printf("%s%s", i ? "," : "", s->references[i]);
	print_addrs("from", &s->from);
	print_addrs("reply_to", &s->reply_to);
	print_addrs("to", &s->to);
	print_addrs("cc", &s->cc);
	printf("\ttext=%zu:%llx\thtml=%zu:%llx\tparts=%zu\tdepth=%u"
	       "\tdecoded=%zu\tdsn=%d\tmdn=%d\tauto=%d:%s\treport_mid=%s"
	       "\treport_fields=%llx\tinner_mid=%s\tprecedence=%s"
	       "\tx_autoreply=%d\tlist_post=%s", s->text_len,
	       fnv(s->text, s->text_len), s->html_len, fnv(s->html, s->html_len),
	       s->n_parts, s->depth, s->bytes_decoded, s->is_dsn, s->is_mdn,
	       s->auto_submitted, s->auto_submitted_value,
	       s->report_message_id, fnv(s->report_fields,
					 strlen(s->report_fields)),
	       s->inner_message_id, s->precedence, s->x_autoreply,
	       s->list_post);
	for (i = 0; i < s->n_attachments; i++) {
		const struct mime_attachment *a = &s->attachments[i];

		printf("\tatt=%s|%s|%zu|%zu:%llx|%d|%d", a->filename,
		       a->content_type, a->size, a->data_len,
		       fnv(a->data, a->data_len), a->truncated,
		       a->inline_disposition);
	}
	printf("\n");
	mime_summary_free(s);
}

/* The links of m's bodies on one line (HTML if any, else text). */
static void print_links(const struct msg *m, const struct content_config *c)
{
	struct mime_summary *s = NULL;
	struct links *lk;
	size_t i;
	int r = -1;

	if (mime_parse(m->data, m->len, &s) != 0)
		return;
	lk = links_new();
	if (s->html_len)
		r = links_html(lk, s->html, s->html_len, c->psl, c->la);
	else if (s->text_len)
		r = links_text(lk, s->text, s->text_len, c->psl, c->la);
	printf("%s\tr=%d\tn=%zu\tdropped=%zu\tflags=%#x\ttrunc=%d\ttext=%zu:%llx",
	       m->name, r, lk->n, lk->dropped, lk->flags, lk->truncated,
	       lk->text_len, fnv(lk->text, lk->text_len));
	for (i = 0; i < lk->n; i++) {
		const struct links_link *l = &lk->link[i];

		printf("\t%#x|%d|%s|%s|%s|%s|%s|%s", l->flags, l->from_html,
		       l->href, l->host, l->text, l->text_host, l->target,
		       l->matched);
	}
	printf("\n");
	links_free(lk);
	mime_summary_free(s);
}

/* The verdict as one line: file, score, action, reasons. */
static void print_verdict(const struct msg *m, const struct content_verdict *v)
{
	size_t i;

	printf("%s\tscore=%d\taction=%s\tlabels=%u", m->name, v->score,
	       content_action_name(v->action), v->labels);
	for (i = 0; i < v->nreasons; i++)
		printf("\t%s:%d:%s", v->reason[i].name, v->reason[i].points,
		       v->reason[i].detail);
	printf("\n");
}

int main(int argc, char **argv)
{
	const char *prot = NULL;
	struct config *cfg;
	struct dmarc_psl *psl;
	struct content_config cc;
	struct content_verdict *v = xmalloc(sizeof(*v));
	char err[512], warn[512], conf[1024];
	int opt, rounds = 1, quiet = 0, summary = 0, links = 0, r;
	size_t i, runs = 0;

	while ((opt = getopt(argc, argv, "p:r:qmlf")) != -1) {
		switch (opt) {
		case 'p': prot = optarg; break;
		case 'r': rounds = (int)strtol(optarg, NULL, 10); break;
		case 'q': quiet = 1; break;
		case 'm': summary = 1; break;
		case 'l': links = 1; break;
		case 'f': skip_from = 1; break;
		default:
			fprintf(stderr, "usage: content-cost [-p PROTECTED] "
				"[-r ROUNDS] [-q] [-m|-l] [-f] FILE|DIR ...\n");
			return 2;
		}
	}
	for (; optind < argc; optind++)
		add_path(argv[optind]);
	snprintf(conf, sizeof(conf), "lookalike_protected_file = %s\n",
		 prot ? prot : "");
	cfg = config_load_buffer(conf, strlen(conf), "content-cost", err,
				 sizeof(err));
	psl = dmarc_psl_load(NULL);
	if (!cfg || !psl) {
		fprintf(stderr, "content-cost: %s\n", cfg ? "no PSL" : err);
		return 1;
	}
	content_config_init(&cc, cfg, psl, "content-cost", warn, sizeof(warn));
	if (warn[0])
		fprintf(stderr, "content-cost: %s\n", warn);
	if (summary || links) {
		for (i = 0; i < nmsgs; i++)
			if (summary)
				print_summary(&msgs[i]);
			else
				print_links(&msgs[i], &cc);
		rounds = 0;
	}
	for (r = 0; r < rounds; r++)
		for (i = 0; i < nmsgs; i++, runs++) {
			run_one(&cc, &msgs[i], v);
			if (r == 0 && !quiet)
				print_verdict(&msgs[i], v);
		}
	fprintf(stderr, "content-cost: %zu messages, %zu runs\n", nmsgs, runs);
	content_config_deinit(&cc);
	dmarc_psl_free(psl);
	config_free(cfg);
	for (i = 0; i < nmsgs; i++) {
		free(msgs[i].name);
		free(msgs[i].data);
	}
	free(v);
	return 0;
}
