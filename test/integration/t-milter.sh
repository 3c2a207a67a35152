#!/bin/bash
# t-milter.sh - mamorid's milter behind a private Postfix, end to end.
#
# A local authoritative DNS server (test/dns/zone-server.py) on loopback
# serves SPF, DKIM and DMARC records for a few test domains; mamorid runs
# the milter (milter_listen on a unix socket) with dns_upstream pointing at
# that server; Postfix gets smtpd_milters, milter_protocol = 6 and
# milter_default_action = tempfail (added to the main.cf lib.sh writes),
# plus an inbound smtpd service without SASL.
#
#   1. a forged message claiming a p=reject domain is refused, 550 5.7.1
#   2. legitimate signed mail passes and arrives with our
#      Authentication-Results (spf=pass, dkim=pass, dmarc=pass); a forged
#      Authentication-Results carrying our authserv-id is removed
#   3. our DKIM/DMARC verdicts match python3-authheaders on the same mail
#   4. authenticated outbound mail leaves DKIM-signed; dkimpy verifies it
#   5. DNS outage: 4xx (451 4.7.0), the message is not lost
#   6. mamorid down: Postfix tempfails (milter_default_action)
#   7. read back what the milter stored: the DMARC aggregate counts
#      (mamori dmarc, flushed at shutdown, summed over two runs) equal the
#      inbound messages sent; the correspondence log (sqlite3 on the store)
#      has one hashed m: row per outbound message and no plain address
#
# Every wait is bounded; every server listens on 127.0.0.1 only.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
it_init
$PY -c 'import dkim, dnslib' 2>/dev/null ||
	{ tap_skip 1 "python3-dkim or python3-dnslib missing"; tap_done; exit; }

set -- $(free_ports 2)
INBOUND_PORT=$1 DNS_PORT=$2
ZONE=$IT_DIR/zone.txt
KEYS=$IT_DIR/keys
DKIM_DIR=$IT_DIR/dkim
MILTER_SOCK=$MAMORI_DIR/milter.sock
AUTHSERV=mx.example.test
mkdir -p "$KEYS" "$DKIM_DIR/example.test"

# ---------------------------------------------------------------- keys, zone

# key_txt PEM: the DKIM TXT record of a private key, as tab-separated
# character-strings of at most 200 bytes (zone-server.py format).
key_txt() {
	$PY - "$1" <<'EOF'
import base64, subprocess, sys
der = subprocess.run(["openssl", "pkey", "-in", sys.argv[1], "-pubout",
                      "-outform", "DER"], capture_output=True,
                     check=True).stdout
txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
print("\t".join(txt[i:i + 200] for i in range(0, len(txt), 200)))
EOF
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$KEYS/legit.pem" 2>/dev/null || bail "openssl genpkey"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$DKIM_DIR/example.test/out.key" 2>/dev/null || bail "openssl genpkey"
chmod 0600 "$DKIM_DIR/example.test/out.key"

printf '%s\n' \
	"legit.example	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"_dmarc.legit.example	TXT	v=DMARC1; p=reject" \
	"sel._domainkey.legit.example	TXT	$(key_txt "$KEYS/legit.pem")" \
	"shop.example	TXT	v=spf1 ip4:192.0.2.1 -all" \
	"_dmarc.shop.example	TXT	v=DMARC1; p=reject" \
	"fresh.example	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"_dmarc.fresh.example	TXT	v=DMARC1; p=reject" \
	"example.test	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"_dmarc.example.test	TXT	v=DMARC1; p=reject" \
	"out._domainkey.example.test	TXT	$(key_txt "$DKIM_DIR/example.test/out.key")" \
	>"$ZONE"

DNS_PID=
dns_start() {
	$PY "$MAMORI_TOP/test/dns/zone-server.py" "$ZONE" "$DNS_PORT" 127.0.0.1 \
		>"$IT_DIR/dns.out" 2>"$IT_DIR/dns.err" &
	DNS_PID=$!
	disown "$DNS_PID"
	wait_for 10 'grep -q READY "$IT_DIR/dns.out"'
}
dns_stop() { stop_pid "$DNS_PID" 5; DNS_PID=; }
trap 'dns_stop; it_cleanup' EXIT

# ---------------------------------------------------------------- helpers


# What the milter should store, tallied as the script sends.
# AGG_WANT["DOMAIN|DMARC|DISPOSITION"]: inbound messages that got a final
# answer; a 4xx is not counted (the milter counts no tempfail).
declare -A AGG_WANT=()
# agg_note OUT DOMAIN DMARC DISPOSITION: count one inbound message whose
# smtp_send printed OUT.
agg_note() {
	case $1 in code=2* | code=5*) ;; *) return 0 ;; esac
	AGG_WANT["$2|$3|$4"]=$((${AGG_WANT["$2|$3|$4"]:-0} + 1))
}
# Outbound messages accepted: Message-ID, From address, To/Cc addresses.
OUT_MIDS=() OUT_FROMS=() OUT_RCPTS=()
# out_note OUT MESSAGE-ID FROM RCPT...: record one authenticated outbound
# message whose smtp_send printed OUT, if it was accepted.
out_note() {
	local out=$1 mid=$2 from=$3
	shift 3
	[[ $out == code=250* ]] || return 0
	OUT_MIDS+=("$mid") OUT_FROMS+=("$from") OUT_RCPTS+=("$*")
}

# make_msg FILE FROM ID [SIGN]: a message; SIGN=1 signs it for
# legit.example with dkimpy (relaxed/relaxed).
make_msg() {
	$PY - "$@" "$KEYS/legit.pem" <<'EOF'
import sys, dkim
path, frm, mid, sign, key = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
msg = ("From: Sender <%s>\r\nTo: bob@elsewhere.example\r\n"
       "Subject: milter test %s\r\nMessage-ID: <%s@test>\r\n"
       "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
       "X-Mamori-Test-Id: %s\r\n\r\nHello.\r\n" % (frm, mid, mid, mid)).encode()
if sign == "1":
    sig = dkim.sign(msg, b"sel", b"legit.example", open(key, "rb").read(),
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[b"from", b"to", b"subject",
                                     b"message-id", b"date"])
    msg = sig + msg
elif sign == "forge-ar":
    msg = b"Authentication-Results: mx.example.test; dmarc=pass\r\n" + msg
open(path, "wb").write(msg)
EOF
}

# sink_file ID: the sink dump holding test id ID.
sink_file() { sink_files | xargs -r grep -l "^X-Mamori-Test-Id: $1" 2>/dev/null | head -1; }

# A dnsfunc for dkimpy/authheaders that reads the zone file.
cat >"$IT_DIR/zonedns.py" <<'EOF'
import sys
ZONE = {}
def load(path):
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 3 and f[1] == "TXT":
            ZONE.setdefault(f[0].lower(), []).append("".join(f[2:]))
def get_txt(name, timeout=5):
    # dkimpy asks with bytes and wants bytes; authheaders' DMARC uses str.
    raw = isinstance(name, bytes)
    if raw:
        name = name.decode()
    r = ZONE.get(name.lower().rstrip("."))
    if not r:
        return None
    return r[0].encode() if raw else r[0]
EOF

# ---------------------------------------------------------------- start

dns_start || bail "zone server did not start"
milter_write_conf "$MILTER_SOCK" "$AUTHSERV" "$DNS_PORT" \
	"dkim_key_dir = $DKIM_DIR"
milter_it_start "$MILTER_SOCK" "$INBOUND_PORT"

# ---------------------------------------------------------------- 0. keygen asks mamorid

# A key made while mamorid runs is not signed with until a reload, and
# mamori dkim keygen says so (it asks GET /v1/dkim/DOMAIN/SELECTOR).
kg() { "$MAMORI_BIN" -c "$MAMORI_DIR/mamori.conf" --json dkim keygen keycheck.example "$@" --type ed25519 2>"$IT_DIR/kg.err"; }
tap_is "$(kg k1 | json_get mamorid)" not_loaded "keygen: a new key is not loaded by the running mamorid"
tap_ok 'grep -q "does not sign with this key yet: reload it" "$IT_DIR/kg.err"' "keygen: and says to reload it"
kill -HUP "$IT_PID_MAMORID"
wait_until 10 grep -q 'event=reloaded' "$MAMORI_LOG" || diag "no reload logged"
tap_is "$(kg k1 --force | json_get mamorid)" loaded "keygen: after SIGHUP mamorid signs with the selector"
tap_ok 'grep -q "does not sign with this key yet" "$IT_DIR/kg.err"' \
	"keygen: --force over a loaded key still says to reload (the old key is in use)"
kill -HUP "$IT_PID_MAMORID"

# ---------------------------------------------------------------- 1. forged

make_msg "$IT_DIR/forged.eml" ceo@shop.example forged0 0
out=$(smtp_send "$INBOUND_PORT" ceo@shop.example bob@elsewhere.example "$IT_DIR/forged.eml")
agg_note "$out" shop.example fail reject
diag "forged: $out"
tap_ok '[[ $out == "code=550 text=5.7.1"* ]]' "forged p=reject mail refused 550 5.7.1"
tap_ok '[[ $out == *"DMARC policy of shop.example"* ]]' "reply names the DMARC policy and domain"

# ---------------------------------------------------------------- 2. legit

make_msg "$IT_DIR/legit.eml" alice@legit.example legit1 1
out=$(smtp_send "$INBOUND_PORT" alice@legit.example bob@elsewhere.example "$IT_DIR/legit.eml")
agg_note "$out" legit.example pass none
tap_ok '[[ $out == code=250* ]]' "signed legit mail accepted ($out)"
wait_for 30 '[ -n "$(sink_file legit1)" ]'
f=$(sink_file legit1)
ar=$(sed -n '/^Authentication-Results: mx.example.test;/,/^[^ \t]/p' "$f" 2>/dev/null | tr -d '\r' | tr '\n' ' ')
diag "AR: $ar"
tap_ok '[[ $ar == *"spf=pass"* ]]' "AR spf=pass"
tap_ok '[[ $ar == *"dkim=pass header.d=legit.example"* ]]' "AR dkim=pass"
tap_ok '[[ $ar == *"dmarc=pass"* ]]' "AR dmarc=pass"
tap_ok 'grep -q "^Received-SPF: pass" "$f"' "Received-SPF added"

make_msg "$IT_DIR/forgear.eml" alice@legit.example forgear2 forge-ar
out=$(smtp_send "$INBOUND_PORT" alice@legit.example bob@elsewhere.example "$IT_DIR/forgear.eml")
agg_note "$out" legit.example pass none
wait_for 30 '[ -n "$(sink_file forgear2)" ]'
f=$(sink_file forgear2)
tap_is "$(grep -c '^Authentication-Results: mx.example.test;' "$f" 2>/dev/null)" 1 \
	"forged AR with our authserv-id removed, ours added"
tap_ok '! grep -q "mx.example.test; dmarc=pass$" "$f"' "the forged field is gone"

# ---------------------------------------------------------------- 3. authheaders

if $PY -c 'import authheaders' 2>/dev/null; then
	cmp=$($PY - "$IT_DIR" "$ZONE" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import zonedns, authheaders
zonedns.load(sys.argv[2])
for name in ("legit.eml", "forged.eml"):
    msg = open(sys.argv[1] + "/" + name, "rb").read()
    try:
        ar = authheaders.authenticate_message(msg, "oracle", spf=False,
                                              dnsfunc=zonedns.get_txt)
    except Exception as e:
        print("%s ERROR %s" % (name, e)); continue
    ar = ar.decode() if isinstance(ar, bytes) else ar
    get = lambda m: (ar.split(m + "=", 1)[1].split()[0].rstrip(";")
                     if m + "=" in ar else "none")
    print("%s dkim=%s dmarc=%s" % (name, get("dkim"), get("dmarc")))
EOF
)
	diag "authheaders: $(echo "$cmp" | tr '\n' '|')"
	if grep -q ERROR <<<"$cmp"; then
		tap_skip 2 "authheaders could not run with the zone file as DNS"
	else
		tap_ok 'grep -q "^legit.eml dkim=pass dmarc=pass" <<<"$cmp"' \
			"authheaders agrees: legit dkim=pass dmarc=pass"
		ours=$(grep 'event=milter_inbound' "$MAMORI_LOG" | grep 'from_domain=shop.example' | head -1)
		# authheaders writes dkim=fail for a message without any
		# signature (RFC 8601 says none); DMARC must agree exactly.
		tap_ok '[[ $ours == *"dkim=none dmarc=fail"* ]] && grep -Eq "^forged.eml dkim=(none|fail) dmarc=fail" <<<"$cmp"' \
			"authheaders agrees: forged unsigned, dmarc=fail"
	fi
else
	tap_skip 2 "python3-authheaders not installed"
fi

# ---------------------------------------------------------------- 4. outbound

$PY - "$IT_DIR/out.eml" <<'EOF'
import sys
open(sys.argv[1], "wb").write(
    b"From: Alice <alice@example.test>\r\nTo: carol@elsewhere.example\r\n"
    b"Subject: outbound\r\nMessage-ID: <out3@example.test>\r\n"
    b"X-Mamori-Test-Id: out3\r\n\r\nSigned by mamori.\r\n")
EOF
out=$(smtp_send "$SUBMIT_PORT" alice@example.test carol@elsewhere.example "$IT_DIR/out.eml" \
	alice@example.test "${IT_PASSWORD[alice@example.test]}")
out_note "$out" "<out3@example.test>" alice@example.test carol@elsewhere.example
tap_ok '[[ $out == code=250* ]]' "authenticated outbound accepted ($out)"
wait_for 30 '[ -n "$(sink_file out3)" ]'
f=$(sink_file out3)
tap_ok 'grep -q "^DKIM-Signature:.*d=example.test\|^DKIM-Signature:" "$f"' "outbound mail DKIM-signed"
v=$($PY - "$f" "$IT_DIR" "$ZONE" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
import dkim, zonedns
zonedns.load(sys.argv[3])
raw = open(sys.argv[1], "rb").read()
# smtp-sink dumps start with X-* envelope lines it adds; keep from the
# first DKIM-Signature on.
i = raw.find(b"DKIM-Signature:")
msg = raw[i:] if i >= 0 else raw
msg = msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
print("pass" if dkim.verify(msg, dnsfunc=zonedns.get_txt) else "fail")
EOF
)
tap_is "$v" pass "dkimpy verifies the outbound signature"
tap_ok 'grep -q "event=milter_outbound.*dkim_signed=yes" "$MAMORI_LOG"' "outbound logged as signed"

# ---------------------------------------------------------------- 5. DNS outage

dns_stop
make_msg "$IT_DIR/fresh.eml" alice@fresh.example fresh4 0
out=$(smtp_send "$INBOUND_PORT" alice@fresh.example bob@elsewhere.example "$IT_DIR/fresh.eml")
agg_note "$out" fresh.example temperror none
diag "dns outage: $out"
tap_ok '[[ $out == code=4* ]]' "DNS outage: 4xx tempfail"
tap_ok '[[ $out == *"4.7.0"* ]]' "DNS outage: 4.7.0"
tap_ok '[ -z "$(sink_file fresh4)" ] && [ "$(pf_hold_count)" -eq 0 ]' \
	"not delivered, not queued: the sender keeps it"

# ---------------------------------------------------------------- 6. mamorid down

mamorid_stop
out=$(smtp_send "$INBOUND_PORT" alice@legit.example bob@elsewhere.example "$IT_DIR/legit.eml")
diag "mamorid down: $out"
tap_ok '[[ $out == code=4* ]]' "mamorid down: Postfix tempfails (milter_default_action)"

# ---------------------------------------------------------------- 7. read back

# agg_got: the aggregate as "DOMAIN|DMARC|DISPOSITION COUNT" lines, summed
# over days and sources (a run across midnight UTC splits the rows).
agg_got() {
	mamori --json dmarc 2>/dev/null | $PY -c '
import json, sys
sums = {}
for r in json.load(sys.stdin)["rows"]:
    k = "%s|%s|%s" % (r["header_from"], r["dmarc"], r["disposition"])
    sums[k] = sums.get(k, 0) + r["count"]
for k in sorted(sums):
    print(k, sums[k])
'
}
agg_want() {
	local k
	for k in "${!AGG_WANT[@]}"; do echo "$k ${AGG_WANT[$k]}"; done | sort
}
# agg_want_total [DOMAIN]: the messages counted, all or of one domain.
agg_want_total() {
	local k n=0
	for k in "${!AGG_WANT[@]}"; do
		[ -z "${1:-}" ] || [[ $k == "$1|"* ]] || continue
		n=$((n + AGG_WANT[$k]))
	done
	echo "$n"
}

# mamorid_stop above flushed the counts; a restart reads them back.
mamorid_start "$MAMORI_DIR/mamori.conf" || bail "mamorid did not restart"
wait_until 10 test -S "$MILTER_SOCK" || bail "no milter socket after restart"
diag "want: $(agg_want | tr '\n' ' ')"
tap_ok '[ "$(agg_want_total)" -gt 0 ]' "the script sent inbound mail with a final answer"
tap_is "$(agg_got)" "$(agg_want)" \
	"dmarc aggregate after a restart: counts per From domain and result equal what was sent (no tempfail)"
j=$(mamori --json dmarc)
tap_is "$(json_get totals.messages <<<"$j")" "$(agg_want_total)" "dmarc totals: messages"
tap_is "$(json_get skipped <<<"$j")" 0 "dmarc: no stored row was unreadable"
tap_is "$($PY -c 'import json,sys; print(sorted({r["source_ip"] for r in json.load(sys.stdin)["rows"]}))' <<<"$j")" \
	"['127.0.0.1']" "dmarc rows carry the client address"

# A second run on top: its flush must add to the stored rows.
dns_start || bail "zone server did not restart"
for i in 1 2 3; do
	make_msg "$IT_DIR/legit-$i.eml" alice@legit.example "legit7$i" 1
	out=$(smtp_send "$INBOUND_PORT" alice@legit.example bob@elsewhere.example "$IT_DIR/legit-$i.eml")
	agg_note "$out" legit.example pass none
done
for i in 1 2; do
	make_msg "$IT_DIR/forged-$i.eml" ceo@shop.example "forged7$i" 0
	out=$(smtp_send "$INBOUND_PORT" ceo@shop.example bob@elsewhere.example "$IT_DIR/forged-$i.eml")
	agg_note "$out" shop.example fail reject
done
make_msg "$IT_DIR/fresh7.eml" alice@fresh.example fresh7 0
out=$(smtp_send "$INBOUND_PORT" alice@fresh.example bob@elsewhere.example "$IT_DIR/fresh7.eml")
agg_note "$out" fresh.example pass none
tap_ok '[[ $out == code=250* ]]' "second run: SPF-aligned mail of a third domain accepted ($out)"

# Outbound with To and Cc in mixed case, for the correspondence log.
printf '%s\r\n' 'From: "Alice A." <Alice@Example.Test>' \
	'To: Carol <Carol.Seven@Elsewhere.Example>' \
	'Cc: dave.cconly@third.example' 'Subject: outbound with cc' \
	'Message-ID: <out7.X@example.test>' 'X-Mamori-Test-Id: out7' '' \
	'Hello again.' >"$IT_DIR/out7.eml"
out=$(smtp_send "$SUBMIT_PORT" alice@example.test carol.seven@elsewhere.example "$IT_DIR/out7.eml" \
	alice@example.test "${IT_PASSWORD[alice@example.test]}")
out_note "$out" "<out7.X@example.test>" alice@example.test \
	carol.seven@elsewhere.example dave.cconly@third.example
tap_ok '[[ $out == code=250* ]]' "outbound with Cc accepted ($out)"

mamorid_stop
mamorid_start "$MAMORI_DIR/mamori.conf" || bail "mamorid did not restart"
diag "want: $(agg_want | tr '\n' ' ')"
tap_is "$(agg_got)" "$(agg_want)" \
	"dmarc aggregate after two runs: the second flush added to the stored rows"
tap_is "$(mamori --json dmarc --domain LEGIT.example | json_get totals.messages)" \
	"$(agg_want_total legit.example)" "mamori dmarc --domain: that domain's messages, any case"

# The table: by count, largest first; then the totals.
txt=$(mamori dmarc)
diag "$(head -3 <<<"$txt")"
counts=$(awk 'NR > 1 && NF == 0 { exit } NR > 1 { print $NF }' <<<"$txt")
tap_ok '[[ $(head -1 <<<"$txt") == DAY*SOURCE*COUNT ]]' "mamori dmarc: a table with a header"
tap_is "$(grep -c . <<<"$counts")" "$(mamori --json dmarc | json_get rows.#)" \
	"mamori dmarc: one line per row"
tap_is "$counts" "$(sort -nr <<<"$counts")" "mamori dmarc: sorted by count, largest first"
tap_ok 'grep -q "^total: $(agg_want_total) messages" <<<"$txt"' "mamori dmarc: the total"
day=$(mamori --json dmarc | json_get rows.0.day)
tap_is "$(mamori --json dmarc --day "$day" | $PY -c 'import json,sys; print({r["day"] for r in json.load(sys.stdin)["rows"]})')" \
	"{'$day'}" "mamori dmarc --day: only that day"
mamori dmarc --day junk >/dev/null 2>&1
tap_is $? 2 "mamori dmarc --day junk: usage error"
mamori dmarc --day 2026-02-30 >/dev/null 2>&1
tap_is $? 1 "mamori dmarc --day 2026-02-30: refused by the server"

# The correspondence log, read straight from the SQLite file.
mamorid_stop
DB=$MAMORI_DIR/state.db
corr_salt=$(sqlite3 "$DB" "SELECT value FROM kv WHERE ns = 'corr' AND key = 'salt'")
tap_ok '[[ $corr_salt =~ ^[0-9a-f]{64}$ ]]' "corr: the install's salt is stored"
# h X: the hash the milter writes for X (docs/design/milter.md).
h() { printf '%s:%s' "$corr_salt" "$1" | sha256sum | cut -c1-64; }
tap_is "$(sqlite3 "$DB" "SELECT count(*) FROM kv WHERE ns = 'corr' AND key LIKE 'm:%'")" \
	"${#OUT_MIDS[@]}" "corr: one m: row per outbound message (${#OUT_MIDS[@]})"
for i in "${!OUT_MIDS[@]}"; do
	mid=${OUT_MIDS[$i]}
	v=$(sqlite3 "$DB" "SELECT value FROM kv WHERE ns = 'corr' AND key = 'm:$(h "$mid")'")
	tap_ok '[ -n "$v" ]' "corr: the m: row of $mid is keyed by its hash"
	tap_is "$(json_get from <<<"$v")" "$(h "${OUT_FROMS[$i]}")" "corr: $mid: from is the hashed sender"
	want=$(for a in ${OUT_RCPTS[$i]}; do h "$a"; done | sort)
	tap_is "$(json_get rcpt <<<"$v" | $PY -c 'import json,sys; print("\n".join(sorted(json.load(sys.stdin))))')" \
		"$want" "corr: $mid: rcpt holds the hashed To/Cc addresses"
	n=0
	for a in ${OUT_RCPTS[$i]}; do
		n=$((n + $(sqlite3 "$DB" "SELECT count(*) FROM kv WHERE ns = 'corr' AND key = 'p:$(h "${OUT_FROMS[$i]}"):$(h "$a")'")))
	done
	tap_is "$n" "$(wc -w <<<"${OUT_RCPTS[$i]}")" "corr: $mid: a p: row per participant"
done
rows=$(sqlite3 "$DB" "SELECT key || ' ' || value FROM kv WHERE ns = 'corr'")
leaks=
for a in "${OUT_FROMS[@]}" ${OUT_RCPTS[*]} "${OUT_MIDS[@]}"; do
	a=${a#<} a=${a%>}
	for w in "$a" "${a%@*}"; do
		grep -qiF -- "$w" <<<"$rows" && leaks+=" $w"
	done
done
tap_is "$leaks" "" "corr: no plain address, local part or Message-ID in the rows"
tap_ok '! cat "$DB"* | grep -aqi "dave.cconly"' \
	"a Cc-only address is nowhere in the database files"

tap_done
