#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install gmem.ko and the gmem variant's kvm.ko, kvm-amd.ko and kvm-intel.ko
# for one kernel, or remove them (make install, make uninstall).
#
# They go to /lib/modules/RELEASE/updates/gmem/: depmod ranks updates/
# above the kernel's own tree, so modprobe kvm_amd then loads these and not
# the stock kvm.ko beside them, which stays where it was.  Removing them
# and running depmod again gives the stock modules back their precedence.
# Debug information is stripped from the installed copies (the built ones
# under build/ keep it), as INSTALL_MOD_STRIP=1 does for the kernel's own.
#
# DESTDIR (environment) installs under a staging root instead of /, and
# runs depmod -b DESTDIR there when that root holds the kernel's own modules
# (modules.order), since modules.dep must list both; otherwise it says it
# left depmod to the target system.
#
# Usage: scripts/install-modules.sh install MODDIR RELEASE
#        scripts/install-modules.sh uninstall RELEASE
#   MODDIR   the build's module directory (build/KVER/modules-gmem)
#   RELEASE  the target kernel's release, as uname -r prints it
set -euo pipefail

prog=install-modules
die() { echo "$prog: $*" >&2; exit 1; }

# The modules, as paths under MODDIR; installed side by side.
MODULES="gmem/gmem.ko kvm.ko kvm-amd.ko kvm-intel.ko"
SUBDIR=updates/gmem

usage() {
	die "usage: $0 install MODDIR RELEASE | uninstall RELEASE"
}

# A release names a directory: no slash, no leading dot, not empty.
check_release() {
	[[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9.+_~-]*$ ]] ||
		die "'$1' is not a kernel release (as uname -r prints one)"
}

destdir=${DESTDIR:-}
# An empty DESTDIR is the running system; a relative one would land
# wherever depmod -b and install happen to be run from.
if [ -n "$destdir" ]; then
	[[ $destdir = /* ]] || die "DESTDIR must be an absolute path, not '$destdir'"
	destdir=${destdir%/}
fi

# depmod for RELEASE under DESTDIR (see the top of this file).
run_depmod() {
	local release=$1 kdir=$destdir/lib/modules/$1

	if [ -z "$destdir" ]; then
		echo "  DEPMOD  $release"
		depmod -a "$release"
	elif [ -f "$kdir/modules.order" ]; then
		echo "  DEPMOD  $release (in $destdir)"
		depmod -b "$destdir" "$release"
	else
		echo "$prog: $kdir holds no kernel's modules (modules.order):" \
		     "depmod not run; the target system runs it"
	fi
}

install_modules() {
	local moddir=$1 release=$2 kdir m built hint

	kdir=$destdir/lib/modules/$release
	for m in $MODULES; do
		[ -f "$moddir/$m" ] ||
			die "$moddir/$m is missing: build the modules first (make)"
		# vermagic's first word is the release the module loads into.
		built=$(modinfo -F vermagic "$moddir/$m" | awk '{ print $1 }')
		[ "$built" = "$release" ] && continue
		if [[ $release =~ ^(6\.12\.[0-9]+\+deb1[23])-amd64$ ]]; then
			hint="build for it (make KVER=${BASH_REMATCH[1]})"
		else
			hint="gmem builds for Debian's 6.12 kernels only"
			hint+=" (6.12.N+deb12-amd64, 6.12.N+deb13-amd64)"
		fi
		die "$m was built for kernel $built, not for $release;" \
		    "$hint, or name the kernel it was built for" \
		    "(TARGET_KERNEL=$built)"
	done
	# On the running system the kernel must be there: installing for a
	# kernel that is not would leave modules nothing loads.
	if [ -z "$destdir" ] && [ ! -d "$kdir/kernel" ]; then
		die "no kernel $release in /lib/modules: install it first," \
		    "or name another with TARGET_KERNEL="
	fi
	# DKMS's copies would be ranked with these, in updates/ too.
	if compgen -G "$kdir/updates/dkms/gmem.ko*" > /dev/null; then
		die "gmem is installed by DKMS for $release" \
		    "($kdir/updates/dkms/): remove it first (apt remove" \
		    "gmem-dkms, or dkms remove gmem/VERSION -k $release)"
	fi

	mkdir -p "$kdir/$SUBDIR"
	for m in $MODULES; do
		echo "  INSTALL $kdir/$SUBDIR/$(basename "$m")"
		install -m 644 "$moddir/$m" "$kdir/$SUBDIR/"
		strip --strip-debug "$kdir/$SUBDIR/$(basename "$m")"
	done
	run_depmod "$release"
}

uninstall_modules() {
	local release=$1 dir

	dir=$destdir/lib/modules/$release/$SUBDIR
	if [ ! -d "$dir" ]; then
		echo "$prog: gmem is not installed for $release ($dir): nothing to do"
		return
	fi
	echo "  REMOVE  $dir"
	rm -rf "$dir"
	rmdir --ignore-fail-on-non-empty "$(dirname "$dir")"
	run_depmod "$release"
}

[ $# -ge 1 ] || usage
case $1 in
install)
	[ $# -eq 3 ] || usage
	check_release "$3"
	install_modules "$2" "$3"
	;;
uninstall)
	[ $# -eq 2 ] || usage
	check_release "$2"
	uninstall_modules "$2"
	;;
*)
	usage
	;;
esac
