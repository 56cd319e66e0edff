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
# the client's kernel matches xlb's quote to its socket.
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

main() {
	local fam proto
	e2e_init hygiene
	e2e_require_binaries
	if ! command -v traceroute >/dev/null; then
		fail hygiene "traceroute is not installed (run make deps)"
		exit 1
	fi
	e2e_lab_up
	xlbd_start_or_die
	lab_mode nat
	for proto in tcp udp; do
		for fam in 4 6; do
			vip_setup "$fam" "$proto" nat maglev || continue
			trace "$fam" "$proto" 3
			vip_teardown "$fam" "$proto"
		done
	done
	e2e_finish
}

main "$@"
