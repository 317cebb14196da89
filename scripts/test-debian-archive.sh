#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-debian-archive.sh: the private apt configurations of
# scripts/debian-archive.sh, without the network: each helper must leave
# the caller an apt-get command that uses only its directory, with the
# suite asked for (debian_trixie_apt also an empty dpkg status, and its
# update run).  (debian_binary_apt once fed its sources.list through a
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

# debian_trixie_apt runs "update": apt-get is a function here, so nothing
# goes to the network; it records what it was asked.
# shellcheck disable=SC2317 # called through "${apt[@]}"
apt-get() { printf '%s\n' "$@" >"$tmp/apt-get.args"; }
apt=()
if ! debian_trixie_apt "$tmp/d13"; then
	echo "not ok - debian_trixie_apt: failed"
	failed=1
else
	check "debian_trixie_apt" "$tmp/d13/apt" "^deb .* trixie-security main$"
	if [ -s "$tmp/d13/apt/status" ] || [ ! -e "$tmp/d13/apt/status" ] ||
	   ! printf '%s\n' "${apt[@]}" | grep -qx -- "Dir::State::status=$tmp/d13/apt/status" ||
	   [ "$(tail -n 1 "$tmp/apt-get.args" 2>/dev/null)" != update ]; then
		echo "not ok - debian_trixie_apt: no empty dpkg status in use, or no update run"
		failed=1
	else
		echo "ok - debian_trixie_apt: an empty dpkg status, then update"
	fi
fi
exit "$failed"
