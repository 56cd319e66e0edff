#!/usr/bin/env bash
# The benchmark driver behind `make bench` and `make bench-PART`.
#
#   tools/bench/run.sh all|prog|fwd|conn|ctl|health|metrics|scaleout|report
#
# all: installs what the benchmarks need, runs every part, writes
# docs/benchmarks.md with charts and prints a short summary. A single part
# runs alone and then rewrites the report from every result present in
# $XB_RESULTS (build/bench/). Everything runs inside network namespaces the
# parts create and remove; nothing touches the machine's own interfaces.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)

part_prog() {
	xb_require_tools xlb-bench-prog
	# shellcheck disable=SC2086 # PROG_ARGS: options, one per word
	"$XB_TOOLS/xlb-bench-prog" -v ${PROG_ARGS:-} -o "$XB_RESULTS/prog.tsv" | tee "$XB_RESULTS/prog.txt"
}

part_fwd() {
	"$BENCH_DIR/fwd.sh"
}

part_conn() {
	"$BENCH_DIR/conn.sh"
}

part_health() {
	"$BENCH_DIR/health.sh"
}

part_metrics() {
	"$BENCH_DIR/metrics.sh"
}

part_scaleout() {
	"$BENCH_DIR/scaleout.sh"
}

part_ctl() {
	xb_require_tools xlb-bench-ctl
	"$XB_TOOLS/xlb-bench-ctl" --tsv "$XB_RESULTS/ctl.tsv" | tee "$XB_RESULTS/ctl.txt"
}

run_part() {
	local part=$1 t0 rc=0
	t0=$(date +%s)
	xb_log "part $part: start"
	"part_$part" || rc=$?
	printf '%s\t%s\t%s\n' "$part" "$(($(date +%s) - t0))" "$rc" >>"$XB_RESULTS/parts.tsv"
	xb_log "part $part: done in $(($(date +%s) - t0)) s (exit $rc)"
	return "$rc"
}

report() {
	xb_machine >"$XB_RESULTS/machine.tsv"
	"$BENCH_DIR/report.sh"
}

main() {
	local what=${1:-all} t0 part failed=""
	xb_require_root
	mkdir -p "$XB_RESULTS"
	case $what in
	all)
		t0=$(date +%s)
		"$XB_ROOT/tools/deps.sh"
		"$BENCH_DIR/deps.sh"
		: >"$XB_RESULTS/parts.tsv"
		for part in prog fwd conn ctl health metrics scaleout; do
			run_part "$part" || failed+=" $part"
		done
		report
		xb_log "all parts in $(($(date +%s) - t0)) s${failed:+; failed:$failed}"
		[[ -z $failed ]]
		;;
	prog | fwd | conn | ctl | health | metrics | scaleout)
		"$BENCH_DIR/deps.sh"
		run_part "$what"
		report
		;;
	report)
		report
		;;
	*)
		echo "usage: tools/bench/run.sh all|prog|fwd|conn|ctl|health|metrics|scaleout|report" >&2
		exit 2
		;;
	esac
}

main "$@"
