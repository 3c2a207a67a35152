/*
 * archive - attachment inspection on libarchive (see archive.h for what is
 * reported, the limits and what "unknown" means).
 *
 * scan_archive() opens one buffer with libarchive, lists its entries,
 * reads ARC_HEAD bytes of each unencrypted entry for its magic, and reads
 * whole (up to ARC_MAX_NESTED) only the entries that are archives or OLE2
 * files, recursing into archives.  Every decompressed byte counts against
 * ARC_MAX_BYTES for the whole report.
 */
#include "mail/archive.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "util/xalloc.h"

/* libarchive learned to flag encrypted RAR5 entries in 3.7.0. */
#define ARC_RAR5_ENCRYPTION_VERSION 3007000

/* Extensions Windows runs or mounts on a double click. */
static const char *const exec_ext[] = {
	"exe",	"scr",	"com",	       "pif", "cpl",  "msi", "msp",
	"dll",	"js",	"jse",	       "vbs", "vbe",  "wsf", "wsh",
	"hta",	"bat",	"cmd",	       "ps1", "psm1", "lnk", "iso",
	"img",	"vhd",	"vhdx",	       "jar", "reg",  "chm", "scf",
	"appx", "msix", "application", "xll", NULL,
};

/* Extensions a disguised executable pretends to have. */
static const char *const decoy_ext[] = {
	"pdf", "doc",  "docx", "xls", "xlsx", "ppt", "pptx",
	"rtf", "txt",  "csv",  "jpg", "jpeg", "png", "gif",
	"htm", "html", "zip",  "mp3", "mp4",  "wav", NULL,
};

/* Office Open XML with macros: these extensions, or vbaProject.bin. */
static const char *const macro_ext[] = {
	"docm", "dotm", "xlsm", "xltm", "xlam", "pptm",
	"potm", "ppam", "ppsm", "sldm", NULL,
};

static const unsigned char ole_magic[8] = { 0xD0, 0xCF, 0x11, 0xE0,
					    0xA1, 0xB1, 0x1A, 0xE1 };
/* "_VBA_PROJECT" in UTF-16LE: the stream every VBA storage holds
 * ([MS-OVBA] 2.3.4.1), named in the OLE2 directory. */
static const char vba_marker[] = "_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";

/* The state of one report. */
struct scan {
	struct arc_report *r;
};

/* Is ext (lower case) in list? */
static bool in_list(const char *const *list, const char *ext)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, ext) == 0)
			return true;
	return false;
}

/* Copy name into out (ARC_MAX_NAME + 1 bytes), cut on a UTF-8 boundary. */
static void copy_name(char *out, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n > ARC_MAX_NAME) {
		n = ARC_MAX_NAME;
		while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
			n--;
	}
	if (n > 0)
		memcpy(out, name, n);
	out[n] = '\0';
}

/* Does name hold a Unicode bidi or invisible formatting control?  U+200E/F,
 * U+202A..U+202E, U+2066..U+2069 in UTF-8. */
static bool has_bidi(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		if (p[0] != 0xE2 || p[1] == '\0' || p[2] == '\0')
			continue;
		if (p[1] == 0x80 && (p[2] == 0x8E || p[2] == 0x8F ||
				     (p[2] >= 0xAA && p[2] <= 0xAE)))
			return true;
		if (p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9)
			return true;
	}
	return false;
}

/*
 * The extension ending at end (exclusive) of base, lower case, into ext
 * (16 bytes); trailing spaces and dots are dropped first, as Windows
 * drops them.  Returns where the extension's dot is, NULL if none.
 */
static const char *ext_before(const char *base, const char *end, char *ext,
			      size_t *spaces)
{
	const char *dot;
	size_t n, i;

	*spaces = 0;
	while (end > base && (end[-1] == ' ' || end[-1] == '.'))
		end--;
	for (dot = end; dot > base && dot[-1] != '.'; dot--)
		;
	if (dot == base)
		return NULL;
	n = (size_t)(end - dot);
	if (n == 0 || n > 15)
		return NULL;
	for (i = 0; i < n; i++)
		ext[i] = (char)tolower((unsigned char)dot[i]);
	ext[n] = '\0';
	/* Padding before the dot ("invoice.pdf      .exe") hides the end. */
	for (i = (size_t)(dot - 1 - base); i > 0 && base[i - 1] == ' '; i--)
		(*spaces)++;
	return dot - 1;
}

unsigned arc_name_flags(const char *name)
{
	const char *base, *p, *dot;
	char ext[16], prev[16];
	size_t spaces, sp2;
	unsigned f = 0;
	bool exec;

	if (name == NULL || *name == '\0')
		return 0;
	base = name;
	for (p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	dot = ext_before(base, base + strlen(base), ext, &spaces);
	if (dot == NULL)
		return has_bidi(base) ? ARC_F_DOUBLE_EXT : 0;
	exec = in_list(exec_ext, ext);
	if (exec)
		f |= ARC_F_EXECUTABLE;
	if (in_list(macro_ext, ext))
		f |= ARC_F_MACRO;
	if (strcmp(ext, "vbaproject.bin") == 0 ||
	    strcasecmp(base, "vbaProject.bin") == 0)
		f |= ARC_F_MACRO;
	if (exec &&
	    (spaces >= 3 || (ext_before(base, dot, prev, &sp2) != NULL &&
			     in_list(decoy_ext, prev))))
		f |= ARC_F_DOUBLE_EXT;
	if (has_bidi(base))
		f |= ARC_F_DOUBLE_EXT;
	return f;
}

const char *arc_format_name(enum arc_format f)
{
	static const char *const names[] = {
		[ARC_FMT_NONE] = "none",       [ARC_FMT_ZIP] = "zip",
		[ARC_FMT_7ZIP] = "7zip",       [ARC_FMT_RAR] = "rar",
		[ARC_FMT_RAR5] = "rar5",       [ARC_FMT_TAR] = "tar",
		[ARC_FMT_ISO9660] = "iso9660", [ARC_FMT_CAB] = "cab",
		[ARC_FMT_LHA] = "lha",	       [ARC_FMT_OTHER] = "other",
	};

	return (unsigned)f <= ARC_FMT_OTHER ? names[f] : "other";
}

/* Our format for libarchive's archive_format(). */
static enum arc_format map_format(int code)
{
	switch (code & ARCHIVE_FORMAT_BASE_MASK) {
	case ARCHIVE_FORMAT_ZIP:
		return ARC_FMT_ZIP;
	case ARCHIVE_FORMAT_7ZIP:
		return ARC_FMT_7ZIP;
	case ARCHIVE_FORMAT_RAR:
		return ARC_FMT_RAR;
	case ARCHIVE_FORMAT_RAR_V5:
		return ARC_FMT_RAR5;
	case ARCHIVE_FORMAT_TAR:
		return ARC_FMT_TAR;
	case ARCHIVE_FORMAT_ISO9660:
		return ARC_FMT_ISO9660;
	case ARCHIVE_FORMAT_CAB:
		return ARC_FMT_CAB;
	case ARCHIVE_FORMAT_LHA:
		return ARC_FMT_LHA;
	default:
		return ARC_FMT_OTHER;
	}
}

/* The archive format the first bytes announce, ARC_FMT_NONE if none.
 * Used to call a buffer that does not open "unknown" rather than clean. */
static enum arc_format magic_format(const unsigned char *p, size_t n)
{
	if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
		return ARC_FMT_ZIP;
	if (n >= 4 && memcmp(p, "PK\x05\x06", 4) == 0)
		return ARC_FMT_ZIP;
	if (n >= 6 && memcmp(p, "7z\xBC\xAF\x27\x1C", 6) == 0)
		return ARC_FMT_7ZIP;
	if (n >= 8 && memcmp(p, "Rar!\x1A\x07\x01\x00", 8) == 0)
		return ARC_FMT_RAR5;
	if (n >= 7 && memcmp(p, "Rar!\x1A\x07\x00", 7) == 0)
		return ARC_FMT_RAR;
	if (n >= 4 && memcmp(p, "MSCF", 4) == 0)
		return ARC_FMT_CAB;
	return ARC_FMT_NONE;
}

/*
 * Does a ZIP end with its End of Central Directory record (APPNOTE 4.3.16:
 * within the last 22 + 65535 bytes)?  Without it libarchive lists the
 * local headers it meets, and what follows a cut is never seen.
 */
static bool zip_has_eocd(const unsigned char *p, size_t n)
{
	size_t from = n > 22 + 65535 ? n - (22 + 65535) : 0;

	return n >= 22 && memmem(p + from, n - from, "PK\x05\x06", 4) != NULL;
}

/* ARC_F_EXECUTABLE / ARC_F_MACRO from the content's first bytes. */
static unsigned magic_flags(const unsigned char *p, size_t n)
{
	if (n >= 2 && p[0] == 'M' && p[1] == 'Z')
		return ARC_F_EXECUTABLE;
	if (n >= 4 && memcmp(p,
			     "\x7F"
			     "ELF",
			     4) == 0)
		return ARC_F_EXECUTABLE;
	if (n >= sizeof(ole_magic) &&
	    memcmp(p, ole_magic, sizeof(ole_magic)) == 0 &&
	    memmem(p, n, vba_marker, sizeof(vba_marker) - 1) != NULL)
		return ARC_F_MACRO;
	return 0;
}

/* Record flags for name at depth: in the union and, if notable, by name. */
static void note(struct scan *sc, const char *name, unsigned depth,
		 unsigned flags)
{
	struct arc_report *r = sc->r;
	struct arc_finding *f;

	r->flags |= flags;
	if (flags == 0 || r->n_findings == ARC_MAX_FINDINGS)
		return;
	f = &r->findings[r->n_findings++];
	f->flags = flags;
	f->depth = depth;
	copy_name(f->name, name);
}

/* Enable what libarchive reads from memory without an external program. */
static struct archive *reader_new(void)
{
	struct archive *a = archive_read_new();

	/* A filter that returns ARCHIVE_WARN would run an external program
	 * (no built-in library): those are not wanted, so they go. */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_7zip(a);
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_iso9660(a);
	archive_read_support_format_cab(a);
	archive_read_support_format_lha(a);
	return a;
}

static void scan_buffer(struct scan *sc, const unsigned char *p, size_t n,
			const char *name, unsigned depth);

/*
 * Read the current entry's data: up to cap bytes into *out (xmalloc'd,
 * *got bytes), within ARC_MAX_BYTES.  Returns 0, or -1 if libarchive
 * failed to read it (an unsupported method, a wrong password, damage).
 */
static int read_entry(struct scan *sc, struct archive *a, size_t cap,
		      unsigned char **out, size_t *got)
{
	struct arc_report *r = sc->r;
	unsigned char *b;
	la_ssize_t k;

	*got = 0;
	if (cap > ARC_MAX_BYTES - r->bytes_read)
		cap = ARC_MAX_BYTES - r->bytes_read;
	b = xmalloc(cap ? cap : 1);
	*out = b;
	while (*got < cap) {
		k = archive_read_data(a, b + *got, cap - *got);
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		*got += (size_t)k;
		r->bytes_read += (size_t)k;
	}
	return 0;
}

/* Look at one entry of an open archive (ar is its report row). */
static void scan_entry(struct scan *sc, struct archive *a,
		       struct archive_entry *e, struct arc_archive *ar,
		       unsigned depth)
{
	struct arc_report *r = sc->r;
	const char *name = archive_entry_pathname_utf8(e);
	unsigned f, mf;
	unsigned char *data = NULL;
	size_t got = 0;
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) :
						      -1;
	enum arc_format inner;

	if (name == NULL)
		name = archive_entry_pathname(e);
	if (name == NULL)
		name = "";
	ar->n_entries++;
	r->n_entries++;
	f = arc_name_flags(name);
	if (archive_entry_is_encrypted(e)) {
		ar->n_encrypted++;
		r->n_encrypted++;
		f |= ARC_F_ENCRYPTED;
	}
	if (archive_entry_filetype(e) != AE_IFREG || (f & ARC_F_ENCRYPTED)) {
		ar->flags |= f;
		note(sc, name, depth, f);
		return;
	}
	if (r->bytes_read >= ARC_MAX_BYTES) {
		f |= ARC_F_LIMIT_BYTES | ARC_F_UNKNOWN;
		goto out;
	}
	/* Magic first; the whole entry only if it is worth opening. */
	if (read_entry(sc, a, ARC_HEAD, &data, &got) < 0) {
		f |= ARC_F_UNKNOWN;
		goto out;
	}
	mf = magic_flags(data, got);
	inner = magic_format(data, got);
	if (inner != ARC_FMT_NONE ||
	    (got >= sizeof(ole_magic) &&
	     memcmp(data, ole_magic, sizeof(ole_magic)) == 0)) {
		size_t more = 0;
		unsigned char *rest = NULL, *all;
		size_t cap = ARC_MAX_NESTED - got;
		int rc = read_entry(sc, a, cap, &rest, &more);

		all = xrealloc(data, got + more + 1);
		memcpy(all + got, rest, more);
		free(rest);
		data = all;
		got += more;
		if (rc < 0 || (size >= 0 && (uint64_t)size > got))
			f |= ARC_F_UNKNOWN; /* cut: cannot see it all */
		if (r->bytes_read >= ARC_MAX_BYTES)
			f |= ARC_F_LIMIT_BYTES;
		mf = magic_flags(data, got);
		if (inner != ARC_FMT_NONE) {
			f |= ARC_F_NESTED;
			if (depth + 1 > ARC_MAX_DEPTH)
				f |= ARC_F_LIMIT_DEPTH | ARC_F_UNKNOWN;
			else
				scan_buffer(sc, data, got, name, depth + 1);
		}
	}
	f |= mf;
out:
	free(data);
	ar->flags |= f;
	note(sc, name, depth, f);
}

/* Open n bytes at p as an archive at depth and report it (name: the
 * attachment's or the containing entry's). */
static void scan_buffer(struct scan *sc, const unsigned char *p, size_t n,
			const char *name, unsigned depth)
{
	struct arc_report *r = sc->r;
	enum arc_format magic = magic_format(p, n);
	struct arc_archive *ar, spare;
	struct archive_entry *e;
	struct archive *a;
	int rc, enc;

	if (r->n_archives < ARC_MAX_ARCHIVES) {
		ar = &r->archives[r->n_archives++];
	} else {
		ar = &spare; /* still scanned, just not listed */
	}
	memset(ar, 0, sizeof(*ar));
	ar->depth = depth;
	ar->format = magic;
	copy_name(ar->name, name);
	if (depth > r->depth)
		r->depth = depth;

	a = reader_new();
	if (archive_read_open_memory(a, p, n) != ARCHIVE_OK) {
		ar->flags |= ARC_F_UNKNOWN;
		goto done;
	}
	for (;;) {
		if (r->n_entries >= ARC_MAX_ENTRIES) {
			ar->flags |= ARC_F_LIMIT_ENTRIES | ARC_F_UNKNOWN;
			break;
		}
		rc = archive_read_next_header(a, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (ar->format == ARC_FMT_NONE || ar->format == magic)
			ar->format = map_format(archive_format(a));
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
			/* A header that does not read: 7z with encrypted
			 * headers ends here (has_encrypted_entries tells),
			 * and so does damage.  Either way, not clean. */
			ar->flags |= ARC_F_UNKNOWN;
			break;
		}
		scan_entry(sc, a, e, ar, depth);
	}
	enc = archive_read_has_encrypted_entries(a);
	if (enc > 0)
		ar->flags |= ARC_F_ENCRYPTED;
	if (ar->format == ARC_FMT_NONE && archive_format(a) != 0)
		ar->format = map_format(archive_format(a));
	if (ar->format == ARC_FMT_ZIP && !zip_has_eocd(p, n))
		ar->flags |= ARC_F_UNKNOWN;
	if (ar->format == ARC_FMT_RAR5 &&
	    archive_version_number() < ARC_RAR5_ENCRYPTION_VERSION)
		ar->flags |= ARC_F_UNKNOWN;
done:
	archive_read_free(a);
	r->flags |= ar->flags;
	if (depth == 0)
		r->format = ar->format;
}

int arc_scan(const void *data, size_t len, const char *name,
	     struct arc_report *r)
{
	struct scan sc = { .r = r };
	const unsigned char *p = data;
	unsigned f;

	memset(r, 0, sizeof(*r));
	f = arc_name_flags(name);
	if (magic_format(p, len) != ARC_FMT_NONE) {
		scan_buffer(&sc, p, len, name ? name : "", 0);
	} else {
		/* Not an archive we know by its magic: tar, ISO images and
		 * compressed tars have none at offset 0, and a
		 * self-extracting ZIP starts with "MZ", so let libarchive
		 * try. */
		struct archive *a = reader_new();
		struct archive_entry *e;
		bool is_archive =
			archive_read_open_memory(a, p, len) == ARCHIVE_OK &&
			archive_read_next_header(a, &e) == ARCHIVE_OK &&
			archive_format(a) != 0;

		archive_read_free(a);
		if (is_archive)
			scan_buffer(&sc, p, len, name ? name : "", 0);
		f |= magic_flags(p, len);
	}
	note(&sc, name ? name : "", 0, f);
	return 0;
}
