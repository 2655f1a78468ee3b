#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lay out ROOT/lib/modules/RELEASE as a Debian system with the kernel
# package installed has it, as far as KVM is concerned: the kernel's own
# kvm.ko, kvm-amd.ko and kvm-intel.ko and every module they depend on,
# modules.order and modules.builtin*, and depmod's files.  make
# check-install then installs gmem into it (make install DESTDIR=ROOT, or
# DKMS), and the test guest loads from it with modprobe, so the stock
# modules must be there for gmem's to outrank.  The whole tree (100 MB)
# would make the guest's initramfs large for nothing.
#
# Usage: scripts/stage-kernel-root.sh KERNEL_MODULES_DIR ROOT
#   KERNEL_MODULES_DIR  the image package's lib/modules/RELEASE, extracted
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 KERNEL_MODULES_DIR ROOT" >&2; exit 1; }
kdir=$1 root=$2
release=$(basename "$kdir")
dest=$root/lib/modules/$release
[ -d "$kdir/kernel" ] || { echo "stage-kernel-root: no $kdir/kernel" >&2; exit 1; }

# The file of module NAME under kernel/; - and _ are the same in a name.
module_file() {
	local pattern=${1//[-_]/[-_]}
	find "$kdir/kernel" -name "$pattern.ko*" | head -n 1
}

rm -rf "$dest"
mkdir -p "$dest"
# A queue of names: KVM's three modules, then whatever they depend on.
todo=(kvm kvm-amd kvm-intel)
staged=" "
while [ ${#todo[@]} -gt 0 ]; do
	name=${todo[0]}
	todo=("${todo[@]:1}")
	case $staged in *" $name "*) continue ;; esac
	staged+="$name "
	file=$(module_file "$name")
	[ -n "$file" ] || { echo "stage-kernel-root: no module $name" >&2; exit 1; }
	install -D -m 644 "$file" "$dest/${file#"$kdir/"}"
	read -ra deps <<< "$(modinfo -F depends "$file" | tr ',' ' ')"
	todo+=("${deps[@]}")
done
cp "$kdir"/modules.order "$kdir"/modules.builtin "$kdir"/modules.builtin.modinfo \
	"$dest/"
depmod -b "$root" "$release"
echo "stage-kernel-root: $release's${staged% } in $root"
