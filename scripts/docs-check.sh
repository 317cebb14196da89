#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# docs-check.sh: the documentation names what the tree has, so it cannot
# drift again: Documentation/design.rst every source file of kmod/, and
# Documentation/testing.rst every program of the selftests' run list
# (build/selftests/tests.list, from make selftests).  Prints what is missing; fails if anything is.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=0
for f in $(git ls-files 'kmod/*.c' 'kmod/*.h'); do
	name=${f#kmod/}
	grep -q "$name\`\`" Documentation/design.rst || {
		echo "docs-check: Documentation/design.rst does not name $f"
		missing=1
	}
done
list=build/selftests/tests.list
[ -f "$list" ] || {
	echo "docs-check: no $list: run make selftests first"
	exit 1
}
tests=$(grep -v '^#' "$list")
for t in $tests; do
	grep -q "^\`\`$t\`\`" Documentation/testing.rst || {
		echo "docs-check: Documentation/testing.rst does not describe $t"
		missing=1
	}
done
[ "$missing" = 0 ] && echo "docs-check: design.rst names the $(git ls-files 'kmod/*.[ch]' | wc -l) files of kmod/, testing.rst the $(echo "$tests" | wc -w) selftests"
exit "$missing"
