#!/usr/bin/env bash
# Faults xlbd must survive, with real traffic through the lab:
#   - a backend that black-holes silently (nft drops everything it
#     receives: no RST, no ICMP) is marked down within
#     interval x fall + timeout, and new connections avoid it;
#   - a flapping backend is damped: its second down within the flap window
#     makes it need rise x 2 successful probes to come back;
#   - the gateway's client-side interface deleted and created again while
#     xlbd runs: xlbd says it is gone, attaches again when it is back, and
#     traffic flows through the VIP again;
#   - a second xlbd on the same pins (another socket) or the same socket
#     refuses with a message naming the first, which keeps serving.
set -euo pipefail
source "$(dirname "$0")/common.bash"

INTERVAL_MS=500
TIMEOUT_MS=500
FALL=2
RISE=2
DOWN_BOUND_MS=$((INTERVAL_MS * FALL + TIMEOUT_MS))
# What the measurement itself adds: the log line's trip through the pipe
# that stamps it, and the probe timer's wakeup (the rule is the bound above).
MEASURE_SLACK_MS=150
FLAP_INTERVAL_MS=200
FLAP_RISE=2
BURST=100

# b$1 drops everything it receives (no RST, no ICMP), or not.
blackhole_on() {
	lab_in "b$1" nft -f - <<-'NFT'
		table inet xlb_fault {
			chain in {
				type filter hook input priority -300; policy drop;
			}
		}
	NFT
}

blackhole_off() {
	lab_in "b$1" nft delete table inet xlb_fault 2>/dev/null || true
}

# The time xlbd logged text after since, or a FAIL and return 1.
logged() {
	local name=$1 text=$2 since=$3 limit=$4 t
	if ! t=$(wait_log "$text" "$since" "$limit"); then
		fail "$name" "xlbd logged no '$text' within ${limit}s: $(tail -3 "$E2E_LOG" | tr '\n' ' ')"
		return 1
	fi
	echo "$t"
}

log_line() {
	awk -v since="$2" -v text="$1" '$1 > since && index($0, text) { $1 = ""; print; exit }' "$E2E_LOG"
}

test_blackhole() {
	local vip be t0 t_down ms ok fail b1 b2 b3
	vip=$(vip_of 4 tcp)
	be="$(backend_of 4 2):$LAB_HTTP_PORT of $vip"
	# Timed from the moment nft has committed the rule (it returns after the
	# commit): the backend is silent from then on.
	blackhole_on 2
	t0=$(now)
	t_down=$(logged blackhole_detect "backend $be down" "$t0" 10) || return 0
	ms=$(ms_between "$t0" "$t_down")
	note "blackhole: $(log_line "backend $be down" "$t0")"
	check blackhole_detect "b2 down ${ms} ms after it went silent, bound ${DOWN_BOUND_MS} ms (+${MEASURE_SLACK_MS} ms measuring)" \
		test "$ms" -le "$((DOWN_BOUND_MS + MEASURE_SLACK_MS))"
	eval "$(http_burst 4 "$BURST" | http_tally)"
	check blackhole_avoided "$ok/$BURST ok after detection, b1=$b1 b2=$b2 b3=$b3" \
		test "$ok" -eq "$BURST" -a "$b2" -eq 0
	t0=$(now)
	blackhole_off 2
	logged blackhole_return "backend $be up" "$t0" 10 >/dev/null || return 0
	pass blackhole_return "b2 up again once it answers"
}

# One down and up of b3; prints the up's log line.
flap_once() {
	local be=$1 t0
	t0=$(now)
	blackhole_on 3
	logged flap "backend $be down" "$t0" 10 >/dev/null || return 1
	t0=$(now)
	blackhole_off 3
	logged flap "backend $be up" "$t0" 20 >/dev/null || return 1
	log_line "backend $be up" "$t0"
}

test_flapping() {
	local vip be first second t0 down
	vip=$(vip_of 4 tcp)
	be="$(backend_of 4 3):$LAB_HTTP_PORT of $vip"
	ctl_ok check set "$vip" tcp interval "${FLAP_INTERVAL_MS}ms" timeout "${FLAP_INTERVAL_MS}ms" \
		fall 1 rise "$FLAP_RISE" || return 0
	t0=$(now)
	first=$(flap_once "$be") || return 0
	second=$(flap_once "$be") || return 0
	down=$(awk -v since="$t0" -v text="backend $be down" \
		'$1 > since && index($0, text) { $1 = ""; l = $0 } END { print l }' "$E2E_LOG")
	note "flap: first up:$first"
	note "flap: second down:$down"
	note "flap: second up:$second"
	check flap_first_normal "first return after $FLAP_RISE probes" \
		grep -qF "($FLAP_RISE successful probes" <<<"$first"
	check flap_second_damped "second down says so, second return after $((FLAP_RISE * 2)) probes" \
		grep -qF "needs $((FLAP_RISE * 2)) successful probes to come back" <<<"$down"
	check flap_second_return "second return after $((FLAP_RISE * 2)) probes" \
		grep -qF "($((FLAP_RISE * 2)) successful probes" <<<"$second"
}

test_iface_loss() {
	local t0 ok fail b1 b2 b3
	t0=$(now)
	lab_in gw ip link del to-client
	logged iface_gone "interface to-client (index" "$t0" 5 >/dev/null || return 0
	note "iface: $(log_line "interface to-client (index" "$t0")"
	pass iface_gone "xlbd says to-client is gone"
	t0=$(now)
	lab_wire_client
	logged iface_back "interface to-client is back" "$t0" 5 >/dev/null || return 0
	note "iface: $(log_line "interface to-client is back" "$t0")"
	lab_check_backends
	eval "$(http_burst 4 "$BURST" | http_tally)"
	check iface_back "attached again; $ok/$BURST requests through the VIP ok (b1=$b1 b2=$b2 b3=$b3)" \
		test "$ok" -eq "$BURST"
}

# A second xlbd with the given socket; prints its exit status and log.
second_xlbd() {
	local sock=$1 rc=0
	timeout 20 nsenter --net="/run/netns/$(lab_ns gw)" -- "$XLBD" -i "$LAB_GW_IFACES" \
		--xdp-mode native --socket "$sock" --pin-root "$E2E_PIN" \
		--state "$E2E_DIR/state2" >"$E2E_DIR/second.log" 2>&1 </dev/null || rc=$?
	echo "$rc $(tr '\n' ' ' <"$E2E_DIR/second.log")"
}

test_second_xlbd() {
	local out ok fail b1 b2 b3
	out=$(second_xlbd "$E2E_DIR/other.sock")
	note "second xlbd, same pins: $out"
	check second_same_pins "exit status ${out%% *}, says who holds the pins" \
		grep -q "^1 .*another xlbd is running on the datapath pinned at $E2E_PIN" <<<"$out"
	out=$(second_xlbd "$E2E_SOCK")
	note "second xlbd, same socket: $out"
	check second_same_socket "exit status ${out%% *}, says who holds the socket" \
		grep -q "^1 .*another xlbd is running on $E2E_SOCK" <<<"$out"
	eval "$(http_burst 4 "$BURST" | http_tally)"
	check second_first_serves "first xlbd still answers and forwards: $ok/$BURST ok" \
		test "$ok" -eq "$BURST" -a -n "$(ctl vip list 2>/dev/null)"
}

main() {
	e2e_init faults
	e2e_require_binaries
	e2e_lab_up
	xlbd_start_or_die
	lab_mode nat
	vip_setup 4 tcp nat maglev || exit 1
	ctl_ok check set "$(vip_of 4 tcp)" tcp interval "${INTERVAL_MS}ms" timeout "${TIMEOUT_MS}ms" \
		fall "$FALL" rise "$RISE" || exit 1
	smoke_ok setup 4 || exit 1
	test_blackhole
	test_flapping
	test_second_xlbd
	test_iface_loss
	e2e_finish
}

main "$@"
