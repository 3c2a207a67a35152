/*
 * dmarc_report_unwrap - find the report XML in what a rua address gets:
 * XML, gzip (RFC 1952, zlib), zip (libarchive from memory), or an RFC 5322
 * message carrying one of those as a MIME part (RFC 2045/2046; RFC 9990
 * section 6.2 / RFC 7489 7.2.1.1 name the media types and file names).
 *
 * A message is parsed by mail/mime.c (GMime, its own bounds); the first
 * attachment whose declared type is gzip, zip or XML, or whose file name
 * ends in .xml, .gz or .zip, is the report.  An attachment past
 * MIME_MAX_ATTACH_VIEW (10 MiB decoded) is refused as too large.
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

#include "mail/dmarc_report.h"
#include "mail/mime.h"
#include "util/buf.h"
#include "util/xalloc.h"

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

/* Is attachment a the report, by declared type or file name? */
static bool is_report(const struct mime_attachment *a)
{
	static const char *const types[] = {
		"application/gzip", "application/x-gzip", "application/zip",
		"application/x-zip", "application/x-zip-compressed",
		"text/xml", "application/xml",
	};
	size_t i, nl = strlen(a->filename);

	if (ends(a->filename, nl, ".xml") || ends(a->filename, nl, ".gz") ||
	    ends(a->filename, nl, ".zip"))
		return true;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(a->content_type, types[i]))
			return true;
	return false;
}

/* The report attachment of a message (mail/mime.c on GMime) into b. */
static int message(const void *in, size_t n, struct buf *b, char *err,
		   size_t errsz)
{
	struct mime_summary *s = NULL;
	int rc = DMARC_REPORT_E_NO_REPORT;
	size_t i;

	if (mime_parse(in, n, &s) != 0 || !s)
		return rc;
	for (i = 0; i < s->n_attachments; i++) {
		const struct mime_attachment *a = &s->attachments[i];

		if (!is_report(a))
			continue;
		if (a->truncated)
			rc = fail(err, errsz, DMARC_REPORT_E_TOO_LARGE,
				  "attachment larger than %u bytes",
				  MIME_MAX_ATTACH_VIEW);
		else
			rc = payload(a->data, a->data_len, b, err, errsz);
		break;
	}
	mime_summary_free(s);
	return rc;
}

int dmarc_report_unwrap(const void *in, size_t n, char **xml,
			size_t *xml_len, char *err, size_t errsz)
{
	const unsigned char *u = in;
	struct buf b;
	int rc;

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
		rc = message(in, n, &b, err, errsz);
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
