#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare the directory that Kbuild builds the modules in (M=):
# the distribution's virt/kvm, arch/x86/kvm and include/linux/kvm_host.h, plus this repository's
# Kbuild, VERSION, version.kbuild, gmem/, kvm/ and include/.  Both variants get kvm/backports/*.patch
# applied (upstream's fixes of KVM bugs that are not guest_memfd's); the
# gmem variant then gets kvm/patches/*.patch; the reference variant is the
# distribution's code with the backports only.
# Kernel sources are copied once per set of patches; the repository's files
# are synced on every call, keeping their times so that make rebuilds only
# what changed.
#
# Usage: scripts/stage-modules.sh KERNEL_SOURCE_DIR STAGE_DIR VARIANT
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ksrc=$1
stage=$2
variant=$3

patches=
if [ -d "$top/kvm/backports" ]; then
	patches=$(find "$top/kvm/backports" -name '*.patch' | sort)
fi
if [ "$variant" = gmem ] && [ -d "$top/kvm/patches" ]; then
	patches="$patches $(find "$top/kvm/patches" -name '*.patch' | sort)"
fi
stamp=$stage/.kvm-sources-$(cat /dev/null $patches | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
	rm -rf "$stage/virt" "$stage/arch" "$stage"/.kvm-sources-* \
		"$stage/include/linux/kvm_host.h"
	mkdir -p "$stage/virt" "$stage/arch/x86" "$stage/include/linux"
	cp -a "$ksrc/virt/kvm" "$stage/virt/"
	cp -a "$ksrc/arch/x86/kvm" "$stage/arch/x86/"
	# Patched for the gmem variant (kvm/kvm.kbuild puts it first).
	cp -a "$ksrc/include/linux/kvm_host.h" "$stage/include/linux/"
	for p in $patches; do
		echo "  PATCH   $(basename "$(dirname "$p")")/$(basename "$p")"
		patch -s -p1 -d "$stage" < "$p"
	done
	touch "$stamp"
fi

rsync -a --exclude '*.o' --exclude '.*.cmd' \
	"$top/Kbuild" "$top/VERSION" "$top/version.kbuild" "$top/gmem" \
	"$top/kvm" "$top/include" "$stage/"
