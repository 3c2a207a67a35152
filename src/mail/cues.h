/*
 * cues - scam-type cue words and brand claims in a message's subject and
 * text (issue 10 item 7, the cue-word part).
 *
 * Each cue is a short Japanese or English phrase typical of one scam type
 * (the list is in cues.c, drawn from the kinds of wording the Council of
 * Anti-Phishing Japan, JPCERT/CC and consumer-affairs pages quote:
 * "アカウントを停止", "未払い", "マクロを有効", "副業").  Subject and text
 * are compared after NFKC casefolding (ICU), so half-width katakana,
 * full-width Latin and case do not matter.  A brand claim is a protected
 * brand name (struct lookalike, lookalike_brand) written in the subject or
 * text of mail whose From domain is not that brand's: reported with the
 * brand and its domain, and whether the subject names it (the stronger
 * sign: ham mentions brands in its text all the time).
 *
 * With la, a subject word that mixes Latin with Cyrillic or Greek letters
 * (UTS #39 restriction level, as for domains: "Rеviеw Yоur" with Cyrillic
 * е and о, a filter-evasion trick) is reported too.
 *
 * Cues are evidence for a label, never a verdict alone: ham quotes
 * "password" and "invoice" too.  The caller weighs hits with the other
 * checks (display name, look-alikes, links, archives).
 *
 * Limits: the subject up to CUES_SUBJECT_MAX bytes and the first
 * CUES_TEXT_MAX bytes of the text are read (scam wording comes first, and
 * the scan is one pass per cue over at most that much); brands shorter
 * than 3 bytes are not looked for (too many false hits).  Sans-I/O,
 * no state, thread-safe; la is borrowed.
 */
#ifndef MAMORI_CUES_H
#define MAMORI_CUES_H

#include <stdbool.h>
#include <stddef.h>

#define CUES_SUBJECT_MAX 998
#define CUES_TEXT_MAX (16 * 1024)

enum cues_label {
	CUES_PHISHING = 0,
	CUES_FAKE_BILLING,
	CUES_MALWARE,
	CUES_SOLICITATION,
	CUES_N
};

struct cues_result {
	unsigned hits[CUES_N];		/* distinct cues found per label */
	const char *first[CUES_N];	/* the first cue found (static) */
	bool brand_claim;		/* a brand not the sender's */
	bool brand_in_subject;		/* ... named in the subject */
	bool mixed_script_subject;	/* a subject word mixes Latin with
					 * Cyrillic or Greek ("Rеviеw") */
	char brand[64];
	char brand_domain[256];
};

struct lookalike;

/*
 * Scans subject[0..sn) and text[0..tn) (UTF-8; either may be empty) for
 * cues, and for protected brands if la is not NULL, when from_domain
 * (NUL-terminated, may be NULL) is not that brand's domain.  Fills *res.
 * Invalid UTF-8 is read as U+FFFD.  Returns 0, or -1 if ICU fails (res
 * then holds nothing).
 */
int cues_scan(const char *subject, size_t sn, const char *text, size_t tn,
	      const struct lookalike *la, const char *from_domain,
	      struct cues_result *res);

/*
 * The brand-claim check alone on one short text[0..n) (a display name:
 * "Bank of America Alerts" <alerts@evil.example>; at most CUES_SUBJECT_MAX
 * bytes read): sets res->brand_claim, brand and brand_domain (the other
 * fields are left alone) and returns res->brand_claim.
 */
bool cues_brand_claim(const struct lookalike *la, const char *text,
		      size_t n, const char *from_domain,
		      struct cues_result *res);

/* "phishing", "fake-billing", "malware", "solicitation". */
const char *cues_label_name(enum cues_label l);

#endif
