#!/usr/bin/env bash
#
# t-learn.sh - mamori learn and mamori replay on the logs a real Postfix and
# a real Dovecot wrote.
#
#   a. the private Postfix (policy: the DUNNO stub, so nothing is decided
#      live) and Dovecot run; alice sends ordinary mail from one network,
#      four accounts log in over IMAP from one address (a shared address),
#      twelve wrong IMAP passwords for bob; then mallory's leaked password: a burst from
#      six networks, ten random external recipients per message
#   b. Postfix's maillog (gzip'd, the way logrotate leaves it) and Dovecot's
#      log parse: no malformed line, every accepted message joined
#   c. mamori learn writes the habit into a fresh store and lists the shared
#      address; mamorid started on that store knows alice: habitual network,
#      state normal, first seen at the log's first message
#   d. mamori replay on the same logs: mallory restricted after N messages,
#      N within the burst, throttled first with a client-network signal in
#      the verdict's reasons (multi_ip or new_network); alice never
#      acted on; the login engine, through core_login, acts on the wrong
#      passwords for bob; the human table escapes a hostile login
#
# TAP on stdout.  Needs root and a build.  Every loop is bounded.
set -u
. "$(dirname "$0")/lib.sh"

ALICE=alice@example.test
MALLORY=mallory@example.test
ORDINARY=6		# alice's messages
BURST=30		# mallory's messages

[ -x "$MAMORID_BIN" ] || bail "no mamorid at $MAMORID_BIN"
[ -x "$MAMORI_BIN" ] || bail "no mamori CLI at $MAMORI_BIN"

it_init
dovecot_start || bail "dovecot did not start"
sink_start || bail "smtp-sink did not start"
policy_stub_start || bail "policy stub did not start"
pf_start || bail "postfix did not start"

# ---------------------------------------------------------------- a. traffic
OUT=$IT_DIR/sent.log
: >"$OUT"
for i in $(seq 1 "$ORDINARY"); do
	send --login "$ALICE" --from "$ALICE" --source 127.0.0.1 \
		--rcpt "friend$((i % 2))@partner.example" --start "$i" >>"$OUT"
done
python3 - "$IMAP_PORT" "${IT_PASSWORD[alice@example.test]}" \
	"${IT_PASSWORD[bob@example.test]}" "${IT_PASSWORD[mallory@example.test]}" \
	"${IT_PASSWORD[newsletter@example.test]}" <<'EOF' >"$IT_DIR/imap.out" 2>&1
import imaplib, sys
port = int(sys.argv[1])
users = ["alice@example.test", "bob@example.test", "mallory@example.test",
         "newsletter@example.test"]
for u, pw in zip(users, sys.argv[2:6]):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    m.login(u, pw)
    m.logout()
import threading
out_lock = threading.Lock()
def say(line):
    # One whole line per print: unlocked prints from four threads once
    # came out as "refusedrefused".
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
def wrong():
    try:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        try:
            m.login("bob@example.test", "not-bobs-password")
        except imaplib.IMAP4.error:
            say("refused")
        try:
            m.logout()
        except Exception:
            pass
    except Exception as e:
        say("other: %r" % e)
# Three waves of four: Dovecot answers a failure after auth_failure_delay.
for wave in range(3):
    ts = [threading.Thread(target=wrong) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(40)
EOF
IT_SECRETS+=(not-bobs-password)
tap_is "$(grep -cx refused "$IT_DIR/imap.out")" 12 "a: twelve wrong IMAP passwords for bob refused" ||
	sed 's/^/# imap: /' "$IT_DIR/imap.out"
for i in $(seq 1 "$BURST"); do
	send --login "$MALLORY" --from "$MALLORY" \
		--source "127.$(((i - 1) % 6 + 10)).0.1" --random-rcpts 10 \
		--seed "$i" --start "$i" >>"$OUT"
done
tap_is "$(result_count accepted "$OUT")" "$((ORDINARY + BURST))" \
	"a: every message accepted (nothing decided live)"
pf_flush
wait_until 60 pf_is_settled || diag "queue not settled"
# postlogd writes asynchronously: wait for the last message's removal.
wait_until 20 bash -c "[ \$(grep -c ': removed\$' '$PF_LOG') -ge $((ORDINARY + BURST)) ]" ||
	diag "maillog has $(grep -c ': removed$' "$PF_LOG") removed lines"

LOGS=$IT_DIR/logs
mkdir -p "$LOGS"
cp "$PF_LOG" "$LOGS/mail.log.1"
gzip -9 "$LOGS/mail.log.1"
cp "$IT_DIR/dovecot/log" "$LOGS/dovecot.log"
diag "maillog sample: $(grep -m1 'sasl_username=' "$PF_LOG")"
diag "dovecot sample: $(grep -m1 'Login: ' "$LOGS/dovecot.log")"

# ---------------------------------------------------------------- b, c. learn
CONF=$MAMORI_DIR/mamori.conf
mamori_write_conf "$CONF"
tap_cmd "c: mamori learn reads the logs" \
	"$MAMORI_BIN" -c "$CONF" --json learn --shared-min 3 \
	"$LOGS/mail.log.1.gz" "$LOGS/dovecot.log"
"$MAMORI_BIN" -c "$CONF" --json learn --store memory: --shared-min 3 \
	"$LOGS/mail.log.1.gz" "$LOGS/dovecot.log" >"$IT_DIR/learn.json" 2>&1
tap_is "$(json_get malformed <"$IT_DIR/learn.json")" 0 "b: no malformed line"
tap_is "$(json_get messages <"$IT_DIR/learn.json")" "$((ORDINARY + BURST))" \
	"b: every accepted message joined"
tap_is "$(json_get accounts <"$IT_DIR/learn.json")" 2 "b: two accounts sent"
tap_ok '[ "$(json_get logins_ok <"$IT_DIR/learn.json")" -ge 4 ]' \
	"b: the IMAP logins were read"
tap_is "$(json_get logins_failed <"$IT_DIR/learn.json")" 12 \
	"b: the failed IMAP logins were read"
tap_is "$(json_get shared_addresses.0.address <"$IT_DIR/learn.json")" \
	127.0.0.1 "c: the address four accounts use is listed as shared"

policy_stub_stop
mamorid_start "$CONF" || bail "mamorid did not start"
tap_is "$(account_state "$ALICE")" normal "c: mamorid knows alice from the log"
tap_ok '[ "$(account_field "$ALICE" counters.habitual_networks)" -ge 1 ]' \
	"c: alice's network is habitual"
FIRST=$(account_field "$ALICE" first_seen)
LOGFIRST=$(date -d "$(grep -m1 'sasl_username=alice' "$PF_LOG" | cut -c1-15)" +%s)
tap_ok '[ -n "$FIRST" ] && [ "$FIRST" -le "$LOGFIRST" ] && [ "$((LOGFIRST - FIRST))" -le 60 ]' \
	"c: alice first seen at her first logged message ($FIRST ~ $LOGFIRST)"
mamorid_stop

# ---------------------------------------------------------------- d. replay
"$MAMORI_BIN" -c "$CONF" --json replay "$LOGS/mail.log.1.gz" "$LOGS/dovecot.log" \
	>"$IT_DIR/replay.json" 2>"$IT_DIR/replay.err"
tap_is "$?" 0 "d: replay ran"
tap_is "$(json_get accounts_acted_on.# <"$IT_DIR/replay.json")" 1 \
	"d: one account acted on (alice never)"
tap_is "$(json_get accounts_acted_on.0.account <"$IT_DIR/replay.json")" \
	"$MALLORY" "d: it is mallory"
python3 - "$IT_DIR/replay.json" "$BURST" <<'EOF' >"$IT_DIR/replay.check"
import json, sys
r = json.load(open(sys.argv[1]))
ev = r["accounts_acted_on"][0]["events"]
restr = [e for e in ev if e["state"] == "restricted"]
thr = [e for e in ev if e["state"] == "throttled"]
ok = bool(restr) and 1 <= restr[0]["message"] <= int(sys.argv[2]) \
    and bool(thr) and ("multi_ip" in thr[0]["reason"] or
                       "new_network" in thr[0]["reason"])
print("ok" if ok else "bad")
print("# throttled at %s, restricted at %s: %s" % (
    thr[0]["message"] if thr else "-", restr[0]["message"] if restr else "-",
    thr[0]["reason"] if thr else "-"))
EOF
tap_is "$(head -1 "$IT_DIR/replay.check")" ok \
	"d: mallory restricted within the burst, throttled with a client-network signal"
tail -n +2 "$IT_DIR/replay.check"
python3 - "$IT_DIR/replay.json" <<'EOF' >"$IT_DIR/replay.login"
import json, sys
a = json.load(open(sys.argv[1]))["login_addresses"]["127.0.0.1"]
print(a["failed"], len(a["ok"]), "acted" if a["delayed"] + a["rejected"] else "none",
      "bruteforce" if "bruteforce" in a.get("first_action", {}).get("reason", "") else "-")
EOF
tap_is "$(cat "$IT_DIR/replay.login")" "12 4 acted bruteforce" \
	"d: replayed logins: 12 failures, 4 accounts in, bob's wrong passwords acted on (bruteforce)"
"$MAMORI_BIN" -c "$CONF" replay "$LOGS/mail.log.1.gz" >"$IT_DIR/replay.txt" 2>&1
tap_ok 'grep -q "^$MALLORY .*restricted" "$IT_DIR/replay.txt" || grep -q "restricted" "$IT_DIR/replay.txt"' \
	"d: the human report names the restriction"
# A hostile login (ESC, CR) in a log line prints escaped: 40 messages in
# a minute from 4 networks get it throttled, so it is in the table.
STAMP=$(date '+%b %e %H:%M:%S')
for i in $(seq 10 49); do
	printf '%s mx1 postfix/submission/smtpd[1]: HOSTILE%02d: client=x[192.0.%d.1], sasl_method=PLAIN, sasl_username=ev\033[31mil\rx\n' \
		"$STAMP" "$i" "$((i % 4))"
done >"$LOGS/hostile.log"
"$MAMORI_BIN" -c "$CONF" replay "$LOGS/hostile.log" >"$IT_DIR/hostile.txt" 2>&1
tap_ok '! grep -q "$(printf "\\033")" "$IT_DIR/hostile.txt" && ! grep -q "$(printf "\\r")" "$IT_DIR/hostile.txt"' \
	"d: no raw ESC or CR in the report"
tap_ok 'grep -qF "ev\\x1b[31mil\\x0dx" "$IT_DIR/hostile.txt"' \
	"d: the hostile login prints escaped"
tap_done
