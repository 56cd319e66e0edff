#!/usr/bin/env bash
# Scale-out benchmark: the three-gateway BGP/ECMP lab of tests/e2e/cluster.sh
# (same namespaces, same shipped BIRD configuration), measured instead of
# asserted. Writes $XB_RESULTS/scaleout.tsv (key, value):
#   per mode (dsr, tunnel; IPv4): the busiest gateway killed (xlbd, bird,
#   link down) under load: ms until the router's ECMP route no longer uses
#   it, downloads in flight and how many broke, new connections across the
#   failure that failed;
#   one backend added on all gateways under load: downloads in flight that
#   broke (an established connection moving to another backend breaks), and
#   the share of new connections now sent elsewhere, on live traffic: the
#   same fixed client tuples (8 addresses x TUPLE_PORTS source ports) asked
#   before and after the add, each answer naming its backend; beside it the
#   share the table builder predicts (test_maglev).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# shellcheck source=../../tests/e2e/cluster.sh
source "$XB_ROOT/tests/e2e/cluster.sh"

OUT=$XB_RESULTS/scaleout.tsv
DL_CLIENTS="1 2 3 4 5 6 7 8"
TUPLE_PORT0=41000 # fixed client source ports, below the default ephemeral range's busy end
TUPLE_PORTS=${TUPLE_PORTS:-50}

put() {
	printf '%s\t%s\n' "$1" "$2" >>"$OUT.tmp"
	xb_log "scaleout: $1 = $2"
}

lab_fresh() {
	cl_down
	# A fresh lab starts from no state: the last lab's state files would
	# hand the new gateways the old configuration.
	rm -rf -- "$E2E_DIR"
	mkdir -p "$E2E_DIR"
	lab_up_all >"$E2E_DIR/lab.log" 2>&1 || xb_die "lab setup failed: $(tail -3 "$E2E_DIR/lab.log")"
	configure || xb_die "configuration refused"
	VIPS=("$CL_DSR4" "$CL_DSR6" "$CL_TUN4" "$CL_TUN6")
	wait_all_announced >/dev/null || xb_die "BGP did not converge"
}

# Downloads (started by start_downloads) that did not arrive intact, in
# BROKEN. Not a $(...) function: wait works only on this shell's children.
broken_downloads() {
	local want got i n=0
	want=$(cat "$LAB_DIR/www/big.sha256")
	for i in "${!DL_PIDS[@]}"; do
		wait "${DL_PIDS[i]}" || true
		got=$(sha256sum "${DL_FILES[i]}" 2>/dev/null | awk '{print $1}')
		[[ $got == "$want" ]] && continue
		n=$((n + 1))
		xb_log "broken: ${DL_FILES[i]##*/}: $(stat -c %s "${DL_FILES[i]}" 2>/dev/null || echo 0) bytes, $(head -c 200 "${DL_FILES[i]}.log" 2>/dev/null | tr '\n' ' ')"
	done
	BROKEN=$n
}

# Kills the busiest of the gateways still alive: 3 -> 2 for the first mode,
# 2 -> 1 for the second (one lab for the whole run).
kill_under_load() {
	local mode=$1 vip=$2 victim t0 ms ok bad stream n
	VIPS=("$vip")
	n=$(cl_hop_count "$vip")
	# shellcheck disable=SC2086 # a list of client numbers
	start_downloads "$mode" $DL_CLIENTS
	burst "$(url_of "$vip")" 80 "$(client_addr "$vip" 8)" --rate 20/s >"$E2E_DIR/stream" &
	stream=$!
	sleep 2
	victim=$(busiest_gateway)
	t0=$(now)
	kill_gateway "gw$victim"
	if cl_wait_hops "$vip" $((n - 1)) "$CONVERGE_LIMIT" >/dev/null; then
		ms=$(ms_between "$t0" "$(now)")
	else
		ms="no convergence in ${CONVERGE_LIMIT} s"
	fi
	wait "$stream" || true
	eval "$(tally <"$E2E_DIR/stream")"
	put "${mode}_failover_ms" "$ms"
	put "${mode}_gateways" "$n -> $((n - 1))"
	put "${mode}_downloads" "${#DL_PIDS[@]}"
	broken_downloads
	put "${mode}_downloads_broken" "$BROKEN"
	put "${mode}_stream_ok" "$ok"
	put "${mode}_stream_failed" "$bad"
}

# "client port backend" for each fixed tuple (client address k, source port
# p) of one new connection to vip; backend is the answer's x-backend, or
# "none" when the connection failed. The client closes after the answer,
# so its tuple is free again (the gateways see the FIN and start the next
# SYN on the tuple afresh).
sample_tuples() {
	local vip=$1 k p src got
	for k in $(seq 1 "$CL_CLIENTS"); do
		src=$(client_addr "$vip" "$k")
		for ((p = TUPLE_PORT0; p < TUPLE_PORT0 + TUPLE_PORTS; p++)); do
			got=$(lab_in client curl -s -g -H 'Connection: close' --interface "$src" \
				--local-port "$p" --connect-timeout 3 --max-time 5 -o /dev/null \
				-w '%header{x-backend}' "$(url_of "$vip")" 2>/dev/null) || got=
			echo "$k $p ${got:-none}"
		done
	done
}

# From two samples of the same tuples: "tuples failed moved moved_to_new".
tuples_moved() {
	local new=$3
	join -j1 <(awk '{ print $1 ":" $2, $3 }' "$1" | sort) <(awk '{ print $1 ":" $2, $3 }' "$2" | sort) |
		awk -v new="$new" '
			{ n++ }
			$2 == "none" || $3 == "none" { failed++; next }
			$2 != $3 { moved++; if ($3 == new) to_new++ }
			END { printf "%d %d %d %d\n", n, failed, moved, to_new }'
}

# The live share of new connections that change backend when backend 4
# joins: before and after samples of the same tuples.
put_tuples_moved() {
	local vip=$1 tag=$2 n failed moved to_new
	read -r n failed moved to_new < <(tuples_moved "$E2E_DIR/tuples-$tag.before" "$E2E_DIR/tuples-$tag.after" b4)
	put "add_${tag}_tuples" "$n"
	put "add_${tag}_tuples_failed" "$failed"
	put "add_${tag}_moved_pct" "$(awk -v m="$moved" -v n="$((n - failed))" 'BEGIN { printf "%.1f", n ? 100 * m / n : 0 }')"
	put "add_${tag}_moved_to_new_pct" "$(awk -v m="$to_new" -v t="$moved" 'BEGIN { printf "%.1f", t ? 100 * m / t : 0 }')"
}

backend_add_under_load() {
	local i vip
	VIPS=("$CL_DSR4" "$CL_DSR6" "$CL_TUN4" "$CL_TUN6")
	for vip in "$CL_DSR4" "$CL_TUN6"; do
		sample_tuples "$vip" >"$E2E_DIR/tuples-$(vip_tag "$vip").before"
	done
	start_downloads add 1 2
	sleep 2
	for i in $(cl_gw_ids); do
		for vip in "${VIPS[@]}"; do
			cl_ctl "gw$i" backend add "$(vip_stmt "$vip")" "$(backend_for "$vip" 4)" >/dev/null
		done
	done
	for vip in "$CL_DSR4" "$CL_TUN6"; do
		sample_tuples "$vip" >"$E2E_DIR/tuples-$(vip_tag "$vip").after"
		put_tuples_moved "$vip" "$(vip_tag "$vip")"
	done
	broken_downloads
	put add_downloads "${#DL_PIDS[@]}"
	put add_downloads_broken "$BROKEN"
	put add_digests_equal "$([[ $(digests gw1) == "$(digests gw2)" && $(digests gw1) == "$(digests gw3)" ]] && echo yes || echo no)"
}

main() {
	xb_require_root
	mkdir -p "$XB_RESULTS"
	: >"$OUT.tmp"
	e2e_init cluster
	trap cluster_cleanup EXIT
	e2e_require_binaries
	command -v bird >/dev/null || xb_die "bird is not installed (tools/deps.sh installs bird2)"
	LAB_BACKENDS=4
	CL_CONFIG_BACKENDS=3
	lab_fresh
	backend_add_under_load
	kill_under_load dsr "$CL_DSR4"
	kill_under_load tunnel "$CL_TUN4"
	put add_new_conn_moved_pct "$("$XB_BUILD/tests/unit/test_maglev" 2>&1 |
		sed -n 's/.*add one to 3, M=65537: moved [0-9]* (\([0-9.]*\)%.*/\1/p')"
	mv "$OUT.tmp" "$OUT"
}

main "$@"
