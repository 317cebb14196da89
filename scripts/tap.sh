# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# tap.sh: sourced by scripts/check.sh, scripts/check-debug.sh and
# userspace/qemu/build-qemu.sh (--check).  TAP 13:
# one test point per step, each step's own output indented beneath it.
# Counters: n (test points so far), failed.

n=0
failed=0

# step NAME CMD...: one TAP test point for CMD, its output indented
step() {
	local name=$1 rc t0=$SECONDS
	shift
	n=$((n + 1))
	# a pipeline, not a process substitution: the step's last line is out
	# before its TAP line
	"$@" 2>&1 | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	if [ "$rc" = 0 ]; then
		echo "ok $n - $name # $((SECONDS - t0))s"
	else
		echo "not ok $n - $name # exit $rc after $((SECONDS - t0))s"
		failed=$((failed + 1))
	fi
	return "$rc"
}

# skip_failed REASON NAME...: test points for steps that could not run
# because one they need failed; each counts as failed.
skip_failed() {
	local why=$1 what
	shift
	for what in "$@"; do
		n=$((n + 1))
		failed=$((failed + 1))
		echo "not ok $n - $what # $why"
	done
}
