#!/usr/bin/env bash
# xlbd --metrics, scraped for real:
#   - `--metrics PORT` listens on 127.0.0.1 only; a port in use refuses the
#     start with a message that says so, before the datapath is touched
#   - a live scrape passes `promtool check metrics` and carries every family
#     with the lab's VIP and backend labels, every reason of `xlbctl stats`,
#     probe results from the health checks, the flow table's size
#   - a real Prometheus server (Debian's, on the gateway namespace's loopback,
#     scratch config and data, 1 s scrapes) scrapes xlbd while a UDP client
#     sends a steady known rate through the VIP; the PromQL
#     rate(xlb_vip_packets_total[...]) asked through its HTTP API matches the
#     rate the client sent, measured by the client itself
set -euo pipefail
source "$(dirname "$0")/common.bash"

METRICS_PORT=9742
PROM_PORT=9743
RATE=200 # datagrams per second
SECONDS_SENT=14
WINDOW=6 # seconds of rate(), inside the sending period
TOLERANCE_PCT=15

metrics_get() {
	lab_in gw curl -sS --max-time 5 -o "$2" -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT$1"
}

# The value of one exact series (name{labels}) in a scrape file.
series() {
	awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print "missing" }' "$1"
}

test_listen_default() {
	local name=metrics_listen_loopback_default socks
	socks=$(lab_in gw ss -Hltn "sport = :$METRICS_PORT" | awk '{print $4}' | tr '\n' ' ')
	check "$name" "listening on: $socks" [ "$socks" == "127.0.0.1:$METRICS_PORT " ]
}

# A second xlbd (own socket, pins and state) on the same port must refuse
# to start, say why, and leave no pins behind.
test_port_in_use() {
	local name=metrics_port_in_use_refused out rc=0
	out=$(lab_in gw timeout 20 "$XLBD" -i "$(lab_ns x)-none" --socket "$E2E_DIR/second.sock" \
		--pin-root "$E2E_PIN-second" --state "$E2E_DIR/second.state" \
		--metrics "127.0.0.1:$METRICS_PORT" 2>&1) || rc=$?
	if ((rc != 0)) && [[ $out == *"metrics address 127.0.0.1:$METRICS_PORT is in use"* && ! -e $E2E_PIN-second ]]; then
		pass "$name" "exit $rc: $(echo "$out" | grep -m1 'in use')"
	else
		fail "$name" "exit $rc, pins $([[ -e $E2E_PIN-second ]] && echo left || echo none): $out"
	fi
	rm -rf -- "$E2E_PIN-second"
}

# A bad address is a usage error (exit 2) that names it.
test_bad_address() {
	local name=metrics_bad_address out rc=0
	out=$("$XLBD" -i none --metrics 198.18.0.300:9742 2>&1) || rc=$?
	if ((rc == 2)) && [[ $out == *"bad --metrics address '198.18.0.300'"* ]]; then
		pass "$name" "exit 2: $out"
	else
		fail "$name" "exit $rc: $out"
	fi
}

test_http_errors() {
	local name=metrics_http_not_found code
	code=$(metrics_get /nothing "$E2E_DIR/404.txt") || true
	check "$name" "GET /nothing -> $code" [ "$code" == 404 ]
}

test_scrape() {
	local scrape=$E2E_DIR/scrape.txt code out vip_tcp vip_udp be missing=() r v
	code=$(metrics_get /metrics "$scrape") || true
	if [[ $code != 200 ]]; then
		fail metrics_scrape "GET /metrics -> $code"
		return
	fi
	if out=$(promtool check metrics <"$scrape" 2>&1); then
		pass metrics_promtool_check_metrics "$(grep -c '^# TYPE' "$scrape") families, $(grep -vc '^#' "$scrape") series"
	else
		fail metrics_promtool_check_metrics "$out"
		e2e_keep "$scrape"
	fi
	vip_tcp=$(vip_of 4 tcp)
	vip_udp=$(vip_of 4 udp)
	be="$(lab_backend4 1):$LAB_HTTP_PORT"
	for s in "xlb_build_info{version=\"$(grep -o 'version="[^"]*"' "$scrape" | head -1 | cut -d'"' -f2)\"}" \
		"xlb_vip_info{vip=\"$vip_tcp\",sched=\"maglev\",mode=\"nat\"}" \
		"xlb_vip_packets_total{vip=\"$vip_tcp\"}" "xlb_vip_bytes_total{vip=\"$vip_udp\"}" \
		"xlb_backend_packets_total{vip=\"$vip_tcp\",backend=\"$be\"}" \
		"xlb_backend_state{vip=\"$vip_tcp\",backend=\"$be\",state=\"up\"}" \
		"xlb_backend_weight{vip=\"$vip_tcp\",backend=\"$be\"}" \
		"xlb_backend_flows{vip=\"$vip_tcp\",backend=\"$be\"}" \
		"xlb_probe_duration_seconds_count{vip=\"$vip_tcp\"}" \
		xlb_config_generation 'xlb_flow_table_entries{table="confirmed"}' \
		'xlb_flow_table_entries_limit{table="unconfirmed"}' \
		'xlb_flow_table_memory_bytes{table="confirmed"}' 'xlb_syn_marks{state="cells"}'; do
		[[ $(series "$scrape" "$s") != missing ]] || missing+=("$s")
	done
	check metrics_families_and_labels "${missing[*]:-all present}" [ ${#missing[@]} -eq 0 ]
	check metrics_backend_state_up "up=$(series "$scrape" "xlb_backend_state{vip=\"$vip_tcp\",backend=\"$be\",state=\"up\"}") down=$(series "$scrape" "xlb_backend_state{vip=\"$vip_tcp\",backend=\"$be\",state=\"down\"}")" \
		[ "$(series "$scrape" "xlb_backend_state{vip=\"$vip_tcp\",backend=\"$be\",state=\"up\"}")" == 1 ]
	v=$(series "$scrape" "xlb_probe_results_total{vip=\"$vip_tcp\",backend=\"$be\",result=\"success\"}")
	[[ $v != missing ]] || v=0
	check metrics_probe_results "successes=$v" [ "$v" -gt 0 ]
	# Every reason xlbctl knows, under the same name, with the same value
	# or more (the datapath keeps counting between the two reads).
	missing=()
	while read -r r v; do
		local got
		got=$(series "$scrape" "xlb_reason_packets_total{reason=\"$r\"}")
		[[ $got != missing && $got -le $v ]] || missing+=("$r=$got/$v")
	done < <(ctl -j stats | jq -r '.reasons | to_entries[] | "\(.key) \(.value)"')
	check metrics_reasons_all "$(ctl -j stats | jq '.reasons | length') reasons${missing:+, wrong: ${missing[*]}}" [ ${#missing[@]} -eq 0 ]
	# The UDP requests made before the scrape wait in the unconfirmed
	# table (one datagram each), far below its size; closed TCP
	# connections no longer count.
	local c u cl ul
	c=$(series "$scrape" 'xlb_flow_table_entries{table="confirmed"}')
	u=$(series "$scrape" 'xlb_flow_table_entries{table="unconfirmed"}')
	cl=$(series "$scrape" 'xlb_flow_table_entries_limit{table="confirmed"}')
	ul=$(series "$scrape" 'xlb_flow_table_entries_limit{table="unconfirmed"}')
	if [[ "$c$u$cl$ul" =~ ^[0-9]+$ ]] && ((c + u >= 10 && c < cl && u < ul)); then
		pass metrics_flow_table "entries confirmed=$c/$cl unconfirmed=$u/$ul"
	else
		fail metrics_flow_table "entries confirmed=$c/$cl unconfirmed=$u/$ul (expected 10 <= together, each below its limit)"
	fi
}

# ---- Prometheus ----------------------------------------------------------------

prom_start() {
	mkdir -p "$E2E_DIR/prom"
	cat >"$E2E_DIR/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: xlbd
    static_configs:
      - targets: ['127.0.0.1:$METRICS_PORT']
EOF
	(exec nsenter --net="/run/netns/$(lab_ns gw)" -- prometheus \
		--config.file="$E2E_DIR/prom/prometheus.yml" --storage.tsdb.path="$E2E_DIR/prom/data" \
		--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn) \
		</dev/null >"$E2E_DIR/prom/prometheus.log" 2>&1 &
	E2E_BG_PIDS+=($!)
}

promql() {
	lab_in gw curl -sS --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"}
}

# Until Prometheus has scraped xlbd successfully (at most 30 s).
prom_wait_target() {
	local _
	for _ in $(seq 150); do
		[[ $(promql 'up{job="xlbd"}' 2>/dev/null | jq -r '.data.result[0].value[1]' 2>/dev/null) == 1 ]] && return 0
		sleep 0.2
	done
	return 1
}

# RATE datagrams a second for SECONDS_SENT seconds from one UDP socket (one
# flow), each at its own slot so the average holds whatever the jitter.
# Prints: sent replies start_epoch end_epoch.
udp_sender() {
	local target=$1
	# shellcheck disable=SC2016 # perl's variables, not the shell's
	lab_in client perl -MIO::Socket::IP -MTime::HiRes=time,sleep -e '
		my ($host, $port, $rate, $secs) = @ARGV;
		my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Proto => "udp")
			or die "socket: $@\n";
		$s->blocking(0);
		my ($n, $replies, $t0) = ($rate * $secs, 0, time);
		for my $i (0 .. $n - 1) {
			my $due = $t0 + $i / $rate;
			my $wait = $due - time;
			sleep($wait) if $wait > 0;
			$s->send("ping $i") or die "send: $!\n";
			$replies++ while defined $s->recv(my $buf, 100);
		}
		my $t1 = time;
		for (1 .. 50) { $replies++ while defined $s->recv(my $buf, 100); sleep 0.01; }
		printf "%d %d %.3f %.3f\n", $n, $replies, $t0, $t1;
	' "$target" "$LAB_UDP_PORT" "$RATE" "$SECONDS_SENT"
}

test_prometheus_rate() {
	local name=metrics_prometheus_rate vip sent replies t0 t1 at q got want
	prom_start
	if ! prom_wait_target; then
		fail "$name" "Prometheus never scraped xlbd: $(tail -3 "$E2E_DIR/prom/prometheus.log" | tr '\n' ' ')"
		return
	fi
	pass metrics_prometheus_scrapes_xlbd "up{job=\"xlbd\"} == 1"
	vip=$(vip_of 4 udp)
	read -r sent replies t0 t1 < <(udp_sender "$LAB_VIP4")
	want=$(awk -v n="$sent" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (n - 1) / (b - a) }')
	note "$name: client sent $sent datagrams ($replies replies) in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s: $want/s"
	# Evaluated one second before the client stopped, over a window
	# that started after it had been sending for a while: steady state.
	at=$(awk -v b="$t1" 'BEGIN { printf "%.3f", b - 1 }')
	sleep 2 # the last scrapes of that window reach Prometheus
	q="rate(xlb_vip_packets_total{vip=\"$vip\"}[${WINDOW}s])"
	got=$(promql "$q" "$at" | jq -r '.data.result[0].value[1] // "none"')
	note "$name: $q at $at = $got"
	if [[ $got != none ]] && awk -v g="$got" -v w="$want" -v p="$TOLERANCE_PCT" \
		'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d * 100 <= w * p) }'; then
		pass "$name" "PromQL $q = $(printf '%.1f' "$got")/s, client sent $want/s"
	else
		fail "$name" "PromQL $q = $got, client sent $want/s (+-$TOLERANCE_PCT%)"
		e2e_keep "$E2E_DIR/prom/prometheus.log"
	fi
	check metrics_replies_came_back "$replies of $sent" [ "$replies" -ge $((sent * 9 / 10)) ]
}

main() {
	local need
	e2e_init metrics
	e2e_require_binaries
	for need in promtool prometheus; do
		if ! command -v "$need" >/dev/null; then
			fail metrics "$need is not installed (make deps installs Debian's prometheus)"
			exit 1
		fi
	done
	e2e_lab_up
	lab_mode nat
	xlbd_start_or_die --metrics "$METRICS_PORT"
	vip_setup 4 tcp nat maglev || exit 1
	vip_setup 4 udp nat maglev || exit 1
	ctl_ok check set "$(vip_of 4 tcp)" http interval 200ms || exit 1
	smoke_ok metrics_smoke 4 || exit 1
	udp_burst 4 12 >/dev/null # twelve single-datagram flows, pending
	sleep 1 # a few probe results
	test_listen_default
	test_port_in_use
	test_bad_address
	test_http_errors
	test_scrape
	test_prometheus_rate
	e2e_finish
}

main "$@"
