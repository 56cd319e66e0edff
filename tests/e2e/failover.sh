#!/usr/bin/env bash
# Failover under load, in nat (IPv4) and dsr (IPv6) mode. The VIP has an
# http check every 500 ms, fall 2, rise 2, timeout 500 ms. While wrk and a
# prober (one new connection per request, each timestamped) run, b2's nginx
# is stopped:
#   - b2 must be marked down within interval x fall + timeout (1.5 s);
#   - from then on no new connection may fail, and none reaches b2;
#   - nginx started again: b2 must be up within rise x interval + timeout
#     (1.5 s) and take new connections again.
set -euo pipefail
source "$(dirname "$0")/common.bash"

INTERVAL_MS=500
TIMEOUT_MS=500 # xlbd requires timeout <= interval
FALL=2
RISE=2
DOWN_BOUND_MS=$((INTERVAL_MS * FALL + TIMEOUT_MS))
UP_BOUND_MS=$((INTERVAL_MS * RISE + TIMEOUT_MS))
POLL=0.05 # seconds between looks at xlbctl show in wait_health
BURST=300

# Wait until backend i is in health state want (up|down); prints the time it
# was seen so, or returns 1 after limit seconds.
wait_health() {
	local fam=$1 i=$2 want=$3 limit=$4 n
	for ((n = 0; n < limit * 20; n++)); do
		if [[ $(backend_health "$fam" "$i") == "$want" ]]; then
			now
			return 0
		fi
		sleep "$POLL"
	done
	return 1
}

# One request per new connection, for at most `seconds`, each line
# "START_TIME STATUS BACKEND".
start_prober() {
	local fam=$1 seconds=$2 out=$3
	client_bg "$out" bash -c '
		end=$((EPOCHSECONDS + $2))
		while ((EPOCHSECONDS < end)); do
			t=$EPOCHREALTIME
			r=$(curl -s -o /dev/null -H "Connection: close" --connect-timeout 1 --max-time 2 \
				-w "%{http_code} %header{x-backend}" "$1")
			echo "$t $r"
			sleep 0.02
		done' _ "$(vip_url "$fam")" "$seconds"
}

run_failover() {
	local mode=$1 fam=$2 tag="failover_${1}_v${2}" vip t_kill t_down t_restart t_up ms
	local prober_pid requests errors non2xx ok fail b1 b2 b3 bad total
	lab_mode "$mode"
	vip_setup "$fam" tcp "$mode" maglev || return 0
	vip=$(vip_of "$fam" tcp)
	ctl_ok check set "$vip" http interval "${INTERVAL_MS}ms" timeout "${TIMEOUT_MS}ms" \
		fall "$FALL" rise "$RISE" || return 0
	for i in $(lab_backend_ids); do
		if ! wait_health "$fam" "$i" up 10 >/dev/null; then
			fail "$tag" "b$i never became up: $(ctl show 2>&1 | tr '\n' ' ')"
			return 0
		fi
	done

	client_bg "$E2E_DIR/wrk.$tag" timeout 30 wrk -t1 -c4 -d5s --timeout 2s "$(vip_url "$fam")"
	local wrk_pid=$E2E_BG_PID
	start_prober "$fam" 30 "$E2E_DIR/prober.$tag"
	prober_pid=$E2E_BG_PID
	sleep 1.5

	# Timed from the stop signal: nginx takes a moment to exit, and the
	# bound is for the operator, who sees the backend die at that moment.
	t_kill=$(now)
	lab_nginx_stop 2
	# The moment xlbd logged the change is the detection time; xlbctl show
	# must agree right after.
	if ! t_down=$(wait_log "backend $(backend_of "$fam" 2):80 of $vip down" "$t_kill" 10); then
		fail "${tag}_detect" "xlbd logged no down for b2 10 s after its nginx stopped: $(ctl show 2>&1 | tr '\n' ' ')"
		kill "$prober_pid" 2>/dev/null || true
		return 0
	fi
	ms=$(ms_between "$t_kill" "$t_down")
	note "$tag: b2 marked down ${ms} ms after nginx was told to stop (bound ${DOWN_BOUND_MS} ms): $(grep -F "backend $(backend_of "$fam" 2):80 of $vip down" "$E2E_LOG" | tail -1 | cut -d' ' -f2-)"
	check "${tag}_detect" "down after ${ms} ms, bound ${DOWN_BOUND_MS} ms; show says $(backend_health "$fam" 2)" \
		test "$ms" -le "$DOWN_BOUND_MS" -a "$(backend_health "$fam" 2)" == down

	wait "$wrk_pid" || true
	eval "$(wrk_tally "$E2E_DIR/wrk.$tag")"
	note "$tag: wrk across the failure: requests=$requests errors=$errors non2xx=$non2xx (errors before detection are expected)"

	eval "$(http_burst "$fam" "$BURST" | http_tally)"
	note "$tag: $BURST new connections after detection: ok=$ok fail=$fail b1=$b1 b2=$b2 b3=$b3"
	check "${tag}_after_detect_no_failures" "$ok/$BURST ok, b1=$b1 b2=$b2 b3=$b3" \
		test "$ok" -eq "$BURST" -a "$b2" -eq 0

	t_restart=$(now)
	lab_nginx_start 2
	if ! t_up=$(wait_log "backend $(backend_of "$fam" 2):80 of $vip up" "$t_restart" 10); then
		fail "${tag}_return" "xlbd logged no up for b2 10 s after nginx restarted: $(ctl show 2>&1 | tr '\n' ' ')"
		kill "$prober_pid" 2>/dev/null || true
		return 0
	fi
	ms=$(ms_between "$t_restart" "$t_up")
	eval "$(http_burst "$fam" "$BURST" | http_tally)"
	note "$tag: b2 up ${ms} ms after nginx restarted (bound ${UP_BOUND_MS} ms); then ok=$ok fail=$fail b1=$b1 b2=$b2 b3=$b3"
	check "${tag}_return" "up after ${ms} ms (bound ${UP_BOUND_MS} ms), show says $(backend_health "$fam" 2), then b1=$b1 b2=$b2 b3=$b3" \
		test "$ms" -le "$UP_BOUND_MS" -a "$b2" -gt 0 -a "$fail" -eq 0 -a "$(backend_health "$fam" 2)" == up

	kill "$prober_pid" 2>/dev/null || true
	wait "$prober_pid" 2>/dev/null || true
	total=$(awk -v t="$t_down" '$1 > t' "$E2E_DIR/prober.$tag" | wc -l)
	bad=$(awk -v t="$t_down" '$1 > t && $2 != "200"' "$E2E_DIR/prober.$tag" | wc -l)
	note "$tag: prober: $(awk -v t="$t_down" '$1 <= t && $2 != "200"' "$E2E_DIR/prober.$tag" | wc -l) failed before detection, $bad of $total failed after"
	check "${tag}_prober_after_detect" "$bad of $total new connections failed after detection" test "$bad" -eq 0
	vip_teardown "$fam" tcp
}

main() {
	e2e_init failover
	e2e_require_binaries
	e2e_lab_up
	xlbd_start_or_die
	run_failover nat 4
	run_failover dsr 6
	e2e_finish
}

main "$@"
