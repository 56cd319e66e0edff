#!/usr/bin/env bash
# xlb and Katran per packet in the same minutes, alternating (the method of
# docs/benchmarks.md, "Round 2"): Katran's prebuilt harness, then
# xlb-bench-prog's matching cases; each 1M-entry established case on a table
# of its own, as Katran's harness gives each case its own copy of Katran.
# Compare each program's medians as multiples of its own run's swap_tx.
#
#   tools/bench/katran-compare.sh            2 rounds, 300,000 calls x 5 runs, CPU 1
#   ROUNDS=1 N=100000 R=3 tools/bench/katran-compare.sh
#
# KATRAN_BENCH: the harness binary (default: the one prebuilt under
# ../shared/anchors/katran-bench/, see its README; this script builds nothing).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KATRAN_BENCH=${KATRAN_BENCH:-$ROOT/../shared/anchors/katran-bench/build/katran_bench}
XB=$ROOT/build/tools/xlb-bench-prog
N=${N:-300000} R=${R:-5} ROUNDS=${ROUNDS:-2} CPU=${CPU:-1}

for b in "$KATRAN_BENCH" "$XB"; do
	if [[ ! -x $b ]]; then
		echo "katran-compare: $b missing (build xlb with make; Katran's harness is prebuilt, see its README)" >&2
		exit 1
	fi
done
[[ $(id -u) == 0 ]] || { echo "katran-compare: must run as root" >&2; exit 1; }

xlb() { # label, flows, cases
	"$XB" -c "$CPU" -n "$N" -r "$R" -w 0 -b 3 -f "$2" -C "swap_tx,$3" 2>&1 |
		grep -E '^  (swap|v4)' | sed "s/^/$1 /"
}

for round in $(seq "$ROUNDS"); do
	echo "=== round $round $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
	"$KATRAN_BENCH" -c "$CPU" -n "$N" -r "$R" 2>&1 | grep -E '^  (swap|katran)'
	xlb 1k 1000 v4_tcp_est_nat,v4_tcp_est_dsr,v4_tcp_syn_nat,v4_tcp_syn_dsr,v4_tcp_syn_tunnel,v4_pass_not_vip,v4_pass_hot
	xlb 1M 1000000 v4_tcp_est_nat
	xlb 1M 1000000 v4_tcp_est_dsr
	xlb 1M 1000000 v4_tcp_syn_nat,v4_tcp_syn_dsr,v4_tcp_syn_tunnel
done
