#!/usr/bin/env bash
# Benchmark part 5: health probes at scale. xlbd in a gateway namespace
# probes HEALTH_BACKENDS backends (addresses of one backend namespace, where
# one nginx listens on all of them) with a tcp check every second.
#   - CPU used by xlbd: /proc/PID/stat over HEALTH_SECONDS, quiet (no -v).
#   - Probe scheduling jitter: a second run with -v, each "probe ... ok" log
#     line timestamped as it arrives; per backend, the time between two
#     probe completions minus the interval.
#
# Output: $XB_RESULTS/health.tsv. Pins go to /sys/fs/bpf/xbench-health and
# are removed again (xlbd --detach) on exit, also after a failure.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

HEALTH_BACKENDS=${HEALTH_BACKENDS:-1000}
HEALTH_SECONDS=${HEALTH_SECONDS:-10}
PIN_ROOT=/sys/fs/bpf/${XB_PREFIX}health
SOCK=$XB_WORK/xlbd.sock
VIP=198.19.0.10
XLBD_PID=

backend_addr() {
	xb_farm_addr 32 "$1" # within 198.18.32.0/22
}

topology_up() {
	xb_farm_up h 32 22 "$HEALTH_BACKENDS" 01
}

config() {
	local i
	echo "vip add tcp/$VIP:80 mode nat"
	for ((i = 0; i < HEALTH_BACKENDS; i++)); do
		echo "backend add tcp/$VIP:80 $(backend_addr "$i"):80"
	done
	echo "check set tcp/$VIP:80 tcp interval 1s timeout 1s rise 2 fall 3"
}

# xlbd_start [-v]: xlbd in the gateway namespace (network only: it sees the
# host's bpffs), its stderr into $XB_WORK/xlbd.log with arrival times.
xlbd_start() {
	rm -f "$XB_WORK/state.conf" "$XB_WORK/xlbd.log"
	(exec nsenter --net="/run/netns/$(xb_ns hgw)" -- "$XB_BUILD/xlbd" -i hgw0 \
		-c "$XB_WORK/xlb.conf" --socket "$SOCK" --pin-root "$PIN_ROOT" \
		--state "$XB_WORK/state.conf" "$@" 2> >(while IFS= read -r line; do
			printf '%s %s\n' "$EPOCHREALTIME" "$line"
		done >"$XB_WORK/xlbd.log")) &
	XLBD_PID=$!
}

# xlbd_stop (tools/lab.sh), then its datapath detached and unpinned.
xlbd_stop_detach() {
	xlbd_stop
	"$XB_BUILD/xlbd" --detach --pin-root "$PIN_ROOT" --socket "$SOCK" >/dev/null 2>&1 || true
}

cleanup() {
	xlbd_stop_detach
	xb_cleanup
}

# Until xlbd says it is ready (it applies the configuration first), at most
# 120 s, then one probe interval and a bit for the first round of probes.
wait_ready() {
	local t0=$SECONDS
	until grep -q 'info: ready:' "$XB_WORK/xlbd.log" 2>/dev/null; do
		((SECONDS - t0 < 120)) || xb_die "xlbd not ready after 120 s (see $XB_WORK/xlbd.log)"
		sleep 0.5
	done
	xb_log "health: xlbd ready after $((SECONDS - t0)) s"
	sleep 3
}

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# xlbd's own pid: the nsenter child execs it, so it is XLBD_PID's child or
# XLBD_PID itself, whichever runs xlbd.
xlbd_pid() {
	local p
	for p in $XLBD_PID $(pgrep -P "$XLBD_PID" 2>/dev/null); do
		[[ $(readlink "/proc/$p/exe" 2>/dev/null) == "$XB_BUILD/xlbd" ]] && echo "$p" && return
	done
}

measure_cpu() {
	local pid t0 t1 hz
	pid=$(xlbd_pid)
	[[ -n $pid ]] || xb_die "xlbd is not running (see $XB_WORK/xlbd.log)"
	hz=$(getconf CLK_TCK)
	t0=$(cpu_ticks "$pid")
	sleep "$HEALTH_SECONDS"
	t1=$(cpu_ticks "$pid")
	awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$HEALTH_SECONDS" 'BEGIN { printf "%.2f", 100 * d / hz / s }'
}

# From the timestamped -v log: per backend, intervals between probe results.
jitter() {
	awk '$4 == "probe" && $6 == "of" { t = $1; be = $5; if (be in last) print (t - last[be]) * 1000 - 1000; last[be] = t }' \
		"$XB_WORK/xlbd.log" | sort -g | awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "0\t0\t0\t0"; exit }
			printf "%d\t%.1f\t%.1f\t%.1f\n", NR, v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1], v[NR] }'
}

main() {
	local tsv=$XB_RESULTS/health.tsv cpu j
	xb_require_root
	[[ -x $XB_BUILD/xlbd ]] || xb_die "$XB_BUILD/xlbd is missing: run make first"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	xb_cleanup
	mkdir -p "$XB_WORK" "$XB_RESULTS"
	topology_up
	config >"$XB_WORK/xlb.conf"
	xlbd_start
	wait_ready
	cpu=$(measure_cpu)
	xlbd_stop_detach
	xlbd_start -v
	wait_ready
	sleep "$HEALTH_SECONDS"
	j=$(jitter)
	xlbd_stop_detach
	{
		printf 'backends\t%s\n' "$HEALTH_BACKENDS"
		printf 'interval_ms\t1000\n'
		printf 'xlbd_cpu_pct\t%s\n' "$cpu"
		printf 'jitter_samples\t%s\n' "$(cut -f1 <<<"$j")"
		printf 'jitter_p50_ms\t%s\n' "$(cut -f2 <<<"$j")"
		printf 'jitter_p99_ms\t%s\n' "$(cut -f3 <<<"$j")"
		printf 'jitter_max_ms\t%s\n' "$(cut -f4 <<<"$j")"
	} >"$tsv"
	xb_log "health: xlbd ${cpu}% of a CPU for $HEALTH_BACKENDS backends probed every second"
	column -t "$tsv" >&2
}

main "$@"
