#!/usr/bin/env bash
# The datapath's limits are xlbd options (--max-vips, --max-backends,
# --nexthop-cache): started with small ones, xlbd refuses the VIP and the
# backend past them with an error naming the option, `xlbctl stats` shows
# them used against capacity, real nat traffic is balanced and counted
# (the counters' per-CPU block and the reply cache follow the sizes), and a
# restart asking for another size than the pinned maps is refused with the
# pinned size and the fix, while a restart without the options keeps them.
set -euo pipefail
source "$(dirname "$0")/common.bash"

VIPS=4
BACKENDS=6
NH_CACHE=256

# VIP i (0-based) of the four: the lab's TCP VIP first, then other ports.
extra_vip() { echo "tcp/$LAB_VIP4:$((9000 + $1))"; }

stats_field() {
	ctl -j stats | jq -r "$1"
}

fill_vips() {
	local i out
	vip_setup 4 tcp nat maglev || return 1
	for i in $(seq 1 $((VIPS - 1))); do
		ctl_ok vip add "$(extra_vip "$i")" || return 1
	done
	if out=$(ctl vip add "$(extra_vip "$VIPS")" 2>&1); then
		fail limits_vip_refused "VIP $((VIPS + 1)) was accepted with --max-vips $VIPS"
		return 0
	fi
	check limits_vip_refused "$out" grep -q -- "all $VIPS VIPs are in use (xlbd --max-vips)" <<<"$out"
	check limits_vip_refused_nothing_applied "VIP list after the refusal" \
		test "$(ctl -j show | jq '.vips | length')" -eq "$VIPS"
}

# The lab VIP has one backend per lab backend; the other VIPs take the rest.
fill_backends() {
	local used i=1 out
	used=$(stats_field '.capacity.backends.entries')
	while ((used < BACKENDS)); do
		ctl_ok backend add "$(extra_vip 1)" "$(lab_backend4 1):$((8000 + i))" || return 1
		used=$((used + 1)) i=$((i + 1))
	done
	if out=$(ctl backend add "$(extra_vip 2)" "$(lab_backend4 1):8999" 2>&1); then
		fail limits_backend_refused "backend $((BACKENDS + 1)) was accepted with --max-backends $BACKENDS"
		return 0
	fi
	check limits_backend_refused "$out" grep -q -- "all $BACKENDS are in use (xlbd --max-backends)" <<<"$out"
}

check_capacity() {
	local tag=$1 j
	j=$(ctl -j stats)
	check "${tag}_vips" "stats: $(jq -c '.capacity.vips' <<<"$j")" \
		test "$(jq '.capacity.vips.entries' <<<"$j")" -eq "$VIPS" -a \
		"$(jq '.capacity.vips.capacity' <<<"$j")" -eq "$VIPS"
	check "${tag}_backends" "stats: $(jq -c '.capacity.backends' <<<"$j")" \
		test "$(jq '.capacity.backends.entries' <<<"$j")" -eq "$BACKENDS" -a \
		"$(jq '.capacity.backends.capacity' <<<"$j")" -eq "$BACKENDS"
	check "${tag}_text" "$(ctl stats | grep -E '^  (vips|backends) ' | tr -s ' ' | tr '\n' ';')" \
		bash -c "ctl() { \"$XLBCTL\" -s \"$E2E_SOCK\" \"\$@\"; }; ctl stats | grep -Eq '^  vips +$VIPS / $VIPS '"
}

# nat: replies come back through the client next-hop cache of NH_CACHE slots.
check_traffic() {
	local tag=$1 before after ok fail b1 b2 b3
	before=$(stats_field "[.vips[] | select(.vip == \"$(vip_of 4 tcp)\") | .packets] | add")
	eval "$(http_burst 4 30 | http_tally)"
	check "${tag}_served" "$ok/30 requests through the nat VIP (backends $b1/$b2/$b3)" \
		test "$ok" -eq 30 -a "$b1" -gt 0 -a "$b2" -gt 0 -a "$b3" -gt 0
	after=$(stats_field "[.vips[] | select(.vip == \"$(vip_of 4 tcp)\") | .packets] | add")
	check "${tag}_counted" "VIP packets $before -> $after" test "$after" -ge $((before + 30 * 3))
}

check_restart() {
	local out
	xlbd_stop
	if xlbd_start --max-vips $((VIPS * 2)); then
		fail limits_restart_refused "xlbd started with --max-vips $((VIPS * 2)) over pins made for $VIPS"
		xlbd_stop
	else
		out=$(tail -3 "$E2E_LOG")
		check limits_restart_refused "$(grep -o 'the datapath pinned.*' <<<"$out" | head -1)" \
			grep -q -- "made for --max-vips $VIPS, and --max-vips $((VIPS * 2)) asks for another size.*restart without --max-vips to keep $VIPS.*xlbd --detach" <<<"$out"
	fi
	xlbd_start_or_die --nexthop-cache $NH_CACHE
	check_capacity limits_restart_keeps
	check_traffic limits_restart
}

check_bad_values() {
	local out
	out=$(timeout 20 nsenter --net="/run/netns/$(lab_ns gw)" -- "$XLBD" -i "$LAB_GW_IFACES" \
		--pin-root "$E2E_PIN-bad" --socket "$E2E_DIR/bad.sock" --state "$E2E_DIR/bad.state" \
		--nexthop-cache 1000 2>&1) && {
		fail limits_nexthop_cache_power_of_two "xlbd accepted --nexthop-cache 1000"
		return 0
	}
	check limits_nexthop_cache_power_of_two "$(tail -1 <<<"$out")" \
		grep -q -- "--nexthop-cache 1000: must be a power of two" <<<"$out"
	rm -rf "$E2E_PIN-bad"
}

main() {
	e2e_init limits
	e2e_require_binaries
	e2e_lab_up
	lab_mode nat
	check_bad_values
	xlbd_start_or_die --max-vips $VIPS --max-backends $BACKENDS --nexthop-cache $NH_CACHE
	fill_vips
	fill_backends
	check_capacity limits_stats
	check_traffic limits
	check "limits_nexthop_cache_stats" "stats: $(ctl -j stats | jq -c '.capacity.nexthop_cache')" \
		test "$(stats_field '.capacity.nexthop_cache')" -eq "$NH_CACHE"
	note "$(ctl stats | sed -n '/^Capacity/,/^$/p' | tr '\n' '|')"
	check_restart
	e2e_finish
}

main "$@"
