/*
 * test-archive - attachment inspection on archives built here at run time
 * with Debian's zip and 7z (p7zip-full) and tar, in a private temporary
 * directory: plain, ZIP traditional and AES encryption, 7z with encrypted
 * data and with encrypted headers, archives nested to and past the depth
 * limit, executables by name and by magic, an OOXML document with
 * vbaProject.bin, an OLE2 file with a VBA storage, disguised names, and
 * what libarchive 3.6.2 cannot decide (damaged archives, RAR5) as unknown.
 * No malware: the "executables" are a few magic bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "mail/archive.h"
#include "tap.h"
#include "test_sh.h"

static char tmp[] = "/tmp/mamori-test-archive-XXXXXX";

/* Run a shell command in the temporary directory (test_sh.h). */
#define sh(...) test_sh(tmp, __VA_ARGS__)

/* Write n bytes to a file in the temporary directory. */
static void put(const char *name, const void *p, size_t n)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	g_file_set_contents(path, p, (gssize)n, NULL);
}

/* Scan a file of the temporary directory as an attachment named name. */
static bool scan_file(const char *file, const char *name, struct arc_report *r)
{
	char path[4096];
	gchar *p = NULL;
	gsize n = 0;

	snprintf(path, sizeof(path), "%s/%s", tmp, file);
	if (!g_file_get_contents(path, &p, &n, NULL))
		return false;
	arc_scan(p, n, name, r);
	g_free(p);
	return true;
}

/* Is there a finding with these flags (all of them) at depth? */
static bool found(const struct arc_report *r, const char *name, unsigned flags,
		  unsigned depth)
{
	size_t i;

	for (i = 0; i < r->n_findings; i++)
		if ((r->findings[i].flags & flags) == flags &&
		    r->findings[i].depth == depth &&
		    strcmp(r->findings[i].name, name) == 0)
			return true;
	return false;
}

/* File names alone. */
static void test_names(void)
{
	static const struct {
		const char *label, *name;
		unsigned want;
	} rows[] = {
		{ "double extension", "invoice.pdf.exe",
		  ARC_F_EXECUTABLE | ARC_F_DOUBLE_EXT },
		{ "padding spaces", "invoice.pdf          .exe",
		  ARC_F_EXECUTABLE | ARC_F_DOUBLE_EXT },
		{ "padding spaces, no decoy", "invoice          .scr",
		  ARC_F_EXECUTABLE | ARC_F_DOUBLE_EXT },
		{ "RLO trick",
		  "invoice\xE2\x80\xAE"
		  "fdp.exe",
		  ARC_F_EXECUTABLE | ARC_F_DOUBLE_EXT },
		{ "RLO without extension",
		  "abc\xE2\x80\xAE"
		  "xyz",
		  ARC_F_DOUBLE_EXT },
		{ "trailing dot and space", "setup.exe. ", ARC_F_EXECUTABLE },
		{ "upper case", "SETUP.EXE", ARC_F_EXECUTABLE },
		{ "japanese decoy", "請求書.pdf.scr",
		  ARC_F_EXECUTABLE | ARC_F_DOUBLE_EXT },
		{ "script js", "a.js", ARC_F_EXECUTABLE },
		{ "script vbs", "a.vbs", ARC_F_EXECUTABLE },
		{ "script wsf", "a.wsf", ARC_F_EXECUTABLE },
		{ "script hta", "a.hta", ARC_F_EXECUTABLE },
		{ "script bat", "a.bat", ARC_F_EXECUTABLE },
		{ "script cmd", "a.cmd", ARC_F_EXECUTABLE },
		{ "script ps1", "a.ps1", ARC_F_EXECUTABLE },
		{ "shortcut lnk", "a.lnk", ARC_F_EXECUTABLE },
		{ "disk iso", "a.iso", ARC_F_EXECUTABLE },
		{ "disk img", "a.img", ARC_F_EXECUTABLE },
		{ "path in archive", "dir\\sub/a.pdf.exe",
		  ARC_F_EXECUTABLE | ARC_F_DOUBLE_EXT },
		{ "macro docm", "report.docm", ARC_F_MACRO },
		{ "macro xlsm", "report.xlsm", ARC_F_MACRO },
		{ "vbaProject.bin", "word/vbaProject.bin", ARC_F_MACRO },
		{ "pdf", "invoice.pdf", 0 },
		{ "tar.gz", "backup.tar.gz", 0 },
		{ "docx", "report.docx", 0 },
		{ "no extension", "README", 0 },
		{ "empty", "", 0 },
		{ "dot file", ".exe", ARC_F_EXECUTABLE },
		{ "two decoys", "photo.jpg.pdf", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_int(arc_name_flags(rows[i].name), rows[i].want, "name: %s",
		       rows[i].label);
	is_int(arc_name_flags(NULL), 0, "name: NULL");
	is_str(arc_format_name(ARC_FMT_7ZIP), "7zip", "format name");
}

/* Raw bytes, no tools needed. */
static void test_bytes(void)
{
	static const unsigned char ole[] = {
		0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0,   0,
		0,    0,    '_',  0,	'V',  0,    'B',  0,	'A', 0,
		'_',  0,    'P',  0,	'R',  0,    'O',  0,	'J', 0,
		'E',  0,    'C',  0,	'T',  0,    0,	  0
	};
	static const unsigned char ole_plain[] = { 0xD0, 0xCF, 0x11, 0xE0, 0xA1,
						   0xB1, 0x1A, 0xE1, 0,	   0,
						   0,	 0,    'W',  0,	   'o',
						   0,	 'r',  0,    'd',  0 };
	struct arc_report r;

	arc_scan("MZ\x90\0\3\0\0\0", 8, "readme.txt", &r);
	is_int(r.flags, ARC_F_EXECUTABLE,
	       "bytes: PE by magic under a harmless name");
	is_int(r.format, ARC_FMT_NONE, "bytes: PE is no archive");
	arc_scan("\x7F"
		 "ELF\2\1\1",
		 7, "x.dat", &r);
	is_int(r.flags, ARC_F_EXECUTABLE, "bytes: ELF by magic");
	arc_scan(ole, sizeof(ole), "report.doc", &r);
	is_int(r.flags, ARC_F_MACRO, "bytes: OLE2 with a VBA storage");
	arc_scan(ole_plain, sizeof(ole_plain), "report.doc", &r);
	is_int(r.flags, 0, "bytes: OLE2 without macros is clean");
	arc_scan("hello", 5, "hello.txt", &r);
	is_int(r.flags, 0, "bytes: text is clean");
	arc_scan("", 0, "empty.bin", &r);
	is_int(r.flags, 0, "bytes: empty is clean");
	/* RAR5 and RAR signatures with nothing valid behind them: this
	 * libarchive cannot list them, and must not call them clean. */
	arc_scan("Rar!\x1A\x07\x01\x00garbage-garbage-garbage", 31, "a.rar",
		 &r);
	ok(r.flags & ARC_F_UNKNOWN, "bytes: damaged RAR5 is unknown");
	is_int(r.format, ARC_FMT_RAR5, "bytes: RAR5 by magic");
	arc_scan("Rar!\x1A\x07\x00garbage-garbage-garbage", 30, "a.rar", &r);
	ok(r.flags & ARC_F_UNKNOWN, "bytes: damaged RAR is unknown");
	arc_scan("PK\x03\x04garbage", 11, "a.zip", &r);
	ok(r.flags & ARC_F_UNKNOWN, "bytes: damaged ZIP is unknown");
	arc_scan("7z\xBC\xAF\x27\x1C\0\4", 8, "a.7z", &r);
	ok(r.flags & ARC_F_UNKNOWN, "bytes: truncated 7z is unknown");
}

/* Archives built with the Debian tools. */
static void test_tools(void)
{
	struct arc_report r;
	char big[4096];

	put("a.txt", "hello\n", 6);
	put("mz.txt", "MZ\x90\0\3\0\0\0fake", 12);
	put("a.pdf.exe", "not really\n", 11);
	put("script.js", "WScript.Echo(1)\n", 16);

	/* Plain, clean. */
	sh("zip -q plain.zip a.txt");
	ok(scan_file("plain.zip", "plain.zip", &r), "plain zip built");
	is_int(r.format, ARC_FMT_ZIP, "plain zip: format");
	is_int(r.n_entries, 1, "plain zip: entries");
	is_int(r.flags, 0, "plain zip: clean");

	/* ZIP traditional PKWARE encryption (zip -e -P). */
	sh("zip -q -P pw enc.zip a.txt");
	ok(scan_file("enc.zip", "enc.zip", &r), "zip -P built");
	ok(r.flags & ARC_F_ENCRYPTED, "zip -P: encrypted");
	is_int(r.n_encrypted, 1, "zip -P: one encrypted entry");
	ok(!(r.flags & ARC_F_UNKNOWN), "zip -P: listed, not unknown");

	/* ZIP AES (WinZip AE-2) made by 7z. */
	sh("7z a -tzip -mem=AES256 -ppw aes.zip a.txt");
	ok(scan_file("aes.zip", "aes.zip", &r), "zip AES built");
	ok(r.flags & ARC_F_ENCRYPTED, "zip AES: encrypted");

	/* 7z with encrypted data, headers readable. */
	sh("7z a -ppw -mhe=off enc.7z a.txt");
	ok(scan_file("enc.7z", "enc.7z", &r), "7z -p built");
	is_int(r.format, ARC_FMT_7ZIP, "7z -p: format");
	ok(r.flags & ARC_F_ENCRYPTED, "7z -p: encrypted");
	is_int(r.n_entries, 1, "7z -p: the entry is listed");

	/* 7z with encrypted headers: nothing can be listed. */
	sh("7z a -ppw -mhe=on hdr.7z a.txt");
	ok(scan_file("hdr.7z", "hdr.7z", &r), "7z -mhe=on built");
	ok(r.flags & ARC_F_ENCRYPTED, "7z -mhe=on: encrypted");
	ok(r.flags & ARC_F_UNKNOWN, "7z -mhe=on: entries unknown");
	is_int(r.n_entries, 0, "7z -mhe=on: no entry listed");

	/* Executables inside: by name (double extension) and by magic. */
	sh("zip -q exe.zip a.pdf.exe mz.txt script.js a.txt");
	ok(scan_file("exe.zip", "docs.zip", &r), "zip with executables built");
	ok(found(&r, "a.pdf.exe", ARC_F_EXECUTABLE | ARC_F_DOUBLE_EXT, 0),
	   "exe zip: a.pdf.exe double extension");
	ok(found(&r, "mz.txt", ARC_F_EXECUTABLE, 0), "exe zip: MZ by magic");
	ok(found(&r, "script.js", ARC_F_EXECUTABLE, 0), "exe zip: script.js");
	ok(!found(&r, "a.txt", 0, 0), "exe zip: a.txt has no finding");
	is_int(r.n_entries, 4, "exe zip: entries");

	/* An OOXML macro document (docm-like): vbaProject.bin inside. */
	sh("mkdir -p d/word d/_rels && printf '<Types/>' > 'd/[Content_Types].xml' && "
	   "printf 'vba' > d/word/vbaProject.bin && printf '<w/>' > d/word/document.xml && "
	   "cd d && zip -q -r ../macro.zip .");
	ok(scan_file("macro.zip", "invoice.docx", &r), "docm-like zip built");
	ok(r.flags & ARC_F_MACRO, "docm-like: macro");
	ok(found(&r, "word/vbaProject.bin", ARC_F_MACRO, 0),
	   "docm-like: vbaProject.bin named");

	/* zip inside zip, the inner one encrypted and holding a.pdf.exe. */
	sh("zip -q -P pw inner.zip a.pdf.exe && zip -q outer.zip inner.zip a.txt");
	ok(scan_file("outer.zip", "outer.zip", &r), "nested zip built");
	ok(r.flags & ARC_F_NESTED, "nested: flagged");
	ok(r.flags & ARC_F_ENCRYPTED, "nested: inner encryption seen");
	ok(found(&r, "a.pdf.exe", ARC_F_ENCRYPTED | ARC_F_DOUBLE_EXT, 1),
	   "nested: the inner entry at depth 1");
	is_int(r.n_archives, 2, "nested: two archives reported");
	is_int(r.depth, 1, "nested: depth");

	/* Nested past ARC_MAX_DEPTH. */
	sh("cp a.pdf.exe l0.exe && zip -q l1.zip l0.exe && zip -q l2.zip l1.zip && "
	   "zip -q l3.zip l2.zip && zip -q l4.zip l3.zip && zip -q l5.zip l4.zip");
	ok(scan_file("l5.zip", "l5.zip", &r), "deep zip built");
	ok(r.flags & ARC_F_LIMIT_DEPTH, "deep: depth limit");
	ok(r.flags & ARC_F_UNKNOWN, "deep: past the limit is unknown");
	ok(r.depth <= ARC_MAX_DEPTH, "deep: depth %u within ARC_MAX_DEPTH",
	   r.depth);

	/* A tar.gz with a script: libarchive finds tar without a magic at 0. */
	sh("tar czf s.tgz script.js");
	ok(scan_file("s.tgz", "s.tgz", &r), "tar.gz built");
	is_int(r.format, ARC_FMT_TAR, "tar.gz: format");
	ok(found(&r, "script.js", ARC_F_EXECUTABLE, 0), "tar.gz: script found");

	/* A self-extracting archive: a PE stub with a ZIP behind it. */
	sh("printf 'MZ\\220\\000\\003' > sfx.exe && cat plain.zip >> sfx.exe");
	ok(scan_file("sfx.exe", "invoice.pdf", &r), "sfx built");
	ok(r.flags & ARC_F_EXECUTABLE, "sfx: executable by magic");

	/* A zip cut in half: its central directory is gone. */
	sh("head -c $(( $(stat -c %%s exe.zip) / 2 )) exe.zip > cut.zip");
	ok(scan_file("cut.zip", "cut.zip", &r), "cut zip built");
	ok(r.flags & ARC_F_UNKNOWN, "cut zip: unknown");

	/* More entries than ARC_MAX_ENTRIES. */
	sh("mkdir many && cd many && seq 1 %d | xargs touch && zip -q -r ../many.zip .",
	   ARC_MAX_ENTRIES + 50);
	ok(scan_file("many.zip", "many.zip", &r), "many-entry zip built");
	ok(r.flags & ARC_F_LIMIT_ENTRIES, "many: entries limit");
	ok(r.flags & ARC_F_UNKNOWN, "many: the rest is unknown");
	ok(r.n_entries <= ARC_MAX_ENTRIES, "many: %zu entries listed",
	   r.n_entries);

	/* Nested archives adding up past ARC_MAX_BYTES (random, stored). */
	snprintf(
		big, sizeof(big),
		"for i in 1 2 3 4 5; do head -c %u /dev/urandom > r$i.bin && "
		"zip -q -0 n$i.zip r$i.bin; done && zip -q -0 bytes.zip n1.zip n2.zip n3.zip n4.zip n5.zip",
		(ARC_MAX_NESTED)-4096);
	sh("%s", big);
	ok(scan_file("bytes.zip", "bytes.zip", &r), "byte-heavy zip built");
	ok(r.flags & ARC_F_LIMIT_BYTES, "bytes: limit");
	ok(r.flags & ARC_F_UNKNOWN, "bytes: the rest is unknown");
	ok(r.bytes_read <= ARC_MAX_BYTES,
	   "bytes: %zu read within ARC_MAX_BYTES", r.bytes_read);

	/* One nested archive bigger than ARC_MAX_NESTED: cut, so unknown. */
	sh("head -c %u /dev/urandom > huge.bin && zip -q -0 huge.zip huge.bin && zip -q -0 hugeout.zip huge.zip",
	   ARC_MAX_NESTED + 4096);
	ok(scan_file("hugeout.zip", "hugeout.zip", &r),
	   "huge nested zip built");
	ok(found(&r, "huge.zip", ARC_F_NESTED | ARC_F_UNKNOWN, 0),
	   "huge nested: unknown");
}

int main(void)
{
	if (mkdtemp(tmp) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	test_names();
	test_bytes();
	if (sh("command -v zip && command -v 7z && command -v tar") != 0)
		ok(1,
		   "# SKIP zip, 7z (p7zip-full) or tar missing: scripts/install-deps");
	else
		test_tools();
	sh("cd / && rm -rf '%s'", tmp);
	return tap_done();
}
