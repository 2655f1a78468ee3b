#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Idempotent set-up for building and testing gmem on Debian 12:
#  1. installs the host tools from Debian's packages when missing;
#  2. picks the kernel version KVER: $1 when it names one (6.12.N+deb12 or
#     6.12.N+deb13), else the newest 6.12.N+deb12, or with $1 = deb13 the
#     newest 6.12.N+deb13, whose packages are all available;
#  3. fetches the kernel packages with `apt-get download` and unpacks them
#     with `dpkg-deb -x` into $CACHE/$KVER (ignored by git), then unpacks
#     the kernel source and installs its uAPI headers there.  Debian 12's
#     come through the host's apt (bookworm-security); Debian 13's from
#     trixie and trixie-security through a private apt configuration in
#     $CACHE/apt-trixie (its own sources list, lists and cache, an empty
#     dpkg status: the host's apt sources are never touched);
#  4. prints which QEMU the guests will run, and why (scripts/qemu.sh):
#     on a host whose QEMU is older than 8.1 (bookworm's 7.2), that fetches
#     a pinned newer one into $CACHE/qemu first, for multi-threaded TCG
#     (not with GUEST_TCG=single).
#
# Nothing is written to /boot, /lib/modules or /usr/src, and nothing is
# loaded into the running kernel.  A second run downloads and extracts
# nothing.  Prints KVER on stdout as its last line; progress goes to stderr.
#
# Usage: scripts/setup.sh [KVER | deb12 | deb13]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$top/.cache}
log() { echo "setup: $*" >&2; }

# dkms: make check-install runs DKMS's build here (never its install into
# /lib/modules); debootstrap: the Debian 13 build root (scripts/buildroot.sh).
TOOLS="qemu-system-x86 busybox-static cpio kmod xz-utils zstd dwarves bc
       flex bison libelf-dev libssl-dev rsync gcc make perl libc6-dev
       dkms debootstrap"

apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return
	log "apt-get update"
	apt-get update -qq >&2
	apt_updated=1
}

# Kernel packages: through the host's apt for Debian 12 (APT_OPTS empty),
# through the private one for Debian 13 (use_trixie sets APT_OPTS).
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
trixie_apt=$CACHE/apt-trixie
APT_OPTS=()
use_trixie() {
	APT_OPTS=(-o "Dir::Etc::SourceList=$trixie_apt/sources.list"
		  -o Dir::Etc::SourceParts=/dev/null
		  -o Dir::Etc::Preferences=/dev/null
		  -o Dir::Etc::PreferencesParts=/dev/null
		  -o "Dir::State::Lists=$trixie_apt/lists"
		  -o "Dir::Cache=$trixie_apt/cache"
		  -o Dir::State::status=/dev/null -o Debug::NoLocking=1
		  -o APT::Sandbox::User=root -q)
	# The lists are read here, and only written by an update: one
	# worktree's update must not race another's reading.
	mkdir -p "$trixie_apt/lists/partial" "$trixie_apt/cache/archives/partial"
	exec 8> "$trixie_apt/.lock"
	flock 8
	cat > "$trixie_apt/sources.list" <<-EOF
	deb [signed-by=$KEYRING] $MIRROR trixie main
	deb [signed-by=$KEYRING] $SECURITY_MIRROR trixie-security main
	EOF
	apt_update() {
		[ "$apt_updated" = 1 ] && return
		log "apt-get update (private: trixie, trixie-security)"
		apt-get "${APT_OPTS[@]}" update >&2
		apt_updated=1
	}
}

install_tools() {
	local missing=() p
	for p in $TOOLS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	log "installing ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2
}

# linux-source-6.12's versions, newest first, as apt knows them.
source_versions() {
	apt-cache "${APT_OPTS[@]}" madison linux-source-6.12 2>/dev/null |
		awk '{ print $3 }' | sort -Vru
}

# The packages one kernel version needs, one "name[=version]" a line, for
# apt-get download; fails when any of them is not available.  The source
# package's version is the kernel's upstream version, a Debian revision
# and, on Debian 12, ~deb12uN.
kernel_pkgs() {
	local kver=$1 versions=$2 srcver
	srcver=$(echo "$versions" | grep -m1 "^${kver%+deb1[23]}-") || return 1
	local pkgs="linux-image-$kver-amd64-unsigned linux-headers-$kver-amd64
		    linux-headers-$kver-common linux-kbuild-$kver"
	apt-cache "${APT_OPTS[@]}" show --no-all-versions $pkgs \
		>/dev/null 2>&1 || return 1
	echo $pkgs "linux-source-6.12=$srcver"
}

# pick_kver deb12|deb13: the newest kernel of that release.
pick_kver() {
	local release=$1 versions up
	versions=$(source_versions)
	for up in $(echo "$versions" | cut -d- -f1 | uniq); do
		if kernel_pkgs "$up+$release" "$versions" >/dev/null; then
			echo "$up+$release"
			return
		fi
	done
	return 1
}

fetch_kernel() {
	local kver=$1 dir=$CACHE/$1
	[ -f "$dir/.complete" ] && return
	local pkgs
	pkgs=$(kernel_pkgs "$kver" "$(source_versions)") || {
		apt_update
		pkgs=$(kernel_pkgs "$kver" "$(source_versions)")
	} || { log "kernel packages for $kver are not all available"; exit 1; }
	mkdir -p "$dir/debs" "$dir/root" "$dir/src"
	log "downloading $(echo $pkgs)"
	# -o APT::Sandbox::User=root: the cache is root's, not _apt's.
	(cd "$dir/debs" &&
	 apt-get "${APT_OPTS[@]}" download -q -o APT::Sandbox::User=root \
		$pkgs >&2)
	local deb
	for deb in "$dir"/debs/*.deb; do
		log "extracting $(basename "$deb")"
		dpkg-deb -x "$deb" "$dir/root"
	done
	log "extracting the kernel source"
	tar -C "$dir/src" -xf "$dir/root/usr/src/linux-source-6.12.tar.xz"
	rm -f "$dir/root/usr/src/linux-source-6.12.tar.xz"
	log "installing the source's uAPI headers"
	make -s -C "$dir/src/linux-source-6.12" headers_install \
		INSTALL_HDR_PATH="$dir/uapi" >&2
	touch "$dir/.complete"
}

install_tools
# The default is Debian 12's newest: the release of the machines this is
# developed and tested on (README.md, "Debian 12 and 13").
want=${1:-deb12}
case $want in
deb12|deb13)
	release=$want
	;;
6.12.[0-9]*+deb12|6.12.[0-9]*+deb13)
	release=${want##*+}
	;;
*)
	log "KVER must be 6.12.N+deb12, 6.12.N+deb13, deb12 or deb13" \
	    "(the newest of that release), not '$want'"
	exit 1
	;;
esac
[ "$release" = deb13 ] && use_trixie
if [ "$want" = "$release" ]; then
	kver=$(pick_kver "$release") ||
		{ apt_update; kver=$(pick_kver "$release"); } ||
		{ log "no Debian 6.12 kernel of $release found"; exit 1; }
else
	kver=$want
fi
log "KVER=$kver"
fetch_kernel "$kver"
# A failed fetch is not fatal: the guests then run single-threaded on the
# host's QEMU, and this says so.
"$top/scripts/qemu.sh" describe >&2
echo "$kver"
