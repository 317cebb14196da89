#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-build.sh KVER...: dkms add + dkms build for each kernel, as a user's
# dkms would do it, but in private trees under build/dkms so the host's
# dkms state is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
d=$PWD/build/dkms
rm -rf "$d"
mkdir -p "$d/src/kvm_xbzrle-$version" "$d/tree" "$d/install"
cp -r dkms.conf kmod uapi "$d/src/kvm_xbzrle-$version/"
find "$d/src" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \) -delete
trees=(--sourcetree "$d/src" --dkmstree "$d/tree" --installtree "$d/install")

dkms add -m kvm_xbzrle -v "$version" "${trees[@]}" >"$d/add.log" 2>&1 ||
	{ cat "$d/add.log"; exit 1; }
for kver in "$@"; do
	log=$d/build-$kver.log
	if ! dkms build -m kvm_xbzrle -v "$version" -k "$kver" "${trees[@]}" >"$log" 2>&1; then
		cat "$log"
		echo "dkms-build: dkms build for $kver failed"
		exit 1
	fi
	ko=$(find "$d/tree/kvm_xbzrle/$version/$kver" -name 'kvm_xbzrle.ko*' | head -n 1)
	[ -n "$ko" ] || { cat "$log"; echo "dkms-build: no module for $kver"; exit 1; }
	magic=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
	[ "$magic" = "$kver" ] || { echo "dkms-build: $ko is for $magic, not $kver"; exit 1; }
	echo "dkms-build: $kver: ${ko#"$PWD"/}"
done
