#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --no-tree -f on kmod/ and uapi/, taken from Debian's
# linux-source package (only the three files it needs are unpacked).
set -euo pipefail
cd "$(dirname "$0")/.."

# an unmatched glob stays literal and fails the -r test
tarball=$(printf '%s\n' /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1)
if [ ! -r "$tarball" ]; then
	echo "checkpatch.sh: no /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.12)" >&2
	exit 1
fi
top=$(basename "$tarball" .tar.xz)
dir=build/checkpatch/$top
if [ ! -f "$dir/scripts/checkpatch.pl" ]; then
	mkdir -p build/checkpatch
	tar -C build/checkpatch -xf "$tarball" "$top/scripts/checkpatch.pl" \
		"$top/scripts/spelling.txt" "$top/scripts/const_structs.checkpatch"
fi

files=$(find kmod uapi -name '*.[ch]' ! -name '*.mod.c' | sort)
# its status says only whether it found problems: what it prints does, and
# a checkpatch.pl that cannot run prints why (on stderr)
# shellcheck disable=SC2086
out=$(perl "$dir/scripts/checkpatch.pl" --no-tree --terse --show-types -f $files 2>&1 || true)
if [ -n "$out" ]; then
	echo "$out"
	echo "checkpatch: $(echo "$out" | wc -l) problems in kmod/ uapi/"
	exit 1
fi
echo "checkpatch: $(echo "$files" | wc -w) files clean ($top)"
