/*
 * dmarc_report - the aggregate report XML (RFC 9990 section 3 and its
 * schema; RFC 7489 Appendix C), read with libxml2 from memory into
 * struct dmarc_report.  See dmarc_report.h for the limits and why.
 *
 * Element names are matched by local name whatever the namespace, so the
 * RFC 9990 namespace, none (RFC 7489) and dmarc.org's draft namespace all
 * read the same.  Unknown elements are ignored (extensions, <reason>,
 * <human_result>, <generator>); a repeated singleton keeps the first.
 * Required: <feedback>, <report_metadata><report_id>, <date_range> with
 * <begin> and <end>, <policy_published><domain>, and per record
 * <source_ip> and <count>.  org_name is optional: real reports omit it.
 *
 * Streaming (since session 6): the document is read with libxml2's
 * xmlTextReader, never into one DOM.  Each child element of <feedback>
 * (<report_metadata>, <policy_published>, every <record>) is read node by
 * node into a small copy holding only what the checks read (keeps[]: the
 * first element of each known name, leaf texts bounded to what text()
 * needs to decide), checked by the same per-element functions as before,
 * and freed; the reader frees its own nodes as it moves on
 * (xmlTextReaderPreserve is never called).  Why: the rua address takes
 * mail from anyone, and the DOM of a 33 MB report of 100,000 records
 * (144 KB gzipped) held ~470 MB.  xmlTextReaderExpand of each element
 * was tried first and bounds that case too, but one <record> holding
 * megabytes of unknown children is then still a whole tree (~400 MB);
 * the copy bounds both (docs/benchmarks.md, "DMARC report parse:
 * streaming").  Memory is now the input, the parsed struct and a few
 * dozen nodes.
 * Results are the same as the DOM walk's, errors included: the checks
 * are ranked as that walk ran them (DOCTYPE/root, metadata, policy,
 * records in order; enum stage) so a record error earlier in the
 * document does not hide a metadata error later, the document is always
 * read to its end so a well-formedness error anywhere still wins, and
 * its message comes from the pull parser as before (xml_fail).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>

#include "mail/dmarc_report.h"
#include "util/xalloc.h"

/* Parse state: the report being filled and the error text. */
struct rp {
	struct dmarc_report *r;
	char *err;
	size_t errsz;
	size_t cap;		/* records allocated */
};

/* Write an error message; returns rc. */
__attribute__((format(printf, 3, 4)))
static int fail(struct rp *p, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, p->errsz, fmt, ap);
	va_end(ap);
	return rc;
}

/* Is node an element with local name name? */
static bool is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	       strcmp((const char *)n->name, name) == 0;
}

/* The first child element of n named name, or NULL. */
static xmlNode *child(const xmlNode *n, const char *name)
{
	xmlNode *c;

	for (c = n->children; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/*
 * The trimmed text of element n into *out (malloc'd): "" for NULL or
 * empty.  Refuses text over DMARC_REPORT_STR_MAX or with control bytes.
 */
static int text(struct rp *p, const xmlNode *n, const char *what, char **out)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	const char *s = t ? (const char *)t : "";
	size_t len, i;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
		       s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if (len > DMARC_REPORT_STR_MAX) {
		xmlFree(t);
		return fail(p, DMARC_REPORT_E_INVALID,
			    "%s longer than %u bytes", what,
			    DMARC_REPORT_STR_MAX);
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			xmlFree(t);
			return fail(p, DMARC_REPORT_E_INVALID,
				    "%s holds a control character", what);
		}
	*out = xstrndup(s, len);
	xmlFree(t);
	return 0;
}

/* text() of the child name of n. */
static int ctext(struct rp *p, const xmlNode *n, const char *name,
		 char **out)
{
	return text(p, n ? child(n, name) : NULL, name, out);
}

/* text(), lowercased: a result token ("Pass" occurs in the wild). */
static int token(struct rp *p, const xmlNode *n, const char *name,
		 char **out)
{
	int rc = ctext(p, n, name, out);
	char *s;

	if (rc)
		return rc;
	for (s = *out; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	return 0;
}

/*
 * An unsigned decimal at most max into *v; a fraction of zeros (".0",
 * as some reporters write times) is accepted and dropped.
 */
static bool number(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '.')
		for (s++; *s == '0'; s++)
			;
	if (*s)
		return false;
	*v = x;
	return true;
}

/* A required time (begin/end) of date_range dr into *t. */
static int timeval(struct rp *p, const xmlNode *dr, const char *name,
		   int64_t *t)
{
	char *s = NULL;
	uint64_t v;
	int rc = ctext(p, dr, name, &s);

	if (rc == 0 && !number(s, INT64_MAX, &v))
		rc = fail(p, DMARC_REPORT_E_INVALID,
			  "date_range %s missing or not a unix time", name);
	else if (rc == 0)
		*t = (int64_t)v;
	free(s);
	return rc;
}

/* <report_metadata>. */
static int metadata(struct rp *p, const xmlNode *m)
{
	struct dmarc_report *r = p->r;
	const xmlNode *dr;
	int rc;

	if (!m)
		return fail(p, DMARC_REPORT_E_INVALID, "no report_metadata");
	if ((rc = ctext(p, m, "org_name", &r->org_name)) ||
	    (rc = ctext(p, m, "email", &r->email)) ||
	    (rc = ctext(p, m, "report_id", &r->report_id)))
		return rc;
	if (!*r->report_id)
		return fail(p, DMARC_REPORT_E_INVALID, "no report_id");
	dr = child(m, "date_range");
	if (!dr)
		return fail(p, DMARC_REPORT_E_INVALID, "no date_range");
	if ((rc = timeval(p, dr, "begin", &r->begin)) ||
	    (rc = timeval(p, dr, "end", &r->end)))
		return rc;
	return 0;
}

/* <policy_published>. */
static int policy(struct rp *p, const xmlNode *pp)
{
	struct dmarc_report *r = p->r;
	char *pct = NULL;
	uint64_t v;
	int rc;

	if (!pp)
		return fail(p, DMARC_REPORT_E_INVALID, "no policy_published");
	if ((rc = token(p, pp, "domain", &r->domain)) ||
	    (rc = token(p, pp, "adkim", &r->adkim)) ||
	    (rc = token(p, pp, "aspf", &r->aspf)) ||
	    (rc = token(p, pp, "p", &r->p)) ||
	    (rc = token(p, pp, "sp", &r->sp)) ||
	    (rc = token(p, pp, "np", &r->np)) ||
	    (rc = token(p, pp, "testing", &r->testing)) ||
	    (rc = ctext(p, pp, "pct", &pct)))
		return rc;
	if (!*r->domain)
		rc = fail(p, DMARC_REPORT_E_INVALID,
			  "no policy_published domain");
	else if (*pct && !(number(pct, 100, &v)))
		rc = fail(p, DMARC_REPORT_E_INVALID, "pct not 0..100");
	else
		r->pct = *pct ? (int)v : -1;
	free(pct);
	return rc;
}

/* The <dkim> or <spf> results under auth_results ar into *v, *n. */
static int auths(struct rp *p, const xmlNode *ar, const char *kind,
		 struct dmarc_report_auth **v, size_t *n, size_t idx)
{
	const xmlNode *c;
	bool dkim = kind[0] == 'd';
	size_t cap = 0;
	int rc;

	*v = NULL;
	*n = 0;
	for (c = ar ? ar->children : NULL; c; c = c->next) {
		struct dmarc_report_auth *a;

		if (!is(c, kind))
			continue;
		if (*n == DMARC_REPORT_AUTH_MAX)
			return fail(p, DMARC_REPORT_E_TOO_MANY,
				    "record %zu: more than %u %s results",
				    idx, DMARC_REPORT_AUTH_MAX, kind);
		if (*n == cap) {
			cap = cap ? cap * 2 : 2;
			*v = xrealloc(*v, cap * sizeof(**v));
		}
		a = &(*v)[(*n)++];
		memset(a, 0, sizeof(*a));
		if ((rc = token(p, c, "domain", &a->domain)) ||
		    (rc = token(p, c, "result", &a->result)) ||
		    (rc = ctext(p, dkim ? c : NULL, "selector",
				&a->selector)) ||
		    (rc = token(p, dkim ? NULL : c, "scope", &a->scope)))
			return rc;
	}
	return 0;
}

/* One <record> (idx counts from 1 for messages). */
static int record(struct rp *p, const xmlNode *rec, size_t idx)
{
	struct dmarc_report_record *o;
	const xmlNode *row = child(rec, "row"), *pe, *id, *ar;
	unsigned char a[16];
	char *s = NULL;
	int rc, af;

	if (p->r->n_rec == DMARC_REPORT_RECORDS_MAX)
		return fail(p, DMARC_REPORT_E_TOO_MANY,
			    "more than %u records", DMARC_REPORT_RECORDS_MAX);
	if (p->r->n_rec == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->r->rec = xrealloc(p->r->rec, p->cap * sizeof(*p->r->rec));
	}
	o = &p->r->rec[p->r->n_rec++];
	memset(o, 0, sizeof(*o));
	if (!row)
		return fail(p, DMARC_REPORT_E_INVALID, "record %zu: no row",
			    idx);
	if ((rc = ctext(p, row, "source_ip", &s)))
		return rc;
	af = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, s, a) != 1 ||
	    !inet_ntop(af, a, o->source_ip, sizeof(o->source_ip))) {
		free(s);
		return fail(p, DMARC_REPORT_E_INVALID,
			    "record %zu: source_ip is not an address", idx);
	}
	free(s);
	s = NULL;
	if ((rc = ctext(p, row, "count", &s)))
		return rc;
	if (!number(s, DMARC_REPORT_COUNT_MAX, &o->count)) {
		free(s);
		return fail(p, DMARC_REPORT_E_INVALID,
			    "record %zu: count is not a number", idx);
	}
	free(s);
	pe = child(row, "policy_evaluated");
	id = child(rec, "identifiers");
	ar = child(rec, "auth_results");
	if ((rc = token(p, pe, "disposition", &o->disposition)) ||
	    (rc = token(p, pe, "dkim", &o->dkim)) ||
	    (rc = token(p, pe, "spf", &o->spf)) ||
	    (rc = token(p, id, "header_from", &o->header_from)) ||
	    (rc = token(p, id, "envelope_from", &o->envelope_from)) ||
	    (rc = auths(p, ar, "dkim", &o->dkim_auth, &o->n_dkim_auth, idx)) ||
	    (rc = auths(p, ar, "spf", &o->spf_auth, &o->n_spf_auth, idx)))
		return rc;
	p->r->count_sum = p->r->count_sum > UINT64_MAX - o->count ?
			  UINT64_MAX : p->r->count_sum + o->count;
	return 0;
}

/*
 * What the checks read below a top-level element: the first child of each
 * name listed for its parent (as child() finds it; <dkim> and <spf> under
 * <auth_results> up to DMARC_REPORT_AUTH_MAX + 1, so auths() still counts
 * one too many), and of a leaf its text.
 */
static const struct keep_name {
	const char *parent, *name;
	bool leaf;
} keeps[] = {
	{ "report_metadata", "org_name", true },
	{ "report_metadata", "email", true },
	{ "report_metadata", "report_id", true },
	{ "report_metadata", "date_range", false },
	{ "date_range", "begin", true },
	{ "date_range", "end", true },
	{ "policy_published", "domain", true },
	{ "policy_published", "adkim", true },
	{ "policy_published", "aspf", true },
	{ "policy_published", "p", true },
	{ "policy_published", "sp", true },
	{ "policy_published", "np", true },
	{ "policy_published", "testing", true },
	{ "policy_published", "pct", true },
	{ "record", "row", false },
	{ "row", "source_ip", true },
	{ "row", "count", true },
	{ "row", "policy_evaluated", false },
	{ "policy_evaluated", "disposition", true },
	{ "policy_evaluated", "dkim", true },
	{ "policy_evaluated", "spf", true },
	{ "record", "identifiers", false },
	{ "identifiers", "header_from", true },
	{ "identifiers", "envelope_from", true },
	{ "record", "auth_results", false },
	{ "auth_results", "dkim", false },
	{ "auth_results", "spf", false },
	{ "dkim", "domain", true },
	{ "dkim", "selector", true },
	{ "dkim", "result", true },
	{ "spf", "domain", true },
	{ "spf", "scope", true },
	{ "spf", "result", true },
};

/* Levels below a top-level element that can hold a kept element. */
#define KEEP_DEPTH 4

/*
 * A leaf's text as text() will see it, in bounded space: leading blanks
 * dropped, the next STR_MAX + 1 bytes kept; a non-blank byte beyond them
 * (trimmed text longer than STR_MAX either way) marks it over.
 */
struct leaf_text {
	char buf[DMARC_REPORT_STR_MAX + 1];
	size_t len;
	bool started, over;
};

/* Add text s to the leaf text t. */
static void leaf_add(struct leaf_text *t, const char *s)
{
	for (; *s; s++) {
		bool blank = *s == ' ' || *s == '\t' || *s == '\r' ||
			     *s == '\n';

		if (!t->started && blank)
			continue;
		t->started = true;
		if (t->len < sizeof(t->buf))
			t->buf[t->len++] = *s;
		else if (!blank)
			t->over = true;
	}
}

/* The kept element of a child named name under kept element parent. */
static const struct keep_name *kept(const xmlNode *parent, const char *name,
				    uint64_t *seen, unsigned *nauth)
{
	size_t i;

	for (i = 0; i < sizeof(keeps) / sizeof(keeps[0]); i++) {
		if (keeps[i].name[0] != name[0] ||
		    strcmp(keeps[i].name, name) ||
		    strcmp(keeps[i].parent, (const char *)parent->name))
			continue;
		if (!keeps[i].leaf && strcmp(keeps[i].parent,
					     "auth_results") == 0) {
			unsigned *k = &nauth[name[0] == 's'];

			if (*k > DMARC_REPORT_AUTH_MAX)
				return NULL;
			++*k;
			return &keeps[i];
		}
		if (*seen & (1ull << i))
			return NULL;
		*seen |= 1ull << i;
		return &keeps[i];
	}
	return NULL;
}

/*
 * Read the top-level element the reader is on into *out: a copy holding
 * only what the checks read (keeps[], leaf texts bounded), so a hostile
 * element of megabytes of children costs its reading, not its tree; the
 * reader frees its own nodes as it moves on.  Leaves the reader on the
 * element's end.  Returns 1, or -1 on an XML error.
 */
static int copy_top(xmlTextReaderPtr rd, xmlNode **out)
{
	xmlNode *lvl[KEEP_DEPTH] = { NULL };
	uint64_t seen[KEEP_DEPTH] = { 0 };
	unsigned nauth[KEEP_DEPTH][2] = { { 0 } };
	struct leaf_text t;
	int leaf = -1, base = xmlTextReaderDepth(rd), ret = 1;

	lvl[0] = *out = xmlNewNode(NULL, xmlTextReaderConstLocalName(rd));
	if (!*out)
		return -1;
	if (xmlTextReaderIsEmptyElement(rd))
		return 1;
	while ((ret = xmlTextReaderRead(rd)) == 1) {
		int type = xmlTextReaderNodeType(rd);
		int d = xmlTextReaderDepth(rd) - base;
		const struct keep_name *k;
		const xmlChar *v;
		xmlNode *n;

		if (type == XML_READER_TYPE_END_ELEMENT && d == 0)
			break;
		if (leaf >= 0 && type == XML_READER_TYPE_END_ELEMENT &&
		    d == leaf) {
			if (t.over) {	/* too long either way */
				memset(t.buf, 'x', sizeof(t.buf));
				t.len = sizeof(t.buf);
			}
			n = xmlNewTextLen((const xmlChar *)t.buf, (int)t.len);
			xmlAddChild(lvl[leaf], n);
			leaf = -1;
		} else if (leaf >= 0 && d > leaf &&
			   (type == XML_READER_TYPE_TEXT ||
			    type == XML_READER_TYPE_CDATA ||
			    type == XML_READER_TYPE_WHITESPACE ||
			    type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE)) {
			v = xmlTextReaderConstValue(rd);
			if (v)
				leaf_add(&t, (const char *)v);
		} else if (leaf < 0 && type == XML_READER_TYPE_ELEMENT &&
			   d >= 1 && d < KEEP_DEPTH) {
			k = lvl[d - 1] ? kept(lvl[d - 1], (const char *)
					      xmlTextReaderConstLocalName(rd),
					      &seen[d - 1], nauth[d - 1]) :
				NULL;
			lvl[d] = NULL;
			if (!k)
				continue;
			n = xmlNewNode(NULL, (const xmlChar *)k->name);
			xmlAddChild(lvl[d - 1], n);
			lvl[d] = n;
			seen[d] = 0;
			nauth[d][0] = nauth[d][1] = 0;
			if (k->leaf && !xmlTextReaderIsEmptyElement(rd)) {
				memset(&t, 0, sizeof(t));
				leaf = d;
			}
		}
	}
	return ret == 1 ? 1 : -1;
}

/*
 * Which check failed, ranked as the whole-document walk ran them: a
 * DOCTYPE or a root other than <feedback> first, then report_metadata,
 * then policy_published, then the records in order.  The stream meets
 * them in document order, so a failure is kept only if no higher-ranked
 * one is known, and a part is checked only if it could still outrank the
 * failure kept.  A well-formedness error anywhere outranks them all.
 */
enum stage { ST_NONE, ST_RECORD, ST_POLICY, ST_META, ST_ROOT };

/* Reader state: which singletons were seen, the failure kept so far. */
struct walk {
	enum stage failed;	/* rank of the failure in p->err, or NONE */
	int rc;			/* its code */
	bool root, feedback, doctype, meta, pol;
	size_t idx;		/* records seen so far */
};

/* Keep failure rc of rank st (its message is already in p->err). */
static void keep(struct walk *w, enum stage st, int rc)
{
	if (rc) {
		w->failed = st;
		w->rc = rc;
	}
}

/* A top-level element of <feedback> (its copy): check it if it counts. */
static void top(struct rp *p, struct walk *w, const xmlNode *n)
{
	if (is(n, "report_metadata") && !w->meta) {
		w->meta = true;
		if (w->failed < ST_META)
			keep(w, ST_META, metadata(p, n));
	} else if (is(n, "policy_published") && !w->pol) {
		w->pol = true;
		if (w->failed < ST_POLICY)
			keep(w, ST_POLICY, policy(p, n));
	} else if (is(n, "record")) {
		++w->idx;
		if (w->failed == ST_NONE)
			keep(w, ST_RECORD, record(p, n, w->idx));
	}
}

/* The root element (the reader is on its start tag). */
static void root(struct rp *p, struct walk *w, const xmlNode *n)
{
	const char *ns = n->ns && n->ns->href ? (const char *)n->ns->href : "";

	w->root = true;
	if (w->failed >= ST_ROOT)
		return;
	if (!is(n, "feedback")) {
		keep(w, ST_ROOT, fail(p, DMARC_REPORT_E_NOT_REPORT,
				      "root element is not <feedback>"));
		return;
	}
	w->feedback = true;
	/* xstrndup copies n bytes: bound the length first (fuzz finding:
	 * a report without a namespace read past ""). */
	p->r->ns = xstrndup(ns, strnlen(ns, DMARC_REPORT_STR_MAX));
}

/* After the last node: the required parts that never came. */
static void finish(struct rp *p, struct walk *w)
{
	if (!w->root && w->failed < ST_ROOT)
		keep(w, ST_ROOT, fail(p, DMARC_REPORT_E_NOT_REPORT,
				      "root element is not <feedback>"));
	else if (!w->meta && w->failed < ST_META)
		keep(w, ST_META, metadata(p, NULL));	/* "no report_metadata" */
	else if (!w->pol && w->failed < ST_POLICY)
		keep(w, ST_POLICY, policy(p, NULL));	/* "no policy_published" */
}

/*
 * Read the document node by node.  Each child element of <feedback> is
 * copied (copy_top), checked and freed; anything else is skipped with
 * xmlTextReaderNext.  Returns 1 at the end of a well-formed document, -1
 * on an XML error.
 */
static int stream(struct rp *p, struct walk *w, xmlTextReaderPtr rd)
{
	int ret = xmlTextReaderRead(rd);

	while (ret == 1) {
		int type = xmlTextReaderNodeType(rd);
		int depth = xmlTextReaderDepth(rd);
		xmlNode *n;

		if (type == XML_READER_TYPE_DOCUMENT_TYPE && !w->doctype) {
			w->doctype = true;
			keep(w, ST_ROOT, fail(p, DMARC_REPORT_E_NOT_REPORT,
				"document has a DOCTYPE (refused)"));
		} else if (type == XML_READER_TYPE_ELEMENT && depth == 0) {
			n = xmlTextReaderCurrentNode(rd);
			if (!n)
				return -1;
			root(p, w, n);
		} else if (type == XML_READER_TYPE_ELEMENT && depth == 1) {
			if (!w->feedback || w->failed >= ST_ROOT) {
				ret = xmlTextReaderNext(rd);
				continue;
			}
			if (copy_top(rd, &n) < 0) {
				xmlFreeNode(n);
				return -1;
			}
			top(p, w, n);
			xmlFreeNode(n);
		}
		ret = xmlTextReaderRead(rd);
	}
	return ret == 0 ? 1 : -1;
}

/*
 * The error for a document the reader refused, worded as before: the
 * reader runs libxml2's push parser, which names some errors differently
 * ("Document is empty" for "Start tag expected"), so the document is read
 * once more by the pull parser (xmlCtxtReadMemory, as this module did
 * before the reader) with every tree-building callback off: no tree, so
 * memory stays bounded, and the last error is the one it always gave.
 * Only malformed documents pay this second pass.
 */
static int xml_fail(struct rp *p, const void *xml, size_t n)
{
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	const xmlError *xe = NULL;
	xmlDoc *doc = NULL;
	int rc;

	if (ctxt) {
		ctxt->sax->startElementNs = NULL;
		ctxt->sax->endElementNs = NULL;
		ctxt->sax->startElement = NULL;
		ctxt->sax->endElement = NULL;
		ctxt->sax->characters = NULL;
		ctxt->sax->ignorableWhitespace = NULL;
		ctxt->sax->cdataBlock = NULL;
		ctxt->sax->comment = NULL;
		ctxt->sax->processingInstruction = NULL;
		ctxt->sax->reference = NULL;
		doc = xmlCtxtReadMemory(ctxt, xml, (int)n, NULL, NULL,
					XML_PARSE_NONET | XML_PARSE_NOERROR |
					XML_PARSE_NOWARNING |
					XML_PARSE_NOCDATA);
		xe = xmlCtxtGetLastError(ctxt);
	}
	if (!xe || !xe->message)
		xe = xmlGetLastError();		/* the reader's own */
	rc = fail(p, DMARC_REPORT_E_XML,
		  "not well-formed XML at line %d: %.*s",
		  xe ? xe->line : 0,
		  xe && xe->message ? (int)strcspn(xe->message, "\n") : 7,
		  xe && xe->message ? xe->message : "unknown");
	xmlFreeDoc(doc);
	if (ctxt)
		xmlFreeParserCtxt(ctxt);
	return rc;
}

/* Once per process: libxml2's own globals (thread-safe, idempotent). */
static void xml_init(void)
{
	xmlInitParser();
}

int dmarc_report_parse(const void *xml, size_t n, struct dmarc_report *out,
		       char *err, size_t errsz)
{
	struct rp p = { .r = out, .err = err, .errsz = errsz };
	struct walk w = { .failed = ST_NONE };
	xmlTextReaderPtr rd;
	int rc;

	memset(out, 0, sizeof(*out));
	out->pct = -1;
	if (errsz)
		err[0] = '\0';
	if (n > DMARC_REPORT_XML_MAX)
		return fail(&p, DMARC_REPORT_E_TOO_LARGE,
			    "XML larger than %u bytes", DMARC_REPORT_XML_MAX);
	if (n == 0)
		return fail(&p, DMARC_REPORT_E_XML, "empty document");
	xml_init();
	xmlResetLastError();
	/* NONET: no network; no NOENT/DTDLOAD: entities stay unexpanded,
	 * no external subset is fetched; no HUGE: libxml2's own caps. */
	rd = xmlReaderForMemory(xml, (int)n, NULL, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR |
				XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!rd)
		return -ENOMEM;
	if (stream(&p, &w, rd) < 0)
		rc = xml_fail(&p, xml, n);
	else {
		finish(&p, &w);
		rc = w.rc;
	}
	xmlFreeTextReader(rd);
	if (rc)
		dmarc_report_deinit(out);
	return rc;
}

/* Free the strings of one auth result array. */
static void auths_free(struct dmarc_report_auth *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].domain);
		free(v[i].selector);
		free(v[i].scope);
		free(v[i].result);
	}
	free(v);
}

void dmarc_report_deinit(struct dmarc_report *r)
{
	size_t i;

	for (i = 0; i < r->n_rec; i++) {
		struct dmarc_report_record *o = &r->rec[i];

		free(o->disposition);
		free(o->dkim);
		free(o->spf);
		free(o->header_from);
		free(o->envelope_from);
		auths_free(o->dkim_auth, o->n_dkim_auth);
		auths_free(o->spf_auth, o->n_spf_auth);
	}
	free(r->rec);
	free(r->ns);
	free(r->org_name);
	free(r->email);
	free(r->report_id);
	free(r->domain);
	free(r->adkim);
	free(r->aspf);
	free(r->p);
	free(r->sp);
	free(r->np);
	free(r->testing);
	memset(r, 0, sizeof(*r));
	r->pct = -1;
}

const char *dmarc_report_strerror(int rc)
{
	switch (rc) {
	case DMARC_REPORT_OK: return "ok";
	case DMARC_REPORT_E_TOO_LARGE: return "too large";
	case DMARC_REPORT_E_XML: return "xml";
	case DMARC_REPORT_E_NOT_REPORT: return "not a report";
	case DMARC_REPORT_E_INVALID: return "invalid";
	case DMARC_REPORT_E_TOO_MANY: return "too many";
	case DMARC_REPORT_E_ARCHIVE: return "archive";
	case DMARC_REPORT_E_NO_REPORT: return "no report";
	default: return "error";
	}
}
