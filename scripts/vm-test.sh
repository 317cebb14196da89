#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-test.sh KVER [TEST...]     (make vm-test KVER=... [TESTS="a b"])
# vm-test.sh --debug [TEST...]  (make vm-test DEBUG_KERNEL=1 [TESTS=...])
# vm-test.sh debian13 [TEST...] (make vm-test KVER=debian13 [TESTS=...])
#
# The inner loop: builds the selftests and the module from the working
# tree, boots one kernel in a VM (selftests/vm/run.sh) and runs the named
# selftests there, in the order given (all of tests.list if none), each as
# often as it is named.  KVER is a Debian kernel whose headers are
# installed, or a series (6.1, 6.12) for its newest one, as make check
# picks them (scripts/kernels.sh); --debug
# takes the debug kernel of make check-debug (built on first use, 8-10
# minutes, then cached); debian13 takes Debian 13's own kernel, unpacked
# from trixie's packages, with the module built by trixie's gcc-14
# (scripts/debian13-kernel.sh: about a minute on first use, then
# cached).  Prints the guest's TAP; the exit status is
# selftests/vm/run.sh's.  Its own files go to build/vm-test/KVER, so it
# does not disturb make check's.
#
# Environment: as selftests/vm/run.sh (VM_TIMEOUT, VM_MEM, VM_APPEND, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: $0 KVER|debian13|--debug [TEST...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
target=$1
shift
for t in "$@"; do
	case $t in
	*/* | .* | "") echo "$0: not a test name: '$t'" >&2; exit 2 ;;
	esac
done

make -s selftests
for t in "$@"; do
	[ -x "build/selftests/$t" ] || {
		echo "$0: no selftest '$t' (build/selftests/tests.list lists them)" >&2
		exit 2
	}
done

if [ "$target" = --debug ]; then
	# shellcheck source=scripts/check-debug.sh
	. scripts/check-debug.sh
	env=build/debug-kernel.env
	scripts/debug-kernel.sh --kernel >/dev/null
	scripts/debug-kernel.sh >"$env"
	kver=$(debug_kver "$env")
	root=build/vm-test/$kver/root
	debug_root "$env" "$root"
	run() { debug_vm selftests/vm/run.sh "$@"; }
elif [ "$target" = debian13 ]; then
	env=build/vm-test/debian13-kernel.env
	stage=build/vm-test/debian13.stage
	# shellcheck source=scripts/debian13-env.sh
	. scripts/debian13-env.sh
	debian13_stage "$stage" "$env" || exit 1
	mkdir -p "$stage/selftests"
	kver=$D13_KVER
	root=build/vm-test/$kver/root
	rm -rf "$root"
	mkdir -p "$(dirname "$root")"
	mv "$stage" "$root"
	cp build/selftests/* selftests/settings "$root/selftests/"
	run() { VM_KERNEL=$D13_KERNEL VM_MODROOT=$D13_MODROOT selftests/vm/run.sh "$@"; }
else
	case $target in
	-* | */* | "") usage ;;
	esac
	kver=$target
	case $kver in	# a series, 6.1 or 6.12: its newest installed kernel
	[0-9].[0-9] | [0-9].[0-9][0-9]) kver=$(scripts/kernels.sh "$kver") ;;
	esac
	[ -d "/lib/modules/$kver/build" ] || {
		echo "$0: no headers for $kver (/lib/modules/$kver/build); installed: $(scripts/kernels.sh 2>/dev/null | tr '\n' ' ')" >&2
		exit 2
	}
	root=build/vm-test/$kver/root
	rm -rf "$root"
	mkdir -p "$root/selftests"
	scripts/build-module.sh "$kver" "$root" >/dev/null
	cp build/selftests/* selftests/settings "$root/selftests/"
	run() { selftests/vm/run.sh "$@"; }
fi

if [ $# -gt 0 ]; then
	printf '%s\n' "$@" >"$root/selftests/tests.list"
fi
VM_WORKDIR=${VM_WORKDIR:-$PWD/build/vm-test/$kver} run "$kver" "$root"
