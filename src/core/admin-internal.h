/*
 * admin-internal - what admin.c, admin_held.c and admin_login.c share.
 */
#ifndef MAMORI_CORE_ADMIN_INTERNAL_H
#define MAMORI_CORE_ADMIN_INTERNAL_H

#include "core/admin.h"
#include "core/core-internal.h"

/* Answer cb (may be NULL) with status st and error text msg only. */
void core_reply(core_admin_cb *cb, void *arg, enum core_status st,
		const char *msg);

/* The held records of one login (NULL: all), parsed; rows point into
 * docs, which the set owns until core_held_set_free(). */
struct core_held_set {
	struct core_held_row *v;
	size_t n, cap;
	void **docs;			/* json_t *, one per row */
	const char *login;
	int result;			/* the scan's store result */
};
/* Read the set; STORE_OK or the store's failure in set->result. */
void core_held_set_load(struct core *c, const char *login,
			struct core_held_set *set);
void core_held_set_free(struct core_held_set *set);

/*
 * The end of a held-mail run: CORE_OK with every ID done, or CORE_E_FAIL
 * with err, ids then holding the IDs done before the failure.
 */
typedef void core_held_run_cb(void *arg, enum core_status st,
			      const char *err, const char *const *ids,
			      size_t n);
/*
 * Run the release or delete command ("release", "delete") over rows,
 * HELD_BATCH IDs a run, one run after the other, without blocking the
 * loop; each run's outcome is logged; done IDs lose their held record, a
 * failed run's IDs get it rewritten with the attempt.  Rows are copied.
 * cb runs exactly once, possibly before this returns.
 */
void core_held_run(struct core *c, const struct core_held_row *rows,
		   size_t n, const char *action, const char *actor,
		   core_held_run_cb *cb, void *arg);

/*
 * Check that s is an address or "address/bits" (bits at most 32 for IPv4,
 * 128 for IPv6) and write it to out as the login engine lists it: host
 * bits cleared, no "/bits" for a single address; *family is AF_INET or
 * AF_INET6, *bits the prefix length.  0, or -1 when malformed.  The syntax
 * is the engine's; checking it here tells a malformed address (INVALID)
 * from one without a state (NOTFOUND), which the engine reports alike.
 */
int core_cidr_norm(const char *s, char *out, size_t outsz, int *family,
		   int *bits);
/* The login engine's figures as a JSON object (malloc'd), NULL when off. */
char *core_login_stats_json(struct core *c);
/* The login engine's view of login (login_account_show) as JSON text for
 * free(), or NULL when the engine is off. */
char *core_login_account_json(struct core *c, const char *login);

#endif
