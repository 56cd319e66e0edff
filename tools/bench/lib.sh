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

# The lab's helpers (tools/lab.sh, sourced: it runs nothing then), for
# stopping a namespace's processes.
# shellcheck source=../lab.sh
source "$XB_ROOT/tools/lab.sh"

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

xb_cleanup() {
	local ns
	for ns in $(xb_namespaces); do
		lab_kill_namespace_processes "$ns"
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

# Backend i (0-based) of a farm whose addresses start at 198.18.BASE.2.
xb_farm_addr() {
	local i=$(($2 + 2))
	echo "198.18.$(($1 + i / 256)).$((i % 256))"
}

# xb_farm_up NAME BASE PREFIXLEN COUNT MACBYTE: namespaces NAMEgw and NAMEbe
# joined by NAMEgw0 - NAMEbe0; the gateway end is 198.18.BASE.1/PREFIXLEN,
# the backend end holds COUNT addresses (xb_farm_addr) and one nginx
# answering 200 on port 80 of every one of them.
xb_farm_up() {
	local name=$1 base=$2 plen=$3 count=$4 mac=$5 i
	xb_make_ns "${name}gw"
	xb_make_ns "${name}be"
	xb_veth "${name}gw" "${name}gw0" "02:be:00:00:$mac:01" "${name}be" "${name}be0" "02:be:00:00:$mac:02"
	xb_in "${name}gw" ip addr add "198.18.$base.1/$plen" dev "${name}gw0"
	for ((i = 0; i < count; i++)); do
		echo "addr add $(xb_farm_addr "$base" "$i")/$plen dev ${name}be0"
	done | xb_in "${name}be" ip -batch -
	mkdir -p "$XB_WORK/nginx"
	printf '%s\n' 'worker_processes 1;' "pid $XB_WORK/nginx/nginx.pid;" \
		"error_log $XB_WORK/nginx/error.log crit;" 'events { worker_connections 4096; }' \
		'http { access_log off; server { listen 80 backlog=4096; return 200 "ok\n"; } }' \
		>"$XB_WORK/nginx/nginx.conf"
	xb_in "${name}be" nginx -c "$XB_WORK/nginx/nginx.conf" -p "$XB_WORK/nginx" -e "$XB_WORK/nginx/error.log"
}
