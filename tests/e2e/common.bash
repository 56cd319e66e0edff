# Shared by the end-to-end tests (sourced, not run: tests/run.sh runs only
# tests/e2e/*.sh). Each test script builds its own lab (tools/lab.sh) under
# its own prefix, drives xlbd/xlbctl only through their command lines, and
# prints one line per check:  PASS e2e/NAME (numbers)  or  FAIL e2e/NAME: why
# Measured numbers are also printed as "# ..." lines.

E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
XLBD=${XLBD:-$E2E_REPO/build/xlbd}
XLBCTL=${XLBCTL:-$E2E_REPO/build/xlbctl}
# shellcheck source=../../tools/lab.sh
source "$E2E_REPO/tools/lab.sh"

E2E_PASSED=0
E2E_FAILED=0
XLBD_PID=
E2E_BG_PIDS=()

# ---- reporting -------------------------------------------------------------

pass() {
	local name=$1 detail=${2:-}
	echo "PASS e2e/$name${detail:+ ($detail)}"
	E2E_PASSED=$((E2E_PASSED + 1))
}

fail() {
	local name=$1 detail=$2
	echo "FAIL e2e/$name: $detail"
	E2E_FAILED=$((E2E_FAILED + 1))
}

# One check: PASS when the condition command succeeds.
check() {
	local name=$1 detail=$2
	shift 2
	if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
}

# Keep files for whoever debugs a failure (the work directory is removed).
e2e_keep() {
	local dir=/tmp/xe2e-$E2E_NAME.kept
	local f
	mkdir -p "$dir"
	# Named after their directory too: every backend's log is access.log.
	for f in "$@"; do
		cp -- "$f" "$dir/$(basename "$(dirname "$f")").$(basename "$f")" 2>/dev/null || true
	done
	note "evidence kept in $dir"
}

note() {
	echo "# $*"
}

# The script's exit status: non-zero when any check failed.
e2e_finish() {
	note "$E2E_NAME: $E2E_PASSED passed, $E2E_FAILED failed"
	((E2E_FAILED == 0))
}

# ---- setup and cleanup -----------------------------------------------------

# Names of everything the script creates, derived from its name so that a
# rerun finds (and removes) the leftovers of a crashed run.
e2e_init() {
	E2E_NAME=$1
	lab_set_prefix "xe2e-$E2E_NAME-"
	E2E_DIR=/tmp/xe2e-$E2E_NAME
	E2E_PIN=/sys/fs/bpf/xe2e-$E2E_NAME
	E2E_SOCK=$E2E_DIR/xlbd.sock
	E2E_STATE=$E2E_DIR/state
	E2E_LOG=$E2E_DIR/xlbd.log
	LAB_QUIET=1
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM
	e2e_cleanup
	mkdir -p "$E2E_DIR"
}

# Everything goes, in an order that cannot leave an XDP program attached:
# our own background clients, the daemon, its attachments and pins, then
# the namespaces (with any process still inside) and the work directory.
e2e_cleanup() {
	local pid
	for pid in "${E2E_BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	xlbd_stop
	if [[ -x $XLBD && -e /run/netns/$(lab_ns gw) ]]; then
		lab_in gw "$XLBD" --detach --pin-root "$E2E_PIN" >/dev/null 2>&1 || true
	fi
	lab_down
	if [[ -d $E2E_PIN ]]; then rm -rf -- "$E2E_PIN"; fi
	if [[ -d $E2E_DIR ]]; then
		# Keep the daemon's log of a failed run for whoever debugs it.
		if ((E2E_FAILED > 0)) && [[ -s $E2E_LOG ]]; then
			cp "$E2E_LOG" "/tmp/xe2e-$E2E_NAME.xlbd.log" 2>/dev/null || true
			note "xlbd log kept in /tmp/xe2e-$E2E_NAME.xlbd.log"
		fi
		rm -rf -- "$E2E_DIR"
	fi
}

# Without the binaries there is nothing to test: one FAIL line says why.
e2e_require_binaries() {
	local bin
	for bin in "$XLBD" "$XLBCTL"; do
		if [[ ! -x $bin ]]; then
			fail "$E2E_NAME" "$bin is not built (run make)"
			exit 1
		fi
	done
}

e2e_lab_up() {
	if ! lab_up >"$E2E_DIR/lab.log" 2>&1; then
		fail "$E2E_NAME/lab" "lab setup failed: $(tail -3 "$E2E_DIR/lab.log" | tr '\n' ' ')"
		exit 1
	fi
}

# Start a background command in the client namespace, remembered for cleanup.
# The subshell execs nsenter, which execs the command: $! is its real pid.
client_bg() {
	local out=$1
	shift
	(exec nsenter --net="/run/netns/$(lab_ns client)" -- "$@") </dev/null >"$out" 2>&1 &
	E2E_BG_PID=$!
	E2E_BG_PIDS+=("$E2E_BG_PID")
}

# ---- the daemon ------------------------------------------------------------

ctl() {
	"$XLBCTL" -s "$E2E_SOCK" "$@"
}

# Start xlbd in the gateway namespace on all the gateway's lab interfaces,
# with a scratch pin root, socket and state file. Extra arguments are added
# (e.g. -c FILE). Waits until the control socket answers.
xlbd_start() {
	(exec nsenter --net="/run/netns/$(lab_ns gw)" -- "$XLBD" -i "$LAB_GW_IFACES" \
		--xdp-mode native --socket "$E2E_SOCK" --pin-root "$E2E_PIN" \
		--state "$E2E_STATE" "$@") </dev/null > >(stamp_lines >>"$E2E_LOG") 2>&1 &
	XLBD_PID=$!
	xlbd_wait_ready
}

# Each line of stdin prefixed with the time it arrived ($EPOCHREALTIME):
# xlbd's log has no timestamps, and the tests time its events.
stamp_lines() {
	local line
	while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "$line"
	done
}

# The time of the first xlbd log line after `since` containing text, or
# return 1 when none appears within limit seconds.
wait_log() {
	local text=$1 since=$2 limit=$3 n t
	for ((n = 0; n < limit * 50; n++)); do
		t=$(awk -v since="$since" -v text="$text" '$1 > since && index($0, text) { print $1; exit }' "$E2E_LOG")
		if [[ -n $t ]]; then
			echo "$t"
			return 0
		fi
		sleep 0.02
	done
	return 1
}

xlbd_wait_ready() {
	local n
	for n in $(seq 100); do
		if ! kill -0 "$XLBD_PID" 2>/dev/null; then
			XLBD_PID=
			return 1
		fi
		ctl vip list >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Start xlbd or end the script with a FAIL that shows the daemon's last words.
xlbd_start_or_die() {
	if ! xlbd_start "$@"; then
		fail "$E2E_NAME/xlbd_start" "xlbd did not come up: $(tail -5 "$E2E_LOG" | tr '\n' ' ')"
		exit 1
	fi
}

# A crash, as far as the daemon can tell.
xlbd_kill9() {
	kill -KILL "$XLBD_PID" 2>/dev/null || true
	wait "$XLBD_PID" 2>/dev/null || true
	XLBD_PID=
}

# Run xlbctl; on failure record a FAIL naming the statement and its error.
ctl_ok() {
	local out
	if ! out=$(ctl "$@" 2>&1); then
		fail "$E2E_NAME/xlbctl" "'$*' failed: $out"
		return 1
	fi
}

# ---- VIPs, backends and addresses of the lab ---------------------------------

vip_addr() { if [[ $1 == 6 ]]; then echo "$LAB_VIP6"; else echo "$LAB_VIP4"; fi; }

# The statement form of a VIP: tcp/198.19.0.10:80, udp/[fd00:ff::10]:5353.
vip_of() {
	local fam=$1 proto=$2 port
	if [[ $proto == tcp ]]; then port=$LAB_HTTP_PORT; else port=$LAB_UDP_PORT; fi
	if [[ $fam == 6 ]]; then echo "$proto/[$LAB_VIP6]:$port"; else echo "$proto/$LAB_VIP4:$port"; fi
}

backend_of() {
	local fam=$1 i=$2
	if [[ $fam == 6 ]]; then echo "[$(lab_backend6 "$i")]"; else lab_backend4 "$i"; fi
}

# A backend's address without brackets, as it appears in text output.
backend_bare() {
	if [[ $1 == 6 ]]; then lab_backend6 "$2"; else lab_backend4 "$2"; fi
}

vip_url() {
	if [[ $1 == 6 ]]; then echo "http://[$LAB_VIP6]:$LAB_HTTP_PORT/"; else echo "http://$LAB_VIP4:$LAB_HTTP_PORT/"; fi
}

# dsr needs the VIP on every backend's lo; nat must work without it.
# The gateway also talks to each backend once (lab_check_backends), as its
# health probes would: the kernel forgets neighbours that only XDP uses after
# a minute or two, and how xlb copes with that is datapath.sh's
# no-neighbour case, not something every scheduling test should trip over.
lab_mode() {
	if [[ $1 == dsr ]]; then lab_dsr_all_on; else lab_dsr_all_off; fi
	lab_check_backends
}

# A VIP with backends 1..3 (or the ids given) at weight 1.
vip_setup() {
	local fam=$1 proto=$2 mode=$3 sched=$4 vip i ids
	shift 4
	ids=("$@")
	((${#ids[@]})) || ids=($(lab_backend_ids))
	vip=$(vip_of "$fam" "$proto")
	ctl_ok vip add "$vip" sched "$sched" mode "$mode" || return 1
	for i in "${ids[@]}"; do
		ctl_ok backend add "$vip" "$(backend_of "$fam" "$i")" weight 1 || return 1
	done
}

vip_teardown() {
	local fam=$1 proto=$2
	ctl vip del "$(vip_of "$fam" "$proto")" >/dev/null 2>&1 || true
}

# Backend i's state in the TCP VIP of family fam, as `xlbctl -j show` has it:
# up, down, drain, missing; "unknown" when xlbctl cannot say.
backend_health() {
	local fam=$1 i=$2 state
	state=$(ctl -j show 2>/dev/null | jq -r --arg vip "$(vip_of "$fam" tcp)" --arg addr "$(backend_bare "$fam" "$i")" \
		'.vips[] | select(.vip == $vip) | .backends[] | select(.address == $addr) | .state' 2>/dev/null) || true
	echo "${state:-unknown}"
}

# ---- clients -----------------------------------------------------------------

# N HTTP requests, each on a new TCP connection (the server closes it), from
# one curl process in the client namespace. Prints one line per request:
# "STATUS BACKEND LOCAL_PORT" (status 000 and no backend when it failed).
# Extra curl arguments follow N (e.g. --interface ADDR, --rate 100/s).
http_burst() {
	local fam=$1 n=$2 url i
	shift 2
	url=$(vip_url "$fam")
	for i in $(seq "$n"); do
		printf 'url = "%s?%d"\noutput = "/dev/null"\n' "$url" "$i"
	done | lab_in client curl -s -g -K - -H 'Connection: close' \
		--connect-timeout 1 --max-time 5 "$@" \
		-w '%{http_code} %header{x-backend} %{local_port}\n' || true
}

# Ten requests that must all succeed before a long run is worth starting:
# a broken path would otherwise cost a connect timeout per request.
smoke_ok() {
	local name=$1 fam=$2 ok fail b1 b2 b3
	eval "$(http_burst "$fam" 10 | http_tally)"
	((ok == 10)) && return 0
	fail "$name" "smoke test through the VIP: $ok/10 requests ok"
	return 1
}

# N UDP requests through the VIP with socat, each from a new socket (a new
# source port, so a new flow), 30 at a time. socat sends "ping" and hands the
# reply to `head`, which prints it and exits, ending socat at once (-T 3: a
# reply that never comes ends it after 3 s). Prints the backend name that
# answered each request, or "none".
udp_burst() {
	local fam=$1 n=$2 dir="$E2E_DIR/udp.$$" target i line pids=()
	if [[ $fam == 6 ]]; then target="UDP6:[$LAB_VIP6]:$LAB_UDP_PORT"; else target="UDP4:$LAB_VIP4:$LAB_UDP_PORT"; fi
	mkdir -p "$dir"
	for i in $(seq "$n"); do
		(lab_in client socat -t 0.1 -T 3 "$target" SYSTEM:'echo ping; head -n1 >&2' >/dev/null 2>"$dir/$i") &
		pids+=($!)
		if ((${#pids[@]} == 30)); then
			wait "${pids[@]}" || true
			pids=()
		fi
	done
	((${#pids[@]} == 0)) || wait "${pids[@]}" || true
	for i in $(seq "$n"); do
		line=
		read -r line <"$dir/$i" || true
		echo "${line:-none}"
	done
	rm -rf "$dir"
}

# From http_burst output: "ok=N fail=N b1=N b2=N b3=N" as shell assignments.
http_tally() {
	awk '
		$1 == "200" && $2 ~ /^b[0-9]+$/ { ok++; n[$2]++; next }
		{ fail++ }
		END { printf "ok=%d fail=%d b1=%d b2=%d b3=%d\n", ok, fail, n["b1"], n["b2"], n["b3"] }'
}

udp_tally() {
	awk '
		$1 ~ /^b[0-9]+$/ { ok++; n[$1]++; next }
		{ fail++ }
		END { printf "ok=%d fail=%d b1=%d b2=%d b3=%d\n", ok, fail, n["b1"], n["b2"], n["b3"] }'
}

# True when every backend got at least pct percent of total.
every_backend_at_least() {
	local total=$1 pct=$2 c
	shift 2
	for c in "$@"; do
		((c * 100 >= total * pct)) || return 1
	done
}

# True when count is within pct percent of expected.
within_pct() {
	local count=$1 expected=$2 pct=$3 diff
	diff=$((count - expected))
	((diff < 0)) && diff=$((-diff))
	((diff * 100 <= expected * pct))
}

# wrk's summary as "requests=N errors=N non2xx=N" (errors: connect, read,
# write and timeout socket errors together).
wrk_tally() {
	awk '
		/requests in/ { req = $1 }
		/Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
		/Non-2xx or 3xx responses:/ { non2xx = $5 }
		END { printf "requests=%d errors=%d non2xx=%d\n", req, err, non2xx }' "$1"
}

# ---- backend access logs -----------------------------------------------------

backend_log() { echo "$LAB_DIR/b$1/access.log"; }

# New client connections (first request on a connection) accepted by backend
# i after time t (seconds since the epoch), not counting the gateway's own
# requests (health checks). A request's connection started at about
# $msec - $request_time.
new_conns_after() {
	local i=$1 t=$2
	awk -v t="$t" '
		$3 ~ /^198\.18\.[1-9]/ || $3 ~ /^fd00:[1-9][0-9a-f]*::1$/ { next }
		$6 == 1 && ($1 - $2) > t { n++ }
		END { print n + 0 }' "$(backend_log "$i")"
}

now() {
	echo "$EPOCHREALTIME"
}

# Milliseconds from time a to time b (both $EPOCHREALTIME values).
ms_between() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (b - a) * 1000 }'
}

# Time t plus s seconds.
time_plus() {
	awk -v t="$1" -v s="$2" 'BEGIN { printf "%.6f\n", t + s }'
}
