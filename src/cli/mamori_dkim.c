/*
 * mamori_dkim - "mamori dkim keygen": make a DKIM signing key for mamorid
 * and print the DNS record to publish (RFC 6376 3.6.1, RFC 8463 4.2).
 *
 * Local like "config": no daemon needed.  The key goes under the
 * dkim_key_dir of the configuration (-c, else the default file, else the
 * built-in default) unless --dir says otherwise.  mamorid reads keys after
 * dropping to the configuration's "user", so when run as root the key
 * (0640) and its domain directory (0750) are given to that user and its
 * group, and the key directory is opened to the group.  mamorid loads keys
 * at start and on SIGHUP: the command then asks the running mamorid (GET
 * /v1/dkim/DOMAIN/SELECTOR) whether it signs with the key and warns when
 * it does not (not reloaded yet, or no milter); no mamorid is no error.  The TXT
 * text is printed as a zone-file line, split into character-strings of at
 * most 255 bytes (RFC 1035 3.3; RFC 6376 3.6.2.2 joins them again).
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/mamori.h"
#include "core/inbound.h"
#include "util/config.h"
#include "util/xalloc.h"

#define DKIM_TXT_CHUNK 255	/* bytes in one DNS character-string */

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

/* The key directory (--dir, else dkim_key_dir) and the configured user
 * ("" when none); NULL when the configuration is needed and broken. */
static char *key_dir(const struct cli *c, const char *dir, char **user)
{
	struct config *cfg;
	char err[512], *d;

	*user = xstrdup("");
	/* c->config: -c, else the default file if it exists, else NULL
	 * (config_load(NULL) gives the built-in defaults). */
	if ((cfg = config_load(c->config, err, sizeof(err))) == NULL) {
		if (dir)	/* the key goes where asked; no owner known */
			return xstrdup(dir);
		fprintf(stderr, "mamori: %s\n(use --dir DIR to bypass it)\n",
			err);
		return NULL;
	}
	d = xstrdup(dir ? dir : cfg->dkim_key_dir);
	free(*user);
	*user = xstrdup(cfg->user);
	config_free(cfg);
	return d;
}

/* chown and chmod path, saying so on failure; 0 or -1. */
static int set_owner(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	if (chown(path, uid, gid) != 0 || chmod(path, mode) != 0) {
		fprintf(stderr, "mamori: dkim keygen: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Make the new key readable by user, whom mamorid runs as after its
 * privilege drop: the key user:group 0640, its domain directory 0750, the
 * key directory searchable by the group.  Root only; otherwise warn when
 * the user is not us.  Returns 0 or -1 (a warning was printed).
 */
static int give_to_user(const char *user, const char *kdir, const char *path,
			bool quiet)
{
	struct passwd *pw;
	struct stat st;
	char *ddir;
	int r = 0;

	if (!user[0])
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "mamori: dkim keygen: warning: user %s (the "
			"configuration's \"user\") does not exist; the key is "
			"readable by its owner only\n", user);
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0;
		fprintf(stderr, "mamori: dkim keygen: warning: mamorid runs as "
			"%s and cannot read %s: run this as root (or as %s)\n",
			user, path, user);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	ddir = xstrdup(path);
	r |= set_owner(path, pw->pw_uid, pw->pw_gid, 0640);
	r |= set_owner(dirname(ddir), pw->pw_uid, pw->pw_gid, 0750);
	free(ddir);
	/* The key directory: root's, the group may enter (the package
	 * makes it root:mamori 0750; a new one is root 0700). */
	if (stat(kdir, &st) == 0 && st.st_uid != pw->pw_uid &&
	    !(st.st_mode & S_IXOTH) &&
	    !(st.st_gid == pw->pw_gid && (st.st_mode & S_IXGRP)))
		r |= set_owner(kdir, st.st_uid, pw->pw_gid,
			       (st.st_mode & 07777) | S_IRGRP | S_IXGRP);
	if (r == 0 && !quiet)
		printf("owner %s, mode 0640 (mamorid reads it as %s)\n", user,
		       user);
	return r;
}

/*
 * Ask the running mamorid whether it signs with domain's key selector and
 * say what to do when it does not; replaced: --force wrote over a key it
 * may still hold.  Returns the state word for --json ("not_running" when
 * no mamorid answers).
 */
static const char *check_loaded(struct cli *c, const char *domain,
				const char *selector, bool replaced)
{
	const char *state = "unknown";
	struct cli_reply rep;
	char *ed, *es, *path;
	int r;

	if (cli_connect(c) != 0) {
		cli_disconnect(c);
		return state;
	}
	if (c->socket && access(c->socket, F_OK) != 0) {
		if (!c->json)
			printf("mamorid is not running (no %s); it loads the "
			       "key when it starts.\n", c->socket);
		cli_disconnect(c);
		return "not_running";
	}
	ed = cli_escape(c, domain);
	es = cli_escape(c, selector);
	path = xasprintf("/v1/dkim/%s/%s", ed, es);
	free(ed);
	free(es);
	r = cli_request(c, "GET", path, NULL, &rep);
	free(path);
	cli_disconnect(c);
	if (r != 0)
		return "not_running";
	if (rep.status == 200 && rep.json &&
	    json_is_string(json_object_get(rep.json, "state")))
		state = json_string_value(json_object_get(rep.json, "state"));
	state = !strcmp(state, "loaded") ? "loaded" :
		!strcmp(state, "not_loaded") ? "not_loaded" :
		!strcmp(state, "no_signing") ? "no_signing" : "unknown";
	cli_reply_deinit(&rep);
	if (!strcmp(state, "no_signing"))
		fprintf(stderr, "mamori: dkim keygen: warning: the running "
			"mamorid signs no mail (milter_listen is empty): set it "
			"and restart mamorid\n");
	else if (!strcmp(state, "not_loaded") ||
		 (replaced && !strcmp(state, "loaded")))
		fprintf(stderr, "mamori: dkim keygen: warning: the running "
			"mamorid does not sign with this key yet: reload it "
			"(systemctl reload mamorid, or kill -HUP)\n");
	else if (!strcmp(state, "unknown"))
		fprintf(stderr, "mamori: dkim keygen: mamorid did not say "
			"whether it loaded the key; reload it (kill -HUP)\n");
	return state;
}

/* mamori dkim keygen DOMAIN SELECTOR [--type rsa|ed25519] [--dir DIR]
 * [--force] */
static int cmd_keygen(struct cli *c, int argc, char **argv)
{
	const char *type = "rsa", *dir = NULL, *v, *domain = NULL,
		   *selector = NULL;
	char err[512], *kdir, *user, *path = NULL, *txt = NULL;
	const char *loaded;
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
	if ((kdir = key_dir(c, dir, &user)) == NULL) {
		free(user);
		return CLI_EXIT_USAGE;
	}
	umask(077);	/* the key, its directory and its DNS file: ours only */
	r = core_dkim_keygen(kdir, domain, selector, type, force, &path, &txt,
			     err, sizeof(err));
	if (r != 0) {
		fprintf(stderr, "mamori: dkim keygen: %s%s\n", err,
			r == CORE_DKIM_E_EXISTS ? " (--force replaces it)" :
			"");
		free(kdir);
		free(user);
		return CLI_EXIT_FAILED;
	}
	if (!c->json)
		printf("wrote %s\n", path);
	give_to_user(user, kdir, path, c->json);
	free(kdir);
	free(user);
	if (c->json) {
		json_t *o;
		char *d = xstrdup(domain), *q;

		for (q = d; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		loaded = check_loaded(c, d, selector, force);
		free(d);
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "path", path,
			      "domain", domain, "selector", selector,
			      "type", type, "txt", txt, "mamorid", loaded);
		char *s = json_dumps(o, JSON_INDENT(2));

		puts(s);
		free(s);
		json_decref(o);
	} else {
		char *d = xstrdup(domain), *q;

		printf("publish this DNS record:\n");
		print_zone_line(domain, selector, txt);
		fflush(stdout);
		for (q = d; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		loaded = check_loaded(c, d, selector, force);
		free(d);
		if (!strcmp(loaded, "loaded") && !force)
			printf("mamorid signs with it.\n");
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
