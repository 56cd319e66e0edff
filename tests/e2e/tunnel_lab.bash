# The routed lab of tests/e2e/tunnel.sh (sourced, not run: tests/run.sh runs
# only tests/e2e/*.sh). Backends sit in their own subnets behind a router, so
# only tunnel mode reaches them, and they answer clients directly:
#
#   client 198.18.0.2 fd00::2
#     | to-r1 <-> to-client
#   r1 198.18.0.1 fd00::1 -------- to-gw <-> to-r1 -------- gw 198.18.50.2 fd00:50::2
#     |  routes the VIPs to gw       198.18.50.1                xlbd on to-r1 (its only link);
#     |                                                        routes to the backend subnets
#     | to-r2 <-> to-r1   MTU 1400 (198.18.60.0/24, fd00:60::/64)     carry "mtu lock 1400"
#   r2 198.18.60.2
#     | to-bI <-> eth0    (I = 1..3)
#   bI 198.18.I.2 fd00:I::2: nginx :80, socat UDP echo :5353, socat sha256 sink :9000,
#                            set up with xlb-backend only
#
# Requests: client -> r1 -> gw (xlb encapsulates, XDP_TX) -> r1 -> r2 -> bI.
# Replies:  bI -> r2 -> r1 -> client, from the VIP, never through gw.
# The 1400-byte link sits on both paths: downloads meet it on the reply path
# (r2 sends "fragmentation needed" to the VIP, which xlb steers to the flow's
# backend); uploads meet it in xlb itself (the locked route MTU makes xlb
# answer the client with "fragmentation needed").
#
# Every name carries the prefix xtun-: namespaces, pins (/sys/fs/bpf/xtun-*),
# the work directory /tmp/xtun-e2e and the lab directory /tmp/xtun-lab.

TUN_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tools/lab.sh
source "$TUN_REPO/tools/lab.sh"

TUN_BUILD=${BUILD:-$TUN_REPO/build}
[[ $TUN_BUILD == /* ]] || TUN_BUILD=$TUN_REPO/$TUN_BUILD
XLBD=$TUN_BUILD/xlbd
XLBCTL=$TUN_BUILD/xlbctl
XLB_BACKEND=$TUN_BUILD/xlb-backend

lab_set_prefix xtun-
LAB_QUIET=1
# The whole file at full speed: this lab measures integrity, not pacing.
LAB_BIG_RATE=0
LAB_BIG_BYTES=$((4 * 1024 * 1024))

TUN_DIR=/tmp/xtun-e2e
TUN_GW_PIN=/sys/fs/bpf/xtun-gw
TUN_SOCK=$TUN_DIR/xlbd.sock
TUN_STATE=$TUN_DIR/xlbd.state
TUN_LOG=$TUN_DIR/xlbd.log
TUN_GW_IF=to-r1
TUN_UPLOAD_PORT=9000
TUN_MTU=1400
TUN_XDP_MODE=${TUN_XDP_MODE:-native}

TUN_R1_CLIENT4=198.18.0.1
TUN_R1_CLIENT6=fd00::1
TUN_R1_GW4=198.18.50.1
TUN_R1_GW6=fd00:50::1
TUN_GW4=198.18.50.2
TUN_GW6=fd00:50::2
TUN_R1_R24=198.18.60.1
TUN_R1_R26=fd00:60::1
TUN_R24=198.18.60.2
TUN_R26=fd00:60::2

XLBD_PID=

tun_pin() { echo "/sys/fs/bpf/xtun-$1"; }

# ---- reporting ---------------------------------------------------------------

TUN_PASSED=0
TUN_FAILED=0

pass() {
	echo "PASS e2e/tunnel/$1${2:+ ($2)}"
	TUN_PASSED=$((TUN_PASSED + 1))
}

fail() {
	echo "FAIL e2e/tunnel/$1: $2"
	TUN_FAILED=$((TUN_FAILED + 1))
}

note() {
	echo "# $*"
}

# ---- the topology --------------------------------------------------------------

tun_roles() {
	echo client gw r1 r2 $(for i in $(lab_backend_ids); do echo "b$i"; done)
}

tun_link() {
	local a=$1 if_a=$2 b=$3 if_b=$4
	lab_link "$a" "$if_a" "$b" "$if_b"
	lab_tune_veth "$a" "$if_a"
	lab_tune_veth "$b" "$if_b"
}

tun_wire_client() {
	tun_link r1 to-client client to-r1
	lab_addr r1 to-client "$TUN_R1_CLIENT4/24"
	lab_addr r1 to-client "$TUN_R1_CLIENT6/64"
	lab_addr client to-r1 "$LAB_CLIENT4/24"
	lab_addr client to-r1 "$LAB_CLIENT6/64"
	lab_in client ip route add default via "$TUN_R1_CLIENT4"
	lab_in client ip -6 route add default via "$TUN_R1_CLIENT6"
}

# The gateway's route to each backend subnet carries the path's MTU, locked:
# only a locked route MTU counts for forwarding, and so for the FIB lookup
# that xlb's too-big check relies on. Forwarding is on, or the FIB lookup
# refuses (FWD_DISABLED).
tun_wire_gw() {
	local i
	lab_gw_forwarding
	tun_link r1 to-gw gw "$TUN_GW_IF"
	lab_addr r1 to-gw "$TUN_R1_GW4/24"
	lab_addr r1 to-gw "$TUN_R1_GW6/64"
	lab_addr gw "$TUN_GW_IF" "$TUN_GW4/24"
	lab_addr gw "$TUN_GW_IF" "$TUN_GW6/64"
	lab_in gw ip route add default via "$TUN_R1_GW4"
	lab_in gw ip -6 route add default via "$TUN_R1_GW6"
	for i in $(lab_backend_ids); do
		lab_in gw ip route add "198.18.$i.0/24" via "$TUN_R1_GW4" mtu lock "$TUN_MTU"
		lab_in gw ip -6 route add "fd00:$i::/64" via "$TUN_R1_GW6" mtu lock "$TUN_MTU"
	done
	lab_in r1 ip route add "$LAB_VIP4/32" via "$TUN_GW4"
	lab_in r1 ip -6 route add "$LAB_VIP6/128" via "$TUN_GW6"
}

tun_wire_routers() {
	local i
	tun_link r1 to-r2 r2 to-r1
	lab_in r1 ip link set to-r2 mtu "$TUN_MTU"
	lab_in r2 ip link set to-r1 mtu "$TUN_MTU"
	lab_addr r1 to-r2 "$TUN_R1_R24/24"
	lab_addr r1 to-r2 "$TUN_R1_R26/64"
	lab_addr r2 to-r1 "$TUN_R24/24"
	lab_addr r2 to-r1 "$TUN_R26/64"
	lab_in r2 ip route add default via "$TUN_R1_R24"
	lab_in r2 ip -6 route add default via "$TUN_R1_R26"
	for i in $(lab_backend_ids); do
		lab_in r1 ip route add "198.18.$i.0/24" via "$TUN_R24"
		lab_in r1 ip -6 route add "fd00:$i::/64" via "$TUN_R26"
	done
	lab_in r1 sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	lab_in r2 sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# A backend as a distribution would leave it: strict reverse-path filtering
# and default ARP behaviour, which xlb-backend has to change.
tun_wire_backend() {
	local i=$1
	tun_link r2 "to-b$i" "b$i" eth0
	lab_addr r2 "to-b$i" "198.18.$i.1/24"
	lab_addr r2 "to-b$i" "fd00:$i::1/64"
	lab_addr "b$i" eth0 "$(lab_backend4 "$i")/24"
	lab_addr "b$i" eth0 "$(lab_backend6 "$i")/64"
	lab_in "b$i" ip route add default via "198.18.$i.1"
	lab_in "b$i" ip -6 route add default via "fd00:$i::1"
	lab_in "b$i" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
}

# XDP_TX on a veth hands the frame to the peer's NAPI ring, but the kernel
# (veth_xdp_flush) wakes that NAPI only when the peer runs an XDP program
# itself: with GRO alone, XDP_TX'd frames wait for unrelated traffic to wake
# it, and once the ring is full the link stalls for good. A real NIC has no
# such peer; here r1's end of the gateway's link gets a program that passes
# everything. Built on the spot (no headers, no maps, so nothing is pinned
# once it is attached).
tun_peer_xdp() {
	local src="$TUN_DIR/pass.bpf.c" obj="$TUN_DIR/pass.bpf.o" pin=/sys/fs/bpf/xtun-pass
	printf '%s
' '#define SEC(n) __attribute__((section(n), used))' \
		'SEC("xdp") int xdp_pass(void *ctx) { return 2; /* XDP_PASS */ }' \
		'char LICENSE[] SEC("license") = "GPL";' >"$src"
	clang -O2 -target bpf -c "$src" -o "$obj"
	rm -f "$pin"
	bpftool prog load "$obj" "$pin" type xdp
	lab_in r1 bpftool net attach xdpdrv pinned "$pin" dev to-gw
	rm -f "$pin"
}

# Counters in the gateway for anything sent from a VIP (a reply would be),
# and in r1 for replies forwarded from the backends' side to the client.
tun_counters_setup() {
	lab_in gw nft -f - <<EOF
table inet xtun {
	chain from_vip {
		type filter hook prerouting priority raw; policy accept;
		ip saddr $LAB_VIP4 counter
		ip6 saddr $LAB_VIP6 counter
	}
}
EOF
	lab_in r1 nft -f - <<EOF
table inet xtun {
	chain replies {
		type filter hook forward priority filter; policy accept;
		iifname "to-r2" oifname "to-client" ip saddr $LAB_VIP4 counter
		iifname "to-r2" oifname "to-client" ip6 saddr $LAB_VIP6 counter
	}
}
EOF
}

# Sum of the packets counted by one namespace's xtun rules.
tun_counter() {
	lab_in "$1" nft -j list table inet xtun |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add // 0'
}

tun_upload_start() {
	local i=$1 dir="$LAB_DIR/b$1"
	mkdir -p "$dir"
	(exec nsenter --net="/run/netns/$(lab_ns "b$i")" -- socat \
		"TCP6-LISTEN:$TUN_UPLOAD_PORT,ipv6only=0,reuseaddr,fork" SYSTEM:sha256sum) \
		</dev/null >>"$dir/upload.log" 2>&1 &
	lab_wait_tcp_listen "b$i" "$TUN_UPLOAD_PORT"
}

tun_servers_start() {
	local i
	lab_make_content
	for i in $(lab_backend_ids); do
		lab_nginx_start "$i" || return 1
		lab_udp_start "$i" || return 1
		tun_upload_start "$i" || return 1
	done
}

# The gateway reaches every backend by plain routing (and learns r1's
# neighbour entries, which XDP's FIB lookup needs).
tun_check_routing() {
	local i addr body
	for i in $(lab_backend_ids); do
		for addr in "$(lab_backend4 "$i")" "[$(lab_backend6 "$i")]"; do
			body=$(lab_in gw curl -s -g --max-time 3 "http://$addr:$LAB_HTTP_PORT/") ||
				lab_die "gateway cannot reach nginx at $addr"
			[[ $body == "b$i" ]] || lab_die "nginx at $addr answered '$body', expected 'b$i'"
		done
	done
}

tun_lab_up() {
	local role i
	tun_lab_down
	mkdir -p "$LAB_DIR" "$TUN_DIR"
	for role in $(tun_roles); do
		lab_make_namespace "$role"
	done
	tun_wire_client
	tun_wire_gw
	tun_wire_routers
	for i in $(lab_backend_ids); do
		tun_wire_backend "$i"
	done
	tun_peer_xdp
	tun_counters_setup
}

# ---- the gateway -----------------------------------------------------------------

ctl() {
	"$XLBCTL" -s "$TUN_SOCK" "$@"
}

ctl_ok() {
	local out
	if ! out=$(ctl "$@" 2>&1); then
		fail xlbctl "'$*' failed: $out"
		return 1
	fi
}

# xlbd in the gateway's network namespace only (nsenter), so it sees bpffs.
xlbd_start() {
	local n
	(exec nsenter --net="/run/netns/$(lab_ns gw)" -- "$XLBD" -i "$TUN_GW_IF" \
		--xdp-mode "$TUN_XDP_MODE" --socket "$TUN_SOCK" --pin-root "$TUN_GW_PIN" --state "$TUN_STATE") \
		</dev/null >>"$TUN_LOG" 2>&1 &
	XLBD_PID=$!
	for n in $(seq 100); do
		kill -0 "$XLBD_PID" 2>/dev/null || return 1
		ctl vip list >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# One reason counter of the gateway's datapath (xlbctl -j stats).
gw_reason() {
	ctl -j stats | jq -r --arg r "$1" '.reasons[$r] // 0'
}

# ---- teardown --------------------------------------------------------------------

# Everything with the prefix, in an order that leaves no program attached:
# the daemon and its pins, each backend's setup (undone by xlb-backend, as
# an operator would), the namespaces with whatever runs inside, the
# directories. Safe to run when nothing exists.
tun_lab_down() {
	local i ns
	xlbd_stop
	if [[ -x $XLBD && -e /run/netns/$(lab_ns gw) ]]; then
		lab_in gw "$XLBD" --detach --pin-root "$TUN_GW_PIN" >/dev/null 2>&1 || true
	fi
	for i in $(lab_backend_ids); do
		if [[ -x $XLB_BACKEND && -e /run/netns/$(lab_ns "b$i") ]]; then
			lab_in "b$i" "$XLB_BACKEND" remove --pin-root "$(tun_pin "b$i")" >/dev/null 2>&1 || true
		fi
	done
	lab_down
	for ns in r1 r2; do
		if [[ -e /run/netns/$(lab_ns "$ns") ]]; then
			lab_kill_namespace_processes "$(lab_ns "$ns")"
			ip netns del "$(lab_ns "$ns")" 2>/dev/null || true
		fi
	done
	for i in $(lab_backend_ids); do
		rm -rf -- "$(tun_pin "b$i")"
		rm -f -- "/run/xlb-backend/sys-fs-bpf-xtun-b$i.state" "/run/xlb-backend/sys-fs-bpf-xtun-b$i.lock"
	done
	rm -rf -- "$TUN_GW_PIN"
	rm -f -- /sys/fs/bpf/xtun-pass
	if [[ -d $TUN_DIR ]]; then
		if ((TUN_FAILED > 0)) && [[ -s $TUN_LOG ]]; then
			cp "$TUN_LOG" /tmp/xtun-e2e.xlbd.log 2>/dev/null || true
			note "xlbd log kept in /tmp/xtun-e2e.xlbd.log"
		fi
		rm -rf -- "$TUN_DIR"
	fi
}
