/*
 * config-internal - the settings table's types, shared by config_table.c
 * (the table) and config.c (its parser, loader and printer); not for other
 * files.  The table is constant data: any thread, program lifetime.
 */
#ifndef MAMORI_CONFIG_INTERNAL_H
#define MAMORI_CONFIG_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

enum cfg_type {
	CFG_STR,
	CFG_INT,
	CFG_TIME,
	CFG_BOOL,
	CFG_ENUM,	/* int index into choices, "a|b|c" */
};

struct cfg_param {
	const char *name;
	enum cfg_type type;
	const char *def;
	long min, max;
	bool reloadable;
	size_t off;
	const char *choices;
	const char *help;
};

#define CFG_BIG LONG_MAX	/* no upper bound (config_doc: max 0) */

/* The global settings, then those of a [class NAME] section, in the order
 * config -d prints them. */
extern const struct cfg_param config_global_params[];
extern const size_t config_nglobal;
extern const struct cfg_param config_class_params[];
extern const size_t config_nclass;

#endif
