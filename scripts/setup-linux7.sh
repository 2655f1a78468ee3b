#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Idempotent set-up of upstream's newest kernel source, for its KVM
# selftests (the second contract, README.md):
#  1. picks a linux-source-7.* package from Debian's newer suites
#     (trixie-backports and sid), with a private apt configuration under
#     $CACHE/linux-7/apt (its own sources list, lists and cache, an empty
#     dpkg status: the host's apt sources are never touched, nothing is
#     installed): the newest version of the newest 7.x, unless pinned;
#  2. fetches it with `apt-get download`, extracts the source tree from it
#     into $CACHE/linux-7/PACKAGE_VERSION/src and installs the tree's uAPI
#     headers into $CACHE/linux-7/PACKAGE_VERSION/uapi.
#
# Pinning: $1 (the Makefile's LINUX7) is a package, linux-source-7.3, or a
# package and its version, linux-source-7.3=7.3.4-1~bpo13+1.
#
# Prints the choice on stderr and, as its last line on stdout, the
# directory holding src/linux-source-7.N and uapi/.  A second run with
# the same choice downloads and extracts nothing (it reads apt's lists only
# when the choice is not pinned to a version that is already there).
#
# Usage: scripts/setup-linux7.sh [linux-source-7.N[=VERSION]]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$top/.cache}
MIRROR=${LINUX7_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
SUITES="trixie-backports sid"

l7=$CACHE/linux-7
aptdir=$l7/apt
log() { echo "setup: linux-7: $*" >&2; }

apt_opts() {
	echo "-o Dir::Etc::SourceList=$aptdir/sources.list
	      -o Dir::Etc::SourceParts=/dev/null
	      -o Dir::Etc::Preferences=/dev/null
	      -o Dir::Etc::PreferencesParts=/dev/null
	      -o Dir::State::Lists=$aptdir/lists -o Dir::Cache=$aptdir/cache
	      -o Dir::State::status=/dev/null -o Debug::NoLocking=1
	      -o APT::Sandbox::User=root -q"
}

apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return
	mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
	local s
	for s in $SUITES; do
		echo "deb [signed-by=$KEYRING] $MIRROR $s main"
	done > "$aptdir/sources.list"
	log "apt-get update (private: $SUITES)"
	# shellcheck disable=SC2046
	apt-get $(apt_opts) update >&2
	apt_updated=1
}

# Every "package version" of linux-source-7.* that the lists know.
versions() {
	[ -f "$aptdir/sources.list" ] || return 0
	# shellcheck disable=SC2046
	apt-cache $(apt_opts) dumpavail 2>/dev/null | awk '
		/^Package: / { p = $2 }
		/^Version: / && p ~ /^linux-source-7\.[0-9]+$/ { print p, $2 }'
}

# The newest "package version" among versions(), of PKG if given.
newest() {
	local want=${1:-} best= bp= bv= p v
	while read -r p v; do
		[ -z "$want" ] || [ "$p" = "$want" ] || continue
		if [ -z "$best" ] ||
		   dpkg --compare-versions "${p#linux-source-}" gt "${bp#linux-source-}" ||
		   { [ "$p" = "$bp" ] && dpkg --compare-versions "$v" gt "$bv"; }; then
			best=1 bp=$p bv=$v
		fi
	done < <(versions)
	[ -n "$best" ] && echo "$bp $bv"
}

pin=${1:-}
pkg= ver=
case $pin in
"")
	;;
linux-source-7.*=*)
	pkg=${pin%%=*} ver=${pin#*=}
	;;
linux-source-7.*)
	pkg=$pin
	;;
*)
	log "LINUX7 must be linux-source-7.N or linux-source-7.N=VERSION," \
	    "not '$pin'"
	exit 1
	;;
esac

mkdir -p "$l7"
# Worktrees share the cache: one set-up at a time.
exec 9> "$l7/.lock"
flock 9

if [ -z "$ver" ]; then
	pick=$(newest "$pkg") || { apt_update; pick=$(newest "$pkg"); } || {
		log "no ${pkg:-linux-source-7.*} in $SUITES"
		exit 1
	}
	pkg=${pick% *} ver=${pick#* }
fi
dir=$l7/${pkg}_${ver//:/%}
log "$pkg $ver${pin:+ (LINUX7=$pin)}"

if [ ! -f "$dir/.complete" ]; then
	rm -rf "$dir"
	mkdir -p "$dir/debs" "$dir/src"
	log "downloading $pkg=$ver"
	# shellcheck disable=SC2046
	(cd "$dir/debs" && apt-get $(apt_opts) download "$pkg=$ver" >&2) || {
		apt_update
		# shellcheck disable=SC2046
		(cd "$dir/debs" && apt-get $(apt_opts) download "$pkg=$ver" >&2)
	} || { log "cannot download $pkg=$ver"; exit 1; }
	log "extracting the kernel source"
	dpkg-deb --fsys-tarfile "$dir"/debs/*.deb |
		tar -xO "./usr/src/$pkg.tar.xz" | tar -C "$dir/src" -xJ
	log "installing the source's uAPI headers"
	make -s -C "$dir/src/$pkg" headers_install \
		INSTALL_HDR_PATH="$dir/uapi" >&2
	rm -rf "$dir/debs"
	touch "$dir/.complete"
fi
echo "$dir"
