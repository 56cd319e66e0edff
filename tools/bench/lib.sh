# shellcheck shell=bash
# Shared by the benchmark scripts (sourced, not run). Every name carries the
# prefix xbench- (namespaces, work directory), everything runs inside network
# namespaces made here, and xb_cleanup (trapped on EXIT) removes processes,
# namespaces and the work directory again, also after a failure.
#
# Addresses: 198.18.0.0/15 and fd00::/8 only, inside the namespaces.

XB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
XB_BUILD=${BUILD:-$XB_ROOT/build}
XB_BUILD=$(cd "$XB_BUILD" 2>/dev/null && pwd || echo "$XB_BUILD")
XB_TOOLS=$XB_BUILD/tools
XB_PREFIX=${XB_PREFIX:-xbench-}
XB_WORK=/tmp/${XB_PREFIX}work
XB_RESULTS=${XB_RESULTS:-$XB_BUILD/bench}

xb_log() {
	echo "bench: $*" >&2
}

xb_die() {
	echo "bench: error: $*" >&2
	exit 1
}

xb_ns() {
	echo "${XB_PREFIX}$1"
}

# Run a command in a role's network namespace only (not `ip netns exec`,
# which remounts /sys and hides the host's bpffs).
xb_in() {
	local role=$1
	shift
	nsenter --net="/run/netns/$(xb_ns "$role")" -- "$@"
}

xb_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${XB_PREFIX//./\\.}[a-z0-9]+$" || true
}

# Stop the processes living in one of our namespaces (found by namespace,
# never by name): they were started by these scripts.
xb_kill_ns_processes() {
	local ns=$1 pids try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[[ -z $pids ]] && return 0
		if ((try < 7)); then
			# shellcheck disable=SC2086 # one pid per word
			kill -TERM $pids 2>/dev/null || true
		else
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
		fi
		sleep 0.3
	done
}

xb_cleanup() {
	local ns
	for ns in $(xb_namespaces); do
		xb_kill_ns_processes "$ns"
	done
	for ns in $(xb_namespaces); do
		ip netns del "$ns" 2>/dev/null || xb_log "could not delete namespace $ns"
	done
	[[ $XB_WORK == /tmp/xbench-* ]] && rm -rf -- "$XB_WORK"
	return 0
}

# Install the cleanup for this script: on any exit, and on Ctrl-C/TERM.
xb_trap_cleanup() {
	trap xb_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

xb_require_root() {
	[[ $(id -u) == 0 ]] || xb_die "must run as root (network namespaces, XDP)"
}

xb_require_tools() {
	local t
	for t in "$@"; do
		[[ -x $XB_TOOLS/$t ]] || xb_die "$XB_TOOLS/$t is missing: run make first"
	done
}

xb_make_ns() {
	local ns
	ns=$(xb_ns "$1")
	ip netns add "$ns"
	xb_in "$1" ip link set lo up
	xb_in "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	xb_in "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

# xb_veth ROLE_A IF_A MAC_A ROLE_B IF_B MAC_B: a veth pair made directly
# inside the two namespaces. TX checksum offload off (XDP rewrites frames
# whose checksum must then be complete), GRO on (a veth receives XDP_TX and
# redirected frames only when it runs NAPI).
xb_veth() {
	local ra=$1 ia=$2 ma=$3 rb=$4 ib=$5 mb=$6
	ip -n "$(xb_ns "$ra")" link add "$ia" address "$ma" type veth peer name "$ib" \
		address "$mb" netns "$(xb_ns "$rb")"
	xb_in "$ra" ethtool -K "$ia" tx off gro on >/dev/null 2>&1 || true
	xb_in "$rb" ethtool -K "$ib" tx off gro on >/dev/null 2>&1 || true
	xb_in "$ra" ip link set "$ia" up
	xb_in "$rb" ip link set "$ib" up
}

# Machine facts for the report.
xb_machine() {
	local cpu
	cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
	printf 'cpu\t%s\ncores\t%s\nkernel\t%s\nmemory\t%s\n' "${cpu:-unknown}" "$(nproc)" \
		"$(uname -r)" "$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
}
