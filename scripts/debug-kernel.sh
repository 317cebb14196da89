#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh [--kernel]: builds, or reuses from a cache, a small debug
# kernel (KASAN, KFENCE, kmemleak, lockdep, UBSAN, ...) from Debian's
# linux-source package with kvm_xbzrle built IN TREE as a module of it
# (virt/kvm/xbzrle/, CONFIG_KVM_XBZRLE=m through the project's Kconfig),
# for the test harness (selftests/vm/run.sh).  Debian's own kernels have
# none of these checkers, so without this kernel the harness's dmesg checks
# for them can never fire.
#
# Prints on stdout (everything else goes to stderr):
#   KVER=<kernelrelease>   e.g. 6.12.117-xbzrle-debug
#   KERNEL=<bzImage>       for VM_KERNEL
#   KDIR=<dir>             the built tree (also usable for make -C KDIR M=...)
#   MODROOT=<dir>          for VM_MODROOT: `make modules_install` of the
#                          tree, i.e. <dir>/lib/modules/KVER/ holds
#                          modules.builtin etc. (KVM is built in) and
#                          kernel/virt/kvm/xbzrle/kvm_xbzrle.ko
#   MODULE=<file>          that kvm_xbzrle.ko
# With --kernel, only the kernel (KVER, KERNEL, KDIR): the module is not
# built.  A caller can do: eval "$(scripts/debug-kernel.sh)"
#
# Two cache levels, so that a change to kmod/ costs a module build, not a
# kernel build:
#   <cache>/debug-<version>-<kernel key>/        the kernel: src/ (the whole
#       built tree, objects kept, so that builds in it are incremental),
#       bzImage.  The kernel key covers the source package version, the
#       config fragment, the project's Kconfig (it can select or depend on
#       kernel options), the functions of this script that make the tree
#       and the toolchain.
#   <cache>/debug-.../modules/<module key>/      the module: modules_install
#       of the tree after kmod/ and the uapi header were copied in and
#       `make W=1 modules` ran.  The module key covers kmod/'s sources and
#       uapi/linux/kvm_xbzrle.h.  A new module key copies them into src/
#       and rebuilds only what depends on them (the module's objects;
#       modpost against the kernel's vmlinux.o).  The ten most recently
#       used module builds are kept.
#
# Config: `make tinyconfig` + `make kvm_guest.config` + debug-kernel.config
# (beside this script, with CONFIG_KVM_XBZRLE=m), and every option in that
# fragment is checked in the final .config: Kconfig drops an option whose
# dependencies are unmet without a word (tinyconfig's SLUB_TINY blocks
# KASAN that way).  The project's Kconfig is also checked both ways:
# without KVM the option disappears, with KVM=m it cannot be y.
#
# Time (2 cores): see Documentation/testing.rst, "The debug kernel".
#
# Environment:
#   XBZRLE_KERNEL_CACHE   cache directory (default /var/cache/kvm_xbzrle):
#                         outside the git work tree, so a fresh clone on the
#                         same machine (CI) reuses the kernel.  Old kernel
#                         entries are not removed automatically.
#   XBZRLE_KERNEL_SOURCE  the linux-source tarball (default: the newest
#                         /usr/src/linux-source-*.tar.xz)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
fragment=$here/debug-kernel.config
kconfig=$top/Kconfig
kmod=$top/kmod
uapi_h=$top/uapi/linux/kvm_xbzrle.h
# Absolute, so the printed paths work from any directory.
cache=$(realpath -m "${XBZRLE_KERNEL_CACHE:-/var/cache/kvm_xbzrle}")
# Where the module sits in the kernel tree.
intree=virt/kvm/xbzrle

say() { echo "debug-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

# --- the functions that decide what the kernel is (hashed into its key) ---

# ARCH=x86_64, not the default ARCH=x86: with ARCH=x86, tinyconfig answers
# "64-bit kernel?" with no and the config starts out as i386 (FRAME_WARN
# 1024 and other 32-bit defaults survive the later switch to 64BIT).
kmake() {
	make -C "$src" ARCH=x86_64 "$@"
}

# kmod/'s sources (not build products), the project's Kconfig and the uapi
# header into the tree: the module as it would be merged.  The header goes
# where every uapi header goes, so the in-tree build needs no -I (kmod/Kbuild
# adds ../uapi only when that directory exists, i.e. out of tree).
install_module_sources() {
	local dir=$src/$intree sub
	for sub in "" /codec; do
		mkdir -p "$dir$sub"
		find "$dir$sub" -maxdepth 1 -type f \
			\( -name '*.[ch]' -o -name Kbuild -o -name Makefile -o -name Kconfig \) \
			-delete
		find "$kmod$sub" -maxdepth 1 -type f \
			\( -name '*.[ch]' -o -name Kbuild -o -name Makefile \) \
			-exec cp {} "$dir$sub/" \;
	done
	cp "$kconfig" "$dir/Kconfig"
	cp "$uapi_h" "$src/include/uapi/linux/kvm_xbzrle.h"
}

# The two lines a merge would add: Kconfig sourced from KVM's common
# Kconfig (read by every architecture with KVM), the directory built from
# virt/Makefile (the top-level Kbuild descends into virt/ unconditionally).
hook_module_into_tree() {
	grep -q 'virt/kvm/xbzrle/Kconfig' "$src/virt/kvm/Kconfig" ||
		printf '\nsource "virt/kvm/xbzrle/Kconfig"\n' >>"$src/virt/kvm/Kconfig"
	# shellcheck disable=SC2016
	grep -q 'kvm/xbzrle/' "$src/virt/Makefile" ||
		printf 'obj-$(CONFIG_KVM_XBZRLE)\t+= kvm/xbzrle/\n' >>"$src/virt/Makefile"
}

configure_kernel() {
	run "make tinyconfig" kmake tinyconfig
	run "make kvm_guest.config" kmake kvm_guest.config
	run "merging $(basename "$fragment")" \
		"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$fragment"
	run "make olddefconfig" kmake olddefconfig
}

build_kernel() {
	# bzImage only: the built-in part.  The one module is built by
	# build_module, so that a module that does not build does not throw
	# away the kernel.  modules_prepare makes scripts/module.lds, and
	# vmlinux.symvers stands in for Module.symvers until then (external
	# modules need both).
	run "make -j$(nproc) bzImage modules_prepare" \
		kmake -j"$(nproc)" bzImage modules_prepare
	cp "$src/vmlinux.symvers" "$src/Module.symvers"
}

# --- helpers ----------------------------------------------------------------

# run DESCRIPTION CMD...: CMD's output to $buildlog; on failure, the log's
# tail on stderr and a copy kept beside the cache ($failedlog).
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

# Every line of the fragment must hold in $1: "CONFIG_X=v" exactly, "#
# CONFIG_X is not set" as off or absent (absent = not even visible).
check_fragment() {
	local config=$1 line sym got bad=()
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$config" && continue
			sym=${line%%=*}
			got=$(grep -E "^$sym=|^# $sym is not set" "$config" || true)
			bad+=("  wanted $line, got ${got:-nothing (dependencies not met)}")
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			if got=$(grep -E "^$sym=" "$config"); then
				bad+=("  wanted $sym off, got $got (selected by another option)")
			fi
			;;
		esac
	done <"$fragment"
	if [ ${#bad[@]} -gt 0 ]; then
		cp "$config" "$cache/$name.failed.config"
		printf '%s\n' "Kconfig did not take these options from $fragment:" \
			"${bad[@]}" \
			"(check their 'depends on' with make menuconfig; the resulting config is $cache/$name.failed.config)" >&2
		die "config check failed"
	fi
	say "config check: all $(grep -cE '^CONFIG_|^# CONFIG_.* is not set' "$fragment") fragment options as requested"
}

# The project's Kconfig, checked the other way: olddefconfig on altered
# copies of the config must drop CONFIG_KVM_XBZRLE without KVM and turn a
# y into m when KVM is a module.
check_kconfig_dependencies() {
	local alt=$src/.config.kconfig-check got
	sed -e 's/^CONFIG_KVM=y$/# CONFIG_KVM is not set/' "$src/.config" >"$alt"
	run "olddefconfig without KVM" kmake KCONFIG_CONFIG="$alt" olddefconfig
	if got=$(grep -E '^CONFIG_KVM_XBZRLE=' "$alt"); then
		die "Kconfig: without KVM, olddefconfig kept $got (depends on KVM missing?)"
	fi
	sed -e 's/^CONFIG_KVM=y$/CONFIG_KVM=m/' \
		-e 's/^CONFIG_KVM_XBZRLE=m$/CONFIG_KVM_XBZRLE=y/' "$src/.config" >"$alt"
	run "olddefconfig with KVM=m, KVM_XBZRLE=y" kmake KCONFIG_CONFIG="$alt" olddefconfig
	got=$(grep -E '^CONFIG_KVM_XBZRLE=' "$alt" || true)
	[ "$got" = CONFIG_KVM_XBZRLE=m ] ||
		die "Kconfig: with KVM=m, olddefconfig made '${got:-nothing}' of KVM_XBZRLE=y (wanted m)"
	rm -f "$alt" "$alt.old"
	say "Kconfig check: KVM_XBZRLE needs KVM and follows it (no KVM: gone; KVM=m: y becomes m)"
}

# Proves the tree works as KDIR for an external module.
check_external_build() {
	local extmod=$entry/extmod-check
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
}

emit_kernel() {
	echo "KVER=$(<"$out/src/include/config/kernel.release")"
	echo "KERNEL=$out/bzImage"
	echo "KDIR=$out/src"
}

# A complete build is the only thing ever renamed to $out, so its existence
# means it is usable.
kernel_complete() {
	[ -f "$out/bzImage" ] && [ -f "$out/src/include/config/kernel.release" ] &&
		[ -f "$out/src/vmlinux.o" ] && [ -f "$out/src/Module.symvers" ]
}

# --- one build at a time per cache entry -----------------------------------
# A second caller (parallel CI jobs) waits for the first and then reuses
# its result instead of building the same thing twice.  Held from the first
# call until the script exits.
lock() {
	[ -n "${locked:-}" ] && return
	exec 9>"$cache/.lock-$name"
	if ! flock -n 9; then
		say "another build in $name is running; waiting for it"
		flock -w 3600 9 || die "timed out waiting for the lock on $cache/.lock-$name"
	fi
	locked=1
}

cold_build() {
	# Prerequisites, checked up front rather than minutes in.
	local missing='' tool
	for tool in make gcc ld flex bison bc perl depmod tar xz; do
		command -v "$tool" >/dev/null || missing="$missing $tool"
	done
	# objtool (ORC unwinder) needs libelf's headers.
	[ -e /usr/include/gelf.h ] || missing="$missing gelf.h(libelf-dev)"
	[ -z "$missing" ] ||
		die "missing build tools:$missing (apt-get install build-essential flex bison bc libelf-dev xz-utils kmod)"

	# Left-overs of builds that were killed; the lock says none is running.
	rm -rf "$cache/.tmp-$name".*
	# Built under a temporary name in the cache directory itself (same
	# file system, so the final rename is atomic): an interrupted build is
	# never mistaken for a finished one.
	tmp=$(mktemp -d "$cache/.tmp-$name.XXXXXX")
	# mktemp makes it 0700; the kernel is for any user of the machine.
	chmod 755 "$tmp"
	entry=$tmp
	src=$tmp/src
	buildlog=$tmp/build.log
	failedlog=$cache/$name.failed.log

	say "building $name in $tmp (about 8 min on 2 cores; log $buildlog)"
	mkdir -p "$src"
	run "extracting $tarball" tar -xf "$tarball" -C "$src" --strip-components=1
	install_module_sources
	hook_module_into_tree
	configure_kernel
	check_fragment "$src/.config"
	check_kconfig_dependencies
	build_kernel
	cp "$src/arch/x86/boot/bzImage" "$tmp/bzImage"
	check_external_build

	mv -T "$tmp" "$out"
	tmp=
	rm -f "$failedlog" "$cache/$name.failed.config"
	say "built the kernel $(<"$out/src/include/config/kernel.release") in $((SECONDS - start))s: $out"
}

# --- the module --------------------------------------------------------------

module_complete() {
	[ -f "$modout/kvm_xbzrle.ko" ] && [ -d "$modout/lib/modules" ]
}

build_module() {
	local kver moddir ko stage
	entry=$out
	src=$out/src
	buildlog=$(mktemp "$cache/.module-$name.XXXXXX.log")
	failedlog=$cache/$name.module-failed.log
	mkdir -p "$out/modules"
	stage=$(mktemp -d "$out/modules/.tmp-$mkey.XXXXXX")
	chmod 755 "$stage"

	say "building kvm_xbzrle in $src/$intree (module key $mkey; log $buildlog)"
	install_module_sources
	# Only the module's objects depend on what changed (kbuild records each
	# object's headers and config options); the rest of the tree is up to
	# date, and `make modules` leaves the built-in part alone.
	run "make W=1 -j$(nproc) modules" kmake W=1 -j"$(nproc)" modules
	# Any compiler or modpost warning fails, as for the Debian kernels.
	if grep -iE 'warning:|error:' "$buildlog" | grep -v '^###' >&2; then
		cp "$buildlog" "$failedlog"
		die "warnings building kvm_xbzrle in the tree (log $failedlog)"
	fi
	kver=$(<"$src/include/config/kernel.release")
	run "make modules_install" kmake INSTALL_MOD_PATH="$stage" modules_install
	moddir=$stage/lib/modules/$kver
	[ -f "$moddir/modules.builtin" ] || die "modules_install left no $moddir/modules.builtin"
	# modprobe of a built-in module (kvm_amd here) needs modules.builtin.
	grep -q '/kvm-amd\.ko$' "$moddir/modules.builtin" ||
		die "kvm-amd is not in $moddir/modules.builtin"
	ko=$moddir/kernel/$intree/kvm_xbzrle.ko
	[ -f "$ko" ] || die "modules_install left no $ko"
	# An in-tree build, not an external one: modpost marks it intree.
	[ "$(modinfo -F intree "$ko")" = Y ] || die "$ko is not marked intree"
	[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$kver" ] ||
		die "$ko has vermagic $(modinfo -F vermagic "$ko"), not $kver"
	# A build link relative to the entry, valid after the rename.
	rm -f "$moddir/build" "$moddir/source"
	ln -s ../../../../../src "$moddir/build"
	ln "$ko" "$stage/kvm_xbzrle.ko"
	mv "$buildlog" "$stage/build.log"
	rm -rf "$modout"
	mv -T "$stage" "$modout"
	rm -f "$failedlog"
	say "built kvm_xbzrle in the tree in $((SECONDS - start))s: $modout (intree: Y, vermagic $kver)"
}

# Keeps the ten most recently used module builds.
prune_modules() {
	local old
	# shellcheck disable=SC2012
	old=$(ls -1t "$out/modules" | tail -n +11)
	for d in $old; do
		rm -rf "${out:?}/modules/$d"
	done
	rm -rf "$out/modules"/.tmp-*
}

main() {
	local only_kernel=
	case "${1:-}" in
	--kernel) only_kernel=1 ;;
	"") ;;
	*) echo "usage: $0 [--kernel]" >&2; exit 2 ;;
	esac

	[ -r "$fragment" ] || die "config fragment $fragment missing"
	[ -r "$kconfig" ] || die "$kconfig missing"
	[ -r "$uapi_h" ] || die "$uapi_h missing"

	# --- the source -----------------------------------------------------
	if [ -n "${XBZRLE_KERNEL_SOURCE:-}" ]; then
		tarball=$XBZRLE_KERNEL_SOURCE
	else
		# sort -V puts 6.12 after 6.1; an unmatched glob stays literal
		# and fails the -r test below.
		tarball=$(printf '%s\n' /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1)
	fi
	[ -r "$tarball" ] ||
		die "no kernel source tarball ($tarball); apt-get install linux-source-6.12"

	# Debian updates linux-source-6.12 in place (same file name, new
	# sublevel), so the package version names the cache entry; a tarball
	# no package owns is identified by its size and modification time.
	local version='' ident='' pkg
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

	# What decides the kernel: the source, the fragment, the project's
	# Kconfig, the functions above that make the tree, the toolchain (an
	# external module must be built with the kernel's compiler).  Not
	# kmod/: the kernel does not depend on it.
	local key
	key=$(
		{
			cat "$fragment" "$kconfig"
			declare -f kmake install_module_sources hook_module_into_tree \
				configure_kernel build_kernel
			echo "$intree $tarball $ident"
			# (missing tools are reported by cold_build)
			gcc --version 2>/dev/null | head -n 1 || true
			ld --version 2>/dev/null | head -n 1 || true
		} | sha256sum | cut -c 1-12
	)
	name=debug-$version-$key
	out=$cache/$name
	start=$SECONDS

	trap cleanup EXIT
	trap 'exit 130' INT TERM

	if kernel_complete; then
		say "using the cached kernel $out"
	else
		{ mkdir -p "$cache" && [ -w "$cache" ]; } 2>/dev/null ||
			die "cannot write the cache directory $cache (set XBZRLE_KERNEL_CACHE)"
		lock
		if kernel_complete; then
			say "using the cached kernel $out (built by another run)"
		else
			cold_build
		fi
	fi
	if [ -n "$only_kernel" ]; then
		emit_kernel
		exit 0
	fi

	# What decides the module, given the kernel: kmod/'s sources and
	# the uapi header (names and contents).
	mkey=$(
		cd "$top" &&
			find kmod kmod/codec -maxdepth 1 -type f \
				\( -name '*.[ch]' -o -name Kbuild -o -name Makefile \) |
			LC_ALL=C sort | xargs sha256sum
		sha256sum <"$uapi_h"
	)
	mkey=$(printf '%s\n' "$mkey" | sha256sum | cut -c 1-12)
	modout=$out/modules/$mkey

	if module_complete; then
		say "using the cached module $modout"
	else
		lock
		if module_complete; then
			say "using the cached module $modout (built by another run)"
		else
			start=$SECONDS
			build_module
		fi
	fi
	touch "$modout"
	[ -n "${locked:-}" ] && prune_modules

	emit_kernel
	echo "MODROOT=$modout"
	echo "MODULE=$modout/kvm_xbzrle.ko"
}

cleanup() {
	if [ -n "${tmp:-}" ] && [ -d "$tmp" ]; then
		rm -rf "$tmp"
	fi
	if [ -n "${buildlog:-}" ] && [ -f "$buildlog" ] && [[ $buildlog == "$cache"/.module-* ]]; then
		rm -f "$buildlog"
	fi
	rm -rf "${out:-/nonexistent}/modules/.tmp-${mkey:-none}".* 2>/dev/null || true
}

# All of it inside main, parsed before it runs: editing this file while a
# build runs cannot change what the running build does.
main "$@"
exit 0
