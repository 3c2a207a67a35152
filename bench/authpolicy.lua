-- authpolicy.lua - wrk script: Dovecot 2.3 auth-policy traffic.
--
-- Posts the bodies Dovecot 2.3.19 sends (keys sorted, every attribute a
-- string, "tls" a boolean; captured from a real Dovecot, see
-- /work/shared/PROTOCOLS.md and test/integration/t-login.sh) for
--   auth_policy_request_attributes = login=%{requested_username}
--     pwhash=%{hashed_password} remote=%{rip} device_id=%{client_id}
--     protocol=%s session_id=%{session} mech=%m
-- with the headers Dovecot sends (Content-Type: application/json,
-- User-Agent: dovecot/auth-policy-client).  One login attempt is, as with
-- Dovecot's defaults:
--   right password (100 - FAIL_PCT %): allow, allow (after the check), report
--   wrong password (FAIL_PCT %):       allow, report
-- so allow and report requests alternate: 2.9 requests per attempt at 10 %.
-- Every request is one decision of the policy server.
--
-- Order: Dovecot sends an attempt's next request only after the answer to
-- the previous one.  wrk's request() is per thread, not per connection, so
-- each thread keeps SLOTS attempts in flight (pass its connection count)
-- and serves them round-robin: an attempt's steps go out a round apart,
-- by when the previous step has been answered (closed loop).
--
-- Population: LOGINS distinct logins (u000000@example.test ...), split
-- between the threads (pass THREADS), each thread going through its share
-- in a random order, then again (a login's session id then repeats, which
-- mamori does not mind: its pending entry ended with the report).  Each
-- login has a home address among ADDRS addresses (10.x.y.z, 16 per /24);
-- MOBILE_PCT % of attempts come from another address.  Protocols: 70 %
-- imap, 20 % pop3, 10 % smtp (SMTP AUTH through Postfix: empty
-- session_id).  pwhash: a fixed 4-hex-digit value per login for the right
-- password, a random other one for a wrong password.  Requests are built
-- once per thread in init() (about 0.1 s), so the generator costs little.
--
-- Usage: wrk -t T -c C -s authpolicy.lua http://127.0.0.1:PORT/auth-policy \
--            -- LOGINS ADDRS FAIL_PCT MOBILE_PCT SLOTS THREADS
-- (defaults 100000 4000 10 5 C/T 1).  done() prints one line:
--   RESULT requests=N duration_us=N rps=N p50_us=N p90_us=N p99_us=N
--          p999_us=N max_us=N non2xx=N connect=N read=N write=N timeout=N

local tid_next = 0

function setup(thread)
	thread:set("tid", tid_next)
	tid_next = tid_next + 1
end

local LOGINS, ADDRS, FAIL_PCT, MOBILE_PCT, SLOTS, THREADS =
	100000, 4000, 10, 5, 50, 1

-- The pool: attempt k is allow_req[k], report_req[k], ok[k].
local allow_req, report_req, okv = {}, {}, {}
local npool, next_attempt = 0, 1
-- Slots: the attempt each serves and its next step (1 allow, 2 second
-- allow, 3 report; 0 = take a new attempt).
local slot_att, slot_step = {}, {}
local slot_cur = 0

local function address(n)
	local net = math.floor(n / 16)
	return string.format("10.%d.%d.%d", math.floor(net / 256) % 256,
		net % 256, n % 16 + 1)
end

local function http(path, body)
	return "POST " .. path .. " HTTP/1.1\r\n" ..
		"Host: " .. (wrk.headers["Host"] or "127.0.0.1") .. "\r\n" ..
		"Content-Type: application/json\r\n" ..
		"User-Agent: dovecot/auth-policy-client\r\n" ..
		"Content-Length: " .. #body .. "\r\n\r\n" .. body
end

local function build(tid)
	local path_allow = wrk.path .. "?command=allow"
	local path_report = wrk.path .. "?command=report"
	local mine = {}
	for i = tid, LOGINS - 1, THREADS do
		mine[#mine + 1] = i
	end
	for k = #mine, 2, -1 do		-- Fisher-Yates
		local j = math.random(k)
		mine[k], mine[j] = mine[j], mine[k]
	end
	for k = 1, #mine do
		local i = mine[k]
		local login = string.format("u%06d@example.test", i)
		local home = (i * 7919) % ADDRS
		if math.random(100) <= MOBILE_PCT then
			home = math.random(0, ADDRS - 1)
		end
		local good = (i * 2654435761) % 4096
		local ok = math.random(100) > FAIL_PCT
		local h = good
		if not ok then
			h = (good + math.random(1, 4095)) % 4096
		end
		local r, proto, sid = math.random(100), "imap", ""
		if r > 90 then
			proto = "smtp"
		elseif r > 70 then
			proto = "pop3"
		end
		if proto ~= "smtp" then
			sid = string.format("%04x%012x", tid % 65536, k)
		end
		local head = '{"device_id":"","login":"' .. login ..
			'","mech":"PLAIN","protocol":"' .. proto ..
			'","pwhash":"' .. string.format("%04x", h) ..
			'","remote":"' .. address(home) ..
			'","session_id":"' .. sid .. '"'
		allow_req[k] = http(path_allow, head .. ',"tls":false}')
		report_req[k] = http(path_report, head .. ',"success":' ..
			(ok and "true" or "false") ..
			',"policy_reject":false,"tls":false}')
		okv[k] = ok
	end
	npool = #mine
end

function init(args)
	LOGINS = tonumber(args[1]) or LOGINS
	ADDRS = tonumber(args[2]) or ADDRS
	FAIL_PCT = tonumber(args[3]) or FAIL_PCT
	MOBILE_PCT = tonumber(args[4]) or MOBILE_PCT
	SLOTS = tonumber(args[5]) or SLOTS
	THREADS = tonumber(args[6]) or THREADS
	math.randomseed(7 + 7919 * (tid or 0) + os.time())
	build(tid or 0)
	for s = 1, SLOTS do
		slot_att[s], slot_step[s] = 0, 0
	end
end

function request()
	slot_cur = slot_cur % SLOTS + 1
	local s = slot_cur
	local k, step = slot_att[s], slot_step[s]
	if step == 0 then
		k = next_attempt
		next_attempt = next_attempt % npool + 1
		slot_att[s] = k
		step = 1
	end
	if step == 1 then
		slot_step[s] = okv[k] and 2 or 3
		return allow_req[k]
	elseif step == 2 then
		slot_step[s] = 3
		return allow_req[k]
	end
	slot_step[s] = 0
	return report_req[k]
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d " ..
		"p99_us=%d p999_us=%d max_us=%d non2xx=%d connect=%d read=%d " ..
		"write=%d timeout=%d\n",
		summary.requests, summary.duration,
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency:percentile(99.9), latency.max,
		e.status, e.connect, e.read, e.write, e.timeout))
end
