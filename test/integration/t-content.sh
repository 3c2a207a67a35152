#!/bin/bash
# t-content.sh - the inbound content verdict through a private Postfix and
# mamorid's milter (docs/design/content.md), end to end.
#
# A local authoritative DNS server serves SPF and DMARC for the test
# domains; the archives are built here with Debian's zip (zip -e -P), no
# malware.  alice@example.test first writes (SMTP AUTH, outbound through
# the milter) to "Tanaka Taro" <tanaka@partner-corp.co.jp>: the hashed
# known-correspondent index learns the pair, the name and the domain.
#
#   1. PPAP: an encrypted ZIP from tanaka@partner-corp.co.jp (SPF and DMARC
#      aligned, a known correspondent) to alice passes, untagged; a
#      forged X-Mamori-Verdict in it is removed
#   2. Emotet-style: the same kind of ZIP as a reply from a new address
#      with a display name naming tanaka's address goes to the hold queue
#      with its labels (malware, spoofing) in the log and the hold reason
#   3. phishing: a link whose text names a protected bank's site but
#      whose target is another host is tagged: X-Mamori-Verdict with
#      labels=phishing and the Subject prefix
#   4. the index is loaded from the store at start: after a restart of
#      mamorid the PPAP mail still passes, untagged
#
# Every wait is bounded; every server listens on 127.0.0.1 only.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
it_init
$PY -c 'import dnslib' 2>/dev/null ||
	{ tap_skip 1 "python3-dnslib missing"; tap_done; exit; }
command -v zip >/dev/null ||
	{ tap_skip 1 "zip missing"; tap_done; exit; }

set -- $(free_ports 2)
INBOUND_PORT=$1 DNS_PORT=$2
ZONE=$IT_DIR/zone.txt
MILTER_SOCK=$MAMORI_DIR/milter.sock
AUTHSERV=mx.example.test

printf '%s\n' \
	"partner-corp.co.jp	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"_dmarc.partner-corp.co.jp	TXT	v=DMARC1; p=none" \
	"hacked-site.jp	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"shop-news.co.jp	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"example.test	TXT	v=spf1 ip4:127.0.0.1 -all" \
	>"$ZONE"
printf 'mizuho-bank.co.jp Mizuho\n' >"$IT_DIR/protected"

trap 'zone_stop; it_cleanup' EXIT
zone_start "$ZONE" "$DNS_PORT" || bail "zone server did not start"

# ---------------------------------------------------------------- helpers


# The archives: an encrypted estimate, as PPAP and Emotet both send.
(cd "$IT_DIR" && printf 'estimate\n' >mitsumori.xlsx &&
	zip -q -e -P himitsu enc.zip mitsumori.xlsx) || bail "zip -e failed"

# make_mail FILE ID FROM-FIELD SUBJECT [IN-REPLY-TO] [ZIP] [HTML] [EXTRA]
make_mail() {
	$PY - "$@" <<'EOF'
import base64, sys
path, tid, frm, subj = sys.argv[1:5]
irt = sys.argv[5] if len(sys.argv) > 5 else ""
zp = sys.argv[6] if len(sys.argv) > 6 else ""
html = sys.argv[7] if len(sys.argv) > 7 else ""
extra = sys.argv[8] if len(sys.argv) > 8 else ""
h = ("From: %s\r\nTo: alice@example.test\r\nSubject: %s\r\n"
     "Message-ID: <%s@test>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
     "X-Mamori-Test-Id: %s\r\n" % (frm, subj, tid, tid))
if irt:
    h += "In-Reply-To: <%s>\r\nReferences: <%s>\r\n" % (irt, irt)
h += extra
h += "MIME-Version: 1.0\r\n"
if zp:
    b64 = base64.encodebytes(open(zp, "rb").read()).decode().replace("\n", "\r\n")
    body = ("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
            "Please see the attachment.\r\n--b1\r\n"
            "Content-Type: application/zip\r\n"
            "Content-Disposition: attachment; filename=\"mitsumori.zip\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "--b1--\r\n")
elif html:
    body = "Content-Type: text/html; charset=UTF-8\r\n\r\n" + html + "\r\n"
else:
    body = "Content-Type: text/plain; charset=UTF-8\r\n\r\nHello.\r\n"
open(path, "wb").write((h + body).encode())
EOF
}

# sink_file ID: the sink dump holding test id ID.
sink_file() { sink_files | xargs -r grep -l "^X-Mamori-Test-Id: $1" 2>/dev/null | head -1; }

# log_of ID: mamorid's event=milter_inbound line for the queue ID of the
# message Postfix logged with test id ID (or the last one, as a fallback).
log_last() { grep 'event=milter_inbound' "$MAMORI_LOG" | tail -1; }

# ---------------------------------------------------------------- start

milter_write_conf "$MILTER_SOCK" "$AUTHSERV" "$DNS_PORT" \
	"dkim_key_dir = $IT_DIR/nokeys" \
	"lookalike_protected_file = $IT_DIR/protected" \
	"content_subject_prefix = [SPAM?]"
milter_it_start "$MILTER_SOCK" "$INBOUND_PORT"

# ---------------------------------------------------------------- 0. learn

$PY - "$IT_DIR/out.eml" <<'EOF'
import sys
open(sys.argv[1], "wb").write(
    b"From: Alice <alice@example.test>\r\n"
    b"To: \"Tanaka Taro\" <tanaka@partner-corp.co.jp>\r\n"
    b"Subject: estimate request\r\nMessage-ID: <out0@example.test>\r\n"
    b"X-Mamori-Test-Id: out0\r\n\r\nCould you send the estimate?\r\n")
EOF
out=$(smtp_send "$SUBMIT_PORT" alice@example.test tanaka@partner-corp.co.jp \
	"$IT_DIR/out.eml" alice@example.test "${IT_PASSWORD[alice@example.test]}")
tap_ok '[[ $out == code=250* ]]' "alice writes to Tanaka Taro ($out)"
wait_for 30 '[ -n "$(sink_file out0)" ]'
wait_for 10 'grep -q "event=milter_outbound" "$MAMORI_LOG"'
sleep 2		# the records' batch reaches the loop within a second

# ---------------------------------------------------------------- 1. PPAP

make_mail "$IT_DIR/ppap.eml" ppap1 '"Tanaka Taro" <tanaka@partner-corp.co.jp>' \
	"estimate" "" "$IT_DIR/enc.zip" "" \
	$'X-Mamori-Verdict: forged; score=0; action=accept\r\n'
out=$(smtp_send "$INBOUND_PORT" tanaka@partner-corp.co.jp bob@elsewhere.example "$IT_DIR/ppap.eml")
tap_ok '[[ $out == code=250* ]]' "PPAP from a known correspondent accepted ($out)"
wait_for 30 '[ -n "$(sink_file ppap1)" ]'
f=$(sink_file ppap1)
diag "PPAP: $(log_last)"
tap_ok '[ -n "$f" ] && ! grep -q "^X-Mamori-Verdict:" "$f"' \
	"PPAP: delivered untagged, the forged X-Mamori-Verdict removed"
tap_ok 'log_last | grep -q "archive-encrypted(+1) .*sender=known aligned=yes"' \
	"PPAP: the archive weighs 1 point (known, aligned)"

# ---------------------------------------------------------------- 2. Emotet

holds=$(pf_hold_count)
make_mail "$IT_DIR/emotet.eml" emotet2 \
	'"tanaka@partner-corp.co.jp" <info@hacked-site.jp>' "Re: estimate" \
	"out0@example.test" "$IT_DIR/enc.zip"
out=$(smtp_send "$INBOUND_PORT" info@hacked-site.jp bob@elsewhere.example "$IT_DIR/emotet.eml")
line=$(log_last)
diag "Emotet: $out | $line"
if [[ $out == code=5* ]]; then
	tap_ok '[[ $out == *"5.7.1"* ]]' "Emotet-style mail refused 5.7.1"
else
	tap_ok 'wait_until 20 test "$(pf_hold_count)" -gt "$holds"' \
		"Emotet-style mail held (hold queue)"
fi
tap_ok '[[ $line == *"labels=malware,spoofing"* ]]' "Emotet: labels malware, spoofing"
tap_ok '[[ $line == *"archive-encrypted"*"sender=new"*"reply=yes"*"name_mismatch=yes"* ]]' \
	"Emotet: the archive weighed as new sender, reply, lying name"
tap_ok '[[ $line == *"dispname-address"* ]]' "Emotet: the display name's address is a reason"
tap_ok '[ -z "$(sink_file emotet2)" ]' "Emotet: not delivered"

# ---------------------------------------------------------------- 3. phishing

make_mail "$IT_DIR/phish.eml" phish3 'Bank News <news@shop-news.co.jp>' \
	"Notice" "" "" \
	'<p>Please check <a href="http://login.shop-news.co.jp/x">https://www.mizuho-bank.co.jp/</a></p>'
out=$(smtp_send "$INBOUND_PORT" news@shop-news.co.jp bob@elsewhere.example "$IT_DIR/phish.eml")
tap_ok '[[ $out == code=250* ]]' "phishing link: accepted, to be tagged ($out)"
wait_for 30 '[ -n "$(sink_file phish3)" ]'
f=$(sink_file phish3)
v=$(grep -A3 '^X-Mamori-Verdict:' "$f" 2>/dev/null | tr -d '\r' | tr '\n' ' ')
diag "tag: $v"
tap_ok '[[ $v == *"mx.example.test; score="*"action=tag"*"labels=phishing"*"link-text-mismatch"* ]]' \
	"phishing link: X-Mamori-Verdict with the label and reason"
tap_ok 'grep -q "^Subject: \[SPAM?\] Notice" "$f"' "phishing link: Subject prefixed"

# ---------------------------------------------------------------- 4. restart

mamorid_stop
mamorid_start "$MAMORI_DIR/mamori.conf" || bail "mamorid did not restart"
wait_until 10 test -S "$MILTER_SOCK" || bail "no milter socket"
make_mail "$IT_DIR/ppap2.eml" ppap4 '"Tanaka Taro" <tanaka@partner-corp.co.jp>' \
	"estimate 2" "" "$IT_DIR/enc.zip"
out=$(smtp_send "$INBOUND_PORT" tanaka@partner-corp.co.jp bob@elsewhere.example "$IT_DIR/ppap2.eml")
wait_for 30 '[ -n "$(sink_file ppap4)" ]'
f=$(sink_file ppap4)
tap_ok '[ -n "$f" ] && ! grep -q "^X-Mamori-Verdict:" "$f"' \
	"after a restart the known correspondent is still known (index loaded)"
tap_ok '! grep -q "tanaka@partner-corp.co.jp" <(sqlite3 "$MAMORI_DIR/state.db" "select * from kv" 2>/dev/null)' \
	"the store holds no correspondent address in clear"

tap_done
