#!/usr/bin/env python3
"""policy-load.py - drive mamorid's policy port(s) like Postfix's smtpd does.

  policy-load.py one PORT LOGIN STAGE
      one request (STAGE RCPT or END-OF-MESSAGE); prints the action line
  policy-load.py burst PORTS LOGIN N
      N messages for LOGIN, round robin over PORTS (comma-separated): RCPT,
      then END-OF-MESSAGE if RCPT passed; one line per message, then
      "accepted=K" (both stages answered DUNNO)
  policy-load.py load PORTS PREFIX SECONDS
      messages for PREFIX-0, PREFIX-1, ... (a login each, so no limit is
      met), round robin over PORTS, about 500 a second, for SECONDS; one
      connection per port, reconnecting after a failure; prints "dunno=D defer=F reject=R other=O errors=E last=L"
      where L is the action of the last answer, then every distinct
      non-DUNNO action with its count

Bounded: every socket operation times out after 5 s; burst and load stop
by count and by time.  Loopback only.
"""
import socket
import sys
import time

_seq = [0]


def request(login, stage, rcpt="friend@external.example", count=1):
    _seq[0] += 1
    inst = "%x.%x" % (int(time.time() * 1000) & 0xffffffff, _seq[0])
    attrs = [
        "request=smtpd_access_policy",
        "protocol_state=" + stage,
        "sasl_username=" + login,
        "sender=" + login,
        "recipient=" + rcpt,
        "client_address=127.0.0.1",
        "instance=" + inst,
        "queue_id=Q%X" % _seq[0],
    ]
    if stage == "END-OF-MESSAGE":
        attrs.append("recipient_count=%d" % count)
    return ("\n".join(attrs) + "\n\n").encode()


class Conn:
    """One policy connection, reopened after any failure."""

    def __init__(self, port):
        self.port = port
        self.s = None
        self.buf = b""

    def ask(self, req):
        try:
            if self.s is None:
                self.s = socket.create_connection(("127.0.0.1", self.port), 5)
                self.s.settimeout(5)
                self.buf = b""
            self.s.sendall(req)
            while b"\n\n" not in self.buf:
                c = self.s.recv(4096)
                if not c:
                    raise OSError("closed")
                self.buf += c
            reply, self.buf = self.buf.split(b"\n\n", 1)
            line = reply.decode("utf-8", "replace").split("\n")[0]
            return line[len("action="):] if line.startswith("action=") else line
        except OSError as e:
            if self.s is not None:
                self.s.close()
            self.s = None
            return "ERROR " + str(e)


def ports_of(arg):
    return [int(p) for p in arg.split(",")]


def main():
    mode = sys.argv[1]
    if mode == "one":
        print(Conn(int(sys.argv[2])).ask(request(sys.argv[3], sys.argv[4])))
        return
    if mode == "burst":
        conns = [Conn(p) for p in ports_of(sys.argv[2])]
        login, n = sys.argv[3], int(sys.argv[4])
        accepted = 0
        for i in range(n):
            c = conns[i % len(conns)]
            r = c.ask(request(login, "RCPT"))
            e = "-"
            if r == "DUNNO":
                e = c.ask(request(login, "END-OF-MESSAGE"))
                if e == "DUNNO":
                    accepted += 1
            print("msg=%d port=%d rcpt=%s eom=%s" % (i + 1, c.port, r.replace(" ", "_"), e.replace(" ", "_")))
        print("accepted=%d" % accepted)
        return
    if mode == "load":
        conns = [Conn(p) for p in ports_of(sys.argv[2])]
        prefix, secs = sys.argv[3], float(sys.argv[4])
        end = time.time() + secs
        counts = {"dunno": 0, "defer": 0, "reject": 0, "other": 0, "errors": 0}
        kinds = {}
        last = "-"
        i = 0
        while time.time() < end and i < 200000:
            c = conns[i % len(conns)]
            login = "%s-%d@example.test" % (prefix, i)
            for stage in ("RCPT", "END-OF-MESSAGE"):
                a = c.ask(request(login, stage))
                last = a
                if a == "DUNNO":
                    counts["dunno"] += 1
                    continue
                if a.startswith("ERROR"):
                    counts["errors"] += 1
                    time.sleep(0.05)
                elif a.startswith("DEFER") or a.startswith("4"):
                    counts["defer"] += 1
                elif a.startswith("REJECT") or a.startswith("5"):
                    counts["reject"] += 1
                else:
                    counts["other"] += 1
                kinds[a] = kinds.get(a, 0) + 1
                break
            i += 1
            time.sleep(0.002)
        print(" ".join("%s=%d" % kv for kv in counts.items()) +
              " last=" + last.replace(" ", "_"))
        for k, v in sorted(kinds.items()):
            print("action %d %s" % (v, k))
        return
    sys.exit("usage: see the header")


if __name__ == "__main__":
    main()
