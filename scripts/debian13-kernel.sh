#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debian13-kernel.sh [ROOT]: Debian 13's own kernel (trixie's
# linux-image-amd64, the newest 6.12.*+deb13-amd64) for the test harness,
# on this Debian 12 machine without installing it, and kvm_xbzrle built
# for it by trixie's own compiler.
#
# Everything comes from trixie by Debian package name, through a private
# apt configuration (scripts/debian-archive.sh): the kernel image package
# (vmlinuz and its modules, depmod'ed here) is unpacked into
# DIR/kernel; a build root, the dependency closure of gcc-14, make,
# libc6-dev, binutils, dwarves and linux-headers-amd64 resolved against an
# empty dpkg status, is unpacked into DIR/root.  trixie's headers need
# gcc-14 (Debian 12's gcc-12 rejects -fmin-function-alignment=16), so the
# module is built inside DIR/root with chroot, in a private mount and PID
# namespace (unshare) holding /dev and /proc, which end with it.
#
# DIR is <cache>/debian13-kernel, <cache> being XBZRLE_KERNEL_CACHE
# (default /var/cache/kvm_xbzrle, as scripts/debug-kernel.sh): outside the
# work tree, so a clean clone on the same machine reuses it.  Nothing is
# fetched again while DIR/stamp names the same package versions; a new
# kernel or compiler in trixie replaces the whole directory.
#
# With ROOT, kvm_xbzrle (kmod/, uapi/ of this tree) is built with W=1 and
# any compiler warning fails; the module is installed into the staging
# tree ROOT (ROOT/lib/modules/KVER/updates), as scripts/build-module.sh
# does for the installed kernels.
#
# Prints on stdout (everything else goes to stderr), for
# selftests/vm/run.sh:
#   KVER=<release>     e.g. 6.12.118+deb13-amd64
#   KERNEL=<vmlinuz>   for VM_KERNEL
#   MODROOT=<dir>      for VM_MODROOT: <dir>/lib/modules/KVER holds the
#                      kernel's modules (kvm, kvm_amd) and modules.dep
#   BUILDROOT=<dir>    trixie's build root (never to be written: it is
#                      the cache; scripts/deb-test-debian13.sh lays an
#                      overlay on it)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/debian-archive.sh
. "$here/debian-archive.sh"

[ $# -le 1 ] || { echo "usage: $0 [ROOT]" >&2; exit 2; }
stage=${1:-}
[ "$(id -u)" = 0 ] || die "needs root (chroot into trixie's build root)"

cache=$(realpath -m "${XBZRLE_KERNEL_CACHE:-/var/cache/kvm_xbzrle}")
dir=$cache/debian13-kernel
{ mkdir -p "$dir" && [ -w "$dir" ]; } 2>/dev/null ||
	die "cannot write the cache directory $dir (set XBZRLE_KERNEL_CACHE)"
exec 9>"$dir/.lock"
flock 9

# The build root's packages; linux-headers-amd64 brings the headers of
# the newest kernel, its -common part, linux-kbuild and gcc-14.  The shell
# and tools Kbuild runs are listed too (an empty status has no essential
# packages), perl for W=1's kernel-doc; dkms, dpkg and libc-bin (ldconfig) for
# scripts/deb-test-debian13.sh, which installs make deb's packages in it.
build_pkgs="linux-headers-amd64 gcc-14 make libc6-dev binutils dwarves
	bash dash coreutils diffutils findutils grep sed gawk tar gzip xz-utils
	kmod perl dkms dpkg libc-bin"

# the closure is resolved as on an empty trixie
debian_trixie_apt "$dir" ||
	die "apt-get update against trixie failed (log: $dir/apt.log)"
# shellcheck disable=SC2086 # a list of package names
plan=$("${apt[@]}" -s install $build_pkgs 2>>"$dir/apt.log" |
	sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p' | LC_ALL=C sort) ||
	die "trixie cannot resolve $build_pkgs (log: $dir/apt.log)"
kver=$(sed -n 's/^linux-headers-\(6\.12\..*+deb13.*-amd64\)=.*/\1/p' <<<"$plan" |
       sort -V | tail -n 1)
[ -n "$kver" ] || die "trixie's linux-headers-amd64 names no 6.12 kernel (log: $dir/apt.log)"
image=linux-image-$kver
# the signed image package; trixie has no unsigned one for amd64 users
image_version=$("${apt[@]}" -s install --no-install-recommends "$image" 2>>"$dir/apt.log" |
	sed -n "s/^Inst $image (\\([^ ]*\\) .*/\\1/p")
[ -n "$image_version" ] || die "trixie has no $image (log: $dir/apt.log)"
want=$(printf '%s\n%s\n' "$image=$image_version" "$plan" | sha256sum | cut -c 1-16)

kernel=$dir/kernel/boot/vmlinuz-$kver
modroot=$dir/kernel
root=$dir/root
if [ "$(cat "$dir/stamp" 2>/dev/null)" != "$want" ] ||
   [ ! -r "$kernel" ] || [ ! -x "$root/usr/bin/gcc-14" ]; then
	t0=$SECONDS
	log "fetching trixie's $image $image_version and a gcc-14 build root ($(wc -l <<<"$plan") packages)"
	rm -f "$dir/stamp"
	rm -rf "$dir/apt/cache/archives" "$dir/debs"
	mkdir -p "$dir/apt/cache/archives/partial" "$dir/debs"
	# shellcheck disable=SC2086
	"${apt[@]}" install --download-only -y $build_pkgs >>"$dir/apt.log" 2>&1 ||
		die "cannot download the build root (log: $dir/apt.log)"
	(cd "$dir/debs" && "${apt[@]}" download "$image=$image_version") >>"$dir/apt.log" 2>&1 ||
		die "cannot download $image $image_version (log: $dir/apt.log)"

	rm -rf "$root" "$dir/kernel"
	# trixie is merged-/usr: the top-level directories are links into
	# /usr, whichever way a package's data names its files
	mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64"
	for d in bin sbin lib lib64; do
		ln -s "usr/$d" "$root/$d"
	done
	n=0
	for deb in "$dir"/apt/cache/archives/*.deb; do
		dpkg-deb --fsys-tarfile "$deb" |
			tar -x -C "$root" --keep-directory-symlink ||
			die "cannot unpack $deb"
		n=$((n + 1))
	done
	# what a package's postinst would have done, for the tools Kbuild
	# calls by their plain names
	ln -sf gcc-14 "$root/usr/bin/gcc"
	ln -sf gcc-14 "$root/usr/bin/cc"
	ln -sf dash "$root/usr/bin/sh"
	[ -e "$root/usr/bin/awk" ] || ln -s gawk "$root/usr/bin/awk"
	mkdir -p "$root/dev" "$root/proc" "$root/tmp" "$root/build"
	chmod 1777 "$root/tmp"

	mkdir -p "$dir/kernel"
	dpkg-deb -x "$dir/debs/"*.deb "$dir/kernel" || die "cannot unpack $image"
	# the kernel's modules may sit in /lib or /usr/lib: MODROOT is one root
	if [ -d "$dir/kernel/usr/lib/modules/$kver" ] && [ ! -e "$dir/kernel/lib" ]; then
		ln -s usr/lib "$dir/kernel/lib"
	fi
	[ -r "$kernel" ] || die "$image has no /boot/vmlinuz-$kver"
	depmod -b "$dir/kernel" "$kver" || die "depmod for $kver failed"
	rm -rf "$dir/apt/cache/archives" "$dir/debs"
	echo "$want" >"$dir/stamp"
	log "unpacked $n packages into $root and $image into $dir/kernel in $((SECONDS - t0))s"
fi

# in_root CMD...: CMD run in trixie's build root, as root, with /dev and a
# /proc of its own in a mount namespace that goes away with it (also
# when it is interrupted: --kill-child ends the chroot's processes)
in_root() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount --pid --fork --kill-child --propagation private \
		/bin/sh -c 'r=$1; shift
			mount --rbind /dev "$r/dev" &&
			mount -t proc proc "$r/proc" &&
			exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin \
				HOME=/tmp LC_ALL=C.UTF-8 "$@"' sh "$root" "$@"
}

gcc_version=$(in_root gcc --version | head -n 1) ||
	die "trixie's gcc does not run in $root"
case $gcc_version in
*" 14."*) ;;
*) die "not trixie's gcc-14 in $root: $gcc_version" ;;
esac

if [ -n "$stage" ]; then
	[ -d "$stage" ] || die "ROOT $stage is not a directory"
	# a copy of the sources inside the build root; each run starts clean
	src=$root/build/kvm_xbzrle
	rm -rf "$src"
	mkdir -p "$src"
	cp -r "$top/kmod" "$top/uapi" "$src/"
	find "$src" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \
		-o -name Module.symvers -o -name modules.order \) -delete
	blog=$top/build/kmod/debian13-$kver.log
	mkdir -p "$(dirname "$blog")"
	kdir=/usr/src/linux-headers-$kver
	[ -f "$root$kdir/Makefile" ] || die "no headers at $kdir in $root"
	if ! in_root make -C "$kdir" M=/build/kvm_xbzrle/kmod W=1 \
		-j"$(nproc)" modules >"$blog" 2>&1; then
		cat "$blog" >&2
		die "build against $kver with trixie's gcc-14 failed"
	fi
	if grep -E 'warning:|error:' "$blog" >&2; then
		die "compiler warnings against $kver (log: $blog)"
	fi
	rm -rf "$src/install"
	in_root make -C "$kdir" M=/build/kvm_xbzrle/kmod \
		INSTALL_MOD_PATH=/build/kvm_xbzrle/install INSTALL_MOD_DIR=updates \
		DEPMOD=true modules_install >>"$blog" 2>&1 ||
		{ cat "$blog" >&2; die "modules_install for $kver failed"; }
	ko=$(cd "$src/install" && find . -name 'kvm_xbzrle.ko*' | head -n 1)
	[ -n "$ko" ] || die "modules_install left no kvm_xbzrle.ko"
	mkdir -p "$stage/$(dirname "$ko")"
	cp "$src/install/$ko" "$stage/$ko"
	ko=$(realpath "$stage/$ko")
	log "$ko (vermagic $(modinfo -F vermagic "$ko" | cut -d' ' -f1), depends $(modinfo -F depends "$ko"), built by $gcc_version, W=1 without warnings)"
fi

echo "KVER=$kver"
echo "KERNEL=$kernel"
echo "MODROOT=$modroot"
echo "BUILDROOT=$root"
