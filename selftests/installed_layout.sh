#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# In a guest booted with an installed system's modules (make check-install),
# after /init's modprobe kvm_amd: gmem.ko, kvm.ko and kvm-amd.ko came from
# DIR under /lib/modules/RELEASE (updates/gmem for make install,
# updates/dkms for DKMS), through modules.dep, although the kernel's own
# kvm.ko and kvm-amd.ko are there too; the modules loaded are those files
# (same srcversion); and each reports VERSION in /sys/module/*/version.
#
# Usage: installed_layout DIR VERSION
dir=$1
version=$2
rel=$(uname -r)
top=/lib/modules/$rel
failed=0

fail() {
	echo "not ok: $*"
	failed=1
}

for stock in kvm kvm-amd; do
	[ -f "$top/kernel/arch/x86/kvm/$stock.ko.xz" ] ||
		fail "the kernel's own $stock.ko.xz is not installed: nothing to outrank"
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
