#!/usr/bin/env bash
#
# t-harness.sh - proves the integration plumbing without mamorid: a private
# Postfix on loopback with Dovecot SASL, the smtp-sink, and a stand-in
# policy responder that answers DUNNO.
#
#   - AUTH as alice, one message: delivered to the sink, the policy service
#     saw RCPT and END-OF-MESSAGE with sasl_username=alice@example.test;
#   - a wrong password: AUTH refused;
#   - no AUTH: the recipient is rejected (5xx), nothing delivered;
#   - other loopback source addresses (127.1.0.1, ...) are accepted;
#   - policy service down: Postfix tempfails with 4.3.5, nothing accepted,
#     nothing lost; back up: mail flows again;
#   - a HOLD answer puts the message into the hold queue, postsuper -H
#     releases it to the sink, postsuper -d deletes;
#   - Dovecot's IMAP and POP3 listeners answer on loopback.
#
# TAP on stdout.  Needs root.  Every wait is bounded.
set -u
. "$(dirname "$0")/lib.sh"

it_init
IT_SECRETS+=(not-the-password)	# the wrong password of step 2
dovecot_start || bail "dovecot did not start"
sink_start || bail "smtp-sink did not start"
policy_stub_start || bail "stand-in policy responder did not start"
pf_start || bail "postfix did not start"
tap_ok 'true' "private Postfix, Dovecot, sink and stand-in policy started"

out=$IT_DIR/out
ALICE=alice@example.test

# 1. authenticated, delivered
send --login "$ALICE" --rcpt bob@example.test --rcpt someone@external.example \
	--subject "harness 1" --tag h1 >"$out"
line=$(head -1 "$out")
diag "$line"
tap_is "$(field result "$line")" accepted "alice's message accepted (AUTH PLAIN via Dovecot)"
tap_is "$(field rcpts_accepted "$line")" 2 "both recipients accepted"
tap_ok '[ -n "$(field queue_id "$line")" ] && [ "$(field queue_id "$line")" != - ]' \
	"the 250 reply names a queue ID"
wait_for 20 '[ "$(sink_count h1)" -ge 1 ]'
tap_is "$(sink_count h1)" 1 "the message reached the sink"
tap_ok 'grep -q "state=RCPT sasl_username=$ALICE" "$IT_DIR/policy/stub.log"' \
	"the policy service saw RCPT with sasl_username"
tap_ok 'grep -q "state=END-OF-MESSAGE sasl_username=$ALICE" "$IT_DIR/policy/stub.log"' \
	"the policy service saw END-OF-MESSAGE with sasl_username"

# 2. wrong password, from its own address: Dovecot's auth penalty delays
# later logins from the same client IP (Postfix passes it as rip=).
timeout 60 python3 "$IT_LIB_DIR/smtpclient.py" --port "$SUBMIT_PORT" \
	--source 127.9.0.1 \
	--login "$ALICE" --password not-the-password --rcpt x@external.example \
	--tag h2 >"$out"
tap_is "$(field result "$(head -1 "$out")")" authfail "a wrong password is refused"

# 3. no AUTH: relaying denied
send --from "$ALICE" --rcpt someone@external.example --tag h3 >"$out"
line=$(head -1 "$out")
diag "$line"
tap_is "$(field result "$line")" rejected "unauthenticated mail is rejected"
tap_ok '[ "$(field code "$line")" -ge 500 ]' "with a 5xx reply"

# 4. other loopback source addresses, separate connections
send --login "$ALICE" --source 127.1.0.1 --rcpt a@external.example --tag h4a >"$out"
send --login "$ALICE" --source 127.2.0.1 --rcpt a@external.example --tag h4b >>"$out"
tap_is "$(result_count accepted "$out")" 2 "clients from 127.1.0.1 and 127.2.0.1 accepted"
tap_ok 'grep -q "client_address=127.2.0.1" "$IT_DIR/policy/stub.log"' \
	"the policy service sees the real client address"
send --login "$ALICE" --count 3 --per-connection 3 --rcpt a@external.example --tag h4c >"$out"
tap_is "$(result_count accepted "$out")" 3 "three messages on one connection"

# 5. policy service down: tempfail, not accept, not reject
policy_stub_stop
send --login "$ALICE" --rcpt a@external.example --tag h5 >"$out"
line=$(head -1 "$out")
diag "$line"
tap_is "$(field result "$line")" tempfail "policy service down: the message is tempfailed"
tap_ok 'grep -q "4\.3\.5" "$out"' "with 4.3.5 (default_action)"
policy_stub_start || bail "stand-in did not restart"
send --login "$ALICE" --rcpt a@external.example --tag h5b >"$out"
tap_is "$(field result "$(head -1 "$out")")" accepted "policy service back: accepted again"

pf_wait_settled 30
# h1 + h4a + h4b + 3x h4c + h5b = 7 messages; h5 must not be there.
tap_is "$(sink_count h)" 7 "exactly the 7 accepted messages reached the sink"
tap_is "$(sink_count h5-)" 0 "the tempfailed message did not"

# 6. HOLD: the hold queue, postsuper -H and -d
policy_stub_stop
policy_stub_start "HOLD mamori test hold" || bail "stand-in (HOLD) did not start"
send --login "$ALICE" --count 2 --rcpt a@external.example --tag h6 >"$out"
tap_is "$(result_count accepted "$out")" 2 "HOLD: the client sees 250"
held=$(pf_hold_ids | tr '\n' ' ')
tap_is "$(pf_hold_count)" 2 "both messages are in the hold queue ($held)"
ids=$(awk '{for(i=1;i<=NF;i++) if ($i ~ /^queue_id=/) {sub("queue_id=","",$i); print $i}}' "$out" | sort | tr '\n' ' ')
tap_is "$held" "$ids" "the hold queue holds exactly the queue IDs the client saw"
tap_ok 'pf_queue_json | grep -q "\"queue_name\": *\"hold\""' "postqueue -j shows them in queue hold"
policy_stub_stop
policy_stub_start || bail "stand-in did not restart"
set -- $held
pf_postsuper -H "$1" >/dev/null 2>&1
pf_postsuper -d "$2" >/dev/null 2>&1
pf_wait_settled 30
tap_is "$(pf_hold_count)" 0 "postsuper -H / -d emptied the hold queue"
wait_for 20 '[ "$(sink_count h6-)" -ge 1 ]'
sleep 1
tap_is "$(sink_count h6-)" 1 "the released message reached the sink, the deleted one did not"

# 7. Dovecot's other listeners
tap_ok 'timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$IMAP_PORT; head -n1 <&3" | grep -q "^\* OK"' \
	"Dovecot IMAP answers on 127.0.0.1:$IMAP_PORT"
tap_ok 'timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$POP3_PORT; head -n1 <&3" | grep -q "^+OK"' \
	"Dovecot POP3 answers on 127.0.0.1:$POP3_PORT"

tap_done
