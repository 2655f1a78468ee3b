#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# gmem-dkms installed as a user installs it, in a Debian root of KVER's
# release (debootstrap, minbase: bookworm for +deb12, trixie for +deb13):
# apt-get install of KVER's image, headers, kbuild and linux-source-6.12
# (the .debs set-up fetched) and of gmem-dkms's .deb, whose postinst has
# DKMS build and install gmem for that kernel.  Then:
#  - dkms status must say installed, and modprobe --show-depends kvm_amd in
#    the root must name updates/dkms/ for gmem, kvm and kvm-amd;
#  - STAGE gets what the guest needs of the root's /lib/modules: the
#    files modprobe kvm_amd loads, DKMS's modules, modules.order and
#    modules.builtin*, depmod (make check-deb boots it);
#  - apt-get remove gmem-dkms must leave modprobe kvm_amd to the
#    kernel's own modules again.
# Everything happens in the root, in a mount namespace of its own; the
# host's /lib/modules, /usr/src and /var/lib/dkms are not touched.
#
# Usage: scripts/check-deb.sh KVER DEB WORKDIR STAGE
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$top/.cache}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { echo "check-deb: $*" >&2; }
die() { log "$*"; exit 1; }

[ $# -eq 4 ] || die "usage: $0 KVER DEB WORKDIR STAGE"
kver=$1 deb=$2 work=$3 stage=$4
release=$kver-amd64
case $kver in
*+deb12) suite=bookworm ;;
*+deb13) suite=trixie ;;
*) die "KVER must be 6.12.N+deb12 or 6.12.N+deb13, not '$kver'" ;;
esac
[ -f "$deb" ] || die "no $deb: make deb"
root=$work/root

# in_root CMD...: run CMD in the root, with /dev, /proc and /sys.
# shellcheck disable=SC2016
in_root() {
	unshare --mount --propagation private -- bash -euc '
		root=$1
		shift
		mount --rbind /dev "$root/dev"
		mount -t proc proc "$root/proc"
		mount -t sysfs sysfs "$root/sys"
		exec chroot "$root" /usr/bin/env -i HOME=/root \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			DEBIAN_FRONTEND=noninteractive "$@"
	' in_root "$root" "$@"
}

rm -rf "$work" "$stage"
mkdir -p "$work"
log "debootstrap $suite into $root"
debootstrap --variant=minbase "$suite" "$root" "$MIRROR" > "$work/debootstrap.log" ||
	{ tail "$work/debootstrap.log" >&2; die "debootstrap failed"; }

mkdir -p "$root/tmp/debs"
cp "$CACHE/$kver"/debs/*.deb "$deb" "$root/tmp/debs/"
log "apt-get install $(cd "$root/tmp/debs" && echo ./*.deb)"
in_root apt-get update -q
in_root sh -c 'cd /tmp/debs && apt-get install -y --no-install-recommends ./*.deb'

in_root dkms status -m gmem -k "$release" | tee "$work/dkms-status"
grep -q ': installed' "$work/dkms-status" || die "DKMS did not install gmem for $release"
in_root modprobe -S "$release" --show-depends kvm_amd | tee "$work/show-depends"
for m in gmem kvm kvm-amd; do
	grep -q "/updates/dkms/$m\.ko" "$work/show-depends" ||
		die "modprobe kvm_amd does not take $m from updates/dkms"
done

# The root's /lib/modules is a link to usr/lib/modules on Debian 13.
kdir=$(readlink -f "$root/lib/modules/$release")
dest=$stage/lib/modules/$release
mkdir -p "$dest"
awk '$1 == "insmod" { print $2 }' "$work/show-depends" | while read -r f; do
	f=${f#"/lib/modules/$release/"}
	install -D -m 644 "$kdir/$f" "$dest/$f"
done
cp -a "$kdir/updates" "$dest/"
cp "$kdir"/modules.order "$kdir"/modules.builtin "$kdir"/modules.builtin.modinfo \
	"$dest/"
depmod -b "$stage" "$release"

log "apt-get remove gmem-dkms"
in_root apt-get remove -y gmem-dkms
in_root modprobe -S "$release" --show-depends kvm_amd | tee "$work/show-depends-after"
grep -q /updates/ "$work/show-depends-after" &&
	die "after apt-get remove, modprobe kvm_amd still takes modules from updates/"
grep -q "/kernel/arch/x86/kvm/kvm.ko" "$work/show-depends-after" ||
	die "after apt-get remove, modprobe kvm_amd does not take the kernel's kvm.ko"
log "gmem-dkms installed, built for $release, staged in $stage, removed"
