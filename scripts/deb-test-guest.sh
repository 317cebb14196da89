#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb-test-guest.sh DKMS_DEB TOOLS_DEB [KVER]: the packages that make deb
# built, installed inside a guest as on a real host.  A VM of kernel KVER
# (default: the newest installed 6.12) boots selftests/vm/run.sh's VM with
# scripts/deb-guest-init as its init; the host's root, shared read-only
# over 9p, sits under an overlay with a tmpfs upper layer, and in a chroot
# of it the guest runs dpkg -i (DKMS builds the module for the guest's
# kernel, under TCG: minutes), modprobe kvm_xbzrle, kvm-xbzrle-info, four
# selftests against the DKMS-built module, and dpkg --purge.  The host's
# own root is never written.  Needs root and the packages not installed on
# the host (the guest would see them installed already).  Logs:
# build/deb/guest/KVER/{console.log,results.tap}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 DKMS_DEB TOOLS_DEB [KVER]" >&2
	exit 2
fi
if [ ! -r "$1" ] || [ ! -r "$2" ]; then
	echo "deb-test-guest: $1 or $2 is not readable" >&2
	exit 1
fi
dkms_deb=$(realpath "$1")
tools_deb=$(realpath "$2")
kver=${3:-$(scripts/kernels.sh 6.12)}
# the version DKMS knows the module by: /usr/src/kvm_xbzrle-VERSION
version=$(dpkg-deb -c "$dkms_deb" | sed -n 's|.* \./usr/src/kvm_xbzrle-\([^/]*\)/$|\1|p' | head -n 1)
[ -n "$version" ] || { echo "deb-test-guest: $1 ships no /usr/src/kvm_xbzrle-VERSION" >&2; exit 1; }
tests="device_test caps_test offload_test offload_trace_test"

installed=$(dpkg-query -W -f='${Package} ${Status}\n' kvm-xbzrle-dkms kvm-xbzrle-tools \
	2>/dev/null | grep 'ok installed' || true)
if [ -n "$installed" ]; then
	echo "deb-test-guest: installed on this host ($installed): the guest would" \
	     "see them installed already; dpkg --purge kvm-xbzrle-tools kvm-xbzrle-dkms" >&2
	exit 1
fi
for t in $tests; do
	[ -x "build/selftests/$t" ] || { echo "deb-test-guest: no build/selftests/$t (make selftests)" >&2; exit 1; }
done

work=$top/build/deb/guest/$kver
root=$work/root
rm -rf "$root"
mkdir -p "$root/deb" "$root/selftests"
install -m 755 scripts/deb-guest-init "$root/deb/init"
: >"$root/selftests/tests.list"
{
	printf 'DEB_DKMS=%q\n' "$dkms_deb"
	printf 'DEB_TOOLS=%q\n' "$tools_deb"
	printf 'DEB_VERSION=%q\n' "$version"
	printf 'DEB_SELFTESTS=%q\n' "$top/build/selftests"
	printf 'DEB_TESTS=%q\n' "$tests"
} >"$root/deb.conf"

echo "deb-test-guest: $kver: dpkg -i $(basename "$dkms_deb") $(basename "$tools_deb") in the guest"
export VM_WORKDIR=$work
export VM_MEM=${VM_MEM:-2G}
export VM_TIMEOUT=${VM_TIMEOUT:-1800}
export VM_HOSTROOT=1
export VM_MODULES="overlay ${VM_MODULES:-}"
export VM_APPEND="rdinit=/deb/init ${VM_APPEND:-}"
exec selftests/vm/run.sh "$kver" "$root"
