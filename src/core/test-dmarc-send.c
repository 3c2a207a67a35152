/*
 * test-dmarc-send - the DMARC aggregate reports mamori sends
 * (dmarc_out.c, dmarc_send.c): XML built from a table of counts, valid
 * against RFC 9990's schema (xmllint, when installed) and read back by our
 * own report parser with the same counts; gzip and the message read back
 * by the ingest unwrapper; a run against a local zone server (internal,
 * external authorised, external unauthorised rua), dry and with a relay
 * that is down (tempfail recorded, tried again), a final record
 * (duplicate) and the per-host cap (deferred).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>
#include <jansson.h>

#include "core/dmarc_send.h"
#include "mail/dmarc_report.h"
#include "store/store.h"
#include "tap.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/xalloc.h"
#include "zone_server.h"

/* 2026-12-01 00:00 UTC; "now" is two days later. */
#define DAY "2026-12-01"
#define BEGIN 1796083200LL
#define NOW (BEGIN + 2 * 86400 + 3600)

/* The table of counts: label, then the dmarc_agg fields. */
static const struct {
	const char *label;
	struct core_dmarc_row r;
	const char *want_dkim, *want_spf;	/* policy_evaluated */
} rows[] = {
	{ "aligned pass", { DAY, "192.0.2.10", "shop.test", "pass", "pass", "pass",
			    "none", 40, { 0 } }, "pass", "pass" },
	{ "dkim only", { DAY, "198.51.100.7", "shop.test", "fail", "pass", "pass",
			 "none", 5, { 0 } }, "pass", "fail" },
	{ "forger", { DAY, "203.0.113.66", "shop.test", "fail", "none", "fail",
		      "reject", 100, { 0 } }, "fail", "fail" },
	{ "forger, overridden", { DAY, "203.0.113.66", "shop.test", "softfail",
				  "fail", "fail", "none", 3, { 0 } }, "fail",
	  "fail" },
	{ "subdomain, ipv6", { DAY, "2001:db8::25", "news.shop.test", "pass",
			       "none", "pass", "none", 7, { 0 } }, "fail", "pass" },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const struct core_dmarc_out_meta meta = {
	.org_name = "Receiver & Co <test>", .email = "dmarc@rcv.test",
	.submitter = "rcv.test", .report_id = DAY "_shop.test@rcv.test",
	.begin = BEGIN, .end = BEGIN + 86399,
};
static const struct core_dmarc_out_policy pol = {
	.domain = "shop.test", .p = "reject", .sp = "quarantine", .np = "",
	.adkim = 'r', .aspf = 's', .testing = false, .discovery = "psl",
};

/* Write data to a temporary file; its path (free it) or NULL. */
static char *tmpfile_with(const char *data, size_t n)
{
	char *path = xstrdup("/tmp/mamori-test-dmarc-send-XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n) {
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

/* Our parser's view of xml in the lines maildmarc-read.pl prints. */
static char *our_lines(const char *xml, size_t len)
{
	struct dmarc_report rep;
	char err[256], *out;
	size_t n = 0, cap = 65536, i;

	if (dmarc_report_parse(xml, len, &rep, err, sizeof(err)) != 0)
		return xstrdup(err);
	out = xmalloc(cap);
	n += snprintf(out + n, cap - n, "meta %s|%s|%s|%lld|%lld\n",
		      rep.org_name, rep.email, rep.report_id,
		      (long long)rep.begin, (long long)rep.end);
	n += snprintf(out + n, cap - n, "policy %s|%s|%s|%s|%s\n", rep.domain,
		      rep.p, rep.sp, rep.adkim, rep.aspf);
	for (i = 0; i < rep.n_rec && n < cap; i++) {
		const struct dmarc_report_record *r = &rep.rec[i];

		n += snprintf(out + n, cap - n,
			      "record %s|%llu|%s|%s|%s|%s|%s|%s\n",
			      r->source_ip, (unsigned long long)r->count,
			      r->disposition, r->dkim, r->spf, r->header_from,
			      r->n_spf_auth ? r->spf_auth[0].result : "",
			      r->n_dkim_auth ? r->dkim_auth[0].result : "");
	}
	dmarc_report_deinit(&rep);
	return out;
}

/* The report at path as Debian's Mail::DMARC reads it (NULL: skip). */
static char *maildmarc_lines(const char *path)
{
	char *cmd = xasprintf("perl '%s/test/dmarc/maildmarc-read.pl' '%s' "
			      "2>/dev/null", getenv("MAMORI_SOURCE_ROOT"),
			      path);
	FILE *p = popen(cmd, "r");
	char *out = xcalloc(1, 65536);
	size_t n;
	int st;

	free(cmd);
	if (!p) {
		free(out);
		return NULL;
	}
	n = fread(out, 1, 65535, p);
	out[n] = '\0';
	st = pclose(p);
	if (st != 0) {
		printf("# maildmarc-read.pl exit %d\n", st);
		free(out);
		return NULL;
	}
	return out;
}

/* The XML: schema, then our parser, row by row. */
static void test_xml(void)
{
	struct core_dmarc_row v[NROWS];
	struct dmarc_report rep;
	char *xml = NULL, *path, *cmd, *mine, *theirs, err[256];
	size_t len = 0, i, j;
	int rc;

	for (i = 0; i < NROWS; i++)
		v[i] = rows[i].r;
	if (!ok(core_dmarc_out_xml(&meta, &pol, v, NROWS, &xml, &len) == 0,
		"xml: built"))
		return;
	ok(strstr(xml, "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\""
		  ">") != NULL, "xml: RFC 9990 namespace");
	ok(strstr(xml, "Receiver &amp; Co &lt;test&gt;") != NULL,
	   "xml: org_name escaped");
	path = tmpfile_with(xml, len);
	if (system("command -v xmllint >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP xmllint not installed");
	} else {
		cmd = xasprintf("o=$(xmllint --noout --schema '%s/test/data/"
				"dmarc/rfc9990.xsd' '%s' 2>&1); r=$?; "
				"printf '%%s\\n' \"$o\" | sed 's/^/# /'; "
				"exit $r", getenv("MAMORI_SOURCE_ROOT"), path);
		rc = system(cmd);
		ok(rc == 0, "xml: valid against RFC 9990's schema (xmllint)");
		free(cmd);
	}
	mine = our_lines(xml, len);
	theirs = maildmarc_lines(path);
	if (!theirs) {
		ok(1, "# SKIP Mail::DMARC (libmail-dmarc-perl) not installed");
	} else {
		is_str(theirs, mine, "xml: Debian's Mail::DMARC reads the same "
		       "metadata, policy and records as our parser");
		ok(strstr(theirs, "record 203.0.113.66|100|reject|fail|fail|"
			  "shop.test|fail|") != NULL,
		   "xml: Mail::DMARC: the forger's row");
	}
	free(mine);
	free(theirs);
	unlink(path);
	free(path);

	rc = dmarc_report_parse(xml, len, &rep, err, sizeof(err));
	if (ok(rc == DMARC_REPORT_OK, "xml: our parser reads it (%s)",
	       rc ? err : "ok")) {
		is_str(rep.ns, "urn:ietf:params:xml:ns:dmarc-2.0", "xml: ns");
		is_str(rep.report_id, meta.report_id, "xml: report_id");
		is_str(rep.domain, "shop.test", "xml: policy domain");
		is_str(rep.p, "reject", "xml: p");
		is_str(rep.sp, "quarantine", "xml: sp");
		is_str(rep.aspf, "s", "xml: aspf");
		ok(rep.begin == BEGIN && rep.end == BEGIN + 86399,
		   "xml: date range");
		is_int(rep.n_rec, NROWS, "xml: one record per row");
		is_int(rep.count_sum, 155, "xml: the counts sum up");
		for (i = 0; i < NROWS; i++) {
			const struct core_dmarc_row *r = &rows[i].r;

			for (j = 0; j < rep.n_rec; j++) {
				const struct dmarc_report_record *x =
					&rep.rec[j];

				if (!strcmp(x->source_ip, r->source_ip) &&
				    x->count == (uint64_t)r->count &&
				    !strcmp(x->header_from, r->header_from))
					break;
			}
			if (!ok(j < rep.n_rec, "%s: record found",
				rows[i].label))
				continue;
			is_str(rep.rec[j].disposition, r->disposition,
			       "%s: disposition", rows[i].label);
			is_str(rep.rec[j].dkim, rows[i].want_dkim,
			       "%s: dkim aligned", rows[i].label);
			is_str(rep.rec[j].spf, rows[i].want_spf,
			       "%s: spf aligned", rows[i].label);
			is_int(rep.rec[j].n_spf_auth, 1, "%s: raw spf",
			       rows[i].label);
			if (rep.rec[j].n_spf_auth == 1)
				is_str(rep.rec[j].spf_auth[0].result, r->spf,
				       "%s: raw spf result", rows[i].label);
			is_int(rep.rec[j].n_dkim_auth,
			       strcmp(r->dkim, "none") ? 1 : 0,
			       "%s: raw dkim (none: no signature)",
			       rows[i].label);
		}
		/* Records sorted by address: 192..., 198..., 2001..., 203... */
		is_str(rep.rec[0].source_ip, "192.0.2.10", "xml: sorted");
		is_str(rep.rec[2].source_ip, "2001:db8::25", "xml: sorted (3)");
	}
	dmarc_report_deinit(&rep);
	ok(strstr(xml, "<type>local_policy</type>") != NULL,
	   "xml: the overridden forger has a reason");
	free(xml);

	/* No rows: still a document (the caller never sends one). */
	ok(core_dmarc_out_xml(&meta, &pol, NULL, 0, &xml, &len) == 0,
	   "xml: no rows builds");
	free(xml);
}

/* Rows with the identifiers the milter keeps (and one old row): the
 * policy_evaluated and auth_results expected ("d/s/result,..."; the SPF
 * entry "domain/scope/result" or "" for none). */
static const struct {
	const char *label;
	struct core_dmarc_row r;
	const char *want_dkim, *want_spf, *dkim_auth, *spf_auth, *reason;
} arows[] = {
	{ "dkim aligned, spf pass unaligned",
	  { DAY, "192.0.2.20", "shop.test", "pass", "pass", "pass", "none", 12,
	    { "dkim", "", "mfrom", "esp.example",
	      { { "shop.test", "s2026", "pass" } }, 1 } },
	  "pass", "fail", "shop.test/s2026/pass", "esp.example/mfrom/pass",
	  NULL },
	{ "spf aligned, dkim by the ESP unaligned",
	  { DAY, "192.0.2.21", "shop.test", "pass", "pass", "pass", "none", 4,
	    { "spf", "", "mfrom", "shop.test",
	      { { "esp.example", "k1", "pass" } }, 1 } },
	  "fail", "pass", "esp.example/k1/pass", "shop.test/mfrom/pass",
	  NULL },
	{ "two signatures, both aligned identifiers",
	  { DAY, "192.0.2.22", "shop.test", "pass", "pass", "pass", "none", 3,
	    { "both", "", "mfrom", "shop.test",
	      { { "shop.test", "a", "pass" },
		{ "esp.example", "b", "fail" } }, 2 } },
	  "pass", "pass", "shop.test/a/pass,esp.example/b/fail",
	  "shop.test/mfrom/pass", NULL },
	{ "null sender: helo, no scope element",
	  { DAY, "192.0.2.23", "shop.test", "fail", "none", "fail", "reject", 2,
	    { "none", "", "helo", "mx.forger.example",
	      { { NULL, NULL, NULL } }, 0 } },
	  "fail", "fail", "", "mx.forger.example//fail", NULL },
	{ "trusted forwarder",
	  { DAY, "192.0.2.24", "shop.test", "fail", "fail", "fail", "quarantine",
	    6, { "none", "trusted_forwarder", "mfrom", "list.example",
		 { { "shop.test", "s2026", "fail" } }, 1 } },
	  "fail", "fail", "shop.test/s2026/fail", "list.example/mfrom/fail",
	  "trusted_forwarder" },
	{ "old row: derived, empty domains",
	  { DAY, "192.0.2.25", "shop.test", "pass", "pass", "pass", "none", 1,
	    { 0 } },
	  "pass", "pass", "/" "/pass", "/mfrom/pass", NULL },
};
#define NAROWS (sizeof(arows) / sizeof(arows[0]))

/* The XML of rows with identifiers: schema, our parser, Mail::DMARC. */
static void test_xml_auth(void)
{
	struct core_dmarc_row v[NAROWS];
	struct dmarc_report rep;
	char *xml = NULL, *path, *cmd, *mine, *theirs, err[256];
	size_t len = 0, i, j, k;

	for (i = 0; i < NAROWS; i++)
		v[i] = arows[i].r;
	if (!ok(core_dmarc_out_xml(&meta, &pol, v, NAROWS, &xml, &len) == 0,
		"ids: built"))
		return;
	path = tmpfile_with(xml, len);
	if (system("command -v xmllint >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP xmllint not installed");
	} else {
		cmd = xasprintf("xmllint --noout --schema '%s/test/data/dmarc/"
				"rfc9990.xsd' '%s' >/dev/null 2>&1",
				getenv("MAMORI_SOURCE_ROOT"), path);
		ok(system(cmd) == 0, "ids: valid against RFC 9990's schema");
		free(cmd);
	}
	mine = our_lines(xml, len);
	theirs = maildmarc_lines(path);
	if (!theirs)
		ok(1, "# SKIP Mail::DMARC (libmail-dmarc-perl) not installed");
	else
		is_str(theirs, mine, "ids: Mail::DMARC reads what we read");
	free(mine);
	free(theirs);
	unlink(path);
	free(path);
	if (!ok(dmarc_report_parse(xml, len, &rep, err, sizeof(err)) ==
		DMARC_REPORT_OK, "ids: our parser reads it")) {
		free(xml);
		return;
	}
	for (i = 0; i < NAROWS; i++) {
		const char *label = arows[i].label;
		const struct dmarc_report_record *x = NULL;
		struct buf d, s;

		for (j = 0; j < rep.n_rec; j++)
			if (!strcmp(rep.rec[j].source_ip, arows[i].r.source_ip))
				x = &rep.rec[j];
		if (!ok(x != NULL, "%s: record found", label))
			continue;
		is_str(x->dkim, arows[i].want_dkim, "%s: policy_evaluated "
		       "dkim", label);
		is_str(x->spf, arows[i].want_spf, "%s: policy_evaluated spf",
		       label);
		buf_init(&d, 4096);
		buf_init(&s, 4096);
		for (k = 0; k < x->n_dkim_auth; k++)
			buf_printf(&d, "%s%s/%s/%s", k ? "," : "",
				   x->dkim_auth[k].domain,
				   x->dkim_auth[k].selector,
				   x->dkim_auth[k].result);
		for (k = 0; k < x->n_spf_auth; k++)
			buf_printf(&s, "%s/%s/%s", x->spf_auth[k].domain,
				   x->spf_auth[k].scope,
				   x->spf_auth[k].result);
		is_str(d.len ? d.p : "", arows[i].dkim_auth,
		       "%s: auth_results dkim", label);
		is_str(s.len ? s.p : "", arows[i].spf_auth,
		       "%s: auth_results spf", label);
		buf_deinit(&d);
		buf_deinit(&s);
	}
	dmarc_report_deinit(&rep);
	ok(strstr(xml, "<type>trusted_forwarder</type>") != NULL,
	   "ids: the recorded override is the reason");
	ok(strstr(xml, "<type>local_policy</type>") == NULL,
	   "ids: no reason derived for a row that recorded none");
	free(xml);
}

/* A copy of msg with header folding (CRLF before a blank) removed. */
static char *unfold(const char *msg)
{
	char *out = xstrdup(msg), *w = out;

	for (const char *p = msg; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' ||
						      p[2] == '\t')) {
			p++;
			continue;
		}
		*w++ = *p;
	}
	*w = '\0';
	return out;
}

/* gzip and the message, read back by the ingest unwrapper. */
static void test_mail(void)
{
	struct core_dmarc_row v[NROWS];
	struct dmarc_report rep;
	char *xml, *gz, *msg, *back, *unfolded, err[256], name[300];
	size_t xlen, gzlen, mlen, blen, i;

	for (i = 0; i < NROWS; i++)
		v[i] = rows[i].r;
	if (core_dmarc_out_xml(&meta, &pol, v, NROWS, &xml, &xlen) != 0)
		return;
	ok(core_dmarc_out_gzip(xml, xlen, &gz, &gzlen) == 0 && gzlen > 18 &&
	   (unsigned char)gz[0] == 0x1f && (unsigned char)gz[1] == 0x8b,
	   "gzip: a gzip member");
	ok(dmarc_report_unwrap(gz, gzlen, &back, &blen, err, sizeof(err)) ==
	   DMARC_REPORT_OK && blen == xlen && !memcmp(back, xml, xlen),
	   "gzip: unwraps to the same bytes");
	free(back);
	core_dmarc_out_filename(&meta, "shop.test", name, sizeof(name));
	is_str(name, "rcv.test!shop.test!1796083200!1796169599.xml.gz",
	       "file name: RFC 9990 form");
	ok(core_dmarc_out_mail(&meta, "shop.test", "dmarc@rcv.test",
			       "rua@shop.test", NOW, gz, gzlen, &msg,
			       &mlen) == 0, "mail: built");
	unfolded = unfold(msg);
	ok(strstr(unfolded, "Subject: Report Domain: shop.test Submitter: "
		  "rcv.test Report-ID: <" DAY "_shop.test@rcv.test>") != NULL,
	   "mail: Subject");
	free(unfolded);
	ok(strstr(msg, "Content-Type: application/gzip") != NULL &&
	   strstr(msg, "rcv.test!shop.test!1796083200!1796169599.xml.gz") !=
	   NULL, "mail: the attachment and its name");
	ok(strstr(msg, "\r\n\r\n") != NULL && !strstr(msg, "\n\n"),
	   "mail: CRLF line ends");
	ok(dmarc_report_load(msg, mlen, &rep, err, sizeof(err)) ==
	   DMARC_REPORT_OK && rep.n_rec == NROWS && rep.count_sum == 155,
	   "mail: the ingest path reads the report back");
	dmarc_report_deinit(&rep);
	free(msg);
	free(gz);
	free(xml);
}

static const char zone[] =
	"_dmarc.shop.test\tTXT\tv=DMARC1; p=reject; sp=quarantine; "
	"rua=mailto:dmarc@shop.test,mailto:agg@vendor.test,"
	"mailto:x@nobody.test!10k\n"
	"shop.test._report._dmarc.vendor.test\tTXT\tv=DMARC1\n"
	"_dmarc.other.test\tTXT\tv=DMARC1; p=none; "
	"rua=mailto:r@big.test!1k\n"
	"other.test._report._dmarc.big.test\tTXT\tv=DMARC1;\n"
	"_dmarc.noreport.test\tTXT\tv=DMARC1; p=none\n"
	"_dmarc.slow.test\tTIMEOUT\t*\n";

/* Collected events of a run. */
struct evs {
	char line[32][200];
	size_t n;
};

/* core_dmarc_send_cb: "domain rua result". */
static void on_event(void *arg, const struct core_dmarc_send_event *ev)
{
	struct evs *e = arg;

	if (e->n < 32)
		snprintf(e->line[e->n++], sizeof(e->line[0]), "%s %s %s",
			 ev->domain, ev->rua, ev->result);
}

/* Was "want" among the events? */
static bool has(const struct evs *e, const char *want)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->line[i], want))
			return true;
	return false;
}

/* Put one dmarc_agg row. */
static void agg(struct store *st, const char *key, const char *count)
{
	store_put(st, "dmarc_agg", key, count, 0, NULL, NULL);
}

/* The result recorded for REPORT_ID|rua, "" when none. */
static const char *sent_result(struct store *st, const char *rua,
			       char *out, size_t outsz);

/* store_get callback into a string. */
static void got_str(void *arg, int result, const char *value)
{
	char *out = arg;

	snprintf(out, 512, "%s", result == STORE_OK && value ? value : "");
}

static const char *sent_result(struct store *st, const char *rua,
			       char *out, size_t outsz)
{
	char key[300], v[512];
	json_t *j;

	snprintf(key, sizeof(key), DAY "_shop.test@rcv.test|%s", rua);
	store_get(st, CORE_DMARC_SENT_NS, key, got_str, v);
	j = json_loads(v, 0, NULL);
	snprintf(out, outsz, "%s/%lld", j ? json_string_value(
		 json_object_get(j, "result")) : "",
		 j ? (long long)json_integer_value(json_object_get(j,
							"attempts")) : 0LL);
	json_decref(j);
	return out;
}

/* The run's config: a from address, a relay that is down, short DNS
 * timeouts, then extra (later lines win). */
static struct config *conf_with(const char *extra, char *err, size_t errsz)
{
	char *text = xasprintf("dmarc_report_from = dmarc@rcv.test\n"
			       "dmarc_report_relay = smtp://127.0.0.1:1\n"
			       "dns_timeout_ms = 1500\n%s", extra);
	struct config *c = config_load_buffer(text, strlen(text), "test", err,
					      errsz);

	free(text);
	return c;
}

/* Runs against the zone server on port. */
static void test_run(int port)
{
	char err[512], dns[64], r1[64], r2[64], r3[64];
	struct config *cfg;
	struct store *st;
	struct core_dmarc_send_opts o;
	struct core_dmarc_send_totals t;
	struct evs e;
	int rc;

	cfg = conf_with("dmarc_report_org_name = rcv.test\n", err,
			sizeof(err));
	if (!ok(cfg != NULL, "run: config (%s)", cfg ? "ok" : err))
		return;
	if (store_open("memory:", NULL, &st, err, sizeof(err)) != 0)
		return;
	snprintf(dns, sizeof(dns), "127.0.0.1@%d", port);
	agg(st, DAY "|192.0.2.10|shop.test|pass|pass|pass|none", "40");
	agg(st, DAY "|203.0.113.66|news.shop.test|fail|none|fail|quarantine",
	    "9");
	agg(st, DAY "|203.0.113.67|other.test|fail|none|fail|none", "2");
	agg(st, DAY "|203.0.113.68|noreport.test|fail|none|fail|none", "2");
	agg(st, DAY "|203.0.113.69|nodmarc.test|none|none|none|none", "2");
	agg(st, "2026-12-02|192.0.2.10|shop.test|pass|pass|pass|none", "1");
	agg(st, "garbage|key", "1");

	memset(&o, 0, sizeof(o));
	o.cfg = cfg;
	o.st = st;
	o.dns = dns;
	o.day = DAY;
	o.now = NOW;
	o.cb = on_event;
	o.arg = &e;

	/* Dry run: who would get what; nothing recorded. */
	memset(&e, 0, sizeof(e));
	rc = core_dmarc_send_run(&o, &t, err, sizeof(err));
	ok(rc == 0, "dry run: runs (%s)", rc ? err : "ok");
	is_int(t.reports, 3, "dry run: shop.test, other.test, noreport.test");
	ok(has(&e, "shop.test dmarc@shop.test would_send"),
	   "dry run: internal rua");
	ok(has(&e, "shop.test agg@vendor.test would_send"),
	   "dry run: external rua, authorised");
	ok(has(&e, "shop.test x@nobody.test unauthorised"),
	   "dry run: external rua, not authorised");
	ok(has(&e, "other.test r@big.test too_large"),
	   "dry run: authorised; the rua's !1k is too small");
	ok(has(&e, "noreport.test  no_rua"), "dry run: a record without rua");
	is_str(sent_result(st, "dmarc@shop.test", r1, sizeof(r1)), "/0",
	       "dry run: nothing recorded");

	/* Sending with the relay down: tempfail, recorded, tried again. */
	o.send = true;
	memset(&e, 0, sizeof(e));
	rc = core_dmarc_send_run(&o, &t, err, sizeof(err));
	ok(rc == 0 && t.tempfail == 2 && t.sent == 0,
	   "relay down: two tempfails (%zu)", t.tempfail);
	is_str(sent_result(st, "dmarc@shop.test", r1, sizeof(r1)),
	       "tempfail/1", "relay down: recorded, one attempt");
	is_str(sent_result(st, "x@nobody.test", r2, sizeof(r2)),
	       "unauthorised/0", "unauthorised: recorded");
	rc = core_dmarc_send_run(&o, &t, err, sizeof(err));
	is_str(sent_result(st, "dmarc@shop.test", r1, sizeof(r1)),
	       "tempfail/2", "relay down: tried again on the next run");

	/* A final record: never sent again. */
	store_put(st, CORE_DMARC_SENT_NS, DAY "_shop.test@rcv.test|"
		  "dmarc@shop.test", "{\"result\":\"sent\",\"host\":"
		  "\"shop.test\",\"attempts\":3,\"time\":1796256000}", 0, NULL,
		  NULL);
	memset(&e, 0, sizeof(e));
	rc = core_dmarc_send_run(&o, &t, err, sizeof(err));
	ok(has(&e, "shop.test dmarc@shop.test duplicate") && t.duplicate == 2,
	   "sent before (and too large before): duplicate, not sent");

	/* The per-host cap: vendor.test already had its report today. */
	store_put(st, CORE_DMARC_SENT_NS, "2026-11-30_x.test@rcv.test|"
		  "agg@vendor.test", "{\"result\":\"sent\",\"host\":"
		  "\"vendor.test\",\"attempts\":1,\"time\":1796256000}", 0,
		  NULL, NULL);
	config_free(cfg);
	cfg = conf_with("dmarc_report_dest_per_day = 1\n", err, sizeof(err));
	o.cfg = cfg;
	memset(&e, 0, sizeof(e));
	rc = core_dmarc_send_run(&o, &t, err, sizeof(err));
	ok(has(&e, "shop.test agg@vendor.test deferred") && t.deferred == 1,
	   "per-host cap: deferred");
	is_str(sent_result(st, "agg@vendor.test", r3, sizeof(r3)),
	       "deferred/3", "per-host cap: recorded, retried later");

	/* --domain, and a DNS timeout defers the whole day. */
	o.domain = "other.test";
	memset(&e, 0, sizeof(e));
	core_dmarc_send_run(&o, &t, err, sizeof(err));
	is_int(t.reports, 1, "--domain: one report");
	o.domain = NULL;
	agg(st, DAY "|203.0.113.70|slow.test|fail|none|fail|none", "1");
	memset(&e, 0, sizeof(e));
	rc = core_dmarc_send_run(&o, &t, err, sizeof(err));
	ok(rc == 0 && t.reports == 0 && t.tempfail == 1,
	   "DNS timeout: the day waits");

	/* Refusals. */
	o.day = "2026-13-01";
	ok(core_dmarc_send_run(&o, &t, err, sizeof(err)) == -1,
	   "a bad day is refused: %s", err);
	o.day = DAY;
	st->fault = true;
	ok(core_dmarc_send_run(&o, &t, err, sizeof(err)) == -1,
	   "store down: refused: %s", err);
	st->fault = false;
	config_free(cfg);
	cfg = conf_with("dmarc_report_from = nobody\n", err, sizeof(err));
	o.cfg = cfg;
	ok(cfg && core_dmarc_send_run(&o, &t, err, sizeof(err)) == -1 &&
	   strstr(err, "dmarc_report_from") != NULL,
	   "a from without a domain is refused: %s", err);
	config_free(cfg);
	store_close(st);
}

int main(void)
{
	char path[ZONE_SERVER_PATH];
	int port = 0;
	pid_t pid;

	evthread_use_pthreads();
	test_xml();
	test_xml_auth();
	test_mail();
	pid = zone_server_start_text(getenv("MAMORI_SOURCE_ROOT"), zone, path,
				     &port);
	if (pid == 0) {
		ok(1, "# SKIP python3-dnslib not installed");
	} else if (ok(pid > 0, "zone server starts")) {
		test_run(port);
		zone_server_stop(pid);
	}
	unlink(path);
	return tap_done();
}
