#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb-test-debian13.sh DKMS_DEB TOOLS_DEB: what scripts/deb-test.sh does on
# this machine's kernels, on Debian 13's: dpkg -i of the packages that
# make deb built, in trixie (its dpkg, its dkms, its gcc-14 and the
# headers of its kernel: the build root of scripts/debian13-kernel.sh,
# under an overlay so that the cached root stays as it was), DKMS building
# and installing the module for that kernel from the postinst alone; then
# the selftests in a VM of that kernel against the module DKMS built; then
# dpkg --purge, which must leave no module, DKMS state or source.
#
# In the chroot, uname -r is the host's, so a uname that answers -r with
# trixie's kernel comes first in PATH: DKMS's postinst builds for the
# running kernel, and on a Debian 13 host that is this one.  The trixie
# root has no dpkg database (its packages are unpacked, not installed), so
# dpkg runs with --force-depends; what the packages depend on is there.
# Needs root.  Files: build/deb/debian13/ (the overlay's upper directory
# keeps what dpkg changed, for a look after a failure).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

[ $# -eq 2 ] || { echo "usage: $0 DKMS_DEB TOOLS_DEB" >&2; exit 2; }
dkms_deb=$(realpath "$1")
tools_deb=$(realpath "$2")
if [ ! -r "$dkms_deb" ] || [ ! -r "$tools_deb" ]; then
	echo "deb-test-debian13: $1 or $2 is not readable" >&2
	exit 1
fi
version=$(dpkg-deb -f "$dkms_deb" Version)
tests=(device_test caps_test offload_test offload_trace_test)

work=$top/build/deb/debian13
rm -rf "$work"
mkdir -p "$work/upper" "$work/work" "$work/mnt" "$work/in"
"$here/debian13-kernel.sh" >"$work/kernel.env"
# shellcheck source=scripts/debian13-env.sh
. "$here/debian13-env.sh"
debian13_env "$work/kernel.env" || exit 1
kver=$D13_KVER
kernel=$D13_KERNEL
modroot=$D13_MODROOT
buildroot=$D13_BUILDROOT
cp "$dkms_deb" "$tools_deb" "$work/in/"
cat >"$work/in/uname" <<EOF
#!/bin/sh
# trixie's kernel for DKMS, which builds for the running kernel
[ "\$*" = -r ] && exec echo "$kver"
exec /usr/bin/uname "\$@"
EOF
chmod 755 "$work/in/uname"

# in_trixie SCRIPT: SCRIPT run by sh in the build root seen through an
# overlay (upper: $work/upper, kept from one call to the next), with /dev,
# a /proc of its own and $work/in as /in, in a mount and PID namespace
# that goes away with it
in_trixie() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount --pid --fork --kill-child --propagation private \
		/bin/sh -c 'w=$1 lower=$2 script=$3 m=$1/mnt
			mount -t overlay overlay \
				-o "lowerdir=$lower,upperdir=$w/upper,workdir=$w/work" "$m" &&
			mount --rbind /dev "$m/dev" &&
			mount -t proc proc "$m/proc" &&
			mkdir -p "$m/in" && mount --bind "$w/in" "$m/in" &&
			exec chroot "$m" /usr/bin/env -i \
				PATH=/in:/usr/sbin:/usr/bin HOME=/tmp LC_ALL=C \
				/bin/sh -ec "$script"' sh "$work" "$buildroot" "$1"
}

echo "deb-test-debian13: dpkg -i $(basename "$dkms_deb") $(basename "$tools_deb") in trixie, kernel $kver"
if ! in_trixie '
	mkdir -p /var/lib/dpkg/info /var/lib/dpkg/updates /var/lib/dpkg/triggers
	: >/var/lib/dpkg/status
	: >/var/lib/dpkg/available
	dpkg --version | head -n 1
	dkms --version
	dpkg --force-depends -i /in/*.deb
	dkms status -m kvm_xbzrle
	kvm-xbzrle-stat --help >/dev/null' >"$work/install.log" 2>&1; then
	cat "$work/install.log"
	echo "deb-test-debian13: dpkg -i in trixie failed"
	exit 1
fi
grep -E '^(Debian .dpkg|dkms-|kvm_xbzrle/)' "$work/install.log" | sed 's/^/deb-test-debian13: /'

fail=0
ko=$(find "$work/upper" -path "*/modules/$kver/updates/dkms/kvm_xbzrle.ko*" | head -n 1)
if ! grep -q "^kvm_xbzrle/$version, $kver, .*: installed" "$work/install.log" || [ -z "$ko" ]; then
	echo "deb-test-debian13: DKMS did not install the module for $kver"
	fail=1
else
	root=$work/vm/root
	rm -rf "$root"
	mkdir -p "$root/lib/modules/$kver/updates" "$root/selftests"
	cp "$ko" "$root/lib/modules/$kver/updates/"
	cp "$top"/build/selftests/* "$top/selftests/settings" "$root/selftests/"
	printf '%s\n' "${tests[@]}" >"$root/selftests/tests.list"
	echo "deb-test-debian13: ${ko#"$work/upper"} ($(modinfo -F vermagic "$ko" | cut -d' ' -f1)): ${tests[*]}"
	if ! VM_KERNEL=$kernel VM_MODROOT=$modroot VM_WORKDIR=$work/vm \
		"$top/selftests/vm/run.sh" "$kver" "$root" >"$work/vm.log" 2>&1; then
		grep -E '^(not )?ok|^# (not )?ok|Bail' "$work/vm.log" | tail -n 30
		echo "deb-test-debian13: selftests against the DKMS-built module failed on $kver"
		fail=1
	else
		echo "deb-test-debian13: $kver: $(tail -n 1 "$work/vm.log")"
	fi
fi

# shellcheck disable=SC2016 # expanded in the chroot
if ! in_trixie '
	dpkg --force-depends --purge kvm-xbzrle-tools kvm-xbzrle-dkms
	echo "left: $(dkms status -m kvm_xbzrle)$(find /usr/lib/modules -name "kvm_xbzrle.ko*")$(ls -d /usr/src/kvm_xbzrle-* 2>/dev/null)"' \
	>"$work/purge.log" 2>&1; then
	cat "$work/purge.log"
	echo "deb-test-debian13: dpkg --purge in trixie failed"
	exit 1
fi
if [ "$(tail -n 1 "$work/purge.log")" != "left: " ]; then
	cat "$work/purge.log"
	echo "deb-test-debian13: dpkg --purge left DKMS state, a module or the source"
	fail=1
else
	echo "deb-test-debian13: dpkg --purge: no DKMS state, module or source left"
fi
exit "$fail"
