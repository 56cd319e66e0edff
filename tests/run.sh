#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Run xlb's test layers, in order: unit, prog, e2e.
#
#   tests/run.sh [all|unit|prog|e2e]
#
#   unit  every executable build/tests/unit/*
#   prog  every executable build/tests/prog/* (not *.o)          (root)
#   e2e   every tests/e2e/*.sh, run with bash                     (root)
#
# Tests print one line per case on stdout: "PASS <name>", "FAIL <name>: why"
# or "SKIP <name>: why". Output is streamed as it comes; the result lines are
# counted. A file that exits non-zero without a FAIL line, or prints no
# result at all, counts as one more failure, so a crash never passes.
#
# The last line is "N passed, N failed" (", N skipped" when some were).
# Exit status: 1 if anything failed or no test ran at all, else 0.
#
# Environment: BUILD (default build), XLB_TEST_TIMEOUT (seconds per test
# file, default 600: a hang fails instead of wedging CI).

set -u
shopt -s nullglob lastpipe

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

BUILD=${BUILD:-build}
TIMEOUT=${XLB_TEST_TIMEOUT:-600}

total_pass=0
total_fail=0
total_skip=0

usage() {
	echo "usage: $0 [all|unit|prog|e2e]" >&2
	exit 2
}

# The test files of a layer, one per line.
layer_files() {
	local f

	case $1 in
	unit | prog)
		for f in "$BUILD/tests/$1"/*; do
			[[ -f $f && -x $f && $f != *.o ]] && printf '%s\n' "$f"
		done
		;;
	e2e)
		for f in tests/e2e/*.sh; do
			[[ -f $f ]] && printf '%s\n' "$f"
		done
		;;
	esac
}

# Run one test file (label, then the command), stream and count its lines.
run_file() {
	local label=$1 line rc pass=0 fail=0 skip=0 why=""
	shift

	printf '# %s\n' "$label"
	# lastpipe: the loop runs in this shell, so its counts survive.
	timeout -k 10 "$TIMEOUT" "$@" </dev/null 2>&1 |
		while IFS= read -r line || [[ -n $line ]]; do
			printf '%s\n' "$line"
			case $line in
			"PASS "*) pass=$((pass + 1)) ;;
			"FAIL "*) fail=$((fail + 1)) ;;
			"SKIP "*) skip=$((skip + 1)) ;;
			esac
		done
	rc=${PIPESTATUS[0]}

	if ((rc != 0 && fail == 0)) || ((pass + fail + skip == 0)); then
		if ((rc == 124 || rc == 137)); then
			why=" (timed out after ${TIMEOUT}s)"
		elif ((rc > 128)); then
			why=" (killed by signal $((rc - 128)))"
		fi
		printf 'FAIL %s: exited %d without a result%s\n' "$label" "$rc" "$why"
		fail=$((fail + 1))
	fi
	layer_pass=$((layer_pass + pass))
	layer_fail=$((layer_fail + fail))
	layer_skip=$((layer_skip + skip))
}

run_layer() {
	local layer=$1 f n_files=0
	local -a files=()

	layer_pass=0 layer_fail=0 layer_skip=0
	mapfile -t files < <(layer_files "$layer")
	n_files=${#files[@]}

	printf '# layer %s: %d test file(s)\n' "$layer" "$n_files"
	if ((n_files > 0)) && [[ $layer != unit ]] && ((EUID != 0)); then
		printf 'FAIL layer-%s: %d test file(s) need root; run as root: sudo %s %s\n' \
			"$layer" "$n_files" "$0" "$layer"
		layer_fail=$((layer_fail + 1))
	else
		for f in "${files[@]}"; do
			if [[ $layer == e2e ]]; then
				run_file "$f" bash "$f"
			else
				run_file "$f" "$f"
			fi
		done
	fi
	printf '# layer %s: %d passed, %d failed' "$layer" "$layer_pass" "$layer_fail"
	((layer_skip > 0)) && printf ', %d skipped' "$layer_skip"
	printf '\n'
	total_pass=$((total_pass + layer_pass))
	total_fail=$((total_fail + layer_fail))
	total_skip=$((total_skip + layer_skip))
}

main() {
	local which=${1:-all} layer
	local -a layers

	(($# <= 1)) || usage
	case $which in
	all) layers=(unit prog e2e) ;;
	unit | prog | e2e) layers=("$which") ;;
	*) usage ;;
	esac

	for layer in "${layers[@]}"; do
		run_layer "$layer"
	done

	if ((total_pass + total_fail == 0)); then
		echo "# no test ran: build them first (make all)" >&2
	fi
	printf '%d passed, %d failed' "$total_pass" "$total_fail"
	((total_skip > 0)) && printf ', %d skipped' "$total_skip"
	printf '\n'
	((total_fail == 0 && total_pass > 0))
}

main "$@"
