#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS's build of gmem (dkms.conf's MAKE): gmem.ko and the gmem variant of
# kvm.ko, kvm-amd.ko and kvm-intel.ko for one installed Debian 6.12 kernel,
# from that kernel's headers and the KVM sources of the linux-source-6.12
# package, which must be the same upstream version (6.12.N).  It runs in
# DKMS's copy of /usr/src/gmem-VERSION and leaves the modules under stage/
# (dkms.conf's BUILT_MODULE_LOCATION).  Nothing is downloaded: the source
# package is a dependency of gmem-dkms, and a missing or mismatched one is
# an error that says which to install.
#
# Usage: dkms/build.sh KERNELRELEASE HEADERS_DIR
#   KERNELRELEASE  6.12.N+deb12-amd64 or 6.12.N+deb13-amd64 (DKMS's
#                  $kernelver)
#   HEADERS_DIR    that kernel's headers, /lib/modules/RELEASE/build
#                  (DKMS's $kernel_source_dir, --kernelsourcedir)
# Environment: GMEM_LINUX_SOURCE  the source: the package's tarball
#                  (default /usr/src/linux-source-6.12.tar.xz) or a tree
#                  extracted from it;
#              GMEM_JOBS          make's -j (default: every CPU).
set -euo pipefail

prog=gmem-dkms
die() { echo "$prog: $*" >&2; exit 1; }
log() { echo "$prog: $*"; }

[ $# -eq 2 ] || die "usage: $0 KERNELRELEASE HEADERS_DIR"
release=$1 headers=$2
top=$(cd "$(dirname "$0")/.." && pwd)
source=${GMEM_LINUX_SOURCE:-/usr/src/linux-source-6.12.tar.xz}
jobs=${GMEM_JOBS:-$(nproc)}

[[ $release =~ ^6\.12\.([0-9]+)\+deb1[23]-amd64$ ]] ||
	die "kernel $release is not one of Debian's 6.12 -amd64 kernels" \
	    "(6.12.N+deb12-amd64, 6.12.N+deb13-amd64), which gmem builds for"
sublevel=${BASH_REMATCH[1]}
if [ ! -f "$headers/Makefile" ] || [ ! -f "$headers/Module.symvers" ]; then
	die "no kernel headers at $headers: install linux-headers-$release"
fi

# Debian's -amd64 headers hold a one-line Makefile that includes the
# -common package's by its installed path; headers extracted elsewhere
# (not installed) have the -common directory beside them instead.
kbuild=(make -C "$headers")
common=$(sed -n 's|^include \(/.*\)/Makefile$|\1|p' "$headers/Makefile")
if [ -n "$common" ]; then
	[ -d "$common" ] || common=$(dirname "$headers")/$(basename "$common")
	[ -f "$common/Makefile" ] ||
		die "$headers/Makefile includes a Makefile that is not there:" \
		    "install linux-headers-${release%-amd64}-common"
	kbuild+=(-f "$common/Makefile")
fi

# The source package's upstream version must be the kernel's, or KVM's
# sources would not match the headers its modules are built against.
ksrc=$PWD/linux-source
rm -rf "$ksrc"
if [ -d "$source" ]; then
	log "KVM sources from $source"
	ksrc=$source
elif [ -f "$source" ]; then
	log "extracting KVM's sources from $source"
	mkdir -p "$ksrc"
	# Only what stage-modules.sh copies, and the Makefile for the version.
	tar -xJf "$source" -C "$ksrc" --strip-components=1 \
		linux-source-6.12/Makefile linux-source-6.12/virt/kvm \
		linux-source-6.12/arch/x86/kvm \
		linux-source-6.12/include/linux/kvm_host.h ||
		die "$source is not linux-source-6.12's tarball"
else
	die "no $source: install linux-source-6.12 (the package of kernel" \
	    "6.12.$sublevel), or name the tarball in GMEM_LINUX_SOURCE"
fi
have=$(sed -n 's/^SUBLEVEL = \([0-9]*\)$/\1/p' "$ksrc/Makefile")
[ "$have" = "$sublevel" ] ||
	die "$source holds Linux 6.12.${have:-?}, the kernel is 6.12.$sublevel:" \
	    "install the linux-source-6.12 of linux-headers-$release's" \
	    "version (apt install linux-source-6.12=VERSION)"

stage=$PWD/stage
"$top/scripts/stage-modules.sh" "$ksrc" "$stage" gmem
log "building for $release against $headers"
"${kbuild[@]}" -j"$jobs" M="$stage" GMEM_VARIANT=gmem modules
"$top/scripts/check-symvers.sh" "$stage/Module.symvers" "$headers/Module.symvers"
