#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# tools/bench/katran-compare.sh's summary, from a saved run whose figures
# are chosen so every ratio is known: per round xlb's multiple of its
# swap_tx over Katran's; a round whose two swap_tx medians are more than
# 15 % apart shown as the ratio of nanoseconds in parentheses and left out
# of the median; the median of the other rounds and the verdict against
# each target, met or not; a case without figures, or with disturbed
# rounds only, says so. Needs no lab and no root.

# shellcheck source=common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
E2E_NAME=bench_compare

COMPARE=$E2E_REPO/tools/bench/katran-compare.sh

# One line of each harness's table, in its own columns (min, median, max,
# ...): the summary reads Katran's median from the third field and xlb's
# from the fourth.
katran_line() {
	printf '  %-20s %8.1f %8.1f %8.1f      -     -  before ok; after ok\n' "$1" "$(($2 - 10))" "$2" "$(($2 + 10))"
}

xlb_line() {
	printf '1k   %-18s %8.1f %8.1f %8.1f %8.1f     0.00     -        -  before ok; after ok\n' \
		"$1" "$(($2 - 10))" "$2" "$(($2 + 10))" "$2"
}

# Katran's figures, the same every round: swap_tx 50 ns.
katran_round() {
	echo "=== round $1 10:0$1:00 load 0.10"
	katran_line swap_tx 50
	katran_line katran_est_1k 300
	katran_line katran_syn_new_1k 500
	katran_line katran_pass_not_vip 150
}

# Round 1 and 3 clean; in round 2 xlb's swap_tx is 20 % above Katran's.
# SYN nat has figures in round 2 only.
saved_run() {
	katran_round 1
	xlb_line swap_tx 50
	xlb_line v4_tcp_est_nat 200
	xlb_line v4_tcp_est_dsr 230
	xlb_line v4_pass_not_vip 80
	katran_round 2
	xlb_line swap_tx 60
	xlb_line v4_tcp_est_nat 240
	xlb_line v4_tcp_est_dsr 260
	xlb_line v4_tcp_syn_nat 510
	xlb_line v4_pass_not_vip 96
	katran_round 3
	xlb_line swap_tx 50
	xlb_line v4_tcp_est_nat 190
	xlb_line v4_tcp_est_dsr 220
	xlb_line v4_pass_not_vip 70
}

has_line() {
	grep -qxF -- "$2" <<<"$1"
}

main() {
	local out
	E2E_DIR=$(mktemp -d /tmp/xe2e-bench_compare.XXXXXX)
	trap 'rm -rf -- "$E2E_DIR"' EXIT
	saved_run >"$E2E_DIR/run.txt"
	out=$("$COMPARE" --summarize "$E2E_DIR/run.txt" 2>&1)
	printf '%s\n' "$out" | sed 's/^/# /'
	# 200/50 over 300/50; round 2 out (240/300 in ns); 190/50 over 300/50.
	check summary_rounds_and_median "0.67, (0.80), 0.63: median 0.650, met" \
		has_line "$out" "  established-nat-1k      0.67  (0.80)  0.63    median 0.650   target <= 0.7: met"
	check summary_target_missed "0.77, (0.87), 0.73: median 0.750, not met" \
		has_line "$out" "  established-dsr-1k      0.77  (0.87)  0.73    median 0.750   target <= 0.7: not met"
	check summary_pass_case "0.53, (0.64), 0.47: median 0.500, met" \
		has_line "$out" "  pass-not-vip            0.53  (0.64)  0.47    median 0.500   target <= 0.6: met"
	check summary_disturbed_only "SYN-nat-1k: round 2 only (510/500)" \
		has_line "$out" "  SYN-nat-1k             (1.02)   no undisturbed round"
	check summary_case_without_figures "SYN-dsr-1k" \
		has_line "$out" "  SYN-dsr-1k             no figures"
	check summary_needs_a_file "exit 2 without a readable file" \
		bash -c "'$COMPARE' --summarize '$E2E_DIR/missing' 2>/dev/null; [[ \$? == 2 ]]"
	e2e_finish
}

main
