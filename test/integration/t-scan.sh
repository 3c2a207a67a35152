#!/bin/bash
# t-scan.sh - `mamori scan FILE`: the milter's inbound verdict for a message
# file, with real DNS (libunbound through dns_blocking) against a local
# authoritative server (test/dns/zone-server.py) on loopback.
#
#   1. a DKIM-signed message from an aligned address passes SPF, DKIM and
#      DMARC; --json gives the same verdict as an object
#   2. the same message forged (body changed, foreign client) fails DKIM
#      and DMARC and would be refused 550 5.7.1 (p=reject)
#   3. a forged Authentication-Results with our authserv-id is reported
#      as removed
#   4. DNS outage: the verdict is tempfail 451 4.7.0, never a pass or fail
#   5. bad input: a missing file, no file, binary junk: clear errors or a
#      verdict, never a crash
#   5b. the content verdict: --json gives action, score, labels, reasons
#      ({name, label, points, detail}) and auth for a look-alike phishing
#      message, and an empty verdict for the clean one; the text output
#      lists the reasons
#   6. the 639 messages of ../shared/corpora/phishing-pot-subset, each
#      scanned once: the header field count agrees with Python's email
#      parser on every message it parses without defects, the From domain
#      wherever Python's RFC 5322 parser finds exactly one address with a
#      DNS-shaped domain and no defect (elsewhere mamori's choices are its
#      own: src/mail/dmarc_from.c), and DKIM is "none" exactly when a
#      message has no DKIM-Signature field
#
# No Postfix here.  Every wait is bounded; the DNS server listens on
# 127.0.0.1 only.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
it_init
$PY -c 'import dkim, dnslib' 2>/dev/null ||
	{ tap_skip 1 "python3-dkim or python3-dnslib missing"; tap_done; exit; }

DNS_PORT=$SPARE_PORT
ZONE=$IT_DIR/zone.txt
KEYS=$IT_DIR/keys
CONF=$IT_DIR/scan.conf
AUTHSERV=mx.scan.test
MAMORI_SHARED=${MAMORI_SHARED:-$MAMORI_TOP/../shared}
CORPUS=$MAMORI_SHARED/corpora/phishing-pot-subset/email
mkdir -p "$KEYS"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$KEYS/legit.pem" 2>/dev/null || bail "openssl genpkey"
P=$(openssl pkey -in "$KEYS/legit.pem" -pubout -outform DER 2>/dev/null |
	base64 -w0)
TXT="v=DKIM1; k=rsa; p=$P"
printf '%s\n' \
	"legit.example	TXT	v=spf1 ip4:192.0.2.10 -all" \
	"_dmarc.legit.example	TXT	v=DMARC1; p=reject" \
	"sel._domainkey.legit.example	TXT	${TXT:0:200}	${TXT:200}" \
	>"$ZONE"

trap 'zone_stop; it_cleanup' EXIT
zone_start "$ZONE" "$DNS_PORT" || bail "zone server did not start"

printf 'mizuho-bank.co.jp Mizuho\n' >"$IT_DIR/protected"
cat >"$CONF" <<EOF
authserv_id = $AUTHSERV
dns_upstream = 127.0.0.1@$DNS_PORT
dns_timeout_ms = 2000
lookalike_protected_file = $IT_DIR/protected
EOF

# scan ARGS...: mamori scan with the test configuration, bounded.
scan() { timeout 60 "$MAMORI_BIN" -c "$CONF" scan "$@"; }

# make_msg FILE BODY [forge-ar]: a message from a@legit.example signed by
# dkimpy over the body "Hello." (the body written may differ: a forgery).
make_msg() {
	$PY - "$@" "$KEYS/legit.pem" <<'EOF'
import sys, dkim
path, body, extra, key = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
head = (b"From: Alice <a@legit.example>\r\nTo: bob@scan.test\r\n"
        b"Subject: quarterly\r\n numbers\r\nMessage-ID: <1@legit.example>\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n")
sig = dkim.sign(head + b"\r\nHello.\r\n", b"sel", b"legit.example",
                open(key, "rb").read(),
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[b"from", b"to", b"subject", b"message-id",
                                 b"date"])
msg = sig + head + b"\r\n" + body.encode() + b"\r\n"
if extra == "forge-ar":
    msg = b"Authentication-Results: mx.scan.test; dmarc=pass\r\n" + msg
open(path, "wb").write(msg)
EOF
}

field() { json_get "$1" <"$2"; }

# ---------------------------------------------------------------- 1. pass

make_msg "$IT_DIR/good.eml" "Hello." -
scan --ip 192.0.2.10 --mail-from a@legit.example --helo mta.legit.example \
	"$IT_DIR/good.eml" >"$IT_DIR/good.txt" 2>&1
tap_is "$?" 0 "scan of signed, aligned mail exits 0"
grep -A4 '^Authentication-Results' "$IT_DIR/good.txt" | tr -d '\n\t' >"$IT_DIR/good.ar"
tap_ok 'grep -q "^Authentication-Results: $AUTHSERV;.*spf=pass smtp.mailfrom=a@legit.example.*dkim=pass header.d=legit.example.*dmarc=pass" "$IT_DIR/good.ar"' \
	"the AR value carries spf=pass, dkim=pass, dmarc=pass in order"
tap_ok 'grep -q "^action: *accept" "$IT_DIR/good.txt"' "action accept"
tap_ok 'grep -q "^Received-SPF: pass (mx.scan.test: domain of a@legit.example designates 192.0.2.10" "$IT_DIR/good.txt"' "Received-SPF pass, naming the client"
scan --json --ip 192.0.2.10 --mail-from a@legit.example "$IT_DIR/good.eml" \
	>"$IT_DIR/good.json" 2>>"$IT_DIR/scan.err"
tap_is "$(field dkim "$IT_DIR/good.json")" pass "--json: dkim"
tap_is "$(field dmarc "$IT_DIR/good.json")" pass "--json: dmarc"
tap_is "$(field header_fields "$IT_DIR/good.json")" 6 "--json: header fields (folded Subject is one)"
tap_is "$(field from_domain "$IT_DIR/good.json")" legit.example "--json: from domain"
# The same file with LF line ends, read from standard input.
tr -d '\r' <"$IT_DIR/good.eml" | scan --json --ip 192.0.2.10 \
	--mail-from a@legit.example - >"$IT_DIR/lf.json" 2>>"$IT_DIR/scan.err"
tap_is "$(field dkim "$IT_DIR/lf.json")" pass "LF file on stdin: dkim still passes"

# ---------------------------------------------------------------- 2. forged

make_msg "$IT_DIR/forged.eml" "Please pay the invoice to account 1234." -
scan --json --ip 198.51.100.1 --mail-from a@legit.example \
	"$IT_DIR/forged.eml" >"$IT_DIR/forged.json" 2>>"$IT_DIR/scan.err"
tap_is "$(field spf "$IT_DIR/forged.json")" fail "forged: spf fail"
tap_is "$(field dkim "$IT_DIR/forged.json")" fail "forged: dkim fail (body changed)"
tap_is "$(field dmarc "$IT_DIR/forged.json")" fail "forged: dmarc fail"
tap_is "$(field action "$IT_DIR/forged.json")" reject "forged: would be rejected"
tap_ok 'grep -q '\''"reply": "550 5.7.1 .*legit.example'\'' "$IT_DIR/forged.json"' "forged: reply 550 5.7.1 naming the domain"

# ---------------------------------------------------------------- 3. forged AR

make_msg "$IT_DIR/ar.eml" "Hello." forge-ar
scan --json --ip 192.0.2.10 --mail-from a@legit.example "$IT_DIR/ar.eml" \
	>"$IT_DIR/ar.json" 2>>"$IT_DIR/scan.err"
tap_is "$(field removed.0.name "$IT_DIR/ar.json") $(field removed.0.index "$IT_DIR/ar.json")" "Authentication-Results 1" "a forged AR with our id is removed"

# ---------------------------------------------------------------- 4. DNS outage

zone_stop
scan --json --ip 192.0.2.10 --mail-from a@legit.example "$IT_DIR/good.eml" \
	>"$IT_DIR/outage.json" 2>"$IT_DIR/outage.err"
tap_is "$?" 0 "DNS down: exit 0 with a verdict"
tap_is "$(field action "$IT_DIR/outage.json")" tempfail "DNS down: tempfail, not pass or fail"
tap_ok 'grep -q '\''"reply": "451 4.7.0'\'' "$IT_DIR/outage.json"' "DNS down: 451 4.7.0"
zone_start "$ZONE" "$DNS_PORT" || bail "zone server did not restart"

# ---------------------------------------------------------------- 5. bad input

scan "$IT_DIR/no-such.eml" >/dev/null 2>"$IT_DIR/missing.err"
tap_is "$?" 1 "missing file: exit 1"
tap_ok 'grep -q "no-such.eml: No such file" "$IT_DIR/missing.err"' "missing file: says why"
scan >/dev/null 2>"$IT_DIR/usage.err"
tap_is "$?" 2 "no file: usage error, exit 2"
head -c 200000 /dev/urandom >"$IT_DIR/junk.bin"
scan --json "$IT_DIR/junk.bin" >"$IT_DIR/junk.json" 2>"$IT_DIR/junk.err"
tap_is "$?" 0 "binary junk: a verdict, exit 0"
tap_is "$(field dmarc "$IT_DIR/junk.json")" fail "binary junk: no From, DMARC never passes"

# ---------------------------------------------------------------- 5b. content

tap_is "$(field score "$IT_DIR/good.json") $(field labels "$IT_DIR/good.json") $(field reasons "$IT_DIR/good.json")" \
	"0 [] []" "--json: the clean message has score 0, no labels, no reasons"
tap_is "$(field auth.dkim "$IT_DIR/good.json")" pass "--json: auth holds the SPF/DKIM/DMARC results"
printf '%s\r\n' 'From: "support@mizuho-bank.co.jp" <info@rnizuho-bank.co.jp>' \
	'To: bob@scan.test' 'Subject: account notice' 'MIME-Version: 1.0' \
	'Content-Type: text/html; charset=UTF-8' '' \
	'<p>Your account will be suspended. Verify your account:' \
	'<a href="http://203.0.113.9/login">https://www.mizuho-bank.co.jp/</a></p>' \
	>"$IT_DIR/phish.eml"
scan --json "$IT_DIR/phish.eml" >"$IT_DIR/phish.json" 2>"$IT_DIR/phish.err"
tap_is "$?" 0 "phishing: a verdict, exit 0"
tap_is "$(field action "$IT_DIR/phish.json")" reject "phishing: --json action reject"
tap_ok '[ "$(field score "$IT_DIR/phish.json")" -ge 20 ]' "phishing: --json score >= 20 (content_reject_score)"
tap_ok 'grep -q "\"reply\": \"550 5.7.1 message refused as phishing" "$IT_DIR/phish.json"' \
	"phishing: the 550 reply names the label"
tap_is "$(field labels "$IT_DIR/phish.json")" '["phishing", "spoofing"]' "phishing: --json labels"
tap_is "$(field reasons.0.name "$IT_DIR/phish.json") $(field reasons.0.label "$IT_DIR/phish.json") $(field reasons.0.points "$IT_DIR/phish.json")" \
	"dispname-address spoofing 4" "phishing: --json reasons carry name, label, points"
tap_ok 'grep -q "\"detail\": \"from=rnizuho-bank.co.jp protected=mizuho-bank.co.jp rule=confusable" "$IT_DIR/phish.json"' \
	"phishing: the look-alike's detail names both domains and the rule"
tap_ok 'grep -q "\"name\": \"link-ip-host\"" "$IT_DIR/phish.json"' "phishing: the IP-literal link is a reason"
tap_is "$(field auth.dmarc "$IT_DIR/phish.json")" none "phishing: auth.dmarc"
scan "$IT_DIR/phish.eml" >"$IT_DIR/phish.txt" 2>&1
tap_ok 'grep -q "^labels: *phishing,spoofing" "$IT_DIR/phish.txt" && grep -q "^ *+6 lookalike-from" "$IT_DIR/phish.txt" && grep -q "^X-Mamori-Verdict: $AUTHSERV; score=" "$IT_DIR/phish.txt"' \
	"phishing: the text output lists labels, reasons and the header field"

# ---------------------------------------------------------------- 6. corpus

if [ ! -d "$CORPUS" ]; then
	tap_skip 4 "$CORPUS missing"
else
	# Python's view of each message: fields, From domain, DKIM-Signature
	# present, and whether it parsed without defects.
	$PY - "$CORPUS" >"$IT_DIR/py.tsv" <<'EOF'
import email, email.policy, os, re, sys
LDH = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$")
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    raw = open(os.path.join(d, name), "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    clean = not m.defects and all(not p.defects for p in m.walk())
    dkim = "yes" if m.get_all("DKIM-Signature") else "no"
    # The From domain where Python's RFC 5322 parser has a clear answer:
    # one From field, one address, no defect, a domain DNS can hold.
    dom = "?"
    try:
        s = email.message_from_bytes(raw, policy=email.policy.default)
        froms = s.get_all("From") or []
        if len(froms) == 1 and not froms[0].defects and \
                len(froms[0].addresses) == 1:
            cand = froms[0].addresses[0].domain.lower().rstrip(".")
            if LDH.match(cand):
                dom = cand
    except Exception:
        pass
    print("%s\t%d\t%s\t%s\t%s" % (name, len(m.items()), dom, dkim,
                                  "clean" if clean else "defects"))
EOF
	n=0 crashed=0 dkim_bad=0 split_bad=0 compared=0 from_bad=0 from_compared=0
	: >"$IT_DIR/corpus.diff"
	while IFS=$'\t' read -r name pyfields pydom pydkim clean; do
		n=$((n + 1))
		out=$IT_DIR/c.json
		if ! scan --json --ip 198.51.100.1 --mail-from x@scan.test \
			"$CORPUS/$name" >"$out" 2>>"$IT_DIR/corpus.err"; then
			crashed=$((crashed + 1))
			echo "$name: exit status" >>"$IT_DIR/corpus.diff"
			continue
		fi
		IFS=$'\t' read -r fields dom dkim < <($PY -c '
import json, sys
v = json.load(open(sys.argv[1]))
print("%d\t%s\t%s" % (v["header_fields"], v["from_domain"] or "-", v["dkim"]))' "$out")
		if [ "$pydkim" = yes ] && [ "$dkim" = none ] ||
		   [ "$pydkim" = no ] && [ "$dkim" != none ]; then
			dkim_bad=$((dkim_bad + 1))
			echo "$name: DKIM-Signature $pydkim, dkim=$dkim" >>"$IT_DIR/corpus.diff"
		fi
		if [ "$clean" = clean ]; then
			compared=$((compared + 1))
			if [ "$fields" != "$pyfields" ]; then
				split_bad=$((split_bad + 1))
				echo "$name: header fields $fields, Python $pyfields" >>"$IT_DIR/corpus.diff"
			fi
		fi
		if [ "$pydom" != "?" ]; then
			from_compared=$((from_compared + 1))
			if [ "$dom" != "$pydom" ]; then
				from_bad=$((from_bad + 1))
				echo "$name: From domain $dom, Python $pydom" >>"$IT_DIR/corpus.diff"
			fi
		fi
	done <"$IT_DIR/py.tsv"
	diag "corpus: $n messages scanned, $compared parsed by Python without defects"
	sed 's/^/# /' "$IT_DIR/corpus.diff" | head -20
	tap_is "$crashed" 0 "corpus: every one of the $n messages gives a verdict"
	tap_is "$dkim_bad" 0 "corpus: dkim is none exactly when there is no DKIM-Signature"
	tap_is "$split_bad" 0 "corpus: header field count agrees with Python's parser ($compared messages without defects)"
	tap_is "$from_bad" 0 "corpus: From domain agrees with Python's RFC 5322 parser ($from_compared messages where it has one clear answer)"
fi

# Against build-asan/ the scans above ran with ASan + UBSan (run-tests).
tap_ok '! grep -lE "ERROR: AddressSanitizer|runtime error:" "$IT_DIR"/*.err' \
	"no sanitizer report from any scan"

tap_done
