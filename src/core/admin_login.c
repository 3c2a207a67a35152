/*
 * admin_login - the admin calls of the login-abuse engine the core holds
 * (core_set_login): blocked client addresses and attack incidents, for
 * /v1/ips and /v1/incidents.  See admin.h.
 *
 * The engine answers at once on the loop thread.  Its address states come
 * back typed (struct core_ip_state); its incidents are the records it
 * stores as JSON documents and pass through as text.
 *
 * Limits and why:
 *   ADMIN_IP_MAX      64 bytes of address or CIDR: the longest IPv6 text
 *                     form (45, RFC 4291 2.2 with an embedded IPv4 address)
 *                     and "/128";
 *   ADMIN_BLOCK_MAX   ten years, the engine's own cap (its times are
 *                     32-bit): refused rather than cut silently;
 *   ADMIN_ID_MAX      64 bytes of incident ID (the engine's are < 40).
 * A manual block wider than api_block_min_prefix_v4 (IPv4) or _v6 needs
 * force: one typo ("10.0.0.0/8" for "10.0.0.0/28") must not lock out a
 * whole provider.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "auth/login.h"
#include "core/admin-internal.h"
#include "util/xalloc.h"

#define ADMIN_IP_MAX 64
#define ADMIN_BLOCK_MAX (3650L * 86400)
#define ADMIN_ID_MAX 64

void core_set_login(struct core *c, struct login_engine *e)
{
	c->login = e;
}

char *core_login_stats_json(struct core *c)
{
	json_t *j;
	char *s;

	if (!c->login)
		return NULL;
	j = login_stats(c->login);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

char *core_login_account_json(struct core *c, const char *login)
{
	json_t *j;
	char *s;

	if (!c->login)
		return NULL;
	j = login_account_show(c->login, login);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

/* Answer NOTFOUND when the engine is off; true when it is on. */
static bool engine_on(struct core *c, core_admin_cb *cb, void *arg)
{
	if (c->login)
		return true;
	core_reply(cb, arg, CORE_E_NOTFOUND, "login-abuse detection is off");
	return false;
}

int core_cidr_norm(const char *s, char *out, size_t outsz, int *family,
		   int *bits_out)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned char b[16];
	char addr[ADMIN_IP_MAX + 1], txt[INET6_ADDRSTRLEN];
	int af, bits, max, i;

	if (n == 0 || n > ADMIN_IP_MAX)
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	max = af == AF_INET ? 32 : 128;
	if (inet_pton(af, addr, b) != 1)
		return -1;
	bits = max;
	if (slash) {
		const char *p = slash + 1;

		if (!*p || strlen(p) > 3)
			return -1;
		for (bits = 0; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			bits = bits * 10 + (*p - '0');
		}
		if (bits > max)
			return -1;
	}
	for (i = 0; i < max / 8; i++) {
		int keep = bits - i * 8;

		if (keep < 8)
			b[i] &= keep <= 0 ? 0 :
				(unsigned char)(0xff << (8 - keep));
	}
	if (!inet_ntop(af, b, txt, sizeof(txt)))
		return -1;
	if (bits == max)
		snprintf(out, outsz, "%s", txt);
	else
		snprintf(out, outsz, "%s/%d", txt, bits);
	*family = af;
	*bits_out = bits;
	return 0;
}

/* A string member, or "". */
static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* One engine list entry as a typed state; strings point into o. */
static void ip_from_json(const json_t *o, struct core_ip_state *s)
{
	const json_t *until = json_object_get(o, "until");

	memset(s, 0, sizeof(*s));
	s->ip = jstr(o, "ip");
	s->state = jstr(o, "state");
	s->since = (int64_t)json_integer_value(json_object_get(o, "since"));
	s->have_until = json_is_integer(until);
	s->until = (int64_t)json_integer_value(until);
	s->level = (int)json_integer_value(json_object_get(o, "level"));
	s->rule = jstr(o, "rule");
	s->reason = jstr(o, "reason");
	s->actor = json_is_string(json_object_get(o, "actor")) ?
		   jstr(o, "actor") : NULL;
	s->manual = json_is_true(json_object_get(o, "manual"));
	s->incident = jstr(o, "incident");
}

/* Answer with the engine's states; only the entry for key when key is
 * set (CORE_R_IP), NULL when there is none. */
static bool reply_ips(struct core *c, const char *key, core_admin_cb *cb,
		      void *arg)
{
	json_t *list = login_ips_list(c->login), *v;
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = key ? CORE_R_IP : CORE_R_IPS };
	struct core_ip_state *s;
	size_t i, n = 0;

	s = xcalloc(json_array_size(list) + 1, sizeof(*s));
	json_array_foreach(list, i, v) {
		if (key && strcmp(jstr(v, "ip"), key) != 0)
			continue;
		ip_from_json(v, &s[n++]);
		if (key)
			break;
	}
	r.ips.v = s;
	r.ips.n = n;
	if (!key || n)
		cb(arg, &r);
	free(s);
	json_decref(list);
	return !key || n;
}

void core_ips_list(struct core *c, core_admin_cb *cb, void *arg)
{
	if (engine_on(c, cb, arg))
		reply_ips(c, NULL, cb, arg);
}

void core_ip_block(struct core *c, const char *ip, long seconds,
		   const char *reason, bool force, const char *actor,
		   core_admin_cb *cb, void *arg)
{
	char err[256] = "", key[ADMIN_IP_MAX + 8], msg[320];
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_IP };
	struct core_ip_state s = { .state = "blocked", .rule = "manual",
				   .manual = true, .incident = "" };
	long min;
	int af, bits;

	if (!engine_on(c, cb, arg))
		return;
	if (!ip || !*ip || !reason || !*reason) {
		core_reply(cb, arg, CORE_E_INVALID, "ip and reason are required");
		return;
	}
	if (core_cidr_norm(ip, key, sizeof(key), &af, &bits) != 0) {
		core_reply(cb, arg, CORE_E_INVALID,
			   "\"ip\" is not an address or CIDR range");
		return;
	}
	if (seconds < 0 || seconds > ADMIN_BLOCK_MAX) {
		snprintf(msg, sizeof(msg), "\"seconds\" must be a whole number "
			 "from 0 (the default) to %ld", ADMIN_BLOCK_MAX);
		core_reply(cb, arg, CORE_E_INVALID, msg);
		return;
	}
	min = af == AF_INET ? c->cfg->api_block_min_prefix_v4 :
	      c->cfg->api_block_min_prefix_v6;
	if (bits < min && !force) {
		snprintf(msg, sizeof(msg), "%s is wider than /%ld "
			 "(api_block_min_prefix_%s): send \"force\": true "
			 "(mamori ips block --force) to block it", key, min,
			 af == AF_INET ? "v4" : "v6");
		core_reply(cb, arg, CORE_E_CONFLICT, msg);
		return;
	}
	if (login_ip_block(c->login, ip, seconds, reason, actor, err,
			   sizeof(err)) != 0) {
		core_reply(cb, arg, CORE_E_INVALID,
			   err[0] ? err : "cannot block that");
		return;
	}
	/* The block as the list shows it, with its end; or what we asked. */
	if (reply_ips(c, key, cb, arg))
		return;
	s.ip = key;
	s.reason = reason;
	s.actor = actor;
	r.ips.v = &s;
	r.ips.n = 1;
	cb(arg, &r);
}

void core_ip_unblock(struct core *c, const char *ip, const char *actor,
		     core_admin_cb *cb, void *arg)
{
	char err[256] = "", key[ADMIN_IP_MAX + 8];
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_IP_UNBLOCKED };
	int af, bits;

	if (!engine_on(c, cb, arg))
		return;
	if (!ip || core_cidr_norm(ip, key, sizeof(key), &af, &bits) != 0) {
		core_reply(cb, arg, CORE_E_INVALID,
			   "\"ip\" is not an address or CIDR range");
		return;
	}
	/* The address is well-formed: the engine's only refusal left is
	 * that it holds no state for it, a missing resource. */
	if (login_ip_unblock(c->login, ip, actor, err, sizeof(err)) != 0) {
		core_reply(cb, arg, CORE_E_NOTFOUND,
			   err[0] ? err : "not blocked");
		return;
	}
	r.ip_unblocked.ip = key;
	r.ip_unblocked.actor = actor;
	cb(arg, &r);
}

/* Answer with the stored allowlist; only the entry for key when key is
 * set. */
static void reply_allows(struct core *c, const char *key, core_admin_cb *cb,
			 void *arg)
{
	json_t *list = login_allow_list(c->login, 0), *v;
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_ALLOWS };
	struct core_allow *a;
	size_t i, n = 0;

	a = xcalloc(json_array_size(list) + 1, sizeof(*a));
	json_array_foreach(list, i, v) {
		if (key && strcmp(jstr(v, "net"), key) != 0)
			continue;
		a[n].net = jstr(v, "net");
		a[n].since = json_integer_value(json_object_get(v, "since"));
		a[n].until = json_integer_value(json_object_get(v, "until"));
		a[n].reason = jstr(v, "reason");
		a[n++].actor = jstr(v, "actor");
	}
	r.allows.v = a;
	r.allows.n = n;
	cb(arg, &r);
	free(a);
	json_decref(list);
}

void core_allow_list(struct core *c, core_admin_cb *cb, void *arg)
{
	if (engine_on(c, cb, arg))
		reply_allows(c, NULL, cb, arg);
}

void core_allow_add(struct core *c, const char *net, long seconds,
		    const char *reason, const char *actor, core_admin_cb *cb,
		    void *arg)
{
	char err[256] = "", key[ADMIN_IP_MAX + 8], msg[160];
	int af, bits;

	if (!engine_on(c, cb, arg))
		return;
	if (!net || !*net || !reason || !*reason) {
		core_reply(cb, arg, CORE_E_INVALID,
			   "net and reason are required");
		return;
	}
	if (core_cidr_norm(net, key, sizeof(key), &af, &bits) != 0) {
		core_reply(cb, arg, CORE_E_INVALID,
			   "\"net\" is not an address or CIDR range");
		return;
	}
	if (seconds < 0 || seconds > ADMIN_BLOCK_MAX) {
		snprintf(msg, sizeof(msg), "\"expires\" must be a whole "
			 "number of seconds from 0 (no end) to %ld",
			 ADMIN_BLOCK_MAX);
		core_reply(cb, arg, CORE_E_INVALID, msg);
		return;
	}
	if (login_allow_add(c->login, net, seconds, reason, actor, 0, err,
			    sizeof(err)) != 0) {
		core_reply(cb, arg, CORE_E_CONFLICT,
			   err[0] ? err : "cannot allowlist that");
		return;
	}
	reply_allows(c, key, cb, arg);
}

void core_allow_del(struct core *c, const char *net, const char *actor,
		    core_admin_cb *cb, void *arg)
{
	char err[256] = "", key[ADMIN_IP_MAX + 8];
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_ALLOW_DELETED };
	int af, bits;

	if (!engine_on(c, cb, arg))
		return;
	if (!net || core_cidr_norm(net, key, sizeof(key), &af, &bits) != 0) {
		core_reply(cb, arg, CORE_E_INVALID,
			   "\"net\" is not an address or CIDR range");
		return;
	}
	if (login_allow_del(c->login, net, actor, err, sizeof(err)) != 0) {
		core_reply(cb, arg, CORE_E_NOTFOUND,
			   err[0] ? err : "not in the allowlist");
		return;
	}
	r.allow_deleted.net = key;
	r.allow_deleted.actor = actor;
	cb(arg, &r);
}

void core_incidents_list(struct core *c, core_admin_cb *cb, void *arg)
{
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_INCIDENTS };
	json_t *list, *v;
	char **docs;
	size_t i, n = 0;

	if (!engine_on(c, cb, arg))
		return;
	list = login_incidents_list(c->login);
	docs = xcalloc(json_array_size(list) + 1, sizeof(*docs));
	json_array_foreach(list, i, v)
		if ((docs[n] = json_dumps(v, JSON_COMPACT)))
			n++;
	r.incidents.json = (const char *const *)docs;
	r.incidents.n = n;
	cb(arg, &r);
	for (i = 0; i < n; i++)
		free(docs[i]);
	free(docs);
	json_decref(list);
}

void core_incident_show(struct core *c, const char *id, core_admin_cb *cb,
			void *arg)
{
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_INCIDENT };
	json_t *j;
	char *s;

	if (!engine_on(c, cb, arg))
		return;
	j = id && strlen(id) <= ADMIN_ID_MAX ?
	    login_incident_show(c->login, id) : NULL;
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s) {
		core_reply(cb, arg, CORE_E_NOTFOUND, "no such incident");
		return;
	}
	r.incident = s;
	cb(arg, &r);
	free(s);
}

void core_incident_csv(struct core *c, const char *id, core_admin_cb *cb,
		       void *arg)
{
	struct core_result r = { .status = CORE_OK, .error = "",
				 .kind = CORE_R_TEXT,
				 .ctype = "text/csv; charset=utf-8" };
	char *csv;

	if (!engine_on(c, cb, arg))
		return;
	csv = id && strlen(id) <= ADMIN_ID_MAX ?
	      login_incident_csv(c->login, id) : NULL;
	if (!csv) {
		core_reply(cb, arg, CORE_E_NOTFOUND, "no such incident");
		return;
	}
	r.text = csv;
	cb(arg, &r);
	free(csv);
}
