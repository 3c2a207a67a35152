/*
 * config - mamori's declarative configuration.
 *
 * One table per scope ({name, type, default, min, max, reloadable, help})
 * drives parsing, validation, `mamori config -d` (every default) and
 * `mamori config -n` (what the file changes), like Postfix's postconf.
 *
 * File format: "name = value" lines, '#' comments, and "[class NAME]"
 * sections whose settings apply to one account class.  Class "default"
 * always exists; every other class starts as a copy of it, so a class
 * section lists only what differs.  Times take s/m/h/d suffixes.
 *
 * The result is an immutable struct config, built whole and swapped on
 * reload; modules receive it as an argument, never through a global.
 */
#ifndef MAMORI_CONFIG_H
#define MAMORI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_CLASSES 32
#define CONFIG_NAME_MAX 32

enum restrict_action {
	RESTRICT_HOLD,
	RESTRICT_REJECT,
};

enum class_mode {
	MODE_ENFORCE,
	MODE_OBSERVE,
};

/* Limits and detection knobs for one account class. */
struct class_config {
	char name[CONFIG_NAME_MAX];
	int mode;			/* enum class_mode */
	long msgs_per_minute;
	long msgs_per_hour;
	long ext_rcpts_per_hour;
	long int_rcpts_per_hour;
	long rcpts_per_day;
	long score_throttle;
	long score_restrict;
	int restrict_action;		/* enum restrict_action */
	long throttle_time;		/* seconds a throttle lasts */
	long throttle_escalate;		/* refused attempts while throttled */
	long surge_factor;		/* x baseline */
	long surge_min_msgs;		/* per hour, below this never a surge */
	long multi_ip_networks;		/* distinct networks in multi_ip_window */
	long multi_ip_window;
	long rcpt_domains_per_hour;
	long new_network_min_age;	/* account age before "new network" */
	long weight_limit;
	long weight_surge;
	long weight_multi_ip;
	long weight_new_network;
	long weight_rcpt_domains;
	long weight_sender_mismatch;
	long weight_login_risk;
	/* issue 9: signals that work without history */
	int unowned_sender_action;	/* 0 signal, 1 reject */
	long weight_unowned_sender;
	long rcpt_rate_per_minute;	/* recipients in 60 s */
	long weight_rcpt_rate;
	long multi_net16;		/* distinct /16s in multi_ip_window */
	long weight_multi_net16;	/* added to multi_ip */
	long new_rcpts_per_hour;	/* never-written recipients */
	long weight_new_rcpts;
	long surge_odds;		/* Poisson tail below 1/odds */
	long weight_new_network_near;	/* unseen /24 in a known /16 */
	/* client countries (geoip_db or the request's test hook) */
	long weight_foreign_country;	/* outside home and habit */
	long foreign_msgs_per_hour;	/* from there, this hour */
	long weight_foreign_volume;
	long country_breadth;		/* distinct countries in window */
	long weight_country_breadth;
	/* outbound content (the milter's facts, O8) */
	long weight_malware_content;	/* per malware-shaped message */
	long risky_reply_threads;	/* threads of risky replies an hour */
	long weight_risky_replies;
};

struct config {
	char *path;			/* file it came from, or NULL */

	/* daemon */
	char *policy_listen;
	char *api_listen;
	char *api_tcp_listen;
	char *api_token;
	long api_socket_mode;
	long api_block_min_prefix_v4;
	long api_block_min_prefix_v6;
	char *user;
	char *pid_file;
	char *log_level;
	bool syslog;
	long policy_max_connections;
	long policy_max_per_client;
	long policy_socket_mode;
	long api_max_connections;
	long api_max_per_client;
	long api_request_timeout;
	long api_idle_timeout;

	/* policy protocol bounds */
	long policy_max_line;
	long policy_max_request;
	long policy_max_attrs;
	long policy_idle_timeout;
	long policy_request_timeout;

	/* state */
	char *store;
	int store_failure_action;	/* 0 = dunno (fail open), 1 = defer */
	char *store_password_file;	/* redis AUTH, read at start */
	char *store_user;		/* redis: ACL user for AUTH */
	char *store_sentinel_password_file; /* sentinels' AUTH, at start */
	char *store_sentinel_user;	/* sentinels' ACL user */
	long store_timeout_ms;		/* redis: one operation's bound */
	char *fleet_key_file;		/* redis: store_count's HMAC key */
	long fleet_fast_age;		/* redis: RCPT trusts its copy this long */
	long max_accounts;		/* accounts traffic may create (evict.c) */

	/* accounting */
	char *local_domains;
	char *account_map;
	char *sender_map;		/* LOGIN owned-address|@domain ... */
	long probation_time;
	long strike_window;
	long suspend_strikes;
	long baseline_halflife;

	/* messages to the customer */
	char *throttle_text;
	char *restrict_text;
	char *suspend_text;

	/* held mail */
	char *held_release_command;
	char *held_delete_command;
	long held_command_timeout;

	/* notices */
	char *notify_smtp_url;
	char *notify_from;
	char *abuse_desk;
	char *notify_language;
	char *template_dir;
	char *contact_map;
	char *webhook_url;
	char *webhook_secret;
	long notify_retry_interval;
	long notify_max_tries;
	long notify_timeout;

	/* mail authentication milter */
	char *milter_listen;
	long milter_max_connections;	/* connections at once, from accept */
	long milter_timeout;		/* s, packet deadline and idle timeout */
	bool outbound_content;		/* milter: content facts to the core */
	char *authserv_id;
	char *internal_networks;
	char *dns_upstream;
	long dns_timeout_ms;
	int dns_failure_action;		/* 0 tempfail, 1 accept */
	int dmarc_reject_action;	/* 0 reject, 1 quarantine, 2 none */
	int dmarc_quarantine_action;	/* 0 hold, 1 tag, 2 none */
	char *dmarc_override_domains;
	char *dmarc_trusted_forwarders;
	int dmarc_mode;			/* 0 rfc9989, 1 rfc7489 */
	char *lookalike_protected_file;	/* src/mail/lookalike.h format */
	char *content_hosts_file;	/* src/mail/hostlist.h format */
	char *dkim_key_dir;
	long correspondence_ttl;
	/* inbound content verdict (core/content.h) */
	bool content_checks;
	long content_tag_score;
	long content_hold_score;
	long content_reject_score;
	long content_label_score;
	char *content_subject_prefix;
	long content_max_size;
	long content_index_max;
	long sent_log_ttl;
	long sent_log_max;
	int backscatter_action;		/* 0 reject, 1 hold, 2 tag, 3 none */
	long backscatter_warmup;

	/* login abuse (Dovecot auth policy) */
	char *auth_policy_listen;
	long auth_policy_max_connections;
	long auth_policy_max_per_client;
	long auth_policy_request_timeout;
	long auth_policy_idle_timeout;
	long auth_policy_socket_mode;
	char *auth_policy_api_key;
	int auth_policy_fail_action;	/* 0 = allow (fail open), 1 = reject */
	char *auth_pwversion_attr;
	char *auth_allowlist;
	long auth_window;
	long auth_stuffing_logins;
	long auth_stuffing_net_logins;
	long auth_stuffing_fail_ratio;
	long auth_stuffing_new_ratio;
	long auth_stuffing_max_repeat;
	long auth_bruteforce_failures;
	long auth_distributed_ips;
	long auth_list_fail_accounts;
	long auth_campaign_addrs;
	long auth_delay;
	long auth_block_time;
	long auth_block_max;
	int auth_compromised_action;	/* 0 restrict, 1 flag, 2 none */
	long auth_new_network_risk;
	char *geoip_db;			/* country .mmdb; "" = off */
	char *dmarc_our_networks;	/* CIDRs of our senders; "" = none */
	char *home_countries;		/* "JP,..." outbound; "" = off */
	/* DMARC aggregate reports we send (core/dmarc_send.h). */
	bool dmarc_report_send;		/* mamorid sends them daily */
	char *dmarc_report_org_name;	/* "" = the host name */
	char *dmarc_report_from;	/* From: and MAIL FROM; "" = off */
	long dmarc_report_hour;		/* UTC hour of the daily run */
	char *dmarc_report_relay;	/* smtp://HOST:PORT */
	long dmarc_report_max_bytes;	/* whole message */
	long dmarc_report_dest_per_day;	/* reports per rua host per 24 h */

	int nclasses;
	struct class_config classes[CONFIG_MAX_CLASSES];
};

/*
 * Build a config: defaults, then the file at path (NULL: defaults only).
 * On error returns NULL and writes a message with file:line into err.
 */
struct config *config_load(const char *path, char *err, size_t errsz);
/*
 * config_load() from the bytes buf[0..n) instead of a file (fuzz-config and
 * tests); name stands for the path in messages and c->path stays NULL, so
 * the result cannot be reloaded.  buf is borrowed, not NUL-terminated.
 */
struct config *config_load_buffer(const char *buf, size_t n,
				  const char *name, char *err, size_t errsz);
void config_free(struct config *c);

/* The class by name, or NULL. */
const struct class_config *config_class(const struct config *c,
					const char *name);

/* Set one class parameter by name; used by per-account overrides.  Returns
 * 0, or -1 with a message in err. */
int config_class_set(struct class_config *cl, const char *name,
		     const char *value, char *err, size_t errsz);

/* postconf -d / -n.  Without secrets, a credential setting that is set
 * (api_token, webhook_secret: *_token, *_secret) prints as a comment
 * giving its length, never its value. */
void config_print_defaults(FILE *out);
void config_print_nondefaults(const struct config *c, FILE *out,
			      bool secrets);

/* One setting as documentation generators see it (mamori.conf(5)). */
struct config_doc {
	const char *name;
	const char *type;	/* "string", "integer", "time", "boolean", or
				 * the choices "a|b|c" */
	const char *def;	/* the default as config -d prints it */
	const char *help;
	long min, max;		/* integer and time bounds; max 0: none */
	bool reloadable;	/* SIGHUP applies it */
	bool in_class;		/* a [class NAME] setting */
};

/*
 * The i-th setting, globals first in table order, then class settings;
 * false past the end.  Strings are static (def: a buffer inside doc that
 * the next call overwrites).
 */
bool config_doc_get(size_t i, struct config_doc *doc);

/* Does domain (case-insensitive) appear in the comma/space list? */
bool config_list_has(const char *list, const char *item);

/* Parse "10", "10s", "5m", "2h", "7d"; -1 on error. */
long config_parse_time(const char *s);

#endif
