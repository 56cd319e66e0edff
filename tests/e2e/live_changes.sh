#!/usr/bin/env bash
# Live changes under load, in nat (IPv4) and dsr (IPv6) mode:
#   wrk keeps 16 keep-alive connections busy (so that some surely land on
#   the backend drained later: with 4, none did in about 1 run in 16), and
#   a stream of new connections (curl, 200 per second) runs alongside;
#   meanwhile, 2 s apart:
#   add b3, reweight b1 to 3, drain b2, delete b2 (the operator's way to
#   remove a backend: drain, let its connections finish, delete).
# Expected: zero failed requests in wrk and in the stream; b3 takes new
# connections after it is added; b1 takes about 3/5 of them after the
# reweight; b2 accepts no new connection after the drain.
set -euo pipefail
source "$(dirname "$0")/common.bash"

STEP=2 # seconds between changes
STREAM_RATE=200
STREAM_CONNS=2400 # 12 s at STREAM_RATE
# wrk runs until 1 s after the drain and is then stopped with SIGINT (it
# prints its summary): its keep-alive connections must end before b2 is
# deleted, because a flow whose backend is deleted is rescheduled, which
# breaks a connection still open on it. The duration is only a safety net.
WRK_MAX_SECONDS=60
GRACE=0.02 # a connection accepted within 20 ms of the drain was already on its way

# New client connections per backend in (from, to]: "b1=N b2=N b3=N".
new_conns_between() {
	local from=$1 to=$2 i
	for i in $(lab_backend_ids); do
		printf 'b%d=%d ' "$i" $(($(new_conns_after "$i" "$from") - $(new_conns_after "$i" "$to")))
	done
}

# Run one xlbctl change and print the time it returned; its duration goes
# to a note (a change that takes long shows up here first).
timed_change() {
	local tag=$1 t0 t1
	shift
	t0=$(now)
	ctl_ok "$@" || true
	t1=$(now)
	note "$tag: '$*' took $(ms_between "$t0" "$t1") ms" >&2
	echo "$t1"
}

# The new connections backend i accepted after time t, one line each:
# milliseconds after t, client address and port.
late_conns() {
	awk -v t="$2" '
		$3 ~ /^198\.18\.[1-9]/ || $3 ~ /^fd00:[1-9][0-9a-f]*::1$/ { next }
		$6 == 1 && ($1 - $2) > t { printf "+%dms %s:%s\n", (($1 - $2) - t) * 1000, $3, $4 }' "$(backend_log "$1")"
}

# Of the client endpoints ("ADDR:PORT", one per line on stdin), those that
# no backend saw before time t: connections whose 5-tuple is new, as opposed
# to a client port the kernel handed out again (on this kernel the ports to
# one destination come round again after about 1400 connections).
fresh_endpoints_before() {
	local t=$1 want
	want=$(cat)
	[[ -n $want ]] || return 0
	awk -v t="$t" -v want="$want" '
		BEGIN { n = split(want, w, "\n"); for (i = 1; i <= n; i++) if (w[i] != "") wanted[w[i]] = 1 }
		$1 <= t && (($3 ":" $4) in wanted) { seen[$3 ":" $4] = 1 }
		END { for (e in wanted) if (!(e in seen)) print e }' \
		"$(backend_log 1)" "$(backend_log 2)" "$(backend_log 3)"
}

# Requests on already open connections handled by backend i after time t.
reused_conn_requests_after() {
	awk -v t="$2" '$6 > 1 && $1 > t { n++ } END { print n + 0 }' "$(backend_log "$1")"
}

run_live() {
	local mode=$1 fam=$2 tag="live_${1}_v${2}" vip t_add t_rw t_drain t_del t_end
	local requests errors non2xx ok fail b1 b2 b3 window late fresh before_drain after_drain saved
	lab_mode "$mode"
	vip_setup "$fam" tcp "$mode" maglev 1 2 || return 0
	vip=$(vip_of "$fam" tcp)

	client_bg "$E2E_DIR/wrk.$tag" timeout 90 wrk -t1 -c16 -d"${WRK_MAX_SECONDS}s" --timeout 3s "$(vip_url "$fam")"
	local wrk_pid=$E2E_BG_PID
	http_burst "$fam" "$STREAM_CONNS" --rate "$STREAM_RATE/s" >"$E2E_DIR/stream.$tag" &
	local stream_pid=$!
	E2E_BG_PIDS+=("$stream_pid")

	sleep "$STEP"
	t_add=$(timed_change "$tag" backend add "$vip" "$(backend_of "$fam" 3)" weight 1)
	sleep "$STEP"
	t_rw=$(timed_change "$tag" backend set "$vip" "$(backend_of "$fam" 1)" weight 3)
	sleep "$STEP"
	before_drain=$(reused_conn_requests_after 2 0)
	t_drain=$(timed_change "$tag" backend set "$vip" "$(backend_of "$fam" 2)" drain)
	sleep 1
	kill -INT "$wrk_pid" 2>/dev/null || true
	wait "$wrk_pid" || true
	sleep $((STEP - 1))
	t_del=$(timed_change "$tag" backend del "$vip" "$(backend_of "$fam" 2)")
	wait "$stream_pid" || true
	t_end=$(now)

	eval "$(wrk_tally "$E2E_DIR/wrk.$tag")"
	note "$tag: wrk requests=$requests errors=$errors non2xx=$non2xx"
	if ((requests > 0 && errors == 0 && non2xx == 0)); then
		pass "${tag}_wrk_zero_errors" "$requests requests, 0 errors"
	else
		fail "${tag}_wrk_zero_errors" "$requests requests, $errors socket errors, $non2xx non-2xx: $(tr '\n' ' ' <"$E2E_DIR/wrk.$tag")"
		# Which keep-alive connection broke, and when ($connection,
		# $connection_requests per request), beside the datapath's counters.
		ctl stats >"$E2E_DIR/stats.$tag" 2>&1 || true
		e2e_keep "$(backend_log 1)" "$(backend_log 2)" "$(backend_log 3)" "$E2E_DIR/stats.$tag" \
			"$E2E_DIR/wrk.$tag"
	fi

	eval "$(http_tally <"$E2E_DIR/stream.$tag")"
	note "$tag: new-connection stream ok=$ok fail=$fail b1=$b1 b2=$b2 b3=$b3"
	check "${tag}_new_conns_zero_failures" "$ok of $STREAM_CONNS new connections ok, $fail failed" \
		test "$ok" -eq "$STREAM_CONNS" -a "$fail" -eq 0

	window=$(new_conns_between "$t_add" "$t_rw")
	note "$tag: after add b3: $window"
	check "${tag}_add_backend" "new connections after add: $window" \
		test "$(new_conns_after 3 "$t_add")" -gt 0

	window=$(new_conns_between "$t_rw" "$t_drain")
	eval "${window// /; }"
	note "$tag: after reweight b1=3 (expected 60/20/20%): $window"
	check "${tag}_reweight" "after weight 3 on b1: ${window% }" \
		test $((b1 * 100)) -ge $(((b1 + b2 + b3) * 50)) -a "$b1" -gt "$b2" -a "$b1" -gt "$b3"

	late=$(new_conns_after 2 "$(time_plus "$t_drain" "$GRACE")")
	fresh=$(late_conns 2 "$(time_plus "$t_drain" "$GRACE")" | awk '{print $2}' | fresh_endpoints_before "$t_drain" | wc -l)
	window=$(new_conns_between "$t_drain" "$t_del")
	note "$tag: after drain b2: $window; new connections on b2 after the drain: $late ($((late - fresh)) from a reused client port, see ${tag}_drain_reused_port)"
	check "${tag}_drain_no_new_conns" "b2 accepted $fresh new connections after drain (+$((late - fresh)) from reused client ports); window $window" \
		test "$fresh" -eq 0
	if ((late > 0)); then
		echo "t_add=$t_add t_rw=$t_rw t_drain=$t_drain t_del=$t_del" >"$E2E_DIR/times.$tag"
		ctl -j show >"$E2E_DIR/show.$tag" 2>&1 || true
		e2e_keep "$E2E_DIR/times.$tag" "$E2E_DIR/show.$tag" "$E2E_DIR/stream.$tag" "$E2E_DIR/wrk.$tag" "$E2E_LOG" \
			"$(backend_log 1)" "$(backend_log 2)" "$(backend_log 3)"
	fi
	after_drain=$(reused_conn_requests_after 2 "$t_drain")
	if ((before_drain > 0)); then
		note "$tag: keep-alive requests on drained b2 after the drain: $after_drain"
		check "${tag}_drain_keeps_established" "$after_drain requests on b2's open connections after drain" \
			test "$after_drain" -gt 0
	else
		note "$tag: no keep-alive connection landed on b2 before the drain (not checked)"
	fi

	saved=$(ctl save 2>&1 || true)
	check "${tag}_del_backend" "b2 gone from save, $(new_conns_between "$t_del" "$t_end")" \
		bash -c '! grep -qF -- "$1" <<<"$2"' _ "$(backend_bare "$fam" 2)" "$saved"
	vip_teardown "$fam" tcp
}

# One request from a fixed client port; prints the backend that answered
# (nothing if none did). When the client itself still holds the previous
# connection of that port in TIME_WAIT (curl closed before the server's FIN
# arrived), curl cannot bind it (exit 45): that says nothing about xlb, so
# wait for the port, up to the 60 s a TIME_WAIT lasts, and try again.
request_from_port() {
	local fam=$1 port=$2 try out rc
	for try in $(seq 65); do
		rc=0
		out=$(lab_in client curl -s -g -o /dev/null --connect-timeout 2 --max-time 5 \
			-H 'Connection: close' --local-port "$port" -w '%header{x-backend}' \
			"$(vip_url "$fam")") || rc=$?
		((rc == 45)) || break
		sleep 1
	done
	printf '%s' "$out"
}

# A new connection that happens to reuse the client port (so the 5-tuple) of
# an earlier connection to a backend that is drained since: it is a new
# connection all the same and must not go to the drained backend. Ports wrap
# quickly on current kernels (see fresh_endpoints_before), and clients
# behind NAT reuse ports all the time.
run_drain_reused_port() {
	local mode=$1 fam=$2 name="live_${1}_v${2}_drain_reused_port" vip port first="" again
	lab_mode "$mode"
	vip_setup "$fam" tcp "$mode" maglev || return 0
	vip=$(vip_of "$fam" tcp)
	for port in $(seq 40001 40060); do
		first=$(request_from_port "$fam" "$port")
		[[ $first == b2 ]] && break
	done
	if [[ $first != b2 ]]; then
		fail "$name" "no port in 40001-40060 reached b2 (last answer '$first')"
		vip_teardown "$fam" tcp
		return 0
	fi
	ctl_ok backend set "$vip" "$(backend_of "$fam" 2)" drain || return 0
	sleep 0.2
	again=$(request_from_port "$fam" "$port")
	note "$name: port $port reached b2; after draining b2 a new connection from the same port reached '${again:-nothing}'"
	check "$name" "new connection from reused client port $port after draining b2 went to '${again:-nothing}'" \
		test -n "$again" -a "$again" != b2
	vip_teardown "$fam" tcp
}

main() {
	e2e_init live
	e2e_require_binaries
	e2e_lab_up
	xlbd_start_or_die
	run_live nat 4
	run_live dsr 6
	run_drain_reused_port nat 4
	run_drain_reused_port dsr 6
	e2e_finish
}

main "$@"
