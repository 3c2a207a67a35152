#!/usr/bin/perl
# maildmarc-read.pl FILE - read a DMARC aggregate report with Debian's
# Mail::DMARC (libmail-dmarc-perl, Mail::DMARC::Report::Receive's node
# readers, without its SQL store) and print what it understood, one line
# each, for test-dmarc-send's round trip:
#   meta ORG|EMAIL|REPORT_ID|BEGIN|END
#   policy DOMAIN|P|SP|ADKIM|ASPF
#   record IP|COUNT|DISPOSITION|DKIM|SPF|HEADER_FROM|SPF_RESULT|DKIM_RESULT
# Mail::DMARC 1.20211209 predates RFC 9990: its XPath names elements
# without a namespace, so the default namespace declaration is removed
# before parsing (the elements are the same).  Exit 2 when the module is
# missing (the test skips).
use strict;
use warnings;

eval { require Mail::DMARC::Report::Receive; require XML::LibXML; 1 }
	or exit 2;

my $file = shift or die "usage: $0 FILE\n";
open my $fh, '<', $file or die "$file: $!\n";
my $xml = do { local $/; <$fh> };
close $fh;
$xml =~ s/\s+xmlns="[^"]*"//;

my $r = Mail::DMARC::Report::Receive->new;
my $dom = XML::LibXML->load_xml(string => $xml);
my $m = $r->do_node_report_metadata($dom->findnodes('/feedback/report_metadata'));
my $p = $r->do_node_policy_published($dom->findnodes('/feedback/policy_published'));
print join('|', 'meta ' . $m->org_name, $m->email, $m->report_id, $m->begin,
	   $m->end), "\n";
print join('|', 'policy ' . $p->domain, $p->p, $p->sp // '',
	   $p->adkim // '', $p->aspf // ''), "\n";
for my $node ($dom->findnodes('/feedback/record')) {
	my $rec = $r->do_node_record($node);
	my $pe = $rec->row->policy_evaluated;
	my $spf = $rec->auth_results->spf->[0];
	my $dkim = $rec->auth_results->dkim->[0];
	print join('|', 'record ' . $rec->row->source_ip, $rec->row->count,
		   $pe->disposition, $pe->dkim, $pe->spf,
		   $rec->identifiers->header_from,
		   $spf ? $spf->{result} : '', $dkim ? $dkim->{result} : ''),
	      "\n";
}
