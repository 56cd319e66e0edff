#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Installing xlb, from source and as a Debian package:
#   1. make install into a DESTDIR: the exact file list, the unit's paths
#      pointing at the installed files, the installed binaries' --version,
#      xlbctl's completion found by bash-completion under the prefix;
#   2. the installed binaries (not build/'s) run the lab: HTTP through a
#      nat VIP reaches every backend, the completion offers the running
#      daemon's VIPs and backends, the shipped example xlb.conf, with its
#      statements uncommented, is accepted;
#   3. make uninstall leaves no file behind (and keeps an edited xlb.conf);
#   4. make deb: the package's contents, control fields and conffiles,
#      lintian without errors; dpkg -i installs it without enabling the
#      service; /usr/sbin/xlbd --version; an xlbd run with the default
#      paths, then dpkg -r detaches its datapath, and dpkg --purge leaves
#      nothing.
# Step 4 installs the package on this machine (and purges it again); it
# refuses to run when an xlb with the default paths already exists here.
set -euo pipefail
source "$(dirname "$0")/common.bash"

BUILD_DIR=${BUILD:-$E2E_REPO/build}
DEFAULT_PIN=/sys/fs/bpf/xlb
DEFAULT_SOCK=/run/xlb/xlbd.sock
DEFAULT_STATE=/var/lib/xlb/state.conf
PKG_INSTALLED=0
# Exists while this test's package is installed: a rerun after a crash
# purges it, where an xlb installed by anyone else makes the test refuse.
PKG_MARKER=/var/tmp/xe2e-install.package-installed

# Every file make install writes with the default PREFIX, as DESTDIR sees it.
SOURCE_FILES="etc/default/xlbd
etc/xlb/xlb.conf
usr/local/lib/systemd/system/xlbd.service
usr/local/sbin/xlb-backend
usr/local/sbin/xlbctl
usr/local/sbin/xlbd
usr/local/share/bash-completion/completions/xlbctl
usr/local/share/doc/xlb/README.md
usr/local/share/doc/xlb/datapath.md
usr/local/share/doc/xlb/modes.md
usr/local/share/doc/xlb/operations.md
usr/local/share/man/man5/xlb.conf.5
usr/local/share/man/man8/xlb-backend.8
usr/local/share/man/man8/xlbctl.8
usr/local/share/man/man8/xlbd.8"

# And every file of the package (dpkg-deb -c, directories left out).
DEB_FILES="./etc/default/xlbd
./etc/xlb/xlb.conf
./lib/systemd/system/xlbd.service
./usr/sbin/xlb-backend
./usr/sbin/xlbctl
./usr/sbin/xlbd
./usr/share/bash-completion/completions/xlbctl
./usr/share/doc/xlb/README.md
./usr/share/doc/xlb/changelog.gz
./usr/share/doc/xlb/copyright
./usr/share/doc/xlb/datapath.md
./usr/share/doc/xlb/modes.md
./usr/share/doc/xlb/operations.md
./usr/share/man/man5/xlb.conf.5.gz
./usr/share/man/man8/xlb-backend.8.gz
./usr/share/man/man8/xlbctl.8.gz
./usr/share/man/man8/xlbd.8.gz"

run_make() {
	make -C "$E2E_REPO" --no-print-directory BUILD="$BUILD_DIR" "$@"
}

files_under() {
	(cd "$1" && find . \( -type f -o -type l \) -printf '%P\n' | sort)
}

# The differences between two lists, as "+extra -missing" words.
list_diff() {
	diff <(echo "$1") <(echo "$2") | sed -n 's/^> /+/p; s/^< /-/p' | tr '\n' ' ' || true
}

# ---- 1. make install ---------------------------------------------------------

# The unit's ExecStart binary, EnvironmentFile and Documentation files must
# be files of this install.
unit_paths_ok() {
	local root=$1 unit=$1/usr/local/lib/systemd/system/xlbd.service p bad=
	for p in $(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p; s/^EnvironmentFile=-\(.*\)/\1/p;
			s/^Documentation=.*file:\([^ ]*\).*/\1/p' "$unit"); do
		[[ $p == /* && -f $root$p ]] || bad+=" $p"
	done
	grep -q "^ExecStart=/usr/local/sbin/xlbd -c /etc/xlb/xlb.conf " "$unit" || bad+=" ExecStart"
	[[ -z $bad ]] || echo "not installed or wrong:$bad"
}

check_source_install() {
	local root=$1 got why version
	if ! run_make install DESTDIR="$root" >"$E2E_DIR/install.log" 2>&1; then
		fail install/make-install "$(tail -3 "$E2E_DIR/install.log" | tr '\n' ' ')"
		exit 1
	fi
	got=$(files_under "$root")
	check install/file-list "$(echo "$got" | wc -l) files$(list_diff "$SOURCE_FILES" "$got" | sed 's/^./; differs: &/')" \
		test "$got" == "$SOURCE_FILES"
	why=$(unit_paths_ok "$root")
	check install/unit-paths "${why:-ExecStart, EnvironmentFile, Documentation are installed files}" test -z "$why"
	version=$("$E2E_REPO/packaging/version.sh")
	got=$(for b in xlbd xlbctl xlb-backend; do "$root/usr/local/sbin/$b" --version; done | tr '\n' ' ')
	check install/version "$got" test "$got" == "xlbd $version xlbctl $version xlb-backend $version "
	got=$(XDG_DATA_DIRS=$root/usr/local/share bash -c '
		source /usr/share/bash-completion/bash_completion
		__load_completion xlbctl && complete -p xlbctl' 2>&1) || true
	check install/completion-found "bash-completion loads: ${got:-nothing}" test "$got" == "complete -F _xlbctl xlbctl"
}

# ---- 2. the lab, run by the installed binaries ---------------------------------

# What the completion offers for a command line, against the lab's daemon.
complete_line() {
	bash -c 'source "$1"; COMP_LINE=$2; COMP_POINT=${#2}; _xlbctl; echo "${COMPREPLY[*]}"' \
		_ "$1" "$2"
}

check_lab() {
	local root=$1 vip ok fail b1 b2 b3 got want conf
	XLBD=$root/usr/local/sbin/xlbd
	XLBCTL=$root/usr/local/sbin/xlbctl
	PATH=$root/usr/local/sbin:$PATH
	e2e_lab_up
	xlbd_start_or_die
	lab_mode nat
	vip_setup 4 tcp nat maglev || exit 1
	vip=$(vip_of 4 tcp)
	eval "$(http_burst 4 60 | http_tally)"
	check install/lab-traffic "installed xlbd: $ok/60 ok, b1=$b1 b2=$b2 b3=$b3" \
		eval '((ok == 60 && b1 > 0 && b2 > 0 && b3 > 0))'

	local completion=$root/usr/local/share/bash-completion/completions/xlbctl
	got=$(complete_line "$completion" "xlbctl -s $E2E_SOCK backend set ")
	check install/completion-vips "offers: $got" test "$got" == "$vip"
	got=$(complete_line "$completion" "xlbctl -s $E2E_SOCK backend del $vip " | tr ' ' '\n' | sort | tr '\n' ' ')
	want=$(for i in 1 2 3; do echo "$(backend_of 4 "$i"):$LAB_HTTP_PORT"; done | sort | tr '\n' ' ')
	check install/completion-backends "offers: $got" test "$got" == "$want"
	# Keyword values come from the installed xlbctl's own tables.
	got=$(complete_line "$completion" "xlbctl vip add tcp/198.18.0.99:80 sched ")
	check install/completion-sched "offers: $got" test "$got" == "maglev rr wrr srchash"
	got=$(complete_line "$completion" "xlbctl check set $vip ")
	check install/completion-check "offers: $got" test "$got" == "tcp http udp none"

	conf=$E2E_DIR/example.conf
	sed -n 's/^#\(vip\|backend\|check\) /\1 /p' "$root/etc/xlb/xlb.conf" >"$conf"
	got=$(ctl apply "$conf" 2>&1) && got=ok
	check install/example-conf "$(grep -c . "$conf") statements of the shipped xlb.conf: $got" test "$got" == ok
	xlbd_stop
	lab_in gw "$XLBD" --detach --pin-root "$E2E_PIN" >/dev/null 2>&1 || true
	XLBD=$E2E_REPO/build/xlbd
	XLBCTL=$E2E_REPO/build/xlbctl
}

# ---- 3. make uninstall ---------------------------------------------------------

check_uninstall() {
	local root=$1 got
	echo "# an operator's edit" >>"$root/etc/xlb/xlb.conf"
	if ! run_make uninstall DESTDIR="$root" >"$E2E_DIR/uninstall.log" 2>&1; then
		fail install/make-uninstall "$(tail -3 "$E2E_DIR/uninstall.log" | tr '\n' ' ')"
		return
	fi
	got=$(files_under "$root" | tr '\n' ' ')
	check install/uninstall "left: ${got:-nothing}" test "$got" == "etc/xlb/xlb.conf "
}

# ---- 4. the Debian package -------------------------------------------------------

refuse_if_xlb_here() {
	local p
	if [[ -e $PKG_MARKER ]]; then
		note "purging the package a crashed run left installed"
		PKG_INSTALLED=1
		pkg_cleanup
	fi
	for p in "$DEFAULT_PIN" "$DEFAULT_SOCK" "$DEFAULT_STATE" /usr/sbin/xlbd; do
		if [[ -e $p ]]; then
			fail install/deb "$p exists: an xlb is installed or running on this machine, and this test would replace and purge it; remove it first (dpkg --purge xlb)"
			exit 1
		fi
	done
}

pkg_cleanup() {
	((PKG_INSTALLED)) || return 0
	if [[ -d $DEFAULT_PIN ]]; then
		/usr/sbin/xlbd --detach >/dev/null 2>&1 || rm -rf -- "$DEFAULT_PIN"
	fi
	dpkg --purge xlb >/dev/null 2>&1 || true
	rm -f -- "$DEFAULT_SOCK" "$PKG_MARKER"
	PKG_INSTALLED=0
}

check_deb_contents() {
	local deb=$1 got want lint
	got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sort)
	check install/deb-contents "$(echo "$got" | wc -l) files$(list_diff "$DEB_FILES" "$got" | sed 's/^./; differs: &/')" \
		test "$got" == "$DEB_FILES"
	got=$(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')
	want="Package: xlb Version: $("$E2E_REPO/packaging/version.sh" --debian) Architecture: $(dpkg --print-architecture) "
	check install/deb-control "$got" test "$got" == "$want"
	got=$(dpkg-deb -f "$deb" Depends)
	check install/deb-depends "Depends: $got" eval '[[ $got == *libbpf1* && $got == *libmnl0* && $got == *libc6* ]]'
	got=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | tr '\n' ' ')
	check install/deb-conffiles "$got" test "$got" == "/etc/default/xlbd /etc/xlb/xlb.conf "
	lint=$(lintian "$deb" 2>&1 | grep -v 'running with root privileges' || true)
	note "lintian: ${lint:-clean}"
	check install/deb-lintian "$(grep -c '^E:' <<<"$lint" || true) errors, $(grep -c '^W:' <<<"$lint" || true) warnings" \
		eval '! grep -q "^E:" <<<"$lint"'
}

# Installed, not enabled, the right version; then an xlbd with every
# default path runs in the lab and leaves its datapath pinned, for the
# removal to take away.
check_deb_install() {
	local deb=$1 got xdp
	touch "$PKG_MARKER"
	PKG_INSTALLED=1
	if ! dpkg -i "$deb" >"$E2E_DIR/dpkg.log" 2>&1; then
		fail install/dpkg-i "$(tail -3 "$E2E_DIR/dpkg.log" | tr '\n' ' ')"
		exit 1
	fi
	got=$(dpkg-query -W -f='${Status}' xlb)
	check install/dpkg-i "$got" test "$got" == "install ok installed"
	got=$(/usr/sbin/xlbd --version)
	check install/deb-version "$got" test "$got" == "xlbd $("$E2E_REPO/packaging/version.sh")"
	check install/deb-not-enabled "no xlbd.service under /etc/systemd/system" \
		test -z "$(find /etc/systemd/system -name xlbd.service 2>/dev/null)"
	XLBD=/usr/sbin/xlbd XLBCTL=/usr/sbin/xlbctl
	E2E_PIN=$DEFAULT_PIN E2E_SOCK=$DEFAULT_SOCK E2E_STATE=$DEFAULT_STATE
	xlbd_start_or_die
	ctl_ok vip add "$(vip_of 4 tcp)" || true
	xlbd_stop
	xdp=$(xdp_ifaces)
	check install/deb-default-paths "stopped xlbd left its state, its pins and XDP on $xdp interfaces" \
		eval '[[ -s $DEFAULT_STATE && -d $DEFAULT_PIN ]] && ((xdp > 0))'
}

xdp_ifaces() {
	lab_in gw ip -o link show | grep -c 'prog/xdp' || true
}

check_deb_removal() {
	local left xdp
	dpkg -r xlb >"$E2E_DIR/dpkg-r.log" 2>&1 || true
	left=$(dpkg -L xlb 2>/dev/null | while read -r f; do [[ -f $f ]] && echo "$f"; done | tr '\n' ' ' || true)
	check install/dpkg-r "files left: ${left:-none} (the conffiles stay until purge)" \
		test "$left" == "/etc/default/xlbd /etc/xlb/xlb.conf "
	xdp=$(xdp_ifaces)
	check install/dpkg-r-detach "pins $([[ -e $DEFAULT_PIN ]] && echo left || echo removed), $xdp interfaces with XDP" \
		eval '[[ ! -e $DEFAULT_PIN ]] && ((xdp == 0))'
	dpkg --purge xlb >"$E2E_DIR/dpkg-purge.log" 2>&1 || true
	left=$(ls -d /etc/xlb /etc/default/xlbd /var/lib/xlb /usr/sbin/xlbd 2>/dev/null | tr '\n' ' ' || true)
	check install/dpkg-purge "left: ${left:-nothing}; dpkg: $(dpkg-query -W -f='${Status}' xlb 2>&1 | head -1)" \
		eval '[[ -z $left ]] && ! dpkg-query -W xlb >/dev/null 2>&1'
	pkg_cleanup
}

check_deb() {
	local deb
	refuse_if_xlb_here
	if ! deb=$(run_make -s deb 2>"$E2E_DIR/deb.log" | tail -1) || [[ ! -f $deb ]]; then
		fail install/make-deb "$(tail -5 "$E2E_DIR/deb.log" | tr '\n' ' ')"
		exit 1
	fi
	pass install/make-deb "$(basename "$deb"), $(stat -c %s "$deb") bytes"
	check_deb_contents "$deb"
	check_deb_install "$deb"
	check_deb_removal
}

main() {
	local root
	e2e_init install
	e2e_require_binaries
	# The daemon first (it may hold the default pins), then the package.
	trap 'e2e_cleanup; pkg_cleanup' EXIT
	root=$E2E_DIR/root
	check_source_install "$root"
	check_lab "$root"
	check_uninstall "$root"
	check_deb
	e2e_finish
}

main
