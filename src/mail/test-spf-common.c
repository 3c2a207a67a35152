/*
 * test-spf-common - helpers shared by the SPF suite drivers.  See
 * spf_testlib.h.
 */
#include <stdio.h>
#include <string.h>

#include "mail/spf_testlib.h"
#include "util/xalloc.h"

void spft_on_done(void *arg, struct spf *s)
{
	struct outcome *o = arg;
	const char *e = spf_explanation(s);

	o->done = true;
	o->r = spf_result(s);
	o->exp = e ? xstrdup(e) : NULL;
	snprintf(o->reason, sizeof(o->reason), "%s", spf_reason(s));
}

bool spft_result_in(enum spf_result r, const char *list)
{
	const char *name = spf_result_name(r), *p = list;
	size_t n = strlen(name);

	while (*p) {
		size_t k = strcspn(p, ",");

		if (k == n && strncmp(p, name, n) == 0)
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}
