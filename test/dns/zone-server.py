#!/usr/bin/python3
"""zone-server - a tiny authoritative DNS server on loopback for tests.

Usage: zone-server.py ZONEFILE PORT [ADDRESS]

Serves ZONEFILE on ADDRESS (default 127.0.0.1) port PORT, UDP and TCP, and
prints "READY" on stdout once both sockets are bound.  Exits 77 if dnslib
(Debian python3-dnslib) is missing, so a test can skip.

Zone file: one record a line, tab-separated, the format of the flattened
SPF suite (corpora/spf-test-suite/flat/README-flat.md) without the
scenario and order columns:

    name  TYPE  rdata...

A, AAAA, PTR, CNAME: one rdata field; MX: preference and exchange; TXT
and SPF: one field per character-string.  Escapes \\\\ \\t \\n \\r \\xHH
(in names too: names are matched octet by octet, ASCII case folded).
"name TIMEOUT *" (or a type) makes queries for the name (that type) go
unanswered unless the name has records of the asked type.  Lines starting
with # are comments.  Absent names are NXDOMAIN, absent types NODATA; a
CNAME is answered with the chain and the target's records (8 levels).
Records have TTL 60; a negative answer carries an SOA in its authority
section (owner: the name's last two labels, TTL and MINIMUM 30), so a
resolver caches it for 30 s as RFC 2308 says.
"""
import os
import sys
import threading
import time

try:
    from dnslib import (A, AAAA, CNAME, MX, PTR, QTYPE, RCODE, RR, SOA, TXT,
                        DNSLabel)
    from dnslib.server import BaseResolver, DNSError, DNSServer
except ImportError:
    sys.exit(77)

from zonefile import unescape  # test/dns/zonefile.py, beside this script


def key(label):
    """A name's lookup key: its octets, ASCII case folded (RFC 4343).

    Built from the raw labels rather than str(), which would turn a
    space or any octet outside printable ASCII into a \\DDD escape."""
    if isinstance(label, str):
        label = DNSLabel(unescape(label).rstrip(b'.').split(b'.'))
    return b'.'.join(label.label).lower()


class Zone(BaseResolver):
    def __init__(self, path):
        self.rr = {}        # name -> list of (type, rdata object)
        self.timeout = {}   # name -> set of types ('*' for any)
        with open(path, encoding='utf-8') as f:
            for line in f:
                line = line.rstrip('\n')
                if not line or line.startswith('#'):
                    continue
                fld = line.split('\t')
                name, typ, rd = key(fld[0]), fld[1], fld[2:]
                self.rr.setdefault(name, [])
                if typ == 'TIMEOUT':
                    self.timeout.setdefault(name, set()).add(
                        rd[0] if rd else '*')
                elif typ == 'A':
                    self.rr[name].append(('A', A(rd[0])))
                elif typ == 'AAAA':
                    self.rr[name].append(('AAAA', AAAA(rd[0])))
                elif typ == 'MX':
                    self.rr[name].append(
                        ('MX', MX(rd[1] if len(rd) > 1 and rd[1] else '.',
                                  int(rd[0]))))
                elif typ in ('TXT', 'SPF'):
                    self.rr[name].append(
                        (typ, TXT([unescape(x) for x in rd])))
                elif typ == 'PTR':
                    self.rr[name].append(('PTR', PTR(rd[0])))
                elif typ == 'CNAME':
                    self.rr[name].append(('CNAME', CNAME(rd[0])))

    def records(self, label, qtype, reply, depth):
        name = key(label)
        recs = [r for t, r in self.rr.get(name, []) if t == qtype]
        if not recs:
            t = self.timeout.get(name, set())
            if '*' in t or qtype in t:
                raise DNSError('timeout')
        if not recs and qtype != 'CNAME' and depth < 8:
            for t, r in self.rr.get(name, []):
                if t == 'CNAME':
                    reply.add_answer(RR(label, QTYPE.CNAME, rdata=r,
                                        ttl=60))
                    return self.records(r.label, qtype, reply, depth + 1)
        for r in recs:
            reply.add_answer(RR(label, getattr(QTYPE, qtype), rdata=r,
                                ttl=60))
        return name in self.rr

    def resolve(self, request, handler):
        reply = request.reply()
        reply.header.aa = 1
        qname = request.q.qname
        if os.environ.get('ZONE_DEBUG'):
            sys.stderr.write('q %s %s\n' % (qname, QTYPE[request.q.qtype]))
        qtype = QTYPE[request.q.qtype]
        if not self.records(qname, qtype, reply, 0) and not reply.rr:
            reply.header.rcode = RCODE.NXDOMAIN
        if not reply.rr:
            # RFC 2308 3: the SOA tells how long the negative answer lasts
            apex = DNSLabel(qname.label[-2:])
            reply.add_auth(RR(apex, QTYPE.SOA, ttl=NEG_TTL, rdata=SOA(
                apex.add('ns'), apex.add('hostmaster'),
                (1, 3600, 600, 86400, NEG_TTL))))
        return reply


NEG_TTL = 30


class Quiet:
    def __getattr__(self, name):
        return lambda *a, **k: None


def main():
    zone = Zone(sys.argv[1])
    port = int(sys.argv[2])
    addr = sys.argv[3] if len(sys.argv) > 3 else '127.0.0.1'
    servers = [DNSServer(zone, port=port, address=addr, tcp=tcp,
                         logger=Quiet()) for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    sys.stdout.write('READY\n')
    sys.stdout.flush()
    # the test stops reading once it saw READY
    sys.stdout = open('/dev/null', 'w')
    while all(s.isAlive() for s in servers):
        time.sleep(0.2)


if __name__ == '__main__':
    main()
