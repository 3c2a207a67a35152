"""zonefile - the escapes of the test zone files, shared by
test/dns/zone-server.py and test/spf/pyspf-oracle.py.

The format is the flattened SPF suite's (corpora/spf-test-suite/flat/
README-flat.md): tab-separated fields in which \\\\ \\t \\n \\r and \\xHH
stand for one octet each.
"""


def unescape(s):
    """The octets of field s with its escapes resolved."""
    out = bytearray()
    i = 0
    b = s.encode('utf-8')
    while i < len(b):
        c = b[i:i + 1]
        if c == b'\\' and i + 1 < len(b):
            n = b[i + 1:i + 2]
            if n == b'x':
                out += bytes([int(b[i + 2:i + 4], 16)])
                i += 4
                continue
            out += {b't': b'\t', b'n': b'\n', b'r': b'\r'}.get(n, n)
            i += 2
            continue
        out += c
        i += 1
    return bytes(out)
