#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh: `make bench`.  Fetches QEMU's migration/xbzrle.c from Debian's
# bookworm (7.2) and trixie (10.0) source packages into build/bench/ (once;
# BENCH_REFRESH=1 asks the archive again), builds xbzrle-bench there with
# the module's codec, and runs it.  Extra arguments are ignored; tune with
# BENCH_REPS, BENCH_SECONDS, BENCH_SEED, BENCH_CLOCK=wall (see
# Documentation/benchmark.rst).  Exit status: the benchmark's (1 when any
# encoder's output differs from QEMU 7.2's plain encoder), 2 when it could
# not be built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${BENCH_BUILD_DIR:-$repo/build/bench}

"$here/fetch-qemu-xbzrle.sh" "$out" || exit 2
make -s -C "$here" O="$out" QEMU_DIR="$out" >&2 || exit 2
exec "$out/xbzrle-bench"
