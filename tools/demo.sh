#!/usr/bin/env bash
# `make demo`: xlb from nothing to a working, self-healing load balancer, in
# network namespaces on this machine. It installs what it needs, builds,
# creates a lab (a client, a gateway running xlbd, three nginx backends),
# configures a VIP with xlbctl, sends real requests, takes a backend down
# and brings it back, and tears everything down again. Nothing leaves the
# namespaces it creates (prefix xdemo-).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
# shellcheck source=lab.sh
source "$REPO/tools/lab.sh"
lab_set_prefix xdemo-
LAB_QUIET=1

DEMO_DIR=/tmp/xdemo
PIN=/sys/fs/bpf/xdemo
SOCK=$DEMO_DIR/xlbd.sock
STATE=$DEMO_DIR/state
LOG=$DEMO_DIR/xlbd.log
XLBD=$REPO/build/xlbd
XLBCTL=$REPO/build/xlbctl
VIP=tcp/198.19.0.10:80
URL=http://198.19.0.10/
XLBD_PID=

# ---- telling the story -------------------------------------------------------

BOLD=
PLAIN=
if [[ -t 1 ]]; then
	BOLD=$(printf '\033[1m')
	PLAIN=$(printf '\033[0m')
fi

chapter() {
	printf '\n%s== %s ==%s\n' "$BOLD" "$*" "$PLAIN"
}

say() {
	printf '%s\n' "$*" | fold -s -w 78
}

# Show an xlbctl command, then run it.
xlbctl_shown() {
	printf '  $ xlbctl %s\n' "$*"
	"$XLBCTL" -s "$SOCK" "$@" | sed 's/^/    /'
}

ctl() {
	"$XLBCTL" -s "$SOCK" "$@"
}

# ---- setup and teardown ------------------------------------------------------

cleanup() {
	xlbd_stop
	if [[ -x $XLBD && -e /run/netns/$(lab_ns gw) ]]; then
		lab_in gw "$XLBD" --detach --pin-root "$PIN" >/dev/null 2>&1 || true
	fi
	lab_down
	if [[ -d $PIN ]]; then rm -rf -- "$PIN"; fi
	rm -rf -- "$DEMO_DIR"
}

start_xlbd() {
	local n
	(exec nsenter --net="/run/netns/$(lab_ns gw)" -- "$XLBD" -i "$LAB_GW_IFACES" \
		--socket "$SOCK" --pin-root "$PIN" --state "$STATE") </dev/null >"$LOG" 2>&1 &
	XLBD_PID=$!
	for n in $(seq 100); do
		ctl vip list >/dev/null 2>&1 && return 0
		kill -0 "$XLBD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "xlbd did not start; its log:" >&2
	cat "$LOG" >&2
	return 1
}

# ---- traffic -----------------------------------------------------------------

# One request on a new connection; prints the backend's name or "FAILED".
one_request() {
	local body
	if body=$(lab_in client curl -s --connect-timeout 1 --max-time 2 -H 'Connection: close' "$URL"); then
		echo "${body:-FAILED}"
	else
		echo FAILED
	fi
}

# count requests, one line each; returns the number that failed.
requests() {
	local count=$1 n answer failed=0
	for n in $(seq "$count"); do
		answer=$(one_request)
		printf '  request %2d -> %s\n' "$n" "$answer"
		[[ $answer == FAILED ]] && failed=$((failed + 1))
	done
	return "$failed"
}

# Health state of backend i ("up", "down", ...) as xlbctl -j show reports it.
backend_health() {
	local addr
	addr=$(lab_backend4 "$1")
	ctl -j show 2>/dev/null | jq -r --arg vip "$VIP" --arg addr "$addr" \
		'.vips[] | select(.vip == $vip) | .backends[] | select(.address == $addr) | .state' 2>/dev/null || true
}

wait_health() {
	local i=$1 want=$2 limit=$3 n
	for n in $(seq $((limit * 10))); do
		[[ $(backend_health "$i") == "$want" ]] && return 0
		sleep 0.1
	done
	return 1
}

# Requests, printed with their time, until backend i is in state want (or
# limit seconds passed).
requests_until_health() {
	local i=$1 want=$2 limit=$3 t0=$EPOCHREALTIME n
	for n in $(seq $((limit * 5))); do
		if [[ $(backend_health "$i") == "$want" ]]; then
			return 0
		fi
		printf '  %5s ms: request -> %s\n' "$(ms_since "$t0")" "$(one_request)"
		sleep 0.2
	done
	return 1
}

# xlbd's log line about backend i changing to state (down|up).
health_log() {
	grep -F "$(lab_backend4 "$1"):80 of" "$LOG" | grep -w "$2" | tail -1 | sed 's/^/    /' || true
}

ms_since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d\n", (b - a) * 1000 }'
}

# ---- the story ---------------------------------------------------------------

main() {
	local t0 failed i
	[[ $(id -u) == 0 ]] || {
		echo "demo: run as root (it creates network namespaces and loads XDP)" >&2
		exit 1
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	chapter "1. Packages"
	say "Installing the Debian packages xlb needs (nothing happens when they are already there)."
	"$REPO/tools/deps.sh"

	chapter "2. Build"
	say "Compiling the XDP program, libxlb, xlbd and xlbctl into build/."
	make -s -C "$REPO" all

	chapter "3. A lab in network namespaces"
	cleanup
	mkdir -p "$DEMO_DIR"
	lab_up
	say "Five namespaces now exist on this machine, joined by veth pairs:"
	cat <<EOF
    xdemo-client  198.18.0.2       the client that sends requests to the VIP
    xdemo-gw      198.18.0.1       the gateway: xlbd attaches XDP to its veths
    xdemo-b1..b3  198.18.{1,2,3}.2  three backends, each running nginx that
                                   answers with its own name (b1, b2, b3)
EOF
	say "The VIP 198.19.0.10 belongs to no machine: the client routes it to the gateway, where the XDP program picks a backend for each new connection."

	chapter "4. Start xlbd on the gateway"
	say "xlbd loads the XDP program, attaches it to the gateway's four veths, pins its maps under $PIN so they outlive the daemon, and listens on $SOCK for xlbctl."
	start_xlbd
	say "xlbd is running (pid $XLBD_PID)."

	chapter "5. Configure a VIP with xlbctl"
	say "One VIP, Maglev scheduling, NAT mode (backends need no change), three backends, and an HTTP health check every second: two failures take a backend out, two successes bring it back."
	xlbctl_shown vip add "$VIP" sched maglev mode nat
	for i in 1 2 3; do
		xlbctl_shown backend add "$VIP" "$(lab_backend4 "$i")" weight 1
	done
	xlbctl_shown check set "$VIP" http interval 1s timeout 500ms fall 2 rise 2
	for i in 1 2 3; do wait_health "$i" up 10 || true; done

	chapter "6. Real requests"
	say "Twelve requests from the client, each on a new TCP connection, so Maglev picks a backend for each one:"
	requests 12 || true

	chapter "7. A backend fails"
	say "Stopping nginx on b2, sending requests meanwhile. Until the health check notices, a new connection that Maglev sends to b2 is refused; the window lasts at most interval x fall + timeout (2.5 s here)."
	t0=$EPOCHREALTIME
	lab_nginx_stop 2
	if requests_until_health 2 down 10; then
		say "xlbd marked b2 down $(ms_since "$t0") ms after nginx was told to stop. Its log says:"
		health_log 2 down
	else
		say "b2 was not marked down within 10 s: see $LOG"
	fi
	say "Twelve more requests: b2 is out of the Maglev table, so every one succeeds on b1 or b3."
	failed=0
	requests 12 || failed=$?

	chapter "8. The backend comes back"
	say "Starting nginx on b2 again. After two successful checks it rejoins the table, and only its own share of new connections moves back to it."
	t0=$EPOCHREALTIME
	lab_nginx_start 2
	if wait_health 2 up 10; then
		say "b2 is up again $(ms_since "$t0") ms after nginx started:"
		health_log 2 up
	else
		say "b2 did not come back within 10 s: see $LOG"
	fi
	requests 12 || true

	chapter "9. What xlbctl shows"
	xlbctl_shown show
	xlbctl_shown stats

	chapter "10. Tearing down"
	say "Stopping xlbd, detaching the XDP program, removing the pins and the namespaces."
	cleanup
	trap - EXIT
	if ((failed > 0)); then
		say "Done, but $failed request(s) failed after b2 was marked down: that is a bug."
		exit 1
	fi
	say "Done. Next: README.md (how the pieces fit) and docs/operations.md (running xlb for real)."
}

main "$@"
