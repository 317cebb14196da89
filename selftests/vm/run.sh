#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh [--demo] KVER ROOTDIR
#
# Boots kernel KVER under QEMU (TCG; the host's own KVM cannot run it) with an
# initramfs built from ROOTDIR by mkinitramfs.sh, and runs selftests/vm/init
# in it.  ROOTDIR holds:
#   lib/modules/KVER/...      the project module (make modules_install
#                             INSTALL_MOD_PATH=ROOTDIR)
#   selftests/tests.list      test names in run order, one per line
#                             (blank lines and # comments ignored)
#   selftests/NAME            the tests (static executables)
#   selftests/settings        kselftest settings, "timeout=N" (default 45)
#   demo.sh                   optional, run in --demo mode
#
# Check mode (default) prints the guest's TAP 13 to stdout and exits 0 only
# if the guest finished, no test point failed and the console shows no kernel
# warning.  --demo shows the console and exits with QEMU's status.
#
# Environment:
#   VM_WORKDIR  where the initramfs and logs go (default build/vm/KVER in
#               the source tree): initramfs.cpio.gz, console.log (ttyS0),
#               results.tap (ttyS1)
#   VM_TIMEOUT  seconds before the VM counts as hung (default 900)
#   VM_KERNEL   kernel image (default /boot/vmlinuz-KVER)
#   VM_MEM      guest RAM (default 2G)
#   VM_APPEND   extra kernel command line
#   VM_MODROOT, VM_MODULES   passed to mkinitramfs.sh
#   VM_QEMU_ARGS  extra QEMU arguments, split at blanks
#   VM_HOSTROOT   1: the host's root shared read-only over 9p (tag hostroot,
#               its modules in the initramfs); the guest's init mounts it
#               with hostroot-mount DIR (selftests/vm/hostroot-mount)
#   QEMU        QEMU binary (default qemu-system-x86_64)
set -euo pipefail

usage() {
	echo "usage: $0 [--demo] KVER ROOTDIR" >&2
	exit 2
}

mode=check
if [ "${1:-}" = --demo ]; then
	mode=demo
	shift
fi
[ $# -eq 2 ] || usage
kver=$1
rootdir=$2

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
workdir=${VM_WORKDIR:-$top/build/vm/$kver}
kernel=${VM_KERNEL:-/boot/vmlinuz-$kver}
vm_timeout=${VM_TIMEOUT:-900}
qemu=${QEMU:-qemu-system-x86_64}
done_marker=XBZRLE-VM-DONE

[ -r "$kernel" ] || { echo "$0: cannot read kernel image $kernel" >&2; exit 1; }
if [ "$mode" = check ] && [ ! -f "$rootdir/selftests/tests.list" ]; then
	echo "$0: $rootdir/selftests/tests.list missing" >&2
	exit 1
fi

mkdir -p "$workdir"
initrd=$workdir/initramfs.cpio.gz
console=$workdir/console.log
results=$workdir/results.tap
rm -f "$console" "$results"

hostroot_args=()
if [ "${VM_HOSTROOT:-0}" = 1 ]; then
	export VM_MODULES="9p 9pnet_virtio virtio_pci ${VM_MODULES:-}"
	hostroot_args=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
fi
"$here/mkinitramfs.sh" "$kver" "$rootdir" "$initrd"

# thread=single with 2 vCPUs: multi-threaded TCG hung guests under KVM
# selftests, one vCPU starved nested guests (measured on these hosts).  No
# oops=panic or panic_on_warn: a warning must show up in the report, and
# panic=-1 turns a real panic into a reboot, which -no-reboot makes a QEMU
# exit without the DONE marker.
qemu_args=(
	-accel "tcg,thread=single" -cpu max -smp 2 -m "${VM_MEM:-2G}"
	-nodefaults -display none -no-reboot
	-kernel "$kernel" -initrd "$initrd"
	-append "console=ttyS0 panic=-1 xbzrle.mode=$mode ${VM_APPEND:-}"
)
read -ra extra_args <<<"${VM_QEMU_ARGS:-}"
qemu_args+=("${hostroot_args[@]}" "${extra_args[@]}")

# --foreground keeps QEMU in the terminal's process group, so Ctrl-C stops
# it instead of only this script.
vm() {
	timeout --foreground -k 10 "$vm_timeout" "$qemu" "${qemu_args[@]}" "$@" </dev/null
}

if [ "$mode" = demo ]; then
	rc=0
	vm -chardev "stdio,id=con,logfile=$console" -serial chardev:con \
		-serial "file:$results" || rc=$?
	[ "$rc" -eq 124 ] && echo "VM hung: no result after $vm_timeout s" >&2
	exit "$rc"
fi

start=$SECONDS
rc=0
hoststalls=$workdir/host-stalls
rm -f "$workdir/qemu.pid"
vm -serial "file:$console" -serial "file:$results" -pidfile "$workdir/qemu.pid" &
vm_pid=$!
"$here/host-stalls" "$vm_pid" "$workdir/qemu.pid" "$hoststalls" &
mon_pid=$!
wait "$vm_pid" || rc=$?
wait "$mon_pid" || echo "host-stalls failed: the console scan leaves nothing out" >&2
elapsed=$((SECONDS - start))

touch "$console" "$results"
tr -d '\r' <"$results"

problems=()
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	problems+=("VM hung: no result after $vm_timeout s")
elif ! grep -qx "$done_marker" <(tr -d '\r' <"$results"); then
	problems+=("VM crashed: no $done_marker marker (QEMU exit status $rc)")
elif [ "$rc" -ne 0 ]; then
	problems+=("QEMU exit status $rc")
fi

failed=$(tr -d '\r' <"$results" | grep -c '^not ok' || true)
[ "$failed" -eq 0 ] || problems+=("$failed test point(s) not ok")

plan=$(tr -d '\r' <"$results" | sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' | head -n 1)
points=$(tr -d '\r' <"$results" | grep -cE '^(not )?ok [0-9]' || true)
if [ -n "$plan" ] && [ "$plan" -ne "$points" ]; then
	problems+=("planned $plan test points, got $points")
fi

# The guest checks dmesg before it reports DONE; this catches what came
# later (rmmod's aftermath, a panic) and what the guest could not report.
# dmesg-check says on stderr what it leaves out: a soft lockup or RCU
# stall while the whole VM stood still, as stallmon in it and the host
# both saw.
[ -f "$hoststalls" ] || : >"$hoststalls"
scan=0
bad=$(tr -d '\r' <"$console" | "$here/dmesg-check" -H "$hoststalls" "$here/bad-patterns") ||
	scan=$?
if [ "$scan" -eq 0 ]; then
	problems+=("kernel warnings on the console:")
	while IFS= read -r line; do
		problems+=("  $line")
	done <<<"$bad"
elif [ "$scan" -ne 1 ]; then
	problems+=("dmesg-check could not scan the console (exit status $scan)")
fi

if [ ${#problems[@]} -eq 0 ]; then
	echo "VM check passed for $kver in ${elapsed}s" >&2
	exit 0
fi

{
	echo "--- last 60 lines of $console ---"
	tr -d '\r' <"$console" | tail -n 60
	echo "---"
	printf '%s\n' "${problems[@]}"
	echo "VM check FAILED for $kver after ${elapsed}s"
} >&2
exit 1
