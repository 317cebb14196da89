#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the libFuzzer targets (ASan + UBSan) for SECONDS in all, split
# between them.  The corpus is kept in build/fuzz/ so longer runs build on
# shorter ones; a crash leaves its input in build/fuzz/ and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
targets="fuzz_decode fuzz_roundtrip"
each=$(( seconds / 2 ))
[ "$each" -ge 1 ] || each=1

make -s -C userspace O="$PWD/build/userspace" fuzzers
for t in $targets; do
	mkdir -p "build/fuzz/$t"
	log=build/fuzz/$t.log
	if ! build/userspace/"$t" -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="build/fuzz/$t-" \
		"build/fuzz/$t" >"$log" 2>&1; then
		tail -n 40 "$log"
		echo "fuzz: $t FAILED (input saved as build/fuzz/$t-*)"
		exit 1
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	echo "fuzz: $t: $runs runs in ${each}s, $cov, no crash"
done
