#!/usr/bin/env python3
"""listen-client.py - hostile and ordinary clients for t-listen.sh.

  hold   (--port P --source S | --sock PATH) --count N --report FILE
         --seconds T [--wait W]
         open N connections from source address S, or to the unix socket
         PATH, stopping at the first that fails (bounded: N <= 5000),
         wait W s (default 3, at most 10), write "opened=N closed=M" to
         FILE (M: closed by the
         server), then hold the rest open for T seconds (bounded: 120).
  drip   (--port P | --sock PATH) --interval I --data TEXT [--max-seconds T]
         send TEXT one byte every I seconds; print "sent=K total=L
         closed=yes|no" when the server closes or T (default 60) passes.
  policy --port P [--source S]
         one policy delegation request; print the reply's action line.
  milter --sock PATH --count N --report FILE --seconds T
         open N connections to a milter unix socket, one after the other,
         each sending a protocol 6 option negotiation (as Postfix does);
         write "admitted=A refused=R" to FILE (refused: closed without an
         answer), then hold the admitted ones T seconds (bounded: 120).
  raw    (--port P | --sock PATH) --data TEXT [--wait S] [--repeat N]
         send TEXT (escapes as in drip; repeated N times, N <= 100000),
         then read for S seconds (default 5, at most 60); print the first
         line of the answer, or "closed" / "timeout" without one, and
         "after=SECONDS" until the server closed (or the wait ended).

Loopback only: every address must be in 127.0.0.0/8.
"""
import argparse
import struct
import resource
import select
import socket
import sys
import time


def loopback(addr):
    if not addr.startswith("127."):
        sys.exit("loopback addresses only: %s" % addr)
    return addr


def connect(port, source=None, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if source:
        s.bind((loopback(source), 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s):
    """True if the peer has closed s (EOF or reset), without waiting."""
    try:
        p = select.poll()
        p.register(s, select.POLLIN)
        if not p.poll(0):
            return False
        return s.recv(4096, socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def cmd_hold(a):
    count = min(a.count, 5000)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (max(count + 64, soft), max(hard, count + 64)))
    socks = []
    for _ in range(count):
        try:
            socks.append(unix_connect(a.sock) if a.sock else
                         connect(a.port, a.source))
        except OSError:
            break
    time.sleep(max(0.0, min(a.wait, 10.0)))
    closed = [s for s in socks if closed_by_server(s)]
    with open(a.report, "w") as f:
        f.write("opened=%d closed=%d\n" % (len(socks), len(closed)))
    for s in closed:
        s.close()
    time.sleep(min(a.seconds, 120))
    for s in socks:
        s.close()


def cmd_drip(a):
    data = a.data.encode().decode("unicode_escape").encode("latin-1")
    s = unix_connect(a.sock) if a.sock else connect(a.port)
    s.setblocking(False)
    start = time.time()
    sent = 0
    closed = False
    while sent < len(data) and time.time() - start < min(a.max_seconds, 120):
        try:
            s.send(data[sent:sent + 1])
            sent += 1
        except OSError:
            closed = True
            break
        end = time.time() + a.interval
        while time.time() < end:
            p = select.poll()
            p.register(s, select.POLLIN)
            r = p.poll(max(0, end - time.time()) * 1000)
            if r and closed_by_server(s):
                closed = True
                break
        if closed:
            break
    print("sent=%d total=%d closed=%s" % (sent, len(data),
                                         "yes" if closed else "no"))


def cmd_policy(a):
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\n"
           "protocol_name=ESMTP\nclient_address=192.0.2.1\n"
           "client_name=host.example\nhelo_name=host.example\n"
           "sender=a@example.org\nrecipient=b@example.net\n"
           "queue_id=\ninstance=1.2.3\nsasl_username=\nsize=0\n\n")
    try:
        s = connect(a.port, a.source, timeout=10)
        s.sendall(req.encode())
        buf = b""
        while b"\n\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        print(buf.decode(errors="replace").split("\n")[0] or "closed")
    except OSError as e:
        print("error=%s" % e)


def milter_optneg():
    """SMFIC_OPTNEG, protocol 6, every action and step Postfix offers."""
    body = b"O" + struct.pack(">III", 6, 0x1ff, 0x1fffff)
    return struct.pack(">I", len(body)) + body


def unix_connect(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def cmd_milter(a):
    admitted, refused = [], 0
    for _ in range(min(a.count, 2000)):
        try:
            s = unix_connect(a.sock)
            s.sendall(milter_optneg())
            head = s.recv(5)
        except OSError:
            head = b""
        if len(head) == 5 and head[4:5] == b"O":
            admitted.append(s)
        else:
            refused += 1
            s.close()
    with open(a.report, "w") as f:
        f.write("admitted=%d refused=%d\n" % (len(admitted), refused))
    time.sleep(min(a.seconds, 120))
    for s in admitted:
        s.close()


def cmd_raw(a):
    data = a.data.encode().decode("unicode_escape").encode("latin-1")
    data *= max(1, min(a.repeat, 100000))
    if a.sock:
        s = unix_connect(a.sock)
    else:
        s = connect(a.port)
    start = time.time()
    wait = min(a.wait, 60)
    try:
        s.sendall(data)
    except OSError:
        pass
    buf, closed = b"", False
    while time.time() - start < wait:
        s.settimeout(max(0.05, wait - (time.time() - start)))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
    first = buf.split(b"\n")[0].decode("latin-1").strip() if buf else ""
    print("%s after=%.1f" % (first or ("closed" if closed else "timeout"),
                             time.time() - start))


def endpoint(sp):
    """--port P (TCP on 127.0.0.1) or --sock PATH (unix) for sp."""
    sp.add_argument("--port", type=int, default=0)
    sp.add_argument("--sock", default=None)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hold")
    endpoint(h)
    h.add_argument("--source", default="127.0.0.1")
    h.add_argument("--count", type=int, required=True)
    h.add_argument("--report", required=True)
    h.add_argument("--seconds", type=float, default=60)
    h.add_argument("--wait", type=float, default=3)
    d = sub.add_parser("drip")
    endpoint(d)
    d.add_argument("--interval", type=float, default=1.0)
    d.add_argument("--data", required=True)
    d.add_argument("--max-seconds", type=float, default=60)
    q = sub.add_parser("policy")
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--source", default=None)
    m = sub.add_parser("milter")
    m.add_argument("--sock", required=True)
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--report", required=True)
    m.add_argument("--seconds", type=float, default=30)
    r = sub.add_parser("raw")
    endpoint(r)
    r.add_argument("--data", required=True)
    r.add_argument("--wait", type=float, default=5)
    r.add_argument("--repeat", type=int, default=1)
    a = p.parse_args()
    {"hold": cmd_hold, "drip": cmd_drip, "policy": cmd_policy,
     "milter": cmd_milter, "raw": cmd_raw}[a.cmd](a)


if __name__ == "__main__":
    main()
