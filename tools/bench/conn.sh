#!/usr/bin/env bash
# Benchmark part 3: TCP connections end to end. wrk in the client namespace
# of the lab (tools/lab.sh: client -> gw -> 3 nginx backends) asks the VIP
# for "/" through each gateway in turn:
#   xlb nat, xlb dsr (XDP on the gateway), nftables DNAT (numgen map),
#   nginx stream and HAProxy mode tcp (user-space proxies on the gateway).
# Two loads each: a new connection per request (Connection: close), and
# keep-alive. Reported: requests (= connections, for close) per second,
# latency p50/p99, socket errors.
#
# Output: $XB_RESULTS/conn.tsv. Knobs: CONN_GWS, CONN_SECONDS, CONN_CLIENTS.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh" # and tools/lab.sh

CONN_GWS=${CONN_GWS:-"xlb-nat xlb-dsr nft nginx haproxy"}
CONN_SECONDS=${CONN_SECONDS:-5}
CONN_CLIENTS=${CONN_CLIENTS:-16}
export LAB_QUIET=1 # read by lab.sh
lab_set_prefix "${XB_PREFIX}l"

backends4() {
	local i
	for i in $(lab_backend_ids); do
		lab_backend4 "$i"
	done
}

gw_ifaces() {
	local i s=to-client
	for i in $(lab_backend_ids); do
		s+=",to-b$i"
	done
	echo "$s"
}

# ---- gateways: each has an up and a down ---------------------------------

xlb_up() {
	local mode=$1 ifaces=to-client
	[[ $mode == nat ]] && ifaces=$(gw_ifaces)
	[[ $mode == dsr ]] && lab_dsr_all_on
	# shellcheck disable=SC2046
	"$XB_TOOLS/xlb-bench-gw" --netns "$(lab_ns gw)" xlb "$ifaces" "$mode" \
		"tcp/$LAB_VIP4:$LAB_HTTP_PORT" $(backends4)
}

xlb_down() {
	local dev
	for dev in ${1//,/ }; do
		"$XB_TOOLS/xlb-bench-gw" --netns "$(lab_ns gw)" off "$dev" 2>/dev/null || true
	done
	lab_dsr_all_off
}

nft_up() {
	local map="" i=0 b
	for b in $(backends4); do
		map+="${map:+, }$i : $b"
		i=$((i + 1))
	done
	lab_in gw nft -f - <<-EOF
		table ip xbench {
			chain prerouting {
				type nat hook prerouting priority dstnat; policy accept;
				ip daddr $LAB_VIP4 tcp dport $LAB_HTTP_PORT dnat to numgen random mod $i map { $map }
			}
		}
	EOF
}

nft_down() {
	lab_in gw nft delete table ip xbench 2>/dev/null || true
}

proxy_dir() {
	echo "$LAB_DIR/gw-$1"
}

nginx_up() {
	local dir b servers=""
	dir=$(proxy_dir nginx)
	mkdir -p "$dir"
	for b in $(backends4); do
		servers+="server $b:$LAB_HTTP_PORT; "
	done
	cat >"$dir/nginx.conf" <<-EOF
		load_module /usr/lib/nginx/modules/ngx_stream_module.so;
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/error.log crit;
		events { worker_connections 16384; }
		stream {
			upstream backends { $servers}
			server { listen $LAB_VIP4:$LAB_HTTP_PORT backlog=4096; proxy_pass backends; }
		}
	EOF
	lab_in gw ip addr replace "$LAB_VIP4/32" dev lo
	lab_in gw nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" -g 'daemon on;'
	lab_wait_tcp_listen gw "$LAB_HTTP_PORT"
}

pidfile_stop() {
	local pidfile=$1 pid
	[[ -s $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

nginx_down() {
	pidfile_stop "$(proxy_dir nginx)/nginx.pid"
	lab_in gw ip addr del "$LAB_VIP4/32" dev lo 2>/dev/null || true
}

haproxy_up() {
	local dir b i=1
	dir=$(proxy_dir haproxy)
	mkdir -p "$dir"
	{
		printf 'global\n\tmaxconn 8000\n\tnbthread 1\n\tpidfile %s/haproxy.pid\n' "$dir"
		printf 'defaults\n\tmode tcp\n\ttimeout connect 5s\n\ttimeout client 30s\n\ttimeout server 30s\n'
		printf 'frontend vip\n\tbind %s:%s\n\tdefault_backend be\n' "$LAB_VIP4" "$LAB_HTTP_PORT"
		printf 'backend be\n\tbalance roundrobin\n'
		for b in $(backends4); do
			printf '\tserver b%d %s:%s\n' "$i" "$b" "$LAB_HTTP_PORT"
			i=$((i + 1))
		done
	} >"$dir/haproxy.cfg"
	lab_in gw ip addr replace "$LAB_VIP4/32" dev lo
	lab_in gw haproxy -q -D -f "$dir/haproxy.cfg"
	lab_wait_tcp_listen gw "$LAB_HTTP_PORT"
}

haproxy_down() {
	pidfile_stop "$(proxy_dir haproxy)/haproxy.pid"
	lab_in gw ip addr del "$LAB_VIP4/32" dev lo 2>/dev/null || true
}

gw_up() {
	case $1 in
	xlb-nat) xlb_up nat ;;
	xlb-dsr) xlb_up dsr ;;
	nft) nft_up ;;
	nginx) nginx_up ;;
	haproxy) haproxy_up ;;
	*) xb_die "unknown gateway $1" ;;
	esac
}

gw_down() {
	case $1 in
	xlb-*) xlb_down "$(gw_ifaces)" ;;
	nft) nft_down ;;
	nginx) nginx_down ;;
	haproxy) haproxy_down ;;
	esac
}

# ---- measuring -------------------------------------------------------------

# wrk's "1.23ms" / "850.00us" / "1.02s" in milliseconds.
to_ms() {
	awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v) }
		else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
		printf "%.3f", v }' <<<"$1"
}

# One wrk run; prints a TSV row: gw load rps p50 p99 errors
wrk_run() {
	local gw=$1 load=$2 out hdr=() rps p50 p99 errs
	[[ $load == close ]] && hdr=(-H "Connection: close")
	out=$(lab_in client wrk -t1 -c"$CONN_CLIENTS" -d"${CONN_SECONDS}s" --timeout 2s --latency \
		"${hdr[@]}" "http://$LAB_VIP4:$LAB_HTTP_PORT/" 2>&1) || true
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 } /Non-2xx/ { print $NF }' <<<"$out" |
		awk '{ s += $1 } END { print s + 0 }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$gw" "$load" "${rps:-0}" "${p50:-0}" "${p99:-0}" "$errs"
}

# A few requests first: neighbours resolved, flows warm, proxies connected.
smoke() {
	local i
	for i in 1 2 3 4 5 6; do
		lab_in client curl -s --max-time 2 "http://$LAB_VIP4:$LAB_HTTP_PORT/" >/dev/null || return 1
	done
}

main() {
	local tsv=$XB_RESULTS/conn.tsv gw load row
	xb_require_root
	xb_require_tools xlb-bench-gw
	command -v wrk >/dev/null || xb_die "wrk is missing: run tools/bench/deps.sh"
	command -v nft >/dev/null || CONN_GWS=${CONN_GWS//nft/}
	command -v haproxy >/dev/null || CONN_GWS=${CONN_GWS//haproxy/}
	[[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] || CONN_GWS=${CONN_GWS//nginx/}
	trap 'lab_down; xb_cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir -p "$XB_RESULTS"
	lab_up
	# Short connections by the ten thousand: reuse TIME_WAIT ports.
	lab_in client sysctl -qw net.ipv4.tcp_tw_reuse=1
	printf 'gw\tload\trps\tp50_ms\tp99_ms\terrors\n' >"$tsv.tmp"
	for gw in $CONN_GWS; do
		xb_log "conn: $gw"
		gw_up "$gw"
		if ! smoke; then
			xb_log "conn: $gw does not answer; skipped"
			gw_down "$gw"
			continue
		fi
		for load in close keepalive; do
			row=$(wrk_run "$gw" "$load")
			printf '%s\n' "$row" >>"$tsv.tmp"
			printf '%s\n' "$row" | awk -F'\t' '{ printf "  %-8s %-9s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  errors %s\n", $1, $2, $3, $4, $5, $6 }' >&2
		done
		gw_down "$gw"
	done
	mv "$tsv.tmp" "$tsv"
}

main "$@"
