/*
 * dmarc_report_unwrap - find the report XML in what a rua address gets:
 * XML, gzip (RFC 1952, zlib), zip (libarchive from memory), or an RFC 5322
 * message carrying one of those as a MIME part (RFC 2045/2046; RFC 9990
 * section 6.2 / RFC 7489 7.2.1.1 name the media types and file names).
 *
 * The MIME walk here is TEMPORARY and deliberately small: headers unfolded
 * up to 64 KiB, multipart nesting up to 4 deep and 64 parts, base64 and
 * 7bit/8bit/binary bodies (no quoted-printable: no reporter sends XML that
 * way).  It goes when src/mail/mime.c (GMime) is in main.
 *
 * gzip: one member; bytes after its end are ignored (Mimecast appends a
 * CRLF inside the base64, which Python's gzip module refuses).
 *
 * Bombs: gzip and zip are decompressed in chunks into a buffer capped at
 * DMARC_REPORT_XML_MAX; passing it is an error, not a truncation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "mail/dkim.h"
#include "mail/dmarc_report.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define MIME_DEPTH_MAX 4
#define MIME_PARTS_MAX 64
#define MIME_HEADER_MAX (64u << 10)
#define ZIP_ENTRIES_MAX 64

/* Error text into err; returns rc. */
__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errsz, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return rc;
}

/* Append n bytes to b, as a size error when over the cap. */
static int grow(struct buf *b, const void *p, size_t n, char *err,
		size_t errsz)
{
	if (buf_append(b, p, n) != 0)
		return fail(err, errsz, DMARC_REPORT_E_TOO_LARGE,
			    "decompressed report larger than %u bytes",
			    DMARC_REPORT_XML_MAX);
	return 0;
}

/* Inflate gzip data into b. */
static int gunzip(const unsigned char *in, size_t n, struct buf *b,
		  char *err, size_t errsz)
{
	unsigned char chunk[16384];
	z_stream z;
	int zr, rc = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			rc = fail(err, errsz, DMARC_REPORT_E_ARCHIVE,
				  "gzip: %s", z.msg ? z.msg :
				  zr == Z_BUF_ERROR ? "truncated" : "damaged");
			break;
		}
		rc = grow(b, chunk, sizeof(chunk) - z.avail_out, err, errsz);
	} while (rc == 0 && zr != Z_STREAM_END);
	inflateEnd(&z);
	return rc;
}

/* Is name (n bytes) ending in suffix, case ignored? */
static bool ends(const char *name, size_t n, const char *suffix)
{
	size_t s = strlen(suffix);

	return n >= s && strncasecmp(name + n - s, suffix, s) == 0;
}

/* Extract the first .xml entry of a zip archive into b. */
static int unzip(const unsigned char *in, size_t n, struct buf *b,
		 char *err, size_t errsz)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int rc = DMARC_REPORT_E_ARCHIVE, ar, i;

	if (!a)
		return -ENOMEM;
	archive_read_support_format_zip(a);
	if (archive_read_open_memory(a, in, n) != ARCHIVE_OK) {
		rc = fail(err, errsz, rc, "zip: %s",
			  archive_error_string(a) ? archive_error_string(a) :
			  "unreadable");
		goto out;
	}
	for (i = 0; i < ZIP_ENTRIES_MAX; i++) {
		const char *name;
		char chunk[16384];
		ssize_t got;

		ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			rc = fail(err, errsz, rc, "zip: %s",
				  archive_error_string(a) ?
				  archive_error_string(a) : "damaged");
			goto out;
		}
		/* A nameless entry is what "zip - file" writes (seen in
		 * the wild); take it as the report too. */
		name = archive_entry_pathname(e);
		if (name && *name && !ends(name, strlen(name), ".xml"))
			continue;
		rc = 0;
		while (rc == 0 &&
		       (got = archive_read_data(a, chunk, sizeof(chunk))) > 0)
			rc = grow(b, chunk, (size_t)got, err, errsz);
		if (rc == 0 && got < 0)
			rc = fail(err, errsz, DMARC_REPORT_E_ARCHIVE,
				  "zip: %s", archive_error_string(a) ?
				  archive_error_string(a) : "damaged entry");
		goto out;
	}
	rc = fail(err, errsz, rc, "zip: no .xml entry");
out:
	archive_read_free(a);
	return rc;
}

/* Decompress or copy a report payload (not a message) into b. */
static int payload(const unsigned char *in, size_t n, struct buf *b,
		   char *err, size_t errsz)
{
	if (n >= 2 && in[0] == 0x1f && in[1] == 0x8b)
		return gunzip(in, n, b, err, errsz);
	if (n >= 4 && memcmp(in, "PK\x03\x04", 4) == 0)
		return unzip(in, n, b, err, errsz);
	return grow(b, in, n, err, errsz);
}

/* Does in[0..n) look like XML (after a BOM and blanks)? */
static bool looks_xml(const unsigned char *in, size_t n)
{
	size_t i = 0;

	if (n >= 3 && in[0] == 0xef && in[1] == 0xbb && in[2] == 0xbf)
		i = 3;
	while (i < n && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' ||
			 in[i] == '\n'))
		i++;
	return i < n && in[i] == '<';
}

/* One MIME entity: unfolded header block and body. */
struct part {
	char *hdr;		/* unfolded, lowercase names kept as is */
	const char *body;
	size_t body_len;
};

/* Split in[0..n) into unfolded headers and body; false if no headers. */
static bool split(const char *in, size_t n, struct part *pt)
{
	struct buf h;
	size_t i = 0;

	buf_init(&h, MIME_HEADER_MAX);
	while (i < n) {
		size_t e = i;

		while (e < n && in[e] != '\n')
			e++;
		if (e == i || (e == i + 1 && in[i] == '\r')) {
			i = e < n ? e + 1 : n;
			break;
		}
		/* A continuation line joins the previous one (unfolding). */
		if (!(in[i] == ' ' || in[i] == '\t') && h.len)
			if (buf_append(&h, "\n", 1)) {
				buf_deinit(&h);
				return false;
			}
		if (buf_append(&h, in + i,
			       e - i - (e > i && in[e - 1] == '\r'))) {
			buf_deinit(&h);
			return false;
		}
		i = e < n ? e + 1 : n;
	}
	if (!h.len) {
		buf_deinit(&h);
		return false;
	}
	buf_append(&h, "\n", 1);
	pt->hdr = buf_steal(&h);
	pt->body = in + i;
	pt->body_len = n - i;
	buf_deinit(&h);
	return true;
}

/* The value of header name in hdr (borrowed up to the line end), or NULL. */
static const char *header(const char *hdr, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *l;

	for (l = hdr; *l; l = strchr(l, '\n') + 1) {
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			l += nl + 1;
			while (*l == ' ' || *l == '\t')
				l++;
			*len = strcspn(l, "\n");
			return l;
		}
		if (!strchr(l, '\n'))
			break;
	}
	return NULL;
}

/* Parameter param of a header value v[0..n) into out, or "" (bounded). */
static void param(const char *v, size_t n, const char *pname, char *out,
		  size_t outsz)
{
	size_t pl = strlen(pname), i, k = 0;

	out[0] = '\0';
	for (i = 0; i + pl < n; i++) {
		if ((i && v[i - 1] != ';' && v[i - 1] != ' ' &&
		     v[i - 1] != '\t') ||
		    strncasecmp(v + i, pname, pl) != 0 || v[i + pl] != '=')
			continue;
		i += pl + 1;
		if (i < n && v[i] == '"') {
			for (i++; i < n && v[i] != '"' && k + 1 < outsz; i++)
				out[k++] = v[i];
		} else {
			for (; i < n && v[i] != ';' && v[i] != ' ' &&
			       k + 1 < outsz; i++)
				out[k++] = v[i];
		}
		out[k] = '\0';
		return;
	}
}

static int walk(const char *in, size_t n, int depth, int *parts,
		struct buf *b, char *err, size_t errsz);

/* A leaf part: decode it if it is the report, else DMARC_REPORT_E_NO_REPORT. */
static int leaf(const struct part *pt, const char *ct, size_t ctl,
		struct buf *b, char *err, size_t errsz)
{
	char name[256] = "", d[256];
	const char *v;
	size_t vl, nl;
	bool want = false, b64;
	unsigned char *dec;
	long dl;
	int rc;

	param(ct, ctl, "name", name, sizeof(name));
	if ((v = header(pt->hdr, "Content-Disposition", &vl))) {
		param(v, vl, "filename", d, sizeof(d));
		if (d[0])
			memcpy(name, d, sizeof(name));
	}
	nl = strlen(name);
	if (ends(name, nl, ".xml") || ends(name, nl, ".gz") ||
	    ends(name, nl, ".zip"))
		want = true;
	else if (!strncasecmp(ct, "application/gzip", 16) ||
		 !strncasecmp(ct, "application/x-gzip", 18) ||
		 !strncasecmp(ct, "application/zip", 15) ||
		 !strncasecmp(ct, "application/x-zip", 17) ||
		 !strncasecmp(ct, "text/xml", 8) ||
		 !strncasecmp(ct, "application/xml", 15))
		want = true;
	if (!want)
		return DMARC_REPORT_E_NO_REPORT;
	v = header(pt->hdr, "Content-Transfer-Encoding", &vl);
	b64 = v && vl >= 6 && strncasecmp(v, "base64", 6) == 0;
	if (!b64)
		return payload((const unsigned char *)pt->body, pt->body_len,
			       b, err, errsz);
	dec = xmalloc(pt->body_len / 4 * 3 + 4);
	dl = dkim_base64_decode(pt->body, pt->body_len, dec,
				pt->body_len / 4 * 3 + 4);
	if (dl < 0)
		rc = fail(err, errsz, DMARC_REPORT_E_ARCHIVE,
			  "attachment: not base64");
	else
		rc = payload(dec, (size_t)dl, b, err, errsz);
	free(dec);
	return rc;
}

/* Walk the multipart body of pt with boundary bd. */
static int multipart(const struct part *pt, const char *bd, int depth,
		     int *parts, struct buf *b, char *err, size_t errsz)
{
	char delim[80];
	size_t dl = (size_t)snprintf(delim, sizeof(delim), "--%s", bd);
	const char *p = pt->body, *end = pt->body + pt->body_len, *s = NULL;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;

		if ((size_t)(end - p) >= dl && memcmp(p, delim, dl) == 0) {
			if (s) {
				/* The CRLF before a delimiter belongs to it. */
				const char *e = p;
				int rc;

				if (e > s && e[-1] == '\n')
					e--;
				if (e > s && e[-1] == '\r')
					e--;
				rc = walk(s, (size_t)(e - s), depth + 1,
					  parts, b, err, errsz);
				if (rc != DMARC_REPORT_E_NO_REPORT)
					return rc;
			}
			if (p + dl + 1 < end && p[dl] == '-' &&
			    p[dl + 1] == '-')
				break;
			s = next;
		}
		p = next;
	}
	return DMARC_REPORT_E_NO_REPORT;
}

/* Walk one MIME entity in[0..n). */
static int walk(const char *in, size_t n, int depth, int *parts,
		struct buf *b, char *err, size_t errsz)
{
	struct part pt;
	const char *ct;
	size_t ctl;
	char bd[71];
	int rc;

	if (depth > MIME_DEPTH_MAX || ++*parts > MIME_PARTS_MAX)
		return DMARC_REPORT_E_NO_REPORT;
	if (!split(in, n, &pt))
		return DMARC_REPORT_E_NO_REPORT;
	ct = header(pt.hdr, "Content-Type", &ctl);
	if (!ct) {
		ct = "text/plain";
		ctl = 10;
	}
	if (ctl >= 10 && strncasecmp(ct, "multipart/", 10) == 0) {
		param(ct, ctl, "boundary", bd, sizeof(bd));
		rc = bd[0] ? multipart(&pt, bd, depth, parts, b, err, errsz)
			   : DMARC_REPORT_E_NO_REPORT;
	} else {
		rc = leaf(&pt, ct, ctl, b, err, errsz);
	}
	free(pt.hdr);
	return rc;
}

int dmarc_report_unwrap(const void *in, size_t n, char **xml,
			size_t *xml_len, char *err, size_t errsz)
{
	const unsigned char *u = in;
	struct buf b;
	int parts = 0, rc;

	*xml = NULL;
	*xml_len = 0;
	if (errsz)
		err[0] = '\0';
	if (n > DMARC_REPORT_INPUT_MAX)
		return fail(err, errsz, DMARC_REPORT_E_TOO_LARGE,
			    "input larger than %u bytes",
			    DMARC_REPORT_INPUT_MAX);
	if (n == 0)
		return fail(err, errsz, DMARC_REPORT_E_XML, "empty input");
	buf_init(&b, DMARC_REPORT_XML_MAX);
	if (looks_xml(u, n) || (n >= 2 && u[0] == 0x1f && u[1] == 0x8b) ||
	    (n >= 4 && memcmp(u, "PK\x03\x04", 4) == 0))
		rc = payload(u, n, &b, err, errsz);
	else
		rc = walk(in, n, 0, &parts, &b, err, errsz);
	if (rc == DMARC_REPORT_E_NO_REPORT)
		rc = fail(err, errsz, rc,
			  "no report attachment (xml, gzip or zip)");
	if (rc == 0 && b.len == 0)
		rc = fail(err, errsz, DMARC_REPORT_E_XML, "empty report");
	if (rc == 0) {
		*xml_len = b.len;
		*xml = buf_steal(&b);
	}
	buf_deinit(&b);
	return rc;
}

int dmarc_report_load(const void *in, size_t n, struct dmarc_report *out,
		      char *err, size_t errsz)
{
	char *xml;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	out->pct = -1;
	rc = dmarc_report_unwrap(in, n, &xml, &len, err, errsz);
	if (rc)
		return rc;
	rc = dmarc_report_parse(xml, len, out, err, errsz);
	free(xml);
	return rc;
}
