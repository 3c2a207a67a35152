#!/usr/bin/env bash
# run-dmarc-ingest-bench.sh - DMARC aggregate report ingest (issue 11):
# `mamori dmarc ingest` beside Debian's Mail::DMARC (libmail-dmarc-perl,
# its dmarc_receive --file path) on the same inputs, in one run.
#
# Inputs (cached in CACHE, made once):
#   day    REPORTS messages (10,000) from bench/dmarc-report-gen.py with
#          its fixed seed: a hosting provider's rua mailbox for one day
#          (gzip and zip attachments, 1-1,000 records, ~140,000 in all)
#   large  the corpus's 2,286-record report (909 KB of XML), gzipped into a
#          message the same way, ingested alone
# Each tool gets a fresh SQLite store in STORE_DIR and reads the messages
# in one process: `mamori -c CONF dmarc ingest --store sqlite:DB DIR` and
# bench/dmarc-ingest-maildmarc.pl (Mail::DMARC::Report::Receive->from_file
# per message into its SQL store).  Wall time, CPU and peak RSS from
# /usr/bin/time; the records stored are counted in each database
# afterwards, so a tool that skipped work would show it.
#
# parsedmarc is not in Debian 12 (pip only), hence Mail::DMARC.  Mail::DMARC
# reads RFC 7489 XML without a namespace only, which is what the generator
# writes.
#
# Environment (defaults): BUILD (<repo>/build), MAMORI (a binary instead of
# BUILD's), CACHE (BUILD/dmarc-bench), REPORTS (10000), STORE_DIR
# (/dev/shm when it exists: both SQLite stores on tmpfs, so the rows
# measure parsing and database work, not this VM's disk, where Mail::DMARC
# waits on an fsync per row; STORE_DIR=/tmp to include the disk), PEERS
# ("mamori maildmarc"), MAMORI_SHARED (<repo>/../shared).
# Markdown on stdout, progress on stderr.  About 4 minutes (Mail::DMARC
# takes most of it; the first run adds ~1 min to generate the messages).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CACHE=${CACHE:-$BUILD/dmarc-bench}
REPORTS=${REPORTS:-10000}
PEERS=${PEERS:-mamori maildmarc}
MAMORI_SHARED=${MAMORI_SHARED:-$ROOT/../shared}
if [ -z "${STORE_DIR:-}" ]; then
    STORE_DIR=/tmp
    [ -d /dev/shm ] && [ -w /dev/shm ] && STORE_DIR=/dev/shm
fi
PY=/usr/bin/python3
LARGE="$MAMORI_SHARED/corpora/dmarc-reports/parsedmarc/samples/aggregate/!large-example.com!1711897200!1711983600.xml"

log() { printf '%s\n' "$*" >&2; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"     # cpu_busy_pct, mamori_cli

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
START=$(date -u +%Y-%m-%dT%H:%MZ)
mamori_cli
TMP=$(mktemp -d "$STORE_DIR/mamori-dmarc-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

DAY=$CACHE/day-$REPORTS
if [ ! -f "$DAY/.done" ]; then
    log "== generating $REPORTS reports into $DAY (bench/dmarc-report-gen.py)"
    rm -rf "$DAY"; mkdir -p "$CACHE"
    "$PY" "$ROOT/bench/dmarc-report-gen.py" "$DAY" --reports "$REPORTS" >"$CACHE/gen-$REPORTS.txt"
    touch "$DAY/.done"
fi
GEN=$(cat "$CACHE/gen-$REPORTS.txt")
if [ ! -s "$CACHE/large/large.eml" ] && [ -r "$LARGE" ]; then
    mkdir -p "$CACHE/large"
    "$PY" - "$LARGE" "$CACHE/large/large.eml" <<'EOF'
import email.message, email.policy, gzip, sys
m = email.message.EmailMessage(policy=email.policy.SMTP)
m["From"] = "noreply-dmarc@large.example"
m["To"] = "dmarc-rua@provider.example"
m["Subject"] = "Report Domain: example.com Submitter: large.example Report-ID: <large-1>"
m.set_content("Aggregate report attached.\n")
m.add_attachment(gzip.compress(open(sys.argv[1], "rb").read(), mtime=0),
                 maintype="application", subtype="gzip",
                 filename="large.example!example.com!1711897200!1711983600.xml.gz")
m.set_boundary("=_large")
open(sys.argv[2], "wb").write(m.as_bytes())
EOF
fi

MD_OK=1
perl -MMail::DMARC::Report::Receive -e 1 2>/dev/null || MD_OK=0
if [ "$MD_OK" = 0 ]; then
    log "== Mail::DMARC missing: apt-get install -y libmail-dmarc-perl"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
        --no-install-recommends libmail-dmarc-perl >&2 || true
    perl -MMail::DMARC::Report::Receive -e 1 2>/dev/null && MD_OK=1
fi
MD_VERSION=$(perl -MMail::DMARC -e 'print $Mail::DMARC::VERSION' 2>/dev/null || echo "?")

printf 'log_level = warn\n' >"$TMP/mamori.conf"

declare -A ROW
# run TOOL INPUT NAME: one ingest, fills ROW[NAME].
run() {
    local tool=$1 in=$2 name=$3 db=$TMP/$1-$3.sqlite t rows files
    rm -f "$db"*
    files=$(find "$in" -maxdepth 1 -type f ! -name '.*' | wc -l)
    log "== $tool: $name ($files messages)"
    case $tool in
        mamori)
            /usr/bin/time -o "$TMP/time" -f '%e %U %S %M' \
                "$MAMORI" -c "$TMP/mamori.conf" dmarc ingest --store "sqlite:$db" "$in" \
                >/dev/null 2>"$TMP/err" || true
            rows=$(sqlite3 -readonly "$db" "select count(*) from kv where ns = 'dmarc_rep';" 2>/dev/null || echo "?")
            t=$(grep 'dmarc ingest:' "$TMP/err" | sed 's/.*ingest: //' || true)
            ;;
        maildmarc)
            printf '[organization]\ndomain = provider.example\norg_name = bench\nemail = noreply@provider.example\n[report_store]\nbackend = SQL\ndsn = dbi:SQLite:dbname=%s\nuser =\npass =\nauto_save = 0\n' \
                "$db" >"$TMP/md.ini"
            MAIL_DMARC_CONFIG_FILE=$TMP/md.ini /usr/bin/time -o "$TMP/time" -f '%e %U %S %M' \
                perl "$ROOT/bench/dmarc-ingest-maildmarc.pl" "$in" >/dev/null 2>"$TMP/err" || true
            rows=$(sqlite3 -readonly "$db" "select count(*) from report_record;" 2>/dev/null || echo "?")
            t=$(grep '^maildmarc files=' "$TMP/err" | tail -n 1 || true)
            ;;
    esac
    read -r wall user sys rss < <(tail -n 1 "$TMP/time")
    log "   $wall s, user $user s, sys $sys s, $rss KB; $t; $rows records in the store"
    ROW[$name/$tool]=$(awk -v n="$files" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v rows="$rows" -v t="$t" \
        'BEGIN { printf "%d | %.2f | %.0f | %.2f | %.1f | %s | %s", n, w, (w > 0) ? n / w : 0, u + s, r / 1024, rows, t }')
}

BUSY=$(cpu_busy_pct)
log "== the machine was ${BUSY}% busy before the run"
for tool in $PEERS; do
    [ "$tool" = maildmarc ] && [ "$MD_OK" = 0 ] && continue
    run "$tool" "$DAY" day
    [ -s "$CACHE/large/large.eml" ] && run "$tool" "$CACHE/large" large
done

echo "## DMARC ingest ($START to $(date -u +%H:%MZ), commit $commit, $(nproc) cores, stores in $STORE_DIR, ${BUSY}% busy before)"
echo
echo "Inputs: day = $GEN (bench/dmarc-report-gen.py, seed 20261206); large = the corpus's 2,286-record report, gzipped in a message."
echo
echo "| tool | input | messages | wall s | reports/s | CPU s | peak RSS MB | records stored | its summary |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
for name in day large; do
    for tool in $PEERS; do
        [ -n "${ROW[$name/$tool]:-}" ] || continue
        case $tool in
            mamori) label="mamori dmarc ingest ($commit)" ;;
            maildmarc) label="Mail::DMARC $MD_VERSION (dmarc_receive --file path)" ;;
        esac
        echo "| $label | $name | ${ROW[$name/$tool]} |"
    done
done
[ "$MD_OK" = 1 ] || echo "Mail::DMARC: not installed (apt-get install libmail-dmarc-perl failed)."
