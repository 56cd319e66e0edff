#!/usr/bin/env bash
# The xlb lab: a client, a gateway and three backends, each in its own network
# namespace, wired with veth pairs. Everything stays inside these namespaces:
# no interface of the machine itself is touched.
#
#   client (198.18.0.2, fd00::2)
#     | to-gw <-> to-client
#   gw (198.18.0.1, fd00::1)  <- xlbd attaches here (to-client, to-b1..to-b3)
#     | to-bI <-> to-gw          (I = 1..3)
#   bI (198.18.I.2, fd00:I::2): nginx on :80 and a UDP echo on :5353,
#                                both answering with the backend's name
#
# VIPs 198.19.0.10 and fd00:ff::10 are routed by the client to the gateway
# (default route). In dsr mode the backends also own the VIP on lo.
#
# Two ways to use it:
#   source tools/lab.sh; lab_set_prefix xe2e-foo-; lab_up; ...; lab_down
#   tools/lab.sh up|down [--prefix P]      (for humans; default prefix xlab-)
#
# Every name (namespaces, work directory) carries the prefix, so labs with
# different prefixes run side by side, and `down` or a new `up` removes the
# leftovers of a crashed run with the same prefix.

LAB_BACKENDS=3
LAB_VIP4=198.19.0.10
LAB_VIP6=fd00:ff::10
LAB_CLIENT4=198.18.0.2
LAB_CLIENT6=fd00::2
LAB_GW4=198.18.0.1
LAB_GW6=fd00::1
LAB_HTTP_PORT=80
LAB_UDP_PORT=5353
# The slow download: big enough and slow enough (about 10 s) to span a
# daemon restart or a configuration change while it is in flight.
LAB_BIG_BYTES=$((4 * 1024 * 1024))
LAB_BIG_RATE=400k
# Interfaces of the gateway that xlbd attaches to.
LAB_GW_IFACES="to-client,to-b1,to-b2,to-b3"

# Set the prefix of every name this lab creates.
lab_set_prefix() {
	LAB_PREFIX=$1
	LAB_DIR=/tmp/${LAB_PREFIX}lab
}

lab_set_prefix "${LAB_PREFIX:-xlab-}"

lab_log() {
	[[ ${LAB_QUIET:-0} == 1 ]] || echo "lab: $*" >&2
}

lab_die() {
	echo "lab: error: $*" >&2
	return 1
}

# Namespace name of a role: client, gw, b1..b3.
lab_ns() {
	echo "${LAB_PREFIX}$1"
}

# Run a command in a role's network namespace. nsenter enters only the
# network namespace (unlike `ip netns exec`, which remounts /sys and hides
# /sys/fs/bpf), so xlbd started this way sees the host's bpffs.
lab_in() {
	local role=$1
	shift
	nsenter --net="/run/netns/$(lab_ns "$role")" -- "$@"
}

lab_backend_ids() {
	seq 1 "$LAB_BACKENDS"
}

lab_backend4() { echo "198.18.$1.2"; }
lab_backend6() { echo "fd00:$1::2"; }
lab_gw_backend4() { echo "198.18.$1.1"; }
lab_gw_backend6() { echo "fd00:$1::1"; }

# The namespaces of this prefix that exist now.
lab_existing_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -F -- "$LAB_PREFIX" |
		grep -E "^${LAB_PREFIX//./\\.}(client|gw|b[0-9]+)$" || true
}

# Stop every process living in one of our namespaces: they were started by
# this lab (or by a test using it), and a namespace cannot be deleted cleanly
# while nginx or xlbd still run inside it. Processes are found by namespace
# (ip netns pids), never by name.
lab_kill_namespace_processes() {
	local ns=$1 pids try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[[ -z $pids ]] && return 0
		if ((try < 8)); then
			kill -TERM $pids 2>/dev/null || true
		else
			kill -KILL $pids 2>/dev/null || true
		fi
		sleep 0.3
	done
	lab_log "processes still alive in $ns: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
}

# Stop the xlbd this shell started (its pid in XLBD_PID): TERM, up to 5 s
# to detach cleanly, then KILL. Nothing when none runs.
xlbd_stop() {
	local n
	[[ -n ${XLBD_PID:-} ]] || return 0
	kill -TERM "$XLBD_PID" 2>/dev/null || true
	for n in $(seq 50); do
		kill -0 "$XLBD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$XLBD_PID" 2>/dev/null || true
	wait "$XLBD_PID" 2>/dev/null || true
	XLBD_PID=
}

# Remove everything with this prefix: processes, namespaces (their veths go
# with them), and the work directory. Safe to call when nothing exists.
lab_down() {
	local ns
	for ns in $(lab_existing_namespaces); do
		lab_kill_namespace_processes "$ns"
	done
	for ns in $(lab_existing_namespaces); do
		ip netns del "$ns" 2>/dev/null || lab_log "could not delete namespace $ns"
	done
	if [[ -n $LAB_DIR && $LAB_DIR == /tmp/* ]]; then
		rm -rf -- "$LAB_DIR"
	fi
}

# A namespace with lo up and the sysctls every role wants, set before any
# interface exists so new interfaces inherit them from "default".
lab_make_namespace() {
	local role=$1 ns
	ns=$(lab_ns "$role")
	ip netns add "$ns"
	lab_in "$role" ip link set lo up
	# No duplicate address detection: addresses are usable at once instead of
	# staying "tentative" for a second or two.
	lab_in "$role" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	# The reply of a dsr backend carries the VIP as its source, which the
	# gateway has no route back to; strict reverse-path filtering would drop it.
	lab_in "$role" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

# Veth pair between two roles, created directly inside the namespaces (never
# in the machine's own namespace, where names could collide).
lab_link() {
	local role_a=$1 if_a=$2 role_b=$3 if_b=$4
	ip -n "$(lab_ns "$role_a")" link add "$if_a" type veth peer name "$if_b" netns "$(lab_ns "$role_b")"
}

# XDP on veth: a frame that XDP rewrote must carry a complete checksum, so TX
# checksum offload is off (otherwise the sender leaves a partial checksum the
# rewritten frame cannot fix). A frame redirected or sent with XDP_TX into a
# veth is delivered only when the receiving end runs NAPI, which GRO turns on.
# Both settings on both ends keep the rule simple. GRO must be switched on
# while the device is up: only then does the kernel mark the peer as a
# redirect target (set while down, GRO shows "on" but redirects are dropped).
lab_tune_veth() {
	local role=$1 dev=$2
	lab_in "$role" ip link set "$dev" up
	lab_in "$role" ethtool -K "$dev" tx off >/dev/null
	lab_in "$role" ethtool -K "$dev" gro off >/dev/null
	lab_in "$role" ethtool -K "$dev" gro on >/dev/null
}

lab_addr() {
	local role=$1 dev=$2 addr=$3
	if [[ $addr == *:* ]]; then
		lab_in "$role" ip -6 addr add "$addr" dev "$dev" nodad
	else
		lab_in "$role" ip addr add "$addr" dev "$dev"
	fi
}

lab_wire_client() {
	lab_link gw to-client client to-gw
	lab_tune_veth gw to-client
	lab_tune_veth client to-gw
	lab_addr gw to-client "$LAB_GW4/24"
	lab_addr gw to-client "$LAB_GW6/64"
	lab_addr client to-gw "$LAB_CLIENT4/24"
	lab_addr client to-gw "$LAB_CLIENT6/64"
	lab_in client ip route add default via "$LAB_GW4"
	lab_in client ip -6 route add default via "$LAB_GW6"
	# A wide ephemeral port range: tests open tens of thousands of short
	# connections, and a reused port would meet its old flow table entry.
	lab_in client sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
}

lab_wire_backend() {
	local i=$1
	lab_link gw "to-b$i" "b$i" to-gw
	lab_tune_veth gw "to-b$i"
	lab_tune_veth "b$i" to-gw
	lab_addr gw "to-b$i" "$(lab_gw_backend4 "$i")/24"
	lab_addr gw "to-b$i" "$(lab_gw_backend6 "$i")/64"
	lab_addr "b$i" to-gw "$(lab_backend4 "$i")/24"
	lab_addr "b$i" to-gw "$(lab_backend6 "$i")/64"
	lab_in "b$i" ip route add default via "$(lab_gw_backend4 "$i")"
	lab_in "b$i" ip -6 route add default via "$(lab_gw_backend6 "$i")"
	# The UDP echo also listens on the VIP (used in dsr mode) before the VIP
	# is on lo; binding a not-yet-local address needs this.
	lab_in "b$i" sysctl -qw net.ipv4.ip_nonlocal_bind=1 net.ipv6.ip_nonlocal_bind=1
}

lab_gw_forwarding() {
	lab_in gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# The payload of /big, shared by all backends so its checksum is known.
lab_make_content() {
	mkdir -p "$LAB_DIR/www"
	head -c "$LAB_BIG_BYTES" /dev/urandom >"$LAB_DIR/www/big"
	sha256sum "$LAB_DIR/www/big" | awk '{print $1}' >"$LAB_DIR/www/big.sha256"
}

# nginx for one backend with everything (config, pid, logs, temp files)
# under the lab directory, so it never touches the machine's own nginx.
# Each request is logged with its timing so tests can tell when a backend
# accepted new connections ($connection_requests == 1 is a new connection).
lab_nginx_config() {
	local i=$1 dir=$2
	cat <<EOF
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    log_format xlb '\$msec \$request_time \$remote_addr \$remote_port \$connection \$connection_requests \$request_uri \$status \$body_bytes_sent';
    access_log $dir/access.log xlb;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type text/plain;
    # Keep-alive connections stay open for a whole load run: a connection
    # closed by the server would make the client open a new one, and tests
    # count new connections.
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {
        listen $LAB_HTTP_PORT backlog=4096;
        listen [::]:$LAB_HTTP_PORT ipv6only=on backlog=4096;
        add_header X-Backend b$i always;
        location = / { return 200 "b$i\n"; }
        location = /big { root $LAB_DIR/www; limit_rate $LAB_BIG_RATE; }
    }
}
EOF
}

lab_nginx_start() {
	local i=$1 dir="$LAB_DIR/b$1"
	mkdir -p "$dir/tmp"
	lab_nginx_config "$i" "$dir" >"$dir/nginx.conf"
	lab_in "b$i" nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log"
	lab_wait_tcp_listen "b$i" "$LAB_HTTP_PORT"
}

# Stop a backend's nginx the way a crash looks to a client: the listening
# socket disappears and connects are refused. Done when nothing listens on
# the HTTP port any more (the master's pid may linger as a zombie until the
# namespace's reaper gets to it, so the socket is the better witness).
lab_nginx_stop() {
	local i=$1 pidfile="$LAB_DIR/b$1/nginx.pid" pid n
	[[ -s $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	kill -TERM "$pid" 2>/dev/null || return 0
	for n in $(seq 50); do
		lab_in "b$i" ss -Hltn "sport = :$LAB_HTTP_PORT" | grep -q . || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

lab_wait_tcp_listen() {
	local role=$1 port=$2 n
	for n in $(seq 50); do
		lab_in "$role" ss -Hltn "sport = :$port" | grep -q . && return 0
		sleep 0.1
	done
	lab_die "nothing listens on tcp port $port in $(lab_ns "$role")"
}

# The UDP echo: one small perl process per backend (perl-base is part of
# every Debian system), answering each datagram with the backend's name.
# socat's fork-per-datagram server lost a few replies in a hundred under
# bursts of parallel requests, and the tests count every reply. It binds one
# socket per address because a UDP reply must leave from the address the
# request was sent to (the backend's own in nat mode, the VIP in dsr mode),
# and only a socket bound to that address guarantees it.
lab_udp_echo_source() {
	cat <<'PERL'
use strict;
use warnings;
use Socket qw(:addrinfo SOCK_DGRAM SOL_SOCKET SO_REUSEADDR);

my ($name, $port, @addrs) = @ARGV;
my @socks;
my $rin = '';
for my $a (@addrs) {
	my ($err, @res) = getaddrinfo($a, $port, { socktype => SOCK_DGRAM, flags => AI_NUMERICHOST });
	die "udp-echo: bad address $a: $err\n" if $err;
	socket(my $s, $res[0]{family}, SOCK_DGRAM, 0) or die "udp-echo: socket: $!\n";
	setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1) or die "udp-echo: SO_REUSEADDR: $!\n";
	bind($s, $res[0]{addr}) or die "udp-echo: bind $a port $port: $!\n";
	push @socks, $s;
	vec($rin, fileno($s), 1) = 1;
}
while (1) {
	next if select(my $rout = $rin, undef, undef, undef) <= 0;
	for my $s (@socks) {
		next unless vec($rout, fileno($s), 1);
		my $peer = recv($s, my $buf, 65535, 0);
		send($s, "$name\n", 0, $peer) if defined $peer;
	}
}
PERL
}

lab_udp_start() {
	local i=$1 dir="$LAB_DIR/b$1" addr
	mkdir -p "$dir"
	[[ -s $LAB_DIR/udp-echo.pl ]] || lab_udp_echo_source >"$LAB_DIR/udp-echo.pl"
	# The subshell execs nsenter, which execs perl: $! is the server's pid.
	(exec nsenter --net="/run/netns/$(lab_ns "b$i")" -- perl "$LAB_DIR/udp-echo.pl" "b$i" "$LAB_UDP_PORT" \
		"$(lab_backend4 "$i")" "$LAB_VIP4" "$(lab_backend6 "$i")" "$LAB_VIP6") \
		</dev/null >>"$dir/udp.log" 2>&1 &
	echo $! >"$dir/udp.pid"
	for addr in "$(lab_backend4 "$i")" "$LAB_VIP4" "[$(lab_backend6 "$i")]" "[$LAB_VIP6]"; do
		lab_wait_udp_bound "b$i" "$addr:$LAB_UDP_PORT"
	done
}

lab_wait_udp_bound() {
	local role=$1 local_ep=$2 n
	for n in $(seq 50); do
		lab_in "$role" ss -Hlun | awk '{print $4}' | grep -qxF "$local_ep" && return 0
		sleep 0.1
	done
	lab_die "no UDP socket on $local_ep in $(lab_ns "$role")"
}

# dsr: the backend owns the VIP on lo and must not answer ARP for it (the
# gateway alone announces VIPs); arp_ignore=1 answers only for addresses of
# the interface asked on, arp_announce=2 never uses lo's VIP as ARP source.
lab_dsr_on() {
	local i=$1
	lab_in "b$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.to-gw.arp_ignore=1 net.ipv4.conf.to-gw.arp_announce=2
	lab_in "b$i" ip addr replace "$LAB_VIP4/32" dev lo
	lab_in "b$i" ip -6 addr replace "$LAB_VIP6/128" dev lo nodad
}

lab_dsr_off() {
	local i=$1
	lab_in "b$i" ip addr del "$LAB_VIP4/32" dev lo 2>/dev/null || true
	lab_in "b$i" ip -6 addr del "$LAB_VIP6/128" dev lo 2>/dev/null || true
}

lab_dsr_all_on() {
	local i
	for i in $(lab_backend_ids); do lab_dsr_on "$i"; done
}

lab_dsr_all_off() {
	local i
	for i in $(lab_backend_ids); do lab_dsr_off "$i"; done
}

# Extra client addresses 198.18.0.3.. and fd00::3.. (count N), so tests can
# show how source-address hashing spreads different clients.
lab_client_addrs() {
	local n=$1 k
	for k in $(seq 3 $((n + 2))); do
		lab_in client ip addr replace "198.18.0.$k/24" dev to-gw
		lab_in client ip -6 addr replace "fd00::$k/64" dev to-gw nodad
	done
}

# The gateway asks each backend over plain routing (no xlb involved): this
# proves nginx answers in every namespace and that routing works, and leaves
# the gateway with a neighbour entry per backend, which XDP's FIB lookup
# needs before it can forward (without one the packet takes the kernel path).
lab_check_backends() {
	local i addr body
	for i in $(lab_backend_ids); do
		for addr in "$(lab_backend4 "$i")" "[$(lab_backend6 "$i")]"; do
			body=$(lab_in gw curl -s --max-time 3 "http://$addr:$LAB_HTTP_PORT/") ||
				lab_die "gateway cannot reach nginx at $addr"
			[[ $body == "b$i" ]] || lab_die "nginx at $addr answered '$body', expected 'b$i'"
		done
	done
}

lab_up() {
	local role i
	lab_down
	mkdir -p "$LAB_DIR"
	for role in client gw $(for i in $(lab_backend_ids); do echo "b$i"; done); do
		lab_make_namespace "$role"
	done
	lab_gw_forwarding
	lab_wire_client
	for i in $(lab_backend_ids); do
		lab_wire_backend "$i"
	done
	lab_make_content
	for i in $(lab_backend_ids); do
		lab_nginx_start "$i"
		lab_udp_start "$i"
	done
	lab_check_backends
	lab_log "up: namespaces $(lab_existing_namespaces | tr '\n' ' ')"
}

lab_usage() {
	cat <<EOF
usage: tools/lab.sh up|down [--prefix P]

  up     create the lab (namespaces P{client,gw,b1,b2,b3}, veths, nginx and
         a UDP echo in each backend); removes leftovers of the same prefix
  down   stop the lab's processes and delete its namespaces
  --prefix P   name prefix (default xlab-)

Enter a namespace: nsenter --net=/run/netns/Pclient bash
Try it:           nsenter --net=/run/netns/Pclient curl http://198.18.1.2/
EOF
}

lab_main() {
	local cmd=${1:-}
	shift || true
	while (($#)); do
		case $1 in
		--prefix)
			[[ $# -ge 2 ]] || {
				lab_usage >&2
				return 2
			}
			lab_set_prefix "$2"
			shift 2
			;;
		*)
			lab_usage >&2
			return 2
			;;
		esac
	done
	if [[ $cmd == up || $cmd == down ]] && [[ $(id -u) != 0 ]]; then
		echo "lab: must run as root (network namespaces)" >&2
		return 1
	fi
	case $cmd in
	up) lab_up ;;
	down) lab_down ;;
	-h | --help | help) lab_usage ;;
	*)
		lab_usage >&2
		return 2
		;;
	esac
}

# Run as a command (not sourced): act on the arguments.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	lab_main "$@"
fi
