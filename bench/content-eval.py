#!/usr/bin/env python3
"""content-eval - the inbound content verdict (issue 10) over the shared
corpora: which scam labels and actions `mamori scan --json` gives on
phishing, spam and ham.  bench/run-content-eval.sh starts the DNS server
and calls this; see docs/benchmarks.md, "Content quality".

  bench/content-eval.py MAMORI CONF SHARED [--jobs N] [--timeout S]
                        [--out FILE.jsonl] [--only SET] [--limit N]

MAMORI is the CLI binary, CONF its configuration (dns_upstream pointing at
a server that answers NXDOMAIN for everything: offline, no historical
SPF/DKIM), SHARED the ../shared directory.  Every message is scanned once,
in its own process bounded by --timeout seconds, --jobs at a time.

The verdict format read (issue 10's `mamori scan --json`): top-level
"action" (accept|tag|hold|reject, the combined verdict; tempfail and
anything else are counted as such), "content_action" (the content verdict
alone), "score", "labels" (strings) and "reasons" (objects with "name",
"label", "points", "detail").  A verdict without "labels" counts as no
label (the mail-authentication-only scan of before issue 10).

Prints markdown on stdout: per label the hits on each set, per set the
actions, and every reason that fired on ham (the false positives, by
reason name, with example files).  Exit 0 when every scan gave a verdict,
1 otherwise (the table is still printed).
"""
import argparse
import collections
import concurrent.futures
import json
import os
import subprocess
import sys
import time

LABELS = ('phishing', 'fake-billing', 'malware', 'solicitation', 'spoofing',
          'backscatter')
ACTIONS = ('accept', 'tag', 'hold', 'reject', 'tempfail')
SA = 'corpora/spamassassin-public-corpus'
PP = 'corpora/phishing-pot-subset'
# (set name, folder under SHARED, kind)
SETS = (('phishing-pot', PP + '/email', 'phish'),
        ('spam-1', SA + '/spam-1', 'spam'),
        ('easy-ham-1', SA + '/easy-ham-1', 'ham'),
        ('hard-ham-1', SA + '/hard-ham-1', 'ham'))
SPOOF_TAG = 'display-name-contains-other-address'


def scan(mamori, conf, path, timeout):
    """One scan: (verdict dict or None, error text, seconds)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([mamori, '-c', conf, 'scan', '--json', path],
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, 'timeout after %ss' % timeout, time.monotonic() - t0
    dt = time.monotonic() - t0
    if p.returncode != 0:
        return None, 'exit %d: %s' % (p.returncode,
                                      p.stderr.decode('utf-8', 'replace')
                                      [:200].strip()), dt
    try:
        v = json.loads(p.stdout)
    except ValueError as e:
        return None, 'bad JSON: %s' % e, dt
    if not isinstance(v, dict):
        return None, 'JSON is not an object', dt
    return v, '', dt


def norm(v):
    """(action, labels, reasons) of a verdict, defensively."""
    action = v.get('action') if isinstance(v.get('action'), str) else '?'
    labels = [x for x in v.get('labels') or [] if isinstance(x, str)]
    reasons = [r for r in v.get('reasons') or [] if isinstance(r, dict)]
    if not reasons and isinstance(v.get('reason'), str) and action != 'accept':
        # the scan before issue 10: one "reason" sentence; its first words
        # ("dmarc fail") stand for a name
        reasons = [{'name': ' '.join(v['reason'].split()[:2])}]
    return action, labels, reasons


def pct(n, d):
    return '%d (%.1f%%)' % (n, 100.0 * n / d) if d else '—'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mamori')
    ap.add_argument('conf')
    ap.add_argument('shared')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--timeout', type=int, default=30)
    ap.add_argument('--out')
    ap.add_argument('--only', action='append')
    ap.add_argument('--limit', type=int, default=0)
    a = ap.parse_args()

    manifest = os.path.join(a.shared, PP, 'MANIFEST.json')
    spoofs = set()
    if os.path.exists(manifest):
        spoofs = {e['file'] for e in json.load(open(manifest))
                  if SPOOF_TAG in e.get('tags', [])}

    jobs = []   # (set, kind, path)
    for name, folder, kind in SETS:
        if a.only and name not in a.only:
            continue
        d = os.path.join(a.shared, folder)
        files = sorted(f for f in os.listdir(d) if not f.startswith('.'))
        if a.limit:
            files = files[:a.limit]
        jobs += [(name, kind, os.path.join(d, f)) for f in files]

    res = []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        futs = [ex.submit(scan, a.mamori, a.conf, p, a.timeout)
                for _, _, p in jobs]
        for j, f in zip(jobs, futs):
            res.append((j, f.result()))
    wall = time.monotonic() - t0

    out = open(a.out, 'w') if a.out else None
    n = collections.Counter()            # per set
    hits = collections.Counter()         # (label, set)
    acts = collections.Counter()         # (set, action)
    cacts = collections.Counter()        # (set, content_action)
    spoof_n = spoof_hit = 0
    spoof_act = collections.Counter()
    fp = collections.defaultdict(list)   # reason name -> [(set, file, act)]
    rhits = collections.Counter()        # (reason name, set): messages
    fails = []
    slowest = (0.0, '')
    for (sname, kind, path), (v, err, dt) in res:
        base = os.path.basename(path)
        n[sname] += 1
        slowest = max(slowest, (dt, base))
        if v is None:
            fails.append((sname, base, err))
            acts[(sname, 'no verdict')] += 1
            if out:
                out.write(json.dumps({'set': sname, 'file': base,
                                      'error': err}) + '\n')
            continue
        action, labels, reasons = norm(v)
        if out:
            out.write(json.dumps({'set': sname, 'file': base,
                                  'action': action, 'score': v.get('score'),
                                  'labels': labels,
                                  'reasons': reasons}) + '\n')
        acts[(sname, action if action in ACTIONS else 'other')] += 1
        ca = v.get('content_action')
        if isinstance(ca, str):
            cacts[(sname, ca if ca in ACTIONS else 'other')] += 1
        for lab in set(labels):
            hits[(lab, sname)] += 1
        for rn in {str(r.get('name', '?')) for r in reasons}:
            rhits[(rn, sname)] += 1
        if sname == 'phishing-pot' and base in spoofs:
            spoof_n += 1
            spoof_act[action] += 1
            if 'spoofing' in labels:
                spoof_hit += 1
        if kind == 'ham' and (action != 'accept' or labels):
            names = {str(r.get('name', '?')) for r in reasons} or {'(none)'}
            for rn in names:
                fp[rn].append((sname, base, action))
    if out:
        out.close()

    ham = n['easy-ham-1'] + n['hard-ham-1']
    print('Messages: %s; wall time %.0f s with %d jobs; slowest scan %.2f s '
          '(%s).' % (', '.join('%s %d' % (s, n[s]) for s, _, _ in SETS
                               if n[s]), wall, a.jobs, slowest[0],
                     slowest[1]))
    print()
    print('| label | phishing-pot | display-name spoofs (tagged) | spam-1 '
          '| easy-ham-1 (FP) | hard-ham-1 (FP) |')
    print('|---|---:|---:|---:|---:|---:|')
    others = sorted({lab for lab, _ in hits} - set(LABELS))
    for lab in list(LABELS) + others:
        sp = pct(spoof_hit, spoof_n) if lab == 'spoofing' else '—'
        print('| %s | %s | %s | %s | %s | %s |' % (
            lab, pct(hits[(lab, 'phishing-pot')], n['phishing-pot']), sp,
            pct(hits[(lab, 'spam-1')], n['spam-1']),
            pct(hits[(lab, 'easy-ham-1')], n['easy-ham-1']),
            pct(hits[(lab, 'hard-ham-1')], n['hard-ham-1'])))
    print()
    cols = list(ACTIONS) + ['other', 'no verdict']
    print('| set | messages | ' + ' | '.join(cols) + ' |')
    print('|---|---:|' + '---:|' * len(cols))
    for s, _, _ in SETS:
        if n[s]:
            print('| %s | %d | %s |' % (s, n[s], ' | '.join(
                pct(acts[(s, c)], n[s]) for c in cols)))
    if spoof_n:
        print('| (tagged spoofs of phishing-pot) | %d | %s |' % (
            spoof_n, ' | '.join(pct(spoof_act[c], spoof_n) for c in cols)))
    print()
    if cacts:
        print('The content verdict alone ("content_action"; "action" above '
              'also carries SPF/DKIM/DMARC):')
        print()
        cc = list(ACTIONS[:4]) + ['other']
        print('| set | ' + ' | '.join(cc) + ' |')
        print('|---|' + '---:|' * len(cc))
        for s_, _, _ in SETS:
            if n[s_]:
                print('| %s | %s |' % (s_, ' | '.join(
                    pct(cacts[(s_, c)], n[s_]) for c in cc)))
        print()
    held = sum(acts[(s, c)] for s in ('easy-ham-1', 'hard-ham-1')
               for c in ('hold', 'reject'))
    tagged = sum(acts[(s, 'tag')] for s in ('easy-ham-1', 'hard-ham-1'))
    if ham:
        print('Goal on ham (%d messages): 0 held or rejected: %d (%s); '
              '<= 0.5%% tagged: %.2f%% (%s).' % (
                  ham, held, 'met' if held == 0 else 'not met',
                  100.0 * tagged / ham,
                  'met' if tagged * 200 <= ham else 'not met'))
        print()
    if fp:
        print('Ham with a label or an action other than accept, by reason '
              'name (a message counts once per reason):')
        print()
        print('| reason | ham messages | actions | examples |')
        print('|---|---:|---|---|')
        for rn, lst in sorted(fp.items(), key=lambda kv: -len(kv[1])):
            ac = collections.Counter(x[2] for x in lst)
            print('| %s | %d | %s | %s |' % (
                rn, len(lst), ', '.join('%s %d' % kv for kv in
                                        sorted(ac.items())),
                ', '.join('%s/%s' % (x[0], x[1][:12]) for x in lst[:3])))
        print()
    if rhits:
        print('Every reason that fired, even below the thresholds (messages '
              'per set):')
        print()
        print('| reason | ' + ' | '.join(s_ for s_, _, _ in SETS) + ' |')
        print('|---|' + '---:|' * len(SETS))
        for rn in sorted({k[0] for k in rhits},
                         key=lambda r: (-sum(rhits[(r, s_)] for s_, _, k in
                                             SETS if k == 'ham'), r)):
            print('| %s | %s |' % (rn, ' | '.join(
                str(rhits[(rn, s_)]) for s_, _, _ in SETS)))
        print()
    if fails:
        print('No verdict for %d messages:' % len(fails))
        print()
        for s, b, e in fails[:20]:
            print('- %s/%s: %s' % (s, b, e))
        print()
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
