# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# debian-archive.sh: sourced by the scripts that fetch Debian packages
# through a private apt configuration (userspace/qemu/build-qemu.sh,
# userspace/bench/fetch-qemu-xbzrle.sh, scripts/debian13-kernel.sh,
# scripts/debian13-qemu.sh; scripts/test-debian-archive.sh tests it).
#
# log MESSAGE, die MESSAGE: MESSAGE on stderr after the name of the
# script that sourced this file (without .sh); die then exits 1.  A script
# that defined its own before sourcing this file keeps them
# (fetch-qemu-xbzrle.sh); one may also define its own after (build-qemu.sh).
declare -F log >/dev/null || log() { echo "$(basename "$0" .sh): $*" >&2; }
declare -F die >/dev/null || die() { log "$*"; exit 1; }

# debian_source_apt DIR SUITE: a private apt configuration in DIR for
# `apt-get source` from SUITE: DIR/sources.list (deb-src lines for SUITE,
# SUITE-updates and SUITE-security from debian_archive), DIR/lists and
# DIR/cache; sets the array apt to the apt-get command (-q) that uses it.
debian_source_apt() {
	local dir=$1 suite=$2
	debian_archive
	debian_private_apt "$dir" <<-EOF
	deb-src ${debian_keyring}${debian_main} $suite main
	deb-src ${debian_keyring}${debian_main} $suite-updates main
	deb-src ${debian_keyring}${debian_security} $suite-security main
	EOF
}

# debian_binary_apt DIR SUITE: the same for binary packages (`apt-get
# download`) of SUITE alone, e.g. bookworm-backports: DIR/sources.list with
# one deb line; sets the array apt likewise.
debian_binary_apt() {
	local dir=$1 suite=$2
	debian_archive
	# a here-document, not a pipe: debian_private_apt sets the caller's
	# apt array, which a pipeline's subshell would lose
	debian_private_apt "$dir" <<-EOF
	deb ${debian_keyring}${debian_main} $suite main
	EOF
}

# debian_trixie_apt DIR: the array apt for trixie's binary packages (main,
# trixie-updates, trixie-security) with the private configuration DIR/apt
# and an empty dpkg status (DIR/apt/status), so that a dependency closure
# is resolved as on an empty trixie (its libc too); then `apt-get update`,
# logged to DIR/apt.log.  Fails as the update does.
debian_trixie_apt() {
	local dir=$1
	debian_archive
	debian_private_apt "$dir/apt" <<-EOF
	deb ${debian_keyring}${debian_main} trixie main
	deb ${debian_keyring}${debian_main} trixie-updates main
	deb ${debian_keyring}${debian_security} trixie-security main
	EOF
	: >"$dir/apt/status"
	apt+=(-o "Dir::State::status=$dir/apt/status" -o APT::Architecture=amd64
	      -o APT::Architectures=amd64 -o APT::Install-Recommends=false
	      -o Debug::NoLocking=1)
	"${apt[@]}" update >"$dir/apt.log" 2>&1
}

# debian_private_apt DIR: DIR/sources.list from stdin, DIR/lists, DIR/cache,
# and the array apt set to the apt-get command (-q) that uses only them.
debian_private_apt() {
	local dir=$1
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	cat >"$dir/sources.list"
	apt=(apt-get -q -o "Dir::Etc::SourceList=$dir/sources.list"
	     -o Dir::Etc::SourceParts=/dev/null
	     -o "Dir::State::Lists=$dir/lists"
	     -o "Dir::Cache=$dir/cache")
	if [ "$(id -u)" = 0 ]; then
		apt+=(-o APT::Sandbox::User=root)
	fi
}

# debian_archive: sets debian_main and debian_security to the archive URIs
# this machine's apt uses (the first deb822 stanza with Types: deb for
# each, from /etc/apt/sources.list.d/debian.sources; deb.debian.org when
# there is none), and debian_keyring to a "[signed-by=...] " option for a
# sources.list line, or nothing.
debian_archive() {
	local f=/etc/apt/sources.list.d/debian.sources uri suites
	debian_main='' debian_security='' debian_keyring=''
	if [ -r "$f" ]; then
		while read -r uri suites; do
			case " $suites " in
			*-security\ *) debian_security=${debian_security:-$uri} ;;
			*) debian_main=${debian_main:-$uri} ;;
			esac
		done < <(awk '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && uris != "" && enabled != "no")
					print uris, suites
				types = uris = suites = enabled = ""
			}
			/^[[:space:]]*#/ { next }
			/^[[:space:]]*$/ { flush(); next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "uris:" { uris = $2 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "enabled:" { enabled = tolower($2) }
			END { flush() }' "$f")
	fi
	debian_main=${debian_main:-http://deb.debian.org/debian}
	debian_main=${debian_main%/}
	debian_security=${debian_security:-http://deb.debian.org/debian-security}
	debian_security=${debian_security%/}
	if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
		debian_keyring="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
	fi
}
