#!/usr/bin/env bash
#
# t-outbound.sh - mamorid against a real Postfix: a hijacked account is
# throttled, restricted (hold queue), released after a password change,
# restricted again, suspended; nothing accepted is ever lost; kill -9 makes
# Postfix tempfail; observe mode never refuses.
#
#   a. mamorid starts on a config written here (sqlite store in the temp
#      dir, restrict_action = hold, notices to the sink)
#   b. alice: 5 ordinary messages, all delivered, state normal
#   c. mallory's leaked password: a burst from 4 networks, 8 random
#      external domains per message, a foreign MAIL FROM -> throttled
#      (4.7.1), then restricted within 40 messages; held mail listed by
#      mamori and in Postfix's hold queue, exactly the same IDs
#   d. nothing lost: accepted == delivered + held
#   e. release refused until credential-changed; then held mail delivered,
#      state probation
#   f. recurrence: restricted again with strikes 2; forced release deleting
#      held mail; a third burst suspends
#   g. notices to the abuse desk and to mallory reached the sink
#   g2. notices of a restriction made while the relay is down go out after
#      a restart of mamorid (kept in the store), once each; alice's hour
#      counters survive that graceful restart (namespace counters)
#   h. kill -9 while alice sends: 4xx only, nothing lost; after restart
#      mallory's suspension and events are still there
#   i. observe mode (fresh store): a burst is never refused or held, but
#      recorded
#   j. hostile bytes: logins with ESC, CR and invalid UTF-8 get reversible
#      keys the CLI prints escaped and the API shows, restricts and
#      releases; a bad recipient_count closes the connection; the CSV export
#      escapes control bytes; the state files are 0640/0600
#
# TAP on stdout.  Needs root and a build: $MAMORI_BUILD (default
# <repo>/build) with src/daemon/mamorid and src/cli/mamori.  Every loop is
# bounded in count and every wait in time.
set -u
. "$(dirname "$0")/lib.sh"

ALICE=alice@example.test
BOB=bob@example.test
MALLORY=mallory@example.test
FOREIGN_FROM=service@secure-billing-update.example
BURST_MAX=60		# messages per burst, at most
BURST_STOP=10		# stop after this many consecutive undelivered ones
RESTRICT_WITHIN=40	# mallory must be restricted within this many

[ -x "$MAMORID_BIN" ] || bail "no mamorid at $MAMORID_BIN (build first; MAMORI_BUILD=$MAMORI_BUILD)"
[ -x "$MAMORI_BIN" ] || bail "no mamori CLI at $MAMORI_BIN"

it_init
SENT=$IT_DIR/sent.log		# every smtpclient line of the whole test
DELETED=$IT_DIR/deleted.ids	# test IDs an admin deleted on purpose
: >"$SENT"
: >"$DELETED"

dovecot_start || bail "dovecot did not start"
sink_start || bail "smtp-sink did not start"
pf_start || bail "postfix did not start"

# ---------------------------------------------------------------- helpers

# send_log ARGS: send (smtpclient) and append its lines to $SENT.
send_log() {
	send "$@" | tee -a "$SENT"
}

# test_id_of QUEUEID: the X-Mamori-Test-Id of the message Postfix queued
# as QUEUEID (from the client's own output).
test_id_of() {
	awk -v q="queue_id=$1" '{ for (i = 1; i <= NF; i++) if ($i == q)
		for (j = 1; j <= NF; j++) if ($j ~ /^id=/) { sub(/^id=/, "", $j); print $j } }' "$SENT" | head -1
}

sink_has_id() {
	sink_test_ids | grep -qxF -- "$1"
}

# accepted_ids: test IDs of every message the client saw accepted.
accepted_ids() {
	grep '^result=accepted ' "$SENT" | sed -n 's/.* id=\([^ ]*\) .*/\1/p' | sort -u
}

# held_json_ids LOGIN: queue IDs mamori lists as held for LOGIN.
held_json_ids() {
	mamori --json held list "$1" 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    sys.exit(1)
rows = d.get("held", []) if isinstance(d, dict) else d
for r in rows:
    print(r.get("queue_id", ""))
' | grep . | sort
}

# ledger_check LABEL: accepted == delivered + held + deleted-by-admin,
# exactly, by test ID.  Waits (bounded) for the queue to settle first.
ledger_check() {
	local label=$1 acc del held_ids missing
	pf_wait_settled 60
	acc=$(accepted_ids)
	held_ids=$(for q in $(pf_hold_ids); do test_id_of "$q"; done | sort -u)
	del=$(sort -u "$DELETED")
	# Delivery is asynchronous: wait until every accepted message is found.
	wait_until 30 ledger_complete "$acc" "$held_ids" "$del"
	missing=$(comm -23 <(echo "$acc" | grep .) \
		<(printf '%s\n%s\n%s\n' "$(sink_test_ids)" "$held_ids" "$del" | grep . | sort -u))
	local n_acc n_sink n_hold n_del
	n_acc=$(echo "$acc" | grep -c .)
	n_sink=$(comm -12 <(echo "$acc" | grep .) <(sink_test_ids) | grep -c .)
	n_hold=$(echo "$held_ids" | grep -c .)
	n_del=$(echo "$del" | grep -c .)
	diag "$label: accepted=$n_acc delivered=$n_sink held=$n_hold deleted=$n_del"
	tap_ok '[ -z "$missing" ] && [ "$n_acc" -eq $((n_sink + n_hold + n_del)) ]' \
		"$label: accepted ($n_acc) == delivered ($n_sink) + held ($n_hold) + deleted by admin ($n_del)"
	[ -z "$missing" ] || diag "missing: $(echo $missing)"
	# Nothing arrived that was never accepted.
	local extra
	extra=$(comm -13 <(echo "$acc" | grep .) <(sink_test_ids))
	tap_ok '[ -z "$extra" ]' "$label: the sink got nothing the client did not see accepted"
}

ledger_complete() {
	local acc=$1 held=$2 del=$3
	[ -z "$(comm -23 <(echo "$acc" | grep .) \
		<(printf '%s\n%s\n%s\n' "$(sink_test_ids)" "$held" "$del" | grep . | sort -u))" ]
}

# burst NAME: mallory's leaked-password burst.  One message per
# connection, rotating client networks, 8 random external domains each,
# a MAIL FROM she does not own.  Stops once the account is restricted or
# suspended and BURST_STOP messages in a row since then were not delivered
# (tempfail, held or rejected), or after BURST_MAX messages.  Sets:
#   B_SENT B_RESTRICTED_AT (message number, 0 = never) B_THROTTLED
#   (4.7.1 tempfails before the restriction) B_HELD (queue IDs held)
#   B_ACCEPTED B_TEMPFAIL B_REJECTED B_OUT (file of client lines)
burst() {
	local name=$1 i src line res qid st run=0
	B_OUT=$IT_DIR/burst-$name.out
	: >"$B_OUT"
	B_SENT=0 B_RESTRICTED_AT=0 B_THROTTLED=0 B_HELD='' B_ACCEPTED=0
	B_TEMPFAIL=0 B_REJECTED=0
	for ((i = 1; i <= BURST_MAX; i++)); do
		src=127.$(((i - 1) % 4 + 1)).0.1
		line=$(SEND_TAG=$name send_log --login "$MALLORY" --source "$src" \
			--from "$FOREIGN_FROM" --random-rcpts 8 --start "$i" \
			--subject "Your invoice %N" | head -1)
		echo "$line" >>"$B_OUT"
		B_SENT=$i
		res=$(field result "$line")
		qid=$(field queue_id "$line")
		case $res in
		accepted)
			B_ACCEPTED=$((B_ACCEPTED + 1))
			if [ -f "$PF_QUEUE/hold/$qid" ]; then
				B_HELD="$B_HELD $qid"
				run=$((run + 1))
			else
				run=0
			fi ;;
		tempfail)
			B_TEMPFAIL=$((B_TEMPFAIL + 1))
			run=$((run + 1))
			if [ "$B_RESTRICTED_AT" -eq 0 ] && grep -q '4\.7\.1' <<<"$line"; then
				B_THROTTLED=$((B_THROTTLED + 1))
			fi ;;
		rejected)
			B_REJECTED=$((B_REJECTED + 1))
			run=$((run + 1)) ;;
		*)
			diag "burst $name message $i: $line"
			run=$((run + 1)) ;;
		esac
		st=$(account_state "$MALLORY")
		case $st in
		restricted|suspended)
			if [ "$B_RESTRICTED_AT" -eq 0 ]; then
				B_RESTRICTED_AT=$i
				# Count the undelivered run from the restriction on,
				# so each burst leaves some mail on hold.
				[ "$run" -gt 0 ] && run=1
			fi
			[ "$run" -ge "$BURST_STOP" ] && break ;;
		esac
	done
	diag "burst $name: sent=$B_SENT accepted=$B_ACCEPTED tempfail=$B_TEMPFAIL" \
		"rejected=$B_REJECTED held=$(echo $B_HELD | wc -w) throttled(4.7.1)=$B_THROTTLED" \
		"restricted_at=$B_RESTRICTED_AT state=$(account_state "$MALLORY")"
}

# wait_hold_empty [TIMEOUT]
wait_hold_empty() {
	wait_for "${1:-30}" '[ "$(pf_hold_count)" -eq 0 ]'
}

# ---------------------------------------------------------------- a. start

CONF=$MAMORI_DIR/mamori.conf
mamori_write_conf "$CONF" \
	"[class default]" \
	"mode = enforce" \
	"restrict_action = hold"

tap_cmd "mamorid -t accepts the test config" "$MAMORID_BIN" -t -c "$CONF"
mamorid_start "$CONF" || bail "mamorid did not start"
tap_ok 'mamorid_running' "a. mamorid runs (policy 127.0.0.1:$POLICY_PORT, API $MAMORI_API)"
tap_cmd "a. mamori stats answers over the API socket" mamori stats

# ---------------------------------------------------------------- b. alice

SEND_TAG=alice send_log --login "$ALICE" --count 5 --rcpt "$BOB" \
	--rcpt "partner@customer-corp.example" --subject "Meeting notes %N" \
	>"$IT_DIR/alice.out"
tap_is "$(result_count accepted "$IT_DIR/alice.out")" 5 "b. alice's 5 messages accepted"
pf_wait_settled 30
wait_for 20 '[ "$(sink_count alice-)" -ge 5 ]'
tap_is "$(sink_count alice-)" 5 "b. all 5 delivered to the sink"
tap_is "$(account_state "$ALICE")" normal "b. alice is normal"

# ---------------------------------------------------------------- c. burst 1

burst b1
diag "mallory was restricted after $B_RESTRICTED_AT messages"
tap_ok '[ "$B_RESTRICTED_AT" -ge 1 ] && [ "$B_RESTRICTED_AT" -le $RESTRICT_WITHIN ]' \
	"c. mallory restricted within $RESTRICT_WITHIN messages (took $B_RESTRICTED_AT)"
tap_is "$(account_state "$MALLORY")" restricted "c. mallory's state is restricted"
tap_ok '[ "$B_THROTTLED" -ge 1 ]' \
	"c. $B_THROTTLED messages were throttled with 4.7.1 before the restriction"
tap_ok '[ "$B_REJECTED" -eq 0 ]' "c. nothing was rejected with 5xx (restrict_action = hold)"
held_mamori=$(held_json_ids "$MALLORY" | tr '\n' ' ')
held_postfix=$(pf_hold_ids | tr '\n' ' ')
held_client=$(echo $B_HELD | tr ' ' '\n' | grep . | sort | tr '\n' ' ')
diag "held: mamori=[$held_mamori] postfix=[$held_postfix]"
tap_ok '[ -n "$held_postfix" ]' "c. Postfix's hold queue has mallory's messages"
tap_is "$held_mamori" "$held_postfix" "c. mamori held list == Postfix's hold queue"
tap_is "$held_client" "$held_postfix" "c. ... == the accepted messages the test saw held"
human=$(mamori held list "$MALLORY" 2>&1)
ok_all=1
for q in $held_postfix; do grep -q "$q" <<<"$human" || ok_all=0; done
tap_ok '[ "$ok_all" = 1 ]' "c. 'mamori held list $MALLORY' shows every queue ID"
tap_ok 'pf_queue_json | grep -q "\"queue_name\": *\"hold\""' "c. postqueue -j reports queue_name hold"
line=$(SEND_TAG=alice2 send_log --login "$ALICE" --rcpt "$BOB" --rcpt x@customer-corp.example | head -1)
tap_is "$(field result "$line")" accepted "c. alice can still send"
qid=$(field queue_id "$line")
tap_ok '[ ! -f "$PF_QUEUE/hold/$qid" ]' "c. alice's message is not held"
tap_is "$(account_state "$ALICE")" normal "c. alice is still normal"

# ---------------------------------------------------------------- d. ledger

ledger_check "d. after the first burst"

# ---------------------------------------------------------------- e. release

held1=$held_postfix
mamori account release "$MALLORY" --held release >"$IT_DIR/rel1.out" 2>&1
rc=$?
tap_is "$rc" 1 "e. release without a password change is refused (exit 1)"
sed 's/^/#   /' "$IT_DIR/rel1.out" | head -3
tap_is "$(pf_hold_count)" "$(echo $held1 | wc -w)" "e. the refused release left the hold queue alone"
# cred_changed must be later than the restriction (1 s resolution).
sleep 1.2
tap_cmd "e. mamori account credential-changed" \
	mamori account credential-changed "$MALLORY" --source "integration test"
tap_cmd "e. release --held release succeeds" \
	mamori account release "$MALLORY" --held release
tap_ok 'wait_hold_empty 30' "e. the hold queue is empty"
pf_flush
released_ids=$(for q in $held1; do test_id_of "$q"; done)
all_released() {
	local id
	for id in $released_ids; do sink_has_id "$id" || return 1; done
}
tap_ok 'wait_until 60 all_released' "e. the released messages reached the sink ($(echo $released_ids | wc -w))"
tap_is "$(account_state "$MALLORY")" probation "e. mallory is on probation"
tap_is "$(held_json_ids "$MALLORY" | grep -c .)" 0 "e. mamori lists nothing held for mallory"

# ---------------------------------------------------------------- f. recurrence

burst b2
tap_is "$(account_state "$MALLORY")" restricted "f. a recurrence restricts mallory again"
tap_is "$(account_field "$MALLORY" strikes)" 2 "f. with strikes 2"
held2=$(pf_hold_ids | tr '\n' ' ')
tap_ok '[ -n "$held2" ]' "f. the second burst was held ($(echo $held2 | wc -w) messages)"
tap_cmd "f. release --force --reason test --held delete" \
	mamori account release "$MALLORY" --force --reason "test" --held delete
for q in $held2; do test_id_of "$q"; done >>"$DELETED"
tap_ok 'wait_hold_empty 30' "f. the hold queue is empty"
pf_flush
sleep 3
leaked=0
for id in $(sort -u "$DELETED"); do sink_has_id "$id" && leaked=$((leaked + 1)); done
tap_is "$leaked" 0 "f. the deleted messages did not reach the sink"
tap_is "$(account_state "$MALLORY")" probation "f. probation after the forced release"
burst b3
tap_is "$(account_state "$MALLORY")" suspended "f. a third restriction suspends mallory"
tap_is "$(account_field "$MALLORY" strikes)" 3 "f. with strikes 3"
line=$(SEND_TAG=s1 send_log --login "$MALLORY" --rcpt x@elsewhere.example | head -1)
tap_is "$(field result "$line")" rejected "f. a suspended account is refused with 5xx"
held3=$(pf_hold_ids | tr '\n' ' ')
diag "hold queue after the third burst: [$held3]"

ledger_check "f. after three bursts"

# ---------------------------------------------------------------- g. notices

notice_restricted() {
	local f
	for f in $(sink_notices "$1"); do
		grep -qi '^Subject:.*restricted' "$f" && return 0
	done
	return 1
}
tap_ok 'wait_until 30 notice_restricted abuse@example.test' \
	"g. the abuse desk got a restriction notice"
tap_ok 'wait_until 30 notice_restricted "$MALLORY"' \
	"g. mallory got a restriction notice"
# The account's timeline (the API behind the web UI) records the notices.
tap_ok 'wait_until 10 notice_in_timeline "$MALLORY"' \
	"g. mallory's timeline shows the notices sent"
diag "notices: abuse=$(sink_notice_count abuse@example.test) mallory=$(sink_notice_count "$MALLORY") total=$(sink_notices | grep -c .)"

# ---------------------------------------------------------------- g2. notices across a restart

# The relay is down when carol is restricted: her notices wait for a retry.
# mamorid stops and starts again with the relay back: the notices kept in
# the store go out after the restart (core/outbox.c), once each.
CAROL=carol@example.test
# alice's counters before the restart; a clean stop writes them to the
# store (core/snapshot.c) and the start reads them back.
alice_hour=$(account_field "$ALICE" counters.msgs_hour)
alice_day=$(account_field "$ALICE" counters.rcpts_day)
sink_stop
tap_ok 'mamori account restrict "$CAROL" --reason "abuse desk: relay test" >/dev/null' \
	"g2. carol restricted while the relay is down"
tap_ok 'wait_until 20 grep -q "event=notice_failed kind=restricted account=$CAROL" "$MAMORI_LOG"' \
	"g2. her notice failed and waits for a retry"
mamorid_stop
sink_start || bail "smtp-sink did not restart"
mamorid_start "$CONF" || bail "mamorid did not restart"
tap_ok 'grep -q "event=notice_replayed kind=restricted account=$CAROL" "$MAMORI_LOG"' \
	"g2. after the restart the stored notice is submitted again"
tap_ok 'grep -qE "event=counters_saved accounts=[1-9]" "$MAMORI_LOG" &&
	grep -qE "event=counters_loaded accounts=[1-9][0-9]* bad_records=0" "$MAMORI_LOG"' \
	"g2. mamorid saved the counters at stop and loaded them at start"
# A bucket turning during the restart may move the interpolated count by 1.
alice_hour2=$(account_field "$ALICE" counters.msgs_hour)
alice_day2=$(account_field "$ALICE" counters.rcpts_day)
tap_ok '[ "${alice_hour:-0}" -ge 6 ] && [ "${alice_hour2:-0}" -ge $((alice_hour - 1)) ] &&
	[ "${alice_hour2:-0}" -le "$alice_hour" ]' \
	"g2. alice's hour counter survives the restart ($alice_hour before, ${alice_hour2:-none} after)"
tap_ok '[ "${alice_day:-0}" -ge 12 ] && [ "${alice_day2:-0}" -ge $((alice_day - 1)) ] &&
	[ "${alice_day2:-0}" -le "$alice_day" ]' \
	"g2. alice's day recipients survive the restart ($alice_day before, ${alice_day2:-none} after)"
tap_ok 'wait_until 30 notice_restricted "$CAROL"' \
	"g2. carol got her restriction notice after the restart"
sleep 1
tap_is "$(sink_notice_count "$CAROL")" 1 "g2. exactly one notice to carol"
no_notice_stored() {
	[ "$(sqlite3 "$MAMORI_DIR/state.db" "select count(*) from kv where ns = 'notice'")" = 0 ]
}
tap_ok 'wait_until 10 no_notice_stored' "g2. the store keeps no notice once all are sent"

# ---------------------------------------------------------------- h. kill -9

events_before=$(account_field "$MALLORY" "events.#")
state_before=$(account_state "$MALLORY")
diag "before kill -9: mallory state=$state_before events=$events_before"
KOUT=$IT_DIR/kill.out
SEND_TAG=k send_log --login "$ALICE" --count 20 --delay 0.3 --rcpt "$BOB" \
	--subject "During the crash %N" >"$KOUT" &
kpid=$!
wait_for 20 '[ "$(grep -c . "$KOUT")" -ge 3 ]'
mamorid_kill9
diag "killed mamorid after $(grep -c . "$KOUT") messages"
for ((i = 0; i < 150; i++)); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.2; done
kill "$kpid" 2>/dev/null
wait "$kpid" 2>/dev/null
tap_is "$(grep -c . "$KOUT")" 20 "h. the client finished its 20 messages"
tap_is "$(result_count rejected "$KOUT")" 0 "h. no 5xx while mamorid was down"
tap_ok '[ "$(result_count tempfail "$KOUT")" -ge 1 ]' \
	"h. $(result_count tempfail "$KOUT") messages were tempfailed (4xx)"
tap_ok '! grep "^result=tempfail" "$KOUT" | grep -vq "code=4"' "h. every refusal is a 4xx"
tap_ok '[ "$(result_count accepted "$KOUT")" -ge 1 ]' \
	"h. $(result_count accepted "$KOUT") messages were accepted before the kill"
mamorid_start "$CONF" || bail "mamorid did not restart"
tap_is "$(account_state "$MALLORY")" "$state_before" "h. after restart mallory is still $state_before"
events_after=$(account_field "$MALLORY" "events.#")
tap_ok '[ -n "$events_after" ] && [ "${events_before:-0}" -ge 1 ] && [ "$events_after" -ge "${events_before:-0}" ]' \
	"h. the earlier events are still recorded ($events_before before, $events_after after)"
tap_ok 'mamori --json account show "$MALLORY" | grep -q "\"restricted\""' \
	"h. the event trail still shows the restrictions"
line=$(SEND_TAG=k2 send_log --login "$ALICE" --rcpt "$BOB" | head -1)
tap_is "$(field result "$line")" accepted "h. alice sends again after the restart"
ledger_check "h. after kill -9"

# ---------------------------------------------------------------- i. observe

mamorid_stop
OCONF=$MAMORI_DIR/observe.conf
mamori_write_conf "$OCONF" "[class default]" "mode = observe" \
	"restrict_action = hold"
# A fresh store: mallory starts from nothing.
sed -i "s|^store = .*|store = sqlite:$MAMORI_DIR/observe.db|" "$OCONF"
mamorid_start "$OCONF" || bail "mamorid (observe) did not start"
hold_before=$(pf_hold_count)
OOUT=$IT_DIR/observe.out
: >"$OOUT"
for ((i = 1; i <= 15; i++)); do
	SEND_TAG=obs send_log --login "$MALLORY" --source "127.$(((i - 1) % 4 + 1)).0.1" \
		--from "$FOREIGN_FROM" --random-rcpts 8 --start "$i" >>"$OOUT"
done
tap_is "$(result_count accepted "$OOUT")" 15 "i. observe mode: all 15 burst messages accepted"
tap_is "$(pf_hold_count)" "$hold_before" "i. observe mode: nothing held"
ostate=$(account_state "$MALLORY")
oevents=$(account_field "$MALLORY" "events.#")
diag "observe mode: state=$ostate events=$oevents"
tap_ok '[ -n "$ostate" ] && { [ "$ostate" != normal ] || [ "${oevents:-0}" -ge 1 ]; }' \
	"i. observe mode recorded what it would have done (state=$ostate events=${oevents:-0})"
grep -q 'observed=yes' "$MAMORI_LOG" && diag "mamorid logged observed=yes"

ledger_check "i. at the end"

# ---------------------------------------------------------------- j. hostile bytes

# policy_raw LOGIN-BYTES [EXTRA-LINE]: one RCPT request straight to
# mamorid's policy port (Postfix passes a SASL login's bytes as they are);
# prints the reply's action line, or "closed" when mamorid hung up.
policy_raw() {
	timeout 10 python3 - "$POLICY_PORT" "$1" "${2:-}" <<'PYEOF'
import socket, sys
login = sys.argv[2].encode("utf-8", "surrogateescape")
login = login.decode("unicode_escape").encode("latin-1")
req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
       b"sasl_username=" + login + b"\nrecipient=x@external.example\n"
       b"client_address=127.0.0.1\n" + sys.argv[3].encode() +
       (b"\n" if sys.argv[3] else b"") + b"\n")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(req)
r = b""
while not r.endswith(b"\n\n"):
    c = s.recv(4096)
    if not c:
        break
    r += c
print(r.decode("latin-1").split("\n")[0] if r else "closed")
PYEOF
}

# Three logins: ESC and CR inside one, and two that differ only in an
# invalid UTF-8 byte (utf8_sanitize made both "bad?@..." before).
ESC_LOGIN='esc\x1b[31m\x0d@example.test'
ESC_KEY='esc\x1b[31m\x0d@example.test'	# what the key and the CLI show
for l in "$ESC_LOGIN" 'bad\xfe@example.test' 'bad\xff@example.test'; do
	policy_raw "$l" >/dev/null
done
mamori accounts --state all >"$IT_DIR/j.accounts" 2>&1
tap_ok 'grep -qF "$ESC_KEY" "$IT_DIR/j.accounts"' \
	"j. mamori accounts shows ESC and CR escaped (esc\\x1b[31m\\x0d@...)"
tap_ok '! LC_ALL=C grep -q "[[:cntrl:]]" <(tr -d "\n" <"$IT_DIR/j.accounts")' \
	"j. mamori accounts prints no control byte at all"
tap_is "$(grep -c '^bad\\x' "$IT_DIR/j.accounts")" 2 \
	"j. two logins differing only in an invalid byte are two accounts"
for k in 'bad\xfe@example.test' 'bad\xff@example.test'; do
	tap_is "$(mamori --json account show "$k" | json_get login)" "$k" \
		"j. account show $k"
	tap_cmd "j. account restrict $k" mamori account restrict "$k" --reason "test"
	tap_is "$(mamori --json account show "$k" | json_get state)" restricted \
		"j. $k is restricted, the other one alone"
	tap_cmd "j. account release $k" mamori account release "$k" --force \
		--reason "test" --held keep
done
tap_is "$(mamori --json account show 'bad\xff@example.test' | json_get state)" probation \
	"j. released into probation"

# A numeric attribute out of range: no reply, the connection closed, logged.
tap_is "$(policy_raw alice@example.test 'recipient_count=12abc')" closed \
	"j. recipient_count=12abc: no reply, connection closed"
tap_ok 'grep -q "event=policy_protocol_error.*error=numeric.*recipient_count=12abc" "$MAMORI_LOG"' \
	"j. ... logged as a protocol error with a sample"

# mamori incidents export --format csv against a stand-in API that serves a
# CSV whose quoted login holds ESC, CR and LF: record ends kept, the rest
# escaped, quoting intact.  (A real incident needs t-login's whole attack.)
STUB_SOCK=$IT_DIR/csv-stub.sock
python3 - "$STUB_SOCK" <<'PYEOF' &
import http.server, socketserver, sys
body = (b'login,valid,tried,first_seen,last_seen,protocol\r\n'
        b'"a\x1b[2J\r\nb@example.test",yes,1,,,imap\r\n'
        b'plain@example.test,no,2,,,pop3\r\n')
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
    def address_string(self):
        return "stub"
class S(socketserver.UnixStreamServer):
    pass
S(sys.argv[1], H).handle_request()
PYEOF
stub_pid=$!
wait_until 10 test -S "$STUB_SOCK"
timeout 20 "$MAMORI_BIN" -s "$STUB_SOCK" incidents export 1 --format csv \
	>"$IT_DIR/j.csv" 2>&1
kill "$stub_pid" 2>/dev/null
wait "$stub_pid" 2>/dev/null
tap_is "$(sed -n 2p "$IT_DIR/j.csv" | tr -d '\r')" \
	'"a\x1b[2J\x0d\x0ab@example.test",yes,1,,,imap' \
	"j. CSV export: the quoted login's ESC, CR and LF escaped, quotes kept"
tap_is "$(wc -l <"$IT_DIR/j.csv")" 3 "j. CSV export: still 3 records, CRLF ends kept"

# State files are not world-readable (mamorid's umask 027).
modes=$(stat -c '%n %a' "$MAMORI_DIR"/*.db "$MAMORI_DIR"/*.db-wal \
	"$MAMORI_DIR"/*.db-shm 2>/dev/null)
diag "state file modes: $(tr '\n' ' ' <<<"$modes")"
tap_ok '[ -n "$modes" ] && ! awk "\$2 != 640 && \$2 != 600 {bad=1} END {exit !bad}" <<<"$modes"' \
	"j. the sqlite db, -wal and -shm are 0640 or 0600"

tap_done
