/*
 * content-signals - the content checks on hosts and message shapes (issue
 * 10, docs/design/content.md "Hosts and shapes"): links to URL shorteners
 * and free hosting, a Reply-To on a free mailbox, a From domain under a
 * throwaway TLD, several From authors or none, styled Unicode letters in
 * the subject or name, HTML of pictures and links with almost no words,
 * HTML/SVG and OneNote attachments.  Internal to core/content.c, which calls it once
 * per message after its link parse; each finding is a reason appended
 * with content_add_reason().
 *
 * Limits: the links already parsed (at most LINKS_MAX), at most
 * SIGNALS_HTML_SCAN bytes of HTML read to count visible characters (and
 * only until SIGNALS_TEXT_FEW of them are seen), the attachments the MIME
 * summary lists.  No allocation per message.  Sans-I/O: core/content.c
 * reads the hosts file and hands its bytes to content_signals_load.
 * Threading: the hosts list is built on the loop thread, then read-only.
 */
#ifndef MAMORI_CORE_CONTENT_SIGNALS_H
#define MAMORI_CORE_CONTENT_SIGNALS_H

#include <stddef.h>

struct content_config;
struct content_verdict;
struct links;
struct mime_summary;

/*
 * Load the hosts file text[0..n) (mail/hostlist.h format; NULL: path
 * could not be read) into c->hl (made here; freed by
 * content_config_deinit).  *warn gets "" or a message naming path; after
 * a bad line the entries before it are used.
 */
void content_signals_load(struct content_config *c, const char *path,
			  const char *text, size_t n, char *warn,
			  size_t warnsz);

/*
 * Append the reasons of this module for the message ms, whose links are
 * lk (NULL: none parsed) and whose From domain is from_domain (lowercase,
 * "" if none).
 */
void content_signals_check(struct content_verdict *v,
			   const struct content_config *c,
			   const struct mime_summary *ms,
			   const struct links *lk, const char *from_domain);

#endif
