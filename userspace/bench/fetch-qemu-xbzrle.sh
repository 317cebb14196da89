#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-qemu-xbzrle.sh WORKDIR: gets QEMU's migration/xbzrle.c (and
# migration/xbzrle.h) from two Debian source packages for the benchmark,
# and 7.2's XBZRLE page cache for the cache-policy simulation:
#
#   WORKDIR/qemu72/   bookworm's QEMU 7.2 (plain C encoder only), with
#                     migration/page_cache.[ch] (xbzrle-cache-sim)
#   WORKDIR/qemu100/  trixie's QEMU 10.0 (plain C and AVX-512BW encoders)
#
# each holding migration/xbzrle.[ch] as Debian ships them (Debian's
# patches that touch them applied), util/uleb128.c (the two functions of
# util/cutils.c that xbzrle.c calls) and a VERSION file "upstream debian".
# Nothing of QEMU is kept in the repository: the benchmark compiles these
# files with its own stub headers (userspace/bench/qemu-stubs/).
#
# The packages come from the archive this machine's apt uses (the URIs of
# /etc/apt/sources.list.d/debian.sources, default deb.debian.org) through
# a private apt configuration per suite under WORKDIR/apt-<suite>/ (its own
# sources list, lists and cache): /etc/apt and /var/lib/apt are untouched.
# The downloads are kept in WORKDIR/dl-<suite>/ and reused; BENCH_REFRESH=1
# asks the archive again.  Progress goes to stderr.
set -euo pipefail
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH
export LC_ALL=C

work=${1:?usage: fetch-qemu-xbzrle.sh WORKDIR}
mkdir -p "$work"
work=$(cd "$work" && pwd)

log() { echo "fetch-qemu: $*" >&2; }
die() { echo "fetch-qemu: error: $*" >&2; exit 1; }

for cmd in apt-get tar xz patch flock; do
	command -v "$cmd" >/dev/null || die "missing $cmd"
done

exec 9>"$work/.fetch.lock"
flock 9

# The archive's URIs, as this machine's apt uses them: debian_source_apt.
# shellcheck source=scripts/debian-archive.sh
. "$(dirname "$0")/../../scripts/debian-archive.sh"

# first GLOB...: the first existing file the glob names, or nothing
first() { [ -e "$1" ] && echo "$1"; return 0; }

# download SUITE: newest qemu source package of SUITE (+ -updates,
# -security) into dl-SUITE/, unless already there.  Prints the .dsc.
download() {
	local suite=$1 apt_dir=$work/apt-$1 dl=$work/dl-$1 apt dsc
	dsc=$(first "$dl"/qemu_*.dsc)
	if [ -n "$dsc" ] && [ -z "${BENCH_REFRESH:-}" ]; then
		echo "$dsc"
		return
	fi
	debian_source_apt "$apt_dir" "$suite"
	log "apt-get source qemu from $suite (private config in $apt_dir)"
	"${apt[@]}" update >"$apt_dir/apt.log" 2>&1 ||
		{ sed 's/^/    /' "$apt_dir/apt.log" >&2; die "apt-get update for $suite failed"; }
	rm -rf "$dl.tmp"
	mkdir -p "$dl.tmp"
	(cd "$dl.tmp" && "${apt[@]}" source --download-only qemu) >>"$apt_dir/apt.log" 2>&1 ||
		{ sed 's/^/    /' "$apt_dir/apt.log" >&2; die "apt-get source qemu ($suite) failed"; }
	rm -rf "$dl"
	mv "$dl.tmp" "$dl"
	dsc=$(first "$dl"/qemu_*.dsc)
	[ -n "$dsc" ] || die "apt-get source qemu ($suite) left no .dsc"
	log "downloaded $(basename "$dsc") ($(du -sm "$dl" | cut -f1) MB)"
	echo "$dsc"
}

# filter_diff FILE...: the sections of a unified diff (stdin) whose target
# is one of FILEs, the files we take (VERSION too: Debian's 7.2 carries the
# stable releases as patches); patch(1) ignores the text between them.
filter_diff() {
	FILES=$(printf '%s\n' "$@" | sed 's/[.]/[.]/g' | paste -sd'|') awk '
	/^(diff |Index: )/ { keep = 0; next }
	/^--- / {
		hdr = $0
		if ((getline nxt) > 0 && nxt ~ /^\+\+\+ /) {
			keep = (nxt ~ ("^[+][+][+] [^/ \t]*/(" ENVIRON["FILES"] ")([ \t]|$)"))
			if (keep) { print hdr; print nxt }
			next
		}
		if (keep) { print hdr; print nxt }
		next
	}
	keep { print }'
}

# extract DSC DEST UPSTREAM_GLOB [FILE...]: migration/xbzrle.[ch],
# util/cutils.c and the FILEs (paths in QEMU's tree) of DSC into DEST, with
# Debian's patches to them applied; then util/uleb128.c: the two functions
# of util/cutils.c that xbzrle.c calls (QEMU links them out of line, so
# they are compiled on their own).
extract() {
	local dsc=$1 dest=$2 want=$3 dir debver orig debtar tmp p f applied=()
	local extra=("${@:4}") files=() patterns=()
	files=(VERSION migration/xbzrle.c migration/xbzrle.h util/cutils.c "${extra[@]}")
	for f in "${files[@]}"; do
		patterns+=("*/$f")
	done
	dir=$(dirname "$dsc")
	debver=$(sed -n 's/^Version: //p' "$dsc")
	if [ -f "$dest/VERSION" ] && [ "$(cut -d' ' -f2 "$dest/VERSION")" = "$debver" ] &&
	   [ -f "$dest/migration/xbzrle.c" ] && [ -f "$dest/util/uleb128.c" ]; then
		# and the FILEs: a copy made before they were asked for has not
		p=
		for f in "${extra[@]}"; do
			[ -f "$dest/$f" ] || p=missing
		done
		[ -n "$p" ] || return 0
	fi
	orig=$(first "$dir"/qemu_*.orig.tar.*)
	debtar=$(first "$dir"/qemu_*.debian.tar.*)
	{ [ -n "$orig" ] && [ -n "$debtar" ]; } || die "no orig or debian tarball next to $dsc"
	tmp=$dest.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	tar -xf "$orig" -C "$tmp" --strip-components=1 --wildcards \
		--no-wildcards-match-slash "${patterns[@]}"
	# shellcheck disable=SC2254 # $want is a glob
	case $(cat "$tmp/VERSION") in
	$want) ;;
	*) die "$(basename "$dsc") is QEMU $(cat "$tmp/VERSION"), expected $want" ;;
	esac
	tar -xf "$debtar" -C "$tmp" debian/patches
	if [ -f "$tmp/debian/patches/series" ]; then
		while read -r p _; do
			case $p in ''|'#'*) continue ;; esac
			[ -f "$tmp/debian/patches/$p" ] || continue
			filter_diff "${files[@]}" <"$tmp/debian/patches/$p" >"$tmp/part.diff"
			[ -s "$tmp/part.diff" ] || continue
			(cd "$tmp" && patch -s -p1 --batch --no-backup-if-mismatch -i part.diff) >&2 ||
				die "Debian's $p does not apply to the extracted files"
			applied+=("$p")
		done <"$tmp/debian/patches/series"
	fi
	[ ${#applied[@]} = 0 ] ||
		log "applied what Debian's ${applied[*]} change in these files"
	rm -rf "$tmp/debian" "$tmp/part.diff"
	{
		echo "/* from QEMU $(cat "$tmp/VERSION") util/cutils.c (Debian $debver), by fetch-qemu-xbzrle.sh */"
		echo '#include "qemu/osdep.h"'
		echo '#include "qemu/cutils.h"'
		awk '/^int uleb128_(en|de)code_small\(/,/^}/' "$tmp/util/cutils.c"
	} >"$tmp/util/uleb128.c"
	[ "$(grep -c '^int uleb128_' "$tmp/util/uleb128.c")" = 2 ] ||
		die "no uleb128_encode_small/uleb128_decode_small in util/cutils.c"
	rm "$tmp/util/cutils.c"
	echo "$(cat "$tmp/VERSION") $debver" >"$tmp/VERSION"
	rm -rf "$dest"
	mv "$tmp" "$dest"
	log "extracted migration/xbzrle.[ch]${extra[*]:+, ${extra[*]}} and util/cutils.c's uleb128 functions of QEMU $(cat "$dest/VERSION") into $dest"
}

extract "$(download bookworm)" "$work/qemu72" '7.2.*' \
	migration/page_cache.c migration/page_cache.h
extract "$(download trixie)" "$work/qemu100" '10.0.*'
