#!/usr/bin/env bash
# Benchmark part 2: forwarding rate at driver level.
#
#   gen (xlb-gen: live-frames XDP_TX out of gen0, pinned to CPU 0)
#     | gen0 <-> in0
#   gw:  the gateway under test, on in0 (xlb nat/dsr, bare forwarder, or the
#        kernel: nftables DNAT, nginx stream)
#     | out0 <-> sink0
#   sink: XDP program counting and dropping everything on sink0
#
# For each gateway a fresh set of namespaces; for each flow count and frame
# size a warm-up (every flow seen twice in a row: confirmed flow entries,
# conntrack entries and proxy sessions exist), then FWD_REPEAT bounded runs
# of at most FWD_COUNT packets or FWD_SECONDS seconds each. Delivered pps = packets counted at the
# sink / the generator's time; the cell reports the run with the highest
# delivered pps (other load on a shared 2-core machine only ever lowers a
# rate, and a burst of it can hit two runs of a short cell); loss = 1 -
# delivered / sent over all runs.
#
# Output: $XB_RESULTS/fwd.tsv (and a table on stdout).
# Knobs: FWD_GWS, FWD_FLOWS, FWD_SIZES, FWD_COUNT, FWD_SECONDS, FWD_REPEAT,
# FWD_FLOW_ENTRIES (xlb's confirmed table size; default: xlb's default).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

FWD_GWS=${FWD_GWS:-"bare xlb-nat xlb-dsr nft nginx"}
FWD_FLOWS=${FWD_FLOWS:-"1 10000 1000000"}
FWD_SIZES=${FWD_SIZES:-"64 512"}
FWD_COUNT=${FWD_COUNT:-2000000}
FWD_SECONDS=${FWD_SECONDS:-1.5}
FWD_REPEAT=${FWD_REPEAT:-3}
GEN_CPU=0
PROXY_CPU=1

GEN_MAC=02:be:00:00:00:01
IN_MAC=02:be:00:00:00:02
OUT_MAC=02:be:00:00:00:03
SINK_MAC=02:be:00:00:00:04
GEN_ADDR=198.18.1.2
VIP=198.19.0.10
VIP_PORT=5353
BACKENDS="198.18.2.2 198.18.2.3 198.18.2.4"
# Generated flows: source ports from 10000, then the next source addresses
# (1M flows use 198.18.1.2 .. 198.18.1.32), all behind gen0.
GEN_SPORT=10000

topology_up() {
	local b
	xb_cleanup
	mkdir -p "$XB_WORK"
	xb_make_ns gen
	xb_make_ns gw
	xb_make_ns sink
	# IPv4 only: no router solicitations or MLD reports reach the sink's count.
	for b in gen gw sink; do
		xb_in "$b" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	xb_veth gen gen0 "$GEN_MAC" gw in0 "$IN_MAC"
	xb_veth gw out0 "$OUT_MAC" sink sink0 "$SINK_MAC"
	xb_in gen ip addr add "$GEN_ADDR/24" dev gen0
	xb_in gw ip addr add 198.18.1.1/24 dev in0
	xb_in gw ip addr add 198.18.2.1/24 dev out0
	xb_in gw sysctl -qw net.ipv4.ip_forward=1
	for b in $BACKENDS; do
		xb_in sink ip addr add "$b/24" dev sink0 2>/dev/null || true
		xb_in gw ip neigh replace "$b" lladdr "$SINK_MAC" nud permanent dev out0
	done
	xb_in gen ip route add default via 198.18.1.1
	"$XB_TOOLS/xlb-bench-gw" --netns "$(xb_ns sink)" sink sink0
}

gw_bare() {
	"$XB_TOOLS/xlb-bench-gw" --netns "$(xb_ns gw)" fwd in0 out0 "$SINK_MAC"
}

# xlb's default flow table (1M entries) is what a user gets; nat writes two
# entries per flow, so 1M nat flows overflow it (the LRU then evicts).
gw_xlb() {
	# shellcheck disable=SC2086
	"$XB_TOOLS/xlb-bench-gw" --netns "$(xb_ns gw)" ${FWD_FLOW_ENTRIES:+--flow-entries "$FWD_FLOW_ENTRIES"} xlb in0 "$1" "udp/$VIP:$VIP_PORT" $BACKENDS
}

# kube-proxy's nftables path: DNAT in prerouting to one of the backends
# picked by numgen from a map, conntrack keeping each flow on its pick.
gw_nft() {
	local map="" i=0 b
	for b in $BACKENDS; do
		map+="${map:+, }$i : $b"
		i=$((i + 1))
	done
	xb_in gw nft -f - <<-EOF
		table ip xbench {
			chain prerouting {
				type nat hook prerouting priority dstnat; policy accept;
				ip daddr $VIP udp dport $VIP_PORT dnat to numgen random mod $i map { $map }
			}
		}
	EOF
	# Room for a million flows, where this netns may set it (otherwise
	# the kernel's default stays and the report says what it was).
	xb_in gw sysctl -qw net.netfilter.nf_conntrack_max=2097152 2>/dev/null || true
}

# nginx stream as a UDP proxy on the VIP (a local address of the gateway):
# one worker on the other CPU, sessions kept per flow until proxy_timeout.
gw_nginx() {
	local dir=$XB_WORK/nginx b upstream=""
	mkdir -p "$dir/logs"
	for b in $BACKENDS; do
		upstream+="		server $b:$VIP_PORT;"$'\n'
	done
	cat >"$dir/nginx.conf" <<-EOF
		load_module /usr/lib/nginx/modules/ngx_stream_module.so;
		user root;
		worker_processes 1;
		worker_cpu_affinity 1$(printf '%0*d' "$PROXY_CPU" 0);
		worker_rlimit_nofile 300000;
		pid $dir/nginx.pid;
		error_log $dir/logs/error.log crit;
		events { worker_connections 131072; }
		stream {
			upstream backends {
		$upstream	}
			server {
				listen $VIP:$VIP_PORT udp;
				proxy_pass backends;
				proxy_timeout 20s;
			}
		}
	EOF
	xb_in gw ip addr add "$VIP/32" dev lo
	xb_in gw nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/logs/error.log" -g 'daemon on;'
	local i
	for i in $(seq 1 50); do
		xb_in gw ss -lun 2>/dev/null | grep -q "$VIP:$VIP_PORT" && return 0
		sleep 0.1
	done
	xb_die "nginx did not start (see $dir/logs/error.log)"
}

gw_up() {
	case $1 in
	bare) gw_bare ;;
	xlb-nat) gw_xlb nat ;;
	xlb-dsr) gw_xlb dsr ;;
	nft) gw_nft ;;
	nginx) gw_nginx ;;
	*) xb_die "unknown gateway $1" ;;
	esac
}

sink_packets() {
	"$XB_TOOLS/xlb-bench-gw" --netns "$(xb_ns sink)" count sink0 | sed -n 's/^packets=\([0-9]*\) .*/\1/p'
}

# gen FLOWS SIZE COUNT SECONDS [REPEAT]: prints "sent=N seconds=S pps=P"
gen() {
	"$XB_TOOLS/xlb-gen" --netns "$(xb_ns gen)" --dev gen0 --dst-mac "$IN_MAC" \
		--src "$GEN_ADDR" --dst "$VIP" --dport "$VIP_PORT" --sport "$GEN_SPORT" \
		--flows "$1" --size "$2" --count "$3" --duration "$4" --repeat "${5:-1}" \
		--cpu "$GEN_CPU" --quiet
}

field() {
	sed -n "s/.*$1=\([0-9.]*\).*/\1/p"
}

# One run: prints "sent seconds pps delivered".
run_once() {
	local flows=$1 size=$2 out c0 c1
	c0=$(sink_packets)
	out=$(gen "$flows" "$size" "$FWD_COUNT" "$FWD_SECONDS")
	sleep 0.3
	c1=$(sink_packets)
	printf '%s %s %s %s\n' "$(field sent <<<"$out")" "$(field seconds <<<"$out")" \
		"$(field pps <<<"$out")" $((c1 - c0))
}

# One cell: warm-up, FWD_REPEAT runs; prints a TSV row from the run with the
# highest delivered rate, loss over all runs.
measure() {
	local gw=$1 flows=$2 size=$3 warm i
	warm=$((flows > 10000 ? flows : 10000))
	# Each tuple twice in a row: xlb confirms a UDP flow at its second
	# packet. Seen once, a flow stays in the unconfirmed cache, which a
	# round over more flows than it holds (1M) empties before the flow's
	# next packet: every packet would then be a new flow.
	gen "$flows" "$size" $((2 * warm)) 60 2 >/dev/null
	sleep 0.3
	for ((i = 0; i < FWD_REPEAT; i++)); do
		run_once "$flows" "$size"
	done | awk -v gw="$gw" -v f="$flows" -v s="$size" '
		{ n[NR] = $1; t[NR] = $2; p[NR] = $3; d[NR] = $4; dp[NR] = $2 > 0 ? $4 / $2 : 0
		  sent += $1; deliv += $4 }
		END {
			m = 1
			for (i = 2; i <= NR; i++) if (dp[i] > dp[m]) m = i
			loss = sent > 0 ? 100 * (1 - deliv / sent) : 0; if (loss < 0) loss = 0
			printf "%s\t%d\t%d\t%d\t%.3f\t%.0f\t%d\t%.0f\t%.1f\n", gw, f, s, n[m], t[m], p[m], d[m], dp[m], loss }'
}

main() {
	local tsv=$XB_RESULTS/fwd.tsv gw flows size row
	xb_require_root
	xb_require_tools xlb-gen xlb-bench-gw
	command -v nft >/dev/null || FWD_GWS=${FWD_GWS//nft/}
	[[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] || FWD_GWS=${FWD_GWS//nginx/}
	xb_trap_cleanup
	mkdir -p "$XB_RESULTS"
	printf 'gw\tflows\tsize\tsent\tseconds\tsent_pps\tdelivered\tdelivered_pps\tloss_pct\n' >"$tsv.tmp"
	for gw in $FWD_GWS; do
		xb_log "fwd: $gw"
		topology_up
		gw_up "$gw"
		for flows in $FWD_FLOWS; do
			for size in $FWD_SIZES; do
				row=$(measure "$gw" "$flows" "$size")
				printf '%s\n' "$row" >>"$tsv.tmp"
				printf '%s\n' "$row" | awk -F'\t' '{ printf "  %-8s %8s flows %5s B: sent %9.0f pps, delivered %9.0f pps, loss %5.1f%%\n", $1, $2, $3, $6, $8, $9 }' >&2
			done
		done
		if [[ $gw == nft ]]; then
			xb_log "nft: conntrack max $(xb_in gw sysctl -n net.netfilter.nf_conntrack_max 2>/dev/null || echo '?')"
		fi
	done
	mv "$tsv.tmp" "$tsv"
	column -t -s $'\t' "$tsv"
}

main "$@"
