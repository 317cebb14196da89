#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-qemu.sh [--check]: builds QEMU 7.2 from Debian bookworm's source
# package (or, with QEMU_VERSION=10.0, QEMU 10.0 from Debian trixie's) with
# this repository's patch series for that version applied, and prints the
# absolute path of qemu-system-x86_64 on its last line (progress goes to
# stderr, so qemu=$(build-qemu.sh) works).  With --check it then runs
# QEMU's own XBZRLE tests and prints TAP ending in "N passed, N failed".
#
# The source comes from the archive the machine already uses (the URIs of
# /etc/apt/sources.list.d/debian.sources) through a private apt
# configuration under the work directory: /etc/apt and /var/lib/apt are
# never touched.  Everything lives in the work directory (QEMU_BUILD_DIR,
# default build/qemu for 7.2 and build/qemu-10.0 for 10.0):
#
#   apt/              private apt sources, lists and cache
#   dl/               the downloaded .dsc and tarballs
#   src/              Debian's tree (their patches applied), a git repo:
#                     tag "pristine" is Debian's tree, one commit per patch
#                     of our series on top.  Owned by this script: it is
#                     reset to "pristine" whenever the series changes.
#   obj/              the meson/ninja build; obj/qemu-system-x86_64,
#                     obj/qemu-img, obj/tests/unit/test-xbzrle,
#                     obj/tests/qtest/migration-test; obj/qemu-bundle holds
#                     links to Debian's installed firmware
#   logs/             unpack, configure and build logs
#   meson/            (10.0) meson from bookworm-backports: QEMU 10.0 needs
#                     meson >= 1.5, bookworm has 1.0, and Debian's +ds
#                     tarball drops the meson QEMU bundles; the .deb is
#                     fetched through the same private apt configuration
#                     and unpacked here, nothing is installed
#
# Reuse: the downloaded source is kept and reused (QEMU_REFRESH=1 asks the
# archive again and switches to a newer Debian version if there is one).
# Nothing is done but a check that the binaries exist when the Debian
# version, the series and its patches, and this script are unchanged.  When
# the series changed, src/ is reset to "pristine" and the series re-applied;
# only the files that the old or the new series touch get a new mtime, so
# ninja rebuilds just those.  obj/ is configured anew only when the
# configure options (this script) or the Debian version change.
#
# Environment:
#   QEMU_VERSION=v      7.2 (default: Debian 12, bookworm) or 10.0 (Debian
#                       13, trixie)
#   QEMU_PATCHES=dir    the series directory (default userspace/qemu/patches
#                       for 7.2, userspace/qemu/patches-10.0 for 10.0):
#                       a "series" file (one patch file name per line, #
#                       comments) and the patches, applied with patch -p1
#                       --fuzz=2 in series order
#   QEMU_BUILD_DIR=dir  the work directory (default build/qemu, or
#                       build/qemu-10.0); make check uses one per version
#                       under /var/cache/kvm_xbzrle (XBZRLE_QEMU_CACHE), so
#                       that a clean clone does not rebuild an unchanged
#                       QEMU: the Debian version, the series' content and
#                       the uapi header decide what is rebuilt, and a lock
#                       on the work directory serialises builds in it
#   QEMU_REFRESH=1      look for a newer Debian QEMU of that version in the
#                       archive
#   QEMU_JOBS=n         ninja -j (default nproc)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/debian-archive.sh
. "$repo/scripts/debian-archive.sh"
# step NAME CMD... for --check; it returns CMD's status, hence the || true
# shellcheck source=scripts/tap.sh
. "$repo/scripts/tap.sh"
self="$here/$(basename "$0")"

# Debian's tools first: a pyenv python3 shim breaks QEMU 7.2's configure.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH
export LC_ALL=C

check=
log() { echo "build-qemu: $*" >&2; }
die() {
	echo "build-qemu: error: $*" >&2
	[ -z "$check" ] || echo "Bail out! build-qemu: $*"
	exit 1
}
indent() { sed 's/^/    /' >&2; }

case "${1:-}" in
"") ;;
--check) check=1 ;;
-h|--help) sed -n '3,/^set -euo/p' "$self" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
*) die "unknown argument $1 (usage: build-qemu.sh [--check])" ;;
esac

uapi_header=$repo/uapi/linux/kvm_xbzrle.h
[ -r "$uapi_header" ] || die "no $uapi_header: the module's uapi header is imported into QEMU's linux-headers/"

# What differs between the QEMU versions: the Debian suite, the upstream
# version accepted, the series, the work directory.
qemu_version=${QEMU_VERSION:-7.2}
case $qemu_version in
7.2)	suite=bookworm debian_release="Debian 12, bookworm"
	default_patches=$here/patches default_work=$repo/build/qemu ;;
10.0)	suite=trixie debian_release="Debian 13, trixie"
	default_patches=$here/patches-10.0 default_work=$repo/build/qemu-10.0 ;;
*)	die "QEMU_VERSION=$qemu_version: the series exist for 7.2 and 10.0" ;;
esac
patches_dir=$(cd "${QEMU_PATCHES:-$default_patches}" 2>/dev/null && pwd) ||
	die "no patch directory ${QEMU_PATCHES:-$default_patches}"
work=${QEMU_BUILD_DIR:-$default_work}
jobs=${QEMU_JOBS:-$(nproc)}
src=$work/src
obj=$work/obj
logs=$work/logs
targets=(qemu-system-x86_64 qemu-img tests/unit/test-xbzrle tests/qtest/migration-test)

# --- what is needed --------------------------------------------------------

missing=
for cmd in apt-get dpkg-source dpkg-deb patch git ninja pkg-config cc make \
	   python3 flock sha256sum xz; do
	command -v "$cmd" >/dev/null || missing="$missing $cmd"
done
for pc in glib-2.0 pixman-1 slirp libzstd zlib; do
	pkg-config --exists "$pc" 2>/dev/null || missing="$missing $pc.pc"
done
[ -f /usr/include/libfdt.h ] || missing="$missing libfdt.h"
[ -f /usr/share/seabios/bios-256k.bin ] || missing="$missing seabios"
[ -f /usr/lib/ipxe/qemu/efi-e1000.rom ] || missing="$missing ipxe-qemu"
[ -f /usr/share/qemu/kvmvapic.bin ] || missing="$missing qemu-system-data"
[ "$qemu_version" != 7.2 ] || command -v meson >/dev/null || missing="$missing meson"
[ -z "$missing" ] ||
	die "missing$missing: run scripts/install-deps.sh as root (make deps)"

# --- the series --------------------------------------------------------------

[ -f "$patches_dir/series" ] || die "no series file in $patches_dir"
patches=()
while IFS= read -r line || [ -n "$line" ]; do
	line=${line%%#*}
	line=$(echo "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
	[ -n "$line" ] || continue
	[ -f "$patches_dir/$line" ] ||
		die "$patches_dir/series names $line, which is not in that directory"
	patches+=("$line")
done <"$patches_dir/series"

mkdir -p "$work" "$logs"
exec 9>"$work/.lock"
if ! flock -n 9; then
	log "another build-qemu.sh is running in $work, waiting for it"
	flock 9
fi

# The options besides the target: what the tests and the offload need (KVM,
# TCG for the CI guests, slirp, qemu-img, the qtests), nothing else, and
# nothing auto-detected, so every machine builds the same QEMU.
configure_opts=(
	--target-list=x86_64-softmmu --disable-docs --disable-werror
	--with-git-submodules=ignore --enable-kvm --enable-tcg --enable-slirp
	--enable-tools --disable-guest-agent --disable-install-blobs
	--disable-gtk --disable-sdl --disable-vnc --disable-spice
	--disable-opengl --disable-virglrenderer --disable-curses --disable-vte
	--disable-usb-redir --disable-libusb --disable-smartcard --disable-u2f
	--disable-canokey --disable-xen --disable-capstone --disable-dbus-display
	--disable-alsa --disable-pa --disable-jack --disable-oss --disable-sndio
	--disable-gnutls --disable-nettle --disable-gcrypt --disable-curl
	--disable-libssh --disable-rbd --disable-glusterfs --disable-libiscsi
	--disable-libnfs --disable-brlapi --disable-vde --disable-netmap
	--disable-linux-io-uring --disable-linux-aio --disable-seccomp
	--disable-cap-ng --disable-libpmem --disable-libdaxctl --disable-numa
	--disable-rdma --disable-pvrdma --disable-bpf --disable-lzo
	--disable-snappy --disable-bzip2 --disable-lzfse --disable-png
	--disable-fuse --disable-blkio --disable-keyring --disable-selinux
	--disable-multiprocess --disable-xkbcommon
)
# 10.0 dropped two of them (git submodules are --disable-download now) and
# auto-detects more.
if [ "$qemu_version" = 10.0 ]; then
	opts=()
	for o in "${configure_opts[@]}"; do
		case $o in
		--with-git-submodules=* | --disable-pvrdma) ;;
		*) opts+=("$o") ;;
		esac
	done
	configure_opts=("${opts[@]}" --disable-download --disable-rust
			--disable-pipewire --disable-libcbor --disable-libudev
			--disable-qpl --disable-uadk --disable-qatzip
			--disable-hv-balloon)
fi

# QEMU 10.0 needs meson >= 1.5: bookworm-backports' (a Python package,
# architecture all), unpacked into meson/ and put first on the paths.
meson_min=1.5
fetch_meson() {
	local dir=$work/meson apt t0=$SECONDS
	if [ ! -x "$dir/root/usr/bin/meson" ] || [ -n "${QEMU_REFRESH:-}" ]; then
		debian_binary_apt "$dir/apt" bookworm-backports
		log "fetching meson from bookworm-backports ($(awk '{print $3}' "$dir/apt/sources.list"))"
		"${apt[@]}" update >"$logs/meson-apt.log" 2>&1 ||
			{ indent <"$logs/meson-apt.log"; die "apt-get update for bookworm-backports failed"; }
		rm -f "$dir"/meson_*.deb
		(cd "$dir" && "${apt[@]}" download meson) >>"$logs/meson-apt.log" 2>&1 ||
			{ indent <"$logs/meson-apt.log"; die "apt-get download meson (bookworm-backports) failed"; }
		rm -rf "$dir/root"
		dpkg-deb -x "$dir"/meson_*.deb "$dir/root" ||
			die "dpkg-deb -x $(echo "$dir"/meson_*.deb) failed"
		log "unpacked $(basename "$dir"/meson_*.deb) into $dir/root in $((SECONDS - t0))s"
	fi
	export PATH=$dir/root/usr/bin:$PATH
	export PYTHONPATH=$dir/root/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}
	meson_version=$(meson --version) || die "the unpacked meson does not run"
	printf '%s\n' "$meson_min" "$meson_version" | sort -V -C ||
		die "meson $meson_version from bookworm-backports is older than $meson_min"
}
meson_version=
if [ "$qemu_version" = 10.0 ]; then
	fetch_meson
fi

sha() { sha256sum | cut -d' ' -f1; }
series_hash() {
	{
		echo "debian $debver"
		for p in "${patches[@]}"; do
			echo "== $p"
			cat "$patches_dir/$p"
		done
		# the header's content, not its path: clones share a cache
		echo "== uapi/linux/kvm_xbzrle.h"
		cat "$uapi_header"
	} | sha
}
config_hash() {
	{
		printf '%s\n' "debian $debver" "${configure_opts[@]}"
		[ -z "$meson_version" ] || echo "meson $meson_version"
	} | sha
}
build_key() { { series_hash; config_hash; sha <"$self"; } | sha; }

binaries_exist() {
	local t
	for t in "${targets[@]}"; do
		[ -x "$obj/$t" ] || return 1
	done
	[ -d "$obj/qemu-bundle" ]
}

# --- the source ----------------------------------------------------------------

# Downloads Debian's newest QEMU source package of $suite into dl/; sets $dsc.
fetch_source() {
	local apt t0=$SECONDS
	# deb-src for the suite, its -updates and -security
	debian_source_apt "$work/apt" "$suite"
	log "fetching Debian's QEMU source ($(awk '{print $3, $4}' "$work/apt/sources.list" | paste -sd, | sed 's/,/, /g'))"
	"${apt[@]}" update >"$logs/apt.log" 2>&1 ||
		{ indent <"$logs/apt.log"; die "apt-get update with the private sources failed"; }
	rm -rf "$work/dl"
	mkdir -p "$work/dl"
	(cd "$work/dl" && "${apt[@]}" source --download-only qemu) >>"$logs/apt.log" 2>&1 ||
		{ indent <"$logs/apt.log"; die "apt-get source --download-only qemu failed"; }
	dsc=$(echo "$work"/dl/qemu_*.dsc)
	[ -f "$dsc" ] || die "apt-get source left no qemu_*.dsc in $work/dl"
	log "downloaded $(du -sm "$work/dl" | cut -f1) MB in $((SECONDS - t0))s"
}

# Unpacks $dsc (Debian's patches applied) into a fresh src/ with its
# pristine commit; refuses any upstream version but $qemu_version.x.
unpack_source() {
	local newver upver tmp=$work/unpack.tmp t0=$SECONDS
	newver=$(sed -n 's/^Version: //p' "$dsc")
	rm -rf "$tmp"
	mkdir -p "$tmp"
	dpkg-source -x "$dsc" "$tmp/qemu" >"$logs/unpack.log" 2>&1 ||
		{ indent <"$logs/unpack.log"; die "dpkg-source -x $dsc failed"; }
	upver=$(cat "$tmp/qemu/VERSION")
	case $upver in
	"$qemu_version".*) ;;
	*)	rm -rf "$tmp"
		die "the archive's QEMU is $upver (Debian $newver); the patch series" \
		    "targets QEMU $qemu_version ($debian_release): refusing to build it" ;;
	esac
	rm -rf "$tmp/qemu/.pc"
	git -C "$tmp/qemu" init -q
	git -C "$tmp/qemu" add -A -f
	git -C "$tmp/qemu" commit -q -m "QEMU $upver, Debian $newver (pristine)"
	git -C "$tmp/qemu" tag pristine
	rm -rf "$src" "$obj" "$work"/stamp.*
	mv "$tmp/qemu" "$src"
	rm -rf "$tmp"
	echo "$newver" >"$work/debian-version"
	debver=$newver
	log "unpacked QEMU $upver (Debian $debver) into $src in $((SECONDS - t0))s"
}

git_src() {
	git -C "$src" -c user.name=build-qemu -c user.email=build-qemu@localhost \
		-c gc.auto=0 "$@"
}

debver=
if [ -f "$work/debian-version" ] && git_src rev-parse -q --verify pristine >/dev/null 2>&1; then
	debver=$(cat "$work/debian-version")
	# a QEMU_BUILD_DIR that held the other version: fetched again
	case $(cat "$src/VERSION" 2>/dev/null) in
	"$qemu_version".*) ;;
	*) log "$src holds QEMU $(cat "$src/VERSION" 2>/dev/null), not $qemu_version: fetching"
	   debver= ;;
	esac
fi

if [ -n "$debver" ] && [ -z "${QEMU_REFRESH:-}" ] &&
   [ "$(cat "$work/stamp.built" 2>/dev/null)" = "$(build_key)" ] && binaries_exist; then
	log "up to date: QEMU $(cat "$src/VERSION") (Debian $debver) with ${#patches[@]} patch(es) from $patches_dir"
else
	rm -f "$work/stamp.built"
	if [ -z "$debver" ] || [ -n "${QEMU_REFRESH:-}" ]; then
		fetch_source
		if [ "$(sed -n 's/^Version: //p' "$dsc")" = "$debver" ]; then
			log "Debian $debver is still the newest: keeping $src"
		else
			unpack_source
		fi
	fi
	log "QEMU $(cat "$src/VERSION"), Debian version $debver"

	# --- the series, onto pristine -------------------------------------------
	shash=$(series_hash)
	if [ "$(cat "$work/stamp.applied" 2>/dev/null)" != "$shash" ]; then
		rm -f "$work/stamp.applied"
		git_src reset -q --hard pristine
		git_src clean -q -f -d -x
		i=0
		for p in "${patches[@]}"; do
			i=$((i + 1))
			if ! out=$(cd "$src" && patch -p1 --fuzz=2 --batch --forward \
					--dry-run -i "$patches_dir/$p" 2>&1); then
				echo "$out" | indent
				die "patch $i of the series, $p, does not apply to QEMU" \
				    "$(cat "$src/VERSION") (Debian $debver); see above, and" \
				    "$src, left with the $((i - 1)) patch(es) before it applied"
			fi
			out=$(cd "$src" && patch -p1 --fuzz=2 --batch --forward \
				--no-backup-if-mismatch -i "$patches_dir/$p" 2>&1) ||
				{ echo "$out" | indent; die "patch $p failed to apply"; }
			if echo "$out" | grep -q 'with fuzz\|offset'; then
				log "applied $p, with offsets or fuzz:"
				echo "$out" | grep 'with fuzz\|offset' | indent
			else
				log "applied $p"
			fi
			git_src add -A -f
			git_src commit -q --allow-empty -m "$p"
		done
		# QEMU keeps kernel uapi headers in linux-headers/, imported from
		# the kernel (scripts/update-linux-headers.sh): so is the module's.
		cp "$uapi_header" "$src/linux-headers/linux/kvm_xbzrle.h"
		git_src add -A -f
		git_src commit -q -m "linux-headers: kvm_xbzrle.h from $uapi_header"
		echo "$shash" >"$work/stamp.applied"
		log "applied ${#patches[@]} patch(es) from $patches_dir and imported linux/kvm_xbzrle.h"
	fi

	# --- configure, build --------------------------------------------------
	chash=$(config_hash)
	if [ "$(cat "$work/stamp.configured" 2>/dev/null)" != "$chash" ] ||
	   [ ! -f "$obj/build.ninja" ]; then
		t0=$SECONDS
		rm -rf "$obj" "$work/stamp.configured"
		mkdir -p "$obj"
		log "configuring (log: $logs/configure.log)"
		(cd "$obj" && "$src/configure" \
			--with-pkgversion="Debian $debver, kvm_xbzrle" \
			"${configure_opts[@]}") >"$logs/configure.log" 2>&1 ||
			{ tail -n 30 "$logs/configure.log" | indent
			  die "configure failed (log: $logs/configure.log)"; }
		echo "$chash" >"$work/stamp.configured"
		log "configured in $((SECONDS - t0))s"
	fi

	t0=$SECONDS
	log "building ${targets[*]} with ninja -j$jobs (log: $logs/build.log)"
	if ! ninja -C "$obj" -j "$jobs" "${targets[@]}" >"$logs/build.log" 2>&1; then
		if grep -q '^FAILED:' "$logs/build.log"; then
			sed -n '/^FAILED:/,$p' "$logs/build.log" | head -n 60 | indent
		else
			tail -n 40 "$logs/build.log" | indent
		fi
		die "build failed (log: $logs/build.log)"
	fi
	steps=$(grep -c '^\[[0-9]*/[0-9]*\]' "$logs/build.log" || true)
	log "built in $((SECONDS - t0))s ($steps build steps)"

	# --- firmware ------------------------------------------------------------
	# Debian's tarball has no firmware and skips pc-bios/: link the
	# installed files into the data directory of the build tree's
	# qemu-bundle (which QEMU searches when it runs from the build tree),
	# in Debian's own firmware path order, without hiding what meson put
	# there.
	datadir=$(sed -n 's/^#define CONFIG_QEMU_DATADIR "\(.*\)"$/\1/p' "$obj/config-host.h")
	[ -n "$datadir" ] || die "no CONFIG_QEMU_DATADIR in $obj/config-host.h"
	mkdir -p "$obj/qemu-bundle$datadir"
	for d in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
		for f in "$d"/*; do
			[ -e "$f" ] || continue
			dest=$obj/qemu-bundle$datadir/${f##*/}
			[ -e "$dest" ] || [ -L "$dest" ] || ln -s "$f" "$dest"
		done
	done

	build_key >"$work/stamp.built"
fi

qemu=$obj/qemu-system-x86_64

# --- --check: QEMU's own XBZRLE tests --------------------------------------------

# tap_ok CMD...: runs a GLib test binary with --tap; fails unless it ran at
# least one test, none failed and none was skipped.
tap_ok() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	echo "$out"
	[ "$rc" = 0 ] || return "$rc"
	echo "$out" | grep -q '^ok ' || { echo "no test ran"; return 1; }
	! echo "$out" | grep -q '^not ok\|# SKIP' || { echo "a test failed or was skipped"; return 1; }
}

# A boot sector that writes 0x31 to isa-debug-exit: QEMU exits with 99 once
# SeaBIOS (found through qemu-bundle) has loaded and run it.
boots_boot_sector() {
	local img=$work/check/boot.img rc=0
	mkdir -p "$work/check"
	{
		printf '\xb0\x31\xe6\xf4\xf4\xeb\xfd'	# mov al,0x31; out 0xf4,al; hlt; jmp .-1
		head -c 503 /dev/zero
		printf '\x55\xaa'
	} >"$img"
	timeout 60 "$qemu" -nodefaults -machine pc -accel tcg -display none \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-drive file="$img",format=raw,if=ide || rc=$?
	[ "$rc" = 99 ] || { echo "exit status $rc, not 99"; return 1; }
}

if [ -n "$check" ]; then
	echo "TAP version 13"
	echo "1..3"
	echo "# $qemu: QEMU $(cat "$src/VERSION") (Debian $debver), ${#patches[@]} patch(es)"
	step "qemu-system-x86_64 -machine pc boots a boot sector with the linked firmware" \
		boots_boot_sector || true
	step "QEMU's tests/unit/test-xbzrle" \
		tap_ok timeout 300 "$obj/tests/unit/test-xbzrle" --tap || true
	export QTEST_QEMU_BINARY=$qemu QTEST_QEMU_IMG=$obj/qemu-img
	# 10.0 registers its XBZRLE qtest only in its full set, in slow mode
	slow=()
	[ "$qemu_version" = 7.2 ] || slow=(--full -m slow)
	step "QEMU's migration qtest /x86_64/migration/precopy/unix/xbzrle" \
		tap_ok timeout 300 "$obj/tests/qtest/migration-test" --tap \
		"${slow[@]}" -p /x86_64/migration/precopy/unix/xbzrle || true
	echo "$((n - failed)) passed, $failed failed"
	[ "$failed" = 0 ]
	exit
fi

echo "$qemu"
