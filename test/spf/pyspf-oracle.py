#!/usr/bin/python3
"""pyspf-oracle - SPF results from an independent implementation.

Usage: pyspf-oracle.py ZONES.tsv CASES.tsv

ZONES.tsv is a flattened suite zone file (corpora/spf-test-suite/flat,
README-flat.md).  CASES.tsv has lines "scenario<TAB>ip<TAB>mailfrom<TAB>
helo".  For each case, prints one line: the pyspf (Debian python3-spf)
check_host() result with that scenario's zone served through pyspf's
injectable DNSLookup, the way pyspf's own test driver (test/testspf.py)
serves the suite.  Exits 77 if pyspf is missing.
"""
import os
import sys

try:
    import spf
except ImportError:
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'dns'))
from zonefile import unescape  # noqa: E402 (test/dns/zonefile.py)


def load(path):
    zones = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            fld = line.split('\t')
            sc, order, name, typ = int(fld[0]), int(fld[1]), fld[2], fld[3]
            rd = fld[4:]
            if typ == 'TXT' or typ == 'SPF':
                val = [unescape(x) for x in rd]
            elif typ == 'MX':
                val = (int(rd[0]), rd[1] if len(rd) > 1 else '')
            elif typ == 'TIMEOUT':
                val = 'TIMEOUT'
                typ = rd[0] if rd and rd[0] != '*' else '*'
            else:
                val = rd[0] if rd else ''
            zones.setdefault(sc, []).append((order, name, typ, val))
    out = {}
    for sc, rows in zones.items():
        rows.sort(key=lambda r: r[0])
        z = {}
        for _, name, typ, val in rows:
            z.setdefault(name.lower(), []).append((typ, val))
        out[sc] = z
    return out


ZONE = {}


def lookup(name, qtype, strict=True, timeout=None, level=0):
    name = name.lower().rstrip('.')
    if name not in ZONE:
        if name.startswith('error.'):
            raise spf.TempError('DNS timeout')
        return []
    res = []
    answered = False
    for typ, val in ZONE[name]:
        if val == 'TIMEOUT' and typ in ('*', qtype):
            if not answered:
                raise spf.TempError('DNS timeout')
            break
        if typ == qtype:
            answered = True
            res.append(((name, typ), val))
        elif typ == 'CNAME' and qtype != 'CNAME' and level < 8:
            res.append(((name, typ), val))
            res += lookup(val, qtype, strict, timeout, level + 1)
    return res


def main():
    global ZONE
    zones = load(sys.argv[1])
    spf.DNSLookup = lookup
    with open(sys.argv[2], encoding='utf-8') as f:
        for line in f:
            sc, ip, mailfrom, helo = line.rstrip('\n').split('\t')
            ZONE = zones.get(int(sc), {})
            try:
                q = spf.query(i=ip, s=mailfrom, h=helo, strict=True)
                res = q.check()[0]
            except Exception as e:      # pyspf internal errors
                res = 'exception:' + type(e).__name__
            print(res, flush=False)
    sys.stdout.flush()


if __name__ == '__main__':
    main()
