#!/usr/bin/env bash
# xlbctl explain predicts what real connections do. For each scheduler, 50+
# client ports (curl --local-port, one new TCP connection each, backends
# answer with their name):
#   maglev   the prediction for each CLIENT:PORT, asked before connecting,
#            is the backend that connection reaches (IPv4 and IPv6)
#   srchash  the prediction for each client address, asked without a port,
#            is the backend every port of that client reaches
#   rr, wrr  the prediction asked right before each connection (the next
#            turn) is the backend it reaches
# and afterwards explain reports each connection's flow-table entry, on the
# backend it reached.
set -euo pipefail
source "$(dirname "$0")/common.bash"

PORTS=50
SRC_CLIENTS=5

# b2 from "198.18.2.2:80" or "[fd00:2::2]:80"; "none" for anything else.
backend_name() {
	sed -E -e 's/^198\.18\.([0-9]+)\.2:[0-9]+$/b\1/' -e 's/^\[fd00:([0-9]+)::2\]:[0-9]+$/b\1/' \
		-e '/^b[0-9]+$/!s/.*/none/' <<<"$1"
}

# explain's answer as "SOURCE BACKEND_NAME" (source: flow, scheduler, none).
explain() {
	local out
	out=$(ctl -j explain "$1" "$2" 2>&1) || { echo "error $out"; return; }
	echo "$(jq -r .source <<<"$out") $(backend_name "$(jq -r '.backend // ""' <<<"$out")")"
}

client_ep() {
	if [[ $1 == 6 ]]; then echo "[$2]:$3"; else echo "$2:$3"; fi
}

# One connection per port from one curl process, from the client address
# given; prints "PORT BACKEND" per request in order (BACKEND "fail" when it
# failed). Every option sits in each request's block of the config: curl's
# `next` starts the following request with none of the previous options.
connect_ports() {
	local fam=$1 client=$2 first=$3 n=$4 url p
	url=$(vip_url "$fam")
	for ((p = first; p < first + n; p++)); do
		printf 'url = "%s?%d"\noutput = "/dev/null"\ngloboff\nlocal-port = %d\ninterface = "%s"\n' \
			"$url" "$p" "$p" "$client"
		printf 'header = "Connection: close"\nconnect-timeout = 1\nmax-time = 5\n'
		printf 'write-out = "%%{local_ip} %%{local_port} %%{http_code} %%header{x-backend}\\n"\n'
		((p == first + n - 1)) || echo next
	done | lab_in client curl -s -K - |
		awk -v c="$client" '{ print $2, ($1 == c && $3 == "200" ? $4 : "fail") }' || true
}

# Every port's connection reached its predicted backend. $1: name; stdin:
# "PORT PREDICTED REACHED" lines.
judge() {
	local name=$1 lines bad
	lines=$(cat)
	bad=$(awk '$2 != $3 || $3 == "fail"' <<<"$lines")
	if [[ -z $bad && $(wc -l <<<"$lines") -ge $PORTS ]]; then
		pass "$name" "$(wc -l <<<"$lines") ports, backends reached: $(awk '{n[$3]++} END {for (b in n) printf "%s=%d ", b, n[b]}' <<<"$lines")"
	else
		fail "$name" "$(wc -l <<<"$lines") ports; mismatches (port predicted reached): $(head -5 <<<"$bad" | tr '\n' ';')"
	fi
}

# After the connections: explain names each one's flow-table entry, on the
# backend the connection reached. stdin: "PORT REACHED" lines.
flows_reported() {
	local name=$1 vip=$2 fam=$3 client=$4 port reached got bad=()
	while read -r port reached; do
		got=$(explain "$vip" "$(client_ep "$fam" "$client" "$port")")
		[[ $got == "flow $reached" ]] || bad+=("$port:$got/$reached")
	done
	check "$name" "${bad[*]:-each flow entry on the backend its connection reached}" [ ${#bad[@]} -eq 0 ]
}

test_maglev() {
	local fam=$1 first=$2 name="explain_maglev_v$1" vip client p predicted reached
	vip=$(vip_of "$fam" tcp)
	client=$(if [[ $fam == 6 ]]; then echo "$LAB_CLIENT6"; else echo "$LAB_CLIENT4"; fi)
	vip_setup "$fam" tcp nat maglev || return 0
	predicted=$(for ((p = first; p < first + PORTS; p++)); do
		echo "$p $(explain "$vip" "$(client_ep "$fam" "$client" "$p")")"
	done)
	if grep -qv ' scheduler b[0-9]$' <<<"$predicted"; then
		fail "$name" "predictions: $(grep -v ' scheduler b[0-9]$' <<<"$predicted" | head -3 | tr '\n' ';')"
	fi
	reached=$(connect_ports "$fam" "$client" "$first" "$PORTS")
	join <(awk '{print $1, $3}' <<<"$predicted" | sort) <(sort <<<"$reached") | judge "$name"
	flows_reported "${name}_flow_entry" "$vip" "$fam" "$client" <<<"$reached"
	vip_teardown "$fam" tcp
}

# srchash: one prediction per client address, no port; each address then
# connects from PORTS / SRC_CLIENTS ports.
test_srchash() {
	local name=explain_srchash_v4 vip k addr first=43000 per=$((PORTS / SRC_CLIENTS)) any out
	local lines=() reached p b
	vip=$(vip_of 4 tcp)
	vip_setup 4 tcp nat srchash || return 0
	any=$(ctl -j explain "$vip" "$LAB_CLIENT4" | jq -r .pick.any_client_port)
	check "${name}_any_port" "pick.any_client_port=$any" [ "$any" == true ]
	for k in $(seq 3 $((SRC_CLIENTS + 2))); do
		addr=198.18.0.$k
		out=$(explain "$vip" "$addr")
		reached=$(connect_ports 4 "$addr" "$first" "$per")
		while read -r p b; do lines+=("$p ${out#scheduler } $b"); done <<<"$reached"
		flows_reported "${name}_flow_entry_$addr" "$vip" 4 "$addr" <<<"$reached"
		first=$((first + per))
	done
	printf '%s\n' "${lines[@]}" | judge "$name"
	vip_teardown 4 tcp
}

# rr/wrr: ask for the next turn, then take it.
test_turns() {
	local sched=$1 first=$2 name="explain_$1_v4" vip p predicted reached lines=() i
	vip=$(vip_of 4 tcp)
	ctl_ok vip add "$vip" sched "$sched" mode nat || return 0
	for i in $(lab_backend_ids); do
		ctl_ok backend add "$vip" "$(backend_of 4 "$i")" weight "$([[ $sched == wrr ]] && echo "$i" || echo 1)" || return 0
	done
	for ((p = first; p < first + PORTS; p++)); do
		predicted=$(explain "$vip" "$LAB_CLIENT4")
		reached=$(connect_ports 4 "$LAB_CLIENT4" "$p" 1)
		lines+=("$p ${predicted#scheduler } ${reached#* }")
	done
	printf '%s\n' "${lines[@]}" | judge "$name"
	printf '%s\n' "${lines[@]}" | awk '{print $1, $3}' |
		flows_reported "${name}_flow_entry" "$vip" 4 "$LAB_CLIENT4"
	vip_teardown 4 tcp
}

# Refusals an operator can meet: maglev without the port, an unknown VIP.
test_errors() {
	local vip out
	vip=$(vip_of 4 tcp)
	vip_setup 4 tcp nat maglev || return 0
	out=$(ctl explain "$vip" "$LAB_CLIENT4" 2>&1) && out="succeeded: $out"
	check explain_maglev_needs_port "$out" grep -q "give the client as ADDR:PORT" <<<"$out"
	out=$(ctl explain "tcp/$LAB_VIP4:81" "$LAB_CLIENT4:40000" 2>&1) && out="succeeded: $out"
	check explain_unknown_vip "$out" grep -q "no VIP tcp/$LAB_VIP4:81" <<<"$out"
	out=$(ctl explain "$vip" "$LAB_CLIENT4:40000")
	note "explain text: $(tr '\n' '|' <<<"$out")"
	check explain_text "$(grep -c . <<<"$out") lines" grep -q "^Why      no flow-table entry; maglev: hash 0x" <<<"$out"
	vip_teardown 4 tcp
}

main() {
	e2e_init explain
	e2e_require_binaries
	e2e_lab_up
	lab_client_addrs "$SRC_CLIENTS"
	lab_mode nat
	xlbd_start_or_die
	test_errors
	test_maglev 4 41000
	test_maglev 6 42000
	test_srchash
	test_turns rr 44000
	test_turns wrr 45000
	e2e_finish
}

main "$@"
