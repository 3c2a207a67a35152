/*
 * mamorid - the mamori daemon.
 *
 * Start-up order matters for privileges: read the config, bind the policy
 * listeners (which may need root), drop to cfg->user, then open the store,
 * build the core and the notifier, and create the admin API socket in a
 * directory the unprivileged user owns.  One libevent loop serves
 * everything; notices go out on their own worker thread.
 *
 * Signals: TERM/INT stop cleanly; HUP reloads the config (limits, classes,
 * account_map, texts, notice settings; listeners and the store need a
 * restart).  Old configs stay alive until exit because in-flight work may
 * still point into them.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <curl/curl.h>

#include "auth/login.h"
#include "core/core.h"
#include "core/dmarc_send.h"
#include "core/history.h"
#include "core/inbound.h"
#include "core/outbox.h"
#include "front/authpolicy_server.h"
#include "front/http_api.h"
#include "front/milter.h"
#include "front/policy_server.h"
#include "mamori-build.h"
#include "notify/notify.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/listen.h"
#include "util/server.h"
#include "util/xalloc.h"

struct daemon {
	struct event_base *base;
	struct config *cfg;
	struct config **old;	/* configs replaced by reloads */
	size_t nold;
	struct store *st;
	struct notify *nt;
	struct outbox *outbox;
	struct core *core;
	struct policy_server *policy;
	struct http_api *api;
	struct login_engine *login;
	struct authpolicy_server *authpolicy;
	struct core_mail *mail;		/* the milter's core context */
	struct milter_server *milter;
	struct core_dmarc_daily *dmarc_daily;	/* the reports we send */
	const char *config_path;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mamorid [-c FILE] [-t] [-V] [-h]\n"
		"  -c FILE    configuration (default %s/mamori.conf if it "
		"exists)\n"
		"  -t         check the configuration and exit\n"
		"  -V, --version  print the version and exit\n"
		"  -h, --help     this text\n"
		"Runs in the foreground and logs to stderr (or syslog, see "
		"'syslog = yes'); started as root it binds its listeners, "
		"then runs as 'user'.\n"
		"Signals: TERM/INT stop, HUP reloads the configuration.\n"
		"mamori config -d lists every setting; man mamorid, "
		"man mamori.conf.\n",
		MAMORI_SYSCONFDIR);
}

/* Apply log_level from the config. */
static void apply_log_level(const struct config *cfg)
{
	enum log_level lvl;

	if (log_level_parse(cfg->log_level, &lvl) == 0)
		log_set_level(lvl);
	else
		log_msg(LOG_L_WARN, "event=config_warning msg=\"unknown log_level %s\"",
			cfg->log_level);
}

/* setgid/initgroups/setuid to user; 0 or -1 with err. */
static int drop_privileges(const char *user, uid_t *uid, gid_t *gid,
			   char *err, size_t errsz)
{
	struct passwd *pw;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (!user[0] || geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errsz, "user %s: no such user", user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (pw->pw_uid == 0)
		return 0;
	if (setgid(pw->pw_gid) != 0 || initgroups(user, pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		snprintf(err, errsz, "dropping privileges to %s: %s", user,
			 strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, errsz, "privileges could be regained after the drop");
		return -1;
	}
	log_msg(LOG_L_INFO, "event=privileges_dropped user=%s uid=%u", user,
		(unsigned)pw->pw_uid);
	return 0;
}

/*
 * Descriptors the configured caps need (milter_max_connections too when
 * the milter is on), plus a margin for the store, DNS, notices, logs (256):
 * raise RLIMIT_NOFILE to that or refuse to start.
 */
static int reserve_fds(const struct config *cfg, char *err, size_t errsz)
{
	unsigned long need = (unsigned long)cfg->policy_max_connections + 256;
	char why[256];
	bool ap = cfg->auth_policy_listen[0], api = cfg->api_listen[0] ||
						  cfg->api_tcp_listen[0];

	if (ap)
		need += (unsigned long)cfg->auth_policy_max_connections;
	if (api)
		need += (unsigned long)cfg->api_max_connections;
	if (cfg->milter_listen[0])
		need += (unsigned long)cfg->milter_max_connections;
	snprintf(why, sizeof(why), "policy_max_connections%s%s%s + 256 (store, "
		 "DNS, notices)", ap ? " + auth_policy_max_connections" : "",
		 api ? " + api_max_connections" : "",
		 cfg->milter_listen[0] ? " + milter_max_connections" : "");
	return server_nofile_reserve(need, why, err, errsz);
}

/* Periodic work: the login engine expires states and flushes batched
 * rows; the core writes a bounded slice of its counter snapshot. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->login)
		login_engine_tick(d->login, 0);
	core_snapshot_tick(d->core, 0);
	core_dmarc_daily_tick(d->dmarc_daily, d->cfg, (int64_t)time(NULL));
	core_history_tick(d->core, 0);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	log_msg(LOG_L_INFO, "event=stopping signal=%d", (int)sig);
	event_base_loopexit(d->base, NULL);
}

/* SIGHUP: build a new config; keep the old one if it fails. */
static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	char err[512];
	struct config *n;

	(void)sig;
	(void)what;
	n = config_load(d->config_path, err, sizeof(err));
	if (!n) {
		log_msg(LOG_L_ERR, "event=reload_failed error=\"%s\"", err);
		return;
	}
	if (core_reconfigure(d->core, n, err, sizeof(err)) != 0) {
		log_msg(LOG_L_ERR, "event=reload_failed error=\"%s\"", err);
		config_free(n);
		return;
	}
	policy_server_reconfigure(d->policy, n);
	if (d->mail)
		core_mail_reconfigure(d->mail, n);
	if (d->login)
		login_engine_reconfigure(d->login, n);
	if (d->authpolicy)
		authpolicy_server_reconfigure(d->authpolicy, n);
	if (d->api)
		http_api_reconfigure(d->api, n);
	if (d->nt)
		notify_reconfigure(d->nt, n);
	apply_log_level(n);
	d->old = xrealloc(d->old, (d->nold + 1) * sizeof(*d->old));
	d->old[d->nold++] = d->cfg;
	d->cfg = n;
	log_msg(LOG_L_INFO, "event=reloaded config=%s",
		d->config_path ? d->config_path : "(defaults)");
}

/*
 * The first line of the file setting name names (store_password_file,
 * store_sentinel_password_file, fleet_key_file) into pw (NUL-terminated; "" when the setting is empty).
 * Read before the privileges are dropped.  0, or -1 with err (which never
 * holds the secret).
 */
static int read_store_password(const char *name, const char *path, char *pw,
			       size_t n, char *err, size_t errsz)
{
	FILE *f;

	pw[0] = '\0';
	if (path == NULL || path[0] == '\0')
		return 0;
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errsz, "%s %s: %s", name, path, strerror(errno));
		return -1;
	}
	if (fgets(pw, (int)n, f) == NULL)
		pw[0] = '\0';
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { 0 };
	struct event *ev_term, *ev_int, *ev_hup, *ev_tick;
	struct timeval tick = { .tv_sec = 5 };
	char err[1024], store_pw[512], sentinel_pw[512], fleet_key[512];
	struct store_opts store_o = { 0 };
	const char *path = NULL;
	bool check = false;
	uid_t uid;
	gid_t gid;
	int opt, rc;
	size_t k;

	for (k = 1; k < (size_t)argc && strcmp(argv[k], "--"); k++) {
		if (!strcmp(argv[k], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[k], "--version")) {
			printf("mamorid %s\n", MAMORI_VERSION);
			return 0;
		}
	}
	while ((opt = getopt(argc, argv, "c:tVh")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': check = true; break;
		case 'V': printf("mamorid %s\n", MAMORI_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path && access(MAMORI_SYSCONFDIR "/mamori.conf", R_OK) == 0)
		path = MAMORI_SYSCONFDIR "/mamori.conf";
	/* State files (the sqlite db, its -wal and -shm, the pid file) are
	 * created 0640: they hold logins and evidence.  Sockets get their
	 * modes explicitly. */
	umask(027);
	d.config_path = path;
	d.cfg = config_load(path, err, sizeof(err));
	if (!d.cfg) {
		fprintf(stderr, "mamorid: %s\n", err);
		return 1;
	}
	if (check) {
		printf("mamorid: %s: configuration OK\n", path ? path : "defaults");
		config_free(d.cfg);
		return 0;
	}
	log_setup("mamorid", d.cfg->syslog, LOG_L_INFO);
	apply_log_level(d.cfg);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	/* The milter's threads hand store work to this loop. */
	if (reserve_fds(d.cfg, err, sizeof(err)) != 0)
		goto fail;
	evthread_use_pthreads();
	d.base = event_base_new();
	d.policy = policy_server_new(d.base, d.cfg, err, sizeof(err));
	if (!d.policy)
		goto fail;
	if (d.cfg->milter_listen[0]) {
		d.mail = core_mail_new(d.base, d.cfg, err, sizeof(err));
		if (!d.mail)
			goto fail;
		d.milter = milter_server_new(d.base, d.cfg, d.mail, err,
					     sizeof(err));
		if (!d.milter)
			goto fail;
	}
	if (read_store_password("store_password_file",
				d.cfg->store_password_file, store_pw,
				sizeof(store_pw), err, sizeof(err)) != 0 ||
	    read_store_password("store_sentinel_password_file",
				d.cfg->store_sentinel_password_file,
				sentinel_pw, sizeof(sentinel_pw), err,
				sizeof(err)) != 0 ||
	    read_store_password("fleet_key_file", d.cfg->fleet_key_file,
				fleet_key, sizeof(fleet_key), err,
				sizeof(err)) != 0)
		goto fail;
	if (drop_privileges(d.cfg->user, &uid, &gid, err, sizeof(err)) != 0)
		goto fail;
	store_o.password = store_pw;
	store_o.user = d.cfg->store_user;
	store_o.sentinel_password = sentinel_pw;
	store_o.sentinel_user = d.cfg->store_sentinel_user;
	store_o.timeout_ms = d.cfg->store_timeout_ms;
	store_o.hash_key = fleet_key;
	rc = store_open_opts(d.cfg->store, d.base, &store_o, &d.st, err,
			     sizeof(err));
	explicit_bzero(store_pw, sizeof(store_pw));
	explicit_bzero(sentinel_pw, sizeof(sentinel_pw));
	explicit_bzero(fleet_key, sizeof(fleet_key));
	if (rc != 0)
		goto fail;
	if (d.mail)
		core_mail_attach(d.mail, d.st);
	if (d.milter && milter_server_start(d.milter, err, sizeof(err)) != 0)
		goto fail;
	d.nt = notify_new(d.cfg);
	d.core = core_new(d.cfg, d.st, d.nt, err, sizeof(err));
	if (!d.core)
		goto fail;
	core_set_base(d.core, d.base);
	core_set_mail(d.core, d.mail);	/* GET /v1/dkim/...: keys loaded */
	if (d.mail && d.cfg->outbound_content)
		core_mail_set_outbound(d.mail, d.core);
	/* Notices not yet sent when mamorid last stopped go out again. */
	d.outbox = outbox_new(d.base, d.st, d.nt);
	core_set_outbox(d.core, d.outbox);
	outbox_replay(d.outbox);
	if (d.cfg->auth_policy_listen[0]) {
		/* Anyone who reaches it could feed the login engine. */
		if (!d.cfg->auth_policy_api_key[0] &&
		    !listen_list_is_loopback(d.cfg->auth_policy_listen))
			log_msg(LOG_L_WARN, "event=auth_policy_no_key listen=%s "
				"note=\"auth_policy_api_key is empty on a "
				"non-loopback listener\"",
				d.cfg->auth_policy_listen);
	}
	/* The login engine also holds the one geoip_db reader, which the
	 * outbound path asks for a client's country: it exists whenever
	 * either needs it. */
	if (d.cfg->auth_policy_listen[0] || d.cfg->geoip_db[0]) {
		d.login = login_engine_new(d.cfg, d.st, err, sizeof(err));
		if (!d.login)
			goto fail;
		core_set_login(d.core, d.login);
	}
	if (d.cfg->auth_policy_listen[0]) {
		d.authpolicy = authpolicy_server_new(d.base, d.cfg, d.core, err,
						     sizeof(err));
		if (!d.authpolicy)
			goto fail;
	}
	if (d.cfg->api_listen[0] || d.cfg->api_tcp_listen[0]) {
		d.api = http_api_new(d.base, d.core, d.cfg, -1, -1, err,
				     sizeof(err));
		if (!d.api)
			goto fail;
	}
	policy_server_attach(d.policy, d.core);
	if (d.cfg->pid_file[0]) {
		FILE *f = fopen(d.cfg->pid_file, "w");

		if (f) {
			fprintf(f, "%ld\n", (long)getpid());
			fclose(f);
		}
	}
	ev_term = evsignal_new(d.base, SIGTERM, on_stop, &d);
	ev_int = evsignal_new(d.base, SIGINT, on_stop, &d);
	ev_hup = evsignal_new(d.base, SIGHUP, on_reload, &d);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);
	d.dmarc_daily = core_dmarc_daily_new();
	ev_tick = event_new(d.base, -1, EV_PERSIST, on_tick, &d);
	event_add(ev_tick, &tick);
	log_msg(LOG_L_INFO, "event=started version=%s config=%s store=%s pid=%ld",
		MAMORI_VERSION, path ? path : "(defaults)", d.cfg->store,
		(long)getpid());

	event_base_dispatch(d.base);

	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_tick);
	http_api_free(d.api);
	authpolicy_server_free(d.authpolicy);
	policy_server_free(d.policy);
	core_mail_close(d.mail);
	milter_server_free(d.milter);
	core_mail_free(d.mail);
	/* The counters survive a clean restart whole (kill -9 loses what
	 * changed since the last snapshot pass). */
	core_snapshot_flush(d.core, 0);
	core_dmarc_daily_free(d.dmarc_daily);
	core_free(d.core);
	login_engine_free(d.login);
	notify_free(d.nt);
	outbox_free(d.outbox);
	store_close(d.st);
	event_base_free(d.base);
	if (d.cfg->pid_file[0])
		unlink(d.cfg->pid_file);
	for (k = 0; k < d.nold; k++)
		config_free(d.old[k]);
	free(d.old);
	config_free(d.cfg);
	curl_global_cleanup();
	log_msg(LOG_L_INFO, "event=stopped");
	return 0;
fail:
	log_msg(LOG_L_FATAL, "event=startup_failed error=\"%s\"", err);
	http_api_free(d.api);
	authpolicy_server_free(d.authpolicy);
	core_mail_close(d.mail);
	milter_server_free(d.milter);
	core_mail_free(d.mail);
	core_free(d.core);
	login_engine_free(d.login);
	notify_free(d.nt);
	outbox_free(d.outbox);
	store_close(d.st);
	policy_server_free(d.policy);
	if (d.base)
		event_base_free(d.base);
	config_free(d.cfg);
	return 1;
}
