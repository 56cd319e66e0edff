#!/usr/bin/env bash
# How each scheduler spreads real connections (curl, one new TCP connection
# per request, so one new flow each), in nat and dsr mode, IPv4 and IPv6:
#   maglev   within 10% of even over 3000 connections
#   wrr      weights 1:2:3 within 10% over 1200 connections
#   rr       strictly in turn
#   srchash  one client address -> one backend; addresses spread; removing a
#            backend moves only the clients that were on it
set -euo pipefail
source "$(dirname "$0")/common.bash"

MAGLEV_CONNS=3000 # sd of a backend's count ~26: 10% (100) is ~4 sd
WRR_CONNS=1200
RR_CONNS=60
SRC_CLIENTS=20
SRC_REQUESTS=10

test_maglev() {
	local mode=$1 fam=$2 name="maglev_${1}_v${2}_distribution" ok fail b1 b2 b3 even
	lab_mode "$mode"
	vip_setup "$fam" tcp "$mode" maglev || return 0
	smoke_ok "$name" "$fam" || { vip_teardown "$fam" tcp; return 0; }
	eval "$(http_burst "$fam" "$MAGLEV_CONNS" | http_tally)"
	even=$((MAGLEV_CONNS / 3))
	note "$name: conns=$MAGLEV_CONNS ok=$ok fail=$fail b1=$b1 b2=$b2 b3=$b3 (even=$even)"
	if ((fail == 0)) && within_pct "$b1" "$even" 10 && within_pct "$b2" "$even" 10 && within_pct "$b3" "$even" 10; then
		pass "$name" "b1=$b1 b2=$b2 b3=$b3 of $MAGLEV_CONNS"
	else
		fail "$name" "b1=$b1 b2=$b2 b3=$b3 failed=$fail of $MAGLEV_CONNS (each must be $even +-10%)"
	fi
	vip_teardown "$fam" tcp
}

test_wrr() {
	local mode=$1 fam=$2 name="wrr_${1}_v${2}_weights" vip ok fail b1 b2 b3 unit
	lab_mode "$mode"
	vip=$(vip_of "$fam" tcp)
	ctl_ok vip add "$vip" sched wrr mode "$mode" || return 0
	ctl_ok backend add "$vip" "$(backend_of "$fam" 1)" weight 1 || return 0
	ctl_ok backend add "$vip" "$(backend_of "$fam" 2)" weight 2 || return 0
	ctl_ok backend add "$vip" "$(backend_of "$fam" 3)" weight 3 || return 0
	smoke_ok "$name" "$fam" || { vip_teardown "$fam" tcp; return 0; }
	eval "$(http_burst "$fam" "$WRR_CONNS" | http_tally)"
	unit=$((WRR_CONNS / 6))
	note "$name: conns=$WRR_CONNS ok=$ok fail=$fail b1=$b1 b2=$b2 b3=$b3 (expected $unit/$((2 * unit))/$((3 * unit)))"
	if ((fail == 0)) && within_pct "$b1" "$unit" 10 && within_pct "$b2" $((2 * unit)) 10 && within_pct "$b3" $((3 * unit)) 10; then
		pass "$name" "b1=$b1 b2=$b2 b3=$b3 for weights 1:2:3"
	else
		fail "$name" "b1=$b1 b2=$b2 b3=$b3 failed=$fail, expected $unit:$((2 * unit)):$((3 * unit)) +-10%"
	fi
	vip_teardown "$fam" tcp
}

# In turn: every request goes to a different backend than the one before,
# and the same one as three requests earlier.
in_turn() {
	local -a seq=("$@")
	local i
	((${#seq[@]} >= 3)) || return 1
	[[ ${seq[0]} != "${seq[1]}" && ${seq[1]} != "${seq[2]}" && ${seq[0]} != "${seq[2]}" ]] || return 1
	for ((i = 3; i < ${#seq[@]}; i++)); do
		[[ ${seq[i]} == "${seq[i - 3]}" ]] || return 1
	done
}

test_rr() {
	local mode=$1 fam=$2 name="rr_${1}_v${2}_in_turn" seq
	lab_mode "$mode"
	vip_setup "$fam" tcp "$mode" rr || return 0
	mapfile -t seq < <(http_burst "$fam" "$RR_CONNS" | awk '{print ($1 == "200" ? $2 : "fail")}')
	note "$name: ${seq[*]:0:12} ..."
	if ((${#seq[@]} == RR_CONNS)) && in_turn "${seq[@]}"; then
		pass "$name" "$RR_CONNS connections: ${seq[*]:0:6} ..."
	else
		fail "$name" "not in turn: ${seq[*]}"
	fi
	vip_teardown "$fam" tcp
}

client_addr() {
	if [[ $1 == 6 ]]; then echo "fd00::$2"; else echo "198.18.0.$2"; fi
}

# For each extra client address: "ADDR BACKEND" when all its requests went
# to one backend, "ADDR MIXED:..." otherwise.
srchash_map() {
	local fam=$1 requests=$2 k addr backends
	for k in $(seq 3 $((SRC_CLIENTS + 2))); do
		addr=$(client_addr "$fam" "$k")
		backends=$(http_burst "$fam" "$requests" --interface "$addr" |
			awk '{print ($1 == "200" ? $2 : "fail")}' | sort -u | tr '\n' ',')
		backends=${backends%,}
		if [[ $backends == b[0-9] ]]; then echo "$addr $backends"; else echo "$addr MIXED:$backends"; fi
	done
}

test_srchash() {
	local mode=$1 fam=$2 tag="srchash_${1}_v${2}" vip before after mixed spread moved stayed_bad counts
	lab_mode "$mode"
	vip_setup "$fam" tcp "$mode" srchash || return 0
	vip=$(vip_of "$fam" tcp)
	before=$(srchash_map "$fam" "$SRC_REQUESTS")
	mixed=$(grep -c MIXED <<<"$before" || true)
	counts=$(awk '{n[$2]++} END {for (b in n) printf "%s=%d ", b, n[b]}' <<<"$before")
	spread=$(awk '$2 ~ /^b[0-9]$/ {print $2}' <<<"$before" | sort -u | wc -l)
	note "$tag: $SRC_CLIENTS clients x $SRC_REQUESTS requests: clients per backend: $counts"
	check "${tag}_sticky" "$SRC_CLIENTS clients x $SRC_REQUESTS requests, $mixed clients on more than one backend" test "$mixed" -eq 0
	check "${tag}_spread" "clients per backend: ${counts% }" test "$spread" -ge 2
	# Removing b3: only b3's clients may move (Maglev's minimal disruption).
	ctl_ok backend del "$vip" "$(backend_of "$fam" 3)" || return 0
	after=$(srchash_map "$fam" 2)
	moved=$(join <(sort <<<"$before") <(sort <<<"$after") | awk '$2 != $3' | wc -l)
	stayed_bad=$(join <(sort <<<"$before") <(sort <<<"$after") | awk '$2 != "b3" && $2 != $3' | wc -l)
	note "$tag: after removing b3: $moved clients moved, $stayed_bad of them were not on b3"
	check "${tag}_remove_moves_only_its_clients" "$moved moved, all from b3" test "$stayed_bad" -eq 0
	vip_teardown "$fam" tcp
}

main() {
	e2e_init dist
	e2e_require_binaries
	e2e_lab_up
	lab_client_addrs "$SRC_CLIENTS"
	xlbd_start_or_die
	test_maglev nat 4
	test_maglev nat 6
	test_maglev dsr 4
	test_maglev dsr 6
	test_wrr nat 4
	test_wrr dsr 6
	test_rr nat 6
	test_rr dsr 4
	test_srchash nat 4
	test_srchash dsr 6
	e2e_finish
}

main "$@"
