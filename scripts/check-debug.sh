#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-debug.sh (make check-debug): the selftests on the debug kernel.
# Builds or reuses scripts/debug-kernel.sh's kernel (KASAN, KFENCE,
# kmemleak, lockdep, UBSAN, DEBUG_LIST, DEBUG_ATOMIC_SLEEP) with
# kvm_xbzrle built in its tree, then runs every selftest of build/selftests
# (in tests.list order) in a guest of it: selftests/vm/run.sh fails on any
# failed test, on any kmemleak report after rmmod and on any line of
# selftests/vm/bad-patterns on the console (KASAN, KFENCE, UBSAN, lockdep,
# BUG, WARNING, ...).
#
# Run alone it prints TAP 13 of its own; scripts/check.sh sources it and
# calls debug_steps, so the same steps are part of make check.
#
# Environment: XBZRLE_KERNEL_CACHE, XBZRLE_KERNEL_SOURCE (debug-kernel.sh),
# XBZRLE_DEBUG_TIMEOUT_SCALE (default 4: the tests' time limits and
# selftests/settings' are multiplied by it on this kernel), VM_TIMEOUT etc.
# (selftests/vm/run.sh).

# debug_steps: three test points; needs build/selftests and step() from
# scripts/tap.sh.  Run from the top of the source tree.
debug_steps() {
	local env=build/debug-kernel.env root

	if ! step "debug kernel (KASAN, KFENCE, kmemleak, lockdep, UBSAN) built or cached" \
		sh -c "scripts/debug-kernel.sh --kernel >/dev/null"; then
		skip_failed "no debug kernel" "kvm_xbzrle built in the debug kernel's tree" \
			"selftests on the debug kernel"
		return 1
	fi
	if ! step "kvm_xbzrle built in the debug kernel's tree (CONFIG_KVM_XBZRLE=m, W=1) or cached" \
		sh -c "scripts/debug-kernel.sh >$env"; then
		skip_failed "no module" "selftests on the debug kernel"
		return 1
	fi
	root=build/vm/$(debug_kver "$env")/root
	debug_root "$env" "$root"
	debug_vm step "selftests in a $(debug_kver "$env") guest (KASAN, kmemleak, lockdep, UBSAN reports fail)" \
		selftests/vm/run.sh "$(debug_kver "$env")" "$root"
}

# debug_kver ENV: the debug kernel's release, from debug-kernel.sh's output.
debug_kver() {
	sed -n 's/^KVER=//p' "$1"
}

# debug_root ENV ROOT: a fresh guest root with the module built in the
# debug kernel's tree (ENV: debug-kernel.sh's output) and build/selftests.
debug_root() {
	local env=$1 root=$2 kver

	kver=$(debug_kver "$env")
	rm -rf "$root"
	mkdir -p "$root/selftests" "$root/lib/modules/$kver/kernel/virt/kvm/xbzrle"
	cp "$(sed -n 's/^MODULE=//p' "$env")" "$root/lib/modules/$kver/kernel/virt/kvm/xbzrle/"
	cp build/selftests/* selftests/settings "$root/selftests/"
}

# debug_vm CMD...: CMD (selftests/vm/run.sh, or step running it) with the
# debug kernel's image and modules and its time limits.  KASAN, lockdep
# and kmemleak make the tests several times slower (offload_memcg_squeeze_test's
# memory hog: 42 s there, 12 s on 6.12): their time limits are scaled,
# not raised for every kernel.  All of the selftests there took 783 s in a
# run of .ci/run, close to selftests/vm/run.sh's default limit for the
# whole VM (900 s).
debug_vm() {
	local env=build/debug-kernel.env

	VM_KERNEL=$(sed -n 's/^KERNEL=//p' "$env") \
	VM_MODROOT=$(sed -n 's/^MODROOT=//p' "$env") \
	VM_TIMEOUT=${VM_TIMEOUT:-2400} \
	VM_APPEND="xbzrle.timeout_scale=${XBZRLE_DEBUG_TIMEOUT_SCALE:-4} ${VM_APPEND:-}" \
		"$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	cd "$(dirname "$0")/.." || exit 1
	# shellcheck source=scripts/tap.sh
	. scripts/tap.sh
	start=$SECONDS
	echo "TAP version 13"
	echo "1..4"
	if step "selftests build" make -s selftests; then
		debug_steps
	else
		skip_failed "no selftests" "debug kernel built or cached" \
			"kvm_xbzrle built in the debug kernel's tree" \
			"selftests on the debug kernel"
	fi
	echo "# make check-debug took $((SECONDS - start))s"
	echo "$((n - failed)) passed, $failed failed"
	[ "$failed" = 0 ]
fi
