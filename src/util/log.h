/*
 * log - the one logging module: key=value lines to stderr or syslog.
 *
 * Every line is "level=L key=value ...".  Callers write the keys themselves in
 * the format string; values that may hold spaces or attacker bytes go through
 * log_q(), which quotes and escapes into a caller-supplied buffer, bounded.
 * Thread-safe (one write per line).  Lines on stderr get an RFC 3339 timestamp;
 * syslog adds its own.
 */
#ifndef MAMORI_LOG_H
#define MAMORI_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_L_DEBUG,
	LOG_L_INFO,
	LOG_L_NOTICE,
	LOG_L_WARN,
	LOG_L_ERR,
	LOG_L_FATAL,
};

/* Choose the sink; ident is the syslog ident.  Default: stderr, info. */
void log_setup(const char *ident, bool use_syslog, enum log_level min);
void log_set_level(enum log_level min);
bool log_enabled(enum log_level lvl);
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Format s as a log value into tmp: bare if it is non-empty and holds only
 * safe characters, else double-quoted with escapes.  At most ~(n-3)/4 input
 * bytes survive; the rest is cut and "..." appended.  Returns tmp.
 */
const char *log_q(char *tmp, size_t n, const char *s);

#define LOG_QSZ 256

#endif
