#!/bin/bash
# t-package.sh - the Debian package (debian/), built, linted, installed,
# started as its systemd unit would start it, and purged.
#
#   1. dpkg-buildpackage -us -uc -b on a copy of the tree (nocheck: only
#      what the package installs is compiled; ~35 s on 2 cores)
#   2. lintian: no error and no warning (tags justified in
#      debian/mamori.lintian-overrides are overridden)
#   3. the .deb holds mamorid, mamori, the unit, the conffile, the
#      templates and the three man pages; mamori.conf(5) lists every
#      setting of "mamori config -d"
#   4. dpkg -i: the system user mamori, /var/lib/mamori and /run/mamori
#      owned by it, /etc/mamori/mamori.conf a conffile readable by its group
#   5. mamorid started as the unit's ExecStartPre/ExecStart do (as root,
#      -c /etc/mamori/mamori.conf): it drops to mamori, "mamori stats"
#      answers over /run/mamori/api.sock, the store is mamori's;
#      "mamori dkim keygen" as root writes a key the daemon's user reads
#   6. dpkg --purge: no user, group, /etc/mamori, /var/lib/mamori,
#      /run/mamori or package file left
#
# Steps 4-6 run dpkg for real, on this machine's own system, but inside an
# overlay of / in private mount, network and pid namespaces (unshare): the
# package sees the machine's libraries, adduser and dpkg database, and
# nothing it does reaches the real system, so the test also runs on a
# machine where mamori is already installed or quickstart made the mamori
# user (they are removed inside the overlay first), and no other dpkg run
# waits for it.  mamorid's default listener 127.0.0.1:10040 is private to
# the namespace.  Where / cannot be overlaid, a clean machine (no mamori
# user, no /etc/mamori, no package: a throwaway CI machine) is used itself,
# still in private namespaces; a machine with mamori on it is not touched
# and the test fails saying so.  Skipped when not root and in the ASan pass (the package
# is built from the source tree, not from the build under test).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (dpkg -i, namespaces)"
	exit 0
fi
if [ -n "${ASAN_OPTIONS:-}" ]; then
	echo "1..0 # SKIP the package is built from the tree; tested in the plain pass"
	exit 0
fi
for t in dpkg-buildpackage dh lintian fakeroot go-md2man unshare; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "1..0 # SKIP $t is missing (scripts/install-deps installs it)"
		exit 0
	fi
done

it_init

# ---------------------------------------------------------------- 1. build

pkg_build "$IT_DIR/pkg"
VERSION=$PKG_VERSION SRC=$PKG_SRC DEB=$PKG_DEB
diag "dpkg-buildpackage: exit $PKG_RC in $PKG_SECONDS s"
tap_ok '[ "$PKG_RC" -eq 0 ] && [ -f "$DEB" ]' "dpkg-buildpackage -us -uc -b builds $(basename "$DEB")" ||
	{ tail -n 40 "$IT_DIR/pkg/build.log" | sed 's/^/#   /'; bail "no package"; }

# ---------------------------------------------------------------- 2. lintian

lintian --fail-on error,warning --display-info \
	"$IT_DIR/pkg/mamori_${VERSION}_$(dpkg --print-architecture).changes" \
	>"$IT_DIR/lintian.log" 2>&1
rc=$?
grep -E '^[EWI]: ' "$IT_DIR/lintian.log" | sed 's/^/# lintian: /'
tap_ok '[ "$rc" -eq 0 ]' "lintian: no error or warning"

# ---------------------------------------------------------------- 3. contents

dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$IT_DIR/files"
missing=
for f in /usr/sbin/mamorid /usr/bin/mamori /lib/systemd/system/mamorid.service \
	/etc/mamori/mamori.conf /etc/mamori/templates/restricted.customer.ja.txt \
	/usr/lib/tmpfiles.d/mamori.conf /usr/share/man/man1/mamori.1.gz \
	/usr/share/man/man8/mamorid.8.gz /usr/share/man/man5/mamori.conf.5.gz; do
	grep -qxF "$f" "$IT_DIR/files" || missing="$missing $f"
done
tap_is "$missing" "" "the package holds the binaries, unit, conffile, templates and man pages"
dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./usr/share/man/man5/mamori.conf.5.gz |
	gzip -dc >"$IT_DIR/mamori.conf.5"
sh "$MAMORI_TOP/test/unit/check-man-conf.sh" "$SRC/obj-$(dpkg-architecture -qDEB_HOST_GNU_TYPE)/src/cli/mamori" \
	"$IT_DIR/mamori.conf.5" >"$IT_DIR/man.tap" 2>&1
rc=$?
tap_ok '[ "$rc" -eq 0 ]' "the packaged mamori.conf(5) lists every setting of mamori config -d" ||
	grep '^not ok' "$IT_DIR/man.tap" | sed 's/^/#   /'
unit=$(dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./lib/systemd/system/mamorid.service)
bad=
for k in 'ProtectSystem=strict' 'ProtectHome=yes' 'NoNewPrivileges=yes' 'PrivateTmp=yes' \
	'ExecStart=/usr/sbin/mamorid -c /etc/mamori/mamori.conf' \
	'CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'; do
	grep -qxF "$k" <<<"$unit" || bad="$bad [$k]"
done
tap_is "$bad" "" "the unit is hardened and runs mamorid -c /etc/mamori/mamori.conf"

# ---------------------------------------------------------------- 4-6. in an overlay

# The inside: one "PASS label" or "FAIL label: why" line per check in
# $RESULTS, turned into TAP here afterwards.
RESULTS=$IT_DIR/results
INNER=$IT_DIR/inner.sh
cat >"$INNER" <<'INNER_EOF'
set -u
R=$1 DEBDIR=$2 RESULTS=$3
ROOT=$R/root
pass() { echo "PASS $1" >>"$RESULTS"; }
fail() { echo "FAIL $1" >>"$RESULTS"; }
check() { local label=$1; shift; if "$@" >>"$R/inner.log" 2>&1; then pass "$label"; else fail "$label"; fi; }
in_root() { chroot "$ROOT" "$@"; }
mkdir -p "$R/ovl" "$ROOT"
if mount -t tmpfs tmpfs "$R/ovl" && mkdir "$R/ovl/up" "$R/ovl/work" &&
	mount -t overlay overlay -o "lowerdir=/,upperdir=$R/ovl/up,workdir=$R/ovl/work" "$ROOT"; then
	mount --rbind /dev "$ROOT/dev" && mount -t proc proc "$ROOT/proc" &&
		mount -t tmpfs tmpfs "$ROOT/run" && mount -t tmpfs tmpfs "$ROOT/tmp" &&
		mkdir -p "$ROOT/tmp/debs" && mount --bind "$DEBDIR" "$ROOT/tmp/debs" ||
		{ fail "mounts inside the overlay"; exit 0; }
	# A clean machine inside: what an earlier install or quickstart left.
	in_root dpkg --purge mamori >/dev/null 2>&1
	in_root userdel mamori >/dev/null 2>&1
	in_root groupdel mamori >/dev/null 2>&1
	rm -rf "$ROOT/etc/mamori" "$ROOT/var/lib/mamori"
else
	# No overlay (a kernel or container without it): the machine itself,
	# if it is clean (a throwaway CI machine), else nothing is touched.
	echo "no overlay of /: installing on the machine itself" >>"$R/inner.log"
	if getent passwd mamori >/dev/null || [ -e /etc/mamori ] ||
		[ -e /var/lib/mamori ] || dpkg-query -W mamori >/dev/null 2>&1; then
		fail "overlay of / (mount -t overlay), and this machine has mamori already: not touched"
		exit 0
	fi
	ROOT=/
	mount -t proc proc /proc && mount -t tmpfs tmpfs /run &&
		mkdir -p /run/debs && mount --bind "$DEBDIR" /run/debs ||
		{ fail "mounts on the machine"; exit 0; }
fi
ip link set lo up
[ "$ROOT" = / ] && DEBS=/run/debs || DEBS=/tmp/debs

check "dpkg -i installs the package" in_root dpkg -i "$DEBS/$(basename "$DEB")"
uid=$(in_root id -u mamori 2>/dev/null)
gid=$(in_root id -g mamori 2>/dev/null)
check "a system user mamori exists (uid $uid)" test -n "$uid" -a "${uid:-1000}" -lt 1000
check "its shell is nologin" sh -c "chroot '$ROOT' getent passwd mamori | grep -q ':/usr/sbin/nologin\$'"
check "/var/lib/mamori is mamori's, 0750" test "$(stat -c '%u %a' "$ROOT/var/lib/mamori")" = "$uid 750"
check "/run/mamori is mamori's, 0750 (tmpfiles)" test "$(stat -c '%u %a' "$ROOT/run/mamori" 2>&1)" = "$uid 750"
check "/etc/mamori/mamori.conf is root:mamori 0640" \
	test "$(stat -c '%u %g %a' "$ROOT/etc/mamori/mamori.conf")" = "0 $gid 640"
check "/etc/mamori/mamori.conf is a conffile" sh -c \
	"chroot '$ROOT' dpkg-query -W -f='\${Conffiles}' mamori | grep -q ' /etc/mamori/mamori.conf '"
check "man finds mamori.conf(5)" in_root man -w 5 mamori.conf
for l in protected-domains content-hosts; do
	check "/etc/mamori/$l is a conffile" sh -c \
		"chroot '$ROOT' dpkg-query -W -f='\${Conffiles}' mamori | grep -q ' /etc/mamori/$l '"
done
check "the packaged config enables both lists (mamori config -n)" sh -c \
	"chroot '$ROOT' mamori config -n -c /etc/mamori/mamori.conf | grep -q '^lookalike_protected_file = /etc/mamori/protected-domains' &&
	 chroot '$ROOT' mamori config -n -c /etc/mamori/mamori.conf | grep -q '^content_hosts_file = /etc/mamori/content-hosts'"
# As the unit: ExecStartPre, then ExecStart as root.
check "mamorid -t -c /etc/mamori/mamori.conf (ExecStartPre)" in_root /usr/sbin/mamorid -t -c /etc/mamori/mamori.conf
setsid chroot "$ROOT" /usr/sbin/mamorid -c /etc/mamori/mamori.conf </dev/null >"$R/mamorid.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ -S "$ROOT/run/mamori/api.sock" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
check "mamorid creates /run/mamori/api.sock" test -S "$ROOT/run/mamori/api.sock"
in_root mamori stats >"$R/stats.out" 2>&1
rc=$?
cat "$R/stats.out" >>"$R/inner.log"
check "mamori stats answers (exit $rc)" test "$rc" -eq 0 -a -s "$R/stats.out"
# $pid is in the new pid namespace: its /proc is the one in the overlay.
ids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$ROOT/proc/$pid/status" 2>/dev/null)
comm=$(cat "$ROOT/proc/$pid/comm" 2>/dev/null)
check "mamorid runs as mamori ($comm: uids $ids)" test "$comm" = mamorid -a "$ids" = "$uid $uid $uid $uid"
check "the store is mamori's" test "$(stat -c %u "$ROOT/var/lib/mamori/state.db" 2>&1)" = "$uid"
# A DKIM key made by root is readable by the daemon's user.
check "mamori dkim keygen as root" in_root mamori dkim keygen example.test s1 --type ed25519
check "mamorid's user reads the new key" in_root setpriv --reuid=mamori --regid=mamori --init-groups \
	cat /etc/mamori/dkim/example.test/s1.key
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "mamorid stops on SIGTERM" sh -c "! kill -0 $pid 2>/dev/null"
kill -KILL "$pid" 2>/dev/null
cat "$R/mamorid.log" >>"$R/inner.log"

check "dpkg --purge removes the package" in_root dpkg --purge mamori
check "no user mamori left" sh -c "! chroot '$ROOT' getent passwd mamori"
check "no group mamori left" sh -c "! chroot '$ROOT' getent group mamori"
for d in /etc/mamori /var/lib/mamori /run/mamori /usr/sbin/mamorid /usr/bin/mamori \
	/lib/systemd/system/mamorid.service /usr/share/man/man5/mamori.conf.5.gz; do
	check "no $d left" test ! -e "$ROOT$d"
done
check "dpkg knows no mamori" sh -c "! chroot '$ROOT' dpkg-query -W mamori"
INNER_EOF
: >"$RESULTS"
DEB=$DEB timeout -k 5 120 unshare --mount --net --pid --fork --kill-child \
	bash "$INNER" "$IT_DIR/ns" "$(dirname "$DEB")" "$RESULTS" >"$IT_DIR/inner.out" 2>&1
rc=$?
tap_ok '[ "$rc" -eq 0 ]' "the install test ran in its namespaces (exit $rc)"
while IFS= read -r line; do
	case $line in
	PASS\ *) tap_ok true "${line#PASS }" ;;
	FAIL\ *) tap_ok false "${line#FAIL }" ;;
	esac
done <"$RESULTS"
n=$(grep -c . "$RESULTS")
tap_ok '[ "$n" -ge 25 ]' "every install check ran ($n)"
if [ "$TAP_FAILED" -gt 0 ]; then
	tail -n 40 "$IT_DIR/ns/inner.log" "$IT_DIR/inner.out" 2>/dev/null | sed 's/^/#   /'
fi
tap_done
