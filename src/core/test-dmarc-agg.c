/*
 * test-dmarc-agg - the key of a DMARC aggregate row (core.h, "One DMARC
 * aggregate row"; dmarc_agg.c): the fields the milter keeps written and
 * read back, attacker bytes encoded so the key stays unambiguous, the
 * bounds (signatures, name lengths), rows of the old seven-field format
 * read as before, and keys that are not ours refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tap.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* 2026-12-01 12:00 UTC. */
#define WHEN 1796126400L

/* Up to 5 signatures as "d/s/result" for a row of the write table. */
struct sigspec {
	const char *d, *s, *result;
};

/* Writing: the fields (align NULL: the old format), the key expected,
 * and what reading it back gives (SPF domain and "d/s/result,..."). */
static const struct {
	const char *label;
	const char *spf, *dkim, *dmarc, *disp;
	const char *align, *override, *scope, *spf_domain;
	struct sigspec sig[5];
	size_t nsig;
	const char *key, *back_spf_domain, *back_sigs;
} writes[] = {
	{ "old format: no details", "fail", "none", "fail", "reject", NULL,
	  NULL, NULL, NULL, { { NULL, NULL, NULL } }, 0,
	  "2026-12-01|192.0.2.9|shop.example|fail|none|fail|reject", "", "" },
	{ "dkim aligned, spf pass unaligned", "pass", "pass", "pass", "none",
	  "dkim", "", "mfrom", "relay.example",
	  { { "shop.example", "s2026", "pass" } }, 1,
	  "2026-12-01|192.0.2.9|shop.example|pass|pass|pass|none|dkim||mfrom|"
	  "relay.example|shop.example:s2026:pass", "relay.example",
	  "shop.example/s2026/pass" },
	{ "two signatures, an override, domains lowercased", "fail", "pass",
	  "fail", "quarantine", "none", "trusted_forwarder", "mfrom",
	  "List.Example", { { "Other.Example", "Sel", "pass" },
			    { "shop.example", "k1", "fail" } }, 2,
	  "2026-12-01|192.0.2.9|shop.example|fail|pass|fail|quarantine|none|"
	  "trusted_forwarder|mfrom|list.example|other.example:Sel:pass,"
	  "shop.example:k1:fail", "list.example",
	  "other.example/Sel/pass,shop.example/k1/fail" },
	{ "helo scope, no signature", "none", "none", "fail", "none", "none",
	  "", "helo", "mx.sender.example", { { NULL, NULL, NULL } }, 0,
	  "2026-12-01|192.0.2.9|shop.example|none|none|fail|none|none||helo|"
	  "mx.sender.example|", "mx.sender.example", "" },
	{ "no spf check (no client address)", "none", "none", "fail", "none",
	  "none", "", "", "", { { NULL, NULL, NULL } }, 0,
	  "2026-12-01|192.0.2.9|shop.example|none|none|fail|none|none||||",
	  "", "" },
	{ "attacker bytes encoded; a blank reads back as _", "pass", "fail",
	  "fail", "none", "none", "", "mfrom", "Evil|x:y,z%",
	  { { "a|b.example", "s 1:2,3", "fail" } }, 1,
	  "2026-12-01|192.0.2.9|shop.example|pass|fail|fail|none|none||mfrom|"
	  "evil%7Cx%3Ay%2Cz%25|a%7Cb.example:s%201%3A2%2C3:fail",
	  "evil|x:y,z%", "a|b.example/s_1:2,3/fail" },
	{ "five signatures: four written", "fail", "pass", "pass", "none",
	  "dkim", "", "mfrom", "r.example",
	  { { "a.example", "s", "pass" }, { "b.example", "s", "fail" },
	    { "c.example", "s", "fail" }, { "d.example", "s", "fail" },
	    { "e.example", "s", "fail" } }, 5,
	  "2026-12-01|192.0.2.9|shop.example|fail|pass|pass|none|dkim||mfrom|"
	  "r.example|a.example:s:pass,b.example:s:fail,c.example:s:fail,"
	  "d.example:s:fail", "r.example",
	  "a.example/s/pass,b.example/s/fail,c.example/s/fail,"
	  "d.example/s/fail" },
};

/* Reading stored keys: whether each is ours. */
static const struct {
	const char *label, *key;
	int want;
	const char *align;		/* when read */
	size_t nsig;
} reads[] = {
	{ "old row (written before the upgrade)",
	  "2026-05-04|192.0.2.9|shop.example|fail|none|fail|reject", 0, "",
	  0 },
	{ "new row", "2026-05-04|2001:db8::1|shop.example|pass|pass|pass|"
	  "none|both||mfrom|shop.example|shop.example:s:pass", 0, "both", 1 },
	{ "eight fields: neither format",
	  "2026-05-04|192.0.2.9|shop.example|fail|none|fail|reject|x", -1,
	  NULL, 0 },
	{ "thirteen fields", "2026-05-04|192.0.2.9|shop.example|pass|pass|"
	  "pass|none|both||mfrom|shop.example||x", -1, NULL, 0 },
	{ "unknown alignment", "2026-05-04|192.0.2.9|shop.example|pass|pass|"
	  "pass|none|some||mfrom|shop.example|", -1, NULL, 0 },
	{ "unknown override", "2026-05-04|192.0.2.9|shop.example|pass|pass|"
	  "pass|none|both|sampled_out|mfrom|shop.example|", -1, NULL, 0 },
	{ "unknown scope", "2026-05-04|192.0.2.9|shop.example|pass|pass|"
	  "pass|none|both||pra|shop.example|", -1, NULL, 0 },
	{ "five signatures: over the bound", "2026-05-04|192.0.2.9|"
	  "shop.example|pass|pass|pass|none|dkim||mfrom|r.example|a:s:pass,"
	  "b:s:fail,c:s:fail,d:s:fail,e:s:fail", -1, NULL, 0 },
	{ "a signature without a result", "2026-05-04|192.0.2.9|"
	  "shop.example|pass|pass|pass|none|dkim||mfrom|r.example|a:s", -1,
	  NULL, 0 },
	{ "a broken escape", "2026-05-04|192.0.2.9|shop.example|pass|pass|"
	  "pass|none|both||mfrom|evil%7|", -1, NULL, 0 },
	{ "a bad address", "2026-05-04|192.0.2.999|shop.example|pass|pass|"
	  "pass|none|both||mfrom|shop.example|", -1, NULL, 0 },
	{ "a bad disposition", "2026-05-04|192.0.2.9|shop.example|pass|pass|"
	  "pass|drop", -1, NULL, 0 },
};

/* The writes: key, then read back. */
static void test_write(void)
{
	size_t i, k;

	for (i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		struct core_dmarc_agg_fields f = {
			.source_ip = "192.0.2.9", .header_from = "shop.example",
			.spf = writes[i].spf, .dkim = writes[i].dkim,
			.dmarc = writes[i].dmarc,
			.disposition = writes[i].disp,
		}, g;
		struct buf sigs;
		char *key;

		f.auth.align = writes[i].align;
		f.auth.override = writes[i].override;
		f.auth.spf_scope = writes[i].scope;
		f.auth.spf_domain = writes[i].spf_domain;
		for (k = 0; k < writes[i].nsig && k < CORE_DMARC_DKIM_MAX; k++) {
			f.auth.sig[k].d = writes[i].sig[k].d;
			f.auth.sig[k].s = writes[i].sig[k].s;
			f.auth.sig[k].result = writes[i].sig[k].result;
		}
		/* More than fit: the writer keeps CORE_DMARC_DKIM_MAX. */
		f.auth.nsig = writes[i].nsig;
		key = core_dmarc_agg_key(WHEN, &f);
		is_str(key, writes[i].key, "write %s: the key", writes[i].label);
		if (!ok(core_dmarc_agg_parse(key, &g) == 0, "write %s: reads "
			"back", writes[i].label)) {
			free(key);
			continue;
		}
		is_str(g.day, "2026-12-01", "write %s: day", writes[i].label);
		is_str(g.dmarc, writes[i].dmarc, "write %s: dmarc",
		       writes[i].label);
		is_str(g.auth.align, writes[i].align ? writes[i].align : "",
		       "write %s: align", writes[i].label);
		is_str(g.auth.spf_domain, writes[i].back_spf_domain,
		       "write %s: spf domain", writes[i].label);
		buf_init(&sigs, 4096);
		for (k = 0; k < g.auth.nsig; k++)
			buf_printf(&sigs, "%s%s/%s/%s", k ? "," : "",
				   g.auth.sig[k].d, g.auth.sig[k].s,
				   g.auth.sig[k].result);
		is_str(sigs.len ? sigs.p : "", writes[i].back_sigs,
		       "write %s: signatures", writes[i].label);
		buf_deinit(&sigs);
		free(key);
	}
}

/* Names longer than the bounds are cut; the key stays bounded. */
static void test_bounds(void)
{
	struct core_dmarc_agg_fields f = {
		.source_ip = "192.0.2.9", .header_from = "shop.example",
		.spf = "pass", .dkim = "fail", .dmarc = "fail",
		.disposition = "none",
	}, g;
	char dom[600], sel[300], *key;
	size_t k;

	memset(dom, '|', sizeof(dom) - 1);	/* 3 bytes each, encoded */
	dom[sizeof(dom) - 1] = '\0';
	memset(sel, 's', sizeof(sel) - 1);
	sel[sizeof(sel) - 1] = '\0';
	f.auth.align = "none";
	f.auth.override = "";
	f.auth.spf_scope = "mfrom";
	f.auth.spf_domain = dom;
	for (k = 0; k < CORE_DMARC_DKIM_MAX; k++) {
		f.auth.sig[k].d = dom;
		f.auth.sig[k].s = sel;
		f.auth.sig[k].result = "permerror";
	}
	f.auth.nsig = CORE_DMARC_DKIM_MAX;
	key = core_dmarc_agg_key(WHEN, &f);
	ok(strlen(key) < 5 * 1024, "bounds: the longest key is under 5 KB "
	   "(%zu bytes)", strlen(key));
	if (ok(core_dmarc_agg_parse(key, &g) == 0, "bounds: reads back")) {
		is_int(strlen(g.auth.spf_domain), CORE_DMARC_NAME_MAX,
		       "bounds: the SPF domain is cut to 253 bytes");
		is_int(strlen(g.auth.sig[3].d), CORE_DMARC_NAME_MAX,
		       "bounds: d= is cut to 253 bytes");
		is_int(strlen(g.auth.sig[3].s), CORE_DMARC_SEL_MAX,
		       "bounds: s= is cut to 63 bytes");
	}
	free(key);
}

/* Stored keys: ours or not. */
static void test_read(void)
{
	size_t i;

	for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		struct core_dmarc_agg_fields f;
		char *k = xstrdup(reads[i].key);
		int rc = core_dmarc_agg_parse(k, &f);

		is_int(rc, reads[i].want, "read %s", reads[i].label);
		if (rc == 0) {
			is_str(f.auth.align, reads[i].align, "read %s: align",
			       reads[i].label);
			is_int(f.auth.nsig, reads[i].nsig,
			       "read %s: signatures", reads[i].label);
			is_str(f.header_from, "shop.example",
			       "read %s: header_from", reads[i].label);
		}
		free(k);
	}
}

int main(void)
{
	test_write();
	test_bounds();
	test_read();
	return tap_done();
}
