/*
 * render - turn a transition into an RFC 5322 notice; address checks and
 * the contact_map lookup.  No network I/O; the only files read are
 * templates from template_dir and the contact_map.
 *
 * Headers (RFC 5322 3.6): every value has CR, LF and other controls
 * removed before it is placed, so a login or reason holding "\r\nBcc:"
 * stays inside its own header.  A Subject that is not plain ASCII becomes
 * RFC 2047 B encoded-words of UTF-8, each line at most 76 characters
 * (RFC 2047 section 2), never splitting a UTF-8 sequence.  Bodies are
 * UTF-8 with CRLF line ends: 7bit when ASCII with lines under 998 octets
 * (RFC 5322 2.1.1), else base64 in 76-character lines (RFC 2045 6.8),
 * which passes any relay whether it speaks 8BITMIME or not.
 *
 * Placeholders are replaced in one pass: text a value brings in is never
 * scanned again, so "{id}" inside a reason stays literal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "notify/notify.h"
#include "notify/templates.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define CONTACT_LINE_MAX 1024
#define EVIDENCE_MAX (64 * 1024)
#define HEADER_VALUE_MAX 200
#define SUBJECT_MAX 512
/* Input bytes per encoded-word: 52 base64 characters, so that
 * "Subject: =?UTF-8?B?" + 52 + "?=" fits in 76 (RFC 2047 section 2). */
#define EW_CHUNK 39

/* Values for the placeholders of one notice. */
struct vars {
	const char *login, *state, *reason, *actor, *id, *kind;
	char strikes[32];
	char time[96];
	char *evidence;		/* owned */
};

/* s, or "" for NULL. */
static const char *nz(const char *s)
{
	return s ? s : "";
}

bool notify_addr_is_valid(const char *s)
{
	const char *at = NULL, *p, *dom;
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	if (len < 3 || len > NOTIFY_ADDR_MAX)
		return false;
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || strchr("()<>[]\\,;:\"", c))
			return false;
		if (c == '@') {
			if (at)
				return false;
			at = p;
		}
	}
	/* Local part: dots anywhere, since legacy Japanese mobile addresses
	 * ("taro..x.@docomo.ne.jp") are real and still deliverable. */
	if (!at || at == s || at - s > 64)
		return false;
	dom = at + 1;
	if (*dom == '\0' || *dom == '.' || dom[strlen(dom) - 1] == '.' ||
	    strstr(dom, ".."))
		return false;
	for (p = dom; *p; p++)
		if (!(*p == '.' || *p == '-' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

/* The next blank-separated field of *cur, NUL-terminated in place, or NULL. */
static char *next_field(char **cur)
{
	char *p = *cur, *start;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (!*p)
		return NULL;
	start = p;
	while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
		p++;
	if (*p)
		*p++ = '\0';
	*cur = p;
	return start;
}

int notify_contact_lookup(const char *path, const char *login, char *out,
			  size_t outsz)
{
	char line[CONTACT_LINE_MAX + 2];
	bool skipping = false;
	int found = 0;
	FILE *f;

	if (!path || !*path || !login || !*login)
		return 0;
	if (!(f = fopen(path, "r")))
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		char *key, *addr, *cur = line;
		bool whole = n > 0 && line[n - 1] == '\n';

		/* A line longer than the buffer is skipped to its end. */
		if (skipping) {
			skipping = !whole;
			continue;
		}
		if (!whole && !feof(f)) {
			skipping = true;
			continue;
		}
		key = next_field(&cur);
		if (!key || *key == '#')
			continue;
		if (strcasecmp(key, login) != 0)
			continue;
		addr = next_field(&cur);
		if (addr && notify_addr_is_valid(addr) &&
		    strlen(addr) < outsz) {
			memcpy(out, addr, strlen(addr) + 1);
			found = 1;
		}
		break;
	}
	fclose(f);
	return found;
}

/* Is s a safe file-name token: 1..32 of [a-z0-9-]? */
static bool is_token(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
			return false;
	return n > 0 && n <= 32;
}

/* Read a whole template file, at most NOTIFY_TEMPLATE_MAX bytes. */
static int read_file(const char *path, char **out, char *err, size_t errsz)
{
	struct buf b;
	char chunk[4096];
	size_t n;
	FILE *f;
	int r = 0;

	*out = NULL;
	if (!(f = fopen(path, "r")))
		return -errno;
	buf_init(&b, NOTIFY_TEMPLATE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n)) {
			snprintf(err, errsz, "%s: larger than %d bytes", path,
				 NOTIFY_TEMPLATE_MAX);
			r = -EFBIG;
			break;
		}
	}
	if (r == 0 && ferror(f)) {
		snprintf(err, errsz, "%s: read error", path);
		r = -EIO;
	}
	fclose(f);
	if (r == 0 && memchr(b.p ? b.p : "", '\0', b.len)) {
		snprintf(err, errsz, "%s: holds a NUL byte", path);
		r = -EINVAL;
	}
	if (r) {
		buf_deinit(&b);
		return r;
	}
	*out = buf_steal(&b);
	return 0;
}

/*
 * The template text for kind/audience/lang: template_dir's file when it
 * exists (an empty one meaning "none"), else the built-in.  0 with *out
 * malloc'd or NULL (none); -1 on error with err set.
 */
static int template_load(const struct config *cfg, const char *kind,
			 const char *audience, const char *lang, char **out,
			 char *err, size_t errsz)
{
	const char *builtin;

	*out = NULL;
	if (!is_token(kind) || !is_token(audience) || !is_token(lang))
		return 0;
	if (cfg->template_dir && *cfg->template_dir) {
		char *path = xasprintf("%s/%s.%s.%s.txt", cfg->template_dir,
				       kind, audience, lang);
		int r = read_file(path, out, err, errsz);

		if (r != 0 && r != -ENOENT && err[0] == '\0')
			snprintf(err, errsz, "%s: %s", path, strerror(-r));
		free(path);
		/* An empty file switches this notice off: no fallback. */
		if (r == 0 && (*out)[strspn(*out, " \t\r\n")] == '\0') {
			free(*out);
			*out = NULL;
		}
		if (r == 0)
			return 0;
		if (r != -ENOENT)
			return -1;
	}
	builtin = notify_template_builtin(kind, audience, lang);
	if (builtin)
		*out = xstrdup(builtin);
	return 0;
}

/* Split a template into its Subject line and body (after one blank line). */
static void template_split(const char *text, struct span *subj,
			   struct span *body)
{
	const char *nl;

	subj->p = "";
	subj->n = 0;
	body->p = text;
	body->n = strlen(text);
	if (strncasecmp(text, "Subject:", 8) != 0)
		return;
	nl = strchr(text, '\n');
	subj->p = text + 8;
	subj->n = nl ? (size_t)(nl - subj->p) : strlen(subj->p);
	while (subj->n && (*subj->p == ' ' || *subj->p == '\t'))
		subj->p++, subj->n--;
	while (subj->n && (subj->p[subj->n - 1] == '\r' ||
			   subj->p[subj->n - 1] == ' '))
		subj->n--;
	if (!nl) {
		body->p = "";
		body->n = 0;
		return;
	}
	body->p = nl + 1;
	if (*body->p == '\r' && body->p[1] == '\n')
		body->p += 2;
	else if (*body->p == '\n')
		body->p++;
	body->n = strlen(body->p);
}

/* Append s with every control byte (CR and LF included) made a space. */
static int put_oneline(struct buf *b, const char *s)
{
	int r = 0;

	for (; *s && !r; s++) {
		unsigned char c = (unsigned char)*s;

		r = buf_append(b, (c < 0x20 || c == 0x7f) ? " " : s, 1);
	}
	return r;
}

/* Append s keeping LF and TAB, dropping CR and other controls. */
static int put_multiline(struct buf *b, const char *s)
{
	int r = 0;

	for (; *s && !r; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f))
			r = buf_append(b, s, 1);
		else if (c != '\r')
			r = buf_append(b, " ", 1);
	}
	return r;
}

/* Fill {name} placeholders of tmpl into out; oneline for headers. */
static int expand(struct buf *out, struct span tmpl, const struct vars *v,
		  bool oneline)
{
	const struct { const char *name, *val; bool lines; } tab[] = {
		{"login", v->login, false}, {"state", v->state, false},
		{"reason", v->reason, false}, {"actor", v->actor, false},
		{"id", v->id, false}, {"kind", v->kind, false},
		{"strikes", v->strikes, false}, {"time", v->time, false},
		{"evidence", v->evidence, true},
	};
	size_t i = 0, k;
	int r = 0;

	while (i < tmpl.n && !r) {
		const char *p = tmpl.p + i;
		const char *brace = memchr(p, '{', tmpl.n - i);
		bool hit = false;

		if (!brace) {
			r = buf_append(out, p, tmpl.n - i);
			break;
		}
		r = buf_append(out, p, (size_t)(brace - p));
		i += (size_t)(brace - p);
		for (k = 0; k < sizeof(tab) / sizeof(tab[0]) && !r; k++) {
			size_t len = strlen(tab[k].name);

			if (i + len + 2 <= tmpl.n &&
			    memcmp(tmpl.p + i + 1, tab[k].name, len) == 0 &&
			    tmpl.p[i + 1 + len] == '}') {
				if (oneline || !tab[k].lines)
					r = put_oneline(out, tab[k].val);
				else
					r = put_multiline(out, tab[k].val);
				i += len + 2;
				hit = true;
				break;
			}
		}
		if (!hit && !r) {
			r = buf_append(out, "{", 1);
			i++;
		}
	}
	return r;
}

/* The evidence as indented JSON, or the raw text if it is not JSON. */
static char *evidence_text(const char *json)
{
	json_error_t jerr;
	json_t *j;
	char *s, *t;

	if (!json || !*json)
		return xstrdup("-");
	j = json_loads(json, JSON_DECODE_ANY, &jerr);
	if (!j)
		return xstrndup(json, strnlen(json, EVIDENCE_MAX));
	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return xstrdup("-");
	/* Copy: bounded, and xalloc memory rather than jansson's. */
	t = xstrndup(s, strnlen(s, EVIDENCE_MAX));
	free(s);
	return t;
}

/* ISO 8601 local time with a +hh:mm offset. */
static void iso_time(char *out, size_t outsz, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	long off;
	char sign = '+';

	if (!localtime_r(&tt, &tm)) {
		snprintf(out, outsz, "%lld", t);
		return;
	}
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
}

/* RFC 5322 3.3 date-time, in English whatever the locale. */
static void rfc5322_date(char *out, size_t outsz, time_t t)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	struct tm tm;
	long off;
	char sign = '+';

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	snprintf(out, outsz, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
		 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
		 off / 60, off % 60);
}

/* Append "Name: value" CRLF with value reduced to printable ASCII. */
static int put_header(struct buf *b, const char *name, const char *value)
{
	size_t i, n = 0;
	int r = buf_printf(b, "%s: ", name);

	for (i = 0; value[i] && !r && n < HEADER_VALUE_MAX; i++, n++) {
		unsigned char c = (unsigned char)value[i];

		r = buf_append(b, (c < 0x20 || c >= 0x7f) ? "_" : value + i,
			       1);
	}
	return r ? r : buf_puts(b, "\r\n");
}

/* Does s need MIME encoding in a header: non-ASCII, or "=?" that a
 * reader would take for an encoded-word? */
static bool needs_encoding(const char *s)
{
	const unsigned char *p;

	if (strstr(s, "=?"))
		return true;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x7f)
			return true;
	return false;
}

/* Append the Subject header; s is one line already (no controls).  ASCII
 * is folded before a space past 78 columns (RFC 5322 2.2.3); anything else
 * becomes encoded-words on lines of at most 76. */
static int put_subject(struct buf *b, const char *s)
{
	size_t len = strlen(s), i = 0, col;
	int r;

	if (!needs_encoding(s)) {
		r = buf_puts(b, "Subject:");
		col = 8;
		while (i < len && !r) {
			size_t sp = strspn(s + i, " ");
			size_t w = strcspn(s + i + sp, " ");

			if (col + 1 + w > 78 && col > 8) {
				r = buf_puts(b, "\r\n");
				col = 0;
			}
			if (!r)
				r = buf_printf(b, " %.*s", (int)w, s + i + sp);
			col += 1 + w;
			i += sp + w;
		}
		return r ? r : buf_puts(b, "\r\n");
	}
	r = buf_puts(b, "Subject:");
	while (i < len && !r) {
		unsigned char enc[4 * EW_CHUNK / 3 + 4];
		size_t n = len - i < EW_CHUNK ? len - i : EW_CHUNK;

		/* Back off to a UTF-8 sequence start (RFC 2047 section 5:
		 * each encoded-word holds whole characters). */
		while (n > 1 && i + n < len &&
		       ((unsigned char)s[i + n] & 0xc0) == 0x80)
			n--;
		EVP_EncodeBlock(enc, (const unsigned char *)s + i, (int)n);
		r = buf_printf(b, "%s =?UTF-8?B?%s?=", i ? "\r\n" : "",
			       (const char *)enc);
		i += n;
	}
	return r ? r : buf_puts(b, "\r\n");
}

/* Append body (LF or CRLF lines) with CRLF line ends: 7bit or base64. */
static int put_body(struct buf *b, const char *body)
{
	struct buf crlf;
	const unsigned char *p;
	size_t i, col = 0;
	bool ascii = true;
	int r = 0;

	buf_init(&crlf, NOTIFY_MSG_MAX);
	for (p = (const unsigned char *)body; *p && !r; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			r = buf_append(&crlf, "\r\n", 2);
			col = 0;
			continue;
		}
		if (*p >= 0x80 || ++col > 900)
			ascii = false;
		r = buf_append(&crlf, p, 1);
	}
	if (!r && ascii) {
		r = buf_puts(b, "Content-Transfer-Encoding: 7bit\r\n\r\n");
		if (!r)
			r = buf_append(b, crlf.p ? crlf.p : "", crlf.len);
	} else if (!r) {
		r = buf_puts(b, "Content-Transfer-Encoding: base64\r\n\r\n");
		for (i = 0; i < crlf.len && !r; i += 57) {
			unsigned char enc[80];
			size_t n = crlf.len - i < 57 ? crlf.len - i : 57;

			EVP_EncodeBlock(enc, (unsigned char *)crlf.p + i,
					(int)n);
			r = buf_printf(b, "%s\r\n", (const char *)enc);
		}
	}
	buf_deinit(&crlf);
	return r;
}

/* FNV-1a, to tell recipients apart in a Message-ID without naming them. */
static unsigned long fnv1a(const char *s)
{
	unsigned long h = 2166136261UL;

	for (; *s; s++)
		h = ((h ^ (unsigned char)*s) * 16777619UL) & 0xffffffffUL;
	return h;
}

/* Append "<id.audience.hash@domain>" from safe characters only. */
static int put_message_id(struct buf *b, const struct notify_event *ev,
			  const char *audience, const char *to,
			  const char *from)
{
	const char *id = nz(ev->id), *dom = strchr(from, '@');
	size_t i;
	int r = buf_puts(b, "Message-ID: <");

	if (!*id)
		r = r ? r : buf_printf(b, "%lld", ev->time);
	for (i = 0; id[i] && i < 100 && !r; i++) {
		char c = id[i];
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.';

		r = buf_append(b, safe ? &c : "_", 1);
	}
	if (!r)
		r = buf_printf(b, ".%s.%08lx@%s>\r\n", audience,
			       fnv1a(nz(to)), dom ? dom + 1 : "localhost");
	return r;
}

/* The languages to render, in order, from notify_language. */
static int languages(const char *setting, const char *out[2])
{
	if (setting && strcasecmp(setting, "ja") == 0) {
		out[0] = "ja";
		return 1;
	}
	if (setting && strcasecmp(setting, "en") == 0) {
		out[0] = "en";
		return 1;
	}
	out[0] = "ja";
	out[1] = "en";
	return 2;
}

char *notify_render(const struct config *cfg, const struct notify_event *ev,
		    const char *audience, const char *to, char *err,
		    size_t errsz)
{
	const char *langs[2];
	char *text[2] = {NULL, NULL};
	struct buf subj, body, msg;
	struct vars v;
	char date[128];
	int nl, i, ntext = 0, r = 0;
	char *result = NULL;

	err[0] = '\0';
	if (!notify_addr_is_valid(cfg->notify_from)) {
		snprintf(err, errsz, "notify_from is not a valid address");
		return NULL;
	}
	if (to && !notify_addr_is_valid(to)) {
		snprintf(err, errsz, "recipient is not a valid address");
		return NULL;
	}
	nl = languages(cfg->notify_language, langs);
	for (i = 0; i < nl; i++) {
		if (template_load(cfg, nz(ev->kind), nz(audience), langs[i],
				  &text[i], err, errsz)) {
			free(text[0]);
			return NULL;
		}
		ntext += text[i] != NULL;
	}
	if (ntext == 0)
		return NULL;

	memset(&v, 0, sizeof(v));
	v.login = nz(ev->login);
	v.state = nz(ev->state);
	v.reason = nz(ev->reason);
	v.actor = nz(ev->actor);
	v.id = nz(ev->id);
	v.kind = nz(ev->kind);
	snprintf(v.strikes, sizeof(v.strikes), "%ld", ev->strikes);
	iso_time(v.time, sizeof(v.time), ev->time);
	v.evidence = evidence_text(ev->evidence_json);

	buf_init(&subj, NOTIFY_MSG_MAX);
	buf_init(&body, NOTIFY_MSG_MAX);
	buf_init(&msg, NOTIFY_MSG_MAX);
	for (i = 0; i < nl && !r; i++) {
		struct span s, bd;

		if (!text[i])
			continue;
		template_split(text[i], &s, &bd);
		if (subj.len && s.n)
			r = buf_puts(&subj, " / ");
		if (!r)
			r = expand(&subj, s, &v, true);
		if (!r && body.len)
			r = buf_puts(&body, body.p[body.len - 1] == '\n' ?
				     "\n----- English -----\n\n" :
				     "\n\n----- English -----\n\n");
		if (!r)
			r = expand(&body, bd, &v, false);
	}
	if (!r && subj.len > SUBJECT_MAX) {
		size_t n = SUBJECT_MAX;

		while (n > 0 && ((unsigned char)subj.p[n] & 0xc0) == 0x80)
			n--;
		subj.p[n] = '\0';
		subj.len = n;
	}
	rfc5322_date(date, sizeof(date), time(NULL));
	if (!r)
		r = put_header(&msg, "From", cfg->notify_from);
	if (!r)
		r = put_header(&msg, "To", to ? to : "undisclosed-recipients:;");
	if (!r)
		r = put_subject(&msg, subj.p ? subj.p : "");
	if (!r)
		r = put_header(&msg, "Date", date);
	if (!r)
		r = put_message_id(&msg, ev, nz(audience), to,
				   cfg->notify_from);
	/* RFC 3834: keep vacation responders from answering a notice. */
	if (!r)
		r = buf_puts(&msg, "Auto-Submitted: auto-generated\r\n");
	if (!r)
		r = put_header(&msg, "X-Mamori-Event", v.kind);
	if (!r)
		r = put_header(&msg, "X-Mamori-Id", v.id);
	if (!r)
		r = buf_puts(&msg, "MIME-Version: 1.0\r\n"
			     "Content-Type: text/plain; charset=UTF-8\r\n");
	if (!r)
		r = put_body(&msg, body.p ? body.p : "");
	if (r)
		snprintf(err, errsz, "message larger than %d bytes",
			 NOTIFY_MSG_MAX);
	else
		result = buf_steal(&msg);
	buf_deinit(&subj);
	buf_deinit(&body);
	buf_deinit(&msg);
	free(v.evidence);
	free(text[0]);
	free(text[1]);
	return result;
}
