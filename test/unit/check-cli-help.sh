#!/bin/sh
# check-cli-help.sh MAMORI MAMORID: "mamori COMMAND --help" answers, with
# exit 0 and that command's usage, for every command "mamori --help" lists;
# an unknown command's --help is a usage error; "mamorid --help" and
# "mamorid -h" print the usage.  TAP.
set -u
mamori=$1 mamorid=$2
n=0 bad=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; bad=1; fi; }

out=$("$mamori" --help)
ok $? "mamori --help exits 0"
# The commands: the first word of each two-space entry under "Commands:".
cmds=$(printf '%s\n' "$out" |
	awk '/^Commands:/ { on = 1; next } /^Options:/ { on = 0 }
	     on && /^  [a-z]/ { print $1 }' | sort -u)
count=$(printf '%s\n' "$cmds" | grep -c .)
[ "$count" -ge 12 ]
ok $? "mamori --help lists the commands ($count)"
for c in $cmds; do
	h=$("$mamori" "$c" --help 2>&1)
	rc=$?
	first=$(printf '%s\n' "$h" | head -1)
	[ "$rc" = 0 ] && [ "$first" = "usage: mamori [OPTIONS] $c ..." ] &&
		printf '%s\n' "$h" | grep -q "^  $c"
	ok $? "mamori $c --help (exit $rc)"
	h2=$("$mamori" "$c" -h 2>&1)
	[ "$h2" = "$h" ]
	ok $? "mamori $c -h is the same text"
done
h=$("$mamori" account show --help 2>&1)
[ $? = 0 ] && printf '%s\n' "$h" | grep -q '^  account release'
ok $? "mamori account show --help prints the account commands"
"$mamori" no-such-command --help >/dev/null 2>&1
[ $? = 2 ]
ok $? "an unknown command's --help is a usage error (exit 2)"
for o in --help -h; do
	h=$("$mamorid" $o)
	rc=$?
	[ "$rc" = 0 ] && printf '%s\n' "$h" | grep -q '^usage: mamorid'
	ok $? "mamorid $o (exit $rc)"
done
v=$("$mamorid" --version)
case $v in "mamorid "[0-9]*) r=0 ;; *) r=1 ;; esac
ok $r "mamorid --version ($v)"
echo "1..$n"
exit $bad
