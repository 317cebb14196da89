#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs from Debian's archive what building and testing needs, when it
# is missing: QEMU and busybox for the test VMs, the 6.1 and 6.12 kernels
# (images to boot, headers to build against), dkms, clang for the fuzzers,
# linux-source for checkpatch.pl and for the debug kernel, what building
# that kernel needs, and what building the patched QEMU needs
# (userspace/qemu/build-qemu.sh: dpkg-dev for apt-get source, meson and
# the libraries of a minimal x86_64-softmmu build, the firmware it links).
# Kernel package names carry ABI numbers that Debian bumps, so the newest
# ones are resolved here.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "install-deps: must run as root (apt-get)" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
updated=
apt_update() {
	[ -n "$updated" ] && return
	apt-get update -qq
	updated=1
}

# newest linux-image-6.12.N+deb12-amd64 in the archive
newest_612() {
	apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
		awk '{print $1}' | sort -V | tail -n 1
}

pkgs="qemu-system-x86 busybox-static kmod cpio dkms dwarves gcc make
      libc6-dev zlib1g-dev clang libclang-rt-14-dev perl xz-utils openssl
      flex bison bc libelf-dev libssl-dev python3 util-linux
      linux-image-amd64 linux-headers-amd64 linux-source-6.12
      dpkg-dev patch git meson ninja-build pkg-config libglib2.0-dev
      libpixman-1-dev libfdt-dev libslirp-dev libzstd-dev zstd sqlite3 python3-tomli
      seabios ipxe-qemu qemu-system-data debhelper dh-dkms lintian man-db"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done

# true if some Debian SERIES amd64 kernel has both its image and headers
have_kernel() {
	"$(dirname "$0")/kernels.sh" "$1" >/dev/null 2>&1
}

# An old 6.1 image whose headers have left the archive: naming the
# metapackages upgrades both to the same, current ABI.
if ! have_kernel 6.1; then
	missing="$missing linux-image-amd64 linux-headers-amd64"
fi
if ! have_kernel 6.12; then
	apt_update
	img=$(newest_612)
	[ -n "$img" ] || { echo "install-deps: no 6.12 kernel in the archive" >&2; exit 1; }
	missing="$missing $img ${img/linux-image/linux-headers}"
fi

if [ -n "$missing" ]; then
	apt_update
	echo "install-deps: installing$missing"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
