/*
 * mime_charset - text of any charset made UTF-8 for the MIME summary
 * (mime.c; the interface is mime-internal.h): declared charsets through
 * iconv, ISO-8859-1 and windows-1252 through tables made from iconv, and
 * undeclared 8-bit text as GMime's fallback guess over
 * MIME_FALLBACK_CHARSETS (mime.h) would read it, without converting the
 * whole text once per charset.
 *
 * Limits: none of its own; the callers bound the text (MIME_MAX_TEXT,
 * MIME_MAX_HTML, MIME_MAX_FIELD).  Threading: mime_charset_init runs once
 * (under mime_init's pthread_once); after it every table is read-only and
 * every function may run in any thread.  Results are g_malloc'd.
 */
#include "mail/mime-internal.h"

#include <errno.h>
#include <iconv.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mail/mime.h"

/*
 * Charsets whose glibc converter modules stay loaded.  glibc unloads a
 * gconv module (dlclose) once no descriptor uses it, and the next
 * iconv_open loads it again (dlopen, under the dynamic linker's global
 * lock): ~8% of a parse, and a lock every milter worker waits on.  One
 * descriptor per module, opened here and never closed, keeps each loaded.
 * The list: what mail declares most (and the fallbacks of mime.h).
 */
static const char *const pinned_charsets[] = {
	"ISO-8859-1", "WINDOWS-1252", "ISO-8859-15", "ISO-8859-2",
	"EUC-JP", "CP932", "SHIFT_JIS", "ISO-2022-JP", "EUC-KR", "GB18030",
	"BIG5", "KOI8-R", "WINDOWS-1251", "UTF-16", "UTF-7",
};

/* The pinned descriptors, never closed (kept reachable for leak checkers). */
static iconv_t pinned[sizeof(pinned_charsets) / sizeof(pinned_charsets[0])];

/*
 * Single-byte charsets converted from a table instead of iconv: windows-1252
 * (the last of MIME_FALLBACK_CHARSETS, and declared by much mail) and
 * ISO-8859-1 (declared by most 8-bit mail).  Each table holds the UTF-8 of
 * the bytes 0x80-0xFF, "" for a byte the charset leaves undefined (five in
 * windows-1252), made by mime_charset_init from glibc's own converter byte by byte
 * under the name GMime opens: both charsets are stateless, one byte a
 * character, ASCII as ASCII, so a conversion through the table gives
 * iconv's bytes exactly.
 */
struct sbcs {
	const char *name;	/* as g_mime_charset_iconv_name gives it */
	char utf8[128][4];
};

static struct sbcs sbcs_tables[] = { { "CP1252", { "" } },
				     { "iso-8859-1", { "" } } };
#define SBCS_CP1252 (&sbcs_tables[0])

/* Fill t from glibc's converter (all "" if it cannot be opened: every
 * text then takes iconv's path). */
static void sbcs_init(struct sbcs *t)
{
	iconv_t cd = iconv_open("UTF-8", t->name);
	unsigned b;

	if (cd == (iconv_t)-1)
		return;
	for (b = 0x80; b <= 0xFF; b++) {
		char in = (char)b, *ip = &in, *op = t->utf8[b - 0x80];
		size_t il = 1, ol = sizeof(t->utf8[0]) - 1;

		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 || il != 0)
			t->utf8[b - 0x80][0] = '\0';
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	iconv_close(cd);
}

/* The table for charset cs (a declared name), or NULL. */
static struct sbcs *sbcs_find(const char *cs)
{
	const char *name = g_mime_charset_iconv_name(cs);
	size_t i;

	for (i = 0; name != NULL && i < sizeof(sbcs_tables) /
					  sizeof(sbcs_tables[0]); i++)
		if (g_ascii_strcasecmp(name, sbcs_tables[i].name) == 0)
			return &sbcs_tables[i];
	return NULL;
}

/* Charsets tried strictly (whole input converts or none) on undeclared
 * 8-bit bytes after UTF-8, in this order; MIME_FALLBACK_CHARSETS (mime.h)
 * has them the other way round, and decode_8bit relies on both orders. */
static const char *const strict_8bit[] = { "EUC-JP", "CP932" };

/*
 * True once mime_charset_init has seen glibc convert the ASCII bytes 0x01-0x7F to
 * themselves in UTF-8 and every strict_8bit charset: all three are
 * stateless and no byte below 0x80 starts a multibyte character in them,
 * so a leading ASCII run converts to itself and needs no iconv.
 */
static bool ascii_run_same;

/* Does glibc convert 0x01-0x7F to themselves from cs? */
static bool ascii_identity(const char *cs)
{
	char in[127], out[128], *ip = in, *op = out;
	size_t il = sizeof(in), ol = sizeof(out), r;
	iconv_t cd = iconv_open("UTF-8", cs);
	unsigned i;

	if (cd == (iconv_t)-1)
		return false;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)(i + 1);
	r = iconv(cd, &ip, &il, &op, &ol);
	iconv_close(cd);
	return r != (size_t)-1 && il == 0 && op - out == (ptrdiff_t)sizeof(in) &&
	       memcmp(in, out, sizeof(in)) == 0;
}

void mime_charset_init(void)
{
	size_t i;

	for (i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++)
		pinned[i] = iconv_open("UTF-8", pinned_charsets[i]);
	for (i = 0; i < sizeof(sbcs_tables) / sizeof(sbcs_tables[0]); i++)
		sbcs_init(&sbcs_tables[i]);
	ascii_run_same = ascii_identity("UTF-8");
	for (i = 0; i < sizeof(strict_8bit) / sizeof(strict_8bit[0]); i++)
		ascii_run_same = ascii_run_same && ascii_identity(strict_8bit[i]);
}

/* Does UTF-8 s hold a C1 control character? */
static bool has_c1(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)s[0] == 0xC2 &&
		    (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9F)
			return true;
	return false;
}

/*
 * p[0..n) converted whole from cs to UTF-8 (g_free it), or NULL if any
 * byte does not convert (as g_convert, on GMime's cached descriptors).
 * The first skip bytes are ASCII that converts to itself (ascii_run_same)
 * and are copied.
 */
static char *convert_whole(const char *cs, const char *p, size_t n,
			   size_t skip)
{
	iconv_t cd = g_mime_iconv_open("UTF-8", cs);
	size_t cap = n * 2 + 16, left = cap - skip, inleft = n - skip, used;
	char *in = (char *)p + skip, *out, *o;
	bool flushed = false;

	if (cd == (iconv_t)-1)
		return NULL;
	out = g_malloc(cap + 1);
	memcpy(out, p, skip);
	o = out + skip;
	for (;;) {
		size_t r = inleft > 0 ? iconv(cd, &in, &inleft, &o, &left) :
					iconv(cd, NULL, NULL, &o, &left);

		if (r != (size_t)-1) {
			if (inleft > 0)
				continue;
			if (flushed)
				break;
			flushed = true;
			continue;
		}
		if (errno != E2BIG) {
			g_free(out);
			out = NULL;
			break;
		}
		used = (size_t)(o - out);
		cap += inleft * 2 + 16;
		out = g_realloc(out, cap + 1);
		o = out + used;
		left = cap - used;
	}
	g_mime_iconv_close(cd);
	if (out != NULL)
		*o = '\0';
	return out;
}

/* p[0..n) through table t to UTF-8 (g_free it), or NULL if it holds a
 * byte the charset leaves undefined. */
static char *from_sbcs(const struct sbcs *t, const char *p, size_t n)
{
	const unsigned char *q = (const unsigned char *)p;
	char *out = g_malloc(n * 3 + 1), *o = out;
	size_t i, k;

	for (i = 0; i < n; i++) {
		const char *u;

		if (q[i] < 0x80) {
			*o++ = (char)q[i];
			continue;
		}
		u = t->utf8[q[i] - 0x80];
		if (*u == '\0') {
			g_free(out);
			return NULL;
		}
		k = strlen(u);
		memcpy(o, u, k);
		o += k;
	}
	*o = '\0';
	return out;
}

/*
 * n bytes (no NUL) of undeclared 8-bit text as UTF-8 (g_free the result):
 * valid UTF-8 as it is, else the first of strict_8bit that converts it
 * whole without C1 controls, else what GMime's best guess over the
 * fallback list (g_mime_utils_decode_8bit) gives.  That guess returns the
 * first charset of the list that converts every byte, so it is found here
 * without GMime converting the whole text once per charset: UTF-8 as
 * glibc reads it, CP932, EUC-JP (C1 controls and all), windows-1252 when
 * no byte is undefined in it, else (rare) GMime's count of bad bytes per
 * charset decides as before.
 */
char *mime_charset_8bit(GMimeParserOptions *opts, const char *p, size_t n)
{
	enum { N_STRICT = sizeof(strict_8bit) / sizeof(strict_8bit[0]) };
	char *u[N_STRICT], *out = NULL;
	size_t i, skip = 0;

	if (g_utf8_validate(p, (gssize)n, NULL))
		return g_strndup(p, n);
	while (ascii_run_same && skip < n && (unsigned char)p[skip] < 0x80)
		skip++;
	for (i = 0; i < N_STRICT; i++) {
		u[i] = out == NULL ? convert_whole(strict_8bit[i], p, n, skip) :
				     NULL;
		/* glibc's EUC-JP reads the stray bytes 0x80-0xA0 as C1
		 * controls (U+0080-U+009F, UTF-8 C2 80-C2 9F) instead of
		 * failing: real text has none, so they mean "not EUC-JP". */
		if (u[i] != NULL && !has_c1(u[i])) {
			out = u[i];
			u[i] = NULL;
		}
	}
	/* GMime's order from here: UTF-8 as glibc reads it (it takes some
	 * that GLib does not: past U+10FFFF), CP932, EUC-JP, windows-1252. */
	if (out == NULL)
		out = convert_whole("UTF-8", p, n, skip);
	for (i = N_STRICT; i-- > 0;) {
		if (out == NULL)
			out = u[i];
		else
			g_free(u[i]);
	}
	if (out == NULL)
		out = from_sbcs(SBCS_CP1252, p, n);
	return out != NULL ? out : g_mime_utils_decode_8bit(opts, p, n);
}

/* True if p[0..n) is all ASCII without ESC: eight bytes at a time (the
 * bodies are up to 16 KiB and this runs on every one). */
static bool ascii_no_esc(const char *p, size_t n)
{
	const uint64_t hi = 0x8080808080808080ull, ones = 0x0101010101010101ull;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w, x;

		memcpy(&w, p + i, 8);
		x = w ^ (ones * 0x1b);	/* a zero byte where ESC was */
		if ((w & hi) || ((x - ones) & ~x & hi))
			return false;
	}
	for (; i < n; i++)
		if ((unsigned char)p[i] >= 0x80 || p[i] == 0x1b)
			return false;
	return true;
}

/*
 * Can p[0..n) in charset cs be taken as it is?  Pure ASCII (no ESC) in
 * any charset that is ASCII on ASCII bytes, or valid UTF-8 declared as
 * UTF-8, us-ascii or nothing: the conversion would give the same bytes
 * (most mail), so iconv and the fallbacks are skipped.
 */
bool mime_charset_is_utf8(const char *p, size_t n, const char *cs)
{
	bool ascii = ascii_no_esc(p, n);

	if (cs == NULL || *cs == '\0' || g_ascii_strcasecmp(cs, "us-ascii")
	    == 0 || g_ascii_strcasecmp(cs, "utf-8") == 0 ||
	    g_ascii_strcasecmp(cs, "utf8") == 0)
		return ascii || (memchr(p, 0x1b, n) == NULL &&
				 g_utf8_validate(p, (gssize)n, NULL));
	/* UTF-16/32, UCS-2/4 and UTF-7 read ASCII bytes differently */
	return ascii && g_ascii_strncasecmp(cs, "utf-16", 6) != 0 &&
	       g_ascii_strncasecmp(cs, "utf-32", 6) != 0 &&
	       g_ascii_strncasecmp(cs, "ucs", 3) != 0 &&
	       g_ascii_strcasecmp(cs, "utf-7") != 0 &&
	       g_ascii_strncasecmp(cs, "unicode", 7) != 0;
}

/* Convert n bytes (no NULs) in charset cs (may be NULL) to valid UTF-8;
 * g_free the result. */
char *mime_charset_to_utf8(GMimeParserOptions *opts, const char *p, size_t n,
			   const char *cs, bool *unknown)
{
	char *u = NULL, *v;

	if (mime_charset_is_utf8(p, n, cs))
		return g_strndup(p, n);

	/* ISO-2022-JP is 7-bit, so no 8-bit fallback can find it: undeclared
	 * (or "us-ascii") text with its escape sequences is read as it. */
	if ((cs == NULL || *cs == '\0' ||
	     g_ascii_strcasecmp(cs, "us-ascii") == 0) &&
	    (memmem(p, n, "\x1b$B", 3) != NULL ||
	     memmem(p, n, "\x1b$@", 3) != NULL))
		cs = "ISO-2022-JP";
	if (cs != NULL && *cs != '\0') {
		struct sbcs *t = sbcs_find(cs);
		iconv_t cd = t ? (iconv_t)-1 : g_mime_iconv_open("UTF-8", cs);

		if (t != NULL) {
			/* NULL where iconv stops too (EILSEQ) */
			u = from_sbcs(t, p, n);
		} else if (cd != (iconv_t)-1) {
			u = g_mime_iconv_strndup(cd, p, n);
			g_mime_iconv_close(cd);
		} else {
			*unknown = true;
		}
	}
	if (u == NULL) {
		/* No charset, an unknown one or a failed conversion: the
		 * fallback list (MIME_FALLBACK_CHARSETS) decides. */
		u = mime_charset_8bit(opts, p, n);
	}
	if (g_utf8_validate(u, -1, NULL))
		return u;	/* what g_utf8_make_valid would copy */
	v = g_utf8_make_valid(u, (gssize)strlen(u));
	g_free(u);
	return v;
}
