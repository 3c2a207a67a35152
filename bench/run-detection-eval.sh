#!/usr/bin/env bash
# run-detection-eval.sh - the detection evaluation (docs/design/detection-eval.md):
#
#  1. simulated: bench/detsim over SEEDS (default 1000-1049, the seeds
#     detection authors must not tune on; tune on 1-20), cold start, warm
#     and after `mamori learn` (the month's mail as a Postfix log learnt by
#     the real CLI into a private store), mamori's core beside the
#     postfwd-EOP and fail2ban-like models; about five minutes on 2 cores;
#  2. real time: for each of RT_SEEDS (default 1000), a fresh mamorid on
#     loopback (store memory:, the same settings as the simulation) and a
#     real postfwd with bench/postfwd-eop.cf, driven by detsim --real over
#     the policy protocol and the Dovecot auth-policy HTTP protocol for
#     the "short" profile (150 s of traffic per seed); then the same seed
#     and profile simulated, so the two tables can be compared row by row.
#
# Prints markdown on stdout, progress on stderr.  Builds with ninja only
# (bench/detsim, src/daemon/mamorid, src/cli/mamori).  Listens on 127.0.0.1 only, works in
# a mktemp -d directory and kills what it started on exit.  REAL=0 skips
# part 2; SIM=0 skips part 1.
#
# Environment (defaults): BUILD (<repo>/build), SEEDS (1000-1049),
# RT_SEEDS (1000; space-separated), BASE_PORT (20140), REAL (1), SIM (1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SEEDS=${SEEDS:-1000-1049}
RT_SEEDS=${RT_SEEDS:-1000}
BASE_PORT=${BASE_PORT:-20140}
REAL=${REAL:-1}
SIM=${SIM:-1}

log() { printf '%s\n' "$*" >&2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mamori-deteval.XXXXXX")
PIDS=()
PGIDS=()

. "$ROOT/bench/bench-lib.sh"

# Stop what this seed started.
stop_servers() {
    stop_started
    PIDS=()
    PGIDS=()
}
cleanup() { stop_servers; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -f "$BUILD/build.ninja" ]; then
    log "== meson setup $BUILD"
    meson setup "$BUILD" "$ROOT" >&2
fi
log "== ninja -C $BUILD bench/detsim src/daemon/mamorid src/cli/mamori"
ninja -C "$BUILD" bench/detsim src/daemon/mamorid src/cli/mamori >&2
DETSIM=$BUILD/bench/detsim
MAMORID=$BUILD/src/daemon/mamorid

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "# Detection evaluation ($(date -u +%Y-%m-%dT%H:%MZ), commit $commit)"

if [ "$SIM" = 1 ]; then
    log "== simulated: detsim --seeds $SEEDS --mode all"
    echo
    "$DETSIM" --seeds "$SEEDS" --mode all --mamori "$BUILD/src/cli/mamori"
fi

[ "$REAL" = 1 ] || exit 0

PF1=$(find_postfwd postfwd1)
if [ -z "$PF1" ]; then
    log "== postfwd missing: apt-get install -y postfwd"
    DEBIAN_FRONTEND=noninteractive apt-get install -y postfwd >&2 || true
    PF1=$(find_postfwd postfwd1)
fi
KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

for seed in $RT_SEEDS; do
    pick_port; pp=$PORT_PICKED
    pick_port; ap=$PORT_PICKED
    # The simulated clients' countries as a Tor-format geoip_db, so the
    # real mamorid sees what the simulation's test hook gives the core.
    "$DETSIM" --print-geoip >"$TMP/geoip-$seed"
    {
        echo "# written by bench/run-detection-eval.sh"
        "$DETSIM" --print-config
        echo "policy_listen = inet:127.0.0.1:$pp"
        echo "auth_policy_listen = inet:127.0.0.1:$ap"
        echo "auth_policy_api_key = $KEY"
        echo "api_listen = unix:$TMP/api-$seed.sock"
        echo "store = memory:"
        echo "geoip_db = tor:$TMP/geoip-$seed"
        echo "user ="
        echo "log_level = warn"
    } >"$TMP/mamorid-$seed.conf"
    "$MAMORID" -c "$TMP/mamorid-$seed.conf" >"$TMP/mamorid-$seed.log" 2>&1 &
    PIDS+=($!)
    if ! wait_port "$pp" "$!" || ! wait_port "$ap" "$!"; then
        log "mamorid did not start; its log:"
        tail -n 20 "$TMP/mamorid-$seed.log" >&2
        exit 1
    fi
    target="127.0.0.1:$pp,127.0.0.1:$ap"
    if [ -n "$PF1" ]; then
        pick_port; fp=$PORT_PICKED
        "$PF1" --daemon --file "$ROOT/bench/postfwd-eop.cf" --interface 127.0.0.1 \
            --port "$fp" --user "$(id -un)" --group "$(id -gn)" \
            --pidfile "$TMP/postfwd-$seed.pid" --cache=0 --nodns --norulelog \
            --perfmon >"$TMP/postfwd-$seed.log" 2>&1 || true
        for _ in $(seq 1 50); do [ -s "$TMP/postfwd-$seed.pid" ] && break; sleep 0.1; done
        pfpid=$(cat "$TMP/postfwd-$seed.pid" 2>/dev/null || true)
        if [ -n "$pfpid" ] && wait_port "$fp" "$pfpid"; then
            PGIDS+=("$pfpid")
            target="$target,127.0.0.1:$fp"
        else
            log "postfwd did not start: its column is the model"
        fi
    else
        log "postfwd not installed: its column is the model"
    fi
    log "== real time, seed $seed: detsim --real $target (about 150 s)"
    echo
    timeout 600 "$DETSIM" --real "$target" --api-key "$KEY" \
        --api "$TMP/api-$seed.sock" --seeds "$seed-$seed"
    stop_servers
    log "== the same seed simulated: detsim --profile short --mode cold --seeds $seed-$seed"
    echo
    "$DETSIM" --profile short --mode cold --seeds "$seed-$seed"
done
