#!/bin/bash
# t-corpus.sh - robustness sweep (issue 10): every file of
# ../shared/corpora/mime-samples (441 MIME torture, malformed, huge, deeply
# nested and multi-charset messages, mboxes and fixtures) through
# `mamori scan --json`, each in its own process:
#
#   1. every scan ends within its bound (timeout 20 s: no hang)
#   2. every scan exits 0 with a verdict (exit 1 is only for an unreadable
#      file; a crash is a signal, 128+N)
#   3. every verdict is one JSON object with a known action
#   4. peak RSS of every scan under 512 MB (1.5 GB against build-asan/)
#   5. no sanitizer report (against build-asan/, run-tests)
#
# DNS: test/dns/zone-server.py on 127.0.0.1 with a zone of one unrelated
# name, so every question is NXDOMAIN at once.  No Postfix.  Two scans at a
# time; about 15 s (45 s with ASan) on the 2-core machine.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
it_init
$PY -c 'import dnslib' 2>/dev/null ||
	{ tap_skip 1 "python3-dnslib missing"; tap_done; exit; }
MAMORI_SHARED=${MAMORI_SHARED:-$MAMORI_TOP/../shared}
CORPUS=$MAMORI_SHARED/corpora/mime-samples
[ -d "$CORPUS" ] || { tap_skip 1 "$CORPUS missing"; tap_done; exit; }
[ -x /usr/bin/time ] || { tap_skip 1 "/usr/bin/time missing"; tap_done; exit; }

DNS_PORT=$SPARE_PORT
printf 'corpus.invalid\tTXT\tnothing\n' >"$IT_DIR/zone.txt"
trap 'zone_stop; it_cleanup' EXIT
zone_start "$IT_DIR/zone.txt" "$DNS_PORT" || bail "zone server did not start"
cat >"$IT_DIR/scan.conf" <<EOF
authserv_id = mx.corpus.test
dns_upstream = 127.0.0.1@$DNS_PORT
dns_timeout_ms = 2000
EOF

# An ASan build maps terabytes of shadow and keeps redzones: more RSS.
RSS_MAX_KB=524288
nm "$MAMORI_BIN" 2>/dev/null | grep -q __asan_init && RSS_MAX_KB=1572864

mkdir -p "$IT_DIR/out"
find "$CORPUS" -type f -print0 | sort -z >"$IT_DIR/files"
total=$(tr -cd '\0' <"$IT_DIR/files" | wc -c)
[ "$total" -gt 400 ] || bail "only $total files in $CORPUS"
# One scan: NAME<TAB>EXIT<TAB>SECONDS<TAB>MAXRSS_KB into out/N.tsv, the
# verdict into out/N.json, stderr into out/N.err.
export MAMORI_BIN IT_DIR
start=$(date +%s)
tr '\0' '\n' <"$IT_DIR/files" | nl -ba -w1 -s$'\t' |
	tr '\n' '\0' | xargs -0 -P 2 -n 1 bash -c '
	n=${1%%$'"'\t'"'*}; f=${1#*$'"'\t'"'}
	o=$IT_DIR/out/$n
	/usr/bin/time -o "$o.time" -f "%e\t%M" timeout -s KILL 20 \
		"$MAMORI_BIN" -c "$IT_DIR/scan.conf" scan --json "$f" \
		>"$o.json" 2>"$o.err"
	rc=$?
	printf "%s\t%s\t%s\n" "$f" "$rc" "$(tail -n 1 "$o.time")" >"$o.tsv"
' _
diag "$total files, $(($(date +%s) - start)) s"

cat "$IT_DIR"/out/*.tsv >"$IT_DIR/all.tsv"
tap_is "$(wc -l <"$IT_DIR/all.tsv" | tr -d ' ')" "$total" "every file was scanned"
# timeout -s KILL: exit 137 (and time reports "Command terminated by
# signal 9" on its first line, which tail skips).
awk -F'\t' '$2 == 137 || $2 == 124' "$IT_DIR/all.tsv" >"$IT_DIR/hung"
sed 's/^/# hung: /' "$IT_DIR/hung" | head
tap_is "$(wc -l <"$IT_DIR/hung" | tr -d ' ')" 0 "no scan runs past 20 s"
awk -F'\t' '$2 != 0' "$IT_DIR/all.tsv" >"$IT_DIR/bad-exit"
sed 's/^/# exit: /' "$IT_DIR/bad-exit" | head
tap_is "$(wc -l <"$IT_DIR/bad-exit" | tr -d ' ')" 0 "every scan exits 0 with a verdict"
$PY - "$IT_DIR/out" >"$IT_DIR/bad-json" <<'EOF'
import glob, json, sys
for p in sorted(glob.glob(sys.argv[1] + "/*.json")):
    try:
        v = json.load(open(p, "rb"))
        ok = isinstance(v, dict) and v.get("action") in (
            "accept", "tag", "hold", "reject", "tempfail", "discard",
            "quarantine")
    except ValueError:
        ok = False
    if not ok:
        print(p)
EOF
sed 's/^/# not a verdict: /' "$IT_DIR/bad-json" | head
tap_is "$(wc -l <"$IT_DIR/bad-json" | tr -d ' ')" 0 "every output is a JSON verdict with a known action"
awk -F'\t' -v m="$RSS_MAX_KB" '$4 + 0 > m' "$IT_DIR/all.tsv" >"$IT_DIR/fat"
sed 's/^/# rss: /' "$IT_DIR/fat" | head
sort -t$'\t' -k4,4n "$IT_DIR/all.tsv" | tail -n 1 |
	awk -F'\t' '{ printf "# largest peak RSS: %d KB (%s, %.2f s)\n", $4, $1, $3 }'
sort -t$'\t' -k3,3g "$IT_DIR/all.tsv" | tail -n 1 |
	awk -F'\t' '{ printf "# slowest: %.2f s (%s)\n", $3, $1 }'
tap_is "$(wc -l <"$IT_DIR/fat" | tr -d ' ')" 0 "every scan's peak RSS is under $((RSS_MAX_KB / 1024)) MB"
tap_ok '! grep -lE "ERROR: AddressSanitizer|runtime error:" "$IT_DIR"/out/*.err' \
	"no sanitizer report from any scan"

tap_done
