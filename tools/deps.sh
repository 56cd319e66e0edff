#!/usr/bin/env bash
# Install the Debian 12 packages xlb needs to build, test, demo and benchmark.
# Idempotent: when every package is installed it does nothing (no apt at all);
# it refreshes the package lists only when they are missing, older than a
# day, or do not know one of the packages to install.
set -euo pipefail

# Every package, with the reason it is here.
PACKAGES=(
	# build: BPF objects and skeletons, libxlb (libbpf only: libxdp's
	# dispatcher fails on current kernels, so it is not used), the binaries;
	# libmnl: rtnetlink for xlbd (neighbour entries, VIP routes) and xlb-backend (addresses)
	make gcc libc6-dev clang bpftool libbpf-dev libelf-dev zlib1g-dev libmnl-dev
	# xlbd --metrics: the Prometheus endpoint's HTTP server
	libmicrohttpd-dev
	# demo and e2e tests: namespaces and veths (ip, ss), veth offloads,
	# sysctls, nginx backends, clients (curl, wrk, socat), JSON from xlbctl.
	# The UDP echo is perl and nsenter is util-linux: both always installed.
	iproute2 ethtool procps nginx-light curl socat wrk jq nftables
	# tests of xlbd --metrics: promtool checks a scrape, and a real
	# Prometheus server (run by the test only; its service is held like nginx's)
	prometheus
	# the flood test holds 1,000 connections with perl (Time::HiRes is in perl)
	perl
	# man pages (make man): scdoc renders docs/man/*.scd at build time
	scdoc
	# make deb: debhelper's dh; dpkg-buildpackage checks build-essential;
	# lintian inspects the package (tests/e2e/install.sh); bash-completion
	# is what loads xlbctl's completion (the test exercises it)
	build-essential debhelper lintian bash-completion
	# make fuzz and the corpus replays in make test: clang's libFuzzer,
	# ASan and UBSan runtimes
	libclang-rt-14-dev
	# e2e hygiene.sh: TTL-limited TCP probes (traceroute -T)
	traceroute
	# scale-out e2e (tests/e2e/cluster.sh): BIRD 2 speaks BGP and BFD
	# between the gateways and the router, each bird inside its own
	# namespace with its own config and control socket (the machine-wide
	# bird service is held like nginx's, see below)
	bird2
	# the same lab with FRR (tests/e2e/cluster.sh ROUTING=frr): zebra, bgpd
	# and bfdd per namespace, each with its own config, pid and vty socket
	# directory (frr -N); the machine-wide frr service is held and disabled
	frr
)
# The benchmarks (make bench) install their own extras: tools/bench/deps.sh.

LISTS_MAX_AGE_MIN=$((24 * 60))

log() {
	echo "deps: $*" >&2
}

is_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		is_installed "$p" || echo "$p"
	done
}

# True when apt has no recent lists, or when it has no candidate for one of
# the given packages (a fresh machine whose lists were never downloaded).
lists_need_update() {
	local p
	[[ -n $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -"$LISTS_MAX_AGE_MIN" 2>/dev/null | head -1) ]] || return 0
	for p in "$@"; do
		apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]' || return 0
	done
	return 1
}

# Debian starts a service as soon as its package is installed. The project
# runs nginx, bird and prometheus only inside its own namespaces or tests, so
# a policy-rc.d tells the installer not to start the machine-wide ones (only if none exists yet;
# it is removed again right after the install).
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0

hold_service_starts() {
	[[ -e $POLICY_RC ]] && return 0
	printf '#!/bin/sh\n# written by xlb tools/deps.sh during apt-get install\nexit 101\n' >"$POLICY_RC"
	chmod 0755 "$POLICY_RC"
	POLICY_RC_OURS=1
}

release_service_starts() {
	if [[ $POLICY_RC_OURS == 1 ]]; then
		rm -f "$POLICY_RC"
	fi
}

# Installing also enables a package's service for the next boot. The tests
# start their own Prometheus on loopback; a machine-wide one listening on
# :9090 after a reboot is not wanted, so it is installed disabled (only when
# installed just now: an operator's own Prometheus is left alone).
SERVICES_OFF=(prometheus frr)

disable_services() {
	local svc p
	for svc in "${SERVICES_OFF[@]}"; do
		for p in "$@"; do
			[[ $p == "$svc" ]] || continue
			log "disabling the $svc service the package enabled (the tests run their own)"
			deb-systemd-helper disable "$svc.service" >/dev/null 2>&1 || true
			update-rc.d "$svc" disable >/dev/null 2>&1 || true
		done
	done
}

install_packages() {
	hold_service_starts
	trap release_service_starts EXIT
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
	disable_services "$@"
}

main() {
	local missing
	if [[ $(id -u) != 0 ]]; then
		log "must run as root (apt-get install)"
		exit 1
	fi
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		log "all ${#PACKAGES[@]} packages installed"
		return 0
	fi
	log "installing: ${missing[*]}"
	if lists_need_update "${missing[@]}"; then
		DEBIAN_FRONTEND=noninteractive apt-get update
	fi
	install_packages "${missing[@]}"
}

main "$@"
