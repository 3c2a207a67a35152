/*
 * mamori_dkim - "mamori dkim keygen": make a DKIM signing key for mamorid
 * and print the DNS record to publish (RFC 6376 3.6.1, RFC 8463 4.2).
 *
 * Local like "config": no daemon, no HTTP.  The key goes under the
 * dkim_key_dir of the configuration (-c, else the default file, else the
 * built-in default) unless --dir says otherwise; mamorid loads keys at
 * start and on SIGHUP, so the command ends with that reminder.  The TXT
 * text is printed as a zone-file line, split into character-strings of at
 * most 255 bytes (RFC 1035 3.3; RFC 6376 3.6.2.2 joins them again).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli/mamori.h"
#include "core/inbound.h"
#include "util/config.h"
#include "util/xalloc.h"

#define DKIM_TXT_CHUNK 255	/* bytes in one DNS character-string */

/* Declared here as mamori.c declares it; mamori.h should carry it. */

/*
 * Print the zone-file line for txt: the "v=DKIM1; k=...; " prefix as one
 * string, then p= in strings of at most 255 bytes.
 */
static void print_zone_line(const char *domain, const char *selector,
			    const char *txt)
{
	const char *p = strstr(txt, "p=");
	size_t n, take;
	char *d = xstrdup(domain), *q;

	for (q = d; *q; q++)	/* as the key directory spells it */
		*q = (char)tolower((unsigned char)*q);
	printf("%s._domainkey.%s. IN TXT (", selector, d);
	free(d);
	if (p == NULL)
		p = txt;
	if (p > txt)
		printf(" \"%.*s\"", (int)(p - txt), txt);
	for (n = strlen(p); n > 0; p += take, n -= take) {
		take = n > DKIM_TXT_CHUNK ? DKIM_TXT_CHUNK : n;
		printf(" \"%.*s\"", (int)take, p);
	}
	printf(" )\n");
}

/* The key directory: --dir, else dkim_key_dir of the configuration. */
static char *key_dir(const struct cli *c, const char *dir)
{
	struct config *cfg;
	char err[512], *d;

	if (dir)
		return xstrdup(dir);
	/* c->config: -c, else the default file if it exists, else NULL
	 * (config_load(NULL) gives the built-in defaults). */
	if ((cfg = config_load(c->config, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mamori: %s\n(use --dir DIR to bypass it)\n",
			err);
		return NULL;
	}
	d = xstrdup(cfg->dkim_key_dir);
	config_free(cfg);
	return d;
}

/* mamori dkim keygen DOMAIN SELECTOR [--type rsa|ed25519] [--dir DIR]
 * [--force] */
static int cmd_keygen(struct cli *c, int argc, char **argv)
{
	const char *type = "rsa", *dir = NULL, *v, *domain = NULL,
		   *selector = NULL;
	char err[512], *kdir, *path = NULL, *txt = NULL;
	bool force = false;
	int i, r;

	for (i = 0; i < argc; i++) {
		if ((v = cli_opt_value(argc, argv, &i, "--type")))
			type = v;
		else if ((v = cli_opt_value(argc, argv, &i, "--dir")))
			dir = v;
		else if (!strcmp(argv[i], "--force"))
			force = true;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_usage_error("dkim keygen: unknown option %s",
					argv[i]);
		else if (!domain)
			domain = argv[i];
		else if (!selector)
			selector = argv[i];
		else
			cli_usage_error("dkim keygen: unexpected \"%s\"",
					argv[i]);
	}
	if (!domain || !selector)
		cli_usage_error("dkim keygen: DOMAIN and SELECTOR are required");
	if (strcmp(type, "rsa") && strcmp(type, "ed25519"))
		cli_usage_error("dkim keygen: --type must be rsa or ed25519");
	if ((kdir = key_dir(c, dir)) == NULL)
		return CLI_EXIT_USAGE;
	umask(077);	/* the key, its directory and its DNS file: ours only */
	r = core_dkim_keygen(kdir, domain, selector, type, force, &path, &txt,
			     err, sizeof(err));
	free(kdir);
	if (r != 0) {
		fprintf(stderr, "mamori: dkim keygen: %s%s\n", err,
			r == CORE_DKIM_E_EXISTS ? " (--force replaces it)" :
			"");
		return CLI_EXIT_FAILED;
	}
	if (c->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "path", path,
				      "domain", domain, "selector", selector,
				      "type", type, "txt", txt);
		char *s = json_dumps(o, JSON_INDENT(2));

		puts(s);
		free(s);
		json_decref(o);
	} else {
		printf("wrote %s\n", path);
		printf("publish this DNS record:\n");
		print_zone_line(domain, selector, txt);
		printf("then reload mamorid (kill -HUP) to sign with the new "
		       "key.\n");
	}
	free(path);
	free(txt);
	return 0;
}

int cli_cmd_dkim(struct cli *c, int argc, char **argv)
{
	if (argc < 1)
		cli_usage_error("dkim: keygen?");
	if (!strcmp(argv[0], "keygen"))
		return cmd_keygen(c, argc - 1, argv + 1);
	cli_usage_error("dkim: unknown command \"%s\"", argv[0]);
}
