#!/bin/bash
# t-dmarc-reports.sh - DMARC aggregate reports mailed to a rua address,
# through a private Postfix and the pipe transport of
# contrib/postfix/dmarc-rua.cf.snippet, into mamori's store and out of
# "mamori dmarc sources" (GET /v1/dmarc/sources on mamorid).
#
#   1. a report (RFC 9990 XML, gzipped, base64 in a multipart message) sent
#      with sendmail to dmarc-rua@shop.test is delivered by the pipe
#      ("status=sent"), and its records show in mamori dmarc sources
#   2. the same report again: delivered, stored once (dedup)
#   3. a broken report: delivered (not bounced to the reporter), kept in
#      the store's dmarc_rep_bad with its error, sources unchanged
#   4. the store unavailable to the pipe (another address whose transport
#      points at a store that cannot open): Postfix defers (exit 75), the
#      message stays in the queue
#   5. reverse names and countries: a report for names.test ingested, its
#      sources named by mamorid through test/dns/zone-server.py on
#      127.0.0.1 (a forward-confirmed PTR, a PTR whose A points elsewhere,
#      none) and geoip_db (the corpus's sample .mmdb), grouped by domain
#      and country in the API and the CLI table; with the DNS server
#      stopped, the names still come from the resolver's cache
#
# No SMTP server: mail enters with sendmail (pickup).  Every wait is
# bounded.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
it_init
CONF=$IT_DIR/mamori.conf
MAMORI_SHARED=${MAMORI_SHARED:-$MAMORI_TOP/../shared}
SAMPLES=$MAMORI_SHARED/corpora/dmarc-reports/parsedmarc/samples/aggregate
REPORT="$SAMPLES/rfc9990-example.net!example.com!1700000000!1700086399.xml"
BROKEN=$SAMPLES/invalid_xml.xml
[ -r "$REPORT" ] || { tap_skip 1 "no $REPORT"; tap_done; exit; }
DAY=$(date -u -d @1700000000 +%F)

# The pipe runs as nobody (Postfix refuses root): the store must be
# writable by it.  sqlite gives its -wal/-shm files the database file's
# owner and mode, so the database is created for nobody before mamorid
# opens it.
chown nobody "$MAMORI_DIR"
su -s /bin/sh nobody -c "umask 000; : >'$MAMORI_DIR/state.db'" ||
	bail "cannot create the store as nobody"
GEOIP=$MAMORI_SHARED/corpora/ip-country/npm-geo-whois-asn-country.mmdb
DNS_PORT=$SPARE_PORT
ZONE=$IT_DIR/zone.txt
printf '%s\n' \
	"1.0.242.133.in-addr.arpa	PTR	mail.names.test" \
	"mail.names.test	A	133.242.0.1" \
	"8.8.8.8.in-addr.arpa	PTR	dns.bank.test" \
	"dns.bank.test	A	8.8.4.4" >"$ZONE"
trap 'zone_stop; it_cleanup' EXIT
zone_start "$ZONE" "$DNS_PORT" || bail "zone server did not start"
mamori_write_conf "$CONF" "dmarc_our_networks = 192.0.2.0/24" \
	"dns_upstream = 127.0.0.1@$DNS_PORT" "dns_timeout_ms = 1000" \
	"$([ -r "$GEOIP" ] && echo "geoip_db = $GEOIP")"

pf_write_config
cat >>"$PF_CONF/main.cf" <<EOF
# contrib/postfix/dmarc-rua.cf.snippet, addresses of this test.
transport_maps = inline:{ dmarc-rua@shop.test=mamori-dmarc:, dmarc-down@shop.test=mamori-dmarc-down: }
mamori-dmarc_destination_recipient_limit = 1
mamori-dmarc-down_destination_recipient_limit = 1
EOF
cat >>"$PF_CONF/master.cf" <<EOF
mamori-dmarc unix  -       n       n       -       2       pipe
  flags=  user=nobody argv=$MAMORI_BIN -c $CONF dmarc ingest
mamori-dmarc-down unix -   n       n       -       2       pipe
  flags=  user=nobody argv=$MAMORI_BIN -c $CONF dmarc ingest --store sqlite:/nonexistent/dir/state.db
EOF
mamorid_start "$CONF" || bail "mamorid did not start"
pf_start || bail "postfix did not start"

# report_mail FILE: a report message with FILE gzipped as the attachment.
report_mail() {
	$PY - "$1" <<'EOF'
import gzip, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "noreply-dmarc@rcv.test"
m["To"] = "dmarc-rua@shop.test"
m["Subject"] = "Report Domain: example.com Submitter: rcv.test"
m.set_content("DMARC aggregate report attached.")
data = gzip.compress(open(sys.argv[1], "rb").read())
m.add_attachment(data, maintype="application", subtype="gzip",
                 filename="rcv.test!example.com!1700000000!1700086399.xml.gz")
sys.stdout.buffer.write(bytes(m))
EOF
}

# pf_send TO FILE: submit FILE with sendmail into the private instance.
pf_send() {
	report_mail "$2" | /usr/sbin/sendmail -C "$PF_CONF" \
		-f noreply-dmarc@rcv.test "$1"
}

# sent_count TRANSPORT STATUS: maillog lines of TRANSPORT with STATUS.
sent_count() {
	grep -c "relay=$1, .*status=$2" "$PF_LOG" 2>/dev/null
}

# sources_sum: the sum of the counts mamori dmarc sources lists.
sources_sum() {
	mamori --json dmarc sources example.com --days 1 --until "$DAY" |
		$PY -c 'import json,sys; print(sum(s["count"] for s in json.load(sys.stdin)["sources"]))'
}

# store_rows NS: rows of namespace NS in the store (read-only).
store_rows() {
	sqlite3 -readonly "$MAMORI_DIR/state.db" \
		"select count(*) from kv where ns = '$1';" 2>/dev/null
}

# 1. delivered through the pipe and readable from mamorid
pf_send dmarc-rua@shop.test "$REPORT"
wait_for 30 '[ "$(sent_count mamori-dmarc sent)" -ge 1 ]'
tap_is "$(sent_count mamori-dmarc sent)" 1 "report delivered by the pipe"
tap_is "$(sources_sum)" 7 "mamori dmarc sources: the report's 7 messages"
tap_is "$(mamori --json dmarc sources example.com --days 1 --until "$DAY" |
	json_get sources.#)" 2 "two sources"

# 2. the same report again: stored once
pf_send dmarc-rua@shop.test "$REPORT"
wait_for 30 '[ "$(sent_count mamori-dmarc sent)" -ge 2 ]'
tap_is "$(sent_count mamori-dmarc sent)" 2 "second copy delivered"
tap_is "$(sources_sum)" 7 "second copy not counted (dedup)"

# 3. a broken report: delivered, kept aside, nothing counted
pf_send dmarc-rua@shop.test "$BROKEN"
wait_for 30 '[ "$(sent_count mamori-dmarc sent)" -ge 3 ]'
tap_is "$(sent_count mamori-dmarc sent)" 3 "broken report delivered, not bounced"
tap_is "$(store_rows dmarc_rep_bad)" 1 "broken report kept in dmarc_rep_bad"
BAD=$(sqlite3 -readonly "$MAMORI_DIR/state.db" \
	"select value from kv where ns = 'dmarc_rep_bad';" 2>/dev/null)
tap_ok 'grep -q "not well-formed" <<<"$BAD"' "with its error"
tap_is "$(sources_sum)" 7 "sources unchanged"

# 4. store unavailable: deferred, still queued
pf_send dmarc-down@shop.test "$REPORT"
wait_for 30 '[ "$(sent_count mamori-dmarc-down deferred)" -ge 1 ]'
tap_ok '[ "$(sent_count mamori-dmarc-down deferred)" -ge 1 ]' \
	"store down: Postfix defers (exit 75)"
tap_ok '[ "$(pf_pending_count)" -ge 1 ]' "the message is still in the queue"

# 5. reverse names and countries
rec() {
	printf '<record><row><source_ip>%s</source_ip><count>%s</count>' "$1" "$2"
	printf '<policy_evaluated><disposition>none</disposition><dkim>fail</dkim>'
	printf '<spf>fail</spf></policy_evaluated></row><identifiers>'
	printf '<header_from>names.test</header_from></identifiers></record>'
}
{
	printf '<?xml version="1.0"?><feedback><report_metadata><org_name>rcv.test'
	printf '</org_name><email>d@rcv.test</email><report_id>names-1</report_id>'
	printf '<date_range><begin>1700000000</begin><end>1700086399</end>'
	printf '</date_range></report_metadata><policy_published><domain>names.test'
	printf '</domain><p>none</p></policy_published>'
	rec 133.242.0.1 30; rec 8.8.8.8 20; rec 192.0.2.1 5
	printf '</feedback>'
} >"$IT_DIR/names.xml"
su -s /bin/sh nobody -c "$MAMORI_BIN -c $CONF dmarc ingest $IT_DIR/names.xml" \
	>/dev/null 2>&1
mamori --json dmarc sources names.test --days 1 --until "$DAY" \
	>"$IT_DIR/names.json" 2>"$IT_DIR/names.err"
jn() { json_get "$1" <"$IT_DIR/names.json"; }
tap_is "$(jn sources.#)" 3 "names: three sources"
tap_is "$(jn sources.0.ptr) $(jn sources.0.ptr_state)" \
	"mail.names.test confirmed" "names: the PTR confirmed by its A"
tap_is "$(jn sources.1.ptr_claimed) $(jn sources.1.ptr_state)" \
	"dns.bank.test unconfirmed" "names: a PTR whose A points elsewhere is only claimed"
tap_is "$(jn sources.2.ptr_state)" none "names: no PTR"
tap_is "$(jn by_reverse_name.0.name) $(jn by_reverse_name.0.count)" \
	"names.test 30" "names: grouped by the name's registrable domain"
if [ -r "$GEOIP" ]; then
	tap_is "$(jn sources.0.country) $(jn sources.1.country)" "JP US" \
		"countries from geoip_db"
	tap_is "$(jn by_country.0.country) $(jn by_country.0.count)" "JP 30" \
		"grouped by country"
else
	tap_skip 2 "no $GEOIP"
fi
mamori dmarc sources names.test --days 1 --until "$DAY" >"$IT_DIR/names.txt" 2>&1
tap_ok 'grep -Eq "^133.242.0.1 +133.242.0.0/24 +mail.names.test " "$IT_DIR/names.txt" &&
	grep -Eq "^8.8.8.8 .* dns.bank.test\? " "$IT_DIR/names.txt" &&
	grep -Eq "^REVERSE NAME \(DOMAIN\) " "$IT_DIR/names.txt"' \
	"CLI: the names in the sources table and a table by domain"
zone_stop
mamori --json dmarc sources names.test --days 1 --until "$DAY" \
	>"$IT_DIR/names.json" 2>"$IT_DIR/names.err"
tap_is "$(jn sources.0.ptr_state)" confirmed \
	"DNS server gone: the name still comes from the resolver's cache"

tap_done
