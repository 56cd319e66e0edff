#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# make fuzz: run each harness for FUZZ_TIME seconds (default 60), one after
# the other, and report executions per second.
#
#   tests/fuzz/run.sh [stmt] [batch] [proto] [packet]
#
# libFuzzer harnesses start from tests/fuzz/corpus/NAME/ and write what they
# find into a scratch directory; inputs that add coverage are then merged
# into the saved corpus (FUZZ_SAVE=0: leave it alone), which stays small
# because a merge keeps only what adds coverage. A crash or a broken
# invariant fails the run and keeps the input under build/fuzz/crashes/.
# The packet fuzzer needs root (netns, BPF) and saves one input per new
# outcome it sees (FUZZ_SEED picks its mutations; default: the time).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BUILD=${BUILD:-build}
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_SAVE=${FUZZ_SAVE:-1}
FUZZ_SEED=${FUZZ_SEED:-$(date +%s)}
CORPUS=tests/fuzz/corpus
CRASHES=$BUILD/fuzz/crashes
failed=0

run_libfuzzer() {
	local name=$1 bin=$BUILD/fuzz/fuzz-$1 work log eps runs
	work=$(mktemp -d "$BUILD/fuzz/work-$name.XXXXXX")
	log=$BUILD/fuzz/$name.log
	mkdir -p "$CRASHES"
	# -close_fd_mask=1: the harness's stdout; libFuzzer reports on stderr.
	if ! nice -n 10 "$bin" -max_total_time="$FUZZ_TIME" -print_final_stats=1 \
		-close_fd_mask=1 -artifact_prefix="$CRASHES/$name-" \
		"$work" "$CORPUS/$name" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		echo "fuzz $name: FAILED (input kept in $CRASHES/, log $log)"
		failed=1
		rm -rf "$work"
		return
	fi
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [[ $FUZZ_SAVE == 1 ]]; then
		"$bin" -merge=1 "$CORPUS/$name" "$work" >>"$log" 2>&1
	fi
	rm -rf "$work"
	echo "fuzz $name: ok, $runs executions in ${FUZZ_TIME}s, $eps exec/s," \
		"corpus $(find "$CORPUS/$name" -type f | wc -l) files"
}

run_packet() {
	local out save=() n
	n=$(find "$CORPUS/packet" -type f 2>/dev/null | wc -l)
	# No coverage to merge by: stop saving once the corpus is a few hundred.
	[[ $FUZZ_SAVE == 1 ]] && ((n < 300)) && save=(-save "$CORPUS/packet")
	mkdir -p "$CRASHES"
	if ! out=$(nice -n 10 "$BUILD/tests/prog/fuzz-packet" fuzz -time "$FUZZ_TIME" \
		-seed "$FUZZ_SEED" -crashes "$CRASHES" "${save[@]}" 2>&1); then
		printf '%s\n' "$out" | tail -n 40 >&2
		echo "fuzz packet: FAILED (seed $FUZZ_SEED)"
		failed=1
		return
	fi
	printf '%s\n' "$out" | tail -n 1
}

main() {
	local h
	(($# > 0)) || set -- stmt batch proto packet
	for h in "$@"; do
		case $h in
		packet) run_packet ;;
		*) run_libfuzzer "$h" ;;
		esac
	done
	return $failed
}

main "$@"
