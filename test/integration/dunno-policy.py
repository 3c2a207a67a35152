#!/usr/bin/env python3
"""dunno-policy - a stand-in Postfix policy delegation server.

Answers "action=DUNNO" (or the action given with --action) to every
request, on persistent connections, one thread per connection.  It proves
the test plumbing (Postfix -> policy service -> reply) before mamorid
exists, and it is the do-nothing baseline for comparisons.

Protocol (Postfix SMTPD_POLICY_README): name=value lines ended by an empty
line; reply "action=..." and an empty line; the connection is reused.

Usage: dunno-policy.py --listen 127.0.0.1:PORT [--log FILE] [--action TEXT]
The log gets one line per request: the protocol_state, sasl_username,
client_address and recipient, so tests can see what Postfix asked.
"""
import argparse
import socket
import socketserver
import sys
import threading

MAX_REQUEST = 64 * 1024  # bytes; a bigger request closes the connection
IDLE_TIMEOUT = 600       # seconds; Postfix's own max_idle is 300 s

log_lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        self.connection.settimeout(IDLE_TIMEOUT)
        attrs = {}
        size = 0
        while True:
            try:
                line = self.rfile.readline(8192)
            except (OSError, socket.timeout):
                return
            if not line:
                return
            size += len(line)
            if size > MAX_REQUEST:
                return
            line = line.rstrip(b"\r\n").decode("utf-8", "replace")
            if line:
                name, _, value = line.partition("=")
                attrs.setdefault(name, value)
                continue
            self.server.note(attrs)
            try:
                self.wfile.write(
                    ("action=%s\n\n" % self.server.action).encode())
                self.wfile.flush()
            except OSError:
                return
            attrs = {}
            size = 0


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def note(self, attrs):
        if not self.logfile:
            return
        with log_lock:
            self.logfile.write(
                "state=%s sasl_username=%s client_address=%s recipient=%s "
                "queue_id=%s\n" % (
                    attrs.get("protocol_state", ""),
                    attrs.get("sasl_username", ""),
                    attrs.get("client_address", ""),
                    attrs.get("recipient", ""),
                    attrs.get("queue_id", "")))
            self.logfile.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="HOST:PORT")
    ap.add_argument("--log", default="")
    ap.add_argument("--action", default="DUNNO")
    a = ap.parse_args()
    host, _, port = a.listen.rpartition(":")
    srv = Server((host, int(port)), Handler)
    srv.action = a.action
    srv.logfile = open(a.log, "a") if a.log else None
    print("dunno-policy listening on %s" % a.listen, file=sys.stderr,
          flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
