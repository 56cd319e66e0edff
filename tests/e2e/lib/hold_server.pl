#!/usr/bin/perl
# A TCP server that holds many connections: answers "PING" with
# "PONG <name>", and once the file TRIGGER exists greets every connection
# first with "HELLO <name>" (a server that speaks first after a long idle).
#   hold_server.pl NAME PORT TRIGGER
use strict;
use warnings;
use IO::Socket::IP;
use IO::Select;

my ($name, $port, $trigger) = @ARGV;
my $ls = IO::Socket::IP->new(LocalPort => $port, Listen => 4096, ReuseAddr => 1,
			     Proto => 'tcp', V6Only => 0, LocalHost => '::')
	or die "listen :$port: $!";
my $sel = IO::Select->new($ls);
my (%buf, %greeted);
my $greet_all = 0;
local $SIG{PIPE} = 'IGNORE';
for (;;) {
	if (!$greet_all && -e $trigger) {
		$greet_all = 1;
		for my $c ($sel->handles) {
			next if $c == $ls;
			syswrite($c, "HELLO $name\n");
			$greeted{$c} = 1;
		}
	}
	for my $c ($sel->can_read(0.1)) {
		if ($c == $ls) {
			my $n = $ls->accept or next;
			$sel->add($n);
			next;
		}
		my $r = sysread($c, my $data, 4096);
		if (!$r) {
			$sel->remove($c);
			close $c;
			next;
		}
		$buf{$c} .= $data;
		while ($buf{$c} =~ s/^([^\n]*)\n//) {
			syswrite($c, "PONG $name\n") if $1 eq 'PING';
		}
	}
}
