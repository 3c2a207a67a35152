#!/bin/bash
# t-dmarc-send.sh - DMARC aggregate reports mamori sends as a receiver
# (RFC 9990), end to end: inbound mail through mamorid's milter behind a
# private Postfix, then `mamori dmarc report` mails the reports through
# the same Postfix (a milter-less smtpd, like the local port 25) to the
# sink.
#
# The local zone server publishes _dmarc.shop.test with three rua
# addresses: one inside shop.test, one at vendor.test which authorises
# shop.test (shop.test._report._dmarc.vendor.test "v=DMARC1"), and one at
# nobody.test which does not.
#
#   1. 5 messages From shop.test pass the milter: 3 DKIM-signed by
#      shop.test (selector s2026, a test key) with MAIL FROM at esp.test,
#      whose SPF passes (DMARC passes through DKIM, SPF is not aligned),
#      and 2 unsigned with MAIL FROM at bulk.test, whose SPF fails (DMARC
#      fails); mamorid stops (the counts are flushed)
#   2. --dry-run --out DIR: the XML is written, valid against RFC 9990's
#      schema (xmllint), and nothing is sent or recorded; its records carry
#      the real identifiers: policy_evaluated dkim pass / spf fail for the
#      signed mail, auth_results with d=shop.test s=s2026 and the SPF
#      domains esp.test and bulk.test (scope mfrom)
#   3. --send: the internal and the authorised rua each get one report in
#      the sink (Subject, attachment name), nobody.test gets none; the
#      mailed report has the same identifiers; ingested by `mamori dmarc
#      ingest` into another store, it holds the 5 messages; dmarc_sent
#      records 2 sent and 1 unauthorised
#   4. a second --send sends nothing new
#
# Every wait is bounded; every server listens on 127.0.0.1 only.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
it_init
$PY -c 'import dkim, dnslib' 2>/dev/null ||
	{ tap_skip 1 "python3-dkim or python3-dnslib missing"; tap_done; exit; }

set -- $(free_ports 3)
INBOUND_PORT=$1 DNS_PORT=$2 RELAY_PORT=$3
ZONE=$IT_DIR/zone.txt
MILTER_SOCK=$MAMORI_DIR/milter.sock
CONF=$MAMORI_DIR/mamori.conf
OUT=$IT_DIR/out
DAY=$(date -u +%F)
XSD=$MAMORI_TOP/test/data/dmarc/rfc9990.xsd
KEY=$IT_DIR/shop.pem
mkdir -p "$OUT"

# The test's DKIM key for shop.test, published as s2026 (the record in
# 200-byte character-strings, tab-separated: the zone server's format).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEY" \
	2>/dev/null || bail "openssl genpkey"
KEYREC=$( (printf 'v=DKIM1; k=rsa; p='; openssl pkey -in "$KEY" -pubout \
	-outform DER 2>/dev/null | base64 -w0) | fold -w200 | paste -sd '\t')

printf '%s\n' \
	"shop.test	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"s2026._domainkey.shop.test	TXT	$KEYREC" \
	"esp.test	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"_dmarc.shop.test	TXT	v=DMARC1; p=none; rua=mailto:dmarc@shop.test,mailto:agg@vendor.test,mailto:x@nobody.test" \
	"shop.test._report._dmarc.vendor.test	TXT	v=DMARC1" \
	"bulk.test	TXT	v=spf1 -all" >"$ZONE"
zone_start "$ZONE" "$DNS_PORT" || bail "zone server did not start"
trap 'zone_stop; it_cleanup' EXIT

mamori_write_conf "$CONF" \
	"milter_listen = unix:$MILTER_SOCK" \
	"authserv_id = mx.example.test" \
	"internal_networks = 192.0.2.250/32" \
	"dns_upstream = 127.0.0.1@$DNS_PORT" \
	"dns_timeout_ms = 1500" \
	"dmarc_report_from = dmarc-reports@example.test" \
	"dmarc_report_org_name = Example Test Receiver" \
	"dmarc_report_relay = smtp://127.0.0.1:$RELAY_PORT"
pf_write_config
cat >>"$PF_CONF/main.cf" <<EOF
smtpd_milters = unix:$MILTER_SOCK
milter_default_action = tempfail
milter_protocol = 6
EOF
cat >>"$PF_CONF/master.cf" <<EOF
127.0.0.1:$INBOUND_PORT inet n - n - - smtpd
  -o syslog_name=postfix-mamori-it/inbound
  -o smtpd_relay_restrictions=permit_mynetworks,reject
127.0.0.1:$RELAY_PORT inet n - n - - smtpd
  -o syslog_name=postfix-mamori-it/relay
  -o smtpd_milters=
  -o smtpd_relay_restrictions=permit_mynetworks,reject
EOF
sink_start || bail "smtp-sink did not start"
mamorid_start "$CONF" || bail "mamorid did not start"
wait_until 10 test -S "$MILTER_SOCK" || bail "no milter socket"
pf_start || bail "postfix did not start"

# inbound N MAILFROM ID [KEY]: N messages From: a@shop.test with MAIL FROM
# MAILFROM through the milter, DKIM-signed for shop.test (s2026) with KEY
# when given; prints how many were accepted.
inbound() {
	$PY - "$INBOUND_PORT" "$@" <<'EOF'
import smtplib, sys, dkim
port, n, mfrom, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
key = open(sys.argv[5], "rb").read() if len(sys.argv) > 5 else None
ok = 0
for i in range(n):
    msg = ("From: Shop <a@shop.test>\r\nTo: bob@elsewhere.example\r\n"
           "Subject: order %d\r\nMessage-ID: <%s-%d@test>\r\n"
           "X-Mamori-Test-Id: %s-%d\r\n\r\nThanks.\r\n" % (i, tag, i, tag, i))
    if key:
        msg = dkim.sign(msg.encode(), b"s2026", b"shop.test", key,
                        canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=[b"from", b"to", b"subject",
                                         b"message-id"]).decode() + msg
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=30,
                         local_hostname="client.example.net")
        s.sendmail(mfrom, ["bob@elsewhere.example"], msg.encode())
        s.quit()
        ok += 1
    except Exception as e:
        print("# %s" % e, file=sys.stderr)
print(ok)
EOF
}

# records FILE: the records of a report (the XML, or a message with the
# gzip attachment), one line each, sorted: "COUNT policy_evaluated
# DKIM/SPF dkim=D/S/RESULT... spf=DOMAIN/SCOPE/RESULT".
records() {
	$PY - "$1" <<'EOF'
import email, gzip, sys
import xml.etree.ElementTree as ET
data = open(sys.argv[1], "rb").read()
if not data.lstrip().startswith(b"<?xml"):
    for part in email.message_from_bytes(data).walk():
        if part.get_content_type() == "application/gzip":
            data = gzip.decompress(part.get_payload(decode=True))
ns = {"d": "urn:ietf:params:xml:ns:dmarc-2.0"}
def t(e, path):
    x = e.find(path, ns)
    return (x.text or "") if x is not None else ""
out = []
for r in ET.fromstring(data).findall("d:record", ns):
    pe = "d:row/d:policy_evaluated/"
    line = "%s policy_evaluated %s/%s" % (t(r, "d:row/d:count"),
                                          t(r, pe + "d:dkim"), t(r, pe + "d:spf"))
    for k in r.findall("d:auth_results/d:dkim", ns):
        line += " dkim=%s/%s/%s" % (t(k, "d:domain"), t(k, "d:selector"), t(k, "d:result"))
    for s in r.findall("d:auth_results/d:spf", ns):
        line += " spf=%s/%s/%s" % (t(s, "d:domain"), t(s, "d:scope"), t(s, "d:result"))
    out.append(line)
print("\n".join(sorted(out)))
EOF
}
RECORDS_WANT="2 policy_evaluated fail/fail spf=bulk.test/mfrom/fail
3 policy_evaluated pass/fail dkim=shop.test/s2026/pass spf=esp.test/mfrom/pass"

# report ARGS: mamori dmarc report with the test's config.
report() { timeout 120 "$MAMORI_BIN" -c "$CONF" dmarc report "$@"; }
# sink_to RCPT: sink dumps whose envelope recipient is RCPT.
sink_to() { sink_files | xargs -r grep -li "^X-Rcpt-Args: <$1>" 2>/dev/null; }
sent_rows() {
	sqlite3 -readonly "$MAMORI_DIR/state.db" \
		"select count(*) from kv where ns = 'dmarc_sent' and value like '%\"result\":\"$1\"%';" 2>/dev/null
}

# 1. inbound mail, counted by the milter
tap_is "$(inbound 3 bounce@esp.test pass "$KEY")" 3 \
	"3 messages DKIM-aligned (SPF passes for esp.test) accepted"
tap_is "$(inbound 2 a@bulk.test fail)" 2 "2 failing messages accepted (p=none)"
wait_for 30 '[ "$(sink_count)" -ge 5 ]'
mamorid_stop
AGG=$(sqlite3 -readonly "$MAMORI_DIR/state.db" \
	"select sum(value) from kv where ns = 'dmarc_agg' and key like '$DAY|%|shop.test|%';")
tap_is "$AGG" 5 "the milter counted 5 messages for shop.test"

# 2. dry run
out=$(report --dry-run --date "$DAY" --out "$OUT" 2>&1)
diag "$out"
XML=$OUT/shop.test!$DAY.xml
tap_ok '[ -s "$XML" ]' "dry run writes the XML"
tap_ok 'xmllint --noout --schema "$XSD" "$XML" 2>/dev/null' \
	"the XML is valid against RFC 9990's schema"
tap_ok 'grep -q "dmarc@shop.test would_send" <<<"$out" && grep -q "agg@vendor.test would_send" <<<"$out" && grep -q "x@nobody.test unauthorised" <<<"$out"' \
	"dry run: two destinations, one unauthorised"
tap_is "$(records "$XML")" "$RECORDS_WANT" \
	"the records carry the identifiers: DKIM d=/s=, SPF domains and scope, per-identifier alignment"
tap_is "$(sent_rows sent)" 0 "dry run records nothing"

# 3. send
before=$(sink_files | grep -c .)
out=$(report --send --date "$DAY" 2>&1)
diag "$out"
wait_for 30 '[ -n "$(sink_to dmarc@shop.test)" ] && [ -n "$(sink_to agg@vendor.test)" ]'
tap_is "$(sink_to dmarc@shop.test | grep -c .)" 1 "the internal rua got one report"
tap_is "$(sink_to agg@vendor.test | grep -c .)" 1 "the authorised external rua got one report"
tap_is "$(sink_to x@nobody.test | grep -c .)" 0 "the unauthorised rua got none"
F=$(sink_to dmarc@shop.test | head -1)
SUBJ=$(sed -n '/^Subject:/,/^[^ \t]/p' "$F" 2>/dev/null | tr -d '\r\n' | head -c 300)
tap_ok '[[ $SUBJ == *"Report Domain: shop.test"*"Submitter: example.test"*"Report-ID: <${DAY}_shop.test@example.test>"* ]]' \
	"Subject: Report Domain / Submitter / Report-ID"
tap_ok 'grep -q "example.test!shop.test![0-9]*![0-9]*.xml.gz" "$F"' \
	"attachment named RECEIVER!DOMAIN!BEGIN!END.xml.gz"
tap_is "$(records "$F")" "$RECORDS_WANT" \
	"the mailed report has the same identifiers"
ING=$(timeout 60 "$MAMORI_BIN" -c "$CONF" dmarc ingest \
	--store "sqlite:$IT_DIR/other.db" "$F" 2>&1)
diag "$ING"
tap_ok '[[ $ING == *"stored domain=shop.test"*"records=2 messages=5"* ]]' \
	"our ingest reads the mailed report: 2 records, 5 messages"
tap_is "$(sent_rows sent)" 2 "dmarc_sent: 2 sent"
tap_is "$(sent_rows unauthorised)" 1 "dmarc_sent: 1 unauthorised"

# 4. a second run sends nothing new
n=$(sink_files | grep -c .)
out=$(report --send --date "$DAY" 2>&1)
diag "$out"
sleep 3
tap_is "$(sink_files | grep -c .)" "$n" "a second run sends nothing"
tap_ok 'grep -q "already sent 2" <<<"$out"' "it says both were sent already"
[ "$before" -gt 0 ] || diag "no inbound mail in the sink before the reports"

# 5. mamorid's daily run: dmarc_report_send on, the hour now; yesterday's
#    counts (a row written as the milter writes it) go out once
YDAY=$(date -u -d yesterday +%F)
sqlite3 "$MAMORI_DIR/state.db" "insert into kv (ns, key, value, expires) values ('dmarc_agg', '$YDAY|192.0.2.7|shop.test|fail|none|fail|none', '4', 0);"
mamori_write_conf "$CONF.daily" \
	"dns_upstream = 127.0.0.1@$DNS_PORT" \
	"dns_timeout_ms = 1500" \
	"dmarc_report_send = yes" \
	"dmarc_report_hour = $((10#$(date -u +%H)))" \
	"dmarc_report_from = dmarc-reports@example.test" \
	"dmarc_report_relay = smtp://127.0.0.1:$RELAY_PORT"
mamorid_start "$CONF.daily" || bail "mamorid did not start"
wait_for 30 'grep -q "event=dmarc_report_run" "$MAMORI_LOG"'
tap_ok 'grep -q "event=dmarc_report_run reports=1 sent=2 " "$MAMORI_LOG"' \
	"mamorid's daily run: one report, sent to the two authorised rua"
YNAME="example.test!shop.test!$(date -u -d "$YDAY" +%s)!"
wait_for 30 '[ "$(sink_files | xargs -r grep -lF "$YNAME" 2>/dev/null | grep -c .)" -ge 2 ]'
tap_is "$(sink_files | xargs -r grep -lF "$YNAME" 2>/dev/null | grep -c .)" 2 \
	"yesterday's report reached both rua"
mamorid_stop

tap_done
