#!/usr/bin/env bash
# The datapath end to end: real TCP (curl against nginx) and real UDP (socat)
# through the VIP, in nat and dsr mode, over IPv4 and IPv6, configured with
# xlbctl. Every request must succeed and every backend must get its share.
set -euo pipefail
source "$(dirname "$0")/common.bash"

REQUESTS=120
# maglev spreads flows by hash: with 120 flows over 3 backends each expects
# 40 (sd about 5); 15% (18) is more than 4 sd below, so a healthy datapath
# never trips it, while a backend that gets nothing or a few strays does.
MIN_SHARE_PCT=15

check_spread() {
	local name=$1 tally=$2 ok fail b1 b2 b3
	eval "$tally"
	note "$name: ok=$ok fail=$fail b1=$b1 b2=$b2 b3=$b3"
	if ((ok == REQUESTS && fail == 0)) && every_backend_at_least "$REQUESTS" "$MIN_SHARE_PCT" "$b1" "$b2" "$b3"; then
		pass "$name" "$ok/$REQUESTS ok, b1=$b1 b2=$b2 b3=$b3"
	else
		fail "$name" "$ok/$REQUESTS ok, $fail failed, b1=$b1 b2=$b2 b3=$b3 (each needs >= $MIN_SHARE_PCT%)"
	fi
}

# nat: the backend sees the real client address (only the destination is
# rewritten), and the client sees only the VIP (curl connected to it).
check_client_address_kept() {
	local name=$1 fam=$2 since=$3 want seen
	if [[ $fam == 6 ]]; then want=$LAB_CLIENT6; else want=$LAB_CLIENT4; fi
	seen=$(awk -v t="$since" '$1 > t && $7 ~ /^\/\?/ {print $3}' \
		"$(backend_log 1)" "$(backend_log 2)" "$(backend_log 3)" | sort -u | tr '\n' ' ')
	check "$name" "backends saw client ${seen:-nothing}" test "$seen" == "$want "
}

run_mode_family() {
	local mode=$1 fam=$2 tag="datapath_${1}_v${2}" t0
	lab_mode "$mode"
	t0=$(now)
	vip_setup "$fam" tcp "$mode" maglev || return 0
	vip_setup "$fam" udp "$mode" maglev || return 0
	smoke_ok "${tag}_tcp" "$fam" || { vip_teardown "$fam" tcp; vip_teardown "$fam" udp; return 0; }
	check_spread "${tag}_tcp" "$(http_burst "$fam" "$REQUESTS" | http_tally)"
	check_spread "${tag}_udp" "$(udp_burst "$fam" "$REQUESTS" | udp_tally)"
	if [[ $mode == nat ]]; then
		check_client_address_kept "${tag}_client_address" "$fam" "$t0"
	fi
	vip_teardown "$fam" tcp
	vip_teardown "$fam" udp
}

# The gateway's kernel forgets a neighbour (ARP/NDP entry) that only XDP
# uses: XDP forwarding does not confirm it, so after a minute or two without
# kernel traffic to a backend the entry is gone. A balancer must still
# deliver the next connection (the kernel resolves and forwards it, the way
# it does for any router). Flushing the entries makes that moment happen now.
run_no_neighbour() {
	local mode=$1 fam=$2 name="datapath_${1}_v${2}_no_neighbour" i ok fail b1 b2 b3 first
	lab_mode "$mode"
	vip_setup "$fam" tcp "$mode" maglev || return 0
	for i in $(lab_backend_ids); do
		lab_in gw ip neigh flush dev "to-b$i"
	done
	# A connect timeout of 3 s leaves room for a SYN retransmitted while the
	# neighbour is being resolved.
	eval "$(http_burst "$fam" 10 --connect-timeout 3 | http_tally)"
	first="$ok/10"
	note "$name: right after flushing the gateway's neighbours: ok=$ok fail=$fail b1=$b1 b2=$b2 b3=$b3"
	if [[ $mode == dsr ]]; then
		# In dsr the kernel cannot resolve a neighbour from a passed VIP
		# packet; xlbd notices pass_no_neigh and recreates its managed
		# entries within about a second. New connections in that second
		# may need a SYN retransmit or fail: what must hold is recovery.
		sleep 1
		eval "$(http_burst "$fam" 10 --connect-timeout 3 | http_tally)"
		note "$name: a second later: ok=$ok fail=$fail b1=$b1 b2=$b2 b3=$b3"
	fi
	check "$name" "$ok/10 ok after the gateway's neighbour entries were flushed (first burst $first), b1=$b1 b2=$b2 b3=$b3" \
		test "$ok" -eq 10
	vip_teardown "$fam" tcp
}

main() {
	local mode fam
	e2e_init datapath
	e2e_require_binaries
	e2e_lab_up
	xlbd_start_or_die
	for mode in nat dsr; do
		for fam in 4 6; do
			run_mode_family "$mode" "$fam"
		done
	done
	run_no_neighbour nat 4
	run_no_neighbour dsr 4
	run_no_neighbour dsr 6
	e2e_finish
}

main "$@"
