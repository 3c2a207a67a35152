/*
 * mamori_out - what the mamori CLI prints for people: JSON scalars as text,
 * tables, CSV, all escaped.
 *
 * Logins, senders and messages come from mamorid and much of it from
 * attackers.  Everything printed goes through utf8_escape(UTF8_ESC_SHOW)
 * (util/buf.h): control bytes (ESC, CR, LF, BEL, DEL, C1) and invalid UTF-8
 * become \xNN, valid UTF-8 stays as it is.  The escaping is idempotent, so
 * a cell escaped by cli_json_text() and again by cli_table_add() reads the
 * same.  See mamori.h for the functions.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/mamori.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* s with control bytes and invalid UTF-8 escaped; free() the result. */
static char *show_dup(const char *s, size_t n)
{
	struct buf b;

	buf_init(&b, 4 * n + 1);
	/* Cannot fail: the output takes at most 4 * n bytes. */
	(void)utf8_escape(&b, s, n, UTF8_ESC_SHOW);
	return b.p ? buf_steal(&b) : xstrdup("");
}

const char *cli_show(const char *s, char *out, size_t outsz)
{
	char *e = show_dup(s, strlen(s));

	snprintf(out, outsz, "%s", e);
	free(e);
	return out;
}

void cli_write_shown(FILE *f, const char *p, size_t n)
{
	char *e = show_dup(p, n);

	fputs(e, f);
	free(e);
}

void cli_write_csv(FILE *f, const char *p, size_t n)
{
	size_t i = 0, start;
	bool quoted = false;

	while (i < n) {
		/* A field's bytes up to a separator outside quotes. */
		for (start = i; i < n; i++) {
			if (p[i] == '"')
				quoted = !quoted;	/* "" toggles twice */
			else if (!quoted && (p[i] == '\n' ||
					     (p[i] == '\r' && i + 1 < n &&
					      p[i + 1] == '\n')))
				break;
		}
		cli_write_shown(f, p + start, i - start);
		if (i < n && p[i] == '\r') {
			fputs("\r\n", f);
			i += 2;
		} else if (i < n) {
			fputc('\n', f);
			i++;
		}
	}
}

/* A JSON scalar as text into out; "-" for null or absent. */
const char *cli_json_text(const json_t *v, char *out, size_t outsz)
{
	if (!v || json_is_null(v))
		snprintf(out, outsz, "-");
	else if (json_is_string(v))
		cli_show(json_string_value(v), out, outsz);
	else if (json_is_integer(v))
		snprintf(out, outsz, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, outsz, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(out, outsz, "%s", json_is_true(v) ? "true" : "false");
	else
		snprintf(out, outsz, "%s", json_is_array(v) ? "[...]" : "{...}");
	return out;
}

/* A unix time as ISO 8601 UTC; "-" for 0, null or absent; text as is. */
const char *cli_json_time(const json_t *v, char *out, size_t outsz)
{
	struct tm tm;
	time_t t;

	if (!json_is_number(v))
		return cli_json_text(v, out, outsz);
	t = (time_t)json_number_value(v);
	if (t <= 0 || !gmtime_r(&t, &tm)) {
		snprintf(out, outsz, "-");
		return out;
	}
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

/* The first member of o among the NULL-terminated names. */
json_t *cli_json_get_any(const json_t *o, const char *const *names)
{
	json_t *v;

	for (; *names; names++)
		if ((v = json_object_get(o, *names)))
			return v;
	return NULL;
}

/* Add one row of ncols cells (copied). */
void cli_table_add(struct cli_table *t, const char *const *row)
{
	int i;

	t->cells = xrealloc(t->cells, sizeof(char *) *
			    (size_t)(t->nrows + 1) * (size_t)t->ncols);
	for (i = 0; i < t->ncols; i++) {
		size_t n = strlen(row[i]);

		/* Every cell shown escaped, whatever filled it. */
		t->cells[t->nrows * t->ncols + i] = show_dup(row[i], n);
		n = strlen(t->cells[t->nrows * t->ncols + i]);
		if (n > t->width[i])
			t->width[i] = n;
	}
	t->nrows++;
}

/* Print the table and free its cells. */
void cli_table_print(struct cli_table *t)
{
	int r, i;

	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			char *s = t->cells[r * t->ncols + i];

			if (i == t->ncols - 1)
				printf("%s\n", s);
			else
				printf("%-*s  ", (int)t->width[i], s);
			free(s);
		}
	}
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}
