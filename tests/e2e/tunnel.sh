#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end: tunnel mode across routed networks (tests/e2e/tunnel_lab.bash
# draws the lab). Backends in their own subnets behind a router, set up only
# with `xlb-backend setup`; xlbd on the gateway's one interface, configured
# with xlbctl, once with IP-in-IP and once with GUE. Checked:
#   - xlb-backend: setup, a second run (all in place), a half-configured
#     host (problems reported, then repaired), remove (everything restored);
#   - real TCP (curl -> nginx) and UDP (socat) through the VIPs, IPv4 and
#     IPv6 (IP-in-IP within each family, GUE across them: IPv4 in IPv6 and
#     IPv6 in IPv4), replies straight from the backends to the client: the
#     gateway never sees a packet from a VIP (nftables counter), r1 forwards
#     them;
#   - a 1400-byte link on the way: a large download and a large upload,
#     both IPv4 and IPv6, arrive intact (sha256), the client learns the MTU
#     xlb tells it, and the backend the MTU its router tells it through xlb.
# One PASS/FAIL line per check; numbers as "# ..." lines.
set -euo pipefail

# shellcheck source=tunnel_lab.bash
source "$(dirname "${BASH_SOURCE[0]}")/tunnel_lab.bash"

HTTP_N=60
UDP_N=30

# ---- small helpers ----------------------------------------------------------------

vip_host() { if [[ $1 == 6 ]]; then echo "[$LAB_VIP6]"; else echo "$LAB_VIP4"; fi; }
backend_addr() { if [[ $1 == 6 ]]; then echo "[$(lab_backend6 "$2")]"; else lab_backend4 "$2"; fi; }

# The round with GUE crosses families (IPv4 VIPs served through IPv6
# tunnels and the reverse); the IP-in-IP round keeps them equal.
CROSSED=0

outer_family() {
	if ((CROSSED)); then
		if [[ $1 == 6 ]]; then echo 4; else echo 6; fi
	else
		echo "$1"
	fi
}

# Check names: gue_v4_in_v6_tcp_http and the like.
tag() {
	local fam=$1 encap=$2
	echo "${encap}_v${fam}_in_v$(outer_family "$fam")"
}

vip_stmt() {
	local fam=$1 proto=$2 port=$3
	echo "$proto/$(vip_host "$fam"):$port"
}

# "mtu N" of a route lookup (the learned path MTU), or "none".
route_mtu() {
	local role=$1
	shift
	lab_in "$role" ip "$@" | sed -n 's/.* mtu \([0-9]*\).*/\1/p' | head -1 | grep . || echo none
}

sha_of() {
	sha256sum "$1" | awk '{print $1}'
}

# The MTU xlb must announce to a client of family fam: the path's MTU less
# the outer header (20 or 40 bytes, by the backends' family) and, for GUE,
# the UDP header.
expected_mtu() {
	local fam=$1 encap=$2 over
	if [[ $(outer_family "$fam") == 6 ]]; then over=40; else over=20; fi
	if [[ $encap == gue ]]; then over=$((over + 8)); fi
	echo $((TUN_MTU - over))
}

require() {
	local t
	for t in "$XLBD" "$XLBCTL" "$XLB_BACKEND"; do
		if [[ ! -x $t ]]; then
			fail setup "$t is not built (run make)"
			exit 1
		fi
	done
	for t in nft jq socat curl nginx bpftool clang sha256sum; do
		if ! command -v "$t" >/dev/null; then
			fail setup "$t is missing (run make deps)"
			exit 1
		fi
	done
}

# ---- the backends: xlb-backend only ---------------------------------------------------

backend_cmd() {
	local i=$1
	shift
	lab_in "b$i" "$XLB_BACKEND" "$@" --pin-root "$(tun_pin "b$i")"
}

backend_setup() {
	backend_cmd "$1" setup --vip "$LAB_VIP4,$LAB_VIP6" --mode tunnel --dev eth0
}

# The values of the sysctls xlb-backend touches, in one line (the restore check).
backend_sysctls() {
	lab_in "b$1" sysctl -n net.ipv4.conf.all.arp_ignore net.ipv4.conf.eth0.arp_ignore \
		net.ipv4.conf.all.arp_announce net.ipv4.conf.eth0.arp_announce \
		net.ipv4.conf.all.rp_filter net.ipv4.conf.eth0.rp_filter | tr '\n' ' '
}

check_backend_setup() {
	local i out before=()
	for i in $(lab_backend_ids); do
		before[i]=$(backend_sysctls "$i")
		if ! out=$(backend_setup "$i" 2>&1); then
			fail "backend_setup_b$i" "xlb-backend setup failed: $(echo "$out" | tail -2 | tr '\n' ' ')"
			return 1
		fi
	done
	BACKEND_SYSCTLS_BEFORE=${before[3]}
	pass backend_setup "3 backends, $(echo "$out" | grep -c '^done:') changes each"
}

# A second run changes nothing and says so, item by item.
check_backend_rerun() {
	local out ok changed
	out=$(backend_setup 1 2>&1) || {
		fail backend_setup_twice "second setup failed: $(echo "$out" | tail -1)"
		return
	}
	ok=$(echo "$out" | grep -c '^ok:' || true)
	changed=$(echo "$out" | grep -cE '^(done|fixed):' || true)
	if ((changed == 0 && ok >= 10)); then
		pass backend_setup_twice "$ok items already in place, none changed"
	else
		fail backend_setup_twice "$ok in place, $changed changed: $(echo "$out" | grep -E '^(done|fixed):' | head -2 | tr '\n' ' ')"
	fi
	if out=$(backend_cmd 1 status 2>&1); then
		pass backend_status_clean "$(echo "$out" | tail -1)"
	else
		fail backend_status_clean "status exited non-zero: $(echo "$out" | grep '^problem' | head -2 | tr '\n' ' ')"
	fi
}

# Break b2 three ways: status names each problem, setup repairs each.
check_backend_repair() {
	local out rc problems fixed
	lab_in b2 ip addr del "$LAB_VIP4/32" dev lo
	lab_in b2 sysctl -qw net.ipv4.conf.eth0.arp_ignore=0
	bpftool map delete pinned "$(tun_pin b2)/xlb_decap_vips" \
		key hex fd 00 00 ff 00 00 00 00 00 00 00 00 00 00 00 10
	rc=0
	out=$(backend_cmd 2 status 2>&1) || rc=$?
	problems=$(echo "$out" | grep -c '^problem:' || true)
	if ((rc == 1 && problems == 3)); then
		pass backend_status_half_configured "exit 1, $problems problems reported"
	else
		fail backend_status_half_configured "exit $rc, $problems problems: $(echo "$out" | grep '^problem' | tr '\n' ' ')"
	fi
	out=$(backend_setup 2 2>&1) || true
	fixed=$(echo "$out" | grep -c '^fixed:' || true)
	if ((fixed == 3)) && backend_cmd 2 status >/dev/null 2>&1; then
		pass backend_setup_repairs "$fixed items fixed, status clean"
	else
		fail backend_setup_repairs "$fixed fixed: $(echo "$out" | grep -vE '^ok:' | tr '\n' ' ')"
	fi
}

# remove undoes exactly what setup did on b3 (after all traffic ran).
check_backend_remove() {
	local out after pins xdp lo
	if ! out=$(backend_cmd 3 remove 2>&1); then
		fail backend_remove "remove failed: $(echo "$out" | tail -2 | tr '\n' ' ')"
		return
	fi
	after=$(backend_sysctls 3)
	lo=$(lab_in b3 ip -br addr show dev lo)
	xdp=$(lab_in b3 ip link show dev eth0 | grep -c xdp || true)
	if [[ -e $(tun_pin b3) ]]; then pins=1; else pins=0; fi
	if [[ $after == "$BACKEND_SYSCTLS_BEFORE" && $lo != *198.19.0.10* && $lo != *fd00:ff::10* ]] &&
		((xdp == 0 && pins == 0)) && [[ ! -e /run/xlb-backend/sys-fs-bpf-xtun-b3.state ]]; then
		pass backend_remove "sysctls back to '$after', VIPs off lo, program detached, pins and state gone"
	else
		fail backend_remove "sysctls '$after' (before: '$BACKEND_SYSCTLS_BEFORE'), lo: $lo, xdp lines $xdp, pins $pins"
	fi
}

# ---- the gateway ----------------------------------------------------------------------

configure_vip() {
	local fam=$1 proto=$2 port=$3 encap=$4 vip i
	vip=$(vip_stmt "$fam" "$proto" "$port")
	ctl vip del "$vip" >/dev/null 2>&1 || true
	ctl_ok vip add "$vip" mode tunnel encap "$encap" || return 1
	for i in $(lab_backend_ids); do
		ctl_ok backend add "$vip" "$(backend_addr "$(outer_family "$fam")" "$i")" || return 1
	done
	if [[ $proto == udp ]]; then
		ctl_ok check set "$vip" udp
	else
		ctl_ok check set "$vip" tcp port "$LAB_HTTP_PORT"
	fi
}

configure() {
	local encap=$1 fam
	for fam in 4 6; do
		configure_vip "$fam" tcp "$LAB_HTTP_PORT" "$encap" || return 1
		configure_vip "$fam" tcp "$TUN_UPLOAD_PORT" "$encap" || return 1
		configure_vip "$fam" udp "$LAB_UDP_PORT" "$encap" || return 1
	done
}

# Path MTUs learned in an earlier round hang off the default routes:
# replacing those forgets them, so each round discovers its own.
forget_path_mtus() {
	local i
	lab_in client ip route replace default via "$TUN_R1_CLIENT4"
	lab_in client ip route flush cache
	lab_in client ip -6 route del default via "$TUN_R1_CLIENT6"
	lab_in client ip -6 route add default via "$TUN_R1_CLIENT6"
	for i in $(lab_backend_ids); do
		lab_in "b$i" ip route del default
		lab_in "b$i" ip route add default via "198.18.$i.1"
		lab_in "b$i" ip -6 route del default
		lab_in "b$i" ip -6 route add default via "fd00:$i::1"
	done
}

# ---- traffic --------------------------------------------------------------------------

http_burst() {
	local fam=$1 n=$2 i url
	url="http://$(vip_host "$fam"):$LAB_HTTP_PORT/"
	for i in $(seq "$n"); do
		printf 'url = "%s?%d"\noutput = "/dev/null"\n' "$url" "$i"
	done | lab_in client curl -s -g -K - -H 'Connection: close' --connect-timeout 2 \
		--max-time 5 -w '%{http_code} %header{x-backend}\n' || true
}

udp_burst() {
	local fam=$1 n=$2 dir="$TUN_DIR/udp" target i pids=() line
	target="UDP4:$LAB_VIP4:$LAB_UDP_PORT"
	[[ $fam == 4 ]] || target="UDP6:[$LAB_VIP6]:$LAB_UDP_PORT"
	mkdir -p "$dir"
	for i in $(seq "$n"); do
		(echo ping | lab_in client socat -t 1 - "$target" >"$dir/$i" 2>/dev/null) &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	for i in $(seq "$n"); do
		line=$(head -1 "$dir/$i" 2>/dev/null || true)
		echo "${line:-none}"
	done
	rm -rf "$dir"
}

# "ok fail b1 b2 b3" from lines whose first field is the status (or name).
tally() {
	awk -v want="$1" '
		(want == "http" && $1 == "200" && $2 ~ /^b[0-9]+$/) { ok++; n[$2]++; next }
		(want == "udp" && $1 ~ /^b[0-9]+$/) { ok++; n[$1]++; next }
		{ bad++ }
		END { printf "%d %d %d %d %d\n", ok, bad, n["b1"], n["b2"], n["b3"] }'
}

check_http() {
	local fam=$1 encap=$2 ok bad b1 b2 b3
	read -r ok bad b1 b2 b3 < <(http_burst "$fam" "$HTTP_N" | tally http)
	TOTAL_REQ=$((TOTAL_REQ + HTTP_N))
	TOTAL_FAIL=$((TOTAL_FAIL + bad))
	if ((ok == HTTP_N && b1 > 0 && b2 > 0 && b3 > 0)); then
		pass "$(tag "$fam" "$encap")_tcp_http" "$ok/$HTTP_N requests, b1=$b1 b2=$b2 b3=$b3"
	else
		fail "$(tag "$fam" "$encap")_tcp_http" "$ok/$HTTP_N answered, $bad failed, b1=$b1 b2=$b2 b3=$b3"
	fi
}

check_udp() {
	local fam=$1 encap=$2 ok bad b1 b2 b3
	read -r ok bad b1 b2 b3 < <(udp_burst "$fam" "$UDP_N" | tally udp)
	TOTAL_REQ=$((TOTAL_REQ + UDP_N))
	TOTAL_FAIL=$((TOTAL_FAIL + bad))
	if ((ok == UDP_N && b1 + b2 + b3 == UDP_N && (b1 > 0) + (b2 > 0) + (b3 > 0) >= 2)); then
		pass "$(tag "$fam" "$encap")_udp" "$ok/$UDP_N answered, b1=$b1 b2=$b2 b3=$b3"
	else
		fail "$(tag "$fam" "$encap")_udp" "$ok/$UDP_N answered, $bad lost, b1=$b1 b2=$b2 b3=$b3"
	fi
}

# A large download through a path whose reply side has a 1400-byte link:
# it completes only if r2's "fragmentation needed" reaches the backend,
# which xlb steers there from the VIP address it is sent to.
check_download() {
	local fam=$1 name out code be size secs mtu file="$TUN_DIR/download" t0
	name=$(tag "$fam" "$2")_large_download
	rm -f "$file"
	t0=$EPOCHREALTIME
	out=$(lab_in client curl -s -g --max-time 60 -o "$file" \
		-w '%{http_code} %header{x-backend} %{size_download}' \
		"http://$(vip_host "$fam"):$LAB_HTTP_PORT/big" || true)
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	read -r code be size <<<"$out"
	TOTAL_REQ=$((TOTAL_REQ + 1))
	if [[ $code != 200 || ! -s $file || $(sha_of "$file") != "$(cat "$LAB_DIR/www/big.sha256")" ]]; then
		TOTAL_FAIL=$((TOTAL_FAIL + 1))
		fail "$name" "status ${code:-none}, ${size:-0} bytes from ${be:-?}: incomplete or corrupt"
		return
	fi
	TOTAL_BYTES=$((TOTAL_BYTES + size))
	if [[ $fam == 6 ]]; then
		mtu=$(route_mtu "$be" -6 route get "$LAB_CLIENT6" from "$LAB_VIP6")
	else
		mtu=$(route_mtu "$be" route get "$LAB_CLIENT4" from "$LAB_VIP4")
	fi
	note "${name%_large_download} download: $size bytes from $be in ${secs}s; $be's path MTU to the client: $mtu"
	if [[ $mtu == "$TUN_MTU" ]]; then
		pass "$name" "$size bytes, sha256 ok, $be learned path MTU $mtu via xlb"
	else
		fail "$name" "intact, but $be's path MTU to the client is $mtu, expected $TUN_MTU"
	fi
}

# A large upload: xlb answers the too-big packets with the MTU that fits
# the tunnel, the client sends smaller ones, the backend's hash matches.
check_upload() {
	local fam=$1 name target got want mtu expect
	name=$(tag "$fam" "$2")_large_upload
	target="TCP4:$LAB_VIP4:$TUN_UPLOAD_PORT"
	[[ $fam == 4 ]] || target="TCP6:[$LAB_VIP6]:$TUN_UPLOAD_PORT"
	want=$(cat "$LAB_DIR/www/big.sha256")
	got=$(lab_in client timeout 90 socat -t 30 -T 60 - "$target" <"$LAB_DIR/www/big" 2>/dev/null |
		awk '{print $1}' || true)
	TOTAL_REQ=$((TOTAL_REQ + 1))
	if [[ $fam == 6 ]]; then
		mtu=$(route_mtu client -6 route get "$LAB_VIP6")
	else
		mtu=$(route_mtu client route get "$LAB_VIP4")
	fi
	expect=$(expected_mtu "$fam" "$2")
	note "${name%_large_upload} upload: $LAB_BIG_BYTES bytes; client's path MTU to the VIP: $mtu (expected $expect)"
	if [[ $got != "$want" ]]; then
		TOTAL_FAIL=$((TOTAL_FAIL + 1))
		fail "$name" "backend's sha256 '${got:-none}' != '$want'"
	elif [[ $mtu != "$expect" ]]; then
		TOTAL_BYTES=$((TOTAL_BYTES + LAB_BIG_BYTES))
		fail "$name" "intact, but the client's path MTU is $mtu, expected $expect"
	else
		TOTAL_BYTES=$((TOTAL_BYTES + LAB_BIG_BYTES))
		pass "$name" "$LAB_BIG_BYTES bytes, sha256 ok, client path MTU $mtu from xlb"
	fi
}

# Replies leave the backends for the client directly: the gateway counts
# no packet from a VIP at all, r1 forwards them from r2 to the client.
check_direct_replies() {
	local encap=$1 gw r1
	gw=$(tun_counter gw)
	r1=$(tun_counter r1)
	if ((gw == 0 && r1 > R1_REPLIES)); then
		pass "${encap}_replies_bypass_gateway" "gateway saw 0 packets from the VIPs; r1 forwarded $((r1 - R1_REPLIES)) replies from the backends"
	else
		fail "${encap}_replies_bypass_gateway" "gateway saw $gw packets from the VIPs, r1 forwarded $((r1 - R1_REPLIES))"
	fi
	R1_REPLIES=$r1
}

# xlb's own account of the path-MTU work of a round.
check_pmtu_counters() {
	local encap=$1 tb ib
	tb=$(($(gw_reason tx_icmp_too_big) - TOO_BIG_BEFORE))
	ib=$(($(gw_reason icmp_to_backend) - TO_BACKEND_BEFORE))
	note "$encap: xlb sent $tb too-big answers and steered $ib ICMP errors to backends"
	if ((tb > 0 && ib > 0)); then
		pass "${encap}_pmtu_counters" "tx_icmp_too_big +$tb, icmp_to_backend +$ib"
	else
		fail "${encap}_pmtu_counters" "tx_icmp_too_big +$tb, icmp_to_backend +$ib (both should grow)"
	fi
}

decap_counters() {
	local i
	for i in 1 2; do
		echo "b$i: $(backend_cmd "$i" status 2>/dev/null | sed -n 's/^note: decap counters: //p')"
	done | tr '\n' ';'
}

round() {
	local encap=$1 fam
	CROSSED=$2
	note "$encap round: IPv4 VIPs over IPv$(outer_family 4), IPv6 VIPs over IPv$(outer_family 6)"
	if ! configure "$encap"; then
		return
	fi
	forget_path_mtus
	TOO_BIG_BEFORE=$(gw_reason tx_icmp_too_big)
	TO_BACKEND_BEFORE=$(gw_reason icmp_to_backend)
	for fam in 4 6; do
		check_http "$fam" "$encap"
		check_udp "$fam" "$encap"
	done
	for fam in 4 6; do
		check_download "$fam" "$encap"
		check_upload "$fam" "$encap"
	done
	check_direct_replies "$encap"
	check_pmtu_counters "$encap"
	note "$encap: decap counters $(decap_counters)"
}

main() {
	require
	# TUN_KEEP=1 leaves the lab up after the run, for a look inside
	# (the next run removes it).
	if [[ ${TUN_KEEP:-0} != 1 ]]; then
		trap 'tun_lab_down' EXIT
	fi
	trap 'exit 130' INT TERM
	if ! tun_lab_up >"/tmp/xtun-lab-up.log" 2>&1; then
		fail lab "lab setup failed: $(tail -3 /tmp/xtun-lab-up.log | tr '\n' ' ')"
		exit 1
	fi
	rm -f /tmp/xtun-lab-up.log
	check_backend_setup || exit 1
	check_backend_rerun
	check_backend_repair
	if ! { tun_servers_start && tun_check_routing; } >"$TUN_DIR/servers.log" 2>&1; then
		fail servers "servers or routing: $(tail -3 "$TUN_DIR/servers.log" | tr '\n' ' ')"
		exit 1
	fi
	if ! xlbd_start; then
		fail xlbd_start "xlbd did not come up: $(tail -5 "$TUN_LOG" | tr '\n' ' ')"
		exit 1
	fi
	TOTAL_REQ=0 TOTAL_FAIL=0 TOTAL_BYTES=0 R1_REPLIES=0
	round ipip 0
	round gue 1
	check_backend_remove
	note "tunnel: $TOTAL_REQ requests, $TOTAL_FAIL failed, $TOTAL_BYTES bytes verified"
	note "tunnel: $TUN_PASSED passed, $TUN_FAILED failed"
	((TUN_FAILED == 0))
}

main "$@"
