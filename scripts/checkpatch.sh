#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --no-tree -f on kmod/, uapi/ and selftests/, taken from Debian's
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

# its status says only whether it found problems: what it prints does, and
# a checkpatch.pl that cannot run prints why (on stderr)
checkpatch() {
	perl "$dir/scripts/checkpatch.pl" --no-tree --terse --show-types "$@" 2>&1 || true
}

files=$(find kmod uapi -name '*.[ch]' ! -name '*.mod.c' | sort)
# shellcheck disable=SC2086
out=$(checkpatch -f $files)

# selftests/ is userspace C on the kselftest harness, as the kernel's
# tools/testing/selftests: no compiler_attributes.h (__aligned(), __printf()
# as __attribute__), no kstrto*(), volatile for flags a signal handler or
# another thread sets, and strings that name a path or a thing spelled as
# a function (EMBEDDED_FUNCTION_NAME).  The harness's FIXTURE_DATA(name)
# *self and FIXTURE_VARIANT(name) *variant read to checkpatch as
# multiplications: those lines are dropped.
tfiles=$(find selftests -name '*.[ch]' | sort)
# shellcheck disable=SC2086
tout=$(checkpatch --ignore PREFER_DEFINED_ATTRIBUTE_MACRO,VOLATILE,SSCANF_TO_KSTRTO,EMBEDDED_FUNCTION_NAME -f $tfiles |
	while IFS= read -r line; do
		case $line in
		"total: "*) continue ;;
		*"ERROR:SPACING: need consistent spacing around '*'"*)
			f=${line%%:*}
			n=${line#*:}
			n=${n%%:*}
			sed -n "${n}p" "$f" | grep -q 'FIXTURE_\(DATA\|VARIANT\)(' && continue ;;
		esac
		echo "$line"
	done)
out=$(printf '%s\n%s\n' "$out" "$tout" | sed '/^$/d')

if [ -n "$out" ]; then
	echo "$out"
	echo "checkpatch: $(echo "$out" | wc -l) problems in kmod/ uapi/ selftests/"
	exit 1
fi
echo "checkpatch: $(echo "$files $tfiles" | wc -w) files clean ($top)"
