#!/usr/bin/env bash
#
# t-listen.sh - the listener skeleton (src/util/server.c) against a real
# mamorid and a real Postfix:
#
#   a. a client dripping one byte of a policy request every second is cut
#      off at policy_request_timeout (3 s here), before its request is
#      complete; a read does not re-arm the deadline.  The same for the
#      auth-policy (HTTP) service and auth_policy_request_timeout.
#   b. 3,000 idle connections from one address (127.0.0.2): at most
#      policy_max_per_client are kept, the rest closed at once and counted
#      in /metrics; a policy request from another address and a message
#      through Postfix are still served; the log stays quiet (a bounded
#      number of refusal lines, no accept-error lines).
#   c. mamorid under prlimit --nofile=1024 with caps that fit: 1,200
#      connections from one address, more than the limit, leave it serving
#      a policy request and Postfix, with no EMFILE.  With caps that do not
#      fit and no way to raise the limit (CAP_SYS_RESOURCE dropped) it
#      refuses to start, naming the settings.
#   d. a unix listener path holding a regular file: mamorid refuses to
#      start and the file is untouched.
#
# TAP on stdout.  Needs root.  Loopback only; every loop is bounded in
# count and every wait in time.
set -u
. "$(dirname "$0")/lib.sh"

CLIENT=$IT_LIB_DIR/listen-client.py
ALICE=alice@example.test

[ -x "$MAMORID_BIN" ] || bail "no mamorid at $MAMORID_BIN (build first)"

it_init
AUTHPOLICY_PORT=$SPARE_PORT
CONF=$MAMORI_DIR/mamori.conf
out=$IT_DIR/out

# The caps fit in 1,024 descriptors: 600 + 100 + 16 + 256 margin.
mamori_write_conf "$CONF" \
	"log_level = info" \
	"policy_request_timeout = 3" \
	"policy_max_connections = 600" \
	"policy_max_per_client = 500" \
	"auth_policy_max_connections = 100" \
	"auth_policy_request_timeout = 3" \
	"api_max_connections = 16"

dovecot_start || bail "dovecot did not start"
sink_start || bail "smtp-sink did not start"
pf_start || bail "postfix did not start"
mamorid_start "$CONF" || bail "mamorid did not start"
wait_port 127.0.0.1 "$AUTHPOLICY_PORT" 10 || bail "no auth-policy listener"

# metric NAME_AND_LABELS: one value from /metrics on the API socket.
metric() {
	curl -s --max-time 10 --unix-socket "$MAMORI_API" http://mamori/metrics |
		grep -F "$1 " | awk '{print $2}' | head -1
}

# log_count PATTERN: lines of the mamorid log since the last start.
log_count() {
	awk '/^=== mamorid start/ { n = 0 } $0 ~ p { n++ } END { print n + 0 }' \
		p="$1" "$MAMORI_LOG"
}

# policy_ok [SOURCE]: a policy request from SOURCE gets an action.
policy_ok() {
	python3 "$CLIENT" policy --port "$POLICY_PORT" ${1:+--source "$1"} >"$out"
	grep -q '^action=' "$out"
}

# postfix_ok TAG: alice's message through Postfix (and its policy checks
# against mamorid) is accepted.
postfix_ok() {
	send --login "$ALICE" --rcpt "someone@external.example" --tag "$1" >"$out"
	[ "$(field result "$(head -1 "$out")")" = accepted ]
}

# hold SOURCE COUNT REPORT: hold COUNT connections from SOURCE (background,
# 60 s at most); waits for the report line "opened=N closed=M".
HOLD_PID=
HOLD_REPORT=
hold() {
	HOLD_REPORT=$3
	rm -f "$HOLD_REPORT"
	python3 "$CLIENT" hold --port "$POLICY_PORT" --source "$1" --count "$2" \
		--report "$HOLD_REPORT" --seconds 60 &
	HOLD_PID=$!
	wait_for 60 '[ -s "$HOLD_REPORT" ]'
}

hold_stop() {
	[ -n "$HOLD_PID" ] || return 0
	stop_pid "$HOLD_PID" 5
	wait "$HOLD_PID" 2>/dev/null
	HOLD_PID=
}

# ------------------------------------------------ a. the request deadline

tap_ok 'policy_ok' "mamorid answers a policy request"
python3 "$CLIENT" drip --port "$POLICY_PORT" --interval 1 --max-seconds 30 \
	--data 'request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@b\n\n' >"$out"
diag "policy drip: $(cat "$out")"
tap_ok 'grep -q "closed=yes" "$out"' "a dripping policy client is cut off"
sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$out")
tap_ok '[ "${sent:-0}" -ge 2 ] && [ "${sent:-99}" -le 6 ]' \
	"at the deadline, after a few bytes ($sent), not re-armed by each one"
tap_ok 'grep -q "event=policy_timeout.*partial_request=yes" "$MAMORI_LOG"' \
	"logged as a partial request"

python3 "$CLIENT" drip --port "$AUTHPOLICY_PORT" --interval 1 --max-seconds 30 \
	--data 'POST /?command=allow HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n{"login":"a"}' >"$out"
diag "auth-policy drip: $(cat "$out")"
sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$out")
tap_ok 'grep -q "closed=yes" "$out" && [ "${sent:-0}" -ge 2 ] && [ "${sent:-99}" -le 6 ]' \
	"a dripping auth-policy (HTTP) client is cut off at the deadline ($sent bytes)"
tap_ok 'grep -q "event=request_deadline service=auth-policy" "$MAMORI_LOG"' \
	"logged as a request deadline"
tap_is "$(metric 'mamori_listener_timeouts_total{service="auth-policy",kind="request"}')" 1 \
	"counted in /metrics"

# ------------------------------------------------ b. 3,000 idle connections

hold 127.0.0.2 3000 "$IT_DIR/hold1" || bail "the holder did not report"
diag "3000 idle: $(cat "$IT_DIR/hold1")"
tap_ok 'grep -q "opened=3000 closed=2500" "$IT_DIR/hold1"' \
	"3,000 connections from one address: 500 kept (policy_max_per_client), 2,500 closed"
tap_ok 'policy_ok 127.0.0.1' "a policy request from another address is served"
tap_ok 'postfix_ok l1' "a message through Postfix is accepted meanwhile"
tap_is "$(metric 'mamori_listener_refused_total{service="policy",reason="max_per_client"}')" 2500 \
	"the refusals are counted in /metrics"
n=$(metric 'mamori_listener_connections{service="policy"}')
tap_ok '[ "${n:-0}" -ge 500 ] && [ "${n:-0}" -le 505 ]' \
	"500 policy connections open, and Postfix's ($n in all)"
n=$(log_count 'event=connection_refused')
tap_ok '[ "$n" -ge 1 ] && [ "$n" -le 4 ]' "the log stays quiet: $n refusal lines for 2,500 refusals"
tap_is "$(log_count 'event=accept_paused')" 0 "no accept errors"
hold_stop
tap_ok 'mamorid_running' "mamorid still runs"

# ------------------------------------------------ c. RLIMIT_NOFILE 1,024

mamorid_stop
WRAP=$IT_DIR/mamorid-1024
cat >"$WRAP" <<EOF
#!/bin/sh
exec prlimit --nofile=1024 "$MAMORID_BIN" "\$@"
EOF
chmod 0755 "$WRAP"
REAL_BIN=$MAMORID_BIN
MAMORID_BIN=$WRAP
mamorid_start "$CONF" || bail "mamorid under prlimit did not start"
MAMORID_BIN=$REAL_BIN
tap_ok 'grep -q "^Max open files *1024 *1024" /proc/$IT_PID_MAMORID/limits' \
	"mamorid runs with 1,024 descriptors (the caps fit, nothing raised)"
hold 127.0.0.2 1200 "$IT_DIR/hold2" || bail "the holder did not report"
diag "1200 under 1024: $(cat "$IT_DIR/hold2")"
tap_ok 'grep -q "opened=1200 closed=700" "$IT_DIR/hold2"' \
	"1,200 connections: 500 kept, 700 closed at once"
tap_ok 'policy_ok 127.0.0.1' "a policy request is still served"
tap_ok 'postfix_ok l2' "a message through Postfix is still accepted"
tap_is "$(log_count 'event=accept_paused')" 0 "no EMFILE: the caps kept it below the limit"
n=$(log_count 'event=connection_refused')
tap_ok '[ "$n" -ge 1 ] && [ "$n" -le 4 ]' "the log stays quiet: $n refusal lines"
hold_stop
mamorid_stop

# Caps that do not fit 1,024, and no CAP_SYS_RESOURCE to raise the limit.
CONF_BIG=$MAMORI_DIR/big.conf
mamori_write_conf "$CONF_BIG" "policy_max_connections = 5000"
timeout 20 capsh --drop=cap_sys_resource -- -c \
	"exec prlimit --nofile=1024 '$MAMORID_BIN' -c '$CONF_BIG'" >/dev/null 2>"$out"
rc=$?
diag "$(grep -o 'error=.*' "$out" | head -1)"
tap_ok '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "caps over the limit: mamorid refuses to start (rc $rc)"
tap_ok 'grep -q "policy_max_connections" "$out" && grep -q "RLIMIT_NOFILE" "$out"' \
	"the message names the settings and the limit"

# ------------------------------------------------ d. unix path not a socket

CONF_UNIX=$MAMORI_DIR/unix.conf
PFILE=$MAMORI_DIR/policy.sock
echo "precious" >"$PFILE"
mamori_write_conf "$CONF_UNIX"
sed -i "s|^policy_listen = .*|policy_listen = unix:$PFILE|" "$CONF_UNIX"
timeout 20 "$MAMORID_BIN" -c "$CONF_UNIX" >/dev/null 2>"$out"
rc=$?
diag "$(grep -o 'error=.*' "$out" | head -1)"
tap_ok '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "not a socket" "$out"' \
	"a unix policy_listen path holding a regular file: refused at start"
tap_is "$(cat "$PFILE")" precious "the file is untouched"

tap_done
