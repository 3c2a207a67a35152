#!/usr/bin/env python3
"""content-split.py - the content verdict on the tune and report halves.

  bench/content-split.py MAMORI SHARED [--half tune|report|both]
                         [--jobs N] [--out FILE.jsonl] [--protected FILE]
                         [--hosts FILE]

Runs `mamori scan --json` offline (test/dns/zone-server.py answering
NXDOMAIN to everything) over phishing-pot-subset and the SpamAssassin sets
spam-1, easy-ham-1 and hard-ham-1, and prints per set and half how many
messages the content verdict tags, holds or rejects, and (--reasons) which
reasons fired.  The halves (docs/design/content.md, "Tune and report
halves"): a file whose name's MD5 (SpamAssassin files: the MD5 in the
name) starts with 0-7 is in the tune half, 8-f in the report half.
Signals are developed on the tune half only; the report half is run once.
"""
import argparse
import collections
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SA = 'corpora/spamassassin-public-corpus'
SETS = (('phishing-pot', 'corpora/phishing-pot-subset/email', 'phish'),
        ('spam-1', SA + '/spam-1', 'spam'),
        ('easy-ham-1', SA + '/easy-ham-1', 'ham'),
        ('hard-ham-1', SA + '/hard-ham-1', 'ham'))


def half(name):
    """'tune' or 'report' by the first hex digit of the name's MD5."""
    part = name.split('.', 1)
    if len(part) == 2 and len(part[1]) == 32 and \
            all(c in '0123456789abcdef' for c in part[1]):
        h = part[1]
    else:
        h = hashlib.md5(name.encode()).hexdigest()
    return 'tune' if h[0] in '01234567' else 'report'


def scan(mamori, conf, path):
    """One scan: the verdict dict, or None."""
    try:
        p = subprocess.run([mamori, '-c', conf, 'scan', '--json', path],
                           capture_output=True, timeout=60)
        return json.loads(p.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mamori')
    ap.add_argument('shared')
    ap.add_argument('--half', default='tune',
                    choices=('tune', 'report', 'both'))
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--out')
    ap.add_argument('--reasons', action='store_true')
    ap.add_argument('--only', action='append')
    ap.add_argument('--protected',
                    default=os.path.join(ROOT, 'etc/protected-domains.example'))
    ap.add_argument('--hosts',
                    default=os.path.join(ROOT, 'etc/content-hosts.example'),
                    help="content_hosts_file ('' for none: main's code "
                    "before the setting existed)")
    a = ap.parse_args()
    a.mamori = os.path.abspath(a.mamori)

    tmp = tempfile.mkdtemp(prefix='mamori-split.')
    zone = os.path.join(tmp, 'zone.txt')
    with open(zone, 'w') as f:
        f.write('content-split.invalid\tTXT\tnothing here\n')
    port = 26150 + os.getpid() % 200
    # Debian's python3: python3-dnslib
    dns = subprocess.Popen(['/usr/bin/python3', '-u',
                            os.path.join(ROOT, 'test/dns/zone-server.py'),
                            zone, str(port), '127.0.0.1'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        if b'READY' not in dns.stdout.readline():
            sys.exit('zone-server.py did not start')
        conf = os.path.join(tmp, 'scan.conf')
        with open(conf, 'w') as f:
            f.write('authserv_id = mx.content-split.test\n'
                    'dns_upstream = 127.0.0.1@%d\ndns_timeout_ms = 2000\n'
                    'lookalike_protected_file = %s\n' % (port, a.protected))
            if a.hosts:
                f.write('content_hosts_file = %s\n' % a.hosts)
        jobs = []
        for name, folder, kind in SETS:
            if a.only and name not in a.only:
                continue
            d = os.path.join(a.shared, folder)
            for fn in sorted(os.listdir(d)):
                h = half(fn)
                if a.half != 'both' and h != a.half:
                    continue
                jobs.append((name, h, kind, fn, os.path.join(d, fn)))
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            res = list(ex.map(lambda j: scan(a.mamori, conf, j[4]), jobs))
    finally:
        dns.kill()
        dns.wait()
    out = open(a.out, 'w') if a.out else None
    tab = collections.Counter()
    rs = collections.Counter()
    for (name, h, kind, fn, _), v in zip(jobs, res):
        key = (name, h)
        tab[key + ('n',)] += 1
        if v is None:
            tab[key + ('error',)] += 1
            continue
        act = v.get('content_action', 'accept')
        tab[key + (act,)] += 1
        if act != 'accept':
            for lab in v.get('labels', []):
                tab[key + ('label:' + lab,)] += 1
        for r in v.get('reasons', []):
            rs[(name, h, r['name'])] += 1
        if out:
            out.write(json.dumps({'set': name, 'half': h, 'file': fn,
                                  'action': act, 'score': v.get('score'),
                                  'labels': v.get('labels'),
                                  'reasons': v.get('reasons')},
                                 ensure_ascii=False) + '\n')
    labs = ('phishing', 'fake-billing', 'malware', 'solicitation',
            'spoofing')
    print('| set | half | messages | tagged | held | rejected | flagged % | '
          + ' | '.join(labs) + ' |')
    print('|---|---|---:|---:|---:|---:|---:|' + '---:|' * len(labs))
    for name, _, _ in SETS:
        for h in ('tune', 'report'):
            k = (name, h)
            n = tab[k + ('n',)]
            if not n:
                continue
            fl = tab[k + ('tag',)] + tab[k + ('hold',)] + tab[k + ('reject',)]
            print('| %s | %s | %d | %d | %d | %d | %.1f%% | %s |' % (
                name, h, n, tab[k + ('tag',)], tab[k + ('hold',)],
                tab[k + ('reject',)], 100.0 * fl / n,
                ' | '.join(str(tab[k + ('label:' + l,)]) for l in labs)))
    if a.reasons:
        print()
        print('| reason | set | half | messages |')
        print('|---|---|---|---:|')
        for (name, h, r), c in sorted(rs.items()):
            print('| %s | %s | %s | %d |' % (r, name, h, c))


if __name__ == '__main__':
    main()
