#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# e2e/run.sh [--demo] [KVER|debian13]: the end-to-end migration test (make
# check-e2e) and demo (make demo).
#
# Boots Debian's kernel KVER (default: the newest installed 6.12; debian13:
# Debian 13's own kernel, unpacked from trixie's packages with the module
# built by trixie's gcc-14, scripts/debian13-kernel.sh) in the
# test VM of selftests/vm/run.sh (TCG, -cpu max -smp 2, nested KVM) with
# the host's root shared read-only over 9p; e2e/init loads kvm_amd and the
# freshly built kvm_xbzrle, chroots into the host root and runs
# e2e/migrate.py, which live-migrates a boot-sector guest (e2e/bootsect.S,
# dirtying 32 MiB) between two nested QEMUs with XBZRLE:
#   (a) offload on, the patched QEMU on both sides
#   (b) offload on, Debian's QEMU as the destination (wire compatibility)
#   (c) offload off, QEMU's own XBZRLE (the patched QEMU, else Debian's)
# then, with -vga std, a guest whose memory map keeps moving
# (e2e/bootsect-churn.S: VGA chain-4 aliasing video RAM at 0xa0000, PAM
# registers remapping 0xc0000-0xdffff, writes through the framebuffer),
# offload on, to the patched QEMU and to Debian's:
#   (d), (e) while it runs; (h), (i) cancelled before switch-over, then
#   again to a fresh destination; (f), (g), with a system_reset of the
#   source half-way
# and, with the seed's guest, (j) a migration the module refuses at set-up
# (its ceiling lowered under xbzrle-cache-size), which must fail with the
# reason in query-migrate, then one that completes; (u) xbzrle-cache-size
# set while gdb (the host's, non-stop) holds the source's migration thread
# where it starts the module's cache, which must end up with that size;
# (C) gdb counts the source's ram_save_iterate() reading the clock at
# least once per 64 pages plus one batch of the offload;
# then, on e2e/bootsect-smp.S with RAM above 4 GiB, (k), (l); on Debian's
# kernel KVER with e2e/guest-init.c as its init, RAM above 4 GiB too, (n)
# to the patched QEMU, (o) to Debian's; on e2e/bootsect-bench.S rewriting
# every byte of 16 MiB, (p) to Debian's, where XBZRLE must stop itself;
# writing one dword of every page of 32 MiB with a 256 KiB cache, (H) to
# Debian's, where XBZRLE must stop itself by its cache hit rate;
# on e2e/bootsect-coalesced.S, whose last VGA writes are still queued in
# KVM's coalesced MMIO ring when the source stops, (s) to Debian's;
# and checks completion, identical RAM (all of it) and video RAM, the
# destination running on, the XBZRLE statistics and the module's
# counters, then prints a comparison.  --demo runs (a)-(c) only.
#
# The patched QEMU is $E2E_QEMU if set (empty: none), else the last line
# printed by `make -s qemu`; without one, check mode fails and the demo
# skips (a) and (b).  The unpatched one, Debian's, is $E2E_PLAIN_QEMU if
# set (for another QEMU's control cases, e.g. an unpatched 10.0 build in
# case t), else /usr/bin/qemu-system-x86_64.
#
# Check mode prints TAP 13 and fails on any failed point or kernel warning;
# --demo shows the VM's console (the migrations and the table) instead and
# fails if any point failed.  Logs: build/e2e/KVER/{console.log,results.tap}.
#
# Environment: E2E_QEMU, E2E_PLAIN_QEMU, E2E_ARGS (extra migrate.py options, e.g.
# "--cases dh --seed 7"; see migrate.py --help), E2E_DRIVER (another
# script to run in the VM's chroot instead of migrate.py, with the same
# arguments; for experiments), VM_TIMEOUT (default 1200), VM_MEM (default
# 3G), VM_APPEND, and the others of selftests/vm/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

mode=
if [ "${1:-}" = --demo ]; then
	mode=--demo
	shift
fi
kver=${1:-$(scripts/kernels.sh 6.12)}
stage=
if [ "$kver" = debian13 ]; then
	# the module goes into the stage, which becomes the VM's root
	stage=$top/build/e2e/debian13.stage
	env=$top/build/e2e/debian13-kernel.env
	# shellcheck source=scripts/debian13-env.sh
	. scripts/debian13-env.sh
	debian13_stage "$stage" "$env" || exit 1
	kver=$D13_KVER
	export VM_KERNEL=$D13_KERNEL VM_MODROOT=$D13_MODROOT
fi
kernel=${VM_KERNEL:-/boot/vmlinuz-$kver}
work=$top/build/e2e/$kver
root=$work/root
plain_qemu=/usr/bin/qemu-system-x86_64
if [ -n "${E2E_PLAIN_QEMU:-}" ]; then
	plain_qemu=$(realpath "$E2E_PLAIN_QEMU")
	[ -x "$plain_qemu" ] || { echo "e2e: E2E_PLAIN_QEMU $plain_qemu is not executable" >&2; exit 1; }
fi

rm -rf "$root"
if [ -n "$stage" ]; then
	mkdir -p "$work"
	mv "$stage" "$root"
	mkdir -p "$root/e2e" "$root/selftests" "$root/usr/bin"
else
	mkdir -p "$root/e2e" "$root/selftests" "$root/usr/bin"
	# The module, as make check builds it.
	scripts/build-module.sh "$kver" "$root"
fi

# The guests: boot sectors, assembled here (no binary in the tree).
for g in bootsect bootsect-churn bootsect-coalesced bootsect-smp bootsect-bench; do
	gcc -m32 -c "e2e/$g.S" -o "$work/$g.o"
	ld -m elf_i386 -Ttext 0x7c00 --oformat binary -e _start -o "$work/$g.bin" "$work/$g.o"
	size=$(stat -c %s "$work/$g.bin")
	[ "$size" -eq 512 ] || { echo "e2e: boot sector $g is $size bytes, not 512" >&2; exit 1; }
done
# bootsect-smp.S boots as its own firmware (-bios): SeaBIOS with -smp 2
# stalls in the nested test VM
gcc -m32 -c -DBOOTSECT="\"$work/bootsect-smp.bin\"" e2e/firmware.S -o "$work/firmware-smp.o"
ld -m elf_i386 -Ttext 0 --oformat binary -o "$work/firmware-smp.bin" "$work/firmware-smp.o"

# The Linux guest (cases n, o, v; make bench-migration's sqlite pattern):
# Debian's kernel KVER, booted through its PVH entry (e2e/pvh-kernel.py
# says why), and an initramfs holding e2e/guest-init.c, static, and
# Debian's sqlite3 with the libraries it loads.
rm -rf "$work/linux-guest"
mkdir -p "$work/linux-guest"
gcc -static -O2 -Wall -Wextra -Werror -pthread -o "$work/linux-guest/init" e2e/guest-init.c
sqlite=/usr/bin/sqlite3
[ -x "$sqlite" ] || { echo "e2e: no $sqlite (apt-get install sqlite3)" >&2; exit 1; }
for f in "$sqlite" $(ldd "$sqlite" | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
	mkdir -p "$work/linux-guest$(dirname "$f")"
	cp -L "$f" "$work/linux-guest$f"
done
(cd "$work/linux-guest" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
	cpio -o -H newc --owner=0:0 --reproducible --quiet) | gzip -n -6 >"$work/linux-guest.cpio.gz"
e2e/pvh-kernel.py "$kernel" "$work/vmlinux"

# The patched QEMU: built by `make qemu`, whose last line is its path.
if [ -n "${E2E_QEMU+set}" ]; then
	patched=$E2E_QEMU
else
	patched=
	mkdir -p "$work"
	if out=$(make -s qemu 2> >(tee "$work/make-qemu.log" >&2)); then
		patched=$(tail -n 1 <<<"$out")
	else
		echo "e2e: \`make qemu\` failed (log in $work/make-qemu.log)" >&2
	fi
fi
if [ -n "$patched" ]; then
	patched=$(realpath "$patched")
	[ -x "$patched" ] || { echo "e2e: patched QEMU $patched is not executable" >&2; exit 1; }
	grep -qa xbzrle-offload "$patched" ||
		{ echo "e2e: QEMU $patched has no xbzrle-offload (userspace/qemu/patches/ not applied)" >&2; exit 1; }
	echo "e2e: patched QEMU $patched"
elif [ -z "$mode" ]; then
	echo "e2e: no patched QEMU: the offload cases cannot run" >&2
	exit 1
else
	echo "e2e: no patched QEMU: the demo runs QEMU's own XBZRLE only" >&2
fi

# The demo also shows what the module offers (not worth failing for).
if [ -n "$mode" ]; then
	if make -s -C userspace O="$top/build/userspace" "$top/build/userspace/kvm-xbzrle-info"; then
		cp build/userspace/kvm-xbzrle-info "$root/usr/bin/"
	else
		echo "e2e: kvm-xbzrle-info does not build; the demo goes on without it" >&2
	fi
fi

# What e2e/init runs; paths are the host's, seen through the 9p share.
{
	printf 'E2E_DRIVER=%q\n' "${E2E_DRIVER:-$top/e2e/migrate.py}"
	printf 'E2E_BOOTSECT=%q\n' "$work/bootsect.bin"
	printf 'E2E_BOOTSECT_CHURN=%q\n' "$work/bootsect-churn.bin"
	printf 'E2E_BOOTSECT_COALESCED=%q\n' "$work/bootsect-coalesced.bin"
	printf 'E2E_SMP_FIRMWARE=%q\n' "$work/firmware-smp.bin"
	printf 'E2E_BENCH_GUEST=%q\n' "$work/bootsect-bench.bin"
	printf 'E2E_LINUX_KERNEL=%q\n' "$work/vmlinux"
	printf 'E2E_LINUX_INITRD=%q\n' "$work/linux-guest.cpio.gz"
	printf 'E2E_PATCHED_QEMU=%q\n' "$patched"
	printf 'E2E_PLAIN_QEMU=%q\n' "$plain_qemu"
	printf 'E2E_BAD_PATTERNS=%q\n' "$top/selftests/vm/bad-patterns"
	# The demo shows (a)-(c); E2E_ARGS can ask for more (the last
	# --cases wins).
	printf 'E2E_ARGS=%q\n' "${mode:+--cases abc }${E2E_ARGS:-}"
	# Host directories the VM needs even if they sit under /tmp, /run,
	# /var/tmp or /dev/shm, which get a tmpfs there (a CI clone in /tmp).
	printf 'E2E_KEEP_DIRS=%q\n' "$top${patched:+ $(dirname "$(realpath "$patched")")}${E2E_PLAIN_QEMU:+ $(dirname "$plain_qemu")}"
} >"$root/e2e.conf"
install -m 755 e2e/init "$root/e2e/init"
: >"$root/selftests/tests.list"

export VM_WORKDIR=$work
export VM_MEM=${VM_MEM:-3G}
export VM_TIMEOUT=${VM_TIMEOUT:-1200}
export VM_HOSTROOT=1
export VM_APPEND="rdinit=/e2e/init ${mode:+quiet} ${VM_APPEND:-}"

if [ -z "$mode" ]; then
	exec selftests/vm/run.sh "$kver" "$root"
fi

rc=0
selftests/vm/run.sh --demo "$kver" "$root" || rc=$?
results=$work/results.tap
if [ "$rc" -ne 0 ]; then
	echo "e2e demo: the VM failed (status $rc)" >&2
	exit "$rc"
fi
if ! grep -qx XBZRLE-VM-DONE <(tr -d '\r' <"$results"); then
	echo "e2e demo: the VM did not finish; see $work/console.log" >&2
	exit 1
fi
if tr -d '\r' <"$results" | grep '^not ok' >&2; then
	echo "e2e demo: checks failed; TAP in $results" >&2
	exit 1
fi
echo "e2e demo: all checks passed ($(tr -d '\r' <"$results" | grep -c '^ok') ok; TAP in $results)"
