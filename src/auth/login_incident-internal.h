/*
 * login_incident-internal - what login_incident.c (incidents, their store
 * I/O) lends login_incident_view.c (the admin's list, show, CSV and
 * account views of them); not for other files.  Event-loop thread, like
 * the engine; the incidents belong to the engine (login-internal.h).
 */
#ifndef MAMORI_LOGIN_INCIDENT_INTERNAL_H
#define MAMORI_LOGIN_INCIDENT_INTERNAL_H

#include <jansson.h>

#include "auth/login-internal.h"

/* The entry of login in the incident's in-memory accounts, or NULL. */
struct lg_iacct *lg_iacct_find(const struct lg_incident *inc,
			       const char *login);
/* The incident's header as JSON, as it is stored (a new reference; NULL
 * when a string in it is not UTF-8). */
json_t *lg_inc_json(const struct lg_incident *inc);
/* One account row as JSON, as it is stored (a new reference). */
json_t *lg_iacct_json(const struct lg_iacct *a);

#endif
