/*
 * config - declarative configuration tables, parser and postconf-style
 * printing.  See config.h.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/config.h"
#include "util/xalloc.h"

enum cfg_type {
	CFG_STR,
	CFG_INT,
	CFG_TIME,
	CFG_BOOL,
	CFG_ENUM,	/* int index into choices, "a|b|c" */
};

struct cfg_param {
	const char *name;
	enum cfg_type type;
	const char *def;
	long min, max;
	bool reloadable;
	size_t off;
	const char *choices;
	const char *help;
};

#define G(f) offsetof(struct config, f)
#define K(f) offsetof(struct class_config, f)
#define BIG LONG_MAX

static const struct cfg_param global_params[] = {
	{"policy_listen", CFG_STR, "inet:127.0.0.1:10040", 0, 0, false,
	 G(policy_listen), NULL,
	 "policy delegation listeners: inet:HOST:PORT, inet:[V6]:PORT, unix:PATH, comma-separated"},
	{"api_listen", CFG_STR, "unix:/run/mamori/api.sock", 0, 0, false,
	 G(api_listen), NULL, "admin API unix socket, unix:PATH (access by file permission)"},
	{"api_tcp_listen", CFG_STR, "", 0, 0, false, G(api_tcp_listen), NULL,
	 "optional admin API on inet:HOST:PORT, inet:[V6]:PORT (or bare HOST:PORT); requires api_token"},
	{"api_token", CFG_STR, "", 0, 0, true, G(api_token), NULL,
	 "bearer token for the TCP admin API"},
	{"api_socket_mode", CFG_INT, "432", 0, 0777, false, G(api_socket_mode),
	 NULL, "permission bits of the API socket (decimal; 432 = 0660)"},
	{"api_block_min_prefix_v4", CFG_INT, "16", 0, 32, true,
	 G(api_block_min_prefix_v4), NULL,
	 "an admin IPv4 block wider than this prefix needs force (--force)"},
	{"api_block_min_prefix_v6", CFG_INT, "32", 0, 128, true,
	 G(api_block_min_prefix_v6), NULL,
	 "an admin IPv6 block wider than this prefix needs force (--force)"},
	{"api_max_connections", CFG_INT, "64", 1, 100000, false,
	 G(api_max_connections), NULL,
	 "admin API connections served at once (unix and TCP together)"},
	{"api_max_per_client", CFG_INT, "16", 0, 100000, false,
	 G(api_max_per_client), NULL,
	 "TCP admin API connections from one client address (0 = no cap)"},
	{"api_request_timeout", CFG_TIME, "30", 1, 3600, true,
	 G(api_request_timeout), NULL,
	 "close an API connection whose request (headers and body) is unfinished this long after its first byte"},
	{"api_idle_timeout", CFG_TIME, "60", 1, 86400, true,
	 G(api_idle_timeout), NULL,
	 "close an API connection idle between requests this long"},
	{"user", CFG_STR, "", 0, 0, false, G(user), NULL,
	 "drop to this user after binding when started as root"},
	{"pid_file", CFG_STR, "", 0, 0, false, G(pid_file), NULL,
	 "write the daemon's pid here"},
	{"log_level", CFG_STR, "info", 0, 0, true, G(log_level), NULL,
	 "debug, info, notice, warn, error"},
	{"syslog", CFG_BOOL, "no", 0, 0, false, G(syslog), NULL,
	 "log to syslog (mail facility) instead of stderr"},
	{"policy_max_connections", CFG_INT, "2000", 1, 100000, false,
	 G(policy_max_connections), NULL,
	 "policy connections served at once (old name: max_connections); more are closed at once"},
	{"policy_max_per_client", CFG_INT, "1000", 0, 100000, false,
	 G(policy_max_per_client), NULL,
	 "policy connections from one client address (0 = no cap; unix peers are not capped)"},
	{"policy_socket_mode", CFG_INT, "438", 0, 0777, false,
	 G(policy_socket_mode), NULL,
	 "permission bits of unix policy sockets (decimal; 438 = 0666)"},

	{"policy_max_line", CFG_INT, "4096", 128, 65536, false,
	 G(policy_max_line), NULL, "longest attribute line in bytes"},
	{"policy_max_request", CFG_INT, "32768", 1024, 1048576, false,
	 G(policy_max_request), NULL, "largest request in bytes"},
	{"policy_max_attrs", CFG_INT, "128", 8, 4096, false,
	 G(policy_max_attrs), NULL, "most attributes in one request"},
	{"policy_idle_timeout", CFG_TIME, "600", 1, 86400, true,
	 G(policy_idle_timeout), NULL,
	 "close a connection idle between requests this long (Postfix max_idle is 300s)"},
	{"policy_request_timeout", CFG_TIME, "30", 1, 3600, true,
	 G(policy_request_timeout), NULL,
	 "close a connection whose request is unfinished this long"},

	{"store", CFG_STR, "sqlite:/var/lib/mamori/state.db", 0, 0, false,
	 G(store), NULL, "state store: sqlite:PATH, memory:, "
	 "redis:unix:PATH, redis:tcp:HOST:PORT or "
	 "redis-sentinel:MASTER@HOST:PORT,HOST:PORT (a fleet sharing one Redis)"},
	/* Read before the privileges are dropped, so it can be root's 0600. */
	{"store_password_file", CFG_STR, "", 0, 0, false,
	 G(store_password_file), NULL,
	 "redis: file whose first line is the AUTH password (read at start, "
	 "as root; never logged); empty: no AUTH"},
	{"store_user", CFG_STR, "", 0, 0, false, G(store_user), NULL,
	 "redis: the ACL user (Redis 6 and later) sent with the password as "
	 "AUTH USER PASSWORD; empty: AUTH PASSWORD (the default user)"},
	{"store_sentinel_password_file", CFG_STR, "", 0, 0, false,
	 G(store_sentinel_password_file), NULL,
	 "redis-sentinel: file whose first line is the sentinels' AUTH "
	 "password (their requirepass; read at start, as root; never logged); "
	 "empty: the sentinels are asked without AUTH"},
	{"store_sentinel_user", CFG_STR, "", 0, 0, false,
	 G(store_sentinel_user), NULL,
	 "redis-sentinel: the sentinels' ACL user (AUTH USER PASSWORD); "
	 "empty: AUTH PASSWORD"},
	{"store_timeout_ms", CFG_INT, "1000", 20, 60000, false,
	 G(store_timeout_ms), NULL,
	 "redis: one operation waits this long for an answer, then "
	 "store_failure_action answers and the server counts as down"},
	/* Read before the privileges are dropped, like the password. */
	{"fleet_key_file", CFG_STR, "", 0, 0, false, G(fleet_key_file), NULL,
	 "redis: file whose first line keys the hashes the fleet's login "
	 "counters are stored under (logins, addresses, password hashes; read "
	 "at start as root, the same on every host, never logged); empty: a "
	 "fixed key, which hides them from a casual look but not from a guesser"},
	{"fleet_fast_age", CFG_TIME, "1", 0, 60, true, G(fleet_fast_age),
	 NULL, "redis: at RCPT, skip reading the fleet's counters while this "
	 "host's copy is younger than this (whole seconds) and every limit is "
	 "at most half used (docs/design/fleet.md); 0: read them at every RCPT"},
	{"store_failure_action", CFG_ENUM, "defer", 0, 0, true,
	 G(store_failure_action), "dunno|defer",
	 "answer when a transition cannot be written: dunno (fail open) or defer (4.3.0)"},
	/* 1,000,000 accounts cost ~240 MB (241 B each measured, see
	 * docs/benchmarks.md): room for a large provider's senders on a
	 * small host, and a bound a stream of invented logins cannot pass. */
	{"max_accounts", CFG_INT, "1000000", 100, 100000000, true,
	 G(max_accounts), NULL,
	 "accounts kept in memory; when full an idle normal one is evicted, "
	 "else store_failure_action answers"},

	{"local_domains", CFG_STR, "", 0, 0, true, G(local_domains), NULL,
	 "domains whose recipients count as internal"},
	{"account_map", CFG_STR, "", 0, 0, true, G(account_map), NULL,
	 "file: LOGIN class=NAME [param=value ...] [contact=ADDR]"},
	{"sender_map", CFG_STR, "", 0, 0, true, G(sender_map), NULL,
	 "file: LOGIN ADDRESS|@DOMAIN ... (senders a login owns besides its own)"},
	{"probation_time", CFG_TIME, "7d", 60, 365 * 86400L, true,
	 G(probation_time), NULL, "probation after a release"},
	{"strike_window", CFG_TIME, "90d", 60, 3650 * 86400L, true,
	 G(strike_window), NULL, "restrictions older than this no longer count"},
	{"suspend_strikes", CFG_INT, "3", 2, 100, true, G(suspend_strikes), NULL,
	 "restriction number that suspends (only an admin lifts it)"},
	{"baseline_halflife", CFG_TIME, "7d", 3600, 365 * 86400L, true,
	 G(baseline_halflife), NULL, "half-life of an account's hourly baseline"},

	{"throttle_text", CFG_STR,
	 "4.7.1 Sending rate limit reached for this account; try again later",
	 0, 0, true, G(throttle_text), NULL, "reply text while throttled"},
	{"restrict_text", CFG_STR,
	 "5.7.1 Sending from this account has been restricted because unusual "
	 "bulk sending was detected. Please scan your PC for viruses, change "
	 "your password and contact support",
	 0, 0, true, G(restrict_text), NULL, "reply text while restricted"},
	{"suspend_text", CFG_STR,
	 "5.7.1 Sending from this account is suspended after repeated abuse. "
	 "Please contact support",
	 0, 0, true, G(suspend_text), NULL, "reply text while suspended"},

	{"held_release_command", CFG_STR, "/usr/sbin/postsuper -H", 0, 0, true,
	 G(held_release_command), NULL,
	 "command (no shell) run with the queue IDs appended (a final option such as -H is repeated before each ID) to release held mail"},
	{"held_delete_command", CFG_STR, "/usr/sbin/postsuper -d", 0, 0, true,
	 G(held_delete_command), NULL, "command run to delete held mail"},
	{"held_command_timeout", CFG_INT, "60", 1, 3600, true,
	 G(held_command_timeout), NULL,
	 "seconds a held-mail command may run before it is killed"},

	{"notify_smtp_url", CFG_STR, "smtp://127.0.0.1:25", 0, 0, true,
	 G(notify_smtp_url), NULL, "relay for notices (libcurl URL); empty = off"},
	{"notify_from", CFG_STR, "postmaster@localhost", 0, 0, true,
	 G(notify_from), NULL, "envelope and header From of notices"},
	{"abuse_desk", CFG_STR, "", 0, 0, true, G(abuse_desk), NULL,
	 "address of the abuse desk; empty = none"},
	{"notify_language", CFG_STR, "ja+en", 0, 0, true, G(notify_language),
	 NULL, "template language: ja, en or ja+en"},
	{"template_dir", CFG_STR, "", 0, 0, true, G(template_dir), NULL,
	 "directory of notice templates; empty = built-in"},
	{"contact_map", CFG_STR, "", 0, 0, true, G(contact_map), NULL,
	 "file: LOGIN ALTERNATE-ADDRESS"},
	{"webhook_url", CFG_STR, "", 0, 0, true, G(webhook_url), NULL,
	 "POST a signed JSON event here on each transition; empty = off"},
	{"webhook_secret", CFG_STR, "", 0, 0, true, G(webhook_secret), NULL,
	 "HMAC-SHA256 key for the X-Mamori-Signature header"},
	{"notify_retry_interval", CFG_TIME, "60", 1, 86400, true,
	 G(notify_retry_interval), NULL, "first retry delay (doubles)"},
	{"notify_max_tries", CFG_INT, "10", 1, 1000, true, G(notify_max_tries),
	 NULL, "give up on a notice after this many tries"},
	{"notify_timeout", CFG_TIME, "30", 1, 600, true, G(notify_timeout), NULL,
	 "timeout of one delivery attempt"},

	{"milter_listen", CFG_STR, "", 0, 0, false, G(milter_listen), NULL,
	 "milter socket for Postfix smtpd_milters (inet:PORT@HOST or unix:PATH); empty = off"},
	{"milter_max_connections", CFG_INT, "500", 1, 100000, false,
	 G(milter_max_connections), NULL,
	 "milter connections at once; more are closed at negotiation (Postfix applies milter_default_action)"},
	{"milter_timeout", CFG_TIME, "600", 1, 86400, false, G(milter_timeout),
	 NULL, "libmilter's I/O timeout: one read or write, and an idle connection (swept every 10 minutes)"},
	{"outbound_content", CFG_BOOL, "yes", 0, 0, false, G(outbound_content),
	 NULL, "the milter reads authenticated outbound mail (attachments, replies, password cues) into the account's score (weight_malware_content, weight_risky_replies)"},
	{"authserv_id", CFG_STR, "", 0, 0, true, G(authserv_id), NULL,
	 "authserv-id of our Authentication-Results; empty = the host name"},
	{"internal_networks", CFG_STR, "127.0.0.0/8, ::1/128", 0, 0, true,
	 G(internal_networks), NULL,
	 "clients whose mail is outbound (besides SMTP AUTH): signed, not checked"},
	{"dns_upstream", CFG_STR, "", 0, 0, false, G(dns_upstream), NULL,
	 "resolver for SPF/DKIM/DMARC: IP[@PORT]; empty = the system resolver"},
	{"dns_timeout_ms", CFG_INT, "5000", 100, 60000, true, G(dns_timeout_ms),
	 NULL, "per DNS query; a timeout is temperror, never fail"},
	{"dns_failure_action", CFG_ENUM, "tempfail", 0, 0, true,
	 G(dns_failure_action), "tempfail|accept",
	 "a DMARC result of temperror: tempfail (4.7.0, the sender retries) or accept"},
	{"dmarc_reject_action", CFG_ENUM, "reject", 0, 0, true,
	 G(dmarc_reject_action), "reject|quarantine|none",
	 "what p=reject failures get: 5.7.1 during SMTP, quarantine, or nothing"},
	{"dmarc_quarantine_action", CFG_ENUM, "hold", 0, 0, true,
	 G(dmarc_quarantine_action), "hold|tag|none",
	 "what quarantine gets: the hold queue, a Subject/header tag, or nothing"},
	{"dmarc_override_domains", CFG_STR, "", 0, 0, true,
	 G(dmarc_override_domains), NULL,
	 "From domains whose DMARC policy is not enforced (mailing lists)"},
	{"dmarc_trusted_forwarders", CFG_STR, "", 0, 0, true,
	 G(dmarc_trusted_forwarders), NULL,
	 "client addresses/CIDRs (forwarders) whose mail is not refused for DMARC"},
	{"dmarc_mode", CFG_ENUM, "rfc9989", 0, 0, true, G(dmarc_mode),
	 "rfc9989|rfc7489", "policy discovery: DNS tree walk or the Public Suffix List"},
	{"lookalike_protected_file", CFG_STR, "", 0, 0, true,
	 G(lookalike_protected_file), NULL,
	 "protected domains (DOMAIN [BRAND] a line) whose look-alikes are flagged; empty: none"},
	{"content_hosts_file", CFG_STR, "", 0, 0, true, G(content_hosts_file),
	 NULL, "URL shorteners, free hosting, free mail, throwaway TLDs (KIND HOST[/PATH] a line); empty: none"},
	{"dkim_key_dir", CFG_STR, "/etc/mamori/dkim", 0, 0, true, G(dkim_key_dir),
	 NULL, "DOMAIN/SELECTOR.key private keys for signing outbound mail"},
	{"correspondence_ttl", CFG_TIME, "180d", 3600, 3650 * 86400L, true,
	 G(correspondence_ttl), NULL,
	 "how long the hashed outbound correspondence log is kept"},
	{"content_checks", CFG_BOOL, "yes", 0, 0, true, G(content_checks), NULL,
	 "score inbound content (display names, look-alikes, archives, links, cue words)"},
	{"content_tag_score", CFG_INT, "5", 0, 1000, true, G(content_tag_score),
	 NULL, "content score that adds X-Mamori-Verdict (and the Subject prefix); 0 = never"},
	{"content_hold_score", CFG_INT, "10", 0, 1000, true,
	 G(content_hold_score), NULL,
	 "content score that puts the message on the hold queue; 0 = never"},
	{"content_reject_score", CFG_INT, "20", 0, 1000, true,
	 G(content_reject_score), NULL,
	 "content score refused with 550 5.7.1 at end of data; 0 = never"},
	{"content_label_score", CFG_INT, "4", 1, 1000, true,
	 G(content_label_score), NULL,
	 "points a scam-type label's reasons need for the label to be attached"},
	{"content_subject_prefix", CFG_STR, "", 0, 0, true,
	 G(content_subject_prefix), NULL,
	 "prefix added to the Subject of tagged mail (e.g. [SPAM?]); empty = none"},
	{"content_max_size", CFG_INT, "10485760", 65536, 67108864, true,
	 G(content_max_size), NULL,
	 "bytes of a message kept for the content checks (the rest is not inspected)"},
	{"content_index_max", CFG_INT, "1048576", 1024, 67108864, false,
	 G(content_index_max), NULL,
	 "known-correspondent index: keys per generation (two kept, 32 bytes per key)"},
	/* Emotet answers threads weeks to months old: keep what a thread
	 * lives, like the correspondence log. */
	{"sent_log_ttl", CFG_TIME, "180d", 86400, 3650 * 86400L, false,
	 G(sent_log_ttl), NULL,
	 "how long the sent Message-ID log (hijacked threads, backscatter) keeps a message"},
	/* ~100 bytes each, at most 344 (core/sentlog.h): 200,000 is 180
	 * days of a 75-person office at 15 messages a day in ~20 MB. */
	{"sent_log_max", CFG_INT, "200000", 0, 10000000, false,
	 G(sent_log_max), NULL,
	 "messages the sent log keeps (memory and store); the oldest go first; 0 = off"},
	{"backscatter_action", CFG_ENUM, "tag", 0, 0, true,
	 G(backscatter_action), "reject|hold|tag|none",
	 "a bounce or auto-reply for mail never sent from here: 5.7.1 during SMTP, the hold queue, an X-Mamori-Backscatter header (for a Sieve rule), or nothing"},
	/* Postfix's maximal_queue_lifetime: a bounce can come 5 days late. */
	{"backscatter_warmup", CFG_TIME, "5d", 0, 365 * 86400L, true,
	 G(backscatter_warmup), NULL,
	 "after the sent log begins, bounces are not judged this long (mail sent before it was not recorded)"},

	{"auth_policy_listen", CFG_STR, "inet:127.0.0.1:10042", 0, 0, false,
	 G(auth_policy_listen), NULL,
	 "Dovecot auth_policy_server_url endpoint: inet:HOST:PORT, inet:[V6]:PORT or unix:PATH; empty = off"},
	{"auth_policy_max_connections", CFG_INT, "500", 1, 100000, false,
	 G(auth_policy_max_connections), NULL,
	 "auth-policy connections served at once (Dovecot opens up to 100 per auth process)"},
	{"auth_policy_max_per_client", CFG_INT, "200", 0, 100000, false,
	 G(auth_policy_max_per_client), NULL,
	 "auth-policy connections from one client address (0 = no cap)"},
	{"auth_policy_request_timeout", CFG_TIME, "30", 1, 3600, true,
	 G(auth_policy_request_timeout), NULL,
	 "close an auth-policy connection whose request (headers and body) is unfinished this long after its first byte"},
	{"auth_policy_idle_timeout", CFG_TIME, "60", 1, 86400, true,
	 G(auth_policy_idle_timeout), NULL,
	 "close an auth-policy connection idle between requests this long"},
	{"auth_policy_socket_mode", CFG_INT, "432", 0, 0777, false,
	 G(auth_policy_socket_mode), NULL,
	 "permission bits of a unix auth_policy_listen socket (decimal; 432 = 0660)"},
	{"auth_policy_api_key", CFG_STR, "", 0, 0, true, G(auth_policy_api_key),
	 NULL, "if set, Dovecot must send it (auth_policy_server_api_header)"},
	{"auth_policy_fail_action", CFG_ENUM, "allow", 0, 0, true,
	 G(auth_policy_fail_action), "allow|reject",
	 "answer to a request mamori cannot parse (Dovecot's invalid JSON)"},
	{"auth_pwversion_attr", CFG_STR, "", 0, 0, true, G(auth_pwversion_attr),
	 NULL, "auth_policy_request_attributes key holding a password version or change time"},
	{"auth_allowlist", CFG_STR, "", 0, 0, true, G(auth_allowlist), NULL,
	 "addresses and CIDR ranges never delayed or blocked (office NAT, CGNAT); "
	 "entries with an end can also be added at run time (POST /v1/allowlist, "
	 "the web UI's Logins page), kept in the store"},
	{"auth_window", CFG_TIME, "1h", 60, 86400, true, G(auth_window), NULL,
	 "window of the login counters"},
	{"auth_stuffing_logins", CFG_INT, "20", 2, 1000000, true,
	 G(auth_stuffing_logins), NULL,
	 "distinct logins from one address within auth_window that may be stuffing"},
	{"auth_stuffing_net_logins", CFG_INT, "50", 2, 1000000, true,
	 G(auth_stuffing_net_logins), NULL,
	 "distinct logins from one /24 or /64 within auth_window that may be stuffing"},
	{"auth_stuffing_fail_ratio", CFG_INT, "50", 1, 100, true,
	 G(auth_stuffing_fail_ratio), NULL,
	 "percent of failed attempts that makes many logins stuffing (a bad list)"},
	{"auth_stuffing_new_ratio", CFG_INT, "80", 1, 100, true,
	 G(auth_stuffing_new_ratio), NULL,
	 "percent of accounts for which the network is new that makes many logins stuffing (a good list)"},
	{"auth_stuffing_max_repeat", CFG_INT, "150", 100, 10000, true,
	 G(auth_stuffing_max_repeat), NULL,
	 "attempts per distinct login x100 at most, for the good-list rule (people log in again and again)"},
	{"auth_bruteforce_failures", CFG_INT, "10", 2, 100000, true,
	 G(auth_bruteforce_failures), NULL,
	 "failures from one address against one account within auth_window"},
	{"auth_distributed_ips", CFG_INT, "10", 2, 100000, true,
	 G(auth_distributed_ips), NULL,
	 "distinct addresses failing for one account within auth_window"},
	{"auth_list_fail_accounts", CFG_INT, "33", 1, 100, true,
	 G(auth_list_fail_accounts), NULL,
	 "percent of an address's accounts that never log in from it, with none coming back, that makes it a list"},
	{"auth_campaign_addrs", CFG_INT, "10", 2, 100000, true,
	 G(auth_campaign_addrs), NULL,
	 "first-seen list-like addresses within auth_window that make a rotating-address campaign"},
	{"auth_delay", CFG_INT, "3", 1, 60, true, G(auth_delay), NULL,
	 "seconds Dovecot delays a suspicious login"},
	{"auth_block_time", CFG_TIME, "1h", 60, 365 * 86400L, true,
	 G(auth_block_time), NULL, "first block of an attacking address; doubles on recurrence"},
	{"auth_block_max", CFG_TIME, "7d", 60, 365 * 86400L, true,
	 G(auth_block_max), NULL, "longest automatic block"},
	{"auth_compromised_action", CFG_ENUM, "restrict", 0, 0, true,
	 G(auth_compromised_action), "restrict|flag|none",
	 "for an account entered by an attacker: restrict its sending, only flag it, or nothing"},
	{"auth_new_network_risk", CFG_TIME, "1h", 0, 86400 * 7L, true,
	 G(auth_new_network_risk), NULL,
	 "how long a login from a new network raises the account's outbound score"},
	{"geoip_db", CFG_STR, "", 0, 0, true, G(geoip_db), NULL,
	 "country database for the country signals, re-read on reload: a .mmdb (GeoLite2, DB-IP) or Tor's text ranges (tor-geoipdb: /usr/share/tor/geoip, PATH6 too; told by content or a tor: prefix); empty = off"},
	{"dmarc_our_networks", CFG_STR, "", 0, 0, true,
	 G(dmarc_our_networks), NULL,
	 "our sending networks (CIDRs, comma-separated): sources there are \"ours\" in mamori dmarc sources"},
	{"home_countries", CFG_STR, "", 0, 0, true, G(home_countries), NULL,
	 "countries (ISO 3166 two letters, e.g. JP) the provider's customers send from; a client elsewhere is an outbound signal from the first message, and in a login campaign an all-valid address elsewhere is listed at once, one inside never swept (needs geoip_db); empty = off"},
	{"dmarc_report_send", CFG_BOOL, "no", 0, 0, true,
	 G(dmarc_report_send), NULL,
	 "mamorid mails DMARC aggregate reports (RFC 9990) of the inbound mail once a day"},
	{"dmarc_report_org_name", CFG_STR, "", 0, 0, true,
	 G(dmarc_report_org_name), NULL,
	 "org_name and Submitter of the reports we send; empty = the host name"},
	{"dmarc_report_from", CFG_STR, "", 0, 0, true, G(dmarc_report_from),
	 NULL, "From: and envelope sender of the reports we send (an address whose domain passes DMARC); empty = no report is sent"},
	{"dmarc_report_hour", CFG_INT, "2", 0, 23, true, G(dmarc_report_hour),
	 NULL, "UTC hour at which mamorid sends the previous days' reports"},
	{"dmarc_report_relay", CFG_STR, "smtp://127.0.0.1:25", 0, 0, true,
	 G(dmarc_report_relay), NULL,
	 "SMTP relay the reports are handed to: smtp://HOST[:PORT]"},
	{"dmarc_report_max_bytes", CFG_INT, "10485760", 4096, 1L << 30, true,
	 G(dmarc_report_max_bytes), NULL,
	 "largest report message we send (bytes); a rua's own !size limit also applies"},
	{"dmarc_report_dest_per_day", CFG_INT, "100", 1, 1000000, true,
	 G(dmarc_report_dest_per_day), NULL,
	 "reports sent to one rua host per 24 hours; the rest wait for the next run"},
};

static const struct cfg_param class_params[] = {
	{"mode", CFG_ENUM, "enforce", 0, 0, true, K(mode), "enforce|observe",
	 "observe: decide and record, but answer DUNNO"},
	{"msgs_per_minute", CFG_INT, "30", 1, BIG, true, K(msgs_per_minute),
	 NULL, "messages per minute"},
	{"msgs_per_hour", CFG_INT, "300", 1, BIG, true, K(msgs_per_hour), NULL,
	 "messages per hour"},
	{"ext_rcpts_per_hour", CFG_INT, "500", 1, BIG, true,
	 K(ext_rcpts_per_hour), NULL, "external recipients per hour"},
	{"int_rcpts_per_hour", CFG_INT, "1000", 1, BIG, true,
	 K(int_rcpts_per_hour), NULL, "internal recipients per hour"},
	{"rcpts_per_day", CFG_INT, "1000", 1, BIG, true, K(rcpts_per_day), NULL,
	 "recipients per day"},
	{"score_throttle", CFG_INT, "50", 1, 10000, true, K(score_throttle),
	 NULL, "compromise score that throttles"},
	{"score_restrict", CFG_INT, "100", 1, 10000, true, K(score_restrict),
	 NULL, "compromise score that restricts"},
	{"restrict_action", CFG_ENUM, "hold", 0, 0, true, K(restrict_action),
	 "hold|reject", "hold: into Postfix's hold queue; reject: 5.7.1"},
	{"throttle_time", CFG_TIME, "15m", 10, 86400, true, K(throttle_time),
	 NULL, "how long a throttle lasts"},
	{"throttle_escalate", CFG_INT, "20", 1, 100000, true,
	 K(throttle_escalate), NULL,
	 "recipients refused while throttled before restricting"},
	{"surge_factor", CFG_INT, "10", 2, 1000, true, K(surge_factor), NULL,
	 "hourly messages over baseline x this is a surge"},
	{"surge_min_msgs", CFG_INT, "20", 1, BIG, true, K(surge_min_msgs), NULL,
	 "fewer messages in an hour are never a surge"},
	{"multi_ip_networks", CFG_INT, "3", 2, 1000, true,
	 K(multi_ip_networks), NULL,
	 "distinct client networks (/24, /48) for one login within multi_ip_window"},
	{"multi_ip_window", CFG_TIME, "10m", 60, 86400, true,
	 K(multi_ip_window), NULL, "window of the multi-network signal"},
	{"rcpt_domains_per_hour", CFG_INT, "15", 2, 100000, true,
	 K(rcpt_domains_per_hour), NULL,
	 "distinct external recipient domains per hour"},
	{"new_network_min_age", CFG_TIME, "0", 0, 365 * 86400L, true,
	 K(new_network_min_age), NULL,
	 "account history needed before an unseen network counts"},
	{"weight_limit", CFG_INT, "50", 0, 10000, true, K(weight_limit), NULL,
	 "score of exceeding a class limit"},
	{"weight_surge", CFG_INT, "40", 0, 10000, true, K(weight_surge), NULL,
	 "score of a surge against the baseline"},
	{"weight_multi_ip", CFG_INT, "30", 0, 10000, true, K(weight_multi_ip),
	 NULL, "score of many client networks"},
	{"weight_new_network", CFG_INT, "20", 0, 10000, true,
	 K(weight_new_network), NULL, "score of an unseen client network"},
	{"weight_rcpt_domains", CFG_INT, "30", 0, 10000, true,
	 K(weight_rcpt_domains), NULL, "score of many recipient domains"},
	{"weight_sender_mismatch", CFG_INT, "30", 0, 10000, true,
	 K(weight_sender_mismatch), NULL,
	 "score of envelope senders the login does not own"},
	{"weight_login_risk", CFG_INT, "20", 0, 10000, true,
	 K(weight_login_risk), NULL, "score of a risky login (new network)"},
	{"unowned_sender_action", CFG_ENUM, "signal", 0, 0, true,
	 K(unowned_sender_action), "signal|reject",
	 "envelope sender in a domain not hosted here nor mapped to the login: "
	 "a signal, or refused at RCPT (5.7.1)"},
	{"weight_unowned_sender", CFG_INT, "40", 0, 10000, true,
	 K(weight_unowned_sender), NULL,
	 "score of a sender in a domain the provider does not host"},
	{"rcpt_rate_per_minute", CFG_INT, "30", 1, BIG, true,
	 K(rcpt_rate_per_minute), NULL, "recipients within 60 s that count as a burst"},
	{"weight_rcpt_rate", CFG_INT, "25", 0, 10000, true,
	 K(weight_rcpt_rate), NULL, "score of a recipient burst"},
	{"multi_net16", CFG_INT, "3", 2, 1000, true, K(multi_net16), NULL,
	 "distinct /16s (IPv6 /32s) within multi_ip_window that add weight_multi_net16"},
	{"weight_multi_net16", CFG_INT, "15", 0, 10000, true,
	 K(weight_multi_net16), NULL, "added to multi_ip when the networks are far apart"},
	{"new_rcpts_per_hour", CFG_INT, "8", 1, BIG, true,
	 K(new_rcpts_per_hour), NULL,
	 "recipients never written to before, per hour, for an account with correspondents"},
	{"weight_new_rcpts", CFG_INT, "20", 0, 10000, true,
	 K(weight_new_rcpts), NULL, "score of many never-written recipients"},
	{"surge_odds", CFG_INT, "10000", 10, 1000000000L, true, K(surge_odds),
	 NULL, "a surge: this hour's messages have less than 1/odds chance at the habitual rate (Poisson)"},
	{"weight_new_network_near", CFG_INT, "5", 0, 10000, true,
	 K(weight_new_network_near), NULL,
	 "score of an unseen network inside a /16 the account already uses, and of multi_ip inside one /16"},
	{"weight_foreign_country", CFG_INT, "25", 0, 10000, true,
	 K(weight_foreign_country), NULL,
	 "score of a client country outside home_countries and the account's habit, or one an account with a country habit never used"},
	{"foreign_msgs_per_hour", CFG_INT, "6", 1, BIG, true,
	 K(foreign_msgs_per_hour), NULL,
	 "messages in an hour from such a country that add weight_foreign_volume"},
	{"weight_foreign_volume", CFG_INT, "25", 0, 10000, true,
	 K(weight_foreign_volume), NULL,
	 "score of foreign_msgs_per_hour messages from a foreign or unused country"},
	{"country_breadth", CFG_INT, "3", 2, 3, true, K(country_breadth), NULL,
	 "distinct client countries within multi_ip_window that count as breadth (2 or 3: an account keeps its last three)"},
	{"weight_country_breadth", CFG_INT, "45", 0, 10000, true,
	 K(weight_country_breadth), NULL,
	 "score of country_breadth countries within multi_ip_window"},
	{"weight_malware_content", CFG_INT, "20", 0, 10000, true,
	 K(weight_malware_content), NULL,
	 "score per outbound message this hour (milter, at most two counted) carrying an executable, or an encrypted archive with its password in the same message; two such messages with risky_replies, surge or new_rcpts restrict at the throttle threshold"},
	{"risky_reply_threads", CFG_INT, "3", 1, 32, true,
	 K(risky_reply_threads), NULL,
	 "distinct threads an hour into which the account replied with encrypted archives, macros or executables (milter) that add weight_risky_replies"},
	{"weight_risky_replies", CFG_INT, "25", 0, 10000, true,
	 K(weight_risky_replies), NULL,
	 "score of risky_reply_threads threads of replies with risky attachments in an hour"},
};

#define NGLOBAL (sizeof(global_params) / sizeof(global_params[0]))
#define NCLASS (sizeof(class_params) / sizeof(class_params[0]))

long config_parse_time(const char *s)
{
	char *end;
	long v, mul = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || v < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 7 * 86400; break;
	default: return -1;
	}
	if (*end && end[1] != '\0')
		return -1;
	if (v > LONG_MAX / mul)
		return -1;
	return v * mul;
}

/* Index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value)
{
	size_t n = strlen(value);
	int i = 0;
	const char *p = choices;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncasecmp(p, value, n) == 0)
			return i;
		i++;
		if (!bar)
			break;
		p = bar + 1;
	}
	return -1;
}

static const char *param_choices(const struct cfg_param *p)
{
	return p->choices ? p->choices : "";
}

/* Parse value into the field of base described by p. */
static int param_set(const struct cfg_param *p, void *base, const char *value,
		     char *err, size_t errsz)
{
	char *field = (char *)base + p->off;
	char *end;
	long v;
	int i;

	switch (p->type) {
	case CFG_STR:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CFG_BOOL:
		if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") ||
		    !strcmp(value, "1")) {
			*(bool *)field = true;
		} else if (!strcasecmp(value, "no") ||
			   !strcasecmp(value, "false") || !strcmp(value, "0")) {
			*(bool *)field = false;
		} else {
			snprintf(err, errsz, "%s: expected yes or no, got \"%s\"",
				 p->name, value);
			return -1;
		}
		return 0;
	case CFG_ENUM:
		i = choice_index(param_choices(p), value);
		if (i < 0) {
			snprintf(err, errsz, "%s: expected one of %s, got \"%s\"",
				 p->name, param_choices(p), value);
			return -1;
		}
		*(int *)field = i;
		return 0;
	case CFG_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end) {
			snprintf(err, errsz, "%s: expected a number, got \"%s\"",
				 p->name, value);
			return -1;
		}
		break;
	case CFG_TIME:
		v = config_parse_time(value);
		if (v < 0) {
			snprintf(err, errsz,
				 "%s: expected a time like 30s, 10m, 2h, 7d, got \"%s\"",
				 p->name, value);
			return -1;
		}
		break;
	default:
		return -1;
	}
	if (v < p->min || (p->max && v > p->max)) {
		snprintf(err, errsz, "%s: %ld is outside %ld..%ld", p->name, v,
			 p->min, p->max);
		return -1;
	}
	*(long *)field = v;
	return 0;
}

/* Render the field's current value into out. */
static void param_get(const struct cfg_param *p, const void *base, char *out,
		      size_t outsz)
{
	const char *field = (const char *)base + p->off;
	const char *ch;
	int i, idx;

	switch (p->type) {
	case CFG_STR:
		snprintf(out, outsz, "%s", *(char *const *)field ?
			 *(char *const *)field : "");
		break;
	case CFG_BOOL:
		snprintf(out, outsz, "%s", *(const bool *)field ? "yes" : "no");
		break;
	case CFG_ENUM:
		idx = *(const int *)field;
		ch = param_choices(p);
		for (i = 0; i < idx && ch; i++) {
			ch = strchr(ch, '|');
			if (ch)
				ch++;
		}
		if (!ch)
			ch = "";
		snprintf(out, outsz, "%.*s", (int)strcspn(ch, "|"), ch);
		break;
	case CFG_INT:
	case CFG_TIME:
		snprintf(out, outsz, "%ld", *(const long *)field);
		break;
	}
}

static const struct cfg_param *find_param(const struct cfg_param *t, size_t n,
					  const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

static void apply_defaults(const struct cfg_param *t, size_t n, void *base)
{
	char err[256];
	size_t i;

	for (i = 0; i < n; i++) {
		int r = param_set(&t[i], base, t[i].def, err, sizeof(err));

		(void)r;
	}
}

static void class_copy(struct class_config *dst, const struct class_config *src,
		       const char *name)
{
	*dst = *src;
	snprintf(dst->name, sizeof(dst->name), "%s", name);
}

static struct class_config *class_get_or_add(struct config *c, const char *name)
{
	int i;

	for (i = 0; i < c->nclasses; i++)
		if (strcmp(c->classes[i].name, name) == 0)
			return &c->classes[i];
	if (c->nclasses == CONFIG_MAX_CLASSES)
		return NULL;
	class_copy(&c->classes[c->nclasses], &c->classes[0], name);
	return &c->classes[c->nclasses++];
}

const struct class_config *config_class(const struct config *c, const char *name)
{
	int i;

	for (i = 0; i < c->nclasses; i++)
		if (strcmp(c->classes[i].name, name) == 0)
			return &c->classes[i];
	return NULL;
}

int config_class_set(struct class_config *cl, const char *name,
		     const char *value, char *err, size_t errsz)
{
	const struct cfg_param *p = find_param(class_params, NCLASS, name);

	if (!p) {
		snprintf(err, errsz, "unknown class parameter \"%s\"", name);
		return -1;
	}
	return param_set(p, cl, value, err, errsz);
}

/* A config line, newline included; a value printed back (config -n) fits
 * the same buffer, so what a file can set is printed whole. */
#define CFG_LINE_MAX 4096

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static struct config *config_defaults(void)
{
	struct config *c = xcalloc(1, sizeof(*c));

	apply_defaults(global_params, NGLOBAL, c);
	apply_defaults(class_params, NCLASS, &c->classes[0]);
	snprintf(c->classes[0].name, sizeof(c->classes[0].name), "default");
	c->nclasses = 1;
	return c;
}

/*
 * Class sections are applied after the default class is complete, so that a
 * [class default] section appearing late still seeds every other class.
 * We therefore parse in two passes: globals and [class default] first, then
 * the remaining sections.
 */
static int parse_file(struct config *c, FILE *f, const char *path, int pass,
		      char *err, size_t errsz)
{
	char line[CFG_LINE_MAX], e[256];
	char section[CONFIG_NAME_MAX] = "";
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *name, *value;
		const struct cfg_param *p;
		bool in_default;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errsz, "%s:%d: line too long", path, lineno);
			return -1;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			char *nm;

			if (!close || strncmp(s, "[class", 6) != 0 ||
			    !isspace((unsigned char)s[6])) {
				snprintf(err, errsz,
					 "%s:%d: expected [class NAME]", path,
					 lineno);
				return -1;
			}
			*close = '\0';
			nm = trim(s + 7);
			if (*nm == '\0' || strlen(nm) >= CONFIG_NAME_MAX ||
			    strspn(nm, "abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
			    strlen(nm)) {
				snprintf(err, errsz, "%s:%d: bad class name",
					 path, lineno);
				return -1;
			}
			snprintf(section, sizeof(section), "%s", nm);
			if (pass == 2 && !class_get_or_add(c, section)) {
				snprintf(err, errsz, "%s:%d: too many classes",
					 path, lineno);
				return -1;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errsz, "%s:%d: expected name = value",
				 path, lineno);
			return -1;
		}
		*eq = '\0';
		name = trim(s);
		value = trim(eq + 1);
		in_default = strcmp(section, "default") == 0;
		if (section[0] == '\0') {
			/* The old name of policy_max_connections. */
			if (strcmp(name, "max_connections") == 0)
				name = "policy_max_connections";
			p = find_param(global_params, NGLOBAL, name);
			if (!p) {
				snprintf(err, errsz, "%s:%d: unknown parameter \"%s\"%s",
					 path, lineno, name,
					 find_param(class_params, NCLASS, name) ?
					 " (a class parameter: put it under [class default])" : "");
				return -1;
			}
			if (pass == 1 && param_set(p, c, value, e, sizeof(e))) {
				snprintf(err, errsz, "%s:%d: %s", path, lineno, e);
				return -1;
			}
			continue;
		}
		p = find_param(class_params, NCLASS, name);
		if (!p) {
			snprintf(err, errsz, "%s:%d: unknown class parameter \"%s\"",
				 path, lineno, name);
			return -1;
		}
		if ((pass == 1 && in_default) || (pass == 2 && !in_default)) {
			struct class_config *cl = in_default ? &c->classes[0] :
				class_get_or_add(c, section);

			if (param_set(p, cl, value, e, sizeof(e))) {
				snprintf(err, errsz, "%s:%d: %s", path, lineno, e);
				return -1;
			}
		}
	}
	return 0;
}

static int validate(struct config *c, char *err, size_t errsz)
{
	int i;

	if (c->api_tcp_listen[0] && !c->api_token[0]) {
		snprintf(err, errsz, "api_tcp_listen requires api_token");
		return -1;
	}
	if (strcmp(c->notify_language, "ja") && strcmp(c->notify_language, "en") &&
	    strcmp(c->notify_language, "ja+en")) {
		snprintf(err, errsz, "notify_language: expected ja, en or ja+en, got \"%s\"",
			 c->notify_language);
		return -1;
	}
	if (strncmp(c->store, "sqlite:", 7) && strcmp(c->store, "memory:") &&
	    strncmp(c->store, "redis:", 6) &&
	    strncmp(c->store, "redis-sentinel:", 15)) {
		snprintf(err, errsz,
			 "store: unknown type in \"%s\" (sqlite:PATH, memory:, "
			 "redis:... or redis-sentinel:...)", c->store);
		return -1;
	}
	for (i = 0; i < c->nclasses; i++) {
		struct class_config *cl = &c->classes[i];

		if (cl->score_throttle > cl->score_restrict) {
			snprintf(err, errsz,
				 "class %s: score_throttle %ld exceeds score_restrict %ld",
				 cl->name, cl->score_throttle, cl->score_restrict);
			return -1;
		}
	}
	return 0;
}

/* config_load() from the file at path, or from buf[0..n) if buf is set. */
static struct config *load(const char *path, const char *buf, size_t n,
			   char *err, size_t errsz)
{
	struct config *c = config_defaults();
	int pass;

	if (path && (!buf || n > 0)) {
		for (pass = 1; pass <= 2; pass++) {
			FILE *f = buf ? fmemopen((void *)buf, n, "r") :
				  fopen(path, "r");
			int r;

			if (!f) {
				snprintf(err, errsz, "%s: %s", path, strerror(errno));
				config_free(c);
				return NULL;
			}
			r = parse_file(c, f, path, pass, err, errsz);
			fclose(f);
			if (r) {
				config_free(c);
				return NULL;
			}
		}
		if (!buf)
			c->path = xstrdup(path);
	}
	if (validate(c, err, errsz)) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct config *config_load(const char *path, char *err, size_t errsz)
{
	return load(path, NULL, 0, err, errsz);
}

struct config *config_load_buffer(const char *buf, size_t n,
				  const char *name, char *err, size_t errsz)
{
	return load(name ? name : "(buffer)", buf ? buf : "", n, err, errsz);
}

void config_free(struct config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < NGLOBAL; i++)
		if (global_params[i].type == CFG_STR)
			free(*(char **)((char *)c + global_params[i].off));
	free(c->path);
	free(c);
}

static void print_table(FILE *out, const struct cfg_param *t, size_t n,
			const void *base, const void *defbase, bool help)
{
	char v[CFG_LINE_MAX], d[CFG_LINE_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		param_get(&t[i], base, v, sizeof(v));
		if (defbase) {
			param_get(&t[i], defbase, d, sizeof(d));
			if (strcmp(v, d) == 0)
				continue;
		}
		if (help)
			fprintf(out, "# %s\n", t[i].help);
		fprintf(out, "%s = %s\n", t[i].name, v);
	}
}

void config_print_defaults(FILE *out)
{
	struct config *c = config_defaults();

	print_table(out, global_params, NGLOBAL, c, NULL, true);
	fprintf(out, "\n[class default]\n");
	print_table(out, class_params, NCLASS, &c->classes[0], NULL, true);
	config_free(c);
}

void config_print_nondefaults(const struct config *c, FILE *out)
{
	struct config *d = config_defaults();
	int i;

	print_table(out, global_params, NGLOBAL, c, d, false);
	for (i = 0; i < c->nclasses; i++) {
		const struct class_config *base = i == 0 ? &d->classes[0] :
			&c->classes[0];
		char v[CFG_LINE_MAX], dv[CFG_LINE_MAX];
		size_t k;
		bool any = false;

		for (k = 0; k < NCLASS; k++) {
			param_get(&class_params[k], &c->classes[i], v, sizeof(v));
			param_get(&class_params[k], base, dv, sizeof(dv));
			if (strcmp(v, dv) == 0)
				continue;
			if (!any)
				fprintf(out, "\n[class %s]\n", c->classes[i].name);
			any = true;
			fprintf(out, "%s = %s\n", class_params[k].name, v);
		}
		if (!any && i > 0)
			fprintf(out, "\n[class %s]\n", c->classes[i].name);
	}
	config_free(d);
}

bool config_doc_get(size_t i, struct config_doc *doc)
{
	static char def[CFG_LINE_MAX];
	static const char *const types[] = {
		[CFG_STR] = "string", [CFG_INT] = "integer",
		[CFG_TIME] = "time", [CFG_BOOL] = "boolean",
	};
	const struct cfg_param *p;
	struct config *c;

	if (i >= NGLOBAL + NCLASS)
		return false;
	p = i < NGLOBAL ? &global_params[i] : &class_params[i - NGLOBAL];
	c = config_defaults();
	param_get(p, i < NGLOBAL ? (const void *)c : &c->classes[0], def,
		  sizeof(def));
	config_free(c);
	*doc = (struct config_doc){
		.name = p->name, .def = def, .help = p->help, .min = p->min,
		.max = p->max == BIG ? 0 : p->max,
		.reloadable = p->reloadable, .in_class = i >= NGLOBAL,
		.type = p->type == CFG_ENUM ? param_choices(p) : types[p->type],
	};
	return true;
}

bool config_list_has(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p = list;

	while (*p) {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == n && len && strncasecmp(p, item, n) == 0)
			return true;
		p += len;
	}
	return false;
}
