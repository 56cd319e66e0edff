#!/usr/bin/perl
# Opens N connections to HOST:PORT and proves each works both ways (PING ->
# PONG), prints "open OK BROKEN", then waits for the file GO. After it: every
# connection must first receive the server's "HELLO" (server speaks first),
# then answer a PING. Prints "after OK BROKEN BACKENDS" and exits.
#   hold_client.pl HOST PORT N GO TIMEOUT
use strict;
use warnings;
use IO::Socket::IP;
use IO::Select;
use Time::HiRes qw(time sleep);

my ($host, $port, $n, $go, $timeout) = @ARGV;
$| = 1;
my @socks;
my %name;

sub line_from {
	my ($s, $deadline) = @_;
	my $sel = IO::Select->new($s);
	my $line = '';
	while (time < $deadline) {
		last unless $sel->can_read($deadline - time);
		my $r = sysread($s, my $c, 1);
		return undef unless $r;
		return $line if $c eq "\n";
		$line .= $c;
	}
	return undef;
}

my ($ok, $broken) = (0, 0);
for my $i (1 .. $n) {
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Proto => 'tcp',
				    Timeout => 3);
	if (!$s) { $broken++; next; }
	syswrite($s, "PING\n");
	my $l = line_from($s, time + 3);
	if (defined $l && $l =~ /^PONG (\S+)/) {
		$name{$s} = $1;
		push @socks, $s;
		$ok++;
	} else {
		$broken++;
	}
}
print "open $ok $broken\n";
sleep 0.1 until -e $go;

my %seen;
($ok, $broken) = (0, 0);
my $deadline = time + $timeout;
for my $s (@socks) {
	my $hello = line_from($s, $deadline);
	my $good = defined $hello && $hello eq "HELLO $name{$s}";
	if ($good) {
		syswrite($s, "PING\n");
		my $l = line_from($s, time + 3);
		$good = defined $l && $l eq "PONG $name{$s}";
	}
	if ($good) { $ok++; $seen{$name{$s}}++; } else { $broken++; }
}
print "after $ok $broken " . join(',', map { "$_=$seen{$_}" } sort keys %seen) . "\n";
