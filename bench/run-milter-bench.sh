#!/usr/bin/env bash
# run-milter-bench.sh - milter benchmark: mamorid's inbound milter (SPF +
# DKIM + DMARC) against a do-nothing libmilter filter (the ceiling),
# opendkim and rspamd, driven the same way in one run.
#
# 1. The message set (cached in CACHE, made once): MESSAGES SpamAssassin
#    public corpus messages rewritten as mail from bench.example and
#    DKIM-signed with python3-dkim (bench/milter-corpus.py), and a zone file
#    with the key, SPF (ip4:198.51.100.0/24) and DMARC (p=reject) records.
# 2. test/dns/zone-server.py serves that zone on 127.0.0.1 (UDP + TCP).
# 3. The filters, each on a unix socket in a mktemp -d directory, each in
#    its own process group (setsid):
#      null       bench/null-milter: negotiates what mamorid negotiates,
#                 accepts everything
#      mamorid    milter_listen, dns_upstream = the zone server, a fresh
#                 sqlite store, log_level = warn
#      opendkim   Debian opendkim 2.11, Mode v, Nameservers = the zone
#                 server (libunbound)
#      rspamd     Debian rspamd 3.4, /etc/rspamd/rspamd.conf as shipped, its
#                 rspamd_proxy worker with milter = yes in front of one
#                 normal worker; overrides: sockets, directories, DNS =
#                 the zone server, fuzzy_check off (its servers are on the
#                 internet), log level error, milter_headers adding
#                 Authentication-Results (so the results can be checked)
#      rspamd-auth  the same with every module of modules.d but dkim,
#                 spf, dmarc and milter_headers disabled, C filters "dkim"
#                 only, and self_scan (the proxy scans; no second process).
#                 rspamd's Lua rules (rules/*.lua: header checks, dates...)
#                 still run: rspamd has no switch for them short of
#                 settings.
#      rspamd-stock   (issue 10's name) = rspamd
#      rspamd-limited rspamd-auth plus the modules comparable to mamori's
#                 content checks: mime_types (attachment types and
#                 extensions) and phishing (link text against target;
#                 phishtank asked over DNS, i.e. of the zone server)
#    rspamd gets a private configuration, run, database and log directory
#    under the mktemp -d directory, its DNS is the zone server (its map
#    downloads from maps.rspamd.com resolve to NXDOMAIN there and fall
#    back to the shipped files: no network), and every socket it listens
#    on is checked after start: one outside 127.0.0.0/8, ::1 or a unix
#    socket stops its row.
#    A peer that is not installed (and cannot be installed with apt-get)
#    or does not start is reported as such; the rest still runs.
# 4. ROUNDS rounds; in each, bench/milter-load drives every filter in turn
#    with CONNS connections (closed loop, MSGS_PER_CONN messages per
#    connection as Postfix per SMTP session), WARMUP s unmeasured then
#    DURATION s.  CPU: utime + stime of the filter's process group from
#    /proc before and after, divided by the messages it answered.  The
#    table gives the medians over the rounds.
#
# Prints markdown on stdout, progress on stderr.  Builds only through
# meson/ninja.  Loopback only; kills every process group it started on
# exit.  About 3 minutes with the defaults (the first run adds ~20 s to
# sign the messages, and rspamd's start compiles its regular expressions).
#
# Environment (defaults): BUILD (<repo>/build), CACHE (BUILD/milter-bench),
# MESSAGES (2000), CONNS (16), MSGS_PER_CONN (10), DURATION (5), WARMUP (1),
# ROUNDS (3), FILTERS ("null mamorid opendkim rspamd-stock rspamd-limited";
# also rspamd-auth, and rspamd as another name for rspamd-stock),
# MAMORID (a binary to use instead of building one), MAMORI_SHARED
# (<repo>/../shared), PERF (empty; 1: perf record --call-graph dwarf on
# mamorid during its first measured row, into CACHE/perf.data; that row's
# numbers are then lower; stat: perf stat -e context-switches,task-clock
# on every filter in round 1, context switches per message printed),
# MAMORID_CONF (lines added to mamorid's configuration, e.g.
# "content_checks = no"), MAMORID_WRAP (a command prefix for mamorid, e.g.
# "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out"; the exit
# waits up to 330 s for it), LOAD_N (stop each row after this many
# measured messages).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CACHE=${CACHE:-$BUILD/milter-bench}
MESSAGES=${MESSAGES:-2000}
CONNS=${CONNS:-16}
MSGS_PER_CONN=${MSGS_PER_CONN:-10}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
FILTERS=${FILTERS:-null mamorid opendkim rspamd-stock rspamd-limited}
FILTERS=$(printf '%s\n' $FILTERS | sed 's/^rspamd$/rspamd-stock/' | tr '\n' ' ')
PERF=${PERF:-}
MAMORI_SHARED=${MAMORI_SHARED:-$ROOT/../shared}
PY=/usr/bin/python3
DOMAIN=bench.example
SELECTOR=bench

log() { printf '%s\n' "$*" >&2; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"     # cpu_busy_pct, median

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mamori-milter-bench.XXXXXX")
GROUPS_STARTED=()   # process groups we started (setsid), killed on exit

cleanup() {
    local g _ alive
    for g in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
    # mamorid waits up to 10 s for messages in progress when it stops.
    for _ in $(seq 1 "$((${MAMORID_WRAP:+3000} + 120))"); do
        alive=0
        for g in "${GROUPS_STARTED[@]}"; do
            kill -0 -- "-$g" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for g in "${GROUPS_STARTED[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start a command in a new process group; sets STARTED to its pid (= pgid).
STARTED=""
start_group() {
    local out=$1
    shift
    setsid "$@" >"$out" 2>&1 </dev/null &
    STARTED=$!
    GROUPS_STARTED+=("$STARTED")
}

# ---- build ----------------------------------------------------------------

if [ ! -f "$BUILD/build.ninja" ]; then
    log "== meson setup $BUILD"
    meson setup "$BUILD" "$ROOT" >&2
fi
log "== ninja -C $BUILD bench/milter-load bench/null-milter"
ninja -C "$BUILD" bench/milter-load bench/null-milter >&2
LOAD=$BUILD/bench/milter-load
NULLM=$BUILD/bench/null-milter

declare -A STATUS   # STATUS[filter] = "" (runs) or why not
MAMORID=${MAMORID:-}
if [ -n "$MAMORID" ]; then
    [ -x "$MAMORID" ] || STATUS[mamorid]="not built"
else
    MAMORID=$BUILD/src/daemon/mamorid
    log "== ninja -C $BUILD src/daemon/mamorid"
    if ! ninja -C "$BUILD" src/daemon/mamorid >"$TMP/mamorid-build.log" 2>&1; then
        tail -n 20 "$TMP/mamorid-build.log" >&2
        STATUS[mamorid]="not built (build failed)"
    fi
fi

# ---- peers ------------------------------------------------------------------

find_bin() {
    command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true
}
wants() { case " $FILTERS " in *" $1 "*) return 0 ;; esac; return 1; }

OPENDKIM=$(find_bin opendkim)
if wants opendkim && [ -z "$OPENDKIM" ]; then
    log "== opendkim missing: apt-get install -y --no-install-recommends opendkim opendkim-tools"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        opendkim opendkim-tools >&2 || true
    OPENDKIM=$(find_bin opendkim)
fi
RSPAMD=$(find_bin rspamd)
if { wants rspamd-stock || wants rspamd-auth || wants rspamd-limited; } && [ -z "$RSPAMD" ]; then
    log "== rspamd missing: apt-get install -y --no-install-recommends rspamd"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rspamd >&2 || true
    RSPAMD=$(find_bin rspamd)
fi
[ -z "$OPENDKIM" ] && STATUS[opendkim]="not installed (apt-get install opendkim failed)"
[ -z "$RSPAMD" ] && STATUS[rspamd-stock]="not installed (apt-get install rspamd failed)" &&
    STATUS[rspamd-auth]=${STATUS[rspamd-stock]} && STATUS[rspamd-limited]=${STATUS[rspamd-stock]}
OPENDKIM_VERSION=""; RSPAMD_VERSION=""
[ -n "$OPENDKIM" ] && OPENDKIM_VERSION=$("$OPENDKIM" -V 2>&1 | head -n 1 | sed 's/.*Filter v//')
[ -n "$RSPAMD" ] && RSPAMD_VERSION=$("$RSPAMD" --version 2>&1 | sed -n 's/.*version //p' | head -n 1)

# ---- message set -------------------------------------------------------------

if [ ! -s "$CACHE/zone.txt" ] || [ "$(find "$CACHE/msgs" -name '*.eml' 2>/dev/null | wc -l)" != "$MESSAGES" ]; then
    "$PY" -c 'import dkim' 2>/dev/null || { log "python3-dkim missing (apt-get install python3-dkim)"; exit 1; }
    log "== signing $MESSAGES messages into $CACHE (bench/milter-corpus.py)"
    rm -rf "$CACHE/msgs" "$CACHE/zone.txt"
    mkdir -p "$CACHE"
    "$PY" "$ROOT/bench/milter-corpus.py" "$MAMORI_SHARED/corpora/spamassassin-public-corpus" \
        "$CACHE" "$MESSAGES" "$DOMAIN" "$SELECTOR" >&2
fi
MSGDIR=$CACHE/msgs
MEAN_BYTES=$(find "$MSGDIR" -name '*.eml' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s / NR }')

# ---- ports and waiting ---------------------------------------------------------

# A loopback port free for both UDP and TCP, from 25300 on.
free_port() {
    local p
    for p in $(seq "${1:-25300}" 25900); do
        if [ -z "$(ss -Htuln "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
    done
    return 1
}

# Wait (LIMIT s) until the unix socket PATH exists; fail if PID died.
wait_sock() {
    local path=$1 pid=$2 limit=${3:-10} i
    for i in $(seq 1 $((limit * 10))); do
        [ -S "$path" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# ---- DNS -------------------------------------------------------------------------

DNS_PORT=$(free_port 25300)
start_group "$TMP/dns.out" "$PY" "$ROOT/test/dns/zone-server.py" "$CACHE/zone.txt" "$DNS_PORT" 127.0.0.1
DNS_PGID=$STARTED
for _ in $(seq 1 100); do grep -q READY "$TMP/dns.out" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$TMP/dns.out" || { log "zone server did not start:"; cat "$TMP/dns.out" >&2; exit 1; }
log "== zone server on 127.0.0.1:$DNS_PORT"

# ---- filters --------------------------------------------------------------------------

declare -A SOCK PGID

start_null() {
    start_group "$TMP/null.out" "$NULLM" -T 1800 "unix:$TMP/null.sock"
    PGID[null]=$STARTED; SOCK[null]=$TMP/null.sock
    wait_sock "$TMP/null.sock" "$STARTED" || STATUS[null]="did not start: $(head -c 200 "$TMP/null.out")"
}

start_mamorid() {
    mkdir -p "$TMP/mamorid"
    cat >"$TMP/mamorid/mamori.conf" <<EOF
# mamorid for bench/run-milter-bench.sh: inbound milter only matters
policy_listen = inet:127.0.0.1:$(free_port 25400)
auth_policy_listen = inet:127.0.0.1:0
api_listen = unix:$TMP/mamorid/api.sock
store = sqlite:$TMP/mamorid/state.db
user =
log_level = warn
notify_smtp_url =
milter_listen = unix:$TMP/mamorid/milter.sock
authserv_id = mx.$DOMAIN
dns_upstream = 127.0.0.1@$DNS_PORT
${MAMORID_CONF:-}
EOF
    # shellcheck disable=SC2086
    start_group "$TMP/mamorid.log" ${MAMORID_WRAP:-} "$MAMORID" -c "$TMP/mamorid/mamori.conf"
    PGID[mamorid]=$STARTED; SOCK[mamorid]=$TMP/mamorid/milter.sock
    wait_sock "$TMP/mamorid/milter.sock" "$STARTED" 60 ||
        STATUS[mamorid]="did not start: $(tail -n 3 "$TMP/mamorid.log" | tr '\n' ' ' | head -c 300)"
}

start_opendkim() {
    mkdir -p "$TMP/opendkim"
    # Nameservers takes unbound's ADDR@PORT (ub_ctx_set_fwd).  A
    # ResolverConfiguration file instead crashed opendkim 2.11 under
    # concurrent connections here ("fatal flex scanner internal error").
    cat >"$TMP/opendkim/opendkim.conf" <<EOF
Mode v
Syslog no
Socket local:$TMP/opendkim/od.sock
PidFile $TMP/opendkim/od.pid
Nameservers 127.0.0.1@$DNS_PORT
AuthservID mx.$DOMAIN
UserID $(id -un)
EOF
    start_group "$TMP/opendkim.log" "$OPENDKIM" -f -x "$TMP/opendkim/opendkim.conf"
    PGID[opendkim]=$STARTED; SOCK[opendkim]=$TMP/opendkim/od.sock
    wait_sock "$TMP/opendkim/od.sock" "$STARTED" ||
        STATUS[opendkim]="did not start: $(head -c 300 "$TMP/opendkim.log")"
}

# Sockets that process group G listens on outside loopback (one a line).
listens_outside_loopback() {
    local g=$1 f pid pids="" s
    local -a v
    for f in /proc/[0-9]*/stat; do
        read -r s 2>/dev/null <"$f" || continue
        read -r -a v <<<"${s##*) }"
        [ "${v[2]}" = "$g" ] && pid=${f#/proc/} && pids="$pids ${pid%/stat}"
    done
    for pid in $pids; do
        ss -Htulnp 2>/dev/null | grep "pid=$pid," | awk '{ print $5 }' |
            grep -Ev '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]|::1):[0-9]+$' || true
    done
}

# start_rspamd NAME MODE: stock, auth (dkim/spf/dmarc) or limited (auth +
# mime_types + phishing).
start_rspamd() {
    local name=$1 mode=$2 d=$TMP/$1 m port keep out limited=0
    [ "$mode" != stock ] && limited=1
    mkdir -p "$d/local/override.d" "$d/local/local.d" "$d/run" "$d/db" "$d/log"
    port=$(free_port $((25500 + limited * 50)))
    keep="dkim spf dmarc milter_headers redis"
    [ "$mode" = limited ] && keep="$keep mime_types phishing"
    if [ "$limited" = 1 ]; then
        cat >"$d/local/override.d/worker-proxy.inc" <<EOF
bind_socket = "$d/proxy.sock mode=0600";
milter = yes;
timeout = 120s;
upstream "local" { default = yes; self_scan = yes; }
count = 1;
EOF
        echo 'enabled = false;' >"$d/local/override.d/worker-normal.inc"
        # C modules: dkim only (no chartable, regexp, fuzzy_check).
        echo 'filters = "dkim";' >"$d/local/override.d/options.inc"
        for m in /etc/rspamd/modules.d/*.conf; do
            m=$(basename "$m" .conf)
            case " $keep " in *" $m "*) continue ;; esac
            echo 'enabled = false;' >"$d/local/override.d/$m.conf"
        done
    else
        cat >"$d/local/override.d/worker-proxy.inc" <<EOF
bind_socket = "$d/proxy.sock mode=0600";
milter = yes;
timeout = 120s;
upstream "local" { default = yes; hosts = "127.0.0.1:$port"; }
count = 1;
EOF
        cat >"$d/local/override.d/worker-normal.inc" <<EOF
bind_socket = "127.0.0.1:$port";
count = 1;
EOF
        echo 'enabled = false;' >"$d/local/override.d/fuzzy_check.conf"
    fi
    echo 'enabled = false;' >"$d/local/override.d/worker-controller.inc"
    echo 'count = -1;' >"$d/local/override.d/worker-fuzzy.inc"
    printf 'dns { nameserver = ["127.0.0.1:%s"]; }\n' "$DNS_PORT" >"$d/local/local.d/options.inc"
    echo 'level = "error";' >"$d/local/override.d/logging.inc"
    printf 'use = ["authentication-results"];\nauthenticated_headers = ["authentication-results"];\n' \
        >"$d/local/local.d/milter_headers.conf"
    start_group "$TMP/$name.log" "$RSPAMD" -f -i -c /etc/rspamd/rspamd.conf \
        "--var=LOCAL_CONFDIR=$d/local" "--var=RUNDIR=$d/run" "--var=DBDIR=$d/db" "--var=LOGDIR=$d/log"
    PGID[$name]=$STARTED; SOCK[$name]=$d/proxy.sock
    if ! wait_sock "$d/proxy.sock" "$STARTED" 60; then
        STATUS[$name]="did not start: $(tail -n 3 "$TMP/$name.log" "$d/log/rspamd.log" 2>/dev/null | tr '\n' ' ' | head -c 300)"
        return
    fi
    out=$(listens_outside_loopback "$STARTED")
    if [ -n "$out" ]; then
        STATUS[$name]="stopped: listened outside loopback on $(echo $out)"
        kill -TERM -- "-$STARTED" 2>/dev/null || true
    fi
}

# CPU ticks (utime + stime) of every process in process group G.
cpu_ticks() {
    local g=$1 total=0 f s
    local -a v
    for f in /proc/[0-9]*/stat; do
        read -r s 2>/dev/null <"$f" || continue
        read -r -a v <<<"${s##*) }"
        [ "${v[2]}" = "$g" ] && total=$((total + v[11] + v[12]))
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

# Wait until process group G has used under 5% of a core for 2 s in a row
# (rspamd compiles its hyperscan databases after start), LIMIT s at most.
wait_quiet() {
    local g=$1 limit=$2 a b quiet=0 t
    for t in $(seq 1 "$limit"); do
        a=$(cpu_ticks "$g"); sleep 1; b=$(cpu_ticks "$g")
        if [ $((b - a)) -le $((CLK_TCK / 20)) ]; then
            quiet=$((quiet + 1)); [ "$quiet" -ge 2 ] && return 0
        else
            quiet=0
        fi
    done
    return 1
}

for f in $FILTERS; do
    [ -n "${STATUS[$f]:-}" ] && continue
    log "== starting $f"
    case $f in
        null) start_null ;;
        mamorid) start_mamorid ;;
        opendkim) start_opendkim ;;
        rspamd-stock) start_rspamd rspamd-stock stock ;;
        rspamd-auth) start_rspamd rspamd-auth auth ;;
        rspamd-limited) start_rspamd rspamd-limited limited ;;
        *) STATUS[$f]="unknown filter" ;;
    esac
    [ -n "${STATUS[$f]:-}" ] && log "   $f: ${STATUS[$f]}"
done
for f in rspamd-stock rspamd-auth rspamd-limited; do
    if wants "$f" && [ -z "${STATUS[$f]:-}" ]; then
        log "== waiting for $f to finish compiling (at most 120 s)"
        wait_quiet "${PGID[$f]}" 120 || log "   $f still busy; measuring anyway"
    fi
done

# ---- measure ----------------------------------------------------------------------------

declare -A V   # V[filter/key] = space-separated values over the rounds
declare -A RAW RATE CSW   # RATE[filter/round] = msgs/s; CSW[filter] = context switches/msg

# One row: FILTER ROUND.
measure() {
    local f=$1 round=$2 g=${PGID[$1]} c0 c1 d0 d1 t0 t1 line kv ans perfpid=""
    log "== round $round: $f, $CONNS connections, ${WARMUP}s warmup + ${DURATION}s"
    if [ "$PERF" = stat ] && [ "$round" = 1 ]; then
        perf stat -e context-switches,task-clock -p "$g" \
            -o "$CACHE/perf-stat-$f.txt" >"$TMP/perf.out" 2>&1 &
        perfpid=$!
        sleep 0.5
    elif [ -n "$PERF" ] && [ "$f" = mamorid ] && [ "$round" = 1 ]; then
        perf record -F 499 --call-graph dwarf,16384 -p "$g" -o "$CACHE/perf.data" \
            >"$TMP/perf.out" 2>&1 &
        perfpid=$!
        sleep 0.5
    fi
    c0=$(cpu_ticks "$g"); d0=$(cpu_ticks "$DNS_PGID"); t0=$(date +%s.%N)
    line=$(timeout $((${WARMUP%.*} + ${DURATION%.*} + 60)) "$LOAD" -q -c "$CONNS" \
        -m "$MSGS_PER_CONN" -w "$WARMUP" -d "$DURATION" ${LOAD_N:+-n "$LOAD_N"} -D "$MSGDIR" \
        "unix:${SOCK[$f]}" 2>"$TMP/load.err" | grep '^result ') || line=""
    c1=$(cpu_ticks "$g"); d1=$(cpu_ticks "$DNS_PGID"); t1=$(date +%s.%N)
    if [ -n "$perfpid" ]; then
        kill -INT "$perfpid" 2>/dev/null || true
        wait "$perfpid" 2>/dev/null || true
    fi
    if [ -z "$line" ] || [ -s "$TMP/load.err" ]; then
        log "   $f failed: $(head -c 400 "$TMP/load.err")"
        RAW[$f]="${RAW[$f]:-}round $round: FAILED $(head -c 200 "$TMP/load.err" | tr '\n' ' ')
"
        [ -z "$line" ] && return
    fi
    log "   $line"
    RAW[$f]="${RAW[$f]:-}round $round: $line cpu_ticks=$((c1 - c0)) dns_ticks=$((d1 - d0))
"
    ans=0
    for kv in ${line#result }; do
        case $kv in
            answered=*) ans=${kv#*=} ;;
        esac
    done
    for kv in ${line#result }; do
        case $kv in
            msgs_per_s=* | p50_us=* | p99_us=* | accept=* | reject=* | tempfail=* | quarantine=* | \
            ar_spf_pass=* | ar_dkim_pass=* | ar_dmarc_pass=* | messages=*)
                V[$f/${kv%%=*}]="${V[$f/${kv%%=*}]:-} ${kv#*=}" ;;
        esac
    done
    V[$f/dns_pct]="${V[$f/dns_pct]:-} $(awk -v t=$((d1 - d0)) -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.0f", 100 * t / hz / (b - a) }')"
    for kv in ${line#result }; do
        case $kv in
            msgs_per_s=*) RATE[$f/$round]=${kv#*=} ;;
        esac
    done
    if [ "$f" != null ] && [ -n "${RATE[null/$round]:-}" ]; then
        V[$f/ratio]="${V[$f/ratio]:-} $(awk -v a="${RATE[$f/$round]}" -v b="${RATE[null/$round]}" \
            'BEGIN { printf "%.1f", 100 * a / b }')"
    fi
    if [ "$PERF" = stat ] && [ "$round" = 1 ] && [ "$ans" -gt 0 ]; then
        CSW[$f]=$(awk -v n="$ans" '/context-switches/ { gsub(",", "", $1); printf "%.1f", $1 / n }' \
            "$CACHE/perf-stat-$f.txt" 2>/dev/null)
    fi
    [ "$ans" -gt 0 ] && V[$f/cpu_ms]="${V[$f/cpu_ms]:-} $(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$ans" \
        'BEGIN { printf "%.3f", 1000 * t / hz / n }')"
}

BUSY_BEFORE=$(cpu_busy_pct)
log "== the machine was ${BUSY_BEFORE}% busy just before measuring"

for round in $(seq 1 "$ROUNDS"); do
    for f in $FILTERS; do
        [ -n "${STATUS[$f]:-}" ] && continue
        measure "$f" "$round"
    done
done

# ---- report ------------------------------------------------------------------------------

med() { median ${V[$1/$2]:-}; }   # shellcheck disable=SC2086
fmt() { awk -v v="$1" -v p="$2" 'BEGIN { if (v == "") print "—"; else printf "%." p "f\n", v }'; }
ms() { awk -v v="$1" 'BEGIN { if (v == "") print "—"; else printf "%.2f\n", v / 1000 }'; }

label() {
    case $1 in
        null) echo "null-milter (libmilter, does nothing: the ceiling)" ;;
        mamorid) echo "mamorid (SPF + DKIM + DMARC + content checks${MAMORID_CONF:+; $MAMORID_CONF})" ;;
        opendkim) echo "opendkim $OPENDKIM_VERSION (DKIM verify)" ;;
        rspamd-stock) echo "rspamd $RSPAMD_VERSION (stock config, proxy + normal worker)" ;;
        rspamd-auth) echo "rspamd $RSPAMD_VERSION (modules but dkim/spf/dmarc off, self_scan)" ;;
        rspamd-limited) echo "rspamd $RSPAMD_VERSION (dkim/spf/dmarc/mime_types/phishing only, self_scan)" ;;
        *) echo "$1" ;;
    esac
}

NULL_RATE=$(med null msgs_per_s)
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
echo "## Milter benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), commit $commit)"
echo
echo "$MESSAGES SpamAssassin public corpus messages (mean $MEAN_BYTES bytes), From and envelope sender in $DOMAIN,"
echo "DKIM-signed (RSA-2048, relaxed/relaxed); key, SPF and DMARC (p=reject) served by test/dns/zone-server.py on"
echo "127.0.0.1. bench/milter-load: $CONNS connections, closed loop, $MSGS_PER_CONN messages per connection, milter"
echo "protocol 6 as Postfix speaks it, client 198.51.100.7 (not authenticated: inbound). ${WARMUP} s warmup +"
echo "${DURATION} s per row, $ROUNDS rounds, medians. CPU = the filter's process group's utime + stime over the row,"
echo "per message answered. % of null: median of the per-round ratios to the null filter's rate in the same round."
echo "DNS server CPU: the zone server's share of one core during the row (near 100%: the row is bound by the test's"
echo "Python DNS server, not by the filter). CPU busy before the run: ${BUSY_BEFORE}% of all cores."
echo
echo "| filter | msgs/s | % of null (rounds) | CPU ms/msg | p50 ms | p99 ms | DNS server CPU | accept | reject | tempfail | quarantine | A-R spf/dkim/dmarc=pass |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for f in $FILTERS; do
    if [ -n "${STATUS[$f]:-}" ]; then
        echo "| $(label "$f") | ${STATUS[$f]} | — | — | — | — | — | — | — | — | — | — |"
        continue
    fi
    r=$(med "$f" msgs_per_s)
    if [ -z "$r" ]; then
        echo "| $(label "$f") | failed (see raw lines) | — | — | — | — | — | — | — | — | — | — |"
        continue
    fi
    n=$(med "$f" messages)
    if [ "$f" = null ]; then pc="100%"; else pc="$(fmt "$(med "$f" ratio)" 1)% (${V[$f/ratio]:- —})"; fi
    share() { awk -v a="$1" -v n="$n" 'BEGIN { if (n == 0 || a == "") print "—"; else printf "%.0f%%\n", 100 * a / n }'; }
    echo "| $(label "$f") | $(fmt "$r" 0) | $pc | $(fmt "$(med "$f" cpu_ms)" 3) | $(ms "$(med "$f" p50_us)") | $(ms "$(med "$f" p99_us)") | $(fmt "$(med "$f" dns_pct)" 0)% |" \
        "$(fmt "$(med "$f" accept)" 0) | $(fmt "$(med "$f" reject)" 0) | $(fmt "$(med "$f" tempfail)" 0) | $(fmt "$(med "$f" quarantine)" 0) |" \
        "$(share "$(med "$f" ar_spf_pass)")/$(share "$(med "$f" ar_dkim_pass)")/$(share "$(med "$f" ar_dmarc_pass)") |"
done
echo
M=$(med mamorid msgs_per_s); MC=$(med mamorid cpu_ms); MR=$(med mamorid ratio)
if [ -n "$MR" ]; then
    awk -v r="$MR" -v c="$MC" 'BEGIN {
        printf "mamorid/null: %.1f%% of the ceiling'"'"'s rate, median of the rounds (goal >= 60%%: %s); %.3f ms CPU per message (goal <= 0.25: %s).\n",
            r, (r >= 60) ? "met" : "not met", c, (c <= 0.25) ? "met" : "not met" }'
fi
if [ -n "$MC" ]; then
    awk -v c="$MC" 'BEGIN { printf "Issue 10 (every check on): %.3f ms CPU per message (goal <= 0.4: %s).\n",
        c, (c <= 0.4) ? "met" : "not met" }'
fi
LC=$(med rspamd-limited cpu_ms)
if [ -n "$MC" ] && [ -n "$LC" ]; then
    awk -v m="$MC" -v l="$LC" 'BEGIN { printf "rspamd-limited/mamorid CPU per message: %.1f× (goal >= 3: %s).\n",
        l / m, (l >= 3 * m) ? "met" : "not met" }'
fi
for f in opendkim rspamd-stock rspamd-auth rspamd-limited; do
    o=$(med "$f" msgs_per_s); oc=$(med "$f" cpu_ms)
    [ -n "$M" ] && [ -n "$o" ] && awk -v m="$M" -v o="$o" -v mc="$MC" -v oc="$oc" -v f="$f" 'BEGIN {
        printf "mamorid/%s: %.1f× the rate, %.2f× the CPU per message.\n", f, m / o, (oc > 0) ? mc / oc : 0 }'
done
if [ "$PERF" = stat ]; then
    printf 'Context switches per message answered (perf stat -p, round 1):'
    for f in $FILTERS; do [ -n "${CSW[$f]:-}" ] && printf ' %s %s;' "$f" "${CSW[$f]}"; done
    echo
fi
echo
echo "Raw lines:"
echo
echo '```'
for f in $FILTERS; do [ -n "${RAW[$f]:-}" ] && printf '%s: %s' "$f" "${RAW[$f]}"; done
echo '```'
