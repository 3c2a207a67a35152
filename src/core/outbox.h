/*
 * outbox - the notices of a transition survive a restart.
 *
 * notify (src/notify) queues notices in memory and sends them from its own
 * thread, retrying for hours while a relay is down.  A restart in that
 * time (an upgrade, a reboot, kill -9) would lose them: the customer is
 * restricted and never told why.  So before an event goes to notify, the
 * outbox writes it to the store (namespace "notice", key = event id,
 * value = the event and the keys of its notices already ended), notify's
 * done hook reports each notice that ends, and the record is deleted when
 * the last one has.  At start, outbox_replay() submits every record again,
 * with the ended notices named so they are not sent twice.  A notice
 * delivered just before a crash, whose end was not yet recorded, is sent
 * again: at least once, never lost.
 *
 * Each notice sent, given up or refused (full queue) is also appended to
 * its account's evidence log (namespace "event", key = login, as
 * transitions are) as {"id", "time", "notice": KEY, "outcome"}: the
 * account timeline's "notices sent".  KEY is "mail:AUDIENCE:ADDRESS" or
 * "webhook" (never its URL, which may hold a token).
 *
 * Threads: everything runs on the event-loop thread, where every store
 * call runs: outbox_submit(), outbox_replay(), and the done hook, which
 * notify's worker hands to the loop (util/loopq).  Records expire after
 * OUTBOX_TTL: a notice more than a week late would confuse more than help.
 */
#ifndef MAMORI_OUTBOX_H
#define MAMORI_OUTBOX_H

#include <stddef.h>

#include "notify/notify.h"
#include "store/store.h"

#define OUTBOX_NS "notice"
#define OUTBOX_TTL (7 * 86400L)

struct event_base;
struct outbox;

/* Hooks itself to nt (notify_set_done_hook, on base's loop); st must
 * outlive it.  Loop thread, before the first notify_event(). */
struct outbox *outbox_new(struct event_base *base, struct store *st,
			  struct notify *nt);

/* Record ev durably (best effort: a store failure is logged), then hand it
 * to notify.  Loop thread. */
void outbox_submit(struct outbox *o, const struct notify_event *ev);

/* Submit every stored event again; returns how many.  Loop thread, once,
 * at start. */
size_t outbox_replay(struct outbox *o);

/* Free.  Call after notify_free(), which gives the outbox the news its
 * loop has not applied yet, so none is lost.  NULL is a no-op. */
void outbox_free(struct outbox *o);

#endif
