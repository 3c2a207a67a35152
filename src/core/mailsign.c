/*
 * mailsign - DKIM signing of one outbound message for the core's mail path
 * (inbound-internal.h), and `mamori dkim keygen` (core/inbound.h).
 *
 * The signer needs the From domain before it can start, and the From field
 * may come after other fields, so the header fields are kept (bare LF made
 * CRLF; at most OUT_HDR_MAX bytes, past that the message goes unsigned)
 * until the first body chunk or the end.  Then the From domain is taken
 * with dmarc_from_parse() (one field, one domain, else no signature), and
 * when the keyring has a key for it a signer is fed the kept fields and,
 * from then on, the body.  The kept fields also feed the correspondence
 * log (mailrec.c).
 *
 * Threading: one struct mailsign per message, one thread at a time; the
 * keyring is read-only and shared.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core-internal.h"
#include "core/inbound-internal.h"
#include "core/inbound.h"
#include "mail/dkim_sign.h"
#include "mail/dmarc.h"
#include "util/xalloc.h"

#define OUT_HDR_MAX (256 * 1024)	/* outbound header bytes kept to sign */
#define FROM_MAX 8			/* From fields looked at */

/* A header field kept for signing. */
struct ohdr {
	char *name, *value;
	size_t vlen;
};

struct mailsign {
	const struct dkim_keyring *kr;
	struct ohdr *hdrs;
	size_t nhdrs, hbytes;
	bool overflow;
	struct dkim_signer *signer;
	bool started;
	char err[256];
};

/* A new string with every bare LF of v[0..n) turned into CRLF. */
static char *crlf_dup(const char *v, size_t n, size_t *outn)
{
	char *o = xmalloc(2 * n + 1);
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (v[i] == '\n' && (i == 0 || v[i - 1] != '\r'))
			o[k++] = '\r';
		o[k++] = v[i];
	}
	o[k] = '\0';
	*outn = k;
	return o;
}

struct mailsign *mailsign_new(const struct dkim_keyring *kr)
{
	struct mailsign *s = xcalloc(1, sizeof(*s));

	s->kr = kr;
	return s;
}

void mailsign_free(struct mailsign *s)
{
	size_t i;

	if (!s)
		return;
	dkim_signer_free(s->signer);
	for (i = 0; i < s->nhdrs; i++) {
		free(s->hdrs[i].name);
		free(s->hdrs[i].value);
	}
	free(s->hdrs);
	free(s);
}

void mailsign_header(struct mailsign *s, const char *name,
		     const char *value, size_t vlen)
{
	struct ohdr *h;

	if (s->overflow || s->started)
		return;
	s->hbytes += strlen(name) + vlen;
	if (s->hbytes > OUT_HDR_MAX) {
		s->overflow = true;
		return;
	}
	s->hdrs = xrealloc(s->hdrs, (s->nhdrs + 1) * sizeof(*s->hdrs));
	h = &s->hdrs[s->nhdrs++];
	h->name = xstrdup(name);
	h->value = crlf_dup(value, vlen, &h->vlen);
}

const char *mailsign_field(const struct mailsign *s, size_t i,
			   const char **value, size_t *vlen)
{
	if (i >= s->nhdrs)
		return NULL;
	*value = s->hdrs[i].value;
	*vlen = s->hdrs[i].vlen;
	return s->hdrs[i].name;
}

/* The header is complete: start the signer once, if there is a key. */
static void start_signer(struct mailsign *s)
{
	const char *vals[FROM_MAX];
	size_t lens[FROM_MAX], i, n;
	struct dmarc_from f;

	if (s->started)
		return;
	s->started = true;
	if (s->overflow || !s->kr)
		return;
	for (i = 0, n = 0; i < s->nhdrs && n < FROM_MAX; i++)
		if (strcasecmp(s->hdrs[i].name, "From") == 0) {
			vals[n] = s->hdrs[i].value;
			lens[n++] = s->hdrs[i].vlen;
		}
	if (dmarc_from_parse(vals, lens, n, &f) != DMARC_FROM_OK ||
	    !dkim_keyring_has(s->kr, f.domain[0]))
		return;
	s->signer = dkim_signer_new(s->kr, f.domain[0], 0);
	for (i = 0; s->signer && i < s->nhdrs; i++)
		dkim_signer_header(s->signer, s->hdrs[i].name,
				   strlen(s->hdrs[i].name), s->hdrs[i].value,
				   s->hdrs[i].vlen);
}

void mailsign_body(struct mailsign *s, const void *p, size_t n)
{
	start_signer(s);
	if (s->signer)
		dkim_signer_body(s->signer, p, n);
}

void mailsign_end(struct mailsign *s, const char *const **sigs, size_t *n,
		  const char **error)
{
	*sigs = NULL;
	*n = 0;
	*error = NULL;
	start_signer(s);
	if (s->signer && dkim_signer_end(s->signer, sigs, n, s->err,
					 sizeof(s->err)) != 0)
		*error = s->err;
}

int core_dkim_keygen(const char *dir, const char *domain,
		     const char *selector, const char *type, bool force,
		     char **path, char **txt, char *err, size_t errsz)
{
	int r = dkim_keygen_file(dir, domain, selector, type,
				 force ? DKIM_KEYGEN_FORCE : 0, path, txt, err,
				 errsz);

	return r == DKIM_SIGN_E_EXISTS ? CORE_DKIM_E_EXISTS : r;
}

void core_set_mail(struct core *c, struct core_mail *cm)
{
	c->mail = cm;
}

enum core_dkim_state core_dkim_key_state(struct core *c, const char *domain,
					 const char *selector)
{
	return core_mail_key_state(c->mail, domain, selector);
}
