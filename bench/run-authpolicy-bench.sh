#!/usr/bin/env bash
# run-authpolicy-bench.sh - Dovecot auth-policy benchmark: mamorid's
# auth_policy_listen endpoint against a do-nothing HTTP responder (the
# ceiling), in one run, with wrk and bench/authpolicy.lua.
#
# Starts on loopback: bench/null-authpolicy (answers every request with
# {"status":0,"msg":""}, parses nothing) and mamorid (temporary sqlite
# store, log_level = warn, no notices).  For each it measures throughput
# with THRU_CONNS (100) keep-alive connections and latency with LAT_CONNS
# (10), each for DURATION s after a separate WARMUP s run, and prints a
# markdown table.  The traffic is what Dovecot 2.3 sends with its default
# auth_policy_* settings plus mech=%m: allow (before the password check),
# allow again when the password was right, report; 90 % right passwords,
# LOGINS distinct logins from ADDRS addresses (see bench/authpolicy.lua).
# Each HTTP request is one decision; a login attempt is 2.9 of them.
#
# wrk and the servers share the machine's cores (like Dovecot and mamorid
# on one host); set PIN=1 to pin the server to CPU 0 and wrk to the rest.
# Installs wrk with apt-get if it is missing.  Builds mamorid with ninja
# and null-authpolicy with ninja if meson knows the target
# (bench/null-authpolicy), else with cc into the temp dir.  Kills
# everything it started (by pid) on exit.  About 70 s with the defaults.
#
# Environment (defaults): BUILD (<repo>/build), DURATION (10), WARMUP (2),
# THRU_CONNS (100), LAT_CONNS (10), THREADS (cores, at most conns), LOGINS
# (100000), ADDRS (4000), FAIL_PCT (10), MOBILE_PCT (5), PIN (0), MAMORID
# (BUILD/src/daemon/mamorid), MAMORI (BUILD/src/cli/mamori).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/bench-lib.sh"  # bench_defaults, bench_start, wait_port
. "$ROOT/bench/lib.sh"        # busy_ticks, cpu_busy_pct
bench_defaults                # BUILD DURATION WARMUP THRU_CONNS LAT_CONNS
LOGINS=${LOGINS:-100000}
ADDRS=${ADDRS:-4000}
FAIL_PCT=${FAIL_PCT:-10}
MOBILE_PCT=${MOBILE_PCT:-5}
PIN=${PIN:-0}
NCPU=$(nproc)
LUA=$ROOT/bench/authpolicy.lua

log() { printf '%s\n' "$*" >&2; }

bench_start mamori-apbench

# ---- tools --------------------------------------------------------------------

if ! command -v wrk >/dev/null; then
    log "== wrk missing: apt-get install -y wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2
fi
WRK=$(command -v wrk)

if [ ! -f "$BUILD/build.ninja" ]; then
    log "== meson setup $BUILD"
    meson setup "$BUILD" "$ROOT" >&2
fi
if ninja -C "$BUILD" -t targets all 2>/dev/null | grep '^bench/null-authpolicy:' >/dev/null; then
    log "== ninja -C $BUILD bench/null-authpolicy"
    ninja -C "$BUILD" bench/null-authpolicy >&2
    NULLP=$BUILD/bench/null-authpolicy
else
    log "== cc bench/null-authpolicy.c (no meson target yet)"
    ${CC:-cc} -std=c11 -O2 -Wall -Wextra -o "$TMP/null-authpolicy" \
        "$ROOT/bench/null-authpolicy.c" >&2
    NULLP=$TMP/null-authpolicy
fi

MAMORID_STATUS=""
MAMORID=${MAMORID:-$BUILD/src/daemon/mamorid}
MAMORI=${MAMORI:-$BUILD/src/cli/mamori}
if [ "$MAMORID" = "$BUILD/src/daemon/mamorid" ]; then
    log "== ninja -C $BUILD src/daemon/mamorid src/cli/mamori"
    if ! ninja -C "$BUILD" src/daemon/mamorid src/cli/mamori >"$TMP/build.log" 2>&1; then
        tail -n 20 "$TMP/build.log" >&2
        MAMORID_STATUS="not built (build failed)"
    fi
fi
[ -z "$MAMORID_STATUS" ] && [ ! -x "$MAMORID" ] && MAMORID_STATUS="not built"

# ---- helpers ------------------------------------------------------------------

# N free TCP ports on 127.0.0.1 (held open together, so distinct).
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ss.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))
EOF
}

# One Dovecot-like request; prints the reply body.
probe() {
    python3 - "$1" <<'EOF'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
b = ('{"device_id":"","login":"probe@example.test","mech":"PLAIN",'
     '"protocol":"imap","pwhash":"0abc","remote":"192.0.2.1",'
     '"session_id":"probe0000000001","tls":false}')
c.request("POST", "/auth-policy?command=allow", b,
          {"Content-Type": "application/json",
           "User-Agent": "dovecot/auth-policy-client"})
r = c.getresponse()
print(r.status, r.read().decode())
EOF
}

CLK_TCK=$(getconf CLK_TCK)
# CPU ticks (user + system) of PID.
cpu_ticks() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $((${12} + ${13}))
}

WRK_PIN=()
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
    WRK_PIN=(taskset -c "1-$((NCPU - 1))")
fi

declare -A R STATUS PORT PID
SERVERS=()

# measure NAME CONNS: warmup run, then the measured run; fills R.
measure() {
    local name=$1 conns=$2 port=${PORT[$1]} pid=${PID[$1]}
    local t=${THREADS:-$NCPU} slots line kv c0 c1 m0 m1 t0 t1
    [ "$t" -gt "$conns" ] && t=$conns
    [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ] && [ "$t" -gt $((NCPU - 1)) ] && t=$((NCPU - 1))
    slots=$(((conns + t - 1) / t))
    local args=(-t "$t" -c "$conns" --timeout 5s -s "$LUA"
        "http://127.0.0.1:$port/auth-policy" --
        "$LOGINS" "$ADDRS" "$FAIL_PCT" "$MOBILE_PCT" "$slots" "$t")
    log "== $name: $conns connections, $t wrk threads: ${WARMUP}s warmup, ${DURATION}s measured"
    timeout $((WARMUP + 30)) "${WRK_PIN[@]}" "$WRK" -d "${WARMUP}s" "${args[@]}" >/dev/null 2>&1 || true
    m0=$(head -n 1 /proc/stat); c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    line=$(timeout $((DURATION + 30)) "${WRK_PIN[@]}" "$WRK" -d "${DURATION}s" "${args[@]}" 2>&1 |
        grep '^RESULT ') || true
    c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N); m1=$(head -n 1 /proc/stat)
    [ -n "$line" ] || { log "   no result"; return 0; }
    log "   $line"
    R[$name/$conns/raw]=$line
    for kv in ${line#RESULT }; do R[$name/$conns/${kv%%=*}]=${kv#*=}; done
    R[$name/$conns/server_cpu]=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" \
        -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / (e - s) }')
    R[$name/$conns/machine_cpu]=$(awk -v m="$(busy_ticks "$m0" "$m1")" -v hz="$CLK_TCK" \
        -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", 100 * m / hz / (e - s) }')
}

# started NAME PORT PID: wait for the port and one good answer.
started() {
    local name=$1 port=$2 pid=$3 reply
    PORT[$name]=$port
    PID[$name]=$pid
    if ! wait_port "$port" "$pid"; then
        STATUS[$name]="did not start"
        return 1
    fi
    reply=$(probe "$port" 2>&1) || true
    case $reply in
    "200 "*'"status"'*) STATUS[$name]="" ;;
    *) STATUS[$name]="bad answer: $reply"; return 1 ;;
    esac
    [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ] && taskset -pc 0 "$pid" >/dev/null
    return 0
}

# ---- servers ------------------------------------------------------------------

# $( ) waits for python to exit and free the ports (a < <( ) would not).
ports=$(free_ports 3)
read -r P_NULL P_AP P_POL <<<"$ports"

SERVERS+=("null responder")
"$NULLP" -T 600 "127.0.0.1:$P_NULL" 2>"$TMP/null.log" &
PIDS+=($!)
if ! started "null responder" "$P_NULL" "$!"; then
    log "null responder: ${STATUS[null responder]}; its log:"
    tail -n 20 "$TMP/null.log" >&2 || true
fi

SERVERS+=("mamorid")
if [ -z "$MAMORID_STATUS" ]; then
    cat >"$TMP/mamorid.conf" <<EOF
# written by bench/run-authpolicy-bench.sh
auth_policy_listen = inet:127.0.0.1:$P_AP
policy_listen = inet:127.0.0.1:$P_POL
api_listen = unix:$TMP/api.sock
store = sqlite:$TMP/state.db
user =
log_level = warn
notify_smtp_url =
EOF
    bench_mamorid "$P_AP"
else
    STATUS[mamorid]=$MAMORID_STATUS
fi

# ---- measure ------------------------------------------------------------------

BUSY_BEFORE=$(cpu_busy_pct)
[ "$BUSY_BEFORE" -gt 10 ] &&
    log "WARNING: the machine was ${BUSY_BEFORE}% busy before the run; numbers will be low"

T_START=$(date +%s)
for s in "${SERVERS[@]}"; do
    [ -n "${STATUS[$s]:-}" ] && continue
    measure "$s" "$THRU_CONNS"
    measure "$s" "$LAT_CONNS"
done

STATS=""
if [ -z "${STATUS[mamorid]:-}" ] && [ -x "$MAMORI" ]; then
    STATS=$("$MAMORI" -s "$TMP/api.sock" stats 2>/dev/null |
        grep -E '^login\.(events|verdicts|judgements|new_network|accounts_tracked|addresses_tracked)' |
        tr '\n' ' ') || true
fi
MAMORID_ALIVE=no
[ -n "${PID[mamorid]:-}" ] && kill -0 "${PID[mamorid]}" 2>/dev/null && MAMORID_ALIVE=yes

# ---- report -------------------------------------------------------------------

fmt_int() { awk -v v="$1" 'BEGIN { if (v == "") print "—"; else printf "%\047d\n", v }'; }
ms() { awk -v v="$1" 'BEGIN { if (v == "") print "—"; else printf "%.2f\n", v / 1000 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "—"; else printf "%.0f%%\n", 100 * a / b }'; }
per_login() { awk -v v="$1" -v f="$FAIL_PCT" 'BEGIN { if (v == "") print "—"; else printf "%\047d\n", v / (3 - f / 100) }'; }

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo "+local changes" || true)
echo
echo "## Auth-policy benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $NCPU cores, $(uname -r), commit $commit$dirty)"
echo
echo "wrk $("$WRK" -v 2>&1 | head -1 | awk '{print $2}'), HTTP/1.1 keep-alive on 127.0.0.1, ${WARMUP} s warmup + ${DURATION} s per row;"
echo "Dovecot 2.3 bodies (allow, allow after a right password, report; ${FAIL_PCT}% wrong passwords),"
echo "$LOGINS distinct logins from $ADDRS addresses; one request = one decision."
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
    echo "Server pinned to CPU 0, wrk to CPUs 1-$((NCPU - 1))."
else
    echo "Load generator and server share the cores."
fi
echo "CPU busy with other work just before the run: ${BUSY_BEFORE}% of all cores$([ "$BUSY_BEFORE" -gt 10 ] && echo ' (**too busy: numbers are low; rerun on a quiet machine**)')."
echo
echo "| server | conns | decisions/s | p50 ms | p99 ms | % of ceiling |"
echo "|---|---:|---:|---:|---:|---:|"
for s in "${SERVERS[@]}"; do
    if [ -n "${STATUS[$s]:-}" ]; then
        echo "| $s | — | ${STATUS[$s]} | — | — | — |"
        continue
    fi
    for c in "$THRU_CONNS" "$LAT_CONNS"; do
        echo "| $s | $c | $(fmt_int "${R[$s/$c/rps]:-}") | $(ms "${R[$s/$c/p50_us]:-}") | $(ms "${R[$s/$c/p99_us]:-}") | $(pct "${R[$s/$c/rps]:-}" "${R[null responder/$c/rps]:-}") |"
    done
done
echo
echo "| server | conns | logins/s | p99.9 ms | max ms | non-2xx | socket errors | server CPU % | machine CPU % |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in "${SERVERS[@]}"; do
    [ -n "${STATUS[$s]:-}" ] && continue
    for c in "$THRU_CONNS" "$LAT_CONNS"; do
        errs=""
        [ -n "${R[$s/$c/rps]:-}" ] && errs=$((${R[$s/$c/connect]:-0} + ${R[$s/$c/read]:-0} + ${R[$s/$c/write]:-0} + ${R[$s/$c/timeout]:-0}))
        echo "| $s | $c | $(per_login "${R[$s/$c/rps]:-}") | $(ms "${R[$s/$c/p999_us]:-}") | $(ms "${R[$s/$c/max_us]:-}") | ${R[$s/$c/non2xx]:-—} | ${errs:-—} | ${R[$s/$c/server_cpu]:-—} | ${R[$s/$c/machine_cpu]:-—} |"
    done
done
echo
echo "logins/s = decisions/s / $(awk -v f="$FAIL_PCT" 'BEGIN { printf "%.2f", 3 - f / 100 }') (requests per attempt)."
echo "CPU columns: 100% = one core; machine = all processes ($NCPU cores = $((NCPU * 100))%)."
[ -n "$STATS" ] && echo "mamorid afterwards (alive: $MAMORID_ALIVE): $STATS"
echo "Measuring took $(($(date +%s) - T_START)) s."
echo
echo "Raw result lines:"
echo
echo '```'
for s in "${SERVERS[@]}"; do
    for c in "$THRU_CONNS" "$LAT_CONNS"; do
        [ -n "${R[$s/$c/raw]:-}" ] && echo "$s/$c: ${R[$s/$c/raw]}"
    done
done
echo '```'
