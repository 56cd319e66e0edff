#!/usr/bin/env bash
# Bad input changes nothing. Each malformed statement must exit non-zero with
# an error that names the offending word, and leave `xlbctl save` as it was.
# A config file with one bad line is rejected whole, naming the line, by both
# `xlbctl apply` and `xlbd -c`. A 10 MB line neither crashes nor wedges xlbd.
set -euo pipefail
source "$(dirname "$0")/common.bash"

VIP=tcp/198.19.0.10:80
DSR_VIP=tcp/198.19.0.40:80 # dsr: a backend must listen on the VIP's port

# name | statement | text the error must contain (an extended regex)
CASES=(
	"bad_address|vip add tcp/198.19.0.300:80|198\.19\.0\.300"
	"port_70000|vip add tcp/198.19.0.11:70000|70000"
	"unknown_keyword|vip add tcp/198.19.0.11:80 shed maglev|shed"
	"unknown_scheduler|vip add tcp/198.19.0.11:80 sched rrr|rrr"
	"unknown_mode|vip add tcp/198.19.0.11:80 mode nad|nad"
	"unknown_verb|vip ad tcp/198.19.0.11:80|ad"
	"ring_not_prime|vip add tcp/198.19.0.11:80 ring 65536|65536"
	"ipv6_without_brackets|vip add tcp/fd00:ff::11:80|bracket"
	"duplicate_vip|vip add $VIP|198\.19\.0\.10"
	"duplicate_backend|backend add $VIP 198.18.1.2|198\.18\.1\.2"
	"missing_vip|backend add tcp/198.19.0.99:80 198.18.1.2|198\.19\.0\.99"
	"missing_vip_del|vip del tcp/198.19.0.77:80|198\.19\.0\.77"
	"missing_backend|backend del $VIP 198.18.3.2|198\.18\.3\.2"
	"weight_minus_1|backend add $VIP 198.18.2.2 weight -1|-1"
	"weight_too_big|backend add $VIP 198.18.2.2 weight 70000|70000"
	"mixed_families|backend add $VIP [fd00:2::2]|famil|fd00:2::2"
	"bad_duration|check set $VIP http interval 5parsecs|5parsecs"
	"unknown_check|check set $VIP icmp|icmp"
	"missing_argument|backend add $VIP|ADDR|backend|missing|expected"
	"timeout_over_interval|check set $VIP tcp interval 500ms timeout 1s|timeout"
	"dsr_port_differs|backend add $DSR_VIP 198.18.2.2:8080|8080"
)

GOOD_CONF="vip add tcp/198.19.0.20:80 sched wrr
backend add tcp/198.19.0.20:80 198.18.1.2 weight 1
backend add tcp/198.19.0.20:80 198.18.2.2 weight 2"
# line 4 is the bad one
BAD_CONF="# a config whose fourth line is wrong
vip add tcp/198.19.0.30:80 sched maglev
backend add tcp/198.19.0.30:80 198.18.1.2
backend add tcp/198.19.0.30:80 198.18.2.2 weight heavy
backend add tcp/198.19.0.30:80 198.18.3.2"

daemon_alive() {
	[[ -n $XLBD_PID ]] && kill -0 "$XLBD_PID" 2>/dev/null
}

# Runs one statement that must fail; checks exit status, message and state.
check_rejected() {
	local name=$1 stmt=$2 want=$3 out rc=0 after
	# The statement is split into words as a shell would (it has no quotes).
	# shellcheck disable=SC2086
	out=$(ctl $stmt 2>&1) || rc=$?
	after=$(ctl save 2>&1 || true)
	if ((rc == 0)); then
		fail "bad_input_$name" "'$stmt' exited 0: $out"
	elif ! grep -qE -- "$want" <<<"$out"; then
		fail "bad_input_$name" "'$stmt': error does not name /$want/: $out"
	elif [[ $after != "$SAVED" ]]; then
		fail "bad_input_$name" "'$stmt' changed the state: $(diff <(echo "$SAVED") <(echo "$after") | tr '\n' ' ')"
	else
		pass "bad_input_$name" "exit $rc: $(head -1 <<<"$out")"
	fi
}

check_ten_mb_line() {
	local out rc=0 after
	out=$(head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' | timeout 30 "$XLBCTL" -s "$E2E_SOCK" apply - 2>&1) || rc=$?
	# Straight to the socket too: the daemon must survive whatever a client sends.
	head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' |
		timeout 30 socat -t 5 - "UNIX-CONNECT:$E2E_SOCK" >/dev/null 2>&1 || true
	after=$(ctl save 2>&1 || true)
	if ((rc == 0 || rc == 124)); then
		fail "bad_input_10mb_line" "xlbctl apply - with a 10 MB line: exit $rc: ${out:0:200}"
	elif ! daemon_alive; then
		fail "bad_input_10mb_line" "xlbd died after a 10 MB line"
	elif [[ $after != "$SAVED" ]]; then
		fail "bad_input_10mb_line" "state changed"
	else
		pass "bad_input_10mb_line" "exit $rc: ${out:0:120}"
	fi
}

check_apply_bad_file() {
	local out rc=0 after
	echo "$BAD_CONF" >"$E2E_DIR/bad.conf"
	out=$(ctl apply "$E2E_DIR/bad.conf" 2>&1) || rc=$?
	after=$(ctl save 2>&1 || true)
	if ((rc == 0)); then
		fail "bad_input_apply_rejects_file" "apply of a file with a bad line 4 exited 0: $out"
	elif ! grep -qE '(line 4|:4)([^0-9]|$)' <<<"$out"; then
		fail "bad_input_apply_rejects_file" "error does not name line 4: $out"
	elif [[ $after != "$SAVED" ]]; then
		fail "bad_input_apply_rejects_file" "lines before the bad one were applied: $(diff <(echo "$SAVED") <(echo "$after") | tr '\n' ' ')"
	else
		pass "bad_input_apply_rejects_file" "exit $rc: $(head -1 <<<"$out")"
	fi
}

# Before the real daemon runs: xlbd -c with the bad file must refuse to start
# and name the line.
check_daemon_bad_config() {
	local out rc=0 pin="$E2E_PIN-badconf"
	echo "$BAD_CONF" >"$E2E_DIR/bad.conf"
	out=$(timeout 20 nsenter --net="/run/netns/$(lab_ns gw)" -- "$XLBD" -i "$LAB_GW_IFACES" \
		-c "$E2E_DIR/bad.conf" --socket "$E2E_DIR/bad.sock" --pin-root "$pin" \
		--state "$E2E_DIR/bad.state" 2>&1) || rc=$?
	lab_in gw "$XLBD" --detach --pin-root "$pin" >/dev/null 2>&1 || true
	rm -rf -- "$pin"
	if ((rc == 0 || rc == 124)); then
		fail "bad_input_xlbd_rejects_config" "xlbd -c with a bad line 4: exit $rc: ${out:0:300}"
	elif ! grep -qE '(line 4|:4)([^0-9]|$)' <<<"$out"; then
		fail "bad_input_xlbd_rejects_config" "error does not name line 4: ${out:0:300}"
	else
		pass "bad_input_xlbd_rejects_config" "exit $rc: $(grep -E '(line 4|:4)' <<<"$out" | head -1)"
	fi
}

check_no_daemon() {
	local out rc=0
	out=$("$XLBCTL" -s "$E2E_DIR/nobody.sock" show 2>&1) || rc=$?
	if ((rc != 0)) && grep -qF "$E2E_DIR/nobody.sock" <<<"$out"; then
		pass "bad_input_no_daemon" "exit $rc: $out"
	else
		fail "bad_input_no_daemon" "exit $rc, error should name the socket: $out"
	fi
}

main() {
	local c name stmt want
	e2e_init badinput
	e2e_require_binaries
	e2e_lab_up
	check_daemon_bad_config
	echo "$GOOD_CONF" >"$E2E_DIR/good.conf"
	xlbd_start_or_die -c "$E2E_DIR/good.conf"
	if ctl save | grep -q '198.19.0.20'; then
		pass "config_file_applied" "xlbd -c: $(ctl save | grep -c .) statements saved"
	else
		fail "config_file_applied" "save after xlbd -c: $(ctl save 2>&1 | tr '\n' ' ')"
	fi
	ctl_ok vip add "$VIP" sched maglev mode nat || exit 1
	ctl_ok backend add "$VIP" 198.18.1.2 weight 1 || exit 1
	ctl_ok vip add "$DSR_VIP" mode dsr || exit 1
	SAVED=$(ctl save)
	for c in "${CASES[@]}"; do
		IFS='|' read -r name stmt want <<<"$c"
		# The rest of the line is a list of alternatives.
		want=${c#*|*|}
		check_rejected "$name" "$stmt" "$want"
	done
	check_apply_bad_file
	check_ten_mb_line
	check_no_daemon
	check "bad_input_daemon_alive" "xlbd still running after all of the above" daemon_alive
	e2e_finish
}

main "$@"
