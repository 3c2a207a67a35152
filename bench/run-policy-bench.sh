#!/usr/bin/env bash
# run-policy-bench.sh - Postfix policy benchmark: mamorid against postfwd,
# both against the do-nothing responder (the ceiling), in one run.
#
# Starts on loopback: bench/null-policy (answers DUNNO, parses nothing),
# mamorid (temporary sqlite store, log_level = warn) and postfwd1 with
# bench/postfwd.cf (the same per-account limits).  For each server it
# measures throughput with THRU_CONNS (100) closed-loop connections and
# latency with LAT_CONNS (10), each after WARMUP s, for DURATION s, with
# ACCOUNTS distinct sasl_username values, and prints a markdown table.
# Why 100 and 10: bench/README.md (Little's law).
#
# Builds only through meson/ninja (bench tools, and mamorid if it builds);
# a mamorid that is missing or fails to build or start is reported as such
# and the rest still runs.  Installs postfwd with apt-get if it is missing.
# Pins nothing.  Kills everything it started on exit.  With the defaults the
# measuring part takes about 80 s (100 s with POSTFWD2=1).
#
# Environment (defaults): BUILD (<repo>/build), DURATION (10), WARMUP (2),
# ACCOUNTS (100000), THRU_CONNS (100), LAT_CONNS (10), BASE_PORT (20040),
# MAMORID (BUILD/src/daemon/mamorid, built with ninja), POSTFWD2 (0; 1 adds
# the preforking postfwd2 as a fourth server), ZIPF (0 = uniform accounts).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/bench-lib.sh"
. "$ROOT/bench/lib.sh"      # busy_ticks, cpu_busy_pct
bench_defaults              # BUILD DURATION WARMUP ACCOUNTS THRU_CONNS LAT_CONNS
BASE_PORT=${BASE_PORT:-20040}
POSTFWD2=${POSTFWD2:-0}
ZIPF=${ZIPF:-0}

log() { printf '%s\n' "$*" >&2; }

# PIDS: processes we started, killed by pid; PGIDS: process groups of
# daemons that fork (postfwd), killed by group.
bench_start mamori-bench

# ---- build ----------------------------------------------------------------

if [ ! -f "$BUILD/build.ninja" ]; then
    log "== meson setup $BUILD"
    meson setup "$BUILD" "$ROOT" >&2
fi
log "== ninja -C $BUILD bench/policy-load bench/null-policy"
ninja -C "$BUILD" bench/policy-load bench/null-policy >&2
LOAD=$BUILD/bench/policy-load
NULLP=$BUILD/bench/null-policy

MAMORID_STATUS=""
if [ -n "${MAMORID:-}" ]; then
    [ -x "$MAMORID" ] || MAMORID_STATUS="not built"
else
    MAMORID=$BUILD/src/daemon/mamorid
    # Build it if meson knows the target; never run a stale binary.
    if ninja -C "$BUILD" -t targets all 2>/dev/null |
            grep '^src/daemon/mamorid:' >/dev/null; then
        log "== ninja -C $BUILD src/daemon/mamorid"
        if ! ninja -C "$BUILD" src/daemon/mamorid >"$TMP/mamorid-build.log" 2>&1; then
            tail -n 20 "$TMP/mamorid-build.log" >&2
            MAMORID_STATUS="not built (build failed)"
        fi
    else
        MAMORID_STATUS="not built"
    fi
fi

# ---- postfwd ----------------------------------------------------------------

PF1=$(find_postfwd postfwd1)
if [ -z "$PF1" ]; then
    log "== postfwd missing: apt-get install -y postfwd"
    if DEBIAN_FRONTEND=noninteractive apt-get install -y postfwd >&2; then
        PF1=$(find_postfwd postfwd1)
    fi
fi
PF2=$(find_postfwd postfwd2)

# ---- helpers ----------------------------------------------------------------

# CPU ticks (user + system) of process PID, or with "group" of every
# process in process group PID (postfwd's forked children).
cpu_ticks() {
    local pid=$1 mode=${2:-pid} total=0 f s me
    local -a v
    for f in /proc/[0-9]*/stat; do
        read -r s 2>/dev/null <"$f" || continue
        # After the ")" closing the command name: v[0] state, v[1] ppid,
        # v[2] pgrp, v[11] utime, v[12] stime.
        read -r -a v <<<"${s##*) }"
        me=${f#/proc/}; me=${me%/stat}
        if [ "$me" = "$pid" ] || { [ "$mode" = group ] && [ "${v[2]}" = "$pid" ]; }; then
            total=$((total + v[11] + v[12]))
        fi
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

declare -A R       # R[name/conns/key] = value from the result line
declare -A STATUS  # STATUS[name] = "" (ran) or why not
SERVERS=()         # display order
declare -A PORT PID CPUMODE

# One measurement: NAME CONNS; stores the result fields in R.
measure() {
    local name=$1 conns=$2 port=${PORT[$1]} pid=${PID[$1]} line kv c0 c1 t0 t1 m0 m1
    local zopt=()
    [ "$ZIPF" != 0 ] && zopt=(-z "$ZIPF")
    log "== $name: $conns connections, ${WARMUP}s warmup + ${DURATION}s"
    m0=$(head -n 1 /proc/stat)
    c0=$(cpu_ticks "$pid" "${CPUMODE[$name]:-pid}"); t0=$(date +%s.%N)
    line=$(timeout $((${WARMUP%.*} + ${DURATION%.*} + 30)) \
        "$LOAD" -q -c "$conns" -w "$WARMUP" -d "$DURATION" -a "$ACCOUNTS" \
        "${zopt[@]}" -t 10 "127.0.0.1:$port" | grep '^result ') || true
    c1=$(cpu_ticks "$pid" "${CPUMODE[$name]:-pid}"); t1=$(date +%s.%N)
    m1=$(head -n 1 /proc/stat)
    if [ -z "$line" ]; then
        R[$name/$conns/rps]=""
        return
    fi
    log "   $line"
    R[$name/$conns/raw]=$line
    for kv in ${line#result }; do
        R[$name/$conns/${kv%%=*}]=${kv#*=}
    done
    R[$name/$conns/server_cpu]=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" \
        -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / (e - s) }')
    # Whatever else kept the CPUs busy during the row: machine minus server
    # minus load generator (approximate: the generator's share excludes warmup).
    R[$name/$conns/other_cpu]=$(awk -v m="$(busy_ticks "$m0" "$m1")" \
        -v hz="$CLK_TCK" -v s="$t0" -v e="$t1" -v srv="${R[$name/$conns/server_cpu]}" \
        -v cli="${R[$name/$conns/client_cpu_pct]:-0}" \
        'BEGIN { o = 100 * m / hz / (e - s) - srv - cli; printf "%.0f", o < 0 ? 0 : o }')
    if [ "${R[$name/$conns/other_cpu]}" -gt 15 ]; then
        NOISY="$NOISY $name/$conns"
    fi
}

# Start a server: NAME PORT, then the start command; records PID.
started() {
    local name=$1 port=$2 pid=$3
    PORT[$name]=$port
    PID[$name]=$pid
    if ! wait_port "$port" "$pid"; then
        STATUS[$name]="did not start"
        return 1
    fi
    # One request must be answered before we measure anything.
    if ! "$LOAD" -q -c 1 -n 1 -d 5 -t 5 -e 1 "127.0.0.1:$port" >/dev/null; then
        STATUS[$name]="no answer"
        return 1
    fi
    STATUS[$name]=""
    return 0
}

# ---- servers ----------------------------------------------------------------

SERVERS+=("null responder")
pick_port; p=$PORT_PICKED
"$NULLP" -T 900 "127.0.0.1:$p" 2>"$TMP/null-policy.log" &
PIDS+=($!)
started "null responder" "$p" "$!" || true

SERVERS+=("mamorid")
if [ -z "$MAMORID_STATUS" ]; then
    pick_port; p=$PORT_PICKED
    cat >"$TMP/mamorid.conf" <<EOF
# written by bench/run-policy-bench.sh
policy_listen = inet:127.0.0.1:$p
api_listen = unix:$TMP/mamorid-api.sock
auth_policy_listen =
store = sqlite:$TMP/mamorid-state.db
user =
log_level = warn
# No notices: with ZIPF accounts get restricted, and a local MTA on port 25
# would otherwise receive real mail for user...@example.test.
notify_smtp_url =
EOF
    bench_mamorid "$p"
else
    STATUS[mamorid]=$MAMORID_STATUS
fi

# postfwd1: one process (Net::Server::Multiplex).  --daemon is the only way
# to serve a socket (without it postfwd reads one request from stdin); it
# forks and calls setsid(), so we find it through --pidfile and stop its
# process group.  --perfmon: no syslog, no stdout.  --cache=0: no request
# cache (postfwd disables it anyway when a rule uses rate()); --nodns: the
# rules need no DNS.  --norulelog: no per-hit log line.
SERVERS+=("postfwd")
if [ -n "$PF1" ]; then
    pick_port; p=$PORT_PICKED
    "$PF1" --daemon --file "$ROOT/bench/postfwd.cf" --interface 127.0.0.1 \
        --port "$p" --user "$(id -un)" --group "$(id -gn)" \
        --pidfile "$TMP/postfwd.pid" --cache=0 --nodns --norulelog \
        --perfmon >"$TMP/postfwd.log" 2>&1 || true
    for _ in $(seq 1 50); do [ -s "$TMP/postfwd.pid" ] && break; sleep 0.1; done
    pfpid=$(cat "$TMP/postfwd.pid" 2>/dev/null || true)
    if [ -n "$pfpid" ]; then
        PGIDS+=("$pfpid")
        CPUMODE[postfwd]=group
        started "postfwd" "$p" "$pfpid" || true
    else
        STATUS[postfwd]="did not start"
    fi
else
    STATUS[postfwd]="not installed"
fi

# postfwd2 (optional): preforked policy children plus a cache daemon that
# holds the rate counters; one child per connection, so THRU_CONNS + 10.
if [ "$POSTFWD2" = 1 ]; then
    SERVERS+=("postfwd2")
    if [ -n "$PF2" ]; then
        pick_port; p=$PORT_PICKED
        "$PF2" --daemon --file "$ROOT/bench/postfwd.cf" \
            --server_socket "tcp:127.0.0.1:$p" \
            --cache_socket "unix::$TMP/postfwd2-cache.sock" \
            --user "$(id -un)" --group "$(id -gn)" \
            --pidfile "$TMP/postfwd2.pid" \
            --min_servers $((THRU_CONNS + 10)) --max_servers $((THRU_CONNS + 20)) \
            --min_spare_servers 5 --max_spare_servers $((THRU_CONNS + 10)) \
            --cache=0 --nodns --norulelog --perfmon \
            >"$TMP/postfwd2.log" 2>&1 || true
        for _ in $(seq 1 50); do [ -s "$TMP/postfwd2.pid" ] && break; sleep 0.1; done
        pfpid=$(cat "$TMP/postfwd2.pid" 2>/dev/null || true)
        if [ -n "$pfpid" ]; then
            PGIDS+=("$pfpid")
            CPUMODE[postfwd2]=group
            started "postfwd2" "$p" "$pfpid" || true
            sleep 2     # let the prefork pool fill
        else
            STATUS[postfwd2]="did not start"
        fi
    else
        STATUS[postfwd2]="not installed"
    fi
fi

# ---- measure ------------------------------------------------------------------

NOISY=""
BUSY_BEFORE=$(cpu_busy_pct)
[ "$BUSY_BEFORE" -gt 10 ] &&
    log "WARNING: the machine was ${BUSY_BEFORE}% busy before the run; numbers will be low"

for s in "${SERVERS[@]}"; do
    [ -n "${STATUS[$s]:-}" ] && continue
    measure "$s" "$THRU_CONNS"
    measure "$s" "$LAT_CONNS"
done

# ---- report -------------------------------------------------------------------

fmt_int() { awk -v v="$1" 'BEGIN { if (v == "") print "—"; else printf "%\047d\n", v }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "—"; else printf "%.1f%%\n", 100 * a / b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "—"; else printf "%.1f×\n", a / b }'; }

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dist="uniform"; [ "$ZIPF" != 0 ] && dist="Zipf s=$ZIPF"
echo
echo "## Policy benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), commit $commit)"
echo
echo "Closed loop on 127.0.0.1, ${WARMUP} s warmup + ${DURATION} s per row, $ACCOUNTS sasl_username values ($dist),"
echo "RCPT and END-OF-MESSAGE alternating (1 recipient per message); load generator and server share the cores."
echo "\"% of null responder\" is decisions/s against the do-nothing responder at the same connection count."
echo "CPU busy with other work just before the run: ${BUSY_BEFORE}% of all cores$([ "$BUSY_BEFORE" -gt 10 ] && echo ' (**too busy: numbers are low; rerun on a quiet machine**)')."
echo
echo "| server | conns | decisions/s | p50 µs | p99 µs | p99.9 µs | % of null responder |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for s in "${SERVERS[@]}"; do
    if [ -n "${STATUS[$s]:-}" ]; then
        echo "| $s | — | ${STATUS[$s]} | — | — | — | — |"
        continue
    fi
    for c in "$THRU_CONNS" "$LAT_CONNS"; do
        echo "| $s | $c | $(fmt_int "${R[$s/$c/rps]:-}") | $(fmt_int "${R[$s/$c/p50_us]:-}") | $(fmt_int "${R[$s/$c/p99_us]:-}") | $(fmt_int "${R[$s/$c/p999_us]:-}") | $(pct "${R[$s/$c/rps]:-}" "${R[null responder/$c/rps]:-}") |"
    done
done
echo
if [ -z "${STATUS[mamorid]:-}" ] && [ -z "${STATUS[postfwd]:-}" ]; then
    echo "mamori/postfwd: throughput at $THRU_CONNS conns $(ratio "${R[mamorid/$THRU_CONNS/rps]:-}" "${R[postfwd/$THRU_CONNS/rps]:-}"), decisions/s at $LAT_CONNS conns $(ratio "${R[mamorid/$LAT_CONNS/rps]:-}" "${R[postfwd/$LAT_CONNS/rps]:-}"); p99 at $LAT_CONNS conns: postfwd's is $(ratio "${R[postfwd/$LAT_CONNS/p99_us]:-}" "${R[mamorid/$LAT_CONNS/p99_us]:-}") mamori's."
else
    echo "mamori/postfwd: — (mamorid: ${STATUS[mamorid]:-ran}, postfwd: ${STATUS[postfwd]:-ran})"
fi
echo
echo "| server | conns | DUNNO | DEFER_IF_PERMIT | HOLD | REJECT | other | errors | server CPU % | load generator CPU % | other CPU % |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in "${SERVERS[@]}"; do
    [ -n "${STATUS[$s]:-}" ] && continue
    for c in "$THRU_CONNS" "$LAT_CONNS"; do
        echo "| $s | $c | ${R[$s/$c/dunno]:-—} | ${R[$s/$c/defer_if_permit]:-—} | ${R[$s/$c/hold]:-—} | ${R[$s/$c/reject]:-—} | ${R[$s/$c/other]:-—} | ${R[$s/$c/errors]:-—} | ${R[$s/$c/server_cpu]:-—} | ${R[$s/$c/client_cpu_pct]:-—} | ${R[$s/$c/other_cpu]:-—} |"
    done
done
echo
echo "CPU columns: 100% = one core; server over warmup + measurement, load generator over measurement,"
echo "other = everything else on the machine during the row (should be near 0)."
if [ -n "$NOISY" ]; then
    echo
    echo "**Other work used more than 15% of a core during:$NOISY.  Those rows are not representative; rerun on a quiet machine.**"
fi
echo
echo "Raw result lines:"
echo
echo '```'
for s in "${SERVERS[@]}"; do
    for c in "$THRU_CONNS" "$LAT_CONNS"; do
        [ -n "${R[$s/$c/raw]:-}" ] && echo "$s: ${R[$s/$c/raw]}"
    done
done
echo '```'
