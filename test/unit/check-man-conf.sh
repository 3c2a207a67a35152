#!/bin/sh
# check-man-conf.sh MAMORI PAGE: every setting "mamori config -d" prints
# (globals and class settings) has an entry in the generated mamori.conf(5)
# PAGE, and the page has no entry that config -d does not know.  TAP.
set -u
mamori=$1 page=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; bad=1; fi; }

"$mamori" config -d >"$tmp/d" 2>&1
ok $? "mamori config -d runs"
sed -n 's/^\([a-z0-9_]*\) = .*/\1/p' "$tmp/d" | sort >"$tmp/names"
# An entry is ".TP" then ".B NAME" (roff: underscores are literal), in the
# GLOBAL SETTINGS and CLASS SETTINGS sections.
awk '/^\.SH / { on = ($0 ~ /SETTINGS/) }
     on && prev == ".TP" && $1 == ".B" { print $2 } { prev = $0 }' "$page" |
	sed 's/\\-/-/g' | sort >"$tmp/entries"
[ "$(wc -l <"$tmp/names")" -gt 50 ]
ok $? "config -d lists settings ($(wc -l <"$tmp/names"))"
missing=$(comm -23 "$tmp/names" "$tmp/entries" | tr '\n' ' ')
[ -z "$missing" ]
ok $? "every setting of config -d is in mamori.conf(5)${missing:+ (missing: $missing)}"
extra=$(comm -13 "$tmp/names" "$tmp/entries" | tr '\n' ' ')
[ -z "$extra" ]
ok $? "mamori.conf(5) documents no unknown setting${extra:+ (extra: $extra)}"
# Each default as config -d prints it appears in the entry.
wrong=
while IFS= read -r line; do
	name=${line%% = *} def=${line#* = }
	[ -n "$def" ] || continue
	esc=$(printf '%s' "$def" | sed 's/\\/\\e/g; s/-/\\-/g')
	awk -v n="$name" -v d="default: \\\\fB$esc\\\\fR" '
		prev == ".TP" && $1 == ".B" { on = ($2 == n) }
		on && index($0, d) { found = 1 }
		{ prev = $0 } END { exit !found }' "$page" || wrong="$wrong $name"
done <<EOT
$(grep -E '^[a-z0-9_]+ = ' "$tmp/d")
EOT
[ -z "$wrong" ]
ok $? "every default in the page matches config -d${wrong:+ (differ:$wrong)}"
grep -q '^\.TH MAMORI\.CONF 5 ' "$page"
ok $? "the page has a .TH line for section 5"
if command -v man >/dev/null 2>&1; then
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
	[ -z "$warn" ]
	ok $? "man renders the page without warnings${warn:+: $warn}"
fi
echo "1..$n"
exit $bad
