#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debian13-qemu.sh: Debian 13's own, unpatched QEMU 10.0 (trixie's
# qemu-system-x86) for the e2e migrations' destination, on this Debian 12
# machine without installing it: the package and every package it depends
# on are fetched from trixie by name through a private apt configuration
# (nothing installed is assumed, so the closure includes trixie's libc) and
# unpacked into DIR/root.  The last line printed is the path of
# DIR/qemu-system-x86_64, a wrapper that runs trixie's binary through
# trixie's own dynamic loader and libraries, with its modules, and with
# this machine's firmware (/usr/share/seabios, /usr/share/qemu) so that
# its ROM and BIOS blocks have the sizes the source's have.
#
# DIR is DEBIAN13_QEMU_DIR (default build/debian13-qemu).  Reuse: nothing
# is fetched again while DIR/stamp names the same package version.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/debian-archive.sh
. "$here/debian-archive.sh"

dir=$(realpath -m "${DEBIAN13_QEMU_DIR:-$repo/build/debian13-qemu}")
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

# the closure is resolved as on an empty trixie
debian_trixie_apt "$dir" ||
	die "apt-get update against trixie failed (log: $dir/apt.log)"
version=$("${apt[@]}" -s install qemu-system-x86 2>>"$dir/apt.log" |
	  sed -n 's/^Inst qemu-system-x86 (\([^ ]*\) .*/\1/p')
[ -n "$version" ] || die "trixie has no qemu-system-x86 (log: $dir/apt.log)"

wrapper=$dir/qemu-system-x86_64
if [ "$(cat "$dir/stamp" 2>/dev/null)" != "$version" ] || [ ! -x "$wrapper" ]; then
	log "fetching trixie's qemu-system-x86 $version and its dependencies"
	rm -f "$dir/stamp"
	"${apt[@]}" install --download-only -y qemu-system-x86 >>"$dir/apt.log" 2>&1 ||
		die "cannot download qemu-system-x86 $version (log: $dir/apt.log)"
	rm -rf "$dir/root"
	mkdir -p "$dir/root"
	n=0
	for deb in "$dir"/apt/cache/archives/*.deb; do
		dpkg-deb -x "$deb" "$dir/root"
		n=$((n + 1))
	done
	log "unpacked $n packages into $dir/root"
	root=$dir/root
	cat >"$wrapper" <<EOF
#!/bin/sh
# Debian 13's qemu-system-x86 $version, unpacked by scripts/debian13-qemu.sh:
# its own loader and libraries, its modules, this machine's firmware.
QEMU_MODULE_DIR=$root/usr/lib/x86_64-linux-gnu/qemu
export QEMU_MODULE_DIR
exec $root/usr/lib64/ld-linux-x86-64.so.2 \\
	--library-path $root/usr/lib/x86_64-linux-gnu \\
	$root/usr/bin/qemu-system-x86_64 \\
	-L /usr/share/seabios -L /usr/share/qemu "\$@"
EOF
	chmod +x "$wrapper"
	echo "$version" >"$dir/stamp"
fi
"$wrapper" -version | grep -q "Debian 1:10\." ||
	die "$wrapper does not run trixie's QEMU 10: $("$wrapper" -version 2>&1 | head -1)"
echo "$wrapper"
