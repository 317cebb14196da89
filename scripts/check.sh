#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: everything CI runs, on a fresh Debian 12 machine as root.
# Prints TAP 13: one test point per step and per kernel, with each step's
# own output indented beneath it, then "N passed, N failed".  Every step
# runs even after a failure; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

: "${VECTORS:=$PWD/../shared/vectors/xbzrle-v1.bin.gz}"
: "${CHECK_FUZZ_SECONDS:=60}"

start=$SECONDS
# step NAME CMD... (one test point), skip_failed; the debug kernel's steps
# (debug_steps), which make check-debug runs alone.
# shellcheck source=scripts/tap.sh
. scripts/tap.sh
# shellcheck source=scripts/check-debug.sh
. scripts/check-debug.sh

echo "TAP version 13"
if [ ! -r "$VECTORS" ]; then
	echo "Bail out! no vector file at $VECTORS: the shared folder is expected" \
	     "beside the repository (../shared), or set VECTORS="
	exit 1
fi
if ! scripts/install-deps.sh > >(sed 's/^/    /') 2>&1; then
	echo "Bail out! cannot install the build and test dependencies"
	exit 1
fi
if ! kernels=$(scripts/kernels.sh); then
	echo "Bail out! no 6.1 and 6.12 kernels to test on"
	exit 1
fi
# shellcheck disable=SC2086
set -- $kernels
# host steps, 3 per kernel, Debian 13's kernel, packages, debug kernel,
# QEMU 7.2, QEMU 10.0, Debian 13's QEMU
echo "1..$((11 + 3 * $# + 2 + 4 + 3 + 3 + 3 + 2))"

step "checkpatch.pl is clean on kmod/, uapi/ and selftests/" scripts/checkpatch.sh
step "userspace and selftests build" \
	sh -c "make -s userspace && make -s selftests"
step "design.rst names every kmod/ file, testing.rst every selftest" scripts/docs-check.sh
step "codec unit cases (ASan, UBSan)" build/userspace/xbzrle-unit-test
step "kvm-xbzrle-stat on fake statistics" make -s -C userspace test-tools
step "the private apt configurations of debian-archive.sh" scripts/test-debian-archive.sh
step "dmesg-check leaves out only lockup reports of a VM the host did not run; stallmon, host-stalls" \
	scripts/test-dmesg-check.sh
step "e2e driver logic with a fake QEMU (e2e/test_*.py)" \
	python3 -m unittest discover -s e2e -p 'test_*.py'
step "conformance with QEMU's vectors ($(basename "$VECTORS")), every encoder this CPU has" \
	build/userspace/xbzrle-conformance "$VECTORS"
step "fuzzing decode and round trip (every encoder this CPU has) for ${CHECK_FUZZ_SECONDS}s" \
	scripts/fuzz.sh "$CHECK_FUZZ_SECONDS"
step "per-page rule replayed against QEMU 7.2's cache and encoder: every destination exact" \
	userspace/bench/run.sh --adapt

# guest_steps KVER [KDIR]: the module built for KVER (against KDIR, default
# its headers), installed into a guest of that kernel, selftests run there.
# VM_KERNEL and VM_MODROOT, if set, say where the kernel and its modules are.
guest_steps() {
	local kver=$1 root=build/vm/$1/root

	rm -rf "$root"
	mkdir -p "$root/selftests"
	step "module builds without warnings against $kver" \
		scripts/build-module.sh "$kver" "$root" ${2:+"$2"}
	cp build/selftests/* selftests/settings "$root/selftests/"
	step "selftests in a $kver guest" selftests/vm/run.sh "$kver" "$root"
}

for kver in "$@"; do
	guest_steps "$kver"
	step "dkms build for $kver" scripts/dkms-build.sh "$kver"
done

# Debian 13's own kernel (trixie's linux-image-amd64), unpacked from the
# archive and not installed, with the module built in a trixie build root
# by its gcc-14 (Debian 12's gcc-12 cannot build against its headers);
# both cached outside the clone (scripts/debian13-kernel.sh).  A missing
# package, kernel or compiler fails both steps.
d13_env=build/debian13-kernel.env
d13_root=build/vm/debian13/root
rm -rf "$d13_root" "$d13_env"
mkdir -p "$d13_root/selftests"
step "module builds without warnings (W=1) against Debian 13's kernel, with trixie's gcc-14" \
	sh -c "scripts/debian13-kernel.sh $d13_root >$d13_env"
cp build/selftests/* selftests/settings "$d13_root/selftests/"
# shellcheck source=scripts/debian13-env.sh
. scripts/debian13-env.sh
d13_why=
debian13_env "$d13_env" 2>build/debian13-kernel.why || d13_why=$(cat build/debian13-kernel.why)
# shellcheck disable=SC2016 # expanded by the inner sh
VM_KERNEL=${D13_KERNEL:-} VM_MODROOT=${D13_MODROOT:-} VM_WORKDIR=$PWD/build/vm/debian13 \
	step "selftests in a Debian 13 ${D13_KVER:-(no kernel)} guest" \
	sh -c '[ -z "$2" ] || { echo "$2"; exit 1; }
	exec selftests/vm/run.sh "$0" "$1"' "${D13_KVER:-}" "$d13_root" "$d13_why"

# The Debian packages (make deb), lintian, and what an administrator's
# dpkg -i does with them: DKMS builds the module for each kernel, the
# selftests pass against that module, dpkg --purge removes it all.
debs=
if step "make deb: kvm-xbzrle-dkms and kvm-xbzrle-tools, no lintian error" \
	sh -c "scripts/deb.sh --lintian >build/deb.out 2>&1; rc=\$?; cat build/deb.out; exit \$rc"; then
	debs=$(tail -n 2 build/deb.out)
fi
# shellcheck disable=SC2086
step "the .debs install: DKMS builds for each kernel, selftests pass on its module, purge removes it" \
	scripts/deb-test.sh ${debs:-/nonexistent /nonexistent} "$@"
# shellcheck disable=SC2086
step "the same in trixie: its dpkg and DKMS build for Debian 13's kernel, selftests, purge" \
	scripts/deb-test-debian13.sh ${debs:-/nonexistent /nonexistent}
# shellcheck disable=SC2086
step "the .debs installed inside a 6.12 guest: its DKMS builds, modprobe, selftests, purge" \
	scripts/deb-test-guest.sh ${debs:-/nonexistent /nonexistent}

# The same tests on a kernel with KASAN, KFENCE, kmemleak, lockdep and
# UBSAN, which Debian's kernels lack, with the module built in its tree;
# built once per machine and cached (make check-debug runs these alone).
debug_steps

# QEMU with the offload patches, its own XBZRLE tests, and a live
# migration through the module inside a 6.12 guest (6-8 min cold).  Both
# QEMUs are built outside the clone, like the debug kernel, so that a
# clean clone reuses an unchanged build (build-qemu.sh keys it by the
# Debian version, the series and the uapi header).
qemu_cache=$(realpath -m "${XBZRLE_QEMU_CACHE:-/var/cache/kvm_xbzrle}")
export QEMU_BUILD_DIR=$qemu_cache/qemu-7.2
qemu_bin=
if step "patched QEMU builds from Debian's source (make qemu)" \
	sh -c "userspace/qemu/build-qemu.sh >build/qemu.path"; then
	qemu_bin=$(tail -n 1 build/qemu.path)
fi
step "QEMU's test-xbzrle and xbzrle migration qtest on the patched QEMU" \
	userspace/qemu/build-qemu.sh --check
E2E_QEMU=$qemu_bin step "live migration with xbzrle-offload=on in a guest (e2e)" \
	e2e/run.sh

# The same for Debian 13's QEMU 10.0 with the ported series (7 min cold,
# cached): its checks, and an e2e subset with 10.0 as the source, to a
# patched 10.0 (a) and to Debian 12's 7.2 (b), a churning guest reset
# during the migration (g), the coalesced MMIO ring (s), the cache size
# set while set-up starts the module (u), the clock checks of the
# migration thread's loop (C), the offload switched on in the running
# VM (R) and XBZRLE stopped by its hit rate (H).
export QEMU_BUILD_DIR=$qemu_cache/qemu-10.0
qemu10_bin=
if step "patched QEMU 10.0 builds from trixie's source (make qemu QEMU_VERSION=10.0)" \
	sh -c "QEMU_VERSION=10.0 userspace/qemu/build-qemu.sh >build/qemu-10.0.path"; then
	qemu10_bin=$(tail -n 1 build/qemu-10.0.path)
fi
step "QEMU 10.0's test-xbzrle and xbzrle migration qtest on the patched QEMU" \
	env QEMU_VERSION=10.0 userspace/qemu/build-qemu.sh --check
E2E_QEMU=$qemu10_bin E2E_ARGS="--cases abdgsuCRH" \
	step "live migration with xbzrle-offload=on from QEMU 10.0 in a guest (e2e)" \
	e2e/run.sh

# Debian 13's own QEMU 10.0, unpatched, as the destination of both
# patched QEMUs: trixie's qemu-system-x86 and its dependencies unpacked
# (not installed) and run through trixie's loader.  From 10.0: the seed's
# guest (b), the churning guest (e) and reset (g), the offload switched on
# at run time (R), in a VM booting Debian 13's own kernel, as a Debian 13
# host runs them; from 7.2, on Debian 12's 6.12: (b) and (R).
d13_bin=
if step "Debian 13's unpatched QEMU 10.0 unpacked from trixie's packages" \
	sh -c "scripts/debian13-qemu.sh >build/debian13-qemu.path"; then
	d13_bin=$(tail -n 1 build/debian13-qemu.path)
fi
# shellcheck disable=SC2016 # expanded by the inner sh
step "live migrations from QEMU 10.0 (Debian 13's kernel) and 7.2 to Debian 13's unpatched QEMU 10.0 (e2e)" \
	sh -c '[ -n "$0" ] && [ -n "$1" ] && [ -n "$2" ] ||
		{ echo "a QEMU is missing: 10.0 \"$0\", 7.2 \"$1\", Debian 13 \"$2\""; exit 1; }
	E2E_PLAIN_QEMU=$2 E2E_QEMU=$0 E2E_ARGS="--cases begR" e2e/run.sh debian13 &&
	E2E_PLAIN_QEMU=$2 E2E_QEMU=$1 E2E_ARGS="--cases bR" e2e/run.sh' \
	"$qemu10_bin" "$qemu_bin" "$d13_bin"

echo "# make check took $((SECONDS - start))s"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
