/*
 * buf - an owning byte buffer with a hard maximum size, and a borrowed span.
 *
 * Modelled on curl's dynbuf: every append checks the cap and fails with
 * BUF_E_TOO_LARGE instead of growing without bound, so a peer that sends an
 * endless line cannot make us allocate an endless buffer.  The content is
 * always NUL-terminated for convenience; the NUL is not counted in len.
 */
#ifndef MAMORI_BUF_H
#define MAMORI_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum {
	BUF_E_TOO_LARGE = 1,	/* append would exceed max */
};

struct buf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;		/* hard limit on len */
};

/* A borrowed, not NUL-terminated view into someone else's memory. */
struct span {
	const char *p;
	size_t n;
};

void buf_init(struct buf *b, size_t max);
void buf_deinit(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Take the content; the buffer is left empty and may be reused. */
char *buf_steal(struct buf *b);

bool span_eq(struct span s, const char *lit);
bool span_caseeq(struct span s, const char *lit);

/*
 * Write at most max_in bytes of data into out (size outsz) as a printable,
 * escaped sample suitable for a log line: backslash escapes for quotes,
 * backslash and control bytes, \xNN for the rest.  Always NUL-terminates.
 * Returns out.
 */
char *buf_sample(char *out, size_t outsz, const void *data, size_t n,
		 size_t max_in);

/*
 * Replace every byte of s that is not part of valid UTF-8 (RFC 3629: no
 * overlongs, no surrogates, nothing past U+10FFFF) with '?', in place, so
 * the string can go into JSON.  Returns the number of bytes replaced.
 */
size_t utf8_sanitize(char *s);

/* Modes of utf8_escape(). */
enum utf8_esc_mode {
	UTF8_ESC_SHOW,		/* for a terminal: backslashes stay as they are */
	UTF8_ESC_KEY,		/* reversible: ambiguous backslashes doubled */
};

/*
 * Append the n bytes at s (followed by a NUL or any byte that does not
 * continue a UTF-8 sequence, as in a C string) to b with every byte that could act on a terminal
 * or is not valid UTF-8 (RFC 3629) written as "\xNN" (lowercase hex): the
 * C0 controls and DEL, the C1 controls U+0080..U+009F (as their two bytes),
 * and each byte of an invalid sequence.  Valid UTF-8 text (Japanese names)
 * is copied as it is, so the result is printable UTF-8 that JSON, a log, a
 * CSV field or a terminal takes unchanged.
 *
 * UTF8_ESC_KEY also writes a backslash as "\\" wherever a reader could
 * take it for the start of an escape: before an 'x', before another
 * backslash and before an escaped byte.  Every other backslash
 * stays single, so "DOM\user" keeps its form, and utf8_unescape() gives the
 * input back: two different inputs never give the same output.  That is
 * what an account key needs (core/acct.h).  UTF8_ESC_SHOW leaves every
 * backslash alone, so a key printed by the CLI can be pasted back as it is.
 * Returns 0, or BUF_E_TOO_LARGE (the output takes at most 4 * n bytes).
 */
int utf8_escape(struct buf *b, const char *s, size_t n,
		enum utf8_esc_mode mode);
/*
 * Undo UTF8_ESC_KEY in place: "\xNN" becomes the byte, "\\" one
 * backslash, any other backslash stays.  Returns the new length (the result
 * may hold NUL bytes when the input escaped one).
 */
size_t utf8_unescape(char *s);

/* The value of hex digit c (either case), or -1. */
int buf_hex_value(char c);

/* in[0..n) as lower-case hex into out, which holds 2n + 1 bytes
 * (NUL-terminated). */
void buf_hex(const unsigned char *in, size_t n, char *out);

#endif
