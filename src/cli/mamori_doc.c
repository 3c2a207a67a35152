/*
 * mamori_doc - documentation the mamori binary prints about itself:
 * "mamori config --man" (the mamori.conf(5) manual page, written from the
 * configuration table of util/config_table.c so it lists exactly what
 * "mamori config -d" lists) and "mamori COMMAND --help" (that command's
 * entries of the main usage text, so the two never disagree).
 *
 * Output is roff for man(7): every text from the table is escaped
 * (backslashes, a leading dot or quote, hyphens), so a help string cannot
 * inject a request.  Local, no daemon; nothing here reads input.
 */
#include <stdio.h>
#include <string.h>

#include "cli/mamori.h"
#include "util/config.h"

/* Write s as roff text: "\" doubled, "-" as "\-", a leading "." or "'"
 * guarded with "\&". */
static void roff_text(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else if (*s == '\n')
			fputs("\n.br\n", out);
		else
			fputc(*s, out);
	}
}

/* The text before the table: what the file is and how it is read. */
static const char man_head[] =
".SH NAME\n"
"mamori.conf \\- configuration of the mamori mail\\-abuse defense daemon\n"
".SH SYNOPSIS\n"
".B " MAMORI_SYSCONFDIR "/mamori.conf\n"
".SH DESCRIPTION\n"
".B mamorid\\fR(8)\n"
"and\n"
".BR mamori (1)\n"
"read their settings from this file (the default path; both take\n"
".B \\-c\n"
".IR FILE ).\n"
"Each line is\n"
".IB name \" = \" value\\fR;\n"
"blank lines and lines starting with\n"
".B #\n"
"are ignored.  A\n"
".BI \"[class \" NAME ]\n"
"line starts a section of account\\-class settings; class\n"
".B default\n"
"always exists, and every other class starts as a copy of it, so a class\n"
"section lists only what differs;\n"
".B account_map\n"
"puts logins into classes.\n"
".PP\n"
"Times take an optional suffix:\n"
".B s\n"
"(seconds, the default),\n"
".BR m ,\n"
".BR h ,\n"
".B d\n"
"or\n"
".BR w .\n"
"Booleans are\n"
".BR yes / no .\n"
"A setting marked \\(lqrestart\\(rq is read at start only; every other\n"
"one also on\n"
".B SIGHUP\n"
"(\\fBsystemctl reload mamorid\\fR).  An unknown name, a value out of\n"
"range or a class setting outside a class section is an error: mamorid\n"
"refuses to start (or keeps its old configuration on reload), and\n"
".B mamori config \\-t\n"
"names the line.\n"
".PP\n"
".B mamori config \\-d\n"
"prints every default below;\n"
".B mamori config \\-n\n"
"prints what this file changes.  This page is generated from the same\n"
"table by\n"
".BR \"mamori config \\-\\-man\" .\n";

static const char man_tail[] =
".SH REDIS\n"
"A fleet shares one Redis\n"
"(\\fBstore = redis:\\fR... or \\fBredis\\-sentinel:\\fR...).\n"
"mamorid logs in with\n"
".B store_password_file\n"
"and, for a Redis 6 ACL user,\n"
".BR store_user ;\n"
"sentinels that have their own\n"
".B requirepass\n"
"take\n"
".B store_sentinel_password_file\n"
"and\n"
".BR store_sentinel_user .\n"
"The password files are read as root at start and never logged.\n"
".PP\n"
"There is no TLS: the hiredis of Debian 12 (0.14) has none.  On one host\n"
"use a unix socket\n"
"(\\fBredis:unix:/run/redis/redis.sock\\fR).\n"
"Across hosts without Sentinel, carry Redis over a tunnel from Debian,\n"
".BR stunnel4 (8)\n"
"or\n"
".BR spiped (1),\n"
"listening on 127.0.0.1 on each mamorid host, and name the tunnel's\n"
"local end in\n"
".B store\n"
"(\\fBredis:tcp:127.0.0.1:\\fIPORT\\fR).\n"
"Sentinel names the master by the address Redis announces, and mamorid\n"
"connects there directly, past a tunnel: with Sentinel across hosts\n"
"keep Redis on a private or encrypted network (WireGuard).\n"
".SH FILES\n"
".TP\n"
".B " MAMORI_SYSCONFDIR "/mamori.conf\n"
"this file\n"
".TP\n"
".B " MAMORI_SYSCONFDIR "/templates/\n"
"editable notice templates (set\n"
".B template_dir\n"
"to use them)\n"
".TP\n"
".B " MAMORI_SYSCONFDIR "/dkim/\n"
"DKIM signing keys (\\fBdkim_key_dir\\fR; \\fBmamori dkim keygen\\fR\n"
"writes them)\n"
".TP\n"
".B /var/lib/mamori/state.db\n"
"the default SQLite store\n"
".TP\n"
".B /run/mamori/api.sock\n"
"the admin API socket\n"
".SH SEE ALSO\n"
".BR mamorid (8),\n"
".BR mamori (1),\n"
".BR postconf (5)\n";

/* One .TP entry: name, then type, default, range and reload, then help. */
static void man_entry(FILE *out, const struct config_doc *d)
{
	fputs(".TP\n.B ", out);
	roff_text(out, d->name);
	fputs("\n(", out);
	roff_text(out, d->type);
	fputs("; default: ", out);
	if (d->def[0]) {
		fputs("\\fB", out);
		roff_text(out, d->def);
		fputs("\\fR", out);
	} else {
		fputs("empty", out);
	}
	if (!strcmp(d->type, "integer") || !strcmp(d->type, "time")) {
		if (d->max)
			fprintf(out, "; %ld to %ld", d->min, d->max);
		else if (d->min)
			fprintf(out, "; at least %ld", d->min);
	}
	fputs(d->reloadable ? ")\n" : "; restart)\n", out);
	fputs(".br\n", out);
	roff_text(out, d->help ? d->help : "");
	fputc('\n', out);
}

int cli_config_man(FILE *out)
{
	struct config_doc d;
	size_t i;
	bool in_class = false;

	fprintf(out, ".\\\" Generated by \"mamori config --man\" from the "
		"configuration table (src/util/config_table.c); do not edit.\n");
	fprintf(out, ".TH MAMORI.CONF 5 \"\" \"mamori %s\" \"mamori manual\"\n",
		MAMORI_VERSION);
	fputs(man_head, out);
	fputs(".SH GLOBAL SETTINGS\n", out);
	for (i = 0; config_doc_get(i, &d); i++) {
		if (d.in_class && !in_class) {
			fputs(".SH CLASS SETTINGS\n"
			      "These go in a\n.BI \"[class \" NAME ]\n"
			      "section; the defaults are those of class\n"
			      ".BR default ,\nwhich every class copies.\n",
			      out);
			in_class = true;
		}
		man_entry(out, &d);
	}
	fputs(man_tail, out);
	return ferror(out) ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

/* Does the usage entry at line start with command word cmd? */
static bool entry_is(const char *line, const char *cmd)
{
	size_t n = strlen(cmd);

	return line[0] == ' ' && line[1] == ' ' && line[2] != ' ' &&
	       strncmp(line + 2, cmd, n) == 0 &&
	       (line[2 + n] == ' ' || line[2 + n] == '\n');
}

int cli_help_command(const char *usage, const char *cmd, FILE *out)
{
	const char *p = strstr(usage, "\nCommands:\n"), *opts;
	bool on = false, any = false;

	if (!p)
		return CLI_EXIT_USAGE;
	opts = strstr(p, "\nOptions:\n");
	for (p = strchr(p + 1, '\n') + 1; *p && p != opts + 1;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);

		/* An entry starts at two spaces; longer indents continue it. */
		if (p[0] == ' ' && p[1] == ' ' && p[2] != ' ')
			on = entry_is(p, cmd);
		if (on) {
			if (!any)
				fprintf(out, "usage: mamori [OPTIONS] %s ...\n\n",
					cmd);
			any = true;
			fwrite(p, 1, len, out);
		}
		p += len;
	}
	if (!any)
		return CLI_EXIT_USAGE;
	fputs("\nmamori --help lists the global OPTIONS and every command.\n",
	      out);
	return CLI_EXIT_OK;
}
