#!/usr/bin/env bash
# run-fleet-bench.sh - policy decisions on the fleet store: mamorid on
# redis: beside mamorid on sqlite: and the do-nothing responder, in one run;
# then two mamorid sharing one Redis, loaded at once.
#
# Starts on loopback: bench/null-policy, a private redis-server (unix
# socket, no persistence: the benchmark measures mamori, not the disk),
# mamorid on sqlite (temporary file), mamorid A on redis:, and mamorid B on
# the same Redis.  Rows (bench/policy-load, RCPT and END-OF-MESSAGE
# alternating, ACCOUNTS accounts): each single server at THRU_CONNS (100)
# and LAT_CONNS (10) connections; "A+B" runs two load generators at once,
# half the connections each, and adds their decisions/s (p99: the worse of
# the two).  Limits are raised so no account is throttled: the rows measure
# the counting path (RCPT reads the fleet's windows unless fleet_fast_age
# allows the copy, END-OF-MESSAGE counts atomically in Redis).
#
# Environment (defaults): BUILD (<repo>/build), DURATION (10), WARMUP (2),
# ACCOUNTS (100000), THRU_CONNS (100), LAT_CONNS (10), BASE_PORT (20140),
# FAST_AGE (1: fleet_fast_age of the redis mamorids).  Kills everything it
# started on exit.  About 2 minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/bench-lib.sh"
. "$ROOT/bench/lib.sh"
bench_defaults          # BUILD DURATION WARMUP ACCOUNTS THRU_CONNS LAT_CONNS
BASE_PORT=${BASE_PORT:-20140}
FAST_AGE=${FAST_AGE:-1}

log() { printf '%s\n' "$*" >&2; }

bench_start mamori-fleet-bench

command -v redis-server >/dev/null || { log "redis-server is not installed"; exit 1; }
ninja -C "$BUILD" bench/policy-load bench/null-policy src/daemon/mamorid >&2
LOAD=$BUILD/bench/policy-load
NULLP=$BUILD/bench/null-policy
MAMORID=$BUILD/src/daemon/mamorid

# ---- servers ----------------------------------------------------------------

declare -A PORT R
pick_port; PORT[null]=$PORT_PICKED
"$NULLP" -T 900 "127.0.0.1:${PORT[null]}" 2>"$TMP/null.log" &
PIDS+=($!)
wait_port "${PORT[null]}" "$!"

redis-server --port 0 --unixsocket "$TMP/redis.sock" --save '' \
    --appendonly no --dir "$TMP" --logfile "$TMP/redis.log" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [ -S "$TMP/redis.sock" ] && break; sleep 0.1; done

# mamorid_conf NAME STORE: a config whose limits no account reaches.
mamorid_start() {
    local name=$1 store=$2 pid
    pick_port; PORT[$name]=$PORT_PICKED
    cat >"$TMP/$name.conf" <<EOF
# written by bench/run-fleet-bench.sh
policy_listen = inet:127.0.0.1:${PORT[$name]}
api_listen = unix:$TMP/$name-api.sock
auth_policy_listen =
store = $store
user =
log_level = warn
notify_smtp_url =
fleet_fast_age = $FAST_AGE
[class default]
msgs_per_minute = 1000000
msgs_per_hour = 1000000
ext_rcpts_per_hour = 1000000
int_rcpts_per_hour = 1000000
rcpts_per_day = 1000000
EOF
    "$MAMORID" -c "$TMP/$name.conf" >"$TMP/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_port "${PORT[$name]}" "$pid" || { log "$name did not start:"; tail "$TMP/$name.log" >&2; exit 1; }
}
mamorid_start sqlite "sqlite:$TMP/state.db"
mamorid_start redis-a "redis:unix:$TMP/redis.sock"
mamorid_start redis-b "redis:unix:$TMP/redis.sock"

# ---- measure ------------------------------------------------------------------

# run NAME CONNS PORT...: one row; with two ports, two generators at once.
run() {
    local name=$1 conns=$2 per i line kv rps=0 p50=0 p99=0 err=0 g
    local -a gens=()
    shift 2
    per=$((conns / $#))
    log "== $name: $conns connections"
    i=0
    for p in "$@"; do
        timeout $((${WARMUP%.*} + ${DURATION%.*} + 30)) "$LOAD" -q -c "$per" \
            -w "$WARMUP" -d "$DURATION" -a "$ACCOUNTS" -t 10 \
            "127.0.0.1:$p" >"$TMP/row.$i" 2>&1 &
        gens+=($!)
        i=$((i + 1))
    done
    for g in "${gens[@]}"; do wait "$g" || true; done
    for ((i = 0; i < $#; i++)); do
        line=$(grep '^result ' "$TMP/row.$i" || true)
        log "   $line"
        declare -A f=()
        for kv in ${line#result }; do f[${kv%%=*}]=${kv#*=}; done
        rps=$((rps + ${f[rps]:-0}))
        [ "${f[p50_us]:-0}" -gt "$p50" ] && p50=${f[p50_us]}
        [ "${f[p99_us]:-0}" -gt "$p99" ] && p99=${f[p99_us]}
        err=$((err + ${f[errors]:-0} + ${f[defer_if_permit]:-0} + ${f[reject]:-0}))
    done
    R[$name/$conns]="$rps $p50 $p99 $err"
}

BUSY=$(cpu_busy_pct)
for c in "$THRU_CONNS" "$LAT_CONNS"; do
    run "null responder" "$c" "${PORT[null]}"
    run "mamorid sqlite:" "$c" "${PORT[sqlite]}"
    run "mamorid redis:" "$c" "${PORT[redis-a]}"
    run "2 mamorid, one Redis (A+B)" "$c" "${PORT[redis-a]}" "${PORT[redis-b]}"
done

# ---- report -------------------------------------------------------------------

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
echo "## Fleet store benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, commit $commit)"
echo
echo "Closed loop on 127.0.0.1, ${WARMUP} s warmup + ${DURATION} s a row, $ACCOUNTS accounts, RCPT and"
echo "END-OF-MESSAGE alternating; redis-server on a unix socket without persistence; fleet_fast_age = $FAST_AGE."
echo "Load generators, mamorid(s) and Redis share the cores.  CPU busy before the run: ${BUSY}%."
echo
echo "| server | conns | decisions/s | p50 µs | p99 µs | refused or errors | % of null responder |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for c in "$THRU_CONNS" "$LAT_CONNS"; do
    for s in "null responder" "mamorid sqlite:" "mamorid redis:" "2 mamorid, one Redis (A+B)"; do
        read -r rps p50 p99 err <<<"${R[$s/$c]}"
        read -r nrps _ <<<"${R[null responder/$c]}"
        echo "| $s | $c | $rps | $p50 | $p99 | $err | $(awk -v a="$rps" -v b="$nrps" 'BEGIN { printf "%.1f%%", b ? 100 * a / b : 0 }') |"
    done
done
