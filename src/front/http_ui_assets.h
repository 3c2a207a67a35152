/*
 * http_ui_assets - the admin web UI's files (www/), built into mamorid by
 * scripts/embed-www.py; a table ending with a NULL name.
 */
#ifndef MAMORI_HTTP_UI_ASSETS_H
#define MAMORI_HTTP_UI_ASSETS_H

#include <stddef.h>

struct http_ui_asset {
	const char *name;		/* under /ui/, e.g. "app.js" */
	const char *ctype;
	const unsigned char *data;
	size_t len;
};

extern const struct http_ui_asset http_ui_assets[];

#endif
