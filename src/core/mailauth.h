/*
 * mailauth - the inbound mail-authentication decision for one message.
 *
 * The core's inbound path (core/inbound.c, for the milter and `mamori
 * scan`) feeds a message here the way a milter hands it over: envelope
 * (client address, HELO, MAIL FROM), header fields one by one with their
 * raw values, body chunks, the end.  At the end mailauth
 * runs SPF (RFC 7208) on MAIL FROM (on the HELO identity for a null
 * sender), DKIM (RFC 6376) on the whole message, and DMARC (RFC 9989, or
 * RFC 7489 mode) on the From domain, asking a struct dns_resolver, and
 * returns a verdict: the Authentication-Results value (RFC 8601) and the
 * Received-SPF value (RFC 7208 9.1) to add at the top, the incoming
 * Authentication-Results fields that carry OUR authserv-id (RFC 8601 5:
 * forged, to delete), and the action with reply text and reasons.
 *
 * Policy (docs/design/milter.md): a DMARC fail whose disposition is reject
 * is refused with 550 5.7.1 (dmarc_reject_action = reject), unless the From
 * domain is in dmarc_override_domains or the client in
 * dmarc_trusted_forwarders: then it is quarantined.  Quarantine is the hold
 * queue or a header tag (dmarc_quarantine_action).  A DMARC temperror, or
 * a fail that an SPF or DKIM temperror may have caused, is 451 4.7.0 or an
 * accept with the temperror recorded (dns_failure_action).  A message
 * without exactly one From author domain never passes (dmarc.h).
 *
 * No milter protocol here and no I/O besides the resolver: unit-testable with
 * dns_stub.  The resolver must answer synchronously (the callback runs
 * before dns_query returns: dns_stub, or the blocking wrapper over the
 * core's shared libunbound context); a question left unanswered counts as a
 * DNS timeout.  Limits: MAILAUTH_MAX_FROM From fields are kept (more are
 * counted: still "multiple"), MAILAUTH_MAX_DEL forged fields are deleted,
 * header values over DKIM_MAX_SIG_LEN bytes are passed on, not copied.
 *
 * Threading: one struct mailauth per message, used by one thread at a
 * time (a milter worker, or the CLI); no global state, no store, no
 * event loop.  core/inbound.h is the interface front-ends use; this one
 * is for the core, its tests and fuzz-message.
 */
#ifndef MAMORI_MAILAUTH_H
#define MAMORI_MAILAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dns_resolver;
struct dmarc_config;
struct dmarc_psl;

#define MAILAUTH_MAX_FROM 8
#define MAILAUTH_MAX_DEL 32
#define MAILAUTH_DKIM_MAX 4	/* DKIM signatures in the verdict's list */

enum mailauth_action {
	MAILAUTH_ACCEPT = 0,
	MAILAUTH_REJECT,	/* 550 5.7.1 during SMTP */
	MAILAUTH_TEMPFAIL,	/* 451 4.7.0: the sender retries */
	MAILAUTH_QUARANTINE,	/* the hold queue (smfi_quarantine) */
};

/* Values as struct config has them (util/config.c enum strings). */
enum mailauth_reject_action {
	MAILAUTH_RA_REJECT = 0,
	MAILAUTH_RA_QUARANTINE = 1,
	MAILAUTH_RA_NONE = 2,
};

enum mailauth_quarantine_action {
	MAILAUTH_QA_HOLD = 0,
	MAILAUTH_QA_TAG = 1,
	MAILAUTH_QA_NONE = 2,
};

/* Settings; strings are borrowed and must outlive every struct mailauth. */
struct mailauth_config {
	const char *authserv_id;	/* our Authentication-Results id */
	const char *receiver;		/* our host name (SPF %{r}); NULL ok */
	bool dns_fail_accept;		/* dns_failure_action = accept */
	int reject_action;		/* enum mailauth_reject_action */
	int quarantine_action;		/* enum mailauth_quarantine_action */
	const char *override_domains;	/* comma/space list, may be NULL */
	const char *trusted_forwarders;	/* addresses/CIDRs, may be NULL */
	const struct dmarc_config *dmarc;	/* NULL: dmarc_config_init() */
	uint64_t now;			/* DKIM clock; 0: time(NULL) */
};

struct config;

/*
 * Fill ma and dm from the configuration (authserv_id, or this host's name
 * when it is empty, into authserv[authsz]; the DMARC mode, actions,
 * overrides).  ma points at dm and authserv afterwards: keep the three
 * together.  RFC 7489 mode needs psl; without one RFC 9989 mode is used
 * and *warn (if not NULL) gets a message to log, else NULL.
 */
void mailauth_config_set(struct mailauth_config *ma, struct dmarc_config *dm,
			 char *authserv, size_t authsz,
			 const struct config *cfg,
			 const struct dmarc_psl *psl, const char **warn);

/* A field to delete: the index-th (1-based) field named name. */
struct mailauth_del {
	const char *name;
	int index;
};

/* The outcome.  Strings live as long as the struct mailauth. */
struct mailauth_verdict {
	enum mailauth_action action;
	const char *rcode, *xcode;	/* "550" "5.7.1", "451" "4.7.0"; else NULL */
	const char *reply;		/* text after the codes; else NULL */
	const char *reason;		/* for logs and smfi_quarantine */
	const char *ar;			/* Authentication-Results value */
	const char *received_spf;	/* Received-SPF value */
	const char *tag_name, *tag_value;	/* extra header (tag), or NULL */
	struct mailauth_del del[MAILAUTH_MAX_DEL];
	size_t ndel;			/* in descending index order */
	/* For DMARC aggregate reports (RFC 9990) and logs. */
	const char *from_domain;	/* "" if none */
	const char *spf_result;		/* "pass", "fail", ... */
	const char *dkim_result;	/* best: "pass" > ... > "none" */
	const char *dmarc_result;	/* "pass", "fail", "none", ... */
	const char *disposition;	/* "none", "quarantine", "reject" */
	bool overridden;		/* an override kept it from reject */
	/*
	 * Per identifier, for the reports' auth_results and
	 * policy_evaluated.  spf_domain is the domain SPF checked (MAIL
	 * FROM's, or the HELO name), spf_scope "mfrom", "helo" or "" (no
	 * check: no client address).  dkim[] holds up to MAILAUTH_DKIM_MAX
	 * signatures: the DMARC-aligned one first, then the others in
	 * header order (more are left out).  The alignments are DMARC's:
	 * a passing identifier aligned with the From domain.  override is
	 * the RFC 9990 PolicyOverrideType when the disposition applied is
	 * not the one the policy asks for ("trusted_forwarder",
	 * "local_policy", "policy_test_mode"), else "".  Strings borrowed
	 * from m; attacker bytes as they came (the store key encodes them).
	 */
	const char *spf_domain, *spf_scope;
	struct mailauth_dkim {
		const char *d, *s, *result;
	} dkim[MAILAUTH_DKIM_MAX];
	size_t ndkim;
	bool spf_aligned, dkim_aligned;
	const char *override;
};

struct mailauth;

/* A new evaluation for one message; cfg is borrowed. */
struct mailauth *mailauth_new(const struct mailauth_config *cfg);
/* Free m and its verdict; NULL is a no-op. */
void mailauth_free(struct mailauth *m);

/*
 * The envelope: client address (IPv4/IPv6 text; NULL or unparsable means
 * no SPF check), HELO name and MAIL FROM address (without angle brackets;
 * "" or NULL for the null sender).  Copied.  Call before mailauth_end().
 */
void mailauth_envelope(struct mailauth *m, const char *client_ip,
		       const char *helo, const char *mailfrom);

/*
 * One header field in message order: its name and raw value (everything
 * after the colon, leading space and folding included; bare LF is turned
 * into CRLF here).
 */
void mailauth_header(struct mailauth *m, const char *name,
		     const char *value, size_t vlen);

/* A body chunk, split anywhere; CRLF or bare LF line ends. */
void mailauth_body(struct mailauth *m, const void *p, size_t n);

/*
 * A whole message as stored in a file (for `mamori scan`): the header
 * fields one by one (folded lines joined to their field), then the body.
 * CRLF or LF line ends; a leading mbox "From " line is skipped.  The
 * header ends at the empty line, or, as in Postfix's cleanup, at the
 * first line that is neither a field nor a continuation (it starts the
 * body).  Returns the number of header fields fed.
 */
size_t mailauth_message(struct mailauth *m, const char *p, size_t n);

/*
 * The message has ended: evaluate with resolver r and return the verdict
 * (owned by m).  Called once.
 */
const struct mailauth_verdict *mailauth_end(struct mailauth *m,
					    struct dns_resolver *r);

/*
 * Is ip (text) in list, a comma/space separated list of addresses and
 * CIDR ranges ("192.0.2.0/24, 2001:db8::/32, 127.0.0.1")?  Items that do
 * not parse are skipped.  False for an ip that does not parse.
 */
bool mailauth_ip_in_list(const char *list, const char *ip);

const char *mailauth_action_name(enum mailauth_action a);

#endif
