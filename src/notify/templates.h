/*
 * templates - built-in notice templates (private to src/notify).
 *
 * Text format as in etc/templates/: "Subject: ..." line, blank line, body,
 * LF line ends, placeholders {login} {state} {reason} {strikes} {time}
 * {evidence} {actor} {id}.
 */
#ifndef MAMORI_NOTIFY_TEMPLATES_H
#define MAMORI_NOTIFY_TEMPLATES_H

/* The built-in template for kind, audience and lang ("ja", "en"), or NULL.
 * The text is static. */
const char *notify_template_builtin(const char *kind, const char *audience,
				    const char *lang);

#endif
