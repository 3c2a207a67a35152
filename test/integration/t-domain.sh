#!/bin/bash
# t-domain.sh - `mamori domain check DOMAIN` against zones served by the
# local authoritative server (test/dns/zone-server.py) on loopback, with
# DKIM keys made by `mamori dkim keygen`.
#
#   1. a good domain: SPF with an include, the DKIM key on disk published,
#      DMARC p=reject with rua to itself, an MX: exit 0, no error
#   2. 11 DNS-querying terms over the include tree: spf.too_many_lookups
#   3. +all: spf.pass_all
#   4. a signing key on disk whose selector is not published:
#      dkim.key_missing
#   5. a published key that is not the one on disk: dkim.key_mismatch
#   6. rua at another organization without its authorisation record
#      (RFC 7489 7.1), then with it
#   7. a null MX (RFC 7505)
#   8. --selector, --json, --dns over a dead dns_upstream, the escaping
#      of DNS text, a CNAME MX, void look-ups, bad MX targets, bad input
#   9. the staged advice from ingested reports: one report for many.test
#      ingested with `mamori dmarc ingest --store`, then `--store` gives
#      advice.wait with the failing host named; an unreadable store gives
#      advice.no_store and the no-reports advice
#  10. DNS down: exit 2, "complete": false
#
# No Postfix here.  Every wait is bounded; the DNS server listens on
# 127.0.0.1 only.
. "$(dirname "$0")/lib.sh"

it_init
/usr/bin/python3 -c 'import dnslib' 2>/dev/null ||
	{ tap_skip 1 "python3-dnslib missing"; tap_done; exit; }

DNS_PORT=$SPARE_PORT
ZONE=$IT_DIR/zone.txt
KEYS=$IT_DIR/keys
OTHER=$IT_DIR/other-keys
CONF=$IT_DIR/domain.conf

cat >"$CONF" <<EOF
dns_upstream = 127.0.0.1@$DNS_PORT
dns_timeout_ms = 2000
dkim_key_dir = $KEYS
EOF

# keygen DIR DOMAIN SELECTOR: make a key, print its record text joined.
keygen() {
	"$MAMORI_BIN" -c "$CONF" dkim keygen "$2" "$3" --dir "$1" 2>&1 |
		grep '_domainkey' | grep -o '"[^"]*"' | tr -d '"\n'
}
# txt NAME TEXT: a zone line, TEXT cut into character-strings of 200.
txt() {
	local name=$1 t=$2 line
	line="$name	TXT"
	while [ -n "$t" ]; do
		line="$line	${t:0:200}"
		t=${t:200}
	done
	printf '%s\n' "$line"
}

GOOD_KEY=$(keygen "$KEYS" good.test s1)
NOKEY_KEY=$(keygen "$KEYS" nokey.test s1)
WRONG_DISK=$(keygen "$KEYS" wrongkey.test s1)
WRONG_PUB=$(keygen "$OTHER" wrongkey.test s1)
tap_ok '[ -n "$GOOD_KEY" ] && [ -n "$WRONG_PUB" ] && [ -n "$NOKEY_KEY" ] && [ "$WRONG_DISK" != "$WRONG_PUB" ]' \
	"mamori dkim keygen made the keys"

{
	# 1. good
	printf '%s\n' \
		"good.test	TXT	v=spf1 ip4:192.0.2.10 include:_spf.good.test -all" \
		"_spf.good.test	TXT	v=spf1 ip4:192.0.2.11 -all" \
		"_dmarc.good.test	TXT	v=DMARC1; p=reject; rua=mailto:dmarc@good.test" \
		"good.test	MX	10	mx.good.test" \
		"mx.good.test	A	192.0.2.25"
	txt s1._domainkey.good.test "$GOOD_KEY"
	# 2. 11 lookups: 2 includes + 4 a + 4 a + mx
	printf '%s\n' \
		"many.test	TXT	v=spf1 include:i1.many.test include:i2.many.test mx -all" \
		"i1.many.test	TXT	v=spf1 a:h.many.test a:h.many.test a:h.many.test a:h.many.test -all" \
		"i2.many.test	TXT	v=spf1 a:h.many.test a:h.many.test a:h.many.test a:h.many.test -all" \
		"h.many.test	A	192.0.2.40" \
		"many.test	MX	10	h.many.test" \
		"_dmarc.many.test	TXT	v=DMARC1; p=none; rua=mailto:d@many.test"
	# 3. +all
	printf '%s\n' \
		"open.test	TXT	v=spf1 +all" \
		"_dmarc.open.test	TXT	v=DMARC1; p=none" \
		"open.test	MX	10	mx.good.test"
	# 4. the key on disk is not published
	printf '%s\n' \
		"nokey.test	TXT	v=spf1 -all" \
		"_dmarc.nokey.test	TXT	v=DMARC1; p=reject"
	# 5. another key published
	printf '%s\n' \
		"wrongkey.test	TXT	v=spf1 -all" \
		"_dmarc.wrongkey.test	TXT	v=DMARC1; p=reject"
	txt s1._domainkey.wrongkey.test "$WRONG_PUB"
	# 6. external rua, without and with authorisation
	printf '%s\n' \
		"ext.test	TXT	v=spf1 -all" \
		"_dmarc.ext.test	TXT	v=DMARC1; p=reject; rua=mailto:agg@reports.example" \
		"ext2.test	TXT	v=spf1 -all" \
		"_dmarc.ext2.test	TXT	v=DMARC1; p=reject; rua=mailto:agg@reports.example" \
		"ext2.test._report._dmarc.reports.example	TXT	v=DMARC1"
	# 7. null MX
	printf '%s\n' \
		"nullmx.test	TXT	v=spf1 -all" \
		"_dmarc.nullmx.test	TXT	v=DMARC1; p=reject" \
		"nullmx.test	MX	0	."
	# 8. an escape in DNS text, a CNAME MX, a testing key
	printf '%s\n' \
		'esc.test	TXT	v=spf1 ipv4:\x1b[31m -all' \
		"esc.test	MX	10	alias.esc.test" \
		"alias.esc.test	CNAME	mx.good.test" \
		'_dmarc.esc.test	TXT	v=DMARC1; p=reject; rua=mailto:a@x\x1b[31m.example'
	txt t1._domainkey.good.test "$GOOD_KEY; t=y"
	# 9. three void look-ups; an address as MX, an MX without address
	printf '%s\n' \
		"voids.test	TXT	v=spf1 a:n1.voids.test mx:n2.voids.test include:n3.voids.test -all" \
		"voids.test	MX	10	192.0.2.1" \
		"voids.test	MX	20	nohost.voids.test"
} >"$ZONE"

trap 'zone_stop; it_cleanup' EXIT
zone_start "$ZONE" "$DNS_PORT" || bail "zone server did not start"

# check DOMAIN [ARGS...]: mamori domain check with the test configuration,
# bounded; output in $IT_DIR/DOMAIN.out, exit status in $RC.
check() {
	local d=$1
	shift
	timeout 60 "$MAMORI_BIN" -c "${CHECK_CONF:-$CONF}" domain check "$d" "$@" \
		>"$IT_DIR/$d.out" 2>"$IT_DIR/$d.err"
	RC=$?
}
# has DOMAIN SEVERITY CODE: the table has that row.
has() { grep -Eq "^$2 +$3 " "$IT_DIR/$1.out"; }

# ---------------------------------------------------------------- 1. good
check good.test
tap_is "$RC" 0 "good domain: exit 0"
tap_ok '! grep -q "^error " "$IT_DIR/good.test.out"' "good domain: no error"
tap_ok 'has good.test info dkim.key_ok' "good: the key on disk is published"
tap_ok 'grep -Eq "^info +spf.lookups +1 of the 10" "$IT_DIR/good.test.out"' \
	"good: the one include counted (RFC 7208 4.6.4)"
tap_ok 'grep -q "good.test: 0 error(s)" "$IT_DIR/good.test.out"' "good: the summary line"

# ---------------------------------------------------------------- 2. 11 lookups
check many.test
tap_is "$RC" 1 "11 lookups: exit 1"
tap_ok 'has many.test error spf.too_many_lookups' "11 lookups: spf.too_many_lookups"
tap_ok 'grep -q "11 DNS-querying terms" "$IT_DIR/many.test.out"' "11 lookups: the number is given"
tap_ok 'has many.test warning dmarc.p_none' "p=none is warned"
tap_ok 'has many.test warning advice.no_reports' "no reports: advice to publish rua first"

# ---------------------------------------------------------------- 3. +all
check open.test
tap_is "$RC" 1 "+all: exit 1"
tap_ok 'has open.test error spf.pass_all' "+all: spf.pass_all"
tap_ok 'has open.test warning dmarc.no_rua' "no rua: dmarc.no_rua"

# ---------------------------------------------------------------- 4. no key
check nokey.test
tap_is "$RC" 1 "unpublished signing key: exit 1"
tap_ok 'has nokey.test error dkim.key_missing' "unpublished signing key: dkim.key_missing"
tap_ok 'has nokey.test warning mx.none' "no MX: mx.none"

# ---------------------------------------------------------------- 5. mismatch
check wrongkey.test
tap_is "$RC" 1 "another key published: exit 1"
tap_ok 'has wrongkey.test error dkim.key_mismatch' "another key published: dkim.key_mismatch"

# ---------------------------------------------------------------- 6. external rua
check ext.test
tap_ok 'has ext.test error dmarc.report_unauthorized' "external rua without authorisation: error"
tap_ok 'grep -q "ext.test._report._dmarc.reports.example" "$IT_DIR/ext.test.out"' \
	"the record to publish is named"
check ext2.test
tap_ok 'has ext2.test info dmarc.report_authorized' "external rua with authorisation: info"
tap_ok '! has ext2.test error dmarc.report_unauthorized' "external rua with authorisation: no error"

# ---------------------------------------------------------------- 7. null MX
check nullmx.test
tap_ok 'has nullmx.test info mx.null' "null MX: mx.null (RFC 7505)"
tap_ok '! has nullmx.test error "mx\.[a-z_]+"' "null MX: no MX error"

# ---------------------------------------------------------------- 8. options
# a configuration whose upstream does not answer: --dns must override it
sed "s/^dns_upstream = .*/dns_upstream = 127.0.0.1@9/" "$CONF" >"$IT_DIR/dead.conf"
CHECK_CONF=$IT_DIR/dead.conf check good.test --selector t1 --json \
	--dns "127.0.0.1:$DNS_PORT"
tap_is "$RC" 0 "--json, --dns IP:PORT over a dead dns_upstream: exit 0"
tap_is "$(json_get complete <"$IT_DIR/good.test.out")" true "--json: complete"
tap_is "$(json_get errors <"$IT_DIR/good.test.out")" 0 "--json: no errors"
tap_ok 'grep -q "\"code\": \"dkim.testing\"" "$IT_DIR/good.test.out"' "--selector t1: t=y found"
check esc.test
tap_ok 'has esc.test error spf.syntax' "a bad mechanism: spf.syntax"
tap_ok '! grep -q $'"'"'\x1b'"'"' "$IT_DIR/esc.test.out"' "the ESC from DNS is not printed raw"
tap_ok 'grep -qF "x\\x1b[31m.example" "$IT_DIR/esc.test.out"' \
	"an ESC in a rua host is shown as \\x1b"
tap_ok 'has esc.test error mx.cname' "an MX that is a CNAME: mx.cname"
check voids.test
tap_ok 'has voids.test error spf.too_many_voids' "3 void look-ups: spf.too_many_voids (RFC 7208 4.6.4)"
tap_ok 'has voids.test error spf.include_none' "an include of a name without SPF: spf.include_none"
tap_ok 'has voids.test error mx.address_literal' "an address as MX: mx.address_literal"
tap_ok 'has voids.test error mx.unresolvable' "an MX without A or AAAA: mx.unresolvable"
check "bad domain!"
tap_is "$RC" 2 "a bad domain name: exit 2"
timeout 10 "$MAMORI_BIN" -c "$CONF" domain >/dev/null 2>&1
tap_is "$?" 2 "no subcommand: usage, exit 2"

# ---------------------------------------------------------------- 9. advice
rec() {	# rec IP COUNT DKIM SPF
	printf '<record><row><source_ip>%s</source_ip><count>%s</count>' "$1" "$2"
	printf '<policy_evaluated><disposition>none</disposition><dkim>%s</dkim>' "$3"
	printf '<spf>%s</spf></policy_evaluated></row><identifiers>' "$4"
	printf '<header_from>many.test</header_from></identifiers></record>'
}
BEGIN=$(( $(date +%s) / 86400 * 86400 ))
{
	printf '<?xml version="1.0"?><feedback><report_metadata>'
	printf '<org_name>rcv.example</org_name><email>d@rcv.example</email>'
	printf '<report_id>adv-1</report_id><date_range><begin>%s</begin>' "$BEGIN"
	printf '<end>%s</end></date_range></report_metadata>' $((BEGIN + 86399))
	printf '<policy_published><domain>many.test</domain><p>none</p>'
	printf '</policy_published>'
	rec 192.0.2.10 900 pass pass
	rec 192.0.2.99 50 fail fail
	rec 203.0.113.66 70 fail fail
	printf '</feedback>\n'
} >"$IT_DIR/adv.xml"
printf 'dmarc_our_networks = 192.0.2.0/24\n' | cat "$CONF" - >"$IT_DIR/adv.conf"
timeout 30 "$MAMORI_BIN" -c "$IT_DIR/adv.conf" dmarc ingest \
	--store "sqlite:$IT_DIR/rep.db" "$IT_DIR/adv.xml" >/dev/null 2>&1
tap_is "$?" 0 "advice: a report for many.test ingested"
CHECK_CONF=$IT_DIR/adv.conf check many.test --store "sqlite:$IT_DIR/rep.db"
tap_ok 'has many.test info advice.wait' "advice: 1 day of reports, wait (14 needed)"
tap_ok 'grep -Eq "^warning +advice.failing_source +our source 192.0.2.99: 50 of 50" "$IT_DIR/many.test.out"' \
	"advice: the failing host of ours is named"
tap_ok '! has many.test warning advice.no_reports' "advice: reports read, no advice to publish rua"
CHECK_CONF=$IT_DIR/adv.conf check many.test --store "sqlite:$IT_DIR/none/rep.db"
tap_ok 'has many.test info advice.no_store' "advice: no store, said so"
tap_ok 'has many.test warning advice.no_reports' "advice: no store, today's advice"
tap_ok '[ ! -e "$IT_DIR/none" ]' "advice: no store is created"

# ---------------------------------------------------------------- 10. DNS down
zone_stop
check good.test --json
tap_is "$RC" 2 "DNS down: exit 2"
tap_is "$(json_get complete <"$IT_DIR/good.test.out")" false "DNS down: complete false"
tap_ok 'grep -q "dns.tempfail" "$IT_DIR/good.test.out"' "DNS down: dns.tempfail"

tap_done
