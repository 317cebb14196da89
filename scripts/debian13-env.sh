# SPDX-License-Identifier: GPL-2.0
#
# debian13-env.sh, sourced: what scripts/debian13-kernel.sh printed,
# read in one place.

# shellcheck shell=bash

# debian13_env FILE: sets D13_KVER, D13_KERNEL, D13_MODROOT and
# D13_BUILDROOT from what scripts/debian13-kernel.sh printed into FILE.
# Returns 1, naming the four on stderr, when the release is empty or the
# vmlinuz or one of the two directories does not exist (the script failed).
debian13_env() {
	local f=$1
	D13_KVER=$(sed -n 's/^KVER=//p' "$f" 2>/dev/null)
	D13_KERNEL=$(sed -n 's/^KERNEL=//p' "$f" 2>/dev/null)
	D13_MODROOT=$(sed -n 's/^MODROOT=//p' "$f" 2>/dev/null)
	D13_BUILDROOT=$(sed -n 's/^BUILDROOT=//p' "$f" 2>/dev/null)
	if [ -z "$D13_KVER" ] || [ ! -r "$D13_KERNEL" ] || [ ! -d "$D13_MODROOT" ] ||
		[ ! -d "$D13_BUILDROOT" ]; then
		echo "scripts/debian13-kernel.sh gave no Debian 13 kernel in $f" \
			"(KVER '$D13_KVER', KERNEL '$D13_KERNEL', MODROOT '$D13_MODROOT'," \
			"BUILDROOT '$D13_BUILDROOT')" >&2
		return 1
	fi
}

# debian13_stage STAGE ENV, from the top of the tree: an empty STAGE, then
# scripts/debian13-kernel.sh STAGE (the module built for the kernel and
# installed into STAGE) with its output in ENV, then debian13_env ENV.
debian13_stage() {
	rm -rf "$1" && mkdir -p "$1" &&
		scripts/debian13-kernel.sh "$1" >"$2" && debian13_env "$2"
}
