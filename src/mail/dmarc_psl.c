/*
 * dmarc_psl - Organizational Domain from the Public Suffix List (RFC 7489
 * 3.2), through libpsl.
 *
 * RFC 9989 replaced the PSL with the DNS Tree Walk; mamori keeps this for
 * RFC 7489 mode and for comparing the two (docs/design/dmarc.md).  The
 * list is loaded from a file (Debian's publicsuffix package, or the copy
 * in the shared corpora in tests), not libpsl's built-in snapshot, so the
 * data is the one the operator updates.  Both the ICANN and the private
 * sections count, as RFC 7489 3.2 uses the whole list (foo.github.io is
 * its own Organizational Domain).
 *
 * Input is lowercased in ASCII here; U-labels are passed to libpsl as
 * UTF-8 (it matches them against the rules, which it holds in both
 * forms).  A name with an empty label (leading dot, "a..b") has no
 * Organizational Domain.  The context is read-only after load and may be
 * shared between threads.
 */
#include <libpsl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/dmarc.h"
#include "util/xalloc.h"

#define PSL_SYSTEM "/usr/share/publicsuffix/public_suffix_list.dat"

struct dmarc_psl {
	psl_ctx_t *ctx;
};

struct dmarc_psl *dmarc_psl_load(const char *path)
{
	struct dmarc_psl *p;
	psl_ctx_t *ctx = psl_load_file(path ? path : PSL_SYSTEM);

	if (ctx == NULL)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->ctx = ctx;
	return p;
}

void dmarc_psl_free(struct dmarc_psl *psl)
{
	if (psl == NULL)
		return;
	psl_free(psl->ctx);
	free(psl);
}

int dmarc_psl_org_domain(const struct dmarc_psl *psl, const char *domain,
			 char *out, size_t outsz)
{
	char low[DMARC_DOMAIN_MAX];
	const char *reg;
	size_t i, n;

	if (domain == NULL || outsz == 0)
		return -1;
	n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(low) || domain[0] == '.')
		return -1;
	for (i = 0; i < n; i++) {
		char c = domain[i];

		if (c == '.' && domain[i + 1] == '.')
			return -1;
		low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	low[n] = '\0';
	reg = psl_registrable_domain(psl->ctx, low);
	if (reg == NULL || strlen(reg) >= outsz)
		return -1;
	memcpy(out, reg, strlen(reg) + 1);
	return 0;
}

bool dmarc_psl_is_listed_suffix(const struct dmarc_psl *psl,
				const char *suffix)
{
	return psl_is_public_suffix2(psl->ctx, suffix,
				     PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
}

bool dmarc_psl_aligned(const struct dmarc_psl *psl, const char *a,
		       const char *b, bool strict)
{
	char oa[DMARC_DOMAIN_MAX], ob[DMARC_DOMAIN_MAX];
	size_t na, nb;

	if (a == NULL || b == NULL)
		return false;
	na = strlen(a);
	nb = strlen(b);
	if (na && a[na - 1] == '.')
		na--;
	if (nb && b[nb - 1] == '.')
		nb--;
	if (na != 0 && na == nb && strncasecmp(a, b, na) == 0)
		return true;
	if (strict)
		return false;
	if (dmarc_psl_org_domain(psl, a, oa, sizeof(oa)) != 0 ||
	    dmarc_psl_org_domain(psl, b, ob, sizeof(ob)) != 0)
		return false;
	return strcmp(oa, ob) == 0;
}
