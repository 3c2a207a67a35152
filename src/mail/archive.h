/*
 * archive - what an attachment's bytes hold, for the malware check: the
 * archive format, its entries, encrypted entries (ZIP traditional PKWARE
 * and AES, 7z with encrypted data or headers, RAR), archives inside
 * archives, executables (by name and by magic: PE "MZ", ELF, scripts and
 * disk images by extension), Office macros (vbaProject.bin in OOXML, the
 * _VBA_PROJECT stream of an OLE2 file) and disguised names (a.pdf.exe,
 * padding spaces, Unicode bidi controls such as U+202E).
 *
 * Sans-I/O on libarchive: the bytes are read from memory only
 * (archive_read_open_memory); nothing touches the disk, no external
 * program is run (a decompression filter libarchive would hand to an
 * external program is not enabled), nothing is logged.
 *
 * "Unknown" (ARC_F_UNKNOWN) means libarchive could not say what is inside:
 * the bytes carry an archive's magic but do not open, a header or entry
 * fails to read, a ZIP lacks its End of Central Directory record (cut:
 * entries past the cut are never seen), a nested archive is larger than
 * ARC_MAX_NESTED, the listing stops early at a limit, or the format is one
 * this libarchive cannot check for encryption (RAR5 before libarchive
 * 3.7.0, so on Debian 12's 3.6.2).  Unknown is never "clean": the caller
 * weighs it like an encrypted archive.
 *
 * Symbols carry the prefix arc_ because libarchive owns archive_*.
 *
 * Limits (each hit sets a flag and ends or skips the work, never fails):
 * ARC_MAX_* below say why.  Threading: no shared state; arc_scan may run
 * in any number of threads at once.  The report is a plain struct owned
 * by the caller; nothing in it points into the input.
 */
#ifndef MAMORI_MAIL_ARCHIVE_H
#define MAMORI_MAIL_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>

/* Archives inside archives followed: 3 levels below the attachment.
 * Malware mail nests once or twice to get past single-level scanners. */
#define ARC_MAX_DEPTH 3
/* Entries listed over all levels: 2048 (a zip bomb of tiny files ends). */
#define ARC_MAX_ENTRIES 2048
/* Decompressed bytes read over all levels: 32 MiB, against zip bombs. */
#define ARC_MAX_BYTES (32u << 20)
/* One nested archive or OLE2 file buffered whole: at most 8 MiB. */
#define ARC_MAX_NESTED (8u << 20)
/* Bytes read from every other entry to see its magic. */
#define ARC_HEAD 512
/* Archives reported (the attachment's and nested ones): 16. */
#define ARC_MAX_ARCHIVES 16
/* Entries with a finding kept by name: 32. */
#define ARC_MAX_FINDINGS 32
/* Bytes of a name kept in a report (cut on a UTF-8 boundary). */
#define ARC_MAX_NAME 255

enum arc_format {
	ARC_FMT_NONE = 0, /* not an archive */
	ARC_FMT_ZIP,
	ARC_FMT_7ZIP,
	ARC_FMT_RAR,
	ARC_FMT_RAR5,
	ARC_FMT_TAR,
	ARC_FMT_ISO9660,
	ARC_FMT_CAB,
	ARC_FMT_LHA,
	ARC_FMT_OTHER,
};

/* Findings, per entry, per archive and in the union of the report. */
enum {
	ARC_F_ENCRYPTED = 1u << 0,     /* encrypted data or headers */
	ARC_F_UNKNOWN = 1u << 1,       /* could not be inspected: see above */
	ARC_F_EXECUTABLE = 1u << 2,    /* executable or script */
	ARC_F_MACRO = 1u << 3,	       /* Office document with VBA macros */
	ARC_F_DOUBLE_EXT = 1u << 4,    /* disguised name */
	ARC_F_NESTED = 1u << 5,	       /* an archive inside an archive */
	ARC_F_LIMIT_DEPTH = 1u << 6,   /* nested past ARC_MAX_DEPTH */
	ARC_F_LIMIT_ENTRIES = 1u << 7, /* ARC_MAX_ENTRIES reached */
	ARC_F_LIMIT_BYTES = 1u << 8,   /* ARC_MAX_BYTES reached */
};

struct arc_archive {
	enum arc_format format;
	unsigned depth; /* 0: the attachment itself */
	size_t n_entries;
	size_t n_encrypted;
	unsigned flags; /* ARC_F_* of this archive and its entries */
	char name[ARC_MAX_NAME + 1]; /* the attachment's or entry's name */
};

struct arc_finding {
	unsigned flags; /* ARC_F_* */
	unsigned depth; /* archive level it was found at */
	char name[ARC_MAX_NAME + 1];
};

struct arc_report {
	unsigned flags;		/* union of all ARC_F_* found */
	enum arc_format format; /* of the attachment itself */
	size_t n_entries;	/* over all levels */
	size_t n_encrypted;
	size_t bytes_read; /* decompressed, <= ARC_MAX_BYTES */
	unsigned depth;	   /* deepest archive level opened */
	struct arc_archive archives[ARC_MAX_ARCHIVES];
	size_t n_archives;
	struct arc_finding findings[ARC_MAX_FINDINGS];
	size_t n_findings;
};

/*
 * Inspect one attachment: len bytes at data (only read, may be freed
 * after) with its decoded file name (may be NULL or "").  Fills *r (any
 * previous content is cleared).  Not being an archive is no error: then
 * r->format is ARC_FMT_NONE and only the name and the magic were checked.
 * Returns 0.
 */
int arc_scan(const void *data, size_t len, const char *name,
	     struct arc_report *r);

/* ARC_F_EXECUTABLE / ARC_F_DOUBLE_EXT / ARC_F_MACRO for a file name
 * alone (a path: its last component counts), 0 if none. */
unsigned arc_name_flags(const char *name);

/* A short lower-case name for a format ("zip", "7zip", ..., "none"). */
const char *arc_format_name(enum arc_format f);

#endif
