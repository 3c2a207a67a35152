#!/usr/bin/perl
# dmarc-ingest-maildmarc.pl - Debian's Mail::DMARC (libmail-dmarc-perl
# 1.20211209) receiving aggregate-report messages, for
# bench/run-dmarc-ingest-bench.sh: its dmarc_receive --file path
# (Mail::DMARC::Report::Receive->from_file: Email::MIME, gunzip/unzip,
# XML::LibXML, then save_aggregate into its SQL store), for every file of
# the directories or files given, in one process (dmarc_receive takes one
# file per run; a process per report would measure Perl's start-up).
#
#   MAIL_DMARC_CONFIG_FILE=INI perl bench/dmarc-ingest-maildmarc.pl DIR|FILE...
#
# INI names the SQLite store ([report_store] dsn).  Its progress prints go
# to /dev/null; the last line on stderr is "maildmarc files=N ok=N
# failed=N".  A report it refuses counts as failed; the run goes on.
use strict;
use warnings;

use Mail::DMARC::Report::Receive;

my @files;
for my $p (@ARGV) {
    if (-d $p) {
        opendir(my $d, $p) or die "$p: $!";
        push @files, map { "$p/$_" } sort grep { !/^\./ && -f "$p/$_" } readdir $d;
        closedir $d;
    } else {
        push @files, $p;
    }
}
open(my $null, '>', '/dev/null') or die;
my $out = select $null;    # from_email_simple prints every Subject
my ($ok, $failed) = (0, 0);
my $recv = Mail::DMARC::Report::Receive->new() or die;
for my $f (@files) {
    my $r = eval { $recv->from_file($f) };
    if ($@ || !defined $r || $r ne 'aggregate') {
        $failed++;
        print STDERR "maildmarc: $f: " . ($@ || "not an aggregate report\n")
            if $failed <= 5;
    } else {
        $ok++;
    }
}
select $out;
printf STDERR "maildmarc files=%d ok=%d failed=%d\n", scalar @files, $ok, $failed;
exit 0;
