#!/usr/bin/env bash
# run-content-eval.sh - content quality evaluation (issue 10): every message
# of the SpamAssassin public corpus sets easy-ham-1, hard-ham-1 and spam-1
# and of phishing-pot-subset through `mamori scan --json`, offline, and the
# table of scam labels and actions per set (bench/content-eval.py prints
# it; docs/benchmarks.md, "Content quality").
#
# Offline: test/dns/zone-server.py on 127.0.0.1 with a zone of one unrelated
# name, so every question is answered NXDOMAIN at once (no SPF, DKIM key or
# DMARC record exists: historical SPF and DKIM cannot be checked anyway,
# and the verdict rests on content).  No --ip: SPF is not evaluated.  A
# dead resolver would instead give DMARC temperror and "tempfail" for
# every message.  Never fetches anything (the phishing URLs are live).
#
# Environment (defaults): BUILD (<repo>/build), MAMORI (a mamori binary
# instead of building BUILD's), MAMORI_SHARED (<repo>/../shared), JOBS (2),
# TIMEOUT (30 s per message), EXTRA_CONF (lines appended to the scan's
# configuration, e.g. content thresholds), OUT (per-message JSON lines;
# default BUILD/content-eval.jsonl), ONLY (space-separated set names:
# phishing-pot spam-1 easy-ham-1 hard-ham-1), LIMIT (files per set).
# Markdown on stdout, progress on stderr.  About 2 minutes on 2 cores.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MAMORI_SHARED=${MAMORI_SHARED:-$ROOT/../shared}
JOBS=${JOBS:-2}
TIMEOUT=${TIMEOUT:-30}
OUT=${OUT:-$BUILD/content-eval.jsonl}
PY=/usr/bin/python3

log() { printf '%s\n' "$*" >&2; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"     # mamori_cli
mamori_cli

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mamori-content-eval.XXXXXX")
DNS_PID=""
cleanup() {
    [ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port free for both UDP and TCP.
free_port() {
    local p
    for p in $(seq 25960 26100); do
        if [ -z "$(ss -Htuln "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
    done
    return 1
}

PORT=$(free_port)
printf 'content-eval.invalid\tTXT\tnothing here\n' >"$TMP/zone.txt"
"$PY" "$ROOT/test/dns/zone-server.py" "$TMP/zone.txt" "$PORT" 127.0.0.1 \
    >"$TMP/dns.out" 2>&1 &
DNS_PID=$!
for _ in $(seq 1 100); do grep -q READY "$TMP/dns.out" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$TMP/dns.out" || { log "zone server did not start:"; cat "$TMP/dns.out" >&2; exit 1; }

cat >"$TMP/scan.conf" <<EOF
# bench/run-content-eval.sh: offline scan, every DNS answer NXDOMAIN
authserv_id = mx.content-eval.test
dns_upstream = 127.0.0.1@$PORT
dns_timeout_ms = 2000
${EXTRA_CONF:-}
EOF

only=()
for s in ${ONLY:-}; do only+=(--only "$s"); done
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
log "== scanning (mamori $MAMORI, $JOBS jobs)"
echo "## Content quality ($(date -u +%Y-%m-%dT%H:%MZ), commit $commit, $(nproc) cores)"
echo
rc=0
"$PY" "$ROOT/bench/content-eval.py" "$MAMORI" "$TMP/scan.conf" "$MAMORI_SHARED" \
    --jobs "$JOBS" --timeout "$TIMEOUT" --out "$OUT" ${LIMIT:+--limit "$LIMIT"} \
    "${only[@]}" || rc=$?
log "== per-message verdicts in $OUT"
exit "$rc"
