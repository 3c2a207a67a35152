#!/usr/bin/python3
"""authheaders-oracle - DMARC results from an independent implementation.

Usage: authheaders-oracle.py PSL_FILE CASES.tsv

Runs Debian python3-authheaders' dmarc_per_from() (RFC 7489: the
Organizational Domain is the Public Suffix List registrable domain) on
every case of CASES.tsv and prints one line per case:

    id<TAB>result<TAB>policy<TAB>where

result is pass, fail or none (or error:<exception> if authheaders raised),
policy the policy authheaders applies ("-" when it gives none), where is
"from" or "org": the record used was at the From domain or at the
Organizational Domain ("-" with none).  Exits 77 if authheaders cannot be
imported (the C driver then skips).

CASES.tsv, written by src/mail/test-dmarc-diff.c, holds one block per
case; fields are separated by a TAB, "-" means absent:

    C  id  from-domain  spf-result  mail-from-domain  dkim-result  d=
    T  name  text       a TXT record at name (several rows: several records)
    X  name             name has an A record
    F  name             every question about name gets SERVFAIL

The zone of a case is its T/X/F rows and nothing else.  A name is
NXDOMAIN unless a row names it or a name below it (an empty non-terminal
answers NODATA), as in real DNS.

DNS: authheaders is called without a dnsfunc, as a production caller
would, and the name dmarc_lookup imported from dns.resolver ("query") is
replaced by a function that answers from the case's zone with dnspython
objects and exceptions (TXT rdata, NXDOMAIN, NoAnswer, NoNameservers for
SERVFAIL).  That path, unlike the dnsfunc hook meant for tests, can
return several TXT records at one name and asks A/MX/AAAA (not TXT) for
the np existence check.  Sockets are disabled: no network, ever.

PSL: authheaders reads authheaders.findpsl.location (Debian:
/usr/share/publicsuffix/public_suffix_list.dat) with publicsuffix2 on
every call; this script points it at PSL_FILE, the file mamori's RFC 7489
mode loads, and replaces get_org_domain() by the same two lines with the
list parsed once (parsing it takes ~45 ms, once per call: over a minute
for the whole case set).
"""
import functools
import socket
import sys

try:
    import dns.rdataclass
    import dns.rdatatype
    import dns.resolver
    from dns.rdtypes.ANY.TXT import TXT
    import authheaders
    import authheaders.dmarc_lookup as dmarc_lookup
    import authheaders.findpsl as findpsl
    from authres import SPFAuthenticationResult, DKIMAuthenticationResult
except ImportError:
    sys.exit(77)


def no_network(*args, **kwargs):
    raise OSError('authheaders-oracle: no network in tests')


socket.socket = no_network
socket.create_connection = no_network
socket.getaddrinfo = no_network


class Zone:
    """One case's DNS data."""

    def __init__(self):
        self.txt = {}           # name -> [text, ...]
        self.addr = set()       # names with an A record
        self.servfail = set()

    def exists(self, name):
        if name in self.txt or name in self.addr or name in self.servfail:
            return True
        tail = '.' + name
        return any(n.endswith(tail) for n in
                   list(self.txt) + list(self.addr) + list(self.servfail))


ZONE = Zone()


def fake_query(qname, rdtype='A', *args, **kwargs):
    """dns.resolver.query as dmarc_lookup calls it, from ZONE."""
    name = str(qname).lower().rstrip('.')
    rdtype = str(rdtype).upper()
    if name in ZONE.servfail:
        raise dns.resolver.NoNameservers()
    if not ZONE.exists(name):
        raise dns.resolver.NXDOMAIN()
    if rdtype == 'TXT' and name in ZONE.txt:
        return [TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [t.encode()])
                for t in ZONE.txt[name]]
    if rdtype == 'A' and name in ZONE.addr:
        return ['192.0.2.1']
    raise dns.resolver.NoAnswer()


def setup(psl_path):
    findpsl.location = psl_path
    dmarc_lookup.query = fake_query
    dns.resolver.query = no_network
    dns.resolver.resolve = no_network
    # get_org_domain() as written, with the list parsed once.
    with open(dmarc_lookup.get_suffix_list_file_name()) as f:
        psl = dmarc_lookup.PublicSuffixList(f)

    @functools.lru_cache(maxsize=None)
    def get_org_domain(domain):
        return psl.get_public_suffix(domain)
    dmarc_lookup.get_org_domain = get_org_domain
    authheaders.get_org_domain = get_org_domain


def run(case):
    _, cid, frm, spf, mfrom, dkim, d = case
    spf_result = dkim_result = None
    if spf != '-':
        # As check_spf() builds it: smtp.mailfrom is the whole address.
        spf_result = SPFAuthenticationResult(
            result=spf, smtp_mailfrom='bounce@' + mfrom)
    if dkim != '-':
        dkim_result = DKIMAuthenticationResult(result=dkim, header_d=d)
    try:
        res, comment, _, policy = authheaders.dmarc_per_from(
            frm, spf_result, dkim_result)
    except Exception as e:          # authheaders' own failures
        return '%s\terror:%s\t-\t-' % (cid, type(e).__name__)
    if res == 'none':
        return '%s\tnone\t-\t-' % cid
    where = 'org' if comment == 'Used Org Domain Record' else 'from'
    return '%s\t%s\t%s\t%s' % (cid, res, policy or '-', where)


def main():
    global ZONE
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    setup(sys.argv[1])
    case = None
    out = []
    with open(sys.argv[2], encoding='utf-8') as f:
        for line in f:
            fld = line.rstrip('\n').split('\t')
            if fld[0] == 'C':
                if case:
                    out.append(run(case))
                case = fld
                ZONE = Zone()
            elif fld[0] == 'T':
                ZONE.txt.setdefault(fld[1], []).append(fld[2])
            elif fld[0] == 'X':
                ZONE.addr.add(fld[1])
            elif fld[0] == 'F':
                ZONE.servfail.add(fld[1])
    if case:
        out.append(run(case))
    print('\n'.join(out))


if __name__ == '__main__':
    main()
