#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh KVER ROOT [KDIR]: builds kmod/ against KVER's headers
# (or the kernel tree KDIR) with W=1,
# failing on any compiler warning, and installs the module into the
# staging tree ROOT (as `make install` does, with INSTALL_MOD_PATH).  Each
# kernel gets its own copy of the sources, so builds never mix objects.
set -euo pipefail
cd "$(dirname "$0")/.."

kver=$1
root=$2
kdir=${3:-/lib/modules/$kver/build}
src=build/kmod/$kver

rm -rf "$src"
mkdir -p "$src"
cp -r kmod uapi "$src/"
find "$src" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \) -delete

log=$src/build.log
if ! make -C "$kdir" M="$PWD/$src/kmod" W=1 modules >"$log" 2>&1; then
	cat "$log"
	echo "build-module: build against $kver failed"
	exit 1
fi
if grep -E 'warning:|error:' "$log"; then
	echo "build-module: compiler warnings against $kver"
	exit 1
fi
make -C "$kdir" M="$PWD/$src/kmod" INSTALL_MOD_PATH="$(realpath "$root")" \
	INSTALL_MOD_DIR=updates modules_install >>"$log" 2>&1 ||
	{ cat "$log"; exit 1; }
ko=$(find "$root/lib/modules/$kver/updates" -name 'kvm_xbzrle.ko*' | head -n 1)
[ -n "$ko" ] || { echo "build-module: modules_install left no kvm_xbzrle.ko"; exit 1; }
echo "build-module: $ko (vermagic $(modinfo -F vermagic "$ko" | cut -d' ' -f1), depends $(modinfo -F depends "$ko"))"
