#!/bin/bash
# t-outcontent.sh - outbound content (issue 10 item 9, O8) through a real
# Postfix: the policy delegation on submission and mamorid's milter
# (smtpd_milters) together, as a provider runs them.
#
#   1. alice (an ordinary account) sends two plain messages: delivered
#   2. bob sends PPAP the Japanese way: three replies with `zip -e`
#      archives into three threads, each followed by a second mail with
#      the password: all delivered, bob stays normal
#   3. alice's PC is infected: replies into three old threads, each with
#      an encrypted `zip -e` archive and its password in the body.  The
#      first two are delivered; the third (malware_content: two such
#      messages, risky_replies: three threads) restricts alice and lands
#      in Postfix's hold queue; mamori lists it as held with that queue ID
#   4. alice's next message is stopped at RCPT by the restriction
#      (restrict_action = hold: held too, never delivered)
#   5. the log names the signal and the milter's decision stage
#
# Every wait is bounded; every server listens on 127.0.0.1 only.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
it_init
command -v zip >/dev/null ||
	{ tap_skip 1 "zip not installed"; tap_done; exit; }

MILTER_SOCK=$MAMORI_DIR/milter.sock
ALICE=alice@example.test
BOB=bob@example.test

# ---------------------------------------------------------------- helpers

# The archives: made here with Debian's zip, no malware (a text file).
printf 'quarterly figures\n' >"$IT_DIR/report.txt"
(cd "$IT_DIR" && zip -q -P 'x7Q2' enc.zip report.txt) || bail "zip -P failed"

# make_msg FILE FROM ID THREAD BODY [ZIP]: a message; THREAD non-empty makes
# it a reply (In-Reply-To, References); ZIP attaches that file.
make_msg() {
	$PY - "$@" <<'EOF'
import base64, sys
path, frm, mid, thread, body = sys.argv[1:6]
att = sys.argv[6] if len(sys.argv) > 6 else ""
h = ("From: <%s>\r\nTo: <partner@corp.example>\r\nSubject: %s\r\n"
     "Message-ID: <%s@example.test>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
     "X-Mamori-Test-Id: %s\r\nMIME-Version: 1.0\r\n"
     % (frm, ("Re: " + thread) if thread else "note " + mid, mid, mid))
if thread:
    h += ("In-Reply-To: <%s-2@corp.example>\r\n"
          "References: <%s-1@corp.example> <%s-2@corp.example>\r\n"
          % (thread, thread, thread))
if not att:
    msg = h + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
else:
    b64 = base64.encodebytes(open(att, "rb").read()).decode().replace("\n", "\r\n")
    msg = (h + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
           "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body +
           "\r\n--b1\r\nContent-Type: application/zip; name=\"docs.zip\"\r\n"
           "Content-Disposition: attachment; filename=\"docs.zip\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "--b1--\r\n")
open(path, "wb").write(msg.encode())
EOF
}

# send_msg LOGIN FILE: submit FILE as LOGIN (lib.sh's smtp_send, with
# sendfile.py); prints its "code=NNN text=..." line.
send_msg() {
	smtp_send "$SUBMIT_PORT" "$1" partner@corp.example "$2" "$1" \
		"${IT_PASSWORD[$1]}"
}

sink_file() { sink_files | xargs -r grep -l "^X-Mamori-Test-Id: $1\$" 2>/dev/null | head -1; }

# hold_has ID: a message with test id ID is in Postfix's hold queue.
hold_has() {
	local q
	for q in $(pf_hold_ids); do
		"$POSTFIX_SBIN/postcat" -c "$PF_CONF" -hq "$q" 2>/dev/null |
			grep -q "^X-Mamori-Test-Id: $1\$" && return 0
	done
	return 1
}

# hold_qid ID: the hold-queue ID of the message with test id ID.
hold_qid() {
	local q
	for q in $(pf_hold_ids); do
		"$POSTFIX_SBIN/postcat" -c "$PF_CONF" -hq "$q" 2>/dev/null |
			grep -q "^X-Mamori-Test-Id: $1\$" && { echo "$q"; return 0; }
	done
	return 1
}

# ---------------------------------------------------------------- start

mamori_write_conf "$MAMORI_DIR/mamori.conf" \
	"milter_listen = unix:$MILTER_SOCK" \
	"dns_upstream = 127.0.0.1@$SPARE_PORT" \
	"dns_timeout_ms = 500" \
	"[class default]" \
	"restrict_action = hold"
pf_write_config
cat >>"$PF_CONF/main.cf" <<EOF
# mamori milter (contrib/postfix/milter.cf.snippet, socket aside)
smtpd_milters = unix:$MILTER_SOCK
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 10s
EOF
dovecot_start || bail "dovecot did not start"
sink_start || bail "smtp-sink did not start"
mamorid_start "$MAMORI_DIR/mamori.conf" || bail "mamorid did not start"
wait_until 10 test -S "$MILTER_SOCK" || bail "no milter socket"
pf_start || bail "postfix did not start"

# ---------------------------------------------------------------- 1. plain

for i in 1 2; do
	make_msg "$IT_DIR/p$i.eml" "$ALICE" "plain$i" "" "Hello $i."
	out=$(send_msg "$ALICE" "$IT_DIR/p$i.eml")
	tap_ok '[[ $out == code=250* ]]' "alice plain message $i accepted ($out)"
done
wait_for 30 '[ -n "$(sink_file plain2)" ]'
tap_ok '[ -n "$(sink_file plain1)" ] && [ -n "$(sink_file plain2)" ]' \
	"alice's plain messages delivered"

# ---------------------------------------------------------------- 2. PPAP

for t in 1 2 3; do
	make_msg "$IT_DIR/z$t.eml" "$BOB" "ppap$t" "estimate-$t" \
		"見積書を送付いたします。パスワードは別送いたします。" "$IT_DIR/enc.zip"
	out=$(send_msg "$BOB" "$IT_DIR/z$t.eml")
	tap_ok '[[ $out == code=250* ]]' "bob PPAP zip $t accepted ($out)"
	make_msg "$IT_DIR/w$t.eml" "$BOB" "ppapw$t" "estimate-$t" \
		"先ほどの添付ファイルのパスワード: x7Q2"
	out=$(send_msg "$BOB" "$IT_DIR/w$t.eml")
	tap_ok '[[ $out == code=250* ]]' "bob PPAP password mail $t accepted ($out)"
done
wait_for 30 '[ -n "$(sink_file ppapw3)" ]'
n=0
for t in 1 2 3; do
	[ -n "$(sink_file ppap$t)" ] && n=$((n + 1))
	[ -n "$(sink_file ppapw$t)" ] && n=$((n + 1))
done
tap_is "$n" 6 "bob's six PPAP messages delivered"
tap_is "$(account_state "$BOB")" normal "bob stays normal"
tap_is "$(pf_hold_count)" 0 "nothing held yet"

# ---------------------------------------------------------------- 3. Emotet

n=0
for t in 1 2; do
	make_msg "$IT_DIR/e$t.eml" "$ALICE" "emo$t" "invoice-202$t" \
		"ご確認ください。\r\nファイルのパスワード: 5581" "$IT_DIR/enc.zip"
	out=$(send_msg "$ALICE" "$IT_DIR/e$t.eml")
	tap_ok '[[ $out == code=250* ]]' "Emotet-shaped reply $t accepted ($out)"
done
wait_for 30 '[ -n "$(sink_file emo2)" ]'
tap_ok '[ -n "$(sink_file emo1)" ] && [ -n "$(sink_file emo2)" ]' \
	"the first two are delivered (two threads are not yet a pattern)"
tap_is "$(account_state "$ALICE")" normal "alice still normal after two"

make_msg "$IT_DIR/e3.eml" "$ALICE" "emo3" "order-8812" \
	"Please check the attached file.\r\nPassword: 5581" "$IT_DIR/enc.zip"
out=$(send_msg "$ALICE" "$IT_DIR/e3.eml")
tap_ok '[[ $out == code=250* ]]' "the third accepted by SMTP, into quarantine ($out)"
wait_until 20 hold_has emo3
tap_ok 'hold_has emo3' "the third is in Postfix's hold queue"
tap_is "$(account_state "$ALICE")" restricted "alice restricted"
tap_ok '[[ "$(account_field "$ALICE" reason)" == *malware_content*risky_replies* ]]' \
	"the restriction names malware_content and risky_replies"
qid=$(hold_qid emo3)
tap_ok '[ -n "$qid" ] && mamori --json held list "$ALICE" | grep -q "$qid"' \
	"mamori lists the held queue ID ($qid)"
pf_wait_settled 20
tap_ok '[ -z "$(sink_file emo3)" ]' "the third was not delivered"

# ---------------------------------------------------------------- 4. RCPT

make_msg "$IT_DIR/e4.eml" "$ALICE" "emo4" "" "Just a note."
out=$(send_msg "$ALICE" "$IT_DIR/e4.eml")
diag "after the restriction: $out"
wait_until 20 hold_has emo4
tap_ok 'hold_has emo4' "the next message is held by the restriction at RCPT"
tap_ok 'grep -q "event=decision stage=RCPT.*account=alice@example.test.*action=HOLD state=restricted" "$MAMORI_LOG"' \
	"the RCPT decision is the restriction"

# ---------------------------------------------------------------- 5. log

tap_ok 'grep -q "event=decision stage=CONTENT .*account=alice@example.test.*action=HOLD.*malware_content" "$MAMORI_LOG"' \
	"the CONTENT decision is logged with the signal"
tap_ok '! grep -q "event=decision stage=CONTENT .*account=bob@example.test.*action=\(HOLD\|REJECT\|DEFER\)" "$MAMORI_LOG"' \
	"no CONTENT action against bob"

tap_done
