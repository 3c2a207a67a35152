/*
 * core - account state machine and verdicts for outbound mail.
 * See core.h for the contract; acct.h for the counters; outbound.h for the
 * signals.  Admin operations live in admin.c.
 *
 * States (DESIGN.md): normal -> throttled -> restricted -> probation ->
 * normal; a recurrence during probation restricts again and counts a strike;
 * the suspend_strikes-th restriction within strike_window suspends (only an
 * administrator lifts it).  Answers per state, at RCPT and END-OF-MESSAGE:
 *
 *   normal, probation   DUNNO, or DEFER_IF_PERMIT when a class limit would
 *                       be exceeded (which also throttles)
 *   throttled           DEFER_IF_PERMIT 4.7.1 (throttle_text)
 *   restricted          HOLD (hold queue) or REJECT 5.7.1 (restrict_text)
 *   suspended           REJECT 5.7.1 (suspend_text)
 *
 * Accounting happens at END-OF-MESSAGE only, from recipient_count, so mail
 * refused earlier in the dialogue is never charged.  Recipients are split
 * internal/external by what was seen at RCPT for the same instance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/login.h"
#include "core/core-internal.h"
#include "notify/notify.h"
#include "store/store.h"
#include "util/log.h"
#include "util/xalloc.h"

const char *verdict_action_name(enum verdict_action a)
{
	static const char *const names[] = {
		"DUNNO", "DEFER_IF_PERMIT", "HOLD", "REJECT",
	};

	return (unsigned)a < 4 ? names[a] : "DUNNO";
}

uint32_t core_now(int64_t now)
{
	return (uint32_t)(now ? now : time(NULL));
}

const struct class_config *core_class_of(struct core *c, const char *login)
{
	const struct account_override *o = acctmap_find(c->map, login);

	return o ? &o->cl : &c->cfg->classes[0];
}

/* The instance slot for a message, direct-mapped by hash. */
static struct instance *instance_slot(struct core *c, const char *instance)
{
	uint32_t h = acct_hash(instance);

	return &c->instances[h % CORE_INSTANCES];
}

/* Domain part of an address, or "" for none. */
static const char *addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

json_t *core_evidence(struct core *c, const struct acct *a, uint32_t now)
{
	json_t *ev = json_pack("{s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:i, s:i, s:i, s:I}",
		"msgs_minute", acct_win_count(a, W_MSG_MIN, now),
		"msgs_hour", acct_win_count(a, W_MSG_HOUR, now),
		"ext_rcpts_hour", acct_win_count(a, W_EXT_HOUR, now),
		"int_rcpts_hour", acct_win_count(a, W_INT_HOUR, now),
		"rcpts_day", acct_win_count(a, W_RCPT_DAY, now),
		"baseline_msgs_hour", (double)a->baseline,
		"rcpt_domains_hour", acct_domain_count(a, now),
		"client_networks_recent", acct_net_recent(a, now, 3600),
		"foreign_sender_msgs_hour",
		a->domains_idx == now / 3600 ? a->mismatch_hour : 0,
		"score", a->score,
		"login_risk_until", (json_int_t)a->login_risk_until);
	json_t *ips = json_array(), *doms = json_array(), *snd = json_array();
	int i;

	if (a->detail) {
		for (i = 0; i < a->detail->nips; i++)
			json_array_append_new(ips, json_string(a->detail->ips[i]));
		for (i = 0; i < a->detail->ndomains; i++)
			json_array_append_new(doms,
				json_string(a->detail->domains[i]));
		for (i = 0; i < a->detail->nsenders; i++)
			json_array_append_new(snd,
				json_string(a->detail->senders[i]));
	}
	for (i = 0; i < ACCT_KNOWN_NETS && a->known[i]; i++)
		;
	json_object_set_new(ev, "habitual_networks", json_integer(i));
	json_object_set_new(ev, "client_ips", ips);
	json_object_set_new(ev, "recipient_domains", doms);
	json_object_set_new(ev, "envelope_senders", snd);
	return ev;
}

/* Fill the verdict for an account's current state. */
static void verdict_for_state(struct core *c, const struct acct *a,
			      const struct class_config *cl, struct verdict *v)
{
	const struct config *cfg = c->cfg;

	v->state = acct_state_name(a->state);
	switch (a->state) {
	case ACCT_THROTTLED:
		v->action = VERDICT_DEFER;
		snprintf(v->text, sizeof(v->text), "%s", cfg->throttle_text);
		break;
	case ACCT_RESTRICTED:
		if (cl->restrict_action == RESTRICT_HOLD) {
			v->action = VERDICT_HOLD;
			snprintf(v->text, sizeof(v->text),
				 "mamori: account %s restricted", a->login);
		} else {
			v->action = VERDICT_REJECT;
			snprintf(v->text, sizeof(v->text), "%s",
				 cfg->restrict_text);
		}
		break;
	case ACCT_SUSPENDED:
		v->action = VERDICT_REJECT;
		snprintf(v->text, sizeof(v->text), "%s", cfg->suspend_text);
		break;
	default:
		v->action = VERDICT_DUNNO;
		v->text[0] = '\0';
		break;
	}
}

/* Explain an answer given because of the state: the state and its cause. */
static void state_reason(struct core *c, const struct acct *a,
			 struct verdict *v)
{
	const char *why = core_reason_get(c, a);

	snprintf(v->reason, sizeof(v->reason), "account %s since %u: %s",
		 acct_state_name(a->state), a->state_since, why ? why : "-");
	v->score = a->score;
}

/* Log the decision, apply observe mode, hand the verdict to the caller. */
static void finish(struct core *c, struct decision *d)
{
	const struct outbound_request *r = &d->req;
	struct verdict *v = &d->v;
	char q1[LOG_QSZ], q2[LOG_QSZ], q3[LOG_QSZ];

	if (d->cl->mode == MODE_OBSERVE && v->action != VERDICT_DUNNO) {
		v->observed = true;
	}
	if (v->action != VERDICT_DUNNO || log_enabled(LOG_L_DEBUG))
		log_msg(v->action == VERDICT_DUNNO ? LOG_L_DEBUG : LOG_L_NOTICE,
			"event=decision stage=%s queue_id=%s account=%s client=%s "
			"action=%s state=%s score=%d observed=%s reason=%s",
			r->stage == OUT_RCPT ? "RCPT" :
			r->stage == OUT_CONTENT ? "CONTENT" : "END-OF-MESSAGE",
			r->queue_id[0] ? r->queue_id : "-",
			log_q(q1, sizeof(q1), r->login),
			log_q(q2, sizeof(q2), r->client_address),
			verdict_action_name(v->action), v->state, v->score,
			v->observed ? "yes" : "no",
			log_q(q3, sizeof(q3), v->reason));
	c->stats.decisions++;
	c->stats.actions[v->action]++;
	if (v->observed) {
		c->stats.observed++;
		v->action = VERDICT_DUNNO;
		v->text[0] = '\0';
	}
	/* A held message is recorded so the admin can release or delete it. */
	if (v->action == VERDICT_HOLD && (r->stage == OUT_END_OF_MESSAGE ||
					  r->stage == OUT_CONTENT) &&
	    r->queue_id[0])
		core_held_record(c, r->queue_id, r->login, core_now(r->now));
	d->cb(d->arg, v);
	decision_free(d);
}

void decision_free(struct decision *d)
{
	free(d->strings);
	free(d);
}

char *core_account_key(const char *login)
{
	size_t n = strlen(login);
	struct buf b;

	buf_init(&b, 4 * n + 1);
	/* Cannot fail: the key takes at most 4 * n bytes. */
	(void)utf8_escape(&b, login, n, UTF8_ESC_KEY);
	return b.p ? buf_steal(&b) : xstrdup("");
}

/* Copy the request so it outlives an asynchronous store write; the login
 * becomes its account key. */
static struct decision *decision_new(const struct outbound_request *req,
				     core_verdict_cb *cb, void *arg)
{
	char *key = core_account_key(req->login ? req->login : "");
	const char *src[] = { key, req->sender, req->recipient,
			      req->client_address, req->queue_id,
			      req->instance };
	const char **dst[6];
	struct decision *d = xcalloc(1, sizeof(*d));
	size_t total = 0, i, off = 0;

	d->req = *req;
	dst[0] = &d->req.login;
	dst[1] = &d->req.sender;
	dst[2] = &d->req.recipient;
	dst[3] = &d->req.client_address;
	dst[4] = &d->req.queue_id;
	dst[5] = &d->req.instance;
	for (i = 0; i < 6; i++)
		total += strlen(src[i] ? src[i] : "") + 1;
	d->strings = xmalloc(total);
	for (i = 0; i < 6; i++) {
		size_t n = strlen(src[i] ? src[i] : "");

		memcpy(d->strings + off, src[i] ? src[i] : "", n);
		d->strings[off + n] = '\0';
		*dst[i] = d->strings + off;
		/* Everything may end up in JSON (records, API, notices). */
		utf8_sanitize(d->strings + off);
		off += n + 1;
	}
	free(key);
	if (req->content)
		d->content = *req->content;
	d->req.content = &d->content;
	d->cb = cb;
	d->arg = arg;
	return d;
}

/* Answer d per store_failure_action, the account's state unknown or not
 * kept; why goes into the reason. */
static void answer_stateless(struct core *c, struct decision *d,
			     const char *why)
{
	if (c->cfg->store_failure_action == 1) {
		d->v.action = VERDICT_DEFER;
		snprintf(d->v.text, sizeof(d->v.text),
			 "4.3.0 Temporary policy state failure, try again later");
	} else {
		d->v.action = VERDICT_DUNNO;
		d->v.text[0] = '\0';
	}
	snprintf(d->v.reason + strlen(d->v.reason),
		 sizeof(d->v.reason) - strlen(d->v.reason), " store=%s", why);
	finish(c, d);
}

/* After a transition was (or failed to be) written: answer. */
static void decision_after_transition(void *arg, int result)
{
	struct decision *d = arg;
	struct core *c = d->c;

	if (result != STORE_OK) {
		/* The state did not change; answer per store_failure_action. */
		d->v.state = acct_state_name(d->a->state);
		answer_stateless(c, d, store_result_str(result));
		return;
	}
	verdict_for_state(c, d->a, d->cl, &d->v);
	finish(c, d);
}

static void dispatch(struct core *c, struct decision *d, uint32_t now);

void core_answer_stateless(struct core *c, struct decision *d,
			   const char *why)
{
	answer_stateless(c, d, why);
}

/* After the fleet's counters were read at RCPT. */
static void dispatch_fleet(struct decision *d)
{
	dispatch(d->c, d, d->now);
}

/* After a timed state ended: decide the request in the new state. */
static void decision_after_expiry(void *arg, int result)
{
	struct decision *d = arg;

	if (result != STORE_OK) {
		decision_after_transition(arg, result);
		return;
	}
	d->v.reason[0] = '\0';
	dispatch(d->c, d, core_now(d->req.now));
}

/* Is the timed state over?  Then move on (throttle ends, probation ends). */
static bool expire_state(struct core *c, struct decision *d, uint32_t now)
{
	struct acct *a = d->a;

	if (!a->state_until || now < a->state_until || a->pending)
		return false;
	if (a->state != ACCT_THROTTLED && a->state != ACCT_PROBATION)
		return false;
	snprintf(d->v.reason, sizeof(d->v.reason), "%s ended",
		 acct_state_name(a->state));
	core_transition(c, a, ACCT_NORMAL,
			a->state == ACCT_THROTTLED ? "throttle_expired" :
			"probation_ended", "mamorid", d->v.reason, NULL, now,
			decision_after_expiry, d);
	return true;
}

/* Score says act: pick the new state and write it; returns true if so. */
static bool escalate(struct core *c, struct decision *d,
		     const struct outbound_eval *ev, uint32_t now)
{
	struct acct *a = d->a;
	const struct class_config *cl = d->cl;
	enum acct_state to = a->state;
	const char *cause = NULL;
	struct buf why;
	/* Volume alone (a limit, a surge, recipients a minute) is not a
	 * sign of compromise: a shop's campaign shows all three. */
	bool compromise = (ev->fired & ~((1u << SIG_LIMIT) |
					 (1u << SIG_SURGE) |
					 (1u << SIG_RCPT_RATE))) != 0;

	if (a->pending || c->learning)
		return false;
	if (a->state == ACCT_PROBATION && ev->score >= cl->score_throttle) {
		to = ACCT_RESTRICTED;
		cause = "recurrence_during_probation";
	} else if (ev->score >= cl->score_restrict) {
		to = ACCT_RESTRICTED;
		cause = "score";
	} else if (ev->score >= cl->score_throttle && ev->content_decisive) {
		/* Two messages shaped like malware, sent Emotet's way: a
		 * throttle would only make the client retry the payload
		 * (outbound.h). */
		to = ACCT_RESTRICTED;
		cause = "malware_content";
	} else if (ev->score >= cl->score_throttle &&
		   a->state == ACCT_NORMAL && compromise &&
		   (a->flags & ACCT_F_SUSPICIOUS) && a->state_since &&
		   now - a->state_since < (uint32_t)cl->throttle_time * 4) {
		/* A suspicious throttle ended and the signals are back at
		 * once: a slow sender never reaches throttle_escalate
		 * attempts within one throttle, and each throttle that ends
		 * lets a few more through. */
		to = ACCT_RESTRICTED;
		cause = "throttle_recurrence";
	} else if (ev->score >= cl->score_throttle &&
		   a->state == ACCT_NORMAL) {
		to = ACCT_THROTTLED;
		cause = ev->fired == (1u << SIG_LIMIT) ? "limit" : "score";
	}
	if (to == a->state)
		return false;
	if (to == ACCT_RESTRICTED)
		a->ppap_day = 0;	/* a hijack may have taught it */
	buf_init(&why, sizeof(d->v.reason) - 1);
	buf_printf(&why, "score %d >= %ld: ", ev->score,
		   to == ACCT_THROTTLED ? cl->score_throttle :
		   a->state == ACCT_PROBATION ? cl->score_throttle :
		   ev->score < cl->score_restrict ? cl->score_throttle :
		   cl->score_restrict);
	outbound_explain(ev, &why);
	snprintf(d->v.reason, sizeof(d->v.reason), "%s", why.p ? why.p : "");
	buf_deinit(&why);
	if (to == ACCT_THROTTLED && compromise)
		a->flags |= ACCT_F_SUSPICIOUS;
	else if (to == ACCT_THROTTLED)
		a->flags &= (uint8_t)~ACCT_F_SUSPICIOUS;
	core_transition(c, a, to, cause, "mamorid", d->v.reason,
			core_evidence(c, a, now), now,
			decision_after_transition, d);
	return true;
}

/* Answer a request that changed no state: its score explained, if any. */
static void answer_scored(struct core *c, struct decision *d,
			  const struct outbound_eval *ev)
{
	if (ev->score > 0) {
		struct buf why;

		buf_init(&why, sizeof(d->v.reason) - 1);
		buf_printf(&why, "score %d: ", ev->score);
		outbound_explain(ev, &why);
		snprintf(d->v.reason, sizeof(d->v.reason), "%s", why.p);
		buf_deinit(&why);
	}
	d->v.state = acct_state_name(d->a->state);
	finish(c, d);
}

/* RCPT: refuse early for blocked states; note the recipient's domain. */
static void on_rcpt(struct core *c, struct decision *d, uint32_t now)
{
	struct acct *a = d->a;
	const struct outbound_request *r = &d->req;
	const char *dom = addr_domain(r->recipient);
	bool internal = *dom && config_list_has(c->cfg->local_domains, dom);
	struct instance *in;
	struct outbound_eval ev;
	bool unknown = false;

	if (a->state == ACCT_THROTTLED) {
		uint32_t ih = acct_hash(r->instance);

		if (ih != a->last_refused_instance) {
			a->last_refused_instance = ih;
			a->throttled_msgs++;
			a->flags |= ACCT_F_DIRTY;
		}
		/* A hijacker keeps pushing while throttled; a person's mail
		 * client waits and retries.  Only a throttle that had a
		 * compromise signal besides the volume escalates: a limit
		 * or a surge alone (a shop's campaign, a busy server that
		 * does not back off) is the limits' business, and they
		 * keep deferring it; it never locks the account. */
		if (!a->pending && (a->flags & ACCT_F_SUSPICIOUS) &&
		    (long)a->throttled_msgs >= d->cl->throttle_escalate) {
			snprintf(d->v.reason, sizeof(d->v.reason),
				 "%u messages attempted while throttled (limit %ld)",
				 a->throttled_msgs, d->cl->throttle_escalate);
			core_transition(c, a, ACCT_RESTRICTED,
					"sending_while_throttled", "mamorid",
					d->v.reason, core_evidence(c, a, now),
					now, decision_after_transition, d);
			return;
		}
	}
	if (a->state != ACCT_NORMAL && a->state != ACCT_PROBATION) {
		verdict_for_state(c, a, d->cl, &d->v);
		state_reason(c, a, &d->v);
		finish(c, d);
		return;
	}
	a->flags |= ACCT_F_DIRTY;	/* domain sketch, score */
	acct_hour_roll(a, now);
	if (d->cl->unowned_sender_action == 1 &&
	    outbound_sender_kind(a->login, r->sender, c->cfg->local_domains,
				 c->senders) == OUT_SENDER_UNHOSTED) {
		/* reject_sender_login_mismatch: this message only. */
		d->v.action = VERDICT_REJECT;
		snprintf(d->v.text, sizeof(d->v.text),
			 "5.7.1 Sender address not owned by the authenticated user");
		snprintf(d->v.reason, sizeof(d->v.reason),
			 "unowned_sender: domain not hosted here and not in sender_map");
		d->v.state = acct_state_name(a->state);
		finish(c, d);
		return;
	}
	/* Correspondents: learnt only while nothing is wrong, so a hijack
	 * does not teach the filter its own list. */
	if (r->recipient[0]) {
		if (a->rcpt_hour < UINT16_MAX)
			a->rcpt_hour++;
		if (!acct_rcpt_known(a, r->recipient)) {
			unknown = true;
			if (a->newrcpt_hour < UINT16_MAX)
				a->newrcpt_hour++;
			if (a->score == 0)
				acct_rcpt_learn(a, r->recipient);
		}
	}
	if (*dom && !internal) {
		acct_domain_add(a, dom, now);
		if (a->detail || a->score)
			acct_detail_add_domain(a, dom);
	}
	in = instance_slot(c, r->instance);
	if (in->hash != acct_hash(r->instance) || now - in->time > 3600) {
		memset(in, 0, sizeof(*in));
		in->hash = acct_hash(r->instance);
	}
	in->time = now;
	if (internal)
		in->internal++;
	else
		in->external++;
	if (unknown && in->unknown < UINT16_MAX)
		in->unknown++;

	/* Would one more message break a class limit?  Then defer now. */
	outbound_evaluate(a, d->cl, now, 1, false, false, &ev);
	a->score = (uint16_t)ev.score;
	d->v.score = ev.score;
	if ((ev.fired & (1u << SIG_LIMIT)) && escalate(c, d, &ev, now))
		return;
	if (ev.fired & (1u << SIG_LIMIT)) {
		d->v.action = VERDICT_DEFER;
		snprintf(d->v.text, sizeof(d->v.text), "%s",
			 c->cfg->throttle_text);
		snprintf(d->v.reason, sizeof(d->v.reason), "limit: %s",
			 ev.detail[SIG_LIMIT]);
	}
	d->v.state = acct_state_name(a->state);
	finish(c, d);
}

/*
 * The message's client country against home_countries and the account's
 * habit (outbound.h, signal country): a home country is never odd; nor is
 * a habitual one; with home_countries set anything else is; without, a
 * country the account never used is, once it has a habit.
 */
static void country_note(struct core *c, struct acct *a,
			 const struct class_config *cl, uint16_t cc,
			 uint32_t now)
{
	const char *home = c->cfg->home_countries;
	char s[3];

	if (!cc)
		return;
	acct_cc_seen(a, cc, now);
	acct_cc_format(cc, s);
	if ((home && home[0] && config_list_has(home, s)) ||
	    acct_cc_known(a, cc))
		a->cc_odd = ACCT_CC_OK;
	else if (home && home[0])
		a->cc_odd = ACCT_CC_NOT_HOME;
	else
		a->cc_odd = a->cc_known[0] ? ACCT_CC_UNUSED : ACCT_CC_OK;
	if (a->cc_odd != ACCT_CC_OK) {
		/* A leaky bucket draining foreign_msgs_per_hour an hour: a
		 * trip's handful of messages drains, a steady pace fills. */
		uint16_t m = (uint16_t)(now / 60);
		uint32_t drain = (uint32_t)(uint16_t)(m - a->foreign_min) * 16u *
			(uint32_t)cl->foreign_msgs_per_hour / 60u;
		uint32_t lvl = a->foreign_level > drain ?
			       a->foreign_level - drain : 0;

		lvl += 16;
		a->foreign_level = (uint16_t)(lvl > UINT16_MAX ? UINT16_MAX : lvl);
		a->foreign_min = m;
	}
}

/* The request's country: the test hook, else geoip_db; 0 = unknown. */
static uint16_t request_country(struct core *c,
				const struct outbound_request *r)
{
	const char *s = r->country;
	char u0, u1;

	if (!s || !*s)
		return c->login ? login_engine_country(c->login,
						       r->client_address) : 0;
	u0 = (char)(s[0] & ~0x20);
	u1 = (char)(s[1] & ~0x20);
	if (u0 < 'A' || u0 > 'Z' || u1 < 'A' || u1 > 'Z' || s[2])
		return 0;
	return (uint16_t)((uint8_t)u0 << 8 | (uint8_t)u1);
}

static void on_eom_counted(struct decision *d);

/* The message's RCPT record, done with under its instance: keep it under
 * its queue ID for the milter's content facts (on_content), which know
 * the message by that alone; cleared where it was. */
static void keep_for_content(struct core *c, struct instance *in,
			     const char *queue_id, uint32_t now)
{
	struct instance copy = *in, *q;

	memset(in, 0, sizeof(*in));
	if (!queue_id || !queue_id[0])
		return;
	q = instance_slot(c, queue_id);
	*q = copy;
	q->hash = acct_hash(queue_id);
	q->time = now;
}

/* Did the message (by queue ID) go only to the account's correspondents?
 * False when its RCPT record is gone (overwritten, or no RCPT seen).  The
 * record is used up. */
static bool to_correspondents(struct core *c, const char *queue_id,
			      uint32_t now)
{
	struct instance *q;
	bool known;

	if (!queue_id || !queue_id[0])
		return false;
	q = instance_slot(c, queue_id);
	if (q->hash != acct_hash(queue_id))
		return false;
	known = now - q->time <= 3600 && q->internal + q->external > 0 &&
		q->unknown == 0;
	memset(q, 0, sizeof(*q));
	return known;
}

/* END-OF-MESSAGE: count the message, then on_eom_counted. */
static void on_eom(struct core *c, struct decision *d, uint32_t now)
{
	struct acct *a = d->a;
	const struct outbound_request *r = &d->req;
	const struct class_config *cl = d->cl;
	struct instance *in = instance_slot(c, r->instance);
	uint32_t n = r->recipient_count > 0 ? (uint32_t)r->recipient_count : 1;
	uint32_t ext = n, internal = 0;

	if (a->state != ACCT_NORMAL && a->state != ACCT_PROBATION) {
		verdict_for_state(c, a, cl, &d->v);
		state_reason(c, a, &d->v);
		finish(c, d);
		return;
	}
	a->flags |= ACCT_F_DIRTY;	/* everything below counts */
	/* Split recipients by what RCPT saw for this message. */
	if (in->hash == acct_hash(r->instance) && in->time &&
	    in->internal + in->external > 0) {
		internal = (uint32_t)((uint64_t)n * in->internal /
				      (in->internal + in->external));
		ext = n - internal;
		keep_for_content(c, in, r->queue_id, now);
	} else if (r->recipient[0]) {
		const char *dom = addr_domain(r->recipient);

		if (*dom && config_list_has(c->cfg->local_domains, dom)) {
			internal = n;
			ext = 0;
		}
	}
	acct_baseline_roll(a, now, c->cfg->baseline_halflife);
	d->add[W_MSG_MIN] = 1;
	d->add[W_MSG_HOUR] = 1;
	d->add[W_EXT_HOUR] = ext;
	d->add[W_INT_HOUR] = internal;
	d->add[W_RCPT_DAY] = n;
	/* Counted by the store: the fleet's windows come back (fleet.c). */
	core_fleet_count(c, d, on_eom_counted);
}

/* END-OF-MESSAGE, the message counted: score the account, act. */
static void on_eom_counted(struct decision *d)
{
	struct core *c = d->c;
	struct acct *a = d->a;
	const struct outbound_request *r = &d->req;
	const struct class_config *cl = d->cl;
	uint32_t now = d->now, n = d->add[W_RCPT_DAY], net = 0;
	bool new_net = false, have_net;
	struct outbound_eval ev;

	c->stats.messages++;
	c->stats.recipients += n;

	acct_rcpt_min_add(a, n, now);
	/* Hour-bucketed sender sketch shares the domain sketch's hour. */
	acct_hour_roll(a, now);
	switch (outbound_sender_kind(a->login, r->sender,
				     c->cfg->local_domains, c->senders)) {
	case OUT_SENDER_LOCAL:
		if (a->mismatch_hour < UINT16_MAX)
			a->mismatch_hour++;
		acct_detail_add_sender(a, r->sender);
		break;
	case OUT_SENDER_UNHOSTED:
		/* Also a foreign sender, as it always was: repeated (the
		 * majority of three or more in an hour) it is a pattern. */
		if (a->unowned_hour < UINT16_MAX)
			a->unowned_hour++;
		if (a->mismatch_hour < UINT16_MAX)
			a->mismatch_hour++;
		acct_detail_add_sender(a, r->sender);
		break;
	default:
		break;
	}
	have_net = acct_net_of(r->client_address, &net);
	if (have_net) {
		bool unseen = acct_net_seen(a, net, now);

		/* Only an established account has habits to break.  The
		 * risk lasts an hour: a hijacker's burst follows at once. */
		if (unseen && a->known[0] != 0 &&
		    now - a->first_seen >= (uint32_t)cl->new_network_min_age) {
			/* Weighed by distance: the same /16 is the same
			 * carrier pool or ISP; another /16 is elsewhere. */
			long w = acct_net16_known(a, net) ?
				 cl->weight_new_network_near :
				 cl->weight_new_network;

			if (now >= a->newnet_until || w > a->newnet_weight)
				a->newnet_weight = (uint8_t)(w > 255 ? 255 : w);
			a->newnet_until = now + 3600;
		}
	}
	new_net = now < a->newnet_until;
	country_note(c, a, cl, d->cc, now);
	outbound_evaluate(a, cl, now, 0, new_net, false, &ev);
	a->score = (uint16_t)ev.score;
	d->v.score = ev.score;
	if (ev.score > 0 || a->detail) {
		acct_detail_add_ip(a, r->client_address);
		if (r->recipient[0])
			acct_detail_add_domain(a, addr_domain(r->recipient));
	}
	if (escalate(c, d, &ev, now))
		return;
	/* Clean messages teach networks; an account's very first message
	 * (day one of an install, a new customer) is the only place it is
	 * known at, so it counts whatever it scored. */
	if (have_net && (ev.score == 0 || a->known[0] == 0))
		acct_net_learn(a, net);
	if (ev.score == 0)
		acct_cc_learn(a, d->cc);
	answer_scored(c, d, &ev);
}

/*
 * CONTENT (the milter, after END-OF-MESSAGE counted the message): add the
 * message's content facts to the account and score it again.  A message
 * with nothing risky in it changes nothing.
 */
static void on_content(struct core *c, struct decision *d, uint32_t now)
{
	struct acct *a = d->a;
	const struct outbound_content *oc = &d->content;
	bool risky = oc->flags & (OC_ENC_ARCHIVE | OC_MACRO | OC_EXECUTABLE);
	bool inline_pw = !(oc->flags & OC_EXECUTABLE) &&
			 (oc->flags & OC_ENC_ARCHIVE) && (oc->flags & OC_PASSWORD);
	bool shaped = (oc->flags & OC_EXECUTABLE) || inline_pw;
	bool known = false;
	uint16_t today = (uint16_t)(now / 86400);
	struct outbound_eval ev;

	if (a->state != ACCT_NORMAL && a->state != ACCT_PROBATION) {
		verdict_for_state(c, a, d->cl, &d->v);
		state_reason(c, a, &d->v);
		finish(c, d);
		return;
	}
	if (!risky) {
		d->v.state = acct_state_name(a->state);
		finish(c, d);
		return;
	}
	a->flags |= ACCT_F_DIRTY;
	acct_hour_roll(a, now);
	/* The content habit (outbound.h): an account that sent its archives
	 * with the password inline to its correspondents on an earlier day,
	 * and nothing went wrong, does so again to them: PPAP written
	 * carelessly, not malware.  Not today's first such message (the
	 * malware's first one would teach it), and never to a stranger. */
	known = to_correspondents(c, d->req.queue_id, now);
	if (shaped &&
	    !(inline_pw && known && outbound_content_habit(a, today)) &&
	    a->shaped_hour < UINT8_MAX)
		a->shaped_hour++;
	if ((oc->flags & OC_REPLY) && oc->thread)
		acct_risky_thread(a, oc->thread, now);
	outbound_evaluate(a, d->cl, now, 0, now < a->newnet_until, true,
			  &ev);
	a->score = (uint16_t)ev.score;
	d->v.score = ev.score;
	if (escalate(c, d, &ev, now))
		return;
	if (inline_pw && known && a->state == ACCT_NORMAL &&
	    ev.score < d->cl->score_throttle)
		outbound_content_learn(a, today);
	answer_scored(c, d, &ev);
}

void core_outbound_content(struct core *c, const char *login,
			   const char *queue_id, const char *client_address,
			   const struct outbound_content *oc, int64_t now,
			   core_verdict_cb *cb, void *arg)
{
	struct outbound_request r = {
		.stage = OUT_CONTENT,
		.login = login,
		.sender = "",
		.recipient = "",
		.client_address = client_address,
		.queue_id = queue_id,
		.instance = queue_id,
		.now = now,
		.content = oc,
	};

	core_outbound(c, &r, cb, arg);
}

void core_set_learning(struct core *c, bool on)
{
	c->learning = on;
}

void core_outbound(struct core *c, const struct outbound_request *req,
		   core_verdict_cb *cb, void *arg)
{
	uint32_t now = core_now(req->now);
	struct decision *d;

	if (!req->login || !*req->login || req->stage == OUT_OTHER) {
		struct verdict v = { .action = VERDICT_DUNNO, .state = "-" };

		c->stats.unauthenticated += req->stage != OUT_OTHER;
		cb(arg, &v);
		return;
	}
	d = decision_new(req, cb, arg);
	d->c = c;
	d->now = now;
	/* Only at END-OF-MESSAGE, where the client is recorded. */
	if (req->stage == OUT_END_OF_MESSAGE)
		d->cc = request_country(c, req);
	d->req.country = NULL;		/* not copied: resolved above */
	d->cl = core_class_of(c, d->req.login);
	d->a = core_account_admit(c, d->req.login, now);
	if (!d->a) {
		/* max_accounts reached, nothing to evict: no state to keep. */
		d->v.state = "-";
		answer_stateless(c, d, "accounts_full");
		return;
	}
	d->v.state = acct_state_name(d->a->state);
	if (expire_state(c, d, now))
		return;
	if (req->stage == OUT_RCPT && core_fleet_read(c, d, dispatch_fleet))
		return;
	dispatch(c, d, now);
}

/* Route a request by stage. */
static void dispatch(struct core *c, struct decision *d, uint32_t now)
{
	if (d->req.stage == OUT_RCPT)
		on_rcpt(c, d, now);
	else if (d->req.stage == OUT_CONTENT)
		on_content(c, d, now);
	else
		on_eom(c, d, now);
}
