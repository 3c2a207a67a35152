/*
 * detsim-wire - the detection evaluation's real-protocol client: Postfix's
 * policy delegation protocol (SMTPD_POLICY_README: name=value lines, an
 * empty line; the reply's action=) over one TCP connection, and Dovecot's
 * auth-policy protocol (PROTOCOLS.md: POST ?command=allow|report with a
 * flat JSON body, keys sorted; reply {"status": N}) over one keep-alive
 * HTTP/1.1 connection.  Blocking, one request at a time, loopback only in
 * practice; a lost connection is reopened once per request.
 */
#ifndef MAMORI_DETSIM_WIRE_H
#define MAMORI_DETSIM_WIRE_H

#include <stddef.h>

#include <jansson.h>

#include "core/core.h"
#include "core/login_gate.h"

struct ds_wire;

/* policy and auth are HOST:PORT (auth may be NULL: no logins; answers
 * 0); api_key (may be NULL) goes in X-API-Key.  NULL with err on
 * failure. */
struct ds_wire *ds_wire_new(const char *policy, const char *auth,
			    const char *api_key, char *err, size_t errsz);
void ds_wire_free(struct ds_wire *w);

/* One policy request as Postfix 3.7 sends it: enum verdict_action of the
 * reply (DEFER for DEFER_IF_PERMIT, DEFER and 4xx; REJECT for REJECT and
 * 5xx; DUNNO for DUNNO, OK, or no answer, which is counted). */
int ds_wire_policy(struct ds_wire *w, const struct outbound_request *r);

/* One auth-policy request: the reply's status (0 when none). */
int ds_wire_login(struct ds_wire *w, const struct core_login_request *r);

/* GET path from mamorid's admin API on the unix socket sock (HTTP/1.0,
 * the reply read to EOF, at most 16 MiB): the body as JSON, or NULL. */
json_t *ds_wire_api_get(const char *sock, const char *path);

/* Requests that got no usable answer. */
unsigned long ds_wire_errors(const struct ds_wire *w);

#endif
