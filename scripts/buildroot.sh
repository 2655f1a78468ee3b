#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A Debian 13 (trixie) build root, for building modules against Debian 13's
# kernel headers on a host that is not Debian 13.  Those headers' kbuild
# programs (modpost) need trixie's C library (GLIBC_2.38; bookworm has
# 2.36), and their .kernelvariables name the compiler the kernel was built
# with, x86_64-linux-gnu-gcc-14, which bookworm does not have.  So the
# build runs in a minimal trixie made by debootstrap under
# $CACHE/buildroot-trixie, with the tree and the package cache bind-mounted
# at their own paths, in a mount namespace of its own, so nothing stays
# mounted when it ends.  Nothing is installed on the host but debootstrap
# (scripts/setup.sh).
#
# Usage: scripts/buildroot.sh wrap KVER   print the command prefix that
#                                         runs kbuild for KVER: nothing on
#                                         a host that can run it, else
#                                         "scripts/buildroot.sh run", after
#                                         making the root (idempotent)
#        scripts/buildroot.sh run CMD...  run CMD in the root, in the same
#                                         directory
# Environment: CACHE (default .cache), DEBIAN_MIRROR.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$top/.cache}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$CACHE/buildroot-trixie
log() { echo "buildroot: $*" >&2; }

# What kbuild needs to build external modules for Debian 13's kernel: the
# headers' compiler and the kbuild package's own dependencies (W=1 adds
# kernel-doc, which wants perl's Pod::Usage); and DKMS with what
# dkms/build.sh runs (make check-install runs Debian 13's DKMS in here).
PACKAGES=gcc-14,make,libc6-dev,libelf1t64,libssl3t64,zlib1g,pahole,bc,kmod,xz-utils,perl,dkms,rsync,patch

# Whether the host runs KVER's kbuild itself: every program of the kbuild
# package finds its libraries, and the compiler that .kernelvariables
# names (Debian 12's gcc-12, 13's gcc-14) is there.
host_can_build() {
	local kver=$1 kbuild headers cc prog
	kbuild=$CACHE/$kver/root/usr/lib/linux-kbuild-$kver
	headers=$CACHE/$kver/root/usr/src/linux-headers-$kver-amd64
	[ -d "$kbuild/scripts" ] || { log "no kbuild for $kver in $CACHE"; exit 1; }
	while read -r prog; do
		if ldd "$prog" 2>&1 | grep -q 'not found'; then
			return 1
		fi
	done < <(find "$kbuild" -type f -perm -u+x -exec sh -c \
		'head -c 4 "$1" | grep -q ELF' sh {} \; -print)
	cc=$(sed -n 's/^CC = .*(CROSS_COMPILE)\([^ ]*\)$/x86_64-linux-gnu-\1/p' \
		"$headers/.kernelvariables")
	[ -z "$cc" ] || command -v "$cc" > /dev/null
}

# .complete holds the package list the root was made with: a root made
# before a package was added to it gets that package with apt.
made_with() {
	[ -f "$root/.complete" ] && [ "$(cat "$root/.complete")" = "$PACKAGES" ]
}

make_root() {
	made_with && return
	mkdir -p "$CACHE"
	# Worktrees share the cache: one debootstrap at a time.
	exec 9> "$CACHE/.buildroot-trixie.lock"
	flock 9
	made_with && return
	if [ -f "$root/.complete" ]; then
		log "adding packages to $root"
		chroot "$root" apt-get install -y -q --no-install-recommends \
			${PACKAGES//,/ } >&2
	else
		rm -rf "$root"
		log "debootstrap trixie into $root (once)"
		debootstrap --variant=minbase --include="$PACKAGES" trixie \
			"$root" "$MIRROR" >&2
	fi
	chroot "$root" apt-get clean
	echo "$PACKAGES" > "$root/.complete"
}

# The directories the build reads and writes, mounted at their own paths:
# the tree, and the package cache it links to.
run() {
	[ -f "$root/.complete" ] || { log "no build root: run wrap first"; exit 1; }
	local cache_real
	cache_real=$(readlink -f "$CACHE")
	# shellcheck disable=SC2016
	exec unshare --mount --propagation private -- bash -euc '
		root=$1 top=$2 cache=$3 cwd=$4
		shift 4
		for d in "$top" "$cache"; do
			mkdir -p "$root$d"
			mount --bind "$d" "$root$d"
		done
		mount --rbind /dev "$root/dev"
		mount -t proc proc "$root/proc"
		mount -t tmpfs tmpfs "$root/tmp"
		exec chroot "$root" /usr/bin/env -C "$cwd" "$@"
	' buildroot "$root" "$top" "$cache_real" "$PWD" "$@"
}

case ${1:-} in
wrap)
	[ $# -eq 2 ] || { log "usage: $0 wrap KVER"; exit 1; }
	host_can_build "$2" && exit 0
	make_root
	echo "$top/scripts/buildroot.sh run"
	;;
run)
	shift
	[ $# -ge 1 ] || { log "usage: $0 run CMD..."; exit 1; }
	run "$@"
	;;
*)
	log "usage: $0 wrap KVER | run CMD..."
	exit 1
	;;
esac
