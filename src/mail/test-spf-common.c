/*
 * test-spf-common - helpers shared by the SPF suite drivers.  See
 * spf_testlib.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

int spft_num(const char *s)
{
	long v = strtol(s, NULL, 10);

	return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

int spft_split(char *line, char **f, int max)
{
	int n = 0;
	char *p = line, *tab;

	line[strcspn(line, "\n")] = '\0';
	while (n < max) {
		tab = strchr(p, '\t');
		if (tab)
			*tab = '\0';
		f[n++] = p;
		if (!tab)
			break;
		p = tab + 1;
	}
	return n;
}

size_t spft_unescape(char *s)
{
	size_t i = 0, o = 0;

	while (s[i]) {
		if (s[i] != '\\' || !s[i + 1]) {
			s[o++] = s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 't': s[o++] = '\t'; i += 2; break;
		case 'n': s[o++] = '\n'; i += 2; break;
		case 'r': s[o++] = '\r'; i += 2; break;
		case 'x': {
			/* At most two digits, never past the end. */
			char h[3] = { s[i + 2], s[i + 2] ? s[i + 3] : 0, 0 };

			s[o++] = (char)strtoul(h, NULL, 16);
			i += 2 + strlen(h);
			break;
		}
		default: s[o++] = s[i + 1]; i += 2; break;
		}
	}
	s[o] = '\0';
	return o;
}
