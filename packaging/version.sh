#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Print xlb's version: `git describe` when this tree is a git checkout of
# its own (tags look like v1.2.3), else the VERSION file of a release
# tarball, else 0.0.0. An untagged checkout gives 0.0.0-gHASH[-dirty], so
# every version starts with a number.
#
#   packaging/version.sh           the version, e.g. 1.2.3-4-gabc1234-dirty
#   packaging/version.sh --debian [VERSION]
#                                  it (or VERSION) as a Debian version (a
#                                  native package: no '-'): 1.2.3+4.gabc1234.dirty
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

from_git() {
	# A tarball unpacked inside some other repository must not take that
	# repository's version.
	[ "$(git -C "$top" rev-parse --show-toplevel 2>/dev/null)" = "$top" ] || return 1
	d=$(git -C "$top" describe --tags --always --dirty 2>/dev/null) || return 1
	# Without a tag describe gives a bare hash, which may start with a digit.
	if git -C "$top" describe --tags --abbrev=0 >/dev/null 2>&1; then
		echo "$d"
	else
		echo "0.0.0-g$d"
	fi
}

version() {
	v=$(from_git) || v=
	if [ -z "$v" ] && [ -r "$top/VERSION" ]; then
		v=$(head -n1 "$top/VERSION")
	fi
	v=${v#v}
	case $v in
	[0-9]*) echo "$v" ;;
	'') echo 0.0.0 ;;
	*)
		echo "xlb: version '$v' does not start with a number; using 0.0.0" >&2
		echo 0.0.0
		;;
	esac
}

case ${1:-} in
--debian) { if [ $# -gt 1 ]; then echo "$2"; else version; fi; } | sed -e 's/-/+/' -e 's/-/./g' ;;
'') version ;;
*)
	echo "usage: $0 [--debian [VERSION]]" >&2
	exit 2
	;;
esac
