# bench-lib.sh - shell helpers shared by the bench/run-*.sh scripts (sourced,
# not run).  The caller defines log() and BASE_PORT, calls bench_start, and
# keeps the pids it started in PIDS and the process groups of forking
# daemons (postfwd) in PGIDS.

# Signal a postfwd process group we started, if it still holds postfwd.
kill_group() {
    pgrep -g "$2" -f postfwd >/dev/null 2>&1 && kill "$1" -- "-$2" 2>/dev/null
    return 0
}

# TERM everything in PIDS and PGIDS, wait up to 2 s, then KILL.
stop_started() {
    local p _
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PGIDS[@]}"; do kill_group -TERM "$p"; done
    for _ in $(seq 1 20); do
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${PGIDS[@]}"; do kill_group -KILL "$p"; done
}

# bench_defaults: the settings the load benchmarks share, unless the
# environment sets them: BUILD (ROOT/build; ROOT set by the caller),
# DURATION (10 s measured a row), WARMUP (2 s), ACCOUNTS (100000),
# THRU_CONNS (100) and LAT_CONNS (10) connections (bench/README.md).
bench_defaults() {
    BUILD=${BUILD:-$ROOT/build}
    DURATION=${DURATION:-10}
    WARMUP=${WARMUP:-2}
    ACCOUNTS=${ACCOUNTS:-100000}
    THRU_CONNS=${THRU_CONNS:-100}
    LAT_CONNS=${LAT_CONNS:-10}
}

# Stop what the run started, remove its temporary directory.
bench_cleanup() {
    stop_started
    rm -rf "$TMP"
}

# bench_start NAME: the run's temporary directory in TMP (NAME.XXXXXX under
# TMPDIR), PIDS and PGIDS emptied, and bench_cleanup on exit and on a signal.
bench_start() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    PIDS=()
    PGIDS=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

# bench_mamorid PORT: start $MAMORID with $TMP/mamorid.conf (written by
# the caller), its output in $TMP/mamorid.log, and check it with the
# caller's started NAME PORT PID (which sets STATUS[mamorid]); on failure
# the log's end goes to stderr.
bench_mamorid() {
    "$MAMORID" -c "$TMP/mamorid.conf" >"$TMP/mamorid.log" 2>&1 &
    PIDS+=($!)
    if ! started "mamorid" "$1" "$!"; then
        log "mamorid: ${STATUS[mamorid]}; its log:"
        tail -n 20 "$TMP/mamorid.log" >&2 || true
    fi
}

# The path of a postfwd program (postfwd1, postfwd2), or "".
find_postfwd() {
    local n=$1
    command -v "$n" 2>/dev/null || { [ -x "/usr/sbin/$n" ] && echo "/usr/sbin/$n"; } || true
}

USED_PORTS=" "
PORT_PICKED=""
# Set PORT_PICKED to a free loopback TCP port at or above BASE_PORT, not
# handed out before in this run (call it directly, not in $(...)).
pick_port() {
    local p
    for p in $(seq "$BASE_PORT" $((BASE_PORT + 500))); do
        case "$USED_PORTS" in *" $p "*) continue ;; esac
        if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
            USED_PORTS="$USED_PORTS$p "
            PORT_PICKED=$p
            return 0
        fi
    done
    log "no free port from $BASE_PORT"
    exit 1
}

# Wait (5 s at most) until PORT listens; fail early if PID (optional) died.
wait_port() {
    local port=$1 pid=${2:-} _
    for _ in $(seq 1 50); do
        [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.1
    done
    return 1
}
