#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS as gmem-dkms's postinst runs it, on this host, for a kernel that
# is not installed here: dkms add, dkms build against the kernel's
# extracted headers (--kernelsourcedir) and the linux-source-6.12
# package's tarball, and dkms install into a staged root's /lib/modules
# (--installtree), then depmod there.  DKMS's own tree and the source tree
# live under WORKDIR: nothing is written to /var/lib/dkms, /usr/src or
# /lib/modules.  make check-install boots the staged root's modules.
#
# Usage: scripts/dkms-stage.sh KVER WORKDIR ROOT
#   KVER     6.12.N+deb12 or 6.12.N+deb13, fetched into $CACHE/KVER by
#            scripts/setup.sh
#   WORKDIR  DKMS's trees and the source tarball (remade each time, but
#            the tarball)
#   ROOT     a root laid out by scripts/stage-kernel-root.sh
# Environment: DKMS_RUN, a prefix for dkms (scripts/buildroot.sh run, for
#            a kernel whose kbuild the host cannot run: the Makefile sets it).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$top/.cache}
[ $# -eq 3 ] || { echo "usage: $0 KVER WORKDIR ROOT" >&2; exit 1; }
kver=$1 work=$2 root=$3
release=$kver-amd64
version=$(cat "$top/VERSION")
headers=$CACHE/$kver/root/usr/src/linux-headers-$release
read -ra run <<< "${DKMS_RUN:-}"

# The tarball the package installs as /usr/src/linux-source-6.12.tar.xz,
# from the package set-up fetched (set-up keeps the .deb, not the tarball).
deb=$(echo "$CACHE/$kver"/debs/linux-source-6.12_*.deb)
[ -f "$deb" ] || { echo "dkms-stage: no linux-source-6.12 in $CACHE/$kver" >&2; exit 1; }
tarball=$work/$(basename "$deb" .deb).tar.xz
if [ ! -f "$tarball" ]; then
	mkdir -p "$work"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO ./usr/src/linux-source-6.12.tar.xz > "$tarball.tmp"
	mv "$tarball.tmp" "$tarball"
fi

rm -rf "$work/src" "$work/tree"
mkdir -p "$work/tree"
"$top/scripts/dkms-source.sh" "$work/src/gmem-$version" > /dev/null
dkms=("${run[@]}" dkms --dkmstree "$work/tree" --sourcetree "$work/src")
"${dkms[@]}" add -m gmem -v "$version"
GMEM_LINUX_SOURCE=$tarball "${dkms[@]}" build -m gmem -v "$version" \
	-k "$release" --kernelsourcedir "$headers" ||
	{ cat "$work/tree/gmem/$version/build/make.log" >&2; exit 1; }
"${dkms[@]}" install -m gmem -v "$version" -k "$release" \
	--kernelsourcedir "$headers" --installtree "$root/lib/modules" --no-depmod
depmod -b "$root" "$release"
