/*
 * lookalike-eval - runs the look-alike, display-name and link checks over
 * messages extracted by bench/lookalike-eval.py (records on stdin: six
 * fields "KEY\tLEN\n" + LEN bytes + "\n": file, tag, display, addr, html,
 * text, subject) and prints one line per message with a finding, then totals per
 * check: messages flagged, and for tag "spoof" the recall.
 *
 *   lookalike-eval PROTECTED_FILE < records
 *   lookalike-eval PROTECTED_FILE [-t TAGGED_LIST] FILE.eml...
 *
 * The second form parses each file with src/mail/mime.c (GMime) instead;
 * TAGGED_LIST names the tagged spoofs, one file name a line.
 *
 * Not a test: the corpora are external data (docs/design/lookalike.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/cues.h"
#include "mail/dispname.h"
#include "mail/dmarc.h"
#include "mail/links.h"
#include "mail/mime.h"
#include "mail/lookalike.h"

#define FIELDS 7
#define FIELD_MAX (8u << 20)

enum { C_DISP, C_FROM_LA, C_MISMATCH, C_REDIR, C_IP, C_PUNY, C_LINK_LA,
       C_USERINFO, C_ANY_LINK, C_CUE_PHISH, C_CUE_BILL, C_CUE_MAL,
       C_CUE_SOL, C_BRAND, C_BRAND_SUBJ, C_BRAND_DISP, C_MIXED_SUBJ,
       C_N };

static const char *cname[C_N] = {
	"dispname-other", "from-lookalike", "link-text-mismatch",
	"link-redirector", "link-ip-host", "link-punycode", "link-lookalike",
	"link-userinfo", "any-link-flag", "cue-phishing", "cue-fake-billing",
	"cue-malware", "cue-solicitation", "brand-claim",
	"brand-claim-subject", "brand-claim-dispname", "subject-mixed-script",
};

/* Reads one field into *buf; returns its length or -1 at the end. */
static long read_field(char **buf, const char *want)
{
	char key[32];
	unsigned long len;

	if (scanf("%31s %lu", key, &len) != 2 || strcmp(key, want) != 0 ||
	    len > FIELD_MAX || getchar() != '\n')
		return -1;
	*buf = realloc(*buf, len + 1);
	if (*buf == NULL || fread(*buf, 1, len, stdin) != len)
		return -1;
	(*buf)[len] = '\0';
	getchar();
	return (long)len;
}

/* Reads the protected file path into la. */
static int load(struct lookalike *la, const char *path)
{
	FILE *f = fopen(path, "rb");
	static char text[1 << 20];
	size_t n, bad = 0;

	if (f == NULL)
		return -1;
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (lookalike_load(la, text, n, &bad) != 0) {
		fprintf(stderr, "lookalike-eval: %s line %zu bad\n", path, bad);
		return -1;
	}
	return 0;
}

/* The checks and their counts, shared by both input modes. */
struct eval {
	struct dmarc_psl *psl;
	struct lookalike *la;
	struct links *lk;
	size_t msgs, tagged, hit[C_N], thit[C_N];
};

/* One message: f[] as the record fields, len[] their lengths. */
static void check_message(struct eval *ev, char **f, const long *len)
{
	struct dmarc_psl *psl = ev->psl;
	struct lookalike *la = ev->la;
	struct links *lk = ev->lk;
	struct dispname_result dr;
	struct lookalike_result lr;
	struct cues_result cr;
	bool c[C_N] = {0};
	const char *at;
	char names[128];
	size_t i;

	ev->msgs++;
	if (strcmp(f[1], "spoof") == 0)
		ev->tagged++;
	if (dispname_check(psl, f[2], (size_t)len[2], f[3], &dr) !=
	    DISPNAME_OK) {
		c[C_DISP] = true;
		printf("%s dispname %s found=%s from=%s\n", f[0],
		       dispname_verdict_name(dr.verdict), dr.found,
		       f[3]);
	}
	at = strrchr(f[3], '@');
	if (at != NULL && lookalike_check(la, at + 1, NULL, 0, &lr) ==
				  LOOKALIKE_MATCH) {
		c[C_FROM_LA] = true;
		printf("%s from-lookalike %s of %s reason=%s d=%d/%d\n",
		       f[0], lr.domain, lr.matched,
		       lookalike_reason_name(lr.reason), lr.distance,
		       lr.threshold);
	}
	links_reset(lk);
	if (len[4] > 0)
		links_html(lk, f[4], (size_t)len[4], psl, la);
	if (len[5] > 0)
		links_text(lk, f[5], (size_t)len[5], psl, la);
	c[C_MISMATCH] = lk->flags & LINKS_F_TEXT_MISMATCH;
	c[C_REDIR] = lk->flags & LINKS_F_REDIRECTOR;
	c[C_IP] = lk->flags & LINKS_F_IP_HOST;
	c[C_PUNY] = lk->flags & LINKS_F_PUNYCODE;
	c[C_LINK_LA] = lk->flags & LINKS_F_LOOKALIKE;
	c[C_USERINFO] = lk->flags & LINKS_F_USERINFO;
	c[C_ANY_LINK] = lk->flags != 0;
	for (i = 0; i < lk->n; i++)
		if (lk->link[i].flags != 0)
			printf("%s link %s host=%s text_host=%s "
			       "target=%s matched=%s\n", f[0],
			       links_flag_names(lk->link[i].flags,
						names, sizeof(names)),
			       lk->link[i].host, lk->link[i].text_host,
			       lk->link[i].target,
			       lk->link[i].matched);
	/* cues read the text part, else the HTML as it is */
	if (cues_scan(f[6], (size_t)len[6], len[5] ? f[5] : f[4],
		      (size_t)(len[5] ? len[5] : len[4]), la,
		      at ? at + 1 : NULL, &cr) == 0) {
		for (i = 0; i < CUES_N; i++) {
			c[C_CUE_PHISH + i] = cr.hits[i] > 0;
			if (cr.hits[i])
				printf("%s cue %s first=\"%s\" hits=%u\n",
				       f[0], cues_label_name(i),
				       cr.first[i], cr.hits[i]);
		}
		c[C_BRAND] = cr.brand_claim;
		c[C_BRAND_SUBJ] = cr.brand_in_subject;
		c[C_MIXED_SUBJ] = cr.mixed_script_subject;
		if (cr.brand_claim)
			printf("%s brand-claim %s (%s) from=%s\n", f[0],
			       cr.brand, cr.brand_domain, f[3]);
		c[C_BRAND_DISP] = cues_brand_claim(la, f[2],
						   (size_t)len[2],
						   at ? at + 1 : NULL,
						   &cr);
		if (c[C_BRAND_DISP])
			printf("%s brand-claim-dispname %s from=%s\n",
			       f[0], cr.brand, f[3]);
	}
	for (i = 0; i < C_N; i++) {
		ev->hit[i] += c[i];
		if (strcmp(f[1], "spoof") == 0)
			ev->thit[i] += c[i];
	}
}

/* Reads the file path whole into *buf; returns its length or -1. */
static long read_file(const char *path, char **buf)
{
	FILE *fp = fopen(path, "rb");
	size_t n = 0, cap = 1 << 16, r;

	if (fp == NULL)
		return -1;
	*buf = realloc(*buf, cap);
	while ((r = fread(*buf + n, 1, cap - n, fp)) > 0) {
		n += r;
		if (n == cap && cap < FIELD_MAX)
			*buf = realloc(*buf, cap *= 2);
		else if (n == cap)
			break;
	}
	fclose(fp);
	return (long)n;
}

/* True if name is a line of the tagged list (NULL: none). */
static bool is_tagged(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (p != NULL && (p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

/* Checks each message file through src/mail/mime.c. */
static void eval_files(struct eval *ev, char **paths, int n,
		       const char *tags)
{
	char *raw = NULL, *f[FIELDS];
	long len[FIELDS];
	int k;

	mime_init();
	for (k = 0; k < n; k++) {
		struct mime_summary *sum = NULL;
		const char *base = strrchr(paths[k], '/');
		long rn = read_file(paths[k], &raw);

		base = base ? base + 1 : paths[k];
		if (rn < 0 || mime_parse(raw, (size_t)rn, &sum) != 0 ||
		    sum == NULL) {
			mime_summary_free(sum);
			continue;
		}
		f[0] = (char *)base;
		f[1] = (char *)(is_tagged(tags, base) ? "spoof" : "-");
		f[2] = sum->from.n ? sum->from.v[0].name : "";
		f[3] = sum->from.n ? sum->from.v[0].addr : "";
		f[4] = sum->html ? sum->html : "";
		f[5] = sum->text ? sum->text : "";
		f[6] = sum->subject ? sum->subject : "";
		len[0] = (long)strlen(f[0]);
		len[1] = (long)strlen(f[1]);
		len[2] = (long)strlen(f[2]);
		len[3] = (long)strlen(f[3]);
		len[4] = sum->html ? (long)sum->html_len : 0;
		len[5] = sum->text ? (long)sum->text_len : 0;
		len[6] = (long)strlen(f[6]);
		check_message(ev, f, len);
		mime_summary_free(sum);
	}
	free(raw);
}

int main(int argc, char **argv)
{
	static const char *keys[FIELDS] = {"file", "tag", "display", "addr",
					   "html", "text", "subject"};
	static struct eval ev;
	char *f[FIELDS] = {0}, *tags = NULL;
	long len[FIELDS];
	size_t i;
	int first = 2;

	ev.psl = dmarc_psl_load(NULL);
	ev.lk = links_new();
	if (argc < 2 || ev.psl == NULL ||
	    (ev.la = lookalike_new(ev.psl)) == NULL ||
	    load(ev.la, argv[1]) != 0) {
		fprintf(stderr, "usage: lookalike-eval PROTECTED_FILE "
				"[-t TAGGED_LIST] [FILE.eml...] (< records)\n");
		return 2;
	}
	links_init();
	if (argc > 3 && strcmp(argv[2], "-t") == 0) {
		if (read_file(argv[3], &tags) < 0)
			return 2;
		first = 4;
	}
	if (argc > first) {
		eval_files(&ev, argv + first, argc - first, tags);
	} else {
		for (;;) {
			for (i = 0; i < FIELDS; i++)
				if ((len[i] = read_field(&f[i], keys[i])) < 0)
					break;
			if (i < FIELDS)
				break;
			check_message(&ev, f, len);
		}
	}
	printf("# messages %zu, tagged display-name spoofs %zu\n", ev.msgs,
	       ev.tagged);
	for (i = 0; i < C_N; i++)
		printf("# %-20s %5zu messages (%.2f%%)\n", cname[i], ev.hit[i],
		       ev.msgs ? 100.0 * (double)ev.hit[i] / (double)ev.msgs
			       : 0.0);
	if (ev.tagged) {
		printf("# recall on tagged spoofs:");
		for (i = 0; i < C_N; i++)
			printf(" %s=%zu/%zu", cname[i], ev.thit[i], ev.tagged);
		printf("\n");
	}
	for (i = 0; i < FIELDS; i++)
		free(f[i]);
	free(tags);
	links_free(ev.lk);
	lookalike_free(ev.la);
	dmarc_psl_free(ev.psl);
	return 0;
}
