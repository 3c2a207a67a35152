#!/usr/bin/env python3
"""lookalike-eval - the look-alike, display-name and link checks over a mail
corpus (docs/design/lookalike.md, "Evaluation").

  bench/lookalike-eval.py BUILD PROTECTED_FILE DIR|FILE... [--manifest M]

Python's email module does only the MIME extraction (From display name and
address, text/html and text/plain bodies as UTF-8); the checks run in
bench/lookalike-eval (libmamori), which reads one record per message on its
stdin and prints one line per message plus totals.  With --manifest
(phishing-pot-subset/MANIFEST.json) the tagged display-name spoofs are
marked so the driver reports recall on them.  Never fetches a URL.
"""
import email
import email.policy
import email.utils
import json
import os
import subprocess
import sys


def records(paths, tagged):
    """Yields (name, tag, display, addr, html, text, subject) per file."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if not f.startswith('.'))
        else:
            files.append(p)
    for f in files:
        raw = open(f, 'rb').read()
        try:
            m = email.message_from_bytes(raw, policy=email.policy.default)
            frm = str(m.get('From', ''))
        except Exception:
            m, frm = None, ''
        disp, addr = email.utils.parseaddr(frm)
        html, text = [], []
        if m is not None:
            for part in m.walk():
                ct = part.get_content_type()
                if ct not in ('text/html', 'text/plain'):
                    continue
                try:
                    body = part.get_content()
                except Exception:
                    payload = part.get_payload(decode=True) or b''
                    body = payload.decode('latin-1')
                (html if ct == 'text/html' else text).append(body)
        try:
            subj = str(m.get('Subject', '')) if m is not None else ''
        except Exception:
            subj = ''
        yield (os.path.basename(f),
               'spoof' if os.path.basename(f) in tagged else '-',
               disp, addr, '\n'.join(html), '\n'.join(text), subj)


def field(out, key, value):
    """One length-prefixed field: KEY TAB LEN NL BYTES NL."""
    b = value.encode('utf-8', 'replace')
    out.write(key.encode() + b'\t' + str(len(b)).encode() + b'\n' + b + b'\n')


def main():
    args = sys.argv[1:]
    tagged = set()
    if '--manifest' in args:
        i = args.index('--manifest')
        for e in json.load(open(args[i + 1])):
            if 'display-name-contains-other-address' in e.get('tags', []):
                tagged.add(e['file'])
        del args[i:i + 2]
    build, protected, paths = args[0], args[1], args[2:]
    drv = subprocess.Popen([os.path.join(build, 'bench', 'lookalike-eval'),
                            protected], stdin=subprocess.PIPE)
    for r in records(paths, tagged):
        for k, v in zip(('file', 'tag', 'display', 'addr', 'html', 'text',
                         'subject'), r):
            field(drv.stdin, k, v)
    drv.stdin.close()
    sys.exit(drv.wait())


if __name__ == '__main__':
    main()
