#!/usr/bin/python3
"""dkimpy-oracle - verify a message with Debian python3-dkim (dkimpy) and a
stub DNS, for differential tests of mamori's DKIM verifier.

    dkimpy-oracle.py MESSAGE KEYS

MESSAGE is the message as it would be received (CRLF).  KEYS is a text file
of lines "NAME<TAB>TXT" (NAME without the trailing dot); names not listed
answer nothing, like NXDOMAIN.  Prints one line per DKIM-Signature, top down:
"pass" or "fail" (dkimpy's only outcomes; fail covers everything that is not
pass, permerror and temperror included).  Exit status 0; 2 if dkimpy is not
installed (the caller skips), 1 on usage errors.
"""
import sys

try:
    import dkim
except ImportError:
    sys.exit(2)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(1)
    with open(sys.argv[1], "rb") as f:
        msg = f.read()
    keys = {}
    with open(sys.argv[2], "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if b"\t" in line:
                name, txt = line.split(b"\t", 1)
                keys[name.lower().rstrip(b".")] = txt

    def dnsfunc(name, timeout=5):
        if isinstance(name, str):
            name = name.encode()
        return keys.get(name.lower().rstrip(b"."), None)

    d = dkim.DKIM(msg)
    sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
    for i in range(len(sigs)):
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except Exception:
            ok = False
        print("pass" if ok else "fail")


main()
