#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernels.sh [SERIES...]: prints the kernels the tests run on, the newest
# installed Debian amd64 kernel of each series (default 6.1 and 6.12) that
# has both an image and headers.  Fails if a series has none, so a test run
# never silently covers only one.
set -euo pipefail

[ $# -gt 0 ] || set -- 6.1 6.12
for series in "$@"; do
	kver=$(
		for d in /lib/modules/"$series".*-amd64; do
			k=${d##*/}
			case $k in *-cloud-amd64|*-rt-amd64) continue ;; esac
			[ -f "/boot/vmlinuz-$k" ] && [ -f "$d/build/Makefile" ] && echo "$k"
		done | sort -V | tail -n 1 || true
	)
	if [ -z "$kver" ]; then
		echo "kernels.sh: no Debian $series amd64 kernel with headers installed" \
		     "(run scripts/install-deps.sh)" >&2
		exit 1
	fi
	echo "$kver"
done
