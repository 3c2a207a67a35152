/*
 * test_b64 - a file of a test's temporary directory in base64, for the
 * unit tests that attach archives they build at run time (test_sh.h) to
 * messages.  Header-only, with GLib's encoder.
 */
#ifndef MAMORI_TEST_B64_H
#define MAMORI_TEST_B64_H

#include <stdio.h>
#include <string.h>

#include <glib.h>

/*
 * The file name of dir in base64: in lines of wrap characters, each ended
 * by CRLF (RFC 2045 6.8 allows 76), or one line without an end when wrap
 * is 0.  A new string (g_free), or NULL when the file cannot be read.
 */
__attribute__((unused)) static gchar *test_b64_file(const char *dir,
						    const char *name,
						    size_t wrap)
{
	char path[4200];
	gchar *p = NULL, *b;
	gsize n = 0;
	GString *s;
	size_t i, len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!g_file_get_contents(path, &p, &n, NULL))
		return NULL;
	b = g_base64_encode((const guchar *)p, n);
	g_free(p);
	if (!wrap)
		return b;
	s = g_string_new(NULL);
	len = strlen(b);
	for (i = 0; i < len; i += wrap) {
		g_string_append_len(s, b + i, (gssize)(len - i < wrap ?
						       len - i : wrap));
		g_string_append(s, "\r\n");
	}
	g_free(b);
	return g_string_free(s, FALSE);
}

#endif
