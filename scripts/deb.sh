#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb.sh [--lintian] (make deb): builds the Debian packages kvm-xbzrle-dkms
# (architecture all: the module's source under /usr/src/kvm_xbzrle-VERSION,
# built by DKMS for each kernel, the udev rule, commented-out modprobe.d
# and modules-load.d files) and kvm-xbzrle-tools (amd64: kvm-xbzrle-info,
# kvm-xbzrle-stat) with Debian's own tooling (dpkg-buildpackage, debhelper,
# dh-dkms), from a copy of the files git tracks plus packaging/debian/.
# Prints the two .deb paths on its last two lines.  With --lintian it then
# runs lintian on them: an error fails, warnings are listed.
set -euo pipefail
cd "$(dirname "$0")/.."

lint=0
case ${1:-} in
--lintian) lint=1 ;;
"") ;;
*) echo "usage: $0 [--lintian]" >&2; exit 2 ;;
esac

missing=
for t in dpkg-buildpackage:dpkg-dev dh:debhelper dh_dkms:dh-dkms lintian:lintian; do
	command -v "${t%%:*}" >/dev/null || missing="$missing ${t#*:}"
done
[ -z "$missing" ] || {
	echo "deb.sh: missing tools: apt-get install$missing (make deps installs them)" >&2
	exit 1
}

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
deb_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
[ "$version" = "$deb_version" ] || {
	echo "deb.sh: dkms.conf says $version, packaging/debian/changelog $deb_version" >&2
	exit 1
}
out=$PWD/build/deb
src=$out/kvm-xbzrle-$version
rm -rf "$out"
mkdir -p "$src"
# the tracked files as they are in the working tree, nothing built
git ls-files -z | grep -zv '^packaging/' | xargs -0 tar -cf - | tar -xf - -C "$src"
cp -r packaging/debian "$src/debian"

(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log"
	echo "deb.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
}
debs=("$out"/kvm-xbzrle-dkms_"$version"_all.deb "$out"/kvm-xbzrle-tools_"$version"_amd64.deb)
for d in "${debs[@]}"; do
	[ -f "$d" ] || { echo "deb.sh: $d was not built" >&2; exit 1; }
	dpkg-deb -c "$d" | awk '{print "  " $6}' | sed "s|^|$(basename "$d"):|"
done

if [ "$lint" = 1 ]; then
	# errors fail (lintian's exit status); warnings and below are listed
	lintian --info --display-info --fail-on error "$out"/*.changes | tee "$out/lintian.log"
	echo "lintian: $(grep -c '^E: ' "$out/lintian.log" || true) errors," \
	     "$(grep -c '^W: ' "$out/lintian.log" || true) warnings"
fi
printf '%s\n' "${debs[@]}"
