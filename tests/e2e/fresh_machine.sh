#!/usr/bin/env bash
# A fresh machine: no bpffs on /sys/fs/bpf and no way to tell whether this is
# the host's mount namespace (a minimal VM whose init is not systemd has both).
# xlbd must mount bpffs itself, pin, serve traffic, and survive a kill -9
# restart; it must still refuse when the namespace is provably private.
#
# The script re-runs itself in a private mount namespace, so unmounting
# bpffs there leaves the machine's own mount alone. The inconclusive check is
# made by pointing XLB_HOST_MNTNS at a file that cannot be read.
set -euo pipefail

if [[ -z ${XLB_FRESH_NS:-} ]]; then
	XLB_FRESH_NS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
fi

source "$(dirname "$0")/common.bash"

unmount_bpffs() {
	local n
	for n in 1 2 3 4; do
		mountpoint -q /sys/fs/bpf || return 0
		umount /sys/fs/bpf 2>/dev/null || umount -l /sys/fs/bpf
	done
	! mountpoint -q /sys/fs/bpf
}

on_bpffs() {
	[[ $(stat -f -c %T "$1" 2>/dev/null) == bpf_fs ]]
}

# The host's namespace file is readable and another namespace: that is proof
# the mount would die with us, so xlbd refuses, says why, and mounts nothing.
check_refuses_private_ns() {
	local out rc=0
	out=$(XLB_HOST_MNTNS=/proc/$PPID/ns/mnt lab_in gw "$XLBD" -i "$LAB_GW_IFACES" \
		--socket "$E2E_DIR/refuse.sock" --pin-root "$E2E_PIN" --state "$E2E_DIR/refuse.state" 2>&1) || rc=$?
	if ((rc != 0)) && [[ $out == *"private mount namespace"* ]] && ! on_bpffs /sys/fs/bpf; then
		pass fresh_refuses_provably_private_ns "exit $rc, bpffs not mounted"
	else
		fail fresh_refuses_provably_private_ns "exit $rc, bpffs $(on_bpffs /sys/fs/bpf && echo mounted || echo absent): $(tail -2 <<<"$out" | tr '\n' ' ')"
	fi
}

check_starts_and_pins() {
	if ! XLB_HOST_MNTNS=/nonexistent/ns/mnt xlbd_start; then
		fail fresh_xlbd_starts_without_bpffs "xlbd did not come up: $(tail -5 "$E2E_LOG" | tr '\n' ' ')"
		return 1
	fi
	pass fresh_xlbd_starts_without_bpffs
	check fresh_bpffs_mounted "/sys/fs/bpf is bpffs after the start" on_bpffs /sys/fs/bpf
	check fresh_warns_about_doubt "the log names the risk it could not rule out" \
		grep -q "cannot tell whether this is the host's mount namespace" "$E2E_LOG"
	check fresh_pins_made "maps and links pinned under $E2E_PIN" \
		test -n "$(ls -A "$E2E_PIN" 2>/dev/null)"
}

check_serves() {
	local name=$1 ok fail b1 b2 b3
	eval "$(http_burst 4 30 | http_tally)"
	check "$name" "$ok/30 ok, b1=$b1 b2=$b2 b3=$b3" test "$ok" -eq 30
}

main() {
	e2e_init fresh_machine
	e2e_require_binaries
	if ! unmount_bpffs || on_bpffs /sys/fs/bpf; then
		fail fresh_machine/setup "could not unmount bpffs in the private mount namespace"
		exit 1
	fi
	e2e_lab_up
	lab_mode nat
	check_refuses_private_ns
	check_starts_and_pins || { e2e_finish; exit 1; }
	vip_setup 4 tcp nat maglev || { e2e_finish; exit 1; }
	check_serves fresh_serves_traffic
	xlbd_kill9
	check_serves fresh_forwards_while_xlbd_is_dead
	if XLB_HOST_MNTNS=/nonexistent/ns/mnt xlbd_start; then
		check fresh_restart_adopts_pins "the VIP is still configured after kill -9" \
			grep -q "adopted the pinned datapath" "$E2E_LOG"
		check_serves fresh_serves_after_restart
	else
		fail fresh_restart_adopts_pins "xlbd did not come back: $(tail -3 "$E2E_LOG" | tr '\n' ' ')"
	fi
	e2e_finish
}

main "$@"
