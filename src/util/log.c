/*
 * log - key=value logging.  See log.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <sys/time.h>

#include "util/buf.h"
#include "util/log.h"

static bool log_syslog;
static enum log_level log_min = LOG_L_INFO;

static const char *const level_names[] = {
	"debug", "info", "notice", "warn", "error", "fatal",
};

void log_setup(const char *ident, bool use_syslog, enum log_level min)
{
	log_syslog = use_syslog;
	log_min = min;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(enum log_level min)
{
	log_min = min;
}

bool log_enabled(enum log_level lvl)
{
	return lvl >= log_min;
}

int log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = {
		LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR, LOG_CRIT,
	};
	char line[4096];
	va_list ap;
	int n;

	if (lvl < log_min)
		return;
	n = snprintf(line, sizeof(line), "level=%s ", level_names[lvl]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);

	if (log_syslog) {
		syslog(prio[lvl], "%s", line);
	} else {
		struct timeval tv;
		struct tm tm;
		char ts[40];

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s\n", ts, (long)tv.tv_usec / 1000,
			line);
	}
}

const char *log_q(char *tmp, size_t n, const char *s)
{
	size_t i, len = strlen(s), o;
	bool bare = len > 0;

	for (i = 0; i < len && bare; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=')
			bare = false;
	}
	if (bare && len < n) {
		memcpy(tmp, s, len + 1);
		return tmp;
	}
	if (n < 8) {
		tmp[0] = '\0';
		return tmp;
	}
	tmp[0] = '"';
	buf_sample(tmp + 1, n - 5, s, len, len);
	o = strlen(tmp);
	/* buf_sample stops early when out of room: mark the cut. */
	if (o - 1 < len && strlen(tmp + 1) < len) {
		/* It may also be longer than len because of escapes; only
		 * claim a cut when the escaped text filled the room. */
		if (o + 1 >= n - 4)
			memcpy(tmp + o, "...", 3), o += 3;
	}
	tmp[o++] = '"';
	tmp[o] = '\0';
	return tmp;
}
