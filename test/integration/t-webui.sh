#!/usr/bin/env bash
#
# t-webui.sh - the admin web UI in a real browser (headless Chromium through
# chromedriver and python3-selenium, test/integration/webui.py) against a
# mamorid fed by real mail through Postfix and Dovecot.
#
#   a. mamorid with the API on TCP and a token, restrict_action = hold
#   b. a simulated hijack: mallory's leaked password sends a burst from 4
#      networks to random external domains as a foreign sender, through
#      Postfix, until mamori restricts her; her mail sits in Postfix's hold
#      queue.  A hostile login (<img onerror>, <script>, a control byte)
#      reaches the policy port and is restricted with a hostile reason.
#   c. the browser: the CSP header; sign-in with the token; the restricted
#      account in the list and its timeline with the evidence (addresses,
#      recipient domains, counters), the notices sent and held queue IDs;
#      the hostile login and reason shown as text, no element made and no
#      script run; a POST without (or with a wrong) CSRF token refused with
#      403; held mail, logins (an address blocked from the page, a range
#      allowlisted and removed), domains,
#      scan (an .eml uploaded) and Japanese pages; screenshots of each
#   d. a POST with the session cookie but no CSRF token, and one from
#      another Origin, refused with 403 (curl), and nothing changed
#   e. release with the mouse: password change recorded, then released
#      with held mail released: Postfix's hold queue empties (postqueue),
#      the mail reaches the sink, the account is on probation, and the
#      log and the account's trail name the actor ui:api-token
#
# Screenshots: $MAMORI_SHOTS (default <build>-logs/webui/, e.g.
# build-logs/webui/webui-account.png); docs/ui/ keeps copies.
# Skips when chromium, chromedriver or python3-selenium are missing.
# TAP on stdout.  Every loop is bounded in count and every wait in time.
set -u
. "$(dirname "$0")/lib.sh"

MALLORY=mallory@example.test
FOREIGN_FROM=service@secure-billing-update.example
BURST_MAX=40
# The hostile login: markup, a script and a control byte (\x01); no '/',
# which no API path segment may hold (docs/api.md).
HOSTILE_RAW='<img src=x onerror="window.__pwned=1"><script>window.__pwned=2\x01@example.test'
HOSTILE_KEY='<img src=x onerror="window.__pwned=1"><script>window.__pwned=2\x01@example.test'
HOSTILE_REASON='<img src=y onerror="window.__pwned=3"><script>window.__pwned=4</script> abuse desk'
SHOTS=${MAMORI_SHOTS:-$MAMORI_BUILD-logs/webui}
PY=/usr/bin/python3

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] ||
	! $PY -c 'import selenium' 2>/dev/null; then
	echo "1..0 # SKIP chromium, chromium-driver or python3-selenium missing"
	exit 0
fi
[ -x "$MAMORID_BIN" ] || bail "no mamorid at $MAMORID_BIN (build first; MAMORI_BUILD=$MAMORI_BUILD)"
[ -x "$MAMORI_BIN" ] || bail "no mamori CLI at $MAMORI_BIN"

it_init
mkdir -p "$SHOTS"
API_PORT=$SPARE_PORT
AUTHPOLICY_PORT=$(free_ports 1) || bail "no free port"
TOKEN=webui-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
BASE=http://127.0.0.1:$API_PORT

dovecot_start || bail "dovecot did not start"
sink_start || bail "smtp-sink did not start"
pf_start || bail "postfix did not start"

# ---------------------------------------------------------------- a. start

CONF=$MAMORI_DIR/mamori.conf
# No zone server here: DNS goes to a UDP port nobody answers on (the API
# listens on TCP only), so the Domains page's check shows its incomplete state.
mamori_write_conf "$CONF" \
	"api_tcp_listen = inet:127.0.0.1:$API_PORT" \
	"api_token = $TOKEN" \
	"dns_upstream = 127.0.0.1@$API_PORT" \
	"dns_timeout_ms = 500" \
	"[class default]" \
	"mode = enforce" \
	"restrict_action = hold"
mamorid_start "$CONF" || bail "mamorid did not start"
tap_ok 'mamorid_running' "a. mamorid runs (API $BASE with a token)"

# ---------------------------------------------------------------- b. traffic

# A burst like t-outbound's: one message per connection, rotating client
# networks, 8 random external domains, a MAIL FROM she does not own; stops
# a few messages after the restriction so that some mail is held.
held_after=0
for ((i = 1; i <= BURST_MAX; i++)); do
	SEND_TAG=burst send --login "$MALLORY" --source "127.$(((i - 1) % 4 + 1)).0.1" \
		--from "$FOREIGN_FROM" --random-rcpts 8 --start "$i" \
		--subject "Your invoice %N" >>"$IT_DIR/burst.out" 2>&1
	if [ "$(account_state "$MALLORY")" = restricted ]; then
		held_after=$((held_after + 1))
		[ "$held_after" -ge 3 ] && break
	fi
done
tap_is "$(account_state "$MALLORY")" restricted "b. mallory restricted after $i messages"
HELD=$(pf_hold_ids | sort | tr '\n' ' ')
tap_ok '[ -n "$HELD" ]' "b. Postfix's hold queue has her mail ($(echo $HELD | wc -w) messages)"

# policy_raw LOGIN: one RCPT request with LOGIN's bytes (\xNN decoded)
# straight to the policy port, as Postfix passes a SASL login.
policy_raw() {
	timeout 10 python3 - "$POLICY_PORT" "$1" <<'PYEOF'
import socket, sys
login = sys.argv[2].encode("utf-8", "surrogateescape").decode("unicode_escape").encode("latin-1")
req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=" + login +
       b"\nrecipient=x@external.example\nclient_address=127.0.0.1\n\n")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(req)
print(s.recv(4096).decode("latin-1").split("\n")[0])
PYEOF
}
policy_raw "$HOSTILE_RAW" >/dev/null
tap_cmd "b. the hostile login restricted (CLI) with a hostile reason" \
	mamori account restrict "$HOSTILE_KEY" --reason "$HOSTILE_REASON"

# A credential-stuffing run straight to the auth-policy port, as Dovecot's
# auth_policy_server_url client posts it (PROTOCOLS.md): one address, 30
# accounts, wrong passwords but for two; so the Logins page has an incident.
timeout 60 python3 - "$AUTHPOLICY_PORT" <<'PYEOF' >"$IT_DIR/stuffing.out" 2>&1
import http.client, json, sys
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
def post(cmd, body):
    c.request("POST", "/?command=" + cmd, json.dumps(body), {"Content-Type": "application/json"})
    return c.getresponse().read()
for i in range(30):
    b = {"login": "user%02d@example.test" % i, "protocol": "imap", "pwhash": "0f%02x" % i,
         "remote": "192.0.2.77", "session_id": "s%d" % i, "tls": False, "device_id": ""}
    post("allow", b)
    ok = i in (7, 19)
    if ok:
        post("allow", b)
    b.update(success=ok, policy_reject=False)
    post("report", b)
print("posted")
PYEOF
tap_ok 'mamori incidents 2>/dev/null | grep -q inc-' "b. the stuffing run opened an incident"

# An .eml for the Scan page: a display name and a link text that name a
# brand the addresses do not belong to.
EML=$IT_DIR/scan.eml
printf '%s\r\n' 'From: "Amazon.co.jp" <support@amaz0n-secure.example>' \
	'To: bob@example.test' 'Subject: Verify your account' \
	'Message-ID: <w1@amaz0n-secure.example>' 'MIME-Version: 1.0' \
	'Content-Type: text/html; charset=utf-8' '' \
	'<p>Your account is locked: <a href="http://198.51.100.7/login">https://www.amazon.co.jp/signin</a></p>' >"$EML"

# ---------------------------------------------------------------- c. browser

# run_ui_step STEP ARGS: webui.py STEP BASE TOKEN SHOTS ARGS; its checks
# become TAP lines.
run_ui_step() {
	local step=$1
	shift
	run_ui_args=("$step" "$BASE" "$TOKEN" "$SHOTS" "$@")
	local line res label
	while IFS= read -r line; do
		case $line in
		"check "*)
			res=${line#check }
			label=${res#* }
			res=${res%% *}
			tap_ok "[ $res = ok ]" "${label%% :: *}"
			[ "$res" = ok ] || diag "${label#* :: }" ;;
		*) diag "webui.py: $line" ;;
		esac
	done < <(timeout 120 $PY "$IT_LIB_DIR/webui.py" "${run_ui_args[@]}" 2>"$IT_DIR/webui-$step.err")
	[ -s "$IT_DIR/webui-$step.err" ] && sed 's/^/# webui.py: /' "$IT_DIR/webui-$step.err" | tail -5
	return 0
}

# Her restriction notices have gone out, for the timeline to show them.
tap_ok 'wait_until 20 notice_in_timeline "$MALLORY"' \
	"c. the API lists mallory's notices sent in her timeline"
run_ui_step inspect "$MALLORY" "$HOSTILE_KEY" "$HOSTILE_REASON" "$EML"

# ---------------------------------------------------------------- d. CSRF (curl)

login_json=$(curl -s -m 10 -c "$IT_DIR/cookies" -H "Origin: $BASE" \
	-d "{\"token\":\"$TOKEN\"}" "$BASE/ui/login")
CSRF=$(echo "$login_json" | json_get csrf)
tap_ok '[ ${#CSRF} -eq 64 ]' "d. curl signs in and gets a CSRF token"
grep -q 'HttpOnly' "$IT_DIR/cookies" && http_only=1 || http_only=0
tap_is "$http_only" 1 "d. the session cookie is HttpOnly"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -b "$IT_DIR/cookies" -H "Origin: $BASE" \
	-d '{"reason":"csrf"}' "$BASE/v1/accounts/alice%40example.test/restrict")
tap_is "$code" 403 "d. session cookie without X-Mamori-CSRF: 403"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -b "$IT_DIR/cookies" -H "X-Mamori-CSRF: $CSRF" \
	-H "Origin: http://evil.example" -d '{"reason":"csrf"}' \
	"$BASE/v1/accounts/alice%40example.test/restrict")
tap_is "$code" 403 "d. the right token from another Origin: 403"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -b "$IT_DIR/cookies" "$BASE/v1/stats")
tap_is "$code" 200 "d. the session reads the API (GET /v1/stats)"
hist=$(curl -s -m 10 -b "$IT_DIR/cookies" "$BASE/v1/stats/history?range=hour")
inseries=$(echo "$hist" | python3 -c 'import json, sys
h = json.load(sys.stdin)["series"]
k = ["in_accept", "in_tag", "in_hold", "in_tempfail", "in_reject", "in_phishing",
     "in_fake_billing", "in_malware", "in_solicitation", "in_spoofing",
     "in_backscatter", "dmarc_pass", "dmarc_fail", "dmarc_none"]
print(sum(1 for x in k if len(h.get(x, [])) == 60))' 2>/dev/null)
tap_is "$inseries" 14 "d. /v1/stats/history has the inbound verdict series (action, label, DMARC)"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Origin: $BASE" \
	-d '{"token":"wrong"}' "$BASE/ui/login")
tap_is "$code" 401 "d. a wrong token does not sign in"
tap_ok '! mamori --json account show alice@example.test 2>/dev/null | grep -q restricted' \
	"d. nothing was restricted by the refused requests"
tap_is "$(account_field "$MALLORY" credential_changed)" 0 \
	"d. the refused credential-change POSTs of c. recorded nothing"

# ---------------------------------------------------------------- e. release

sleep 1.1	# the password change must come after the restriction's second
run_ui_step release "$MALLORY"
hold_empty() { [ "$(pf_hold_count)" -eq 0 ]; }
tap_ok 'wait_until 30 hold_empty' "e. Postfix's hold queue is empty (postqueue)"
pf_flush
released_ids=$(for q in $HELD; do grep "queue_id=$q" "$IT_DIR/burst.out" | sed -n 's/.* id=\([^ ]*\) .*/\1/p'; done | sort -u)
all_delivered() {
	local id
	for id in $released_ids; do sink_test_ids | grep -qxF -- "$id" || return 1; done
}
tap_ok 'wait_until 30 all_delivered' "e. the released messages reached the sink ($(echo $released_ids | wc -w))"
tap_is "$(account_state "$MALLORY")" probation "e. mallory is on probation"
tap_ok 'grep -qE "event=api_request method=POST path=/v1/accounts/mallory(%40|@)example.test/release status=200 actor=ui:api-token" "$MAMORI_LOG"' \
	"e. the log names the actor ui:api-token"
tap_ok 'mamori --json account show "$MALLORY" | grep -q "ui:api-token"' \
	"e. the account's trail names the actor ui:api-token"
tap_ok 'grep -q "event=ui_request what=login status=200 actor=ui:api-token" "$MAMORI_LOG"' \
	"e. sign-ins are logged"
tap_ok '! grep -qF "$TOKEN" "$MAMORI_LOG"' "e. the token is never logged"
diag "screenshots in $SHOTS: $(cd "$SHOTS" && ls | tr '\n' ' ')"

tap_done
