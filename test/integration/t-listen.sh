#!/usr/bin/env bash
#
# t-listen.sh - the listener skeleton (src/util/server.c) against a real
# mamorid and a real Postfix:
#
#   a. a client dripping one byte of a policy request every second is cut
#      off at policy_request_timeout (3 s here), before its request is
#      complete; a read does not re-arm the deadline.  The same for the
#      auth-policy (HTTP) service and auth_policy_request_timeout, and the
#      admin API on its unix socket and on TCP (api_request_timeout).
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
#   e. the milter (on the same skeleton): past milter_max_connections a
#      connection is closed at accept, before it negotiates, whether the
#      others negotiated or stay silent, and served again once others
#      close; a client dripping an option negotiation one byte a second is
#      cut at the packet deadline (milter_timeout, 3 s here); a stalled
#      packet is cut too; a garbage packet closes the connection with an
#      escaped sample in the log, nothing crashes.  With RLIMIT_NOFILE
#      lowered under a running mamorid (in c) a flood of connections runs
#      it out of descriptors: the policy and milter listeners pause on
#      EMFILE instead of spinning, and every service recovers once the
#      flood ends.
#   f. the HTTP servers (auth policy, TCP API): headers over the limit,
#      thousands of tiny headers, a body over the limit (with a length and
#      chunked), garbage: refused with an HTTP status; a chunked body under
#      the limit is served; no or a wrong token: 401; every POST/DELETE of
#      the API with a web UI session but no CSRF token: 403.
#   g. secrets: an API token (right and wrong), a UI session cookie and
#      CSRF token, a pwhash and a password sent through every path above
#      (valid, invalid and oversized requests) never appear in mamorid's
#      log (log_level = debug) nor in the CLI's output.
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
API_PORT=$(free_ports 1) || bail "no free port"
CONF=$MAMORI_DIR/mamori.conf
out=$IT_DIR/out
MILTER_SOCK=$MAMORI_DIR/milter.sock
# Secrets that must never reach a log.
TOKEN=tok$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
WRONG=bad$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
PWHASH=e$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
PASSWORD=Pw$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')

# The caps fit in 1,024 descriptors: 600 + 100 + 16 + 20 + 256 margin.
# log_level = debug: secrets must stay out of every level.
mamori_write_conf "$CONF" \
	"log_level = debug" \
	"policy_request_timeout = 3" \
	"policy_max_connections = 600" \
	"policy_max_per_client = 500" \
	"auth_policy_max_connections = 100" \
	"auth_policy_request_timeout = 3" \
	"api_max_connections = 16" \
	"api_request_timeout = 3" \
	"api_tcp_listen = inet:127.0.0.1:$API_PORT" \
	"api_token = $TOKEN" \
	"milter_listen = unix:$MILTER_SOCK" \
	"milter_max_connections = 20" \
	"milter_timeout = 3"

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
for where in "--sock $MAMORI_API" "--port $API_PORT"; do
	# shellcheck disable=SC2086
	python3 "$CLIENT" drip $where --interval 1 --max-seconds 30 \
		--data 'POST /v1/ips/block HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{"ip":"192.0.2.1"}' >"$out"
	sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$out")
	tap_ok 'grep -q "closed=yes" "$out" && [ "${sent:-0}" -ge 2 ] && [ "${sent:-99}" -le 6 ]' \
		"a dripping API client (${where%% *}) is cut off at the deadline ($sent bytes)"
done
tap_is "$(metric 'mamori_listener_timeouts_total{service="api",kind="request"}')" 2 \
	"both counted in /metrics"

# ------------------------------------------------ e. the milter

wait_until 10 test -S "$MILTER_SOCK" || bail "no milter socket"
python3 "$CLIENT" milter --sock "$MILTER_SOCK" --count 30 \
	--report "$IT_DIR/milter1" --seconds 6 &
MPID=$!
wait_for 60 '[ -s "$IT_DIR/milter1" ]'
diag "milter 30: $(cat "$IT_DIR/milter1")"
tap_ok 'grep -q "admitted=20 refused=10" "$IT_DIR/milter1"' \
	"milter: 20 negotiations admitted (milter_max_connections), 10 closed at once"
tap_ok 'grep -q "event=connection_refused service=milter reason=max_connections" "$MAMORI_LOG"' \
	"milter: the refusal is logged"
wait "$MPID"
wait_for 20 'python3 "$CLIENT" milter --sock "$MILTER_SOCK" --count 1 --report "$out" --seconds 0; grep -q "admitted=1" "$out"'
tap_ok 'grep -q "admitted=1" "$out"' "milter: served again once those closed"
# Connections that never negotiate count from accept: 20 silent ones fill
# the cap, and a negotiation meanwhile is refused.  Counted after 1 s:
# milter_timeout (3 s) then closes the silent ones as idle.
python3 "$CLIENT" hold --sock "$MILTER_SOCK" --count 25 --wait 1 \
	--report "$IT_DIR/milter2" --seconds 10 &
MPID=$!
wait_for 30 '[ -s "$IT_DIR/milter2" ]'
diag "25 silent milter connections: $(cat "$IT_DIR/milter2")"
tap_ok 'grep -q "opened=25 closed=5" "$IT_DIR/milter2"' \
	"milter: 25 silent connections: 20 kept, 5 closed at accept"
python3 "$CLIENT" milter --sock "$MILTER_SOCK" --count 1 --report "$out" --seconds 0
tap_ok 'grep -q "admitted=0 refused=1" "$out"' \
	"milter: with the cap full of silent connections a negotiation is refused"
stop_pid "$MPID" 5
wait "$MPID" 2>/dev/null
wait_for 20 'python3 "$CLIENT" milter --sock "$MILTER_SOCK" --count 1 --report "$out" --seconds 0; grep -q "admitted=1" "$out"'
tap_ok 'grep -q "admitted=1" "$out"' "milter: served again once the silent ones closed"
# An option negotiation (17 bytes) dripped a byte a second: cut at the
# packet deadline, milter_timeout (3 s), which a read does not re-arm.
python3 "$CLIENT" drip --sock "$MILTER_SOCK" --interval 1 --max-seconds 30 \
	--data '\x00\x00\x00\x0dO\x00\x00\x00\x06\x00\x00\x01\xff\x00\x1f\xff\xff' >"$out"
diag "milter drip: $(cat "$out")"
sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$out")
tap_ok 'grep -q "closed=yes" "$out" && [ "${sent:-99}" -ge 2 ] && [ "${sent:-99}" -le 6 ]' \
	"milter: a client dripping a packet is cut at the packet deadline ($sent of 17 bytes)"
tap_ok '[ "$(metric '"'"'mamori_listener_timeouts_total{service="milter",kind="request"}'"'"')" -ge 1 ]' \
	"milter: the packet deadline is counted in /metrics"
# A packet whose length says 100 bytes, 3 of them sent: cut at milter_timeout.
r=$(python3 "$CLIENT" raw --sock "$MILTER_SOCK" --data '\x00\x00\x00\x64Oab' --wait 20)
diag "milter stalled packet: $r"
tap_ok 'case "$r" in closed*) true;; *) false;; esac' \
	"milter: a stalled packet is cut at milter_timeout"
r=$(python3 "$CLIENT" raw --sock "$MILTER_SOCK" --data '\xff\xff\xff\xffZgarbage\n\x00' --wait 20)
diag "milter huge length: $r"
tap_ok 'case "$r" in closed*) true;; *) false;; esac' \
	"milter: a 4 GB packet length closes the connection"
tap_ok 'grep "event=milter_protocol_error" "$MAMORI_LOG" | grep "error=packet_too_large" | grep -qF "sample=\"\\xff\\xff\\xff\\xffZgarbage\\n\\x00"' \
	"milter: logged with an escaped sample"
r=$(python3 "$CLIENT" raw --sock "$MILTER_SOCK" --data '\x00\x00\x00\x05Zjunk' --wait 20)
tap_ok 'case "$r" in closed*) true;; *) false;; esac' \
	"milter: an unknown command closes the connection"
tap_ok 'mamorid_running' "mamorid still runs"

# ------------------------------------------------ f. HTTP limits

AP=http://127.0.0.1:$AUTHPOLICY_PORT
API=http://127.0.0.1:$API_PORT
# http_status URL [CURL-ARGS...]: the status code (000: no answer).
http_status() {
	local url=$1
	shift
	curl -s -m 15 -o /dev/null -w '%{http_code}' "$@" "$url"
}
# raw_http PORT TEXT [REPEAT] [TAIL]: the first line of the answer to TEXT.
raw_http() {
	python3 "$CLIENT" raw --port "$1" --data "$2" --repeat "${3:-1}" --wait 15
}
bighdr=$(head -c 20000 /dev/zero | tr '\0' a)
body='{"login":"alice@example.test","pwhash":"'$PWHASH'","password":"'$PASSWORD'","remote":"192.0.2.7","protocol":"imap"}'
for svc in AP API; do
	url=${!svc}
	port=$AUTHPOLICY_PORT
	[ "$svc" = API ] && port=$API_PORT
	auth=(-H "Authorization: Bearer $TOKEN")
	code=$(http_status "$url/?command=allow" "${auth[@]}" -H "X-Big: $bighdr" -d "$body")
	tap_ok '[ "$code" = 400 ] || [ "$code" = 413 ] || [ "$code" = 431 ]' \
		"$svc: 20 KB of headers refused ($code)"
	r=$(python3 "$CLIENT" raw --port "$port" --data 'X: y\r\n' --repeat 5000 --wait 10)
	diag "$svc: 5,000 header lines without a request line: $r"
	tap_ok 'case "$r" in HTTP/1.1\ 4*|closed*) true;; *) false;; esac' \
		"$svc: 5,000 garbage header lines: an HTTP error or closed"
	code=$(curl -s -m 15 -o /dev/null -w '%{http_code}' "${auth[@]}" \
		-H "Content-Type: application/json" --data-binary @<(head -c 200000 /dev/zero | tr '\0' x) \
		"$url/v1/scan?command=allow")
	tap_is "$code" 413 "$svc: a 200 KB body (Content-Length) refused with 413"
	code=$(curl -s -m 15 -o /dev/null -w '%{http_code}' "${auth[@]}" \
		-H "Transfer-Encoding: chunked" --data-binary @<(head -c 200000 /dev/zero | tr '\0' x) \
		"$url/v1/scan?command=allow")
	tap_ok '[ "$code" = 413 ] || [ "$code" = 400 ]' \
		"$svc: a 200 KB chunked body refused ($code)"
	r=$(raw_http "$port" '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n')
	diag "$svc: TLS hello bytes: $r"
	tap_ok 'case "$r" in HTTP/1.1\ 4*|closed*) true;; *) false;; esac' \
		"$svc: binary garbage: an HTTP error or closed"
done
tap_ok 'grep -q "event=request_unfinished service=auth-policy" "$MAMORI_LOG" &&
	grep -q "event=request_unfinished service=api" "$MAMORI_LOG"' \
	"the refusals evhttp answers itself are logged (rate-limited, no bytes)"
n=$(metric 'mamori_listener_unfinished_total{service="api"}')
tap_ok '[ "${n:-0}" -ge 4 ]' "and counted in /metrics ($n for the API)"
code=$(http_status "$AP/?command=allow" -H "Transfer-Encoding: chunked" \
	-H "Content-Type: application/json" --data-binary "$body")
tap_is "$code" 200 "auth-policy: a small chunked body is served"
code=$(http_status "$API/v1/accounts")
tap_is "$code" 401 "API (TCP): no token, 401"
code=$(http_status "$API/v1/accounts" -H "Authorization: Bearer $WRONG")
tap_is "$code" 401 "API (TCP): a wrong token, 401"
code=$(http_status "$API/v1/accounts" -H "Authorization: Bearer $TOKEN")
tap_is "$code" 200 "API (TCP): the token, 200"
# A web UI session: every POST and DELETE without X-Mamori-CSRF is refused.
login_json=$(curl -s -m 10 -c "$IT_DIR/cookies" -H "Origin: $API" \
	-d '{"token":"'"$WRONG"'"}' "$API/ui/login")
diag "UI sign-in with a wrong token: $login_json"
login_json=$(curl -s -m 10 -c "$IT_DIR/cookies" -H "Origin: $API" \
	-d '{"token":"'"$TOKEN"'"}' "$API/ui/login")
CSRF=$(echo "$login_json" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("csrf",""))')
COOKIE=$(awk '$6 ~ /mamori/ {print $7}' "$IT_DIR/cookies" | head -1)
tap_ok '[ ${#CSRF} -eq 64 ] && [ -n "$COOKIE" ]' "the web UI signs in (a session cookie, a CSRF token)"
n=0 bad=
for route in "POST /v1/accounts/alice%40example.test/restrict" \
	"POST /v1/accounts/alice%40example.test/credential-changed" \
	"POST /v1/accounts/alice%40example.test/release" \
	"POST /v1/held/ABC123/release" "POST /v1/held/ABC123/delete" \
	"POST /v1/scan" "POST /v1/ips/block" "POST /v1/ips/unblock" \
	"POST /v1/allowlist" "DELETE /v1/allowlist/192.0.2.0%2F24" \
	"POST /ui/logout"; do
	set -- $route
	code=$(http_status "$API$2" -X "$1" -b "$IT_DIR/cookies" -H "Origin: $API" -d '{"reason":"x","ip":"192.0.2.9","net":"192.0.2.0/24"}')
	n=$((n + 1))
	[ "$code" = 403 ] || bad="$bad $1:$2=$code"
done
tap_ok '[ -z "$bad" ]' "every POST/DELETE ($n) with a session but no CSRF token: 403${bad:+ (not:$bad)}"
code=$(http_status "$API/v1/ips/block" -b "$IT_DIR/cookies" -H "Origin: $API" \
	-H "X-Mamori-CSRF: $CSRF" -d '{"ip":"192.0.2.99","reason":"armour test"}')
tap_is "$code" 200 "the same POST with the CSRF token: 200"

# ------------------------------------------------ g. secrets in logs

# Through the auth-policy service: valid, invalid JSON, oversized, bad key.
http_status "$AP/?command=allow" -d "$body" >/dev/null
http_status "$AP/?command=report" -d "${body%\}},\"success\":true,\"policy_reject\":false}" >/dev/null
http_status "$AP/?command=allow" -d "{\"login\":\"a b=c\",\"pwhash\":\"$PWHASH\",\"password\":$PASSWORD" >/dev/null
http_status "$AP/?command=allow" -d "pwhash=$PWHASH password=$PASSWORD" >/dev/null
http_status "$AP/?command=allow" --data-binary @<(printf '{"pwhash":"%s","password":"%s","x":"' "$PWHASH" "$PASSWORD"; head -c 70000 /dev/zero | tr '\0' x; printf '"}') >/dev/null
http_status "$AP/?command=allow" -H "X-API-Key: $WRONG" -d "$body" >/dev/null
http_status "$AP/?command=$PASSWORD" -d "$body" >/dev/null
# Through the API and the CLI, with the right and a wrong token.
http_status "$API/v1/accounts?token=$WRONG" -H "Authorization: Bearer $WRONG" >/dev/null
http_status "$API/ui/session" -H "Cookie: mamori_session=$WRONG" >/dev/null
timeout 30 "$MAMORI_BIN" -u "$API" -T "$WRONG" accounts >"$IT_DIR/cli.out" 2>&1
timeout 30 "$MAMORI_BIN" -u "$API" -T "$TOKEN" accounts >>"$IT_DIR/cli.out" 2>&1
timeout 30 "$MAMORI_BIN" -u "$API" -T "$TOKEN" account show "$PASSWORD" >>"$IT_DIR/cli.out" 2>&1
# Through the policy service: a garbage line carrying a password-like value.
python3 "$CLIENT" raw --port "$POLICY_PORT" --data "password=$PASSWORD\n\x00\xff\n\n" --wait 5 >/dev/null
diag "log lines: $(wc -l <"$MAMORI_LOG"), CLI output lines: $(wc -l <"$IT_DIR/cli.out")"
for secret in TOKEN WRONG PWHASH COOKIE CSRF; do
	v=${!secret}
	tap_ok '! grep -qF -- "$v" "$MAMORI_LOG" "$IT_DIR/cli.out"' \
		"$secret never appears in mamorid's log or the CLI's output"
done
n=$(grep -cF -- "$PASSWORD" "$MAMORI_LOG")
diag "the password-like value is in $n log line(s): $(grep -F -- "$PASSWORD" "$MAMORI_LOG" | cut -c1-160 | head -3)"
tap_ok '! grep -F -- "$PASSWORD" "$MAMORI_LOG" | grep -qv "event=\(policy_bad_request\|api_request\|api_call\)"' \
	"a password-like value reaches the log only as an escaped sample of a non-secret field"

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

# A flood of silent milter connections no longer reaches the descriptor
# limit (the cap counts from accept).  To see the listeners at EMFILE,
# lower the running mamorid's soft limit to 200 and fill it with policy
# connections, then try the milter.
# thread_ticks: "TID TICKS" for each thread of mamorid.
thread_ticks() {
	local t
	for t in /proc/"$IT_PID_MAMORID"/task/*; do
		awk -v t="${t##*/}" '{ print t, $14 + $15 }' "$t/stat" 2>/dev/null
	done | sort
}
python3 "$CLIENT" hold --sock "$MILTER_SOCK" --count 1100 --wait 1 \
	--report "$IT_DIR/hold3" --seconds 60 &
HOLD_PID=$!
wait_for 120 '[ -s "$IT_DIR/hold3" ]' || bail "the milter holder did not report"
diag "1100 silent milter connections under 1024: $(cat "$IT_DIR/hold3")"
tap_ok 'grep -q "opened=1100 closed=1080" "$IT_DIR/hold3"' \
	"1,100 silent milter connections: 20 kept (milter_max_connections), 1,080 closed at accept"
tap_is "$(log_count 'event=accept_paused')" 0 "no EMFILE: the milter's cap holds before negotiation"
hold_stop
prlimit --pid "$IT_PID_MAMORID" --nofile=200:1024 || bail "prlimit --pid failed"
hold 127.0.0.3 300 "$IT_DIR/hold4" || bail "the holder did not report"
diag "300 policy connections under a soft limit of 200: $(cat "$IT_DIR/hold4")"
thread_ticks >"$IT_DIR/ticks0"
python3 "$CLIENT" milter --sock "$MILTER_SOCK" --count 1 --report "$IT_DIR/milter3" --seconds 0
python3 "$CLIENT" policy --port "$POLICY_PORT" >"$out"
sleep 2
thread_ticks >"$IT_DIR/ticks1"
diag "milter meanwhile: $(cat "$IT_DIR/milter3"); a policy request meanwhile: $(cat "$out")"
diag "CPU ticks (1/100 s) per thread meanwhile: $(join "$IT_DIR/ticks0" "$IT_DIR/ticks1" |
	awk -v m="$IT_PID_MAMORID" '{ d = $3 - $2; if (d > 0)
		printf "%s:%d ", $1 == m ? "main" : "thread" $1, d }')"
tap_ok '[ "$(log_count "event=accept_paused service=policy")" -ge 1 ]' \
	"out of descriptors, the policy listener pauses accepting (logged)"
tap_ok '[ "$(log_count "event=accept_paused service=milter")" -ge 1 ]' \
	"out of descriptors, the milter listener pauses accepting (logged)"
hold_stop
prlimit --pid "$IT_PID_MAMORID" --nofile=1024:1024
tap_ok 'wait_for 30 policy_ok' "the flood over, a policy request is served again"
n=$(metric 'mamori_listener_accept_errors_total{service="policy"}')
tap_ok '[ "${n:-0}" -ge 1 ] && [ "${n:-0}" -le 40 ]' \
	"the policy listener paused, it did not spin: $n failed accepts in all"
n=$(metric 'mamori_listener_accept_errors_total{service="milter"}')
tap_ok '[ "${n:-0}" -ge 1 ] && [ "${n:-0}" -le 40 ]' \
	"the milter listener paused, it did not spin: $n failed accepts in all"
tap_ok 'wait_for 30 "python3 \"$CLIENT\" milter --sock \"$MILTER_SOCK\" --count 1 --report \"$out\" --seconds 0; grep -q admitted=1 \"$out\""' \
	"and a milter negotiation"
tap_ok 'postfix_ok l3' "and a message through Postfix"
tap_ok 'mamorid_running' "mamorid still runs"
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
