#!/usr/bin/env python3
"""dmarc-report-gen - a day of DMARC aggregate reports as a rua mailbox of a
hosting provider receives them, for bench/run-dmarc-ingest-bench.sh.

  bench/dmarc-report-gen.py OUTDIR [--reports N] [--seed S]
  bench/dmarc-report-gen.py OUTDIR --records N [--seed S]

With --records, one report of N records instead (the parser's worst case,
docs/benchmarks.md "DMARC report parse: streaming"): OUTDIR/big.xml.gz and
the same as a message, OUTDIR/big.eml.

Writes OUTDIR/NNNNN.eml (N messages, default 10,000; seed 20261206, so two
runs give the same bytes) and prints one summary line.  Each message is
what a receiver mails: From its noreply address, "Report Domain: ...
Submitter: ... Report-ID: ..." as Subject (RFC 7489 12.2.1), a short text
part and the report as an attachment, gzip (75%, application/gzip,
NAME.xml.gz) or zip (25%, application/zip, NAME.zip), NAME being
"receiver!domain!begin!end".

The XML is RFC 7489 Appendix C without a namespace, the format most
receivers still send and the one Debian's Mail::DMARC 1.20211209 reads (its
XPath has no namespace, so RFC 9990's default namespace would hide every
node from it).  Realistic shapes, from public report samples: one day
(begin = 2026-12-05 00:00 UTC), 1,000 customer domains, 40 reporters with
weights (a few large ones send most), records per report drawn from
1 (60%), 2-5 (25%), 6-30 (10%), 31-200 (4%), 201-1,000 (1%); counts per
record mostly 1-3 with a long tail; DKIM/SPF results and auth_results
(domain, selector, result) as senders, forwarders and forgers produce
them.  About 14 records and 6.4 KB of XML (3.8 KB of message) per report on
average.
"""
import argparse
import email.message
import email.policy
import gzip
import io
import os
import random
import sys
import zipfile

BEGIN = 1796428800  # 2026-12-05 00:00 UTC
END = BEGIN + 86399

REPORTERS = [  # (org_name, email domain, weight)
    ('google.com', 'google.com', 30), ('Yahoo', 'yahoo.com', 10),
    ('Outlook.com', 'microsoft.com', 12), ('Mail.Ru', 'corp.mail.ru', 3),
    ('AMAZON-SES', 'amazonses.com', 4), ('Yahoo! Japan', 'yahoo.co.jp', 5),
    ('docomo.ne.jp', 'docomo.ne.jp', 2), ('Enterprise Outlook', 'microsoft.com', 6),
    ('comcast.net', 'comcast.net', 2), ('web.de', 'web.de', 2),
] + [('receiver%02d.example' % i, 'receiver%02d.example' % i, 1)
     for i in range(30)]


def weighted(rng, items):
    total = sum(w for *_, w in items)
    x = rng.uniform(0, total)
    for it in items:
        x -= it[-1]
        if x <= 0:
            return it
    return items[-1]


# (cumulative probability, lowest, highest): records per report, messages
# per record.
RECORDS = ((0.60, 1, 1), (0.85, 2, 5), (0.95, 6, 30), (0.99, 31, 200),
           (1.0, 201, 1000))
COUNTS = ((0.70, 1, 3), (0.95, 4, 50), (1.0, 51, 5000))


def piecewise(rng, table):
    """A number from the first band of table that the draw falls in."""
    x = rng.random()
    for upto, lo, hi in table:
        if x < upto or upto == 1.0:
            return lo if lo == hi else rng.randint(lo, hi)
    raise ValueError('table must end at 1.0')


def ip(rng):
    if rng.random() < 0.1:
        return '2001:db8:%x:%x::%x' % (rng.randrange(65536),
                                         rng.randrange(65536),
                                         rng.randrange(1, 65536))
    return '%d.%d.%d.%d' % (rng.choice([192, 198, 203, 45, 103, 185, 209]),
                            rng.randrange(256), rng.randrange(256),
                            rng.randrange(1, 255))


def record(rng, dom):
    kind = rng.random()
    if kind < 0.55:     # our own or an ESP: aligned passes
        dkim, spf, disp = 'pass', 'pass', 'none'
        ad = [(dom, 'pass', 'sel%d' % rng.randrange(3))]
        sd = (dom, 'pass')
    elif kind < 0.70:   # forwarder: DKIM survives, SPF fails
        dkim, spf, disp = 'pass', 'fail', 'none'
        ad = [(dom, 'pass', 'sel0')]
        sd = ('lists.example.org', 'pass')
    else:               # forger
        dkim, spf = 'fail', 'fail'
        disp = rng.choice(['none', 'quarantine', 'reject'])
        ad = [('bad%d.example' % rng.randrange(100), 'fail', 'x')] \
            if rng.random() < 0.3 else []
        sd = ('spoof%d.example' % rng.randrange(1000),
              rng.choice(['softfail', 'fail', 'none', 'neutral']))
    auth = ''.join('<dkim><domain>%s</domain><selector>%s</selector>'
                   '<result>%s</result></dkim>' % (d, s, r)
                   for d, r, s in ad)
    return ('<record><row><source_ip>%s</source_ip><count>%d</count>'
            '<policy_evaluated><disposition>%s</disposition><dkim>%s</dkim>'
            '<spf>%s</spf></policy_evaluated></row><identifiers>'
            '<header_from>%s</header_from></identifiers><auth_results>%s'
            '<spf><domain>%s</domain><result>%s</result></spf>'
            '</auth_results></record>\n'
            % (ip(rng), piecewise(rng, COUNTS), disp, dkim, spf, dom, auth, sd[0], sd[1]))


def report(rng, n, org, edom, dom, rid):
    head = ('<?xml version="1.0" encoding="UTF-8" ?>\n<feedback>\n'
            '<report_metadata><org_name>%s</org_name><email>'
            'noreply-dmarc-support@%s</email><report_id>%s</report_id>'
            '<date_range><begin>%d</begin><end>%d</end></date_range>'
            '</report_metadata>\n<policy_published><domain>%s</domain>'
            '<adkim>r</adkim><aspf>r</aspf><p>%s</p><sp>%s</sp><pct>100</pct>'
            '</policy_published>\n'
            % (org, edom, rid, BEGIN, END, dom,
               rng.choice(['none', 'quarantine', 'reject']),
               rng.choice(['none', 'quarantine', 'reject'])))
    body = ''.join(record(rng, dom) for _ in range(n))
    return (head + body + '</feedback>\n').encode()


def big(a, rng):
    """--records: one report of a.records records, gzipped, and a message."""
    xml = report(rng, a.records, 'Big Receiver', 'big.example',
                 'cust0001.example.jp', 'big-1')
    gz = gzip.compress(xml, mtime=0)
    with open(os.path.join(a.outdir, 'big.xml.gz'), 'wb') as f:
        f.write(gz)
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m['From'] = 'noreply-dmarc@big.example'
    m['To'] = 'dmarc-rua@provider.example'
    m['Subject'] = ('Report Domain: cust0001.example.jp Submitter: '
                    'big.example Report-ID: <big-1>')
    m.set_content('Aggregate report attached.\n')
    m.add_attachment(gz, maintype='application', subtype='gzip',
                     filename='big.example!cust0001.example.jp!%d!%d.xml.gz'
                     % (BEGIN, END))
    m.set_boundary('=_big')
    with open(os.path.join(a.outdir, 'big.eml'), 'wb') as f:
        f.write(m.as_bytes())
    print('records=%d xml_bytes=%d gzip_bytes=%d' % (a.records, len(xml),
                                                      len(gz)))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('outdir')
    ap.add_argument('--reports', type=int, default=10000)
    ap.add_argument('--seed', type=int, default=20261206)
    ap.add_argument('--records', type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.outdir, exist_ok=True)
    if a.records:
        return big(a, rng)
    domains = ['cust%04d.example.jp' % i for i in range(1000)]
    recs = xml_bytes = msg_bytes = 0
    for i in range(a.reports):
        org, edom, _ = weighted(rng, REPORTERS)
        dom = rng.choice(domains)
        rid = '%d%06d' % (BEGIN, i) if rng.random() < 0.5 else \
            '%032x' % rng.getrandbits(128)
        n = piecewise(rng, RECORDS)
        xml = report(rng, n, org, edom, dom, rid)
        recs += n
        xml_bytes += len(xml)
        name = '%s!%s!%d!%d' % (edom, dom, BEGIN, END)
        m = email.message.EmailMessage(policy=email.policy.SMTP)
        m['From'] = 'noreply-dmarc-support@%s' % edom
        m['To'] = 'dmarc-rua@provider.example'
        m['Subject'] = 'Report Domain: %s Submitter: %s Report-ID: <%s>' % (
            dom, edom, rid)
        m['Message-ID'] = '<%d.%d@%s>' % (a.seed, i, edom)
        m['Date'] = 'Sat, 05 Dec 2026 23:%02d:%02d +0000' % (i // 60 % 60,
                                                              i % 60)
        m.set_content('This is an aggregate report from %s.\n' % org)
        if rng.random() < 0.75:
            data = gzip.compress(xml, mtime=0)
            m.add_attachment(data, maintype='application', subtype='gzip',
                             filename=name + '.xml.gz')
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
                z.writestr(zipfile.ZipInfo(name + '.xml',
                                           (2026, 12, 5, 0, 0, 0)), xml)
            m.add_attachment(buf.getvalue(), maintype='application',
                             subtype='zip', filename=name + '.zip')
        m.set_boundary('=_report_%d_%05d' % (a.seed, i))  # not random
        raw = m.as_bytes()
        msg_bytes += len(raw)
        with open(os.path.join(a.outdir, '%05d.eml' % i), 'wb') as f:
            f.write(raw)
    print('reports=%d records=%d xml_bytes=%d message_bytes=%d' % (
        a.reports, recs, xml_bytes, msg_bytes))
    return 0


if __name__ == '__main__':
    sys.exit(main())
