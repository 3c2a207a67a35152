/*
 * acctmap - per-account classes and overrides from account_map.
 *
 * File format, one account a line, '#' comments:
 *
 *   newsletter@shop.example  class=bulk  msgs_per_hour=5000
 *   alice@example.com        contact=alice.backup@example.net
 *
 * class= picks a [class NAME] from the config (default: "default"); any other
 * class parameter overrides it for this account only; contact= is the
 * alternate address notices also go to.  A bad line fails the whole load
 * (the daemon keeps its previous map on reload) with file:line in err; so
 * does a line over 4,095 bytes, which is not read as two.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core-internal.h"
#include "util/xalloc.h"

struct acctmap {
	struct account_override *v;
	size_t n, cap;
};

/* Parse one line's fields into o; -1 with err on a bad field. */
static int parse_fields(const struct config *cfg, char *s,
			struct account_override *o, char *err, size_t errsz)
{
	char *tok, *save = NULL;
	const struct class_config *base = &cfg->classes[0];

	/* First pass: class=, so overrides apply on top of it. */
	for (tok = s; (tok = strstr(tok, "class=")); tok += 6) {
		if (tok == s || isspace((unsigned char)tok[-1])) {
			char name[CONFIG_NAME_MAX];
			size_t n = strcspn(tok + 6, " \t");

			snprintf(name, sizeof(name), "%.*s", (int)n, tok + 6);
			base = config_class(cfg, name);
			if (!base) {
				snprintf(err, errsz, "no [class %s] in the config",
					 name);
				return -1;
			}
			break;
		}
	}
	o->cl = *base;
	for (tok = strtok_r(s, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			snprintf(err, errsz, "expected name=value, got \"%s\"",
				 tok);
			return -1;
		}
		*eq = '\0';
		if (strcmp(tok, "class") == 0)
			continue;
		if (strcmp(tok, "contact") == 0) {
			free(o->contact);
			o->contact = xstrdup(eq + 1);
			continue;
		}
		if (config_class_set(&o->cl, tok, eq + 1, err, errsz) != 0)
			return -1;
	}
	return 0;
}

/* Read the map from f; name is the file for messages.  NULL with err. */
static struct acctmap *load_stream(const struct config *cfg, FILE *f,
				   const char *name, char *err, size_t errsz)
{
	struct acctmap *m = xcalloc(1, sizeof(*m));
	char line[4096], e[256];
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		char *s = line, *end;
		size_t n;
		struct account_override o;

		lineno++;
		/* A longer line would go on as a line of its own. */
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errsz, "%s:%d: line too long", name,
				 lineno);
			acctmap_free(m);
			return NULL;
		}
		s[strcspn(s, "\r\n")] = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		n = strcspn(s, " \t");
		end = s + n;
		memset(&o, 0, sizeof(o));
		o.login = xstrndup(s, n);
		if (parse_fields(cfg, end, &o, e, sizeof(e)) != 0) {
			snprintf(err, errsz, "%s:%d: %s", name, lineno, e);
			free(o.login);
			free(o.contact);
			acctmap_free(m);
			return NULL;
		}
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 16;
			m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
		}
		m->v[m->n++] = o;
	}
	return m;
}

struct acctmap *acctmap_load(const struct config *cfg, char *err,
			     size_t errsz)
{
	struct acctmap *m;
	FILE *f;

	if (!cfg->account_map[0])
		return xcalloc(1, sizeof(struct acctmap));
	f = fopen(cfg->account_map, "r");
	if (!f) {
		snprintf(err, errsz, "account_map %s: %s", cfg->account_map,
			 strerror(errno));
		return NULL;
	}
	m = load_stream(cfg, f, cfg->account_map, err, errsz);
	fclose(f);
	return m;
}

struct acctmap *acctmap_load_buffer(const struct config *cfg,
				    const char *buf, size_t n, char *err,
				    size_t errsz)
{
	struct acctmap *m;
	FILE *f;

	if (n == 0)
		return xcalloc(1, sizeof(struct acctmap));
	if (!(f = fmemopen((void *)buf, n, "r"))) {
		snprintf(err, errsz, "account map buffer: %s", strerror(errno));
		return NULL;
	}
	m = load_stream(cfg, f, "(buffer)", err, errsz);
	fclose(f);
	return m;
}

void acctmap_free(struct acctmap *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->v[i].login);
		free(m->v[i].contact);
	}
	free(m->v);
	free(m);
}

const struct account_override *acctmap_find(const struct acctmap *m,
					    const char *login)
{
	size_t i;

	/* Linear: the map lists the exceptions (bulk senders), not every
	 * account; a hash comes when someone has thousands. */
	for (i = 0; m && i < m->n; i++)
		if (strcasecmp(m->v[i].login, login) == 0)
			return &m->v[i];
	return NULL;
}
