#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-debian-archive.sh: the private apt configurations of
# scripts/debian-archive.sh, without the network: each helper must leave
# the caller an apt-get command that uses only its directory, with the
# suite asked for.  (debian_binary_apt once fed its sources.list through a
# pipe, so the array was set in a subshell and lost: the cold QEMU 10.0
# build then ran "update" as a command.)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/debian-archive.sh
. "$here/debian-archive.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
check() {
	local name=$1 dir=$2 line=$3
	if [ "${#apt[@]}" -lt 2 ] || [ "${apt[0]}" != apt-get ]; then
		echo "not ok - $name: no apt-get command set (apt: '${apt[*]:-}')"
		failed=1
	elif ! printf '%s\n' "${apt[@]}" | grep -qx -- "Dir::Etc::SourceList=$dir/sources.list"; then
		echo "not ok - $name: apt does not use $dir/sources.list: ${apt[*]}"
		failed=1
	elif ! grep -q -- "$line" "$dir/sources.list"; then
		echo "not ok - $name: $dir/sources.list lacks '$line'"
		failed=1
	else
		echo "ok - $name"
	fi
}

apt=()
debian_binary_apt "$tmp/bin" bookworm-backports
check "debian_binary_apt" "$tmp/bin" "^deb .* bookworm-backports main$"
apt=()
debian_source_apt "$tmp/src" trixie
check "debian_source_apt" "$tmp/src" "^deb-src .* trixie-security main$"
exit "$failed"
