/*
 * content - the inbound content verdict: one score made of named reasons,
 * scam-type labels, and the action the score calls for (issue 10,
 * docs/design/content.md "Scoring").
 *
 * Per inbound message the core (core/inbound.c) parses the message ONCE
 * with mail/mime.h (bounded depth, parts and bytes), then content_check()
 * runs every content module on that one summary: display names
 * (mail/dispname.h), look-alike From domains (mail/lookalike.h, against
 * the protected list and against the recipient's correspondents through
 * the hashed index of core/corrindex.h), archives (mail/archive.h, weighed
 * with context: PPAP from a DMARC-aligned known correspondent is low, the
 * same archive from a new address, as a reply, or under a mismatched
 * display name is high), links (mail/links.h; the HTML is parsed only when
 * there is HTML) and cue words (mail/cues.h).  Each finding becomes a
 * reason: a name, the label it supports, points and a detail string with
 * the numbers.
 *
 * Other modules append their own reasons to the same verdict with ONE call,
 * content_add_reason(), between content_check() and content_decide() (the
 * sent-message log's thread-hijacking and backscatter reasons do this in
 * core_inbound).  content_decide() then sums the points, attaches every
 * label whose reasons reach label_score, picks the action from the
 * thresholds, and writes the X-Mamori-Verdict value, the Subject prefix
 * and the reply text.
 *
 * Limits: CONTENT_MAX_REASONS reasons (more are counted in dropped but
 * still scored), names CONTENT_NAME_MAX, details CONTENT_DETAIL_MAX bytes
 * (cut; they hold attacker text, so whoever logs them escapes them with
 * log_q).  Sans-I/O: no store, no logging, no sockets.
 *
 * Threading: a struct content_config is built on the loop thread and then
 * read-only (shared by every worker of a settings snapshot); a verdict
 * belongs to one message and one thread at a time.
 */
#ifndef MAMORI_CORE_CONTENT_H
#define MAMORI_CORE_CONTENT_H

#include <stdbool.h>
#include <stddef.h>

#define CONTENT_MAX_REASONS 32
#define CONTENT_NAME_MAX 32
#define CONTENT_DETAIL_MAX 320
/* X-Mamori-Verdict value: fits one folded header field. */
#define CONTENT_HEADER_MAX 1024

/* Scam-type labels (issue 10 item 7), also the bit numbers of labels. */
enum content_label {
	CONTENT_PHISHING = 0,
	CONTENT_FAKE_BILLING,
	CONTENT_MALWARE,
	CONTENT_SOLICITATION,
	CONTENT_SPOOFING,
	CONTENT_BACKSCATTER,
	CONTENT_NLABELS
};
/* The label of a reason that supports no scam type (it only scores). */
#define CONTENT_NO_LABEL CONTENT_NLABELS

/* What the content score calls for, from mild to strict. */
enum content_action {
	CONTENT_ACCEPT = 0,
	CONTENT_TAG,		/* X-Mamori-Verdict (+ Subject prefix) */
	CONTENT_HOLD,		/* milter quarantine: the hold queue */
	CONTENT_REJECT,		/* 550 5.7.1 at end of data */
};

struct content_reason {
	char name[CONTENT_NAME_MAX];	/* "lookalike-from", ... */
	enum content_label label;
	int points;
	char detail[CONTENT_DETAIL_MAX];	/* "from=... protected=..." */
};

struct content_verdict {
	int score;			/* sum of every reason's points */
	unsigned labels;		/* 1u << enum content_label */
	int label_points[CONTENT_NLABELS];
	enum content_action action;
	struct content_reason reason[CONTENT_MAX_REASONS];
	size_t nreasons;
	size_t dropped;			/* reasons past the array (scored) */
	bool checked;			/* content_check ran on a parse */
	/* The least action another module demands whatever the score
	 * (backscatter_action, core/replycheck.h); set before
	 * content_decide, which honours it. */
	enum content_action floor;
	unsigned mime_flags;		/* MIME_F_* of the parse */
	/* Set by content_decide: */
	char header[CONTENT_HEADER_MAX];	/* X-Mamori-Verdict value */
	char reply[256];		/* reject text (no codes) */
	const char *subject_prefix;	/* tag: prefix the Subject; or NULL */
};

struct dmarc_psl;
struct lookalike;
struct hostlist;
struct mime_summary;
struct mailauth_verdict;
struct corrindex;
struct config;

/* Settings shared by the messages of one settings snapshot. */
struct content_config {
	bool enabled;			/* content_checks */
	int tag_score, hold_score, reject_score;	/* 0: off */
	int label_score;		/* a label's points to attach it */
	const char *subject_prefix;	/* "" or NULL: none */
	const char *authserv_id;	/* first item of X-Mamori-Verdict */
	const struct dmarc_psl *psl;	/* borrowed */
	struct lookalike *la;		/* owned: content_config_deinit */
	struct hostlist *hl;		/* content_hosts_file; owned */
};

/*
 * Fill c from cfg (thresholds, prefix; the protected domains of
 * lookalike_protected_file and the host lists of content_hosts_file,
 * loaded here).  psl and authserv are borrowed
 * and must outlive c.  *warn gets a message to log (file unreadable, bad
 * line) or NULL; the checks run on without the list then.
 */
void content_config_init(struct content_config *c, const struct config *cfg,
			 const struct dmarc_psl *psl, const char *authserv,
			 char *warn, size_t warnsz);
/* Free what content_config_init made. */
void content_config_deinit(struct content_config *c);

/* What content_check looks at besides the settings. */
struct content_input {
	const struct mime_summary *ms;		/* the one parse */
	const struct mailauth_verdict *auth;	/* DMARC alignment; may be NULL */
	const struct corrindex *ci;		/* known correspondents; may be NULL */
};

/* Empty v for a new message. */
void content_verdict_init(struct content_verdict *v);

/*
 * Run the content checks on in->ms and append their reasons to v.  Sets
 * v->checked.  Does not decide: call content_decide after every module
 * has appended its reasons.
 */
void content_check(struct content_verdict *v, const struct content_config *c,
		   const struct content_input *in);

/*
 * Append one reason: name (cut to CONTENT_NAME_MAX - 1), the label it
 * supports, its points (may be negative: evidence in the message's
 * favour) and a printf-formatted detail with the numbers (cut to
 * CONTENT_DETAIL_MAX - 1; attacker text is fine here: bytes that are not
 * UTF-8 become '?', and it is escaped where it is logged or printed).  Past CONTENT_MAX_REASONS the reason is not
 * kept but its points still count (v->dropped).  Call before
 * content_decide; any module of the core may call it.
 */
void content_add_reason(struct content_verdict *v, const char *name,
			enum content_label label, int points,
			const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Sum the reasons into score and labels, choose the action by the
 * thresholds of c and write header, reply and subject_prefix.
 */
void content_decide(struct content_verdict *v, const struct content_config *c);

/* "phishing", "fake-billing", "malware", "solicitation", "spoofing",
 * "backscatter". */
const char *content_label_name(enum content_label l);
/* "accept", "tag", "hold", "reject". */
const char *content_action_name(enum content_action a);
/* The labels of mask, comma-separated ("malware,spoofing"; "" if none),
 * into buf; returns buf. */
const char *content_labels_str(unsigned mask, char *buf, size_t bufsz);

#endif
