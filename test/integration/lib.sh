# shellcheck shell=bash
#
# lib.sh - a private Postfix + Dovecot + smtp-sink on loopback for mamori's
# integration tests, and TAP helpers.  Source it from a t-*.sh script:
#
#   . "$(dirname "$0")/lib.sh"
#   it_init                 # temp dir, free ports, cleanup trap
#   dovecot_start; sink_start; policy_stub_start; pf_start
#   send --login alice@example.test --rcpt x@ext.example   (smtpclient.py)
#   tap_ok '[ "$(sink_count)" -eq 1 ]' "delivered"
#   tap_done
#
# Everything lives under one temp dir ($IT_DIR, from mktemp -d) and listens
# on 127.0.0.1 only, on ports found free at start.  Every wait is bounded.
# The EXIT trap stops everything this script started (by pid or by the
# private instance's own stop command), never anything else; set
# MAMORI_KEEP=1 to keep the temp dir for inspection.
#
# Layout under $IT_DIR:
#   postfix/conf/{main.cf,master.cf}  postfix/queue  postfix/data
#   postfix/maillog                   (Postfix's log, via postlogd)
#   dovecot/dovecot.conf  dovecot/users  dovecot/run (base_dir)  dovecot/log
#   sink/msg.XXXXXXXX                 (one smtp-sink dump per transaction)
#   policy/stub.log                   (the stand-in policy responder)
#   mamori/mamori.conf mamori/state.db mamori/api.sock mamori/mamorid.log
#
# Requires root (Postfix's master and smtp-sink drop privileges themselves).

IT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MAMORI_TOP=${MAMORI_TOP:-$(cd "$IT_LIB_DIR/../.." && pwd)}
MAMORI_BUILD=${MAMORI_BUILD:-$MAMORI_TOP/build}
case $MAMORI_BUILD in /*) ;; *) MAMORI_BUILD=$MAMORI_TOP/$MAMORI_BUILD ;; esac
MAMORID_BIN=${MAMORID_BIN:-$MAMORI_BUILD/src/daemon/mamorid}
MAMORI_BIN=${MAMORI_BIN:-$MAMORI_BUILD/src/cli/mamori}

POSTFIX_SBIN=${POSTFIX_SBIN:-/usr/sbin}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
DOVECOT=${DOVECOT:-/usr/sbin/dovecot}

# Test users (passwd-file, PLAIN scheme).  Not secrets: loopback only.
declare -A IT_PASSWORD=(
	[alice@example.test]=alice-pw-1
	[bob@example.test]=bob-pw-1
	[mallory@example.test]=mallory-pw-1
	[newsletter@example.test]=newsletter-pw-1
)

# Other secrets a suite uses (API tokens, keys, wrong passwords it tries):
# add them with IT_SECRETS+=(...); tap_done checks that no log holds one.
IT_SECRETS=()

IT_DIR=
TAP_N=0
TAP_FAILED=0
IT_PIDS_SINK=
IT_PID_STUB=
IT_PID_MAMORID=
IT_PF_STARTED=0
IT_DOVECOT_STARTED=0

# ---------------------------------------------------------------- TAP

# tap_ok COND LABEL: one assertion.  COND is a shell condition, evaluated
# with eval (quote it in single quotes so variables expand at test time):
#   tap_ok '[ "$n" -eq 5 ]' "five messages"
tap_ok() {
	local cond=$1 label=$2
	TAP_N=$((TAP_N + 1))
	if eval "$cond"; then
		echo "ok $TAP_N - $label"
		return 0
	fi
	echo "not ok $TAP_N - $label"
	echo "#   failed: $cond"
	TAP_FAILED=$((TAP_FAILED + 1))
	return 1
}

# tap_is GOT WANT LABEL: string equality, with a diagnostic on failure.
tap_is() {
	local got=$1 want=$2 label=$3
	TAP_N=$((TAP_N + 1))
	if [ "$got" = "$want" ]; then
		echo "ok $TAP_N - $label"
		return 0
	fi
	echo "not ok $TAP_N - $label"
	echo "#   got:  '$got'"
	echo "#   want: '$want'"
	TAP_FAILED=$((TAP_FAILED + 1))
	return 1
}

# tap_cmd LABEL CMD ARGS...: passes when the command exits 0.
tap_cmd() {
	local label=$1
	shift
	TAP_N=$((TAP_N + 1))
	if "$@" >"$IT_DIR/tap_cmd.out" 2>&1; then
		echo "ok $TAP_N - $label"
		return 0
	fi
	echo "not ok $TAP_N - $label"
	echo "#   command failed: $*"
	sed 's/^/#   /' "$IT_DIR/tap_cmd.out" | head -20
	TAP_FAILED=$((TAP_FAILED + 1))
	return 1
}

# tap_skip N REASON: N skipped assertions (they count as passed in TAP).
tap_skip() {
	local n=$1 reason=$2 i
	for ((i = 0; i < n; i++)); do
		TAP_N=$((TAP_N + 1))
		echo "ok $TAP_N # SKIP $reason"
	done
}

diag() { echo "# $*"; }

# bail REASON: abort the whole script (TAP "Bail out!"), cleanup runs.
bail() {
	echo "Bail out! $*"
	IT_BAILED=1
	exit 1
}

# tap_done: stop mamorid, check its log for sanitizer reports (an ASan or
# UBSan build: run-tests runs every script against build-asan/ too), print
# the plan; return 1 if anything failed.
tap_done() {
	mamorid_stop >/dev/null 2>&1
	if [ -n "${MAMORI_LOG:-}" ] && [ -f "$MAMORI_LOG" ]; then
		TAP_N=$((TAP_N + 1))
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$MAMORI_LOG"; then
			echo "not ok $TAP_N - mamorid's log holds no sanitizer report"
			grep -E -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
				"$MAMORI_LOG" | head -60 | sed 's/^/#   /'
			TAP_FAILED=$((TAP_FAILED + 1))
		else
			echo "ok $TAP_N - mamorid's log holds no sanitizer report"
		fi
	fi
	secrets_check
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}

# secrets_check: one assertion: no log of this run (mamorid's, Postfix's,
# Dovecot's, the stand-ins', every *.log/*.err under the temp dir, and
# build-logs/ but for the TAP transcripts) holds a test password or one of
# IT_SECRETS.  Names the file and the user, never the secret itself.
secrets_check() {
	local pats=$IT_DIR/secrets.pat f u hits=
	local -a files=()
	[ -n "$IT_DIR" ] && [ -d "$IT_DIR" ] || return 0
	: >"$pats"
	for u in "${!IT_PASSWORD[@]}"; do
		[ -n "${IT_PASSWORD[$u]}" ] && echo "${IT_PASSWORD[$u]}" >>"$pats"
	done
	for u in "${IT_SECRETS[@]}"; do [ -n "$u" ] && echo "$u" >>"$pats"; done
	while IFS= read -r -d '' f; do files+=("$f"); done < <(
		find "$IT_DIR" "$MAMORI_TOP/build-logs" -type f \
			\( -name '*.log' -o -name '*.err' -o -name maillog \
			-o -name log -o -name '*.txt' \) -print0 2>/dev/null)
	TAP_N=$((TAP_N + 1))
	if [ "${#files[@]}" -gt 0 ] && [ -s "$pats" ]; then
		for f in $(grep -lF -f "$pats" "${files[@]}" 2>/dev/null); do
			for u in "${!IT_PASSWORD[@]}"; do
				[ -n "${IT_PASSWORD[$u]}" ] &&
					grep -qF -- "${IT_PASSWORD[$u]}" "$f" &&
					hits="$hits $f($u's password)"
			done
			for u in "${!IT_SECRETS[@]}"; do
				[ -n "${IT_SECRETS[$u]}" ] &&
					grep -qF -- "${IT_SECRETS[$u]}" "$f" &&
					hits="$hits $f(IT_SECRETS[$u])"
			done
		done
	fi
	if [ -z "$hits" ]; then
		echo "ok $TAP_N - no password or token in any of ${#files[@]} logs"
	else
		echo "not ok $TAP_N - no password or token in any of ${#files[@]} logs"
		echo "#   found:$hits"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
	rm -f "$pats"
}

# ---------------------------------------------------------------- setup

# pkg_build DIR: the Debian package built from a copy of the tree in
# DIR/mamori-VERSION (nocheck: only what the package installs is compiled),
# log in DIR/build.log.  Sets PKG_VERSION, PKG_SRC (the copy; its obj-*/
# holds the build), PKG_DEB (the .deb), PKG_RC and PKG_SECONDS.
pkg_build() {
	local dir=$1 start
	PKG_VERSION=$(dpkg-parsechangelog -l "$MAMORI_TOP/debian/changelog" -S Version)
	PKG_SRC=$dir/mamori-$PKG_VERSION
	PKG_DEB=$dir/mamori_${PKG_VERSION}_$(dpkg --print-architecture).deb
	mkdir -p "$PKG_SRC"
	tar -C "$MAMORI_TOP" --exclude=./.git --exclude='./build*' \
		--exclude=./obj-\* -cf - . | tar -C "$PKG_SRC" -xf -
	start=$(date +%s)
	(cd "$PKG_SRC" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
		dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1
	PKG_RC=$?
	PKG_SECONDS=$(($(date +%s) - start))
}

# it_init: temp dir, ports, EXIT trap.  Call once, first.
it_init() {
	[ "$(id -u)" -eq 0 ] || bail "integration tests need root (private Postfix)"
	IT_DIR=$(mktemp -d /tmp/mamori-it.XXXXXX) || bail "mktemp failed"
	# The dir is traversed by postfix, dovecot and nobody.
	chmod 0755 "$IT_DIR"
	trap it_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	IT_TAG=t$$$(date +%s)
	local ports
	ports=$(free_ports 7) || bail "cannot find free ports"
	# shellcheck disable=SC2086
	set -- $ports
	SUBMIT_PORT=$1 SINK_PORT=$2 POLICY_PORT=$3 AUTH_PORT=$4
	IMAP_PORT=$5 POP3_PORT=$6
	export SPARE_PORT=$7	# free for a test's own server (redis, DNS ...)
	PF_CONF=$IT_DIR/postfix/conf
	PF_QUEUE=$IT_DIR/postfix/queue
	PF_LOG=$IT_DIR/postfix/maillog
	SINK_DIR=$IT_DIR/sink
	MAMORI_DIR=$IT_DIR/mamori
	MAMORI_API=$MAMORI_DIR/api.sock
	MAMORI_LOG=$MAMORI_DIR/mamorid.log
	mkdir -p "$IT_DIR/policy" "$MAMORI_DIR"
	diag "temp dir $IT_DIR; submit=$SUBMIT_PORT sink=$SINK_PORT" \
		"policy=$POLICY_PORT auth=$AUTH_PORT imap=$IMAP_PORT pop3=$POP3_PORT"
}

# free_ports N: print N distinct TCP ports free on 127.0.0.1 right now.
# All sockets are held open together so the kernel hands out distinct ones.
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_port HOST PORT [TIMEOUT]: wait until a TCP connect succeeds.
wait_port() {
	local host=$1 port=$2 t=${3:-20} i
	for ((i = 0; i < t * 5; i++)); do
		if timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# wait_port_closed HOST PORT [TIMEOUT]: wait until nothing listens.
wait_port_closed() {
	local host=$1 port=$2 t=${3:-20} i
	for ((i = 0; i < t * 5; i++)); do
		if ! timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# wait_until TIMEOUT CMD ARGS...: poll CMD every 0.2 s until it succeeds.
wait_until() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 5; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

# wait_for TIMEOUT COND: like wait_until, but COND is a shell condition
# evaluated afresh at each poll (quote it in single quotes):
#   wait_for 20 '[ "$(sink_count x)" -ge 5 ]'
wait_for() {
	local t=$1 cond=$2 i
	for ((i = 0; i < t * 5; i++)); do
		eval "$cond" && return 0
		sleep 0.2
	done
	return 1
}

# pid_wait_gone PID TIMEOUT: wait until PID has exited.
pid_wait_gone() {
	local pid=$1 t=${2:-10} i
	for ((i = 0; i < t * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# stop_pid PID [TIMEOUT]: TERM, wait, then KILL one process we started.
stop_pid() {
	local pid=$1 t=${2:-10}
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	if ! pid_wait_gone "$pid" "$t"; then
		kill -KILL "$pid" 2>/dev/null
		pid_wait_gone "$pid" 5
	fi
	return 0
}

# ---------------------------------------------------------------- Dovecot

# dovecot_start: Dovecot 2.3 as SASL provider (auth inet_listener on
# 127.0.0.1:$AUTH_PORT for Postfix) plus imap/pop3 on loopback ports.
dovecot_start() {
	local d=$IT_DIR/dovecot u
	mkdir -p "$d/run" "$d/state" "$d/home"
	chown nobody:nogroup "$d/home"
	: >"$d/users"
	for u in "${!IT_PASSWORD[@]}"; do
		echo "$u:{PLAIN}${IT_PASSWORD[$u]}::::::" >>"$d/users"
	done
	chmod 0644 "$d/users"
	cat >"$d/dovecot.conf" <<EOF
# Private Dovecot for mamori's integration tests (generated by lib.sh).
instance_name = mamori-it-$$
base_dir = $d/run
state_dir = $d/state
log_path = $d/log
info_log_path = $d/log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
default_internal_user = dovecot
default_login_user = dovenull
# Mail runs as nobody in the temp dir; imap/pop3 are only for later tests.
mail_location = maildir:$d/home/%u/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/home/%u
}
service auth {
  inet_listener auth-postfix {
    address = 127.0.0.1
    port = $AUTH_PORT
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
	"$DOVECOT" -c "$d/dovecot.conf" 2>>"$d/log" ||
		{ tail -20 "$d/log" | sed 's/^/# dovecot: /'; return 1; }
	IT_DOVECOT_STARTED=1
	wait_port 127.0.0.1 "$AUTH_PORT" 20 ||
		{ tail -20 "$d/log" | sed 's/^/# dovecot: /'; return 1; }
}

dovecot_stop() {
	local d=$IT_DIR/dovecot pid
	[ "$IT_DOVECOT_STARTED" = 1 ] || return 0
	pid=$(cat "$d/run/master.pid" 2>/dev/null)
	"$DOVECOT" -c "$d/dovecot.conf" stop >/dev/null 2>&1
	[ -n "$pid" ] && { pid_wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null; }
	IT_DOVECOT_STARTED=0
}

# ---------------------------------------------------------------- sink

# sink_start: Postfix's smtp-sink on 127.0.0.1:$SINK_PORT, one dump file
# per mail transaction in $SINK_DIR.
sink_start() {
	mkdir -p "$SINK_DIR"
	chown postfix "$SINK_DIR"
	# -u: required as root, drops privileges after bind.  -h: a greeting
	# name that is not $myhostname (Postfix refuses "loops back to myself").
	"$SMTP_SINK" -u postfix -h sink.example.test -d "$SINK_DIR/msg." \
		"127.0.0.1:$SINK_PORT" 256 >>"$IT_DIR/sink.log" 2>&1 &
	IT_PIDS_SINK=$!
	disown "$IT_PIDS_SINK"
	wait_port 127.0.0.1 "$SINK_PORT" 10
}

sink_stop() {
	stop_pid "$IT_PIDS_SINK" 5
	IT_PIDS_SINK=
}

# sink_files: dump files of completed transactions (they end with the
# empty line smtp-sink writes after the message).
sink_files() {
	find "$SINK_DIR" -type f -name 'msg.*' 2>/dev/null | sort
}

# sink_test_ids [PREFIX]: distinct X-Mamori-Test-Id values in the sink
# (test messages only, not mamori's notices), optionally with PREFIX.
sink_test_ids() {
	local prefix=${1:-}
	sink_files | xargs -r grep -h -m1 '^X-Mamori-Test-Id: ' 2>/dev/null |
		sed 's/^X-Mamori-Test-Id: //; s/\r$//' |
		grep -F -- "$prefix" | sort -u
}

# sink_count [PREFIX]: how many distinct test messages reached the sink.
sink_count() {
	sink_test_ids "${1:-}" | grep -c .
}

# sink_notices [RCPT]: dump files that are not test messages (no
# X-Mamori-Test-Id), i.e. mamori's notices, optionally only those with
# envelope recipient RCPT.
sink_notices() {
	local rcpt=${1:-} f
	for f in $(sink_files); do
		grep -q '^X-Mamori-Test-Id: ' "$f" && continue
		if [ -n "$rcpt" ]; then
			grep -qi "^X-Rcpt-Args: <$rcpt>" "$f" || continue
		fi
		echo "$f"
	done
}

sink_notice_count() {
	sink_notices "${1:-}" | grep -c .
}

# ---------------------------------------------------------------- policy stub

# policy_stub_start [ACTION]: the stand-in policy responder on POLICY_PORT.
policy_stub_start() {
	python3 "$IT_LIB_DIR/dunno-policy.py" --listen "127.0.0.1:$POLICY_PORT" \
		--log "$IT_DIR/policy/stub.log" --action "${1:-DUNNO}" \
		>>"$IT_DIR/policy/stub.stderr" 2>&1 &
	IT_PID_STUB=$!
	disown "$IT_PID_STUB"
	wait_port 127.0.0.1 "$POLICY_PORT" 10
}

policy_stub_stop() {
	[ -n "$IT_PID_STUB" ] || return 0
	stop_pid "$IT_PID_STUB" 5
	IT_PID_STUB=
	wait_port_closed 127.0.0.1 "$POLICY_PORT" 5
}

# ---------------------------------------------------------------- Postfix

# pf_policy_ref: the check_policy_service argument.  The inner braces let
# default_action contain spaces (Postfix splits attributes on whitespace
# and commas).  When mamorid is down Postfix answers 4.3.5: mail waits.
pf_policy_ref() {
	echo "{ inet:127.0.0.1:$POLICY_PORT, timeout=10s," \
		"{ default_action = DEFER_IF_PERMIT 4.3.5 mamori unavailable } }"
}

# pf_write_config: main.cf and master.cf of the private instance.
pf_write_config() {
	mkdir -p "$PF_CONF" "$PF_QUEUE" "$IT_DIR/postfix/data"
	chown postfix "$IT_DIR/postfix/data"
	: >"$PF_LOG"
	cat >"$PF_CONF/main.cf" <<EOF
# Private Postfix for mamori's integration tests (generated by lib.sh).
compatibility_level = 3.6
queue_directory = $PF_QUEUE
data_directory = $IT_DIR/postfix/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-mamori-it
# Log to a file through postlogd (master.cf "postlog"), no syslog needed.
maillog_file = $PF_LOG
maillog_file_prefixes = $IT_DIR
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.example.test
mydomain = example.test
myorigin = \$mydomain
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled in tests
alias_maps =
alias_database =
relay_domains =
mynetworks = 127.0.0.0/8
# Every message goes to the sink; no DNS at all.
relayhost = [127.0.0.1]:$SINK_PORT
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:$AUTH_PORT
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
# The policy wiring of contrib/postfix/main.cf.snippet, port aside, so the
# tests prove the snippet's syntax too; master.cf applies it to submission.
mamori_policy = $(pf_policy_ref)
mamori_submission_recipient_restrictions =
    check_policy_service \$mamori_policy,
    permit_sasl_authenticated,
    reject
mamori_submission_end_of_data_restrictions =
    check_policy_service \$mamori_policy
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_policy_service_max_idle = 300s
smtpd_policy_service_max_ttl = 1000s
smtpd_policy_service_try_limit = 2
smtpd_policy_service_retry_delay = 1s
smtpd_policy_service_timeout = 10s
# Tests send many refused recipients quickly: no tarpit, no error limits.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_client_connection_count_limit = 0
smtpd_client_event_limit_exceptions = 127.0.0.0/8
# Released (postsuper -H) and deferred mail is retried within seconds.
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
delay_warning_time = 0
notify_classes =
biff = no
append_dot_mydomain = no
smtputf8_enable = no
EOF
	cat >"$PF_CONF/master.cf" <<EOF
# Private Postfix master.cf for mamori's integration tests; chroot off.
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$SUBMIT_PORT inet n - n - - smtpd
  -o syslog_name=postfix-mamori-it/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_security_level=none
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=\$mamori_submission_recipient_restrictions
  -o smtpd_end_of_data_restrictions=\$mamori_submission_end_of_data_restrictions
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# pf_start: write the config (unless already written) and start the
# private instance; wait for the submission port.
pf_start() {
	[ -f "$PF_CONF/main.cf" ] || pf_write_config
	# "postfix check" creates the queue directories with the right owners.
	"$POSTFIX_SBIN/postfix" -c "$PF_CONF" check >>"$IT_DIR/postfix/ctl.log" 2>&1
	if ! "$POSTFIX_SBIN/postfix" -c "$PF_CONF" start >>"$IT_DIR/postfix/ctl.log" 2>&1; then
		sed 's/^/# postfix: /' "$IT_DIR/postfix/ctl.log" | tail -20
		return 1
	fi
	IT_PF_STARTED=1
	wait_port 127.0.0.1 "$SUBMIT_PORT" 20 || {
		sed 's/^/# postfix: /' "$IT_DIR/postfix/ctl.log" | tail -20
		tail -20 "$PF_LOG" | sed 's/^/# maillog: /'
		return 1
	}
}

pf_master_pid() {
	local pid
	pid=$(tr -d ' \n' <"$PF_QUEUE/pid/master.pid" 2>/dev/null)
	[ -n "$pid" ] && echo "$pid"
}

pf_stop() {
	local pid
	[ "$IT_PF_STARTED" = 1 ] || return 0
	pid=$(pf_master_pid)
	"$POSTFIX_SBIN/postfix" -c "$PF_CONF" stop >>"$IT_DIR/postfix/ctl.log" 2>&1
	if [ -n "$pid" ] && ! pid_wait_gone "$pid" 15; then
		"$POSTFIX_SBIN/postfix" -c "$PF_CONF" abort >>"$IT_DIR/postfix/ctl.log" 2>&1
		pid_wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null
	fi
	IT_PF_STARTED=0
}

# pf_hold_ids: queue IDs in the hold queue (the hold directory is flat).
pf_hold_ids() {
	find "$PF_QUEUE/hold" -type f -printf '%f\n' 2>/dev/null | sort
}

pf_hold_count() {
	pf_hold_ids | grep -c .
}

# pf_queue_json: postqueue -j (one JSON object per message).
pf_queue_json() {
	"$POSTFIX_SBIN/postqueue" -c "$PF_CONF" -j 2>/dev/null
}

# pf_pending_count: messages not yet delivered and not on hold
# (maildrop, incoming, active, deferred).
pf_pending_count() {
	local n=0 q
	for q in maildrop incoming active deferred; do
		[ -d "$PF_QUEUE/$q" ] || continue
		n=$((n + $(find "$PF_QUEUE/$q" -type f | grep -c .)))
	done
	echo "$n"
}

pf_is_settled() { [ "$(pf_pending_count)" -eq 0 ]; }

# pf_flush: ask the queue manager to retry deferred mail now.
pf_flush() {
	"$POSTFIX_SBIN/postqueue" -c "$PF_CONF" -f >/dev/null 2>&1
}

# pf_wait_settled [TIMEOUT]: flush and wait until nothing is pending.
pf_wait_settled() {
	local t=${1:-30}
	pf_flush
	wait_until "$t" pf_is_settled
}

# pf_postsuper ARGS: postsuper on the private instance.
pf_postsuper() {
	"$POSTFIX_SBIN/postsuper" -c "$PF_CONF" "$@"
}

# ---------------------------------------------------------------- mail

# send ARGS: smtpclient.py against the private submission port, tagged so
# the sink can tell test mail from notices.  --login L fills the password.
send() {
	local args=() login='' a
	for a in "$@"; do
		args+=("$a")
		if [ "$login" = next ]; then login=$a; fi
		[ "$a" = --login ] && login=next
	done
	if [ -n "$login" ] && [ "$login" != next ]; then
		args+=(--password "${IT_PASSWORD[$login]:-wrong}")
	fi
	timeout 600 python3 "$IT_LIB_DIR/smtpclient.py" --port "$SUBMIT_PORT" \
		--tag "${SEND_TAG:-$IT_TAG}" "${args[@]}"
}

# result_count RESULT FILE: lines of smtpclient output with result=RESULT.
result_count() {
	grep -c "^result=$1 " "$2"
}

# field NAME LINE: the value of NAME=... in one smtpclient output line.
field() {
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2" | head -1
}

# ---------------------------------------------------------------- mamori

# mamori_write_conf FILE [LINE...]: a config for the test instance: sqlite
# store in the temp dir, policy on POLICY_PORT, API on a unix socket, held
# mail handled with postsuper on the private queue, notices to the sink in
# English, retried quickly.  The LINEs follow verbatim: more global keys,
# then "[class default]" and class keys.
mamori_write_conf() {
	local f=$1 l
	shift
	cat >"$f" <<EOF
# mamorid config for an integration test (generated by lib.sh)
policy_listen = inet:127.0.0.1:$POLICY_PORT
auth_policy_listen = inet:127.0.0.1:${AUTHPOLICY_PORT:-0}
api_listen = unix:$MAMORI_API
store = sqlite:$MAMORI_DIR/state.db
user =
log_level = debug
local_domains = example.test
held_release_command = $POSTFIX_SBIN/postsuper -c $PF_CONF -H
held_delete_command = $POSTFIX_SBIN/postsuper -c $PF_CONF -d
notify_smtp_url = smtp://127.0.0.1:$SINK_PORT
notify_from = postmaster@example.test
abuse_desk = abuse@example.test
notify_language = en
notify_retry_interval = 2
notify_timeout = 10
EOF
	for l in "$@"; do echo "$l" >>"$f"; done
}

# mamorid_start CONF: start mamorid in the background (stderr to
# $MAMORI_LOG); wait for the policy port and the API socket.
mamorid_start() {
	local conf=$1
	[ -x "$MAMORID_BIN" ] || { diag "no $MAMORID_BIN"; return 1; }
	echo "=== mamorid start $(date +%T) -c $conf" >>"$MAMORI_LOG"
	"$MAMORID_BIN" -c "$conf" 2>>"$MAMORI_LOG" >/dev/null &
	IT_PID_MAMORID=$!
	# Not a job of this shell: no "Killed" chatter after kill -9.
	disown "$IT_PID_MAMORID"
	if ! wait_port 127.0.0.1 "$POLICY_PORT" 20; then
		diag "mamorid did not open 127.0.0.1:$POLICY_PORT"
		tail -20 "$MAMORI_LOG" | sed 's/^/# mamorid: /'
		return 1
	fi
	wait_until 10 test -S "$MAMORI_API" || {
		diag "mamorid did not create $MAMORI_API"
		return 1
	}
}

mamorid_running() {
	[ -n "$IT_PID_MAMORID" ] && kill -0 "$IT_PID_MAMORID" 2>/dev/null
}

mamorid_stop() {
	[ -n "$IT_PID_MAMORID" ] || return 0
	stop_pid "$IT_PID_MAMORID" 15
	IT_PID_MAMORID=
	wait_port_closed 127.0.0.1 "$POLICY_PORT" 10
}

mamorid_kill9() {
	[ -n "$IT_PID_MAMORID" ] || return 0
	kill -KILL "$IT_PID_MAMORID" 2>/dev/null
	pid_wait_gone "$IT_PID_MAMORID" 5
	IT_PID_MAMORID=
}

# mamori ARGS: the admin CLI against the test instance's API socket.
mamori() {
	timeout 30 "$MAMORI_BIN" -s "$MAMORI_API" "$@"
}

# json_get PATH: read JSON on stdin, print the value at PATH (dots for
# keys, numbers for list indexes; "#" after a list gives its length).
# Prints nothing (exit 1) when the input is not JSON or PATH is missing.
json_get() {
	python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)
    for k in [p for p in sys.argv[1].split(".") if p]:
        if k == "#":
            v = len(v)
        elif isinstance(v, list):
            v = v[int(k)]
        else:
            v = v[k]
except Exception:
    sys.exit(1)
if isinstance(v, bool):
    print("true" if v else "false")
elif isinstance(v, (dict, list)):
    print(json.dumps(v))
else:
    print(v)
' "$1"
}

# notice_in_timeline LOGIN: LOGIN's timeline ("mamori --json account show",
# the API behind the web UI) holds a mail notice that was sent.
notice_in_timeline() {
	mamori --json account show "$1" 2>/dev/null | python3 -c '
import json, sys
ev = json.load(sys.stdin).get("events", [])
sys.exit(0 if any(e.get("notice", "").startswith("mail:") and
		  e.get("outcome") == "sent" for e in ev) else 1)'
}

# account_field LOGIN PATH: json_get PATH of "mamori --json account show".
account_field() {
	mamori --json account show "$1" 2>/dev/null | json_get "$2"
}

account_state() { account_field "$1" state; }

# ---------------------------------------------------------------- cleanup

it_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$IT_DIR" ] || return "$rc"
	if [ "$TAP_FAILED" -gt 0 ] || [ -n "${IT_BAILED:-}" ] || [ "${MAMORI_VERBOSE:-}" = 1 ]; then
		local f
		for f in "$MAMORI_LOG" "$PF_LOG" "$IT_DIR/dovecot/log" \
			"$IT_DIR/postfix/ctl.log" "$IT_DIR/sink.log" "$IT_DIR/policy/stub.stderr"; do
			[ -s "$f" ] || continue
			echo "# ---- last lines of $f"
			tail -n "${MAMORI_LOG_LINES:-25}" "$f" | sed 's/^/#   /'
		done
	fi
	mamorid_stop >/dev/null 2>&1
	policy_stub_stop >/dev/null 2>&1
	pf_stop >/dev/null 2>&1
	sink_stop >/dev/null 2>&1
	dovecot_stop >/dev/null 2>&1
	if [ "${MAMORI_KEEP:-}" = 1 ]; then
		echo "# kept $IT_DIR"
	else
		rm -rf "$IT_DIR"
	fi
	return "$rc"
}

# smtp_send PORT FROM RCPT FILE [LOGIN PASSWORD]: send one message file
# (sendfile.py); prints "code=NNN text=..." for the end of the transaction.
smtp_send() { timeout 120 python3 "$IT_LIB_DIR/sendfile.py" "$@"; }

# pf_add_milter SOCKET PORT: after pf_write_config, the milter on unix:SOCKET
# for every smtpd and the local submissions (contrib/postfix/
# milter.cf.snippet, socket aside; mamorid down = tempfail), and an inbound
# smtpd without SASL on 127.0.0.1:PORT.
pf_add_milter() {
	cat >>"$PF_CONF/main.cf" <<EOF
# mamori milter (contrib/postfix/milter.cf.snippet, socket aside)
smtpd_milters = unix:$1
non_smtpd_milters = unix:$1
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 10s
EOF
	cat >>"$PF_CONF/master.cf" <<EOF
127.0.0.1:$2 inet n - n - - smtpd
  -o syslog_name=postfix-mamori-it/inbound
  -o smtpd_relay_restrictions=permit_mynetworks,reject
EOF
}

# milter_write_conf SOCKET AUTHSERV DNS_PORT [LINE...]: $MAMORI_DIR/mamori.conf
# for the milter tests: the milter on unix:SOCKET, our authserv-id, DNS from
# the zone server on 127.0.0.1:DNS_PORT (1.5 s timeout), 192.0.2.250 as the
# only internal client (127.0.0.1 is inbound), then the LINEs.
milter_write_conf() {
	local sock=$1 id=$2 port=$3
	shift 3
	mamori_write_conf "$MAMORI_DIR/mamori.conf" \
		"milter_listen = unix:$sock" "authserv_id = $id" \
		"internal_networks = 192.0.2.250/32" \
		"dns_upstream = 127.0.0.1@$port" "dns_timeout_ms = 1500" "$@"
}

# milter_it_start SOCKET PORT: the milter tests' servers, once
# $MAMORI_DIR/mamori.conf is written (milter_listen = unix:SOCKET): Postfix
# with pf_add_milter, Dovecot (SASL for submission), the sink, mamorid;
# bails out if one does not start.
milter_it_start() {
	pf_write_config
	pf_add_milter "$1" "$2"
	dovecot_start || bail "dovecot did not start"
	sink_start || bail "smtp-sink did not start"
	mamorid_start "$MAMORI_DIR/mamori.conf" || bail "mamorid did not start"
	wait_until 10 test -S "$1" || bail "no milter socket"
	pf_start || bail "postfix did not start"
}

# zone_start ZONEFILE PORT: test/dns/zone-server.py serving ZONEFILE on
# 127.0.0.1:PORT in the background (its pid in ZONE_PID, output in
# $IT_DIR/dns.out and dns.err); waits 10 s at most for its READY line.
# Returns 1 if it did not start.  (t-milter.sh still starts its own by
# hand.)
zone_start() {
	: >"$IT_DIR/dns.out"	# exists before the first grep for READY
	/usr/bin/python3 "$MAMORI_TOP/test/dns/zone-server.py" "$1" "$2" \
		127.0.0.1 >"$IT_DIR/dns.out" 2>"$IT_DIR/dns.err" &
	ZONE_PID=$!
	disown "$ZONE_PID"
	wait_for 10 'grep -q READY "$IT_DIR/dns.out"'
}
# zone_stop: stop the server zone_start started, if any.
zone_stop() { stop_pid "$ZONE_PID" 5; ZONE_PID=; }
