#!/bin/bash
# t-systemd.sh - the Debian package under a real systemd: a minimal Debian 12
# booted with systemd-nspawn -b, the .deb installed, "systemctl start
# mamorid", its listeners answering as the mamori user with the unit's
# sandbox in force, "systemctl reload" and "stop", then "dpkg --purge".
#
# Opt-in (MAMORI_SYSTEMD=1), because the first run needs the Debian mirror:
#
#   1. a root file system for Debian 12 (debootstrap --variant=minbase with
#      systemd, and the package's dependencies installed with apt-get inside
#      systemd-nspawn), kept in $MAMORI_SYSTEMD_ROOT (default
#      build-systemd/rootfs) and reused by later runs (then no network)
#   2. the package: $MAMORI_DEB, or built with dpkg-buildpackage -b on a
#      copy of the tree (nocheck, as t-package.sh; ~1-2 min)
#   3. the root file system overlaid (its lower layer is never written),
#      a oneshot unit mamori-check.service added that runs the checks below
#      once the system is up, then powers off; systemd-nspawn -b boots it
#      (--register=no --keep-unit: this machine's PID 1 is not systemd, so
#      there is no machined or scope to ask for; under script(1), because
#      nspawn's console wants a terminal)
#   4. the checks write "PASS label" / "FAIL label" lines to a directory
#      bound into the container; they become TAP here
#
# Needs root, debootstrap, systemd-nspawn (package systemd-container) and
# script (bsdutils); installs debootstrap and systemd-container with apt-get
# when missing.  Nothing outside the build folder and the temp dir is
# written.  Timings on the shared 2-core machine: boot to poweroff ~10 s;
# the first debootstrap ~3 min; the package build ~1-2 min.
. "$(dirname "$0")/lib.sh"

if [ "${MAMORI_SYSTEMD:-0}" != 1 ]; then
	echo "1..0 # SKIP opt-in: MAMORI_SYSTEMD=1 (boots Debian 12 in systemd-nspawn)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (debootstrap, systemd-nspawn)"
	exit 0
fi
if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
	apt-get -o DPkg::Lock::Timeout=600 install -y debootstrap systemd-container \
		>/dev/null 2>&1
fi
for t in debootstrap systemd-nspawn script dpkg-buildpackage; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "1..0 # SKIP $t is missing"
		exit 0
	fi
done

it_init
ROOTFS=${MAMORI_SYSTEMD_ROOT:-$MAMORI_TOP/build-systemd/rootfs}
MIRROR=${MAMORI_SYSTEMD_MIRROR:-http://deb.debian.org/debian}
NSPAWN=(systemd-nspawn --register=no --keep-unit -q)

# ---------------------------------------------------------------- 2. package

if [ -n "${MAMORI_DEB:-}" ]; then
	DEB=$MAMORI_DEB
else
	pkg_build "$IT_DIR/pkg"
	DEB=$PKG_DEB
	diag "dpkg-buildpackage: exit $PKG_RC in $PKG_SECONDS s"
fi
tap_ok '[ -f "$DEB" ]' "the package: $(basename "$DEB")" ||
	{ tail -n 30 "$IT_DIR/pkg/build.log" 2>/dev/null | sed 's/^/#   /'; bail "no package"; }

# ---------------------------------------------------------------- 1. root fs

start=$(date +%s)
if [ ! -x "$ROOTFS/usr/lib/systemd/systemd" ]; then
	rm -rf "$ROOTFS"
	mkdir -p "$(dirname "$ROOTFS")"
	debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,dbus,procps,curl,ca-certificates \
		bookworm "$ROOTFS" "$MIRROR" >"$IT_DIR/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$IT_DIR/debootstrap.log" | sed 's/^/#   /'; bail "debootstrap failed"; }
fi
# The package's dependencies, by name (apt-get installs nothing when they
# are there already, so a later run needs no network).
deps=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep .)
# shellcheck disable=SC2086
"${NSPAWN[@]}" -D "$ROOTFS" --pipe sh -c \
	"apt-get install -y --no-install-recommends $(echo $deps) man-db >/dev/null 2>&1 ||
	 { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends $(echo $deps) man-db; }" \
	>"$IT_DIR/deps.log" 2>&1
tap_ok '[ $? -eq 0 ]' "a Debian 12 root file system with systemd and the package's dependencies ($(($(date +%s) - start)) s)" ||
	{ tail -n 20 "$IT_DIR/deps.log" | sed 's/^/#   /'; bail "no root file system"; }

# ---------------------------------------------------------------- 3. boot

BOX=$IT_DIR/box
mkdir -p "$BOX/share" "$BOX/up" "$BOX/work" "$BOX/merged"
cp "$DEB" "$BOX/share/mamori.deb"
cat >"$BOX/share/inner.sh" <<'INNER_EOF'
#!/bin/bash
# Runs inside the booted container as mamori-check.service.
set -u
S=/mamori-test
R=$S/results
L=$S/inner.log
pass() { echo "PASS $1" >>"$R"; }
fail() { echo "FAIL $1" >>"$R"; }
check() { local label=$1; shift; if "$@" >>"$L" 2>&1; then pass "$label"; else fail "$label"; fi; }
# policy: one Postfix policy request on 127.0.0.1:10040, the action line.
policy() {
	exec 3<>/dev/tcp/127.0.0.1/10040 || return 1
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=alice@example.test\nsender=alice@example.test\nrecipient=bob@example.net\nclient_address=192.0.2.1\ninstance=t-systemd.1\n\n' >&3
	timeout 5 head -1 <&3
	exec 3>&-
}

: >"$R"
check "systemd is PID 1 ($(systemctl --version | head -1))" test "$(cat /proc/1/comm)" = systemd
check "dpkg -i mamori.deb" dpkg -i $S/mamori.deb
check "the unit is enabled (dh_installsystemd)" systemctl is-enabled mamorid
check "systemctl start mamorid" systemctl start mamorid
for _ in $(seq 50); do [ -S /run/mamori/api.sock ] && break; sleep 0.2; done
check "systemctl is-active mamorid" systemctl is-active mamorid
pid=$(systemctl show -p MainPID --value mamorid)
check "mamorid runs as mamori (pid $pid: $(ps -o user= -p "$pid"))" \
	test "$(ps -o user= -p "$pid")" = mamori
check "mamori stats answers on /run/mamori/api.sock" mamori stats
ans=$(policy)
echo "policy answer: $ans" >>"$L"
check "the policy listener 127.0.0.1:10040 answers ($ans)" test "$ans" = action=DUNNO
check "/metrics answers, with the store's counters" sh -c \
	"curl -s --unix-socket /run/mamori/api.sock http://mamori/metrics | grep -q '^mamori_store_failures_total '"
# The sandbox, as the kernel sees it (not only what the unit file says).
st=/proc/$pid/status
check "NoNewPrivs: 1" grep -qE '^NoNewPrivs:[[:space:]]+1$' "$st"
check "a seccomp filter (Seccomp: 2, SystemCallFilter)" grep -qE '^Seccomp:[[:space:]]+2$' "$st"
check "no capability left after the drop (CapEff 0)" grep -qE '^CapEff:[[:space:]]+0+$' "$st"
check "CapBnd is the unit's three (CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID)" \
	grep -qE '^CapBnd:[[:space:]]+00000000000004c0$' "$st"
check "ProtectSystem=strict: /usr and /etc read-only for mamorid" sh -c \
	"nsenter -t $pid -m findmnt -no OPTIONS -T /usr | grep -q '^ro' &&
	 nsenter -t $pid -m findmnt -no OPTIONS -T /etc | grep -q '^ro'"
check "ReadWritePaths: /var/lib/mamori writable for mamorid" sh -c \
	"nsenter -t $pid -m findmnt -no OPTIONS -T /var/lib/mamori | grep -q '^rw'"
check "ProtectHome=yes: /root is not reachable from mamorid" sh -c \
	"touch /root/mamori-visible && ! nsenter -t $pid -m test -e /root/mamori-visible"
check "PrivateTmp=yes: mamorid's /tmp is its own" sh -c \
	"touch /tmp/mamori-visible && ! nsenter -t $pid -m test -e /tmp/mamori-visible"
check "PrivateDevices=yes: no /dev/mem for mamorid" sh -c \
	"! nsenter -t $pid -m test -e /dev/mem"
systemd-analyze security mamorid >>"$L" 2>&1
exposure=$(systemd-analyze security mamorid 2>/dev/null | sed -n 's/.*Overall exposure level for mamorid.service: //p')
echo "EXPOSURE $exposure" >>"$R"
check "journald has mamorid's log (event=started or listening)" sh -c \
	"journalctl -u mamorid --no-pager | grep -q 'event='"
check "systemctl reload mamorid (ExecReload: -t, then SIGHUP)" systemctl reload mamorid
sleep 1
check "still active after the reload, same pid" sh -c \
	"systemctl is-active mamorid && test \"\$(systemctl show -p MainPID --value mamorid)\" = $pid"
check "journald logged the reload (event=reloaded)" sh -c \
	"journalctl -u mamorid --no-pager | grep -q 'event=reloaded'"
check "systemctl stop mamorid" systemctl stop mamorid
check "stopped cleanly (inactive, not failed)" sh -c "test \"\$(systemctl is-active mamorid)\" = inactive"
journalctl -u mamorid --no-pager >>"$L" 2>&1
check "dpkg --purge mamori" dpkg --purge mamori
check "no user mamori left" sh -c "! getent passwd mamori"
for d in /etc/mamori /var/lib/mamori /run/mamori /usr/sbin/mamorid /lib/systemd/system/mamorid.service; do
	check "no $d left" test ! -e "$d"
done
check "systemd knows no mamorid unit" sh -c "! systemctl cat mamorid"
echo DONE >>"$R"
systemctl poweroff
INNER_EOF
chmod 0755 "$BOX/share/inner.sh"

# The overlay and the boot, in a private mount namespace: the lower layer
# (the cached root fs) is never written, and nothing is mounted on the host.
cat >"$BOX/boot.sh" <<BOOT_EOF
set -e
mount -t overlay overlay -o lowerdir=$ROOTFS,upperdir=$BOX/up,workdir=$BOX/work $BOX/merged
mkdir -p $BOX/merged/mamori-test
cat >$BOX/merged/etc/systemd/system/mamori-check.service <<'UNIT'
[Unit]
Description=t-systemd.sh: install, start, check, stop and purge mamori
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/mamori-test/inner.sh
StandardOutput=journal+console
UNIT
ln -sf /etc/systemd/system/mamori-check.service \
	$BOX/merged/etc/systemd/system/multi-user.target.wants/mamori-check.service
exec ${NSPAWN[*]} -D $BOX/merged -b --bind=$BOX/share:/mamori-test --machine=mamori-t
BOOT_EOF
start=$(date +%s)
timeout -k 5 240 unshare --mount --propagation private \
	script -qec "bash $BOX/boot.sh" /dev/null </dev/null >"$IT_DIR/boot.log" 2>&1
rc=$?
diag "boot, checks and poweroff: exit $rc in $(($(date +%s) - start)) s"
RESULTS=$BOX/share/results
tap_ok '[ -f "$RESULTS" ] && grep -qx DONE "$RESULTS"' "the container booted, ran the checks and powered off" ||
	tail -n 30 "$IT_DIR/boot.log" | sed 's/^/#   /'
while IFS= read -r line; do
	case $line in
	PASS\ *) tap_ok true "${line#PASS }" ;;
	FAIL\ *) tap_ok false "${line#FAIL }" ;;
	EXPOSURE\ *) diag "systemd-analyze security: ${line#EXPOSURE }" ;;
	esac
done < <(cat "$RESULTS" 2>/dev/null)
n=$(grep -c '^PASS\|^FAIL' "$RESULTS" 2>/dev/null)
tap_ok '[ "${n:-0}" -ge 25 ]' "every check ran (${n:-0})"
if [ "$TAP_FAILED" -gt 0 ]; then
	tail -n 60 "$BOX/share/inner.log" 2>/dev/null | sed 's/^/#   /'
fi
tap_done
