#!/usr/bin/env bash
# Floods cannot push out established connections. 1,000 nat (then dsr)
# connections are opened and proven both ways, then the project's generator
# floods the VIP with fresh tuples at full rate (SYNs, then bare ACKs, then
# UDP), each phase bounded in packets and time. Meanwhile new connections
# must succeed; afterwards each held connection must first receive its
# server's greeting (the server speaks first after the flood) and then
# answer a PING: 0 broken. The unconfirmed table is kept small so the flood
# overflows it many times over.
set -euo pipefail
source "$(dirname "$0")/common.bash"

HOLD_PORT=7071
HOLD_CONNS=1000
FLOOD_PPS_NOTE=
LIB=$(dirname "$0")/lib
GEN=$E2E_REPO/build/tools/xlb-gen

hold_vip() { echo "tcp/$LAB_VIP4:$HOLD_PORT"; }

servers_start() {
	local mode=$1 i
	for i in $(lab_backend_ids); do
		(exec nsenter --net="/run/netns/$(lab_ns "b$i")" -- perl "$LIB/hold_server.pl" "b$i" \
			"$HOLD_PORT" "$E2E_DIR/hello-$mode") </dev/null >"$E2E_DIR/server-b$i.log" 2>&1 &
		E2E_BG_PIDS+=($!)
	done
	for i in $(lab_backend_ids); do
		lab_wait_tcp_listen "b$i" "$HOLD_PORT" || return 1
	done
}

servers_stop() {
	local i
	for i in $(lab_backend_ids); do
		lab_in "b$i" pkill -f hold_server.pl 2>/dev/null || true
	done
}

# The generator, from the client's namespace towards the gateway: fresh
# tuples from addresses of the client's subnet.
flood() {
	local what=$1 proto=$2 flags=$3 dport=$4 mac
	mac=$(lab_in gw ip -br link show to-client | awk '{print $3}')
	"$GEN" --netns "$(lab_ns client)" --dev to-gw --dst-mac "$mac" --src 198.18.0.100 \
		--dst "$LAB_VIP4" --proto "$proto" --tcp-flags "$flags" --sport 1024 --dport "$dport" \
		--flows 4000000 --count 3000000 --duration 3 --quiet 2>&1 | tail -1 |
		sed "s/^/$what: /"
}

held_line() {
	local file=$1 word=$2 n
	for n in $(seq 600); do
		grep -q "^$word " "$file" 2>/dev/null && { grep "^$word " "$file"; return 0; }
		sleep 0.1
	done
	return 1
}

run_mode() {
	local mode=$1 tag="flood_$1" out=$E2E_DIR/client-$1.out line ok broken during fl
	lab_mode "$mode"
	vip_setup 4 tcp "$mode" maglev || return 0
	vip_setup 4 udp "$mode" maglev || return 0
	ctl_ok vip add "$(hold_vip)" mode "$mode" || return 0
	for i in $(lab_backend_ids); do
		ctl_ok backend add "$(hold_vip)" "$(lab_backend4 "$i"):$HOLD_PORT" || return 0
	done
	servers_start "$mode" || { fail "$tag" "hold servers did not start"; return 0; }
	client_bg "$out" bash -c "ulimit -n 4096; exec perl '$LIB/hold_client.pl' $LAB_VIP4 $HOLD_PORT $HOLD_CONNS '$E2E_DIR/go-$mode' 30"
	line=$(held_line "$out" open) || { fail "${tag}_open" "client never opened: $(tail -2 "$out")"; return 0; }
	read -r _ ok broken <<<"$line"
	check "${tag}_open" "$ok of $HOLD_CONNS connections open and answering" test "$ok" -eq "$HOLD_CONNS"

	# New connections during the SYN flood: a burst of requests beside it.
	http_burst 4 20 --connect-timeout 3 >"$E2E_DIR/during-$mode" &
	during=$!
	fl=$(flood syn tcp syn "$LAB_HTTP_PORT")
	wait "$during" || true
	note "$fl"
	FLOOD_PPS_NOTE+="$mode $fl; "
	eval "$(http_tally <"$E2E_DIR/during-$mode")"
	check "${tag}_new_connections_during_flood" "$ok/20 requests made during the SYN flood ok" test "$ok" -eq 20
	note "$(flood ack tcp ack "$LAB_HTTP_PORT")"
	note "$(flood udp udp ack "$LAB_UDP_PORT")"

	touch "$E2E_DIR/hello-$mode" "$E2E_DIR/go-$mode"
	line=$(held_line "$out" after) || { fail "${tag}_held" "client never finished: $(tail -2 "$out")"; return 0; }
	read -r _ ok broken spread <<<"$line"
	check "${tag}_established_survive" "$ok held connections greeted by their server and answering after the flood, $broken broken ($spread)" \
		test "$ok" -eq "$HOLD_CONNS" -a "$broken" -eq 0
	servers_stop
	ctl vip del "$(hold_vip)" >/dev/null 2>&1 || true
	vip_teardown 4 tcp
	vip_teardown 4 udp
}

check_observed() {
	local j unconfirmed_cap
	j=$(ctl -j stats)
	unconfirmed_cap=$(jq -r '.flows.unconfirmed.capacity' <<<"$j")
	check flood_stats_show_tables "stats: $(jq -c '.flows' <<<"$j")" \
		test "$unconfirmed_cap" -eq 4096
	check flood_logged "xlbd logged the flood's start and end" \
		grep -q "flood started" "$E2E_LOG"
	# The sweep's passes (one a second at this size) move the SYN marks'
	# generation on (1..15, round and round); four cells (one word) per
	# confirmed entry.
	local gen0 gen1
	gen0=$(jq -r '.flows.mark_generation' <<<"$j")
	sleep 2.5
	gen1=$(ctl -j stats | jq -r '.flows.mark_generation')
	check flood_syn_marks_kept "syn marks: $(jq -c '.flows.syn_marks' <<<"$j"), generation $gen0, then $gen1 2.5 s later" \
		test "$gen0" -ge 1 -a "$gen1" -ge 1 -a "$gen0" -ne "$gen1" \
		-a "$(jq -r '.flows.syn_marks.capacity' <<<"$j")" -eq 262144
}

main() {
	e2e_init flood
	e2e_require_binaries
	[[ -x $GEN ]] || { fail flood "$GEN is not built (run make)"; exit 1; }
	e2e_lab_up
	xlbd_start_or_die --flow-entries 65536 --new-flow-entries 4096 --flood-rate 20000
	run_mode nat
	run_mode dsr
	sleep 6 # the flood's end is logged after 5 calm seconds
	check_observed
	check flood_ended_logged "xlbd logged the flood's end" grep -q "flood ended" "$E2E_LOG"
	note "flood rates: $FLOOD_PPS_NOTE"
	e2e_finish
}

main "$@"
