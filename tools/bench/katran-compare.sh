#!/usr/bin/env bash
# xlb and Katran per packet in the same minutes, alternating (the method of
# docs/benchmarks.md, "Round 2"): Katran's prebuilt harness, then
# xlb-bench-prog's matching cases; each 1M-entry established case on a table
# of its own, as Katran's harness gives each case its own copy of Katran.
# Compare each program's medians as multiples of its own run's swap_tx; the
# summary at the end does that for every round and case and sets the
# median beside the target of issue 10.
#
#   tools/bench/katran-compare.sh            2 rounds, 300,000 calls x 5 runs, CPU 1
#   ROUNDS=1 N=100000 R=3 tools/bench/katran-compare.sh
#   tools/bench/katran-compare.sh --summarize FILE   the summary of a saved run
#
# KATRAN_BENCH: the harness binary (default: the one prebuilt under
# ../shared/anchors/katran-bench/, see its README; this script builds nothing).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KATRAN_BENCH=${KATRAN_BENCH:-$ROOT/../shared/anchors/katran-bench/build/katran_bench}
XB=$ROOT/build/tools/xlb-bench-prog
N=${N:-300000} R=${R:-5} ROUNDS=${ROUNDS:-2} CPU=${CPU:-1}

if [[ ${1:-} == --summarize ]]; then
	[[ -r ${2:-} ]] || { echo "katran-compare: --summarize needs a readable file (a saved run's output)" >&2; exit 2; }
	SUMMARIZE_ONLY=$2
fi

for b in "$KATRAN_BENCH" "$XB"; do
	[[ -n ${SUMMARIZE_ONLY:-} ]] && break
	if [[ ! -x $b ]]; then
		echo "katran-compare: $b missing (build xlb with make; Katran's harness is prebuilt, see its README)" >&2
		exit 1
	fi
done
[[ -n ${SUMMARIZE_ONLY:-} || $(id -u) == 0 ]] || { echo "katran-compare: must run as root" >&2; exit 1; }

xlb() { # label, flows, cases
	"$XB" -c "$CPU" -n "$N" -r "$R" -w 0 -b 3 -f "$2" -C "swap_tx,$3" 2>&1 |
		grep -E '^  (swap|v4)' | sed "s/^/$1 /"
}

# The summary: per round and case, xlb's multiple of its swap_tx over
# Katran's multiple of its own, and their median over the rounds. When the
# two swap_tx medians of a pair differ by more than 15 %, a run was
# disturbed (its reference alone, or the whole run with it): that pair is
# shown in parentheses, as the ratio of the medians in nanoseconds, and
# left out of the median.
summarize() {
	awk '
	function med(list,   n, a, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	BEGIN {
		n = split("1k_v4_tcp_est_nat katran_est_1k 0.7 established-nat-1k;" \
			  "1k_v4_tcp_est_dsr katran_est_1k 0.7 established-dsr-1k;" \
			  "1k_v4_pass_not_vip katran_pass_not_vip 0.6 pass-not-vip;" \
			  "1k_v4_tcp_syn_nat katran_syn_new_1k 1.0 SYN-nat-1k;" \
			  "1k_v4_tcp_syn_dsr katran_syn_new_1k 0.8 SYN-dsr-1k;" \
			  "1k_v4_tcp_syn_tunnel katran_syn_new_1k 0.8 SYN-tunnel-1k;" \
			  "1M_v4_tcp_est_nat katran_est_1m 1.0 established-nat-1M;" \
			  "1M_v4_tcp_est_dsr katran_est_1m 1.0 established-dsr-1M;" \
			  "1M_v4_tcp_syn_nat katran_syn_new_1m 1.0 SYN-nat-1M;" \
			  "1M_v4_tcp_syn_dsr katran_syn_new_1m 0.8 SYN-dsr-1M;" \
			  "1M_v4_tcp_syn_tunnel katran_syn_new_1m 0.8 SYN-tunnel-1M", rows, ";")
	}
	/^=== round/ { r = $3; rounds = r; next }
	/^  / { k[r, $1] = $3; next }
	$1 == "1k" || $1 == "1M" {
		if ($2 == "swap_tx") { ref = $4; next }
		x[r, $1 "_" $2] = $4; xref[r, $1 "_" $2] = ref
	}
	END {
		print "== summary: xlb / Katran per round, as multiples of swap_tx; (x) = swap_tx references 15 % apart:"
		print "   ratio of the ns medians, left out of the median"
		for (i = 1; i <= n; i++) {
			split(rows[i], f, " ")
			line = ""; list = ""; seen = 0
			for (r = 1; r <= rounds; r++) {
				xm = x[r, f[1]]; xs = xref[r, f[1]]; km = k[r, f[2]]; ks = k[r, "swap_tx"]
				if (!xm || !xs || !km || !ks)
					continue
				seen = 1
				if (xs > ks * 1.15 || ks > xs * 1.15) {
					line = line sprintf(" (%4.2f)", xm / km)
					continue
				}
				v = (xm / xs) / (km / ks)
				line = line sprintf("  %4.2f ", v)
				list = list " " v
			}
			if (list == "") {
				printf "  %-22s%s\n", f[4], seen ? line "   no undisturbed round" : " no figures"
				continue
			}
			m = med(list)
			printf "  %-22s%s   median %.3f   target <= %.1f: %s\n", f[4], line, m, f[3],
			       sprintf("%.3f", m) + 0 <= f[3] + 0 ? "met" : "not met"
		}
	}' "$1"
}

if [[ -n ${SUMMARIZE_ONLY:-} ]]; then
	summarize "$SUMMARIZE_ONLY"
	exit
fi

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for round in $(seq "$ROUNDS"); do
	echo "=== round $round $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
	"$KATRAN_BENCH" -c "$CPU" -n "$N" -r "$R" 2>&1 | grep -E '^  (swap|katran)'
	xlb 1k 1000 v4_tcp_est_nat,v4_tcp_est_dsr,v4_tcp_syn_nat,v4_tcp_syn_dsr,v4_tcp_syn_tunnel,v4_pass_not_vip,v4_pass_hot
	xlb 1M 1000000 v4_tcp_est_nat
	xlb 1M 1000000 v4_tcp_est_dsr
	xlb 1M 1000000 v4_tcp_syn_nat,v4_tcp_syn_dsr,v4_tcp_syn_tunnel
done | tee "$OUT"
summarize "$OUT"
