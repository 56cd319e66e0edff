#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# make deb: BUILD/xlb_VERSION_ARCH.deb, built by debhelper from a scratch
# copy of the sources (BUILD/deb/xlb-VERSION) with packaging/debian as its
# debian/ directory and the version written to its VERSION file, as in a
# release tarball. The repository itself never gets a debian/ directory.
#
#   packaging/deb.sh BUILD VERSION
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
MAINTAINER="xlb maintainers <maintainers@users.noreply.r-seed-e7b2b96e.example>"

die() {
	echo "deb: $*" >&2
	exit 1
}

# The sources as git knows them (tracked and new, not ignored), or, outside
# a checkout, everything but the build directory.
copy_sources() {
	local dest=$1 build=$2
	mkdir -p "$dest"
	if [[ $(git -C "$top" rev-parse --show-toplevel 2>/dev/null) == "$top" ]]; then
		git -C "$top" ls-files -z -c -o --exclude-standard |
			(cd "$top" && tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
			tar -xf - -C "$dest"
	else
		tar -C "$top" --exclude="./${build#"$top"/}" --exclude=./.git -cf - . | tar -xf - -C "$dest"
	fi
	rm -rf "$dest/debian"
	cp -r "$top/packaging/debian" "$dest/debian"
}

write_changelog() {
	local dest=$1 version=$2 debver=$3
	cat >"$dest/debian/changelog" <<-END
		xlb ($debver) unstable; urgency=medium

		  * Built from xlb $version.

		 -- $MAINTAINER  $(date -R)
	END
}

main() {
	(($# == 2)) || die "usage: $0 BUILD VERSION"
	local build version=$2 debver arch scratch deb
	command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
		die "dpkg-buildpackage and debhelper are missing: run 'make deps'"
	mkdir -p "$1"
	build=$(cd "$1" && pwd)
	debver=$("$top/packaging/version.sh" --debian "$version")
	arch=$(dpkg --print-architecture)
	scratch=$build/deb/xlb-$debver
	rm -rf "$build/deb"
	copy_sources "$scratch" "$build"
	echo "$version" >"$scratch/VERSION"
	write_changelog "$scratch" "$version" "$debver"
	echo "deb: building xlb $debver in $scratch" >&2
	# Not a sub-make of ours: variables given to `make deb` (BUILD, PREFIX,
	# ...) travel in MAKEFLAGS (BUILD maybe in the environment) and would
	# override the package's own: its `make clean` would empty our BUILD.
	(cd "$scratch" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD \
		DEB_BUILD_OPTIONS="parallel=2 nocheck ${DEB_BUILD_OPTIONS:-}" \
		dpkg-buildpackage -us -uc -b) >"$build/deb/build.log" 2>&1 ||
		die "dpkg-buildpackage failed; the end of $build/deb/build.log:
$(tail -20 "$build/deb/build.log")"
	deb=xlb_${debver}_${arch}.deb
	[[ -f $build/deb/$deb ]] || die "dpkg-buildpackage made no $deb (see $build/deb/build.log)"
	mv "$build/deb/$deb" "$build/$deb"
	echo "$build/$deb"
}

main "$@"
