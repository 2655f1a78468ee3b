#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Idempotent set-up for building and testing gmem on Debian 12:
#  1. installs the host tools from Debian's packages when missing;
#  2. picks the kernel version KVER (newest 6.12.x+deb12 whose packages are
#     all available, unless given as $1);
#  3. fetches the kernel packages with `apt-get download` and unpacks them
#     with `dpkg-deb -x` into $CACHE/$KVER (ignored by git), then unpacks
#     the kernel source and installs its uAPI headers there;
#  4. prints which QEMU the guests will run, and why (scripts/qemu.sh):
#     on a host whose QEMU is older than 8.1 (bookworm's 7.2), that fetches
#     a pinned newer one into $CACHE/qemu first, for multi-threaded TCG
#     (not with GUEST_TCG=single).
#
# Nothing is written to /boot, /lib/modules or /usr/src, and nothing is
# loaded into the running kernel.  A second run downloads and extracts
# nothing.  Prints KVER on stdout as its last line; progress goes to stderr.
#
# Usage: scripts/setup.sh [KVER]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$top/.cache}
log() { echo "setup: $*" >&2; }

# dkms: make check-install runs DKMS's build here (never its install into
# /lib/modules).
TOOLS="qemu-system-x86 busybox-static cpio kmod xz-utils zstd dwarves bc
       flex bison libelf-dev libssl-dev rsync gcc make perl libc6-dev
       dkms"

apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return
	log "apt-get update"
	apt-get update -qq >&2
	apt_updated=1
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
	apt-cache madison linux-source-6.12 | awk '{ print $3 }' | sort -Vru
}

# The packages one kernel version needs, one "name[=version]" a line, for
# apt-get download; fails when any of them is not available.
kernel_pkgs() {
	local kver=$1 versions=$2 srcver
	srcver=$(echo "$versions" | grep -m1 "^${kver%+deb12}-") || return 1
	local pkgs="linux-image-$kver-amd64-unsigned linux-headers-$kver-amd64
		    linux-headers-$kver-common linux-kbuild-$kver"
	apt-cache show --no-all-versions $pkgs >/dev/null 2>&1 || return 1
	echo $pkgs "linux-source-6.12=$srcver"
}

pick_kver() {
	local versions up
	versions=$(source_versions)
	for up in $(echo "$versions" | cut -d- -f1 | uniq); do
		if kernel_pkgs "$up+deb12" "$versions" >/dev/null; then
			echo "$up+deb12"
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
	 apt-get download -q -o APT::Sandbox::User=root $pkgs >&2)
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
if [ $# -ge 1 ] && [ -n "$1" ]; then
	kver=$1
else
	kver=$(pick_kver) || { apt_update; kver=$(pick_kver); } ||
		{ log "no Debian 6.12 kernel found"; exit 1; }
fi
log "KVER=$kver"
fetch_kernel "$kver"
# A failed fetch is not fatal: the guests then run single-threaded on the
# host's QEMU, and this says so.
"$top/scripts/qemu.sh" describe >&2
echo "$kver"
