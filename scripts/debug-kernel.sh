#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh: builds, or reuses from a cache, a small debug kernel
# (KASAN, KFENCE, kmemleak, lockdep, UBSAN, ...) from Debian's
# linux-source package, for the test harness (selftests/vm/run.sh).
# Debian's own kernels have none of these checkers, so without this kernel
# the harness's dmesg checks for them can never fire.
#
# Prints exactly four lines on stdout, everything else goes to stderr:
#   KVER=<kernelrelease>   e.g. 6.12.117-xbzrle-debug
#   KERNEL=<bzImage>       for VM_KERNEL
#   MODROOT=<dir>          for VM_MODROOT: <dir>/lib/modules/KVER/ holds
#                          modules.builtin etc. (KVM is built in)
#   KDIR=<dir>             the built tree, for make -C KDIR M=... modules
# so a caller can do: eval "$(scripts/debug-kernel.sh)"
#
# Config: `make tinyconfig` + `make kvm_guest.config` + debug-kernel.config
# (beside this script), and every option in that fragment is checked in the
# final .config: Kconfig drops an option whose dependencies are unmet
# without a word (tinyconfig's SLUB_TINY blocks KASAN that way).
#
# Time: about 8 minutes cold on 2 cores (measured 8 min 11 s: extraction
# and config 25 s, make 7 min 45 s; BRIEF.md's 5 min 49 s was with
# tinyconfig's -Os and without ORC, ACPI and FORTIFY), under a second when
# cached.  The entry takes about 2 GB (the source tree without its *.o).
#
# Environment:
#   XBZRLE_KERNEL_CACHE   cache directory (default /var/cache/kvm_xbzrle):
#                         outside the git work tree, so a fresh clone on the
#                         same machine (CI) reuses the kernel.  One
#                         subdirectory per source version and config; old
#                         ones are not removed automatically.
#   XBZRLE_KERNEL_SOURCE  the linux-source tarball (default: the newest
#                         /usr/src/linux-source-*.tar.xz)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
fragment=$here/debug-kernel.config
# Absolute, so the printed paths work from any directory.
cache=$(realpath -m "${XBZRLE_KERNEL_CACHE:-/var/cache/kvm_xbzrle}")

say() { echo "debug-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

[ -r "$fragment" ] || die "config fragment $fragment missing"

# --- the source -----------------------------------------------------------
if [ -n "${XBZRLE_KERNEL_SOURCE:-}" ]; then
	tarball=$XBZRLE_KERNEL_SOURCE
else
	# sort -V puts 6.12 after 6.1; an unmatched glob stays literal and
	# fails the -r test below.
	tarball=$(printf '%s\n' /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1)
fi
[ -r "$tarball" ] ||
	die "no kernel source tarball ($tarball); apt-get install linux-source-6.12"

# Debian updates linux-source-6.12 in place (same file name, new sublevel),
# so the package version names the cache entry; a tarball no package owns
# is identified by its size and modification time instead.
version=''
ident=''
if pkg=$(dpkg-query -S "$tarball" 2>/dev/null); then
	pkg=${pkg%%:*}
	version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
fi
if [ -z "$version" ]; then
	version=$(basename "$tarball" .tar.xz)
	version=${version#linux-source-}
	ident=$(stat -L -c '%s %Y' "$tarball")
fi
# '~' (as in 1~deb12u1) and the like are awkward in paths.
version=$(printf '%s' "$version" | tr -c 'A-Za-z0-9.+-' '_')

# The key covers what decides the result: the fragment, this script, the
# source and the toolchain (an external module must be built with the
# compiler the kernel was built with).
key=$(
	{
		cat "$fragment" "$self"
		echo "$tarball $ident"
		# (missing tools are reported below, with what to install)
		gcc --version 2>/dev/null | head -n 1 || true
		ld --version 2>/dev/null | head -n 1 || true
	} | sha256sum | cut -c 1-12
)
name=debug-$version-$key
out=$cache/$name

emit() {
	local kver
	kver=$(<"$out/src/include/config/kernel.release")
	echo "KVER=$kver"
	echo "KERNEL=$out/bzImage"
	echo "MODROOT=$out/modroot"
	echo "KDIR=$out/src"
}

# A complete build is the only thing ever renamed to $out (below), so its
# existence means it is usable.
complete() {
	[ -f "$out/bzImage" ] && [ -f "$out/src/include/config/kernel.release" ] &&
		[ -f "$out/src/Module.symvers" ] && [ -d "$out/modroot/lib/modules" ]
}

if complete; then
	say "using cached $out"
	emit
	exit 0
fi

# --- build prerequisites, checked up front rather than minutes in -------
missing=
for tool in make gcc ld flex bison bc perl depmod tar xz; do
	command -v "$tool" >/dev/null || missing="$missing $tool"
done
# objtool (ORC unwinder) needs libelf's headers.
[ -e /usr/include/gelf.h ] || missing="$missing gelf.h(libelf-dev)"
[ -z "$missing" ] ||
	die "missing build tools:$missing (apt-get install build-essential flex bison bc libelf-dev xz-utils kmod)"

# --- one build at a time per cache entry ---------------------------------
# A second caller (parallel CI jobs) waits for the first and then reuses
# its result instead of building the same kernel twice.
{ mkdir -p "$cache" && [ -w "$cache" ]; } 2>/dev/null ||
	die "cannot write the cache directory $cache (set XBZRLE_KERNEL_CACHE)"
exec 9>"$cache/.lock-$name"
if ! flock -n 9; then
	say "another build of $name is running; waiting for it"
	flock -w 3600 9 || die "timed out waiting for the lock on $cache/.lock-$name"
fi
if complete; then
	say "using cached $out (built by another run)"
	emit
	exit 0
fi
# Left-overs of builds that were killed; the lock says none is running.
rm -rf "$cache/.tmp-$name".*

# Built under a temporary name in the cache directory itself (same file
# system, so the final rename is atomic): an interrupted build is never
# mistaken for a finished one.
tmp=$(mktemp -d "$cache/.tmp-$name.XXXXXX")
# mktemp makes it 0700; the kernel is for any user of the machine.
chmod 755 "$tmp"
cleanup() {
	if [ -n "${tmp:-}" ] && [ -d "$tmp" ]; then
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
buildlog=$tmp/build.log
failedlog=$cache/$name.failed.log
src=$tmp/src
start=$SECONDS

# run DESCRIPTION CMD...: CMD's output to the log; on failure, the log's
# tail on stderr and a copy kept beside the cache (the build dir goes).
run() {
	local what=$1
	shift
	say "$what ($((SECONDS - start))s)"
	echo "### $what: $*" >>"$buildlog"
	if ! "$@" >>"$buildlog" 2>&1; then
		cp "$buildlog" "$failedlog"
		{
			echo "--- last 40 lines of the build log (all of it: $failedlog) ---"
			tail -n 40 "$buildlog"
			echo "---"
		} >&2
		die "$what failed"
	fi
}

# ARCH=x86_64, not the default ARCH=x86: with ARCH=x86, tinyconfig answers
# "64-bit kernel?" with no and the config starts out as i386 (FRAME_WARN
# 1024 and other 32-bit defaults survive the later switch to 64BIT).
kmake() {
	make -C "$src" ARCH=x86_64 "$@"
}

say "building $name in $tmp (about 8 min on 2 cores; log $buildlog)"
mkdir -p "$src"
run "extracting $tarball" tar -xf "$tarball" -C "$src" --strip-components=1
run "make tinyconfig" kmake tinyconfig
run "make kvm_guest.config" kmake kvm_guest.config
run "merging $(basename "$fragment")" \
	"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$fragment"
run "make olddefconfig" kmake olddefconfig

# Every line of the fragment must hold in .config: "CONFIG_X=v" exactly,
# "# CONFIG_X is not set" as off or absent (absent = not even visible).
bad=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF -- "$line" "$src/.config" && continue
		sym=${line%%=*}
		got=$(grep -E "^$sym=|^# $sym is not set" "$src/.config" || true)
		bad+=("  wanted $line, got ${got:-nothing (dependencies not met)}")
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		if got=$(grep -E "^$sym=" "$src/.config"); then
			bad+=("  wanted $sym off, got $got (selected by another option)")
		fi
		;;
	esac
done <"$fragment"
if [ ${#bad[@]} -gt 0 ]; then
	cp "$src/.config" "$cache/$name.failed.config"
	printf '%s\n' "Kconfig did not take these options from $fragment:" \
		"${bad[@]}" \
		"(check their 'depends on' with make menuconfig; the resulting config is $cache/$name.failed.config)" >&2
	die "config check failed"
fi
say "config check: all $(grep -cE '^CONFIG_|^# CONFIG_.* is not set' "$fragment") fragment options as requested"

run "make -j$(nproc) bzImage modules" kmake -j"$(nproc)" bzImage modules
kver=$(<"$src/include/config/kernel.release")
# modules.builtin, modules.order and the depmod files even when nothing is
# loadable: modprobe of a built-in module (kvm_amd here) needs them.
run "make modules_install" kmake INSTALL_MOD_PATH="$tmp/modroot" modules_install
moddir=$tmp/modroot/lib/modules/$kver
[ -f "$moddir/modules.builtin" ] || die "modules_install left no $moddir/modules.builtin"
grep -q '/kvm-amd\.ko$' "$moddir/modules.builtin" ||
	die "kvm-amd is not in $moddir/modules.builtin"
# A build link relative to the cache entry, valid after the rename.
rm -f "$moddir/build" "$moddir/source"
ln -s ../../../../src "$moddir/build"
cp "$src/arch/x86/boot/bzImage" "$tmp/bzImage"

# The kernel's own objects are not needed for external modules (they use
# Module.symvers, the generated headers, scripts/ and objtool); keep
# vmlinux for symbol lookups.  This roughly halves the entry.
run "removing the kernel's object files" \
	find "$src" -name '*.o' -type f -delete

# Prove the tree works as KDIR before publishing it.
extmod=$tmp/extmod-check
mkdir -p "$extmod"
cat >"$extmod/check.c" <<'EOF'
// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/slab.h>
static int __init check_init(void)
{
	kfree(kmalloc(16, GFP_KERNEL));
	return 0;
}
module_init(check_init);
MODULE_DESCRIPTION("debug-kernel.sh: KDIR check");
MODULE_LICENSE("GPL");
EOF
echo 'obj-m += check.o' >"$extmod/Kbuild"
run "building a test module against the tree" make -C "$src" M="$extmod" W=1 modules
[ -f "$extmod/check.ko" ] || die "external module build produced no check.ko"
rm -rf "$extmod"

mv -T "$tmp" "$out"
tmp=
rm -f "$failedlog" "$cache/$name.failed.config"
say "built $kver in $((SECONDS - start))s: $out ($(du -sh "$out" | cut -f 1))"
emit
