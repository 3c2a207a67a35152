#!/usr/bin/env bash
#
# t-redis.sh - two mamorid sharing one Redis (store redis-sentinel:), with a
# replica and a Sentinel, all on loopback:
#
#   a. a Redis master and a replica (requirepass for replication and the
#      sentinel; mamorid logs in as the ACL user "mamori", allowed only the
#      keys and channels mamori:*, store_user + store_password_file) and one
#      Sentinel (quorum 1) with its own requirepass
#      (store_sentinel_password_file); mamorid A and B on the sentinel spec;
#      a mamorid without the sentinels' password does not start and says why
#   b. one limit for the fleet: msgs_per_hour = 10; a burst on A alone and a
#      burst split over A and B (alternating) are stopped at the same count
#   c. a restriction made through A is refused at RCPT by B at once, and B's
#      API shows it; an address blocked through A is listed by B at once,
#      and unblocked through B is gone from A; an incident opened through
#      A's auth-policy port (brute force) is listed by B
#   f. (run before d, which kills the master) the login counters for the
#      fleet (auth_bruteforce_failures = 2): a
#      brute force through A alone and one split over A's and B's
#      auth-policy ports (Dovecot's protocol: allow, then report) are
#      blocked at the same attempt; the split one is one incident, listed
#      once by both, with the accounts each host saw from the address;
#      Redis holds no login or address as such (keyed hashes)
#   d. the master is killed (kill -9) during load on both: every answer is
#      DUNNO or a 4xx (Postfix keeps the mail and retries: nothing lost),
#      never a 5xx or a dropped connection; Sentinel promotes the replica,
#      both mamorid follow (event=store_failover) and answer DUNNO again;
#      the restriction still holds on both
#   e. Redis stopped: store_failure_action (defer: 4.3.0) answers, counted in
#      /metrics and logged (event=store_down); a login failure cannot reach
#      the fleet's counts: logged, and (defer) that address is delayed, a
#      clean one not; Redis started again: both answer DUNNO again
#      (event=store_up), the restriction still holds
#
# The policy requests come from test/integration/policy-load.py (Postfix's
# policy protocol on mamorid's real listener): with two policy services
# Postfix would only add the SMTP dialogue around the same answers.
# Skipped (TAP skip) when redis-server is not installed.  Every loop and
# wait is bounded; about 50 s.
set -u
. "$(dirname "$0")/lib.sh"

LOAD=$IT_LIB_DIR/policy-load.py
REDIS_PW=redis-fleet-pw-7f3a		# the default user: replication, sentinel
MAMORI_PW=redis-acl-mamori-pw-91c2	# the ACL user mamori (mamorid)
SEN_PW=redis-sentinel-pw-5d0e		# the sentinel's requirepass
IT_SECRETS+=("$REDIS_PW" "$MAMORI_PW" "$SEN_PW")

[ -x "$MAMORID_BIN" ] || bail "no mamorid at $MAMORID_BIN"
it_init
if ! command -v redis-server >/dev/null 2>&1; then
	tap_skip 1 "redis-server is not installed (scripts/install-deps)"
	tap_done
	exit $?
fi

# shellcheck disable=SC2046
set -- $(free_ports 7)
R1_PORT=$1 R2_PORT=$2 SEN_PORT=$3 PA=$4 PB=$5 APA=$6 APB=$7
R_DIR=$IT_DIR/redis
mkdir -p "$R_DIR/r1" "$R_DIR/r2" "$R_DIR/sen" "$IT_DIR/a" "$IT_DIR/b"
printf '%s\n' "$MAMORI_PW" >"$R_DIR/password"
printf '%s\n' "$SEN_PW" >"$R_DIR/sentinel-password"
chmod 0600 "$R_DIR/password" "$R_DIR/sentinel-password"
R1_PID= R2_PID= SEN_PID= A_PID= B_PID=
A_API=$IT_DIR/a/api.sock B_API=$IT_DIR/b/api.sock
A_LOG=$IT_DIR/a/mamorid.log B_LOG=$IT_DIR/b/mamorid.log
MAMORI_LOG=$A_LOG	# tap_done looks for sanitizer reports here

redis_cleanup() {
	stop_pid "$A_PID" 10
	stop_pid "$B_PID" 10
	stop_pid "$SEN_PID" 5
	stop_pid "$R1_PID" 5
	stop_pid "$R2_PID" 5
}
trap 'rc=$?; redis_cleanup; (exit $rc); it_cleanup' EXIT

# redis_start NAME PORT [ARGS...]: a redis-server on 127.0.0.1:PORT in
# $R_DIR/NAME (append-only file, so a restart keeps its data); pid in
# NAME_PID (R1_PID, R2_PID).
redis_start() {
	local name=$1 port=$2 pid
	shift 2
	redis-server --port "$port" --bind 127.0.0.1 --daemonize no \
		--dir "$R_DIR/$name" --logfile "$R_DIR/$name/redis.log" \
		--save '' --appendonly yes --appendfsync always \
		--requirepass "$REDIS_PW" --masterauth "$REDIS_PW" \
		--user mamori on ">$MAMORI_PW" '~mamori:*' '&mamori:*' \
		'+@all' '-@dangerous' '+role' "$@" \
		>/dev/null 2>&1 &
	pid=$!
	disown "$pid"
	case $name in r1) R1_PID=$pid ;; r2) R2_PID=$pid ;; esac
	wait_port 127.0.0.1 "$port" 10
}

rcli() {
	local port=$1
	shift
	timeout 5 redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning \
		-a "$REDIS_PW" "$@" 2>/dev/null
}

sentinel_start() {
	cat >"$R_DIR/sen/sentinel.conf" <<EOF
port $SEN_PORT
bind 127.0.0.1
daemonize no
dir $R_DIR/sen
logfile $R_DIR/sen/sentinel.log
requirepass $SEN_PW
sentinel monitor mm 127.0.0.1 $R1_PORT 1
sentinel auth-pass mm $REDIS_PW
sentinel down-after-milliseconds mm 1000
sentinel failover-timeout mm 4000
sentinel parallel-syncs mm 1
EOF
	if command -v redis-sentinel >/dev/null 2>&1; then
		redis-sentinel "$R_DIR/sen/sentinel.conf" >/dev/null 2>&1 &
	else
		redis-server "$R_DIR/sen/sentinel.conf" --sentinel >/dev/null 2>&1 &
	fi
	SEN_PID=$!
	disown "$SEN_PID"
	wait_port 127.0.0.1 "$SEN_PORT" 10
}

# sentinel_master: "HOST PORT" of the master as the sentinel says.
sentinel_master() {
	timeout 5 redis-cli -h 127.0.0.1 -p "$SEN_PORT" --no-auth-warning \
		-a "$SEN_PW" SENTINEL get-master-addr-by-name mm 2>/dev/null | tr '\n' ' ' | sed 's/ $//'
}

# conf_write DIR PORT AUTHPORT: mamorid's config for one instance.
conf_write() {
	cat >"$1/mamori.conf" <<EOF
# t-redis.sh: one of two mamorid sharing a Redis
policy_listen = inet:127.0.0.1:$2
api_listen = unix:$1/api.sock
auth_policy_listen = inet:127.0.0.1:$3
store = redis-sentinel:mm@127.0.0.1:$SEN_PORT
store_user = mamori
store_password_file = $R_DIR/password
store_sentinel_password_file = $R_DIR/sentinel-password
store_timeout_ms = 500
store_failure_action = defer
fleet_fast_age = 1
auth_bruteforce_failures = 2
user =
log_level = info
local_domains = example.test
notify_smtp_url = smtp://127.0.0.1:9
[class default]
mode = enforce
msgs_per_minute = 1000
msgs_per_hour = 10
restrict_action = reject
EOF
}

# mamorid_at DIR PORT LOG: start one instance; its pid on stdout.
mamorid_at() {
	local pid
	"$MAMORID_BIN" -c "$1/mamori.conf" 2>>"$3" >/dev/null &
	pid=$!
	disown "$pid"
	wait_port 127.0.0.1 "$2" 20 && wait_until 10 test -S "$1/api.sock" || return 1
	echo "$pid"
}

cli() {
	local api=$1
	shift
	timeout 30 "$MAMORI_BIN" -s "$api" "$@"
}

state_at() {
	cli "$1" --json account show "$2" 2>/dev/null | json_get state
}

one() { timeout 20 python3 "$LOAD" one "$@"; }

metric() {
	timeout 10 curl -s --unix-socket "$1" http://mamori/metrics 2>/dev/null |
		awk -v m="$2" '$1 == m { print $2 }'
}

# ---------------------------------------------------------------- a. start

redis_start r1 "$R1_PORT" || bail "redis master did not start"
redis_start r2 "$R2_PORT" --replicaof 127.0.0.1 "$R1_PORT" || bail "redis replica did not start"
wait_for 15 'rcli "$R2_PORT" INFO replication | grep -q "master_link_status:up"' ||
	bail "the replica did not sync"
sentinel_start || bail "sentinel did not start"
wait_for 15 '[ "$(sentinel_master)" = "127.0.0.1 $R1_PORT" ]' || bail "sentinel does not see the master"
tap_is "$(sentinel_master)" "127.0.0.1 $R1_PORT" "a. the sentinel names the master"

# The sentinel wants a password: without it mamorid refuses to start.
mkdir -p "$IT_DIR/nopw"
conf_write "$IT_DIR/nopw" "$PA" "$APA"
sed -i '/^store_sentinel_password_file/d' "$IT_DIR/nopw/mamori.conf"
timeout 20 "$MAMORID_BIN" -c "$IT_DIR/nopw/mamori.conf" >"$IT_DIR/nopw/log" 2>&1
nopw_rc=$?
diag "without the sentinels' password: rc=$nopw_rc, $(grep -m1 store_down "$IT_DIR/nopw/log")"
tap_ok '[ "$nopw_rc" -ne 0 ] && [ "$nopw_rc" -ne 124 ] && grep -q "why=\"sentinel wants a password\"\|why=sentinel wants a password" "$IT_DIR/nopw/log"' \
	"a. without store_sentinel_password_file mamorid does not start: the sentinel wants a password"
tap_ok '! grep -qe "$SEN_PW" -e "$MAMORI_PW" "$IT_DIR/nopw/log"' "a. ... and no password is logged"
conf_write "$IT_DIR/a" "$PA" "$APA"
conf_write "$IT_DIR/b" "$PB" "$APB"
tap_cmd "a. mamorid -t accepts the redis-sentinel config" "$MAMORID_BIN" -t -c "$IT_DIR/a/mamori.conf"
A_PID=$(mamorid_at "$IT_DIR/a" "$PA" "$A_LOG") || bail "mamorid A did not start"
B_PID=$(mamorid_at "$IT_DIR/b" "$PB" "$B_LOG") || bail "mamorid B did not start"
tap_ok '[ -n "$A_PID" ] && [ -n "$B_PID" ]' "a. mamorid A (policy $PA) and B (policy $PB) run"

# ---------------------------------------------------------------- b. one limit

# Away from the turn of the hour: the hour window would start afresh.
while [ "$(date +%M%S)" -ge 5955 ]; do sleep 1; done
timeout 60 python3 "$LOAD" burst "$PA" solo@example.test 16 >"$IT_DIR/solo.out"
timeout 60 python3 "$LOAD" burst "$PA,$PB" split@example.test 16 >"$IT_DIR/split.out"
solo=$(sed -n 's/^accepted=//p' "$IT_DIR/solo.out")
split=$(sed -n 's/^accepted=//p' "$IT_DIR/split.out")
split_b=$(grep -c "port=$PB rcpt=DUNNO eom=DUNNO" "$IT_DIR/split.out")
diag "accepted: one mamorid $solo, split over two $split (B took $split_b)"
tap_is "$solo" 10 "b. one mamorid stops the burst at msgs_per_hour (10)"
tap_is "$split" "$solo" "b. split over A and B the fleet stops it at the same count"
tap_ok '[ "$split_b" -ge 4 ]' "b. ... B accepted its share ($split_b), so both counted"
tap_ok '! grep -v "^accepted" "$IT_DIR/split.out" | grep -qvE "rcpt=(DUNNO|DEFER_IF_PERMIT_4)"' \
	"b. refusals of the split burst are 4xx deferrals"
tap_is "$(state_at "$B_API" split@example.test)" throttled "b. B sees the account throttled"

# ---------------------------------------------------------------- c. restriction

tap_cmd "c. A restricts victim@example.test" \
	cli "$A_API" account restrict victim@example.test --reason "t-redis: abuse desk"
ans=$(one "$PB" victim@example.test RCPT)
diag "B answered: $ans"
tap_ok '[[ "$ans" == REJECT* ]]' "c. B refuses the restricted account at RCPT at once"
tap_is "$(state_at "$B_API" victim@example.test)" restricted "c. B's API shows it restricted"
tap_ok 'grep -q "mamori_fleet_notices_total [1-9]" <(timeout 10 curl -s --unix-socket "$B_API" http://mamori/metrics)' \
	"c. B counted the notice (mamori_fleet_notices_total)"

listed() { cli "$1" --json ips 2>/dev/null | grep -q '"203.0.113.7"'; }
tap_cmd "c. A blocks 203.0.113.7" \
	cli "$A_API" ips block 203.0.113.7 --reason "t-redis: stuffing" --force
tap_ok 'wait_until 2 listed "$B_API"' "c. B lists the block at once"
tap_cmd "c. B unblocks it" cli "$B_API" ips unblock 203.0.113.7
tap_ok 'wait_until 2 eval "! listed \"\$A_API\"" && grep -q "event=login_unblock ip=203.0.113.7 actor=another_host" "$A_LOG"' "c. A no longer lists it (event=login_unblock actor=another_host)"

# report PORT IP LOGIN PWHASH: a failed login reported to one auth-policy port.
report() {
	timeout 5 curl -s -X POST -H 'Content-Type: application/json' \
		"http://127.0.0.1:$1/?command=report" \
		--data "{\"login\":\"$3\",\"pwhash\":\"$4\",\"remote\":\"$2\",\"protocol\":\"imap\",\"success\":false,\"policy_reject\":false,\"tls\":true}" \
		>/dev/null
}
# Eight wrong passwords (distinct pwhash): past twice auth_bruteforce_failures
# even if two share a bit of the estimate.
for h in a1 b2 c3 d4 e5 f6 07 18; do report "$APA" 198.51.100.9 guessed@example.test "$h"; done
inc_a=$(cli "$A_API" --json incidents 2>/dev/null | grep -o '"inc-[0-9]*-[0-9]*"' | head -1)
diag "A opened incident $inc_a"
tap_ok '[ -n "$inc_a" ]' "c. brute force through A's auth-policy port opens an incident on A"
tap_ok '[ -n "$inc_a" ] && cli "$B_API" --json incidents 2>/dev/null | grep -q "$inc_a"' \
	"c. B lists A's incident (incidents are listed from the shared store)"

# ---------------------------------------------------------------- f. logins

# allow PORT IP LOGIN PWHASH: Dovecot's before-check; the status on stdout.
allow() {
	timeout 5 curl -s -X POST -H 'Content-Type: application/json' \
		"http://127.0.0.1:$1/?command=allow" \
		--data "{\"login\":\"$3\",\"pwhash\":\"$4\",\"remote\":\"$2\",\"protocol\":\"imap\",\"tls\":true}" |
		json_get status
}
# guess PORTS IP LOGIN N: N wrong passwords, attempt i on the i-th port of
# PORTS (comma-separated, in turn), as Dovecot asks (allow, then report;
# a refused one is reported as policy_reject).  Prints the first attempt
# (from 0) the before-check refused, or -1.
guess() {
	local ports=(${1//,/ }) i st port first=-1
	for ((i = 0; i < $4; i++)); do
		port=${ports[i % ${#ports[@]}]}
		st=$(allow "$port" "$2" "$3" "p$i")
		if [ "${st:-0}" -lt 0 ]; then
			[ "$first" -ge 0 ] || first=$i
			timeout 5 curl -s -X POST -H 'Content-Type: application/json' \
				"http://127.0.0.1:$port/?command=report" \
				--data "{\"login\":\"$3\",\"pwhash\":\"p$i\",\"remote\":\"$2\",\"protocol\":\"imap\",\"success\":false,\"policy_reject\":true,\"tls\":true}" >/dev/null
		else
			report "$port" "$2" "$3" "p$i"
		fi
		# Dovecot's next login comes later than the fleet's answer (ms).
		sleep 0.2
	done
	echo "$first"
}
solo_at=$(guess "$APA" 192.0.2.60 solo-guess@example.test 10)
split_at=$(guess "$APA,$APB" 192.0.2.61 split-guess@example.test 10)
diag "brute force refused from attempt: one mamorid $solo_at, split over two $split_at"
tap_ok '[ "$solo_at" -gt 0 ]' "f. one mamorid blocks the brute force (from attempt $solo_at)"
tap_is "$split_at" "$solo_at" "f. split over A's and B's auth-policy ports: blocked at the same attempt"
# What each host sees from the address afterwards goes into the one incident.
guess "$APB" 192.0.2.61 late-b@example.test 1 >/dev/null
guess "$APA" 192.0.2.61 late-a@example.test 1 >/dev/null
inc_of() {	# the incidents naming 192.0.2.61, as host API $1 lists them
	cli "$1" --json incidents 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)
v = v.get("incidents", v) if isinstance(v, dict) else v
print(" ".join(sorted(i["id"] for i in v
                      if "192.0.2.61" in i.get("addresses", []))))'
}
ia=$(inc_of "$A_API") ib=$(inc_of "$B_API")
diag "incident of 192.0.2.61: A lists \"$ia\", B lists \"$ib\""
tap_ok '[ -n "$ia" ] && [ "$ia" = "$ib" ] && [ "${ia// /}" = "$ia" ]' \
	"f. one incident for the split attack, listed once by both"
sleep 6	# accounts only tried are written every 5 s
shown=$(cli "$A_API" --json incidents show "$ia" 2>/dev/null)
tap_ok 'grep -q split-guess@example.test <<<"$shown" && grep -q late-a@example.test <<<"$shown" && grep -q late-b@example.test <<<"$shown"' \
	"f. it holds the accounts both hosts saw"
tap_ok '! rcli "$(sentinel_master | cut -d" " -f2)" --scan --pattern "mamori:n:*" | grep -qE "192\.0\.2|guess"' \
	"f. Redis holds the login counters under hashed keys only"
tap_ok 'rcli "$(sentinel_master | cut -d" " -f2)" --scan --pattern "mamori:n:*" | grep -q .' \
	"f. ... and holds them"
# A sent each failure of its brute force until the block, B its share of the split one.
tap_ok '[ "$(metric "$A_API" mamori_login_fleet_calls_total)" -ge "$solo_at" ] && [ "$(metric "$B_API" mamori_login_fleet_calls_total)" -ge 1 ]' \
	"f. /metrics counts the login counts sent (mamori_login_fleet_calls_total A $(metric "$A_API" mamori_login_fleet_calls_total), B $(metric "$B_API" mamori_login_fleet_calls_total))"
tap_ok '[ "$(metric "$A_API" mamori_login_fleet_failures_total)" = 0 ] && [ "$(metric "$A_API" mamori_login_fleet_pending)" = 0 ]' \
	"f. ... none failed, none waiting (mamori_login_fleet_failures_total, mamori_login_fleet_pending)"

# ---------------------------------------------------------------- d. failover

timeout 60 python3 "$LOAD" load "$PA,$PB" during 12 >"$IT_DIR/load.out" &
load_pid=$!
sleep 2
kill -KILL "$R1_PID"
R1_PID=
diag "killed the master at $(date +%T)"
promoted() { [ "$(sentinel_master)" = "127.0.0.1 $R2_PORT" ]; }
tap_ok 'wait_until 20 promoted' "d. the sentinel promoted the replica"
wait "$load_pid"
diag "load: $(head -1 "$IT_DIR/load.out")"
sed -n '2,$p' "$IT_DIR/load.out" | sed 's/^/#   /'
tap_ok 'grep -qE " reject=0 " "$IT_DIR/load.out"' "d. no 5xx during the failover"
tap_ok 'grep -qE " errors=0 " "$IT_DIR/load.out" && grep -qE " other=0 " "$IT_DIR/load.out"' \
	"d. no dropped connection and no unexpected answer"
tap_ok '! grep "^action " "$IT_DIR/load.out" | grep -vq " DEFER_IF_PERMIT 4"' \
	"d. every refusal was a 4xx deferral (the client keeps the message)"
tap_ok 'grep -qE "dunno=[1-9]" "$IT_DIR/load.out"' "d. answers went on"
followed() {
	[ "$(one "$PA" after-a@example.test RCPT)" = DUNNO ] &&
		[ "$(one "$PB" after-b@example.test RCPT)" = DUNNO ]
}
tap_ok 'wait_until 20 followed' "d. both mamorid answer DUNNO on the new master"
tap_ok 'grep -q "event=store_failover" "$A_LOG" && grep -q "event=store_failover" "$B_LOG"' \
	"d. both logged event=store_failover"
tap_ok '[ "$(metric "$A_API" mamori_store_failovers_total)" -ge 1 ] && [ "$(metric "$B_API" mamori_store_failovers_total)" -ge 1 ]' \
	"d. /metrics counts it (mamori_store_failovers_total $(metric "$A_API" mamori_store_failovers_total))"
tap_ok '[ "$(metric "$A_API" "mamori_store_operations_total{op=\"window\"}")" -ge 20 ]' \
	"d. /metrics counts the counters' round trips (op=window: $(metric "$A_API" "mamori_store_operations_total{op=\"window\"}"))"
tap_ok '[[ "$(one "$PA" victim@example.test RCPT)" == REJECT* ]] &&
	[[ "$(one "$PB" victim@example.test RCPT)" == REJECT* ]]' \
	"d. the restriction still holds on both after the failover"

# ---------------------------------------------------------------- e. outage

stop_pid "$R2_PID" 5
R2_PID=
ans=$(one "$PA" outage@example.test RCPT)
diag "with Redis stopped A answered: $ans"
tap_ok '[[ "$ans" == "DEFER_IF_PERMIT 4.3.0"* ]]' \
	"e. Redis stopped: store_failure_action (defer, 4.3.0) answers"
tap_ok '[ "$(metric "$A_API" mamori_fleet_failures_total)" -ge 1 ]' \
	"e. counted (mamori_fleet_failures_total $(metric "$A_API" mamori_fleet_failures_total))"
tap_ok 'grep -q "event=store_down store=redis.* retry_ms=100 retry_max_ms=5000" "$A_LOG"' \
	"e. logged event=store_down, with the reconnect backoff (retry_ms, retry_max_ms)"
tap_ok '[ "$(metric "$A_API" mamori_store_down_total)" -ge 1 ]' \
	"e. /metrics counts it (mamori_store_down_total $(metric "$A_API" mamori_store_down_total))"
tap_ok 'grep -q "event=store_down store=redis" "$A_LOG"' "e. logged event=store_down"
report "$APA" 192.0.2.90 outage-login@example.test e1
st=$(allow "$APA" 192.0.2.90 outage-login@example.test e2)
tap_ok '[ "${st:-0}" -gt 0 ] && grep -q "event=login_fleet_unavailable" "$A_LOG"' \
	"e. logins: the fleet's counts unavailable, logged; an address failing on A is delayed (status $st)"
tap_ok '[ "$(metric "$A_API" mamori_login_fleet_failures_total)" -ge 1 ]' \
	"e. logins: /metrics counts it (mamori_login_fleet_failures_total $(metric "$A_API" mamori_login_fleet_failures_total))"
tap_is "$(allow "$APA" 192.0.2.91 clean-login@example.test e3)" 0 \
	"e. logins: a clean address is not"
tap_ok 'kill -0 "$A_PID" && kill -0 "$B_PID"' "e. both mamorid still run"
redis_start r2 "$R2_PORT" || bail "redis did not restart"
recovered() {
	[ "$(one "$PA" back-a@example.test RCPT)" = DUNNO ] &&
		[ "$(one "$PB" back-b@example.test RCPT)" = DUNNO ]
}
tap_ok 'wait_until 30 recovered' "e. Redis back: both answer DUNNO again"
tap_ok 'grep -q "event=store_up store=redis" "$A_LOG"' "e. logged event=store_up"
tap_ok '[[ "$(one "$PB" victim@example.test RCPT)" == REJECT* ]] &&
	[ "$(state_at "$A_API" victim@example.test)" = restricted ]' \
	"e. the restriction is still there after the recovery"

if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$B_LOG"; then
	tap_ok false "B's log holds no sanitizer report"
else
	tap_ok true "B's log holds no sanitizer report"
fi
tap_done
