/*
 * test-dmarc-report - the aggregate report reader (dmarc_report*.c).
 *
 * Part 1 is driven by $MAMORI_SHARED/corpora/dmarc-reports/
 * AGGREGATE-SUMMARY.json (what Python's strict parser reads from every
 * sample): each "ok" entry must give the same org name, report ID, date
 * range, policy, record count and count sum; each "ERROR" entry must be
 * refused with a reason.  Part 2 is a table of constructed inputs for the
 * limits and refusals the corpus does not reach.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mail/dmarc_report.h"
#include "tap.h"
#include "util/xalloc.h"

/* Read a whole file; NULL if it cannot. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		p = xmalloc((size_t)len + 1);
		*n = fread(p, 1, (size_t)len, f);
		p[*n] = '\0';
	}
	fclose(f);
	return p;
}

/* A JSON string member, "" for null/absent. */
static const char *js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* The summary's time string ("1337270400.0") as an integer. */
static long long jtime(json_t *o, const char *k)
{
	return (long long)strtod(js(o, k), NULL);
}

/*
 * Entries the summary marks ERROR that this reader recovers on purpose:
 * the expected values were read by hand (zlib.decompressobj, which stops
 * at the end of the gzip member like ours).
 */
static const struct {
	const char *file, *org, *id;
	size_t records;
	uint64_t sum;
} tolerated[] = {
	/* A CRLF after the gzip member (Python's gzip refuses it). */
	{ "parsedmarc/samples/aggregate/mimecast-weird-gzip.eml", "Mimecast",
	  "157a5fe30ec76f4bc0d8bccfc96c118a167a1280fee7c7465af5115e73082e5e",
	  1, 1 },
};

/* Check one recovered entry of tolerated[]; true if name is one. */
static bool tolerated_row(const char *name, int rc, struct dmarc_report *r,
			  const char *err)
{
	size_t i;

	for (i = 0; i < sizeof(tolerated) / sizeof(tolerated[0]); i++) {
		if (strcmp(name, tolerated[i].file) != 0)
			continue;
		ok(rc == 0 && strcmp(r->org_name, tolerated[i].org) == 0 &&
		   strcmp(r->report_id, tolerated[i].id) == 0 &&
		   r->n_rec == tolerated[i].records &&
		   r->count_sum == tolerated[i].sum,
		   "%s: recovered (%s)", name, rc ? err : "ok");
		return true;
	}
	return false;
}

/* Check one summary entry against what the reader gives. */
static void corpus_row(const char *dir, json_t *e)
{
	const char *file = js(e, "file"), *parse = js(e, "parse");
	char *path, *name, *data, err[256], pct[16];
	struct dmarc_report r;
	size_t n = 0;
	int rc;

	name = xstrndup(file, strcspn(file, ":"));
	path = xasprintf("%s/%s", dir, name);
	data = slurp(path, &n);
	if (!ok(data != NULL, "%s: readable", name))
		goto out;
	rc = dmarc_report_load(data, n, &r, err, sizeof(err));
	if (tolerated_row(name, rc, &r, err)) {
		dmarc_report_deinit(&r);
		goto out;
	}
	if (strcmp(parse, "ok") != 0) {
		ok(rc > 0 && err[0], "%s: refused (%s: %s)", name,
		   dmarc_report_strerror(rc), err);
		dmarc_report_deinit(&r);
		goto out;
	}
	if (!ok(rc == 0, "%s: parses", name)) {
		printf("#   %s: %s\n", dmarc_report_strerror(rc), err);
		goto out;
	}
	is_str(r.org_name, js(e, "org_name"), "%s: org_name", name);
	is_str(r.report_id, js(e, "report_id"), "%s: report_id", name);
	ok(r.begin == jtime(e, "begin") && r.end == jtime(e, "end"),
	   "%s: date range %lld..%lld", name, (long long)r.begin,
	   (long long)r.end);
	is_str(r.domain, js(e, "policy_domain"), "%s: domain", name);
	is_str(r.p, js(e, "p"), "%s: p", name);
	is_str(r.sp, js(e, "sp"), "%s: sp", name);
	if (r.pct >= 0)
		snprintf(pct, sizeof(pct), "%d", r.pct);
	else
		pct[0] = '\0';
	is_str(pct, js(e, "pct"), "%s: pct", name);
	ok(r.n_rec == (size_t)json_integer_value(json_object_get(e,
							"records")),
	   "%s: %zu records", name, r.n_rec);
	ok(r.count_sum == (uint64_t)json_integer_value(json_object_get(e,
						"message_count_sum")),
	   "%s: count sum %llu", name, (unsigned long long)r.count_sum);
	is_str(r.ns, js(e, "namespace"), "%s: namespace", name);
	dmarc_report_deinit(&r);
out:
	free(data);
	free(path);
	free(name);
}

#define BODY "<report_metadata><org_name>o</org_name>" \
	"<report_id>id1</report_id><date_range><begin>10</begin>" \
	"<end>20</end></date_range></report_metadata><policy_published>" \
	"<domain>Example.COM</domain><p>reject</p></policy_published>"
#define HEAD "<feedback>" BODY
#define REC(ip, cnt) "<record><row><source_ip>" ip "</source_ip><count>" \
	cnt "</count><policy_evaluated><disposition>Reject</disposition>" \
	"<dkim>fail</dkim><spf>PASS</spf></policy_evaluated></row>" \
	"<identifiers><header_from>example.com</header_from></identifiers>" \
	"<auth_results><dkim><domain>ex.net</domain><selector>s1</selector>" \
	"<result>pass</result></dkim><spf><domain>ex.org</domain>" \
	"<scope>mfrom</scope><result>pass</result></spf></auth_results>" \
	"</record>"

/* 100 blanks. */
#define BLANKS "                                                  " \
	"                                                  "

/* Constructed inputs: rc and a word the error must hold. */
static const struct {
	const char *label, *in;
	int rc;
	const char *err;
} rows[] = {
	{ "minimal report", HEAD REC("192.0.2.1", "3") "</feedback>", 0, "" },
	{ "IPv6 normalised", HEAD REC("2001:DB8:0:0::1", "1") "</feedback>",
	  0, "" },
	{ "no records", HEAD "</feedback>", 0, "" },
	{ "doctype refused", "<!DOCTYPE feedback [<!ENTITY a \"aaaa\">]>"
	  HEAD REC("192.0.2.1", "&a;") "</feedback>",
	  DMARC_REPORT_E_NOT_REPORT, "DOCTYPE" },
	{ "external entity refused", "<!DOCTYPE f SYSTEM \"http://x/\">"
	  HEAD "</feedback>", DMARC_REPORT_E_NOT_REPORT, "DOCTYPE" },
	{ "not feedback", "<html/>", DMARC_REPORT_E_NOT_REPORT, "feedback" },
	{ "truncated", HEAD "<record>", DMARC_REPORT_E_XML, "line" },
	{ "bad source ip", HEAD REC("108r.166.27.220", "1") "</feedback>",
	  DMARC_REPORT_E_INVALID, "record 1: source_ip" },
	{ "bad count", HEAD REC("192.0.2.1", "-1") "</feedback>",
	  DMARC_REPORT_E_INVALID, "count" },
	{ "count too big", HEAD REC("192.0.2.1", "1000000000000000")
	  "</feedback>", DMARC_REPORT_E_INVALID, "count" },
	{ "no report_id", "<feedback><report_metadata><date_range><begin>1"
	  "</begin><end>2</end></date_range></report_metadata></feedback>",
	  DMARC_REPORT_E_INVALID, "report_id" },
	{ "no domain", "<feedback><report_metadata><report_id>x</report_id>"
	  "<date_range><begin>1</begin><end>2</end></date_range>"
	  "</report_metadata><policy_published/></feedback>",
	  DMARC_REPORT_E_INVALID, "domain" },
	{ "bad begin", "<feedback><report_metadata><report_id>x</report_id>"
	  "<date_range><begin>1.5</begin><end>2</end></date_range>"
	  "</report_metadata></feedback>", DMARC_REPORT_E_INVALID, "begin" },
	{ "pct over 100", "<feedback><report_metadata><report_id>x"
	  "</report_id><date_range><begin>1</begin><end>2</end></date_range>"
	  "</report_metadata><policy_published><domain>a</domain><pct>101"
	  "</pct></policy_published></feedback>", DMARC_REPORT_E_INVALID,
	  "pct" },
	{ "message without report", "From: a@b\r\nSubject: x\r\n\r\nhi\r\n",
	  DMARC_REPORT_E_NO_REPORT, "no report" },
	{ "message with xml part",
	  "From: a@b\r\nContent-Type: multipart/mixed; boundary=\"bb\"\r\n"
	  "\r\n--bb\r\nContent-Type: text/plain\r\n\r\nhi\r\n--bb\r\n"
	  "Content-Type: text/xml\r\n\r\n" HEAD REC("192.0.2.9", "4")
	  "</feedback>\r\n--bb--\r\n", 0, "" },
	{ "bad zip", "PK\x03\x04garbage", DMARC_REPORT_E_ARCHIVE, "zip" },
	{ "bad gzip", "\x1f\x8bgarbage", DMARC_REPORT_E_ARCHIVE, "gzip" },
	/* The streaming reader meets the parts in document order but ranks
	 * failures as the whole-tree walk did: root, metadata, policy,
	 * records; a well-formedness error anywhere wins. */
	{ "stream: records before metadata", "<feedback>"
	  REC("192.0.2.1", "2") BODY REC("192.0.2.2", "3")
	  "</feedback>", 0, "" },
	{ "stream: bad record, later metadata without report_id",
	  "<feedback>" REC("192.0.2.x", "1") "<report_metadata><date_range>"
	  "<begin>1</begin><end>2</end></date_range></report_metadata>"
	  "<policy_published><domain>a</domain></policy_published>"
	  "</feedback>", DMARC_REPORT_E_INVALID, "no report_id" },
	{ "stream: bad record, later policy without domain",
	  "<feedback><report_metadata><report_id>x</report_id><date_range>"
	  "<begin>1</begin><end>2</end></date_range></report_metadata>"
	  REC("192.0.2.x", "1") "<policy_published/></feedback>",
	  DMARC_REPORT_E_INVALID, "no policy_published domain" },
	{ "stream: bad policy, later bad metadata",
	  "<feedback><policy_published/><report_metadata/></feedback>",
	  DMARC_REPORT_E_INVALID, "no report_id" },
	{ "stream: first bad record named", HEAD REC("192.0.2.1", "1")
	  REC("192.0.2.x", "1") REC("192.0.2.1", "x") "</feedback>",
	  DMARC_REPORT_E_INVALID, "record 2: source_ip" },
	{ "stream: repeated metadata keeps the first", HEAD
	  "<report_metadata/>" REC("192.0.2.1", "1") "</feedback>", 0, "" },
	{ "stream: bad record, then not well-formed", HEAD
	  REC("192.0.2.x", "1") "</feedback><x/>", DMARC_REPORT_E_XML,
	  "Extra content at the end of the document" },
	{ "stream: doctype, then not well-formed", "<!DOCTYPE feedback>"
	  HEAD "</feedback><", DMARC_REPORT_E_XML, "line 1: Extra content" },
	/* The copy of each element keeps a leaf's text only as far as
	 * text() needs it: the outcomes stay those of the whole text. */
	{ "copy: text split by elements and comments", "<feedback>"
	  "<report_metadata><report_id>x</report_id><date_range><begin>1"
	  "<b>2</b><!-- c --></begin><end>2</end></date_range>"
	  "</report_metadata><policy_published><domain>a</domain>"
	  "</policy_published><record><row><source_ip>192.0<i>.2</i>.1"
	  "</source_ip><count>x</count></row></record></feedback>",
	  DMARC_REPORT_E_INVALID, "record 1: count" },
	{ "copy: blanks inside an over-long text", "<feedback>"
	  "<report_metadata><report_id>a" BLANKS BLANKS BLANKS "b"
	  "</report_id></report_metadata></feedback>",
	  DMARC_REPORT_E_INVALID, "report_id longer than 255" },
	{ "copy: blanks after a short text", "<feedback>"
	  "<report_metadata><report_id>a" BLANKS BLANKS BLANKS
	  "</report_id><date_range><begin>1</begin><end>2</end>"
	  "</date_range></report_metadata><policy_published><domain>a"
	  "</domain></policy_published></feedback>", 0, "" },
	{ "stream: no policy_published", "<feedback><report_metadata>"
	  "<report_id>x</report_id><date_range><begin>1</begin><end>2</end>"
	  "</date_range></report_metadata></feedback>",
	  DMARC_REPORT_E_INVALID, "no policy_published" },
};

/* The table above. */
static void constructed(void)
{
	struct dmarc_report r;
	char err[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = dmarc_report_load(rows[i].in, strlen(rows[i].in), &r,
				       err, sizeof(err));
		ok(rc == rows[i].rc && strstr(err, rows[i].err),
		   "%s: rc %d (%s)", rows[i].label, rc, err);
		if (rc == 0 && i == 0) {
			is_str(r.domain, "example.com", "%s: domain lowered",
			       rows[i].label);
			is_str(r.rec[0].disposition, "reject",
			       "%s: disposition lowered", rows[i].label);
			is_str(r.rec[0].spf, "pass", "%s: spf", rows[i].label);
			ok(r.rec[0].n_dkim_auth == 1 &&
			   strcmp(r.rec[0].dkim_auth[0].selector, "s1") == 0 &&
			   strcmp(r.rec[0].spf_auth[0].scope, "mfrom") == 0,
			   "%s: auth results", rows[i].label);
		}
		if (rc == 0 && i == 1)
			is_str(r.rec[0].source_ip, "2001:db8::1", "%s",
			       rows[i].label);
		/* Fuzz finding (fuzz/corpus/dmarc-report/crash-ns-overread):
		 * no namespace was copied with a read past "". */
		if (rc == 0 && i == 0)
			is_str(r.ns, "", "%s: no namespace", rows[i].label);
		dmarc_report_deinit(&r);
	}
}

/* A gzip bomb: 65 MiB of blanks compress to ~64 KiB; refused by size. */
static void bomb(void)
{
	size_t n = (size_t)DMARC_REPORT_XML_MAX + (1u << 20);
	unsigned char *raw = xcalloc(1, n), *gz;
	struct dmarc_report r;
	z_stream z;
	char err[256];
	int rc;

	memset(raw, ' ', n);
	raw[0] = '<';
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
	gz = xmalloc(deflateBound(&z, n));
	z.next_in = raw;
	z.avail_in = (uInt)n;
	z.next_out = gz;
	z.avail_out = (uInt)deflateBound(&z, n);
	deflate(&z, Z_FINISH);
	rc = dmarc_report_load(gz, z.total_out, &r, err, sizeof(err));
	ok(rc == DMARC_REPORT_E_TOO_LARGE, "gzip bomb (%lu bytes) refused: %s",
	   z.total_out, err);
	deflateEnd(&z);
	free(gz);
	free(raw);
}

int main(void)
{
	const char *shared = getenv("MAMORI_SHARED");
	json_error_t je;
	json_t *sum, *e;
	char *dir, *path;
	size_t i;

	constructed();
	bomb();
	if (!shared) {
		printf("# MAMORI_SHARED not set: corpus skipped\n");
		return tap_done();
	}
	dir = xasprintf("%s/corpora/dmarc-reports", shared);
	path = xasprintf("%s/AGGREGATE-SUMMARY.json", dir);
	sum = json_load_file(path, 0, &je);
	if (ok(json_is_array(sum), "AGGREGATE-SUMMARY.json loads"))
		json_array_foreach(sum, i, e)
			corpus_row(dir, e);
	ok(json_array_size(sum) >= 30, "%zu corpus entries",
	   json_array_size(sum));
	json_decref(sum);
	free(path);
	free(dir);
	return tap_done();
}
