/*
 * dmarc_report - DMARC aggregate reports (rua) as receivers send them:
 * the XML of RFC 9990 (namespace urn:ietf:params:xml:ns:dmarc-2.0) and of
 * RFC 7489 Appendix C (no namespace, or dmarc.org's draft one), and the
 * wrappers they arrive in.  Sans-I/O: bytes in, a struct or an error out.
 *
 *   dmarc_report.c         the XML (libxml2 xmlTextReader from memory, one
 *                          top-level element at a time, no whole DOM)
 *   dmarc_report_unwrap.c  .xml, .xml.gz (zlib), .zip (libarchive) and a
 *                          whole message (RFC 5322 + MIME through
 *                          mail/mime.c on GMime)
 *
 * Hostile input is the normal case (anyone can mail a rua address), so:
 *  - libxml2 parses with XML_PARSE_NONET and without XML_PARSE_NOENT or
 *    XML_PARSE_DTDLOAD; a document with a DOCTYPE at all is refused (no
 *    report needs one, and it closes entity expansion for good);
 *  - every size is capped (DMARC_REPORT_*_MAX below), decompression stops
 *    at DMARC_REPORT_XML_MAX (zip and gzip bombs are refused, not read);
 *  - every string kept is at most DMARC_REPORT_STR_MAX bytes (a domain is
 *    253, RFC 1035 2.3.4), printable, valid UTF-8 (libxml2 checks the
 *    encoding); source_ip is an address, normalised by inet_ntop;
 *  - results and dispositions are lowercased ("Pass" occurs in the wild).
 *
 * Threading: no globals besides libxml2's own, initialised once
 * (xmlInitParser is thread-safe).  A report owns all its memory.
 */
#ifndef MAMORI_DMARC_REPORT_H
#define MAMORI_DMARC_REPORT_H

#include <stddef.h>
#include <stdint.h>

/* Outcomes (positive); negative errno for unexpected failures. */
enum {
	DMARC_REPORT_OK = 0,
	DMARC_REPORT_E_TOO_LARGE = 1,	/* input or decompressed size */
	DMARC_REPORT_E_XML = 2,		/* not well-formed XML */
	DMARC_REPORT_E_NOT_REPORT = 3,	/* XML, but not <feedback> */
	DMARC_REPORT_E_INVALID = 4,	/* a required field missing/bad */
	DMARC_REPORT_E_TOO_MANY = 5,	/* records or auth results */
	DMARC_REPORT_E_ARCHIVE = 6,	/* gzip/zip damaged or unusable */
	DMARC_REPORT_E_NO_REPORT = 7,	/* message without a report part */
};

/* Raw input (a message, an archive): 32 MiB, far above any real report. */
#define DMARC_REPORT_INPUT_MAX (32u << 20)
/* Decompressed XML: 64 MiB (about 150,000 records at ~400 bytes). */
#define DMARC_REPORT_XML_MAX (64u << 20)
/* Records per report, and auth results of each kind per record. */
#define DMARC_REPORT_RECORDS_MAX 100000u
#define DMARC_REPORT_AUTH_MAX 16u
/* Any kept string (domain 253, RFC 1035; report_id and org_name alike). */
#define DMARC_REPORT_STR_MAX 255u
/* A count: 15 digits stays exact in every JSON reader. */
#define DMARC_REPORT_COUNT_MAX 999999999999999ull

/* One <auth_results><dkim> or <spf>. */
struct dmarc_report_auth {
	char *domain;		/* "" when absent */
	char *selector;		/* DKIM only; "" when absent */
	char *scope;		/* SPF only ("mfrom", "helo"); "" when absent */
	char *result;		/* lowercased */
};

/* One <record>. */
struct dmarc_report_record {
	char source_ip[46];	/* normalised (inet_ntop) */
	uint64_t count;
	char *disposition;	/* none | quarantine | reject | "" */
	char *dkim, *spf;	/* policy_evaluated (aligned) results */
	char *header_from, *envelope_from;	/* "" when absent */
	struct dmarc_report_auth *dkim_auth, *spf_auth;
	size_t n_dkim_auth, n_spf_auth;
};

/* A parsed report.  Strings are NUL-terminated, owned by the report. */
struct dmarc_report {
	char *ns;		/* namespace URI of <feedback>, "" for none */
	char *org_name, *email, *report_id;	/* "" when absent */
	int64_t begin, end;	/* unix time (a fraction ".0" is dropped) */
	/* policy_published */
	char *domain;
	char *adkim, *aspf, *p, *sp, *np, *testing;	/* "" when absent */
	int pct;		/* -1 when absent */
	struct dmarc_report_record *rec;
	size_t n_rec;
	uint64_t count_sum;	/* sum of the counts (saturating) */
};

/*
 * Parse the report XML xml[0..n).  On DMARC_REPORT_OK *out is filled and
 * must be released with dmarc_report_deinit(); on an error *out is empty
 * (deinit is still safe) and err (errsz bytes) says why, with the line or
 * the element: "not well-formed XML at line 6: ...", "record 2: source_ip
 * is not an address".
 */
int dmarc_report_parse(const void *xml, size_t n, struct dmarc_report *out,
		       char *err, size_t errsz);
/* Free what a report holds and leave it empty. */
void dmarc_report_deinit(struct dmarc_report *r);

/*
 * Find the report XML in in[0..n): XML as is, gzip, zip (the first entry
 * whose name ends in .xml), or a message whose attachment is one of those
 * (Content-Type application/gzip, application/zip, text/xml,
 * application/xml, or application/octet-stream and similar with a .xml,
 * .gz or .zip file name).  On DMARC_REPORT_OK *xml is a malloc'd copy
 * (caller frees) of *xml_len bytes, NUL-terminated.  Errors as above, with
 * err saying why ("gzip: incorrect header check", "zip: no .xml entry").
 */
int dmarc_report_unwrap(const void *in, size_t n, char **xml,
			size_t *xml_len, char *err, size_t errsz);

/* unwrap + parse in one call; *out as for dmarc_report_parse(). */
int dmarc_report_load(const void *in, size_t n, struct dmarc_report *out,
		      char *err, size_t errsz);

/* A short name for an outcome ("too large", "xml", ...). */
const char *dmarc_report_strerror(int rc);

#endif
