#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# In a guest booted with an installed system's modules (make check-install),
# after /init's modprobe kvm_amd: gmem.ko, kvm.ko and kvm-amd.ko came from
# DIR under /lib/modules/RELEASE (updates/gmem for make install,
# updates/dkms for DKMS), through modules.dep, although the kernel's own
# kvm.ko and kvm-amd.ko are there too; the modules loaded are those files
# (same srcversion); and each reports VERSION in /sys/module/*/version.
# With STOCK "kept" (make install) the kernel's own modules must still be
# there, so that gmem's outranked them; with "any" they may be gone: DKMS
# 3.2 (Debian 13's) moves them to its own tree while gmem is installed
# and puts them back when it is removed; DKMS 3.0 (Debian 12's) leaves
# them.
#
# Usage: installed_layout DIR VERSION STOCK
dir=$1
version=$2
stock_kept=$3
rel=$(uname -r)
top=/lib/modules/$rel
failed=0

fail() {
	echo "not ok: $*"
	failed=1
}

for stock in kvm kvm-amd; do
	[ -f "$top/kernel/arch/x86/kvm/$stock.ko.xz" ] && continue
	if [ "$stock_kept" = kept ]; then
		fail "the kernel's own $stock.ko.xz is not installed: nothing to outrank"
	else
		echo "# the kernel's own $stock.ko.xz is not installed (archived by DKMS)"
	fi
done

for m in gmem kvm kvm_amd; do
	file=$(modinfo -F filename "$m")
	case $file in
	"$top/$dir/"*) echo "ok: $m is $file" ;;
	*) fail "$m resolves to '$file', not to a file of $top/$dir" ;;
	esac
	loaded=$(cat "/sys/module/$m/srcversion" 2>/dev/null)
	if [ -z "$loaded" ] || [ "$loaded" != "$(modinfo -F srcversion "$m")" ]; then
		fail "$m loaded (srcversion '$loaded') is not $file"
	fi
	have=$(cat "/sys/module/$m/version" 2>/dev/null)
	[ "$have" = "$version" ] ||
		fail "/sys/module/$m/version is '$have', not $version"
done

echo "# modprobe --show-depends kvm_amd:"
modprobe --show-depends kvm_amd | sed 's/^/#   /'
modprobe --show-depends kvm_amd | grep -q "$top/kernel/arch/x86/kvm/" &&
	fail "modprobe kvm_amd would load a stock KVM module"
exit $failed
