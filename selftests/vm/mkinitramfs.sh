#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh KVER ROOTDIR OUT
#
# Builds the gzip'd newc initramfs that selftests/vm/init runs in: busybox,
# the real kmod tools, kvm + kvm_amd and their dependencies for kernel KVER,
# and the caller's staging tree ROOTDIR merged on top (the project module
# under lib/modules/KVER/, the selftests under selftests/, optional demo.sh).
#
# Environment:
#   VM_MODROOT   root the kernel's modules are taken from, i.e. modules live
#                in $VM_MODROOT/lib/modules/KVER (default /).  Lets a
#                self-built debug kernel whose modules are not installed on
#                the host be used.
#   VM_MODULES   extra host modules to include (space separated), with their
#                dependencies, e.g. "9p 9pnet_virtio virtio_pci".
set -euo pipefail

usage() {
	echo "usage: $0 KVER ROOTDIR OUT" >&2
	exit 2
}

[ $# -eq 3 ] || usage
kver=$1
rootdir=$2
out=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
modroot=${VM_MODROOT:-/}
moddir=$modroot/lib/modules/$kver

[ -d "$moddir" ] || { echo "$0: no modules for $kver in $moddir" >&2; exit 1; }
[ -d "$rootdir" ] || { echo "$0: ROOTDIR $rootdir is not a directory" >&2; exit 1; }

busybox=$(command -v busybox || true)
kmod=$(command -v kmod || true)
[ -n "$busybox" ] || { echo "$0: busybox (busybox-static) not found" >&2; exit 1; }
[ -n "$kmod" ] || { echo "$0: kmod not found" >&2; exit 1; }
# A dynamic busybox would need its libraries too; the static one does not.
if ldd "$busybox" >/dev/null 2>&1; then
	echo "$0: $busybox is dynamically linked; install busybox-static" >&2
	exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/xbzrle-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,run,etc,root,lib/modules/"$kver"}
mkdir -p "$stage"/sys/kernel/debug

# Copies a dynamic executable's shared libraries (as ldd resolves them on
# this host) to the same paths in the initramfs; static files are skipped.
copy_libs() {
	local lib
	ldd "$1" >/dev/null 2>&1 || return 0
	for lib in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}

cp -L "$busybox" "$stage/bin/busybox"
# kmod's tools are the ones users have; busybox's look-alikes differ (no
# compressed modules, different depmod), so they must not shadow kmod.
kmod_tools="modprobe insmod rmmod lsmod depmod modinfo"
for applet in $("$busybox" --list); do
	case " $kmod_tools busybox " in
	*" $applet "*) continue ;;
	esac
	ln -sf busybox "$stage/bin/$applet"
done
cp -L "$kmod" "$stage/bin/kmod"
copy_libs "$kmod"
for tool in $kmod_tools; do
	ln -sf ../bin/kmod "$stage/sbin/$tool"
done

# The kernel opens /dev/console before init runs; its built-in default
# initramfs has the node, but making it here does not depend on that.
if [ "$(id -u)" -eq 0 ]; then
	mknod -m 600 "$stage/dev/console" c 5 1
fi

# Host modules wanted: KVM for nested SVM, anything asked for, and whatever
# the modules in ROOTDIR declare as dependencies but do not ship themselves.
wanted="kvm kvm_amd ${VM_MODULES:-}"
provided=""
rootmods=$rootdir/lib/modules/$kver
if [ -d "$rootmods" ]; then
	while IFS= read -r -d '' ko; do
		name=$(basename "$ko")
		name=${name%%.ko*}
		provided="$provided ${name//-/_}"
	done < <(find "$rootmods" -name '*.ko*' -type f -print0)
	while IFS= read -r -d '' ko; do
		wanted="$wanted $(modinfo -F depends "$ko" | tr ',' ' ')"
	done < <(find "$rootmods" -name '*.ko*' -type f -print0)
fi

for mod in $wanted; do
	case " $provided " in
	*" ${mod//-/_} "*) continue ;;
	esac
	# show-depends prints "insmod PATH" per module file and "builtin NAME"
	# for built-in ones (common in 6.12), which need nothing copied.
	if ! deps=$(modprobe -d "$modroot" -S "$kver" --show-depends "$mod"); then
		echo "$0: cannot resolve module $mod for $kver" >&2
		exit 1
	fi
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		rel=${path#"$moddir"/}
		mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
		cp "$path" "$stage/lib/modules/$kver/$rel"
	done <<<"$deps"
done

cp -a "$rootdir/." "$stage/"

# After the merge: `make modules_install INSTALL_MOD_PATH=ROOTDIR` leaves
# its own modules.* index files, which must not replace the kernel's lists
# of built-in modules (modprobe on a built-in module relies on them).
for f in modules.order modules.builtin modules.builtin.modinfo; do
	if [ -e "$moddir/$f" ]; then
		cp "$moddir/$f" "$stage/lib/modules/$kver/$f"
	fi
done
depmod -b "$stage" "$kver"

while IFS= read -r -d '' f; do
	copy_libs "$f"
done < <(find "$rootdir" -type f -perm -u+x -print0)

install -m 755 "$here/init" "$stage/init"
install -m 644 "$here/bad-patterns" "$stage/etc/bad-patterns"
install -m 755 "$here/dmesg-check" "$stage/bin/dmesg-check"
install -m 755 "$here/stallmon" "$stage/bin/stallmon"
install -m 755 "$here/hostroot-mount" "$stage/bin/hostroot-mount"

mkdir -p "$(dirname "$out")"
# Sorted and root-owned, so the image does not depend on who built it.
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc --owner=0:0 --reproducible --quiet) | gzip -n -6 >"$out.tmp"
mv "$out.tmp" "$out"
