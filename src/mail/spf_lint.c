/*
 * spf_lint - what a domain owner's check needs to know about one SPF
 * record, without I/O (RFC 7208 4.6.4, 5, 5.5, 6.1).
 *
 * spf_lint() parses the record with the evaluator's own parser
 * (spf_record.c), so what it calls a syntax error is exactly what a
 * receiver running mamori calls permerror, and then lists what the record
 * would make a receiver look up: the terms that count toward the limit of
 * 10 (include, a, mx, ptr, exists, redirect), the include and redirect
 * targets to walk, and the names a, mx and exists would query (the void
 * look-up limit).  Targets holding macros depend on the sender and are
 * counted, not listed; a redirect beside an all is ignored, as 6.1
 * says evaluators do.  Limits: SPF_LINT_NAMES targets of each kind are
 * kept (a record naming more is over the lookup limit anyway).
 */
#include <string.h>

#include "mail/spf-internal.h"

/* Copy a literal domain-spec; false if it holds a macro or is too long. */
static bool copy_name(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (strchr(src, '%') || n >= SPF_LINT_NAME_MAX)
		return false;
	memcpy(dst, src, n + 1);
	if (n && dst[n - 1] == '.')
		dst[n - 1] = '\0';
	return true;
}

int spf_lint(const char *text, size_t len, struct spf_lint *out, char *err,
	     size_t errsz)
{
	struct spf_record rec;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!spf_record_is_spf(text, len))
		return 1;
	if (spf_record_parse(text, len, &rec, err, errsz) < 0)
		return -1;
	for (i = 0; i < rec.n; i++) {
		const struct spf_term *t = &rec.t[i];
		char kind = 0;

		switch (t->mech) {
		case SPF_M_ALL:
			if (!out->all)
				out->all = t->qual == SPF_PASS ? '+' :
					   t->qual == SPF_FAIL ? '-' :
					   t->qual == SPF_SOFTFAIL ? '~' : '?';
			continue;
		case SPF_M_INCLUDE:
			out->dns_terms++;
			if (out->ninclude < SPF_LINT_NAMES &&
			    copy_name(out->include[out->ninclude], t->domain))
				out->ninclude++;
			else
				out->nskipped++;
			continue;
		case SPF_M_PTR:
			out->dns_terms++;
			out->ptr++;
			continue;
		case SPF_M_A:
			kind = 'a';
			break;
		case SPF_M_MX:
			kind = 'm';
			break;
		case SPF_M_EXISTS:
			kind = 'e';
			break;
		default:
			continue;
		}
		out->dns_terms++;
		if (out->nquery < SPF_LINT_NAMES &&
		    (!t->domain ||
		     copy_name(out->query[out->nquery].name, t->domain))) {
			out->query[out->nquery].kind = kind;
			out->nquery++;
		} else {
			out->nskipped++;
		}
	}
	/* 6.1: redirect is ignored when the record has an all */
	if (rec.redirect && !out->all) {
		out->dns_terms++;
		if (!copy_name(out->redirect, rec.redirect)) {
			out->redirect[0] = '\0';
			out->nskipped++;
		}
		out->has_redirect = true;
	}
	spf_record_deinit(&rec);
	return 0;
}
