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

# Round 1 and 3 clean; in round 2 xlb's swap_tx is 20 % above Katran's.
saved_run() {
	cat <<'RUN'
=== round 1 10:00:00 load 0.10
  swap_tx                  50.0     50.0     50.0      1.00     1.00  -
  katran_est_1k           290.0    300.0    310.0      6.00     6.00  before ok; after ok
  katran_pass_not_vip     140.0    150.0    160.0      3.00     3.00  before ok; after ok
1k   swap_tx                50.0     50.0     50.0     50.0     0.00     1.00        -  -
1k   v4_tcp_est_nat        190.0    200.0    210.0    200.0     0.00     4.00        -  before ok; after ok
1k   v4_tcp_est_dsr        220.0    230.0    240.0    230.0     0.00     4.60        -  before ok; after ok
1k   v4_pass_not_vip        70.0     80.0     90.0     80.0     0.00     1.60        -  before ok; after ok
=== round 2 10:02:00 load 0.20
  swap_tx                  50.0     50.0     50.0      1.00     1.00  -
  katran_est_1k           290.0    300.0    310.0      6.00     6.00  before ok; after ok
  katran_syn_new_1k       490.0    500.0    510.0     10.00    10.00  before ok; after ok
  katran_pass_not_vip     140.0    150.0    160.0      3.00     3.00  before ok; after ok
1k   swap_tx                60.0     60.0     60.0     60.0     0.00     1.00        -  -
1k   v4_tcp_est_nat        230.0    240.0    250.0    240.0     0.00     4.00        -  before ok; after ok
1k   v4_tcp_est_dsr        250.0    260.0    270.0    260.0     0.00     4.33        -  before ok; after ok
1k   v4_tcp_syn_nat        500.0    510.0    520.0    510.0     0.00     8.50        -  before ok; after ok
1k   v4_pass_not_vip        90.0     96.0    100.0     96.0     0.00     1.60        -  before ok; after ok
=== round 3 10:04:00 load 0.10
  swap_tx                  50.0     50.0     50.0      1.00     1.00  -
  katran_est_1k           290.0    300.0    310.0      6.00     6.00  before ok; after ok
  katran_pass_not_vip     140.0    150.0    160.0      3.00     3.00  before ok; after ok
1k   swap_tx                50.0     50.0     50.0     50.0     0.00     1.00        -  -
1k   v4_tcp_est_nat        180.0    190.0    200.0    190.0     0.00     3.80        -  before ok; after ok
1k   v4_tcp_est_dsr        210.0    220.0    230.0    220.0     0.00     4.40        -  before ok; after ok
1k   v4_pass_not_vip        60.0     70.0     80.0     70.0     0.00     1.40        -  before ok; after ok
RUN
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
