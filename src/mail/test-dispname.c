/*
 * test-dispname - display-name spoofing (src/mail/dispname.c), one row a
 * case.  Uses the system Public Suffix List (Debian publicsuffix).
 */
#include <stdlib.h>
#include <string.h>

#include "mail/dispname.h"
#include "mail/dmarc.h"
#include "tap.h"

struct row {
	const char *label, *name, *from;
	enum dispname_verdict want;
	const char *found;
};

static const struct row rows[] = {
	{"address of another domain", "support@amazon.co.jp",
	 "x@evil.example.com", DISPNAME_OTHER_ADDR, "support@amazon.co.jp"},
	{"full-width at sign", "support\xef\xbc\xa0" "amazon.co.jp",
	 "x@evil.example.com", DISPNAME_OTHER_ADDR, "support@amazon.co.jp"},
	{"blanks around the at sign", "support @ amazon.co.jp",
	 "x@evil.example.com", DISPNAME_OTHER_ADDR, "support@amazon.co.jp"},
	{"zero-width space inside", "sup\xe2\x80\x8bport@ama\xe2\x80\x8bzon.co.jp",
	 "x@evil.example.com", DISPNAME_OTHER_ADDR, "support@amazon.co.jp"},
	{"full-width domain", "\xef\xbd\x81\xef\xbd\x8d\xef\xbd\x81\xef\xbd\x9a"
	 "\xef\xbd\x8f\xef\xbd\x8e\xef\xbc\x8e\xef\xbd\x83\xef\xbd\x8f\xef\xbc\x8e"
	 "\xef\xbd\x8a\xef\xbd\x90", "x@evil.example.com",
	 DISPNAME_OTHER_DOMAIN, "amazon.co.jp"},
	{"Japanese name with the domain appended",
	 "\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e (corp.example.co.jp)",
	 "yamada@freemail.example.net", DISPNAME_OTHER_DOMAIN,
	 "corp.example.co.jp"},
	{"Japanese name, ideographic full stop",
	 "\xe5\xb1\xb1\xe7\x94\xb0 smbc\xe3\x80\x82" "co\xe3\x80\x82jp",
	 "x@evil.example.com", DISPNAME_OTHER_DOMAIN, "smbc.co.jp"},
	{"Emotet: colleague's address as name",
	 "\"tanaka@corp.example.co.jp\"", "tanaka@hacked.example.org",
	 DISPNAME_OTHER_ADDR, "tanaka@corp.example.co.jp"},
	{"address of the same domain", "info@example.com",
	 "news@mail.example.com", DISPNAME_OK, ""},
	{"domain of the same organization", "Example.com Support",
	 "help@example.com", DISPNAME_OK, ""},
	{"a plain name", "Taro Yamada", "taro@example.com", DISPNAME_OK, ""},
	{"dotted word that is no domain", "Mr.Smith ver.2", "s@example.com",
	 DISPNAME_OK, ""},
	{"initial and surname on a brand TLD", "R.Hughes", "c@example.com",
	 DISPNAME_OK, ""},
	{"a public suffix alone", "co.jp", "s@example.com", DISPNAME_OK, ""},
	{"address beats domain", "paypal.com service@paypal.com",
	 "x@evil.example.com", DISPNAME_OTHER_ADDR, "service@paypal.com"},
	{"two addresses: each run's own domain",
	 "bob@example.com and x@paypal.com", "bob@example.com",
	 DISPNAME_OTHER_ADDR, "x@paypal.com"},
	{"invalid UTF-8 is read as U+FFFD", "\xff\xfe paypal.com",
	 "x@evil.example.com", DISPNAME_OTHER_DOMAIN, "paypal.com"},
};

static const struct dispname_known known[] = {
	{"Yamada Taro", "yamada@corp.example.co.jp"},
	{"\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e",
	 "yamada@corp.example.co.jp"},
	{"Sato Hanako", "sato@corp.example.co.jp"},
	{"Sato Hanako", "hanako@home.example.net"},
	{"A", "a@example.com"},
};

struct krow {
	const char *label, *name, *from;
	enum dispname_verdict want;
	const char *found;
};

static const struct krow krows[] = {
	{"known name, other address", "Yamada Taro", "yamada@evil.example",
	 DISPNAME_KNOWN_NAME, "yamada@corp.example.co.jp"},
	{"known name, case and blanks differ", "  YAMADA   taro ",
	 "y@evil.example", DISPNAME_KNOWN_NAME, "yamada@corp.example.co.jp"},
	{"Japanese name, full-width space", "\xe5\xb1\xb1\xe7\x94\xb0\xe3\x80\x80"
	 "\xe5\xa4\xaa\xe9\x83\x8e", "y@evil.example", DISPNAME_KNOWN_NAME,
	 "yamada@corp.example.co.jp"},
	{"known name, its own address", "Yamada Taro",
	 "YAMADA@corp.example.co.jp", DISPNAME_OK, ""},
	{"name with two known addresses, second used", "Sato Hanako",
	 "hanako@home.example.net", DISPNAME_OK, ""},
	{"unknown name", "Suzuki Ichiro", "s@evil.example", DISPNAME_OK, ""},
	{"one-letter name never matches", "A", "x@evil.example", DISPNAME_OK,
	 ""},
	{"quoted known name", "\"Yamada Taro\"", "y@evil.example",
	 DISPNAME_KNOWN_NAME, "yamada@corp.example.co.jp"},
};

int main(void)
{
	struct dmarc_psl *psl = dmarc_psl_load(NULL);
	struct dispname_result res;
	char out[64], big[2100];
	size_t i;

	if (!ok(psl != NULL, "system Public Suffix List loads"))
		return tap_done();
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *t = &rows[i];

		dispname_check(psl, t->name, strlen(t->name), t->from, &res);
		is_int(res.verdict, t->want, "%s: %s", t->label,
		       dispname_verdict_name(res.verdict));
		is_str(res.found, t->found, "%s: found", t->label);
	}
	for (i = 0; i < sizeof(krows) / sizeof(krows[0]); i++) {
		const struct krow *t = &krows[i];

		dispname_known(t->name, strlen(t->name), t->from, known,
			       sizeof(known) / sizeof(known[0]), &res);
		is_int(res.verdict, t->want, "known: %s", t->label);
		is_str(res.found, t->found, "known: %s: found", t->label);
	}
	ok(dispname_normalize("\xef\xbc\xa1\xe2\x80\x8b" "B", 7, out,
			      sizeof(out)) == 0 && strcmp(out, "ab") == 0,
	   "normalize: full-width A, zero-width space, B -> ab");
	is_int(dispname_normalize("abcdef", 6, out, 4), -1,
	       "normalize: too long for out");
	/* the ASCII fast path and ICU's path fold alike */
	{
		static const struct {
			const char *label, *in, *want;
			size_t n;	/* bytes of in; 0: strlen */
		} frows[] = {
			{ "ASCII: upper case lowered", "PayPal Support-Team 42!",
			  "paypal support-team 42!", 0 },
			{ "ASCII: punctuation and controls kept", "A\t@[]^_`{~}",
			  "a\t@[]^_`{~}", 0 },
			{ "non-ASCII: full-width folded by ICU",
			  "X\xef\xbc\xa1y", "xay", 0 },
			{ "run by run: a combining acute after ASCII e",
			  "CAFE\xcc\x81 Shop", "caf\xc3\xa9 shop", 0 },
			{ "run by run: kana between ASCII, full-width B",
			  "Amazon\xe3\x81\x8b\xef\xbc\xa2X",
			  "amazon\xe3\x81\x8b" "bx", 0 },
			{ "run by run: invalid byte substituted",
			  "A\xff" "B", "a\xef\xbf\xbd" "b", 0 },
			{ "a NUL ends the text", "AB\0CD", "ab", 5 },
			{ "eight at a time: the bytes around A-Z",
			  "?@AZ[\\`azMNOPqrst{\x7f" "0123456789",
			  "?@az[\\`azmnopqrst{\x7f" "0123456789", 0 },
			{ "eight at a time: a block with non-ASCII in it",
			  "ABCDEFGHIJKL\xef\xbc\xa1MNOPQRSTUVW",
			  "abcdefghijklamnopqrstuvw", 0 },
			{ "empty", "", "", 0 },
		};

		for (i = 0; i < sizeof(frows) / sizeof(frows[0]); i++) {
			size_t n = frows[i].n ? frows[i].n
					      : strlen(frows[i].in);
			char *f = dispname_fold(frows[i].in, n, 256);

			is_str(f, frows[i].want, "fold: %s", frows[i].label);
			free(f);
		}
	}
	/* a name longer than DISPNAME_MAX is cut, not refused; the cut
	 * lands inside a 3-byte character */
	memset(big, 'a', sizeof(big));
	memcpy(big + 996, "\xe3\x81\x82", 3);
	memcpy(big + 1500, " x@paypal.com", 13);
	big[sizeof(big) - 1] = '\0';
	dispname_check(psl, big, strlen(big), "x@evil.example.com", &res);
	is_int(res.verdict, DISPNAME_OK, "long name: the tail is not read");
	dmarc_psl_free(psl);
	return tap_done();
}
