#!/usr/bin/env bash
# The control socket and the state file against hostile hosts and careless
# operators (issue 11, section 2):
#  - directories: a state or socket directory that is not root's, or that
#    others can write, is refused with the fix named; a root-owned 0755
#    directory under the sticky /tmp is accepted; links planted as the lock
#    or the temporary state file are not followed;
#  - xlbctl refuses a socket served by another user, before sending a byte;
#  - a NUL in a statement is refused and changes nothing;
#  - state file: version line and counting end line; an empty or cut file is
#    set aside as STATE.bad and the datapath keeps forwarding as it was; an
#    old-format file is read when whole and rewritten;
#  - 200 concurrent xlbctl runs all succeed; 66 idle connections, or 66
#    clients that do not read a large reply, do not lock root out (64 slots);
#  - kill -9 in the middle of a 100-VIP apply, at several points: the pinned
#    maps (read with bpftool) show every VIP wholly old or wholly new, and
#    the restart completes the batch.
set -euo pipefail
source "$(dirname "$0")/common.bash"

NOBODY=65534
CONCURRENT=200
IDLE_CLIENTS=66
STALL_BACKENDS=6000 # `-j show` is then over 1 MB, more than a socket buffers
KILL_TRIALS=5
N_VIPS=50 # changed, plus as many added: a 100-VIP apply

# ---- directories and links ------------------------------------------------------

# xlbd with the given paths, on an interface that does not exist: it must
# stop at its path checks, before touching any datapath. Prints its output.
xlbd_paths() {
	timeout 20 nsenter --net="/run/netns/$(lab_ns gw)" -- "$XLBD" -i xe2e-none \
		--pin-root "$E2E_PIN-alt" "$@" 2>&1 || true
}

expect_refused() {
	local name=$1 out=$2 want=$3
	if grep -qF -- "$want" <<<"$out"; then
		pass "$name" "$(grep -F -- "$want" <<<"$out" | head -1 | cut -c1-160)"
	else
		fail "$name" "no message naming '$want': $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
	fi
}

check_directories() {
	local out
	mkdir -m 0777 "$E2E_DIR/open"
	out=$(xlbd_paths --socket "$E2E_DIR/a.sock" --state "$E2E_DIR/open/state")
	expect_refused hardening_state_dir_writable_by_others "$out" "chmod go-w $E2E_DIR/open"
	check hardening_state_dir_nothing_created "$(ls -A "$E2E_DIR/open" | wc -l) files in it" \
		test -z "$(ls -A "$E2E_DIR/open")"

	mkdir -m 0755 "$E2E_DIR/theirs"
	chown "$NOBODY" "$E2E_DIR/theirs"
	out=$(xlbd_paths --socket "$E2E_DIR/theirs/xlbd.sock" --state "$E2E_DIR/b.state")
	expect_refused hardening_socket_dir_of_another_user "$out" "owned by uid $NOBODY"
	check hardening_socket_dir_no_lock_created "$(ls -A "$E2E_DIR/theirs" | wc -l) files in it" \
		test -z "$(ls -A "$E2E_DIR/theirs")"

	# Only root could plant this here; it stands for a leftover of any kind.
	mkdir -m 0755 "$E2E_DIR/run"
	ln -s "$E2E_DIR/lock-target" "$E2E_DIR/run/xlbd.sock.lock"
	out=$(xlbd_paths --socket "$E2E_DIR/run/xlbd.sock" --state "$E2E_DIR/c.state")
	expect_refused hardening_lock_link_refused "$out" "symbolic link"
	check hardening_lock_link_target_not_created "$E2E_DIR/lock-target exists: $([[ -e $E2E_DIR/lock-target ]] && echo yes || echo no)" \
		test ! -e "$E2E_DIR/lock-target"
}

# Run with the main xlbd, whose socket and state live in a root-owned 0755
# directory under /tmp (sticky, world-writable).
check_tmp_accepted() {
	pass hardening_sticky_tmp_ancestor_accepted "$(stat -c '%a %U' /tmp) /tmp, $(stat -c '%a %U' "$E2E_DIR") $E2E_DIR"
}

check_tmp_link_not_followed() {
	local vip=$1 before
	echo precious >"$E2E_DIR/precious"
	ln -sf "$E2E_DIR/precious" "$E2E_STATE.tmp"
	before=$(sha256sum <"$E2E_DIR/precious")
	ctl_ok backend set "$vip" "$(backend_of 4 3)" weight 3 || return 0
	if [[ $(sha256sum <"$E2E_DIR/precious") != "$before" ]]; then
		fail hardening_state_tmp_link_not_followed "the link's target was overwritten"
	elif [[ -L $E2E_STATE || -e $E2E_STATE.tmp ]] || ! grep -q "weight 3" "$E2E_STATE"; then
		fail hardening_state_tmp_link_not_followed "state file: $(ls -l "$E2E_STATE"* | tr '\n' ' ')"
	else
		pass hardening_state_tmp_link_not_followed "target unchanged, state file regular with the change"
	fi
	ctl_ok backend set "$vip" "$(backend_of 4 3)" weight 1 || true
}

# ---- xlbctl and who serves the socket ----------------------------------------------

check_foreign_server() {
	local dir=$E2E_DIR/evil pid out rc=0 n
	mkdir -m 0755 "$dir"
	chown "$NOBODY" "$dir"
	setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups -- \
		socat -u "UNIX-LISTEN:$dir/xlbd.sock" "OPEN:$dir/captured,creat,append" </dev/null >/dev/null 2>&1 &
	pid=$!
	E2E_BG_PIDS+=("$pid")
	for n in $(seq 50); do [[ -S $dir/xlbd.sock ]] && break; sleep 0.1; done
	out=$("$XLBCTL" -s "$dir/xlbd.sock" vip add tcp/198.19.0.77:80 2>&1) || rc=$?
	sleep 0.2
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	if ((rc == 0)); then
		fail hardening_xlbctl_refuses_foreign_server "exit 0: $out"
	elif [[ -s $dir/captured ]]; then
		fail hardening_xlbctl_refuses_foreign_server "the statement reached the other server: $(head -c 100 "$dir/captured")"
	else
		expect_refused hardening_xlbctl_refuses_foreign_server "$out" "served by uid $NOBODY"
	fi
}

# ---- NUL ---------------------------------------------------------------------------

check_nul() {
	local out
	out=$(printf 'vip add tcp/198.19.0.99:81\0 mode bogus garbage\n' |
		timeout 10 socat -t 5 - "UNIX-CONNECT:$E2E_SOCK" 2>&1 || true)
	if ! grep -q '^error: NUL byte' <<<"$out"; then
		fail hardening_nul_in_statement "reply: $(tr '\n' ' ' <<<"$out")"
	elif ctl vip list | grep -q 198.19.0.99; then
		fail hardening_nul_in_statement "refused, yet the VIP was added"
	else
		pass hardening_nul_in_statement "$(head -1 <<<"$out")"
	fi
}

# ---- the state file ---------------------------------------------------------------

check_state_frame() {
	local first last n
	first=$(head -1 "$E2E_STATE")
	last=$(tail -1 "$E2E_STATE")
	n=$(grep -vc '^#' "$E2E_STATE" || true)
	check hardening_state_file_framed "first '$first', last '$last', $n statements" \
		test "$first" == "# xlb-state 1" -a "$last" == "# xlb-state end $n"
}

# Restart xlbd on a state file made by fn; it must come up, set the file
# aside, keep the datapath as it was (save, and traffic) and say how to
# recover.
check_damaged() {
	local name=$1 content=$2 want=$3 saved since after
	saved=$(ctl save)
	xlbd_stop
	printf '%s' "$content" >"$E2E_STATE"
	rm -f "$E2E_STATE.bad"
	since=$(now)
	if ! xlbd_start; then
		fail "$name" "xlbd did not start: $(tail -3 "$E2E_LOG" | tr '\n' ' ')"
		xlbd_start_or_die
		return 0
	fi
	after=$(ctl save)
	if ! wait_log "$want" "$since" 1 >/dev/null; then
		fail "$name" "log does not say '$want': $(tail -4 "$E2E_LOG" | tr '\n' ' ' | cut -c1-400)"
	elif ! wait_log "remove $E2E_STATE and start xlbd with -c" "$since" 1 >/dev/null; then
		fail "$name" "log does not say how to recover"
	elif ! cmp -s "$E2E_STATE.bad" <(printf '%s' "$content"); then
		fail "$name" "the damaged file was not kept as $E2E_STATE.bad"
	elif [[ $after != "$saved" ]]; then
		fail "$name" "the datapath changed: $(diff <(echo "$saved") <(echo "$after") | tr '\n' ' ')"
	elif smoke_ok "$name" 4; then
		pass "$name" "set aside as state.bad, $(grep -c . <<<"$after") statements kept, traffic flows"
	fi
}

check_state_damaged() {
	local full cut
	full=$(cat "$E2E_STATE")
	check_damaged hardening_state_empty_refused "" "is empty (0 bytes)"
	# Cut inside the last backend's address:port: "198.18.3.2:8".
	cut=${full%:80 weight*}
	cut="$cut:8"
	check_damaged hardening_state_cut_mid_token_refused "$cut" "cut short"
}

check_state_legacy() {
	local saved since
	saved=$(ctl save)
	xlbd_stop
	{
		echo "# xlb running configuration, rewritten by xlbd after every change."
		echo "# xlbd applies this file at start and then ignores -c; remove it"
		echo "# (with xlbd stopped) to start again from the -c file."
		echo "$saved"
	} >"$E2E_STATE"
	since=$(now)
	xlbd_start_or_die
	if ! wait_log "has no version line" "$since" 1 >/dev/null; then
		fail hardening_state_legacy_read_once "log: $(tail -3 "$E2E_LOG" | tr '\n' ' ')"
	elif [[ $(ctl save) != "$saved" ]]; then
		fail hardening_state_legacy_read_once "save differs after reading it"
	elif [[ $(head -1 "$E2E_STATE") != "# xlb-state 1" ]]; then
		fail hardening_state_legacy_read_once "not rewritten: $(head -1 "$E2E_STATE")"
	else
		pass hardening_state_legacy_read_once "whole old-format file applied, logged, rewritten with the version line"
	fi
}

# ---- many clients -----------------------------------------------------------------

check_concurrent() {
	local pids=() i failed=0 t0 ms
	t0=$(now)
	for i in $(seq "$CONCURRENT"); do
		ctl vip list >/dev/null 2>"$E2E_DIR/cc.$i" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || failed=$((failed + 1))
	done
	ms=$(ms_between "$t0" "$(now)")
	note "$CONCURRENT concurrent xlbctl runs: $failed failed, ${ms} ms in all"
	check hardening_concurrent_clients_all_served "$((CONCURRENT - failed)) of $CONCURRENT ok, ${ms} ms; first error: $(cat "$E2E_DIR"/cc.* | head -1)" \
		test "$failed" -eq 0
	rm -f "$E2E_DIR"/cc.*
}

# Connections that send nothing: more than the daemon serves at once.
check_idle_clients() {
	local pids=() i rc=0 t0 ms pid evicted
	for i in $(seq "$IDLE_CLIENTS"); do
		socat -u EXEC:"sleep 20" "UNIX-CONNECT:$E2E_SOCK" </dev/null >/dev/null 2>&1 &
		pids+=($!)
		E2E_BG_PIDS+=($!)
	done
	sleep 1.5 # all connected, and idle for longer than a real client ever is
	t0=$(now)
	timeout 20 "$XLBCTL" -s "$E2E_SOCK" vip list >/dev/null 2>"$E2E_DIR/idle.err" || rc=$?
	ms=$(ms_between "$t0" "$(now)")
	evicted=$(grep -c "dropped: idle while" "$E2E_LOG" || true)
	note "root's xlbctl with $IDLE_CLIENTS idle connections open: exit $rc after ${ms} ms ($evicted idle clients evicted)"
	check hardening_idle_clients_do_not_lock_out "exit $rc after ${ms} ms with $IDLE_CLIENTS idle connections, $evicted evicted $(head -1 "$E2E_DIR/idle.err")" \
		test "$rc" -eq 0
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait "${pids[@]}" 2>/dev/null || true
}

# Clients that send a request and stop reading its reply, one too large for
# the buffers: more of them than the daemon serves at once.
check_stalled_readers() {
	local big=tcp/198.19.3.1:80 pids=() i rc=0 t0 ms pid size evicted
	{
		echo "vip add $big sched rr"
		for i in $(seq 10000 $((10000 + STALL_BACKENDS - 1))); do
			echo "backend add $big 198.18.1.2:$i"
		done
	} >"$E2E_DIR/big.conf"
	ctl_ok apply "$E2E_DIR/big.conf" || return 0
	size=$(ctl -j show | wc -c)
	printf -- '-j show\n' >"$E2E_DIR/stall.req"
	for i in $(seq "$IDLE_CLIENTS"); do
		# The request, then EOF; the reply goes to a sleep that never reads
		# it, so once a pipe's worth is in, socat stops reading the socket.
		# Killing the sleep ends socat too (a broken pipe).
		# shellcheck disable=SC2216 # the sleep not reading is the point
		socat -t 30 - "UNIX-CONNECT:$E2E_SOCK" <"$E2E_DIR/stall.req" 2>/dev/null | sleep 30 &
		pids+=($!)
		E2E_BG_PIDS+=($!)
	done
	sleep 1.5
	t0=$(now)
	timeout 20 "$XLBCTL" -s "$E2E_SOCK" vip list >/dev/null 2>"$E2E_DIR/stall.err" || rc=$?
	ms=$(ms_between "$t0" "$(now)")
	evicted=$(grep -c "dropped: its reply unread" "$E2E_LOG" || true)
	note "root's xlbctl with $IDLE_CLIENTS clients not reading a $size-byte reply: exit $rc after ${ms} ms ($evicted stalled readers evicted)"
	# Evictions show the replies did not fit the sockets' buffers: the
	# clients really held their slots.
	check hardening_stalled_readers_do_not_lock_out "exit $rc after ${ms} ms, $IDLE_CLIENTS clients not reading $size-byte replies, $evicted evicted $(head -1 "$E2E_DIR/stall.err")" \
		test "$rc" -eq 0 -a "$evicted" -gt 0
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait "${pids[@]}" 2>/dev/null || true
	ctl_ok vip del "$big" || true
}

# ---- kill -9 in the middle of apply ------------------------------------------------

# Little-endian u32 from bpftool's hex bytes.
JQ_U32='def hex: ltrimstr("0x") | explode | reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));
	def u32: (.[0]|hex) + 256 * (.[1]|hex) + 65536 * (.[2]|hex) + 16777216 * (.[3]|hex);'

# Files: backend slots in use ("ID VIP_ID ADDR"), the entries of each live
# table (one line each, in the order of the VIPs that have one), the VIPs
# ("ADDR ID SLOT SIZE"). Prints "ADDR BACKENDS" per VIP.
PINS_AWK='
	FILENAME == ARGV[1] { owner[$1] = $2; addr[$1] = $3; next }
	FILENAME == ARGV[2] { entries[++n_entries] = $0; next }
	$4 == 0 { print $1, "-"; next }
	{
		k = split(entries[++e], ids, " ")
		n = 0
		for (a in seen)
			delete seen[a]
		for (i = 1; i <= k; i++) {
			a = (ids[i] in owner) && owner[ids[i]] == $2 ? addr[ids[i]] : "BAD"
			if (a in seen)
				continue
			seen[a] = 1
			for (j = n; j > 0 && out[j] > a; j--) # a handful: insertion sort
				out[j + 1] = out[j]
			out[j + 1] = a
			n++
		}
		line = out[1]
		for (i = 2; i <= n; i++)
			line = line "," out[i]
		print $1, line
	}'

# The pinned datapath as a packet finds it, read with bpftool: one line per
# VIP in xlb_vips, "VIP BACKEND,BACKEND,..." (the addresses its live table
# sends to, sorted), "VIP -" without a table, "VIP BAD" when the table names
# a slot that is not in use by this VIP.
pins_view() {
	local dir=$E2E_DIR/view
	mkdir -p "$dir"
	bpftool -j map dump pinned "$E2E_PIN/xlb_tables" | jq -r "$JQ_U32"' .[] | "\(.key | u32) \(.value | u32)"' >"$dir/tables"
	bpftool -j map dump pinned "$E2E_PIN/xlb_backends" | jq -r '.[] | .formatted |
		select(.value.flags % 2 == 1) |
		"\(.key) \(.value.vip_id) \(.value.addr[""].bytes[0:4] | map(tostring) | join("."))"' >"$dir/backends"
	bpftool -j map dump pinned "$E2E_PIN/xlb_vips" | jq -r '.[] | .formatted |
		"\(.key.addr[""].bytes[0:4] | map(tostring) | join(".")) \(.value.id) \(.value.table_slot) \(.value.table_size)"' >"$dir/vips"
	# One bpftool for every table: their entries, in the order of vips.
	awk 'FILENAME == ARGV[1] { map[$1] = $2; next } $4 > 0 { print "map dump id " map[$3] }' \
		"$dir/tables" "$dir/vips" >"$dir/batch"
	if [[ -s $dir/batch ]]; then
		bpftool -j batch file "$dir/batch" | jq -r "$JQ_U32"' .[] | [.output[] | .value | u32] | map(tostring) | join(" ")' >"$dir/entries"
	else
		: >"$dir/entries"
	fi
	awk "$PINS_AWK" "$dir/backends" "$dir/entries" "$dir/vips"
}

write_batches() {
	local k v p
	# A backend address:port serves at most 16 nat VIPs: each VIP's on
	# its own port.
	for k in $(seq "$N_VIPS"); do
		v=tcp/198.19.1.$k:80 p=$((10000 + k))
		echo "vip add $v sched rr"
		echo "backend add $v 198.18.1.2:$p"
		echo "backend add $v 198.18.2.2:$p"
	done >"$E2E_DIR/old.conf"
	for k in $(seq "$N_VIPS"); do
		v=tcp/198.19.1.$k:80 p=$((10000 + k))
		echo "backend del $v 198.18.1.2:$p"
		echo "backend add $v 198.18.3.2:$p"
	done >"$E2E_DIR/batch.conf"
	for k in $(seq "$N_VIPS"); do
		v=tcp/198.19.2.$k:80 p=$((20000 + k))
		echo "vip add $v sched rr"
		echo "backend add $v 198.18.1.2:$p"
		echo "backend add $v 198.18.2.2:$p"
		echo "backend add $v 198.18.3.2:$p"
	done >>"$E2E_DIR/batch.conf"
}

OLD_SET=198.18.1.2,198.18.2.2
NEW_SET=198.18.2.2,198.18.3.2
ADDED_SET=198.18.1.2,198.18.2.2,198.18.3.2

# "changed_old=N changed_new=N added=N half=N" over a pins_view; half counts
# VIPs that are neither wholly old nor wholly new (listed in $E2E_DIR/half).
classify() {
	awk -v old="$OLD_SET" -v new="$NEW_SET" -v added="$ADDED_SET" -v out="$E2E_DIR/half" '
		$1 ~ /^198\.19\.1\./ && $2 == old { co++; next }
		$1 ~ /^198\.19\.1\./ && $2 == new { cn++; next }
		$1 ~ /^198\.19\.2\./ && $2 == added { ad++; next }
		{ half++; print > out }
		END { printf "changed_old=%d changed_new=%d added=%d half=%d\n", co, cn, ad, half }'
}

# xlbd running the old configuration alone.
reset_old() {
	xlbd_stop
	rm -f "$E2E_STATE"
	xlbd_start -c "$E2E_DIR/old.conf"
}

check_kill_mid_apply() {
	local t0 apply_ms new_save counts d trial pid bad=0 mixed=0 want
	local changed_old changed_new added half
	write_batches
	if ! reset_old; then
		fail hardening_kill_mid_apply "xlbd did not start on the old configuration: $(tail -3 "$E2E_LOG" | tr '\n' ' ')"
		return 0
	fi
	t0=$(now)
	ctl_ok apply "$E2E_DIR/batch.conf" || return 0
	apply_ms=$(ms_between "$t0" "$(now)")
	new_save=$(ctl save)
	counts=$(pins_view | classify)
	note "100-VIP apply (50 changed, 50 added): ${apply_ms} ms; afterwards $counts"
	eval "$counts"
	if ((changed_new != N_VIPS || added != N_VIPS || half != 0)); then
		fail hardening_kill_mid_apply "the reading of the pins is wrong after a whole apply: $counts"
		return 0
	fi
	# Kill points spread over the apply's duration; more if none of them
	# landed mid-batch (the apply takes tens of milliseconds).
	for ((trial = 1; trial <= KILL_TRIALS || (mixed == 0 && trial <= 2 * KILL_TRIALS); trial++)); do
		rm -f "$E2E_DIR/half"
		reset_old || { fail hardening_kill_mid_apply "xlbd did not start (trial $trial)"; return 0; }
		d=$(awk -v ms="$apply_ms" -v t="$(((trial - 1) % KILL_TRIALS + 1))" -v n="$KILL_TRIALS" \
			'BEGIN { printf "%.3f", ms * t / (n + 1) / 1000 }')
		ctl apply "$E2E_DIR/batch.conf" >/dev/null 2>&1 &
		pid=$!
		sleep "$d"
		xlbd_kill9
		wait "$pid" 2>/dev/null || true
		counts=$(pins_view | classify)
		note "kill -9 after ${d}s: $counts"
		eval "$counts"
		if ((half > 0)); then
			bad=$((bad + 1))
			note "half-applied: $(head -3 "$E2E_DIR/half" | tr '\n' ' ')"
		fi
		((changed_old + changed_new == N_VIPS)) || bad=$((bad + 1))
		if ((changed_old && changed_new)) || ((added && added < N_VIPS)) ||
			((changed_new && !added)); then
			mixed=$((mixed + 1))
		fi
	done
	trial=$((trial - 1))
	check hardening_kill_mid_apply_no_vip_half_applied "$trial kills, $mixed of them mid-batch, $bad with a VIP half-applied" \
		test "$bad" -eq 0
	check hardening_kill_mid_apply_caught_mid_batch "$mixed of $trial kills landed mid-batch (old and new VIPs side by side)" \
		test "$mixed" -gt 0
	# The last trial's state file decides what the restart must complete.
	if grep -q 198.19.2.1: "$E2E_STATE"; then want=new; else want=old; fi
	xlbd_start_or_die
	counts=$(pins_view | classify)
	eval "$counts"
	if [[ $want == new ]]; then
		check hardening_restart_completes_batch "state file had the batch; after restart $counts" \
			test "$(ctl save)" == "$new_save" -a "$changed_new" -eq "$N_VIPS" -a "$added" -eq "$N_VIPS"
	else
		check hardening_restart_completes_batch "state file had the old configuration; after restart $counts" \
			test "$changed_old" -eq "$N_VIPS" -a "$added" -eq 0
	fi
}

main() {
	local vip
	e2e_init hardening
	trap 'e2e_cleanup; rm -rf -- "$E2E_PIN-alt"' EXIT
	e2e_require_binaries
	e2e_lab_up
	check_directories
	xlbd_start_or_die
	lab_mode nat
	vip_setup 4 tcp nat maglev || exit 1
	vip=$(vip_of 4 tcp)
	smoke_ok hardening_smoke 4 || exit 1
	check_tmp_accepted
	check_tmp_link_not_followed "$vip"
	check_foreign_server
	check_nul
	check_state_frame
	check_state_damaged
	check_state_legacy
	check_concurrent
	check_idle_clients
	check_stalled_readers
	check_kill_mid_apply
	e2e_finish
}

main "$@"
