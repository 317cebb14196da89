#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boots Debian's 6.12 kernel (DEMO_KVER= for another) in a TCG
# VM with nested KVM, loads kvm_xbzrle with modprobe and shows it working
# beside KVM.  It grows with the project: later, a migration.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
kver=${DEMO_KVER:-$(scripts/kernels.sh | tail -n 1)}
root=build/demo/$kver/root
rm -rf "$root"
mkdir -p "$root/usr/bin"

scripts/build-module.sh "$kver" "$root"
make -s userspace
cp build/userspace/kvm-xbzrle-info "$root/usr/bin/"
cat >"$root/demo.sh" <<'DEMO'
echo "# kvm-xbzrle-info"
/usr/bin/kvm-xbzrle-info
DEMO
VM_APPEND="quiet ${VM_APPEND:-}" VM_WORKDIR=$PWD/build/demo/$kver exec selftests/vm/run.sh --demo "$kver" "$root"
