#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/bench-migration.sh [KVER]: make bench-migration.  Boots the e2e
# test VM (e2e/run.sh) with e2e/bench.py as its driver: repeated
# migrations of e2e/bootsect-bench.S's write patterns with no XBZRLE,
# QEMU's own XBZRLE and the offload (Documentation/benchmark.rst).
# Keeps the per-migration lines in build/bench-migration/runs.tsv, one
# line per round of each in build/bench-migration/rounds.tsv, the
# table in build/bench-migration/table.txt and its plot (Debian's gnuplot,
# installed if missing) in build/bench-migration/bench-migration.png.
#
# Environment: BENCH_ARGS (bench.py options, e.g. "--runs 3 --patterns
# skewed"; bench.py --help lists them), E2E_QEMU and VM_TIMEOUT (default
# 7200) as for e2e/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
kver=${1:-$(scripts/kernels.sh 6.12)}
out=build/bench-migration
work=build/e2e/$kver
mkdir -p "$out" "$work"

gcc -m32 -c e2e/bootsect-bench.S -o "$work/bootsect-bench.o"
ld -m elf_i386 -Ttext 0x7c00 --oformat binary -e _start \
	-o "$work/bootsect-bench.bin" "$work/bootsect-bench.o"
size=$(stat -c %s "$work/bootsect-bench.bin")
[ "$size" -eq 512 ] || { echo "bench-migration: boot sector is $size bytes, not 512" >&2; exit 1; }

if ! command -v gnuplot >/dev/null; then
	echo "bench-migration: installing gnuplot-nox for the plot"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnuplot-nox
fi

# the module e2e/run.sh builds into the VM (the offload-scalar mode loads
# it again with encoder=scalar)
module=$PWD/$work/root/lib/modules/$kver/updates/kvm_xbzrle.ko.xz

rc=0
E2E_DRIVER=$PWD/e2e/bench.py \
	E2E_ARGS="--bench-guest $PWD/$work/bootsect-bench.bin --module $module ${BENCH_ARGS:-}" \
	VM_TIMEOUT=${VM_TIMEOUT:-7200} e2e/run.sh "$kver" || rc=$?
results=$work/results.tap
sed -n 's/^# run\t//p' "$results" >"$out/runs.tsv"
sed -n 's/^# round\t//p' "$results" >"$out/rounds.tsv"
sed -n '/^# pattern /,$p' "$results" | sed 's/^# \{0,1\}//' >"$out/table.txt"
cat "$out/table.txt"
if [ "$(grep -c . "$out/runs.tsv")" -gt 1 ]; then
	scripts/bench-plot.py "$out/runs.tsv" "$out/bench-migration.png" || rc=1
fi
echo "bench-migration: $(grep -c . "$out/runs.tsv") lines in $out/runs.tsv (the first is the header)"
exit "$rc"
