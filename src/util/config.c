/*
 * config - the configuration's parser and loader (a file or a buffer,
 * two passes so that a late [class default] still seeds every class,
 * then validation), class lookup, and postconf-style printing (config -d,
 * -n) and documentation of the settings.  The settings themselves (name,
 * type, default, bounds, reloadable, help) are the declarative table in
 * config_table.c.  See config.h.
 *
 * Lifetime: a loaded config belongs to its caller, who frees it with
 * config_free; a reload loads a new one.  Threading: no shared state but
 * config_doc_get's static buffer (one caller at a time).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/config-internal.h"
#include "util/config.h"
#include "util/xalloc.h"

long config_parse_time(const char *s)
{
	char *end;
	long v, mul = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || v < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 7 * 86400; break;
	default: return -1;
	}
	if (*end && end[1] != '\0')
		return -1;
	if (v > LONG_MAX / mul)
		return -1;
	return v * mul;
}

/* Index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value)
{
	size_t n = strlen(value);
	int i = 0;
	const char *p = choices;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncasecmp(p, value, n) == 0)
			return i;
		i++;
		if (!bar)
			break;
		p = bar + 1;
	}
	return -1;
}

static const char *param_choices(const struct cfg_param *p)
{
	return p->choices ? p->choices : "";
}

/* Parse value into the field of base described by p. */
static int param_set(const struct cfg_param *p, void *base, const char *value,
		     char *err, size_t errsz)
{
	char *field = (char *)base + p->off;
	char *end;
	long v;
	int i;

	switch (p->type) {
	case CFG_STR:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CFG_BOOL:
		if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") ||
		    !strcmp(value, "1")) {
			*(bool *)field = true;
		} else if (!strcasecmp(value, "no") ||
			   !strcasecmp(value, "false") || !strcmp(value, "0")) {
			*(bool *)field = false;
		} else {
			snprintf(err, errsz, "%s: expected yes or no, got \"%s\"",
				 p->name, value);
			return -1;
		}
		return 0;
	case CFG_ENUM:
		i = choice_index(param_choices(p), value);
		if (i < 0) {
			snprintf(err, errsz, "%s: expected one of %s, got \"%s\"",
				 p->name, param_choices(p), value);
			return -1;
		}
		*(int *)field = i;
		return 0;
	case CFG_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end) {
			snprintf(err, errsz, "%s: expected a number, got \"%s\"",
				 p->name, value);
			return -1;
		}
		break;
	case CFG_TIME:
		v = config_parse_time(value);
		if (v < 0) {
			snprintf(err, errsz,
				 "%s: expected a time like 30s, 10m, 2h, 7d, got \"%s\"",
				 p->name, value);
			return -1;
		}
		break;
	default:
		return -1;
	}
	if (v < p->min || (p->max && v > p->max)) {
		snprintf(err, errsz, "%s: %ld is outside %ld..%ld", p->name, v,
			 p->min, p->max);
		return -1;
	}
	*(long *)field = v;
	return 0;
}

/* Render the field's current value into out. */
static void param_get(const struct cfg_param *p, const void *base, char *out,
		      size_t outsz)
{
	const char *field = (const char *)base + p->off;
	const char *ch;
	int i, idx;

	switch (p->type) {
	case CFG_STR:
		snprintf(out, outsz, "%s", *(char *const *)field ?
			 *(char *const *)field : "");
		break;
	case CFG_BOOL:
		snprintf(out, outsz, "%s", *(const bool *)field ? "yes" : "no");
		break;
	case CFG_ENUM:
		idx = *(const int *)field;
		ch = param_choices(p);
		for (i = 0; i < idx && ch; i++) {
			ch = strchr(ch, '|');
			if (ch)
				ch++;
		}
		if (!ch)
			ch = "";
		snprintf(out, outsz, "%.*s", (int)strcspn(ch, "|"), ch);
		break;
	case CFG_INT:
	case CFG_TIME:
		snprintf(out, outsz, "%ld", *(const long *)field);
		break;
	}
}

static const struct cfg_param *find_param(const struct cfg_param *t, size_t n,
					  const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

static void apply_defaults(const struct cfg_param *t, size_t n, void *base)
{
	char err[256];
	size_t i;

	for (i = 0; i < n; i++) {
		int r = param_set(&t[i], base, t[i].def, err, sizeof(err));

		(void)r;
	}
}

static void class_copy(struct class_config *dst, const struct class_config *src,
		       const char *name)
{
	*dst = *src;
	snprintf(dst->name, sizeof(dst->name), "%s", name);
}

static struct class_config *class_get_or_add(struct config *c, const char *name)
{
	int i;

	for (i = 0; i < c->nclasses; i++)
		if (strcmp(c->classes[i].name, name) == 0)
			return &c->classes[i];
	if (c->nclasses == CONFIG_MAX_CLASSES)
		return NULL;
	class_copy(&c->classes[c->nclasses], &c->classes[0], name);
	return &c->classes[c->nclasses++];
}

const struct class_config *config_class(const struct config *c, const char *name)
{
	int i;

	for (i = 0; i < c->nclasses; i++)
		if (strcmp(c->classes[i].name, name) == 0)
			return &c->classes[i];
	return NULL;
}

int config_class_set(struct class_config *cl, const char *name,
		     const char *value, char *err, size_t errsz)
{
	const struct cfg_param *p = find_param(config_class_params, config_nclass, name);

	if (!p) {
		snprintf(err, errsz, "unknown class parameter \"%s\"", name);
		return -1;
	}
	return param_set(p, cl, value, err, errsz);
}

/* A config line, newline included; a value printed back (config -n) fits
 * the same buffer, so what a file can set is printed whole. */
#define CFG_LINE_MAX 4096

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static struct config *config_defaults(void)
{
	struct config *c = xcalloc(1, sizeof(*c));

	apply_defaults(config_global_params, config_nglobal, c);
	apply_defaults(config_class_params, config_nclass, &c->classes[0]);
	snprintf(c->classes[0].name, sizeof(c->classes[0].name), "default");
	c->nclasses = 1;
	return c;
}

/*
 * Class sections are applied after the default class is complete, so that a
 * [class default] section appearing late still seeds every other class.
 * We therefore parse in two passes: globals and [class default] first, then
 * the remaining sections.
 */
static int parse_file(struct config *c, FILE *f, const char *path, int pass,
		      char *err, size_t errsz)
{
	char line[CFG_LINE_MAX], e[256];
	char section[CONFIG_NAME_MAX] = "";
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *name, *value;
		const struct cfg_param *p;
		bool in_default;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errsz, "%s:%d: line too long", path, lineno);
			return -1;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			char *nm;

			if (!close || strncmp(s, "[class", 6) != 0 ||
			    !isspace((unsigned char)s[6])) {
				snprintf(err, errsz,
					 "%s:%d: expected [class NAME]", path,
					 lineno);
				return -1;
			}
			*close = '\0';
			nm = trim(s + 7);
			if (*nm == '\0' || strlen(nm) >= CONFIG_NAME_MAX ||
			    strspn(nm, "abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
			    strlen(nm)) {
				snprintf(err, errsz, "%s:%d: bad class name",
					 path, lineno);
				return -1;
			}
			snprintf(section, sizeof(section), "%s", nm);
			if (pass == 2 && !class_get_or_add(c, section)) {
				snprintf(err, errsz, "%s:%d: too many classes",
					 path, lineno);
				return -1;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errsz, "%s:%d: expected name = value",
				 path, lineno);
			return -1;
		}
		*eq = '\0';
		name = trim(s);
		value = trim(eq + 1);
		in_default = strcmp(section, "default") == 0;
		if (section[0] == '\0') {
			/* The old name of policy_max_connections. */
			if (strcmp(name, "max_connections") == 0)
				name = "policy_max_connections";
			p = find_param(config_global_params, config_nglobal, name);
			if (!p) {
				snprintf(err, errsz, "%s:%d: unknown parameter \"%s\"%s",
					 path, lineno, name,
					 find_param(config_class_params, config_nclass, name) ?
					 " (a class parameter: put it under [class default])" : "");
				return -1;
			}
			if (pass == 1 && param_set(p, c, value, e, sizeof(e))) {
				snprintf(err, errsz, "%s:%d: %s", path, lineno, e);
				return -1;
			}
			continue;
		}
		p = find_param(config_class_params, config_nclass, name);
		if (!p) {
			snprintf(err, errsz, "%s:%d: unknown class parameter \"%s\"",
				 path, lineno, name);
			return -1;
		}
		if ((pass == 1 && in_default) || (pass == 2 && !in_default)) {
			struct class_config *cl = in_default ? &c->classes[0] :
				class_get_or_add(c, section);

			if (param_set(p, cl, value, e, sizeof(e))) {
				snprintf(err, errsz, "%s:%d: %s", path, lineno, e);
				return -1;
			}
		}
	}
	return 0;
}

static int validate(struct config *c, char *err, size_t errsz)
{
	int i;

	if (c->api_tcp_listen[0] && !c->api_token[0]) {
		snprintf(err, errsz, "api_tcp_listen requires api_token");
		return -1;
	}
	if (strcmp(c->notify_language, "ja") && strcmp(c->notify_language, "en") &&
	    strcmp(c->notify_language, "ja+en")) {
		snprintf(err, errsz, "notify_language: expected ja, en or ja+en, got \"%s\"",
			 c->notify_language);
		return -1;
	}
	if (strncmp(c->store, "sqlite:", 7) && strcmp(c->store, "memory:") &&
	    strncmp(c->store, "redis:", 6) &&
	    strncmp(c->store, "redis-sentinel:", 15)) {
		snprintf(err, errsz,
			 "store: unknown type in \"%s\" (sqlite:PATH, memory:, "
			 "redis:... or redis-sentinel:...)", c->store);
		return -1;
	}
	for (i = 0; i < c->nclasses; i++) {
		struct class_config *cl = &c->classes[i];

		if (cl->score_throttle > cl->score_restrict) {
			snprintf(err, errsz,
				 "class %s: score_throttle %ld exceeds score_restrict %ld",
				 cl->name, cl->score_throttle, cl->score_restrict);
			return -1;
		}
	}
	return 0;
}

/* config_load() from the file at path, or from buf[0..n) if buf is set. */
static struct config *load(const char *path, const char *buf, size_t n,
			   char *err, size_t errsz)
{
	struct config *c = config_defaults();
	int pass;

	if (path && (!buf || n > 0)) {
		for (pass = 1; pass <= 2; pass++) {
			FILE *f = buf ? fmemopen((void *)buf, n, "r") :
				  fopen(path, "r");
			int r;

			if (!f) {
				snprintf(err, errsz, "%s: %s", path, strerror(errno));
				config_free(c);
				return NULL;
			}
			r = parse_file(c, f, path, pass, err, errsz);
			fclose(f);
			if (r) {
				config_free(c);
				return NULL;
			}
		}
		if (!buf)
			c->path = xstrdup(path);
	}
	if (validate(c, err, errsz)) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct config *config_load(const char *path, char *err, size_t errsz)
{
	return load(path, NULL, 0, err, errsz);
}

struct config *config_load_buffer(const char *buf, size_t n,
				  const char *name, char *err, size_t errsz)
{
	return load(name ? name : "(buffer)", buf ? buf : "", n, err, errsz);
}

void config_free(struct config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < config_nglobal; i++)
		if (config_global_params[i].type == CFG_STR)
			free(*(char **)((char *)c + config_global_params[i].off));
	free(c->path);
	free(c);
}

/* A setting that holds a credential (api_token, webhook_secret): named
 * *_token or *_secret.  Passwords live in files (*_password_file), whose
 * names are not secret. */
static bool param_secret(const char *name)
{
	size_t n = strlen(name);

	return (n > 6 && strcmp(name + n - 6, "_token") == 0) ||
	       (n > 7 && strcmp(name + n - 7, "_secret") == 0);
}

/* "name = v", or for a credential without secrets a comment saying it is
 * set: the line does not load back as a value, so a copied config fails
 * loudly (api_tcp_listen needs api_token) instead of holding a mask. */
static void print_value(FILE *out, const char *name, const char *v,
			bool secrets)
{
	if (!secrets && param_secret(name) && v[0] != '\0')
		fprintf(out, "# %s = (set, %zu bytes; config -n --show-secrets "
			"prints it)\n", name, strlen(v));
	else
		fprintf(out, "%s = %s\n", name, v);
}

static void print_table(FILE *out, const struct cfg_param *t, size_t n,
			const void *base, const void *defbase, bool help,
			bool secrets)
{
	char v[CFG_LINE_MAX], d[CFG_LINE_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		param_get(&t[i], base, v, sizeof(v));
		if (defbase) {
			param_get(&t[i], defbase, d, sizeof(d));
			if (strcmp(v, d) == 0)
				continue;
		}
		if (help)
			fprintf(out, "# %s\n", t[i].help);
		print_value(out, t[i].name, v, secrets);
	}
}

void config_print_defaults(FILE *out)
{
	struct config *c = config_defaults();

	print_table(out, config_global_params, config_nglobal, c, NULL, true,
		    true);
	fprintf(out, "\n[class default]\n");
	print_table(out, config_class_params, config_nclass, &c->classes[0], NULL,
		    true, true);
	config_free(c);
}

void config_print_nondefaults(const struct config *c, FILE *out,
			      bool secrets)
{
	struct config *d = config_defaults();
	int i;

	print_table(out, config_global_params, config_nglobal, c, d, false,
		    secrets);
	for (i = 0; i < c->nclasses; i++) {
		const struct class_config *base = i == 0 ? &d->classes[0] :
			&c->classes[0];
		char v[CFG_LINE_MAX], dv[CFG_LINE_MAX];
		size_t k;
		bool any = false;

		for (k = 0; k < config_nclass; k++) {
			param_get(&config_class_params[k], &c->classes[i], v, sizeof(v));
			param_get(&config_class_params[k], base, dv, sizeof(dv));
			if (strcmp(v, dv) == 0)
				continue;
			if (!any)
				fprintf(out, "\n[class %s]\n", c->classes[i].name);
			any = true;
			print_value(out, config_class_params[k].name, v,
				    secrets);
		}
		if (!any && i > 0)
			fprintf(out, "\n[class %s]\n", c->classes[i].name);
	}
	config_free(d);
}

bool config_doc_get(size_t i, struct config_doc *doc)
{
	static char def[CFG_LINE_MAX];
	static const char *const types[] = {
		[CFG_STR] = "string", [CFG_INT] = "integer",
		[CFG_TIME] = "time", [CFG_BOOL] = "boolean",
	};
	const struct cfg_param *p;
	struct config *c;

	if (i >= config_nglobal + config_nclass)
		return false;
	p = i < config_nglobal ? &config_global_params[i] : &config_class_params[i - config_nglobal];
	c = config_defaults();
	param_get(p, i < config_nglobal ? (const void *)c : &c->classes[0], def,
		  sizeof(def));
	config_free(c);
	*doc = (struct config_doc){
		.name = p->name, .def = def, .help = p->help, .min = p->min,
		.max = p->max == CFG_BIG ? 0 : p->max,
		.reloadable = p->reloadable, .in_class = i >= config_nglobal,
		.type = p->type == CFG_ENUM ? param_choices(p) : types[p->type],
	};
	return true;
}

bool config_list_has(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p = list;

	while (*p) {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == n && len && strncasecmp(p, item, n) == 0)
			return true;
		p += len;
	}
	return false;
}
