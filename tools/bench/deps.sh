#!/usr/bin/env bash
# Install what only the benchmarks need (make bench), on top of tools/deps.sh:
# the alternatives xlb is compared with and the chart tool. Idempotent: with
# everything installed it does nothing at all.
set -euo pipefail

PACKAGES=(
	# part 2/3 alternatives: kernel DNAT (kube-proxy's path), user-space proxies
	nftables libnginx-mod-stream haproxy
	# part 3 clients and servers, charts
	nginx-light wrk gnuplot-nox
	# machine details in the report
	util-linux
)

log() {
	echo "bench-deps: $*" >&2
}

is_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# Debian starts haproxy and nginx as machine-wide services on install; the
# benchmarks run their own copies inside namespaces only, so a policy-rc.d
# forbids service starts for the duration of the install (only if none exists).
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0

release_service_starts() {
	[[ $POLICY_RC_OURS == 1 ]] && rm -f "$POLICY_RC"
	return 0
}

hold_service_starts() {
	[[ -e $POLICY_RC ]] && return 0
	printf '#!/bin/sh\n# written by xlb tools/bench/deps.sh during apt-get install\nexit 101\n' >"$POLICY_RC"
	chmod 0755 "$POLICY_RC"
	POLICY_RC_OURS=1
	trap release_service_starts EXIT
}

main() {
	local missing=() p
	if [[ $(id -u) != 0 ]]; then
		log "must run as root (apt-get install)"
		exit 1
	fi
	for p in "${PACKAGES[@]}"; do
		is_installed "$p" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		return 0
	fi
	log "installing: ${missing[*]}"
	for p in "${missing[@]}"; do
		if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
			DEBIAN_FRONTEND=noninteractive apt-get update
			break
		fi
	done
	hold_service_starts
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

main "$@"
