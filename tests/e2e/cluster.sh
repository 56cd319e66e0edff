#!/usr/bin/env bash
# Scale-out: three xlb gateways behind a router that spreads flows over them
# by ECMP, each announcing its VIPs over BGP (+BFD) through BIRD with the
# shipped configuration (packaging/bird), or with ROUTING=frr through FRR
# (packaging/frr; cluster_frr.sh). VIPs in dsr and tunnel mode, IPv4 and
# IPv6, on the same three backends. Checked with real traffic:
#   - the same statements in different orders and histories give the three
#     nodes identical table digests;
#   - new connections spread over all three gateways (their VIP counters);
#   - node drain: the router drops the node within the convergence time, no
#     new connection reaches it, downloads in flight finish intact;
#   - a VIP whose backends all fail on one node is withdrawn by that node
#     only, and comes back;
#   - a gateway killed under load (xlbd, routing daemon, link down):
#     downloads through it and through the survivors finish intact (same
#     backend on the new node), zero failed requests after convergence;
#     convergence time noted.
# Lab: tests/e2e/cluster_lab.bash. Sourced (tools/bench/scaleout.sh), it
# only defines its functions.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
source "$(dirname "${BASH_SOURCE[0]}")/cluster_lab.bash"

PORT=80
# The test names: cluster (BIRD) or cluster_frr (ROUTING=frr, cluster_frr.sh).
if [[ $ROUTING == bird ]]; then CL_T=cluster; else CL_T=cluster_$ROUTING; fi
VIPS=("$CL_DSR4" "$CL_DSR6" "$CL_TUN4" "$CL_TUN6")
CONVERGE_LIMIT=10 # seconds before a missing convergence is a failure

vip_mode() { if [[ $1 == "$CL_DSR4" || $1 == "$CL_DSR6" ]]; then echo dsr; else echo tunnel; fi; }
vip_stmt() { if [[ $1 == *:* ]]; then echo "tcp/[$1]:$PORT"; else echo "tcp/$1:$PORT"; fi; }
vip_tag() { echo "$(vip_mode "$1")_v$([[ $1 == *:* ]] && echo 6 || echo 4)"; }
url_of() { if [[ $1 == *:* ]]; then echo "http://[$1]:$PORT/"; else echo "http://$1:$PORT/"; fi; }
backend_for() {
	local vip=$1 i=$2
	if [[ $vip == *:* ]]; then echo "[$(cl_b6 "$i")]"; else cl_b4 "$i"; fi
}
client_addr() {
	local vip=$1 k=$2
	if [[ $vip == *:* ]]; then cl_client6 "$k"; else cl_client4 "$k"; fi
}

cluster_cleanup() {
	cl_down
	e2e_cleanup
}

# ---- configuration: one set of statements, three orders ----------------------

vip_statements() {
	local vip=$1 v i
	v=$(vip_stmt "$vip")
	echo "vip add $v mode $(vip_mode "$vip")"
	for i in $(seq 1 "${CL_CONFIG_BACKENDS:-$LAB_BACKENDS}"); do
		echo "backend add $v $(backend_for "$vip" "$i")"
	done
	echo "check set $v tcp interval 500ms timeout 400ms fall 2 rise 1"
}

# gw1: in order. gw2: VIPs and backends in reverse order. gw3: with a
# history: a backend that is added first and deleted at the end, so every
# later backend sits in another slot than on the other nodes.
config_gw1() {
	local vip
	for vip in "${VIPS[@]}"; do vip_statements "$vip"; done
}

config_gw2() {
	local k vip lines
	for ((k = ${#VIPS[@]} - 1; k >= 0; k--)); do
		vip=${VIPS[k]}
		mapfile -t lines < <(vip_statements "$vip")
		echo "${lines[0]}"
		printf '%s\n' "${lines[@]:1:${#lines[@]}-2}" | tac
		echo "${lines[-1]}"
	done
}

config_gw3() {
	local vip v extra
	for vip in "${VIPS[@]}"; do
		v=$(vip_stmt "$vip")
		if [[ $vip == *:* ]]; then extra="[fd00:200::29]"; else extra=198.18.200.29; fi
		echo "vip add $v mode $(vip_mode "$vip")"
		echo "backend add $v $extra weight 3"
		vip_statements "$vip" | tail -n +2
		echo "backend del $v $extra"
	done
}

configure() {
	local i
	for i in $(cl_gw_ids); do
		if [[ $i == 3 ]]; then
			# One statement at a time, as an operator would type them.
			while read -r line; do
				cl_ctl gw3 $line >/dev/null || { fail "$CL_T/configure" "gw3: '$line' refused"; return 1; }
			done < <(config_gw3)
		elif ! "config_gw$i" | cl_ctl "gw$i" apply - >/dev/null; then
			fail "$CL_T/configure" "gw$i refused its configuration"
			return 1
		fi
	done
}

digests() {
	cl_ctl "$1" -j show | jq -r '.vips[] | "\(.vip)=\(.digest)"' | sort | tr '\n' ' '
}

check_digests() {
	local d1 d2 d3
	d1=$(digests gw1)
	d2=$(digests gw2)
	d3=$(digests gw3)
	note "digests gw1: $d1"
	if [[ -n $d1 && $d1 == "$d2" && $d1 == "$d3" && $(wc -w <<<"$d1") == "${#VIPS[@]}" ]]; then
		pass "${CL_T}_identical_table_digests" "3 nodes, ${#VIPS[@]} VIPs, 3 statement orders/histories"
	else
		fail "${CL_T}_identical_table_digests" "gw1: $d1; gw2: $d2; gw3: $d3"
	fi
}

# ---- bring-up -------------------------------------------------------------------

lab_up_all() {
	local i
	cl_down
	mkdir -p "$LAB_DIR"
	cl_wire || return 1
	cl_backends || return 1
	cl_routing_start router || return 1
	for i in $(cl_gw_ids); do
		cl_xlbd_start "gw$i" || { echo "xlbd on gw$i did not start" >&2; return 1; }
		cl_routing_start "gw$i" || return 1
	done
}

wait_all_announced() {
	local vip ms
	for vip in "${VIPS[@]}"; do
		if ! ms=$(cl_wait_hops "$vip" "$CL_GWS" 30); then
			fail "${CL_T}_bgp_ecmp_up" "route to $vip has next hops '$(cl_route_hops "$vip")' after 30 s, want 3 gateways"
			return 1
		fi
	done
	pass "${CL_T}_bgp_ecmp_up" "every VIP routed over 3 gateways by BGP ECMP"
}

# ---- traffic ----------------------------------------------------------------------

# n requests on new connections to url from client address src; one line
# each: "STATUS BACKEND".
burst() {
	local url=$1 n=$2 src=$3 i
	shift 3
	for i in $(seq "$n"); do
		printf 'url = "%s?%d"\noutput = "/dev/null"\n' "$url" "$i"
	done | lab_in client curl -s -g -K - -H 'Connection: close' --interface "$src" \
		--connect-timeout 3 --max-time 8 "$@" -w '%{http_code} %header{x-backend}\n' || true
}

# Every client address in turn, per address n requests.
burst_all_clients() {
	local vip=$1 n=$2 k
	shift 2
	for k in $(seq 1 "$CL_CLIENTS"); do
		burst "$(url_of "$vip")" "$n" "$(client_addr "$vip" "$k")" "$@"
	done
}

# n new connections per client address to every VIP: "ok=N bad=N".
burst_every_vip() {
	local n=$1 vip
	for vip in "${VIPS[@]}"; do burst_all_clients "$vip" "$n"; done | tally
}

tally() {
	awk '$1 == "200" && $2 ~ /^b[0-9]+$/ { ok++; next } { bad++ } END { printf "ok=%d bad=%d\n", ok, bad }'
}

vip_packets() {
	local role=$1 vip=$2
	cl_ctl "$role" -j show | jq -r --arg v "$(vip_stmt "$vip")" '.vips[] | select(.vip == $v) | .packets'
}

gw_flows() {
	cl_ctl "$1" -j show | jq '[.vips[].backends[].flows // 0] | add'
}

check_spread() {
	local vip=$1 tag i before=() after=() d=() ok bad total=0 detail=""
	tag=$(vip_tag "$vip")
	for i in $(cl_gw_ids); do before[i]=$(vip_packets "gw$i" "$vip"); done
	eval "$(burst_all_clients "$vip" 20 | tally)"
	for i in $(cl_gw_ids); do
		after[i]=$(vip_packets "gw$i" "$vip")
		d[i]=$((after[i] - before[i]))
		total=$((total + d[i]))
		detail+="gw$i ${d[i]} "
	done
	note "spread $tag: ok=$ok bad=$bad packets per gateway: $detail"
	if ((bad == 0)) && every_backend_at_least "$total" 10 "${d[@]:1}"; then
		pass "${CL_T}_spread_$tag" "$ok connections from $CL_CLIENTS addresses, packets $detail"
	else
		fail "${CL_T}_spread_$tag" "ok=$ok bad=$bad, packets $detail(each gateway must see >= 10%)"
	fi
}

# ---- downloads in flight ------------------------------------------------------------

DL_PIDS=()
DL_FILES=()

# One slow download (~10 s) per VIP from each of the given client numbers.
start_downloads() {
	local tag=$1 k vip out
	shift
	DL_PIDS=()
	DL_FILES=()
	for vip in "${VIPS[@]}"; do
		for k in "$@"; do
			out="$E2E_DIR/dl-$tag-$(vip_tag "$vip")-$k"
			client_bg "$out.log" curl -s -g --max-time 60 --interface "$(client_addr "$vip" "$k")" \
				-o "$out" -D "$out.headers" "$(url_of "$vip")big"
			DL_PIDS+=("$E2E_BG_PID")
			DL_FILES+=("$out")
		done
	done
}

# All downloads complete with the right checksum: a connection that met
# another backend half way would have been reset.
check_downloads() {
	local name=$1 want got f good=0 bad="" i
	want=$(cat "$LAB_DIR/www/big.sha256")
	for i in "${!DL_PIDS[@]}"; do
		wait "${DL_PIDS[i]}" || true
		f=${DL_FILES[i]}
		got=$(sha256sum "$f" 2>/dev/null | awk '{print $1}')
		if [[ $got == "$want" ]]; then
			good=$((good + 1))
		else
			bad+="$(basename "$f"):$(stat -c %s "$f" 2>/dev/null || echo 0)B "
		fi
	done
	if [[ -z $bad ]]; then
		pass "$name" "$good downloads of $LAB_BIG_BYTES bytes intact"
	else
		fail "$name" "$good intact, broken: $bad"
	fi
}

gw_packets_total() {
	cl_ctl "$1" -j show | jq '[.vips[].packets] | add'
}

# Wait until every VIP's route has n next hops; prints the slowest time.
wait_all_hops() {
	local n=$1 vip ms max=0
	for vip in "${VIPS[@]}"; do
		ms=$(cl_wait_hops "$vip" "$n" "$CONVERGE_LIMIT") || return 1
		((ms > max)) && max=$ms
	done
	echo "$max"
}

# ---- node drain --------------------------------------------------------------------------

check_drain() {
	local ms t0 p0 p1 ok bad json
	start_downloads drain 1 2 3
	sleep 1.5
	t0=$(now)
	cl_ctl gw1 node drain >/dev/null
	if ! wait_all_hops 2 >/dev/null; then
		fail "${CL_T}_drain_withdraws" "routes still via $(cl_route_hops "$CL_DSR4") ${CONVERGE_LIMIT} s after node drain"
		return 1
	fi
	ms=$(ms_between "$t0" "$(now)")
	note "drain: router dropped gw1 from all ${#VIPS[@]} VIP routes ${ms} ms after node drain"
	json=$(cl_ctl gw1 -j show)
	if [[ $(jq -r '.node.draining' <<<"$json") == true && $(jq -r '.node.announced | length' <<<"$json") == 0 ]] &&
		! grep -q "$(cl_gw4 1)" <<<"$(cl_route_hops "$CL_DSR4")"; then
		pass "${CL_T}_drain_withdraws" "gw1 draining, announces nothing; router converged in ${ms} ms"
	else
		fail "${CL_T}_drain_withdraws" "show: $(jq -c .node <<<"$json"), route via $(cl_route_hops "$CL_DSR4")"
	fi
	p0=$(gw_packets_total gw1)
	eval "$(burst_every_vip 3)"
	p1=$(gw_packets_total gw1)
	if ((p1 == p0 && bad == 0)); then
		pass "${CL_T}_drain_no_new_connections" "$ok new connections answered by the others, 0 packets reached gw1"
	else
		fail "${CL_T}_drain_no_new_connections" "$ok ok, $bad failed, $((p1 - p0)) packets reached the drained gw1"
	fi
	check_downloads "${CL_T}_drain_downloads_finish"
	cl_ctl gw1 node enable >/dev/null
	if ms=$(wait_all_hops 3); then
		pass "${CL_T}_drain_enable_returns" "gw1 back in every VIP route after node enable"
	else
		fail "${CL_T}_drain_enable_returns" "route via $(cl_route_hops "$CL_DSR4") after node enable"
	fi
}

# ---- a VIP's backends fail on one node only ---------------------------------------------

# gw3's own health probes are dropped (its output chain; XDP-forwarded
# traffic never passes there), so on gw3 alone every backend goes down.
probes_block() {
	lab_in gw3 nft -f - <<EON
table inet xe2e_probe {
	chain out {
		type filter hook output priority 0;
		ip daddr 198.18.200.0/24 tcp dport $PORT drop
		ip6 daddr fd00:200::/64 tcp dport $PORT drop
	}
}
EON
}

check_one_node_withdraws() {
	local ms hops a1 a3
	probes_block
	if ! ms=$(wait_all_hops 2); then
		fail "${CL_T}_backends_down_one_node" "routes via $(cl_route_hops "$CL_DSR4") after gw3 lost its backends"
		lab_in gw3 nft delete table inet xe2e_probe
		return 1
	fi
	hops=$(cl_route_hops "$CL_DSR4")
	a1=$(cl_ctl gw1 -j show | jq '.node.announced | length')
	a3=$(cl_ctl gw3 -j show | jq '.node.announced | length')
	if [[ $hops == "$(cl_gw4 1) $(cl_gw4 2)" && $a1 == "${#VIPS[@]}" && $a3 == 0 ]]; then
		pass "${CL_T}_backends_down_one_node" "gw3 withdrew its VIPs, gw1 and gw2 still announce (route via $hops)"
	else
		fail "${CL_T}_backends_down_one_node" "route via '$hops', gw1 announces $a1, gw3 announces $a3"
	fi
	lab_in gw3 nft delete table inet xe2e_probe
	if ms=$(wait_all_hops 3); then
		pass "${CL_T}_backends_back_one_node" "gw3 announces again ${ms} ms after its probes pass again"
	else
		fail "${CL_T}_backends_back_one_node" "route via $(cl_route_hops "$CL_DSR4") after gw3's backends returned"
	fi
}

# ---- the routes follow the datapath, not the daemon -------------------------------------

table_routes() {
	{
		lab_in "$1" ip -4 route show table "$CL_ROUTE_TABLE" proto "$CL_ROUTE_PROTO"
		lab_in "$1" ip -6 route show table "$CL_ROUTE_TABLE" proto "$CL_ROUTE_PROTO"
	} 2>/dev/null | wc -l
}

# kill -9 and restart of gw1's xlbd: its routes stay in the kernel (the
# datapath keeps forwarding), the restarted daemon reconciles without
# withdrawing anything, and the router never loses gw1.
check_restart_keeps_routes() {
	local pid before during after hops t0
	before=$(table_routes gw1)
	pid=$(cat "$E2E_DIR/gw1.xlbd.pid")
	t0=$(now)
	kill -KILL "$pid" 2>/dev/null || true
	{ wait "$pid"; } 2>/dev/null || true
	sleep 1
	during=$(table_routes gw1)
	hops=$(cl_hop_count "$CL_DSR4")
	if ! cl_xlbd_start gw1; then
		fail "${CL_T}_restart_keeps_routes" "xlbd on gw1 did not start again"
		return 1
	fi
	sleep 1.5
	after=$(table_routes gw1)
	if ((before == ${#VIPS[@]} && during == before && after == before && hops == 3)) &&
		! awk -v t="$t0" '$1 > t' "$E2E_DIR/gw1.log" | grep -q withdrawn; then
		pass "${CL_T}_restart_keeps_routes" "$before routes kept through kill -9 and restart, router kept 3 next hops"
	else
		fail "${CL_T}_restart_keeps_routes" "routes before $before, while down $during, after $after; router next hops $hops"
	fi
}

# xlbd --detach takes the routes with the datapath; the router follows.
check_detach_withdraws() {
	local role=$1 pid left n
	n=$(cl_hop_count "$CL_DSR4")
	pid=$(cat "$E2E_DIR/$role.xlbd.pid")
	kill -TERM "$pid" 2>/dev/null || true
	{ wait "$pid"; } 2>/dev/null || true
	cl_xlbd_detach "$role" >/dev/null 2>&1 || true
	left=$(table_routes "$role")
	if ((left == 0)) && cl_wait_hops "$CL_DSR4" $((n - 1)) "$CONVERGE_LIMIT" >/dev/null; then
		pass "${CL_T}_detach_withdraws" "xlbd --detach on $role removed its routes; the router dropped it"
	else
		fail "${CL_T}_detach_withdraws" "$left routes left on $role, router via $(cl_route_hops "$CL_DSR4")"
	fi
}

# ---- a gateway dies under load ---------------------------------------------------------

# The live gateway holding most flows: the test wants connections to move.
busiest_gateway() {
	local i f best= most=-1
	for i in $(cl_gw_ids); do
		f=$(gw_flows "gw$i" 2>/dev/null) || continue
		[[ -n $f ]] || continue
		if ((f > most)); then
			most=$f
			best=$i
		fi
	done
	echo "$best"
}

# A gateway still announcing (after check_kill).
survivor() {
	local i
	for i in $(cl_gw_ids); do
		[[ $i != "$VICTIM" ]] && echo "gw$i" && return
	done
}

# As a power loss looks to the router: the link goes first, so nothing (no
# BGP session close from a dying BIRD) tells it; only BFD notices.
kill_gateway() {
	local role=$1 pid
	lab_in "$role" ip link set lan down
	pid=$(cat "$E2E_DIR/$role.xlbd.pid")
	kill -KILL "$pid" 2>/dev/null || true
	# Reaped here, so the shell does not report the kill as an error.
	{ wait "$pid"; } 2>/dev/null || true
	cl_routing_kill "$role"
}

check_kill() {
	local victim t0 ms stream=() vip ok=0 bad=0 flows
	start_downloads kill 4 5 6
	for vip in "${VIPS[@]}"; do
		burst "$(url_of "$vip")" 60 "$(client_addr "$vip" 7)" --rate 10/s >"$E2E_DIR/stream-$(vip_tag "$vip")" &
		stream+=($!)
		E2E_BG_PIDS+=($!)
	done
	sleep 2
	victim=$(busiest_gateway)
	VICTIM=$victim
	flows=$(gw_flows "gw$victim")
	note "kill: gw$victim holds $flows flows"
	t0=$(now)
	kill_gateway "gw$victim"
	if ! wait_all_hops 2 >/dev/null; then
		fail "${CL_T}_kill_converges" "routes via $(cl_route_hops "$CL_DSR4") ${CONVERGE_LIMIT} s after gw$victim died"
		return 1
	fi
	ms=$(ms_between "$t0" "$(now)")
	pass "${CL_T}_kill_converges" "router dropped gw$victim from all ${#VIPS[@]} VIP routes ${ms} ms after it died (BFD 3 x 100 ms)"
	note "convergence after a gateway died: ${ms} ms"
	wait "${stream[@]}" || true
	for vip in "${VIPS[@]}"; do
		eval "$(tally <"$E2E_DIR/stream-$(vip_tag "$vip")")"
		note "kill: stream of new connections to $(vip_tag "$vip") across the failure: ok=$ok failed=$bad"
	done
	eval "$(burst_every_vip 5)"
	check "${CL_T}_kill_zero_failures_after" "$ok new connections ok, $bad failed after convergence" \
		test "$bad" -eq 0 -a "$ok" -gt 0
	check_downloads "${CL_T}_kill_downloads_intact"
}

main() {
	local vip
	if [[ $ROUTING != bird && $ROUTING != frr ]]; then
		echo "FAIL e2e/cluster: ROUTING=$ROUTING is not a routing daemon the lab runs (bird or frr)"
		exit 1
	fi
	e2e_init "$CL_T"
	trap cluster_cleanup EXIT
	e2e_require_binaries
	if [[ $ROUTING == bird ]] && ! command -v bird >/dev/null; then
		fail "$CL_T" "bird is not installed (run make deps: tools/deps.sh installs bird2)"
		exit 1
	fi
	if [[ $ROUTING == frr ]] && ! { [[ -x /usr/lib/frr/bgpd && -x /usr/lib/frr/bfdd ]] && command -v vtysh >/dev/null; }; then
		fail "$CL_T" "FRR is not installed (run make deps: tools/deps.sh installs frr)"
		exit 1
	fi
	if ! lab_up_all >"$E2E_DIR/lab.log" 2>&1; then
		fail "$CL_T/lab" "lab setup failed: $(tail -3 "$E2E_DIR/lab.log" | tr '\n' ' ')"
		exit 1
	fi
	configure || exit 1
	check_digests
	wait_all_announced || exit 1
	for vip in "${VIPS[@]}"; do check_spread "$vip"; done
	check_drain
	check_one_node_withdraws
	check_restart_keeps_routes
	check_kill
	check_detach_withdraws "$(survivor)"
	e2e_finish
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi
