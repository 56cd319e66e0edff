#!/usr/bin/env bash
# Benchmark part 6: the Prometheus endpoint at scale. xlbd in a gateway
# namespace serves --metrics for METRICS_VIPS VIPs x METRICS_BACKENDS
# backends each (addresses of one backend namespace, one nginx listening on
# all, tcp checks every METRICS_CHECK_S so every backend has probe results).
#   - Scrape time: curl's time_total for METRICS_SCRAPES scrapes in a row,
#     on the gateway's loopback (median and max), and the scrape's size.
#   - xlbd CPU per scrape: xlbd's user + system time (/proc/PID/stat) during
#     the scrapes, less what it uses in as long a time without scrapes
#     (probes, the once-a-second tick), divided by the number of scrapes.
#
# Output: $XB_RESULTS/metrics.tsv. Pins go to /sys/fs/bpf/xbench-metrics and
# are removed again (xlbd --detach) on exit, also after a failure.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

METRICS_VIPS=${METRICS_VIPS:-10}
METRICS_BACKENDS=${METRICS_BACKENDS:-1000}
METRICS_SCRAPES=${METRICS_SCRAPES:-50}
METRICS_CHECK_S=${METRICS_CHECK_S:-10}
METRICS_PORT=9742
PIN_ROOT=/sys/fs/bpf/${XB_PREFIX}metrics
SOCK=$XB_WORK/xlbd.sock
XLBD=

# Backend i (0-based, all VIPs share them) in 198.18.64.0/18.
be_addr() {
	xb_farm_addr 64 "$1"
}

topology() {
	xb_farm_up m 64 18 "$METRICS_BACKENDS" 02
}

# Every VIP gets the same METRICS_BACKENDS addresses, on its own port.
config() {
	local v i vip
	for ((v = 0; v < METRICS_VIPS; v++)); do
		vip="tcp/198.19.0.10:$((8000 + v))"
		echo "vip add $vip mode nat"
		for ((i = 0; i < METRICS_BACKENDS; i++)); do
			echo "backend add $vip $(be_addr "$i"):80"
		done
		echo "check set $vip tcp port 80 interval ${METRICS_CHECK_S}s timeout 1s"
	done
}

xlbd_up() {
	local t0=$SECONDS
	# nsenter execs xlbd: $! is xlbd itself, whose CPU time is measured.
	(exec nsenter --net="/run/netns/$(xb_ns mgw)" -- "$XB_BUILD/xlbd" -i mgw0 \
		-c "$XB_WORK/xlb.conf" --socket "$SOCK" --pin-root "$PIN_ROOT" \
		--state "$XB_WORK/state.conf" --metrics "$METRICS_PORT") 2>"$XB_WORK/xlbd.log" &
	XLBD=$!
	until grep -q 'info: ready:' "$XB_WORK/xlbd.log"; do
		kill -0 "$XLBD" 2>/dev/null || xb_die "xlbd exited: $(tail -3 "$XB_WORK/xlbd.log")"
		((SECONDS - t0 < 180)) || xb_die "xlbd not ready after 180 s (see $XB_WORK/xlbd.log)"
		sleep 0.5
	done
	xb_log "metrics: xlbd ready after $((SECONDS - t0)) s; one check interval for probe results"
	sleep $((METRICS_CHECK_S + 2))
}

cleanup() {
	if [[ -n $XLBD ]]; then
		kill -TERM "$XLBD" 2>/dev/null || true
		wait "$XLBD" 2>/dev/null || true
	fi
	"$XB_BUILD/xlbd" --detach --pin-root "$PIN_ROOT" --socket "$SOCK" >/dev/null 2>&1 || true
	xb_cleanup
}

# xlbd's user + system time in ms.
xlbd_cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($14 + $15) * 1000 / hz }' "/proc/$XLBD/stat"
}

# METRICS_SCRAPES scrapes from one curl: "seconds bytes" per scrape.
scrapes() {
	local i
	for ((i = 0; i < METRICS_SCRAPES; i++)); do
		printf 'url = "http://127.0.0.1:%d/metrics"\noutput = "/dev/null"\n' "$METRICS_PORT"
	done | xb_in mgw curl -sS -K - -w '%{time_total} %{size_download} %{http_code}\n'
}

main() {
	local tsv=$XB_RESULTS/metrics.tsv c0 c1 c2 t0 t1 idle busy times series
	xb_require_root
	[[ -x $XB_BUILD/xlbd ]] || xb_die "$XB_BUILD/xlbd is missing: run make first"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	xb_cleanup
	mkdir -p "$XB_WORK" "$XB_RESULTS"
	topology
	config >"$XB_WORK/xlb.conf"
	xlbd_up
	series=$(xb_in mgw curl -sS "http://127.0.0.1:$METRICS_PORT/metrics" | grep -vc '^#')
	c0=$(xlbd_cpu_ms) t0=$EPOCHREALTIME
	times=$(scrapes)
	c1=$(xlbd_cpu_ms) t1=$EPOCHREALTIME
	sleep "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
	c2=$(xlbd_cpu_ms)
	grep -qv ' 200$' <<<"$times" && xb_die "a scrape failed: $(grep -v ' 200$' <<<"$times" | head -1)"
	busy=$((c1 - c0))
	idle=$((c2 - c1))
	{
		printf 'vips\t%s\nbackends_per_vip\t%s\nseries\t%s\n' "$METRICS_VIPS" "$METRICS_BACKENDS" "$series"
		printf 'scrapes\t%s\nbytes\t%s\n' "$METRICS_SCRAPES" "$(awk 'NR == 1 { print $2 }' <<<"$times")"
		sort -g <<<"$times" | awk '{ v[NR] = $1 * 1000 } END {
			printf "scrape_ms_p50\t%.1f\nscrape_ms_max\t%.1f\n", v[int(NR / 2) + 1], v[NR] }'
		awk -v b="$busy" -v i="$idle" -v n="$METRICS_SCRAPES" -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
			'BEGIN { printf "cpu_ms_per_scrape\t%.1f\nidle_cpu_pct\t%.1f\n", (b - i) / n, 100 * i / 1000 / s }'
	} >"$tsv"
	xb_log "metrics: $METRICS_VIPS VIPs x $METRICS_BACKENDS backends: $(awk -F'\t' '$1 == "scrape_ms_p50" { print $2 }' "$tsv") ms per scrape (p50), $(awk -F'\t' '$1 == "cpu_ms_per_scrape" { print $2 }' "$tsv") ms of xlbd CPU each"
	column -t "$tsv" >&2
}

main "$@"
