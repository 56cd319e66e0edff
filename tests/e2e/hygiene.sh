#!/usr/bin/env bash
# Router hygiene end to end: traceroute through a VIP (nat mode, IPv4 and
# IPv6). A TCP SYN or UDP datagram to the VIP sent with TTL/hop limit 1
# must come back as ICMP "time exceeded" from the gateway's own address,
# answered by xlb (tx_icmp_time_exceeded), not "network unreachable" from
# the gateway's kernel; with TTL 2 the TCP probe reaches the VIP.
#
# TCP uses traceroute -T, which reads ICMP from a raw socket. For UDP the
# client listens on a raw ICMP socket too (udp_ttl1_probe below) rather
# than relying on traceroute -U: the client kernel hands an error to a UDP
# socket only if its socket lookup succeeds, and with the answer coming
# back within microseconds over veth that lookup was seen to miss now and
# then on this kernel (IcmpInErrors), for xlb's answer as for none other.
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

# One traceroute (TCP SYN probes) to the VIP of family fam, max_ttl hops:
# hop 1 must be the gateway without an error mark (!N, !H, ...) and
# xlb's counter must have moved by one per probe at TTL 1.
trace() {
	local fam=$1 max_ttl=$2 name="hygiene_traceroute_tcp_v${1}_nat"
	local gw vip out before after h1 h2
	if [[ $fam == 6 ]]; then gw=$LAB_GW6; else gw=$LAB_GW4; fi
	vip=$(vip_addr "$fam")
	before=$(reason tx_icmp_time_exceeded)
	out=$(lab_in client traceroute "-$fam" -n -q 1 -w 2 -m "$max_ttl" -T -p "$LAB_HTTP_PORT" "$vip" 2>&1) || true
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
	h2=$(hop 2 "$out")
	check "${name}_reaches_vip" "hop 2 is '$h2'" test "$(awk '{print $1}' <<<"$h2")" == "$vip"
}

# One UDP datagram to VIP:port with TTL/hop limit 1, and the ICMP answer
# read from a raw socket: prints "TYPE CODE FROM QUOTED_DPORT" or "none".
udp_ttl1_probe() {
	local fam=$1 vip=$2 port=$3
	lab_in client /usr/bin/python3 - "$fam" "$vip" "$port" <<'PY'
import socket, sys, select, struct
fam, vip, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
af = socket.AF_INET if fam == 4 else socket.AF_INET6
raw = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_ICMP if fam == 4 else socket.IPPROTO_ICMPV6)
udp = socket.socket(af, socket.SOCK_DGRAM)
if fam == 4:
    udp.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
else:
    udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1)
udp.sendto(b"hygiene probe", (vip, port))
sport = udp.getsockname()[1]
while select.select([raw], [], [], 2)[0]:
    data, src = raw.recvfrom(2048)
    icmp = data[(data[0] & 15) * 4:] if fam == 4 else data
    quote = icmp[8:]
    qhl = (quote[0] & 15) * 4 if fam == 4 else 40
    if len(quote) < qhl + 4:
        continue
    qs, qd = struct.unpack("!HH", quote[qhl:qhl + 4])
    if qs == sport:
        print(icmp[0], icmp[1], src[0], qd)
        sys.exit(0)
print("none")
PY
}

# The UDP probe: time exceeded (11/0, ICMPv6 3/0) from the gateway, quoting
# the datagram, and xlb's counter moved by one.
trace_udp() {
	local fam=$1 name="hygiene_time_exceeded_udp_v${1}_nat" gw want before after got
	if [[ $fam == 6 ]]; then gw=$LAB_GW6 want="3 0 $gw $LAB_UDP_PORT"; else gw=$LAB_GW4 want="11 0 $gw $LAB_UDP_PORT"; fi
	before=$(reason tx_icmp_time_exceeded)
	got=$(udp_ttl1_probe "$fam" "$(vip_addr "$fam")" "$LAB_UDP_PORT" 2>&1) || true
	after=$(reason tx_icmp_time_exceeded)
	if [[ $got != "$want" ]]; then
		fail "$name" "answer '$got', expected type/code/from/quoted port '$want'"
	elif ((after - before != 1)); then
		fail "$name" "tx_icmp_time_exceeded moved by $((after - before)), expected 1 (the kernel answered?)"
	else
		pass "$name" "answer $got, tx_icmp_time_exceeded +1"
	fi
}

main() {
	local fam
	e2e_init hygiene
	e2e_require_binaries
	if ! command -v traceroute >/dev/null; then
		fail hygiene "traceroute is not installed (run make deps)"
		exit 1
	fi
	e2e_lab_up
	xlbd_start_or_die
	lab_mode nat
	for fam in 4 6; do
		vip_setup "$fam" tcp nat maglev || continue
		vip_setup "$fam" udp nat maglev || continue
		trace "$fam" 2
		trace_udp "$fam"
		vip_teardown "$fam" tcp
		vip_teardown "$fam" udp
	done
	e2e_finish
}

main "$@"
