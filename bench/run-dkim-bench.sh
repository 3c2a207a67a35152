#!/usr/bin/env bash
# run-dkim-bench.sh - DKIM verification benchmark: mamori's verifier against
# opendkim, both against OpenSSL's bare signature-verify rate (the ceiling),
# on the same signed messages, in one run.
#
# 1. openssl speed -seconds 2 rsa2048 / ed25519: verify/s, the ceiling (one
#    signature check, no hashing of a message, no parsing).  Measured in
#    ROUNDS rounds, each followed at once by step 2 (paired: the speed of a
#    shared machine's core drifts between one minute and the next).
# 2. bench/dkim-verify -t rsa / -t ed25519: signs MESSAGES real messages
#    under MAX_SIZE bytes (SpamAssassin public corpus, easy-ham-1) with a
#    fresh key, writes them to a temporary directory, and verifies the whole
#    corpus in a loop for DURATION s, the key TXT record answered from memory
#    (no DNS; the record is parsed and the public key loaded per message, as
#    the daemon does with a cached answer).
# 3. opendkim (Debian's opendkim 2.11) in its test mode on the same files:
#      opendkim -x CONF -t 00000.eml,00001.eml,...   (the list repeated)
#    with CONF = "Mode v", "Syslog no", "TestPublicKeys KEYFILE": the whole
#    list in one process, every message through opendkim's milter callbacks
#    and libopendkim, the key read from KEYFILE (no DNS).  The list is
#    repeated so the run lasts about DURATION s; its start-up cost, measured
#    on one unsigned message, is reported and subtracted in a second row.
#
# Every verification must pass (dkim-verify aborts otherwise; the script
# counts opendkim's "verification ... succeeded" lines).  Prints a markdown
# table on stdout, progress on stderr.  Builds only through meson/ninja.
# Installs opendkim (and opendkim-tools) with apt-get if opendkim is
# missing; on a machine with systemd that also enables the opendkim
# service, which this script never starts.  Pins nothing; works in a
# mktemp -d directory, removed on exit.  About 60 s with the defaults.
#
# Environment (defaults): BUILD (<repo>/build), DURATION (2, seconds per
# measured row), ROUNDS (3), MESSAGES (200), MAX_SIZE (10240 bytes, the
# message as stored in the corpus), MAMORI_SHARED (<repo>/../shared),
# OPENSSL_SECONDS (2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
DURATION=${DURATION:-2}
ROUNDS=${ROUNDS:-3}
MESSAGES=${MESSAGES:-200}
MAX_SIZE=${MAX_SIZE:-10240}
OPENSSL_SECONDS=${OPENSSL_SECONDS:-2}
export MAMORI_SHARED=${MAMORI_SHARED:-$ROOT/../shared}

log() { printf '%s\n' "$*" >&2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mamori-dkim-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

# ---- build ----------------------------------------------------------------

if [ ! -f "$BUILD/build.ninja" ]; then
    log "== meson setup $BUILD"
    meson setup "$BUILD" "$ROOT" >&2
fi
log "== ninja -C $BUILD bench/dkim-verify"
ninja -C "$BUILD" bench/dkim-verify >&2
DV=$BUILD/bench/dkim-verify

# ---- opendkim ---------------------------------------------------------------

find_opendkim() {
    command -v opendkim 2>/dev/null || { [ -x /usr/sbin/opendkim ] && echo /usr/sbin/opendkim; } || true
}
OPENDKIM=$(find_opendkim)
if [ -z "$OPENDKIM" ]; then
    log "== opendkim missing: apt-get install -y --no-install-recommends opendkim opendkim-tools"
    if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            opendkim opendkim-tools >&2; then
        OPENDKIM=$(find_opendkim)
    fi
fi
OPENDKIM_VERSION=""
[ -n "$OPENDKIM" ] && OPENDKIM_VERSION=$("$OPENDKIM" -V 2>&1 | head -n 1 | sed 's/.*Filter v//')

# ---- machine ----------------------------------------------------------------

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"     # cpu_busy_pct, median
BUSY_BEFORE=$(cpu_busy_pct)
[ "$BUSY_BEFORE" -gt 10 ] &&
    log "WARNING: the machine was ${BUSY_BEFORE}% busy before the run; numbers will be low"

declare -A R   # R[row/type] = messages/s

# ---- 1 and 2. OpenSSL ceiling and mamori, in paired rounds ---------------------
#
# On a shared machine the speed of a core drifts by tens of percent within
# a minute, so one OpenSSL run followed by one mamori run compares two
# different machines.  Each round measures the ceiling and then mamori
# right after it, ROUNDS times; the table gives the medians and the
# percentage is the median of the per-round ratios.

# verify/s is the last field of the last line of `openssl speed`.
openssl_rate() {
    local out
    out=$(timeout 60 openssl speed -seconds "$OPENSSL_SECONDS" "$1" 2>/dev/null | tail -n 1) || out=""
    log "   $out"
    awk '{ print $NF }' <<<"$out"
}
OPENSSL_VERSION=$(openssl version | awk '{ print $2 }')

declare -A MEAN KEYUS NMSG RAW OS MM RATIOS
for round in $(seq 1 "$ROUNDS"); do
    for t in rsa ed25519; do
        alg=rsa2048; [ "$t" = ed25519 ] && alg=ed25519
        log "== round $round/$ROUNDS: openssl speed -seconds $OPENSSL_SECONDS $alg"
        c=$(openssl_rate "$alg")
        out=""; [ "$round" = 1 ] && out="-o $TMP/$t"
        log "== round $round/$ROUNDS: $DV -q -t $t -n $MESSAGES -s $MAX_SIZE -d $DURATION $out"
        # shellcheck disable=SC2086
        line=$(timeout $((${DURATION%.*} + 60)) "$DV" -q -t "$t" -n "$MESSAGES" \
            -s "$MAX_SIZE" -d "$DURATION" $out | grep '^result ') || line=""
        log "   $line"
        [ -z "$line" ] && continue
        m=""
        for kv in ${line#result }; do
            case $kv in
                msgs_per_s=*) m=${kv#*=} ;;
                mean_bytes=*) MEAN[$t]=${kv#*=} ;;
                key_load_us=*) KEYUS[$t]=${kv#*=} ;;
                messages=*) NMSG[$t]=${kv#*=} ;;
            esac
        done
        OS[$t]="${OS[$t]:-} $c"
        MM[$t]="${MM[$t]:-} $m"
        [ -n "$c" ] && [ -n "$m" ] &&
            RATIOS[$t]="${RATIOS[$t]:-} $(awk -v a="$m" -v b="$c" 'BEGIN { printf "%.1f", 100 * a / b }')"
        RAW[$t]="${RAW[$t]:-}round $round: openssl ${c:-?} verify/s; mamori $line
"
    done
done
declare -A R   # R[row/type] = messages/s (medians)
for t in rsa ed25519; do
    # shellcheck disable=SC2086
    R[openssl/$t]=$(median ${OS[$t]:-})
    # shellcheck disable=SC2086
    R[mamori/$t]=$(median ${MM[$t]:-})
    # shellcheck disable=SC2086
    R[ratio/$t]=$(median ${RATIOS[$t]:-})
done

# ---- 3. opendkim ------------------------------------------------------------------

declare -A ODLINE
ODSTATUS=""
[ -z "$OPENDKIM" ] && ODSTATUS="not installed"
printf 'From: a@bench.example\r\nSubject: start-up\r\n\r\nno signature\r\n' >"$TMP/unsigned.eml"

# Run opendkim -t on the comma list $2 in directory $1 with config $3;
# prints "seconds succeeded lines".
od_run() {
    local dir=$1 list=$2 conf=$3 t0 t1
    t0=$(now)
    (cd "$dir" && timeout 30 "$OPENDKIM" -x "$conf" -t "$list" >"$TMP/od.out" 2>&1) || true
    t1=$(now)
    printf '%s %s %s\n' "$(sub "$t0" "$t1")" \
        "$(grep -c 'verification (s=bench, d=bench.example, .*) succeeded$' "$TMP/od.out" || true)" \
        "$(wc -l <"$TMP/od.out")"
}

for t in rsa ed25519; do
    R[opendkim/$t]=""; R[opendkim-x/$t]=""
    [ -n "$ODSTATUS" ] && continue
    [ -s "$TMP/$t/keys" ] || continue
    conf=$TMP/opendkim-$t.conf
    printf 'Mode v\nSyslog no\nTestPublicKeys %s\n' "$TMP/$t/keys" >"$conf"
    # Start-up: the fastest of 5 runs on one unsigned message (no key, no crypto).
    best=""
    for _ in 1 2 3 4 5; do
        read -r s _ _ < <(od_run "$TMP" unsigned.eml "$conf")
        best=$(awk -v a="$s" -v b="$best" 'BEGIN { print (b == "" || a < b) ? a : b }')
    done
    list=$(cd "$TMP/$t" && printf '%s\n' ./*.eml | sed 's|^\./||' | paste -sd, -)
    n=$(printf '%s\n' "$TMP/$t"/*.eml | wc -l)
    # Calibrate with one pass, then repeat the list to last about DURATION s
    # (at most 50 times: one argument must stay under 128 KiB).
    read -r s ok _ < <(od_run "$TMP/$t" "$list" "$conf")
    if [ "$ok" != "$n" ]; then
        log "opendkim $t: $ok of $n passed; output:"; head -n 5 "$TMP/od.out" >&2
        ODLINE[$t]="not all pass ($ok of $n)"
        continue
    fi
    reps=$(awk -v d="$DURATION" -v s="$s" -v st="$best" 'BEGIN {
        r = int(d / (s - st > 0.001 ? s - st : 0.001) + 0.999); if (r < 1) r = 1; if (r > 50) r = 50; print r }')
    full=$list
    for _ in $(seq 2 "$reps"); do full="$full,$list"; done
    log "== opendkim -x $conf -t <$n files x $reps> (in $TMP/$t)"
    read -r s ok _ < <(od_run "$TMP/$t" "$full" "$conf")
    total=$((n * reps))
    log "   $s s, $ok of $total succeeded, start-up $best s"
    if [ "$ok" != "$total" ]; then
        ODLINE[$t]="not all pass ($ok of $total)"
        continue
    fi
    R[opendkim/$t]=$(awk -v n="$total" -v s="$s" 'BEGIN { printf "%.0f", n / s }')
    R[opendkim-x/$t]=$(awk -v n="$total" -v s="$s" -v st="$best" 'BEGIN { printf "%.0f", n / (s - st) }')
    ODLINE[$t]="$total messages ($n x $reps) in $s s, start-up $best s"
done

# ---- report -------------------------------------------------------------------------

fmt_int() { awk -v v="$1" 'BEGIN { if (v == "") print "—"; else printf "%\047d\n", v }'; }
us() { awk -v v="$1" 'BEGIN { if (v == "" || v == 0) print "—"; else printf "%.1f\n", 1e6 / v }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "—"; else printf "%.1f%%\n", 100 * a / b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "—"; else printf "%.1f×\n", a / b }'; }

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
echo "## DKIM verification benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), commit $commit)"
echo
echo "${NMSG[rsa]:-?} messages from the SpamAssassin public corpus (easy-ham-1, first files under $MAX_SIZE bytes with a From field, CRLF),"
echo "signed by mamori with one key (mean ${MEAN[rsa]:-?} bytes signed with RSA-2048, ${MEAN[ed25519]:-?} with Ed25519), verified over and over"
echo "for ${DURATION} s, one thread, the key TXT record answered from memory (no DNS). OpenSSL $OPENSSL_VERSION, \`openssl speed -seconds $OPENSSL_SECONDS\`."
echo "$ROUNDS rounds, each \`openssl speed\` then mamori right after it; messages/s are medians over the rounds."
echo "\"% of OpenSSL verify ceiling\": mamori's messages/s against \`openssl speed\` verify/s for the same key type (one bare signature"
echo "check per message) in the same round; the median of the rounds, each round's ratio in brackets."
echo "CPU busy with other work just before the run: ${BUSY_BEFORE}% of all cores$([ "$BUSY_BEFORE" -gt 10 ] && echo ' (**too busy: numbers are low; rerun on a quiet machine**)')."
echo
echo "| verifier | key | messages/s | µs/message | % of OpenSSL verify ceiling |"
echo "|---|---|---:|---:|---:|"
for t in rsa ed25519; do
    k="RSA-2048"; [ "$t" = ed25519 ] && k="Ed25519"
    c=${R[openssl/$t]:-}
    echo "| OpenSSL verify only (ceiling) | $k | $(fmt_int "${c%.*}") | $(us "$c") | 100% |"
    echo "| mamori dkim_verify | $k | $(fmt_int "${R[mamori/$t]:-}") | $(us "${R[mamori/$t]:-}") | ${R[ratio/$t]:-—}% (rounds:${RATIOS[$t]:- —}) |"
    if [ -n "$ODSTATUS" ]; then
        echo "| opendkim | $k | $ODSTATUS | — | — |"
    elif [ -z "${R[opendkim/$t]:-}" ]; then
        echo "| opendkim $OPENDKIM_VERSION -t | $k | ${ODLINE[$t]:-did not run} | — | — |"
    else
        echo "| opendkim $OPENDKIM_VERSION -t (one process, whole list) | $k | $(fmt_int "${R[opendkim/$t]}") | $(us "${R[opendkim/$t]}") | $(pct "${R[opendkim/$t]}" "$c") |"
        echo "| opendkim, start-up subtracted | $k | $(fmt_int "${R[opendkim-x/$t]}") | $(us "${R[opendkim-x/$t]}") | $(pct "${R[opendkim-x/$t]}" "$c") |"
    fi
done
echo
for t in rsa ed25519; do
    k="RSA-2048"; [ "$t" = ed25519 ] && k="Ed25519"
    goal=$(awk -v a="${R[mamori/$t]:-}" -v r="${R[ratio/$t]:-}" -v o="${R[opendkim-x/$t]:-}" 'BEGIN {
        if (a == "" || r == "") { print "—"; exit }
        s = (r >= 50) ? "met" : "not met"
        if (o != "") s = s ", " ((a > o) ? "ahead of" : "behind") " opendkim"
        print s }')
    echo "- $k: mamori/opendkim $(ratio "${R[mamori/$t]:-}" "${R[opendkim-x/$t]:-}") (start-up subtracted);" \
        "target (≥ 50% of the ceiling, ahead of the peer): $goal;" \
        "key record parse + public key load alone: ${KEYUS[$t]:-—} µs of mamori's $(us "${R[mamori/$t]:-}") µs per message."
done
echo
echo "Raw lines:"
echo
echo '```'
for t in rsa ed25519; do
    [ -n "${RAW[$t]:-}" ] && printf '%s' "${RAW[$t]}"
    [ -n "${ODLINE[$t]:-}" ] && echo "opendkim $t: ${ODLINE[$t]}"
done
echo '```'
