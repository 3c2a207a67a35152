#!/usr/bin/python3
"""milter-corpus - the message set of the milter benchmark.

Usage: milter-corpus.py CORPUS_DIR OUT_DIR COUNT DOMAIN SELECTOR

Takes COUNT messages of the SpamAssassin public corpus under CORPUS_DIR
(spam-1, then hard-ham-1, then easy-ham-1, each in file-name order), and
writes them to OUT_DIR as if sent by DOMAIN: the mbox "From " line goes,
every DKIM-Signature, DomainKey-Signature, Authentication-Results and
Received-SPF field goes (their domains are not ours: a verifier would
look them up), the From field becomes "userN@DOMAIN", line ends become
CRLF, and the message is signed with python3-dkim (rsa-sha256,
relaxed/relaxed, selector SELECTOR, d=DOMAIN, dkimpy's default header
list) with a fresh RSA-2048 key.

Writes OUT_DIR/msgs/NNNNN.eml, OUT_DIR/key.pem and OUT_DIR/zone.txt: the
TXT records (zone-server.py format) for the key, SPF (ip4:198.51.100.0/24,
where milter-load's client address lives) and DMARC (p=reject).
"""
import base64
import os
import re
import subprocess
import sys

import dkim

DROP = re.compile(rb"^(dkim-signature|domainkey-signature|"
                  rb"authentication-results|received-spf)\s*:", re.I)


def fields(head):
    """Split a header block (LF lines) into whole fields, folds kept."""
    out = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b"\n" + line
        else:
            out.append(line)
    return [f for f in out if f]


def rewrite(raw, n, domain):
    raw = raw.replace(b"\r\n", b"\n")
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, body = raw, b""
    out = []
    for f in fields(head):
        if DROP.match(f):
            continue
        if re.match(rb"^from\s*:", f, re.I):
            f = b"From: Bench User %d <user%d@%s>" % (n, n, domain)
        out.append(f)
    if not any(re.match(rb"^from\s*:", f, re.I) for f in out):
        out.append(b"From: Bench User %d <user%d@%s>" % (n, n, domain))
    if not body.endswith(b"\n"):
        body += b"\n"
    msg = b"\n".join(out) + b"\n\n" + body
    return msg.replace(b"\n", b"\r\n")


def main():
    src, out, count, domain, sel = sys.argv[1:6]
    count = int(count)
    domain_b, sel_b = domain.encode(), sel.encode()
    os.makedirs(out + "/msgs", exist_ok=True)
    key = out + "/key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout",
                          "-outform", "DER"], capture_output=True,
                         check=True).stdout
    pem = open(key, "rb").read()
    files = []
    for sub in ("spam-1", "hard-ham-1", "easy-ham-1"):
        d = os.path.join(src, sub)
        files += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    files = files[:count]
    for i, path in enumerate(files):
        msg = rewrite(open(path, "rb").read(), i, domain_b)
        sig = dkim.sign(msg, sel_b, domain_b, pem,
                        canonicalize=(b"relaxed", b"relaxed"))
        with open("%s/msgs/%05d.eml" % (out, i), "wb") as f:
            f.write(sig + msg)
    txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    with open(out + "/zone.txt", "w") as z:
        z.write("%s\tTXT\tv=spf1 ip4:198.51.100.0/24 -all\n" % domain)
        z.write("_dmarc.%s\tTXT\tv=DMARC1; p=reject\n" % domain)
        z.write("%s._domainkey.%s\tTXT\t%s\n" % (
            sel, domain,
            "\t".join(txt[i:i + 200] for i in range(0, len(txt), 200))))
    print("%d messages signed" % len(files))


if __name__ == "__main__":
    main()
