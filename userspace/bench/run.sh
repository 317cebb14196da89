#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh: `make bench`.  Fetches QEMU's migration/xbzrle.c from Debian's
# bookworm (7.2) and trixie (10.0) source packages, and 7.2's
# migration/page_cache.c, into build/bench/ (once; BENCH_REFRESH=1 asks
# the archive again), builds xbzrle-bench there with the module's codec
# and xbzrle-cache-sim with a model of the module's cache, and runs both,
# the benchmark first.  With --adapt (`make bench-adapt`) it runs
# xbzrle-adapt-sim alone, the per-page rule against QEMU 7.2's XBZRLE
# (Documentation/benchmark.rst; BENCH_HOT_PAGES, BENCH_ROUNDS, BENCH_SEED,
# BENCH_ADAPT_OVERFLOWS, BENCH_ADAPT_PROBE), exit status 1 when a
# destination differed.  Other arguments are ignored; tune with BENCH_REPS,
# BENCH_SECONDS, BENCH_SEED, BENCH_CLOCK=wall (Documentation/benchmark.rst)
# and BENCH_CACHE_MB, BENCH_ROUNDS, BENCH_SEED
# (Documentation/cache-policy.rst).  Exit status: the benchmark's if it is
# not 0 (1 when any encoder's output differs from QEMU 7.2's plain
# encoder), else the simulation's (1 when a consistency check failed); 2
# when they could not be built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${BENCH_BUILD_DIR:-$repo/build/bench}

"$here/fetch-qemu-xbzrle.sh" "$out" || exit 2
if [ "${1:-}" = --adapt ]; then
	# its own program only: the benchmark's encoders are not needed
	make -s -C "$here" O="$out" QEMU_DIR="$out" "$out/xbzrle-adapt-sim" >&2 || exit 2
	exec "$out/xbzrle-adapt-sim"
fi
make -s -C "$here" O="$out" QEMU_DIR="$out" >&2 || exit 2
# both run, whatever the first one's status
bench=0
"$out/xbzrle-bench" || bench=$?
echo
sim=0
"$out/xbzrle-cache-sim" || sim=$?
[ "$bench" = 0 ] || echo "run.sh: xbzrle-bench exited with status $bench" >&2
[ "$sim" = 0 ] || echo "run.sh: xbzrle-cache-sim exited with status $sim" >&2
[ "$bench" = 0 ] || exit "$bench"
exit "$sim"
