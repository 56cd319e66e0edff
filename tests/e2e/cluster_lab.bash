# The scale-out lab of cluster.sh (sourced after common.bash): clients behind
# a router that runs a routing daemon with BGP + BFD sessions to three xlb
# gateways, each running xlbd and its own routing daemon; the router installs
# one ECMP route per VIP over the gateways that announce it. Everything lives
# in namespaces. ROUTING=bird (default) runs BIRD 2 everywhere, ROUTING=frr
# FRR's zebra + bgpd + bfdd, each with the configuration shipped under
# packaging/.
#
#   client (198.18.100.2-9, fd00:100::2-9; MTU 1400 so tunnel mode fits)
#     | c0 <-> r-c
#   router (198.18.100.1 | 198.18.200.1, fd00:200::1)  BGP+BFD to gw1-3,
#     | r-lan                                           ECMP, L4 multipath hash
#   sw: bridge br0  (the LAN 198.18.200.0/24, fd00:200::/64)
#     | lan (each)
#   gw1-3 (198.18.200.11-13, fd00:200::11-13): xlbd on lan (one-armed: XDP_TX
#     back to the LAN), the routing daemon exporting xlbd's routes over BGP
#   b1-3 (198.18.200.21-23, fd00:200::21-23): nginx, all VIPs on lo, xlb's
#     decap program (tunnel mode); replies go to the client via the router
#
# Names carry the lab prefix, so a rerun removes a crashed run's leftovers.

CL_GWS=3
CL_CLIENTS=8 # client addresses .2-.9
CL_DSR4=198.19.0.10
CL_DSR6=fd00:ff::10
CL_TUN4=198.19.0.20
CL_TUN6=fd00:ff::20
CL_ROUTER4=198.18.200.1
CL_ROUTER6=fd00:200::1
ROUTING=${ROUTING:-bird}
CL_ROUTE_PROTO=245
# FRR 8.4 redistributes the main table's kernel routes only (see
# packaging/frr/gateway.conf); BIRD reads xlbd's own table.
if [[ $ROUTING == frr ]]; then CL_ROUTE_TABLE=254; else CL_ROUTE_TABLE=245; fi
CL_BIRD_DIR=$E2E_REPO/packaging/bird
CL_FRR_DIR=$E2E_REPO/packaging/frr
CL_FRR_DAEMONS=(zebra bgpd bfdd)

cl_gw4() { echo "198.18.200.1$1"; }
cl_gw6() { echo "fd00:200::1$1"; }
cl_b4() { echo "198.18.200.2$1"; }
cl_b6() { echo "fd00:200::2$1"; }
cl_client4() { echo "198.18.100.$(($1 + 1))"; } # client k = 1..CL_CLIENTS
cl_client6() { echo "fd00:100::$(($1 + 1))"; }
cl_gw_ids() { seq 1 "$CL_GWS"; }
cl_pin() { echo "/sys/fs/bpf/xe2e-$E2E_NAME-$1"; }
cl_sock() { echo "$E2E_DIR/$1.sock"; }

# ---- namespaces ---------------------------------------------------------------

cl_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${LAB_PREFIX//./\\.}(client|router|sw|gw[0-9]+|b[0-9]+)$" || true
}

# Processes first (the routing daemons, xlbd, nginx live inside), then the backends' decap
# programs and every gateway's datapath and routes, then the namespaces.
cl_down() {
	local ns role i
	for ns in $(cl_namespaces); do
		lab_kill_namespace_processes "$ns"
	done
	for i in $(lab_backend_ids); do
		if [[ -e /run/netns/$(lab_ns "b$i") ]]; then
			lab_in "b$i" "$E2E_REPO/build/xlb-backend" remove --pin-root "$(cl_pin "b$i")" >/dev/null 2>&1 || true
		fi
		rm -f -- "/run/xlb-backend/sys-fs-bpf-xe2e-$E2E_NAME-b$i.state" "/run/xlb-backend/sys-fs-bpf-xe2e-$E2E_NAME-b$i.lock"
		rm -rf -- "$(cl_pin "b$i")"
	done
	for i in $(cl_gw_ids); do
		role=gw$i
		if [[ -e /run/netns/$(lab_ns "$role") ]]; then
			cl_xlbd_detach "$role" >/dev/null 2>&1 || true
		fi
		rm -rf -- "$(cl_pin "$role")"
	done
	for ns in $(cl_namespaces); do
		ip netns del "$ns" 2>/dev/null || true
	done
	if [[ -n $LAB_DIR && $LAB_DIR == /tmp/* ]]; then rm -rf -- "$LAB_DIR"; fi
}

cl_bridge_port() {
	local role=$1 dev=$2 port=$3
	lab_link "$role" "$dev" sw "$port"
	lab_tune_veth "$role" "$dev"
	lab_tune_veth sw "$port"
	lab_in sw ip link set "$port" master br0
}

cl_wire() {
	local i k
	for role in client router sw $(for i in $(cl_gw_ids); do echo "gw$i"; done) \
		$(for i in $(lab_backend_ids); do echo "b$i"; done); do
		lab_make_namespace "$role"
	done
	lab_in sw ip link add br0 type bridge
	lab_in sw ip link set br0 up
	# client <-> router
	lab_link client c0 router r-c
	lab_tune_veth client c0
	lab_tune_veth router r-c
	lab_in client ip link set c0 mtu 1400
	lab_in router ip link set r-c mtu 1400
	for k in $(seq 1 "$CL_CLIENTS"); do
		lab_addr client c0 "$(cl_client4 "$k")/24"
		lab_addr client c0 "$(cl_client6 "$k")/64"
	done
	lab_in client ip route add default via 198.18.100.1
	lab_in client ip -6 route add default via fd00:100::1
	lab_in client sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
	lab_addr router r-c 198.18.100.1/24
	lab_addr router r-c fd00:100::1/64
	# router on the LAN; ECMP hashed on layer 4, not just addresses
	cl_bridge_port router r-lan p-r
	lab_addr router r-lan "$CL_ROUTER4/24"
	lab_addr router r-lan "$CL_ROUTER6/64"
	lab_in router sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
	for i in $(cl_gw_ids); do
		cl_bridge_port "gw$i" lan "p-g$i"
		lab_addr "gw$i" lan "$(cl_gw4 "$i")/24"
		lab_addr "gw$i" lan "$(cl_gw6 "$i")/64"
		# XDP's FIB lookup answers only where forwarding is on.
		lab_in "gw$i" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
		lab_in "gw$i" ip route add default via "$CL_ROUTER4"
		lab_in "gw$i" ip -6 route add default via "$CL_ROUTER6"
	done
	for i in $(lab_backend_ids); do
		cl_bridge_port "b$i" lan "p-b$i"
		lab_addr "b$i" lan "$(cl_b4 "$i")/24"
		lab_addr "b$i" lan "$(cl_b6 "$i")/64"
		lab_in "b$i" ip route add default via "$CL_ROUTER4"
		lab_in "b$i" ip -6 route add default via "$CL_ROUTER6"
	done
}

# All four VIPs on every backend, with xlb's own backend setup (tunnel mode
# covers dsr too: the VIPs on lo and the ARP sysctls are the same, and the
# decap program passes packets that are not encapsulated).
cl_backends() {
	local i
	lab_make_content
	for i in $(lab_backend_ids); do
		lab_in "b$i" "$E2E_REPO/build/xlb-backend" setup --mode tunnel --dev lan \
			--vip "$CL_DSR4,$CL_DSR6,$CL_TUN4,$CL_TUN6" --pin-root "$(cl_pin "b$i")" >/dev/null || return 1
		lab_nginx_start "$i" || return 1
	done
}

# ---- routing daemons ------------------------------------------------------------

# A shipped configuration (BIRD's or FRR's) with the documentation addresses
# replaced by the lab's: what is tested is what is shipped.
cl_lab_addresses() {
	local src=$1
	sed -e "s/192\.0\.2\.\([0-9][0-9]*\)/198.18.200.\1/g" \
		-e "s#2001:db8:ff::/64#fd00:ff::/64#g" -e "s/2001:db8::/fd00:200::/g" \
		-e "s#198\.51\.100\.0/24#198.19.0.0/24#g" "$src"
}

cl_conf_name() { if [[ $1 == router ]]; then echo router.conf; else echo gateway.conf; fi; }

cl_routing_start() { "cl_${ROUTING}_start" "$1"; }

# As a dying machine: no clean session close, only BFD can tell.
cl_routing_kill() { "cl_${ROUTING}_kill" "$1"; }

# ---- bird ---------------------------------------------------------------------

cl_bird_conf() {
	local role=$1 dir="$LAB_DIR/bird-$1"
	mkdir -p "$dir"
	cl_lab_addresses "$CL_BIRD_DIR/$(cl_conf_name "$role")" |
		sed -e "s#^log syslog all;#log \"$dir/bird.log\" all;#" >"$dir/bird.conf"
	if [[ $role == gw* ]]; then
		sed -i "s/^router id [^;]*;/router id $(cl_gw4 "${role#gw}");/" "$dir/bird.conf"
	fi
}

cl_bird_start() {
	local role=$1 dir="$LAB_DIR/bird-$1"
	cl_bird_conf "$role"
	lab_in "$role" bird -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid"
}

cl_bird_kill() { kill -KILL "$(cat "$LAB_DIR/bird-$1/bird.pid" 2>/dev/null)" 2>/dev/null || true; }

cl_birdc() {
	local role=$1
	shift
	lab_in "$role" birdc -s "$LAB_DIR/bird-$role/bird.ctl" "$@"
}

# ---- frr ----------------------------------------------------------------------

# Each namespace's daemons keep their pid files, vty sockets, zebra API
# socket, BFD control socket and log in a directory of their own (owned by
# the frr user the daemons drop to), so nothing meets the machine's FRR.
cl_frr_dir() { echo "$LAB_DIR/frr-$1"; }

cl_frr_conf() {
	local role=$1 dir
	dir=$(cl_frr_dir "$role")
	cl_lab_addresses "$CL_FRR_DIR/$(cl_conf_name "$role")" |
		sed -e "s#^log syslog .*#log file $dir/frr.log#" >"$dir/frr.conf"
	if [[ $role == gw* ]]; then
		sed -i "s/^ bgp router-id .*/ bgp router-id $(cl_gw4 "${role#gw}")/" "$dir/frr.conf"
	fi
}

# The daemons start empty; vtysh then boots them with the integrated
# configuration, as the frr service does.
cl_frr_start() {
	local role=$1 dir d n
	dir=$(cl_frr_dir "$role")
	mkdir -p "$dir"
	cl_frr_conf "$role"
	chown -R frr:frr "$dir"
	for d in "${CL_FRR_DAEMONS[@]}"; do
		lab_in "$role" "/usr/lib/frr/$d" -d -f /dev/null -P 0 -i "$dir/$d.pid" \
			-z "$dir/zserv.api" --vty_socket "$dir" \
			$([[ $d == bfdd ]] && echo --bfdctl "$dir/bfdd.sock") || {
			echo "frr: $d did not start in $role" >&2
			return 1
		}
	done
	for n in $(seq 50); do
		[[ -S $dir/zebra.vty && -S $dir/bgpd.vty && -S $dir/bfdd.vty ]] && break
		sleep 0.1
	done
	lab_in "$role" vtysh --vty_socket "$dir" --config_dir "$dir" -b >/dev/null || {
		echo "frr: vtysh could not load $dir/frr.conf in $role" >&2
		return 1
	}
}

cl_frr_kill() {
	local d dir
	dir=$(cl_frr_dir "$1")
	for d in "${CL_FRR_DAEMONS[@]}"; do
		kill -KILL "$(cat "$dir/$d.pid" 2>/dev/null)" 2>/dev/null || true
	done
}

cl_vtysh() {
	local role=$1
	shift
	lab_in "$role" vtysh --vty_socket "$(cl_frr_dir "$role")" "$@"
}

# ---- xlbd per gateway ----------------------------------------------------------

cl_xlbd_start() {
	local role=$1
	(exec nsenter --net="/run/netns/$(lab_ns "$role")" -- "$XLBD" -i lan --xdp-mode native \
		--socket "$(cl_sock "$role")" --pin-root "$(cl_pin "$role")" \
		--state "$E2E_DIR/$role.state" --route-table "$CL_ROUTE_TABLE" --route-proto "$CL_ROUTE_PROTO") </dev/null > >(stamp_lines >>"$E2E_DIR/$role.log") 2>&1 &
	echo $! >"$E2E_DIR/$role.xlbd.pid"
	local n
	for n in $(seq 100); do
		cl_ctl "$role" vip list >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

cl_xlbd_detach() {
	lab_in "$1" "$XLBD" --detach --pin-root "$(cl_pin "$1")" --socket "$(cl_sock "$1")" \
		--route-table "$CL_ROUTE_TABLE" --route-proto "$CL_ROUTE_PROTO"
}

cl_ctl() {
	local role=$1
	shift
	"$XLBCTL" -s "$(cl_sock "$role")" "$@"
}

# ---- the router's view ---------------------------------------------------------

# The gateways (next hops) the router's route to a VIP goes through, sorted.
cl_route_hops() {
	local vip=$1 fam=-4
	[[ $vip == *:* ]] && fam=-6
	lab_in router ip "$fam" -o route show "$vip" 2>/dev/null |
		grep -o 'via [0-9a-f.:]*' | awk '{print $2}' | sort | tr '\n' ' ' | sed 's/ $//'
}

cl_hop_count() {
	local hops
	hops=$(cl_route_hops "$1")
	if [[ -z $hops ]]; then echo 0; else wc -w <<<"$hops"; fi
}

# Wait until the route to vip has n next hops; prints the milliseconds it took.
cl_wait_hops() {
	local vip=$1 n=$2 limit=$3 t0 i
	t0=$(now)
	for ((i = 0; i < limit * 50; i++)); do
		if [[ $(cl_hop_count "$vip") == "$n" ]]; then
			ms_between "$t0" "$(now)"
			return 0
		fi
		sleep 0.02
	done
	return 1
}
