/*
 * dmarc_out - the report, its gzip and its message, for the DMARC
 * aggregate reports mamori sends (core/dmarc_send.h).  Sans I/O.
 *
 * XML: RFC 9990 (namespace urn:ietf:params:xml:ns:dmarc-2.0), elements in
 * the order of its tables, validated in tests against the schema of its
 * appendix A (test/data/dmarc/rfc9990.xsd).  What the counts do not hold
 * is left out or derived (docs/design/dmarc-reports.md, "What the counts
 * say").  A row the milter wrote with its identifiers (core.h, "One DMARC
 * aggregate row"): policy_evaluated dkim/spf from the alignment it kept,
 * auth_results with the SPF domain and scope (none for HELO: the schema
 * knows only mfrom) and each kept DKIM signature's d=, s= and result, the
 * override reason it recorded.  A row of the old format: policy_evaluated
 * dkim/spf "pass" when DMARC passed and the raw result passed; auth_results
 * with the raw results and an empty domain; a failing row whose
 * disposition is not the published policy gets a reason
 * (policy_test_mode under t=y, else local_policy).
 *
 * Message: multipart/mixed, a text/plain note and the application/gzip
 * attachment in base64, written with GMime with CRLF line ends for SMTP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gmime/gmime.h>
#include <libxml/xmlwriter.h>
#include <zlib.h>

#include "core/dmarc_send.h"
#include "mail/mime.h"
#include "util/xalloc.h"

#define NS "urn:ietf:params:xml:ns:dmarc-2.0"

/* s, or "" for NULL (a row built by hand may leave auth zeroed). */
static const char *nz(const char *s)
{
	return s ? s : "";
}

/* qsort: source address, then From domain, then the rest. */
static int row_cmp(const void *x, const void *y)
{
	const struct core_dmarc_row *a = *(const struct core_dmarc_row
					   *const *)x;
	const struct core_dmarc_row *b = *(const struct core_dmarc_row
					   *const *)y;
	int c;

	if ((c = strcmp(a->source_ip, b->source_ip)) ||
	    (c = strcmp(a->header_from, b->header_from)) ||
	    (c = strcmp(a->dmarc, b->dmarc)) ||
	    (c = strcmp(a->disposition, b->disposition)) ||
	    (c = strcmp(a->spf, b->spf)) ||
	    (c = strcmp(a->dkim, b->dkim)) ||
	    (c = strcmp(nz(a->auth.align), nz(b->auth.align))) ||
	    (c = strcmp(nz(a->auth.spf_domain), nz(b->auth.spf_domain))))
		return c;
	if (a->auth.nsig != b->auth.nsig)
		return a->auth.nsig < b->auth.nsig ? -1 : 1;
	return a->auth.nsig ? strcmp(a->auth.sig[0].d, b->auth.sig[0].d) : 0;
}

/* Write <name>text</name>; the sum of failures (negative). */
static int el(xmlTextWriterPtr w, const char *name, const char *text)
{
	return xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST text) < 0;
}

/* The published policy for a message from hf: sp for a subdomain when
 * set, else p. */
static const char *policy_for(const struct core_dmarc_out_policy *pol,
			      const char *hf)
{
	if (strcasecmp(hf, pol->domain) != 0 && pol->sp && *pol->sp)
		return pol->sp;
	return pol->p;
}

/* Is res a DKIM result of RFC 8601 2.7.1 (the schema's enumeration)? */
static bool dkim_token(const char *res)
{
	static const char *const ok[] = { "pass", "fail", "policy", "neutral",
					  "temperror", "permerror" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(res, ok[i]))
			return true;
	return false;
}

/* Is res an SPF result of RFC 8601 2.7.2 other than none? */
static bool spf_token(const char *res)
{
	return dkim_token(res) || !strcmp(res, "softfail");
}

/* policy_evaluated dkim/spf of r: from the alignment the milter kept,
 * or (a row of the old format) derived from the raw results. */
static const char *evaluated(const struct core_dmarc_row *r, bool dkim)
{
	const char *a = nz(r->auth.align);

	if (a[0])
		return !strcmp(a, "both") || !strcmp(a, dkim ? "dkim" : "spf") ?
			"pass" : "fail";
	return !strcmp(r->dmarc, "pass") &&
		!strcmp(dkim ? r->dkim : r->spf, "pass") ? "pass" : "fail";
}

/* The override reason of r, or NULL. */
static const char *reason(const struct core_dmarc_out_policy *pol,
			  const struct core_dmarc_row *r)
{
	const char *want = policy_for(pol, r->header_from);

	if (nz(r->auth.align)[0])
		return nz(r->auth.override)[0] ? r->auth.override : NULL;
	if (strcmp(r->dmarc, "pass") != 0 && want &&
	    strcmp(r->disposition, want) != 0)
		return pol->testing ? "policy_test_mode" : "local_policy";
	return NULL;
}

/* <auth_results> of r; the number of failed writes. */
static int write_auth(xmlTextWriterPtr w, const struct core_dmarc_row *r)
{
	const struct core_dmarc_auth *a = &r->auth;
	bool old = !nz(a->align)[0];
	int e = 0;
	size_t i;

	e += xmlTextWriterStartElement(w, BAD_CAST "auth_results") < 0;
	if (old && dkim_token(r->dkim)) {
		e += xmlTextWriterStartElement(w, BAD_CAST "dkim") < 0;
		e += el(w, "domain", "");
		e += el(w, "selector", "");
		e += el(w, "result", r->dkim);
		e += xmlTextWriterEndElement(w) < 0;
	}
	for (i = 0; i < a->nsig; i++) {
		if (!dkim_token(a->sig[i].result))
			continue;
		e += xmlTextWriterStartElement(w, BAD_CAST "dkim") < 0;
		e += el(w, "domain", a->sig[i].d);
		e += el(w, "selector", a->sig[i].s);
		e += el(w, "result", a->sig[i].result);
		e += xmlTextWriterEndElement(w) < 0;
	}
	if (old ? spf_token(r->spf) :
	    nz(a->spf_scope)[0] && (spf_token(r->spf) || !strcmp(r->spf, "none"))) {
		e += xmlTextWriterStartElement(w, BAD_CAST "spf") < 0;
		e += el(w, "domain", old ? "" : nz(a->spf_domain));
		/* The schema knows only mfrom: a HELO check has no scope. */
		if (old || !strcmp(nz(a->spf_scope), "mfrom"))
			e += el(w, "scope", "mfrom");
		e += el(w, "result", r->spf);
		e += xmlTextWriterEndElement(w) < 0;
	}
	e += xmlTextWriterEndElement(w) < 0;	/* auth_results */
	return e;
}

/* One <record>; the number of failed writes. */
static int write_record(xmlTextWriterPtr w,
			const struct core_dmarc_out_policy *pol,
			const struct core_dmarc_row *r)
{
	const char *why = reason(pol, r);
	char count[32];
	int e = 0;

	snprintf(count, sizeof(count), "%lld", (long long)r->count);
	e += xmlTextWriterStartElement(w, BAD_CAST "record") < 0;
	e += xmlTextWriterStartElement(w, BAD_CAST "row") < 0;
	e += el(w, "source_ip", r->source_ip);
	e += el(w, "count", count);
	e += xmlTextWriterStartElement(w, BAD_CAST "policy_evaluated") < 0;
	e += el(w, "disposition", r->disposition);
	e += el(w, "dkim", evaluated(r, true));
	e += el(w, "spf", evaluated(r, false));
	if (why) {
		e += xmlTextWriterStartElement(w, BAD_CAST "reason") < 0;
		e += el(w, "type", why);
		e += xmlTextWriterEndElement(w) < 0;
	}
	e += xmlTextWriterEndElement(w) < 0;	/* policy_evaluated */
	e += xmlTextWriterEndElement(w) < 0;	/* row */
	e += xmlTextWriterStartElement(w, BAD_CAST "identifiers") < 0;
	e += el(w, "header_from", r->header_from);
	e += xmlTextWriterEndElement(w) < 0;
	e += write_auth(w, r);
	e += xmlTextWriterEndElement(w) < 0;	/* record */
	return e;
}

int core_dmarc_out_xml(const struct core_dmarc_out_meta *m,
		       const struct core_dmarc_out_policy *pol,
		       const struct core_dmarc_row *rows, size_t n,
		       char **out, size_t *outlen)
{
	const struct core_dmarc_row **v;
	xmlBufferPtr b = xmlBufferCreate();
	xmlTextWriterPtr w;
	char begin[32], end[32];
	int e = 0;
	size_t i;

	if (!b)
		return -1;
	w = xmlNewTextWriterMemory(b, 0);
	if (!w) {
		xmlBufferFree(b);
		return -1;
	}
	v = xcalloc(n ? n : 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = &rows[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), row_cmp);
	snprintf(begin, sizeof(begin), "%lld", (long long)m->begin);
	snprintf(end, sizeof(end), "%lld", (long long)m->end);
	e += xmlTextWriterSetIndent(w, 1) < 0;
	e += xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0;
	e += xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0;
	e += xmlTextWriterStartElement(w, BAD_CAST "feedback") < 0;
	e += xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST NS) < 0;
	e += el(w, "version", "1.0");
	e += xmlTextWriterStartElement(w, BAD_CAST "report_metadata") < 0;
	e += el(w, "org_name", m->org_name);
	e += el(w, "email", m->email);
	e += el(w, "report_id", m->report_id);
	e += xmlTextWriterStartElement(w, BAD_CAST "date_range") < 0;
	e += el(w, "begin", begin);
	e += el(w, "end", end);
	e += xmlTextWriterEndElement(w) < 0;
	e += el(w, "generator", "mamori");
	e += xmlTextWriterEndElement(w) < 0;	/* report_metadata */
	e += xmlTextWriterStartElement(w, BAD_CAST "policy_published") < 0;
	e += el(w, "domain", pol->domain);
	if (pol->discovery && *pol->discovery)
		e += el(w, "discovery_method", pol->discovery);
	e += el(w, "p", pol->p && *pol->p ? pol->p : "none");
	if (pol->sp && *pol->sp)
		e += el(w, "sp", pol->sp);
	if (pol->np && *pol->np)
		e += el(w, "np", pol->np);
	e += el(w, "adkim", pol->adkim == 's' ? "s" : "r");
	e += el(w, "aspf", pol->aspf == 's' ? "s" : "r");
	e += el(w, "testing", pol->testing ? "y" : "n");
	e += xmlTextWriterEndElement(w) < 0;	/* policy_published */
	for (i = 0; i < n; i++)
		e += write_record(w, pol, v[i]);
	e += xmlTextWriterEndDocument(w) < 0;
	xmlFreeTextWriter(w);
	free(v);
	if (e) {
		xmlBufferFree(b);
		return -1;
	}
	*outlen = (size_t)xmlBufferLength(b);
	*out = xmalloc(*outlen + 1);
	memcpy(*out, xmlBufferContent(b), *outlen);
	(*out)[*outlen] = '\0';
	xmlBufferFree(b);
	return 0;
}

int core_dmarc_out_gzip(const char *in, size_t n, char **out,
			size_t *outlen)
{
	z_stream z;
	size_t cap = n + n / 1000 + 64;
	char *o;
	int r;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952). */
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&z, (uLong)n) + 32;
	o = xmalloc(cap);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)o;
	z.avail_out = (uInt)cap;
	r = deflate(&z, Z_FINISH);
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(o);
		return -1;
	}
	*out = o;
	return 0;
}

void core_dmarc_out_filename(const struct core_dmarc_out_meta *m,
			     const char *domain, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s!%s!%lld!%lld.xml.gz", m->submitter, domain,
		 (long long)m->begin, (long long)m->end);
}

int core_dmarc_out_mail(const struct core_dmarc_out_meta *m,
			const char *domain, const char *from, const char *to,
			int64_t now, const void *gz, size_t gzlen, char **out,
			size_t *outlen)
{
	GMimeMessage *msg;
	GMimeMultipart *mp;
	GMimeTextPart *txt;
	GMimePart *att;
	GMimeStream *s, *o;
	GMimeDataWrapper *dw;
	GMimeFormatOptions *fo;
	GByteArray *ba;
	GDateTime *dt;
	char subject[1024], fname[600], note[1024];
	int r = -1;

	mime_init();
	snprintf(subject, sizeof(subject),
		 "Report Domain: %s Submitter: %s Report-ID: <%s>", domain,
		 m->submitter, m->report_id);
	core_dmarc_out_filename(m, domain, fname, sizeof(fname));
	snprintf(note, sizeof(note),
		 "This is a DMARC aggregate report (RFC 9990) from %s for %s, "
		 "covering %lld to %lld (UTC, seconds since 1970).\n"
		 "Report-ID: %s\n", m->org_name, domain, (long long)m->begin,
		 (long long)m->end, m->report_id);
	msg = g_mime_message_new(TRUE);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, NULL, from);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, to);
	g_mime_message_set_subject(msg, subject, NULL);
	dt = g_date_time_new_from_unix_utc((gint64)now);
	g_mime_message_set_date(msg, dt);
	g_date_time_unref(dt);
	g_mime_message_set_message_id(msg, m->report_id);
	mp = g_mime_multipart_new_with_subtype("mixed");
	txt = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(txt, note);
	g_mime_multipart_add(mp, GMIME_OBJECT(txt));
	g_object_unref(txt);
	att = g_mime_part_new_with_type("application", "gzip");
	g_mime_part_set_filename(att, fname);
	s = g_mime_stream_mem_new_with_buffer(gz, gzlen);
	dw = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_object_unref(s);
	g_mime_part_set_content(att, dw);
	g_object_unref(dw);
	g_mime_part_set_content_encoding(att, GMIME_CONTENT_ENCODING_BASE64);
	g_mime_multipart_add(mp, GMIME_OBJECT(att));
	g_object_unref(att);
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(mp));
	g_object_unref(mp);
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	o = g_mime_stream_mem_new();
	if (g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, o) > 0) {
		ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(o));
		*outlen = ba->len;
		*out = xmalloc(ba->len + 1);
		memcpy(*out, ba->data, ba->len);
		(*out)[ba->len] = '\0';
		r = 0;
	}
	g_object_unref(o);
	g_mime_format_options_free(fo);
	g_object_unref(msg);
	return r;
}
