#!/bin/bash
# t-sentlog.sh - the sent Message-ID log, hijacked reply threads and
# backscatter through a private Postfix and mamorid's milter
# (docs/design/content.md "Sent log"), end to end.
#
# A local authoritative DNS server serves SPF and DMARC for the test
# domains; the archive is built here with Debian's zip (zip -e -P), no
# malware.  alice@example.test first sends (SMTP AUTH, outbound through the
# milter) <thread1@example.test> to hanako@partner.example: the sent log
# records it (hashed).  Then, inbound:
#
#   a. hanako's reply in that thread passes, untagged (thread-reply, in
#      its favour)
#   b. a "reply" in that thread from hanako@evil.example, with an
#      encrypted ZIP and the password in the body, goes to the hold queue
#      as thread hijacking (labels malware): the archive alone would only
#      be tagged
#   c. a bounce (RFC 3464, null sender) for a Message-ID never sent is
#      tagged: X-Mamori-Verdict with labels=backscatter (backscatter_action
#      = tag, the default; a Sieve rule can file on it)
#   d. a bounce of <thread1@example.test>, which was sent, passes untagged
#   e. after a restart the log comes back from the store: the hijack is
#      still seen; the store holds no plain address or Message-ID
#   f. backscatter_action = reject (a reload): the never-sent bounce is
#      refused 550 5.7.1
#
# Every wait is bounded; every server listens on 127.0.0.1 only.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
it_init
$PY -c 'import dnslib' 2>/dev/null ||
	{ tap_skip 1 "python3-dnslib missing"; tap_done; exit; }
command -v zip >/dev/null ||
	{ tap_skip 1 "zip missing"; tap_done; exit; }
command -v sqlite3 >/dev/null ||
	{ tap_skip 1 "sqlite3 missing"; tap_done; exit; }

set -- $(free_ports 2)
INBOUND_PORT=$1 DNS_PORT=$2
ZONE=$IT_DIR/zone.txt
MILTER_SOCK=$MAMORI_DIR/milter.sock
DB=$MAMORI_DIR/state.db

printf '%s\n' \
	"partner.example	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"_dmarc.partner.example	TXT	v=DMARC1; p=none" \
	"evil.example	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"client.example.net	TXT	v=spf1 ip4:127.0.0.1 -all" \
	"example.test	TXT	v=spf1 ip4:127.0.0.1 -all" \
	>"$ZONE"

trap 'zone_stop; it_cleanup' EXIT
zone_start "$ZONE" "$DNS_PORT" || bail "zone server did not start"

# ---------------------------------------------------------------- helpers

# sink_file ID: the sink dump holding test id ID.
sink_file() { sink_files | xargs -r grep -l "^X-Mamori-Test-Id: $1" 2>/dev/null | head -1; }

# inbound_log: mamorid's last milter_inbound line (the milter logs before
# it answers Postfix, and the script sends one message at a time).
inbound_log() { grep -a "event=milter_inbound " "$MAMORI_LOG" | tail -1; }

# sent_rows: records in the sent log's namespace (not "since").
sent_rows() {
	sqlite3 "$DB" "SELECT count(*) FROM kv WHERE ns = 'sent' AND key != 'since'" 2>/dev/null
}

# reply FILE FROM ID IN-REPLY-TO [ZIP]: a reply in a thread, with an
# encrypted ZIP attached when ZIP is given.
reply() {
	$PY - "$@" <<'EOF'
import base64, sys
path, frm, tid, irt = sys.argv[1:5]
z = sys.argv[5] if len(sys.argv) > 5 else ""
head = ("From: %s\r\nTo: Alice <alice@example.test>\r\n"
        "Subject: Re: quote %s\r\nMessage-ID: <%s@reply.example>\r\n"
        "In-Reply-To: %s\r\nReferences: %s\r\nX-Mamori-Test-Id: %s\r\n"
        "MIME-Version: 1.0\r\n" % (frm, tid, tid, irt, irt, tid))
if not z:
    msg = head + "Content-Type: text/plain\r\n\r\nThank you, see you.\r\n"
else:
    b = base64.encodebytes(open(z, "rb").read()).decode().replace("\n", "\r\n")
    msg = (head + "Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
           "--zz\r\nContent-Type: text/plain\r\n\r\n"
           "Please see the attached invoice. Password: 8812\r\n"
           "--zz\r\nContent-Type: application/zip; name=invoice.zip\r\n"
           "Content-Disposition: attachment; filename=invoice.zip\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" + b + "--zz--\r\n")
open(path, "wb").write(msg.encode())
EOF
}

# bounce FILE ID ORIGINAL-MESSAGE-ID: an RFC 3464 bounce to alice.
bounce() {
	printf '%s\r\n' "From: Mail Delivery System <MAILER-DAEMON@mx.partner.example>" \
		"To: alice@example.test" "Subject: Undelivered Mail $2" \
		"Message-ID: <$2@mx.partner.example>" "X-Mamori-Test-Id: $2" \
		"Auto-Submitted: auto-replied" "MIME-Version: 1.0" \
		"Content-Type: multipart/report; report-type=delivery-status; boundary=rr" \
		"" "--rr" "Content-Type: text/plain" "" "Your message could not be delivered." \
		"--rr" "Content-Type: message/delivery-status" "" \
		"Reporting-MTA: dns; mx.partner.example" "" \
		"Final-Recipient: rfc822; nobody@partner.example" "Action: failed" \
		"Status: 5.1.1" "" "--rr" "Content-Type: text/rfc822-headers" "" \
		"From: alice@example.test" "To: nobody@partner.example" \
		"Message-ID: $3" "Subject: quote" "" "--rr--" >"$1"
}

# ---------------------------------------------------------------- start

milter_write_conf "$MILTER_SOCK" mx.example.test "$DNS_PORT" \
	"dkim_key_dir = $IT_DIR/no-keys" "backscatter_warmup = 0"
milter_it_start "$MILTER_SOCK" "$INBOUND_PORT"

# ---------------------------------------------------------------- 0. sent

printf '%s\r\n' "From: Alice <alice@example.test>" \
	"To: Hanako <hanako@partner.example>" "Subject: quote" \
	"Message-ID: <thread1@example.test>" "X-Mamori-Test-Id: sent0" "" \
	"Here is our quote." >"$IT_DIR/sent0.eml"
out=$(smtp_send "$SUBMIT_PORT" alice@example.test hanako@partner.example \
	"$IT_DIR/sent0.eml" alice@example.test "${IT_PASSWORD[alice@example.test]}")
tap_ok '[[ $out == code=250* ]]' "our user's message accepted ($out)"
wait_for 30 '[ -n "$(sink_file sent0)" ]'
# The record reaches the store (and the index) within a batch (1 s).
wait_until 10 test "$(sent_rows)" = 1
tap_is "$(sent_rows)" 1 "the sent log holds one record"

# ---------------------------------------------------------------- a. reply

reply "$IT_DIR/a.eml" "Hanako <hanako@partner.example>" reply-a "<thread1@example.test>"
out=$(smtp_send "$INBOUND_PORT" hanako@partner.example alice@example.test "$IT_DIR/a.eml")
tap_ok '[[ $out == code=250* ]]' "a: the correspondent's reply accepted ($out)"
wait_for 30 '[ -n "$(sink_file reply-a)" ]'
f=$(sink_file reply-a)
tap_ok '[ -n "$f" ] && ! grep -q "^X-Mamori-Verdict:" "$f"' "a: delivered untagged"
l=$(inbound_log)
diag "a: $l"
tap_ok '[[ $l == *"thread-reply(-3)"* && $l == *"content_action=accept"* ]]' \
	"a: thread-reply counts in its favour"

# ---------------------------------------------------------------- b. hijack

printf '%%PDF-1.4 invoice\n' >"$IT_DIR/invoice.pdf"
(cd "$IT_DIR" && zip -q -e -P 8812 invoice.zip invoice.pdf) || bail "zip -e"
# No name a correspondent used, nothing but a PDF inside: the archive
# alone (new sender, a reply: 7) would only be tagged.
reply "$IT_DIR/b.eml" "Sales Dept <hanako@evil.example>" reply-b "<thread1@example.test>" \
	"$IT_DIR/invoice.zip"
held=$(pf_hold_count)
out=$(smtp_send "$INBOUND_PORT" hanako@evil.example alice@example.test "$IT_DIR/b.eml")
diag "b: $out"
l=$(inbound_log)
diag "b: $l"
tap_ok '[[ $out == code=5* ]] || { [[ $out == code=250* ]] && wait_until 10 test "$(pf_hold_count)" -gt "$held"; }' \
	"b: the hijacked thread with an encrypted ZIP is held or refused"
tap_ok '[[ $l == *"thread-hijack(+8)"* ]]' "b: reason thread-hijack"
tap_ok '[[ $l == *"labels=malware"* ]]' "b: labelled malware"
tap_ok '[[ $l == *"content_action=hold"* ]]' "b: the hijack makes it a hold (not a tag)"
tap_ok '[ -z "$(sink_file reply-b)" ]' "b: not delivered"

# ---------------------------------------------------------------- c. backscatter

bounce "$IT_DIR/c.eml" bounce-c "<never-sent-1@example.test>"
out=$(smtp_send "$INBOUND_PORT" "" alice@example.test "$IT_DIR/c.eml")
tap_ok '[[ $out == code=250* ]]' "c: a bounce for mail never sent is accepted (tag) ($out)"
wait_for 30 '[ -n "$(sink_file bounce-c)" ]'
f=$(sink_file bounce-c)
v=$(grep -a "^X-Mamori-Verdict:" "$f" 2>/dev/null)
diag "c: $v"
tap_ok '[[ $v == *"labels=backscatter"* && $v == *"backscatter(+4)"* ]]' \
	"c: tagged with X-Mamori-Verdict labels=backscatter"
# The Sieve script of contrib/ files it; a reply of (a) stays in INBOX.
if command -v sieve-test >/dev/null; then
	mkdir -p "$IT_DIR/sieve" && chmod 1777 "$IT_DIR/sieve"
	cp "$MAMORI_TOP/contrib/dovecot/mamori-backscatter.sieve" "$IT_DIR/sieve/"
	printf 'mail_uid = nobody\nmail_gid = nogroup\nmail_location = maildir:%s\n' \
		"$IT_DIR/sieve/mail" >"$IT_DIR/sieve/dovecot.conf"
	sv() { timeout 30 sieve-test -c "$IT_DIR/sieve/dovecot.conf" \
		"$IT_DIR/sieve/mamori-backscatter.sieve" "$1" 2>&1; }
	tap_ok '[[ $(sv "$f") == *"store message in folder: Backscatter"* ]]' \
		"c: contrib's Sieve script files it into Backscatter"
	tap_ok '[[ $(sv "$(sink_file reply-a)") == *"folder: INBOX"* ]]' \
		"c: ... and leaves the real reply in INBOX"
else
	tap_skip 2 "sieve-test (dovecot-sieve) not installed"
fi

# ---------------------------------------------------------------- d. own bounce

bounce "$IT_DIR/d.eml" bounce-d "<thread1@example.test>"
out=$(smtp_send "$INBOUND_PORT" "" alice@example.test "$IT_DIR/d.eml")
tap_ok '[[ $out == code=250* ]]' "d: the bounce of a message sent is accepted ($out)"
wait_for 30 '[ -n "$(sink_file bounce-d)" ]'
f=$(sink_file bounce-d)
tap_ok '[ -n "$f" ] && ! grep -q "^X-Mamori-Verdict:" "$f"' "d: delivered untagged"
l=$(inbound_log)
tap_ok '[[ $l == *"bounce-of-sent(-3)"* ]]' "d: reason bounce-of-sent"

# ---------------------------------------------------------------- e. restart

mamorid_stop
mamorid_start "$MAMORI_DIR/mamori.conf" || bail "mamorid did not restart"
wait_until 10 test -S "$MILTER_SOCK" || bail "no milter socket after restart"
tap_ok 'grep -q "event=sent_log_loaded records=1 " "$MAMORI_LOG"' "e: the log loaded from the store"
reply "$IT_DIR/e.eml" "Hanako <hanako@evil.example>" reply-e "<thread1@example.test>"
out=$(smtp_send "$INBOUND_PORT" hanako@evil.example alice@example.test "$IT_DIR/e.eml")
l=$(inbound_log)
diag "e: $l"
tap_ok '[[ $l == *"thread-hijack(+8)"* && $l == *"labels=spoofing"* ]]' \
	"e: after a restart a stranger in the thread is still a hijack (spoofing, no attachment)"
rows=$(sqlite3 "$DB" "SELECT key || ' ' || value FROM kv WHERE ns = 'sent'")
leaks=
for w in alice hanako partner.example example.test thread1; do
	grep -qiF -- "$w" <<<"$rows" && leaks+=" $w"
done
tap_is "$leaks" "" "e: no plain address, domain or Message-ID in the sent log"

# ---------------------------------------------------------------- f. reject

echo "backscatter_action = reject" >>"$MAMORI_DIR/mamori.conf"
kill -HUP "$IT_PID_MAMORID"
wait_for 10 'grep -q "event=reloaded" "$MAMORI_LOG"' || bail "no reload"
bounce "$IT_DIR/f.eml" bounce-f "<never-sent-2@example.test>"
out=$(smtp_send "$INBOUND_PORT" "" alice@example.test "$IT_DIR/f.eml")
diag "f: $out"
tap_ok '[[ $out == "code=550 text=5.7.1"* && $out == *backscatter* ]]' \
	"f: backscatter_action = reject refuses it, 550 5.7.1 naming backscatter"

tap_done
