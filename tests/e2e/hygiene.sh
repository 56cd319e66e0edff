#!/usr/bin/env bash
# Router hygiene end to end: traceroute through a VIP (nat mode, IPv4 and
# IPv6, TCP SYN probes and UDP probes to the VIP's port). A probe to the VIP
# sent with TTL/hop limit 1 must come back as ICMP "time exceeded" from the
# gateway's own address, answered by xlb (tx_icmp_time_exceeded), not
# "network unreachable" from the gateway's kernel; with TTL 2 it reaches
# the VIP (TCP: the backend's SYN-ACK; UDP: the backends' UDP echo answers
# through the VIP, which ends a UDP traceroute as a port unreachable would).
# traceroute reads the TCP answers from a raw socket and the UDP ones from
# the probe socket's error queue (IP_RECVERR), so the UDP case also proves
# the client's kernel matches xlb's quote to its socket. Then xlbd runs
# with --icmp-rate 1 --icmp-burst 2 and a burst of probes at TTL 1 gets
# two answers, the rest counted drop_icmp_ratelimited.
set -euo pipefail
source "$(dirname "$0")/common.bash"

reason() {
	ctl -j stats | jq -r --arg r "$1" '.reasons[$r] // 0'
}

# traceroute's answer line for hop n (without the hop number), or "none".
hop() {
	local n=$1 out=$2 line
	line=$(awk -v n="$n" '$1 == n { $1 = ""; print; exit }' <<<"$out")
	echo "${line:-none}"
}

# One traceroute (TCP SYN or UDP probes, proto tcp|udp) to the VIP of
# family fam, at most max_ttl hops: hop 1 must be the gateway without an error mark
# (!N, !H, ...) and xlb's counter must have moved by one per probe at TTL 1.
trace() {
	local fam=$1 proto=$2 max_ttl=$3 name="hygiene_traceroute_${2}_v${1}_nat"
	local gw vip out before after h1 h2 how
	if [[ $fam == 6 ]]; then gw=$LAB_GW6; else gw=$LAB_GW4; fi
	if [[ $proto == udp ]]; then how=(-U -p "$LAB_UDP_PORT"); else how=(-T -p "$LAB_HTTP_PORT"); fi
	vip=$(vip_addr "$fam")
	before=$(reason tx_icmp_time_exceeded)
	out=$(lab_in client traceroute "-$fam" -n -q 1 -w 2 -m "$max_ttl" "${how[@]}" "$vip" 2>&1) || true
	after=$(reason tx_icmp_time_exceeded)
	h1=$(hop 1 "$out")
	note "$name: $(tr '\n' '|' <<<"$out")"
	if [[ $(awk '{print $1}' <<<"$h1") != "$gw" || $h1 == *'!'* ]]; then
		note "$name: client's ICMP and UDP counters: $(lab_in client nstat -az 2>/dev/null |
			awk '$1 ~ /^(Icmp|Icmp6|Udp|Udp6)(In|Out)/ && $2 > 0 {printf "%s=%s ", $1, $2}')"
		fail "$name" "hop 1 is '$h1', expected the gateway $gw with no error mark (tx_icmp_time_exceeded +$((after - before)))"
	elif ((after - before != 1)); then
		fail "$name" "tx_icmp_time_exceeded moved by $((after - before)), expected 1 (the kernel answered?)"
	else
		pass "$name" "hop 1 $h1, tx_icmp_time_exceeded +1"
	fi
	# The VIP answers at hop 2 and traceroute stops there (max_ttl is 3).
	h2=$(hop 2 "$out")
	check "${name}_reaches_vip" "hop 2 is '$h2', hop 3 '$(hop 3 "$out")'" \
		test "$(awk '{print $1}' <<<"$h2") $(hop 3 "$out")" == "$vip none"
}

# xlbd --icmp-rate 1 --icmp-burst 2, then six UDP probes at TTL 1 sent at
# once from CPU 0 (a veth runs the peer's XDP on the sending CPU, and the
# ICMP buckets are per CPU): two are answered (and traceroute shows as
# many), the rest dropped unanswered and counted. A third answer is
# tolerated, should a second pass between the probes (the bucket earns one
# a second).
icmp_ratelimit() {
	local name=hygiene_icmp_ratelimit_udp_v4_nat tx rl out seen
	xlbd_stop
	xlbd_start_or_die --icmp-rate 1 --icmp-burst 2
	vip_setup 4 udp nat maglev || return 0
	tx=$(reason tx_icmp_time_exceeded)
	rl=$(reason drop_icmp_ratelimited)
	out=$(lab_in client taskset -c 0 traceroute -4 -n -q 6 -w 1 -m 1 -U -p "$LAB_UDP_PORT" \
		"$(vip_addr 4)" 2>&1) || true
	tx=$(($(reason tx_icmp_time_exceeded) - tx))
	rl=$(($(reason drop_icmp_ratelimited) - rl))
	seen=$(grep -o ' ms' <<<"$out" | wc -l)
	note "$name: $(tr '\n' '|' <<<"$out")"
	check "$name" "tx_icmp_time_exceeded +$tx, drop_icmp_ratelimited +$rl, $seen answers seen (6 probes, burst 2)" \
		test $((tx + rl)) -eq 6 -a "$tx" -ge 2 -a "$tx" -le 3 -a "$seen" -eq "$tx"
	vip_teardown 4 udp
}

# xlb answers time exceeded with XDP_TX into the client's veth. The kernel
# wakes the receiving end of a veth for XDP_TX'd frames only when it runs
# an XDP program itself (veth_xdp_flush); with GRO alone they wait for the
# next unrelated frame, hundreds of ms here, and a UDP traceroute has
# closed the probe's socket by then (the client counts IcmpInErrors). A
# real NIC has no such peer: the client's end gets a program that passes
# everything (the benchmarks' empty floor, xdp_empty).
client_xdp_pass() {
	local obj=${BUILD:-$E2E_REPO/build}/bpf/bench.bpf.o pins=$E2E_PIN-pass rc=0
	if [[ ! -s $obj ]]; then
		fail hygiene "$obj is missing (run make)"
		exit 1
	fi
	rm -rf "$pins"
	bpftool prog loadall "$obj" "$pins" type xdp &&
		lab_in client bpftool net attach xdpdrv pinned "$pins/xdp_empty" dev to-gw || rc=$?
	rm -rf "$pins"
	if ((rc)); then
		fail hygiene "attaching a pass program to the client's veth failed (bpftool, see above)"
		exit 1
	fi
}

main() {
	local fam proto
	e2e_init hygiene
	e2e_require_binaries
	if ! command -v traceroute >/dev/null; then
		fail hygiene "traceroute is not installed (run make deps)"
		exit 1
	fi
	e2e_lab_up
	client_xdp_pass
	xlbd_start_or_die
	lab_mode nat
	for proto in tcp udp; do
		for fam in 4 6; do
			vip_setup "$fam" "$proto" nat maglev || continue
			trace "$fam" "$proto" 3
			vip_teardown "$fam" "$proto"
		done
	done
	icmp_ratelimit
	e2e_finish
}

main "$@"
