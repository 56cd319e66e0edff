#!/usr/bin/env bash
# Writes docs/benchmarks.md and its charts (docs/bench-*.png) from the
# results in $XB_RESULTS (build/bench/): prog.tsv (part 1), fwd.tsv (part 2),
# conn.tsv (part 3), ctl.tsv (part 4), machine.tsv, parts.tsv; and includes
# tools/bench/notes.md (the hand-written analysis) verbatim. A part without
# results is reported as not run. Prints a short summary on stdout.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

DOCS=$XB_ROOT/docs
OUT=$DOCS/benchmarks.md
NOTES=$(dirname "$0")/notes.md
R=$XB_RESULTS
PLOT=$XB_WORK/plot

have() {
	[[ -s $R/$1 ]]
}

machine() {
	awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$R/machine.tsv" 2>/dev/null
}

when() {
	date -u -r "$R/$1" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo "?"
}

# ---- targets -------------------------------------------------------------

# prog_med BACKENDS FLOWS CASE: the median ns (floors use 0 0).
prog_med() {
	awk -F'\t' -v b="$1" -v f="$2" -v c="$3" '$1 == b && $2 == f && $3 == c { print $5 }' "$R/prog.tsv"
}

fwd_pps() {
	awk -F'\t' -v g="$1" -v f="$2" -v s="$3" '$1 == g && $2 == f && $3 == s { print $8 }' "$R/fwd.tsv"
}

# verdict VALUE OP LIMIT: "met"/"missed"
verdict() {
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "") { print "not measured"; exit }
		ok = (op == "<=") ? (v <= l) : (v >= l); print ok ? "**met**" : "**missed**" }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f", a / b }'
}

# The configurations of part 1, "BACKENDS FLOWS" per line.
prog_configs() {
	awk -F'\t' 'NR > 1 && $1 != 0 { print $1, $2 }' "$R/prog.tsv" | awk '!seen[$0]++'
}

# One row of the targets table: NAME LIMIT OP then one measured ratio per
# configuration (empty: not measured).
target_row() {
	local name=$1 limit=$2 op=$3 v cells=""
	shift 3
	for v in "$@"; do
		cells+=" ${v:+${v}x }$(verdict "$v" "$op" "$limit" | sed 's/not measured/-/') |"
	done
	echo "| $name | $op ${limit}x |$cells"
}

targets_prog() {
	local empty swap b f c cfgs=() head="" sep="" nat=() dsr=() syn=() pass=()
	empty=$(prog_med 0 0 empty)
	swap=$(prog_med 0 0 swap_tx)
	while read -r b f; do
		cfgs+=("$b $f")
		head+=" $b backends, $f entries |"
		sep+="---|"
		nat+=("$(ratio "$(prog_med "$b" "$f" v4_tcp_est_nat)" "$swap")")
		dsr+=("$(ratio "$(prog_med "$b" "$f" v4_tcp_est_dsr)" "$swap")")
		syn+=("$(ratio "$(prog_med "$b" "$f" v4_tcp_syn_nat)" "$swap")")
		pass+=("$(ratio "$(prog_med "$b" "$f" v4_pass_not_vip)" "$empty")")
	done < <(prog_configs)
	echo "Part 1, ratios of medians (bpf_prog_test_run, repeat = 1):"
	echo
	echo "| target | limit |$head"
	echo "|---|---|$sep"
	target_row "established IPv4 TCP nat / swap_tx" 2.5 "<=" "${nat[@]}"
	target_row "established IPv4 TCP dsr / swap_tx" 2.5 "<=" "${dsr[@]}"
	target_row "new flow (SYN, nat) / swap_tx" 6 "<=" "${syn[@]}"
	target_row "non-VIP pass / empty" 1.5 "<=" "${pass[@]}"
	echo
	echo "| scaling (established, median ratio) | configuration | measured | limit | verdict |"
	echo "|---|---|---|---|---|"
	targets_scaling
}

# Flat from 3 to 1000 backends; within 1.3x from 1k to 1M entries.
targets_scaling() {
	local c bmin bmax fmin fmax f b v
	read -r bmin bmax < <(awk -F'\t' 'NR > 1 && $1 != 0 { print $1 }' "$R/prog.tsv" | sort -n | uniq | sed -n '1p;$p' | paste -sd' ')
	read -r fmin fmax < <(awk -F'\t' 'NR > 1 && $1 != 0 { print $2 }' "$R/prog.tsv" | sort -n | uniq | sed -n '1p;$p' | paste -sd' ')
	for c in v4_tcp_est_nat v4_tcp_est_dsr; do
		for f in $fmin $fmax; do
			[[ $bmin != "$bmax" ]] || continue
			v=$(ratio "$(prog_med "$bmax" "$f" "$c")" "$(prog_med "$bmin" "$f" "$c")")
			echo "| $c, $bmax vs $bmin backends | $f entries | ${v}x | 1.1x (flat) | $(verdict "$v" "<=" 1.1) |"
		done
		for b in $bmin $bmax; do
			[[ $fmin != "$fmax" ]] || continue
			v=$(ratio "$(prog_med "$b" "$fmax" "$c")" "$(prog_med "$b" "$fmin" "$c")")
			echo "| $c, $fmax vs $fmin entries (busy set grows too) | $b backends | ${v}x | 1.3x | $(verdict "$v" "<=" 1.3) |"
			[[ $c == v4_tcp_est_nat ]] || continue
			v=$(ratio "$(prog_med "$b" "$fmax" v4_tcp_est_nat_hot)" "$(prog_med "$b" "$fmin" "$c")")
			[[ -n $v ]] && echo "| $c, $fmax vs $fmin entries, 100 busy flows | $b backends | ${v}x | 1.3x | $(verdict "$v" "<=" 1.3) |"
		done
	done
}

targets_fwd() {
	local m bare v
	bare=$(fwd_pps bare 10000 64)
	echo "| part 2: delivered pps, 10k flows, 64 B | measured | limit | verdict |"
	echo "|---|---|---|---|"
	for m in xlb-nat xlb-dsr; do
		v=$(ratio "$(fwd_pps "$m" 10000 64)" "$bare")
		echo "| $m / bare forwarder | ${v:+${v}x} | >= 0.85x | $(verdict "$v" ">=" 0.85) |"
		v=$(ratio "$(fwd_pps "$m" 10000 64)" "$(fwd_pps nft 10000 64)")
		echo "| $m / nftables DNAT | ${v:+${v}x} | >= 5x | $(verdict "$v" ">=" 5) |"
		v=$(ratio "$(fwd_pps "$m" 10000 64)" "$(fwd_pps nginx 10000 64)")
		echo "| $m / nginx stream (UDP) | ${v:+${v}x} | >= 20x | $(verdict "$v" ">=" 20) |"
	done
}

# ---- tables ------------------------------------------------------------------

prog_tables() {
	local b f
	echo "Reference programs (the same run):"
	echo
	echo "| case | min | median | max | warm | what |"
	echo "|---|---:|---:|---:|---:|---|"
	awk -F'\t' 'NR > 1 && $1 == 0 { printf "| %s | %.1f | %.1f | %.1f | %s | %s |\n", $3, $4, $5, $6, $10, $12 }' "$R/prog.tsv"
	while read -r b f; do
		echo
		echo "xlb, **$b backends** per VIP, flow table holding **$f entries**:"
		echo
		echo "| case | min | median | max | net of empty | x empty | x swap_tx | warm | path check | what |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
		awk -F'\t' -v b="$b" -v f="$f" '$1 == b && $2 == f {
			printf "| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %s | %s | %s |\n", $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }' "$R/prog.tsv"
	done < <(prog_configs)
}

fwd_table() {
	echo "| gateway | flows | frame | sent pps | delivered pps | loss | delivered / bare |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' 'NR == FNR { if (FNR > 1 && $1 == "bare") bare[$2 " " $3] = $8; next }
		FNR > 1 { b = bare[$2 " " $3]; printf "| %s | %d | %d B | %.0f | %.0f | %.1f%% | %s |\n",
			$1, $2, $3, $6, $8, $9, (b > 0 ? sprintf("%.2f", $8 / b) : "-") }' "$R/fwd.tsv" "$R/fwd.tsv"
}

conn_table() {
	echo "| gateway | load | requests/s | p50 ms | p99 ms | errors |"
	echo "|---|---|---:|---:|---:|---:|"
	awk -F'\t' 'NR > 1 { printf "| %s | %s | %.0f | %.3f | %.3f | %s |\n", $1, ($2 == "close" ? "new connection per request" : "keep-alive"), $3, $4, $5, $6 }' "$R/conn.tsv"
}

ctl_tables() {
	echo "| step | backends | median ms | min ms | max ms |"
	echo "|---|---:|---:|---:|---:|"
	awk -F'\t' '$1 == "time" { n = ($2 == "backend_add") ? "backend add -> new table live (M = 65537)" : "Maglev build alone (M = 65537)";
		printf "| %s | %d | %.3f | %.3f | %.3f |\n", n, $3, $4, $5, $6 }' "$R/ctl.tsv"
	echo
	echo "Map memory at the default sizes (entries x (key + value), and what the kernel charges, \`memlock\` in fdinfo):"
	echo
	echo "| map | entries | key B | value B | entries x (k+v) | memlock |"
	echo "|---|---:|---:|---:|---:|---:|"
	awk -F'\t' '$1 == "map" && $2 != "total" { printf "| %s | %s | %s | %s | %.1f MiB | %s |\n", $2, $3, $4, $5, $6 / 1048576,
		($7 < 0 ? "-" : sprintf("%.1f MiB", $7 / 1048576)) }
		$1 == "map" && $2 == "total" { printf "| **total** | | | | %.1f MiB | %.1f MiB |\n", $6 / 1048576, $7 / 1048576 }' "$R/ctl.tsv"
}

# ---- charts ------------------------------------------------------------------------

chart_prog() {
	local data=$PLOT/prog.dat cols n
	awk -F'\t' 'NR > 1 && $1 != 0 { key = $1 "b/" ($2 >= 1000000 ? $2 / 1000000 "M" : $2 / 1000 "k");
			if (!(key in seen)) { seen[key] = 1; cfg[++nc] = key }
			if (!(($3) in cs)) { cs[$3] = 1; cases[++nk] = $3 }
			v[$3, key] = $5 }
		END { printf "case"; for (j = 1; j <= nc; j++) printf "\t\"%s\"", cfg[j]; print "";
			for (i = 1; i <= nk; i++) { printf "%s", cases[i];
				for (j = 1; j <= nc; j++) printf "\t%s", ((cases[i], cfg[j]) in v) ? v[cases[i], cfg[j]] : "-"; print "" } }' \
		"$R/prog.tsv" >"$data"
	n=$(head -1 "$data" | awk -F'\t' '{ print NF }')
	cols=$(seq 2 "$n" | awk -v d="$data" '{ printf "%s\"%s\" using %d:xtic(1) title columnheader(%d)", (NR > 1 ? ", " : ""), d, $1, $1 }')
	gnuplot <<-EOF
		set terminal pngcairo size 1100,560 font "DejaVu Sans,10" noenhanced
		set output "$DOCS/bench-prog.png"
		set title "xlb per-packet cost (bpf_prog_test_run, repeat=1, median ns)"
		set datafile separator "\t"
		set datafile missing "-"
		set style data histogram
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set ylabel "ns per packet (log scale)"
		set logscale y
		set yrange [10:*]
		set xtics rotate by -30 font ",9"
		set key top left
		set grid ytics
		empty = $(prog_med 0 0 empty)
		swap = $(prog_med 0 0 swap_tx)
		plot $cols, empty with lines lw 2 dt 2 title "empty program", swap with lines lw 2 dt 3 title "swap MACs + XDP_TX"
	EOF
}

chart_fwd() {
	local data=$PLOT/fwd.dat
	awk -F'\t' 'NR > 1 && $3 == 64 { if (!($1 in seen)) { seen[$1] = 1; gw[++n] = $1 }
			v[$1, $2] = $8 / 1e6; fl[$2] = 1 }
		END { print "gw\t\"1 flow\"\t\"10k flows\"\t\"1M flows\"";
			for (i = 1; i <= n; i++) printf "%s\t%s\t%s\t%s\n", gw[i], v[gw[i], 1], v[gw[i], 10000], v[gw[i], 1000000] }' \
		"$R/fwd.tsv" >"$data"
	gnuplot <<-EOF
		set terminal pngcairo size 900,480 font "DejaVu Sans,10" noenhanced
		set output "$DOCS/bench-fwd.png"
		set title "Forwarding rate, 64-byte frames, one generator core (delivered Mpps, log scale)"
		set datafile separator "\t"
		set style data histogram
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set logscale y
		set ylabel "Mpps delivered at the sink"
		set grid ytics
		set key top right
		plot "$data" using 2:xtic(1) title columnheader(2), "" using 3 title columnheader(3), "" using 4 title columnheader(4)
	EOF
}

chart_conn() {
	local data=$PLOT/conn.dat
	awk -F'\t' 'NR > 1 { if (!($1 in seen)) { seen[$1] = 1; gw[++n] = $1 } v[$1, $2] = $3 }
		END { print "gw\t\"new connection per request\"\t\"keep-alive\"";
			for (i = 1; i <= n; i++) printf "%s\t%s\t%s\n", gw[i], v[gw[i], "close"], v[gw[i], "keepalive"] }' \
		"$R/conn.tsv" >"$data"
	gnuplot <<-EOF
		set terminal pngcairo size 900,480 font "DejaVu Sans,10" noenhanced
		set output "$DOCS/bench-conn.png"
		set title "HTTP through the gateway to 3 nginx backends (wrk, requests/s)"
		set datafile separator "\t"
		set style data histogram
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set ylabel "requests per second"
		set grid ytics
		set key top right
		plot "$data" using 2:xtic(1) title columnheader(2), "" using 3 title columnheader(3)
	EOF
}

# ---- the document ------------------------------------------------------------------

header() {
	cat <<-EOF
		# xlb benchmarks

		Generated by \`make bench\` (\`tools/bench/run.sh all\`; each part alone with
		\`make bench-prog\`, \`bench-fwd\`, \`bench-conn\`, \`bench-ctl\`, \`bench-health\`, \`bench-metrics\`, \`bench-scaleout\`) from the results in
		\`build/bench/\`. Do not edit by hand: the analysis lives in
		\`tools/bench/notes.md\` and is copied in below.

		**Machine:** $(machine cpu), $(machine cores) cores, $(machine memory), kernel $(machine kernel).
		A 2-core VM: absolute numbers are noisy; compare ratios taken within one run.

	EOF
	if have parts.tsv; then
		echo "| part | seconds | exit |"
		echo "|---|---:|---:|"
		awk -F'\t' '{ last[$1] = $2 "\t" $3; if (!($1 in seen)) { seen[$1] = 1; o[++n] = $1 } }
			END { for (i = 1; i <= n; i++) { split(last[o[i]], a, "\t"); printf "| %s | %s | %s |\n", o[i], a[1], a[2] } }' "$R/parts.tsv"
		echo
	fi
}

section_targets() {
	echo "## Targets"
	echo
	if have prog.tsv; then
		targets_prog
		echo
	fi
	if have fwd.tsv; then
		targets_fwd
		echo
	fi
}

section_prog() {
	echo "## 1. Per-packet cost of the XDP program"
	echo
	if ! have prog.tsv; then
		echo "Not run (\`make bench-prog\`)."
		echo
		return
	fi
	cat <<-EOF
		Results of $(when prog.tsv). Method: \`bpf_prog_test_run_opts\` with repeat = 1 per call,
		$(awk '/calls per run/ { print $5 }' "$R/prog.txt" 2>/dev/null || echo 1000000) calls per run, ns per packet from the kernel's
		\`duration\`, $(awk '/calls per run/ { print $9 }' "$R/prog.txt" 2>/dev/null || echo 5) runs (min/median/max), all cases interleaved in each run, pinned to one
		CPU (\`tools/xlb-bench-prog.c\`). "net of empty" subtracts the empty program's median:
		the test run's own cost, mostly the two clock reads around the program.
		Established cases rotate over their own flows (a tenth of the table's entries, created
		by sending each flow's first packet through xlb), in scattered order, every flow visited
		once just before each timed run so cached next hops are fresh; new-flow and non-VIP cases
		use a never-seen 5-tuple each packet; "_hot" cases use 100 flows (or one tuple) only.
		The path check confirms with xlb's own counters that the packets took the intended path.
		"warm": the same packet repeated 100 times within each call (only where a repetition
		stays meaningful: reference programs, dsr, pass), i.e. with caches and TLB warm as in a
		NAPI batch; every repeat = 1 call starts cold, because the syscall around it (with page
		table isolation and no PCID on this VM) flushes the TLB.

		![per-packet cost](bench-prog.png)

	EOF
	prog_tables
	echo
}

section_fwd() {
	echo "## 2. Forwarding rate at driver level"
	echo
	if ! have fwd.tsv; then
		echo "Not run (\`make bench-fwd\`)."
		echo
		return
	fi
	cat <<-EOF
		Results of $(when fwd.tsv). \`tools/bench/fwd.sh\`: \`xlb-gen\` (live-frames XDP_TX, one core)
		-> gateway namespace (native XDP on a veth) -> sink namespace counting with XDP. UDP
		to 198.19.0.10:5353, 3 backends. Each cell: a warm-up sending every flow twice in a
		row (xlb confirms a UDP flow at its second packet, so the runs measure established
		flows), then 3 runs of at most 2M packets or 1.5 s; the run with the highest delivered rate is
		shown (loss over all three). Delivered = counted at the sink / generator time. With
		the kernel's paths (nftables) all of it runs on the generator's core in softirq; the
		user-space proxy runs on the other core. HAProxy has no UDP mode (it is in part 3).

		![forwarding rate](bench-fwd.png)

	EOF
	fwd_table
	echo
}

section_conn() {
	echo "## 3. Connections end to end"
	echo
	if ! have conn.tsv; then
		echo "Not run (\`make bench-conn\`)."
		echo
		return
	fi
	cat <<-EOF
		Results of $(when conn.tsv). \`tools/bench/conn.sh\` on the lab (\`tools/lab.sh\`: client ->
		gateway -> 3 nginx backends, each in its namespace): \`wrk -t1 -c16 -d5s\` from the client to
		the VIP, once with \`Connection: close\` (one TCP connection per request: requests/s =
		connections/s) and once with keep-alive. All namespaces share the 2 cores.

		![connections](bench-conn.png)

	EOF
	conn_table
	echo
}

section_ctl() {
	echo "## 4. Control plane"
	echo
	if ! have ctl.tsv; then
		echo "Not run (\`make bench-ctl\`)."
		echo
		return
	fi
	cat <<-EOF
		Results of $(when ctl.tsv). \`tools/xlb-bench-ctl.c\` through libxlb on a private copy of the
		datapath. "backend add": the N-th backend joins a VIP that has N-1, at ring size 65537;
		\`xlb_backend_add()\` returns once the new table is in place and the VIP points at it, so
		the next new flow uses it. Median of 5.

	EOF
	ctl_tables
	echo
}

section_health() {
	echo "## 5. Health probes at scale"
	echo
	if ! have health.tsv; then
		echo "Not run (\`make bench-health\`)."
		echo
		return
	fi
	cat <<-EOF
		Results of $(when health.tsv). \`tools/bench/health.sh\`: xlbd in a gateway namespace
		with one VIP of $(hval backends) backends (addresses of one backend namespace, one nginx
		listening on all), \`check set ... tcp interval 1s\`. CPU: xlbd's user + system time over
		10 s without logging. Jitter: a second run with \`-v\`, every probe's log line
		timestamped on arrival; per backend, the time between two probe results minus the
		interval ($(hval jitter_samples) intervals).

		| xlbd CPU (% of one core) | jitter p50 | jitter p99 | jitter max |
		|---:|---:|---:|---:|
		| $(hval xlbd_cpu_pct) % | $(hval jitter_p50_ms) ms | $(hval jitter_p99_ms) ms | $(hval jitter_max_ms) ms |

	EOF
}

section_scaleout() {
	echo "## 7. Scale-out: gateway failover and backend changes"
	echo
	if ! have scaleout.tsv; then
		echo "Not run (\`make bench-scaleout\`)."
		echo
		return
	fi
	cat <<-EOF
		Results of $(when scaleout.tsv). \`tools/bench/scaleout.sh\`: the lab of
		\`tests/e2e/cluster.sh\` (router with BIRD, BGP + BFD 100 ms x 3 to three gateways each
		running xlbd and BIRD with the shipped configuration, ECMP with a layer-4 hash, four
		backends), one lab for the whole run. First one backend is added to every VIP on all
		three gateways (3 -> 4 backends) while $(tval scaleout.tsv add_downloads) slow downloads (~10 s each)
		run. Then, per mode, $(tval scaleout.tsv dsr_downloads) downloads and a stream of new connections
		(20/s) through the mode's IPv4 VIP, and the live gateway holding most flows loses its
		link, then its xlbd and BIRD (SIGKILL). Failover: from the link going down until the
		router's route no longer uses the gateway (only BFD can tell it). See
		docs/scale-out.md.

		| mode | gateways | failover | downloads broken | new connections failed across the failure |
		|---|---|---:|---:|---:|
		| dsr | $(tval scaleout.tsv dsr_gateways) | $(tval scaleout.tsv dsr_failover_ms) ms | $(tval scaleout.tsv dsr_downloads_broken) of $(tval scaleout.tsv dsr_downloads) | $(tval scaleout.tsv dsr_stream_failed) of $(( $(tval scaleout.tsv dsr_stream_ok) + $(tval scaleout.tsv dsr_stream_failed) )) |
		| tunnel | $(tval scaleout.tsv tunnel_gateways) | $(tval scaleout.tsv tunnel_failover_ms) ms | $(tval scaleout.tsv tunnel_downloads_broken) of $(tval scaleout.tsv tunnel_downloads) | $(tval scaleout.tsv tunnel_stream_failed) of $(( $(tval scaleout.tsv tunnel_stream_ok) + $(tval scaleout.tsv tunnel_stream_failed) )) |

		Backend added on all gateways under load: $(tval scaleout.tsv add_downloads_broken) of
		$(tval scaleout.tsv add_downloads) downloads broken (established connections keep their backend);
		table digests equal on the three gateways afterwards: $(tval scaleout.tsv add_digests_equal).

		New connections that change backend, on live traffic: the same client tuples (8
		client addresses x fixed source ports, one new connection each, the answer naming
		its backend) asked once before the add and once after it, through whichever gateway
		ECMP picks. Ideal for 3 -> 4 backends: 25 %, all of them to the new backend.

		| VIP | tuples | failed | changed backend | of those, to the new backend |
		|---|---:|---:|---:|---:|
		| dsr IPv4 | $(tval scaleout.tsv add_dsr_v4_tuples) | $(tval scaleout.tsv add_dsr_v4_tuples_failed) | $(tval scaleout.tsv add_dsr_v4_moved_pct) % | $(tval scaleout.tsv add_dsr_v4_moved_to_new_pct) % |
		| tunnel IPv6 | $(tval scaleout.tsv add_tunnel_v6_tuples) | $(tval scaleout.tsv add_tunnel_v6_tuples_failed) | $(tval scaleout.tsv add_tunnel_v6_moved_pct) % | $(tval scaleout.tsv add_tunnel_v6_moved_to_new_pct) % |

		The table builder's own figure for the same change, over all 65537 entries of the
		Maglev table (\`test_maglev\`, maglev_add_one_n3): $(tval scaleout.tsv add_new_conn_moved_pct) %
		of new connections change backend.

	EOF
}

# tval FILE KEY: the value of KEY in a two-column result file.
tval() {
	awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$R/$1"
}

hval() {
	tval health.tsv "$1"
}

mval() {
	tval metrics.tsv "$1"
}

section_metrics() {
	echo "## 6. Prometheus metrics at scale"
	echo
	if ! have metrics.tsv; then
		echo "Not run (\`make bench-metrics\`)."
		echo
		return
	fi
	cat <<-EOF
		Results of $(when metrics.tsv). \`tools/bench/metrics.sh\`: xlbd \`--metrics\` with
		$(mval vips) VIPs x $(mval backends_per_vip) backends (tcp checks, so every backend has probe
		results; empty flow tables of the default sizes, which each scrape walks twice:
		flows per backend and occupancy).
		$(mval scrapes) scrapes in a row by one curl on the gateway's loopback; xlbd's CPU is its
		user + system time during the scrapes less its time over as long without scrapes
		(probes and ticks: $(mval idle_cpu_pct) % of a core).

		| series | bytes | scrape p50 | scrape max | xlbd CPU per scrape |
		|---:|---:|---:|---:|---:|
		| $(mval series) | $(mval bytes) | $(mval scrape_ms_p50) ms | $(mval scrape_ms_max) ms | $(mval cpu_ms_per_scrape) ms |

		Scraped every 15 s, that is $(awk -v c="$(mval cpu_ms_per_scrape)" 'BEGIN { printf "%.2f", c / 150 }') % of a core. Nine series per backend make up
		nearly all of the scrape.

	EOF
}

main() {
	mkdir -p "$DOCS" "$PLOT"
	trap 'rm -rf -- "$PLOT"' EXIT
	{
		header
		section_targets
		section_prog
		section_fwd
		section_conn
		section_ctl
		section_health
		section_metrics
		section_scaleout
		[[ -s $NOTES ]] && cat "$NOTES"
	} >"$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
	if command -v gnuplot >/dev/null; then
		have prog.tsv && chart_prog
		have fwd.tsv && chart_fwd
		have conn.tsv && chart_conn
	fi
	xb_log "wrote $OUT"
	awk '/^## Targets/ { on = 1; next } /^## / { on = 0 } on && /met\*\*|missed\*\*/' "$OUT" |
		sed -e 's/\*\*//g' -e 's/^| //' -e 's/ |$//' -e 's/ | /  /g' | sed 's/^/  /'
}

main "$@"
