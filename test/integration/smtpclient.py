#!/usr/bin/env python3
"""smtpclient - a bounded SMTP submission client for mamori's integration tests.

Sends --count messages (stdlib smtplib only), authenticating with AUTH PLAIN
when --login is given, and prints one machine-readable line per message:

  result=accepted|tempfail|rejected|authfail|connfail|error code=NNN
    rcpts_accepted=N rcpts_refused=N rcpt_code=NNN queue_id=ID msg=I
    source=IP id=MSGID text="..."

  accepted  the server said 250 after DATA (queue_id is parsed from
            "queued as ID"); some recipients may have been refused
  tempfail  a 4xx ended the transaction (MAIL, every RCPT, or DATA), or the
            server disconnected (421) mid-session
  rejected  a 5xx ended the transaction
  authfail  AUTH was refused
  connfail  the TCP connection or the greeting failed

A 4xx/5xx is a result, not a crash: the exit status is 0 unless the
arguments are wrong (2).  Every loop is bounded by --count and the number
of recipients, and every network call by --timeout.

Each message carries "X-Mamori-Test-Id: TAG-N" so the sink can be counted
without confusing test mail with mamori's own notices.
"""
import argparse
import random
import re
import smtplib
import socket
import sys
import time
from email.utils import formatdate, make_msgid

MAX_COUNT = 10000
MAX_RCPTS = 1000


def quote(text):
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return re.sub(r"[\r\n]+", " ", text)[:300]


def decode(b):
    if isinstance(b, bytes):
        return b.decode("utf-8", "replace")
    return str(b)


def kind(code):
    if 200 <= code < 300:
        return "accepted"
    if 400 <= code < 500:
        return "tempfail"
    return "rejected"


def build_message(a, sender, rcpts, seq, msgid_tag):
    subject = a.subject.replace("%N", str(seq))
    body_lines = a.body.replace("%N", str(seq)).split("\\n")
    hdrs = [
        "From: <%s>" % sender,
        "To: " + ", ".join("<%s>" % r for r in rcpts[:5])
        + (", ..." if len(rcpts) > 5 else ""),
        "Subject: %s" % subject,
        "Date: %s" % formatdate(localtime=False),
        "Message-ID: %s" % make_msgid(domain="mamori-test.example"),
        "X-Mamori-Test-Id: %s" % msgid_tag,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    return "\r\n".join(hdrs) + "\r\n\r\n" + "\r\n".join(body_lines) + "\r\n"


def recipients(a, rng):
    rc = list(a.rcpt)
    if a.rcpts_file:
        with open(a.rcpts_file) as f:
            rc += [l.strip() for l in f if l.strip() and not l.startswith("#")]
    for _ in range(a.random_rcpts):
        rc.append("u%d@d%d.example" % (rng.randrange(1000000),
                                      rng.randrange(1000000)))
    return rc[:MAX_RCPTS]


def connect(a):
    """Connect, EHLO and AUTH PLAIN; the socket is closed on any failure."""
    src = (a.source, 0) if a.source else None
    s = smtplib.SMTP(timeout=a.timeout, source_address=src,
                     local_hostname=a.helo)
    try:
        code, msg = s.connect(a.host, a.port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, msg)
        s.ehlo()
        if a.login:
            # AUTH PLAIN with an initial response (RFC 4616); smtplib
            # base64-encodes it and raises SMTPAuthenticationError unless 235.
            s.user, s.password = a.login, a.password
            s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
    except BaseException:
        s.close()
        raise
    return s


def one_message(s, a, rng, seq):
    """Run one transaction on s.  Returns a dict of result fields."""
    r = {"rcpts_accepted": 0, "rcpts_refused": 0, "rcpt_code": 0,
         "queue_id": "", "code": 0, "text": ""}
    sender = a.mail_from or a.login or "nobody@example.test"
    rcpts = recipients(a, rng)
    tag = "%s-%d" % (a.tag, seq)
    r["id"] = tag
    code, msg = s.mail(sender)
    if code != 250:
        r.update(result=kind(code), code=code, text=decode(msg))
        s.rset()
        return r
    last_refusal = None
    for rc in rcpts:
        code, msg = s.rcpt(rc)
        if code in (250, 251):
            r["rcpts_accepted"] += 1
        else:
            r["rcpts_refused"] += 1
            if not r["rcpt_code"]:
                r["rcpt_code"] = code
                r["rcpt_text"] = decode(msg)
            last_refusal = (code, decode(msg))
            if code in (421, 521):
                raise smtplib.SMTPServerDisconnected(
                    "%d %s" % (code, decode(msg)))
    if r["rcpts_accepted"] == 0:
        code, text = last_refusal if last_refusal else (554, "no recipients")
        r.update(result=kind(code), code=code, text=text)
        try:
            s.rset()
        except smtplib.SMTPException:
            pass
        return r
    data = build_message(a, sender, rcpts, seq, tag)
    try:
        code, msg = s.data(data.encode("ascii", "replace"))
    except smtplib.SMTPDataError as e:  # DATA itself refused
        code, msg = e.smtp_code, e.smtp_error
    text = decode(msg)
    r.update(result=kind(code), code=code, text=text)
    m = re.search(r"queued as ([0-9A-Za-z]+)", text)
    if m:
        r["queue_id"] = m.group(1)
    return r


def emit(seq, a, r):
    text = r.get("text", "")
    if r.get("result") != "accepted" and r.get("rcpt_text") and \
            r.get("code") != r.get("rcpt_code"):
        text = text + " | rcpt: " + r["rcpt_text"]
    print("result=%s code=%s rcpts_accepted=%d rcpts_refused=%d rcpt_code=%d "
          "queue_id=%s msg=%d source=%s id=%s text=\"%s\"" % (
              r.get("result", "error"), r.get("code", 0),
              r.get("rcpts_accepted", 0), r.get("rcpts_refused", 0),
              r.get("rcpt_code", 0), r.get("queue_id", "") or "-", seq,
              a.source or "-", r.get("id", "-"), quote(text)), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--login", default="")
    ap.add_argument("--password", default="")
    ap.add_argument("--source", default="", help="bind address")
    ap.add_argument("--helo", default="client.example.test")
    ap.add_argument("--from", dest="mail_from", default="")
    ap.add_argument("--rcpt", action="append", default=[])
    ap.add_argument("--rcpts-file", default="")
    ap.add_argument("--random-rcpts", type=int, default=0,
                    help="add N recipients at distinct random external domains")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--per-connection", type=int, default=1,
                    help="messages per connection (default 1: a new "
                    "connection per message)")
    ap.add_argument("--subject", default="mamori test message %N")
    ap.add_argument("--body", default="Hello, this is test message %N.")
    ap.add_argument("--tag", default="t%d" % int(time.time()))
    ap.add_argument("--start", type=int, default=1, help="first sequence number")
    ap.add_argument("--delay", type=float, default=0.0,
                    help="seconds between messages")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    if not (1 <= a.count <= MAX_COUNT) or a.per_connection < 1 or \
            not (0 <= a.random_rcpts <= MAX_RCPTS):
        ap.error("count, per-connection or random-rcpts out of range")
    if not a.rcpt and not a.rcpts_file and not a.random_rcpts:
        ap.error("no recipients (--rcpt, --rcpts-file or --random-rcpts)")
    rng = random.Random(a.seed)

    s = None
    sent_on_conn = 0
    for i in range(a.count):
        seq = a.start + i
        if i and a.delay:
            time.sleep(a.delay)
        r = {}
        stage = "connect"
        try:
            if s is None:
                s = connect(a)
                sent_on_conn = 0
            stage = "transaction"
            r = one_message(s, a, rng, seq)
            sent_on_conn += 1
        except smtplib.SMTPAuthenticationError as e:
            r = {"result": "authfail", "code": e.smtp_code,
                 "text": decode(e.smtp_error)}
            s = close(s, quit=False)
        except smtplib.SMTPServerDisconnected as e:
            # A 421 or a dropped connection: nothing of this transaction was
            # accepted, the client must retry later.
            r = {"result": "connfail" if stage == "connect" else "tempfail",
                 "code": 421, "text": "disconnected: %s" % e}
            s = close(s, quit=False)
        except smtplib.SMTPResponseException as e:
            r = {"result": "connfail" if stage == "connect"
                 else kind(e.smtp_code),
                 "code": e.smtp_code, "text": decode(e.smtp_error)}
            s = close(s, quit=False)
        except OSError as e:  # refused, reset, timeout
            r = {"result": "connfail" if stage == "connect" else "tempfail",
                 "code": 0, "text": "%s: %s" % (type(e).__name__, e)}
            s = None if stage == "connect" else close(s, quit=False)
        r.setdefault("id", "%s-%d" % (a.tag, seq))
        emit(seq, a, r)
        if s is not None and sent_on_conn >= a.per_connection:
            s = close(s, quit=True)
    close(s, quit=True)
    return 0


def close(s, quit=True):
    if s is None:
        return None
    try:
        if quit:
            s.quit()
        else:
            s.close()
    except (smtplib.SMTPException, OSError):
        try:
            s.close()
        except OSError:
            pass
    return None


if __name__ == "__main__":
    sys.exit(main())
