#!/usr/bin/env bash
# cluster.sh's lab and checks with FRR (zebra + bgpd + bfdd, the shipped
# packaging/frr configurations) on the router and the three gateways in
# place of BIRD: the same proof for the second routing daemon.
set -euo pipefail
ROUTING=frr
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
main "$@"
