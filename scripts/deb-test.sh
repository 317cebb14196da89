#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb-test.sh DKMS_DEB TOOLS_DEB KVER...: installs the packages that make
# deb built on this machine with dpkg -i, as an administrator would: DKMS
# must build the module for every installed kernel with headers.  Then,
# for each KVER, the selftests run in a VM of that kernel against the
# module DKMS built (not the one scripts/build-module.sh builds), and the
# tools run.  Finally dpkg --purge must leave no module and no DKMS state.
# Needs root.  Packages left by an earlier run are purged first; it refuses
# to run where kvm_xbzrle is in DKMS without them (make dkms-install),
# rather than remove what someone installed.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 3 ] || { echo "usage: $0 DKMS_DEB TOOLS_DEB KVER..." >&2; exit 2; }
dkms_deb=$1 tools_deb=$2
shift 2
version=$(dpkg-deb -f "$dkms_deb" Version)
tests=(device_test caps_test offload_test offload_trace_test)

purge() {
	dpkg --purge kvm-xbzrle-tools kvm-xbzrle-dkms >build/deb/purge.log 2>&1 || {
		cat build/deb/purge.log
		echo "deb-test: dpkg --purge failed"
		return 1
	}
}
trap 'purge >/dev/null 2>&1 || true' EXIT

# The packages of a run that was killed before its purge are ours to
# remove; kvm_xbzrle in DKMS without them (make dkms-install) is not.
installed=$(dpkg-query -W -f='${Status}\n' kvm-xbzrle-dkms kvm-xbzrle-tools \
	2>/dev/null || true)
if grep -q 'ok installed' <<<"$installed"; then
	echo "deb-test: kvm-xbzrle packages left installed by an earlier run: purging them"
	purge
fi
if [ -n "$(dkms status -m kvm_xbzrle 2>/dev/null)" ]; then
	trap - EXIT
	echo "deb-test: kvm_xbzrle is in DKMS here without the packages" \
	     "($(dkms status -m kvm_xbzrle | head -n 1)); make dkms-uninstall" \
	     "removes it" >&2
	exit 1
fi

echo "deb-test: dpkg -i $(basename "$dkms_deb") $(basename "$tools_deb")"
dpkg -i "$dkms_deb" "$tools_deb" >build/deb/install.log 2>&1 || {
	cat build/deb/install.log
	echo "deb-test: dpkg -i failed"
	exit 1
}
dkms status -m kvm_xbzrle | sed 's/^/deb-test: dkms status: /'
# the tools run (kvm-xbzrle-info needs the loaded module: only present)
kvm-xbzrle-stat --help >/dev/null
command -v kvm-xbzrle-info >/dev/null
man -w kvm-xbzrle-stat kvm-xbzrle-info >/dev/null

fail=0
for kver in "$@"; do
	if ! dkms status -m kvm_xbzrle -v "$version" -k "$kver" | grep -q ': installed'; then
		echo "deb-test: DKMS did not install the module for $kver"
		fail=1
		continue
	fi
	ko=$(find "/lib/modules/$kver/updates/dkms" -name 'kvm_xbzrle.ko*' | head -n 1)
	root=build/deb/vm/$kver/root
	rm -rf "$root"
	mkdir -p "$root/lib/modules/$kver/updates" "$root/selftests"
	cp "$ko" "$root/lib/modules/$kver/updates/"
	cp build/selftests/* selftests/settings "$root/selftests/"
	printf '%s\n' "${tests[@]}" >"$root/selftests/tests.list"
	echo "deb-test: $ko ($(modinfo -F vermagic "$ko" | cut -d' ' -f1)): ${tests[*]}"
	if ! VM_WORKDIR=$PWD/build/deb/vm/$kver selftests/vm/run.sh "$kver" "$root" \
		>"build/deb/vm/$kver.log" 2>&1; then
		grep -E '^(not )?ok|^# (not )?ok|Bail' "build/deb/vm/$kver.log" | tail -n 30
		echo "deb-test: selftests against the DKMS-built module failed on $kver"
		fail=1
	else
		echo "deb-test: $kver: $(tail -n 1 "build/deb/vm/$kver.log")"
	fi
done

purge
trap - EXIT
left=$(dkms status -m kvm_xbzrle 2>/dev/null; find /lib/modules -path '*/updates/dkms/kvm_xbzrle.ko*' 2>/dev/null; ls -d /usr/src/kvm_xbzrle-* 2>/dev/null || true)
if [ -n "$left" ]; then
	echo "deb-test: dpkg --purge left: $left"
	fail=1
else
	echo "deb-test: dpkg --purge: no DKMS state, module or source left"
fi
exit "$fail"
