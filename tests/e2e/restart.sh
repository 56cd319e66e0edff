#!/usr/bin/env bash
# Restart without loss. Two VIPs run at once: tcp 198.19.0.10:80 in nat mode
# and tcp [fd00:ff::10]:80 in dsr mode, with tcp checks and a live change
# made with xlbctl. Under load (wrk keep-alive connections, a stream of new
# connections, and a slow ~10 s download per VIP), xlbd is killed with
# SIGKILL and started again. Expected: zero failed requests, both downloads
# complete with the right checksum, and `xlbctl save` is identical before
# and after. Then `xlbd --detach` removes the program and the pins.
set -euo pipefail
source "$(dirname "$0")/common.bash"

STREAM_RATE=100
STREAM_CONNS=800 # 8 s
DOWNTIME=1 # seconds without a daemon

configure() {
	local fam vip mode
	lab_dsr_all_on # for the dsr VIP; the nat VIP does not mind
	for fam in 4 6; do
		if [[ $fam == 4 ]]; then mode=nat; else mode=dsr; fi
		vip_setup "$fam" tcp "$mode" maglev || return 1
		vip=$(vip_of "$fam" tcp)
		ctl_ok check set "$vip" tcp interval 1s fall 2 rise 2 || return 1
		# A change made live must survive the restart too.
		ctl_ok backend set "$vip" "$(backend_of "$fam" 3)" weight 2 || return 1
	done
}

start_download() {
	local fam=$1 out=$2
	client_bg "$out.log" curl -s -g --max-time 60 -o "$out" -D "$out.headers" \
		-w '%{http_code} %{size_download}\n' "$(vip_url "$fam")big"
}

check_download() {
	local name=$1 out=$2 pid=$3 want got size backend
	wait "$pid" || true
	want=$(cat "$LAB_DIR/www/big.sha256")
	got=$(sha256sum "$out" 2>/dev/null | awk '{print $1}')
	size=$(stat -c %s "$out" 2>/dev/null || echo 0)
	backend=$(awk -F': ' 'tolower($1) == "x-backend" {print $2}' "$out.headers" 2>/dev/null | tr -d '\r')
	note "$name: $size bytes from ${backend:-?}, sha256 ${got:0:16}... (want ${want:0:16}...)"
	check "$name" "$size bytes from ${backend:-?}, checksum $([[ $got == "$want" ]] && echo matches || echo differs)" \
		test "$got" == "$want"
}

main() {
	local save_before save_after t_kill t_ready requests errors non2xx ok fail b1 b2 b3 down_ms
	local wrk_pid stream_pid dl4_pid dl6_pid fam
	e2e_init restart
	e2e_require_binaries
	e2e_lab_up
	xlbd_start_or_die
	configure || exit 1
	sleep 2 # let the first health checks pass
	save_before=$(ctl save)

	start_download 4 "$E2E_DIR/big4"
	dl4_pid=$E2E_BG_PID
	start_download 6 "$E2E_DIR/big6"
	dl6_pid=$E2E_BG_PID
	client_bg "$E2E_DIR/wrk" timeout 30 wrk -t1 -c4 -d8s --timeout 3s "$(vip_url 4)"
	wrk_pid=$E2E_BG_PID
	http_burst 6 "$STREAM_CONNS" --rate "$STREAM_RATE/s" >"$E2E_DIR/stream" &
	stream_pid=$!
	E2E_BG_PIDS+=("$stream_pid")

	sleep 2
	xlbd_kill9
	t_kill=$(now)
	sleep "$DOWNTIME"
	if ! xlbd_start; then
		fail "restart_daemon_comes_back" "xlbd did not start again: $(tail -5 "$E2E_LOG" | tr '\n' ' ')"
		exit 1
	fi
	t_ready=$(now)
	down_ms=$(ms_between "$t_kill" "$t_ready")
	pass "restart_daemon_comes_back" "socket answering ${down_ms} ms after kill -9 (${DOWNTIME}s without a daemon)"

	wait "$wrk_pid" || true
	wait "$stream_pid" || true
	eval "$(wrk_tally "$E2E_DIR/wrk")"
	note "restart: wrk (IPv4 nat, keep-alive) requests=$requests errors=$errors non2xx=$non2xx"
	if ((requests > 0 && errors == 0 && non2xx == 0)); then
		pass "restart_nat_v4_wrk_zero_errors" "$requests requests, 0 errors"
	else
		fail "restart_nat_v4_wrk_zero_errors" "$requests requests, $errors socket errors, $non2xx non-2xx"
	fi
	eval "$(http_tally <"$E2E_DIR/stream")"
	note "restart: new connections (IPv6 dsr) ok=$ok fail=$fail b1=$b1 b2=$b2 b3=$b3"
	check "restart_dsr_v6_new_conns_zero_failures" "$ok of $STREAM_CONNS ok, $fail failed" \
		test "$ok" -eq "$STREAM_CONNS" -a "$fail" -eq 0

	check_download restart_nat_v4_download_intact "$E2E_DIR/big4" "$dl4_pid"
	check_download restart_dsr_v6_download_intact "$E2E_DIR/big6" "$dl6_pid"

	save_after=$(ctl save)
	note "restart: save has $(wc -l <<<"$save_before") lines"
	if [[ $save_before == "$save_after" ]]; then
		pass "restart_state_unchanged" "xlbctl save identical, $(wc -l <<<"$save_before") lines"
	else
		fail "restart_state_unchanged" "save differs: $(diff <(echo "$save_before") <(echo "$save_after") | tr '\n' ' ')"
	fi

	# Detach: program and pins gone, the daemon stopped first.
	xlbd_stop
	lab_in gw "$XLBD" --detach --pin-root "$E2E_PIN" >>"$E2E_LOG" 2>&1 || true
	local left attached
	# find fails when the pin root itself is gone, which is the success case.
	left=$({ find "$E2E_PIN" -mindepth 1 2>/dev/null || true; } | wc -l)
	attached=$(lab_in gw ip -o link show | grep -c ' xdp' || true)
	check "detach_removes_program_and_pins" "$left pins left, $attached interfaces with XDP" \
		test "$left" -eq 0 -a "$attached" -eq 0
	e2e_finish
}

main "$@"
