#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boots Debian's 6.12 kernel (DEMO_KVER= for another) in a TCG
# VM with nested KVM, loads kvm_xbzrle beside KVM, shows it
# (kvm-xbzrle-info), then live-migrates a guest that keeps dirtying 32 MiB
# between two QEMUs in that VM, with XBZRLE through the module (QEMU
# -accel kvm,xbzrle-offload=on) and with QEMU's own encoder, checks that
# the destination's RAM equals the source's and prints a comparison (time,
# downtime, bytes, XBZRLE pages, CPU).  The patched QEMU comes from
# `make qemu` (built on first use, ~6 min); without it only QEMU's own
# XBZRLE runs.  See e2e/run.sh; `make check-e2e` runs the same as a test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
kver=${DEMO_KVER:-$(scripts/kernels.sh 6.12)}
exec e2e/run.sh --demo "$kver"
